//! What the other nodes last said they hold of something each node counts for itself: a
//! user's open sockets, a school's viewers. A node says it again whenever it changes and
//! every [`RETELL`] besides; what is not said again within [`FORGET`] is forgotten, so a
//! node that died (or a notice that was lost) stops counting by itself.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How often a node says again what it holds.
pub const RETELL: Duration = Duration::from_secs(10);
/// How long what a node said counts without being said again: three retellings, so one
/// lost notice forgets nothing.
pub const FORGET: Duration = Duration::from_secs(31);

/// What each node said it holds of one key, and when.
type PerNode<V> = HashMap<String, (V, Instant)>;

/// What each other node holds per key, as it last said.
#[derive(Debug)]
pub struct Elsewhere<K, V> {
    said: Mutex<HashMap<K, PerNode<V>>>,
}

impl<K, V> Default for Elsewhere<K, V> {
    fn default() -> Self {
        Elsewhere {
            said: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Eq + Hash + Clone, V: Clone> Elsewhere<K, V> {
    /// Node `node` holds `value` of `key` now (`None`: nothing).
    pub fn set(&self, node: &str, key: K, value: Option<V>, now: Instant) {
        let mut said = self.said.lock().unwrap_or_else(PoisonError::into_inner);
        match value {
            Some(value) => {
                said.entry(key).or_default().insert(node.to_owned(), (value, now));
            }
            None => {
                if let Some(nodes) = said.get_mut(&key) {
                    nodes.remove(node);
                    if nodes.is_empty() {
                        said.remove(&key);
                    }
                }
            }
        }
    }

    /// What the other nodes hold of `key` (one value per node, in no order).
    pub fn get(&self, key: &K, now: Instant) -> Vec<V> {
        let said = self.said.lock().unwrap_or_else(PoisonError::into_inner);
        said.get(key)
            .into_iter()
            .flat_map(|nodes| nodes.values())
            .filter(|(_, at)| now.saturating_duration_since(*at) < FORGET)
            .map(|(value, _)| value.clone())
            .collect()
    }

    /// Forgets what was not said again in time; returns the keys that lost something.
    pub fn forget_old(&self, now: Instant) -> Vec<K> {
        let mut said = self.said.lock().unwrap_or_else(PoisonError::into_inner);
        let mut changed = Vec::new();
        said.retain(|key, nodes| {
            let before = nodes.len();
            nodes.retain(|_, (_, at)| now.saturating_duration_since(*at) < FORGET);
            if nodes.len() < before {
                changed.push(key.clone());
            }
            !nodes.is_empty()
        });
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_count_per_node_until_replaced_removed_or_too_old() {
        let (elsewhere, t0) = (Elsewhere::<&str, usize>::default(), Instant::now());
        elsewhere.set("a", "user", Some(2), t0);
        elsewhere.set("b", "user", Some(3), t0);
        elsewhere.set("a", "user", Some(1), t0);
        let mut held = elsewhere.get(&"user", t0);
        held.sort_unstable();
        assert_eq!(held, [1, 3], "a node's newest value replaces its older one");
        elsewhere.set("b", "user", None, t0);
        assert_eq!(elsewhere.get(&"user", t0), [1]);
        assert_eq!(elsewhere.get(&"other", t0), Vec::<usize>::new());

        // Node c said something later; a goes quiet and is forgotten, c is not yet.
        let later = t0 + RETELL * 2;
        elsewhere.set("c", "user", Some(5), later);
        let past = t0 + FORGET;
        assert_eq!(elsewhere.get(&"user", past), [5], "a's word is too old to count");
        assert_eq!(elsewhere.forget_old(past), ["user"]);
        assert_eq!(elsewhere.forget_old(past), Vec::<&str>::new(), "forgotten once");
        assert_eq!(elsewhere.get(&"user", past), [5]);
        elsewhere.set("c", "user", None, past);
        assert!(
            elsewhere.said.lock().expect("lock").is_empty(),
            "nothing kept of nobody"
        );
    }
}

//! A cap on the WebSocket connections one user has open at once.
//!
//! Each connection costs the server a task, buffers and a place in its room; without a cap
//! one account (or one leaked API token) could open connections until memory runs out. The
//! browser app opens one per open registration, so even a busy person stays far below it.
//!
//! On several nodes the cap is the user's over all of them: each node tells the others
//! how many a user has open there whenever that changes, and again every few seconds
//! (see [`crate::nodes::elsewhere`]). Two nodes that admit the same user at the same moment
//! may let them past the cap by one each, which is no danger to memory.

use std::sync::Arc;
use std::time::Instant;

use dashmap::DashMap;
use dashmap::mapref::entry::Entry;
use serde::{Deserialize, Serialize};

use super::Principal;
use crate::ids::UserId;
use crate::nodes::elsewhere::Elsewhere;
use crate::storage::{Store, Topic};

/// Users per notice when a node says again what it holds (a user id and a count take
/// about 45 bytes, a notice fewer than 8,000).
const TOLD_PER_NOTICE: usize = 150;

/// How many WebSocket connections each user has open, against a maximum.
pub struct SocketQuota {
    max: usize,
    open: DashMap<UserId, usize>,
    /// What the other nodes said their users have open.
    elsewhere: Elsewhere<UserId, usize>,
    /// Where the other nodes hear of this node's connections (none on one node).
    nodes: Option<Store>,
}

impl std::fmt::Debug for SocketQuota {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocketQuota")
            .field("max", &self.max)
            .field("users", &self.open.len())
            .finish_non_exhaustive()
    }
}

/// How many connections users have open on the telling node.
#[derive(Serialize, Deserialize)]
struct Told {
    open: Vec<(UserId, usize)>,
}

/// One open connection's place in its user's quota; given back when dropped.
#[derive(Debug)]
pub struct SocketSlot {
    quota: Arc<SocketQuota>,
    /// Whose place it is (shared with the connection, so the slot costs no copy of the id).
    principal: Arc<Principal>,
}

impl SocketQuota {
    /// A quota of `max` connections per user (at least one), on this node alone.
    pub fn new(max: usize) -> Arc<SocketQuota> {
        Self::with_nodes(max, None)
    }

    /// A quota of `max` connections per user over all nodes of `store`'s database.
    pub fn on(max: usize, store: &Store) -> Arc<SocketQuota> {
        Self::with_nodes(max, store.shared().then(|| store.clone()))
    }

    fn with_nodes(max: usize, nodes: Option<Store>) -> Arc<SocketQuota> {
        Arc::new(SocketQuota {
            max: max.max(1),
            open: DashMap::new(),
            elsewhere: Elsewhere::default(),
            nodes,
        })
    }

    /// The most connections one user may have open.
    pub fn max(&self) -> usize {
        self.max
    }

    /// A place for one more connection of `principal`'s user, or `None` when they have
    /// the most already (here and on the other nodes together).
    pub fn take(self: &Arc<Self>, principal: &Arc<Principal>) -> Option<SocketSlot> {
        let user = &principal.user;
        let others: usize = self.elsewhere.get(user, Instant::now()).iter().sum();
        let now_open = {
            let mut open = self.open.entry(user.clone()).or_insert(0);
            if *open + others >= self.max {
                return None;
            }
            *open += 1;
            *open
        };
        self.tell(vec![(user.clone(), now_open)]);
        Some(SocketSlot {
            quota: self.clone(),
            principal: principal.clone(),
        })
    }

    /// How many connections `user` has open on this node.
    pub fn open(&self, user: &UserId) -> usize {
        self.open.get(user).map_or(0, |n| *n)
    }

    fn tell(&self, open: Vec<(UserId, usize)>) {
        let Some(store) = &self.nodes else {
            return;
        };
        match serde_json::to_string(&Told { open }) {
            Ok(body) => store.tell(Topic::Sockets, body),
            Err(err) => tracing::error!(%err, "socket counts do not serialize"),
        }
    }

    /// Says again how many connections each user has open here, so the other nodes do
    /// not forget them (see [`crate::nodes::elsewhere::RETELL`]); and forgets what other
    /// nodes did not say again.
    pub fn retell(&self) {
        self.elsewhere.forget_old(Instant::now());
        if self.nodes.is_none() {
            return;
        }
        let open: Vec<(UserId, usize)> = self.open.iter().map(|e| (e.key().clone(), *e.value())).collect();
        for chunk in open.chunks(TOLD_PER_NOTICE) {
            self.tell(chunk.to_vec());
        }
    }

    /// Takes in how many connections users have open on node `from`.
    pub fn from_elsewhere(&self, from: &str, body: &str) {
        let Ok(told) = serde_json::from_str::<Told>(body) else {
            tracing::debug!("socket counts from another node do not parse");
            return;
        };
        let now = Instant::now();
        for (user, open) in told.open {
            self.elsewhere.set(from, user, (open > 0).then_some(open), now);
        }
    }
}

impl Drop for SocketSlot {
    fn drop(&mut self) {
        let user = &self.principal.user;
        let mut now_open = 0;
        if let Entry::Occupied(mut open) = self.quota.open.entry(user.clone()) {
            *open.get_mut() = open.get().saturating_sub(1);
            now_open = *open.get();
            // Users without connections leave the map, so it only holds those with some.
            if now_open == 0 {
                open.remove();
            }
        }
        self.quota.tell(vec![(user.clone(), now_open)]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::SchoolAccess;

    fn principal(user: &str) -> Arc<Principal> {
        Arc::new(Principal::new(
            UserId::from(user.to_owned()),
            "x".into(),
            SchoolAccess::Clb,
        ))
    }

    #[test]
    fn a_user_gets_at_most_max_places_and_dropped_ones_come_back() {
        let quota = SocketQuota::new(2);
        let (sara, tom) = (principal("sara"), principal("tom"));
        let a = quota.take(&sara).expect("first");
        let _b = quota.take(&sara).expect("second");
        assert!(quota.take(&sara).is_none(), "a third is over the cap");
        assert!(quota.take(&tom).is_some(), "others have their own");
        drop(a);
        assert_eq!(quota.open(&sara.user), 1);
        assert!(quota.take(&sara).is_some(), "a closed connection frees its place");
    }

    #[test]
    fn connections_other_nodes_tell_of_count_against_the_cap() {
        let quota = SocketQuota::new(3);
        let (sara, tom) = (principal("sara"), principal("tom"));
        quota.from_elsewhere("b", "{\"open\":[[\"sara\",1],[\"tom\",3]]}");
        quota.from_elsewhere("c", "{\"open\":[[\"sara\",1]]}");
        quota.from_elsewhere("c", "not json");
        let _a = quota.take(&sara).expect("one here, two elsewhere");
        assert!(quota.take(&sara).is_none(), "three over all nodes");
        assert!(quota.take(&tom).is_none(), "tom has three on b");
        quota.from_elsewhere("c", "{\"open\":[[\"sara\",0]]}");
        assert!(quota.take(&sara).is_some(), "c closed sara's connection");
    }

    #[test]
    fn users_without_connections_leave_the_map() {
        let quota = SocketQuota::new(1);
        let sara = principal("sara");
        drop(quota.take(&sara));
        assert!(quota.open.is_empty());
    }
}

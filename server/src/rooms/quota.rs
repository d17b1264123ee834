//! A cap on the WebSocket connections one user has open at once.
//!
//! Each connection costs the server a task, buffers and a place in its room; without a cap
//! one account (or one leaked API token) could open connections until memory runs out. The
//! browser app opens one per open registration, so even a busy person stays far below it.

use std::sync::Arc;

use dashmap::DashMap;
use dashmap::mapref::entry::Entry;

use super::Principal;
use crate::ids::UserId;

/// How many WebSocket connections each user has open, against a maximum.
#[derive(Debug)]
pub struct SocketQuota {
    max: usize,
    open: DashMap<UserId, usize>,
}

/// One open connection's place in its user's quota; given back when dropped.
#[derive(Debug)]
pub struct SocketSlot {
    quota: Arc<SocketQuota>,
    /// Whose place it is (shared with the connection, so the slot costs no copy of the id).
    principal: Arc<Principal>,
}

impl SocketQuota {
    /// A quota of `max` connections per user (at least one).
    pub fn new(max: usize) -> Arc<SocketQuota> {
        Arc::new(SocketQuota {
            max: max.max(1),
            open: DashMap::new(),
        })
    }

    /// The most connections one user may have open.
    pub fn max(&self) -> usize {
        self.max
    }

    /// A place for one more connection of `principal`'s user, or `None` when they have
    /// the most already.
    pub fn take(self: &Arc<Self>, principal: &Arc<Principal>) -> Option<SocketSlot> {
        let mut open = self.open.entry(principal.user.clone()).or_insert(0);
        if *open >= self.max {
            return None;
        }
        *open += 1;
        Some(SocketSlot {
            quota: self.clone(),
            principal: principal.clone(),
        })
    }

    /// How many connections `user` has open.
    pub fn open(&self, user: &UserId) -> usize {
        self.open.get(user).map_or(0, |n| *n)
    }
}

impl Drop for SocketSlot {
    fn drop(&mut self) {
        if let Entry::Occupied(mut open) = self.quota.open.entry(self.principal.user.clone()) {
            *open.get_mut() = open.get().saturating_sub(1);
            // Users without connections leave the map, so it only holds those with some.
            if *open.get() == 0 {
                open.remove();
            }
        }
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
    fn users_without_connections_leave_the_map() {
        let quota = SocketQuota::new(1);
        let sara = principal("sara");
        drop(quota.take(&sara));
        assert!(quota.open.is_empty());
    }
}

//! Each user's share of the rooms, over all their connections and documents: update bytes
//! per minute, the time yrs spends integrating their updates per minute, and the bytes the
//! server stores for them per day. What each bound is and why: docs/architecture.md,
//! "Resource bounds".
//!
//! In memory, like the login throttle: a restart forgives. The maps hold one entry per user
//! who edited since the start (the daily one since midnight, UTC), a few dozen bytes each.
//!
//! On several nodes each node tells the others, once a second, what its users spent
//! ([`Usage::told`]), and charges what they tell it ([`Usage::spent_elsewhere`]): a user's
//! quota is theirs across the cluster, give or take the last second.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::config::RoomConfig;
use crate::ids::UserId;

/// A store of `capacity` units that refills evenly over `period` and may be overdrawn:
/// a cost that is only known afterwards (integration time) is charged in full, and the
/// debt is paid back by waiting.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bucket {
    level: f64,
    last: Instant,
}

impl Bucket {
    /// A full bucket.
    pub fn full(capacity: f64, now: Instant) -> Bucket {
        Bucket {
            level: capacity,
            last: now,
        }
    }

    /// Adds what `period` per `capacity` earned since the last call, up to `capacity`.
    fn refill(&mut self, capacity: f64, period: Duration, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        let rate = capacity / period.as_secs_f64().max(1e-9);
        self.level = (self.level + elapsed * rate).min(capacity);
        self.last = now;
    }

    /// Takes one unit if there is one.
    pub fn take_one(&mut self, capacity: f64, period: Duration, now: Instant) -> bool {
        self.refill(capacity, period, now);
        if self.level >= 1.0 {
            self.level -= 1.0;
            true
        } else {
            false
        }
    }

    /// Whether anything is left.
    pub fn positive(&mut self, capacity: f64, period: Duration, now: Instant) -> bool {
        self.refill(capacity, period, now);
        self.level > 0.0
    }

    /// Takes `units` if there are that many.
    fn take(&mut self, units: f64, capacity: f64, period: Duration, now: Instant) -> bool {
        self.refill(capacity, period, now);
        if self.level >= units {
            self.level -= units;
            true
        } else {
            false
        }
    }

    /// Takes `units`, into debt if need be; returns whether anything is left.
    pub fn charge(&mut self, units: f64, capacity: f64, period: Duration, now: Instant) -> bool {
        self.refill(capacity, period, now);
        self.level -= units;
        self.level > 0.0
    }
}

/// A user went over one of their quotas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Over {
    /// Update bytes or integration time per minute: wait, then go on.
    Rate,
    /// Stored bytes today: tomorrow.
    Day,
}

/// Bytes stored per user on one day.
#[derive(Debug, Default)]
struct Day {
    day: i64,
    stored: HashMap<UserId, u64>,
}

/// Every user's usage; shared by all rooms and connections.
pub(crate) struct Usage {
    /// Update bytes per minute, per user (a client's bytes are known before they cost
    /// anything, so they are refused rather than overdrawn).
    sent: Mutex<HashMap<UserId, Bucket>>,
    sent_capacity: f64,
    /// Integration time in seconds, per user.
    apply: Mutex<HashMap<UserId, Bucket>>,
    apply_capacity: f64,
    day: Mutex<Day>,
    per_day: u64,
    /// What users spent here since it was last told (only with other nodes to tell).
    untold: Option<Mutex<Untold>>,
}

/// What users spent on this node since [`Usage::told`] last took it.
#[derive(Debug, Default)]
struct Untold {
    day: i64,
    spent: HashMap<UserId, Spent>,
}

/// What one user spent: update bytes, integration seconds, bytes stored (a reservation
/// given back makes it smaller, hence signed).
#[derive(Debug, Default, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Spent(u64, f64, i64);

/// What a node tells the others: each user's spending, on day `day`.
#[derive(Serialize, Deserialize)]
struct Told {
    day: i64,
    spent: Vec<(UserId, Spent)>,
}

/// Users per notice: a user id and their figures take about 70 bytes, and a notice holds
/// fewer than 8,000.
const TOLD_PER_NOTICE: usize = 100;

const MINUTE: Duration = Duration::from_secs(60);

impl Usage {
    /// Quotas as `config` sets them; `several_nodes`: keep what users spend to tell.
    pub fn new(config: &RoomConfig, several_nodes: bool) -> Usage {
        Usage {
            sent: Mutex::new(HashMap::new()),
            sent_capacity: config.user_bytes_per_minute.max(1) as f64,
            apply: Mutex::new(HashMap::new()),
            apply_capacity: config.user_apply_per_minute.as_secs_f64(),
            day: Mutex::new(Day::default()),
            per_day: config.user_bytes_per_day,
            untold: several_nodes.then(Mutex::default),
        }
    }

    /// Notes what `user` spent, for the other nodes.
    fn spend(&self, user: &UserId, day: Option<i64>, spent: Spent) {
        let Some(untold) = &self.untold else {
            return;
        };
        let mut untold = untold.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(day) = day
            && untold.day != day
        {
            untold.day = day;
        }
        let sum = untold.spent.entry(user.clone()).or_default();
        *sum = Spent(sum.0 + spent.0, sum.1 + spent.1, sum.2 + spent.2);
    }

    /// Counts `bytes` of updates `user` sent; [`Over::Rate`] when that is more than their
    /// minute allows (the bytes are not counted then).
    pub fn sent(&self, user: &UserId, bytes: usize, now: Instant) -> Result<(), Over> {
        if bytes == 0 {
            return Ok(());
        }
        let capacity = self.sent_capacity;
        let mut sent = self.sent.lock().unwrap_or_else(PoisonError::into_inner);
        let bucket = sent
            .entry(user.clone())
            .or_insert_with(|| Bucket::full(capacity, now));
        if !bucket.take(bytes as f64, capacity, MINUTE, now) {
            return Err(Over::Rate);
        }
        drop(sent);
        self.spend(user, None, Spent(bytes as u64, 0.0, 0));
        Ok(())
    }

    /// Whether `user` has integration time left (their updates are refused until then).
    pub fn may_apply(&self, user: &UserId, now: Instant) -> bool {
        let capacity = self.apply_capacity;
        let mut apply = self.apply.lock().unwrap_or_else(PoisonError::into_inner);
        apply
            .get_mut(user)
            .is_none_or(|b| b.positive(capacity, MINUTE, now))
    }

    /// Charges `took` of integration time to `user`; false once they have none left.
    pub fn applied(&self, user: &UserId, took: Duration, now: Instant) -> bool {
        let left = self.charge_apply(user, took.as_secs_f64(), now);
        self.spend(user, None, Spent(0, took.as_secs_f64(), 0));
        left
    }

    fn charge_apply(&self, user: &UserId, secs: f64, now: Instant) -> bool {
        let capacity = self.apply_capacity;
        let mut apply = self.apply.lock().unwrap_or_else(PoisonError::into_inner);
        apply
            .entry(user.clone())
            .or_insert_with(|| Bucket::full(capacity, now))
            .charge(secs, capacity, MINUTE, now)
    }

    /// Reserves `bytes` of storage for `user` on day `day` (days since the epoch, UTC);
    /// [`Over::Day`] when that would pass their daily quota (nothing is reserved then).
    pub fn store(&self, user: &UserId, bytes: usize, day: i64) -> Result<(), Over> {
        let mut days = self.day.lock().unwrap_or_else(PoisonError::into_inner);
        if days.day != day {
            days.day = day;
            days.stored.clear();
        }
        let stored = days.stored.entry(user.clone()).or_insert(0);
        let after = stored.saturating_add(bytes as u64);
        if after > self.per_day {
            return Err(Over::Day);
        }
        *stored = after;
        drop(days);
        self.spend(user, Some(day), Spent(0, 0.0, bytes as i64));
        Ok(())
    }

    /// Gives back a reservation whose update was not stored after all.
    pub fn unstore(&self, user: &UserId, bytes: usize, day: i64) {
        let mut days = self.day.lock().unwrap_or_else(PoisonError::into_inner);
        if days.day == day
            && let Some(stored) = days.stored.get_mut(user)
        {
            *stored = stored.saturating_sub(bytes as u64);
            drop(days);
            self.spend(user, Some(day), Spent(0, 0.0, -(bytes as i64)));
        }
    }

    /// What users spent here since the last call, as notices for the other nodes (none
    /// on one node, or when nobody spent anything).
    pub fn told(&self) -> Vec<String> {
        let Some(untold) = &self.untold else {
            return Vec::new();
        };
        let (day, spent) = {
            let mut untold = untold.lock().unwrap_or_else(PoisonError::into_inner);
            (untold.day, std::mem::take(&mut untold.spent))
        };
        let spent: Vec<(UserId, Spent)> = spent.into_iter().collect();
        spent
            .chunks(TOLD_PER_NOTICE)
            .filter_map(|chunk| {
                let told = Told {
                    day,
                    spent: chunk.to_vec(),
                };
                serde_json::to_string(&told)
                    .inspect_err(|err| tracing::error!(%err, "usage does not serialize"))
                    .ok()
            })
            .collect()
    }

    /// Charges what another node told its users spent: bytes and time into debt if need
    /// be (they are spent already), stored bytes if it is still that day here.
    pub fn spent_elsewhere(&self, body: &str, now: Instant) {
        let Ok(told) = serde_json::from_str::<Told>(body) else {
            tracing::debug!("usage from another node does not parse");
            return;
        };
        for (user, Spent(sent, secs, stored)) in told.spent {
            if sent > 0 {
                let capacity = self.sent_capacity;
                let mut buckets = self.sent.lock().unwrap_or_else(PoisonError::into_inner);
                buckets
                    .entry(user.clone())
                    .or_insert_with(|| Bucket::full(capacity, now))
                    .charge(sent as f64, capacity, MINUTE, now);
            }
            if secs.is_finite() && secs > 0.0 {
                self.charge_apply(&user, secs, now);
            }
            if stored != 0 {
                let mut days = self.day.lock().unwrap_or_else(PoisonError::into_inner);
                if told.day > days.day {
                    days.day = told.day;
                    days.stored.clear();
                }
                if days.day == told.day {
                    let total = days.stored.entry(user).or_insert(0);
                    *total = total.saturating_add_signed(stored);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(edit: impl FnOnce(&mut RoomConfig)) -> Usage {
        let mut config = RoomConfig::for_tests();
        edit(&mut config);
        Usage::new(&config, true)
    }

    #[test]
    fn update_bytes_per_minute_are_counted_per_user() {
        let u = usage(|c| c.user_bytes_per_minute = 1_000);
        let (an, bo, t0) = (UserId::new(), UserId::new(), Instant::now());
        assert_eq!(u.sent(&an, 600, t0), Ok(()));
        assert_eq!(u.sent(&an, 600, t0), Err(Over::Rate), "1,200 bytes in a minute");
        assert_eq!(u.sent(&an, 300, t0), Ok(()), "a refusal counts nothing");
        assert_eq!(
            u.sent(&bo, 1_000, t0),
            Ok(()),
            "another user has a quota of their own"
        );
        assert_eq!(
            u.sent(&bo, 5_000, t0),
            Err(Over::Rate),
            "more than a minute's worth at once"
        );
    }

    #[test]
    fn what_one_node_tells_its_users_spent_counts_on_the_other() {
        let quotas = |c: &mut RoomConfig| {
            c.user_bytes_per_minute = 1_000;
            c.user_apply_per_minute = Duration::from_secs(6);
            c.user_bytes_per_day = 10_000;
        };
        let (a, b) = (usage(quotas), usage(quotas));
        let (an, bo, t0) = (UserId::new(), UserId::new(), Instant::now());
        assert_eq!(a.sent(&an, 900, t0), Ok(()));
        assert!(!a.applied(&an, Duration::from_secs(7), t0), "in debt on A");
        assert_eq!(a.store(&an, 9_000, 7), Ok(()));
        assert_eq!(a.store(&bo, 500, 7), Ok(()));
        a.unstore(&bo, 500, 7);
        let told = a.told();
        assert_eq!(told.len(), 1, "one notice for both users");
        assert_eq!(a.told(), Vec::<String>::new(), "told once");
        for body in &told {
            b.spent_elsewhere(body, t0);
        }
        b.spent_elsewhere("not json", t0);
        b.spent_elsewhere("{\"day\":7,\"spent\":[[\"x\",[1,\"NaN\",1]]]}", t0);
        assert_eq!(b.sent(&an, 200, t0), Err(Over::Rate), "A's 900 bytes count on B");
        assert!(!b.may_apply(&an, t0), "A's debt counts on B");
        assert_eq!(
            b.store(&an, 1_001, 7),
            Err(Over::Day),
            "A's 9,000 bytes count on B"
        );
        assert_eq!(b.store(&an, 1_000, 7), Ok(()));
        assert_eq!(
            b.store(&bo, 10_000, 7),
            Ok(()),
            "a reservation given back is no spending"
        );
        assert_eq!(b.sent(&bo, 1_000, t0), Ok(()), "bo sent nothing on A");
        let one_node = Usage::new(&RoomConfig::for_tests(), false);
        assert_eq!(one_node.sent(&an, 10, t0), Ok(()));
        assert_eq!(
            one_node.told(),
            Vec::<String>::new(),
            "nobody to tell on one node"
        );
    }

    #[test]
    fn integration_time_may_be_overdrawn_and_is_paid_back_by_waiting() {
        let u = usage(|c| c.user_apply_per_minute = Duration::from_secs(6));
        let an = UserId::new();
        let t0 = Instant::now();
        assert!(u.may_apply(&an, t0));
        assert!(u.applied(&an, Duration::from_secs(3), t0));
        assert!(!u.applied(&an, Duration::from_secs(9), t0), "6 s of debt");
        assert!(
            !u.may_apply(&an, t0 + Duration::from_secs(59)),
            "0.1 s a second earned back"
        );
        assert!(u.may_apply(&an, t0 + Duration::from_secs(61)));
    }

    #[test]
    fn stored_bytes_per_day_are_reserved_given_back_and_forgiven_the_next_day() {
        let u = usage(|c| c.user_bytes_per_day = 1_000);
        let an = UserId::new();
        assert_eq!(u.store(&an, 800, 7), Ok(()));
        assert_eq!(u.store(&an, 300, 7), Err(Over::Day));
        u.unstore(&an, 800, 7);
        assert_eq!(
            u.store(&an, 1_000, 7),
            Ok(()),
            "an unstored update gives its bytes back"
        );
        assert_eq!(u.store(&an, 1, 8), Ok(()), "a new day");
    }

    #[test]
    fn a_bucket_gives_its_capacity_then_one_per_period_share() {
        let t0 = Instant::now();
        let mut b = Bucket::full(2.0, t0);
        let every = Duration::from_secs(20); // 2 per 20 s: one per 10 s
        assert!(b.take_one(2.0, every, t0));
        assert!(b.take_one(2.0, every, t0));
        assert!(!b.take_one(2.0, every, t0));
        assert!(!b.take_one(2.0, every, t0 + Duration::from_secs(9)));
        assert!(b.take_one(2.0, every, t0 + Duration::from_secs(11)));
    }
}

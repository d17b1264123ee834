//! Each user's share of the rooms, over all their connections and documents: update bytes
//! per minute, the time yrs spends integrating their updates per minute, and the bytes the
//! server stores for them per day. What each bound is and why: docs/architecture.md,
//! "Resource bounds".
//!
//! In memory, like the login throttle: a restart forgives. The maps hold one entry per user
//! who edited since the start (the daily one since midnight, UTC), a few dozen bytes each.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

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
    fn positive(&mut self, capacity: f64, period: Duration, now: Instant) -> bool {
        self.refill(capacity, period, now);
        self.level > 0.0
    }

    /// Takes `units`, into debt if need be; returns whether anything is left.
    fn charge(&mut self, units: f64, capacity: f64, period: Duration, now: Instant) -> bool {
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
    /// Update bytes per minute (GCRA; a client's bytes are known before they cost anything).
    sent: DefaultKeyedRateLimiter<UserId>,
    /// Integration time in seconds, per user.
    apply: Mutex<HashMap<UserId, Bucket>>,
    apply_capacity: f64,
    day: Mutex<Day>,
    per_day: u64,
}

const MINUTE: Duration = Duration::from_secs(60);

impl Usage {
    /// Quotas as `config` sets them.
    pub fn new(config: &RoomConfig) -> Usage {
        let per_minute = u32::try_from(config.user_bytes_per_minute).unwrap_or(u32::MAX);
        let per_minute = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        Usage {
            sent: RateLimiter::keyed(Quota::per_minute(per_minute)),
            apply: Mutex::new(HashMap::new()),
            apply_capacity: config.user_apply_per_minute.as_secs_f64(),
            day: Mutex::new(Day::default()),
            per_day: config.user_bytes_per_day,
        }
    }

    /// Counts `bytes` of updates `user` sent; [`Over::Rate`] when that is more than their
    /// minute allows (the bytes are not counted then).
    pub fn sent(&self, user: &UserId, bytes: usize) -> Result<(), Over> {
        let Some(n) = u32::try_from(bytes).ok().and_then(NonZeroU32::new) else {
            return Ok(());
        };
        match self.sent.check_key_n(user, n) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) | Err(_) => Err(Over::Rate),
        }
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
        let capacity = self.apply_capacity;
        let mut apply = self.apply.lock().unwrap_or_else(PoisonError::into_inner);
        apply
            .entry(user.clone())
            .or_insert_with(|| Bucket::full(capacity, now))
            .charge(took.as_secs_f64(), capacity, MINUTE, now)
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
        Ok(())
    }

    /// Gives back a reservation whose update was not stored after all.
    pub fn unstore(&self, user: &UserId, bytes: usize, day: i64) {
        let mut days = self.day.lock().unwrap_or_else(PoisonError::into_inner);
        if days.day == day
            && let Some(stored) = days.stored.get_mut(user)
        {
            *stored = stored.saturating_sub(bytes as u64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(edit: impl FnOnce(&mut RoomConfig)) -> Usage {
        let mut config = RoomConfig::for_tests();
        edit(&mut config);
        Usage::new(&config)
    }

    #[test]
    fn update_bytes_per_minute_are_counted_per_user() {
        let u = usage(|c| c.user_bytes_per_minute = 1_000);
        let (an, bo) = (UserId::new(), UserId::new());
        assert_eq!(u.sent(&an, 600), Ok(()));
        assert_eq!(u.sent(&an, 600), Err(Over::Rate), "1,200 bytes in a minute");
        assert_eq!(u.sent(&an, 300), Ok(()), "a refusal counts nothing");
        assert_eq!(
            u.sent(&bo, 1_000),
            Ok(()),
            "another user has a quota of their own"
        );
        assert_eq!(
            u.sent(&bo, 5_000),
            Err(Over::Rate),
            "more than a minute's worth at once"
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

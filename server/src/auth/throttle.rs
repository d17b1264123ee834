//! Login throttling: after 5 failures for an account or from an address, each further
//! attempt must wait, twice as long each time (1 s, 2 s, 4 s, … up to 15 minutes). A
//! success clears the account's count. Kept in memory: a restart forgives, which is
//! acceptable for a brake on guessing.

use std::time::{Duration, Instant};

use dashmap::DashMap;

/// Failures allowed before delays start.
const FREE_FAILURES: u32 = 5;
/// The longest delay.
const MAX_DELAY: Duration = Duration::from_secs(15 * 60);
/// Entries untouched this long are forgotten.
const FORGET_AFTER: Duration = Duration::from_secs(60 * 60);

/// Failure counts per key (`account:<email>`, `address:<ip>`).
#[derive(Debug, Default)]
pub struct LoginThrottle {
    failures: DashMap<String, (u32, Instant)>,
}

impl LoginThrottle {
    /// How long `key` must still wait before its next attempt, if at all.
    pub fn wait(&self, key: &str, now: Instant) -> Option<Duration> {
        let entry = self.failures.get(key)?;
        let (count, last) = *entry;
        if count < FREE_FAILURES {
            return None;
        }
        let delay = Duration::from_secs(1u64 << (count - FREE_FAILURES).min(10)).min(MAX_DELAY);
        let ready = last + delay;
        (ready > now).then(|| ready - now)
    }

    /// Records a failed attempt.
    pub fn fail(&self, key: &str, now: Instant) {
        if self.failures.len() > 100_000 {
            self.failures
                .retain(|_, (_, last)| now.saturating_duration_since(*last) < FORGET_AFTER);
        }
        let mut entry = self.failures.entry(key.to_owned()).or_insert((0, now));
        entry.0 = entry.0.saturating_add(1);
        entry.1 = now;
    }

    /// Clears a key after a success.
    pub fn clear(&self, key: &str) {
        self.failures.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_failures_are_free_then_delays_double() {
        let t = LoginThrottle::default();
        let t0 = Instant::now();
        for _ in 0..5 {
            assert_eq!(t.wait("account:a", t0), None);
            t.fail("account:a", t0);
        }
        assert_eq!(t.wait("account:a", t0), Some(Duration::from_secs(1)));
        assert_eq!(t.wait("account:a", t0 + Duration::from_secs(1)), None);
        t.fail("account:a", t0 + Duration::from_secs(1));
        assert_eq!(
            t.wait("account:a", t0 + Duration::from_secs(1)),
            Some(Duration::from_secs(2))
        );
        assert_eq!(t.wait("account:b", t0), None, "other keys are unaffected");
        t.clear("account:a");
        assert_eq!(t.wait("account:a", t0), None);
    }

    #[test]
    fn delays_stop_growing() {
        let t = LoginThrottle::default();
        let t0 = Instant::now();
        for _ in 0..100 {
            t.fail("k", t0);
        }
        assert_eq!(t.wait("k", t0), Some(MAX_DELAY));
    }
}

//! The time and the randomness rooms use, passed in rather than read from the system where
//! they are needed, so that a test can move time forward and a run can be replayed.
//!
//! The server runs on [`Ambient::system`]; tests use [`Clock::manual`], advance it, and
//! choose the seed. A clock never goes backwards.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Where rooms read the time.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    /// `None`: the system's clocks. Some: a clock only [`Clock::advance`] moves.
    manual: Option<Arc<Manual>>,
}

#[derive(Debug)]
struct Manual {
    /// The monotonic instant the clock started at.
    start: Instant,
    /// Wall-clock milliseconds at `start`.
    start_millis: i64,
    /// How far the clock has been moved.
    offset: Mutex<Duration>,
}

impl Clock {
    /// The system's clocks.
    pub fn system() -> Self {
        Clock::default()
    }

    /// A clock that stands still at `start_millis` (wall time) until advanced.
    pub fn manual(start_millis: i64) -> Self {
        Clock {
            manual: Some(Arc::new(Manual {
                start: Instant::now(),
                start_millis,
                offset: Mutex::new(Duration::ZERO),
            })),
        }
    }

    /// Moves a manual clock forward (the system clock moves by itself: no effect).
    pub fn advance(&self, by: Duration) {
        if let Some(manual) = &self.manual {
            *manual.offset.lock().unwrap_or_else(PoisonError::into_inner) += by;
        }
    }

    /// The monotonic time, for durations.
    pub fn now(&self) -> Instant {
        match &self.manual {
            Some(manual) => manual.start + manual.offset(),
            None => Instant::now(),
        }
    }

    /// Milliseconds since the Unix epoch, for times that are stored.
    pub fn now_millis(&self) -> i64 {
        match &self.manual {
            Some(manual) => manual
                .start_millis
                .saturating_add(i64::try_from(manual.offset().as_millis()).unwrap_or(i64::MAX)),
            None => crate::storage::now_millis(),
        }
    }
}

impl Manual {
    fn offset(&self) -> Duration {
        *self.offset.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What rooms take from outside the program: the time, and the seed of their random
/// numbers (fresh Yjs client IDs for restores). Secrets never come from here: they use the
/// operating system's source (`auth::secret`).
#[derive(Debug, Clone)]
pub struct Ambient {
    /// Where rooms read the time.
    pub clock: Clock,
    /// Seeds the rooms' random numbers: the same seed, the same numbers in the same order.
    pub seed: u64,
}

impl Ambient {
    /// The system's clocks and a seed from the operating system.
    pub fn system() -> Self {
        Ambient {
            clock: Clock::system(),
            seed: fastrand::u64(..),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_advanced_and_both_readings_move_together() {
        let clock = Clock::manual(1_000);
        let (t0, ms0) = (clock.now(), clock.now_millis());
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!((clock.now(), clock.now_millis()), (t0, ms0));
        assert_eq!(ms0, 1_000);
        clock.advance(Duration::from_secs(90));
        assert_eq!(clock.now() - t0, Duration::from_secs(90));
        assert_eq!(clock.now_millis(), 91_000);
        // Clones share the clock.
        clock.clone().advance(Duration::from_millis(1));
        assert_eq!(clock.now_millis(), 91_001);
    }
}

//! The time the rooms spend reading their documents beside serving their editors (the name
//! guard's check, the search index's texts), all rooms together.
//!
//! Each such reading goes over the whole document, so it costs more as the document grows;
//! a room's own limit (the name guard's: a twentieth of its time) does not bound what a
//! hundred rooms spend together. In a 90-second run of the benchmark's point (b), whose
//! documents grow by 60 characters a second, the name guard alone came to take whole cores
//! and the editors' p99 rose from 41 to 198 ms. Past this share the readings wait: names
//! and search follow a little later, the editors do not.

use std::sync::PoisonError;
use std::time::{Duration, Instant};

use super::Room;
use crate::rooms::RoomsInner;
use crate::rooms::usage::Bucket;

/// Seconds of reading per second, all rooms together: a quarter of one core.
const SHARE: f64 = 0.25;
const PERIOD: Duration = Duration::from_secs(1);

/// The rooms' shared time, full.
pub(crate) fn background_time(now: Instant) -> Bucket {
    Bucket::full(SHARE, now)
}

impl Room {
    /// Whether the rooms' shared time has some left for a reading.
    pub(super) fn background_time_left(&self, now: Instant) -> bool {
        let mut time = self
            .rooms
            .background
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        time.positive(SHARE, PERIOD, now)
    }
}

/// Charges a reading that took `took` to the rooms' shared time (into debt, if it took more
/// than was left: later readings wait until it is paid back).
pub(super) fn charge(rooms: &RoomsInner, took: Duration, now: Instant) {
    let mut time = rooms.background.lock().unwrap_or_else(PoisonError::into_inner);
    time.charge(took.as_secs_f64(), SHARE, PERIOD, now);
}

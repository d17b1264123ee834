//! The reconnect storm (issue 21): when idle clients lose their connection (a server
//! restart), when each lost it, when each tried again, and when each was synced again, in
//! wall-clock milliseconds so that worker processes and the script that restarted the
//! server share one time line.

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch, now.
pub fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// What a worker's clients did after their connections closed.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct StormReport {
    /// When a connection closed under a client.
    pub drops: Vec<u64>,
    /// When a client tried to connect again.
    pub attempts: Vec<u64>,
    /// (closed, synced again) per reconnect that succeeded.
    pub resynced: Vec<[u64; 2]>,
}

impl StormReport {
    /// Adds another worker's.
    pub fn merge(&mut self, other: &StormReport) {
        self.drops.extend(&other.drops);
        self.attempts.extend(&other.attempts);
        self.resynced.extend(&other.resynced);
    }
}

/// A worker's storm log, shared by its clients.
#[derive(Debug, Default)]
pub struct StormLog(Mutex<StormReport>);

impl StormLog {
    fn with(&self, f: impl FnOnce(&mut StormReport)) {
        if let Ok(mut report) = self.0.lock() {
            f(&mut report);
        }
    }

    /// A connection closed under a client at `at`.
    pub fn dropped(&self, at: u64) {
        self.with(|r| r.drops.push(at));
    }

    /// A client tries to connect again, now.
    pub fn attempt(&self) {
        let now = wall_ms();
        self.with(|r| r.attempts.push(now));
    }

    /// A client whose connection closed at `dropped` is synced again, now.
    pub fn resynced(&self, dropped: u64) {
        let now = wall_ms();
        self.with(|r| r.resynced.push([dropped, now]));
    }

    /// What was logged.
    pub fn report(&self) -> StormReport {
        self.0.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_keeps_drops_attempts_and_resyncs_and_reports_merge() {
        let log = StormLog::default();
        log.dropped(1_000);
        log.attempt();
        log.resynced(1_000);
        let mine = log.report();
        assert_eq!(mine.drops, [1_000]);
        assert_eq!(mine.attempts.len(), 1);
        assert!(mine.attempts[0] > 1_000);
        assert_eq!(mine.resynced.len(), 1);
        assert_eq!(mine.resynced[0][0], 1_000);
        let mut all = StormReport::default();
        all.merge(&mine);
        all.merge(&mine);
        assert_eq!(all.drops, [1_000, 1_000]);
        assert_eq!(all.resynced.len(), 2);
    }
}

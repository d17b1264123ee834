//! How a load client waits before it reconnects after its connection closed (issue 21):
//! as Samen's web app does (`web/src/lib/backoff.ts`: full jitter), or as y-websocket does
//! by itself (a doubling wait, the same for everyone). A server restart under load shows
//! the difference: the reconnect storm (`scripts/bench-reconnect`).

use std::time::Duration;

use clap::ValueEnum;
use serde::Serialize;

/// What a client does when its connection closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Reconnect {
    /// Nothing: the client counts as failed (the load points' behaviour).
    #[default]
    None,
    /// Samen's web app: a uniformly random wait below min(20 s, 2 s · 2^attempt).
    Jitter,
    /// y-websocket's own: min(2.5 s, 100 ms · 2^attempt), no randomness.
    Doubling,
}

/// The web app's first ceiling (`RECONNECT_BASE_MS`).
pub const JITTER_BASE: Duration = Duration::from_secs(2);
/// The web app's largest ceiling (`RECONNECT_CAP_MS`).
pub const JITTER_CAP: Duration = Duration::from_secs(20);
/// y-websocket's first wait.
pub const DOUBLING_START: Duration = Duration::from_millis(100);
/// y-websocket's `maxBackoffTime`.
pub const DOUBLING_CAP: Duration = Duration::from_millis(2500);

impl Reconnect {
    /// The wait before attempt `attempt` (0: the first after the connection closed);
    /// `random` is uniform in [0, 1).
    pub fn delay(self, attempt: u32, random: f64) -> Duration {
        let doubled = |start: Duration, cap: Duration| {
            start
                .checked_mul(1 << attempt.min(20))
                .map_or(cap, |d| d.min(cap))
        };
        match self {
            Reconnect::None => Duration::ZERO,
            Reconnect::Jitter => doubled(JITTER_BASE, JITTER_CAP).mul_f64(random.clamp(0.0, 1.0)),
            Reconnect::Doubling => doubled(DOUBLING_START, DOUBLING_CAP),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_spreads_below_a_doubling_ceiling_and_doubling_is_the_same_for_everyone() {
        let j = Reconnect::Jitter;
        assert_eq!(j.delay(0, 0.0), Duration::ZERO);
        assert_eq!(j.delay(0, 0.5), Duration::from_secs(1));
        assert_eq!(j.delay(1, 0.5), Duration::from_secs(2));
        assert_eq!(j.delay(2, 0.999), Duration::from_secs(8).mul_f64(0.999));
        assert_eq!(j.delay(3, 0.5), Duration::from_secs(8), "ceiling 16 s");
        assert_eq!(j.delay(9, 0.5), Duration::from_secs(10), "capped at 20 s");
        assert_eq!(j.delay(u32::MAX, 0.5), Duration::from_secs(10));
        let d = Reconnect::Doubling;
        assert_eq!(d.delay(0, 0.3), Duration::from_millis(100));
        assert_eq!(d.delay(0, 0.9), Duration::from_millis(100));
        assert_eq!(d.delay(3, 0.1), Duration::from_millis(800));
        assert_eq!(d.delay(5, 0.1), Duration::from_millis(2500));
        assert_eq!(Reconnect::None.delay(4, 0.5), Duration::ZERO);
    }
}

//! Rate limits on what one user may do through the API.

use crate::error::AppError;
use crate::ids::UserId;

/// A per-user rate limit on writes: `burst` at once, then one every `period_secs`.
pub(crate) struct PerUser {
    limiter: governor::DefaultKeyedRateLimiter<String>,
    period_secs: u64,
}

impl PerUser {
    /// A limit of `burst` writes at once, refilled one per `period_secs` (both at least 1).
    pub(crate) fn new(burst: u32, period_secs: u64) -> Self {
        let period = std::time::Duration::from_secs(period_secs.max(1));
        let quota =
            governor::Quota::with_period(period).unwrap_or_else(|| governor::Quota::per_second(nonzero(1)));
        PerUser {
            limiter: governor::RateLimiter::keyed(quota.allow_burst(nonzero(burst))),
            period_secs: period_secs.max(1),
        }
    }

    /// Counts one write of `user`; 429 with the wait when over the limit.
    pub(crate) fn check(&self, user: &UserId) -> Result<(), AppError> {
        self.limiter
            .check_key(&user.to_string())
            .map_err(|_| AppError::TooManyRequests(self.period_secs))
    }
}

fn nonzero(n: u32) -> std::num::NonZeroU32 {
    std::num::NonZeroU32::new(n).unwrap_or(std::num::NonZeroU32::MIN)
}

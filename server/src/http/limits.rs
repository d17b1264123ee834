//! Rate limits on what one user may write through the API. On several nodes each node
//! tells the others the writes it counted, so a user's limit is theirs across the cluster.

use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::ids::UserId;
use crate::storage::{Store, Topic};

/// What a user writes through the API, each kind with a limit of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Write {
    /// A comment: started, answered, edited.
    Comment,
    /// A version made or a version restored: each one rebuilds and compares whole
    /// documents, so they are not free.
    Version,
}

/// A write as one node tells the others.
#[derive(Serialize, Deserialize)]
struct Told {
    write: Write,
    user: UserId,
}

/// Every user's API writes: of each kind 10 at once, then one every 3 seconds.
pub struct ApiWrites {
    comments: PerUser,
    versions: PerUser,
    /// Where the other nodes hear of the writes counted here (none on one node).
    nodes: Option<Store>,
}

impl std::fmt::Debug for ApiWrites {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiWrites").finish_non_exhaustive()
    }
}

impl ApiWrites {
    /// The limits, shared with the other nodes of `store`'s database (when it has several).
    pub fn on(store: &Store) -> Self {
        Self::new(store.shared().then(|| store.clone()))
    }

    fn new(nodes: Option<Store>) -> Self {
        ApiWrites {
            comments: PerUser::new(10, 3),
            versions: PerUser::new(10, 3),
            nodes,
        }
    }

    fn limit(&self, write: Write) -> &PerUser {
        match write {
            Write::Comment => &self.comments,
            Write::Version => &self.versions,
        }
    }

    /// Counts one `write` of `user`; 429 with the wait when over the limit.
    pub fn check(&self, write: Write, user: &UserId) -> Result<(), AppError> {
        self.limit(write).check(user)?;
        if let Some(store) = &self.nodes {
            let told = Told {
                write,
                user: user.clone(),
            };
            match serde_json::to_string(&told) {
                Ok(body) => store.tell(Topic::Writes, body),
                Err(err) => tracing::error!(%err, "a write does not serialize"),
            }
        }
        Ok(())
    }

    /// Counts a write another node counted (a user over the limit stays over).
    pub fn from_elsewhere(&self, body: &str) {
        match serde_json::from_str::<Told>(body) {
            Ok(told) => {
                let _ = self.limit(told.write).check(&told.user);
            }
            Err(_) => tracing::debug!("a write from another node does not parse"),
        }
    }
}

/// A per-user rate limit on writes: `burst` at once, then one every `period_secs`.
struct PerUser {
    limiter: governor::DefaultKeyedRateLimiter<UserId>,
    period_secs: u64,
}

impl PerUser {
    /// A limit of `burst` writes at once, refilled one per `period_secs` (both at least 1).
    fn new(burst: u32, period_secs: u64) -> Self {
        let period = std::time::Duration::from_secs(period_secs.max(1));
        let quota =
            governor::Quota::with_period(period).unwrap_or_else(|| governor::Quota::per_second(nonzero(1)));
        PerUser {
            limiter: governor::RateLimiter::keyed(quota.allow_burst(nonzero(burst))),
            period_secs: period_secs.max(1),
        }
    }

    /// Counts one write of `user`; 429 with the wait when over the limit.
    fn check(&self, user: &UserId) -> Result<(), AppError> {
        self.limiter
            .check_key(user)
            .map_err(|_| AppError::TooManyRequests(self.period_secs))
    }
}

fn nonzero(n: u32) -> std::num::NonZeroU32 {
    std::num::NonZeroU32::new(n).unwrap_or(std::num::NonZeroU32::MIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_told_by_another_node_count_against_the_limit() {
        let (here, user, other) = (ApiWrites::new(None), UserId::new(), UserId::new());
        for _ in 0..6 {
            here.from_elsewhere(&format!("{{\"write\":\"comment\",\"user\":\"{user}\"}}"));
        }
        here.from_elsewhere("{\"write\":\"unknown\"}");
        here.from_elsewhere("not json");
        for n in 0..4 {
            assert!(
                here.check(Write::Comment, &user).is_ok(),
                "write {n} of the burst's rest"
            );
        }
        assert!(
            matches!(
                here.check(Write::Comment, &user),
                Err(AppError::TooManyRequests(3))
            ),
            "six told + four here spend the burst of ten"
        );
        assert!(here.check(Write::Version, &user).is_ok(), "versions count apart");
        assert!(here.check(Write::Comment, &other).is_ok(), "users count apart");
    }
}

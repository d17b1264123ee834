//! Password hashing with argon2id (the crate's defaults: 19 MiB, 2 passes), and a bound on
//! how many password checks run at once.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use tokio::sync::Semaphore;

/// Checks that may wait for a running one to finish, per check allowed to run.
const QUEUE_PER_PERMIT: usize = 4;
/// The longest a check waits for its turn before the caller is told to come back.
const QUEUE_WAIT: Duration = Duration::from_secs(1);
/// What a busy answer tells the caller to wait, in seconds.
pub const BUSY_RETRY_SECS: u64 = 1;

/// Too many password checks are running or waiting; try again shortly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many password checks at once")]
pub struct Busy;

/// Password checks at once, bounded: each takes argon2's 19 MiB and a blocking thread for
/// tens of milliseconds, and tokio would start up to 512 such threads (about 9.7 GiB).
/// A few more may wait briefly for their turn; beyond that a check is refused at once
/// rather than queued, so a flood of logins costs neither memory nor ever longer waits.
#[derive(Debug)]
pub struct Hashing {
    running: Arc<Semaphore>,
    waiting: Semaphore,
}

impl Hashing {
    /// Allows `permits` checks at once (at least one), and four times as many waiting.
    pub fn new(permits: usize) -> Self {
        let permits = permits.max(1);
        Hashing {
            running: Arc::new(Semaphore::new(permits)),
            waiting: Semaphore::new(permits * QUEUE_PER_PERMIT),
        }
    }

    /// [`verify_password`] off the async workers, when its turn comes within a second.
    pub async fn verify(&self, password: String, stored: Option<String>) -> Result<bool, Busy> {
        let permit = match self.running.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                let _queued = self.waiting.try_acquire().map_err(|_| Busy)?;
                tokio::time::timeout(QUEUE_WAIT, self.running.clone().acquire_owned())
                    .await
                    .map_err(|_| Busy)?
                    .map_err(|_| Busy)?
            }
        };
        // The permit goes with the work: if the caller goes away, the hash still runs to
        // the end, and its memory counts until then.
        let check = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            verify_password(&password, stored.as_deref())
        });
        Ok(check.await.unwrap_or(false))
    }
}

/// Hashes a password for storage (PHC string).
pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    Ok(Argon2::default().hash_password(password.as_bytes())?.to_string())
}

/// Checks a password against a stored hash. With `None` (no such user) it still does the
/// work of a check against a dummy hash, so that the time taken does not tell whether an
/// account exists.
pub fn verify_password(password: &str, stored: Option<&str>) -> bool {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash_password("not a real password").unwrap_or_default());
    let ok = Argon2::default()
        .verify_password(password.as_bytes(), stored.unwrap_or(dummy))
        .is_ok();
    ok && stored.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn checks_beyond_the_bound_are_refused_not_queued() {
        let hashing = Hashing::new(1);
        let hash = hash_password("demo").expect("hash");
        assert_eq!(hashing.verify("demo".into(), Some(hash.clone())).await, Ok(true));

        // The one permit taken: a check waits its second, then is refused.
        let held = hashing.running.clone().try_acquire_owned().expect("permit");
        let started = std::time::Instant::now();
        assert_eq!(hashing.verify("demo".into(), Some(hash.clone())).await, Err(Busy));
        assert!(started.elapsed() >= QUEUE_WAIT);
        // With the waiting room full too, it is refused at once.
        let full = hashing.waiting.try_acquire_many(4).expect("queue");
        let started = std::time::Instant::now();
        assert_eq!(hashing.verify("demo".into(), Some(hash.clone())).await, Err(Busy));
        assert!(started.elapsed() < QUEUE_WAIT);
        drop((held, full));
        assert_eq!(hashing.verify("demo".into(), Some(hash)).await, Ok(true));
    }

    #[test]
    fn hashes_verify_and_differ_per_salt() {
        let h1 = hash_password("demo").expect("hash");
        let h2 = hash_password("demo").expect("hash");
        assert!(h1.starts_with("$argon2id$"));
        assert_ne!(h1, h2);
        assert!(verify_password("demo", Some(&h1)));
        assert!(!verify_password("Demo", Some(&h1)));
        assert!(!verify_password("demo", None));
        assert!(!verify_password("demo", Some("not a hash")));
    }
}

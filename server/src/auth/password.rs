//! Password hashing with argon2id (the crate's defaults: 19 MiB, 2 passes), a bound on
//! how many password checks run at once, and the rules a new password must meet.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use tokio::sync::Semaphore;

/// The fewest characters (not bytes) a new password has.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// The longest password, in bytes, new or at a login: far beyond any passphrase, and a bound
/// on what one attempt makes the server hash.
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// The lowest zxcvbn score a new password has: 3 means about 10^10 guesses or more, which
/// with argon2id and the login throttle puts an online or offline guess out of reach.
const MIN_SCORE: zxcvbn::Score = zxcvbn::Score::Three;

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

/// Why a new password is refused; the message says what to do instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WeakPassword {
    /// Fewer than [`MIN_PASSWORD_CHARS`] characters.
    #[error("the password must be at least {MIN_PASSWORD_CHARS} characters long")]
    TooShort,
    /// More than [`MAX_PASSWORD_BYTES`] bytes.
    #[error("the password may be at most {MAX_PASSWORD_BYTES} bytes long")]
    TooLong,
    /// Found in zxcvbn's lists of common passwords, words and names, made of the user's own
    /// name or e-mail address, or otherwise predictable; `hint` says which.
    #[error(
        "this password is too common or easy to guess ({hint}); use a longer phrase of \
         unrelated words"
    )]
    Guessable {
        /// What made it guessable, e.g. "this is a top-100 common password".
        hint: String,
    },
}

/// Checks a new password against the rules: at least [`MIN_PASSWORD_CHARS`] characters, at
/// most [`MAX_PASSWORD_BYTES`] bytes, and not guessable by zxcvbn (score 3 or more), with
/// `context` (the user's e-mail address and name) counted as words an attacker tries first.
pub fn check_new_password(password: &str, context: &[&str]) -> Result<(), WeakPassword> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(WeakPassword::TooLong);
    }
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(WeakPassword::TooShort);
    }
    // zxcvbn matches each user input as one word, so "An Peeters" alone would not catch
    // "peeters2026"; the parts of the e-mail address and name go in as words of their own.
    let words = context_words(context);
    let inputs: Vec<&str> = words.iter().map(String::as_str).collect();
    let estimate = zxcvbn::zxcvbn(password, &inputs);
    if estimate.score() >= MIN_SCORE {
        return Ok(());
    }
    // A two-letter part ("an") may be chosen by chance; three letters or more of the user's
    // own words is worth telling them about.
    let own = estimate.sequence().iter().any(|m| {
        matches!(&m.pattern, zxcvbn::matching::patterns::MatchPattern::Dictionary(d)
            if d.matched_word.chars().count() >= 3 && words.contains(&d.matched_word))
    });
    let hint = if own {
        "it contains your name or e-mail address".to_owned()
    } else if let Some(warning) = estimate.feedback().and_then(|f| f.warning()) {
        // zxcvbn's warnings are sentences ("This is a top-10 common password."); they go
        // in brackets mid-sentence here.
        let warning = warning.to_string();
        let warning = warning.trim_end_matches('.');
        let mut chars = warning.chars();
        chars
            .next()
            .map(|c| c.to_lowercase().chain(chars).collect())
            .unwrap_or_default()
    } else {
        "it follows a pattern that guessing programs try early".to_owned()
    };
    Err(WeakPassword::Guessable { hint })
}

/// The user's own words in lower case, as zxcvbn compares them: each whole input, the same
/// run together ("anpeeters"), and its parts between non-alphanumeric characters (the
/// e-mail's local part and domain labels, first name and surname).
fn context_words(context: &[&str]) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    for input in context {
        let input = input.trim().to_lowercase();
        let joined: String = input.chars().filter(|c| c.is_alphanumeric()).collect();
        let parts = input.split(|c: char| !c.is_alphanumeric()).map(str::to_owned);
        for word in [input.clone(), joined].into_iter().chain(parts) {
            // A single letter would match inside every password and says nothing.
            if word.chars().count() >= 2 && !words.contains(&word) {
                words.push(word);
            }
        }
    }
    words
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

    const AN: [&str; 2] = ["an.peeters@clb-noord.be", "An Peeters"];

    #[test]
    fn a_short_password_is_refused_and_says_how_long() {
        let err = check_new_password("kort-maar-x", &AN).expect_err("11 characters");
        assert_eq!(err, WeakPassword::TooShort);
        assert_eq!(
            err.to_string(),
            "the password must be at least 12 characters long"
        );
        assert_eq!(check_new_password("", &[]), Err(WeakPassword::TooShort));
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        // Eleven characters of two or three bytes each: over 12 bytes, still too short.
        let eleven = "éèçàùœæøåñü";
        assert!(eleven.len() > MIN_PASSWORD_CHARS);
        assert_eq!(check_new_password(eleven, &[]), Err(WeakPassword::TooShort));
        let long = "zwaluw-ĳsbeer-ölfabriek-naïef-ßtraat";
        assert_eq!(check_new_password(long, &[]), Ok(()));
    }

    #[test]
    fn an_overlong_password_is_refused() {
        let long = "woord ".repeat(200);
        assert!(long.len() > MAX_PASSWORD_BYTES);
        assert_eq!(check_new_password(&long, &[]), Err(WeakPassword::TooLong));
    }

    #[test]
    fn common_passwords_are_refused_with_a_way_out() {
        for weak in [
            "welkom123456",
            "Password1234",
            "123456789012",
            "qwertyuiopas",
            "aaaaaaaaaaaa",
        ] {
            let err = check_new_password(weak, &AN).expect_err(weak);
            assert!(matches!(err, WeakPassword::Guessable { .. }), "{weak}: {err:?}");
            let message = err.to_string();
            assert!(
                message.starts_with("this password is too common or easy to guess (")
                    && message.ends_with("); use a longer phrase of unrelated words"),
                "{weak}: {message}"
            );
        }
    }

    #[test]
    fn a_password_made_of_the_users_name_or_e_mail_is_refused() {
        for weak in ["an.peeters@clb-noord.be", "AnPeeters2026!", "anpeeters12345"] {
            let err = check_new_password(weak, &AN).expect_err(weak);
            assert_eq!(
                err,
                WeakPassword::Guessable {
                    hint: "it contains your name or e-mail address".into()
                },
                "{weak}"
            );
        }
    }

    #[test]
    fn a_passphrase_of_unrelated_words_passes() {
        for good in [
            "kastanje fietsbel ochtendmist",
            "paarse-giraf-eet-soep",
            "Tr0mbone!Vlinder#Kapstok",
        ] {
            assert_eq!(check_new_password(good, &AN), Ok(()), "{good}");
        }
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

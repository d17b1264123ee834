//! Password hashing with argon2id (the crate's defaults: 19 MiB, 2 passes).

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

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

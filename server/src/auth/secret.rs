//! Random secrets (session ids, API tokens) and their stored form.

use sha2::{Digest, Sha256};

/// A new random 256-bit secret as hex, after `prefix` (which makes tokens recognisable to
/// secret scanners, e.g. `samen_`).
pub fn new_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    // The OS random source failing is not something to carry on from.
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    format!("{prefix}{}", hex(&bytes))
}

/// What the database stores of a secret: its SHA-256, as hex. Secrets are 256 random bits,
/// so a fast hash is enough (no salt or stretching needed, unlike passwords).
pub fn hash_secret(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_long_random_and_hashed_stably() {
        let a = new_secret("samen_");
        let b = new_secret("samen_");
        assert!(a.starts_with("samen_") && a.len() == 6 + 64);
        assert_ne!(a, b);
        assert_eq!(hash_secret(&a), hash_secret(&a));
        assert_ne!(hash_secret(&a), a);
        assert_eq!(
            hash_secret("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}

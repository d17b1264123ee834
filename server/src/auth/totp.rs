//! TOTP, the optional second factor of a password login (RFC 6238 as every authenticator
//! app reads it by default: HMAC-SHA-1, 30-second steps, six digits), and the one-time
//! recovery codes that stand in for a lost device.
//!
//! Pure: no IO, and the time is passed in. Never log a secret, a code or a recovery code.

use data_encoding::BASE32_NOPAD;
use hmac::{Hmac, KeyInit, Mac};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use sha1::Sha1;

use super::secret::hash_secret;

/// Digits of a code.
pub const DIGITS: u32 = 6;
/// Seconds of one time step.
pub const STEP_SECS: i64 = 30;
/// Steps before and after the current one whose codes are accepted too: a phone's clock a
/// little off, or a code typed just as it changed.
pub const SKEW: i64 = 1;
/// Bytes of a new secret: 160 bits, HMAC-SHA-1's output size (RFC 4226's recommendation).
pub const SECRET_BYTES: usize = 20;
/// Recovery codes a user gets when they turn TOTP on.
pub const RECOVERY_CODES: usize = 10;
/// The name authenticator apps show above the account.
pub const ISSUER: &str = "Samen";

/// Characters of recovery codes: lower-case letters and digits without the ones people
/// misread (0/o, 1/l/i), 31 in all.
const RECOVERY_ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
/// Characters of a recovery code (about 59 bits), shown in groups of four.
const RECOVERY_CHARS: usize = 12;

/// A new random secret.
pub fn new_secret() -> Vec<u8> {
    random_bytes(SECRET_BYTES)
}

/// A secret as people type it into an app: RFC 4648 base32 without padding.
pub fn base32(secret: &[u8]) -> String {
    BASE32_NOPAD.encode(secret)
}

/// The `otpauth://` URI that a QR code carries to authenticator apps (Google's key URI
/// format, which they all read), labelled with the issuer and the user's e-mail address.
pub fn otpauth_uri(secret: &[u8], account: &str) -> String {
    let label = format!("{ISSUER}:{account}");
    format!(
        "otpauth://totp/{}?secret={}&issuer={ISSUER}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
        utf8_percent_encode(&label, NON_ALPHANUMERIC),
        base32(secret)
    )
}

/// The time step of a moment (ms since the Unix epoch).
pub fn step_at(unix_ms: i64) -> i64 {
    unix_ms.div_euclid(1000).div_euclid(STEP_SECS)
}

/// The code of a time step (RFC 4226's HOTP with the step as counter).
pub fn code_at(secret: &[u8], step: i64) -> u32 {
    // HMAC takes a key of any length; this cannot fail.
    let Ok(mut mac) = <Hmac<Sha1> as KeyInit>::new_from_slice(secret) else {
        return u32::MAX;
    };
    mac.update(&step.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    // Dynamic truncation: four bytes at the offset the last nibble names, top bit cleared.
    let offset = usize::from(digest[digest.len() - 1] & 0x0f);
    let word = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    word % 10u32.pow(DIGITS)
}

/// The step, within [`SKEW`] of `now_ms`'s and after `after` (the last step accepted, whose
/// code and earlier ones are never accepted again), whose code is `code`.
pub fn matching_step(secret: &[u8], code: u32, now_ms: i64, after: Option<i64>) -> Option<i64> {
    let now = step_at(now_ms);
    (now - SKEW..=now + SKEW)
        .filter(|step| after.is_none_or(|last| *step > last))
        .find(|step| code_at(secret, *step) == code)
}

/// What a person typed as their second factor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// A six-digit code from their app.
    Code(u32),
    /// A recovery code, normalised (lower case, no spaces or hyphens).
    Recovery(String),
}

impl Answer {
    /// Reads a code or a recovery code as people type them: spaces and hyphens anywhere,
    /// any case. `None` when it is neither.
    pub fn parse(input: &str) -> Option<Answer> {
        let plain: String = input
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .flat_map(char::to_lowercase)
            .collect();
        if plain.len() == DIGITS as usize && plain.bytes().all(|b| b.is_ascii_digit()) {
            return plain.parse().ok().map(Answer::Code);
        }
        let recovery = plain.len() == RECOVERY_CHARS && plain.bytes().all(|b| RECOVERY_ALPHABET.contains(&b));
        recovery.then_some(Answer::Recovery(plain))
    }
}

/// New recovery codes, as shown to the user once (`abcd-efgh-jkmn`).
pub fn new_recovery_codes() -> Vec<String> {
    (0..RECOVERY_CODES).map(|_| new_recovery_code()).collect()
}

fn new_recovery_code() -> String {
    let mut chars = Vec::with_capacity(RECOVERY_CHARS);
    // Bytes below the largest multiple of the alphabet's size map evenly onto it; the
    // others are drawn again, so that no character is likelier than another.
    let even = 256 - 256 % RECOVERY_ALPHABET.len();
    while chars.len() < RECOVERY_CHARS {
        for byte in random_bytes(RECOVERY_CHARS * 2) {
            if usize::from(byte) < even && chars.len() < RECOVERY_CHARS {
                chars.push(RECOVERY_ALPHABET[usize::from(byte) % RECOVERY_ALPHABET.len()]);
            }
        }
    }
    chars
        .chunks(4)
        .map(|group| group.iter().map(|&b| char::from(b)).collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// What the database stores of a recovery code (normalised as [`Answer::parse`] leaves
/// it): its SHA-256, as of sessions and tokens. 59 random bits are no password: no salt or
/// stretching is needed, and whoever reads the database has the TOTP secret anyway.
pub fn recovery_hash(normalised: &str) -> String {
    hash_secret(normalised)
}

fn random_bytes(n: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; n];
    // The OS random source failing is not something to carry on from.
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B's SHA-1 key and its eight-digit codes, of which six-digit codes
    /// are the last six digits (the same truncated number modulo 10^6).
    const RFC_KEY: &[u8] = b"12345678901234567890";

    #[test]
    fn codes_are_rfc_6238s() {
        for (unix_secs, eight_digits) in [
            (59_i64, 94287082_u32),
            (1111111109, 7081804),
            (1111111111, 14050471),
            (1234567890, 89005924),
            (2000000000, 69279037),
            (20000000000, 65353130),
        ] {
            let step = step_at(unix_secs * 1000);
            assert_eq!(code_at(RFC_KEY, step), eight_digits % 1_000_000, "at {unix_secs}");
        }
    }

    #[test]
    fn a_code_is_accepted_one_step_either_side_and_never_twice() {
        let secret = new_secret();
        let now = 1_700_000_000_000;
        let step = step_at(now);
        for offset in [-1, 0, 1] {
            let code = code_at(&secret, step + offset);
            assert_eq!(matching_step(&secret, code, now, None), Some(step + offset));
        }
        let stale = code_at(&secret, step - 2);
        let early = code_at(&secret, step + 2);
        for code in [stale, early] {
            // Unless that code happens to be one of the three current ones (1 in 333,333).
            if ![-1, 0, 1].iter().any(|o| code_at(&secret, step + o) == code) {
                assert_eq!(matching_step(&secret, code, now, None), None);
            }
        }
        let current = code_at(&secret, step);
        assert_eq!(matching_step(&secret, current, now, Some(step)), None, "replayed");
        assert_eq!(matching_step(&secret, current, now, Some(step - 1)), Some(step));
        let previous = code_at(&secret, step - 1);
        assert_eq!(
            matching_step(&secret, previous, now, Some(step)),
            None,
            "older than the last one used"
        );
    }

    #[test]
    fn the_uri_names_issuer_account_and_secret() {
        let uri = otpauth_uri(RFC_KEY, "an.peeters@clb-noord.be");
        assert_eq!(
            uri,
            "otpauth://totp/Samen%3Aan%2Epeeters%40clb%2Dnoord%2Ebe?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
             &issuer=Samen&algorithm=SHA1&digits=6&period=30"
        );
        assert_eq!(base32(&new_secret()).len(), 32);
    }

    #[test]
    fn answers_are_read_as_people_type_them() {
        assert_eq!(Answer::parse("123456"), Some(Answer::Code(123456)));
        assert_eq!(Answer::parse(" 012 345 "), Some(Answer::Code(12345)));
        assert_eq!(
            Answer::parse("ABCD-efgh 2345"),
            Some(Answer::Recovery("abcdefgh2345".into()))
        );
        for wrong in [
            "",
            "12345",
            "1234567",
            "12345a",
            "abcd-efgh-234l",
            "abcd-efgh-2345-6789",
        ] {
            assert_eq!(Answer::parse(wrong), None, "{wrong:?}");
        }
    }

    #[test]
    fn recovery_codes_are_random_readable_and_parse_back() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        for code in &codes {
            assert_eq!(code.len(), 14, "{code}");
            let Some(Answer::Recovery(plain)) = Answer::parse(code) else {
                panic!("{code} parses as a recovery code");
            };
            assert_eq!(plain, code.replace('-', ""));
            assert_eq!(recovery_hash(&plain).len(), 64);
        }
        let mut unique = codes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), codes.len());
    }
}

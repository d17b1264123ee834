//! A login on its way through the provider, kept in the browser as a signed cookie: no
//! table fills up with logins that were started and never finished, and whichever node
//! the provider sends the browser back to can read it (every node shares the key).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// How long someone may take at the provider before the login must start again.
pub const PENDING_MS: i64 = 10 * 60 * 1000;

/// What the callback needs to finish a login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// The `state` sent to the provider; the callback must bring back the same.
    pub state: String,
    /// The `nonce` the ID token must carry.
    pub nonce: String,
    /// The PKCE code verifier.
    pub verifier: String,
    /// The redirect URL the provider was given (the token request repeats it).
    pub redirect_url: String,
    /// Where in the app to go after the login (a path of this app).
    pub return_to: String,
    /// Whether the session outlives the browser.
    pub remember: bool,
    /// When it stops being valid (ms since the epoch).
    pub expires_at: i64,
}

/// Signs and reads [`Pending`] cookies with a key all nodes share.
#[derive(Clone)]
pub struct Signer {
    key: Vec<u8>,
}

impl Signer {
    /// A signer with this key.
    pub fn new(key: &str) -> Signer {
        Signer {
            key: key.as_bytes().to_vec(),
        }
    }

    fn mac(&self, payload: &str) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key).unwrap_or_else(|_| unreachable!());
        mac.update(b"samen-oidc-pending\0");
        mac.update(payload.as_bytes());
        mac
    }

    /// The cookie value: the payload and its MAC.
    pub fn seal(&self, pending: &Pending) -> String {
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(pending).unwrap_or_default());
        let tag = URL_SAFE_NO_PAD.encode(self.mac(&payload).finalize().into_bytes());
        format!("{payload}.{tag}")
    }

    /// The pending login in a cookie value, if this key signed it and it has not expired.
    pub fn open(&self, value: &str, now_ms: i64) -> Option<Pending> {
        let (payload, tag) = value.split_once('.')?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        self.mac(payload).verify_slice(&tag).ok()?;
        let pending: Pending = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
        (pending.expires_at > now_ms).then_some(pending)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending() -> Pending {
        Pending {
            state: "s".into(),
            nonce: "n".into(),
            verifier: "v".into(),
            redirect_url: "http://127.0.0.1/api/auth/oidc/callback".into(),
            return_to: "/scholen".into(),
            remember: false,
            expires_at: 1_000,
        }
    }

    #[test]
    fn a_sealed_login_opens_with_its_key_until_it_expires() {
        let signer = Signer::new("key");
        let sealed = signer.seal(&pending());
        assert_eq!(signer.open(&sealed, 999), Some(pending()));
        assert_eq!(signer.open(&sealed, 1_000), None, "expired");
        assert_eq!(Signer::new("other").open(&sealed, 0), None, "another key");
    }

    #[test]
    fn a_changed_cookie_does_not_open() {
        let signer = Signer::new("key");
        let sealed = signer.seal(&pending());
        let (payload, tag) = sealed.split_once('.').unwrap();
        let mut other = pending();
        other.return_to = "https://elders.example".into();
        let forged = format!("{}.{tag}", signer.seal(&other).split_once('.').unwrap().0);
        assert_eq!(signer.open(&forged, 0), None);
        assert_eq!(signer.open(payload, 0), None);
        assert_eq!(signer.open(&format!("{payload}.AAAA"), 0), None);
        assert_eq!(signer.open("", 0), None);
        assert_eq!(signer.open("...", 0), None);
    }
}

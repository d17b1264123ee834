//! Who is calling: sessions (cookie `samen_session`), API tokens (`Authorization: Bearer`,
//! or `?token=` on `/sync` for clients that cannot set headers), passwords, the TOTP
//! second factor and login throttling.
//!
//! A request with a session cookie that changes something (or opens a WebSocket) must come
//! from our own origin: the `Origin` header must match the `Host` it was sent to (or a
//! configured public origin). That stops cross-site request forgery and cross-site
//! WebSocket hijacking; calls with an API token need no such check.

pub mod oidc;
pub mod password;
pub mod secret;
pub mod throttle;
pub mod totp;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{Method, header};
use axum_extra::extract::CookieJar;

use crate::db::{Limits, TokenScope, User};
use crate::error::AppError;
use crate::ids::InstitutionId;
use crate::state::AppState;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "samen_session";

/// How a caller proved who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// A browser session (its secret id).
    Session(String),
    /// An API token.
    Token,
}

/// The credential a caller proved themselves with, as the database knows it (hashed), so
/// that an open connection can be re-checked later without keeping a secret.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Credential {
    /// A session: the SHA-256 of its id.
    Session(String),
    /// An API token: the SHA-256 of the token.
    Token(String),
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Authenticated {
    /// The user.
    pub user: User,
    /// How they authenticated.
    pub via: Via,
    /// The credential, hashed.
    pub credential: Credential,
    /// What the credential allows beyond the user's rights (a token's scope and school).
    pub limits: Limits,
}

impl Authenticated {
    /// Whether the credential reaches the school with database id `school` (a token may
    /// be limited to one; elsewhere it finds nothing, 404, as a stranger would).
    pub fn reaches(&self, school: InstitutionId) -> bool {
        self.limits
            .school
            .as_ref()
            .is_none_or(|(only, _)| *only == school)
    }

    /// Whether the credential may change things (a read-only token may not).
    pub fn may_write(&self) -> bool {
        self.limits.scope == TokenScope::ReadWrite
    }
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let auth = authenticate(parts, state)
            .await?
            .ok_or(AppError::Unauthenticated)?;
        let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if matches!(auth.via, Via::Session(_)) && !safe && !same_origin(parts, &state.config.public_origin) {
            return Err(AppError::Forbidden(
                "This request must come from the Samen app itself (Origin check failed).".into(),
            ));
        }
        if !safe && !auth.may_write() {
            return Err(AppError::Forbidden(
                "This API token may only read; make a read-write token to change things.".into(),
            ));
        }
        Ok(auth)
    }
}

/// Finds the caller, if any credentials were sent. A bad token or session is treated as
/// no credentials (the caller gets 401 where a login is needed).
pub async fn authenticate(parts: &Parts, state: &AppState) -> Result<Option<Authenticated>, AppError> {
    if let Some(token) = bearer(parts).or_else(|| query_token(parts)) {
        // Hashed once: the database finds the token by it, and open connections keep it.
        let hash = secret::hash_secret(&token);
        return Ok(state
            .db
            .token_user(&hash)
            .await?
            .map(|(user, limits)| Authenticated {
                user,
                via: Via::Token,
                credential: Credential::Token(hash),
                limits,
            }));
    }
    let jar = CookieJar::from_headers(&parts.headers);
    if let Some(cookie) = jar.get(SESSION_COOKIE) {
        let secret = cookie.value().to_owned();
        let hash = secret::hash_secret(&secret);
        if let Some(user) = state
            .db
            .session_user(&hash, state.config.session_idle_ms())
            .await?
        {
            return Ok(Some(Authenticated {
                user,
                limits: Limits::default(),
                credential: Credential::Session(hash),
                via: Via::Session(secret),
            }));
        }
    }
    Ok(None)
}

fn bearer(parts: &Parts) -> Option<String> {
    bearer_in(&parts.headers)
}

/// The token of an `Authorization: Bearer …` header, if there is one.
pub fn bearer_in(headers: &axum::http::HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))?;
    Some(token.trim().to_owned())
}

/// `?token=` is accepted on `/sync/...` only: elsewhere a token belongs in a header, where
/// it does not end up in logs and browser history.
fn query_token(parts: &Parts) -> Option<String> {
    if !parts.uri.path().starts_with("/sync/") {
        return None;
    }
    let query = parts.uri.query()?;
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("token="))
        .map(|t| t.to_owned())
}

/// Whether the request's `Origin` is this server (by its `Host`) or the configured public
/// origin.
pub fn same_origin(parts: &Parts, public_origin: &Option<String>) -> bool {
    let Some(origin) = parts.headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) else {
        return false;
    };
    if public_origin
        .as_deref()
        .is_some_and(|p| p.trim_end_matches('/') == origin)
    {
        return true;
    }
    let Some(host) = parts.headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    origin == format!("http://{host}") || origin == format!("https://{host}")
}

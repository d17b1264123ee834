//! `AppError`: the one error type of the HTTP layer, turned into `{ "error": { code,
//! message } }` responses. Internal errors are logged with context and never shown.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::{IntoResponses, ToSchema};

/// An error an HTTP handler returns.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 400: the request is not well-formed; the message says what to change.
    #[error("{0}")]
    BadRequest(String),
    /// 401: wrong e-mail address or password (never saying which).
    #[error("invalid credentials")]
    InvalidCredentials,
    /// 401: no valid session or token.
    #[error("log in first")]
    Unauthenticated,
    /// 401: a second-factor code that is wrong or was used already.
    #[error("invalid code")]
    InvalidCode,
    /// 401: a login waiting for its second-factor code is gone (it took too long, or had
    /// too many wrong codes): log in again with the password.
    #[error("login expired")]
    LoginExpired,
    /// 403: known caller, not allowed; the message says why.
    #[error("{0}")]
    Forbidden(String),
    /// 409: it exists already.
    #[error("{0}")]
    Conflict(String),
    /// 429: too many attempts; try again after this many seconds.
    #[error("too many attempts")]
    TooManyRequests(u64),
    /// 429: the caller has this many WebSocket connections open already, the most allowed.
    #[error("too many connections")]
    TooManyConnections(usize),
    /// 401: `/metrics` without the metrics token.
    #[error("metrics token missing or wrong")]
    MetricsToken,
    /// 421: the request names a host this server does not answer for (its `Host`).
    #[error("host not allowed: {0}")]
    MisdirectedHost(String),
    /// 404: no such thing, or nothing the caller may know exists.
    #[error("not found")]
    NotFound,
    /// 503: the server is shutting down.
    #[error("shutting down")]
    Unavailable,
    /// 503: too much of one kind of work at once (password checks); try again after this
    /// many seconds.
    #[error("busy")]
    Busy(u64),
    /// 503: the request took longer than this many seconds and was stopped.
    #[error("timed out")]
    Timeout(u64),
    /// 503: the audit log could not be written, so the request is refused; `done` when it
    /// was a change that had already been made (the answer says so, so that it is not
    /// simply repeated).
    #[error("audit log unavailable")]
    AuditFailed {
        /// The change was made before its entry could not be written.
        done: bool,
    },
    /// 503: the database could not write (its disk is full or failing), so nothing was
    /// changed; the details go to the log only.
    #[error("storage unavailable: {0}")]
    StorageUnavailable(String),
    /// 413: the upload is larger than the server takes; the message says the limit.
    #[error("too large: {0}")]
    TooLarge(String),
    /// 415: a file of a type the dossier does not take, or whose name or declared type
    /// says otherwise than its content; the message says which.
    #[error("unsupported type: {0}")]
    UnsupportedType(String),
    /// 500: something on our side failed; details go to the log only.
    #[error("internal error: {0}")]
    Internal(String),
}

/// The error body of every 4xx and 5xx answer.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({ "error": { "code": "not_found", "message": "Not found." } }))]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// The machine-readable code and a human-readable message.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// One of `bad_request` (400), `invalid_credentials`, `invalid_code`, `login_expired`
    /// and `unauthenticated` (401),
    /// `forbidden` (403), `not_found` (404), `conflict` (409), `too_large` (413),
    /// `unsupported_type` (415), `range_not_satisfiable` (416), `misdirected_request` (421),
    /// `too_many_attempts` and `too_many_connections` (429), `internal` (500),
    /// `unavailable`, `storage_unavailable` and `timeout` (503).
    pub code: &'static str,
    /// What to do about it, for people.
    pub message: String,
}

/// No valid session or token (`unauthenticated`).
#[derive(IntoResponses)]
#[response(status = 401)]
pub struct Unauthenticated(pub ErrorBody);

/// Not allowed (the message says why), or a session without a matching `Origin` (`forbidden`).
#[derive(IntoResponses)]
#[response(status = 403)]
pub struct Forbidden(pub ErrorBody);

/// Nothing by that id the caller may see: it does not exist, or they have no link with it (`not_found`).
#[derive(IntoResponses)]
#[response(status = 404)]
pub struct NotFound(pub ErrorBody);

/// Too many failed logins, or wrong passwords or codes, for this account or address
/// (`too_many_attempts`); `Retry-After` says how many seconds to wait.
#[derive(IntoResponses)]
#[response(status = 429, headers(("retry-after" = u64, description = "Seconds to wait.")))]
pub struct Throttled(pub ErrorBody);

/// Too many password checks or logins at once (`unavailable`); `Retry-After` says how many
/// seconds to wait.
#[derive(IntoResponses)]
#[response(status = 503, headers(("retry-after" = u64, description = "Seconds to wait.")))]
pub struct TooBusy(pub ErrorBody);

impl AppError {
    fn parts(&self) -> (StatusCode, &'static str, String) {
        match self {
            AppError::BadRequest(msg) => (StatusCode::BAD_REQUEST, "bad_request", msg.clone()),
            AppError::InvalidCredentials => (
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "Wrong e-mail address or password.".into(),
            ),
            AppError::Unauthenticated => (
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Log in first, or send an API token.".into(),
            ),
            AppError::InvalidCode => (
                StatusCode::UNAUTHORIZED,
                "invalid_code",
                "That code is wrong or was used already. Enter the code your authenticator app \
                 shows now (or the next one), or one of your recovery codes."
                    .into(),
            ),
            AppError::LoginExpired => (
                StatusCode::UNAUTHORIZED,
                "login_expired",
                "This login waited too long for its code, or had too many wrong codes. Log in \
                 again with your password."
                    .into(),
            ),
            AppError::Forbidden(msg) => (StatusCode::FORBIDDEN, "forbidden", msg.clone()),
            AppError::Conflict(msg) => (StatusCode::CONFLICT, "conflict", msg.clone()),
            AppError::TooLarge(msg) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large", msg.clone()),
            AppError::UnsupportedType(msg) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_type",
                msg.clone(),
            ),
            AppError::TooManyRequests(secs) => (
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_attempts",
                format!("Too many attempts; try again in {secs} seconds."),
            ),
            AppError::TooManyConnections(max) => (
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_connections",
                format!(
                    "You have {max} live connections open already, the most one person may have; \
                     close a tab or window of Samen and try again."
                ),
            ),
            AppError::MetricsToken => (
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Send the metrics token (--metrics-token) as `Authorization: Bearer <token>`.".into(),
            ),
            AppError::MisdirectedHost(host) => (
                StatusCode::MISDIRECTED_REQUEST,
                "misdirected_request",
                format!(
                    "This Samen server does not answer for the host name {host:?}. If it should, \
                     start it with --allowed-host {host} or --public-origin."
                ),
            ),
            AppError::NotFound => (StatusCode::NOT_FOUND, "not_found", "Not found.".into()),
            AppError::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "The server is restarting; try again in a moment.".into(),
            ),
            AppError::Busy(secs) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                format!("Too many logins at once; try again in {secs} seconds."),
            ),
            AppError::Timeout(secs) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "timeout",
                format!("The request took longer than {secs} seconds and was stopped; try again."),
            ),
            AppError::AuditFailed { done: false } => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Samen cannot write to its audit log right now, so it did not carry out this \
                 request; try again in a moment."
                    .into(),
            ),
            AppError::AuditFailed { done: true } => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Your change was saved, but Samen could not record it in its audit log; reload \
                 before you try anything again, and tell your administrator."
                    .into(),
            ),
            AppError::StorageUnavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "storage_unavailable",
                "Samen cannot store anything right now (its disk is full or failing), so this \
                 change was not saved; try again later."
                    .into(),
            ),
            AppError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Something went wrong on the server; try again later.".into(),
            ),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        match &self {
            AppError::Internal(detail) => tracing::error!(detail, "internal error"),
            AppError::StorageUnavailable(detail) => {
                tracing::error!(detail, "the database cannot write; request refused")
            }
            _ => {}
        }
        let (status, code, message) = self.parts();
        let body = ErrorBody {
            error: ErrorDetail { code, message },
        };
        let mut response = (status, Json(body)).into_response();
        // The wait in a header too, where clients and proxies look for it (RFC 9110).
        let wait = match self {
            AppError::TooManyRequests(secs) | AppError::Busy(secs) => Some(secs),
            AppError::StorageUnavailable(_) => Some(STORAGE_RETRY_SECS),
            _ => None,
        };
        if let Some(secs) = wait {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// The `Retry-After` of a refusal because the database cannot write: an operator has to
/// free space first, so asking again at once helps nobody.
const STORAGE_RETRY_SECS: u64 = 30;

impl From<crate::db::DbError> for AppError {
    fn from(err: crate::db::DbError) -> Self {
        match err {
            crate::db::DbError::Conflict(what) => AppError::Conflict(format!("{what} already exists")),
            crate::db::DbError::NotFound(_) => AppError::NotFound,
            crate::db::DbError::Sqlx(err) if crate::storage::cannot_write(&err) => {
                AppError::StorageUnavailable(err.to_string())
            }
            other => AppError::Internal(other.to_string()),
        }
    }
}

impl From<axum::extract::rejection::JsonRejection> for AppError {
    fn from(rejection: axum::extract::rejection::JsonRejection) -> Self {
        AppError::BadRequest(format!("invalid JSON body: {}", rejection.body_text()))
    }
}

/// A query string that does not parse (a repeated or malformed parameter) is a 400 with the
/// usual error body, not axum's plain-text rejection.
impl From<axum::extract::rejection::QueryRejection> for AppError {
    fn from(rejection: axum::extract::rejection::QueryRejection) -> Self {
        AppError::BadRequest(format!("invalid query: {}", rejection.body_text()))
    }
}

impl From<crate::storage::StorageError> for AppError {
    fn from(err: crate::storage::StorageError) -> Self {
        if err.cannot_write() {
            AppError::StorageUnavailable(err.to_string())
        } else {
            AppError::Internal(err.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_are_in_retry_after() {
        for (error, status) in [
            (AppError::TooManyRequests(7), StatusCode::TOO_MANY_REQUESTS),
            (AppError::Busy(7), StatusCode::SERVICE_UNAVAILABLE),
        ] {
            let response = error.into_response();
            assert_eq!(response.status(), status);
            assert_eq!(response.headers()[header::RETRY_AFTER], "7");
        }
        let response = AppError::NotFound.into_response();
        assert!(response.headers().get(header::RETRY_AFTER).is_none());
    }
}

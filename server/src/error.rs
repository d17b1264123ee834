//! `AppError`: the one error type of the HTTP layer, turned into `{ "error": { code,
//! message } }` responses. Internal errors are logged with context and never shown.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// An error an HTTP handler returns.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 400: the request is not well-formed; the message says what to change.
    #[error("{0}")]
    BadRequest(String),
    /// 401: no valid session or token.
    #[error("log in first")]
    Unauthenticated,
    /// 404: no such thing, or nothing the caller may know exists.
    #[error("not found")]
    NotFound,
    /// 503: the server is shutting down.
    #[error("shutting down")]
    Unavailable,
    /// 500: something on our side failed; details go to the log only.
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    fn parts(&self) -> (StatusCode, &'static str, String) {
        match self {
            AppError::BadRequest(msg) => (StatusCode::BAD_REQUEST, "bad_request", msg.clone()),
            AppError::Unauthenticated => (
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Log in first, or send an API token.".into(),
            ),
            AppError::NotFound => (StatusCode::NOT_FOUND, "not_found", "Not found.".into()),
            AppError::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "The server is restarting; try again in a moment.".into(),
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
        if let AppError::Internal(detail) = &self {
            tracing::error!(detail, "internal error");
        }
        let (status, code, message) = self.parts();
        (
            status,
            Json(serde_json::json!({ "error": { "code": code, "message": message } })),
        )
            .into_response()
    }
}

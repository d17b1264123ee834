//! The HTTP router: health and metrics, the API and `/sync` (`http`), and the web app, all
//! behind the `Host` allowlist and with the security headers (`security`).

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

use crate::error::AppError;
use crate::security::Security;
pub use crate::state::AppState;

/// Builds the router of the main address.
pub fn router(state: AppState, security: Arc<Security>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .merge(crate::http::routes(&state.config))
        .route("/api/{*rest}", axum::routing::any(api_not_found))
        // Where people and tools look for an API: a JSON 404 there, never the app's page
        // (the document is at /api/openapi.json).
        .route("/api", axum::routing::any(api_not_found))
        .route("/openapi.json", axum::routing::any(api_not_found))
        .fallback(crate::web::serve)
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(
            security,
            crate::security::guard,
        ))
}

/// Builds the router of `--metrics-addr`: metrics and health only.
pub fn metrics_router(state: AppState, security: Arc<Security>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_only))
        .fallback(api_not_found)
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(
            security,
            crate::security::guard,
        ))
}

async fn api_not_found() -> AppError {
    AppError::NotFound
}

async fn healthz() -> &'static str {
    "ok"
}

/// Readiness for a load balancer: the database answers and holds this build's schema, and
/// the server is not shutting down (a draining node takes no new clients).
async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    if *state.shutdown.borrow() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down");
    }
    match tokio::time::timeout(READY_TIMEOUT, state.db.ready()).await {
        Ok(Ok(true)) => (StatusCode::OK, "ready"),
        Ok(Ok(false)) => (StatusCode::SERVICE_UNAVAILABLE, "database schema not applied"),
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "readiness: the database does not answer");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable")
        }
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "database too slow"),
    }
}

/// How long `/readyz` waits for the database: a load balancer's probe gives up soon too.
const READY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// `/metrics` on the main address: only with `--metrics-token` and without a metrics
/// address of its own, so that metrics are never open to whoever reaches the app.
async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, AppError> {
    if state.config.metrics_addr.is_some() || state.config.metrics_token.is_none() {
        return Err(AppError::NotFound);
    }
    metrics_only(State(state), headers).await
}

/// `/metrics` on `--metrics-addr`: with the token if one is set.
async fn metrics_only(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, AppError> {
    if let Some(expected) = &state.config.metrics_token {
        let given = crate::auth::bearer_in(&headers).unwrap_or_default();
        if !same_secret(&given, expected) {
            return Err(AppError::MetricsToken);
        }
    }
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        state.metrics.render(),
    )
        .into_response())
}

/// Compares two secrets in time that does not depend on where they differ (their hashes,
/// byte by byte, without stopping early).
fn same_secret(given: &str, expected: &str) -> bool {
    let (a, b) = (
        Sha256::digest(given.as_bytes()),
        Sha256::digest(expected.as_bytes()),
    );
    a.iter().zip(b.iter()).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_match_only_when_equal() {
        assert!(same_secret("abcdefghijklmnop", "abcdefghijklmnop"));
        assert!(!same_secret("abcdefghijklmnoq", "abcdefghijklmnop"));
        assert!(!same_secret("", "abcdefghijklmnop"));
    }
}

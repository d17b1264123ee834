//! The HTTP router: health and metrics, the API and `/sync` (`http`), and the web app.

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::error::AppError;
pub use crate::state::AppState;

/// Builds the router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .merge(crate::http::routes())
        .route("/api/{*rest}", axum::routing::any(api_not_found))
        .fallback(crate::web::serve)
        .with_state(state)
}

async fn api_not_found() -> AppError {
    AppError::NotFound
}

async fn healthz() -> &'static str {
    "ok"
}

async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        state.metrics.render(),
    )
        .into_response()
}

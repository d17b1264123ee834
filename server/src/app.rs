//! The HTTP router and the state its handlers share.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State, WebSocketUpgrade};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use samen_crdt::Limits;

use crate::config::ServeConfig;
use crate::error::AppError;
use crate::ids::RegistrationId;
use crate::metrics::Metrics;
use crate::rooms::{Rooms, SocketSettings, serve_socket};

/// What every handler may use.
#[derive(Clone)]
pub struct AppState {
    /// The live rooms.
    pub rooms: Rooms,
    /// Server metrics.
    pub metrics: Arc<Metrics>,
    /// The configuration the server started with.
    pub config: Arc<ServeConfig>,
    /// Validation limits for client messages.
    pub limits: Arc<Limits>,
}

/// Builds the router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/sync/{id}", get(sync))
        .with_state(state)
}

async fn index() -> Html<&'static str> {
    Html(include_str!("index.html"))
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

/// Query options of `/sync/{id}`.
#[derive(Debug, serde::Deserialize)]
struct SyncQuery {
    /// `1` to receive durability acks.
    #[serde(default)]
    acks: Option<String>,
}

async fn sync(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<SyncQuery>,
    upgrade: WebSocketUpgrade,
) -> Result<Response, AppError> {
    let id: RegistrationId = id.parse().map_err(|_| AppError::NotFound)?;
    if !state.config.dev_no_auth {
        // Identity arrives with its own issue; until then only the development switch opens
        // documents.
        return Err(AppError::Unauthenticated);
    }
    let settings = SocketSettings {
        limits: state.limits.clone(),
        ping: std::time::Duration::from_secs(state.config.ping_secs.max(1)),
        acks: query.acks.as_deref() == Some("1"),
    };
    // A little headroom over the payload limit for the message's own framing; the
    // validator enforces the exact payload limit.
    let max = state.config.max_message_bytes.saturating_add(64);
    let rooms = state.rooms.clone();
    Ok(upgrade
        .max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |socket| serve_socket(socket, rooms, id, settings)))
}

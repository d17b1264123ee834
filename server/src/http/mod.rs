//! The REST API under `/api` and the `/sync` WebSocket, one module per resource. Handlers stay thin: they check
//! input and access, call the database, and return JSON.

mod access;
mod account;

pub use account::TOKEN_DAYS;
mod audit;
mod client_address;
mod comments;
mod history;
mod limits;
pub mod openapi;
mod registrations;
mod schools;
mod sync;

use axum::Router;
use axum::routing::{delete, get, patch, post};

use crate::state::AppState;

/// The `/api` routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/sync/{id}", get(sync::sync))
        .route("/api/login", post(account::login))
        .route("/api/logout", post(account::logout))
        .route("/api/me", get(account::me))
        .route(
            "/api/tokens",
            post(account::create_token).get(account::list_tokens),
        )
        .route("/api/tokens/{id}", delete(account::revoke_token))
        .route("/api/config", get(account::config))
        .route("/api/schools", get(schools::list))
        .route("/api/schools/{number}/events", get(schools::events))
        .route(
            "/api/schools/{number}/registrations",
            get(schools::registrations).post(schools::create_registration),
        )
        .route(
            "/api/registrations/{id}",
            get(registrations::get).patch(registrations::patch),
        )
        .route("/api/registrations/{id}/content", get(registrations::content))
        .route("/api/registrations/{id}/authors", get(registrations::authors))
        .route("/api/openapi.json", get(openapi::serve))
        .route(
            "/api/registrations/{id}/comments",
            get(comments::list).post(comments::create),
        )
        .route("/api/registrations/{id}/comments/read", post(comments::mark_read))
        .route(
            "/api/registrations/{id}/comments/{thread}/replies",
            post(comments::reply),
        )
        .route(
            "/api/registrations/{id}/comments/{thread}/resolve",
            post(comments::resolve),
        )
        .route(
            "/api/registrations/{id}/comments/{thread}/reopen",
            post(comments::reopen),
        )
        .route(
            "/api/registrations/{id}/comments/{thread}/comments/{comment}",
            patch(comments::edit).delete(comments::delete),
        )
        .route("/api/registrations/{id}/people", get(comments::people))
        .route(
            "/api/registrations/{id}/snapshots",
            get(history::list).post(history::create),
        )
        .route("/api/registrations/{id}/snapshots/{sid}", get(history::get))
        .route(
            "/api/registrations/{id}/snapshots/{sid}/restore",
            post(history::restore),
        )
        .route("/api/registrations/{id}/diff", get(history::diff))
        .route("/api/notifications", get(comments::notifications))
        .route("/api/notifications/read", post(comments::notifications_read))
}

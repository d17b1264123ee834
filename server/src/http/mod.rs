//! The REST API under `/api` and the `/sync` WebSocket, one module per resource. Handlers stay thin: they check
//! input and access, call the database, and return JSON.

mod access;
mod account;
mod actions;
mod admin;
mod admin_audit;
mod admin_users;
mod agreements;

pub use account::TOKEN_DAYS;
mod audit;
mod body;
mod client_address;
mod comments;
mod export_jobs;
mod exports;
mod file_names;
mod files;
mod history;
pub mod limits;
mod meeting_close;
mod meetings;
mod names;
mod oidc;
pub mod openapi;
mod overview;
mod registrations;
mod reports;
mod schools;
mod search;
mod sync;
mod totp;

use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post};

pub use export_jobs::keep_purged as keep_exports_purged;
pub use file_names::keep_read as keep_documents_read;

use crate::config::ServeConfig;
use crate::error::AppError;
use crate::state::AppState;

/// Runs CPU-heavy work of a request (reading a document, rendering a PDF) on the blocking
/// pool, so that it does not stall the runtime's workers; its failure is a server defect.
async fn blocking<T: Send + 'static, E: std::fmt::Display + Send + 'static>(
    work: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, AppError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
        .map_err(|e| AppError::Internal(e.to_string()))
}

/// The `/api` routes and `/sync`. Ordinary calls get `--request-timeout-secs`, uploads of
/// documents `--upload-timeout-secs`, a WebSocket request `--ws-handshake-secs` until its
/// `101`; the school event streams get none, as they live as long as the page that reads
/// them (they end on shutdown).
pub fn routes(config: &ServeConfig) -> Router<AppState> {
    let request = Duration::from_secs(config.request_timeout_secs.max(1));
    let upload = Duration::from_secs(config.upload_timeout_secs.max(1));
    let handshake = Duration::from_secs(config.ws_handshake_secs.max(1));
    Router::new()
        .route(
            "/sync/{id}",
            get(sync::sync).layer(middleware::from_fn(move |r: Request, n: Next| {
                within(handshake, r, n)
            })),
        )
        .route("/api/schools/{number}/events", get(schools::events))
        .merge(
            ordinary().route_layer(middleware::from_fn(move |r: Request, n: Next| {
                let limit = if is_upload(&r) { upload } else { request };
                within(limit, r, n)
            })),
        )
}

/// Whether a request uploads a document (its body is the file): `POST …/files` or
/// `POST /api/files/{id}/versions`.
fn is_upload(request: &Request) -> bool {
    let path = request.uri().path();
    request.method() == axum::http::Method::POST && (path.ends_with("/files") || path.ends_with("/versions"))
}

/// Runs the rest of the request, or answers 503 when it takes longer than `limit`. The
/// handler's future is dropped then: database work rolls back, and a change already handed
/// to a room is carried out (and stored) all the same.
async fn within(limit: Duration, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => AppError::Timeout(limit.as_secs()).into_response(),
    }
}

/// The API calls that answer at once: everything but `/sync` and the event streams.
fn ordinary() -> Router<AppState> {
    Router::new()
        .route("/api/login", post(account::login))
        .route("/api/login/totp", post(totp::login_code))
        .route("/api/logout", post(account::logout))
        .route("/api/auth/oidc/start", get(oidc::start))
        .route("/api/auth/oidc/callback", get(oidc::callback))
        .route(
            "/api/auth/oidc/backchannel-logout",
            post(oidc::backchannel_logout),
        )
        .route("/api/me", get(account::me))
        .route(
            "/api/tokens",
            post(account::create_token).get(account::list_tokens),
        )
        .route("/api/tokens/{id}", delete(account::revoke_token))
        .route("/api/config", get(account::config))
        .route("/api/account/totp", get(totp::status))
        .route("/api/account/totp/setup", post(totp::setup))
        .route("/api/account/totp/confirm", post(totp::confirm))
        .route("/api/account/totp/disable", post(totp::disable))
        .route("/api/schools", get(schools::list))
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
        .route("/api/registrations/{id}/since-visit", get(history::since_visit))
        .route(
            "/api/registrations/{id}/export.pdf",
            get(exports::registration_pdf),
        )
        .route(
            "/api/registrations/{id}/export.docx",
            get(exports::registration_docx),
        )
        .route("/api/schools/{number}/export.pdf", get(exports::school_pdf))
        .route("/api/schools/{number}/overview.csv", get(exports::school_csv))
        .route("/api/schools/{number}/overview.xlsx", get(exports::school_xlsx))
        .route("/api/schools/{number}/export.docx", get(exports::school_docx))
        .route("/api/schools/{number}/exports", post(export_jobs::start))
        .route("/api/exports/{id}", get(export_jobs::progress))
        .route("/api/exports/{id}/file", get(export_jobs::file))
        .route("/api/schools/{number}/overview", get(overview::school))
        .route("/api/clb/overview", get(overview::clb))
        .route("/api/notifications", get(comments::notifications))
        .route("/api/notifications/read", post(comments::notifications_read))
        .route("/api/schools/{number}/table", get(meetings::table))
        .route(
            "/api/schools/{number}/meetings",
            get(meetings::list).post(meetings::create),
        )
        .route("/api/meetings/{id}", get(meetings::get).patch(meetings::patch))
        .route("/api/meetings/{id}/start", post(meeting_close::start))
        .route("/api/meetings/{id}/close", post(meeting_close::close))
        .route("/api/meetings/{id}/since-first", get(meeting_close::since_first))
        .route("/api/meetings/{id}/diff", get(meeting_close::diff))
        .route("/api/meetings/{id}/report", get(reports::report))
        .route("/api/meetings/{id}/report.pdf", get(reports::report_pdf))
        .route("/api/schools/{number}/actions", get(actions::list))
        .route("/api/admin/lsc-links", get(admin::list).post(admin::link))
        .route("/api/admin/lsc-links/{lsc}/{school}", delete(admin::unlink))
        .route("/api/admin/clb-links", post(admin::link_clb))
        .route("/api/admin/clb-links/{clb}/{school}", delete(admin::unlink_clb))
        .route(
            "/api/admin/institutions",
            get(admin::institutions).post(admin::create_institution),
        )
        .route(
            "/api/admin/users",
            get(admin_users::list).post(admin_users::create),
        )
        .route("/api/admin/users/{id}/roles", post(admin_users::grant))
        .route("/api/admin/users/{id}/roles/{role}", delete(admin_users::revoke))
        .route("/api/admin/users/{id}/disable", post(admin_users::disable))
        .route("/api/admin/users/{id}/enable", post(admin_users::enable))
        .route(
            "/api/admin/users/{id}/tokens",
            get(admin_users::tokens).post(admin_users::create_token),
        )
        .route(
            "/api/admin/users/{id}/tokens/{token}",
            delete(admin_users::revoke_token),
        )
        .route("/api/admin/audit", get(admin_audit::page))
        .route("/api/admin/audit.csv", get(admin_audit::csv))
        .route("/api/schools/{number}/agreements", get(agreements::list))
        .route("/api/agreements/{id}", get(agreements::get))
        .route("/api/documents/{id}/names", get(names::get))
        .route("/api/documents/{id}/names/dismiss", post(names::dismiss))
        .route("/api/schools/{number}/names", get(names::school))
        .route("/api/names/check", post(names::check))
        .route(
            "/api/schools/{number}/files",
            get(files::school_list).post(files::school_upload),
        )
        .route(
            "/api/registrations/{id}/files",
            get(files::registration_list).post(files::registration_upload),
        )
        .route("/api/files/{id}", get(files::get).delete(files::delete))
        .route("/api/files/{id}/restore", post(files::restore))
        .route(
            "/api/agreements/{id}/files",
            get(files::agreement_list).post(files::agreement_upload),
        )
        .route(
            "/api/agreements/{id}/files/deleted",
            get(files::agreement_deleted),
        )
        .route("/api/schools/{number}/files/deleted", get(files::deleted))
        .route("/api/files/{id}/versions", post(files::add_version))
        .route("/api/files/{id}/content", get(files::content))
        .route("/api/files/{id}/names", get(file_names::get))
        .route("/api/search", get(search::search))
        .route(
            "/api/registrations/{id}/earlier-advice",
            get(search::earlier_advice),
        )
        .route("/api/files/{id}/names/dismiss", post(file_names::dismiss))
}

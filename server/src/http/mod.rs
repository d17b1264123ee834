//! The REST API under `/api`, one module per resource. Handlers stay thin: they check
//! input and access, call the database, and return JSON.

mod account;
mod comments;
mod history;
pub mod openapi;
mod registrations;
mod schools;

use axum::Router;
use axum::routing::{delete, get, patch, post};

use crate::app::AppState;
use crate::db::{Registration, SchoolAccess};
use crate::error::AppError;
use crate::ids::{RegistrationId, UserId};

/// The `/api` routes.
pub fn routes() -> Router<AppState> {
    Router::new()
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

/// A per-user rate limit on writes: `burst` at once, then one every `period_secs`.
pub(crate) struct PerUser {
    limiter: governor::DefaultKeyedRateLimiter<String>,
    period_secs: u64,
}

impl PerUser {
    /// A limit of `burst` writes at once, refilled one per `period_secs` (both at least 1).
    pub(crate) fn new(burst: u32, period_secs: u64) -> Self {
        let period = std::time::Duration::from_secs(period_secs.max(1));
        let quota =
            governor::Quota::with_period(period).unwrap_or_else(|| governor::Quota::per_second(nonzero(1)));
        PerUser {
            limiter: governor::RateLimiter::keyed(quota.allow_burst(nonzero(burst))),
            period_secs: period_secs.max(1),
        }
    }

    /// Counts one write of `user`; 429 with the wait when over the limit.
    pub(crate) fn check(&self, user: &UserId) -> Result<(), AppError> {
        self.limiter
            .check_key(&user.to_string())
            .map_err(|_| AppError::TooManyRequests(self.period_secs))
    }
}

fn nonzero(n: u32) -> std::num::NonZeroU32 {
    std::num::NonZeroU32::new(n).unwrap_or(std::num::NonZeroU32::MIN)
}

/// A registration and the caller's access to it; 404 when it does not exist or the caller
/// has no link with its school, so that existence never leaks.
pub async fn registration_for(
    state: &AppState,
    user: &UserId,
    id: &str,
) -> Result<(Registration, SchoolAccess), AppError> {
    let id: RegistrationId = id.parse().map_err(|_| AppError::NotFound)?;
    let registration = state.db.registration(id).await?.ok_or(AppError::NotFound)?;
    let access = state
        .db
        .school_access(user, registration.school_id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok((registration, access))
}

//! Which registration a request is about, and the caller's access to it: the one place
//! that turns "no such thing" and "not yours" into the same 404.

use serde::Deserialize;
use utoipa::IntoParams;

use crate::access::SchoolAccess;
use crate::db::Registration;
use crate::error::AppError;
use crate::ids::{RegistrationId, UserId};
use crate::state::AppState;

/// A registration and the caller's access to it; 404 when it does not exist or the caller
/// has no link with its school, so that existence never leaks.
pub async fn registration_for(
    state: &AppState,
    user: &UserId,
    id: &str,
) -> Result<(Registration, SchoolAccess), AppError> {
    let id: RegistrationId = found(id)?;
    let registration = state.db.registration(id).await?.ok_or(AppError::NotFound)?;
    let access = state
        .db
        .school_access(user, registration.school_id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok((registration, access))
}

/// An id from a path; one that does not parse names nothing, so it is not found (404),
/// like an id that parses but names nothing the caller may see.
pub fn found<T: std::str::FromStr>(id: &str) -> Result<T, AppError> {
    id.parse().map_err(|_| AppError::NotFound)
}

/// A registration named in a path (`/api/registrations/{id}/...`).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct RegistrationPath {
    /// The registration's id.
    #[param(format = "uuid")]
    pub id: String,
}

/// A comment thread of a registration, named in a path.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ThreadPath {
    /// The registration's id.
    #[param(format = "uuid")]
    pub id: String,
    /// The thread's id.
    #[param(format = "uuid")]
    pub thread: String,
}

/// One comment of a thread, named in a path.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct CommentPath {
    /// The registration's id.
    #[param(format = "uuid")]
    pub id: String,
    /// The thread's id.
    #[param(format = "uuid")]
    pub thread: String,
    /// The comment's id.
    #[param(format = "uuid")]
    pub comment: String,
}

/// A version of a registration, named in a path.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct SnapshotPath {
    /// The registration's id.
    #[param(format = "uuid")]
    pub id: String,
    /// The version's id.
    #[param(format = "uuid")]
    pub sid: String,
}

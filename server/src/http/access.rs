//! Which registration a request is about, and the caller's access to it: the one place
//! that turns "no such thing" and "not yours" into the same 404.

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

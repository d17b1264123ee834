//! Which registration a request is about, and the caller's access to it: the one place
//! that turns "no such thing" and "not yours" into the same 404.

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use serde::Deserialize;
use utoipa::IntoParams;

use super::audit::audit_not_found;
use crate::access::SchoolAccess;
use crate::auth::Authenticated;
use crate::db::{Institution, Registration};
use crate::error::AppError;
use crate::ids::RegistrationId;
use crate::state::AppState;

/// A registration and the caller's access to it; 404 when it does not exist or the caller
/// has no link with its school, so that existence never leaks. Every such 404 is audited
/// (`registration.read`, `denied`, once per hour and id), the same for both.
pub async fn registration_for(
    state: &AppState,
    auth: &Authenticated,
    id: &str,
) -> Result<(Registration, SchoolAccess), AppError> {
    let Ok(id) = id.parse::<RegistrationId>() else {
        audit_not_found(&state.db, &auth.user.id, "registration.read", None).await?;
        return Err(AppError::NotFound);
    };
    match reachable(state, auth, id).await? {
        Some(found) => Ok(found),
        None => {
            audit_not_found(
                &state.db,
                &auth.user.id,
                "registration.read",
                Some(id.to_string()),
            )
            .await?;
            Err(AppError::NotFound)
        }
    }
}

/// The registration and the caller's access, if it exists and the caller may reach it.
pub(super) async fn reachable(
    state: &AppState,
    auth: &Authenticated,
    id: RegistrationId,
) -> Result<Option<(Registration, SchoolAccess)>, AppError> {
    let Some(registration) = state
        .db
        .registration(id)
        .await?
        .filter(|r| auth.reaches(r.school_id))
    else {
        return Ok(None);
    };
    let access = state
        .db
        .school_access(&auth.user.id, registration.school_id)
        .await?;
    Ok(access.map(|access| (registration, access)))
}

/// The caller and the registration a route names (`{id}`), with the caller's access to
/// it: what nearly every `/api/registrations/{id}/...` handler starts from. Without a
/// login 401 (and 403 for a session from another site), then 404 when the registration
/// does not exist or the caller has no link with its school.
pub struct OnRegistration {
    /// Who calls.
    pub auth: Authenticated,
    /// The registration.
    pub registration: Registration,
    /// What the caller may do with it.
    pub access: SchoolAccess,
}

impl FromRequestParts<AppState> for OnRegistration {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let auth = Authenticated::from_request_parts(parts, state).await?;
        // The longer paths' other parameters are left to their own extractor.
        let Path(RegistrationPath { id }) = Path::<RegistrationPath>::from_request_parts(parts, state)
            .await
            .map_err(|_| AppError::NotFound)?;
        let (registration, access) = registration_for(state, &auth, &id).await?;
        Ok(OnRegistration {
            auth,
            registration,
            access,
        })
    }
}

/// The school with institution number `number`, if there is one and the caller's
/// credential reaches it (whether the caller has a link with it is each route's rule).
pub async fn school_named(
    state: &AppState,
    auth: &Authenticated,
    number: &str,
) -> Result<Option<Institution>, AppError> {
    Ok(state
        .db
        .institution(number)
        .await?
        .filter(|i| i.kind == "school" && auth.reaches(i.id)))
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

/// A comment thread named in a path, after its registration ([`RegistrationPath`]).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ThreadPath {
    /// The thread's id.
    #[param(format = "uuid")]
    pub thread: String,
}

/// One comment named in a path, after its registration ([`RegistrationPath`]).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct CommentPath {
    /// The thread's id.
    #[param(format = "uuid")]
    pub thread: String,
    /// The comment's id.
    #[param(format = "uuid")]
    pub comment: String,
}

/// A version named in a path, after its registration ([`RegistrationPath`]).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct SnapshotPath {
    /// The version's id.
    #[param(format = "uuid")]
    pub sid: String,
}

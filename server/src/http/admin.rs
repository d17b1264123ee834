//! Platform administration over the API: which learning-support centre serves which school
//! (what `samen admin link-school --lsc` does on the command line). Only a platform
//! administrator may, with a credential that is not limited to one school; anyone else who
//! is logged in gets 403.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::audit::audit;
use super::body::JsonObject;
use crate::auth::Authenticated;
use crate::db::Institution;
use crate::error::{AppError, ErrorBody, Forbidden, NotFound, Unauthenticated};
use crate::state::AppState;

/// Refuses everyone but a platform administrator with an unlimited credential.
async fn admin_only(state: &AppState, auth: &Authenticated) -> Result<(), AppError> {
    if auth.limits.school.is_none() && state.db.is_platform_admin(&auth.user.id).await? {
        return Ok(());
    }
    Err(AppError::Forbidden(
        "Only a platform administrator manages which centres serve which schools.".into(),
    ))
}

/// A learning-support centre and a school it serves.
#[derive(Debug, Serialize, ToSchema)]
pub struct LscLink {
    /// The learning-support centre.
    pub lsc: Institution,
    /// The school.
    pub school: Institution,
}

/// Every link of a learning-support centre to a school.
#[derive(Debug, Serialize, ToSchema)]
pub struct LscLinks {
    /// By LSC number, then school number.
    pub links: Vec<LscLink>,
}

/// Which learning-support centre serves which school.
#[utoipa::path(
    get,
    path = "/api/admin/lsc-links",
    tag = "admin",
    responses(
        (status = 200, description = "The links.", body = LscLinks),
        Unauthenticated,
        Forbidden,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn list(State(state): State<AppState>, auth: Authenticated) -> Result<Json<LscLinks>, AppError> {
    admin_only(&state, &auth).await?;
    let links = state.db.lsc_links().await?;
    Ok(Json(LscLinks {
        links: links
            .into_iter()
            .map(|(lsc, school)| LscLink { lsc, school })
            .collect(),
    }))
}

/// `POST /api/admin/lsc-links` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewLscLink {
    /// The learning-support centre's institution number.
    #[schema(min_length = 1, max_length = 32)]
    lsc: String,
    /// The school's institution number.
    #[schema(min_length = 1, max_length = 32)]
    school: String,
}

/// The LSC and the school with these numbers; 400 when either is not what it should be.
async fn pair(state: &AppState, lsc: &str, school: &str) -> Result<(Institution, Institution), AppError> {
    let (Some(lsc), Some(school)) = (
        state.db.institution(lsc).await?,
        state.db.institution(school).await?,
    ) else {
        return Err(AppError::BadRequest(
            "both institutions must exist: create them first (samen admin create-institution)".into(),
        ));
    };
    if lsc.kind != "lsc" || school.kind != "school" {
        return Err(AppError::BadRequest(
            "lsc must name a learning-support centre and school a school".into(),
        ));
    }
    Ok((lsc, school))
}

/// Records that a learning-support centre serves a school: its staff take part in the
/// school's meetings and keep school–LSC agreements with it. 201 when new, 200 when it was
/// so already.
#[utoipa::path(
    post,
    path = "/api/admin/lsc-links",
    tag = "admin",
    request_body = NewLscLink,
    responses(
        (status = 201, description = "The link, new.", body = LscLink),
        (status = 200, description = "The link, which was there already.", body = LscLink),
        (status = 400, description = "Bad JSON, or numbers that are not an LSC and a school (`bad_request`).",
            body = ErrorBody),
        Unauthenticated,
        Forbidden,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn link(
    State(state): State<AppState>,
    auth: Authenticated,
    body: Result<JsonObject<NewLscLink>, AppError>,
) -> Result<impl IntoResponse, AppError> {
    admin_only(&state, &auth).await?;
    let JsonObject(body) = body?;
    let (lsc, school) = pair(&state, &body.lsc, &body.school).await?;
    let new = state.db.link_lsc(lsc.id, school.id).await?;
    if new {
        audit(
            &state,
            Some(auth.user.id.to_string()),
            "institution.link",
            Some(format!("{}->{}", lsc.number, school.number)),
            "ok",
        )
        .await?;
    }
    let status = if new { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(LscLink { lsc, school })))
}

/// Records that a learning-support centre no longer serves a school. Its staff lose the
/// school's meetings and agreements at once (open documents are closed within the access
/// watch's round); the documents stay.
#[utoipa::path(
    delete,
    path = "/api/admin/lsc-links/{lsc}/{school}",
    tag = "admin",
    params(
        ("lsc" = String, Path, description = "The learning-support centre's institution number."),
        ("school" = String, Path, description = "The school's institution number."),
    ),
    responses(
        (status = 204, description = "The link is gone."),
        Unauthenticated,
        Forbidden,
        NotFound,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn unlink(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((lsc, school)): Path<(String, String)>,
) -> Result<StatusCode, AppError> {
    admin_only(&state, &auth).await?;
    let (Some(lsc), Some(school)) = (
        state.db.institution(&lsc).await?,
        state.db.institution(&school).await?,
    ) else {
        return Err(AppError::NotFound);
    };
    if !state.db.unlink_lsc(lsc.id, school.id).await? {
        return Err(AppError::NotFound);
    }
    audit(
        &state,
        Some(auth.user.id.to_string()),
        "institution.unlink",
        Some(format!("{}->{}", lsc.number, school.number)),
        "ok",
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

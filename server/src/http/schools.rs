//! Schools the caller may see, and their registrations.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::{Value, json};

use super::account::audit;
use crate::app::AppState;
use crate::auth::Authenticated;
use crate::db::{Institution, NewRegistration, RegistrationFilter, SchoolAccess};
use crate::domain;
use crate::error::AppError;

/// Every school the caller may see, with their access (`clb` or `school`).
pub async fn list(State(state): State<AppState>, auth: Authenticated) -> Result<Json<Value>, AppError> {
    let schools: Vec<Value> = state
        .db
        .visible_schools(&auth.user.id)
        .await?
        .into_iter()
        .map(|(school, access)| json!({ "number": school.number, "name": school.name, "access": access }))
        .collect();
    Ok(Json(json!({ "schools": schools })))
}

/// The school with this number and the caller's access; 404 without a link to it.
async fn school_for(
    state: &AppState,
    auth: &Authenticated,
    number: &str,
) -> Result<(Institution, SchoolAccess), AppError> {
    let school = state
        .db
        .institution(number)
        .await?
        .filter(|i| i.kind == "school")
        .ok_or(AppError::NotFound)?;
    let access = state
        .db
        .school_access(&auth.user.id, school.id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok((school, access))
}

/// A school's registrations, filtered by `kind`, `status`, `school_year`, `theme`.
pub async fn registrations(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(number): Path<String>,
    Query(filter): Query<RegistrationFilter>,
) -> Result<Json<Value>, AppError> {
    let (school, _) = school_for(&state, &auth, &number).await?;
    let check = |v: &Option<String>, f: fn(&str) -> Result<String, String>| -> Result<(), AppError> {
        v.as_deref()
            .map(f)
            .transpose()
            .map(|_| ())
            .map_err(AppError::BadRequest)
    };
    check(&filter.kind, domain::kind)?;
    check(&filter.status, domain::status)?;
    check(&filter.school_year, domain::school_year)?;
    check(&filter.theme, domain::theme)?;
    let registrations = state.db.registrations(school.id, &filter).await?;
    Ok(Json(json!({ "school": school, "registrations": registrations })))
}

/// `POST /api/schools/{number}/registrations` body.
#[derive(Debug, Deserialize)]
pub struct CreateRegistration {
    kind: String,
    title: String,
    #[serde(default)]
    theme: Option<String>,
    #[serde(default)]
    school_year: Option<String>,
}

/// Starts a registration. Only CLB staff of a CLB serving the school may.
pub async fn create_registration(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(number): Path<String>,
    body: Result<Json<CreateRegistration>, axum::extract::rejection::JsonRejection>,
) -> Result<impl IntoResponse, AppError> {
    let (school, access) = school_for(&state, &auth, &number).await?;
    if access != SchoolAccess::Clb {
        audit(
            &state,
            Some(auth.user.id.to_string()),
            "registration.create",
            Some(number),
            "denied",
        )
        .await;
        return Err(AppError::Forbidden("Only CLB staff start registrations.".into()));
    }
    let Json(body) = body?;
    let new = NewRegistration {
        kind: domain::kind(&body.kind).map_err(AppError::BadRequest)?,
        title: domain::title(&body.title).map_err(AppError::BadRequest)?,
        theme: body
            .theme
            .as_deref()
            .filter(|t| !t.is_empty())
            .map(domain::theme)
            .transpose()
            .map_err(AppError::BadRequest)?,
        school_year: match body.school_year.as_deref() {
            Some(y) => domain::school_year(y).map_err(AppError::BadRequest)?,
            None => domain::current_school_year(),
        },
        school_id: school.id,
        owner: auth.user.id.clone(),
    };
    let registration = state.db.create_registration(new).await?;
    audit(
        &state,
        Some(auth.user.id.to_string()),
        "registration.create",
        Some(registration.id.to_string()),
        "ok",
    )
    .await;
    Ok((StatusCode::CREATED, Json(registration)))
}

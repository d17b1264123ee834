//! The collaboration agreements (samenwerkingsafspraken) of a school and the LSCs that
//! serve it. Only the school's members and each LSC's staff (for their own LSC) reach
//! them; for everyone else, a CLB's staff included, they do not exist (404).

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::access::{found, school_named};
use super::audit::{audit_not_found, audit_read, school_not_found};
use crate::auth::Authenticated;
use crate::db::{Agreement, Institution};
use crate::error::{AppError, NotFound, Unauthenticated};
use crate::ids::AgreementId;
use crate::state::AppState;

/// A school's agreements with the LSCs the caller may see them of.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgreementList {
    /// The school.
    pub school: Institution,
    /// One per LSC: all that serve the school for its members, their own for an LSC's
    /// staff.
    pub agreements: Vec<Agreement>,
}

/// Agreements named in a path (`/api/agreements/{id}`).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct AgreementPath {
    /// The agreements' id.
    #[param(format = "uuid")]
    pub id: String,
}

/// A school's agreements with its LSCs, each made the first time anyone asks.
#[utoipa::path(
    get,
    path = "/api/schools/{number}/agreements",
    tag = "meetings",
    params(("number" = String, Path, description = "The school's institution number.")),
    responses(
        (status = 200, description = "The school and its agreements with the LSCs the caller may see.",
            body = AgreementList),
        Unauthenticated,
        NotFound,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn list(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(number): Path<String>,
) -> Result<Json<AgreementList>, AppError> {
    let school = school_named(&state, &auth, &number).await?;
    let party = match &school {
        Some(school) => state.db.agreement_party(&auth.user.id, school.id).await?,
        None => false,
    };
    let (Some(school), true) = (school, party) else {
        school_not_found(&state.db, &auth.user.id, &number).await?;
        return Err(AppError::NotFound);
    };
    audit_read(
        &state.db,
        &auth.user.id,
        "agreements.list",
        school.number.clone(),
        None,
    )
    .await?;
    let mut agreements = Vec::new();
    for lsc in state.db.agreement_lscs(&auth.user.id, school.id).await? {
        agreements.push(state.db.agreement_of(&school, &lsc, &auth.user.id).await?);
    }
    Ok(Json(AgreementList { school, agreements }))
}

/// A school and an LSC's agreements.
#[utoipa::path(
    get,
    path = "/api/agreements/{id}",
    tag = "meetings",
    params(AgreementPath),
    responses(
        (status = 200, description = "The agreements.", body = Agreement),
        Unauthenticated,
        NotFound,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn get(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(AgreementPath { id }): Path<AgreementPath>,
) -> Result<Json<Agreement>, AppError> {
    let id: Option<AgreementId> = found(&id).ok();
    if let Some(id) = id
        && let Some(agreement) = reachable(&state, &auth, id).await?
    {
        audit_read(
            &state.db,
            &auth.user.id,
            "agreements.read",
            agreement.id.to_string(),
            None,
        )
        .await?;
        return Ok(Json(agreement));
    }
    audit_not_found(
        &state.db,
        &auth.user.id,
        "agreements.read",
        id.map(|id| id.to_string()),
    )
    .await?;
    Err(AppError::NotFound)
}

/// The agreements with this id, if the caller is their school's member or their LSC's
/// staff.
pub(super) async fn reachable(
    state: &AppState,
    auth: &Authenticated,
    id: AgreementId,
) -> Result<Option<Agreement>, AppError> {
    let Some(agreement) = state
        .db
        .agreement(id)
        .await?
        .filter(|a| auth.reaches(a.school.id))
    else {
        return Ok(None);
    };
    let visible = state
        .db
        .agreement_lscs(&auth.user.id, agreement.school.id)
        .await?;
    Ok(visible
        .iter()
        .any(|l| l.id == agreement.lsc.id)
        .then_some(agreement))
}

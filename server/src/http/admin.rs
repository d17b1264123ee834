//! Platform administration over the API: institutions, and which CLB and which
//! learning-support centre serves which school (what `samen admin create-institution` and
//! `link-school` do on the command line). Users, roles and tokens are in `admin_users`, the
//! audit log in `admin_audit`. Only a platform administrator may, with a credential that is
//! not limited to one school; anyone else who is logged in gets 403.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::audit::audit;
use super::body::JsonObject;
use crate::auth::Authenticated;
use crate::db::{Institution, InstitutionLinks};
use crate::error::{AppError, ErrorBody, Forbidden, NotFound, Unauthenticated};
use crate::ids::{InstitutionId, UserId};
use crate::state::AppState;

/// What an administrator looks after: the whole platform, or (`clb_admin`) their CLBs and
/// the schools those serve.
#[derive(Debug, Clone)]
pub(super) enum Scope {
    /// A platform administrator: everything.
    Platform,
    /// A CLB's own administrator.
    Clbs {
        /// Their user id (the database narrows lists by it).
        admin: UserId,
        /// The CLBs they administer.
        clbs: Vec<Institution>,
        /// The schools those CLBs serve.
        schools: Vec<InstitutionId>,
    },
}

impl Scope {
    /// Refuses a CLB administrator what only the platform's may do.
    pub(super) fn platform_only(&self, what: &str) -> Result<(), AppError> {
        match self {
            Scope::Platform => Ok(()),
            Scope::Clbs { .. } => Err(AppError::Forbidden(format!(
                "Only a platform administrator {what}; a CLB administrator looks after their CLB's schools."
            ))),
        }
    }

    /// Whether the institution with database id `id` is one this administrator looks after.
    pub(super) fn covers(&self, id: InstitutionId) -> bool {
        match self {
            Scope::Platform => true,
            Scope::Clbs { clbs, schools, .. } => clbs.iter().any(|c| c.id == id) || schools.contains(&id),
        }
    }

    /// The CLB administrator the database narrows lists to (`None`: everything).
    pub(super) fn within(&self) -> Option<&UserId> {
        match self {
            Scope::Platform => None,
            Scope::Clbs { admin, .. } => Some(admin),
        }
    }
}

/// What the caller administers; 403 for anyone who administers nothing, and for a credential
/// limited to one school.
pub(super) async fn admin_scope(state: &AppState, auth: &Authenticated) -> Result<Scope, AppError> {
    let refused = || {
        AppError::Forbidden(
            "Only an administrator (of the platform, or of a CLB) manages institutions, users, roles \
             and the audit log."
                .into(),
        )
    };
    if auth.limits.school.is_some() {
        return Err(refused());
    }
    if state.db.is_platform_admin(&auth.user.id).await? {
        return Ok(Scope::Platform);
    }
    let clbs = state.db.administered_clbs(&auth.user.id).await?;
    if clbs.is_empty() {
        return Err(refused());
    }
    let schools = state.db.administered_schools(&auth.user.id).await?;
    Ok(Scope::Clbs {
        admin: auth.user.id.clone(),
        clbs,
        schools,
    })
}

/// Refuses everyone but a platform administrator with an unlimited credential.
pub(super) async fn admin_only(state: &AppState, auth: &Authenticated, what: &str) -> Result<(), AppError> {
    admin_scope(state, auth).await?.platform_only(what)
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
    admin_only(&state, &auth, "lists every LSC link").await?;
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

/// The partner (a CLB or an LSC, as `kind` says) and the school with these numbers; 400
/// when either is not what it should be.
async fn pair(
    state: &AppState,
    kind: &str,
    partner: &str,
    school: &str,
) -> Result<(Institution, Institution), AppError> {
    let (Some(partner), Some(school)) = (
        state.db.institution(partner).await?,
        state.db.institution(school).await?,
    ) else {
        return Err(AppError::BadRequest(
            "both institutions must exist: add them first (Beheer, Instellingen)".into(),
        ));
    };
    if partner.kind != kind || school.kind != "school" {
        return Err(AppError::BadRequest(format!(
            "{kind} must name {} and school a school",
            if kind == "clb" {
                "a CLB"
            } else {
                "a learning-support centre"
            }
        )));
    }
    Ok((partner, school))
}

/// Links a partner to a school; whether the link is new (audited then).
async fn link_partner(
    state: &AppState,
    auth: &Authenticated,
    kind: &str,
    partner: &str,
    school: &str,
) -> Result<(StatusCode, Institution, Institution), AppError> {
    let scope = admin_scope(state, auth).await?;
    if kind == "clb" {
        // Linking a CLB to a school opens the school's registrations to the CLB's staff.
        scope.platform_only("links a CLB to a school")?;
    }
    let (partner, school) = pair(state, kind, partner, school).await?;
    if !scope.covers(school.id) {
        return Err(AppError::Forbidden(format!(
            "school {} is not one of your CLB's schools",
            school.number
        )));
    }
    let new = if kind == "clb" {
        state.db.link_school(partner.id, school.id).await?
    } else {
        state.db.link_lsc(partner.id, school.id).await?
    };
    if new {
        let target = format!("{}->{}", partner.number, school.number);
        audit(
            state,
            Some(auth.user.id.to_string()),
            "institution.link",
            Some(target),
            "ok",
        )
        .await?;
    }
    let status = if new { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, partner, school))
}

/// Unlinks a partner from a school; 404 when there was no such link.
async fn unlink_partner(
    state: &AppState,
    auth: &Authenticated,
    kind: &str,
    partner: &str,
    school: &str,
) -> Result<StatusCode, AppError> {
    let scope = admin_scope(state, auth).await?;
    if kind == "clb" {
        scope.platform_only("unlinks a CLB from a school")?;
    }
    let (Some(partner), Some(school)) = (
        state.db.institution(partner).await?,
        state.db.institution(school).await?,
    ) else {
        return Err(AppError::NotFound);
    };
    if !scope.covers(school.id) {
        return Err(AppError::NotFound);
    }
    let gone = match (kind, partner.kind.as_str()) {
        ("clb", "clb") => state.db.unlink_school(partner.id, school.id).await?,
        ("lsc", "lsc") => state.db.unlink_lsc(partner.id, school.id).await?,
        _ => false,
    };
    if !gone {
        return Err(AppError::NotFound);
    }
    // Staff of the partner lose what they had open of the school within the watch's round.
    state.watch.recheck_soon();
    let target = format!("{}->{}", partner.number, school.number);
    audit(
        state,
        Some(auth.user.id.to_string()),
        "institution.unlink",
        Some(target),
        "ok",
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
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
    let JsonObject(body) = body?;
    let (status, lsc, school) = link_partner(&state, &auth, "lsc", &body.lsc, &body.school).await?;
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
    unlink_partner(&state, &auth, "lsc", &lsc, &school).await
}

/// A CLB and a school it serves.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClbLink {
    /// The CLB.
    pub clb: Institution,
    /// The school.
    pub school: Institution,
}

/// `POST /api/admin/clb-links` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewClbLink {
    /// The CLB's institution number.
    #[schema(min_length = 1, max_length = 32)]
    clb: String,
    /// The school's institution number.
    #[schema(min_length = 1, max_length = 32)]
    school: String,
}

/// Records that a CLB serves a school: its staff see and write the school's registrations.
/// 201 when new, 200 when it was so already.
#[utoipa::path(
    post,
    path = "/api/admin/clb-links",
    tag = "admin",
    request_body = NewClbLink,
    responses(
        (status = 201, description = "The link, new.", body = ClbLink),
        (status = 200, description = "The link, which was there already.", body = ClbLink),
        (status = 400, description = "Bad JSON, or numbers that are not a CLB and a school (`bad_request`).",
            body = ErrorBody),
        Unauthenticated,
        Forbidden,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn link_clb(
    State(state): State<AppState>,
    auth: Authenticated,
    body: Result<JsonObject<NewClbLink>, AppError>,
) -> Result<impl IntoResponse, AppError> {
    let JsonObject(body) = body?;
    let (status, clb, school) = link_partner(&state, &auth, "clb", &body.clb, &body.school).await?;
    Ok((status, Json(ClbLink { clb, school })))
}

/// Records that a CLB no longer serves a school. Its staff lose the school's registrations
/// at once (open documents close within the access watch's round); the registrations stay.
#[utoipa::path(
    delete,
    path = "/api/admin/clb-links/{clb}/{school}",
    tag = "admin",
    params(
        ("clb" = String, Path, description = "The CLB's institution number."),
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
pub async fn unlink_clb(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((clb, school)): Path<(String, String)>,
) -> Result<StatusCode, AppError> {
    unlink_partner(&state, &auth, "clb", &clb, &school).await
}

/// Every institution.
#[derive(Debug, Serialize, ToSchema)]
pub struct Institutions {
    /// Whether the caller administers the platform (else a CLB: its schools, and every LSC).
    pub platform: bool,
    /// By kind, then number; a school with the CLBs and LSCs that serve it.
    pub institutions: Vec<InstitutionLinks>,
}

/// Every CLB, school and learning-support centre, with who serves each school.
#[utoipa::path(
    get,
    path = "/api/admin/institutions",
    tag = "admin",
    responses(
        (status = 200, description = "The institutions.", body = Institutions),
        Unauthenticated,
        Forbidden,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn institutions(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<Institutions>, AppError> {
    let scope = admin_scope(&state, &auth).await?;
    let mut institutions = state.db.institutions_with_links().await?;
    if let Scope::Clbs { clbs, .. } = &scope {
        // Their CLBs, those CLBs' schools, and every LSC (to link one to their schools).
        let ours = |number: &str| clbs.iter().any(|c| c.number == number);
        institutions.retain(|i| {
            i.kind == "lsc"
                || ours(&i.number)
                || (i.kind == "school" && i.served_by.iter().any(|p| ours(&p.number)))
        });
    }
    Ok(Json(Institutions {
        platform: matches!(scope, Scope::Platform),
        institutions,
    }))
}

/// `POST /api/admin/institutions` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewInstitution {
    /// `clb`, `school` or `lsc`.
    kind: String,
    /// The official institution number: letters and digits.
    #[schema(min_length = 1, max_length = 32)]
    number: String,
    /// Its name.
    #[schema(min_length = 1, max_length = 200)]
    name: String,
    /// For a school: the number of the CLB that serves it.
    #[serde(default)]
    served_by: Option<String>,
}

/// `POST /api/admin/institutions` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedInstitution {
    /// The new institution.
    pub institution: Institution,
}

/// Adds a CLB, a school or a learning-support centre; a school may name the CLB that
/// serves it.
#[utoipa::path(
    post,
    path = "/api/admin/institutions",
    tag = "admin",
    request_body = NewInstitution,
    responses(
        (status = 201, description = "The institution.", body = CreatedInstitution),
        (status = 400, description = "Bad JSON, an unknown kind, a number that is not 1 to 32 letters \
            and digits, a name that is not 1 to 200 characters, or `served_by` that is no CLB \
            (`bad_request`).", body = ErrorBody),
        (status = 409, description = "An institution with this number exists (`conflict`).", body = ErrorBody),
        Unauthenticated,
        Forbidden,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn create_institution(
    State(state): State<AppState>,
    auth: Authenticated,
    body: Result<JsonObject<NewInstitution>, AppError>,
) -> Result<impl IntoResponse, AppError> {
    let scope = admin_scope(&state, &auth).await?;
    let JsonObject(body) = body?;
    if body.kind != "school" {
        scope.platform_only("adds a CLB or an LSC")?;
    }
    if !["clb", "school", "lsc"].contains(&body.kind.as_str()) {
        return Err(AppError::BadRequest("kind must be clb, school or lsc".into()));
    }
    let number = body.number.trim();
    if number.is_empty() || number.len() > 32 || !number.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(AppError::BadRequest(
            "the institution number must be 1 to 32 letters and digits".into(),
        ));
    }
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(AppError::BadRequest(
            "the name must be 1 to 200 characters".into(),
        ));
    }
    let served_by = body.served_by.as_deref().map(str::trim).filter(|n| !n.is_empty());
    // A CLB administrator's new school is served by their CLB (the one CLB, or the one named).
    let served_by = match (&scope, served_by) {
        (Scope::Clbs { clbs, .. }, None) if clbs.len() == 1 => Some(clbs[0].number.as_str()),
        (Scope::Clbs { .. }, None) => {
            return Err(AppError::BadRequest(
                "served_by: name which of your CLBs serves the school".into(),
            ));
        }
        (Scope::Clbs { clbs, .. }, Some(number)) if !clbs.iter().any(|c| c.number == number) => {
            return Err(AppError::Forbidden(format!(
                "{number} is not a CLB you administer"
            )));
        }
        (_, served_by) => served_by,
    };
    let clb = match served_by {
        None => None,
        Some(_) if body.kind != "school" => {
            return Err(AppError::BadRequest("only a school is served by a CLB".into()));
        }
        Some(number) => match state.db.institution(number).await? {
            Some(clb) if clb.kind == "clb" => Some(clb),
            _ => return Err(AppError::BadRequest(format!("served_by {number:?} is no CLB"))),
        },
    };
    let created = state.db.create_institution(&body.kind, number, name).await?;
    if let Some(clb) = clb {
        state.db.link_school(clb.id, created.id).await?;
    }
    audit(
        &state,
        Some(auth.user.id.to_string()),
        "institution.create",
        Some(number.to_owned()),
        "ok",
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedInstitution { institution: created }),
    ))
}

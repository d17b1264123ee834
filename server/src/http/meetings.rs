//! Meetings (schoolbeeldoverleg): planning one, listing a school's, reading and changing
//! one's details. Who may: everyone at the school's table, its members, the staff of the
//! CLBs and of the LSCs that serve it (`db::meetings`); anyone else finds nothing (404).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use samen_crdt::meeting::Partner;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::access::{found, school_named};
use super::audit::{audit, audit_not_found, audit_read, school_not_found};
use super::body::JsonObject;
use crate::auth::Authenticated;
use crate::db::{Institution, Meeting, MeetingPatch, NewMeeting, SchoolPerson};
use crate::domain;
use crate::error::{AppError, ErrorBody, Forbidden, NotFound, Unauthenticated};
use crate::ids::{InstitutionId, MeetingId, UserId};
use crate::state::AppState;

/// The most participants who are users a meeting lists.
const MAX_PARTICIPANTS: usize = 50;

/// A partner as the API names it (`school`, `clb`, `lsc` with the LSC's number).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PartnerRole {
    /// `school`, `clb` or `lsc`.
    pub partner: &'static str,
    /// For an LSC, its institution number.
    #[schema(required = true)]
    pub lsc: Option<String>,
}

impl From<&Partner> for PartnerRole {
    fn from(partner: &Partner) -> Self {
        match partner {
            Partner::School => PartnerRole {
                partner: "school",
                lsc: None,
            },
            Partner::Clb => PartnerRole {
                partner: "clb",
                lsc: None,
            },
            Partner::Lsc(number) => PartnerRole {
                partner: "lsc",
                lsc: Some(number.clone()),
            },
        }
    }
}

/// Who sits at a school's table: what planning a meeting chooses from.
#[derive(Debug, Serialize, ToSchema)]
pub struct SchoolTable {
    /// The school.
    pub school: Institution,
    /// The caller's roles at the table.
    pub you: Vec<PartnerRole>,
    /// The learning-support centres that serve the school.
    pub lscs: Vec<Institution>,
    /// Everyone at the table (someone with two roles there twice).
    pub people: Vec<SchoolPerson>,
}

/// A school's meetings.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeetingList {
    /// The school.
    pub school: Institution,
    /// Its meetings, the latest day first (their participants are left out).
    pub meetings: Vec<Meeting>,
    /// The ids of those whose text others changed since the caller last left them.
    #[schema(value_type = Vec<String>)]
    pub changed_since_visit: Vec<crate::ids::MeetingId>,
}

/// A meeting, with what the caller needs to take part.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeetingView {
    /// The meeting.
    pub meeting: Meeting,
    /// The caller's roles at the table.
    pub you: Vec<PartnerRole>,
    /// The learning-support centres that serve the school (one column of expectations
    /// each).
    pub lscs: Vec<Institution>,
    /// The meetings planned as its second moment.
    pub second_moments: Vec<Meeting>,
}

/// A meeting named in a path (`/api/meetings/{id}`).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct MeetingPath {
    /// The meeting's id.
    #[param(format = "uuid")]
    pub id: String,
}

/// A meeting as the caller sees it.
pub(super) async fn view(
    state: &AppState,
    meeting: Meeting,
    partners: &[Partner],
) -> Result<MeetingView, AppError> {
    Ok(MeetingView {
        you: partners.iter().map(PartnerRole::from).collect(),
        lscs: state.db.lscs_of(meeting.school_id).await?,
        second_moments: state.db.second_moments(meeting.id).await?,
        meeting,
    })
}

/// The school with this number and the caller's roles at its table; 404 (audited) when
/// there is no such school or the caller has no role there.
pub(super) async fn table_of(
    state: &AppState,
    auth: &Authenticated,
    number: &str,
) -> Result<(Institution, Vec<Partner>), AppError> {
    let school = school_named(state, auth, number).await?;
    if let Some(school) = school {
        let partners = state.db.partners_at(&auth.user.id, school.id).await?;
        if !partners.is_empty() {
            return Ok((school, partners));
        }
    }
    school_not_found(&state.db, &auth.user.id, number).await?;
    Err(AppError::NotFound)
}

/// The meeting with this id and the caller's roles at its school's table; 404 (audited)
/// when there is none or it is not the caller's.
pub(super) async fn meeting_for(
    state: &AppState,
    auth: &Authenticated,
    id: &str,
) -> Result<(Meeting, Vec<Partner>), AppError> {
    let id: Option<MeetingId> = found(id).ok();
    if let Some(id) = id
        && let Some(found) = reachable(state, auth, id).await?
    {
        return Ok(found);
    }
    audit_not_found(
        &state.db,
        &auth.user.id,
        "meeting.read",
        id.map(|id| id.to_string()),
    )
    .await?;
    Err(AppError::NotFound)
}

/// The meeting and the caller's roles at its school's table, if it exists and the caller
/// has a place there.
pub(super) async fn reachable(
    state: &AppState,
    auth: &Authenticated,
    id: MeetingId,
) -> Result<Option<(Meeting, Vec<Partner>)>, AppError> {
    let Some(meeting) = state.db.meeting(id).await?.filter(|m| auth.reaches(m.school_id)) else {
        return Ok(None);
    };
    let partners = state.db.partners_at(&auth.user.id, meeting.school_id).await?;
    Ok((!partners.is_empty()).then_some((meeting, partners)))
}

/// Who sits at a school's table: its members, CLB staff and LSC staff.
#[utoipa::path(
    get,
    path = "/api/schools/{number}/table",
    tag = "meetings",
    params(("number" = String, Path, description = "The school's institution number.")),
    responses(
        (status = 200, description = "The school's partners and their people.", body = SchoolTable),
        Unauthenticated,
        NotFound,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn table(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(number): Path<String>,
) -> Result<Json<SchoolTable>, AppError> {
    let (school, partners) = table_of(&state, &auth, &number).await?;
    audit_read(
        &state.db,
        &auth.user.id,
        "school.table",
        school.number.clone(),
        None,
    )
    .await?;
    Ok(Json(SchoolTable {
        you: partners.iter().map(PartnerRole::from).collect(),
        lscs: state.db.lscs_of(school.id).await?,
        people: state.db.school_table(school.id).await?,
        school,
    }))
}

/// A school's meetings.
#[utoipa::path(
    get,
    path = "/api/schools/{number}/meetings",
    tag = "meetings",
    params(("number" = String, Path, description = "The school's institution number.")),
    responses(
        (status = 200, description = "The school and its meetings.", body = MeetingList),
        Unauthenticated,
        NotFound,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn list(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(number): Path<String>,
) -> Result<Json<MeetingList>, AppError> {
    let (school, _) = table_of(&state, &auth, &number).await?;
    audit_read(
        &state.db,
        &auth.user.id,
        "meetings.list",
        school.number.clone(),
        None,
    )
    .await?;
    Ok(Json(MeetingList {
        meetings: state.db.meetings(school.id).await?,
        changed_since_visit: state
            .db
            .meetings_changed_since_visit(&auth.user.id, school.id)
            .await?,
        school,
    }))
}

/// `POST /api/schools/{number}/meetings` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateMeeting {
    /// Its title; "Schoolbeeldoverleg <school year>" when absent.
    #[serde(default)]
    #[schema(schema_with = domain::schema::title)]
    title: Option<String>,
    /// The day it is held.
    #[schema(schema_with = domain::schema::date)]
    held_on: String,
    /// Participants who are users: people at the school's table (`GET .../table`). The
    /// one who plans it takes part.
    #[serde(default)]
    #[schema(value_type = Vec<String>, max_items = 50)]
    participants: Vec<String>,
    /// Other participants, by role ("leerkracht 3de graad"), never by name.
    #[serde(default)]
    #[schema(value_type = Vec<String>, max_items = 30, inline)]
    guests: Vec<String>,
    /// The meeting of the same school whose agreements this one evaluates (a second
    /// moment).
    #[serde(default)]
    #[schema(value_type = Option<String>, format = "uuid")]
    follows: Option<String>,
}

/// Checks participants: each someone at the school's table, at most [`MAX_PARTICIPANTS`].
async fn checked_participants(
    state: &AppState,
    school: InstitutionId,
    ids: &[String],
    planner: Option<&UserId>,
) -> Result<Vec<UserId>, AppError> {
    let table = state.db.school_table(school).await?;
    let mut chosen: Vec<UserId> = Vec::new();
    for id in ids
        .iter()
        .map(|id| UserId::from(id.clone()))
        .chain(planner.cloned())
    {
        if !table.iter().any(|p| p.id == id) {
            return Err(AppError::BadRequest(
                "every participant must be someone of the school, its CLB or one of its \
                 learning-support centres (GET /api/schools/{number}/table lists them); add \
                 others as a guest, by their role"
                    .into(),
            ));
        }
        if !chosen.contains(&id) {
            chosen.push(id);
        }
    }
    if chosen.len() > MAX_PARTICIPANTS {
        return Err(AppError::BadRequest(format!(
            "a meeting lists at most {MAX_PARTICIPANTS} participants"
        )));
    }
    Ok(chosen)
}

/// Checks guests' roles: at most [`domain::MAX_GUESTS`], each one line.
fn checked_guests(roles: &[String]) -> Result<Vec<String>, AppError> {
    if roles.len() > domain::MAX_GUESTS {
        return Err(AppError::BadRequest(format!(
            "a meeting lists at most {} guests",
            domain::MAX_GUESTS
        )));
    }
    roles
        .iter()
        .map(|r| domain::role(r))
        .collect::<Result<_, _>>()
        .map_err(AppError::BadRequest)
}

/// Plans a meeting of the school. Anyone at its table may.
#[utoipa::path(
    post,
    path = "/api/schools/{number}/meetings",
    tag = "meetings",
    params(("number" = String, Path, description = "The school's institution number.")),
    request_body = CreateMeeting,
    responses(
        (status = 201, description = "The new meeting.", body = MeetingView),
        (status = 400, description = "Bad JSON or a value that is not allowed (`bad_request`).", body = ErrorBody),
        Unauthenticated,
        Forbidden,
        NotFound,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn create(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(number): Path<String>,
    body: Result<JsonObject<CreateMeeting>, AppError>,
) -> Result<impl IntoResponse, AppError> {
    let (school, partners) = table_of(&state, &auth, &number).await?;
    let JsonObject(body) = body?;
    let bad = AppError::BadRequest;
    let held_on = domain::date(&body.held_on).map_err(bad)?;
    let school_year = domain::school_year_of(held_on.year(), u8::from(held_on.month()));
    let title = match body.title.as_deref() {
        Some(title) => domain::title(title).map_err(bad)?,
        None => format!("Schoolbeeldoverleg {school_year}"),
    };
    let follows = match body.follows.as_deref() {
        None => None,
        Some(id) => {
            let first = found::<MeetingId>(id).ok();
            let first = match first {
                Some(id) => state.db.meeting(id).await?,
                None => None,
            };
            match first {
                Some(first) if first.school_id == school.id => Some(first.id),
                _ => {
                    return Err(AppError::BadRequest(
                        "follows must name a meeting of the same school".into(),
                    ));
                }
            }
        }
    };
    let new = NewMeeting {
        participants: checked_participants(&state, school.id, &body.participants, Some(&auth.user.id))
            .await?,
        guests: checked_guests(&body.guests)?,
        school_id: school.id,
        school_year,
        title,
        held_on: held_on.to_string(),
        follows,
        created_by: auth.user.id.clone(),
    };
    let meeting = state.db.create_meeting(new).await?;
    crate::search::index_meeting_title(&state.db, &meeting).await;
    audit(
        &state,
        Some(auth.user.id.to_string()),
        "meeting.create",
        Some(meeting.id.to_string()),
        "ok",
    )
    .await?;
    Ok((StatusCode::CREATED, Json(view(&state, meeting, &partners).await?)))
}

/// A meeting's details, its participants, and the caller's roles at the table.
#[utoipa::path(
    get,
    path = "/api/meetings/{id}",
    tag = "meetings",
    params(MeetingPath),
    responses(
        (status = 200, description = "The meeting.", body = MeetingView),
        Unauthenticated,
        NotFound,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn get(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(MeetingPath { id }): Path<MeetingPath>,
) -> Result<Json<MeetingView>, AppError> {
    let (meeting, partners) = meeting_for(&state, &auth, &id).await?;
    audit_read(
        &state.db,
        &auth.user.id,
        "meeting.read",
        meeting.id.to_string(),
        None,
    )
    .await?;
    Ok(Json(view(&state, meeting, &partners).await?))
}

/// `PATCH /api/meetings/{id}` body: any of these.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PatchMeeting {
    /// A new title.
    #[serde(default, with = "super::body::present")]
    #[schema(schema_with = domain::schema::title)]
    title: Option<String>,
    /// A new day (in the same school year).
    #[serde(default, with = "super::body::present")]
    #[schema(schema_with = domain::schema::date)]
    held_on: Option<String>,
    /// The participants who are users, all of them.
    #[serde(default, with = "super::body::present")]
    #[schema(value_type = Option<Vec<String>>, max_items = 50)]
    participants: Option<Vec<String>>,
    /// The other participants, all of them, by role.
    #[serde(default, with = "super::body::present")]
    #[schema(value_type = Option<Vec<String>>, max_items = 30)]
    guests: Option<Vec<String>>,
}

/// Changes a meeting's title, day or participants. Anyone at the school's table may,
/// until the meeting is closed.
#[utoipa::path(
    patch,
    path = "/api/meetings/{id}",
    tag = "meetings",
    params(MeetingPath),
    request_body = PatchMeeting,
    responses(
        (status = 200, description = "The changed meeting.", body = MeetingView),
        (status = 400, description = "Bad JSON or a value that is not allowed (`bad_request`).", body = ErrorBody),
        (status = 409, description = "The meeting is closed (`conflict`).", body = ErrorBody),
        Unauthenticated,
        Forbidden,
        NotFound,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn patch(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(MeetingPath { id }): Path<MeetingPath>,
    body: Result<JsonObject<PatchMeeting>, AppError>,
) -> Result<Json<MeetingView>, AppError> {
    let (meeting, partners) = meeting_for(&state, &auth, &id).await?;
    let JsonObject(body) = body?;
    if meeting.status == "closed" {
        return Err(AppError::Conflict(
            "This meeting is closed; plan a second moment to go on.".into(),
        ));
    }
    let bad = AppError::BadRequest;
    let held_on = match body.held_on.as_deref() {
        Some(day) => {
            let day = domain::date(day).map_err(bad)?;
            if domain::school_year_of(day.year(), u8::from(day.month())) != meeting.school_year {
                return Err(AppError::BadRequest(format!(
                    "the day must fall in school year {} (plan a new meeting for another year)",
                    meeting.school_year
                )));
            }
            Some(day.to_string())
        }
        None => None,
    };
    let participants = match &body.participants {
        Some(ids) => Some(checked_participants(&state, meeting.school_id, ids, None).await?),
        None => None,
    };
    let patch = MeetingPatch {
        title: body
            .title
            .as_deref()
            .map(domain::title)
            .transpose()
            .map_err(bad)?,
        held_on,
        participants,
        guests: body.guests.as_deref().map(checked_guests).transpose()?,
    };
    let updated = state.db.patch_meeting(meeting.id, &patch).await?;
    crate::search::index_meeting_title(&state.db, &updated).await;
    audit(
        &state,
        Some(auth.user.id.to_string()),
        "meeting.update",
        Some(meeting.id.to_string()),
        "ok",
    )
    .await?;
    Ok(Json(view(&state, updated, &partners).await?))
}

//! Holding a meeting: "Overleg starten" and "Overleg afsluiten", and what a second moment
//! looks back on.
//!
//! Starting records the moment; closing names a version of the meeting's document and of
//! every registration of the school that changed since that moment (compared with the
//! registration's newest version from before it), plans the second moment if a day is
//! given, and records which versions it named: the second moment's "since the first" shows
//! the diff from those versions until now.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use samen_crdt::meeting::{ActionItem, MeetingText, Partner};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::audit::{audit, audit_read};
use super::body::JsonObject;
use super::history::{DiffQuery, compare};
use super::limits::Write;
use super::meetings::{MeetingPath, MeetingView, meeting_for, view};
use crate::auth::Authenticated;
use crate::db::{Meeting, NewMeeting, Registration, RegistrationFilter, SnapshotMeta, StoredSnapshot, now};
use crate::domain;
use crate::error::{AppError, ErrorBody, Forbidden, NotFound, Unauthenticated};
use crate::history::{self, DiffResponse, Parts, Taking};
use crate::ids::{DocId, MeetingId, RegistrationId, SnapshotId};
use crate::state::AppState;

/// Whether the partners see the school's registrations (the school and its CLB do; an LSC
/// does not: DESIGN.md, "Who may do what").
pub(super) fn see_registrations(partners: &[Partner]) -> bool {
    partners
        .iter()
        .any(|p| matches!(p, Partner::School | Partner::Clb))
}

/// The registrations of the school of `meeting`, each with its document id.
async fn school_registrations(state: &AppState, meeting: &Meeting) -> Result<Vec<RegistrationId>, AppError> {
    Ok(state
        .db
        .registrations(meeting.school_id, &RegistrationFilter::default())
        .await?
        .into_iter()
        .map(|r| r.id)
        .collect())
}

/// Keeps a version of document `doc`, whose current state is `doc_state`.
async fn keep(
    state: &AppState,
    doc: DocId,
    doc_state: Vec<u8>,
    taking: Taking,
) -> Result<Option<SnapshotId>, AppError> {
    let kept = history::take(
        &state.db,
        state.rooms.store(),
        &state.events,
        doc,
        doc_state,
        taking,
    )
    .await?;
    Ok(kept.map(|meta| meta.id))
}

/// Of the versions a meeting named at its close (`Db::meeting_versions`), the registrations'
/// with their registration, by title.
pub(super) async fn discussed(
    state: &AppState,
    versions: &[(DocId, SnapshotId)],
) -> Result<Vec<(Registration, StoredSnapshot)>, AppError> {
    let mut found = Vec::new();
    for &(doc, snapshot) in versions {
        let Some(registration) = state.db.registration(doc.into()).await? else {
            continue;
        };
        if let Some(version) = state.db.snapshot(doc, snapshot).await? {
            found.push((registration, version));
        }
    }
    found.sort_by(|a, b| a.0.title.cmp(&b.0.title));
    Ok(found)
}

/// What meeting `id`'s document says now.
pub(super) async fn meeting_text(state: &AppState, id: MeetingId) -> Result<MeetingText, AppError> {
    let doc_state = state.rooms.document_state(id.into()).await?;
    super::blocking(move || {
        samen_crdt::text::doc_from_state(&doc_state).map(|doc| samen_crdt::meeting::read(&doc))
    })
    .await
}

/// Starts a meeting: from now on, what changes in the school's registrations counts as
/// changed during the meeting. Keeps an automatic version of every registration first (the
/// state they had before). Starting again changes nothing.
#[utoipa::path(
    post,
    path = "/api/meetings/{id}/start",
    tag = "meetings",
    params(MeetingPath),
    responses(
        (status = 200, description = "The meeting, started.", body = MeetingView),
        (status = 409, description = "The meeting is closed (`conflict`).", body = ErrorBody),
        Unauthenticated,
        Forbidden,
        NotFound,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn start(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(MeetingPath { id }): Path<MeetingPath>,
) -> Result<Json<MeetingView>, AppError> {
    let (meeting, partners) = meeting_for(&state, &auth, &id).await?;
    if meeting.status == "closed" {
        return Err(AppError::Conflict("This meeting is closed already.".into()));
    }
    if meeting.started_at.is_none() {
        for registration in school_registrations(&state, &meeting).await? {
            let doc = DocId::from(registration);
            let doc_state = state.rooms.document_state(doc).await?;
            keep(&state, doc, doc_state, Taking::auto()).await?;
        }
        if state.db.start_meeting(meeting.id, now()).await? {
            audit(
                &state,
                Some(auth.user.id.to_string()),
                "meeting.start",
                Some(meeting.id.to_string()),
                "ok",
            )
            .await?;
        }
    }
    let meeting = state.db.meeting(meeting.id).await?.ok_or(AppError::NotFound)?;
    Ok(Json(view(&state, meeting, &partners).await?))
}

/// `POST /api/meetings/{id}/close` body.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct CloseMeeting {
    /// The day of the second moment, if one is planned now: a meeting that follows this
    /// one, with the same participants.
    #[serde(default, with = "super::body::present")]
    #[schema(schema_with = domain::schema::date)]
    second_moment_on: Option<String>,
}

/// The longest version name the history takes (`http::history::MAX_NAME_CHARS`), less room
/// for the day.
const TITLE_IN_NAME: usize = 90;

fn shortened(title: &str, max: usize) -> String {
    if title.chars().count() <= max {
        return title.to_owned();
    }
    let mut cut: String = title.chars().take(max - 1).collect();
    cut.push('…');
    cut
}

/// Closes a meeting: names a version of its document and of every registration changed
/// since it started ("Na <titel> (<dag>)"), plans the second moment if a day is given, and
/// leads to the report. Anyone at the table may; a closed meeting stays readable and its
/// action items can still be ticked off.
#[utoipa::path(
    post,
    path = "/api/meetings/{id}/close",
    tag = "meetings",
    params(MeetingPath),
    request_body = CloseMeeting,
    responses(
        (status = 200, description = "The meeting, closed (and its second moment, if planned).", body = MeetingView),
        (status = 400, description = "Bad JSON or a day that is not allowed (`bad_request`).", body = ErrorBody),
        (status = 409, description = "The meeting is closed already (`conflict`).", body = ErrorBody),
        (status = 429, description = "Too many versions in a short time (`too_many_attempts`).", body = ErrorBody),
        Unauthenticated,
        Forbidden,
        NotFound,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn close(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(MeetingPath { id }): Path<MeetingPath>,
    body: Result<JsonObject<CloseMeeting>, AppError>,
) -> Result<Json<MeetingView>, AppError> {
    let (meeting, partners) = meeting_for(&state, &auth, &id).await?;
    let JsonObject(body) = body?;
    if meeting.status == "closed" {
        return Err(AppError::Conflict("This meeting is closed already.".into()));
    }
    // An empty day is no day: the schema says a date or nothing, and so does the answer.
    let second_on = match body.second_moment_on.as_deref() {
        None => None,
        Some(day) => {
            let day = domain::date(day).map_err(AppError::BadRequest)?;
            if day.to_string() <= meeting.held_on {
                return Err(AppError::BadRequest(format!(
                    "the second moment comes after the meeting: pick a day after {}",
                    meeting.held_on
                )));
            }
            Some(day)
        }
    };
    state.writes.check(Write::Version, &auth.user.id)?;

    let name = format!(
        "Na {} ({})",
        shortened(&meeting.title, TITLE_IN_NAME),
        domain::day_in_words(&meeting.held_on)
    );
    let mut versions: Vec<(DocId, SnapshotId)> = Vec::new();
    let since = meeting.started_at.unwrap_or_else(now);
    for registration in school_registrations(&state, &meeting).await? {
        let doc = DocId::from(registration);
        let before = state.db.snapshot_at(doc, since).await?.map(|s| s.snapshot);
        let doc_state = state.rooms.document_state(doc).await?;
        if !history::changed_since(doc_state.clone(), before).await? {
            continue;
        }
        let taking = Taking::named(name.clone(), auth.user.id.clone());
        if let Some(kept) = keep(&state, doc, doc_state, taking).await? {
            versions.push((doc, kept));
        }
    }
    let doc = DocId::from(meeting.id);
    let doc_state = state.rooms.document_state(doc).await?;
    if let Some(kept) = keep(&state, doc, doc_state, Taking::named(name, auth.user.id.clone())).await? {
        versions.push((doc, kept));
    }
    if !state
        .db
        .close_meeting(meeting.id, &auth.user.id, &versions)
        .await?
    {
        return Err(AppError::Conflict("This meeting was closed meanwhile.".into()));
    }
    audit(
        &state,
        Some(auth.user.id.to_string()),
        "meeting.close",
        Some(meeting.id.to_string()),
        "ok",
    )
    .await?;
    if let Some(day) = second_on {
        let second = NewMeeting {
            school_id: meeting.school_id,
            school_year: domain::school_year_of(day.year(), u8::from(day.month())),
            title: shortened(
                &format!("Tweede moment: {}", meeting.title),
                domain::MAX_TITLE_CHARS,
            ),
            held_on: day.to_string(),
            follows: Some(meeting.id),
            created_by: auth.user.id.clone(),
            participants: meeting.participants.iter().map(|p| p.id.clone()).collect(),
            guests: meeting.guests.clone(),
        };
        let second = state.db.create_meeting(second).await?;
        crate::search::index_meeting_title(&state.db, &second).await;
        audit(
            &state,
            Some(auth.user.id.to_string()),
            "meeting.create",
            Some(second.id.to_string()),
            "ok",
        )
        .await?;
    }
    let meeting = state.db.meeting(meeting.id).await?.ok_or(AppError::NotFound)?;
    Ok(Json(view(&state, meeting, &partners).await?))
}

/// What changed in a meeting's document between two of its versions, or a version and now,
/// per text part (keyed by root name: `work_plan`, `p.<id>.clb`, …), with who wrote and who
/// removed what. The versions are those the meeting's history keeps (the one named at its
/// close: `GET .../since-first` of its second moment).
#[utoipa::path(
    get,
    path = "/api/meetings/{id}/diff",
    tag = "meetings",
    params(MeetingPath, DiffQuery),
    responses(
        (status = 200, description = "The changes per part, with authors.", body = DiffResponse),
        (status = 400, description = "No `from` version given (`bad_request`).", body = ErrorBody),
        Unauthenticated,
        NotFound,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn diff(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(MeetingPath { id }): Path<MeetingPath>,
    query: Result<Query<DiffQuery>, QueryRejection>,
) -> Result<Json<DiffResponse>, AppError> {
    let (meeting, _) = meeting_for(&state, &auth, &id).await?;
    let Query(query) = query?;
    let doc = DocId::from(meeting.id);
    Ok(Json(
        compare(&state, &auth, doc, query, "meeting.diff", Parts::Text).await?,
    ))
}

/// A registration as a second moment looks back on it.
#[derive(Debug, Serialize, ToSchema)]
pub struct LookedBack {
    /// The registration's id.
    #[schema(value_type = String, format = "uuid")]
    pub id: RegistrationId,
    /// Its title.
    pub title: String,
    /// `signal` or `consultation`.
    pub kind: String,
    /// The version named when the first meeting closed.
    pub version: SnapshotMeta,
    /// Whether it changed since (diff: `GET /api/registrations/{id}/diff?from=<version>`).
    pub changed: bool,
}

/// What a second moment looks back on.
#[derive(Debug, Serialize, ToSchema)]
pub struct SinceFirst {
    /// The meeting it follows.
    pub first: Meeting,
    /// The registrations changed during the first meeting, and whether they changed since
    /// (none for an LSC, which does not see registrations).
    pub registrations: Vec<LookedBack>,
    /// The version of the first meeting's document named at its close (compare it with now:
    /// `GET /api/meetings/{first}/diff?from=<id>`).
    #[schema(required = true)]
    pub meeting_version: Option<SnapshotMeta>,
    /// Whether the first meeting's document changed since.
    pub meeting_changed: bool,
    /// The first meeting's action items, as they stand now.
    #[schema(value_type = Vec<Object>)]
    pub actions: Vec<ActionItem>,
}

/// What changed since the meeting a second moment follows: the registrations whose version
/// was named at its close, each with whether it changed since, and its action items.
#[utoipa::path(
    get,
    path = "/api/meetings/{id}/since-first",
    tag = "meetings",
    params(MeetingPath),
    responses(
        (status = 200, description = "What the second moment looks back on.", body = SinceFirst),
        Unauthenticated,
        NotFound,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn since_first(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(MeetingPath { id }): Path<MeetingPath>,
) -> Result<Json<SinceFirst>, AppError> {
    let (meeting, partners) = meeting_for(&state, &auth, &id).await?;
    // A meeting that follows none has nothing to look back on.
    let first_id: MeetingId = meeting.follows.ok_or(AppError::NotFound)?;
    let first = state.db.meeting(first_id).await?.ok_or(AppError::NotFound)?;
    audit_read(
        &state.db,
        &auth.user.id,
        "meeting.read",
        first.id.to_string(),
        None,
    )
    .await?;
    let versions = state.db.meeting_versions(first.id).await?;
    let mut registrations = Vec::new();
    if see_registrations(&partners) {
        for (registration, version) in discussed(&state, &versions).await? {
            let doc_state = state.rooms.document_state(registration.id.into()).await?;
            let changed = history::changed_since(doc_state, Some(version.snapshot)).await?;
            registrations.push(LookedBack {
                id: registration.id,
                title: registration.title,
                kind: registration.kind,
                version: version.meta,
                changed,
            });
        }
    }
    let actions = meeting_text(&state, first.id).await?.actions;
    let first_doc = DocId::from(first.id);
    let mut meeting_version = None;
    let mut meeting_changed = false;
    for &(doc, snapshot) in versions.iter().filter(|(doc, _)| *doc == first_doc) {
        if let Some(version) = state.db.snapshot(doc, snapshot).await? {
            let doc_state = state.rooms.document_state(doc).await?;
            meeting_changed = history::changed_since(doc_state, Some(version.snapshot)).await?;
            meeting_version = Some(version.meta);
        }
    }
    Ok(Json(SinceFirst {
        first,
        registrations,
        meeting_version,
        meeting_changed,
        actions,
    }))
}

//! Versions of a registration: list, keep a named one, read one, compare two, restore one.
//! Everyone with access reads and names versions; only CLB staff restore.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use base64::Engine;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::access::{OnRegistration, RegistrationPath, SnapshotPath, found};
use super::audit::{audit, audit_read};
use super::body::JsonObject;
use super::limits::Write;
use crate::access::SchoolAccess;
use crate::auth::Authenticated;
use crate::ids::{DocId, SnapshotId};

use crate::db::{Registration, SnapshotMeta, StoredSnapshot};
use crate::error::{AppError, ErrorBody, Forbidden, NotFound, Unauthenticated};
use crate::history::{self, DiffResponse, Taking};
use crate::rooms::{Principal, RestoreError};
use crate::state::AppState;

/// The longest version name, in characters.
pub const MAX_NAME_CHARS: usize = 120;

async fn snapshot_of(
    state: &AppState,
    registration: &Registration,
    id: &str,
) -> Result<StoredSnapshot, AppError> {
    state
        .db
        .snapshot(registration.id.into(), found(id)?)
        .await?
        .ok_or(AppError::NotFound)
}

/// A registration's versions.
#[derive(Debug, Serialize, ToSchema)]
pub struct SnapshotList {
    /// Newest first.
    pub snapshots: Vec<SnapshotMeta>,
}

/// Lists a registration's versions, newest first.
#[utoipa::path(
    get,
    path = "/api/registrations/{id}/snapshots",
    tag = "history",
    params(RegistrationPath),
    responses(
        (status = 200, description = "The versions, newest first.", body = SnapshotList),
        Unauthenticated,
        NotFound,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn list(
    State(state): State<AppState>,
    OnRegistration {
        auth, registration, ..
    }: OnRegistration,
) -> Result<Json<SnapshotList>, AppError> {
    audit_read(
        &state.db,
        &auth.user.id,
        "snapshots.list",
        registration.id.to_string(),
        None,
    )
    .await?;
    let snapshots = state.db.snapshots(registration.id.into()).await?;
    Ok(Json(SnapshotList { snapshots }))
}

/// Body of `POST /api/registrations/{id}/snapshots`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewVersion {
    /// The version's name, e.g. "Na schoolbeeldoverleg 1" (1–120 characters).
    #[schema(schema_with = version_name)]
    name: String,
}

fn version_name() -> utoipa::openapi::schema::Object {
    crate::domain::schema::one_line(
        MAX_NAME_CHARS,
        "The version's name, e.g. \"Na schoolbeeldoverleg 1\": one line, not blank.",
    )
}

/// Keeps the document as it is now as a named version.
#[utoipa::path(
    post,
    path = "/api/registrations/{id}/snapshots",
    tag = "history",
    params(RegistrationPath),
    request_body = NewVersion,
    responses(
        (status = 201, description = "The new version.", body = SnapshotMeta),
        (status = 400, description = "Bad JSON, or an empty or too long name (`bad_request`).", body = ErrorBody),
        Unauthenticated,
        Forbidden,
        NotFound,
        (status = 429, description = "Too many versions in a short time (`too_many_attempts`).", body = ErrorBody),
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn create(
    State(state): State<AppState>,
    OnRegistration {
        auth, registration, ..
    }: OnRegistration,
    body: Result<JsonObject<NewVersion>, AppError>,
) -> Result<impl IntoResponse, AppError> {
    let JsonObject(new) = body?;
    let name = new.name.trim();
    if name.is_empty() {
        return Err(AppError::BadRequest(
            "give the version a name, e.g. \"Na schoolbeeldoverleg 1\"".into(),
        ));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(AppError::BadRequest(format!(
            "a version name is at most {MAX_NAME_CHARS} characters"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(AppError::BadRequest(
            "a version name may not hold control characters".into(),
        ));
    }
    state.writes.check(Write::Version, &auth.user.id)?;
    let doc_state = state.rooms.document_state(registration.id.into()).await?;
    let taking = Taking::named(name.to_owned(), auth.user.id.clone());
    let meta = history::take(
        &state.db,
        state.rooms.store(),
        &state.events,
        registration.id.into(),
        doc_state,
        taking,
    )
    .await?
    .ok_or_else(|| AppError::Internal("a named version was not kept".into()))?;
    audit(
        &state,
        Some(auth.user.id.to_string()),
        "snapshot.create",
        Some(meta.id.to_string()),
        "ok",
    )
    .await?;
    Ok((StatusCode::CREATED, Json(meta)))
}

/// `GET /api/registrations/{id}/snapshots/{sid}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionResponse {
    /// The version.
    pub snapshot: SnapshotMeta,
    /// Each section's plain text at that version, by root name.
    pub sections: BTreeMap<&'static str, String>,
    /// The whole document at that version: a Yjs v1 update, base64. Apply it to a new
    /// `Y.Doc({ gc: false })` to render the version with the editor, read-only.
    #[schema(format = Byte)]
    pub update: String,
}

/// One version: its text per section, and the whole document as it stood then (a Yjs v1
/// update, base64) for rendering it read-only with the editor.
#[utoipa::path(
    get,
    path = "/api/registrations/{id}/snapshots/{sid}",
    tag = "history",
    params(RegistrationPath, SnapshotPath),
    responses(
        (status = 200, description = "The version and its content.", body = VersionResponse),
        Unauthenticated,
        NotFound,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn get(
    State(state): State<AppState>,
    OnRegistration {
        auth, registration, ..
    }: OnRegistration,
    Path(SnapshotPath { sid }): Path<SnapshotPath>,
) -> Result<Json<VersionResponse>, AppError> {
    let stored = snapshot_of(&state, &registration, &sid).await?;
    // The registration is the target, so that one filter finds every read of it; the
    // version is the detail, so that each version read is an entry of its own.
    audit_read(
        &state.db,
        &auth.user.id,
        "snapshot.read",
        registration.id.to_string(),
        Some(stored.meta.id.to_string()),
    )
    .await?;
    let doc_state = state.rooms.document_state(registration.id.into()).await?;
    let version = history::version(doc_state, stored.snapshot).await?;
    Ok(Json(VersionResponse {
        snapshot: stored.meta,
        sections: version.sections,
        update: base64::engine::general_purpose::STANDARD.encode(&version.update),
    }))
}

/// Query of `GET /api/registrations/{id}/diff`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DiffQuery {
    /// The earlier version's id.
    #[param(required = true, min_length = 1)]
    pub(super) from: Option<String>,
    /// The later version's id; leave out (or `now`) for the document as it is now.
    pub(super) to: Option<String>,
}

/// The diff of document `doc` that `query` asks for (from a version to another or to now),
/// the read audited as `action` on the document.
pub(super) async fn compare(
    state: &AppState,
    auth: &Authenticated,
    doc: DocId,
    query: DiffQuery,
    action: &'static str,
    parts: history::Parts,
) -> Result<DiffResponse, AppError> {
    let version = |id: &str| {
        let id = found::<SnapshotId>(id);
        async move { state.db.snapshot(doc, id?).await?.ok_or(AppError::NotFound) }
    };
    let from = query.from.as_deref().filter(|s| !s.is_empty()).ok_or_else(|| {
        AppError::BadRequest("say which version to compare from: ?from=<version id>".into())
    })?;
    let from = version(from).await?;
    let to = match query.to.as_deref() {
        None | Some("") | Some("now") => None,
        Some(to) => Some(version(to).await?),
    };
    let compared = match &to {
        Some(to) => format!("{}..{}", from.meta.id, to.meta.id),
        None => format!("{}..now", from.meta.id),
    };
    audit_read(&state.db, &auth.user.id, action, doc.to_string(), Some(compared)).await?;
    let doc_state = state.rooms.document_state(doc).await?;
    let (to, to_snapshot) = to.map(|t| (t.meta, t.snapshot)).unzip();
    let changes = history::diff(
        &state.db,
        state.rooms.store(),
        doc,
        doc_state,
        from.snapshot,
        to_snapshot,
        parts,
    )
    .await?;
    Ok(DiffResponse {
        from: from.meta,
        to,
        authors: changes.authors,
        sections: changes.sections,
        stats: changes.stats,
    })
}

/// What changed between two versions, or between a version and now, per section: the added
/// and the removed text with who wrote it and who removed it (from the server's records,
/// never from what a client claims).
#[utoipa::path(
    get,
    path = "/api/registrations/{id}/diff",
    tag = "history",
    params(RegistrationPath, DiffQuery),
    responses(
        (status = 200, description = "The changes per section, with authors.", body = DiffResponse),
        (status = 400, description = "No `from` version given (`bad_request`).", body = ErrorBody),
        Unauthenticated,
        NotFound,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn diff(
    State(state): State<AppState>,
    OnRegistration {
        auth, registration, ..
    }: OnRegistration,
    query: Result<Query<DiffQuery>, QueryRejection>,
) -> Result<Json<DiffResponse>, AppError> {
    let Query(query) = query?;
    let doc = DocId::from(registration.id);
    let answer = compare(&state, &auth, doc, query, "diff.read", history::Parts::Sections).await?;
    Ok(Json(answer))
}

/// `GET /api/registrations/{id}/since-visit`: what changed since the caller last left the
/// registration.
#[derive(Debug, Serialize, ToSchema)]
pub struct SinceVisitDiff {
    /// When the caller last left it (ms since the epoch); `null` when they never opened it
    /// (and the rest is empty).
    #[schema(required = true)]
    pub seen_at: Option<i64>,
    /// Everyone named in `sections`: user id → name and colour.
    pub authors: BTreeMap<String, history::AuthorInfo>,
    /// All six sections by root name: what the caller saw and what stands now, line by line.
    pub sections: BTreeMap<String, Vec<history::DiffLine>>,
    /// Characters added and removed per section since.
    pub stats: BTreeMap<String, crate::db::SectionStats>,
}

/// "Wijzigingen sinds je vorige bezoek": what changed in the registration's text since the
/// caller's last connection to it closed, per section, with who wrote and who removed it.
#[utoipa::path(
    get,
    path = "/api/registrations/{id}/since-visit",
    tag = "history",
    params(RegistrationPath),
    responses(
        (status = 200, description = "The changes since the caller's last visit.", body = SinceVisitDiff),
        Unauthenticated,
        NotFound,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn since_visit(
    State(state): State<AppState>,
    OnRegistration {
        auth, registration, ..
    }: OnRegistration,
) -> Result<Json<SinceVisitDiff>, AppError> {
    let doc = DocId::from(registration.id);
    let Some((seen_at, snapshot)) = state.db.visit(&auth.user.id, doc).await? else {
        return Ok(Json(SinceVisitDiff {
            seen_at: None,
            authors: BTreeMap::new(),
            sections: BTreeMap::new(),
            stats: BTreeMap::new(),
        }));
    };
    audit_read(
        &state.db,
        &auth.user.id,
        "diff.read",
        doc.to_string(),
        Some("visit..now".into()),
    )
    .await?;
    let doc_state = state.rooms.document_state(doc).await?;
    let changes = history::diff(
        &state.db,
        state.rooms.store(),
        doc,
        doc_state,
        snapshot,
        None,
        history::Parts::Sections,
    )
    .await?;
    Ok(Json(SinceVisitDiff {
        seen_at: Some(seen_at),
        authors: changes.authors,
        sections: changes.sections,
        stats: changes.stats,
    }))
}

/// `POST /api/registrations/{id}/snapshots/{sid}/restore`.
#[derive(Debug, Serialize, ToSchema)]
pub struct RestoreResponse {
    /// The `restore` version that records the restore.
    pub snapshot: SnapshotMeta,
}

/// Makes the document equal to a version again, as a new edit by the caller that everyone
/// connected sees at once. History keeps everything: the document as it was just before is
/// kept as an automatic version (if it was not yet), and the restore as a `restore` version.
/// CLB staff only.
#[utoipa::path(
    post,
    path = "/api/registrations/{id}/snapshots/{sid}/restore",
    tag = "history",
    params(RegistrationPath, SnapshotPath),
    responses(
        (status = 200, description = "Restored; the `restore` version that records it.", body = RestoreResponse),
        Unauthenticated,
        Forbidden,
        NotFound,
        (status = 409, description = "The registration is closed; reopen it first (`conflict`).", body = ErrorBody),
        (status = 429, description = "Too many restores in a short time (`too_many_attempts`).", body = ErrorBody),
        (status = 503, description = "The document was closing; try again (`unavailable`).", body = ErrorBody),
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn restore(
    State(state): State<AppState>,
    OnRegistration {
        auth,
        registration,
        access,
    }: OnRegistration,
    Path(SnapshotPath { sid }): Path<SnapshotPath>,
) -> Result<Json<RestoreResponse>, AppError> {
    let source = snapshot_of(&state, &registration, &sid).await?;
    if access != SchoolAccess::Clb {
        audit(
            &state,
            Some(auth.user.id.to_string()),
            "snapshot.restore",
            Some(sid),
            "denied",
        )
        .await?;
        return Err(AppError::Forbidden(
            "Only CLB staff can restore a version.".into(),
        ));
    }
    if registration.status == "closed" {
        return Err(AppError::Conflict(
            "This registration is closed, and its text with it: reopen it to restore a version.".into(),
        ));
    }
    state.writes.check(Write::Version, &auth.user.id)?;
    // The document as it is now stays findable in the history.
    let before = state.rooms.document_state(registration.id.into()).await?;
    let keep = Taking::auto();
    history::take(
        &state.db,
        state.rooms.store(),
        &state.events,
        registration.id.into(),
        before,
        keep,
    )
    .await?;
    let principal = Principal::new(auth.user.id.clone(), auth.user.display_name.clone(), access);
    state
        .rooms
        .restore(registration.id.into(), source.snapshot, principal)
        .await
        .map_err(|err| match err {
            RestoreError::Interrupted => AppError::Unavailable,
            RestoreError::Failed(detail) => AppError::Internal(detail),
        })?;
    let after = state.rooms.document_state(registration.id.into()).await?;
    let record = Taking::restore(source.meta.id, source.meta.name.clone(), auth.user.id.clone());
    let meta = history::take(
        &state.db,
        state.rooms.store(),
        &state.events,
        registration.id.into(),
        after,
        record,
    )
    .await?
    .ok_or_else(|| AppError::Internal("the restore was not recorded".into()))?;
    audit(
        &state,
        Some(auth.user.id.to_string()),
        "snapshot.restore",
        Some(source.meta.id.to_string()),
        "ok",
    )
    .await?;
    Ok(Json(RestoreResponse { snapshot: meta }))
}

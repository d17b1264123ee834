//! Documents over HTTP (issue 17): a school's documents (the school and its CLB) and a
//! registration's attachments; uploading, a new version, the list, one file with its
//! versions, and the download. Uploads are the request body itself, streamed (never
//! held whole), with the file's name in `?name=` and its type in `Content-Type`.

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::access::{OnRegistration, RegistrationPath, found};
use super::audit::audit;
use super::body::JsonObject;
use super::schools::school_for;
use crate::access::SchoolAccess;
use crate::auth::Authenticated;
use crate::db::{FileVersion, Institution, NewVersion, StoredFile};
use crate::error::{AppError, ErrorBody, Forbidden, NotFound, Unauthenticated};
use crate::ids::{AgreementId, FileId, FileVersionId, RegistrationId};
use crate::state::AppState;

/// The longest note on a version (characters).
const MAX_NOTE_CHARS: usize = 500;

/// `?name=` and `?note=` of an upload.
#[derive(Debug, Deserialize, IntoParams)]
pub struct UploadQuery {
    /// The file's name, as on the uploader's computer (it is kept for display only).
    name: String,
    /// What changed, or what it is (at most 500 characters).
    #[serde(default)]
    note: Option<String>,
}

/// A file named in a path.
#[derive(Debug, Deserialize, IntoParams)]
pub struct FilePath {
    /// The file's id.
    #[param(format = "uuid")]
    pub(super) id: String,
}

/// `?version=` of a download.
#[derive(Debug, Deserialize, IntoParams)]
pub struct DownloadQuery {
    /// A version's id; the newest when absent.
    #[serde(default)]
    pub(super) version: Option<String>,
}

/// A file uploaded, or a new version of one: the `file` event of a school's stream.
#[derive(Debug, Serialize, ToSchema)]
pub struct FileEvent<'a> {
    /// `school` or `registration`.
    pub place: &'a str,
    /// The registration's id (`""` for the school's own documents).
    pub place_id: &'a str,
    /// The file with its versions.
    pub file: &'a StoredFile,
}

/// Tells everyone viewing the school (its members and CLB) that `file` is new or changed;
/// a school and an LSC's, which the CLB may not know of, only to those in their agreements.
pub(super) fn tell(state: &AppState, file: &StoredFile) {
    if file.place == "agreement" {
        // Their CLB listens on the school's stream: the agreements' own room tells them.
        if let Ok(agreements) = file.place_id.parse::<crate::ids::DocId>() {
            state.rooms.files_changed(agreements);
        }
        return;
    }
    let event = FileEvent {
        place: &file.place,
        place_id: &file.place_id,
        file,
    };
    state
        .events
        .publish(file.school_id, crate::events::SchoolEvent::new("file", &event));
}

/// The files kept at a place.
#[derive(Debug, Serialize, ToSchema)]
pub struct FileList {
    /// Newest upload first, each with its versions (newest first).
    pub files: Vec<StoredFile>,
}

/// A school's documents, with the school.
#[derive(Debug, Serialize, ToSchema)]
pub struct SchoolFiles {
    /// The school.
    pub school: Institution,
    /// Newest upload first.
    pub files: Vec<StoredFile>,
}

fn declared_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

fn checked_note(note: Option<String>) -> Result<String, AppError> {
    let note = note.unwrap_or_default().trim().to_owned();
    if note.chars().count() > MAX_NOTE_CHARS || note.chars().any(|c| c.is_control() && c != '\n') {
        return Err(AppError::BadRequest(format!(
            "note: at most {MAX_NOTE_CHARS} characters, without control characters"
        )));
    }
    Ok(note)
}

/// Receives an upload and keeps its content; the version's facts for the row.
async fn take(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    query: UploadQuery,
) -> Result<(crate::files::Upload, String), AppError> {
    let note = checked_note(query.note)?;
    if query.name.trim().is_empty() {
        return Err(AppError::BadRequest(
            "name: give the file's name, with its extension".into(),
        ));
    }
    let upload = crate::files::receive(
        &state.blobs,
        body,
        declared_length(headers),
        &query.name,
        &declared_type(headers),
        state.config.max_file_bytes,
    )
    .await?;
    Ok((upload, note))
}

/// Where an upload goes: a new file at a place of a school, or a new version of a file.
enum Destination {
    New {
        school: crate::ids::InstitutionId,
        place: &'static str,
        place_id: String,
    },
    Version(FileId),
}

/// Keeps an upload's content and its row (a new file, or a version of one), then records
/// and tells it; the file as it is now.
async fn store(
    state: &AppState,
    auth: &Authenticated,
    destination: Destination,
    upload: crate::files::Upload,
    note: &str,
) -> Result<StoredFile, AppError> {
    let crate::files::Upload { spooled, kind, name } = upload;
    let (sha256, size) = (spooled.sha256.clone(), spooled.size);
    let keeping = state.blobs.hold().await;
    state.blobs.keep(spooled).await?;
    let version = NewVersion {
        sha256: &sha256,
        size,
        mime: kind.mime(),
        name: &name,
        note,
        by: &auth.user.id,
    };
    let (id, action) = match destination {
        Destination::New {
            school,
            place,
            place_id,
        } => (
            state.db.create_file(school, place, &place_id, &version).await?,
            "file.upload",
        ),
        Destination::Version(id) => {
            state.db.add_file_version(id, &version).await?;
            (id, "file.version")
        }
    };
    drop(keeping);
    audit(
        state,
        Some(auth.user.id.to_string()),
        action,
        Some(id.to_string()),
        "ok",
    )
    .await?;
    let file = state.db.file(id).await?.ok_or(AppError::NotFound)?;
    tell(state, &file);
    crate::search::index_file(&state.db, &file).await;
    super::file_names::check_later(state, &file);
    Ok(file)
}

/// The school and the caller's access, for a school's own documents: its members and its
/// CLB's staff (an LSC's documents with the school are kept with their agreements).
async fn school_place(state: &AppState, auth: &Authenticated, number: &str) -> Result<Institution, AppError> {
    let (school, access) = school_for(state, auth, number).await?;
    if access == SchoolAccess::Lsc {
        return Err(AppError::NotFound);
    }
    Ok(school)
}

/// A school's documents ("Documenten"), for the school and its CLB.
#[utoipa::path(
    get,
    path = "/api/schools/{number}/files",
    tag = "files",
    params(("number" = String, Path, description = "The school's institution number.")),
    responses(
        (status = 200, description = "The school's documents.", body = SchoolFiles),
        Unauthenticated,
        NotFound,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn school_list(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(number): Path<String>,
) -> Result<Json<SchoolFiles>, AppError> {
    let school = school_place(&state, &auth, &number).await?;
    super::audit::audit_read(
        &state.db,
        &auth.user.id,
        "files.list",
        school.number.clone(),
        None,
    )
    .await?;
    let files = state.db.files_at(school.id, "school", "").await?;
    Ok(Json(SchoolFiles { school, files }))
}

/// Uploads a document of the school: the body is the file itself.
#[utoipa::path(
    post,
    path = "/api/schools/{number}/files",
    tag = "files",
    params(("number" = String, Path, description = "The school's institution number."), UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The file; `Content-Type` its type (or `application/octet-stream`)."),
    responses(
        (status = 201, description = "The file, kept.", body = StoredFile),
        (status = 400, description = "No name, a bad note, or an upload cut off (`bad_request`).", body = ErrorBody),
        (status = 413, description = "Larger than the limit (`too_large`).", body = ErrorBody),
        (status = 415, description = "Not an allowed type, or its name or declared type says otherwise than its content (`unsupported_type`).", body = ErrorBody),
        Unauthenticated,
        Forbidden,
        NotFound,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn school_upload(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(number): Path<String>,
    query: Result<Query<UploadQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<StoredFile>), AppError> {
    let Query(query) = query?;
    let school = school_place(&state, &auth, &number).await?;
    let (upload, note) = take(&state, &headers, body, query).await?;
    let destination = Destination::New {
        school: school.id,
        place: "school",
        place_id: String::new(),
    };
    let file = store(&state, &auth, destination, upload, &note).await?;
    Ok((StatusCode::CREATED, Json(file)))
}

/// A registration's attachments.
#[utoipa::path(
    get,
    path = "/api/registrations/{id}/files",
    tag = "files",
    params(RegistrationPath),
    responses(
        (status = 200, description = "The registration's attachments.", body = FileList),
        Unauthenticated,
        NotFound,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn registration_list(
    State(state): State<AppState>,
    on: OnRegistration,
) -> Result<Json<FileList>, AppError> {
    let r = &on.registration;
    let files = state
        .db
        .files_at(r.school_id, "registration", &r.id.to_string())
        .await?;
    Ok(Json(FileList { files }))
}

/// Attaches a file to a registration (school and CLB both may): the body is the file.
#[utoipa::path(
    post,
    path = "/api/registrations/{id}/files",
    tag = "files",
    params(RegistrationPath, UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The file; `Content-Type` its type (or `application/octet-stream`)."),
    responses(
        (status = 201, description = "The file, kept.", body = StoredFile),
        (status = 400, description = "No name, a bad note, or an upload cut off (`bad_request`).", body = ErrorBody),
        (status = 413, description = "Larger than the limit (`too_large`).", body = ErrorBody),
        (status = 415, description = "Not an allowed type, or its name or declared type says otherwise than its content (`unsupported_type`).", body = ErrorBody),
        Unauthenticated,
        Forbidden,
        NotFound,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn registration_upload(
    State(state): State<AppState>,
    on: OnRegistration,
    query: Result<Query<UploadQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<StoredFile>), AppError> {
    let Query(query) = query?;
    if on.access == SchoolAccess::Lsc {
        return Err(AppError::NotFound);
    }
    let (upload, note) = take(&state, &headers, body, query).await?;
    let destination = Destination::New {
        school: on.registration.school_id,
        place: "registration",
        place_id: on.registration.id.to_string(),
    };
    let file = store(&state, &on.auth, destination, upload, &note).await?;
    Ok((StatusCode::CREATED, Json(file)))
}

/// File `id` if the caller may reach its place, with the caller's access there; 404
/// otherwise, and for a deleted file unless `deleted` (restoring one).
async fn reachable_file(
    state: &AppState,
    auth: &Authenticated,
    id: &str,
    deleted: bool,
) -> Result<(StoredFile, SchoolAccess), AppError> {
    let id: FileId = found(id)?;
    let Some(file) = state
        .db
        .file(id)
        .await?
        .filter(|f| deleted || f.deleted.is_none())
    else {
        return Err(AppError::NotFound);
    };
    let access = match file.place.as_str() {
        "school" if auth.reaches(file.school_id) => {
            state.db.school_access(&auth.user.id, file.school_id).await?
        }
        "registration" => {
            let registration: RegistrationId = found(&file.place_id)?;
            match super::access::reachable(state, auth, registration).await? {
                Some((r, access)) if r.school_id == file.school_id => Some(access),
                _ => None,
            }
        }
        "agreement" => {
            let agreement: AgreementId = found(&file.place_id)?;
            match super::agreements::reachable(state, auth, agreement).await? {
                // A party to them is the school's member, or else their LSC's staff.
                Some(a) if a.school.id == file.school_id => Some(
                    state
                        .db
                        .school_access(&auth.user.id, file.school_id)
                        .await?
                        .unwrap_or(SchoolAccess::Lsc),
                ),
                _ => None,
            }
        }
        _ => None,
    };
    let place_allows = |access: SchoolAccess| match file.place.as_str() {
        // A school and an LSC's: theirs alone (reachable above says whose).
        "agreement" => matches!(access, SchoolAccess::School | SchoolAccess::Lsc),
        _ => matches!(access, SchoolAccess::Clb | SchoolAccess::School),
    };
    match access {
        Some(access) if place_allows(access) => Ok((file, access)),
        _ => {
            super::audit::audit_not_found(&state.db, &auth.user.id, "file.read", Some(id.to_string()))
                .await?;
            Err(AppError::NotFound)
        }
    }
}

/// File `id`, not deleted, if the caller may reach its place; 404 otherwise.
pub(super) async fn file_for(
    state: &AppState,
    auth: &Authenticated,
    id: &str,
) -> Result<StoredFile, AppError> {
    Ok(reachable_file(state, auth, id, false).await?.0)
}

/// One file with its versions.
#[utoipa::path(
    get,
    path = "/api/files/{id}",
    tag = "files",
    params(FilePath),
    responses(
        (status = 200, description = "The file and its versions, newest first.", body = StoredFile),
        Unauthenticated,
        NotFound,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn get(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(FilePath { id }): Path<FilePath>,
) -> Result<Json<StoredFile>, AppError> {
    let file = file_for(&state, &auth, &id).await?;
    super::audit::audit_read(&state.db, &auth.user.id, "file.read", file.id.to_string(), None).await?;
    Ok(Json(file))
}

/// Uploads a new version of a file; the earlier ones stay (who, when, size, note).
#[utoipa::path(
    post,
    path = "/api/files/{id}/versions",
    tag = "files",
    params(FilePath, UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The new version; `Content-Type` its type."),
    responses(
        (status = 201, description = "The file with its new version first.", body = StoredFile),
        (status = 400, description = "No name, a bad note, or an upload cut off (`bad_request`).", body = ErrorBody),
        (status = 413, description = "Larger than the limit (`too_large`).", body = ErrorBody),
        (status = 415, description = "Not an allowed type, or its name or declared type says otherwise than its content (`unsupported_type`).", body = ErrorBody),
        Unauthenticated,
        Forbidden,
        NotFound,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn add_version(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(FilePath { id }): Path<FilePath>,
    query: Result<Query<UploadQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<StoredFile>), AppError> {
    let Query(query) = query?;
    let file = file_for(&state, &auth, &id).await?;
    let (upload, note) = take(&state, &headers, body, query).await?;
    let file = store(&state, &auth, Destination::Version(file.id), upload, &note).await?;
    Ok((StatusCode::CREATED, Json(file)))
}

/// The version of `file` a `?version=` names, the newest when none; 404 when it names none.
pub(super) fn version_of<'f>(
    file: &'f StoredFile,
    version: Option<&str>,
) -> Result<&'f FileVersion, AppError> {
    match version {
        None => file.versions.first(),
        Some(v) => {
            let wanted: FileVersionId = found(v)?;
            file.versions.iter().find(|x| x.id == wanted)
        }
    }
    .ok_or(AppError::NotFound)
}

/// The single byte range a `Range` header asks for, within `size` bytes: `Ok(None)` for
/// the whole file, `Err(())` when it cannot be satisfied.
fn range_of(headers: &HeaderMap, size: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(value) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else {
        return Ok(None);
    };
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    // Several ranges at once are served whole (allowed by RFC 9110).
    if spec.contains(',') {
        return Ok(None);
    }
    let (start, end) = spec.split_once('-').ok_or(())?;
    let (start, end) = (start.trim(), end.trim());
    let (from, to) = if start.is_empty() {
        let n: u64 = end.parse().map_err(|_| ())?;
        if n == 0 {
            return Err(());
        }
        (size.saturating_sub(n), size)
    } else {
        let from: u64 = start.parse().map_err(|_| ())?;
        let to = if end.is_empty() {
            size
        } else {
            end.parse::<u64>().map_err(|_| ())?.saturating_add(1).min(size)
        };
        (from, to)
    };
    if from >= size || from >= to {
        return Err(());
    }
    Ok(Some((from, to)))
}

/// Downloads a file (its newest version, or the one asked for): always as an attachment,
/// never shown as a page, and every download is recorded (who read which file).
#[utoipa::path(
    get,
    path = "/api/files/{id}/content",
    tag = "files",
    params(FilePath, DownloadQuery),
    responses(
        (status = 200, description = "The file.", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 206, description = "The byte range asked for (`Range: bytes=…`).", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 416, description = "A range outside the file (`range_not_satisfiable`); `Content-Range` gives its size.", body = ErrorBody),
        Unauthenticated,
        NotFound,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn content(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(FilePath { id }): Path<FilePath>,
    query: Result<Query<DownloadQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let Query(query) = query?;
    let file = file_for(&state, &auth, &id).await?;
    let version = version_of(&file, query.version.as_deref())?;
    let size = u64::try_from(version.size).unwrap_or(0);
    audit(
        &state,
        Some(auth.user.id.to_string()),
        "file.download",
        Some(format!("{}/{}", file.id, version.id)),
        "ok",
    )
    .await?;
    let range = match range_of(&headers, size) {
        Ok(range) => range,
        Err(()) => {
            let body = ErrorBody {
                error: crate::error::ErrorDetail {
                    code: "range_not_satisfiable",
                    message: format!("The file has {size} bytes; ask for a range within them."),
                },
            };
            let mut response = (StatusCode::RANGE_NOT_SATISFIABLE, Json(body)).into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                response.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return Ok(response);
        }
    };
    let (from, to) = range.unwrap_or((0, size));
    let body = state.blobs.read(&version.sha256, from, to).await?;
    let mut response = body.into_response();
    *response.status_mut() = if range.is_some() {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    let h = response.headers_mut();
    let value = |s: &str| HeaderValue::from_str(s).map_err(|e| AppError::Internal(e.to_string()));
    h.insert(header::CONTENT_TYPE, value(&version.mime)?);
    h.insert(header::CONTENT_LENGTH, value(&(to - from).to_string())?);
    h.insert(
        header::CONTENT_DISPOSITION,
        value(&crate::files::name::attachment(&version.name))?,
    );
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "sandbox; default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        ),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    if range.is_some() {
        h.insert(
            header::CONTENT_RANGE,
            value(&format!("bytes {from}-{}/{size}", to - 1))?,
        );
    }
    Ok(response)
}

/// `DELETE /api/files/{id}` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct DeleteFile {
    /// Why it goes (kept with the deletion and in the audit log).
    #[schema(min_length = 1, max_length = 500)]
    reason: String,
}

/// Whether the caller may delete or restore `file`: whoever uploaded it, and the CLB's
/// staff where the CLB shares the place (not a school and an LSC's).
fn may_remove(file: &StoredFile, auth: &Authenticated, access: SchoolAccess) -> Result<(), AppError> {
    if (access == SchoolAccess::Clb && file.place != "agreement") || file.created_by.id == auth.user.id {
        return Ok(());
    }
    Err(AppError::Forbidden(
        "Only who uploaded this file, or the CLB, may delete or restore it.".into(),
    ))
}

/// Deletes a file, with a reason: it leaves the lists at once and can be restored for 30
/// days, then it is purged for good.
#[utoipa::path(
    delete,
    path = "/api/files/{id}",
    tag = "files",
    params(FilePath),
    request_body = DeleteFile,
    responses(
        (status = 200, description = "The file, deleted.", body = StoredFile),
        (status = 400, description = "No reason, or one over 500 characters (`bad_request`).", body = ErrorBody),
        Unauthenticated,
        Forbidden,
        NotFound,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn delete(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(FilePath { id }): Path<FilePath>,
    body: Result<JsonObject<DeleteFile>, AppError>,
) -> Result<Json<StoredFile>, AppError> {
    let (file, access) = reachable_file(&state, &auth, &id, false).await?;
    let JsonObject(body) = body?;
    may_remove(&file, &auth, access)?;
    let reason = body.reason.trim();
    if reason.is_empty()
        || reason.chars().count() > 500
        || reason.chars().any(|c| c.is_control() && c != '\n')
    {
        return Err(AppError::BadRequest(
            "reason: say why the file goes (1 to 500 characters)".into(),
        ));
    }
    state.db.delete_file(file.id, &auth.user.id, reason).await?;
    super::audit::audit_with(&state, &auth.user.id, "file.delete", file.id.to_string(), reason).await?;
    let file = state.db.file(file.id).await?.ok_or(AppError::NotFound)?;
    tell(&state, &file);
    crate::search::index_file(&state.db, &file).await;
    Ok(Json(file))
}

/// Restores a deleted file (within 30 days of its deletion).
#[utoipa::path(
    post,
    path = "/api/files/{id}/restore",
    tag = "files",
    params(FilePath),
    responses(
        (status = 200, description = "The file, back in its place.", body = StoredFile),
        (status = 409, description = "It is not deleted (`conflict`).", body = ErrorBody),
        Unauthenticated,
        Forbidden,
        NotFound,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn restore(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(FilePath { id }): Path<FilePath>,
) -> Result<Json<StoredFile>, AppError> {
    let (file, access) = reachable_file(&state, &auth, &id, true).await?;
    may_remove(&file, &auth, access)?;
    if !state.db.restore_file(file.id).await? {
        return Err(AppError::Conflict(
            "This file is not deleted; there is nothing to restore.".into(),
        ));
    }
    audit(
        &state,
        Some(auth.user.id.to_string()),
        "file.restore",
        Some(file.id.to_string()),
        "ok",
    )
    .await?;
    let file = state.db.file(file.id).await?.ok_or(AppError::NotFound)?;
    tell(&state, &file);
    crate::search::index_file(&state.db, &file).await;
    Ok(Json(file))
}

/// The files of a school deleted in the last 30 days, in the places the caller sees (the
/// school's own documents, the attachments of its registrations), last deleted first.
#[utoipa::path(
    get,
    path = "/api/schools/{number}/files/deleted",
    tag = "files",
    params(("number" = String, Path, description = "The school's institution number.")),
    responses(
        (status = 200, description = "The school and its recently deleted files.", body = SchoolFiles),
        Unauthenticated,
        NotFound,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn deleted(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(number): Path<String>,
) -> Result<Json<SchoolFiles>, AppError> {
    let school = school_place(&state, &auth, &number).await?;
    super::audit::audit_read(
        &state.db,
        &auth.user.id,
        "files.deleted",
        school.number.clone(),
        None,
    )
    .await?;
    let since = crate::db::now() - crate::files::RESTORABLE_MS;
    let files = state
        .db
        .deleted_files(school.id, since)
        .await?
        .into_iter()
        .filter(|f| matches!(f.place.as_str(), "school" | "registration"))
        .collect();
    Ok(Json(SchoolFiles { school, files }))
}

/// The agreements a path names, if the caller is their school's member or their LSC's
/// staff; 404 (audited) for anyone else, a CLB's staff included.
async fn agreement_place(
    state: &AppState,
    auth: &Authenticated,
    id: &str,
) -> Result<crate::db::Agreement, AppError> {
    let parsed: Option<AgreementId> = found(id).ok();
    if let Some(id) = parsed
        && let Some(agreement) = super::agreements::reachable(state, auth, id).await?
    {
        return Ok(agreement);
    }
    super::audit::audit_not_found(
        &state.db,
        &auth.user.id,
        "agreements.read",
        parsed.map(|i| i.to_string()),
    )
    .await?;
    Err(AppError::NotFound)
}

/// The documents of a school and one of its LSCs, kept with their agreements: theirs alone.
#[utoipa::path(
    get,
    path = "/api/agreements/{id}/files",
    tag = "files",
    params(super::agreements::AgreementPath),
    responses(
        (status = 200, description = "Their documents.", body = FileList),
        Unauthenticated,
        NotFound,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn agreement_list(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(super::agreements::AgreementPath { id }): Path<super::agreements::AgreementPath>,
) -> Result<Json<FileList>, AppError> {
    let agreement = agreement_place(&state, &auth, &id).await?;
    let files = state
        .db
        .files_at(agreement.school.id, "agreement", &agreement.id.to_string())
        .await?;
    Ok(Json(FileList { files }))
}

/// Uploads a document of a school and one of its LSCs: the body is the file.
#[utoipa::path(
    post,
    path = "/api/agreements/{id}/files",
    tag = "files",
    params(super::agreements::AgreementPath, UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The file; `Content-Type` its type (or `application/octet-stream`)."),
    responses(
        (status = 201, description = "The file, kept.", body = StoredFile),
        (status = 400, description = "No name, a bad note, or an upload cut off (`bad_request`).", body = ErrorBody),
        (status = 413, description = "Larger than the limit (`too_large`).", body = ErrorBody),
        (status = 415, description = "Not an allowed type, or its name or declared type says otherwise than its content (`unsupported_type`).", body = ErrorBody),
        Unauthenticated,
        Forbidden,
        NotFound,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn agreement_upload(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(super::agreements::AgreementPath { id }): Path<super::agreements::AgreementPath>,
    query: Result<Query<UploadQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<StoredFile>), AppError> {
    let Query(query) = query?;
    let agreement = agreement_place(&state, &auth, &id).await?;
    let (upload, note) = take(&state, &headers, body, query).await?;
    let destination = Destination::New {
        school: agreement.school.id,
        place: "agreement",
        place_id: agreement.id.to_string(),
    };
    let file = store(&state, &auth, destination, upload, &note).await?;
    Ok((StatusCode::CREATED, Json(file)))
}

/// The documents of a school and one of its LSCs deleted in the last 30 days.
#[utoipa::path(
    get,
    path = "/api/agreements/{id}/files/deleted",
    tag = "files",
    params(super::agreements::AgreementPath),
    responses(
        (status = 200, description = "Their recently deleted documents.", body = FileList),
        Unauthenticated,
        NotFound,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn agreement_deleted(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(super::agreements::AgreementPath { id }): Path<super::agreements::AgreementPath>,
) -> Result<Json<FileList>, AppError> {
    let agreement = agreement_place(&state, &auth, &id).await?;
    let since = crate::db::now() - crate::files::RESTORABLE_MS;
    let place_id = agreement.id.to_string();
    let files = state
        .db
        .deleted_files(agreement.school.id, since)
        .await?
        .into_iter()
        .filter(|f| f.place == "agreement" && f.place_id == place_id)
        .collect();
    Ok(Json(FileList { files }))
}

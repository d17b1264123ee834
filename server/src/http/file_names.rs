//! The name guard on documents (issue 19, point 4): each new version's text is read (in a
//! child process, `files::reader`) and the suspected names in it are counted and kept;
//! the names themselves are read again from the file when someone asks for them, so they
//! stay in the file only. A finding can be dismissed as no name for the file, as in a
//! registration. The file's list shows the count and refreshes live when it is known.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use serde::Serialize;
use utoipa::ToSchema;

use super::body::JsonObject;
use super::files::{DownloadQuery, FilePath, file_for, tell};
use super::names::Dismiss;
use crate::auth::Authenticated;
use crate::db::{FileVersion, NameDismissal, StoredFile};
use crate::error::{AppError, ErrorBody, Forbidden, NotFound, Unauthenticated};
use crate::files::FileKind;
use crate::files::reader::{self, Outcome};
use crate::ids::{FileId, FileVersionId, InstitutionId};
use crate::name_guard::{Context, FileNameFinding, file_findings};
use crate::state::AppState;

/// How long a version may wait unread (a node stopped while reading it) before another
/// node reads it (ms).
const UNREAD_AFTER_MS: i64 = 5 * 60 * 1000;

/// `GET /api/files/{id}/names`: what the name guard finds in a version's text.
#[derive(Debug, Serialize, ToSchema)]
pub struct FileNames {
    /// The version read (the newest unless `?version=` named another).
    #[schema(value_type = String, format = "uuid")]
    pub version: FileVersionId,
    /// `checked`, `unreadable` (no text came out: a scan, a damaged or protected file, or
    /// it took too long) or `none` (an image).
    pub status: &'static str,
    /// The suspected names nobody dismissed, in the order of the text.
    pub findings: Vec<FileNameFinding>,
    /// What people dismissed as no name in this file, oldest first.
    pub dismissals: Vec<NameDismissal>,
}

/// Reads `version`'s text now: its status and the findings nobody dismissed.
async fn read_names(
    state: &AppState,
    file: FileId,
    school: InstitutionId,
    version: &FileVersion,
) -> Result<(&'static str, Vec<FileNameFinding>), AppError> {
    let Some(kind) = FileKind::from_mime(&version.mime) else {
        return Ok(("none", Vec::new()));
    };
    let size = u64::try_from(version.size).unwrap_or(0);
    let content = state.blobs.read(&version.sha256, 0, size).await?;
    let text = match reader::read(kind, content)
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
    {
        Outcome::NoText => return Ok(("none", Vec::new())),
        Outcome::Unreadable => return Ok(("unreadable", Vec::new())),
        Outcome::Text(text) => text,
    };
    let institutions = state.db.institutions_around(school).await?;
    let dismissed: Vec<String> = state
        .db
        .file_name_dismissals(file)
        .await?
        .into_iter()
        .map(|d| d.name)
        .collect();
    let findings = super::blocking(move || {
        Ok::<_, AppError>(file_findings(&text, &Context::new(&institutions, dismissed)))
    })
    .await?;
    Ok(("checked", findings))
}

/// Reads `version` of `file` and keeps what was found; for the newest, tells the people
/// viewing its place (the count in their list changes).
async fn check(state: &AppState, file: &StoredFile, version: &FileVersion) -> Result<(), AppError> {
    let (status, findings) = read_names(state, file.id, file.school_id, version).await?;
    if status == "none" {
        return Ok(());
    }
    state
        .db
        .set_text_check(version.id, status, findings.len())
        .await?;
    let newest = file.versions.first().is_some_and(|v| v.id == version.id);
    if newest && let Some(file) = state.db.file(file.id).await? {
        tell(state, &file);
    }
    Ok(())
}

/// Reads the newest version of `file` in the background (an upload's answer does not wait).
pub fn check_later(state: &AppState, file: &StoredFile) {
    if !file
        .versions
        .first()
        .and_then(|v| FileKind::from_mime(&v.mime))
        .is_some_and(FileKind::has_text)
    {
        return;
    }
    let (state, file) = (state.clone(), file.clone());
    tokio::spawn(async move {
        let Some(newest) = file.versions.first() else {
            return;
        };
        if let Err(err) = check(&state, &file, newest).await {
            tracing::warn!(file = %file.id, error = %err, "could not read a document's text for names");
        }
    });
}

/// Reads the versions no node read (a node stopped first), now and every few minutes, until
/// shutdown. Two nodes may read the same one; they keep the same count.
pub async fn keep_read(state: AppState, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let mut every = tokio::time::interval(std::time::Duration::from_millis(UNREAD_AFTER_MS as u64));
    loop {
        tokio::select! {
            _ = every.tick() => {
                let before = crate::db::now() - UNREAD_AFTER_MS;
                let unread = match state.db.unchecked_versions(before, 50).await {
                    Ok(unread) => unread,
                    Err(err) => {
                        tracing::warn!(error = %err, "could not list unread documents");
                        continue;
                    }
                };
                for version in unread {
                    let Ok(Some(file)) = state.db.file(version.file).await else { continue };
                    let Some(v) = file.versions.iter().find(|v| v.id == version.version) else { continue };
                    if let Err(err) = check(&state, &file, v).await {
                        tracing::warn!(file = %version.file, error = %err, "could not read a document's text for names");
                    }
                }
            }
            _ = shutdown.changed() => return,
        }
    }
}

/// The suspected names in a version's text (the newest unless `?version=`), read from the
/// file now, with the words around each and what was dismissed. Whoever may read the file
/// may; the reading is recorded like a download.
#[utoipa::path(
    get,
    path = "/api/files/{id}/names",
    tag = "files",
    params(FilePath, DownloadQuery),
    responses(
        (status = 200, description = "What the name guard finds in the version's text.", body = FileNames),
        Unauthenticated,
        NotFound,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn get(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(FilePath { id }): Path<FilePath>,
    query: Result<Query<DownloadQuery>, QueryRejection>,
) -> Result<Json<FileNames>, AppError> {
    let Query(query) = query?;
    let file = file_for(&state, &auth, &id).await?;
    let version = super::files::version_of(&file, query.version.as_deref())?;
    super::audit::audit_read(&state.db, &auth.user.id, "file.names", file.id.to_string(), None).await?;
    Ok(Json(names_of(&state, &file, version).await?))
}

async fn names_of(state: &AppState, file: &StoredFile, version: &FileVersion) -> Result<FileNames, AppError> {
    let (status, findings) = read_names(state, file.id, file.school_id, version).await?;
    Ok(FileNames {
        version: version.id,
        status,
        findings,
        dismissals: state.db.file_name_dismissals(file.id).await?,
    })
}

/// Dismisses a finding in the newest version's text as no name ("dit is geen naam") for
/// this file, in this and later versions; kept with who made it. Whoever may add a version
/// may; only a current finding can be.
#[utoipa::path(
    post,
    path = "/api/files/{id}/names/dismiss",
    tag = "files",
    params(FilePath),
    request_body = Dismiss,
    responses(
        (status = 200, description = "What is left in the newest version, and every dismissal.", body = FileNames),
        (status = 400, description = "Bad JSON or an empty or too long name (`bad_request`).", body = ErrorBody),
        (status = 409, description = "That is no finding in the newest version (`conflict`).", body = ErrorBody),
        Unauthenticated,
        Forbidden,
        NotFound,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn dismiss(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(FilePath { id }): Path<FilePath>,
    body: Result<JsonObject<Dismiss>, AppError>,
) -> Result<Json<FileNames>, AppError> {
    let file = file_for(&state, &auth, &id).await?;
    let JsonObject(body) = body?;
    let name = super::names::dismissed_name(&body.name)?;
    let newest = super::files::version_of(&file, None)?;
    let now = names_of(&state, &file, newest).await?;
    if !now.findings.iter().any(|f| f.name.to_lowercase() == name) {
        return Err(AppError::Conflict(
            "This is no suspected name in the file's newest version; nothing to dismiss.".into(),
        ));
    }
    state.db.dismiss_file_name(file.id, &name, &auth.user.id).await?;
    let after = names_of(&state, &file, newest).await?;
    state
        .db
        .set_text_check(newest.id, after.status, after.findings.len())
        .await?;
    if let Some(file) = state.db.file(file.id).await? {
        tell(&state, &file);
    }
    Ok(Json(after))
}

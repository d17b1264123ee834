//! A school year's export made in the background, for the web app: asked for with
//! `POST /api/schools/{number}/exports`, followed with `GET /api/exports/{id}` (how many
//! registrations are gathered, then ready or failed), fetched with
//! `GET /api/exports/{id}/file`. The node that was asked gathers the registrations one by
//! one and writes how far it is in the database, so that the page may follow it through any
//! node and no request waits on the whole export (docs/architecture.md, "Exports").

use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::body::JsonObject;
use super::exports::{DOCX, attachment, exported, school_year};
use crate::auth::Authenticated;
use crate::db::{Db, ExportJob, Institution, NewExport, Registration};
use crate::error::{AppError, ErrorBody, Forbidden, NotFound, Unauthenticated};
use crate::ids::ExportId;
use crate::report::registration as export;
use crate::state::AppState;

/// Exports one user may have running at once.
const RUNNING_PER_USER: i64 = 3;

/// How often a running export writes how far it is (and the last registration always).
const TELL_EVERY: Duration = Duration::from_millis(250);

/// The file an export makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// A PDF (fonts embedded), to read and print.
    Pdf,
    /// A Word document, to edit.
    Docx,
}

impl ExportFormat {
    fn as_str(self) -> &'static str {
        match self {
            ExportFormat::Pdf => "pdf",
            ExportFormat::Docx => "docx",
        }
    }
}

/// `POST /api/schools/{number}/exports` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewExportBody {
    /// The file to make.
    format: ExportFormat,
    /// The school year (`2026-2027`; default: the current one).
    #[serde(default, with = "super::body::present")]
    #[schema(schema_with = crate::domain::schema::school_year)]
    year: Option<String>,
    /// Include the comment threads (default: no).
    #[serde(default, with = "super::body::present")]
    comments: Option<bool>,
}

/// An export as its maker follows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportView {
    /// Its id.
    #[schema(value_type = String, format = "uuid")]
    id: ExportId,
    /// `pdf` or `docx`.
    format: String,
    /// The file name it is saved under.
    name: String,
    /// `running` (gathering `done` of `total` registrations, then making the file),
    /// `ready` (fetch it from `/api/exports/{id}/file`) or `failed` (ask again).
    status: String,
    /// Registrations gathered.
    done: i64,
    /// Registrations in the export.
    total: i64,
    /// The finished file's size in bytes.
    size: Option<i64>,
    /// When it was asked for (ms since the epoch).
    created_at: i64,
}

impl From<ExportJob> for ExportView {
    fn from(job: ExportJob) -> Self {
        ExportView {
            id: job.id,
            format: job.format,
            name: job.name,
            status: job.status,
            done: job.done,
            total: job.total,
            size: job.size,
            created_at: job.created_at,
        }
    }
}

/// An export named in a path (`/api/exports/{id}`).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ExportPath {
    /// The export's id.
    #[param(format = "uuid")]
    id: String,
}

/// Starts making a school year of a school's registrations as one PDF or Word document
/// (as `export.pdf` and `export.docx` answer it), in the background: the answer says how to
/// follow it. Whoever may export the school year may ask; only they may follow and fetch it.
#[utoipa::path(
    post,
    path = "/api/schools/{number}/exports",
    tag = "schools",
    params(("number" = String, Path, description = "The school's institution number.")),
    request_body = NewExportBody,
    responses(
        (status = 202, description = "The export is being made.", body = ExportView),
        (status = 400, description = "Bad JSON or a bad school year (`bad_request`).", body = ErrorBody),
        (status = 429, description = "Three exports of the caller's are being made already (`too_many_attempts`).", body = ErrorBody),
        Unauthenticated,
        Forbidden,
        NotFound,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn start(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(number): Path<String>,
    body: Result<JsonObject<NewExportBody>, AppError>,
) -> Result<impl IntoResponse, AppError> {
    let JsonObject(body) = body?;
    if state.db.running_exports(&auth.user.id).await? >= RUNNING_PER_USER {
        return Err(AppError::TooManyRequests(5));
    }
    let (school, year, registrations) = school_year(&state, &auth, &number, body.year.as_deref()).await?;
    let name = format!(
        "samenwerkingsdossier-{}-{year}.{}",
        school.number,
        body.format.as_str()
    );
    let new = NewExport {
        by: &auth.user.id,
        school: school.id,
        format: body.format.as_str(),
        name: &name,
        total: registrations.len() as i64,
    };
    let id = state.db.create_export(&new).await?;
    let job = Job {
        id,
        format: body.format,
        comments: body.comments.unwrap_or(false),
        school,
        year,
    };
    tokio::spawn(job.run(state.clone(), registrations));
    let view = state
        .db
        .export(id, &auth.user.id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok((StatusCode::ACCEPTED, Json(ExportView::from(view))))
}

/// One export being made on this node.
struct Job {
    id: ExportId,
    format: ExportFormat,
    comments: bool,
    school: Institution,
    year: String,
}

impl Job {
    /// Makes the export and keeps it, or marks it failed.
    async fn run(self, state: AppState, registrations: Vec<Registration>) {
        let id = self.id;
        let outcome = match self.make(&state, registrations).await {
            Ok(bytes) => state.db.finish_export(id, &bytes).await.map_err(AppError::from),
            Err(err) => Err(err),
        };
        if let Err(err) = outcome {
            tracing::warn!(export = %id, error = %err, "an export failed");
            if let Err(err) = state.db.fail_export(id).await {
                // Unmoved, it reads as failed once it is stale.
                tracing::warn!(export = %id, error = %err, "could not mark an export failed");
            }
        }
    }

    /// The file's bytes: the registrations gathered one by one (how far told as it goes),
    /// then rendered.
    async fn make(&self, state: &AppState, registrations: Vec<Registration>) -> Result<Vec<u8>, AppError> {
        let total = registrations.len();
        let mut all = Vec::with_capacity(total);
        let mut told = Instant::now();
        for registration in registrations {
            all.push(exported(state, registration, self.comments).await?);
            if told.elapsed() >= TELL_EVERY || all.len() == total {
                state.db.export_progress(self.id, all.len() as i64).await?;
                told = Instant::now();
            }
        }
        let report = export::school_year(&self.school, &self.year, &all);
        match self.format {
            ExportFormat::Pdf => super::blocking(move || crate::report::pdf::render(&report)).await,
            ExportFormat::Docx => super::blocking(move || crate::report::docx::render(&report)).await,
        }
    }
}

/// The caller's export named in the path (a malformed id, or another's, is not found).
async fn own_export(db: &Db, auth: &Authenticated, id: &str) -> Result<ExportJob, AppError> {
    let id: ExportId = id.parse().map_err(|_| AppError::NotFound)?;
    db.export(id, &auth.user.id).await?.ok_or(AppError::NotFound)
}

/// How far an export of the caller's is.
#[utoipa::path(
    get,
    path = "/api/exports/{id}",
    tag = "schools",
    params(ExportPath),
    responses(
        (status = 200, description = "The export.", body = ExportView),
        Unauthenticated,
        NotFound,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn progress(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(ExportPath { id }): Path<ExportPath>,
) -> Result<Json<ExportView>, AppError> {
    Ok(Json(own_export(&state.db, &auth, &id).await?.into()))
}

/// The finished file of an export of the caller's (kept for an hour).
#[utoipa::path(
    get,
    path = "/api/exports/{id}/file",
    tag = "schools",
    params(ExportPath),
    responses(
        (status = 200, description = "The file (PDF or Word).", content(
            (Vec<u8> = "application/pdf"),
            (Vec<u8> = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        )),
        (status = 409, description = "The export is still being made, or failed (`conflict`).", body = ErrorBody),
        Unauthenticated,
        NotFound,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn file(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(ExportPath { id }): Path<ExportPath>,
) -> Result<impl IntoResponse, AppError> {
    let job = own_export(&state.db, &auth, &id).await?;
    match job.status.as_str() {
        "ready" => {}
        "failed" => return Err(AppError::Conflict("This export failed: ask for it again.".into())),
        _ => {
            return Err(AppError::Conflict(
                "This export is still being made: wait until its status is ready.".into(),
            ));
        }
    }
    let bytes = state
        .db
        .export_file(job.id, &auth.user.id)
        .await?
        .ok_or(AppError::NotFound)?;
    let mime = match job.format.as_str() {
        "docx" => DOCX,
        _ => "application/pdf",
    };
    Ok(attachment(bytes, mime, &job.name))
}

/// Removes finished and failed exports older than an hour now and every ten minutes,
/// until shutdown.
pub async fn keep_purged(db: Db, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let mut every = tokio::time::interval(Duration::from_secs(600));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = every.tick() => match db.purge_exports(crate::db::now() - crate::db::EXPORT_KEPT_MS).await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(exports = n, "purged old exports"),
                Err(err) => tracing::warn!(error = %err, "could not purge old exports"),
            },
            _ = shutdown.changed() => return,
        }
    }
}

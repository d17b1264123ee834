//! A meeting's report (verslag): as JSON for the printable page, and as a PDF rendered by
//! the server (fonts embedded), for the archive and for whoever was not at the table.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::IntoResponse;

use super::audit::audit_read;
use super::exports::{Shown, pdf_answer};
use super::meeting_close::{discussed, meeting_text, see_registrations};
use super::meetings::{MeetingPath, meeting_for};
use crate::auth::Authenticated;
use crate::error::{AppError, NotFound, Unauthenticated};
use crate::report::{Discussed, MeetingReport};
use crate::state::AppState;

/// The report of a meeting the caller may read, as that caller may read it.
async fn report_of(state: &AppState, auth: &Authenticated, id: &str) -> Result<MeetingReport, AppError> {
    let (meeting, partners) = meeting_for(state, auth, id).await?;
    audit_read(
        &state.db,
        &auth.user.id,
        "meeting.report",
        meeting.id.to_string(),
        None,
    )
    .await?;
    let registrations = if see_registrations(&partners) {
        discussed(state, &state.db.meeting_versions(meeting.id).await?)
            .await?
            .into_iter()
            .map(|(registration, version)| Discussed {
                id: registration.id,
                title: registration.title,
                version: version.meta.name.unwrap_or_default(),
            })
            .collect()
    } else {
        Vec::new()
    };
    let text = meeting_text(state, meeting.id).await?;
    let lscs = state.db.lscs_of(meeting.school_id).await?;
    let second_moments = state.db.second_moments(meeting.id).await?;
    Ok(MeetingReport::new(
        meeting,
        lscs,
        text,
        registrations,
        second_moments,
    ))
}

/// A meeting's report: what its document says, who took part, which registrations were
/// discussed (not for an LSC) and the second moments planned.
#[utoipa::path(
    get,
    path = "/api/meetings/{id}/report",
    tag = "meetings",
    params(MeetingPath),
    responses(
        (status = 200, description = "The report.", body = MeetingReport),
        Unauthenticated,
        NotFound,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn report(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(MeetingPath { id }): Path<MeetingPath>,
) -> Result<Json<MeetingReport>, AppError> {
    Ok(Json(report_of(&state, &auth, &id).await?))
}

/// The report as a PDF (A4, fonts embedded), rendered by the server.
#[utoipa::path(
    get,
    path = "/api/meetings/{id}/report.pdf",
    tag = "meetings",
    params(MeetingPath),
    responses(
        (status = 200, description = "The report as a PDF.", content_type = "application/pdf", body = Vec<u8>),
        Unauthenticated,
        NotFound,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn report_pdf(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(MeetingPath { id }): Path<MeetingPath>,
) -> Result<impl IntoResponse, AppError> {
    let report = report_of(&state, &auth, &id).await?;
    let name = format!(
        "verslag-{}-{}.pdf",
        report.meeting.school_number, report.meeting.held_on
    );
    pdf_answer(report.to_print(), name, Shown::Inline).await
}

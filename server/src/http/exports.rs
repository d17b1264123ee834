//! Exports for the doorlichting: one registration, or a school year of a school's, as a PDF
//! rendered by the server (fonts embedded); the school year's registrations as CSV. Whoever
//! reads the registrations may export them (the school and its CLB; an LSC finds nothing).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use serde::Deserialize;
use utoipa::IntoParams;

use super::access::OnRegistration;
use super::audit::audit_read;
use super::overview::{OverviewQuery, chosen_year};
use super::schools::school_for;
use crate::auth::Authenticated;
use crate::db::{Registration, RegistrationFilter};
use crate::error::{AppError, ErrorBody, NotFound, Unauthenticated};
use crate::ids::DocId;
use crate::report::pdf::{self, Report};
use crate::report::registration::{self as export, Exported, day_of};
use crate::state::AppState;

/// Query of a registration's export.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CommentsQuery {
    /// Include the comment threads (default: no).
    #[serde(default)]
    comments: Option<bool>,
}

/// Query of a school year's exports.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// Include the comment threads (the PDF; default: no).
    #[serde(default)]
    comments: Option<bool>,
    /// The school year (`2026-2027`; default: the current one).
    #[serde(default)]
    #[param(schema_with = crate::domain::schema::school_year)]
    year: Option<String>,
}

/// Everything an export says about one registration.
pub(super) async fn exported(
    state: &AppState,
    registration: Registration,
    comments: bool,
) -> Result<Exported, AppError> {
    let doc = DocId::from(registration.id);
    let doc_state = state.rooms.document_state(doc).await?;
    let sections = super::blocking(move || samen_crdt::text::plain_text_from_state(&doc_state)).await?;
    let versions = state.db.snapshots(doc).await?;
    let threads = match comments {
        true => Some(state.db.threads(registration.id).await?),
        false => None,
    };
    Ok(Exported {
        registration,
        sections,
        versions,
        threads,
    })
}

/// How the browser is to take a file: shown in a tab, or saved.
pub(super) enum Shown {
    /// `inline`: a report to read (and print).
    Inline,
    /// `attachment`: an export to keep.
    Attachment,
}

/// `report` rendered as a PDF answer named `name`.
pub(super) async fn pdf_answer(
    report: Report,
    name: String,
    shown: Shown,
) -> Result<impl IntoResponse, AppError> {
    let disposition = match shown {
        Shown::Inline => "inline",
        Shown::Attachment => "attachment",
    };
    let bytes = super::blocking(move || pdf::render(&report)).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("{disposition}; filename=\"{name}\""),
            ),
        ],
        bytes,
    ))
}

/// One registration as a PDF: what it is, its sections, its history with authors, and its
/// comments if asked (`?comments=true`).
#[utoipa::path(
    get,
    path = "/api/registrations/{id}/export.pdf",
    tag = "registrations",
    params(super::access::RegistrationPath, CommentsQuery),
    responses(
        (status = 200, description = "The registration as a PDF.", content_type = "application/pdf", body = Vec<u8>),
        (status = 400, description = "A bad query (`bad_request`).", body = ErrorBody),
        Unauthenticated,
        NotFound,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn registration_pdf(
    State(state): State<AppState>,
    OnRegistration {
        auth, registration, ..
    }: OnRegistration,
    query: Result<Query<CommentsQuery>, QueryRejection>,
) -> Result<impl IntoResponse, AppError> {
    let Query(query) = query?;
    let (report, stem) = registration_report(&state, &auth, registration, &query).await?;
    pdf_answer(report, format!("{stem}.pdf"), Shown::Attachment).await
}

/// The report of one registration (audited as its export), and its file name without
/// extension.
async fn registration_report(
    state: &AppState,
    auth: &Authenticated,
    registration: Registration,
    query: &CommentsQuery,
) -> Result<(Report, String), AppError> {
    audit_read(
        &state.db,
        &auth.user.id,
        "registration.export",
        registration.id.to_string(),
        None,
    )
    .await?;
    let stem = format!("registratie-{}", registration.id);
    let one = exported(state, registration, query.comments.unwrap_or(false)).await?;
    Ok((export::single(&one), stem))
}

/// `report` rendered as a Word document to keep, named `name`.
async fn docx_answer(report: Report, name: String) -> Result<impl IntoResponse, AppError> {
    let bytes = super::blocking(move || crate::report::docx::render(&report)).await?;
    Ok(attachment(bytes, DOCX, &name))
}

/// The MIME type of a Word document.
pub(super) const DOCX: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";

/// One registration as a Word document, as the PDF holds it (`?comments=true`: with its
/// comments), for who would rather edit it.
#[utoipa::path(
    get,
    path = "/api/registrations/{id}/export.docx",
    tag = "registrations",
    params(super::access::RegistrationPath, CommentsQuery),
    responses(
        (status = 200, description = "The registration as a Word document.",
            content_type = "application/vnd.openxmlformats-officedocument.wordprocessingml.document", body = Vec<u8>),
        (status = 400, description = "A bad query (`bad_request`).", body = ErrorBody),
        Unauthenticated,
        NotFound,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn registration_docx(
    State(state): State<AppState>,
    OnRegistration {
        auth, registration, ..
    }: OnRegistration,
    query: Result<Query<CommentsQuery>, QueryRejection>,
) -> Result<impl IntoResponse, AppError> {
    let Query(query) = query?;
    let (report, stem) = registration_report(&state, &auth, registration, &query).await?;
    docx_answer(report, format!("{stem}.docx")).await
}

/// The school and the registrations of the school year a query asks for.
pub(super) async fn school_year(
    state: &AppState,
    auth: &Authenticated,
    number: &str,
    year: Option<&str>,
) -> Result<(crate::db::Institution, String, Vec<Registration>), AppError> {
    let (school, _) = school_for(state, auth, number).await?;
    let year = chosen_year(year)?;
    let filter = RegistrationFilter {
        school_year: Some(year.clone()),
        ..RegistrationFilter::default()
    };
    let mut registrations = state.db.registrations(school.id, &filter).await?;
    // Oldest first: the year as it went.
    registrations.reverse();
    audit_read(
        &state.db,
        &auth.user.id,
        "school.export",
        school.number.clone(),
        Some(year.clone()),
    )
    .await?;
    Ok((school, year, registrations))
}

/// A school year of a school's registrations as one PDF: a list, then each registration
/// from a new page (sections, history with authors, comments if asked).
#[utoipa::path(
    get,
    path = "/api/schools/{number}/export.pdf",
    tag = "schools",
    params(("number" = String, Path, description = "The school's institution number."), ExportQuery),
    responses(
        (status = 200, description = "The school year as a PDF.", content_type = "application/pdf", body = Vec<u8>),
        (status = 400, description = "A bad school year (`bad_request`).", body = ErrorBody),
        Unauthenticated,
        NotFound,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn school_pdf(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(number): Path<String>,
    query: Result<Query<ExportQuery>, QueryRejection>,
) -> Result<impl IntoResponse, AppError> {
    let Query(query) = query?;
    let (report, stem) = school_year_report(&state, &auth, &number, &query).await?;
    pdf_answer(report, format!("{stem}.pdf"), Shown::Attachment).await
}

/// The report of the school year a query asks for, and its file name without extension.
async fn school_year_report(
    state: &AppState,
    auth: &Authenticated,
    number: &str,
    query: &ExportQuery,
) -> Result<(Report, String), AppError> {
    let (school, year, registrations) = school_year(state, auth, number, query.year.as_deref()).await?;
    let comments = query.comments.unwrap_or(false);
    let mut all = Vec::with_capacity(registrations.len());
    for registration in registrations {
        all.push(exported(state, registration, comments).await?);
    }
    let stem = format!("samenwerkingsdossier-{}-{year}", school.number);
    Ok((export::school_year(&school, &year, &all), stem))
}

/// A school year of a school's registrations as one Word document: a list, then each
/// registration from a new page, as the PDF holds them.
#[utoipa::path(
    get,
    path = "/api/schools/{number}/export.docx",
    tag = "schools",
    params(("number" = String, Path, description = "The school's institution number."), ExportQuery),
    responses(
        (status = 200, description = "The school year as a Word document.",
            content_type = "application/vnd.openxmlformats-officedocument.wordprocessingml.document", body = Vec<u8>),
        (status = 400, description = "A bad school year (`bad_request`).", body = ErrorBody),
        Unauthenticated,
        NotFound,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn school_docx(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(number): Path<String>,
    query: Result<Query<ExportQuery>, QueryRejection>,
) -> Result<impl IntoResponse, AppError> {
    let Query(query) = query?;
    let (report, stem) = school_year_report(&state, &auth, &number, &query).await?;
    docx_answer(report, format!("{stem}.docx")).await
}

/// A cell as a spreadsheet reads it safely: text that would start a formula gets a quote
/// before it (CSV injection).
pub(super) fn cell(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

/// The overview's columns.
const COLUMNS: [&str; 10] = [
    "id",
    "soort",
    "titel",
    "thema",
    "status",
    "gestart door",
    "aangemaakt",
    "laatst gewijzigd",
    "reacties",
    "besproken op overleg",
];

/// A school year's registrations as the overview's rows (text as it is).
async fn overview_rows(
    state: &AppState,
    school: &crate::db::Institution,
    registrations: Vec<Registration>,
) -> Result<Vec<[String; 10]>, AppError> {
    let discussed = state.db.discussed_in_meetings(school.id).await?;
    let mut rows = Vec::with_capacity(registrations.len());
    for r in registrations {
        let threads = state.db.threads(r.id).await?.len();
        let meetings: Vec<String> = discussed
            .iter()
            .filter(|(doc, _)| *doc == DocId::from(r.id))
            .map(|(_, meeting)| meeting.clone())
            .collect();
        rows.push([
            r.id.to_string(),
            r.kind,
            r.title,
            r.theme.unwrap_or_default(),
            r.status,
            r.owner.name,
            day_of(r.created_at),
            day_of(r.updated_at),
            threads.to_string(),
            meetings.join("; "),
        ]);
    }
    Ok(rows)
}

/// A file to keep, named `name`.
pub(super) fn attachment(bytes: Vec<u8>, content_type: &str, name: &str) -> impl IntoResponse + use<> {
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        bytes,
    )
}

/// A school year of a school's registrations as CSV (one row each): for the doorlichting's
/// overview in a spreadsheet.
#[utoipa::path(
    get,
    path = "/api/schools/{number}/overview.csv",
    tag = "schools",
    params(("number" = String, Path, description = "The school's institution number."), OverviewQuery),
    responses(
        (status = 200, description = "The registrations as CSV (UTF-8, comma-separated, a header row).",
            content_type = "text/csv", body = String),
        (status = 400, description = "A bad school year (`bad_request`).", body = ErrorBody),
        Unauthenticated,
        NotFound,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn school_csv(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(number): Path<String>,
    query: Result<Query<OverviewQuery>, QueryRejection>,
) -> Result<impl IntoResponse, AppError> {
    let Query(query) = query?;
    let (school, year, registrations) = school_year(&state, &auth, &number, query.year.as_deref()).await?;
    let rows = overview_rows(&state, &school, registrations).await?;
    let mut out = csv::Writer::from_writer(Vec::new());
    let failed = |e: csv::Error| AppError::Internal(e.to_string());
    out.write_record(COLUMNS).map_err(failed)?;
    for row in rows {
        out.write_record(row.iter().map(|text| cell(text)))
            .map_err(failed)?;
    }
    let bytes = out.into_inner().map_err(|e| AppError::Internal(e.to_string()))?;
    let name = format!("overzicht-{}-{year}.csv", school.number);
    Ok(attachment(bytes, "text/csv; charset=utf-8", &name))
}

/// The same overview as an Excel workbook: a header row that stays in view, a filter on
/// every column, widths to fit. Text is written as text, never as a formula.
#[utoipa::path(
    get,
    path = "/api/schools/{number}/overview.xlsx",
    tag = "schools",
    params(("number" = String, Path, description = "The school's institution number."), OverviewQuery),
    responses(
        (status = 200, description = "The registrations as an Excel workbook.",
            content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", body = Vec<u8>),
        (status = 400, description = "A bad school year (`bad_request`).", body = ErrorBody),
        Unauthenticated,
        NotFound,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn school_xlsx(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(number): Path<String>,
    query: Result<Query<OverviewQuery>, QueryRejection>,
) -> Result<impl IntoResponse, AppError> {
    let Query(query) = query?;
    let (school, year, registrations) = school_year(&state, &auth, &number, query.year.as_deref()).await?;
    let rows = overview_rows(&state, &school, registrations).await?;
    let title = format!("{} {year}", school.name);
    let bytes = super::blocking(move || workbook(&title, &rows)).await?;
    let name = format!("overzicht-{}-{year}.xlsx", school.number);
    Ok(attachment(
        bytes,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        &name,
    ))
}

/// The overview's rows as the bytes of an Excel workbook.
fn workbook(title: &str, rows: &[[String; 10]]) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    use rust_xlsxwriter::{Format, Workbook};
    let mut book = Workbook::new();
    book.set_properties(&rust_xlsxwriter::DocProperties::new().set_title(title));
    let sheet = book.add_worksheet().set_name("Registraties")?;
    let bold = Format::new().set_bold();
    let mut widths: Vec<usize> = COLUMNS.iter().map(|c| c.chars().count()).collect();
    for (col, name) in COLUMNS.iter().enumerate() {
        sheet.write_string_with_format(0, col as u16, *name, &bold)?;
    }
    for (i, row) in rows.iter().enumerate() {
        for (col, text) in row.iter().enumerate() {
            sheet.write_string(i as u32 + 1, col as u16, text)?;
            widths[col] = widths[col].max(text.chars().count().min(60));
        }
    }
    for (col, width) in widths.iter().enumerate() {
        sheet.set_column_width(col as u16, *width as f64 + 2.0)?;
    }
    sheet.set_freeze_panes(1, 0)?;
    sheet.autofilter(0, 0, rows.len() as u32, COLUMNS.len() as u16 - 1)?;
    book.save_to_buffer()
}

#[cfg(test)]
mod tests {
    use super::cell;

    #[test]
    fn cells_that_would_be_formulas_are_quoted() {
        assert_eq!(cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(cell("+32 9"), "'+32 9");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(cell("Pesten op de speelplaats"), "Pesten op de speelplaats");
    }
}

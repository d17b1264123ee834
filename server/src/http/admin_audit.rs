//! The audit log for a platform administrator (`/api/admin/audit`): who read or changed
//! what, filtered by person, item, action, outcome and time, a page at a time, and the same
//! as a CSV file. Reading the log is itself recorded (`audit.read`, once an hour per filter).

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::admin::admin_scope;
use super::audit::audit_read;
use super::exports::{attachment, cell};
use crate::auth::Authenticated;
use crate::db::{AuditFilter, AuditView};
use crate::error::{AppError, ErrorBody, Forbidden, Unauthenticated};
use crate::state::AppState;

/// Rows in one page unless `limit` says otherwise, and at most.
const PAGE: i64 = 100;
const MAX_PAGE: i64 = 500;
/// Rows in one CSV export at most.
const MAX_EXPORT: i64 = 100_000;

/// `GET /api/admin/audit` query.
#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct AuditQuery {
    /// Whose: an e-mail address, a user id, or `cli` (the command line).
    user: Option<String>,
    /// About which item: a registration id, a school number, … (as the row names it).
    target: Option<String>,
    /// Actions that start with this, e.g. `login` or `membership.`.
    action: Option<String>,
    /// `ok`, `denied` or `not_found`.
    outcome: Option<String>,
    /// From this time on (ms since the epoch).
    since: Option<i64>,
    /// Before this time (ms since the epoch).
    until: Option<i64>,
    /// Rows older than this row id (`next_before` of the page before).
    before: Option<i64>,
    /// Rows in the page: 1 to 500, default 100.
    limit: Option<i64>,
}

impl AuditQuery {
    /// The filter this query asks for; 400 for a value that cannot be one.
    async fn filter(&self, state: &AppState) -> Result<AuditFilter, AppError> {
        let text = |value: &Option<String>, what: &str| -> Result<Option<String>, AppError> {
            match value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
                Some(v) if v.chars().count() > 200 => Err(AppError::BadRequest(format!(
                    "{what} may be at most 200 characters"
                ))),
                other => Ok(other.map(str::to_owned)),
            }
        };
        let actor = match text(&self.user, "user")? {
            None => None,
            Some(cli) if cli == "cli" => Some(cli),
            Some(person) if person.contains('@') => Some(match state.db.user_by_email(&person).await? {
                Some((user, _)) => user.id.to_string(),
                // Nobody with this address wrote anything.
                None => person,
            }),
            Some(id) => Some(id),
        };
        let outcome = text(&self.outcome, "outcome")?;
        if outcome
            .as_deref()
            .is_some_and(|o| !["ok", "denied", "not_found"].contains(&o))
        {
            return Err(AppError::BadRequest(
                "outcome must be ok, denied or not_found".into(),
            ));
        }
        Ok(AuditFilter {
            actor,
            target: text(&self.target, "target")?,
            action: text(&self.action, "action")?,
            outcome,
            since: self.since,
            until: self.until,
            before: self.before,
            limit: None,
            within: None,
        })
    }

    /// What the filter was, for the `audit.read` entry.
    fn described(&self) -> String {
        let parts = [
            ("user", self.user.as_deref()),
            ("target", self.target.as_deref()),
            ("action", self.action.as_deref()),
            ("outcome", self.outcome.as_deref()),
        ];
        let mut text: Vec<String> = parts
            .iter()
            .filter_map(|(k, v)| {
                v.filter(|v| !v.trim().is_empty())
                    .map(|v| format!("{k}={}", v.trim()))
            })
            .collect();
        text.extend(self.since.map(|s| format!("since={s}")));
        text.extend(self.until.map(|u| format!("until={u}")));
        text.join(" ").chars().take(500).collect()
    }
}

/// A page of the audit log.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    /// Newest first.
    pub entries: Vec<AuditView>,
    /// The `before` of the next page; `null` when this is the last.
    #[schema(required = true)]
    pub next_before: Option<i64>,
}

/// The audit log, newest first, a page at a time: who read or changed what, and what was
/// refused.
#[utoipa::path(
    get,
    path = "/api/admin/audit",
    tag = "admin",
    params(AuditQuery),
    responses(
        (status = 200, description = "A page of the log.", body = AuditPage),
        (status = 400, description = "A filter that cannot be one (`bad_request`).", body = ErrorBody),
        Unauthenticated,
        Forbidden,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn page(
    State(state): State<AppState>,
    auth: Authenticated,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Json<AuditPage>, AppError> {
    let scope = admin_scope(&state, &auth).await?;
    let Query(query) = query?;
    let limit = query.limit.unwrap_or(PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(AppError::BadRequest(format!("limit must be 1 to {MAX_PAGE}")));
    }
    let filter = AuditFilter {
        limit: Some(limit + 1),
        within: scope.within().map(ToString::to_string),
        ..query.filter(&state).await?
    };
    audit_read(
        &state.db,
        &auth.user.id,
        "audit.read",
        "audit log".into(),
        Some(query.described()),
    )
    .await?;
    let mut entries = state.db.audit_page(&filter).await?;
    let more = entries.len() > usize::try_from(limit).unwrap_or(usize::MAX);
    entries.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next_before = more.then(|| entries.last().map(|e| e.id)).flatten();
    Ok(Json(AuditPage { entries, next_before }))
}

/// The CSV export's columns.
const COLUMNS: [&str; 8] = [
    "id",
    "tijdstip (UTC)",
    "wie",
    "e-mailadres",
    "actie",
    "doel",
    "uitkomst",
    "detail",
];

/// The audit log as CSV, oldest first (at most 100,000 rows: narrow the filter for more).
#[utoipa::path(
    get,
    path = "/api/admin/audit.csv",
    tag = "admin",
    params(AuditQuery),
    responses(
        (status = 200, description = "The matching rows as CSV (UTF-8, comma-separated, a header row).",
            content_type = "text/csv", body = String),
        (status = 400, description = "A filter that cannot be one (`bad_request`).", body = ErrorBody),
        Unauthenticated,
        Forbidden,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn csv(
    State(state): State<AppState>,
    auth: Authenticated,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<impl IntoResponse, AppError> {
    let scope = admin_scope(&state, &auth).await?;
    let Query(query) = query?;
    let filter = AuditFilter {
        limit: Some(MAX_EXPORT),
        before: None,
        within: scope.within().map(ToString::to_string),
        ..query.filter(&state).await?
    };
    audit_read(
        &state.db,
        &auth.user.id,
        "audit.export",
        "audit log".into(),
        Some(query.described()),
    )
    .await?;
    // Newest first as the page shows them; the file lists them in the order they happened.
    let mut rows = state.db.audit_page(&filter).await?;
    rows.reverse();
    let mut out = ::csv::Writer::from_writer(Vec::new());
    let failed = |e: ::csv::Error| AppError::Internal(e.to_string());
    out.write_record(COLUMNS).map_err(failed)?;
    for row in rows {
        let when = time::OffsetDateTime::from_unix_timestamp(row.at.div_euclid(1000))
            .map(|t| format!("{} {:02}:{:02}:{:02}", t.date(), t.hour(), t.minute(), t.second()))
            .unwrap_or_default();
        let (name, email) = match &row.actor {
            Some(actor) => (actor.display_name.clone(), actor.email.clone()),
            None => (row.actor_id.clone().unwrap_or_default(), String::new()),
        };
        let fields = [
            row.id.to_string(),
            when,
            name,
            email,
            row.action,
            row.target.unwrap_or_default(),
            row.outcome,
            row.detail.unwrap_or_default(),
        ];
        out.write_record(fields.iter().map(|f| cell(f))).map_err(failed)?;
    }
    let bytes = out.into_inner().map_err(|e| AppError::Internal(e.to_string()))?;
    let day = time::OffsetDateTime::now_utc().date();
    Ok(attachment(
        bytes,
        "text/csv; charset=utf-8",
        &format!("samen-auditlog-{day}.csv"),
    ))
}

//! The overview of a school's registrations for the doorlichting: counts by kind, theme and
//! status in a school year, what is open and for how long, when each last saw activity,
//! which were discussed at a meeting, and the trend over the school years.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::audit::audit_read;
use super::schools::school_for;
use crate::auth::Authenticated;
use crate::db::{Institution, RegistrationFilter, now};
use crate::domain;
use crate::error::{AppError, ErrorBody, NotFound, Unauthenticated};
use crate::ids::{DocId, RegistrationId};
use crate::state::AppState;

/// How many open registrations the overview lists, the longest open first.
const LONGEST_OPEN: usize = 10;
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// Query of the overview.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OverviewQuery {
    /// The school year (`2026-2027`; default: the current one).
    #[serde(default)]
    #[param(schema_with = crate::domain::schema::school_year)]
    year: Option<String>,
}

/// How many registrations have a kind or a theme, and how many of those are open.
#[derive(Debug, Serialize, ToSchema)]
pub struct Count {
    /// The kind or the theme (`""`: no theme).
    pub key: String,
    /// All of them.
    pub total: usize,
    /// The open ones.
    pub open: usize,
}

/// An open registration and how long it has been open.
#[derive(Debug, Serialize, ToSchema)]
pub struct OpenRegistration {
    /// Its id.
    #[schema(value_type = String, format = "uuid")]
    pub id: RegistrationId,
    /// Its title.
    pub title: String,
    /// `signal` or `consultation`.
    pub kind: String,
    /// Its theme.
    #[schema(required = true)]
    pub theme: Option<String>,
    /// Whole days since it was started.
    pub days_open: i64,
    /// The last activity: a change of its details or text, or a comment (ms since the epoch).
    pub last_activity: i64,
}

/// One school year in the trend.
#[derive(Debug, Serialize, ToSchema)]
pub struct YearCount {
    /// The school year.
    pub year: String,
    /// Signals started that year.
    pub signals: usize,
    /// Consultations started that year.
    pub consultations: usize,
    /// Of those, still open.
    pub open: usize,
}

/// A registration discussed at a meeting (a version named when the meeting closed).
#[derive(Debug, Serialize, ToSchema)]
pub struct Discussed {
    /// Its id.
    #[schema(value_type = String, format = "uuid")]
    pub id: RegistrationId,
    /// Its title.
    pub title: String,
    /// The meetings ("<titel> (<dag>)").
    pub meetings: Vec<String>,
}

/// A school's overview for one school year.
#[derive(Debug, Serialize, ToSchema)]
pub struct SchoolOverview {
    /// The school.
    pub school: Institution,
    /// The school year.
    pub year: String,
    /// Registrations started that year.
    pub total: usize,
    /// Of those, open.
    pub open: usize,
    /// By kind (`signal`, `consultation`), both always present.
    pub by_kind: Vec<Count>,
    /// By theme, the most frequent first.
    pub by_theme: Vec<Count>,
    /// The open ones, the longest open first (at most ten).
    pub longest_open: Vec<OpenRegistration>,
    /// The last activity on any of them (ms since the epoch).
    #[schema(required = true)]
    pub last_activity: Option<i64>,
    /// Those discussed at a meeting.
    pub discussed: Vec<Discussed>,
    /// Every school year with registrations, the earliest first.
    pub years: Vec<YearCount>,
}

/// A school's overview for the doorlichting: one school year's registrations by kind,
/// theme and status, the longest open with their last activity, those discussed at a
/// meeting, and the trend over the years. For the school and its CLB.
#[utoipa::path(
    get,
    path = "/api/schools/{number}/overview",
    tag = "schools",
    params(("number" = String, Path, description = "The school's institution number."), OverviewQuery),
    responses(
        (status = 200, description = "The overview.", body = SchoolOverview),
        (status = 400, description = "A bad school year (`bad_request`).", body = ErrorBody),
        Unauthenticated,
        NotFound,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn school(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(number): Path<String>,
    query: Result<Query<OverviewQuery>, QueryRejection>,
) -> Result<Json<SchoolOverview>, AppError> {
    let Query(query) = query?;
    let (school, _) = school_for(&state, &auth, &number).await?;
    let year = match &query.year {
        Some(year) => domain::school_year(year).map_err(AppError::BadRequest)?,
        None => domain::current_school_year(),
    };
    audit_read(
        &state.db,
        &auth.user.id,
        "school.overview",
        school.number.clone(),
        Some(year.clone()),
    )
    .await?;
    let all = state
        .db
        .registrations(school.id, &RegistrationFilter::default())
        .await?;
    let activity = state.db.last_activity(school.id).await?;
    let discussed_in = state.db.discussed_in_meetings(school.id).await?;

    let mut years: BTreeMap<String, YearCount> = BTreeMap::new();
    for r in &all {
        let y = years.entry(r.school_year.clone()).or_insert_with(|| YearCount {
            year: r.school_year.clone(),
            signals: 0,
            consultations: 0,
            open: 0,
        });
        if r.kind == "signal" {
            y.signals += 1;
        } else {
            y.consultations += 1;
        }
        if r.status == "open" {
            y.open += 1;
        }
    }
    let this_year: Vec<_> = all.into_iter().filter(|r| r.school_year == year).collect();
    let count = |key: &dyn Fn(&crate::db::Registration) -> String| -> Vec<Count> {
        let mut counts: BTreeMap<String, Count> = BTreeMap::new();
        for r in &this_year {
            let k = key(r);
            let c = counts.entry(k.clone()).or_insert(Count {
                key: k,
                total: 0,
                open: 0,
            });
            c.total += 1;
            if r.status == "open" {
                c.open += 1;
            }
        }
        let mut list: Vec<Count> = counts.into_values().collect();
        list.sort_by(|a, b| b.total.cmp(&a.total).then(a.key.cmp(&b.key)));
        list
    };
    let mut by_kind = count(&|r| r.kind.clone());
    for kind in ["signal", "consultation"] {
        if !by_kind.iter().any(|c| c.key == kind) {
            by_kind.push(Count {
                key: kind.into(),
                total: 0,
                open: 0,
            });
        }
    }
    let by_theme = count(&|r| r.theme.clone().unwrap_or_default());
    let last = |r: &crate::db::Registration| activity.get(&r.id).copied().unwrap_or(0).max(r.updated_at);
    let at = now();
    let mut open: Vec<&crate::db::Registration> = this_year.iter().filter(|r| r.status == "open").collect();
    open.sort_by_key(|r| (r.created_at, r.id));
    let longest_open = open
        .iter()
        .take(LONGEST_OPEN)
        .map(|r| OpenRegistration {
            id: r.id,
            title: r.title.clone(),
            kind: r.kind.clone(),
            theme: r.theme.clone(),
            days_open: (at - r.created_at).max(0) / DAY_MS,
            last_activity: last(r),
        })
        .collect();
    let discussed = this_year
        .iter()
        .filter_map(|r| {
            let meetings: Vec<String> = discussed_in
                .iter()
                .filter(|(doc, _)| *doc == DocId::from(r.id))
                .map(|(_, meeting)| meeting.clone())
                .collect();
            (!meetings.is_empty()).then(|| Discussed {
                id: r.id,
                title: r.title.clone(),
                meetings,
            })
        })
        .collect();
    Ok(Json(SchoolOverview {
        total: this_year.len(),
        open: open.len(),
        last_activity: this_year.iter().map(last).max(),
        by_kind,
        by_theme,
        longest_open,
        discussed,
        years: years.into_values().collect(),
        school,
        year,
    }))
}

//! The overview of a school's registrations for the doorlichting: counts by kind, theme and
//! status in a school year, what is open and for how long, when each last saw activity,
//! which were discussed at a meeting, and the trend over the school years.

use std::collections::{BTreeMap, HashMap};

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::audit::audit_read;
use super::schools::school_for;
use crate::access::SchoolAccess;
use crate::auth::Authenticated;
use crate::db::{Institution, Registration, RegistrationFilter, now};
use crate::domain;
use crate::error::{AppError, ErrorBody, Forbidden, NotFound, Unauthenticated};
use crate::ids::{DocId, InstitutionId, RegistrationId};
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
    pub(super) year: Option<String>,
}

/// The school year a query asks for: the one given (checked), else the current one.
pub(super) fn chosen_year(year: Option<&str>) -> Result<String, AppError> {
    match year {
        Some(year) => domain::school_year(year).map_err(AppError::BadRequest),
        None => Ok(domain::current_school_year()),
    }
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
pub struct DiscussedRegistration {
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
    pub discussed: Vec<DiscussedRegistration>,
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
    let year = chosen_year(query.year.as_deref())?;
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
            (!meetings.is_empty()).then(|| DiscussedRegistration {
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

/// A theme and the schools where it recurs (a *rode draad* when it is more than one).
#[derive(Debug, Serialize, ToSchema)]
pub struct RecurringTheme {
    /// The theme (`""`: no theme).
    pub theme: String,
    /// The schools with registrations on it that school year, the most first.
    pub schools: Vec<SchoolCount>,
}

/// How many registrations a school has on a theme.
#[derive(Debug, Serialize, ToSchema)]
pub struct SchoolCount {
    /// The school's institution number.
    pub number: String,
    /// Its name.
    pub name: String,
    /// Registrations.
    pub count: usize,
}

/// An open signal and how long it has waited for the school's reaction.
#[derive(Debug, Serialize, ToSchema)]
pub struct Waiting {
    /// The registration's id.
    #[schema(value_type = String, format = "uuid")]
    pub id: RegistrationId,
    /// Its title.
    pub title: String,
    /// The school's institution number.
    pub school_number: String,
    /// The school's name.
    pub school_name: String,
    /// Whole days since the school last commented on it (or since it was started).
    pub days_waiting: i64,
    /// Whether the school ever commented on it.
    pub reacted: bool,
}

/// A school's figures in the CLB's overview.
#[derive(Debug, Serialize, ToSchema)]
pub struct SchoolLine {
    /// The school's institution number.
    pub number: String,
    /// Its name.
    pub name: String,
    /// Registrations that school year.
    pub total: usize,
    /// Of those, open.
    pub open: usize,
}

/// The CLB's overview across its schools for one school year.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClbOverview {
    /// The school year.
    pub year: String,
    /// Every school the caller serves as CLB staff, by name.
    pub schools: Vec<SchoolLine>,
    /// Every theme with the schools where it came up, those in the most schools first.
    pub threads: Vec<RecurringTheme>,
    /// Open signals, the longest waiting for the school's reaction first (at most 15).
    pub waiting: Vec<Waiting>,
}

/// How many waiting signals the CLB's overview lists.
const MOST_WAITING: usize = 15;

/// The CLB's overview across all the schools it serves: which themes recur in which
/// schools (the rode draden) and which signals wait longest for a school's reaction (a
/// comment by one of its members). For CLB staff only (403 for anyone else).
#[utoipa::path(
    get,
    path = "/api/clb/overview",
    tag = "schools",
    params(OverviewQuery),
    responses(
        (status = 200, description = "The overview across the caller's schools.", body = ClbOverview),
        (status = 400, description = "A bad school year (`bad_request`).", body = ErrorBody),
        Unauthenticated,
        Forbidden,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn clb(
    State(state): State<AppState>,
    auth: Authenticated,
    query: Result<Query<OverviewQuery>, QueryRejection>,
) -> Result<Json<ClbOverview>, AppError> {
    let Query(query) = query?;
    let schools: Vec<Institution> = state
        .db
        .visible_schools(&auth.user.id)
        .await?
        .into_iter()
        .filter(|(school, access)| *access == SchoolAccess::Clb && auth.reaches(school.id))
        .map(|(school, _)| school)
        .collect();
    if schools.is_empty() {
        return Err(AppError::Forbidden(
            "The overview across schools is for CLB staff: it shows the schools their CLB serves.".into(),
        ));
    }
    let year = chosen_year(query.year.as_deref())?;
    audit_read(&state.db, &auth.user.id, "clb.overview", year.clone(), None).await?;
    let filter = RegistrationFilter {
        school_year: Some(year.clone()),
        ..RegistrationFilter::default()
    };
    let at = now();
    let ids: Vec<InstitutionId> = schools.iter().map(|s| s.id).collect();
    let mut by_school: HashMap<InstitutionId, Vec<Registration>> = HashMap::new();
    for r in state.db.registrations_in(&ids, &filter).await? {
        by_school.entry(r.school_id).or_default().push(r);
    }
    let reactions = state.db.last_school_reactions(&ids, &year).await?;
    let mut lines = Vec::new();
    let mut themes: BTreeMap<String, Vec<SchoolCount>> = BTreeMap::new();
    let mut waiting = Vec::new();
    for school in &schools {
        let registrations = by_school.remove(&school.id).unwrap_or_default();
        lines.push(SchoolLine {
            number: school.number.clone(),
            name: school.name.clone(),
            total: registrations.len(),
            open: registrations.iter().filter(|r| r.status == "open").count(),
        });
        let mut per_theme: BTreeMap<String, usize> = BTreeMap::new();
        for r in &registrations {
            *per_theme.entry(r.theme.clone().unwrap_or_default()).or_default() += 1;
            if r.kind == "signal" && r.status == "open" {
                let reacted = reactions.get(&r.id).copied();
                waiting.push(Waiting {
                    id: r.id,
                    title: r.title.clone(),
                    school_number: school.number.clone(),
                    school_name: school.name.clone(),
                    days_waiting: (at - reacted.unwrap_or(r.created_at)).max(0) / DAY_MS,
                    reacted: reacted.is_some(),
                });
            }
        }
        for (theme, count) in per_theme {
            themes.entry(theme).or_default().push(SchoolCount {
                number: school.number.clone(),
                name: school.name.clone(),
                count,
            });
        }
    }
    let mut threads: Vec<RecurringTheme> = themes
        .into_iter()
        .map(|(theme, mut schools)| {
            schools.sort_by(|a, b| b.count.cmp(&a.count).then(a.name.cmp(&b.name)));
            RecurringTheme { theme, schools }
        })
        .collect();
    threads.sort_by(|a, b| b.schools.len().cmp(&a.schools.len()).then(a.theme.cmp(&b.theme)));
    waiting.sort_by(|a, b| b.days_waiting.cmp(&a.days_waiting).then(a.title.cmp(&b.title)));
    waiting.truncate(MOST_WAITING);
    lines.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Json(ClbOverview {
        year,
        schools: lines,
        threads,
        waiting,
    }))
}

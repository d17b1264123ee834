//! `GET /api/search` (issue 18): everything the caller may read that matches a query —
//! registrations' titles, sections and comments, and documents' names — with Dutch
//! inflections and compounds found (`pesten` finds `gepest`, `pestgedrag`), accents folded,
//! and filters. Only schools whose registrations the caller may read are searched: a
//! school's member never finds another school's words, an LSC's staff no registration.

use std::collections::HashMap;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::audit::audit_read;
use crate::access::SchoolAccess;
use crate::auth::Authenticated;
use crate::db::{Institution, Registration};
use crate::error::{AppError, ErrorBody, Unauthenticated};
use crate::ids::RegistrationId;
use crate::state::AppState;

/// The longest query (characters).
const MAX_QUERY_CHARS: usize = 200;
/// The most hits an answer holds.
const MAX_HITS: usize = 50;
/// How many hits are read before the filters (kind, theme, status, year) are applied.
const READ_HITS: usize = 500;

/// `GET /api/search` parameters.
#[derive(Debug, Deserialize, IntoParams)]
pub struct SearchQuery {
    /// What to find (words; every word must match).
    #[param(min_length = 1, max_length = 200)]
    q: String,
    /// Only this school (its institution number).
    #[serde(default)]
    school: Option<String>,
    /// Only this school year (`2026-2027`).
    #[serde(default)]
    year: Option<String>,
    /// Only `signal` or `consultation`.
    #[serde(default)]
    kind: Option<String>,
    /// Only this theme.
    #[serde(default)]
    theme: Option<String>,
    /// Only `open` or `closed`.
    #[serde(default)]
    status: Option<String>,
}

/// The registration a hit belongs to.
#[derive(Debug, Serialize, ToSchema)]
pub struct HitRegistration {
    #[schema(value_type = String, format = "uuid")]
    pub id: RegistrationId,
    pub title: String,
    /// `signal` or `consultation`.
    pub kind: String,
    #[schema(required = true)]
    pub theme: Option<String>,
    /// `open` or `closed`.
    pub status: String,
    pub school_year: String,
}

/// One piece of text that matches.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResult {
    /// The school it belongs to.
    pub school: Institution,
    /// The registration it belongs to; `null` for a school's own document.
    #[schema(required = true)]
    pub registration: Option<HitRegistration>,
    /// Where in it: `title`, a section (`summary`, `advice`, …), `comment` or `file`.
    pub part: String,
    /// The text around the first match (up to about 200 characters).
    pub snippet: String,
    /// The matching words in `snippet`, as character offsets `[start, end)`.
    pub highlights: Vec<[usize; 2]>,
    /// When the text last changed (ms since the epoch).
    pub updated_at: i64,
}

/// `GET /api/search` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResults {
    /// Last changed first, at most 50.
    pub results: Vec<SearchResult>,
}

/// Searches what the caller may read: registrations' titles, sections and comments, and
/// documents' names, of the schools whose registrations the caller may read (its own
/// school, or the schools its CLB serves). Dutch words are found in their inflections and
/// in compounds, accents folded; every word of the query must match.
#[utoipa::path(
    get,
    path = "/api/search",
    tag = "search",
    params(SearchQuery),
    responses(
        (status = 200, description = "What matches, last changed first.", body = SearchResults),
        (status = 400, description = "No query, or one over 200 characters (`bad_request`).", body = ErrorBody),
        Unauthenticated,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn search(
    State(state): State<AppState>,
    auth: Authenticated,
    query: Result<Query<SearchQuery>, QueryRejection>,
) -> Result<Json<SearchResults>, AppError> {
    let Query(query) = query?;
    let q = query.q.trim();
    if q.is_empty() || q.chars().count() > MAX_QUERY_CHARS {
        return Err(AppError::BadRequest(format!(
            "q: give the words to find (1 to {MAX_QUERY_CHARS} characters)"
        )));
    }
    let schools: HashMap<_, Institution> = state
        .db
        .visible_schools(&auth.user.id)
        .await?
        .into_iter()
        .filter(|(school, access)| {
            matches!(access, SchoolAccess::Clb | SchoolAccess::School)
                && auth.reaches(school.id)
                && query.school.as_ref().is_none_or(|n| *n == school.number)
        })
        .map(|(school, _)| (school.id, school))
        .collect();
    audit_read(&state.db, &auth.user.id, "search", String::new(), None).await?;
    let ids: Vec<_> = schools.keys().copied().collect();
    let hits = crate::search::find(&state.db, q, &ids, READ_HITS).await?;
    let mut registrations: HashMap<RegistrationId, Option<Registration>> = HashMap::new();
    let mut results = Vec::new();
    for hit in hits {
        let registration = match hit.registration {
            Some(id) => {
                if let std::collections::hash_map::Entry::Vacant(slot) = registrations.entry(id) {
                    slot.insert(state.db.registration(id).await?);
                }
                match registrations.get(&id).and_then(Option::as_ref) {
                    Some(r) => Some(r),
                    None => continue,
                }
            }
            None => None,
        };
        let wanted = match registration {
            Some(r) => {
                query.year.as_ref().is_none_or(|y| *y == r.school_year)
                    && query.kind.as_ref().is_none_or(|k| *k == r.kind)
                    && query.theme.as_ref().is_none_or(|t| r.theme.as_ref() == Some(t))
                    && query.status.as_ref().is_none_or(|s| *s == r.status)
            }
            // A school's own document has no year, kind, theme or status.
            None => [&query.year, &query.kind, &query.theme, &query.status]
                .iter()
                .all(|f| f.is_none()),
        };
        let Some(school) = schools.get(&hit.school) else {
            continue;
        };
        if !wanted {
            continue;
        }
        results.push(SearchResult {
            school: school.clone(),
            registration: registration.map(|r| HitRegistration {
                id: r.id,
                title: r.title.clone(),
                kind: r.kind.clone(),
                theme: r.theme.clone(),
                status: r.status.clone(),
                school_year: r.school_year.clone(),
            }),
            part: hit.part,
            snippet: hit.snippet,
            highlights: hit.highlights,
            updated_at: hit.updated_at,
        });
        if results.len() == MAX_HITS {
            break;
        }
    }
    Ok(Json(SearchResults { results }))
}

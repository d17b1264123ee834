//! `GET /api/search` (issue 18): everything the caller may read that matches a query —
//! registrations' titles, sections and comments, meetings' titles and parts, a school and
//! an LSC's agreements, and documents' names — with Dutch inflections and compounds found
//! (`pesten` finds `gepest`, `pestgedrag`), accents folded, most relevant first, and
//! filters. Only what the caller may read is searched: a school's member never finds
//! another school's words, an LSC's staff no registration, a CLB's staff no agreements.

use std::collections::HashMap;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::audit::audit_read;
use crate::access::SchoolAccess;
use crate::auth::Authenticated;
use crate::db::{Institution, SearchFilter, SearchScope};
use crate::error::{AppError, ErrorBody, NotFound, Unauthenticated};
use crate::ids::{InstitutionId, RegistrationId};
use crate::state::AppState;

/// The longest query (characters).
const MAX_QUERY_CHARS: usize = 200;
/// The most hits an answer holds.
const MAX_HITS: usize = 50;

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
    /// Only `signal` or `consultation` registrations, or only `meeting`s or `agreements`.
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

/// The meeting (schoolbeeldoverleg) a hit belongs to.
#[derive(Debug, Serialize, ToSchema)]
pub struct HitMeeting {
    #[schema(value_type = String, format = "uuid")]
    pub id: crate::ids::MeetingId,
    pub title: String,
    /// The day it is held (`YYYY-MM-DD`).
    pub held_on: String,
    pub school_year: String,
}

/// The agreements of a school and an LSC a hit belongs to.
#[derive(Debug, Serialize, ToSchema)]
pub struct HitAgreement {
    #[schema(value_type = String, format = "uuid")]
    pub id: crate::ids::AgreementId,
    /// The learning-support centre.
    pub lsc: Institution,
}

/// One piece of text that matches.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResult {
    /// The school it belongs to.
    pub school: Institution,
    /// The registration it belongs to, if it is part of one.
    #[schema(required = true)]
    pub registration: Option<HitRegistration>,
    /// The meeting it belongs to, if it is part of one.
    #[schema(required = true)]
    pub meeting: Option<HitMeeting>,
    /// The agreements it belongs to, if it is part of a school and an LSC's. All three
    /// `null`: a school's own document.
    #[schema(required = true)]
    pub agreement: Option<HitAgreement>,
    /// Where in it: `title`; a registration's section (`summary`, `advice`, …); a meeting's
    /// part by its root (`work_plan`, `report`, `p.<id>.title`, `p.<id>.school`,
    /// `actions.<id>`, …); the agreements' `agreements` or `report`; `comment`; or `file`.
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
    /// Most relevant first (among the 200 most recently changed matches), the hits of one
    /// registration, meeting or agreements together; at most 50.
    pub results: Vec<SearchResult>,
}

/// The kinds a search may keep to.
const KINDS: [&str; 4] = ["signal", "consultation", "meeting", "agreements"];

/// The schools whose registrations the caller may read (their own, or their CLB's), within
/// the credential's reach, by id.
async fn readable_schools(
    state: &AppState,
    auth: &Authenticated,
) -> Result<HashMap<InstitutionId, Institution>, AppError> {
    Ok(state
        .db
        .visible_schools(&auth.user.id)
        .await?
        .into_iter()
        .filter(|(school, access)| {
            matches!(access, SchoolAccess::Clb | SchoolAccess::School) && auth.reaches(school.id)
        })
        .map(|(school, _)| (school.id, school))
        .collect())
}

/// Searches what the caller may read: registrations' titles, sections and comments and
/// documents' names, of the schools whose registrations the caller may read (its own
/// school, or the schools its CLB serves); the meetings of every school at whose table the
/// caller sits; a school and an LSC's agreements, for that school's members and that LSC's
/// staff. Dutch words are found in their inflections and in compounds, accents folded;
/// every word of the query must match. Most relevant first: a match in a title counts most,
/// the word itself more than in a compound, more mentions more, a short text more than a
/// long one.
#[utoipa::path(
    get,
    path = "/api/search",
    tag = "search",
    params(SearchQuery),
    responses(
        (status = 200, description = "What matches, most relevant first.", body = SearchResults),
        (status = 400, description = "No query, one over 200 characters, or an unknown kind (`bad_request`).", body = ErrorBody),
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
    if let Some(kind) = &query.kind
        && !KINDS.contains(&kind.as_str())
    {
        return Err(AppError::BadRequest(format!("kind: one of {}", KINDS.join(", "))));
    }
    let visible = state.db.visible_schools(&auth.user.id).await?;
    let wanted = |school: &Institution| {
        auth.reaches(school.id) && query.school.as_ref().is_none_or(|n| *n == school.number)
    };
    let schools: HashMap<InstitutionId, Institution> = visible
        .iter()
        .filter(|(school, _)| wanted(school))
        .map(|(school, _)| (school.id, school.clone()))
        .collect();
    let scope = SearchScope {
        registrations: visible
            .iter()
            .filter(|(school, access)| {
                matches!(access, SchoolAccess::Clb | SchoolAccess::School) && wanted(school)
            })
            .map(|(school, _)| school.id)
            .collect(),
        // Every partner at a school's table reads its meetings.
        meetings: schools.keys().copied().collect(),
        agreements: state
            .db
            .readable_agreements(&auth.user.id)
            .await?
            .into_iter()
            .filter(|(school, _)| schools.contains_key(school))
            .collect(),
    };
    audit_read(&state.db, &auth.user.id, "search", String::new(), None).await?;
    let filter = SearchFilter {
        year: query.year,
        kind: query.kind,
        theme: query.theme,
        status: query.status,
    };
    let hits = crate::search::find(&state.db, q, &scope, &filter, MAX_HITS).await?;
    let results = hits
        .into_iter()
        .filter_map(|hit| {
            Some(SearchResult {
                school: schools.get(&hit.school)?.clone(),
                registration: hit.registration.map(|r| HitRegistration {
                    id: r.id,
                    title: r.title,
                    kind: r.kind,
                    theme: r.theme,
                    status: r.status,
                    school_year: r.school_year,
                }),
                meeting: hit.meeting.map(|m| HitMeeting {
                    id: m.id,
                    title: m.title,
                    held_on: m.held_on,
                    school_year: m.school_year,
                }),
                agreement: hit.agreement.map(|a| HitAgreement { id: a.id, lsc: a.lsc }),
                part: hit.part,
                snippet: hit.snippet,
                highlights: hit.highlights,
                updated_at: hit.updated_at,
            })
        })
        .collect();
    Ok(Json(SearchResults { results }))
}

/// How many earlier advices an answer holds.
const EARLIER: usize = 5;
/// The longest excerpt of an earlier advice (characters).
const ADVICE_CHARS: usize = 400;

/// A registration's advice that may help with this one.
#[derive(Debug, Serialize, ToSchema)]
pub struct EarlierAdvice {
    /// Its school.
    pub school: Institution,
    /// The registration.
    pub registration: HitRegistration,
    /// The start of its advice (up to 400 characters).
    pub advice: String,
    /// How alike the two registrations' words are, from 0 (nothing shared) to 1.
    pub similarity: f64,
}

/// `GET /api/registrations/{id}/earlier-advice` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct EarlierAdviceList {
    /// Most alike first, at most 5.
    pub items: Vec<EarlierAdvice>,
}

/// The words of a registration's texts, as a set.
fn words_of<'a>(texts: impl IntoIterator<Item = &'a String>) -> std::collections::HashSet<String> {
    texts
        .into_iter()
        .flat_map(|text| samen_search::index_terms(text))
        .collect()
}

/// "Eerder geadviseerd": the advice given in other registrations on the same theme (without
/// a theme: of the same school), most alike first by their words (title, question or
/// signal, understanding, advice) against this one's. Only of schools the caller may read:
/// a school's member sees its own school's, CLB staff those of every school their CLB
/// serves.
#[utoipa::path(
    get,
    path = "/api/registrations/{id}/earlier-advice",
    tag = "search",
    params(super::access::RegistrationPath),
    responses(
        (status = 200, description = "Earlier advice, most alike first.", body = EarlierAdviceList),
        Unauthenticated,
        NotFound,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn earlier_advice(
    State(state): State<AppState>,
    super::access::OnRegistration {
        auth, registration, ..
    }: super::access::OnRegistration,
) -> Result<Json<EarlierAdviceList>, AppError> {
    super::registrations::read(&state, &auth, &registration).await?;
    let schools = readable_schools(&state, &auth).await?;
    let mine = state
        .db
        .indexed_texts(
            registration.school_id,
            crate::db::EntryPlace::Registration(registration.id),
        )
        .await?;
    let mine = words_of(
        ["title", "summary", "understanding"]
            .iter()
            .filter_map(|part| mine.get(*part)),
    );
    // Only schools the caller may read: another school's registrations are never scored.
    let readable: Vec<InstitutionId> = schools.keys().copied().collect();
    let candidates = state
        .db
        .advice_candidates(
            registration.theme.as_deref(),
            registration.school_id,
            &readable,
            registration.id,
        )
        .await?;
    let mut scored = Vec::new();
    for (id, parts) in candidates {
        let Some(advice) = parts.get("advice") else {
            continue;
        };
        let theirs = words_of(parts.values());
        let shared = mine.intersection(&theirs).count() as f64;
        let similarity = if mine.is_empty() || theirs.is_empty() {
            0.0
        } else {
            shared / ((mine.len() * theirs.len()) as f64).sqrt()
        };
        scored.push((
            similarity,
            id,
            advice.chars().take(ADVICE_CHARS).collect::<String>(),
        ));
    }
    scored.sort_by(|a, b| {
        b.0.total_cmp(&a.0)
            .then_with(|| a.1.to_string().cmp(&b.1.to_string()))
    });
    let mut items = Vec::new();
    for (similarity, id, advice) in scored {
        let Some(r) = state.db.registration(id).await? else {
            continue;
        };
        let Some(school) = schools.get(&r.school_id) else {
            continue;
        };
        items.push(EarlierAdvice {
            school: school.clone(),
            registration: HitRegistration {
                id: r.id,
                title: r.title,
                kind: r.kind,
                theme: r.theme,
                status: r.status,
                school_year: r.school_year,
            },
            advice,
            similarity: (similarity * 1000.0).round() / 1000.0,
        });
        if items.len() == EARLIER {
            break;
        }
    }
    Ok(Json(EarlierAdviceList { items }))
}

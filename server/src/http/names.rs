//! The name guard over HTTP (issue 19): a document's suspected names, dismissing one as no
//! name ("dit is geen naam", recorded with who did it), and a school's documents with open
//! findings. Live editors get the findings over their WebSocket (message 101); these
//! routes serve the rest: API clients, the dismissal, the school's list.

use axum::Json;
use axum::extract::{Path, State};
use samen_crdt::Section;
use samen_crdt::meeting::Partner;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::audit::audit_read;
use super::body::JsonObject;
use super::sync::document_for;
use crate::access_watch::Held;
use crate::auth::Authenticated;
use crate::db::{Institution, NameDismissal};
use crate::error::{AppError, ErrorBody, Forbidden, NotFound, Unauthenticated};
use crate::ids::{AgreementId, DocId, MeetingId, RegistrationId};
use crate::name_guard::{CommentNames, Context, NameFinding, comment_findings, findings};
use crate::state::AppState;

/// The longest name one can dismiss (characters): longer is no name the detector finds.
const MAX_NAME_CHARS: usize = 120;

/// A document: a registration's, a meeting's or a school and LSC's agreements.
#[derive(Debug, Deserialize, IntoParams)]
pub struct DocumentPath {
    /// The id of the registration, meeting or agreements.
    id: String,
}

/// `GET /api/documents/{id}/names`: what the name guard finds in a document now.
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentNames {
    /// Suspected names nobody dismissed, in the order of the document's places.
    pub findings: Vec<NameFinding>,
    /// What people dismissed as no name in this document, oldest first.
    pub dismissals: Vec<NameDismissal>,
    /// For a registration: its comments with suspected names nobody dismissed (dismissing
    /// a name in the registration dismisses it in its comments too).
    pub comments: Vec<CommentNames>,
}

/// The findings in document `doc` as it stands, and its dismissals.
async fn names_of(state: &AppState, doc: DocId) -> Result<DocumentNames, AppError> {
    let (_, institutions) = state.db.document_school(doc).await?.ok_or(AppError::NotFound)?;
    let dismissals = state.db.name_dismissals(doc).await?;
    let dismissed: Vec<String> = dismissals.iter().map(|d| d.name.clone()).collect();
    let doc_state = state.rooms.document_state(doc).await?;
    // A meeting's or agreements' id names no registration: no comments.
    let comments = state.db.comment_texts(RegistrationId::from(doc)).await?;
    let (findings, comments) = super::blocking(move || {
        let context = Context::new(&institutions, dismissed);
        samen_crdt::text::doc_from_state(&doc_state)
            .map(|doc| (findings(&doc, &context), comment_findings(&comments, &context)))
    })
    .await?;
    Ok(DocumentNames {
        findings,
        dismissals,
        comments,
    })
}

/// The suspected names in a document and what was dismissed in it, for everyone who may
/// open the document.
#[utoipa::path(
    get,
    path = "/api/documents/{id}/names",
    tag = "names",
    params(DocumentPath),
    responses(
        (status = 200, description = "The document's findings and dismissals.", body = DocumentNames),
        Unauthenticated,
        NotFound,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn get(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(DocumentPath { id }): Path<DocumentPath>,
) -> Result<Json<DocumentNames>, AppError> {
    let doc = document_for(&state, &auth, &id).await?.doc;
    audit_read(&state.db, &auth.user.id, "document.names", doc.to_string(), None).await?;
    Ok(Json(names_of(&state, doc).await?))
}

/// `POST /api/documents/{id}/names/dismiss` and `POST /api/files/{id}/names/dismiss` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Dismiss {
    /// The name as the finding gives it (`name`); case does not matter.
    #[schema(min_length = 1, max_length = 120)]
    pub(super) name: String,
}

/// Dismisses a finding as no name ("dit is geen naam") for this document: it is no
/// longer underlined for anyone, here or in any later edit, and the dismissal is kept with
/// who made it. Whoever may write the document may; only a current finding can be.
#[utoipa::path(
    post,
    path = "/api/documents/{id}/names/dismiss",
    tag = "names",
    params(DocumentPath),
    request_body = Dismiss,
    responses(
        (status = 200, description = "What is left, and every dismissal.", body = DocumentNames),
        (status = 400, description = "Bad JSON or an empty or too long name (`bad_request`).", body = ErrorBody),
        (status = 409, description = "That is no finding in this document (now) (`conflict`).", body = ErrorBody),
        Unauthenticated,
        Forbidden,
        NotFound,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn dismiss(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(DocumentPath { id }): Path<DocumentPath>,
    body: Result<JsonObject<Dismiss>, AppError>,
) -> Result<Json<DocumentNames>, AppError> {
    let super::sync::Document { doc, held, .. } = document_for(&state, &auth, &id).await?;
    let JsonObject(body) = body?;
    let writes = match held {
        Held::Registrations(access) => Section::ALL.into_iter().any(|s| access.may_write(s)),
        Held::Table(_) | Held::Agreement(_) => true,
    };
    if !writes {
        return Err(AppError::Forbidden(
            "Only who may write this document can say a finding is no name.".into(),
        ));
    }
    let name = dismissed_name(&body.name)?;
    let now = names_of(&state, doc).await?;
    let in_comments = now.comments.iter().flat_map(|c| &c.findings);
    if !now
        .findings
        .iter()
        .chain(in_comments)
        .any(|f| f.name.to_lowercase() == name)
    {
        return Err(AppError::Conflict(
            "This is no suspected name in the document (any more); nothing to dismiss.".into(),
        ));
    }
    state.db.dismiss_name(doc, &name, &auth.user.id).await?;
    state.rooms.names_changed(doc);
    Ok(Json(names_of(&state, doc).await?))
}

/// A name to dismiss as a finding gives it, lowercase (dismissals ignore case); 400 when it
/// cannot be one.
pub(super) fn dismissed_name(name: &str) -> Result<String, AppError> {
    let name = name.trim().to_lowercase();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(AppError::BadRequest(format!(
            "name: give the name as the finding shows it (1 to {MAX_NAME_CHARS} characters)"
        )));
    }
    Ok(name)
}

/// The longest text `POST /api/names/check` reads (characters): a comment's or a title's.
const MAX_CHECK_CHARS: usize = 20_000;

/// `POST /api/names/check` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CheckText {
    /// The text being written (a comment, a title).
    #[schema(max_length = 20000)]
    text: String,
}

/// `POST /api/names/check` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct TextNames {
    /// The suspected names in the text, in order (`place` is empty).
    pub findings: Vec<NameFinding>,
}

/// The suspected names in a text being written outside a document (a comment, a title),
/// so that the browser can show them as it does in the editors, with no detector of its
/// own. The text is read, never kept or logged.
#[utoipa::path(
    post,
    path = "/api/names/check",
    tag = "names",
    request_body = CheckText,
    responses(
        (status = 200, description = "The suspected names in the text.", body = TextNames),
        (status = 400, description = "Bad JSON or a text over 20,000 characters (`bad_request`).", body = ErrorBody),
        Unauthenticated,
        Forbidden,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn check(
    _auth: Authenticated,
    body: Result<JsonObject<CheckText>, AppError>,
) -> Result<Json<TextNames>, AppError> {
    let JsonObject(body) = body?;
    if body.text.chars().count() > MAX_CHECK_CHARS {
        return Err(AppError::BadRequest(format!(
            "text: at most {MAX_CHECK_CHARS} characters are checked at once"
        )));
    }
    Ok(Json(TextNames {
        findings: crate::name_guard::text_findings(&body.text),
    }))
}

/// A document of a school with open findings, or an uploaded file with names in its text.
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentWithNames {
    /// `registration`, `meeting`, `agreements` or `file`.
    pub kind: &'static str,
    /// Its id (the registration's, meeting's, agreements' or file's).
    #[schema(value_type = String, format = "uuid")]
    pub id: String,
    /// Its title (for agreements: the LSC's name; for a file: its name).
    pub title: String,
    /// For a file: where it is kept (`school`, `registration` or `agreement`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub place: Option<String>,
    /// For a file: the registration's or agreements' id (`""` for the school's documents).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub place_id: Option<String>,
    /// How many suspected names it holds (for a registration, with its comments').
    pub open: i64,
    /// How many of them stand in a registration's comments.
    pub in_comments: i64,
    /// When it was last checked (ms since the epoch).
    pub checked_at: i64,
}

/// `GET /api/schools/{number}/names`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SchoolNames {
    /// The school.
    pub school: Institution,
    /// Its documents the caller may open that hold suspected names, last checked first;
    /// then its files the caller may read with suspected names in their newest version.
    pub documents: Vec<DocumentWithNames>,
}

/// The documents of a school, among those the caller may open, that hold suspected names:
/// what the school's care team and the CLB look at to keep the dossier free of names.
#[utoipa::path(
    get,
    path = "/api/schools/{number}/names",
    tag = "names",
    params(("number" = String, Path, description = "The school's institution number.")),
    responses(
        (status = 200, description = "The school and its documents with open findings.", body = SchoolNames),
        Unauthenticated,
        NotFound,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn school(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(number): Path<String>,
) -> Result<Json<SchoolNames>, AppError> {
    let (school, partners) = super::meetings::table_of(&state, &auth, &number).await?;
    audit_read(
        &state.db,
        &auth.user.id,
        "school.names",
        school.number.clone(),
        None,
    )
    .await?;
    let mut documents = Vec::new();
    for (doc, open, checked_at) in state.db.open_name_findings(school.id).await? {
        let found = if let Some((r, _)) =
            super::access::reachable(&state, &auth, RegistrationId::from(doc)).await?
        {
            Some(("registration", r.title))
        } else if let Some((m, _)) = super::meetings::reachable(&state, &auth, MeetingId::from(doc)).await? {
            Some(("meeting", m.title))
        } else if let Some(a) = super::agreements::reachable(&state, &auth, AgreementId::from(doc)).await? {
            Some(("agreements", a.lsc.name))
        } else {
            None
        };
        if let Some((kind, title)) = found {
            documents.push(DocumentWithNames {
                kind,
                id: doc.to_string(),
                title,
                place: None,
                place_id: None,
                open,
                in_comments: 0,
                checked_at,
            });
        }
    }
    // Comments are read now (they are few, and short): names in them count for their
    // registration.
    let institutions = state.db.institutions_around(school.id).await?;
    for registration in state.db.registrations_with_comments(school.id).await? {
        let Some((r, _)) = super::access::reachable(&state, &auth, registration).await? else {
            continue;
        };
        let doc = DocId::from(registration);
        let dismissed: Vec<String> = state
            .db
            .name_dismissals(doc)
            .await?
            .into_iter()
            .map(|d| d.name)
            .collect();
        let comments = state.db.comment_texts(registration).await?;
        let institutions = institutions.clone();
        let found = super::blocking(move || {
            let context = Context::new(&institutions, dismissed);
            Ok::<_, AppError>(comment_findings(&comments, &context))
        })
        .await?;
        let n = i64::try_from(found.iter().map(|c| c.findings.len()).sum::<usize>()).unwrap_or(i64::MAX);
        if n == 0 {
            continue;
        }
        let id = doc.to_string();
        match documents
            .iter_mut()
            .find(|d| d.kind == "registration" && d.id == id)
        {
            Some(listed) => {
                listed.open += n;
                listed.in_comments = n;
            }
            None => documents.push(DocumentWithNames {
                kind: "registration",
                id,
                title: r.title,
                place: None,
                place_id: None,
                open: n,
                in_comments: n,
                checked_at: crate::db::now(),
            }),
        }
    }
    let school_or_clb = partners
        .iter()
        .any(|p| matches!(p, Partner::School | Partner::Clb));
    for file in state.db.files_with_names(school.id).await? {
        // Where the file is kept decides who reads it (as `files::reachable_file`).
        let readable = match file.place.as_str() {
            "school" => school_or_clb,
            "registration" => match file.place_id.parse::<RegistrationId>() {
                Ok(r) => super::access::reachable(&state, &auth, r).await?.is_some(),
                Err(_) => false,
            },
            "agreement" => match file.place_id.parse::<AgreementId>() {
                Ok(a) => super::agreements::reachable(&state, &auth, a).await?.is_some(),
                Err(_) => false,
            },
            _ => false,
        };
        if readable {
            documents.push(DocumentWithNames {
                kind: "file",
                id: file.id.to_string(),
                title: file.name,
                place: Some(file.place),
                place_id: Some(file.place_id),
                open: file.names,
                in_comments: 0,
                checked_at: file.checked_at,
            });
        }
    }
    Ok(Json(SchoolNames { school, documents }))
}

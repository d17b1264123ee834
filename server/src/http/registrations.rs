//! One registration: its metadata, its content as text, and who wrote what.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::access::{OnRegistration, RegistrationPath};
use super::audit::{audit, audit_read};
use super::body::JsonObject;
use crate::access::SchoolAccess;
use crate::auth::Authenticated;

use crate::db::{Registration, RegistrationPatch};
use crate::domain;
use crate::error::{AppError, ErrorBody, Forbidden, NotFound, Unauthenticated};
use crate::state::AppState;

/// Records that the caller opened the registration (its metadata, text, authors, comments
/// or people: one `registration.read` entry an hour covers them all).
pub(super) async fn read(
    state: &AppState,
    auth: &Authenticated,
    registration: &Registration,
) -> Result<(), AppError> {
    audit_read(
        &state.db,
        &auth.user.id,
        "registration.read",
        registration.id.to_string(),
        None,
    )
    .await
}

/// A registration with the caller's access to it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegistrationWithAccess {
    /// The registration.
    pub registration: Registration,
    /// The caller's access.
    pub access: SchoolAccess,
}

/// A registration's metadata.
#[utoipa::path(
    get,
    path = "/api/registrations/{id}",
    tag = "registrations",
    params(RegistrationPath),
    responses(
        (status = 200, description = "The registration and the caller's access.", body = RegistrationWithAccess),
        Unauthenticated,
        NotFound,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn get(
    State(state): State<AppState>,
    OnRegistration {
        auth,
        registration,
        access,
    }: OnRegistration,
) -> Result<Json<RegistrationWithAccess>, AppError> {
    read(&state, &auth, &registration).await?;
    Ok(Json(RegistrationWithAccess { registration, access }))
}

/// `PATCH` body: any of title, theme (null clears it), status.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Patch {
    /// A new title.
    #[serde(default, with = "super::body::present")]
    #[schema(schema_with = domain::schema::title)]
    title: Option<String>,
    /// A new theme; `null` or empty clears it.
    #[serde(default, with = "double_option")]
    #[schema(schema_with = domain::schema::theme_or_none)]
    theme: Option<Option<String>>,
    /// `open` or `closed`.
    #[serde(default, with = "super::body::present")]
    #[schema(schema_with = domain::schema::status)]
    status: Option<String>,
}

/// Tells a missing field (`None`) from an explicit `null` (`Some(None)`).
mod double_option {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
        Option::<String>::deserialize(d).map(Some)
    }
}

/// Changes title, theme or status. CLB staff only.
#[utoipa::path(
    patch,
    path = "/api/registrations/{id}",
    tag = "registrations",
    params(RegistrationPath),
    request_body = Patch,
    responses(
        (status = 200, description = "The changed registration and the caller's access.",
            body = RegistrationWithAccess),
        (status = 400, description = "Bad JSON or a value that is not allowed (`bad_request`).", body = ErrorBody),
        Unauthenticated,
        Forbidden,
        NotFound,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn patch(
    State(state): State<AppState>,
    OnRegistration {
        auth,
        registration,
        access,
    }: OnRegistration,
    body: Result<JsonObject<Patch>, AppError>,
) -> Result<Json<RegistrationWithAccess>, AppError> {
    if access != SchoolAccess::Clb {
        audit(
            &state,
            Some(auth.user.id.to_string()),
            "registration.update",
            Some(registration.id.to_string()),
            "denied",
        )
        .await?;
        return Err(AppError::Forbidden(
            "Only CLB staff change the title, theme or status.".into(),
        ));
    }
    let JsonObject(body) = body?;
    let bad = AppError::BadRequest;
    let patch = RegistrationPatch {
        title: body
            .title
            .as_deref()
            .map(domain::title)
            .transpose()
            .map_err(bad)?,
        theme: match body.theme {
            Some(Some(t)) if !t.is_empty() => Some(Some(domain::theme(&t).map_err(bad)?)),
            Some(_) => Some(None),
            None => None,
        },
        status: body
            .status
            .as_deref()
            .map(domain::status)
            .transpose()
            .map_err(bad)?,
    };
    let updated = state.db.patch_registration(registration.id, &patch).await?;
    if updated.status != registration.status {
        // Closed or reopened: its open documents change rule (read-only while closed).
        // The watch ends them now on this node, in its next round on the others.
        state.watch.recheck_soon();
    }
    state.events.registration_changed(updated.school_id, &updated);
    crate::search::index_title(&state.db, &updated).await;
    audit(
        &state,
        Some(auth.user.id.to_string()),
        "registration.update",
        Some(registration.id.to_string()),
        "ok",
    )
    .await?;
    Ok(Json(RegistrationWithAccess {
        registration: updated,
        access,
    }))
}

/// `GET /api/registrations/{id}/content`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({ "sections": { "goals": "Samen werken aan ...", "agreements": "" } }))]
pub struct ContentResponse {
    /// Each section (`understanding`, `goals`, `agreements`, `status_note`, …) as plain text.
    pub sections: BTreeMap<&'static str, String>,
}

/// The sections as plain text, as the server holds them now.
#[utoipa::path(
    get,
    path = "/api/registrations/{id}/content",
    tag = "registrations",
    params(RegistrationPath),
    responses(
        (status = 200, description = "Each section as plain text.", body = ContentResponse),
        Unauthenticated,
        NotFound,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn content(
    State(state): State<AppState>,
    OnRegistration {
        auth, registration, ..
    }: OnRegistration,
) -> Result<Json<ContentResponse>, AppError> {
    read(&state, &auth, &registration).await?;
    let doc_state = state.rooms.document_state(registration.id.into()).await?;
    let sections = samen_crdt::text::plain_text_from_state(&doc_state)
        .map_err(|e| AppError::Internal(format!("stored document does not decode: {e}")))?;
    Ok(Json(ContentResponse { sections }))
}

/// A run of current text and who wrote it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuthorSpan {
    /// The text, without formatting.
    pub text: String,
    /// The author's user id (a key of `authors`); `null` when the writer is unknown.
    #[schema(required = true)]
    pub author: Option<String>,
}

/// `GET /api/registrations/{id}/authors`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuthorsResponse {
    /// Per section, its blocks (paragraphs, list items …), each a list of spans.
    pub sections: BTreeMap<&'static str, Vec<Vec<AuthorSpan>>>,
    /// User id → display name of every author in `sections` and `clients`.
    pub authors: BTreeMap<String, String>,
    /// Every Yjs client ID of the document (decimal) → the user it is bound to.
    pub clients: BTreeMap<String, String>,
    /// User id → colour (`#rrggbb`) of every author.
    pub colors: BTreeMap<String, &'static str>,
}

/// Per section, the spans of current text with their author, from the document's client
/// IDs and the server's bindings of those IDs to users (never from what a client claims).
#[utoipa::path(
    get,
    path = "/api/registrations/{id}/authors",
    tag = "registrations",
    params(RegistrationPath),
    responses(
        (status = 200, description = "Per section, the current text in spans with their author.",
            body = AuthorsResponse),
        Unauthenticated,
        NotFound,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn authors(
    State(state): State<AppState>,
    OnRegistration {
        auth, registration, ..
    }: OnRegistration,
) -> Result<Json<AuthorsResponse>, AppError> {
    read(&state, &auth, &registration).await?;
    let doc_state = state.rooms.document_state(registration.id.into()).await?;
    let bindings = state.db.client_authors(registration.id.into()).await?;
    let authorship = samen_crdt::text::authorship_from_state(&doc_state)
        .map_err(|e| AppError::Internal(format!("stored document does not decode: {e}")))?;
    let mut authors = BTreeMap::new();
    let sections = authorship
        .into_iter()
        .map(|(section, blocks)| {
            let blocks = blocks
                .into_iter()
                .map(|block| {
                    block
                        .into_iter()
                        .map(|span| {
                            let author = bindings.get(&span.client).map(|(id, name)| {
                                authors.insert(id.to_string(), name.clone());
                                id.to_string()
                            });
                            AuthorSpan {
                                text: span.text,
                                author,
                            }
                        })
                        .collect()
                })
                .collect();
            (section, blocks)
        })
        .collect();
    // Every client ID of the document with its user, so the app can colour text by author
    // while it is being edited.
    let clients: BTreeMap<String, String> = bindings
        .iter()
        .map(|(client, (user, name))| {
            authors.insert(user.to_string(), name.clone());
            (client.to_string(), user.to_string())
        })
        .collect();
    // The same colours as the document's diffs: distinct among its writers.
    let distinct = crate::colors::distinct_colors(bindings.values().map(|(user, _)| user));
    let colors = distinct
        .iter()
        .map(|(user, color)| (user.to_string(), *color))
        .collect();
    Ok(Json(AuthorsResponse {
        sections,
        authors,
        clients,
        colors,
    }))
}

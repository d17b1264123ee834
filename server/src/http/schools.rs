//! Schools the caller may see, and their registrations.

use std::collections::BTreeMap;
use std::convert::Infallible;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::broadcast::error::RecvError;
use utoipa::ToSchema;

use super::access::school_named;
use super::audit::{audit, audit_read, school_not_found};
use super::body::JsonObject;
use crate::access::SchoolAccess;
use crate::access_watch::{Grant, Held};
use crate::auth::Authenticated;
use crate::db::{Institution, NewRegistration, Registration, RegistrationFilter, SchoolFigures};
use crate::domain;
use crate::error::{AppError, ErrorBody, Forbidden, NotFound, Unauthenticated};
use crate::events::SchoolEvent;
use crate::rooms::Principal;
use crate::state::AppState;

/// A school the caller may see.
#[derive(Debug, Serialize, ToSchema)]
pub struct SchoolSummary {
    /// Its institution number.
    pub number: String,
    /// Its name.
    pub name: String,
    /// The caller's access.
    pub access: SchoolAccess,
    /// Its open registrations, unread comments and last activity, for those who read its
    /// registrations (`null` for an LSC, or a school without registrations).
    #[schema(required = true)]
    pub figures: Option<SchoolFigures>,
}

/// `GET /api/schools`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SchoolList {
    /// The schools the caller may see.
    pub schools: Vec<SchoolSummary>,
}

/// Every school the caller may see, with their access (`clb`, `school` or `lsc`).
#[utoipa::path(
    get,
    path = "/api/schools",
    tag = "schools",
    responses(
        (status = 200, description = "The schools the caller may see.", body = SchoolList),
        Unauthenticated,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn list(State(state): State<AppState>, auth: Authenticated) -> Result<Json<SchoolList>, AppError> {
    let mut figures = state.db.school_figures(&auth.user.id).await?;
    let schools = state
        .db
        .visible_schools(&auth.user.id)
        .await?
        .into_iter()
        .filter(|(school, _)| auth.reaches(school.id))
        .map(|(school, access)| SchoolSummary {
            figures: figures.remove(&school.id),
            number: school.number,
            name: school.name,
            access,
        })
        .collect();
    Ok(Json(SchoolList { schools }))
}

/// The school with this number and the caller's access; 404 without a link to it, which
/// is audited (`school.read`, `denied`, once per hour and number).
pub(super) async fn school_for(
    state: &AppState,
    auth: &Authenticated,
    number: &str,
) -> Result<(Institution, SchoolAccess), AppError> {
    if let Some(found) = reachable_school(state, auth, number).await? {
        return Ok(found);
    }
    school_not_found(&state.db, &auth.user.id, number).await?;
    Err(AppError::NotFound)
}

/// The school with this number and the caller's access, if the caller may reach it.
async fn reachable_school(
    state: &AppState,
    auth: &Authenticated,
    number: &str,
) -> Result<Option<(Institution, SchoolAccess)>, AppError> {
    let Some(school) = school_named(state, auth, number).await? else {
        return Ok(None);
    };
    let access = state.db.school_access(&auth.user.id, school.id).await?;
    Ok(access.map(|access| (school, access)))
}

/// `GET /api/schools/{number}/registrations`.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegistrationList {
    /// The school.
    pub school: Institution,
    /// Its registrations that match the filters.
    pub registrations: Vec<Registration>,
    /// Per registration id, the comments by others the caller has not read (absent: none).
    pub unread: BTreeMap<String, i64>,
    /// Per registration id, what is new to the caller since their last visit (absent:
    /// nothing, or nothing to compare with yet).
    pub since_visit: BTreeMap<String, crate::db::SinceVisit>,
}

/// A school's registrations, filtered by `kind`, `status`, `school_year`, `theme`.
#[utoipa::path(
    get,
    path = "/api/schools/{number}/registrations",
    tag = "schools",
    params(
        ("number" = String, Path, description = "The school's institution number."),
        RegistrationFilter,
    ),
    responses(
        (status = 200, description = "The school and its registrations that match the filters.",
            body = RegistrationList),
        (status = 400, description = "A filter value that is not allowed (`bad_request`).", body = ErrorBody),
        Unauthenticated,
        NotFound,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn registrations(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(number): Path<String>,
    filter: Result<Query<RegistrationFilter>, QueryRejection>,
) -> Result<Json<RegistrationList>, AppError> {
    let Query(filter) = filter?;
    let (school, _) = school_for(&state, &auth, &number).await?;
    let check = |v: &Option<String>, f: fn(&str) -> Result<String, String>| -> Result<(), AppError> {
        v.as_deref()
            .map(f)
            .transpose()
            .map(|_| ())
            .map_err(AppError::BadRequest)
    };
    check(&filter.kind, domain::kind)?;
    check(&filter.status, domain::status)?;
    check(&filter.school_year, domain::school_year)?;
    check(&filter.theme, domain::theme)?;
    audit_read(
        &state.db,
        &auth.user.id,
        "registrations.list",
        school.number.clone(),
        None,
    )
    .await?;
    let registrations = state.db.registrations(school.id, &filter).await?;
    let unread = state.db.unread_comments(&auth.user.id, school.id).await?;
    let since_visit = state.db.since_visits(&auth.user.id, school.id).await?;
    Ok(Json(RegistrationList {
        school,
        registrations,
        // Sorted, as the map always was on the wire.
        unread: unread.into_iter().map(|(id, n)| (id.to_string(), n)).collect(),
        since_visit: since_visit
            .into_iter()
            .map(|(id, since)| (id.to_string(), since))
            .collect(),
    }))
}

/// `POST /api/schools/{number}/registrations` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CreateRegistration {
    /// `signal` or `consultation`.
    #[schema(schema_with = domain::schema::kind)]
    kind: String,
    /// Its title.
    #[schema(schema_with = domain::schema::title)]
    title: String,
    /// A theme to tag it with (empty or absent: none).
    #[serde(default)]
    #[schema(schema_with = domain::schema::theme_or_none)]
    theme: Option<String>,
    /// E.g. `2026-2027`; the current school year when absent.
    #[serde(default)]
    #[schema(schema_with = domain::schema::school_year)]
    school_year: Option<String>,
}

/// Starts a registration. Only CLB staff of a CLB serving the school may.
#[utoipa::path(
    post,
    path = "/api/schools/{number}/registrations",
    tag = "schools",
    params(("number" = String, Path, description = "The school's institution number.")),
    request_body = CreateRegistration,
    responses(
        (status = 201, description = "The new registration.", body = Registration),
        (status = 400, description = "Bad JSON or a value that is not allowed (`bad_request`).", body = ErrorBody),
        Unauthenticated,
        Forbidden,
        NotFound,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn create_registration(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(number): Path<String>,
    body: Result<JsonObject<CreateRegistration>, AppError>,
) -> Result<impl IntoResponse, AppError> {
    let (school, access) = school_for(&state, &auth, &number).await?;
    if access != SchoolAccess::Clb {
        audit(
            &state,
            Some(auth.user.id.to_string()),
            "registration.create",
            Some(number),
            "denied",
        )
        .await?;
        return Err(AppError::Forbidden("Only CLB staff start registrations.".into()));
    }
    let JsonObject(body) = body?;
    let new = NewRegistration {
        kind: domain::kind(&body.kind).map_err(AppError::BadRequest)?,
        title: domain::title(&body.title).map_err(AppError::BadRequest)?,
        theme: body
            .theme
            .as_deref()
            .filter(|t| !t.is_empty())
            .map(domain::theme)
            .transpose()
            .map_err(AppError::BadRequest)?,
        school_year: match body.school_year.as_deref() {
            Some(y) => domain::school_year(y).map_err(AppError::BadRequest)?,
            None => domain::current_school_year(),
        },
        school_id: school.id,
        owner: auth.user.id.clone(),
    };
    let registration = state.db.create_registration(new).await?;
    state.events.registration_changed(school.id, &registration);
    crate::search::index_title(&state.db, &registration).await;
    audit(
        &state,
        Some(auth.user.id.to_string()),
        "registration.create",
        Some(registration.id.to_string()),
        "ok",
    )
    .await?;
    Ok((StatusCode::CREATED, Json(registration)))
}

/// Live events of a school (server-sent events): `comment` (a thread changed),
/// `presence` (who has the dossier open,
/// sent at once and on every change) and `registration` (created or changed). The stream
/// ends when the server shuts down; `EventSource` reconnects by itself.
#[utoipa::path(
    get,
    path = "/api/schools/{number}/events",
    tag = "schools",
    params(("number" = String, Path, description = "The school's institution number.")),
    responses(
        (status = 200, description = "A `text/event-stream` of server-sent events, each with a JSON `data` line:\n\n\
            * `presence`: who has this school's dossier open (its overview or any of its registrations), \
              an array of `PresenceViewer`; sent at once and on every change;\n\
            * `registration`: a registration was created or changed; the `Registration`;\n\
            * `comment`: a comment thread of one of its registrations changed; a `CommentEvent`, \
              `{ registration_id, thread }` with the whole `Thread`;\n\
            * `snapshot`: a version of one of its registrations was kept (named, automatic or \
              restore); a `SnapshotEvent`, `{ registration_id, snapshot }` with the `SnapshotMeta`;\n\
            * `file`: a document of the school or of one of its registrations was uploaded, or a new \
              version of one; a `FileEvent`, `{ place, place_id, file }` with the whole `StoredFile`;\n\
            * `resync`: `null`; the subscriber fell behind and missed events, so it should reload its lists.\n\n\
            Comments (`:`) keep the connection alive. The stream ends when the server shuts down.",
            body = StreamEvent, content_type = "text/event-stream"),
        Unauthenticated,
        NotFound,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn events(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(number): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, AppError> {
    let (school, access) = school_for(&state, &auth, &number).await?;
    // Should the user's right end while the stream is open, it ends (the app reconnects
    // and is told to log in, or that the school is not theirs).
    let (lease, ended) = state.watch.stream(Grant {
        credential: auth.credential.clone(),
        user: auth.user.id.clone(),
        school: school.id,
        access: Held::Registrations(access),
        closed: None,
    });
    let principal = Principal::new(auth.user.id.clone(), auth.user.display_name.clone(), access);
    let role = access.as_str();
    let (rx, guard) =
        state
            .events
            .subscribe(school.id, &principal.user, &principal.name, principal.color, role);
    let initial = SchoolEvent::new("presence", &state.events.present(school.id));
    let initial = sse_event(initial.kind, &initial.data);
    let shutdown = state.shutdown.clone();
    let rest = stream::unfold(
        (rx, guard, shutdown, lease, ended),
        |(mut rx, guard, mut shutdown, lease, mut ended)| async move {
            let next = tokio::select! {
                event = rx.recv() => match event {
                    Ok(event) => Some(sse_event(event.kind, &event.data)),
                    // Missed events: the app reloads its lists.
                    Err(RecvError::Lagged(_)) => Some(sse_event("resync", &Value::Null)),
                    Err(RecvError::Closed) => None,
                },
                _ = shutdown.wait_for(|stop| *stop) => None,
                _ = ended.wait_for(|end| *end) => None,
            };
            next.map(|event| (Ok(event), (rx, guard, shutdown, lease, ended)))
        },
    );
    Ok(Sse::new(stream::once(async move { Ok(initial) }).chain(rest)).keep_alive(KeepAlive::default()))
}

/// One event of a school's stream as `EventSource` reads it (OpenAPI 3.1 describes an
/// event stream by the schema of one event); only the document uses it.
#[derive(ToSchema)]
#[allow(dead_code)] // Describes what `sse_event` writes.
pub struct StreamEvent {
    /// What happened.
    #[schema(schema_with = event_names)]
    event: String,
    /// The event's JSON, one line (see the operation for each event's).
    #[schema(content_media_type = "application/json")]
    data: String,
}

/// The events a school's stream sends.
const EVENT_NAMES: [&str; 6] = [
    "presence",
    "registration",
    "comment",
    "snapshot",
    "file",
    "resync",
];

fn event_names() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .description(Some("What happened."))
        .enum_values(Some(EVENT_NAMES))
        .build()
}

fn sse_event(kind: &'static str, data: &Value) -> Event {
    debug_assert!(EVENT_NAMES.contains(&kind), "an undocumented event: {kind}");
    Event::default().event(kind).data(data.to_string())
}

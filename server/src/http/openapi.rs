//! The OpenAPI 3.1 description of the HTTP API, generated from the handlers'
//! `#[utoipa::path]` attributes and served at `GET /api/openapi.json`.
//!
//! Many handlers build their JSON with `json!`; the structs here mirror those shapes for
//! the document only (they are never serialized by a handler). `tests/openapi.rs` checks
//! that the document lists every route and that real responses carry every property the
//! schemas call required.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use axum::Json;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::db::{Institution, Membership, Notification, Person, Registration, Thread, User};

/// The error body of every 4xx and 5xx answer.
#[derive(ToSchema)]
#[schema(example = json!({ "error": { "code": "not_found", "message": "Not found." } }))]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// The machine-readable code and a human-readable message.
#[derive(ToSchema)]
pub struct ErrorDetail {
    /// One of `bad_request` (400), `invalid_credentials` and `unauthenticated` (401),
    /// `forbidden` (403), `not_found` (404), `conflict` (409), `too_many_attempts` (429),
    /// `internal` (500), `unavailable` (503).
    pub code: String,
    /// What to do about it, for people.
    pub message: String,
}

/// The caller's access to a school's dossier.
#[derive(ToSchema, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// CLB staff of a CLB that serves the school: read and write everything.
    Clb,
    /// A member of the school: read, write the shared sections.
    School,
}

/// `POST /api/login`: the user who just logged in.
#[derive(ToSchema)]
pub struct LoginResponse {
    /// The user.
    pub user: User,
    /// Their roles.
    pub memberships: Vec<Membership>,
}

/// `GET /api/me`: the current user.
#[derive(ToSchema)]
pub struct MeResponse {
    /// The user.
    pub user: User,
    /// Their roles.
    pub memberships: Vec<Membership>,
    /// Whether the server runs in demo mode.
    pub demo: bool,
    /// Their presence colour (CSS hex), the same on every screen.
    #[schema(example = "#1f77b4")]
    pub color: String,
}

/// A demo account shown on the login page.
#[derive(ToSchema)]
pub struct DemoUser {
    /// Its e-mail address.
    pub email: String,
    /// Its name.
    pub name: String,
}

/// `GET /api/config`: what the app needs before anyone logs in.
#[derive(ToSchema)]
pub struct ConfigResponse {
    /// Whether the server runs in demo mode.
    pub demo: bool,
    /// The demo accounts (empty unless `demo`).
    pub demo_users: Vec<DemoUser>,
    /// The demo accounts' password (`null` unless `demo`).
    #[schema(required = true)]
    pub demo_password: Option<String>,
}

/// `POST /api/tokens`: the new token, shown this once.
#[derive(ToSchema)]
pub struct CreatedToken {
    /// Its id (for revoking).
    pub id: String,
    /// Its name.
    pub name: String,
    /// The token itself (`samen_` + 64 hex digits), for `Authorization: Bearer`.
    pub token: String,
}

/// An API token as listed (never the token itself); mirrors `db::sessions::TokenInfo`.
#[derive(ToSchema)]
pub struct TokenInfo {
    /// Its id (for revoking).
    pub id: String,
    /// The name its owner gave it.
    pub name: String,
    /// Creation time (ms since the epoch).
    pub created_at: i64,
    /// Last use (ms since the epoch), `null` if never used.
    #[schema(required = true)]
    pub last_used_at: Option<i64>,
    /// Revocation time, `null` unless revoked.
    #[schema(required = true)]
    pub revoked_at: Option<i64>,
}

/// `GET /api/tokens`: the current user's tokens.
#[derive(ToSchema)]
pub struct TokenList {
    /// Newest first; never the tokens themselves.
    pub tokens: Vec<TokenInfo>,
}

/// A school the caller may see.
#[derive(ToSchema)]
pub struct SchoolSummary {
    /// Its institution number.
    pub number: String,
    /// Its name.
    pub name: String,
    /// The caller's access.
    pub access: Access,
}

/// `GET /api/schools`.
#[derive(ToSchema)]
pub struct SchoolList {
    /// The schools the caller may see.
    pub schools: Vec<SchoolSummary>,
}

/// `GET /api/schools/{number}/registrations`.
#[derive(ToSchema)]
pub struct RegistrationList {
    /// The school.
    pub school: Institution,
    /// Its registrations that match the filters.
    pub registrations: Vec<Registration>,
    /// Per registration id, the comments by others the caller has not read (absent: none).
    pub unread: BTreeMap<String, i64>,
}

/// A registration's versions.
#[derive(ToSchema)]
pub struct SnapshotList {
    /// Newest first.
    pub snapshots: Vec<crate::db::SnapshotMeta>,
}

/// `GET /api/registrations/{id}/snapshots/{sid}`.
#[derive(ToSchema)]
pub struct VersionResponse {
    /// The version.
    pub snapshot: crate::db::SnapshotMeta,
    /// Each section's plain text at that version, by root name.
    pub sections: BTreeMap<String, String>,
    /// The whole document at that version: a Yjs v1 update, base64. Apply it to a new
    /// `Y.Doc({ gc: false })` to render the version with the editor, read-only.
    #[schema(format = Byte)]
    pub update: String,
}

/// `POST /api/registrations/{id}/snapshots/{sid}/restore`.
#[derive(ToSchema)]
pub struct RestoreResponse {
    /// The `restore` version that records the restore.
    pub snapshot: crate::db::SnapshotMeta,
}

/// A registration's comment threads.
#[derive(ToSchema)]
pub struct ThreadList {
    /// Oldest first.
    pub threads: Vec<Thread>,
}

/// One thread, after a change.
#[derive(ToSchema)]
pub struct ThreadResponse {
    /// The thread with all its comments.
    pub thread: Thread,
}

/// People who can see a dossier.
#[derive(ToSchema)]
pub struct PeopleList {
    /// By name.
    pub people: Vec<Person>,
}

/// The caller's mentions.
#[derive(ToSchema)]
pub struct NotificationList {
    /// Newest first.
    pub notifications: Vec<Notification>,
    /// How many are unread.
    pub unread: i64,
}

/// A registration with the caller's access to it.
#[derive(ToSchema)]
pub struct RegistrationWithAccess {
    /// The registration.
    pub registration: Registration,
    /// The caller's access.
    pub access: Access,
}

/// `GET /api/registrations/{id}/content`.
#[derive(ToSchema)]
#[schema(example = json!({ "sections": { "goals": "Samen werken aan ...", "agreements": "" } }))]
pub struct ContentResponse {
    /// Each section (`understanding`, `goals`, `agreements`, `status_note`, …) as plain text.
    pub sections: BTreeMap<String, String>,
}

/// A run of current text and who wrote it.
#[derive(ToSchema)]
pub struct AuthorSpan {
    /// The text, without formatting.
    pub text: String,
    /// The author's user id (a key of `authors`); `null` when the writer is unknown.
    #[schema(required = true)]
    pub author: Option<String>,
}

/// `GET /api/registrations/{id}/authors`.
#[derive(ToSchema)]
pub struct AuthorsResponse {
    /// Per section, its blocks (paragraphs, list items …), each a list of spans.
    pub sections: BTreeMap<String, Vec<Vec<AuthorSpan>>>,
    /// User id → display name of every author in `sections` and `clients`.
    pub authors: BTreeMap<String, String>,
    /// Every Yjs client ID of the document (decimal) → the user it is bound to.
    pub clients: BTreeMap<String, String>,
    /// User id → colour (`#rrggbb`) of every author.
    pub colors: BTreeMap<String, String>,
}

/// One person in a `presence` event of `GET /api/schools/{number}/events`.
#[derive(ToSchema)]
pub struct PresenceViewer {
    /// User id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Presence colour (CSS hex).
    pub color: String,
    /// `clb` or `school`.
    pub role: String,
}

/// Opens a registration's document over a WebSocket (y-websocket protocol)
///
/// Every check happens before the upgrade, so a caller without access never receives a
/// byte of the document. Browsers authenticate with the session cookie (the `Origin` must
/// be this server); other clients send `Authorization: Bearer`, or `?token=` when they
/// cannot set headers. Close codes: 1001 going away, 1003 unsupported message, 1007
/// malformed message or missing dependency, 1008 permission denied, 1009 too big, 1011
/// storage failed, 1013 too slow.
#[utoipa::path(
    get,
    path = "/sync/{id}",
    tag = "sync",
    params(
        ("id" = String, Path, format = "uuid", description = "The registration's id."),
        ("acks" = Option<String>, Query, example = "1",
            description = "`1` to receive durability acks: message type 100, then a varuint \
                           count of this connection's update messages that are now durable."),
        ("token" = Option<String>, Query,
            description = "An API token, for clients that cannot set `Authorization` (`/sync` only)."),
    ),
    responses(
        (status = 101, description = "Switching protocols: the WebSocket is open."),
        (status = 400, description = "Not a valid WebSocket upgrade request (`bad_request`).", body = ErrorBody),
        (status = 401, description = "No valid session or token (`unauthenticated`).", body = ErrorBody),
        (status = 403, description = "A session from another origin (`forbidden`).", body = ErrorBody),
        (status = 404, description = "No such registration, or no link with its school (`not_found`).", body = ErrorBody),
    ),
    security(("session" = []), ("token" = []), ("query_token" = [])),
)]
#[allow(dead_code)] // Documents `app::sync`, which cannot carry the attribute itself.
fn sync() {}

/// Liveness: `ok` while the server runs
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    responses((status = 200, description = "The server is up.", body = String, content_type = "text/plain", example = "ok")),
)]
#[allow(dead_code)] // Documents `app::healthz`.
fn healthz() {}

/// Prometheus metrics
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses((status = 200, description = "Metrics in the Prometheus text format 0.0.4.", body = String,
        content_type = "text/plain; version=0.0.4; charset=utf-8")),
)]
#[allow(dead_code)] // Documents `app::metrics`.
fn metrics() {}

/// This document
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "operations",
    responses((status = 200, description = "The OpenAPI 3.1 description of this API.", body = Object)),
)]
pub async fn serve() -> Json<&'static utoipa::openapi::OpenApi> {
    static DOC: LazyLock<utoipa::openapi::OpenApi> = LazyLock::new(ApiDoc::openapi);
    Json(&DOC)
}

const DESCRIPTION: &str = "The REST API of Samen, the collaboration dossier of schools and their CLB.

Authenticate with the session cookie `samen_session` (from `POST /api/login`) or with an API \
token (`POST /api/tokens`) as `Authorization: Bearer samen_...`. A call authenticated by the \
session cookie that changes something (any method but GET, HEAD and OPTIONS), and every \
WebSocket opened with the cookie, must carry an `Origin` header equal to this server (its \
`Host`, or the configured public origin); otherwise it gets 403 `forbidden`. Calls with an API \
token need no `Origin`.

Errors are `{ \"error\": { \"code\": string, \"message\": string } }` (see `ErrorBody`). A \
school's data, and a registration, that the caller has no link with answer 404, exactly as if \
they did not exist. Times are milliseconds since the Unix epoch.";

/// The OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    info(title = "Samen", description = DESCRIPTION),
    paths(
        super::account::login,
        super::account::logout,
        super::account::me,
        super::account::config,
        super::account::create_token,
        super::account::list_tokens,
        super::account::revoke_token,
        super::schools::list,
        super::schools::registrations,
        super::schools::create_registration,
        super::schools::events,
        super::registrations::get,
        super::registrations::patch,
        super::registrations::content,
        super::registrations::authors,
        super::comments::list,
        super::comments::create,
        super::comments::mark_read,
        super::comments::reply,
        super::comments::edit,
        super::comments::delete,
        super::comments::resolve,
        super::comments::reopen,
        super::comments::people,
        super::comments::notifications,
        super::comments::notifications_read,
        super::history::list,
        super::history::create,
        super::history::get,
        super::history::diff,
        super::history::restore,
        sync,
        healthz,
        metrics,
        serve,
    ),
    components(schemas(PresenceViewer)),
    modifiers(&SecuritySchemes),
    tags(
        (name = "account", description = "Logging in and out, the current user, API tokens."),
        (name = "schools", description = "Schools the caller may see, their registrations and live events."),
        (name = "registrations", description = "One registration: metadata, content, authorship."),
        (name = "comments", description = "Comment threads on a registration, mentions and notifications."),
        (name = "history", description = "Versions of a registration: list, name, view, compare with authors, restore."),
        (name = "sync", description = "The live document of a registration (WebSocket)."),
        (name = "operations", description = "Health, metrics and this document."),
    ),
)]
pub struct ApiDoc;

/// Adds the security schemes the operations refer to.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::auth::SESSION_COOKIE,
                "The session cookie set by `POST /api/login` (HttpOnly, SameSite=Lax). Mutating \
                 calls need an `Origin` equal to this server.",
            ))),
        );
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API token from `POST /api/tokens` (`samen_` + 64 hex digits).",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "query_token",
            SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::with_description(
                "token",
                "An API token as `?token=`, accepted on `/sync/{id}` only.",
            ))),
        );
    }
}

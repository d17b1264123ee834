//! The OpenAPI 3.1 description of the HTTP API, generated from the handlers'
//! `#[utoipa::path]` attributes and served at `GET /api/openapi.json`.
//!
//! The schemas are the types the handlers return, so the document cannot drift from the
//! answers; this module only assembles it and declares the error answers that most routes
//! share. `tests/openapi.rs` checks that the document lists every route and that real
//! responses carry every property the schemas call required.

use std::sync::LazyLock;

use axum::Json;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::access::RegistrationPath;
use super::comments::CommentEvent;
use crate::error::{ErrorBody, Forbidden, NotFound, Unauthenticated};
use crate::events::PresenceViewer;
use crate::history::SnapshotEvent;

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
        RegistrationPath,
        ("acks" = Option<String>, Query, example = "1",
            description = "`1` for Samen's own messages: durability acks (message type 100, then \
                           a varuint count of this connection's update messages that are now \
                           durable) and the name guard's findings (message type 101, then a \
                           string: JSON `{\"findings\": [...]}` as `GET /api/documents/{id}/names` \
                           gives them, sent on joining and whenever they change), and that the \
                           files kept with the document changed (message type 102, nothing \
                           after it; for a school and LSC's agreements, read their files again)."),
        ("token" = Option<String>, Query,
            description = "An API token, for clients that cannot set `Authorization` (`/sync` only)."),
    ),
    responses(
        (status = 101, description = "Switching protocols: the WebSocket is open."),
        (status = 400, description = "Not a valid WebSocket upgrade request (`bad_request`).", body = ErrorBody),
        Unauthenticated,
        Forbidden,
        NotFound,
        (status = 429, description = "The caller has as many WebSocket connections open as one user may \
                                      (`--max-sockets-per-user`; `too_many_connections`).", body = ErrorBody),
        (status = 503, description = "The open could not be written to the audit log, so the document \
                                      stays closed (`unavailable`).", body = ErrorBody),
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

/// Readiness: `ready` when the database answers with this build's schema
///
/// For load balancers: 503 while the database is unreachable or too slow (2 s), when its
/// schema is not this build's, and while the server shuts down (drains).
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses(
        (status = 200, description = "Ready for clients.", body = String, content_type = "text/plain", example = "ready"),
        (status = 503, description = "Not ready: the reason, in a word or three.", body = String, content_type = "text/plain", example = "database unreachable"),
    ),
)]
#[allow(dead_code)] // Documents `app::readyz`.
fn readyz() {}

/// Prometheus metrics
///
/// Served on the main address only with `--metrics-token` (sent as `Authorization: Bearer`),
/// and not there at all with `--metrics-addr`, which serves them on an address of its own.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses(
        (status = 200, description = "Metrics in the Prometheus text format 0.0.4.", body = String,
            content_type = "text/plain; version=0.0.4; charset=utf-8"),
        (status = 401, description = "Without the metrics token (`unauthenticated`).", body = ErrorBody),
        (status = 404, description = "Metrics are not served on this address (`not_found`).", body = ErrorBody),
    ),
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
        super::totp::login_code,
        super::account::logout,
        super::account::me,
        super::account::config,
        super::account::create_token,
        super::account::list_tokens,
        super::account::revoke_token,
        super::totp::status,
        super::totp::setup,
        super::totp::confirm,
        super::totp::disable,
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
        super::history::since_visit,
        super::history::restore,
        super::meetings::table,
        super::meetings::list,
        super::meetings::create,
        super::meetings::get,
        super::meetings::patch,
        super::meeting_close::start,
        super::meeting_close::close,
        super::meeting_close::since_first,
        super::meeting_close::diff,
        super::reports::report,
        super::reports::report_pdf,
        super::actions::list,
        super::exports::registration_pdf,
        super::exports::school_pdf,
        super::exports::school_csv,
        super::exports::school_xlsx,
        super::exports::registration_docx,
        super::exports::school_docx,
        super::export_jobs::start,
        super::export_jobs::progress,
        super::export_jobs::file,
        super::overview::school,
        super::overview::clb,
        super::admin::list,
        super::admin::link,
        super::admin::unlink,
        super::admin::link_clb,
        super::admin::unlink_clb,
        super::admin::institutions,
        super::admin::create_institution,
        super::admin_users::list,
        super::admin_users::create,
        super::admin_users::grant,
        super::admin_users::revoke,
        super::admin_users::disable,
        super::admin_users::enable,
        super::admin_users::tokens,
        super::admin_users::create_token,
        super::admin_users::revoke_token,
        super::admin_audit::page,
        super::admin_audit::csv,
        super::agreements::list,
        super::agreements::get,
        super::names::get,
        super::names::dismiss,
        super::names::school,
        super::names::check,
        super::files::school_list,
        super::files::school_upload,
        super::files::registration_list,
        super::files::registration_upload,
        super::files::get,
        super::files::add_version,
        super::files::content,
        super::files::delete,
        super::files::restore,
        super::files::deleted,
        super::files::agreement_list,
        super::files::agreement_upload,
        super::files::agreement_deleted,
        super::file_names::get,
        super::search::search,
        super::search::earlier_advice,
        super::file_names::dismiss,
        sync,
        healthz,
        readyz,
        metrics,
        serve,
    ),
    // What no operation refers to: the error body that `IntoResponses` does not collect,
    // and the data of the live events.
    components(schemas(ErrorBody, PresenceViewer, CommentEvent, SnapshotEvent, super::files::FileEvent)),
    modifiers(&SecuritySchemes),
    tags(
        (name = "account", description = "Logging in and out (with two-step verification where it is on), the current user, API tokens."),
        (name = "schools", description = "Schools the caller may see, their registrations and live events."),
        (name = "registrations", description = "One registration: metadata, content, authorship."),
        (name = "comments", description = "Comment threads on a registration, mentions and notifications."),
        (name = "history", description = "Versions of a registration: list, name, view, compare with authors, restore."),
        (name = "meetings", description = "Meetings (schoolbeeldoverleg) of a school with its CLB and learning-support centres."),
        (name = "sync", description = "The live document of a registration (WebSocket)."),
        (name = "names", description = "The name guard: suspected names of pupils and teachers in a document, dismissing one as no name, a school's documents that hold some."),
        (name = "files", description = "Documents: a school's, a registration's attachments; upload (the body is the file), versions, download."),
        (name = "admin", description = "Platform administration: institutions and which CLB and learning-support centre serves which school, users and their roles and API tokens, the audit log."),
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

//! `GET /sync/{id}`: a registration's document over a WebSocket. Every check happens
//! here, before the upgrade; after it, the connection belongs to its room.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Path, Query, Request, State, WebSocketUpgrade};
use axum::response::Response;

use super::access::{RegistrationPath, registration_for};
use super::audit::audit_read;
use crate::access_watch::{Grant, Held};
use crate::auth::{Authenticated, Via, authenticate, same_origin};
use crate::db::TokenScope;
use crate::error::AppError;
use crate::ids::{AgreementId, ConnId, DocId, InstitutionId, MeetingId, RegistrationId};
use crate::rooms::{Principal, SocketSettings, serve_socket};
use crate::state::AppState;

/// Read buffer of a WebSocket connection: client messages are keystroke-sized (~100 bytes
/// under load), and tungstenite grows the buffer for a larger frame (a first sync). 4 KiB →
/// 1 KiB took 2.8 KiB off an idle connection; 1 KiB → 512 bytes is within the
/// measurement's noise (docs/performance.md).
const READ_BUFFER: usize = 512;

/// Query options of `/sync/{id}`.
#[derive(Debug, serde::Deserialize)]
pub(super) struct SyncQuery {
    /// `1` to receive durability acks.
    #[serde(default)]
    pub acks: Option<String>,
}

/// A document `/sync/{id}` may open.
pub(super) struct Document {
    /// The document.
    pub doc: DocId,
    /// Its school.
    pub school: InstitutionId,
    /// What the caller holds of it.
    pub held: Held,
    /// For a registration's document: whether the registration is closed (read-only until
    /// reopened).
    pub closed: Option<bool>,
}

/// The document `/sync/{id}` names (a registration's, a meeting's or agreements'), its
/// school, and what the caller holds of it; 404 (audited) when it is neither, or not the
/// caller's. Looked up without auditing first, so that opening a meeting is no denied
/// registration read.
pub(super) async fn document_for(
    state: &AppState,
    auth: &Authenticated,
    id: &str,
) -> Result<Document, AppError> {
    let of_registration = |registration: crate::db::Registration, access| Document {
        doc: registration.id.into(),
        school: registration.school_id,
        held: Held::Registrations(access),
        closed: Some(registration.status == "closed"),
    };
    if let Ok(id) = id.parse::<RegistrationId>()
        && let Some((registration, access)) = super::access::reachable(state, auth, id).await?
    {
        return Ok(of_registration(registration, access));
    }
    if let Ok(id) = id.parse::<MeetingId>()
        && let Some((meeting, partners)) = super::meetings::reachable(state, auth, id).await?
    {
        return Ok(Document {
            doc: id.into(),
            school: meeting.school_id,
            held: Held::Table(partners),
            closed: None,
        });
    }
    if let Ok(id) = id.parse::<AgreementId>()
        && let Some(agreement) = super::agreements::reachable(state, auth, id).await?
    {
        return Ok(Document {
            doc: id.into(),
            school: agreement.school.id,
            held: Held::Agreement(agreement.lsc.id),
            closed: None,
        });
    }
    // None of them: audited and answered as before meetings had documents (a registration
    // read that was denied).
    let (registration, access) = registration_for(state, auth, id).await?;
    Ok(of_registration(registration, access))
}

/// Opens a registration's document over a WebSocket. Everything is checked before the
/// upgrade, so a caller without access never receives a byte of the document: no login
/// → 401, a session from another site → 403, no link with the school (or no such
/// registration) → 404, as many connections open as one user may have → 429, the open
/// cannot be written to the audit log → 503.
pub(super) async fn sync(
    State(state): State<AppState>,
    Path(RegistrationPath { id }): Path<RegistrationPath>,
    Query(query): Query<SyncQuery>,
    request: Request,
) -> Result<Response, AppError> {
    let (mut parts, _) = request.into_parts();
    let auth = authenticate(&parts, &state)
        .await?
        .ok_or(AppError::Unauthenticated)?;
    if matches!(auth.via, Via::Session(_)) && !same_origin(&parts, &state.config.public_origin) {
        return Err(AppError::Forbidden(
            "WebSocket connections with a session must come from the Samen app itself.".into(),
        ));
    }
    let Document {
        doc,
        school,
        held,
        closed,
    } = document_for(&state, &auth, &id).await?;
    let upgrade = WebSocketUpgrade::from_request_parts(&mut parts, &state)
        .await
        .map_err(|e| AppError::BadRequest(e.body_text()))?;
    let conn = ConnId::next();
    let grant = Grant {
        credential: auth.credential,
        user: auth.user.id.clone(),
        school,
        access: held.clone(),
        closed,
    };
    let mut principal = match held {
        Held::Registrations(access) => Principal::new(auth.user.id, auth.user.display_name, access),
        Held::Table(partners) => Principal::at_meeting(auth.user.id, auth.user.display_name, partners),
        Held::Agreement(_) => Principal::on_agreement(auth.user.id, auth.user.display_name),
    };
    // A read-only token's updates are refused as a stranger's to every section would be;
    // so are everyone's on a closed registration, until it is reopened (the watch then
    // closes this connection, and the client reconnects under the new rule).
    principal.write = auth.limits.scope == TokenScope::ReadWrite && closed != Some(true);
    let principal = Arc::new(principal);
    // Taken before the upgrade and held by the connection's task: a refused client gets a
    // plain 429 and never costs a socket task.
    let slot = state
        .sockets
        .take(&principal)
        .ok_or(AppError::TooManyConnections(state.sockets.max()))?;
    // Opening the document is a read: recorded (once an hour; a repeat costs a set lookup)
    // before the upgrade, so an open that cannot be recorded is refused with 503.
    audit_read(&state.db, &principal.user, "document.open", doc.to_string(), None).await?;
    let edited = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let settings = SocketSettings {
        conn,
        edited: edited.clone(),
        limits: state.limits.clone(),
        ping: std::time::Duration::from_secs(state.config.ping_secs.max(1)),
        acks: query.acks.as_deref() == Some("1"),
        principal,
    };
    // A little headroom over the payload limit for the message's own framing; the
    // validator enforces the exact payload limit.
    let max = state.config.max_message_bytes.saturating_add(64);
    let rooms = state.rooms.clone();
    let id = doc;
    let watch = state.watch.clone();
    Ok(upgrade
        .max_message_size(max)
        .max_frame_size(max)
        // tungstenite reserves a 128 KiB read buffer per connection by default: most of
        // an idle connection's memory. Messages are small; the buffer grows when needed.
        .read_buffer_size(READ_BUFFER)
        // The connection gets a task of its own: axum's upgrade task would keep its own
        // captures and the socket a second time beside our future for the connection's
        // whole life (~0.4 KiB per connection); this way it ends at once.
        .on_upgrade(move |socket| {
            // Watched from the upgrade on: should the user's right end, the room closes
            // the connection; the lease ends the watch with the connection.
            let lease = watch.socket(grant, id, conn, edited);
            tokio::spawn(async move {
                serve_socket(socket, rooms, id, settings).await;
                drop(lease);
                drop(slot);
            });
            std::future::ready(())
        }))
}

//! The y-websocket wire protocol (y-protocols sync, awareness and auth messages), plus
//! Samen's opt-in acknowledgement.
//!
//! Decoding runs every payload through [`crate::validate`], so a [`ClientMessage`] holds
//! only bytes that are safe to hand to yrs. Encoding builds the server's replies.

use thiserror::Error;

use crate::cost::{CostError, check_cost};
use crate::ids::ClientId;
use crate::lib0::{Reader, write_buf, write_var};
use crate::validate::{
    AwarenessEntry, Limits, UpdateInfo, ValidationError, parse_awareness_v1, parse_state_vector_v1,
    parse_update_v1,
};

/// Message type: document sync (step 1, step 2, update).
pub const MSG_SYNC: u64 = 0;
/// Message type: awareness (presence) update.
pub const MSG_AWARENESS: u64 = 1;
/// Message type: authentication result, sent by the server only.
pub const MSG_AUTH: u64 = 2;
/// Message type: a request for every current awareness state.
pub const MSG_QUERY_AWARENESS: u64 = 3;
/// Message type (Samen, opt-in with `?acks=1`): the count of the client's update messages
/// that are now durable. Stock y-websocket clients never receive it.
pub const MSG_SAMEN_ACK: u64 = 100;
/// Message type (Samen, with `?acks=1`): the suspected names in the document (the name
/// guard), as JSON text: `{"findings": [...]}`, sent whenever they change.
pub const MSG_SAMEN_NAMES: u64 = 101;
/// Message type (Samen, with `?acks=1`): the files kept with the document changed (one
/// uploaded, a new version, deleted, restored, or its name guard count): read them again.
pub const MSG_SAMEN_FILES: u64 = 102;

/// Sync sub-type: state vector.
pub const SYNC_STEP1: u64 = 0;
/// Sync sub-type: the missing part of the document, in reply to step 1.
pub const SYNC_STEP2: u64 = 1;
/// Sync sub-type: an incremental update.
pub const SYNC_UPDATE: u64 = 2;

/// Auth sub-type: denied, followed by a reason.
pub const AUTH_PERMISSION_DENIED: u64 = 0;

/// An update whose every byte has been validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedUpdate {
    /// The v1-encoded update, safe to pass to `yrs::Update::decode_v1`.
    pub bytes: Vec<u8>,
    /// What the update contains, for policy checks.
    pub info: UpdateInfo,
}

/// A message from a client, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientMessage {
    /// The client's state vector: it asks for what it is missing.
    SyncStep1 {
        /// The v1-encoded state vector, validated.
        state_vector: Vec<u8>,
    },
    /// The part of the client's document the server is missing.
    SyncStep2(ValidatedUpdate),
    /// An incremental update.
    Update(ValidatedUpdate),
    /// Presence states.
    Awareness(Vec<AwarenessEntry>),
    /// A request for every current presence state.
    QueryAwareness,
}

impl ClientMessage {
    /// A short name for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            ClientMessage::SyncStep1 { .. } => "sync_step1",
            ClientMessage::SyncStep2(_) => "sync_step2",
            ClientMessage::Update(_) => "update",
            ClientMessage::Awareness(_) => "awareness",
            ClientMessage::QueryAwareness => "query_awareness",
        }
    }
}

/// Why a client's message was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProtocolError {
    /// The message type is not one a client may send.
    #[error("unknown message type {0}")]
    UnknownMessageType(u64),
    /// The sync sub-type is unknown.
    #[error("unknown sync message type {0}")]
    UnknownSyncType(u64),
    /// Auth messages flow from server to client only.
    #[error("clients may not send auth messages")]
    UnexpectedAuth,
    /// The frame or its payload is malformed.
    #[error("malformed message: {0}")]
    Malformed(#[from] ValidationError),
    /// A well-formed update that would cost too much to integrate.
    #[error("update too costly: {0}")]
    TooCostly(#[from] CostError),
}

/// Decodes and validates one WebSocket binary frame from a client.
pub fn decode_client_message(frame: &[u8], limits: &Limits) -> Result<ClientMessage, ProtocolError> {
    let mut r = Reader::new(frame);
    let msg = match r.read_var_u64()? {
        MSG_SYNC => match r.read_var_u64()? {
            SYNC_STEP1 => {
                let sv = r.read_buf()?;
                parse_state_vector_v1(sv)?;
                ClientMessage::SyncStep1 {
                    state_vector: sv.to_vec(),
                }
            }
            SYNC_STEP2 => ClientMessage::SyncStep2(checked(read_update(&mut r, limits)?, limits)?),
            SYNC_UPDATE => ClientMessage::Update(checked(read_update(&mut r, limits)?, limits)?),
            other => return Err(ProtocolError::UnknownSyncType(other)),
        },
        MSG_AWARENESS => ClientMessage::Awareness(parse_awareness_v1(r.read_buf()?, limits)?),
        MSG_AUTH => return Err(ProtocolError::UnexpectedAuth),
        MSG_QUERY_AWARENESS => ClientMessage::QueryAwareness,
        other => return Err(ProtocolError::UnknownMessageType(other)),
    };
    r.finish()?;
    Ok(msg)
}

/// An update whose integration stays within `limits.cost`.
fn checked(update: ValidatedUpdate, limits: &Limits) -> Result<ValidatedUpdate, CostError> {
    check_cost(&update.info, &limits.cost)?;
    Ok(update)
}

fn read_update(r: &mut Reader<'_>, limits: &Limits) -> Result<ValidatedUpdate, ValidationError> {
    let bytes = r.read_buf()?;
    let info = parse_update_v1(bytes, limits)?;
    Ok(ValidatedUpdate {
        bytes: bytes.to_vec(),
        info,
    })
}

fn sync_message(sub_type: u64, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 8);
    write_var(&mut out, MSG_SYNC);
    write_var(&mut out, sub_type);
    write_buf(&mut out, payload);
    out
}

/// Sync step 1: the sender's v1-encoded state vector.
pub fn encode_sync_step1(state_vector: &[u8]) -> Vec<u8> {
    sync_message(SYNC_STEP1, state_vector)
}

/// Sync step 2: the v1-encoded update the peer is missing.
pub fn encode_sync_step2(update: &[u8]) -> Vec<u8> {
    sync_message(SYNC_STEP2, update)
}

/// An incremental v1-encoded update.
pub fn encode_update(update: &[u8]) -> Vec<u8> {
    sync_message(SYNC_UPDATE, update)
}

/// An awareness message carrying these entries.
pub fn encode_awareness<'a>(entries: impl IntoIterator<Item = (ClientId, u32, &'a str)>) -> Vec<u8> {
    let mut payload = Vec::new();
    let entries: Vec<_> = entries.into_iter().collect();
    write_var(&mut payload, entries.len() as u64);
    for (client, clock, json) in entries {
        write_var(&mut payload, client.get());
        write_var(&mut payload, u64::from(clock));
        write_buf(&mut payload, json.as_bytes());
    }
    let mut out = Vec::with_capacity(payload.len() + 6);
    write_var(&mut out, MSG_AWARENESS);
    write_buf(&mut out, &payload);
    out
}

/// A query for every awareness state.
pub fn encode_query_awareness() -> Vec<u8> {
    vec![MSG_QUERY_AWARENESS as u8]
}

/// An auth message telling the client it was denied, and why.
pub fn encode_permission_denied(reason: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(reason.len() + 4);
    write_var(&mut out, MSG_AUTH);
    write_var(&mut out, AUTH_PERMISSION_DENIED);
    write_buf(&mut out, reason.as_bytes());
    out
}

/// A Samen ack: the first `durable` update messages of this connection are stored.
pub fn encode_ack(durable: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(10);
    write_var(&mut out, MSG_SAMEN_ACK);
    write_var(&mut out, durable);
    out
}

/// The name guard's findings in a document, as the JSON text the server made of them.
pub fn encode_names(json: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(json.len() + 8);
    write_var(&mut out, MSG_SAMEN_NAMES);
    write_buf(&mut out, json.as_bytes());
    out
}

/// The files kept with the document changed.
pub fn encode_files_changed() -> Vec<u8> {
    let mut out = Vec::with_capacity(2);
    write_var(&mut out, MSG_SAMEN_FILES);
    out
}

/// A message from the server, as a client decodes it. Payloads are not validated: the
/// client trusts its server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerMessage {
    /// The server's state vector.
    SyncStep1(Vec<u8>),
    /// What the client is missing.
    SyncStep2(Vec<u8>),
    /// An incremental update.
    Update(Vec<u8>),
    /// Raw awareness payload (decode with [`validate::parse_awareness_v1`]).
    Awareness(Vec<u8>),
    /// The server asks for our awareness state.
    QueryAwareness,
    /// Access denied, with the reason.
    PermissionDenied(String),
    /// Updates acknowledged as durable.
    Ack(u64),
    /// The suspected names in the document, as JSON text.
    Names(String),
    /// The files kept with the document changed.
    FilesChanged,
    /// A message type this client does not know.
    Other(u64),
}

/// Decodes one frame from the server.
pub fn decode_server_message(frame: &[u8]) -> Result<ServerMessage, ValidationError> {
    let mut r = Reader::new(frame);
    Ok(match r.read_var_u64()? {
        MSG_SYNC => {
            let sub = r.read_var_u64()?;
            let payload = r.read_buf()?.to_vec();
            match sub {
                SYNC_STEP1 => ServerMessage::SyncStep1(payload),
                SYNC_STEP2 => ServerMessage::SyncStep2(payload),
                _ => ServerMessage::Update(payload),
            }
        }
        MSG_AWARENESS => ServerMessage::Awareness(r.read_buf()?.to_vec()),
        MSG_QUERY_AWARENESS => ServerMessage::QueryAwareness,
        MSG_AUTH => {
            if r.read_var_u64()? == AUTH_PERMISSION_DENIED {
                ServerMessage::PermissionDenied(r.read_str()?.to_owned())
            } else {
                ServerMessage::Other(MSG_AUTH)
            }
        }
        MSG_SAMEN_ACK => ServerMessage::Ack(r.read_var_u64()?),
        MSG_SAMEN_NAMES => ServerMessage::Names(r.read_str()?.to_owned()),
        MSG_SAMEN_FILES => ServerMessage::FilesChanged,
        other => ServerMessage::Other(other),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_and_server_only_types_are_refused() {
        let limits = Limits::default();
        assert_eq!(
            decode_client_message(&[7], &limits),
            Err(ProtocolError::UnknownMessageType(7))
        );
        assert_eq!(
            decode_client_message(&[0, 9, 0], &limits),
            Err(ProtocolError::UnknownSyncType(9))
        );
        assert_eq!(
            decode_client_message(&[2, 0, 0], &limits),
            Err(ProtocolError::UnexpectedAuth)
        );
        assert!(matches!(
            decode_client_message(&[], &limits),
            Err(ProtocolError::Malformed(ValidationError::Truncated))
        ));
        assert_eq!(
            decode_client_message(&[3, 0], &limits),
            Err(ProtocolError::Malformed(ValidationError::TrailingBytes))
        );
    }

    #[test]
    fn query_awareness_and_empty_state_vector_decode() {
        let limits = Limits::default();
        assert_eq!(
            decode_client_message(&[3], &limits),
            Ok(ClientMessage::QueryAwareness)
        );
        assert_eq!(
            decode_client_message(&encode_sync_step1(&[0]), &limits),
            Ok(ClientMessage::SyncStep1 {
                state_vector: vec![0]
            })
        );
    }

    #[test]
    fn server_messages_round_trip() {
        assert_eq!(decode_server_message(&encode_ack(42)), Ok(ServerMessage::Ack(42)));
        assert_eq!(encode_files_changed(), [102]);
        assert_eq!(
            decode_server_message(&encode_files_changed()),
            Ok(ServerMessage::FilesChanged)
        );
        assert_eq!(
            decode_server_message(&encode_permission_denied("permission-denied")),
            Ok(ServerMessage::PermissionDenied("permission-denied".into()))
        );
        assert_eq!(
            decode_server_message(&encode_update(&[0, 0])),
            Ok(ServerMessage::Update(vec![0, 0]))
        );
        let aw = encode_awareness([(ClientId::new(5), 2, "{\"a\":1}")]);
        let json = b"{\"a\":1}";
        let mut expected = vec![1, 5, 2, json.len() as u8];
        expected.extend_from_slice(json);
        assert_eq!(decode_server_message(&aw), Ok(ServerMessage::Awareness(expected)));
    }
}

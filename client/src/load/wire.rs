//! The two framings the load generator speaks.
//!
//! - **y-websocket**: one document per WebSocket, the room in the URL path; every binary
//!   frame is a y-protocols message (`samen_crdt::protocol`).
//! - **Hocuspocus** (read from `@hocuspocus/provider` 4.x, `OutgoingMessages/*.ts` and
//!   `MessageReceiver.ts`, and `@hocuspocus/common`'s `auth.ts`): every frame starts with
//!   the document name as a lib0 var-string, then the same message types (sync 0, awareness
//!   1, auth 2, query awareness 3) plus stateless 5, close 7, sync status 8 (the server's
//!   "update applied"), ping 9 and pong 10. The client's first message is
//!   `[name, 2 (auth), 0 (token), var-string token, var-string provider version]`; the
//!   server answers auth `2 (authenticated), scope` or `1 (permission denied), reason`,
//!   and queues everything else the client sent until then. Auth sub-types differ from
//!   y-websocket's, where `0` is permission denied.

use samen_crdt::lib0::{Reader, write_buf, write_var};
use samen_crdt::protocol::{self, MSG_AUTH, ServerMessage};

/// Hocuspocus message types beyond y-protocols'.
const HP_STATELESS: u64 = 5;
const HP_CLOSE: u64 = 7;
const HP_SYNC_STATUS: u64 = 8;
const HP_PING: u64 = 9;
const HP_PONG: u64 = 10;
/// Hocuspocus auth sub-types.
const HP_AUTH_TOKEN: u64 = 0;
const HP_AUTH_DENIED: u64 = 1;
const HP_AUTH_OK: u64 = 2;
/// The provider version we claim in the auth message.
const HP_VERSION: &str = "4.8.0";

/// How messages are framed on one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Framing {
    /// Stock y-websocket (and Samen).
    YWebsocket,
    /// Hocuspocus: every message prefixed by the document name.
    Hocuspocus {
        /// The document name.
        doc: String,
    },
}

/// A frame that is not a well-formed message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed;

/// A message from the server, after framing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// A y-protocols message (or Samen's ack).
    Server(ServerMessage),
    /// Hocuspocus: authenticated, with the scope.
    Authenticated(String),
    /// Hocuspocus: the server asks for the token again.
    TokenRequest,
    /// Hocuspocus: ping (answered with pong).
    Ping,
    /// Hocuspocus: the server closes the document, with its reason.
    Close(String),
    /// Something we do not need (stateless, sync status, a message for another document).
    Ignored,
}

impl Framing {
    /// Wraps a y-protocols message for the wire.
    pub fn frame(&self, message: &[u8]) -> Vec<u8> {
        match self {
            Framing::YWebsocket => message.to_vec(),
            Framing::Hocuspocus { doc } => {
                let mut out = Vec::with_capacity(doc.len() + message.len() + 4);
                write_buf(&mut out, doc.as_bytes());
                out.extend_from_slice(message);
                out
            }
        }
    }

    /// The first message of a connection, if the framing has one (Hocuspocus's auth).
    pub fn hello(&self, token: &str) -> Option<Vec<u8>> {
        match self {
            Framing::YWebsocket => None,
            Framing::Hocuspocus { .. } => {
                let mut msg = Vec::with_capacity(token.len() + 16);
                write_var(&mut msg, MSG_AUTH);
                write_var(&mut msg, HP_AUTH_TOKEN);
                write_buf(&mut msg, token.as_bytes());
                write_buf(&mut msg, HP_VERSION.as_bytes());
                Some(self.frame(&msg))
            }
        }
    }

    /// Hocuspocus's pong.
    pub fn pong(&self) -> Vec<u8> {
        let mut msg = Vec::with_capacity(2);
        write_var(&mut msg, HP_PONG);
        self.frame(&msg)
    }

    /// Decodes one binary frame from the server; `Err` when it is malformed.
    pub fn parse(&self, frame: &[u8]) -> Result<Incoming, Malformed> {
        match self {
            Framing::YWebsocket => protocol::decode_server_message(frame)
                .map(Incoming::Server)
                .map_err(|_| Malformed),
            Framing::Hocuspocus { doc } => {
                let mut r = Reader::new(frame);
                let name = r.read_str().map_err(|_| Malformed)?;
                if name != doc {
                    return Ok(Incoming::Ignored);
                }
                let rest = r.read_exact(r.remaining()).map_err(|_| Malformed)?;
                let mut peek = Reader::new(rest);
                match peek.read_var_u64().map_err(|_| Malformed)? {
                    MSG_AUTH => match peek.read_var_u64().map_err(|_| Malformed)? {
                        HP_AUTH_TOKEN => Ok(Incoming::TokenRequest),
                        HP_AUTH_DENIED => {
                            let reason = peek.read_str().unwrap_or_default().to_owned();
                            Ok(Incoming::Server(ServerMessage::PermissionDenied(reason)))
                        }
                        HP_AUTH_OK => Ok(Incoming::Authenticated(
                            peek.read_str().unwrap_or_default().to_owned(),
                        )),
                        _ => Ok(Incoming::Ignored),
                    },
                    HP_PING => Ok(Incoming::Ping),
                    HP_CLOSE => Ok(Incoming::Close(peek.read_str().unwrap_or_default().to_owned())),
                    HP_STATELESS | HP_SYNC_STATUS | HP_PONG => Ok(Incoming::Ignored),
                    _ => protocol::decode_server_message(rest)
                        .map(Incoming::Server)
                        .map_err(|_| Malformed),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hocuspocus_frames_carry_the_document_name() {
        let f = Framing::Hocuspocus { doc: "room-1".into() };
        let step1 = protocol::encode_sync_step1(&[0]);
        let framed = f.frame(&step1);
        assert_eq!(framed[0], 6);
        assert_eq!(&framed[1..7], b"room-1");
        assert_eq!(&framed[7..], &step1[..]);
        assert_eq!(
            f.parse(&f.frame(&protocol::encode_update(&[0, 0]))),
            Ok(Incoming::Server(ServerMessage::Update(vec![0, 0])))
        );
        // A frame for another document on the same socket is not ours.
        let other = Framing::Hocuspocus { doc: "other".into() };
        assert_eq!(f.parse(&other.frame(&step1)), Ok(Incoming::Ignored));
        assert!(f.parse(&[9, b'x']).is_err());
    }

    #[test]
    fn hocuspocus_auth_messages() {
        let f = Framing::Hocuspocus { doc: "d".into() };
        let hello = f.hello("tok").unwrap_or_default();
        assert_eq!(
            hello,
            [
                1, b'd', 2, 0, 3, b't', b'o', b'k', 5, b'4', b'.', b'8', b'.', b'0'
            ]
        );
        assert_eq!(
            f.parse(&[
                1, b'd', 2, 2, 10, b'r', b'e', b'a', b'd', b'-', b'w', b'r', b'i', b't', b'e'
            ]),
            Ok(Incoming::Authenticated("read-write".into()))
        );
        assert_eq!(
            f.parse(&[1, b'd', 2, 1, 2, b'n', b'o']),
            Ok(Incoming::Server(ServerMessage::PermissionDenied("no".into())))
        );
        assert_eq!(f.parse(&[1, b'd', 8, 1]), Ok(Incoming::Ignored));
        assert_eq!(f.parse(&[1, b'd', 9]), Ok(Incoming::Ping));
        assert_eq!(f.pong(), [1, b'd', 10]);
        assert_eq!(Framing::YWebsocket.hello("t"), None);
    }
}

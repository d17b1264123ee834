//! One WebSocket connection: reads frames, validates them, hands them to the room, and
//! writes what the room queues for it.
//!
//! Validation happens here, on the connection's own task, so that a hostile client spends
//! its own time and never the room's. A frame that fails validation closes this
//! connection only; the room and its other clients never see it.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Poll, ready};
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use bytes::Bytes;
use futures_util::{Sink, SinkExt};
use samen_crdt::protocol::{ProtocolError, decode_client_message};
use samen_crdt::{ClientMessage, Limits, ValidationError};
use tokio::sync::mpsc;

use super::outbox::{Delivery, outbox};
use super::{Budget, CloseReason, Held, Inbound, JoinError, Joined, Peer, Principal, RoomCmd, Rooms};
use crate::ids::{ConnId, DocId};

/// How long one write may take before the client counts as gone.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the server reads (and drops) what a client still sends after the server's
/// close, waiting for the client's own close.
const CLOSE_DRAIN: Duration = Duration::from_secs(2);

/// What a connection needs besides its socket.
pub struct SocketSettings {
    /// The connection's id (chosen before the upgrade, so that the access watch knows it).
    pub conn: ConnId,
    /// Set when the client sends an edit (the access watch counts it as using the session).
    pub edited: Arc<AtomicBool>,
    /// Who is on the connection (shared with the room's record of the peer: one copy per
    /// connection, not two).
    pub principal: Arc<Principal>,
    /// Validation limits.
    pub limits: Arc<Limits>,
    /// Interval between pings.
    pub ping: Duration,
    /// Whether the client asked for durability acks.
    pub acks: bool,
}

/// Serves one upgraded WebSocket for the document `id` until either side closes.
///
/// A plain function returning an `async move` block: the connection's task keeps this
/// future for its whole life, and an `async fn` would hold its arguments twice (as
/// arguments and as locals), ~500 bytes per connection.
#[allow(clippy::manual_async_fn)] // On purpose, see above.
pub fn serve_socket(
    mut socket: WebSocket,
    rooms: Rooms,
    id: DocId,
    settings: SocketSettings,
) -> impl Future<Output = ()> + Send {
    async move {
        let conn = settings.conn;
        let metrics = rooms.inner.metrics.clone();
        metrics.connections.inc();
        let (queue, queue_bytes) = (
            rooms.inner.config.outbound_queue,
            rooms.inner.config.outbound_bytes,
        );
        let acks = settings.acks;
        let principal = settings.principal.clone();
        let make_peer = move || {
            let (out, receiver) = outbox(queue, queue_bytes);
            let principal = principal.clone();
            let peer = Peer { out, acks, principal };
            (peer, receiver)
        };
        let close = match rooms.join(id, conn, make_peer).await {
            Ok(joined) => {
                let close = pump(conn, &mut socket, &joined, &settings, &rooms).await;
                let Joined { tx: room, outbox, .. } = joined;
                // Frames the room sends until it sees the leave are dropped, not counted
                // against the queue as if the client were slow.
                drop(outbox);
                let _ = Box::pin(room.send(RoomCmd::Leave { conn })).await;
                close
            }
            Err(err) => {
                tracing::warn!(%id, %conn, error = %err, "could not join room");
                Some(match err {
                    JoinError::ShuttingDown => CloseReason::GOING_AWAY,
                    _ => CloseReason::INTERNAL,
                })
            }
        };
        Box::pin(close_socket(socket, close)).await;
        metrics.connections.dec();
    }
}

/// Says goodbye with `close` (if the client is still there) and closes the socket.
///
/// After its close frame the server reads until the client's answering close (at most
/// [`CLOSE_DRAIN`]): a socket let go with unread bytes (a client that was still sending,
/// the very reason it is closed when it floods) is reset by the kernel, and the reset can
/// overtake the close frame, so the client would see 1006 instead of why it was closed
/// (4429: wait before reconnecting).
async fn close_socket(mut socket: WebSocket, close: Option<CloseReason>) {
    if let Some(reason) = close {
        let frame = CloseFrame {
            code: reason.code,
            reason: reason.reason.into(),
        };
        if let Ok(Ok(())) =
            tokio::time::timeout(WRITE_TIMEOUT, socket.send(Message::Close(Some(frame)))).await
        {
            let drain = async {
                while let Some(Ok(msg)) = socket.recv().await {
                    if matches!(msg, Message::Close(_)) {
                        break;
                    }
                }
            };
            let _ = tokio::time::timeout(CLOSE_DRAIN, drain).await;
        }
    }
    let _ = tokio::time::timeout(WRITE_TIMEOUT, socket.close()).await;
}

/// Moves frames both ways; returns how to close (`None`: the client is already gone).
///
/// One task and one unsplit socket per connection: reading pauses while a write is under
/// way, which a write's timeout bounds.
async fn pump(
    conn: ConnId,
    socket: &mut WebSocket,
    joined: &Joined,
    settings: &SocketSettings,
    rooms: &Rooms,
) -> Option<CloseReason> {
    let (room, outbox) = (&joined.tx, &joined.outbox);
    let metrics = &rooms.inner.metrics;
    // What this connection's messages may hold while they wait for the room; the room's
    // own budget bounds all its connections together.
    let budget = Budget::new(rooms.inner.config.inbound_bytes);
    let mut ping = tokio::time::interval(settings.ping);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_seen = Instant::now();
    loop {
        tokio::select! {
            biased;
            delivery = outbox.next() => match delivery {
                Delivery::Frames(frames) => if !write_all(socket, frames, metrics).await {
                    return None;
                },
                Delivery::Close(reason) => return Some(reason),
            },
            msg = socket.recv() => {
                last_seen = Instant::now();
                match msg {
                    None | Some(Ok(Message::Close(_))) => return None,
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                    Some(Ok(Message::Binary(data))) => {
                        metrics.bytes_received.inc_by(data.len() as u64);
                        match decode_client_message(&data, &settings.limits) {
                            Ok(msg) => {
                                if matches!(msg, ClientMessage::Update(_) | ClientMessage::SyncStep2(_)) {
                                    settings.edited.store(true, Ordering::Relaxed);
                                    // The user's bytes per minute, over all their connections:
                                    // refused before the room sees them, so nothing changes.
                                    if rooms
                                        .inner
                                        .usage
                                        .sent(&settings.principal.user, data.len(), rooms.inner.clock.now())
                                        .is_err() {
                                        tracing::info!(%conn, user = %settings.principal.user, "update rate over quota");
                                        metrics.reject("update_rate");
                                        return Some(CloseReason::RATE_LIMITED);
                                    }
                                }
                                let Some(held) = Held::take(&budget, &joined.inbound, data.len()).await else {
                                    return Some(CloseReason::GOING_AWAY);
                                };
                                let msg = Box::new(Inbound { msg, held });
                                if !hand_to_room(room, RoomCmd::Message { conn, msg }).await {
                                    return Some(CloseReason::GOING_AWAY);
                                }
                            }
                            Err(err) => {
                                let (reason, close) = classify(&err);
                                tracing::info!(%conn, len = data.len(), error = %err, "refused client message");
                                metrics.reject(reason);
                                return Some(close);
                            }
                        }
                    }
                    Some(Ok(Message::Text(_))) => {
                        tracing::info!(%conn, "refused text frame");
                        metrics.reject("text_frame");
                        return Some(CloseReason::UNSUPPORTED);
                    }
                    Some(Err(err)) => {
                        return if is_too_big(&err) {
                            tracing::info!(%conn, "refused oversized message");
                            metrics.reject("too_big");
                            Some(CloseReason::TOO_BIG)
                        } else {
                            tracing::debug!(%conn, error = %err, "socket error");
                            None
                        };
                    }
                }
            }
            _ = ping.tick() => {
                if last_seen.elapsed() > settings.ping * 3 {
                    return Some(CloseReason::TIMEOUT);
                }
                // Boxed, as is every rare wait here: the connection's task keeps room
                // for its largest wait for its whole life.
                let ping = Message::Ping(Bytes::new());
                if !matches!(Box::pin(tokio::time::timeout(WRITE_TIMEOUT, socket.send(ping))).await, Ok(Ok(()))) {
                    return None;
                }
            }
        }
    }
}

/// Hands a message to the room, waiting (boxed: rare) only when its queue is full.
async fn hand_to_room(room: &mpsc::Sender<RoomCmd>, cmd: RoomCmd) -> bool {
    match room.try_send(cmd) {
        Ok(()) => true,
        Err(mpsc::error::TrySendError::Full(cmd)) => Box::pin(room.send(cmd)).await.is_ok(),
        Err(mpsc::error::TrySendError::Closed(_)) => false,
    }
}

/// Writes every frame the room queued, then flushes once: one `send` system call for a
/// burst (a room's batch releases its frames together) instead of one per frame. Written
/// against the sink's poll functions so that the wait holds no more than the frames.
async fn write_all(
    socket: &mut WebSocket,
    mut frames: VecDeque<Bytes>,
    metrics: &crate::metrics::Metrics,
) -> bool {
    let write = poll_fn(|cx| -> Poll<Result<(), axum::Error>> {
        let mut sink = Pin::new(&mut *socket);
        while !frames.is_empty() {
            ready!(sink.as_mut().poll_ready(cx))?;
            if let Some(frame) = frames.pop_front() {
                metrics.bytes_sent.inc_by(frame.len() as u64);
                sink.as_mut().start_send(Message::Binary(frame))?;
            }
        }
        sink.poll_flush(cx)
    });
    matches!(tokio::time::timeout(WRITE_TIMEOUT, write).await, Ok(Ok(())))
}

/// The metric label and close for a refused message.
fn classify(err: &ProtocolError) -> (&'static str, CloseReason) {
    match err {
        ProtocolError::UnknownMessageType(_)
        | ProtocolError::UnknownSyncType(_)
        | ProtocolError::UnexpectedAuth => ("unknown_type", CloseReason::UNSUPPORTED),
        ProtocolError::Malformed(ValidationError::TooLarge { .. }) => ("too_big", CloseReason::TOO_BIG),
        ProtocolError::Malformed(_) => ("malformed", CloseReason::MALFORMED),
        // Sent as 1009 like an oversized message: it is too large to take, in work if not
        // in bytes (`samen_crdt::cost`).
        ProtocolError::TooCostly(_) => ("too_costly", CloseReason::TOO_BIG),
    }
}

/// Whether a read failed because the message exceeded the size limit.
fn is_too_big(err: &axum::Error) -> bool {
    use std::error::Error as _;
    let mut source = err.source();
    while let Some(e) = source {
        if let Some(tungstenite::Error::Capacity(_)) = e.downcast_ref::<tungstenite::Error>() {
            return true;
        }
        source = e.source();
    }
    false
}

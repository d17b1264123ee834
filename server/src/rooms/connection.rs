//! One WebSocket connection: reads frames, validates them, hands them to the room, and
//! writes what the room queues for it.
//!
//! Validation happens here, on the connection's own task, so that a hostile client spends
//! its own time and never the room's. A frame that fails validation closes this
//! connection only; the room and its other clients never see it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use samen_crdt::protocol::{ProtocolError, decode_client_message};
use samen_crdt::{Limits, ValidationError};
use tokio::sync::{mpsc, oneshot};

use super::{CloseReason, JoinError, Peer, Principal, RoomCmd, Rooms};
use crate::ids::{ConnId, RegistrationId};

/// How long one write may take before the client counts as gone.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// What a connection needs besides its socket.
#[derive(Clone)]
pub struct SocketSettings {
    /// Who is on the connection.
    pub principal: Principal,
    /// Validation limits.
    pub limits: Arc<Limits>,
    /// Interval between pings.
    pub ping: Duration,
    /// Whether the client asked for durability acks.
    pub acks: bool,
}

/// Serves one upgraded WebSocket for the document `id` until either side closes.
pub async fn serve_socket(socket: WebSocket, rooms: Rooms, id: RegistrationId, settings: SocketSettings) {
    let conn = ConnId::next();
    let metrics = rooms.inner.metrics.clone();
    metrics.connections.inc();
    let (mut sink, stream) = socket.split();
    let queue = rooms.inner.config.outbound_queue;
    let acks = settings.acks;
    let principal = Arc::new(settings.principal.clone());
    let make_peer = move || {
        let (out, out_rx) = mpsc::channel(queue);
        let (close, close_rx) = oneshot::channel();
        let principal = principal.clone();
        (
            Peer {
                out,
                close,
                acks,
                principal,
            },
            close_rx,
            out_rx,
        )
    };
    let close = match rooms.join(id, conn, make_peer).await {
        Ok((room, close_rx, out_rx)) => {
            let close = pump(
                conn, &mut sink, stream, &room, close_rx, out_rx, &settings, &rooms,
            )
            .await;
            let _ = room.send(RoomCmd::Leave { conn }).await;
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
    if let Some(reason) = close {
        let frame = CloseFrame {
            code: reason.code,
            reason: reason.reason.into(),
        };
        let _ = tokio::time::timeout(WRITE_TIMEOUT, sink.send(Message::Close(Some(frame)))).await;
    }
    let _ = tokio::time::timeout(WRITE_TIMEOUT, sink.close()).await;
    metrics.connections.dec();
}

/// Moves frames both ways; returns how to close (`None`: the client is already gone).
#[allow(clippy::too_many_arguments)] // One call site; a struct would only rename them.
async fn pump(
    conn: ConnId,
    sink: &mut futures_util::stream::SplitSink<WebSocket, Message>,
    mut stream: futures_util::stream::SplitStream<WebSocket>,
    room: &mpsc::Sender<RoomCmd>,
    mut close_rx: oneshot::Receiver<CloseReason>,
    mut out_rx: mpsc::Receiver<Bytes>,
    settings: &SocketSettings,
    rooms: &Rooms,
) -> Option<CloseReason> {
    let metrics = &rooms.inner.metrics;
    let mut ping = tokio::time::interval(settings.ping);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_seen = Instant::now();
    loop {
        tokio::select! {
            biased;
            reason = &mut close_rx => {
                let reason = reason.unwrap_or(CloseReason::GOING_AWAY);
                if reason != CloseReason::TOO_SLOW {
                    // Deliver what the room queued before closing (e.g. its last word).
                    while let Ok(frame) = out_rx.try_recv() {
                        if !write(sink, frame, metrics).await {
                            return None;
                        }
                    }
                }
                return Some(reason);
            }
            frame = out_rx.recv() => match frame {
                Some(frame) => if !write_queued(sink, frame, &mut out_rx, metrics).await {
                    return None;
                },
                None => return Some(CloseReason::GOING_AWAY),
            },
            msg = stream.next() => {
                last_seen = Instant::now();
                match msg {
                    None | Some(Ok(Message::Close(_))) => return None,
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                    Some(Ok(Message::Binary(data))) => {
                        metrics.bytes_received.inc_by(data.len() as u64);
                        match decode_client_message(&data, &settings.limits) {
                            Ok(msg) => {
                                if room.send(RoomCmd::Message { conn, msg }).await.is_err() {
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
                let ping = Message::Ping(Bytes::new());
                if !matches!(tokio::time::timeout(WRITE_TIMEOUT, sink.send(ping)).await, Ok(Ok(()))) {
                    return None;
                }
            }
        }
    }
}

/// Frames written with one flush at most: bounds the time a connection's writer holds on.
const MAX_COALESCED: usize = 64;

/// Writes `first` and every frame already queued behind it (up to [`MAX_COALESCED`]), then
/// flushes once: one `send` system call for a burst (a room's batch releases its frames
/// together) instead of one per frame, which was the largest cost under load.
async fn write_queued(
    sink: &mut futures_util::stream::SplitSink<WebSocket, Message>,
    first: Bytes,
    queue: &mut mpsc::Receiver<Bytes>,
    metrics: &crate::metrics::Metrics,
) -> bool {
    let burst = async {
        metrics.bytes_sent.inc_by(first.len() as u64);
        sink.feed(Message::Binary(first)).await?;
        for _ in 1..MAX_COALESCED {
            let Ok(frame) = queue.try_recv() else { break };
            metrics.bytes_sent.inc_by(frame.len() as u64);
            sink.feed(Message::Binary(frame)).await?;
        }
        sink.flush().await
    };
    matches!(tokio::time::timeout(WRITE_TIMEOUT, burst).await, Ok(Ok(())))
}

async fn write(
    sink: &mut futures_util::stream::SplitSink<WebSocket, Message>,
    frame: Bytes,
    metrics: &crate::metrics::Metrics,
) -> bool {
    metrics.bytes_sent.inc_by(frame.len() as u64);
    matches!(
        tokio::time::timeout(WRITE_TIMEOUT, sink.send(Message::Binary(frame))).await,
        Ok(Ok(()))
    )
}

/// The metric label and close for a refused message.
fn classify(err: &ProtocolError) -> (&'static str, CloseReason) {
    match err {
        ProtocolError::UnknownMessageType(_)
        | ProtocolError::UnknownSyncType(_)
        | ProtocolError::UnexpectedAuth => ("unknown_type", CloseReason::UNSUPPORTED),
        ProtocolError::Malformed(ValidationError::TooLarge { .. }) => ("too_big", CloseReason::TOO_BIG),
        ProtocolError::Malformed(_) => ("malformed", CloseReason::MALFORMED),
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

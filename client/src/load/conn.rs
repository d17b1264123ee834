//! One simulated editor: a WebSocket, a yrs document and the measurement hooks.
//!
//! # How latency is measured
//!
//! Every room lives in one worker process, so all its clients share one monotonic clock
//! (`Instant`) and one [`RoomShared`] table. An edit is one yrs transaction that inserts a
//! run of ASCII characters, which yrs stores as items with IDs `(client, c..c+k)`, where
//! `c` is the sender's own clock before the edit. Right before the frame is written to
//! the socket, the sender records `(client, c) → Instant::now()` in the room's table.
//!
//! A receiver does not look inside updates: it takes the document's state vector before
//! and after applying each update (or sync step 2). Every client whose clock advanced from
//! `b` to `a` delivered the edits whose start clock lies in `b..a`; each is looked up in
//! the table and `now − sent` is recorded. This is robust to batching (one message
//! carrying several edits), to yrs parking an update until a missing earlier one arrives
//! (the edit only counts once it is usable), and to duplicates (the state vector only
//! advances once per receiver). So each (edit, peer) pair yields at most one sample, and
//! `delivered / expected` compares them with `edits × (clients in room − 1)`.
//!
//! Only edits made in the measured window (after the warm-up) are counted; edits of the
//! warm-up still have to arrive before the quiet period ends.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use samen_crdt::ClientId;
use samen_crdt::protocol::{self, ServerMessage};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use yrs::types::xml::{
    XmlElementPrelim, XmlElementRef, XmlFragment, XmlFragmentRef, XmlOut, XmlTextPrelim, XmlTextRef,
};
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{Doc, GetString, ReadTxn, Text, Transact, Update};

use super::backoff::Reconnect;
use super::stats::Histogram;
use super::storm::{StormLog, wall_ms};
use super::wire::{Framing, Incoming};

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The section the editors type in (a Tiptap editor's root `XmlFragment`).
pub const SECTION: &str = "goals";

/// Run phases, shared by all clients of a worker.
pub mod phase {
    /// Connected, not editing yet (and the whole run in `--idle`).
    pub const HOLD: u8 = 0;
    /// Editing, not measured.
    pub const WARMUP: u8 = 1;
    /// Editing, measured.
    pub const MEASURE: u8 = 2;
    /// Editing stopped; waiting for outstanding updates.
    pub const STOP: u8 = 3;
}

#[derive(Debug, Clone, Copy)]
struct Sent {
    at: Instant,
    tracked: bool,
    /// The node the sender is connected to (several nodes: `--url a,b`).
    node: usize,
}

/// What a room's clients share: the send-time table and the room's counters.
#[derive(Debug, Default)]
pub struct RoomState {
    sends: HashMap<ClientId, BTreeMap<u32, Sent>>,
    /// End-to-end latency of measured edits, per receiving peer.
    pub latency: Histogram,
    /// The same, for peers on another node than the sender's (several nodes).
    pub latency_cross: Histogram,
    /// The same, for peers on the sender's node (several nodes).
    pub latency_same: Histogram,
    /// Clients of the room that connected.
    pub peers: u64,
    /// Edits sent (all phases).
    pub sent_all: u64,
    /// Receipts of edits (all phases).
    pub receipts_all: u64,
    /// Edits sent in the measured window.
    pub sent_tracked: u64,
    /// Receipts of measured edits.
    pub delivered_tracked: u64,
    /// When the measured time began and how long a window is (`--window`).
    pub window: Option<(Instant, Duration)>,
    /// The latency of measured edits per window, by when the edit was sent.
    pub windows: Vec<Histogram>,
}

impl RoomState {
    /// Whether every edit reached every other connected peer.
    pub fn complete(&self) -> bool {
        self.receipts_all >= self.sent_all * self.peers.saturating_sub(1)
    }
}

/// One room, shared by its clients (all in one process).
#[derive(Debug)]
pub struct RoomShared {
    /// Room (document) name.
    pub name: String,
    /// Its index in the run.
    pub index: usize,
    /// The shared state.
    pub state: Mutex<RoomState>,
}

impl RoomShared {
    /// A room with no clients yet.
    pub fn new(name: String, index: usize) -> Arc<RoomShared> {
        Arc::new(RoomShared {
            name,
            index,
            state: Mutex::new(RoomState::default()),
        })
    }

    fn record_send(&self, client: ClientId, clock: u32, at: Instant, tracked: bool, node: usize) {
        if let Ok(mut s) = self.state.lock() {
            s.sends
                .entry(client)
                .or_default()
                .insert(clock, Sent { at, tracked, node });
            s.sent_all += 1;
            if tracked {
                s.sent_tracked += 1;
            }
        }
    }

    fn record_receipts(&self, ranges: &[(ClientId, u32, u32)], now: Instant, node: usize) {
        let Ok(mut guard) = self.state.lock() else {
            return;
        };
        let s = &mut *guard;
        for &(client, from, to) in ranges {
            let Some(sends) = s.sends.get(&client) else {
                continue;
            };
            for sent in sends.range(from..to).map(|(_, v)| *v) {
                s.receipts_all += 1;
                if sent.tracked {
                    s.delivered_tracked += 1;
                    let took = now.saturating_duration_since(sent.at);
                    s.latency.record(took);
                    if let Some((origin, every)) = s.window {
                        let i = (sent.at.saturating_duration_since(origin).as_nanos()
                            / every.as_nanos().max(1)) as usize;
                        if s.windows.len() <= i {
                            s.windows.resize_with(i + 1, Histogram::default);
                        }
                        s.windows[i].record(took);
                    }
                    if sent.node == node {
                        s.latency_same.record(took);
                    } else {
                        s.latency_cross.record(took);
                    }
                }
            }
        }
    }
}

/// What one client is told to do.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Its room.
    pub room: Arc<RoomShared>,
    /// Its index in the room.
    pub index: usize,
    /// The URL to open.
    pub url: String,
    /// Which of the server's nodes that URL is (0 with one node).
    pub node: usize,
    /// The framing.
    pub framing: Framing,
    /// Hocuspocus auth token ("" when none).
    pub token: String,
    /// Create the paragraph if the section has none (the room's first client).
    pub create_paragraph: bool,
    /// Updates per second (0 in idle mode).
    pub rate: f64,
    /// Characters per update.
    pub chars: u32,
    /// Rewrite rather than grow (0: grow): the client types in a paragraph of its own, and
    /// once that would hold more than this many characters, the edit deletes it and types
    /// in a new one at the end of the section.
    pub max_chars: u32,
    /// Awareness interval.
    pub awareness_every: Duration,
    /// Handshake + sync timeout.
    pub connect_timeout: Duration,
    /// The run's seed; each client draws from its own stream of it.
    pub seed: u64,
    /// What to do when the connection closes.
    pub reconnect: Reconnect,
    /// Where reconnects are logged (the worker's).
    pub storm: Arc<StormLog>,
    /// What the document holds before this client joins (`--preload-kib`): it counts as
    /// synced only once its document covers this state vector.
    pub cover: Option<yrs::StateVector>,
}

/// Per-client counters, summed by the worker.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ClientCounters {
    /// Edits sent.
    pub updates_sent: u64,
    /// Update messages received.
    pub updates_received: u64,
    /// Awareness messages sent.
    pub awareness_sent: u64,
    /// Awareness messages received.
    pub awareness_received: u64,
    /// Samen acks: update messages acknowledged as durable.
    pub acked: u64,
    /// Bytes sent and received (WebSocket payloads).
    pub bytes_sent: u64,
    /// Bytes received.
    pub bytes_received: u64,
}

/// A client's failure: a short kind (for counting) and a detail.
#[derive(Debug, Clone)]
pub struct Failure {
    /// `connect`, `sync-timeout`, `denied`, `closed`, `malformed`, `send`, `preload`.
    pub kind: &'static str,
    /// Details.
    pub detail: String,
}

fn fail(kind: &'static str, detail: impl Into<String>) -> Failure {
    Failure {
        kind,
        detail: detail.into(),
    }
}

/// Commands from the worker to a running client.
pub enum Cmd {
    /// Reply with the section's content.
    Snapshot(oneshot::Sender<String>),
    /// Close the connection and finish.
    Close,
}

/// A client's final account.
#[derive(Debug, Default)]
pub struct ClientReport {
    /// Counters.
    pub counters: ClientCounters,
    /// Why the connection ended early, if it did.
    pub failure: Option<Failure>,
}

/// A connected, synced client, ready to run.
pub struct Connected {
    ws: Ws,
    session: Session,
    /// WebSocket handshake time.
    pub connect_time: Duration,
    /// Time until the first sync step 2 (from the start of the connect).
    pub sync_time: Duration,
}

struct Session {
    spec: Spec,
    doc: Doc,
    goals: XmlFragmentRef,
    text: Option<XmlTextRef>,
    /// The paragraph this client types in, when it has one of its own (`max_chars`).
    own: Option<XmlElementRef>,
    synced: bool,
    counters: ClientCounters,
    aw_clock: u32,
    aw_json: Option<String>,
    caret: u32,
    last_clock: Option<u32>,
    seq: u64,
    /// Where and when this client types: from the run's seed, its room and its index, so
    /// that a seed replays the same choices.
    rng: fastrand::Rng,
}

impl Session {
    fn new(spec: Spec) -> Session {
        // The Yjs client ID stays random: a seed replayed against rooms that already hold
        // a run's edits would otherwise reuse its client IDs from clock 0, and Yjs ignores
        // such updates as already seen.
        let doc = samen_crdt::new_doc();
        let goals = doc.get_or_insert_xml_fragment(SECTION);
        let stream = ((spec.room.index as u64) << 32) | spec.index as u64;
        let rng = fastrand::Rng::with_seed(spec.seed ^ stream.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        Session {
            spec,
            doc,
            goals,
            text: None,
            own: None,
            synced: false,
            counters: ClientCounters::default(),
            aw_clock: 0,
            aw_json: None,
            caret: 0,
            last_clock: None,
            seq: 0,
            rng,
        }
    }

    fn random(&mut self) -> u64 {
        self.rng.u64(..)
    }

    fn client_id(&self) -> ClientId {
        self.doc.client_id().into()
    }

    /// The first paragraph's text in the section, as Tiptap lays it out.
    fn find_text(&self) -> Option<XmlTextRef> {
        let txn = self.doc.transact();
        for child in self.goals.children(&txn) {
            if let XmlOut::Element(p) = child
                && p.tag().as_ref() == "paragraph"
            {
                for inner in p.children(&txn) {
                    if let XmlOut::Text(t) = inner {
                        return Some(t);
                    }
                }
            }
        }
        None
    }

    /// Appends `<paragraph>` with an empty text; returns the update to send.
    fn create_paragraph(&mut self) -> Vec<u8> {
        let (text, update) = {
            let mut txn = self.doc.transact_mut();
            let p = self
                .goals
                .push_back(&mut txn, XmlElementPrelim::empty("paragraph"));
            let text = p.push_back(&mut txn, XmlTextPrelim::new(""));
            (text, txn.encode_update_v1())
        };
        self.text = Some(text);
        self.spec.framing.frame(&protocol::encode_update(&update))
    }

    /// Types a few characters at this client's caret; returns the frame to send and the
    /// start clock of the inserted run.
    fn edit(&mut self) -> Option<(Vec<u8>, u32)> {
        let text = self.text.clone()?;
        let chars: String = (0..self.spec.chars)
            .map(|i| {
                self.seq += 1;
                if self.seq.is_multiple_of(6) {
                    ' '
                } else {
                    char::from(b'a' + ((self.spec.index as u64 + self.seq + u64::from(i)) % 26) as u8)
                }
            })
            .collect();
        let client = self.doc.client_id();
        let (update, clock, pos, text) = {
            let mut txn = self.doc.transact_mut();
            let clock = txn.state_vector().get(&client);
            let bound = (self.spec.max_chars, self.spec.chars);
            let text = match rewrite(&mut txn, &self.goals, &mut self.own, &text, bound) {
                Some(fresh) => {
                    self.caret = 0;
                    fresh
                }
                None => text,
            };
            let pos = self.caret.min(text.len(&txn));
            text.insert(&mut txn, pos, &chars);
            // The item of the last character typed (what the caret is anchored to).
            self.last_clock = txn.state_vector().get(&client).checked_sub(1);
            (txn.encode_update_v1(), clock, pos, text)
        };
        self.text = Some(text.clone());
        self.caret = pos + self.spec.chars;
        // Now and then the caret jumps, as a person moves around the text.
        if self.random().is_multiple_of(16) {
            let len = text.len(&self.doc.transact());
            self.caret = (self.random() % u64::from(len + 1)) as u32;
        }
        Some((self.spec.framing.frame(&protocol::encode_update(&update)), clock))
    }

    /// A new awareness state (user and caret, as y-prosemirror's cursor plugin sends).
    fn awareness(&mut self) -> Vec<u8> {
        const COLORS: [&str; 8] = [
            "#30bced", "#6eeb83", "#ffbc42", "#ecd444", "#ee6352", "#9ac2c9", "#8acb88", "#1be7ff",
        ];
        let client = self.client_id();
        let pos = self.last_clock.map(|clock| {
            serde_json::json!({
                "type": null, "tname": null, "item": {"client": client, "clock": clock}, "assoc": 0
            })
        });
        let cursor = pos.map(|p| serde_json::json!({"anchor": p.clone(), "head": p}));
        let state = serde_json::json!({
            "user": {
                "name": format!("load {}.{}", self.spec.room.index, self.spec.index),
                "color": COLORS[self.spec.index % COLORS.len()],
            },
            "cursor": cursor,
        });
        let json = state.to_string();
        self.aw_clock += 1;
        let frame = protocol::encode_awareness([(client, self.aw_clock, json.as_str())]);
        self.aw_json = Some(json);
        self.counters.awareness_sent += 1;
        self.spec.framing.frame(&frame)
    }

    fn apply_measured(&mut self, update: &[u8]) -> Result<(), Failure> {
        let update = Update::decode_v1(update).map_err(|e| fail("malformed", format!("update: {e}")))?;
        let before = self.doc.transact().state_vector();
        {
            let mut txn = self.doc.transact_mut();
            txn.apply_update(update)
                .map_err(|e| fail("malformed", format!("apply: {e}")))?;
        }
        let after = self.doc.transact().state_vector();
        let ranges: Vec<(ClientId, u32, u32)> = after
            .iter()
            .filter_map(|(client, &to)| {
                let from = before.get(client);
                (to > from).then(|| (client.into(), from, to))
            })
            .collect();
        if !ranges.is_empty() {
            self.spec
                .room
                .record_receipts(&ranges, Instant::now(), self.spec.node);
        }
        Ok(())
    }

    /// Handles one frame from the server; replies go to `replies`.
    fn on_frame(&mut self, frame: &[u8], replies: &mut Vec<Vec<u8>>) -> Result<(), Failure> {
        self.counters.bytes_received += frame.len() as u64;
        let msg = self
            .spec
            .framing
            .parse(frame)
            .map_err(|_| fail("malformed", "undecodable frame"))?;
        match msg {
            Incoming::Server(ServerMessage::SyncStep1(sv)) => {
                let sv =
                    yrs::StateVector::decode_v1(&sv).map_err(|e| fail("malformed", format!("sv: {e}")))?;
                let diff = self.doc.transact().encode_diff_v1(&sv);
                replies.push(self.spec.framing.frame(&protocol::encode_sync_step2(&diff)));
            }
            Incoming::Server(ServerMessage::SyncStep2(update)) => {
                self.apply_measured(&update)?;
                self.synced = true;
            }
            Incoming::Server(ServerMessage::Update(update)) => {
                self.apply_measured(&update)?;
                self.counters.updates_received += 1;
            }
            Incoming::Server(ServerMessage::Awareness(_)) => self.counters.awareness_received += 1,
            Incoming::Server(ServerMessage::QueryAwareness) => {
                if let Some(json) = &self.aw_json {
                    let frame =
                        protocol::encode_awareness([(self.client_id(), self.aw_clock, json.as_str())]);
                    replies.push(self.spec.framing.frame(&frame));
                }
            }
            Incoming::Server(ServerMessage::PermissionDenied(reason)) => {
                return Err(fail("denied", reason));
            }
            Incoming::Server(ServerMessage::Ack(n)) => self.counters.acked = self.counters.acked.max(n),
            Incoming::TokenRequest => {
                if let Some(hello) = self.spec.framing.hello(&self.spec.token) {
                    replies.push(hello);
                }
            }
            Incoming::Ping => replies.push(self.spec.framing.pong()),
            Incoming::Close(reason) => return Err(fail("closed", format!("document closed: {reason}"))),
            // The name guard's findings are for editors; a load client has no use for them.
            Incoming::Server(
                ServerMessage::Other(_) | ServerMessage::Names(_) | ServerMessage::FilesChanged,
            )
            | Incoming::Authenticated(_)
            | Incoming::Ignored => {}
        }
        Ok(())
    }
}

/// With `max_chars`, the paragraph to type in from now on, when this client has none of its
/// own yet (`own`) or its own would grow past the bound: the old one deleted, a new one at
/// the end of the section. A paragraph of its own because yrs finds a position by walking
/// the text from its start, deleted items included: typing and deleting in one shared
/// paragraph for half an hour, the load generator spent 79% of its time in that walk and
/// could no longer keep its rate.
fn rewrite(
    txn: &mut yrs::TransactionMut,
    goals: &XmlFragmentRef,
    own: &mut Option<XmlElementRef>,
    text: &XmlTextRef,
    (max_chars, chars): (u32, u32),
) -> Option<XmlTextRef> {
    if max_chars == 0 || (own.is_some() && text.len(txn) + chars <= max_chars) {
        return None;
    }
    if let Some(old) = own.take() {
        let index = goals
            .children(txn)
            .position(|child| matches!(child, XmlOut::Element(p) if p == old));
        if let Some(index) = index {
            goals.remove_range(txn, index as u32, 1);
        }
    }
    let paragraph = goals.push_back(txn, XmlElementPrelim::empty("paragraph"));
    let text = paragraph.push_back(txn, XmlTextPrelim::new(""));
    *own = Some(paragraph);
    Some(text)
}

async fn send(ws: &mut Ws, counters: &mut ClientCounters, frame: Vec<u8>) -> Result<(), Failure> {
    counters.bytes_sent += frame.len() as u64;
    ws.send(Message::Binary(frame.into()))
        .await
        .map_err(|e| fail("send", e.to_string()))
}

fn close_failure(frame: Option<CloseFrame>) -> Failure {
    match frame {
        Some(CloseFrame { code, reason }) => fail("closed", format!("{} {reason}", u16::from(code))),
        None => fail("closed", "1005"),
    }
}

type WsItem = Option<Result<Message, tokio_tungstenite::tungstenite::Error>>;

/// Handles what the socket yielded, sending any replies.
async fn handle_msg(ws: &mut Ws, session: &mut Session, msg: WsItem) -> Result<(), Failure> {
    match msg {
        Some(Ok(Message::Binary(frame))) => {
            let mut replies = Vec::new();
            session.on_frame(&frame, &mut replies)?;
            for r in replies {
                send(ws, &mut session.counters, r).await?;
            }
            Ok(())
        }
        Some(Ok(Message::Close(frame))) => Err(close_failure(frame)),
        Some(Ok(_)) => Ok(()),
        Some(Err(e)) => Err(fail("closed", e.to_string())),
        None => Err(fail("closed", "eof")),
    }
}

/// Opens a WebSocket to `url` by `deadline`.
async fn open(url: &str, deadline: Instant) -> Result<Ws, Failure> {
    let (ws, _) = tokio::time::timeout_at(
        deadline,
        tokio_tungstenite::connect_async_with_config(url, None, true),
    )
    .await
    .map_err(|_| fail("connect", "timed out"))?
    .map_err(|e| fail("connect", e.to_string()))?;
    Ok(ws)
}

/// Says hello (Hocuspocus), sends sync step 1 with what the document holds, and handles
/// what comes until the server's sync step 2 arrived.
async fn handshake(ws: &mut Ws, session: &mut Session, deadline: Instant) -> Result<(), Failure> {
    session.synced = false;
    if let Some(hello) = session.spec.framing.hello(&session.spec.token) {
        send(ws, &mut session.counters, hello).await?;
    }
    let sv = session.doc.transact().state_vector().encode_v1();
    let step1 = session.spec.framing.frame(&protocol::encode_sync_step1(&sv));
    send(ws, &mut session.counters, step1).await?;
    while !session.synced {
        let msg = tokio::time::timeout_at(deadline, ws.next())
            .await
            .map_err(|_| fail("sync-timeout", "no sync step 2 in time"))?;
        handle_msg(ws, session, msg).await?;
    }
    Ok(())
}

/// Opens the connection, runs the handshake until synced and makes sure there is a
/// paragraph to type in.
pub async fn connect(spec: Spec) -> Result<Connected, Failure> {
    let start = Instant::now();
    let deadline = start + spec.connect_timeout;
    let mut ws = open(&spec.url, deadline).await?;
    let connect_time = start.elapsed();
    let mut session = Session::new(spec);
    handshake(&mut ws, &mut session, deadline).await?;
    if let Some(target) = session.spec.cover.clone() {
        while !covers(&session.doc.transact().state_vector(), &target) {
            let msg = tokio::time::timeout_at(deadline, ws.next())
                .await
                .map_err(|_| fail("sync-timeout", "the preloaded document did not arrive in time"))?;
            handle_msg(&mut ws, &mut session, msg).await?;
        }
    }
    let sync_time = start.elapsed();
    session.text = session.find_text();
    if session.text.is_none() && !session.spec.create_paragraph {
        // The room's first client created it before we connected; it normally came with
        // sync step 2. Wait a little for it, then make our own.
        let wait_until = (Instant::now() + Duration::from_secs(3)).min(deadline);
        while session.text.is_none() && Instant::now() < wait_until {
            match tokio::time::timeout_at(wait_until, ws.next()).await {
                Ok(msg) => handle_msg(&mut ws, &mut session, msg).await?,
                Err(_) => break,
            }
            session.text = session.find_text();
        }
    }
    if session.text.is_none() {
        let frame = session.create_paragraph();
        send(&mut ws, &mut session.counters, frame).await?;
    }
    let aw = session.awareness();
    send(&mut ws, &mut session.counters, aw).await?;
    Ok(Connected {
        ws,
        session,
        connect_time,
        sync_time,
    })
}

/// Whether state vector `sv` holds everything `target` does.
fn covers(sv: &yrs::StateVector, target: &yrs::StateVector) -> bool {
    target.iter().all(|(client, &clock)| sv.get(client) >= clock)
}

/// Edits one update of a preload holds: each at its own place, as a school year's edits
/// are, and below the server's bound on items that search for their place (128).
const PRELOAD_EDITS_PER_UPDATE: usize = 100;

/// Writes a school year's worth of edits into the section until the document's state is
/// `bytes` long: words typed at random places and now and then a stretch deleted, sent
/// as updates of [`PRELOAD_EDITS_PER_UPDATE`] edits. Then waits until the server has
/// taken them all (a sync round trip, answered after the updates before it) and returns
/// the state vector that clients joining later must reach.
pub async fn preload(conn: &mut Connected, bytes: usize) -> Result<yrs::StateVector, Failure> {
    let Connected { ws, session, .. } = conn;
    let text = session
        .text
        .clone()
        .ok_or_else(|| fail("preload", "no paragraph to write in"))?;
    while session
        .doc
        .transact()
        .encode_state_as_update_v1(&yrs::StateVector::default())
        .len()
        < bytes
    {
        let update = {
            let mut txn = session.doc.transact_mut();
            for _ in 0..PRELOAD_EDITS_PER_UPDATE {
                let len = text.len(&txn);
                if len > 200 && session.rng.u8(..5) == 0 {
                    let at = session.rng.u32(..len);
                    let n = session.rng.u32(1..=20).min(len - at);
                    text.remove_range(&mut txn, at, n);
                } else {
                    let word: String = (0..session.rng.usize(2..12))
                        .map(|_| session.rng.lowercase())
                        .chain([' '])
                        .collect();
                    let at = session.rng.u32(..=len);
                    text.insert(&mut txn, at, &word);
                }
            }
            txn.encode_update_v1()
        };
        let frame = session.spec.framing.frame(&protocol::encode_update(&update));
        send(ws, &mut session.counters, frame).await?;
    }
    let deadline = Instant::now() + session.spec.connect_timeout;
    let sv = session.doc.transact().state_vector();
    session.synced = false;
    let step1 = session
        .spec
        .framing
        .frame(&protocol::encode_sync_step1(&sv.encode_v1()));
    send(ws, &mut session.counters, step1).await?;
    while !session.synced {
        let msg = tokio::time::timeout_at(deadline, ws.next())
            .await
            .map_err(|_| fail("sync-timeout", "the server did not answer after the preload"))?;
        handle_msg(ws, session, msg).await?;
    }
    Ok(sv)
}

/// After the connection closed under the client: waits as `spec.reconnect` says and tries
/// again until synced, logging each attempt; the new connection, or None when told to
/// close (or the worker went away) meanwhile.
async fn reconnect(session: &mut Session, cmds: &mut mpsc::UnboundedReceiver<Cmd>) -> Option<Ws> {
    let storm = session.spec.storm.clone();
    let dropped = wall_ms();
    storm.dropped(dropped);
    let mut attempt = 0u32;
    loop {
        let wait = session.spec.reconnect.delay(attempt, session.rng.f64());
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            cmd = cmds.recv() => match cmd {
                Some(Cmd::Snapshot(reply)) => {
                    let text = session.goals.get_string(&session.doc.transact());
                    let _ = reply.send(text);
                    continue;
                }
                Some(Cmd::Close) | None => return None,
            },
        }
        storm.attempt();
        let deadline = Instant::now() + session.spec.connect_timeout;
        let again = match open(&session.spec.url, deadline).await {
            Ok(mut ws) => handshake(&mut ws, session, deadline).await.map(|()| ws),
            Err(f) => Err(f),
        };
        match again {
            Ok(mut ws) => {
                storm.resynced(dropped);
                // Presence again, as a y-websocket client announces itself on connect.
                let aw = session.awareness();
                if send(&mut ws, &mut session.counters, aw).await.is_ok() {
                    return Some(ws);
                }
            }
            Err(_) => attempt = attempt.saturating_add(1),
        }
    }
}

/// Runs a connected client until told to close: edits at the spec's rate while the phase
/// says so, renews presence, applies what arrives, answers snapshots.
pub async fn run(
    conn: Connected,
    phase: Arc<AtomicU8>,
    mut cmds: mpsc::UnboundedReceiver<Cmd>,
) -> ClientReport {
    let Connected {
        mut ws, mut session, ..
    } = conn;
    let editing = session.spec.rate > 0.0;
    let edit_period = if editing {
        Duration::from_secs_f64(1.0 / session.spec.rate)
    } else {
        Duration::from_secs(3600)
    };
    // Idle editors still renew presence, as y-protocols does every 15 s.
    let aw_period = if editing {
        session.spec.awareness_every
    } else {
        Duration::from_secs(15)
    };
    let offset = |period: Duration, r: u64| period.mul_f64((r % 1000) as f64 / 1000.0);
    let first_edit = Instant::now() + offset(edit_period, session.random());
    let first_aw = Instant::now() + offset(aw_period, session.random()).max(Duration::from_millis(100));
    let mut edit_tick = tokio::time::interval_at(first_edit, edit_period);
    edit_tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut aw_tick = tokio::time::interval_at(first_aw, aw_period);
    aw_tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut failure: Option<Failure> = None;
    loop {
        let open = failure.is_none();
        tokio::select! {
            cmd = cmds.recv() => match cmd {
                Some(Cmd::Snapshot(reply)) => {
                    let text = session.goals.get_string(&session.doc.transact());
                    let _ = reply.send(text);
                }
                Some(Cmd::Close) | None => {
                    if open {
                        let _ = tokio::time::timeout(Duration::from_secs(2), ws.close(None)).await;
                    }
                    break;
                }
            },
            msg = ws.next(), if open => {
                if let Err(f) = handle_msg(&mut ws, &mut session, msg).await {
                    let lost = matches!(f.kind, "closed" | "send");
                    if lost && session.spec.reconnect != Reconnect::None {
                        match reconnect(&mut session, &mut cmds).await {
                            Some(again) => ws = again,
                            None => break,
                        }
                    } else {
                        failure = Some(f);
                    }
                }
            }
            _ = edit_tick.tick(), if open && editing => {
                let p = phase.load(Ordering::Relaxed);
                if (p == phase::WARMUP || p == phase::MEASURE)
                    && let Some((frame, clock)) = session.edit()
                {
                    let node = session.spec.node;
                    session.spec.room.record_send(session.client_id(), clock, Instant::now(), p == phase::MEASURE, node);
                    session.counters.updates_sent += 1;
                    if let Err(f) = send(&mut ws, &mut session.counters, frame).await {
                        failure = Some(f);
                    }
                }
            }
            _ = aw_tick.tick(), if open => {
                let p = phase.load(Ordering::Relaxed);
                if !editing || p == phase::WARMUP || p == phase::MEASURE {
                    let frame = session.awareness();
                    if let Err(f) = send(&mut ws, &mut session.counters, frame).await {
                        failure = Some(f);
                    }
                }
            }
        }
    }
    ClientReport {
        counters: session.counters,
        failure,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipts_count_apart_across_and_within_nodes() {
        let room = RoomShared::new("r".into(), 0);
        let (client, at) = (ClientId::new(7), Instant::now());
        // An edit of a client on node 0, received on node 1 and on node 0.
        room.record_send(client, 0, at, true, 0);
        room.record_receipts(&[(client, 0, 1)], at + Duration::from_millis(5), 1);
        room.record_receipts(&[(client, 0, 1)], at + Duration::from_millis(2), 0);
        let state = room.state.lock().expect("state");
        assert_eq!(state.latency.count(), 2);
        assert_eq!(state.latency_cross.count(), 1);
        assert_eq!(state.latency_cross.max_us(), Some(5_000));
        assert_eq!(state.latency_same.count(), 1);
        assert_eq!(state.latency_same.max_us(), Some(2_000));
    }

    fn session(seed: u64, room: usize, index: usize) -> Session {
        Session::new(Spec {
            room: RoomShared::new(format!("r{room}"), room),
            index,
            url: "ws://127.0.0.1:1/sync/r".into(),
            node: 0,
            framing: Framing::YWebsocket,
            token: String::new(),
            create_paragraph: index == 0,
            rate: 1.0,
            chars: 1,
            max_chars: 0,
            awareness_every: Duration::from_secs(1),
            connect_timeout: Duration::from_secs(1),
            seed,
            reconnect: Reconnect::None,
            storm: Arc::default(),
            cover: None,
        })
    }

    fn draws(mut s: Session) -> Vec<u64> {
        (0..32).map(|_| s.random()).collect()
    }

    #[test]
    fn a_bounded_paragraph_stays_near_its_bound_and_every_edit_still_types() {
        let mut s = session(7, 0, 0);
        s.spec.chars = 3;
        s.spec.max_chars = 30;
        s.create_paragraph();
        let mut clocks = Vec::new();
        for _ in 0..100 {
            let (_, clock) = s.edit().expect("an edit");
            clocks.push(clock);
        }
        let txn = s.doc.transact();
        let text = s.text.clone().expect("paragraph");
        assert_eq!(text.len(&txn), 30, "typed 300, in a new paragraph every 10 edits");
        let live = s.goals.get_string(&txn);
        assert_eq!(
            live.matches("<paragraph>").count(),
            2,
            "the shared one, and its own: {live}"
        );
        assert_eq!(s.goals.len(&txn), 2);
        // Each edit typed 3 new characters (what the latency is measured by).
        assert!(clocks.windows(2).all(|w| w[1] >= w[0] + 3), "{clocks:?}");
    }

    #[test]
    fn a_seed_replays_each_clients_choices_and_clients_differ() {
        assert_eq!(draws(session(42, 3, 1)), draws(session(42, 3, 1)));
        assert_ne!(draws(session(42, 3, 1)), draws(session(43, 3, 1)));
        assert_ne!(draws(session(42, 3, 1)), draws(session(42, 3, 2)));
        assert_ne!(draws(session(42, 3, 1)), draws(session(42, 4, 1)));
    }
}

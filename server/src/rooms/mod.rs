//! Live rooms: one per loaded registration document, found through a concurrent map.
//!
//! A room is a task (see [`room`]) that owns its document; connections (see
//! [`connection`]) send it validated messages and receive frames through their own
//! bounded queue. A room unloads itself when it has been empty for a while, so memory
//! returns; a connection that finds a room closing simply asks for a new one.

mod connection;
mod outbox;
mod presence;
mod quota;
mod room;
mod usage;

use std::sync::Arc;

use dashmap::DashMap;
use samen_crdt::ClientMessage;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot, watch};

pub use connection::{SocketSettings, serve_socket};
pub use quota::{SocketQuota, SocketSlot};

use crate::access::SchoolAccess;
use crate::clock::{Ambient, Clock};
use crate::colors::color_of;
use crate::config::RoomConfig;
use crate::db::Db;
use crate::events::Events;
use crate::ids::{ConnId, DocId, UserId};
use crate::metrics::Metrics;
use crate::storage::{Notice, StorageError, Store, StoredBatch, Topic};
use samen_crdt::meeting::{MeetingRoot, Partner};

/// Who is on a connection, as the server established before the upgrade.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The user.
    pub user: UserId,
    /// Their display name.
    pub name: String,
    /// What they may write in the document.
    pub rule: Rule,
    /// Their presence colour.
    pub color: &'static str,
    /// Whether their credential may change the document (false for a read-only token).
    pub write: bool,
}

/// What a user may write in a document, by its kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// A registration's sections, by the user's access to its school.
    Registration(SchoolAccess),
    /// A meeting's parts, by the partners the user is at the school's table.
    Meeting(Vec<Partner>),
    /// A school and an LSC's agreements: their two parties write all of them.
    Agreement,
}

impl Principal {
    /// A principal on a registration, with a colour that stays the same for the same user.
    pub fn new(user: UserId, name: String, access: SchoolAccess) -> Self {
        Self::with_rule(user, name, Rule::Registration(access))
    }

    /// A principal on a meeting, at its school's table as `partners`.
    pub fn at_meeting(user: UserId, name: String, partners: Vec<Partner>) -> Self {
        Self::with_rule(user, name, Rule::Meeting(partners))
    }

    /// A principal on a school and an LSC's agreements (one of their two parties).
    pub fn on_agreement(user: UserId, name: String) -> Self {
        Self::with_rule(user, name, Rule::Agreement)
    }

    fn with_rule(user: UserId, name: String, rule: Rule) -> Self {
        let color = color_of(&user);
        Principal {
            user,
            name,
            rule,
            color,
            write: true,
        }
    }

    /// Whether this connection may write the root `root` (`None`: the document has no such
    /// root): its user's rule allows it, and its credential may change things at all.
    pub fn may_write(&self, root: &str) -> Option<bool> {
        let allowed = match &self.rule {
            Rule::Registration(access) => {
                samen_crdt::Section::from_root_name(root).map(|s| access.may_write(s))
            }
            Rule::Meeting(partners) => {
                MeetingRoot::parse(root).map(|part| partners.iter().any(|p| part.writable_by(p)))
            }
            Rule::Agreement => samen_crdt::meeting::agreement_rule(root),
        };
        allowed.map(|allowed| allowed && self.write)
    }

    /// The `user` object the server stamps into every presence state of this connection.
    pub fn stamp(&self) -> serde_json::Value {
        let role = match &self.rule {
            Rule::Registration(access) => access.as_str(),
            Rule::Meeting(partners) => match partners.first() {
                Some(Partner::Clb) => "clb",
                Some(Partner::School) => "school",
                Some(Partner::Lsc(_)) | None => "lsc",
            },
            // Both parties are named by their own presence; the role tells school from LSC
            // only on a meeting.
            Rule::Agreement => "partner",
        };
        serde_json::json!({ "id": self.user, "name": self.name, "role": role, "color": self.color })
    }
}

/// Commands a room's channel holds before senders wait.
const ROOM_CHANNEL: usize = 1024;

/// Why the server closes a connection: a WebSocket close code and a reason the client can
/// show or log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloseReason {
    /// WebSocket close code.
    pub code: u16,
    /// Short human-readable reason (at most 123 bytes).
    pub reason: &'static str,
}

impl CloseReason {
    /// 1001: the room or the server is going away; reconnect.
    pub const GOING_AWAY: CloseReason = CloseReason {
        code: 1001,
        reason: "room closing, please reconnect",
    };
    /// 1003: a text frame or an unknown message type.
    pub const UNSUPPORTED: CloseReason = CloseReason {
        code: 1003,
        reason: "unsupported message",
    };
    /// 1007: a message that is not well-formed.
    pub const MALFORMED: CloseReason = CloseReason {
        code: 1007,
        reason: "malformed message",
    };
    /// 1007: an update that rests on content the server does not have; the client's
    /// reconnect and sync step 2 bring it.
    pub const RESYNC: CloseReason = CloseReason {
        code: 1007,
        reason: "update depends on missing content; reconnect to resync",
    };
    /// 1008: the connection broke a rule.
    pub const POLICY: CloseReason = CloseReason {
        code: 1008,
        reason: "permission-denied",
    };
    /// 1009: a message over the size limit.
    pub const TOO_BIG: CloseReason = CloseReason {
        code: 1009,
        reason: "message too big",
    };
    /// 1011: the server could not go on (storage failed); reconnect later.
    pub const INTERNAL: CloseReason = CloseReason {
        code: 1011,
        reason: "server error, please reconnect",
    };
    /// 1013: the client could not keep up; reconnect and resync.
    pub const TOO_SLOW: CloseReason = CloseReason {
        code: 1013,
        reason: "too slow, please reconnect",
    };
    /// 1008: the user's right to this document ended (logged out, session expired, role
    /// withdrawn, user disabled, token revoked) while the connection was open.
    pub const ACCESS_ENDED: CloseReason = CloseReason {
        code: 1008,
        reason: "access ended; log in again",
    };
    /// 4409: what the connection may write changed while it was open (its registration
    /// was closed or reopened); the client reconnects and gets the new rule.
    pub const RULE_CHANGED: CloseReason = CloseReason {
        code: 4409,
        reason: "what you may write here changed; reconnect",
    };
    /// 1001: the client stopped answering pings.
    pub const TIMEOUT: CloseReason = CloseReason {
        code: 1001,
        reason: "no response, closing",
    };
    /// 1008: the connection introduced more new client IDs (edits or presence) than one
    /// connection may; an honest client uses one.
    pub const CLIENT_IDS: CloseReason = CloseReason {
        code: 1008,
        reason: "too many client IDs",
    };
    /// 4429: the user sent more than their share (update bytes or integration time per
    /// minute), or the connection asked to sync too often. The client keeps its edits and
    /// reconnects after a pause; its sync then sends what was not stored.
    pub const RATE_LIMITED: CloseReason = CloseReason {
        code: 4429,
        reason: "too many changes at once; wait a minute, then reconnect",
    };
    /// 4413: the user's stored bytes for today are used up; their updates are refused
    /// until the next day (UTC). The client keeps its edits.
    pub const QUOTA: CloseReason = CloseReason {
        code: 4413,
        reason: "daily quota for changes reached; try again tomorrow",
    };
}

/// Why an open connection's right to its document ends (a byte, where the close reason
/// itself would make every room command larger).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessEnd {
    /// The user's right ended.
    Ended,
    /// What the user may write changed (a registration closed or reopened).
    RuleChanged,
}

impl AccessEnd {
    /// How the connection is closed.
    pub fn close_reason(self) -> CloseReason {
        match self {
            AccessEnd::Ended => CloseReason::ACCESS_ENDED,
            AccessEnd::RuleChanged => CloseReason::RULE_CHANGED,
        }
    }
}

/// A validated message on its way to the room, holding its bytes' places in its
/// connection's and its room's inbound budgets until the room has stored what it brought.
pub(crate) struct Inbound {
    /// The message.
    pub msg: ClientMessage,
    /// Given back when dropped, after the batch that took the message is committed.
    pub held: Held,
}

/// Places in the inbound budgets (given back on drop).
pub(crate) struct Held {
    _conn: OwnedSemaphorePermit,
    _room: OwnedSemaphorePermit,
}

impl Held {
    /// Takes `bytes` from the connection's and the room's budgets, waiting while either
    /// is used up (the connection stops reading meanwhile: back-pressure to the client).
    /// `None`: a budget was closed.
    pub async fn take(conn: &Budget, room: &Budget, bytes: usize) -> Option<Held> {
        if let Some(held) = Held::try_take(conn, room, bytes) {
            return Some(held);
        }
        // Boxed: rare, and the connection's task would otherwise keep room for this wait
        // for its whole life.
        Box::pin(async {
            Some(Held {
                _conn: conn.take(bytes).await?,
                _room: room.take(bytes).await?,
            })
        })
        .await
    }

    /// Takes `bytes` from both budgets if both have them now.
    fn try_take(conn: &Budget, room: &Budget, bytes: usize) -> Option<Held> {
        let conn = conn.sem.clone().try_acquire_many_owned(conn.ask(bytes)).ok()?;
        let room = room.sem.clone().try_acquire_many_owned(room.ask(bytes)).ok()?;
        Some(Held {
            _conn: conn,
            _room: room,
        })
    }
}

/// A number of bytes that messages may take while they wait, shared by those who send them.
#[derive(Debug, Clone)]
pub(crate) struct Budget {
    sem: Arc<Semaphore>,
    size: usize,
}

impl Budget {
    /// A budget of `size` bytes (at least one).
    pub fn new(size: usize) -> Budget {
        let size = size.clamp(1, Semaphore::MAX_PERMITS);
        Budget {
            sem: Arc::new(Semaphore::new(size)),
            size,
        }
    }

    /// The permits `bytes` take: a message larger than the budget takes all of it.
    fn ask(&self, bytes: usize) -> u32 {
        u32::try_from(bytes.min(self.size)).unwrap_or(u32::MAX)
    }

    /// Takes `bytes`, waiting for what others give back.
    async fn take(&self, bytes: usize) -> Option<OwnedSemaphorePermit> {
        self.sem.clone().acquire_many_owned(self.ask(bytes)).await.ok()
    }
}

/// How a room reaches one connection.
pub(crate) struct Peer {
    /// Frames to send and the word to close, bounded: a full queue gets the connection
    /// dropped.
    pub out: outbox::OutboxSender,
    /// Whether the client asked for durability acks (`?acks=1`).
    pub acks: bool,
    /// Who is on the connection.
    pub principal: Arc<Principal>,
}

/// What a connection asks of its room. Kept small (large payloads boxed): the room's
/// channel allocates its slots in blocks of 32 commands, a cost every room pays.
pub(crate) enum RoomCmd {
    /// A connection joins; the reply says whether the room took it.
    Join(Box<Join>),
    /// A validated message from a joined connection.
    Message { conn: ConnId, msg: Box<Inbound> },
    /// A connection left.
    Leave { conn: ConnId },
    /// The document's state (a v1 update), once everything before it is stored.
    State { reply: oneshot::Sender<Vec<u8>> },
    /// Make the document equal to a version, as an edit; the reply comes once it is stored
    /// and sent to everyone.
    Restore(Box<Restore>),
    /// The user on a connection lost their right to the document, or what they may write
    /// in it changed: close it, saying why.
    EndAccess { conn: ConnId, why: AccessEnd },
    /// Another node stored updates through `through` (`i64::MAX`: maybe, notices were
    /// lost): read and apply what this room has not.
    CatchUp { through: i64 },
    /// Presence of another node's connections, as that node announced it.
    Presence(Box<[presence::Change]>),
    /// A batch another node stored, carried by its notice.
    Stored(Box<StoredBatch>),
    /// Someone dismissed a name in the document: check its names again.
    NamesChanged,
    /// The files kept with the document changed: tell the Samen clients.
    FilesChanged,
}

/// Presence in a document that a node tells the others ([`Topic::Presence`]).
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct PresenceNews {
    /// The document.
    pub doc: DocId,
    /// The states that changed (client ID, clock, JSON state or `null`).
    pub changes: Vec<presence::Change>,
}

const _: () = assert!(std::mem::size_of::<RoomCmd>() <= 24);

/// A connection joining a room.
pub(crate) struct Join {
    pub conn: ConnId,
    pub peer: Peer,
    pub reply: oneshot::Sender<Result<(), RoomGone>>,
}

/// A restore asked of a room.
pub(crate) struct Restore {
    /// The version (an encoded yrs snapshot).
    pub snapshot: Vec<u8>,
    /// Who restores: the edit is theirs.
    pub by: Arc<Principal>,
    pub reply: oneshot::Sender<Result<bool, RestoreError>>,
}

/// Why a restore did not happen.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// The version could not be rebuilt, or its edit was refused (a server-side defect).
    #[error("restore failed: {0}")]
    Failed(String),
    /// The room closed before the edit was stored; nothing changed.
    #[error("the document closed before the restore was stored")]
    Interrupted,
}

/// The room closed before it took the connection; ask the registry again.
#[derive(Debug)]
pub(crate) struct RoomGone;

/// A handle on a running room.
#[derive(Clone)]
pub(crate) struct RoomHandle {
    /// Tells this room apart from a later room for the same document.
    pub instance: u64,
    pub tx: mpsc::Sender<RoomCmd>,
    /// Bytes of messages that may wait for this room, from all its connections: the
    /// channel bounds their number, this their size.
    pub inbound: Budget,
}

/// A joined connection's ways to its room.
pub(crate) struct Joined {
    /// The room's channel.
    pub tx: mpsc::Sender<RoomCmd>,
    /// The room's inbound byte budget.
    pub inbound: Budget,
    /// Where the room queues frames for the connection.
    pub outbox: outbox::OutboxReceiver,
}

/// Shared by every room and connection.
pub(crate) struct RoomsInner {
    pub rooms: DashMap<DocId, RoomHandle>,
    pub store: Store,
    pub db: Db,
    pub events: Events,
    pub metrics: Arc<Metrics>,
    pub config: RoomConfig,
    /// Becomes true when the server shuts down.
    pub shutdown: watch::Receiver<bool>,
    /// Where rooms read the time.
    pub clock: Clock,
    /// Each user's update bytes, integration time and stored bytes (quotas).
    pub usage: usage::Usage,
    /// Seeds each room's random numbers as it loads.
    rng: std::sync::Mutex<fastrand::Rng>,
    /// Turns to write to the search index, shared by every room (`room/search.rs`).
    pub index_turns: std::sync::Mutex<usage::Bucket>,
    /// Time to read documents beside serving editors, shared by every room
    /// (`room/background.rs`).
    pub background: std::sync::Mutex<usage::Bucket>,
    /// The number of running rooms, so shutdown can wait for them.
    live: watch::Sender<usize>,
    /// Makes rooms panic at their next batch (tests of what a panic leaves behind).
    #[cfg(test)]
    panic_for_test: std::sync::atomic::AtomicBool,
}

/// A room's place in the registry, given back however its task ends, a panic included:
/// out of the map (unless a later room has the slot), one fewer live room (so shutdown
/// does not wait for it), and out of the loaded-rooms gauge. Its clients are released by
/// the room's own drop: each connection's outbox then says the room is gone (1001).
struct Slot {
    inner: Arc<RoomsInner>,
    id: DocId,
    instance: u64,
    /// Whether the document loaded (the gauge counts loaded rooms only).
    loaded: bool,
}

impl Slot {
    /// Counts a room from its claim of the registry's slot.
    fn claim(inner: Arc<RoomsInner>, id: DocId, instance: u64) -> Self {
        inner.live.send_modify(|n| *n += 1);
        Slot {
            inner,
            id,
            instance,
            loaded: false,
        }
    }

    /// The document is loaded: the room runs.
    fn loaded(&mut self) {
        self.loaded = true;
        self.inner.metrics.rooms.inc();
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let instance = self.instance;
        self.inner
            .rooms
            .remove_if(&self.id, |_, h| h.instance == instance);
        if self.loaded {
            self.inner.metrics.rooms.dec();
        }
        self.inner.live.send_modify(|n| *n = n.saturating_sub(1));
    }
}

impl RoomsInner {
    /// Random numbers for a room that is loading, drawn from the registry's seed.
    fn fork_rng(&self) -> fastrand::Rng {
        self.rng
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .fork()
    }
}

/// The registry of live rooms.
#[derive(Clone)]
pub struct Rooms {
    inner: Arc<RoomsInner>,
}

impl Rooms {
    /// A registry with no rooms loaded.
    pub fn new(
        store: Store,
        db: Db,
        events: Events,
        metrics: Arc<Metrics>,
        config: RoomConfig,
        shutdown: watch::Receiver<bool>,
        ambient: Ambient,
    ) -> Self {
        let several_nodes = store.shared();
        let now = ambient.clock.now();
        Rooms {
            inner: Arc::new(RoomsInner {
                rooms: DashMap::new(),
                store,
                db,
                events,
                metrics,
                usage: usage::Usage::new(&config, several_nodes),
                config,
                shutdown,
                clock: ambient.clock,
                rng: std::sync::Mutex::new(fastrand::Rng::with_seed(ambient.seed)),
                index_turns: std::sync::Mutex::new(room::index_turns(now)),
                background: std::sync::Mutex::new(room::background_time(now)),
                live: watch::Sender::new(0),
                #[cfg(test)]
                panic_for_test: std::sync::atomic::AtomicBool::new(false),
            }),
        }
    }

    /// The document store the rooms write to.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The number of loaded rooms.
    pub fn loaded(&self) -> usize {
        self.inner.rooms.len()
    }

    /// Waits until every room has stored what it holds and closed (after shutdown began).
    pub async fn wait_closed(&self) {
        let mut live = self.inner.live.subscribe();
        let _ = live.wait_for(|n| *n == 0).await;
    }

    /// A document's current state as a v1 update: from its room when it is loaded (after
    /// the room's pending commit), else from storage.
    pub async fn document_state(&self, id: DocId) -> Result<Vec<u8>, StorageError> {
        let handle = self.inner.rooms.get(&id).map(|h| h.clone());
        if let Some(handle) = handle {
            let (reply, rx) = oneshot::channel();
            if handle.tx.send(RoomCmd::State { reply }).await.is_ok()
                && let Ok(state) = rx.await
            {
                return Ok(state);
            }
        }
        let stored = self.inner.store.load(id).await?;
        Ok(tokio::task::spawn_blocking(move || room::stored_state(&stored, id)).await?)
    }

    /// Makes document `id` equal to its version `snapshot` (an encoded yrs snapshot), as a
    /// forward edit by `by` that everyone connected receives. `Ok(false)`: it already was.
    pub async fn restore(&self, id: DocId, snapshot: Vec<u8>, by: Principal) -> Result<bool, RestoreError> {
        let by = Arc::new(by);
        for _ in 0..8 {
            let handle = self.room(id).await.map_err(|_| RestoreError::Interrupted)?;
            let (reply, rx) = oneshot::channel();
            let cmd = RoomCmd::Restore(Box::new(Restore {
                snapshot: snapshot.clone(),
                by: by.clone(),
                reply,
            }));
            if handle.tx.send(cmd).await.is_ok() {
                return rx.await.unwrap_or(Err(RestoreError::Interrupted));
            }
            // The room was closing; the next one loads what it stored.
            self.inner
                .rooms
                .remove_if(&id, |_, h| h.instance == handle.instance);
        }
        Err(RestoreError::Interrupted)
    }

    /// Hands what another node stored, or its presence news, to the room of that
    /// document if this node holds one. A room whose channel is full misses the notice;
    /// its own periodic check catches up instead (presence comes again when renewed).
    pub fn notice(&self, notice: Notice) {
        match notice {
            Notice::Stored { doc, seq, batch } => {
                if let Some(handle) = self.inner.rooms.get(&doc) {
                    let cmd = match batch {
                        Some(batch) => RoomCmd::Stored(batch),
                        None => RoomCmd::CatchUp { through: seq },
                    };
                    let _ = handle.tx.try_send(cmd);
                }
            }
            Notice::Missed => {
                for handle in self.inner.rooms.iter() {
                    let _ = handle.tx.try_send(RoomCmd::CatchUp { through: i64::MAX });
                }
            }
            Notice::Told {
                topic: Topic::Presence,
                body,
                ..
            } => {
                let Ok(news) = serde_json::from_str::<PresenceNews>(&body) else {
                    tracing::debug!("presence news from another node does not parse");
                    return;
                };
                if let Some(handle) = self.inner.rooms.get(&news.doc) {
                    let _ = handle
                        .tx
                        .try_send(RoomCmd::Presence(news.changes.into_boxed_slice()));
                }
            }
            Notice::Told {
                topic: Topic::Usage,
                body,
                ..
            } => self.inner.usage.spent_elsewhere(&body, self.inner.clock.now()),
            Notice::Told {
                topic: Topic::Names,
                body,
                ..
            } => {
                if let Ok(doc) = body.parse::<DocId>() {
                    self.names_changed_here(doc);
                }
            }
            Notice::Told {
                topic: Topic::Files,
                body,
                ..
            } => {
                if let Ok(doc) = body.parse::<DocId>() {
                    self.files_changed_here(doc);
                }
            }
            Notice::Told { .. } => {}
        }
    }

    /// Someone dismissed a name in document `id`: its room, on this node and on the
    /// others, checks its names again and sends what is left.
    pub fn names_changed(&self, id: DocId) {
        self.names_changed_here(id);
        self.inner.store.tell(Topic::Names, id.to_string());
    }

    fn names_changed_here(&self, id: DocId) {
        if let Some(handle) = self.inner.rooms.get(&id)
            && let Err(mpsc::error::TrySendError::Full(cmd)) = handle.tx.try_send(RoomCmd::NamesChanged)
        {
            // Never lost: the room reads the dismissals again only when told.
            let tx = handle.tx.clone();
            tokio::spawn(async move {
                let _ = tx.send(cmd).await;
            });
        }
    }

    /// The files kept with document `id` changed: its room, on this node and on the others,
    /// tells its Samen clients (message 102), who read them again. For the documents whose
    /// files no school event stream may carry (a school and its LSC's agreements).
    pub fn files_changed(&self, id: DocId) {
        self.files_changed_here(id);
        self.inner.store.tell(Topic::Files, id.to_string());
    }

    fn files_changed_here(&self, id: DocId) {
        if let Some(handle) = self.inner.rooms.get(&id) {
            let _ = handle.tx.try_send(RoomCmd::FilesChanged);
        }
    }

    /// Tells the other nodes what users spent of their quotas here since the last time.
    pub fn tell_usage(&self) {
        for body in self.inner.usage.told() {
            self.inner.store.tell(Topic::Usage, body);
        }
    }

    /// Closes connection `conn` on document `id` for `reason`: its user's right ended, or
    /// what it may write changed (a room that is not loaded has no connections).
    pub async fn end_access(&self, id: DocId, conn: ConnId, why: AccessEnd) {
        let handle = self.inner.rooms.get(&id).map(|h| h.clone());
        if let Some(handle) = handle {
            let _ = handle.tx.send(RoomCmd::EndAccess { conn, why }).await;
        }
    }

    /// Joins a connection to the room of `id`, loading the room if needed.
    pub(crate) async fn join(
        &self,
        id: DocId,
        conn: ConnId,
        make_peer: impl Fn() -> (Peer, outbox::OutboxReceiver),
    ) -> Result<Joined, JoinError> {
        // A room found closing refuses the join; the next attempt finds or makes a new one.
        for _ in 0..8 {
            if *self.inner.shutdown.borrow() {
                return Err(JoinError::ShuttingDown);
            }
            let handle = self.room(id).await?;
            let (peer, outbox) = make_peer();
            let (reply_tx, reply_rx) = oneshot::channel();
            let cmd = RoomCmd::Join(Box::new(Join {
                conn,
                peer,
                reply: reply_tx,
            }));
            if handle.tx.send(cmd).await.is_ok() && matches!(reply_rx.await, Ok(Ok(()))) {
                return Ok(Joined {
                    tx: handle.tx,
                    inbound: handle.inbound,
                    outbox,
                });
            }
            self.inner
                .rooms
                .remove_if(&id, |_, h| h.instance == handle.instance);
        }
        Err(JoinError::Busy)
    }

    /// The running room of `id`, loaded now if it is not.
    async fn room(&self, id: DocId) -> Result<RoomHandle, JoinError> {
        if let Some(handle) = self.inner.rooms.get(&id) {
            return Ok(handle.clone());
        }
        static INSTANCE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let instance = INSTANCE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(ROOM_CHANNEL);
        let inbound = Budget::new(self.inner.config.room_inbound_bytes);
        let handle = RoomHandle {
            instance,
            tx,
            inbound,
        };
        // Claim the slot before loading, so that concurrent joiners wait on one load.
        let claimed = match self.inner.rooms.entry(id) {
            dashmap::Entry::Occupied(e) => return Ok(e.get().clone()),
            dashmap::Entry::Vacant(e) => e.insert(handle).clone(),
        };
        let mut slot = Slot::claim(self.inner.clone(), id, instance);
        let inner = self.inner.clone();
        tokio::spawn(async move {
            // Boxed: the loading future is needed only until the room runs, and inline it
            // would stay part of the room's task for the room's whole life.
            match Box::pin(room::Room::load(id, instance, inner)).await {
                Ok(room) => {
                    slot.loaded();
                    room.run(rx).await
                }
                Err(err) => {
                    tracing::error!(%id, error = %err, "could not load document");
                    let mut rx = rx;
                    rx.close();
                    while let Some(cmd) = rx.recv().await {
                        if let RoomCmd::Join(join) = cmd {
                            let _ = join.reply.send(Err(RoomGone));
                        }
                    }
                }
            }
            drop(slot);
        });
        Ok(claimed)
    }
}

/// Why a connection could not join its room.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    /// The server is shutting down.
    #[error("server shutting down")]
    ShuttingDown,
    /// The room kept closing under us (or its document could not be loaded).
    #[error("room unavailable")]
    Busy,
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::clock::Ambient;

    #[tokio::test]
    async fn a_room_that_panics_gives_back_its_place_and_releases_its_clients() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let (store, db) = crate::open_database(tmp.path(), None).await.expect("database");
        let (_stop, shutdown) = watch::channel(false);
        let config = RoomConfig::for_tests();
        let metrics = Arc::new(Metrics::new());
        let rooms = Rooms::new(
            store,
            db,
            Events::default(),
            metrics.clone(),
            config,
            shutdown,
            Ambient::system(),
        );
        let principal = Arc::new(Principal::new(UserId::new(), "Iemand".into(), SchoolAccess::Clb));
        let make_peer = || {
            let (out, receiver) = outbox::outbox(16, 1 << 20);
            let peer = Peer {
                out,
                acks: false,
                principal: principal.clone(),
            };
            (peer, receiver)
        };
        let id = DocId::new();
        let conn = ConnId::next();
        let Joined { tx, outbox, .. } = rooms.join(id, conn, make_peer).await.expect("join");
        assert_eq!(rooms.loaded(), 1);
        assert_eq!(*rooms.inner.live.borrow(), 1);
        assert!(metrics.render().contains("samen_rooms 1\n"));

        rooms
            .inner
            .panic_for_test
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let held = Held::take(&Budget::new(1), &Budget::new(1), 0)
            .await
            .expect("budget");
        let msg = Box::new(Inbound {
            msg: ClientMessage::QueryAwareness,
            held,
        });
        tx.send(RoomCmd::Message { conn, msg })
            .await
            .expect("room takes the message");

        // The client is told to reconnect (after the frames queued at its join).
        let closed = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                if let outbox::Delivery::Close(reason) = outbox.next().await {
                    return reason;
                }
            }
        })
        .await
        .expect("the client is released");
        assert_eq!(closed, CloseReason::GOING_AWAY);
        // Nothing of the room is left: not in the registry, not counted as live (shutdown
        // would otherwise wait for it), not in the gauge.
        assert_eq!(rooms.loaded(), 0);
        tokio::time::timeout(Duration::from_secs(1), rooms.wait_closed())
            .await
            .expect("no live room left");
        assert!(
            metrics.render().contains("samen_rooms 0\n"),
            "{}",
            metrics.render()
        );

        // The next joiner gets a fresh room.
        rooms
            .inner
            .panic_for_test
            .store(false, std::sync::atomic::Ordering::Relaxed);
        rooms
            .join(id, ConnId::next(), make_peer)
            .await
            .expect("join again");
        assert_eq!(rooms.loaded(), 1);
    }
}

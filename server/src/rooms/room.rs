//! One room: the task that owns a registration's live document.
//!
//! Connections talk to it through a bounded channel; nothing else touches the document, so
//! there is no lock on the hot path. Commands are taken in batches, and the way of an update
//! through a batch reads in order:
//!
//!   validate (connection) → apply → append to log (one commit per batch) → broadcast → ack
//!
//! Every byte the batch produces for peers is held back until the commit: nothing a peer
//! sees can be lost by a crash. If the commit fails, nothing is sent and the room closes;
//! its clients keep their edits and resend them when they reconnect.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use samen_crdt::ClientMessage;
use samen_crdt::deps::missing_dependency;
use samen_crdt::policy::{PolicyError, SectionIndex, check_authorship, check_sections};
use samen_crdt::protocol::{self, ValidatedUpdate};
use samen_crdt::validate::{DeleteRange, Limits, parse_update_v1};
use tokio::sync::{mpsc, oneshot};
use yrs::block::ClientID;
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{Doc, ReadTxn, StateVector, Transact, Update};

use super::{CloseReason, Join, Peer, Principal, RestoreError, RoomCmd, RoomGone, RoomsInner};
use crate::db::AuditEntry;
use crate::ids::{ConnId, RegistrationId, UserId};
use crate::storage::{NewUpdate, StorageError, StoredDoc};

use super::presence::Presence;

/// Commands taken from the channel per batch at most: bounds the latency one batch adds.
const MAX_BATCH: usize = 256;

struct PeerState {
    out: super::outbox::OutboxSender,
    acks: bool,
    /// Who is on the connection.
    principal: Arc<Principal>,
    /// Update messages received from this connection (acks count them).
    updates_received: u64,
}

/// Who a message of a batch goes to.
enum Target {
    One(ConnId),
    AllBut(ConnId),
    All,
}

/// Where the outcome of a restore goes.
type RestoreReply = oneshot::Sender<Result<bool, RestoreError>>;

#[derive(Default)]
struct Batch {
    log: Vec<NewUpdate>,
    outbound: Vec<(Target, Bytes)>,
    to_ack: Vec<ConnId>,
    /// Connections to close once the batch is done, with the reason.
    kicks: Vec<(ConnId, CloseReason)>,
    /// Client IDs bound to users by this batch's updates.
    bindings: Vec<(u64, UserId)>,
    /// Requests for the document's state, answered after the commit.
    state_replies: Vec<oneshot::Sender<Vec<u8>>>,
    /// Restores and their outcome, answered after the commit.
    restore_replies: Vec<(RestoreReply, Result<bool, RestoreError>)>,
}

impl Batch {
    fn kicked(&self, conn: ConnId) -> bool {
        self.kicks.iter().any(|(c, _)| *c == conn)
    }
}

/// Why [`Room::integrate`] refused an update.
enum Refusal {
    /// It rests on content the document does not have.
    MissingDependency,
    /// It writes where its author may not, or with someone else's client ID.
    Policy(PolicyError),
    /// yrs refused it (the room rebuilds its document).
    Integrate(ApplyError),
}

/// Why the document could not take an update.
#[derive(Debug, thiserror::Error)]
enum ApplyError {
    #[error("decode: {0}")]
    Decode(#[from] yrs::encoding::read::Error),
    #[error("integrate: {0}")]
    Integrate(#[from] yrs::error::UpdateError),
    #[error("yrs panicked while integrating")]
    Panicked,
}

pub(super) struct Room {
    id: RegistrationId,
    instance: u64,
    doc: Doc,
    /// The section of every item of `doc`, for the write policy.
    index: SectionIndex,
    /// Which user each client ID of `doc` belongs to.
    bindings: HashMap<u64, UserId>,
    peers: HashMap<ConnId, PeerState>,
    presence: Presence,
    /// Sequence number of the last stored update.
    last_seq: i64,
    /// Log entries not yet folded into the stored state.
    uncompacted: usize,
    empty_since: Option<Instant>,
    /// Set when storage failed: the in-memory document may hold what storage does not, so
    /// the room must close.
    broken: bool,
    /// Set when yrs refused an update halfway: the document must be rebuilt from storage
    /// before it takes anything else.
    needs_rebuild: bool,
    /// Whether the document changed since its newest version (snapshot).
    edited: bool,
    /// When the last edit was stored.
    last_edit: Instant,
    /// When the newest version was taken (ms since the epoch).
    last_snapshot_ms: i64,
    rooms: Arc<RoomsInner>,
}

impl Room {
    /// Loads the document; the caller spawns [`Room::run`].
    pub(super) async fn load(
        id: RegistrationId,
        instance: u64,
        rooms: Arc<RoomsInner>,
    ) -> Result<Room, StorageError> {
        let started = Instant::now();
        let stored = rooms.store.load(id).await?;
        let (last_seq, uncompacted) = (stored.last_seq(), stored.tail.len());
        // Folding a long log into a document takes seconds (100,000 updates); off the
        // threads that serve every other connection.
        let (doc, stored) = tokio::task::spawn_blocking(move || {
            let doc = samen_crdt::new_doc();
            apply_stored(&doc, &stored, id);
            (doc, stored)
        })
        .await?;
        let index = index_of(&doc);
        let bindings = stored.bindings.into_iter().collect();
        let (edited, last_snapshot_ms) = version_state(&rooms, id, &doc).await;
        tracing::debug!(%id, tail = uncompacted, elapsed_ms = started.elapsed().as_millis() as u64, "room loaded");
        Ok(Room {
            id,
            instance,
            doc,
            index,
            bindings,
            peers: HashMap::new(),
            presence: Presence::default(),
            last_seq,
            uncompacted,
            empty_since: Some(Instant::now()),
            broken: false,
            needs_rebuild: false,
            edited,
            last_edit: Instant::now(),
            last_snapshot_ms,
            rooms,
        })
    }

    /// Serves commands until the room is idle, broken, or the server shuts down.
    ///
    /// Its task keeps this future for the room's life, so it stays small: a plain function
    /// returning an `async move` block (an `async fn` holds its arguments twice) and the
    /// rare waits (compaction, versions, closing) boxed.
    #[allow(clippy::manual_async_fn)] // On purpose, see above.
    pub(super) fn run(mut self, mut rx: mpsc::Receiver<RoomCmd>) -> impl Future<Output = ()> + Send {
        async move {
            self.rooms.metrics.rooms.inc();
            if self.uncompacted >= self.rooms.config.compact_after {
                Box::pin(self.compact(false)).await;
            }
            let mut shutdown = self.rooms.shutdown.clone();
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            // Grows with the batches that come: a room kept MAX_BATCH slots (22 KiB) even idle.
            let mut cmds = Vec::new();
            let reason = loop {
                tokio::select! {
                    n = rx.recv_many(&mut cmds, MAX_BATCH) => {
                        if n == 0 {
                            break "channel closed";
                        }
                        self.run_batch(cmds.drain(..)).await;
                        if self.broken {
                            break "document out of step with storage";
                        }
                    }
                    _ = tick.tick() => {
                        self.expire_presence().await;
                        if self.snapshot_due() {
                            Box::pin(self.take_snapshot(false)).await;
                        }
                        if self.idle_long_enough() {
                            break "idle";
                        }
                    }
                    _ = shutdown.changed() => break "server shutting down",
                }
            };
            let rooms = self.rooms.clone();
            Box::pin(self.close(reason, rx)).await;
            rooms.metrics.rooms.dec();
        }
    }

    async fn run_batch(&mut self, cmds: impl Iterator<Item = RoomCmd>) {
        let mut batch = Batch::default();
        for cmd in cmds {
            match cmd {
                RoomCmd::Join(join) => {
                    let Join { conn, peer, reply } = *join;
                    self.join(conn, peer, reply, &mut batch)
                }
                RoomCmd::Leave { conn } => self.leave(conn, &mut batch),
                RoomCmd::Message { conn, msg } => self.handle(conn, *msg, &mut batch),
                RoomCmd::State { reply } => batch.state_replies.push(reply),
                RoomCmd::Restore(restore) => {
                    let result = self.restore(&restore.snapshot, &restore.by, &mut batch);
                    batch.restore_replies.push((restore.reply, result));
                }
            }
            if self.needs_rebuild {
                self.rebuild(&batch.log).await;
            }
        }
        self.commit(batch).await;
    }

    fn join(
        &mut self,
        conn: ConnId,
        peer: Peer,
        reply: oneshot::Sender<Result<(), RoomGone>>,
        batch: &mut Batch,
    ) {
        if reply.send(Ok(())).is_err() {
            return; // The connection gave up waiting.
        }
        self.peers.insert(
            conn,
            PeerState {
                out: peer.out,
                acks: peer.acks,
                principal: peer.principal,
                updates_received: 0,
            },
        );
        self.empty_since = None;
        let sv = self.doc.transact().state_vector();
        batch.outbound.push((
            Target::One(conn),
            protocol::encode_sync_step1(&sv.encode_v1()).into(),
        ));
        let present = self.presence.all();
        if !present.is_empty() {
            batch
                .outbound
                .push((Target::One(conn), awareness_message(&present)));
        }
    }

    fn leave(&mut self, conn: ConnId, batch: &mut Batch) {
        if self.peers.remove(&conn).is_some() {
            let gone = self.presence.remove_conn(conn);
            if !gone.is_empty() {
                batch.outbound.push((Target::All, awareness_message(&gone)));
            }
            if self.peers.is_empty() {
                self.empty_since = Some(Instant::now());
            }
        }
    }

    fn handle(&mut self, conn: ConnId, msg: ClientMessage, batch: &mut Batch) {
        if !self.peers.contains_key(&conn) || batch.kicked(conn) {
            return; // Already dropped (too slow), or being closed by this batch.
        }
        match msg {
            ClientMessage::SyncStep1 { state_vector } => {
                // Validated by the connection, so decoding cannot misbehave.
                match StateVector::decode_v1(&state_vector) {
                    Ok(sv) => {
                        let diff = self.doc.transact().encode_diff_v1(&sv);
                        batch
                            .outbound
                            .push((Target::One(conn), protocol::encode_sync_step2(&diff).into()));
                    }
                    Err(_) => batch.kicks.push((conn, CloseReason::MALFORMED)),
                }
            }
            ClientMessage::SyncStep2(update) | ClientMessage::Update(update) => {
                self.update(conn, update, batch)
            }
            ClientMessage::Awareness(entries) => {
                let Some(stamp) = self.peers.get(&conn).map(|p| p.principal.stamp()) else {
                    return;
                };
                let changes = self.presence.apply(conn, entries, &stamp, Instant::now());
                if !changes.is_empty() {
                    batch.outbound.push((Target::All, awareness_message(&changes)));
                }
            }
            ClientMessage::QueryAwareness => {
                batch
                    .outbound
                    .push((Target::One(conn), awareness_message(&self.presence.all())));
            }
        }
    }

    fn update(&mut self, conn: ConnId, update: ValidatedUpdate, batch: &mut Batch) {
        let Some(peer) = self.peers.get_mut(&conn) else {
            return;
        };
        peer.updates_received += 1;
        let principal = peer.principal.clone();
        match self.integrate(&principal, update, Target::AllBut(conn), batch) {
            Ok(()) => {
                if !batch.to_ack.contains(&conn) {
                    batch.to_ack.push(conn);
                }
            }
            Err(Refusal::MissingDependency) => {
                // yrs's pending-update path is unsound with hostile input (see
                // samen_crdt::deps); an honest client that hits this reconnects and its sync
                // step 2 heals it.
                tracing::info!(id = %self.id, %conn, "update depends on missing content");
                self.rooms.metrics.reject("missing_dependency");
                batch.kicks.push((conn, CloseReason::RESYNC));
            }
            Err(Refusal::Policy(err)) => self.deny(conn, &principal, err, batch),
            Err(Refusal::Integrate(err)) => {
                // Well-formed, but yrs refused it against this document (say, a parent that
                // is not a type). It may have integrated part of it, so the document is
                // rebuilt before the next command; only the sender is closed.
                tracing::info!(id = %self.id, %conn, error = %err, "update does not fit the document");
                self.rooms.metrics.reject("integrate");
                batch.kicks.push((conn, CloseReason::MALFORMED));
            }
        }
    }

    /// Checks an update (dependencies, sections, client IDs), applies it, and queues it for
    /// the log and for `target`. A refused update changes nothing.
    fn integrate(
        &mut self,
        principal: &Principal,
        update: ValidatedUpdate,
        target: Target,
        batch: &mut Batch,
    ) -> Result<(), Refusal> {
        let sv = self.doc.transact().state_vector();
        if missing_dependency(&update.info, |c| sv.get(&ClientID::new(c))).is_some() {
            return Err(Refusal::MissingDependency);
        }
        // Where it writes, and with whose client IDs: checked before the document sees it,
        // so a refused update changes nothing.
        let new_clients = self
            .index
            .classify(&update.info)
            .and_then(|effect| {
                check_sections(&effect, |section| principal.access.may_write(section))?;
                check_authorship(
                    &effect,
                    |client| self.bindings.get(&client).cloned(),
                    &principal.user,
                )
            })
            .map_err(Refusal::Policy)?;
        // yrs is not meant to panic on validated input; should it ever, the panic is caught
        // here so that one bad update costs a rebuild of this room, not the room's task.
        let applied = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.apply(&update.bytes)))
            .unwrap_or(Err(ApplyError::Panicked));
        match applied {
            Ok(None) => Ok(()),
            Ok(Some(deleted)) => {
                self.index.extend(&update.info);
                self.index.mark_deleted(deleted.iter().copied());
                for client in new_clients {
                    self.bindings.insert(client, principal.user.clone());
                    batch.bindings.push((client, principal.user.clone()));
                }
                batch
                    .outbound
                    .push((target, protocol::encode_update(&update.bytes).into()));
                batch.log.push(NewUpdate {
                    data: update.bytes,
                    author: Some(principal.user.clone()),
                    deleted,
                });
                Ok(())
            }
            Err(err) => {
                self.needs_rebuild = true;
                Err(Refusal::Integrate(err))
            }
        }
    }

    /// Makes the document equal to the version `snapshot` with an edit by `by`, made on a
    /// copy with a fresh client ID and then taken through [`Room::integrate`] like any
    /// client's update: checked, stored, bound to `by`, sent to everyone.
    fn restore(&mut self, snapshot: &[u8], by: &Principal, batch: &mut Batch) -> Result<bool, RestoreError> {
        use samen_crdt::history;
        let failed = |e: &dyn std::fmt::Display| RestoreError::Failed(e.to_string());
        let snapshot = history::decode_snapshot(snapshot).map_err(|e| failed(&e))?;
        let target = history::doc_at(&self.doc, &snapshot).map_err(|e| failed(&e))?;
        let state = self
            .doc
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        let sv = self.doc.transact().state_vector();
        let client = loop {
            let candidate = samen_crdt::new_doc().client_id().get();
            if sv.get(&ClientID::new(candidate)) == 0 && !self.bindings.contains_key(&candidate) {
                break candidate;
            }
        };
        let copy = samen_crdt::schema::new_doc_with_client_id(Some(client));
        Update::decode_v1(&state)
            .map_err(|e| failed(&e))
            .and_then(|u| copy.transact_mut().apply_update(u).map_err(|e| failed(&e)))?;
        let Some(bytes) = history::restore(&copy, &target) else {
            return Ok(false);
        };
        let limits = Limits {
            max_update_bytes: usize::MAX,
            ..Limits::default()
        };
        let info = parse_update_v1(&bytes, &limits).map_err(|e| failed(&e))?;
        let update = ValidatedUpdate { bytes, info };
        match self.integrate(by, update, Target::All, batch) {
            Ok(()) => Ok(true),
            Err(Refusal::MissingDependency) => Err(failed(&"restore depends on missing content")),
            Err(Refusal::Policy(err)) => Err(failed(&err)),
            Err(Refusal::Integrate(err)) => Err(failed(&err)),
        }
    }

    /// Refuses an update the policy forbids: the client is told (y-websocket auth message
    /// "permission-denied") and closed with 1008, and the attempt is audited.
    fn deny(&mut self, conn: ConnId, principal: &Principal, err: PolicyError, batch: &mut Batch) {
        tracing::info!(id = %self.id, %conn, user = %principal.user, error = %err, "update refused");
        self.rooms.metrics.reject("permission_denied");
        batch.outbound.push((
            Target::One(conn),
            protocol::encode_permission_denied("permission-denied").into(),
        ));
        batch.kicks.push((conn, CloseReason::POLICY));
        let db = self.rooms.db.clone();
        let entry = AuditEntry {
            actor: Some(principal.user.to_string()),
            action: "sync.update",
            target: Some(self.id.to_string()),
            outcome: "denied",
            detail: Some(err.to_string()),
        };
        tokio::spawn(async move { db.record(entry).await });
    }

    /// Integrates an update; returns what it deleted if it changed anything (`None` for a
    /// duplicate).
    fn apply(&self, bytes: &[u8]) -> Result<Option<Vec<DeleteRange>>, ApplyError> {
        let update = Update::decode_v1(bytes)?;
        let mut txn = self.doc.transact_mut();
        txn.apply_update(update)?;
        let changed = txn.before_state() != txn.after_state() || !txn.delete_set().is_empty();
        Ok(changed.then(|| delete_ranges(txn.delete_set())))
    }

    /// Rebuilds the document from storage plus the batch's accepted, not yet stored
    /// updates: the document as it was before the refused update.
    async fn rebuild(&mut self, accepted: &[NewUpdate]) {
        self.needs_rebuild = false;
        match self.rooms.store.load(self.id).await {
            Ok(stored) => {
                let doc = samen_crdt::new_doc();
                apply_stored(&doc, &stored, self.id);
                let mut txn = doc.transact_mut();
                for update in accepted {
                    if let Ok(u) = Update::decode_v1(&update.data) {
                        let _ = txn.apply_update(u);
                    }
                }
                drop(txn);
                self.index = index_of(&doc);
                self.doc = doc;
            }
            Err(err) => {
                tracing::error!(id = %self.id, error = %err, "could not reload document; closing room");
                self.broken = true;
            }
        }
    }

    /// Stores the batch's updates, then releases its messages and acks.
    async fn commit(&mut self, mut batch: Batch) {
        if self.broken {
            // Nothing of this batch may reach anyone: the room closes and reloads.
            return;
        }
        if !batch.log.is_empty() {
            let started = Instant::now();
            let first = self.last_seq + 1;
            let n = batch.log.len();
            if let Err(err) = self
                .rooms
                .store
                .append(self.id, first, &batch.log, &batch.bindings)
                .await
            {
                tracing::error!(id = %self.id, error = %err, "could not store updates; closing room");
                self.broken = true;
                return;
            }
            self.rooms
                .metrics
                .persist_seconds
                .observe(started.elapsed().as_secs_f64());
            self.rooms.metrics.updates_accepted.inc_by(n as u64);
            self.last_seq += n as i64;
            self.uncompacted += n;
            self.edited = true;
            self.last_edit = Instant::now();
        }
        for (target, frame) in batch.outbound.drain(..) {
            match target {
                Target::One(conn) => self.send(conn, frame),
                Target::AllBut(except) => self.send_all(Some(except), &frame),
                Target::All => self.send_all(None, &frame),
            }
        }
        for conn in batch.to_ack.drain(..) {
            if let Some(peer) = self.peers.get(&conn)
                && peer.acks
            {
                let ack = Bytes::from(protocol::encode_ack(peer.updates_received));
                self.send(conn, ack);
            }
        }
        for (conn, reason) in batch.kicks.drain(..) {
            self.kick(conn, reason);
        }
        if !batch.state_replies.is_empty() {
            let state = self
                .doc
                .transact()
                .encode_state_as_update_v1(&StateVector::default());
            for reply in batch.state_replies.drain(..) {
                let _ = reply.send(state.clone());
            }
        }
        for (reply, result) in batch.restore_replies.drain(..) {
            let _ = reply.send(result);
        }
        if self.uncompacted >= self.rooms.config.compact_after {
            self.compact(false).await;
        }
    }

    /// Whether an automatic version is due: edits, then quiet; or a day of edits.
    fn snapshot_due(&self) -> bool {
        let config = &self.rooms.config;
        let since_version = crate::storage::now_millis().saturating_sub(self.last_snapshot_ms);
        self.edited
            && (self.last_edit.elapsed() >= config.snapshot_quiet
                || since_version >= i64::try_from(config.snapshot_every.as_millis()).unwrap_or(i64::MAX))
    }

    /// Keeps the current document as an automatic version (unless it equals the newest).
    /// On close it is awaited, so the version is stored before the room is gone; otherwise
    /// it runs beside the room.
    async fn take_snapshot(&mut self, wait: bool) {
        self.edited = false;
        self.last_snapshot_ms = crate::storage::now_millis();
        let state = self
            .doc
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        let rooms = self.rooms.clone();
        let id = self.id;
        let work = async move {
            let taking = crate::history::Taking::auto();
            if let Err(err) =
                crate::history::take(&rooms.db, &rooms.store, &rooms.events, id, state, taking).await
            {
                tracing::warn!(%id, error = %err, "could not keep an automatic version");
            }
        };
        if wait {
            work.await;
        } else {
            tokio::spawn(work);
        }
    }

    fn send_all(&mut self, except: Option<ConnId>, frame: &Bytes) {
        let mut slow = Vec::new();
        for (conn, peer) in &self.peers {
            if Some(*conn) != except && peer.out.push(frame.clone()).is_err() {
                slow.push(*conn);
            }
        }
        for conn in slow {
            self.too_slow(conn);
        }
    }

    /// Queues a frame for a connection, dropping the connection if its queue is full.
    fn send(&mut self, conn: ConnId, frame: Bytes) {
        let Some(peer) = self.peers.get(&conn) else { return };
        if peer.out.push(frame).is_err() {
            self.too_slow(conn);
        }
    }

    fn too_slow(&mut self, conn: ConnId) {
        tracing::info!(id = %self.id, %conn, "connection too slow; dropping it");
        self.rooms.metrics.slow_disconnects.inc();
        self.kick(conn, CloseReason::TOO_SLOW);
    }

    /// Closes a connection from the room's side and forgets its presence.
    fn kick(&mut self, conn: ConnId, reason: CloseReason) {
        if let Some(peer) = self.peers.remove(&conn) {
            peer.out.close(reason);
            let gone = self.presence.remove_conn(conn);
            if !gone.is_empty() {
                self.send_all(None, &awareness_message(&gone));
            }
            if self.peers.is_empty() {
                self.empty_since = Some(Instant::now());
            }
        }
    }

    async fn expire_presence(&mut self) {
        let gone = self
            .presence
            .expire(Instant::now(), self.rooms.config.awareness_timeout);
        if !gone.is_empty() {
            self.send_all(None, &awareness_message(&gone));
        }
    }

    fn idle_long_enough(&self) -> bool {
        self.empty_since
            .is_some_and(|since| since.elapsed() >= self.rooms.config.idle_unload)
    }

    /// Folds the log into the stored state. Skipped while updates wait for missing
    /// dependencies: those live only in the log, and the state would not hold them.
    ///
    /// The room goes on serving while the writer gets to it (the log and the state are
    /// both complete, so it never has to wait), except on close. Should it fail, the log
    /// stays as it is, one threshold longer.
    async fn compact(&mut self, wait: bool) {
        if self.uncompacted == 0 || self.doc.transact().has_missing_updates() {
            return;
        }
        let state = self
            .doc
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        self.uncompacted = 0;
        let (rooms, id, through_seq) = (self.rooms.clone(), self.id, self.last_seq);
        let work = async move {
            match rooms.store.compact(id, &state, through_seq).await {
                Ok(()) => {
                    rooms.metrics.compactions.inc();
                }
                Err(err) => tracing::warn!(%id, error = %err, "compaction failed; the log stays"),
            }
        };
        if wait {
            work.await;
        } else {
            tokio::spawn(work);
        }
    }

    /// Leaves the registry, compacts, and closes every connection and waiting joiner.
    async fn close(mut self, reason: &'static str, mut rx: mpsc::Receiver<RoomCmd>) {
        tracing::debug!(id = %self.id, reason, "room closing");
        // Out of the registry first: new joiners create a fresh room, which loads what
        // this one stored (every accepted update is already in the log).
        self.rooms
            .rooms
            .remove_if(&self.id, |_, handle| handle.instance == self.instance);
        let close_reason = if self.broken {
            CloseReason::INTERNAL
        } else {
            CloseReason::GOING_AWAY
        };
        let conns: Vec<ConnId> = self.peers.keys().copied().collect();
        for conn in conns {
            self.kick(conn, close_reason);
        }
        rx.close();
        while let Some(cmd) = rx.recv().await {
            if let RoomCmd::Join(join) = cmd {
                let _ = join.reply.send(Err(RoomGone));
            }
        }
        if !self.broken {
            self.compact(true).await;
            if self.edited {
                self.take_snapshot(true).await;
            }
        }
    }
}

/// Whether the document changed since its newest version, and when that was taken (now,
/// if never: the first automatic version comes after the first quiet period).
async fn version_state(rooms: &RoomsInner, id: RegistrationId, doc: &Doc) -> (bool, i64) {
    use samen_crdt::history;
    let now = history::snapshot(doc);
    match rooms.db.latest_snapshot(id).await {
        Ok(Some(latest)) => {
            let same =
                history::decode_snapshot(&latest.snapshot).is_ok_and(|s| history::same_version(&s, &now));
            (!same, latest.meta.created_at)
        }
        Ok(None) => (
            !history::same_version(&yrs::Snapshot::default(), &now),
            crate::storage::now_millis(),
        ),
        Err(err) => {
            tracing::warn!(%id, error = %err, "could not read the newest version");
            (false, crate::storage::now_millis())
        }
    }
}

/// Log entries applied per yrs transaction while loading. yrs slows down with every
/// update one transaction holds: a log of 100,000 one-character updates took 10–14 s in
/// one transaction and 0.05 s in transactions of 16 to 2,000.
const APPLY_CHUNK: usize = 256;

/// Applies a stored document to a fresh doc. Stored bytes were validated before they were
/// stored; an entry that still fails is logged and skipped rather than losing the rest.
fn apply_stored(doc: &Doc, stored: &StoredDoc, id: RegistrationId) {
    let entries: Vec<(i64, &Vec<u8>)> = stored
        .state
        .iter()
        .map(|s| (stored.state_seq, s))
        .chain(stored.tail.iter().map(|e| (e.seq, &e.data)))
        .collect();
    for chunk in entries.chunks(APPLY_CHUNK) {
        let mut txn = doc.transact_mut();
        for (seq, bytes) in chunk {
            let result = Update::decode_v1(bytes)
                .map_err(ApplyError::from)
                .and_then(|u| txn.apply_update(u).map_err(ApplyError::from));
            if let Err(err) = result {
                tracing::error!(%id, seq, error = %err, "stored update does not apply");
            }
        }
    }
}

/// A stored document's state as one v1 update (for reads of documents no room holds).
pub(super) fn stored_state(stored: &StoredDoc, id: RegistrationId) -> Vec<u8> {
    let doc = samen_crdt::new_doc();
    apply_stored(&doc, stored, id);
    doc.transact().encode_state_as_update_v1(&StateVector::default())
}

/// The section index of a whole document, from its full state (whose delete set holds
/// every deleted item).
fn index_of(doc: &Doc) -> SectionIndex {
    let state = doc.transact().encode_state_as_update_v1(&StateVector::default());
    // The document's own encoding, so no size limit applies; it parses unless yrs wrote
    // something its own reader refuses, in which case the index starts empty and every
    // write that refers to old content is refused (safe, and logged).
    let limits = Limits {
        max_update_bytes: usize::MAX,
        ..Limits::default()
    };
    match parse_update_v1(&state, &limits) {
        Ok(info) => SectionIndex::from_state(&info),
        Err(err) => {
            tracing::error!(error = %err, "document state does not parse; section index left empty");
            SectionIndex::default()
        }
    }
}

/// yrs's delete set as ranges.
fn delete_ranges(set: &yrs::IdSet) -> Vec<DeleteRange> {
    let mut out = Vec::new();
    for (client, ranges) in set.iter() {
        for range in ranges.iter() {
            out.push(DeleteRange {
                client: client.get(),
                clock: range.start,
                len: range.end - range.start,
            });
        }
    }
    out
}

fn awareness_message(changes: &[super::presence::Change]) -> Bytes {
    protocol::encode_awareness(changes.iter().map(|(c, clock, json)| (*c, *clock, json.as_str()))).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::LogEntry;
    use yrs::types::text::Text;
    use yrs::types::xml::{XmlElementPrelim, XmlFragment, XmlTextPrelim};
    use yrs::{GetString, XmlOut};

    /// A log of one person typing `n` characters into `goals`, one update per keystroke.
    fn typed_log(n: usize) -> (Vec<Vec<u8>>, String) {
        let doc = samen_crdt::new_doc();
        let goals = doc.get_or_insert_xml_fragment("goals");
        let text = {
            let mut txn = doc.transact_mut();
            let p = goals.push_back(&mut txn, XmlElementPrelim::empty("paragraph"));
            p.push_back(&mut txn, XmlTextPrelim::new(""))
        };
        let mut log = vec![doc.transact().encode_state_as_update_v1(&StateVector::default())];
        for i in 0..n {
            let before = doc.transact().state_vector();
            let c = char::from(b'a' + (i % 26) as u8).to_string();
            let mut txn = doc.transact_mut();
            let len = text.len(&txn);
            text.insert(&mut txn, len, &c);
            drop(txn);
            log.push(doc.transact().encode_diff_v1(&before));
        }
        let typed = text.get_string(&doc.transact());
        (log, typed)
    }

    fn goals_text(doc: &Doc) -> String {
        let txn = doc.transact();
        let goals = txn.get_xml_fragment("goals").expect("goals");
        match goals.get(&txn, 0) {
            Some(XmlOut::Element(p)) => p.get_string(&txn),
            other => panic!("no paragraph: {other:?}"),
        }
    }

    #[test]
    fn a_log_longer_than_a_transaction_loads_whole_even_out_of_order_at_the_seam() {
        let (mut log, typed) = typed_log(3 * APPLY_CHUNK);
        // The last entry of the first transaction depends on the first of the second: it
        // waits as pending across the commit between them, then integrates.
        log.swap(APPLY_CHUNK - 1, APPLY_CHUNK);
        let stored = StoredDoc {
            tail: (1..).zip(log).map(|(seq, data)| LogEntry { seq, data }).collect(),
            ..StoredDoc::default()
        };
        let doc = samen_crdt::new_doc();
        apply_stored(&doc, &stored, RegistrationId::new());
        assert!(!doc.transact().has_missing_updates());
        assert_eq!(goals_text(&doc), format!("<paragraph>{typed}</paragraph>"));
    }
}

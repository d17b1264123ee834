//! The run loop: batches of commands, the commit that makes a batch durable before any of
//! its messages leave, sending, closing connections, compaction and the room's end.

use std::time::Instant;

use bytes::Bytes;
use samen_crdt::ClientMessage;
use samen_crdt::protocol;
use tokio::sync::{mpsc, oneshot};
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{ReadTxn, StateVector, Transact};

use super::{Batch, MAX_BATCH, PeerState, Room, STEP2_CACHE, Target};
use crate::ids::ConnId;
use crate::rooms::usage::Bucket;
use crate::rooms::{CloseReason, Join, Peer, RoomCmd, RoomGone};

/// 1011 to every peer of a room whose commit failed (a full disk): what they sent since
/// their last ack was not stored, so they keep it and send it again when they reconnect,
/// which succeeds once the database can write again.
const STORAGE_FAILED: CloseReason = CloseReason {
    code: 1011,
    reason: "changes could not be stored; reconnect later",
};

impl Room {
    /// Serves commands until the room is idle, broken, or the server shuts down.
    ///
    /// Its task keeps this future for the room's life, so it stays small: a plain function
    /// returning an `async move` block (an `async fn` holds its arguments twice) and the
    /// rare waits (compaction, versions, closing) boxed.
    #[allow(clippy::manual_async_fn)] // On purpose, see above.
    pub(in crate::rooms) fn run(
        mut self,
        mut rx: mpsc::Receiver<RoomCmd>,
    ) -> impl Future<Output = ()> + Send {
        async move {
            Box::pin(self.hold_lease(true)).await;
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
                        Box::pin(self.check_names()).await;
                        Box::pin(self.index_search()).await;
                        if self.rooms.store.shared() {
                            Box::pin(self.nodes_tick()).await;
                        }
                        if self.housekeeper && self.snapshot_due() {
                            Box::pin(self.take_snapshot(false)).await;
                        }
                        if self.idle_long_enough() {
                            break "idle";
                        }
                    }
                    _ = shutdown.changed() => break "server shutting down",
                }
            };
            Box::pin(self.close(reason, rx)).await;
        }
    }

    async fn run_batch(&mut self, cmds: impl Iterator<Item = RoomCmd>) {
        #[cfg(test)]
        if self
            .rooms
            .panic_for_test
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            panic!("a room panics, as a test asked");
        }
        let mut batch = Batch::default();
        let mut catch_up = false;
        for cmd in cmds {
            match cmd {
                RoomCmd::Join(join) => {
                    let Join { conn, peer, reply } = *join;
                    self.join(conn, peer, reply, &mut batch)
                }
                RoomCmd::Leave { conn } => self.leave(conn, &mut batch),
                RoomCmd::Message { conn, msg } => {
                    let crate::rooms::Inbound { msg, held } = *msg;
                    if self.rooms.store.shared() && self.misses(&msg) {
                        Box::pin(self.catch_up(&batch.log)).await;
                    }
                    self.handle(conn, msg, &mut batch);
                    batch.held.push(held);
                }
                RoomCmd::State { reply } => batch.state_replies.push(reply),
                RoomCmd::EndAccess { conn, why } => {
                    if self.peers.contains_key(&conn) && !batch.kicked(conn) {
                        batch.kicks.push((conn, why.close_reason()));
                    }
                }
                RoomCmd::Restore(restore) => {
                    let result = self.restore(&restore.snapshot, &restore.by, &mut batch);
                    batch.restore_replies.push((restore.reply, result));
                }
                RoomCmd::CatchUp { through } => catch_up |= through > self.last_seq,
                RoomCmd::Stored(stored) => catch_up |= !self.take_stored(*stored),
                RoomCmd::NamesChanged => self.names.dismissals_changed(),
                RoomCmd::FilesChanged => {
                    let frame = bytes::Bytes::from(samen_crdt::protocol::encode_files_changed());
                    for conn in self.samen_peers() {
                        batch.outbound.push((Target::One(conn), frame.clone()));
                    }
                }
                RoomCmd::Presence(changes) => {
                    let changes = self
                        .presence
                        .apply_remote(changes.into_vec(), self.rooms.clock.now());
                    if !changes.is_empty() {
                        batch.outbound.push((Target::All, awareness_message(&changes)));
                    }
                }
            }
            if self.needs_rebuild {
                self.rebuild(&batch.log).await;
            }
        }
        // Before the commit, so that this batch's updates are numbered after what it read.
        if catch_up {
            Box::pin(self.catch_up(&batch.log)).await;
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
        let config = &self.rooms.config;
        let burst = f64::from(config.sync_request_burst);
        self.peers.insert(
            conn,
            PeerState {
                out: peer.out,
                acks: peer.acks,
                principal: peer.principal,
                updates_received: 0,
                sync_requests: Bucket::full(burst, self.rooms.clock.now()),
                new_client_ids: 0,
            },
        );
        self.empty_since = None;
        let step1 = self.encoded.step1.get_or_insert_with(|| {
            let sv = self.doc.transact().state_vector();
            protocol::encode_sync_step1(&sv.encode_v1()).into()
        });
        batch.outbound.push((Target::One(conn), step1.clone()));
        let present = self.presence.all();
        if !present.is_empty() {
            batch
                .outbound
                .push((Target::One(conn), awareness_message(&present)));
        }
        if peer.acks {
            self.tell_names(conn, batch);
        }
    }

    fn leave(&mut self, conn: ConnId, batch: &mut Batch) {
        if let Some(peer) = self.peers.remove(&conn) {
            self.left(&peer.principal.user);
            let gone = self.presence.remove_conn(conn);
            if !gone.is_empty() {
                batch.outbound.push((Target::All, awareness_message(&gone)));
                self.tell_presence(gone);
            }
            if self.peers.is_empty() {
                self.empty_since = Some(self.rooms.clock.now());
            }
        }
    }

    fn handle(&mut self, conn: ConnId, msg: ClientMessage, batch: &mut Batch) {
        if !self.peers.contains_key(&conn) || batch.kicked(conn) {
            return; // Already dropped (too slow), or being closed by this batch.
        }
        match msg {
            ClientMessage::SyncStep1 { state_vector } => {
                if !self.may_sync(conn) {
                    tracing::info!(id = %self.id, %conn, "too many sync requests");
                    self.rooms.metrics.reject("sync_requests");
                    batch.kicks.push((conn, CloseReason::RATE_LIMITED));
                    return;
                }
                match self.sync_step2(state_vector) {
                    Some(answer) => batch.outbound.push((Target::One(conn), answer)),
                    None => batch.kicks.push((conn, CloseReason::MALFORMED)),
                }
            }
            ClientMessage::SyncStep2(update) | ClientMessage::Update(update) => {
                self.update(conn, update, batch)
            }
            ClientMessage::Awareness(entries) => {
                let Some(stamp) = self.peers.get(&conn).map(|p| p.principal.stamp()) else {
                    return;
                };
                let max = self.rooms.config.max_client_ids;
                let (changes, over) = self
                    .presence
                    .apply(conn, entries, &stamp, self.rooms.clock.now(), max);
                if !changes.is_empty() {
                    batch.outbound.push((Target::All, awareness_message(&changes)));
                    self.tell_presence(changes);
                }
                if over {
                    tracing::info!(id = %self.id, %conn, "too many presence client IDs");
                    self.rooms.metrics.reject("client_ids");
                    batch.kicks.push((conn, CloseReason::CLIENT_IDS));
                }
            }
            ClientMessage::QueryAwareness => {
                batch
                    .outbound
                    .push((Target::One(conn), awareness_message(&self.presence.all())));
            }
        }
    }

    /// Whether connection `conn` may ask for a sync now (and counts it): a sync answer is
    /// the largest thing a client can ask for with three bytes.
    pub(super) fn may_sync(&mut self, conn: ConnId) -> bool {
        let config = &self.rooms.config;
        let burst = f64::from(config.sync_request_burst);
        let refill = config.sync_request_every * config.sync_request_burst;
        let now = self.rooms.clock.now();
        self.peers
            .get_mut(&conn)
            .is_some_and(|peer| peer.sync_requests.take_one(burst, refill, now))
    }

    /// Sync step 2 for a client at `state_vector` (validated by the connection): from the
    /// cache when the document has not changed since the same question (an empty state
    /// vector is the whole state, also cached). `None`: yrs does not read it.
    pub(super) fn sync_step2(&mut self, state_vector: Vec<u8>) -> Option<Bytes> {
        if let Some((_, answer)) = self.encoded.step2.iter().find(|(sv, _)| *sv == state_vector) {
            return Some(answer.clone());
        }
        let sv = StateVector::decode_v1(&state_vector).ok()?;
        let diff = if sv.is_empty() {
            self.full_state()
        } else {
            self.doc.transact().encode_diff_v1(&sv).into()
        };
        let answer = Bytes::from(protocol::encode_sync_step2(&diff));
        if self.encoded.step2.len() >= STEP2_CACHE {
            self.encoded.step2.remove(0);
        }
        self.encoded.step2.push((state_vector, answer.clone()));
        Some(answer)
    }

    /// Stores the batch's updates, then releases its messages and acks.
    async fn commit(&mut self, mut batch: Batch) {
        if self.broken {
            // Nothing of this batch may reach anyone: the room closes and reloads.
            return;
        }
        if !batch.log.is_empty() {
            let started = Instant::now();
            let n = batch.log.len();
            let first = match self
                .rooms
                .store
                .append(self.id, self.last_seq, &batch.log, &batch.bindings)
                .await
            {
                Ok(first) => first,
                Err(err) => {
                    tracing::error!(id = %self.id, error = %err, "could not store updates; closing room");
                    self.broken = true;
                    return;
                }
            };
            self.rooms
                .metrics
                .persist_seconds
                .observe(started.elapsed().as_secs_f64());
            self.rooms.metrics.updates_accepted.inc_by(n as u64);
            let last = first + n as i64 - 1;
            if first == self.last_seq + 1 {
                self.last_seq = last;
            } else {
                // Another node stored updates in between; the room reads them on its notice.
                self.own.push((first, last));
            }
            self.uncompacted += n;
            self.edited = true;
            self.last_edit = self.rooms.clock.now();
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
            let state = self.full_state();
            for reply in batch.state_replies.drain(..) {
                let _ = reply.send(state.to_vec());
            }
        }
        for (reply, result) in batch.restore_replies.drain(..) {
            let _ = reply.send(result);
        }
        if self.uncompacted >= self.rooms.config.compact_after {
            self.compact(false).await;
        }
    }

    pub(super) fn send_all(&mut self, except: Option<ConnId>, frame: &Bytes) {
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
    pub(super) fn send(&mut self, conn: ConnId, frame: Bytes) {
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
            self.left(&peer.principal.user);
            let gone = self.presence.remove_conn(conn);
            if !gone.is_empty() {
                self.send_all(None, &awareness_message(&gone));
                self.tell_presence(gone);
            }
            if self.peers.is_empty() {
                self.empty_since = Some(self.rooms.clock.now());
            }
        }
    }

    async fn expire_presence(&mut self) {
        let gone = self
            .presence
            .expire(self.rooms.clock.now(), self.rooms.config.awareness_timeout);
        if !gone.is_empty() {
            self.send_all(None, &awareness_message(&gone));
        }
    }

    pub(super) fn idle_long_enough(&self) -> bool {
        self.empty_since.is_some_and(|since| {
            self.rooms.clock.now().saturating_duration_since(since) >= self.rooms.config.idle_unload
        })
    }

    /// Folds the log into the stored state. Skipped while updates wait for missing
    /// dependencies: those live only in the log, and the state would not hold them.
    ///
    /// The room goes on serving while the writer gets to it (the log and the state are
    /// both complete, so it never has to wait), except on close. Should it fail, the log
    /// stays as it is, one threshold longer.
    async fn compact(&mut self, wait: bool) {
        if !self.housekeeper || self.uncompacted == 0 || self.doc.transact().has_missing_updates() {
            return;
        }
        let state = self.full_state();
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
            STORAGE_FAILED
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
            // The last room of the document on any node keeps house as it closes: the
            // lease is free once its holder closed.
            if !self.housekeeper {
                self.hold_lease(true).await;
            }
            self.compact(true).await;
            if self.edited && self.housekeeper {
                self.take_snapshot(true).await;
            }
            if self.housekeeper {
                self.hold_lease(false).await;
            }
        }
    }
}

fn awareness_message(changes: &[crate::rooms::presence::Change]) -> Bytes {
    protocol::encode_awareness(changes.iter().map(|(c, clock, json)| (*c, *clock, json.as_str()))).into()
}

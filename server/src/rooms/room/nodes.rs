//! Several nodes on one database: taking in what other nodes stored of this document, and
//! the lease on its housekeeping (see "Several nodes" in docs/architecture.md).
//!
//! Another node's updates are applied as stored: that node checked them (dependencies,
//! section policy, authorship) before storing them, and the rows are committed before
//! their notice exists, so nothing this room sends of them can be lost.

use bytes::Bytes;
use samen_crdt::ClientMessage;
use samen_crdt::deps::missing_dependency;
use samen_crdt::protocol;
use samen_crdt::validate::{Limits, parse_update_v1};
use yrs::{ReadTxn, Transact};

use super::Room;
use super::update::ApplyError;
use crate::rooms::PresenceNews;
use crate::rooms::presence::Change;
use crate::storage::{NewUpdate, Topic};

/// Seconds between a room's own checks for what other nodes stored, in case a notice was
/// lost: a lost notice costs this much latency, never an edit.
const CATCH_UP_EVERY: u32 = 5;
/// Seconds between tries for the housekeeping lease (and checks that it is still held).
const LEASE_EVERY: u32 = 10;

impl Room {
    /// The periodic work of a room on several nodes, once a second.
    pub(super) async fn nodes_tick(&mut self) {
        self.ticks = self.ticks.wrapping_add(1);
        if self.ticks.is_multiple_of(CATCH_UP_EVERY) {
            self.catch_up(&[]).await;
        }
        if self.ticks.is_multiple_of(LEASE_EVERY) {
            self.hold_lease(true).await;
        }
    }

    /// Takes or renews (`hold`), or gives up, the housekeeping lease. On one node there is
    /// nothing to take: the room keeps house.
    pub(super) async fn hold_lease(&mut self, hold: bool) {
        if !self.rooms.store.shared() {
            return;
        }
        match self.rooms.store.lease(self.id, hold).await {
            Ok(held) => self.housekeeper = held,
            Err(err) => {
                // Not knowing is not holding: another node may have taken it meanwhile.
                tracing::warn!(id = %self.id, error = %err, "could not renew the housekeeping lease");
                self.housekeeper = false;
            }
        }
    }

    /// Tells the other nodes how the presence of this node's connections changed (they
    /// expire it themselves when it is not renewed, so expiry here is not told).
    pub(super) fn tell_presence(&self, changes: Vec<Change>) {
        let store = &self.rooms.store;
        if !store.shared() {
            return;
        }
        let news = PresenceNews {
            doc: self.id,
            changes,
        };
        match serde_json::to_string(&news) {
            Ok(body) => store.tell(Topic::Presence, body),
            Err(err) => tracing::error!(id = %self.id, error = %err, "presence does not serialize"),
        }
    }

    /// Whether a client's update rests on content this room has not taken in yet (the
    /// client came from another node): then the room reads what was stored first, rather
    /// than sending the client away to resync.
    pub(super) fn misses(&self, msg: &ClientMessage) -> bool {
        let (ClientMessage::SyncStep2(update) | ClientMessage::Update(update)) = msg else {
            return false;
        };
        let sv = self.doc.transact().state_vector();
        missing_dependency(&update.info, |c| sv.get(&c.into())).is_some()
    }

    /// Reads what other nodes stored after `last_seq`, applies it and sends it to this
    /// room's clients. `accepted`: the batch's updates not stored yet, which a rebuild
    /// must keep. A failed read changes nothing; the next notice or check reads again.
    pub(super) async fn catch_up(&mut self, accepted: &[NewUpdate]) {
        if self.broken {
            return;
        }
        let since = match self.rooms.store.read_since(self.id, self.last_seq).await {
            Ok(since) => since,
            Err(err) => {
                tracing::warn!(id = %self.id, error = %err, "could not read what other nodes stored");
                return;
            }
        };
        let mut frames: Vec<Bytes> = Vec::new();
        // A compaction went past what this room had read: the state holds those updates.
        if let Some(state) = &since.state
            && self.take_in(state)
        {
            frames.push(protocol::encode_update(state).into());
        }
        for entry in &since.tail {
            let ours = self
                .own
                .iter()
                .any(|&(first, last)| (first..=last).contains(&entry.seq));
            if !ours && self.take_in(&entry.data) {
                frames.push(protocol::encode_update(&entry.data).into());
            }
        }
        self.last_seq = self.last_seq.max(since.last_seq());
        let through = self.last_seq;
        self.own.retain(|&(_, last)| last > through);
        self.learn(since.bindings);
        self.took_in(&frames);
        if self.needs_rebuild {
            self.rebuild(accepted).await;
        }
    }

    /// Applies a batch another node stored whose notice carried it, if it follows what the
    /// room holds; `false`: it does not (notices came out of order, or one was lost), so
    /// the room must read instead.
    pub(super) fn take_stored(&mut self, stored: crate::storage::StoredBatch) -> bool {
        let last = stored.first + stored.updates.len() as i64 - 1;
        if last <= self.last_seq {
            return true; // Read already.
        }
        if stored.first != self.last_seq + 1 || self.broken {
            return false;
        }
        let mut frames = Vec::new();
        for update in &stored.updates {
            if self.take_in(update) {
                frames.push(protocol::encode_update(update).into());
            }
        }
        self.last_seq = last;
        // This room's own batches that waited for this one to come in between.
        while let Some(next) = self.own.iter().position(|&(first, _)| first == self.last_seq + 1) {
            self.last_seq = self.own.swap_remove(next).1;
        }
        self.learn(stored.bindings);
        self.took_in(&frames);
        !self.needs_rebuild
    }

    /// Learns client-ID bindings another node made.
    fn learn(&mut self, bindings: Vec<(samen_crdt::ClientId, crate::ids::UserId)>) {
        for (client, user) in bindings {
            self.bindings.entry(client).or_insert(user);
        }
    }

    /// After updates of other nodes came in: the document changed (and is due for
    /// housekeeping), and the room's clients get them.
    fn took_in(&mut self, frames: &[Bytes]) {
        if frames.is_empty() {
            return;
        }
        self.changed();
        self.uncompacted += frames.len();
        self.edited = true;
        self.last_edit = self.rooms.clock.now();
        self.rooms.metrics.updates_relayed.inc_by(frames.len() as u64);
        for frame in frames {
            self.send_all(None, frame);
        }
    }

    /// Applies an update another node stored; whether it changed the document.
    fn take_in(&mut self, bytes: &[u8]) -> bool {
        // As for a client's update (see `integrate`): a panic inside yrs costs a rebuild.
        let applied = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.apply(bytes)))
            .unwrap_or(Err(ApplyError::Panicked));
        match applied {
            Ok(Some(deleted)) => {
                match parse_update_v1(bytes, &Limits::for_own_bytes()) {
                    Ok(info) => self.index.extend(&info),
                    Err(err) => tracing::error!(id = %self.id, error = %err, "stored update does not parse"),
                }
                self.index.mark_deleted(deleted.iter().copied());
                true
            }
            Ok(None) => false,
            Err(err) => {
                tracing::error!(id = %self.id, error = %err, "stored update does not apply; rebuilding");
                self.needs_rebuild = true;
                false
            }
        }
    }
}

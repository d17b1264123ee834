//! The update path: dependency check → section policy → authorship → apply, or deny.
//! A refused update never reaches yrs, so it changes nothing.

use samen_crdt::deps::missing_dependency;
use samen_crdt::policy::{PolicyError, check_authorship, check_roots};
use samen_crdt::protocol::{self, ValidatedUpdate};
use samen_crdt::validate::DeleteRange;
use yrs::updates::decoder::Decode;
use yrs::{ReadTxn, Transact, Update};

use super::{Batch, Room, Target};
use crate::db::AuditEntry;
use crate::ids::ConnId;
use crate::rooms::{CloseReason, Principal};
use crate::storage::NewUpdate;

/// A day in milliseconds: the daily quota's days are UTC days since the epoch.
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// Why [`Room::integrate`] refused an update.
pub(super) enum Refusal {
    /// It rests on content the document does not have.
    MissingDependency,
    /// It writes where its author may not, or with someone else's client ID.
    Policy(PolicyError),
    /// yrs refused it (the room rebuilds its document).
    Integrate(ApplyError),
    /// It would bind more new client IDs than its connection may still bind.
    ClientIds,
}

/// What [`Room::integrate`] did with an accepted update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Integrated {
    /// Whether it changed the document (and so is stored); a duplicate does not.
    pub stored: bool,
    /// Client IDs it bound to its author.
    pub bound: usize,
}

/// Why the document could not take an update.
#[derive(Debug, thiserror::Error)]
pub(super) enum ApplyError {
    #[error("decode: {0}")]
    Decode(#[from] yrs::encoding::read::Error),
    #[error("integrate: {0}")]
    Integrate(#[from] yrs::error::UpdateError),
    #[error("yrs panicked while integrating")]
    Panicked,
}

impl Room {
    /// Takes a client's update through the path; the sender is acked once the batch is
    /// stored, or closed with the reason it was refused.
    ///
    /// Before: the user's quotas (integration time left, bytes stored today). After: the
    /// time yrs took is charged to the user (measured: the cost of an update is only known
    /// once it is integrated, see `samen_crdt::cost`).
    pub(super) fn update(&mut self, conn: ConnId, update: ValidatedUpdate, batch: &mut Batch) {
        let Some(peer) = self.peers.get_mut(&conn) else {
            return;
        };
        peer.updates_received += 1;
        let principal = peer.principal.clone();
        let allowance = self
            .rooms
            .config
            .max_client_ids
            .saturating_sub(peer.new_client_ids);
        let rooms = self.rooms.clone();
        let (usage, user) = (&rooms.usage, &principal.user);
        // An empty update (a new client's sync step 2) costs nothing and is no one's share.
        let empty = update.info.blocks.is_empty() && update.info.deletes.is_empty();
        if !empty && !usage.may_apply(user, rooms.clock.now()) {
            tracing::info!(id = %self.id, %conn, %user, "integration time used up");
            rooms.metrics.reject("apply_time");
            batch.kicks.push((conn, CloseReason::RATE_LIMITED));
            return;
        }
        let day = rooms.clock.now_millis().div_euclid(DAY_MS);
        let bytes = if empty { 0 } else { update.bytes.len() };
        if usage.store(user, bytes, day).is_err() {
            tracing::info!(id = %self.id, %conn, %user, "daily quota reached");
            rooms.metrics.reject("daily_quota");
            batch.kicks.push((conn, CloseReason::QUOTA));
            return;
        }
        // Real time, not the room's clock: this is a measurement.
        let started = std::time::Instant::now();
        let result = self.integrate(&principal, update, Target::AllBut(conn), allowance, batch);
        let within = empty || usage.applied(user, started.elapsed(), rooms.clock.now());
        if !matches!(result, Ok(Integrated { stored: true, .. })) {
            usage.unstore(user, bytes, day);
        }
        match result {
            Ok(done) => {
                if let Some(peer) = self.peers.get_mut(&conn) {
                    peer.new_client_ids += done.bound;
                }
                if !batch.to_ack.contains(&conn) {
                    batch.to_ack.push(conn);
                }
                if !within {
                    // Stored and acknowledged; the next one would be refused, so the
                    // client pauses instead.
                    tracing::info!(id = %self.id, %conn, %user, "integration time used up");
                    rooms.metrics.reject("apply_time");
                    batch.kicks.push((conn, CloseReason::RATE_LIMITED));
                }
            }
            Err(Refusal::ClientIds) => {
                tracing::info!(id = %self.id, %conn, %user, "too many new client IDs");
                rooms.metrics.reject("client_ids");
                batch.kicks.push((conn, CloseReason::CLIENT_IDS));
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

    /// Checks an update (dependencies, sections, client IDs, of which it may bind at most
    /// `allowance` new ones), applies it, and queues it for the log and for `target`. A
    /// refused update changes nothing.
    pub(super) fn integrate(
        &mut self,
        principal: &Principal,
        update: ValidatedUpdate,
        target: Target,
        allowance: usize,
        batch: &mut Batch,
    ) -> Result<Integrated, Refusal> {
        let sv = self.doc.transact().state_vector();
        if missing_dependency(&update.info, |c| sv.get(&c.into())).is_some() {
            return Err(Refusal::MissingDependency);
        }
        // Where it writes, and with whose client IDs: checked before the document sees it,
        // so a refused update changes nothing.
        let new_clients = self
            .index
            .classify(&update.info)
            .and_then(|effect| {
                // Content outside every section needs no section's right, but it is stored
                // and binds client IDs: only a connection that may write brings any.
                if !principal.write && !effect.inserts.is_empty() {
                    return Err(PolicyError::ReadOnly);
                }
                check_roots(&effect, |root| principal.may_write(root))?;
                check_authorship(
                    &effect,
                    |client| self.bindings.get(&client).cloned(),
                    &principal.user,
                )
            })
            .map_err(Refusal::Policy)?;
        if new_clients.len() > allowance {
            return Err(Refusal::ClientIds);
        }
        // yrs is not meant to panic on validated input; should it ever, the panic is caught
        // here so that one bad update costs a rebuild of this room, not the room's task.
        let applied = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.apply(&update.bytes)))
            .unwrap_or(Err(ApplyError::Panicked));
        match applied {
            Ok(None) => Ok(Integrated {
                stored: false,
                bound: 0,
            }),
            Ok(Some(deleted)) => {
                self.changed();
                let bound = new_clients.len();
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
                Ok(Integrated { stored: true, bound })
            }
            Err(err) => {
                self.needs_rebuild = true;
                Err(Refusal::Integrate(err))
            }
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
    pub(super) fn apply(&self, bytes: &[u8]) -> Result<Option<Vec<DeleteRange>>, ApplyError> {
        let update = Update::decode_v1(bytes)?;
        let mut txn = self.doc.transact_mut();
        txn.apply_update(update)?;
        let changed = txn.before_state() != txn.after_state() || !txn.delete_set().is_empty();
        Ok(changed.then(|| delete_ranges(txn.delete_set())))
    }
}

/// yrs's delete set as ranges.
fn delete_ranges(set: &yrs::IdSet) -> Vec<DeleteRange> {
    let mut out = Vec::new();
    for (client, ranges) in set.iter() {
        for range in ranges.iter() {
            out.push(DeleteRange {
                client: client.into(),
                clock: range.start,
                len: range.end - range.start,
            });
        }
    }
    out
}

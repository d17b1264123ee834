//! The update path: dependency check → section policy → authorship → apply, or deny.
//! A refused update never reaches yrs, so it changes nothing.

use samen_crdt::deps::missing_dependency;
use samen_crdt::policy::{PolicyError, check_authorship, check_sections};
use samen_crdt::protocol::{self, ValidatedUpdate};
use samen_crdt::validate::DeleteRange;
use yrs::updates::decoder::Decode;
use yrs::{ReadTxn, Transact, Update};

use super::{Batch, Room, Target};
use crate::db::AuditEntry;
use crate::ids::ConnId;
use crate::rooms::{CloseReason, Principal};
use crate::storage::NewUpdate;

/// Why [`Room::integrate`] refused an update.
pub(super) enum Refusal {
    /// It rests on content the document does not have.
    MissingDependency,
    /// It writes where its author may not, or with someone else's client ID.
    Policy(PolicyError),
    /// yrs refused it (the room rebuilds its document).
    Integrate(ApplyError),
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
    pub(super) fn update(&mut self, conn: ConnId, update: ValidatedUpdate, batch: &mut Batch) {
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
    pub(super) fn integrate(
        &mut self,
        principal: &Principal,
        update: ValidatedUpdate,
        target: Target,
        batch: &mut Batch,
    ) -> Result<(), Refusal> {
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
                check_sections(&effect, |section| principal.may_write(section))?;
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

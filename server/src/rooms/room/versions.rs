//! Versions: automatic versions (after quiet, on unload, at least daily) and restoring a
//! version as a forward edit.

use samen_crdt::ClientId;
use samen_crdt::protocol::ValidatedUpdate;
use samen_crdt::validate::{Limits, parse_update_v1};
use yrs::updates::decoder::Decode;
use yrs::{Doc, ReadTxn, StateVector, Transact, Update};

use super::update::Refusal;
use super::{Batch, Room, Target};
use crate::ids::DocId;
use crate::rooms::{Principal, RestoreError, RoomsInner};

impl Room {
    /// Whether an automatic version is due: edits, then quiet; or a day of edits.
    pub(super) fn snapshot_due(&self) -> bool {
        let config = &self.rooms.config;
        let since_version = self
            .rooms
            .clock
            .now_millis()
            .saturating_sub(self.last_snapshot_ms);
        self.edited
            && (self.rooms.clock.now().saturating_duration_since(self.last_edit) >= config.snapshot_quiet
                || since_version >= i64::try_from(config.snapshot_every.as_millis()).unwrap_or(i64::MAX))
    }

    /// Keeps the current document as an automatic version (unless it equals the newest).
    /// On close it is awaited, so the version is stored before the room is gone; otherwise
    /// it runs beside the room.
    pub(super) async fn take_snapshot(&mut self, wait: bool) {
        self.edited = false;
        self.last_snapshot_ms = self.rooms.clock.now_millis();
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

    /// Makes the document equal to the version `snapshot` with an edit by `by`, made on a
    /// copy with a fresh client ID and then taken through [`Room::integrate`] like any
    /// client's update: checked, stored, bound to `by`, sent to everyone.
    pub(super) fn restore(
        &mut self,
        snapshot: &[u8],
        by: &Principal,
        batch: &mut Batch,
    ) -> Result<bool, RestoreError> {
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
            let candidate = ClientId::new(u64::from(self.rng.u32(..)));
            if sv.get(&candidate.into()) == 0 && !self.bindings.contains_key(&candidate) {
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
        let info = parse_update_v1(&bytes, &Limits::for_own_bytes()).map_err(|e| failed(&e))?;
        let update = ValidatedUpdate { bytes, info };
        // The restorer's one fresh client ID is the room's own doing: no allowance applies.
        match self.integrate(by, update, Target::All, usize::MAX, batch) {
            Ok(_) => Ok(true),
            Err(Refusal::ClientIds) => Err(failed(&"restore binds too many client IDs")),
            Err(Refusal::MissingDependency) => Err(failed(&"restore depends on missing content")),
            Err(Refusal::Policy(err)) => Err(failed(&err)),
            Err(Refusal::Integrate(err)) => Err(failed(&err)),
        }
    }
}

/// Whether the document changed since its newest version, and when that was taken (now,
/// if never: the first automatic version comes after the first quiet period).
pub(super) async fn version_state(rooms: &RoomsInner, id: DocId, doc: &Doc) -> (bool, i64) {
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
            rooms.clock.now_millis(),
        ),
        Err(err) => {
            tracing::warn!(%id, error = %err, "could not read the newest version");
            (false, rooms.clock.now_millis())
        }
    }
}

//! Loading: a room's document from storage (state plus log tail, applied in short yrs
//! transactions), its section index, and the rebuild after yrs refused an update halfway.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use samen_crdt::policy::SectionIndex;
use samen_crdt::validate::{Limits, parse_update_v1};
use yrs::updates::decoder::Decode;
use yrs::{Doc, ReadTxn, StateVector, Transact, Update};

use super::Room;
use super::update::ApplyError;
use super::versions::version_state;
use crate::ids::DocId;
use crate::rooms::RoomsInner;
use crate::rooms::presence::Presence;
use crate::storage::{NewUpdate, StorageError, StoredDoc};

impl Room {
    /// Loads the document; the caller spawns [`Room::run`].
    pub(in crate::rooms) async fn load(
        id: DocId,
        instance: u64,
        rooms: Arc<RoomsInner>,
    ) -> Result<Room, StorageError> {
        // Real time, not the room's clock: this is a measurement.
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
            own: Vec::new(),
            // One node does the housekeeping; several take turns by lease (`run`).
            housekeeper: !rooms.store.shared(),
            ticks: 0,
            uncompacted,
            empty_since: Some(rooms.clock.now()),
            broken: false,
            needs_rebuild: false,
            edited,
            last_edit: rooms.clock.now(),
            rng: rooms.fork_rng(),
            encoded: Default::default(),
            names: super::names::NameWatch::new(rooms.clock.now()),
            search: super::search::SearchWatch::new(rooms.clock.now()),
            last_snapshot_ms,
            rooms,
        })
    }

    /// Rebuilds the document from storage plus the batch's accepted, not yet stored
    /// updates: the document as it was before the refused update.
    pub(super) async fn rebuild(&mut self, accepted: &[NewUpdate]) {
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
                self.changed();
                self.index = index_of(&doc);
                self.doc = doc;
            }
            Err(err) => {
                tracing::error!(id = %self.id, error = %err, "could not reload document; closing room");
                self.broken = true;
            }
        }
    }
}

/// Log entries applied per yrs transaction while loading. yrs slows down with every
/// update one transaction holds: a log of 100,000 one-character updates took 10–14 s in
/// one transaction and 0.05 s in transactions of 16 to 2,000.
const APPLY_CHUNK: usize = 256;

/// Applies a stored document to a fresh doc. Stored bytes were validated before they were
/// stored; an entry that still fails is logged and skipped rather than losing the rest.
fn apply_stored(doc: &Doc, stored: &StoredDoc, id: DocId) {
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
pub(in crate::rooms) fn stored_state(stored: &StoredDoc, id: DocId) -> Vec<u8> {
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
    match parse_update_v1(&state, &Limits::for_own_bytes()) {
        Ok(info) => SectionIndex::from_state(&info),
        Err(err) => {
            tracing::error!(error = %err, "document state does not parse; section index left empty");
            SectionIndex::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use samen_crdt::typing::typing;
    use yrs::types::xml::XmlFragment;
    use yrs::{GetString, XmlOut};

    use super::*;
    use crate::storage::LogEntry;

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
        let typed = typing("goals", 3 * APPLY_CHUNK, |i| char::from(b'a' + (i % 26) as u8));
        let mut log = typed.updates;
        // The last entry of the first transaction depends on the first of the second: it
        // waits as pending across the commit between them, then integrates.
        log.swap(APPLY_CHUNK - 1, APPLY_CHUNK);
        let stored = StoredDoc {
            tail: (1..).zip(log).map(|(seq, data)| LogEntry { seq, data }).collect(),
            ..StoredDoc::default()
        };
        let doc = samen_crdt::new_doc();
        apply_stored(&doc, &stored, DocId::new());
        assert!(!doc.transact().has_missing_updates());
        assert_eq!(goals_text(&doc), format!("<paragraph>{}</paragraph>", typed.text));
    }
}

//! The search index in a room: once edits are stored, the parts of a registration (its
//! sections), a meeting or agreements are kept in the index (`db::search`), part by part,
//! only those whose text changed. On the room's tick and at most every few seconds, so
//! that a sentence typed is indexed once.
//!
//! The room never waits for the index: the changed parts are written by a task of their
//! own, whose outcome the room takes at a later tick. Awaited in the room, a hundred
//! rooms indexing together each held their editors' updates until the writes before
//! theirs were done (a p99 of 177 ms at the benchmark's point (b), where it was 5 ms).

use std::collections::HashMap;
use std::sync::PoisonError;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::Room;
use crate::db::{EntryPlace, NewEntry};
use crate::ids::InstitutionId;
use crate::rooms::usage::Bucket;

/// The shortest time between two indexings of one document.
const EVERY: Duration = Duration::from_secs(3);
/// Indexings per second, all rooms together. The index shares the database with the
/// editors' updates, and on SQLite their group commit (`storage::SqliteWriter`): a hundred
/// rooms being typed in, each indexing every 3 s, made the editors' p99 2–3× what it was
/// without the index (the benchmark's point (b)). Beyond this rate each document waits a
/// little longer for its turn instead.
const TURNS_PER_SECOND: f64 = 10.0;
/// How long a room waits after the index could not be written (the database is failing:
/// its writes of the document come first).
const AFTER_FAILURE: Duration = Duration::from_secs(30);

/// The rooms' shared turns to index ([`TURNS_PER_SECOND`]), full.
pub(crate) fn index_turns(now: Instant) -> Bucket {
    Bucket::full(TURNS_PER_SECOND, now)
}

/// What the room knows of its document in the index.
pub(super) struct SearchWatch {
    /// The document changed since it was last indexed.
    due: bool,
    /// When it may be indexed next.
    next: Instant,
    /// Read once: whether it is a registration's, and the texts the index holds of it.
    known: Option<Known>,
    /// The write under way: the parts it wrote, with their texts, or how far it came
    /// before it failed.
    writing: Option<oneshot::Receiver<Written>>,
}

/// What a write of changed parts did.
struct Written {
    /// Part → text, for each part written.
    parts: Vec<(String, String)>,
    /// Whether a part could not be written (the rest were not tried).
    failed: bool,
}

enum Known {
    /// Not a registration's, meeting's or agreements' document: nothing to index.
    Other,
    Document {
        school: InstitutionId,
        place: EntryPlace,
        /// Part → text, as the index holds it.
        indexed: HashMap<String, String>,
    },
}

impl SearchWatch {
    /// A watch that indexes at its first tick (what the index holds is compared first).
    pub(super) fn new(now: Instant) -> Self {
        SearchWatch {
            due: true,
            next: now,
            known: None,
            writing: None,
        }
    }

    /// The document changed: index it again.
    pub(super) fn changed(&mut self) {
        self.due = true;
    }
}

impl Room {
    /// Keeps the registration's changed sections in the search index, when due.
    pub(super) async fn index_search(&mut self) {
        let now = self.rooms.clock.now();
        if !self.take_written(now)
            || !self.search.due
            || now < self.search.next
            || !self.background_time_left(now)
            || !self.index_turn(now)
        {
            return;
        }
        self.search.due = false;
        self.search.next = now + EVERY;
        let rooms = self.rooms.clone();
        let db = &rooms.db;
        if self.search.known.is_none() {
            let known = match crate::search::place_of(db, self.id).await {
                Ok(Some((school, place))) => match db.indexed_texts(school, place).await {
                    Ok(indexed) => Known::Document {
                        school,
                        place,
                        indexed,
                    },
                    Err(err) => {
                        tracing::warn!(id = %self.id, error = %err, "search: could not read the index");
                        self.search.due = true;
                        return;
                    }
                },
                Ok(None) => Known::Other,
                Err(err) => {
                    tracing::warn!(id = %self.id, error = %err, "search: could not read what the document is");
                    self.search.due = true;
                    return;
                }
            };
            self.search.known = Some(known);
        }
        let Some(Known::Document {
            school,
            place,
            indexed,
        }) = &mut self.search.known
        else {
            return;
        };
        // Real time, not the room's clock: this is a measurement.
        let started = Instant::now();
        let mut now_texts = crate::search::searchable_parts(*place, &self.doc);
        super::background::charge(&self.rooms, started.elapsed(), now);
        // A part emptied (a section cleared, an action item removed) leaves the index too;
        // a title is kept by the routes, not here.
        for part in indexed.keys() {
            if part != "title" {
                now_texts.entry(part.clone()).or_default();
            }
        }
        let changed: Vec<(String, String)> = now_texts
            .into_iter()
            .filter(|(part, text)| indexed.get(part).map_or(!text.is_empty(), |held| held != text))
            .collect();
        if changed.is_empty() {
            return;
        }
        let (school, place, id) = (*school, *place, self.id);
        let (done, writing) = oneshot::channel();
        self.search.writing = Some(writing);
        let rooms = self.rooms.clone();
        tokio::spawn(async move {
            let mut written = Written {
                parts: Vec::with_capacity(changed.len()),
                failed: false,
            };
            for (part, text) in changed {
                let entry_id = crate::db::part_entry_id(id, &part);
                let entry = NewEntry {
                    id: &entry_id,
                    school,
                    place,
                    part: &part,
                    text: &text,
                };
                if let Err(err) = rooms.db.index_entry(&entry).await {
                    tracing::warn!(%id, error = %err, "search: could not index a part");
                    written.failed = true;
                    break;
                }
                written.parts.push((part, text));
            }
            let _ = done.send(written);
        });
    }

    /// Takes one of the rooms' shared turns to index, if one is left.
    fn index_turn(&self, now: Instant) -> bool {
        let mut turns = self
            .rooms
            .index_turns
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        turns.take_one(TURNS_PER_SECOND, Duration::from_secs(1), now)
    }

    /// Takes in what the last write did, if it is done; false while it is under way.
    fn take_written(&mut self, now: Instant) -> bool {
        let Some(writing) = &mut self.search.writing else {
            return true;
        };
        let written = match writing.try_recv() {
            Ok(written) => written,
            Err(oneshot::error::TryRecvError::Empty) => return false,
            // The task ended without a word (the runtime is shutting down).
            Err(oneshot::error::TryRecvError::Closed) => Written {
                parts: Vec::new(),
                failed: true,
            },
        };
        self.search.writing = None;
        if let Some(Known::Document { indexed, .. }) = &mut self.search.known {
            for (part, text) in written.parts {
                if text.is_empty() {
                    indexed.remove(&part);
                } else {
                    indexed.insert(part, text);
                }
            }
        }
        if written.failed {
            self.search.due = true;
            self.search.next = now + AFTER_FAILURE;
        }
        true
    }
}

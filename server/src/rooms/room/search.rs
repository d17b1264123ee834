//! The search index in a room: once edits are stored, the parts of a registration (its
//! sections), a meeting or agreements are kept in the index (`db::search`), part by part,
//! only those whose text changed. On the room's tick and at most every few seconds, so
//! that a sentence typed is indexed once.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::Room;
use crate::db::{EntryPlace, NewEntry};
use crate::ids::InstitutionId;

/// The shortest time between two indexings of one document.
const EVERY: Duration = Duration::from_secs(3);
/// How long a room waits after the index could not be written (the database is failing:
/// its writes of the document come first).
const AFTER_FAILURE: Duration = Duration::from_secs(30);

/// What the room knows of its document in the index.
pub(super) struct SearchWatch {
    /// The document changed since it was last indexed.
    due: bool,
    /// When it may be indexed next.
    next: Instant,
    /// Read once: whether it is a registration's, and the texts the index holds of it.
    known: Option<Known>,
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
        if !self.search.due || now < self.search.next {
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
        let mut now_texts = crate::search::searchable_parts(*place, &self.doc);
        // A part emptied (a section cleared, an action item removed) leaves the index too;
        // a title is kept by the routes, not here.
        for part in indexed.keys() {
            if part != "title" {
                now_texts.entry(part.clone()).or_default();
            }
        }
        for (part, text) in now_texts {
            if indexed.get(&part).map_or(text.is_empty(), |held| *held == text) {
                continue;
            }
            let entry_id = crate::db::part_entry_id(self.id, &part);
            let entry = NewEntry {
                id: &entry_id,
                school: *school,
                place: *place,
                part: &part,
                text: &text,
            };
            match db.index_entry(&entry).await {
                Ok(()) => {
                    if text.is_empty() {
                        indexed.remove(&part);
                    } else {
                        indexed.insert(part, text);
                    }
                }
                Err(err) => {
                    tracing::warn!(id = %self.id, error = %err, "search: could not index a part");
                    self.search.due = true;
                    self.search.next = now + AFTER_FAILURE;
                    return;
                }
            }
        }
    }
}

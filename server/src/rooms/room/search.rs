//! The search index in a room: once edits are stored, a registration's sections are kept
//! in the index (`db::search`), section by section, only those whose text changed. On the
//! room's tick and at most every few seconds, so that a sentence typed is indexed once.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use samen_crdt::Section;

use super::Room;
use crate::db::NewEntry;
use crate::ids::{InstitutionId, RegistrationId};

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
    /// A meeting's or agreements' document: not searched (yet).
    Other,
    Registration {
        id: RegistrationId,
        school: InstitutionId,
        /// Section → text, as the index holds it.
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
            let registration = RegistrationId::from(self.id);
            let known = match db.registration(registration).await {
                Ok(Some(r)) => match db.indexed_texts(r.id).await {
                    Ok(indexed) => Known::Registration {
                        id: r.id,
                        school: r.school_id,
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
                    tracing::warn!(id = %self.id, error = %err, "search: could not read the registration");
                    self.search.due = true;
                    return;
                }
            };
            self.search.known = Some(known);
        }
        let Some(Known::Registration { id, school, indexed }) = &mut self.search.known else {
            return;
        };
        let mut now_texts: HashMap<String, String> = samen_crdt::text::texts(&self.doc)
            .into_iter()
            .filter(|(root, _)| Section::from_root_name(root).is_some())
            .collect();
        // A section emptied leaves the index too.
        for section in Section::ALL {
            now_texts.entry(section.root_name().to_owned()).or_default();
        }
        for (part, text) in now_texts {
            if indexed.get(&part).map_or(text.is_empty(), |held| *held == text) {
                continue;
            }
            let entry_id = crate::db::part_entry_id(*id, &part);
            let entry = NewEntry {
                id: &entry_id,
                school: *school,
                registration: Some(*id),
                part: &part,
                text: &text,
            };
            match db.index_entry(&entry).await {
                Ok(()) => {
                    indexed.insert(part, text);
                }
                Err(err) => {
                    tracing::warn!(id = %self.id, error = %err, "search: could not index a section");
                    self.search.due = true;
                    self.search.next = now + AFTER_FAILURE;
                    return;
                }
            }
        }
    }
}

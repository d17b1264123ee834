//! The name guard in a room: once edits are stored, the room reads its document for
//! suspected names and tells its Samen clients what it found (`crate::name_guard`).
//!
//! Checked on the room's tick, so edits that come together are checked once; and never
//! more than a twentieth of the room's time: a check that took 30 ms waits 600 ms before
//! the next, however fast edits come. What the room reads for it (the school, the names
//! dismissed) it reads once and again only when told they changed: the room waits for
//! those reads, and its editors with it.

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{Room, Target};
use crate::ids::InstitutionId;
use crate::name_guard::{Context, findings, message};

/// The shortest time between two checks of one document.
const EVERY: Duration = Duration::from_secs(1);
/// How many times a check's own duration the next one waits at least.
const SHARE: u32 = 20;

/// What the room knows of its document's names.
pub(super) struct NameWatch {
    /// The document changed (or a name was dismissed) since the last check.
    due: bool,
    /// When the next check may run.
    next: Instant,
    /// The document's school and the names of the institutions around it, read once.
    school: Option<(InstitutionId, Vec<String>)>,
    /// The names dismissed in the document, read when first needed and after a dismissal.
    dismissed: Option<Vec<String>>,
    /// The last findings message, for Samen clients that join.
    last: Option<Bytes>,
    /// The number of findings last stored for the school's list.
    stored: Option<usize>,
}

impl NameWatch {
    /// A watch that checks at its first tick.
    pub(super) fn new(now: Instant) -> Self {
        NameWatch {
            due: true,
            next: now,
            school: None,
            dismissed: None,
            last: None,
            stored: None,
        }
    }

    /// The document changed: check it again.
    pub(super) fn changed(&mut self) {
        self.due = true;
    }

    /// A name was dismissed (or no longer is): read the dismissals again and check.
    pub(super) fn dismissals_changed(&mut self) {
        self.dismissed = None;
        self.due = true;
    }

    /// The findings as last sent, for a client that joins.
    pub(super) fn last(&self) -> Option<Bytes> {
        self.last.clone()
    }
}

impl Room {
    /// Checks the document's names if it changed and the last check is long enough ago;
    /// sends the findings to the Samen clients if they changed, and keeps their number.
    pub(super) async fn check_names(&mut self) {
        let now = self.rooms.clock.now();
        if !self.names.due || now < self.names.next || !self.background_time_left(now) {
            return;
        }
        self.names.due = false;
        let rooms = self.rooms.clone();
        let db = &rooms.db;
        if self.names.school.is_none() {
            match db.document_school(self.id).await {
                Ok(Some(found)) => self.names.school = Some(found),
                // A document of nothing (a test's) has no school and no names to guard.
                Ok(None) => return,
                Err(err) => {
                    tracing::warn!(id = %self.id, error = %err, "name guard: could not read the document's school");
                    self.names.due = true;
                    self.names.next = now + EVERY;
                    return;
                }
            }
        }
        if self.names.dismissed.is_none() {
            match db.name_dismissals(self.id).await {
                Ok(dismissed) => self.names.dismissed = Some(dismissed.into_iter().map(|d| d.name).collect()),
                Err(err) => {
                    tracing::warn!(id = %self.id, error = %err, "name guard: could not read dismissals");
                    self.names.due = true;
                    self.names.next = now + EVERY;
                    return;
                }
            }
        }
        let (Some((school, institutions)), Some(dismissed)) = (&self.names.school, &self.names.dismissed)
        else {
            return;
        };
        let school = *school;
        // Real time, not the room's clock: this is a measurement.
        let started = Instant::now();
        let found = findings(&self.doc, &Context::new(institutions, dismissed.iter().cloned()));
        let took = started.elapsed();
        super::background::charge(&self.rooms, took, now);
        self.names.next = now + EVERY.max(took * SHARE);
        // The count first, so that whoever sees the findings finds the school's list as
        // they say.
        if self.names.stored != Some(found.len()) {
            match db.set_name_findings(self.id, school, found.len()).await {
                Ok(()) => self.names.stored = Some(found.len()),
                Err(err) => {
                    tracing::warn!(id = %self.id, error = %err, "name guard: could not keep the findings' count")
                }
            }
        }
        let frame = message(&found);
        if self.names.last.as_ref() != Some(&frame) {
            for conn in self.samen_peers() {
                self.send(conn, frame.clone());
            }
            self.names.last = Some(frame);
        }
    }

    /// Sends a joining Samen client the findings as they stand.
    pub(super) fn tell_names(&mut self, conn: crate::ids::ConnId, batch: &mut super::Batch) {
        match self.names.last() {
            Some(frame) => batch.outbound.push((Target::One(conn), frame)),
            None => self.names.changed(),
        }
    }
}

//! Rights that end while a connection is open. Every WebSocket and event stream registers
//! whom it serves (the credential it was opened with, the user, the school and the access
//! they had then); a watcher re-checks them against the database every few seconds and
//! ends those whose right is gone: a user disabled, a role withdrawn or changed, a session
//! logged out or expired, a token revoked. A registration's document closed or reopened
//! ends its connections too, as what they may write changed: they reconnect under the new
//! rule.
//!
//! The database is the one source: a change made by `samen admin` (another process), or by
//! another node once there are several, is seen the same way as one made here. A change
//! made through this server's API (logout, a revoked token) asks for a check at once.
//! Should the database fail, nothing is ended on its word: the next round decides.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use dashmap::DashMap;
use samen_crdt::meeting::Partner;
use tokio::sync::{Notify, watch};

use crate::access::SchoolAccess;
use crate::auth::Credential;
use crate::db::Db;
use crate::ids::{ConnId, DocId, InstitutionId, UserId};
use crate::rooms::{AccessEnd, Rooms};

/// Who an open connection serves, and what it had when it opened.
#[derive(Debug, Clone)]
pub struct Grant {
    /// The credential the connection was opened with.
    pub credential: Credential,
    /// The user.
    pub user: UserId,
    /// The school whose data it carries.
    pub school: InstitutionId,
    /// What the user had of that school when it opened.
    pub access: Held,
    /// For a registration's document: whether the registration was closed (read-only)
    /// when the connection opened.
    pub closed: Option<bool>,
}

/// What a connection's user had of its school: access to its registrations, or places at
/// its table (for a meeting).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Held {
    /// Access to the registrations.
    Registrations(SchoolAccess),
    /// The partners the user is at the school's table.
    Table(Vec<Partner>),
    /// A party to the school's agreements with the LSC of this database id.
    Agreement(InstitutionId),
}

/// How to end a connection whose right is gone.
enum Ending {
    /// A document's WebSocket: its room closes it. `edited` is set by the connection when
    /// its user sends an edit, and taken by the next round.
    Socket {
        doc: DocId,
        conn: ConnId,
        edited: Arc<AtomicBool>,
    },
    /// An event stream: it ends when this says so.
    Stream(watch::Sender<bool>),
}

struct Watched {
    grant: Grant,
    ending: Ending,
}

struct Inner {
    entries: DashMap<u64, Watched>,
    next: AtomicU64,
    db: Db,
    rooms: Rooms,
    /// How long a session may go unused (ms) before it ends.
    session_idle_ms: i64,
    /// Asks the watcher for a round now.
    wake: Notify,
}

/// The open connections' rights, and the watcher that ends them.
#[derive(Clone)]
pub struct AccessWatch {
    inner: Arc<Inner>,
}

/// An open connection's place in the watch; dropping it (the connection ended) takes the
/// connection out.
pub struct Lease {
    inner: Arc<Inner>,
    id: u64,
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.inner.entries.remove(&self.id);
    }
}

impl AccessWatch {
    /// A watch with nothing open; [`AccessWatch::run`] does the checking.
    pub fn new(db: Db, rooms: Rooms, session_idle_ms: i64) -> Self {
        AccessWatch {
            inner: Arc::new(Inner {
                session_idle_ms,
                entries: DashMap::new(),
                next: AtomicU64::new(1),
                db,
                rooms,
                wake: Notify::new(),
            }),
        }
    }

    fn add(&self, grant: Grant, ending: Ending) -> Lease {
        let id = self.inner.next.fetch_add(1, Ordering::Relaxed);
        self.inner.entries.insert(id, Watched { grant, ending });
        Lease {
            inner: self.inner.clone(),
            id,
        }
    }

    /// Watches the WebSocket `conn` on document `doc`; the connection sets `edited` when its
    /// user sends an edit, which counts as using the session (typing through a long meeting
    /// keeps one logged in; a tab merely left open does not).
    pub fn socket(&self, grant: Grant, doc: DocId, conn: ConnId, edited: Arc<AtomicBool>) -> Lease {
        self.add(grant, Ending::Socket { doc, conn, edited })
    }

    /// Watches an event stream; the receiver turns true when the stream must end.
    pub fn stream(&self, grant: Grant) -> (Lease, watch::Receiver<bool>) {
        let (tx, rx) = watch::channel(false);
        (self.add(grant, Ending::Stream(tx)), rx)
    }

    /// Asks for a check now (after a logout or a revoked token on this server).
    pub fn recheck_soon(&self) {
        self.inner.wake.notify_one();
    }

    /// Checks every `every` (and when asked) until `shutdown` turns true.
    pub async fn run(self, every: Duration, mut shutdown: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = self.inner.wake.notified() => {}
                _ = shutdown.wait_for(|stop| *stop) => return,
            }
            if let Err(err) = self.check().await {
                tracing::warn!(error = %err, "could not re-check open connections' rights");
            }
        }
    }

    /// One round: ends every open connection whose credential or access changed; returns
    /// how many it ended.
    pub async fn check(&self) -> Result<usize, crate::db::DbError> {
        let mut used: HashSet<String> = HashSet::new();
        let open: Vec<(u64, Grant, Option<DocId>)> = self
            .inner
            .entries
            .iter()
            .map(|e| {
                if let (Ending::Socket { edited, .. }, Credential::Session(id_hash)) =
                    (&e.value().ending, &e.value().grant.credential)
                    && edited.swap(false, Ordering::Relaxed)
                {
                    used.insert(id_hash.clone());
                }
                let doc = match &e.value().ending {
                    Ending::Socket { doc, .. } => Some(*doc),
                    Ending::Stream(_) => None,
                };
                (*e.key(), e.value().grant.clone(), doc)
            })
            .collect();
        if open.is_empty() {
            return Ok(0);
        }
        let db = &self.inner.db;
        // Edits since the last round are uses of their sessions (before the check, so a
        // session kept busy by typing is not ended as idle).
        for id_hash in &used {
            db.session_used(id_hash, self.inner.session_idle_ms).await?;
        }
        let mut credentials: HashMap<&Credential, bool> = HashMap::new();
        let mut access: HashMap<(&UserId, InstitutionId), Option<SchoolAccess>> = HashMap::new();
        let mut table: HashMap<(&UserId, InstitutionId), Vec<Partner>> = HashMap::new();
        let mut agreements: HashMap<(&UserId, InstitutionId), Vec<InstitutionId>> = HashMap::new();
        // One query per distinct credential and per distinct user and school, however many
        // tabs and documents they have open; one for the status of every registration open
        // under a grant that depends on it.
        let watched: HashSet<DocId> = open
            .iter()
            .filter(|(_, grant, _)| grant.closed.is_some())
            .filter_map(|(_, _, doc)| *doc)
            .collect();
        let closed = db
            .registrations_closed(&watched.into_iter().collect::<Vec<_>>())
            .await?;
        for (_, grant, _) in &open {
            if let Entry::Vacant(slot) = credentials.entry(&grant.credential) {
                slot.insert(
                    db.credential_valid(&grant.credential, self.inner.session_idle_ms)
                        .await?,
                );
            }
            let key = (&grant.user, grant.school);
            match &grant.access {
                Held::Registrations(_) => {
                    if let Entry::Vacant(slot) = access.entry(key) {
                        slot.insert(db.school_access(&grant.user, grant.school).await?);
                    }
                }
                Held::Table(_) => {
                    if let Entry::Vacant(slot) = table.entry(key) {
                        slot.insert(db.partners_at(&grant.user, grant.school).await?);
                    }
                }
                Held::Agreement(_) => {
                    if let Entry::Vacant(slot) = agreements.entry(key) {
                        let lscs = db.agreement_lscs(&grant.user, grant.school).await?;
                        slot.insert(lscs.into_iter().map(|l| l.id).collect());
                    }
                }
            }
        }
        let unchanged = |g: &Grant| match &g.access {
            Held::Registrations(had) => access.get(&(&g.user, g.school)) == Some(&Some(*had)),
            Held::Table(had) => table.get(&(&g.user, g.school)) == Some(had),
            Held::Agreement(lsc) => agreements
                .get(&(&g.user, g.school))
                .is_some_and(|lscs| lscs.contains(lsc)),
        };
        let ending: HashMap<u64, AccessEnd> = open
            .iter()
            .filter_map(|(id, g, doc)| {
                if !credentials[&g.credential] || !unchanged(g) {
                    return Some((*id, AccessEnd::Ended));
                }
                let now = doc.and_then(|doc| closed.get(&doc).copied());
                match (g.closed, now) {
                    (Some(_), None) if doc.is_some() => Some((*id, AccessEnd::Ended)),
                    (Some(had), Some(now)) if had != now => Some((*id, AccessEnd::RuleChanged)),
                    _ => None,
                }
            })
            .collect();
        for (id, reason) in &ending {
            // Out of the watch at once, so it is ended once; its lease finds it gone.
            let Some((_, watched)) = self.inner.entries.remove(id) else {
                continue;
            };
            tracing::info!(user = %watched.grant.user, why = ?reason, "closing an open connection");
            match watched.ending {
                Ending::Socket { doc, conn, .. } => self.inner.rooms.end_access(doc, conn, *reason).await,
                Ending::Stream(tx) => {
                    let _ = tx.send(true);
                }
            }
        }
        Ok(ending.len())
    }
}

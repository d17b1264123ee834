//! Document storage: the update log and compacted state of every registration's CRDT
//! document, behind one trait so that rooms do not know which database holds them.
//!
//! The contract rooms rely on: `append` returns only once the updates are durable, and
//! `load` returns every update ever appended (folded into the state or in the tail).

use std::sync::Arc;

use async_trait::async_trait;
use thiserror::Error;

use crate::ids::{DocId, UserId};
use samen_crdt::ClientId;
use samen_crdt::validate::DeleteRange;

pub use postgres::PgStore;
pub use sqlite::{SqliteStore, SqliteWriter};

/// A write of the relational data that rides the document store's group commit on SQLite
/// ([`SqliteWriter`]): one statement, with `?` placeholders, and its values.
#[derive(Debug, Clone, PartialEq)]
pub struct SqlWrite {
    /// The statement (no `?` but the placeholders).
    pub sql: &'static str,
    /// A value for each `?`, in order.
    pub values: Vec<SqlValue>,
}

/// A value of a [`SqlWrite`].
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    /// TEXT.
    Text(String),
    /// INTEGER.
    Int(i64),
    /// REAL.
    Real(f64),
    /// NULL.
    Null,
}

/// A document as stored: its compacted state and the log entries after it.
#[derive(Debug, Default, Clone)]
pub struct StoredDoc {
    /// The compacted state (a v1 update), if the document was ever compacted (for a read
    /// after a sequence number: if it was compacted past that number).
    pub state: Option<Vec<u8>>,
    /// The last sequence number folded into `state` (with no state: 0, or the number a
    /// read started after).
    pub state_seq: i64,
    /// The log entries after `state_seq`, in order.
    pub tail: Vec<LogEntry>,
    /// Which user each Yjs client ID of the document belongs to.
    pub bindings: Vec<(ClientId, UserId)>,
}

/// Reads a document (state, tail, bindings) after sequence number `after` on a connection
/// of either engine, in the caller's transaction: one text for both stores, type-checked
/// for each.
macro_rules! read_doc {
    ($conn:expr, $id:expr, $after:expr) => {{
        let after: i64 = $after;
        let state: Option<(Vec<u8>, i64)> = sqlx::query_as($crate::storage::LOAD_STATE)
            .bind($id)
            .bind(after)
            .fetch_optional($conn)
            .await?;
        let state_seq = state.as_ref().map_or(after, |(_, seq)| *seq);
        let tail = sqlx::query_as($crate::storage::LOAD_TAIL)
            .bind($id)
            .bind(state_seq)
            .fetch_all($conn)
            .await?;
        let bindings = sqlx::query_as($crate::storage::LOAD_BINDINGS)
            .bind($id)
            .fetch_all($conn)
            .await?;
        $crate::storage::StoredDoc::from_rows(after, state, tail, bindings)
    }};
}

mod postgres;
mod sqlite;
#[cfg(test)]
mod tests;

/// The reads of a document, the same SQL on both engines: its state (if newer than `$2`),
/// the log after it, its client-ID bindings, and who deleted what.
const LOAD_STATE: &str = "SELECT state, seq FROM doc_states WHERE doc_id = $1 AND seq > $2";
const LOAD_TAIL: &str = "SELECT seq, data FROM doc_updates WHERE doc_id = $1 AND seq > $2 ORDER BY seq";
const LOAD_BINDINGS: &str = "SELECT client_id, user_id FROM client_bindings WHERE doc_id = $1";
const LOAD_DELETIONS: &str = "SELECT user_id, ranges FROM doc_deletions WHERE doc_id = $1 ORDER BY seq";

impl StoredDoc {
    /// A document read after `after` from the rows of [`LOAD_STATE`], [`LOAD_TAIL`] and
    /// [`LOAD_BINDINGS`].
    fn from_rows(
        after: i64,
        state: Option<(Vec<u8>, i64)>,
        tail: Vec<(i64, Vec<u8>)>,
        bindings: Vec<(i64, String)>,
    ) -> StoredDoc {
        let (state, state_seq) = match state {
            Some((state, seq)) => (Some(state), seq),
            None => (None, after),
        };
        StoredDoc {
            state,
            state_seq,
            tail: tail
                .into_iter()
                .map(|(seq, data)| LogEntry { seq, data })
                .collect(),
            // Client IDs are at most 53 bits (checked by the validator), stored as i64.
            bindings: bindings
                .into_iter()
                .map(|(client, user)| (ClientId::new(client as u64), UserId::from(user)))
                .collect(),
        }
    }

    /// The sequence number of the last stored update.
    pub fn last_seq(&self) -> i64 {
        self.tail.last().map_or(self.state_seq, |e| e.seq)
    }
}

/// One entry of a document's update log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// Position in the document's log, from 1, without gaps.
    pub seq: i64,
    /// The v1-encoded update.
    pub data: Vec<u8>,
}

/// An update to append.
#[derive(Debug, Clone)]
pub struct NewUpdate {
    /// The v1-encoded update.
    pub data: Vec<u8>,
    /// The user who wrote it (none for updates from before identity existed).
    pub author: Option<UserId>,
    /// The content it deleted that was not deleted before (who removed what, for diffs).
    pub deleted: Vec<DeleteRange>,
}

/// Content one stored update deleted, and its author.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deletion {
    /// The deleted item IDs.
    pub ranges: Vec<DeleteRange>,
    /// The update's author.
    pub author: Option<UserId>,
}

/// Why storage failed.
#[derive(Debug, Error)]
pub enum StorageError {
    /// The database refused or failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Migrations could not be applied.
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The data directory could not be prepared.
    #[error("data directory: {0}")]
    Io(#[from] std::io::Error),
    /// A client ID the append binds is bound to another user already (by another node,
    /// before this one read it): nothing was stored.
    #[error("a client ID of these updates belongs to another user")]
    ClientIdTaken,
    /// The store was closed (the server is shutting down).
    #[error("the document store is closed")]
    Closed,
    /// Work on a document's data stopped before it finished (the server is shutting
    /// down, or the work failed).
    #[error("document work stopped: {0}")]
    Interrupted(#[from] tokio::task::JoinError),
}

impl StorageError {
    /// Whether the database failed to write (a full or failing disk), rather than refused
    /// what was asked.
    pub fn cannot_write(&self) -> bool {
        matches!(self, StorageError::Database(err) if cannot_write(err))
    }
}

/// Whether a database error means that it cannot write: SQLite's `SQLITE_FULL` (no space
/// left, or the database at its size limit) or `SQLITE_IOERR` (a write, sync or truncate
/// the operating system refused, as beyond a file-size limit). The database stays
/// consistent (the transaction is rolled back), and the same request succeeds once the
/// disk has room again.
pub fn cannot_write(err: &sqlx::Error) -> bool {
    const SQLITE_IOERR: i64 = 10;
    const SQLITE_FULL: i64 = 13;
    let sqlx::Error::Database(db) = err else {
        return false;
    };
    if db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>().is_some() {
        // PostgreSQL's SQLSTATEs: disk_full, insufficient_resources (class 53), io_error.
        return db
            .code()
            .is_some_and(|code| code.starts_with("53") || code == "58030");
    }
    // sqlx reports SQLite's extended code; its low byte is the primary code.
    db.code()
        .and_then(|code| code.parse::<i64>().ok())
        .is_some_and(|code| matches!(code & 0xff, SQLITE_IOERR | SQLITE_FULL))
}

/// The schema of each engine, applied when the store opens.
pub(crate) static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
/// See [`SQLITE_MIGRATIONS`].
pub(crate) static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

/// The database engines Samen runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// Embedded SQLite (the default).
    Sqlite,
    /// PostgreSQL (production, and several nodes).
    Postgres,
}

impl Engine {
    /// The engine a database URL names, if it is one Samen has.
    pub fn of(url: &str) -> Option<Engine> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Engine::Postgres)
        } else if url.starts_with("sqlite:") {
            Some(Engine::Sqlite)
        } else {
            None
        }
    }

    /// The version of this engine's newest migration.
    pub(crate) fn latest_migration(self) -> i64 {
        let migrations = match self {
            Engine::Sqlite => &SQLITE_MIGRATIONS,
            Engine::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrations.iter().map(|m| m.version).max().unwrap_or(0)
    }
}

/// What another node stored or told, as the database passes it on (PostgreSQL's `LISTEN`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// Another node stored updates of `doc`, through sequence number `seq`.
    Stored {
        /// The document.
        doc: DocId,
        /// The last sequence number it stored.
        seq: i64,
        /// The batch itself, when it was small enough to travel with the notice (else
        /// the rows are read).
        batch: Option<Box<StoredBatch>>,
    },
    /// Notices may have been lost (the listening connection dropped and is back): every
    /// document may have news.
    Missed,
    /// Another node told something that is not stored ([`DocStore::tell`]).
    Told {
        /// Which node (random per start; the same for all it tells while it runs).
        from: String,
        /// What about.
        topic: Topic,
        /// What, as that node wrote it.
        body: String,
    },
}

/// A batch another node stored, as its notice carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBatch {
    /// The sequence number of its first update.
    pub first: i64,
    /// The updates (v1), in order.
    pub updates: Vec<Vec<u8>>,
    /// The client IDs the batch bound to their users.
    pub bindings: Vec<(ClientId, UserId)>,
}

/// What nodes tell each other beside stored updates: it reaches the nodes listening now,
/// and is lost for those that are not (which is why none of it is stored data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topic {
    /// Presence in a document (who is there, where they type).
    Presence,
    /// Live events of a school (comments, versions, registrations).
    Events,
    /// Login attempts, for the throttle.
    Logins,
    /// How many WebSocket connections users have open on the telling node.
    Sockets,
    /// Who has a school's dossier open on the telling node.
    Viewers,
    /// Comments and versions users wrote through the telling node (rate limits).
    Writes,
    /// What users spent of their quotas in the telling node's rooms.
    Usage,
    /// A document whose dismissed names changed (the name guard checks it again).
    Names,
    /// A document whose files changed (its room tells its Samen clients).
    Files,
}

/// Where documents live.
#[async_trait]
pub trait DocStore: Send + Sync + 'static {
    /// Reads a document's state and log tail (an unknown document is empty).
    async fn load(&self, doc: DocId) -> Result<StoredDoc, StorageError> {
        self.read_since(doc, 0).await
    }

    /// Reads what was stored of a document after sequence number `after`: its state if a
    /// compaction went past `after` (it holds what the log no longer does), the log after
    /// that, and all its client-ID bindings.
    async fn read_since(&self, doc: DocId, after: i64) -> Result<StoredDoc, StorageError>;

    /// Appends updates (and what each deleted), and binds new client IDs to their users,
    /// durably, in one transaction; returns the sequence number of the first update.
    ///
    /// `after` is the last sequence number the caller knows of. Where one process is the
    /// only writer (SQLite), the updates take the numbers after it; where several nodes
    /// write (PostgreSQL), the store numbers them itself, and the caller learns from the
    /// answer whether others stored updates in between.
    async fn append(
        &self,
        doc: DocId,
        after: i64,
        updates: &[NewUpdate],
        bindings: &[(ClientId, UserId)],
    ) -> Result<i64, StorageError>;

    /// Whether other processes write to the same documents (several nodes), so that rooms
    /// must take in what those stored and share the housekeeping.
    fn shared(&self) -> bool {
        false
    }

    /// Tells of what other nodes store and tell, from the moment it returns; `None` where
    /// no one else writes.
    async fn listen(&self) -> Result<Option<tokio::sync::mpsc::Receiver<Notice>>, StorageError> {
        Ok(None)
    }

    /// Tells the other nodes `body` about `topic`, soon and without waiting; dropped when
    /// it cannot be (too large, too many waiting, the database away). Where no one else
    /// listens, nothing to do.
    fn tell(&self, _topic: Topic, _body: String) {}

    /// Takes or renews (`hold`), or gives up, this node's lease on a document's
    /// housekeeping (compaction and automatic versions), so that one node does it;
    /// returns whether this node holds it. Where one process writes, it always does.
    async fn lease(&self, _doc: DocId, hold: bool) -> Result<bool, StorageError> {
        Ok(hold)
    }

    /// Replaces the state by `state`, which holds every update up to `through_seq`, and
    /// drops those log entries. A state older than the stored one is ignored, so a late
    /// compaction can never undo a newer one.
    async fn compact(&self, doc: DocId, state: &[u8], through_seq: i64) -> Result<(), StorageError>;

    /// Who deleted what in the document, over its whole life (compaction keeps these).
    async fn deletions(&self, doc: DocId) -> Result<Vec<Deletion>, StorageError>;

    /// Waits for pending writes and closes the database.
    async fn close(&self);
}

/// A shared handle to the document store.
pub type Store = Arc<dyn DocStore>;

/// Milliseconds since the Unix epoch, for `created_at` columns.
pub(crate) fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Deleted ranges as JSON `[[client, clock, len], ...]`.
pub(crate) fn encode_ranges(ranges: &[DeleteRange]) -> String {
    let list: Vec<(ClientId, u32, u32)> = ranges.iter().map(|r| (r.client, r.clock, r.len)).collect();
    serde_json::to_string(&list).unwrap_or_else(|_| "[]".into())
}

/// The ranges [`encode_ranges`] wrote; a row that does not parse (never written by us)
/// reads as no ranges rather than failing every diff.
pub(crate) fn decode_ranges(json: &str) -> Vec<DeleteRange> {
    serde_json::from_str::<Vec<(ClientId, u32, u32)>>(json)
        .unwrap_or_default()
        .into_iter()
        .map(|(client, clock, len)| DeleteRange { client, clock, len })
        .collect()
}

/// A row of [`LOAD_DELETIONS`].
fn deletion((author, ranges): (Option<String>, String)) -> Deletion {
    Deletion {
        ranges: decode_ranges(&ranges),
        author: author.map(UserId::from),
    }
}

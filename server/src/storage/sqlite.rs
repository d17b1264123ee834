//! The SQLite engine: one database file in WAL mode under the data directory.
//!
//! `synchronous = FULL` so that a commit survives power loss, not only a process crash;
//! group commit in the rooms keeps the fsync count low.

use std::collections::VecDeque;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, QueryBuilder, SqlitePool};
use tokio::sync::{mpsc, oneshot};

use super::{
    Deletion, DocStore, LOAD_DELETIONS, NewUpdate, StorageError, StoredDoc, deletion, encode_ranges,
    now_millis,
};
use crate::ids::{DocId, UserId};
use samen_crdt::ClientId;

/// Documents in a SQLite database.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// How the pool connects (the relational data connects to the same file).
    options: SqliteConnectOptions,
    /// The one writer of documents (see [`write_jobs`]).
    writer: mpsc::Sender<Job>,
}

/// Jobs waiting for the writer before rooms wait to hand over more.
const WRITER_QUEUE: usize = 4096;
/// Connections in the pool, all opened at start: each is a thread with its own SQLite
/// caches (~0.2 MiB), and opened on demand they would come during a burst of logins and
/// joins, adding their latency and memory to the burst's.
const POOL: u32 = 8;
/// Appends (from any rooms) written in one transaction at most.
const MAX_GROUP: usize = 512;
/// Compactions written in one transaction at most. Rooms that were created together reach
/// their compaction threshold together (in the benchmark, a hundred within a second); all
/// in one transaction, the appends that share it would wait for every log they delete.
const COMPACTIONS_PER_GROUP: usize = 2;
/// Rows per multi-row `INSERT` (5 values each, far below SQLite's 32,766 variables).
const ROWS_PER_INSERT: usize = 500;

/// Work for the writer.
enum Job {
    Append(Append),
    Compact(Compact),
}

/// Where the writer sends a job's outcome.
type Reply = oneshot::Sender<Result<(), StorageError>>;

/// One room's batch to append, and where its outcome goes.
struct Append {
    doc: DocId,
    first_seq: i64,
    updates: Vec<NewUpdate>,
    bindings: Vec<(ClientId, UserId)>,
    reply: Reply,
}

/// A document's new state, folding its log through `through_seq`.
struct Compact {
    doc: DocId,
    state: Vec<u8>,
    through_seq: i64,
    reply: Reply,
}

/// The one writer of documents: it takes every append waiting (from all rooms) and writes
/// them in one transaction, with one multi-row `INSERT` per table, then answers each.
/// SQLite has one writer at a time anyway; rooms that each committed their own batch
/// queued on SQLite's lock (busy handler sleeps of up to 100 ms) and paid a thread round
/// trip per statement and an fsync per batch. Compactions ride along, a few per
/// transaction, so that they never take the lock from the appends either. Should a group
/// fail, its jobs are retried one by one, so that one bad batch (say, a duplicate sequence
/// number) fails alone.
async fn write_jobs(pool: SqlitePool, mut jobs: mpsc::Receiver<Job>) {
    let mut received = Vec::with_capacity(MAX_GROUP);
    let mut appends = Vec::with_capacity(MAX_GROUP);
    let mut compactions = VecDeque::new();
    loop {
        if compactions.is_empty() {
            if jobs.recv_many(&mut received, MAX_GROUP).await == 0 {
                return;
            }
        } else {
            // Compactions are waiting: take what else came, but do not wait for more.
            while received.len() < MAX_GROUP
                && let Ok(job) = jobs.try_recv()
            {
                received.push(job);
            }
        }
        for job in received.drain(..) {
            match job {
                Job::Append(append) => appends.push(append),
                Job::Compact(compact) => compactions.push_back(compact),
            }
        }
        let take = compactions.len().min(COMPACTIONS_PER_GROUP);
        let compacting: Vec<Compact> = compactions.drain(..take).collect();
        if write_group(&pool, &appends, &compacting).await.is_ok() {
            for job in appends.drain(..) {
                let _ = job.reply.send(Ok(()));
            }
            for job in compacting {
                let _ = job.reply.send(Ok(()));
            }
            continue;
        }
        for job in appends.drain(..) {
            let result = write_group(&pool, std::slice::from_ref(&job), &[]).await;
            let _ = job.reply.send(result);
        }
        for job in compacting {
            let result = write_group(&pool, &[], std::slice::from_ref(&job)).await;
            let _ = job.reply.send(result);
        }
    }
}

/// Writes appends and compactions in one transaction, sent to SQLite's connection thread
/// as one query (`BEGIN`, the statements, `COMMIT`): one round trip per group instead of
/// one per statement, each a wake-up of that thread and of ours.
async fn write_group(
    pool: &SqlitePool,
    group: &[Append],
    compactions: &[Compact],
) -> Result<(), StorageError> {
    let now = now_millis();
    let bindings: Vec<(String, &(ClientId, UserId))> = group
        .iter()
        .flat_map(|job| job.bindings.iter().map(|b| (job.doc.to_string(), b)))
        .collect();
    let updates: Vec<(String, i64, &NewUpdate)> = group
        .iter()
        .flat_map(|job| {
            let doc = job.doc.to_string();
            (job.first_seq..)
                .zip(&job.updates)
                .map(move |(seq, update)| (doc.clone(), seq, update))
        })
        .collect();
    let deleting: Vec<&(String, i64, &NewUpdate)> =
        updates.iter().filter(|(_, _, u)| !u.deleted.is_empty()).collect();

    let mut query = QueryBuilder::new("BEGIN;");
    for rows in bindings.chunks(ROWS_PER_INSERT) {
        query.push(" INSERT INTO client_bindings (doc_id, client_id, user_id, created_at) ");
        query.push_values(rows, |mut row, (doc, (client, user))| {
            // Client IDs are at most 53 bits (checked by the validator), so they fit.
            row.push_bind(doc.as_str())
                .push_bind(client.get() as i64)
                .push_bind(user.as_str())
                .push_bind(now);
        });
        query.push(";");
    }
    for rows in updates.chunks(ROWS_PER_INSERT) {
        query.push(" INSERT INTO doc_updates (doc_id, seq, data, author, created_at) ");
        query.push_values(rows, |mut row, (doc, seq, update)| {
            row.push_bind(doc.as_str())
                .push_bind(*seq)
                .push_bind(update.data.as_slice())
                .push_bind(update.author.as_ref().map(UserId::as_str))
                .push_bind(now);
        });
        query.push(";");
    }
    for rows in deleting.chunks(ROWS_PER_INSERT) {
        query.push(" INSERT INTO doc_deletions (doc_id, seq, user_id, ranges) ");
        query.push_values(rows, |mut row, (doc, seq, update)| {
            row.push_bind(doc.as_str())
                .push_bind(*seq)
                .push_bind(update.author.as_ref().map(UserId::as_str))
                .push_bind(encode_ranges(&update.deleted));
        });
        query.push(";");
    }
    for compact in compactions {
        // A state older than the stored one is ignored; the log goes as far as the stored
        // state holds it, whichever state that is.
        let doc = compact.doc.to_string();
        query.push(" INSERT INTO doc_states (doc_id, state, seq, updated_at) VALUES (");
        query
            .separated(", ")
            .push_bind(doc.clone())
            .push_bind(compact.state.as_slice())
            .push_bind(compact.through_seq)
            .push_bind(now);
        query.push(
            ") ON CONFLICT (doc_id) DO UPDATE SET state = excluded.state, seq = excluded.seq,
                 updated_at = excluded.updated_at WHERE doc_states.seq < excluded.seq;",
        );
        query.push(" DELETE FROM doc_updates WHERE doc_id = ");
        query.push_bind(doc.clone());
        query.push(" AND seq <= (SELECT seq FROM doc_states WHERE doc_id = ");
        query.push_bind(doc);
        query.push(");");
    }
    query.push(" COMMIT;");

    let mut conn = pool.acquire().await?;
    if let Err(err) = query.build().execute(&mut *conn).await {
        // A statement failed after `BEGIN`: end the transaction here, so that the
        // connection goes back to the pool as it came. (Nothing to roll back when `BEGIN`
        // itself failed; that error is the one that counts.)
        let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
        return Err(err.into());
    }
    Ok(())
}

impl SqliteStore {
    /// Hands the writer a job and waits until it is written (or has failed).
    async fn submit(&self, job: impl FnOnce(Reply) -> Job) -> Result<(), StorageError> {
        let (reply, done) = oneshot::channel();
        self.writer
            .send(job(reply))
            .await
            .map_err(|_| StorageError::Closed)?;
        done.await.map_err(|_| StorageError::Closed)?
    }

    /// Opens (creating if needed) `samen.db` in `data_dir` and applies the migrations.
    pub async fn open_in(data_dir: &Path) -> Result<Self, StorageError> {
        std::fs::create_dir_all(data_dir)?;
        let options = SqliteConnectOptions::new().filename(data_dir.join("samen.db"));
        Self::open(options).await
    }

    /// The database's URL, for the relational data's connections to the same file.
    pub fn url(&self) -> String {
        self.options.to_url_lossy().to_string()
    }

    /// Opens the database at a `sqlite:` URL and applies the migrations.
    pub async fn open_url(url: &str) -> Result<Self, StorageError> {
        Self::open(SqliteConnectOptions::from_str(url)?).await
    }

    async fn open(options: SqliteConnectOptions) -> Result<Self, StorageError> {
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            // Statement journals in memory: every multi-row INSERT of the group commit
            // needs one (it may abort halfway), and in a temporary file they cost a write
            // and page zeroing per page touched (6% of the server's time at 4,000 editors).
            .pragma("temp_store", "memory");
        let pool = SqlitePoolOptions::new()
            .max_connections(POOL)
            .min_connections(POOL)
            // An embedded database has no link to lose: the check would be one more round
            // trip to the connection's thread for every query.
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await?;
        super::SQLITE_MIGRATIONS.run(&pool).await?;
        let (writer, jobs) = mpsc::channel(WRITER_QUEUE);
        tokio::spawn(write_jobs(pool.clone(), jobs));
        Ok(SqliteStore {
            pool,
            options,
            writer,
        })
    }
}

#[async_trait]
impl DocStore for SqliteStore {
    async fn read_since(&self, doc: DocId, after: i64) -> Result<StoredDoc, StorageError> {
        let id = doc.to_string();
        // One read transaction, so that a concurrent compaction is seen whole or not at all.
        let mut tx = self.pool.begin().await?;
        let doc = read_doc!(&mut *tx, &id, after);
        tx.commit().await?;
        Ok(doc)
    }

    /// A SQLite database serves one process (several nodes need PostgreSQL), with one
    /// room per document in it: the room's last number is the log's.
    async fn append(
        &self,
        doc: DocId,
        after: i64,
        updates: &[NewUpdate],
        bindings: &[(ClientId, UserId)],
    ) -> Result<i64, StorageError> {
        let first_seq = after + 1;
        self.submit(|reply| {
            Job::Append(Append {
                doc,
                first_seq,
                updates: updates.to_vec(),
                bindings: bindings.to_vec(),
                reply,
            })
        })
        .await?;
        Ok(first_seq)
    }

    async fn deletions(&self, doc: DocId) -> Result<Vec<Deletion>, StorageError> {
        let rows = sqlx::query_as(LOAD_DELETIONS)
            .bind(doc.to_string())
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(deletion).collect())
    }

    async fn compact(&self, doc: DocId, state: &[u8], through_seq: i64) -> Result<(), StorageError> {
        self.submit(|reply| {
            Job::Compact(Compact {
                doc,
                state: state.to_vec(),
                through_seq,
                reply,
            })
        })
        .await
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}

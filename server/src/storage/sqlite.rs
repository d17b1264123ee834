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
use sqlx::{QueryBuilder, Row, SqlitePool};
use tokio::sync::{mpsc, oneshot};

use super::{Deletion, DocStore, LogEntry, NewUpdate, StorageError, StoredDoc, now_millis};
use crate::ids::{RegistrationId, UserId};
use samen_crdt::ClientId;
use samen_crdt::validate::DeleteRange;

/// Documents in a SQLite database.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
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
    doc: RegistrationId,
    first_seq: i64,
    updates: Vec<NewUpdate>,
    bindings: Vec<(ClientId, UserId)>,
    reply: Reply,
}

/// A document's new state, folding its log through `through_seq`.
struct Compact {
    doc: RegistrationId,
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

    /// The connection pool (the relational data shares the database file).
    pub fn pool(&self) -> SqlitePool {
        self.pool.clone()
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
            .connect_with(options)
            .await?;
        sqlx::migrate!("../migrations/sqlite").run(&pool).await?;
        let (writer, jobs) = mpsc::channel(WRITER_QUEUE);
        tokio::spawn(write_jobs(pool.clone(), jobs));
        Ok(SqliteStore { pool, writer })
    }
}

#[async_trait]
impl DocStore for SqliteStore {
    async fn load(&self, doc: RegistrationId) -> Result<StoredDoc, StorageError> {
        let id = doc.to_string();
        // One read transaction, so that a concurrent compaction is seen whole or not at all.
        let mut tx = self.pool.begin().await?;
        let state = sqlx::query("SELECT state, seq FROM doc_states WHERE doc_id = ?")
            .bind(&id)
            .fetch_optional(&mut *tx)
            .await?;
        let (state, state_seq) = match state {
            Some(row) => (Some(row.try_get::<Vec<u8>, _>(0)?), row.try_get::<i64, _>(1)?),
            None => (None, 0),
        };
        let tail = sqlx::query("SELECT seq, data FROM doc_updates WHERE doc_id = ? AND seq > ? ORDER BY seq")
            .bind(&id)
            .bind(state_seq)
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .map(|row| {
                Ok(LogEntry {
                    seq: row.try_get(0)?,
                    data: row.try_get(1)?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        let bindings = sqlx::query("SELECT client_id, user_id FROM client_bindings WHERE doc_id = ?")
            .bind(&id)
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .map(|row| {
                let client: i64 = row.try_get(0)?;
                Ok((
                    ClientId::new(client as u64),
                    UserId::from(row.try_get::<String, _>(1)?),
                ))
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        tx.commit().await?;
        Ok(StoredDoc {
            state,
            state_seq,
            tail,
            bindings,
        })
    }

    async fn append(
        &self,
        doc: RegistrationId,
        first_seq: i64,
        updates: &[NewUpdate],
        bindings: &[(ClientId, UserId)],
    ) -> Result<(), StorageError> {
        self.submit(|reply| {
            Job::Append(Append {
                doc,
                first_seq,
                updates: updates.to_vec(),
                bindings: bindings.to_vec(),
                reply,
            })
        })
        .await
    }

    async fn deletions(&self, doc: RegistrationId) -> Result<Vec<Deletion>, StorageError> {
        let rows = sqlx::query("SELECT user_id, ranges FROM doc_deletions WHERE doc_id = ? ORDER BY seq")
            .bind(doc.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let author: Option<String> = row.try_get(0)?;
                let ranges: String = row.try_get(1)?;
                Ok(Deletion {
                    ranges: decode_ranges(&ranges),
                    author: author.map(UserId::from),
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StorageError::from)
    }

    async fn compact(&self, doc: RegistrationId, state: &[u8], through_seq: i64) -> Result<(), StorageError> {
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

/// Deleted ranges as JSON `[[client, clock, len], ...]`.
fn encode_ranges(ranges: &[DeleteRange]) -> String {
    let list: Vec<(ClientId, u32, u32)> = ranges.iter().map(|r| (r.client, r.clock, r.len)).collect();
    serde_json::to_string(&list).unwrap_or_else(|_| "[]".into())
}

/// The ranges [`encode_ranges`] wrote; a row that does not parse (never written by us)
/// reads as no ranges rather than failing every diff.
fn decode_ranges(json: &str) -> Vec<DeleteRange> {
    serde_json::from_str::<Vec<(ClientId, u32, u32)>>(json)
        .unwrap_or_default()
        .into_iter()
        .map(|(client, clock, len)| DeleteRange { client, clock, len })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(byte: u8) -> NewUpdate {
        NewUpdate {
            data: vec![byte],
            author: None,
            deleted: Vec::new(),
        }
    }

    async fn store() -> (SqliteStore, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SqliteStore::open_in(dir.path()).await.expect("open");
        (store, dir)
    }

    #[tokio::test]
    async fn unknown_documents_are_empty() {
        let (store, _dir) = store().await;
        let doc = store.load(RegistrationId::new()).await.expect("load");
        assert!(doc.state.is_none());
        assert!(doc.tail.is_empty());
        assert_eq!(doc.last_seq(), 0);
    }

    #[tokio::test]
    async fn appended_updates_load_in_order_and_compaction_folds_them() {
        let (store, _dir) = store().await;
        let id = RegistrationId::new();
        store
            .append(id, 1, &[update(1), update(2)], &[])
            .await
            .expect("append");
        store.append(id, 3, &[update(3)], &[]).await.expect("append");
        let doc = store.load(id).await.expect("load");
        assert_eq!(doc.tail.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(doc.tail[2].data, [3]);

        store.compact(id, b"state-2", 2).await.expect("compact");
        let doc = store.load(id).await.expect("load");
        assert_eq!(doc.state.as_deref(), Some(&b"state-2"[..]));
        assert_eq!(doc.state_seq, 2);
        assert_eq!(doc.tail.iter().map(|e| e.seq).collect::<Vec<_>>(), [3]);
        assert_eq!(doc.last_seq(), 3);

        // An older compaction arriving late changes nothing.
        store.compact(id, b"state-1", 1).await.expect("compact");
        let doc = store.load(id).await.expect("load");
        assert_eq!(doc.state.as_deref(), Some(&b"state-2"[..]));
        assert_eq!(doc.tail.len(), 1);
    }

    #[tokio::test]
    async fn a_duplicate_sequence_number_is_refused_whole() {
        let (store, _dir) = store().await;
        let id = RegistrationId::new();
        store.append(id, 1, &[update(1)], &[]).await.expect("append");
        assert!(store.append(id, 2, &[update(2), update(9)], &[]).await.is_ok());
        assert!(store.append(id, 3, &[update(3), update(4)], &[]).await.is_err());
        let doc = store.load(id).await.expect("load");
        assert_eq!(doc.tail.len(), 3, "the failed batch left nothing behind");
        // The failed transaction was ended: writing goes on.
        for seq in 4..8 {
            let batch = [update(seq as u8)];
            tokio::time::timeout(Duration::from_secs(5), store.append(id, seq, &batch, &[]))
                .await
                .expect("not stuck behind an open transaction")
                .expect("a write after a failed one");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn appends_of_many_documents_are_grouped_and_a_bad_one_fails_alone() {
        let (store, _dir) = store().await;
        let taken = RegistrationId::new();
        store.append(taken, 1, &[update(1)], &[]).await.expect("append");
        let docs: Vec<RegistrationId> = (0..40).map(|_| RegistrationId::new()).collect();
        let mut tasks = Vec::new();
        for (i, doc) in docs.iter().enumerate() {
            let (store, doc) = (store.clone(), *doc);
            let user = UserId::from(format!("u{i}"));
            tasks.push(tokio::spawn(async move {
                let deleting = NewUpdate {
                    data: vec![2],
                    author: Some(user.clone()),
                    deleted: vec![DeleteRange {
                        client: ClientId::new(i as u64),
                        clock: 0,
                        len: 3,
                    }],
                };
                // (Bindings refer to users, which this store test has none of.)
                store.append(doc, 1, &[update(1), deleting], &[]).await
            }));
        }
        // Sent among the others: a sequence number that is taken.
        let bad = {
            let store = store.clone();
            tokio::spawn(async move { store.append(taken, 1, &[update(9)], &[]).await })
        };
        for task in tasks {
            task.await.expect("task").expect("a good append succeeds");
        }
        assert!(bad.await.expect("task").is_err(), "the duplicate fails");
        for (i, doc) in docs.iter().enumerate() {
            let loaded = store.load(*doc).await.expect("load");
            assert_eq!(loaded.tail.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2]);
            let deletions = store.deletions(*doc).await.expect("deletions");
            assert_eq!(deletions.len(), 1);
            assert_eq!(
                deletions[0].ranges,
                [DeleteRange {
                    client: ClientId::new(i as u64),
                    clock: 0,
                    len: 3
                }]
            );
        }
        assert_eq!(
            store.load(taken).await.expect("load").tail[0].data,
            [1],
            "unchanged"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn compactions_sent_together_are_all_written_beside_appends() {
        let (store, _dir) = store().await;
        // More than one transaction takes, so that some wait for later ones.
        let docs: Vec<RegistrationId> = (0..5 * COMPACTIONS_PER_GROUP)
            .map(|_| RegistrationId::new())
            .collect();
        for doc in &docs {
            store
                .append(*doc, 1, &[update(1), update(2)], &[])
                .await
                .expect("append");
        }
        let taken = RegistrationId::new();
        store.append(taken, 1, &[update(1)], &[]).await.expect("append");
        let mut tasks = Vec::new();
        for doc in docs.iter().copied() {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let next = [update(3)];
                let (compacted, appended) =
                    tokio::join!(store.compact(doc, b"state", 2), store.append(doc, 3, &next, &[]));
                compacted.and(appended)
            }));
        }
        // Sent among them, a sequence number that is taken (in a document nobody compacts):
        // its group fails and is retried job by job.
        let bad = store.append(taken, 1, &[update(9)], &[]).await;
        for task in tasks {
            tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .expect("no compaction left waiting")
                .expect("task")
                .expect("compactions and appends succeed");
        }
        assert!(bad.is_err(), "the duplicate fails");
        for doc in &docs {
            let loaded = store.load(*doc).await.expect("load");
            assert_eq!(loaded.state.as_deref(), Some(&b"state"[..]));
            assert_eq!(loaded.state_seq, 2);
            assert_eq!(loaded.tail.iter().map(|e| e.seq).collect::<Vec<_>>(), [3]);
        }
    }

    #[tokio::test]
    async fn data_survives_reopening() {
        let dir = tempfile::tempdir().expect("temp dir");
        let id = RegistrationId::new();
        {
            let store = SqliteStore::open_in(dir.path()).await.expect("open");
            store.append(id, 1, &[update(7)], &[]).await.expect("append");
            store.close().await;
        }
        let store = SqliteStore::open_in(dir.path()).await.expect("reopen");
        assert_eq!(store.load(id).await.expect("load").tail[0].data, [7]);
    }
}

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
    Deletion, DocStore, LOAD_DELETIONS, NewUpdate, SqlValue, SqlWrite, StorageError, StoredDoc, deletion,
    encode_ranges, now_millis,
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
    writer: SqliteWriter,
}

/// Hands work to the one writer of a SQLite file ([`write_jobs`]): the document store's,
/// and the relational data's writes that come often beside the editors' updates (the
/// search index). Those ride the next group commit: a write of their own would take
/// SQLite's write lock from it, and a group commit that finds the lock taken sleeps in
/// SQLite's busy handler (1, 2, 5, 10 … ms) instead of being woken when it is free. At the
/// benchmark's point (b), 100 rooms indexing every 3 s with writes of their own made the
/// editors' p99 60–100 ms; without the index it was 11 ms.
#[derive(Debug, Clone)]
pub struct SqliteWriter(mpsc::Sender<Job>);

impl SqliteWriter {
    /// Writes `writes` in one transaction with the next group of appends; fails alone
    /// (nothing of it is written) when a statement fails.
    pub async fn write(&self, writes: Vec<SqlWrite>) -> Result<(), StorageError> {
        self.submit(|reply| Job::Along(Along { writes, reply })).await
    }

    /// Hands the writer a job and waits until it is written (or has failed).
    async fn submit(&self, job: impl FnOnce(Reply) -> Job) -> Result<(), StorageError> {
        let (reply, done) = oneshot::channel();
        self.0.send(job(reply)).await.map_err(|_| StorageError::Closed)?;
        done.await.map_err(|_| StorageError::Closed)?
    }
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
/// Compactions written in one transaction when no append waits (a server closing its
/// rooms, or a quiet moment): nothing is held up, and every transaction is an fsync.
/// Bounded in bytes too, so that an append arriving meanwhile waits for little.
const COMPACTIONS_ALONE: usize = 64;
/// The states' bytes a transaction of compactions alone writes at most (a single larger
/// state still goes, alone).
const COMPACTION_BYTES_ALONE: usize = 4 << 20;
/// Rows per multi-row `INSERT` (5 values each, far below SQLite's 32,766 variables).
const ROWS_PER_INSERT: usize = 500;

/// Work for the writer.
enum Job {
    Append(Append),
    Compact(Compact),
    Along(Along),
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

/// Relational writes to ride a group commit ([`SqliteWriter::write`]).
struct Along {
    writes: Vec<SqlWrite>,
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
    let mut alongs = Vec::new();
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
                Job::Along(along) => alongs.push(along),
            }
        }
        let take = compactions_to_take(&compactions, appends.is_empty() && alongs.is_empty());
        let compacting: Vec<Compact> = compactions.drain(..take).collect();
        if write_group(&pool, &appends, &compacting, &alongs).await.is_ok() {
            let replies = appends.drain(..).map(|j| j.reply);
            let replies = replies.chain(compacting.into_iter().map(|j| j.reply));
            for reply in replies.chain(alongs.drain(..).map(|j| j.reply)) {
                let _ = reply.send(Ok(()));
            }
            continue;
        }
        for job in appends.drain(..) {
            let result = write_group(&pool, std::slice::from_ref(&job), &[], &[]).await;
            let _ = job.reply.send(result);
        }
        for job in compacting {
            let result = write_group(&pool, &[], std::slice::from_ref(&job), &[]).await;
            let _ = job.reply.send(result);
        }
        for job in alongs.drain(..) {
            let result = write_group(&pool, &[], &[], std::slice::from_ref(&job)).await;
            let _ = job.reply.send(result);
        }
    }
}

/// How many of the waiting compactions the next transaction writes: a few beside appends,
/// more when none wait (at least one, whatever its size).
fn compactions_to_take(waiting: &VecDeque<Compact>, alone: bool) -> usize {
    if !alone {
        return waiting.len().min(COMPACTIONS_PER_GROUP);
    }
    let mut bytes = 0;
    let fitting = waiting
        .iter()
        .take(COMPACTIONS_ALONE)
        .take_while(|c| {
            bytes += c.state.len();
            bytes <= COMPACTION_BYTES_ALONE
        })
        .count();
    fitting.max(1).min(waiting.len())
}

/// Writes appends and compactions in one transaction, sent to SQLite's connection thread
/// as one query (`BEGIN`, the statements, `COMMIT`): one round trip per group instead of
/// one per statement, each a wake-up of that thread and of ours.
async fn write_group(
    pool: &SqlitePool,
    group: &[Append],
    compactions: &[Compact],
    alongs: &[Along],
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
        // Before the state moves: the rows to fold are those after the stored state's.
        for write in fold_deletions(&doc, compact.through_seq) {
            push_write(&mut query, &write);
        }
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
    for write in alongs.iter().flat_map(|along| &along.writes) {
        push_write(&mut query, write);
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

/// The deletion rows after the stored state and through `through_seq` (those of the
/// updates a compaction folds), folded into one row per author: the ranges of all, at the
/// first row's sequence number. Each deleting update wrote a row, and kept forever they
/// were three quarters of the database after half an hour of the benchmark's point (b);
/// the versions read deletions as a map from item to author, which folding keeps whole.
/// Folding folded rows again changes nothing.
fn fold_deletions(doc: &str, through_seq: i64) -> [SqlWrite; 2] {
    let text = || SqlValue::Text(doc.to_owned());
    [
        SqlWrite {
            sql: "INSERT INTO doc_deletions (doc_id, seq, user_id, ranges)
                  SELECT d.doc_id, min(d.seq), d.user_id, json_group_array(json(r.value))
                  FROM doc_deletions d, json_each(d.ranges) r
                  WHERE d.doc_id = ? AND d.seq <= ?
                    AND d.seq > coalesce((SELECT seq FROM doc_states WHERE doc_id = ?), 0)
                  GROUP BY d.user_id
                  ON CONFLICT (doc_id, seq) DO UPDATE SET ranges = excluded.ranges",
            values: vec![text(), SqlValue::Int(through_seq), text()],
        },
        SqlWrite {
            sql: "DELETE FROM doc_deletions
                  WHERE doc_id = ? AND seq <= ?
                    AND seq > coalesce((SELECT seq FROM doc_states WHERE doc_id = ?), 0)
                    AND seq NOT IN (
                      SELECT min(seq) FROM doc_deletions
                      WHERE doc_id = ? AND seq <= ?
                        AND seq > coalesce((SELECT seq FROM doc_states WHERE doc_id = ?), 0)
                      GROUP BY user_id)",
            values: vec![
                text(),
                SqlValue::Int(through_seq),
                text(),
                text(),
                SqlValue::Int(through_seq),
                text(),
            ],
        },
    ]
}

/// Adds `write` to the group's query, its values bound where its `?`s stand.
fn push_write(query: &mut QueryBuilder<sqlx::Sqlite>, write: &SqlWrite) {
    query.push(" ");
    let mut values = write.values.iter();
    for (i, piece) in write.sql.split('?').enumerate() {
        if i > 0 {
            match values.next() {
                Some(SqlValue::Text(text)) => query.push_bind(text.clone()),
                Some(SqlValue::Int(n)) => query.push_bind(*n),
                Some(SqlValue::Real(x)) => query.push_bind(*x),
                Some(SqlValue::Null) | None => query.push_bind(None::<i64>),
            };
        }
        query.push(piece);
    }
    query.push(";");
}

impl SqliteStore {
    /// The writer, for the relational data's writes that ride the group commit.
    pub fn writer(&self) -> SqliteWriter {
        self.writer.clone()
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
            writer: SqliteWriter(writer),
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
        self.writer
            .submit(|reply| {
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
        self.writer
            .submit(|reply| {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn waiting(sizes: &[usize]) -> VecDeque<Compact> {
        sizes
            .iter()
            .map(|&n| Compact {
                doc: DocId::new(),
                state: vec![0; n],
                through_seq: 1,
                reply: oneshot::channel().0,
            })
            .collect()
    }

    #[test]
    fn a_few_compactions_ride_beside_appends_and_many_go_alone_within_a_byte_bound() {
        assert_eq!(
            compactions_to_take(&waiting(&[10; 100]), false),
            COMPACTIONS_PER_GROUP
        );
        assert_eq!(compactions_to_take(&waiting(&[10; 100]), true), COMPACTIONS_ALONE);
        assert_eq!(compactions_to_take(&waiting(&[10; 3]), true), 3);
        let mib = 1 << 20;
        assert_eq!(
            compactions_to_take(&waiting(&[mib; 10]), true),
            4,
            "4 MiB at most"
        );
        assert_eq!(
            compactions_to_take(&waiting(&[10 * mib, 10]), true),
            1,
            "a larger state still goes, alone"
        );
        assert_eq!(compactions_to_take(&waiting(&[]), true), 0);
    }

    fn key(name: &str, value: SqlValue) -> SqlWrite {
        SqlWrite {
            sql: "INSERT INTO server_keys (name, value) VALUES (?, ?)",
            values: vec![SqlValue::Text(name.into()), value],
        }
    }

    /// Relational writes ride the group commit beside appends; one that fails fails alone,
    /// whole, and the appends and the other writes of its group are written.
    #[tokio::test]
    async fn writes_along_the_group_commit_fail_alone_and_whole() {
        let dir = tempfile::tempdir().expect("dir");
        let store = SqliteStore::open_in(dir.path()).await.expect("open");
        let writer = store.writer();
        let doc = DocId::new();
        let update = NewUpdate {
            data: vec![1],
            author: None,
            deleted: Vec::new(),
        };
        let (appended, good, bad) = tokio::join!(
            store.append(doc, 0, std::slice::from_ref(&update), &[]),
            writer.write(vec![
                key("a", SqlValue::Text("1".into())),
                key("b", SqlValue::Text("2".into()))
            ]),
            // Its second statement breaks a constraint (NOT NULL): neither is kept.
            writer.write(vec![
                key("c", SqlValue::Text("3".into())),
                key("d", SqlValue::Null)
            ]),
        );
        assert_eq!(appended.expect("append"), 1);
        good.expect("the good writes");
        assert!(bad.is_err(), "the bad one fails");
        let keys: Vec<(String, String)> = sqlx::query_as("SELECT name, value FROM server_keys ORDER BY name")
            .fetch_all(&store.pool)
            .await
            .expect("read");
        assert_eq!(keys, [("a".into(), "1".into()), ("b".into(), "2".into())]);
        assert_eq!(store.load(doc).await.expect("load").tail.len(), 1);
    }
}

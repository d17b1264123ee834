//! The PostgreSQL engine: the production database, and the one several server nodes share.
//!
//! Appends go through one writer task per node, as on SQLite ([`write_appends`]): it
//! writes the batches of all rooms that are waiting in one transaction, one statement per
//! table (`UNNEST` over arrays). A transaction per room batch cost PostgreSQL a backend
//! wake-up per statement and a commit per batch, and under load its CPU was the bottleneck.
//!
//! Several nodes may share the database (see "Several nodes" in docs/architecture.md): an
//! append takes its sequence numbers from the document's head row and tells the other
//! nodes (`pg_notify`) in its own transaction, so the notice goes out only with the rows.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool};
use tokio::sync::{mpsc, oneshot};

use super::{
    Deletion, DocStore, LOAD_DELETIONS, NewUpdate, Notice, StorageError, StoredBatch, StoredDoc, Topic,
    deletion, encode_ranges, now_millis,
};
use crate::ids::{DocId, UserId};
use samen_crdt::ClientId;

/// Connections per node: rooms append concurrently, and handlers read beside them.
const POOL: u32 = 16;
/// The channel appends notify on ([`StoredNews`] as JSON).
const STORED: &str = "samen_doc";
/// The channels of what nodes tell ([`Topic`]): `node:body`.
const PRESENCE: &str = "samen_presence";
/// See [`PRESENCE`].
const EVENTS: &str = "samen_events";
/// See [`PRESENCE`].
const LOGINS: &str = "samen_logins";
/// See [`PRESENCE`].
const SOCKETS: &str = "samen_sockets";
/// See [`PRESENCE`].
const VIEWERS: &str = "samen_viewers";
/// See [`PRESENCE`].
const WRITES: &str = "samen_writes";
/// See [`PRESENCE`].
const USAGE: &str = "samen_usage";
/// See [`PRESENCE`].
const NAMES: &str = "samen_names";
const FILES: &str = "samen_files";
/// PostgreSQL's limit on a notice's payload is 8,000 bytes; a larger one is not told.
const MAX_TOLD: usize = 7900;
/// Things to tell waiting for the database before more are dropped.
const TELL_QUEUE: usize = 4096;
/// Notices waiting for the rooms before the listener waits.
const NOTICE_QUEUE: usize = 4096;

/// Room batches written in one statement at most.
const MAX_GROUP: usize = 256;
/// Batches waiting for the writer before rooms wait to hand over more.
const WRITER_QUEUE: usize = 4096;

/// Documents in a PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    /// The writer of appends (see [`write_appends`]).
    writer: mpsc::Sender<Append>,
    /// This process among the nodes (random per start): its own notices are not news.
    node: Arc<str>,
    /// What to tell the other nodes, for [`tell_all`].
    told: mpsc::Sender<(Topic, String)>,
    /// How to connect (the leases' own connection).
    options: PgConnectOptions,
    /// The housekeeping leases this node holds.
    leases: Arc<tokio::sync::Mutex<Leases>>,
}

impl Topic {
    fn channel(self) -> &'static str {
        match self {
            Topic::Presence => PRESENCE,
            Topic::Events => EVENTS,
            Topic::Logins => LOGINS,
            Topic::Sockets => SOCKETS,
            Topic::Viewers => VIEWERS,
            Topic::Writes => WRITES,
            Topic::Usage => USAGE,
            Topic::Names => NAMES,
            Topic::Files => FILES,
        }
    }
}

impl PgStore {
    /// Connects to the database at a `postgres://` URL and applies the migrations.
    pub async fn open_url(url: &str) -> Result<Self, StorageError> {
        let options: PgConnectOptions = url.parse()?;
        let pool = PgPoolOptions::new()
            .max_connections(POOL)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options.clone())
            .await?;
        super::POSTGRES_MIGRATIONS.run(&pool).await?;
        let node: Arc<str> = format!("{:016x}", fastrand::u64(..)).into();
        let (told, telling) = mpsc::channel(TELL_QUEUE);
        tokio::spawn(tell_all(pool.clone(), node.clone(), telling));
        let (writer, appends) = mpsc::channel(WRITER_QUEUE);
        tokio::spawn(write_appends(pool.clone(), node.clone(), appends));
        Ok(PgStore {
            pool,
            writer,
            node,
            told,
            options,
            leases: Arc::default(),
        })
    }
}

/// Sends what this node tells, in order, as many at a time as are waiting (one statement).
async fn tell_all(pool: PgPool, node: Arc<str>, mut told: mpsc::Receiver<(Topic, String)>) {
    let mut waiting = Vec::new();
    while told.recv_many(&mut waiting, 256).await > 0 {
        let (channels, bodies): (Vec<&str>, Vec<String>) = waiting
            .drain(..)
            .map(|(topic, body)| (topic.channel(), format!("{node}:{body}")))
            .unzip();
        let sent = sqlx::query("SELECT pg_notify(c, b) FROM UNNEST($1::text[], $2::text[]) AS t (c, b)")
            .bind(&channels)
            .bind(&bodies)
            .execute(&pool)
            .await;
        if let Err(err) = sent {
            // Presence and events are not stored: what is lost here, others miss, as
            // they would have had they been away.
            tracing::debug!(error = %err, "could not tell the other nodes");
        }
    }
}

/// Listens for other nodes' notices and hands them to `notices`, until that closes or the
/// pool does (shutdown). Whenever the listening connection is new (at start, after it
/// dropped, after PostgreSQL restarted), notices may have gone by unheard: `Missed` says so.
async fn listen(pool: PgPool, node: Arc<str>, notices: mpsc::Sender<Notice>) {
    let mut pause = Duration::from_millis(100);
    loop {
        let heard = async {
            let mut listener = PgListener::connect_with(&pool).await?;
            listener
                .listen_all([
                    STORED, PRESENCE, EVENTS, LOGINS, SOCKETS, VIEWERS, WRITES, USAGE, NAMES, FILES,
                ])
                .await?;
            if notices.send(Notice::Missed).await.is_err() {
                return Ok(());
            }
            loop {
                let notice = match listener.try_recv().await? {
                    // The connection dropped and is back (`eager_reconnect`).
                    None => Some(Notice::Missed),
                    Some(n) => notice(n.channel(), n.payload(), &node),
                };
                if let Some(notice) = notice
                    && notices.send(notice).await.is_err()
                {
                    return Ok(());
                }
            }
        };
        let result: Result<(), sqlx::Error> = tokio::select! {
            result = heard => result,
            () = notices.closed() => return,
        };
        match result {
            Ok(()) | Err(sqlx::Error::PoolClosed) => return,
            Err(err) => {
                tracing::warn!(error = %err, "lost the database's notices; listening again");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// A notice from another node (this node's own are not news to it).
fn notice(channel: &str, payload: &str, node: &str) -> Option<Notice> {
    let topic = match channel {
        STORED => {
            // This node hears its own appends too: known by the node's id, before the
            // batch is parsed (no base64 or user id holds a quote, so the marker is exact).
            if payload.contains(&format!(",\"node\":\"{node}\"")) {
                return None;
            }
            let news: StoredNews = serde_json::from_str(payload).ok()?;
            if news.node == node {
                return None;
            }
            // A batch that does not decode is read instead.
            let batch = news.updates.and_then(|updates| {
                let updates = updates
                    .iter()
                    .map(|u| BASE64.decode(u))
                    .collect::<Result<Vec<_>, _>>()
                    .ok()?;
                let bindings = news
                    .bindings
                    .into_iter()
                    .map(|(client, user)| (client, UserId::from(user)))
                    .collect();
                Some(Box::new(StoredBatch {
                    first: news.first,
                    updates,
                    bindings,
                }))
            });
            return Some(Notice::Stored {
                doc: news.doc,
                seq: news.last,
                batch,
            });
        }
        PRESENCE => Topic::Presence,
        EVENTS => Topic::Events,
        LOGINS => Topic::Logins,
        SOCKETS => Topic::Sockets,
        VIEWERS => Topic::Viewers,
        WRITES => Topic::Writes,
        USAGE => Topic::Usage,
        NAMES => Topic::Names,
        FILES => Topic::Files,
        _ => return None,
    };
    let (from, body) = payload.split_once(':')?;
    (from != node).then(|| Notice::Told {
        from: from.to_owned(),
        topic,
        body: body.to_owned(),
    })
}

/// What a group that took no head row for one of its documents fails with (the head
/// upsert returns one row per document, so this is never seen).
const NO_HEAD: sqlx::Error = sqlx::Error::RowNotFound;

/// One room's batch to append, and where its first sequence number (or error) goes.
struct Append {
    doc: DocId,
    updates: Vec<NewUpdate>,
    bindings: Vec<(ClientId, UserId)>,
    reply: oneshot::Sender<Result<i64, StorageError>>,
}

/// The writer of appends: it takes every batch waiting (from all rooms) and writes them in
/// one statement ([`write_group`]), then answers each. Should a group fail, its batches
/// are written one by one, so that one bad batch (a client ID another node bound to
/// someone else) fails alone. (Two groups in flight at once were tried: no lower latency
/// at (b) or (c) on the 2-core machine, see docs/performance.md.)
async fn write_appends(pool: PgPool, node: Arc<str>, mut appends: mpsc::Receiver<Append>) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    while appends.recv_many(&mut group, MAX_GROUP).await > 0 {
        write_and_answer(&pool, &node, std::mem::take(&mut group)).await;
    }
}

/// Writes a group and answers each of its batches.
async fn write_and_answer(pool: &PgPool, node: &str, mut group: Vec<Append>) {
    match write_group(pool, node, &group).await {
        Ok(firsts) => {
            for (append, first) in group.drain(..).zip(firsts) {
                let _ = append.reply.send(Ok(first));
            }
        }
        Err(err) if group.len() == 1 => {
            if let Some(append) = group.pop() {
                let _ = append.reply.send(Err(err));
            }
        }
        Err(_) => {
            for append in group.drain(..) {
                let result = write_group(pool, node, std::slice::from_ref(&append)).await;
                let first = result.and_then(|firsts| firsts.first().copied().ok_or(NO_HEAD.into()));
                let _ = append.reply.send(first);
            }
        }
    }
}

/// Appends the batches of `group` in one statement (so one round trip and one commit);
/// returns each one's first sequence number. Each document's numbers come from its head
/// row, taken in document order (so that two nodes writing the same documents wait for
/// each other rather than deadlock); the rows are numbered from what the head returned,
/// and the notices (`pg_notify`) go out with the commit. A client ID bound to another
/// user makes the statement fail as a whole ([`TAKEN`]).
async fn write_group(pool: &PgPool, node: &str, group: &[Append]) -> Result<Vec<i64>, StorageError> {
    let columns = Columns::of(group, node);
    let rows: Vec<(String, i64)> = sqlx::query_as(APPEND_GROUP)
        .bind(&columns.docs)
        .bind(&columns.counts)
        .bind(&columns.bound.docs)
        .bind(&columns.bound.clients)
        .bind(&columns.bound.users)
        .bind(&columns.rows.docs)
        .bind(&columns.rows.offsets)
        .bind(&columns.rows.data)
        .bind(&columns.rows.authors)
        .bind(&columns.rows.deleted.docs)
        .bind(&columns.rows.deleted.offsets)
        .bind(&columns.rows.deleted.authors)
        .bind(&columns.rows.deleted.ranges)
        .bind(&columns.told.docs)
        .bind(&columns.told.offsets)
        .bind(&columns.told.lens)
        .bind(&columns.told.rest)
        .bind(now_millis())
        .fetch_all(pool)
        .await
        .map_err(|err| match &err {
            sqlx::Error::Database(db) if db.code().as_deref() == Some(TAKEN) => StorageError::ClientIdTaken,
            _ => err.into(),
        })?;
    let firsts: HashMap<String, i64> = rows.into_iter().collect();
    group
        .iter()
        .zip(&columns.offsets)
        .map(|(append, offset)| {
            let first = firsts.get(&append.doc.to_string()).ok_or(NO_HEAD)?;
            Ok(first + offset)
        })
        .collect()
}

/// The SQLSTATE of `samen_client_id_taken` (migrations/postgres).
const TAKEN: &str = "SA409";

/// One group of appends as one statement. `counts`: how many numbers each document takes;
/// every row then names its document and its offset among that document's new numbers.
/// What was already bound is read as of the statement's start: a binding neither made now
/// nor already the same user's is another user's, or one another node made meanwhile
/// (then the batch is refused too, and written alone it finds out which).
const APPEND_GROUP: &str = r#"
WITH counts AS (
    SELECT d, n FROM UNNEST($1::text[], $2::bigint[]) AS c (d, n)
), heads AS (
    INSERT INTO doc_heads (doc_id, last_seq)
    SELECT d, n FROM counts ORDER BY d
    ON CONFLICT (doc_id) DO UPDATE SET last_seq = doc_heads.last_seq + excluded.last_seq
    RETURNING doc_id, last_seq
), firsts AS (
    SELECT h.doc_id AS d, h.last_seq - c.n + 1 AS first FROM heads h JOIN counts c ON c.d = h.doc_id
), wanted AS (
    SELECT d, c, u FROM UNNEST($3::text[], $4::bigint[], $5::text[]) AS w (d, c, u)
), bound AS (
    INSERT INTO client_bindings (doc_id, client_id, user_id, created_at)
    SELECT d, c, u, $18 FROM wanted
    ON CONFLICT (doc_id, client_id) DO NOTHING
    RETURNING doc_id, client_id
), taken AS (
    SELECT count(*) AS n FROM wanted w
    WHERE NOT EXISTS (SELECT 1 FROM bound b WHERE b.doc_id = w.d AND b.client_id = w.c)
      AND NOT EXISTS (SELECT 1 FROM client_bindings cb
                      WHERE cb.doc_id = w.d AND cb.client_id = w.c AND cb.user_id = w.u)
), updates AS (
    INSERT INTO doc_updates (doc_id, seq, data, author, created_at)
    SELECT u.d, f.first + u.k, u.b, u.a, $18
    FROM UNNEST($6::text[], $7::bigint[], $8::bytea[], $9::text[]) AS u (d, k, b, a)
    JOIN firsts f ON f.d = u.d
), deletions AS (
    INSERT INTO doc_deletions (doc_id, seq, user_id, ranges)
    SELECT x.d, f.first + x.k, x.a, x.r
    FROM UNNEST($10::text[], $11::bigint[], $12::text[], $13::text[]) AS x (d, k, a, r)
    JOIN firsts f ON f.d = x.d
), notices AS (
    SELECT pg_notify('samen_doc', format('{"doc":"%s","first":%s,"last":%s%s',
                                         o.d, o.first + o.k, o.first + o.k + o.len - 1, o.rest)) AS sent
    FROM (SELECT n.d, n.k, n.len, n.rest, f.first, n.i
          FROM UNNEST($14::text[], $15::bigint[], $16::bigint[], $17::text[]) WITH ORDINALITY
               AS n (d, k, len, rest, i)
          JOIN firsts f ON f.d = n.d
          ORDER BY n.i) AS o
)
SELECT f.d, f.first + 0 * (SELECT count(*) FROM notices)
                    + (SELECT CASE WHEN t.n > 0 THEN samen_client_id_taken(t.n) ELSE 0 END FROM taken t)
FROM firsts f
"#;

/// A group of appends as the columns of [`APPEND_GROUP`].
#[derive(Default)]
struct Columns<'a> {
    /// The documents, in order, and how many numbers each takes.
    docs: Vec<String>,
    counts: Vec<i64>,
    /// Each append's offset among its document's new numbers.
    offsets: Vec<i64>,
    bound: Binds<'a>,
    rows: Rows<'a>,
    told: Told,
}

impl<'a> Columns<'a> {
    fn of(group: &'a [Append], node: &str) -> Self {
        let mut columns = Columns::default();
        let mut counts: BTreeMap<String, i64> = BTreeMap::new();
        for append in group {
            let doc = append.doc.to_string();
            let taken = counts.entry(doc.clone()).or_default();
            let offset = *taken;
            *taken += append.updates.len() as i64;
            columns.offsets.push(offset);
            for (client, user) in &append.bindings {
                columns.bound.docs.push(doc.clone());
                // Client IDs are at most 53 bits (checked by the validator), so they fit.
                columns.bound.clients.push(client.get() as i64);
                columns.bound.users.push(user.as_str());
            }
            for (k, update) in (offset..).zip(&append.updates) {
                columns.rows.push(&doc, k, update);
            }
            if !append.updates.is_empty() {
                columns.told.docs.push(doc);
                columns.told.offsets.push(offset);
                columns.told.lens.push(append.updates.len() as i64);
                columns
                    .told
                    .rest
                    .push(StoredNews::rest(node, &append.updates, &append.bindings));
            }
        }
        (columns.docs, columns.counts) = counts.into_iter().unzip();
        columns
    }
}

/// The client-ID bindings of a group, as columns.
#[derive(Default)]
struct Binds<'a> {
    docs: Vec<String>,
    clients: Vec<i64>,
    users: Vec<&'a str>,
}

/// The update rows of a group, as columns, and the deletion rows of those that deleted.
#[derive(Default)]
struct Rows<'a> {
    docs: Vec<String>,
    offsets: Vec<i64>,
    data: Vec<&'a [u8]>,
    authors: Vec<Option<&'a str>>,
    deleted: Deleted<'a>,
}

/// The deletion rows of a group, as columns.
#[derive(Default)]
struct Deleted<'a> {
    docs: Vec<String>,
    offsets: Vec<i64>,
    authors: Vec<Option<&'a str>>,
    ranges: Vec<String>,
}

/// The notices of a group's appends, as columns: document, offset, number of updates,
/// and the rest of the payload after the numbers.
#[derive(Default)]
struct Told {
    docs: Vec<String>,
    offsets: Vec<i64>,
    lens: Vec<i64>,
    rest: Vec<String>,
}

impl<'a> Rows<'a> {
    fn push(&mut self, doc: &str, offset: i64, update: &'a NewUpdate) {
        let author = update.author.as_ref().map(UserId::as_str);
        self.docs.push(doc.to_owned());
        self.offsets.push(offset);
        self.data.push(&update.data);
        self.authors.push(author);
        if !update.deleted.is_empty() {
            self.deleted.docs.push(doc.to_owned());
            self.deleted.offsets.push(offset);
            self.deleted.authors.push(author);
            self.deleted.ranges.push(encode_ranges(&update.deleted));
        }
    }
}

/// The notice of an append: which numbers it took, and the batch itself (base64) when
/// it fits in a notice, so that the other nodes need not read it.
#[derive(Debug, Serialize, Deserialize)]
struct StoredNews {
    doc: DocId,
    first: i64,
    last: i64,
    node: String,
    #[serde(default)]
    updates: Option<Vec<String>>,
    #[serde(default)]
    bindings: Vec<(ClientId, String)>,
}

/// The room [`StoredNews::rest`] leaves for the document and the numbers, which the
/// database puts in front (`{"doc":"<uuid>","first":<n>,"last":<n>`, at most 100 bytes).
const NUMBERS_ROOM: usize = 100;

impl StoredNews {
    /// The payload of a notice after its numbers (which `APPEND_GROUP` writes in front):
    /// the node and, when they fit in a notice, the updates (base64) and `bindings`.
    fn rest(node: &str, updates: &[NewUpdate], bindings: &[(ClientId, UserId)]) -> String {
        #[derive(Serialize)]
        struct Rest<'a> {
            node: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            updates: Option<Vec<String>>,
            bindings: Vec<(ClientId, &'a str)>,
        }
        let mut rest = Rest {
            node,
            updates: Some(updates.iter().map(|u| BASE64.encode(&u.data)).collect()),
            bindings: bindings
                .iter()
                .map(|(client, user)| (*client, user.as_str()))
                .collect(),
        };
        let as_tail = |rest: &Rest| {
            // `{"node":…}` becomes `,"node":…}`, to follow the numbers.
            let json = serde_json::to_string(rest).unwrap_or_else(|_| "{}".into());
            format!(",{}", json.strip_prefix('{').unwrap_or(&json))
        };
        let full = as_tail(&rest);
        if full.len() + NUMBERS_ROOM <= MAX_TOLD {
            return full;
        }
        rest.updates = None;
        rest.bindings.clear();
        as_tail(&rest)
    }

    /// The whole payload, as the database writes it (for tests of what the nodes hear).
    #[cfg(test)]
    fn payload(
        doc: DocId,
        first: i64,
        node: &str,
        updates: &[NewUpdate],
        bindings: &[(ClientId, UserId)],
    ) -> String {
        let last = first + updates.len() as i64 - 1;
        let rest = Self::rest(node, updates, bindings);
        format!("{{\"doc\":\"{doc}\",\"first\":{first},\"last\":{last}{rest}")
    }
}

#[async_trait]
impl DocStore for PgStore {
    async fn read_since(&self, doc: DocId, after: i64) -> Result<StoredDoc, StorageError> {
        let id = doc.to_string();
        // One snapshot for the three reads, so that a concurrent compaction (by this node
        // or another) is seen whole or not at all.
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await?;
        let doc = read_doc!(&mut *tx, &id, after);
        tx.commit().await?;
        Ok(doc)
    }

    /// The numbers come from the document's head row, whose lock orders the appends of
    /// all nodes: one that waited for it commits after the one it waited for, so a reader
    /// never sees a number before the ones below it.
    async fn append(
        &self,
        doc: DocId,
        _after: i64,
        updates: &[NewUpdate],
        bindings: &[(ClientId, UserId)],
    ) -> Result<i64, StorageError> {
        let (reply, done) = oneshot::channel();
        let append = Append {
            doc,
            updates: updates.to_vec(),
            bindings: bindings.to_vec(),
            reply,
        };
        self.writer.send(append).await.map_err(|_| StorageError::Closed)?;
        done.await.map_err(|_| StorageError::Closed)?
    }

    async fn compact(&self, doc: DocId, state: &[u8], through_seq: i64) -> Result<(), StorageError> {
        let id = doc.to_string();
        let mut tx = self.pool.begin().await?;
        // Before the state moves: the rows to fold are those after the stored state's (as
        // on SQLite, see `sqlite::fold_deletions` for why).
        sqlx::query(
            "INSERT INTO doc_deletions (doc_id, seq, user_id, ranges)
             SELECT $1, min(d.seq), d.user_id, jsonb_agg(r.value)::text
             FROM doc_deletions d CROSS JOIN LATERAL jsonb_array_elements(d.ranges::jsonb) r
             WHERE d.doc_id = $1 AND d.seq <= $2
               AND d.seq > coalesce((SELECT seq FROM doc_states WHERE doc_id = $1), 0)
             GROUP BY d.user_id
             ON CONFLICT (doc_id, seq) DO UPDATE SET ranges = excluded.ranges",
        )
        .bind(&id)
        .bind(through_seq)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM doc_deletions
             WHERE doc_id = $1 AND seq <= $2
               AND seq > coalesce((SELECT seq FROM doc_states WHERE doc_id = $1), 0)
               AND seq NOT IN (
                 SELECT min(seq) FROM doc_deletions
                 WHERE doc_id = $1 AND seq <= $2
                   AND seq > coalesce((SELECT seq FROM doc_states WHERE doc_id = $1), 0)
                 GROUP BY user_id)",
        )
        .bind(&id)
        .bind(through_seq)
        .execute(&mut *tx)
        .await?;
        // A state older than the stored one is ignored; the log goes as far as the stored
        // state holds it, whichever state that is.
        sqlx::query(
            "INSERT INTO doc_states (doc_id, state, seq, updated_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (doc_id) DO UPDATE SET state = excluded.state, seq = excluded.seq,
                 updated_at = excluded.updated_at WHERE doc_states.seq < excluded.seq",
        )
        .bind(&id)
        .bind(state)
        .bind(through_seq)
        .bind(now_millis())
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM doc_updates WHERE doc_id = $1
               AND seq <= (SELECT seq FROM doc_states WHERE doc_id = $1)",
        )
        .bind(&id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn deletions(&self, doc: DocId) -> Result<Vec<Deletion>, StorageError> {
        let rows = sqlx::query_as(LOAD_DELETIONS)
            .bind(doc.to_string())
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(deletion).collect())
    }

    fn shared(&self) -> bool {
        true
    }

    fn tell(&self, topic: Topic, body: String) {
        if body.len() + self.node.len() + 1 > MAX_TOLD {
            tracing::debug!(bytes = body.len(), "too large to tell the other nodes");
            return;
        }
        if self.told.try_send((topic, body)).is_err() {
            tracing::debug!("too much to tell the other nodes; dropped");
        }
    }

    /// Returns once the node listens (the first notice, `Missed`, says so), so that it
    /// serves no one before it can hear the others: a login attempt or a caret told before
    /// would be lost to it.
    async fn listen(&self) -> Result<Option<mpsc::Receiver<Notice>>, StorageError> {
        let (tx, mut rx) = mpsc::channel(NOTICE_QUEUE);
        tokio::spawn(listen(self.pool.clone(), self.node.clone(), tx));
        match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
            Ok(Some(_)) => {}
            Ok(None) => return Err(StorageError::Closed),
            Err(_) => tracing::warn!("not yet listening to the other nodes; going on, still trying"),
        }
        Ok(Some(rx))
    }

    async fn lease(&self, doc: DocId, hold: bool) -> Result<bool, StorageError> {
        let mut leases = self.leases.lock().await;
        let result = leases.update(&self.options, doc, hold).await;
        if result.is_err() {
            // The session may be gone, and the locks with it: start over.
            leases.conn = None;
            leases.held.clear();
        }
        result
    }

    async fn close(&self) {
        if let Some(conn) = self.leases.lock().await.conn.take() {
            let _ = conn.close().await;
        }
        self.pool.close().await;
    }
}

/// This node's housekeeping leases: PostgreSQL session-level advisory locks, all on one
/// connection of the node's own. They last as long as that session does, so a node that
/// dies (or loses its connection) gives them up at once, and another node's room takes
/// them at its next try.
#[derive(Debug, Default)]
struct Leases {
    conn: Option<PgConnection>,
    /// The documents whose lock this session holds (held once each: the locks stack).
    held: HashSet<DocId>,
}

impl Leases {
    async fn update(
        &mut self,
        options: &PgConnectOptions,
        doc: DocId,
        hold: bool,
    ) -> Result<bool, StorageError> {
        let conn = match &mut self.conn {
            Some(conn) => conn,
            None => {
                self.held.clear();
                self.conn.insert(PgConnection::connect_with(options).await?)
            }
        };
        let key = lock_key(doc);
        if !hold {
            if self.held.remove(&doc) {
                sqlx::query("SELECT pg_advisory_unlock($1)")
                    .bind(key)
                    .execute(&mut *conn)
                    .await?;
            }
            return Ok(false);
        }
        if self.held.contains(&doc) {
            // Held while the session lives: make sure it still does.
            sqlx::query("SELECT 1").execute(&mut *conn).await?;
            return Ok(true);
        }
        let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(key)
            .fetch_one(&mut *conn)
            .await?;
        if got {
            self.held.insert(doc);
        }
        Ok(got)
    }
}

/// A document's advisory lock key: 64 bits of its UUID (random bits, so no two documents
/// of a database share one in practice; if two did, one node would keep house for both).
fn lock_key(doc: DocId) -> i64 {
    let bits = doc.as_u128();
    ((bits >> 64) as u64 ^ bits as u64) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_from_other_nodes_are_news_and_our_own_and_garbage_are_not() {
        let doc = DocId::new();
        let update = |data: &[u8]| NewUpdate {
            data: data.to_vec(),
            author: None,
            deleted: Vec::new(),
        };
        let bound = [(ClientId::new(9), UserId::from("ann".to_owned()))];
        // A small batch travels with its notice.
        let payload = StoredNews::payload(doc, 41, "bbbb", &[update(b"x"), update(b"yz")], &bound);
        assert_eq!(
            notice(STORED, &payload, "aaaa"),
            Some(Notice::Stored {
                doc,
                seq: 42,
                batch: Some(Box::new(StoredBatch {
                    first: 41,
                    updates: vec![b"x".to_vec(), b"yz".to_vec()],
                    bindings: bound.to_vec(),
                })),
            })
        );
        assert_eq!(notice(STORED, &payload, "bbbb"), None, "our own");
        // A large one says only which numbers it took: the other nodes read it.
        let large = StoredNews::payload(doc, 1, "bbbb", &[update(&[7; 6000])], &[]);
        assert!(large.len() < MAX_TOLD);
        assert_eq!(
            notice(STORED, &large, "aaaa"),
            Some(Notice::Stored {
                doc,
                seq: 1,
                batch: None
            })
        );
        for garbage in ["", "x:1:b", &format!("{doc}:1:b"), "{\"doc\":1}"] {
            assert_eq!(notice(STORED, garbage, "aaaa"), None, "{garbage:?}");
        }
        assert_eq!(
            notice(PRESENCE, "bbbb:{\"a\":1}", "aaaa"),
            Some(Notice::Told {
                from: "bbbb".into(),
                topic: Topic::Presence,
                body: "{\"a\":1}".into()
            })
        );
        assert_eq!(notice(EVENTS, "aaaa:{}", "aaaa"), None, "our own");
        assert_eq!(notice(EVENTS, "no separator", "aaaa"), None);
        assert_eq!(notice("elsewhere", "bbbb:{}", "aaaa"), None);
    }
}

//! The PostgreSQL engine: the production database, and the one several server nodes share.
//!
//! Each append is one transaction on a pooled connection; PostgreSQL takes many writers
//! at once, so rooms need no single writer task as on SQLite. Rows of a batch go in one
//! statement per table (`UNNEST` over arrays), whatever the batch's size.

use std::time::Duration;

use async_trait::async_trait;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use super::{
    Deletion, DocStore, LOAD_DELETIONS, NewUpdate, StorageError, StoredDoc, deletion, encode_ranges,
    now_millis,
};
use crate::ids::{RegistrationId, UserId};
use samen_crdt::ClientId;

/// Connections per node: rooms append concurrently, and handlers read beside them.
const POOL: u32 = 16;

/// Documents in a PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to the database at a `postgres://` URL and applies the migrations.
    pub async fn open_url(url: &str) -> Result<Self, StorageError> {
        let options: PgConnectOptions = url.parse()?;
        let pool = PgPoolOptions::new()
            .max_connections(POOL)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        super::POSTGRES_MIGRATIONS.run(&pool).await?;
        Ok(PgStore { pool })
    }
}

#[async_trait]
impl DocStore for PgStore {
    async fn load(&self, doc: RegistrationId) -> Result<StoredDoc, StorageError> {
        let id = doc.to_string();
        // One snapshot for the three reads, so that a concurrent compaction (by this node
        // or another) is seen whole or not at all.
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await?;
        let doc = read_doc!(&mut *tx, &id);
        tx.commit().await?;
        Ok(doc)
    }

    async fn append(
        &self,
        doc: RegistrationId,
        first_seq: i64,
        updates: &[NewUpdate],
        bindings: &[(ClientId, UserId)],
    ) -> Result<(), StorageError> {
        let id = doc.to_string();
        let now = now_millis();
        let mut tx = self.pool.begin().await?;
        if !bindings.is_empty() {
            // Client IDs are at most 53 bits (checked by the validator), so they fit.
            let clients: Vec<i64> = bindings.iter().map(|(c, _)| c.get() as i64).collect();
            let users: Vec<String> = bindings.iter().map(|(_, u)| u.as_str().to_owned()).collect();
            sqlx::query(
                "INSERT INTO client_bindings (doc_id, client_id, user_id, created_at)
                 SELECT $1, c, u, $4 FROM UNNEST($2::bigint[], $3::text[]) AS b (c, u)",
            )
            .bind(&id)
            .bind(&clients)
            .bind(&users)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        if !updates.is_empty() {
            let seqs: Vec<i64> = (first_seq..).take(updates.len()).collect();
            let data: Vec<&[u8]> = updates.iter().map(|u| u.data.as_slice()).collect();
            let authors: Vec<Option<&str>> = updates
                .iter()
                .map(|u| u.author.as_ref().map(UserId::as_str))
                .collect();
            sqlx::query(
                "INSERT INTO doc_updates (doc_id, seq, data, author, created_at)
                 SELECT $1, s, d, a, $5 FROM UNNEST($2::bigint[], $3::bytea[], $4::text[]) AS u (s, d, a)",
            )
            .bind(&id)
            .bind(&seqs)
            .bind(&data)
            .bind(&authors)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            let deleting: Vec<(i64, &NewUpdate)> = seqs
                .iter()
                .copied()
                .zip(updates)
                .filter(|(_, u)| !u.deleted.is_empty())
                .collect();
            if !deleting.is_empty() {
                let seqs: Vec<i64> = deleting.iter().map(|(s, _)| *s).collect();
                let authors: Vec<Option<&str>> = deleting
                    .iter()
                    .map(|(_, u)| u.author.as_ref().map(UserId::as_str))
                    .collect();
                let ranges: Vec<String> = deleting.iter().map(|(_, u)| encode_ranges(&u.deleted)).collect();
                sqlx::query(
                    "INSERT INTO doc_deletions (doc_id, seq, user_id, ranges)
                     SELECT $1, s, a, r FROM UNNEST($2::bigint[], $3::text[], $4::text[]) AS d (s, a, r)",
                )
                .bind(&id)
                .bind(&seqs)
                .bind(&authors)
                .bind(&ranges)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn compact(&self, doc: RegistrationId, state: &[u8], through_seq: i64) -> Result<(), StorageError> {
        let id = doc.to_string();
        let mut tx = self.pool.begin().await?;
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

    async fn deletions(&self, doc: RegistrationId) -> Result<Vec<Deletion>, StorageError> {
        let rows = sqlx::query_as(LOAD_DELETIONS)
            .bind(doc.to_string())
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(deletion).collect())
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}

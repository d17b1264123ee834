//! The relational data: institutions, users, memberships, sessions, API tokens, second
//! factors, registrations and the audit log. One `impl Db` block per area, in its own module.
//!
//! One query set serves both engines (docs/architecture.md, "Two engines"): the queries run
//! through sqlx's `Any` driver on SQLite or PostgreSQL, written in the SQL both accept
//! (`$1` placeholders, `ON CONFLICT`, `RETURNING`, `IS NOT DISTINCT FROM`), and the shared
//! storage tests run every query on both.

mod admin;
mod agreements;
mod audit;
mod comments;
mod exports;
mod files;
mod identities;
mod meetings;
mod names;
mod overview;
mod registrations;
mod search;
mod sessions;
mod snapshots;
mod totp;
mod users;
mod visits;

use std::str::FromStr;

use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Executor};

pub use admin::{AdminUser, InstitutionLinks, SourcedMembership};
pub use agreements::Agreement;
pub use audit::{AuditActor, AuditEntry, AuditFilter, AuditRow, AuditView, MAX_DENIED_TARGETS};
pub use comments::{Anchor, Comment, MAX_ANCHOR_CHARS, Notification, Person, Thread};
pub use exports::{ExportJob, KEPT_MS as EXPORT_KEPT_MS, NewExport};
pub use files::{Deletion, FileVersion, FileWithNames, NewVersion, StoredFile, TextCheck, UncheckedVersion};
pub use identities::{ProviderUser, RoleChanges};
pub use meetings::{Meeting, MeetingPatch, NewMeeting, SchoolPerson};
pub use names::NameDismissal;
pub use overview::SchoolFigures;
pub use registrations::{NewRegistration, Registration, RegistrationFilter, RegistrationPatch};
pub use search::{
    EntryPlace, FoundAgreement, FoundEntry, FoundMeeting, FoundRegistration, NewEntry, SearchFilter,
    SearchScope, part_entry_id,
};
pub use sessions::{Limits, NewToken, TokenInfo, TokenScope, keep_sessions_purged};
pub use snapshots::{
    Contributor, NewSnapshot, SectionStats, SnapshotKind, SnapshotMeta, StoredSnapshot, VersionSummary,
};
pub use totp::{LoginChallenge, StoredTotp};
pub use users::{Institution, Membership, User, role_kind};
pub use visits::SinceVisit;

/// The roles a user may hold.
pub fn users_roles() -> &'static [&'static str] {
    &users::ROLES
}

use crate::access::SchoolAccess;
use crate::ids::{InstitutionId, UserId};
use crate::storage::{Engine, SqliteWriter, StorageError};

/// Why a database call failed.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The database failed.
    #[error("database: {0}")]
    Sqlx(#[from] sqlx::Error),
    /// A unique value already exists.
    #[error("{0} already exists")]
    Conflict(&'static str),
    /// A referenced row does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The engine or the input does not allow it; the text says what to do instead.
    #[error("{0}")]
    Unsupported(&'static str),
}

impl From<StorageError> for DbError {
    fn from(err: StorageError) -> Self {
        match err {
            StorageError::Database(err) => DbError::Sqlx(err),
            // The writer is gone: the server is shutting down.
            _ => DbError::Sqlx(sqlx::Error::PoolClosed),
        }
    }
}

impl DbError {
    /// Maps a unique-constraint violation to `Conflict(what)`.
    fn on_unique(err: sqlx::Error, what: &'static str) -> DbError {
        match &err {
            sqlx::Error::Database(db) if db.is_unique_violation() => DbError::Conflict(what),
            _ => DbError::Sqlx(err),
        }
    }
}

/// A handle on the database.
#[derive(Debug, Clone)]
pub struct Db {
    pool: AnyPool,
    /// Which engine it is: for readiness (its newest migration) and the few things only
    /// one engine does.
    engine: Engine,
    /// Audit entries this process wrote in the current hour (`audit.rs`).
    recent: std::sync::Arc<audit::RecentAudit>,
    /// On SQLite, the document store's writer, whose group commit the frequent writes
    /// ride ([`SqliteWriter`]).
    along: Option<SqliteWriter>,
}

/// Connections to the relational data per process.
const POOL: u32 = 8;

impl Db {
    /// Lets the frequent writes ride the group commit of the document store's `writer`
    /// (SQLite: the same file).
    pub fn write_along(&mut self, writer: SqliteWriter) {
        self.along = Some(writer);
    }

    /// Closes the connections (at shutdown; in tests, to make every query fail).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Connects to the database at `url`, whose migrations the document store applied.
    pub async fn connect(engine: Engine, url: &str) -> Result<Self, sqlx::Error> {
        sqlx::any::install_default_drivers();
        let options = sqlx::any::AnyConnectOptions::from_str(url)?;
        let pool = AnyPoolOptions::new()
            .max_connections(POOL)
            .after_connect(|conn, _| {
                Box::pin(async move {
                    // The settings the document store's SQLite connections have (storage/sqlite.rs),
                    // which a URL cannot carry.
                    if conn.backend_name() == "SQLite" {
                        conn.execute(
                            "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; \
                             PRAGMA synchronous = FULL; PRAGMA temp_store = memory;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        Ok(Db {
            pool,
            engine,
            recent: std::sync::Arc::default(),
            along: None,
        })
    }

    /// Writes a consistent copy of a SQLite database to `to` while it is in use (`VACUUM
    /// INTO`); PostgreSQL has `pg_dump` for that.
    pub async fn backup_to(&self, to: &std::path::Path) -> Result<(), DbError> {
        if self.engine == Engine::Postgres {
            return Err(DbError::Unsupported(
                "samen admin backup copies SQLite databases; on PostgreSQL use pg_dump (docs/deployment.md)",
            ));
        }
        let Some(to) = to.to_str() else {
            return Err(DbError::Unsupported("the backup's path must be valid UTF-8"));
        };
        sqlx::query("VACUUM INTO $1").bind(to).execute(&self.pool).await?;
        Ok(())
    }

    /// Whether the database answers and holds this build's schema (for `/readyz`).
    pub async fn ready(&self) -> Result<bool, DbError> {
        let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE version = $1")
            .bind(self.engine.latest_migration())
            .fetch_one(&self.pool)
            .await?;
        Ok(applied == 1)
    }
}

impl Db {
    /// How `user` may reach the school with database id `school_id`, if at all.
    pub async fn school_access(
        &self,
        user: &UserId,
        school_id: InstitutionId,
    ) -> Result<Option<SchoolAccess>, DbError> {
        let roles: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT m.role FROM memberships m WHERE m.user_id = $1 AND {}",
            links_to_school("$2")
        )))
        .bind(user.as_str())
        .bind(school_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(if roles.iter().any(|r| r == "clb_staff") {
            Some(SchoolAccess::Clb)
        } else if roles.is_empty() {
            None
        } else {
            Some(SchoolAccess::School)
        })
    }
}

/// DESIGN.md's access rule in SQL, over a row `m` of `memberships`: the membership links
/// its user to the school whose id is `school` (a column or a placeholder) — a member of
/// the school, or CLB staff of a CLB that serves it. Every query that asks who may reach a
/// school uses this one statement of the rule.
pub(crate) fn links_to_school(school: &str) -> String {
    format!(
        "((m.role = 'school_dossier' AND m.institution_id = {school})
          OR (m.role = 'clb_staff' AND m.institution_id IN
                 (SELECT clb_id FROM clb_schools WHERE school_id = {school})))"
    )
}

/// `$1, $2, …, $n` for an `IN (…)` list of `n` values; a list that matches nothing when
/// `n` is 0 (PostgreSQL refuses an empty `IN ()`).
pub(crate) fn placeholders(n: usize) -> String {
    if n == 0 {
        return "SELECT NULL WHERE 1 = 0".into();
    }
    (1..=n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// Institutions' ids as an SQL list for `IN (…)`, written as they are: database ids are
/// numbers, so they cannot be anything else. Empty for none: callers ask nothing then.
pub(crate) fn id_list(ids: &[InstitutionId]) -> String {
    ids.iter()
        .map(|id| id.0.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `text` for a `LIKE … ESCAPE '\\'` pattern: its wildcards match themselves.
pub(crate) fn like_escaped(text: &str) -> String {
    text.chars()
        .flat_map(|c| match c {
            '\\' | '%' | '_' => vec!['\\', c],
            c => vec![c],
        })
        .collect()
}

impl Db {
    /// The key called `name` that every node of this database shares: made (random, 256
    /// bits) the first time any node asks.
    pub async fn shared_key(&self, name: &str) -> Result<String, DbError> {
        sqlx::query("INSERT INTO server_keys (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(crate::auth::secret::new_secret(""))
            .execute(&self.pool)
            .await?;
        let key = sqlx::query_scalar("SELECT value FROM server_keys WHERE name = $1")
            .bind(name)
            .fetch_one(&self.pool)
            .await?;
        Ok(key)
    }
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now() -> i64 {
    crate::storage::now_millis()
}

#[cfg(test)]
mod tests {
    use crate::testing::{Engine, test_database};

    crate::test_both_dbs!(
        a_shared_key_is_made_once_and_is_the_same_for_every_node_sqlite,
        a_shared_key_is_made_once_and_is_the_same_for_every_node_postgres,
        a_shared_key_is_made_once_and_is_the_same_for_every_node
    );
    async fn a_shared_key_is_made_once_and_is_the_same_for_every_node(engine: Engine) {
        let (dir, url) = test_database(engine).await;
        let (_, one) = crate::open_database(dir.path(), url.as_deref())
            .await
            .expect("open");
        let (_, other) = crate::open_database(dir.path(), url.as_deref())
            .await
            .expect("open");
        let (a, b) = tokio::join!(one.shared_key("throttle"), other.shared_key("throttle"));
        let key = a.expect("key");
        assert_eq!(key.len(), 64, "256 random bits");
        assert_eq!(
            b.expect("key"),
            key,
            "the same on every node, even when asked at once"
        );
        assert_eq!(
            one.shared_key("throttle").await.expect("key"),
            key,
            "and ever after"
        );
        assert_ne!(one.shared_key("another").await.expect("key"), key);
    }

    crate::test_both_dbs!(
        readiness_needs_the_schema_and_the_database_sqlite,
        readiness_needs_the_schema_and_the_database_postgres,
        readiness_needs_the_schema_and_the_database
    );
    async fn readiness_needs_the_schema_and_the_database(engine: Engine) {
        let (_dir, url) = test_database(engine).await;
        let (_store, db) = crate::open_database(_dir.path(), url.as_deref())
            .await
            .expect("open");
        assert!(db.ready().await.expect("answers"), "a migrated database is ready");
        // An older build's schema is not this build's.
        sqlx::query("DELETE FROM _sqlx_migrations WHERE version = $1")
            .bind(db.engine.latest_migration())
            .execute(&db.pool)
            .await
            .expect("forget the newest migration");
        assert!(!db.ready().await.expect("answers"));
        db.close().await;
        assert!(
            db.ready().await.is_err(),
            "a database that does not answer is not ready"
        );
    }
}

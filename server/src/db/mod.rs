//! The relational data: institutions, users, memberships, sessions, API tokens, second
//! factors, registrations and the audit log. One `impl Db` block per area, in its own module.
//!
//! Queries are plain runtime `sqlx::query` on SQLite; a PostgreSQL engine will add its own
//! implementation next to this one (docs/architecture.md).

mod audit;
mod comments;
mod registrations;
mod sessions;
mod snapshots;
mod totp;
mod users;

use sqlx::SqlitePool;

pub use audit::{AuditEntry, AuditFilter, AuditRow, MAX_DENIED_TARGETS};
pub use comments::{Anchor, Comment, MAX_ANCHOR_CHARS, Notification, Person, Thread};
pub use registrations::{NewRegistration, Registration, RegistrationFilter, RegistrationPatch};
pub use sessions::{Limits, NewToken, TokenInfo, TokenScope, keep_sessions_purged};
pub use snapshots::{
    Contributor, NewSnapshot, SectionStats, SnapshotKind, SnapshotMeta, StoredSnapshot, VersionSummary,
};
pub use totp::{LoginChallenge, StoredTotp};
pub use users::{Institution, Membership, User};

/// The roles a user may hold.
pub fn users_roles() -> &'static [&'static str] {
    &users::ROLES
}

use crate::access::SchoolAccess;
use crate::ids::{InstitutionId, UserId};

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
    pool: SqlitePool,
    /// Audit entries this process wrote in the current hour (`audit.rs`).
    recent: std::sync::Arc<audit::RecentAudit>,
}

impl Db {
    /// Wraps a pool whose migrations have been applied.
    pub fn new(pool: SqlitePool) -> Self {
        Db {
            pool,
            recent: std::sync::Arc::default(),
        }
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
            "SELECT m.role FROM memberships m WHERE m.user_id = ?1 AND {}",
            links_to_school("?2")
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

/// Milliseconds since the Unix epoch.
pub(crate) fn now() -> i64 {
    crate::storage::now_millis()
}

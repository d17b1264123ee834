//! The audit log: append-only (the database refuses updates and deletes).
//!
//! Changes are written one entry each. Reads and refused lookups are written at most once
//! per (actor, action, target, detail, outcome, hour): first against a bounded in-memory
//! set of keys written this hour, so a repeated read costs no database write, then against
//! the unique index `audit_log_once_per_hour`, which holds across restarts, processes and
//! two requests racing past the set (migrations/sqlite/20261201000002_audit_reads.sql).

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use super::{Db, DbError, now};

/// Milliseconds in an hour: the bucket of a deduplicated entry.
const HOUR_MS: i64 = 60 * 60 * 1000;

/// Keys remembered at most; when full the set starts afresh (the unique index still keeps
/// the rule, at the cost of a no-op insert per key). 20,000 keys of ~150 bytes: ~3 MiB.
const MAX_RECENT: usize = 20_000;

/// Refused lookups one actor may have written with their own target in one hour; after
/// that they are written as one entry without a target, so that a caller trying made-up
/// ids cannot fill the disk with one entry per id.
pub const MAX_DENIED_TARGETS: u32 = 100;

/// One audited event.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    /// Who acted (user id), if known.
    pub actor: Option<String>,
    /// What they did, e.g. `login`, `registration.create`, `sync.update`.
    pub action: &'static str,
    /// What it was done to (a registration id, an e-mail address).
    pub target: Option<String>,
    /// `ok`, `denied` or `failed`.
    pub outcome: &'static str,
    /// A short machine-readable detail (never document text or secrets).
    pub detail: Option<String>,
}

impl AuditEntry {
    /// The key under which an entry is written once per hour.
    fn key(&self) -> String {
        // NUL cannot occur in ids, actions or details, so the parts cannot run together.
        format!(
            "{}\0{}\0{}\0{}\0{}",
            self.actor.as_deref().unwrap_or_default(),
            self.action,
            self.target.as_deref().unwrap_or_default(),
            self.detail.as_deref().unwrap_or_default(),
            self.outcome
        )
    }
}

/// What this process wrote in the current hour (see the module's documentation).
#[derive(Debug, Default)]
pub(super) struct Recent {
    hour: i64,
    keys: HashSet<String>,
    denied: HashMap<String, u32>,
}

impl Recent {
    /// Forgets everything when the hour has changed or the set is full.
    fn roll(&mut self, hour: i64) {
        let new_hour = self.hour != hour;
        self.hour = hour;
        if new_hour || self.keys.len() >= MAX_RECENT {
            self.keys.clear();
        }
        if new_hour || self.denied.len() >= MAX_RECENT {
            self.denied.clear();
        }
    }
}

/// The shared in-memory part of the deduplication.
#[derive(Debug, Default)]
pub(super) struct RecentAudit(Mutex<Recent>);

impl RecentAudit {
    fn lock(&self) -> std::sync::MutexGuard<'_, Recent> {
        // A panic while holding the lock leaves nothing half-done worth refusing for.
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether this key was written this hour.
    fn seen(&self, hour: i64, key: &str) -> bool {
        let mut recent = self.lock();
        recent.roll(hour);
        recent.keys.contains(key)
    }

    /// Remembers a key once its entry is in the database (never before: a failed write
    /// must be tried again by the next request, not skipped).
    fn remember(&self, hour: i64, key: String) {
        let mut recent = self.lock();
        recent.roll(hour);
        recent.keys.insert(key);
    }

    /// Counts a refused lookup of `actor`; false once they are past [`MAX_DENIED_TARGETS`].
    fn denied_target_allowed(&self, hour: i64, actor: &str) -> bool {
        let mut recent = self.lock();
        recent.roll(hour);
        let count = recent.denied.entry(actor.to_owned()).or_insert(0);
        *count = count.saturating_add(1);
        *count <= MAX_DENIED_TARGETS
    }
}

/// One row of the audit log, as `samen admin audit` prints it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AuditRow {
    /// Its sequence number.
    pub id: i64,
    /// When (ms since the epoch).
    pub at: i64,
    /// Who (a user id, `cli`), if known.
    pub actor: Option<String>,
    /// What they did.
    pub action: String,
    /// What it was done to.
    pub target: Option<String>,
    /// `ok`, `denied` or `failed`.
    pub outcome: String,
    /// A short detail.
    pub detail: Option<String>,
}

/// Which rows `Db::audit_rows` returns.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only this actor's (a user id or `cli`).
    pub actor: Option<String>,
    /// Only rows about this item (as target, or named in the detail).
    pub target: Option<String>,
    /// Only rows at or after this time (ms since the epoch).
    pub since: Option<i64>,
    /// Only rows before this time (ms since the epoch).
    pub until: Option<i64>,
    /// Only actions that start with this (`login`, `membership.`).
    pub action: Option<String>,
    /// Only this outcome (`ok`, `denied`, `not_found`).
    pub outcome: Option<String>,
    /// Only rows older than this one (a page's continuation).
    pub before: Option<i64>,
    /// At most this many rows.
    pub limit: Option<i64>,
    /// Only rows written by people who hold a role on what this CLB administrator (a user
    /// id) looks after.
    pub within: Option<String>,
}

/// Who wrote an audit row, when it was a user.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct AuditActor {
    /// Their id.
    pub id: String,
    /// Their e-mail address.
    pub email: String,
    /// Their name.
    pub display_name: String,
}

/// An audit row with its actor, as the admin page shows it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct AuditView {
    /// Its sequence number.
    pub id: i64,
    /// When (ms since the epoch).
    pub at: i64,
    /// Who: a user id or `cli`, `null` when nobody was logged in.
    #[schema(required = true)]
    pub actor_id: Option<String>,
    /// The user behind `actor_id`, `null` for `cli`, nobody, or a user since removed.
    #[schema(required = true)]
    pub actor: Option<AuditActor>,
    /// What they did.
    pub action: String,
    /// What it was done to.
    #[schema(required = true)]
    pub target: Option<String>,
    /// `ok`, `denied` or `not_found`.
    pub outcome: String,
    /// A short detail.
    #[schema(required = true)]
    pub detail: Option<String>,
}

/// The conditions of an [`AuditFilter`], on `audit_log a`, with its binds `$1`–`$7` and
/// `$9` (`$8` is the limit).
fn audit_where() -> String {
    format!(
        "($1 IS NULL OR a.actor_id = $1)
         AND ($2 IS NULL OR a.target = $2 OR a.detail = $2)
         AND ($3 IS NULL OR a.at >= $3)
         AND ($4 IS NULL OR a.at < $4)
         AND ($5 IS NULL OR a.action LIKE $5 ESCAPE '\\')
         AND ($6 IS NULL OR a.outcome = $6)
         AND ($7 IS NULL OR a.id < $7)
         AND ($9 IS NULL OR a.actor_id IN
              (SELECT m.user_id FROM memberships m WHERE m.institution_id IN ({})))",
        super::admin::administered("$9")
    )
}

impl AuditFilter {
    /// A query over [`audit_where`] with this filter bound to `$1`–`$9` (`$8`: the limit).
    fn bound<'q, O>(
        &'q self,
        query: sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments>,
    ) -> sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments> {
        query
            .bind(self.actor.as_deref())
            .bind(self.target.as_deref())
            .bind(self.since)
            .bind(self.until)
            .bind(
                self.action
                    .as_deref()
                    .map(|prefix| format!("{}%", super::like_escaped(prefix))),
            )
            .bind(self.outcome.as_deref())
            .bind(self.before)
            .bind(self.limit.unwrap_or(i64::MAX))
            .bind(self.within.as_deref())
    }
}

impl Db {
    /// Appends an entry.
    pub async fn audit(&self, entry: AuditEntry) -> Result<(), DbError> {
        sqlx::query(
            "INSERT INTO audit_log (at, actor_id, action, target, outcome, detail) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(now())
        .bind(entry.actor)
        .bind(entry.action)
        .bind(entry.target)
        .bind(entry.outcome)
        .bind(entry.detail)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Appends an entry unless the same one (actor, action, target, detail, outcome) was
    /// written this hour; true when a row was written now.
    pub async fn audit_once(&self, entry: AuditEntry) -> Result<bool, DbError> {
        let at = now();
        let hour = at.div_euclid(HOUR_MS);
        let key = entry.key();
        if self.recent.seen(hour, &key) {
            return Ok(false);
        }
        let written = sqlx::query(
            "INSERT INTO audit_log (at, actor_id, action, target, outcome, detail, hour)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        )
        .bind(at)
        .bind(entry.actor)
        .bind(entry.action)
        .bind(entry.target)
        .bind(entry.outcome)
        .bind(entry.detail)
        .bind(hour)
        .execute(&self.pool)
        .await?
        .rows_affected();
        self.recent.remember(hour, key);
        Ok(written > 0)
    }

    /// Whether `actor` may have another refused lookup written with its own target this
    /// hour (see [`MAX_DENIED_TARGETS`]); counts this one.
    pub fn denied_target_allowed(&self, actor: &str) -> bool {
        self.recent
            .denied_target_allowed(now().div_euclid(HOUR_MS), actor)
    }

    /// Appends an entry where the caller cannot act on a failure (a room mid-batch): the
    /// failure is logged instead.
    pub async fn record(&self, entry: AuditEntry) {
        let action = entry.action;
        if let Err(err) = self.audit(entry).await {
            tracing::error!(error = %err, action, "could not write audit entry");
        }
    }

    /// Audit rows matching `filter`, oldest first.
    pub async fn audit_rows(&self, filter: &AuditFilter) -> Result<Vec<AuditRow>, DbError> {
        type Row = (
            i64,
            i64,
            Option<String>,
            String,
            Option<String>,
            String,
            Option<String>,
        );
        let query = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT a.id, a.at, a.actor_id, a.action, a.target, a.outcome, a.detail FROM audit_log a
             WHERE {} ORDER BY a.id LIMIT $8",
            audit_where()
        )));
        let rows: Vec<Row> = filter.bound(query).fetch_all(&self.pool).await?;
        Ok(rows
            .into_iter()
            .map(|(id, at, actor, action, target, outcome, detail)| AuditRow {
                id,
                at,
                actor,
                action,
                target,
                outcome,
                detail,
            })
            .collect())
    }

    /// Audit rows newest first, with their actors, for the admin page.
    pub async fn audit_page(&self, filter: &AuditFilter) -> Result<Vec<AuditView>, DbError> {
        let query = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT a.id, a.at, a.actor_id, a.action, a.target, a.outcome, a.detail,
                    u.id AS user_id, u.email, u.display_name
             FROM audit_log a LEFT JOIN users u ON u.id = a.actor_id
             WHERE {} ORDER BY a.id DESC LIMIT $8",
            audit_where()
        )));
        type Row = (
            i64,
            i64,
            Option<String>,
            String,
            Option<String>,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let rows: Vec<Row> = filter.bound(query).fetch_all(&self.pool).await?;
        Ok(rows
            .into_iter()
            .map(
                |(id, at, actor_id, action, target, outcome, detail, user, email, name)| {
                    let actor = user.map(|id| AuditActor {
                        id,
                        email: email.unwrap_or_default(),
                        display_name: name.unwrap_or_default(),
                    });
                    AuditView {
                        id,
                        at,
                        actor_id,
                        actor,
                        action,
                        target,
                        outcome,
                        detail,
                    }
                },
            )
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Engine, test_database};

    fn entry(target: &str) -> AuditEntry {
        AuditEntry {
            actor: Some("u1".into()),
            action: "registration.read",
            target: Some(target.into()),
            outcome: "ok",
            detail: None,
        }
    }

    async fn db(engine: Engine) -> (tempfile::TempDir, Db) {
        let (dir, url) = test_database(engine).await;
        let (_, db) = crate::open_database(dir.path(), url.as_deref())
            .await
            .expect("open");
        (dir, db)
    }

    crate::test_both_dbs!(
        a_read_is_written_once_per_hour_sqlite,
        a_read_is_written_once_per_hour_postgres,
        a_read_is_written_once_per_hour
    );
    async fn a_read_is_written_once_per_hour(engine: Engine) {
        let (_dir, db) = db(engine).await;
        assert!(db.audit_once(entry("r1")).await.expect("first"));
        assert!(!db.audit_once(entry("r1")).await.expect("again"));
        assert!(db.audit_once(entry("r2")).await.expect("another item"));
        // Another process (or this one after a restart) has an empty set: the index holds.
        let other = Db {
            recent: Default::default(),
            ..db.clone()
        };
        assert!(!other.audit_once(entry("r1")).await.expect("other process"));
        let rows = db.audit_rows(&AuditFilter::default()).await.expect("rows");
        assert_eq!(rows.len(), 2);
        let filter = AuditFilter {
            target: Some("r1".into()),
            ..AuditFilter::default()
        };
        assert_eq!(db.audit_rows(&filter).await.expect("rows").len(), 1);
    }

    crate::test_both_dbs!(
        a_failed_write_is_an_error_and_not_remembered_sqlite,
        a_failed_write_is_an_error_and_not_remembered_postgres,
        a_failed_write_is_an_error_and_not_remembered
    );
    async fn a_failed_write_is_an_error_and_not_remembered(engine: Engine) {
        let (_dir, db) = db(engine).await;
        db.pool.close().await;
        assert!(db.audit_once(entry("r1")).await.is_err());
        assert!(
            db.audit_once(entry("r1")).await.is_err(),
            "tried again, not skipped"
        );
        assert!(db.audit(entry("r1")).await.is_err());
    }

    #[test]
    fn the_set_is_bounded_and_hourly() {
        let recent = RecentAudit::default();
        recent.remember(1, "a".into());
        assert!(recent.seen(1, "a"));
        assert!(!recent.seen(2, "a"), "a new hour starts afresh");
        for i in 0..MAX_RECENT {
            recent.remember(2, i.to_string());
        }
        recent.remember(2, "last".into());
        assert!(recent.lock().keys.len() <= MAX_RECENT);
        for _ in 0..MAX_DENIED_TARGETS {
            assert!(recent.denied_target_allowed(2, "u1"));
        }
        assert!(!recent.denied_target_allowed(2, "u1"));
        assert!(recent.denied_target_allowed(2, "u2"));
        assert!(recent.denied_target_allowed(3, "u1"));
    }
}

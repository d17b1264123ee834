//! The audit log: append-only (the database refuses updates and deletes).

use super::{Db, DbError, now};

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

impl Db {
    /// Appends an entry.
    pub async fn audit(&self, entry: AuditEntry) -> Result<(), DbError> {
        sqlx::query(
            "INSERT INTO audit_log (at, actor_id, action, target, outcome, detail) VALUES (?, ?, ?, ?, ?, ?)",
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

    /// Appends an entry where the caller cannot act on a failure (a request already
    /// answered, a room mid-batch): the failure is logged instead.
    pub async fn record(&self, entry: AuditEntry) {
        let action = entry.action;
        if let Err(err) = self.audit(entry).await {
            tracing::error!(error = %err, action, "could not write audit entry");
        }
    }
}

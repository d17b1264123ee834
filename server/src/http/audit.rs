//! The audit trail of API actions: who did what to which item, and how it ended.

use crate::db::AuditEntry;
use crate::state::AppState;

/// Writes an audit entry; a failure is logged, never shown to the caller.
pub async fn audit(
    state: &AppState,
    actor: Option<String>,
    action: &'static str,
    target: Option<String>,
    outcome: &'static str,
) {
    let entry = AuditEntry {
        actor,
        action,
        target,
        outcome,
        detail: None,
    };
    state.db.record(entry).await;
}

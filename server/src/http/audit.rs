//! The audit trail of API actions: who did what to which item, and how it ended; who read
//! which item (once per hour); and who asked for an item that is not theirs or does not
//! exist. An entry that cannot be written fails the request (503): nothing passes
//! unrecorded.

use crate::db::{AuditEntry, Db, DbError};
use crate::error::AppError;
use crate::ids::UserId;
use crate::state::AppState;

/// The outcome of a refused lookup: no such item, or none the caller may know of.
pub const NOT_FOUND: &str = "not_found";

/// Writes an audit entry of a change (`ok`: already made) or a refusal (`denied`); when it
/// cannot be written the request fails with 503.
pub async fn audit(
    state: &AppState,
    actor: Option<String>,
    action: &'static str,
    target: Option<String>,
    outcome: &'static str,
) -> Result<(), AppError> {
    let entry = AuditEntry {
        actor,
        action,
        target,
        outcome,
        detail: None,
    };
    let done = outcome == "ok";
    refused_unless_written(action, done, state.db.audit(entry).await)
}

/// Writes an audit entry of a change already made, with its detail (a deletion's reason);
/// when it cannot be written the request fails with 503, saying the change was made.
pub async fn audit_with(
    state: &AppState,
    actor: &UserId,
    action: &'static str,
    target: String,
    detail: &str,
) -> Result<(), AppError> {
    let entry = AuditEntry {
        actor: Some(actor.to_string()),
        action,
        target: Some(target),
        outcome: "ok",
        detail: Some(detail.to_owned()),
    };
    refused_unless_written(action, true, state.db.audit(entry).await)
}

/// Records that `actor` read `target` (a registration id, a school number) through
/// `action`; `detail` names the part when it is an item of its own (a version, a diff).
/// At most one entry per actor, action, target, detail and hour. Called before the answer
/// is made, so a read that cannot be recorded shows nothing (503).
pub async fn audit_read(
    db: &Db,
    actor: &UserId,
    action: &'static str,
    target: String,
    detail: Option<String>,
) -> Result<(), AppError> {
    let entry = AuditEntry {
        actor: Some(actor.to_string()),
        action,
        target: Some(target),
        outcome: "ok",
        detail,
    };
    refused_unless_written(action, false, db.audit_once(entry).await.map(drop))
}

/// Records that `actor` asked for school `number` and got 404 (`school.read`). Institution
/// numbers are short and alphanumeric; anything else is recorded as malformed rather than
/// copied into the log.
pub async fn school_not_found(db: &Db, actor: &UserId, number: &str) -> Result<(), AppError> {
    let plausible =
        !number.is_empty() && number.len() <= 32 && number.bytes().all(|b| b.is_ascii_alphanumeric());
    audit_not_found(db, actor, "school.read", plausible.then(|| number.to_owned())).await
}

/// Records that `actor` asked for an item through `action` and got 404, because it does
/// not exist or is not theirs (the answer does not say which; this entry does not
/// either). `target` is the id asked for, `None` when it was malformed. Deduplicated per
/// hour like a read; past [`crate::db::MAX_DENIED_TARGETS`] ids in an hour the rest are
/// one entry without a target.
pub async fn audit_not_found(
    db: &Db,
    actor: &UserId,
    action: &'static str,
    target: Option<String>,
) -> Result<(), AppError> {
    let (target, detail) = match target {
        Some(target) if db.denied_target_allowed(actor.as_str()) => (Some(target), NOT_FOUND),
        Some(_) => (None, "not_found, many ids"),
        None => (None, "not_found, malformed id"),
    };
    let entry = AuditEntry {
        actor: Some(actor.to_string()),
        action,
        target,
        outcome: "denied",
        detail: Some(detail.to_owned()),
    };
    refused_unless_written(action, false, db.audit_once(entry).await.map(drop))
}

/// A failed audit write becomes a logged 503.
fn refused_unless_written(
    action: &'static str,
    done: bool,
    written: Result<(), DbError>,
) -> Result<(), AppError> {
    written.map_err(|err| {
        tracing::error!(error = %err, action, done, "could not write audit entry; request refused");
        AppError::AuditFailed { done }
    })
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;

    use super::*;

    /// A database whose every query fails, as when the disk is full or the file is gone.
    async fn broken() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().expect("temp dir");
        let (store, db) = crate::open_database(dir.path(), None).await.expect("open");
        store.close().await;
        db.close().await;
        (dir, db)
    }

    fn user() -> UserId {
        UserId::from("u-tom".to_owned())
    }

    #[tokio::test]
    async fn a_read_that_cannot_be_recorded_fails_with_503() {
        let (_dir, db) = broken().await;
        let err = audit_read(&db, &user(), "registration.read", "r1".into(), None)
            .await
            .expect_err("refused");
        assert!(matches!(err, AppError::AuditFailed { done: false }));
        assert_eq!(err.into_response().status(), StatusCode::SERVICE_UNAVAILABLE);
        // Not remembered as written: the next read is refused too.
        assert!(
            audit_read(&db, &user(), "registration.read", "r1".into(), None)
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn a_refusal_that_cannot_be_recorded_fails_with_503() {
        let (_dir, db) = broken().await;
        let err = audit_not_found(&db, &user(), "registration.read", Some("r1".into()))
            .await
            .expect_err("refused");
        assert_eq!(err.into_response().status(), StatusCode::SERVICE_UNAVAILABLE);
    }

    #[tokio::test]
    async fn a_change_that_cannot_be_recorded_says_it_was_made() {
        let (_dir, db) = broken().await;
        let written = db
            .audit(AuditEntry {
                actor: Some("u-tom".into()),
                action: "comment.thread",
                target: None,
                outcome: "ok",
                detail: None,
            })
            .await;
        let err = refused_unless_written("comment.thread", true, written).expect_err("refused");
        assert!(matches!(err, AppError::AuditFailed { done: true }));
        assert_eq!(err.into_response().status(), StatusCode::SERVICE_UNAVAILABLE);
    }

    #[tokio::test]
    async fn reads_and_refusals_are_recorded_once_per_hour() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (_store, db) = crate::open_database(dir.path(), None).await.expect("open");
        for _ in 0..3 {
            audit_read(&db, &user(), "snapshot.read", "r1".into(), Some("s1".into()))
                .await
                .expect("read");
            audit_not_found(&db, &user(), "registration.read", Some("r2".into()))
                .await
                .expect("denied");
            audit_not_found(&db, &user(), "registration.read", None)
                .await
                .expect("malformed");
        }
        let rows = db.audit_rows(&Default::default()).await.expect("rows");
        let rows: Vec<_> = rows
            .iter()
            .map(|r| {
                (
                    r.action.as_str(),
                    r.target.as_deref(),
                    r.outcome.as_str(),
                    r.detail.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                ("snapshot.read", Some("r1"), "ok", Some("s1")),
                ("registration.read", Some("r2"), "denied", Some("not_found")),
                (
                    "registration.read",
                    None,
                    "denied",
                    Some("not_found, malformed id")
                ),
            ]
        );
    }
}

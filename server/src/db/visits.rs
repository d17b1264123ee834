//! What each person last saw of a document (issue 21, "wat veranderde sinds je vorige
//! bezoek"): the time their last connection to it closed and the document's snapshot then.
//! A list marks what changed since; opening a registration shows the diff from that
//! snapshot to now.

use std::collections::HashMap;

use sqlx::Row;

use super::{Db, DbError, now};
use crate::ids::{DocId, InstitutionId, MeetingId, RegistrationId, UserId};

/// What changed in a registration since the caller's last visit, for its line in a list.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct SinceVisit {
    /// When the caller last left it (ms since the epoch); `null`: never opened, and made
    /// after the caller first used Samen.
    #[schema(required = true)]
    pub seen_at: Option<i64>,
    /// Someone else changed its text since.
    pub text: bool,
    /// Named versions (and restores) made since.
    pub versions: i64,
    /// Documents added or given a new version by others since.
    pub documents: i64,
}

/// The SQL of "someone other than `$1` changed document `r.id`'s text after `v.seen_at`":
/// an update in the log by someone else, or, when the log was folded into the state, a
/// fold after the visit (its authors are no longer told apart).
pub(super) const TEXT_CHANGED_SINCE: &str = "(EXISTS (SELECT 1 FROM doc_updates d WHERE d.doc_id = r.id
         AND d.created_at > v.seen_at AND (d.author IS NULL OR d.author <> $1))
     OR EXISTS (SELECT 1 FROM doc_states st WHERE st.doc_id = r.id AND st.updated_at > v.seen_at))";

impl Db {
    /// Records that `user` last saw document `doc` as `snapshot` (encoded by
    /// `samen_crdt::history`), now; an older record never replaces a newer one (two nodes).
    pub async fn record_visit(&self, user: &UserId, doc: DocId, snapshot: &[u8]) -> Result<(), DbError> {
        sqlx::query(
            "INSERT INTO visits (user_id, doc_id, seen_at, snapshot) VALUES ($1, $2, $3, $4)
             ON CONFLICT (user_id, doc_id) DO UPDATE
             SET seen_at = excluded.seen_at, snapshot = excluded.snapshot
             WHERE excluded.seen_at >= visits.seen_at",
        )
        .bind(user.as_str())
        .bind(doc.to_string())
        .bind(now())
        .bind(snapshot)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// When `user` last left document `doc`, and its snapshot then; None if they never
    /// opened it.
    pub async fn visit(&self, user: &UserId, doc: DocId) -> Result<Option<(i64, Vec<u8>)>, DbError> {
        let row = sqlx::query("SELECT seen_at, snapshot FROM visits WHERE user_id = $1 AND doc_id = $2")
            .bind(user.as_str())
            .bind(doc.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row
            .map(|row| Ok::<_, sqlx::Error>((row.try_get("seen_at")?, row.try_get("snapshot")?)))
            .transpose()?)
    }

    /// What changed since `user`'s last visit in each registration of school `school_id`
    /// that has something to show: never opened and made after their first visit anywhere
    /// (new to them), or changed by others since they last left it.
    pub async fn since_visits(
        &self,
        user: &UserId,
        school_id: InstitutionId,
    ) -> Result<HashMap<RegistrationId, SinceVisit>, DbError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT r.id, v.seen_at,
                    CAST(CASE WHEN v.seen_at IS NULL THEN 0 WHEN {TEXT_CHANGED_SINCE} THEN 1 ELSE 0 END
                         AS BIGINT) AS text,
                    (SELECT COUNT(*) FROM doc_snapshots s WHERE s.doc_id = r.id
                       AND s.kind IN ('named', 'restore') AND s.created_at > v.seen_at) AS versions,
                    (SELECT COUNT(*) FROM files f JOIN file_versions fv ON fv.file_id = f.id
                       WHERE f.place = 'registration' AND f.place_id = r.id AND f.deleted_at IS NULL
                         AND fv.uploaded_by <> $1 AND fv.uploaded_at > v.seen_at) AS documents,
                    CAST(CASE WHEN v.seen_at IS NULL AND r.created_at >
                         (SELECT MIN(f.seen_at) FROM visits f WHERE f.user_id = $1) THEN 1 ELSE 0 END
                         AS BIGINT) AS new
             FROM registrations r
             LEFT JOIN visits v ON v.user_id = $1 AND v.doc_id = r.id
             WHERE r.school_id = $2"
        )))
        .bind(user.as_str())
        .bind(school_id)
        .fetch_all(&self.pool)
        .await?;
        let mut out = HashMap::new();
        for row in rows {
            let since = SinceVisit {
                seen_at: row.try_get("seen_at")?,
                text: row.try_get::<i64, _>("text")? == 1,
                versions: row.try_get::<Option<i64>, _>("versions")?.unwrap_or(0),
                documents: row.try_get::<Option<i64>, _>("documents")?.unwrap_or(0),
            };
            let new = row.try_get::<i64, _>("new")? == 1;
            if new || since.text || since.versions > 0 || since.documents > 0 {
                out.insert(row.try_get("id")?, since);
            }
        }
        Ok(out)
    }

    /// The meetings of school `school_id` whose text others changed since `user` last left
    /// them.
    pub async fn meetings_changed_since_visit(
        &self,
        user: &UserId,
        school_id: InstitutionId,
    ) -> Result<Vec<MeetingId>, DbError> {
        let rows: Vec<MeetingId> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT r.id FROM meetings r JOIN visits v ON v.user_id = $1 AND v.doc_id = r.id
             WHERE r.school_id = $2 AND {TEXT_CHANGED_SINCE}"
        )))
        .bind(user.as_str())
        .bind(school_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Engine, demo_database, demo_user};

    crate::test_both_dbs!(
        a_visit_is_kept_newest_last_and_marks_what_changed_since_sqlite,
        a_visit_is_kept_newest_last_and_marks_what_changed_since_postgres,
        a_visit_is_kept_newest_last_and_marks_what_changed_since
    );
    async fn a_visit_is_kept_newest_last_and_marks_what_changed_since(engine: Engine) {
        let (_dir, _store, db) = demo_database(engine).await;
        let tom = demo_user(&db, "linde@demo.test").await;
        let school = db.institution("100001").await.expect("school").expect("De Linde");
        let regs = db
            .registrations(school.id, &Default::default())
            .await
            .expect("registrations");
        let (first, second) = (regs[0].id, regs[1].id);
        // Never anywhere: nothing is new to them yet.
        assert!(db.since_visits(&tom, school.id).await.expect("since").is_empty());
        assert_eq!(db.visit(&tom, first.into()).await.expect("visit"), None);

        db.record_visit(&tom, first.into(), b"one").await.expect("visit");
        let (seen, snapshot) = db.visit(&tom, first.into()).await.expect("visit").expect("kept");
        assert_eq!(snapshot, b"one");
        // A later visit replaces it.
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        db.record_visit(&tom, first.into(), b"two").await.expect("visit");
        let (later, snapshot) = db.visit(&tom, first.into()).await.expect("visit").expect("kept");
        assert_eq!(snapshot, b"two");
        assert!(later >= seen);
        // Nothing changed in the one they saw; the other was made before their first visit.
        assert!(db.since_visits(&tom, school.id).await.expect("since").is_empty());

        // A registration made after their first visit is new to them until they open it.
        let sara = demo_user(&db, "clb@demo.test").await;
        let made = db
            .create_registration(crate::db::NewRegistration {
                kind: "signal".into(),
                school_id: school.id,
                school_year: crate::domain::current_school_year(),
                title: "Nieuw signaal".into(),
                theme: None,
                owner: sara.clone(),
            })
            .await
            .expect("registration");
        let since = db.since_visits(&tom, school.id).await.expect("since");
        assert_eq!(
            since.get(&made.id),
            Some(&SinceVisit {
                seen_at: None,
                text: false,
                versions: 0,
                documents: 0
            })
        );
        assert!(!since.contains_key(&second), "{since:?}");
        db.record_visit(&tom, made.id.into(), b"three")
            .await
            .expect("visit");
        assert!(db.since_visits(&tom, school.id).await.expect("since").is_empty());
    }
}

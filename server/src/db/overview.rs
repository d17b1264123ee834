//! What the overview for the doorlichting needs beyond the registrations' rows: when each
//! registration of a school last saw activity (a version of its text, a comment).

use std::collections::HashMap;

use sqlx::Row;

use super::{Db, DbError};
use crate::ids::{InstitutionId, RegistrationId};

impl Db {
    /// Per registration of school `school_id`: the latest of its newest version (taken when
    /// its text changed) and its newest comment, in ms since the epoch (absent: neither).
    pub async fn last_activity(
        &self,
        school_id: InstitutionId,
    ) -> Result<HashMap<RegistrationId, i64>, DbError> {
        let rows = sqlx::query(
            "SELECT r.id AS id, MAX(s.created_at) AS at FROM registrations r
             JOIN doc_snapshots s ON s.doc_id = r.id
             WHERE r.school_id = $1 GROUP BY r.id
             UNION ALL
             SELECT r.id, MAX(c.created_at) FROM registrations r
             JOIN comment_threads t ON t.registration_id = r.id
             JOIN comments c ON c.thread_id = t.id
             WHERE r.school_id = $1 GROUP BY r.id",
        )
        .bind(school_id)
        .fetch_all(&self.pool)
        .await?;
        let mut latest: HashMap<RegistrationId, i64> = HashMap::new();
        for row in &rows {
            let id: RegistrationId = row.try_get("id")?;
            let at: Option<i64> = row.try_get("at")?;
            if let Some(at) = at {
                let entry = latest.entry(id).or_insert(at);
                *entry = (*entry).max(at);
            }
        }
        Ok(latest)
    }

    /// Per registration of school `school_id` in school year `year`: when a member of the
    /// school last commented on it (ms since the epoch; absent: never). What a signal waits
    /// for is the school's reaction.
    pub async fn last_school_reaction(
        &self,
        school_id: InstitutionId,
        year: &str,
    ) -> Result<HashMap<RegistrationId, i64>, DbError> {
        let rows = sqlx::query(
            "SELECT t.registration_id AS id, MAX(c.created_at) AS at
             FROM comment_threads t
             JOIN comments c ON c.thread_id = t.id
             JOIN registrations r ON r.id = t.registration_id
             JOIN memberships m ON m.user_id = c.author_id AND m.role = 'school_dossier'
                  AND m.institution_id = r.school_id
             WHERE r.school_id = $1 AND r.school_year = $2 AND c.deleted_at IS NULL
             GROUP BY t.registration_id",
        )
        .bind(school_id)
        .bind(year)
        .fetch_all(&self.pool)
        .await?;
        let mut out = HashMap::new();
        for row in &rows {
            let at: Option<i64> = row.try_get("at")?;
            if let Some(at) = at {
                out.insert(row.try_get("id")?, at);
            }
        }
        Ok(out)
    }
}

//! The name guard's rows (issue 19): how many suspected names each document holds, and
//! the findings people dismissed as no name.

use sqlx::Row;

use super::{Db, DbError};
use crate::ids::{CommentId, DocId, FileId, InstitutionId, RegistrationId, UserId};

/// A finding someone dismissed as no name ("dit is geen naam").
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct NameDismissal {
    /// The name as the detector saw it, lowercase.
    pub name: String,
    /// Who dismissed it.
    pub dismissed_by: super::Person,
    /// When (ms since the epoch).
    pub dismissed_at: i64,
}

impl Db {
    /// The school a document belongs to (a registration's, a meeting's or agreements'),
    /// and the names of the institutions around it: the school, its CLBs and its LSCs. A
    /// dossier names them, and they are nobody's name.
    pub async fn document_school(&self, doc: DocId) -> Result<Option<(InstitutionId, Vec<String>)>, DbError> {
        let school: Option<InstitutionId> = sqlx::query_scalar(
            "SELECT school_id FROM registrations WHERE id = $1
             UNION ALL SELECT school_id FROM meetings WHERE id = $1
             UNION ALL SELECT school_id FROM lsc_agreements WHERE id = $1",
        )
        .bind(doc)
        .fetch_optional(&self.pool)
        .await?;
        let Some(school) = school else { return Ok(None) };
        Ok(Some((school, self.institutions_around(school).await?)))
    }

    /// The names of school `school`, its CLBs and its LSCs.
    pub async fn institutions_around(&self, school: InstitutionId) -> Result<Vec<String>, DbError> {
        Ok(sqlx::query_scalar(
            "SELECT name FROM institutions WHERE id = $1
             UNION SELECT i.name FROM clb_schools c JOIN institutions i ON i.id = c.clb_id
                   WHERE c.school_id = $1
             UNION SELECT i.name FROM lsc_schools l JOIN institutions i ON i.id = l.lsc_id
                   WHERE l.school_id = $1",
        )
        .bind(school)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The text of every comment of registration `registration` not deleted: (comment,
    /// text), oldest first.
    pub async fn comment_texts(
        &self,
        registration: RegistrationId,
    ) -> Result<Vec<(CommentId, String)>, DbError> {
        let rows = sqlx::query(
            "SELECT c.id, c.body FROM comments c JOIN comment_threads t ON t.id = c.thread_id
             WHERE t.registration_id = $1 AND c.deleted_at IS NULL ORDER BY c.created_at, c.id",
        )
        .bind(registration)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("id")?, row.try_get("body")?)))
            .collect()
    }

    /// The registrations of school `school` with comments not deleted.
    pub async fn registrations_with_comments(
        &self,
        school: InstitutionId,
    ) -> Result<Vec<RegistrationId>, DbError> {
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT t.registration_id FROM comments c
             JOIN comment_threads t ON t.id = c.thread_id
             JOIN registrations r ON r.id = t.registration_id
             WHERE r.school_id = $1 AND c.deleted_at IS NULL",
        )
        .bind(school)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The findings dismissed in `doc`, oldest first.
    pub async fn name_dismissals(&self, doc: DocId) -> Result<Vec<NameDismissal>, DbError> {
        self.dismissals_under(doc.to_string()).await
    }

    /// The findings dismissed in file `file`'s text, oldest first.
    pub async fn file_name_dismissals(&self, file: FileId) -> Result<Vec<NameDismissal>, DbError> {
        self.dismissals_under(file.to_string()).await
    }

    /// Records that `user` dismissed `name` (lowercase) in file `file`'s text; false if it
    /// was already.
    pub async fn dismiss_file_name(&self, file: FileId, name: &str, user: &UserId) -> Result<bool, DbError> {
        self.dismiss_under(file.to_string(), name, user).await
    }

    async fn dismissals_under(&self, key: String) -> Result<Vec<NameDismissal>, DbError> {
        let rows = sqlx::query(
            "SELECT d.name, d.dismissed_at, u.id AS user_id, u.display_name
             FROM name_dismissals d JOIN users u ON u.id = d.dismissed_by
             WHERE d.doc_id = $1 ORDER BY d.dismissed_at, d.name",
        )
        .bind(key)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(NameDismissal {
                    name: row.try_get("name")?,
                    dismissed_by: super::Person {
                        id: UserId::from(row.try_get::<String, _>("user_id")?),
                        name: row.try_get("display_name")?,
                    },
                    dismissed_at: row.try_get("dismissed_at")?,
                })
            })
            .collect()
    }

    /// Records that `user` dismissed `name` (lowercase) in `doc`; false if it was already.
    pub async fn dismiss_name(&self, doc: DocId, name: &str, user: &UserId) -> Result<bool, DbError> {
        self.dismiss_under(doc.to_string(), name, user).await
    }

    async fn dismiss_under(&self, key: String, name: &str, user: &UserId) -> Result<bool, DbError> {
        let done = sqlx::query(
            "INSERT INTO name_dismissals (doc_id, name, dismissed_by, dismissed_at)
             VALUES ($1, $2, $3, $4) ON CONFLICT (doc_id, name) DO NOTHING",
        )
        .bind(key)
        .bind(name)
        .bind(user.as_str())
        .bind(super::now())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Keeps how many suspected names `doc` of school `school` holds now.
    pub async fn set_name_findings(
        &self,
        doc: DocId,
        school: InstitutionId,
        open: usize,
    ) -> Result<(), DbError> {
        sqlx::query(
            "INSERT INTO name_findings (doc_id, school_id, open, checked_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (doc_id) DO UPDATE SET open = excluded.open, checked_at = excluded.checked_at",
        )
        .bind(doc)
        .bind(school)
        .bind(i64::try_from(open).unwrap_or(i64::MAX))
        .bind(super::now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The documents of school `school` with open findings: (document, how many, when checked).
    pub async fn open_name_findings(&self, school: InstitutionId) -> Result<Vec<(DocId, i64, i64)>, DbError> {
        let rows = sqlx::query(
            "SELECT doc_id, open, checked_at FROM name_findings
             WHERE school_id = $1 AND open > 0 ORDER BY checked_at DESC",
        )
        .bind(school)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get("doc_id")?,
                    row.try_get("open")?,
                    row.try_get("checked_at")?,
                ))
            })
            .collect()
    }
}

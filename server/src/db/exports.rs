//! Exports made in the background: how far each is, and the finished file for its maker
//! (`http/export_jobs.rs` makes them). Kept in the database, not in the node's memory, so
//! that the page following an export may ask any node.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Db, DbError, now};
use crate::ids::{ExportId, InstitutionId, UserId};

/// A running export whose progress has not moved for this long belongs to a node that
/// died (or was stopped) while making it: it is read as failed.
pub const STALE_MS: i64 = 120_000;

/// How long a finished export is kept for downloading.
pub const KEPT_MS: i64 = 3_600_000;

/// An export as its maker follows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportJob {
    /// Its id.
    pub id: ExportId,
    /// `pdf` or `docx`.
    pub format: String,
    /// The file name it is saved under.
    pub name: String,
    /// Registrations to gather.
    pub total: i64,
    /// Registrations gathered.
    pub done: i64,
    /// `running`, `ready` or `failed` (a running export that stopped moving is failed).
    pub status: String,
    /// The finished file's size in bytes.
    pub size: Option<i64>,
    /// When it was asked for (ms since the epoch).
    pub created_at: i64,
}

/// What a new export is.
pub struct NewExport<'a> {
    /// Who asked (the only one who may follow and download it).
    pub by: &'a UserId,
    /// Of which school.
    pub school: InstitutionId,
    /// `pdf` or `docx`.
    pub format: &'a str,
    /// The file name.
    pub name: &'a str,
    /// Registrations to gather.
    pub total: i64,
}

fn row_export(row: &AnyRow, at: i64) -> Result<ExportJob, DbError> {
    let mut status: String = row.try_get("status")?;
    let updated_at: i64 = row.try_get("updated_at")?;
    if status == "running" && updated_at < at - STALE_MS {
        status = "failed".into();
    }
    Ok(ExportJob {
        id: row.try_get("id")?,
        format: row.try_get("format")?,
        name: row.try_get("name")?,
        total: row.try_get("total")?,
        done: row.try_get("done")?,
        status,
        size: row.try_get("size")?,
        created_at: row.try_get("created_at")?,
    })
}

impl Db {
    /// Records a new running export; its id.
    pub async fn create_export(&self, new: &NewExport<'_>) -> Result<ExportId, DbError> {
        let id = ExportId::new();
        let at = now();
        sqlx::query(
            "INSERT INTO exports (id, user_id, school_id, format, name, total, done, status, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, 0, 'running', $7, $7)",
        )
        .bind(id)
        .bind(new.by.as_str())
        .bind(new.school.0)
        .bind(new.format)
        .bind(new.name)
        .bind(new.total)
        .bind(at)
        .execute(&self.pool)
        .await?;
        Ok(id)
    }

    /// How many exports a user has running (those that stopped moving not counted).
    pub async fn running_exports(&self, by: &UserId) -> Result<i64, DbError> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM exports WHERE user_id = $1 AND status = 'running' AND updated_at >= $2",
        )
        .bind(by.as_str())
        .bind(now() - STALE_MS)
        .fetch_one(&self.pool)
        .await?)
    }

    /// Notes that `done` registrations of a running export are gathered (and that its node
    /// is alive).
    pub async fn export_progress(&self, id: ExportId, done: i64) -> Result<(), DbError> {
        sqlx::query("UPDATE exports SET done = $2, updated_at = $3 WHERE id = $1 AND status = 'running'")
            .bind(id)
            .bind(done)
            .bind(now())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Keeps the finished file of a running export: it is ready.
    pub async fn finish_export(&self, id: ExportId, content: &[u8]) -> Result<(), DbError> {
        sqlx::query(
            "UPDATE exports SET status = 'ready', done = total, content = $2, updated_at = $3
             WHERE id = $1 AND status = 'running'",
        )
        .bind(id)
        .bind(content)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Marks a running export failed.
    pub async fn fail_export(&self, id: ExportId) -> Result<(), DbError> {
        sqlx::query(
            "UPDATE exports SET status = 'failed', updated_at = $2 WHERE id = $1 AND status = 'running'",
        )
        .bind(id)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// An export of `by`'s (none for anyone else's).
    pub async fn export(&self, id: ExportId, by: &UserId) -> Result<Option<ExportJob>, DbError> {
        let row = sqlx::query(
            "SELECT id, format, name, total, done, status, CAST(LENGTH(content) AS BIGINT) AS size,
                    created_at, updated_at
             FROM exports WHERE id = $1 AND user_id = $2",
        )
        .bind(id)
        .bind(by.as_str())
        .fetch_optional(&self.pool)
        .await?;
        let at = now();
        row.map(|row| row_export(&row, at)).transpose()
    }

    /// The finished file of an export of `by`'s: none unless it is ready.
    pub async fn export_file(&self, id: ExportId, by: &UserId) -> Result<Option<Vec<u8>>, DbError> {
        Ok(sqlx::query_scalar(
            "SELECT content FROM exports WHERE id = $1 AND user_id = $2 AND status = 'ready'",
        )
        .bind(id)
        .bind(by.as_str())
        .fetch_optional(&self.pool)
        .await?
        .flatten())
    }

    /// Removes the exports asked for before `before` (ms since the epoch); how many.
    pub async fn purge_exports(&self, before: i64) -> Result<u64, DbError> {
        Ok(sqlx::query("DELETE FROM exports WHERE created_at < $1")
            .bind(before)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::{KEPT_MS, NewExport, STALE_MS};
    use crate::testing::{Engine, demo_database, demo_user};

    crate::test_both_dbs!(
        an_export_is_followed_finished_and_purged_and_only_its_maker_sees_it_sqlite,
        an_export_is_followed_finished_and_purged_and_only_its_maker_sees_it_postgres,
        an_export_is_followed_finished_and_purged_and_only_its_maker_sees_it
    );
    async fn an_export_is_followed_finished_and_purged_and_only_its_maker_sees_it(engine: Engine) {
        let (_dir, _store, db) = demo_database(engine).await;
        let school = db.institution("100001").await.expect("school").expect("De Linde");
        let tom = demo_user(&db, "linde@demo.test").await;
        let clb = demo_user(&db, "clb@demo.test").await;
        let new = |by| NewExport {
            by,
            school: school.id,
            format: "pdf",
            name: "samenwerkingsdossier-100001-2026-2027.pdf",
            total: 3,
        };

        let id = db.create_export(&new(&tom)).await.expect("create");
        let job = db.export(id, &tom).await.expect("read").expect("his");
        assert_eq!(
            (job.status.as_str(), job.done, job.total, job.size),
            ("running", 0, 3, None)
        );
        assert_eq!(db.export(id, &clb).await.expect("read"), None, "not the CLB's");
        assert_eq!(db.running_exports(&tom).await.expect("count"), 1);
        assert_eq!(db.running_exports(&clb).await.expect("count"), 0);
        assert_eq!(
            db.export_file(id, &tom).await.expect("file"),
            None,
            "not ready yet"
        );

        db.export_progress(id, 2).await.expect("progress");
        assert_eq!(db.export(id, &tom).await.expect("read").expect("his").done, 2);
        db.finish_export(id, b"%PDF-1.7 ...").await.expect("finish");
        let job = db.export(id, &tom).await.expect("read").expect("his");
        assert_eq!((job.status.as_str(), job.done, job.size), ("ready", 3, Some(12)));
        assert_eq!(
            db.export_file(id, &tom).await.expect("file").as_deref(),
            Some(&b"%PDF-1.7 ..."[..])
        );
        assert_eq!(db.export_file(id, &clb).await.expect("file"), None);
        db.fail_export(id)
            .await
            .expect("fail after ready changes nothing");
        assert_eq!(
            db.export(id, &tom).await.expect("read").expect("his").status,
            "ready"
        );
        assert_eq!(db.running_exports(&tom).await.expect("count"), 0);

        let failed = db.create_export(&new(&tom)).await.expect("create");
        db.fail_export(failed).await.expect("fail");
        assert_eq!(
            db.export(failed, &tom).await.expect("read").expect("his").status,
            "failed"
        );
        assert_eq!(db.export_file(failed, &tom).await.expect("file"), None);

        // A node that dies leaves its export running, unmoved: read as failed, not counted.
        let orphan = db.create_export(&new(&tom)).await.expect("create");
        sqlx::query("UPDATE exports SET updated_at = updated_at - $2 WHERE id = $1")
            .bind(orphan.to_string())
            .bind(STALE_MS + 1)
            .execute(&db.pool)
            .await
            .expect("age it");
        assert_eq!(
            db.export(orphan, &tom).await.expect("read").expect("his").status,
            "failed"
        );
        assert_eq!(db.running_exports(&tom).await.expect("count"), 0);

        assert_eq!(
            db.purge_exports(crate::db::now() - KEPT_MS).await.expect("purge"),
            0
        );
        assert_eq!(db.purge_exports(crate::db::now() + 1).await.expect("purge"), 3);
        assert_eq!(db.export(id, &tom).await.expect("read"), None, "purged");
    }
}

//! Files kept in the dossier (issue 17): their places, versions, who uploaded and who
//! deleted them; and, on PostgreSQL, their contents in chunks (`files::blobs`).

use std::path::Path;

use sqlx::Row;
use tokio::io::AsyncReadExt;

use super::comments::person;
use super::{Db, DbError, Person, now};
use crate::ids::{FileId, FileVersionId, InstitutionId, UserId};
use crate::storage::Engine;

/// One version of a file, as the API shows it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct FileVersion {
    /// Its id.
    #[schema(value_type = String, format = "uuid")]
    pub id: FileVersionId,
    /// Its name as uploaded (sanitised; for display only).
    pub name: String,
    /// Its type (`application/pdf`, …), as its content showed it to be.
    pub mime: String,
    /// Its size in bytes.
    pub size: i64,
    /// The SHA-256 of its content (lowercase hex).
    pub sha256: String,
    /// What the uploader said about it (may be empty).
    pub note: String,
    /// Who uploaded it.
    pub uploaded_by: Person,
    /// When (ms since the epoch).
    pub uploaded_at: i64,
    /// Suspected names of pupils or teachers in its name (the name guard).
    pub names: Vec<crate::name_guard::NameFinding>,
    /// What the name guard found in its text.
    pub text_check: TextCheck,
}

/// What the name guard found in a version's text (the names stay in the file; ask
/// `GET /api/files/{id}/names` for them).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct TextCheck {
    /// `pending` (not read yet), `checked`, `unreadable` (no text came out: a scan, a
    /// damaged or protected file) or `none` (an image: no text to read).
    pub status: String,
    /// How many suspected names nobody dismissed are in it (0 unless `checked`).
    pub names: i64,
    /// When it was read (ms since the epoch).
    pub checked_at: Option<i64>,
}

/// A version whose text the name guard has not read yet.
pub struct UncheckedVersion {
    pub file: FileId,
    pub version: FileVersionId,
}

/// A file whose newest version holds suspected names, for a school's list.
pub struct FileWithNames {
    pub id: FileId,
    pub name: String,
    pub place: String,
    pub place_id: String,
    pub names: i64,
    pub checked_at: i64,
}

/// A file with its versions, newest first.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct StoredFile {
    /// Its id.
    #[schema(value_type = String, format = "uuid")]
    pub id: FileId,
    /// Where it is kept: `school`, `registration` or `agreement`.
    pub place: String,
    /// The registration's or agreements' id (`""` for the school's own documents).
    pub place_id: String,
    /// The school it belongs to.
    #[serde(skip)]
    pub school_id: InstitutionId,
    /// Who first uploaded it.
    pub created_by: Person,
    /// When (ms since the epoch).
    pub created_at: i64,
    /// Its versions, newest first (never empty).
    pub versions: Vec<FileVersion>,
    /// Who deleted it, when and why; restorable until 30 days after.
    pub deleted: Option<Deletion>,
}

/// A file's deletion.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Deletion {
    /// Who deleted it.
    pub by: Person,
    /// When (ms since the epoch).
    pub at: i64,
    /// Why.
    pub reason: String,
}

/// A new version's facts.
pub struct NewVersion<'a> {
    pub sha256: &'a str,
    pub size: u64,
    pub mime: &'a str,
    pub name: &'a str,
    pub note: &'a str,
    pub by: &'a UserId,
}

const FILE_COLUMNS: &str = "f.id, f.place, f.place_id, f.school_id, f.created_at,
     cu.id AS created_id, cu.display_name AS created_name,
     f.deleted_at, f.delete_reason, du.id AS deleted_id, du.display_name AS deleted_name";
const FILE_TABLES: &str = "files f JOIN users cu ON cu.id = f.created_by
     LEFT JOIN users du ON du.id = f.deleted_by";
const VERSION_COLUMNS: &str = "v.id, v.file_id, v.name, v.mime, v.size, v.sha256, v.note, v.uploaded_at,
     u.id AS user_id, u.display_name AS user_name,
     c.outcome, c.names AS text_names, c.checked_at AS text_checked_at";
const VERSION_TABLES: &str = "file_versions v JOIN users u ON u.id = v.uploaded_by
     LEFT JOIN file_text_checks c ON c.version_id = v.id";

/// The MIME types whose text is read, as an SQL list.
const IMAGE_TYPES: &str = "('image/png', 'image/jpeg')";

fn version_of(row: &sqlx::any::AnyRow) -> Result<FileVersion, DbError> {
    let name: String = row.try_get("name")?;
    // The name without its extension, and with separators as spaces: `lotte_peeters.pdf`.
    let stem = name.rsplit_once('.').map_or(name.as_str(), |(stem, _)| stem);
    let readable: String = stem
        .chars()
        .map(|c| if c == '_' || c == '-' { ' ' } else { c })
        .collect();
    let mime: String = row.try_get("mime")?;
    let outcome: Option<String> = row.try_get("outcome")?;
    let text_check = TextCheck {
        status: match outcome {
            Some(outcome) => outcome,
            None if crate::files::FileKind::from_mime(&mime).is_some_and(|k| k.has_text()) => {
                "pending".into()
            }
            None => "none".into(),
        },
        names: row.try_get::<Option<i64>, _>("text_names")?.unwrap_or(0),
        checked_at: row.try_get("text_checked_at")?,
    };
    Ok(FileVersion {
        id: row.try_get("id")?,
        text_check,
        names: crate::name_guard::text_findings(&readable),
        name,
        mime,
        size: row.try_get("size")?,
        sha256: row.try_get("sha256")?,
        note: row.try_get("note")?,
        uploaded_by: person(row, "user_id", "user_name")?.ok_or(DbError::NotFound("uploader"))?,
        uploaded_at: row.try_get("uploaded_at")?,
    })
}

impl Db {
    /// Whether file contents live in the database (PostgreSQL: several nodes see them).
    pub fn holds_blobs(&self) -> bool {
        self.engine == Engine::Postgres
    }

    /// Whether the database holds the content with this hash.
    pub async fn has_blob(&self, sha256: &str) -> Result<bool, DbError> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM blobs WHERE sha256 = $1")
            .bind(sha256)
            .fetch_one(&self.pool)
            .await?;
        Ok(n > 0)
    }

    /// Stores the content of the file at `path` (`size` bytes, hash `sha256`) in chunks of
    /// `chunk` bytes, in one transaction: it is there whole or not at all. The same content
    /// stored at the same time by another upload is one blob (the second waits, then finds
    /// every row there).
    pub async fn put_blob(&self, sha256: &str, size: u64, path: &Path, chunk: usize) -> Result<(), DbError> {
        let io = |e: std::io::Error| DbError::Sqlx(sqlx::Error::Io(e));
        let mut file = tokio::fs::File::open(path).await.map_err(io)?;
        let mut tx = self.pool.begin().await?;
        let mut seq: i64 = 0;
        loop {
            let mut data = Vec::with_capacity(chunk);
            (&mut file)
                .take(chunk as u64)
                .read_to_end(&mut data)
                .await
                .map_err(io)?;
            if data.is_empty() && seq > 0 {
                break;
            }
            sqlx::query(
                "INSERT INTO blob_chunks (sha256, seq, data) VALUES ($1, $2, $3)
                 ON CONFLICT (sha256, seq) DO NOTHING",
            )
            .bind(sha256)
            .bind(seq)
            .bind(data.clone())
            .execute(&mut *tx)
            .await?;
            seq += 1;
            if data.len() < chunk {
                break;
            }
        }
        sqlx::query(
            "INSERT INTO blobs (sha256, size, chunks) VALUES ($1, $2, $3) ON CONFLICT (sha256) DO NOTHING",
        )
        .bind(sha256)
        .bind(i64::try_from(size).unwrap_or(i64::MAX))
        .bind(seq)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Chunk `seq` of the content with this hash.
    pub async fn blob_chunk(&self, sha256: &str, seq: u64) -> Result<Option<Vec<u8>>, DbError> {
        Ok(
            sqlx::query_scalar("SELECT data FROM blob_chunks WHERE sha256 = $1 AND seq = $2")
                .bind(sha256)
                .bind(i64::try_from(seq).unwrap_or(i64::MAX))
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Keeps a new file at a place of school `school` with its first version.
    pub async fn create_file(
        &self,
        school: InstitutionId,
        place: &str,
        place_id: &str,
        first: &NewVersion<'_>,
    ) -> Result<FileId, DbError> {
        let id = FileId::new();
        let at = now();
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO files (id, school_id, place, place_id, created_by, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(school)
        .bind(place)
        .bind(place_id)
        .bind(first.by.as_str())
        .bind(at)
        .execute(&mut *tx)
        .await?;
        insert_version(&mut tx, id, first, at).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Adds a version to file `id`.
    pub async fn add_file_version(&self, id: FileId, version: &NewVersion<'_>) -> Result<(), DbError> {
        let mut tx = self.pool.begin().await?;
        insert_version(&mut tx, id, version, now()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// File `id` with its versions, deleted or not.
    pub async fn file(&self, id: FileId) -> Result<Option<StoredFile>, DbError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {FILE_COLUMNS} FROM {FILE_TABLES} WHERE f.id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let mut files = self.with_versions(vec![row]).await?;
        Ok(files.pop())
    }

    /// The files kept at a place of school `school`, newest upload first.
    pub async fn files_at(
        &self,
        school: InstitutionId,
        place: &str,
        place_id: &str,
    ) -> Result<Vec<StoredFile>, DbError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {FILE_COLUMNS} FROM {FILE_TABLES}
             WHERE f.school_id = $1 AND f.place = $2 AND f.place_id = $3 AND f.deleted_at IS NULL"
        )))
        .bind(school)
        .bind(place)
        .bind(place_id)
        .fetch_all(&self.pool)
        .await?;
        let mut files = self.with_versions(rows).await?;
        files.sort_by_key(|f| std::cmp::Reverse(f.versions.first().map_or(0, |v| v.uploaded_at)));
        Ok(files)
    }

    /// The deleted files of school `school` (any place) deleted after `since`, last first.
    pub async fn deleted_files(&self, school: InstitutionId, since: i64) -> Result<Vec<StoredFile>, DbError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {FILE_COLUMNS} FROM {FILE_TABLES}
             WHERE f.school_id = $1 AND f.deleted_at > $2 ORDER BY f.deleted_at DESC"
        )))
        .bind(school)
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        self.with_versions(rows).await
    }

    /// Marks file `id` deleted by `by` because of `reason`; false if it was already.
    pub async fn delete_file(&self, id: FileId, by: &UserId, reason: &str) -> Result<bool, DbError> {
        let done = sqlx::query(
            "UPDATE files SET deleted_at = $2, deleted_by = $3, delete_reason = $4
             WHERE id = $1 AND deleted_at IS NULL",
        )
        .bind(id)
        .bind(now())
        .bind(by.as_str())
        .bind(reason)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Brings deleted file `id` back; false if it was not deleted.
    pub async fn restore_file(&self, id: FileId) -> Result<bool, DbError> {
        let done = sqlx::query(
            "UPDATE files SET deleted_at = NULL, deleted_by = NULL, delete_reason = NULL
             WHERE id = $1 AND deleted_at IS NOT NULL",
        )
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Removes the files deleted before `before` with their versions, for good; the hashes
    /// of content no version names any more (to be removed from the blob store).
    pub async fn purge_files(&self, before: i64) -> Result<Vec<String>, DbError> {
        let mut tx = self.pool.begin().await?;
        let hashes: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT v.sha256 FROM file_versions v JOIN files f ON f.id = v.file_id
             WHERE f.deleted_at < $1",
        )
        .bind(before)
        .fetch_all(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM file_text_checks WHERE version_id IN (SELECT v.id FROM file_versions v
             JOIN files f ON f.id = v.file_id WHERE f.deleted_at < $1)",
        )
        .bind(before)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM name_dismissals WHERE doc_id IN (SELECT id FROM files WHERE deleted_at < $1)",
        )
        .bind(before)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM file_versions WHERE file_id IN (SELECT id FROM files WHERE deleted_at < $1)",
        )
        .bind(before)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM files WHERE deleted_at < $1")
            .bind(before)
            .execute(&mut *tx)
            .await?;
        let mut unused = Vec::new();
        for sha in hashes {
            let n: i64 = sqlx::query_scalar("SELECT count(*) FROM file_versions WHERE sha256 = $1")
                .bind(&sha)
                .fetch_one(&mut *tx)
                .await?;
            if n == 0 {
                unused.push(sha);
            }
        }
        tx.commit().await?;
        Ok(unused)
    }

    /// Removes content from the database, unless a version names it (again): the foreign
    /// key refuses, and the content stays.
    pub async fn remove_blob(&self, sha256: &str) -> Result<bool, DbError> {
        let mut tx = self.pool.begin().await?;
        let removed = sqlx::query("DELETE FROM blobs WHERE sha256 = $1")
            .bind(sha256)
            .execute(&mut *tx)
            .await;
        match removed {
            Ok(_) => {
                sqlx::query("DELETE FROM blob_chunks WHERE sha256 = $1")
                    .bind(sha256)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(true)
            }
            Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Keeps what reading version `version`'s text found: `checked` with `names` suspected
    /// names, or `unreadable`.
    pub async fn set_text_check(
        &self,
        version: FileVersionId,
        outcome: &str,
        names: usize,
    ) -> Result<(), DbError> {
        sqlx::query(
            "INSERT INTO file_text_checks (version_id, outcome, names, checked_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (version_id) DO UPDATE
             SET outcome = excluded.outcome, names = excluded.names, checked_at = excluded.checked_at",
        )
        .bind(version)
        .bind(outcome)
        .bind(i64::try_from(names).unwrap_or(i64::MAX))
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Versions with text that were never read (a node stopped before it read them), of
    /// files not deleted, uploaded before `before`, oldest first, at most `limit`.
    pub async fn unchecked_versions(
        &self,
        before: i64,
        limit: i64,
    ) -> Result<Vec<UncheckedVersion>, DbError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT v.id, v.file_id FROM file_versions v
             JOIN files f ON f.id = v.file_id
             LEFT JOIN file_text_checks c ON c.version_id = v.id
             WHERE c.version_id IS NULL AND f.deleted_at IS NULL AND v.uploaded_at < $1
               AND v.mime NOT IN {IMAGE_TYPES}
             ORDER BY v.uploaded_at LIMIT $2"
        )))
        .bind(before)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(UncheckedVersion {
                    file: row.try_get("file_id")?,
                    version: row.try_get("id")?,
                })
            })
            .collect()
    }

    /// The files of school `school`, not deleted, whose newest version holds suspected
    /// names, last checked first.
    pub async fn files_with_names(&self, school: InstitutionId) -> Result<Vec<FileWithNames>, DbError> {
        let rows = sqlx::query(
            "SELECT f.id, f.place, f.place_id, v.name, c.names, c.checked_at
             FROM files f
             JOIN file_versions v ON v.id = (SELECT l.id FROM file_versions l WHERE l.file_id = f.id
                                             ORDER BY l.uploaded_at DESC, l.id DESC LIMIT 1)
             JOIN file_text_checks c ON c.version_id = v.id
             WHERE f.school_id = $1 AND f.deleted_at IS NULL AND c.names > 0
             ORDER BY c.checked_at DESC",
        )
        .bind(school)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(FileWithNames {
                    id: row.try_get("id")?,
                    name: row.try_get("name")?,
                    place: row.try_get("place")?,
                    place_id: row.try_get("place_id")?,
                    names: row.try_get("names")?,
                    checked_at: row.try_get("checked_at")?,
                })
            })
            .collect()
    }

    async fn with_versions(&self, rows: Vec<sqlx::any::AnyRow>) -> Result<Vec<StoredFile>, DbError> {
        let mut files = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: FileId = row.try_get("id")?;
            let versions = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {VERSION_COLUMNS} FROM {VERSION_TABLES}
                 WHERE v.file_id = $1 ORDER BY v.uploaded_at DESC, v.id DESC"
            )))
            .bind(id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(version_of)
            .collect::<Result<Vec<_>, _>>()?;
            files.push(StoredFile {
                id,
                place: row.try_get("place")?,
                place_id: row.try_get("place_id")?,
                school_id: row.try_get("school_id")?,
                created_by: person(row, "created_id", "created_name")?
                    .ok_or(DbError::NotFound("uploader"))?,
                created_at: row.try_get("created_at")?,
                versions,
                deleted: match row.try_get::<Option<i64>, _>("deleted_at")? {
                    None => None,
                    Some(at) => Some(Deletion {
                        by: person(row, "deleted_id", "deleted_name")?.ok_or(DbError::NotFound("deleter"))?,
                        at,
                        reason: row
                            .try_get::<Option<String>, _>("delete_reason")?
                            .unwrap_or_default(),
                    }),
                },
            });
        }
        Ok(files)
    }
}

async fn insert_version(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    file: FileId,
    v: &NewVersion<'_>,
    at: i64,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO file_versions (id, file_id, sha256, size, mime, name, note, uploaded_by, uploaded_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(FileVersionId::new())
    .bind(file)
    .bind(v.sha256)
    .bind(i64::try_from(v.size).unwrap_or(i64::MAX))
    .bind(v.mime)
    .bind(v.name)
    .bind(v.note)
    .bind(v.by.as_str())
    .bind(at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

//! Where the content of files lives, by its SHA-256 (the same bytes are stored once): on
//! the embedded default's disk under the data directory, or in PostgreSQL when several
//! nodes must see the same files (docs/architecture.md, "Documents"). An upload is first
//! spooled to a temporary file on this node, hashed and counted as it streams, so that no
//! file is ever held whole in memory and one cut off halfway leaves nothing behind.

use std::path::{Path, PathBuf};

use axum::body::{Body, Bytes};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use thiserror::Error;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use crate::db::Db;

/// Bytes of one chunk of a blob in PostgreSQL, and of one read from disk.
pub const CHUNK: usize = 256 * 1024;

/// Why a file's content could not be taken or given.
#[derive(Debug, Error)]
pub enum BlobError {
    /// The upload is larger than the limit.
    #[error("the file is larger than {0} bytes")]
    TooLarge(u64),
    /// The upload stopped before its end (the client went away).
    #[error("the upload was cut off")]
    Cut,
    /// The disk failed.
    #[error("file storage: {0}")]
    Io(#[from] std::io::Error),
    /// The database failed.
    #[error("file storage: {0}")]
    Db(#[from] crate::db::DbError),
    /// A blob that a version names is not there.
    #[error("the file's content is missing")]
    Missing,
}

/// An upload on this node's disk, hashed; removed when dropped unless kept.
pub struct Spooled {
    path: PathBuf,
    /// Its SHA-256, lowercase hex.
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
}

impl Spooled {
    /// Where it is, for reading it again (to tell its type).
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Spooled {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Streams `body` into a temporary file under `dir`, at most `max` bytes (more → refused
/// as soon as the limit is passed, without reading the rest).
pub async fn spool(body: Body, dir: &Path, max: u64) -> Result<Spooled, BlobError> {
    tokio::fs::create_dir_all(dir).await?;
    let path = dir.join(format!("upload-{}", uuid::Uuid::new_v4()));
    let mut spooled = Spooled {
        path,
        sha256: String::new(),
        size: 0,
    };
    let mut file = tokio::fs::File::create(&spooled.path).await?;
    let mut hasher = Sha256::new();
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| BlobError::Cut)?;
        spooled.size += chunk.len() as u64;
        if spooled.size > max {
            return Err(BlobError::TooLarge(max));
        }
        hasher.update(&chunk);
        file.write_all(&chunk).await?;
    }
    file.sync_all().await?;
    spooled.sha256 = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Ok(spooled)
}

/// Where `samen admin backup --to <file>` puts the documents' contents: `<file>.files`.
pub fn backup_dir(to: &Path) -> PathBuf {
    let mut name = to.as_os_str().to_owned();
    name.push(".files");
    PathBuf::from(name)
}

/// Copies the documents' contents under `data` (the embedded default's) to `to`, in the
/// same layout, without the spool; how many. A hard link where the file system allows
/// (contents never change), a copy where not.
pub fn copy_contents(data: &Path, to: &Path) -> std::io::Result<usize> {
    let from = data.join("files");
    let mut copied = 0;
    let Ok(dirs) = std::fs::read_dir(&from) else {
        return Ok(0);
    };
    for dir in dirs {
        let dir = dir?;
        if dir.file_name() == "incoming" || !dir.file_type()?.is_dir() {
            continue;
        }
        let target = to.join(dir.file_name());
        std::fs::create_dir_all(&target)?;
        for file in std::fs::read_dir(dir.path())? {
            let file = file?;
            let dest = target.join(file.file_name());
            if std::fs::hard_link(file.path(), &dest).is_err() {
                std::fs::copy(file.path(), &dest)?;
            }
            copied += 1;
        }
    }
    Ok(copied)
}

/// The store of file contents.
#[derive(Debug, Clone)]
pub struct Blobs {
    /// `<data>/files` on the embedded default.
    dir: PathBuf,
    /// The database, which holds the contents itself on PostgreSQL.
    db: Db,
    /// Held (shared) by an upload from keeping its content until its row names it, and
    /// (alone) by the purge: content is never removed between the two. Across nodes the
    /// database's foreign key does the same (`remove_blob`).
    keeping: std::sync::Arc<tokio::sync::RwLock<()>>,
}

/// How long a spool file may be left before the purge takes it for a crash's leftover.
const SPOOL_LEFTOVER: std::time::Duration = std::time::Duration::from_secs(3600);

impl Blobs {
    /// Contents under `data` (the embedded default) or in `db` (PostgreSQL).
    pub fn new(data: &Path, db: Db) -> Self {
        Blobs {
            dir: data.join("files"),
            db,
            keeping: std::sync::Arc::default(),
        }
    }

    /// Held while an upload's content is kept and its row written.
    pub async fn hold(&self) -> tokio::sync::RwLockReadGuard<'_, ()> {
        self.keeping.read().await
    }

    /// Removes for good the files deleted before `before` (ms since the epoch), the content
    /// no version names any more, and spool files a crash left; how many contents went.
    pub async fn purge(&self, before: i64) -> Result<usize, BlobError> {
        let _alone = self.keeping.write().await;
        let mut removed = 0;
        for sha in self.db.purge_files(before).await? {
            if self.db.holds_blobs() {
                removed += usize::from(self.db.remove_blob(&sha).await?);
                continue;
            }
            match tokio::fs::remove_file(self.path_of(&sha)).await {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
        }
        if let Ok(mut spool) = tokio::fs::read_dir(self.spool_dir()).await {
            while let Ok(Some(entry)) = spool.next_entry().await {
                let old = entry
                    .metadata()
                    .await
                    .and_then(|m| m.modified())
                    .is_ok_and(|t| t.elapsed().is_ok_and(|age| age > SPOOL_LEFTOVER));
                if old {
                    let _ = tokio::fs::remove_file(entry.path()).await;
                }
            }
        }
        Ok(removed)
    }

    /// Where uploads are spooled on this node.
    pub fn spool_dir(&self) -> PathBuf {
        self.dir.join("incoming")
    }

    fn path_of(&self, sha256: &str) -> PathBuf {
        self.dir.join(&sha256[..2]).join(sha256)
    }

    /// Keeps the spooled content (once: the same content kept before stays as it is).
    pub async fn keep(&self, spooled: Spooled) -> Result<(), BlobError> {
        if self.db.holds_blobs() {
            if !self.db.has_blob(&spooled.sha256).await? {
                self.db
                    .put_blob(&spooled.sha256, spooled.size, spooled.path(), CHUNK)
                    .await?;
            }
            return Ok(());
        }
        let target = self.path_of(&spooled.sha256);
        if tokio::fs::try_exists(&target).await? {
            return Ok(());
        }
        if let Some(parent) = target.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        // Same file system (both under the data directory): the rename is atomic, and a
        // file is either wholly there or not at all.
        tokio::fs::rename(spooled.path(), &target).await?;
        if let Some(parent) = target.parent() {
            tokio::fs::File::open(parent).await?.sync_all().await?;
        }
        Ok(())
    }

    /// The bytes `from..to` (exclusive) of a blob of `size` bytes, as a stream.
    pub async fn read(&self, sha256: &str, from: u64, to: u64) -> Result<Body, BlobError> {
        if self.db.holds_blobs() {
            let db = self.db.clone();
            let sha = sha256.to_owned();
            let stream = futures_util::stream::unfold(from, move |at| {
                let (db, sha) = (db.clone(), sha.clone());
                async move {
                    if at >= to {
                        return None;
                    }
                    let seq = at / CHUNK as u64;
                    let start = (at % CHUNK as u64) as usize;
                    let chunk = match db.blob_chunk(&sha, seq).await {
                        Ok(Some(chunk)) => chunk,
                        Ok(None) => return Some((Err(std::io::Error::other("chunk missing")), to)),
                        Err(e) => return Some((Err(std::io::Error::other(e.to_string())), to)),
                    };
                    let end = chunk.len().min(start + (to - at) as usize);
                    if start >= end {
                        return Some((Err(std::io::Error::other("chunk too short")), to));
                    }
                    let piece = Bytes::copy_from_slice(&chunk[start..end]);
                    Some((Ok(piece), at + (end - start) as u64))
                }
            });
            return Ok(Body::from_stream(stream));
        }
        let mut file = match tokio::fs::File::open(self.path_of(sha256)).await {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(BlobError::Missing),
            Err(e) => return Err(e.into()),
        };
        file.seek(std::io::SeekFrom::Start(from)).await?;
        let stream = futures_util::stream::unfold((file, from), move |(mut file, at)| async move {
            if at >= to {
                return None;
            }
            let want = CHUNK.min((to - at) as usize);
            let mut buf = vec![0u8; want];
            match file.read(&mut buf).await {
                Ok(0) => Some((Err(std::io::Error::other("file ends early")), (file, to))),
                Ok(n) => {
                    buf.truncate(n);
                    Some((Ok(Bytes::from(buf)), (file, at + n as u64)))
                }
                Err(e) => Some((Err(e), (file, to))),
            }
        });
        Ok(Body::from_stream(stream))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::NewVersion;
    use crate::testing::{Engine, demo_database};

    async fn spooled(blobs: &Blobs, bytes: &[u8]) -> Spooled {
        spool(Body::from(bytes.to_vec()), &blobs.spool_dir(), 1 << 20)
            .await
            .expect("spool")
    }

    async fn read_all(blobs: &Blobs, sha: &str, from: u64, to: u64) -> Vec<u8> {
        let body = blobs.read(sha, from, to).await.expect("read");
        axum::body::to_bytes(body, usize::MAX)
            .await
            .expect("bytes")
            .to_vec()
    }

    crate::test_both_dbs!(
        content_is_kept_once_read_in_ranges_and_purged_only_when_no_version_names_it_sqlite,
        content_is_kept_once_read_in_ranges_and_purged_only_when_no_version_names_it_postgres,
        content_is_kept_once_read_in_ranges_and_purged_only_when_no_version_names_it
    );
    async fn content_is_kept_once_read_in_ranges_and_purged_only_when_no_version_names_it(engine: Engine) {
        let (dir, _store, db) = demo_database(engine).await;
        let blobs = Blobs::new(dir.path(), db.clone());
        let school = db.institution("100001").await.expect("school").expect("De Linde");
        let (user, _) = db
            .user_by_email("linde@demo.test")
            .await
            .expect("user")
            .expect("Tom");

        // Larger than a chunk, so that ranges cross chunks.
        let bytes: Vec<u8> = (0..(CHUNK * 2 + 1000)).map(|i| (i % 251) as u8).collect();
        let first = spooled(&blobs, &bytes).await;
        let sha = first.sha256.clone();
        blobs.keep(first).await.expect("keep");
        blobs
            .keep(spooled(&blobs, &bytes).await)
            .await
            .expect("keep again: one blob");
        assert_eq!(read_all(&blobs, &sha, 0, bytes.len() as u64).await, bytes);
        let (from, to) = (CHUNK as u64 - 10, CHUNK as u64 + 20);
        assert_eq!(
            read_all(&blobs, &sha, from, to).await,
            &bytes[from as usize..to as usize]
        );

        let version = |name: &'static str| NewVersion {
            sha256: &sha,
            size: bytes.len() as u64,
            mime: "text/plain",
            name,
            note: "",
            by: &user.id,
        };
        let gone = db
            .create_file(school.id, "school", "", &version("a.txt"))
            .await
            .expect("a");
        let kept = db
            .create_file(school.id, "school", "", &version("b.txt"))
            .await
            .expect("b");
        // What the name guard read and dismissed in it goes with it.
        let read = db.file(gone).await.expect("read").expect("a").versions[0].id;
        db.set_text_check(read, "checked", 1).await.expect("check");
        db.dismiss_file_name(gone, "lotte", &user.id)
            .await
            .expect("dismiss");
        db.delete_file(gone, &user.id, "dubbel").await.expect("delete");
        // Purged: the deleted file goes, but another file still names the content.
        let now = crate::db::now();
        assert_eq!(blobs.purge(now + 1).await.expect("purge"), 0);
        assert!(db.file(gone).await.expect("read").is_none());
        assert!(
            db.file_name_dismissals(gone)
                .await
                .expect("dismissals")
                .is_empty()
        );
        assert_eq!(read_all(&blobs, &sha, 0, 10).await, &bytes[..10]);
        // When the last one is deleted and purged, the content goes too.
        db.delete_file(kept, &user.id, "weg").await.expect("delete");
        assert_eq!(
            blobs.purge(now - 1).await.expect("not yet"),
            0,
            "deleted after `before`: kept"
        );
        assert!(db.file(kept).await.expect("read").is_some());
        assert_eq!(blobs.purge(crate::db::now() + 1).await.expect("purge"), 1);
        assert!(matches!(
            blobs.read(&sha, 0, 10).await.map(drop),
            Err(BlobError::Missing) | Ok(())
        ));
        if engine == Engine::Sqlite {
            assert!(!blobs.path_of(&sha).exists());
        } else {
            assert!(!db.has_blob(&sha).await.expect("has"));
        }
        assert_eq!(std::fs::read_dir(blobs.spool_dir()).map_or(0, |d| d.count()), 0);
    }
}

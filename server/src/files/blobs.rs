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

/// The store of file contents.
#[derive(Debug, Clone)]
pub struct Blobs {
    /// `<data>/files` on the embedded default.
    dir: PathBuf,
    /// The database, which holds the contents itself on PostgreSQL.
    db: Db,
}

impl Blobs {
    /// Contents under `data` (the embedded default) or in `db` (PostgreSQL).
    pub fn new(data: &Path, db: Db) -> Self {
        Blobs {
            dir: data.join("files"),
            db,
        }
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

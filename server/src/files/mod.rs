//! Documents (issue 17): files that school, CLB and LSC keep together in the dossier,
//! per school, per registration and per school–LSC pair. What a file is comes from its
//! content (`kind`), its name is for display only (`name`), its content is stored once by
//! its hash (`blobs`); the rows are in `db::files`, the routes in `http::files`.

pub mod blobs;
pub mod kind;
pub mod name;
pub mod reader;
pub mod text;

use axum::body::Body;

pub use blobs::{BlobError, Blobs, Spooled};
pub use kind::{FileKind, KindError};

use crate::error::AppError;

/// An upload, streamed to this node's disk, hashed, and known to be of an allowed type.
pub struct Upload {
    /// The content, spooled.
    pub spooled: Spooled,
    /// What it is.
    pub kind: FileKind,
    /// Its name, sanitised.
    pub name: String,
}

impl From<BlobError> for AppError {
    fn from(err: BlobError) -> Self {
        match err {
            BlobError::TooLarge(max) => AppError::TooLarge(format!(
                "This file is larger than {} MB, the most the dossier takes. Make it smaller \
                 (a PDF with smaller images, for instance) or split it.",
                max / (1024 * 1024)
            )),
            BlobError::Cut => AppError::BadRequest("The upload stopped before the end; try again.".into()),
            BlobError::Missing => AppError::Internal("a file's content is missing".into()),
            BlobError::Io(e) => AppError::StorageUnavailable(e.to_string()),
            BlobError::Db(e) => AppError::from(e),
        }
    }
}

impl From<KindError> for AppError {
    fn from(err: KindError) -> Self {
        match err {
            KindError::Unreadable(e) => AppError::StorageUnavailable(e),
            other => AppError::UnsupportedType(format!("{other}.")),
        }
    }
}

/// How long a deleted file can be restored before it is purged.
pub const RESTORABLE_MS: i64 = 30 * 24 * 3600 * 1000;

/// Purges deleted files older than [`RESTORABLE_MS`] now and every hour, until shutdown.
pub async fn keep_purged(blobs: Blobs, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        tokio::select! {
            _ = every.tick() => {
                let before = crate::db::now() - RESTORABLE_MS;
                match blobs.purge(before).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(removed = n, "purged the content of deleted files"),
                    Err(err) => tracing::warn!(error = %err, "could not purge deleted files"),
                }
            }
            _ = shutdown.changed() => return,
        }
    }
}

/// Takes an upload: refused at once when its declared length is over `max`, streamed to a
/// temporary file (refused as soon as it passes `max`), and told by its content.
pub async fn receive(
    blobs: &Blobs,
    body: Body,
    length: Option<u64>,
    name: &str,
    declared: &str,
    max: u64,
) -> Result<Upload, AppError> {
    if length.is_some_and(|n| n > max) {
        return Err(BlobError::TooLarge(max).into());
    }
    let name = name::sanitise(name);
    let spooled = blobs::spool(body, &blobs.spool_dir(), max).await?;
    let path = spooled.path().to_owned();
    let (checked_name, declared) = (name.clone(), declared.to_owned());
    let kind = tokio::task::spawn_blocking(move || {
        let file = std::fs::File::open(&path).map_err(|e| KindError::Unreadable(e.to_string()))?;
        kind::identify(std::io::BufReader::new(file), &checked_name, &declared)
    })
    .await
    .map_err(|e| AppError::Internal(e.to_string()))??;
    Ok(Upload { spooled, kind, name })
}

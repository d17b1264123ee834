//! Versions of a registration's document: the snapshots and what each one changed.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::{Db, DbError, Person, now};
use crate::ids::{DocId, SnapshotId, UserId};

/// Why a snapshot was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SnapshotKind {
    /// The document went quiet after edits (or a day of edits went by).
    Auto,
    /// A writer named this version ("Na schoolbeeldoverleg 1").
    Named,
    /// Taken right after a restore; `restored_from` says which version came back.
    Restore,
}

impl SnapshotKind {
    fn as_str(self) -> &'static str {
        match self {
            SnapshotKind::Auto => "auto",
            SnapshotKind::Named => "named",
            SnapshotKind::Restore => "restore",
        }
    }

    fn parse(s: &str) -> SnapshotKind {
        match s {
            "named" => SnapshotKind::Named,
            "restore" => SnapshotKind::Restore,
            _ => SnapshotKind::Auto,
        }
    }
}

/// Characters added and removed in one section.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SectionStats {
    /// Characters added.
    pub added: usize,
    /// Characters removed.
    pub removed: usize,
}

/// Someone who changed something, with their colour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Contributor {
    /// User id.
    pub id: String,
    /// Display name (as it was when the version was taken).
    pub name: String,
    /// Their colour in the app (`#rrggbb`).
    pub color: String,
}

/// What changed since the previous version.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VersionSummary {
    /// Only the sections that changed, by root name.
    pub sections: BTreeMap<String, SectionStats>,
    /// Who added or removed text.
    pub authors: Vec<Contributor>,
}

/// A version as the history lists it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SnapshotMeta {
    /// Its id.
    #[schema(value_type = String, format = "uuid")]
    pub id: SnapshotId,
    /// Why it was taken.
    pub kind: SnapshotKind,
    /// Its name (named versions; `null` otherwise).
    #[schema(required = true)]
    pub name: Option<String>,
    /// Who took it (`null` for automatic versions).
    #[schema(required = true)]
    pub created_by: Option<Person>,
    /// When (ms since the epoch).
    pub created_at: i64,
    /// For a `restore` version, the version that was restored.
    #[schema(required = true, value_type = Option<String>, format = "uuid")]
    pub restored_from: Option<SnapshotId>,
    /// What changed since the previous version.
    pub summary: VersionSummary,
}

/// A stored version: its metadata and its yrs snapshot.
#[derive(Debug, Clone)]
pub struct StoredSnapshot {
    /// What the history shows.
    pub meta: SnapshotMeta,
    /// The encoded yrs snapshot.
    pub snapshot: Vec<u8>,
}

/// A version to store.
#[derive(Debug, Clone)]
pub struct NewSnapshot {
    /// The document.
    pub doc: DocId,
    /// Why.
    pub kind: SnapshotKind,
    /// Its name, if named.
    pub name: Option<String>,
    /// Who took it.
    pub created_by: Option<UserId>,
    /// The restored version, for `restore`.
    pub restored_from: Option<SnapshotId>,
    /// The encoded yrs snapshot.
    pub snapshot: Vec<u8>,
    /// What changed since the previous version.
    pub summary: VersionSummary,
}

const SELECT: &str = "SELECT s.id, s.kind, s.name, s.created_by, u.display_name, s.created_at,
        s.restored_from, s.summary, s.snapshot
    FROM doc_snapshots s LEFT JOIN users u ON u.id = s.created_by";

fn from_row(row: &sqlx::any::AnyRow) -> Result<StoredSnapshot, sqlx::Error> {
    let created_by: Option<String> = row.try_get("created_by")?;
    let name: Option<String> = row.try_get("display_name")?;
    let summary: String = row.try_get("summary")?;
    Ok(StoredSnapshot {
        meta: SnapshotMeta {
            id: row.try_get("id")?,
            kind: SnapshotKind::parse(&row.try_get::<String, _>("kind")?),
            name: row.try_get("name")?,
            created_by: created_by.map(|id| Person {
                id: UserId::from(id),
                name: name.unwrap_or_default(),
            }),
            created_at: row.try_get("created_at")?,
            restored_from: row.try_get("restored_from")?,
            // Written by us; should it not parse, the list still shows the version.
            summary: serde_json::from_str(&summary).unwrap_or_default(),
        },
        snapshot: row.try_get("snapshot")?,
    })
}

impl Db {
    /// Stores a version; returns it as the history lists it.
    pub async fn insert_snapshot(&self, new: NewSnapshot) -> Result<SnapshotMeta, DbError> {
        let id = SnapshotId::new();
        let summary = serde_json::to_string(&new.summary).unwrap_or_else(|_| "{}".into());
        sqlx::query(
            "INSERT INTO doc_snapshots (id, doc_id, kind, name, created_by, created_at, snapshot,
                 restored_from, summary) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(id)
        .bind(new.doc)
        .bind(new.kind.as_str())
        .bind(&new.name)
        .bind(new.created_by.as_ref().map(UserId::as_str))
        .bind(now())
        .bind(&new.snapshot)
        .bind(new.restored_from)
        .bind(summary)
        .execute(&self.pool)
        .await?;
        let stored = self
            .snapshot(new.doc, id)
            .await?
            .ok_or(DbError::NotFound("snapshot"))?;
        Ok(stored.meta)
    }

    /// A document's versions, newest first.
    pub async fn snapshots(&self, doc: DocId) -> Result<Vec<SnapshotMeta>, DbError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE s.doc_id = $1 ORDER BY s.created_at DESC, s.rowid DESC"
        )))
        .bind(doc)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| from_row(r).map(|s| s.meta))
            .collect::<Result<_, _>>()
            .map_err(DbError::from)
    }

    /// One version of a document (`None` if it is not one of this document's).
    pub async fn snapshot(&self, doc: DocId, id: SnapshotId) -> Result<Option<StoredSnapshot>, DbError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE s.doc_id = $1 AND s.id = $2"
        )))
        .bind(doc)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(from_row).transpose().map_err(DbError::from)
    }

    /// A document's newest version taken at or before `at` (ms since the epoch).
    pub async fn snapshot_at(&self, doc: DocId, at: i64) -> Result<Option<StoredSnapshot>, DbError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE s.doc_id = $1 AND s.created_at <= $2
             ORDER BY s.created_at DESC, s.rowid DESC LIMIT 1"
        )))
        .bind(doc)
        .bind(at)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(from_row).transpose().map_err(DbError::from)
    }

    /// A document's newest version.
    pub async fn latest_snapshot(&self, doc: DocId) -> Result<Option<StoredSnapshot>, DbError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE s.doc_id = $1 ORDER BY s.created_at DESC, s.rowid DESC LIMIT 1"
        )))
        .bind(doc)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(from_row).transpose().map_err(DbError::from)
    }

    /// Display names of users, by id (unknown ids are left out).
    pub async fn display_names(&self, ids: &[UserId]) -> Result<HashMap<UserId, String>, DbError> {
        let mut out = HashMap::new();
        for id in ids {
            if out.contains_key(id) {
                continue;
            }
            let row = sqlx::query("SELECT display_name FROM users WHERE id = $1")
                .bind(id.as_str())
                .fetch_optional(&self.pool)
                .await?;
            if let Some(row) = row {
                out.insert(id.clone(), row.try_get(0)?);
            }
        }
        Ok(out)
    }
}

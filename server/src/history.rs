//! Version history: taking snapshots (with what changed since the one before), reading a
//! version, and diffing two versions with their authors. The CRDT work is in
//! `samen_crdt::history`; this module joins it with who is who: client IDs → users from the
//! server's bindings, deletions → users from the update log (never what a client claims).
//!
//! CPU-heavy steps (rebuilding versions, diffing) run on the blocking pool, so that a big
//! document does not stall the runtime's workers.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use samen_crdt::ClientId;
use samen_crdt::history::{self as versions, Change, Deletions, SectionDiff};
use serde::Serialize;

use crate::db::{
    Contributor, Db, DbError, NewSnapshot, SectionStats, SnapshotKind, SnapshotMeta, VersionSummary,
};
use crate::events::{Events, SchoolEvent};
use crate::ids::{DocId, RegistrationId, SnapshotId, UserId};
use crate::storage::{StorageError, Store};

/// Why a history operation failed.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// Document storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A stored document or snapshot could not be read (a server-side defect).
    #[error("document: {0}")]
    Document(String),
}

impl From<HistoryError> for crate::error::AppError {
    fn from(err: HistoryError) -> Self {
        match err {
            HistoryError::Db(e) => e.into(),
            other => crate::error::AppError::Internal(other.to_string()),
        }
    }
}

fn document_error(err: impl std::fmt::Display) -> HistoryError {
    HistoryError::Document(err.to_string())
}

/// Runs CPU-heavy document work on the blocking pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, HistoryError> + Send + 'static,
) -> Result<T, HistoryError> {
    tokio::task::spawn_blocking(work).await.map_err(document_error)?
}

/// What to record with a snapshot.
#[derive(Debug, Clone)]
pub struct Taking {
    /// Why.
    pub kind: SnapshotKind,
    /// Its name, for named versions.
    pub name: Option<String>,
    /// Who takes it (none for automatic versions).
    pub by: Option<UserId>,
    /// The restored version, for `restore`.
    pub restored_from: Option<SnapshotId>,
    /// Skip it when the document is the same as the newest version (automatic versions).
    pub only_if_changed: bool,
}

impl Taking {
    /// An automatic version, skipped when nothing changed since the newest one.
    pub fn auto() -> Self {
        Taking {
            kind: SnapshotKind::Auto,
            name: None,
            by: None,
            restored_from: None,
            only_if_changed: true,
        }
    }

    /// A version named by `by`.
    pub fn named(name: String, by: UserId) -> Self {
        Taking {
            kind: SnapshotKind::Named,
            name: Some(name),
            by: Some(by),
            restored_from: None,
            only_if_changed: false,
        }
    }

    /// The record of `by` restoring the version `restored` (named `name`, if it was).
    pub fn restore(restored: SnapshotId, name: Option<String>, by: UserId) -> Self {
        Taking {
            kind: SnapshotKind::Restore,
            name,
            by: Some(by),
            restored_from: Some(restored),
            only_if_changed: false,
        }
    }
}

/// Who is who in one document: client IDs and deleters to users.
struct People {
    clients: HashMap<ClientId, (UserId, String)>,
    deletions: Deletions<UserId>,
    names: HashMap<UserId, String>,
    /// Distinct colours for the document's writers (see `colors::distinct_colors`).
    colors: HashMap<UserId, &'static str>,
}

impl People {
    async fn of(db: &Db, store: &Store, id: DocId) -> Result<People, HistoryError> {
        let clients = db.client_authors(id).await?;
        let stored = store.deletions(id).await?;
        let deleters: Vec<UserId> = stored.iter().filter_map(|d| d.author.clone()).collect();
        let mut names = db.display_names(&deleters).await?;
        for (user, name) in clients.values() {
            names.insert(user.clone(), name.clone());
        }
        let deletions = Deletions::from_ranges(stored.into_iter().flat_map(|d| {
            let author = d.author;
            d.ranges
                .into_iter()
                .filter_map(move |r| author.clone().map(|a| (r.client, r.clock, r.len, a)))
        }));
        let colors = crate::colors::distinct_colors(clients.values().map(|(user, _)| user));
        Ok(People {
            clients,
            deletions,
            names,
            colors,
        })
    }

    fn writer(&self, client: ClientId) -> Option<&UserId> {
        self.clients.get(&client).map(|(user, _)| user)
    }

    fn contributor(&self, user: &UserId) -> Contributor {
        Contributor {
            id: user.to_string(),
            name: self.names.get(user).cloned().unwrap_or_default(),
            color: self
                .colors
                .get(user)
                .copied()
                .unwrap_or_else(|| crate::colors::color_of(user))
                .to_owned(),
        }
    }
}

/// Takes a snapshot of a document whose current state is `state` (a v1 update), with a
/// summary of what changed since the newest version, and announces it on the school's event
/// stream. `None` when `only_if_changed` and nothing changed.
pub async fn take(
    db: &Db,
    store: &Store,
    events: &Events,
    id: DocId,
    state: Vec<u8>,
    taking: Taking,
) -> Result<Option<SnapshotMeta>, HistoryError> {
    let previous = db.latest_snapshot(id).await?.map(|s| s.snapshot);
    let people = People::of(db, store, id).await?;
    let only_if_changed = taking.only_if_changed;
    let computed = blocking(move || {
        let doc = samen_crdt::text::doc_from_state(&state).map_err(document_error)?;
        let now = versions::snapshot(&doc);
        let previous = match previous {
            Some(bytes) => versions::decode_snapshot(&bytes).map_err(document_error)?,
            None => yrs::Snapshot::default(),
        };
        if only_if_changed && versions::same_version(&previous, &now) {
            return Ok(None);
        }
        let before = versions::doc_at(&doc, &previous).map_err(document_error)?;
        // Whatever kind of document it is (a registration, a meeting, agreements): its
        // text roots, so that a meeting's versions say what changed too.
        let names: BTreeSet<String> = versions::text_roots(&before)
            .into_iter()
            .chain(versions::text_roots(&doc))
            .collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let changes = versions::diff_parts(&before, &doc, &names, &people.deletions);
        let summary = summarize(&changes, &people);
        Ok(Some((versions::encode_snapshot(&now), summary)))
    })
    .await?;
    let Some((snapshot, summary)) = computed else {
        return Ok(None);
    };
    let meta = db
        .insert_snapshot(NewSnapshot {
            doc: id,
            kind: taking.kind,
            name: taking.name,
            created_by: taking.by,
            restored_from: taking.restored_from,
            snapshot,
            summary,
        })
        .await?;
    // A registration's versions are news on its school's stream (a meeting's are not: the
    // stream is the registrations', which not everyone at a meeting may follow).
    if let Some(registration) = db.registration(id.into()).await? {
        let event = SnapshotEvent {
            registration_id: registration.id,
            snapshot: &meta,
        };
        events.publish(registration.school_id, SchoolEvent::new("snapshot", &event));
    }
    Ok(Some(meta))
}

/// Whether a document whose current state is `state` differs from its version `since` (an
/// encoded snapshot; `None`: the empty document).
pub async fn changed_since(state: Vec<u8>, since: Option<Vec<u8>>) -> Result<bool, HistoryError> {
    blocking(move || {
        let doc = samen_crdt::text::doc_from_state(&state).map_err(document_error)?;
        let since = match since {
            Some(bytes) => versions::decode_snapshot(&bytes).map_err(document_error)?,
            None => yrs::Snapshot::default(),
        };
        Ok(!versions::same_version(&since, &versions::snapshot(&doc)))
    })
    .await
}

/// The data of a `snapshot` event of `GET /api/schools/{number}/events`: a version was kept.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SnapshotEvent<'a> {
    /// The registration the version is of.
    #[schema(value_type = String, format = "uuid")]
    pub registration_id: RegistrationId,
    /// The version.
    pub snapshot: &'a SnapshotMeta,
}

/// Counts per changed section, and who added or removed text.
fn summarize(changes: &BTreeMap<&str, SectionDiff<UserId>>, people: &People) -> VersionSummary {
    let mut authors = BTreeSet::new();
    let mut sections = BTreeMap::new();
    for (name, section) in changes {
        if section.added == 0 && section.removed == 0 {
            continue;
        }
        sections.insert(
            (*name).to_owned(),
            SectionStats {
                added: section.added,
                removed: section.removed,
            },
        );
        for span in section.lines.iter().flat_map(|l| &l.spans) {
            let who = match span.change {
                Change::Added => people.writer(span.client),
                Change::Removed => span.removed_by.as_ref(),
                Change::Same => None,
            };
            if let Some(user) = who {
                authors.insert(user.clone());
            }
        }
    }
    VersionSummary {
        sections,
        authors: authors.iter().map(|u| people.contributor(u)).collect(),
    }
}

/// A version's content: plain text per section and the whole document as it stood, as a
/// v1 update (for the app to render read-only with the editor itself).
pub struct Version {
    /// Plain text per section root name.
    pub sections: BTreeMap<&'static str, String>,
    /// The document at that version (v1 update).
    pub update: Vec<u8>,
}

/// The content of a document (current state `state`) at the stored snapshot `snapshot`.
pub async fn version(state: Vec<u8>, snapshot: Vec<u8>) -> Result<Version, HistoryError> {
    blocking(move || {
        let doc = samen_crdt::text::doc_from_state(&state).map_err(document_error)?;
        let snapshot = versions::decode_snapshot(&snapshot).map_err(document_error)?;
        let update = versions::state_at(&doc, &snapshot).map_err(document_error)?;
        let sections = samen_crdt::text::plain_text_from_state(&update).map_err(document_error)?;
        Ok(Version { sections, update })
    })
    .await
}

/// One run of text in a diff.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DiffSpan {
    /// The text (a hard break is `"\n"`).
    pub text: String,
    /// `same`, `added` or `removed`.
    #[schema(value_type = String, example = "added")]
    pub change: Change,
    /// Who wrote the text (user id, a key of `authors`); `null` when unknown.
    #[schema(required = true)]
    pub author: Option<String>,
    /// For removed text, who removed it; `null` otherwise or when unknown.
    #[schema(required = true)]
    pub removed_by: Option<String>,
}

/// One line (paragraph, heading, list item …) in a diff.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DiffLine {
    /// `same` when the line is in both versions, else `added` or `removed`.
    #[schema(value_type = String, example = "same")]
    pub change: Change,
    /// Its text in runs.
    pub spans: Vec<DiffSpan>,
}

/// A name and a colour.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuthorInfo {
    /// Display name.
    pub name: String,
    /// Colour (`#rrggbb`).
    pub color: String,
}

/// `GET /api/registrations/{id}/diff`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DiffResponse {
    /// The earlier version.
    pub from: SnapshotMeta,
    /// The later version; `null` for the document as it is now.
    #[schema(required = true)]
    pub to: Option<SnapshotMeta>,
    /// Everyone named in `sections`: user id → name and colour.
    pub authors: BTreeMap<String, AuthorInfo>,
    /// All six sections by root name: the union of both versions' lines, in order.
    pub sections: BTreeMap<String, Vec<DiffLine>>,
    /// Characters added and removed per section.
    pub stats: BTreeMap<String, SectionStats>,
}

/// Which parts of a document a diff covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parts {
    /// A registration's six sections, each present in the answer.
    Sections,
    /// Every text root either version has (a meeting's parts).
    Text,
}

/// What changed between two states of a document, per part, with who wrote and removed it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Changes {
    /// Everyone named in `sections`: user id → name and colour.
    pub authors: BTreeMap<String, AuthorInfo>,
    /// The parts by root name (a registration: all six sections): the union of both
    /// states' lines, in order.
    pub sections: BTreeMap<String, Vec<DiffLine>>,
    /// Characters added and removed per part.
    pub stats: BTreeMap<String, SectionStats>,
}

/// What changed from the stored snapshot `from` to `to` (or to now, when `None`), in a
/// document whose current state is `state` (snapshots encoded as `samen_crdt::history`
/// does).
pub async fn diff(
    db: &Db,
    store: &Store,
    id: DocId,
    state: Vec<u8>,
    from_bytes: Vec<u8>,
    to_bytes: Option<Vec<u8>>,
    parts: Parts,
) -> Result<Changes, HistoryError> {
    let people = People::of(db, store, id).await?;
    let (changes, people) = blocking(move || {
        let doc = samen_crdt::text::doc_from_state(&state).map_err(document_error)?;
        let at = |bytes: &[u8]| {
            let snapshot = versions::decode_snapshot(bytes).map_err(document_error)?;
            versions::doc_at(&doc, &snapshot).map_err(document_error)
        };
        let before = at(&from_bytes)?;
        let later = to_bytes.as_deref().map(at).transpose()?;
        // The diff splits blocks of the documents it reads; `doc` is ours alone.
        let after = later.as_ref().unwrap_or(&doc);
        let changes: BTreeMap<String, SectionDiff<UserId>> = match parts {
            Parts::Sections => versions::diff(&before, after, &people.deletions)
                .into_iter()
                .map(|(name, change)| (name.to_owned(), change))
                .collect(),
            Parts::Text => {
                let names: BTreeSet<String> = versions::text_roots(&before)
                    .into_iter()
                    .chain(versions::text_roots(after))
                    .collect();
                let names: Vec<&str> = names.iter().map(String::as_str).collect();
                versions::diff_parts(&before, after, &names, &people.deletions)
                    .into_iter()
                    .map(|(name, change)| (name.to_owned(), change))
                    .collect()
            }
        };
        Ok((changes, people))
    })
    .await?;
    let mut authors = BTreeMap::new();
    let mut name = |user: Option<&UserId>| {
        user.map(|u| {
            let c = people.contributor(u);
            authors.insert(
                c.id.clone(),
                AuthorInfo {
                    name: c.name,
                    color: c.color,
                },
            );
            u.to_string()
        })
    };
    let mut sections = BTreeMap::new();
    let mut stats = BTreeMap::new();
    for (section, change) in changes {
        stats.insert(
            section.clone(),
            SectionStats {
                added: change.added,
                removed: change.removed,
            },
        );
        let lines = change
            .lines
            .into_iter()
            .map(|line| DiffLine {
                change: line.change,
                spans: line
                    .spans
                    .into_iter()
                    .map(|span| DiffSpan {
                        author: name(people.writer(span.client)),
                        removed_by: name(span.removed_by.as_ref()),
                        text: span.text,
                        change: span.change,
                    })
                    .collect(),
            })
            .collect();
        sections.insert(section, lines);
    }
    Ok(Changes {
        authors,
        sections,
        stats,
    })
}

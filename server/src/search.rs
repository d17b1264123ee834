//! Search (issue 18): what goes into the index and what comes out of it. Titles, comments
//! and document names are indexed where they change (the routes call in here); sections
//! by their room once edits are stored (`rooms::room::search`); what existed before the
//! index did, once at start. A search finds entries whose terms match every word of the
//! query (`samen_search`: Dutch folded and stemmed, compounds by their head or tail), only
//! in schools the caller may read registrations of.

use crate::db::{
    Db, DbError, FoundEntry, FoundRegistration, NewEntry, Registration, SearchFilter, StoredFile, Thread,
};
use crate::ids::{InstitutionId, RegistrationId};

/// Keeps a registration's title in the index.
pub async fn index_title(db: &Db, registration: &Registration) {
    let id = crate::db::part_entry_id(registration.id, "title");
    let entry = NewEntry {
        id: &id,
        school: registration.school_id,
        registration: Some(registration.id),
        part: "title",
        text: &registration.title,
    };
    if let Err(err) = db.index_entry(&entry).await {
        tracing::warn!(registration = %registration.id, error = %err, "search: could not index a title");
    }
}

/// Keeps a thread's comments in the index (deleted ones leave it).
pub async fn index_thread(db: &Db, registration: &Registration, thread: &Thread) {
    for comment in &thread.comments {
        let id = format!("comment:{}", comment.id);
        let done = if comment.deleted {
            db.unindex(&id).await
        } else {
            let entry = NewEntry {
                id: &id,
                school: registration.school_id,
                registration: Some(registration.id),
                part: "comment",
                text: &comment.body,
            };
            db.index_entry(&entry).await
        };
        if let Err(err) = done {
            tracing::warn!(comment = %comment.id, error = %err, "search: could not index a comment");
        }
    }
}

/// Keeps a document's name in the index: a registration's attachment, or a school's own
/// document; a deleted one leaves it. A school and LSC's documents are never searched
/// (the CLB may not know of them).
pub async fn index_file(db: &Db, file: &StoredFile) {
    let id = format!("file:{}", file.id);
    let registration = match file.place.as_str() {
        "registration" => file.place_id.parse::<RegistrationId>().ok(),
        "school" => None,
        _ => return,
    };
    let name = match (&file.deleted, file.versions.first()) {
        (None, Some(newest)) => newest.name.as_str(),
        _ => "",
    };
    let entry = NewEntry {
        id: &id,
        school: file.school_id,
        registration,
        part: "file",
        text: name,
    };
    if let Err(err) = db.index_entry(&entry).await {
        tracing::warn!(file = %file.id, error = %err, "search: could not index a document's name");
    }
}

/// Indexes what the index holds nothing of (registrations made before it existed, with
/// their comments, documents and sections), in the background once at start.
pub async fn index_what_is_missing(db: Db, rooms: crate::rooms::Rooms) {
    // A registration with no words to index (a title of stop words, nothing written) stays
    // "missing": each is tried once.
    let mut tried = std::collections::HashSet::new();
    loop {
        let missing = match db.unindexed_registrations(tried.len() as i64 + 100).await {
            Ok(missing) => missing,
            Err(err) => {
                tracing::warn!(error = %err, "search: could not list what is not indexed");
                return;
            }
        };
        let new: Vec<RegistrationId> = missing.into_iter().filter(|id| tried.insert(*id)).collect();
        if new.is_empty() {
            return;
        }
        for id in new {
            if let Err(err) = index_registration(&db, &rooms, id).await {
                tracing::warn!(registration = %id, error = %err, "search: could not index a registration");
            }
        }
    }
}

async fn index_registration(db: &Db, rooms: &crate::rooms::Rooms, id: RegistrationId) -> Result<(), DbError> {
    let Some(registration) = db.registration(id).await? else {
        return Ok(());
    };
    for thread in db.threads(id).await? {
        index_thread(db, &registration, &thread).await;
    }
    for file in db
        .files_at(registration.school_id, "registration", &id.to_string())
        .await?
    {
        index_file(db, &file).await;
    }
    if let Ok(state) = rooms.document_state(crate::ids::DocId::from(id)).await
        && let Ok(doc) = samen_crdt::text::doc_from_state(&state)
    {
        for (part, text) in samen_crdt::text::texts(&doc) {
            if samen_crdt::Section::from_root_name(&part).is_some() {
                let entry_id = crate::db::part_entry_id(id, &part);
                db.index_entry(&NewEntry {
                    id: &entry_id,
                    school: registration.school_id,
                    registration: Some(id),
                    part: &part,
                    text: &text,
                })
                .await?;
            }
        }
    }
    // The title last: it marks the registration as indexed.
    index_title(db, &registration).await;
    Ok(())
}

/// One hit: a piece of text with the words that matched.
#[derive(Debug)]
pub struct Hit {
    /// The school it belongs to.
    pub school: InstitutionId,
    /// The registration it belongs to (none for a school's own document).
    pub registration: Option<FoundRegistration>,
    /// `title`, a section's name (`summary`, `advice`, …), `comment` or `file`.
    pub part: String,
    /// Up to about 200 characters of the text around the first match.
    pub snippet: String,
    /// Where the matching words stand in `snippet`, as character offsets `[start, end)`.
    pub highlights: Vec<[usize; 2]>,
    /// When the text last changed (ms since the epoch).
    pub updated_at: i64,
}

/// How many characters of context a snippet shows before its first match.
const BEFORE: usize = 60;
/// The longest snippet (characters).
const SNIPPET: usize = 200;

/// The entries of `schools` whose terms match every word of `query` and that pass
/// `filter`, last changed first, at most `limit`.
pub async fn find(
    db: &Db,
    query: &str,
    schools: &[InstitutionId],
    filter: &SearchFilter,
    limit: usize,
) -> Result<Vec<Hit>, DbError> {
    let words = samen_search::query_words(query);
    let found = db.search(&words, schools, filter, limit).await?;
    Ok(found.into_iter().map(|entry| hit(entry, &words)).collect())
}

/// A found entry as a hit: a snippet around its first match, the matches marked.
fn hit(entry: FoundEntry, words: &[samen_search::QueryWord]) -> Hit {
    let text = &entry.text;
    let matched: Vec<(usize, usize)> = samen_search::tokens(text)
        .into_iter()
        .filter(|token| {
            token
                .terms
                .iter()
                .any(|term| words.iter().any(|w| samen_search::term_matches(term, w)))
        })
        .map(|token| (token.start, token.end))
        .collect();
    // Character offsets: the browser counts in characters, the text is UTF-8.
    let char_at = |byte: usize| text[..byte].chars().count();
    let first = matched.first().map_or(0, |(start, _)| char_at(*start));
    let from = first.saturating_sub(BEFORE);
    let chars: Vec<char> = text.chars().collect();
    let to = (from + SNIPPET).min(chars.len());
    let snippet: String = chars[from..to].iter().collect();
    let highlights = matched
        .iter()
        .map(|(start, end)| (char_at(*start), char_at(*end)))
        .filter(|(start, end)| *start >= from && *end <= to)
        .map(|(start, end)| [start - from, end - from])
        .collect();
    Hit {
        school: entry.school,
        registration: entry.registration,
        part: entry.part,
        snippet,
        highlights,
        updated_at: entry.updated_at,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::db::NewRegistration;
    use crate::testing::{Engine, demo_database};

    crate::test_both_dbs!(
        what_was_never_indexed_is_indexed_once_and_words_less_registrations_end_the_pass_sqlite,
        what_was_never_indexed_is_indexed_once_and_words_less_registrations_end_the_pass_postgres,
        what_was_never_indexed_is_indexed_once_and_words_less_registrations_end_the_pass
    );
    async fn what_was_never_indexed_is_indexed_once_and_words_less_registrations_end_the_pass(
        engine: Engine,
    ) {
        let (_dir, store, db) = demo_database(engine).await;
        let school = db.institution("100001").await.expect("school").expect("De Linde");
        let (user, _) = db
            .user_by_email("clb@demo.test")
            .await
            .expect("user")
            .expect("Sara");
        // A title of stop words only: nothing to index, so it stays "missing".
        db.create_registration(NewRegistration {
            kind: "signal".into(),
            school_id: school.id,
            school_year: crate::domain::current_school_year(),
            title: "Het is er".into(),
            theme: None,
            owner: user.id.clone(),
        })
        .await
        .expect("registration");
        let (_stop, shutdown) = tokio::sync::watch::channel(false);
        let rooms = crate::rooms::Rooms::new(
            store,
            db.clone(),
            crate::events::Events::default(),
            Arc::new(crate::metrics::Metrics::new()),
            crate::config::RoomConfig::for_tests(),
            shutdown,
            crate::clock::Ambient::system(),
        );
        tokio::time::timeout(
            std::time::Duration::from_secs(30),
            index_what_is_missing(db.clone(), rooms),
        )
        .await
        .expect("the pass ends");
        // The demo's registrations are found, by their title and by their sections.
        let words = samen_search::query_words("afwezigheden");
        let found = db
            .search(
                &words,
                &[
                    school.id,
                    db.institution("100002").await.expect("anker").expect("anker").id,
                ],
                &SearchFilter::default(),
                50,
            )
            .await
            .expect("search");
        let parts: std::collections::BTreeSet<&str> = found.iter().map(|f| f.part.as_str()).collect();
        assert!(parts.contains("title") && parts.contains("summary"), "{parts:?}");
        assert_eq!(
            db.unindexed_registrations(10).await.expect("missing").len(),
            1,
            "only the one without words"
        );
    }
}

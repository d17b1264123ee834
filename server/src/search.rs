//! Search (issue 18): what goes into the index and what comes out of it. Titles, comments
//! and document names are indexed where they change (the routes call in here); the parts
//! of registrations, meetings and agreements by their room once edits are stored
//! (`rooms::room::search`); what existed before the index did, once at start. A search
//! finds entries whose terms match every word of the query (`samen_search`: Dutch folded
//! and stemmed, compounds by their head or tail), only where the caller may read, and
//! orders them by relevance, the hits of one registration or meeting together.

use std::collections::HashMap;

use crate::db::{
    Db, DbError, EntryPlace, FoundAgreement, FoundEntry, FoundMeeting, FoundRegistration, Meeting, NewEntry,
    Registration, SearchFilter, SearchScope, StoredFile, Thread,
};
use crate::ids::{AgreementId, DocId, InstitutionId, MeetingId, RegistrationId};

/// Keeps a registration's title in the index.
pub async fn index_title(db: &Db, registration: &Registration) {
    let place = EntryPlace::Registration(registration.id);
    keep_title(
        db,
        registration.id,
        registration.school_id,
        place,
        &registration.title,
    )
    .await;
}

/// Keeps a meeting's title in the index.
pub async fn index_meeting_title(db: &Db, meeting: &Meeting) {
    let place = EntryPlace::Meeting(meeting.id);
    keep_title(db, meeting.id, meeting.school_id, place, &meeting.title).await;
}

async fn keep_title(db: &Db, doc: impl Into<DocId>, school: InstitutionId, place: EntryPlace, title: &str) {
    let doc = doc.into();
    let id = crate::db::part_entry_id(doc, "title");
    let entry = NewEntry {
        id: &id,
        school,
        place,
        part: "title",
        text: title,
    };
    if let Err(err) = db.index_entry(&entry).await {
        tracing::warn!(%doc, error = %err, "search: could not index a title");
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
                place: EntryPlace::Registration(registration.id),
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

/// Keeps a document's name in the index: a registration's attachment, a school's own
/// document, or one kept with a school and an LSC's agreements (found by them alone); a
/// deleted one leaves it.
pub async fn index_file(db: &Db, file: &StoredFile) {
    let id = format!("file:{}", file.id);
    let place = match file.place.as_str() {
        "registration" => match file.place_id.parse::<RegistrationId>() {
            Ok(registration) => EntryPlace::Registration(registration),
            Err(_) => return,
        },
        "agreement" => {
            let Ok(agreement) = file.place_id.parse::<AgreementId>() else {
                return;
            };
            match db.agreement(agreement).await {
                Ok(Some(agreement)) => EntryPlace::Agreements {
                    lsc: agreement.lsc.id,
                },
                Ok(None) => return,
                Err(err) => {
                    tracing::warn!(file = %file.id, error = %err, "search: could not read a document's agreements");
                    return;
                }
            }
        }
        _ => EntryPlace::School,
    };
    let name = match (&file.deleted, file.versions.first()) {
        (None, Some(newest)) => newest.name.as_str(),
        _ => "",
    };
    let entry = NewEntry {
        id: &id,
        school: file.school_id,
        place,
        part: "file",
        text: name,
    };
    if let Err(err) = db.index_entry(&entry).await {
        tracing::warn!(file = %file.id, error = %err, "search: could not index a document's name");
    }
}

/// Indexes what the index holds nothing of (registrations, meetings and agreements made
/// before their text was searched, with their comments, documents and parts), in the
/// background once at start.
pub async fn index_what_is_missing(db: Db, rooms: crate::rooms::Rooms) {
    // A document with no words to index (a title of stop words, nothing written) stays
    // "missing": each is tried once.
    let mut tried = std::collections::HashSet::new();
    loop {
        let limit = tried.len() as i64 + 100;
        let missing = async {
            let mut missing: Vec<DocId> = db
                .unindexed_registrations(limit)
                .await?
                .into_iter()
                .map(DocId::from)
                .collect();
            missing.extend(db.unindexed_meetings(limit).await?.into_iter().map(DocId::from));
            missing.extend(db.unindexed_agreements(limit).await?.into_iter().map(DocId::from));
            Ok::<_, DbError>(missing)
        };
        let missing = match missing.await {
            Ok(missing) => missing,
            Err(err) => {
                tracing::warn!(error = %err, "search: could not list what is not indexed");
                return;
            }
        };
        let new: Vec<DocId> = missing.into_iter().filter(|id| tried.insert(*id)).collect();
        if new.is_empty() {
            return;
        }
        for id in new {
            if let Err(err) = index_document(&db, &rooms, id).await {
                tracing::warn!(id = %id, error = %err, "search: could not index a document");
            }
        }
    }
}

/// What a document is, for the index: its school and place, or None when it is none of a
/// registration, a meeting or agreements (or gone).
pub async fn place_of(db: &Db, id: DocId) -> Result<Option<(InstitutionId, EntryPlace)>, DbError> {
    if let Some(r) = db.registration(RegistrationId::from(id)).await? {
        return Ok(Some((r.school_id, EntryPlace::Registration(r.id))));
    }
    if let Some(m) = db.meeting(MeetingId::from(id)).await? {
        return Ok(Some((m.school_id, EntryPlace::Meeting(m.id))));
    }
    if let Some(a) = db.agreement(AgreementId::from(id)).await? {
        return Ok(Some((a.school.id, EntryPlace::Agreements { lsc: a.lsc.id })));
    }
    Ok(None)
}

/// The parts of a document the index keeps, root name → text: a registration's sections;
/// every text of a meeting (priorities, expectations, work plan, actions, report) and of
/// agreements.
pub fn searchable_parts(place: EntryPlace, doc: &yrs::Doc) -> HashMap<String, String> {
    samen_crdt::text::texts(doc)
        .into_iter()
        .filter(|(root, _)| {
            !matches!(place, EntryPlace::Registration(_))
                || samen_crdt::Section::from_root_name(root).is_some()
        })
        .collect()
}

async fn index_document(db: &Db, rooms: &crate::rooms::Rooms, id: DocId) -> Result<(), DbError> {
    let Some((school, place)) = place_of(db, id).await? else {
        return Ok(());
    };
    let registration = match place {
        EntryPlace::Registration(r) => db.registration(r).await?,
        _ => None,
    };
    if let Some(registration) = &registration {
        for thread in db.threads(registration.id).await? {
            index_thread(db, registration, &thread).await;
        }
    }
    let files_place = match place {
        EntryPlace::Registration(_) => Some("registration"),
        EntryPlace::Agreements { .. } => Some("agreement"),
        _ => None,
    };
    if let Some(files_place) = files_place {
        for file in db.files_at(school, files_place, &id.to_string()).await? {
            index_file(db, &file).await;
        }
    }
    if let Ok(state) = rooms.document_state(id).await
        && let Ok(doc) = samen_crdt::text::doc_from_state(&state)
    {
        for (part, text) in searchable_parts(place, &doc) {
            let entry_id = crate::db::part_entry_id(id, &part);
            db.index_entry(&NewEntry {
                id: &entry_id,
                school,
                place,
                part: &part,
                text: &text,
            })
            .await?;
        }
    }
    // The title last: it marks a registration or a meeting as indexed.
    if let Some(registration) = &registration {
        index_title(db, registration).await;
    }
    if let EntryPlace::Meeting(meeting) = place
        && let Some(meeting) = db.meeting(meeting).await?
    {
        index_meeting_title(db, &meeting).await;
    }
    Ok(())
}

/// One hit: a piece of text with the words that matched.
#[derive(Debug)]
pub struct Hit {
    /// The school it belongs to.
    pub school: InstitutionId,
    /// The registration it belongs to, if it is part of one.
    pub registration: Option<FoundRegistration>,
    /// The meeting it belongs to, if it is part of one.
    pub meeting: Option<FoundMeeting>,
    /// The agreements it belongs to, if it is part of a school and an LSC's.
    pub agreement: Option<FoundAgreement>,
    /// `title`, a section's or meeting part's root name (`summary`, `work_plan`, …),
    /// `comment` or `file`.
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
/// What a word counts for when the text holds it only inside a compound: `pestgedrag` is
/// about bullying, but a text that says `pesten` says it more plainly.
const IN_COMPOUND: f64 = 0.5;

/// The entries within `scope` whose terms match every word of `query` and that pass
/// `filter`, most relevant first, the hits of one registration, meeting or agreements
/// together after its best, at most `limit`. The database picks the weightiest matches
/// (`db::search::entry_weight`: the part, and brevity); here each counts times how plainly
/// it holds the words (each word itself 1, only in a compound [`IN_COMPOUND`]).
pub async fn find(
    db: &Db,
    query: &str,
    scope: &SearchScope,
    filter: &SearchFilter,
    limit: usize,
) -> Result<Vec<Hit>, DbError> {
    let words = samen_search::query_words(query);
    let found = db.search(&words, scope, filter, limit).await?;
    let mut scored: Vec<(f64, String, Hit)> = found
        .into_iter()
        .map(|entry| {
            let (matched, plainness) = matches(&entry.text, &words);
            (entry.weight * plainness, group_of(&entry), hit(entry, &matched))
        })
        .collect();
    // Stable: equal scores keep the database's order (the last changed first).
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    // Groups in the order of their best hit; within one, best first.
    let mut groups: Vec<(String, Vec<Hit>)> = Vec::new();
    for (_, group, hit) in scored {
        match groups.iter_mut().find(|(g, _)| *g == group) {
            Some((_, hits)) => hits.push(hit),
            None => groups.push((group, vec![hit])),
        }
    }
    Ok(groups.into_iter().flat_map(|(_, hits)| hits).collect())
}

/// Where `text`'s words match `words` (byte ranges), and how plainly it holds them: the
/// mean over the query's words of 1 when a word stands in it itself, [`IN_COMPOUND`] when
/// only inside a compound.
fn matches(text: &str, words: &[samen_search::QueryWord]) -> (Vec<(usize, usize)>, f64) {
    let mut plain = vec![IN_COMPOUND; words.len()];
    let mut matched = Vec::new();
    for token in samen_search::tokens(text) {
        let mut hit = false;
        for (i, word) in words.iter().enumerate() {
            for term in &token.terms {
                if word.terms.contains(term) {
                    plain[i] = 1.0;
                    hit = true;
                } else if samen_search::term_matches(term, word) {
                    hit = true;
                }
            }
        }
        if hit {
            matched.push((token.start, token.end));
        }
    }
    let plainness = plain.iter().sum::<f64>() / words.len().max(1) as f64;
    (matched, plainness)
}

/// What a found entry's hits are shown under: its registration, meeting or agreements, or
/// itself (a school's own document).
fn group_of(entry: &FoundEntry) -> String {
    if let Some(r) = &entry.registration {
        r.id.to_string()
    } else if let Some(m) = &entry.meeting {
        m.id.to_string()
    } else if let Some(a) = &entry.agreement {
        a.id.to_string()
    } else {
        entry.id.clone()
    }
}

/// A found entry as a hit: a snippet around its first match (`matched`: the byte ranges of
/// the matching words), the matches marked.
fn hit(entry: FoundEntry, matched: &[(usize, usize)]) -> Hit {
    let text = &entry.text;
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
        meeting: entry.meeting,
        agreement: entry.agreement,
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
        what_was_never_indexed_is_indexed_once_and_words_less_documents_end_the_pass_sqlite,
        what_was_never_indexed_is_indexed_once_and_words_less_documents_end_the_pass_postgres,
        what_was_never_indexed_is_indexed_once_and_words_less_documents_end_the_pass
    );
    async fn what_was_never_indexed_is_indexed_once_and_words_less_documents_end_the_pass(engine: Engine) {
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
        // A meeting planned before meetings were searched.
        let meeting = db
            .create_meeting(crate::db::NewMeeting {
                school_id: school.id,
                school_year: crate::domain::current_school_year(),
                title: "Overleg over woordenschat".into(),
                held_on: "2026-10-15".into(),
                follows: None,
                created_by: user.id.clone(),
                participants: Vec::new(),
                guests: Vec::new(),
            })
            .await
            .expect("meeting");
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
                &SearchScope {
                    registrations: vec![
                        school.id,
                        db.institution("100002").await.expect("anker").expect("anker").id,
                    ],
                    ..SearchScope::default()
                },
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
        // The meeting by its title, for those who may search its school's meetings.
        let words = samen_search::query_words("woordenschat");
        let scope = |meetings| SearchScope {
            meetings,
            ..SearchScope::default()
        };
        let found = db
            .search(&words, &scope(vec![school.id]), &SearchFilter::default(), 50)
            .await
            .expect("search");
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].meeting.as_ref().map(|m| m.id), Some(meeting.id));
        assert!(db.unindexed_meetings(10).await.expect("missing").is_empty());
        let elsewhere = db.institution("100002").await.expect("anker").expect("anker").id;
        let found = db
            .search(&words, &scope(vec![elsewhere]), &SearchFilter::default(), 50)
            .await
            .expect("search");
        assert!(found.is_empty(), "{found:?}");
    }
}

#[cfg(test)]
mod reindexing {
    use crate::db::{EntryPlace, NewEntry, SearchFilter, SearchScope};
    use crate::testing::{Engine, demo_database};

    crate::test_both_dbs!(
        a_reindexed_text_is_found_by_its_new_words_only_sqlite,
        a_reindexed_text_is_found_by_its_new_words_only_postgres,
        a_reindexed_text_is_found_by_its_new_words_only
    );
    /// On SQLite a reindexing writes only the terms that came or went (beside the group
    /// commit); whatever it writes, the index holds the new text's words and no others.
    async fn a_reindexed_text_is_found_by_its_new_words_only(engine: Engine) {
        let (_dir, _store, db) = demo_database(engine).await;
        let school = db
            .institution("100001")
            .await
            .expect("school")
            .expect("De Linde")
            .id;
        let scope = SearchScope {
            registrations: vec![school],
            ..SearchScope::default()
        };
        let found = |word: &'static str| {
            let (db, scope) = (db.clone(), scope.clone());
            async move {
                let words = samen_search::query_words(word);
                let hits = db
                    .search(&words, &scope, &SearchFilter::default(), 50)
                    .await
                    .expect("search");
                hits.iter().filter(|h| h.id == "doc:goals").count()
            }
        };
        let write = |text: &'static str| {
            let db = db.clone();
            async move {
                let entry = NewEntry {
                    id: "doc:goals",
                    school,
                    place: EntryPlace::School,
                    part: "goals",
                    text,
                };
                db.index_entry(&entry).await.expect("index");
            }
        };
        write("Pesten op de speelplaats, ook online pesten").await;
        assert_eq!((found("pesten").await, found("speelplaats").await), (1, 1));
        write("Ruzie op de speelplaats").await;
        assert_eq!(found("pesten").await, 0, "a word that went is not found");
        assert_eq!(found("ruzie").await, 1, "a word that came is");
        assert_eq!(found("speelplaats").await, 1, "a word that stayed is, once");
        write("").await;
        assert_eq!(
            (found("ruzie").await, found("speelplaats").await),
            (0, 0),
            "emptied"
        );
    }
}

//! The search index's rows (issue 18): entries, the pieces of text people may search (a
//! registration's title, each of its sections, each comment, a document's name; a meeting's
//! title and parts; a school and an LSC's agreements), and the index terms of each
//! (`samen_search`). Each entry names its place, which decides who may find it. The same rows and queries on both engines: a term
//! matches by equality, or as a compound's head or tail by a range scan on `term` or on
//! `rterm` (the term reversed).

use sqlx::Row;

use super::users::institution_at;
use super::{Db, DbError, Institution, now};
use crate::ids::{AgreementId, InstitutionId, MeetingId, RegistrationId};
use crate::storage::{Engine, SqlValue, SqlWrite};

/// The entry id of a document's title or part `part` (a registration's section, a meeting's
/// root): the room, the first pass at start and the routes must name a piece alike, or it
/// would be kept twice.
pub fn part_entry_id(doc: impl std::fmt::Display, part: &str) -> String {
    format!("{doc}:{part}")
}

/// Where an indexed text belongs, which decides who may find it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryPlace {
    /// A registration's title, section, comment or document: the school's members and its CLB.
    Registration(RegistrationId),
    /// A school's own document: the school's members and its CLB.
    School,
    /// A meeting's title or part: every partner at the school's table.
    Meeting(MeetingId),
    /// A school and an LSC's agreements, or a document kept with them: that school and that
    /// LSC only.
    Agreements { lsc: InstitutionId },
}

impl EntryPlace {
    /// The registration, meeting and LSC an entry here belongs to (its row's columns).
    fn owners(self) -> (Option<RegistrationId>, Option<MeetingId>, Option<InstitutionId>) {
        match self {
            EntryPlace::Registration(id) => (Some(id), None, None),
            EntryPlace::School => (None, None, None),
            EntryPlace::Meeting(id) => (None, Some(id), None),
            EntryPlace::Agreements { lsc } => (None, None, Some(lsc)),
        }
    }
}

/// A piece of text to keep in the index.
pub struct NewEntry<'a> {
    /// Its id: `<doc>:<part>` for a title or a part of a document, `comment:<id>`, `file:<id>`.
    pub id: &'a str,
    pub school: InstitutionId,
    pub place: EntryPlace,
    /// `title`, a section's or meeting part's root name, `comment` or `file`.
    pub part: &'a str,
    pub text: &'a str,
}

/// Where a search may look: what the caller may read.
#[derive(Debug, Default, Clone)]
pub struct SearchScope {
    /// Schools whose registrations and own documents may be searched.
    pub registrations: Vec<InstitutionId>,
    /// Schools whose meetings may be searched.
    pub meetings: Vec<InstitutionId>,
    /// (school, LSC) pairs whose agreements may be searched.
    pub agreements: Vec<(InstitutionId, InstitutionId)>,
}

impl SearchScope {
    /// The SQL condition on entry `e` that keeps to this scope, and every school in it; None
    /// when nothing may be searched.
    fn condition(&self) -> Option<(String, String)> {
        let list = super::id_list;
        let mut either = Vec::new();
        if !self.registrations.is_empty() {
            either.push(format!(
                "(e.meeting_id IS NULL AND e.lsc_id IS NULL AND e.school_id IN ({}))",
                list(&self.registrations)
            ));
        }
        if !self.meetings.is_empty() {
            either.push(format!(
                "(e.meeting_id IS NOT NULL AND e.school_id IN ({}))",
                list(&self.meetings)
            ));
        }
        if !self.agreements.is_empty() {
            let pairs: Vec<String> = self
                .agreements
                .iter()
                .map(|(school, lsc)| format!("(e.school_id = {} AND e.lsc_id = {})", school.0, lsc.0))
                .collect();
            either.push(format!("(e.lsc_id IS NOT NULL AND ({}))", pairs.join(" OR ")));
        }
        if either.is_empty() {
            return None;
        }
        let mut schools: Vec<InstitutionId> = self
            .registrations
            .iter()
            .chain(&self.meetings)
            .copied()
            .chain(self.agreements.iter().map(|(school, _)| *school))
            .collect();
        schools.sort_by_key(|s| s.0);
        schools.dedup();
        Some((format!("({})", either.join(" OR ")), list(&schools)))
    }
}

/// A piece of text found.
#[derive(Debug, Clone)]
pub struct FoundEntry {
    pub id: String,
    pub school: InstitutionId,
    /// Its registration, if it is part of one.
    pub registration: Option<FoundRegistration>,
    /// Its meeting, if it is part of one.
    pub meeting: Option<FoundMeeting>,
    /// Its agreements, if it is part of a school and an LSC's.
    pub agreement: Option<FoundAgreement>,
    pub part: String,
    pub text: String,
    pub updated_at: i64,
    /// How much it says about its words before any query ([`entry_weight`]).
    pub weight: f64,
}

/// The registration a found piece belongs to.
#[derive(Debug, Clone)]
pub struct FoundRegistration {
    pub id: RegistrationId,
    pub title: String,
    pub kind: String,
    pub theme: Option<String>,
    pub status: String,
    pub school_year: String,
}

/// The meeting a found piece belongs to.
#[derive(Debug, Clone)]
pub struct FoundMeeting {
    pub id: MeetingId,
    pub title: String,
    pub held_on: String,
    pub school_year: String,
}

/// The agreements a found piece belongs to.
#[derive(Debug, Clone)]
pub struct FoundAgreement {
    pub id: AgreementId,
    pub lsc: Institution,
}

/// What a search keeps to (a school's own documents and agreements pass only when nothing
/// is asked of the registration; a meeting passes a school year).
#[derive(Debug, Default, Clone)]
pub struct SearchFilter {
    pub year: Option<String>,
    /// `signal` or `consultation`; `meeting` or `agreements` keep to those.
    pub kind: Option<String>,
    pub theme: Option<String>,
    pub status: Option<String>,
}

/// The entries of schools `schools` holding a term that matches one query word, as a
/// SELECT of `entry_id` (on PostgreSQL also the entry's `weight` and `updated_at`, which
/// each term row repeats; its binds appended to `binds`): a term equal to one of the
/// word's, or for a compound's head and tail one in a range on `term` or on `rterm`, each
/// alternative its own index scan, united. For their `OR` PostgreSQL read the whole table.
fn word_matches(
    word: &samen_search::QueryWord,
    schools: &str,
    binds: &mut Vec<String>,
    engine: Engine,
) -> String {
    let columns = match engine {
        Engine::Postgres => "entry_id, weight, updated_at",
        Engine::Sqlite => "entry_id",
    };
    let mut scans = Vec::new();
    let mut scan = |condition: String| {
        scans.push(format!(
            "SELECT {columns} FROM search_terms WHERE {condition} AND school_id IN ({schools})"
        ))
    };
    for term in &word.terms {
        if !word.affix {
            binds.push(term.clone());
            scan(format!("term = ${}", binds.len()));
            continue;
        }
        // The head's range holds the term itself; the tail's leaves it out.
        for (column, from, key) in [
            ("term", ">=", term.clone()),
            ("rterm", ">", samen_search::reversed(term)),
        ] {
            binds.push(key.clone());
            let lower = format!("{column} {from} ${}", binds.len());
            match samen_search::upper_bound(&key) {
                Some(upper) => {
                    binds.push(upper);
                    scan(format!("{lower} AND {column} < ${}", binds.len()));
                }
                None => scan(lower),
            }
        }
    }
    scans.join(" UNION ")
}

/// How much an entry says about the words it holds, before any query: the part it is (a
/// title says most, then what CLB and school write as the core of a registration, then
/// the rest, a comment least) over its length (a short text that matches is more about it
/// than a long one that mentions it once). The same as migration 14 gave older entries.
pub fn entry_weight(part: &str, text: &str) -> f64 {
    let part = match part {
        "title" => 3.0,
        "summary" | "understanding" | "advice" => 2.0,
        "comment" => 1.0,
        _ => 1.5,
    };
    part / (1.0 + text.chars().count() as f64 / 400.0)
}

impl Db {
    /// Keeps `entry` and its index terms, replacing what the index held for it; an empty
    /// text removes it.
    pub async fn index_entry(&self, entry: &NewEntry<'_>) -> Result<(), DbError> {
        let terms = samen_search::index_terms(entry.text);
        if let Some(writer) = &self.along {
            return Ok(writer.write(sqlite_index_writes(entry, &terms)).await?);
        }
        write_entry(&self.pool, entry, &terms).await
    }

    /// Removes entry `id` from the index (a deleted comment or file).
    pub async fn unindex(&self, id: &str) -> Result<(), DbError> {
        let entry = NewEntry {
            id,
            school: InstitutionId(0),
            place: EntryPlace::School,
            part: "",
            text: "",
        };
        self.index_entry(&entry).await
    }

    /// The entries within `scope` with a term matching every word, that pass `filter`,
    /// weightiest first ([`entry_weight`]; then last changed first), at most `limit`, with
    /// what they belong to. One statement: the entries matching each word
    /// ([`word_matches`]), intersected, then ranked, so that neither engine reads more
    /// texts than it returns.
    pub async fn search(
        &self,
        words: &[samen_search::QueryWord],
        scope: &SearchScope,
        filter: &SearchFilter,
        limit: usize,
    ) -> Result<Vec<FoundEntry>, DbError> {
        let Some((within, ids)) = scope.condition() else {
            return Ok(Vec::new());
        };
        if words.is_empty() {
            return Ok(Vec::new());
        }
        let mut binds: Vec<String> = Vec::new();
        let mut conditions = vec![within];
        let mut matches = Vec::new();
        for word in words {
            if word.terms.is_empty() {
                return Ok(Vec::new());
            }
            matches.push(word_matches(word, &ids, &mut binds, self.engine));
        }
        match filter.kind.as_deref() {
            Some("meeting") => conditions.push("e.meeting_id IS NOT NULL".into()),
            Some("agreements") => conditions.push("e.lsc_id IS NOT NULL".into()),
            Some(kind) => {
                binds.push(kind.to_owned());
                conditions.push(format!("r.kind = ${}", binds.len()));
            }
            None => {}
        }
        for (column, value) in [
            ("COALESCE(r.school_year, m.school_year)", &filter.year),
            ("r.theme", &filter.theme),
            ("r.status", &filter.status),
        ] {
            if let Some(value) = value {
                binds.push(value.clone());
                conditions.push(format!("{column} = ${}", binds.len()));
            }
        }
        // Neither engine reads a text before it has picked the rows to return. Both start
        // from the matches (each word's, intersected); left to join as it liked,
        // PostgreSQL sorted every entry and probed the terms of each, or hashed them all.
        // PostgreSQL then sorts the matches by the weight and time their term rows repeat
        // and checks them in that order, each looked up by key (a lateral subquery, kept
        // apart by `OFFSET 0`), until it has `limit`. SQLite looks each match up in the
        // covering index `search_entries_rank` and sorts them; walking that index in
        // order and keeping the matches, as it did, was as fast for a common word and
        // slower for rarer ones (p95 24.7 against 42.0 ms for two words in
        // `examples/scale.rs`, in one sitting).
        let details = "LEFT JOIN registrations r ON r.id = e.registration_id
             LEFT JOIN meetings m ON m.id = e.meeting_id";
        let matches = matches
            .iter()
            .enumerate()
            .map(|(i, m)| format!("SELECT * FROM ({m}) w{i}"))
            .collect::<Vec<_>>()
            .join(" INTERSECT ");
        let conditions = conditions.join(" AND ");
        let top = match self.engine {
            Engine::Postgres => format!(
                "SELECT x.id FROM
                   (SELECT * FROM ({matches}) h ORDER BY weight DESC, updated_at DESC, entry_id) hit,
                 LATERAL (SELECT e.id FROM search_entries e {details}
                          WHERE e.id = hit.entry_id AND {conditions} OFFSET 0) x
                 ORDER BY hit.weight DESC, hit.updated_at DESC, hit.entry_id LIMIT {limit}"
            ),
            Engine::Sqlite => format!(
                "SELECT e.id FROM ({matches}) hit
                 JOIN search_entries e ON e.id = hit.entry_id {details}
                 WHERE {conditions}
                 ORDER BY e.weight DESC, e.updated_at DESC, e.id LIMIT {limit}"
            ),
        };
        let sql = format!(
            "SELECT e.id, e.school_id, e.registration_id, e.meeting_id, e.lsc_id, e.part, e.text,
                    e.updated_at, e.weight, r.title, r.kind, r.theme, r.status, r.school_year,
                    m.title AS m_title, m.held_on AS m_held_on, m.school_year AS m_school_year,
                    a.id AS agreement_id, l.id AS l_id, l.kind AS l_kind, l.number AS l_number,
                    l.name AS l_name
             FROM ({top}) top
             JOIN search_entries e ON e.id = top.id
             LEFT JOIN registrations r ON r.id = e.registration_id
             LEFT JOIN meetings m ON m.id = e.meeting_id
             LEFT JOIN lsc_agreements a ON a.school_id = e.school_id AND a.lsc_id = e.lsc_id
             LEFT JOIN institutions l ON l.id = e.lsc_id
             ORDER BY e.weight DESC, e.updated_at DESC, e.id"
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for bind in binds {
            query = query.bind(bind);
        }
        query
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(found_entry)
            .collect::<Result<_, sqlx::Error>>()
            .map_err(DbError::from)
    }

    /// The texts the index holds of a document's parts (a registration's title and
    /// sections, a meeting's title and parts, agreements' parts) at `place` of `school`.
    pub async fn indexed_texts(
        &self,
        school: InstitutionId,
        place: EntryPlace,
    ) -> Result<std::collections::HashMap<String, String>, DbError> {
        let (column, id) = match place {
            EntryPlace::Registration(id) => ("registration_id", id.to_string()),
            EntryPlace::Meeting(id) => ("meeting_id", id.to_string()),
            EntryPlace::Agreements { lsc } => ("CAST(lsc_id AS TEXT)", lsc.0.to_string()),
            EntryPlace::School => return Ok(std::collections::HashMap::new()),
        };
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT part, text FROM search_entries
             WHERE school_id = $1 AND {column} = $2 AND part NOT IN ('comment', 'file')"
        )))
        .bind(school)
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("part")?, row.try_get("text")?)))
            .collect()
    }

    /// The title, summary, understanding and advice the index holds of the registrations
    /// of `schools` on `theme` (or, without a theme, of school `school`) other than
    /// `except`: per registration, part → text.
    pub async fn advice_candidates(
        &self,
        theme: Option<&str>,
        school: InstitutionId,
        schools: &[InstitutionId],
        except: RegistrationId,
    ) -> Result<std::collections::HashMap<RegistrationId, std::collections::HashMap<String, String>>, DbError>
    {
        if schools.is_empty() {
            return Ok(std::collections::HashMap::new());
        }
        let parts = format!(
            "e.part IN ('title', 'summary', 'understanding', 'advice') AND r.id <> $1 AND r.school_id IN ({})",
            super::id_list(schools)
        );
        let rows = match theme {
            Some(theme) => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT e.registration_id, e.part, e.text FROM search_entries e
                     JOIN registrations r ON r.id = e.registration_id WHERE {parts} AND r.theme = $2"
                )))
                .bind(except)
                .bind(theme)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT e.registration_id, e.part, e.text FROM search_entries e
                     JOIN registrations r ON r.id = e.registration_id WHERE {parts} AND r.school_id = $2"
                )))
                .bind(except)
                .bind(school)
                .fetch_all(&self.pool)
                .await?
            }
        };
        let mut out: std::collections::HashMap<RegistrationId, std::collections::HashMap<String, String>> =
            std::collections::HashMap::new();
        for row in rows {
            out.entry(row.try_get("registration_id")?)
                .or_default()
                .insert(row.try_get("part")?, row.try_get("text")?);
        }
        Ok(out)
    }

    /// Meetings the index holds nothing of yet (made before their text was searched), at
    /// most `limit`.
    pub async fn unindexed_meetings(&self, limit: i64) -> Result<Vec<MeetingId>, DbError> {
        Ok(sqlx::query_scalar(
            "SELECT m.id FROM meetings m
             WHERE NOT EXISTS (SELECT 1 FROM search_entries e WHERE e.meeting_id = m.id)
             ORDER BY m.created_at LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Agreements the index holds nothing of (never written in, or made before their text
    /// was searched), at most `limit`.
    pub async fn unindexed_agreements(&self, limit: i64) -> Result<Vec<AgreementId>, DbError> {
        Ok(sqlx::query_scalar(
            "SELECT a.id FROM lsc_agreements a
             WHERE NOT EXISTS (SELECT 1 FROM search_entries e
                               WHERE e.school_id = a.school_id AND e.lsc_id = a.lsc_id)
             ORDER BY a.created_at LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The (school, LSC) pairs whose agreements `user` may read: every LSC that serves a
    /// school they are a member of, and their own LSC with every school it serves.
    pub async fn readable_agreements(
        &self,
        user: &crate::ids::UserId,
    ) -> Result<Vec<(InstitutionId, InstitutionId)>, DbError> {
        let rows = sqlx::query(
            "SELECT ls.school_id, ls.lsc_id FROM lsc_schools ls
             WHERE EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = $1
                           AND m.role = 'school_dossier' AND m.institution_id = ls.school_id)
                OR EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = $1
                           AND m.role = 'lsc_staff' AND m.institution_id = ls.lsc_id)",
        )
        .bind(user.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("school_id")?, row.try_get("lsc_id")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(DbError::from)
    }

    /// Registrations the index holds nothing of yet (made before search existed), at most
    /// `limit`.
    pub async fn unindexed_registrations(&self, limit: i64) -> Result<Vec<RegistrationId>, DbError> {
        Ok(sqlx::query_scalar(
            "SELECT r.id FROM registrations r
             WHERE NOT EXISTS (SELECT 1 FROM search_entries e WHERE e.registration_id = r.id)
             ORDER BY r.created_at LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }
}

/// What [`write_entry`] does, as writes that ride SQLite's group commit
/// ([`crate::storage::SqliteWriter`]). SQLite has one write lock, which the editors' group
/// commit needs too, so these write as little as they can:
/// - only the terms that came or went: a section being typed in gains a few words between
///   two indexings, and rewriting all its terms each time wrote hundreds of rows. The term
///   rows' weight and time stay those of when the term came: SQLite ranks on the entries
///   (`search_entries_rank`), never on them (docs/architecture.md, "Search");
/// - with the terms as one JSON value, so that a long text is no more statements.
fn sqlite_index_writes(entry: &NewEntry<'_>, terms: &[String]) -> Vec<SqlWrite> {
    use SqlValue::{Int, Null, Real, Text};
    let id = || Text(entry.id.to_owned());
    if terms.is_empty() {
        return vec![
            SqlWrite {
                sql: "DELETE FROM search_terms WHERE entry_id = ?",
                values: vec![id()],
            },
            SqlWrite {
                sql: "DELETE FROM search_entries WHERE id = ?",
                values: vec![id()],
            },
        ];
    }
    let (registration, meeting, lsc) = entry.place.owners();
    let (updated_at, weight) = (now(), entry_weight(entry.part, entry.text));
    let pairs = term_pairs(terms);
    let school = Int(entry.school.0);
    let text_or_null = |v: Option<String>| v.map_or(Null, Text);
    vec![
        SqlWrite {
            sql: "DELETE FROM search_terms WHERE entry_id = ?
                  AND (school_id <> ? OR term NOT IN (SELECT json_extract(value, '$[0]') FROM json_each(?)))",
            values: vec![id(), school.clone(), Text(pairs.clone())],
        },
        SqlWrite {
            sql: "INSERT INTO search_entries
                      (id, school_id, registration_id, meeting_id, lsc_id, part, text, updated_at, weight)
                  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                  ON CONFLICT (id) DO UPDATE
                  SET text = excluded.text, updated_at = excluded.updated_at, weight = excluded.weight",
            values: vec![
                id(),
                school.clone(),
                text_or_null(registration.map(|r| r.to_string())),
                text_or_null(meeting.map(|m| m.to_string())),
                lsc.map_or(Null, |l| Int(l.0)),
                Text(entry.part.to_owned()),
                Text(entry.text.to_owned()),
                Int(updated_at),
                Real(weight),
            ],
        },
        SqlWrite {
            sql: "INSERT INTO search_terms (term, rterm, entry_id, school_id, weight, updated_at)
                  SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), ?, ?, ?, ?
                  FROM json_each(?) WHERE true
                  ON CONFLICT (term, school_id, entry_id) DO NOTHING",
            values: vec![id(), school, Real(weight), Int(updated_at), Text(pairs)],
        },
    ]
}

/// Each term and its reversal (for suffix searches), as one JSON value: `[[term, rterm], ...]`.
fn term_pairs(terms: &[String]) -> String {
    let pairs: Vec<(&str, String)> = terms
        .iter()
        .map(|term| (term.as_str(), samen_search::reversed(term)))
        .collect();
    // A list of string pairs always serializes.
    serde_json::to_string(&pairs).unwrap_or_default()
}

/// Replaces what the index holds for `entry` with `terms` on PostgreSQL (no terms: removes
/// the entry). One statement, so one round trip and one commit, and nothing half-written
/// should it fail: the terms that went are deleted, the entry upserted, the terms that
/// stay get the entry's new weight and time (PostgreSQL ranks by them, see
/// [`word_matches`]) and the new ones are inserted. The foreign key from the terms to
/// their entry is checked at the statement's end, when the entry is there (or, removing
/// it, when its terms are gone).
async fn write_entry(pool: &sqlx::AnyPool, entry: &NewEntry<'_>, terms: &[String]) -> Result<(), DbError> {
    if terms.is_empty() {
        sqlx::query(
            "WITH gone AS (DELETE FROM search_terms WHERE entry_id = $1)
             DELETE FROM search_entries WHERE id = $1",
        )
        .bind(entry.id)
        .execute(pool)
        .await?;
        return Ok(());
    }
    let (registration, meeting, lsc) = entry.place.owners();
    let (updated_at, weight) = (now(), entry_weight(entry.part, entry.text));
    sqlx::query(
        "WITH gone AS (
             DELETE FROM search_terms WHERE entry_id = $1
               AND (school_id <> $2
                    OR term NOT IN (SELECT value ->> 0 FROM jsonb_array_elements($10::jsonb)))
         ), entry AS (
             INSERT INTO search_entries
                 (id, school_id, registration_id, meeting_id, lsc_id, part, text, updated_at, weight)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (id) DO UPDATE
             SET text = excluded.text, updated_at = excluded.updated_at, weight = excluded.weight
         )
         INSERT INTO search_terms (term, rterm, entry_id, school_id, weight, updated_at)
         SELECT value ->> 0, value ->> 1, $1, $2, $9, $8 FROM jsonb_array_elements($10::jsonb)
         ON CONFLICT (term, school_id, entry_id) DO UPDATE
         SET weight = excluded.weight, updated_at = excluded.updated_at",
    )
    .bind(entry.id)
    .bind(entry.school)
    .bind(registration)
    .bind(meeting)
    .bind(lsc)
    .bind(entry.part)
    .bind(entry.text)
    .bind(updated_at)
    .bind(weight)
    .bind(term_pairs(terms))
    .execute(pool)
    .await?;
    Ok(())
}

/// A found entry from its row of [`Db::search`].
fn found_entry(row: &sqlx::any::AnyRow) -> Result<FoundEntry, sqlx::Error> {
    let registration: Option<RegistrationId> = row.try_get("registration_id")?;
    let meeting: Option<MeetingId> = row.try_get("meeting_id")?;
    let agreement: Option<AgreementId> = row.try_get("agreement_id")?;
    Ok(FoundEntry {
        id: row.try_get("id")?,
        school: row.try_get("school_id")?,
        registration: match registration {
            Some(id) => Some(FoundRegistration {
                id,
                title: row.try_get("title")?,
                kind: row.try_get("kind")?,
                theme: row.try_get("theme")?,
                status: row.try_get("status")?,
                school_year: row.try_get("school_year")?,
            }),
            None => None,
        },
        meeting: match meeting {
            Some(id) => Some(FoundMeeting {
                id,
                title: row.try_get("m_title")?,
                held_on: row.try_get("m_held_on")?,
                school_year: row.try_get("m_school_year")?,
            }),
            None => None,
        },
        agreement: match agreement {
            Some(id) => Some(FoundAgreement {
                id,
                lsc: institution_at(row, "l")?,
            }),
            None => None,
        },
        part: row.try_get("part")?,
        text: row.try_get("text")?,
        updated_at: row.try_get("updated_at")?,
        weight: row.try_get("weight")?,
    })
}

#[cfg(test)]
mod tests {
    use super::entry_weight;

    #[test]
    fn a_title_weighs_most_a_comment_least_and_length_lowers_the_weight() {
        assert_eq!(entry_weight("title", ""), 3.0);
        assert!(entry_weight("title", "Pesten") > entry_weight("summary", "Pesten"));
        assert!(entry_weight("advice", "Pesten") > entry_weight("goals", "Pesten"));
        assert!(entry_weight("goals", "Pesten") > entry_weight("comment", "Pesten"));
        let long = "woord ".repeat(400);
        assert!(entry_weight("summary", &long) < entry_weight("summary", "Pesten") / 3.0);
        // Characters, not bytes: accents weigh as letters.
        assert_eq!(entry_weight("goals", "éé"), entry_weight("goals", "ee"));
    }
}

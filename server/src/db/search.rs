//! The search index's rows (issue 18): entries, the pieces of text people may search (a
//! registration's title, each of its sections, each comment, a document's name), and the
//! index terms of each (`samen_search`). The same rows and queries on both engines: a term
//! matches by equality, or as a compound's head or tail by a range scan on `term` or on
//! `rterm` (the term reversed).

use sqlx::Row;

use super::{Db, DbError, now};
use crate::ids::{InstitutionId, RegistrationId};

/// The entry id of a registration's title or section `part`: the room, the first pass at
/// start and the routes must name a piece alike, or it would be kept twice.
pub fn part_entry_id(registration: RegistrationId, part: &str) -> String {
    format!("{registration}:{part}")
}

/// A piece of text to keep in the index.
pub struct NewEntry<'a> {
    /// Its id: `<registration>:<part>` for a title or a section, `comment:<id>`, `file:<id>`.
    pub id: &'a str,
    pub school: InstitutionId,
    pub registration: Option<RegistrationId>,
    /// `title`, a section's name, `comment` or `file`.
    pub part: &'a str,
    pub text: &'a str,
}

/// A piece of text found.
#[derive(Debug, Clone)]
pub struct FoundEntry {
    pub id: String,
    pub school: InstitutionId,
    /// Its registration (none for a school's own document).
    pub registration: Option<FoundRegistration>,
    pub part: String,
    pub text: String,
    pub updated_at: i64,
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

/// What a search keeps to (a school's own documents pass only when nothing is asked of
/// the registration).
#[derive(Debug, Default, Clone)]
pub struct SearchFilter {
    pub year: Option<String>,
    pub kind: Option<String>,
    pub theme: Option<String>,
    pub status: Option<String>,
}

/// The SQL condition on `search_terms` for one query word (its binds appended to `binds`);
/// empty when the word has no terms.
fn word_clause(word: &samen_search::QueryWord, binds: &mut Vec<String>) -> String {
    let mut clauses = Vec::new();
    for term in &word.terms {
        binds.push(term.clone());
        clauses.push(format!("term = ${}", binds.len()));
        if word.affix {
            for (column, key) in [("term", term.clone()), ("rterm", samen_search::reversed(term))] {
                match samen_search::upper_bound(&key) {
                    Some(upper) => {
                        binds.push(key);
                        binds.push(upper);
                        clauses.push(format!(
                            "({column} >= ${} AND {column} < ${})",
                            binds.len() - 1,
                            binds.len()
                        ));
                    }
                    None => {
                        binds.push(key);
                        clauses.push(format!("{column} >= ${}", binds.len()));
                    }
                }
            }
        }
    }
    clauses.join(" OR ")
}

/// How many terms go into one `INSERT`.
const TERMS_PER_INSERT: usize = 200;

impl Db {
    /// Keeps `entry` and its index terms, replacing what the index held for it; an empty
    /// text removes it.
    pub async fn index_entry(&self, entry: &NewEntry<'_>) -> Result<(), DbError> {
        let terms = samen_search::index_terms(entry.text);
        let mut conn = self.pool.acquire().await?;
        let written = write_entry(&mut conn, entry, &terms).await;
        if written.is_err() {
            // A transaction that failed half-way (a full disk) must not hand its connection,
            // perhaps still holding a stale snapshot, to the next request.
            let _ = conn.close().await;
        }
        written
    }

    /// Removes entry `id` from the index (a deleted comment or file).
    pub async fn unindex(&self, id: &str) -> Result<(), DbError> {
        let entry = NewEntry {
            id,
            school: InstitutionId(0),
            registration: None,
            part: "",
            text: "",
        };
        self.index_entry(&entry).await
    }

    /// The entries of `schools` with a term matching every word, that pass `filter`, last
    /// changed first, at most `limit`, with their registration's facts. One statement:
    /// each word is a semi-join on the terms (an equality, or range scans on `term` and
    /// `rterm` for a compound's head or tail), so that neither engine reads more texts than
    /// it returns.
    pub async fn search(
        &self,
        words: &[samen_search::QueryWord],
        schools: &[InstitutionId],
        filter: &SearchFilter,
        limit: usize,
    ) -> Result<Vec<FoundEntry>, DbError> {
        if words.is_empty() || schools.is_empty() {
            return Ok(Vec::new());
        }
        let mut binds: Vec<String> = Vec::new();
        let mut conditions = Vec::new();
        // Database ids are numbers: written as they are, they cannot be anything else.
        let ids: Vec<String> = schools.iter().map(|s| s.0.to_string()).collect();
        let ids = ids.join(", ");
        conditions.push(format!("e.school_id IN ({ids})"));
        for word in words {
            let clause = word_clause(word, &mut binds);
            if clause.is_empty() {
                return Ok(Vec::new());
            }
            conditions.push(format!(
                "e.id IN (SELECT entry_id FROM search_terms WHERE ({clause}) AND school_id IN ({ids}))"
            ));
        }
        for (column, value) in [
            ("r.school_year", &filter.year),
            ("r.kind", &filter.kind),
            ("r.theme", &filter.theme),
            ("r.status", &filter.status),
        ] {
            if let Some(value) = value {
                binds.push(value.clone());
                conditions.push(format!("{column} = ${}", binds.len()));
            }
        }
        let sql = format!(
            "SELECT e.id, e.school_id, e.registration_id, e.part, e.text, e.updated_at,
                    r.title, r.kind, r.theme, r.status, r.school_year
             FROM search_entries e LEFT JOIN registrations r ON r.id = e.registration_id
             WHERE {}
             ORDER BY e.updated_at DESC, e.id LIMIT {limit}",
            conditions.join(" AND ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for bind in binds {
            query = query.bind(bind);
        }
        query
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|row| {
                let registration: Option<RegistrationId> = row.try_get("registration_id")?;
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
                    part: row.try_get("part")?,
                    text: row.try_get("text")?,
                    updated_at: row.try_get("updated_at")?,
                })
            })
            .collect()
    }

    /// The texts the index holds of registration `registration`'s parts (title, sections).
    pub async fn indexed_texts(
        &self,
        registration: RegistrationId,
    ) -> Result<std::collections::HashMap<String, String>, DbError> {
        let rows = sqlx::query(
            "SELECT part, text FROM search_entries
             WHERE registration_id = $1 AND part NOT IN ('comment', 'file')",
        )
        .bind(registration)
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
        // Database ids are numbers: written as they are, they cannot be anything else.
        let ids: Vec<String> = schools.iter().map(|s| s.0.to_string()).collect();
        let parts = format!(
            "e.part IN ('title', 'summary', 'understanding', 'advice') AND r.id <> $1 AND r.school_id IN ({})",
            ids.join(", ")
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

/// Writes an entry and its terms in one transaction (none: removes the entry).
async fn write_entry(
    conn: &mut sqlx::AnyConnection,
    entry: &NewEntry<'_>,
    terms: &[String],
) -> Result<(), DbError> {
    use sqlx::Connection;
    let mut tx = conn.begin().await?;
    sqlx::query("DELETE FROM search_terms WHERE entry_id = $1")
        .bind(entry.id)
        .execute(&mut *tx)
        .await?;
    if terms.is_empty() {
        sqlx::query("DELETE FROM search_entries WHERE id = $1")
            .bind(entry.id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO search_entries (id, school_id, registration_id, part, text, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (id) DO UPDATE SET text = excluded.text, updated_at = excluded.updated_at",
    )
    .bind(entry.id)
    .bind(entry.school)
    .bind(entry.registration)
    .bind(entry.part)
    .bind(entry.text)
    .bind(now())
    .execute(&mut *tx)
    .await?;
    for chunk in terms.chunks(TERMS_PER_INSERT) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| format!("(${}, ${}, $1, $2)", 2 * i + 3, 2 * i + 4))
            .collect();
        let sql = format!(
            "INSERT INTO search_terms (term, rterm, entry_id, school_id) VALUES {}",
            values.join(", ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(entry.id)
            .bind(entry.school);
        for term in chunk {
            query = query.bind(term.as_str()).bind(samen_search::reversed(term));
        }
        query.execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

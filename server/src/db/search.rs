//! The search index's rows (issue 18): entries, the pieces of text people may search (a
//! registration's title, each of its sections, each comment, a document's name), and the
//! index terms of each (`samen_search`). The same rows and queries on both engines: a term
//! matches by equality, or as a compound's head or tail by a range scan on `term` or on
//! `rterm` (the term reversed).

use std::collections::HashSet;

use sqlx::Row;

use super::{Db, DbError, now};
use crate::ids::{InstitutionId, RegistrationId};

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
    pub registration: Option<RegistrationId>,
    pub part: String,
    pub text: String,
    pub updated_at: i64,
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

    /// The entries with a term that matches `word`.
    pub async fn entries_matching(&self, word: &samen_search::QueryWord) -> Result<HashSet<String>, DbError> {
        let mut clauses = Vec::new();
        let mut binds: Vec<String> = Vec::new();
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
        if clauses.is_empty() {
            return Ok(HashSet::new());
        }
        let sql = format!(
            "SELECT DISTINCT entry_id FROM search_terms WHERE {}",
            clauses.join(" OR ")
        );
        let mut query = sqlx::query_scalar(sqlx::AssertSqlSafe(sql));
        for bind in binds {
            query = query.bind(bind);
        }
        Ok(query.fetch_all(&self.pool).await?.into_iter().collect())
    }

    /// The entries `ids` of schools `schools`, last changed first, at most `limit`.
    pub async fn found_entries(
        &self,
        ids: &[String],
        schools: &[InstitutionId],
        limit: usize,
    ) -> Result<Vec<FoundEntry>, DbError> {
        let mut found = Vec::new();
        // One query per piece keeps the statement small whatever the number of hits.
        for chunk in ids.chunks(500) {
            let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT id, school_id, registration_id, part, text, updated_at FROM search_entries
                 WHERE id IN ({})",
                marks.join(", ")
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                query = query.bind(id.as_str());
            }
            for row in query.fetch_all(&self.pool).await? {
                let school: InstitutionId = row.try_get("school_id")?;
                if !schools.contains(&school) {
                    continue;
                }
                found.push(FoundEntry {
                    id: row.try_get("id")?,
                    school,
                    registration: row.try_get("registration_id")?,
                    part: row.try_get("part")?,
                    text: row.try_get("text")?,
                    updated_at: row.try_get("updated_at")?,
                });
            }
        }
        found.sort_by(|a, b| b.updated_at.cmp(&a.updated_at).then_with(|| a.id.cmp(&b.id)));
        found.truncate(limit);
        Ok(found)
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
    /// on `theme` (or, without a theme, of school `school`) other than `except`: per
    /// registration, part → text.
    pub async fn advice_candidates(
        &self,
        theme: Option<&str>,
        school: InstitutionId,
        except: RegistrationId,
    ) -> Result<std::collections::HashMap<RegistrationId, std::collections::HashMap<String, String>>, DbError>
    {
        const PARTS: &str = "e.part IN ('title', 'summary', 'understanding', 'advice') AND r.id <> $1";
        let rows = match theme {
            Some(theme) => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT e.registration_id, e.part, e.text FROM search_entries e
                     JOIN registrations r ON r.id = e.registration_id WHERE {PARTS} AND r.theme = $2"
                )))
                .bind(except)
                .bind(theme)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT e.registration_id, e.part, e.text FROM search_entries e
                     JOIN registrations r ON r.id = e.registration_id WHERE {PARTS} AND r.school_id = $2"
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
            .map(|i| format!("(${}, ${}, $1)", 2 * i + 2, 2 * i + 3))
            .collect();
        let sql = format!(
            "INSERT INTO search_terms (term, rterm, entry_id) VALUES {}",
            values.join(", ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(entry.id);
        for term in chunk {
            query = query.bind(term.as_str()).bind(samen_search::reversed(term));
        }
        query.execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

//! What the overviews need beyond the registrations' rows: when each registration of a
//! school last saw activity (a version of its text, a comment), and the figures of every
//! school on the list of schools.

use std::collections::HashMap;

use sqlx::Row;

use super::{Db, DbError};
use crate::ids::{InstitutionId, RegistrationId, UserId};

/// A school's figures on the list of schools.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct SchoolFigures {
    /// Its open registrations (every school year).
    pub open: i64,
    /// Comments by others on its registrations that the user has not read.
    pub unread: i64,
    /// The last change to any of its registrations: details, text or a comment (ms since
    /// the epoch).
    #[schema(required = true)]
    pub last_activity: Option<i64>,
    /// Its registrations whose text others changed since the user last left them.
    pub changed_since_visit: i64,
}

impl Db {
    /// Rows counted per school of `user`'s: `from_where` is a `FROM registrations r …
    /// WHERE … AND` clause (with `$1` for the user) that the membership condition completes.
    async fn count_per_school(
        &self,
        user: &UserId,
        from_where: &str,
    ) -> Result<Vec<(InstitutionId, i64)>, DbError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT r.school_id AS school, COUNT(*) AS n {from_where}
               EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = $1 AND {})
             GROUP BY r.school_id",
            super::links_to_school("r.school_id")
        )))
        .bind(user.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("school")?, row.try_get("n")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(DbError::from)
    }

    /// Per registration of school `school_id`: the latest of its newest version (taken when
    /// its text changed) and its newest comment, in ms since the epoch (absent: neither).
    pub async fn last_activity(
        &self,
        school_id: InstitutionId,
    ) -> Result<HashMap<RegistrationId, i64>, DbError> {
        let rows = sqlx::query(
            "SELECT r.id AS id, MAX(s.created_at) AS at FROM registrations r
             JOIN doc_snapshots s ON s.doc_id = r.id
             WHERE r.school_id = $1 GROUP BY r.id
             UNION ALL
             SELECT r.id, MAX(c.created_at) FROM registrations r
             JOIN comment_threads t ON t.registration_id = r.id
             JOIN comments c ON c.thread_id = t.id
             WHERE r.school_id = $1 GROUP BY r.id",
        )
        .bind(school_id)
        .fetch_all(&self.pool)
        .await?;
        let mut latest: HashMap<RegistrationId, i64> = HashMap::new();
        for row in &rows {
            let id: RegistrationId = row.try_get("id")?;
            let at: Option<i64> = row.try_get("at")?;
            if let Some(at) = at {
                let entry = latest.entry(id).or_insert(at);
                *entry = (*entry).max(at);
            }
        }
        Ok(latest)
    }

    /// Per school whose registrations `user` reads (as its member or as CLB staff serving
    /// it), with at least one registration: its figures for the list of schools.
    pub async fn school_figures(
        &self,
        user: &UserId,
    ) -> Result<HashMap<InstitutionId, SchoolFigures>, DbError> {
        // Per registration first (its details, its text's newest update or folded state,
        // its newest comment), then per school.
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT x.school_id AS school, CAST(SUM(x.is_open) AS BIGINT) AS open,
                    MAX(x.details_at) AS details_at, MAX(x.text_at) AS text_at,
                    MAX(x.comment_at) AS comment_at
             FROM (SELECT r.school_id, CASE WHEN r.status = 'open' THEN 1 ELSE 0 END AS is_open,
                          r.updated_at AS details_at, {} AS text_at,
                          (SELECT MAX(c.created_at) FROM comment_threads t
                             JOIN comments c ON c.thread_id = t.id
                             WHERE t.registration_id = r.id) AS comment_at
                   FROM registrations r
                   WHERE EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = $1 AND {})) x
             GROUP BY x.school_id",
            super::registrations::text_changed_at!(),
            super::links_to_school("r.school_id")
        )))
        .bind(user.as_str())
        .fetch_all(&self.pool)
        .await?;
        let mut figures = HashMap::new();
        for row in &rows {
            let last = ["details_at", "text_at", "comment_at"]
                .into_iter()
                .map(|column| row.try_get::<Option<i64>, _>(column))
                .collect::<Result<Vec<_>, _>>()?
                .into_iter()
                .flatten()
                .max();
            figures.insert(
                row.try_get("school")?,
                SchoolFigures {
                    open: row.try_get("open")?,
                    unread: 0,
                    last_activity: last,
                    changed_since_visit: 0,
                },
            );
        }
        let unread = format!("{} AND", super::comments::UNREAD);
        let changed = format!(
            "FROM registrations r JOIN visits v ON v.user_id = $1 AND v.doc_id = r.id WHERE {} AND",
            super::visits::TEXT_CHANGED_SINCE
        );
        for (count, set) in [
            (unread, (|f, n| f.unread = n) as fn(&mut SchoolFigures, i64)),
            (changed, |f, n| f.changed_since_visit = n),
        ] {
            for (school, n) in self.count_per_school(user, &count).await? {
                if let Some(f) = figures.get_mut(&school) {
                    set(f, n);
                }
            }
        }
        Ok(figures)
    }

    /// Per registration of schools `schools` in school year `year`: when a member of its
    /// school last commented on it (ms since the epoch; absent: never). What a signal
    /// waits for is the school's reaction.
    pub async fn last_school_reactions(
        &self,
        schools: &[InstitutionId],
        year: &str,
    ) -> Result<HashMap<RegistrationId, i64>, DbError> {
        if schools.is_empty() {
            return Ok(HashMap::new());
        }
        let ids = super::id_list(schools);
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT t.registration_id AS id, MAX(c.created_at) AS at
             FROM comment_threads t
             JOIN comments c ON c.thread_id = t.id
             JOIN registrations r ON r.id = t.registration_id
             JOIN memberships m ON m.user_id = c.author_id AND m.role = 'school_dossier'
                  AND m.institution_id = r.school_id
             WHERE r.school_id IN ({ids}) AND r.school_year = $1 AND c.deleted_at IS NULL
             GROUP BY t.registration_id"
        )))
        .bind(year)
        .fetch_all(&self.pool)
        .await?;
        let mut out = HashMap::new();
        for row in &rows {
            let at: Option<i64> = row.try_get("at")?;
            if let Some(at) = at {
                out.insert(row.try_get("id")?, at);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use crate::db::RegistrationFilter;
    use crate::testing::{Engine, demo_database, demo_user};

    crate::test_both_dbs!(
        the_list_of_schools_counts_open_registrations_unread_comments_and_last_activity_sqlite,
        the_list_of_schools_counts_open_registrations_unread_comments_and_last_activity_postgres,
        the_list_of_schools_counts_open_registrations_unread_comments_and_last_activity
    );
    async fn the_list_of_schools_counts_open_registrations_unread_comments_and_last_activity(engine: Engine) {
        let (_dir, _store, db) = demo_database(engine).await;
        let tom = demo_user(&db, "linde@demo.test").await;
        let sara = demo_user(&db, "clb@demo.test").await;
        let lsc = demo_user(&db, "lsc@demo.test").await;
        let linde = db.institution("100001").await.expect("school").expect("De Linde");
        let listed = db
            .registrations(linde.id, &RegistrationFilter::default())
            .await
            .expect("list");
        let open = listed.iter().filter(|r| r.status == "open").count() as i64;

        let before = db.school_figures(&tom).await.expect("figures");
        assert_eq!(before.len(), 1, "Tom reads De Linde only: {before:?}");
        assert_eq!(before[&linde.id].open, open);
        assert!(
            db.school_figures(&lsc).await.expect("figures").is_empty(),
            "not an LSC's"
        );

        // Sara comments: one unread for Tom, none for her; the school's last activity moves.
        let at = crate::db::now();
        db.create_thread(listed[0].id, &sara, "Kunnen we dit bespreken?", None, &[])
            .await
            .expect("thread");
        let after = db.school_figures(&tom).await.expect("figures");
        assert_eq!(after[&linde.id].unread, before[&linde.id].unread + 1);
        assert!(after[&linde.id].last_activity >= Some(at));
        let hers = db.school_figures(&sara).await.expect("figures");
        assert!(hers.len() >= 2, "Sara's CLB serves both schools: {hers:?}");
        assert_eq!(hers[&linde.id].open, open);
        assert_eq!(hers[&linde.id].last_activity, after[&linde.id].last_activity);
    }
}

#[cfg(test)]
mod across_schools {
    use std::collections::HashSet;

    use crate::db::{RegistrationFilter, RegistrationPatch};
    use crate::ids::DocId;
    use crate::testing::{Engine, demo_database};

    crate::test_both_dbs!(
        several_schools_are_read_in_one_query_as_one_by_one_sqlite,
        several_schools_are_read_in_one_query_as_one_by_one_postgres,
        several_schools_are_read_in_one_query_as_one_by_one
    );
    async fn several_schools_are_read_in_one_query_as_one_by_one(engine: Engine) {
        let (_dir, _store, db) = demo_database(engine).await;
        let linde = db.institution("100001").await.expect("school").expect("De Linde");
        let other = db
            .institution("100002")
            .await
            .expect("school")
            .expect("a second school");
        let all = RegistrationFilter::default();
        let ids = |list: Vec<crate::db::Registration>| list.into_iter().map(|r| r.id).collect::<HashSet<_>>();
        let one_by_one: HashSet<_> = ids(db.registrations(linde.id, &all).await.expect("list"))
            .union(&ids(db.registrations(other.id, &all).await.expect("list")))
            .copied()
            .collect();
        let together = ids(db
            .registrations_in(&[linde.id, other.id], &all)
            .await
            .expect("list"));
        assert!(!one_by_one.is_empty());
        assert_eq!(together, one_by_one);
        assert!(db.registrations_in(&[], &all).await.expect("none").is_empty());

        // The status of every open registration in one query; what is no registration is absent.
        let listed = db.registrations(linde.id, &all).await.expect("list");
        let (first, second) = (listed[0].id, listed[1].id);
        let close = RegistrationPatch {
            status: Some("closed".into()),
            ..RegistrationPatch::default()
        };
        db.patch_registration(first, &close).await.expect("close");
        let stranger = DocId::from(crate::ids::MeetingId::new());
        let closed = db
            .registrations_closed(&[first.into(), second.into(), stranger])
            .await
            .expect("statuses");
        assert_eq!(closed.get(&DocId::from(first)), Some(&true));
        assert_eq!(
            closed.get(&DocId::from(second)),
            Some(&(listed[1].status == "closed"))
        );
        assert_eq!(closed.get(&stranger), None);
    }
}

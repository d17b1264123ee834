//! What the admin pages read and change: users with their roles and where the roles come
//! from, institutions with who serves them.

use sqlx::Row;

use super::{Db, DbError, placeholders, users::institution};
use crate::db::Institution;
use crate::ids::{InstitutionId, UserId};

/// A role of a user, and whether the admin pages may take it away.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct SourcedMembership {
    /// `clb_staff`, `school_dossier`, `lsc_staff` or `admin`.
    pub role: String,
    /// The institution it applies to (`null` for `admin`).
    #[schema(required = true)]
    pub institution: Option<Institution>,
    /// `local` (granted here) or `oidc` (from the provider at every login).
    pub source: String,
}

/// A user as the admin pages show them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct AdminUser {
    /// Their id.
    pub id: String,
    /// Login e-mail address.
    pub email: String,
    /// Name shown to others.
    pub display_name: String,
    /// Disabled users cannot log in.
    pub disabled: bool,
    /// Whether they have a password here.
    pub password: bool,
    /// Whether the OpenID Connect provider logs them in.
    pub provider: bool,
    /// Their roles.
    pub memberships: Vec<SourcedMembership>,
}

/// An institution and, for a school, the CLBs and LSCs that serve it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct InstitutionLinks {
    /// `clb`, `school` or `lsc`.
    pub kind: String,
    /// The institution number.
    pub number: String,
    /// Its name.
    pub name: String,
    /// The CLBs and LSCs that serve it (a school's; empty otherwise).
    pub served_by: Vec<Institution>,
}

/// The institutions a CLB administrator (the user bound to `{p}`, a placeholder) looks
/// after: the CLBs they hold `clb_admin` on, and the schools those CLBs serve.
pub(crate) fn administered(p: &str) -> String {
    format!(
        "SELECT a.institution_id FROM memberships a WHERE a.user_id = {p} AND a.role = 'clb_admin'
         UNION SELECT cs.school_id FROM clb_schools cs
           JOIN memberships a ON a.institution_id = cs.clb_id
          WHERE a.user_id = {p} AND a.role = 'clb_admin'"
    )
}

impl Db {
    /// The CLBs a user administers (`clb_admin`).
    pub async fn administered_clbs(&self, user: &UserId) -> Result<Vec<Institution>, DbError> {
        let rows = sqlx::query(
            "SELECT i.id, i.kind, i.number, i.name FROM memberships m JOIN institutions i ON i.id = m.institution_id
             WHERE m.user_id = $1 AND m.role = 'clb_admin' AND i.kind = 'clb' ORDER BY i.number",
        )
        .bind(user.as_str())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(institution).collect::<Result<_, sqlx::Error>>()?)
    }

    /// The schools the CLBs a user administers serve.
    pub async fn administered_schools(&self, user: &UserId) -> Result<Vec<InstitutionId>, DbError> {
        let ids = sqlx::query_scalar(
            "SELECT cs.school_id FROM clb_schools cs JOIN memberships a ON a.institution_id = cs.clb_id
             WHERE a.user_id = $1 AND a.role = 'clb_admin'",
        )
        .bind(user.as_str())
        .fetch_all(&self.pool)
        .await?;
        Ok(ids)
    }

    /// Users whose name or e-mail address contains `query` (all without one), by name; at
    /// most `limit`, and whether there were more. With `within`, a CLB administrator's id:
    /// only people who hold a role on what they look after.
    pub async fn admin_users(
        &self,
        query: Option<&str>,
        limit: usize,
        within: Option<&UserId>,
    ) -> Result<(Vec<AdminUser>, bool), DbError> {
        self.users_matching(query, limit, within, None).await
    }

    /// One user as the admin pages show them.
    pub async fn admin_user(&self, id: &UserId) -> Result<Option<AdminUser>, DbError> {
        let (found, _) = self.users_matching(None, 1, None, Some(id)).await?;
        Ok(found.into_iter().next())
    }

    /// [`Db::admin_users`], or with `only` the one user with that id.
    async fn users_matching(
        &self,
        query: Option<&str>,
        limit: usize,
        within: Option<&UserId>,
        only: Option<&UserId>,
    ) -> Result<(Vec<AdminUser>, bool), DbError> {
        let pattern = query.map(|q| format!("%{}%", super::like_escaped(&q.to_lowercase())));
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT u.id, u.email, u.display_name, u.disabled,
                    CASE WHEN u.password_hash = '' THEN 0 ELSE 1 END AS has_password,
                    CASE WHEN EXISTS (SELECT 1 FROM user_identities i WHERE i.user_id = u.id) THEN 1 ELSE 0 END AS provider
             FROM users u
             WHERE ($1 IS NULL OR lower(u.email) LIKE $1 ESCAPE '\\' OR lower(u.display_name) LIKE $1 ESCAPE '\\')
               AND ($3 IS NULL OR u.id IN (SELECT m.user_id FROM memberships m WHERE m.institution_id IN ({})))
               AND ($4 IS NULL OR u.id = $4)
             ORDER BY lower(u.display_name), u.email LIMIT $2",
            administered("$3")
        )))
        .bind(pattern)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX).saturating_add(1))
        .bind(within.map(UserId::as_str))
        .bind(only.map(UserId::as_str))
        .fetch_all(&self.pool)
        .await?;
        let more = rows.len() > limit;
        let mut users = rows
            .iter()
            .take(limit)
            .map(|row| {
                Ok(AdminUser {
                    id: row.try_get("id")?,
                    email: row.try_get("email")?,
                    display_name: row.try_get("display_name")?,
                    disabled: row.try_get::<i64, _>("disabled")? != 0,
                    password: row.try_get::<i64, _>("has_password")? != 0,
                    provider: row.try_get::<i64, _>("provider")? != 0,
                    memberships: Vec::new(),
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        let sql = format!(
            "SELECT m.user_id, m.role, m.source, i.id, i.kind, i.number, i.name FROM memberships m
             LEFT JOIN institutions i ON i.id = m.institution_id
             WHERE m.user_id IN ({}) ORDER BY m.role, i.number",
            placeholders(users.len())
        );
        let mut memberships = sqlx::query(sqlx::AssertSqlSafe(sql));
        for user in &users {
            memberships = memberships.bind(user.id.as_str());
        }
        for row in memberships.fetch_all(&self.pool).await? {
            let user_id: String = row.try_get("user_id")?;
            let institution = match row.try_get::<Option<i64>, _>("id")? {
                Some(_) => Some(institution(&row)?),
                None => None,
            };
            if let Some(user) = users.iter_mut().find(|u| u.id == user_id) {
                user.memberships.push(SourcedMembership {
                    role: row.try_get("role")?,
                    institution,
                    source: row.try_get("source")?,
                });
            }
        }
        Ok((users, more))
    }

    /// Enables a disabled user again (their old sessions and tokens stay ended).
    pub async fn enable_user(&self, id: &UserId) -> Result<(), DbError> {
        sqlx::query("UPDATE users SET disabled = 0 WHERE id = $1")
            .bind(id.as_str())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Revokes a role granted here (not one from the provider); whether the user had it.
    pub async fn revoke_local(
        &self,
        user: &UserId,
        role: &str,
        institution: Option<InstitutionId>,
    ) -> Result<bool, DbError> {
        let n = sqlx::query(
            "DELETE FROM memberships WHERE user_id = $1 AND role = $2 AND source = 'local'
               AND institution_id IS NOT DISTINCT FROM $3",
        )
        .bind(user.as_str())
        .bind(role)
        .bind(institution)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n > 0)
    }

    /// Records that a CLB no longer serves a school; whether it did.
    pub async fn unlink_school(&self, clb: InstitutionId, school: InstitutionId) -> Result<bool, DbError> {
        let n = sqlx::query("DELETE FROM clb_schools WHERE clb_id = $1 AND school_id = $2")
            .bind(clb)
            .bind(school)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n > 0)
    }

    /// Every institution, by kind and number, with who serves each school.
    pub async fn institutions_with_links(&self) -> Result<Vec<InstitutionLinks>, DbError> {
        let all: Vec<Institution> =
            sqlx::query("SELECT id, kind, number, name FROM institutions ORDER BY kind, number")
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(institution)
                .collect::<Result<_, sqlx::Error>>()?;
        let links: Vec<(InstitutionId, InstitutionId)> = sqlx::query(
            "SELECT clb_id AS partner, school_id FROM clb_schools
             UNION ALL SELECT lsc_id AS partner, school_id FROM lsc_schools",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| Ok((r.try_get("partner")?, r.try_get("school_id")?)))
        .collect::<Result<_, sqlx::Error>>()?;
        Ok(all
            .iter()
            .map(|inst| {
                let mut served_by: Vec<Institution> = links
                    .iter()
                    .filter(|(_, school)| *school == inst.id)
                    .filter_map(|(partner, _)| all.iter().find(|i| i.id == *partner).cloned())
                    .collect();
                served_by.sort_by(|a, b| (&a.kind, &a.number).cmp(&(&b.kind, &b.number)));
                InstitutionLinks {
                    kind: inst.kind.clone(),
                    number: inst.number.clone(),
                    name: inst.name.clone(),
                    served_by,
                }
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use crate::db::AuditFilter;
    use crate::testing::{Engine, demo_database, demo_user};

    crate::test_both_dbs!(
        users_are_found_by_name_or_address_with_their_roles_sqlite,
        users_are_found_by_name_or_address_with_their_roles_postgres,
        users_are_found_by_name_or_address_with_their_roles
    );
    async fn users_are_found_by_name_or_address_with_their_roles(engine: Engine) {
        let (_dir, _store, db) = demo_database(engine).await;
        let (all, more) = db.admin_users(None, 100, None).await.unwrap();
        assert_eq!(all.len(), 5);
        assert!(!more);
        let (two, more) = db.admin_users(None, 2, None).await.unwrap();
        assert_eq!(two.len(), 2);
        assert!(more);
        let (found, _) = db.admin_users(Some("LINDE"), 100, None).await.unwrap();
        assert_eq!(found.len(), 1);
        let tom = &found[0];
        assert_eq!(tom.email, "linde@demo.test");
        assert!(tom.password && !tom.provider && !tom.disabled);
        assert_eq!(tom.memberships.len(), 1);
        assert_eq!(tom.memberships[0].role, "school_dossier");
        assert_eq!(tom.memberships[0].source, "local");
        assert_eq!(tom.memberships[0].institution.as_ref().unwrap().number, "100001");
        // Wildcards are searched as themselves.
        assert!(db.admin_users(Some("%"), 100, None).await.unwrap().0.is_empty());
        assert!(db.admin_users(Some("_"), 100, None).await.unwrap().0.is_empty());

        // A local role is revoked; the user is disabled and enabled again.
        let tom_id = demo_user(&db, "linde@demo.test").await;
        let linde = db.institution("100001").await.unwrap().unwrap();
        assert!(
            db.revoke_local(&tom_id, "school_dossier", Some(linde.id))
                .await
                .unwrap()
        );
        assert!(
            !db.revoke_local(&tom_id, "school_dossier", Some(linde.id))
                .await
                .unwrap()
        );
        db.disable_user(&tom_id).await.unwrap();
        assert!(db.admin_user(&tom_id).await.unwrap().unwrap().disabled);
        db.enable_user(&tom_id).await.unwrap();
        let tom = db.admin_user(&tom_id).await.unwrap().unwrap();
        assert!(!tom.disabled && tom.memberships.is_empty());
    }

    crate::test_both_dbs!(
        institutions_come_with_who_serves_them_and_links_can_be_undone_sqlite,
        institutions_come_with_who_serves_them_and_links_can_be_undone_postgres,
        institutions_come_with_who_serves_them_and_links_can_be_undone
    );
    async fn institutions_come_with_who_serves_them_and_links_can_be_undone(engine: Engine) {
        let (_dir, _store, db) = demo_database(engine).await;
        let all = db.institutions_with_links().await.unwrap();
        let linde = all.iter().find(|i| i.number == "100001").unwrap();
        let partners: Vec<&str> = linde.served_by.iter().map(|i| i.number.as_str()).collect();
        assert!(
            partners.contains(&"900001") && partners.contains(&"800001"),
            "{partners:?}"
        );
        assert!(
            all.iter()
                .find(|i| i.number == "900001")
                .unwrap()
                .served_by
                .is_empty()
        );
        let clb = db.institution("900001").await.unwrap().unwrap();
        let school = db.institution("100001").await.unwrap().unwrap();
        assert!(db.unlink_school(clb.id, school.id).await.unwrap());
        assert!(!db.unlink_school(clb.id, school.id).await.unwrap());
        let after = db.institutions_with_links().await.unwrap();
        let linde = after.iter().find(|i| i.number == "100001").unwrap();
        assert!(!linde.served_by.iter().any(|i| i.number == "900001"));
    }

    crate::test_both_dbs!(
        the_audit_log_pages_newest_first_and_filters_by_action_outcome_and_time_sqlite,
        the_audit_log_pages_newest_first_and_filters_by_action_outcome_and_time_postgres,
        the_audit_log_pages_newest_first_and_filters_by_action_outcome_and_time
    );
    async fn the_audit_log_pages_newest_first_and_filters_by_action_outcome_and_time(engine: Engine) {
        let (_dir, _store, db) = demo_database(engine).await;
        let tom = demo_user(&db, "linde@demo.test").await;
        for (action, outcome) in [
            ("login", "ok"),
            ("login", "denied"),
            ("login_totp", "ok"),
            ("role.grant", "ok"),
        ] {
            db.audit(crate::db::AuditEntry {
                actor: Some(tom.to_string()),
                action,
                target: Some("doel".into()),
                outcome,
                detail: None,
            })
            .await
            .unwrap();
        }
        let mine = |filter: AuditFilter| {
            let db = db.clone();
            let tom = tom.to_string();
            async move {
                let filter = AuditFilter {
                    actor: Some(tom),
                    ..filter
                };
                db.audit_page(&filter).await.unwrap()
            }
        };
        let all = mine(AuditFilter::default()).await;
        assert_eq!(all.len(), 4);
        assert!(all[0].id > all[3].id, "newest first");
        assert_eq!(all[0].actor.as_ref().unwrap().email, "linde@demo.test");
        let logins = mine(AuditFilter {
            action: Some("login".into()),
            ..Default::default()
        })
        .await;
        assert_eq!(logins.len(), 3, "a prefix");
        let underscore = mine(AuditFilter {
            action: Some("login_".into()),
            ..Default::default()
        })
        .await;
        assert_eq!(underscore.len(), 1, "_ is no wildcard");
        let denied = mine(AuditFilter {
            outcome: Some("denied".into()),
            ..Default::default()
        })
        .await;
        assert_eq!(denied.len(), 1);
        let page = mine(AuditFilter {
            limit: Some(2),
            ..Default::default()
        })
        .await;
        let rest = mine(AuditFilter {
            before: Some(page[1].id),
            ..Default::default()
        })
        .await;
        assert_eq!(page.len() + rest.len(), 4);
        let future = mine(AuditFilter {
            since: Some(i64::MAX / 2),
            ..Default::default()
        })
        .await;
        assert!(future.is_empty());
        let past = mine(AuditFilter {
            until: Some(1),
            ..Default::default()
        })
        .await;
        assert!(past.is_empty());
    }
}

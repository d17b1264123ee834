//! People who log in through the OpenID Connect provider: their identities, the roles the
//! provider grants them (replaced at every login), and the sessions it started.

use sqlx::Row;

use super::{Db, DbError, now, placeholders, users::row_user};
use crate::auth::oidc::{Kind, Person};
use crate::auth::secret::hash_secret;
use crate::db::User;
use crate::ids::{InstitutionId, UserId};

/// The Samen user behind a provider's subject.
#[derive(Debug, Clone)]
pub struct ProviderUser {
    /// The user.
    pub user: User,
    /// Made at this login (just in time).
    pub created: bool,
    /// An existing user (same e-mail address) linked to the subject at this login.
    pub linked: bool,
}

/// What a login changed in the roles the provider grants: `(role, institution number)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleChanges {
    /// Roles granted now that were not before.
    pub added: Vec<(String, String)>,
    /// Roles the provider no longer grants.
    pub removed: Vec<(String, String)>,
    /// Institution numbers the claims name that Samen does not have, or that are of
    /// another kind than the role: ignored, never created.
    pub unknown: Vec<String>,
}

const USER_COLUMNS: &str = "u.id, u.email, u.display_name, u.disabled";

impl Db {
    /// The user of a provider's subject: found by the subject, else by e-mail address
    /// (then linked), else made. Their name and address follow the provider's.
    pub async fn provider_user(&self, issuer: &str, person: &Person) -> Result<ProviderUser, DbError> {
        let at = now();
        if let Some(user) = self.identity_user(issuer, &person.subject).await? {
            sqlx::query("UPDATE user_identities SET last_login_at = $1 WHERE issuer = $2 AND subject = $3")
                .bind(at)
                .bind(issuer)
                .bind(&person.subject)
                .execute(&self.pool)
                .await?;
            self.follow_provider(&user, person).await?;
            let user = self.user(&user.id).await?.unwrap_or(user);
            return Ok(ProviderUser {
                user,
                created: false,
                linked: false,
            });
        }
        let (user, created) = match self.user_by_email(&person.email).await? {
            Some((user, _)) => (user, false),
            // No password: this user logs in through the provider only.
            None => match self.create_user(&person.email, &person.display_name, "").await {
                Ok(user) => (user, true),
                // Made by a login of the same person on another node a moment ago.
                Err(DbError::Conflict(_)) => match self.user_by_email(&person.email).await? {
                    Some((user, _)) => (user, false),
                    None => return Err(DbError::Conflict("e-mail address")),
                },
                Err(err) => return Err(err),
            },
        };
        sqlx::query(
            "INSERT INTO user_identities (issuer, subject, user_id, created_at, last_login_at)
             VALUES ($1, $2, $3, $4, $4) ON CONFLICT DO NOTHING",
        )
        .bind(issuer)
        .bind(&person.subject)
        .bind(user.id.as_str())
        .bind(at)
        .execute(&self.pool)
        .await?;
        // Whoever linked first wins; both logins go on as that user.
        let user = self
            .identity_user(issuer, &person.subject)
            .await?
            .ok_or(DbError::Conflict("identity"))?;
        Ok(ProviderUser {
            linked: !created,
            created,
            user,
        })
    }

    async fn identity_user(&self, issuer: &str, subject: &str) -> Result<Option<User>, DbError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM user_identities i JOIN users u ON u.id = i.user_id
             WHERE i.issuer = $1 AND i.subject = $2"
        )))
        .bind(issuer)
        .bind(subject)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(row_user).transpose()?)
    }

    /// Takes over the provider's name and e-mail address (the address only if no other
    /// user has it).
    async fn follow_provider(&self, user: &User, person: &Person) -> Result<(), DbError> {
        if user.display_name != person.display_name {
            sqlx::query("UPDATE users SET display_name = $1 WHERE id = $2")
                .bind(&person.display_name)
                .bind(user.id.as_str())
                .execute(&self.pool)
                .await?;
        }
        if !user.email.eq_ignore_ascii_case(&person.email) {
            let moved = sqlx::query("UPDATE users SET email = $1 WHERE id = $2")
                .bind(&person.email)
                .bind(user.id.as_str())
                .execute(&self.pool)
                .await;
            if let Err(err) = moved {
                match DbError::on_unique(err, "e-mail address") {
                    DbError::Conflict(_) => {
                        tracing::warn!(user = %user.id, "the provider's e-mail address belongs to another user; kept the old one")
                    }
                    other => return Err(other),
                }
            }
        }
        Ok(())
    }

    /// Replaces the roles the provider granted a user with `grants` (roles granted
    /// locally stay); says what changed.
    pub async fn replace_provider_roles(
        &self,
        user: &UserId,
        grants: &[crate::auth::oidc::claims::Grant],
    ) -> Result<RoleChanges, DbError> {
        let mut tx = self.pool.begin().await?;
        let numbers: Vec<&str> = grants.iter().map(|g| g.number.as_str()).collect();
        let sql = format!(
            "SELECT id, kind, number FROM institutions WHERE number IN ({})",
            placeholders(numbers.len())
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for number in &numbers {
            query = query.bind(*number);
        }
        let institutions: Vec<(InstitutionId, String, String)> = query
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("kind")?, r.try_get("number")?)))
            .collect::<Result<_, sqlx::Error>>()?;
        let mut changes = RoleChanges::default();
        let mut wanted: Vec<(&'static str, InstitutionId, String)> = Vec::new();
        for grant in grants {
            let kind: Kind = grant.kind;
            match institutions
                .iter()
                .find(|(_, k, n)| *n == grant.number && k == kind.institution_kind())
            {
                Some((id, _, number)) => wanted.push((kind.role(), *id, number.clone())),
                None => changes.unknown.push(grant.number.clone()),
            }
        }
        let held: Vec<(String, InstitutionId, String)> = sqlx::query(
            "SELECT m.role, i.id, i.number FROM memberships m JOIN institutions i ON i.id = m.institution_id
             WHERE m.user_id = $1 AND m.source = 'oidc' ORDER BY i.number, m.role",
        )
        .bind(user.as_str())
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| Ok((r.try_get("role")?, r.try_get("id")?, r.try_get("number")?)))
        .collect::<Result<_, sqlx::Error>>()?;
        for (role, id, number) in &held {
            if !wanted.iter().any(|(r, i, _)| r == role && i == id) {
                sqlx::query(
                    "DELETE FROM memberships WHERE user_id = $1 AND role = $2 AND institution_id = $3 AND source = 'oidc'",
                )
                .bind(user.as_str())
                .bind(role)
                .bind(*id)
                .execute(&mut *tx)
                .await?;
                changes.removed.push((role.clone(), number.clone()));
            }
        }
        let at = now();
        for (role, id, number) in &wanted {
            if held.iter().any(|(r, i, _)| r == role && i == id) {
                continue;
            }
            // A role also granted locally stays local (and stays when the provider drops it).
            let done = sqlx::query(
                "INSERT INTO memberships (user_id, role, institution_id, created_at, source)
                 VALUES ($1, $2, $3, $4, 'oidc') ON CONFLICT DO NOTHING",
            )
            .bind(user.as_str())
            .bind(*role)
            .bind(*id)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 1 {
                changes.added.push(((*role).to_owned(), number.clone()));
            }
        }
        tx.commit().await?;
        Ok(changes)
    }

    /// Starts a session for someone the provider logged in; keeps its session id and ID
    /// token for the logouts. Returns the session's secret id.
    pub async fn create_provider_session(
        &self,
        user: &UserId,
        ttl_ms: i64,
        sid: Option<&str>,
        id_token: &str,
    ) -> Result<String, DbError> {
        self.insert_session(user, ttl_ms, sid, Some(id_token)).await
    }

    /// The ID token a session was started with, if the provider started it.
    pub async fn session_id_token(&self, secret: &str) -> Result<Option<String>, DbError> {
        let token: Option<Option<String>> =
            sqlx::query_scalar("SELECT idp_id_token FROM sessions WHERE id_hash = $1")
                .bind(hash_secret(secret))
                .fetch_optional(&self.pool)
                .await?;
        Ok(token.flatten())
    }

    /// Ends the sessions a back-channel logout names: the provider's session `sid`, or
    /// every session the provider started for `subject`; both must match when both are
    /// given. Returns the users whose sessions ended.
    pub async fn end_provider_sessions(
        &self,
        issuer: &str,
        subject: Option<&str>,
        sid: Option<&str>,
    ) -> Result<u64, DbError> {
        let n = sqlx::query(
            "DELETE FROM sessions WHERE idp_sid IS NOT NULL
               AND ($1 IS NULL OR idp_sid = $1)
               AND ($2 IS NULL OR user_id IN (SELECT user_id FROM user_identities WHERE issuer = $3 AND subject = $2))",
        )
        .bind(sid)
        .bind(subject)
        .bind(issuer)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n)
    }

    /// Whether a user has a password (someone only the provider logs in has none).
    pub async fn has_password(&self, user: &UserId) -> Result<bool, DbError> {
        let hash: Option<String> = sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
            .bind(user.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(hash.is_some_and(|h| !h.is_empty()))
    }

    /// Ends every session of a user (the provider withdrew all their roles).
    pub async fn end_sessions(&self, user: &UserId) -> Result<u64, DbError> {
        let n = sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user.as_str())
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use crate::auth::oidc::claims::Grant;
    use crate::auth::oidc::{Kind, Person};
    use crate::testing::{Engine, demo_database};

    fn person(subject: &str, email: &str, grants: &[(&str, Kind)]) -> Person {
        Person {
            subject: subject.into(),
            email: email.into(),
            display_name: format!("Naam van {subject}"),
            grants: grants
                .iter()
                .map(|&(n, kind)| Grant {
                    kind,
                    number: n.into(),
                })
                .collect(),
            ignored: Vec::new(),
        }
    }

    async fn someone_from_the_provider(db: &crate::db::Db) -> crate::db::User {
        let found = db.provider_user("i", &person("s", "p@school.test", &[])).await;
        found.unwrap().user
    }

    crate::test_both_dbs!(
        a_subject_is_made_once_linked_by_address_and_follows_the_provider_sqlite,
        a_subject_is_made_once_linked_by_address_and_follows_the_provider_postgres,
        a_subject_is_made_once_linked_by_address_and_follows_the_provider
    );
    async fn a_subject_is_made_once_linked_by_address_and_follows_the_provider(engine: Engine) {
        let (_dir, _store, db) = demo_database(engine).await;
        let issuer = "https://idp.test";
        let first = db
            .provider_user(issuer, &person("s1", "nieuw@school.test", &[]))
            .await
            .unwrap();
        assert!(first.created && !first.linked);
        let again = db
            .provider_user(issuer, &person("s1", "nieuw@school.test", &[]))
            .await
            .unwrap();
        assert!(!again.created && !again.linked);
        assert_eq!(again.user.id, first.user.id);
        // The provider renamed them and changed their address.
        let mut renamed = person("s1", "nieuwer@school.test", &[]);
        renamed.display_name = "Andere Naam".into();
        let moved = db.provider_user(issuer, &renamed).await.unwrap();
        assert_eq!(
            (moved.user.email.as_str(), moved.user.display_name.as_str()),
            ("nieuwer@school.test", "Andere Naam")
        );
        // An existing (demo) user with the same address is linked, not duplicated.
        let linde = db
            .provider_user(issuer, &person("s2", "linde@demo.test", &[]))
            .await
            .unwrap();
        assert!(linde.linked && !linde.created);
        assert_eq!(linde.user.email, "linde@demo.test");
        // The same subject at another issuer is someone else.
        let other = db
            .provider_user("https://andere.test", &person("s1", "x@school.test", &[]))
            .await
            .unwrap();
        assert_ne!(other.user.id, first.user.id);
        // A provider user has no password; a linked one keeps theirs.
        let (_, hash) = db.user_by_email("nieuwer@school.test").await.unwrap().unwrap();
        assert!(!crate::auth::password::verify_password("", Some(&hash)));
        assert!(!db.has_password(&first.user.id).await.unwrap());
        assert!(db.has_password(&linde.user.id).await.unwrap());
    }

    crate::test_both_dbs!(
        each_login_replaces_the_provider_roles_and_keeps_local_ones_sqlite,
        each_login_replaces_the_provider_roles_and_keeps_local_ones_postgres,
        each_login_replaces_the_provider_roles_and_keeps_local_ones
    );
    async fn each_login_replaces_the_provider_roles_and_keeps_local_ones(engine: Engine) {
        let (_dir, _store, db) = demo_database(engine).await;
        let user = someone_from_the_provider(&db).await;
        let grants = |list: &[(&str, Kind)]| person("s", "p@school.test", list).grants;
        let first = db
            .replace_provider_roles(
                &user.id,
                &grants(&[
                    ("100001", Kind::School),
                    ("100002", Kind::School),
                    ("999999", Kind::School),
                    ("900001", Kind::School),
                ]),
            )
            .await
            .unwrap();
        let pair = |r: &str, n: &str| (r.to_owned(), n.to_owned());
        assert_eq!(
            first.added,
            [pair("school_dossier", "100001"), pair("school_dossier", "100002")]
        );
        assert!(first.removed.is_empty());
        assert_eq!(
            first.unknown,
            ["999999", "900001"],
            "unknown, or a CLB named as a school"
        );
        assert!(db.institution("999999").await.unwrap().is_none(), "never created");
        // A role granted locally too.
        let clb = db.institution("900001").await.unwrap().unwrap();
        db.grant(&user.id, "clb_staff", Some(clb.id)).await.unwrap();
        // The next login: 100001 withdrawn at the school, 100002 kept.
        let second = db
            .replace_provider_roles(&user.id, &grants(&[("100002", Kind::School)]))
            .await
            .unwrap();
        assert!(second.added.is_empty());
        assert_eq!(second.removed, [pair("school_dossier", "100001")]);
        let held: Vec<(String, String)> = db
            .memberships(&user.id)
            .await
            .unwrap()
            .into_iter()
            .map(|m| (m.role, m.institution.unwrap().number))
            .collect();
        assert_eq!(
            held,
            [pair("clb_staff", "900001"), pair("school_dossier", "100002")]
        );
        // Nothing from the provider: only the local role is left.
        let third = db.replace_provider_roles(&user.id, &[]).await.unwrap();
        assert_eq!(third.removed, [pair("school_dossier", "100002")]);
        assert_eq!(db.memberships(&user.id).await.unwrap().len(), 1);
    }

    crate::test_both_dbs!(
        a_back_channel_logout_ends_the_named_provider_sessions_only_sqlite,
        a_back_channel_logout_ends_the_named_provider_sessions_only_postgres,
        a_back_channel_logout_ends_the_named_provider_sessions_only
    );
    async fn a_back_channel_logout_ends_the_named_provider_sessions_only(engine: Engine) {
        let (_dir, _store, db) = demo_database(engine).await;
        let user = someone_from_the_provider(&db).await;
        let idle = 3_600_000;
        let a = db
            .create_provider_session(&user.id, idle, Some("sid-a"), "token-a")
            .await
            .unwrap();
        let b = db
            .create_provider_session(&user.id, idle, Some("sid-b"), "token-b")
            .await
            .unwrap();
        let local = db.create_session(&user.id, idle).await.unwrap();
        assert_eq!(db.session_id_token(&a).await.unwrap().as_deref(), Some("token-a"));
        assert_eq!(db.session_id_token(&local).await.unwrap(), None);
        let alive = |s: String| {
            let db = db.clone();
            async move {
                db.session_user(&crate::auth::secret::hash_secret(&s), idle)
                    .await
                    .unwrap()
                    .is_some()
            }
        };
        // Another issuer's subject, or a sid of someone else, ends nothing.
        assert_eq!(
            db.end_provider_sessions("andere", Some("s"), None).await.unwrap(),
            0
        );
        assert_eq!(
            db.end_provider_sessions("i", Some("iemand"), Some("sid-a"))
                .await
                .unwrap(),
            0
        );
        assert_eq!(
            db.end_provider_sessions("i", Some("s"), Some("sid-a"))
                .await
                .unwrap(),
            1
        );
        assert!(!alive(a).await && alive(b.clone()).await && alive(local.clone()).await);
        assert_eq!(db.end_provider_sessions("i", Some("s"), None).await.unwrap(), 1);
        assert!(!alive(b).await && alive(local.clone()).await);
        assert_eq!(db.end_sessions(&user.id).await.unwrap(), 1);
        assert!(!alive(local).await);
    }
}

//! Institutions, users and memberships.

use crate::access::SchoolAccess;
use sqlx::Row;

use super::{Db, DbError, now, placeholders};
use crate::ids::{InstitutionId, UserId};

/// A CLB, school or LSC.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Institution {
    /// Database id (internal).
    #[serde(skip)]
    pub id: InstitutionId,
    /// `clb`, `school` or `lsc`.
    pub kind: String,
    /// The institution number.
    pub number: String,
    /// Its name.
    pub name: String,
}

/// A user.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct User {
    /// Its id.
    #[schema(value_type = String)]
    pub id: UserId,
    /// Login e-mail address.
    pub email: String,
    /// Name shown to others.
    pub display_name: String,
    /// Disabled users cannot log in; their sessions and tokens stop working.
    #[serde(skip)]
    pub disabled: bool,
}

/// A role on an institution (none for `admin`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Membership {
    /// `clb_staff`, `clb_admin`, `school_dossier`, `lsc_staff` or `admin`.
    pub role: String,
    /// The institution it applies to.
    #[schema(required = true)]
    pub institution: Option<Institution>,
}

/// The roles a user may hold.
pub const ROLES: [&str; 5] = ["clb_staff", "clb_admin", "school_dossier", "lsc_staff", "admin"];

/// The kind of institution a role is held on: `Some(None)` for the platform's `admin`
/// (none), `None` for a role that does not exist.
pub fn role_kind(role: &str) -> Option<Option<&'static str>> {
    match role {
        "admin" => Some(None),
        "clb_staff" | "clb_admin" => Some(Some("clb")),
        "school_dossier" => Some(Some("school")),
        "lsc_staff" => Some(Some("lsc")),
        _ => None,
    }
}

pub(super) fn institution(row: &sqlx::any::AnyRow) -> Result<Institution, sqlx::Error> {
    Ok(Institution {
        id: row.try_get("id")?,
        kind: row.try_get("kind")?,
        number: row.try_get("number")?,
        name: row.try_get("name")?,
    })
}

/// An institution from columns `<prefix>_id`, `<prefix>_kind`, `<prefix>_number` and
/// `<prefix>_name` (a row that joins more than one).
pub(super) fn institution_at(row: &sqlx::any::AnyRow, prefix: &str) -> Result<Institution, sqlx::Error> {
    Ok(Institution {
        id: row.try_get(format!("{prefix}_id").as_str())?,
        kind: row.try_get(format!("{prefix}_kind").as_str())?,
        number: row.try_get(format!("{prefix}_number").as_str())?,
        name: row.try_get(format!("{prefix}_name").as_str())?,
    })
}

pub(super) fn row_user(row: &sqlx::any::AnyRow) -> Result<User, sqlx::Error> {
    Ok(User {
        id: UserId::from(row.try_get::<String, _>("id")?),
        email: row.try_get("email")?,
        display_name: row.try_get("display_name")?,
        disabled: row.try_get::<i64, _>("disabled")? != 0,
    })
}

impl Db {
    /// Creates an institution.
    pub async fn create_institution(
        &self,
        kind: &str,
        number: &str,
        name: &str,
    ) -> Result<Institution, DbError> {
        // RETURNING rather than SQLite's last_insert_rowid: PostgreSQL reads it too.
        let id: InstitutionId = sqlx::query_scalar(
            "INSERT INTO institutions (kind, number, name, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(kind)
        .bind(number)
        .bind(name)
        .bind(now())
        .fetch_one(&self.pool)
        .await
        .map_err(|e| DbError::on_unique(e, "institution number"))?;
        Ok(Institution {
            id,
            kind: kind.into(),
            number: number.into(),
            name: name.into(),
        })
    }

    /// The institution with this number.
    pub async fn institution(&self, number: &str) -> Result<Option<Institution>, DbError> {
        let row = sqlx::query("SELECT id, kind, number, name FROM institutions WHERE number = $1")
            .bind(number)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(institution).transpose()?)
    }

    /// Records that a CLB serves a school (idempotent); whether it did not yet.
    pub async fn link_school(
        &self,
        clb_id: InstitutionId,
        school_id: InstitutionId,
    ) -> Result<bool, DbError> {
        let done =
            sqlx::query("INSERT INTO clb_schools (clb_id, school_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(clb_id)
                .bind(school_id)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records that an LSC serves a school (idempotent); whether it did not yet.
    pub async fn link_lsc(&self, lsc_id: InstitutionId, school_id: InstitutionId) -> Result<bool, DbError> {
        let done =
            sqlx::query("INSERT INTO lsc_schools (lsc_id, school_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(lsc_id)
                .bind(school_id)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records that an LSC no longer serves a school; whether it did. Its staff lose the
    /// school's meetings and agreements (the access watch closes what they have open).
    pub async fn unlink_lsc(&self, lsc_id: InstitutionId, school_id: InstitutionId) -> Result<bool, DbError> {
        let done = sqlx::query("DELETE FROM lsc_schools WHERE lsc_id = $1 AND school_id = $2")
            .bind(lsc_id)
            .bind(school_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Which LSC serves which school, by LSC then school number.
    pub async fn lsc_links(&self) -> Result<Vec<(Institution, Institution)>, DbError> {
        let rows = sqlx::query(
            "SELECT l.id AS l_id, l.kind AS l_kind, l.number AS l_number, l.name AS l_name,
                    s.id AS s_id, s.kind AS s_kind, s.number AS s_number, s.name AS s_name
             FROM lsc_schools ls
             JOIN institutions l ON l.id = ls.lsc_id
             JOIN institutions s ON s.id = ls.school_id
             ORDER BY l.number, s.number",
        )
        .fetch_all(&self.pool)
        .await?;
        let side = |row: &sqlx::any::AnyRow, p: &str| -> Result<Institution, sqlx::Error> {
            Ok(Institution {
                id: row.try_get(format!("{p}_id").as_str())?,
                kind: row.try_get(format!("{p}_kind").as_str())?,
                number: row.try_get(format!("{p}_number").as_str())?,
                name: row.try_get(format!("{p}_name").as_str())?,
            })
        };
        rows.iter()
            .map(|r| Ok((side(r, "l")?, side(r, "s")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(DbError::from)
    }

    /// Whether the user holds the platform's `admin` role.
    pub async fn is_platform_admin(&self, user: &UserId) -> Result<bool, DbError> {
        let held: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM memberships WHERE user_id = $1 AND role = 'admin'")
                .bind(user.as_str())
                .fetch_one(&self.pool)
                .await?;
        Ok(held > 0)
    }

    /// Creates a user with an already hashed password.
    pub async fn create_user(
        &self,
        email: &str,
        display_name: &str,
        password_hash: &str,
    ) -> Result<User, DbError> {
        let id = UserId::new();
        sqlx::query(
            "INSERT INTO users (id, email, display_name, password_hash, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id.as_str())
        .bind(email)
        .bind(display_name)
        .bind(password_hash)
        .bind(now())
        .execute(&self.pool)
        .await
        .map_err(|e| DbError::on_unique(e, "e-mail address"))?;
        Ok(User {
            id,
            email: email.into(),
            display_name: display_name.into(),
            disabled: false,
        })
    }

    /// The user with this e-mail address (any case), with their password hash.
    pub async fn user_by_email(&self, email: &str) -> Result<Option<(User, String)>, DbError> {
        let row =
            sqlx::query("SELECT id, email, display_name, disabled, password_hash FROM users WHERE lower(email) = lower($1)")
                .bind(email)
                .fetch_optional(&self.pool)
                .await?;
        match row {
            Some(row) => Ok(Some((row_user(&row)?, row.try_get("password_hash")?))),
            None => Ok(None),
        }
    }

    /// The e-mail address of a user not among `emails` (any case: the column compares
    /// without case), if there is one.
    pub async fn user_not_in(&self, emails: &[&str]) -> Result<Option<String>, DbError> {
        let lowered: Vec<String> = emails.iter().map(|e| e.to_lowercase()).collect();
        let sql = format!(
            "SELECT email FROM users WHERE lower(email) NOT IN ({}) ORDER BY created_at LIMIT 1",
            placeholders(lowered.len())
        );
        let mut query = sqlx::query_scalar(sqlx::AssertSqlSafe(sql));
        for email in &lowered {
            query = query.bind(email);
        }
        Ok(query.fetch_optional(&self.pool).await?)
    }

    /// The number of an institution not among `numbers`, if there is one.
    pub async fn institution_not_in(&self, numbers: &[&str]) -> Result<Option<String>, DbError> {
        let sql = format!(
            "SELECT number FROM institutions WHERE number NOT IN ({}) ORDER BY id LIMIT 1",
            placeholders(numbers.len())
        );
        let mut query = sqlx::query_scalar(sqlx::AssertSqlSafe(sql));
        for number in numbers {
            query = query.bind(*number);
        }
        Ok(query.fetch_optional(&self.pool).await?)
    }

    /// The user with this id.
    pub async fn user(&self, id: &UserId) -> Result<Option<User>, DbError> {
        let row = sqlx::query("SELECT id, email, display_name, disabled FROM users WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(row_user).transpose()?)
    }

    /// Sets a user's password hash; the caller has checked the password (`check_new_password`).
    pub async fn set_password(&self, id: &UserId, password_hash: &str) -> Result<(), DbError> {
        sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(password_hash)
            .bind(id.as_str())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Disables a user and ends their sessions and tokens.
    pub async fn disable_user(&self, id: &UserId) -> Result<(), DbError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE users SET disabled = 1 WHERE id = $1")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL")
            .bind(now())
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Grants a role (idempotent). `institution` is `None` only for `admin`.
    pub async fn grant(
        &self,
        user: &UserId,
        role: &str,
        institution: Option<InstitutionId>,
    ) -> Result<(), DbError> {
        sqlx::query(
            "INSERT INTO memberships (user_id, role, institution_id, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT DO NOTHING",
        )
        .bind(user.as_str())
        .bind(role)
        .bind(institution)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Revokes a role; returns whether the user had it.
    pub async fn revoke(
        &self,
        user: &UserId,
        role: &str,
        institution: Option<InstitutionId>,
    ) -> Result<bool, DbError> {
        let n = sqlx::query("DELETE FROM memberships WHERE user_id = $1 AND role = $2 AND institution_id IS NOT DISTINCT FROM $3")
            .bind(user.as_str())
            .bind(role)
            .bind(institution)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n > 0)
    }

    /// A user's memberships.
    pub async fn memberships(&self, user: &UserId) -> Result<Vec<Membership>, DbError> {
        let rows = sqlx::query(
            "SELECT m.role, i.id, i.kind, i.number, i.name FROM memberships m
             LEFT JOIN institutions i ON i.id = m.institution_id
             WHERE m.user_id = $1 ORDER BY m.role, i.number",
        )
        .bind(user.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let institution = match row.try_get::<Option<i64>, _>("id")? {
                    Some(_) => Some(institution(row)?),
                    None => None,
                };
                Ok(Membership {
                    role: row.try_get("role")?,
                    institution,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(DbError::from)
    }

    /// The schools a user may see: those of their `school_dossier` roles, those their
    /// CLBs serve and those their LSCs serve, each with the user's widest access (CLB, then
    /// school, then LSC).
    pub async fn visible_schools(&self, user: &UserId) -> Result<Vec<(Institution, SchoolAccess)>, DbError> {
        let rows = sqlx::query(
            "SELECT i.id, i.kind, i.number, i.name, MAX(a.rank) AS rank FROM institutions i JOIN (
                 SELECT m.institution_id AS school_id, 1 AS rank FROM memberships m
                 WHERE m.user_id = $1 AND m.role = 'school_dossier'
                 UNION ALL
                 SELECT cs.school_id, 2 FROM memberships m JOIN clb_schools cs ON cs.clb_id = m.institution_id
                 WHERE m.user_id = $1 AND m.role = 'clb_staff'
                 UNION ALL
                 SELECT ls.school_id, 0 FROM memberships m JOIN lsc_schools ls ON ls.lsc_id = m.institution_id
                 WHERE m.user_id = $1 AND m.role = 'lsc_staff'
             ) a ON a.school_id = i.id
             GROUP BY i.id, i.kind, i.number, i.name ORDER BY i.name",
        )
        .bind(user.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let access = match row.try_get::<i64, _>("rank")? {
                    2 => SchoolAccess::Clb,
                    1 => SchoolAccess::School,
                    _ => SchoolAccess::Lsc,
                };
                Ok((institution(row)?, access))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(DbError::from)
    }

    /// Users who may see a school (for mentions and presence names).
    pub async fn users_with_access(&self, school_id: InstitutionId) -> Result<Vec<User>, DbError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT DISTINCT u.id, u.email, u.display_name, u.disabled FROM users u
             JOIN memberships m ON m.user_id = u.id
             WHERE u.disabled = 0 AND {}
             ORDER BY u.display_name",
            super::links_to_school("$1")
        )))
        .bind(school_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(row_user).collect::<Result<_, _>>()?)
    }
}

impl Db {
    /// Which user each client ID of a document belongs to, with their display names.
    pub async fn client_authors(
        &self,
        doc: crate::ids::DocId,
    ) -> Result<std::collections::HashMap<samen_crdt::ClientId, (UserId, String)>, DbError> {
        let rows = sqlx::query(
            "SELECT b.client_id, u.id, u.display_name FROM client_bindings b
             JOIN users u ON u.id = b.user_id WHERE b.doc_id = $1",
        )
        .bind(doc)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let client: i64 = r.try_get(0)?;
                Ok((
                    samen_crdt::ClientId::new(client as u64),
                    (UserId::from(r.try_get::<String, _>(1)?), r.try_get(2)?),
                ))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(DbError::from)
    }
}

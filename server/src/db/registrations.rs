//! Registrations: the relational metadata of each dossier entry. Their content is the CRDT
//! document of the same id (see `storage`).

use sqlx::Row;

use super::{Db, DbError, now};
use std::collections::HashMap;

use crate::ids::{DocId, InstitutionId, RegistrationId, UserId};

/// A registration as the API shows it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Registration {
    /// Its id (also its document's).
    #[schema(value_type = String, format = "uuid")]
    pub id: RegistrationId,
    /// `signal` or `consultation`.
    pub kind: String,
    /// The school's institution number.
    pub school_number: String,
    /// The school's name.
    pub school_name: String,
    /// Database id of the school (internal).
    #[serde(skip)]
    pub school_id: InstitutionId,
    /// E.g. `2026-2027`.
    pub school_year: String,
    /// Its title.
    pub title: String,
    /// Its theme, if tagged.
    #[schema(required = true)]
    pub theme: Option<String>,
    /// `open` or `closed`.
    pub status: String,
    /// The CLB staff member who started it.
    pub owner: Owner,
    /// Creation time (ms since the epoch).
    pub created_at: i64,
    /// Last change, to its details or to its text (ms since the epoch).
    pub updated_at: i64,
}

/// The owner of a registration.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Owner {
    /// User id.
    #[schema(value_type = String)]
    pub id: UserId,
    /// Display name.
    pub name: String,
}

/// What creating a registration takes (already validated).
#[derive(Debug, Clone)]
pub struct NewRegistration {
    /// `signal` or `consultation`.
    pub kind: String,
    /// The school's database id.
    pub school_id: InstitutionId,
    /// E.g. `2026-2027`.
    pub school_year: String,
    /// Title.
    pub title: String,
    /// Theme.
    pub theme: Option<String>,
    /// The CLB staff member creating it.
    pub owner: UserId,
}

/// Filters for listing (each optional).
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RegistrationFilter {
    /// `signal` or `consultation`.
    #[param(schema_with = crate::domain::schema::kind)]
    pub kind: Option<String>,
    /// `open` or `closed`.
    #[param(schema_with = crate::domain::schema::status)]
    pub status: Option<String>,
    /// E.g. `2026-2027`.
    #[param(schema_with = crate::domain::schema::school_year)]
    pub school_year: Option<String>,
    /// A theme.
    #[param(schema_with = crate::domain::schema::theme)]
    pub theme: Option<String>,
}

/// A metadata change (already validated); `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct RegistrationPatch {
    /// New title.
    pub title: Option<String>,
    /// New theme (`Some(None)` clears it).
    pub theme: Option<Option<String>>,
    /// New status.
    pub status: Option<String>,
}

/// SQL for when the text of registration `r` last changed: its newest update still in the
/// log, else when the log was last folded into the stored state (in the same write as the
/// last update folded in). No column is written per keystroke for it.
macro_rules! text_changed_at {
    () => {
        "COALESCE((SELECT MAX(d.created_at) FROM doc_updates d WHERE d.doc_id = r.id),
                  (SELECT s.updated_at FROM doc_states s WHERE s.doc_id = r.id))"
    };
}
pub(super) use text_changed_at;

const SELECT: &str = concat!(
    "SELECT r.id, r.kind, r.school_id, i.number AS school_number, i.name AS school_name,
        r.school_year, r.title, r.theme, r.status, r.owner_id, u.display_name AS owner_name,
        r.created_at, r.updated_at, ",
    text_changed_at!(),
    " AS text_updated_at
    FROM registrations r
    JOIN institutions i ON i.id = r.school_id
    JOIN users u ON u.id = r.owner_id"
);

fn registration(row: &sqlx::any::AnyRow) -> Result<Registration, sqlx::Error> {
    Ok(Registration {
        id: row.try_get("id")?,
        kind: row.try_get("kind")?,
        school_number: row.try_get("school_number")?,
        school_name: row.try_get("school_name")?,
        school_id: row.try_get("school_id")?,
        school_year: row.try_get("school_year")?,
        title: row.try_get("title")?,
        theme: row.try_get("theme")?,
        status: row.try_get("status")?,
        owner: Owner {
            id: UserId::from(row.try_get::<String, _>("owner_id")?),
            name: row.try_get("owner_name")?,
        },
        created_at: row.try_get("created_at")?,
        // The latest of its details and its text.
        updated_at: row
            .try_get::<i64, _>("updated_at")?
            .max(row.try_get::<Option<i64>, _>("text_updated_at")?.unwrap_or(0)),
    })
}

impl Db {
    /// Creates a registration.
    pub async fn create_registration(&self, new: NewRegistration) -> Result<Registration, DbError> {
        self.create_registration_with_id(RegistrationId::new(), new).await
    }

    /// Creates a registration with a chosen id (demo data).
    pub async fn create_registration_with_id(
        &self,
        id: RegistrationId,
        new: NewRegistration,
    ) -> Result<Registration, DbError> {
        let at = now();
        sqlx::query(
            "INSERT INTO registrations (id, kind, school_id, school_year, title, theme, status, owner_id,
                 created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 'open', $7, $8, $9)",
        )
        .bind(id)
        .bind(&new.kind)
        .bind(new.school_id)
        .bind(&new.school_year)
        .bind(&new.title)
        .bind(&new.theme)
        .bind(new.owner.as_str())
        .bind(at)
        .bind(at)
        .execute(&self.pool)
        .await
        .map_err(|e| DbError::on_unique(e, "registration"))?;
        self.registration(id)
            .await?
            .ok_or(DbError::NotFound("registration"))
    }

    /// One registration.
    pub async fn registration(&self, id: RegistrationId) -> Result<Option<Registration>, DbError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("{SELECT} WHERE r.id = $1")))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(registration).transpose()?)
    }

    /// A school's registrations, newest first.
    pub async fn registrations(
        &self,
        school_id: InstitutionId,
        f: &RegistrationFilter,
    ) -> Result<Vec<Registration>, DbError> {
        self.registrations_in(&[school_id], f).await
    }

    /// The registrations of schools `schools` that pass `f`, newest first: one query where
    /// an overview across schools would otherwise ask once per school.
    pub async fn registrations_in(
        &self,
        schools: &[InstitutionId],
        f: &RegistrationFilter,
    ) -> Result<Vec<Registration>, DbError> {
        if schools.is_empty() {
            return Ok(Vec::new());
        }
        let ids = super::id_list(schools);
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE r.school_id IN ({ids})
               AND ($1 IS NULL OR r.kind = $1) AND ($2 IS NULL OR r.status = $2)
               AND ($3 IS NULL OR r.school_year = $3) AND ($4 IS NULL OR r.theme = $4)
             ORDER BY r.created_at DESC, r.id"
        )))
        .bind(&f.kind)
        .bind(&f.status)
        .bind(&f.school_year)
        .bind(&f.theme)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(registration).collect::<Result<_, _>>()?)
    }

    /// Of documents `docs`, those that are registrations, each with whether it is closed
    /// (a document that is not, or no longer, a registration is absent): one query per
    /// 500, however many documents are open.
    pub async fn registrations_closed(&self, docs: &[DocId]) -> Result<HashMap<DocId, bool>, DbError> {
        let mut closed = HashMap::new();
        for chunk in docs.chunks(500) {
            let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT id, status FROM registrations WHERE id IN ({})",
                marks.join(", ")
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for doc in chunk {
                query = query.bind(RegistrationId::from(*doc));
            }
            for row in query.fetch_all(&self.pool).await? {
                let id: RegistrationId = row.try_get("id")?;
                closed.insert(id.into(), row.try_get::<String, _>("status")? == "closed");
            }
        }
        Ok(closed)
    }

    /// Changes a registration's metadata; returns it as it now is.
    pub async fn patch_registration(
        &self,
        id: RegistrationId,
        patch: &RegistrationPatch,
    ) -> Result<Registration, DbError> {
        let (set_theme, theme) = match &patch.theme {
            Some(theme) => (1, theme.clone()),
            None => (0, None),
        };
        sqlx::query(
            "UPDATE registrations SET
                 title = COALESCE($1, title),
                 theme = CASE WHEN $2 = 1 THEN $3 ELSE theme END,
                 status = COALESCE($4, status),
                 updated_at = $5
             WHERE id = $6",
        )
        .bind(&patch.title)
        .bind(set_theme)
        .bind(theme)
        .bind(&patch.status)
        .bind(now())
        .bind(id)
        .execute(&self.pool)
        .await?;
        self.registration(id)
            .await?
            .ok_or(DbError::NotFound("registration"))
    }
}

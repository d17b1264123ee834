//! The collaboration agreements (samenwerkingsafspraken) of a school and an LSC that
//! serves it: one document per pair, seen by that school and that LSC only. For anyone
//! else, a CLB's staff included, they do not exist.

use sqlx::Row;

use super::users::{institution, institution_at};
use super::{Db, DbError, Institution, now};
use crate::ids::{AgreementId, InstitutionId, UserId};

/// A school and an LSC's agreements, as the API shows them.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Agreement {
    /// Its id (also its document's).
    #[schema(value_type = String, format = "uuid")]
    pub id: AgreementId,
    /// The school.
    pub school: Institution,
    /// The learning-support centre.
    pub lsc: Institution,
    /// When the document was first opened (ms since the epoch).
    pub created_at: i64,
}

/// The LSCs (of those that serve school `$2`) whose agreements with it user `$1` may see:
/// all of them for a member of the school, their own for an LSC's staff.
const VISIBLE_LSCS: &str = "
    SELECT i.id, i.kind, i.number, i.name FROM institutions i
    JOIN lsc_schools ls ON ls.lsc_id = i.id AND ls.school_id = $2
    WHERE EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = $1
                  AND m.role = 'school_dossier' AND m.institution_id = $2)
       OR EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = $1
                  AND m.role = 'lsc_staff' AND m.institution_id = i.id)";

impl Db {
    /// Whether `user` is a party to agreements with school `school_id` at all: one of its
    /// members, or staff of an LSC that serves it.
    pub async fn agreement_party(&self, user: &UserId, school_id: InstitutionId) -> Result<bool, DbError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM memberships m WHERE m.user_id = $1 AND (
                 (m.role = 'school_dossier' AND m.institution_id = $2)
                 OR (m.role = 'lsc_staff' AND m.institution_id IN
                        (SELECT lsc_id FROM lsc_schools WHERE school_id = $2)))",
        )
        .bind(user.as_str())
        .bind(school_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(n > 0)
    }

    /// The LSCs whose agreements with school `school_id` `user` may see, by name.
    pub async fn agreement_lscs(
        &self,
        user: &UserId,
        school_id: InstitutionId,
    ) -> Result<Vec<Institution>, DbError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("{VISIBLE_LSCS} ORDER BY i.name")))
            .bind(user.as_str())
            .bind(school_id)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(institution).collect::<Result<_, _>>()?)
    }

    /// The agreements of a school and an LSC, made the first time anyone asks.
    pub async fn agreement_of(
        &self,
        school: &Institution,
        lsc: &Institution,
        by: &UserId,
    ) -> Result<Agreement, DbError> {
        sqlx::query(
            "INSERT INTO lsc_agreements (id, school_id, lsc_id, created_by, created_at)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (school_id, lsc_id) DO NOTHING",
        )
        .bind(AgreementId::new())
        .bind(school.id)
        .bind(lsc.id)
        .bind(by.as_str())
        .bind(now())
        .execute(&self.pool)
        .await?;
        let row =
            sqlx::query("SELECT id, created_at FROM lsc_agreements WHERE school_id = $1 AND lsc_id = $2")
                .bind(school.id)
                .bind(lsc.id)
                .fetch_one(&self.pool)
                .await?;
        Ok(Agreement {
            id: row.try_get("id")?,
            school: school.clone(),
            lsc: lsc.clone(),
            created_at: row.try_get("created_at")?,
        })
    }

    /// The agreements with this id.
    pub async fn agreement(&self, id: AgreementId) -> Result<Option<Agreement>, DbError> {
        let row = sqlx::query(
            "SELECT a.id, a.created_at,
                    s.id AS s_id, s.kind AS s_kind, s.number AS s_number, s.name AS s_name,
                    l.id AS l_id, l.kind AS l_kind, l.number AS l_number, l.name AS l_name
             FROM lsc_agreements a
             JOIN institutions s ON s.id = a.school_id
             JOIN institutions l ON l.id = a.lsc_id
             WHERE a.id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        Ok(Some(Agreement {
            id: row.try_get("id")?,
            school: institution_at(&row, "s")?,
            lsc: institution_at(&row, "l")?,
            created_at: row.try_get("created_at")?,
        }))
    }
}

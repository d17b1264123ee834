//! Meetings (schoolbeeldoverleg): the relational side of each, and who sits at a school's
//! table. Their content is the CRDT document of the same id (`samen_crdt::meeting`).

use samen_crdt::meeting::Partner;
use sqlx::Row;

use super::users::institution;
use super::{Db, DbError, Institution, now};
use crate::ids::{DocId, InstitutionId, MeetingId, SnapshotId, UserId};

/// A meeting as the API shows it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Meeting {
    /// Its id (also its document's).
    #[schema(value_type = String, format = "uuid")]
    pub id: MeetingId,
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
    /// The day it is held (`YYYY-MM-DD`).
    pub held_on: String,
    /// `planned`, or `closed` once the meeting was closed.
    pub status: String,
    /// When "Overleg starten" was pressed (ms since the epoch), if it was.
    #[schema(required = true)]
    pub started_at: Option<i64>,
    /// When it was closed (ms since the epoch).
    #[schema(required = true)]
    pub closed_at: Option<i64>,
    /// The meeting a second moment evaluates.
    #[schema(value_type = Option<String>, format = "uuid", required = true)]
    pub follows: Option<MeetingId>,
    /// Who planned it.
    pub created_by: super::Person,
    /// Creation time (ms since the epoch).
    pub created_at: i64,
    /// Last change of these details (ms since the epoch).
    pub updated_at: i64,
    /// The participants who are users of Samen.
    pub participants: Vec<SchoolPerson>,
    /// Other participants, by their role ("leerkracht 3de graad"), never by name.
    pub guests: Vec<String>,
}

/// Someone at a school's table: a user, and which partner they are there for.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct SchoolPerson {
    /// User id.
    #[schema(value_type = String)]
    pub id: UserId,
    /// Display name.
    pub name: String,
    /// `school`, `clb` or `lsc`.
    pub partner: String,
    /// For LSC staff: their LSC's institution number.
    #[schema(required = true)]
    pub lsc: Option<String>,
}

impl SchoolPerson {
    /// The partner as the document's rules know it.
    pub fn as_partner(&self) -> Option<Partner> {
        match (self.partner.as_str(), &self.lsc) {
            ("school", _) => Some(Partner::School),
            ("clb", _) => Some(Partner::Clb),
            ("lsc", Some(number)) => Some(Partner::Lsc(number.clone())),
            _ => None,
        }
    }
}

/// What planning a meeting takes (already validated).
#[derive(Debug, Clone)]
pub struct NewMeeting {
    /// The school's database id.
    pub school_id: InstitutionId,
    /// E.g. `2026-2027`.
    pub school_year: String,
    /// Title.
    pub title: String,
    /// `YYYY-MM-DD`.
    pub held_on: String,
    /// The meeting a second moment evaluates.
    pub follows: Option<MeetingId>,
    /// Who plans it.
    pub created_by: UserId,
    /// Participants who are users (each of the school's partners).
    pub participants: Vec<UserId>,
    /// Other participants, by role.
    pub guests: Vec<String>,
}

/// A change of a meeting's details (already validated); `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct MeetingPatch {
    /// New title.
    pub title: Option<String>,
    /// New day.
    pub held_on: Option<String>,
    /// New participants who are users.
    pub participants: Option<Vec<UserId>>,
    /// New other participants.
    pub guests: Option<Vec<String>>,
}

const SELECT: &str = "SELECT m.id, m.school_id, i.number AS school_number, i.name AS school_name,
        m.school_year, m.title, m.held_on, m.status, m.started_at, m.closed_at, m.follows_id,
        m.created_by,
        u.display_name AS created_by_name, m.created_at, m.updated_at
    FROM meetings m
    JOIN institutions i ON i.id = m.school_id
    JOIN users u ON u.id = m.created_by";

fn meeting(row: &sqlx::any::AnyRow) -> Result<Meeting, sqlx::Error> {
    Ok(Meeting {
        id: row.try_get("id")?,
        school_number: row.try_get("school_number")?,
        school_name: row.try_get("school_name")?,
        school_id: row.try_get("school_id")?,
        school_year: row.try_get("school_year")?,
        title: row.try_get("title")?,
        held_on: row.try_get("held_on")?,
        status: row.try_get("status")?,
        started_at: row.try_get("started_at")?,
        closed_at: row.try_get("closed_at")?,
        follows: row.try_get("follows_id")?,
        created_by: super::Person {
            id: UserId::from(row.try_get::<String, _>("created_by")?),
            name: row.try_get("created_by_name")?,
        },
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        participants: Vec::new(),
        guests: Vec::new(),
    })
}

/// Everyone with a partner's role at the school `$1`: its members, the staff of the CLBs
/// and of the LSCs that serve it (the staff of an LSC with the LSC's number). DESIGN.md's
/// rule for meetings, in one statement every query about a school's table uses.
const SCHOOL_TABLE: &str = "
    SELECT m.user_id, 'school' AS partner, NULL AS lsc FROM memberships m
    WHERE m.role = 'school_dossier' AND m.institution_id = $1
    UNION ALL
    SELECT m.user_id, 'clb', NULL FROM memberships m
    JOIN clb_schools cs ON cs.clb_id = m.institution_id
    WHERE m.role = 'clb_staff' AND cs.school_id = $1
    UNION ALL
    SELECT m.user_id, 'lsc', l.number FROM memberships m
    JOIN lsc_schools ls ON ls.lsc_id = m.institution_id
    JOIN institutions l ON l.id = ls.lsc_id
    WHERE m.role = 'lsc_staff' AND ls.school_id = $1";

impl Db {
    /// Which partners `user` is at school `school_id`'s table (none: the school's meetings
    /// are not theirs).
    pub async fn partners_at(
        &self,
        user: &UserId,
        school_id: InstitutionId,
    ) -> Result<Vec<Partner>, DbError> {
        // Only the user's own rows: this runs on every meeting request and every round of
        // the access watch, which need no one else's names.
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT t.partner, t.lsc FROM ({SCHOOL_TABLE}) t WHERE t.user_id = $2
             ORDER BY t.partner, t.lsc"
        )))
        .bind(school_id)
        .bind(user.as_str())
        .fetch_all(&self.pool)
        .await?;
        let mut partners = Vec::new();
        for row in &rows {
            let person = SchoolPerson {
                id: user.clone(),
                name: String::new(),
                partner: row.try_get("partner")?,
                lsc: row.try_get("lsc")?,
            };
            partners.extend(person.as_partner());
        }
        Ok(partners)
    }

    /// Everyone at a school's table, by name (a user with two roles there twice), of
    /// users who are not disabled.
    pub async fn school_table(&self, school_id: InstitutionId) -> Result<Vec<SchoolPerson>, DbError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT t.user_id, t.partner, t.lsc, u.display_name FROM ({SCHOOL_TABLE}) t
             JOIN users u ON u.id = t.user_id
             WHERE u.disabled = 0
             ORDER BY u.display_name, t.partner, t.lsc"
        )))
        .bind(school_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(SchoolPerson {
                    id: UserId::from(row.try_get::<String, _>("user_id")?),
                    name: row.try_get("display_name")?,
                    partner: row.try_get("partner")?,
                    lsc: row.try_get("lsc")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(DbError::from)
    }

    /// The learning-support centres that serve a school.
    pub async fn lscs_of(&self, school_id: InstitutionId) -> Result<Vec<Institution>, DbError> {
        let rows = sqlx::query(
            "SELECT i.id, i.kind, i.number, i.name FROM institutions i
             JOIN lsc_schools ls ON ls.lsc_id = i.id
             WHERE ls.school_id = $1 ORDER BY i.name",
        )
        .bind(school_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(institution).collect::<Result<_, _>>()?)
    }

    /// Plans a meeting.
    pub async fn create_meeting(&self, new: NewMeeting) -> Result<Meeting, DbError> {
        let (id, at) = (MeetingId::new(), now());
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO meetings (id, school_id, school_year, title, held_on, status, follows_id,
                 created_by, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, 'planned', $6, $7, $8, $9)",
        )
        .bind(id)
        .bind(new.school_id)
        .bind(&new.school_year)
        .bind(&new.title)
        .bind(&new.held_on)
        .bind(new.follows)
        .bind(new.created_by.as_str())
        .bind(at)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        set_people(&mut tx, id, &new.participants, &new.guests).await?;
        tx.commit().await?;
        self.meeting(id).await?.ok_or(DbError::NotFound("meeting"))
    }

    /// One meeting, with its participants.
    pub async fn meeting(&self, id: MeetingId) -> Result<Option<Meeting>, DbError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("{SELECT} WHERE m.id = $1")))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        let Some(mut meeting) = row.as_ref().map(meeting).transpose()? else {
            return Ok(None);
        };
        let taking_part: Vec<String> =
            sqlx::query_scalar("SELECT user_id FROM meeting_participants WHERE meeting_id = $1")
                .bind(id)
                .fetch_all(&self.pool)
                .await?;
        // Each participant as the partner they are at the table now (someone who has left
        // the school's partners is no longer listed).
        let mut seen = std::collections::HashSet::new();
        meeting.participants = self
            .school_table(meeting.school_id)
            .await?
            .into_iter()
            .filter(|p| taking_part.iter().any(|t| t == p.id.as_str()) && seen.insert(p.id.clone()))
            .collect();
        meeting.guests =
            sqlx::query_scalar("SELECT role FROM meeting_guests WHERE meeting_id = $1 ORDER BY position")
                .bind(id)
                .fetch_all(&self.pool)
                .await?;
        Ok(Some(meeting))
    }

    /// A school's meetings, the latest day first (without their participants).
    pub async fn meetings(&self, school_id: InstitutionId) -> Result<Vec<Meeting>, DbError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE m.school_id = $1 ORDER BY m.held_on DESC, m.created_at DESC, m.id"
        )))
        .bind(school_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(meeting).collect::<Result<_, _>>()?)
    }

    /// The meetings that follow `id` (its second moments), the earliest day first.
    pub async fn second_moments(&self, id: MeetingId) -> Result<Vec<Meeting>, DbError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE m.follows_id = $1 ORDER BY m.held_on, m.created_at, m.id"
        )))
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(meeting).collect::<Result<_, _>>()?)
    }

    /// Records that meeting `id` started at `at`, unless it already had (the first start
    /// counts); whether this call started it.
    pub async fn start_meeting(&self, id: MeetingId, at: i64) -> Result<bool, DbError> {
        let done = sqlx::query(
            "UPDATE meetings SET started_at = $1, updated_at = $1
             WHERE id = $2 AND started_at IS NULL AND status = 'planned'",
        )
        .bind(at)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Closes meeting `id`, with the versions named at its close, in one transaction;
    /// `false` (and nothing changed) when it was already closed.
    pub async fn close_meeting(
        &self,
        id: MeetingId,
        by: &UserId,
        versions: &[(DocId, SnapshotId)],
    ) -> Result<bool, DbError> {
        let at = now();
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE meetings SET status = 'closed', closed_at = $1, closed_by = $2,
                 started_at = COALESCE(started_at, $1), updated_at = $1
             WHERE id = $3 AND status = 'planned'",
        )
        .bind(at)
        .bind(by.as_str())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        for (doc, snapshot) in versions {
            sqlx::query("INSERT INTO meeting_versions (meeting_id, doc_id, snapshot_id) VALUES ($1, $2, $3)")
                .bind(id)
                .bind(*doc)
                .bind(*snapshot)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// For each document of school `school_id` named when one of its meetings closed: the
    /// document and that meeting ("<titel> (<dag>)"), by the meeting's day.
    pub async fn discussed_in_meetings(
        &self,
        school_id: InstitutionId,
    ) -> Result<Vec<(DocId, String)>, DbError> {
        let rows = sqlx::query(
            "SELECT mv.doc_id, m.title, m.held_on FROM meeting_versions mv
             JOIN meetings m ON m.id = mv.meeting_id
             WHERE m.school_id = $1 ORDER BY m.held_on, m.id",
        )
        .bind(school_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let (title, day): (String, String) = (r.try_get("title")?, r.try_get("held_on")?);
                Ok((
                    r.try_get("doc_id")?,
                    format!("{title} ({})", crate::domain::day_in_words(&day)),
                ))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(DbError::from)
    }

    /// The versions named when meeting `id` closed: document → version.
    pub async fn meeting_versions(&self, id: MeetingId) -> Result<Vec<(DocId, SnapshotId)>, DbError> {
        let rows = sqlx::query("SELECT doc_id, snapshot_id FROM meeting_versions WHERE meeting_id = $1")
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("doc_id")?, r.try_get("snapshot_id")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(DbError::from)
    }

    /// Changes a meeting's details; returns it as it now is.
    pub async fn patch_meeting(&self, id: MeetingId, patch: &MeetingPatch) -> Result<Meeting, DbError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE meetings SET title = COALESCE($1, title), held_on = COALESCE($2, held_on),
                 updated_at = $3
             WHERE id = $4",
        )
        .bind(&patch.title)
        .bind(&patch.held_on)
        .bind(now())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if let Some(participants) = &patch.participants {
            sqlx::query("DELETE FROM meeting_participants WHERE meeting_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            set_people(&mut tx, id, participants, &[]).await?;
        }
        if let Some(guests) = &patch.guests {
            sqlx::query("DELETE FROM meeting_guests WHERE meeting_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            set_people(&mut tx, id, &[], guests).await?;
        }
        tx.commit().await?;
        self.meeting(id).await?.ok_or(DbError::NotFound("meeting"))
    }
}

/// Adds participants and guests (in their order) to a meeting.
async fn set_people(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    id: MeetingId,
    participants: &[UserId],
    guests: &[String],
) -> Result<(), DbError> {
    for user in participants {
        sqlx::query(
            "INSERT INTO meeting_participants (meeting_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(id)
        .bind(user.as_str())
        .execute(&mut **tx)
        .await?;
    }
    for (position, role) in (0_i64..).zip(guests) {
        sqlx::query("INSERT INTO meeting_guests (meeting_id, position, role) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(position)
            .bind(role)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

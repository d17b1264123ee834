//! Comment threads, comments, mentions and read marks.

use std::collections::HashMap;

use sqlx::Row;

use super::{Db, DbError, now};
use crate::ids::{CommentId, InstitutionId, RegistrationId, ThreadId, UserId};

/// A person as comments show them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Person {
    /// User id.
    #[schema(value_type = String)]
    pub id: UserId,
    /// Display name.
    pub name: String,
}

/// The longest encoded relative position an anchor may hold (bytes, all ASCII).
pub const MAX_ANCHOR_CHARS: usize = 512;

/// A section's root name, as the document lists them.
fn section_schema() -> utoipa::openapi::schema::Object {
    let names = samen_crdt::Section::ALL.map(|s| s.root_name());
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .description(Some("The section's root name."))
        .enum_values(Some(names))
        .build()
}

/// An encoded relative position: base64, 1 to [`MAX_ANCHOR_CHARS`] characters.
fn position_schema() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .description(Some("An encoded Yjs relative position (base64)."))
        .min_length(Some(1))
        .max_length(Some(MAX_ANCHOR_CHARS))
        .pattern(Some("^[A-Za-z0-9+/=]+$"))
        .build()
}

/// Where an anchored thread points: a passage of a section, as Yjs relative positions.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Anchor {
    /// The section's root name.
    #[schema(schema_with = section_schema)]
    pub section: String,
    /// Encoded relative position of the passage's start (base64).
    #[schema(schema_with = position_schema)]
    pub start: String,
    /// Encoded relative position of the passage's end (base64).
    #[schema(schema_with = position_schema)]
    pub end: String,
    /// The passage as it read when the thread started.
    pub quote: String,
}

/// One comment.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Comment {
    /// Its id.
    #[schema(value_type = String, format = "uuid")]
    pub id: CommentId,
    /// Who wrote it.
    pub author: Person,
    /// Its text (empty once deleted).
    pub body: String,
    /// When it was written (ms since the epoch).
    pub created_at: i64,
    /// When it was last edited.
    pub edited_at: Option<i64>,
    /// Whether it was deleted.
    pub deleted: bool,
}

/// A thread with its comments, oldest first.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Thread {
    /// Its id.
    #[schema(value_type = String, format = "uuid")]
    pub id: ThreadId,
    /// The registration it belongs to.
    #[schema(value_type = String, format = "uuid")]
    pub registration_id: RegistrationId,
    /// The passage it is about, if anchored.
    #[schema(required = true)]
    pub anchor: Option<Anchor>,
    /// `open` or `resolved`.
    pub status: String,
    /// Who started it.
    pub created_by: Person,
    /// When (ms since the epoch).
    pub created_at: i64,
    /// Who resolved it, if resolved.
    #[schema(required = true)]
    pub resolved_by: Option<Person>,
    /// When it was resolved.
    pub resolved_at: Option<i64>,
    /// Its comments.
    pub comments: Vec<Comment>,
}

/// A mention of the user in a comment.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Notification {
    /// Its id.
    pub id: i64,
    /// `mention` (someone mentioned the user), `reply` (a reply in a thread the user wrote
    /// in) or `thread` (a new thread on a registration the user started).
    pub kind: String,
    /// The registration, its title and school number.
    #[schema(value_type = String, format = "uuid")]
    pub registration_id: RegistrationId,
    /// The registration's title.
    pub title: String,
    /// The school's institution number.
    pub school_number: String,
    /// The thread.
    #[schema(value_type = String, format = "uuid")]
    pub thread_id: ThreadId,
    /// Who wrote the comment.
    pub by: Person,
    /// The comment's text.
    pub body: String,
    /// When.
    pub created_at: i64,
    /// Whether it has been read.
    pub read: bool,
}

pub(super) fn person(row: &sqlx::any::AnyRow, id: &str, name: &str) -> Result<Option<Person>, sqlx::Error> {
    let id: Option<String> = row.try_get(id)?;
    let name: Option<String> = row.try_get(name)?;
    Ok(id.zip(name).map(|(id, name)| Person {
        id: UserId::from(id),
        name,
    }))
}

const THREAD_SELECT: &str =
    "SELECT t.id, t.registration_id, t.section, t.anchor_start, t.anchor_end, t.quote,
        t.status, t.created_at, t.resolved_at, t.created_by, cu.display_name AS created_name,
        t.resolved_by, ru.display_name AS resolved_name
    FROM comment_threads t
    JOIN users cu ON cu.id = t.created_by
    LEFT JOIN users ru ON ru.id = t.resolved_by";

const COMMENT_SELECT: &str = "SELECT c.id, c.thread_id, c.body, c.created_at, c.edited_at, c.deleted_at,
        c.author_id, u.display_name AS author_name
    FROM comments c JOIN users u ON u.id = c.author_id";

fn thread(row: &sqlx::any::AnyRow) -> Result<Thread, sqlx::Error> {
    let section: Option<String> = row.try_get("section")?;
    let anchor = match section {
        Some(section) => Some(Anchor {
            section,
            start: row
                .try_get::<Option<String>, _>("anchor_start")?
                .unwrap_or_default(),
            end: row
                .try_get::<Option<String>, _>("anchor_end")?
                .unwrap_or_default(),
            quote: row.try_get::<Option<String>, _>("quote")?.unwrap_or_default(),
        }),
        None => None,
    };
    Ok(Thread {
        id: row.try_get("id")?,
        registration_id: row.try_get("registration_id")?,
        anchor,
        status: row.try_get("status")?,
        created_by: person(row, "created_by", "created_name")?.ok_or(sqlx::Error::RowNotFound)?,
        created_at: row.try_get("created_at")?,
        resolved_by: person(row, "resolved_by", "resolved_name")?,
        resolved_at: row.try_get("resolved_at")?,
        comments: Vec::new(),
    })
}

fn comment(row: &sqlx::any::AnyRow) -> Result<(ThreadId, Comment), sqlx::Error> {
    let deleted = row.try_get::<Option<i64>, _>("deleted_at")?.is_some();
    Ok((
        row.try_get("thread_id")?,
        Comment {
            id: row.try_get("id")?,
            author: person(row, "author_id", "author_name")?.ok_or(sqlx::Error::RowNotFound)?,
            body: if deleted {
                String::new()
            } else {
                row.try_get("body")?
            },
            created_at: row.try_get("created_at")?,
            edited_at: row.try_get("edited_at")?,
            deleted,
        },
    ))
}

/// SQL from `FROM` to the end of `WHERE`: the comments (`c`, in thread `t`, on registration
/// `r`) by others that user `$1` has not read. One definition for the unread counts of a
/// school's registrations and of every school on the list.
pub(super) const UNREAD: &str = "FROM comments c
     JOIN comment_threads t ON t.id = c.thread_id
     JOIN registrations r ON r.id = t.registration_id
     LEFT JOIN comment_reads cr ON cr.user_id = $1 AND cr.registration_id = t.registration_id
     WHERE c.author_id <> $1 AND c.deleted_at IS NULL AND c.created_at > COALESCE(cr.read_at, 0)";

impl Db {
    /// A registration's threads with their comments, oldest first.
    pub async fn threads(&self, registration: RegistrationId) -> Result<Vec<Thread>, DbError> {
        let mut threads: Vec<Thread> = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{THREAD_SELECT} WHERE t.registration_id = $1 ORDER BY t.created_at, t.id"
        )))
        .bind(registration)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(thread)
        .collect::<Result<_, _>>()?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{COMMENT_SELECT} JOIN comment_threads t ON t.id = c.thread_id
             WHERE t.registration_id = $1 ORDER BY c.created_at, c.id"
        )))
        .bind(registration)
        .fetch_all(&self.pool)
        .await?;
        let mut by_thread: HashMap<ThreadId, Vec<Comment>> = HashMap::new();
        for row in &rows {
            let (thread_id, c) = comment(row)?;
            by_thread.entry(thread_id).or_default().push(c);
        }
        for t in &mut threads {
            t.comments = by_thread.remove(&t.id).unwrap_or_default();
        }
        Ok(threads)
    }

    /// One thread with its comments.
    pub async fn thread(&self, id: ThreadId) -> Result<Option<Thread>, DbError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("{THREAD_SELECT} WHERE t.id = $1")))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let mut t = thread(&row)?;
        t.comments = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{COMMENT_SELECT} WHERE c.thread_id = $1 ORDER BY c.created_at, c.id"
        )))
        .bind(id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| comment(r).map(|(_, c)| c))
        .collect::<Result<_, _>>()?;
        Ok(Some(t))
    }

    /// Starts a thread with its first comment, and notifies the mentioned users and the
    /// registration's owner.
    pub async fn create_thread(
        &self,
        registration: RegistrationId,
        author: &UserId,
        body: &str,
        anchor: Option<&Anchor>,
        mentions: &[UserId],
    ) -> Result<ThreadId, DbError> {
        let thread_id = ThreadId::new();
        let at = now();
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO comment_threads (id, registration_id, section, anchor_start, anchor_end, quote,
                 status, created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 'open', $7, $8, $9)",
        )
        .bind(thread_id)
        .bind(registration)
        .bind(anchor.map(|a| &a.section))
        .bind(anchor.map(|a| &a.start))
        .bind(anchor.map(|a| &a.end))
        .bind(anchor.map(|a| &a.quote))
        .bind(author.as_str())
        .bind(at)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        insert_comment(&mut tx, registration, thread_id, author, body, mentions, at).await?;
        tx.commit().await?;
        Ok(thread_id)
    }

    /// Adds a comment to a thread and notifies the mentioned users and those who wrote in
    /// it before; returns its id.
    pub async fn reply(
        &self,
        registration: RegistrationId,
        thread_id: ThreadId,
        author: &UserId,
        body: &str,
        mentions: &[UserId],
    ) -> Result<CommentId, DbError> {
        let at = now();
        let mut tx = self.pool.begin().await?;
        let id = insert_comment(&mut tx, registration, thread_id, author, body, mentions, at).await?;
        sqlx::query("UPDATE comment_threads SET updated_at = $1 WHERE id = $2")
            .bind(at)
            .bind(thread_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// A comment's author and thread, if the comment exists and is not deleted.
    pub async fn comment_owner(&self, id: CommentId) -> Result<Option<(UserId, ThreadId)>, DbError> {
        let row =
            sqlx::query("SELECT author_id, thread_id FROM comments WHERE id = $1 AND deleted_at IS NULL")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(match row {
            Some(r) => Some((UserId::from(r.try_get::<String, _>(0)?), r.try_get(1)?)),
            None => None,
        })
    }

    /// Replaces a comment's text.
    pub async fn edit_comment(&self, id: CommentId, body: &str) -> Result<(), DbError> {
        sqlx::query("UPDATE comments SET body = $1, edited_at = $2 WHERE id = $3 AND deleted_at IS NULL")
            .bind(body)
            .bind(now())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Deletes a comment softly: it stays in its thread as "deleted", without its text.
    pub async fn delete_comment(&self, id: CommentId) -> Result<(), DbError> {
        sqlx::query("UPDATE comments SET body = '', deleted_at = $1 WHERE id = $2 AND deleted_at IS NULL")
            .bind(now())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Resolves (`by` given) or reopens (`None`) a thread.
    pub async fn set_thread_resolved(&self, id: ThreadId, by: Option<&UserId>) -> Result<(), DbError> {
        let at = now();
        sqlx::query(
            "UPDATE comment_threads SET status = $1, resolved_by = $2, resolved_at = $3, updated_at = $4 WHERE id = $5",
        )
        .bind(if by.is_some() { "resolved" } else { "open" })
        .bind(by.map(UserId::as_str))
        .bind(by.map(|_| at))
        .bind(at)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Marks a registration's comments read for a user, up to now.
    pub async fn mark_comments_read(
        &self,
        user: &UserId,
        registration: RegistrationId,
    ) -> Result<(), DbError> {
        sqlx::query(
            "INSERT INTO comment_reads (user_id, registration_id, read_at) VALUES ($1, $2, $3)
             ON CONFLICT (user_id, registration_id) DO UPDATE SET read_at = excluded.read_at",
        )
        .bind(user.as_str())
        .bind(registration)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Per registration of a school, the comments by others the user has not read.
    pub async fn unread_comments(
        &self,
        user: &UserId,
        school_id: InstitutionId,
    ) -> Result<HashMap<RegistrationId, i64>, DbError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT t.registration_id, COUNT(*) {UNREAD} AND r.school_id = $2 GROUP BY t.registration_id"
        )))
        .bind(user.as_str())
        .bind(school_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(DbError::from)
    }

    /// A user's notifications, newest first: only those on registrations the user may still
    /// read (a mention made before a role was withdrawn must not keep showing its text).
    pub async fn notifications(&self, user: &UserId) -> Result<Vec<Notification>, DbError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT n.id, n.kind, n.registration_id, r.title, i.number AS school_number, n.thread_id,
                    c.author_id, u.display_name AS author_name, c.body, c.deleted_at, n.created_at, n.read_at
             FROM notifications n
             JOIN comments c ON c.id = n.comment_id
             JOIN users u ON u.id = c.author_id
             JOIN registrations r ON r.id = n.registration_id
             JOIN institutions i ON i.id = r.school_id
             WHERE n.user_id = $1
               AND EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = $1 AND {})
             ORDER BY n.created_at DESC, n.id DESC LIMIT 200",
            super::links_to_school("r.school_id")
        )))
        .bind(user.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let deleted = r.try_get::<Option<i64>, _>("deleted_at")?.is_some();
                Ok(Notification {
                    id: r.try_get("id")?,
                    kind: r.try_get("kind")?,
                    registration_id: r.try_get("registration_id")?,
                    title: r.try_get("title")?,
                    school_number: r.try_get("school_number")?,
                    thread_id: r.try_get("thread_id")?,
                    by: person(r, "author_id", "author_name")?.ok_or(sqlx::Error::RowNotFound)?,
                    body: if deleted {
                        String::new()
                    } else {
                        r.try_get("body")?
                    },
                    created_at: r.try_get("created_at")?,
                    read: r.try_get::<Option<i64>, _>("read_at")?.is_some(),
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(DbError::from)
    }

    /// Marks all of a user's notifications read.
    pub async fn mark_notifications_read(&self, user: &UserId) -> Result<(), DbError> {
        sqlx::query("UPDATE notifications SET read_at = $1 WHERE user_id = $2 AND read_at IS NULL")
            .bind(now())
            .bind(user.as_str())
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

async fn insert_comment(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    registration: RegistrationId,
    thread_id: ThreadId,
    author: &UserId,
    body: &str,
    mentions: &[UserId],
    at: i64,
) -> Result<CommentId, DbError> {
    let id = CommentId::new();
    sqlx::query(
        "INSERT INTO comments (id, thread_id, author_id, body, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(thread_id)
    .bind(author.as_str())
    .bind(body)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    // One notification per person and comment, the most specific kind: a mention, else a
    // reply in a thread one wrote in, else a new thread on a registration one started.
    let mut told: Vec<(&UserId, &str)> = mentions.iter().map(|u| (u, "mention")).collect();
    let earlier = sqlx::query("SELECT DISTINCT author_id FROM comments WHERE thread_id = $1 AND id <> $2")
        .bind(thread_id)
        .bind(id)
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(|r| r.try_get::<String, _>(0).map(UserId::from))
        .collect::<Result<Vec<_>, _>>()?;
    let owner = if earlier.is_empty() {
        sqlx::query("SELECT owner_id FROM registrations WHERE id = $1")
            .bind(registration)
            .fetch_optional(&mut **tx)
            .await?
            .map(|r| r.try_get::<String, _>(0).map(UserId::from))
            .transpose()?
    } else {
        None
    };
    for user in &earlier {
        told.push((user, "reply"));
    }
    if let Some(owner) = &owner {
        told.push((owner, "thread"));
    }
    let mut sent: Vec<&UserId> = vec![author];
    for (user, kind) in told {
        if sent.contains(&user) {
            continue;
        }
        sent.push(user);
        sqlx::query(
            "INSERT INTO notifications (user_id, kind, registration_id, thread_id, comment_id, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(user.as_str())
        .bind(kind)
        .bind(registration)
        .bind(thread_id)
        .bind(id)
        .bind(at)
        .execute(&mut **tx)
        .await?;
    }
    Ok(id)
}

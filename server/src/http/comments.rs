//! Comment threads on a registration: general, or anchored to a passage of a section.
//! The author is always the caller (never taken from the body); text is plain with a small
//! markdown subset that the app renders as text; every change is audited and announced
//! live on the school's event stream.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::access::{CommentPath, OnRegistration, RegistrationPath, ThreadPath, found};
use super::audit::audit;
use super::body::JsonObject;
use super::limits::Write;
use crate::auth::Authenticated;
use crate::db::{Anchor, MAX_ANCHOR_CHARS, Notification, Person, Registration, Thread};
use crate::error::{AppError, ErrorBody, Forbidden, NotFound, Unauthenticated};
use crate::events::SchoolEvent;
use crate::ids::{CommentId, RegistrationId, ThreadId, UserId};
use crate::state::AppState;

/// The longest comment, in characters.
pub const MAX_BODY_CHARS: usize = 4000;
/// The longest quoted passage kept with an anchored thread.
const MAX_QUOTE_CHARS: usize = 500;

/// The schema of a comment's text, from the rules [`body_text`] checks.
fn comment_body() -> utoipa::openapi::schema::Object {
    crate::domain::schema::lines(
        MAX_BODY_CHARS,
        "Plain text with a small markdown subset: not blank, at most 4,000 characters, no \
         control characters but tabs and line breaks.",
    )
}

fn body_text(body: &str) -> Result<String, AppError> {
    let body = body.trim();
    if body.is_empty() {
        return Err(AppError::BadRequest("a comment needs some text".into()));
    }
    if body.chars().count() > MAX_BODY_CHARS {
        return Err(AppError::BadRequest(format!(
            "a comment is at most {MAX_BODY_CHARS} characters"
        )));
    }
    if body.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(AppError::BadRequest(
            "a comment may not hold control characters".into(),
        ));
    }
    Ok(body.to_owned())
}

fn checked_anchor(anchor: Anchor) -> Result<Anchor, AppError> {
    if samen_crdt::Section::from_root_name(&anchor.section).is_none() {
        return Err(AppError::BadRequest(format!(
            "unknown section {:?}",
            anchor.section
        )));
    }
    let base64 = |s: &str| {
        !s.is_empty()
            && s.len() <= MAX_ANCHOR_CHARS
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b))
    };
    if !base64(&anchor.start) || !base64(&anchor.end) {
        return Err(AppError::BadRequest(
            "anchor positions must be encoded relative positions (base64)".into(),
        ));
    }
    let quote: String = anchor.quote.trim().chars().take(MAX_QUOTE_CHARS).collect();
    Ok(Anchor { quote, ..anchor })
}

/// Mentioned users must be able to see the dossier.
async fn checked_mentions(
    state: &AppState,
    registration: &Registration,
    mentions: &[UserId],
) -> Result<Vec<UserId>, AppError> {
    if mentions.is_empty() {
        return Ok(Vec::new());
    }
    let allowed = state.db.users_with_access(registration.school_id).await?;
    let mut out = Vec::new();
    for user in mentions {
        if !allowed.iter().any(|u| &u.id == user) {
            return Err(AppError::BadRequest(
                "you can only mention people who can see this dossier".into(),
            ));
        }
        if !out.contains(user) {
            out.push(user.clone());
        }
    }
    Ok(out)
}

async fn thread_of(
    state: &AppState,
    registration: &Registration,
    thread: ThreadId,
) -> Result<Thread, AppError> {
    state
        .db
        .thread(thread)
        .await?
        .filter(|t| t.registration_id == registration.id)
        .ok_or(AppError::NotFound)
}

/// The data of a `comment` event of `GET /api/schools/{number}/events`: a thread changed.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommentEvent<'a> {
    /// The registration the thread is on.
    #[schema(value_type = String, format = "uuid")]
    pub registration_id: RegistrationId,
    /// The whole thread as it is now.
    pub thread: &'a Thread,
}

async fn announce(state: &AppState, registration: &Registration, thread: &Thread) {
    crate::search::index_thread(&state.db, registration, thread).await;
    let event = CommentEvent {
        registration_id: registration.id,
        thread,
    };
    state
        .events
        .publish(registration.school_id, SchoolEvent::new("comment", &event));
}

/// A registration's comment threads.
#[derive(Debug, Serialize, ToSchema)]
pub struct ThreadList {
    /// Oldest first.
    pub threads: Vec<Thread>,
}

/// One thread, after a change.
#[derive(Debug, Serialize, ToSchema)]
pub struct ThreadResponse {
    /// The thread with all its comments.
    pub thread: Thread,
}

/// Every thread of a registration, with its comments.
#[utoipa::path(
    get,
    path = "/api/registrations/{id}/comments",
    tag = "comments",
    params(RegistrationPath),
    responses(
        (status = 200, description = "Every thread with its comments.", body = ThreadList),
        Unauthenticated,
        NotFound,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn list(
    State(state): State<AppState>,
    OnRegistration {
        auth, registration, ..
    }: OnRegistration,
) -> Result<Json<ThreadList>, AppError> {
    super::registrations::read(&state, &auth, &registration).await?;
    let threads = state.db.threads(registration.id).await?;
    Ok(Json(ThreadList { threads }))
}

/// Marks the registration's comments read for the caller.
#[utoipa::path(
    post,
    path = "/api/registrations/{id}/comments/read",
    tag = "comments",
    params(RegistrationPath),
    responses(
        (status = 204, description = "Marked read."),
        Unauthenticated,
        Forbidden,
        NotFound,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn mark_read(
    State(state): State<AppState>,
    OnRegistration {
        auth, registration, ..
    }: OnRegistration,
) -> Result<StatusCode, AppError> {
    state
        .db
        .mark_comments_read(&auth.user.id, registration.id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Body of a new thread.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewThread {
    /// The first comment (plain text with a small markdown subset; at most 4,000 characters).
    #[schema(schema_with = comment_body)]
    body: String,
    /// The passage the thread is about, if any.
    #[serde(default)]
    anchor: Option<Anchor>,
    /// Users mentioned (they must be able to see the dossier).
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    mentions: Vec<UserId>,
}

/// Starts a thread (anchored to a passage when `anchor` is given).
#[utoipa::path(
    post,
    path = "/api/registrations/{id}/comments",
    tag = "comments",
    params(RegistrationPath),
    request_body = NewThread,
    responses(
        (status = 201, description = "The new thread.", body = ThreadResponse),
        (status = 400, description = "Bad JSON, empty or too long text, a bad anchor or a mention of someone without access (`bad_request`).", body = ErrorBody),
        Unauthenticated,
        Forbidden,
        NotFound,
        (status = 429, description = "Too many comments in a short time (`too_many_attempts`).", body = ErrorBody),
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn create(
    State(state): State<AppState>,
    OnRegistration {
        auth, registration, ..
    }: OnRegistration,
    body: Result<JsonObject<NewThread>, AppError>,
) -> Result<impl IntoResponse, AppError> {
    let JsonObject(new) = body?;
    let text = body_text(&new.body)?;
    let anchor = new.anchor.map(checked_anchor).transpose()?;
    let mentions = checked_mentions(&state, &registration, &new.mentions).await?;
    state.writes.check(Write::Comment, &auth.user.id)?;
    let thread_id = state
        .db
        .create_thread(registration.id, &auth.user.id, &text, anchor.as_ref(), &mentions)
        .await?;
    let thread = thread_of(&state, &registration, thread_id).await?;
    audit(
        &state,
        Some(auth.user.id.to_string()),
        "comment.thread",
        Some(thread_id.to_string()),
        "ok",
    )
    .await?;
    announce(&state, &registration, &thread).await;
    Ok((StatusCode::CREATED, Json(ThreadResponse { thread })))
}

/// Body of a reply or an edit.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Text {
    /// The text (plain text with a small markdown subset; at most 4,000 characters).
    #[schema(schema_with = comment_body)]
    body: String,
    /// Users mentioned (they must be able to see the dossier; ignored on edit).
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    mentions: Vec<UserId>,
}

/// Adds a reply to a thread.
#[utoipa::path(
    post,
    path = "/api/registrations/{id}/comments/{thread}/replies",
    tag = "comments",
    params(RegistrationPath, ThreadPath),
    request_body = Text,
    responses(
        (status = 201, description = "The thread with the reply.", body = ThreadResponse),
        (status = 400, description = "Bad JSON, empty or too long text, a bad anchor or a mention of someone without access (`bad_request`).", body = ErrorBody),
        Unauthenticated,
        Forbidden,
        NotFound,
        (status = 429, description = "Too many comments in a short time (`too_many_attempts`).", body = ErrorBody),
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn reply(
    State(state): State<AppState>,
    OnRegistration {
        auth, registration, ..
    }: OnRegistration,
    Path(ThreadPath { thread }): Path<ThreadPath>,
    body: Result<JsonObject<Text>, AppError>,
) -> Result<impl IntoResponse, AppError> {
    let thread = thread_of(&state, &registration, found(&thread)?).await?;
    let JsonObject(text) = body?;
    let body = body_text(&text.body)?;
    let mentions = checked_mentions(&state, &registration, &text.mentions).await?;
    state.writes.check(Write::Comment, &auth.user.id)?;
    let comment = state
        .db
        .reply(registration.id, thread.id, &auth.user.id, &body, &mentions)
        .await?;
    let thread = thread_of(&state, &registration, thread.id).await?;
    audit(
        &state,
        Some(auth.user.id.to_string()),
        "comment.reply",
        Some(comment.to_string()),
        "ok",
    )
    .await?;
    announce(&state, &registration, &thread).await;
    Ok((StatusCode::CREATED, Json(ThreadResponse { thread })))
}

/// The comment, which must be the caller's own and in this thread.
async fn own_comment(
    state: &AppState,
    auth: &Authenticated,
    thread: &Thread,
    comment: CommentId,
    action: &'static str,
) -> Result<(), AppError> {
    let (author, thread_id) = state.db.comment_owner(comment).await?.ok_or(AppError::NotFound)?;
    if thread_id != thread.id {
        return Err(AppError::NotFound);
    }
    if author != auth.user.id {
        audit(
            state,
            Some(auth.user.id.to_string()),
            action,
            Some(comment.to_string()),
            "denied",
        )
        .await?;
        return Err(AppError::Forbidden(
            "You can only change your own comments.".into(),
        ));
    }
    Ok(())
}

/// Edits one of the caller's own comments.
#[utoipa::path(
    patch,
    path = "/api/registrations/{id}/comments/{thread}/comments/{comment}",
    tag = "comments",
    params(RegistrationPath, CommentPath),
    request_body = Text,
    responses(
        (status = 200, description = "The thread with the edited comment.", body = ThreadResponse),
        (status = 400, description = "Bad JSON, empty or too long text, a bad anchor or a mention of someone without access (`bad_request`).", body = ErrorBody),
        Unauthenticated,
        Forbidden,
        NotFound,
        (status = 429, description = "Too many comments in a short time (`too_many_attempts`).", body = ErrorBody),
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn edit(
    State(state): State<AppState>,
    OnRegistration {
        auth, registration, ..
    }: OnRegistration,
    Path(CommentPath { thread, comment }): Path<CommentPath>,
    body: Result<JsonObject<Text>, AppError>,
) -> Result<Json<ThreadResponse>, AppError> {
    let thread = thread_of(&state, &registration, found(&thread)?).await?;
    let comment: CommentId = found(&comment)?;
    own_comment(&state, &auth, &thread, comment, "comment.edit").await?;
    let JsonObject(text) = body?;
    let body = body_text(&text.body)?;
    state.writes.check(Write::Comment, &auth.user.id)?;
    state.db.edit_comment(comment, &body).await?;
    let thread = thread_of(&state, &registration, thread.id).await?;
    audit(
        &state,
        Some(auth.user.id.to_string()),
        "comment.edit",
        Some(comment.to_string()),
        "ok",
    )
    .await?;
    announce(&state, &registration, &thread).await;
    Ok(Json(ThreadResponse { thread }))
}

/// Deletes one of the caller's own comments (it stays, shown as deleted).
#[utoipa::path(
    delete,
    path = "/api/registrations/{id}/comments/{thread}/comments/{comment}",
    tag = "comments",
    params(RegistrationPath, CommentPath),
    responses(
        (status = 200, description = "The thread, the comment marked deleted.", body = ThreadResponse),
        Unauthenticated,
        Forbidden,
        NotFound,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn delete(
    State(state): State<AppState>,
    OnRegistration {
        auth, registration, ..
    }: OnRegistration,
    Path(CommentPath { thread, comment }): Path<CommentPath>,
) -> Result<Json<ThreadResponse>, AppError> {
    let thread = thread_of(&state, &registration, found(&thread)?).await?;
    let comment: CommentId = found(&comment)?;
    own_comment(&state, &auth, &thread, comment, "comment.delete").await?;
    state.db.delete_comment(comment).await?;
    let thread = thread_of(&state, &registration, thread.id).await?;
    audit(
        &state,
        Some(auth.user.id.to_string()),
        "comment.delete",
        Some(comment.to_string()),
        "ok",
    )
    .await?;
    announce(&state, &registration, &thread).await;
    Ok(Json(ThreadResponse { thread }))
}

async fn set_resolved(
    state: AppState,
    on: OnRegistration,
    thread: String,
    resolve: bool,
) -> Result<Json<ThreadResponse>, AppError> {
    let OnRegistration {
        auth, registration, ..
    } = on;
    let thread = thread_of(&state, &registration, found(&thread)?).await?;
    state
        .db
        .set_thread_resolved(thread.id, resolve.then_some(&auth.user.id))
        .await?;
    let thread = thread_of(&state, &registration, thread.id).await?;
    let action = if resolve {
        "comment.resolve"
    } else {
        "comment.reopen"
    };
    audit(
        &state,
        Some(auth.user.id.to_string()),
        action,
        Some(thread.id.to_string()),
        "ok",
    )
    .await?;
    announce(&state, &registration, &thread).await;
    Ok(Json(ThreadResponse { thread }))
}

/// Resolves a thread (anyone who may read it).
#[utoipa::path(
    post,
    path = "/api/registrations/{id}/comments/{thread}/resolve",
    tag = "comments",
    params(RegistrationPath, ThreadPath),
    responses(
        (status = 200, description = "The resolved thread.", body = ThreadResponse),
        Unauthenticated,
        Forbidden,
        NotFound,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn resolve(
    State(state): State<AppState>,
    on: OnRegistration,
    Path(ThreadPath { thread }): Path<ThreadPath>,
) -> Result<Json<ThreadResponse>, AppError> {
    set_resolved(state, on, thread, true).await
}

/// Reopens a resolved thread.
#[utoipa::path(
    post,
    path = "/api/registrations/{id}/comments/{thread}/reopen",
    tag = "comments",
    params(RegistrationPath, ThreadPath),
    responses(
        (status = 200, description = "The reopened thread.", body = ThreadResponse),
        Unauthenticated,
        Forbidden,
        NotFound,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn reopen(
    State(state): State<AppState>,
    on: OnRegistration,
    Path(ThreadPath { thread }): Path<ThreadPath>,
) -> Result<Json<ThreadResponse>, AppError> {
    set_resolved(state, on, thread, false).await
}

/// People who can see a dossier.
#[derive(Debug, Serialize, ToSchema)]
pub struct PeopleList {
    /// By name.
    pub people: Vec<Person>,
}

/// People who can see the registration (whom a comment may mention).
#[utoipa::path(
    get,
    path = "/api/registrations/{id}/people",
    tag = "comments",
    params(RegistrationPath),
    responses(
        (status = 200, description = "Who can see the dossier.", body = PeopleList),
        Unauthenticated,
        NotFound,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn people(
    State(state): State<AppState>,
    OnRegistration {
        auth, registration, ..
    }: OnRegistration,
) -> Result<Json<PeopleList>, AppError> {
    super::registrations::read(&state, &auth, &registration).await?;
    let people = state
        .db
        .users_with_access(registration.school_id)
        .await?
        .into_iter()
        .map(|u| Person {
            id: u.id,
            name: u.display_name,
        })
        .collect();
    Ok(Json(PeopleList { people }))
}

/// The caller's notifications.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationList {
    /// Newest first.
    pub notifications: Vec<Notification>,
    /// How many are unread.
    pub unread: usize,
}

/// The caller's notifications ("Notificaties"): mentions, replies in threads the caller
/// wrote in, new threads on registrations the caller started.
#[utoipa::path(
    get,
    path = "/api/notifications",
    tag = "comments",
    responses(
        (status = 200, description = "The caller's notifications, newest first.", body = NotificationList),
        Unauthenticated,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn notifications(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<NotificationList>, AppError> {
    let mut notifications = state.db.notifications(&auth.user.id).await?;
    // A token limited to one school hears only of that school.
    if let Some((_, number)) = &auth.limits.school {
        notifications.retain(|n| n.school_number == *number);
    }
    let unread = notifications.iter().filter(|n| !n.read).count();
    Ok(Json(NotificationList {
        notifications,
        unread,
    }))
}

/// Marks the caller's notifications read.
#[utoipa::path(
    post,
    path = "/api/notifications/read",
    tag = "comments",
    responses(
        (status = 204, description = "All notifications marked read."),
        Unauthenticated,
        Forbidden,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn notifications_read(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<StatusCode, AppError> {
    state.db.mark_notifications_read(&auth.user.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

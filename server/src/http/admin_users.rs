//! Platform administration of people (`/api/admin/users`): find them, add them, grant and
//! take away roles, disable and enable them, and make and revoke their API tokens. What
//! `samen admin` does on the command line, for a platform administrator in the browser.
//! Roles the identity provider grants are shown but not changed here: every login through
//! the provider replaces them.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::access::found;
use super::account::{CreatedToken, TOKEN_DAYS, TokenList};
use super::admin::{Scope, admin_scope};
use super::audit::audit_with;
use super::body::JsonObject;
use crate::auth::Authenticated;
use crate::auth::password::{check_new_password, hash_password};
use crate::db::{AdminUser, NewToken, TokenScope, role_kind};
use crate::error::{AppError, ErrorBody, Forbidden, NotFound, Unauthenticated};
use crate::ids::{InstitutionId, UserId};
use crate::state::AppState;

/// At most this many users in one answer.
const MAX_USERS: usize = 100;

/// `GET /api/admin/users` query.
#[derive(Debug, Deserialize, IntoParams)]
pub struct UserQuery {
    /// Part of a name or e-mail address (any case); leave out for everyone.
    q: Option<String>,
}

/// `GET /api/admin/users`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminUsers {
    /// By name; at most 100.
    pub users: Vec<AdminUser>,
    /// Whether more users matched.
    pub truncated: bool,
}

/// One user, after a change.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminUserAnswer {
    /// The user as they are now.
    pub user: AdminUser,
}

/// The users whose name or e-mail address contains `q`, with their roles and where each
/// role comes from.
#[utoipa::path(
    get,
    path = "/api/admin/users",
    tag = "admin",
    params(UserQuery),
    responses(
        (status = 200, description = "The users.", body = AdminUsers),
        Unauthenticated,
        Forbidden,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn list(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(query): Query<UserQuery>,
) -> Result<Json<AdminUsers>, AppError> {
    let scope = admin_scope(&state, &auth).await?;
    let q = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    if q.is_some_and(|q| q.chars().count() > 200) {
        return Err(AppError::BadRequest("q may be at most 200 characters".into()));
    }
    let (users, truncated) = state.db.admin_users(q, MAX_USERS, scope.within()).await?;
    Ok(Json(AdminUsers { users, truncated }))
}

/// The user a path names, as the admin pages show them; 404 when there is none, or none
/// this administrator looks after: a CLB administrator, someone whose every role is on
/// their CLBs or its schools (or, where `unassigned` allows it, someone without a role yet).
async fn user(
    state: &AppState,
    scope: &Scope,
    id: &str,
    unassigned: bool,
) -> Result<(UserId, AdminUser), AppError> {
    let id = UserId::from(id.to_owned());
    let user = state.db.admin_user(&id).await?.ok_or(AppError::NotFound)?;
    let ours = user
        .memberships
        .iter()
        .all(|m| m.institution.as_ref().is_some_and(|i| scope.covers(i.id)));
    let looked_after = match scope {
        Scope::Platform => true,
        Scope::Clbs { .. } => ours && (unassigned || !user.memberships.is_empty()),
    };
    if !looked_after {
        return Err(AppError::NotFound);
    }
    Ok((id, user))
}

/// `POST /api/admin/users` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewUser {
    /// Their login e-mail address.
    #[schema(min_length = 3, max_length = 254)]
    email: String,
    /// Their name, shown to others.
    #[schema(min_length = 1, max_length = 200)]
    display_name: String,
    /// A first password (at least 12 characters, not easy to guess); leave out for someone
    /// who logs in through the identity provider.
    #[serde(default)]
    password: Option<String>,
}

/// Adds a person, with a password or (for a login through the identity provider) without.
#[utoipa::path(
    post,
    path = "/api/admin/users",
    tag = "admin",
    request_body = NewUser,
    responses(
        (status = 201, description = "The new user.", body = AdminUserAnswer),
        (status = 400, description = "Bad JSON, an e-mail address or name that is not right, or a \
            password that is too short or easy to guess; the message says which (`bad_request`).",
            body = ErrorBody),
        (status = 409, description = "Someone has this e-mail address already (`conflict`).", body = ErrorBody),
        Unauthenticated,
        Forbidden,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn create(
    State(state): State<AppState>,
    auth: Authenticated,
    body: Result<JsonObject<NewUser>, AppError>,
) -> Result<impl IntoResponse, AppError> {
    let scope = admin_scope(&state, &auth).await?;
    let JsonObject(body) = body?;
    let email = body.email.trim().to_lowercase();
    let plausible = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
        })
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if !plausible {
        return Err(AppError::BadRequest(
            "the e-mail address must look like naam@school.be".into(),
        ));
    }
    let name = body.display_name.trim();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(AppError::BadRequest(
            "the name must be 1 to 200 characters".into(),
        ));
    }
    let hash = match body.password.as_deref().filter(|p| !p.is_empty()) {
        None => String::new(),
        Some(password) => {
            check_new_password(password, &[email.as_str(), name])
                .map_err(|weak| AppError::BadRequest(weak.to_string()))?;
            let password = password.to_owned();
            tokio::task::spawn_blocking(move || hash_password(&password))
                .await
                .map_err(|e| AppError::Internal(e.to_string()))?
                .map_err(|e| AppError::Internal(e.to_string()))?
        }
    };
    let created = state.db.create_user(&email, name, &hash).await?;
    audit_with(
        &state,
        &auth.user.id,
        "user.create",
        email.clone(),
        "added on the admin page",
    )
    .await?;
    let (_, user) = self::user(&state, &scope, created.id.as_str(), true).await?;
    Ok((StatusCode::CREATED, Json(AdminUserAnswer { user })))
}

/// `POST /api/admin/users/{id}/roles` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RoleGrant {
    /// `clb_staff` (on a CLB), `school_dossier` (on a school), `lsc_staff` (on an LSC) or
    /// `admin` (no institution).
    role: String,
    /// The institution number the role holds on; leave out for `admin`.
    #[serde(default)]
    institution: Option<String>,
}

/// The institution a role needs, checked: of the kind the role is held on, none for
/// `admin`; 400 otherwise.
async fn role_institution(
    state: &AppState,
    scope: &Scope,
    role: &str,
    number: Option<&str>,
) -> Result<Option<InstitutionId>, AppError> {
    let Some(kind) = role_kind(role) else {
        return Err(AppError::BadRequest(
            "role must be clb_staff, clb_admin, school_dossier, lsc_staff or admin".into(),
        ));
    };
    if kind.is_none_or(|k| k == "lsc") {
        scope.platform_only("grants the admin role and roles on an LSC")?;
    }
    let number = number.map(str::trim).filter(|n| !n.is_empty());
    match (kind, number) {
        (None, None) => Ok(None),
        (None, Some(_)) => Err(AppError::BadRequest(
            "admin is a platform role: leave out the institution".into(),
        )),
        (Some(kind), None) => Err(AppError::BadRequest(format!(
            "{role} needs the number of a {kind}"
        ))),
        (Some(kind), Some(number)) => match state.db.institution(number).await? {
            Some(inst) if inst.kind == kind && !scope.covers(inst.id) => Err(AppError::Forbidden(format!(
                "{number} is not your CLB or one of its schools"
            ))),
            Some(inst) if inst.kind == kind => Ok(Some(inst.id)),
            _ => Err(AppError::BadRequest(format!(
                "{number:?} is no {kind}: {role} is held on a {kind}"
            ))),
        },
    }
}

/// Grants a person a role on an institution (or the platform's `admin` role).
#[utoipa::path(
    post,
    path = "/api/admin/users/{id}/roles",
    tag = "admin",
    params(("id" = String, Path, description = "The user's id.")),
    request_body = RoleGrant,
    responses(
        (status = 200, description = "The user with the role.", body = AdminUserAnswer),
        (status = 400, description = "Bad JSON, an unknown role, or an institution that does not \
            fit the role (`bad_request`).", body = ErrorBody),
        Unauthenticated,
        Forbidden,
        NotFound,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn grant(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    body: Result<JsonObject<RoleGrant>, AppError>,
) -> Result<Json<AdminUserAnswer>, AppError> {
    let scope = admin_scope(&state, &auth).await?;
    let (id, who) = user(&state, &scope, &id, true).await?;
    let JsonObject(body) = body?;
    let institution = role_institution(&state, &scope, &body.role, body.institution.as_deref()).await?;
    state.db.grant(&id, &body.role, institution).await?;
    let detail = format!(
        "{} on {}",
        body.role,
        body.institution.as_deref().unwrap_or("the platform")
    );
    audit_with(&state, &auth.user.id, "role.grant", who.email, &detail).await?;
    let (_, user) = user(&state, &scope, id.as_str(), true).await?;
    Ok(Json(AdminUserAnswer { user }))
}

/// `DELETE /api/admin/users/{id}/roles/{role}` query.
#[derive(Debug, Deserialize, IntoParams)]
pub struct RoleQuery {
    /// The institution number the role holds on; leave out for `admin`.
    institution: Option<String>,
}

/// Takes a role granted here away (a role from the identity provider comes back at its next
/// login: withdraw it there). What the person had open through it closes within seconds.
#[utoipa::path(
    delete,
    path = "/api/admin/users/{id}/roles/{role}",
    tag = "admin",
    params(
        ("id" = String, Path, description = "The user's id."),
        ("role" = String, Path, description = "The role."),
        RoleQuery,
    ),
    responses(
        (status = 200, description = "The user without the role.", body = AdminUserAnswer),
        (status = 400, description = "An unknown role, or an institution that does not fit it (`bad_request`).",
            body = ErrorBody),
        Unauthenticated,
        Forbidden,
        NotFound,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn revoke(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((id, role)): Path<(String, String)>,
    Query(query): Query<RoleQuery>,
) -> Result<Json<AdminUserAnswer>, AppError> {
    let scope = admin_scope(&state, &auth).await?;
    let (id, who) = user(&state, &scope, &id, false).await?;
    let institution = role_institution(&state, &scope, &role, query.institution.as_deref()).await?;
    if role == "admin" && id == auth.user.id {
        return Err(AppError::BadRequest(
            "you cannot take your own admin role away; ask another administrator".into(),
        ));
    }
    if !state.db.revoke_local(&id, &role, institution).await? {
        return Err(AppError::NotFound);
    }
    state.watch.recheck_soon();
    let detail = format!(
        "{role} on {}",
        query.institution.as_deref().unwrap_or("the platform")
    );
    audit_with(&state, &auth.user.id, "role.revoke", who.email, &detail).await?;
    let (_, user) = user(&state, &scope, id.as_str(), true).await?;
    Ok(Json(AdminUserAnswer { user }))
}

/// Disables a person: they cannot log in, and their sessions and tokens end at once.
#[utoipa::path(
    post,
    path = "/api/admin/users/{id}/disable",
    tag = "admin",
    params(("id" = String, Path, description = "The user's id.")),
    responses(
        (status = 200, description = "The user, disabled.", body = AdminUserAnswer),
        (status = 400, description = "Administrators cannot disable themselves (`bad_request`).", body = ErrorBody),
        Unauthenticated,
        Forbidden,
        NotFound,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn disable(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> Result<Json<AdminUserAnswer>, AppError> {
    let scope = admin_scope(&state, &auth).await?;
    let (id, who) = user(&state, &scope, &id, false).await?;
    if id == auth.user.id {
        return Err(AppError::BadRequest(
            "you cannot disable yourself; ask another administrator".into(),
        ));
    }
    state.db.disable_user(&id).await?;
    state.watch.recheck_soon();
    audit_with(
        &state,
        &auth.user.id,
        "user.disable",
        who.email,
        "on the admin page",
    )
    .await?;
    let (_, user) = user(&state, &scope, id.as_str(), true).await?;
    Ok(Json(AdminUserAnswer { user }))
}

/// Enables a disabled person again; they log in anew (their old sessions and tokens stay
/// ended).
#[utoipa::path(
    post,
    path = "/api/admin/users/{id}/enable",
    tag = "admin",
    params(("id" = String, Path, description = "The user's id.")),
    responses(
        (status = 200, description = "The user, enabled.", body = AdminUserAnswer),
        Unauthenticated,
        Forbidden,
        NotFound,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn enable(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> Result<Json<AdminUserAnswer>, AppError> {
    let scope = admin_scope(&state, &auth).await?;
    let (id, who) = user(&state, &scope, &id, false).await?;
    state.db.enable_user(&id).await?;
    audit_with(
        &state,
        &auth.user.id,
        "user.enable",
        who.email,
        "on the admin page",
    )
    .await?;
    let (_, user) = user(&state, &scope, id.as_str(), true).await?;
    Ok(Json(AdminUserAnswer { user }))
}

/// A person's API tokens (never the tokens themselves).
#[utoipa::path(
    get,
    path = "/api/admin/users/{id}/tokens",
    tag = "admin",
    params(("id" = String, Path, description = "The user's id.")),
    responses(
        (status = 200, description = "Their tokens, newest first.", body = TokenList),
        Unauthenticated,
        Forbidden,
        NotFound,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn tokens(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> Result<Json<TokenList>, AppError> {
    let scope = admin_scope(&state, &auth).await?;
    let (id, _) = user(&state, &scope, &id, false).await?;
    Ok(Json(TokenList {
        tokens: state.db.tokens(&id).await?,
    }))
}

/// `POST /api/admin/users/{id}/tokens` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AdminNewToken {
    /// 1 to 100 characters, to recognise it by.
    #[schema(min_length = 1, max_length = 100)]
    name: String,
    /// `read` or `read_write` (default).
    #[serde(default)]
    scope: TokenScope,
    /// Days until it stops working: 1 to 365, default 90.
    #[serde(default)]
    expires_in_days: Option<u32>,
    /// The institution number of the one school it may reach; leave out for every school
    /// its user may reach.
    #[serde(default)]
    school: Option<String>,
}

/// Makes an API token for a person (a link with another system, say); the token is in
/// this answer only.
#[utoipa::path(
    post,
    path = "/api/admin/users/{id}/tokens",
    tag = "admin",
    params(("id" = String, Path, description = "The user's id.")),
    request_body = AdminNewToken,
    responses(
        (status = 201, description = "The new token; it is never shown again.", body = CreatedToken),
        (status = 400, description = "Bad JSON, a name that is not 1 to 100 characters, an expiry \
            outside 1 to 365 days, or a school that does not exist (`bad_request`).", body = ErrorBody),
        Unauthenticated,
        Forbidden,
        NotFound,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn create_token(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    body: Result<JsonObject<AdminNewToken>, AppError>,
) -> Result<impl IntoResponse, AppError> {
    let scope = admin_scope(&state, &auth).await?;
    let (id, who) = user(&state, &scope, &id, false).await?;
    let JsonObject(body) = body?;
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::BadRequest("name must be 1 to 100 characters".into()));
    }
    let days = body.expires_in_days.unwrap_or(TOKEN_DAYS);
    if !(1..=365).contains(&days) {
        return Err(AppError::BadRequest("expires_in_days must be 1 to 365".into()));
    }
    let school = match body.school.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(number) => match state.db.institution(number).await? {
            Some(school) if school.kind == "school" && scope.covers(school.id) => Some(school.id),
            _ => {
                return Err(AppError::BadRequest(format!(
                    "{number:?} is no school you look after"
                )));
            }
        },
    };
    let new = NewToken {
        name,
        lifetime_ms: i64::from(days) * 24 * 60 * 60 * 1000,
        scope: body.scope,
        school,
    };
    let (token_id, token) = state.db.create_token(&id, &new).await?;
    let detail = format!("for {} on the admin page", who.email);
    audit_with(
        &state,
        &auth.user.id,
        "token.create",
        token_id.to_string(),
        &detail,
    )
    .await?;
    let name = name.to_owned();
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken {
            id: token_id,
            name,
            token,
        }),
    ))
}

/// Revokes one of a person's tokens; what it had open closes within seconds.
#[utoipa::path(
    delete,
    path = "/api/admin/users/{id}/tokens/{token}",
    tag = "admin",
    params(
        ("id" = String, Path, description = "The user's id."),
        ("token" = String, Path, description = "The token's id."),
    ),
    responses(
        (status = 204, description = "Revoked."),
        Unauthenticated,
        Forbidden,
        NotFound,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn revoke_token(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((id, token)): Path<(String, String)>,
) -> Result<StatusCode, AppError> {
    let scope = admin_scope(&state, &auth).await?;
    let (id, who) = user(&state, &scope, &id, false).await?;
    if !state.db.revoke_token(&id, found(&token)?).await? {
        return Err(AppError::NotFound);
    }
    state.watch.recheck_soon();
    let detail = format!("of {} on the admin page", who.email);
    audit_with(&state, &auth.user.id, "token.revoke", token, &detail).await?;
    Ok(StatusCode::NO_CONTENT)
}

//! Logging in and out, the current user, and API tokens. The second step of a login with
//! TOTP, and setting TOTP up, are in `totp.rs`.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::Json;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::access::found;
use super::audit::{audit, audit_with};
use super::body::JsonObject;
use super::client_address::client_address;
use super::totp::SecondFactorNeeded;
use crate::auth::password::{BUSY_RETRY_SECS, Busy};
use crate::auth::throttle::{Attempt, PRUNE_EVERY, Refusal};
use crate::auth::{Authenticated, SESSION_COOKIE, Via};
use crate::db::{Membership, TokenInfo, TokenScope, User};
use crate::error::{AppError, ErrorBody, Forbidden, NotFound, Throttled, TooBusy, Unauthenticated};
use crate::ids::{TokenId, UserId};
use crate::state::AppState;

/// The longest e-mail address a login takes, in bytes (RFC 5321's limit on a path).
pub const MAX_EMAIL_BYTES: usize = 254;
pub use crate::auth::password::MAX_PASSWORD_BYTES;

/// `POST /api/login` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Login {
    /// The account's e-mail address (case does not matter); at most 254 bytes.
    email: String,
    /// Its password; at most 1,024 bytes.
    password: String,
    /// "Stay logged in on this device": the cookie then lasts as long as the session
    /// (`Max-Age`); otherwise it ends with the browser. The session ends after its lifetime
    /// or idle time either way.
    #[serde(default)]
    remember: bool,
}

/// `POST /api/login`: the user who just logged in.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    /// The user.
    pub user: User,
    /// Their roles.
    pub memberships: Vec<Membership>,
}

/// Logs in: checks the password (throttled per account and per client address, counted
/// before the check), starts a new session and sets its cookie; or, when the account has
/// two-step verification, answers 202 and waits for the code. The error never tells
/// whether the account exists.
#[utoipa::path(
    post,
    path = "/api/login",
    tag = "account",
    request_body = Login,
    responses(
        (status = 200, description = "Logged in; the response sets the `samen_session` cookie.",
            body = LoginResponse,
            headers(("set-cookie" = String, description = "`samen_session=...; HttpOnly; SameSite=Lax; Path=/`, \
                with `Max-Age` only if `remember` is true"))),
        (status = 202, description = "The password is right, and the account has two-step verification: no \
            session yet. Send a code from the authenticator app, or a recovery code, with `pending` to \
            `POST /api/login/totp` within `expires_in_secs`.", body = SecondFactorNeeded),
        (status = 400, description = "The body is not `{email, password, remember?}`, or the e-mail address is over 254 bytes \
            or the password over 1,024 (`bad_request`).", body = ErrorBody),
        (status = 401, description = "Wrong e-mail address or password (`invalid_credentials`).", body = ErrorBody),
        Throttled,
        TooBusy,
    ),
)]
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    body: Result<JsonObject<Login>, AppError>,
) -> Result<Response, AppError> {
    let JsonObject(login) = body?;
    if !state.config.password_login {
        return Err(AppError::Forbidden(
            "Logging in with a password is switched off on this server; log in through the \
             provider instead (the button on the login page)."
                .into(),
        ));
    }
    // Before anything is looked up, counted, hashed or written down.
    let email = login.email.trim();
    if email.len() > MAX_EMAIL_BYTES || login.password.len() > MAX_PASSWORD_BYTES {
        state.metrics.login_refused("too_long");
        return Err(AppError::BadRequest(format!(
            "the e-mail address may be at most {MAX_EMAIL_BYTES} bytes long, the password at most \
             {MAX_PASSWORD_BYTES}"
        )));
    }
    let email = email.to_lowercase();
    let address = client_address(peer.ip(), &headers, &state.config.trusted_proxy);
    // The attempt counts from here, before the password is checked: parallel attempts
    // cannot all slip through a check that is only counted afterwards.
    let attempt = begin_attempt(&state, &email, address)?;
    let found = match state.db.user_by_email(&email).await {
        Ok(found) => found,
        Err(err) => {
            state.throttle.abandoned(attempt);
            return Err(err.into());
        }
    };
    let stored = found
        .as_ref()
        .filter(|(u, _)| !u.disabled)
        .map(|(_, h)| h.clone());
    let ok = match state.hashing.verify(login.password, stored).await {
        Ok(ok) => ok,
        Err(Busy) => {
            state.throttle.abandoned(attempt);
            state.metrics.login_refused("busy");
            return Err(AppError::Busy(BUSY_RETRY_SECS));
        }
    };
    let Some((user, _)) = found.filter(|_| ok) else {
        state.throttle.failed(attempt);
        // One entry per checked failure: the throttle bounds how many there can be (per
        // account about 115 on the first day, 96 a day after).
        audit(&state, None, "login", Some(email), "denied").await?;
        return Err(AppError::InvalidCredentials);
    };
    let second_factor = match state.db.totp_enabled(&user.id).await {
        Ok(enabled) => enabled,
        Err(err) => {
            state.throttle.abandoned(attempt);
            return Err(err.into());
        }
    };
    if second_factor {
        // No session yet: the login page asks for the code (`POST /api/login/totp`).
        state.throttle.first_factor_passed(attempt);
        return super::totp::challenge(&state, &user, login.remember).await;
    }
    state.throttle.succeeded(attempt);
    start_session(&state, jar, user, login.remember).await
}

/// Takes a login attempt's cells from the throttle (for `email`, normalised to lower case,
/// and the client's address), or says how long to wait. Refusals write no audit entry:
/// they changed nothing, and an entry each would let anyone fill the disk. They are
/// counted in the metrics instead.
pub(super) fn begin_attempt(state: &AppState, email: &str, address: IpAddr) -> Result<Attempt, AppError> {
    state
        .throttle
        .begin(email, address)
        .map_err(|refusal| match refusal {
            Refusal::Wait(wait) => {
                state.metrics.login_refused("throttled");
                AppError::TooManyRequests(whole_seconds(wait))
            }
            Refusal::Crowded => {
                state.metrics.login_refused("crowded");
                AppError::Busy(PRUNE_EVERY.as_secs())
            }
        })
}

/// Whether `password` is the password of `user` (asked again of a logged-in user before
/// something that outlives the session); 503 when too many checks run at once.
pub(super) async fn password_again(
    state: &AppState,
    user: &User,
    password: String,
) -> Result<bool, AppError> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Ok(false);
    }
    let stored = state.db.user_by_email(&user.email).await?.map(|(_, hash)| hash);
    state
        .hashing
        .verify(password, stored)
        .await
        .map_err(|Busy| AppError::Busy(BUSY_RETRY_SECS))
}

/// Starts a session for a user who has proved who they are, audits the login and answers
/// with the session cookie and the user.
pub(super) async fn start_session(
    state: &AppState,
    jar: CookieJar,
    user: User,
    remember: bool,
) -> Result<Response, AppError> {
    let jar = open_session(state, jar, &user.id, remember, None).await?;
    let memberships = state.db.memberships(&user.id).await?;
    Ok((jar, Json(LoginResponse { user, memberships })).into_response())
}

/// What the OpenID Connect provider said of a session it started: its session id, if any,
/// and the ID token.
pub(super) struct ProviderSession<'a> {
    /// `sid`, which its back-channel logout names.
    pub sid: Option<&'a str>,
    /// The ID token, its logout endpoint's hint.
    pub id_token: &'a str,
}

/// Starts a session for a user who has proved who they are (by password, or through the
/// provider), audits the login, and gives the jar the session cookie.
pub(super) async fn open_session(
    state: &AppState,
    jar: CookieJar,
    user: &UserId,
    remember: bool,
    provider: Option<ProviderSession<'_>>,
) -> Result<CookieJar, AppError> {
    // A new session id at every login (no fixation); the old one, if any, ends.
    if let Some(old) = jar.get(SESSION_COOKIE) {
        state.db.delete_session(old.value()).await?;
    }
    let ttl = state.config.session_ttl_ms();
    let (secret, audited) = match provider {
        None => {
            let secret = state.db.create_session(user, ttl).await?;
            (
                secret,
                audit(state, Some(user.to_string()), "login", None, "ok").await,
            )
        }
        Some(from) => {
            let secret = state
                .db
                .create_provider_session(user, ttl, from.sid, from.id_token)
                .await?;
            let audited = audit_with(state, user, "login", user.to_string(), "through the provider").await;
            (secret, audited)
        }
    };
    if let Err(err) = audited {
        // No cookie goes out, so the login does not pass; the session would only linger
        // until it expires (and most likely the database refuses this too: best effort).
        let _ = state.db.delete_session(&secret).await;
        return Err(err);
    }
    Ok(jar.add(session_cookie(state, secret, remember)))
}

/// The cookie that carries a new session's secret id.
fn session_cookie(state: &AppState, secret: String, remember: bool) -> Cookie<'static> {
    let cookie = Cookie::build((SESSION_COOKIE, secret))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.config.secure_cookies())
        .path("/");
    // Without `Max-Age` the browser forgets the cookie when it closes: on a shared computer
    // the next person does not find the session open.
    if remember {
        cookie.max_age(time::Duration::milliseconds(state.config.session_ttl_ms()))
    } else {
        cookie
    }
    .build()
}

/// A wait in whole seconds, rounded up and at least one (what `Retry-After` can say).
fn whole_seconds(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

/// `POST /api/logout` after a login through the provider.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderLogout {
    /// Where to send the browser so that the provider's session ends too (its RP-initiated
    /// logout); it comes back to the login page.
    pub provider_logout: String,
}

/// Ends the current session and clears its cookie.
#[utoipa::path(
    post,
    path = "/api/logout",
    tag = "account",
    responses(
        (status = 200, description = "Logged out of a session the OpenID Connect provider \
            started; the cookie is cleared, and the provider's session ends at the address \
            given.", body = ProviderLogout),
        (status = 204, description = "Logged out; the cookie is cleared."),
        Unauthenticated,
        Forbidden,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    auth: Authenticated,
    jar: CookieJar,
) -> Result<Response, AppError> {
    let mut provider_logout = None;
    if let Via::Session(secret) = &auth.via {
        let id_token = state.db.session_id_token(secret).await?;
        state.db.delete_session(secret).await?;
        // The session's open documents and event streams close now, not at the next round.
        state.watch.recheck_soon();
        if let (Some(id_token), Some(oidc)) = (id_token, &state.oidc) {
            let back = format!("{}/login?afgemeld=1", super::oidc::origin(&state, &headers));
            provider_logout = oidc.logout_url(&id_token, &back).await;
        }
    }
    audit(&state, Some(auth.user.id.to_string()), "logout", None, "ok").await?;
    let jar = jar.remove(Cookie::build(SESSION_COOKIE).path("/"));
    Ok(match provider_logout {
        Some(provider_logout) => (jar, Json(ProviderLogout { provider_logout })).into_response(),
        None => (jar, StatusCode::NO_CONTENT).into_response(),
    })
}

/// `GET /api/me`: the current user.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeResponse {
    /// The user.
    pub user: User,
    /// Their roles.
    pub memberships: Vec<Membership>,
    /// Whether the server runs in demo mode.
    pub demo: bool,
    /// Their presence colour (CSS hex), the same on every screen.
    #[schema(example = "#1f77b4")]
    pub color: &'static str,
    /// Whether they have a password here (not someone only the provider logs in).
    pub password: bool,
}

/// The current user and their memberships.
#[utoipa::path(
    get,
    path = "/api/me",
    tag = "account",
    responses(
        (status = 200, description = "The current user.", body = MeResponse),
        Unauthenticated,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn me(State(state): State<AppState>, auth: Authenticated) -> Result<Json<MeResponse>, AppError> {
    let memberships = state.db.memberships(&auth.user.id).await?;
    let color = crate::colors::color_of(&auth.user.id);
    let password = state.db.has_password(&auth.user.id).await?;
    Ok(Json(MeResponse {
        user: auth.user,
        memberships,
        demo: state.config.demo,
        color,
        password,
    }))
}

/// A demo account shown on the login page.
#[derive(Debug, Serialize, ToSchema)]
pub struct DemoUser {
    /// Its e-mail address.
    pub email: &'static str,
    /// Its name.
    pub name: &'static str,
}

/// `GET /api/config`: what the app needs before anyone logs in.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConfigResponse {
    /// Whether the server runs in demo mode.
    pub demo: bool,
    /// The demo accounts (empty unless `demo`).
    pub demo_users: Vec<DemoUser>,
    /// The demo accounts' password (`null` unless `demo`).
    #[schema(required = true)]
    pub demo_password: Option<&'static str>,
    /// Whether the login page asks for an e-mail address and a password.
    pub password_login: bool,
    /// The OpenID Connect provider people may log in through (`null` if none).
    #[schema(required = true)]
    pub provider: Option<ProviderLogin>,
}

/// The login through an OpenID Connect provider, as the login page offers it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderLogin {
    /// The provider's name as people know it (e.g. "de Vlaamse overheid").
    pub label: String,
    /// Where the login starts (add `return_to` and `remember`).
    pub start: &'static str,
}

/// What the app needs to know before anyone logs in: whether this is a demo, and then the
/// demo accounts to show on the login page.
#[utoipa::path(
    get,
    path = "/api/config",
    tag = "account",
    responses((status = 200, description = "Demo mode and the demo accounts.", body = ConfigResponse)),
)]
pub async fn config(State(state): State<AppState>) -> Json<ConfigResponse> {
    let demo_users = if state.config.demo {
        crate::demo::USERS
            .iter()
            .filter(|(_, _, role, _)| *role != "admin")
            .map(|&(email, name, _, _)| DemoUser { email, name })
            .collect()
    } else {
        Vec::new()
    };
    Json(ConfigResponse {
        demo: state.config.demo,
        demo_users,
        demo_password: state.config.demo.then_some(crate::demo::PASSWORD),
        password_login: state.config.password_login,
        provider: state.oidc.as_ref().map(|oidc| ProviderLogin {
            label: oidc.label.clone(),
            start: "/api/auth/oidc/start",
        }),
    })
}

/// `POST /api/tokens` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewToken {
    /// 1 to 100 characters, to recognise it by.
    name: String,
    /// The user's password again: a token outlives the session that makes it.
    password: String,
    /// `read` or `read_write` (default).
    #[serde(default)]
    scope: TokenScope,
    /// Days until it stops working: 1 to 365, default 90.
    #[serde(default)]
    expires_in_days: Option<u32>,
    /// The institution number of the one school it may reach (one of the user's); leave
    /// out for every school the user may reach.
    #[serde(default)]
    school: Option<String>,
}

/// How long a token lives unless its maker says otherwise.
pub const TOKEN_DAYS: u32 = 90;

/// `POST /api/tokens`: the new token, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedToken {
    /// Its id (for revoking).
    #[schema(value_type = String, format = "uuid")]
    pub id: TokenId,
    /// Its name.
    pub name: String,
    /// The token itself (`samen_` + 64 hex digits), for `Authorization: Bearer`.
    pub token: String,
}

/// Makes an API token for the current user; the token is in this response only.
#[utoipa::path(
    post,
    path = "/api/tokens",
    tag = "account",
    request_body = NewToken,
    responses(
        (status = 201, description = "The new token; it is never shown again.", body = CreatedToken),
        (status = 400, description = "Bad JSON, a name that is not 1 to 100 characters, an expiry \
            outside 1 to 365 days, or a school the user cannot reach (`bad_request`).", body = ErrorBody),
        (status = 401, description = "Not logged in, or the password is wrong (`unauthenticated`, \
            `invalid_credentials`).", body = ErrorBody),
        (status = 403, description = "Not from a browser session (a token cannot make tokens), or not \
            from the app itself (`forbidden`).", body = ErrorBody),
        Throttled,
        TooBusy,
    ),
    // A session only: a token cannot make tokens (403).
    security(("session" = [])),
)]
pub async fn create_token(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    auth: Authenticated,
    body: Result<JsonObject<NewToken>, AppError>,
) -> Result<impl IntoResponse, AppError> {
    // A token made with a token would let a stolen token renew itself for ever.
    if !matches!(auth.via, Via::Session(_)) {
        return Err(AppError::Forbidden(
            "API tokens are made from a logged-in session in the app, not with another token.".into(),
        ));
    }
    let JsonObject(body) = body?;
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::BadRequest("name must be 1 to 100 characters".into()));
    }
    let days = body.expires_in_days.unwrap_or(TOKEN_DAYS);
    if !(1..=365).contains(&days) {
        return Err(AppError::BadRequest("expires_in_days must be 1 to 365".into()));
    }
    let school = match &body.school {
        None => None,
        Some(number) => {
            let school = state.db.institution(number).await?;
            let reachable = match &school {
                Some(s) => state.db.school_access(&auth.user.id, s.id).await?.is_some(),
                None => false,
            };
            match school {
                Some(s) if reachable => Some(s.id),
                _ => {
                    return Err(AppError::BadRequest(format!(
                        "school {number} is not one of yours; leave it out or name one of your schools"
                    )));
                }
            }
        }
    };
    // The password again: a session left open on a shared computer must not be enough.
    // Counted by the login throttle, so a stolen session cannot guess the password here.
    let address = client_address(peer.ip(), &headers, &state.config.trusted_proxy);
    super::totp::proves(&state, &auth.user, address, "token.create", body.password, None).await?;
    let new = crate::db::NewToken {
        name,
        lifetime_ms: i64::from(days) * 24 * 60 * 60 * 1000,
        scope: body.scope,
        school,
    };
    let (id, token) = state.db.create_token(&auth.user.id, &new).await?;
    audit(
        &state,
        Some(auth.user.id.to_string()),
        "token.create",
        Some(id.to_string()),
        "ok",
    )
    .await?;
    let name = name.to_owned();
    Ok((StatusCode::CREATED, Json(CreatedToken { id, name, token })))
}

/// `GET /api/tokens`: the current user's tokens.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenList {
    /// Newest first; never the tokens themselves.
    pub tokens: Vec<TokenInfo>,
}

/// The current user's tokens (never the tokens themselves).
#[utoipa::path(
    get,
    path = "/api/tokens",
    tag = "account",
    responses(
        (status = 200, description = "The current user's tokens.", body = TokenList),
        Unauthenticated,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn list_tokens(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<TokenList>, AppError> {
    let tokens = state.db.tokens(&auth.user.id).await?;
    Ok(Json(TokenList { tokens }))
}

/// Revokes one of the current user's tokens.
#[utoipa::path(
    delete,
    path = "/api/tokens/{id}",
    tag = "account",
    params(("id" = String, Path, description = "The token's id (from `GET /api/tokens`).")),
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
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    if !state.db.revoke_token(&auth.user.id, found(&id)?).await? {
        return Err(AppError::NotFound);
    }
    state.watch.recheck_soon();
    audit(
        &state,
        Some(auth.user.id.to_string()),
        "token.revoke",
        Some(id),
        "ok",
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

//! Two-step verification (tweestapsverificatie) with TOTP: setting it up and turning it off
//! from the account page, and the second step of a password login.
//!
//! A login of an account with TOTP gets no session for its password alone: it gets a
//! short-lived pending id (a login challenge) that only `POST /api/login/totp` takes, with a
//! code from the authenticator app or a one-time recovery code. Every code checked at a
//! login, and every password or code checked to set TOTP up or turn it off, counts against
//! the login throttle like a password; every outcome is audited. Codes and secrets are
//! never logged.

use std::net::{IpAddr, SocketAddr};

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::account::{begin_attempt, password_again, start_session};
use super::audit::audit;
use super::body::JsonObject;
use super::client_address::client_address;
use crate::auth::secret::hash_secret;
use crate::auth::totp::{self, Answer};
use crate::auth::{Authenticated, Via};
use crate::db::{DbError, User};
use crate::error::{AppError, ErrorBody, Throttled, TooBusy, Unauthenticated};
use crate::ids::UserId;
use crate::state::AppState;

/// How long a login waits for its code.
pub const CHALLENGE_SECS: i64 = 5 * 60;
/// Wrong codes a waiting login takes before the password is asked again.
pub const CHALLENGE_FAILURES: i64 = 5;
/// The longest code or recovery code read, in characters (with spaces and hyphens). In
/// characters, as the OpenAPI document's `maxLength` counts them.
const MAX_CODE_CHARS: usize = 64;
/// The longest pending id read, in characters (a real one has 64).
const MAX_PENDING_CHARS: usize = 128;

/// `POST /api/login` (202): the password was right; now the code.
#[derive(Debug, Serialize, ToSchema)]
pub struct SecondFactorNeeded {
    /// What to send next: `totp` (a code from the authenticator app, or a recovery code).
    #[schema(example = "totp")]
    pub second_factor: &'static str,
    /// The id of this waiting login, for `POST /api/login/totp` only. It is no session.
    pub pending: String,
    /// Seconds it waits for the code.
    pub expires_in_secs: i64,
}

/// Answers a right password of an account with TOTP: a login that waits for its code.
pub(super) async fn challenge(state: &AppState, user: &User, remember: bool) -> Result<Response, AppError> {
    let pending = state
        .db
        .create_login_challenge(&user.id, remember, CHALLENGE_SECS * 1000)
        .await?;
    let actor = Some(user.id.to_string());
    if let Err(err) = audit(state, actor, "login.password", None, "ok").await {
        // Best effort, as for a session: the id never reaches the client anyway.
        let _ = state.db.delete_login_challenge(&hash_secret(&pending)).await;
        return Err(err);
    }
    let answer = SecondFactorNeeded {
        second_factor: "totp",
        pending,
        expires_in_secs: CHALLENGE_SECS,
    };
    Ok((StatusCode::ACCEPTED, Json(answer)).into_response())
}

/// `POST /api/login/totp` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginCode {
    /// `pending` from `POST /api/login`'s 202 answer.
    #[schema(max_length = 128)]
    pending: String,
    /// The six-digit code the authenticator app shows now, or one of the recovery codes
    /// (spaces and hyphens do not matter).
    #[schema(example = "123456", max_length = 64)]
    code: String,
}

/// The second step of a login with two-step verification: the code (or a recovery code)
/// for a login whose password was right. Throttled and audited like a password; a code is
/// accepted once only.
#[utoipa::path(
    post,
    path = "/api/login/totp",
    tag = "account",
    request_body = LoginCode,
    responses(
        (status = 200, description = "Logged in; the response sets the `samen_session` cookie, as \
            `POST /api/login` does.", body = super::account::LoginResponse),
        (status = 400, description = "The body is not `{pending, code}`, or a field is far too long (`bad_request`).",
            body = ErrorBody),
        (status = 401, description = "The code is wrong or was used already (`invalid_code`: try the next one); \
            or the login waited longer than its 5 minutes or had 5 wrong codes (`login_expired`: log in again \
            with the password).", body = ErrorBody),
        Throttled,
        TooBusy,
    ),
)]
pub async fn login_code(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    body: Result<JsonObject<LoginCode>, AppError>,
) -> Result<Response, AppError> {
    let JsonObject(body) = body?;
    if body.pending.chars().count() > MAX_PENDING_CHARS || body.code.chars().count() > MAX_CODE_CHARS {
        state.metrics.login_refused("too_long");
        return Err(AppError::BadRequest(format!(
            "the code may be at most {MAX_CODE_CHARS} characters long, the pending id at most \
             {MAX_PENDING_CHARS}"
        )));
    }
    // 256 random bits: guessing a pending id is hopeless, so unknown ones are not counted.
    let pending = hash_secret(&body.pending);
    let Some(challenge) = state.db.login_challenge(&pending).await? else {
        return Err(AppError::LoginExpired);
    };
    let user = challenge.user;
    let address = client_address(peer.ip(), &headers, &state.config.trusted_proxy);
    // The same account key as the password's (`login` lowercases what people type).
    let attempt = begin_attempt(&state, &user.email.to_lowercase(), address)?;
    let used = match check_answer(&state, &user.id, &body.code).await {
        Ok(used) => used,
        Err(err) => {
            state.throttle.abandoned(attempt);
            return Err(err);
        }
    };
    let Some(used) = used else {
        state.throttle.failed(attempt);
        let alive = state
            .db
            .login_challenge_failed(&pending, CHALLENGE_FAILURES)
            .await?;
        // One entry per checked failure, bounded by the throttle as wrong passwords are.
        audit(&state, Some(user.id.to_string()), "login.totp", None, "denied").await?;
        return Err(if alive {
            AppError::InvalidCode
        } else {
            AppError::LoginExpired
        });
    };
    state.throttle.succeeded(attempt);
    if !state.db.delete_login_challenge(&pending).await? {
        // Another request answered this login a moment ago and has its session.
        return Err(AppError::LoginExpired);
    }
    if used == Used::Recovery {
        let actor = Some(user.id.to_string());
        audit(&state, actor, "login.recovery_code", None, "ok").await?;
    }
    start_session(&state, jar, user, challenge.remember).await
}

/// Which kind of second factor was accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Used {
    /// A code from the app.
    Code,
    /// A recovery code (now used up).
    Recovery,
}

/// Checks a code or recovery code against a user's confirmed TOTP and uses it up: `None`
/// when it is wrong, not theirs, or used already (also by a request racing this one).
async fn check_answer(state: &AppState, user: &UserId, text: &str) -> Result<Option<Used>, AppError> {
    match Answer::parse(text) {
        None => Ok(None),
        Some(Answer::Code(code)) => {
            let Some(stored) = state.db.totp(user).await?.filter(|t| t.confirmed_at.is_some()) else {
                return Ok(None);
            };
            let Some(step) = totp::matching_step(&stored.secret, code, crate::db::now(), stored.last_step)
            else {
                return Ok(None);
            };
            Ok(state.db.use_totp_step(user, step).await?.then_some(Used::Code))
        }
        Some(Answer::Recovery(plain)) => Ok(state
            .db
            .use_recovery_code(user, &totp::recovery_hash(&plain))
            .await?
            .then_some(Used::Recovery)),
    }
}

/// `GET /api/account/totp`: whether two-step verification is on.
#[derive(Debug, Serialize, ToSchema)]
pub struct TotpStatus {
    /// Whether logins ask for a code.
    pub enabled: bool,
    /// Since when (ms since the epoch), `null` when off.
    #[schema(required = true)]
    pub enabled_at: Option<i64>,
    /// Recovery codes not used yet (0 when off).
    pub recovery_codes_left: i64,
}

/// Whether the current user's logins ask for a code, and how many recovery codes are left.
#[utoipa::path(
    get,
    path = "/api/account/totp",
    tag = "account",
    responses(
        (status = 200, description = "The current user's two-step verification.", body = TotpStatus),
        Unauthenticated,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn status(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<TotpStatus>, AppError> {
    let enabled_at = state.db.totp(&auth.user.id).await?.and_then(|t| t.confirmed_at);
    let recovery_codes_left = match enabled_at {
        Some(_) => state.db.recovery_codes_left(&auth.user.id).await?,
        None => 0,
    };
    Ok(Json(TotpStatus {
        enabled: enabled_at.is_some(),
        enabled_at,
        recovery_codes_left,
    }))
}

/// `POST /api/account/totp/setup` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TotpSetupRequest {
    /// The user's password again: a session left open on a shared computer is not enough.
    password: String,
}

/// `POST /api/account/totp/setup`: the new secret, for the authenticator app.
#[derive(Debug, Serialize, ToSchema)]
pub struct TotpSetup {
    /// The secret in base32 (RFC 4648, no padding), for typing into an app.
    #[schema(example = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")]
    pub secret: String,
    /// The same as an `otpauth://totp/...` URI, for a QR code.
    pub otpauth_uri: String,
    /// Digits of a code (6).
    pub digits: u32,
    /// Seconds a code lasts (30).
    pub period_secs: i64,
}

/// Starts setting up two-step verification: a new secret, which takes effect only when a
/// code from it is confirmed (`POST /api/account/totp/confirm`). Starting again replaces an
/// unconfirmed secret.
#[utoipa::path(
    post,
    path = "/api/account/totp/setup",
    tag = "account",
    request_body = TotpSetupRequest,
    responses(
        (status = 200, description = "The new secret; logins ask for codes only once it is confirmed.",
            body = TotpSetup),
        (status = 400, description = "The body is not `{password}` (`bad_request`).", body = ErrorBody),
        (status = 401, description = "Not logged in, or the password is wrong (`unauthenticated`, \
            `invalid_credentials`).", body = ErrorBody),
        (status = 403, description = "Not from a browser session in the app (`forbidden`).", body = ErrorBody),
        (status = 409, description = "Two-step verification is on already; turn it off first (`conflict`).",
            body = ErrorBody),
        Throttled,
        TooBusy,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn setup(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    auth: Authenticated,
    body: Result<JsonObject<TotpSetupRequest>, AppError>,
) -> Result<Json<TotpSetup>, AppError> {
    session_only(&auth)?;
    let JsonObject(body) = body?;
    if state.db.totp_enabled(&auth.user.id).await? {
        return Err(already_on());
    }
    let address = client_address(peer.ip(), &headers, &state.config.trusted_proxy);
    proves(&state, &auth.user, address, "totp.setup", body.password, None).await?;
    let secret = totp::new_secret();
    match state.db.begin_totp(&auth.user.id, &secret).await {
        Err(DbError::Conflict(_)) => return Err(already_on()),
        other => other?,
    }
    audit(&state, Some(auth.user.id.to_string()), "totp.setup", None, "ok").await?;
    Ok(Json(TotpSetup {
        secret: totp::base32(&secret),
        otpauth_uri: totp::otpauth_uri(&secret, &auth.user.email),
        digits: totp::DIGITS,
        period_secs: totp::STEP_SECS,
    }))
}

/// `POST /api/account/totp/confirm` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TotpConfirm {
    /// The six-digit code the app shows now for the new secret.
    #[schema(example = "123456", max_length = 64)]
    code: String,
}

/// `POST /api/account/totp/confirm`: two-step verification is on; the recovery codes.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecoveryCodes {
    /// One-time codes for logging in without the app (`abcd-efgh-jkmn`); shown this once
    /// and stored hashed.
    pub recovery_codes: Vec<String>,
}

/// Turns two-step verification on with a code from the new secret, which proves the app
/// has it; answers the recovery codes, which are never shown again.
#[utoipa::path(
    post,
    path = "/api/account/totp/confirm",
    tag = "account",
    request_body = TotpConfirm,
    responses(
        (status = 200, description = "On: logins ask for a code from now on. The recovery codes, shown once.",
            body = RecoveryCodes),
        (status = 400, description = "The body is not `{code}` (`bad_request`).", body = ErrorBody),
        (status = 401, description = "Not logged in, or the code is not the app's current one \
            (`unauthenticated`, `invalid_code`).", body = ErrorBody),
        (status = 403, description = "Not from a browser session in the app (`forbidden`).", body = ErrorBody),
        (status = 409, description = "Nothing to confirm: set it up first, or it is on already (`conflict`).",
            body = ErrorBody),
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn confirm(
    State(state): State<AppState>,
    auth: Authenticated,
    body: Result<JsonObject<TotpConfirm>, AppError>,
) -> Result<Json<RecoveryCodes>, AppError> {
    session_only(&auth)?;
    let JsonObject(body) = body?;
    let Some(stored) = state
        .db
        .totp(&auth.user.id)
        .await?
        .filter(|t| t.confirmed_at.is_none())
    else {
        return Err(AppError::Conflict(
            "There is no two-step verification waiting to be confirmed: start setting it up first \
             (or it is on already)."
                .into(),
        ));
    };
    // Not throttled: the caller was shown this secret a moment ago, so a code guessed here
    // proves nothing they do not know; a miss only means the app has not got it right yet.
    let step = match Answer::parse(&body.code) {
        Some(Answer::Code(code)) => totp::matching_step(&stored.secret, code, crate::db::now(), None),
        _ => None,
    };
    let actor = Some(auth.user.id.to_string());
    let Some(step) = step else {
        audit(&state, actor, "totp.enable", None, "denied").await?;
        return Err(AppError::InvalidCode);
    };
    let codes = totp::new_recovery_codes();
    let hashes: Vec<String> = codes
        .iter()
        .filter_map(|code| match Answer::parse(code) {
            Some(Answer::Recovery(plain)) => Some(totp::recovery_hash(&plain)),
            _ => None,
        })
        .collect();
    if !state.db.confirm_totp(&auth.user.id, step, &hashes).await? {
        return Err(AppError::Conflict(
            "Two-step verification changed meanwhile (in another tab?); reload the page.".into(),
        ));
    }
    audit(&state, actor, "totp.enable", None, "ok").await?;
    // A session someone else opened with the password alone (on a shared computer, or a
    // stolen one) ends now: from here on a login needs the code. This one stays.
    if let Via::Session(current) = &auth.via {
        state.db.delete_other_sessions(&auth.user.id, current).await?;
        state.watch.recheck_soon();
    }
    Ok(Json(RecoveryCodes {
        recovery_codes: codes,
    }))
}

/// `POST /api/account/totp/disable` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TotpDisable {
    /// The user's password.
    password: String,
    /// A current code from the app, or one of the recovery codes.
    #[schema(example = "123456", max_length = 64)]
    code: String,
}

/// Turns two-step verification off, with the password and a current code (or a recovery
/// code); the recovery codes stop working.
#[utoipa::path(
    post,
    path = "/api/account/totp/disable",
    tag = "account",
    request_body = TotpDisable,
    responses(
        (status = 204, description = "Off: logins ask for the password alone."),
        (status = 400, description = "The body is not `{password, code}` (`bad_request`).", body = ErrorBody),
        (status = 401, description = "Not logged in, the password is wrong, or the code is wrong or used \
            already (`unauthenticated`, `invalid_credentials`, `invalid_code`).", body = ErrorBody),
        (status = 403, description = "Not from a browser session in the app (`forbidden`).", body = ErrorBody),
        (status = 409, description = "Two-step verification is not on (`conflict`).", body = ErrorBody),
        Throttled,
        TooBusy,
    ),
    security(("session" = []), ("token" = [])),
)]
pub async fn disable(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    auth: Authenticated,
    body: Result<JsonObject<TotpDisable>, AppError>,
) -> Result<StatusCode, AppError> {
    session_only(&auth)?;
    let JsonObject(body) = body?;
    if !state.db.totp_enabled(&auth.user.id).await? {
        return Err(AppError::Conflict("Two-step verification is not on.".into()));
    }
    let address = client_address(peer.ip(), &headers, &state.config.trusted_proxy);
    let code = Some(body.code.as_str());
    proves(&state, &auth.user, address, "totp.disable", body.password, code).await?;
    state.db.remove_totp(&auth.user.id).await?;
    audit(&state, Some(auth.user.id.to_string()), "totp.disable", None, "ok").await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Setting up or turning off a second factor outlives the session: only a browser session
/// may (a token cannot, as it cannot make tokens).
fn session_only(auth: &Authenticated) -> Result<(), AppError> {
    match auth.via {
        Via::Session(_) => Ok(()),
        Via::Token => Err(AppError::Forbidden(
            "Two-step verification is set up from a logged-in session in the app, not with an API token."
                .into(),
        )),
    }
}

fn already_on() -> AppError {
    AppError::Conflict("Two-step verification is on already; turn it off first to set it up anew.".into())
}

/// Checks that a logged-in user proves it is them: their password, and when `code` is
/// given a current code or recovery code too (used up if right). Counted by the login
/// throttle like a login; a failure is audited as `action`, `denied`.
pub(super) async fn proves(
    state: &AppState,
    user: &User,
    address: IpAddr,
    action: &'static str,
    password: String,
    code: Option<&str>,
) -> Result<(), AppError> {
    if code.is_some_and(|c| c.chars().count() > MAX_CODE_CHARS) {
        return Err(AppError::BadRequest(format!(
            "the code may be at most {MAX_CODE_CHARS} characters long"
        )));
    }
    let attempt = begin_attempt(state, &user.email.to_lowercase(), address)?;
    match refusal(state, user, password, code).await {
        Err(err) => {
            state.throttle.abandoned(attempt);
            Err(err)
        }
        Ok(Some(refusal)) => {
            state.throttle.failed(attempt);
            audit(state, Some(user.id.to_string()), action, None, "denied").await?;
            Err(refusal)
        }
        Ok(None) => {
            state.throttle.succeeded(attempt);
            Ok(())
        }
    }
}

/// What is wrong with the proof of [`proves`], if anything.
async fn refusal(
    state: &AppState,
    user: &User,
    password: String,
    code: Option<&str>,
) -> Result<Option<AppError>, AppError> {
    if !password_again(state, user, password).await? {
        return Ok(Some(AppError::InvalidCredentials));
    }
    Ok(match code {
        Some(code) if check_answer(state, &user.id, code).await?.is_none() => Some(AppError::InvalidCode),
        _ => None,
    })
}

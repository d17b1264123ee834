//! Logging in through the OpenID Connect provider (`/api/auth/oidc/*`): the browser is sent
//! there, comes back with a code, and leaves with a Samen session whose roles the provider's
//! claims decide. Failures go back to the login page with a reason it explains.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use serde::Deserialize;

use super::account::{ProviderSession, open_session};
use super::audit::{audit, audit_with};
use crate::auth::oidc::{self, Oidc, OidcError};
use crate::db::{AuditEntry, now};
use crate::error::AppError;
use crate::state::AppState;

/// The cookie that holds a login on its way through the provider.
const PENDING_COOKIE: &str = "samen_oidc";
/// The path of the provider's endpoints here (the pending cookie is sent to these only).
const PATH: &str = "/api/auth/oidc";

/// Why a login through the provider did not succeed, as the login page names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    /// The login took too long, was started in another browser, or its state was changed.
    Expired,
    /// The person cancelled at the provider, or the provider refused.
    Refused,
    /// The provider cannot be reached.
    Unreachable,
    /// The provider refused the code (used twice, or expired).
    Code,
    /// The ID token failed a check.
    Token,
    /// A claim Samen needs is missing.
    Claims,
    /// The person has no role for the dossier.
    NoRole,
    /// The Samen account is disabled.
    Disabled,
}

impl Failure {
    fn code(self) -> &'static str {
        match self {
            Failure::Expired => "verlopen",
            Failure::Refused => "geweigerd",
            Failure::Unreachable => "onbereikbaar",
            Failure::Code => "code",
            Failure::Token => "token",
            Failure::Claims => "gegevens",
            Failure::NoRole => "geen-rol",
            Failure::Disabled => "uitgeschakeld",
        }
    }
}

impl From<&OidcError> for Failure {
    fn from(err: &OidcError) -> Failure {
        match err {
            OidcError::Unreachable(_) => Failure::Unreachable,
            OidcError::CodeRefused(_) => Failure::Code,
            OidcError::InvalidToken(_) => Failure::Token,
        }
    }
}

/// Back to the login page with the reason (and the claim, when one was missing).
fn to_login(failure: Failure, claim: Option<&str>) -> Response {
    let mut url = format!("/login?oidc={}", failure.code());
    if let Some(claim) = claim {
        url.push_str("&claim=");
        url.extend(percent_encoding::utf8_percent_encode(
            claim,
            percent_encoding::NON_ALPHANUMERIC,
        ));
    }
    Redirect::to(&url).into_response()
}

fn provider(state: &AppState) -> Result<&Oidc, AppError> {
    state.oidc.as_deref().ok_or(AppError::NotFound)
}

/// This app's origin as the browser knows it: the public origin, else the request's Host
/// (which the host guard has already checked against the allowed names).
pub(super) fn origin(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(origin) = &state.config.public_origin {
        return origin.trim_end_matches('/').to_owned();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map_or_else(|| state.config.addr.to_string(), str::to_owned);
    let scheme = if state.config.secure_cookies() {
        "https"
    } else {
        "http"
    };
    format!("{scheme}://{host}")
}

/// A path of this app to return to after the login; anything else (another site, a
/// scheme-relative URL) becomes the start page.
fn app_path(return_to: Option<&str>) -> String {
    match return_to {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.starts_with("/\\")
                && !path.starts_with("/api/")
                && !path.starts_with("/login")
                && path.len() <= 2048
                && !path.chars().any(char::is_control) =>
        {
            path.to_owned()
        }
        _ => "/".to_owned(),
    }
}

/// `GET /api/auth/oidc/start` query.
#[derive(Debug, Deserialize)]
pub struct StartQuery {
    /// The app path to show after the login.
    return_to: Option<String>,
    /// "Stay logged in on this device".
    #[serde(default)]
    remember: bool,
}

/// Sends the browser to the provider, with a signed cookie of what the callback checks.
pub async fn start(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    Query(query): Query<StartQuery>,
) -> Result<Response, AppError> {
    let oidc = provider(&state)?;
    let redirect_url = oidc.redirect_url().map_or_else(
        || format!("{}{PATH}/callback", origin(&state, &headers)),
        str::to_owned,
    );
    let begun = oidc
        .begin(
            redirect_url,
            app_path(query.return_to.as_deref()),
            query.remember,
            now(),
        )
        .await;
    let (url, pending) = match begun {
        Ok(begun) => begun,
        Err(err) => {
            tracing::warn!(error = %err, "cannot start a login through the provider");
            return Ok(to_login(Failure::from(&err), None));
        }
    };
    let cookie = Cookie::build((PENDING_COOKIE, oidc.signer.seal(&pending)))
        .http_only(true)
        // Lax: the provider's redirect back is a top-level GET from another site.
        .same_site(SameSite::Lax)
        .secure(state.config.secure_cookies())
        .path(PATH)
        .max_age(time::Duration::milliseconds(oidc::PENDING_MS))
        .build();
    Ok((jar.add(cookie), Redirect::to(&url)).into_response())
}

/// `GET /api/auth/oidc/callback` query: what the provider sends back.
#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// Finishes a login: checks the state, trades the code, checks the ID token, finds or
/// makes the user, replaces the roles the provider grants, and starts a session.
pub async fn callback(
    State(state): State<AppState>,
    jar: CookieJar,
    Query(query): Query<CallbackQuery>,
) -> Result<Response, AppError> {
    let oidc = provider(&state)?;
    let pending = jar
        .get(PENDING_COOKIE)
        .and_then(|c| oidc.signer.open(c.value(), now()));
    // Whatever happens next, this login's cookie is used up.
    let jar = jar.remove(Cookie::build(PENDING_COOKIE).path(PATH));
    let Some(pending) = pending.filter(|p| query.state.as_deref() == Some(p.state.as_str())) else {
        tracing::info!("a provider login came back with no, an expired or another state");
        return Ok((jar, to_login(Failure::Expired, None)).into_response());
    };
    if let Some(error) = &query.error {
        tracing::info!(error = %error.chars().take(64).collect::<String>(), "the provider did not log the person in");
        return Ok((jar, to_login(Failure::Refused, None)).into_response());
    }
    let Some(code) = query.code else {
        return Ok((jar, to_login(Failure::Expired, None)).into_response());
    };
    let verified = match oidc.finish(&pending, code).await {
        Ok(verified) => verified,
        Err(err) => {
            tracing::warn!(error = %err, "a login through the provider was refused");
            // Audited only when the provider did issue tokens: a made-up code costs the
            // caller a round trip, and should not cost the audit log an entry.
            if matches!(err, OidcError::InvalidToken(_)) {
                refused(&state, None, &err.to_string()).await?;
            }
            return Ok((jar, to_login(Failure::from(&err), None)).into_response());
        }
    };
    let person = match oidc::claims::read(&verified.claims, &oidc.mapping) {
        Ok(person) => person,
        Err(missing) => {
            tracing::warn!(claim = %missing.0, "a provider login lacks a claim");
            refused(&state, None, &missing.to_string()).await?;
            return Ok((jar, to_login(Failure::Claims, Some(&missing.0))).into_response());
        }
    };
    let found = state.db.provider_user(oidc.issuer(), &person).await?;
    let user = found.user;
    let actor = Some(user.id.to_string());
    if found.created {
        audit_with(
            &state,
            &user.id,
            "user.create",
            user.id.to_string(),
            "just in time, at the first login through the provider",
        )
        .await?;
    } else if found.linked {
        audit_with(
            &state,
            &user.id,
            "user.link",
            user.id.to_string(),
            "linked to the provider's subject by e-mail address",
        )
        .await?;
    }
    if user.disabled {
        refused(&state, actor, "the account is disabled").await?;
        return Ok((jar, to_login(Failure::Disabled, None)).into_response());
    }
    for ignored in &person.ignored {
        tracing::info!(user = %user.id, role = %ignored, "a role claim grants nothing");
    }
    let changes = state.db.replace_provider_roles(&user.id, &person.grants).await?;
    if !changes.unknown.is_empty() {
        tracing::warn!(user = %user.id, institutions = ?changes.unknown, "the provider names institutions Samen does not have (or of another kind): ignored");
    }
    let granted = changes
        .added
        .iter()
        .map(|g| ("membership.grant", g, "from the provider"));
    let withdrawn =
        (changes.removed.iter()).map(|r| ("membership.revoke", r, "no longer granted by the provider"));
    for (action, (role, number), why) in granted.chain(withdrawn) {
        let detail = format!("{role} on {number}, {why}");
        audit_with(&state, &user.id, action, user.id.to_string(), &detail).await?;
    }
    if !changes.removed.is_empty() {
        // What they had open through a withdrawn role closes now.
        state.watch.recheck_soon();
    }
    if state.db.memberships(&user.id).await?.is_empty() {
        // Everything withdrawn: no session here, and none left elsewhere either.
        state.db.end_sessions(&user.id).await?;
        state.watch.recheck_soon();
        refused(&state, actor, "no role for the dossier").await?;
        return Ok((jar, to_login(Failure::NoRole, None)).into_response());
    }
    let provider = ProviderSession {
        sid: verified.sid.as_deref(),
        id_token: &verified.id_token,
    };
    let jar = open_session(&state, jar, &user.id, pending.remember, Some(provider)).await?;
    Ok((jar, Redirect::to(&pending.return_to)).into_response())
}

/// Audits a refused provider login (its state was ours: one entry per real attempt).
async fn refused(state: &AppState, actor: Option<String>, why: &str) -> Result<(), AppError> {
    let entry = AuditEntry {
        actor,
        action: "login",
        target: None,
        outcome: "denied",
        detail: Some(format!("through the provider: {why}")),
    };
    state.db.audit(entry).await?;
    Ok(())
}

/// `POST /api/auth/oidc/backchannel-logout` form.
#[derive(Debug, Deserialize)]
pub struct BackChannel {
    logout_token: String,
}

/// The provider ends sessions: every Samen session it started that the logout token
/// names ends, and what they had open closes.
pub async fn backchannel_logout(
    State(state): State<AppState>,
    form: Result<Form<BackChannel>, axum::extract::rejection::FormRejection>,
) -> Result<Response, AppError> {
    let oidc = provider(&state)?;
    let Ok(Form(form)) = form else {
        return Ok(logout_refused("a form with logout_token is needed"));
    };
    if form.logout_token.len() > 16 * 1024 {
        return Ok(logout_refused("the logout token is too long"));
    }
    let now_secs = now() / 1000;
    let named = match oidc.check_logout_token(&form.logout_token, now_secs).await {
        Ok(named) => named,
        Err(err) => {
            tracing::warn!(error = %err, "a back-channel logout was refused");
            return Ok(logout_refused("the logout token is not valid"));
        }
    };
    let ended = state
        .db
        .end_provider_sessions(oidc.issuer(), named.subject.as_deref(), named.sid.as_deref())
        .await?;
    state.watch.recheck_soon();
    audit(
        &state,
        None,
        "logout",
        named.subject.map(|s| format!("provider subject {s}")),
        "ok",
    )
    .await?;
    tracing::info!(sessions = ended, "back-channel logout");
    Ok(([(header::CACHE_CONTROL, "no-store")], StatusCode::OK).into_response())
}

/// The spec's answer to a logout token that does not pass: 400 with an OAuth error.
fn logout_refused(why: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(serde_json::json!({ "error": "invalid_request", "error_description": why })),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::app_path;

    #[test]
    fn only_paths_of_this_app_are_returned_to() {
        assert_eq!(app_path(Some("/scholen/100001?zoek=a")), "/scholen/100001?zoek=a");
        for elsewhere in [
            None,
            Some("https://evil.example/"),
            Some("//evil.example/"),
            Some("/\\evil.example"),
            Some("scholen"),
            Some("/api/logout"),
            Some("/login"),
            Some("/a\nSet-Cookie: x"),
        ] {
            assert_eq!(app_path(elsewhere), "/", "{elsewhere:?}");
        }
    }
}

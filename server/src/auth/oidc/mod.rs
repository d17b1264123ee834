//! Login through an OpenID Connect provider: the authorization code flow with PKCE,
//! discovery, the ID token checked (signature, issuer, audience, expiry, nonce) by the
//! `openidconnect` crate, RP-initiated logout and back-channel logout tokens.
//!
//! The HTTP side (cookies, sessions, memberships) is in `http::oidc`; this module only
//! speaks to the provider and checks what it says.

pub mod claims;
mod http_client;
pub mod pending;

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::core::{CoreClient, CoreIdToken, CoreJwsSigningAlgorithm, CoreResponseType};
use openidconnect::{
    AuthenticationFlow, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, JsonWebKey,
    LogoutRequest, Nonce, PkceCodeChallenge, PkceCodeVerifier, PostLogoutRedirectUrl,
    ProviderMetadataWithLogout, RedirectUrl, RequestTokenError, Scope, TokenResponse,
};
use serde_json::{Map, Value};

use crate::config::OidcConfig;
pub use claims::{Kind, Mapping, MissingClaim, Person};
pub use pending::{PENDING_MS, Pending, Signer};

/// How long the discovery document and the provider's keys are used before they are read
/// again (a key the cache does not know makes it read them at once).
const DISCOVERY_TTL: Duration = Duration::from_secs(3600);

/// The back-channel logout event (OpenID Connect Back-Channel Logout 1.0, 2.4).
const LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// How far a logout token's `iat` may be from now.
const LOGOUT_TOKEN_SKEW_SECS: i64 = 5 * 60;

/// Why a login or a logout through the provider failed. The messages are for the log and
/// the audit; none of them holds a token or a code.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// The provider cannot be reached, or its discovery document or keys are unusable.
    #[error("the provider is unreachable or its discovery document is unusable: {0}")]
    Unreachable(String),
    /// The token endpoint refused the code (used before, expired, or not ours).
    #[error("the provider refused the authorization code: {0}")]
    CodeRefused(String),
    /// The ID token or logout token failed a check.
    #[error("the provider's token is not valid: {0}")]
    InvalidToken(String),
}

/// A checked ID token.
#[derive(Debug, Clone)]
pub struct Verified {
    /// Its claims.
    pub claims: Map<String, Value>,
    /// The token itself (the logout endpoint's `id_token_hint`).
    pub id_token: String,
    /// The provider's session id, when it sends one (back-channel logout names it).
    pub sid: Option<String>,
}

/// Whom a checked logout token logs out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedOut {
    /// The subject, when the token names it.
    pub subject: Option<String>,
    /// The provider's session, when the token names it.
    pub sid: Option<String>,
}

/// The configured provider.
pub struct Oidc {
    issuer: IssuerUrl,
    client_id: ClientId,
    client_secret: Option<ClientSecret>,
    scopes: Vec<String>,
    redirect_url: Option<String>,
    /// The provider's name on the login button.
    pub label: String,
    /// How claims become roles.
    pub mapping: Mapping,
    /// Signs the pending-login cookie.
    pub signer: Signer,
    http: http_client::Http,
    discovered: tokio::sync::Mutex<Option<(Instant, Arc<ProviderMetadataWithLogout>)>>,
}

impl Oidc {
    /// The provider of `--oidc-*`, or `None` when no issuer is configured. Discovery waits
    /// for the first login: the server starts while the provider is down.
    pub fn from_config(config: &OidcConfig, signing_key: &str) -> Result<Option<Oidc>, String> {
        let Some(issuer) = config.issuer.as_deref().map(str::trim).filter(|i| !i.is_empty()) else {
            return Ok(None);
        };
        let issuer = IssuerUrl::new(issuer.trim_end_matches('/').to_owned())
            .map_err(|e| format!("--oidc-issuer {issuer:?} is not a URL: {e}"))?;
        let client_id = config
            .client_id
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .ok_or("--oidc-client-id is needed with --oidc-issuer")?;
        if let Some(url) = &config.redirect_url {
            RedirectUrl::new(url.clone())
                .map_err(|e| format!("--oidc-redirect-url {url:?} is not a URL: {e}"))?;
        }
        let scopes = config
            .scopes
            .iter()
            .flat_map(|s| s.split_whitespace())
            .filter(|s| *s != "openid")
            .map(str::to_owned)
            .collect();
        Ok(Some(Oidc {
            issuer,
            client_id: ClientId::new(client_id.to_owned()),
            client_secret: config
                .client_secret
                .as_deref()
                .filter(|s| !s.is_empty())
                .map(|s| ClientSecret::new(s.to_owned())),
            scopes,
            redirect_url: config.redirect_url.clone(),
            label: config.label.clone(),
            mapping: Mapping::from_config(config)?,
            signer: Signer::new(signing_key),
            http: http_client::Http::new().map_err(|e| format!("cannot set up TLS: {e}"))?,
            discovered: tokio::sync::Mutex::new(None),
        }))
    }

    /// The issuer, as the database keys identities by it.
    pub fn issuer(&self) -> &str {
        self.issuer.as_str()
    }

    /// The configured redirect URL, if any (else the handler derives one).
    pub fn redirect_url(&self) -> Option<&str> {
        self.redirect_url.as_deref()
    }

    /// The discovery document and keys: cached, read again after [`DISCOVERY_TTL`] or when
    /// `fresh` asks for it (a key was not found).
    async fn metadata(&self, fresh: bool) -> Result<Arc<ProviderMetadataWithLogout>, OidcError> {
        let mut cached = self.discovered.lock().await;
        if let Some((at, metadata)) = cached.as_ref()
            && !fresh
            && at.elapsed() < DISCOVERY_TTL
        {
            return Ok(metadata.clone());
        }
        let metadata = ProviderMetadataWithLogout::discover_async(self.issuer.clone(), &self.http)
            .await
            .map_err(|e| OidcError::Unreachable(error_chain(&e)))?;
        let metadata = Arc::new(metadata);
        *cached = Some((Instant::now(), metadata.clone()));
        Ok(metadata)
    }

    fn client(
        &self,
        metadata: &ProviderMetadataWithLogout,
        redirect_url: &str,
    ) -> Result<ClientFor, OidcError> {
        let redirect = RedirectUrl::new(redirect_url.to_owned())
            .map_err(|e| OidcError::Unreachable(format!("redirect URL: {e}")))?;
        Ok(CoreClient::from_provider_metadata(
            metadata.clone(),
            self.client_id.clone(),
            self.client_secret.clone(),
        )
        .set_redirect_uri(redirect))
    }

    /// Starts a login: where to send the browser, and what to keep until it comes back.
    pub async fn begin(
        &self,
        redirect_url: String,
        return_to: String,
        remember: bool,
        now_ms: i64,
    ) -> Result<(String, Pending), OidcError> {
        let metadata = self.metadata(false).await?;
        let client = self.client(&metadata, &redirect_url)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for scope in &self.scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = request.url();
        let pending = Pending {
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            verifier: verifier.secret().clone(),
            redirect_url,
            return_to,
            remember,
            expires_at: now_ms + PENDING_MS,
        };
        Ok((url.to_string(), pending))
    }

    /// Finishes a login: trades the code for tokens and checks the ID token.
    pub async fn finish(&self, pending: &Pending, code: String) -> Result<Verified, OidcError> {
        let metadata = self.metadata(false).await?;
        let client = self.client(&metadata, &pending.redirect_url)?;
        let response = client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|e| OidcError::Unreachable(format!("no token endpoint: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.verifier.clone()))
            .request_async(&self.http)
            .await
            .map_err(|e| match e {
                RequestTokenError::ServerResponse(answer) => OidcError::CodeRefused(answer.to_string()),
                other => OidcError::Unreachable(error_chain(&other)),
            })?;
        let id_token = response
            .id_token()
            .ok_or_else(|| OidcError::InvalidToken("the token response has no ID token".into()))?;
        let nonce = Nonce::new(pending.nonce.clone());
        if let Err(err) = id_token.claims(&client.id_token_verifier(), &nonce) {
            // A key the cache does not know yet: the provider rolled its keys. Once.
            if !matches!(
                err,
                openidconnect::ClaimsVerificationError::SignatureVerification(_)
            ) {
                return Err(OidcError::InvalidToken(err.to_string()));
            }
            let metadata = self.metadata(true).await?;
            let client = self.client(&metadata, &pending.redirect_url)?;
            id_token
                .claims(&client.id_token_verifier(), &nonce)
                .map_err(|e| OidcError::InvalidToken(e.to_string()))?;
        }
        let id_token = id_token.to_string();
        let claims = payload(&id_token)?;
        let sid = claims.get("sid").and_then(Value::as_str).map(str::to_owned);
        Ok(Verified {
            claims,
            id_token,
            sid,
        })
    }

    /// Where to send the browser to end the provider's session too, if it offers that.
    pub async fn logout_url(&self, id_token: &str, post_logout: &str) -> Option<String> {
        let metadata = self.metadata(false).await.ok()?;
        let end_session = metadata.additional_metadata().end_session_endpoint.clone()?;
        let mut request = LogoutRequest::from(end_session).set_client_id(self.client_id.clone());
        if let Ok(token) = id_token.parse::<CoreIdToken>() {
            request = request.set_id_token_hint(&token);
        }
        if let Ok(url) = PostLogoutRedirectUrl::new(post_logout.to_owned()) {
            request = request.set_post_logout_redirect_uri(url);
        }
        Some(request.http_get_url().to_string())
    }

    /// Checks a back-channel logout token (OpenID Connect Back-Channel Logout 1.0, 2.6):
    /// signed by the provider's key, for us, recent, a logout event, naming a subject or
    /// a session, and no nonce (so that an ID token cannot pass for one).
    pub async fn check_logout_token(&self, token: &str, now_secs: i64) -> Result<LoggedOut, OidcError> {
        let invalid = |why: &str| OidcError::InvalidToken(why.to_owned());
        let mut parts = token.split('.');
        let (Some(header_b64), Some(body), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid("not a signed JWT"));
        };
        #[derive(serde::Deserialize)]
        struct Header {
            alg: CoreJwsSigningAlgorithm,
            kid: Option<String>,
        }
        let header: Header = URL_SAFE_NO_PAD
            .decode(header_b64)
            .ok()
            .and_then(|h| serde_json::from_slice(&h).ok())
            .ok_or_else(|| invalid("the JWT header is unreadable"))?;
        if matches!(
            header.alg,
            CoreJwsSigningAlgorithm::None
                | CoreJwsSigningAlgorithm::HmacSha256
                | CoreJwsSigningAlgorithm::HmacSha384
                | CoreJwsSigningAlgorithm::HmacSha512
        ) {
            return Err(invalid("the logout token is not signed with the provider's key"));
        }
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| invalid("the signature is unreadable"))?;
        let message = format!("{header_b64}.{body}");
        let mut verified = false;
        for fresh in [false, true] {
            let metadata = self.metadata(fresh).await?;
            let keys = metadata.jwks().keys();
            let candidates = keys.iter().filter(|key| match &header.kid {
                Some(kid) => key.key_id().is_some_and(|k| k.as_str() == kid),
                None => true,
            });
            if candidates.into_iter().any(|key| {
                key.verify_signature(&header.alg, message.as_bytes(), &signature)
                    .is_ok()
            }) {
                verified = true;
                break;
            }
        }
        if !verified {
            return Err(invalid("the signature does not match the provider's keys"));
        }
        let claims = claims_of(body)?;
        // Discovery refuses a document whose issuer is not the configured one.
        if claims.get("iss").and_then(Value::as_str) != Some(self.issuer.as_str()) {
            return Err(invalid("wrong issuer"));
        }
        let ours = |v: &Value| v.as_str() == Some(self.client_id.as_str());
        let for_us = match claims.get("aud") {
            Some(Value::Array(list)) => list.iter().any(ours),
            Some(single) => ours(single),
            None => false,
        };
        if !for_us {
            return Err(invalid("wrong audience"));
        }
        let iat = claims
            .get("iat")
            .and_then(Value::as_i64)
            .ok_or_else(|| invalid("no iat"))?;
        if (now_secs - iat).abs() > LOGOUT_TOKEN_SKEW_SECS {
            return Err(invalid("issued too long ago or in the future"));
        }
        if claims
            .get("exp")
            .and_then(Value::as_i64)
            .is_some_and(|exp| exp <= now_secs)
        {
            return Err(invalid("expired"));
        }
        if claims.get("jti").and_then(Value::as_str).is_none() {
            return Err(invalid("no jti"));
        }
        if claims
            .get("events")
            .and_then(|e| e.get(LOGOUT_EVENT))
            .is_none_or(|e| !e.is_object())
        {
            return Err(invalid("not a back-channel logout event"));
        }
        if claims.contains_key("nonce") {
            return Err(invalid("a logout token carries no nonce"));
        }
        let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
        let logged_out = LoggedOut {
            subject: text("sub"),
            sid: text("sid"),
        };
        if logged_out.subject.is_none() && logged_out.sid.is_none() {
            return Err(invalid("names neither a subject nor a session"));
        }
        Ok(logged_out)
    }
}

/// The client type `CoreClient::from_provider_metadata` gives, with its redirect URL set.
type ClientFor = CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

/// The claims of a compact JWT whose signature was checked.
fn payload(jwt: &str) -> Result<Map<String, Value>, OidcError> {
    claims_of(jwt.split('.').nth(1).unwrap_or_default())
}

/// The claims in a JWT's payload segment (base64url JSON).
fn claims_of(segment: &str) -> Result<Map<String, Value>, OidcError> {
    URL_SAFE_NO_PAD
        .decode(segment)
        .ok()
        .and_then(|p| serde_json::from_slice(&p).ok())
        .ok_or_else(|| OidcError::InvalidToken("the payload is unreadable".into()))
}

/// An error with its causes, for the log (none of them carries a secret).
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

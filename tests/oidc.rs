//! Logging in through a real OpenID Connect provider (the npm package `oidc-provider`,
//! started by tests/node/oidc-provider.mjs with test accounts whose claims have the shape of
//! the Flemish government's ACM/IDM): roles from the claims, withdrawn roles, refused
//! tokens, replayed codes, tampered state, and both logouts.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use tokio::process::{Child, Command};

use crate::support::{Session, TestServer, announced, node_dir};

/// The provider process and its issuer URL.
struct Provider {
    _child: Child,
    issuer: String,
}

impl Provider {
    async fn start() -> Provider {
        let mut child = Command::new("node")
            .arg(node_dir().join("oidc-provider.mjs"))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start node tests/node/oidc-provider.mjs");
        let issuer = announced(&mut child, "oidc-provider", "oidc-provider luistert op ").await;
        Provider {
            _child: child,
            issuer,
        }
    }

    async fn control(&self, method: reqwest::Method, path: &str, body: Value) -> u16 {
        reqwest::Client::new()
            .request(method, format!("{}/__test/{path}", self.issuer))
            .json(&body)
            .send()
            .await
            .expect("provider control")
            .status()
            .as_u16()
    }

    /// Makes the provider's next ID tokens wrong in one way (`None`: right again).
    async fn tamper(&self, mode: Option<&str>) {
        assert_eq!(
            self.control(reqwest::Method::POST, "mode", json!({ "mode": mode }))
                .await,
            204
        );
    }

    /// Replaces an account's claims at the provider.
    async fn set_claims(&self, account: &str, claims: Value) {
        let status = self
            .control(reqwest::Method::PUT, &format!("accounts/{account}"), claims)
            .await;
        assert_eq!(status, 204);
    }
}

/// A Samen server that offers the login through `provider`, and the provider told where
/// its back-channel logouts go.
async fn samen_with(provider: &Provider, extra: &[&str]) -> TestServer {
    let mut args = vec![
        "--oidc-issuer",
        &provider.issuer,
        "--oidc-client-id",
        "samen",
        "--oidc-client-secret",
        "samen-test-secret",
        "--oidc-scopes",
        "openid,profile,email,samen",
    ];
    args.extend_from_slice(extra);
    let server = TestServer::start_with(&args).await;
    let origin = format!("http://{}", server.addr());
    assert_eq!(
        provider
            .control(reqwest::Method::POST, "samen", json!({ "origin": origin }))
            .await,
        200
    );
    server
}

/// One browser: cookies by name (the provider's and Samen's names differ), no redirects
/// followed, so that every step can be seen.
struct Browser {
    http: reqwest::Client,
    cookies: BTreeMap<String, String>,
}

impl Browser {
    fn new() -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            cookies: BTreeMap::new(),
        }
    }

    /// Sends a request with the cookies; keeps what it sets; returns status and Location.
    async fn go(&mut self, method: reqwest::Method, url: &str, form: Option<&str>) -> (u16, String) {
        let cookie = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let mut request = self.http.request(method, url).header("cookie", cookie);
        if let Some(form) = form {
            request = request
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form.to_owned());
        }
        let response = request.send().await.expect("request");
        for set in response.headers().get_all("set-cookie") {
            let pair = set
                .to_str()
                .unwrap_or_default()
                .split(';')
                .next()
                .unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                if value.is_empty() {
                    self.cookies.remove(name);
                } else {
                    self.cookies.insert(name.to_owned(), value.to_owned());
                }
            }
        }
        let location = response
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        (response.status().as_u16(), location)
    }

    async fn get(&mut self, url: &str) -> (u16, String) {
        self.go(reqwest::Method::GET, url, None).await
    }

    /// From Samen's start to the provider's redirect back (not followed): the callback URL.
    async fn through_provider(&mut self, samen: &TestServer, provider: &Provider, account: &str) -> String {
        let (status, at_provider) = self
            .get(&samen.url("/api/auth/oidc/start?return_to=/scholen"))
            .await;
        assert_eq!(status, 303);
        assert!(
            at_provider.starts_with(&format!("{}/auth?", provider.issuer)),
            "{at_provider}"
        );
        for needed in [
            "code_challenge_method=S256",
            "nonce=",
            "state=",
            "client_id=samen",
        ] {
            assert!(at_provider.contains(needed), "{needed} in {at_provider}");
        }
        let (_, interaction) = self.get(&at_provider).await;
        let interaction = absolute(&provider.issuer, &interaction);
        assert_eq!(self.get(&interaction).await.0, 200, "the provider's login form");
        let form = format!("prompt=login&login={account}&password=x");
        let (_, resume) = self.go(reqwest::Method::POST, &interaction, Some(&form)).await;
        let (_, back) = self.get(&absolute(&provider.issuer, &resume)).await;
        assert!(back.starts_with(&samen.url("/api/auth/oidc/callback?")), "{back}");
        back
    }

    /// A whole login; where Samen sent the browser at the end.
    async fn log_in(&mut self, samen: &TestServer, provider: &Provider, account: &str) -> String {
        let back = self.through_provider(samen, provider, account).await;
        let (status, landed) = self.get(&back).await;
        assert_eq!(status, 303);
        landed
    }

    fn session<'s>(&self, samen: &'s TestServer) -> Option<Session<'s>> {
        let value = self.cookies.get("samen_session")?;
        Some(Session::with_cookie(samen, format!("samen_session={value}")))
    }
}

fn absolute(issuer: &str, location: &str) -> String {
    if location.starts_with("http") {
        location.to_owned()
    } else {
        format!("{issuer}{location}")
    }
}

fn query_param(url: &str, name: &str) -> String {
    url.split(['?', '&'])
        .find_map(|pair| pair.strip_prefix(&format!("{name}=")))
        .unwrap_or_default()
        .to_owned()
}

async fn schools(session: &Session<'_>) -> Vec<String> {
    let (status, body) = session.call("GET", "/api/schools", None).await;
    assert_eq!(status, 200);
    body["schools"]
        .as_array()
        .expect("schools")
        .iter()
        .map(|s| s["number"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn a_school_member_logs_in_through_the_provider_and_gets_the_roles_of_the_claims() {
    let provider = Provider::start().await;
    let samen = samen_with(&provider, &[]).await;
    let (_, config) = samen
        .call("GET", "/api/config", crate::support::As::Anonymous, None)
        .await;
    assert_eq!(config["provider"]["start"], "/api/auth/oidc/start");
    assert_eq!(config["password_login"], true);

    let mut an = Browser::new();
    assert_eq!(an.log_in(&samen, &provider, "an.school").await, "/scholen");
    let session = an.session(&samen).expect("a session");
    let (_, me) = session.call("GET", "/api/me", None).await;
    assert_eq!(me["user"]["email"], "an.wouters@school.test");
    assert_eq!(me["user"]["display_name"], "An Wouters");
    assert_eq!(schools(&session).await, ["100001"]);
    assert!(
        !an.cookies.contains_key("samen_oidc"),
        "the pending login's cookie is used up"
    );

    // Two schools in one role value; an institution Samen does not have is ignored.
    let mut cor = Browser::new();
    cor.log_in(&samen, &provider, "cor.twee").await;
    let cor_session = cor.session(&samen).expect("a session");
    assert_eq!(schools(&cor_session).await, ["100001", "100002"]);

    // A CLB worker sees the CLB's schools.
    let mut bart = Browser::new();
    bart.log_in(&samen, &provider, "bart.clb").await;
    assert_eq!(
        schools(&bart.session(&samen).expect("a session")).await,
        ["100001", "100002"]
    );

    let db = samen.database().await;
    let created = db.audit("user.create").await;
    assert_eq!(created.len(), 3, "made just in time, once each");
    let grants: Vec<String> = db
        .audit("membership.grant")
        .await
        .into_iter()
        .filter_map(|r| r.detail)
        .collect();
    assert!(
        grants.contains(&"school_dossier on 100002, from the provider".to_owned()),
        "{grants:?}"
    );
    assert!(
        !grants.iter().any(|g| g.contains("999999")),
        "never granted: {grants:?}"
    );
    assert!(
        db.db.institution("999999").await.unwrap().is_none(),
        "never created"
    );

    // The next login is the same user, not a new one.
    let mut again = Browser::new();
    again.log_in(&samen, &provider, "an.school").await;
    assert_eq!(db.audit("user.create").await.len(), 3);
}

#[tokio::test]
async fn a_role_withdrawn_at_the_provider_is_gone_at_the_next_login_and_the_sessions_end() {
    let provider = Provider::start().await;
    let samen = samen_with(&provider, &[]).await;
    let mut laptop = Browser::new();
    laptop.log_in(&samen, &provider, "cor.twee").await;
    let laptop_session = laptop.session(&samen).expect("a session");
    assert_eq!(schools(&laptop_session).await, ["100001", "100002"]);

    // Het Anker withdraws Cor's role; the next login (on another device) has De Linde only.
    let mut claims = json!({
        "email": "cor.jacobs@school.test", "name": "Cor Jacobs",
        "vo_doelgroepcode": "SCHOOL", "vo_orgcode": "100001",
        "dv_samenwerkingsdossier_rol_3d": ["Samenwerkingsdossier_school:100001"]
    });
    provider.set_claims("cor.twee", claims.clone()).await;
    let mut phone = Browser::new();
    assert_eq!(phone.log_in(&samen, &provider, "cor.twee").await, "/scholen");
    assert_eq!(
        schools(&phone.session(&samen).expect("a session")).await,
        ["100001"]
    );
    assert_eq!(
        schools(&laptop_session).await,
        ["100001"],
        "the laptop's session too"
    );
    let revoked = samen.database().await.audit("membership.revoke").await;
    assert_eq!(revoked.len(), 1);
    assert_eq!(
        revoked[0].detail.as_deref(),
        Some("school_dossier on 100002, no longer granted by the provider")
    );

    // Every role withdrawn: the login is refused with a reason, and no session is left.
    claims
        .as_object_mut()
        .unwrap()
        .remove("dv_samenwerkingsdossier_rol_3d");
    provider.set_claims("cor.twee", claims).await;
    let mut desk = Browser::new();
    assert_eq!(
        desk.log_in(&samen, &provider, "cor.twee").await,
        "/login?oidc=geen-rol"
    );
    assert!(desk.session(&samen).is_none());
    assert_eq!(laptop_session.call("GET", "/api/me", None).await.0, 401);
    assert_eq!(
        phone
            .session(&samen)
            .unwrap()
            .call("GET", "/api/me", None)
            .await
            .0,
        401
    );

    // Someone the provider never gave a role, likewise.
    let mut dirk = Browser::new();
    assert_eq!(
        dirk.log_in(&samen, &provider, "dirk.geenrol").await,
        "/login?oidc=geen-rol"
    );
}

#[tokio::test]
async fn wrong_tokens_missing_claims_replayed_codes_and_tampered_state_are_refused() {
    let provider = Provider::start().await;
    let samen = samen_with(&provider, &[]).await;

    for mode in [
        "wrong-issuer",
        "wrong-audience",
        "expired",
        "wrong-nonce",
        "bad-signature",
    ] {
        provider.tamper(Some(mode)).await;
        let mut browser = Browser::new();
        assert_eq!(
            browser.log_in(&samen, &provider, "an.school").await,
            "/login?oidc=token",
            "{mode}"
        );
        assert!(browser.session(&samen).is_none(), "{mode}: no session");
    }
    provider.tamper(None).await;
    let refused = samen.database().await.audit("login").await;
    let denied: Vec<String> = refused
        .iter()
        .filter(|r| r.outcome == "denied")
        .filter_map(|r| r.detail.clone())
        .collect();
    assert_eq!(denied.len(), 5, "{denied:?}");
    assert!(denied.iter().any(|d| d.contains("issuer")), "{denied:?}");
    assert!(denied.iter().any(|d| d.contains("audience")), "{denied:?}");
    assert!(denied.iter().any(|d| d.contains("nonce")), "{denied:?}");

    // No e-mail address among the claims: refused, naming the claim.
    let mut eva = Browser::new();
    assert_eq!(
        eva.log_in(&samen, &provider, "eva.zonderemail").await,
        "/login?oidc=gegevens&claim=email"
    );

    // The callback replayed: its state was used up with its cookie.
    let mut an = Browser::new();
    let callback = an.through_provider(&samen, &provider, "an.school").await;
    assert_eq!(an.get(&callback).await.1, "/scholen");
    assert_eq!(an.get(&callback).await.1, "/login?oidc=verlopen");
    // The code replayed within a fresh login of its own: the provider refuses it.
    let (_, fresh) = an.get(&samen.url("/api/auth/oidc/start")).await;
    let state = query_param(&fresh, "state");
    let old_code = query_param(&callback, "code");
    let replay = samen.url(&format!("/api/auth/oidc/callback?code={old_code}&state={state}"));
    assert_eq!(an.get(&replay).await.1, "/login?oidc=code");

    // A state changed on the way back, or a callback in a browser that never started one.
    let mut mallory = Browser::new();
    let callback = mallory.through_provider(&samen, &provider, "an.school").await;
    let state = query_param(&callback, "state");
    let tampered = callback.replace(&format!("state={state}"), "state=vervalst");
    assert_eq!(mallory.get(&tampered).await.1, "/login?oidc=verlopen");
    assert!(mallory.session(&samen).is_none());
    let mut elsewhere = Browser::new();
    assert_eq!(
        elsewhere.get(&callback).await.1,
        "/login?oidc=verlopen",
        "no pending login in this browser"
    );
    // A cookie signed by someone else.
    elsewhere.cookies.insert("samen_oidc".into(), "eyJ9.AAAA".into());
    assert_eq!(elsewhere.get(&callback).await.1, "/login?oidc=verlopen");

    // The way back only ever leads into the app.
    let (_, at_provider) = Browser::new()
        .get(&samen.url("/api/auth/oidc/start?return_to=//evil.example"))
        .await;
    assert!(at_provider.starts_with(&provider.issuer));
}

#[tokio::test]
async fn logging_out_ends_the_provider_session_too_and_the_provider_can_end_ours() {
    let provider = Provider::start().await;
    let samen = samen_with(&provider, &[]).await;

    // RP-initiated logout: Samen's session ends, and the app is told where the provider's ends.
    let mut an = Browser::new();
    an.log_in(&samen, &provider, "an.school").await;
    let session = an.session(&samen).expect("a session");
    let (status, body) = session.call("POST", "/api/logout", None).await;
    assert_eq!(status, 200);
    let url = body["provider_logout"].as_str().expect("provider_logout");
    assert!(
        url.starts_with(&format!("{}/session/end?", provider.issuer)),
        "{url}"
    );
    assert!(
        url.contains("id_token_hint=") && url.contains("post_logout_redirect_uri="),
        "{url}"
    );
    assert_eq!(session.call("GET", "/api/me", None).await.0, 401);

    // Back-channel logout: the provider ends Bart's session; his open session here ends.
    let mut bart = Browser::new();
    bart.log_in(&samen, &provider, "bart.clb").await;
    let bart_session = bart.session(&samen).expect("a session");
    assert_eq!(bart_session.call("GET", "/api/me", None).await.0, 200);
    let status = provider
        .control(reqwest::Method::POST, "logout/bart.clb", json!({}))
        .await;
    assert_eq!(status, 200, "Samen accepted the logout token");
    assert_eq!(bart_session.call("GET", "/api/me", None).await.0, 401);

    // A logout token the provider did not sign, or no token at all: 400, nothing ends.
    let mut cor = Browser::new();
    cor.log_in(&samen, &provider, "cor.twee").await;
    let forged = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJjb3IudHdlZSJ9.";
    for body in [
        format!("logout_token={forged}"),
        "logout_token=x.y.z".into(),
        "iets=anders".into(),
    ] {
        let response = reqwest::Client::new()
            .post(samen.url("/api/auth/oidc/backchannel-logout"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400);
    }
    assert_eq!(
        cor.session(&samen).unwrap().call("GET", "/api/me", None).await.0,
        200
    );
}

#[tokio::test]
async fn password_login_can_be_switched_off_and_an_unreachable_provider_is_said() {
    let provider = Provider::start().await;
    let samen = samen_with(&provider, &["--password-login", "false"]).await;
    let (_, config) = samen
        .call("GET", "/api/config", crate::support::As::Anonymous, None)
        .await;
    assert_eq!(config["password_login"], false);
    let (status, body) = samen
        .call(
            "POST",
            "/api/login",
            crate::support::As::Anonymous,
            Some(json!({"email": "linde@demo.test", "password": "demo"})),
        )
        .await;
    assert_eq!(status, 403, "{body}");

    // A provider that does not answer: back to the login page, which says so.
    let unreachable =
        TestServer::start_with(&["--oidc-issuer", "http://127.0.0.1:9", "--oidc-client-id", "samen"]).await;
    let (status, location) = Browser::new().get(&unreachable.url("/api/auth/oidc/start")).await;
    assert_eq!((status, location.as_str()), (303, "/login?oidc=onbereikbaar"));
    // Without a provider, its endpoints do not exist.
    let plain = TestServer::start().await;
    assert_eq!(
        Browser::new().get(&plain.url("/api/auth/oidc/start")).await.0,
        404
    );
}

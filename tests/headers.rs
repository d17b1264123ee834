//! Headers everywhere: security headers on every answer (the app's, the API's, errors), a
//! CSP that connects only to the app's own origin, a `Host` allowlist against DNS
//! rebinding, a demo that never seeds into real data, and metrics behind a token.

use reqwest::header::HeaderMap;
use serde_json::Value;

use crate::support::{As, METRICS_TOKEN, TestServer};

/// A GET with these headers; returns the status, the headers and the body as JSON (`null`
/// if it is not).
async fn get(server: &TestServer, path: &str, headers: &[(&str, &str)]) -> (u16, HeaderMap, Value) {
    let mut request = reqwest::Client::new().get(server.url(path));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap_or_default();
    (
        status,
        headers,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> &'h str {
    headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header in {headers:?}"))
        .to_str()
        .expect("text")
}

/// The headers every answer carries, whatever it is.
fn assert_security_headers(headers: &HeaderMap, what: &str) {
    assert_eq!(header(headers, "x-content-type-options"), "nosniff", "{what}");
    assert_eq!(header(headers, "x-frame-options"), "DENY", "{what}");
    assert_eq!(header(headers, "referrer-policy"), "same-origin", "{what}");
    assert_eq!(
        header(headers, "cross-origin-opener-policy"),
        "same-origin",
        "{what}"
    );
    assert_eq!(
        header(headers, "cross-origin-resource-policy"),
        "same-origin",
        "{what}"
    );
    let csp = header(headers, "content-security-policy");
    assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
}

#[tokio::test]
async fn api_answers_and_errors_carry_the_security_headers_too() {
    let server = TestServer::start().await;
    let sara = server.clb().await;
    let bearer = format!("Bearer {}", sara.token);
    for (path, auth, status) in [
        ("/api/config", None, 200),
        ("/api/schools", Some(bearer.as_str()), 200),
        ("/api/me", None, 401),
        ("/api/nothing-here", None, 404),
        ("/api/registrations/not-a-uuid", Some(bearer.as_str()), 404),
    ] {
        let headers: Vec<(&str, &str)> = auth.map(|a| ("authorization", a)).into_iter().collect();
        let (got, h, body) = get(&server, path, &headers).await;
        assert_eq!(got, status, "{path}: {body}");
        assert!(body.is_object(), "{path} answers JSON");
        assert_security_headers(&h, path);
        // Nothing of the API may load or run anything, nor be kept in a cache.
        assert_eq!(
            header(&h, "content-security-policy"),
            "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
            "{path}"
        );
        assert_eq!(header(&h, "cache-control"), "no-store", "{path}");
    }
}

#[tokio::test]
async fn the_app_may_connect_to_its_own_origin_only() {
    let server = TestServer::start().await;
    let addr = server.addr();
    let port = addr.rsplit(':').next().expect("port");
    for host in [addr.clone(), format!("localhost:{port}")] {
        let (status, h, _) = get(&server, "/registraties/x", &[("host", &host)]).await;
        assert_eq!(status, 200, "{host}");
        assert_security_headers(&h, &host);
        let csp = header(&h, "content-security-policy");
        let connect = csp
            .split(';')
            .map(str::trim)
            .find(|d| d.starts_with("connect-src "))
            .expect("connect-src");
        // The page's own origin, and the WebSocket to the host it was asked for (`ws:` for
        // plain HTTP, `wss:` behind a TLS proxy); no other host, no bare scheme.
        assert_eq!(connect, format!("connect-src 'self' ws://{host} wss://{host}"));
        assert!(csp.contains("script-src 'self'"), "{csp}");
    }
}

#[tokio::test]
async fn requests_for_another_host_are_refused_so_dns_rebinding_reaches_nothing() {
    let server = TestServer::start().await;
    let port = server.addr().rsplit(':').next().expect("port").to_owned();
    let evil = format!("evil.example:{port}");

    // A page on evil.example whose name now points at 127.0.0.1 asks for the demo's
    // passwords: the browser sends its own host name, and that is refused.
    let (status, h, body) = get(&server, "/api/config", &[("host", &evil)]).await;
    assert_eq!(status, 421, "{body}");
    assert_eq!(body["error"]["code"], "misdirected_request");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("evil.example") && m.contains("--allowed-host")),
        "{body}"
    );
    assert!(body.get("demo_password").is_none() && body.get("demoPassword").is_none());
    assert!(!body.to_string().contains("\"demo\""), "{body}");
    assert_security_headers(&h, "421");

    let (status, _, _) = get(&server, "/", &[("host", &evil)]).await;
    assert_eq!(status, 421, "the app is not served either");
    let login = reqwest::Client::new()
        .post(server.url("/api/login"))
        .header("host", &evil)
        .json(&serde_json::json!({ "email": "clb@demo.test", "password": "demo" }))
        .send()
        .await
        .expect("login");
    assert_eq!(login.status(), 421, "nor a login");
    let sara = server.clb().await;
    let reg = sara.creates_registration().await;
    let bearer = format!("Bearer {}", sara.token);
    let ws = server
        .ws_status(&reg.id, &[("host", &evil), ("authorization", &bearer)])
        .await;
    assert_eq!(ws, 421, "nor a document");

    // Its own address and localhost are fine; a host that is no host name is a 400.
    for host in [
        server.addr(),
        format!("localhost:{port}"),
        format!("LocalHost.:{port}"),
    ] {
        let (status, _, body) = get(&server, "/api/config", &[("host", &host)]).await;
        assert_eq!(status, 200, "{host}: {body}");
        assert_eq!(body["demo"], true);
    }
    let (status, _, body) = get(&server, "/api/config", &[("host", "a b")]).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (400, &Value::from("bad_request"))
    );

    // Names the operator allows pass, with --allowed-host or --public-origin.
    let server = TestServer::start_with(&[
        "--allowed-host",
        "samen.school.be",
        "--public-origin",
        "https://dossier.clb.be",
    ])
    .await;
    for host in ["samen.school.be", "dossier.clb.be"] {
        let (status, h, _) = get(&server, "/api/config", &[("host", host)]).await;
        assert_eq!(status, 200, "{host}");
        // Behind HTTPS, browsers are told to stay on it.
        assert_eq!(header(&h, "strict-transport-security"), "max-age=31536000");
    }
    let (status, _, _) = get(&server, "/api/config", &[("host", "clb.be")]).await;
    assert_eq!(status, 421);
}

#[tokio::test]
async fn demo_mode_refuses_to_seed_into_a_database_with_real_users() {
    let server = TestServer::start().await;
    server
        .admin_command(
            &[
                "create-user",
                "--email",
                "an@clb-noord.be",
                "--name",
                "An Peeters",
            ],
            &[("SAMEN_NEW_PASSWORD", "een-echt-wachtwoord")],
        )
        .await;
    assert!(server.stop().await);
    let stderr = server.refused_start(&[]).await;
    assert!(
        stderr.contains("--demo refuses to start") && stderr.contains("an@clb-noord.be"),
        "says why: {stderr}"
    );
    assert!(
        stderr.contains("start without --demo") && stderr.contains("empty"),
        "and what to do: {stderr}"
    );
    // The user was not given the demo's roles or password in passing.
    let db = server.database().await.db;
    let (user, _) = db
        .user_by_email("an@clb-noord.be")
        .await
        .expect("user")
        .expect("exists");
    assert!(db.memberships(&user.id).await.expect("roles").is_empty());

    // The same goes for an institution the demo did not make.
    let server = TestServer::start().await;
    server
        .admin_command(
            &[
                "create-institution",
                "--kind",
                "clb",
                "--number",
                "912345",
                "--name",
                "CLB Noord",
            ],
            &[],
        )
        .await;
    assert!(server.stop().await);
    let stderr = server.refused_start(&[]).await;
    assert!(stderr.contains("the institution 912345"), "{stderr}");
}

#[tokio::test]
async fn metrics_need_the_token_or_an_address_of_their_own() {
    let server = TestServer::start().await;
    let metrics = |auth: Option<String>| {
        let mut request = reqwest::Client::new().get(server.url("/metrics"));
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        request.send()
    };
    let anonymous = metrics(None).await.expect("metrics");
    assert_eq!(anonymous.status(), 401);
    assert_security_headers(anonymous.headers(), "/metrics");
    let body: Value = anonymous.json().await.expect("json");
    assert_eq!(body["error"]["code"], "unauthenticated");
    let sara = server.clb().await;
    for wrong in [
        format!("Bearer {}", sara.token),
        "Bearer test-metrics-token".into(),
    ] {
        assert_eq!(metrics(Some(wrong)).await.expect("metrics").status(), 401);
    }
    let right = metrics(Some(format!("Bearer {METRICS_TOKEN}")))
        .await
        .expect("metrics");
    assert_eq!(right.status(), 200);
    assert!(right.text().await.expect("text").contains("samen_connections"));

    // With an address of their own, metrics leave the main address altogether.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let metrics_addr = format!("127.0.0.1:{port}");
    let server = TestServer::start_with(&["--metrics-addr", &metrics_addr]).await;
    let (status, _) = server
        .call("GET", "/metrics", As::Token(METRICS_TOKEN), None)
        .await;
    assert_eq!(status, 404, "not on the main address");
    let there = reqwest::Client::new()
        .get(format!("http://{metrics_addr}/metrics"))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .expect("metrics address");
    assert_eq!(there.status(), 200);
    let api = reqwest::get(format!("http://{metrics_addr}/api/config"))
        .await
        .expect("metrics address");
    assert_eq!(api.status(), 404, "the metrics address serves nothing else");
}

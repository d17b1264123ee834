//! Sessions, tokens, logins and the admin command line.

use std::time::Duration;

use serde_json::json;

use crate::support::{As, LINDE, TestServer};

#[tokio::test]
async fn logout_ends_the_session_and_a_new_login_gets_a_new_id() {
    let server = TestServer::start().await;
    let sara = server.clb().await;
    let first = sara.session().await;
    assert_eq!(first.get("/api/me").await.0, 200);
    let second = sara.session().await;
    assert_ne!(first.cookie, second.cookie, "every login starts a new session id");

    let (status, _) = second.post("/api/logout", None).await;
    assert_eq!(status, 204);
    let (status, body) = second.get("/api/me").await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "unauthenticated");
    assert_eq!(first.get("/api/me").await.0, 200, "other sessions live on");
}

#[tokio::test]
async fn expired_sessions_are_refused() {
    let server = TestServer::start_with(&["--session-secs", "1"]).await;
    let tom = server.school_member("linde").await;
    let session = tom.session().await;
    assert_eq!(session.get("/api/me").await.0, 200);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(session.get("/api/me").await.0, 401);
}

#[tokio::test]
async fn idle_sessions_end_and_sessions_in_use_stay() {
    let server = TestServer::start_with(&["--session-idle-secs", "2"]).await;
    let tom = server.school_member("linde").await;
    let idle = tom.session().await;
    let used = tom.session().await;
    for _ in 0..4 {
        assert_eq!(used.get("/api/me").await.0, 200, "a session in use stays");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert_eq!(idle.get("/api/me").await.0, 401, "unused for 4 s of 2 allowed");
    assert_eq!(used.get("/api/me").await.0, 200);
}

/// Logs in with this body; returns the session cookie's `Set-Cookie` header.
async fn login_cookie(server: &TestServer, body: serde_json::Value) -> String {
    let response = reqwest::Client::new()
        .post(server.url("/api/login"))
        .json(&body)
        .send()
        .await
        .expect("login request");
    assert_eq!(response.status(), 200);
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("samen_session="))
        .expect("session cookie")
        .to_owned()
}

#[tokio::test]
async fn the_cookie_ends_with_the_browser_unless_remembered() {
    let server = TestServer::start().await;
    let email = LINDE;
    let plain = login_cookie(&server, json!({ "email": email, "password": "demo" })).await;
    let lower = plain.to_ascii_lowercase();
    assert!(
        !lower.contains("max-age") && !lower.contains("expires"),
        "{plain}"
    );
    let kept = login_cookie(
        &server,
        json!({ "email": email, "password": "demo", "remember": true }),
    )
    .await;
    assert!(kept.to_ascii_lowercase().contains("max-age="), "{kept}");
    let not_kept = login_cookie(
        &server,
        json!({ "email": email, "password": "demo", "remember": false }),
    )
    .await;
    assert!(!not_kept.to_ascii_lowercase().contains("max-age"), "{not_kept}");
}

#[tokio::test]
async fn a_session_only_works_from_our_own_origin() {
    let server = TestServer::start().await;
    let sara = server.clb().await;
    let session = sara.session().await;
    let reg = sara.creates_registration().await;

    // Cross-site WebSocket hijacking: the browser sends the cookie, but the Origin is not ours.
    let cookie = ("cookie", session.cookie.as_str());
    assert_eq!(
        server
            .ws_status(&reg.id, &[cookie, ("origin", "https://evil.example")])
            .await,
        403
    );
    assert_eq!(
        server.ws_status(&reg.id, &[cookie]).await,
        403,
        "no Origin, no session socket"
    );
    assert_eq!(
        server
            .ws_status(&reg.id, &[cookie, ("origin", session.origin.as_str())])
            .await,
        101
    );

    // Cross-site request forgery on a mutating call.
    let forged = session.sent_from("https://evil.example");
    let (status, body) = forged.patch(reg.path(""), json!({ "title": "Gekaapt" })).await;
    assert_eq!(status, 403, "{body}");
    let (_, now) = session.get(reg.path("")).await;
    assert_eq!(now["registration"]["title"], "Testregistratie", "nothing changed");
    // Reads need no Origin; a token needs none either.
    assert_eq!(forged.get("/api/me").await.0, 200);
    let (status, _) = sara.patch(reg.path(""), json!({ "title": "Via token" })).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn tokens_and_sessions_are_unreadable_in_the_database_and_revocable() {
    let server = TestServer::start().await;
    let tom = server.school_member("linde").await;
    let session = tom.session().await;
    let token = &tom.token;
    assert!(token.starts_with("samen_"));

    // Nowhere in the database: not the token, not the session id.
    let secret_session = session.cookie.trim_start_matches("samen_session=").to_owned();
    let bytes = server.database_bytes().await;
    assert!(bytes.len() > 10_000, "the database was read");
    for secret in [token, &secret_session] {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "the database holds a secret in the clear"
        );
    }

    // Listed without the secret; revoked, it stops working.
    let (_, list) = tom.get("/api/tokens").await;
    let listed = list["tokens"].as_array().expect("tokens");
    assert!(
        listed
            .iter()
            .all(|t| t.get("token").is_none() && t.get("token_hash").is_none())
    );
    let id = listed
        .iter()
        .find(|t| t["last_used_at"].is_number())
        .expect("the token in use")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let (status, _) = session.delete(format!("/api/tokens/{id}")).await;
    assert_eq!(status, 204);
    assert_eq!(tom.get("/api/me").await.0, 401);
}

#[tokio::test]
async fn logins_are_generic_and_throttled() {
    let server = TestServer::start().await;
    let wrong = |email: &str| json!({ "email": email, "password": "wrong" });
    let (s1, unknown) = server
        .call(
            "POST",
            "/api/login",
            As::Anonymous,
            Some(wrong("nobody@demo.test")),
        )
        .await;
    // Five wrong passwords for one account at once (one after another, a slow machine
    // could take the second in which the quota regains one).
    let guesses = (0..5).map(|_| server.call("POST", "/api/login", As::Anonymous, Some(wrong(LINDE))));
    for (status, bad_password) in futures_util::future::join_all(guesses).await {
        assert_eq!((s1, status), (401, 401));
        assert_eq!(
            unknown, bad_password,
            "the answer does not tell whether the account exists"
        );
    }
    // Then the account waits, even for the right password (more in tests/login.rs). The
    // first quota regains an attempt every second, and a loaded machine may take that long
    // to check five hashes: guess on until the wait shows, then try the right password at
    // once, so the test does not depend on the machine's speed.
    let mut waits = false;
    for _ in 0..20 {
        let (status, body) = server
            .call("POST", "/api/login", As::Anonymous, Some(wrong(LINDE)))
            .await;
        if status == 429 {
            waits = true;
            break;
        }
        assert_eq!(status, 401, "{body}");
    }
    assert!(waits, "guessing on is throttled");
    let right = json!({ "email": LINDE, "password": "demo" });
    let (status, body) = server
        .call("POST", "/api/login", As::Anonymous, Some(right.clone()))
        .await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "too_many_attempts");
    // After the wait (a second, or a minute if the guessing went on that long), it works.
    let started = std::time::Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let (status, body) = server
            .call("POST", "/api/login", As::Anonymous, Some(right.clone()))
            .await;
        if status == 200 {
            break;
        }
        assert_eq!(status, 429, "{body}");
        assert!(started.elapsed() < Duration::from_secs(90), "the wait ends");
    }

    let (status, body) = server
        .call(
            "POST",
            "/api/login",
            As::Anonymous,
            Some(json!({ "email": LINDE })),
        )
        .await;
    assert_eq!(status, 400, "a malformed body says what is wrong: {body}");
}

#[tokio::test]
async fn the_admin_command_line_refuses_a_weak_password_and_creates_nothing() {
    let server = TestServer::start().await;
    let create = |email: &'static str| ["create-user", "--email", email, "--name", "An Peeters"];
    let refused = [
        ("kort-wachtw", "the password must be at least 12 characters long"),
        ("welkom123456", "this password is too common or easy to guess ("),
        ("Password1234", "this password is too common or easy to guess ("),
        ("AnPeeters2026!", "it contains your name or e-mail address"),
    ];
    for (password, message) in refused {
        let stderr = server
            .admin_command_fails(&create("an@clb-noord.be"), &[("SAMEN_NEW_PASSWORD", password)])
            .await;
        assert!(stderr.contains(message), "{password}: {stderr}");
        assert!(!stderr.contains(password), "the password is not echoed: {stderr}");
    }
    let stderr = server
        .admin_command_fails(
            &create("an@clb-noord.be"),
            &[("SAMEN_NEW_PASSWORD", "welkom123456")],
        )
        .await;
    assert!(
        stderr.contains("use a longer phrase of unrelated words"),
        "says what to do: {stderr}"
    );

    let db = server.database().await.db;
    let user = db.user_by_email("an@clb-noord.be").await.expect("user");
    assert!(user.is_none(), "a refused password creates no user");

    // A passphrase of unrelated words is taken, and logs in.
    let passphrase = "kastanje fietsbel ochtendmist";
    let out = server
        .admin_command(&create("an@clb-noord.be"), &[("SAMEN_NEW_PASSWORD", passphrase)])
        .await;
    assert!(out.starts_with("created user "), "{out}");
    let login = json!({ "email": "an@clb-noord.be", "password": passphrase });
    let (status, _) = server
        .call("POST", "/api/login", As::Anonymous, Some(login))
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn the_admin_command_line_manages_institutions_users_and_tokens() {
    let server = TestServer::start().await;
    server
        .admin_command(
            &[
                "create-institution",
                "--kind",
                "school",
                "--number",
                "100003",
                "--name",
                "Atheneum Noord",
                "--served-by",
                "900001",
            ],
            &[],
        )
        .await;
    server
        .admin_command(
            &[
                "create-user",
                "--email",
                "noord@demo.test",
                "--name",
                "Lies Noord",
            ],
            &[("SAMEN_NEW_PASSWORD", "geheim-wachtwoord")],
        )
        .await;
    server
        .admin_command(
            &[
                "grant",
                "--email",
                "noord@demo.test",
                "--role",
                "school_dossier",
                "--institution",
                "100003",
            ],
            &[],
        )
        .await;
    let token = server
        .admin_command(
            &["token", "--email", "noord@demo.test", "--name", "koppeling"],
            &[],
        )
        .await;
    assert!(token.starts_with("samen_"));

    let (status, me) = server.call("GET", "/api/me", As::Token(&token), None).await;
    assert_eq!(status, 200);
    assert_eq!(me["user"]["display_name"], "Lies Noord");
    assert_eq!(me["memberships"][0]["institution"]["number"], "100003");
    let (_, schools) = server.call("GET", "/api/schools", As::Token(&token), None).await;
    assert_eq!(schools["schools"][0]["number"], "100003");
    // The CLB serves the new school, so its staff see it too.
    let sara = server.clb().await;
    let (_, schools) = sara.get("/api/schools").await;
    assert_eq!(schools["schools"].as_array().map(Vec::len), Some(3));

    let login = json!({ "email": "noord@demo.test", "password": "geheim-wachtwoord" });
    assert_eq!(
        server
            .call("POST", "/api/login", As::Anonymous, Some(login.clone()))
            .await
            .0,
        200
    );

    server
        .admin_command(
            &[
                "revoke",
                "--email",
                "noord@demo.test",
                "--role",
                "school_dossier",
                "--institution",
                "100003",
            ],
            &[],
        )
        .await;
    let (_, schools) = server.call("GET", "/api/schools", As::Token(&token), None).await;
    assert_eq!(schools["schools"], json!([]));

    server
        .admin_command(&["disable-user", "--email", "noord@demo.test"], &[])
        .await;
    assert_eq!(
        server.call("GET", "/api/me", As::Token(&token), None).await.0,
        401
    );
    assert_eq!(
        server
            .call("POST", "/api/login", As::Anonymous, Some(login))
            .await
            .0,
        401
    );

    let filter = samen_server::db::AuditFilter {
        actor: Some("cli".into()),
        ..Default::default()
    };
    let db = server.database().await.db;
    let actions: Vec<String> = db
        .audit_rows(&filter)
        .await
        .expect("audit")
        .into_iter()
        .map(|r| r.action)
        .collect();
    assert_eq!(
        actions,
        [
            "institution.create",
            "user.create",
            "role.grant",
            "token.create",
            "role.revoke",
            "user.disable"
        ]
    );
}

#[tokio::test]
async fn demo_mode_refuses_a_public_address() {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_samen"))
        .args(["serve", "--demo", "--addr", "0.0.0.0:0", "--data"])
        .arg(tempfile::tempdir().expect("tmp").path())
        .output()
        .await
        .expect("run");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("loopback"));
}

#[tokio::test]
async fn tokens_are_made_from_a_session_with_the_password_and_carry_expiry_and_scope() {
    let server = TestServer::start().await;
    let sara = server.clb().await;
    let browser = sara.session().await;
    let made = |body: serde_json::Value| {
        let browser = &browser;
        async move { browser.post("/api/tokens", body).await }
    };

    // A token cannot make a token (a stolen one could renew itself for ever).
    let (status, body) = sara
        .post("/api/tokens", json!({ "name": "x", "password": "demo" }))
        .await;
    assert_eq!(status, 403, "{body}");
    // The password again, right; and limits that make sense.
    assert_eq!(
        made(json!({ "name": "x" })).await.0,
        400,
        "no password: bad request"
    );
    assert_eq!(made(json!({ "name": "x", "password": "fout" })).await.0, 401);
    assert_eq!(
        made(json!({ "name": "x", "password": "demo", "expires_in_days": 0 }))
            .await
            .0,
        400
    );
    assert_eq!(
        made(json!({ "name": "x", "password": "demo", "expires_in_days": 366 }))
            .await
            .0,
        400
    );
    assert_eq!(
        made(json!({ "name": "x", "password": "demo", "scope": "admin" }))
            .await
            .0,
        400
    );
    let tom = server.school_member("linde").await;
    let toms = tom.session().await;
    let (status, body) = toms
        .post(
            "/api/tokens",
            json!({ "name": "x", "password": "demo", "school": "100002" }),
        )
        .await;
    assert_eq!(status, 400, "not Tom's school: {body}");

    // Made: 90 days by default, read-write; listed with both.
    let (status, body) = made(json!({ "name": "integratie", "password": "demo" })).await;
    assert_eq!(status, 201, "{body}");
    let (_, list) = browser.get("/api/tokens").await;
    let listed = list["tokens"]
        .as_array()
        .expect("tokens")
        .iter()
        .find(|t| t["id"] == body["id"])
        .expect("listed")
        .clone();
    assert_eq!(listed["scope"], "read_write");
    assert_eq!(listed["school"], serde_json::Value::Null);
    let lives = listed["expires_at"].as_i64().expect("expiry") - listed["created_at"].as_i64().expect("made");
    assert_eq!(lives, 90 * 24 * 60 * 60 * 1000);
}

#[tokio::test]
async fn a_read_only_token_reads_and_changes_nothing_a_school_token_sees_one_school() {
    let server = TestServer::start().await;
    let sara = server.clb().await;
    let reg = sara.creates_registration().await;
    let browser = sara.session().await;
    let (status, body) = browser
        .post(
            "/api/tokens",
            json!({ "name": "lezer", "password": "demo", "scope": "read", "school": "100001" }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let reader = body["token"].as_str().expect("token").to_owned();
    let read = As::Token(&reader);

    // Reads work; every change is refused, over REST and over /sync.
    assert_eq!(server.call("GET", &reg.path(""), read, None).await.0, 200);
    let (status, body) = server
        .call(
            "PATCH",
            &reg.path(""),
            read,
            Some(json!({ "title": "Gewijzigd" })),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .expect("message")
            .contains("read")
    );
    let (status, _) = server
        .call(
            "POST",
            &reg.path("/comments"),
            read,
            Some(json!({ "body": "Mag dit?" })),
        )
        .await;
    assert_eq!(status, 403);
    let options = samen_client::Options {
        auth: samen_client::Auth::Bearer(reader.clone()),
        ..samen_client::Options::default()
    };
    let client = samen_client::Client::connect(&server.ws_url(&reg.id), options)
        .await
        .expect("a reader may open the document");
    client.synced(crate::support::WAIT).await.expect("synced");
    crate::support::type_paragraph(&client, "goals", "Dit mag niet blijven staan.");
    let (code, reason) = client.closed(crate::support::WAIT).await.expect("closed");
    assert_eq!((code, reason.as_str()), (1008, "permission-denied"));
    let (_, content) = sara.get(reg.path("/content")).await;
    assert_eq!(
        content["sections"]["goals"], "",
        "nothing a reader typed was kept"
    );

    // Limited to De Linde: Het Anker is not there for it (404, as for a stranger).
    let (_, schools) = server.call("GET", "/api/schools", read, None).await;
    let numbers: Vec<&str> = schools["schools"]
        .as_array()
        .expect("schools")
        .iter()
        .filter_map(|s| s["number"].as_str())
        .collect();
    assert_eq!(numbers, ["100001"]);
    let (status, _) = server
        .call("GET", "/api/schools/100002/registrations", read, None)
        .await;
    assert_eq!(status, 404);
    let (status, _) = sara.get("/api/schools/100002/registrations").await;
    assert_eq!(status, 200, "Sara herself still reaches both schools");
}

#[tokio::test]
async fn an_expired_token_opens_nothing() {
    let server = TestServer::start().await;
    let expired = server
        .admin_command(
            &[
                "token",
                "--email",
                "clb@demo.test",
                "--name",
                "oud",
                "--expires-days",
                "0",
            ],
            &[],
        )
        .await;
    let (status, _) = server.call("GET", "/api/me", As::Token(&expired), None).await;
    assert_eq!(status, 401);
    let fresh = server
        .admin_command(&["token", "--email", "clb@demo.test", "--name", "nieuw"], &[])
        .await;
    assert_eq!(
        server.call("GET", "/api/me", As::Token(&fresh), None).await.0,
        200
    );
}

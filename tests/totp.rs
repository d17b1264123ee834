//! Two-step verification (TOTP): a user sets it up from a session with the password
//! again, confirms it with a code from their app and gets recovery codes; from then on a
//! right password alone opens no session. Codes are computed here from the secret the
//! server handed out, as an authenticator app would (RFC 6238, `samen_server::auth::totp`,
//! whose unit tests hold it to the RFC's own test vectors).

use std::time::Duration;

use samen_server::auth::totp::{code_at, step_at};
use serde_json::{Value, json};

use crate::support::{Answer, As, LINDE, Person, Session, TestServer};

/// The pending id of a login whose password was right; no session yet.
fn awaits_code(answer: &Answer) -> String {
    assert_eq!(
        answer.status, 202,
        "the password asks for the code: {}",
        answer.body
    );
    assert_eq!(answer.body["second_factor"], "totp");
    assert!(answer.cookie.is_none(), "no session for the password alone");
    answer.body["pending"].as_str().expect("pending").to_owned()
}

async fn post(server: &TestServer, path: &str, body: Value) -> Answer {
    let request = reqwest::Client::new().post(server.url(path)).json(&body);
    Answer::read(request.send().await.expect("login request")).await
}

/// The first step: e-mail address and password.
async fn password_step(server: &TestServer, email: &str, password: &str) -> Answer {
    post(
        server,
        "/api/login",
        json!({ "email": email, "password": password }),
    )
    .await
}

/// The second step: the code (or a recovery code) for a waiting login.
async fn code_step(server: &TestServer, pending: &str, code: &str) -> Answer {
    post(
        server,
        "/api/login/totp",
        json!({ "pending": pending, "code": code }),
    )
    .await
}

/// What an authenticator app holds: the secret, read from its base32.
struct App {
    secret: Vec<u8>,
}

impl App {
    /// The code of a time step, as six digits.
    fn code(&self, step: i64) -> String {
        format!("{:06}", code_at(&self.secret, step))
    }

    /// A six-digit code that is none of the codes of the steps around now.
    fn wrong_code(&self, now: i64) -> String {
        let taken: Vec<String> = (now - 3..=now + 3).map(|s| self.code(s)).collect();
        (0..)
            .map(|n: u32| format!("{:06}", (n * 7_919) % 1_000_000))
            .find(|c| !taken.contains(c))
            .expect("a wrong code")
    }
}

/// The current time step.
fn now_step() -> i64 {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_millis();
    step_at(i64::try_from(ms).expect("ms"))
}

/// Someone sets up two-step verification in their session: the secret, confirmed with
/// the current code. Returns their app, the recovery codes and the step of the code used.
async fn enrols(session: &Session<'_>) -> (App, Vec<String>, i64) {
    let (status, setup) = session
        .post("/api/account/totp/setup", json!({ "password": "demo" }))
        .await;
    assert_eq!(status, 200, "set up: {setup}");
    let base32 = setup["secret"].as_str().expect("secret");
    let secret = data_encoding::BASE32_NOPAD
        .decode(base32.as_bytes())
        .expect("base32");
    let app = App { secret };
    let step = now_step();
    let (status, confirmed) = session
        .post("/api/account/totp/confirm", json!({ "code": app.code(step) }))
        .await;
    assert_eq!(status, 200, "confirm: {confirmed}");
    let codes: Vec<String> = confirmed["recovery_codes"]
        .as_array()
        .expect("recovery codes")
        .iter()
        .map(|c| c.as_str().expect("code").to_owned())
        .collect();
    (app, codes, step)
}

/// The actions of a person's audit entries with their outcomes, oldest first.
async fn audited(person: &Person<'_>) -> Vec<String> {
    person
        .server()
        .audit_log(&["--user", person.email])
        .await
        .iter()
        .map(|row| {
            format!(
                "{}:{}",
                row["action"].as_str().unwrap_or_default(),
                row["outcome"].as_str().unwrap_or_default()
            )
        })
        .collect()
}

#[tokio::test]
async fn a_login_with_two_step_verification_needs_a_code_once() {
    let server = TestServer::start().await;
    let tom = server.school_member("linde").await;
    let browser = tom.session().await;
    let (status, off) = browser.get("/api/account/totp").await;
    assert_eq!(status, 200);
    assert_eq!(
        off,
        json!({ "enabled": false, "enabled_at": null, "recovery_codes_left": 0 })
    );

    // Setting up takes the password again, and an unconfirmed secret changes no login.
    let (status, wrong) = browser
        .post("/api/account/totp/setup", json!({ "password": "wrong" }))
        .await;
    assert_eq!(status, 401, "{wrong}");
    assert_eq!(wrong["error"]["code"], "invalid_credentials");
    let (status, setup) = browser
        .post("/api/account/totp/setup", json!({ "password": "demo" }))
        .await;
    assert_eq!(status, 200, "{setup}");
    let uri = setup["otpauth_uri"].as_str().expect("uri");
    let secret = setup["secret"].as_str().expect("secret");
    assert!(
        uri.starts_with("otpauth://totp/Samen%3Alinde%40demo%2Etest?secret=")
            && uri.contains(secret)
            && uri.contains("issuer=Samen"),
        "{uri}"
    );
    assert_eq!(
        (setup["digits"].as_u64(), setup["period_secs"].as_u64()),
        (Some(6), Some(30))
    );
    assert_eq!(
        password_step(&server, LINDE, "demo").await.status,
        200,
        "not confirmed yet"
    );

    // Confirming takes a code of the new secret (a wrong one is refused), and gives ten
    // recovery codes.
    let (app, recovery, confirmed_step) = {
        let app = App {
            secret: data_encoding::BASE32_NOPAD
                .decode(secret.as_bytes())
                .expect("base32"),
        };
        let (status, refused) = browser
            .post(
                "/api/account/totp/confirm",
                json!({ "code": app.wrong_code(now_step()) }),
            )
            .await;
        assert_eq!(status, 401, "{refused}");
        assert_eq!(refused["error"]["code"], "invalid_code");
        let step = now_step();
        let (status, confirmed) = browser
            .post("/api/account/totp/confirm", json!({ "code": app.code(step) }))
            .await;
        assert_eq!(status, 200, "{confirmed}");
        let codes: Vec<String> = serde_json::from_value(confirmed["recovery_codes"].clone()).expect("codes");
        (app, codes, step)
    };
    assert_eq!(recovery.len(), 10);
    let (_, on) = browser.get("/api/account/totp").await;
    assert_eq!(on["enabled"], true, "{on}");
    assert_eq!(on["recovery_codes_left"], 10);

    // The password alone opens no session now.
    let pending = awaits_code(&password_step(&server, LINDE, "demo").await);
    let wrong = code_step(&server, &pending, &app.wrong_code(now_step())).await;
    assert_eq!(
        (wrong.status, wrong.code()),
        (401, "invalid_code"),
        "{}",
        wrong.body
    );
    let replayed = code_step(&server, &pending, &app.code(confirmed_step)).await;
    assert_eq!(
        (replayed.status, replayed.code()),
        (401, "invalid_code"),
        "the code used to confirm is used up"
    );
    assert!(replayed.cookie.is_none());
    let next = app.code(confirmed_step + 1);
    let logged_in = code_step(&server, &pending, &next).await;
    assert_eq!(logged_in.status, 200, "{}", logged_in.body);
    assert_eq!(logged_in.body["user"]["email"], LINDE);
    let cookie = logged_in.cookie.expect("a session cookie");
    let (status, me) = Session::with_cookie(&server, cookie).get("/api/me").await;
    assert_eq!(status, 200, "the session works: {me}");
    assert_eq!(
        code_step(&server, &pending, &next).await.code(),
        "login_expired",
        "a pending id opens one session only"
    );

    // The same code in another login is a replay.
    let pending = awaits_code(&password_step(&server, LINDE, "demo").await);
    let again = code_step(&server, &pending, &next).await;
    assert_eq!((again.status, again.code()), (401, "invalid_code"));

    // A recovery code works, once, typed as people type it.
    let typed = recovery[3].to_uppercase().replace('-', " ");
    let recovered = code_step(&server, &pending, &typed).await;
    assert_eq!(recovered.status, 200, "{}", recovered.body);
    assert!(recovered.cookie.is_some());
    let pending = awaits_code(&password_step(&server, LINDE, "demo").await);
    let used = code_step(&server, &pending, &recovery[3]).await;
    assert_eq!((used.status, used.code()), (401, "invalid_code"), "used up");
    let (_, left) = browser.get("/api/account/totp").await;
    assert_eq!(left["recovery_codes_left"], 9);

    // Every step is in the audit log.
    let log = audited(&tom).await;
    for expected in [
        "totp.setup:denied",
        "totp.setup:ok",
        "totp.enable:denied",
        "totp.enable:ok",
        "login.password:ok",
        "login.totp:denied",
        "login.recovery_code:ok",
        "login:ok",
    ] {
        assert!(log.iter().any(|e| e == expected), "{expected} in {log:?}");
    }
    assert_eq!(
        log.iter().filter(|e| *e == "login.totp:denied").count(),
        4,
        "wrong, replayed, replayed elsewhere, used up: {log:?}"
    );
}

#[tokio::test]
async fn wrong_codes_count_against_the_login_throttle() {
    let server = TestServer::start().await;
    let tom = server.school_member("linde").await;
    let (app, _, step) = enrols(&tom.session().await).await;

    // Three wrong codes, then the right password again, then two more wrong codes: the
    // password in between forgave nothing, so the account's five free failures are spent.
    let pending = awaits_code(&password_step(&server, LINDE, "demo").await);
    for _ in 0..3 {
        let answer = code_step(&server, &pending, &app.wrong_code(now_step())).await;
        assert_eq!(answer.code(), "invalid_code", "{}", answer.body);
    }
    let pending = awaits_code(&password_step(&server, LINDE, "demo").await);
    for _ in 0..2 {
        let answer = code_step(&server, &pending, &app.wrong_code(now_step())).await;
        assert_eq!(answer.code(), "invalid_code", "{}", answer.body);
    }
    let throttled = code_step(&server, &pending, &app.code(step + 1)).await;
    assert_eq!(throttled.status, 429, "{}", throttled.body);
    assert_eq!(throttled.code(), "too_many_attempts");
    let wait = throttled.retry_after.expect("Retry-After");
    let password = password_step(&server, LINDE, "demo").await;
    assert_eq!(password.status, 429, "the password waits too: {}", password.body);

    // After the wait, the right code gets in, and the account starts afresh.
    tokio::time::sleep(Duration::from_secs(wait) + Duration::from_millis(100)).await;
    let answer = code_step(&server, &pending, &app.code(step + 1)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);

    // Five wrong codes end a waiting login: the password is asked again.
    let pending = awaits_code(&password_step(&server, LINDE, "demo").await);
    for i in 0..5 {
        let answer = code_step(&server, &pending, &app.wrong_code(now_step())).await;
        let expected = if i < 4 { "invalid_code" } else { "login_expired" };
        assert_eq!(answer.code(), expected, "wrong code {}: {}", i + 1, answer.body);
    }
    let gone = code_step(&server, &pending, &app.code(step + 2)).await;
    assert_eq!((gone.status, gone.code()), (401, "login_expired"));
    let denied = audited(&tom)
        .await
        .iter()
        .filter(|e| *e == "login.totp:denied")
        .count();
    assert_eq!(denied, 10, "each wrong code audited");
}

#[tokio::test]
async fn turning_it_off_takes_the_password_and_a_code() {
    let server = TestServer::start().await;
    let tom = server.school_member("linde").await;
    let browser = tom.session().await;

    // Not with an API token: it outlives the session, like a token.
    let (status, body) = server
        .call(
            "POST",
            "/api/account/totp/setup",
            As::Token(&tom.token),
            Some(json!({ "password": "demo" })),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    let (status, _) = browser
        .post(
            "/api/account/totp/disable",
            json!({ "password": "demo", "code": "123456" }),
        )
        .await;
    assert_eq!(status, 409, "nothing to turn off");

    let (app, _, step) = enrols(&browser).await;
    let (status, again) = browser
        .post("/api/account/totp/setup", json!({ "password": "demo" }))
        .await;
    assert_eq!(status, 409, "on already: {again}");
    let off = |password: &str, code: String| json!({ "password": password, "code": code });
    let (status, body) = browser
        .post("/api/account/totp/disable", off("wrong", app.code(step + 1)))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("invalid_credentials"))
    );
    let (status, body) = browser
        .post("/api/account/totp/disable", off("demo", app.code(step)))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("invalid_code")),
        "the code that confirmed it is used up"
    );
    let (status, body) = server
        .call(
            "POST",
            "/api/account/totp/disable",
            As::Token(&tom.token),
            Some(off("demo", app.code(step + 1))),
        )
        .await;
    assert_eq!(status, 403, "not with a token: {body}");
    let (status, body) = browser
        .post("/api/account/totp/disable", off("demo", app.code(step + 1)))
        .await;
    assert_eq!(status, 204, "{body}");
    let (_, status_now) = browser.get("/api/account/totp").await;
    assert_eq!(status_now["enabled"], false);
    assert_eq!(password_step(&server, LINDE, "demo").await.status, 200);
    let log = audited(&tom).await;
    for expected in ["totp.disable:denied", "totp.disable:ok"] {
        assert!(log.iter().any(|e| e == expected), "{expected} in {log:?}");
    }
}

#[tokio::test]
async fn an_admin_resets_it_for_someone_who_lost_their_phone() {
    let server = TestServer::start().await;
    let tom = server.school_member("linde").await;
    enrols(&tom.session().await).await;
    awaits_code(&password_step(&server, LINDE, "demo").await);

    let said = server.admin_command(&["reset-totp", "--email", LINDE], &[]).await;
    assert!(
        said.contains("two-step verification is off for linde@demo.test"),
        "{said}"
    );
    assert_eq!(
        password_step(&server, LINDE, "demo").await.status,
        200,
        "the password alone again"
    );
    let refused = server
        .admin_command_fails(&["reset-totp", "--email", LINDE], &[])
        .await;
    assert!(refused.contains("nothing to reset"), "{refused}");
    let reset: Vec<Value> = server.audit_log(&["--user", "cli"]).await;
    assert!(
        reset
            .iter()
            .any(|row| row["action"] == "totp.reset" && row["target"] == LINDE),
        "{reset:?}"
    );
    // The user can set it up again.
    enrols(&tom.session().await).await;
}

/// Sessions opened with the password alone end when two-step verification is turned on
/// (one on a shared computer, or a stolen one); the session that turned it on goes on.
#[tokio::test]
async fn turning_it_on_ends_the_users_other_sessions() {
    let server = TestServer::start().await;
    let tom = server.school_member("linde").await;
    let elsewhere = tom.session().await;
    assert_eq!(elsewhere.get("/api/me").await.0, 200);
    let here = tom.session().await;
    enrols(&here).await;
    assert_eq!(elsewhere.get("/api/me").await.0, 401, "the other session ended");
    assert_eq!(here.get("/api/me").await.0, 200, "this one goes on");
    assert_eq!(tom.get("/api/me").await.0, 200, "API tokens are not sessions");
}

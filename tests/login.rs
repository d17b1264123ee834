//! Logging in under pressure: attempts are counted before their password is checked,
//! password checks at once are bounded, over-long input is refused before anything else,
//! and the client's address comes from `X-Forwarded-For` only behind a trusted proxy.

use std::time::Duration;

use futures_util::future::join_all;
use serde_json::json;

use crate::support::{ADMIN, ANKER, Answer, CLB, LINDE, TestServer};

/// `POST /api/login`, from a proxy that says it forwards for `forwarded_for` if given.
async fn log_in(server: &TestServer, email: &str, password: &str, forwarded_for: Option<&str>) -> Answer {
    let mut request = reqwest::Client::new()
        .post(server.url("/api/login"))
        .json(&json!({ "email": email, "password": password }));
    if let Some(client) = forwarded_for {
        request = request.header("x-forwarded-for", client);
    }
    Answer::read(request.send().await.expect("login request")).await
}

/// Audit entries of denied logins.
async fn denied_logins(server: &TestServer) -> i64 {
    let rows = server.database().await.audit("login").await;
    rows.iter()
        .filter(|r| r.action == "login" && r.outcome == "denied")
        .count() as i64
}

#[tokio::test]
async fn parallel_wrong_passwords_are_counted_before_they_are_checked() {
    let server = TestServer::start().await;
    let answers = join_all((0..12).map(|_| log_in(&server, LINDE, "wrong", None))).await;
    let denied = answers.iter().filter(|a| a.status == 401).count();
    assert_eq!(denied, 5, "five free failures, however many arrive at once");
    for refused in answers.iter().filter(|a| a.status != 401) {
        assert_eq!(refused.status, 429, "{}", refused.body);
        assert_eq!(refused.code(), "too_many_attempts");
        assert!(refused.retry_after.is_some_and(|s| s >= 1), "Retry-After");
    }
    assert_eq!(denied_logins(&server).await, 5, "refusals write no audit entry");

    // Now even the right password waits, for as long as Retry-After says.
    let right = log_in(&server, LINDE, "demo", None).await;
    assert_eq!(right.status, 429, "{}", right.body);
    let wait = right.retry_after.expect("Retry-After");
    assert_eq!(wait, 1);
    tokio::time::sleep(Duration::from_secs(wait) + Duration::from_millis(100)).await;
    assert_eq!(log_in(&server, LINDE, "demo", None).await.status, 200);
    // The success forgave the account's failures.
    for _ in 0..5 {
        assert_eq!(log_in(&server, LINDE, "wrong", None).await.status, 401);
    }
}

#[tokio::test]
async fn over_long_input_is_refused_before_anything_else() {
    let server = TestServer::start().await;
    let long_email = format!("{}@demo.test", "a".repeat(245));
    assert_eq!(long_email.len(), 255);
    let long_password = "x".repeat(1025);
    for _ in 0..20 {
        let answer = log_in(&server, &long_email, "demo", None).await;
        assert_eq!(answer.status, 400, "{}", answer.body);
        assert_eq!(answer.code(), "bad_request");
        assert!(
            answer.body["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("254")
        );
        let answer = log_in(&server, LINDE, &long_password, None).await;
        assert_eq!(answer.status, 400, "{}", answer.body);
    }
    assert_eq!(denied_logins(&server).await, 0, "nothing written down");
    // Nor counted: after forty refusals the account and the address are as fresh as ever.
    assert_eq!(log_in(&server, LINDE, "demo", None).await.status, 200);

    // The longest allowed are checked as usual.
    let at_limit = format!("{}@demo.test", "a".repeat(244));
    assert_eq!(log_in(&server, &at_limit, "wrong", None).await.status, 401);
    assert_eq!(log_in(&server, LINDE, &"x".repeat(1024), None).await.status, 401);
}

#[tokio::test]
async fn password_checks_at_once_are_bounded_and_the_rest_told_to_retry() {
    let server = TestServer::start_with(&["--hash-concurrency", "1"]).await;
    let people = [CLB, LINDE, ANKER, ADMIN];
    let answers = join_all((0..20).map(|i| log_in(&server, people[i % 4], "demo", None))).await;
    let busy: Vec<&Answer> = answers.iter().filter(|a| a.status == 503).collect();
    assert!(!busy.is_empty(), "one check at a time, and twenty logins at once");
    for answer in &busy {
        assert_eq!(answer.code(), "unavailable");
        assert_eq!(answer.retry_after, Some(1), "Retry-After");
    }
    assert!(answers.iter().any(|a| a.status == 200), "some got through");
    for answer in &answers {
        assert!(
            [200, 429, 503].contains(&answer.status),
            "{}: {}",
            answer.status,
            answer.body
        );
    }
    // Refused before their check, they count against nobody.
    for email in people {
        assert_eq!(log_in(&server, email, "demo", None).await.status, 200);
    }
}

/// Twelve wrong passwords at once, on twelve accounts, from `clients` (the proxy's
/// `X-Forwarded-For` for each, or none); the numbers answered 401 and 429.
async fn twelve_guesses(server: &TestServer, clients: impl Fn(usize) -> Option<String>) -> (usize, usize) {
    let answers = join_all((0..12).map(|i| {
        let client = clients(i);
        async move {
            let email = format!("nobody{i}@demo.test");
            log_in(server, &email, "wrong", client.as_deref()).await
        }
    }))
    .await;
    let count = |status| answers.iter().filter(|a| a.status == status).count();
    (count(401), count(429))
}

#[tokio::test]
async fn forwarded_addresses_count_only_from_a_trusted_proxy() {
    // Twelve at once, so that the address's quota (ten at once, then one a second) has no
    // time to refill; enough password checks at once that none is refused as busy.
    let checks = ["--hash-concurrency", "12"];

    // No trusted proxy: the header is anyone's to make up, and ignored.
    let server = TestServer::start_with(&checks).await;
    let spoofed = twelve_guesses(&server, |i| Some(format!("203.0.113.{i}"))).await;
    assert_eq!(
        spoofed,
        (10, 2),
        "the socket's address counts, whatever the header says"
    );

    // Behind a trusted proxy (the tests' own address), each client counts on its own.
    let server = TestServer::start_with(&[checks[0], checks[1], "--trusted-proxy", "127.0.0.1"]).await;
    // The left entry is made up by the client; the proxy appended the right one.
    let one_client = twelve_guesses(&server, |_| Some("198.51.100.99, 203.0.113.7".into())).await;
    assert_eq!(one_client, (10, 2));
    let other = log_in(&server, "x@demo.test", "wrong", Some("203.0.113.8")).await;
    assert_eq!(
        other.status, 401,
        "another client behind the proxy is not locked out"
    );
    assert_eq!(
        log_in(&server, CLB, "demo", Some("203.0.113.9")).await.status,
        200
    );
    assert_eq!(
        log_in(&server, CLB, "demo", None).await.status,
        200,
        "the proxy's own"
    );

    // IPv6 clients count per /64: another address in it is no way out.
    let one_64 = twelve_guesses(&server, |i| Some(format!("2001:db8:1:2::{:x}", i + 1))).await;
    assert_eq!(one_64, (10, 2));
    let next = log_in(&server, "x@demo.test", "wrong", Some("2001:db8:1:3::1")).await;
    assert_eq!(next.status, 401, "the next /64 is another client");
}

/// Someone holding a stolen session cannot guess the password through token creation, which
/// asks for it again: those guesses count in the login throttle too.
#[tokio::test]
async fn password_guesses_when_making_a_token_count_as_login_failures() {
    let server = TestServer::start().await;
    let tom = server.school_member("linde").await;
    let session = tom.session().await;
    let guess = json!({ "name": "x", "password": "wrong" });
    for _ in 0..5 {
        assert_eq!(session.post("/api/tokens", guess.clone()).await.0, 401);
    }
    let (status, body) = session.post("/api/tokens", guess.clone()).await;
    assert_eq!(status, 429, "throttled: {body}");
    assert_eq!(body["error"]["code"], "too_many_attempts");
    // The account's cells are spent: the right password waits at the login too.
    assert_eq!(log_in(&server, LINDE, "demo", None).await.status, 429);
}

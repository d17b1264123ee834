//! Rights that end while a connection is open: a withdrawn role, a disabled user, a logout
//! and a revoked token close the user's open documents and event streams within seconds,
//! and leave everyone else's alone.

use std::time::Duration;

use samen_client::{Auth, Client, Options};

use crate::support::{Reg, Session, TestServer, WAIT, type_paragraph};

/// How long the server may take to notice (its check runs every second in these tests).
const NOTICE: Duration = Duration::from_secs(5);

#[tokio::test]
async fn a_withdrawn_role_and_a_disabled_user_close_their_open_documents() {
    let server = TestServer::start_with(&["--access-check-secs", "1"]).await;
    let sara = server.clb().await;
    let tom = server.school_member("linde").await;
    let reg = sara.creates_registration().await;
    let sara_editor = sara.opens(&reg).await;
    let tom_editor = tom.opens(&reg).await;

    // The school withdraws Tom's role: his open document closes, Sara's stays.
    server.withdraws_role(&tom, "school_dossier", "100001").await;
    let (code, reason) = tom_editor.closed(NOTICE).await.expect("Tom's document closes");
    assert_eq!((code, reason.as_str()), (1008, "access ended; log in again"));
    type_paragraph(&sara_editor, "goals", "Sara werkt verder.");
    sara_editor
        .durable(WAIT)
        .await
        .expect("Sara's edits are still stored");
    assert_eq!(sara_editor.status().closed, None);

    // Given back, then the account disabled: closed again.
    server.grants_role(&tom, "school_dossier", "100001").await;
    let tom_editor = tom.opens(&reg).await;
    server
        .admin_command(&["disable-user", "--email", tom.email], &[])
        .await;
    let (code, _) = tom_editor
        .closed(NOTICE)
        .await
        .expect("a disabled user's document closes");
    assert_eq!(code, 1008);
    assert_eq!(sara_editor.status().closed, None);
}

#[tokio::test]
async fn a_logout_closes_the_sessions_documents_and_event_stream_at_once() {
    // The regular check is far away: only the logout's own re-check can close them in time.
    let server = TestServer::start_with(&["--access-check-secs", "3600"]).await;
    let sara = server.clb().await;
    let tom = server.school_member("linde").await;
    let reg = sara.creates_registration().await;
    let browser = tom.session().await;
    let other_tab = tom.session().await;

    let editor = opens_in_browser(&server, &browser, &reg).await;
    let mut events = school_events(&server, &browser).await;
    let first = tokio::time::timeout(WAIT, events.chunk())
        .await
        .expect("first event");
    assert!(
        matches!(first, Ok(Some(_))),
        "the stream opens with the presence list"
    );
    let tokens_editor = tom.opens(&reg).await;

    assert_eq!(browser.post("/api/logout", None).await.0, 204);
    let (code, _) = editor
        .closed(NOTICE)
        .await
        .expect("the session's document closes");
    assert_eq!(code, 1008);
    assert!(
        ends_within(&mut events, NOTICE).await,
        "the session's event stream ends"
    );

    // Tom's other session and his API token are other credentials: they stay.
    assert_eq!(other_tab.get("/api/me").await.0, 200);
    assert_eq!(tokens_editor.status().closed, None);

    // Revoking the token closes what it opened, at once too.
    let (_, tokens) = tom.get("/api/tokens").await;
    let id = tokens["tokens"][0]["id"].as_str().expect("token id").to_owned();
    assert_eq!(other_tab.delete(format!("/api/tokens/{id}")).await.0, 204);
    let (code, _) = tokens_editor
        .closed(NOTICE)
        .await
        .expect("the token's document closes");
    assert_eq!(code, 1008);
}

#[tokio::test]
async fn an_expired_session_ends_its_event_stream() {
    let server = TestServer::start_with(&["--access-check-secs", "1", "--session-secs", "2"]).await;
    let tom = server.school_member("linde").await;
    let browser = tom.session().await;
    let mut events = school_events(&server, &browser).await;
    assert!(
        ends_within(&mut events, Duration::from_secs(2) + NOTICE).await,
        "the stream ends once its session has expired"
    );
    assert_eq!(browser.get("/api/me").await.0, 401);
}

#[tokio::test]
async fn an_idle_session_ends_its_event_stream() {
    let server = TestServer::start_with(&["--access-check-secs", "1", "--session-idle-secs", "2"]).await;
    let tom = server.school_member("linde").await;
    let browser = tom.session().await;
    let mut events = school_events(&server, &browser).await;
    // An open stream is not use: a tab left open on a shared computer ends too.
    assert!(
        ends_within(&mut events, Duration::from_secs(2) + NOTICE).await,
        "the stream ends once its session is idle"
    );
    assert_eq!(browser.get("/api/me").await.0, 401);
}

#[tokio::test]
async fn typing_keeps_a_session_in_use_and_an_idle_one_ends() {
    let server = TestServer::start_with(&["--session-idle-secs", "3", "--access-check-secs", "1"]).await;
    let sara = server.clb().await;
    let tom = server.school_member("linde").await;
    let reg = sara.creates_registration().await;
    let typing = tom.session().await;
    let idle = tom.session().await;
    let typist = opens_in_browser(&server, &typing, &reg).await;
    let onlooker = opens_in_browser(&server, &idle, &reg).await;

    // Twice the idle time of typing and nothing else: the typist's session stays, the
    // onlooker's (an open tab, no edits) ends and its document closes.
    for i in 0..9 {
        type_paragraph(&typist, "goals", &format!("Punt {i} van het overleg."));
        typist.durable(WAIT).await.expect("stored");
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    assert_eq!(typist.status().closed, None, "typing keeps the session in use");
    assert_eq!(typing.get("/api/me").await.0, 200);
    let (code, _) = onlooker
        .closed(NOTICE)
        .await
        .expect("the idle session's document closes");
    assert_eq!(code, 1008);
    assert_eq!(idle.get("/api/me").await.0, 401);
}

/// De Linde's live event stream, opened with the cookie of `browser` as the app opens it.
async fn school_events(server: &TestServer, browser: &Session<'_>) -> reqwest::Response {
    let events = reqwest::Client::new()
        .get(server.url("/api/schools/100001/events"))
        .header("cookie", &browser.cookie)
        .send()
        .await
        .expect("event stream");
    assert_eq!(events.status(), 200);
    events
}

/// Whether an event stream ends within `within`.
async fn ends_within(events: &mut reqwest::Response, within: Duration) -> bool {
    tokio::time::timeout(within, async { while let Ok(Some(_)) = events.chunk().await {} })
        .await
        .is_ok()
}

/// A registration's document opened with the cookie of `browser`, as the app opens it.
async fn opens_in_browser(server: &TestServer, browser: &Session<'_>, reg: &Reg) -> Client {
    let options = Options {
        auth: Auth::Session {
            session: browser
                .cookie
                .strip_prefix("samen_session=")
                .expect("cookie")
                .to_owned(),
            origin: browser.origin.clone(),
        },
        acks: true,
        ..Options::default()
    };
    let client = Client::connect(&server.ws_url(&reg.id), options)
        .await
        .expect("connect with the session");
    client.synced(WAIT).await.expect("synced");
    client
}

//! Timeouts: a client that is slow on purpose (half a header, a body that never comes, a
//! connection that never closes) costs the server a bounded time, one person cannot open
//! WebSockets without end, and shutdown ends on time.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{TestServer, WAIT, eventually};

/// Reads until the server closes the connection (or `within` passes: `None`); returns what
/// it sent.
async fn until_closed(stream: &mut TcpStream, within: Duration) -> Option<String> {
    let mut got = Vec::new();
    match tokio::time::timeout(within, stream.read_to_end(&mut got)).await {
        Ok(_) => Some(String::from_utf8_lossy(&got).into_owned()),
        Err(_) => None,
    }
}

#[tokio::test]
async fn a_client_that_sends_half_a_header_is_disconnected_after_the_header_timeout() {
    let server = TestServer::start_with(&["--header-timeout-secs", "2", "--keep-alive-secs", "1"]).await;
    // Timed from before the connection: the server's clock starts when it accepts, which
    // may come before this task runs again after `connect` (it once measured 1.995 s).
    let started = Instant::now();
    let mut slow = TcpStream::connect(server.addr()).await.expect("connect");
    slow.write_all(b"GET /api/config HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        .await
        .expect("half a header");
    // Still connected after the keep-alive (it is no idle connection: a request is coming)…
    assert_eq!(
        until_closed(&mut slow, Duration::from_millis(1200)).await,
        None,
        "dropped before the header timeout"
    );
    // …and dropped once the header timeout has passed.
    let closed = until_closed(&mut slow, Duration::from_secs(5)).await;
    let waited = started.elapsed();
    assert!(closed.is_some(), "still connected after {waited:?}");
    assert!(
        waited >= Duration::from_secs(2) && waited < Duration::from_secs(6),
        "dropped after {waited:?}"
    );
    // The server goes on answering everyone else.
    let ok = reqwest::get(server.url("/healthz")).await.expect("healthz");
    assert!(ok.status().is_success());
}

#[tokio::test]
async fn an_api_call_whose_body_never_comes_is_answered_after_the_request_timeout() {
    let server = TestServer::start_with(&["--request-timeout-secs", "1"]).await;
    let mut slow = TcpStream::connect(server.addr()).await.expect("connect");
    let started = Instant::now();
    slow.write_all(
        b"POST /api/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
          Content-Length: 100\r\n\r\n{\"email\":",
    )
    .await
    .expect("a head and a bit of the body");
    let mut answer = vec![0; 4096];
    let n = tokio::time::timeout(WAIT, slow.read(&mut answer))
        .await
        .expect("answered in time")
        .expect("read");
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("\"code\":\"timeout\""), "{answer}");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
}

#[tokio::test]
async fn one_person_may_have_only_so_many_websockets_open() {
    let server = TestServer::start_with(&["--max-sockets-per-user", "2"]).await;
    let sara = server.clb().await;
    let tom = server.school_member("linde").await;
    let reg = sara.creates_registration().await;
    let first = sara.opens(&reg).await;
    let _second = sara.opens(&reg).await;
    let bearer = format!("Bearer {}", sara.token);
    assert_eq!(
        server.ws_status(&reg.id, &[("authorization", &bearer)]).await,
        429,
        "a third connection is refused before the upgrade"
    );
    let _toms = tom.opens(&reg).await;

    // A closed connection gives its place back.
    drop(first);
    let start = Instant::now();
    loop {
        let status = server.ws_status(&reg.id, &[("authorization", &bearer)]).await;
        if status == 101 {
            break;
        }
        assert_eq!(status, 429);
        assert!(start.elapsed() < WAIT, "the place never came back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn shutdown_ends_within_its_deadline_even_when_clients_never_finish() {
    let server = TestServer::start_with(&["--shutdown-secs", "2"]).await;
    let sara = server.clb().await;
    let reg = sara.creates_registration().await;
    let editor = sara.opens(&reg).await;
    // A request whose body never comes (the request timeout is 30 s)…
    let mut body = TcpStream::connect(server.addr()).await.expect("connect");
    body.write_all(
        b"POST /api/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
          Content-Length: 100\r\n\r\n{",
    )
    .await
    .expect("part of a request");
    // …and one whose headers never end (the header timeout is 10 s).
    let mut head = TcpStream::connect(server.addr()).await.expect("connect");
    head.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .expect("half a header");
    tokio::time::sleep(Duration::from_millis(200)).await;

    let started = Instant::now();
    assert!(server.stop().await, "the server exits cleanly");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "shutdown took {took:?}");
    eventually("the editor sees the server go", || {
        editor.status().closed.is_some()
    })
    .await;
}

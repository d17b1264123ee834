//! Live sync: clients of every kind converge, presence is relayed and cleaned up, rooms
//! unload when idle, and slow clients are dropped instead of growing the server.

use std::time::Duration;

use samen_client::{Client, Options};
use tokio::process::Command;

use crate::support::{TestServer, WAIT, eventually, node_dir, paragraphs, type_paragraph};

#[tokio::test]
async fn two_rust_clients_and_a_yjs_client_converge() {
    let server = TestServer::start().await;
    let sara = server.clb().await;
    let reg = sara.creates_registration().await;
    let a = sara.opens(&reg).await;
    let b = sara.opens(&reg).await;
    const EDITS: usize = 20;

    // The Node peer (yjs + y-websocket's WebsocketProvider over `ws`) types while we do.
    let node = Command::new("node")
        .arg(node_dir().join("yjs-peer.mjs"))
        .args([
            &format!("ws://{}/sync", server.addr()),
            &reg.id,
            "node",
            &EDITS.to_string(),
            &(3 * EDITS).to_string(),
            &sara.token,
        ])
        .current_dir(node_dir())
        .output();
    let rust_edits = async {
        for i in 0..EDITS {
            type_paragraph(&a, "goals", &format!("a{i}"));
            type_paragraph(&b, "goals", &format!("b{i}"));
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    let (node, ()) = tokio::join!(node, rust_edits);
    let node = node.expect("run node (is Node.js installed? run the README's test command)");
    assert!(
        node.status.success(),
        "node peer failed: {}\n{}",
        String::from_utf8_lossy(&node.stdout),
        String::from_utf8_lossy(&node.stderr)
    );
    let node_paragraphs: Vec<String> =
        serde_json::from_slice(&node.stdout).expect("node prints the paragraphs as JSON");

    eventually("rust clients see all edits", || {
        paragraphs(a.doc(), "goals").len() == 3 * EDITS && paragraphs(b.doc(), "goals").len() == 3 * EDITS
    })
    .await;
    let in_a = paragraphs(a.doc(), "goals");
    assert_eq!(in_a, paragraphs(b.doc(), "goals"));
    assert_eq!(
        in_a, node_paragraphs,
        "the Yjs peer converged to the same content"
    );
    for who in ["a", "b", "node"] {
        for i in 0..EDITS {
            assert!(in_a.contains(&format!("{who}{i}")), "{who}{i} missing");
        }
    }

    // A newcomer gets the same document from the server.
    let c = sara.opens(&reg).await;
    assert_eq!(paragraphs(c.doc(), "goals"), in_a);
}

/// A server with a chosen number of worker threads serves rooms as the default one does.
#[tokio::test]
async fn several_workers_serve_rooms_like_one() {
    let server = TestServer::start_with(&["--workers", "3"]).await;
    let sara = server.clb().await;
    let mut rooms = Vec::new();
    for _ in 0..3 {
        let reg = sara.creates_registration().await;
        rooms.push((sara.opens(&reg).await, sara.opens(&reg).await));
    }
    for i in 0..10 {
        for (a, b) in &rooms {
            type_paragraph(a, "goals", &format!("a{i}"));
            type_paragraph(b, "goals", &format!("b{i}"));
        }
    }
    for (a, b) in &rooms {
        eventually("both clients of every room see all 20 paragraphs", || {
            let (pa, pb) = (paragraphs(a.doc(), "goals"), paragraphs(b.doc(), "goals"));
            pa.len() == 20 && pa == pb
        })
        .await;
    }
}

#[tokio::test]
async fn edits_are_acknowledged_once_durable() {
    let server = TestServer::start().await;
    let sara = server.clb().await;
    let reg = sara.creates_registration().await;
    let a = sara.opens(&reg).await;
    for i in 0..10 {
        type_paragraph(&a, "understanding", &format!("p{i}"));
    }
    a.durable(WAIT).await.expect("acks for every update");
    let status = a.status();
    assert!(status.acked >= 10, "acked {} of {}", status.acked, status.sent);
    assert!(server.metric("samen_updates_accepted_total").await >= 10.0);
}

#[tokio::test]
async fn clients_without_acks_never_receive_them() {
    let server = TestServer::start().await;
    let sara = server.clb().await;
    let reg = sara.creates_registration().await;
    let a = sara.opens_with(&reg, Options::default()).await;
    let b = sara.opens(&reg).await;
    type_paragraph(&a, "goals", "hallo");
    eventually("b sees a's edit", || paragraphs(b.doc(), "goals") == ["hallo"]).await;
    assert_eq!(
        a.status().acked,
        0,
        "a stock y-websocket client gets no Samen messages"
    );
}

#[tokio::test]
async fn presence_is_relayed_and_removed_when_a_client_leaves() {
    let server = TestServer::start().await;
    let sara = server.clb().await;
    let reg = sara.creates_registration().await;
    let a = sara.opens(&reg).await;
    let b = sara.opens(&reg).await;
    a.set_awareness(r#"{"cursor":{"anchor":1}}"#);
    let a_id = samen_crdt::ClientId::from(a.doc().client_id());
    b.wait_for("a's presence", WAIT, |s| s.awareness.contains_key(&a_id))
        .await
        .expect("presence");

    // A newcomer is told who is here.
    let c = sara.opens(&reg).await;
    c.wait_for("a's presence", WAIT, |s| s.awareness.contains_key(&a_id))
        .await
        .expect("presence for newcomer");

    a.abort();
    b.wait_for("a gone", WAIT, |s| !s.awareness.contains_key(&a_id))
        .await
        .expect("removed on disconnect");
}

#[tokio::test]
async fn presence_that_is_not_renewed_expires() {
    let server = TestServer::start_with(&["--awareness-timeout-secs", "1"]).await;
    let sara = server.clb().await;
    let reg = sara.creates_registration().await;
    let a = sara.opens(&reg).await;
    let b = sara.opens(&reg).await;
    a.set_awareness(r#"{"user":"a"}"#);
    let a_id = samen_crdt::ClientId::from(a.doc().client_id());
    b.wait_for("a's presence", WAIT, |s| s.awareness.contains_key(&a_id))
        .await
        .expect("presence");
    // a stays connected but stops renewing.
    b.wait_for("a expired", WAIT, |s| !s.awareness.contains_key(&a_id))
        .await
        .expect("expired");
    assert!(
        a.status().closed.is_none(),
        "expiry does not close the connection"
    );
}

#[tokio::test]
async fn idle_rooms_unload_and_reload_with_their_content() {
    let server = TestServer::start_with(&["--room-idle-secs", "1"]).await;
    let sara = server.clb().await;
    let reg = sara.creates_registration().await;
    let a = sara.opens(&reg).await;
    type_paragraph(&a, "agreements", "afspraak");
    a.durable(WAIT).await.expect("durable");
    assert_eq!(server.metric("samen_rooms").await, 1.0);
    a.close().await;
    let start = tokio::time::Instant::now();
    while server.metric("samen_rooms").await != 0.0 {
        assert!(start.elapsed() < WAIT, "room did not unload");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        server.metric("samen_compactions_total").await >= 1.0,
        "unloading compacts"
    );
    let b = sara.opens(&reg).await;
    assert_eq!(paragraphs(b.doc(), "agreements"), ["afspraak"]);
}

#[tokio::test]
async fn a_client_that_cannot_keep_up_is_dropped() {
    let server = TestServer::start_with(&["--outbound-queue", "4"]).await;
    let sara = server.clb().await;
    let reg = sara.creates_registration().await;
    // A client that connects and then never reads.
    let (stalled, _) = tokio_tungstenite::connect_async(sara.sync_url(&reg.id))
        .await
        .expect("connect");
    let writer = sara.opens(&reg).await;
    let big = "x".repeat(64 * 1024);
    let start = tokio::time::Instant::now();
    while server.metric("samen_slow_disconnects_total").await < 1.0 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "slow client was never dropped"
        );
        for _ in 0..20 {
            type_paragraph(&writer, "goals", &big);
        }
        writer.durable(WAIT).await.expect("the writer is unaffected");
    }
    drop(stalled);
    // The room and the writer carry on.
    type_paragraph(&writer, "goals", "na");
    writer.durable(WAIT).await.expect("still served");
    let fresh = sara.opens(&reg).await;
    assert_eq!(
        paragraphs(fresh.doc(), "goals").last().map(String::as_str),
        Some("na")
    );
}

#[tokio::test]
async fn health_and_metrics_are_served() {
    let server = TestServer::start().await;
    let health = reqwest::get(server.url("/healthz")).await.expect("healthz");
    assert!(health.status().is_success());
    let sara = server.clb().await;
    let _a = sara.opens(&sara.creates_registration().await).await;
    let metrics = server.metrics().await;
    for name in [
        "samen_connections 1",
        "samen_rooms 1",
        "samen_updates_accepted_total",
        "samen_received_bytes_total",
        "samen_sent_bytes_total",
        "samen_persist_seconds_bucket",
    ] {
        assert!(metrics.contains(name), "{name} missing from:\n{metrics}");
    }
}

#[tokio::test]
async fn malformed_document_ids_are_refused_before_upgrade() {
    let server = TestServer::start().await;
    let sara = server.clb().await;
    let err = Client::connect(&sara.sync_url("not-a-uuid"), Options::default())
        .await
        .err()
        .expect("a malformed id is not a document");
    match err {
        samen_client::ClientError::Connect(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 404);
        }
        other => panic!("expected an HTTP 404, got {other:?}"),
    }
}

/// The handshake gate (`listener.rs`) lets only a few connections be in their first request
/// at once; clients that connect and send nothing must not be able to lock everyone out.
#[tokio::test]
async fn silent_connections_do_not_lock_others_out() {
    let server = TestServer::start().await;
    let sara = server.clb().await;
    let reg = sara.creates_registration().await;
    let mut silent = Vec::new();
    for _ in 0..samen_server::listener::handshakes() + 4 {
        silent.push(
            tokio::net::TcpStream::connect(server.addr())
                .await
                .expect("connect"),
        );
    }
    let started = std::time::Instant::now();
    let page = tokio::time::timeout(WAIT, reqwest::get(server.url("/")))
        .await
        .expect("a request gets through a gate held by silent clients")
        .expect("get");
    assert_eq!(page.status(), 200);
    let a = tokio::time::timeout(WAIT, sara.opens(&reg))
        .await
        .expect("a sync client gets through too");
    let b = sara.opens(&reg).await;
    type_paragraph(&a, "goals", "door de poort");
    eventually("b sees a's edit", || {
        paragraphs(b.doc(), "goals") == ["door de poort"]
    })
    .await;
    assert!(started.elapsed() < WAIT, "took {:?}", started.elapsed());
    drop(silent);
}

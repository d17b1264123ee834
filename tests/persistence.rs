//! Nothing accepted is lost: across restarts, across `kill -9`, and through compaction.

use std::collections::BTreeSet;
use std::time::Duration;

use samen_client::Options;

use crate::support::{Reg, TestServer, WAIT, eventually, paragraphs, type_paragraph};

/// Log rows and whether a compacted state exists, read straight from the database.
async fn stored(server: &TestServer, reg: &Reg) -> (i64, bool) {
    let doc = server.database().await.document(&reg.id).await;
    (doc.tail.len() as i64, doc.state.is_some())
}

#[tokio::test]
async fn a_restart_keeps_every_update() {
    let server = TestServer::start().await;
    let sara = server.clb().await;
    let reg = sara.creates_registration().await;
    let a = sara.opens(&reg).await;
    let b = sara.opens(&reg).await;
    for i in 0..50 {
        type_paragraph(&a, "goals", &format!("a{i}"));
        type_paragraph(&b, "status_note", &format!("b{i}"));
    }
    a.durable(WAIT).await.expect("a durable");
    b.durable(WAIT).await.expect("b durable");
    let goals = paragraphs(a.doc(), "goals");
    assert!(server.stop().await, "graceful stop exits 0");
    let closed = a.closed(WAIT).await.expect("told of the shutdown");
    assert_eq!(closed.0, 1001, "going away: {closed:?}");

    server.restart().await;
    let c = sara.opens(&reg).await;
    assert_eq!(paragraphs(c.doc(), "goals"), goals);
    assert_eq!(paragraphs(c.doc(), "status_note").len(), 50);
}

#[tokio::test]
async fn kill_9_loses_nothing_a_peer_had_received() {
    let server = TestServer::start().await;
    let sara = server.clb().await;
    let reg = sara.creates_registration().await;
    let writers = [
        sara.opens_with(&reg, Options::default()).await,
        sara.opens_with(&reg, Options::default()).await,
    ];
    let watcher = sara.opens(&reg).await;

    // The writers type as fast as they can, without waiting for anything.
    let mut typed = 0;
    while watcher.status().received < 200 {
        for (w, writer) in writers.iter().enumerate() {
            type_paragraph(writer, "goals", &format!("w{w}-{typed}"));
        }
        typed += 1;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    server.kill9().await;
    let seen: BTreeSet<String> = paragraphs(watcher.doc(), "goals").into_iter().collect();
    assert!(seen.len() >= 200, "the watcher saw {} paragraphs", seen.len());

    server.restart().await;
    let after = sara.opens(&reg).await;
    let stored: BTreeSet<String> = paragraphs(after.doc(), "goals").into_iter().collect();
    let lost: Vec<_> = seen.difference(&stored).collect();
    assert!(
        lost.is_empty(),
        "lost {} updates a peer had seen: {lost:?}",
        lost.len()
    );
}

#[tokio::test]
async fn a_long_log_loads_from_state_and_tail_and_is_compacted() {
    // First life: 500 updates, then a clean stop, which folds them into the state.
    let server = TestServer::start_with(&["--compact-after", "100000"]).await;
    let sara = server.clb().await;
    let reg = sara.creates_registration().await;
    let a = sara.opens(&reg).await;
    for i in 0..500 {
        type_paragraph(&a, "goals", &format!("s{i}"));
    }
    a.durable(WAIT).await.expect("durable");
    drop(a);
    assert!(server.stop().await);
    assert_eq!(stored(&server, &reg).await, (0, true), "a clean stop compacts");

    // Second life: 1,000 more, then a crash, so they stay in the log.
    server.restart().await;
    let a = sara.opens(&reg).await;
    for i in 0..1000 {
        type_paragraph(&a, "goals", &format!("t{i}"));
    }
    a.durable(WAIT).await.expect("durable");
    server.kill9().await;
    drop(a);
    let (tail, has_state) = stored(&server, &reg).await;
    assert!(has_state);
    assert!(tail >= 1000, "the tail holds the 1,000 updates ({tail})");

    // Third life, with the default threshold: the document loads from state + tail, whole,
    // and the long tail is folded in.
    let server = TestServer::start_in(&server.data.clone(), &[]).await;
    let sara = server.clb().await;
    let b = sara.opens(&reg).await;
    let texts = paragraphs(b.doc(), "goals");
    assert_eq!(texts.len(), 1500);
    assert_eq!(texts.first().map(String::as_str), Some("s0"));
    assert_eq!(texts.last().map(String::as_str), Some("t999"));
    let start = tokio::time::Instant::now();
    loop {
        let (tail, has_state) = stored(&server, &reg).await;
        if tail == 0 && has_state {
            break;
        }
        assert!(start.elapsed() < WAIT, "not compacted: {tail} log rows left");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(b);
    assert!(server.stop().await);
    server.restart().await;
    let c = sara.opens(&reg).await;
    eventually("same content after compaction", || {
        paragraphs(c.doc(), "goals") == texts
    })
    .await;
}

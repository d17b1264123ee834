//! A logged-in user cannot exhaust the server (security finding 6): a reader that stops
//! reading is dropped by the bytes it holds, sync requests in a loop are closed, new client
//! IDs per connection are capped, each user's update bytes per minute and stored bytes per
//! day are bounded, and so is the time their updates take to integrate. Whatever is
//! refused, what was acknowledged stays and nothing else changes.

use std::time::Duration;

use futures_util::StreamExt;
use samen_client::{Auth, Client, Options};
use samen_crdt::lib0::write_var;
use samen_crdt::protocol;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use yrs::types::xml::{XmlElementPrelim, XmlFragment, XmlTextPrelim};

use crate::support::{TestServer, WAIT, paragraphs, type_paragraph};

/// The close a client got, waiting up to [`WAIT`].
async fn closed(client: &Client) -> (u16, String) {
    client
        .closed(WAIT)
        .await
        .expect("the server closes the connection")
}

/// An update that puts one garbage (GC) block under a fresh client ID: content outside
/// every section, which writes nothing anyone sees.
fn orphan_update(client: u64) -> Vec<u8> {
    let mut out = Vec::new();
    for v in [1, 1, client, 0] {
        write_var(&mut out, v);
    }
    out.push(0); // a GC block
    write_var(&mut out, 1); // of one clock
    write_var(&mut out, 0); // no deletes
    out
}

/// A paragraph of `len` bytes of text.
fn text_of(len: usize, mark: char) -> String {
    std::iter::repeat_n(mark, len).collect()
}

#[tokio::test]
async fn a_reader_that_stops_reading_is_dropped_by_the_bytes_it_holds_not_their_count() {
    // 256 KiB may wait for a connection; the count bound (1,024 frames) is never reached.
    let server = TestServer::start_with(&["--outbound-bytes", "262144"]).await;
    let sara = server.clb().await;
    let reg = sara.creates_registration().await;
    let writer = sara.opens(&reg).await;

    // A client that opens the document and then reads nothing more.
    let mut request = server.ws_url(&reg.id).into_client_request().expect("request");
    let bearer = format!("Bearer {}", sara.token).parse().expect("header");
    request.headers_mut().insert("authorization", bearer);
    let (mut stalled, _) = tokio_tungstenite::connect_async(request).await.expect("connects");
    // Its sync step 1 from the server, then silence.
    let _ = tokio::time::timeout(WAIT, stalled.next()).await;

    let before = server.metric("samen_slow_disconnects_total").await;
    // 40 updates of 256 KiB (10 MiB): more than the kernel's socket buffers take.
    for n in 0..40 {
        type_paragraph(&writer, "goals", &text_of(256 * 1024, char::from(b'a' + n % 26)));
    }
    let deadline = tokio::time::Instant::now() + WAIT;
    while server.metric("samen_slow_disconnects_total").await <= before {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the stalled reader was not dropped for its bytes"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Reading again, it finds what was written before the drop, then 1013: reconnect.
    let close = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(msg) = stalled.next().await {
            match msg {
                Ok(Message::Close(frame)) => return frame.map(|f| u16::from(f.code)),
                Ok(_) => {}
                Err(err) => panic!("the connection failed instead of closing: {err}"),
            }
        }
        None
    })
    .await
    .expect("the connection ends");
    assert_eq!(close, Some(1013));
    writer
        .durable(Duration::from_secs(60))
        .await
        .expect("the writer is served");
}

#[tokio::test]
async fn sync_requests_in_a_loop_are_closed_and_others_carry_on() {
    let server = TestServer::start().await;
    let sara = server.clb().await;
    let reg = sara.creates_registration().await;
    let bystander = sara.opens(&reg).await;
    let looping = sara.opens(&reg).await;
    let before = server
        .metric("samen_messages_rejected_total{reason=\"sync_requests\"}")
        .await;
    for _ in 0..50 {
        looping.send_raw(protocol::encode_sync_step1(&[0]));
    }
    let (code, reason) = closed(&looping).await;
    assert_eq!(code, 4429, "{reason}");
    assert!(
        server
            .metric("samen_messages_rejected_total{reason=\"sync_requests\"}")
            .await
            > before
    );
    type_paragraph(&bystander, "goals", "gewoon verder");
    bystander.durable(WAIT).await.expect("the bystander is served");
}

#[tokio::test]
async fn a_connection_binds_few_client_ids_even_outside_every_section() {
    let server = TestServer::start().await;
    let sara = server.clb().await;
    let reg = sara.creates_registration().await;
    let sender = sara.opens(&reg).await;
    let before = sender.status().acked;
    // The default allows 8 new client IDs per connection (this one has not typed yet, so
    // its own is not among them).
    for client in 0..8 {
        sender.send_raw(protocol::encode_update(&orphan_update(500 + client)));
    }
    sender
        .wait_for("8 acks", WAIT, |s| s.acked >= before + 8)
        .await
        .expect("eight client IDs are allowed");
    sender.send_raw(protocol::encode_update(&orphan_update(600)));
    assert_eq!(closed(&sender).await, (1008, "too many client IDs".into()));

    // A new connection has a fresh allowance; the user's earlier IDs stay theirs.
    let next = sara.opens(&reg).await;
    type_paragraph(&next, "goals", "verder");
    next.durable(WAIT).await.expect("a new connection may write");
}

#[tokio::test]
async fn presence_holds_few_client_ids_per_connection() {
    let server = TestServer::start().await;
    let sara = server.clb().await;
    let reg = sara.creates_registration().await;
    let watcher = sara.opens(&reg).await;
    let crowd = sara.opens(&reg).await;
    let entries: Vec<(samen_crdt::ClientId, u32, String)> = (1..=20)
        .map(|c| (samen_crdt::ClientId::new(7_000 + c), 1, "{}".to_owned()))
        .collect();
    crowd.send_raw(protocol::encode_awareness(
        entries.iter().map(|(c, clock, json)| (*c, *clock, json.as_str())),
    ));
    assert_eq!(closed(&crowd).await, (1008, "too many client IDs".into()));
    // What the watcher saw of it is gone again, and never more than the cap.
    watcher
        .wait_for("the crowd's presence is removed", WAIT, |s| {
            s.awareness.keys().all(|c| c.get() < 7_000)
        })
        .await
        .expect("presence cleaned up");
}

#[tokio::test]
async fn a_read_only_token_cannot_write_outside_the_sections_either() {
    let server = TestServer::start().await;
    let sara = server.clb().await;
    let reg = sara.creates_registration().await;
    let (status, body) = sara
        .session()
        .await
        .post(
            "/api/tokens",
            json!({ "name": "lezer", "password": "demo", "scope": "read" }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let reader = body["token"].as_str().expect("token").to_owned();
    let client = Client::connect(
        &server.ws_url(&reg.id),
        Options {
            auth: Auth::Bearer(reader),
            acks: true,
            ..Options::default()
        },
    )
    .await
    .expect("connects");
    client.synced(WAIT).await.expect("synced");
    client.send_raw(protocol::encode_update(&orphan_update(4_242)));
    let (code, _) = closed(&client).await;
    assert_eq!(code, 1008);
    assert_eq!(client.status().denied.as_deref(), Some("permission-denied"));
}

/// Sends a paragraph of `len` bytes from `client`.
async fn sends(client: &Client, len: usize, mark: char) {
    type_paragraph(client, "goals", &text_of(len, mark));
}

#[tokio::test]
async fn a_users_update_bytes_per_minute_are_bounded_over_all_their_connections() {
    let server = TestServer::start_with(&[
        "--max-message-bytes",
        "131072",
        "--user-bytes-per-minute",
        "250000",
    ])
    .await;
    let sara = server.clb().await;
    let (one, two) = (
        sara.creates_registration().await,
        sara.creates_registration().await,
    );
    let a = sara.opens(&one).await;
    let b = sara.opens(&two).await;
    // 100 KB, 100 KB on two documents: within the minute's 250 KB (which refills at
    // ~4 KB a second).
    sends(&a, 100_000, 'a').await;
    a.durable(WAIT).await.expect("first");
    sends(&b, 100_000, 'b').await;
    b.durable(WAIT).await.expect("second");
    // The third crosses it, whichever connection it comes from.
    sends(&a, 100_000, 'c').await;
    let (code, reason) = closed(&a).await;
    assert_eq!(code, 4429, "{reason}");

    // Nothing of the refused update was stored; the rest is whole.
    let content = sara.reads_content(&one).await;
    assert_eq!(content["goals"], text_of(100_000, 'a'));
    // Another user has a minute of their own.
    let tom = server.school_member("linde").await;
    let t = tom.opens(&one).await;
    type_paragraph(&t, "goals", "van Tom");
    t.durable(WAIT).await.expect("another user writes");
}

#[tokio::test]
async fn a_users_stored_bytes_per_day_are_bounded_and_the_refusal_changes_nothing() {
    let server =
        TestServer::start_with(&["--max-message-bytes", "131072", "--user-bytes-per-day", "250000"]).await;
    let sara = server.clb().await;
    let reg = sara.creates_registration().await;
    let a = sara.opens(&reg).await;
    sends(&a, 100_000, 'a').await;
    sends(&a, 100_000, 'b').await;
    a.durable(WAIT).await.expect("200 KB today");
    sends(&a, 100_000, 'c').await;
    let (code, reason) = closed(&a).await;
    assert_eq!(
        (code, reason.as_str()),
        (4413, "daily quota for changes reached; try again tomorrow")
    );
    // Reconnecting does not help today (50 KB are left).
    let again = sara.opens(&reg).await;
    sends(&again, 60_000, 'd').await;
    assert_eq!(closed(&again).await.0, 4413);
    let goals = &sara.reads_content(&reg).await["goals"];
    assert_eq!(
        *goals,
        format!("{}\n{}", text_of(100_000, 'a'), text_of(100_000, 'b'))
    );
}

#[tokio::test]
async fn a_users_integration_time_is_bounded() {
    // One millisecond a minute: a paste of 2,000 paragraphs takes longer to integrate.
    let server = TestServer::start_with(&["--user-apply-ms-per-minute", "1"]).await;
    let sara = server.clb().await;
    let reg = sara.creates_registration().await;
    let a = sara.opens(&reg).await;
    let goals = a.doc().get_or_insert_xml_fragment("goals");
    a.edit(|txn| {
        for n in 0..2_000 {
            let p = goals.push_back(txn, XmlElementPrelim::empty("paragraph"));
            p.push_back(txn, XmlTextPrelim::new(format!("alinea {n}")));
        }
    });
    // Stored and acknowledged, then the connection pauses.
    a.durable(WAIT).await.expect("the paste is stored");
    assert_eq!(closed(&a).await.0, 4429);
    // Until the debt is paid back, the next update is refused before yrs sees it.
    let b = sara.opens(&reg).await;
    type_paragraph(&b, "goals", "te vroeg");
    assert_eq!(closed(&b).await.0, 4429);
    let fresh = sara.opens(&reg).await;
    let paras = paragraphs(fresh.doc(), "goals");
    assert_eq!(paras.len(), 2_000);
    assert!(!paras.iter().any(|p| p == "te vroeg"));
}

#[tokio::test]
async fn a_flood_of_large_updates_is_held_back_not_buffered_and_nothing_is_lost() {
    let server = TestServer::start_with(&[
        "--max-message-bytes",
        "1048576",
        "--inbound-bytes",
        "1048576",
        "--room-inbound-bytes",
        "2097152",
        "--user-bytes-per-minute",
        "1000000000",
        "--user-bytes-per-day",
        "1000000000",
    ])
    .await;
    let sara = server.clb().await;
    let reg = sara.creates_registration().await;
    let flood = sara.opens(&reg).await;
    let mut most_waiting = 0.0f64;
    for n in 0..60 {
        sends(&flood, 1_000_000, char::from(b'a' + n % 26)).await;
        // Messages read from the socket but not yet stored: what the server buffers.
        let received = server.metric("samen_received_bytes_total").await / 1_000_000.0;
        let stored = server.metric("samen_updates_accepted_total").await;
        most_waiting = most_waiting.max(received - stored);
    }
    flood
        .durable(Duration::from_secs(120))
        .await
        .expect("every update is stored");
    println!("most 1 MB updates read but not yet stored at once: {most_waiting:.1}");
    // One held by the connection's budget, one in the batch being stored, one being read.
    assert!(most_waiting <= 4.0, "{most_waiting} MB waited in the server");
    assert_eq!(paragraphs(flood.doc(), "goals").len(), 60);
}

//! Bad input closes the offending connection with a reason and changes nothing else: the
//! room, its document and its other clients carry on.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use samen_crdt::lib0::{write_buf, write_var};
use samen_crdt::protocol;
use tokio_tungstenite::tungstenite::Message;
use yrs::types::text::Text;
use yrs::types::xml::{Xml, XmlElementPrelim, XmlFragment, XmlTextPrelim};
use yrs::updates::encoder::Encode;
use yrs::{ReadTxn, StateVector, Transact};

use crate::support::{Person, TestServer, WAIT, paragraphs, type_paragraph};

/// A valid update that appends a paragraph with `text` to `goals`, from its own client.
fn valid_update(text: &str) -> Vec<u8> {
    let doc = samen_crdt::new_doc();
    let goals = doc.get_or_insert_xml_fragment("goals");
    let mut txn = doc.transact_mut();
    let p = goals.push_back(&mut txn, XmlElementPrelim::empty("paragraph"));
    p.push_back(&mut txn, XmlTextPrelim::new(text));
    drop(txn);
    doc.transact().encode_state_as_update_v1(&StateVector::default())
}

/// A paragraph, then (as a second update) text inside it.
fn two_step_updates() -> (Vec<u8>, Vec<u8>) {
    let doc = samen_crdt::new_doc();
    let goals = doc.get_or_insert_xml_fragment("goals");
    let p = goals.push_back(&mut doc.transact_mut(), XmlElementPrelim::empty("paragraph"));
    let first = doc.transact().encode_state_as_update_v1(&StateVector::default());
    let sv = doc.transact().state_vector();
    p.push_back(&mut doc.transact_mut(), XmlTextPrelim::new("tekst"));
    let second = doc.transact().encode_diff_v1(&sv);
    (first, second)
}

fn update_message(update: &[u8]) -> Vec<u8> {
    protocol::encode_update(update)
}

fn awareness_message(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    write_var(&mut out, 1);
    write_buf(&mut out, payload);
    out
}

/// Sends `frame` from Sara's fresh connection into a room that holds one paragraph and
/// has a bystander; checks the close code, that the bystander and document are unharmed,
/// and that the refusal was counted.
async fn refused(sara: &Person<'_>, frame: Frame, codes: &[u16], reason: &str) {
    let server = sara.server();
    let reg = sara.creates_registration().await;
    let bystander = sara.opens(&reg).await;
    type_paragraph(&bystander, "goals", "vooraf");
    bystander.durable(WAIT).await.expect("durable");
    let before = server
        .metric(&format!("samen_messages_rejected_total{{reason=\"{reason}\"}}"))
        .await;

    let victim = sara.opens(&reg).await;
    match frame {
        Frame::Binary(bytes) => victim.send_raw(bytes),
        Frame::Text(text) => victim.send_text(&text),
    }
    let (code, why) = victim.closed(WAIT).await.expect("the sender is closed");
    assert!(
        codes.contains(&code),
        "close code {code} ({why}), expected one of {codes:?}"
    );

    type_paragraph(&bystander, "goals", "nadien");
    bystander
        .durable(WAIT)
        .await
        .expect("the bystander is still served");
    assert!(bystander.status().closed.is_none());
    let fresh = sara.opens(&reg).await;
    assert_eq!(
        paragraphs(fresh.doc(), "goals"),
        ["vooraf", "nadien"],
        "the document is unchanged"
    );
    let after = server
        .metric(&format!("samen_messages_rejected_total{{reason=\"{reason}\"}}"))
        .await;
    assert!(after > before, "refusal counted under {reason}");
}

enum Frame {
    Binary(Vec<u8>),
    Text(String),
}

#[tokio::test]
async fn each_kind_of_bad_input_is_refused_alone() {
    let server = TestServer::start_with(&["--max-message-bytes", "1048576"]).await;
    let sara = server.clb().await;
    let valid = valid_update("hallo wereld");

    refused(&sara, Frame::Text("hello".into()), &[1003], "text_frame").await;
    refused(&sara, Frame::Binary(vec![9]), &[1003], "unknown_type").await;
    refused(&sara, Frame::Binary(vec![0, 7, 0]), &[1003], "unknown_type").await;
    refused(&sara, Frame::Binary(vec![2, 0, 0]), &[1003], "unknown_type").await;

    // A payload that is not a yrs update at all.
    let mut garbage = vec![0, 2];
    write_buf(&mut garbage, b"this is not an update, not even close");
    refused(&sara, Frame::Binary(garbage), &[1007], "malformed").await;

    // An update whose text is not UTF-8 (crashed yrs 0.27 with SIGSEGV).
    let mut bad_utf8 = valid.clone();
    let at = bad_utf8
        .windows(5)
        .position(|w| w == b"hallo")
        .expect("text in update");
    bad_utf8[at..at + 2].copy_from_slice(&[0xff, 0xfe]);
    refused(
        &sara,
        Frame::Binary(update_message(&bad_utf8)),
        &[1007],
        "malformed",
    )
    .await;

    // Truncated, and mutated into a count that no message could hold.
    refused(
        &sara,
        Frame::Binary(update_message(&valid[..valid.len() / 2])),
        &[1007],
        "malformed",
    )
    .await;
    let mut bomb = vec![0xff, 0xff, 0xff, 0xff, 0x0f];
    bomb.extend_from_slice(&valid[1..]);
    refused(&sara, Frame::Binary(update_message(&bomb)), &[1007], "malformed").await;

    // Well-formed, but resting on content the server never had (text inside a paragraph it
    // does not know). yrs would park it as pending, a path that is unsound with hostile
    // input; the server refuses it and the client resyncs on reconnect.
    let (_paragraph, text_in_it) = two_step_updates();
    refused(
        &sara,
        Frame::Binary(update_message(&text_in_it)),
        &[1007],
        "missing_dependency",
    )
    .await;

    // A message whose frame is fine but whose update has trailing garbage.
    let mut trailing = update_message(&valid);
    trailing.push(0);
    refused(&sara, Frame::Binary(trailing), &[1007], "malformed").await;

    // Malformed awareness: broken JSON, then text that is not UTF-8.
    let mut payload = Vec::new();
    write_var(&mut payload, 1);
    write_var(&mut payload, 42);
    write_var(&mut payload, 1);
    write_buf(&mut payload, b"{\"user\":");
    refused(
        &sara,
        Frame::Binary(awareness_message(&payload)),
        &[1007],
        "malformed",
    )
    .await;
    let mut payload = Vec::new();
    write_var(&mut payload, 1);
    write_var(&mut payload, 42);
    write_var(&mut payload, 1);
    write_buf(&mut payload, &[b'"', 0xc3, 0x28, b'"']);
    refused(
        &sara,
        Frame::Binary(awareness_message(&payload)),
        &[1007],
        "malformed",
    )
    .await;

    // Over the size limit (1 MiB here): refused by the WebSocket layer or the validator.
    let over = update_message(&vec![0u8; 1024 * 1024 + 1]);
    refused(&sara, Frame::Binary(over), &[1009], "too_big").await;

    // A 50 MB blob: the server stops reading at the frame header. The client may still be
    // writing when the server hangs up, so it sees the close frame (1009) or a reset (1006).
    refused(
        &sara,
        Frame::Binary(vec![0u8; 50 * 1024 * 1024]),
        &[1009, 1006],
        "too_big",
    )
    .await;
}

/// A tiny deterministic generator, so a failure can be replayed from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(seed: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut out = seed.to_vec();
    for _ in 0..1 + rng.below(3) {
        let len = out.len().max(1);
        match rng.below(7) {
            0 => {
                let i = rng.below(len);
                if let Some(b) = out.get_mut(i) {
                    *b ^= 1 << rng.below(8);
                }
            }
            1 => {
                let i = rng.below(len);
                if let Some(b) = out.get_mut(i) {
                    *b = rng.next() as u8;
                }
            }
            2 => {
                let i = rng.below(len + 1).min(out.len());
                out.insert(i, rng.next() as u8);
            }
            3 if !out.is_empty() => {
                let i = rng.below(out.len());
                out.remove(i);
            }
            4 => out.truncate(rng.below(len)),
            5 => {
                // A varint bomb: a run of continuation bytes.
                let i = rng.below(len + 1).min(out.len());
                let run = 1 + rng.below(9);
                out.splice(i..i, std::iter::repeat_n(0xff, run));
            }
            _ => {
                let i = rng.below(len).min(out.len());
                let j = (i + rng.below(16)).min(out.len());
                let chunk: Vec<u8> = out[i..j].to_vec();
                out.splice(i..i, chunk);
            }
        }
    }
    out
}

/// Valid messages to mutate: sync steps, updates of several shapes, awareness.
fn seeds() -> Vec<Vec<u8>> {
    let doc = samen_crdt::new_doc();
    let mut seeds = Vec::new();
    let understanding = doc.get_or_insert_xml_fragment("understanding");
    let mut prev = doc.transact().state_vector();
    let mut step = |f: &dyn Fn(&mut yrs::TransactionMut)| {
        let mut txn = doc.transact_mut();
        f(&mut txn);
        drop(txn);
        let update = doc.transact().encode_diff_v1(&prev);
        prev = doc.transact().state_vector();
        update
    };
    let u1 = step(&|txn| {
        let p = understanding.push_back(txn, XmlElementPrelim::empty("paragraph"));
        p.push_back(txn, XmlTextPrelim::new("Hoe begrijpen we dit? 🙂"));
    });
    let u2 = step(&|txn| {
        let h = understanding.push_back(txn, XmlElementPrelim::empty("heading"));
        h.insert_attribute(txn, "level", "2");
        let t = h.push_back(txn, XmlTextPrelim::new("Titel"));
        t.format(txn, 0, 3, yrs::types::Attrs::from([("bold".into(), true.into())]));
    });
    let u3 = step(&|txn| {
        understanding.remove_range(txn, 0, 1);
    });
    for u in [&u1, &u2, &u3] {
        seeds.push(protocol::encode_update(u));
        seeds.push(protocol::encode_sync_step2(u));
    }
    seeds.push(protocol::encode_sync_step1(
        &doc.transact().state_vector().encode_v1(),
    ));
    seeds.push(protocol::encode_awareness([(
        doc.client_id().into(),
        1,
        r#"{"user":{"name":"x"},"cursor":null}"#,
    )]));
    seeds.push(protocol::encode_query_awareness());
    seeds
}

/// Sends mutated messages on one connection, reconnecting whenever the server closes it;
/// returns how many the server processed (accepted or refused).
async fn hammer(
    url: String,
    source: std::net::IpAddr,
    seeds: Vec<Vec<u8>>,
    count: usize,
    seed: u64,
) -> usize {
    let mut rng = Rng(seed | 1);
    let probe = protocol::encode_sync_step1(&[0]);
    let mut done = 0;
    'connect: while done < count {
        let mut ws = connect_from(&url, source).await;
        while done < count {
            let frame = mutate(&seeds[rng.below(seeds.len())], &mut rng);
            done += 1;
            let extra_step2 = frame.starts_with(&[0, 0]) as usize;
            if ws.send(Message::Binary(frame.into())).await.is_err()
                || ws.send(Message::Binary(probe.clone().into())).await.is_err()
            {
                continue 'connect;
            }
            // Wait for the probe's answer (sync step 2) or the close.
            let mut step2s = 0;
            loop {
                match tokio::time::timeout(WAIT, ws.next()).await {
                    Ok(Some(Ok(Message::Binary(b)))) if b.starts_with(&[0, 1]) => {
                        step2s += 1;
                        if step2s > extra_step2 {
                            break;
                        }
                    }
                    Ok(Some(Ok(Message::Close(_)))) | Ok(Some(Err(_))) | Ok(None) => continue 'connect,
                    Ok(Some(Ok(_))) => {}
                    Err(_) => panic!("server stopped answering (seed {seed})"),
                }
            }
        }
    }
    done
}

/// Connects from a given loopback address. Each worker has its own, because a worker opens
/// a connection per refused message, and one address's ports, each held in TIME_WAIT for a
/// minute, would run out.
async fn connect_from(
    url: &str,
    source: std::net::IpAddr,
) -> tokio_tungstenite::WebSocketStream<tokio::net::TcpStream> {
    let addr: std::net::SocketAddr = url
        .trim_start_matches("ws://")
        .split('/')
        .next()
        .and_then(|a| a.parse().ok())
        .expect("server address");
    for attempt in 0.. {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.bind((source, 0).into()).expect("bind source address");
        let result = match socket.connect(addr).await {
            Ok(stream) => tokio_tungstenite::client_async(url, stream)
                .await
                .map(|(ws, _)| ws)
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match result {
            Ok(ws) => return ws,
            Err(e) if attempt < 20 => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(10 * (attempt + 1))).await;
            }
            Err(e) => panic!("cannot connect after {attempt} attempts: {e}"),
        }
    }
    unreachable!()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_thousand_mutated_messages_leave_the_server_and_documents_intact() {
    let server = TestServer::start().await;
    let sara = server.clb().await;
    let mut rooms = Vec::new();
    for _ in 0..4 {
        rooms.push(sara.creates_registration().await);
    }
    let mut guardians = Vec::new();
    for (i, reg) in rooms.iter().enumerate() {
        let g = sara.opens(reg).await;
        type_paragraph(&g, "goals", &format!("bewaard {i}"));
        g.durable(WAIT).await.expect("durable");
        guardians.push(g);
    }
    let total: usize = std::env::var("SAMEN_MUTATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let workers = 8;
    let seed: u64 = std::env::var("SAMEN_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed_5a3e);
    println!("mutation test: {total} messages, seed {seed}");
    let started = std::time::Instant::now();
    let tasks: Vec<_> = (0..workers)
        .map(|w| {
            let url = sara.sync_url(&rooms[w % rooms.len()].id);
            let source = std::net::IpAddr::from([127, 0, 1, 10 + w as u8]);
            tokio::spawn(hammer(
                url,
                source,
                seeds(),
                total / workers,
                seed.wrapping_add(w as u64 * 7919),
            ))
        })
        .collect();
    let mut processed = 0;
    for t in tasks {
        processed += t.await.expect("worker");
    }
    println!(
        "{processed} mutated messages in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(processed, total / workers * workers);
    assert!(server.is_running().await, "the server is up");
    assert!(
        reqwest::get(server.url("/healthz"))
            .await
            .expect("healthz")
            .status()
            .is_success()
    );

    // Every document still holds what it had, and a newcomer converges with the guardian.
    let mut contents = Vec::new();
    for (i, (reg, g)) in rooms.iter().zip(&guardians).enumerate() {
        assert!(g.status().closed.is_none(), "guardian {i} still connected");
        let fresh = sara.opens(reg).await;
        crate::support::eventually("newcomer matches guardian", || {
            paragraphs(fresh.doc(), "goals") == paragraphs(g.doc(), "goals")
                && paragraphs(fresh.doc(), "understanding") == paragraphs(g.doc(), "understanding")
        })
        .await;
        assert!(paragraphs(g.doc(), "goals").contains(&format!("bewaard {i}")));
        contents.push((paragraphs(g.doc(), "goals"), paragraphs(g.doc(), "understanding")));
    }
    drop(guardians);
    // And the same after a restart.
    assert!(server.stop().await);
    server.restart().await;
    for (reg, (goals, understanding)) in rooms.iter().zip(contents) {
        let c = sara.opens(reg).await;
        assert_eq!(paragraphs(c.doc(), "goals"), goals);
        assert_eq!(paragraphs(c.doc(), "understanding"), understanding);
    }
    let _ = Duration::ZERO;
}

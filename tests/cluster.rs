//! Several nodes on one PostgreSQL database: two `samen serve` processes, people on both,
//! one document. These run in the PostgreSQL pass of the suite (several nodes need it);
//! in the SQLite pass they say so and end.

use std::collections::BTreeMap;
use std::time::Duration;

use samen_client::{Auth, Client, Options};
use samen_server::testing::Engine;
use yrs::updates::decoder::Decode;
use yrs::{ReadTxn, StateVector, Transact, Update};

use crate::support::{
    CLB_SECTIONS, Person, Proxy, Reg, SCHOOL_SECTIONS, Session, TestServer, WAIT, engine, paragraphs,
    sections_of, type_paragraph,
};

/// Whether this pass runs on PostgreSQL; if not, the test says why it ends here.
fn on_postgres(test: &str) -> bool {
    let yes = engine() == Engine::Postgres;
    if !yes {
        eprintln!("{test}: several nodes need PostgreSQL; this runs in the suite's PostgreSQL pass");
    }
    yes
}

/// Two nodes on one fresh database (`None` in the SQLite pass).
async fn two_nodes(test: &str) -> Option<(TestServer, TestServer)> {
    if !on_postgres(test) {
        return None;
    }
    let a = TestServer::start().await;
    let b = a.beside().await;
    Some((a, b))
}

/// Waits until `client` has paragraph `text` in `section`.
async fn sees(client: &Client, who: &str, section: &str, text: &str) {
    let start = tokio::time::Instant::now();
    while !paragraphs(client.doc(), section).iter().any(|p| p == text) {
        assert!(
            start.elapsed() < WAIT,
            "{who} never saw {text:?} in {section}; has {:?}",
            paragraphs(client.doc(), section)
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Every section as both nodes' `/content` has it, once they agree (a node learns of the
/// other's edits from the database's notice, a few milliseconds later).
async fn content_on_both(a: &Person<'_>, b: &Person<'_>, reg: &Reg) -> BTreeMap<String, String> {
    let start = tokio::time::Instant::now();
    loop {
        let (on_a, on_b) = (a.reads_content(reg).await, b.reads_content(reg).await);
        if on_a == on_b {
            return on_a;
        }
        assert!(
            start.elapsed() < WAIT,
            "the nodes disagree:\nA: {on_a:?}\nB: {on_b:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until two clients hold the same text.
async fn agree(a: &Client, b: &Client) {
    let start = tokio::time::Instant::now();
    while sections_of(a.doc()) != sections_of(b.doc()) {
        assert!(
            start.elapsed() < WAIT,
            "the clients disagree:\nA: {:?}\nB: {:?}",
            sections_of(a.doc()),
            sections_of(b.doc())
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn people_on_two_nodes_co_edit_one_registration_live() {
    let Some((a, b)) = two_nodes("people_on_two_nodes_co_edit_one_registration_live").await else {
        return;
    };
    let clb = a.clb().await;
    let school = a.school_member("linde").await.on(&b);
    let reg = clb.creates_registration().await;

    // Logged in on A, working on B: sessions are the database's, not a node's.
    let browser = clb.session().await;
    let (status, me) = Session::with_cookie(&b, browser.cookie.clone())
        .get("/api/me")
        .await;
    assert_eq!(status, 200, "A's session on B: {me}");

    let on_a = clb.opens(&reg).await;
    let on_b = school.opens(&reg).await;
    type_paragraph(&on_a, "advice", "Advies, geschreven op A.");
    type_paragraph(&on_b, "agreements", "Afspraak, geschreven op B.");
    on_a.durable(WAIT).await.expect("A stored the advice");
    on_b.durable(WAIT).await.expect("B stored the agreement");
    sees(&on_b, "the school on B", "advice", "Advies, geschreven op A.").await;
    sees(&on_a, "the CLB on A", "agreements", "Afspraak, geschreven op B.").await;

    // A batch too large to travel with its notice (over 8,000 bytes): B reads it.
    let long = "Lang verslag. ".repeat(700);
    type_paragraph(&on_a, "summary", &long);
    on_a.durable(WAIT).await.expect("A stored the long paragraph");
    sees(&on_b, "the school on B", "summary", &long).await;

    // Both type at once, many small edits each, through their own node.
    for i in 0..40 {
        type_paragraph(&on_a, CLB_SECTIONS[i % CLB_SECTIONS.len()], &format!("A{i}"));
        type_paragraph(
            &on_b,
            SCHOOL_SECTIONS[i % SCHOOL_SECTIONS.len()],
            &format!("B{i}"),
        );
        tokio::task::yield_now().await;
    }
    on_a.durable(WAIT).await.expect("A stored its edits");
    on_b.durable(WAIT).await.expect("B stored its edits");
    agree(&on_a, &on_b).await;
    let stored = content_on_both(&clb, &clb.on(&b), &reg).await;
    assert_eq!(
        stored,
        sections_of(on_a.doc()),
        "the nodes store what the clients have"
    );
    for i in 0..40 {
        let (a_section, b_section) = (
            CLB_SECTIONS[i % CLB_SECTIONS.len()],
            SCHOOL_SECTIONS[i % SCHOOL_SECTIONS.len()],
        );
        let (a_text, b_text) = (format!("A{i}"), format!("B{i}"));
        assert!(
            paragraphs(on_a.doc(), a_section).contains(&a_text),
            "A's edit {i}"
        );
        assert!(
            paragraphs(on_a.doc(), b_section).contains(&b_text),
            "B's edit {i}"
        );
    }
}

#[tokio::test]
async fn carets_and_live_events_reach_people_on_the_other_node() {
    let Some((a, b)) = two_nodes("carets_and_live_events_reach_people_on_the_other_node").await else {
        return;
    };
    let clb = a.clb().await;
    let school = a.school_member("linde").await.on(&b);
    let reg = clb.creates_registration().await;

    // The school on B follows De Linde's live events.
    let mut events = reqwest::Client::new()
        .get(b.url("/api/schools/100001/events"))
        .bearer_auth(&school.token)
        .send()
        .await
        .expect("events on B");
    assert_eq!(events.status(), 200);

    // Presence: the CLB's named caret on A shows on B, stamped by A with who she is.
    let on_a = clb.opens(&reg).await;
    let on_b = school.opens(&reg).await;
    on_a.set_awareness(r#"{"user":{"name":"Iemand anders"},"cursor":{"anchor":1,"head":1}}"#);
    let clb_client = samen_crdt::ClientId::from(on_a.doc().client_id());
    let status = on_b
        .wait_for("the CLB's caret on B", WAIT, |s| {
            s.awareness.contains_key(&clb_client)
        })
        .await
        .expect("presence from A");
    let state: serde_json::Value = serde_json::from_str(&status.awareness[&clb_client].1).expect("json");
    assert_eq!(state["user"]["name"], "Sara Claes (CLB)");
    assert_eq!(state["cursor"]["anchor"], 1);
    // And the school's on B shows on A.
    on_b.set_awareness(r#"{"cursor":null}"#);
    let school_client = samen_crdt::ClientId::from(on_b.doc().client_id());
    on_a.wait_for("the school's presence on A", WAIT, |s| {
        s.awareness.contains_key(&school_client)
    })
    .await
    .expect("presence from B");
    // A newcomer on B is told of the CLB on A, as of anyone on B.
    let newcomer = school.opens(&reg).await;
    newcomer
        .wait_for("the CLB on A, for a newcomer on B", WAIT, |s| {
            s.awareness.contains_key(&clb_client)
        })
        .await
        .expect("presence for a newcomer");
    // The CLB leaves A: her caret goes from B at once, not after the awareness timeout.
    on_a.close().await;
    on_b.wait_for("the CLB's caret to go", WAIT, |s| {
        !s.awareness.contains_key(&clb_client)
    })
    .await
    .expect("the CLB left");

    // Live events: a comment made on A reaches the school's event stream on B.
    let (status, body) = clb
        .post(
            reg.path("/comments"),
            serde_json::json!({ "body": "Gezien op A?" }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    hear_until(&mut events, "a comment event on B", |seen| {
        seen.contains("event: comment") && seen.contains("Gezien op A?")
    })
    .await;
}

/// Reads an event stream until what it said so far satisfies `done`.
async fn hear_until(events: &mut reqwest::Response, what: &str, done: impl Fn(&str) -> bool) {
    let (mut seen, start) = (String::new(), tokio::time::Instant::now());
    while !done(&seen) {
        let left = WAIT.saturating_sub(start.elapsed());
        let chunk = tokio::time::timeout(left, events.chunk())
            .await
            .unwrap_or_else(|_| panic!("{what}: never; heard {seen:?}"))
            .expect("read")
            .expect("the stream goes on");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
}

/// Someone typing paragraphs into one section through a client with acks. Like the web
/// app, they keep their own document when a connection ends and send what the server may
/// lack over the next one; the ledger says which paragraphs the server acknowledged.
struct Writer {
    token: String,
    reg: String,
    section: &'static str,
    client: Client,
    /// Paragraphs not yet acknowledged, with the number of messages the client had sent
    /// once each was on its way (`u64::MAX`: typed while no connection took it).
    pending: Vec<(String, u64)>,
    typed: Vec<String>,
    acked: Vec<String>,
}

impl Writer {
    /// Starts typing through `addr` (`host:port` of a node, or of the proxy before them).
    async fn start(who: &Person<'_>, addr: &str, reg: &Reg, section: &'static str) -> Writer {
        Writer {
            token: who.token.clone(),
            reg: reg.id.clone(),
            section,
            client: Self::connect(&who.token, addr, &reg.id).await,
            pending: Vec::new(),
            typed: Vec::new(),
            acked: Vec::new(),
        }
    }

    /// A synced client with acks, trying again while no node can take it yet.
    async fn connect(token: &str, addr: &str, reg: &str) -> Client {
        let options = Options {
            auth: Auth::Bearer(token.to_owned()),
            acks: true,
            ..Options::default()
        };
        let url = format!("ws://{addr}/sync/{reg}");
        let start = tokio::time::Instant::now();
        loop {
            if let Ok(client) = Client::connect(&url, options.clone()).await
                && client.synced(Duration::from_secs(2)).await.is_ok()
            {
                return client;
            }
            assert!(start.elapsed() < 3 * WAIT, "could not connect to {addr}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn types(&mut self, text: String) {
        let before = self.client.status().sent;
        type_paragraph(&self.client, self.section, &text);
        let after = self.client.status().sent;
        self.pending
            .push((text.clone(), if after > before { after } else { u64::MAX }));
        self.typed.push(text);
    }

    /// Moves what the server acknowledged into the ledger.
    fn settle(&mut self) {
        let acked = self.client.status().acked;
        let (done, waiting): (Vec<_>, Vec<_>) = self.pending.drain(..).partition(|(_, n)| *n <= acked);
        self.acked.extend(done.into_iter().map(|(text, _)| text));
        self.pending = waiting;
    }

    fn connected(&self) -> bool {
        self.client.status().closed.is_none()
    }

    /// Connects through `addr` again and sends what the node may lack: the whole
    /// document, of which it keeps what it does not have.
    async fn reconnects(&mut self, addr: &str) {
        self.settle();
        let state = self
            .client
            .doc()
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        let client = Self::connect(&self.token, addr, &self.reg).await;
        client.edit(|txn| {
            let update = Update::decode_v1(&state).expect("own state");
            txn.apply_update(update).expect("apply own state");
        });
        let sent = client.status().sent;
        for (_, n) in &mut self.pending {
            *n = sent;
        }
        self.client = client;
    }

    /// Waits until everything typed is acknowledged.
    async fn finishes(&mut self) {
        self.client.durable(WAIT).await.expect("all acknowledged");
        self.settle();
        assert!(self.pending.is_empty(), "unacknowledged: {:?}", self.pending);
    }
}

/// Whether every paragraph of `texts` is in `section` of `content`.
fn missing<'t>(content: &BTreeMap<String, String>, section: &str, texts: &'t [String]) -> Vec<&'t String> {
    let stored = content.get(section).map_or("", String::as_str);
    texts
        .iter()
        .filter(|t| !stored.lines().any(|l| l == t.as_str()))
        .collect()
}

#[tokio::test]
async fn a_node_killed_while_people_type_on_both_loses_no_acknowledged_edit() {
    let Some((a, b)) = two_nodes("a_node_killed_while_people_type_on_both_loses_no_acknowledged_edit").await
    else {
        return;
    };
    let clb = a.clb().await;
    let school = a.school_member("linde").await;
    let reg = clb.creates_registration().await;
    // Through a load balancer, which sends the first to A and the second to B.
    let proxy = Proxy::start(vec![a.addr(), b.addr()]).await;
    let mut on_a = Writer::start(&clb, proxy.addr(), &reg, "advice").await;
    let mut on_b = Writer::start(&school, proxy.addr(), &reg, "agreements").await;

    for i in 0..80 {
        on_a.types(format!("A{i}"));
        on_b.types(format!("B{i}"));
        if i == 40 {
            a.kill9().await;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
        on_a.settle();
        on_b.settle();
    }
    assert!(!on_a.acked.is_empty(), "A acknowledged some before it died");
    assert!(on_a.acked.len() < on_a.typed.len(), "and some it could not");

    // Everything A acknowledged is on B, which read it from the database.
    let b_clb = clb.on(&b);
    let start = tokio::time::Instant::now();
    loop {
        let content = b_clb.reads_content(&reg).await;
        let lost = missing(&content, "advice", &on_a.acked);
        if lost.is_empty() {
            break;
        }
        assert!(start.elapsed() < WAIT, "acknowledged on A, not on B: {lost:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A's writer comes back through the load balancer, which finds B, with what A did not
    // take; all converge on everything typed.
    assert!(!on_a.connected(), "A's writer lost its node");
    on_a.reconnects(proxy.addr()).await;
    on_a.finishes().await;
    on_b.finishes().await;
    agree(&on_a.client, &on_b.client).await;
    let content = b_clb.reads_content(&reg).await;
    assert!(missing(&content, "advice", &on_a.typed).is_empty(), "{content:?}");
    assert!(
        missing(&content, "agreements", &on_b.typed).is_empty(),
        "{content:?}"
    );
    assert_eq!(content, sections_of(on_a.client.doc()));

    // A comes back and serves the same document.
    a.restart().await;
    assert_eq!(clb.reads_content(&reg).await, content);
}

/// A PostgreSQL cluster of the test's own (`scripts/pg-cluster` with `SAMEN_PG_DIR`), so
/// that restarting it leaves the other tests' cluster alone; stopped when dropped.
struct OwnCluster {
    dir: tempfile::TempDir,
    url: String,
}

impl OwnCluster {
    const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/pg-cluster");

    fn run(&self, command: &str) -> String {
        let out = std::process::Command::new(Self::SCRIPT)
            .arg(command)
            .env("SAMEN_PG_DIR", self.dir.path().join("pg"))
            .stderr(std::process::Stdio::inherit())
            .output()
            .expect("run scripts/pg-cluster");
        assert!(out.status.success(), "scripts/pg-cluster {command} failed");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    fn start() -> OwnCluster {
        let mut cluster = OwnCluster {
            dir: tempfile::tempdir().expect("temp dir"),
            url: String::new(),
        };
        cluster.url = cluster.run("ensure");
        cluster
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        self.run("stop");
    }
}

#[tokio::test]
async fn postgres_restarting_under_load_loses_nothing_acknowledged() {
    if !on_postgres("postgres_restarting_under_load_loses_nothing_acknowledged") {
        return;
    }
    let cluster = OwnCluster::start();
    let data = tempfile::tempdir().expect("temp dir");
    std::fs::write(data.path().join("test-database-url"), &cluster.url).expect("database URL");
    let a = TestServer::start_in(data.path(), &[]).await;
    let b = a.beside().await;
    let clb = a.clb().await;
    let school = a.school_member("linde").await;
    let reg = clb.creates_registration().await;
    let mut on_a = Writer::start(&clb, &a.addr(), &reg, "advice").await;
    let mut on_b = Writer::start(&school, &b.addr(), &reg, "agreements").await;

    let restart = tokio::task::spawn_blocking({
        let script = OwnCluster::SCRIPT;
        let dir = cluster.dir.path().join("pg");
        move || {
            std::thread::sleep(Duration::from_millis(300));
            let status = std::process::Command::new(script)
                .arg("restart")
                .env("SAMEN_PG_DIR", dir)
                .status()
                .expect("restart PostgreSQL");
            assert!(status.success(), "PostgreSQL restarted");
        }
    });
    let mut dropped = 0;
    // They type until well after the restart: 100 paragraphs each at least, and 20 after it.
    let (mut i, mut after) = (0, 0);
    while i < 100 || after < 20 {
        on_a.types(format!("A{i}"));
        on_b.types(format!("B{i}"));
        tokio::time::sleep(Duration::from_millis(10)).await;
        for (writer, node) in [(&mut on_a, &a), (&mut on_b, &b)] {
            writer.settle();
            if !writer.connected() {
                // The node could not store (1011): the writer keeps its edits and comes back.
                dropped += 1;
                writer.reconnects(&node.addr()).await;
            }
        }
        if restart.is_finished() {
            after += 1;
        }
        i += 1;
        assert!(i < 5000, "PostgreSQL never came back");
    }
    restart.await.expect("restart");
    // What was acknowledged is stored.
    let (acked_a, acked_b) = (on_a.acked.clone(), on_b.acked.clone());
    let stored = content_on_both(&clb, &clb.on(&b), &reg).await;
    assert!(missing(&stored, "advice", &acked_a).is_empty(), "{stored:?}");
    assert!(missing(&stored, "agreements", &acked_b).is_empty(), "{stored:?}");
    on_a.finishes().await;
    on_b.finishes().await;
    eprintln!(
        "connections the nodes closed while PostgreSQL restarted: {dropped}; acknowledged \
         before the end: {} of {} (A), {} of {} (B)",
        on_a.acked.len(),
        on_a.typed.len(),
        on_b.acked.len(),
        on_b.typed.len()
    );
    // Whether the nodes closed connections (a write that failed as PostgreSQL went down)
    // or held writes until it was back (waiting for a connection) depends on the moment of
    // the restart; it came while they typed (the loop types 20 rounds after it), and either
    // way nothing acknowledged may be lost, which is what is asserted above and below.
    agree(&on_a.client, &on_b.client).await;
    let content = content_on_both(&clb, &clb.on(&b), &reg).await;
    assert!(missing(&content, "advice", &on_a.typed).is_empty(), "{content:?}");
    assert!(
        missing(&content, "agreements", &on_b.typed).is_empty(),
        "{content:?}"
    );
    // Both nodes are ready again: the database answers.
    for node in [&a, &b] {
        let status = reqwest::get(node.url("/readyz")).await.expect("readyz").status();
        assert_eq!(status, 200, "{} ready after the restart", node.addr());
    }
}

#[tokio::test]
async fn a_rolling_restart_behind_the_load_balancer_loses_no_edit() {
    let Some((a, b)) = two_nodes("a_rolling_restart_behind_the_load_balancer_loses_no_edit").await else {
        return;
    };
    let clb = a.clb().await;
    let school = a.school_member("linde").await;
    let reg = clb.creates_registration().await;
    let proxy = Proxy::start(vec![a.addr(), b.addr()]).await;
    let mut first = Writer::start(&clb, proxy.addr(), &reg, "advice").await;
    let mut second = Writer::start(&school, proxy.addr(), &reg, "agreements").await;

    // They type all along; the operator restarts A, then B, one at a time (SIGTERM: the
    // node stops accepting, finishes what it holds and closes the sockets with 1001).
    let mut closes = Vec::new();
    let typing = async {
        for i in 0..150 {
            first.types(format!("E{i}"));
            second.types(format!("S{i}"));
            tokio::time::sleep(Duration::from_millis(10)).await;
            for writer in [&mut first, &mut second] {
                writer.settle();
                if !writer.connected() {
                    closes.push(writer.client.status().closed);
                    writer.reconnects(proxy.addr()).await;
                }
            }
        }
    };
    let operator = async {
        for (node, other) in [(&a, &b), (&b, &a)] {
            tokio::time::sleep(Duration::from_millis(300)).await;
            assert!(node.stop().await, "{} stops cleanly", node.addr());
            node.restart().await;
            proxy.set_nodes(vec![node.addr(), other.addr()]);
        }
    };
    tokio::join!(typing, operator);
    first.finishes().await;
    second.finishes().await;

    assert!(!closes.is_empty(), "the restarts closed connections");
    for closed in &closes {
        assert!(
            matches!(closed, Some((1001, _))),
            "closed with the code that says to reconnect: {closes:?}"
        );
    }
    agree(&first.client, &second.client).await;
    let content = content_on_both(&clb, &clb.on(&b), &reg).await;
    assert!(
        missing(&content, "advice", &first.typed).is_empty(),
        "{content:?}"
    );
    assert!(
        missing(&content, "agreements", &second.typed).is_empty(),
        "{content:?}"
    );
}

#[tokio::test]
async fn guessing_a_password_on_several_nodes_is_braked_as_on_one() {
    let Some((a, b)) = two_nodes("guessing_a_password_on_several_nodes_is_braked_as_on_one").await else {
        return;
    };
    // A login's status, and how long it says to wait (Retry-After) when refused.
    let login = |node: &TestServer, password: &str| {
        let (url, body) = (
            node.url("/api/login"),
            serde_json::json!({ "email": crate::support::CLB, "password": password }),
        );
        async move {
            let response = reqwest::Client::new()
                .post(url)
                .json(&body)
                .send()
                .await
                .expect("login request");
            let wait = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
                .unwrap_or(0);
            (response.status().as_u16(), wait)
        }
    };
    // Wrong passwords on A until A makes the next one wait long: the minute's quota of
    // failures is spent (waits of a second in between, as a patient guesser would).
    let mut failures = 0;
    loop {
        match login(&a, "raden").await {
            (401, _) => failures += 1,
            (429, wait) if wait >= 10 => break,
            (429, wait) => tokio::time::sleep(Duration::from_secs(wait)).await,
            other => panic!("a wrong password on A: {other:?}"),
        }
        assert!(failures <= 12, "A never made the guesser wait long");
    }
    // B heard of them (within milliseconds): the right password waits there too.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, wait) = login(&b, "demo").await;
    assert_eq!(status, 429, "B counts A's {failures} failures");
    assert!(wait >= 5, "and makes one wait as long as A would ({wait} s)");
}

/// Reads a school's event stream until `done` holds for the names in the last presence
/// event it sent (who has the school open).
async fn presence_until(events: &mut reqwest::Response, what: &str, done: impl Fn(&[String]) -> bool) {
    hear_until(events, what, |seen| {
        let Some((_, last)) = seen.rsplit_once("event: presence\ndata: ") else {
            return false;
        };
        let viewers = last
            .lines()
            .next()
            .and_then(|data| serde_json::from_str::<Vec<serde_json::Value>>(data).ok());
        let names: Option<Vec<String>> = viewers.map(|viewers| {
            viewers
                .iter()
                .filter_map(|v| v["name"].as_str().map(str::to_owned))
                .collect()
        });
        names.is_some_and(|names| done(&names))
    })
    .await;
}

#[tokio::test]
async fn who_has_a_school_open_shows_on_every_node() {
    let Some((a, b)) = two_nodes("who_has_a_school_open_shows_on_every_node").await else {
        return;
    };
    let school = a.school_member("linde").await;
    let clb = a.clb().await.on(&b);
    let follow = |node: &TestServer, token: &str| {
        let request = reqwest::Client::new()
            .get(node.url("/api/schools/100001/events"))
            .bearer_auth(token);
        async move {
            let response = request.send().await.expect("events");
            assert_eq!(response.status(), 200);
            response
        }
    };
    let mut on_a = follow(&a, &school.token).await;
    presence_until(&mut on_a, "the school sees itself on A", |names| names.len() == 1).await;
    let on_b = follow(&b, &clb.token).await;
    presence_until(&mut on_a, "the CLB on B shows on A", |names| {
        names.iter().any(|n| n.starts_with("Sara Claes"))
    })
    .await;
    drop(on_b);
    presence_until(&mut on_a, "the CLB left B", |names| {
        names.len() == 1 && !names.iter().any(|n| n.starts_with("Sara Claes"))
    })
    .await;
}

/// Asks `node` for a WebSocket on document `id` until the answer is `want`.
async fn ws_until(node: &TestServer, id: &str, bearer: &str, want: u16) {
    let start = tokio::time::Instant::now();
    loop {
        let status = node.ws_status(id, &[("authorization", bearer)]).await;
        if status == want {
            return;
        }
        assert!(start.elapsed() < WAIT, "a connection stays {status}, not {want}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn connection_and_write_limits_count_over_all_nodes() {
    if !on_postgres("connection_and_write_limits_count_over_all_nodes") {
        return;
    }
    let a = TestServer::start_with(&["--max-sockets-per-user", "2"]).await;
    let b = a.beside().await;
    let sara = a.clb().await;
    let reg = sara.creates_registration().await;
    let bearer = format!("Bearer {}", sara.token);
    // One connection on each node: the cap of two is reached on both.
    let _on_a = sara.opens(&reg).await;
    let on_b = sara.on(&b).opens(&reg).await;
    ws_until(&a, &reg.id, &bearer, 429).await;
    ws_until(&b, &reg.id, &bearer, 429).await;
    // Closing the one on B frees a place on A.
    on_b.close().await;
    ws_until(&a, &reg.id, &bearer, 101).await;

    // Ten comments on A spend the burst; B refuses what is left beyond the refill.
    let started = tokio::time::Instant::now();
    for n in 0..10 {
        let (status, body) = sara
            .post(
                reg.path("/comments"),
                serde_json::json!({ "body": format!("Punt {n}") }),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let on_b = sara.on(&b);
    let mut allowed = 0;
    loop {
        let (status, body) = on_b
            .post(reg.path("/comments"), serde_json::json!({ "body": "Op B" }))
            .await;
        match status {
            201 => allowed += 1,
            429 => break,
            other => panic!("a comment on B: {other} {body}"),
        }
        assert!(allowed <= 10, "B never refused: it did not count A's comments");
    }
    // One comment every 3 seconds comes back, wherever it is written.
    let refilled = started.elapsed().as_secs() / 3 + 1;
    assert!(
        allowed <= refilled,
        "B allowed {allowed} more after A's ten ({refilled} refilled)"
    );
}

#[tokio::test]
async fn the_name_guard_works_across_nodes() {
    let Some((a, b)) = two_nodes("the_name_guard_works_across_nodes").await else {
        return;
    };
    let clb = a.clb().await;
    let school = a.school_member("linde").await.on(&b);
    let reg = clb.creates_registration().await;
    let on_a = clb.opens(&reg).await;
    let on_b = school.opens(&reg).await;

    // Written on A, found on B: B's room checks what it took in from A.
    type_paragraph(&on_a, "advice", "Juf Roos volgt Lotte uit 5B op.");
    on_a.durable(WAIT).await.expect("stored on A");
    crate::names::sees_names(&on_b, "the school on B", &["Roos", "Lotte"]).await;

    // Dismissed on B, gone on A: the dismissal is told to the other nodes.
    let (status, left) = school
        .post(
            format!("/api/documents/{}/names/dismiss", reg.id),
            serde_json::json!({ "name": "Roos" }),
        )
        .await;
    assert_eq!(status, 200, "{left}");
    crate::names::sees_names(&on_a, "the CLB on A", &["Lotte"]).await;
}

#[tokio::test]
async fn a_school_hears_on_one_node_of_the_documents_its_lsc_keeps_on_another() {
    let Some((a, b)) =
        two_nodes("a_school_hears_on_one_node_of_the_documents_its_lsc_keeps_on_another").await
    else {
        return;
    };
    let lsc = a.lsc().await;
    let school = a.school_member("linde").await.on(&b);
    let (_, agreements) = school.get("/api/schools/100001/agreements").await;
    let id = agreements["agreements"]
        .as_array()
        .and_then(|all| all.iter().find(|x| x["lsc"]["number"] == "800001"))
        .and_then(|x| x["id"].as_str())
        .expect("De Linde's agreements with LSC Demo")
        .to_owned();
    let open_on_b = school.opens(&Reg { id: id.clone() }).await;
    let (status, file) = crate::files::upload(
        &lsc,
        &format!("/api/agreements/{id}/files"),
        "Tijdskader.txt",
        "text/plain",
        b"Het LSC komt om de twee weken.\n".to_vec(),
    )
    .await;
    assert_eq!(status, 201, "{file}");
    open_on_b
        .wait_for("told on B of the upload on A", WAIT, |s| s.files_changed >= 1)
        .await
        .expect("the agreements' room on B tells of the file kept on A");
}

#[tokio::test]
async fn an_export_asked_for_on_one_node_is_followed_and_fetched_on_another() {
    let Some((a, b)) = two_nodes("an_export_asked_for_on_one_node_is_followed_and_fetched_on_another").await
    else {
        return;
    };
    let on_a = a.school_member("linde").await;
    let on_b = on_a.on(&b);
    let (status, started) = on_a
        .post(
            "/api/schools/100001/exports",
            serde_json::json!({ "format": "pdf" }),
        )
        .await;
    assert_eq!(status, 202, "{started}");
    let id = started["id"].as_str().expect("an id").to_owned();
    let (_, job) = crate::exports::export_finished(&on_b, &id).await;
    assert_eq!(job["status"], "ready", "{job}");
    let file = on_b.download(format!("/api/exports/{id}/file")).await;
    assert_eq!((file.status, file.kind.as_str()), (200, "application/pdf"));
    assert!(file.bytes.starts_with(b"%PDF-"));
}

//! Proof under faults: `kill -9` of the server, 20 times, while the load generator's
//! editors and a few tracked Rust clients (all with acks) type into one registration.
//! After every restart each acknowledged edit is there, no edit is there in part, and
//! every client, the server and finally the load generator's editors agree.
//!
//! The run is seeded (`SAMEN_TEST_SEED` replays it): the Rust writers' sections and
//! batches, the load generator's own seed per round and the moment of each kill.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use futures_util::future::join_all;
use samen_client::Client;
use samen_client::load::config::{Cli, Plan};
use samen_client::load::run::{Barrier, WorkerReport, run_worker};
use yrs::WriteTxn;
use yrs::types::xml::{XmlElementPrelim, XmlFragment, XmlTextPrelim};

use crate::support::{CLB_SECTIONS, Person, Reg, SCHOOL_SECTIONS, TestServer, WAIT, sections_of, test_seed};

const ROUNDS: usize = 20;
/// Editors of the load generator, and the edits each makes per second.
const LOAD_CLIENTS: usize = 3;
const LOAD_RATE: &str = "20";

/// One transaction of a tracked writer: paragraphs `(section, text)`, all or none of
/// which must survive a crash.
type Batch = Vec<(&'static str, String)>;

/// What a round's tracked writers typed, and which of it the server acknowledged.
#[derive(Default)]
struct Ledger {
    typed: Vec<Batch>,
    acked: Vec<Batch>,
}

/// A samen-load run against `reg`: `LOAD_CLIENTS` editors with acks, no warm-up.
fn load_plan(who: &Person<'_>, reg: &Reg, seed: u64, duration: u64, quiet: u64) -> Arc<Plan> {
    let url = format!("ws://{}/sync", who.server().addr());
    let clients = LOAD_CLIENTS.to_string();
    let (seed, duration, quiet) = (seed.to_string(), duration.to_string(), quiet.to_string());
    let args = [
        "samen-load",
        "--url",
        &url,
        "--room-ids",
        &reg.id,
        "--token",
        &who.token,
        "--acks",
        "--clients",
        &clients,
        "--rate",
        LOAD_RATE,
        "--warmup",
        "0",
        "--duration",
        &duration,
        "--quiet",
        &quiet,
        "--seed",
        &seed,
    ];
    let cli = Cli::try_parse_from(args).expect("arguments");
    Arc::new(Plan::from_cli(&cli, None, "chaos").expect("plan"))
}

/// Types batches of 1–3 new paragraphs (one transaction each) into the sections `may`,
/// waiting for each batch's ack, until the connection is gone.
async fn write_until_closed(
    client: &Client,
    may: &'static [&'static str],
    name: String,
    mut rng: fastrand::Rng,
) -> Ledger {
    let mut ledger = Ledger::default();
    for n in 0.. {
        let batch: Batch = (0..1 + rng.u64(..) % 3)
            .map(|k| {
                let section = may[(rng.u64(..) % may.len() as u64) as usize];
                (section, format!("{name}N{n}K{k}"))
            })
            .collect();
        let before = client.status().sent;
        client.edit(|txn| {
            for (section, text) in &batch {
                let fragment = txn.get_or_insert_xml_fragment(*section);
                let paragraph = fragment.push_back(txn, XmlElementPrelim::empty("paragraph"));
                paragraph.push_back(txn, XmlTextPrelim::new(text.as_str()));
            }
        });
        ledger.typed.push(batch.clone());
        // An edit made after the connection ended is never sent, and then `durable`
        // (acked ≥ sent) would hold at once: only a sent batch can be acknowledged.
        if client.status().sent == before {
            break;
        }
        if client.durable(WAIT).await.is_err() {
            break;
        }
        ledger.acked.push(batch);
        tokio::time::sleep(Duration::from_millis(rng.u64(..) % 20)).await;
    }
    ledger
}

/// The paragraphs of the tracked writers in the server's content: every line but the first
/// of `goals`, which is the load generator's.
fn writer_lines(content: &BTreeMap<String, String>) -> BTreeMap<(&str, &str), usize> {
    let mut lines = BTreeMap::new();
    for (section, text) in content {
        let skip = usize::from(section == "goals");
        for line in text.split('\n').skip(skip).filter(|l| !l.is_empty()) {
            *lines.entry((section.as_str(), line)).or_insert(0) += 1;
        }
    }
    lines
}

/// Waits until a client's document reads as `content`; `who` names it in the failure.
async fn converges(client: &Client, content: &BTreeMap<String, String>, who: &str) {
    let t0 = tokio::time::Instant::now();
    while sections_of(client.doc()) != *content {
        assert!(
            t0.elapsed() < WAIT,
            "{who} differs from the server:\n{:?}\nserver:\n{content:?}",
            sections_of(client.doc())
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_load_loses_no_acknowledged_edit() {
    let seed = test_seed("chaos::kill_9_under_load_loses_no_acknowledged_edit");
    let mut rng = fastrand::Rng::with_seed(seed);
    // A small compaction threshold, so that some kills land in or right after a compaction.
    let server = TestServer::start_with(&["--compact-after", "50"]).await;
    let sara = server.clb().await;
    let tom = server.school_member("linde").await;
    let reg = sara.creates_registration().await;
    let writers: [(&Person<'_>, &'static [&'static str]); 3] = [
        (&sara, CLB_SECTIONS.as_slice()),
        (&tom, SCHOOL_SECTIONS.as_slice()),
        (&sara, CLB_SECTIONS.as_slice()),
    ];

    // The load generator types into the first paragraph of `goals`; it is made here, before
    // anything else, so that the writers' paragraphs all come after it.
    {
        let first = sara.opens(&reg).await;
        first.edit(|txn| {
            let goals = txn.get_or_insert_xml_fragment("goals");
            let paragraph = goals.push_back(txn, XmlElementPrelim::empty("paragraph"));
            paragraph.push_back(txn, XmlTextPrelim::new(""));
        });
        first.durable(WAIT).await.expect("the load's paragraph is stored");
    }

    let mut typed: Vec<Batch> = Vec::new();
    let mut acked: Vec<Batch> = Vec::new();
    let mut load_edits = 0;
    let started = tokio::time::Instant::now();
    for round in 0..ROUNDS {
        let clients = join_all(writers.iter().map(|(who, _)| who.opens(&reg))).await;
        // Reconnected after the last crash, before anyone types: each holds exactly what
        // the server holds.
        let content = sara.reads_content(&reg).await;
        for (w, client) in clients.iter().enumerate() {
            converges(
                client,
                &content,
                &format!("seed {seed}, round {round}: writer {w}"),
            )
            .await;
        }
        let writer_rngs: Vec<fastrand::Rng> = (0..writers.len())
            .map(|_| fastrand::Rng::with_seed(rng.u64(..)))
            .collect();
        let load_seed = rng.u64(..);
        let kill_after = Duration::from_millis(100 + rng.u64(..) % 600);

        let load = tokio::spawn(run_worker(
            load_plan(&sara, &reg, load_seed, 1, 0),
            0,
            Barrier::None,
        ));
        let kill = async {
            // Once the load generator's editors are in the room (their presence reached a
            // writer; the writers have none), they edit from their first tick on: kill in
            // the middle of it.
            let watcher = &clients[0];
            let t0 = tokio::time::Instant::now();
            while watcher.status().awareness.len() < LOAD_CLIENTS {
                assert!(
                    t0.elapsed() < WAIT,
                    "seed {seed}, round {round}: the load generator never joined"
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            tokio::time::sleep(kill_after).await;
            server.kill9().await;
        };
        let writing = join_all(clients.iter().zip(&writers).zip(writer_rngs).enumerate().map(
            |(w, ((client, (_, may)), rng))| write_until_closed(client, may, format!("R{round}W{w}"), rng),
        ));
        let ((), ledgers) = tokio::join!(kill, writing);
        drop(clients);
        let report: WorkerReport = tokio::time::timeout(Duration::from_secs(30), load)
            .await
            .unwrap_or_else(|_| panic!("seed {seed}, round {round}: the load generator hangs"))
            .expect("load task");
        assert_eq!(
            (report.clients_connected, report.clients_failed),
            (LOAD_CLIENTS as u64, 0),
            "seed {seed}, round {round}: the load's editors were all connected when it died: {:?}",
            report.error_samples
        );
        load_edits += report.sent_all;
        let round_acked: usize = ledgers.iter().map(|l| l.acked.len()).sum();
        for ledger in ledgers {
            typed.extend(ledger.typed);
            acked.extend(ledger.acked);
        }

        server.restart().await;

        // Every acknowledged paragraph is stored; every batch is there whole or not at all;
        // nothing is there that nobody typed, nor twice.
        let content = sara.reads_content(&reg).await;
        let lines = writer_lines(&content);
        for batch in &acked {
            for (section, text) in batch {
                assert!(
                    lines.contains_key(&(*section, text.as_str())),
                    "seed {seed}, round {round}: acknowledged {text:?} in {section} was lost \
                     by kill -9; {section} now: {:?}",
                    content[*section]
                );
            }
        }
        for batch in &typed {
            let present = batch
                .iter()
                .filter(|(s, t)| lines.contains_key(&(*s, t.as_str())))
                .count();
            assert!(
                present == 0 || present == batch.len(),
                "seed {seed}, round {round}: a transaction survived in part: {present} of \
                 {batch:?}"
            );
        }
        let known: BTreeSet<(&str, &str)> = typed.iter().flatten().map(|(s, t)| (*s, t.as_str())).collect();
        for (line, count) in &lines {
            assert!(
                known.contains(line) && *count == 1,
                "seed {seed}, round {round}: {line:?} is stored {count} times, typed: {}",
                known.contains(line)
            );
        }
        let goals_first = content["goals"].split('\n').next().unwrap_or("");
        assert!(
            goals_first.chars().all(|c| c.is_ascii_lowercase() || c == ' '),
            "seed {seed}, round {round}: the load's paragraph holds {goals_first:?}"
        );
        eprintln!(
            "round {round}: killed {kill_after:?} into the load ({} load edits, {round_acked} \
             writer batches acked); {} batches acked so far, all there",
            report.sent_all,
            acked.len()
        );
    }

    // After the last crash: the writers reconnect and hold exactly what the server holds,
    // and a full load run (no kill) delivers every edit and converges.
    let clients = join_all(writers.iter().map(|(who, _)| who.opens(&reg))).await;
    let report = run_worker(load_plan(&sara, &reg, rng.u64(..), 2, 10), 0, Barrier::None).await;
    assert!(
        report.errors.is_empty(),
        "seed {seed}: the last load run: {:?}",
        report.error_samples
    );
    assert_eq!(
        (report.delivered_all, report.converged_rooms),
        (report.expected_all, 1),
        "seed {seed}: the load's editors got every edit and agree"
    );
    let content = sara.reads_content(&reg).await;
    for (w, client) in clients.iter().enumerate() {
        converges(client, &content, &format!("seed {seed}, at the end: writer {w}")).await;
    }
    assert!(
        load_edits >= ROUNDS as u64,
        "seed {seed}: the load generator made only {load_edits} edits before the kills"
    );
    eprintln!(
        "{ROUNDS} kills in {:?}: {} of {} writer batches acked and kept, {load_edits} load edits",
        started.elapsed(),
        acked.len(),
        typed.len()
    );
}

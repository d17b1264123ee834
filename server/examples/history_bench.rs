//! Version history at scale: a document with 10,000 updates in its history, written by two
//! people over real WebSockets (typing, deleting, new paragraphs), with versions at update
//! 100 and 5,000. Measures, through the HTTP API, the time to name a version (which
//! computes its summary), to view a version, and to diff a version against now; and the
//! same steps in samen-crdt alone, to show where the time goes.
//!
//!     cargo run --release -p samen-server --example history_bench [-- UPDATES]
//!
//! Prints one JSON line. Everything runs in this process on loopback, with a temporary
//! database.

mod common;

use std::time::{Duration, Instant};

use samen_client::{Auth, Client, Options};
use samen_crdt::history;
use serde_json::{Value, json};
use yrs::types::text::Text;
use yrs::types::xml::{XmlElementPrelim, XmlFragment, XmlTextPrelim};
use yrs::{ReadTxn, StateVector, Transact, XmlOut};

/// Runs of each measured call; the report gives the median and the slowest.
const RUNS: usize = 15;

async fn connect(url: &str, token: &str) -> Client {
    let options = Options {
        acks: true,
        auth: Auth::Bearer(token.to_owned()),
        ..Options::default()
    };
    let client = Client::connect(url, options).await.expect("connect");
    client.synced(Duration::from_secs(30)).await.expect("synced");
    client
}

/// One keystroke-sized edit of `goals`: mostly typing, some deleting, now and then Enter.
fn edit(client: &Client, step: usize) {
    let goals = client.doc().get_or_insert_xml_fragment("goals");
    client.edit(|txn| {
        let blocks = goals.len(txn);
        if blocks == 0 || step.is_multiple_of(97) {
            let p = goals.insert(txn, blocks, XmlElementPrelim::empty("paragraph"));
            p.insert(txn, 0, XmlTextPrelim::new("Doel "));
            return;
        }
        let at = (step * 7919) as u32 % blocks;
        let Some(XmlOut::Element(p)) = goals.get(txn, at) else {
            return;
        };
        let Some(XmlOut::Text(t)) = p.get(txn, 0) else {
            return;
        };
        let len = t.len(txn);
        if step.is_multiple_of(5) && len > 2 {
            t.remove_range(txn, (step as u32 * 31) % (len - 1), 1);
        } else {
            let at = (step as u32 * 13) % (len + 1);
            t.insert(txn, at, if step.is_multiple_of(6) { " " } else { "a" });
        }
    });
}

async fn timed<F, Fut>(mut call: F) -> (f64, f64, Value)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Value>,
{
    let mut times = Vec::with_capacity(RUNS);
    let mut last = Value::Null;
    for _ in 0..RUNS {
        let started = Instant::now();
        last = call().await;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    (times[RUNS / 2], times[RUNS - 1], last)
}

fn timed_sync<T>(mut work: impl FnMut() -> T) -> (f64, T) {
    let mut times = Vec::with_capacity(RUNS);
    let mut out = work();
    for _ in 0..RUNS {
        let started = Instant::now();
        out = work();
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    (times[RUNS / 2], out)
}

#[tokio::main]
async fn main() {
    let updates: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let common::World {
        store,
        db,
        school,
        clb_token: sara_token,
        registration,
        ..
    } = common::world(dir.path(), "History").await;
    let tom = db
        .create_user("tom@example.test", "Tom", "x")
        .await
        .expect("user");
    db.grant(&tom.id, "school_dossier", Some(school))
        .await
        .expect("grant");
    let new = samen_server::db::NewToken {
        name: "bench",
        lifetime_ms: i64::MAX,
        scope: samen_server::db::TokenScope::ReadWrite,
        school: None,
    };
    let (_, tom_token) = db.create_token(&tom.id, &new).await.expect("token");
    store.close().await;

    let (addr, stop, task) = common::start(dir.path()).await;
    let url = format!("ws://{addr}/sync/{}", registration.id);
    let api = format!("http://{addr}/api/registrations/{}", registration.id);
    let http = reqwest::Client::new();
    let name_version = |name: &str| {
        http.post(format!("{api}/snapshots"))
            .bearer_auth(&sara_token)
            .json(&json!({ "name": name }))
            .send()
    };

    // The history: two people, one update per keystroke, acknowledged in bursts of 100.
    let writers = [connect(&url, &sara_token).await, connect(&url, &tom_token).await];
    let started = Instant::now();
    let mut early = String::new();
    let mut middle = String::new();
    let mut name_ms = 0.0;
    let mut mid_snapshot = yrs::Snapshot::default();
    for step in 0..updates {
        let writer = &writers[(step / 10) % 2];
        edit(writer, step);
        if step % 100 == 99 {
            for w in &writers {
                w.durable(Duration::from_secs(60)).await.expect("durable");
            }
            // Let each writer see the other's edits before it edits again.
            let target = writers[0].doc().transact().state_vector();
            let start = Instant::now();
            while writers[1].doc().transact().state_vector() != target
                && start.elapsed() < Duration::from_secs(10)
            {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        if step + 1 == 100 || step + 1 == updates / 2 {
            let t = Instant::now();
            let response = name_version(&format!("Na {} updates", step + 1))
                .await
                .expect("name");
            let body: Value = response.json().await.expect("json");
            if step + 1 == 100 {
                early = body["id"].as_str().expect("id").to_owned();
            } else {
                name_ms = t.elapsed().as_secs_f64() * 1000.0;
                mid_snapshot = history::snapshot(writers[0].doc());
                middle = body["id"].as_str().expect("id").to_owned();
            }
        }
    }
    for w in &writers {
        w.durable(Duration::from_secs(60)).await.expect("durable");
    }
    let written_s = started.elapsed().as_secs_f64();
    let state = writers[0]
        .doc()
        .transact()
        .encode_state_as_update_v1(&StateVector::default());

    let get = |path: String| {
        let http = http.clone();
        let token = tom_token.clone();
        async move {
            let response = http.get(path).bearer_auth(token).send().await.expect("get");
            assert!(response.status().is_success(), "{}", response.status());
            response.json::<Value>().await.expect("json")
        }
    };
    let (view_ms, view_max_ms, version) = timed(|| get(format!("{api}/snapshots/{middle}"))).await;
    let (diff_ms, diff_max_ms, diff) = timed(|| get(format!("{api}/diff?from={middle}"))).await;
    let (diff_early_ms, diff_early_max_ms, _) = timed(|| get(format!("{api}/diff?from={early}"))).await;
    let (diff_versions_ms, _, _) = timed(|| get(format!("{api}/diff?from={early}&to={middle}"))).await;
    let t = Instant::now();
    let response = name_version("Na alles").await.expect("name");
    assert!(response.status().is_success());
    let name_end_ms = t.elapsed().as_secs_f64() * 1000.0;

    // The same work in samen-crdt alone: where the time goes.
    let doc = samen_crdt::text::doc_from_state(&state).expect("state");
    let (load_ms, _) = timed_sync(|| samen_crdt::text::doc_from_state(&state).expect("state"));
    let snapshot = mid_snapshot;
    let (state_at_ms, old) = timed_sync(|| history::state_at(&doc, &snapshot).expect("state at"));
    let (doc_at_ms, old_doc) = timed_sync(|| history::doc_at(&doc, &snapshot).expect("doc at"));
    let deletions = history::Deletions::<u8>::default();
    let (crdt_diff_ms, _) = timed_sync(|| {
        let now = samen_crdt::text::doc_from_state(&state).expect("state");
        history::diff(&old_doc, &now, &deletions)
    });

    let _ = stop.send(());
    let _ = task.await;
    let goals = version["sections"]["goals"].as_str().unwrap_or_default();
    let goals_now = samen_crdt::text::plain_text(&doc)["goals"].chars().count();
    assert_eq!(
        samen_crdt::text::plain_text(&old_doc)["goals"],
        goals,
        "the API and samen-crdt agree on the version"
    );
    println!(
        "{}",
        json!({
            "updates": updates,
            "runs": RUNS,
            "state_bytes": state.len(),
            "version_state_bytes": old.len(),
            "goals_chars_now": goals_now,
            "diff_goals_since_half": diff["stats"]["goals"],
            "goals_chars_at_version": goals.chars().count(),
            "history_written_s": written_s,
            "api_name_version_at_half_ms": name_ms,
            "api_name_version_at_end_ms": name_end_ms,
            "api_view_version_ms": { "median": view_ms, "max": view_max_ms },
            "api_diff_half_to_now_ms": { "median": diff_ms, "max": diff_max_ms },
            "api_diff_early_to_now_ms": { "median": diff_early_ms, "max": diff_early_max_ms },
            "api_diff_early_to_half_ms": diff_versions_ms,
            "crdt_load_state_ms": load_ms,
            "crdt_state_at_ms": state_at_ms,
            "crdt_doc_at_ms": doc_at_ms,
            "crdt_diff_half_to_now_ms": crdt_diff_ms,
        })
    );
}

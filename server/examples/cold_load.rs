//! Cold load: how long until the first client of a document with 100,000 updates in its
//! history is synced, with the updates still in the log and after compaction.
//!
//!     cargo run --release -p samen-server --example cold_load [-- UPDATES]
//!
//! Prints one JSON line. The server runs in this process on a random loopback port with a
//! temporary database; the client is samen-client over a real WebSocket.

mod common;

use std::time::{Duration, Instant};

use samen_client::{Auth, Client, Options};
use samen_server::storage::NewUpdate;
use yrs::Transact;
use yrs::types::xml::XmlFragment;

async fn first_sync(url: &str, token: &str) -> (Duration, usize) {
    let started = Instant::now();
    let options = Options {
        auth: Auth::Bearer(token.to_owned()),
        ..Options::default()
    };
    let client = Client::connect(url, options).await.expect("connect");
    client.synced(Duration::from_secs(120)).await.expect("synced");
    let elapsed = started.elapsed();
    let goals = client.doc().get_or_insert_xml_fragment("goals");
    let len = {
        let txn = client.doc().transact();
        goals.len(&txn) as usize
    };
    client.close().await;
    (elapsed, len)
}

#[tokio::main]
async fn main() {
    let updates: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let common::World {
        store,
        clb_user: user,
        clb_token: token,
        registration,
        ..
    } = common::world(dir.path(), "Cold load").await;

    // One person typing: one update per keystroke, as an editor sends them.
    let generated = Instant::now();
    let typed = samen_crdt::typing::typing("goals", updates.saturating_sub(1), |i| {
        if (i + 1) % 60 == 0 { ' ' } else { 'a' }
    });
    let client_id = typed.client_id;
    let log: Vec<NewUpdate> = typed
        .updates
        .into_iter()
        .map(|data| NewUpdate {
            data,
            author: Some(user.id.clone()),
            deleted: Vec::new(),
        })
        .collect();
    for (n, chunk) in log.chunks(5_000).enumerate() {
        let bindings = if n == 0 {
            vec![(client_id, user.id.clone())]
        } else {
            Vec::new()
        };
        store
            .append(registration.id.into(), (n * 5_000) as i64 + 1, chunk, &bindings)
            .await
            .expect("append");
    }
    let stored_in = generated.elapsed();
    store.close().await;

    // First life: the whole history is in the log; loading it compacts it.
    let (addr, stop, task) = common::start(dir.path()).await;
    let url = format!("ws://{addr}/sync/{}", registration.id);
    let (uncompacted, len) = first_sync(&url, &token).await;
    let _ = stop.send(());
    let _ = task.await;

    // Second life: state only.
    let (addr, stop, task) = common::start(dir.path()).await;
    let url = format!("ws://{addr}/sync/{}", registration.id);
    let (compacted, len2) = first_sync(&url, &token).await;
    let _ = stop.send(());
    let _ = task.await;
    assert_eq!(len, 1);
    assert_eq!(len2, 1);

    println!(
        "{}",
        serde_json::json!({
            "updates": updates,
            "setup_s": stored_in.as_secs_f64(),
            "first_sync_uncompacted_ms": uncompacted.as_secs_f64() * 1000.0,
            "first_sync_compacted_ms": compacted.as_secs_f64() * 1000.0,
        })
    );
}

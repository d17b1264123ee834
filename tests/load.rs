//! The load generator (`samen-load`) against a real server: what it reports is what
//! happened, both when every edit arrives and when the server dies under it.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use samen_client::load::config::{Cli, Plan};
use samen_client::load::run::{Barrier, WorkerReport, run_worker};
use tokio::process::Command;

use crate::support::{Person, Reg, TestServer, WAIT, announced, node_dir};

/// A plan against the registrations `rooms`, with the token of `who`.
fn plan(who: &Person<'_>, rooms: &[Reg], duration: u64, extra: &[&str]) -> Arc<Plan> {
    let url = format!("ws://{}/sync", who.server().addr());
    let ids = rooms.iter().map(|r| r.id.as_str()).collect::<Vec<_>>().join(",");
    let duration = duration.to_string();
    let mut args = vec!["--url", &url, "--room-ids", &ids, "--token", &who.token];
    args.extend(["--duration", &duration]);
    args.extend(extra);
    plan_of(&args)
}

/// 3 editors per room, 5 edits/s each, a 1 s warm-up, and `args`.
fn plan_of(args: &[&str]) -> Arc<Plan> {
    let common = [
        "samen-load",
        "--clients",
        "3",
        "--rate",
        "5",
        "--warmup",
        "1",
        "--quiet",
        "5",
    ];
    let cli = Cli::try_parse_from(common.iter().chain(args)).expect("arguments");
    Arc::new(Plan::from_cli(&cli, None, "test").expect("plan"))
}

async fn registrations(who: &Person<'_>, n: usize) -> Vec<Reg> {
    let mut regs = Vec::new();
    for _ in 0..n {
        regs.push(who.creates_registration().await);
    }
    regs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_edit_a_real_server_delivers_is_counted_and_rooms_converge() {
    let server = TestServer::start().await;
    let sara = server.clb().await;
    let rooms = registrations(&sara, 2).await;
    let report: WorkerReport = run_worker(
        plan(&sara, &rooms, 2, &["--acks", "--window", "1"]),
        0,
        Barrier::None,
    )
    .await;

    assert_eq!((report.clients_connected, report.clients_failed), (6, 0));
    assert!(report.errors.is_empty(), "errors: {:?}", report.error_samples);
    // 6 editors × 5/s × 2 s, give or take the ticks at the edges.
    assert!((30..=90).contains(&report.sent), "sent {}", report.sent);
    assert_eq!(
        report.expected,
        report.sent * 2,
        "each edit is owed to the room's two others"
    );
    assert_eq!(report.delivered, report.expected, "nothing lost");
    assert_eq!(
        report.latency.count(),
        report.delivered,
        "a latency for every receipt"
    );
    assert_eq!(report.converged_rooms, 2);
    // Two measured seconds in windows of one: edits sent in each, every receipt in one.
    // (A third holds what was sent as the phase turned, if anything.)
    assert!(
        (2..=3).contains(&report.windows.len()),
        "{} windows",
        report.windows.len()
    );
    assert!(
        report.windows[..2].iter().all(|w| w.count() > 0),
        "edits in each second"
    );
    assert_eq!(
        report.windows.iter().map(|w| w.count()).sum::<u64>(),
        report.latency.count()
    );
    assert!(
        report.counters.acked > 0,
        "durability acks were asked for and counted"
    );
    assert!(report.counters.awareness_received > 0, "carets reached the peers");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_dying_under_load_shows_as_loss_and_errors() {
    let server = TestServer::start().await;
    let sara = server.clb().await;
    let rooms = registrations(&sara, 1).await;
    let load = tokio::spawn(run_worker(plan(&sara, &rooms, 4, &[]), 0, Barrier::None));
    // Into the measured window (the 1 s warm-up brings 15 edits), then gone without a
    // goodbye.
    let started = tokio::time::Instant::now();
    while server.metric("samen_updates_accepted_total").await < 25.0 {
        assert!(
            started.elapsed() < WAIT,
            "the load generator never got to editing"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.kill9().await;
    let report = tokio::time::timeout(Duration::from_secs(30), load)
        .await
        .expect("the load generator ends on its own")
        .expect("task");

    assert_eq!(report.clients_connected, 3, "they were connected before");
    assert_eq!(
        report.errors.get("closed"),
        Some(&3),
        "every lost connection is reported: {:?}",
        report.error_samples
    );
    // 3 editors × 5/s × 4 s planned; editing stops with the server, about halfway.
    assert!(
        (1..30).contains(&report.sent),
        "sent {}: edits before the server died, none after",
        report.sent
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_join_storm_times_each_joiner_until_it_holds_the_preloaded_document() {
    let server = TestServer::start().await;
    let sara = server.clb().await;
    let rooms = registrations(&sara, 2).await;
    // Three clients per room: the first writes the preload, two join in the storm.
    let extra = ["--idle", "--join-storm", "--preload-kib", "48,8"];
    let report = run_worker(plan(&sara, &rooms, 1, &extra), 0, Barrier::None).await;

    assert!(report.errors.is_empty(), "errors: {:?}", report.error_samples);
    assert_eq!((report.clients_connected, report.clients_failed), (6, 0));
    assert_eq!(
        report.join.count(),
        4,
        "the two joiners of each room, timed from the storm"
    );
    assert_eq!(report.converged_rooms, 2);
    // Each joiner received the room's preloaded state (48 KiB, then 8 KiB) when it synced.
    let preloaded = 2 * (48 + 8) * 1024;
    assert!(
        report.counters.bytes_received >= preloaded,
        "{} bytes received, the joiners' share of the preload alone is {preloaded}",
        report.counters.bytes_received
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn it_speaks_hocuspocus_to_a_real_hocuspocus() {
    let mut hocuspocus = Command::new("node")
        .arg(node_dir().join("hocuspocus.mjs"))
        .current_dir(node_dir())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("run node (is Node.js installed? run the README's test command)");
    let addr = announced(&mut hocuspocus, "Hocuspocus", "listening on ").await;
    let url = format!("ws://{addr}");
    let plan = plan_of(&[
        "--url",
        &url,
        "--protocol",
        "hocuspocus",
        "--rooms",
        "2",
        "--duration",
        "2",
    ]);
    let report = run_worker(plan, 0, Barrier::None).await;

    assert_eq!((report.clients_connected, report.clients_failed), (6, 0));
    assert!(report.errors.is_empty(), "errors: {:?}", report.error_samples);
    assert!(report.sent > 0);
    assert_eq!(report.expected, report.sent * 2);
    assert_eq!(report.delivered, report.expected, "nothing lost");
    assert_eq!(report.converged_rooms, 2);
    assert!(report.counters.awareness_received > 0, "carets reached the peers");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_clients_reconnect_after_a_restart_with_jitter_and_say_when() {
    let server = TestServer::start().await;
    let sara = server.clb().await;
    let rooms = registrations(&sara, 2).await;
    // The clients keep one address while the server comes back on another.
    let proxy = crate::support::Proxy::start(vec![server.addr()]).await;
    let url = format!("ws://{}/sync", proxy.addr());
    let ids = rooms.iter().map(|r| r.id.as_str()).collect::<Vec<_>>().join(",");
    let args = [
        "--url",
        &url,
        "--room-ids",
        &ids,
        "--token",
        &sara.token,
        "--idle",
        "--duration",
        "8",
        "--reconnect",
        "jitter",
    ];
    let run = tokio::spawn(run_worker(plan_of(&args), 0, Barrier::None));
    let until = tokio::time::Instant::now() + WAIT;
    while server.metric("samen_connections").await < 6.0 && tokio::time::Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A socket counts as soon as it opens; its sync takes a moment more (longer while the
    // other tests run), and a client whose first sync is cut counts as failed, not dropped.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(server.stop().await, "stopped cleanly");
    server.restart().await;
    proxy.set_nodes(vec![server.addr()]);

    let report = run.await.expect("worker");
    assert_eq!(
        (report.clients_connected, report.clients_failed),
        (6, 0),
        "errors: {:?}",
        report.error_samples
    );
    assert!(report.errors.is_empty(), "errors: {:?}", report.error_samples);
    let storm = &report.storm;
    assert_eq!(storm.drops.len(), 6, "{storm:?}");
    assert_eq!(storm.resynced.len(), 6, "every client synced again: {storm:?}");
    assert!(storm.attempts.len() >= 6, "{storm:?}");
    for [dropped, synced] in &storm.resynced {
        assert!(synced > dropped, "{storm:?}");
    }
    // Full jitter: the first attempts spread over the first two seconds, not all at once as
    // with a fixed wait (six uniform draws within 50 ms of each other: about one run in a
    // hundred million).
    let mut attempts = storm.attempts.clone();
    attempts.sort_unstable();
    assert!(attempts[5] - attempts[0] > 50, "{attempts:?}");
    assert_eq!(report.converged_rooms, 2);
}

#[test]
fn reconnecting_is_for_idle_clients() {
    let cli = Cli::try_parse_from(["samen-load", "--reconnect", "jitter"]).expect("arguments");
    let refused = Plan::from_cli(&cli, None, "test").expect_err("editing clients may not reconnect");
    assert!(refused.contains("--idle"), "{refused}");
}

//! Running a load: one worker's rooms, and the parent that spreads rooms over worker
//! processes and merges their reports.
//!
//! Workers are this same binary started with `--worker --worker-index i --run-id X` and
//! the parent's other arguments. Worker `i` takes rooms `i, i+W, i+2W, …`, so each room
//! (and its latency table) lives in one process with one clock. A worker prints
//! `{"type":"ready",…}` once its clients are connected, waits for `go` on stdin (so every
//! worker starts editing together), then prints `{"type":"report",…}`.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::backoff::Reconnect;
use super::config::{Plan, Protocol};
use super::conn::{self, ClientCounters, ClientReport, Cmd, Failure, RoomShared, Spec, phase};
use super::stats::{Histogram, Summary};
use super::storm::{StormLog, StormReport};
use super::wire::Framing;

/// How many error details a report keeps.
const ERROR_SAMPLES: usize = 10;

/// What one worker measured.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct WorkerReport {
    /// Clients that connected and synced.
    pub clients_connected: u64,
    /// Clients that did not.
    pub clients_failed: u64,
    /// WebSocket handshake times.
    pub connect: Histogram,
    /// Connect-to-synced times.
    pub sync: Histogram,
    /// End-to-end latencies of measured edits.
    pub latency: Histogram,
    /// Those between clients on different nodes (several nodes).
    #[serde(default)]
    pub latency_cross: Histogram,
    /// Those between clients on the same node (several nodes).
    #[serde(default)]
    pub latency_same: Histogram,
    /// Edits sent in the measured window.
    pub sent: u64,
    /// (edit, peer) pairs expected for those.
    pub expected: u64,
    /// (edit, peer) pairs delivered.
    pub delivered: u64,
    /// Edits sent in all phases.
    pub sent_all: u64,
    /// Their expected and delivered receipts.
    pub expected_all: u64,
    /// Delivered receipts, all phases.
    pub delivered_all: u64,
    /// Summed client counters.
    pub counters: ClientCounters,
    /// Rooms of this worker.
    pub rooms: u64,
    /// Rooms whose clients all ended with the same content.
    pub converged_rooms: u64,
    /// Seconds spent waiting for outstanding updates after editing stopped.
    pub quiet_wait_s: f64,
    /// Errors by kind.
    pub errors: BTreeMap<String, u64>,
    /// A few error details.
    pub error_samples: Vec<String>,
    /// Connections lost and won back (`--reconnect`).
    #[serde(default)]
    pub storm: StormReport,
    /// From the join storm's start until each client was synced (`--join-storm`).
    #[serde(default)]
    pub join: Histogram,
    /// Latencies per window of the measured time (`--window`).
    #[serde(default)]
    pub windows: Vec<Histogram>,
}

impl WorkerReport {
    /// Counts what connecting some clients gave; returns the clients, to run with their room.
    fn joined(&mut self, joined: Joined) -> Vec<Running> {
        self.clients_connected += joined.clients.len() as u64;
        self.clients_failed += joined.failures.len() as u64;
        for f in joined.failures {
            self.error(f.kind, f.detail);
        }
        self.connect.merge(&joined.connect);
        self.sync.merge(&joined.sync);
        self.join.merge(&joined.join);
        joined.clients
    }

    fn error(&mut self, kind: &str, detail: String) {
        *self.errors.entry(kind.to_owned()).or_insert(0) += 1;
        if self.error_samples.len() < ERROR_SAMPLES {
            self.error_samples.push(format!("{kind}: {detail}"));
        }
    }

    /// Adds another worker's report.
    pub fn merge(&mut self, o: &WorkerReport) {
        self.clients_connected += o.clients_connected;
        self.clients_failed += o.clients_failed;
        self.connect.merge(&o.connect);
        self.sync.merge(&o.sync);
        self.latency.merge(&o.latency);
        self.latency_cross.merge(&o.latency_cross);
        self.latency_same.merge(&o.latency_same);
        merge_windows(&mut self.windows, &o.windows);
        self.sent += o.sent;
        self.expected += o.expected;
        self.delivered += o.delivered;
        self.sent_all += o.sent_all;
        self.expected_all += o.expected_all;
        self.delivered_all += o.delivered_all;
        let c = &mut self.counters;
        c.updates_sent += o.counters.updates_sent;
        c.updates_received += o.counters.updates_received;
        c.awareness_sent += o.counters.awareness_sent;
        c.awareness_received += o.counters.awareness_received;
        c.acked += o.counters.acked;
        c.bytes_sent += o.counters.bytes_sent;
        c.bytes_received += o.counters.bytes_received;
        self.rooms += o.rooms;
        self.converged_rooms += o.converged_rooms;
        self.quiet_wait_s = self.quiet_wait_s.max(o.quiet_wait_s);
        for (k, n) in &o.errors {
            *self.errors.entry(k.clone()).or_insert(0) += n;
        }
        for s in &o.error_samples {
            if self.error_samples.len() < ERROR_SAMPLES {
                self.error_samples.push(s.clone());
            }
        }
        self.storm.merge(&o.storm);
        self.join.merge(&o.join);
    }
}

/// How a worker waits for the others before editing.
pub enum Barrier {
    /// Alone: start at once.
    None,
    /// A child process: `ready` on stdout, then wait for a line on stdin.
    Stdio,
}

struct Running {
    cmds: mpsc::UnboundedSender<Cmd>,
    task: JoinHandle<ClientReport>,
}

impl Running {
    /// Runs a connected client in a task of its own.
    fn start(conn: conn::Connected, phase: &Arc<AtomicU8>) -> Running {
        let (cmds, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(conn::run(conn, phase.clone(), rx));
        Running { cmds, task }
    }
}

struct RoomRun {
    room: Arc<RoomShared>,
    clients: Vec<Running>,
    /// What the room's first client preloaded, which the others must reach.
    cover: Option<yrs::StateVector>,
}

/// What connecting some of a room's clients gave.
#[derive(Default)]
struct Joined {
    clients: Vec<Running>,
    failures: Vec<Failure>,
    connect: Histogram,
    sync: Histogram,
    /// From the moment they all set out until each was synced.
    join: Histogram,
}

/// The plan's orders for client `index` of `room`.
fn spec(
    plan: &Plan,
    room: &Arc<RoomShared>,
    index: usize,
    storm: &Arc<StormLog>,
    cover: Option<yrs::StateVector>,
) -> Spec {
    Spec {
        room: room.clone(),
        index,
        url: plan.client_url(&room.name, index),
        node: plan.node_of(index),
        framing: match plan.protocol {
            Protocol::YWebsocket => Framing::YWebsocket,
            Protocol::Hocuspocus => Framing::Hocuspocus {
                doc: room.name.clone(),
            },
        },
        token: plan.token.clone().unwrap_or_default(),
        create_paragraph: index == 0,
        rate: if plan.idle { 0.0 } else { plan.rate },
        seed: plan.seed,
        chars: plan.chars_per_update,
        max_chars: plan.max_chars,
        awareness_every: Duration::from_secs_f64(plan.awareness_every_s),
        connect_timeout: plan.connect_timeout,
        reconnect: plan.reconnect,
        storm: storm.clone(),
        cover,
    }
}

/// What a worker's clients share while they connect.
#[derive(Clone)]
struct Shared {
    plan: Arc<Plan>,
    /// Bounds the connections opened at once.
    sem: Arc<Semaphore>,
    phase: Arc<AtomicU8>,
    storm: Arc<StormLog>,
}

/// Connects clients `indices` of a room together (as many at once as the semaphore lets)
/// and starts them; `since` is when they set out.
async fn join(
    shared: Shared,
    room: Arc<RoomShared>,
    indices: std::ops::Range<usize>,
    cover: Option<yrs::StateVector>,
    since: Instant,
) -> Joined {
    let handles: Vec<_> = indices
        .map(|index| {
            let spec = spec(&shared.plan, &room, index, &shared.storm, cover.clone());
            let sem = shared.sem.clone();
            tokio::spawn(async move {
                let _permit = sem.acquire_owned().await;
                let connected = conn::connect(spec).await;
                (connected, since.elapsed())
            })
        })
        .collect();
    let mut joined = Joined::default();
    for handle in handles {
        match handle.await {
            Ok((Ok(c), took)) => {
                joined.connect.record(c.connect_time);
                joined.sync.record(c.sync_time);
                joined.join.record(took);
                joined.clients.push(Running::start(c, &shared.phase));
            }
            Ok((Err(f), _)) => joined.failures.push(f),
            Err(e) => joined.failures.push(Failure {
                kind: "connect",
                detail: format!("task: {e}"),
            }),
        }
    }
    joined
}

/// Connects a room's first client, which creates the paragraph and writes the preload,
/// then the others, unless they wait for the join storm; what the others must reach.
async fn open_room(shared: Shared, room: Arc<RoomShared>) -> (Option<yrs::StateVector>, Joined) {
    let plan = shared.plan.clone();
    let mut first = Joined::default();
    let mut cover = None;
    let connected = {
        let _permit = shared.sem.clone().acquire_owned().await;
        conn::connect(spec(&plan, &room, 0, &shared.storm, None)).await
    };
    match connected {
        Ok(mut c) => {
            first.connect.record(c.connect_time);
            first.sync.record(c.sync_time);
            let bytes = plan.preload_bytes(room.index);
            if bytes > 0 {
                match conn::preload(&mut c, bytes).await {
                    Ok(sv) => cover = Some(sv),
                    Err(f) => first.failures.push(f),
                }
            }
            first.clients.push(Running::start(c, &shared.phase));
        }
        Err(f) => first.failures.push(f),
    }
    if !plan.join_storm {
        let mut rest = join(
            shared,
            room,
            1..plan.clients_per_room,
            cover.clone(),
            Instant::now(),
        )
        .await;
        first.clients.append(&mut rest.clients);
        first.failures.append(&mut rest.failures);
        first.connect.merge(&rest.connect);
        first.sync.merge(&rest.sync);
    }
    (cover, first)
}

/// Adds `more`'s windows to `into`'s, window by window.
fn merge_windows(into: &mut Vec<Histogram>, more: &[Histogram]) {
    if into.len() < more.len() {
        into.resize_with(more.len(), Histogram::default);
    }
    for (a, b) in into.iter_mut().zip(more) {
        a.merge(b);
    }
}

/// Runs worker `index`'s share of the plan.
pub async fn run_worker(plan: Arc<Plan>, index: usize, barrier: Barrier) -> WorkerReport {
    let mut report = WorkerReport::default();
    let phase = Arc::new(AtomicU8::new(phase::HOLD));
    let storm = Arc::new(StormLog::default());
    let shared = Shared {
        plan: plan.clone(),
        sem: Arc::new(Semaphore::new(plan.connect_concurrency)),
        phase: phase.clone(),
        storm: storm.clone(),
    };
    let rooms: Vec<Arc<RoomShared>> = plan
        .room_names
        .iter()
        .enumerate()
        .filter(|(i, _)| i % plan.workers == index)
        .map(|(i, name)| RoomShared::new(name.clone(), i))
        .collect();
    report.rooms = rooms.len() as u64;

    // Connect.
    let tasks: Vec<_> = rooms
        .iter()
        .map(|room| tokio::spawn(open_room(shared.clone(), room.clone())))
        .collect();
    let mut runs = Vec::new();
    for (room, t) in rooms.iter().zip(tasks) {
        match t.await {
            Ok((cover, joined)) => runs.push(RoomRun {
                room: room.clone(),
                clients: report.joined(joined),
                cover,
            }),
            Err(e) => report.error("connect", format!("room task: {e}")),
        }
    }

    // Start together with the other workers.
    if let Barrier::Stdio = barrier {
        let ready = serde_json::json!({"type": "ready", "clients": report.clients_connected});
        println!("{ready}");
        let mut line = String::new();
        let _ = BufReader::new(tokio::io::stdin()).read_line(&mut line).await;
    }

    // The join storm: everyone else opens every room at the same moment.
    if plan.join_storm {
        let since = Instant::now();
        let tasks: Vec<_> = runs
            .iter()
            .map(|run| {
                tokio::spawn(join(
                    shared.clone(),
                    run.room.clone(),
                    1..plan.clients_per_room,
                    run.cover.clone(),
                    since,
                ))
            })
            .collect();
        for (run, t) in runs.iter_mut().zip(tasks) {
            match t.await {
                Ok(joined) => run.clients.append(&mut report.joined(joined)),
                Err(e) => report.error("connect", format!("storm task: {e}")),
            }
        }
    }
    for run in &runs {
        if let Ok(mut s) = run.room.state.lock() {
            s.peers = run.clients.len() as u64;
        }
    }

    // Edit (or hold).
    if plan.idle {
        tokio::time::sleep(Duration::from_secs(plan.duration_s)).await;
    } else {
        phase.store(phase::WARMUP, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_secs(plan.warmup_s)).await;
        phase.store(phase::MEASURE, Ordering::Relaxed);
        if plan.window_s > 0 {
            let window = Some((Instant::now(), Duration::from_secs(plan.window_s)));
            for run in &runs {
                if let Ok(mut s) = run.room.state.lock() {
                    s.window = window;
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(plan.duration_s)).await;
        phase.store(phase::STOP, Ordering::Relaxed);

        // Quiet period: until every edit reached every peer, or the cap.
        let start = Instant::now();
        let cap = start + Duration::from_secs(plan.quiet_s);
        loop {
            let done = runs
                .iter()
                .all(|r| r.room.state.lock().map(|s| s.complete()).unwrap_or(true));
            if done || Instant::now() >= cap {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        report.quiet_wait_s = start.elapsed().as_secs_f64();
    }
    // Let the last awareness and echoes settle before comparing.
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Convergence: every connected client of a room holds the same section content.
    for run in &runs {
        let mut texts = Vec::new();
        for c in &run.clients {
            let (tx, rx) = oneshot::channel();
            if c.cmds.send(Cmd::Snapshot(tx)).is_ok()
                && let Ok(Ok(text)) = tokio::time::timeout(Duration::from_secs(5), rx).await
            {
                texts.push(text);
            }
        }
        let converged =
            !texts.is_empty() && texts.len() == run.clients.len() && texts.windows(2).all(|w| w[0] == w[1]);
        if converged {
            report.converged_rooms += 1;
        } else if run.clients.is_empty() {
            report.error(
                "empty-room",
                format!("room {}: no client connected", run.room.name),
            );
        } else {
            let distinct = {
                let mut t = texts.clone();
                t.sort();
                t.dedup();
                t.len()
            };
            report.error(
                "diverged",
                format!(
                    "room {}: {} distinct texts among {} of {} clients",
                    run.room.name,
                    distinct,
                    texts.len(),
                    run.clients.len()
                ),
            );
        }
        if let Ok(s) = run.room.state.lock() {
            let peers_minus_one = s.peers.saturating_sub(1);
            report.latency.merge(&s.latency);
            report.latency_cross.merge(&s.latency_cross);
            report.latency_same.merge(&s.latency_same);
            merge_windows(&mut report.windows, &s.windows);
            report.sent += s.sent_tracked;
            report.expected += s.sent_tracked * peers_minus_one;
            report.delivered += s.delivered_tracked;
            report.sent_all += s.sent_all;
            report.expected_all += s.sent_all * peers_minus_one;
            report.delivered_all += s.receipts_all;
        }
    }

    // Close.
    for run in &runs {
        for c in &run.clients {
            let _ = c.cmds.send(Cmd::Close);
        }
    }
    for run in runs {
        for c in run.clients {
            match tokio::time::timeout(Duration::from_secs(10), c.task).await {
                Ok(Ok(r)) => {
                    let rc = &mut report.counters;
                    rc.updates_sent += r.counters.updates_sent;
                    rc.updates_received += r.counters.updates_received;
                    rc.awareness_sent += r.counters.awareness_sent;
                    rc.awareness_received += r.counters.awareness_received;
                    rc.acked += r.counters.acked;
                    rc.bytes_sent += r.counters.bytes_sent;
                    rc.bytes_received += r.counters.bytes_received;
                    if let Some(f) = r.failure {
                        report.error(f.kind, f.detail);
                    }
                }
                Ok(Err(e)) => report.error("client", format!("task: {e}")),
                Err(_) => report.error("client", "did not close in 10 s".into()),
            }
        }
    }
    report.storm = storm.report();
    report
}

/// Runs `plan.workers` child processes and merges their reports.
pub async fn run_workers(plan: Arc<Plan>, args: Vec<OsString>, run_id: &str) -> WorkerReport {
    let mut merged = WorkerReport::default();
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            merged.error("worker", format!("current_exe: {e}"));
            return merged;
        }
    };
    let per_worker = plan.clients_total.div_ceil(plan.workers);
    let connect_budget = plan.connect_timeout * (per_worker.div_ceil(plan.connect_concurrency) as u32 + 1)
        + Duration::from_secs(30);
    let run_budget = Duration::from_secs(plan.warmup_s + plan.duration_s + plan.quiet_s + 60);

    struct Child {
        child: tokio::process::Child,
        lines: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
        stdin: Option<tokio::process::ChildStdin>,
    }
    // Every worker takes the parent's seed (one it chose when none was given).
    let seed = plan.seed.to_string();
    let seed_given = args
        .iter()
        .any(|a| a == "--seed" || a.to_string_lossy().starts_with("--seed="));
    let seed_args: &[&str] = if seed_given { &[] } else { &["--seed", &seed] };
    let mut children = Vec::new();
    for i in 0..plan.workers {
        let spawned = tokio::process::Command::new(&exe)
            .args(&args)
            .args(["--worker", "--worker-index", &i.to_string(), "--run-id", run_id])
            .args(seed_args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn();
        match spawned {
            Ok(mut child) => {
                let (Some(out), stdin) = (child.stdout.take(), child.stdin.take()) else {
                    merged.error("worker", format!("worker {i}: no pipes"));
                    continue;
                };
                children.push(Child {
                    child,
                    lines: BufReader::new(out).lines(),
                    stdin,
                });
            }
            Err(e) => merged.error("worker", format!("worker {i}: spawn: {e}")),
        }
    }

    async fn next_json(
        lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    ) -> Option<serde_json::Value> {
        loop {
            let line = lines.next_line().await.ok()??;
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
                return Some(v);
            }
        }
    }

    // Wait until every worker has connected its clients, then start them together.
    let deadline = Instant::now() + connect_budget;
    for (i, c) in children.iter_mut().enumerate() {
        match tokio::time::timeout_at(deadline, next_json(&mut c.lines)).await {
            Ok(Some(v)) if v["type"] == "ready" => {}
            Ok(other) => merged.error("worker", format!("worker {i}: no ready line ({other:?})")),
            Err(_) => merged.error("worker", format!("worker {i}: not ready in {connect_budget:?}")),
        }
    }
    for c in children.iter_mut() {
        if let Some(stdin) = c.stdin.as_mut() {
            let _ = stdin.write_all(b"go\n").await;
            let _ = stdin.flush().await;
        }
    }
    let deadline = Instant::now() + run_budget;
    for (i, c) in children.iter_mut().enumerate() {
        match tokio::time::timeout_at(deadline, next_json(&mut c.lines)).await {
            Ok(Some(v)) if v["type"] == "report" => {
                match serde_json::from_value::<WorkerReport>(v["report"].clone()) {
                    Ok(r) => merged.merge(&r),
                    Err(e) => merged.error("worker", format!("worker {i}: bad report: {e}")),
                }
            }
            Ok(other) => merged.error("worker", format!("worker {i}: no report ({other:?})")),
            Err(_) => {
                merged.error(
                    "worker",
                    format!("worker {i}: no report in {run_budget:?}, killed"),
                );
                let _ = c.child.start_kill();
            }
        }
    }
    for (i, mut c) in children.into_iter().enumerate() {
        drop(c.stdin.take());
        match tokio::time::timeout(Duration::from_secs(10), c.child.wait()).await {
            Ok(Ok(status)) if status.success() => {}
            Ok(Ok(status)) => merged.error("worker", format!("worker {i}: exit {status}")),
            Ok(Err(e)) => merged.error("worker", format!("worker {i}: wait: {e}")),
            Err(_) => {
                let _ = c.child.start_kill();
                let _ = c.child.wait().await;
                merged.error("worker", format!("worker {i}: did not exit, killed"));
            }
        }
    }
    merged
}

/// CPU seconds (user + system) of this process and its waited-for children, from
/// `/proc/self/stat` (Linux; `USER_HZ` is 100 on every Linux ABI).
pub fn cpu_seconds() -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // Field k of the file (1-based; 2 is the command) is `f[k - 3]`: utime 14, stime 15,
    // cutime 16, cstime 17.
    let get = |k: usize| f.get(k - 3).and_then(|x| x.parse::<u64>().ok());
    let own = get(14)? + get(15)?;
    let children = get(16)? + get(17)?;
    Some((own as f64 / 100.0, children as f64 / 100.0))
}

/// The single JSON line samen-load prints.
#[derive(Debug, Serialize)]
pub struct Output {
    /// The checked configuration.
    pub config: Plan,
    /// Clients that connected and synced, and those that did not.
    pub clients: serde_json::Value,
    /// WebSocket handshake time (ms).
    pub connect_ms: Summary,
    /// Time from connect start to synced (ms).
    pub sync_ms: Summary,
    /// With `--join-storm`: from the storm's start until each client was synced (ms).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub join_ms: Option<Summary>,
    /// End-to-end fan-out latency of measured edits (ms), one sample per (edit, peer).
    pub latency_ms: Summary,
    /// Of those, between clients on different nodes (only with several nodes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_cross_node_ms: Option<Summary>,
    /// Of those, between clients on the same node (only with several nodes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_same_node_ms: Option<Summary>,
    /// The same per window of `--window` seconds, in order (only with `--window`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub latency_windows_ms: Vec<Summary>,
    /// Measured edits and their fan-out.
    pub updates: serde_json::Value,
    /// Presence traffic.
    pub awareness: serde_json::Value,
    /// Rooms whose clients converged, and all rooms.
    pub converged_rooms: u64,
    /// Rooms.
    pub rooms: u64,
    /// CPU seconds of samen-load itself (parent + workers).
    pub client_cpu_s: Option<f64>,
    /// Wall-clock seconds of the whole run.
    pub wall_s: f64,
    /// Errors by kind, with a few samples.
    pub errors: serde_json::Value,
    /// With `--reconnect`: when connections were lost, tried again and synced again
    /// (wall-clock ms), for the script that restarted the server to draw the storm.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reconnect: Option<StormReport>,
}

impl Output {
    /// Builds the output from the merged report.
    pub fn new(plan: &Plan, r: &WorkerReport, cpu: Option<f64>, wall: Duration) -> Output {
        let round = |x: f64, d: i32| (x * 10f64.powi(d)).round() / 10f64.powi(d);
        let per_client_rate = if r.clients_connected > 0 && plan.duration_s > 0 {
            r.sent as f64 / r.clients_connected as f64 / plan.duration_s as f64
        } else {
            0.0
        };
        Output {
            config: plan.clone(),
            clients: serde_json::json!({
                "connected": r.clients_connected,
                "failed": r.clients_failed,
            }),
            connect_ms: r.connect.summary_ms(),
            sync_ms: r.sync.summary_ms(),
            join_ms: plan.join_storm.then(|| r.join.summary_ms()),
            latency_ms: r.latency.summary_ms(),
            latency_cross_node_ms: (plan.nodes.len() > 1).then(|| r.latency_cross.summary_ms()),
            latency_same_node_ms: (plan.nodes.len() > 1).then(|| r.latency_same.summary_ms()),
            latency_windows_ms: r.windows.iter().map(Histogram::summary_ms).collect(),
            updates: serde_json::json!({
                "sent": r.sent,
                "expected": r.expected,
                "delivered": r.delivered,
                "lost": r.expected.saturating_sub(r.delivered),
                "sent_per_client_per_s": round(per_client_rate, 3),
                "sent_all_phases": r.sent_all,
                "lost_all_phases": r.expected_all.saturating_sub(r.delivered_all),
                "messages_received": r.counters.updates_received,
                "acked": r.counters.acked,
                "quiet_wait_s": round(r.quiet_wait_s, 3),
                "bytes_sent": r.counters.bytes_sent,
                "bytes_received": r.counters.bytes_received,
            }),
            awareness: serde_json::json!({
                "sent": r.counters.awareness_sent,
                "received": r.counters.awareness_received,
            }),
            converged_rooms: r.converged_rooms,
            rooms: r.rooms,
            client_cpu_s: cpu.map(|c| round(c, 2)),
            wall_s: round(wall.as_secs_f64(), 3),
            errors: serde_json::json!({
                "count": r.errors.values().sum::<u64>(),
                "by_kind": r.errors,
                "samples": r.error_samples,
            }),
            reconnect: (plan.reconnect != Reconnect::None).then(|| r.storm.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_reports_merge() {
        let mut a = WorkerReport::default();
        a.latency.record_us(1_000);
        a.sent = 10;
        a.expected = 20;
        a.delivered = 19;
        a.rooms = 1;
        a.converged_rooms = 1;
        a.error("closed", "1006".into());
        let mut b = a.clone();
        b.latency.record_us(3_000);
        b.error("connect", "refused".into());
        let json = serde_json::to_string(&b).unwrap_or_default();
        let b: WorkerReport = serde_json::from_str(&json).unwrap_or_default();
        let mut m = WorkerReport::default();
        m.merge(&a);
        m.merge(&b);
        assert_eq!(
            (m.sent, m.expected, m.delivered, m.rooms, m.converged_rooms),
            (20, 40, 38, 2, 2)
        );
        assert_eq!(m.latency.count(), 3);
        assert_eq!(m.latency.max_us(), Some(3_000));
        assert_eq!(m.errors.get("closed"), Some(&2));
        assert_eq!(m.errors.get("connect"), Some(&1));
        assert_eq!(m.error_samples.len(), 3);
    }

    #[test]
    fn cpu_time_is_readable_on_linux() {
        if cfg!(target_os = "linux") {
            let (own, children) = cpu_seconds().unwrap_or((-1.0, -1.0));
            assert!(own >= 0.0 && children >= 0.0);
        }
    }
}

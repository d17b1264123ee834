//! The command line and the checked plan it becomes.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

use super::backoff::Reconnect;
use serde::Serialize;
use tokio_tungstenite::tungstenite::http::Uri;

/// Hard cap on the number of clients of one run (all workers together).
pub const MAX_CLIENTS: usize = 5_000;
/// Hard cap on the measured duration, in seconds (an hour: the endurance run,
/// `scripts/bench-endurance`, holds point (b) for 30 minutes).
pub const MAX_DURATION_SECS: u64 = 3_600;
/// Hard cap on the warm-up, in seconds.
pub const MAX_WARMUP_SECS: u64 = 60;
/// Hard cap on the number of worker processes.
pub const MAX_WORKERS: usize = 16;
/// Hard cap on the state a room's first client preloads, in KiB.
pub const MAX_PRELOAD_KIB: usize = 16 * 1024;
/// Hard cap on each client's update rate (updates per second).
pub const MAX_RATE: f64 = 50.0;

/// The wire protocol to speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    /// y-websocket (Samen, the y-websocket reference server): room in the URL path.
    YWebsocket,
    /// Hocuspocus: one URL, document name prefixed to every message, auth message first.
    Hocuspocus,
}

/// samen-load: M rooms × N real Yjs editors against a y-websocket or Hocuspocus server on
/// loopback. Prints one JSON line.
#[derive(Debug, Clone, Parser)]
#[command(name = "samen-load", version)]
pub struct Cli {
    /// Server URL (ws:// on loopback). y-websocket: the room is appended as a path segment
    /// (`ws://127.0.0.1:8080/sync` → `/sync/{room}`); Hocuspocus: used as is. Several,
    /// comma-separated, are nodes of one server: each room's clients are spread over them
    /// in turn (client i on node i mod n), and latency is reported across and within nodes.
    #[arg(long, default_value = "ws://127.0.0.1:8080/sync")]
    pub url: String,
    /// Wire protocol.
    #[arg(long, value_enum, default_value_t = Protocol::YWebsocket)]
    pub protocol: Protocol,
    /// Number of rooms (default: the number of --room-ids, else 1).
    #[arg(long)]
    pub rooms: Option<usize>,
    /// Clients per room.
    #[arg(long, default_value_t = 2)]
    pub clients: usize,
    /// Updates per second per client.
    #[arg(long, default_value_t = 1.0)]
    pub rate: f64,
    /// Measured duration in seconds (after the warm-up).
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// Warm-up in seconds: clients edit, nothing is measured.
    #[arg(long, default_value_t = 2)]
    pub warmup: u64,
    /// Worker processes; whole rooms are assigned to each.
    #[arg(long, default_value_t = 1)]
    pub workers: usize,
    /// Connect and hold the clients for --duration without editing (presence only).
    #[arg(long)]
    pub idle: bool,
    /// API token: `?token=` for y-websocket URLs, the auth message's token for Hocuspocus.
    #[arg(long)]
    pub token: Option<String>,
    /// Room names, comma-separated (Samen: existing registration ids).
    #[arg(long, value_delimiter = ',')]
    pub room_ids: Vec<String>,
    /// A file with one room name per line.
    #[arg(long)]
    pub room_ids_file: Option<PathBuf>,
    /// Ask Samen for durability acks (`?acks=1`).
    #[arg(long)]
    pub acks: bool,
    /// Characters per update.
    #[arg(long, default_value_t = 3)]
    pub chars: u32,
    /// Seconds between awareness (caret) updates while editing.
    #[arg(long, default_value_t = 2.0)]
    pub awareness_every: f64,
    /// Longest wait, in seconds, for outstanding updates after editing stops.
    #[arg(long, default_value_t = 10)]
    pub quiet: u64,
    /// Connections opened at once, per worker.
    #[arg(long, default_value_t = 64)]
    pub connect_concurrency: usize,
    /// Timeout for one connection's handshake and sync, in seconds.
    #[arg(long, default_value_t = 15)]
    pub connect_timeout: u64,
    /// Runtime threads per process (default: cores ÷ workers, at least 1).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Seed of the clients' random choices (where in the text and when they type). The
    /// report prints it; the same seed gives the same choices. Default: a fresh one.
    #[arg(long)]
    pub seed: Option<u64>,
    /// What a client does when its connection closes (with --idle: the reconnect storm of
    /// a server restart, `scripts/bench-reconnect`).
    #[arg(long, value_enum, default_value_t = Reconnect::None)]
    pub reconnect: Reconnect,
    /// Before the others connect, each room's first client writes a school year's worth of
    /// edits until the document's state holds this many KiB (comma-separated per room; the
    /// last applies to the rooms after it). The others count as synced once they hold it.
    #[arg(long, value_delimiter = ',')]
    pub preload_kib: Vec<usize>,
    /// The join storm (with --idle): each room's first client connects (and preloads)
    /// first; the others all connect at the same moment, once every room is ready, and
    /// the report gives the time from that moment until each was synced (`join_ms`).
    #[arg(long)]
    pub join_storm: bool,
    /// Also report the fan-out latency per window of this many seconds of the measured
    /// time (`latency_windows_ms`): whether the tail stays where it was over a long run.
    #[arg(long, default_value_t = 0)]
    pub window: u64,
    /// Rewrite rather than grow: each client types in a paragraph of its own, and once
    /// that would hold more than this many characters, deletes it and types in a new one
    /// (a long run's document is rewritten, not only written; 0: the room's clients type
    /// in one paragraph that grows).
    #[arg(long, default_value_t = 0)]
    pub max_chars: u32,
    /// Internal: run as a worker of a parent samen-load.
    #[arg(long, hide = true)]
    pub worker: bool,
    /// Internal: this worker's index.
    #[arg(long, hide = true, default_value_t = 0)]
    pub worker_index: usize,
    /// Internal: the parent's run id (room name prefix).
    #[arg(long, hide = true)]
    pub run_id: Option<String>,
}

/// A checked configuration.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// The URL as given (without token).
    pub url: String,
    /// The nodes' URLs (one, unless several were given).
    pub nodes: Vec<String>,
    /// Protocol.
    pub protocol: Protocol,
    /// Room names.
    #[serde(skip)]
    pub room_names: Vec<String>,
    /// Number of rooms.
    pub rooms: usize,
    /// Clients per room.
    pub clients_per_room: usize,
    /// Clients in all.
    pub clients_total: usize,
    /// Updates per second per client.
    pub rate: f64,
    /// Measured seconds.
    pub duration_s: u64,
    /// Warm-up seconds.
    pub warmup_s: u64,
    /// Worker processes.
    pub workers: usize,
    /// Idle mode.
    pub idle: bool,
    /// Acks requested.
    pub acks: bool,
    /// Whether a token was given (never printed).
    pub token_given: bool,
    /// Characters per update.
    pub chars_per_update: u32,
    /// Awareness interval while editing (s).
    pub awareness_every_s: f64,
    /// Quiet-period cap (s).
    pub quiet_s: u64,
    /// Seed of the clients' random choices (`--seed` replays them).
    pub seed: u64,
    /// What a client does when its connection closes.
    pub reconnect: Reconnect,
    /// KiB of state each room's first client writes before the others connect (per room;
    /// the last applies to the rest; empty: none).
    pub preload_kib: Vec<usize>,
    /// Whether the others connect in one storm once every room is ready.
    pub join_storm: bool,
    /// Seconds per latency window (0: none).
    pub window_s: u64,
    /// Characters a client's own paragraph holds at most before it is rewritten (0: one
    /// shared paragraph, no bound).
    pub max_chars: u32,
    #[serde(skip)]
    pub token: Option<String>,
    #[serde(skip)]
    pub connect_concurrency: usize,
    #[serde(skip)]
    pub connect_timeout: Duration,
    #[serde(skip)]
    pub threads: usize,
}

impl Plan {
    /// Checks the command line against the caps; `room_file` is the content of
    /// `--room-ids-file`, read by the caller.
    pub fn from_cli(cli: &Cli, room_file: Option<&str>, run_id: &str) -> Result<Plan, String> {
        let nodes: Vec<String> = cli.url.split(',').map(|u| u.trim().to_owned()).collect();
        for node in &nodes {
            check_loopback(node)?;
        }
        let mut ids: Vec<String> = cli
            .room_ids
            .iter()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        if let Some(text) = room_file {
            ids.extend(
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .map(str::to_owned),
            );
        }
        if ids
            .iter()
            .any(|id| !id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)))
        {
            return Err("room ids may hold only ASCII letters, digits, '-', '_' and '.'".into());
        }
        let rooms = cli.rooms.unwrap_or(if ids.is_empty() { 1 } else { ids.len() });
        if rooms == 0 {
            return Err("--rooms must be at least 1".into());
        }
        let room_names = if ids.is_empty() {
            (0..rooms).map(|i| format!("load-{run_id}-{i}")).collect()
        } else if ids.len() < rooms {
            return Err(format!("--rooms {rooms} but only {} room ids", ids.len()));
        } else {
            ids.truncate(rooms);
            ids
        };
        if cli.clients == 0 {
            return Err("--clients must be at least 1".into());
        }
        let clients_total = rooms
            .checked_mul(cli.clients)
            .filter(|n| *n <= MAX_CLIENTS)
            .ok_or_else(|| format!("rooms × clients must be at most {MAX_CLIENTS}"))?;
        if cli.duration == 0 || cli.duration > MAX_DURATION_SECS {
            return Err(format!("--duration must be 1..={MAX_DURATION_SECS} s"));
        }
        if cli.warmup > MAX_WARMUP_SECS {
            return Err(format!("--warmup must be at most {MAX_WARMUP_SECS} s"));
        }
        if !(cli.rate > 0.0 && cli.rate <= MAX_RATE) {
            return Err(format!("--rate must be in (0, {MAX_RATE}] updates/s"));
        }
        if !(1..=MAX_WORKERS).contains(&cli.workers) || cli.workers > rooms {
            return Err(format!("--workers must be 1..={MAX_WORKERS} and at most --rooms"));
        }
        if !(1..=64).contains(&cli.chars) {
            return Err("--chars must be 1..=64".into());
        }
        if !(cli.awareness_every >= 0.1 && cli.awareness_every <= 60.0) {
            return Err("--awareness-every must be 0.1..=60 s".into());
        }
        if cli.quiet > 60 || cli.connect_timeout == 0 || cli.connect_timeout > 120 {
            return Err("--quiet must be at most 60 s, --connect-timeout 1..=120 s".into());
        }
        if let Some(t) = &cli.token
            && !t.chars().all(|c| c.is_ascii_graphic() && !"&#?%+ ".contains(c))
        {
            return Err("--token holds characters that do not belong in a query string".into());
        }
        if cli.reconnect != Reconnect::None && !cli.idle {
            return Err(
                "--reconnect is for idle clients (--idle): an editor that reconnects \
                        would resend edits the latency accounting counted once"
                    .into(),
            );
        }
        if cli.preload_kib.iter().any(|&k| k > MAX_PRELOAD_KIB) {
            return Err(format!(
                "--preload-kib must be at most {MAX_PRELOAD_KIB} KiB per room"
            ));
        }
        if cli.window > 0 && cli.idle {
            return Err("--window measures edits; it has nothing to measure with --idle".into());
        }
        if cli.join_storm && (!cli.idle || cli.clients < 2) {
            return Err("--join-storm needs --idle and at least two clients per room".into());
        }
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let threads = cli.threads.unwrap_or((cores / cli.workers).max(1)).clamp(1, 64);
        Ok(Plan {
            url: cli.url.clone(),
            nodes,
            protocol: cli.protocol,
            room_names,
            rooms,
            clients_per_room: cli.clients,
            clients_total,
            rate: cli.rate,
            duration_s: cli.duration,
            warmup_s: cli.warmup,
            workers: cli.workers,
            idle: cli.idle,
            acks: cli.acks,
            token_given: cli.token.is_some(),
            chars_per_update: cli.chars,
            awareness_every_s: cli.awareness_every,
            quiet_s: cli.quiet,
            seed: cli.seed.unwrap_or_else(|| fastrand::u64(..)),
            reconnect: cli.reconnect,
            preload_kib: cli.preload_kib.clone(),
            join_storm: cli.join_storm,
            window_s: cli.window,
            max_chars: cli.max_chars,
            token: cli.token.clone(),
            connect_concurrency: cli.connect_concurrency.clamp(1, 1024),
            connect_timeout: Duration::from_secs(cli.connect_timeout),
            threads,
        })
    }

    /// The bytes of state room `index`'s first client preloads (0: none).
    pub fn preload_bytes(&self, index: usize) -> usize {
        let kib = self.preload_kib.get(index).or(self.preload_kib.last());
        kib.copied().unwrap_or(0) * 1024
    }

    /// The node client `index` of a room connects to.
    pub fn node_of(&self, index: usize) -> usize {
        index % self.nodes.len().max(1)
    }

    /// The URL client `index` of `room` connects to.
    pub fn client_url(&self, room: &str, index: usize) -> String {
        let node = self.nodes.get(self.node_of(index)).unwrap_or(&self.url);
        let mut url = match self.protocol {
            Protocol::YWebsocket => {
                let (base, query) = match node.split_once('?') {
                    Some((b, q)) => (b, Some(q)),
                    None => (node.as_str(), None),
                };
                let mut u = format!("{}/{room}", base.trim_end_matches('/'));
                if let Some(q) = query {
                    u.push('?');
                    u.push_str(q);
                }
                u
            }
            Protocol::Hocuspocus => node.clone(),
        };
        let mut add = |kv: &str| {
            url.push(if url.contains('?') { '&' } else { '?' });
            url.push_str(kv);
        };
        if self.protocol == Protocol::YWebsocket {
            if let Some(t) = &self.token {
                add(&format!("token={t}"));
            }
            if self.acks {
                add("acks=1");
            }
        }
        url
    }
}

/// Refuses anything but `ws://` to a loopback host.
pub fn check_loopback(url: &str) -> Result<(), String> {
    let uri: Uri = url.parse().map_err(|e| format!("bad --url: {e}"))?;
    if uri.scheme_str() != Some("ws") {
        return Err("--url must be ws:// (loopback only)".into());
    }
    let host = uri.host().ok_or("--url has no host")?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let ok =
        host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "refusing non-loopback host {host:?}: samen-load only loads local servers"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cli(args: &[&str]) -> Cli {
        let mut all = vec!["samen-load"];
        all.extend_from_slice(args);
        Cli::parse_from(all)
    }

    #[test]
    fn only_loopback_is_accepted() {
        for ok in [
            "ws://127.0.0.1:1/sync",
            "ws://localhost:8080",
            "ws://[::1]:9/",
            "ws://127.9.9.9/x",
        ] {
            assert_eq!(check_loopback(ok), Ok(()), "{ok}");
        }
        for bad in [
            "ws://10.0.0.1/sync",
            "ws://example.org/",
            "wss://127.0.0.1/",
            "http://127.0.0.1/",
        ] {
            assert!(check_loopback(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn caps_and_urls() {
        assert!(Plan::from_cli(&cli(&["--rooms", "100", "--clients", "51"]), None, "r").is_err());
        assert!(Plan::from_cli(&cli(&["--duration", "3601"]), None, "r").is_err());
        assert!(Plan::from_cli(&cli(&["--rooms", "2", "--workers", "3"]), None, "r").is_err());
        let p = Plan::from_cli(
            &cli(&[
                "--url",
                "ws://127.0.0.1:1/sync/",
                "--room-ids",
                "a,b",
                "--token",
                "samen_x",
                "--acks",
            ]),
            Some("c\n\n# comment\n"),
            "r",
        );
        let p = p.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.room_names, ["a", "b", "c"]);
        assert_eq!(
            p.client_url("a", 0),
            "ws://127.0.0.1:1/sync/a?token=samen_x&acks=1"
        );
        let p = Plan::from_cli(&cli(&["--url", "ws://localhost:1", "--rooms", "2"]), None, "x");
        let p = p.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.room_names, ["load-x-0", "load-x-1"]);
        assert_eq!(p.client_url("load-x-0", 3), "ws://localhost:1/load-x-0");
        let json = serde_json::to_string(&p).unwrap_or_default();
        assert!(!json.contains("token\":\""), "{json}");

        // Two nodes: a room's clients alternate between them; every node must be loopback.
        let two = "ws://127.0.0.1:1/sync,ws://127.0.0.1:2/sync";
        let p = Plan::from_cli(&cli(&["--url", two, "--rooms", "1"]), None, "x");
        let p = p.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.nodes.len(), 2);
        assert_eq!(p.client_url("r", 0), "ws://127.0.0.1:1/sync/r");
        assert_eq!(p.client_url("r", 1), "ws://127.0.0.1:2/sync/r");
        assert_eq!(p.client_url("r", 2), "ws://127.0.0.1:1/sync/r");
        let outside = "ws://127.0.0.1:1/sync,ws://10.0.0.1/sync";
        assert!(Plan::from_cli(&cli(&["--url", outside]), None, "x").is_err());
    }

    #[test]
    fn a_preload_is_per_room_and_the_storm_joins_idle_clients() {
        let args = [
            "--rooms",
            "3",
            "--clients",
            "30",
            "--idle",
            "--preload-kib",
            "1024,64",
        ];
        let p = Plan::from_cli(&cli(&args), None, "x");
        let p = p.unwrap_or_else(|e| panic!("{e}"));
        let sizes: Vec<usize> = (0..3).map(|i| p.preload_bytes(i)).collect();
        assert_eq!(sizes, [1024 * 1024, 64 * 1024, 64 * 1024]);
        let none = Plan::from_cli(&cli(&["--rooms", "2"]), None, "x");
        assert_eq!(none.map(|p| p.preload_bytes(1)), Ok(0));
        assert!(Plan::from_cli(&cli(&["--preload-kib", "20000"]), None, "x").is_err());
        assert!(Plan::from_cli(&cli(&["--join-storm", "--clients", "5"]), None, "x").is_err());
        assert!(Plan::from_cli(&cli(&["--join-storm", "--idle", "--clients", "1"]), None, "x").is_err());
        assert!(Plan::from_cli(&cli(&["--join-storm", "--idle", "--clients", "5"]), None, "x").is_ok());
    }
}

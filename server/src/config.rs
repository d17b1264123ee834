//! Server configuration: command-line flags, each also settable from the environment.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use samen_crdt::Limits;

/// `samen serve` options.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeConfig {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "SAMEN_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,

    /// Directory for the embedded SQLite database.
    #[arg(long, env = "SAMEN_DATA", default_value = "./data")]
    pub data: PathBuf,

    /// Database URL (`sqlite:...`); overrides `--data`.
    #[arg(long, env = "SAMEN_DATABASE_URL")]
    pub database_url: Option<String>,

    /// Demo mode: loopback only, for trying Samen out.
    #[arg(long, env = "SAMEN_DEMO")]
    pub demo: bool,

    /// The public origin of the app (e.g. `https://samen.example.be`) when it runs behind a
    /// proxy; requests from it pass the Origin check. By default the request's Host counts.
    #[arg(long, env = "SAMEN_PUBLIC_ORIGIN")]
    pub public_origin: Option<String>,

    /// Seconds a login session lasts (default: 12 hours).
    #[arg(long, env = "SAMEN_SESSION_SECS", default_value_t = 12 * 3600)]
    pub session_secs: u64,

    /// Largest WebSocket message a client may send, in bytes.
    #[arg(long, env = "SAMEN_MAX_MESSAGE_BYTES", default_value_t = 8 * 1024 * 1024)]
    pub max_message_bytes: usize,

    /// Largest awareness (presence) message a client may send, in bytes.
    #[arg(long, env = "SAMEN_MAX_AWARENESS_BYTES", default_value_t = 64 * 1024)]
    pub max_awareness_bytes: usize,

    /// Messages queued for one connection before it is dropped as too slow.
    #[arg(long, env = "SAMEN_OUTBOUND_QUEUE", default_value_t = 1024)]
    pub outbound_queue: usize,

    /// Seconds a room stays loaded after its last connection left.
    #[arg(long, env = "SAMEN_ROOM_IDLE_SECS", default_value_t = 30)]
    pub room_idle_secs: u64,

    /// Seconds after which a presence state that was not renewed is removed.
    #[arg(long, env = "SAMEN_AWARENESS_TIMEOUT_SECS", default_value_t = 30)]
    pub awareness_timeout_secs: u64,

    /// Log entries after which a document's log is folded into its state.
    #[arg(long, env = "SAMEN_COMPACT_AFTER", default_value_t = 500)]
    pub compact_after: usize,

    /// Seconds without edits after which a document's new version is kept automatically.
    #[arg(long, env = "SAMEN_SNAPSHOT_QUIET_SECS", default_value_t = 600)]
    pub snapshot_quiet_secs: u64,

    /// Seconds between WebSocket pings; a connection silent for three intervals is closed.
    #[arg(long, env = "SAMEN_PING_SECS", default_value_t = 20)]
    pub ping_secs: u64,

    /// Seconds between checks that the users of open connections and event streams still
    /// have their rights (logged out, expired, disabled, role withdrawn: closed).
    #[arg(long, env = "SAMEN_ACCESS_CHECK_SECS", default_value_t = 5)]
    pub access_check_secs: u64,

    /// Proxies whose `X-Forwarded-For` names the client, for login throttling: IP addresses
    /// or CIDR networks, repeatable or comma-separated. Requests from anywhere else are
    /// counted by their socket's address, whatever they send.
    #[arg(long, env = "SAMEN_TRUSTED_PROXY", value_delimiter = ',', value_parser = parse_network)]
    pub trusted_proxy: Vec<IpNet>,

    /// Password hashes computed at once (argon2id, 19 MiB each; default: the cores, at
    /// least 2). Logins beyond it wait up to a second, then get 503 with `Retry-After`.
    #[arg(long, env = "SAMEN_HASH_CONCURRENCY")]
    pub hash_concurrency: Option<usize>,

    /// Threads that serve sockets and rooms (default: half the cores, at least one; see
    /// docs/architecture.md). Storage and password hashing have threads of their own.
    #[arg(long, env = "SAMEN_WORKERS")]
    pub workers: Option<usize>,
}

impl ServeConfig {
    /// The worker threads to run: `--workers`, else half the cores (at least one). The
    /// other half is left to SQLite's threads, password hashing and the kernel's network
    /// work; on two cores one worker used 10–15% less CPU than two, which spent their time
    /// waking each other.
    pub fn worker_threads(&self) -> usize {
        self.workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get() / 2))
            .max(1)
    }

    /// Password hashes computed at once: `--hash-concurrency`, else the cores, at least 2
    /// (a core each is the most they can use; two let one login not wait for another).
    pub fn hash_concurrency(&self) -> usize {
        self.hash_concurrency
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()).max(2))
            .max(1)
    }

    /// The validation limits for client messages.
    pub fn limits(&self) -> Limits {
        Limits {
            max_update_bytes: self.max_message_bytes,
            max_awareness_bytes: self.max_awareness_bytes,
            ..Limits::default()
        }
    }

    /// How long a session lasts, in milliseconds.
    pub fn session_ttl_ms(&self) -> i64 {
        i64::try_from(self.session_secs.max(1).saturating_mul(1000)).unwrap_or(i64::MAX)
    }

    /// Whether cookies get the `Secure` flag: always, except on a loopback address (local
    /// development and demo over plain HTTP) unless the public origin is HTTPS.
    pub fn secure_cookies(&self) -> bool {
        !self.addr.ip().is_loopback()
            || self
                .public_origin
                .as_deref()
                .is_some_and(|o| o.starts_with("https://"))
    }

    /// The room settings derived from this configuration.
    pub fn room(&self) -> RoomConfig {
        RoomConfig {
            idle_unload: Duration::from_secs(self.room_idle_secs),
            awareness_timeout: Duration::from_secs(self.awareness_timeout_secs),
            compact_after: self.compact_after.max(1),
            outbound_queue: self.outbound_queue.max(1),
            snapshot_quiet: Duration::from_secs(self.snapshot_quiet_secs.max(1)),
            snapshot_every: Duration::from_secs(24 * 60 * 60),
        }
    }
}

/// An IP network (`10.0.0.0/8`, `fd00::/8`) or one address (`127.0.0.1`, `::1`).
fn parse_network(text: &str) -> Result<IpNet, String> {
    let text = text.trim();
    text.parse::<IpNet>()
        .map(|net| net.trunc())
        .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{text:?} is neither an IP address nor a network like 10.0.0.0/8"))
}

/// What a room needs to know of the configuration.
#[derive(Debug, Clone)]
pub struct RoomConfig {
    /// How long an empty room stays loaded.
    pub idle_unload: Duration,
    /// How long a presence state lives without renewal.
    pub awareness_timeout: Duration,
    /// Log length that triggers compaction.
    pub compact_after: usize,
    /// Per-connection outbound queue length.
    pub outbound_queue: usize,
    /// Quiet time after edits before an automatic version is kept.
    pub snapshot_quiet: Duration,
    /// Longest time edits go without an automatic version, however busy the room.
    pub snapshot_every: Duration,
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeConfig,
    }

    fn parse(args: &[&str]) -> Result<ServeConfig, clap::Error> {
        let args = std::iter::once("samen").chain(args.iter().copied());
        Cli::try_parse_from(args).map(|cli| cli.serve)
    }

    fn workers(args: &[&str]) -> usize {
        parse(args).unwrap().worker_threads()
    }

    #[test]
    fn trusted_proxies_are_addresses_or_networks_repeated_or_comma_separated() {
        let config = parse(&[
            "--trusted-proxy",
            "127.0.0.1, 10.1.2.3/8",
            "--trusted-proxy",
            "::1",
        ])
        .unwrap();
        let nets: Vec<String> = config.trusted_proxy.iter().map(ToString::to_string).collect();
        assert_eq!(nets, ["127.0.0.1/32", "10.0.0.0/8", "::1/128"]);
        assert!(parse(&[]).unwrap().trusted_proxy.is_empty());
        assert!(parse(&["--trusted-proxy", "proxy.example"]).is_err());
        assert!(parse(&["--trusted-proxy", "10.0.0.0/33"]).is_err());
    }

    #[test]
    fn hash_concurrency_defaults_to_the_cores_and_at_least_two() {
        let cores = std::thread::available_parallelism().unwrap().get();
        assert_eq!(parse(&[]).unwrap().hash_concurrency(), cores.max(2));
        assert_eq!(parse(&["--hash-concurrency", "1"]).unwrap().hash_concurrency(), 1);
        assert_eq!(parse(&["--hash-concurrency", "0"]).unwrap().hash_concurrency(), 1);
    }

    #[test]
    fn worker_threads_default_to_half_the_cores_and_never_to_none() {
        let cores = std::thread::available_parallelism().unwrap().get();
        assert_eq!(workers(&[]), (cores / 2).max(1));
        assert_eq!(workers(&["--workers", "3"]), 3);
        assert_eq!(workers(&["--workers", "0"]), 1);
    }
}

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

    /// Database URL: `postgres://user@host/db` for PostgreSQL (the production engine, and the
    /// one several nodes share), or `sqlite:...`; overrides `--data`.
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

    /// Seconds without use after which a login session ends (default: 2 hours).
    #[arg(long, env = "SAMEN_SESSION_IDLE_SECS", default_value_t = 2 * 3600)]
    pub session_idle_secs: u64,

    /// Largest file the dossier takes, in bytes (an upload is refused as soon as it passes it).
    #[arg(long, env = "SAMEN_MAX_FILE_BYTES", default_value_t = 25 * 1024 * 1024)]
    pub max_file_bytes: u64,

    /// Largest WebSocket message a client may send, in bytes.
    #[arg(long, env = "SAMEN_MAX_MESSAGE_BYTES", default_value_t = 8 * 1024 * 1024)]
    pub max_message_bytes: usize,

    /// Largest awareness (presence) message a client may send, in bytes.
    #[arg(long, env = "SAMEN_MAX_AWARENESS_BYTES", default_value_t = 64 * 1024)]
    pub max_awareness_bytes: usize,

    /// Messages queued for one connection before it is dropped as too slow.
    #[arg(long, env = "SAMEN_OUTBOUND_QUEUE", default_value_t = 1024)]
    pub outbound_queue: usize,

    /// Bytes queued for one connection before it is dropped as too slow (one frame larger
    /// than this still goes to a connection with nothing queued).
    #[arg(long, env = "SAMEN_OUTBOUND_BYTES", default_value_t = 16 * 1024 * 1024)]
    pub outbound_bytes: usize,

    /// Bytes of one connection's messages that may wait for its room; beyond it the server
    /// stops reading from that connection until the room has taken them. At least the
    /// largest message.
    #[arg(long, env = "SAMEN_INBOUND_BYTES", default_value_t = 16 * 1024 * 1024)]
    pub inbound_bytes: usize,

    /// Bytes of all connections' messages that may wait for one room. At least the largest
    /// message.
    #[arg(long, env = "SAMEN_ROOM_INBOUND_BYTES", default_value_t = 64 * 1024 * 1024)]
    pub room_inbound_bytes: usize,

    /// Sync requests (sync step 1) one connection may send at once; then one every
    /// `--sync-request-secs`. Beyond it the connection is closed (4429).
    #[arg(long, env = "SAMEN_SYNC_REQUEST_BURST", default_value_t = 8)]
    pub sync_request_burst: u32,

    /// Seconds per further sync request of one connection.
    #[arg(long, env = "SAMEN_SYNC_REQUEST_SECS", default_value_t = 10)]
    pub sync_request_secs: u64,

    /// New Yjs client IDs one connection may introduce: bound to its user by its edits,
    /// or announced in its presence. Beyond it the connection is closed.
    #[arg(long, env = "SAMEN_MAX_CLIENT_IDS", default_value_t = 8)]
    pub max_client_ids: usize,

    /// Update bytes one user may send per minute, over all their connections (also the
    /// burst; at least the largest message). Beyond it the connection is closed (4429).
    #[arg(long, env = "SAMEN_USER_BYTES_PER_MINUTE", default_value_t = 16 * 1024 * 1024)]
    pub user_bytes_per_minute: u64,

    /// Update bytes of one user the server stores per day (UTC), over all documents.
    /// Beyond it their updates are refused (4413) until the next day.
    #[arg(long, env = "SAMEN_USER_BYTES_PER_DAY", default_value_t = 64 * 1024 * 1024)]
    pub user_bytes_per_day: u64,

    /// Milliseconds of the rooms' time one user's updates may take yrs to integrate, per
    /// minute (also the burst). Beyond it the connection is closed (4429).
    #[arg(long, env = "SAMEN_USER_APPLY_MS_PER_MINUTE", default_value_t = 5_000)]
    pub user_apply_ms_per_minute: u64,

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

    /// Host names (besides the listen address, `localhost` on a loopback address and the
    /// public origin's host) that requests may name in their `Host` header; others get 421.
    /// Comma-separated or repeated.
    #[arg(long = "allowed-host", env = "SAMEN_ALLOWED_HOSTS", value_delimiter = ',')]
    pub allowed_hosts: Vec<String>,

    /// Bearer token that `GET /metrics` requires (at least 16 characters). Without it and
    /// without `--metrics-addr`, metrics are not served. Prefer the environment variable:
    /// a flag shows in the process list.
    #[arg(long, env = "SAMEN_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,

    /// A second address that serves `/metrics` and `/healthz` only (e.g. `127.0.0.1:9090`);
    /// the main address then serves no metrics.
    #[arg(long, env = "SAMEN_METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,

    /// Seconds a client has to send a request's headers, counted from when the server
    /// starts waiting for them (a new connection, or a kept-alive one after a response).
    #[arg(long, env = "SAMEN_HEADER_TIMEOUT_SECS", default_value_t = 10)]
    pub header_timeout_secs: u64,

    /// Seconds an HTTP connection may stay open without a request (keep-alive); at most
    /// `--header-timeout-secs`.
    #[arg(long, env = "SAMEN_KEEP_ALIVE_SECS", default_value_t = 5)]
    pub keep_alive_secs: u64,

    /// Seconds an ordinary API call may take, body included (not the event streams).
    #[arg(long, env = "SAMEN_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    pub request_timeout_secs: u64,

    /// Seconds an upload of a document may take, body included: 25 MiB over a school's
    /// slow connection (2 Mbit/s) takes nearly two minutes.
    #[arg(long, env = "SAMEN_UPLOAD_TIMEOUT_SECS", default_value_t = 600)]
    pub upload_timeout_secs: u64,

    /// Seconds from a WebSocket request's headers to its `101 Switching Protocols`.
    #[arg(long, env = "SAMEN_WS_HANDSHAKE_SECS", default_value_t = 10)]
    pub ws_handshake_secs: u64,

    /// WebSocket connections one user may have open at once; beyond it, 429.
    #[arg(long, env = "SAMEN_MAX_SOCKETS_PER_USER", default_value_t = 64)]
    pub max_sockets_per_user: usize,

    /// Seconds graceful shutdown waits for connections and rooms before it gives up.
    #[arg(long, env = "SAMEN_SHUTDOWN_SECS", default_value_t = 30)]
    pub shutdown_secs: u64,

    /// Whether people may log in with an e-mail address and a password (`false` where
    /// everyone logs in through the OpenID Connect provider).
    #[arg(long, env = "SAMEN_PASSWORD_LOGIN", default_value_t = true, action = clap::ArgAction::Set)]
    pub password_login: bool,

    /// Login through an OpenID Connect provider.
    #[command(flatten)]
    pub oidc: OidcConfig,
}

/// Login through an OpenID Connect provider: the Flemish government's ACM/IDM, or any
/// provider whose claims can be mapped the same way (docs/deployment.md, "Logging in").
#[derive(Debug, Clone, clap::Args)]
pub struct OidcConfig {
    /// The provider's issuer URL (its discovery document is at
    /// `<issuer>/.well-known/openid-configuration`); turns the login through it on.
    #[arg(long = "oidc-issuer", env = "SAMEN_OIDC_ISSUER")]
    pub issuer: Option<String>,

    /// The client ID Samen is registered under at the provider.
    #[arg(long = "oidc-client-id", env = "SAMEN_OIDC_CLIENT_ID")]
    pub client_id: Option<String>,

    /// The client secret. Prefer the environment variable: a flag shows in the process list.
    #[arg(
        long = "oidc-client-secret",
        env = "SAMEN_OIDC_CLIENT_SECRET",
        hide_env_values = true
    )]
    pub client_secret: Option<String>,

    /// Where the provider sends people back: `<public origin>/api/auth/oidc/callback` by
    /// default, or, without `--public-origin`, the origin the browser used.
    #[arg(long = "oidc-redirect-url", env = "SAMEN_OIDC_REDIRECT_URL")]
    pub redirect_url: Option<String>,

    /// The scopes to ask for, separated by spaces or commas (`openid` is always asked).
    #[arg(
        long = "oidc-scopes",
        env = "SAMEN_OIDC_SCOPES",
        value_delimiter = ',',
        default_value = "openid,profile,email"
    )]
    pub scopes: Vec<String>,

    /// The name of the login button's provider, as people know it.
    #[arg(
        long = "oidc-label",
        env = "SAMEN_OIDC_LABEL",
        default_value = "de Vlaamse overheid"
    )]
    pub label: String,

    /// The claim with the e-mail address.
    #[arg(
        long = "oidc-claim-email",
        env = "SAMEN_OIDC_CLAIM_EMAIL",
        default_value = "email"
    )]
    pub claim_email: String,

    /// The claim with the name shown to others (else `given_name` and `family_name`).
    #[arg(
        long = "oidc-claim-name",
        env = "SAMEN_OIDC_CLAIM_NAME",
        default_value = "name"
    )]
    pub claim_name: String,

    /// The claim with the target group (doelgroep): whether someone is school, CLB or LSC staff.
    #[arg(
        long = "oidc-claim-target-group",
        env = "SAMEN_OIDC_CLAIM_TARGET_GROUP",
        default_value = "vo_doelgroepcode"
    )]
    pub claim_target_group: String,

    /// The claim with the institution number of the organisation someone logs in for.
    #[arg(
        long = "oidc-claim-organisation",
        env = "SAMEN_OIDC_CLAIM_ORGANISATION",
        default_value = "vo_orgcode"
    )]
    pub claim_organisation: String,

    /// The claim with the application roles, e.g. `Samenwerkingsdossier_school:100001,100002`.
    #[arg(
        long = "oidc-claim-roles",
        env = "SAMEN_OIDC_CLAIM_ROLES",
        default_value = "dv_samenwerkingsdossier_rol_3d"
    )]
    pub claim_roles: String,

    /// What the application roles start with; `school`, `clb` or `lsc` follows it.
    #[arg(
        long = "oidc-role-prefix",
        env = "SAMEN_OIDC_ROLE_PREFIX",
        default_value = "Samenwerkingsdossier_"
    )]
    pub role_prefix: String,

    /// Which target groups are staff of which kind of institution: `VALUE=school`,
    /// `VALUE=clb`, `VALUE=lsc`, comma-separated. A role on another kind is ignored.
    #[arg(
        long = "oidc-target-groups",
        env = "SAMEN_OIDC_TARGET_GROUPS",
        value_delimiter = ',',
        default_value = "SCHOOL=school,CLB=clb,LSC=lsc"
    )]
    pub target_groups: Vec<String>,
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

    /// How long a session may go unused, in milliseconds.
    pub fn session_idle_ms(&self) -> i64 {
        i64::try_from(self.session_idle_secs.max(1).saturating_mul(1000)).unwrap_or(i64::MAX)
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
            outbound_bytes: self.outbound_bytes.max(1),
            inbound_bytes: self.inbound_bytes.max(self.max_message_bytes).max(1),
            room_inbound_bytes: self.room_inbound_bytes.max(self.max_message_bytes).max(1),
            sync_request_burst: self.sync_request_burst.max(1),
            sync_request_every: Duration::from_secs(self.sync_request_secs),
            max_client_ids: self.max_client_ids.max(1),
            user_bytes_per_minute: self
                .user_bytes_per_minute
                .max(self.max_message_bytes as u64)
                .max(1),
            user_bytes_per_day: self.user_bytes_per_day,
            user_apply_per_minute: Duration::from_millis(self.user_apply_ms_per_minute.max(1)),
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

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// hyper's header timer also runs while a kept-alive connection waits for its next
    /// request, so a longer keep-alive would silently end at the header timeout.
    #[error(
        "--keep-alive-secs ({keep_alive}) cannot be longer than --header-timeout-secs ({header}): \
         an idle connection waits for its next request's headers, so it closes after the header \
         timeout anyway; raise --header-timeout-secs too"
    )]
    KeepAliveOverHeaderTimeout {
        /// `--keep-alive-secs`.
        keep_alive: u64,
        /// `--header-timeout-secs`.
        header: u64,
    },
    /// A short metrics token could be guessed.
    #[error("--metrics-token must be at least {MIN_METRICS_TOKEN} characters long")]
    ShortMetricsToken,
    /// `--allowed-host` names something that is not a host name.
    #[error("--allowed-host {0:?} is not a host name (e.g. samen.school.be)")]
    AllowedHost(String),
    /// `--public-origin` is not `http(s)://host[:port]`.
    #[error("--public-origin {0:?} must look like https://samen.school.be (a scheme and a host, no path)")]
    PublicOrigin(String),
    /// The OpenID Connect settings are incomplete or malformed; the message says which.
    #[error("{0}")]
    Oidc(String),
}

/// The shortest metrics token accepted.
pub const MIN_METRICS_TOKEN: usize = 16;

/// The timeouts of a connection and of shutdown (docs/architecture.md says why these).
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// From waiting for a request to having its headers.
    pub header: Duration,
    /// Without a request on a kept-alive connection.
    pub keep_alive: Duration,
    /// How long graceful shutdown waits before it gives up.
    pub shutdown: Duration,
}

impl ServeConfig {
    /// Checks the settings that flags alone cannot.
    pub fn check(&self) -> Result<(), ConfigError> {
        let (keep_alive, header) = (self.keep_alive_secs.max(1), self.header_timeout_secs.max(1));
        if keep_alive > header {
            return Err(ConfigError::KeepAliveOverHeaderTimeout { keep_alive, header });
        }
        if self
            .metrics_token
            .as_ref()
            .is_some_and(|t| t.chars().count() < MIN_METRICS_TOKEN)
        {
            return Err(ConfigError::ShortMetricsToken);
        }
        Ok(())
    }

    /// The connection and shutdown timeouts (each at least a second).
    pub fn timeouts(&self) -> Timeouts {
        Timeouts {
            header: Duration::from_secs(self.header_timeout_secs.max(1)),
            keep_alive: Duration::from_secs(self.keep_alive_secs.max(1)),
            shutdown: Duration::from_secs(self.shutdown_secs.max(1)),
        }
    }
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
    /// Bytes queued for one connection before it counts as too slow.
    pub outbound_bytes: usize,
    /// Bytes of one connection's messages waiting for its room (at least the largest
    /// message).
    pub inbound_bytes: usize,
    /// Bytes of all messages waiting for one room (at least the largest message).
    pub room_inbound_bytes: usize,
    /// Sync requests (sync step 1) a connection may send at once.
    pub sync_request_burst: u32,
    /// Time that earns a connection one more sync request.
    pub sync_request_every: Duration,
    /// New client IDs one connection may bind or announce.
    pub max_client_ids: usize,
    /// Update bytes one user may send per minute (and at once).
    pub user_bytes_per_minute: u64,
    /// Update bytes of one user stored per UTC day.
    pub user_bytes_per_day: u64,
    /// Integration time of one user's updates per minute (and at once).
    pub user_apply_per_minute: Duration,
    /// Quiet time after edits before an automatic version is kept.
    pub snapshot_quiet: Duration,
    /// Longest time edits go without an automatic version, however busy the room.
    pub snapshot_every: Duration,
}

#[cfg(test)]
impl RoomConfig {
    /// The defaults of `samen serve`, with a small outbound queue, for rooms in unit tests.
    pub(crate) fn for_tests() -> Self {
        RoomConfig {
            idle_unload: Duration::from_secs(30),
            awareness_timeout: Duration::from_secs(30),
            compact_after: 500,
            outbound_queue: 16,
            outbound_bytes: 16 * 1024 * 1024,
            inbound_bytes: 16 * 1024 * 1024,
            room_inbound_bytes: 64 * 1024 * 1024,
            sync_request_burst: 8,
            sync_request_every: Duration::from_secs(10),
            max_client_ids: 8,
            user_bytes_per_minute: 16 * 1024 * 1024,
            user_bytes_per_day: 64 * 1024 * 1024,
            user_apply_per_minute: Duration::from_secs(5),
            snapshot_quiet: Duration::from_secs(600),
            snapshot_every: Duration::from_secs(24 * 60 * 60),
        }
    }
}

/// `samen serve` with these flags, parsed as the command line would be (for tests).
#[cfg(test)]
pub(crate) fn parse_for_tests(args: &[&str]) -> Result<ServeConfig, clap::Error> {
    use clap::Parser;
    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeConfig,
    }
    let args = std::iter::once("samen").chain(args.iter().copied());
    Cli::try_parse_from(args).map(|cli| cli.serve)
}

#[cfg(test)]
mod tests {
    use super::parse_for_tests as parse;
    use super::*;

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

    fn config(args: &[&str]) -> ServeConfig {
        parse(args).unwrap()
    }

    #[test]
    fn keep_alive_may_not_outlast_the_header_timeout_and_metrics_tokens_must_be_long() {
        assert!(config(&[]).check().is_ok());
        assert!(config(&["--keep-alive-secs", "10"]).check().is_ok());
        assert!(matches!(
            config(&["--keep-alive-secs", "11"]).check(),
            Err(ConfigError::KeepAliveOverHeaderTimeout { .. })
        ));
        assert!(matches!(
            config(&["--metrics-token", "short"]).check(),
            Err(ConfigError::ShortMetricsToken)
        ));
        assert!(config(&["--metrics-token", "0123456789abcdef"]).check().is_ok());
    }

    #[test]
    fn worker_threads_default_to_half_the_cores_and_never_to_none() {
        let cores = std::thread::available_parallelism().unwrap().get();
        assert_eq!(workers(&[]), (cores / 2).max(1));
        assert_eq!(workers(&["--workers", "3"]), 3);
        assert_eq!(workers(&["--workers", "0"]), 1);
    }
}

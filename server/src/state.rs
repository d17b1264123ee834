//! The state every handler shares: rooms, database, configuration, limits, events.
//! Its own module, below the router, the handlers and authentication, which all read it.

use std::sync::Arc;

use samen_crdt::Limits;

use crate::auth::password::Hashing;
use crate::auth::throttle::LoginThrottle;
use crate::config::ServeConfig;
use crate::db::Db;
use crate::http::limits::ApiWrites;
use crate::metrics::Metrics;
use crate::rooms::{Rooms, SocketQuota};

/// What every handler may use.
#[derive(Clone)]
pub struct AppState {
    /// The live rooms.
    pub rooms: Rooms,
    /// The relational data.
    pub db: Db,
    /// Server metrics.
    pub metrics: Arc<Metrics>,
    /// The configuration the server started with.
    pub config: Arc<ServeConfig>,
    /// Validation limits for client messages.
    pub limits: Arc<Limits>,
    /// Failed-login counts, per account and per client address.
    pub throttle: Arc<LoginThrottle>,
    /// The bound on password checks at once.
    pub hashing: Arc<Hashing>,
    /// Live events per school.
    pub events: crate::events::Events,
    /// The open connections' rights, re-checked while they are open.
    pub watch: crate::access_watch::AccessWatch,
    /// Becomes true when the server shuts down (ends event streams).
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    /// Open WebSocket connections per user, against `--max-sockets-per-user`.
    pub sockets: Arc<SocketQuota>,
    /// Comments and versions written per user, against their rate limits.
    pub writes: Arc<ApiWrites>,
    /// The content of files kept in the dossier.
    pub blobs: crate::files::Blobs,
    /// The OpenID Connect provider people log in through, if one is configured.
    pub oidc: Option<Arc<crate::auth::oidc::Oidc>>,
}

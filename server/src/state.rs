//! The state every handler shares: rooms, database, configuration, limits, events.
//! Its own module, below the router, the handlers and authentication, which all read it.

use std::sync::Arc;

use samen_crdt::Limits;

use crate::auth::throttle::LoginThrottle;
use crate::config::ServeConfig;
use crate::db::Db;
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
    /// Failed-login counts.
    pub throttle: Arc<LoginThrottle>,
    /// Live events per school.
    pub events: crate::events::Events,
    /// Becomes true when the server shuts down (ends event streams).
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    /// Open WebSocket connections per user, against `--max-sockets-per-user`.
    pub sockets: Arc<SocketQuota>,
}

//! samen-server: the Samen server. It hosts each registration's CRDT document as a live
//! room, syncs it with Yjs clients over WebSockets, and stores every accepted update
//! before any peer sees it.

pub mod access;
pub mod access_watch;
pub mod app;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod colors;
pub mod config;
pub mod db;
pub mod demo;
pub mod domain;
pub mod error;
pub mod events;
pub mod history;
pub mod http;
pub mod ids;
pub mod listener;
pub mod metrics;
pub mod rooms;
pub mod state;
pub mod storage;
pub mod web;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::ServeConfig;
use crate::db::Db;
use crate::listener::GatedListener;
use crate::metrics::Metrics;
use crate::rooms::Rooms;
use crate::storage::{SqliteStore, StorageError, Store};

/// How long shutdown waits for rooms to store and close.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Demo mode has well-known passwords, so it stays on this machine.
    #[error("--demo only listens on a loopback address (e.g. 127.0.0.1), not {0}")]
    NotLoopback(std::net::SocketAddr),
    /// The demo data could not be written.
    #[error("demo data: {0}")]
    Demo(String),
    /// The database URL names an engine this build does not have.
    #[error("unsupported database URL (expected sqlite:...): {0}")]
    UnsupportedDatabase(String),
    /// Storage could not be opened.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The address could not be bound, or serving failed.
    #[error("network: {0}")]
    Io(#[from] std::io::Error),
}

/// Opens the database named by the configuration: the document store and the relational
/// data, which share it.
pub async fn open_database(data: &std::path::Path, url: Option<&str>) -> Result<(Store, Db), ServeError> {
    let sqlite = match url {
        Some(url) if url.starts_with("sqlite:") => SqliteStore::open_url(url).await?,
        Some(url) => {
            return Err(ServeError::UnsupportedDatabase(
                url.split(':').next().unwrap_or_default().to_owned(),
            ));
        }
        None => SqliteStore::open_in(data).await?,
    };
    let db = Db::new(sqlite.pool());
    Ok((Arc::new(sqlite), db))
}

/// Runs the server until `shutdown` resolves, then stores everything and returns.
/// `on_listen` is told the bound address (useful with port 0).
pub async fn serve(
    config: ServeConfig,
    on_listen: impl FnOnce(std::net::SocketAddr),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    if config.demo && !config.addr.ip().is_loopback() {
        return Err(ServeError::NotLoopback(config.addr));
    }
    let (store, db) = open_database(&config.data, config.database_url.as_deref()).await?;
    if config.demo {
        demo::seed(&db, &store)
            .await
            .map_err(|e| ServeError::Demo(e.to_string()))?;
    }
    let metrics = Arc::new(Metrics::new());
    let (stop_tx, stop_rx) = watch::channel(false);
    let events = events::Events::default();
    let rooms = Rooms::new(
        store.clone(),
        db.clone(),
        events.clone(),
        metrics.clone(),
        config.room(),
        stop_rx.clone(),
        clock::Ambient::system(),
    );
    let watch = access_watch::AccessWatch::new(db.clone(), rooms.clone());
    tokio::spawn(watch.clone().run(
        Duration::from_secs(config.access_check_secs.max(1)),
        stop_rx.clone(),
    ));
    let throttle = Arc::new(auth::throttle::LoginThrottle::new());
    tokio::spawn(auth::throttle::keep_pruned(throttle.clone(), stop_rx.clone()));
    let state = app::AppState {
        watch,
        rooms: rooms.clone(),
        db,
        metrics,
        limits: Arc::new(config.limits()),
        config: Arc::new(config.clone()),
        throttle,
        hashing: Arc::new(auth::password::Hashing::new(config.hash_concurrency())),
        events,
        shutdown: stop_rx,
    };
    let listener = TcpListener::bind(config.addr).await?;
    on_listen(listener.local_addr()?);
    let listener = GatedListener::new(listener, listener::handshakes(), listener::HANDSHAKE_WAIT);
    // Without TCP_NODELAY, Nagle's algorithm holds small WebSocket frames back until the
    // peer's delayed ACK (up to 40 ms): it showed as a 40 ms p99 fan-out latency.
    let listener = axum::serve::ListenerExt::tap_io(listener, |io| {
        if let Err(err) = io.tcp().set_nodelay(true) {
            tracing::debug!(error = %err, "could not set TCP_NODELAY");
        }
    });
    let signal = async move {
        shutdown.await;
        tracing::info!("shutting down: storing documents and closing connections");
        let _ = stop_tx.send(true);
    };
    let app = app::router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app).with_graceful_shutdown(signal).await?;
    if tokio::time::timeout(SHUTDOWN_GRACE, rooms.wait_closed())
        .await
        .is_err()
    {
        tracing::warn!("some rooms did not close in time");
    }
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

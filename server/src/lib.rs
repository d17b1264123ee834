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
pub mod conn;
pub mod db;
pub mod demo;
pub mod domain;
pub mod error;
pub mod events;
pub mod files;
pub mod history;
pub mod http;
pub mod ids;
pub mod listener;
pub mod metrics;
pub mod name_guard;
pub mod nodes;
pub mod report;
pub mod rooms;
pub mod search;
pub mod security;
pub mod state;
pub mod storage;
#[doc(hidden)]
pub mod testing;
pub mod web;

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::{ConfigError, ServeConfig};
use crate::db::Db;
use crate::listener::GatedListener;
use crate::metrics::Metrics;
use crate::rooms::{Rooms, SocketQuota};
use crate::security::Security;
use crate::storage::{Engine, PgStore, SqliteStore, SqliteWriter, StorageError, Store};

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A setting is wrong or two disagree.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Demo mode has well-known passwords, so it stays on this machine.
    #[error("--demo only listens on a loopback address (e.g. 127.0.0.1), not {0}")]
    NotLoopback(std::net::SocketAddr),
    /// Demo mode would add well-known passwords to a database that holds real data.
    #[error(
        "--demo refuses to start: the database ({database}) holds {found}, which is not demo data. \
         Demo mode adds users with the well-known password \"demo\" (an admin among them), so it only \
         runs on a database of its own: start without --demo to use this one, or give --demo an empty \
         directory (e.g. --data ./demo-data)."
    )]
    NotDemoData {
        /// Where the database is.
        database: String,
        /// The first user or institution found that the demo did not make.
        found: String,
    },
    /// The demo data could not be written.
    #[error("demo data: {0}")]
    Demo(String),
    /// The database URL names an engine this build does not have.
    #[error("unsupported database URL scheme {0}: expected sqlite:... or postgres://...")]
    UnsupportedDatabase(String),
    /// Storage could not be opened.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The relational data could not be read at start.
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
    /// The address could not be bound, or serving failed.
    #[error("network: {0}")]
    Io(#[from] std::io::Error),
}

/// Opens the database named by the configuration: the document store and the relational
/// data, which share it. SQLite is the default (`samen.db` under `data`, or a `sqlite:`
/// URL); a `postgres://` URL selects PostgreSQL. Each engine's migrations are applied.
pub async fn open_database(data: &std::path::Path, url: Option<&str>) -> Result<(Store, Db), ServeError> {
    let (store, engine, url, writer): (Store, Engine, String, Option<SqliteWriter>) =
        match url.map(|u| (u, Engine::of(u))) {
            Some((url, Some(Engine::Postgres))) => (
                Arc::new(PgStore::open_url(url).await?),
                Engine::Postgres,
                url.to_owned(),
                None,
            ),
            Some((url, Some(Engine::Sqlite))) => {
                let store = SqliteStore::open_url(url).await?;
                let (url, writer) = (store.url(), store.writer());
                (Arc::new(store), Engine::Sqlite, url, Some(writer))
            }
            Some((url, None)) => {
                return Err(ServeError::UnsupportedDatabase(
                    url.split(':').next().unwrap_or_default().to_owned(),
                ));
            }
            None => {
                let store = SqliteStore::open_in(data).await?;
                let (url, writer) = (store.url(), store.writer());
                (Arc::new(store), Engine::Sqlite, url, Some(writer))
            }
        };
    let mut db = Db::connect(engine, &url).await.map_err(StorageError::from)?;
    if let Some(writer) = writer {
        db.write_along(writer);
    }
    Ok((store, db))
}

/// Runs the server until `shutdown` resolves, then stores everything and returns.
/// `on_listen` is told the bound address (useful with port 0).
pub async fn serve(
    config: ServeConfig,
    on_listen: impl FnOnce(std::net::SocketAddr),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    config.check()?;
    // Only the listen IP matters to the Host allowlist, so port 0 makes no difference.
    let security = Security::new(config.addr, &config)?;
    let metrics_security = match config.metrics_addr {
        Some(addr) => Some(Security::new(addr, &config)?),
        None => None,
    };
    if config.demo && !config.addr.ip().is_loopback() {
        return Err(ServeError::NotLoopback(config.addr));
    }
    let (store, db) = open_database(&config.data, config.database_url.as_deref()).await?;
    if config.demo {
        let foreign = demo::not_demo_data(&db)
            .await
            .map_err(|e| ServeError::Demo(e.to_string()))?;
        if let Some(found) = foreign {
            let database = match &config.database_url {
                Some(url) => url.clone(),
                None => config.data.display().to_string(),
            };
            return Err(ServeError::NotDemoData { database, found });
        }
        demo::seed(&db, &store)
            .await
            .map_err(|e| ServeError::Demo(e.to_string()))?;
    }
    let metrics = Arc::new(Metrics::new());
    let (stop_tx, stop_rx) = watch::channel(false);
    let events = events::Events::on(&store);
    let rooms = Rooms::new(
        store.clone(),
        db.clone(),
        events.clone(),
        metrics.clone(),
        config.room(),
        stop_rx.clone(),
        clock::Ambient::system(),
    );
    let watch = access_watch::AccessWatch::new(db.clone(), rooms.clone(), config.session_idle_ms());
    tokio::spawn(watch.clone().run(
        std::time::Duration::from_secs(config.access_check_secs.max(1)),
        stop_rx.clone(),
    ));
    tokio::spawn(db::keep_sessions_purged(
        db.clone(),
        config.session_idle_ms(),
        stop_rx.clone(),
    ));
    let blobs = files::Blobs::new(&config.data, db.clone());
    tokio::spawn(files::keep_purged(blobs.clone(), stop_rx.clone()));
    tokio::spawn(http::keep_exports_purged(db.clone(), stop_rx.clone()));
    let throttle_key = db.shared_key("login-throttle").await?;
    let throttle = Arc::new(auth::throttle::LoginThrottle::on_nodes(throttle_key, &store));
    tokio::spawn(auth::throttle::keep_pruned(throttle.clone(), stop_rx.clone()));
    let oidc_key = db.shared_key("oidc-login").await?;
    let oidc = auth::oidc::Oidc::from_config(&config.oidc, &oidc_key)
        .map_err(ConfigError::Oidc)?
        .map(Arc::new);
    let sockets = SocketQuota::on(config.max_sockets_per_user, &store);
    let writes = Arc::new(http::limits::ApiWrites::on(&store));
    if let Some(notices) = store.listen().await? {
        let listeners = nodes::Listeners {
            rooms: rooms.clone(),
            events: events.clone(),
            throttle: throttle.clone(),
            sockets: sockets.clone(),
            writes: writes.clone(),
        };
        tokio::spawn(nodes::keep_telling(listeners.clone(), stop_rx.clone()));
        tokio::spawn(nodes::relay(notices, listeners, stop_rx.clone()));
    }
    let state = app::AppState {
        watch,
        rooms: rooms.clone(),
        db: db.clone(),
        metrics,
        limits: Arc::new(config.limits()),
        config: Arc::new(config.clone()),
        throttle,
        hashing: Arc::new(auth::password::Hashing::new(config.hash_concurrency())),
        events,
        shutdown: stop_rx.clone(),
        sockets,
        writes,
        blobs: blobs.clone(),
        oidc,
    };
    tokio::spawn(http::keep_documents_read(state.clone(), stop_rx.clone()));
    tokio::spawn(search::index_what_is_missing(db.clone(), rooms.clone()));
    let listener = TcpListener::bind(config.addr).await?;
    let local = listener.local_addr()?;
    let metrics_listener = match (config.metrics_addr, metrics_security) {
        (Some(addr), Some(security)) => {
            let listener = TcpListener::bind(addr).await?;
            tracing::info!(addr = %listener.local_addr()?, "metrics on their own address");
            Some((listener, security))
        }
        _ => None,
    };
    on_listen(local);
    let listener = GatedListener::new(listener, listener::handshakes(), listener::HANDSHAKE_WAIT);
    // Without TCP_NODELAY, Nagle's algorithm holds small WebSocket frames back until the
    // peer's delayed ACK (up to 40 ms): it showed as a 40 ms p99 fan-out latency.
    let listener = axum::serve::ListenerExt::tap_io(listener, |io| {
        if let Err(err) = io.tcp().set_nodelay(true) {
            tracing::debug!(error = %err, "could not set TCP_NODELAY");
        }
    });
    let timeouts = config.timeouts();
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!("shutting down: storing documents and closing connections");
        let _ = stop_tx.send(true);
    });
    let main = conn::serve(
        listener,
        app::router(state.clone(), security),
        timeouts,
        stop_rx.clone(),
    );
    let metrics = async {
        match metrics_listener {
            Some((listener, security)) => {
                let app = app::metrics_router(state, security);
                Some(conn::serve(listener, app, timeouts, stop_rx).await)
            }
            None => None,
        }
    };
    let (mut connections, mut metrics_connections) = tokio::join!(main, metrics);

    // Graceful shutdown, within `--shutdown-secs`: connections finish their request (event
    // streams and WebSockets end on the stop signal), rooms store and close. What is still
    // open at the deadline is dropped: every accepted update is durable already, so giving
    // up loses no edit, only a compaction the next start does.
    let deadline = tokio::time::Instant::now() + timeouts.shutdown;
    let graceful = async {
        let metrics = async {
            if let Some(c) = metrics_connections.as_mut() {
                c.closed().await;
            }
        };
        tokio::join!(connections.closed(), metrics, rooms.wait_closed());
    };
    if tokio::time::timeout_at(deadline, graceful).await.is_err() {
        let open = connections.open() + metrics_connections.as_ref().map_or(0, |c| c.open());
        tracing::warn!(
            open,
            secs = timeouts.shutdown.as_secs(),
            "shutdown deadline passed: dropping the connections and rooms still open"
        );
    }
    drop(connections);
    drop(metrics_connections);
    let closed = async { tokio::join!(store.close(), db.close()) };
    if tokio::time::timeout_at(deadline, closed).await.is_err() {
        tracing::warn!("the database did not close before the shutdown deadline");
    }
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

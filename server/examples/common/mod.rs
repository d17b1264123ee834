//! What the benchmark examples share: a Samen server in this process.
//!
//! Each example compiles this module on its own and uses part of it.
#![allow(dead_code)]

use samen_server::config::ServeConfig;

/// Starts a server on a random loopback port with its data in `data`; returns its address,
/// the switch that stops it, and its task.
pub async fn start(
    data: &std::path::Path,
) -> (
    String,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    start_on(data, None).await
}

/// As [`start`], on the database at `url` when given (PostgreSQL).
pub async fn start_on(
    data: &std::path::Path,
    url: Option<&str>,
) -> (
    String,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    use clap::Parser;
    #[derive(Parser)]
    struct Args {
        #[command(flatten)]
        serve: ServeConfig,
    }
    let mut config = Args::parse_from(["bench", "--addr", "127.0.0.1:0"]).serve;
    config.data = data.to_owned();
    config.database_url = url.map(str::to_owned);
    let (addr_tx, addr_rx) = tokio::sync::oneshot::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = samen_server::serve(
            config,
            move |addr| {
                let _ = addr_tx.send(addr);
            },
            async move {
                let _ = stop_rx.await;
            },
        )
        .await;
    });
    let addr = addr_rx.await.expect("server address");
    (addr.to_string(), stop_tx, task)
}

/// A database with a CLB serving one school, a CLB user with an API token, and one
/// registration of that school.
pub struct World {
    pub store: samen_server::storage::Store,
    pub db: samen_server::db::Db,
    /// The school's institution id.
    pub school: samen_server::ids::InstitutionId,
    /// The CLB user and their token.
    pub clb_user: samen_server::db::User,
    pub clb_token: String,
    pub registration: samen_server::db::Registration,
}

/// Creates the [`World`] in a fresh database under `data`.
pub async fn world(data: &std::path::Path, title: &str) -> World {
    world_on(data, None, title).await
}

/// As [`world`], on the database at `url` when given (PostgreSQL).
pub async fn world_on(data: &std::path::Path, url: Option<&str>, title: &str) -> World {
    let (store, db) = samen_server::open_database(data, url).await.expect("database");
    let clb = db.create_institution("clb", "900001", "CLB").await.expect("clb");
    let school = db
        .create_institution("school", "100001", "School")
        .await
        .expect("school");
    db.link_school(clb.id, school.id).await.expect("link");
    let clb_user = db
        .create_user("sara@example.test", "Sara", "x")
        .await
        .expect("user");
    db.grant(&clb_user.id, "clb_staff", Some(clb.id))
        .await
        .expect("grant");
    let new = samen_server::db::NewToken {
        name: "bench",
        lifetime_ms: i64::MAX,
        scope: samen_server::db::TokenScope::ReadWrite,
        school: None,
    };
    let (_, clb_token) = db.create_token(&clb_user.id, &new).await.expect("token");
    let registration = db
        .create_registration(samen_server::db::NewRegistration {
            kind: "signal".into(),
            school_id: school.id,
            school_year: "2026-2027".into(),
            title: title.into(),
            theme: None,
            owner: clb_user.id.clone(),
        })
        .await
        .expect("registration");
    World {
        store,
        db,
        school: school.id,
        clb_user,
        clb_token,
        registration,
    }
}

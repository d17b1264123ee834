//! Support for tests on both engines, shared by the unit tests and the integration tests
//! (`tests/`): a fresh PostgreSQL database on the throwaway test cluster. Not used by the
//! server itself.

use std::sync::OnceLock;

use sqlx::Connection;

/// The engines every storage and API test runs on (the product's own type).
pub use crate::storage::Engine;

/// The URL of the test cluster's maintenance database: `SAMEN_TEST_POSTGRES_URL`, or the
/// cluster `scripts/pg-cluster ensure` starts (once; it keeps running for later tests).
fn cluster_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        if let Ok(url) = std::env::var("SAMEN_TEST_POSTGRES_URL") {
            return url;
        }
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/pg-cluster");
        let out = std::process::Command::new(script)
            .arg("ensure")
            .stderr(std::process::Stdio::inherit())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {script}: {e}"));
        assert!(out.status.success(), "{script} ensure failed (see above)");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    })
}

/// A new, empty database on the test cluster; returns its URL.
pub async fn fresh_postgres_database() -> String {
    let base = cluster_url();
    let name = format!("samen_test_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(base)
        .await
        .unwrap_or_else(|e| panic!("cannot reach the test cluster at {base}: {e}"));
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .expect("create a test database");
    let (server, _) = base.rsplit_once('/').expect("a URL with a database name");
    format!("{server}/{name}")
}

/// A place for a test's database: a temporary data directory, and on PostgreSQL the URL
/// of a fresh database (none on SQLite: `samen.db` in the directory).
#[cfg(test)]
pub async fn test_database(engine: Engine) -> (tempfile::TempDir, Option<String>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = match engine {
        Engine::Sqlite => None,
        Engine::Postgres => Some(fresh_postgres_database().await),
    };
    (dir, url)
}

/// A test database on `engine` holding the demo data (`serve --demo`'s schools, users and
/// registrations): its directory (kept alive by the caller), store and `Db`.
#[cfg(test)]
pub async fn demo_database(engine: Engine) -> (tempfile::TempDir, crate::storage::Store, crate::db::Db) {
    let (dir, url) = test_database(engine).await;
    let (store, db) = crate::open_database(dir.path(), url.as_deref())
        .await
        .expect("open");
    crate::demo::seed(&db, &store).await.expect("demo data");
    (dir, store, db)
}

/// The id of the demo user with this e-mail address.
#[cfg(test)]
pub async fn demo_user(db: &crate::db::Db, email: &str) -> crate::ids::UserId {
    db.user_by_email(email).await.expect("user").expect(email).0.id
}

/// Runs an async test body once per engine: `test_both_dbs!(name, body_fn)` makes
/// `name_sqlite` and `name_postgres`, each calling `body_fn(Engine::…)`.
#[macro_export]
macro_rules! test_both_dbs {
    ($sqlite:ident, $postgres:ident, $body:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $sqlite() {
            $body($crate::testing::Engine::Sqlite).await
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $postgres() {
            $body($crate::testing::Engine::Postgres).await
        }
    };
}

//! What operators and load balancers rely on: health, readiness, backup and restore.

use serde_json::json;
use tokio::process::Command;

use crate::support::{TestServer, WAIT, database_url, engine, pg_program, type_paragraph};
use samen_server::testing::Engine;

#[tokio::test]
async fn readiness_says_ready_once_the_database_holds_the_schema() {
    let server = TestServer::start().await;
    let answer = reqwest::get(server.url("/readyz")).await.expect("readyz");
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.text().await.expect("body"), "ready");
    let health = reqwest::get(server.url("/healthz")).await.expect("healthz");
    assert_eq!(health.text().await.expect("body"), "ok");
}

/// A backup taken while people work restores into a server that has their registration,
/// its text and its comments: `samen admin backup` on SQLite, `pg_dump` on PostgreSQL
/// (docs/deployment.md).
#[tokio::test]
async fn a_backup_taken_while_people_work_restores_whole() {
    let server = TestServer::start().await;
    let sara = server.clb().await;
    let reg = sara.creates_registration().await;
    let editor = sara.opens(&reg).await;
    for i in 0..20 {
        type_paragraph(&editor, "goals", &format!("doel {i}"));
    }
    editor.durable(WAIT).await.expect("stored");
    let (status, _) = sara
        .post(
            reg.path("/comments"),
            json!({ "body": "Bespreken op het overleg" }),
        )
        .await;
    assert_eq!(status, 201);
    let before = sara.reads_content(&reg).await;
    // A document, whose content lives beside the database (SQLite) or in it (PostgreSQL).
    let uploaded = reqwest::Client::new()
        .post(server.url(&format!("/api/registrations/{}/files?name=plan.txt", reg.id)))
        .bearer_auth(&sara.token)
        .header("content-type", "text/plain")
        .body("Het plan van aanpak.")
        .send()
        .await
        .expect("upload");
    assert_eq!(uploaded.status(), 201);
    let file: serde_json::Value = uploaded.json().await.expect("json");
    let file_id = file["id"].as_str().expect("id").to_owned();

    let restored = tempfile::tempdir().expect("temp dir");
    match engine() {
        Engine::Sqlite => {
            let file = restored.path().join("backup.db");
            let file = file.to_str().expect("a UTF-8 path");
            server.admin_command(&["backup", "--to", file], &[]).await;
            // The same file again is refused: a backup never overwrites.
            let refused = server.admin_command_fails(&["backup", "--to", file], &[]).await;
            assert!(refused.contains("exists already"), "{refused}");
            std::fs::rename(file, restored.path().join("samen.db")).expect("put in place");
            let files = format!("{file}.files");
            std::fs::rename(files, restored.path().join("files")).expect("documents in place");
        }
        Engine::Postgres => {
            let refused = server
                .admin_command_fails(&["backup", "--to", "/tmp/unused.db"], &[])
                .await;
            assert!(refused.contains("pg_dump"), "says what to use: {refused}");
            let from = database_url(&server.data).await.expect("a database");
            let to = samen_server::testing::fresh_postgres_database().await;
            let dump = Command::new(pg_program("pg_dump"))
                .args(["--format=custom", "--file"])
                .arg(restored.path().join("dump"))
                .arg(&from)
                .status()
                .await
                .expect("pg_dump");
            assert!(dump.success());
            let restore = Command::new(pg_program("pg_restore"))
                .args(["--no-owner", "--dbname", &to])
                .arg(restored.path().join("dump"))
                .status()
                .await
                .expect("pg_restore");
            assert!(restore.success());
            std::fs::write(restored.path().join("test-database-url"), &to).expect("keep the URL");
        }
    }

    let copy = TestServer::start_in(restored.path(), &[]).await;
    let sara_again = copy.clb().await;
    assert_eq!(sara_again.reads_content(&reg).await, before, "the text is whole");
    let (status, threads) = sara_again.get(reg.path("/comments")).await;
    assert_eq!(status, 200);
    assert!(
        threads.to_string().contains("Bespreken op het overleg"),
        "the comment is there: {threads}"
    );
    let got = sara_again.download(format!("/api/files/{file_id}/content")).await;
    assert_eq!(got.status, 200, "the document is there");
    assert_eq!(got.bytes, b"Het plan van aanpak.");
}

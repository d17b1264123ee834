//! The audit log of reads: who opened which registration, document, version and diff (one
//! entry per user, item and hour), and who asked for a registration that is not theirs
//! (a 404 like any other, and a `denied` entry). Read through `samen admin audit`, as an
//! operator would.

use serde_json::{Value, json};

use crate::support::{Person, TestServer};

/// A person's entries as `(action, target, outcome, detail)`, but for the login and the
/// token every test person starts with.
async fn entries_of(person: &Person<'_>) -> Vec<(String, Value, String, Value)> {
    person
        .server()
        .audit_log(&["--user", person.email])
        .await
        .iter()
        .filter(|row| row["action"] != "login" && row["action"] != "token.create")
        .map(|row| {
            assert_eq!(row["actor"], json!(person.id), "{row}");
            (
                row["action"].as_str().expect("action").to_owned(),
                row["target"].clone(),
                row["outcome"].as_str().expect("outcome").to_owned(),
                row["detail"].clone(),
            )
        })
        .collect()
}

#[tokio::test]
async fn every_read_is_recorded_once_an_hour() {
    let server = TestServer::start().await;
    let sara = server.clb().await;
    let tom = server.school_member("linde").await;
    let reg = sara.creates_registration().await;
    let (status, version) = sara
        .post(reg.path("/snapshots"), json!({ "name": "Na overleg" }))
        .await;
    assert_eq!(status, 201, "{version}");
    let sid = version["id"].as_str().expect("version id");
    assert!(entries_of(&tom).await.is_empty(), "nothing read yet");

    // Tom reads everything twice over; the second round writes nothing.
    for _ in 0..2 {
        for path in [
            reg.path(""),
            reg.path("/content"),
            reg.path("/authors"),
            reg.path("/comments"),
            reg.path("/people"),
            reg.path("/snapshots"),
            reg.path(&format!("/snapshots/{sid}")),
            reg.path(&format!("/diff?from={sid}")),
            "/api/schools/100001/registrations".to_owned(),
        ] {
            let (status, body) = tom.get(&path).await;
            assert_eq!(status, 200, "{path}: {body}");
        }
        let editor = tom.opens(&reg).await;
        drop(editor);
    }

    let id = json!(reg.id);
    let mut entries = entries_of(&tom).await;
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        entries,
        [
            (
                "diff.read".into(),
                id.clone(),
                "ok".into(),
                json!(format!("{sid}..now"))
            ),
            ("document.open".into(), id.clone(), "ok".into(), Value::Null),
            ("registration.read".into(), id.clone(), "ok".into(), Value::Null),
            (
                "registrations.list".into(),
                json!("100001"),
                "ok".into(),
                Value::Null
            ),
            ("snapshot.read".into(), id.clone(), "ok".into(), json!(sid)),
            ("snapshots.list".into(), id.clone(), "ok".into(), Value::Null),
        ]
    );

    // Another version read and another diff are items of their own.
    let (status, now_version) = sara
        .post(reg.path("/snapshots"), json!({ "name": "Later" }))
        .await;
    assert_eq!(status, 201, "{now_version}");
    let later = now_version["id"].as_str().expect("version id");
    assert_eq!(tom.get(reg.path(&format!("/snapshots/{later}"))).await.0, 200);
    assert_eq!(
        tom.get(reg.path(&format!("/diff?from={sid}&to={later}"))).await.0,
        200
    );
    let entries = entries_of(&tom).await;
    assert_eq!(entries.len(), 8, "{entries:?}");

    // An operator finds every read of the registration, by anyone, by its id.
    let about = server.audit_log(&["--target", &reg.id, "--since", "1h"]).await;
    let tom_reads = about.iter().filter(|r| r["actor"] == json!(tom.id)).count();
    assert_eq!(tom_reads, 7, "all of Tom's but the school list: {about:?}");
    assert!(
        about
            .iter()
            .any(|r| r["actor"] == json!(sara.id) && r["action"] == "registration.create"),
        "the changes are there too: {about:?}"
    );
    assert!(
        server.audit_log(&["--since", "99999999999999"]).await.is_empty(),
        "nothing from the future"
    );
}

#[tokio::test]
async fn asking_for_another_schools_registration_is_a_404_and_recorded() {
    let server = TestServer::start().await;
    let sara = server.clb().await;
    let nadia = server.school_member("anker").await;
    let reg = sara.creates_registration().await;
    let unknown = "00000000-0000-4000-8000-000000000000";

    // Tom's registration and one that does not exist: the same 404, repeated.
    let (status, theirs) = nadia.get(reg.path("")).await;
    assert_eq!(status, 404, "{theirs}");
    let (status, none) = nadia.get(format!("/api/registrations/{unknown}")).await;
    assert_eq!((status, &none), (404, &theirs), "indistinguishable");
    for _ in 0..3 {
        assert_eq!(nadia.get(reg.path("/content")).await.0, 404);
        assert_eq!(nadia.get("/api/registrations/not-an-id").await.0, 404);
        let bearer = format!("Bearer {}", nadia.token);
        let status = server
            .ws_status(&reg.id, &[("authorization", bearer.as_str())])
            .await;
        assert_eq!(status, 404, "the document stays closed");
    }
    assert_eq!(nadia.get("/api/schools/100001/registrations").await.0, 404);

    let denied = |target: Value, detail: &str| {
        (
            "registration.read".to_owned(),
            target,
            "denied".to_owned(),
            json!(detail),
        )
    };
    assert_eq!(
        entries_of(&nadia).await,
        [
            denied(json!(reg.id), "not_found"),
            denied(json!(unknown), "not_found"),
            denied(Value::Null, "not_found, malformed id"),
            (
                "school.read".into(),
                json!("100001"),
                "denied".into(),
                json!("not_found")
            ),
        ],
        "one entry per id and hour, nothing read"
    );
}

//! The server enforces who writes which section and attributes every edit to its real
//! author: refused updates change nothing, client IDs cannot be borrowed, presence names
//! cannot be forged, and `/authors` tells who wrote what.

use std::time::Duration;

use samen_client::Options;
use serde_json::json;
use yrs::Transact;
use yrs::types::text::Text;
use yrs::types::xml::{XmlFragment, XmlOut};

use crate::support::{TestServer, WAIT, eventually, paragraphs, type_paragraph};

async fn log_rows(server: &TestServer, id: &str) -> i64 {
    server.database().await.document(id).await.tail.len() as i64
}

async fn denials(server: &TestServer, id: &str) -> Vec<String> {
    let rows = server.database().await.audit("sync.update").await;
    rows.into_iter()
        .filter(|r| r.outcome == "denied" && r.target.as_deref() == Some(id))
        .filter_map(|r| r.detail)
        .collect()
}

#[tokio::test]
async fn a_school_member_writes_shared_sections_but_not_the_clb_advice() {
    let server = TestServer::start().await;
    let sara = server.clb().await;
    let tom = server.school_member("linde").await;
    let reg = sara.creates_registration().await;
    let id = &reg.id;
    let clb = sara.opens(&reg).await;
    let school = tom.opens(&reg).await;

    type_paragraph(&school, "goals", "Doel van de school");
    school.durable(WAIT).await.expect("a shared section is writable");
    eventually("the CLB sees the school's goal", || {
        paragraphs(clb.doc(), "goals") == ["Doel van de school"]
    })
    .await;
    let rows_before = log_rows(&server, id).await;

    type_paragraph(&school, "advice", "Advies van de school");
    let status = school.wait_for("denial", WAIT, |s| s.denied.is_some()).await;
    let closed = school.closed(WAIT).await.expect("closed");
    assert_eq!(closed.0, 1008, "policy violation: {closed:?}");
    assert_eq!(
        status.ok().and_then(|s| s.denied).as_deref(),
        Some("permission-denied")
    );

    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(paragraphs(clb.doc(), "advice").is_empty(), "peers never saw it");
    let fresh = sara.opens(&reg).await;
    assert!(
        paragraphs(fresh.doc(), "advice").is_empty(),
        "the document is unchanged"
    );
    assert_eq!(paragraphs(fresh.doc(), "goals"), ["Doel van de school"]);
    assert_eq!(log_rows(&server, id).await, rows_before, "the log is unchanged");
    let start = tokio::time::Instant::now();
    while denials(&server, id).await.is_empty() {
        assert!(start.elapsed() < WAIT, "the refusal is audited");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(denials(&server, id).await[0].contains("advice"));

    // The CLB writes advice.
    type_paragraph(&clb, "advice", "Advies van het CLB");
    clb.durable(WAIT).await.expect("the CLB writes advice");
}

#[tokio::test]
async fn a_client_id_cannot_be_borrowed_from_another_user() {
    let server = TestServer::start().await;
    let sara = server.clb().await;
    let tom = server.school_member("linde").await;
    let reg = sara.creates_registration().await;
    let id = &reg.id;
    let saras_client_id = Options {
        acks: true,
        client_id: Some(samen_crdt::ClientId::new(424_242)),
        ..Options::default()
    };
    let clb = sara.opens_with(&reg, saras_client_id.clone()).await;
    type_paragraph(&clb, "goals", "Van het CLB");
    clb.durable(WAIT).await.expect("durable");
    let rows_before = log_rows(&server, id).await;

    let impostor = tom.opens_with(&reg, saras_client_id).await;
    type_paragraph(&impostor, "goals", "Onder valse vlag");
    let closed = impostor.closed(WAIT).await.expect("closed");
    assert_eq!(closed.0, 1008);
    let fresh = sara.opens(&reg).await;
    assert_eq!(paragraphs(fresh.doc(), "goals"), ["Van het CLB"]);
    assert_eq!(log_rows(&server, id).await, rows_before);
    let start = tokio::time::Instant::now();
    while !denials(&server, id)
        .await
        .iter()
        .any(|d| d.contains("another user"))
    {
        assert!(start.elapsed() < WAIT, "the refusal is audited");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // With its own client ID the same user writes fine.
    let honest = tom.opens(&reg).await;
    type_paragraph(&honest, "goals", "Van de school");
    honest.durable(WAIT).await.expect("durable");
}

#[tokio::test]
async fn presence_shows_the_real_user_whatever_the_client_claims() {
    let server = TestServer::start().await;
    let sara = server.clb().await;
    let tom = server.school_member("linde").await;
    let reg = sara.creates_registration().await;
    let watcher = sara.opens(&reg).await;
    let school = tom.opens(&reg).await;
    let forged =
        json!({ "user": { "id": sara.id, "name": "Sara Claes (CLB)", "color": "#000" }, "cursor": null });
    school.set_awareness(&forged.to_string());
    let school_client = samen_crdt::ClientId::from(school.doc().client_id());
    let status = watcher
        .wait_for("school presence", WAIT, |s| {
            s.awareness.contains_key(&school_client)
        })
        .await
        .expect("presence");
    let state: serde_json::Value = serde_json::from_str(&status.awareness[&school_client].1).expect("json");
    assert_eq!(state["user"]["name"], "Tom Peeters (De Linde)");
    assert_eq!(state["user"]["role"], "school");
    assert_ne!(state["user"]["id"], sara.id.as_str());
    assert!(
        state["user"]["color"]
            .as_str()
            .is_some_and(|c| c.starts_with('#') && c != "#000")
    );
}

#[tokio::test]
async fn authors_tells_who_wrote_each_span() {
    let server = TestServer::start().await;
    let sara = server.clb().await;
    let tom = server.school_member("linde").await;
    let reg = sara.creates_registration().await;
    let clb = sara.opens(&reg).await;
    let school = tom.opens(&reg).await;

    type_paragraph(&clb, "goals", "Samen ");
    clb.durable(WAIT).await.expect("durable");
    eventually("school has the paragraph", || {
        paragraphs(school.doc(), "goals") == ["Samen "]
    })
    .await;
    // The school continues the CLB's sentence in the same paragraph.
    let goals = school.doc().get_or_insert_xml_fragment("goals");
    school.edit(|txn| {
        let Some(XmlOut::Element(p)) = goals.get(txn, 0) else {
            panic!("paragraph")
        };
        let Some(XmlOut::Text(text)) = p.get(txn, 0) else {
            panic!("text")
        };
        text.insert(txn, 6, "verder");
    });
    school.durable(WAIT).await.expect("durable");
    let _ = school.doc().transact();

    let (status, body) = tom.get(reg.path("/authors")).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["sections"]["goals"],
        json!([[{ "text": "Samen ", "author": sara.id }, { "text": "verder", "author": tom.id }]])
    );
    assert_eq!(body["authors"][&sara.id], "Sara Claes (CLB)");
    assert_eq!(body["authors"][&tom.id], "Tom Peeters (De Linde)");
    assert_eq!(body["sections"]["advice"], json!([]));

    let (_, content) = tom.get(reg.path("/content")).await;
    assert_eq!(content["sections"]["goals"], "Samen verder");
}

#[tokio::test]
async fn a_closed_registration_is_read_only_until_the_clb_reopens_it() {
    // The regular check is far away: closing and reopening ask for one at once.
    let server = TestServer::start_with(&["--access-check-secs", "3600"]).await;
    let sara = server.clb().await;
    let tom = server.school_member("linde").await;
    let reg = sara.creates_registration().await;
    let editor = tom.opens(&reg).await;
    type_paragraph(&editor, "goals", "Voor het afsluiten.");
    editor.durable(WAIT).await.expect("written while open");
    let (status, version) = sara
        .post(reg.path("/snapshots"), json!({ "name": "Voor het afsluiten" }))
        .await;
    assert_eq!(status, 201, "{version}");
    let version = version["id"].as_str().expect("version").to_owned();

    // Closed: the open document ends so that it reconnects under the new rule.
    let (status, body) = sara.patch(reg.path(""), json!({ "status": "closed" })).await;
    assert_eq!(status, 200, "{body}");
    let (code, reason) = editor.closed(WAIT).await.expect("the open document closes");
    assert_eq!(code, 4409, "{reason}");

    // Reopened by anyone while closed, it reads but takes no edit, the CLB's neither.
    let rows = log_rows(&server, &reg.id).await;
    for person in [&tom, &sara] {
        let reader = person.opens(&reg).await;
        assert_eq!(paragraphs(reader.doc(), "goals"), ["Voor het afsluiten."]);
        type_paragraph(&reader, "goals", "Na het afsluiten.");
        let (code, _) = reader.closed(WAIT).await.expect("the edit is refused");
        assert_eq!(code, 1008, "{person}");
    }
    assert_eq!(log_rows(&server, &reg.id).await, rows, "nothing stored");
    let (status, body) = sara
        .post(reg.path(&format!("/snapshots/{version}/restore")), None)
        .await;
    assert_eq!(status, 409, "no restore into a closed registration: {body}");

    // Reopened: a reader open meanwhile is ended again, and writes after reconnecting.
    let reader = tom.opens(&reg).await;
    let (status, _) = sara.patch(reg.path(""), json!({ "status": "open" })).await;
    assert_eq!(status, 200);
    let (code, _) = reader.closed(WAIT).await.expect("the read-only document closes");
    assert_eq!(code, 4409);
    let editor = tom.opens(&reg).await;
    type_paragraph(&editor, "goals", "Weer open.");
    editor.durable(WAIT).await.expect("written once reopened");
    assert_eq!(
        paragraphs(editor.doc(), "goals"),
        ["Voor het afsluiten.", "Weer open."]
    );
}

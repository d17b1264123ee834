//! "What changed since my last visit" (issue 21) over a real server: leaving a registration
//! records what one saw; the list marks what others changed since (text, named versions,
//! documents) and what is new; the registration gives the diff from that visit to now,
//! with authors; nobody else's visits, and nothing for someone who may not read it.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{Person, Reg, TestServer, WAIT, type_paragraph};

/// `who`'s since-visit answer for `reg`, once it has a visit newer than `after` (visits
/// are recorded a moment after the last connection closes).
async fn since_visit(who: &Person<'_>, reg: &Reg, after: i64) -> Value {
    let until = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (status, body) = who.get(reg.path("/since-visit")).await;
        assert_eq!(status, 200, "{body}");
        if body["seen_at"].as_i64().is_some_and(|at| at > after) || tokio::time::Instant::now() > until {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What the school's list says of `reg` for `who` since their last visit.
async fn marked(who: &Person<'_>, reg: &Reg) -> Value {
    let (status, body) = who.get("/api/schools/100001/registrations").await;
    assert_eq!(status, 200, "{body}");
    body["since_visit"][reg.id.as_str()].clone()
}

#[tokio::test]
async fn leaving_records_the_visit_and_the_list_and_the_diff_show_what_others_changed_since() {
    let server = TestServer::start().await;
    let sara = server.clb().await;
    let tom = server.school_member("linde").await;
    let nadia = server.school_member("anker").await;
    let reg = sara.creates_registration().await;
    let editor = sara.opens(&reg).await;
    type_paragraph(&editor, "goals", "Rust in de klas");
    editor.durable(WAIT).await.expect("stored");

    // Never opened: nothing to compare with.
    let (status, body) = tom.get(reg.path("/since-visit")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["seen_at"], Value::Null, "{body}");
    assert_eq!(body["sections"], json!({}));

    // Tom opens it, sees the goal, and leaves: his visit is what he saw.
    let visit = tom.opens(&reg).await;
    visit.durable(WAIT).await.expect("synced");
    visit.close().await;
    let body = since_visit(&tom, &reg, 0).await;
    let seen = body["seen_at"].as_i64().expect("a visit");
    assert_eq!(body["stats"]["goals"]["added"], 0, "nothing since: {body}");
    assert!(marked(&tom, &reg).await.is_null(), "nothing to mark yet");

    // Then the CLB writes advice, names a version and adds a document.
    type_paragraph(&editor, "advice", "Werk met een vaste dagstructuur");
    editor.durable(WAIT).await.expect("stored");
    let (status, _) = sara
        .post(reg.path("/snapshots"), json!({ "name": "Na het overleg" }))
        .await;
    assert_eq!(status, 201);
    let (status, _) = crate::files::upload(
        &sara,
        &reg.path("/files"),
        "Dagstructuur.txt",
        "text/plain",
        b"Een schema.\n".to_vec(),
    )
    .await;
    assert_eq!(status, 201);

    // The list marks it for Tom: the text, one version, one document.
    let mark = marked(&tom, &reg).await;
    assert_eq!(mark["seen_at"], seen, "{mark}");
    assert_eq!(mark["text"], true, "{mark}");
    assert_eq!(mark["versions"], 1, "{mark}");
    assert_eq!(mark["documents"], 1, "{mark}");
    // The list of schools counts it for De Linde.
    let (status, schools) = tom.get("/api/schools").await;
    assert_eq!(status, 200, "{schools}");
    let linde = schools["schools"]
        .as_array()
        .and_then(|all| all.iter().find(|s| s["number"] == "100001"))
        .expect("De Linde");
    assert_eq!(linde["figures"]["changed_since_visit"], 1, "{linde}");
    // Not for Sara: she never left it since she wrote (her own changes are no news).
    assert!(marked(&sara, &reg).await["text"] != true);

    // The diff since his visit: the advice, written by Sara; the goal unchanged.
    let body = since_visit(&tom, &reg, 0).await;
    assert_eq!(body["seen_at"], seen);
    assert_eq!(body["stats"]["advice"]["added"], 31, "{body}");
    assert_eq!(body["stats"]["goals"]["added"], 0, "{body}");
    let line = &body["sections"]["advice"][0];
    assert_eq!(line["change"], "added", "{body}");
    assert_eq!(line["spans"][0]["author"], sara.id.as_str(), "{body}");
    assert_eq!(
        body["authors"][sara.id.as_str()]["name"],
        "Sara Claes (CLB)",
        "{body}"
    );

    // Opening it again and leaving clears the marks.
    let again = tom.opens(&reg).await;
    again.durable(WAIT).await.expect("synced");
    again.close().await;
    let body = since_visit(&tom, &reg, seen).await;
    assert_eq!(body["stats"]["advice"]["added"], 0, "{body}");
    assert!(marked(&tom, &reg).await.is_null());
    let (_, schools) = tom.get("/api/schools").await;
    assert!(
        schools["schools"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|s| s["figures"]["changed_since_visit"] == 0),
        "{schools}"
    );

    // A registration made after his first visit is new to him until he opens it.
    let fresh = sara.creates_registration().await;
    let mark = marked(&tom, &fresh).await;
    assert_eq!(mark["seen_at"], Value::Null, "{mark}");
    assert_eq!(mark["text"], false, "{mark}");

    // Another school's member cannot ask.
    let (status, _) = nadia.get(reg.path("/since-visit")).await;
    assert_eq!(status, 404);
}

/// The meetings of De Linde that `who`'s list marks as changed since their visit.
async fn changed(who: &Person<'_>) -> Value {
    let (status, body) = who.get("/api/schools/100001/meetings").await;
    assert_eq!(status, 200, "{body}");
    body["changed_since_visit"].clone()
}

#[tokio::test]
async fn a_meeting_changed_since_ones_visit_is_marked_in_its_list() {
    let server = TestServer::start().await;
    let sara = server.clb().await;
    let tom = server.school_member("linde").await;
    let (status, planned) = tom
        .post("/api/schools/100001/meetings", json!({ "held_on": "2026-10-15" }))
        .await;
    assert_eq!(status, 201, "{planned}");
    let doc = Reg {
        id: planned["meeting"]["id"].as_str().expect("id").to_owned(),
    };
    let visit = tom.opens(&doc).await;
    visit.durable(WAIT).await.expect("synced");
    visit.close().await;
    // Wait until the visit is kept, then let the CLB write.
    let until = tokio::time::Instant::now() + Duration::from_secs(15);
    let editor = sara.opens(&doc).await;
    loop {
        type_paragraph(&editor, "work_plan", "Begrijpend lezen");
        editor.durable(WAIT).await.expect("stored");
        if changed(&tom).await == json!([doc.id]) || tokio::time::Instant::now() > until {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(changed(&tom).await, json!([doc.id]));
    assert_eq!(changed(&sara).await, json!([]), "she never left it");
}

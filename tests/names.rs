//! The name guard (issue 19) over a real server: a name typed into a document reaches its
//! editors as a finding over their WebSockets, a school's list shows the document, "dit is
//! geen naam" dismisses a finding for everyone, and changing the text clears it.

use serde_json::{Value, json};
use yrs::types::xml::XmlFragment;

use crate::support::{WAIT, type_paragraph};

/// The names in a findings message (`{"findings": [...]}`), in order.
fn names_in(json: &str) -> Vec<String> {
    let value: Value = serde_json::from_str(json).expect("findings are JSON");
    value["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["name"].as_str().unwrap_or("").to_owned())
        .collect()
}

pub(crate) async fn sees_names(client: &samen_client::Client, who: &str, expected: &[&str]) -> Value {
    let status = client
        .wait_for("the findings", WAIT, |s| {
            s.names.as_deref().is_some_and(|json| names_in(json) == expected)
        })
        .await
        .unwrap_or_else(|e| {
            let seen = client.status().names;
            panic!("{who} sees the names {expected:?}: {e}; the last findings: {seen:?}")
        });
    serde_json::from_str(status.names.as_deref().unwrap_or("null")).expect("json")
}

#[tokio::test]
async fn a_name_typed_reaches_every_editor_and_a_dismissal_or_an_edit_clears_it() {
    let server = crate::support::TestServer::start().await;
    let sara = server.clb().await;
    let tom = server.school_member("linde").await;
    let nadia = server.school_member("anker").await;
    let reg = sara.creates_registration().await;
    let sara_doc = sara.opens(&reg).await;
    let tom_doc = tom.opens(&reg).await;

    // Nothing written, nothing found: the first message says so.
    sees_names(&tom_doc, "Tom", &[]).await;

    type_paragraph(
        &sara_doc,
        "summary",
        "Lotte uit 5B wordt gepest; juf Roos van Basisschool De Linde volgt het op.",
    );
    sara_doc.durable(WAIT).await.expect("stored");
    let seen = sees_names(&tom_doc, "Tom", &["Lotte", "Roos"]).await;
    let roos = &seen["findings"][1];
    assert_eq!(roos["place"], "summary");
    assert_eq!(roos["phrase"], "juf Roos");
    assert_eq!(roos["kind"], "address");
    assert_eq!(roos["replacements"][0], "de leerkracht");
    sees_names(&sara_doc, "Sara", &["Lotte", "Roos"]).await;

    // The same over HTTP, and the school's list shows the registration.
    let (status, names) = tom.get(format!("/api/documents/{}/names", reg.id)).await;
    assert_eq!(status, 200, "{names}");
    assert_eq!(names["findings"].as_array().map(Vec::len), Some(2), "{names}");
    let (status, list) = tom.get("/api/schools/100001/names").await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(
        list["documents"],
        json!([{
            "kind": "registration",
            "id": reg.id,
            "title": "Testregistratie",
            "open": 2,
            "in_comments": 0,
            "checked_at": list["documents"][0]["checked_at"],
        }])
    );

    // Another school's member sees none of it.
    let (status, _) = nadia.get(format!("/api/documents/{}/names", reg.id)).await;
    assert_eq!(status, 404);
    let (status, _) = nadia
        .post(
            format!("/api/documents/{}/names/dismiss", reg.id),
            json!({ "name": "Roos" }),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = nadia.get("/api/schools/100001/names").await;
    assert_eq!(status, 404);

    // Bad dismissals change nothing.
    for (body, code) in [
        (json!({ "name": "" }), 400),
        (json!({ "name": "x".repeat(121) }), 400),
        (json!({ "name": 7 }), 400),
        (json!({ "name": "Niemand" }), 409),
    ] {
        let (status, answer) = tom
            .post(format!("/api/documents/{}/names/dismiss", reg.id), body.clone())
            .await;
        assert_eq!(status, code, "{body}: {answer}");
    }

    // "Dit is geen naam": gone for everyone in the room, kept with who said so.
    let (status, left) = tom
        .post(
            format!("/api/documents/{}/names/dismiss", reg.id),
            json!({ "name": "roos" }),
        )
        .await;
    assert_eq!(status, 200, "{left}");
    assert_eq!(left["findings"][0]["name"], "Lotte");
    assert_eq!(left["dismissals"][0]["name"], "roos");
    assert_eq!(left["dismissals"][0]["dismissed_by"]["id"], json!(tom.id));
    sees_names(&sara_doc, "Sara", &["Lotte"]).await;
    let (status, _) = tom
        .post(
            format!("/api/documents/{}/names/dismiss", reg.id),
            json!({ "name": "Roos" }),
        )
        .await;
    assert_eq!(status, 409, "dismissed already: no finding any more");

    // Sara writes it without the name: nothing left, and the school's list is empty.
    let summary = sara_doc.doc().get_or_insert_xml_fragment("summary");
    sara_doc.edit(|txn| {
        let n = summary.len(txn);
        summary.remove_range(txn, 0, n);
    });
    type_paragraph(&sara_doc, "summary", "Een leerling uit 5B wordt gepest.");
    sara_doc.durable(WAIT).await.expect("stored");
    sees_names(&tom_doc, "Tom", &[]).await;
    // The count is kept before the findings are sent: the list is empty already.
    let (_, list) = tom.get("/api/schools/100001/names").await;
    assert_eq!(
        list["documents"],
        json!([]),
        "the registration left the school's list"
    );
}

#[tokio::test]
async fn names_in_a_meeting_reach_the_partners_at_its_table() {
    let server = crate::support::TestServer::start().await;
    let sara = server.clb().await;
    let tom = server.school_member("linde").await;
    let lotte = server.lsc().await;
    let (status, meeting) = tom
        .post(
            "/api/schools/100001/meetings",
            json!({ "held_on": "2026-10-08", "participants": [sara.id, lotte.id] }),
        )
        .await;
    assert_eq!(status, 201, "{meeting}");
    let id = meeting["meeting"]["id"].as_str().expect("id").to_owned();
    let reg = crate::support::Reg { id: id.clone() };
    let tom_doc = tom.opens(&reg).await;
    let lsc_doc = lotte.opens(&reg).await;
    type_paragraph(
        &tom_doc,
        "work_plan",
        "Meester Tom en mevrouw Claes starten met Rots en Water.",
    );
    tom_doc.durable(WAIT).await.expect("stored");
    let seen = sees_names(&lsc_doc, "the LSC", &["Tom", "Claes"]).await;
    assert_eq!(seen["findings"][0]["place"], "work_plan");
    let (status, list) = lotte.get("/api/schools/100001/names").await;
    assert_eq!(status, 200, "{list}");
    assert!(
        list["documents"]
            .as_array()
            .is_some_and(|d| d.iter().any(|d| d["id"] == json!(id) && d["kind"] == "meeting")),
        "{list}"
    );
}

#[tokio::test]
async fn names_in_stored_comments_count_for_their_registration_until_edited_or_dismissed() {
    let server = crate::support::TestServer::start().await;
    let sara = server.clb().await;
    let tom = server.school_member("linde").await;
    let nadia = server.school_member("anker").await;
    let reg = sara.creates_registration().await;
    let base = reg.path("/comments");
    let (status, body) = tom
        .post(&base, json!({ "body": "Gesprek gehad met de mama van Lotte." }))
        .await;
    assert_eq!(status, 201, "{body}");
    let thread = body["thread"]["id"].as_str().expect("thread").to_owned();
    let comment = body["thread"]["comments"][0]["id"]
        .as_str()
        .expect("comment")
        .to_owned();
    let (status, body) = sara
        .post(
            format!("{base}/{thread}/replies"),
            json!({ "body": "Juf Roos volgt het op." }),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    // The registration's names include its comments'; the school's list counts them.
    let names = format!("/api/documents/{}/names", reg.id);
    let (status, found) = sara.get(&names).await;
    assert_eq!(status, 200, "{found}");
    let in_comments: Vec<(String, String)> = found["comments"]
        .as_array()
        .expect("comments")
        .iter()
        .flat_map(|c| {
            let id = c["comment"].as_str().unwrap_or("").to_owned();
            c["findings"]
                .as_array()
                .into_iter()
                .flatten()
                .map(move |f| (id.clone(), f["name"].as_str().unwrap_or("").to_owned()))
        })
        .collect();
    assert_eq!(in_comments.len(), 2, "{found}");
    assert_eq!(in_comments[0], (comment.clone(), "Lotte".to_owned()));
    assert_eq!(in_comments[1].1, "Roos");
    assert_eq!(found["comments"][0]["findings"][0]["place"], "comment");
    let listed = |list: &Value| {
        list["documents"]
            .as_array()
            .expect("documents")
            .iter()
            .find(|d| d["id"] == reg.id.as_str())
            .cloned()
    };
    let (_, list) = tom.get("/api/schools/100001/names").await;
    let row = listed(&list).expect("the registration is listed for its comments");
    assert_eq!(
        (row["open"].as_i64(), row["in_comments"].as_i64()),
        (Some(2), Some(2)),
        "{row}"
    );

    // Edited without the name, dismissed as no name: nothing is left, and it leaves the list.
    let (status, _) = tom
        .patch(
            format!("{base}/{thread}/comments/{comment}"),
            json!({ "body": "Gesprek gehad met de ouders." }),
        )
        .await;
    assert_eq!(status, 200);
    let (status, left) = tom
        .post(format!("{names}/dismiss"), json!({ "name": "Roos" }))
        .await;
    assert_eq!(status, 200, "{left}");
    assert_eq!(left["comments"], json!([]), "{left}");
    let (_, list) = tom.get("/api/schools/100001/names").await;
    assert!(listed(&list).is_none(), "{list}");

    // Another school's member sees none of it.
    let (status, _) = nadia.get(&names).await;
    assert_eq!(status, 404);
    let (_, theirs) = nadia.get("/api/schools/100002/names").await;
    assert!(listed(&theirs).is_none());
}

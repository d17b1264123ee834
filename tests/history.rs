//! Versions: named and automatic snapshots, the view of a version, the diff with authors
//! (from the server's records), restore as an attributed forward edit, and who may do what.

use base64::Engine;
use serde_json::{Value, json};
use yrs::updates::decoder::Decode;
use yrs::{GetString, ReadTxn, Text, Transact, XmlFragment, XmlOut};

use crate::support::{ANKER, As, CLB, LINDE, TestServer, WAIT, eventually, paragraphs, type_paragraph};

/// The spans of a diff line as `(text, change, author, removed_by)`.
fn spans(line: &Value) -> Vec<(String, String, Value, Value)> {
    line["spans"]
        .as_array()
        .expect("spans")
        .iter()
        .map(|s| {
            (
                s["text"].as_str().expect("text").to_owned(),
                s["change"].as_str().expect("change").to_owned(),
                s["author"].clone(),
                s["removed_by"].clone(),
            )
        })
        .collect()
}

fn span(text: &str, change: &str, author: &str, removed_by: Option<&str>) -> (String, String, Value, Value) {
    (
        text.into(),
        change.into(),
        json!(author),
        removed_by.map_or(Value::Null, |r| json!(r)),
    )
}

#[tokio::test]
async fn a_named_version_its_view_the_diff_with_authors_and_an_attributed_restore() {
    let server = TestServer::start().await;
    let reg = server.new_registration().await;
    let clb = server.clb_token.clone();
    let linde = server.token_for(LINDE).await;
    let anker = server.token_for(ANKER).await;
    let clb_id = server.user_id(&clb).await;
    let linde_id = server.user_id(&linde).await;
    let base = format!("/api/registrations/{reg}");

    // No versions yet: an empty list.
    let (status, body) = server
        .call("GET", &format!("{base}/snapshots"), As::Token(&linde), None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["snapshots"], json!([]));

    let sara = server.client_as(&reg, &clb).await;
    type_paragraph(&sara, "goals", "Doel: rust in de klas");
    sara.durable(WAIT).await.expect("durable");

    // A school member names the version after the meeting.
    let (status, named) = server
        .call(
            "POST",
            &format!("{base}/snapshots"),
            As::Token(&linde),
            Some(json!({ "name": "  Na schoolbeeldoverleg 1 " })),
        )
        .await;
    assert_eq!(status, 201, "{named}");
    assert_eq!(named["kind"], "named");
    assert_eq!(named["name"], "Na schoolbeeldoverleg 1");
    assert_eq!(named["created_by"]["id"], linde_id.as_str());
    assert_eq!(named["summary"]["sections"]["goals"]["added"], 21);
    assert_eq!(named["summary"]["authors"][0]["id"], clb_id.as_str());
    let sid = named["id"].as_str().expect("id").to_owned();

    // Then the school replaces "rust" by "veiligheid" and adds a goal; the CLB advises.
    let tom = server.client_as(&reg, &linde).await;
    eventually("the school sees the goal", || {
        paragraphs(tom.doc(), "goals").len() == 1
    })
    .await;
    {
        let goals = tom.doc().get_or_insert_xml_fragment("goals");
        tom.edit(|txn| {
            let Some(XmlOut::Element(p)) = goals.get(txn, 0) else {
                panic!("paragraph")
            };
            let Some(XmlOut::Text(t)) = p.get(txn, 0) else {
                panic!("text")
            };
            t.remove_range(txn, 6, 4);
            t.insert(txn, 6, "veiligheid");
        });
    }
    type_paragraph(&tom, "goals", "Nieuw doel van de school");
    tom.durable(WAIT).await.expect("durable");
    type_paragraph(&sara, "advice", "Advies erbij");
    sara.durable(WAIT).await.expect("durable");

    // The diff since the named version: exactly what was added and removed, by whom.
    let (status, diff) = server
        .call("GET", &format!("{base}/diff?from={sid}"), As::Token(&linde), None)
        .await;
    assert_eq!(status, 200, "{diff}");
    assert_eq!(diff["from"]["id"], sid.as_str());
    assert_eq!(diff["to"], Value::Null);
    let goals = diff["sections"]["goals"].as_array().expect("goals");
    assert_eq!(goals.len(), 2, "{goals:?}");
    assert_eq!(goals[0]["change"], "same");
    assert_eq!(
        spans(&goals[0]),
        vec![
            span("Doel: ", "same", &clb_id, None),
            span("rust", "removed", &clb_id, Some(&linde_id)),
            span("veiligheid", "added", &linde_id, None),
            span(" in de klas", "same", &clb_id, None),
        ]
    );
    assert_eq!(goals[1]["change"], "added");
    assert_eq!(
        spans(&goals[1]),
        vec![span("Nieuw doel van de school", "added", &linde_id, None)]
    );
    assert_eq!(
        spans(&diff["sections"]["advice"][0]),
        vec![span("Advies erbij", "added", &clb_id, None)]
    );
    assert_eq!(diff["stats"]["goals"], json!({ "added": 34, "removed": 4 }));
    assert_eq!(diff["stats"]["summary"], json!({ "added": 0, "removed": 0 }));
    assert_eq!(diff["sections"].as_object().expect("sections").len(), 6);
    assert_eq!(diff["authors"][&linde_id]["name"], "Tom Peeters (De Linde)");
    assert!(
        diff["authors"][&clb_id]["color"]
            .as_str()
            .expect("color")
            .starts_with('#')
    );
    assert_ne!(
        diff["authors"][&clb_id]["color"], diff["authors"][&linde_id]["color"],
        "two authors, two colours"
    );

    // The version reads as it stood, as text and as a document the editor can render.
    let (status, version) = server
        .call("GET", &format!("{base}/snapshots/{sid}"), As::Token(&linde), None)
        .await;
    assert_eq!(status, 200, "{version}");
    assert_eq!(version["sections"]["goals"], "Doel: rust in de klas");
    assert_eq!(version["sections"]["advice"], "");
    let update = base64::engine::general_purpose::STANDARD
        .decode(version["update"].as_str().expect("update"))
        .expect("base64");
    let doc = samen_crdt::new_doc();
    doc.transact_mut()
        .apply_update(yrs::Update::decode_v1(&update).expect("decode"))
        .expect("apply");
    assert_eq!(paragraphs(&doc, "goals"), ["Doel: rust in de klas"]);

    // Restore: the school may not (403), another school cannot see it (404).
    let restore = format!("{base}/snapshots/{sid}/restore");
    let (status, _) = server.call("POST", &restore, As::Token(&linde), None).await;
    assert_eq!(status, 403);
    let (status, _) = server.call("POST", &restore, As::Token(&anker), None).await;
    assert_eq!(status, 404);
    assert_eq!(paragraphs(tom.doc(), "goals").len(), 2, "nothing changed");

    // The CLB restores; the school's open document follows live.
    let (status, body) = server.call("POST", &restore, As::Token(&clb), None).await;
    assert_eq!(status, 200, "{body}");
    let record = &body["snapshot"];
    assert_eq!(record["kind"], "restore");
    assert_eq!(record["restored_from"], sid.as_str());
    assert_eq!(record["created_by"]["id"], clb_id.as_str());
    eventually("the school sees the restored goals", || {
        paragraphs(tom.doc(), "goals") == ["Doel: rust in de klas"]
    })
    .await;
    eventually("and the advice gone", || {
        paragraphs(tom.doc(), "advice").is_empty()
    })
    .await;
    let (_, content) = server
        .call("GET", &format!("{base}/content"), As::Token(&linde), None)
        .await;
    assert_eq!(content["sections"]["goals"], "Doel: rust in de klas");

    // Attributed to the restorer: "rust" was deleted, so it is inserted again, with a new
    // client ID of the restoring user; the text around it kept its original item (a span of
    // its own, as spans follow client IDs).
    let (_, authors) = server
        .call("GET", &format!("{base}/authors"), As::Token(&linde), None)
        .await;
    let line: Vec<(String, String)> = authors["sections"]["goals"][0]
        .as_array()
        .expect("spans")
        .iter()
        .map(|s| {
            (
                s["text"].as_str().expect("text").to_owned(),
                s["author"].as_str().expect("author").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        line,
        vec![
            ("Doel: ".to_owned(), clb_id.clone()),
            ("rust".to_owned(), clb_id.clone()),
            (" in de klas".to_owned(), clb_id.clone()),
        ],
    );

    // History keeps everything: the state before the restore and the restore itself.
    let (_, list) = server
        .call("GET", &format!("{base}/snapshots"), As::Token(&linde), None)
        .await;
    let kinds: Vec<&str> = list["snapshots"]
        .as_array()
        .expect("list")
        .iter()
        .map(|s| s["kind"].as_str().expect("kind"))
        .collect();
    assert_eq!(kinds, ["restore", "auto", "named"]);
    let before_restore = list["snapshots"][1]["id"].as_str().expect("id").to_owned();
    let (_, version) = server
        .call(
            "GET",
            &format!("{base}/snapshots/{before_restore}"),
            As::Token(&linde),
            None,
        )
        .await;
    assert_eq!(
        version["sections"]["goals"],
        "Doel: veiligheid in de klas\nNieuw doel van de school"
    );
    // The diff between two versions: the restore removed the school's additions, by Sara.
    let (_, diff) = server
        .call(
            "GET",
            &format!(
                "{base}/diff?from={before_restore}&to={}",
                record["id"].as_str().expect("id")
            ),
            As::Token(&linde),
            None,
        )
        .await;
    assert_eq!(
        spans(&diff["sections"]["goals"][1]),
        vec![span(
            "Nieuw doel van de school",
            "removed",
            &linde_id,
            Some(&clb_id)
        )]
    );
    assert_eq!(diff["to"]["kind"], "restore");

    // Restoring the same version again changes nothing in the document.
    let before = tom.doc().transact().state_vector();
    let (status, _) = server.call("POST", &restore, As::Token(&clb), None).await;
    assert_eq!(status, 200);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(tom.doc().transact().state_vector(), before);

    // The audit log has the restore and the refused attempt.
    let pool = server.database().await;
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT action, outcome FROM audit_log WHERE action LIKE 'snapshot.%' ORDER BY id")
            .fetch_all(&pool)
            .await
            .expect("audit");
    assert!(
        rows.contains(&("snapshot.restore".into(), "denied".into())),
        "{rows:?}"
    );
    assert!(
        rows.contains(&("snapshot.restore".into(), "ok".into())),
        "{rows:?}"
    );
    assert!(
        rows.contains(&("snapshot.create".into(), "ok".into())),
        "{rows:?}"
    );
}

#[tokio::test]
async fn bad_requests_change_nothing_and_other_schools_see_nothing() {
    let server = TestServer::start().await;
    let reg = server.new_registration().await;
    let linde = server.token_for(LINDE).await;
    let anker = server.token_for(ANKER).await;
    let base = format!("/api/registrations/{reg}");
    let snapshots = format!("{base}/snapshots");

    for (body, why) in [
        (json!({ "name": "   " }), "empty"),
        (json!({ "name": "x".repeat(121) }), "too long"),
        (json!({ "name": "a\u{7}b" }), "control character"),
        (json!({}), "no name"),
        (json!({ "name": 12 }), "not a string"),
    ] {
        let (status, err) = server
            .call("POST", &snapshots, As::Token(&linde), Some(body))
            .await;
        assert_eq!(status, 400, "{why}: {err}");
        assert!(
            err["error"]["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{why}"
        );
    }
    let (_, list) = server.call("GET", &snapshots, As::Token(&linde), None).await;
    assert_eq!(list["snapshots"], json!([]), "nothing was kept");

    let (status, named) = server
        .call(
            "POST",
            &snapshots,
            As::Token(&linde),
            Some(json!({ "name": "Versie" })),
        )
        .await;
    assert_eq!(status, 201);
    let sid = named["id"].as_str().expect("id");

    // Another school: 404 for everything, as if the registration did not exist.
    for (method, path) in [
        ("GET", snapshots.clone()),
        ("POST", snapshots.clone()),
        ("GET", format!("{snapshots}/{sid}")),
        ("GET", format!("{base}/diff?from={sid}")),
        ("POST", format!("{snapshots}/{sid}/restore")),
    ] {
        let body = (method == "POST").then(|| json!({ "name": "x" }));
        let (status, _) = server.call(method, &path, As::Token(&anker), body).await;
        assert_eq!(status, 404, "{method} {path}");
    }
    // No login: 401.
    let (status, _) = server.call("GET", &snapshots, As::Anonymous, None).await;
    assert_eq!(status, 401);
    // A version id of another registration, or none at all.
    let other = server.new_registration().await;
    let (status, _) = server
        .call(
            "GET",
            &format!("/api/registrations/{other}/snapshots/{sid}"),
            As::Token(&linde),
            None,
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = server
        .call(
            "GET",
            &format!("/api/registrations/{other}/diff?from={sid}"),
            As::Token(&linde),
            None,
        )
        .await;
    assert_eq!(status, 404);
    let (status, err) = server
        .call("GET", &format!("{base}/diff"), As::Token(&linde), None)
        .await;
    assert_eq!(status, 400, "{err}");
    let (status, _) = server
        .call(
            "GET",
            &format!("{base}/diff?from={sid}&to=nonsense"),
            As::Token(&linde),
            None,
        )
        .await;
    assert_eq!(status, 404);
    // A session without a matching Origin cannot name a version.
    let session = server.login(CLB).await;
    let response = reqwest::Client::new()
        .post(server.url(&snapshots))
        .header("cookie", &session.cookie)
        .header("origin", "https://evil.example")
        .json(&json!({ "name": "x" }))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 403);
    let (_, list) = server.call("GET", &snapshots, As::Token(&linde), None).await;
    assert_eq!(list["snapshots"].as_array().expect("list").len(), 1);
}

#[tokio::test]
async fn a_version_is_kept_automatically_when_the_room_goes_quiet_and_when_it_closes() {
    let server = TestServer::start_with(&["--snapshot-quiet-secs", "1", "--room-idle-secs", "1"]).await;
    let reg = server.new_registration().await;
    let clb = server.clb_token.clone();
    let snapshots = format!("/api/registrations/{reg}/snapshots");
    let list = || async {
        let (_, body) = server.call("GET", &snapshots, As::Token(&clb), None).await;
        body["snapshots"].as_array().expect("list").clone()
    };

    let sara = server.client_as(&reg, &clb).await;
    type_paragraph(&sara, "goals", "Eerste doel");
    sara.durable(WAIT).await.expect("durable");
    let start = tokio::time::Instant::now();
    while list().await.is_empty() {
        assert!(
            start.elapsed() < WAIT,
            "no automatic version after a quiet second"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let versions = list().await;
    assert_eq!(versions.len(), 1);
    assert_eq!(versions[0]["kind"], "auto");
    assert_eq!(versions[0]["created_by"], Value::Null);
    assert_eq!(versions[0]["summary"]["sections"]["goals"]["added"], 11);

    // Quiet without edits keeps nothing new.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_eq!(list().await.len(), 1);

    // An edit, then everyone leaves: the room closes and keeps the version.
    type_paragraph(&sara, "goals", "Tweede doel");
    sara.durable(WAIT).await.expect("durable");
    sara.close().await;
    let start = tokio::time::Instant::now();
    while list().await.len() < 2 {
        assert!(start.elapsed() < WAIT, "no version when the room closed");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let versions = list().await;
    assert_eq!(versions[0]["summary"]["sections"]["goals"]["added"], 11);
    let (_, version) = server
        .call(
            "GET",
            &format!("{snapshots}/{}", versions[0]["id"].as_str().expect("id")),
            As::Token(&clb),
            None,
        )
        .await;
    assert_eq!(version["sections"]["goals"], "Eerste doel\nTweede doel");
}

#[tokio::test]
async fn versions_survive_a_restart_and_compaction() {
    let mut server = TestServer::start_with(&["--compact-after", "5"]).await;
    let reg = server.new_registration().await;
    let clb = server.clb_token.clone();
    let base = format!("/api/registrations/{reg}");
    let sara = server.client_as(&reg, &clb).await;
    type_paragraph(&sara, "goals", "Begin");
    sara.durable(WAIT).await.expect("durable");
    let (_, named) = server
        .call(
            "POST",
            &format!("{base}/snapshots"),
            As::Token(&clb),
            Some(json!({ "name": "Begin" })),
        )
        .await;
    let sid = named["id"].as_str().expect("id").to_owned();
    // Enough edits to compact the log several times, with deletions among them.
    let goals = sara.doc().get_or_insert_xml_fragment("goals");
    for i in 0..20 {
        sara.edit(|txn| {
            let Some(XmlOut::Element(p)) = goals.get(txn, 0) else {
                panic!("paragraph")
            };
            let Some(XmlOut::Text(t)) = p.get(txn, 0) else {
                panic!("text")
            };
            if i % 4 == 3 {
                t.remove_range(txn, 0, 1);
            } else {
                let len = t.len(txn);
                t.insert(txn, len, "!");
            }
        });
    }
    sara.durable(WAIT).await.expect("durable");
    let now_text = {
        let txn = sara.doc().transact();
        goals.get_string(&txn)
    };
    sara.close().await;
    server.restart().await;

    let (status, version) = server
        .call("GET", &format!("{base}/snapshots/{sid}"), As::Token(&clb), None)
        .await;
    assert_eq!(status, 200, "{version}");
    assert_eq!(version["sections"]["goals"], "Begin");
    let (status, diff) = server
        .call("GET", &format!("{base}/diff?from={sid}"), As::Token(&clb), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        diff["stats"]["goals"],
        json!({ "added": 15, "removed": 5 }),
        "{now_text}"
    );
    // Who removed "Begin"'s letters is still known after compaction.
    let removed: Vec<&Value> = diff["sections"]["goals"][0]["spans"]
        .as_array()
        .expect("spans")
        .iter()
        .filter(|s| s["change"] == "removed")
        .collect();
    assert!(!removed.is_empty());
    assert!(
        removed
            .iter()
            .all(|s| s["removed_by"] == diff["from"]["created_by"]["id"])
    );
}

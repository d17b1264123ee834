//! Versions: named and automatic snapshots, the view of a version, the diff with authors
//! (from the server's records), restore as an attributed forward edit, and who may do what.

use base64::Engine;
use serde_json::{Value, json};
use yrs::updates::decoder::Decode;
use yrs::{GetString, ReadTxn, Text, Transact, XmlFragment, XmlOut};

use crate::support::{As, TestServer, WAIT, eventually, paragraphs, type_paragraph};

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
    let sara = server.clb().await;
    let tom = server.school_member("linde").await;
    let nadia = server.school_member("anker").await;
    let reg = sara.creates_registration().await;
    let base = reg.path("");

    // No versions yet: an empty list.
    let (status, body) = tom.get(format!("{base}/snapshots")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["snapshots"], json!([]));

    let sara_editor = sara.opens(&reg).await;
    type_paragraph(&sara_editor, "goals", "Doel: rust in de klas");
    sara_editor.durable(WAIT).await.expect("durable");

    // A school member names the version after the meeting.
    let (status, named) = tom
        .post(
            format!("{base}/snapshots"),
            json!({ "name": "  Na schoolbeeldoverleg 1 " }),
        )
        .await;
    assert_eq!(status, 201, "{named}");
    assert_eq!(named["kind"], "named");
    assert_eq!(named["name"], "Na schoolbeeldoverleg 1");
    assert_eq!(named["created_by"]["id"], tom.id.as_str());
    assert_eq!(named["summary"]["sections"]["goals"]["added"], 21);
    assert_eq!(named["summary"]["authors"][0]["id"], sara.id.as_str());
    let sid = named["id"].as_str().expect("id").to_owned();

    // Then the school replaces "rust" by "veiligheid" and adds a goal; the CLB advises.
    let tom_editor = tom.opens(&reg).await;
    eventually("the school sees the goal", || {
        paragraphs(tom_editor.doc(), "goals").len() == 1
    })
    .await;
    {
        let goals = tom_editor.doc().get_or_insert_xml_fragment("goals");
        tom_editor.edit(|txn| {
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
    type_paragraph(&tom_editor, "goals", "Nieuw doel van de school");
    tom_editor.durable(WAIT).await.expect("durable");
    type_paragraph(&sara_editor, "advice", "Advies erbij");
    sara_editor.durable(WAIT).await.expect("durable");

    // The diff since the named version: exactly what was added and removed, by whom.
    let (status, diff) = tom.get(format!("{base}/diff?from={sid}")).await;
    assert_eq!(status, 200, "{diff}");
    assert_eq!(diff["from"]["id"], sid.as_str());
    assert_eq!(diff["to"], Value::Null);
    let goals = diff["sections"]["goals"].as_array().expect("goals");
    assert_eq!(goals.len(), 2, "{goals:?}");
    assert_eq!(goals[0]["change"], "same");
    assert_eq!(
        spans(&goals[0]),
        vec![
            span("Doel: ", "same", &sara.id, None),
            span("rust", "removed", &sara.id, Some(&tom.id)),
            span("veiligheid", "added", &tom.id, None),
            span(" in de klas", "same", &sara.id, None),
        ]
    );
    assert_eq!(goals[1]["change"], "added");
    assert_eq!(
        spans(&goals[1]),
        vec![span("Nieuw doel van de school", "added", &tom.id, None)]
    );
    assert_eq!(
        spans(&diff["sections"]["advice"][0]),
        vec![span("Advies erbij", "added", &sara.id, None)]
    );
    assert_eq!(diff["stats"]["goals"], json!({ "added": 34, "removed": 4 }));
    assert_eq!(diff["stats"]["summary"], json!({ "added": 0, "removed": 0 }));
    assert_eq!(diff["sections"].as_object().expect("sections").len(), 6);
    assert_eq!(diff["authors"][&tom.id]["name"], "Tom Peeters (De Linde)");
    assert!(
        diff["authors"][&sara.id]["color"]
            .as_str()
            .expect("color")
            .starts_with('#')
    );
    assert_ne!(
        diff["authors"][&sara.id]["color"], diff["authors"][&tom.id]["color"],
        "two authors, two colours"
    );

    // The version reads as it stood, as text and as a document the editor can render.
    let (status, version) = tom.get(format!("{base}/snapshots/{sid}")).await;
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
    let (status, _) = tom.post(&restore, None).await;
    assert_eq!(status, 403);
    let (status, _) = nadia.post(&restore, None).await;
    assert_eq!(status, 404);
    assert_eq!(paragraphs(tom_editor.doc(), "goals").len(), 2, "nothing changed");

    // The CLB restores; the school's open document follows live.
    let (status, body) = sara.post(&restore, None).await;
    assert_eq!(status, 200, "{body}");
    let record = &body["snapshot"];
    assert_eq!(record["kind"], "restore");
    assert_eq!(record["restored_from"], sid.as_str());
    assert_eq!(record["created_by"]["id"], sara.id.as_str());
    eventually("the school sees the restored goals", || {
        paragraphs(tom_editor.doc(), "goals") == ["Doel: rust in de klas"]
    })
    .await;
    eventually("and the advice gone", || {
        paragraphs(tom_editor.doc(), "advice").is_empty()
    })
    .await;
    let (_, content) = tom.get(format!("{base}/content")).await;
    assert_eq!(content["sections"]["goals"], "Doel: rust in de klas");

    // Attributed to the restorer: "rust" was deleted, so it is inserted again, with a new
    // client ID of the restoring user; the text around it kept its original item (a span of
    // its own, as spans follow client IDs).
    let (_, authors) = tom.get(format!("{base}/authors")).await;
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
            ("Doel: ".to_owned(), sara.id.clone()),
            ("rust".to_owned(), sara.id.clone()),
            (" in de klas".to_owned(), sara.id.clone()),
        ],
    );

    // History keeps everything: the state before the restore and the restore itself.
    let (_, list) = tom.get(format!("{base}/snapshots")).await;
    let kinds: Vec<&str> = list["snapshots"]
        .as_array()
        .expect("list")
        .iter()
        .map(|s| s["kind"].as_str().expect("kind"))
        .collect();
    assert_eq!(kinds, ["restore", "auto", "named"]);
    let before_restore = list["snapshots"][1]["id"].as_str().expect("id").to_owned();
    let (_, version) = tom.get(format!("{base}/snapshots/{before_restore}")).await;
    assert_eq!(
        version["sections"]["goals"],
        "Doel: veiligheid in de klas\nNieuw doel van de school"
    );
    // The diff between two versions: the restore removed the school's additions, by Sara.
    let (_, diff) = tom
        .get(format!(
            "{base}/diff?from={before_restore}&to={}",
            record["id"].as_str().expect("id")
        ))
        .await;
    assert_eq!(
        spans(&diff["sections"]["goals"][1]),
        vec![span(
            "Nieuw doel van de school",
            "removed",
            &tom.id,
            Some(&sara.id)
        )]
    );
    assert_eq!(diff["to"]["kind"], "restore");

    // Restoring the same version again changes nothing in the document.
    let before = tom_editor.doc().transact().state_vector();
    let (status, _) = sara.post(&restore, None).await;
    assert_eq!(status, 200);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(tom_editor.doc().transact().state_vector(), before);

    // The audit log has the restore and the refused attempt.
    let rows: Vec<(String, String)> = server
        .database()
        .await
        .audit("snapshot.")
        .await
        .into_iter()
        .map(|r| (r.action, r.outcome))
        .collect();
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
    let sara = server.clb().await;
    let tom = server.school_member("linde").await;
    let nadia = server.school_member("anker").await;
    let reg = sara.creates_registration().await;
    let base = reg.path("");
    let snapshots = format!("{base}/snapshots");

    for (body, why) in [
        (json!({ "name": "   " }), "empty"),
        (json!({ "name": "x".repeat(121) }), "too long"),
        (json!({ "name": "a\u{7}b" }), "control character"),
        (json!({}), "no name"),
        (json!({ "name": 12 }), "not a string"),
    ] {
        let (status, err) = tom.post(&snapshots, body).await;
        assert_eq!(status, 400, "{why}: {err}");
        assert!(
            err["error"]["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{why}"
        );
    }
    let (_, list) = tom.get(&snapshots).await;
    assert_eq!(list["snapshots"], json!([]), "nothing was kept");

    let (status, named) = tom.post(&snapshots, json!({ "name": "Versie" })).await;
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
        let (status, _) = nadia.call(method, &path, body).await;
        assert_eq!(status, 404, "{method} {path}");
    }
    // No login: 401.
    let (status, _) = server.call("GET", &snapshots, As::Anonymous, None).await;
    assert_eq!(status, 401);
    // A version id of another registration, or none at all.
    let other = sara.creates_registration().await;
    let (status, _) = tom.get(other.path(&format!("/snapshots/{sid}"))).await;
    assert_eq!(status, 404);
    let (status, _) = tom.get(other.path(&format!("/diff?from={sid}"))).await;
    assert_eq!(status, 404);
    let (status, err) = tom.get(format!("{base}/diff")).await;
    assert_eq!(status, 400, "{err}");
    let (status, _) = tom.get(format!("{base}/diff?from={sid}&to=nonsense")).await;
    assert_eq!(status, 404);
    // A session without a matching Origin cannot name a version.
    let forged = sara.session().await.sent_from("https://evil.example");
    let (status, _) = forged.post(&snapshots, json!({ "name": "x" })).await;
    assert_eq!(status, 403);
    let (_, list) = tom.get(&snapshots).await;
    assert_eq!(list["snapshots"].as_array().expect("list").len(), 1);
}

#[tokio::test]
async fn a_version_is_kept_automatically_when_the_room_goes_quiet_and_when_it_closes() {
    let server = TestServer::start_with(&["--snapshot-quiet-secs", "1", "--room-idle-secs", "1"]).await;
    let sara = server.clb().await;
    let reg = sara.creates_registration().await;
    let snapshots = reg.path("/snapshots");
    let list = || async {
        let (_, body) = sara.get(&snapshots).await;
        body["snapshots"].as_array().expect("list").clone()
    };

    let editor = sara.opens(&reg).await;
    type_paragraph(&editor, "goals", "Eerste doel");
    editor.durable(WAIT).await.expect("durable");
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
    type_paragraph(&editor, "goals", "Tweede doel");
    editor.durable(WAIT).await.expect("durable");
    editor.close().await;
    let start = tokio::time::Instant::now();
    while list().await.len() < 2 {
        assert!(start.elapsed() < WAIT, "no version when the room closed");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let versions = list().await;
    assert_eq!(versions[0]["summary"]["sections"]["goals"]["added"], 11);
    let (_, version) = sara
        .get(format!("{snapshots}/{}", versions[0]["id"].as_str().expect("id")))
        .await;
    assert_eq!(version["sections"]["goals"], "Eerste doel\nTweede doel");
}

#[tokio::test]
async fn versions_survive_a_restart_and_compaction() {
    let server = TestServer::start_with(&["--compact-after", "5"]).await;
    let sara = server.clb().await;
    let reg = sara.creates_registration().await;
    let base = reg.path("");
    let editor = sara.opens(&reg).await;
    type_paragraph(&editor, "goals", "Begin");
    editor.durable(WAIT).await.expect("durable");
    let (_, named) = sara
        .post(format!("{base}/snapshots"), json!({ "name": "Begin" }))
        .await;
    let sid = named["id"].as_str().expect("id").to_owned();
    // Enough edits to compact the log several times, with deletions among them.
    let goals = editor.doc().get_or_insert_xml_fragment("goals");
    for i in 0..20 {
        editor.edit(|txn| {
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
    editor.durable(WAIT).await.expect("durable");
    let now_text = {
        let txn = editor.doc().transact();
        goals.get_string(&txn)
    };
    editor.close().await;
    server.restart().await;

    let (status, version) = sara.get(format!("{base}/snapshots/{sid}")).await;
    assert_eq!(status, 200, "{version}");
    assert_eq!(version["sections"]["goals"], "Begin");
    let (status, diff) = sara.get(format!("{base}/diff?from={sid}")).await;
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

#[tokio::test]
async fn an_edit_to_the_text_is_the_registrations_last_change() {
    let server = TestServer::start().await;
    let sara = server.clb().await;
    let tom = server.school_member("linde").await;
    let reg = sara.creates_registration().await;
    let changed = |list: &Value| {
        list["registrations"]
            .as_array()
            .expect("list")
            .iter()
            .find(|r| r["id"] == reg.id.as_str())
            .and_then(|r| r["updated_at"].as_i64())
            .expect("the registration is listed")
    };
    let (_, list) = tom.get("/api/schools/100001/registrations").await;
    let created = changed(&list);

    // Tom types in the school's section: "Gewijzigd" on the list and on the registration moves.
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let editor = tom.opens(&reg).await;
    type_paragraph(&editor, "goals", "De zorgcoördinator volgt dit op.");
    editor.durable(WAIT).await.expect("written");
    let (_, list) = tom.get("/api/schools/100001/registrations").await;
    let edited = changed(&list);
    assert!(edited > created, "the text edit counts: {created} → {edited}");
    let (_, one) = sara.get(reg.path("")).await;
    assert_eq!(one["registration"]["updated_at"], edited);
}

//! Comment threads: who may write, edit, delete, resolve and mention whom; the author is
//! always the caller.

use serde_json::{Value, json};

use crate::support::{Person, TestServer};

fn last_comment(thread: &Value) -> &Value {
    thread["comments"]
        .as_array()
        .and_then(|c| c.last())
        .expect("a comment")
}

#[tokio::test]
async fn threads_replies_edits_and_deletes_follow_the_rules() {
    let server = TestServer::start().await;
    let sara = server.clb().await;
    let tom = server.school_member("linde").await;
    let nadia = server.school_member("anker").await;
    let reg = sara.creates_registration().await;
    let base = reg.path("/comments");

    // A school member starts a thread; a forged author in the body is ignored.
    let (status, body) = tom
        .post(
            &base,
            json!({ "body": "Is dit doel **haalbaar** tegen de krokusvakantie?", "author": sara.id, "author_id": sara.id }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let thread = body["thread"].clone();
    let thread_id = thread["id"].as_str().expect("id").to_owned();
    assert_eq!(thread["status"], "open");
    assert_eq!(thread["created_by"]["id"], tom.id.as_str());
    assert_eq!(
        last_comment(&thread)["author"]["id"],
        tom.id.as_str(),
        "the author is the caller"
    );
    let linde_comment = last_comment(&thread)["id"].as_str().expect("id").to_owned();

    // The CLB replies.
    let (status, body) = sara
        .post(
            format!("{base}/{thread_id}/replies"),
            json!({ "body": "Ja, als we het opsplitsen." }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let clb_comment = last_comment(&body["thread"])["id"]
        .as_str()
        .expect("id")
        .to_owned();
    assert_eq!(body["thread"]["comments"].as_array().map(Vec::len), Some(2));

    // Edit your own: yes. Someone else's: 403, and nothing changes.
    let own = format!("{base}/{thread_id}/comments/{linde_comment}");
    let theirs = format!("{base}/{thread_id}/comments/{clb_comment}");
    let (status, body) = tom.patch(&own, json!({ "body": "Is dit haalbaar?" })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["thread"]["comments"][0]["body"], "Is dit haalbaar?");
    assert!(body["thread"]["comments"][0]["edited_at"].is_number());
    let (status, _) = tom.patch(&theirs, json!({ "body": "Nee." })).await;
    assert_eq!(status, 403);
    let (status, _) = tom.delete(&theirs).await;
    assert_eq!(status, 403);
    let (_, list) = tom.get(&base).await;
    assert_eq!(
        list["threads"][0]["comments"][1]["body"],
        "Ja, als we het opsplitsen."
    );

    // Delete your own: it stays, marked deleted, without its text.
    let (status, body) = tom.delete(&own).await;
    assert_eq!(status, 200);
    assert_eq!(body["thread"]["comments"][0]["deleted"], true);
    assert_eq!(body["thread"]["comments"][0]["body"], "");
    let (status, _) = tom.patch(&own, json!({ "body": "terug" })).await;
    assert_eq!(status, 404, "a deleted comment cannot be edited");

    // Resolve and reopen: anyone who may read.
    let (status, body) = tom.post(format!("{base}/{thread_id}/resolve"), None).await;
    assert_eq!(status, 200);
    assert_eq!(body["thread"]["status"], "resolved");
    assert_eq!(body["thread"]["resolved_by"]["id"], tom.id.as_str());
    let (_, body) = sara.post(format!("{base}/{thread_id}/reopen"), None).await;
    assert_eq!(body["thread"]["status"], "open");
    assert!(body["thread"]["resolved_by"].is_null());

    // The other school sees nothing of it.
    for (method, path, body) in [
        ("GET", base.clone(), None),
        ("POST", base.clone(), Some(json!({ "body": "hallo" }))),
        (
            "POST",
            format!("{base}/{thread_id}/replies"),
            Some(json!({ "body": "hallo" })),
        ),
        ("POST", format!("{base}/{thread_id}/resolve"), None),
        ("PATCH", theirs.clone(), Some(json!({ "body": "x" }))),
    ] {
        let (status, _) = nadia.call(method, &path, body).await;
        assert_eq!(status, 404, "{method} {path} for the other school");
    }
    // A thread of another registration is not found through this one.
    let other = sara.creates_registration().await;
    let (status, _) = sara
        .post(
            other.path(&format!("/comments/{thread_id}/replies")),
            json!({ "body": "x" }),
        )
        .await;
    assert_eq!(status, 404);

    // Every change was audited.
    let actions: Vec<String> = server
        .database()
        .await
        .audit("comment.")
        .await
        .into_iter()
        .map(|r| format!("{}:{}", r.action, r.outcome))
        .collect();
    for expected in [
        "comment.thread:ok",
        "comment.reply:ok",
        "comment.edit:ok",
        "comment.edit:denied",
        "comment.delete:denied",
        "comment.delete:ok",
        "comment.resolve:ok",
        "comment.reopen:ok",
    ] {
        assert!(
            actions.iter().any(|a| a == expected),
            "{expected} missing from {actions:?}"
        );
    }
}

#[tokio::test]
async fn mentions_anchors_limits_and_unread_counts() {
    let server = TestServer::start().await;
    let sara = server.clb().await;
    let tom = server.school_member("linde").await;
    let nadia = server.school_member("anker").await;
    let reg = sara.creates_registration().await;
    let base = reg.path("/comments");

    // Mentions: only people who can see the dossier.
    let (status, body) = tom
        .post(
            &base,
            json!({ "body": "@Sara kijk je even mee?", "mentions": [nadia.id] }),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let (_, people) = tom.get(reg.path("/people")).await;
    assert!(
        people["people"]
            .as_array()
            .expect("people")
            .iter()
            .all(|p| p["id"] != nadia.id.as_str())
    );
    let anchor = json!({ "section": "goals", "start": "AQLr7aa9BQA=", "end": "AQLr7aa9BQU=", "quote": "tegen de krokusvakantie" });
    let (status, body) = tom
        .post(
            &base,
            json!({ "body": "@Sara kijk je even mee?", "mentions": [sara.id], "anchor": anchor }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["thread"]["anchor"]["section"], "goals");
    assert_eq!(body["thread"]["anchor"]["quote"], "tegen de krokusvakantie");
    let (_, notes) = sara.get("/api/notifications").await;
    assert_eq!(notes["unread"], 1);
    assert_eq!(notes["notifications"][0]["kind"], "mention");
    assert_eq!(notes["notifications"][0]["title"], "Testregistratie");
    assert_eq!(notes["notifications"][0]["by"]["name"], "Tom Peeters (De Linde)");
    assert_eq!(sara.post("/api/notifications/read", None).await.0, 204);
    let (_, notes) = sara.get("/api/notifications").await;
    assert_eq!(notes["unread"], 0);

    // Unread counts per registration, for the overview.
    let (_, list) = sara.get("/api/schools/100001/registrations").await;
    assert_eq!(list["unread"][&reg.id], 1, "{list}");
    assert_eq!(sara.post(format!("{base}/read"), None).await.0, 204);
    let (_, list) = sara.get("/api/schools/100001/registrations").await;
    assert!(list["unread"].get(&reg.id).is_none(), "{list}");

    // Bad input: clear errors, nothing stored.
    for bad in [
        json!({ "body": "   " }),
        json!({ "body": "x".repeat(4001) }),
        json!({ "body": "ok", "anchor": { "section": "geheim", "start": "AQ==", "end": "AQ==", "quote": "" } }),
        json!({ "body": "ok", "anchor": { "section": "goals", "start": "<script>", "end": "AQ==", "quote": "" } }),
        json!({ "body": "nul\u{0}byte" }),
    ] {
        let (status, body) = tom.post(&base, bad.clone()).await;
        assert_eq!(status, 400, "{bad} → {body}");
    }
    let (_, all) = tom.get(&base).await;
    assert_eq!(all["threads"].as_array().map(Vec::len), Some(1));

    // Rate limit: a burst of comments is cut off.
    let mut limited = false;
    for i in 0..15 {
        let (status, _) = sara.post(&base, json!({ "body": format!("nummer {i}") })).await;
        if status == 429 {
            limited = true;
            break;
        }
        assert_eq!(status, 201);
    }
    assert!(limited, "15 comments in a row are rate limited");
}

/// The kinds of a person's notifications, newest first, and how many are unread.
async fn notified(person: &Person<'_>) -> (Vec<String>, i64) {
    let (status, notes) = person.get("/api/notifications").await;
    assert_eq!(status, 200, "{notes}");
    let kinds = notes["notifications"]
        .as_array()
        .expect("notifications")
        .iter()
        .map(|n| n["kind"].as_str().expect("kind").to_owned())
        .collect();
    (kinds, notes["unread"].as_i64().expect("unread"))
}

#[tokio::test]
async fn replies_and_new_threads_notify_who_takes_part_once_each() {
    let server = TestServer::start().await;
    let sara = server.clb().await;
    let tom = server.school_member("linde").await;
    let reg = sara.creates_registration().await;
    let base = reg.path("/comments");

    // A new thread on Sara's registration tells Sara, who started it.
    let (status, body) = tom.post(&base, json!({ "body": "Wie neemt dit op?" })).await;
    assert_eq!(status, 201, "{body}");
    let thread = body["thread"]["id"].as_str().expect("thread").to_owned();
    assert_eq!(notified(&sara).await, (vec!["thread".to_owned()], 1));
    assert_eq!(notified(&tom).await, (vec![], 0), "not for one's own comment");

    // Sara's reply tells Tom, who wrote in the thread; not Sara herself.
    let reply = format!("{base}/{thread}/replies");
    let (status, body) = sara.post(&reply, json!({ "body": "Ik neem het op." })).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(notified(&tom).await, (vec!["reply".to_owned()], 1));
    assert_eq!(notified(&sara).await.0.len(), 1);

    // Tom answers and mentions Sara: one notification for her, the mention.
    let (status, body) = tom
        .post(&reply, json!({ "body": "Dank je, Sara.", "mentions": [sara.id] }))
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        notified(&sara).await,
        (vec!["mention".to_owned(), "thread".to_owned()], 2)
    );

    // Sara's own thread on her own registration tells nobody: Tom took no part in it.
    let (status, _) = sara.post(&base, json!({ "body": "Notitie voor later." })).await;
    assert_eq!(status, 201);
    assert_eq!(notified(&sara).await.0.len(), 2);
    assert_eq!(notified(&tom).await.0.len(), 1);
}

#[tokio::test]
async fn mentions_disappear_once_the_role_that_allowed_them_is_withdrawn() {
    let server = TestServer::start().await;
    let sara = server.clb().await;
    let tom = server.school_member("linde").await;
    let reg = sara.creates_registration().await;
    let (status, body) = sara
        .post(
            reg.path("/comments"),
            json!({ "body": "Tom, kan de zorgcoördinator dit opnemen?", "mentions": [tom.id] }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (_, notes) = tom.get("/api/notifications").await;
    assert_eq!(notes["unread"], 1, "{notes}");

    // The school withdraws Tom's role: he no longer reads De Linde's dossier, so neither
    // the mention nor the text it quotes may reach him.
    server.withdraws_role(&tom, "school_dossier", "100001").await;
    let (status, notes) = tom.get("/api/notifications").await;
    assert_eq!(status, 200);
    assert_eq!(notes["unread"], 0, "{notes}");
    assert_eq!(notes["notifications"], json!([]), "{notes}");
    let (status, _) = tom.get(reg.path("")).await;
    assert_eq!(status, 404);

    // Given back, the mention is there again (it was hidden, not lost).
    server.grants_role(&tom, "school_dossier", "100001").await;
    let (_, notes) = tom.get("/api/notifications").await;
    assert_eq!(notes["unread"], 1, "{notes}");
}

//! Comment threads: who may write, edit, delete, resolve and mention whom; the author is
//! always the caller.

use serde_json::{Value, json};

use crate::support::{ANKER, As, LINDE, TestServer};

fn last_comment(thread: &Value) -> &Value {
    thread["comments"]
        .as_array()
        .and_then(|c| c.last())
        .expect("a comment")
}

#[tokio::test]
async fn threads_replies_edits_and_deletes_follow_the_rules() {
    let server = TestServer::start().await;
    let reg = server.new_registration().await;
    let linde = server.token_for(LINDE).await;
    let anker = server.token_for(ANKER).await;
    let clb = server.clb_token.clone();
    let linde_id = server.user_id(&linde).await;
    let clb_id = server.user_id(&clb).await;
    let base = format!("/api/registrations/{reg}/comments");

    // A school member starts a thread; a forged author in the body is ignored.
    let (status, body) = server
        .call(
            "POST",
            &base,
            As::Token(&linde),
            Some(json!({ "body": "Is dit doel **haalbaar** tegen de krokusvakantie?", "author": clb_id, "author_id": clb_id })),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let thread = body["thread"].clone();
    let thread_id = thread["id"].as_str().expect("id").to_owned();
    assert_eq!(thread["status"], "open");
    assert_eq!(thread["created_by"]["id"], linde_id.as_str());
    assert_eq!(
        last_comment(&thread)["author"]["id"],
        linde_id.as_str(),
        "the author is the caller"
    );
    let linde_comment = last_comment(&thread)["id"].as_str().expect("id").to_owned();

    // The CLB replies.
    let (status, body) = server
        .call(
            "POST",
            &format!("{base}/{thread_id}/replies"),
            As::Token(&clb),
            Some(json!({ "body": "Ja, als we het opsplitsen." })),
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
    let (status, body) = server
        .call(
            "PATCH",
            &own,
            As::Token(&linde),
            Some(json!({ "body": "Is dit haalbaar?" })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["thread"]["comments"][0]["body"], "Is dit haalbaar?");
    assert!(body["thread"]["comments"][0]["edited_at"].is_number());
    let (status, _) = server
        .call(
            "PATCH",
            &theirs,
            As::Token(&linde),
            Some(json!({ "body": "Nee." })),
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = server.call("DELETE", &theirs, As::Token(&linde), None).await;
    assert_eq!(status, 403);
    let (_, list) = server.call("GET", &base, As::Token(&linde), None).await;
    assert_eq!(
        list["threads"][0]["comments"][1]["body"],
        "Ja, als we het opsplitsen."
    );

    // Delete your own: it stays, marked deleted, without its text.
    let (status, body) = server.call("DELETE", &own, As::Token(&linde), None).await;
    assert_eq!(status, 200);
    assert_eq!(body["thread"]["comments"][0]["deleted"], true);
    assert_eq!(body["thread"]["comments"][0]["body"], "");
    let (status, _) = server
        .call("PATCH", &own, As::Token(&linde), Some(json!({ "body": "terug" })))
        .await;
    assert_eq!(status, 404, "a deleted comment cannot be edited");

    // Resolve and reopen: anyone who may read.
    let (status, body) = server
        .call(
            "POST",
            &format!("{base}/{thread_id}/resolve"),
            As::Token(&linde),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["thread"]["status"], "resolved");
    assert_eq!(body["thread"]["resolved_by"]["id"], linde_id.as_str());
    let (_, body) = server
        .call(
            "POST",
            &format!("{base}/{thread_id}/reopen"),
            As::Token(&clb),
            None,
        )
        .await;
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
        let (status, _) = server.call(method, &path, As::Token(&anker), body).await;
        assert_eq!(status, 404, "{method} {path} for the other school");
    }
    // A thread of another registration is not found through this one.
    let other = server.new_registration().await;
    let (status, _) = server
        .call(
            "POST",
            &format!("/api/registrations/{other}/comments/{thread_id}/replies"),
            As::Token(&clb),
            Some(json!({ "body": "x" })),
        )
        .await;
    assert_eq!(status, 404);

    // Every change was audited.
    let db = server.database().await;
    let actions: Vec<String> = sqlx::query_scalar(
        "SELECT action || ':' || outcome FROM audit_log WHERE action LIKE 'comment.%' ORDER BY id",
    )
    .fetch_all(&db)
    .await
    .expect("audit");
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
    let reg = server.new_registration().await;
    let linde = server.token_for(LINDE).await;
    let anker = server.token_for(ANKER).await;
    let clb = server.clb_token.clone();
    let clb_id = server.user_id(&clb).await;
    let anker_id = server.user_id(&anker).await;
    let base = format!("/api/registrations/{reg}/comments");

    // Mentions: only people who can see the dossier.
    let (status, body) = server
        .call(
            "POST",
            &base,
            As::Token(&linde),
            Some(json!({ "body": "@Sara kijk je even mee?", "mentions": [anker_id] })),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let (_, people) = server
        .call(
            "GET",
            &format!("/api/registrations/{reg}/people"),
            As::Token(&linde),
            None,
        )
        .await;
    assert!(
        people["people"]
            .as_array()
            .expect("people")
            .iter()
            .all(|p| p["id"] != anker_id.as_str())
    );
    let anchor = json!({ "section": "goals", "start": "AQLr7aa9BQA=", "end": "AQLr7aa9BQU=", "quote": "tegen de krokusvakantie" });
    let (status, body) = server
        .call(
            "POST",
            &base,
            As::Token(&linde),
            Some(json!({ "body": "@Sara kijk je even mee?", "mentions": [clb_id], "anchor": anchor })),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["thread"]["anchor"]["section"], "goals");
    assert_eq!(body["thread"]["anchor"]["quote"], "tegen de krokusvakantie");
    let (_, notes) = server
        .call("GET", "/api/notifications", As::Token(&clb), None)
        .await;
    assert_eq!(notes["unread"], 1);
    assert_eq!(notes["notifications"][0]["kind"], "mention");
    assert_eq!(notes["notifications"][0]["title"], "Testregistratie");
    assert_eq!(notes["notifications"][0]["by"]["name"], "Tom Peeters (De Linde)");
    assert_eq!(
        server
            .call("POST", "/api/notifications/read", As::Token(&clb), None)
            .await
            .0,
        204
    );
    let (_, notes) = server
        .call("GET", "/api/notifications", As::Token(&clb), None)
        .await;
    assert_eq!(notes["unread"], 0);

    // Unread counts per registration, for the overview.
    let (_, list) = server
        .call("GET", "/api/schools/100001/registrations", As::Token(&clb), None)
        .await;
    assert_eq!(list["unread"][&reg], 1, "{list}");
    assert_eq!(
        server
            .call("POST", &format!("{base}/read"), As::Token(&clb), None)
            .await
            .0,
        204
    );
    let (_, list) = server
        .call("GET", "/api/schools/100001/registrations", As::Token(&clb), None)
        .await;
    assert!(list["unread"].get(&reg).is_none(), "{list}");

    // Bad input: clear errors, nothing stored.
    for bad in [
        json!({ "body": "   " }),
        json!({ "body": "x".repeat(4001) }),
        json!({ "body": "ok", "anchor": { "section": "geheim", "start": "AQ==", "end": "AQ==", "quote": "" } }),
        json!({ "body": "ok", "anchor": { "section": "goals", "start": "<script>", "end": "AQ==", "quote": "" } }),
        json!({ "body": "nul\u{0}byte" }),
    ] {
        let (status, body) = server
            .call("POST", &base, As::Token(&linde), Some(bad.clone()))
            .await;
        assert_eq!(status, 400, "{bad} → {body}");
    }
    let (_, all) = server.call("GET", &base, As::Token(&linde), None).await;
    assert_eq!(all["threads"].as_array().map(Vec::len), Some(1));

    // Rate limit: a burst of comments is cut off.
    let mut limited = false;
    for i in 0..15 {
        let (status, _) = server
            .call(
                "POST",
                &base,
                As::Token(&clb),
                Some(json!({ "body": format!("nummer {i}") })),
            )
            .await;
        if status == 429 {
            limited = true;
            break;
        }
        assert_eq!(status, 201);
    }
    assert!(limited, "15 comments in a row are rate limited");
}

//! Who may do what (DESIGN.md): every route, over REST and over `/sync`, for every kind of
//! caller. Another school's data is 404 (no existence leak), a known user lacking the right
//! gets 403.

use serde_json::json;

use crate::support::{As, TestServer};

/// Callers, in the column order of the table below.
const WHO: [&str; 6] = [
    "anonymous",
    "clb",
    "linde (same school)",
    "anker (other school)",
    "admin",
    "lsc (serves both schools)",
];

#[tokio::test]
async fn every_route_answers_each_role_as_the_rules_say() {
    let server = TestServer::start().await;
    let sara = server.clb().await;
    let tom = server.school_member("linde").await;
    let nadia = server.school_member("anker").await;
    let admin = server.admin().await;
    let lotte = server.lsc().await;
    let people = [
        None,
        Some(&sara),
        Some(&tom),
        Some(&nadia),
        Some(&admin),
        Some(&lotte),
    ];
    let reg = sara.creates_registration().await;
    let unknown = "00000000-0000-4000-8000-000000000000";
    let create = json!({ "kind": "consultation", "title": "Nieuwe vraag", "theme": "gedrag" });
    let patch = json!({ "title": "Aangepaste titel" });
    let token_body = json!({ "name": "matrix", "password": "demo" });
    let version = json!({ "name": "Na schoolbeeldoverleg 1" });
    let (_, named) = sara.post(reg.path("/snapshots"), version.clone()).await;
    let sid = named["id"].as_str().expect("a version id").to_owned();
    let plan = json!({ "held_on": "2026-10-15" });
    let (_, planned) = tom.post("/api/schools/100001/meetings", plan.clone()).await;
    let mid = planned["meeting"]["id"]
        .as_str()
        .expect("a meeting id")
        .to_owned();
    let (_, agreements) = tom.get("/api/schools/100001/agreements").await;
    let aid = agreements["agreements"]
        .as_array()
        .expect("agreements")
        .iter()
        .find(|a| a["lsc"]["number"] == "800001")
        .and_then(|a| a["id"].as_str())
        .expect("De Linde's agreements with LSC Demo")
        .to_owned();

    // (method, path, body, expected status per caller in WHO order)
    let table: Vec<(&str, String, Option<serde_json::Value>, [u16; 6])> = vec![
        ("GET", "/api/me".into(), None, [401, 200, 200, 200, 200, 200]),
        ("GET", "/api/schools".into(), None, [401, 200, 200, 200, 200, 200]),
        (
            "GET",
            "/api/schools/100001/registrations".into(),
            None,
            [401, 200, 200, 404, 404, 404],
        ),
        (
            "GET",
            "/api/schools/100001/registrations?kind=signal".into(),
            None,
            [401, 200, 200, 404, 404, 404],
        ),
        (
            "GET",
            "/api/schools/100002/registrations".into(),
            None,
            [401, 200, 404, 200, 404, 404],
        ),
        (
            "GET",
            "/api/schools/999999/registrations".into(),
            None,
            [401, 404, 404, 404, 404, 404],
        ),
        (
            "GET",
            "/api/schools/900001/registrations".into(),
            None,
            [401, 404, 404, 404, 404, 404],
        ),
        (
            "POST",
            "/api/schools/100001/registrations".into(),
            Some(create.clone()),
            [401, 201, 403, 404, 404, 404],
        ),
        (
            "POST",
            "/api/schools/100002/registrations".into(),
            Some(create.clone()),
            [401, 201, 404, 403, 404, 404],
        ),
        (
            "GET",
            format!("/api/registrations/{reg}"),
            None,
            [401, 200, 200, 404, 404, 404],
        ),
        (
            "PATCH",
            format!("/api/registrations/{reg}"),
            Some(patch.clone()),
            [401, 200, 403, 404, 404, 404],
        ),
        (
            "GET",
            format!("/api/registrations/{reg}/content"),
            None,
            [401, 200, 200, 404, 404, 404],
        ),
        (
            "GET",
            format!("/api/registrations/{reg}/authors"),
            None,
            [401, 200, 200, 404, 404, 404],
        ),
        (
            "GET",
            format!("/api/registrations/{reg}/earlier-advice"),
            None,
            [401, 200, 200, 404, 404, 404],
        ),
        (
            "GET",
            format!("/api/registrations/{reg}/snapshots"),
            None,
            [401, 200, 200, 404, 404, 404],
        ),
        (
            "POST",
            format!("/api/registrations/{reg}/snapshots"),
            Some(version.clone()),
            [401, 201, 201, 404, 404, 404],
        ),
        (
            "GET",
            format!("/api/registrations/{reg}/snapshots/{sid}"),
            None,
            [401, 200, 200, 404, 404, 404],
        ),
        (
            "GET",
            format!("/api/registrations/{reg}/snapshots/{unknown}"),
            None,
            [401, 404, 404, 404, 404, 404],
        ),
        (
            "GET",
            format!("/api/registrations/{reg}/diff?from={sid}"),
            None,
            [401, 200, 200, 404, 404, 404],
        ),
        (
            "GET",
            format!("/api/registrations/{reg}/since-visit"),
            None,
            [401, 200, 200, 404, 404, 404],
        ),
        (
            "POST",
            format!("/api/registrations/{reg}/snapshots/{sid}/restore"),
            None,
            [401, 200, 403, 404, 404, 404],
        ),
        (
            "GET",
            format!("/api/registrations/{unknown}"),
            None,
            [401, 404, 404, 404, 404, 404],
        ),
        (
            "PATCH",
            format!("/api/registrations/{unknown}"),
            Some(patch.clone()),
            [401, 404, 404, 404, 404, 404],
        ),
        (
            "GET",
            "/api/registrations/not-a-uuid".into(),
            None,
            [401, 404, 404, 404, 404, 404],
        ),
        (
            "POST",
            "/api/tokens".into(),
            Some(token_body.clone()),
            // Only a session makes tokens (a token cannot renew itself): see identity.rs.
            [401, 403, 403, 403, 403, 403],
        ),
        ("GET", "/api/tokens".into(), None, [401, 200, 200, 200, 200, 200]),
        (
            "GET",
            "/api/admin/lsc-links".into(),
            None,
            [401, 403, 403, 403, 200, 403],
        ),
        (
            "POST",
            "/api/admin/lsc-links".into(),
            Some(json!({ "lsc": "800002", "school": "100001" })),
            // The specific LSC serves De Linde already: nothing changes.
            [401, 403, 403, 403, 200, 403],
        ),
        (
            "DELETE",
            "/api/admin/lsc-links/800002/100002".into(),
            None,
            // No such link.
            [401, 403, 403, 403, 404, 403],
        ),
        // The admin pages: a platform administrator only. Calls that would change what the
        // rest of this table relies on name something that exists already or nobody.
        (
            "GET",
            "/api/admin/institutions".into(),
            None,
            [401, 403, 403, 403, 200, 403],
        ),
        (
            "POST",
            "/api/admin/institutions".into(),
            Some(json!({ "kind": "school", "number": "100001", "name": "De Linde" })),
            [401, 403, 403, 403, 409, 403],
        ),
        (
            "POST",
            "/api/admin/clb-links".into(),
            Some(json!({ "clb": "900001", "school": "100001" })),
            [401, 403, 403, 403, 200, 403],
        ),
        (
            "DELETE",
            "/api/admin/clb-links/900001/100009".into(),
            None,
            [401, 403, 403, 403, 404, 403],
        ),
        (
            "GET",
            "/api/admin/users".into(),
            None,
            [401, 403, 403, 403, 200, 403],
        ),
        (
            "POST",
            "/api/admin/users".into(),
            Some(json!({ "email": "linde@demo.test", "display_name": "Tom" })),
            [401, 403, 403, 403, 409, 403],
        ),
        (
            "POST",
            format!("/api/admin/users/{unknown}/roles"),
            Some(json!({ "role": "admin" })),
            [401, 403, 403, 403, 404, 403],
        ),
        (
            "DELETE",
            format!("/api/admin/users/{unknown}/roles/admin"),
            None,
            [401, 403, 403, 403, 404, 403],
        ),
        (
            "POST",
            format!("/api/admin/users/{unknown}/disable"),
            None,
            [401, 403, 403, 403, 404, 403],
        ),
        (
            "POST",
            format!("/api/admin/users/{unknown}/enable"),
            None,
            [401, 403, 403, 403, 404, 403],
        ),
        (
            "GET",
            format!("/api/admin/users/{unknown}/tokens"),
            None,
            [401, 403, 403, 403, 404, 403],
        ),
        (
            "POST",
            format!("/api/admin/users/{unknown}/tokens"),
            Some(json!({ "name": "x" })),
            [401, 403, 403, 403, 404, 403],
        ),
        (
            "DELETE",
            format!("/api/admin/users/{unknown}/tokens/{unknown}"),
            None,
            [401, 403, 403, 403, 404, 403],
        ),
        (
            "GET",
            "/api/admin/audit".into(),
            None,
            [401, 403, 403, 403, 200, 403],
        ),
        (
            "GET",
            "/api/admin/audit.csv".into(),
            None,
            [401, 403, 403, 403, 200, 403],
        ),
        (
            "GET",
            "/api/schools/100001/meetings".into(),
            None,
            [401, 200, 200, 404, 404, 200],
        ),
        (
            "GET",
            "/api/schools/100002/meetings".into(),
            None,
            [401, 200, 404, 200, 404, 200],
        ),
        (
            "GET",
            "/api/schools/100001/table".into(),
            None,
            [401, 200, 200, 404, 404, 200],
        ),
        (
            "GET",
            "/api/schools/100001/actions".into(),
            None,
            [401, 200, 200, 404, 404, 200],
        ),
        (
            "GET",
            reg.path("/export.pdf"),
            None,
            [401, 200, 200, 404, 404, 404],
        ),
        (
            "GET",
            "/api/schools/100001/export.pdf".into(),
            None,
            [401, 200, 200, 404, 404, 404],
        ),
        (
            "GET",
            "/api/schools/100001/overview.csv".into(),
            None,
            [401, 200, 200, 404, 404, 404],
        ),
        (
            "GET",
            "/api/schools/100001/overview.xlsx".into(),
            None,
            [401, 200, 200, 404, 404, 404],
        ),
        (
            "GET",
            "/api/schools/100001/export.docx".into(),
            None,
            [401, 200, 200, 404, 404, 404],
        ),
        (
            "GET",
            reg.path("/export.docx"),
            None,
            [401, 200, 200, 404, 404, 404],
        ),
        (
            "POST",
            "/api/schools/100001/exports".into(),
            Some(json!({ "format": "pdf" })),
            [401, 202, 202, 404, 404, 404],
        ),
        (
            "GET",
            format!("/api/exports/{unknown}"),
            None,
            [401, 404, 404, 404, 404, 404],
        ),
        (
            "GET",
            "/api/schools/100001/overview".into(),
            None,
            [401, 200, 200, 404, 404, 404],
        ),
        (
            "GET",
            "/api/clb/overview".into(),
            None,
            [401, 200, 403, 403, 403, 403],
        ),
        (
            "POST",
            "/api/schools/100001/meetings".into(),
            Some(plan.clone()),
            [401, 201, 201, 404, 404, 201],
        ),
        (
            "GET",
            format!("/api/meetings/{mid}"),
            None,
            [401, 200, 200, 404, 404, 200],
        ),
        (
            "PATCH",
            format!("/api/meetings/{mid}"),
            Some(json!({ "title": "Schoolbeeldoverleg De Linde" })),
            [401, 200, 200, 404, 404, 200],
        ),
        (
            "GET",
            format!("/api/meetings/{unknown}"),
            None,
            [401, 404, 404, 404, 404, 404],
        ),
        (
            "GET",
            "/api/meetings/not-a-uuid".into(),
            None,
            [401, 404, 404, 404, 404, 404],
        ),
        (
            "GET",
            format!("/api/meetings/{mid}/report"),
            None,
            [401, 200, 200, 404, 404, 200],
        ),
        (
            "GET",
            format!("/api/meetings/{mid}/report.pdf"),
            None,
            [401, 200, 200, 404, 404, 200],
        ),
        (
            "GET",
            format!("/api/meetings/{mid}/since-first"),
            None,
            // It follows no meeting: nothing to look back on.
            [401, 404, 404, 404, 404, 404],
        ),
        (
            "POST",
            format!("/api/meetings/{mid}/start"),
            None,
            [401, 200, 200, 404, 404, 200],
        ),
        (
            "POST",
            format!("/api/meetings/{mid}/close"),
            Some(json!({})),
            // The first to close it does; after that it is closed.
            [401, 200, 409, 404, 404, 409],
        ),
        // School–LSC agreements: for a CLB they do not exist.
        (
            "GET",
            "/api/schools/100001/agreements".into(),
            None,
            [401, 404, 200, 404, 404, 200],
        ),
        (
            "GET",
            "/api/schools/100002/agreements".into(),
            None,
            [401, 404, 404, 200, 404, 200],
        ),
        (
            "GET",
            format!("/api/agreements/{aid}"),
            None,
            [401, 404, 200, 404, 404, 200],
        ),
        (
            "GET",
            format!("/api/agreements/{unknown}"),
            None,
            [401, 404, 404, 404, 404, 404],
        ),
        // The name guard: who may open a document sees its names; who may write it may
        // dismiss one (there is no finding called "Niemand": 409 once allowed).
        (
            "GET",
            format!("/api/documents/{reg}/names"),
            None,
            [401, 200, 200, 404, 404, 404],
        ),
        (
            "POST",
            format!("/api/documents/{reg}/names/dismiss"),
            Some(json!({ "name": "Niemand" })),
            [401, 409, 409, 404, 404, 404],
        ),
        (
            "GET",
            format!("/api/documents/{mid}/names"),
            None,
            [401, 200, 200, 404, 404, 200],
        ),
        (
            "GET",
            format!("/api/documents/{aid}/names"),
            None,
            [401, 404, 200, 404, 404, 200],
        ),
        (
            "POST",
            format!("/api/documents/{aid}/names/dismiss"),
            Some(json!({ "name": "Niemand" })),
            [401, 404, 409, 404, 404, 409],
        ),
        (
            "GET",
            format!("/api/documents/{unknown}/names"),
            None,
            [401, 404, 404, 404, 404, 404],
        ),
        (
            "POST",
            "/api/names/check".into(),
            Some(json!({ "text": "Lotte uit 5B" })),
            [401, 200, 200, 200, 200, 200],
        ),
        // Documents: a school's for the school and its CLB; a registration's for who reads it.
        (
            "GET",
            "/api/schools/100001/files".into(),
            None,
            [401, 200, 200, 404, 404, 404],
        ),
        (
            "GET",
            "/api/schools/100002/files".into(),
            None,
            [401, 200, 404, 200, 404, 404],
        ),
        (
            "GET",
            format!("/api/registrations/{reg}/files"),
            None,
            [401, 200, 200, 404, 404, 404],
        ),
        (
            "GET",
            format!("/api/files/{unknown}"),
            None,
            [401, 404, 404, 404, 404, 404],
        ),
        (
            "GET",
            format!("/api/agreements/{aid}/files"),
            None,
            [401, 404, 200, 404, 404, 200],
        ),
        (
            "GET",
            format!("/api/agreements/{aid}/files/deleted"),
            None,
            [401, 404, 200, 404, 404, 200],
        ),
        (
            "GET",
            "/api/schools/100001/files/deleted".into(),
            None,
            [401, 200, 200, 404, 404, 404],
        ),
        (
            "DELETE",
            format!("/api/files/{unknown}"),
            Some(json!({ "reason": "weg" })),
            [401, 404, 404, 404, 404, 404],
        ),
        (
            "POST",
            format!("/api/files/{unknown}/restore"),
            None,
            [401, 404, 404, 404, 404, 404],
        ),
        (
            "GET",
            format!("/api/files/{unknown}/content"),
            None,
            [401, 404, 404, 404, 404, 404],
        ),
        (
            "GET",
            format!("/api/files/{unknown}/names"),
            None,
            [401, 404, 404, 404, 404, 404],
        ),
        (
            "POST",
            format!("/api/files/{unknown}/names/dismiss"),
            Some(json!({ "name": "Lotte" })),
            [401, 404, 404, 404, 404, 404],
        ),
        (
            "GET",
            "/api/schools/100001/names".into(),
            None,
            [401, 200, 200, 404, 404, 200],
        ),
        (
            "GET",
            "/api/search?q=pesten".into(),
            None,
            [401, 200, 200, 200, 200, 200],
        ),
        (
            "GET",
            "/api/schools/100002/names".into(),
            None,
            [401, 200, 404, 200, 404, 200],
        ),
        (
            "DELETE",
            format!("/api/tokens/{unknown}"),
            None,
            [401, 404, 404, 404, 404, 404],
        ),
    ];
    let mut failures = Vec::new();
    for (method, path, body, expected) in &table {
        for (i, person) in people.iter().enumerate() {
            let who = person.map_or(As::Anonymous, |p| As::Token(&p.token));
            let (status, response) = server.call(method, path, who, body.clone()).await;
            if status != expected[i] {
                failures.push(format!(
                    "{method} {path} as {}: {status}, expected {} ({response})",
                    WHO[i], expected[i]
                ));
            }
            if status >= 400 {
                assert!(
                    response["error"]["code"].is_string(),
                    "{method} {path}: error body {response}"
                );
            }
        }
    }

    // The WebSocket, before any document byte: 101 means upgraded.
    let sync_table = [
        (reg.id.as_str(), [401, 101, 101, 404, 404, 404]),
        (unknown, [401, 404, 404, 404, 404, 404]),
        (mid.as_str(), [401, 101, 101, 404, 404, 101]),
        (aid.as_str(), [401, 404, 101, 404, 404, 101]),
    ];
    for (id, expected) in sync_table {
        for (i, person) in people.iter().enumerate() {
            let auth = person.map(|p| format!("Bearer {}", p.token));
            let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("authorization", a.as_str())).collect();
            let status = server.ws_status(id, &headers).await;
            if status != expected[i] {
                failures.push(format!(
                    "/sync/{id} as {}: {status}, expected {}",
                    WHO[i], expected[i]
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "permission matrix mismatches:\n{}",
        failures.join("\n")
    );
}

#[tokio::test]
async fn registrations_are_listed_and_filtered_for_the_school_only() {
    let server = TestServer::start().await;
    let sara = server.clb().await;
    let tom = server.school_member("linde").await;
    let reg = sara.creates_registration().await;
    let (status, body) = tom.get("/api/schools/100001/registrations").await;
    assert_eq!(status, 200);
    let regs = body["registrations"].as_array().expect("list");
    assert!(regs.iter().any(|r| r["id"] == reg.id.as_str()));
    assert!(regs.iter().all(|r| r["school_number"] == "100001"));
    let (_, body) = tom
        .get("/api/schools/100001/registrations?kind=consultation&theme=pesten")
        .await;
    assert!(
        body["registrations"]
            .as_array()
            .expect("list")
            .iter()
            .all(|r| r["kind"] == "consultation")
    );
    let (status, body) = tom.get("/api/schools/100001/registrations?theme=onbekend").await;
    assert_eq!(status, 400, "unknown themes are refused with a message: {body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .expect("message")
            .contains("pesten")
    );

    let (_, schools) = tom.get("/api/schools").await;
    let linde = &schools["schools"][0];
    assert_eq!(schools["schools"].as_array().map(Vec::len), Some(1), "{schools}");
    assert_eq!(
        (&linde["number"], &linde["name"], &linde["access"]),
        (&json!("100001"), &json!("Basisschool De Linde"), &json!("school"))
    );
    assert!(linde["figures"]["open"].as_i64() > Some(0), "{linde}");
    let (_, schools) = sara.get("/api/schools").await;
    assert_eq!(schools["schools"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn bad_input_to_the_api_gets_a_clear_error_and_changes_nothing() {
    let server = TestServer::start().await;
    let sara = server.clb().await;
    let path = "/api/schools/100001/registrations";
    let (_, before) = sara.get(path).await;
    let cases = [
        json!({ "kind": "rapport", "title": "x" }),
        json!({ "kind": "signal", "title": "   " }),
        json!({ "kind": "signal", "title": "x".repeat(201) }),
        json!({ "kind": "signal", "title": "Goed", "theme": "onbekend" }),
        json!({ "kind": "signal", "title": "Goed", "school_year": "2026-2028" }),
        json!({ "title": "geen soort" }),
    ];
    for case in cases {
        let (status, body) = sara.post(path, case.clone()).await;
        assert_eq!(status, 400, "{case} → {body}");
        assert!(!body["error"]["message"].as_str().unwrap_or_default().is_empty());
    }
    let (_, after) = sara.get(path).await;
    assert_eq!(before, after, "nothing was created");

    let reg = sara.creates_registration().await;
    let (status, _) = sara.patch(reg.path(""), json!({ "status": "archived" })).await;
    assert_eq!(status, 400);
    // A title or status may be left out, never null (schemathesis found null read as
    // "left out").
    for body in [json!({ "title": null }), json!({ "status": null })] {
        let (status, answer) = sara.patch(reg.path(""), body.clone()).await;
        assert_eq!(status, 400, "{body}: {answer}");
    }
    let (status, body) = sara
        .patch(reg.path(""), json!({ "status": "closed", "theme": null }))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["registration"]["status"], "closed");
    assert_eq!(body["registration"]["theme"], serde_json::Value::Null);
    assert_eq!(
        body["registration"]["title"], "Testregistratie",
        "untouched fields stay"
    );
}

#[tokio::test]
async fn a_learning_support_centre_sees_the_schools_it_serves_and_none_of_their_registrations() {
    let server = TestServer::start().await;
    let sara = server.clb().await;
    let lotte = server.lsc().await;
    let reg = sara.creates_registration().await;

    let (_, me) = lotte.get("/api/me").await;
    assert_eq!(me["memberships"][0]["role"], "lsc_staff");
    assert_eq!(me["memberships"][0]["institution"]["number"], "800001");
    let (_, schools) = lotte.get("/api/schools").await;
    assert_eq!(
        schools["schools"],
        json!([
            { "number": "100001", "name": "Basisschool De Linde", "access": "lsc", "figures": null },
            { "number": "100002", "name": "Middenschool Het Anker", "access": "lsc", "figures": null },
        ])
    );
    // Nothing of the registrations: not the list, not one of them, not their live events.
    for path in [
        "/api/schools/100001/registrations".to_owned(),
        reg.path(""),
        reg.path("/comments"),
    ] {
        let (status, body) = lotte.get(&path).await;
        assert_eq!(status, 404, "{path}: {body}");
    }
    let events = reqwest::Client::new()
        .get(server.url("/api/schools/100001/events"))
        .bearer_auth(&lotte.token)
        .send()
        .await
        .expect("events");
    assert_eq!(events.status(), 404, "the live events carry registrations");

    // The command line links an LSC to a school, and refuses what is not an LSC.
    let create = [
        "create-institution",
        "--kind",
        "school",
        "--number",
        "100009",
        "--name",
        "Atheneum Zuid",
    ];
    server.admin_command(&create, &[]).await;
    let out = server
        .admin_command(&["link-school", "--lsc", "800001", "--school", "100009"], &[])
        .await;
    assert_eq!(out, "LSC 800001 serves school 100009");
    let refused = server
        .admin_command_fails(&["link-school", "--lsc", "900001", "--school", "100009"], &[])
        .await;
    assert!(refused.contains("--lsc must be an LSC"), "{refused}");
    let (_, schools) = lotte.get("/api/schools").await;
    assert_eq!(schools["schools"].as_array().map(Vec::len), Some(3));
    let (_, schools) = sara.get("/api/schools").await;
    assert_eq!(
        schools["schools"].as_array().map(Vec::len),
        Some(2),
        "the CLB does not serve the new school"
    );
}

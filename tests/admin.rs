//! The admin pages' API, as a platform administrator uses it: institutions and who serves
//! them, people and their roles, their API tokens, and the audit log with its export. Each
//! change takes effect for the people it concerns at once.

use serde_json::{Value, json};

use crate::support::{As, TestServer};

fn numbers_of(schools: &Value) -> Vec<String> {
    schools["schools"]
        .as_array()
        .expect("schools")
        .iter()
        .map(|s| s["number"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn an_administrator_adds_a_school_and_a_person_and_their_access_follows_at_once() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let sara = server.clb().await;

    // A new school, served by the demo CLB: Sara sees it straight away.
    let school = json!({ "kind": "school", "number": "100009", "name": "De Brug", "served_by": "900001" });
    assert_eq!(admin.post("/api/admin/institutions", school).await.0, 201);
    assert!(numbers_of(&sara.get("/api/schools").await.1).contains(&"100009".to_owned()));
    let (_, all) = admin.get("/api/admin/institutions").await;
    let brug = all["institutions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["number"] == "100009")
        .cloned()
        .expect("De Brug is listed");
    assert_eq!(brug["served_by"][0]["number"], "900001");
    // A served_by that is no CLB, a kind that is none, a number with spaces: refused, nothing made.
    for bad in [
        json!({ "kind": "school", "number": "100010", "name": "X", "served_by": "100001" }),
        json!({ "kind": "university", "number": "100010", "name": "X" }),
        json!({ "kind": "school", "number": "100 010", "name": "X" }),
        json!({ "kind": "school", "number": "100010", "name": "  " }),
    ] {
        assert_eq!(admin.post("/api/admin/institutions", bad).await.0, 400);
    }
    let (_, after) = admin.get("/api/admin/institutions").await;
    assert_eq!(
        after["institutions"].as_array().unwrap().len(),
        all["institutions"].as_array().unwrap().len()
    );

    // Eva joins De Brug; she logs in through the provider, so she gets no password.
    let (status, made) = admin
        .post(
            "/api/admin/users",
            json!({ "email": " Eva@Demo.test ", "display_name": "Eva Test" }),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(made["user"]["email"], "eva@demo.test");
    assert_eq!(made["user"]["password"], false);
    let eva = made["user"]["id"].as_str().expect("id").to_owned();
    let login = json!({ "email": "eva@demo.test", "password": "" });
    assert_eq!(
        server
            .call("POST", "/api/login", As::Anonymous, Some(login))
            .await
            .0,
        401
    );

    // With a role on De Brug and a token made for her, she reaches De Brug only.
    let grant = json!({ "role": "school_dossier", "institution": "100009" });
    let (status, granted) = admin.post(format!("/api/admin/users/{eva}/roles"), grant).await;
    assert_eq!(status, 200, "{granted}");
    assert_eq!(granted["user"]["memberships"][0]["source"], "local");
    let (status, token) = admin
        .post(
            format!("/api/admin/users/{eva}/tokens"),
            json!({ "name": "koppeling" }),
        )
        .await;
    assert_eq!(status, 201);
    let token = token["token"].as_str().expect("the token, once").to_owned();
    let (status, schools) = server.call("GET", "/api/schools", As::Token(&token), None).await;
    assert_eq!((status, numbers_of(&schools)), (200, vec!["100009".to_owned()]));

    // The role taken away: De Brug is gone for her token too.
    let revoke = format!("/api/admin/users/{eva}/roles/school_dossier?institution=100009");
    assert_eq!(admin.delete(&revoke).await.0, 200);
    assert_eq!(admin.delete(&revoke).await.0, 404, "no longer held");
    let (_, schools) = server.call("GET", "/api/schools", As::Token(&token), None).await;
    assert!(numbers_of(&schools).is_empty());

    // Disabled: her token stops working; enabled again, it stays revoked.
    assert_eq!(
        admin
            .post(format!("/api/admin/users/{eva}/disable"), json!({}))
            .await
            .0,
        200
    );
    assert_eq!(
        server.call("GET", "/api/me", As::Token(&token), None).await.0,
        401
    );
    let (_, enabled) = admin
        .post(format!("/api/admin/users/{eva}/enable"), json!({}))
        .await;
    assert_eq!(enabled["user"]["disabled"], false);
    assert_eq!(
        server.call("GET", "/api/me", As::Token(&token), None).await.0,
        401
    );
    let (_, tokens) = admin.get(format!("/api/admin/users/{eva}/tokens")).await;
    assert!(tokens["tokens"][0]["revoked_at"].is_i64());

    // An administrator cannot lock themselves out.
    let me = &admin.id;
    assert_eq!(
        admin
            .post(format!("/api/admin/users/{me}/disable"), json!({}))
            .await
            .0,
        400
    );
    assert_eq!(
        admin.delete(format!("/api/admin/users/{me}/roles/admin")).await.0,
        400
    );

    // The CLB no longer serves De Brug: Sara loses it.
    assert_eq!(admin.delete("/api/admin/clb-links/900001/100009").await.0, 204);
    assert!(!numbers_of(&sara.get("/api/schools").await.1).contains(&"100009".to_owned()));
    assert_eq!(admin.delete("/api/admin/clb-links/900001/100009").await.0, 404);

    // Roles that do not fit their institution are refused.
    for (role, institution) in [
        ("clb_staff", Some("100009")),
        ("admin", Some("900001")),
        ("school_dossier", None),
        ("baas", None),
    ] {
        let body = json!({ "role": role, "institution": institution });
        assert_eq!(
            admin.post(format!("/api/admin/users/{eva}/roles"), body).await.0,
            400,
            "{role}"
        );
    }
}

#[tokio::test]
async fn the_audit_log_shows_who_did_what_filtered_and_exported() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let sara = server.clb().await;
    let reg = sara.creates_registration().await;
    let _ = sara.get(reg.path("")).await;
    let made = json!({ "email": "=cmd@demo.test", "display_name": "Formule" });
    assert_eq!(admin.post("/api/admin/users", made).await.0, 201);

    // Per person (by e-mail address), newest first, with who they are.
    let (status, page) = admin.get("/api/admin/audit?user=clb@demo.test").await;
    assert_eq!(status, 200);
    let entries = page["entries"].as_array().expect("entries");
    assert!(!entries.is_empty());
    assert!(entries.iter().all(|e| e["actor"]["email"] == "clb@demo.test"));
    let ids: Vec<i64> = entries.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first");
    // Per registration: everything about it, by anyone.
    let (_, about) = admin.get(format!("/api/admin/audit?target={reg}")).await;
    assert!(
        about["entries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["target"] == reg.to_string())
    );
    assert!(!about["entries"].as_array().unwrap().is_empty());
    // A page at a time.
    let (_, first) = admin.get("/api/admin/audit?limit=2").await;
    let next = first["next_before"].as_i64().expect("more pages");
    let (_, second) = admin.get(format!("/api/admin/audit?limit=2&before={next}")).await;
    assert!(second["entries"][0]["id"].as_i64().unwrap() < next);
    // Nothing in a window in the past.
    let (_, none) = admin.get("/api/admin/audit?until=1").await;
    assert!(none["entries"].as_array().unwrap().is_empty());
    assert_eq!(admin.get("/api/admin/audit?limit=0").await.0, 400);
    assert_eq!(admin.get("/api/admin/audit?since=gisteren").await.0, 400);

    // The export: a CSV with a header, the same filter, cells that cannot run as formulas.
    let response = reqwest::Client::new()
        .get(server.url("/api/admin/audit.csv?action=user.create"))
        .bearer_auth(&admin.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let disposition = response.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(disposition.contains("samen-auditlog-"), "{disposition}");
    let text = response.text().await.unwrap();
    let mut lines = text.lines();
    assert!(lines.next().unwrap().starts_with("id,tijdstip (UTC),wie"));
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 1, "{text}");
    assert!(
        rows[0].contains("Beheerder") && rows[0].contains("'=cmd@demo.test"),
        "{}",
        rows[0]
    );

    // Reading the log is itself in the log.
    let (_, reads) = admin.get("/api/admin/audit?action=audit.").await;
    let actions: Vec<&str> = reads["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(
        actions.contains(&"audit.read") && actions.contains(&"audit.export"),
        "{actions:?}"
    );
}

#[tokio::test]
async fn a_clb_administrator_looks_after_their_own_schools_and_nothing_else() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let sara = server.clb().await;
    let tom = server.school_member("linde").await;

    // Another CLB with a school and a staff member, out of Sara's reach.
    for body in [
        json!({ "kind": "clb", "number": "900002", "name": "CLB Zuid" }),
        json!({ "kind": "school", "number": "100003", "name": "De Wilg", "served_by": "900002" }),
    ] {
        assert_eq!(admin.post("/api/admin/institutions", body).await.0, 201);
    }
    let (_, zuid) = admin
        .post(
            "/api/admin/users",
            json!({ "email": "zuid@demo.test", "display_name": "Zoë Zuid" }),
        )
        .await;
    let zuid = zuid["user"]["id"].as_str().expect("id").to_owned();
    let grant = json!({ "role": "clb_staff", "institution": "900002" });
    assert_eq!(
        admin
            .post(format!("/api/admin/users/{zuid}/roles"), grant)
            .await
            .0,
        200
    );
    let (_, zuid_token) = admin
        .post(format!("/api/admin/users/{zuid}/tokens"), json!({ "name": "t" }))
        .await;
    let zuid_token = zuid_token["token"].as_str().expect("token").to_owned();
    // Zoë knocks on De Linde's door: a refusal in the log, by her.
    let _ = server
        .call(
            "GET",
            "/api/schools/100001/registrations",
            As::Token(&zuid_token),
            None,
        )
        .await;

    // Before: Sara administers nothing.
    assert_eq!(sara.get("/api/admin/users").await.0, 403);
    let grant = json!({ "role": "clb_admin", "institution": "900001" });
    assert_eq!(
        admin
            .post(format!("/api/admin/users/{}/roles", sara.id), grant)
            .await
            .0,
        200
    );

    // Her CLB, its schools and every LSC; not the other CLB or its school.
    let (status, seen) = sara.get("/api/admin/institutions").await;
    assert_eq!(status, 200);
    assert_eq!(seen["platform"], false);
    let mut numbers: Vec<&str> = seen["institutions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["number"].as_str())
        .collect();
    numbers.sort_unstable();
    assert!(numbers.contains(&"900001") && numbers.contains(&"100001") && numbers.contains(&"800001"));
    assert!(
        !numbers.contains(&"900002") && !numbers.contains(&"100003"),
        "{numbers:?}"
    );

    // A new school is her CLB's; no CLBs, no LSCs, no other CLB's schools, no CLB links.
    let (status, _) = sara
        .post(
            "/api/admin/institutions",
            json!({ "kind": "school", "number": "100009", "name": "De Brug" }),
        )
        .await;
    assert_eq!(status, 201);
    assert!(numbers_of(&sara.get("/api/schools").await.1).contains(&"100009".to_owned()));
    let refused = [
        (
            "/api/admin/institutions",
            json!({ "kind": "clb", "number": "900003", "name": "CLB Oost" }),
        ),
        (
            "/api/admin/institutions",
            json!({ "kind": "school", "number": "100010", "name": "X", "served_by": "900002" }),
        ),
        (
            "/api/admin/clb-links",
            json!({ "clb": "900001", "school": "100003" }),
        ),
        (
            "/api/admin/lsc-links",
            json!({ "lsc": "800001", "school": "100003" }),
        ),
    ];
    for (path, body) in refused {
        assert_eq!(sara.post(path, body.clone()).await.0, 403, "{path} {body}");
    }
    assert_eq!(
        sara.post(
            "/api/admin/lsc-links",
            json!({ "lsc": "800001", "school": "100009" })
        )
        .await
        .0,
        201
    );
    assert_eq!(sara.delete("/api/admin/clb-links/900002/100003").await.0, 403);

    // People with roles on what she looks after; not Zoë, not the LSC's, not the platform's.
    let (_, users) = sara.get("/api/admin/users").await;
    let emails: Vec<&str> = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|u| u["email"].as_str())
        .collect();
    assert!(
        emails.contains(&"linde@demo.test") && emails.contains(&"clb@demo.test"),
        "{emails:?}"
    );
    for other in ["zuid@demo.test", "lsc@demo.test", "admin@demo.test"] {
        assert!(!emails.contains(&other), "{other} in {emails:?}");
    }
    for path in [
        format!("/api/admin/users/{zuid}/disable"),
        format!("/api/admin/users/{zuid}/tokens"),
    ] {
        assert_eq!(sara.post(&path, json!({ "name": "x" })).await.0, 404, "{path}");
    }

    // A newcomer gets roles on her schools only.
    let (_, eva) = sara
        .post(
            "/api/admin/users",
            json!({ "email": "eva@demo.test", "display_name": "Eva Test" }),
        )
        .await;
    let eva = eva["user"]["id"].as_str().expect("id").to_owned();
    let roles = format!("/api/admin/users/{eva}/roles");
    assert_eq!(
        sara.post(
            &roles,
            json!({ "role": "school_dossier", "institution": "100009" })
        )
        .await
        .0,
        200
    );
    for (role, institution, status) in [
        ("school_dossier", Some("100003"), 403),
        ("admin", None, 403),
        ("lsc_staff", Some("800001"), 403),
        ("clb_staff", Some("900002"), 403),
    ] {
        let body = json!({ "role": role, "institution": institution });
        assert_eq!(sara.post(&roles, body).await.0, status, "{role} {institution:?}");
    }
    // Tom, of De Linde, can be disabled by her; he is enabled again.
    assert_eq!(
        sara.post(format!("/api/admin/users/{}/disable", tom.id), json!({}))
            .await
            .0,
        200
    );
    assert_eq!(tom.get("/api/me").await.0, 401);
    assert_eq!(
        sara.post(format!("/api/admin/users/{}/enable", tom.id), json!({}))
            .await
            .0,
        200
    );

    // Her audit log: what her people did, not what Zoë did.
    let (_, mine) = sara.get("/api/admin/audit?limit=500").await;
    let actors: Vec<&str> = mine["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["actor"]["email"].as_str())
        .collect();
    assert!(actors.contains(&"clb@demo.test"), "{actors:?}");
    assert!(
        !actors.contains(&"zuid@demo.test") && !actors.contains(&"admin@demo.test"),
        "{actors:?}"
    );
    let (_, all) = admin.get("/api/admin/audit?user=zuid@demo.test").await;
    assert!(
        !all["entries"].as_array().unwrap().is_empty(),
        "the platform's log has Zoë's refusal"
    );
}

//! The admin pages' API, as a platform administrator uses it: institutions and who serves
//! them, people and their roles, their API tokens, and the audit log with its export. Each
//! change takes effect for the people it concerns at once.

use serde_json::{Value, json};

use crate::support::{As, TestServer};

fn numbers(schools: &Value) -> Vec<String> {
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
    assert!(numbers(&sara.get("/api/schools").await.1).contains(&"100009".to_owned()));
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
    assert_eq!((status, numbers(&schools)), (200, vec!["100009".to_owned()]));

    // The role taken away: De Brug is gone for her token too.
    let revoke = format!("/api/admin/users/{eva}/roles/school_dossier?institution=100009");
    assert_eq!(admin.delete(&revoke).await.0, 200);
    assert_eq!(admin.delete(&revoke).await.0, 404, "no longer held");
    let (_, schools) = server.call("GET", "/api/schools", As::Token(&token), None).await;
    assert!(numbers(&schools).is_empty());

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
    assert!(!numbers(&sara.get("/api/schools").await.1).contains(&"100009".to_owned()));
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

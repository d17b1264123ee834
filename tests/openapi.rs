//! The OpenAPI document at `/api/openapi.json`: served without login, complete (every
//! route, method, success and error answer), and honest (real answers carry every property
//! the document calls required, with the documented types).

use serde_json::{Value, json};

use crate::support::{As, CLB, TestServer};

/// Every route of the API, with the path as the document spells it.
const ROUTES: [(&str, &str); 106] = [
    ("post", "/api/login"),
    ("post", "/api/login/totp"),
    ("post", "/api/logout"),
    ("get", "/api/me"),
    ("get", "/api/config"),
    ("post", "/api/tokens"),
    ("get", "/api/tokens"),
    ("delete", "/api/tokens/{id}"),
    ("get", "/api/account/totp"),
    ("post", "/api/account/totp/setup"),
    ("post", "/api/account/totp/confirm"),
    ("post", "/api/account/totp/disable"),
    ("get", "/api/schools"),
    ("get", "/api/schools/{number}/registrations"),
    ("post", "/api/schools/{number}/registrations"),
    ("get", "/api/schools/{number}/events"),
    ("get", "/api/registrations/{id}"),
    ("patch", "/api/registrations/{id}"),
    ("get", "/api/registrations/{id}/content"),
    ("get", "/api/registrations/{id}/authors"),
    ("get", "/api/registrations/{id}/comments"),
    ("post", "/api/registrations/{id}/comments"),
    ("post", "/api/registrations/{id}/comments/read"),
    ("post", "/api/registrations/{id}/comments/{thread}/replies"),
    (
        "patch",
        "/api/registrations/{id}/comments/{thread}/comments/{comment}",
    ),
    (
        "delete",
        "/api/registrations/{id}/comments/{thread}/comments/{comment}",
    ),
    ("post", "/api/registrations/{id}/comments/{thread}/resolve"),
    ("post", "/api/registrations/{id}/comments/{thread}/reopen"),
    ("get", "/api/registrations/{id}/people"),
    ("get", "/api/registrations/{id}/snapshots"),
    ("post", "/api/registrations/{id}/snapshots"),
    ("get", "/api/registrations/{id}/snapshots/{sid}"),
    ("post", "/api/registrations/{id}/snapshots/{sid}/restore"),
    ("get", "/api/registrations/{id}/diff"),
    ("get", "/api/registrations/{id}/since-visit"),
    ("get", "/api/registrations/{id}/export.pdf"),
    ("get", "/api/schools/{number}/export.pdf"),
    ("get", "/api/schools/{number}/overview.csv"),
    ("get", "/api/registrations/{id}/export.docx"),
    ("get", "/api/schools/{number}/export.docx"),
    ("get", "/api/schools/{number}/overview.xlsx"),
    ("post", "/api/schools/{number}/exports"),
    ("get", "/api/exports/{id}"),
    ("get", "/api/exports/{id}/file"),
    ("get", "/api/schools/{number}/overview"),
    ("get", "/api/clb/overview"),
    ("get", "/api/notifications"),
    ("post", "/api/notifications/read"),
    ("get", "/api/schools/{number}/table"),
    ("get", "/api/schools/{number}/meetings"),
    ("post", "/api/schools/{number}/meetings"),
    ("get", "/api/meetings/{id}"),
    ("patch", "/api/meetings/{id}"),
    ("post", "/api/meetings/{id}/start"),
    ("post", "/api/meetings/{id}/close"),
    ("get", "/api/meetings/{id}/since-first"),
    ("get", "/api/meetings/{id}/diff"),
    ("get", "/api/meetings/{id}/report"),
    ("get", "/api/meetings/{id}/report.pdf"),
    ("get", "/api/schools/{number}/actions"),
    ("get", "/api/admin/lsc-links"),
    ("post", "/api/admin/lsc-links"),
    ("delete", "/api/admin/lsc-links/{lsc}/{school}"),
    ("post", "/api/admin/clb-links"),
    ("delete", "/api/admin/clb-links/{clb}/{school}"),
    ("get", "/api/admin/institutions"),
    ("post", "/api/admin/institutions"),
    ("get", "/api/admin/users"),
    ("post", "/api/admin/users"),
    ("post", "/api/admin/users/{id}/roles"),
    ("delete", "/api/admin/users/{id}/roles/{role}"),
    ("post", "/api/admin/users/{id}/disable"),
    ("post", "/api/admin/users/{id}/enable"),
    ("get", "/api/admin/users/{id}/tokens"),
    ("post", "/api/admin/users/{id}/tokens"),
    ("delete", "/api/admin/users/{id}/tokens/{token}"),
    ("get", "/api/admin/audit"),
    ("get", "/api/admin/audit.csv"),
    ("get", "/api/schools/{number}/agreements"),
    ("get", "/api/agreements/{id}"),
    ("get", "/api/documents/{id}/names"),
    ("post", "/api/documents/{id}/names/dismiss"),
    ("get", "/api/schools/{number}/names"),
    ("post", "/api/names/check"),
    ("get", "/api/schools/{number}/files"),
    ("post", "/api/schools/{number}/files"),
    ("get", "/api/registrations/{id}/files"),
    ("post", "/api/registrations/{id}/files"),
    ("get", "/api/files/{id}"),
    ("post", "/api/files/{id}/versions"),
    ("get", "/api/files/{id}/content"),
    ("get", "/api/files/{id}/names"),
    ("get", "/api/search"),
    ("get", "/api/registrations/{id}/earlier-advice"),
    ("post", "/api/files/{id}/names/dismiss"),
    ("delete", "/api/files/{id}"),
    ("post", "/api/files/{id}/restore"),
    ("get", "/api/schools/{number}/files/deleted"),
    ("get", "/api/agreements/{id}/files"),
    ("post", "/api/agreements/{id}/files"),
    ("get", "/api/agreements/{id}/files/deleted"),
    ("get", "/sync/{id}"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/api/openapi.json"),
];

/// Routes anyone may call.
const PUBLIC: [&str; 7] = [
    "/api/login",
    "/api/login/totp",
    "/api/config",
    "/healthz",
    "/readyz",
    "/metrics",
    "/api/openapi.json",
];

async fn document(server: &TestServer) -> Value {
    let (status, doc) = server.call("GET", "/api/openapi.json", As::Anonymous, None).await;
    assert_eq!(status, 200, "the document is served without login");
    doc
}

fn operation<'a>(doc: &'a Value, method: &str, path: &str) -> &'a Value {
    let op = &doc["paths"][path][method];
    assert!(
        op.is_object(),
        "{} {path} is not in the document",
        method.to_uppercase()
    );
    op
}

/// Follows a `$ref` to `#/components/...`.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let pointer = reference.strip_prefix('#').expect("local $ref");
            let target = doc
                .pointer(pointer)
                .unwrap_or_else(|| panic!("dangling $ref {reference}"));
            resolve(doc, target)
        }
        None => schema,
    }
}

/// The JSON schema of an operation's answer with this status.
fn response_schema<'a>(doc: &'a Value, method: &str, path: &str, status: u16) -> &'a Value {
    let response = &operation(doc, method, path)["responses"][status.to_string()];
    assert!(
        response.is_object(),
        "{} {path} answered {status}, which the document does not list",
        method.to_uppercase()
    );
    let schema = &response["content"]["application/json"]["schema"];
    assert!(
        schema.is_object(),
        "{} {path} {status} has no JSON schema",
        method.to_uppercase()
    );
    schema
}

fn type_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Checks `value` against `schema`: types, enums, required properties, recursively through
/// properties, array items and map values. Returns what does not match.
fn mismatches(doc: &Value, schema: &Value, value: &Value, at: &str, out: &mut Vec<String>) {
    let schema = resolve(doc, schema);
    let actual = type_of(value);
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let allowed =
        types.is_empty() || types.contains(&actual) || (actual == "integer" && types.contains(&"number"));
    if !allowed {
        out.push(format!("{at}: is {actual}, the schema says {types:?}"));
        return;
    }
    if let Some(allowed) = schema["enum"].as_array()
        && !allowed.contains(value)
    {
        out.push(format!("{at}: {value} is not one of {allowed:?}"));
    }
    match value {
        Value::Object(map) => {
            for name in schema["required"].as_array().into_iter().flatten() {
                let name = name.as_str().expect("required names are strings");
                if !map.contains_key(name) {
                    out.push(format!("{at}: lacks required property `{name}`"));
                }
            }
            for (key, item) in map {
                if let Some(property) = schema["properties"].get(key) {
                    mismatches(doc, property, item, &format!("{at}.{key}"), out);
                } else if schema["additionalProperties"].is_object() {
                    mismatches(
                        doc,
                        &schema["additionalProperties"],
                        item,
                        &format!("{at}.{key}"),
                        out,
                    );
                }
            }
        }
        Value::Array(items) if schema["items"].is_object() => {
            for (i, item) in items.iter().enumerate() {
                mismatches(doc, &schema["items"], item, &format!("{at}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// Makes a call and checks its answer against the document; returns the body.
async fn checked(
    server: &TestServer,
    doc: &Value,
    (method, route, path): (&str, &str, &str),
    who: As<'_>,
    body: Option<Value>,
    expected: u16,
) -> Value {
    let (status, answer) = server.call(&method.to_uppercase(), path, who, body).await;
    assert_eq!(status, expected, "{method} {path}: {answer}");
    let schema = response_schema(doc, method, route, status);
    let mut out = Vec::new();
    mismatches(doc, schema, &answer, "body", &mut out);
    assert!(
        out.is_empty(),
        "{method} {path} ({status}) differs from the document:\n{}",
        out.join("\n")
    );
    answer
}

/// The `required` names of a component schema.
fn required(doc: &Value, name: &str) -> Vec<String> {
    doc["components"]["schemas"][name]["required"]
        .as_array()
        .unwrap_or_else(|| panic!("schema {name} has no required list"))
        .iter()
        .map(|n| n.as_str().expect("name").to_owned())
        .collect()
}

#[tokio::test]
async fn openapi_document_lists_every_route_with_its_answers() {
    let server = TestServer::start().await;
    let doc = document(&server).await;
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
        "OpenAPI 3.x, not {}",
        doc["openapi"]
    );
    assert!(doc["info"]["title"].is_string());
    assert!(
        doc["info"]["description"]
            .as_str()
            .is_some_and(|d| d.contains("Origin")),
        "the description explains the Origin rule for cookie-authenticated calls"
    );
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["session"]["in"], "cookie");
    assert_eq!(schemes["session"]["name"], "samen_session");
    assert_eq!(schemes["token"]["scheme"], "bearer");
    let error = &doc["components"]["schemas"]["ErrorDetail"];
    assert_eq!(required(&doc, "ErrorBody"), ["error"]);
    assert!(error["properties"]["code"].is_object() && error["properties"]["message"].is_object());

    // Nothing documented that does not exist, nothing existing undocumented.
    let mut documented: Vec<(String, String)> = doc["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .expect("path item")
                .keys()
                .filter(|k| ["get", "post", "put", "patch", "delete"].contains(&k.as_str()))
                .map(move |method| (method.clone(), path.clone()))
        })
        .collect();
    documented.sort();
    let mut expected: Vec<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    expected.sort();
    assert_eq!(documented, expected);

    for (method, path) in ROUTES {
        let op = operation(&doc, method, path);
        let what = format!("{} {path}", method.to_uppercase());
        let responses = op["responses"].as_object().expect("responses");
        let codes: Vec<u16> = responses
            .keys()
            .map(|c| c.parse().expect("numeric status"))
            .collect();
        assert!(
            codes.iter().any(|c| (200..300).contains(c) || *c == 101),
            "{what} has no success answer"
        );
        assert!(op["summary"].is_string(), "{what} has a summary");
        let public = PUBLIC.contains(&path);
        let mut needed: Vec<u16> = Vec::new();
        if public {
            assert!(op.get("security").is_none(), "{what} needs no login");
        } else {
            let security = op["security"].as_array().expect("security");
            // A token cannot make tokens: that one call takes a session only.
            let schemes: &[&str] = if (method, path) == ("post", "/api/tokens") {
                &["session"]
            } else {
                &["session", "token"]
            };
            for scheme in schemes {
                assert!(
                    security.iter().any(|s| s.get(scheme).is_some()),
                    "{what} accepts {scheme}"
                );
            }
            needed.push(401);
            if method != "get" || path == "/sync/{id}" {
                needed.push(403); // the Origin check
            }
            if path.contains('{') {
                needed.push(404);
            }
        }
        if op.get("requestBody").is_some() {
            needed.push(400);
            // JSON, or for an upload the file itself (with 413 and 415 for what is refused).
            let content = &op["requestBody"]["content"];
            let upload = content["application/octet-stream"]["schema"].is_object();
            assert!(
                content["application/json"]["schema"].is_object() || upload,
                "{what} documents its body"
            );
            if upload {
                needed.extend([413, 415]);
            }
        }
        if path == "/api/login" || path == "/api/login/totp" {
            needed.extend([401, 429, 503]);
        }
        for code in needed {
            assert!(codes.contains(&code), "{what} lacks its {code} answer");
        }
        for (code, response) in responses {
            if code.starts_with('4') {
                assert_eq!(
                    response["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/ErrorBody",
                    "{what} {code} has the common error body"
                );
            }
            assert!(response["description"].is_string(), "{what} {code} is described");
        }
    }

    // Bodies and query parameters that the handlers read.
    for (method, path, body) in [
        ("post", "/api/login", "Login"),
        ("post", "/api/tokens", "NewToken"),
        ("post", "/api/login/totp", "LoginCode"),
        ("post", "/api/account/totp/setup", "TotpSetupRequest"),
        ("post", "/api/account/totp/confirm", "TotpConfirm"),
        ("post", "/api/account/totp/disable", "TotpDisable"),
        (
            "post",
            "/api/schools/{number}/registrations",
            "CreateRegistration",
        ),
        ("patch", "/api/registrations/{id}", "Patch"),
    ] {
        assert_eq!(
            operation(&doc, method, path)["requestBody"]["content"]["application/json"]["schema"]["$ref"],
            format!("#/components/schemas/{body}")
        );
    }
    assert_eq!(required(&doc, "Login"), ["email", "password"]);
    assert_eq!(required(&doc, "LoginCode"), ["pending", "code"]);
    let login = &operation(&doc, "post", "/api/login")["responses"];
    assert_eq!(
        login["202"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/SecondFactorNeeded",
        "the login's second step is documented"
    );
    assert_eq!(required(&doc, "CreateRegistration"), ["kind", "title"]);
    let names = |method: &str, path: &str| -> Vec<String> {
        operation(&doc, method, path)["parameters"]
            .as_array()
            .expect("parameters")
            .iter()
            .map(|p| format!("{}:{}", p["in"].as_str().unwrap(), p["name"].as_str().unwrap()))
            .collect()
    };
    assert_eq!(
        names("get", "/api/schools/{number}/registrations"),
        [
            "path:number",
            "query:kind",
            "query:status",
            "query:school_year",
            "query:theme"
        ]
    );
    assert_eq!(
        names("get", "/sync/{id}"),
        ["path:id", "query:acks", "query:token"]
    );

    let events = &operation(&doc, "get", "/api/schools/{number}/events")["responses"]["200"];
    assert!(events["content"]["text/event-stream"].is_object());
    let described = events["description"].as_str().unwrap_or_default();
    for name in ["presence", "registration", "comment", "snapshot", "resync"] {
        assert!(
            described.contains(&format!("`{name}`")),
            "the event `{name}` is described"
        );
    }
    assert!(operation(&doc, "get", "/sync/{id}")["responses"]["101"].is_object());
}

#[tokio::test]
async fn openapi_schemas_match_real_answers() {
    let server = TestServer::start().await;
    let doc = document(&server).await;
    let sara = server.clb().await;
    let tom = server.school_member("linde").await;
    let clb = As::Token(&sara.token);
    let linde = As::Token(&tom.token);

    // The schemas are not empty shells.
    let me_required = required(&doc, "MeResponse");
    for name in ["user", "memberships", "demo", "color"] {
        assert!(
            me_required.iter().any(|r| r == name),
            "MeResponse requires {name}"
        );
    }
    let registration_required = required(&doc, "Registration");
    for name in [
        "id",
        "kind",
        "title",
        "status",
        "school_number",
        "school_year",
        "owner",
        "theme",
    ] {
        assert!(
            registration_required.iter().any(|r| r == name),
            "Registration requires {name}"
        );
    }

    let me = checked(&server, &doc, ("get", "/api/me", "/api/me"), clb, None, 200).await;
    for name in &me_required {
        assert!(me.get(name).is_some(), "GET /api/me has {name}");
    }
    checked(
        &server,
        &doc,
        ("get", "/api/me", "/api/me"),
        As::Anonymous,
        None,
        401,
    )
    .await;
    checked(
        &server,
        &doc,
        ("get", "/api/config", "/api/config"),
        As::Anonymous,
        None,
        200,
    )
    .await;
    let login = json!({ "email": CLB, "password": "demo" });
    checked(
        &server,
        &doc,
        ("post", "/api/login", "/api/login"),
        As::Anonymous,
        Some(login),
        200,
    )
    .await;
    let wrong = json!({ "email": CLB, "password": "wrong" });
    checked(
        &server,
        &doc,
        ("post", "/api/login", "/api/login"),
        As::Anonymous,
        Some(wrong),
        401,
    )
    .await;

    // Two-step verification: its state, setting it up, a wrong code, an unknown login.
    checked(
        &server,
        &doc,
        ("get", "/api/account/totp", "/api/account/totp"),
        clb,
        None,
        200,
    )
    .await;
    let browser = sara.session().await;
    let unknown = json!({ "pending": "0".repeat(64), "code": "123456" });
    for (path, who, body, status) in [
        (
            "/api/account/totp/setup",
            As::Session(&browser),
            json!({ "password": "demo" }),
            200,
        ),
        (
            "/api/account/totp/confirm",
            As::Session(&browser),
            json!({ "code": "12" }),
            401,
        ),
        ("/api/login/totp", As::Anonymous, unknown, 401),
    ] {
        checked(&server, &doc, ("post", path, path), who, Some(body), status).await;
    }

    // Tokens are made from a session, with the password again.
    let token = json!({ "name": "openapi", "password": "demo", "scope": "read", "expires_in_days": 30, "school": "100001" });
    let created = checked(
        &server,
        &doc,
        ("post", "/api/tokens", "/api/tokens"),
        As::Session(&browser),
        Some(token),
        201,
    )
    .await;
    checked(
        &server,
        &doc,
        ("get", "/api/tokens", "/api/tokens"),
        clb,
        None,
        200,
    )
    .await;
    let revoke = format!("/api/tokens/{}", created["id"].as_str().expect("token id"));
    let (status, _) = server.call("DELETE", &revoke, clb, None).await;
    assert_eq!(status, 204);
    assert!(operation(&doc, "delete", "/api/tokens/{id}")["responses"]["204"].is_object());
    checked(
        &server,
        &doc,
        ("delete", "/api/tokens/{id}", &revoke),
        linde,
        None,
        404,
    )
    .await;

    checked(
        &server,
        &doc,
        ("get", "/api/schools", "/api/schools"),
        linde,
        None,
        200,
    )
    .await;
    let list = "/api/schools/{number}/registrations";
    let listed = checked(
        &server,
        &doc,
        ("get", list, "/api/schools/100001/registrations"),
        clb,
        None,
        200,
    )
    .await;
    checked(
        &server,
        &doc,
        ("get", list, "/api/schools/100001/registrations?kind=nonsense"),
        clb,
        None,
        400,
    )
    .await;

    let new = json!({ "kind": "signal", "title": "Volgens het boekje", "theme": "pesten" });
    let registration = checked(
        &server,
        &doc,
        ("post", list, "/api/schools/100001/registrations"),
        clb,
        Some(new.clone()),
        201,
    )
    .await;
    for name in &registration_required {
        assert!(
            registration.get(name).is_some(),
            "a created registration has {name}"
        );
    }
    checked(
        &server,
        &doc,
        ("post", list, "/api/schools/100001/registrations"),
        linde,
        Some(new),
        403,
    )
    .await;

    let id = registration["id"].as_str().expect("id");
    let one = "/api/registrations/{id}";
    let path = format!("/api/registrations/{id}");
    checked(&server, &doc, ("get", one, &path), linde, None, 200).await;
    let patch = json!({ "status": "closed", "theme": null });
    checked(&server, &doc, ("patch", one, &path), clb, Some(patch), 200).await;
    let unknown = "/api/registrations/00000000-0000-4000-8000-000000000000";
    checked(&server, &doc, ("get", one, unknown), clb, None, 404).await;

    // Content and authorship of a demo registration, which has text by known authors.
    let demo = listed["registrations"]
        .as_array()
        .expect("registrations")
        .iter()
        .filter_map(|r| r["id"].as_str())
        .next()
        .expect("the demo seeds registrations");
    let content = format!("/api/registrations/{demo}/content");
    let text = checked(
        &server,
        &doc,
        ("get", "/api/registrations/{id}/content", &content),
        clb,
        None,
        200,
    )
    .await;
    assert!(text["sections"].as_object().is_some_and(|s| !s.is_empty()));
    let authors = format!("/api/registrations/{demo}/authors");
    checked(
        &server,
        &doc,
        ("get", "/api/registrations/{id}/authors", &authors),
        clb,
        None,
        200,
    )
    .await;
    let earlier = format!("/api/registrations/{demo}/earlier-advice");
    let route = ("get", "/api/registrations/{id}/earlier-advice", earlier.as_str());
    checked(&server, &doc, route, clb, None, 200).await;

    // Versions of the demo registration: name one, list, read, compare, restore.
    let snapshots = format!("/api/registrations/{demo}/snapshots");
    let list_path = "/api/registrations/{id}/snapshots";
    let named = checked(
        &server,
        &doc,
        ("post", list_path, &snapshots),
        linde,
        Some(json!({ "name": "Na schoolbeeldoverleg 1" })),
        201,
    )
    .await;
    checked(
        &server,
        &doc,
        ("post", list_path, &snapshots),
        linde,
        Some(json!({ "name": "" })),
        400,
    )
    .await;
    checked(&server, &doc, ("get", list_path, &snapshots), linde, None, 200).await;
    let sid = named["id"].as_str().expect("id");
    let one = format!("{snapshots}/{sid}");
    checked(
        &server,
        &doc,
        ("get", "/api/registrations/{id}/snapshots/{sid}", &one),
        linde,
        None,
        200,
    )
    .await;
    let diff = format!("/api/registrations/{demo}/diff?from={sid}");
    checked(
        &server,
        &doc,
        ("get", "/api/registrations/{id}/diff", &diff),
        linde,
        None,
        200,
    )
    .await;
    let since = format!("/api/registrations/{demo}/since-visit");
    checked(
        &server,
        &doc,
        ("get", "/api/registrations/{id}/since-visit", &since),
        linde,
        None,
        200,
    )
    .await;
    let restore = format!("{one}/restore");
    let restore_path = "/api/registrations/{id}/snapshots/{sid}/restore";
    checked(&server, &doc, ("post", restore_path, &restore), linde, None, 403).await;
    checked(&server, &doc, ("post", restore_path, &restore), clb, None, 200).await;

    // Comments on the demo registration: whom one may mention, an anchored thread that
    // mentions someone, its reply, edit, resolve, reopen and delete, and the mention.
    let people = format!("/api/registrations/{demo}/people");
    checked(
        &server,
        &doc,
        ("get", "/api/registrations/{id}/people", &people),
        linde,
        None,
        200,
    )
    .await;
    let linde_id = me_of(&server, &doc, linde).await;
    let comments = format!("/api/registrations/{demo}/comments");
    let threads = "/api/registrations/{id}/comments";
    let anchor =
        json!({ "section": "goals", "start": "AQLr7aa9BQA=", "end": "AQLr7aa9BQU=", "quote": "Samen" });
    let first = json!({ "body": "Kijk je even mee?", "anchor": anchor, "mentions": [linde_id] });
    let started = checked(&server, &doc, ("post", threads, &comments), clb, Some(first), 201).await;
    checked(
        &server,
        &doc,
        ("post", threads, &comments),
        clb,
        Some(json!({ "body": " " })),
        400,
    )
    .await;
    let thread = started["thread"]["id"].as_str().expect("thread id");
    let replies = format!("{comments}/{thread}/replies");
    let replies_path = "/api/registrations/{id}/comments/{thread}/replies";
    let answer = json!({ "body": "Ja, morgen." });
    let replied = checked(
        &server,
        &doc,
        ("post", replies_path, &replies),
        linde,
        Some(answer),
        201,
    )
    .await;
    let unknown_thread = format!("{comments}/no-such-thread/replies");
    let again = json!({ "body": "Nog eens." });
    checked(
        &server,
        &doc,
        ("post", replies_path, &unknown_thread),
        linde,
        Some(again),
        404,
    )
    .await;
    let reply = replied["thread"]["comments"]
        .as_array()
        .and_then(|c| c.last())
        .and_then(|c| c["id"].as_str())
        .expect("the reply's id");
    let one_comment = format!("{comments}/{thread}/comments/{reply}");
    let comment_path = "/api/registrations/{id}/comments/{thread}/comments/{comment}";
    let edit = json!({ "body": "Ja, overmorgen." });
    checked(
        &server,
        &doc,
        ("patch", comment_path, &one_comment),
        linde,
        Some(edit.clone()),
        200,
    )
    .await;
    checked(
        &server,
        &doc,
        ("patch", comment_path, &one_comment),
        clb,
        Some(edit),
        403,
    )
    .await;
    for (action, route) in [
        ("resolve", "/api/registrations/{id}/comments/{thread}/resolve"),
        ("reopen", "/api/registrations/{id}/comments/{thread}/reopen"),
    ] {
        let path = format!("{comments}/{thread}/{action}");
        checked(&server, &doc, ("post", route, &path), linde, None, 200).await;
    }
    checked(
        &server,
        &doc,
        ("delete", comment_path, &one_comment),
        linde,
        None,
        200,
    )
    .await;
    checked(&server, &doc, ("get", threads, &comments), linde, None, 200).await;
    let notes = checked(
        &server,
        &doc,
        ("get", "/api/notifications", "/api/notifications"),
        linde,
        None,
        200,
    )
    .await;
    assert_eq!(notes["unread"], 1, "the mention reached Linde: {notes}");

    // Meetings: the table, planning one, the list, one, a change; and what is refused.
    let table = "/api/schools/{number}/table";
    checked(
        &server,
        &doc,
        ("get", table, "/api/schools/100001/table"),
        clb,
        None,
        200,
    )
    .await;
    let meetings = "/api/schools/{number}/meetings";
    let plan = json!({ "held_on": "2026-10-15", "participants": [linde_id], "guests": ["zorgleerkracht"] });
    let planned = checked(
        &server,
        &doc,
        ("post", meetings, "/api/schools/100001/meetings"),
        clb,
        Some(plan),
        201,
    )
    .await;
    let bad_day = json!({ "held_on": "2026-02-30" });
    checked(
        &server,
        &doc,
        ("post", meetings, "/api/schools/100001/meetings"),
        clb,
        Some(bad_day),
        400,
    )
    .await;
    checked(
        &server,
        &doc,
        ("get", meetings, "/api/schools/100001/meetings"),
        linde,
        None,
        200,
    )
    .await;
    let meeting = format!("/api/meetings/{}", planned["meeting"]["id"].as_str().expect("id"));
    checked(
        &server,
        &doc,
        ("get", "/api/meetings/{id}", &meeting),
        linde,
        None,
        200,
    )
    .await;
    let retitle = json!({ "title": "Schoolbeeldoverleg De Linde" });
    checked(
        &server,
        &doc,
        ("patch", "/api/meetings/{id}", &meeting),
        linde,
        Some(retitle),
        200,
    )
    .await;
    let started = checked(
        &server,
        &doc,
        ("post", "/api/meetings/{id}/start", &format!("{meeting}/start")),
        clb,
        None,
        200,
    )
    .await;
    assert!(started["meeting"]["started_at"].is_i64());
    let closed = checked(
        &server,
        &doc,
        ("post", "/api/meetings/{id}/close", &format!("{meeting}/close")),
        linde,
        Some(json!({ "second_moment_on": "2027-02-11" })),
        200,
    )
    .await;
    checked(
        &server,
        &doc,
        ("post", "/api/meetings/{id}/close", &format!("{meeting}/close")),
        linde,
        Some(json!({})),
        409,
    )
    .await;
    checked(
        &server,
        &doc,
        ("get", "/api/meetings/{id}/report", &format!("{meeting}/report")),
        clb,
        None,
        200,
    )
    .await;
    let second = format!(
        "/api/meetings/{}",
        closed["second_moments"][0]["id"].as_str().expect("second")
    );
    checked(
        &server,
        &doc,
        (
            "get",
            "/api/meetings/{id}/since-first",
            &format!("{second}/since-first"),
        ),
        clb,
        None,
        200,
    )
    .await;
    checked(
        &server,
        &doc,
        (
            "get",
            "/api/meetings/{id}/since-first",
            &format!("{meeting}/since-first"),
        ),
        clb,
        None,
        404,
    )
    .await;
    checked(
        &server,
        &doc,
        (
            "get",
            "/api/schools/{number}/actions",
            "/api/schools/100001/actions",
        ),
        linde,
        None,
        200,
    )
    .await;
    checked(
        &server,
        &doc,
        (
            "get",
            "/api/schools/{number}/overview",
            "/api/schools/100001/overview",
        ),
        clb,
        None,
        200,
    )
    .await;
    checked(
        &server,
        &doc,
        ("get", "/api/clb/overview", "/api/clb/overview"),
        clb,
        None,
        200,
    )
    .await;
    checked(
        &server,
        &doc,
        ("get", "/api/clb/overview", "/api/clb/overview"),
        linde,
        None,
        403,
    )
    .await;
    let started = checked(
        &server,
        &doc,
        (
            "post",
            "/api/schools/{number}/exports",
            "/api/schools/100001/exports",
        ),
        linde,
        Some(json!({ "format": "pdf" })),
        202,
    )
    .await;
    let job = format!("/api/exports/{}", started["id"].as_str().expect("an id"));
    checked(
        &server,
        &doc,
        ("get", "/api/exports/{id}", &job),
        linde,
        None,
        200,
    )
    .await;
    checked(&server, &doc, ("get", "/api/exports/{id}", &job), clb, None, 404).await;
    let chief = server.admin().await;
    let admin = As::Token(&chief.token);
    let links = "/api/admin/lsc-links";
    checked(&server, &doc, ("get", links, links), admin, None, 200).await;
    checked(&server, &doc, ("get", links, links), clb, None, 403).await;
    let link = json!({ "lsc": "800002", "school": "100002" });
    checked(
        &server,
        &doc,
        ("post", links, links),
        admin,
        Some(link.clone()),
        201,
    )
    .await;
    checked(&server, &doc, ("post", links, links), admin, Some(link), 200).await;
    let wrong = json!({ "lsc": "100001", "school": "100002" });
    checked(&server, &doc, ("post", links, links), admin, Some(wrong), 400).await;
    let (status, _) = server
        .call("DELETE", "/api/admin/lsc-links/800002/100002", admin, None)
        .await;
    assert_eq!(status, 204);
    // The admin pages' calls: institutions, users, roles, tokens, the audit log.
    let route = |path: &'static str| (path, path);
    let (get, post) = ("get", "post");
    let institutions = "/api/admin/institutions";
    checked(&server, &doc, (get, institutions, institutions), admin, None, 200).await;
    let school = json!({ "kind": "school", "number": "100077", "name": "De Brug", "served_by": "900001" });
    checked(
        &server,
        &doc,
        (post, institutions, institutions),
        admin,
        Some(school.clone()),
        201,
    )
    .await;
    checked(
        &server,
        &doc,
        (post, institutions, institutions),
        admin,
        Some(school),
        409,
    )
    .await;
    let bad = json!({ "kind": "university", "number": "1", "name": "X" });
    checked(
        &server,
        &doc,
        (post, institutions, institutions),
        admin,
        Some(bad),
        400,
    )
    .await;
    let (clb_links, _) = route("/api/admin/clb-links");
    let clb_link = json!({ "clb": "900001", "school": "100077" });
    checked(
        &server,
        &doc,
        (post, clb_links, clb_links),
        admin,
        Some(clb_link),
        200,
    )
    .await;
    let users = "/api/admin/users";
    checked(&server, &doc, (get, users, users), admin, None, 200).await;
    let eva = json!({ "email": "eva@demo.test", "display_name": "Eva Test" });
    let made = checked(&server, &doc, (post, users, users), admin, Some(eva.clone()), 201).await;
    checked(&server, &doc, (post, users, users), admin, Some(eva), 409).await;
    let weak = json!({ "email": "wim@demo.test", "display_name": "Wim", "password": "wachtwoord" });
    checked(&server, &doc, (post, users, users), admin, Some(weak), 400).await;
    let eva_id = made["user"]["id"].as_str().expect("an id");
    let roles = format!("/api/admin/users/{eva_id}/roles");
    let grant = json!({ "role": "school_dossier", "institution": "100077" });
    let roles_route = ("post", "/api/admin/users/{id}/roles", roles.as_str());
    checked(&server, &doc, roles_route, admin, Some(grant), 200).await;
    let misfit = json!({ "role": "clb_staff", "institution": "100077" });
    checked(&server, &doc, roles_route, admin, Some(misfit), 400).await;
    let revoke = format!("/api/admin/users/{eva_id}/roles/school_dossier?institution=100077");
    let revoke_route = ("delete", "/api/admin/users/{id}/roles/{role}", revoke.as_str());
    checked(&server, &doc, revoke_route, admin, None, 200).await;
    checked(&server, &doc, revoke_route, admin, None, 404).await;
    for (action, path) in [
        ("disable", "/api/admin/users/{id}/disable"),
        ("enable", "/api/admin/users/{id}/enable"),
    ] {
        let url = format!("/api/admin/users/{eva_id}/{action}");
        checked(&server, &doc, (post, path, &url), admin, None, 200).await;
    }
    let tokens = format!("/api/admin/users/{eva_id}/tokens");
    let made_token = checked(
        &server,
        &doc,
        (post, "/api/admin/users/{id}/tokens", &tokens),
        admin,
        Some(json!({ "name": "koppeling", "scope": "read" })),
        201,
    )
    .await;
    checked(
        &server,
        &doc,
        (get, "/api/admin/users/{id}/tokens", &tokens),
        admin,
        None,
        200,
    )
    .await;
    let revoke_token = format!("{tokens}/{}", made_token["id"].as_str().expect("id"));
    let (status, _) = server.call("DELETE", &revoke_token, admin, None).await;
    assert_eq!(status, 204);
    let audit = "/api/admin/audit?action=role.&limit=1";
    let page = checked(&server, &doc, (get, "/api/admin/audit", audit), admin, None, 200).await;
    assert_eq!(page["entries"].as_array().map(Vec::len), Some(1));
    assert!(page["next_before"].is_i64(), "two role changes: a next page");
    let bad_outcome = "/api/admin/audit?outcome=misschien";
    checked(
        &server,
        &doc,
        (get, "/api/admin/audit", bad_outcome),
        admin,
        None,
        400,
    )
    .await;
    checked(
        &server,
        &doc,
        (get, "/api/admin/audit", "/api/admin/audit"),
        clb,
        None,
        403,
    )
    .await;
    let list = "/api/schools/{number}/agreements";
    let agreements = checked(
        &server,
        &doc,
        ("get", list, "/api/schools/100001/agreements"),
        linde,
        None,
        200,
    )
    .await;
    let agreement = format!(
        "/api/agreements/{}",
        agreements["agreements"][0]["id"].as_str().expect("id")
    );
    checked(
        &server,
        &doc,
        ("get", "/api/agreements/{id}", &agreement),
        linde,
        None,
        200,
    )
    .await;
    checked(
        &server,
        &doc,
        ("get", "/api/agreements/{id}", &agreement),
        clb,
        None,
        404,
    )
    .await;
    // The name guard: a demo registration's names, a dismissal of no finding, the
    // school's list.
    let names = format!("/api/documents/{demo}/names");
    checked(
        &server,
        &doc,
        ("get", "/api/documents/{id}/names", &names),
        clb,
        None,
        200,
    )
    .await;
    checked(
        &server,
        &doc,
        (
            "post",
            "/api/documents/{id}/names/dismiss",
            &format!("{names}/dismiss"),
        ),
        clb,
        Some(json!({ "name": "Niemand" })),
        409,
    )
    .await;
    checked(
        &server,
        &doc,
        (
            "post",
            "/api/documents/{id}/names/dismiss",
            &format!("{names}/dismiss"),
        ),
        clb,
        Some(json!({ "name": "" })),
        400,
    )
    .await;
    let check = ("post", "/api/names/check", "/api/names/check");
    let found = checked(
        &server,
        &doc,
        check,
        linde,
        Some(json!({ "text": "Gesprek met de mama van Lotte uit 5B." })),
        200,
    )
    .await;
    assert_eq!(found["findings"][0]["name"], "Lotte");
    checked(&server, &doc, check, linde, Some(json!({ "text": 5 })), 400).await;
    checked(
        &server,
        &doc,
        ("get", "/api/schools/{number}/names", "/api/schools/100001/names"),
        linde,
        None,
        200,
    )
    .await;
    // Documents: an upload (the body is the file) answered as documented, then the lists
    // and the file.
    let uploaded = reqwest::Client::new()
        .post(server.url("/api/schools/100001/files?name=plan.txt"))
        .bearer_auth(&tom.token)
        .header("content-type", "text/plain")
        .body("Een plan.")
        .send()
        .await
        .expect("upload");
    assert_eq!(uploaded.status(), 201);
    let file: Value = uploaded.json().await.expect("json");
    let mut out = Vec::new();
    let schema = response_schema(&doc, "post", "/api/schools/{number}/files", 201);
    mismatches(&doc, schema, &file, "body", &mut out);
    assert!(
        out.is_empty(),
        "the upload's answer differs from the document:\n{}",
        out.join("\n")
    );
    let file_path = format!("/api/files/{}", file["id"].as_str().expect("id"));
    checked(
        &server,
        &doc,
        ("get", "/api/files/{id}", &file_path),
        linde,
        None,
        200,
    )
    .await;
    // Search finds it by its name.
    let search = ("get", "/api/search", "/api/search?q=plan");
    let found = checked(&server, &doc, search, linde, None, 200).await;
    assert!(
        found["results"].as_array().is_some_and(|r| !r.is_empty()),
        "{found}"
    );
    checked(
        &server,
        &doc,
        ("get", "/api/search", "/api/search?q="),
        linde,
        None,
        400,
    )
    .await;
    // The name guard on its text: read, and a dismissal of no finding.
    let names = format!("{file_path}/names");
    checked(
        &server,
        &doc,
        ("get", "/api/files/{id}/names", &names),
        linde,
        None,
        200,
    )
    .await;
    let dismiss = format!("{names}/dismiss");
    let dismissing = ("post", "/api/files/{id}/names/dismiss", dismiss.as_str());
    checked(
        &server,
        &doc,
        dismissing,
        linde,
        Some(json!({ "name": "Niemand" })),
        409,
    )
    .await;
    checked(&server, &doc, dismissing, linde, Some(json!({ "name": "" })), 400).await;
    let gone = json!({ "reason": "Dubbel opgeladen" });
    let one_file = ("delete", "/api/files/{id}", file_path.as_str());
    checked(&server, &doc, one_file, linde, Some(gone), 200).await;
    let bin = "/api/schools/{number}/files/deleted";
    checked(
        &server,
        &doc,
        ("get", bin, "/api/schools/100001/files/deleted"),
        linde,
        None,
        200,
    )
    .await;
    let restore = format!("{file_path}/restore");
    let restoring = ("post", "/api/files/{id}/restore", restore.as_str());
    checked(&server, &doc, restoring, linde, None, 200).await;
    checked(&server, &doc, restoring, linde, None, 409).await;
    // A school and an LSC's documents (the agreements of the test further down).
    let (_, with_lscs) = server
        .call("GET", "/api/schools/100001/agreements", linde, None)
        .await;
    let aid = with_lscs["agreements"][0]["id"]
        .as_str()
        .expect("agreements")
        .to_owned();
    let their = format!("/api/agreements/{aid}/files");
    checked(
        &server,
        &doc,
        ("get", "/api/agreements/{id}/files", &their),
        linde,
        None,
        200,
    )
    .await;
    let their_bin = format!("{their}/deleted");
    let bin_route = "/api/agreements/{id}/files/deleted";
    checked(&server, &doc, ("get", bin_route, &their_bin), linde, None, 200).await;
    checked(
        &server,
        &doc,
        ("get", "/api/schools/{number}/files", "/api/schools/100001/files"),
        clb,
        None,
        200,
    )
    .await;
    checked(
        &server,
        &doc,
        (
            "get",
            "/api/registrations/{id}/files",
            &format!("/api/registrations/{demo}/files"),
        ),
        clb,
        None,
        200,
    )
    .await;
    let nowhere = "/api/meetings/00000000-0000-4000-8000-000000000000";
    checked(
        &server,
        &doc,
        ("get", "/api/meetings/{id}", nowhere),
        linde,
        None,
        404,
    )
    .await;

    // Answers without a body.
    for (route, path) in [
        (
            "/api/registrations/{id}/comments/read",
            format!("{comments}/read"),
        ),
        ("/api/notifications/read", "/api/notifications/read".to_owned()),
        ("/api/logout", "/api/logout".to_owned()),
    ] {
        let (status, _) = server.call("POST", &path, linde, None).await;
        assert_eq!(status, 204, "POST {path}");
        assert!(
            operation(&doc, "post", route)["responses"]["204"].is_object(),
            "POST {route} documents its 204"
        );
    }
}

/// The caller's user id, from a checked `GET /api/me`.
async fn me_of(server: &TestServer, doc: &Value, who: As<'_>) -> String {
    let me = checked(server, doc, ("get", "/api/me", "/api/me"), who, None, 200).await;
    me["user"]["id"].as_str().expect("user id").to_owned()
}

/// The values a parameter's or a property's schema lists (`enum`), as strings.
fn listed(schema: &Value) -> Vec<String> {
    schema["enum"]
        .as_array()
        .unwrap_or_else(|| panic!("no enum in {schema}"))
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

/// The schema of a query parameter of an operation.
fn query_parameter<'a>(doc: &'a Value, method: &str, path: &str, name: &str) -> &'a Value {
    operation(doc, method, path)["parameters"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == name && p["in"] == "query"))
        .unwrap_or_else(|| panic!("{method} {path} has no query parameter {name}"))
}

/// What the document allows a request to send, the server accepts, and what the server
/// refuses, the document does not allow: API fuzzing (`scripts/fuzz-api`) sends what the
/// document allows and fails on a refusal. Each rule here was a finding of that run.
#[tokio::test]
async fn the_documents_request_rules_are_the_servers() {
    let server = TestServer::start().await;
    let doc = document(&server).await;
    let sara = server.clb().await;
    let reg = sara.creates_registration().await;
    let list = "/api/schools/{number}/registrations";
    let schemas = &doc["components"]["schemas"];

    // Filters: every listed value is accepted, a value outside the list is refused.
    for (name, outside) in [
        ("kind", "clb"),
        ("status", "half"),
        ("theme", "ß"),
        ("school_year", "2026-2028"),
    ] {
        let values = listed(&query_parameter(&doc, "get", list, name)["schema"]);
        let sample: Vec<&String> = if name == "school_year" {
            values.iter().step_by(33).collect()
        } else {
            values.iter().collect()
        };
        assert!(!values.iter().any(|v| v == outside));
        let cases = sample
            .into_iter()
            .map(|v| (v.as_str(), 200))
            .chain([(outside, 400)]);
        for (value, expected) in cases {
            let filter = format!("?{name}={}", urlencode(value));
            let (status, body) = sara
                .get(format!("/api/schools/100001/registrations{filter}"))
                .await;
            assert_eq!(status, expected, "{name}={value}: {body}");
        }
    }
    assert_eq!(
        listed(&schemas["CreateRegistration"]["properties"]["kind"]),
        ["signal", "consultation"]
    );
    let themes = listed(&schemas["Patch"]["properties"]["theme"]);
    assert!(
        themes.contains(&String::new()) && themes.len() == 17,
        "{themes:?}"
    );

    // A query string that does not parse gets the usual error body, not plain text.
    let (status, body) = sara
        .get("/api/schools/100001/registrations?theme=pesten&theme=gedrag")
        .await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (400, &json!("bad_request")),
        "{body}"
    );

    // Bodies are JSON objects: an array of the fields is refused, and changes nothing.
    let (status, body) = sara.call("PATCH", reg.path(""), Some(json!([]))).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (400, &json!("bad_request")),
        "{body}"
    );
    let (status, body) = sara.post(reg.path("/snapshots"), json!(["Naam"])).await;
    assert_eq!(status, 400, "{body}");
    let (_, versions) = sara.get(reg.path("/snapshots")).await;
    assert_eq!(versions["snapshots"], json!([]), "no version was kept");

    // Texts: not blank, no control characters (comments may hold tabs and line breaks), at
    // most as long as the document says.
    let comment = &schemas["NewThread"]["properties"]["body"];
    assert_eq!(comment["minLength"], 1);
    let longest = comment["maxLength"].as_u64().expect("maxLength") as usize;
    assert!(comment["pattern"].is_string(), "{comment}");
    let cases = [
        ("a".repeat(longest), true),
        ("een\tregel\nen nog een".into(), true),
        ("a".repeat(longest + 1), false),
        (" \n\t ".into(), false),
        ("bel\u{7}".into(), false),
    ];
    for (text, accepted) in cases {
        let (status, body) = sara.post(reg.path("/comments"), json!({ "body": text })).await;
        assert_eq!(status == 201, accepted, "comment {text:?}: {status} {body}");
    }
    let name = &schemas["NewVersion"]["properties"]["name"];
    let longest = name["maxLength"].as_u64().expect("maxLength") as usize;
    let cases = [
        ("a".repeat(longest + 1), false),
        ("twee\nregels".into(), false),
        ("a".repeat(longest), true),
    ];
    for (text, accepted) in cases {
        let (status, body) = sara.post(reg.path("/snapshots"), json!({ "name": text })).await;
        assert_eq!(status == 201, accepted, "version {text:?}: {status} {body}");
    }

    // A diff needs its `from`, and says so.
    let from = query_parameter(&doc, "get", "/api/registrations/{id}/diff", "from");
    assert_eq!(
        (&from["required"], &from["schema"]["minLength"]),
        (&json!(true), &json!(1))
    );
    let (status, _) = sara.get(reg.path("/diff?from=")).await;
    assert_eq!(status, 400);

    // A token cannot make tokens: the document offers only the session there.
    assert_eq!(
        operation(&doc, "post", "/api/tokens")["security"],
        json!([{ "session": [] }])
    );

    // The event stream is described event by event, and its first event is one it lists.
    let events = &operation(&doc, "get", "/api/schools/{number}/events")["responses"]["200"]["content"]["text/event-stream"]
        ["schema"];
    let event = resolve(&doc, events);
    let names = listed(&event["properties"]["event"]);
    let mut response = reqwest::Client::new()
        .get(server.url("/api/schools/100001/events"))
        .bearer_auth(&sara.token)
        .send()
        .await
        .expect("events");
    let chunk = tokio::time::timeout(crate::support::WAIT, response.chunk())
        .await
        .expect("a first event")
        .expect("read")
        .expect("a chunk");
    let text = String::from_utf8_lossy(&chunk);
    let first = text
        .lines()
        .find_map(|l| l.strip_prefix("event: "))
        .unwrap_or_else(|| panic!("no event line in {text:?}"));
    assert!(names.iter().any(|n| n == first), "{first} is not in {names:?}");
}

/// Percent-encodes a query value (reqwest would, but the test builds the URL itself).
fn urlencode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

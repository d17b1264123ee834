//! Search (issue 18) over a real server: Dutch inflections and compounds, accents, the
//! live index (a section typed over a WebSocket is found once stored), comments and
//! documents' names, filters, and the permission boundary: a school never finds another
//! school's words, an LSC never finds a registration.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{Person, TestServer, type_paragraph};

/// The snippets `who` finds for `query` (with `&filters`), waiting up to a few seconds for
/// at least `at_least` of them in registration `only` (when given; the index follows edits
/// a moment later).
async fn finds_in(
    who: &Person<'_>,
    query: &str,
    filters: &str,
    at_least: usize,
    only: Option<&str>,
) -> Vec<Value> {
    let path = format!(
        "/api/search?q={}{filters}",
        percent_encoding::utf8_percent_encode(query, percent_encoding::NON_ALPHANUMERIC)
    );
    let until = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (status, body) = who.get(&path).await;
        assert_eq!(status, 200, "{who} searches {query}: {body}");
        let results: Vec<Value> = body["results"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|r| only.is_none_or(|id| r["registration"]["id"] == id))
            .collect();
        if results.len() >= at_least || tokio::time::Instant::now() > until {
            return results;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn finds(who: &Person<'_>, query: &str, filters: &str, at_least: usize) -> Vec<Value> {
    finds_in(who, query, filters, at_least, None).await
}

fn marked(result: &Value) -> Vec<String> {
    let snippet: Vec<char> = result["snippet"].as_str().unwrap_or("").chars().collect();
    result["highlights"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|h| {
            let (from, to) = (
                h[0].as_u64().unwrap_or(0) as usize,
                h[1].as_u64().unwrap_or(0) as usize,
            );
            snippet[from..to].iter().collect()
        })
        .collect()
}

#[tokio::test]
async fn dutch_words_are_found_in_their_forms_and_only_where_the_caller_may_read() {
    let server = TestServer::start().await;
    let sara = server.clb().await;
    let tom = server.school_member("linde").await;
    let nadia = server.school_member("anker").await;
    let lotte = server.lsc().await;

    // A registration at De Linde: its section typed live, a comment, an attachment.
    let reg = sara.creates_registration().await;
    let client = sara.opens(&reg).await;
    type_paragraph(
        &client,
        "summary",
        "Veel leerlingen worden gepest; het pestgedrag neemt toe.",
    );
    type_paragraph(
        &client,
        "advice",
        "Werk aan de coördinatie van cyberpesten op school.",
    );
    client.durable(Duration::from_secs(10)).await.expect("stored");
    let (status, _) = tom
        .post(
            reg.path("/comments"),
            json!({ "body": "De pesterijen gebeuren vooral op de speelplaats." }),
        )
        .await;
    assert_eq!(status, 201);
    let (status, _) = crate::files::upload(
        &tom,
        &reg.path("/files"),
        "Plan tegen pesten.txt",
        "text/plain",
        b"Een plan.\n".to_vec(),
    )
    .await;
    assert_eq!(status, 201);

    // `pesten` finds `gepest`, `pestgedrag`, `cyberpesten`, `pesterijen` and `pesten` in
    // the document's name.
    let ours = |results: Vec<Value>| -> Vec<Value> {
        results
            .into_iter()
            .filter(|r| r["registration"]["id"] == reg.id.as_str())
            .collect()
    };
    let found = finds_in(&sara, "pesten", "", 4, Some(&reg.id)).await;
    let mut parts: Vec<&str> = found.iter().map(|r| r["part"].as_str().unwrap_or("")).collect();
    parts.sort();
    assert_eq!(parts, ["advice", "comment", "file", "summary"], "{found:?}");
    let summary = found.iter().find(|r| r["part"] == "summary").expect("summary");
    assert_eq!(marked(summary), ["gepest", "pestgedrag"], "{summary}");
    assert_eq!(summary["registration"]["id"], reg.id.as_str());
    assert_eq!(summary["school"]["number"], "100001");
    let advice = found.iter().find(|r| r["part"] == "advice").expect("advice");
    assert_eq!(marked(advice), ["cyberpesten"], "{advice}");

    // Accents fold both ways; every word must match.
    assert_eq!(finds(&tom, "coordinatie", "", 1).await.len(), 1);
    assert_eq!(finds(&tom, "COÖRDINATIE cyberpest", "", 1).await.len(), 1);
    assert!(finds(&tom, "coordinatie speelplaats", "", 0).await.is_empty());

    // Filters.
    let filtered = finds(&sara, "pesten", "&school=100001&kind=signal&status=open", 4).await;
    assert_eq!(ours(filtered).len(), 4);
    assert!(ours(finds(&sara, "pesten", "&kind=consultation", 0).await).is_empty());
    let elsewhere = finds(&sara, "pesten", "&school=100002", 0).await;
    assert!(
        elsewhere.iter().all(|r| r["school"]["number"] == "100002"),
        "{elsewhere:?}"
    );
    assert!(ours(elsewhere).is_empty());

    // Another school's member finds nothing of it (nor of De Linde's), an LSC nothing at all.
    for query in ["pesten", "speelplaats", "coordinatie"] {
        let theirs = finds(&nadia, query, "", 0).await;
        assert!(
            theirs.iter().all(|r| r["school"]["number"] == "100002"),
            "{theirs:?}"
        );
    }
    assert!(finds(&lotte, "pesten", "", 0).await.is_empty());

    // A section written later is found by its new words.
    type_paragraph(&client, "goals", "Zwemlessen in kleine groepen tegen de zomer.");
    client.durable(Duration::from_secs(10)).await.expect("stored");
    let goals = finds_in(&tom, "zwemles", "", 1, Some(&reg.id)).await;
    assert_eq!(goals.len(), 1, "{goals:?}");
    assert_eq!(goals[0]["part"], "goals");

    // Bad queries change nothing and say what to do.
    let (status, body) = tom.get("/api/search?q=").await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = tom.get(format!("/api/search?q={}", "a".repeat(201))).await;
    assert_eq!(status, 400);
    let (status, _) = tom.get("/api/search").await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn what_existed_before_the_index_is_indexed_at_start() {
    // The demo's registrations were written without any index: a start indexes them.
    let server = TestServer::start().await;
    let sara = server.clb().await;
    let found = finds(&sara, "afwezig", "", 1).await;
    assert!(!found.is_empty(), "the demo's registrations are searchable");
}

/// A registration at `school` on bullying, with a summary and (when given) advice, typed
/// by the CLB and stored; its id.
async fn written(sara: &Person<'_>, school: &str, summary: &str, advice: Option<&str>) -> String {
    let (status, body) = sara
        .post(
            format!("/api/schools/{school}/registrations"),
            json!({ "kind": "signal", "title": "Signaal over pesten", "theme": "pesten" }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let reg = crate::support::Reg {
        id: body["id"].as_str().expect("id").to_owned(),
    };
    let client = sara.opens(&reg).await;
    type_paragraph(&client, "summary", summary);
    if let Some(advice) = advice {
        type_paragraph(&client, "advice", advice);
    }
    client.durable(Duration::from_secs(10)).await.expect("stored");
    reg.id
}

#[tokio::test]
async fn earlier_advice_on_the_theme_comes_most_alike_first_and_only_from_readable_schools() {
    let server = TestServer::start().await;
    let sara = server.clb().await;
    let tom = server.school_member("linde").await;
    let nadia = server.school_member("anker").await;
    let alike = written(
        &sara,
        "100001",
        "Leerlingen worden gepest op de speelplaats tijdens de middagpauze.",
        Some("Meer toezicht op de speelplaats en een pestactieplan met de leerlingenraad."),
    )
    .await;
    let elsewhere = written(
        &sara,
        "100002",
        "Pesten via sociale media na schooltijd.",
        Some("Werk met herstelgesprekken en informeer de ouders over sociale media."),
    )
    .await;
    let now = written(
        &sara,
        "100001",
        "Opnieuw pesten op de speelplaats in de middagpauze.",
        None,
    )
    .await;

    // The index follows the rooms a moment later: ask until both advices are there.
    let path = format!("/api/registrations/{now}/earlier-advice");
    let until = tokio::time::Instant::now() + Duration::from_secs(15);
    let ids = |body: &Value| -> Vec<String> {
        body["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| i["registration"]["id"].as_str().map(str::to_owned))
            .filter(|id| *id == alike || *id == elsewhere)
            .collect()
    };
    let body = loop {
        let (status, body) = sara.get(&path).await;
        assert_eq!(status, 200, "{body}");
        if ids(&body).len() == 2 || tokio::time::Instant::now() > until {
            break body;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        ids(&body),
        [alike.clone(), elsewhere.clone()],
        "the CLB: most alike first, its other school too: {body}"
    );
    let first = &body["items"].as_array().expect("items")[0];
    assert!(
        first["advice"]
            .as_str()
            .unwrap_or("")
            .starts_with("Meer toezicht op de speelplaats"),
        "{first}"
    );
    assert!(first["similarity"].as_f64().unwrap_or(0.0) > 0.0);

    // The school sees its own school's advice only; another school cannot open this one.
    let (status, body) = tom.get(&path).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(ids(&body), [alike], "{body}");
    let (status, _) = nadia.get(&path).await;
    assert_eq!(status, 404);
}

/// The results of `who` for `query` (with `&filters`) that belong to the meeting or
/// agreements `id`, waiting a few seconds for at least `at_least` of them.
async fn finds_at(who: &Person<'_>, query: &str, filters: &str, at_least: usize, id: &str) -> Vec<Value> {
    let until = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let results: Vec<Value> = finds(who, query, filters, 0)
            .await
            .into_iter()
            .filter(|r| r["meeting"]["id"] == id || r["agreement"]["id"] == id)
            .collect();
        if results.len() >= at_least || tokio::time::Instant::now() > until {
            return results;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn meetings_are_found_at_the_schools_table_and_agreements_by_their_school_and_lsc_only() {
    let server = TestServer::start().await;
    let sara = server.clb().await;
    let tom = server.school_member("linde").await;
    let nadia = server.school_member("anker").await;
    let lotte = server.lsc().await;

    // A meeting at De Linde: its title and its work plan, typed live.
    let (status, planned) = tom
        .post(
            "/api/schools/100001/meetings",
            json!({ "held_on": "2026-10-15", "title": "Overleg over woordenschat" }),
        )
        .await;
    assert_eq!(status, 201, "{planned}");
    let meeting = planned["meeting"]["id"].as_str().expect("id").to_owned();
    let year = planned["meeting"]["school_year"]
        .as_str()
        .expect("year")
        .to_owned();
    let doc = crate::support::Reg { id: meeting.clone() };
    let client = tom.opens(&doc).await;
    type_paragraph(
        &client,
        "work_plan",
        "Samen werken aan begrijpend lezen en de woordenschat van nieuwkomers.",
    );
    client.durable(Duration::from_secs(10)).await.expect("stored");

    // Everyone at the school's table finds it, by its title and by its parts; the LSC too,
    // which finds no registration.
    for who in [&tom, &sara, &lotte] {
        let found = finds_at(who, "woordenschat", "", 2, &meeting).await;
        let mut parts: Vec<&str> = found.iter().map(|r| r["part"].as_str().unwrap_or("")).collect();
        parts.sort();
        assert_eq!(parts, ["title", "work_plan"], "{who}: {found:?}");
        let plan = found
            .iter()
            .find(|r| r["part"] == "work_plan")
            .expect("work plan");
        assert_eq!(marked(plan), ["woordenschat"], "{plan}");
        assert_eq!(plan["meeting"]["held_on"], "2026-10-15");
        assert!(
            plan["registration"].is_null() && plan["agreement"].is_null(),
            "{plan}"
        );
        assert_eq!(plan["school"]["number"], "100001");
    }
    assert!(finds(&nadia, "woordenschat", "", 0).await.is_empty());
    assert!(
        finds(&lotte, "afwezigheden", "", 0).await.is_empty(),
        "an LSC finds no registration"
    );

    // The kind and the school year keep to meetings.
    assert_eq!(
        finds_at(&sara, "nieuwkomers", "&kind=meeting", 1, &meeting)
            .await
            .len(),
        1
    );
    assert_eq!(
        finds_at(&sara, "nieuwkomers", &format!("&year={year}"), 1, &meeting)
            .await
            .len(),
        1
    );
    assert!(finds(&sara, "nieuwkomers", "&kind=signal", 0).await.is_empty());
    assert!(finds(&sara, "nieuwkomers", "&year=2001-2002", 0).await.is_empty());
    assert!(
        finds(&sara, "nieuwkomers", "&kind=agreements", 0)
            .await
            .is_empty()
    );
    let (status, body) = sara.get("/api/search?q=lezen&kind=vergadering").await;
    assert_eq!(status, 400, "{body}");

    // The agreements of De Linde and LSC Demo: found by the school and that LSC only.
    let (status, list) = tom.get("/api/schools/100001/agreements").await;
    assert_eq!(status, 200, "{list}");
    let ours = list["agreements"]
        .as_array()
        .and_then(|all| all.iter().find(|a| a["lsc"]["number"] == "800001"))
        .and_then(|a| a["id"].as_str())
        .expect("agreements")
        .to_owned();
    let doc = crate::support::Reg { id: ours.clone() };
    let client = lotte.opens(&doc).await;
    type_paragraph(
        &client,
        "agreements",
        "Het LSC coacht om de twee weken rond dyscalculie.",
    );
    client.durable(Duration::from_secs(10)).await.expect("stored");
    for who in [&tom, &lotte] {
        let found = finds_at(who, "dyscalculie", "", 1, &ours).await;
        assert_eq!(found.len(), 1, "{who}: {found:?}");
        assert_eq!(found[0]["part"], "agreements");
        assert_eq!(found[0]["agreement"]["lsc"]["number"], "800001");
        assert!(found[0]["registration"].is_null() && found[0]["meeting"].is_null());
    }
    assert_eq!(
        finds_at(&tom, "dyscalculie", "&kind=agreements", 1, &ours)
            .await
            .len(),
        1
    );
    // For the CLB they do not exist; another school finds nothing either.
    for who in [&sara, &nadia] {
        assert!(
            finds(who, "dyscalculie", "", 0).await.is_empty(),
            "{who} finds the agreements"
        );
    }
}

#[tokio::test]
async fn what_is_most_about_the_words_comes_first_and_a_registrations_hits_stay_together() {
    let server = TestServer::start().await;
    let sara = server.clb().await;
    // One is about bullying: in its title and twice in its summary.
    let about = written(
        &sara,
        "100001",
        "Pesten op de speelplaats; pesten na school.",
        None,
    )
    .await;

    // The other mentions bullying in compounds only, once deep in a long text; written
    // last, so that by time alone it would come first.
    let (status, body) = sara
        .post(
            "/api/schools/100001/registrations",
            json!({ "kind": "signal", "title": "Welbevinden in het derde leerjaar" }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let aside = crate::support::Reg {
        id: body["id"].as_str().expect("id").to_owned(),
    };
    let client = sara.opens(&aside).await;
    type_paragraph(
        &client,
        "summary",
        &format!(
            "{}Soms is er pestgedrag.",
            "De klas werkt rustig en de sfeer is goed. ".repeat(30)
        ),
    );
    type_paragraph(&client, "goals", "Een klasgesprek over omgaan met pestgedrag.");
    client.durable(Duration::from_secs(10)).await.expect("stored");
    let ours = |results: &[Value]| -> Vec<String> {
        results
            .iter()
            .filter_map(|r| r["registration"]["id"].as_str())
            .filter(|id| *id == about || *id == aside.id)
            .map(str::to_owned)
            .collect()
    };
    let until = tokio::time::Instant::now() + Duration::from_secs(15);
    let found = loop {
        let found = finds(&sara, "pesten", "", 0).await;
        if ours(&found).len() >= 4 || tokio::time::Instant::now() > until {
            break found;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let order = ours(&found);
    assert_eq!(
        order,
        [about.clone(), about.clone(), aside.id.clone(), aside.id.clone()],
        "{found:?}"
    );
    let first = found
        .iter()
        .find(|r| r["registration"]["id"] == about.as_str())
        .expect("about");
    assert_eq!(first["part"], "title", "the title first: {found:?}");
}

//! Meetings (schoolbeeldoverleg): planned by anyone at a school's table (school, CLB, LSC),
//! seen by them only, with participants from that table and guests by role.

use serde_json::json;

use crate::support::{Reg, TestServer, WAIT, eventually, paragraphs, type_paragraph};

#[tokio::test]
async fn school_clb_and_lsc_plan_and_see_a_meeting_and_nobody_else_does() {
    let server = TestServer::start().await;
    let sara = server.clb().await;
    let tom = server.school_member("linde").await;
    let nadia = server.school_member("anker").await;
    let lotte = server.lsc().await;

    // Who sits at De Linde's table: the school, its CLB, both LSCs that serve it.
    let (status, table) = lotte.get("/api/schools/100001/table").await;
    assert_eq!(status, 200, "{table}");
    assert_eq!(table["you"], json!([{ "partner": "lsc", "lsc": "800001" }]));
    let lscs: Vec<&str> = table["lscs"]
        .as_array()
        .expect("lscs")
        .iter()
        .filter_map(|l| l["number"].as_str())
        .collect();
    assert_eq!(lscs, ["800001", "800002"]);
    let partners: Vec<(&str, &str)> = table["people"]
        .as_array()
        .expect("people")
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap_or(""),
                p["partner"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert!(partners.contains(&("Sara Claes (CLB)", "clb")), "{partners:?}");
    assert!(
        partners.contains(&("Tom Peeters (De Linde)", "school")),
        "{partners:?}"
    );
    assert!(
        partners.contains(&("Lotte Janssens (LSC)", "lsc")),
        "{partners:?}"
    );
    assert!(
        !partners.iter().any(|(n, _)| n.contains("Het Anker")),
        "{partners:?}"
    );

    // The LSC plans it, with the CLB and the school, and a teacher by role.
    let (status, created) = lotte
        .post(
            "/api/schools/100001/meetings",
            json!({
                "held_on": "2026-10-08",
                "participants": [sara.id, tom.id],
                "guests": ["  zorgleerkracht 3de graad "],
            }),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let meeting = &created["meeting"];
    let id = meeting["id"].as_str().expect("id").to_owned();
    assert_eq!(meeting["title"], "Schoolbeeldoverleg 2026-2027");
    assert_eq!(meeting["school_year"], "2026-2027");
    assert_eq!(meeting["status"], "planned");
    assert_eq!(meeting["guests"], json!(["zorgleerkracht 3de graad"]));
    let mut names: Vec<&str> = meeting["participants"]
        .as_array()
        .expect("participants")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "Lotte Janssens (LSC)",
            "Sara Claes (CLB)",
            "Tom Peeters (De Linde)"
        ],
        "the one who plans it takes part"
    );

    // Everyone at the table sees it; another school's member and the admin find nothing.
    for person in [&sara, &tom, &lotte] {
        let (status, body) = person.get(format!("/api/meetings/{id}")).await;
        assert_eq!(status, 200, "{body}");
        let (status, list) = person.get("/api/schools/100001/meetings").await;
        assert_eq!(status, 200, "{list}");
        assert_eq!(list["meetings"][0]["id"], id.as_str());
    }
    let admin = server.admin().await;
    for person in [&nadia, &admin] {
        for path in [
            format!("/api/meetings/{id}"),
            "/api/schools/100001/meetings".into(),
            "/api/schools/100001/table".into(),
        ] {
            let (status, body) = person.get(&path).await;
            assert_eq!(status, 404, "{path}: {body}");
        }
        let (status, _) = person
            .post("/api/schools/100001/meetings", json!({ "held_on": "2026-10-09" }))
            .await;
        assert_eq!(status, 404);
    }

    // The school changes the day and the participants; the CLB plans the second moment.
    let (status, changed) = tom
        .patch(
            format!("/api/meetings/{id}"),
            json!({ "held_on": "2026-10-15", "participants": [tom.id, lotte.id] }),
        )
        .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["meeting"]["held_on"], "2026-10-15");
    assert_eq!(
        changed["meeting"]["participants"].as_array().map(Vec::len),
        Some(2)
    );
    let (status, second) = sara
        .post(
            "/api/schools/100001/meetings",
            json!({ "held_on": "2027-03-11", "title": "Tweede moment", "follows": id }),
        )
        .await;
    assert_eq!(status, 201, "{second}");
    assert_eq!(second["meeting"]["follows"], id.as_str());
    let (_, list) = tom.get("/api/schools/100001/meetings").await;
    let titles: Vec<&str> = list["meetings"]
        .as_array()
        .expect("meetings")
        .iter()
        .filter_map(|m| m["title"].as_str())
        .collect();
    assert_eq!(
        titles,
        ["Tweede moment", "Schoolbeeldoverleg 2026-2027"],
        "latest first"
    );
}

#[tokio::test]
async fn a_meeting_refuses_strangers_names_and_bad_days_and_changes_nothing() {
    let server = TestServer::start().await;
    let tom = server.school_member("linde").await;
    let nadia = server.school_member("anker").await;
    let cases = [
        (json!({ "held_on": "2026-02-30" }), "2026-10-15"),
        (json!({ "held_on": "15/10/2026" }), "2026-10-15"),
        (json!({}), "held_on"),
        (
            json!({ "held_on": "2026-10-15", "participants": [nadia.id] }),
            "guest, by their role",
        ),
        (
            json!({ "held_on": "2026-10-15", "guests": [""] }),
            "must not be empty",
        ),
        (json!({ "held_on": "2026-10-15", "guests": ["a\nb"] }), "one line"),
        (
            json!({ "held_on": "2026-10-15", "guests": vec!["x"; 31] }),
            "at most 30 guests",
        ),
        (json!({ "held_on": "2026-10-15", "title": " " }), "title"),
        (
            json!({ "held_on": "2026-10-15", "follows": "00000000-0000-4000-8000-000000000000" }),
            "same school",
        ),
    ];
    for (body, message) in cases {
        let (status, answer) = tom.post("/api/schools/100001/meetings", body.clone()).await;
        assert_eq!(status, 400, "{body}: {answer}");
        let text = answer["error"]["message"].as_str().unwrap_or("");
        assert!(text.contains(message), "{body}: {text}");
    }
    let (_, list) = tom.get("/api/schools/100001/meetings").await;
    assert_eq!(list["meetings"], json!([]), "nothing was planned");

    // A day in another school year is refused when the meeting is moved.
    let (_, created) = tom
        .post("/api/schools/100001/meetings", json!({ "held_on": "2026-10-15" }))
        .await;
    let id = created["meeting"]["id"].as_str().expect("id").to_owned();
    let (status, answer) = tom
        .patch(format!("/api/meetings/{id}"), json!({ "held_on": "2027-09-02" }))
        .await;
    assert_eq!(status, 400, "{answer}");
    let (_, unchanged) = tom.get(format!("/api/meetings/{id}")).await;
    assert_eq!(unchanged["meeting"]["held_on"], "2026-10-15");
}

#[tokio::test]
async fn each_partner_writes_their_own_part_of_a_meeting_live() {
    let server = TestServer::start().await;
    let sara = server.clb().await;
    let tom = server.school_member("linde").await;
    let lotte = server.lsc().await;
    let nadia = server.school_member("anker").await;
    let (_, planned) = tom
        .post("/api/schools/100001/meetings", json!({ "held_on": "2026-10-15" }))
        .await;
    let doc = Reg {
        id: planned["meeting"]["id"].as_str().expect("id").to_owned(),
    };
    let (clb, school, lsc) = (
        sara.opens(&doc).await,
        tom.opens(&doc).await,
        lotte.opens(&doc).await,
    );

    // What we will work on: everyone writes it, and everyone sees it live.
    type_paragraph(&school, "work_plan", "Samen werken aan begrijpend lezen");
    school
        .durable(WAIT)
        .await
        .expect("the school writes the work plan");
    eventually("the LSC sees the work plan", || {
        paragraphs(lsc.doc(), "work_plan") == ["Samen werken aan begrijpend lezen"]
    })
    .await;
    // Each partner's expectations of a priority are theirs to write.
    type_paragraph(&lsc, "p.a1.lsc.800001", "Coaching van de klasleerkracht");
    lsc.durable(WAIT)
        .await
        .expect("the LSC writes its own expectations");
    type_paragraph(&clb, "p.a1.clb", "Screening in het derde leerjaar");
    clb.durable(WAIT)
        .await
        .expect("the CLB writes its own expectations");
    eventually("the school sees both", || {
        paragraphs(school.doc(), "p.a1.lsc.800001") == ["Coaching van de klasleerkracht"]
            && paragraphs(school.doc(), "p.a1.clb") == ["Screening in het derde leerjaar"]
    })
    .await;

    // Not another partner's, and not what a meeting does not have.
    for root in ["p.a1.lsc.800001", "trajectories.800001", "summary"] {
        let again = tom.opens(&doc).await;
        type_paragraph(&again, root, "Door de school");
        let closed = again.closed(WAIT).await.expect("closed");
        assert_eq!(closed.0, 1008, "the school writes {root}: {closed:?}");
    }
    let fresh = lotte.opens(&doc).await;
    assert_eq!(
        paragraphs(fresh.doc(), "p.a1.lsc.800001"),
        ["Coaching van de klasleerkracht"]
    );
    assert!(paragraphs(fresh.doc(), "summary").is_empty());

    // Nobody else opens it.
    let bearer = format!("Bearer {}", nadia.token);
    assert_eq!(
        server.ws_status(&doc.id, &[("authorization", &bearer)]).await,
        404
    );
}

#[tokio::test]
async fn leaving_the_schools_table_closes_its_meeting_and_staying_keeps_it_open() {
    let server = TestServer::start_with(&["--access-check-secs", "1"]).await;
    let tom = server.school_member("linde").await;
    let lotte = server.lsc().await;
    let (_, planned) = tom
        .post("/api/schools/100001/meetings", json!({ "held_on": "2026-10-15" }))
        .await;
    let doc = Reg {
        id: planned["meeting"]["id"].as_str().expect("id").to_owned(),
    };
    let school = tom.opens(&doc).await;
    let lsc = lotte.opens(&doc).await;
    // A round of the watch goes by: a place at the table is no registration access, and
    // must not be mistaken for a lost one.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_eq!(lsc.status().closed, None, "the LSC's meeting stays open");
    type_paragraph(&lsc, "work_plan", "Nog steeds hier");
    lsc.durable(WAIT).await.expect("the LSC still writes");

    // LSC Demo's staff role is withdrawn: her meeting closes, the school's stays.
    server.withdraws_role(&lotte, "lsc_staff", "800001").await;
    let (code, reason) = lsc.closed(WAIT).await.expect("the LSC's meeting closes");
    assert_eq!((code, reason.as_str()), (1008, "access ended; log in again"));
    assert_eq!(school.status().closed, None);
}

#[tokio::test]
async fn school_and_lsc_keep_agreements_that_do_not_exist_for_the_clb() {
    let server = TestServer::start().await;
    let sara = server.clb().await;
    let tom = server.school_member("linde").await;
    let lotte = server.lsc().await;
    // De Linde sees its agreements with both LSCs that serve it; LSC Demo its own only.
    let (status, list) = tom.get("/api/schools/100001/agreements").await;
    assert_eq!(status, 200, "{list}");
    let lscs: Vec<&str> = list["agreements"]
        .as_array()
        .expect("agreements")
        .iter()
        .filter_map(|a| a["lsc"]["number"].as_str())
        .collect();
    assert_eq!(lscs, ["800001", "800002"]);
    let id_with = |number: &str| {
        list["agreements"]
            .as_array()
            .and_then(|all| all.iter().find(|a| a["lsc"]["number"] == number))
            .and_then(|a| a["id"].as_str())
            .expect("agreements")
            .to_owned()
    };
    let (ours, theirs) = (id_with("800001"), id_with("800002"));
    let (_, mine) = lotte.get("/api/schools/100001/agreements").await;
    assert_eq!(mine["agreements"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        mine["agreements"][0]["id"],
        ours.as_str(),
        "the same document for both"
    );
    let (status, _) = lotte.get(format!("/api/agreements/{theirs}")).await;
    assert_eq!(status, 404, "another LSC's agreements");

    // For the CLB they do not exist: not the list, not one, not the document.
    for path in [
        "/api/schools/100001/agreements".to_owned(),
        format!("/api/agreements/{ours}"),
    ] {
        let (status, body) = sara.get(&path).await;
        assert_eq!(status, 404, "{path}: {body}");
    }
    let bearer = format!("Bearer {}", sara.token);
    assert_eq!(server.ws_status(&ours, &[("authorization", &bearer)]).await, 404);

    // School and LSC write them together; a meeting's part is no part of them.
    let doc = Reg { id: ours };
    let (school, lsc) = (tom.opens(&doc).await, lotte.opens(&doc).await);
    type_paragraph(
        &school,
        "agreements",
        "Het LSC komt om de twee weken een halve dag",
    );
    school
        .durable(WAIT)
        .await
        .expect("the school writes the agreements");
    type_paragraph(&lsc, "report", "Verslag van het overleg van 15 oktober");
    lsc.durable(WAIT).await.expect("the LSC writes the report");
    eventually("each sees the other's", || {
        paragraphs(lsc.doc(), "agreements") == ["Het LSC komt om de twee weken een halve dag"]
            && paragraphs(school.doc(), "report") == ["Verslag van het overleg van 15 oktober"]
    })
    .await;
    type_paragraph(&lsc, "work_plan", "Niet hier");
    let closed = lsc.closed(WAIT).await.expect("closed");
    assert_eq!(closed.0, 1008, "{closed:?}");
}

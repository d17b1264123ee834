//! Meetings (schoolbeeldoverleg): planned by anyone at a school's table (school, CLB, LSC),
//! seen by them only, with participants from that table and guests by role.

use serde_json::{Value, json};

use crate::support::{Reg, TestServer, WAIT, eventually, keep_pdf, paragraphs, type_paragraph};

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
    // Left out is unchanged; null is no value (schemathesis found null read as left out).
    for body in [
        json!({ "held_on": null }),
        json!({ "title": null }),
        json!({ "guests": null }),
    ] {
        let (status, answer) = tom.patch(format!("/api/meetings/{id}"), body.clone()).await;
        assert_eq!(status, 400, "{body}: {answer}");
    }
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

/// The PDF of a meeting's report as `person` gets it: status, content type, bytes.
async fn report_pdf(person: &crate::support::Person<'_>, id: &str) -> (u16, String, Vec<u8>) {
    let got = person.download(format!("/api/meetings/{id}/report.pdf")).await;
    (got.status, got.kind, got.bytes)
}

#[tokio::test]
async fn closing_a_meeting_keeps_versions_plans_the_second_moment_and_makes_the_report() {
    use yrs::{Array, Map, MapPrelim, Text};

    let server = TestServer::start().await;
    let sara = server.clb().await;
    let tom = server.school_member("linde").await;
    let lotte = server.lsc().await;
    let nadia = server.school_member("anker").await;

    // Two registrations with text from before the meeting.
    let (discussed, untouched) = (
        sara.creates_registration().await,
        sara.creates_registration().await,
    );
    for reg in [&discussed, &untouched] {
        let editor = sara.opens(reg).await;
        type_paragraph(&editor, "summary", "Veel meldingen van pesten");
        editor.durable(WAIT).await.expect("written before the meeting");
    }
    let (_, planned) = tom
        .post(
            "/api/schools/100001/meetings",
            json!({ "held_on": "2026-10-15", "participants": [sara.id, lotte.id], "guests": ["zorgleerkracht"] }),
        )
        .await;
    let id = planned["meeting"]["id"].as_str().expect("id").to_owned();
    assert_eq!(planned["meeting"]["started_at"], json!(null));
    assert_eq!(planned["second_moments"], json!([]));

    // Strangers can do none of it.
    for (method, path) in [
        ("POST", format!("/api/meetings/{id}/start")),
        ("POST", format!("/api/meetings/{id}/close")),
        ("GET", format!("/api/meetings/{id}/report")),
        ("GET", format!("/api/meetings/{id}/since-first")),
    ] {
        let (status, body) = nadia.call(method, &path, Some(json!({}))).await;
        assert_eq!(status, 404, "{method} {path}: {body}");
    }
    assert_eq!(report_pdf(&nadia, &id).await.0, 404);

    // The school starts the meeting; starting again changes nothing.
    let (status, started) = tom.post(format!("/api/meetings/{id}/start"), None).await;
    assert_eq!(status, 200, "{started}");
    let at = started["meeting"]["started_at"].as_i64().expect("started_at");
    let (_, again) = sara.post(format!("/api/meetings/{id}/start"), None).await;
    assert_eq!(again["meeting"]["started_at"].as_i64(), Some(at));

    // During the meeting: one registration's agreements change, and the meeting is written
    // as the app writes it (a priority's title is text, action items are maps).
    let during = tom.opens(&discussed).await;
    type_paragraph(&during, "agreements", "Afgesproken tijdens het overleg");
    during.durable(WAIT).await.expect("agreements");
    let doc = Reg { id: id.clone() };
    let (school, lsc) = (tom.opens(&doc).await, lotte.opens(&doc).await);
    let priorities = school.doc().get_or_insert_array("priorities");
    let title = school.doc().get_or_insert_text("p.k1.title");
    let actions = school.doc().get_or_insert_array("actions");
    school.edit(|txn| {
        priorities.push_back(txn, "k1");
        title.insert(txn, 0, "Welbevinden van één klas");
        let item = actions.push_back(txn, MapPrelim::default());
        item.insert(txn, "id", "a1");
        item.insert(txn, "what", "Observatie-instrument delen");
        item.insert(txn, "owner", "lsc.800001");
        item.insert(txn, "due", "2026-11-01");
        item.insert(txn, "done", false);
    });
    type_paragraph(
        &school,
        "work_plan",
        "We werken aan ‘s ochtends een rustige start",
    );
    school.durable(WAIT).await.expect("the school writes the meeting");
    type_paragraph(&lsc, "p.k1.lsc.800001", "Coaching in de klas");
    type_paragraph(&lsc, "trajectories.800001", "Type 9: 3 trajecten");
    lsc.durable(WAIT).await.expect("the LSC writes its parts");

    // Closing asks for a second moment after the meeting, not before, and a day that is one
    // (schemathesis sent an empty day, which closed the meeting).
    let (status, body) = lotte
        .post(
            format!("/api/meetings/{id}/close"),
            json!({ "second_moment_on": "" }),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = lotte
        .post(
            format!("/api/meetings/{id}/close"),
            json!({ "second_moment_on": "2026-10-01" }),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, closed) = lotte
        .post(
            format!("/api/meetings/{id}/close"),
            json!({ "second_moment_on": "2027-02-10" }),
        )
        .await;
    assert_eq!(status, 200, "{closed}");
    assert_eq!(closed["meeting"]["status"], "closed");
    assert!(closed["meeting"]["closed_at"].as_i64() >= Some(at));
    let second = &closed["second_moments"][0];
    assert_eq!(second["held_on"], "2027-02-10");
    assert_eq!(second["follows"], json!(id));
    assert_eq!(second["status"], "planned");
    let second_id = second["id"].as_str().expect("second id").to_owned();
    let (_, second_view) = sara.get(format!("/api/meetings/{second_id}")).await;
    let people: Vec<&str> = second_view["meeting"]["participants"]
        .as_array()
        .expect("participants")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(people.len(), 3, "the same participants: {people:?}");
    assert_eq!(second_view["meeting"]["guests"], json!(["zorgleerkracht"]));

    // A named version of the meeting and of the registration changed during it only.
    let name = "Na Schoolbeeldoverleg 2026-2027 (15 oktober 2026)";
    let named = |list: &Value| -> Vec<String> {
        list["snapshots"]
            .as_array()
            .expect("snapshots")
            .iter()
            .filter(|s| s["kind"] == "named")
            .filter_map(|s| s["name"].as_str().map(str::to_owned))
            .collect()
    };
    let (_, list) = sara.get(discussed.path("/snapshots")).await;
    assert_eq!(named(&list), [name]);
    let (_, list) = sara.get(untouched.path("/snapshots")).await;
    assert!(named(&list).is_empty(), "{list}");

    // Closed is closed.
    let (status, _) = tom.post(format!("/api/meetings/{id}/close"), json!({})).await;
    assert_eq!(status, 409);
    let (status, _) = tom
        .patch(format!("/api/meetings/{id}"), json!({ "title": "Anders" }))
        .await;
    assert_eq!(status, 409);

    // The report, per reader: the school sees the registration discussed, the LSC does not.
    let (status, report) = tom.get(format!("/api/meetings/{id}/report")).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        report["text"]["priorities"][0]["title"],
        "Welbevinden van één klas"
    );
    assert_eq!(
        report["text"]["priorities"][0]["expectations"]["lsc.800001"],
        "Coaching in de klas"
    );
    assert_eq!(
        report["text"]["parts"]["trajectories.800001"],
        "Type 9: 3 trajecten"
    );
    assert_eq!(
        report["text"]["actions"][0]["what"],
        "Observatie-instrument delen"
    );
    assert_eq!(report["owners"]["lsc.800001"], "LSC Demo");
    assert_eq!(report["registrations"][0]["id"], json!(discussed.id));
    assert_eq!(report["registrations"][0]["version"], name);
    assert_eq!(report["registrations"].as_array().map(Vec::len), Some(1));
    let (_, for_lsc) = lotte.get(format!("/api/meetings/{id}/report")).await;
    assert_eq!(for_lsc["registrations"], json!([]));
    assert_eq!(for_lsc["text"], report["text"]);

    // The PDF: its text read back, and its first page as an image.
    let (status, kind, bytes) = report_pdf(&tom, &id).await;
    assert_eq!((status, kind.as_str()), (200, "application/pdf"));
    assert!(bytes.starts_with(b"%PDF-"));
    let text = keep_pdf("meeting-report", &bytes);
    for needle in [
        "Schoolbeeldoverleg 2026-2027",
        "De Linde",
        "15 oktober 2026",
        "Welbevinden van één klas",
        "Coaching in de klas",
        "‘s ochtends",
        "Type 9: 3 trajecten",
        "Observatie-instrument delen — LSC Demo, tegen 1 november 2026",
        "Gepland op 10 februari 2027",
        "Testregistratie",
        "pagina 1 van",
    ] {
        assert!(text.contains(needle), "{needle:?} not in the PDF:\n{text}");
    }
    let (_, _, for_lsc) = report_pdf(&lotte, &id).await;
    let text = keep_pdf("meeting-report-lsc", &for_lsc);
    assert!(
        !text.contains("Testregistratie"),
        "the LSC's report lists no registration:\n{text}"
    );

    // The action items afterwards: the school sees them, the LSC's is the LSC's.
    let (status, listed) = tom.get("/api/schools/100001/actions").await;
    assert_eq!(status, 200, "{listed}");
    let item = &listed["actions"][0];
    assert_eq!(item["what"], "Observatie-instrument delen");
    assert_eq!(item["meeting_id"], json!(id));
    assert_eq!(item["yours"], json!(false));
    let (_, for_lsc) = lotte.get("/api/schools/100001/actions").await;
    assert_eq!(for_lsc["actions"][0]["yours"], json!(true));
    let (status, _) = nadia.get("/api/schools/100001/actions").await;
    assert_eq!(status, 404);

    // The second moment looks back: nothing changed yet, then the registration does.
    let (status, since) = sara.get(format!("/api/meetings/{second_id}/since-first")).await;
    assert_eq!(status, 200, "{since}");
    assert_eq!(since["first"]["id"], json!(id));
    assert_eq!(since["registrations"][0]["id"], json!(discussed.id));
    assert_eq!(since["registrations"][0]["changed"], json!(false));
    assert_eq!(since["actions"][0]["done"], json!(false));
    type_paragraph(&during, "status_note", "Na het overleg: rustiger");
    during.durable(WAIT).await.expect("status note");
    let (_, since) = sara.get(format!("/api/meetings/{second_id}/since-first")).await;
    assert_eq!(since["registrations"][0]["changed"], json!(true));
    let from = since["registrations"][0]["version"]["id"]
        .as_str()
        .expect("version id");
    let (status, diff) = sara.get(discussed.path(&format!("/diff?from={from}"))).await;
    assert_eq!(status, 200, "{diff}");
    assert!(diff.to_string().contains("Na het overleg: rustiger"), "{diff}");
    // And the first meeting's own document: its version at the close says what it held,
    // and what was written after the close shows in the diff, with its author.
    let version = &since["meeting_version"];
    assert_eq!(version["name"], name);
    let parts = version["summary"]["sections"].as_object().expect("sections");
    for part in ["work_plan", "trajectories.800001", "p.k1.lsc.800001"] {
        assert!(parts.contains_key(part), "{part} in {parts:?}");
    }
    assert_eq!(since["meeting_changed"], json!(false));
    type_paragraph(&school, "report", "Verslag achteraf aangevuld");
    school.durable(WAIT).await.expect("the report after the close");
    let (_, since) = lotte.get(format!("/api/meetings/{second_id}/since-first")).await;
    assert_eq!(since["registrations"], json!([]), "an LSC sees no registrations");
    assert_eq!(since["meeting_changed"], json!(true));
    let from = since["meeting_version"]["id"].as_str().expect("meeting version");
    let (status, diff) = lotte.get(format!("/api/meetings/{id}/diff?from={from}")).await;
    assert_eq!(status, 200, "{diff}");
    assert_eq!(
        diff["stats"]["report"]["added"],
        json!("Verslag achteraf aangevuld".chars().count())
    );
    assert_eq!(diff["stats"]["work_plan"]["added"], json!(0));
    let added = &diff["sections"]["report"][0]["spans"][0];
    assert_eq!(added["change"], "added");
    assert_eq!(
        diff["authors"][added["author"].as_str().expect("author")]["name"],
        "Tom Peeters (De Linde)"
    );
    let (status, _) = lotte.get(format!("/api/meetings/{id}/diff")).await;
    assert_eq!(status, 400, "no version to compare from");
    let (status, _) = nadia.get(format!("/api/meetings/{id}/diff?from={from}")).await;
    assert_eq!(status, 404);
    let (status, _) = sara.get(format!("/api/meetings/{id}/since-first")).await;
    assert_eq!(status, 404, "the first meeting follows none");
}

#[tokio::test]
async fn an_administrator_links_and_unlinks_a_learning_support_centre_over_the_api() {
    let server = TestServer::start_with(&["--access-check-secs", "1"]).await;
    let admin = server.admin().await;
    let sara = server.clb().await;
    let lotte = server.lsc().await;
    let pairs = |links: &Value| -> Vec<(String, String)> {
        links["links"]
            .as_array()
            .expect("links")
            .iter()
            .map(|l| {
                let n = |side: &str| l[side]["number"].as_str().unwrap_or("").to_owned();
                (n("lsc"), n("school"))
            })
            .collect()
    };
    let (status, links) = admin.get("/api/admin/lsc-links").await;
    assert_eq!(status, 200, "{links}");
    let demo = [("800001", "100001"), ("800001", "100002"), ("800002", "100001")];
    assert_eq!(pairs(&links), demo.map(|(l, s)| (l.to_owned(), s.to_owned())));

    // Nobody else: a CLB's staff and an LSC's staff are refused, and change nothing.
    for person in [&sara, &lotte] {
        let (status, _) = person.get("/api/admin/lsc-links").await;
        assert_eq!(status, 403);
        let (status, _) = person
            .post(
                "/api/admin/lsc-links",
                json!({ "lsc": "800002", "school": "100002" }),
            )
            .await;
        assert_eq!(status, 403);
        let (status, _) = person.delete("/api/admin/lsc-links/800001/100002").await;
        assert_eq!(status, 403);
    }
    // Numbers that are no LSC and school are a clear error.
    for (lsc, school) in [("100001", "100002"), ("800001", "900001"), ("800001", "800002")] {
        let (status, body) = admin
            .post("/api/admin/lsc-links", json!({ "lsc": lsc, "school": school }))
            .await;
        assert_eq!(status, 400, "{lsc} -> {school}: {body}");
    }
    let (_, unchanged) = admin.get("/api/admin/lsc-links").await;
    assert_eq!(pairs(&unchanged), pairs(&links));

    // The specific LSC now serves Het Anker too; saying it again changes nothing.
    let (status, made) = admin
        .post(
            "/api/admin/lsc-links",
            json!({ "lsc": "800002", "school": "100002" }),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(made["school"]["name"], "Middenschool Het Anker");
    let (status, _) = admin
        .post(
            "/api/admin/lsc-links",
            json!({ "lsc": "800002", "school": "100002" }),
        )
        .await;
    assert_eq!(status, 200);

    // LSC Demo stops serving Het Anker: Lotte loses its meetings, her open one closes.
    let (status, planned) = lotte
        .post("/api/schools/100002/meetings", json!({ "held_on": "2026-10-20" }))
        .await;
    assert_eq!(status, 201, "{planned}");
    let doc = Reg {
        id: planned["meeting"]["id"].as_str().expect("id").to_owned(),
    };
    let open = lotte.opens(&doc).await;
    let (status, _) = admin.delete("/api/admin/lsc-links/800001/100002").await;
    assert_eq!(status, 204);
    let (code, _) = open.closed(WAIT).await.expect("her meeting at Het Anker closes");
    assert_eq!(code, 1008);
    let (status, _) = lotte.get(format!("/api/meetings/{}", doc.id)).await;
    assert_eq!(status, 404);
    let (status, _) = lotte.get("/api/schools/100002/meetings").await;
    assert_eq!(status, 404);
    let (status, _) = lotte.get("/api/schools/100001/meetings").await;
    assert_eq!(status, 200, "De Linde is still hers");
    let (status, _) = admin.delete("/api/admin/lsc-links/800001/100002").await;
    assert_eq!(status, 404, "gone already");

    let audit = server.database().await.audit("institution.").await;
    let actions: Vec<&str> = audit.iter().map(|a| a.action.as_str()).collect();
    assert!(
        actions.contains(&"institution.link") && actions.contains(&"institution.unlink"),
        "{actions:?}"
    );
}

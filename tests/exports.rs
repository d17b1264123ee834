//! For the doorlichting: the overview of a school year, and the exports (one registration
//! and a school year as PDF, read back with poppler; the school year as CSV); for those who
//! read the registrations only.

use serde_json::{Value, json};

use crate::support::{TestServer, WAIT, keep_pdf, type_paragraph};

#[tokio::test]
async fn registrations_export_as_pdf_and_csv_for_those_who_read_them_only() {
    let server = TestServer::start().await;
    let sara = server.clb().await;
    let tom = server.school_member("linde").await;
    let nadia = server.school_member("anker").await;
    let lotte = server.lsc().await;

    let reg = sara.creates_registration().await;
    let editor = sara.opens(&reg).await;
    type_paragraph(&editor, "summary", "Veel meldingen van pesten op de speelplaats");
    type_paragraph(&editor, "goals", "Rust in de klas — één aanpak voor ‘s middags");
    editor.durable(WAIT).await.expect("written");
    let (status, _) = sara
        .post(
            reg.path("/snapshots"),
            json!({ "name": "Na schoolbeeldoverleg 1" }),
        )
        .await;
    assert_eq!(status, 201);
    let (status, _) = tom
        .post(
            reg.path("/comments"),
            json!({ "body": "Is dit haalbaar voor de leerkrachten?" }),
        )
        .await;
    assert_eq!(status, 201);
    let (_, shown) = tom.get(reg.path("")).await;
    let year = shown["registration"]["school_year"]
        .as_str()
        .expect("year")
        .to_owned();

    // One registration, with its comments: sections, history with authors, the comment.
    let one = tom.download(reg.path("/export.pdf?comments=true")).await;
    assert_eq!((one.status, one.kind.as_str()), (200, "application/pdf"));
    assert!(one.disposition.starts_with("attachment;"), "{}", one.disposition);
    let text = keep_pdf("registration-export", &one.bytes);
    for needle in [
        "Testregistratie",
        "Basisschool De Linde",
        "Veel meldingen van pesten op de speelplaats",
        "Rust in de klas — één aanpak voor ‘s middags",
        "Advies van het CLB",
        "“Na schoolbeeldoverleg 1”",
        "door Sara Claes (CLB)",
        "Reacties",
        "Is dit haalbaar voor de leerkrachten?",
        "pagina 1 van",
    ] {
        assert!(text.contains(needle), "{needle:?} not in:\n{text}");
    }
    let plain = tom.download(reg.path("/export.pdf")).await;
    let text = keep_pdf("registration-export-plain", &plain.bytes);
    assert!(!text.contains("Is dit haalbaar"), "no comments unless asked");

    // The school year: a list, then each registration from a new page.
    let all = sara
        .download(format!(
            "/api/schools/100001/export.pdf?year={year}&comments=false"
        ))
        .await;
    assert_eq!(all.status, 200);
    let text = keep_pdf("school-year-export", &all.bytes);
    assert!(
        text.contains("Samenwerkingsdossier Basisschool De Linde"),
        "{text}"
    );
    assert!(text.contains(&format!("Schooljaar {year}")), "{text}");
    assert!(text.contains("Testregistratie — Signaal, open"), "{text}");
    let (_, listed) = sara
        .get(format!("/api/schools/100001/registrations?school_year={year}"))
        .await;
    let count = listed["registrations"].as_array().expect("list").len();
    assert!(
        text.contains(&format!("pagina {} van", count + 1)),
        "a page per registration after the list ({count}):\n{text}"
    );

    // The overview as CSV: a row per registration; a title that would be a formula is not.
    let (status, _) = sara
        .post(
            "/api/schools/100001/registrations",
            json!({ "kind": "consultation", "title": "=HYPERLINK(\"http://x\")", "theme": "gedrag" }),
        )
        .await;
    assert_eq!(status, 201);
    let csv = tom
        .download(format!("/api/schools/100001/overview.csv?year={year}"))
        .await;
    assert_eq!((csv.status, csv.kind.as_str()), (200, "text/csv; charset=utf-8"));
    let csv = String::from_utf8(csv.bytes).expect("UTF-8");
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some(
            "id,soort,titel,thema,status,gestart door,aangemaakt,laatst gewijzigd,reacties,besproken op overleg"
        )
    );
    let row = csv
        .lines()
        .find(|l| l.starts_with(&reg.id))
        .expect("the registration's row");
    assert!(
        row.contains(",signal,Testregistratie,pesten,open,Sara Claes (CLB),"),
        "{row}"
    );
    assert!(row.ends_with(",1,"), "one comment thread, no meeting: {row}");
    assert!(csv.contains("\"'=HYPERLINK(\"\"http://x\"\")\""), "{csv}");
    assert_eq!(csv.lines().count(), count + 2, "header and a row each: {csv}");

    // Nobody else: another school's member and an LSC find nothing; a bad year is refused.
    for person in [&nadia, &lotte] {
        for path in [
            reg.path("/export.pdf"),
            "/api/schools/100001/export.pdf".to_owned(),
            "/api/schools/100001/overview.csv".to_owned(),
        ] {
            let got = person.download(&path).await;
            assert_eq!(got.status, 404, "{person} {path}");
        }
    }
    let got = tom.download("/api/schools/100001/overview.csv?year=2026").await;
    assert_eq!(got.status, 400);
}

#[tokio::test]
async fn the_overview_counts_what_the_list_holds_and_shows_what_waits_and_was_discussed() {
    let server = TestServer::start().await;
    let sara = server.clb().await;
    let tom = server.school_member("linde").await;
    let nadia = server.school_member("anker").await;
    let lotte = server.lsc().await;

    let waiting = sara.creates_registration().await;
    let (status, consultation) = sara
        .post(
            "/api/schools/100001/registrations",
            json!({ "kind": "consultation", "title": "Vraag over gedrag in de klas", "theme": "gedrag" }),
        )
        .await;
    assert_eq!(status, 201, "{consultation}");
    let done = consultation["id"].as_str().expect("id").to_owned();
    let (status, _) = sara
        .patch(
            format!("/api/registrations/{done}"),
            json!({ "status": "closed" }),
        )
        .await;
    assert_eq!(status, 200);
    let (_, shown) = tom.get(waiting.path("")).await;
    let year = shown["registration"]["school_year"]
        .as_str()
        .expect("year")
        .to_owned();

    // Discussed at a meeting: changed between its start and its close.
    let (_, planned) = tom
        .post("/api/schools/100001/meetings", json!({ "held_on": "2026-12-03" }))
        .await;
    let meeting = planned["meeting"]["id"].as_str().expect("meeting").to_owned();
    let (status, _) = tom.post(format!("/api/meetings/{meeting}/start"), None).await;
    assert_eq!(status, 200);
    let editor = tom.opens(&waiting).await;
    type_paragraph(&editor, "status_note", "Besproken: de school observeert verder");
    editor.durable(WAIT).await.expect("status note");
    let (status, _) = tom
        .post(format!("/api/meetings/{meeting}/close"), json!({}))
        .await;
    assert_eq!(status, 200);

    let (status, overview) = tom.get(format!("/api/schools/100001/overview?year={year}")).await;
    assert_eq!(status, 200, "{overview}");
    let (_, listed) = tom
        .get(format!("/api/schools/100001/registrations?school_year={year}"))
        .await;
    let list = listed["registrations"].as_array().expect("list");
    let open = |r: &Value| r["status"] == "open";
    assert_eq!(overview["year"], json!(year));
    assert_eq!(overview["total"], json!(list.len()));
    assert_eq!(overview["open"], json!(list.iter().filter(|r| open(r)).count()));
    let counted = |field: &str, key: &str| -> (u64, u64) {
        let c = overview[field]
            .as_array()
            .expect("counts")
            .iter()
            .find(|c| c["key"] == key)
            .unwrap_or_else(|| panic!("{key} in {field}: {overview}"));
        (c["total"].as_u64().unwrap_or(0), c["open"].as_u64().unwrap_or(0))
    };
    for kind in ["signal", "consultation"] {
        let of_kind: Vec<&Value> = list.iter().filter(|r| r["kind"] == kind).collect();
        let expected = (
            of_kind.len() as u64,
            of_kind.iter().filter(|r| open(r)).count() as u64,
        );
        assert_eq!(counted("by_kind", kind), expected, "{kind}");
    }
    let pesten: Vec<&Value> = list.iter().filter(|r| r["theme"] == "pesten").collect();
    assert_eq!(
        counted("by_theme", "pesten"),
        (
            pesten.len() as u64,
            pesten.iter().filter(|r| open(r)).count() as u64
        )
    );
    assert_eq!(counted("by_theme", "gedrag").1, 0, "the consultation is closed");

    // What waits: open ones only, the longest open first, with their last activity.
    let longest = overview["longest_open"].as_array().expect("longest open");
    assert!(!longest.is_empty() && longest.len() <= 10);
    assert!(
        longest.iter().all(|r| r["id"] != json!(done)),
        "closed ones do not wait"
    );
    let days: Vec<i64> = longest.iter().filter_map(|r| r["days_open"].as_i64()).collect();
    assert!(days.windows(2).all(|w| w[0] >= w[1]), "{days:?}");
    let mine = longest.iter().find(|r| r["id"] == json!(waiting.id));
    if let Some(mine) = mine {
        assert_eq!(mine["days_open"], json!(0));
        assert!(mine["last_activity"].as_i64() >= shown["registration"]["created_at"].as_i64());
    }
    assert!(overview["last_activity"].as_i64().is_some());
    let discussed = overview["discussed"].as_array().expect("discussed");
    assert_eq!(discussed.len(), 1, "{discussed:?}");
    assert_eq!(discussed[0]["id"], json!(waiting.id));
    assert_eq!(
        discussed[0]["meetings"],
        json!(["Schoolbeeldoverleg 2026-2027 (3 december 2026)"])
    );

    // The trend: every year with registrations, this year's as the list says.
    let this = overview["years"]
        .as_array()
        .expect("years")
        .iter()
        .find(|y| y["year"] == json!(year))
        .expect("this year")
        .clone();
    assert_eq!(
        this["signals"].as_u64().unwrap_or(0) + this["consultations"].as_u64().unwrap_or(0),
        list.len() as u64
    );

    for person in [&nadia, &lotte] {
        let (status, _) = person.get("/api/schools/100001/overview").await;
        assert_eq!(status, 404, "{person}");
    }
    let (status, _) = tom.get("/api/schools/100001/overview?year=2026-2028").await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn the_clb_sees_the_rode_draden_across_its_schools_and_what_waits_for_a_school() {
    let server = TestServer::start().await;
    let sara = server.clb().await;
    let tom = server.school_member("linde").await;
    let lotte = server.lsc().await;

    // Bullying comes up at both schools; De Linde answers on one signal.
    let linde = sara.creates_registration().await;
    let (status, anker) = sara
        .post(
            "/api/schools/100002/registrations",
            json!({ "kind": "signal", "title": "Pesten in de tweede graad", "theme": "pesten" }),
        )
        .await;
    assert_eq!(status, 201, "{anker}");
    let (status, _) = tom
        .post(
            linde.path("/comments"),
            json!({ "body": "We bekijken het in de cel." }),
        )
        .await;
    assert_eq!(status, 201);

    let (status, overview) = sara.get("/api/clb/overview").await;
    assert_eq!(status, 200, "{overview}");
    let names: Vec<&str> = overview["schools"]
        .as_array()
        .expect("schools")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names, ["Basisschool De Linde", "Middenschool Het Anker"]);
    let threads = overview["threads"].as_array().expect("threads");
    let pesten = threads.iter().find(|t| t["theme"] == "pesten").expect("pesten");
    let at: Vec<&str> = pesten["schools"]
        .as_array()
        .expect("schools")
        .iter()
        .filter_map(|s| s["number"].as_str())
        .collect();
    assert!(at.contains(&"100001") && at.contains(&"100002"), "{pesten}");
    let spread: Vec<usize> = threads
        .iter()
        .map(|t| t["schools"].as_array().map_or(0, Vec::len))
        .collect();
    assert!(
        spread.windows(2).all(|w| w[0] >= w[1]),
        "the most widespread first: {spread:?}"
    );

    let waiting = overview["waiting"].as_array().expect("waiting");
    let find = |id: &str| waiting.iter().find(|w| w["id"] == json!(id)).cloned();
    let answered = find(&linde.id).expect("De Linde's signal waits");
    assert_eq!(answered["reacted"], json!(true));
    assert_eq!(answered["days_waiting"], json!(0));
    let unanswered = find(anker["id"].as_str().expect("id")).expect("Het Anker's signal waits");
    assert_eq!(unanswered["reacted"], json!(false));
    assert_eq!(unanswered["school_name"], "Middenschool Het Anker");
    assert!(waiting.iter().all(|w| w["days_waiting"].as_i64().is_some()));

    // For CLB staff only.
    for person in [&tom, &lotte] {
        let (status, body) = person.get("/api/clb/overview").await;
        assert_eq!(status, 403, "{person}: {body}");
    }
    let (status, _) = sara.get("/api/clb/overview?year=1999").await;
    assert_eq!(status, 400);
}

/// The text of a part of a ZIP file (a Word or Excel file).
fn part(bytes: &[u8], name: &str) -> String {
    use std::io::Read;
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("an Office file is a ZIP");
    let mut text = String::new();
    zip.by_name(name)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .read_to_string(&mut text)
        .expect("UTF-8");
    text
}

#[tokio::test]
async fn registrations_export_as_word_and_the_overview_as_excel_for_those_who_read_them_only() {
    let server = TestServer::start().await;
    let sara = server.clb().await;
    let tom = server.school_member("linde").await;
    let nadia = server.school_member("anker").await;
    let lotte = server.lsc().await;
    let reg = sara.creates_registration().await;
    let editor = sara.opens(&reg).await;
    type_paragraph(
        &editor,
        "advice",
        "Meer toezicht — één aanpak voor ‘s middags & daarna",
    );
    editor.durable(WAIT).await.expect("written");
    let (status, _) = tom
        .post(
            reg.path("/comments"),
            json!({ "body": "Is dit haalbaar voor de leerkrachten?" }),
        )
        .await;
    assert_eq!(status, 201);
    let (status, _) = sara
        .post(
            "/api/schools/100001/registrations",
            json!({ "kind": "consultation", "title": "=HYPERLINK(\"http://x\")", "theme": "gedrag" }),
        )
        .await;
    assert_eq!(status, 201);
    let (_, shown) = tom.get(reg.path("")).await;
    let year = shown["registration"]["school_year"]
        .as_str()
        .expect("year")
        .to_owned();
    let docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";

    // One registration as Word, with its comments: its words, Dutch characters and all.
    let one = tom.download(reg.path("/export.docx?comments=true")).await;
    assert_eq!((one.status, one.kind.as_str()), (200, docx));
    assert!(one.disposition.starts_with("attachment;"), "{}", one.disposition);
    let body = part(&one.bytes, "word/document.xml");
    for needle in [
        "Testregistratie",
        "Advies van het CLB",
        "Meer toezicht — één aanpak voor ‘s middags &amp; daarna",
        "Is dit haalbaar voor de leerkrachten?",
        "Heading2",
    ] {
        assert!(body.contains(needle), "{needle:?} not in the Word file");
    }
    assert!(part(&one.bytes, "word/footer1.xml").contains("samenwerkingsdossier Basisschool De Linde"));

    // The school year as Word: the list, then each registration from a new page.
    let all = sara
        .download(format!("/api/schools/100001/export.docx?year={year}"))
        .await;
    assert_eq!((all.status, all.kind.as_str()), (200, docx));
    let body = part(&all.bytes, "word/document.xml");
    assert!(body.contains("Samenwerkingsdossier Basisschool De Linde"));
    let (_, listed) = sara
        .get(format!("/api/schools/100001/registrations?school_year={year}"))
        .await;
    let count = listed["registrations"].as_array().expect("list").len();
    assert_eq!(
        body.matches("w:pageBreakBefore").count(),
        count,
        "a page per registration"
    );

    // The overview as Excel: a row per registration, a formula-like title kept as text.
    let xlsx = tom
        .download(format!("/api/schools/100001/overview.xlsx?year={year}"))
        .await;
    assert_eq!(
        (xlsx.status, xlsx.kind.as_str()),
        (
            200,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        )
    );
    let strings = part(&xlsx.bytes, "xl/sharedStrings.xml");
    for needle in [
        "besproken op overleg",
        "Testregistratie",
        "Sara Claes (CLB)",
        "=HYPERLINK(\"http://x\")",
    ] {
        assert!(strings.contains(needle), "{needle:?} not in {strings}");
    }
    let sheet = part(&xlsx.bytes, "xl/worksheets/sheet1.xml");
    assert!(!sheet.contains("<f>"), "no formulas: {sheet}");
    assert!(sheet.contains("<autoFilter"), "a filter on the header");
    assert_eq!(sheet.matches("<row ").count(), count + 1, "header and a row each");

    // Nobody else; a bad year is refused.
    for person in [&nadia, &lotte] {
        for path in [
            reg.path("/export.docx"),
            "/api/schools/100001/export.docx".to_owned(),
            "/api/schools/100001/overview.xlsx".to_owned(),
        ] {
            assert_eq!(person.download(&path).await.status, 404, "{person} {path}");
        }
    }
    assert_eq!(
        tom.download("/api/schools/100001/overview.xlsx?year=2026")
            .await
            .status,
        400
    );
}

/// Polls an export of `person`'s until it is no longer running; the `done` figures seen on
/// the way, and the last answer.
pub async fn export_finished(person: &crate::support::Person<'_>, id: &str) -> (Vec<i64>, Value) {
    let start = tokio::time::Instant::now();
    let mut seen = Vec::new();
    loop {
        let (status, job) = person.get(format!("/api/exports/{id}")).await;
        assert_eq!(status, 200, "{job}");
        seen.push(job["done"].as_i64().expect("done"));
        if job["status"] != "running" {
            return (seen, job);
        }
        assert!(start.elapsed() < WAIT, "the export never finished: {job}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_school_year_export_is_made_in_the_background_and_fetched_by_its_maker_only() {
    let server = TestServer::start().await;
    let sara = server.clb().await;
    let tom = server.school_member("linde").await;
    let nadia = server.school_member("anker").await;
    let lotte = server.lsc().await;
    let reg = sara.creates_registration().await;
    let editor = sara.opens(&reg).await;
    type_paragraph(&editor, "summary", "Veel meldingen van pesten op de speelplaats");
    editor.durable(WAIT).await.expect("written");
    let (status, _) = tom
        .post(reg.path("/comments"), json!({ "body": "Wie volgt dit op?" }))
        .await;
    assert_eq!(status, 201);
    let (_, shown) = tom.get(reg.path("")).await;
    let year = shown["registration"]["school_year"]
        .as_str()
        .expect("year")
        .to_owned();
    let (_, listed) = tom
        .get(format!("/api/schools/100001/registrations?school_year={year}"))
        .await;
    let count = listed["registrations"].as_array().expect("list").len() as i64;

    // Asked for: running at once, then gathered registration by registration, then ready.
    let (status, started) = tom
        .post(
            "/api/schools/100001/exports",
            json!({ "format": "pdf", "year": year, "comments": true }),
        )
        .await;
    assert_eq!(status, 202, "{started}");
    assert_eq!(started["total"], count);
    assert_eq!(started["format"], "pdf");
    let name = format!("samenwerkingsdossier-100001-{year}.pdf");
    assert_eq!(started["name"], name.as_str());
    let id = started["id"].as_str().expect("an id").to_owned();
    let (seen, job) = export_finished(&tom, &id).await;
    assert_eq!(job["status"], "ready", "{job}");
    assert_eq!(job["done"], count, "every registration gathered: {job}");
    assert!(
        seen.windows(2).all(|w| w[0] <= w[1]),
        "progress only grows: {seen:?}"
    );
    let file = tom.download(format!("/api/exports/{id}/file")).await;
    assert_eq!((file.status, file.kind.as_str()), (200, "application/pdf"));
    assert!(file.disposition.contains(&name), "{}", file.disposition);
    assert_eq!(job["size"], file.bytes.len() as i64);
    let text = keep_pdf("school-year-export-background", &file.bytes);
    for needle in [
        "Samenwerkingsdossier Basisschool De Linde",
        "Veel meldingen van pesten op de speelplaats",
        "Wie volgt dit op?",
        &format!("pagina {} van", count + 1),
    ] {
        assert!(text.contains(needle), "{needle:?} not in:\n{text}");
    }

    // The same as Word, asked by the CLB.
    let (status, started) = sara
        .post(
            "/api/schools/100001/exports",
            json!({ "format": "docx", "year": year }),
        )
        .await;
    assert_eq!(status, 202, "{started}");
    let other = started["id"].as_str().expect("an id").to_owned();
    let (_, job) = export_finished(&sara, &other).await;
    assert_eq!(job["status"], "ready", "{job}");
    let file = sara.download(format!("/api/exports/{other}/file")).await;
    assert_eq!(
        file.kind,
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    );
    let body = part(&file.bytes, "word/document.xml");
    assert!(body.contains("Veel meldingen van pesten op de speelplaats"));
    assert!(!body.contains("Wie volgt dit op?"), "no comments unless asked");

    // Only its maker follows and fetches it; who may not export the school may not ask.
    for path in [format!("/api/exports/{id}"), format!("/api/exports/{id}/file")] {
        assert_eq!(sara.download(&path).await.status, 404, "{path}");
    }
    for person in [&nadia, &lotte] {
        let (status, _) = person
            .post("/api/schools/100001/exports", json!({ "format": "pdf" }))
            .await;
        assert_eq!(status, 404, "{person}");
    }

    // Bad requests are refused and start nothing.
    for body in [
        json!({ "format": "odt" }),
        json!({ "format": "pdf", "year": "2026" }),
        json!({ "format": "pdf", "comments": null }),
        json!({}),
        json!([]),
    ] {
        let (status, _) = tom.post("/api/schools/100001/exports", body.clone()).await;
        assert_eq!(status, 400, "{body}");
    }
    for path in [
        "/api/exports/00000000-0000-4000-8000-000000000000",
        "/api/exports/not-an-id/file",
    ] {
        assert_eq!(tom.download(path).await.status, 404, "{path}");
    }
}

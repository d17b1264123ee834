//! Exports for the doorlichting: one registration and a school year as PDF (read back with
//! poppler), the school year as CSV; for those who read the registrations only.

use serde_json::json;

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

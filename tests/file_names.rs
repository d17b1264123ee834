//! The name guard on documents (issue 19, point 4) over a real server: the text of an
//! uploaded Word file, CSV and PDF is read in a child process, its suspected names counted
//! in the file's list and the school's list of places to look at, shown with the words
//! around them, dismissed as no name; a file that defeats the reader is "unreadable" and
//! the server goes on.

use std::io::Write;
use std::time::Duration;

use serde_json::{Value, json};

use crate::files::{upload, zip_with};
use crate::support::{Person, TestServer};

/// A one-page PDF whose page shows `text` (Helvetica), with a correct cross-reference table.
fn pdf_saying(text: &str) -> Vec<u8> {
    let content = format!("BT /F1 18 Tf 72 720 Td ({text}) Tj ET");
    pdf_with_page(format!("<< /Length {} >>\nstream\n{content}\nendstream", content.len()).into_bytes())
}

/// A PDF whose one page's content is `stream` (object 4, given whole).
fn pdf_with_page(stream: Vec<u8>) -> Vec<u8> {
    let objects: Vec<Vec<u8>> = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".to_vec(),
        stream,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>".to_vec(),
    ];
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, object) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend_from_slice(object);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for offset in offsets {
        out.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

/// A Word file whose body is `paragraphs`.
fn docx_saying(paragraphs: &[&str]) -> Vec<u8> {
    let body: String = paragraphs
        .iter()
        .map(|p| format!("<w:p><w:r><w:t>{p}</w:t></w:r></w:p>"))
        .collect();
    let document = format!(r#"<w:document xmlns:w="w"><w:body>{body}</w:body></w:document>"#);
    zip_with(&[
        ("[Content_Types].xml", b"<Types/>"),
        ("word/document.xml", document.as_bytes()),
    ])
}

/// Uploads to De Linde's documents; the file's id.
async fn keep(who: &Person<'_>, name: &str, declared: &str, bytes: Vec<u8>) -> String {
    let (status, file) = upload(who, "/api/schools/100001/files", name, declared, bytes).await;
    assert_eq!(status, 201, "{name}: {file}");
    assert!(
        ["pending", "none"].contains(&file["versions"][0]["text_check"]["status"].as_str().unwrap_or("")),
        "{file}"
    );
    file["id"].as_str().expect("id").to_owned()
}

/// The newest version's text check once the text has been read.
async fn checked(who: &Person<'_>, id: &str) -> Value {
    let until = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (status, file) = who.get(format!("/api/files/{id}")).await;
        assert_eq!(status, 200, "{file}");
        let check = file["versions"][0]["text_check"].clone();
        if check["status"] != "pending" {
            return check;
        }
        assert!(
            tokio::time::Instant::now() < until,
            "the text of {id} was never read"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn names_in(found: &Value) -> Vec<String> {
    found["findings"]
        .as_array()
        .map(|f| {
            f.iter()
                .map(|x| x["name"].as_str().unwrap_or("").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn listed(list: &Value) -> Vec<String> {
    list["documents"]
        .as_array()
        .map(|d| {
            d.iter()
                .filter(|x| x["kind"] == "file")
                .map(|x| x["title"].as_str().unwrap_or("").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn names_in_the_text_of_documents_are_counted_shown_in_context_and_dismissed() {
    let server = TestServer::start().await;
    let tom = server.school_member("linde").await;
    let sara = server.clb().await;
    let nadia = server.school_member("anker").await;

    let word = keep(
        &tom,
        "verslag.docx",
        "",
        docx_saying(&["Overleg over de klas.", "Gesprek met juf An over het leesbeleid."]),
    )
    .await;
    let csv = keep(
        &tom,
        "lijst.csv",
        "text/csv",
        b"klas;opmerking\n5B;Lotte Peeters kwam laat\n".to_vec(),
    )
    .await;
    let pdf = keep(
        &tom,
        "brief.pdf",
        "application/pdf",
        pdf_saying("Meester Tom belde de ouders."),
    )
    .await;
    let clean = keep(
        &tom,
        "plan.txt",
        "text/plain",
        b"Het zorgbeleid van Basisschool De Linde.\n".to_vec(),
    )
    .await;
    let image = keep(
        &tom,
        "schema.png",
        "image/png",
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec(),
    )
    .await;
    let damaged = keep(
        &tom,
        "kapot.pdf",
        "application/pdf",
        b"%PDF-1.4\n1 0 obj << /Type /Catal".to_vec(),
    )
    .await;

    for (id, status, names) in [
        (&word, "checked", 1),
        (&csv, "checked", 1),
        (&pdf, "checked", 1),
        (&clean, "checked", 0),
        (&damaged, "unreadable", 0),
    ] {
        let check = checked(&tom, id).await;
        assert_eq!(check["status"], status, "{id}: {check}");
        assert_eq!(check["names"], names, "{id}: {check}");
    }
    let (_, png) = tom.get(format!("/api/files/{image}")).await;
    assert_eq!(png["versions"][0]["text_check"]["status"], "none", "{png}");

    // The names, with the words around them, read from the file when asked.
    let (status, found) = sara.get(format!("/api/files/{word}/names")).await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(names_in(&found), ["An"]);
    assert_eq!(
        found["findings"][0]["around"],
        "Overleg over de klas. Gesprek met juf An over het leesbeleid."
    );
    assert_eq!(
        names_in(&sara.get(format!("/api/files/{csv}/names")).await.1),
        ["Lotte Peeters"]
    );
    assert_eq!(
        names_in(&sara.get(format!("/api/files/{pdf}/names")).await.1),
        ["Tom"]
    );
    let (_, unreadable) = sara.get(format!("/api/files/{damaged}/names")).await;
    assert_eq!(unreadable["status"], "unreadable");

    // The school's list of places to look at names the files with names.
    let (_, list) = tom.get("/api/schools/100001/names").await;
    let mut files = listed(&list);
    files.sort();
    assert_eq!(files, ["brief.pdf", "lijst.csv", "verslag.docx"], "{list}");

    // The CLB says `An` is no name here: the count and the list follow; the dismissal is kept.
    let (status, left) = sara
        .post(
            format!("/api/files/{word}/names/dismiss"),
            json!({ "name": "an" }),
        )
        .await;
    assert_eq!(status, 200, "{left}");
    assert!(names_in(&left).is_empty());
    assert_eq!(
        left["dismissals"][0]["dismissed_by"]["name"], "Sara Claes (CLB)",
        "{left}"
    );
    assert_eq!(checked(&tom, &word).await["names"], 0);
    assert!(!listed(&tom.get("/api/schools/100001/names").await.1).contains(&"verslag.docx".to_owned()));

    // Bad or stale dismissals change nothing.
    let (status, _) = sara
        .post(
            format!("/api/files/{word}/names/dismiss"),
            json!({ "name": "an" }),
        )
        .await;
    assert_eq!(status, 409);
    let (status, _) = sara
        .post(format!("/api/files/{csv}/names/dismiss"), json!({ "name": "" }))
        .await;
    assert_eq!(status, 400);
    let (status, _) = sara
        .post(format!("/api/files/{csv}/names/dismiss"), json!({ "naam": "x" }))
        .await;
    assert_eq!(status, 400);
    assert_eq!(checked(&tom, &csv).await["names"], 1);

    // A new version without the name clears the file from the list.
    let (status, _) = upload(
        &tom,
        &format!("/api/files/{csv}/versions"),
        "lijst.csv",
        "text/csv",
        b"klas;opmerking\n5B;een leerling kwam laat\n".to_vec(),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(checked(&tom, &csv).await["names"], 0);
    let (_, older) = tom.get(format!("/api/files/{csv}")).await;
    let first = older["versions"][1]["id"]
        .as_str()
        .expect("the first version")
        .to_owned();
    assert_eq!(
        names_in(&tom.get(format!("/api/files/{csv}/names?version={first}")).await.1),
        ["Lotte Peeters"]
    );

    // Another school's member reaches none of it.
    let (status, _) = nadia.get(format!("/api/files/{pdf}/names")).await;
    assert_eq!(status, 404);
    let (status, _) = nadia
        .post(
            format!("/api/files/{pdf}/names/dismiss"),
            json!({ "name": "Tom" }),
        )
        .await;
    assert_eq!(status, 404);
    assert!(listed(&nadia.get("/api/schools/100002/names").await.1).is_empty());
}

#[tokio::test]
async fn a_pdf_that_unpacks_to_gigabytes_is_unreadable_and_the_server_goes_on() {
    let server = TestServer::start().await;
    let tom = server.school_member("linde").await;
    // 256 MiB of drawing operators in a stream of a few megabytes: parsed, they would take
    // gigabytes. The reader's memory limit stops it, not the server's.
    let mut deflate = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    let piece = b"q Q ".repeat(16 * 1024);
    for _ in 0..(256 * 1024 * 1024 / piece.len()) {
        deflate.write_all(&piece).expect("compress");
    }
    let packed = deflate.finish().expect("compress");
    let mut stream = format!("<< /Length {} /Filter /FlateDecode >>\nstream\n", packed.len()).into_bytes();
    stream.extend_from_slice(&packed);
    stream.extend_from_slice(b"\nendstream");
    let bomb = pdf_with_page(stream);
    assert!(bomb.len() < 8 * 1024 * 1024, "{} bytes", bomb.len());
    let id = keep(&tom, "bom.pdf", "application/pdf", bomb).await;
    let check = checked(&tom, &id).await;
    assert_eq!(check["status"], "unreadable", "{check}");
    assert!(server.is_running().await);
    let (status, _) = tom.get("/api/schools/100001/files").await;
    assert_eq!(status, 200);
}

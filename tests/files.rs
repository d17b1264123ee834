//! Documents (issue 17) over a real server: every allowed type kept and downloaded as an
//! attachment, spoofed, oversized and cut-off uploads refused with nothing left behind,
//! names that are never paths, versions, the same content stored once, ranges, and who
//! may see which file.

use std::io::{Cursor, Write};

use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use crate::support::{Person, TestServer};

/// Uploads `bytes` as `name` with `Content-Type: declared` to `path`: status and body.
pub(crate) async fn upload(
    who: &Person<'_>,
    path: &str,
    name: &str,
    declared: &str,
    bytes: Vec<u8>,
) -> (u16, Value) {
    let url = who.server().url(&format!("{path}?name={}", encode(name)));
    let response = reqwest::Client::new()
        .post(url)
        .bearer_auth(&who.token)
        .header("content-type", declared)
        .body(bytes)
        .send()
        .await
        .expect("upload");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

pub(crate) fn zip_with(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut out);
        let stored =
            zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
        for (name, bytes) in entries {
            zip.start_file(*name, stored).expect("entry");
            zip.write_all(bytes).expect("write");
        }
        zip.finish().expect("finish");
    }
    out.into_inner()
}

/// A small PDF (enough for its type: the header and an end).
fn pdf(text: &str) -> Vec<u8> {
    format!("%PDF-1.4\n% {text}\n%%EOF\n").into_bytes()
}

/// What is left in the node's upload spool (nothing, once uploads are done).
fn spooled(server: &TestServer) -> usize {
    std::fs::read_dir(server.data.join("files/incoming")).map_or(0, |d| d.count())
}

#[tokio::test]
async fn every_allowed_type_is_kept_and_downloads_as_an_attachment() {
    let server = TestServer::start().await;
    let tom = server.school_member("linde").await;
    let sara = server.clb().await;
    let docx = zip_with(&[
        ("[Content_Types].xml", b"<Types/>"),
        ("word/document.xml", b"<w/>"),
    ]);
    let xlsx = zip_with(&[("[Content_Types].xml", b"<Types/>"), ("xl/workbook.xml", b"<x/>")]);
    let pptx = zip_with(&[
        ("[Content_Types].xml", b"<Types/>"),
        ("ppt/presentation.xml", b"<p/>"),
    ]);
    let odt = zip_with(&[
        ("mimetype", b"application/vnd.oasis.opendocument.text"),
        ("content.xml", b"<o/>"),
    ]);
    let ods = zip_with(&[
        ("mimetype", b"application/vnd.oasis.opendocument.spreadsheet"),
        ("content.xml", b"<o/>"),
    ]);
    let files: Vec<(&str, &str, Vec<u8>, &str)> = vec![
        (
            "verslag.pdf",
            "application/pdf",
            pdf("verslag"),
            "application/pdf",
        ),
        (
            "afspraken.docx",
            "application/octet-stream",
            docx,
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        (
            "cijfers.xlsx",
            "",
            xlsx,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        (
            "voorstelling.pptx",
            "",
            pptx,
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        ),
        ("tekst.odt", "", odt, "application/vnd.oasis.opendocument.text"),
        (
            "rekenblad.ods",
            "",
            ods,
            "application/vnd.oasis.opendocument.spreadsheet",
        ),
        (
            "schema.png",
            "image/png",
            b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec(),
            "image/png",
        ),
        (
            "foto.jpg",
            "image/jpeg",
            b"\xff\xd8\xff\xe0\0\x10JFIF\0".to_vec(),
            "image/jpeg",
        ),
        (
            "notities.txt",
            "text/plain",
            "Notities: één.\n".as_bytes().to_vec(),
            "text/plain",
        ),
        (
            "overzicht.csv",
            "application/vnd.ms-excel",
            b"thema;aantal\npesten;3\n".to_vec(),
            "text/csv",
        ),
    ];
    for (name, declared, bytes, mime) in &files {
        let (status, file) = upload(&tom, "/api/schools/100001/files", name, declared, bytes.clone()).await;
        assert_eq!(status, 201, "{name}: {file}");
        let version = &file["versions"][0];
        assert_eq!(version["name"], *name);
        assert_eq!(version["mime"], *mime);
        assert_eq!(version["size"], bytes.len());
        assert_eq!(version["uploaded_by"]["id"], json!(tom.id));
        // The CLB downloads it: the same bytes, as an attachment that is never a page.
        let id = file["id"].as_str().expect("id");
        let got = sara.download(format!("/api/files/{id}/content")).await;
        assert_eq!(got.status, 200, "{name}");
        assert_eq!(got.bytes, *bytes, "{name}");
        assert_eq!(got.kind, *mime);
        assert!(
            got.disposition.starts_with("attachment; filename=\""),
            "{}",
            got.disposition
        );
    }
    let (status, list) = sara.get("/api/schools/100001/files").await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["files"].as_array().map(Vec::len), Some(files.len()));
    assert_eq!(
        list["files"][0]["versions"][0]["name"], "overzicht.csv",
        "newest first"
    );

    // The headers that keep a file from ever running as a page, and ranges.
    let id = list["files"][9]["id"].as_str().expect("the PDF").to_owned();
    let client = reqwest::Client::new();
    let response = client
        .get(server.url(&format!("/api/files/{id}/content")))
        .bearer_auth(&sara.token)
        .header("range", "bytes=2-5")
        .send()
        .await
        .expect("range");
    assert_eq!(response.status(), 206);
    let headers = response.headers().clone();
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap_or("")
            .contains("sandbox")
    );
    assert_eq!(headers["accept-ranges"], "bytes");
    let total = pdf("verslag").len();
    assert_eq!(headers["content-range"], format!("bytes 2-5/{total}").as_str());
    assert_eq!(
        response.bytes().await.expect("bytes").as_ref(),
        &pdf("verslag")[2..6]
    );
    let response = client
        .get(server.url(&format!("/api/files/{id}/content")))
        .bearer_auth(&sara.token)
        .header("range", "bytes=99999-")
        .send()
        .await
        .expect("range");
    assert_eq!(response.status(), 416);

    // Every download is recorded: who read which file.
    let downloads = server.database().await.audit("file.download").await;
    assert!(downloads.len() > files.len(), "{downloads:?}");
    assert_eq!(spooled(&server), 0, "nothing left in the spool");
}

#[tokio::test]
async fn spoofed_oversized_and_cut_off_uploads_are_refused_and_leave_nothing() {
    let server = TestServer::start_with(&["--max-file-bytes", "4096"]).await;
    let tom = server.school_member("linde").await;
    let place = "/api/schools/100001/files";
    let refused: Vec<(&str, &str, Vec<u8>, u16)> = vec![
        (
            "verslag.pdf",
            "application/pdf",
            b"<!DOCTYPE html><script>alert(1)</script>".to_vec(),
            415,
        ),
        (
            "logo.txt",
            "text/plain",
            b"<svg xmlns='http://www.w3.org/2000/svg'/>".to_vec(),
            415,
        ),
        ("brief.docx", "", zip_with(&[("readme.txt", b"hi")]), 415),
        ("verslag.docx", "", pdf("echt een pdf"), 415),
        ("verslag.pdf", "text/html", pdf("echt een pdf"), 415),
        ("setup.exe", "", b"MZ\x90\0\x03\0\0\0".to_vec(), 415),
        ("groot.txt", "text/plain", vec![b'a'; 5000], 413),
        ("", "application/pdf", pdf("zonder naam"), 400),
    ];
    for (name, declared, bytes, code) in refused {
        let (status, answer) = upload(&tom, place, name, declared, bytes).await;
        assert_eq!(status, code, "{name}: {answer}");
        assert!(
            answer["error"]["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{answer}"
        );
    }

    // Too large by its declared length: refused before a byte of it is read.
    let mut stream = tokio::net::TcpStream::connect(server.addr())
        .await
        .expect("connect");
    let head = format!(
        "POST {place}?name=groot.pdf HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/pdf\r\nContent-Length: 100000000\r\n\r\n",
        server.addr(),
        tom.token
    );
    stream.write_all(head.as_bytes()).await.expect("head");
    let mut answer = vec![0u8; 1024];
    let n = tokio::time::timeout(
        crate::support::WAIT,
        tokio::io::AsyncReadExt::read(&mut stream, &mut answer),
    )
    .await
    .expect("answered without the body")
    .expect("read");
    assert!(
        String::from_utf8_lossy(&answer[..n]).starts_with("HTTP/1.1 413"),
        "{}",
        String::from_utf8_lossy(&answer[..n])
    );

    // Cut off halfway: the client goes away; nothing is kept.
    let mut stream = tokio::net::TcpStream::connect(server.addr())
        .await
        .expect("connect");
    let head = format!(
        "POST {place}?name=half.txt HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: text/plain\r\nContent-Length: 3000\r\n\r\n",
        server.addr(),
        tom.token
    );
    stream.write_all(head.as_bytes()).await.expect("head");
    stream.write_all(&[b'x'; 1000]).await.expect("half");
    drop(stream);

    let (status, list) = tom.get("/api/schools/100001/files").await;
    assert_eq!(status, 200);
    assert_eq!(list["files"], json!([]), "nothing refused was kept");
    let start = tokio::time::Instant::now();
    while spooled(&server) > 0 {
        assert!(
            start.elapsed() < crate::support::WAIT,
            "the cut-off upload's spool is removed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn names_are_for_display_versions_keep_the_old_and_content_is_stored_once() {
    let server = TestServer::start().await;
    let tom = server.school_member("linde").await;
    let sara = server.clb().await;
    let reg = sara.creates_registration().await;
    let place = format!("/api/registrations/{}/files", reg.id);

    // A path and control characters in a name are not kept.
    let (status, file) = upload(
        &tom,
        &place,
        "../../etc/\"pass\"\nwd.txt",
        "text/plain",
        b"een".to_vec(),
    )
    .await;
    assert_eq!(status, 201, "{file}");
    assert_eq!(file["versions"][0]["name"], "pass wd.txt");
    assert_eq!(file["place"], "registration");
    let id = file["id"].as_str().expect("id").to_owned();
    let got = sara.download(format!("/api/files/{id}/content")).await;
    assert_eq!(
        got.disposition,
        "attachment; filename=\"pass wd.txt\"; filename*=UTF-8''pass%20wd%2Etxt"
    );

    // A name in a file's name is pointed out (the name guard), never refused.
    let (status, named) = upload(
        &tom,
        &place,
        "verslag_Lotte_Peeters.txt",
        "text/plain",
        b"x".to_vec(),
    )
    .await;
    assert_eq!(status, 201, "{named}");
    assert_eq!(named["versions"][0]["names"][0]["name"], "Lotte Peeters");
    assert_eq!(file["versions"][0]["names"], json!([]));

    // A new version keeps the old one, each downloadable.
    let response = reqwest::Client::new()
        .post(server.url(&format!(
            "/api/files/{id}/versions?name={}&note={}",
            encode("notities v2.txt"),
            encode("Aangevuld na het overleg")
        )))
        .bearer_auth(&sara.token)
        .header("content-type", "text/plain")
        .body("twee")
        .send()
        .await
        .expect("version");
    assert_eq!(response.status(), 201);
    let file: Value = response.json().await.expect("json");
    let versions = file["versions"].as_array().expect("versions");
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0]["note"], "Aangevuld na het overleg");
    assert_eq!(versions[0]["uploaded_by"]["id"], json!(sara.id));
    let old = versions[1]["id"].as_str().expect("old");
    assert_eq!(
        tom.download(format!("/api/files/{id}/content")).await.bytes,
        b"twee"
    );
    assert_eq!(
        tom.download(format!("/api/files/{id}/content?version={old}"))
            .await
            .bytes,
        b"een"
    );

    // The same content uploaded at once by many is one blob, and every upload a file.
    let pdf = pdf("hetzelfde");
    let uploads = (0..8).map(|i| {
        let (tom, place, pdf) = (&tom, place.clone(), pdf.clone());
        async move { upload(tom, &place, &format!("kopie {i}.pdf"), "application/pdf", pdf).await }
    });
    let results = futures_util::future::join_all(uploads).await;
    let hashes: std::collections::BTreeSet<String> = results
        .iter()
        .map(|(status, file)| {
            assert_eq!(*status, 201, "{file}");
            file["versions"][0]["sha256"].as_str().unwrap_or("").to_owned()
        })
        .collect();
    assert_eq!(hashes.len(), 1);
    if crate::support::engine() == samen_server::testing::Engine::Sqlite {
        let sha = hashes.iter().next().expect("hash");
        let blob = server.data.join("files").join(&sha[..2]).join(sha);
        assert_eq!(std::fs::read(blob).expect("one blob on disk"), pdf);
    }
    let (_, list) = sara.get(&place).await;
    assert_eq!(list["files"].as_array().map(Vec::len), Some(10));
}

#[tokio::test]
async fn files_are_seen_only_where_their_place_is() {
    let server = TestServer::start().await;
    let tom = server.school_member("linde").await;
    let nadia = server.school_member("anker").await;
    let sara = server.clb().await;
    let lotte = server.lsc().await;
    let (status, file) = upload(
        &tom,
        "/api/schools/100001/files",
        "plan.pdf",
        "application/pdf",
        pdf("plan"),
    )
    .await;
    assert_eq!(status, 201, "{file}");
    let id = file["id"].as_str().expect("id");
    for (who, expected) in [(&sara, 200), (&tom, 200), (&nadia, 404), (&lotte, 404)] {
        let (status, _) = who.get(format!("/api/files/{id}")).await;
        assert_eq!(status, expected, "{who} reads the file");
        assert_eq!(
            who.download(format!("/api/files/{id}/content")).await.status,
            expected,
            "{who} downloads it"
        );
        let (status, _) = who.get("/api/schools/100001/files").await;
        assert_eq!(status, expected, "{who} lists De Linde's documents");
    }
    let (status, _) = upload(
        &nadia,
        "/api/schools/100001/files",
        "x.pdf",
        "application/pdf",
        pdf("x"),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = upload(
        &lotte,
        "/api/schools/100001/files",
        "x.pdf",
        "application/pdf",
        pdf("x"),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = tom.get("/api/files/00000000-0000-4000-8000-000000000000").await;
    assert_eq!(status, 404);
    let (status, _) = tom.get("/api/files/not-a-file").await;
    assert_eq!(status, 404);
}

/// Opens a school's event stream as `who`.
async fn events_of(who: &Person<'_>) -> reqwest::Response {
    let response = reqwest::Client::new()
        .get(who.server().url("/api/schools/100001/events"))
        .bearer_auth(&who.token)
        .send()
        .await
        .expect("events");
    assert_eq!(response.status(), 200);
    response
}

/// What a stream says within `wait`.
async fn heard(events: &mut reqwest::Response, wait: std::time::Duration) -> String {
    let mut seen = String::new();
    let until = tokio::time::Instant::now() + wait;
    while let Ok(Ok(Some(chunk))) = tokio::time::timeout_at(until, events.chunk()).await {
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    seen
}

#[tokio::test]
async fn an_upload_appears_live_for_the_schools_viewers_and_an_lsc_has_no_stream() {
    let server = TestServer::start().await;
    let tom = server.school_member("linde").await;
    let sara = server.clb().await;
    let lotte = server.lsc().await;
    let mut clb_events = events_of(&sara).await;
    // An LSC has no stream of the school's registrations and documents at all.
    let (status, _) = lotte.get("/api/schools/100001/events").await;
    assert_eq!(status, 404);
    let (status, _) = upload(
        &tom,
        "/api/schools/100001/files",
        "Leesbeleid.pdf",
        "application/pdf",
        pdf("plan"),
    )
    .await;
    assert_eq!(status, 201);
    let wait = std::time::Duration::from_secs(2);
    let clb_heard = heard(&mut clb_events, wait).await;
    assert!(
        clb_heard.contains("event: file") && clb_heard.contains("Leesbeleid.pdf"),
        "{clb_heard}"
    );
}

#[tokio::test]
async fn a_file_is_deleted_with_a_reason_by_its_uploader_or_the_clb_and_restored_within_30_days() {
    let server = TestServer::start().await;
    let tom = server.school_member("linde").await;
    let sara = server.clb().await;
    // The school may not delete what the CLB uploaded.
    let (_, clbs) = upload(
        &sara,
        "/api/schools/100001/files",
        "advies.pdf",
        "application/pdf",
        pdf("advies"),
    )
    .await;
    let clbs = format!("/api/files/{}", clbs["id"].as_str().expect("id"));
    let (status, answer) = tom
        .call("DELETE", &clbs, Some(json!({ "reason": "weg ermee" })))
        .await;
    assert_eq!(status, 403, "{answer}");

    let (_, file) = upload(
        &tom,
        "/api/schools/100001/files",
        "plan.pdf",
        "application/pdf",
        pdf("plan"),
    )
    .await;
    let id = file["id"].as_str().expect("id").to_owned();
    let path = format!("/api/files/{id}");
    // A reason is needed.
    let (status, _) = tom.call("DELETE", &path, Some(json!({ "reason": "  " }))).await;
    assert_eq!(status, 400);
    let (status, _) = tom.call("DELETE", &path, Some(json!({}))).await;
    assert_eq!(status, 400);

    // The uploader deletes it: gone from the list and for downloads, kept with the reason.
    let (status, deleted) = tom
        .call(
            "DELETE",
            &path,
            Some(json!({ "reason": "Vervangen door het nieuwe plan" })),
        )
        .await;
    assert_eq!(status, 200, "{deleted}");
    assert_eq!(deleted["deleted"]["reason"], "Vervangen door het nieuwe plan");
    assert_eq!(deleted["deleted"]["by"]["id"], json!(tom.id));
    let (_, list) = sara.get("/api/schools/100001/files").await;
    assert_eq!(
        list["files"].as_array().map(Vec::len),
        Some(1),
        "only the CLB's is left"
    );
    assert_eq!(sara.download(format!("{path}/content")).await.status, 404);
    let (status, bin) = sara.get("/api/schools/100001/files/deleted").await;
    assert_eq!(status, 200, "{bin}");
    assert_eq!(bin["files"][0]["id"], json!(id));
    let audit = server.database().await.audit("file.delete").await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].detail.as_deref(), Some("Vervangen door het nieuwe plan"));

    // The CLB restores it; restoring it again is a conflict.
    let (status, restored) = sara.post(format!("{path}/restore"), None).await;
    assert_eq!(status, 200, "{restored}");
    assert_eq!(restored["deleted"], Value::Null);
    let (status, _) = sara.post(format!("{path}/restore"), None).await;
    assert_eq!(status, 409);
    assert_eq!(sara.download(format!("{path}/content")).await.bytes, pdf("plan"));
    let (_, bin) = sara.get("/api/schools/100001/files/deleted").await;
    assert_eq!(bin["files"], json!([]));
}

#[tokio::test]
async fn a_school_and_its_lsc_keep_documents_the_clb_never_sees() {
    let server = TestServer::start().await;
    let tom = server.school_member("linde").await;
    let sara = server.clb().await;
    let lotte = server.lsc().await;
    let (_, agreements) = tom.get("/api/schools/100001/agreements").await;
    let aid = agreements["agreements"]
        .as_array()
        .expect("agreements")
        .iter()
        .find(|a| a["lsc"]["number"] == "800001")
        .and_then(|a| a["id"].as_str())
        .expect("De Linde's agreements with LSC Demo")
        .to_owned();
    let place = format!("/api/agreements/{aid}/files");
    // The school has the agreements open: their room tells it of the LSC's upload (no
    // school stream may, the CLB listens there).
    let options = |who: &Person<'_>| samen_client::Options {
        auth: samen_client::Auth::Bearer(who.token.clone()),
        acks: true,
        ..Default::default()
    };
    let wait = std::time::Duration::from_secs(10);
    let open = samen_client::Client::connect(&server.ws_url(&aid), options(&tom))
        .await
        .expect("the school opens the agreements");
    open.synced(wait).await.expect("synced");
    let (status, file) = upload(
        &lotte,
        &place,
        "Tijdskader.pdf",
        "application/pdf",
        pdf("tijdskader"),
    )
    .await;
    assert_eq!(status, 201, "{file}");
    let id = file["id"].as_str().expect("id").to_owned();
    // Told of the upload, then of its text read by the name guard.
    open.wait_for("told of the upload", wait, |s| s.files_changed >= 2)
        .await
        .expect("the agreements' room tells of their new file");
    let (status, list) = tom.get(&place).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["files"][0]["id"], json!(id));
    assert_eq!(
        tom.download(format!("/api/files/{id}/content")).await.bytes,
        pdf("tijdskader")
    );

    // For the CLB they do not exist: not the list, not the file, not an upload.
    let (status, _) = sara.get(&place).await;
    assert_eq!(status, 404);
    assert_eq!(
        sara.download(format!("/api/files/{id}/content")).await.status,
        404
    );
    let (status, _) = sara.get(format!("/api/files/{id}")).await;
    assert_eq!(status, 404);
    let (status, _) = upload(&sara, &place, "x.pdf", "application/pdf", pdf("x")).await;
    assert_eq!(status, 404);
    let (_, deleted) = sara.get("/api/schools/100001/files/deleted").await;
    assert_eq!(deleted["files"], json!([]));

    // The school may not delete the LSC's document; the LSC may, and restore it.
    let (status, _) = tom
        .call(
            "DELETE",
            &format!("/api/files/{id}"),
            Some(json!({ "reason": "x" })),
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = lotte
        .call(
            "DELETE",
            &format!("/api/files/{id}"),
            Some(json!({ "reason": "Oude versie" })),
        )
        .await;
    assert_eq!(status, 200);
    open.wait_for("told of the deletion", wait, |s| s.files_changed >= 3)
        .await
        .expect("and of its deletion");
    let (status, bin) = lotte.get(format!("{place}/deleted")).await;
    assert_eq!(status, 200, "{bin}");
    assert_eq!(bin["files"][0]["id"], json!(id));
    let (status, _) = lotte.post(format!("/api/files/{id}/restore"), None).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn the_rust_client_uploads_adds_a_version_and_downloads() {
    let server = TestServer::start().await;
    let tom = server.school_member("linde").await;
    let files = samen_client::files::Files::new(&server.url(""), &tom.token);
    let file = files
        .upload(
            "/api/schools/100001/files",
            "plan.txt",
            "text/plain",
            b"versie een".to_vec(),
        )
        .await
        .expect("upload");
    let id = file["id"].as_str().expect("id").to_owned();
    let file = files
        .add_version(&id, "plan.txt", "text/plain", b"versie twee".to_vec())
        .await
        .expect("version");
    let old = file["versions"][1]["id"].as_str().expect("old").to_owned();
    let newest = files.download(&id, None).await.expect("download");
    assert_eq!(newest.bytes, b"versie twee");
    assert_eq!(newest.content_type, "text/plain");
    assert!(newest.disposition.starts_with("attachment"));
    assert_eq!(
        files.download(&id, Some(&old)).await.expect("old").bytes,
        b"versie een"
    );
    // A refusal says why, in the API's words.
    match files
        .upload(
            "/api/schools/100001/files",
            "script.pdf",
            "application/pdf",
            b"<html>".to_vec(),
        )
        .await
    {
        Err(samen_client::files::FilesError::Refused { status, code, .. }) => {
            assert_eq!((status, code.as_str()), (415, "unsupported_type"));
        }
        other => panic!("{:?}", other.map(|v| v.to_string())),
    }
}

#[tokio::test]
async fn a_slow_upload_outlasts_the_ordinary_request_timeout() {
    // Calls may take 1 s; a document trickling in over 3 s is still kept.
    let server = TestServer::start_with(&["--request-timeout-secs", "1"]).await;
    let tom = server.school_member("linde").await;
    let body = b"Een trage verbinding op school.\n".repeat(3);
    let mut stream = tokio::net::TcpStream::connect(server.addr())
        .await
        .expect("connect");
    let head = format!(
        "POST /api/schools/100001/files?name=traag.txt HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        server.addr(),
        tom.token,
        body.len()
    );
    stream.write_all(head.as_bytes()).await.expect("head");
    for piece in body.chunks(body.len() / 3) {
        tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
        stream.write_all(piece).await.expect("piece");
    }
    let mut answer = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut answer)
        .await
        .expect("answer");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
}

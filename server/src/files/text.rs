//! The words inside a document, for the name guard (issue 19): text and CSV as they are,
//! Word, Excel, PowerPoint and OpenDocument from the XML inside their ZIP, PDF through
//! `pdf-extract`. Images have none. A document is someone else's bytes, so this runs in a
//! child process with bounded memory and time (`files::check`), never in the server's own.

use std::io::{Cursor, Read};

use quick_xml::events::Event;
use thiserror::Error;

use super::FileKind;

/// The most text read from one document (bytes of UTF-8); the rest is not checked.
pub const MAX_TEXT_BYTES: usize = 8 * 1024 * 1024;

/// The most one XML part inside an Office or OpenDocument file may unpack to: a ZIP can
/// claim anything, and a small one can unpack to gigabytes.
const MAX_PART_BYTES: u64 = 64 * 1024 * 1024;

/// Why no text came out of a document.
#[derive(Debug, Error)]
pub enum TextError {
    /// The document is damaged, protected, or made in a way the reader does not follow.
    #[error("the text could not be read: {0}")]
    Unreadable(String),
}

/// The text of a document of `kind`, up to [`MAX_TEXT_BYTES`]; `None` for images, which
/// hold no text to read.
pub fn extract(kind: FileKind, content: &[u8]) -> Result<Option<String>, TextError> {
    let text = match kind {
        FileKind::Png | FileKind::Jpeg => return Ok(None),
        FileKind::Txt | FileKind::Csv => String::from_utf8_lossy(content).into_owned(),
        FileKind::Pdf => {
            pdf_extract::extract_text_from_mem(content).map_err(|e| TextError::Unreadable(e.to_string()))?
        }
        FileKind::Docx => office(content, |name| name.starts_with("word/"), &OFFICE)?,
        FileKind::Xlsx => office(content, |name| name.starts_with("xl/"), &OFFICE)?,
        FileKind::Pptx => office(
            content,
            |name| name.starts_with("ppt/slides/") || name.starts_with("ppt/notesSlides/"),
            &OFFICE,
        )?,
        FileKind::Odt | FileKind::Ods => office(
            content,
            |name| name == "content.xml" || name == "styles.xml",
            &OPEN_DOCUMENT,
        )?,
    };
    Ok(Some(bounded(text)))
}

fn bounded(mut text: String) -> String {
    if text.len() > MAX_TEXT_BYTES {
        let mut end = MAX_TEXT_BYTES;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

/// How an XML format holds its text, by elements' local names.
struct Markup {
    /// Elements whose character data is the text (`w:t`; `text:p`).
    text: &'static [&'static [u8]],
    /// Elements that end a line (`w:p`, `a:br`; `text:line-break`).
    breaks: &'static [&'static [u8]],
    /// Elements that stand for a space or a tab (`w:tab`; `text:s`).
    spaces: &'static [&'static [u8]],
}

/// Word, Excel and PowerPoint (Office Open XML).
const OFFICE: Markup = Markup {
    text: &[b"t"],
    breaks: &[b"p", b"si", b"is", b"br", b"cr", b"row"],
    spaces: &[b"tab"],
};

/// OpenDocument text and spreadsheets.
const OPEN_DOCUMENT: Markup = Markup {
    text: &[b"p", b"h"],
    breaks: &[b"p", b"h", b"line-break", b"table-cell"],
    spaces: &[b"s", b"tab"],
};

/// The text of the XML parts of a ZIP that `wanted` names, the main part first.
fn office(content: &[u8], wanted: impl Fn(&str) -> bool, markup: &Markup) -> Result<String, TextError> {
    let unreadable = |e: &dyn std::fmt::Display| TextError::Unreadable(e.to_string());
    let mut zip = zip::ZipArchive::new(Cursor::new(content)).map_err(|e| unreadable(&e))?;
    let mut parts: Vec<String> = zip
        .file_names()
        .filter_map(Result::ok)
        .filter(|name| name.ends_with(".xml") && !name.contains("/_rels/") && wanted(name))
        .map(|name| name.into_owned())
        .collect();
    // The body before headers, footers and notes; slides in their order (slide2 < slide10).
    let main = ["word/document.xml", "xl/sharedStrings.xml", "content.xml"];
    parts.sort_by_key(|name| (!main.contains(&name.as_str()), name.len(), name.clone()));
    let mut text = String::new();
    for name in parts {
        let entry = zip.by_name(&name).map_err(|e| unreadable(&e))?;
        let mut xml = Vec::new();
        entry
            .take(MAX_PART_BYTES)
            .read_to_end(&mut xml)
            .map_err(|e| unreadable(&e))?;
        xml_text(&xml, markup, &mut text).map_err(|e| unreadable(&e))?;
        if text.len() > MAX_TEXT_BYTES {
            break;
        }
    }
    Ok(text)
}

/// Appends the text of one XML part to `out`.
fn xml_text(xml: &[u8], markup: &Markup, out: &mut String) -> Result<(), quick_xml::Error> {
    let mut reader = quick_xml::Reader::from_reader(xml);
    let mut inside = 0usize;
    let mut buf = Vec::new();
    let line = |out: &mut String| {
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
    };
    loop {
        match reader.read_event_into(&mut buf)? {
            Event::Start(e) => {
                let name = e.local_name();
                if markup.text.contains(&name.as_ref()) {
                    inside += 1;
                }
            }
            Event::Empty(e) => {
                let name = e.local_name();
                if markup.breaks.contains(&name.as_ref()) {
                    line(out);
                } else if markup.spaces.contains(&name.as_ref()) {
                    out.push(' ');
                }
            }
            Event::End(e) => {
                let name = e.local_name();
                if markup.text.contains(&name.as_ref()) {
                    inside = inside.saturating_sub(1);
                }
                if markup.breaks.contains(&name.as_ref()) {
                    line(out);
                }
            }
            Event::Text(t) if inside > 0 => {
                let text = t.xml_content().map_err(quick_xml::Error::from)?;
                out.push_str(&text);
            }
            Event::GeneralRef(r) if inside > 0 => {
                // `&amp;`, `&#233;`: the five XML entities and character references.
                if let Some(c) = r.resolve_char_ref()? {
                    out.push(c);
                } else {
                    let name = r.decode().map_err(quick_xml::Error::from)?;
                    if let Some(s) = quick_xml::escape::resolve_xml_entity(&name) {
                        out.push_str(s);
                    }
                }
            }
            Event::Eof => return Ok(()),
            _ => {}
        }
        if out.len() > MAX_TEXT_BYTES {
            return Ok(());
        }
        buf.clear();
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn zip_with(entries: &[(&str, &str)]) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        {
            let mut zip = zip::ZipWriter::new(&mut out);
            for (name, content) in entries {
                zip.start_file(*name, zip::write::SimpleFileOptions::default())
                    .unwrap();
                zip.write_all(content.as_bytes()).unwrap();
            }
            zip.finish().unwrap();
        }
        out.into_inner()
    }

    #[test]
    fn words_come_out_of_word_with_paragraphs_and_entities() {
        let docx = zip_with(&[
            ("[Content_Types].xml", "<Types/>"),
            (
                "word/document.xml",
                r#"<w:document xmlns:w="w"><w:body>
                   <w:p><w:r><w:t>Gesprek met </w:t></w:r><w:r><w:t xml:space="preserve">juf An</w:t></w:r></w:p>
                   <w:p><w:r><w:t>Zo&#235; &amp; co</w:t><w:tab/><w:t>5B</w:t></w:r></w:p>
                   <w:p><w:r><w:delText>weg</w:delText></w:r></w:p>
                   </w:body></w:document>"#,
            ),
            (
                "word/footer1.xml",
                r#"<w:ftr xmlns:w="w"><w:p><w:r><w:t>Voettekst</w:t></w:r></w:p></w:ftr>"#,
            ),
            (
                "word/styles.xml",
                r#"<w:styles xmlns:w="w"><w:style w:styleId="x"/></w:styles>"#,
            ),
        ]);
        let text = extract(FileKind::Docx, &docx).unwrap().unwrap();
        assert_eq!(text, "Gesprek met juf An\nZoë & co 5B\nVoettekst\n");
    }

    #[test]
    fn words_come_out_of_excel_powerpoint_and_opendocument() {
        let xlsx = zip_with(&[
            (
                "xl/sharedStrings.xml",
                r#"<sst><si><t>Naam</t></si><si><r><t>Lotte </t></r><r><t>Peeters</t></r></si></sst>"#,
            ),
            (
                "xl/worksheets/sheet1.xml",
                r#"<worksheet><row><c t="inlineStr"><is><t>meester Tom</t></is></c></row></worksheet>"#,
            ),
        ]);
        assert_eq!(
            extract(FileKind::Xlsx, &xlsx).unwrap().unwrap(),
            "Naam\nLotte Peeters\nmeester Tom\n"
        );
        let pptx = zip_with(&[
            (
                "ppt/slides/slide10.xml",
                r#"<p:sld><a:p><a:r><a:t>Tien</a:t></a:r></a:p></p:sld>"#,
            ),
            (
                "ppt/slides/slide2.xml",
                r#"<p:sld><a:p><a:r><a:t>Twee</a:t></a:r><a:br/><a:r><a:t>Jonas P.</a:t></a:r></a:p></p:sld>"#,
            ),
            (
                "ppt/slideLayouts/slideLayout1.xml",
                r#"<p:sld><a:p><a:r><a:t>Sjabloon</a:t></a:r></a:p></p:sld>"#,
            ),
        ]);
        assert_eq!(
            extract(FileKind::Pptx, &pptx).unwrap().unwrap(),
            "Twee\nJonas P.\nTien\n"
        );
        let odt = zip_with(&[(
            "content.xml",
            r#"<office:document-content><office:body><office:text>
               <text:h>Verslag</text:h><text:p>Mevrouw<text:s/>Claes <text:span>belde</text:span></text:p>
               </office:text></office:body></office:document-content>"#,
        )]);
        assert_eq!(
            extract(FileKind::Odt, &odt).unwrap().unwrap(),
            "Verslag\nMevrouw Claes belde\n"
        );
    }

    #[test]
    fn text_and_csv_are_read_as_they_are_and_images_have_none() {
        assert_eq!(
            extract(FileKind::Csv, "klas;naam\n5B;Lotte\n".as_bytes())
                .unwrap()
                .unwrap(),
            "klas;naam\n5B;Lotte\n"
        );
        assert!(extract(FileKind::Png, b"\x89PNG").unwrap().is_none());
        assert!(bounded("é".repeat(MAX_TEXT_BYTES)).len() <= MAX_TEXT_BYTES);
    }

    #[test]
    fn a_damaged_document_is_unreadable_not_a_panic() {
        assert!(extract(FileKind::Docx, b"PK\x03\x04 not really").is_err());
        assert!(extract(FileKind::Pdf, b"%PDF-1.4\n garbage").is_err());
        let broken = zip_with(&[("word/document.xml", "<w:p><w:t>open")]);
        // Unclosed XML gives what it holds or an error, never a panic.
        let _ = extract(FileKind::Docx, &broken);
    }
}

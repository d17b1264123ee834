//! Which files a dossier takes, told by their content: an allowlist of types, each
//! recognised by its bytes (and for Office and OpenDocument files by the structure inside
//! the ZIP), never by the name or the type the browser declares. Those must agree with
//! what the content is. HTML, SVG and scripts are never taken, whatever they are called.

use std::io::{Read, Seek};

use thiserror::Error;

/// A type of file the dossier takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Pdf,
    Docx,
    Xlsx,
    Pptx,
    Odt,
    Ods,
    Png,
    Jpeg,
    Txt,
    Csv,
}

/// Why a file is refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum KindError {
    /// The content is none of the allowed types.
    #[error(
        "this kind of file is not allowed; allowed are PDF, Word, Excel, PowerPoint, OpenDocument text and spreadsheets, PNG, JPEG, text and CSV"
    )]
    NotAllowed,
    /// The content is an allowed type, but the name's extension says another.
    #[error("the file's content is {content} but its name ends in .{extension}")]
    ExtensionDiffers {
        content: &'static str,
        extension: String,
    },
    /// The content is an allowed type, but the declared type says another.
    #[error("the file's content is {content} but it was sent as {declared}")]
    DeclaredDiffers { content: &'static str, declared: String },
    /// The file could not be read.
    #[error("the file could not be read: {0}")]
    Unreadable(String),
}

impl FileKind {
    /// Every type the dossier takes.
    pub const ALL: [FileKind; 10] = [
        FileKind::Pdf,
        FileKind::Docx,
        FileKind::Xlsx,
        FileKind::Pptx,
        FileKind::Odt,
        FileKind::Ods,
        FileKind::Png,
        FileKind::Jpeg,
        FileKind::Txt,
        FileKind::Csv,
    ];

    /// The type served as `mime` (a stored version's).
    pub fn from_mime(mime: &str) -> Option<FileKind> {
        FileKind::ALL.into_iter().find(|k| k.mime() == mime)
    }

    /// Whether it holds text to read (images do not).
    pub fn has_text(self) -> bool {
        !matches!(self, FileKind::Png | FileKind::Jpeg)
    }

    /// Its MIME type, as downloads are served.
    pub fn mime(self) -> &'static str {
        match self {
            FileKind::Pdf => "application/pdf",
            FileKind::Docx => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            FileKind::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            FileKind::Pptx => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            FileKind::Odt => "application/vnd.oasis.opendocument.text",
            FileKind::Ods => "application/vnd.oasis.opendocument.spreadsheet",
            FileKind::Png => "image/png",
            FileKind::Jpeg => "image/jpeg",
            FileKind::Txt => "text/plain",
            FileKind::Csv => "text/csv",
        }
    }

    /// What people call it (errors, the list's type column).
    pub fn label(self) -> &'static str {
        match self {
            FileKind::Pdf => "PDF",
            FileKind::Docx => "Word",
            FileKind::Xlsx => "Excel",
            FileKind::Pptx => "PowerPoint",
            FileKind::Odt => "OpenDocument text",
            FileKind::Ods => "OpenDocument spreadsheet",
            FileKind::Png => "PNG",
            FileKind::Jpeg => "JPEG",
            FileKind::Txt => "text",
            FileKind::Csv => "CSV",
        }
    }

    /// The extensions a name of this type may end in (lowercase).
    fn extensions(self) -> &'static [&'static str] {
        match self {
            FileKind::Pdf => &["pdf"],
            FileKind::Docx => &["docx"],
            FileKind::Xlsx => &["xlsx"],
            FileKind::Pptx => &["pptx"],
            FileKind::Odt => &["odt"],
            FileKind::Ods => &["ods"],
            FileKind::Png => &["png"],
            FileKind::Jpeg => &["jpg", "jpeg"],
            FileKind::Txt => &["txt"],
            FileKind::Csv => &["csv"],
        }
    }

    /// Declared types browsers send for it besides its own (Windows sends CSV as Excel).
    fn also_declared(self) -> &'static [&'static str] {
        match self {
            FileKind::Csv => &[
                "application/vnd.ms-excel",
                "text/plain",
                "application/csv",
                "text/x-csv",
            ],
            FileKind::Jpeg => &["image/pjpeg"],
            _ => &[],
        }
    }

    /// Whether `declared` (a Content-Type, parameters allowed) says this type. An absent
    /// or generic one says nothing and agrees.
    fn agrees_with(self, declared: &str) -> bool {
        let declared = declared
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        declared.is_empty()
            || declared == "application/octet-stream"
            || declared == self.mime()
            || self.also_declared().contains(&declared.as_str())
    }
}

/// The type of a file from its first bytes and, for a ZIP, the entries inside; then checked
/// against the name's extension and the declared type.
pub fn identify<R: Read + Seek>(mut file: R, name: &str, declared: &str) -> Result<FileKind, KindError> {
    let unreadable = |e: std::io::Error| KindError::Unreadable(e.to_string());
    let mut head = [0u8; 8192];
    let mut n = 0;
    while n < head.len() {
        match file.read(&mut head[n..]).map_err(unreadable)? {
            0 => break,
            k => n += k,
        }
    }
    let head = &head[..n];
    let kind = match infer::get(head).map(|t| t.mime_type()) {
        Some("application/pdf") => FileKind::Pdf,
        Some("image/png") => FileKind::Png,
        Some("image/jpeg") => FileKind::Jpeg,
        Some(
            "application/zip"
            | "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            | "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            | "application/vnd.openxmlformats-officedocument.presentationml.presentation"
            | "application/vnd.oasis.opendocument.text"
            | "application/vnd.oasis.opendocument.spreadsheet",
        ) => {
            file.rewind().map_err(unreadable)?;
            office_kind(file)?
        }
        Some(_) => return Err(KindError::NotAllowed),
        None => text_kind(&mut file, head, name)?,
    };
    let extension = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    if !kind.extensions().contains(&extension.as_str()) {
        return Err(KindError::ExtensionDiffers {
            content: kind.label(),
            extension,
        });
    }
    if !kind.agrees_with(declared) {
        return Err(KindError::DeclaredDiffers {
            content: kind.label(),
            declared: declared.chars().take(100).collect(),
        });
    }
    Ok(kind)
}

/// An Office Open XML or OpenDocument file, by the entries of its ZIP; any other ZIP is
/// refused (a ZIP named `.docx` without Word's structure is no Word file).
fn office_kind<R: Read + Seek>(file: R) -> Result<FileKind, KindError> {
    let mut zip = zip::ZipArchive::new(file).map_err(|_| KindError::NotAllowed)?;
    let has = |zip: &zip::ZipArchive<R>, name: &str| zip.index_for_name(name).is_some();
    if has(&zip, "[Content_Types].xml") {
        if has(&zip, "word/document.xml") {
            return Ok(FileKind::Docx);
        }
        if has(&zip, "xl/workbook.xml") {
            return Ok(FileKind::Xlsx);
        }
        if has(&zip, "ppt/presentation.xml") {
            return Ok(FileKind::Pptx);
        }
        return Err(KindError::NotAllowed);
    }
    if has(&zip, "content.xml") {
        let mut mimetype = String::new();
        if let Ok(mut entry) = zip.by_name("mimetype") {
            let _ = (&mut entry).take(100).read_to_string(&mut mimetype);
        }
        return match mimetype.trim() {
            "application/vnd.oasis.opendocument.text" => Ok(FileKind::Odt),
            "application/vnd.oasis.opendocument.spreadsheet" => Ok(FileKind::Ods),
            _ => Err(KindError::NotAllowed),
        };
    }
    Err(KindError::NotAllowed)
}

/// Plain text (UTF-8, no control characters but tabs and line ends) that is no markup:
/// CSV when named so, text otherwise.
fn text_kind<R: Read>(file: &mut R, head: &[u8], name: &str) -> Result<FileKind, KindError> {
    // The head was read already; the rest is checked as it streams, a piece at a time.
    let mut pending: Vec<u8> = head.to_vec();
    let mut buf = [0u8; 64 * 1024];
    let mut first = true;
    loop {
        // A UTF-8 sequence may straddle two pieces: keep the incomplete tail for the next.
        let valid = match std::str::from_utf8(&pending) {
            Ok(s) => s.len(),
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            Err(_) => return Err(KindError::NotAllowed),
        };
        let text = std::str::from_utf8(&pending[..valid]).map_err(|_| KindError::NotAllowed)?;
        if first {
            let start = text
                .trim_start_matches('\u{feff}')
                .trim_start()
                .to_ascii_lowercase();
            let markup = [
                "<!doctype",
                "<html",
                "<svg",
                "<?xml",
                "<script",
                "<head",
                "<body",
                "<iframe",
                "<!--",
            ];
            if markup.iter().any(|m| start.starts_with(m)) {
                return Err(KindError::NotAllowed);
            }
            first = false;
        }
        if text
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\u{c}'))
        {
            return Err(KindError::NotAllowed);
        }
        pending.drain(..valid);
        let n = file
            .read(&mut buf)
            .map_err(|e| KindError::Unreadable(e.to_string()))?;
        if n == 0 {
            break;
        }
        pending.extend_from_slice(&buf[..n]);
    }
    if !pending.is_empty() {
        return Err(KindError::NotAllowed);
    }
    let csv = name.to_ascii_lowercase().ends_with(".csv");
    Ok(if csv { FileKind::Csv } else { FileKind::Txt })
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Write};

    use super::*;

    fn zip_with(entries: &[(&str, &[u8])]) -> Vec<u8> {
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

    fn kind(bytes: &[u8], name: &str, declared: &str) -> Result<FileKind, KindError> {
        identify(Cursor::new(bytes.to_vec()), name, declared)
    }

    #[test]
    fn every_allowed_type_is_known_by_its_content() {
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
        let cases: [(&[u8], &str, &str, FileKind); 10] = [
            (b"%PDF-1.7\n%...", "verslag.pdf", "application/pdf", FileKind::Pdf),
            (&docx, "afspraken.docx", "", FileKind::Docx),
            (&xlsx, "cijfers.xlsx", "application/octet-stream", FileKind::Xlsx),
            (&pptx, "voorstelling.pptx", "", FileKind::Pptx),
            (
                &odt,
                "tekst.odt",
                "application/vnd.oasis.opendocument.text",
                FileKind::Odt,
            ),
            (&ods, "rekenblad.ods", "", FileKind::Ods),
            (
                b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR",
                "schema.png",
                "image/png",
                FileKind::Png,
            ),
            (
                b"\xff\xd8\xff\xe0\0\x10JFIF",
                "foto.JPG",
                "image/jpeg",
                FileKind::Jpeg,
            ),
            (
                "Notities: één, twee.\n".as_bytes(),
                "notities.txt",
                "text/plain",
                FileKind::Txt,
            ),
            (
                b"thema;aantal\npesten;3\n",
                "overzicht.csv",
                "application/vnd.ms-excel",
                FileKind::Csv,
            ),
        ];
        for (bytes, name, declared, expected) in cases {
            assert_eq!(kind(bytes, name, declared), Ok(expected), "{name}");
        }
    }

    #[test]
    fn spoofed_and_dangerous_files_are_refused() {
        assert_eq!(
            kind(b"<!DOCTYPE html><script>", "verslag.pdf", "application/pdf"),
            Err(KindError::NotAllowed)
        );
        assert_eq!(
            kind(b"<svg xmlns='http://www.w3.org/2000/svg'/>", "logo.txt", ""),
            Err(KindError::NotAllowed)
        );
        assert_eq!(
            kind(b"  <html><body>", "notities.txt", "text/plain"),
            Err(KindError::NotAllowed)
        );
        let plain_zip = zip_with(&[("readme.txt", b"hi")]);
        assert_eq!(kind(&plain_zip, "brief.docx", ""), Err(KindError::NotAllowed));
        assert_eq!(
            kind(b"MZ\x90\0\x03\0\0\0", "setup.pdf", ""),
            Err(KindError::NotAllowed)
        );
        assert_eq!(
            kind(b"text with a \0 byte", "a.txt", ""),
            Err(KindError::NotAllowed)
        );
        assert_eq!(
            kind(&[0xff, 0xfe, 0x41], "latin.txt", ""),
            Err(KindError::NotAllowed)
        );
        assert!(matches!(
            kind(b"%PDF-1.4", "verslag.docx", ""),
            Err(KindError::ExtensionDiffers { .. })
        ));
        assert!(matches!(
            kind(b"%PDF-1.4", "verslag", ""),
            Err(KindError::ExtensionDiffers { .. })
        ));
        assert!(matches!(
            kind(b"%PDF-1.4", "verslag.pdf", "text/html"),
            Err(KindError::DeclaredDiffers { .. })
        ));
    }

    #[test]
    fn text_is_read_whole_across_pieces() {
        // A multi-byte character on the border of two reads, and a NUL far past the head.
        let mut long = "a".repeat(8191).into_bytes();
        long.extend("é en nog wat".as_bytes());
        assert_eq!(kind(&long, "lang.txt", ""), Ok(FileKind::Txt));
        let mut late_nul = "b".repeat(100_000).into_bytes();
        late_nul.push(0);
        assert_eq!(kind(&late_nul, "lang.txt", ""), Err(KindError::NotAllowed));
    }
}

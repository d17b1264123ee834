//! File names as people gave them, made safe to show and to offer on download: never a
//! path, no control characters, a sane length. The name is for display only; the file is
//! stored by its content's hash.

/// The longest name kept (characters), extension included.
const MAX_CHARS: usize = 150;

/// `name` as it may be shown: its last path segment, without control characters, quotes
/// turned into plain ones, spaces collapsed, no leading dots, at most 150 characters with
/// the extension kept. Empty → `document`.
pub fn sanitise(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last
        .chars()
        .map(|c| if c.is_control() || c == '"' { ' ' } else { c })
        .collect();
    let mut words = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
    while words.starts_with('.') {
        words.remove(0);
    }
    let words = words.trim().to_owned();
    if words.is_empty() {
        return "document".to_owned();
    }
    if words.chars().count() <= MAX_CHARS {
        return words;
    }
    let (stem, ext) = match words.rsplit_once('.') {
        Some((stem, ext)) if ext.chars().count() <= 5 => (stem, format!(".{ext}")),
        _ => (words.as_str(), String::new()),
    };
    let keep = MAX_CHARS - ext.chars().count();
    format!("{}{ext}", stem.chars().take(keep).collect::<String>().trim_end())
}

/// A `Content-Disposition: attachment` value for `name` (RFC 6266): an ASCII fallback and
/// the UTF-8 name percent-encoded.
pub fn attachment(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| match c {
            '"' | '\\' => '_',
            c if c.is_ascii_graphic() || c == ' ' => c,
            _ => '_',
        })
        .collect();
    let encoded = percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC);
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_never_paths_nor_carry_control_characters() {
        assert_eq!(sanitise("../../etc/passwd"), "passwd");
        assert_eq!(sanitise("C:\\Users\\an\\verslag.pdf"), "verslag.pdf");
        assert_eq!(sanitise("een\nnieuwe\r\nregel\t.txt"), "een nieuwe regel .txt");
        assert_eq!(sanitise("\"aanhalingstekens\".pdf"), "aanhalingstekens .pdf");
        assert_eq!(sanitise("...verborgen.txt"), "verborgen.txt");
        assert_eq!(sanitise("  "), "document");
        assert_eq!(sanitise("/"), "document");
        assert_eq!(
            sanitise("Schoolbeeld één — ‘verslag’.docx"),
            "Schoolbeeld één — ‘verslag’.docx"
        );
        let long = format!("{}.pdf", "a".repeat(400));
        let kept = sanitise(&long);
        assert_eq!(kept.chars().count(), MAX_CHARS);
        assert!(kept.ends_with(".pdf"));
    }

    #[test]
    fn the_download_name_is_quoted_safely() {
        let value = attachment("Verslag één \"x\".pdf");
        assert!(
            value.starts_with("attachment; filename=\"Verslag __n _x_.pdf\"; "),
            "{value}"
        );
        assert!(!value.contains('\n'));
        assert!(value.contains("filename*=UTF-8''Verslag%20%C3%A9%C3%A9n"));
    }
}

//! The server's side of the name guard (issue 19): the suspected names in a document, as
//! its editors see them underlined. The server is the one source of truth: a room runs the
//! detector (`samen_names`) over the text it holds once its edits are stored, and sends the
//! findings to its Samen clients (message 101); the browser ships no detector.

use std::collections::HashSet;

use bytes::Bytes;
use serde::Serialize;
use yrs::Doc;

/// One suspected name, where it stands and what could replace it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct NameFinding {
    /// Where it stands: a root (`summary`, `work_plan`), a priority's title
    /// (`p.<id>.title`) or an action item (`actions.<id>`).
    pub place: String,
    /// The name as written.
    pub name: String,
    /// The words a replacement takes the place of (`juf An` for the name `An`).
    pub phrase: String,
    /// Why it was taken for a name: `name`, `full_name`, `particle`, `initials`,
    /// `address`, `class`, `possessive`.
    pub kind: &'static str,
    /// Words that could stand in the phrase's place, most likely first.
    pub replacements: Vec<String>,
}

/// What a document's dossier allows besides the shipped lists, and what its people
/// dismissed.
#[derive(Default)]
pub struct Context {
    allowed: samen_names::Phrases,
    dismissed: HashSet<String>,
}

impl Context {
    /// The institutions around the document (their full names, and those without the
    /// kind of school in front: `De Linde` of `Basisschool De Linde`) and the names
    /// dismissed in it (lowercase).
    pub fn new(institutions: &[String], dismissed: impl IntoIterator<Item = String>) -> Self {
        let mut phrases: Vec<&str> = Vec::new();
        for name in institutions {
            phrases.push(name);
            // Every tail of two words or more that starts with a capital.
            let mut rest = name.as_str();
            while let Some((_, tail)) = rest.split_once(' ') {
                if tail.contains(' ') && tail.starts_with(char::is_uppercase) {
                    phrases.push(tail);
                }
                rest = tail;
            }
        }
        Context {
            allowed: samen_names::allowed(phrases),
            dismissed: dismissed.into_iter().collect(),
        }
    }
}

/// The suspected names in `doc` that nobody dismissed, place by place.
pub fn findings(doc: &Doc, context: &Context) -> Vec<NameFinding> {
    let mut out = Vec::new();
    for (place, text) in samen_crdt::text::texts(doc) {
        for found in samen_names::find_names(&text, &context.allowed) {
            if !context
                .dismissed
                .contains(&text[found.start..found.end].to_lowercase())
            {
                out.push(finding(&place, &text, found));
            }
        }
    }
    out
}

/// A suspected name in the text of an uploaded file, with the words around it so that
/// people find it in the file (which only its uploader can change, by a new version).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FileNameFinding {
    /// The name as written.
    pub name: String,
    /// Why it was taken for a name (as [`NameFinding::kind`]).
    pub kind: &'static str,
    /// The text around it (up to [`AROUND`] characters on each side, on one line).
    pub around: String,
}

/// How many characters of context a file's finding shows on each side.
pub const AROUND: usize = 40;

/// The suspected names in a file's text that nobody dismissed, in order.
pub fn file_findings(text: &str, context: &Context) -> Vec<FileNameFinding> {
    samen_names::find_names(text, &context.allowed)
        .into_iter()
        .filter(|found| {
            !context
                .dismissed
                .contains(&text[found.start..found.end].to_lowercase())
        })
        .map(|found| {
            let before: String = {
                let mut chars: Vec<char> = text[..found.phrase_start].chars().rev().take(AROUND).collect();
                chars.reverse();
                chars.into_iter().collect()
            };
            let after: String = text[found.phrase_end..].chars().take(AROUND).collect();
            let around = format!("{before}{}{after}", &text[found.phrase_start..found.phrase_end]);
            FileNameFinding {
                name: text[found.start..found.end].to_owned(),
                kind: found.kind.key(),
                around: around.split_whitespace().collect::<Vec<_>>().join(" "),
            }
        })
        .collect()
}

/// The suspected names in a registration's comment, stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CommentNames {
    /// The comment.
    #[schema(value_type = String, format = "uuid")]
    pub comment: crate::ids::CommentId,
    /// What the name guard finds in it (`place` is `comment`), nobody dismissed.
    pub findings: Vec<NameFinding>,
}

/// The suspected names nobody dismissed in comments (comment, text), comment by comment;
/// comments without any are left out.
pub fn comment_findings(
    comments: &[(crate::ids::CommentId, String)],
    context: &Context,
) -> Vec<CommentNames> {
    comments
        .iter()
        .filter_map(|(comment, text)| {
            let findings: Vec<NameFinding> = samen_names::find_names(text, &context.allowed)
                .into_iter()
                .filter(|found| {
                    !context
                        .dismissed
                        .contains(&text[found.start..found.end].to_lowercase())
                })
                .map(|found| finding("comment", text, found))
                .collect();
            (!findings.is_empty()).then_some(CommentNames {
                comment: *comment,
                findings,
            })
        })
        .collect()
}

/// The suspected names in a piece of text outside a document (a comment, a title).
pub fn text_findings(text: &str) -> Vec<NameFinding> {
    samen_names::find_names(text, &samen_names::allowed([]))
        .into_iter()
        .map(|found| finding("", text, found))
        .collect()
}

fn finding(place: &str, text: &str, found: samen_names::Finding) -> NameFinding {
    NameFinding {
        place: place.to_owned(),
        name: text[found.start..found.end].to_owned(),
        phrase: text[found.phrase_start..found.phrase_end].to_owned(),
        kind: found.kind.key(),
        replacements: found.replacements,
    }
}

/// The message that tells a client the findings (101, JSON text).
pub fn message(findings: &[NameFinding]) -> Bytes {
    let json = serde_json::json!({ "findings": findings }).to_string();
    Bytes::from(samen_crdt::protocol::encode_names(&json))
}

#[cfg(test)]
mod tests {
    use super::*;
    use yrs::types::xml::{XmlElementPrelim, XmlFragment, XmlTextPrelim};
    use yrs::{Transact, WriteTxn};

    fn doc_saying(root: &str, text: &str) -> Doc {
        let doc = samen_crdt::new_doc();
        {
            let mut txn = doc.transact_mut();
            let part = txn.get_or_insert_xml_fragment(root);
            let p = part.push_back(&mut txn, XmlElementPrelim::empty("paragraph"));
            p.push_back(&mut txn, XmlTextPrelim::new(text));
        }
        doc
    }

    #[test]
    fn names_are_found_where_they_stand_and_dismissed_ones_are_not() {
        let doc = doc_saying(
            "summary",
            "Gesprek met juf An en Lotte uit 5B in Basisschool De Linde.",
        );
        let school = ["Basisschool De Linde".to_owned()];
        let found = findings(&doc, &Context::new(&school, []));
        let names: Vec<(&str, &str, &str)> = found
            .iter()
            .map(|f| (f.place.as_str(), f.name.as_str(), f.phrase.as_str()))
            .collect();
        assert_eq!(
            names,
            [("summary", "An", "juf An"), ("summary", "Lotte", "Lotte")]
        );
        let found = findings(&doc, &Context::new(&school, ["lotte".to_owned()]));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].name, "An");
        // The school's name is no name; without it, `De Linde` would be a surname.
        assert!(findings(&doc, &Context::new(&[], [])).len() >= 2);
    }

    #[test]
    fn a_file_finding_shows_the_words_around_it_on_one_line() {
        let text = format!(
            "{}\nWe spraken met meester Tom over\nde klas. {}",
            "x".repeat(60),
            "y".repeat(60)
        );
        let found = file_findings(&text, &Context::new(&[], []));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].name, "Tom");
        assert!(
            found[0]
                .around
                .contains("We spraken met meester Tom over de klas."),
            "{}",
            found[0].around
        );
        assert!(found[0].around.chars().count() <= 2 * AROUND + "meester Tom".len());
        assert!(file_findings(&text, &Context::new(&[], ["tom".to_owned()])).is_empty());
    }

    #[test]
    fn the_message_is_type_101_with_json() {
        let frame = message(&[]);
        match samen_crdt::protocol::decode_server_message(&frame) {
            Ok(samen_crdt::protocol::ServerMessage::Names(json)) => {
                assert_eq!(json, r#"{"findings":[]}"#)
            }
            other => panic!("{other:?}"),
        }
    }
}

//! The registration document: one root `XmlFragment` per section (DESIGN.md).
//!
//! Section names are wire format: never rename one, only add.

use yrs::{Doc, OffsetKind, Options};

use crate::ids::ClientId;

/// A section of a registration, i.e. one root `XmlFragment` of its document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Section {
    /// "Signaal" / "Vraag": written by the CLB.
    Summary,
    /// "Hoe begrijpen we dit?"
    Understanding,
    /// "Advies van het CLB": written by the CLB.
    Advice,
    /// "Doelen"
    Goals,
    /// "Afspraken en bijsturingen"
    Agreements,
    /// "Stand van zaken"
    StatusNote,
}

impl Section {
    /// Every section, in the order the UI shows them.
    pub const ALL: [Section; 6] = [
        Section::Summary,
        Section::Understanding,
        Section::Advice,
        Section::Goals,
        Section::Agreements,
        Section::StatusNote,
    ];

    /// The root name in the CRDT document (wire format).
    pub const fn root_name(self) -> &'static str {
        match self {
            Section::Summary => "summary",
            Section::Understanding => "understanding",
            Section::Advice => "advice",
            Section::Goals => "goals",
            Section::Agreements => "agreements",
            Section::StatusNote => "status_note",
        }
    }

    /// The section whose root has this name, if any.
    pub fn from_root_name(name: &str) -> Option<Section> {
        Section::ALL.into_iter().find(|s| s.root_name() == name)
    }

    /// Whether school members may write this section (CLB staff may write all of them).
    pub const fn school_may_write(self) -> bool {
        !matches!(self, Section::Summary | Section::Advice)
    }
}

/// Creates a document as every Samen peer must: garbage collection off, so that every
/// snapshot stays viewable, and UTF-16 offsets, as Yjs counts them in the browser.
pub fn new_doc() -> Doc {
    new_doc_with_client_id(None)
}

/// Like [`new_doc`], with a fixed client ID (the server's own edits, tests).
pub fn new_doc_with_client_id(client_id: Option<ClientId>) -> Doc {
    let mut options = Options {
        skip_gc: true,
        offset_kind: OffsetKind::Utf16,
        ..Options::default()
    };
    if let Some(id) = client_id {
        options.client_id = id.into();
    }
    Doc::with_options(options)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_names_round_trip_and_are_unique() {
        let mut names: Vec<_> = Section::ALL.iter().map(|s| s.root_name()).collect();
        for s in Section::ALL {
            assert_eq!(Section::from_root_name(s.root_name()), Some(s));
        }
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Section::ALL.len());
        assert_eq!(Section::from_root_name("Goals"), None);
    }

    #[test]
    fn school_writes_only_the_shared_sections() {
        let school: Vec<_> = Section::ALL
            .into_iter()
            .filter(|s| s.school_may_write())
            .map(|s| s.root_name())
            .collect();
        assert_eq!(school, ["understanding", "goals", "agreements", "status_note"]);
    }

    #[test]
    fn documents_keep_history_and_count_utf16() {
        let doc = new_doc();
        assert!(doc.skip_gc());
        assert_eq!(doc.offset_kind(), OffsetKind::Utf16);
    }
}

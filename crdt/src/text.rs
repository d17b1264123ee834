//! What a registration says, read back out of its CRDT: the plain text of each section and
//! who wrote which part of it.
//!
//! Why: the server needs a section's text without the browser (search, exports, e-mail
//! digests, review of a proposed change), and a dossier shared between the CLB and a school
//! must be able to show "who wrote what" per Yjs client. Both are read from the same
//! structure y-prosemirror writes, so both follow the same layout rules and agree with each
//! other: for every section, the plain text is exactly the authorship blocks' texts joined
//! by `"\n"`.
//!
//! # Layout rules
//!
//! A section is its root `XmlFragment` (see [`crate::schema`]); a missing root reads as an
//! empty one. Its nodes are walked depth-first in document order, and cut into *blocks*,
//! i.e. the lines a reader sees:
//!
//! * An `XmlElement` is a **text block** (one block) when it has no children at all (an
//!   empty paragraph, a horizontal rule: an empty line), or when at least one child is an
//!   `XmlText` or a hard break (`hardBreak` / `hard_break`). That covers `paragraph`,
//!   `heading`, `codeBlock`, … whatever their tag.
//! * Any other `XmlElement` (all children are elements, none a hard break: `bulletList`,
//!   `orderedList`, `listItem`, `blockquote`, …) is a **container**: it adds no line of its
//!   own, its children are walked in order. Nested lists therefore come out flattened, in
//!   document order.
//! * An `XmlText` directly in the fragment or a container (y-prosemirror never writes one)
//!   is a block of its own.
//! * Inside a text block, the content is its descendants in order: the string inserts of
//!   each `XmlText` (formatting such as bold, italic or link is dropped, embeds are
//!   skipped), `"\n"` for a hard break, and the same for the content of any other inline
//!   element (flattened).
//! * A section's plain text is its blocks joined by `"\n"`, without a trailing newline; a
//!   section without blocks is `""`. Note that a section holding one empty paragraph is
//!   also `""` as text, but has one (empty) block in [`authorship`].
//!
//! The walk is iterative, so no nesting depth a client can produce overflows the stack.

use std::collections::BTreeMap;

use serde::Serialize;
use thiserror::Error;
use yrs::types::text::{ChangeKind, Diff, YChange};
use yrs::updates::decoder::Decode;
use yrs::{
    Any, BranchID, Doc, Out, ReadTxn, Snapshot, StateVector, Text, Transact, Update, XmlFragment,
    XmlFragmentRef, XmlOut, XmlTextRef,
};

use crate::ids::ClientId;
use crate::schema::{Section, new_doc};
use crate::validate::{Limits, ValidationError, parse_update_v1};

/// A run of visible text inserted by one Yjs client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Span {
    /// The text, without formatting.
    pub text: String,
    /// The Yjs client ID whose operation inserted this text.
    pub client: ClientId,
}

/// One line as a reader sees it (see the [module rules](self)): its text split by author,
/// adjacent spans of the same client merged. An empty block is an empty line.
pub type Block = Vec<Span>;

/// Why stored state bytes could not be read.
#[derive(Debug, Error)]
pub enum StateError {
    /// The bytes are not a well-formed v1 update ([`parse_update_v1`] refused them).
    #[error("state is not a valid v1 update: {0}")]
    Invalid(#[from] ValidationError),
    /// yrs could not decode the bytes.
    #[error("state could not be decoded: {0}")]
    Decode(#[from] yrs::encoding::read::Error),
    /// yrs decoded the bytes but could not integrate them.
    #[error("state could not be applied: {0}")]
    Apply(#[from] yrs::error::UpdateError),
}

/// The tags Tiptap and ProseMirror use for a line break inside a block.
const HARD_BREAK_TAGS: [&str; 2] = ["hardBreak", "hard_break"];

/// The plain text of every section, keyed by [`Section::root_name`]; all six sections are
/// present, `""` when absent or empty. See the module documentation for the exact rules.
pub fn plain_text(doc: &Doc) -> BTreeMap<&'static str, String> {
    let txn = doc.transact();
    Section::ALL
        .into_iter()
        .map(|section| (section.root_name(), root_text(&txn, section.root_name())))
        .collect()
}

/// The plain text of the `XmlFragment` root `name` by the module rules (`""` when absent):
/// what [`plain_text`] gives for a section, for any root (a meeting's parts).
pub fn root_text<T: ReadTxn>(txn: &T, name: &str) -> String {
    let Some(fragment) = txn.get_xml_fragment(name) else {
        return String::new();
    };
    let lines: Vec<String> = layout(txn, &fragment)
        .iter()
        .map(|block| {
            let mut line = String::new();
            for piece in &block.pieces {
                match piece {
                    Piece::Text(text) => {
                        for diff in text.diff(txn, |_| ()) {
                            if let Some(s) = string_insert(&diff) {
                                line.push_str(s);
                            }
                        }
                    }
                    Piece::Break(_) => line.push('\n'),
                }
            }
            line
        })
        .collect();
    lines.join("\n")
}

/// Every piece of text a person wrote in `doc`, by where it stands: the text roots
/// (a registration's sections, a meeting's parts, the agreements) by root name, a
/// meeting's priority titles as `p.<id>.title`, its action items as `actions.<id>`.
/// What the name guard reads; empty pieces are left out.
pub fn texts(doc: &Doc) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for root in crate::history::text_roots(doc) {
        let text = root_text(&doc.transact(), &root);
        if !text.trim().is_empty() {
            out.push((root, text));
        }
    }
    let meeting = crate::meeting::read(doc);
    for priority in meeting.priorities {
        if !priority.title.trim().is_empty() {
            out.push((format!("p.{}.title", priority.id), priority.title));
        }
    }
    for action in meeting.actions {
        if !action.what.trim().is_empty() {
            out.push((format!("actions.{}", action.id), action.what));
        }
    }
    out
}

/// Who wrote what: for every section (all six, keyed by [`Section::root_name`], `[]` when
/// absent or empty), its blocks in order, each the *currently visible* text split by the
/// Yjs client that inserted it. Deleted text never appears; formatting neither appears nor
/// splits a span. A hard break is attributed to the client that inserted it.
///
/// The attribution comes from yrs' snapshot diff of the current state against the empty
/// snapshot: every visible character is "added" since nothing, by the client in its ID.
/// That diff needs a write transaction and splits blocks, so it runs on a private copy of
/// `doc`: the caller's document is not touched and its observers do not fire.
///
/// Copying `doc` re-applies state that yrs itself encoded, which cannot fail short of a yrs
/// bug; should it fail anyway, every section comes out as `[]` rather than a panic.
pub fn authorship(doc: &Doc) -> BTreeMap<&'static str, Vec<Block>> {
    let state = doc.transact().encode_state_as_update_v1(&StateVector::default());
    let copy = new_doc();
    let applied = Update::decode_v1(&state)
        .map_err(StateError::from)
        .and_then(|update| Ok(copy.transact_mut().apply_update(update)?));
    match applied {
        Ok(()) => authorship_of_copy(&copy),
        Err(_) => Section::ALL
            .into_iter()
            .map(|s| (s.root_name(), Vec::new()))
            .collect(),
    }
}

/// [`plain_text`] of a document kept as v1 state bytes (as the server stores it).
///
/// The bytes go through [`parse_update_v1`] first, without a size limit, so that garbage
/// is an error rather than whatever yrs makes of it.
///
/// # Errors
/// [`StateError`] when the bytes are not a valid v1 update.
pub fn plain_text_from_state(state: &[u8]) -> Result<BTreeMap<&'static str, String>, StateError> {
    Ok(plain_text(&doc_from_state(state)?))
}

/// [`authorship`] of a document kept as v1 state bytes (as the server stores it). The
/// document decoded from `state` is private, so it is diffed directly, without a copy.
///
/// # Errors
/// [`StateError`] when the bytes are not a valid v1 update.
pub fn authorship_from_state(state: &[u8]) -> Result<BTreeMap<&'static str, Vec<Block>>, StateError> {
    Ok(authorship_of_copy(&doc_from_state(state)?))
}

/// A fresh Samen document holding `state`, after strict validation of the bytes.
///
/// # Errors
/// [`StateError`] when the bytes are not a valid v1 update.
pub fn doc_from_state(state: &[u8]) -> Result<Doc, StateError> {
    // Stored state was accepted update by update; merged it may exceed the per-message size
    // limit.
    parse_update_v1(state, &Limits::for_own_bytes())?;
    let update = Update::decode_v1(state)?;
    let doc = new_doc();
    doc.transact_mut().apply_update(update)?;
    Ok(doc)
}

/// [`authorship`] on a document that is ours to mutate (its blocks get split).
fn authorship_of_copy(doc: &Doc) -> BTreeMap<&'static str, Vec<Block>> {
    let mut txn = doc.transact_mut();
    let items = ItemReader::new(&txn);
    Section::ALL
        .into_iter()
        .map(|section| {
            // The layout only holds type references, so the read borrow ends here and the
            // diffs below may take the transaction mutably.
            let layout = match txn.get_xml_fragment(section.root_name()) {
                None => Vec::new(),
                Some(fragment) => layout(&txn, &fragment),
            };
            let blocks = layout
                .iter()
                .map(|laid| {
                    let mut block = Block::new();
                    for piece in &laid.pieces {
                        match piece {
                            Piece::Text(text) => {
                                for (id, s) in items.visible(&mut txn, text) {
                                    push_span(&mut block, &s, id.client.into());
                                }
                            }
                            Piece::Break(id) => push_span(&mut block, "\n", id.client.into()),
                        }
                    }
                    block
                })
                .collect();
            (section.root_name(), blocks)
        })
        .collect()
}

/// Reads the visible text of text nodes item by item, with each item's ID (whose client
/// wrote it, at which clock).
///
/// yrs gives item IDs only in a snapshot diff. Every item, deleted or not, reads as "added
/// since the empty snapshot", with its ID (one chunk per item), and the deleted ones are
/// left out by the document's delete set, taken once. A `hi` snapshot holding the delete
/// set would do the same in one step, but yrs splits the whole store by it on every call:
/// with a call per paragraph that was 90% of a diff's time. Formatting is not read (deleted
/// formatting items would count), so this is for text and authorship only.
pub(crate) struct ItemReader {
    deleted: yrs::IdSet,
    all: Snapshot,
}

impl ItemReader {
    /// A reader for the document of `txn` as it is now.
    pub(crate) fn new(txn: &yrs::TransactionMut) -> Self {
        ItemReader {
            deleted: txn.snapshot().delete_set,
            all: Snapshot::new(txn.state_vector(), yrs::IdSet::default()),
        }
    }

    /// The visible string items of `text`, in order: each item's ID and its text.
    pub(crate) fn visible(&self, txn: &mut yrs::TransactionMut, text: &XmlTextRef) -> Vec<(yrs::ID, String)> {
        let empty = Snapshot::default();
        text.diff_range(txn, Some(&self.all), Some(&empty), |change: YChange| {
            (change.kind == ChangeKind::Added).then_some(change.id)
        })
        .into_iter()
        .filter_map(|chunk| match (chunk.insert, chunk.ychange) {
            // An item is deleted whole, so its first ID tells.
            (Out::Any(Any::String(s)), Some(Some(id))) if !self.deleted.contains(&id) => {
                Some((id, s.to_string()))
            }
            _ => None,
        })
        .collect()
    }
}

/// Appends `text` by `client` to `block`, merging with the last span when it is the same
/// client's.
fn push_span(block: &mut Block, text: &str, client: ClientId) {
    if text.is_empty() {
        return;
    }
    match block.last_mut() {
        Some(last) if last.client == client => last.text.push_str(text),
        _ => block.push(Span {
            text: text.to_owned(),
            client,
        }),
    }
}

/// The string of a diff chunk, if it is one (embeds and nested types are not text).
pub(crate) fn string_insert<T>(diff: &Diff<T>) -> Option<&str> {
    match &diff.insert {
        Out::Any(Any::String(s)) => Some(s),
        _ => None,
    }
}

/// What a text block is made of, in order.
pub(crate) enum Piece {
    /// A text node: its string inserts.
    Text(XmlTextRef),
    /// A hard break, with the ID of the element that holds it.
    Break(yrs::ID),
}

/// One text block of the layout: the ID of the node that makes it a line, and its pieces.
pub(crate) struct LaidBlock {
    /// The ID of the block's node (`None` only for a root, which cannot be a block).
    pub id: Option<yrs::ID>,
    pub pieces: Vec<Piece>,
}

/// The ID of a nested type; `None` for a root.
pub(crate) fn node_id(branch: &yrs::branch::Branch) -> Option<yrs::ID> {
    match branch.id() {
        BranchID::Nested(id) => Some(id),
        BranchID::Root(_) => None,
    }
}

/// Cuts a fragment into text blocks, following the module rules.
pub(crate) fn layout<T: ReadTxn>(txn: &T, fragment: &XmlFragmentRef) -> Vec<LaidBlock> {
    let mut blocks = Vec::new();
    // Nodes still to visit, the next one last.
    let mut stack: Vec<XmlOut> = fragment.children(txn).collect();
    stack.reverse();
    while let Some(node) = stack.pop() {
        match node {
            XmlOut::Text(text) => blocks.push(LaidBlock {
                id: node_id(text.as_ref()),
                pieces: vec![Piece::Text(text)],
            }),
            XmlOut::Fragment(nested) => push_children_rev(&mut stack, nested.children(txn).collect()),
            XmlOut::Element(element) => {
                let children: Vec<XmlOut> = element.children(txn).collect();
                if children.is_empty() || children.iter().any(is_inline) {
                    blocks.push(LaidBlock {
                        id: node_id(element.as_ref()),
                        pieces: inline_pieces(txn, children),
                    });
                } else {
                    push_children_rev(&mut stack, children);
                }
            }
        }
    }
    blocks
}

fn push_children_rev(stack: &mut Vec<XmlOut>, children: Vec<XmlOut>) {
    stack.extend(children.into_iter().rev());
}

/// Whether a node is text-level: a text node or a hard break.
fn is_inline(node: &XmlOut) -> bool {
    match node {
        XmlOut::Text(_) => true,
        XmlOut::Element(element) => HARD_BREAK_TAGS.contains(&element.tag().as_ref()),
        XmlOut::Fragment(_) => false,
    }
}

/// The pieces of a text block whose children are `children`: all descendants, flattened.
fn inline_pieces<T: ReadTxn>(txn: &T, children: Vec<XmlOut>) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut stack = Vec::new();
    push_children_rev(&mut stack, children);
    while let Some(node) = stack.pop() {
        match node {
            XmlOut::Text(text) => pieces.push(Piece::Text(text)),
            XmlOut::Element(element) if HARD_BREAK_TAGS.contains(&element.tag().as_ref()) => {
                // A nested type always has an item, hence an ID; a root cannot be a child.
                if let Some(id) = node_id(element.as_ref()) {
                    pieces.push(Piece::Break(id));
                }
            }
            XmlOut::Element(element) => push_children_rev(&mut stack, element.children(txn).collect()),
            XmlOut::Fragment(nested) => push_children_rev(&mut stack, nested.children(txn).collect()),
        }
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::new_doc_with_client_id;
    use yrs::types::Attrs;
    use yrs::{GetString, Xml, XmlElementPrelim, XmlElementRef, XmlTextPrelim};

    /// Sends each document what the other is missing, as y-sync would.
    fn sync(a: &Doc, b: &Doc) {
        let to_b = a.transact().encode_diff_v1(&b.transact().state_vector());
        let to_a = b.transact().encode_diff_v1(&a.transact().state_vector());
        b.transact_mut()
            .apply_update(Update::decode_v1(&to_b).unwrap())
            .unwrap();
        a.transact_mut()
            .apply_update(Update::decode_v1(&to_a).unwrap())
            .unwrap();
    }

    fn state(doc: &Doc) -> Vec<u8> {
        doc.transact().encode_state_as_update_v1(&StateVector::default())
    }

    fn span(text: &str, client: ClientId) -> Span {
        Span {
            text: text.into(),
            client,
        }
    }

    /// The text node of the `index`th top-level element of `goals`.
    fn goals_text(doc: &Doc, index: u32) -> XmlTextRef {
        let frag = doc.get_or_insert_xml_fragment("goals");
        let txn = doc.transact();
        let Some(XmlOut::Element(p)) = frag.get(&txn, index) else {
            panic!("no element {index}")
        };
        let Some(XmlOut::Text(t)) = p.get(&txn, 0) else {
            panic!("no text in element {index}")
        };
        t
    }

    /// Adds an element with one text child to `parent`, as y-prosemirror writes a block.
    fn push_block<F: XmlFragment>(txn: &mut yrs::TransactionMut, parent: &F, tag: &str, text: &str) {
        let index = parent.len(txn);
        let element = parent.insert(txn, index, XmlElementPrelim::empty(tag));
        element.insert(txn, 0, XmlTextPrelim::new(text));
    }

    /// The two outputs must agree: plain text is the blocks' texts joined by newlines.
    fn assert_consistent(doc: &Doc) {
        let plain = plain_text(doc);
        let authors = authorship(doc);
        assert_eq!(plain.len(), 6);
        assert_eq!(authors.len(), 6);
        for (section, blocks) in &authors {
            let lines: Vec<String> = blocks
                .iter()
                .map(|b| b.iter().map(|s| s.text.as_str()).collect())
                .collect();
            assert_eq!(plain[section], lines.join("\n"), "section {section}");
        }
        let bytes = state(doc);
        assert_eq!(plain_text_from_state(&bytes).unwrap(), plain);
        assert_eq!(authorship_from_state(&bytes).unwrap(), authors);
    }

    #[test]
    fn two_authors_through_sync_and_deletions() {
        let a = new_doc_with_client_id(Some(ClientId::new(11)));
        let b = new_doc_with_client_id(Some(ClientId::new(22)));
        {
            let frag = a.get_or_insert_xml_fragment("goals");
            let mut txn = a.transact_mut();
            push_block(&mut txn, &frag, "paragraph", "Hallo ");
        }
        sync(&a, &b);
        {
            let t = goals_text(&b, 0);
            let mut txn = b.transact_mut();
            t.insert(&mut txn, 6, "wereld");
        }
        sync(&a, &b);
        assert_eq!(plain_text(&a)["goals"], "Hallo wereld");
        assert_eq!(
            authorship(&a)["goals"],
            vec![vec![
                span("Hallo ", ClientId::new(11)),
                span("wereld", ClientId::new(22))
            ]]
        );
        assert_consistent(&a);

        // A deletes "wer" (B's) and "llo" (its own): "Ha" + " " + "eld".
        {
            let t = goals_text(&a, 0);
            let mut txn = a.transact_mut();
            t.remove_range(&mut txn, 6, 3);
            t.remove_range(&mut txn, 2, 3);
        }
        sync(&a, &b);
        for doc in [&a, &b] {
            assert_eq!(plain_text(doc)["goals"], "Ha eld");
            assert_eq!(
                authorship(doc)["goals"],
                vec![vec![
                    span("Ha ", ClientId::new(11)),
                    span("eld", ClientId::new(22))
                ]]
            );
            assert_consistent(doc);
        }

        // A deletes all of B's text: one span left, deleted text nowhere.
        {
            let t = goals_text(&a, 0);
            let mut txn = a.transact_mut();
            t.remove_range(&mut txn, 3, 3);
            t.insert(&mut txn, 3, "!");
        }
        sync(&a, &b);
        assert_eq!(plain_text(&b)["goals"], "Ha !");
        assert_eq!(
            authorship(&b)["goals"],
            vec![vec![span("Ha !", ClientId::new(11))]]
        );
        assert_consistent(&b);
    }

    #[test]
    fn formatting_neither_splits_authors_nor_shows() {
        let a = new_doc_with_client_id(Some(ClientId::new(11)));
        let b = new_doc_with_client_id(Some(ClientId::new(22)));
        {
            let frag = a.get_or_insert_xml_fragment("goals");
            let mut txn = a.transact_mut();
            push_block(&mut txn, &frag, "paragraph", "Hallo wereld");
        }
        sync(&a, &b);
        {
            // B makes part of A's text bold and a link: B authored no text.
            let t = goals_text(&b, 0);
            let mut txn = b.transact_mut();
            t.format(&mut txn, 2, 5, Attrs::from([("bold".into(), true.into())]));
            let link = Attrs::from([("link".into(), Any::from("https://example.org"))]);
            t.format(&mut txn, 6, 6, link);
            t.insert_with_attributes(&mut txn, 12, "!", Attrs::from([("italic".into(), true.into())]));
        }
        sync(&a, &b);
        let t = goals_text(&a, 0);
        assert!(
            t.get_string(&a.transact()).contains("<bold>"),
            "the fixture has tags"
        );
        assert_eq!(plain_text(&a)["goals"], "Hallo wereld!");
        assert_eq!(
            authorship(&a)["goals"],
            vec![vec![
                span("Hallo wereld", ClientId::new(11)),
                span("!", ClientId::new(22))
            ]]
        );
        assert_consistent(&a);
    }

    #[test]
    fn headings_and_nested_lists_are_lines_in_order() {
        let doc = new_doc_with_client_id(Some(ClientId::new(7)));
        {
            let frag = doc.get_or_insert_xml_fragment("agreements");
            let mut txn = doc.transact_mut();
            let heading: XmlElementRef = frag.insert(&mut txn, 0, XmlElementPrelim::empty("heading"));
            heading.insert_attribute(&mut txn, "level", "2");
            heading.insert(&mut txn, 0, XmlTextPrelim::new("Afspraken"));
            push_block(&mut txn, &frag, "paragraph", "Intro");
            let list = frag.insert(&mut txn, 2, XmlElementPrelim::empty("bulletList"));
            let item1 = list.insert(&mut txn, 0, XmlElementPrelim::empty("listItem"));
            push_block(&mut txn, &item1, "paragraph", "een");
            let nested = item1.insert(&mut txn, 1, XmlElementPrelim::empty("orderedList"));
            let item11 = nested.insert(&mut txn, 0, XmlElementPrelim::empty("listItem"));
            push_block(&mut txn, &item11, "paragraph", "een.een");
            let item2 = list.insert(&mut txn, 1, XmlElementPrelim::empty("listItem"));
            push_block(&mut txn, &item2, "paragraph", "twee");
            // An empty paragraph (Enter pressed) is an empty line.
            frag.insert(&mut txn, 3, XmlElementPrelim::empty("paragraph"));
            // A hard break inside a paragraph, between two text nodes.
            let p = frag.insert(&mut txn, 4, XmlElementPrelim::empty("paragraph"));
            p.insert(&mut txn, 0, XmlTextPrelim::new("regel"));
            p.insert(&mut txn, 1, XmlElementPrelim::empty("hardBreak"));
            p.insert(&mut txn, 2, XmlTextPrelim::new("volgende"));
            let quote = frag.insert(&mut txn, 5, XmlElementPrelim::empty("blockquote"));
            push_block(&mut txn, &quote, "paragraph", "citaat");
        }
        assert_eq!(
            plain_text(&doc)["agreements"],
            "Afspraken\nIntro\neen\neen.een\ntwee\n\nregel\nvolgende\ncitaat"
        );
        let blocks = &authorship(&doc)["agreements"];
        assert_eq!(blocks.len(), 8);
        assert_eq!(blocks[5], Vec::<Span>::new());
        assert_eq!(blocks[6], vec![span("regel\nvolgende", ClientId::new(7))]);
        assert_consistent(&doc);
    }

    #[test]
    fn empty_and_absent_sections() {
        let doc = new_doc();
        let plain = plain_text(&doc);
        let names: Vec<_> = Section::ALL.iter().map(|s| s.root_name()).collect();
        assert_eq!(plain.keys().copied().collect::<Vec<_>>().len(), 6);
        for name in &names {
            assert_eq!(plain[name], "");
            assert_eq!(authorship(&doc)[name], Vec::<Block>::new());
        }
        // A root that exists but is empty, and one holding only an empty paragraph.
        doc.get_or_insert_xml_fragment("summary");
        let advice = doc.get_or_insert_xml_fragment("advice");
        advice.insert(&mut doc.transact_mut(), 0, XmlElementPrelim::empty("paragraph"));
        assert_eq!(plain_text(&doc)["summary"], "");
        assert_eq!(authorship(&doc)["summary"], Vec::<Block>::new());
        assert_eq!(plain_text(&doc)["advice"], "");
        assert_eq!(authorship(&doc)["advice"], vec![Block::new()]);
        assert_consistent(&doc);
    }

    #[test]
    fn unicode_round_trips() {
        let a = new_doc_with_client_id(Some(ClientId::new(11)));
        let b = new_doc_with_client_id(Some(ClientId::new(22)));
        {
            let frag = a.get_or_insert_xml_fragment("status_note");
            let mut txn = a.transact_mut();
            push_block(&mut txn, &frag, "paragraph", "Café 😀 ");
        }
        sync(&a, &b);
        {
            let frag = b.get_or_insert_xml_fragment("status_note");
            let mut txn = b.transact_mut();
            let Some(XmlOut::Element(p)) = frag.get(&txn, 0) else {
                panic!()
            };
            let Some(XmlOut::Text(t)) = p.get(&txn, 0) else {
                panic!()
            };
            // UTF-16 offsets: "Café " is 5, the emoji 2, the space 1.
            t.insert(&mut txn, 8, "élève 👩‍🎓");
            t.format(&mut txn, 5, 2, Attrs::from([("bold".into(), true.into())]));
        }
        sync(&a, &b);
        assert_eq!(plain_text(&a)["status_note"], "Café 😀 élève 👩‍🎓");
        assert_eq!(
            authorship(&a)["status_note"],
            vec![vec![
                span("Café 😀 ", ClientId::new(11)),
                span("élève 👩‍🎓", ClientId::new(22))
            ]]
        );
        assert_consistent(&a);
        assert_consistent(&b);
    }

    #[test]
    fn from_state_refuses_garbage_without_panicking() {
        let garbage: [&[u8]; 6] = [
            b"",
            b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff",
            b"hello world",
            &[1, 1, 11, 0, 4, 1, 5, b'g', b'o', b'a', b'l', b's'],
            &[0xff; 64],
            &[1, 200, 1, 11, 0],
        ];
        for bytes in garbage {
            assert!(plain_text_from_state(bytes).is_err(), "{bytes:?}");
            assert!(authorship_from_state(bytes).is_err(), "{bytes:?}");
        }
        // A truncated real state is refused as well.
        let doc = new_doc_with_client_id(Some(ClientId::new(11)));
        {
            let frag = doc.get_or_insert_xml_fragment("goals");
            let mut txn = doc.transact_mut();
            push_block(&mut txn, &frag, "paragraph", "Hallo");
        }
        let bytes = state(&doc);
        for len in 1..bytes.len() {
            assert!(authorship_from_state(&bytes[..len]).is_err(), "prefix {len}");
        }
        // The empty update (no clients, no deletes) is a valid, empty document.
        assert_eq!(plain_text_from_state(&[0, 0]).unwrap()["goals"], "");
    }

    #[test]
    fn spans_serialize_as_text_and_client() {
        let json = serde_json::to_string(&vec![vec![span("Hallo", ClientId::new(11))]]).unwrap();
        assert_eq!(json, r#"[[{"text":"Hallo","client":11}]]"#);
    }

    #[test]
    fn deep_nesting_does_not_overflow_the_stack() {
        let doc = new_doc_with_client_id(Some(ClientId::new(5)));
        {
            let frag = doc.get_or_insert_xml_fragment("understanding");
            let mut txn = doc.transact_mut();
            let mut parent = frag.insert(&mut txn, 0, XmlElementPrelim::empty("blockquote"));
            for _ in 0..20_000 {
                parent = parent.insert(&mut txn, 0, XmlElementPrelim::empty("blockquote"));
            }
            parent.insert(&mut txn, 0, XmlTextPrelim::new("diep"));
        }
        assert_eq!(plain_text(&doc)["understanding"], "diep");
        assert_eq!(
            authorship(&doc)["understanding"],
            vec![vec![span("diep", ClientId::new(5))]]
        );
    }
}

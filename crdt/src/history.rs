//! Versions of a registration document: snapshots, the document as it stood at one, what
//! changed between two (who wrote each added part, who removed each removed part), and the
//! forward edit that makes the document equal to an older version again.
//!
//! Why this works: documents keep their full history (GC off, see [`crate::schema`]), so a
//! yrs [`Snapshot`] — a state vector plus a delete set, a few bytes — is enough to rebuild
//! any version exactly, with the original item IDs. Item IDs carry the Yjs client that
//! inserted each character, which the server maps to a user; deletions carry no author in
//! a CRDT, so the server records who deleted what ([`Deletions`]) as it stores updates.
//!
//! # Diff
//!
//! Both versions are laid out as in [`crate::text`] (blocks = the lines a reader sees), and
//! cut into tokens: one per block (its node's ID) and one per character (its item ID plus
//! offset). An ID means the same thing in both versions, and items never move in a Yjs
//! sequence, so the tokens both versions share appear in the same order in both. One merge
//! walk then yields, in document order: tokens only in `from` (removed), only in `to`
//! (added), and in both (unchanged). A character is shown on the line of its own block, so
//! text that moved into another paragraph (Enter, Backspace at a line start: y-prosemirror
//! re-inserts it) shows as removed there and added here, which is what happened.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::Serialize;
use thiserror::Error;
use yrs::types::Attrs;
use yrs::types::text::YChange;
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::{Encode, Encoder, EncoderV1};
use yrs::{
    Any, Doc, Out, ReadTxn, Snapshot, Text, Transact, TransactionMut, Update, Xml, XmlElementPrelim,
    XmlElementRef, XmlFragment, XmlFragmentRef, XmlOut, XmlTextPrelim, XmlTextRef,
};

use crate::ids::ClientId;
use crate::schema::{Section, new_doc};
use crate::text::{ItemReader, Piece, layout, string_insert};

/// Why a version could not be read or rebuilt.
#[derive(Debug, Error)]
pub enum HistoryError {
    /// The stored snapshot bytes do not decode.
    #[error("snapshot does not decode: {0}")]
    Snapshot(#[from] yrs::encoding::read::Error),
    /// The document keeps no history (garbage collection on); Samen documents never do.
    #[error("document does not keep history: {0}")]
    NoHistory(String),
    /// The rebuilt version could not be applied to a fresh document.
    #[error("version could not be rebuilt: {0}")]
    Rebuild(#[from] yrs::error::UpdateError),
}

/// The document's current version.
pub fn snapshot(doc: &Doc) -> Snapshot {
    doc.transact().snapshot()
}

/// A snapshot as bytes (v1), for storage.
pub fn encode_snapshot(snapshot: &Snapshot) -> Vec<u8> {
    snapshot.encode_v1()
}

/// A snapshot stored by [`encode_snapshot`].
///
/// # Errors
/// [`HistoryError::Snapshot`] when the bytes are not a snapshot.
pub fn decode_snapshot(bytes: &[u8]) -> Result<Snapshot, HistoryError> {
    Ok(Snapshot::decode_v1(bytes)?)
}

/// Whether two snapshots are the same version (however their sets happen to be split).
pub fn same_version(a: &Snapshot, b: &Snapshot) -> bool {
    fn deleted(s: &Snapshot) -> BTreeMap<ClientId, Vec<(u32, u32)>> {
        let mut out: BTreeMap<ClientId, Vec<(u32, u32)>> = BTreeMap::new();
        for (client, ranges) in s.delete_set.iter() {
            let list = out.entry(client.into()).or_default();
            list.extend(ranges.iter().map(|r| (r.start, r.end)));
        }
        for list in out.values_mut() {
            list.sort_unstable();
            let mut merged: Vec<(u32, u32)> = Vec::with_capacity(list.len());
            for &(start, end) in list.iter() {
                match merged.last_mut() {
                    Some(last) if start <= last.1 => last.1 = last.1.max(end),
                    _ => merged.push((start, end)),
                }
            }
            *list = merged;
        }
        out.retain(|_, list| !list.is_empty());
        out
    }
    let clocks = |s: &Snapshot| -> BTreeMap<ClientId, u32> {
        s.state_map
            .iter()
            .filter(|(_, c)| **c > 0)
            .map(|(k, c)| (k.into(), *c))
            .collect()
    };
    clocks(a) == clocks(b) && deleted(a) == deleted(b)
}

/// Whether `doc` holds everything `snapshot` refers to, so that [`state_at`] can rebuild it.
pub fn holds(doc: &Doc, snapshot: &Snapshot) -> bool {
    let sv = doc.transact().state_vector();
    snapshot
        .state_map
        .iter()
        .all(|(client, clock)| sv.get(client) >= *clock)
}

/// The document as it stood at `snapshot`, as a v1 update (with the original item IDs).
///
/// # Errors
/// [`HistoryError::NoHistory`] when `doc` does not keep deleted content.
pub fn state_at(doc: &Doc, snapshot: &Snapshot) -> Result<Vec<u8>, HistoryError> {
    // yrs reads `clock - 1` for every client of the state vector; a client with clock 0
    // contributes nothing, so it is left out rather than underflowing.
    let mut clean = snapshot.clone();
    clean.state_map = yrs::StateVector::from_iter(
        snapshot
            .state_map
            .iter()
            .filter(|(_, c)| **c > 0)
            .map(|(k, v)| (*k, *v)),
    );
    let mut encoder = EncoderV1::new();
    doc.transact()
        .encode_state_from_snapshot(&clean, &mut encoder)
        .map_err(|e| HistoryError::NoHistory(e.to_string()))?;
    Ok(encoder.to_vec())
}

/// A fresh document holding `doc` as it stood at `snapshot`.
///
/// # Errors
/// See [`state_at`]; [`HistoryError::Rebuild`] should yrs refuse its own encoding.
pub fn doc_at(doc: &Doc, snapshot: &Snapshot) -> Result<Doc, HistoryError> {
    let state = state_at(doc, snapshot)?;
    let version = new_doc();
    version.transact_mut().apply_update(Update::decode_v1(&state)?)?;
    Ok(version)
}

/// Who removed which content: ranges of item IDs, each with the party (a user, for the
/// server) whose update deleted them.
#[derive(Debug, Clone)]
pub struct Deletions<K> {
    /// Per client, `(start, end, who)` sorted by `start`, not overlapping.
    by_client: HashMap<ClientId, Vec<(u32, u32, K)>>,
}

impl<K> Default for Deletions<K> {
    fn default() -> Self {
        Deletions {
            by_client: HashMap::new(),
        }
    }
}

impl<K> Deletions<K> {
    /// Ranges `(client, clock, len, who)`. Content is deleted once, so ranges do not
    /// overlap; should they anyway, the range that starts first counts.
    pub fn from_ranges(ranges: impl IntoIterator<Item = (ClientId, u32, u32, K)>) -> Self {
        let mut by_client: HashMap<ClientId, Vec<(u32, u32, K)>> = HashMap::new();
        for (client, clock, len, who) in ranges {
            if len > 0 {
                by_client
                    .entry(client)
                    .or_default()
                    .push((clock, clock.saturating_add(len), who));
            }
        }
        for list in by_client.values_mut() {
            // Stable: among ranges starting at the same clock, the first deletion stays first.
            list.sort_by_key(|(start, _, _)| *start);
        }
        Deletions { by_client }
    }

    /// Who deleted the content at `(client, clock)`, if recorded.
    pub fn who(&self, client: ClientId, clock: u32) -> Option<&K> {
        let list = self.by_client.get(&client)?;
        // The last range starting at or before `clock`, then earlier ones that still reach it.
        let upto = list.partition_point(|(start, _, _)| *start <= clock);
        list[..upto]
            .iter()
            .rev()
            .take(64)
            .filter(|(_, end, _)| clock < *end)
            .last()
            .map(|(_, _, who)| who)
    }
}

/// How a line or a span differs between two versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// In both versions.
    Same,
    /// Only in the later version.
    Added,
    /// Only in the earlier version.
    Removed,
}

/// A run of text with one change, written by one client (and removed by one party).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiffSpan<K> {
    /// The text, without formatting; a hard break is `"\n"`.
    pub text: String,
    /// Whether the text was added, removed or kept.
    pub change: Change,
    /// The Yjs client that wrote the text.
    pub client: ClientId,
    /// Who removed it (for [`Change::Removed`], when recorded).
    pub removed_by: Option<K>,
}

/// One line (paragraph, heading, list item …) of a section in the diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiffLine<K> {
    /// Whether the line itself is new, gone, or in both versions.
    pub change: Change,
    /// Its text, in order.
    pub spans: Vec<DiffSpan<K>>,
}

/// What changed in one section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SectionDiff<K> {
    /// The union of both versions' lines, in document order.
    pub lines: Vec<DiffLine<K>>,
    /// Characters added (Unicode scalar values, hard breaks included).
    pub added: usize,
    /// Characters removed.
    pub removed: usize,
}

impl<K> SectionDiff<K> {
    /// Whether the section is the same in both versions (formatting aside).
    pub fn is_unchanged(&self) -> bool {
        self.added == 0 && self.removed == 0 && self.lines.iter().all(|l| l.change == Change::Same)
    }
}

/// An item ID as a client and a clock.
type Id = (ClientId, u32);

/// What a token stands for.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// The start of a block (a line).
    Block,
    /// One character, in the block with this ID.
    Char(char, Id),
}

#[derive(Debug, Clone, Copy)]
struct Token {
    id: Id,
    kind: Kind,
}

/// What changed per section (all six, keyed by [`Section::root_name`]) from `from` to `to`:
/// the union of both versions' text, each part marked same, added or removed, with the
/// client that wrote it and, for removed parts, who removed it according to `deletions`.
///
/// Both documents must be versions of the same document (say, from [`doc_at`]). Reading
/// them splits their blocks (invisible, but it is a change): pass private documents.
pub fn diff<K: Clone + Eq>(
    from: &Doc,
    to: &Doc,
    deletions: &Deletions<K>,
) -> BTreeMap<&'static str, SectionDiff<K>> {
    diff_parts(from, to, &Section::ALL.map(Section::root_name), deletions)
}

/// [`diff`] of the rich-text roots `names` of any document (a meeting's parts, the
/// school–LSC agreements), keyed by name; a root neither version has comes out empty.
pub fn diff_parts<'n, K: Clone + Eq>(
    from: &Doc,
    to: &Doc,
    names: &[&'n str],
    deletions: &Deletions<K>,
) -> BTreeMap<&'n str, SectionDiff<K>> {
    let mut before = tokens(from, names);
    let mut after = tokens(to, names);
    names
        .iter()
        .map(|&name| {
            let old = before.remove(name).unwrap_or_default();
            let new = after.remove(name).unwrap_or_default();
            (name, merge(&old, &new, deletions))
        })
        .collect()
}

/// The roots of `doc` that hold rich text by any of Samen's document schemas: a
/// registration's sections, a meeting's text parts, the school–LSC agreements' two. A
/// document only holds roots its own rule allows, so this names its text roots whatever
/// kind it is. Roots are found by name, not by type: a document read from stored state
/// does not know its roots' types until someone asks for one.
pub fn text_roots(doc: &Doc) -> BTreeSet<String> {
    let txn = doc.transact();
    txn.root_refs()
        .map(|(name, _)| name)
        .filter(|name| {
            Section::from_root_name(name).is_some()
                || crate::meeting::AGREEMENT_ROOTS.contains(name)
                || crate::meeting::MeetingRoot::parse(name).is_some_and(|part| part.is_text())
        })
        .map(str::to_owned)
        .collect()
}

/// Every named root's tokens, in document order.
fn tokens<'n>(doc: &Doc, names: &[&'n str]) -> HashMap<&'n str, Vec<Token>> {
    let mut txn = doc.transact_mut();
    let items = ItemReader::new(&txn);
    let mut out = HashMap::new();
    for &name in names {
        let Some(fragment) = txn.get_xml_fragment(name) else {
            continue;
        };
        let blocks = layout(&txn, &fragment);
        let mut list = Vec::new();
        for block in blocks {
            // A root cannot be a block; a block without an ID gets one no other token has.
            let block_id = block
                .id
                .map_or((ClientId::new(u64::MAX), list.len() as u32), |id| {
                    (id.client.into(), id.clock)
                });
            list.push(Token {
                id: block_id,
                kind: Kind::Block,
            });
            for piece in &block.pieces {
                match piece {
                    Piece::Text(text) => {
                        for (id, s) in items.visible(&mut txn, text) {
                            let mut clock = id.clock;
                            for ch in s.chars() {
                                list.push(Token {
                                    id: (id.client.into(), clock),
                                    kind: Kind::Char(ch, block_id),
                                });
                                clock += ch.len_utf16() as u32;
                            }
                        }
                    }
                    Piece::Break(id) => list.push(Token {
                        id: (id.client.into(), id.clock),
                        kind: Kind::Char('\n', block_id),
                    }),
                }
            }
        }
        out.insert(name, list);
    }
    out
}

/// The merge walk of the module documentation.
fn merge<K: Clone + Eq>(old: &[Token], new: &[Token], deletions: &Deletions<K>) -> SectionDiff<K> {
    let in_old: HashSet<Id> = old.iter().map(|t| t.id).collect();
    let in_new: HashSet<Id> = new.iter().map(|t| t.id).collect();
    let mut out = Builder::default();
    let (mut i, mut j) = (0, 0);
    while i < old.len() || j < new.len() {
        if i < old.len() && !in_new.contains(&old[i].id) {
            out.push(old[i], Change::Removed, deletions);
            i += 1;
        } else if j < new.len() && !in_old.contains(&new[j].id) {
            out.push(new[j], Change::Added, deletions);
            j += 1;
        } else if j < new.len() {
            // Both sides are at shared tokens, which are the same one when the versions
            // agree on order (always, for versions of one document). Should they not, every
            // token of `new` is still emitted exactly once, and `old`'s is skipped.
            if i < old.len() && old[i].id == new[j].id {
                i += 1;
            }
            out.push(new[j], Change::Same, deletions);
            j += 1;
        } else {
            i += 1;
        }
    }
    out.finish()
}

/// Collects tokens into lines and spans.
struct Builder<K> {
    lines: Vec<DiffLine<K>>,
    /// Block ID → index in `lines`.
    line_of: HashMap<Id, usize>,
    added: usize,
    removed: usize,
}

impl<K> Default for Builder<K> {
    fn default() -> Self {
        Builder {
            lines: Vec::new(),
            line_of: HashMap::new(),
            added: 0,
            removed: 0,
        }
    }
}

impl<K: Clone + Eq> Builder<K> {
    fn push(&mut self, token: Token, change: Change, deletions: &Deletions<K>) {
        match token.kind {
            Kind::Block => {
                self.line_of.insert(token.id, self.lines.len());
                self.lines.push(DiffLine {
                    change,
                    spans: Vec::new(),
                });
            }
            Kind::Char(ch, block) => {
                match change {
                    Change::Added => self.added += 1,
                    Change::Removed => self.removed += 1,
                    Change::Same => {}
                }
                let removed_by = match change {
                    Change::Removed => deletions.who(token.id.0, token.id.1).cloned(),
                    _ => None,
                };
                let index = match self.line_of.get(&block) {
                    Some(index) => *index,
                    None => {
                        // Cannot happen (a block's token precedes its characters on both
                        // sides); a line of its own keeps the text rather than losing it.
                        self.line_of.insert(block, self.lines.len());
                        self.lines.push(DiffLine {
                            change: Change::Same,
                            spans: Vec::new(),
                        });
                        self.lines.len() - 1
                    }
                };
                let spans = &mut self.lines[index].spans;
                match spans.last_mut() {
                    Some(last)
                        if last.change == change
                            && last.client == token.id.0
                            && last.removed_by == removed_by =>
                    {
                        last.text.push(ch)
                    }
                    _ => spans.push(DiffSpan {
                        text: ch.to_string(),
                        change,
                        client: token.id.0,
                        removed_by,
                    }),
                }
            }
        }
    }

    fn finish(self) -> SectionDiff<K> {
        SectionDiff {
            lines: self.lines,
            added: self.added,
            removed: self.removed,
        }
    }
}

/// Edits `doc` so that every section equals the one in `target` (another version of the
/// same document), as one transaction by `doc`'s own client; returns that transaction's v1
/// update, or `None` when nothing differed.
///
/// The edit is as small as the versions allow, so that unchanged text keeps its author:
/// nodes and characters are matched by item ID (both are versions of one document, so the
/// same content has the same ID). What only `doc` has is deleted; what only `target` has
/// was deleted since and cannot be revived in a CRDT, so it is inserted anew (a copy, by
/// the restorer); attributes and formatting are set to `target`'s. The walk is iterative:
/// no nesting overflows the stack.
pub fn restore(doc: &Doc, target: &Doc) -> Option<Vec<u8>> {
    let fragments: Vec<(XmlFragmentRef, XmlFragmentRef)> = Section::ALL
        .into_iter()
        .filter_map(|section| {
            let name = section.root_name();
            let wanted = target.transact().get_xml_fragment(name);
            let current = doc.transact().get_xml_fragment(name);
            match (current, wanted) {
                (None, None) => None,
                (current, wanted) => Some((
                    current.unwrap_or_else(|| doc.get_or_insert_xml_fragment(name)),
                    wanted.unwrap_or_else(|| target.get_or_insert_xml_fragment(name)),
                )),
            }
        })
        .collect();
    let mut source = target.transact_mut();
    let mut txn = doc.transact_mut();
    let mut jobs: Vec<Job> = fragments
        .into_iter()
        .map(|(current, wanted)| Job::Children(Parent::Fragment(current), Parent::Fragment(wanted)))
        .collect();
    while let Some(job) = jobs.pop() {
        match job {
            Job::Children(current, wanted) => {
                restore_children(&mut txn, &source, &current, &wanted, &mut jobs)
            }
            Job::Text(current, wanted) => restore_text(&mut txn, &mut source, &current, &wanted),
        }
    }
    let changed = txn.before_state() != txn.after_state() || !txn.delete_set().is_empty();
    changed.then(|| txn.encode_update_v1())
}

/// Work left in [`restore`]: make a node's children, or a text, equal to the target's.
enum Job {
    Children(Parent, Parent),
    Text(XmlTextRef, XmlTextRef),
}

/// A node that holds children.
#[derive(Clone)]
enum Parent {
    Fragment(XmlFragmentRef),
    Element(XmlElementRef),
}

impl Parent {
    fn children<T: ReadTxn>(&self, txn: &T) -> Vec<XmlOut> {
        match self {
            Parent::Fragment(f) => f.children(txn).collect(),
            Parent::Element(e) => e.children(txn).collect(),
        }
    }

    fn remove(&self, txn: &mut TransactionMut, index: u32) {
        match self {
            Parent::Fragment(f) => f.remove_range(txn, index, 1),
            Parent::Element(e) => e.remove_range(txn, index, 1),
        }
    }
}

/// The item ID of a nested node.
fn xml_id(node: &XmlOut) -> Option<Id> {
    let branch: &yrs::branch::Branch = match node {
        XmlOut::Element(e) => e.as_ref(),
        XmlOut::Text(t) => t.as_ref(),
        XmlOut::Fragment(f) => f.as_ref(),
    };
    crate::text::node_id(branch).map(|id| (id.client.into(), id.clock))
}

/// One step of [`restore`]: aligns `current`'s children with `wanted`'s by ID, deleting
/// and copying as needed, and queues the shared children whose content differs.
fn restore_children(
    txn: &mut TransactionMut,
    source: &TransactionMut,
    current: &Parent,
    wanted: &Parent,
    jobs: &mut Vec<Job>,
) {
    let have = current.children(txn);
    let want = wanted.children(source);
    let mut in_have: HashSet<Id> = have.iter().filter_map(xml_id).collect();
    let in_want: HashSet<Id> = want.iter().filter_map(xml_id).collect();
    let (mut i, mut j, mut index) = (0, 0, 0u32);
    loop {
        let h = have.get(i);
        let w = want.get(j);
        let h_id = h.and_then(xml_id);
        let w_id = w.and_then(xml_id);
        let h_only = h.is_some() && !h_id.is_some_and(|id| in_want.contains(&id));
        let w_only = w.is_some() && !w_id.is_some_and(|id| in_have.contains(&id));
        match (h, w) {
            (None, None) => break,
            // Different nodes with the same content (say, the copies an earlier restore of
            // this version made) are kept: restoring twice changes nothing.
            (Some(h), Some(w)) if h_only && w_only && same_node(txn, h, source, w) => {
                index += 1;
                i += 1;
                j += 1;
            }
            (Some(_), _) if h_only => {
                current.remove(txn, index);
                i += 1;
            }
            (_, Some(node)) if w_only => {
                copy_into(txn, current, index, source, node);
                index += 1;
                j += 1;
            }
            (Some(h), Some(w)) if h_id == w_id => {
                if !same_node(txn, h, source, w) {
                    match (h, w) {
                        (XmlOut::Element(he), XmlOut::Element(we)) => {
                            sync_attributes(txn, he, source, we);
                            jobs.push(Job::Children(
                                Parent::Element(he.clone()),
                                Parent::Element(we.clone()),
                            ));
                        }
                        (XmlOut::Text(ht), XmlOut::Text(wt)) => jobs.push(Job::Text(ht.clone(), wt.clone())),
                        _ => {}
                    }
                }
                index += 1;
                i += 1;
                j += 1;
            }
            // Shared nodes in a different order cannot happen in versions of one document;
            // should they, the current one goes and the wanted one is copied when reached.
            (Some(_), _) => {
                if let Some(id) = h_id {
                    in_have.remove(&id);
                }
                current.remove(txn, index);
                i += 1;
            }
            (None, Some(node)) => {
                copy_into(txn, current, index, source, node);
                index += 1;
                j += 1;
            }
        }
    }
}

/// Sets `current`'s attributes to `wanted`'s.
fn sync_attributes(
    txn: &mut TransactionMut,
    current: &XmlElementRef,
    source: &TransactionMut,
    wanted: &XmlElementRef,
) {
    let have: BTreeMap<String, Out> = current.attributes(txn).map(|(k, v)| (k.to_owned(), v)).collect();
    let want: BTreeMap<String, Out> = wanted
        .attributes(source)
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    for key in have.keys().filter(|k| !want.contains_key(*k)) {
        current.remove_attribute(txn, key);
    }
    for (key, value) in want {
        if have.get(&key) != Some(&value)
            && let Out::Any(any) = value
        {
            current.insert_attribute(txn, key, any);
        }
    }
}

/// A character of a text with its ID and formatting.
struct Char {
    id: Id,
    ch: char,
    attrs: Option<Box<Attrs>>,
}

/// The characters of a text, each with its item ID and formatting. Unlike
/// [`ItemReader`] it diffs against a snapshot holding the delete set, so that deleted
/// formatting does not count; it costs a split of the store per call, which a restore
/// (rare, and only for the texts that differ) can afford.
fn chars_of(txn: &mut TransactionMut, text: &XmlTextRef) -> Vec<Char> {
    let now = txn.snapshot();
    let chunks = text.diff_range(txn, Some(&now), Some(&Snapshot::default()), |c: YChange| c.id);
    let mut out = Vec::new();
    for chunk in chunks {
        let (Some(s), Some(id)) = (string_insert(&chunk), chunk.ychange) else {
            continue;
        };
        let mut clock = id.clock;
        for ch in s.chars() {
            out.push(Char {
                id: (id.client.into(), clock),
                ch,
                attrs: chunk.attributes.clone(),
            });
            clock += ch.len_utf16() as u32;
        }
    }
    out
}

/// Makes the text `current` equal to `wanted` (the same text node, in another version):
/// characters matched by ID, runs deleted and inserted, formatting set where it differs.
fn restore_text(
    txn: &mut TransactionMut,
    source: &mut TransactionMut,
    current: &XmlTextRef,
    wanted: &XmlTextRef,
) {
    let have = chars_of(txn, current);
    let want = chars_of(source, wanted);
    let mut in_have: HashSet<Id> = have.iter().map(|c| c.id).collect();
    let in_want: HashSet<Id> = want.iter().map(|c| c.id).collect();
    let (mut i, mut j, mut offset) = (0, 0, 0u32);
    let width = |c: &Char| c.ch.len_utf16() as u32;
    loop {
        match (have.get(i), want.get(j)) {
            (None, None) => break,
            // The same character, as another item (re-inserted by an earlier restore): kept.
            (Some(h), Some(w))
                if !in_want.contains(&h.id)
                    && !in_have.contains(&w.id)
                    && h.ch == w.ch
                    && h.attrs == w.attrs =>
            {
                offset += width(h);
                i += 1;
                j += 1;
            }
            (Some(_), _) if !in_want.contains(&have[i].id) => {
                // A run of characters to delete.
                let mut len = 0;
                while i < have.len() && !in_want.contains(&have[i].id) {
                    let pairs = want.get(j).is_some_and(|w| {
                        !in_have.contains(&w.id) && w.ch == have[i].ch && w.attrs == have[i].attrs
                    });
                    if pairs && len > 0 {
                        break;
                    }
                    len += width(&have[i]);
                    i += 1;
                }
                current.remove_range(txn, offset, len);
            }
            (_, Some(w)) if !in_have.contains(&w.id) => {
                // A run of characters to insert again, with one formatting.
                let attrs = w.attrs.clone();
                let mut run = String::new();
                while j < want.len() && !in_have.contains(&want[j].id) && want[j].attrs == attrs {
                    run.push(want[j].ch);
                    j += 1;
                }
                current.insert_with_attributes(txn, offset, &run, attrs.map(|a| *a).unwrap_or_default());
                offset += run.encode_utf16().count() as u32;
            }
            (Some(h), Some(w)) if h.id == w.id => {
                if h.attrs != w.attrs {
                    let mut attrs: Attrs = w.attrs.clone().map(|a| *a).unwrap_or_default();
                    for key in h.attrs.iter().flat_map(|a| a.keys()) {
                        attrs.entry(key.clone()).or_insert(Any::Null);
                    }
                    current.format(txn, offset, width(h), attrs);
                }
                offset += width(h);
                i += 1;
                j += 1;
            }
            // Cannot happen for versions of one document (see restore_children).
            (Some(h), _) => {
                in_have.remove(&h.id);
                current.remove_range(txn, offset, width(h));
                i += 1;
            }
            (None, Some(w)) => {
                current.insert_with_attributes(
                    txn,
                    offset,
                    &w.ch.to_string(),
                    w.attrs.clone().map(|a| *a).unwrap_or_default(),
                );
                offset += width(w);
                j += 1;
            }
        }
    }
}

/// Inserts a deep copy of `node` (read with `source`) into `parent` at `index`.
fn copy_into<S: ReadTxn>(txn: &mut TransactionMut, parent: &Parent, index: u32, source: &S, node: &XmlOut) {
    let mut stack = vec![(parent.clone(), index, node.clone())];
    while let Some((parent, index, node)) = stack.pop() {
        match node {
            XmlOut::Element(element) => {
                let prelim = XmlElementPrelim::empty(element.tag().as_ref());
                let copy = match &parent {
                    Parent::Fragment(f) => f.insert(txn, index, prelim),
                    Parent::Element(e) => e.insert(txn, index, prelim),
                };
                for (key, value) in element.attributes(source) {
                    if let Out::Any(any) = value {
                        copy.insert_attribute(txn, key, any);
                    }
                }
                // Pushed last to first, so they are popped (and inserted) first to last, each
                // after its copied elder siblings and their content.
                let children: Vec<XmlOut> = element.children(source).collect();
                for (i, child) in children.into_iter().enumerate().rev() {
                    stack.push((Parent::Element(copy.clone()), i as u32, child));
                }
            }
            XmlOut::Text(text) => {
                let copy = match &parent {
                    Parent::Fragment(f) => f.insert(txn, index, XmlTextPrelim::new("")),
                    Parent::Element(e) => e.insert(txn, index, XmlTextPrelim::new("")),
                };
                copy_text(txn, &copy, source, &text);
            }
            XmlOut::Fragment(_) => {} // y-prosemirror never nests fragments.
        }
    }
}

/// Copies the text and formatting of `text` into the empty `copy`.
fn copy_text<S: ReadTxn>(txn: &mut TransactionMut, copy: &XmlTextRef, source: &S, text: &XmlTextRef) {
    let mut offset = 0u32;
    for chunk in text.diff(source, YChange::identity) {
        if let Out::Any(Any::String(s)) = &chunk.insert {
            let attrs: Attrs = chunk.attributes.map(|a| *a).unwrap_or_default();
            copy.insert_with_attributes(txn, offset, s, attrs);
            offset += s.encode_utf16().count() as u32;
        }
    }
}

/// Whether two nodes (each read with its own transaction) have the same tag, attributes,
/// text and formatting, all the way down.
fn same_node<A: ReadTxn, B: ReadTxn>(a_txn: &A, a: &XmlOut, b_txn: &B, b: &XmlOut) -> bool {
    let mut stack = vec![(a.clone(), b.clone())];
    while let Some((a, b)) = stack.pop() {
        match (a, b) {
            (XmlOut::Element(a), XmlOut::Element(b)) => {
                if a.tag() != b.tag() {
                    return false;
                }
                let attrs_a: BTreeMap<String, Out> =
                    a.attributes(a_txn).map(|(k, v)| (k.to_owned(), v)).collect();
                let attrs_b: BTreeMap<String, Out> =
                    b.attributes(b_txn).map(|(k, v)| (k.to_owned(), v)).collect();
                if attrs_a != attrs_b {
                    return false;
                }
                let ca: Vec<XmlOut> = a.children(a_txn).collect();
                let cb: Vec<XmlOut> = b.children(b_txn).collect();
                if ca.len() != cb.len() {
                    return false;
                }
                stack.extend(ca.into_iter().zip(cb));
            }
            (XmlOut::Text(a), XmlOut::Text(b)) => {
                let da = a.diff(a_txn, YChange::identity);
                let db = b.diff(b_txn, YChange::identity);
                if da.len() != db.len()
                    || da
                        .iter()
                        .zip(&db)
                        .any(|(x, y)| x.insert != y.insert || x.attributes != y.attributes)
                {
                    return false;
                }
            }
            _ => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::new_doc_with_client_id;
    use crate::text::{authorship, plain_text};
    use yrs::{GetString, StateVector};

    /// A document edited by several clients, recording who deleted what (as the server does).
    struct Scene {
        main: Doc,
        deleted: Vec<(ClientId, u32, u32, &'static str)>,
    }

    impl Scene {
        fn new() -> Self {
            Scene {
                main: new_doc_with_client_id(Some(ClientId::new(1))),
                deleted: Vec::new(),
            }
        }

        /// Runs `f` on a peer with client `client` synced with `main`, then brings its
        /// update back, recording its deletions under `who`.
        fn edit(
            &mut self,
            client: u64,
            who: &'static str,
            f: impl FnOnce(&mut TransactionMut, &XmlFragmentRef),
        ) {
            let peer = new_doc_with_client_id(Some(ClientId::new(client)));
            let state = self
                .main
                .transact()
                .encode_state_as_update_v1(&StateVector::default());
            peer.transact_mut()
                .apply_update(Update::decode_v1(&state).unwrap())
                .unwrap();
            let goals = peer.get_or_insert_xml_fragment("goals");
            let update = {
                let mut txn = peer.transact_mut();
                f(&mut txn, &goals);
                txn.encode_update_v1()
            };
            let mut txn = self.main.transact_mut();
            txn.apply_update(Update::decode_v1(&update).unwrap()).unwrap();
            for (client, ranges) in txn.delete_set().iter() {
                for r in ranges.iter() {
                    self.deleted.push((client.into(), r.start, r.end - r.start, who));
                }
            }
        }

        fn deletions(&self) -> Deletions<&'static str> {
            Deletions::from_ranges(self.deleted.iter().copied())
        }

        /// The diff from `snapshot` to now, of `goals`, through a compacted copy (as the
        /// server stores documents).
        fn diff_since(&self, snapshot: &Snapshot) -> SectionDiff<&'static str> {
            let stored = compacted(&self.main);
            let from = doc_at(&stored, snapshot).unwrap();
            let to = compacted(&stored);
            diff(&from, &to, &self.deletions()).remove("goals").unwrap()
        }
    }

    fn xml_string<T: ReadTxn>(node: &XmlOut, txn: &T) -> String {
        match node {
            XmlOut::Element(e) => e.get_string(txn),
            XmlOut::Text(t) => t.get_string(txn),
            XmlOut::Fragment(f) => f.get_string(txn),
        }
    }

    /// A copy of `doc` that edits as `client`, as the server's restore does.
    fn copy_as(doc: &Doc, client: u64) -> Doc {
        let copy = new_doc_with_client_id(Some(ClientId::new(client)));
        let state = doc.transact().encode_state_as_update_v1(&StateVector::default());
        copy.transact_mut()
            .apply_update(Update::decode_v1(&state).unwrap())
            .unwrap();
        copy
    }

    fn compacted(doc: &Doc) -> Doc {
        let state = doc.transact().encode_state_as_update_v1(&StateVector::default());
        let copy = new_doc();
        copy.transact_mut()
            .apply_update(Update::decode_v1(&state).unwrap())
            .unwrap();
        copy
    }

    fn text_of(txn: &TransactionMut, goals: &XmlFragmentRef, index: u32) -> XmlTextRef {
        let Some(XmlOut::Element(p)) = goals.get(txn, index) else {
            panic!("no block {index}")
        };
        let Some(XmlOut::Text(t)) = p.get(txn, 0) else {
            panic!("no text in {index}")
        };
        t
    }

    fn paragraph(txn: &mut TransactionMut, parent: &XmlFragmentRef, index: u32, text: &str) {
        let p = parent.insert(txn, index, XmlElementPrelim::empty("paragraph"));
        p.insert(txn, 0, XmlTextPrelim::new(text));
    }

    fn span(
        text: &str,
        change: Change,
        client: u64,
        removed_by: Option<&'static str>,
    ) -> DiffSpan<&'static str> {
        DiffSpan {
            text: text.into(),
            change,
            client: ClientId::new(client),
            removed_by,
        }
    }

    #[test]
    fn the_diff_holds_exactly_what_was_added_and_removed_and_by_whom() {
        let mut scene = Scene::new();
        scene.edit(11, "anna", |txn, goals| {
            paragraph(txn, goals, 0, "Samen werken aan rust");
            paragraph(txn, goals, 1, "Tweede doel");
        });
        let version = snapshot(&scene.main);
        // Bert replaces "rust" by "veiligheid" and adds a line; Anna removes her second line.
        scene.edit(22, "bert", |txn, goals| {
            let t = text_of(txn, goals, 0);
            t.remove_range(txn, 17, 4);
            t.insert(txn, 17, "veiligheid");
            paragraph(txn, goals, 2, "Nieuw");
        });
        scene.edit(11, "anna", |txn, goals| goals.remove_range(txn, 1, 1));

        let d = scene.diff_since(&version);
        assert_eq!(
            d.lines,
            vec![
                DiffLine {
                    change: Change::Same,
                    spans: vec![
                        span("Samen werken aan ", Change::Same, 11, None),
                        span("rust", Change::Removed, 11, Some("bert")),
                        span("veiligheid", Change::Added, 22, None),
                    ],
                },
                DiffLine {
                    change: Change::Removed,
                    spans: vec![span("Tweede doel", Change::Removed, 11, Some("anna"))],
                },
                DiffLine {
                    change: Change::Added,
                    spans: vec![span("Nieuw", Change::Added, 22, None)],
                },
            ]
        );
        assert_eq!((d.added, d.removed), (15, 15));
        assert!(!d.is_unchanged());

        // The version itself, rebuilt from the compacted document, reads as it did.
        let old = doc_at(&compacted(&scene.main), &version).unwrap();
        assert_eq!(plain_text(&old)["goals"], "Samen werken aan rust\nTweede doel");
        // And a diff of a version with itself changes nothing.
        let same = scene.diff_since(&snapshot(&scene.main));
        assert!(same.is_unchanged());
        assert_eq!(same.lines.len(), 2);
    }

    #[test]
    fn moved_text_and_hard_breaks_show_where_they_are() {
        let mut scene = Scene::new();
        scene.edit(11, "anna", |txn, goals| paragraph(txn, goals, 0, "eenTWEE"));
        let version = snapshot(&scene.main);
        // Enter after "een", as y-prosemirror writes it: "TWEE" moves to a new paragraph.
        scene.edit(22, "bert", |txn, goals| {
            let t = text_of(txn, goals, 0);
            t.remove_range(txn, 3, 4);
            let p = goals.insert(txn, 1, XmlElementPrelim::empty("paragraph"));
            p.insert(txn, 0, XmlTextPrelim::new("a"));
            p.insert(txn, 1, XmlElementPrelim::empty("hardBreak"));
            p.insert(txn, 2, XmlTextPrelim::new("TWEE"));
        });
        let d = scene.diff_since(&version);
        assert_eq!(d.lines.len(), 2);
        assert_eq!(
            d.lines[0].spans,
            vec![
                span("een", Change::Same, 11, None),
                span("TWEE", Change::Removed, 11, Some("bert"))
            ]
        );
        assert_eq!(d.lines[1].change, Change::Added);
        assert_eq!(d.lines[1].spans, vec![span("a\nTWEE", Change::Added, 22, None)]);
        assert_eq!((d.added, d.removed), (6, 4));
    }

    #[test]
    fn sections_not_touched_are_unchanged_and_all_six_are_present() {
        let mut scene = Scene::new();
        scene.edit(11, "anna", |txn, goals| paragraph(txn, goals, 0, "x"));
        let version = snapshot(&scene.main);
        let stored = compacted(&scene.main);
        let all = diff(
            &doc_at(&stored, &version).unwrap(),
            &compacted(&stored),
            &scene.deletions(),
        );
        assert_eq!(all.len(), 6);
        assert!(all.values().all(SectionDiff::is_unchanged));
        // From the empty version, everything is added.
        let empty = doc_at(&stored, &Snapshot::default()).unwrap();
        let all = diff(&empty, &compacted(&stored), &scene.deletions());
        assert_eq!(all["goals"].added, 1);
        assert_eq!(all["goals"].lines[0].change, Change::Added);
    }

    #[test]
    fn deletions_are_found_by_range() {
        let c = ClientId::new;
        let d = Deletions::from_ranges([
            (c(5), 10, 5, "a"),
            (c(5), 0, 3, "b"),
            (c(6), 0, 100, "c"),
            (c(5), 12, 2, "d"),
        ]);
        assert_eq!(d.who(c(5), 0), Some(&"b"));
        assert_eq!(d.who(c(5), 2), Some(&"b"));
        assert_eq!(d.who(c(5), 3), None);
        assert_eq!(d.who(c(5), 10), Some(&"a"));
        assert_eq!(
            d.who(c(5), 12),
            Some(&"a"),
            "overlapping: the range starting first counts"
        );
        assert_eq!(d.who(c(5), 14), Some(&"a"));
        assert_eq!(d.who(c(5), 15), None);
        assert_eq!(d.who(c(6), 99), Some(&"c"));
        assert_eq!(d.who(c(7), 0), None);
    }

    #[test]
    fn a_meeting_s_text_parts_are_found_by_name_and_diffed() {
        use yrs::{Array, MapPrelim, Text, WriteTxn, XmlElementPrelim, XmlTextPrelim};

        let doc = new_doc_with_client_id(Some(ClientId::new(4)));
        let write = |doc: &Doc, root: &str, line: &str| {
            let mut txn = doc.transact_mut();
            let part = txn.get_or_insert_xml_fragment(root);
            let p = part.push_back(&mut txn, XmlElementPrelim::empty("paragraph"));
            p.push_back(&mut txn, XmlTextPrelim::new(line));
        };
        write(&doc, "work_plan", "Begrijpend lezen");
        {
            let mut txn = doc.transact_mut();
            txn.get_or_insert_array("priorities").push_back(&mut txn, "a1");
            txn.get_or_insert_text("p.a1.title").insert(&mut txn, 0, "Lezen");
            txn.get_or_insert_array("actions")
                .push_back(&mut txn, MapPrelim::default());
        }
        let before = snapshot(&doc);
        write(&doc, "p.a1.clb", "Screening");
        write(&doc, "trajectories.800001", "3 trajecten");

        // Read back from stored state, as the server does: the roots' types are unknown.
        let stored = doc.transact().encode_state_as_update_v1(&StateVector::default());
        let read = crate::text::doc_from_state(&stored).expect("state");
        let names = text_roots(&read);
        assert_eq!(
            names.iter().map(String::as_str).collect::<Vec<_>>(),
            ["p.a1.clb", "trajectories.800001", "work_plan"],
            "the order, titles and actions are no text parts"
        );
        let then = doc_at(&read, &before).expect("version");
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let changes = diff_parts(&then, &read, &names, &Deletions::<&str>::default());
        assert_eq!((changes["work_plan"].added, changes["work_plan"].removed), (0, 0));
        assert_eq!(changes["p.a1.clb"].added, "Screening".chars().count());
        assert_eq!(
            changes["trajectories.800001"].added,
            "3 trajecten".chars().count()
        );
    }

    #[test]
    fn snapshots_round_trip_as_bytes() {
        let mut scene = Scene::new();
        scene.edit(11, "anna", |txn, goals| paragraph(txn, goals, 0, "x"));
        let s = snapshot(&scene.main);
        assert_eq!(decode_snapshot(&encode_snapshot(&s)).unwrap(), s);
        assert!(decode_snapshot(&[0xff, 0xff, 0xff]).is_err());
        assert!(holds(&scene.main, &s));
        assert!(same_version(&s, &decode_snapshot(&encode_snapshot(&s)).unwrap()));
        assert!(same_version(&Snapshot::default(), &snapshot(&new_doc())));
        scene.edit(11, "anna", |txn, goals| goals.remove_range(txn, 0, 1));
        assert!(!same_version(&s, &snapshot(&scene.main)));
        assert!(!holds(&new_doc(), &s));
    }

    #[test]
    fn restore_is_a_forward_edit_that_keeps_unchanged_blocks_and_their_authors() {
        let mut scene = Scene::new();
        scene.edit(11, "anna", |txn, goals| {
            paragraph(txn, goals, 0, "Eerste");
            let p = goals.insert(txn, 1, XmlElementPrelim::empty("heading"));
            p.insert_attribute(txn, "level", Any::from(2));
            let t = p.insert(txn, 0, XmlTextPrelim::new("Vet en gewoon"));
            t.format(txn, 0, 3, Attrs::from([("bold".into(), true.into())]));
            let list = goals.insert(txn, 2, XmlElementPrelim::empty("bulletList"));
            for (i, word) in ["een", "twee", "drie"].into_iter().enumerate() {
                let item = list.insert(txn, i as u32, XmlElementPrelim::empty("listItem"));
                let p = item.insert(txn, 0, XmlElementPrelim::empty("paragraph"));
                p.insert(txn, 0, XmlTextPrelim::new(word));
            }
            paragraph(txn, goals, 3, "Laatste");
        });
        let version = snapshot(&scene.main);
        let before = plain_text(&scene.main);
        let heading_xml = {
            let goals = scene.main.get_or_insert_xml_fragment("goals");
            xml_string(
                &goals.get(&scene.main.transact(), 1).unwrap(),
                &scene.main.transact(),
            )
        };
        scene.edit(22, "bert", |txn, goals| {
            goals.remove_range(txn, 1, 2);
            paragraph(txn, goals, 1, "Iets anders");
            text_of(txn, goals, 0).insert(txn, 0, "Niet ");
        });
        assert_ne!(plain_text(&scene.main), before);

        // The restorer works on a copy with its own client, as the server does.
        let restorer = copy_as(&scene.main, 33);
        let target = doc_at(&scene.main, &version).unwrap();
        let update = restore(&restorer, &target).expect("a change");
        scene
            .main
            .transact_mut()
            .apply_update(Update::decode_v1(&update).unwrap())
            .unwrap();

        assert_eq!(plain_text(&scene.main), before);
        let goals = scene.main.get_or_insert_xml_fragment("goals");
        let txn = scene.main.transact();
        assert_eq!(
            xml_string(&goals.get(&txn, 1).unwrap(), &txn),
            heading_xml,
            "tag, attribute, bold kept"
        );
        drop(txn);
        // "Eerste" lost Bert's "Niet " and is Anna's again, "Laatste" was never touched; the
        // heading and list Bert deleted cannot be revived, so they are the restorer's copies.
        let authors = authorship(&scene.main)["goals"].clone();
        assert_eq!(
            authors[0],
            vec![crate::text::Span {
                text: "Eerste".into(),
                client: ClientId::new(11)
            }]
        );
        assert_eq!(authors.last().unwrap()[0].client, ClientId::new(11));
        assert!(
            authors[1..5]
                .iter()
                .flatten()
                .all(|s| s.client == ClientId::new(33))
        );
        // The update is only the restore: 33's inserts and the deletions it made.
        let info = crate::validate::parse_update_v1(&update, &crate::Limits::default()).unwrap();
        assert!(
            info.blocks
                .iter()
                .all(|b| matches!(b, crate::validate::Block::Item(i) if i.id.client == ClientId::new(33)))
        );

        // Restoring again changes nothing.
        let again = restore(&compacted(&scene.main), &target);
        assert!(again.is_none());
    }

    #[test]
    fn restore_inside_a_paragraph_touches_only_what_changed() {
        let mut scene = Scene::new();
        scene.edit(11, "anna", |txn, goals| {
            paragraph(txn, goals, 0, "Samen werken aan rust")
        });
        let version = snapshot(&scene.main);
        scene.edit(22, "bert", |txn, goals| {
            let t = text_of(txn, goals, 0);
            t.remove_range(txn, 17, 4);
            t.insert(txn, 17, "veiligheid");
            t.format(txn, 0, 5, Attrs::from([("bold".into(), true.into())]));
        });
        let restorer = copy_as(&scene.main, 33);
        let target = doc_at(&scene.main, &version).unwrap();
        let update = restore(&restorer, &target).expect("a change");
        scene
            .main
            .transact_mut()
            .apply_update(Update::decode_v1(&update).unwrap())
            .unwrap();
        assert_eq!(plain_text(&scene.main)["goals"], "Samen werken aan rust");
        assert_eq!(
            authorship(&scene.main)["goals"],
            vec![vec![
                crate::text::Span {
                    text: "Samen werken aan ".into(),
                    client: ClientId::new(11)
                },
                crate::text::Span {
                    text: "rust".into(),
                    client: ClientId::new(33)
                },
            ]]
        );
        let goals = scene.main.get_or_insert_xml_fragment("goals");
        assert!(
            !goals.get_string(&scene.main.transact()).contains("bold"),
            "formatting restored too"
        );
    }

    /// A small deterministic generator (xorshift), so the random tests need no seed file.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: u32) -> u32 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            if n == 0 { 0 } else { (self.0 % u64::from(n)) as u32 }
        }

        fn word(&mut self) -> String {
            let words = ["rust", "doel", "één", "😀", "klas", " ", "afspraak"];
            (0..=self.below(3))
                .map(|_| words[self.below(words.len() as u32) as usize])
                .collect()
        }
    }

    /// One random edit of `goals`, as an editor could make it.
    fn random_edit(rng: &mut Rng, txn: &mut TransactionMut, goals: &XmlFragmentRef) {
        let blocks = goals.len(txn);
        if blocks == 0 || rng.below(5) == 0 {
            let at = rng.below(blocks + 1);
            let word = rng.word();
            paragraph(txn, goals, at, &word);
            return;
        }
        let at = rng.below(blocks);
        let text = text_of(txn, goals, at);
        // UTF-16 offsets of the character boundaries, so no edit splits a surrogate pair.
        let plain: String = text
            .diff(txn, YChange::identity)
            .iter()
            .filter_map(|d| string_insert(d).map(str::to_owned))
            .collect();
        let mut bounds = vec![0u32];
        for ch in plain.chars() {
            bounds.push(bounds[bounds.len() - 1] + ch.len_utf16() as u32);
        }
        let pick = |rng: &mut Rng| bounds[rng.below(bounds.len() as u32) as usize];
        match rng.below(5) {
            0 => goals.remove_range(txn, at, 1),
            1 | 2 => {
                let offset = pick(rng);
                let word = rng.word();
                text.insert(txn, offset, &word);
            }
            3 => {
                let (a, b) = (pick(rng), pick(rng));
                if a != b {
                    text.remove_range(txn, a.min(b), a.max(b) - a.min(b));
                }
            }
            _ => {
                let (a, b) = (pick(rng), pick(rng));
                if a != b {
                    text.format(
                        txn,
                        a.min(b),
                        a.max(b) - a.min(b),
                        Attrs::from([("bold".into(), true.into())]),
                    );
                }
            }
        }
    }

    #[test]
    fn random_histories_diff_and_restore_exactly() {
        let (mut restored, mut mixed, mut formatted) = (0, 0, 0);
        for case in 0..150u64 {
            let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (case + 1).wrapping_mul(0x2545_F491_4F6C_DD1D));
            let mut scene = Scene::new();
            let steps = 2 + rng.below(12);
            let cut = rng.below(steps);
            let mut version = Snapshot::default();
            for step in 0..steps {
                let (client, who) = if rng.below(2) == 0 {
                    (11, "anna")
                } else {
                    (22, "bert")
                };
                let seed = rng.below(u32::MAX);
                scene.edit(client, who, |txn, goals| {
                    let mut local = Rng(u64::from(seed) | 1);
                    for _ in 0..=local.below(2) {
                        random_edit(&mut local, txn, goals);
                    }
                });
                if step == cut {
                    version = snapshot(&scene.main);
                }
            }
            let stored = compacted(&scene.main);
            let then = doc_at(&stored, &version).unwrap();
            let then_text = plain_text(&then)["goals"].clone();
            let now_text = plain_text(&stored)["goals"].clone();

            // The diff holds both versions: same + removed is then, same + added is now.
            let d = diff(
                &doc_at(&stored, &version).unwrap(),
                &compacted(&stored),
                &scene.deletions(),
            )
            .remove("goals")
            .unwrap();
            let side = |keep: Change| {
                d.lines
                    .iter()
                    .filter(|l| l.change == Change::Same || l.change == keep)
                    .map(|l| {
                        l.spans
                            .iter()
                            .filter(|s| s.change == Change::Same || s.change == keep)
                            .map(|s| s.text.as_str())
                            .collect::<String>()
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            assert_eq!(side(Change::Removed), then_text, "case {case}: the earlier side");
            assert_eq!(side(Change::Added), now_text, "case {case}: the later side");

            // Restore makes the document equal to the version, formatting included, and a
            // second restore changes nothing.
            let restorer = copy_as(&stored, 33);
            let target = doc_at(&stored, &version).unwrap();
            if let Some(update) = restore(&restorer, &target) {
                stored
                    .transact_mut()
                    .apply_update(Update::decode_v1(&update).unwrap())
                    .unwrap();
                restored += 1;
            }
            mixed += usize::from(d.added > 0 && d.removed > 0);
            let xml = |doc: &Doc| {
                doc.get_or_insert_xml_fragment("goals")
                    .get_string(&doc.transact())
            };
            assert_eq!(xml(&stored), xml(&target), "case {case}: restored");
            assert!(
                restore(&copy_as(&stored, 44), &target).is_none(),
                "case {case}: idempotent"
            );
            formatted += usize::from(xml(&target).contains("<bold>"));
        }
        // The generator must produce the interesting cases, or the test proves little.
        assert!(
            restored > 75 && mixed > 30 && formatted > 10,
            "{restored} {mixed} {formatted}"
        );
    }

    #[test]
    fn restore_of_an_empty_version_empties_every_section() {
        let mut scene = Scene::new();
        scene.edit(11, "anna", |txn, goals| paragraph(txn, goals, 0, "x"));
        let target = doc_at(&scene.main, &Snapshot::default()).unwrap();
        let copy = compacted(&scene.main);
        let update = restore(&copy, &target).expect("a change");
        assert!(!update.is_empty());
        assert_eq!(plain_text(&copy)["goals"], "");
        let goals = copy.get_or_insert_xml_fragment("goals");
        assert_eq!(goals.get_string(&copy.transact()), "");
    }
}

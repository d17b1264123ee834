//! Who writes where: which roots (the sections of a registration, the parts of a meeting)
//! an update inserts into or deletes from, and with which client IDs (DESIGN.md, "Who may
//! do what"). Which roots a kind of document has, and who writes each, is the caller's
//! rule ([`check_roots`]); this module finds where an update writes.
//!
//! Why an index: an update names a root only for items placed at the very top of an empty
//! section. Everything else (text typed in a paragraph, a character inserted before another)
//! points at other items by ID, so the section an item writes into is only known by
//! following parents and origins back to a root. [`SectionIndex`] remembers, per client, the
//! section of every clock range the document holds, and which ranges are already deleted;
//! [`SectionIndex::classify`] reads an update against it without changing it, and
//! [`check_roots`] and [`check_authorship`] decide.
//!
//! The rules follow how yrs integrates an item, so that the policy and the document never
//! disagree about where content ends up:
//! - a parent written as a root name is that root; a parent written as an item ID is
//!   the section of that item;
//! - a parent not written is that of the origin if the origin is an item, else that of the
//!   right origin; if neither is an item (both absent or garbage collected) yrs stores the
//!   item as garbage ([`Where::Orphan`]);
//! - an item whose parent is garbage is itself stored as garbage.
//!
//! The index does not know which items hold a type: an item whose parent holds text is
//! stored as garbage by yrs but is counted here as writing into the parent's section. That
//! errs towards refusing, never towards letting a write through.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::convert::Infallible;
use std::ops::Bound::{Excluded, Unbounded};
use std::sync::Arc;

use thiserror::Error;

use crate::ids::ClientId;
use crate::schema::Section;
use crate::validate::{Block, Content, DeleteRange, Id, ItemHeader, Parent, UpdateInfo};

/// Where a range of IDs lives.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Where {
    /// Inside the root of this name (a section of a registration, a part of a meeting).
    /// Whether the document's kind has such a root is the rule's to say: a root it does
    /// not know can only be found in a stored state written before the rule existed.
    /// Shared (`Arc`) because every item below the root carries it.
    Root(Arc<str>),
    /// Garbage: a GC block, or an item yrs stores as one because its parent is garbage or
    /// cannot be found. Nothing of it is visible in any root, so writing it is harmless.
    Orphan,
}

impl Where {
    /// Inside a registration's section.
    pub fn section(section: Section) -> Where {
        Where::Root(section.root_name().into())
    }
}

/// Why an update is refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PolicyError {
    /// The update inserts into or deletes from a root (a section) the user may not write.
    #[error("{0:?} is not writable for this user")]
    NotWritable(String),
    /// The update writes into a root this kind of document does not have.
    #[error("root {0:?} is not part of this document")]
    UnknownRoot(String),
    /// The update creates items with a client ID bound to another user.
    #[error("client ID {0} belongs to another user")]
    ClientIdOfAnotherUser(ClientId),
    /// Where this item lives cannot be told: it refers to nothing known, or (in a
    /// hand-crafted update) to itself through other items of the update.
    #[error("cannot tell where item {}:{} lives", .0.client, .0.clock)]
    UnresolvedParent(Id),
    /// The item's origin and right origin live in different places. Yjs and yrs would
    /// place it differently (yrs follows the right origin when the origin is garbage, Yjs
    /// makes the item garbage), and no honest editor writes this.
    #[error("the origins of item {}:{} live in different places", .0.client, .0.clock)]
    ConflictingOrigins(Id),
    /// The update deletes IDs the document does not hold. yrs would keep such a delete
    /// pending and apply it to whatever content later arrives with those IDs, whoever
    /// writes it and wherever it goes: that cannot be checked now, so it is refused.
    #[error("the update deletes items the document does not hold")]
    DeletesUnknownItems,
    /// The connection may not write at all (a read-only token), not even content outside
    /// every section, which would otherwise be stored and bind client IDs for free.
    #[error("this connection may not write")]
    ReadOnly,
}

/// What an update would change, as [`SectionIndex::classify`] reads it. Content the
/// document already holds (re-sent items, re-sent deletes) is left out: sync step 2 of a
/// reconnecting client re-sends the whole delete set, and that writes nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpdateEffect {
    /// Each client ID that brings new blocks, with where they go.
    pub inserts: BTreeSet<(ClientId, Where)>,
    /// Where the newly deleted items live.
    pub deletes: BTreeSet<Where>,
    /// Deleted ranges neither the document nor the update holds.
    pub unknown_deletes: Vec<DeleteRange>,
}

impl UpdateEffect {
    /// The client IDs that create blocks (items or garbage: both use up the client's clock).
    pub fn clients(&self) -> BTreeSet<ClientId> {
        self.inserts.iter().map(|(client, _)| *client).collect()
    }
}

/// Refuses an effect that writes a root `may_write` denies (`Some(false)`), writes a root
/// the document's kind does not have (`None`), or deletes unknown IDs. Garbage
/// ([`Where::Orphan`]) is never visible, so writing it needs no right.
pub fn check_roots(
    effect: &UpdateEffect,
    may_write: impl Fn(&str) -> Option<bool>,
) -> Result<(), PolicyError> {
    if !effect.unknown_deletes.is_empty() {
        return Err(PolicyError::DeletesUnknownItems);
    }
    for place in effect.inserts.iter().map(|(_, w)| w).chain(&effect.deletes) {
        if let Where::Root(name) = place {
            match may_write(name) {
                Some(true) => {}
                Some(false) => return Err(PolicyError::NotWritable(name.to_string())),
                None => return Err(PolicyError::UnknownRoot(name.to_string())),
            }
        }
    }
    Ok(())
}

/// The rule of a registration's document for someone who may write the sections
/// `may_write` allows: its roots are the sections.
pub fn sections(may_write: impl Fn(Section) -> bool) -> impl Fn(&str) -> Option<bool> {
    move |root| Section::from_root_name(root).map(&may_write)
}

/// Refuses an effect that creates blocks with a client ID `bound_to` gives to someone other
/// than `user`. Returns the client IDs not bound yet: the caller binds them to `user` once
/// the update is applied. Deletes carry no client ID, so only creations are checked.
pub fn check_authorship<U: PartialEq>(
    effect: &UpdateEffect,
    bound_to: impl Fn(ClientId) -> Option<U>,
    user: &U,
) -> Result<Vec<ClientId>, PolicyError> {
    let mut unbound = Vec::new();
    for client in effect.clients() {
        match bound_to(client) {
            Some(owner) if owner != *user => return Err(PolicyError::ClientIdOfAnotherUser(client)),
            Some(_) => {}
            None => unbound.push(client),
        }
    }
    Ok(unbound)
}

/// Per client, the section of every clock range a document holds, and which ranges are
/// deleted. Runs of the same section merge, so one person typing a long text in one
/// section is one run, not one entry per keystroke.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SectionIndex {
    /// client → start clock → (end clock, exclusive; where).
    runs: HashMap<ClientId, BTreeMap<u32, (u32, Where)>>,
    /// client → deleted ranges (start → end, exclusive), disjoint and not adjacent.
    deleted: HashMap<ClientId, BTreeMap<u32, u32>>,
}

/// A block of an update, trimmed to the part the index does not hold yet.
struct NewBlock<'a> {
    client: ClientId,
    start: u32,
    end: u32,
    /// `None` for a GC block.
    item: Option<&'a ItemHeader>,
}

/// The new blocks of an update and where each goes.
struct Resolved<'a> {
    blocks: Vec<NewBlock<'a>>,
    wheres: Vec<Where>,
    /// client → (start, end, index in `blocks`), sorted.
    by_client: HashMap<ClientId, Vec<(u32, u32, usize)>>,
}

/// How resolution treats an item it cannot place. Checking an incoming update is strict;
/// indexing a state or an accepted update follows yrs and never fails, so that loading a
/// room cannot fail on odd history. The error type makes "never fails" checked by the
/// compiler rather than an `unwrap`.
trait Mode {
    type Error;
    const STRICT: bool;
    fn fail(error: PolicyError) -> Result<Where, Self::Error>;
}

struct Strict;
impl Mode for Strict {
    type Error = PolicyError;
    const STRICT: bool = true;
    fn fail(error: PolicyError) -> Result<Where, PolicyError> {
        Err(error)
    }
}

struct Lenient;
impl Mode for Lenient {
    type Error = Infallible;
    const STRICT: bool = false;
    fn fail(_: PolicyError) -> Result<Where, Infallible> {
        Ok(Where::Orphan)
    }
}

/// Resolution state of a new block (an explicit stack, not recursion: chains of
/// references within one update can be as long as the update).
enum State {
    Todo,
    Active,
    Done(Where),
}

impl SectionIndex {
    /// Indexes a document from its full state (`encode_state_as_update_v1` against an
    /// empty state vector, parsed), as when a room loads.
    pub fn from_state(info: &UpdateInfo) -> SectionIndex {
        let mut index = SectionIndex::default();
        index.extend(info);
        index
    }

    /// Adds an update the document has just applied. The index must have been built from
    /// the state the update was applied to.
    pub fn extend(&mut self, info: &UpdateInfo) {
        let Ok(resolved) = self.resolve::<Lenient>(info);
        for (block, place) in resolved.blocks.iter().zip(resolved.wheres) {
            // Garbage and deleted-content items are deleted from the start: Yjs lists them
            // in every delete set it sends.
            let born_deleted =
                place == Where::Orphan || block.item.is_none_or(|item| item.content == Content::Deleted);
            if born_deleted {
                insert_range(
                    self.deleted.entry(block.client).or_default(),
                    block.start,
                    block.end,
                );
            }
            let runs = self.runs.entry(block.client).or_default();
            let start = block.start.max(next_clock(runs));
            if start >= block.end {
                continue;
            }
            match runs.last_entry() {
                Some(mut last) if last.get().0 == start && last.get().1 == place => {
                    last.get_mut().0 = block.end
                }
                _ => {
                    runs.insert(start, (block.end, place));
                }
            }
        }
        self.mark_deleted(info.deletes.iter().copied());
    }

    /// Records deletions the document made without them being in an update: yrs deletes
    /// an item integrated into a deleted paragraph, and the loser of concurrent writes to
    /// one map key. The server should pass the delete set of each transaction it applies
    /// (`TransactionMut::delete_set`), or re-sent delete sets would count as new deletes.
    pub fn mark_deleted(&mut self, ranges: impl IntoIterator<Item = DeleteRange>) {
        for range in ranges.into_iter().filter(|range| range.len > 0) {
            let deleted = self.deleted.entry(range.client).or_default();
            insert_range(deleted, range.clock, range.clock.saturating_add(range.len));
        }
    }

    /// Where the item with this ID lives, if the index holds it.
    pub fn section_of(&self, id: Id) -> Option<&Where> {
        run_at(self.runs.get(&id.client)?, id.clock).map(|(_, place)| place)
    }

    /// How many runs the index holds (a measure of its memory).
    pub fn run_count(&self) -> usize {
        self.runs.values().map(BTreeMap::len).sum::<usize>()
            + self.deleted.values().map(BTreeMap::len).sum::<usize>()
    }

    /// Reads what `info` would write, without changing the index. Every ID the update
    /// refers to must be in the document or the update ([`crate::deps`] checks that first).
    pub fn classify(&self, info: &UpdateInfo) -> Result<UpdateEffect, PolicyError> {
        let resolved = self.resolve::<Strict>(info)?;
        let mut effect = UpdateEffect::default();
        for (block, place) in resolved.blocks.iter().zip(&resolved.wheres) {
            effect.inserts.insert((block.client, place.clone()));
        }
        // Merge the delete set per client first, so overlapping ranges cannot make the walk
        // below visit the same runs again and again.
        let mut deletes: BTreeMap<ClientId, BTreeMap<u32, u32>> = BTreeMap::new();
        for range in &info.deletes {
            let end = range.clock.saturating_add(range.len);
            insert_range(deletes.entry(range.client).or_default(), range.clock, end);
        }
        for (client, ranges) in deletes {
            let deleted = self.deleted.get(&client).unwrap_or(empty_ranges());
            let runs = self.runs.get(&client).unwrap_or(empty_runs());
            let news = resolved.by_client.get(&client).map_or(&[][..], Vec::as_slice);
            for (start, end) in ranges.into_iter().flat_map(|(s, e)| uncovered(deleted, s, e)) {
                let mut clock = start;
                while clock < end {
                    if let Some((run_end, place)) = run_at(runs, clock) {
                        effect.deletes.insert(place.clone());
                        clock = run_end.min(end);
                    } else if let Some(&(_, block_end, i)) = block_at(news, clock) {
                        if let Some(place) = resolved.wheres.get(i) {
                            effect.deletes.insert(place.clone());
                        }
                        clock = block_end.min(end);
                    } else {
                        let next_run = runs.range((Excluded(clock), Unbounded)).next().map(|(s, _)| *s);
                        let next_block = news.get(news.partition_point(|b| b.0 <= clock)).map(|b| b.0);
                        let next = [next_run, next_block, Some(end)]
                            .into_iter()
                            .flatten()
                            .min()
                            .unwrap_or(end);
                        effect.unknown_deletes.push(DeleteRange {
                            client,
                            clock,
                            len: next.saturating_sub(clock),
                        });
                        clock = next;
                    }
                }
            }
        }
        Ok(effect)
    }

    /// Finds where every new block of `info` goes. Blocks are grouped per client, so an
    /// item may refer to one that comes later in the update: a depth-first walk over the
    /// references places each block once, whatever the order.
    fn resolve<'a, M: Mode>(&self, info: &'a UpdateInfo) -> Result<Resolved<'a>, M::Error> {
        let mut blocks = Vec::new();
        for block in &info.blocks {
            let (id, len, item) = match block {
                Block::Item(item) => (item.id, item.len, Some(item)),
                Block::Gc { id, len } => (*id, *len, None),
                // Refused by the dependency check; it holds nothing.
                Block::Skip { .. } => continue,
            };
            // yrs ignores the part of a block below its clock for that client: a re-sent
            // item is no new write, only its tail beyond the known clock is.
            let known = self.runs.get(&id.client).map_or(0, next_clock);
            let (start, end) = (id.clock.max(known), id.clock.saturating_add(len));
            if start < end {
                blocks.push(NewBlock {
                    client: id.client,
                    start,
                    end,
                    item,
                });
            }
        }
        let mut by_client: HashMap<ClientId, Vec<(u32, u32, usize)>> = HashMap::new();
        for (i, block) in blocks.iter().enumerate() {
            by_client
                .entry(block.client)
                .or_default()
                .push((block.start, block.end, i));
        }
        by_client.values_mut().for_each(|list| list.sort_unstable());

        let mut states: Vec<State> = blocks.iter().map(|_| State::Todo).collect();
        let mut stack = Vec::new();
        for root in 0..blocks.len() {
            stack.push(root);
            while let Some(&current) = stack.last() {
                let Some(block) = blocks.get(current) else {
                    break;
                };
                match states.get_mut(current) {
                    Some(State::Done(_)) | None => {
                        stack.pop();
                        continue;
                    }
                    Some(state) => *state = State::Active,
                }
                let waits_on = references(block.item)
                    .into_iter()
                    .flatten()
                    .filter(|id| self.section_of(*id).is_none())
                    .filter_map(|id| block_at(by_client.get(&id.client)?, id.clock).map(|b| b.2))
                    .find(|j| matches!(states.get(*j), Some(State::Todo)));
                if let Some(j) = waits_on {
                    stack.push(j);
                    continue;
                }
                let place = self.place::<M>(block, &by_client, &states)?;
                if let Some(state) = states.get_mut(current) {
                    *state = State::Done(place);
                }
                stack.pop();
            }
        }
        let wheres = states
            .into_iter()
            .map(|s| match s {
                State::Done(place) => place,
                State::Todo | State::Active => Where::Orphan,
            })
            .collect();
        Ok(Resolved {
            blocks,
            wheres,
            by_client,
        })
    }

    /// Where one block goes, once every block it refers to is placed (or, in a cycle,
    /// being placed).
    fn place<M: Mode>(
        &self,
        block: &NewBlock<'_>,
        by_client: &HashMap<ClientId, Vec<(u32, u32, usize)>>,
        states: &[State],
    ) -> Result<Where, M::Error> {
        let where_of = |id: Id| -> Result<Where, M::Error> {
            if let Some(place) = self.section_of(id) {
                return Ok(place.clone());
            }
            let state = by_client
                .get(&id.client)
                .and_then(|list| block_at(list, id.clock))
                .and_then(|b| states.get(b.2));
            match state {
                Some(State::Done(place)) => Ok(place.clone()),
                _ => M::fail(PolicyError::UnresolvedParent(id)),
            }
        };
        let Some(item) = block.item else {
            return Ok(Where::Orphan);
        };
        let (origin, right) = match &item.parent {
            Parent::Root(name) => return Ok(Where::Root(name.as_str().into())),
            Parent::Item(id) => return where_of(*id),
            Parent::FromOrigin => (item.origin, item.right_origin),
        };
        let origin = origin.map(where_of).transpose()?;
        let right = right.map(where_of).transpose()?;
        match (origin, right) {
            (Some(o), Some(r)) if M::STRICT && o != r => M::fail(PolicyError::ConflictingOrigins(item.id)),
            // yrs: the origin's parent if the origin is an item, else the right origin's.
            (Some(Where::Orphan), Some(r)) | (None, Some(r)) => Ok(r),
            (Some(o), _) => Ok(o),
            (None, None) => M::fail(PolicyError::UnresolvedParent(item.id)),
        }
    }
}

/// The IDs an item's place depends on.
fn references(item: Option<&ItemHeader>) -> [Option<Id>; 2] {
    match item.map(|item| (&item.parent, item)) {
        Some((Parent::Item(id), _)) => [Some(*id), None],
        Some((Parent::FromOrigin, item)) => [item.origin, item.right_origin],
        Some((Parent::Root(_), _)) | None => [None, None],
    }
}

fn empty_runs() -> &'static BTreeMap<u32, (u32, Where)> {
    static EMPTY: BTreeMap<u32, (u32, Where)> = BTreeMap::new();
    &EMPTY
}

fn empty_ranges() -> &'static BTreeMap<u32, u32> {
    static EMPTY: BTreeMap<u32, u32> = BTreeMap::new();
    &EMPTY
}

/// The first clock after the runs (histories have no gaps, so everything below is known).
fn next_clock(runs: &BTreeMap<u32, (u32, Where)>) -> u32 {
    runs.last_key_value().map_or(0, |(_, (end, _))| *end)
}

/// The run holding `clock`: its end and where.
fn run_at(runs: &BTreeMap<u32, (u32, Where)>, clock: u32) -> Option<(u32, &Where)> {
    let (_, (end, place)) = runs.range(..=clock).next_back()?;
    (clock < *end).then_some((*end, place))
}

/// The new block (start, end, index) holding `clock`, in a sorted list.
fn block_at(list: &[(u32, u32, usize)], clock: u32) -> Option<&(u32, u32, usize)> {
    let i = list.partition_point(|b| b.1 <= clock);
    list.get(i).filter(|b| b.0 <= clock)
}

/// Adds `start..end` to a set of disjoint, non-adjacent ranges, merging as needed.
fn insert_range(ranges: &mut BTreeMap<u32, u32>, mut start: u32, mut end: u32) {
    if start >= end {
        return;
    }
    if let Some((&s, &e)) = ranges.range(..=start).next_back()
        && e >= start
    {
        start = s;
        end = end.max(e);
    }
    let touching: Vec<u32> = ranges.range(start..=end).map(|(s, _)| *s).collect();
    for s in touching {
        if let Some(e) = ranges.remove(&s) {
            end = end.max(e);
        }
    }
    ranges.insert(start, end);
}

/// The parts of `start..end` that `ranges` does not cover.
fn uncovered(ranges: &BTreeMap<u32, u32>, start: u32, end: u32) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    let mut clock = start;
    if let Some((_, &e)) = ranges.range(..=start).next_back() {
        clock = clock.max(e);
    }
    if start < end {
        for (&s, &e) in ranges.range((Excluded(start), Excluded(end))) {
            if s > clock {
                out.push((clock, s));
            }
            clock = clock.max(e);
        }
    }
    if clock < end {
        out.push((clock, end));
    }
    out
}

#[cfg(test)]
mod tests {
    use yrs::types::Attrs;
    use yrs::types::xml::{XmlElementPrelim, XmlElementRef, XmlFragment, XmlTextPrelim, XmlTextRef};
    use yrs::updates::decoder::Decode;
    use yrs::{Any, Doc, ReadTxn, StateVector, Text, Transact, Update};

    use super::*;
    use crate::schema::new_doc_with_client_id;
    use crate::validate::{Limits, parse_update_v1};

    fn parse(update: &[u8]) -> UpdateInfo {
        parse_update_v1(update, &Limits::default()).expect("valid update")
    }

    fn state(doc: &Doc) -> UpdateInfo {
        parse(&doc.transact().encode_state_as_update_v1(&StateVector::default()))
    }

    /// Runs `edit` on `doc` and returns the update it made.
    fn edit(doc: &Doc, edit: impl FnOnce(&mut yrs::TransactionMut)) -> UpdateInfo {
        let before = doc.transact().state_vector();
        edit(&mut doc.transact_mut());
        parse(&doc.transact().encode_diff_v1(&before))
    }

    fn paragraph(doc: &Doc, section: &str, text: &str) -> (XmlElementRef, XmlTextRef) {
        let root = doc.get_or_insert_xml_fragment(section);
        let mut txn = doc.transact_mut();
        let p = root.push_back(&mut txn, XmlElementPrelim::empty("paragraph"));
        let t = p.push_back(&mut txn, XmlTextPrelim::new(text));
        (p, t)
    }

    /// The inserts with client IDs as numbers, to compare with literals.
    fn inserts(effect: &UpdateEffect) -> Vec<(u64, Where)> {
        effect
            .inserts
            .iter()
            .map(|(client, place)| (client.get(), place.clone()))
            .collect()
    }

    fn in_goals() -> Where {
        Where::section(Section::Goals)
    }

    fn in_advice() -> Where {
        Where::section(Section::Advice)
    }

    #[test]
    fn a_paragraph_typed_into_goals_is_goals() {
        let doc = new_doc_with_client_id(Some(ClientId::new(1)));
        paragraph(&doc, "goals", "lezen");
        let effect = SectionIndex::default().classify(&state(&doc)).expect("classify");
        assert_eq!(inserts(&effect), [(1, in_goals())]);
        assert_eq!(effect.clients(), BTreeSet::from([ClientId::new(1)]));
        assert!(effect.deletes.is_empty() && effect.unknown_deletes.is_empty());
    }

    #[test]
    fn text_in_an_existing_paragraph_is_placed_by_ids_alone() {
        let doc = new_doc_with_client_id(Some(ClientId::new(1)));
        let (p, t) = paragraph(&doc, "goals", "lezen");
        let index = SectionIndex::from_state(&state(&doc));
        let update = edit(&doc, |txn| {
            t.insert(txn, 5, " en schrijven");
            let bold = Attrs::from([(Arc::from("bold"), Any::Bool(true))]);
            t.format(txn, 0, 5, bold);
            let list = p.push_back(txn, XmlElementPrelim::empty("bullet_list"));
            let item = list.push_back(txn, XmlElementPrelim::empty("list_item"));
            item.push_back(txn, XmlTextPrelim::new("rekenen"));
        });
        assert!(
            update
                .blocks
                .iter()
                .all(|b| !matches!(b, Block::Item(i) if matches!(i.parent, Parent::Root(_))))
        );
        let effect = index.classify(&update).expect("classify");
        assert_eq!(inserts(&effect), [(1, in_goals())]);
    }

    #[test]
    fn an_item_placed_only_by_its_right_origin_resolves() {
        let doc = new_doc_with_client_id(Some(ClientId::new(1)));
        let (_, t) = paragraph(&doc, "agreements", "later");
        let index = SectionIndex::from_state(&state(&doc));
        let update = edit(&doc, |txn| t.insert(txn, 0, "nu, "));
        let Some(Block::Item(item)) = update.blocks.first() else {
            panic!("an item")
        };
        assert!(item.origin.is_none() && item.right_origin.is_some());
        let effect = index.classify(&update).expect("classify");
        assert_eq!(inserts(&effect), [(1, Where::section(Section::Agreements))]);
    }

    #[test]
    fn deletes_report_the_sections_they_touch() {
        let doc = new_doc_with_client_id(Some(ClientId::new(1)));
        let (_, advice) = paragraph(&doc, "advice", "advies");
        paragraph(&doc, "goals", "doel");
        let index = SectionIndex::from_state(&state(&doc));
        let update = edit(&doc, |txn| advice.remove_range(txn, 0, 3));
        let effect = index.classify(&update).expect("classify");
        assert_eq!(
            (effect.inserts.len(), effect.deletes.clone()),
            (0, BTreeSet::from([in_advice()]))
        );

        // One delete range over the end of advice and all of goals.
        let goals = doc.get_or_insert_xml_fragment("goals");
        let update = edit(&doc, |txn| {
            advice.remove_range(txn, 0, 3);
            goals.remove_range(txn, 0, 1);
        });
        assert_eq!(update.deletes.len(), 1, "{:?}", update.deletes);
        let effect = index.classify(&update).expect("classify");
        assert_eq!(effect.deletes, BTreeSet::from([in_advice(), in_goals()]));
        assert!(check_roots(&effect, sections(Section::school_may_write)).is_err());
        assert_eq!(check_roots(&effect, sections(|_| true)), Ok(()));
    }

    #[test]
    fn a_school_may_write_goals_but_not_advice() {
        let doc = new_doc_with_client_id(Some(ClientId::new(1)));
        paragraph(&doc, "goals", "doel");
        let goals = SectionIndex::default().classify(&state(&doc)).expect("classify");
        assert_eq!(check_roots(&goals, sections(Section::school_may_write)), Ok(()));
        paragraph(&doc, "advice", "advies");
        let both = SectionIndex::default().classify(&state(&doc)).expect("classify");
        assert_eq!(
            check_roots(&both, sections(Section::school_may_write)),
            Err(PolicyError::NotWritable("advice".into()))
        );
    }

    #[test]
    fn a_client_id_bound_to_another_user_is_refused() {
        let doc = new_doc_with_client_id(Some(ClientId::new(7)));
        paragraph(&doc, "goals", "doel");
        let effect = SectionIndex::default().classify(&state(&doc)).expect("classify");
        let bound =
            |owner: &'static str| move |client: ClientId| (client == ClientId::new(7)).then_some(owner);
        assert_eq!(check_authorship(&effect, bound("an"), &"an"), Ok(vec![]));
        assert_eq!(
            check_authorship(&effect, bound("bert"), &"an"),
            Err(PolicyError::ClientIdOfAnotherUser(ClientId::new(7)))
        );
        assert_eq!(
            check_authorship(&effect, |_| None, &"an"),
            Ok(vec![ClientId::new(7)])
        );
    }

    #[test]
    fn references_to_later_blocks_of_a_merged_update_resolve() {
        let a = new_doc_with_client_id(Some(ClientId::new(1)));
        paragraph(&a, "goals", "");
        let a_update = a.transact().encode_state_as_update_v1(&StateVector::default());
        let b = new_doc_with_client_id(Some(ClientId::new(2)));
        b.transact_mut()
            .apply_update(Update::decode_v1(&a_update).expect("decode"))
            .expect("apply");
        let b_update = {
            let before = b.transact().state_vector();
            let root = b.get_or_insert_xml_fragment("goals");
            let mut txn = b.transact_mut();
            let Some(yrs::XmlOut::Element(p)) = root.get(&txn, 0) else {
                panic!("paragraph")
            };
            p.push_back(&mut txn, XmlTextPrelim::new("van b"));
            drop(txn);
            b.transact().encode_diff_v1(&before)
        };
        let merged = parse(&yrs::merge_updates_v1([&b_update, &a_update]).expect("merge"));
        let first = merged.blocks.first().and_then(|b| {
            if let Block::Item(i) = b {
                Some(i.id.client)
            } else {
                None
            }
        });
        assert_eq!(
            first,
            Some(ClientId::new(2)),
            "client 2's text comes before the paragraph it lives in"
        );
        let effect = SectionIndex::default().classify(&merged).expect("classify");
        assert_eq!(inserts(&effect), [(1, in_goals()), (2, in_goals())]);
    }

    #[test]
    fn typing_makes_few_runs_and_incremental_equals_from_state() {
        let doc = new_doc_with_client_id(Some(ClientId::new(3)));
        let (_, goals) = paragraph(&doc, "goals", "");
        let (_, advice) = paragraph(&doc, "advice", "");
        let mut index = SectionIndex::from_state(&state(&doc));
        for i in 0..100u32 {
            let text = if i % 50 < 40 { &goals } else { &advice };
            index.extend(&edit(&doc, |txn| {
                let len = text.len(txn);
                text.insert(txn, len, "x");
            }));
            if i % 10 == 9 {
                index.extend(&edit(&doc, |txn| text.remove_range(txn, 0, 1)));
            }
        }
        assert_eq!(index, SectionIndex::from_state(&state(&doc)));
        assert!(index.run_count() <= 12, "{} runs: {index:?}", index.run_count());
        // Everything re-sent (sync step 2 of a reconnecting client) is no new write.
        let effect = index.classify(&state(&doc)).expect("classify");
        assert_eq!(effect, UpdateEffect::default());
    }

    #[test]
    fn only_the_unknown_tail_of_a_re_sent_block_is_new() {
        let doc = new_doc_with_client_id(Some(ClientId::new(1)));
        let (_, t) = paragraph(&doc, "goals", "ab");
        let index = SectionIndex::from_state(&state(&doc));
        t.insert(&mut doc.transact_mut(), 2, "cd");
        let effect = index.classify(&state(&doc)).expect("classify");
        assert_eq!(inserts(&effect), [(1, in_goals())]);
    }

    fn item(client: u64, clock: u32, parent: Parent, origin: Option<Id>, right: Option<Id>) -> Block {
        Block::Item(ItemHeader {
            id: id(client, clock),
            len: 1,
            origin,
            right_origin: right,
            parent,
            parent_sub: None,
            content: Content::String,
        })
    }

    fn id(client: u64, clock: u32) -> Id {
        Id {
            client: ClientId::new(client),
            clock,
        }
    }

    #[test]
    fn hand_crafted_edge_cases() {
        let root = |name: &str| Parent::Root(name.to_owned());
        let classify = |index: &SectionIndex, blocks: Vec<Block>, deletes: Vec<DeleteRange>| {
            index.classify(&UpdateInfo { blocks, deletes })
        };
        let empty = SectionIndex::default();
        // No origin to take the parent from.
        let lost = vec![item(1, 0, Parent::FromOrigin, None, None)];
        assert_eq!(
            classify(&empty, lost, vec![]),
            Err(PolicyError::UnresolvedParent(id(1, 0)))
        );
        // Two items placed by each other.
        let cycle = vec![
            item(1, 0, Parent::FromOrigin, Some(id(2, 0)), None),
            item(2, 0, Parent::Item(id(1, 0)), None, None),
        ];
        assert!(matches!(
            classify(&empty, cycle, vec![]),
            Err(PolicyError::UnresolvedParent(_))
        ));
        // Origins in two sections.
        let mut index = SectionIndex::default();
        index.extend(&UpdateInfo {
            blocks: vec![
                item(1, 0, root("goals"), None, None),
                item(1, 1, root("advice"), None, None),
                Block::Gc { id: id(1, 2), len: 1 },
                item(1, 3, root("notes"), None, None),
            ],
            deletes: vec![],
        });
        let conflict = vec![item(2, 0, Parent::FromOrigin, Some(id(1, 0)), Some(id(1, 1)))];
        assert_eq!(
            classify(&index, conflict, vec![]),
            Err(PolicyError::ConflictingOrigins(id(2, 0)))
        );
        // Under garbage: stored as garbage, visible nowhere, allowed to anyone.
        let orphan = vec![
            item(2, 0, Parent::Item(id(1, 2)), None, None),
            item(2, 1, Parent::FromOrigin, Some(id(2, 0)), None),
        ];
        let effect = classify(&index, orphan, vec![]).expect("classify");
        assert_eq!(inserts(&effect), [(2, Where::Orphan)]);
        assert_eq!(check_roots(&effect, sections(|_| false)), Ok(()));
        // A root that is not a section, written or deleted from.
        let notes = classify(&index, vec![item(2, 0, root("notes"), None, None)], vec![]).expect("classify");
        assert_eq!(
            check_roots(&notes, sections(|_| true)),
            Err(PolicyError::UnknownRoot("notes".into()))
        );
        let del = |clock, len| DeleteRange {
            client: ClientId::new(1),
            clock,
            len,
        };
        let notes = classify(&index, vec![], vec![del(3, 1)]).expect("classify");
        assert_eq!(
            check_roots(&notes, sections(|_| true)),
            Err(PolicyError::UnknownRoot("notes".into()))
        );
        // Deleting IDs nobody has, next to known ones and overlapping.
        let effect = classify(&index, vec![], vec![del(1, 6), del(0, 2)]).expect("classify");
        assert_eq!(effect.unknown_deletes, [del(4, 3)]);
        assert_eq!(
            check_roots(&effect, sections(|_| true)),
            Err(PolicyError::DeletesUnknownItems)
        );
        // Already deleted IDs (here: goals, and the garbage) are no new delete.
        index.mark_deleted([del(0, 1)]);
        let effect = classify(&index, vec![], vec![del(0, 3)]).expect("classify");
        assert_eq!(effect.deletes, BTreeSet::from([in_advice()]));
    }
}

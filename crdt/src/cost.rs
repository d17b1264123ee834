//! Bounds on what integrating an update may cost yrs, read from the update alone.
//!
//! Why: [`crate::validate`] bounds parsing (linear in the bytes), but integration can cost
//! far more than its bytes. yrs places an item by walking its parent's list from the item's
//! left origin to its right origin (the conflict search), so one 7-byte item whose origins
//! are far apart costs a walk over every item between them: ~0.7 µs per item passed, 14 ms
//! per such item in a paragraph of 20,000 items (`examples/integrate_cost.rs`). An update
//! of such items would hold its room for hours. yrs 0.28 does not let us see how far apart
//! two items are (its item links are private), so this module bounds the number of items
//! that may search at all, and the server bounds the time each user's updates take
//! (`rooms/usage.rs`); both figures are in docs/architecture.md.
//!
//! An item *searches* when it names a right origin or has no left origin in a list:
//! yrs then walks until it finds its place. Three kinds do not count, because yrs finds
//! their place at once whatever the document holds:
//! - the next item of a run: its left origin is the previous block of this update and its
//!   right origin the same as that block's (typing, a paste of many nodes);
//! - the first item put into a list this update creates (a new paragraph's text);
//! - a map entry (bounded with the values instead, below).
//!
//! Two more shapes cost yrs time quadratic in their number within one update, whatever
//! the document: a run of chained items (each merged into the one before: 20,000 took
//! 0.3 s, 100,000 took 12 s), hence the bound on blocks; and values or map entries (20,000
//! took 22 s), hence the bound on values.
//!
//! Like the rest of this crate: pure, no IO, linear in the update.

use std::collections::{HashMap, HashSet};

use thiserror::Error;

use crate::ids::ClientId;
use crate::validate::{Block, Content, Id, Parent, UpdateInfo};

/// Bounds on one update, beyond its size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CostLimits {
    /// Blocks (items, GC) in one update.
    pub max_blocks: usize,
    /// Deleted ranges in one update (each may split an item: ~2.5 µs).
    pub max_delete_ranges: usize,
    /// Client IDs with blocks in one update. Every client ID stays in the document's state
    /// vector for ever, and so in every sync of it.
    pub max_clients: usize,
    /// Items that search for their place (see the module doc).
    pub max_searching: usize,
    /// Values (`Any`, binary, embeds) and map entries in one update. A run of them that
    /// replace each other, or map entries without an origin, cost yrs time quadratic in
    /// their number: 1,000 took 22 ms, 20,000 took 22 s.
    pub max_values: usize,
}

impl Default for CostLimits {
    /// Far above what a person's edits produce (docs/architecture.md, "Resource bounds"):
    /// a keystroke is one searching item, a paste one, an offline hour's sync a few dozen.
    fn default() -> Self {
        CostLimits {
            max_blocks: 16_384,
            max_delete_ranges: 100_000,
            max_clients: 64,
            max_searching: 128,
            max_values: 1_024,
        }
    }
}

/// Why an update would cost too much to integrate.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CostError {
    /// More blocks than [`CostLimits::max_blocks`].
    #[error("{0} blocks in one update (at most {1})")]
    Blocks(usize, usize),
    /// More deleted ranges than [`CostLimits::max_delete_ranges`].
    #[error("{0} deleted ranges in one update (at most {1})")]
    DeleteRanges(usize, usize),
    /// More client IDs than [`CostLimits::max_clients`].
    #[error("{0} client IDs in one update (at most {1})")]
    Clients(usize, usize),
    /// More searching items than [`CostLimits::max_searching`].
    #[error("more than {0} items in one update search for their place")]
    Searching(usize),
    /// More values and map entries than [`CostLimits::max_values`].
    #[error("more than {0} values or map entries in one update")]
    Values(usize),
}

/// Checks `info` against `limits`; linear in the update.
pub fn check_cost(info: &UpdateInfo, limits: &CostLimits) -> Result<(), CostError> {
    if info.blocks.len() > limits.max_blocks {
        return Err(CostError::Blocks(info.blocks.len(), limits.max_blocks));
    }
    if info.deletes.len() > limits.max_delete_ranges {
        return Err(CostError::DeleteRanges(
            info.deletes.len(),
            limits.max_delete_ranges,
        ));
    }
    let covered = covered(info);
    if covered.len() > limits.max_clients {
        return Err(CostError::Clients(covered.len(), limits.max_clients));
    }
    let creates = |id: &Id| {
        covered
            .get(&id.client)
            .is_some_and(|&(start, end)| id.clock >= start && id.clock < end)
    };
    // Parents created by this update whose list has received its first item.
    let mut started: HashSet<Id> = HashSet::new();
    let (mut searching, mut values) = (0usize, 0usize);
    let mut previous: Option<(Id, Option<Id>)> = None; // (last ID, right origin)
    for block in &info.blocks {
        let Block::Item(item) = block else {
            previous = None;
            continue;
        };
        let continues =
            previous.is_some_and(|(last, right)| item.origin == Some(last) && item.right_origin == right);
        let first_in_new_list = match (&item.origin, &item.right_origin, &item.parent) {
            (None, None, Parent::Item(parent)) if item.parent_sub.is_none() => {
                creates(parent) && started.insert(*parent)
            }
            _ => false,
        };
        let map_entry = item.parent_sub.is_some();
        if map_entry || matches!(item.content, Content::Any | Content::Binary | Content::Embed) {
            values += 1;
            if values > limits.max_values {
                return Err(CostError::Values(limits.max_values));
            }
        }
        let searches = item.right_origin.is_some() || item.origin.is_none();
        if searches && !continues && !first_in_new_list && !map_entry {
            searching += 1;
            if searching > limits.max_searching {
                return Err(CostError::Searching(limits.max_searching));
            }
        }
        let last = Id {
            client: item.id.client,
            clock: item.id.clock.saturating_add(item.len.saturating_sub(1)),
        };
        previous = Some((last, item.right_origin));
    }
    Ok(())
}

/// The clock range each client's blocks cover in `info` (they are consecutive: the
/// validator reads each client's blocks from one start clock).
fn covered(info: &UpdateInfo) -> HashMap<ClientId, (u32, u32)> {
    let mut ranges: HashMap<ClientId, (u32, u32)> = HashMap::new();
    for block in &info.blocks {
        let (id, len) = match block {
            Block::Item(item) => (item.id, item.len),
            Block::Gc { id, len } | Block::Skip { id, len } => (*id, *len),
        };
        let end = id.clock.saturating_add(len);
        ranges
            .entry(id.client)
            .and_modify(|r| *r = (r.0.min(id.clock), r.1.max(end)))
            .or_insert((id.clock, end));
    }
    ranges
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::{Limits, parse_update_v1};
    use yrs::types::xml::{XmlElementPrelim, XmlFragment, XmlTextPrelim};
    use yrs::{ReadTxn, StateVector, Text, Transact};

    fn limits(max_searching: usize) -> CostLimits {
        CostLimits {
            max_searching,
            ..CostLimits::default()
        }
    }

    fn info(bytes: &[u8]) -> UpdateInfo {
        parse_update_v1(bytes, &Limits::default()).expect("valid")
    }

    #[test]
    fn honest_edits_search_little() {
        let doc = crate::new_doc();
        let goals = doc.get_or_insert_xml_fragment("goals");
        // A paste of 50 paragraphs in one transaction: one search (the first paragraph),
        // the rest continue it, and each paragraph's text is the first item of a new list.
        {
            let mut txn = doc.transact_mut();
            for n in 0..50 {
                let p = goals.push_back(&mut txn, XmlElementPrelim::empty("paragraph"));
                p.push_back(&mut txn, XmlTextPrelim::new(format!("alinea {n}")));
            }
        }
        let full = doc.transact().encode_state_as_update_v1(&StateVector::default());
        assert_eq!(check_cost(&info(&full), &limits(1)), Ok(()));

        // Typing in the middle of a paragraph: one search per keystroke update.
        let sv = doc.transact().state_vector();
        let text = {
            let txn = doc.transact();
            let p = goals
                .get(&txn, 10)
                .and_then(|n| n.into_xml_element())
                .expect("paragraph");
            p.get(&txn, 0).and_then(|n| n.into_xml_text()).expect("text")
        };
        text.insert(&mut doc.transact_mut(), 3, "x");
        let keystroke = doc.transact().encode_diff_v1(&sv);
        assert_eq!(check_cost(&info(&keystroke), &limits(1)), Ok(()));
    }

    /// An update of `n` items by client 9, each placed between the same two far-apart items
    /// of client 1 (the costly shape of the module doc).
    fn far_items(n: u32) -> Vec<u8> {
        use crate::lib0::write_var;
        let mut out = Vec::new();
        write_var(&mut out, 1u64);
        write_var(&mut out, u64::from(n));
        write_var(&mut out, 9u64);
        write_var(&mut out, 0u64);
        for _ in 0..n {
            out.push(0xc0 | 4);
            for v in [1u64, 0, 1, 1] {
                write_var(&mut out, v);
            }
            write_var(&mut out, 1u64);
            out.push(b'a');
        }
        write_var(&mut out, 0u64);
        out
    }

    #[test]
    fn far_apart_origins_are_counted_and_refused_past_the_limit() {
        assert_eq!(check_cost(&info(&far_items(4)), &limits(4)), Ok(()));
        assert_eq!(
            check_cost(&info(&far_items(5)), &limits(4)),
            Err(CostError::Searching(4))
        );
    }

    #[test]
    fn map_entries_and_values_are_counted() {
        let doc = crate::new_doc();
        let map = doc.get_or_insert_map("m");
        {
            let mut txn = doc.transact_mut();
            for n in 0..10 {
                yrs::Map::insert(&map, &mut txn, format!("k{n}"), n);
            }
        }
        let update = info(&doc.transact().encode_state_as_update_v1(&StateVector::default()));
        let tight = CostLimits {
            max_values: 9,
            ..CostLimits::default()
        };
        assert_eq!(check_cost(&update, &tight), Err(CostError::Values(9)));
        assert_eq!(check_cost(&update, &CostLimits::default()), Ok(()));
    }

    #[test]
    fn counts_blocks_deletes_and_clients() {
        let many = far_items(10);
        let tight = CostLimits {
            max_blocks: 9,
            ..CostLimits::default()
        };
        assert_eq!(check_cost(&info(&many), &tight), Err(CostError::Blocks(10, 9)));

        // 3 clients, one item each, and 3 deleted ranges.
        let doc = crate::new_doc();
        let text = doc.get_or_insert_text("t");
        for client in 1..=3u64 {
            let other = crate::schema::new_doc_with_client_id(Some(ClientId::new(client)));
            let t = other.get_or_insert_text("t");
            t.insert(&mut other.transact_mut(), 0, "abcdef");
            let u = other
                .transact()
                .encode_state_as_update_v1(&StateVector::default());
            doc.transact_mut()
                .apply_update(yrs::Update::decode_v1(&u).expect("decodes"))
                .expect("applies");
        }
        {
            let mut txn = doc.transact_mut();
            text.remove_range(&mut txn, 1, 1);
            text.remove_range(&mut txn, 3, 1);
            text.remove_range(&mut txn, 5, 1);
        }
        let update = info(&doc.transact().encode_state_as_update_v1(&StateVector::default()));
        let clients = CostLimits {
            max_clients: 2,
            ..CostLimits::default()
        };
        assert_eq!(check_cost(&update, &clients), Err(CostError::Clients(3, 2)));
        let deletes = CostLimits {
            max_delete_ranges: 2,
            ..CostLimits::default()
        };
        assert_eq!(check_cost(&update, &deletes), Err(CostError::DeleteRanges(3, 2)));
    }

    use yrs::updates::decoder::Decode;
}

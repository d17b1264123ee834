//! Dependency check: does an update rest only on what the document already holds?
//!
//! Why: yrs parks an update whose dependencies are missing as "pending" and integrates it
//! later. With hostile updates that path is unsound in yrs 0.28.1: a replay of mutated,
//! well-formed updates (see `tests/bad_input.rs`) made the server dereference freed memory
//! after about 86,000 messages, and never once in 200,000 when updates with missing
//! dependencies were refused. Honest Yjs clients only send such updates in a short race
//! after reconnecting, and their sync step 2 resends the content anyway; so the server
//! refuses them and the client resyncs.

use std::collections::HashMap;

use crate::ids::ClientId;
use crate::validate::{Block, Id, Parent, UpdateInfo};

/// The first thing an update needs that neither the document nor the update holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// A client's blocks start after the document's clock for it: a gap.
    Gap {
        /// The client.
        client: ClientId,
        /// The document's next clock for that client.
        have: u32,
        /// Where the update's blocks start.
        starts_at: u32,
    },
    /// An origin, right origin or parent that is nowhere.
    Reference(Id),
    /// A skip block: a merged update with a hole in it.
    Skip(Id),
}

/// Checks that every block of `info` continues its client's history without a gap and
/// refers only to items the document or the update holds. `clock_of(client)` is the
/// document's next clock for a client (its state vector entry, 0 if unknown).
pub fn missing_dependency(info: &UpdateInfo, clock_of: impl Fn(ClientId) -> u32) -> Option<Missing> {
    // Per client, the clock range this update brings.
    let mut brings: HashMap<ClientId, (u32, u32)> = HashMap::new();
    for block in &info.blocks {
        let (id, len) = match block {
            Block::Item(item) => (item.id, item.len),
            Block::Gc { id, len } => (*id, *len),
            Block::Skip { id, .. } => return Some(Missing::Skip(*id)),
        };
        let range = brings.entry(id.client).or_insert((id.clock, id.clock));
        range.1 = id.clock.saturating_add(len);
    }
    for (&client, &(start, _)) in &brings {
        let have = clock_of(client);
        if start > have {
            return Some(Missing::Gap {
                client,
                have,
                starts_at: start,
            });
        }
    }
    let known = |id: &Id| {
        id.clock < clock_of(id.client)
            || brings
                .get(&id.client)
                .is_some_and(|&(start, end)| id.clock >= start && id.clock < end)
    };
    for block in &info.blocks {
        if let Block::Item(item) = block {
            let parent = match &item.parent {
                Parent::Item(id) => Some(id),
                Parent::Root(_) | Parent::FromOrigin => None,
            };
            let refs = [item.origin.as_ref(), item.right_origin.as_ref(), parent];
            if let Some(id) = refs.into_iter().flatten().find(|id| !known(id)) {
                return Some(Missing::Reference(*id));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use yrs::types::xml::{XmlElementPrelim, XmlFragment, XmlTextPrelim};
    use yrs::updates::decoder::Decode;
    use yrs::{ReadTxn, StateVector, Transact};

    use super::*;
    use crate::validate::{Limits, parse_update_v1};

    fn clock_in(doc: &yrs::Doc) -> impl Fn(ClientId) -> u32 {
        let sv = doc.transact().state_vector();
        move |client| sv.get(&client.into())
    }

    fn info(update: &[u8]) -> UpdateInfo {
        parse_update_v1(update, &Limits::default()).expect("valid update")
    }

    /// Two successive updates of one writer: a paragraph, then text inside it.
    fn two_updates() -> (Vec<u8>, Vec<u8>) {
        let doc = crate::new_doc();
        let goals = doc.get_or_insert_xml_fragment("goals");
        let mut txn = doc.transact_mut();
        let p = goals.push_back(&mut txn, XmlElementPrelim::empty("paragraph"));
        drop(txn);
        let first = doc.transact().encode_state_as_update_v1(&StateVector::default());
        let sv = doc.transact().state_vector();
        p.push_back(&mut doc.transact_mut(), XmlTextPrelim::new("doel"));
        let second = doc.transact().encode_diff_v1(&sv);
        (first, second)
    }

    #[test]
    fn an_update_on_known_content_passes() {
        let (first, second) = two_updates();
        let server = crate::new_doc();
        assert_eq!(missing_dependency(&info(&first), clock_in(&server)), None);
        server
            .transact_mut()
            .apply_update(yrs::Update::decode_v1(&first).expect("decode"))
            .expect("apply");
        assert_eq!(missing_dependency(&info(&second), clock_in(&server)), None);
    }

    #[test]
    fn an_update_whose_parent_or_history_is_missing_is_refused() {
        let (_first, second) = two_updates();
        let empty = crate::new_doc();
        let missing = missing_dependency(&info(&second), clock_in(&empty));
        assert!(
            matches!(
                missing,
                Some(Missing::Gap {
                    starts_at: 1,
                    have: 0,
                    ..
                })
            ),
            "{missing:?}"
        );
        // Same update, but the document claims to know the clock range: the gap is gone,
        // yet the parent the text lives in is still checked.
        let info = info(&second);
        assert_eq!(missing_dependency(&info, |_| 1), None);
        let Block::Item(item) = &info.blocks[0] else {
            panic!("item")
        };
        assert!(
            matches!(item.parent, Parent::Item(_)),
            "text lives in the paragraph"
        );
    }

    #[test]
    fn references_into_the_same_update_count_as_known() {
        let (first, _) = two_updates();
        let doc = crate::new_doc();
        let goals = doc.get_or_insert_xml_fragment("goals");
        let mut txn = doc.transact_mut();
        let p = goals.push_back(&mut txn, XmlElementPrelim::empty("paragraph"));
        p.push_back(&mut txn, XmlTextPrelim::new("samen"));
        drop(txn);
        let both = doc.transact().encode_state_as_update_v1(&StateVector::default());
        assert_eq!(missing_dependency(&info(&both), |_| 0), None);
        assert_eq!(missing_dependency(&info(&first), |_| 0), None);
    }
}

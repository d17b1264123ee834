//! One person typing into a section, one update per keystroke, as an editor sends them: the
//! shape of a long document history, for the tests and benchmarks that need one (loading a
//! long log, the cold-load benchmark).

use yrs::types::text::Text;
use yrs::types::xml::{XmlElementPrelim, XmlFragment, XmlTextPrelim};
use yrs::{GetString, ReadTxn, StateVector, Transact};

use crate::ids::ClientId;

/// A typed history.
#[derive(Debug, Clone)]
pub struct Typing {
    /// The v1 updates in order: the first makes the paragraph, then one per keystroke.
    pub updates: Vec<Vec<u8>>,
    /// What the keystrokes spell.
    pub text: String,
    /// The client ID every update was written with.
    pub client_id: ClientId,
}

/// `keystrokes` characters typed at the end of one paragraph of `section`; `key(i)` is the
/// `i`-th character typed.
pub fn typing(section: &str, keystrokes: usize, mut key: impl FnMut(usize) -> char) -> Typing {
    let doc = crate::new_doc();
    let fragment = doc.get_or_insert_xml_fragment(section);
    let text = {
        let mut txn = doc.transact_mut();
        let paragraph = fragment.push_back(&mut txn, XmlElementPrelim::empty("paragraph"));
        paragraph.push_back(&mut txn, XmlTextPrelim::new(""))
    };
    let mut updates = Vec::with_capacity(keystrokes + 1);
    updates.push(doc.transact().encode_state_as_update_v1(&StateVector::default()));
    let mut buf = [0u8; 4];
    for i in 0..keystrokes {
        let before = doc.transact().state_vector();
        {
            let mut txn = doc.transact_mut();
            let len = text.len(&txn);
            text.insert(&mut txn, len, key(i).encode_utf8(&mut buf));
        }
        updates.push(doc.transact().encode_diff_v1(&before));
    }
    let text = text.get_string(&doc.transact());
    Typing {
        updates,
        text,
        client_id: doc.client_id().into(),
    }
}

#[cfg(test)]
mod tests {
    use yrs::updates::decoder::Decode;
    use yrs::{Transact, Update, XmlOut};

    use super::*;

    #[test]
    fn the_updates_replayed_spell_the_text_in_a_paragraph() {
        let typed = typing("goals", 30, |i| if i % 10 == 9 { ' ' } else { 'é' });
        assert_eq!(typed.updates.len(), 31);
        assert_eq!(typed.text.chars().count(), 30);
        assert!(typed.text.starts_with("ééééééééé "));
        let doc = crate::new_doc();
        for update in &typed.updates {
            let update = Update::decode_v1(update).expect("decodes");
            doc.transact_mut().apply_update(update).expect("applies");
        }
        let txn = doc.transact();
        let goals = txn.get_xml_fragment("goals").expect("goals");
        let Some(XmlOut::Element(p)) = goals.get(&txn, 0) else {
            panic!("no paragraph");
        };
        assert_eq!(
            p.get_string(&txn),
            format!("<paragraph>{}</paragraph>", typed.text)
        );
    }
}

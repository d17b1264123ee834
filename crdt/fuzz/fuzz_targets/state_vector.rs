//! Any bytes a client could send as a state vector (sync step 1): the parser must not
//! panic, and whatever it accepts yrs must decode and answer with a diff.

#![no_main]

use libfuzzer_sys::fuzz_target;
use samen_crdt::validate::parse_state_vector_v1;
use yrs::updates::decoder::Decode;
use yrs::{ReadTxn, StateVector, Text, Transact};

fuzz_target!(|data: &[u8]| {
    if parse_state_vector_v1(data).is_ok() {
        let sv = match StateVector::decode_v1(data) {
            Ok(sv) => sv,
            Err(e) => panic!("accepted, but yrs cannot decode it: {e}"),
        };
        let doc = samen_crdt::schema::new_doc_with_client_id(Some(samen_crdt::ClientId::new(1)));
        let text = doc.get_or_insert_text("t");
        text.insert(&mut doc.transact_mut(), 0, "hello");
        let _ = doc.transact().encode_diff_v1(&sv);
    }
});

//! Any bytes a client could send as an awareness update: the parser must not panic, and
//! whatever it accepts yrs must decode and apply to an `Awareness` without panicking.

#![no_main]

use libfuzzer_sys::fuzz_target;
use samen_crdt::validate::{Limits, parse_awareness_v1};
use yrs::sync::{Awareness, AwarenessUpdate};
use yrs::updates::decoder::Decode;

fuzz_target!(|data: &[u8]| {
    if parse_awareness_v1(data, &Limits::default()).is_ok() {
        let update = match AwarenessUpdate::decode_v1(data) {
            Ok(update) => update,
            Err(e) => panic!("accepted, but yrs cannot decode it: {e}"),
        };
        // The server's own state is present, as it would be in production, so that a
        // "removal" of it takes yrs' clock-bumping path.
        let doc = samen_crdt::schema::new_doc_with_client_id(Some(samen_crdt::ClientId::new(1)));
        let mut awareness = Awareness::new(doc);
        awareness.set_local_state_raw("{}");
        let _ = awareness.apply_update(update);
    }
});

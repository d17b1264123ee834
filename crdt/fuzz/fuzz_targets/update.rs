//! Any bytes a client could send as an update: the parser must not panic, and whatever it
//! accepts yrs must decode and apply without panicking.
//!
//! cargo-fuzz builds with debug assertions, so yrs' own `debug_assert!`s (53-bit client
//! IDs) and integer overflow checks count as crashes here.

#![no_main]

use libfuzzer_sys::fuzz_target;
use samen_crdt::validate::{Limits, parse_update_v1};
use yrs::updates::decoder::Decode;
use yrs::{Transact, Update};

fuzz_target!(|data: &[u8]| {
    if parse_update_v1(data, &Limits::default()).is_ok() {
        let update = match Update::decode_v1(data) {
            Ok(update) => update,
            Err(e) => panic!("accepted, but yrs cannot decode it: {e}"),
        };
        let doc = samen_crdt::new_doc();
        // An error (say, a missing parent) is fine; only a panic is a finding.
        let _ = doc.transact_mut().apply_update(update);
    }
});

//! Any bytes a client could send as an update: the parser must not panic, whatever it
//! accepts yrs must decode, and what also passes the server's dependency check
//! (`samen_crdt::deps`; yrs's pending path is unsound with hostile input) yrs must apply
//! without panicking.
//!
//! cargo-fuzz builds with debug assertions, so yrs' own `debug_assert!`s (53-bit client
//! IDs) and integer overflow checks count as crashes here.

#![no_main]

use libfuzzer_sys::fuzz_target;
use samen_crdt::deps::missing_dependency;
use samen_crdt::validate::{Limits, parse_update_v1};
use yrs::updates::decoder::Decode;
use yrs::{Transact, Update};

fuzz_target!(|data: &[u8]| {
    if let Ok(info) = parse_update_v1(data, &Limits::default()) {
        let update = match Update::decode_v1(data) {
            Ok(update) => update,
            Err(e) => panic!("accepted, but yrs cannot decode it: {e}"),
        };
        if missing_dependency(&info, |_| 0).is_none() {
            // An error (say, a parent that is not a type) is fine; only a panic is a finding.
            let _ = samen_crdt::new_doc().transact_mut().apply_update(update);
        }
    }
});

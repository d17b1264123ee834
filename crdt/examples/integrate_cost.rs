//! What integrating one hostile but well-formed update costs yrs, by shape, against a
//! realistically large document. Prints a table; asserts nothing (timings are the machine's).
//!
//! `cargo run --release -p samen-crdt --example integrate_cost [items]`
//!
//! Each shape is an update a client could send that `validate` parses and the dependency
//! check passes (it refers only to what the document holds), written by hand so that it
//! says exactly what an attacker would write. The document is rebuilt for every run; only
//! `apply_update` is timed. The last column says whether [`samen_crdt::cost`] lets it in with
//! the default limits.

use std::time::{Duration, Instant};

use samen_crdt::cost::{CostLimits, check_cost};
use samen_crdt::validate::{Limits, parse_update_v1};
use samen_crdt::{Section, new_doc};
use yrs::updates::decoder::Decode;
use yrs::{Doc, GetString, Map, ReadTxn, StateVector, Text, Transact, Update, XmlFragment, XmlTextPrelim};

/// The base document's author.
const AUTHOR: u64 = 1;
/// The attacker's first client ID.
const ATTACKER: u64 = 1_000;

/// lib0 v1 encoding, just enough to write updates by hand.
#[derive(Default)]
struct W(Vec<u8>);

impl W {
    fn uint(&mut self, mut n: u64) -> &mut Self {
        while n >= 0x80 {
            self.0.push((n as u8 & 0x7f) | 0x80);
            n >>= 7;
        }
        self.0.push(n as u8);
        self
    }
    fn str(&mut self, s: &str) -> &mut Self {
        self.uint(s.len() as u64);
        self.0.extend_from_slice(s.as_bytes());
        self
    }
    fn id(&mut self, client: u64, clock: u32) -> &mut Self {
        self.uint(client).uint(u64::from(clock))
    }
    fn byte(&mut self, b: u8) -> &mut Self {
        self.0.push(b);
        self
    }
}

/// The base document as a v1 update, and what the shapes refer to in it.
struct Base {
    state: Vec<u8>,
    /// The text's first and last items (typed first, kept at the ends).
    first: (u64, u32),
    last: (u64, u32),
    /// The map key's newest value.
    key_top: (u64, u32),
    /// The clock range of the one long pasted item.
    paste: (u64, u32, u32),
}

/// A section's text with `items` separate items (single characters typed at random places,
/// as a long meeting's notes end up), a map key set `items` times (every old value kept:
/// GC is off), and one pasted text of `items` characters as a single item.
fn base(items: u32) -> Base {
    let doc = yrs::Doc::with_options(yrs::Options {
        client_id: yrs::block::ClientID::new(AUTHOR),
        skip_gc: true,
        offset_kind: yrs::OffsetKind::Utf16,
        ..Default::default()
    });
    let text = doc.get_or_insert_text(Section::Understanding.root_name());
    let map = doc.get_or_insert_map("m");
    let goals = doc.get_or_insert_xml_fragment(Section::Goals.root_name());
    // Seeded, so every run builds the same document.
    let mut rng = fastrand::Rng::with_seed(0x9e37_79b9_7f4a_7c15);
    {
        let mut txn = doc.transact_mut();
        text.insert(&mut txn, 0, "[");
        text.insert(&mut txn, 1, "]");
    }
    for _ in 0..items {
        // One transaction each, at a random place between the brackets: separate items.
        let mut txn = doc.transact_mut();
        let len = text.len(&txn);
        let at = 1 + rng.u32(0..len - 1);
        text.insert(&mut txn, at, "x");
    }
    for n in 0..items {
        map.insert(&mut doc.transact_mut(), "k", n);
    }
    let key_top_clock = doc
        .transact()
        .state_vector()
        .get(&yrs::block::ClientID::new(AUTHOR))
        - 1;
    {
        let mut txn = doc.transact_mut();
        let t = goals.push_back(&mut txn, XmlTextPrelim::new(""));
        t.insert(&mut txn, 0, &"y".repeat(items as usize));
    }
    let end = doc
        .transact()
        .state_vector()
        .get(&yrs::block::ClientID::new(AUTHOR));
    let state = doc.transact().encode_state_as_update_v1(&StateVector::default());
    assert_eq!(text.get_string(&doc.transact()).len(), items as usize + 2);
    Base {
        state,
        first: (AUTHOR, 0),
        last: (AUTHOR, 1),
        key_top: (AUTHOR, key_top_clock),
        // The XmlText item takes one clock, the pasted string the rest.
        paste: (AUTHOR, end - items, items),
    }
}

/// One client's blocks: `count` blocks written by `block`, then an empty delete set.
fn one_client(count: u32, block: impl Fn(&mut W, u32)) -> Vec<u8> {
    client_blocks(ATTACKER, count, block)
}

/// `client`'s blocks: `count` blocks written by `block`, then an empty delete set.
fn client_blocks(client: u64, count: u32, block: impl Fn(&mut W, u32)) -> Vec<u8> {
    let mut w = W::default();
    w.uint(1).uint(u64::from(count)).uint(client).uint(0);
    for i in 0..count {
        block(&mut w, i);
    }
    w.uint(0);
    w.0
}

/// The shapes, each for `n` of its unit.
fn shapes(b: &Base, n: u32) -> Vec<(&'static str, Vec<u8>)> {
    let (fc, fk) = b.first;
    let (lc, lk) = b.last;
    let (kc, kk) = b.key_top;
    let (pc, pk, plen) = b.paste;
    vec![
        (
            // Every item between the two ends: each one scans every item in between.
            "far origins (text)",
            one_client(n, |w, _| {
                w.byte(0xc0 | 4).id(fc, fk).id(lc, lk).str("a");
            }),
        ),
        (
            // No left origin, right origin at the end: a scan from the start.
            "no origin, far right origin",
            one_client(n, |w, _| {
                w.byte(0x40 | 4).id(lc, lk).str("a");
            }),
        ),
        (
            "honest typing (chained)",
            one_client(n, |w, i| {
                if i == 0 {
                    w.byte(0xc0 | 4).id(fc, fk).id(lc, lk).str("a");
                } else {
                    w.byte(0x80 | 4).id(ATTACKER, i - 1).str("a");
                }
            }),
        ),
        (
            // A chain whose every item names the far right origin, from a client ID below
            // the author's neighbours (yrs then places the head right after its origin).
            "chain, far right origin, low client",
            client_blocks(0, n, |w, i| {
                if i == 0 {
                    w.byte(0xc0 | 4).id(fc, fk).id(lc, lk).str("a");
                } else {
                    w.byte(0xc0 | 4).id(0, i - 1).id(lc, lk).str("a");
                }
            }),
        ),
        (
            "chain, far right origin, high client",
            one_client(n, |w, i| {
                if i == 0 {
                    w.byte(0xc0 | 4).id(fc, fk).id(lc, lk).str("a");
                } else {
                    w.byte(0xc0 | 4).id(ATTACKER, i - 1).id(lc, lk).str("a");
                }
            }),
        ),
        (
            // Map entries without a left origin for a key with a long history: each walks
            // the key's whole chain.
            "map key, no origin",
            one_client(n, |w, _| {
                w.byte(0x20 | 8).uint(1).str("m").str("k").uint(1).byte(126);
            }),
        ),
        (
            "map key, origin = newest (honest)",
            one_client(n, |w, i| {
                if i == 0 {
                    w.byte(0x80 | 8).id(kc, kk).uint(1).byte(126);
                } else {
                    w.byte(0x80 | 8).id(ATTACKER, i - 1).uint(1).byte(126);
                }
            }),
        ),
        (
            // Every other character of the pasted item: each range splits it.
            "delete ranges (split one item)",
            {
                let mut w = W::default();
                w.uint(0).uint(1).uint(pc);
                let ranges = n.min(plen / 2);
                w.uint(u64::from(ranges));
                for i in 0..ranges {
                    w.uint(u64::from(pk + 2 * i)).uint(1);
                }
                w.0
            },
        ),
        (
            // Inserts in the middle of the pasted item: each splits it.
            "inserts splitting one item",
            one_client(n.min(plen - 1), |w, i| {
                let at = pk + 1 + i % (plen - 1);
                w.byte(0xc0 | 4).id(pc, at - 1).id(pc, at).str("a");
            }),
        ),
        (
            // As many client IDs as items: the state vector grows by each.
            "one item per client ID",
            {
                let mut w = W::default();
                w.uint(u64::from(n));
                for i in 0..n {
                    w.uint(1).uint(ATTACKER + u64::from(i)).uint(0);
                    w.byte(0x80 | 4).id(lc, lk).str("a");
                }
                w.uint(0);
                w.0
            },
        ),
        (
            // Each client's item refers to the next client's, written after it: yrs must
            // stack the whole chain before it can integrate the first.
            "out-of-order chain across clients",
            {
                let mut w = W::default();
                w.uint(u64::from(n));
                for i in 0..n {
                    w.uint(1).uint(ATTACKER + u64::from(i)).uint(0);
                    if i + 1 == n {
                        w.byte(0x80 | 4).id(lc, lk).str("a");
                    } else {
                        w.byte(0x80 | 4).id(ATTACKER + u64::from(i) + 1, 0).str("a");
                    }
                }
                w.uint(0);
                w.0
            },
        ),
    ]
}

/// Applies `update` to a fresh copy of the base document; returns the time `apply_update`
/// took (median of `runs`).
fn time_apply(base: &[u8], update: &[u8], runs: usize) -> Duration {
    let mut times = Vec::new();
    for _ in 0..runs {
        let doc: Doc = new_doc();
        doc.transact_mut()
            .apply_update(Update::decode_v1(base).expect("base"))
            .expect("base applies");
        let u = Update::decode_v1(update).expect("decodes");
        let started = Instant::now();
        doc.transact_mut().apply_update(u).expect("applies");
        times.push(started.elapsed());
        assert!(!doc.transact().has_missing_updates(), "nothing pending");
    }
    times.sort();
    times[times.len() / 2]
}

fn main() {
    let items: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    let sizes: Vec<u32> = std::env::args()
        .nth(2)
        .map(|a| a.split(',').filter_map(|n| n.parse().ok()).collect())
        .unwrap_or_else(|| vec![100, 1_000]);
    let started = Instant::now();
    let b = base(items);
    println!(
        "base document: {items} text items, a map key set {items} times, a {items}-character paste \
         ({} KiB, built in {:.1} s)",
        b.state.len() / 1024,
        started.elapsed().as_secs_f64()
    );
    let limits = Limits::default();
    let cost = CostLimits::default();
    println!(
        "{:<36} {:>7} {:>9} {:>10} {:>12}  check_cost",
        "shape", "n", "bytes", "ms", "µs per unit"
    );
    for n in sizes.iter().copied() {
        for (name, update) in shapes(&b, n) {
            // ~14 ms per unit against the default document: skipped at large counts.
            if name.contains("far") && !name.contains("chain") && n > 1_000 {
                println!(
                    "{name:<36} {n:>7} {:>9}    skipped (about {} s)",
                    update.len(),
                    n * 14 / 1_000
                );
                continue;
            }
            let info = parse_update_v1(&update, &limits).expect("well-formed");
            let verdict = match check_cost(&info, &cost) {
                Ok(()) => "accepted".to_owned(),
                Err(err) => format!("refused: {err}"),
            };
            let t = time_apply(&b.state, &update, 1);
            println!(
                "{name:<36} {n:>7} {:>9} {:>10.1} {:>12.2}  {verdict}",
                update.len(),
                t.as_secs_f64() * 1e3,
                t.as_secs_f64() * 1e6 / f64::from(n),
            );
        }
    }
}

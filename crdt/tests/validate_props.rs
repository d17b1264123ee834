//! Property tests for the strict parsers in `samen_crdt::validate`.
//!
//! The contract under test: whatever the bytes, the parsers return quickly and never
//! panic; every update, state vector and awareness update yrs itself writes is accepted;
//! and whatever is accepted, yrs decodes and applies without panicking. Valid messages come
//! from random edit sequences on real documents; hostile ones are those messages with
//! bytes flipped, inserted, removed, cut off or overwritten with large varints.
//!
//! Nothing here catches panics: a panic anywhere is a failure.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use samen_crdt::deps::missing_dependency;
use samen_crdt::lib0::{write_buf, write_var};
use samen_crdt::schema::new_doc_with_client_id;
use samen_crdt::validate::{
    Block, Content, DeleteRange, Id, ItemHeader, Limits, MAX_CLIENT_ID, MAX_CLOCK, Parent, TypeRef,
    UpdateInfo, parse_awareness_v1, parse_state_vector_v1, parse_update_v1,
};
use samen_crdt::{ClientId, Section, new_doc};
use yrs::sync::awareness::AwarenessUpdateEntry;
use yrs::sync::{Awareness, AwarenessUpdate};
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{
    Any, Array, ClientID, Doc, GetString, Map, ReadTxn, StateVector, Text, Transact, Update,
    XmlElementPrelim, XmlFragment, XmlTextPrelim,
};

/// Time allowed for parsing (and, when accepted, decoding) per input byte, on top of
/// [`TIME_CONSTANT`]. Generous for unoptimised builds on a busy machine; a quadratic or
/// length-prefix-driven decoder blows through it by orders of magnitude.
const TIME_PER_BYTE: Duration = Duration::from_micros(50);
const TIME_CONSTANT: Duration = Duration::from_millis(5);

fn time_budget(len: usize) -> Duration {
    TIME_CONSTANT + TIME_PER_BYTE * u32::try_from(len).unwrap_or(u32::MAX)
}

/// Runs `work` (parsing `bytes`, and decoding them if accepted) and asserts it fits the
/// time budget. Over budget, it is run again, up to four more times, and the fastest run
/// counts: a scheduler hiccup on a busy machine passes, a real blow-up fails every time.
fn timed<T>(bytes: &[u8], mut work: impl FnMut() -> T) -> T {
    let budget = time_budget(bytes.len());
    let started = Instant::now();
    let out = work();
    let mut fastest = started.elapsed();
    for _ in 0..4 {
        if fastest <= budget {
            break;
        }
        let started = Instant::now();
        work();
        fastest = fastest.min(started.elapsed());
    }
    assert!(
        fastest <= budget,
        "{} bytes took {fastest:?} (budget {budget:?}): {bytes:?}",
        bytes.len()
    );
    out
}

// ---- random documents ----

/// One edit on one of two peers' documents.
#[derive(Debug, Clone)]
enum Edit {
    /// A new paragraph in a section, with text.
    Paragraph { section: usize, at: u32, text: String },
    /// Text typed into an existing paragraph.
    Type { paragraph: u32, at: u32, text: String },
    /// Bold or a link over a range of a paragraph's text.
    Format {
        paragraph: u32,
        at: u32,
        len: u32,
        bold: bool,
    },
    /// Text removed from a paragraph.
    Erase { paragraph: u32, at: u32, len: u32 },
    /// A whole paragraph removed.
    RemoveParagraph { section: usize, at: u32 },
    /// A value set in a map.
    Set { key: String, value: Any },
    /// A value appended to an array.
    Push { value: Any },
    /// The two peers exchange their states.
    Sync,
}

fn text() -> impl Strategy<Value = String> {
    "[a-zé🌍 \n]{1,12}"
}

fn any_value() -> impl Strategy<Value = Any> {
    let leaf = prop_oneof![
        Just(Any::Null),
        Just(Any::Undefined),
        any::<bool>().prop_map(Any::Bool),
        any::<i32>().prop_map(|n| Any::from(i64::from(n))),
        any::<i64>().prop_map(Any::from),
        (-1e12f64..1e12).prop_map(Any::from),
        "[a-z🌍]{0,6}".prop_map(|s| Any::from(s.as_str())),
        proptest::collection::vec(any::<u8>(), 0..6).prop_map(|b| Any::Buffer(Arc::from(b))),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(|v| Any::Array(Arc::from(v))),
            proptest::collection::hash_map("[a-z]{1,4}", inner, 0..4).prop_map(|m| Any::Map(Arc::new(m))),
        ]
    })
}

fn edit() -> impl Strategy<Value = (bool, Edit)> {
    let section = 0..Section::ALL.len();
    let edit = prop_oneof![
        (section.clone(), any::<u32>(), text()).prop_map(|(section, at, text)| Edit::Paragraph {
            section,
            at,
            text
        }),
        (any::<u32>(), any::<u32>(), text()).prop_map(|(paragraph, at, text)| Edit::Type {
            paragraph,
            at,
            text
        }),
        (any::<u32>(), any::<u32>(), 1u32..6, any::<bool>()).prop_map(|(paragraph, at, len, bold)| {
            Edit::Format {
                paragraph,
                at,
                len,
                bold,
            }
        }),
        (any::<u32>(), any::<u32>(), 1u32..6).prop_map(|(paragraph, at, len)| Edit::Erase {
            paragraph,
            at,
            len
        }),
        (section, any::<u32>()).prop_map(|(section, at)| Edit::RemoveParagraph { section, at }),
        ("[a-z]{1,3}", any_value()).prop_map(|(key, value)| Edit::Set { key, value }),
        any_value().prop_map(|value| Edit::Push { value }),
        Just(Edit::Sync),
    ];
    (any::<bool>(), edit)
}

/// The paragraphs (element, text) of every section, in order.
fn paragraphs(doc: &Doc) -> Vec<(yrs::XmlElementRef, yrs::XmlTextRef)> {
    let txn = doc.transact();
    let mut out = Vec::new();
    for section in Section::ALL {
        let Some(fragment) = txn.get_xml_fragment(section.root_name()) else {
            continue;
        };
        for node in fragment.children(&txn) {
            if let yrs::XmlOut::Element(element) = node
                && let Some(yrs::XmlOut::Text(text)) = element.get(&txn, 0)
            {
                out.push((element, text));
            }
        }
    }
    out
}

fn pick<T: Clone>(items: &[T], i: u32) -> Option<T> {
    if items.is_empty() {
        None
    } else {
        items.get(i as usize % items.len()).cloned()
    }
}

fn apply_edit(doc: &Doc, edit: &Edit) {
    match edit {
        Edit::Paragraph { section, at, text } => {
            let fragment = doc.get_or_insert_xml_fragment(Section::ALL[*section].root_name());
            let mut txn = doc.transact_mut();
            let at = at % (fragment.len(&txn) + 1);
            let paragraph = fragment.insert(&mut txn, at, XmlElementPrelim::empty("paragraph"));
            paragraph.insert(&mut txn, 0, XmlTextPrelim::new(text.as_str()));
        }
        Edit::Type { paragraph, at, text } => {
            if let Some((_, t)) = pick(&paragraphs(doc), *paragraph) {
                let mut txn = doc.transact_mut();
                let at = at % (t.len(&txn) + 1);
                t.insert(&mut txn, at, text);
            }
        }
        Edit::Format {
            paragraph,
            at,
            len,
            bold,
        } => {
            if let Some((_, t)) = pick(&paragraphs(doc), *paragraph) {
                let mut txn = doc.transact_mut();
                let total = t.len(&txn);
                if total > 0 {
                    let at = at % total;
                    let len = (*len).min(total - at);
                    let attrs: HashMap<Arc<str>, Any> = if *bold {
                        HashMap::from([("bold".into(), Any::Bool(true))])
                    } else {
                        HashMap::from([(
                            "link".into(),
                            yrs::any!({"href": "https://example.org", "target": null}),
                        )])
                    };
                    t.format(&mut txn, at, len, attrs);
                }
            }
        }
        Edit::Erase { paragraph, at, len } => {
            if let Some((_, t)) = pick(&paragraphs(doc), *paragraph) {
                let mut txn = doc.transact_mut();
                let total = t.len(&txn);
                if total > 0 {
                    let at = at % total;
                    t.remove_range(&mut txn, at, (*len).min(total - at));
                }
            }
        }
        Edit::RemoveParagraph { section, at } => {
            let fragment = doc.get_or_insert_xml_fragment(Section::ALL[*section].root_name());
            let mut txn = doc.transact_mut();
            let count = fragment.len(&txn);
            if count > 0 {
                fragment.remove_range(&mut txn, at % count, 1);
            }
        }
        Edit::Set { key, value } => {
            let map = doc.get_or_insert_map("meta");
            map.insert(&mut doc.transact_mut(), key.as_str(), value.clone());
        }
        Edit::Push { value } => {
            let array = doc.get_or_insert_array("list");
            array.push_back(&mut doc.transact_mut(), value.clone());
        }
        Edit::Sync => {}
    }
}

fn sync(from: &Doc, to: &Doc) {
    let diff = from.transact().encode_diff_v1(&to.transact().state_vector());
    let update = Update::decode_v1(&diff).expect("yrs reads its own diff");
    to.transact_mut()
        .apply_update(update)
        .expect("yrs applies its own diff");
}

/// Runs the edits on two peers; returns every update they produced along the way (each
/// edit's incremental update, then both full states and a merge), and the peers.
fn updates_from(edits: &[(bool, Edit)]) -> (Vec<Vec<u8>>, Doc, Doc) {
    let a = new_doc_with_client_id(Some(ClientId::new(1)));
    let b = new_doc_with_client_id(Some(ClientId::new(MAX_CLIENT_ID)));
    let mut updates = Vec::new();
    for (on_b, edit) in edits {
        if let Edit::Sync = edit {
            sync(&a, &b);
            sync(&b, &a);
            continue;
        }
        let doc = if *on_b { &b } else { &a };
        let before = doc.transact().state_vector();
        apply_edit(doc, edit);
        updates.push(doc.transact().encode_diff_v1(&before));
    }
    let full_a = a.transact().encode_state_as_update_v1(&StateVector::default());
    let full_b = b.transact().encode_state_as_update_v1(&StateVector::default());
    let merged =
        yrs::merge_updates_v1([full_a.as_slice(), full_b.as_slice()]).expect("yrs merges its own updates");
    updates.extend([full_a, full_b, merged]);
    (updates, a, b)
}

// ---- mutations ----

#[derive(Debug, Clone)]
enum Mutation {
    Xor {
        at: usize,
        mask: u8,
    },
    Insert {
        at: usize,
        byte: u8,
    },
    Remove {
        at: usize,
    },
    Truncate {
        at: usize,
    },
    /// Overwrites bytes with a varint (a huge length, clock or client).
    Varint {
        at: usize,
        value: u64,
    },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let big = prop_oneof![
        Just(u64::MAX),
        Just(u64::from(u32::MAX)),
        Just(u64::from(u32::MAX) + 1),
        Just(MAX_CLIENT_ID),
        Just(MAX_CLIENT_ID + 1),
        Just(1 << 31),
        0u64..300,
        any::<u64>(),
    ];
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(at, mask)| Mutation::Xor { at, mask }),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Insert { at, byte }),
        any::<usize>().prop_map(|at| Mutation::Remove { at }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
        (any::<usize>(), big).prop_map(|(at, value)| Mutation::Varint { at, value }),
    ]
}

fn mutate(bytes: &mut Vec<u8>, m: &Mutation) {
    let len = bytes.len();
    match *m {
        Mutation::Xor { at, mask } if len > 0 => bytes[at % len] ^= mask,
        Mutation::Insert { at, byte } => bytes.insert(at % (len + 1), byte),
        Mutation::Remove { at } if len > 0 => {
            bytes.remove(at % len);
        }
        Mutation::Truncate { at } => bytes.truncate(at % (len + 1)),
        Mutation::Varint { at, value } => {
            let mut varint = Vec::new();
            write_var(&mut varint, value);
            let at = at % (len + 1);
            let end = (at + varint.len()).min(len);
            bytes.splice(at..end, varint);
        }
        _ => {}
    }
}

// ---- hand-built updates ----
//
// yrs only writes sensible updates; a hostile client writes well-formed ones that make no
// sense: origins and parents that point nowhere or at text, map keys on arrays, gaps and
// deletions of unknown clocks. These are built from the grammar, so the parser must accept
// each one and report exactly what was written, and yrs must apply it without panicking.

const ROOTS: [&str; 4] = ["goals", "summary", "meta", "list"];

fn client() -> impl Strategy<Value = ClientId> {
    prop_oneof![Just(1u64), Just(2), Just(0), Just(MAX_CLIENT_ID)].prop_map(ClientId::new)
}

fn id() -> impl Strategy<Value = Id> {
    let clock = prop_oneof![0u32..24, Just(MAX_CLOCK), Just(MAX_CLOCK - 1)];
    (client(), clock).prop_map(|(client, clock)| Id { client, clock })
}

fn json() -> impl Strategy<Value = String> {
    any_value().prop_map(|v| {
        let mut json = String::new();
        v.to_json(&mut json);
        json
    })
}

/// An item's content: its encoding, its parsed form and its length.
fn content() -> impl Strategy<Value = (u8, Vec<u8>, Content, u32)> {
    let type_ref = prop_oneof![
        Just((0u8, TypeRef::Array)),
        Just((1, TypeRef::Map)),
        Just((2, TypeRef::Text)),
        "[a-z]{0,8}".prop_map(|n| (3, TypeRef::XmlElement(n))),
        Just((4, TypeRef::XmlFragment)),
        Just((6, TypeRef::XmlText)),
    ];
    prop_oneof![
        (1u32..6).prop_map(|len| {
            let mut b = Vec::new();
            write_var(&mut b, u64::from(len));
            (1, b, Content::Deleted, len)
        }),
        proptest::collection::vec(any::<u8>(), 0..8).prop_map(|bytes| {
            let mut b = Vec::new();
            write_buf(&mut b, &bytes);
            (3, b, Content::Binary, 1)
        }),
        text().prop_map(|t| {
            let mut b = Vec::new();
            write_buf(&mut b, t.as_bytes());
            (4, b, Content::String, t.encode_utf16().count() as u32)
        }),
        json().prop_map(|j| {
            let mut b = Vec::new();
            write_buf(&mut b, j.as_bytes());
            (5, b, Content::Embed, 1)
        }),
        ("[a-z]{0,6}", json()).prop_map(|(key, j)| {
            let mut b = Vec::new();
            write_buf(&mut b, key.as_bytes());
            write_buf(&mut b, j.as_bytes());
            (6, b, Content::Format { key }, 1)
        }),
        type_ref.prop_map(|(n, t)| {
            let mut b = vec![n];
            if let TypeRef::XmlElement(name) = &t {
                write_buf(&mut b, name.as_bytes());
            }
            (7, b, Content::Type(t), 1)
        }),
        proptest::collection::vec(any_value(), 1..4).prop_map(|values| {
            let mut b = Vec::new();
            write_var(&mut b, values.len() as u64);
            for v in &values {
                v.encode(&mut b);
            }
            (8, b, Content::Any, values.len() as u32)
        }),
    ]
}

#[derive(Debug, Clone)]
enum RawBlock {
    Gc(u32),
    Skip(u32),
    Item {
        origin: Option<Id>,
        right_origin: Option<Id>,
        /// Written when there is no origin: a root name or a parent item.
        parent: Result<usize, Id>,
        parent_sub: Option<String>,
        content: (u8, Vec<u8>, Content, u32),
    },
}

fn raw_block() -> impl Strategy<Value = RawBlock> {
    let parent = prop_oneof![(0..ROOTS.len()).prop_map(Ok), id().prop_map(Err)];
    prop_oneof![
        1 => (1u32..6).prop_map(RawBlock::Gc),
        1 => (1u32..6).prop_map(RawBlock::Skip),
        8 => (
            prop::option::of(id()),
            prop::option::of(id()),
            parent,
            prop::option::of("[a-z]{0,4}"),
            content(),
        )
            .prop_map(|(origin, right_origin, parent, parent_sub, content)| RawBlock::Item {
                origin,
                right_origin,
                parent,
                parent_sub,
                content,
            }),
    ]
}

/// A well-formed update: its bytes and what the parser must report.
fn raw_update() -> impl Strategy<Value = (Vec<u8>, UpdateInfo)> {
    let start = prop_oneof![0u32..8, Just(MAX_CLOCK - 64)];
    let clients = proptest::collection::btree_map(
        client(),
        (start, proptest::collection::vec(raw_block(), 0..6)),
        0..3,
    );
    let deletes = proptest::collection::btree_map(
        client(),
        proptest::collection::vec((0u32..32, 1u32..6), 0..3),
        0..3,
    );
    (clients, deletes).prop_map(|(clients, deletes)| {
        let mut bytes = Vec::new();
        let mut info = UpdateInfo::default();
        write_var(&mut bytes, clients.len() as u64);
        for (client, (mut clock, blocks)) in clients {
            write_var(&mut bytes, blocks.len() as u64);
            write_var(&mut bytes, client.get());
            write_var(&mut bytes, u64::from(clock));
            for block in blocks {
                let id = Id { client, clock };
                let parsed = match block {
                    RawBlock::Gc(len) | RawBlock::Skip(len) => {
                        let gc = matches!(block, RawBlock::Gc(_));
                        bytes.push(if gc { 0 } else { 10 });
                        write_var(&mut bytes, u64::from(len));
                        if gc {
                            Block::Gc { id, len }
                        } else {
                            Block::Skip { id, len }
                        }
                    }
                    RawBlock::Item {
                        origin,
                        right_origin,
                        parent,
                        parent_sub,
                        content,
                    } => {
                        let (content_ref, content_bytes, content, len) = content;
                        let mut info = content_ref;
                        if origin.is_some() {
                            info |= 0x80;
                        }
                        if right_origin.is_some() {
                            info |= 0x40;
                        }
                        if parent_sub.is_some() {
                            info |= 0x20;
                        }
                        bytes.push(info);
                        for id in origin.iter().chain(&right_origin) {
                            write_var(&mut bytes, id.client.get());
                            write_var(&mut bytes, u64::from(id.clock));
                        }
                        let copies_parent = origin.is_some() || right_origin.is_some();
                        let (parent, parent_sub) = if copies_parent {
                            (Parent::FromOrigin, None)
                        } else {
                            let parent = match parent {
                                Ok(root) => {
                                    bytes.push(1);
                                    write_buf(&mut bytes, ROOTS[root].as_bytes());
                                    Parent::Root(ROOTS[root].to_owned())
                                }
                                Err(id) => {
                                    bytes.push(0);
                                    write_var(&mut bytes, id.client.get());
                                    write_var(&mut bytes, u64::from(id.clock));
                                    Parent::Item(id)
                                }
                            };
                            if let Some(key) = &parent_sub {
                                write_buf(&mut bytes, key.as_bytes());
                            }
                            (parent, parent_sub)
                        };
                        bytes.extend_from_slice(&content_bytes);
                        Block::Item(ItemHeader {
                            id,
                            len,
                            origin,
                            right_origin,
                            parent,
                            parent_sub,
                            content,
                        })
                    }
                };
                clock += match &parsed {
                    Block::Item(item) => item.len,
                    Block::Gc { len, .. } | Block::Skip { len, .. } => *len,
                };
                info.blocks.push(parsed);
            }
        }
        write_var(&mut bytes, deletes.len() as u64);
        for (client, ranges) in deletes {
            write_var(&mut bytes, client.get());
            write_var(&mut bytes, ranges.len() as u64);
            for (clock, len) in ranges {
                write_var(&mut bytes, u64::from(clock));
                write_var(&mut bytes, u64::from(len));
                info.deletes.push(DeleteRange { client, clock, len });
            }
        }
        (bytes, info)
    })
}

// ---- the contract ----

/// Applies an accepted update to `doc` as the server does: only when it rests entirely on
/// the document plus itself (`samen_crdt::deps`), since yrs's pending-update path is unsound
/// with hostile input. An error (say, a parent that is not a type) is fine; a panic fails.
fn apply_as_server(doc: &Doc, bytes: &[u8], update: Update) {
    let Ok(info) = parse_update_v1(bytes, &Limits::default()) else {
        return;
    };
    let sv = doc.transact().state_vector();
    if missing_dependency(&info, |c| sv.get(&c.into())).is_none() {
        let _ = doc.transact_mut().apply_update(update);
    }
}

/// Parses `bytes`; if accepted, yrs must decode them and apply them to a fresh document
/// without panicking. Parse and decode together must stay within the time budget.
fn check_update(bytes: &[u8]) -> bool {
    let (_, decoded) = timed(bytes, || {
        let parsed = parse_update_v1(bytes, &Limits::default());
        let decoded = parsed.as_ref().ok().map(|_| Update::decode_v1(bytes));
        (parsed, decoded)
    });
    match decoded {
        None => false,
        Some(Ok(update)) => {
            apply_as_server(&new_doc(), bytes, update);
            true
        }
        Some(Err(e)) => panic!("accepted, but yrs cannot decode it ({e}): {bytes:?}"),
    }
}

fn check_state_vector(bytes: &[u8], doc: &Doc) -> bool {
    let (_, decoded) = timed(bytes, || {
        let parsed = parse_state_vector_v1(bytes);
        let decoded = parsed.as_ref().ok().map(|_| StateVector::decode_v1(bytes));
        (parsed, decoded)
    });
    match decoded {
        None => false,
        Some(Ok(sv)) => {
            // What the server does with a client's state vector: answer with a diff.
            let diff = doc.transact().encode_diff_v1(&sv);
            assert!(parse_update_v1(&diff, &Limits::default()).is_ok());
            true
        }
        Some(Err(e)) => panic!("accepted, but yrs cannot decode it ({e}): {bytes:?}"),
    }
}

fn check_awareness(bytes: &[u8], awareness: &mut Awareness) -> bool {
    let (parsed, decoded) = timed(bytes, || {
        let parsed = parse_awareness_v1(bytes, &Limits::default());
        let decoded = parsed.as_ref().ok().map(|_| AwarenessUpdate::decode_v1(bytes));
        (parsed, decoded)
    });
    match decoded {
        None => false,
        Some(Ok(update)) => {
            let entries = parsed.unwrap_or_default();
            assert_eq!(entries.len(), update.clients.len());
            for entry in &entries {
                let yrs_entry = &update.clients[&entry.client.into()];
                assert_eq!(yrs_entry.clock, entry.clock);
                assert_eq!(&*yrs_entry.json, entry.json);
            }
            awareness
                .apply_update(update)
                .expect("an accepted awareness update applies");
            true
        }
        Some(Err(e)) => panic!("accepted, but yrs cannot decode it ({e}): {bytes:?}"),
    }
}

/// `cases` unless `PROPTEST_CASES` asks for more (or fewer), e.g. for a longer hunt.
fn config(cases: u32) -> ProptestConfig {
    let base = ProptestConfig::default();
    ProptestConfig {
        cases: if std::env::var_os("PROPTEST_CASES").is_some() {
            base.cases
        } else {
            cases
        },
        // Shrinking a failure over edit sequences is slow; a failing input is printed anyway.
        max_shrink_iters: 1024,
        ..base
    }
}

proptest! {
    #![proptest_config(config(1024))]

    #[test]
    fn updates_yrs_writes_are_accepted_and_mutations_are_safe(
        edits in proptest::collection::vec(edit(), 1..16),
        mutations in proptest::collection::vec(proptest::collection::vec(mutation(), 1..4), 1..24),
    ) {
        let (updates, a, _b) = updates_from(&edits);
        for update in &updates {
            prop_assert!(
                parse_update_v1(update, &Limits::default()).is_ok(),
                "refused a yrs update: {:?} {:?}",
                parse_update_v1(update, &Limits::default()),
                update
            );
            prop_assert!(check_update(update));
        }
        for (i, ms) in mutations.iter().enumerate() {
            let mut bytes = updates[i % updates.len()].clone();
            for m in ms {
                mutate(&mut bytes, m);
            }
            check_update(&bytes);
            // The first state vector too, mutated the same way.
            let mut sv = a.transact().state_vector().encode_v1();
            for m in ms {
                mutate(&mut sv, m);
            }
            check_state_vector(&sv, &a);
        }
    }

    #[test]
    fn state_vectors_yrs_writes_are_accepted(
        clocks in proptest::collection::hash_map(0..=MAX_CLIENT_ID, 0..=MAX_CLOCK, 0..8),
        mutations in proptest::collection::vec(mutation(), 1..32),
    ) {
        let sv = StateVector::from_iter(clocks.iter().map(|(&c, &k)| (ClientID::new(c), k)));
        let bytes = sv.encode_v1();
        let doc = new_doc();
        doc.get_or_insert_text("t").insert(&mut doc.transact_mut(), 0, "x");
        let mut parsed = parse_state_vector_v1(&bytes).expect("yrs state vectors parse");
        parsed.sort_unstable();
        let mut expected: Vec<_> = clocks.into_iter().map(|(c, k)| (ClientId::new(c), k)).collect();
        expected.sort_unstable();
        prop_assert_eq!(parsed, expected);
        prop_assert!(check_state_vector(&bytes, &doc));
        for m in &mutations {
            let mut bytes = bytes.clone();
            mutate(&mut bytes, m);
            check_state_vector(&bytes, &doc);
        }
    }

    #[test]
    fn awareness_updates_yrs_writes_are_accepted_and_mutations_are_safe(
        states in proptest::collection::hash_map(
            0..=MAX_CLIENT_ID,
            (0..u32::MAX, prop::option::of(any_value())),
            0..6,
        ),
        mutations in proptest::collection::vec(proptest::collection::vec(mutation(), 1..4), 1..32),
    ) {
        let clients = states
            .iter()
            .map(|(&client, (clock, state))| {
                let json = match state {
                    // `Undefined` has no JSON form: yrs writes it as null.
                    Some(value) => {
                        let mut json = String::new();
                        value.to_json(&mut json);
                        json
                    }
                    None => "null".to_owned(),
                };
                (
                    ClientID::new(client),
                    AwarenessUpdateEntry { clock: *clock, json: json.into() },
                )
            })
            .collect();
        let bytes = AwarenessUpdate { clients }.encode_v1();
        let mut awareness = Awareness::new(new_doc_with_client_id(Some(ClientId::new(7))));
        awareness.set_local_state(serde_json::json!({"user": "server"})).expect("a JSON state");
        prop_assert!(
            check_awareness(&bytes, &mut awareness),
            "refused {:?}",
            parse_awareness_v1(&bytes, &Limits::default())
        );
        for ms in &mutations {
            let mut bytes = bytes.clone();
            for m in ms {
                mutate(&mut bytes, m);
            }
            check_awareness(&bytes, &mut awareness);
        }
    }

    #[test]
    fn hand_built_updates_are_reported_exactly_and_apply_safely(
        (bytes, expected) in raw_update(),
        edits in proptest::collection::vec(edit(), 0..6),
        mutations in proptest::collection::vec(mutation(), 0..8),
    ) {
        prop_assert_eq!(parse_update_v1(&bytes, &Limits::default()), Ok(expected));
        prop_assert!(check_update(&bytes));
        // Onto a document with content, too, where the IDs may point at something.
        let (_, a, _) = updates_from(&edits);
        if let Ok(update) = Update::decode_v1(&bytes) {
            apply_as_server(&a, &bytes, update);
        }
        for m in &mutations {
            let mut bytes = bytes.clone();
            mutate(&mut bytes, m);
            check_update(&bytes);
        }
    }

    #[test]
    fn random_bytes_are_parsed_safely(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        check_update(&bytes);
        check_state_vector(&bytes, &new_doc());
        check_awareness(&bytes, &mut Awareness::new(new_doc()));
    }
}

/// The peers' documents converge and survive a round trip through the parser: a sanity
/// check that the generated edits exercise what they claim to.
#[test]
fn generated_edits_produce_rich_documents() {
    let edits = vec![
        (
            false,
            Edit::Paragraph {
                section: 3,
                at: 0,
                text: "Doel 🌍".into(),
            },
        ),
        (
            true,
            Edit::Set {
                key: "k".into(),
                value: yrs::any!({"a": [1, {"b": null}]}),
            },
        ),
        (false, Edit::Sync),
        (
            true,
            Edit::Format {
                paragraph: 0,
                at: 1,
                len: 3,
                bold: false,
            },
        ),
        (
            true,
            Edit::Erase {
                paragraph: 0,
                at: 0,
                len: 2,
            },
        ),
        (false, Edit::Sync),
    ];
    let (updates, a, b) = updates_from(&edits);
    for update in &updates {
        assert!(check_update(update));
    }
    let goals = |doc: &Doc| {
        let txn = doc.transact();
        txn.get_xml_fragment("goals")
            .map(|f| f.get_string(&txn))
            .unwrap_or_default()
    };
    // Attribute order in the XML string is not fixed; the states are.
    assert_eq!(a.transact().state_vector(), b.transact().state_vector());
    assert_eq!(goals(&a).len(), goals(&b).len());
    assert!(goals(&a).contains("<link"), "{}", goals(&a));
}

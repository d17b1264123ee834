//! Seeded randomized convergence, in the manner of yrs's `run_scenario` and zed's
//! randomized tests: a few editors (CLB and school) make random edits in every section
//! they may write, go offline and come back (re-sending what they did meanwhile, as
//! y-websocket's provider does), while the server is stopped and restarted, once by
//! `kill -9`. Then all is quiet, and every editor, the server's `/content` and a reference
//! document that saw every edit made anywhere hold the same text.
//!
//! Every choice comes from one seeded RNG (`SAMEN_TEST_SEED` replays it); where a choice
//! lands (which paragraph, which offset) depends on what had arrived by then, so a replay
//! makes the same choices with the same seed while the timing may differ.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::Duration;

use samen_client::Client;
use yrs::types::xml::{XmlElementPrelim, XmlFragment, XmlFragmentRef, XmlOut, XmlTextPrelim, XmlTextRef};
use yrs::updates::decoder::Decode;
use yrs::{Doc, GetString, ReadTxn, Text, Transact, Update, WriteTxn};

use crate::support::{CLB_SECTIONS, Person, Reg, SCHOOL_SECTIONS, TestServer, WAIT, sections_of, test_seed};

const STEPS: usize = 400;

/// One editor: who, where they may write, their connection while online, and their
/// document (the client's, or while offline the last client's, which they keep editing).
struct Editor<'s> {
    who: &'s Person<'s>,
    may: &'static [&'static str],
    client: Option<Client>,
    doc: Doc,
}

impl Editor<'_> {
    /// Connects a new client and re-sends what the server lacks of this editor's document:
    /// edits made offline, and those the server had not stored when it went down.
    async fn reconnect(&mut self, reg: &Reg) {
        let client = self.who.opens(reg).await;
        let missing = self
            .doc
            .transact()
            .encode_diff_v1(&client.doc().transact().state_vector());
        let update = Update::decode_v1(&missing).expect("own diff decodes");
        client
            .edit(|txn| txn.apply_update(update))
            .expect("own diff applies");
        self.doc = client.doc().clone();
        self.client = Some(client);
    }

    /// Drops the connection, politely or as a lost network would; the document stays.
    async fn disconnect(&mut self, politely: bool) {
        if let Some(client) = self.client.take() {
            if politely {
                client.close().await;
            } else {
                client.abort();
            }
        }
    }
}

/// Random text: lower-case letters, spaces and two letters outside ASCII (one UTF-16 unit
/// each, as offsets count them).
fn random_text(draw: u64) -> String {
    const CHARS: [char; 30] = [
        'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', 'p', 'q', 'r', 's', 't',
        'u', 'v', 'w', 'x', 'y', 'z', ' ', ' ', 'é', 'ß',
    ];
    let mut rng = fastrand::Rng::with_seed(draw);
    (0..1 + rng.u64(..) % 8)
        .map(|_| CHARS[(rng.u64(..) % CHARS.len() as u64) as usize])
        .collect()
}

/// One random edit of `section` in `doc`, as an editor would make it: a new paragraph, text
/// typed into or deleted from a paragraph, or a paragraph removed. Returns its update.
fn random_edit(doc: &Doc, section: &str, [op, which, at, len]: [u64; 4]) -> Vec<u8> {
    let mut txn = doc.transact_mut();
    let fragment = txn.get_or_insert_xml_fragment(section);
    let paragraphs = fragment.len(&txn);
    let index = if paragraphs == 0 {
        0
    } else {
        (which % u64::from(paragraphs)) as u32
    };
    match (op % 10, text_of(&txn, &fragment, index)) {
        (4..=6, Some(text)) => {
            let units = text.get_string(&txn).encode_utf16().count() as u64;
            text.insert(&mut txn, (at % (units + 1)) as u32, &random_text(len));
        }
        (7..=8, Some(text)) => {
            let units = text.get_string(&txn).encode_utf16().count() as u64;
            if units > 0 {
                let start = at % units;
                let n = 1 + len % (units - start).min(6);
                text.remove_range(&mut txn, start as u32, n as u32);
            }
        }
        (9, Some(_)) => fragment.remove_range(&mut txn, index, 1),
        _ => {
            let place = (which % (u64::from(paragraphs) + 1)) as u32;
            let paragraph = fragment.insert(&mut txn, place, XmlElementPrelim::empty("paragraph"));
            paragraph.push_back(&mut txn, XmlTextPrelim::new(random_text(len ^ at).as_str()));
        }
    }
    txn.encode_update_v1()
}

/// The text of a section's `index`th paragraph, if it is one with text.
fn text_of(txn: &impl ReadTxn, fragment: &XmlFragmentRef, index: u32) -> Option<XmlTextRef> {
    match fragment.get(txn, index) {
        Some(XmlOut::Element(p)) => match p.get(txn, 0) {
            Some(XmlOut::Text(t)) => Some(t),
            _ => None,
        },
        _ => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Restart {
    /// SIGTERM, a clean shutdown, then a start.
    Graceful,
    /// SIGKILL, then a start.
    Kill,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_edits_disconnects_and_restarts_converge() {
    let seed = test_seed("convergence::random_edits_disconnects_and_restarts_converge");
    let mut rng = fastrand::Rng::with_seed(seed);
    let server = TestServer::start().await;
    let sara = server.clb().await;
    let tom = server.school_member("linde").await;
    let reg = sara.creates_registration().await;
    let mut editors = Vec::new();
    for (who, may) in [
        (&sara, CLB_SECTIONS.as_slice()),
        (&tom, SCHOOL_SECTIONS.as_slice()),
        (&sara, CLB_SECTIONS.as_slice()),
        (&tom, SCHOOL_SECTIONS.as_slice()),
    ] {
        let client = who.opens(&reg).await;
        editors.push(Editor {
            who,
            may,
            doc: client.doc().clone(),
            client: Some(client),
        });
    }
    // Every edit made anywhere, applied in the order it was made.
    let reference = samen_crdt::new_doc();

    // Three restarts at random steps, one of them a kill.
    let mut kinds = [Restart::Graceful, Restart::Graceful, Restart::Kill];
    rng.shuffle(&mut kinds);
    let mut restarts: Vec<(usize, Restart)> = Vec::new();
    for kind in kinds {
        let step = loop {
            let step = 20 + (rng.u64(..) % (STEPS as u64 - 40)) as usize;
            if restarts.iter().all(|(s, _)| s.abs_diff(step) > 5) {
                break step;
            }
        };
        restarts.push((step, kind));
    }
    restarts.sort_by_key(|(step, _)| *step);
    eprintln!("seed {seed}: restarts {restarts:?}");

    // The choices made, to show that a seed replays them.
    let mut trace = DefaultHasher::new();
    let (mut edits, mut drops, mut comebacks) = (0, 0, 0);
    let mut unexpected_closes = Vec::new();
    let started = tokio::time::Instant::now();
    for step in 0..STEPS {
        if let Some(&(_, kind)) = restarts.iter().find(|(s, _)| *s == step) {
            match kind {
                Restart::Graceful => assert!(server.stop().await, "seed {seed}: a clean stop exits 0"),
                Restart::Kill => server.kill9().await,
            }
            // The server dropped everyone; what they typed is still in their documents.
            for editor in &mut editors {
                editor.client = None;
            }
            server.restart().await;
        }
        // A connection the server closed on its own would be a bug: honest editors never
        // write where they may not, and only resend what they hold.
        for (e, editor) in editors.iter_mut().enumerate() {
            if let Some(closed) = editor.client.as_ref().and_then(|c| c.status().closed) {
                unexpected_closes.push((step, e, closed));
                editor.client = None;
            }
        }

        let (action, e, draws) = (
            rng.u64(..) % 100,
            (rng.u64(..) % 4) as usize,
            [rng.u64(..), rng.u64(..), rng.u64(..), rng.u64(..), rng.u64(..)],
        );
        (step, action, e, draws).hash(&mut trace);
        let editor = &mut editors[e];
        match action {
            0..=71 => {
                let section = editor.may[(draws[0] % editor.may.len() as u64) as usize];
                let update = random_edit(&editor.doc, section, [draws[1], draws[2], draws[3], draws[4]]);
                reference
                    .transact_mut()
                    .apply_update(Update::decode_v1(&update).expect("decodes"))
                    .expect("the reference takes every edit");
                edits += 1;
            }
            72..=79 if editor.client.is_some() => {
                editor.disconnect(draws[0] % 2 == 0).await;
                drops += 1;
            }
            80..=91 if editor.client.is_none() => {
                editor.reconnect(&reg).await;
                comebacks += 1;
            }
            _ => {}
        }
        // Now and then a pause, so that edits cross on the wire as well as pile up.
        tokio::time::sleep(Duration::from_millis(draws[0] % 4)).await;
    }

    // Quiet: everyone comes back, and every edit is stored.
    for editor in &mut editors {
        if editor.client.is_none() {
            editor.reconnect(&reg).await;
        }
    }
    for (e, editor) in editors.iter().enumerate() {
        let client = editor.client.as_ref().expect("connected");
        client
            .durable(WAIT)
            .await
            .unwrap_or_else(|err| panic!("seed {seed}: editor {e}'s edits are not stored: {err}"));
    }
    assert!(
        unexpected_closes.is_empty(),
        "seed {seed}: the server closed honest editors (step, editor, close): \
         {unexpected_closes:?}"
    );
    let content = sara.reads_content(&reg).await;
    assert_eq!(
        sections_of(&reference),
        content,
        "seed {seed}: the server's content is not every edit made"
    );
    for (e, editor) in editors.iter().enumerate() {
        let t0 = tokio::time::Instant::now();
        while sections_of(&editor.doc) != content {
            assert!(
                t0.elapsed() < WAIT,
                "seed {seed}: editor {e} does not converge:\n{:?}\nserver:\n{content:?}",
                sections_of(&editor.doc)
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    // And what was agreed on is what a fresh start loads.
    drop(editors);
    assert!(server.stop().await, "seed {seed}: a clean stop exits 0");
    server.restart().await;
    assert_eq!(
        sara.reads_content(&reg).await,
        content,
        "seed {seed}: a restart changed the content"
    );
    let chars: usize = content.values().map(|t| t.chars().count()).sum();
    eprintln!(
        "seed {seed}: {STEPS} steps (choices {:016x}) in {:?}: {edits} edits, {drops} \
         disconnects, {comebacks} reconnects, {} restarts; {chars} characters agreed",
        trace.finish(),
        started.elapsed(),
        restarts.len()
    );
}

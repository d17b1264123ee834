//! One room: the task that owns a registration's live document.
//!
//! Connections talk to it through a bounded channel; nothing else touches the document, so
//! there is no lock on the hot path. Commands are taken in batches ([`run`]). The way of an
//! update, step by step in the order the code runs them:
//!
//! 1. **validate** — the connection's task parsed every byte with `samen_crdt::protocol` and
//!    `validate` before the room sees it (`rooms/connection.rs`), so a hostile client
//!    burns its own task's time;
//! 2. **dependency check** ([`update`]) — an update that rests on content the document
//!    does not have is refused (1007, reconnect to resync);
//! 3. **section policy** — it may insert into and delete from only the sections its author
//!    may write, and delete only what the document holds;
//! 4. **authorship** — it may create items only with client IDs bound to its author; new
//!    client IDs are bound to the author;
//! 5. **apply** — yrs integrates it; a refusal or panic inside yrs has the document rebuilt
//!    from storage ([`load`]);
//! 6. **deny** — a refused update changes nothing: the client is told
//!    (`permission-denied`), closed, and the attempt audited;
//! 7. **append** ([`run`]) — the batch's accepted updates go to the log in one durable
//!    commit (group commit across rooms);
//! 8. **broadcast**, replies and **ack** — released only after that commit, so nothing a
//!    peer sees can be lost by a crash. If the commit fails, nothing is sent and the room
//!    closes; its clients keep their edits and resend them when they reconnect;
//! 9. then **compaction** ([`run`]) and **automatic versions** ([`versions`]), which never
//!    hold up the next batch.
//!
//! On several nodes ([`nodes`]), what another node stored reaches the room as a notice;
//! it reads those rows, applies them (that node checked them) and sends them to its own
//! clients. One node, the lease holder, does step 9.
//!
//! Restoring a version ([`versions`]) is an edit made by the room and taken through steps
//! 2–8 like a client's.

mod background;
mod load;
mod names;
mod nodes;
mod run;
mod search;
mod update;
mod versions;
mod visits;

pub(crate) use background::background_time;
pub(crate) use search::index_turns;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use samen_crdt::ClientId;
use samen_crdt::policy::SectionIndex;
use tokio::sync::oneshot;
use yrs::Doc;
use yrs::ReadTxn;

use super::presence::Presence;
use super::{CloseReason, Principal, RestoreError, RoomsInner};
use crate::ids::{ConnId, DocId, UserId};
use crate::storage::NewUpdate;

pub(super) use load::stored_state;

/// Commands taken from the channel per batch at most: bounds the latency one batch adds.
const MAX_BATCH: usize = 256;

struct PeerState {
    out: super::outbox::OutboxSender,
    acks: bool,
    /// Who is on the connection.
    principal: Arc<Principal>,
    /// Update messages received from this connection (acks count them).
    updates_received: u64,
    /// Sync requests (sync step 1) this connection may still send now.
    sync_requests: super::usage::Bucket,
    /// Client IDs this connection's edits bound to its user.
    new_client_ids: usize,
}

/// Who a message of a batch goes to.
enum Target {
    One(ConnId),
    AllBut(ConnId),
    All,
}

/// Where the outcome of a restore goes.
type RestoreReply = oneshot::Sender<Result<bool, RestoreError>>;

/// What one batch of commands produced, held back until its updates are stored.
#[derive(Default)]
struct Batch {
    log: Vec<NewUpdate>,
    outbound: Vec<(Target, Bytes)>,
    to_ack: Vec<ConnId>,
    /// Connections to close once the batch is done, with the reason.
    kicks: Vec<(ConnId, CloseReason)>,
    /// Client IDs bound to users by this batch's updates.
    bindings: Vec<(ClientId, UserId)>,
    /// Requests for the document's state, answered after the commit.
    state_replies: Vec<oneshot::Sender<Vec<u8>>>,
    /// Restores and their outcome, answered after the commit.
    restore_replies: Vec<(RestoreReply, Result<bool, RestoreError>)>,
    /// The inbound budget the batch's messages hold, given back once it is committed.
    held: Vec<super::Held>,
}

impl Batch {
    fn kicked(&self, conn: ConnId) -> bool {
        self.kicks.iter().any(|(c, _)| *c == conn)
    }
}

/// The state of one room's task; see the module doc for what it does with it.
pub(super) struct Room {
    id: DocId,
    instance: u64,
    doc: Doc,
    /// The section of every item of `doc`, for the write policy.
    index: SectionIndex,
    /// Which user each client ID of `doc` belongs to.
    bindings: HashMap<ClientId, UserId>,
    peers: HashMap<ConnId, PeerState>,
    presence: Presence,
    /// The sequence number through which the document holds every stored update.
    last_seq: i64,
    /// Sequence numbers this room stored above `last_seq`, because another node's updates
    /// came in between and are not read yet (several nodes only): skipped when read.
    own: Vec<(i64, i64)>,
    /// Whether this node does the document's housekeeping, compaction and automatic
    /// versions (always on one node; on several, the holder of the document's lease).
    housekeeper: bool,
    /// Seconds the room has run (its periodic checks on several nodes).
    ticks: u32,
    /// Log entries not yet folded into the stored state.
    uncompacted: usize,
    empty_since: Option<Instant>,
    /// Set when storage failed: the in-memory document may hold what storage does not, so
    /// the room must close.
    broken: bool,
    /// Set when yrs refused an update halfway: the document must be rebuilt from storage
    /// before it takes anything else.
    needs_rebuild: bool,
    /// Whether the document changed since its newest version (snapshot).
    edited: bool,
    /// When the last edit was stored.
    last_edit: Instant,
    /// When the newest version was taken (ms since the epoch).
    last_snapshot_ms: i64,
    /// This room's random numbers (fresh client IDs), forked from the registry's seed.
    rng: fastrand::Rng,
    /// Encodings of the document, kept until it changes.
    encoded: Encoded,
    /// Suspected names in the document (the name guard).
    names: names::NameWatch,
    /// What the search index holds of the document.
    search: search::SearchWatch,
    rooms: Arc<RoomsInner>,
}

/// Sync answers the room already encoded for the document as it is: encoding the whole
/// state is linear in the document (milliseconds for a large one), and a sync request is
/// three bytes. Cleared whenever the document changes ([`Room::changed`]).
#[derive(Default)]
struct Encoded {
    /// The whole document as a v1 update (new clients' sync, compaction, `/content`).
    state: Option<Bytes>,
    /// Sync step 1 with the document's state vector (every join).
    step1: Option<Bytes>,
    /// Sync step 2 answers by the client's state vector, newest last.
    step2: Vec<(Vec<u8>, Bytes)>,
}

/// Sync step 2 answers kept per document version: clients that join together mostly send
/// the same state vector (empty, or the document's own).
const STEP2_CACHE: usize = 4;

impl Room {
    /// The connections of Samen's own clients (`?acks=1`), who take messages 100 to 102.
    fn samen_peers(&self) -> Vec<ConnId> {
        self.peers
            .iter()
            .filter(|(_, peer)| peer.acks)
            .map(|(conn, _)| *conn)
            .collect()
    }

    /// Forgets encodings of the document as it was.
    fn changed(&mut self) {
        self.encoded = Encoded::default();
        self.names.changed();
        self.search.changed();
    }

    /// The whole document as a v1 update.
    fn full_state(&mut self) -> Bytes {
        if let Some(state) = &self.encoded.state {
            return state.clone();
        }
        let state = Bytes::from(
            yrs::Transact::transact(&self.doc).encode_state_as_update_v1(&yrs::StateVector::default()),
        );
        self.encoded.state = Some(state.clone());
        state
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::clock::{Ambient, Clock};
    use crate::config::RoomConfig;
    use crate::events::Events;
    use crate::metrics::Metrics;
    use crate::rooms::Rooms;
    use yrs::{StateVector, Transact};

    /// A room for a new document on a temporary database, reading the time from `clock`.
    async fn room_on(clock: &Clock) -> (Room, tempfile::TempDir) {
        let tmp = tempfile::tempdir().expect("temp dir");
        let (store, db) = crate::open_database(tmp.path(), None).await.expect("database");
        let config = RoomConfig::for_tests();
        let (_, shutdown) = tokio::sync::watch::channel(false);
        let ambient = Ambient {
            clock: clock.clone(),
            seed: 7,
        };
        let rooms = Rooms::new(
            store,
            db,
            Events::default(),
            Arc::new(Metrics::new()),
            config,
            shutdown,
            ambient,
        );
        let room = Room::load(DocId::new(), 1, rooms.inner.clone())
            .await
            .expect("load");
        (room, tmp)
    }

    /// Gives `room` a connection whose outbox the test can read.
    fn add_peer(room: &mut Room, conn: ConnId) -> super::super::outbox::OutboxReceiver {
        let (out, rx) = super::super::outbox::outbox(1024, 1 << 30);
        let principal = Arc::new(Principal::new(
            UserId::new(),
            "Iemand".into(),
            crate::access::SchoolAccess::Clb,
        ));
        let burst = f64::from(room.rooms.config.sync_request_burst);
        room.peers.insert(
            conn,
            PeerState {
                out,
                acks: false,
                principal,
                updates_received: 0,
                sync_requests: super::super::usage::Bucket::full(burst, room.rooms.clock.now()),
                new_client_ids: 0,
            },
        );
        rx
    }

    /// Types `n` characters into `goals`, each at a different place (so each one is an item
    /// of its own, as a long meeting's notes are).
    fn type_scattered(doc: &Doc, n: u32) {
        use yrs::{GetString, Text, XmlFragment, XmlTextPrelim};
        let goals = doc.get_or_insert_xml_fragment("goals");
        let text = goals.push_back(&mut doc.transact_mut(), XmlTextPrelim::new("[]"));
        let mut rng = fastrand::Rng::with_seed(1);
        for _ in 0..n {
            let mut txn = doc.transact_mut();
            let len = text.get_string(&txn).len() as u32;
            text.insert(&mut txn, 1 + rng.u32(0..len - 1), "x");
        }
    }

    #[tokio::test]
    async fn sync_requests_are_answered_from_a_cache_and_rate_limited() {
        use samen_crdt::protocol::encode_sync_step2;
        use yrs::updates::encoder::Encode;

        let clock = Clock::manual(1_800_000_000_000);
        let (mut room, _tmp) = room_on(&clock).await;
        type_scattered(&room.doc, 20_000);
        let empty = StateVector::default().encode_v1();

        // Before: every sync request encoded the whole document again.
        let rounds = 50;
        let started = std::time::Instant::now();
        let mut uncached = Vec::new();
        for _ in 0..rounds {
            uncached = encode_sync_step2(&room.doc.transact().encode_diff_v1(&StateVector::default()));
        }
        let before = started.elapsed() / rounds;
        // After: the first request encodes, the rest are a lookup.
        let started = std::time::Instant::now();
        let first = room.sync_step2(empty.clone()).expect("answer");
        let first_took = started.elapsed();
        let started = std::time::Instant::now();
        for _ in 0..rounds {
            let again = room.sync_step2(empty.clone()).expect("answer");
            assert_eq!(
                again.as_ptr(),
                first.as_ptr(),
                "the same bytes, not a new encoding"
            );
        }
        let after = started.elapsed() / rounds;
        println!(
            "sync step 1 of a new client, 20,000-item document ({} KiB answer): {:.0} µs per request \
             encoded each time, {:.0} µs the first time and {:.2} µs after with the cache",
            first.len() / 1024,
            before.as_secs_f64() * 1e6,
            first_took.as_secs_f64() * 1e6,
            after.as_secs_f64() * 1e6,
        );
        assert_eq!(first.to_vec(), uncached, "the cache answers what encoding would");

        // A change makes the cache stale: the next answer holds it.
        type_scattered(&room.doc, 1);
        room.changed();
        let fresh = room.sync_step2(empty.clone()).expect("answer");
        assert_ne!(fresh.to_vec(), uncached);

        // A connection gets its burst of requests, then one per interval.
        let conn = ConnId(77);
        let _rx = add_peer(&mut room, conn);
        let config = room.rooms.config.clone();
        for _ in 0..config.sync_request_burst {
            assert!(room.may_sync(conn));
        }
        assert!(!room.may_sync(conn), "the burst is used up");
        clock.advance(config.sync_request_every);
        assert!(room.may_sync(conn), "one more after the interval");
        assert!(!room.may_sync(conn));
    }

    #[tokio::test]
    async fn idling_and_automatic_versions_follow_the_rooms_clock() {
        let clock = Clock::manual(1_800_000_000_000);
        let (mut room, _tmp) = room_on(&clock).await;
        let config = room.rooms.config.clone();

        // Empty since it loaded: it unloads once its clock has passed the idle time.
        assert!(!room.idle_long_enough());
        clock.advance(config.idle_unload - Duration::from_millis(1));
        assert!(!room.idle_long_enough());
        clock.advance(Duration::from_millis(1));
        assert!(room.idle_long_enough());

        // After an edit, a version is due once the room has been quiet long enough.
        room.edited = true;
        room.last_edit = clock.now();
        clock.advance(config.snapshot_quiet - Duration::from_secs(1));
        assert!(!room.snapshot_due());
        clock.advance(Duration::from_secs(1));
        assert!(room.snapshot_due());

        // Edits that never stop still get a version once a day.
        room.last_snapshot_ms = clock.now_millis();
        for _ in 0..(24 * 60) {
            room.last_edit = clock.now();
            assert!(!room.snapshot_due());
            clock.advance(Duration::from_secs(60));
        }
        room.last_edit = clock.now();
        assert!(room.snapshot_due());
    }
}

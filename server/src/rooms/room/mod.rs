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
//! Restoring a version ([`versions`]) is an edit made by the room and taken through steps
//! 2–8 like a client's.

mod load;
mod run;
mod update;
mod versions;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use samen_crdt::ClientId;
use samen_crdt::policy::SectionIndex;
use tokio::sync::oneshot;
use yrs::Doc;

use super::presence::Presence;
use super::{CloseReason, Principal, RestoreError, RoomsInner};
use crate::ids::{ConnId, RegistrationId, UserId};
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
}

impl Batch {
    fn kicked(&self, conn: ConnId) -> bool {
        self.kicks.iter().any(|(c, _)| *c == conn)
    }
}

/// The state of one room's task; see the module doc for what it does with it.
pub(super) struct Room {
    id: RegistrationId,
    instance: u64,
    doc: Doc,
    /// The section of every item of `doc`, for the write policy.
    index: SectionIndex,
    /// Which user each client ID of `doc` belongs to.
    bindings: HashMap<ClientId, UserId>,
    peers: HashMap<ConnId, PeerState>,
    presence: Presence,
    /// Sequence number of the last stored update.
    last_seq: i64,
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
    rooms: Arc<RoomsInner>,
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
        let room = Room::load(RegistrationId::new(), 1, rooms.inner.clone())
            .await
            .expect("load");
        (room, tmp)
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

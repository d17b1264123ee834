//! What the nodes of one database tell each other (see "Several nodes" in
//! docs/architecture.md), handed to what it concerns: stored updates and presence to the
//! rooms, live events and viewers to the event hub, login attempts to the throttle,
//! connections, writes and quota spending to the limits they count against.

pub mod elsewhere;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use crate::auth::throttle::LoginThrottle;
use crate::events::Events;
use crate::http::limits::ApiWrites;
use crate::rooms::{Rooms, SocketQuota};
use crate::storage::{Notice, Topic};

/// Everything on this node that hears from the other nodes.
#[derive(Clone)]
pub struct Listeners {
    /// The live documents.
    pub rooms: Rooms,
    /// Live events and viewers per school.
    pub events: Events,
    /// Login attempts.
    pub throttle: Arc<LoginThrottle>,
    /// Open connections per user.
    pub sockets: Arc<SocketQuota>,
    /// API writes per user.
    pub writes: Arc<ApiWrites>,
}

/// How often this node tells what its users spent of their room quotas.
const USAGE_EVERY: Duration = Duration::from_secs(1);

/// Passes on the notices of the other nodes until they end or the server shuts down.
pub async fn relay(mut notices: mpsc::Receiver<Notice>, to: Listeners, mut shutdown: watch::Receiver<bool>) {
    loop {
        let notice = tokio::select! {
            notice = notices.recv() => notice,
            _ = shutdown.changed() => None,
        };
        let Some(notice) = notice else {
            return;
        };
        let Notice::Told { from, topic, body } = notice else {
            to.rooms.notice(notice);
            continue;
        };
        match topic {
            Topic::Events => to.events.from_elsewhere(&body),
            Topic::Viewers => to.events.viewers_from_elsewhere(&from, &body),
            Topic::Logins => to.throttle.from_elsewhere(&body),
            Topic::Sockets => to.sockets.from_elsewhere(&from, &body),
            Topic::Writes => to.writes.from_elsewhere(&body),
            Topic::Presence | Topic::Usage | Topic::Names | Topic::Files => {
                to.rooms.notice(Notice::Told { from, topic, body })
            }
        }
    }
}

/// Tells the other nodes what this node's users spent (every second) and what it holds
/// (every [`elsewhere::RETELL`]), until the server shuts down.
pub async fn keep_telling(to: Listeners, mut shutdown: watch::Receiver<bool>) {
    let mut ticks = tokio::time::interval(USAGE_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let retell_every = (elsewhere::RETELL.as_secs() / USAGE_EVERY.as_secs()).max(1);
    let mut n: u64 = 0;
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = shutdown.changed() => return,
        }
        to.rooms.tell_usage();
        n += 1;
        if n.is_multiple_of(retell_every) {
            to.sockets.retell();
            to.events.retell();
        }
    }
}

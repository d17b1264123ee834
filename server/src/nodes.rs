//! What the nodes of one database tell each other (see "Several nodes" in
//! docs/architecture.md), handed to what it concerns: stored updates and presence to the
//! rooms, live events to the event hub, login attempts to the throttle.

use std::sync::Arc;

use tokio::sync::{mpsc, watch};

use crate::auth::throttle::LoginThrottle;
use crate::events::Events;
use crate::rooms::Rooms;
use crate::storage::{Notice, Topic};

/// Passes on the notices of the other nodes until they end or the server shuts down.
pub async fn relay(
    mut notices: mpsc::Receiver<Notice>,
    rooms: Rooms,
    events: Events,
    throttle: Arc<LoginThrottle>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let notice = tokio::select! {
            notice = notices.recv() => notice,
            _ = shutdown.changed() => None,
        };
        match notice {
            None => return,
            Some(Notice::Told {
                topic: Topic::Events,
                body,
            }) => events.from_elsewhere(&body),
            Some(Notice::Told {
                topic: Topic::Logins,
                body,
            }) => throttle.from_elsewhere(&body),
            Some(notice) => rooms.notice(notice),
        }
    }
}

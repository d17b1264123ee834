//! Live events per school, for the browser app: registrations created or changed, and who
//! has the school's dossier open right now. Served as server-sent events on
//! `GET /api/schools/{number}/events` (docs/architecture.md says why SSE).
//!
//! Presence here is "who has this school's dossier open" (the overview or a registration);
//! presence inside one document (carets) travels over that document's WebSocket.
//!
//! On several nodes, each node tells the others the events it publishes, so a subscriber
//! on any node hears them, and who has a school open there, whenever that changes and
//! every few seconds besides (see [`crate::nodes::elsewhere`]): a node that dies takes its
//! viewers with it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use dashmap::DashMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::broadcast;

use crate::ids::{InstitutionId, UserId};
use crate::nodes::elsewhere::Elsewhere;
use crate::storage::{Store, Topic};

/// Events a subscriber may lag behind before it misses some (it then reloads).
const CHANNEL: usize = 256;
/// The viewers of one school a node tells of: a notice holds fewer than 8,000 bytes, and
/// a school's care team and CLB are far fewer people.
const TOLD_VIEWERS: usize = 40;

/// One event for a school's subscribers: its SSE event name and JSON data.
#[derive(Debug, Clone)]
pub struct SchoolEvent {
    /// `registration`, `presence`, `comment` or `snapshot`.
    pub kind: &'static str,
    /// The payload.
    pub data: Value,
}

impl SchoolEvent {
    /// The event `kind` with `payload` as its data.
    pub fn new(kind: &'static str, payload: &impl Serialize) -> Self {
        // Only maps with non-string keys fail to serialize, and no payload has one.
        let data = serde_json::to_value(payload).unwrap_or_else(|err| {
            tracing::error!(%err, kind, "event payload does not serialize");
            Value::Null
        });
        SchoolEvent { kind, data }
    }
}

/// One person in a `presence` event of `GET /api/schools/{number}/events`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PresenceViewer {
    /// User id.
    #[schema(value_type = String)]
    pub id: UserId,
    /// Display name.
    pub name: String,
    /// Presence colour (CSS hex).
    pub color: String,
    /// `clb` or `school`.
    pub role: String,
}

#[derive(Debug, Clone)]
struct Viewer {
    name: String,
    color: &'static str,
    role: &'static str,
    /// Open subscriptions (tabs) of this user.
    count: usize,
}

/// The live event hub of every school.
#[derive(Default, Clone)]
pub struct Events {
    channels: Arc<DashMap<InstitutionId, broadcast::Sender<SchoolEvent>>>,
    viewers: Arc<DashMap<InstitutionId, BTreeMap<UserId, Viewer>>>,
    /// Who has a school open on the other nodes, as they said.
    elsewhere: Arc<Elsewhere<InstitutionId, Vec<PresenceViewer>>>,
    /// Where the other nodes hear this node's events (none on one node).
    nodes: Option<Store>,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events")
            .field("schools", &self.channels.len())
            .field("several_nodes", &self.nodes.is_some())
            .finish()
    }
}

/// An event as one node tells the others.
#[derive(Serialize, serde::Deserialize)]
struct News {
    school: i64,
    kind: String,
    data: Value,
}

/// Who has a school open on the telling node.
#[derive(Serialize, Deserialize)]
struct ToldViewers {
    school: i64,
    viewers: Vec<PresenceViewer>,
}

/// The events told to other nodes: all but `presence`, which each node counts for itself
/// and tells as [`ToldViewers`].
const TOLD: [&str; 3] = ["registration", "comment", "snapshot"];

impl Events {
    /// A hub whose events also reach subscribers on the other nodes of `store`'s database
    /// (when it has several).
    pub fn on(store: &Store) -> Events {
        Events {
            nodes: store.shared().then(|| store.clone()),
            ..Events::default()
        }
    }

    /// Publishes an event another node told (to this node's subscribers only).
    pub fn from_elsewhere(&self, body: &str) {
        let Ok(news) = serde_json::from_str::<News>(body) else {
            tracing::debug!("an event from another node does not parse");
            return;
        };
        if let Some(kind) = TOLD.into_iter().find(|k| *k == news.kind) {
            let _ = self.channel(InstitutionId(news.school)).send(SchoolEvent {
                kind,
                data: news.data,
            });
        }
    }

    fn channel(&self, school: InstitutionId) -> broadcast::Sender<SchoolEvent> {
        self.channels
            .entry(school)
            .or_insert_with(|| broadcast::channel(CHANNEL).0)
            .clone()
    }

    /// Sends an event to the school's subscribers (none listening is fine), on every node.
    pub fn publish(&self, school: InstitutionId, event: SchoolEvent) {
        if let Some(store) = &self.nodes
            && TOLD.contains(&event.kind)
        {
            let news = News {
                school: school.0,
                kind: event.kind.to_owned(),
                data: event.data.clone(),
            };
            match serde_json::to_string(&news) {
                Ok(body) => store.tell(Topic::Events, body),
                Err(err) => tracing::error!(%err, "event does not serialize"),
            }
        }
        let _ = self.channel(school).send(event);
    }

    /// Announces that a registration was created or changed.
    pub fn registration_changed(&self, school: InstitutionId, registration: &crate::db::Registration) {
        self.publish(school, SchoolEvent::new("registration", registration));
    }

    /// Subscribes a viewer; they count as present until the returned guard drops.
    pub fn subscribe(
        &self,
        school: InstitutionId,
        user: &UserId,
        name: &str,
        color: &'static str,
        role: &'static str,
    ) -> (broadcast::Receiver<SchoolEvent>, ViewerGuard) {
        let rx = self.channel(school).subscribe();
        self.viewers
            .entry(school)
            .or_default()
            .entry(user.clone())
            .or_insert_with(|| Viewer {
                name: name.to_owned(),
                color,
                role,
                count: 0,
            })
            .count += 1;
        self.tell_viewers(school);
        self.publish_presence(school);
        let guard = ViewerGuard {
            events: self.clone(),
            school,
            user: user.clone(),
        };
        (rx, guard)
    }

    /// Who has the school's dossier open, on this node and the others.
    pub fn present(&self, school: InstitutionId) -> Vec<PresenceViewer> {
        let mut present: BTreeMap<UserId, PresenceViewer> =
            self.here(school).into_iter().map(|v| (v.id.clone(), v)).collect();
        for viewer in self.elsewhere.get(&school, Instant::now()).into_iter().flatten() {
            present.entry(viewer.id.clone()).or_insert(viewer);
        }
        present.into_values().collect()
    }

    /// Who has the school's dossier open on this node.
    fn here(&self, school: InstitutionId) -> Vec<PresenceViewer> {
        let viewers = self.viewers.get(&school);
        viewers
            .iter()
            .flat_map(|v| v.iter())
            .map(|(id, v)| PresenceViewer {
                id: id.clone(),
                name: v.name.clone(),
                color: v.color.to_owned(),
                role: v.role.to_owned(),
            })
            .collect()
    }

    /// Tells the other nodes who has `school` open here now.
    fn tell_viewers(&self, school: InstitutionId) {
        let Some(store) = &self.nodes else {
            return;
        };
        let mut viewers = self.here(school);
        viewers.truncate(TOLD_VIEWERS);
        let told = ToldViewers {
            school: school.0,
            viewers,
        };
        match serde_json::to_string(&told) {
            Ok(body) => store.tell(Topic::Viewers, body),
            Err(err) => tracing::error!(%err, "viewers do not serialize"),
        }
    }

    /// Takes in who has a school open on node `from`, and tells this node's subscribers.
    pub fn viewers_from_elsewhere(&self, from: &str, body: &str) {
        let Ok(told) = serde_json::from_str::<ToldViewers>(body) else {
            tracing::debug!("viewers from another node do not parse");
            return;
        };
        let school = InstitutionId(told.school);
        let viewers = (!told.viewers.is_empty()).then_some(told.viewers);
        self.elsewhere.set(from, school, viewers, Instant::now());
        self.publish_presence(school);
    }

    /// Says again who has which school open here, so the other nodes do not forget them
    /// (see [`crate::nodes::elsewhere::RETELL`]); and forgets the viewers of other nodes
    /// that did not say so again, telling the subscribers here.
    pub fn retell(&self) {
        for school in self.elsewhere.forget_old(Instant::now()) {
            self.publish_presence(school);
        }
        if self.nodes.is_none() {
            return;
        }
        let schools: Vec<InstitutionId> = self
            .viewers
            .iter()
            .filter(|v| !v.is_empty())
            .map(|v| *v.key())
            .collect();
        for school in schools {
            self.tell_viewers(school);
        }
    }

    fn publish_presence(&self, school: InstitutionId) {
        let present = self.present(school);
        self.publish(school, SchoolEvent::new("presence", &present));
    }

    fn leave(&self, school: InstitutionId, user: &UserId) {
        if let Some(mut viewers) = self.viewers.get_mut(&school)
            && let Some(v) = viewers.get_mut(user)
        {
            v.count = v.count.saturating_sub(1);
            if v.count == 0 {
                viewers.remove(user);
            }
        }
        self.tell_viewers(school);
        self.publish_presence(school);
    }
}

/// Keeps a viewer present; dropping it (the SSE stream ends) removes them.
#[derive(Debug)]
pub struct ViewerGuard {
    events: Events,
    school: InstitutionId,
    user: UserId,
}

impl Drop for ViewerGuard {
    fn drop(&mut self) {
        self.events.leave(self.school, &self.user);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn presence_counts_tabs_and_events_reach_subscribers() {
        let events = Events::default();
        let (a, b) = (UserId::from("a".to_owned()), UserId::from("b".to_owned()));
        let (mut rx, tab1) = events.subscribe(InstitutionId(1), &a, "An", "#111", "clb");
        let (_rx2, tab2) = events.subscribe(InstitutionId(1), &a, "An", "#111", "clb");
        let (_rx3, other) = events.subscribe(InstitutionId(1), &b, "Bert", "#222", "school");
        assert_eq!(events.present(InstitutionId(1)).len(), 2);
        drop(tab1);
        assert_eq!(
            events.present(InstitutionId(1)).len(),
            2,
            "a still has a tab open"
        );
        drop(tab2);
        drop(other);
        assert_eq!(events.present(InstitutionId(1)), []);
        assert_eq!(events.present(InstitutionId(2)), [], "schools are separate");
        // The first subscriber saw the presence changes.
        let first = rx.recv().await.expect("event");
        assert_eq!(first.kind, "presence");
    }

    #[tokio::test]
    async fn viewers_on_other_nodes_are_present_until_they_leave() {
        let events = Events::default();
        let (a, b) = (UserId::from("a".to_owned()), UserId::from("b".to_owned()));
        let (mut rx, _tab) = events.subscribe(InstitutionId(1), &a, "An", "#111", "clb");
        let _ = rx.recv().await;
        let told = |viewers: &[(&UserId, &str)]| {
            let viewers: Vec<PresenceViewer> = viewers
                .iter()
                .map(|(id, name)| PresenceViewer {
                    id: (*id).clone(),
                    name: (*name).to_owned(),
                    color: "#222".into(),
                    role: "school".into(),
                })
                .collect();
            serde_json::to_string(&ToldViewers { school: 1, viewers }).expect("json")
        };
        events.viewers_from_elsewhere("node-b", &told(&[(&b, "Bert"), (&a, "An elders")]));
        let names: Vec<String> = events
            .present(InstitutionId(1))
            .into_iter()
            .map(|v| v.name)
            .collect();
        assert_eq!(names, ["An", "Bert"], "one entry per person, this node's first");
        let heard = rx.recv().await.expect("event");
        assert_eq!(heard.kind, "presence", "subscribers here hear of viewers there");
        assert_eq!(heard.data.as_array().map(Vec::len), Some(2));
        events.viewers_from_elsewhere("node-b", "{\"school\":1}");
        events.viewers_from_elsewhere("node-b", &told(&[]));
        assert_eq!(events.present(InstitutionId(1)).len(), 1, "Bert left node B");
        assert_eq!(events.present(InstitutionId(2)), []);
    }
}

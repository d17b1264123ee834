//! Presence (y-protocols awareness) of one room: who is here and where they type.
//!
//! The rules follow y-protocols: a state with a higher clock wins, `null` removes a client.
//! What the server adds: a client ID belongs to the connection that first announced it (no
//! other connection can overwrite or remove it), states vanish when their connection drops,
//! and states that are not renewed expire (yrs has no built-in timeout). On several nodes,
//! the states of other nodes' connections come in as those nodes announce them.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use samen_crdt::ClientId;
use samen_crdt::validate::AwarenessEntry;

use crate::ids::ConnId;

/// One awareness entry to send: client ID, clock and JSON state (`null` for removal).
pub type Change = (ClientId, u32, String);

#[derive(Debug)]
struct State {
    clock: u32,
    json: String,
    /// The connection that holds the client ID; `None`: a connection on another node.
    conn: Option<ConnId>,
    renewed: Instant,
}

/// The presence states of a room.
#[derive(Debug, Default)]
pub struct Presence {
    states: HashMap<ClientId, State>,
}

fn is_null(json: &str) -> bool {
    json.trim() == "null"
}

/// The state with `user` set by the server, whatever the client put there: a client cannot
/// appear under another name. `null` (removal) stays as it is.
fn stamped(json: &str, user: &serde_json::Value) -> String {
    if is_null(json) {
        return "null".into();
    }
    let mut state = match serde_json::from_str::<serde_json::Value>(json) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    state.insert("user".into(), user.clone());
    serde_json::Value::Object(state).to_string()
}

impl Presence {
    /// Applies a connection's awareness entries, with the server's `user` stamped into each
    /// state; returns the entries that changed, and whether the connection tried to hold
    /// more than `max_per_conn` client IDs (the entries past that are ignored: a state
    /// costs memory and is sent to everyone who joins, and an honest client has one).
    pub fn apply(
        &mut self,
        conn: ConnId,
        entries: Vec<AwarenessEntry>,
        user: &serde_json::Value,
        now: Instant,
        max_per_conn: usize,
    ) -> (Vec<Change>, bool) {
        let mut changes = Vec::new();
        let mut held = self.states.values().filter(|s| s.conn == Some(conn)).count();
        for mut entry in entries {
            let new = !self.states.contains_key(&entry.client);
            if new && held >= max_per_conn && !is_null(&entry.json) {
                return (changes, true);
            }
            entry.json = stamped(&entry.json, user);
            match self.states.get_mut(&entry.client) {
                Some(state) if state.conn != Some(conn) => {
                    // Someone else's client ID: a connection may only speak for itself.
                }
                Some(state) => {
                    let newer = entry.clock > state.clock;
                    if !newer {
                        continue;
                    }
                    if is_null(&entry.json) {
                        self.states.remove(&entry.client);
                    } else {
                        state.clock = entry.clock;
                        state.json.clone_from(&entry.json);
                        state.renewed = now;
                    }
                    changes.push((entry.client, entry.clock, entry.json));
                }
                None if is_null(&entry.json) => {}
                None => {
                    held += 1;
                    self.states.insert(
                        entry.client,
                        State {
                            clock: entry.clock,
                            json: entry.json.clone(),
                            conn: Some(conn),
                            renewed: now,
                        },
                    );
                    changes.push((entry.client, entry.clock, entry.json));
                }
            }
        }
        (changes, false)
    }

    /// Applies states another node announced for its connections (stamped and checked
    /// there); returns the changes to send here. A client ID a connection of this node
    /// holds stays its own.
    pub fn apply_remote(&mut self, changes: Vec<Change>, now: Instant) -> Vec<Change> {
        let mut applied = Vec::new();
        for (client, clock, json) in changes {
            match self.states.get_mut(&client) {
                Some(state) if state.conn.is_some() => {}
                Some(state) => {
                    if clock <= state.clock {
                        continue;
                    }
                    if is_null(&json) {
                        self.states.remove(&client);
                    } else {
                        state.clock = clock;
                        state.json.clone_from(&json);
                        state.renewed = now;
                    }
                    applied.push((client, clock, json));
                }
                None if is_null(&json) => {}
                None => {
                    self.states.insert(
                        client,
                        State {
                            clock,
                            json: json.clone(),
                            conn: None,
                            renewed: now,
                        },
                    );
                    applied.push((client, clock, json));
                }
            }
        }
        applied
    }

    /// Removes every state of a connection that left; returns the removals to announce.
    pub fn remove_conn(&mut self, conn: ConnId) -> Vec<Change> {
        self.remove_where(|s| s.conn == Some(conn))
    }

    /// Removes states not renewed within `timeout`; returns the removals to announce.
    pub fn expire(&mut self, now: Instant, timeout: Duration) -> Vec<Change> {
        self.remove_where(|s| now.saturating_duration_since(s.renewed) >= timeout)
    }

    fn remove_where(&mut self, pred: impl Fn(&State) -> bool) -> Vec<Change> {
        let gone: Vec<ClientId> = self
            .states
            .iter()
            .filter(|(_, s)| pred(s))
            .map(|(id, _)| *id)
            .collect();
        gone.into_iter()
            .filter_map(|id| {
                self.states
                    .remove(&id)
                    .map(|s| (id, s.clock.saturating_add(1), "null".to_owned()))
            })
            .collect()
    }

    /// Every current state, for a newcomer or a query.
    pub fn all(&self) -> Vec<Change> {
        self.states
            .iter()
            .map(|(id, s)| (*id, s.clock, s.json.clone()))
            .collect()
    }

    /// Whether nobody is present.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp() -> serde_json::Value {
        serde_json::json!({ "id": "u1", "name": "Echte Naam" })
    }

    fn entry(client: u64, clock: u32, json: &str) -> AwarenessEntry {
        AwarenessEntry {
            client: ClientId::new(client),
            clock,
            json: json.into(),
        }
    }

    #[test]
    fn newer_clocks_win_and_null_removes() {
        let mut p = Presence::default();
        let now = Instant::now();
        let a = ConnId(1);
        assert_eq!(
            p.apply(a, vec![entry(7, 1, "{\"x\":1}")], &stamp(), now, 8)
                .0
                .len(),
            1
        );
        assert!(
            p.apply(a, vec![entry(7, 1, "{\"x\":2}")], &stamp(), now, 8)
                .0
                .is_empty(),
            "same clock is stale"
        );
        assert_eq!(
            p.apply(a, vec![entry(7, 2, "{\"x\":2}")], &stamp(), now, 8)
                .0
                .len(),
            1
        );
        assert_eq!(
            p.all(),
            vec![(
                ClientId::new(7),
                2,
                r#"{"user":{"id":"u1","name":"Echte Naam"},"x":2}"#.to_owned()
            )]
        );
        assert_eq!(p.apply(a, vec![entry(7, 3, "null")], &stamp(), now, 8).0.len(), 1);
        assert!(p.is_empty());
    }

    #[test]
    fn a_connection_cannot_touch_another_connections_client() {
        let mut p = Presence::default();
        let now = Instant::now();
        p.apply(ConnId(1), vec![entry(7, 1, "{}")], &stamp(), now, 8);
        assert!(
            p.apply(ConnId(2), vec![entry(7, 9, "null")], &stamp(), now, 8)
                .0
                .is_empty()
        );
        assert!(
            p.apply(ConnId(2), vec![entry(7, 9, "{\"evil\":1}")], &stamp(), now, 8)
                .0
                .is_empty()
        );
        assert_eq!(
            p.all(),
            vec![(
                ClientId::new(7),
                1,
                r#"{"user":{"id":"u1","name":"Echte Naam"}}"#.to_owned()
            )]
        );
    }

    #[test]
    fn the_server_stamps_who_the_client_is() {
        let mut p = Presence::default();
        let forged = r#"{"user":{"id":"someone-else","name":"Directeur"},"cursor":{"anchor":3}}"#;
        let changes = p
            .apply(ConnId(1), vec![entry(5, 1, forged)], &stamp(), Instant::now(), 8)
            .0;
        let state: serde_json::Value = serde_json::from_str(&changes[0].2).expect("json");
        assert_eq!(state["user"], stamp());
        assert_eq!(state["cursor"]["anchor"], 3);
        let odd = p
            .apply(ConnId(1), vec![entry(5, 2, "[1,2]")], &stamp(), Instant::now(), 8)
            .0;
        assert_eq!(odd[0].2, r#"{"user":{"id":"u1","name":"Echte Naam"}}"#);
    }

    #[test]
    fn a_connection_holds_at_most_its_share_of_client_ids() {
        let mut p = Presence::default();
        let now = Instant::now();
        let many: Vec<_> = (1..=5).map(|c| entry(c, 1, "{}")).collect();
        let (changes, over) = p.apply(ConnId(1), many, &stamp(), now, 3);
        assert!(over);
        assert_eq!(changes.len(), 3, "the first three are kept");
        // Its own states it may still renew and remove; another connection has its own share.
        let (changes, over) = p.apply(
            ConnId(1),
            vec![entry(1, 2, "{}"), entry(2, 2, "null")],
            &stamp(),
            now,
            3,
        );
        assert_eq!((changes.len(), over), (2, false));
        let (changes, over) = p.apply(ConnId(2), vec![entry(9, 1, "{}")], &stamp(), now, 3);
        assert_eq!((changes.len(), over), (1, false));
    }

    #[test]
    fn states_from_other_nodes_come_and_go_but_never_take_a_local_client() {
        let mut p = Presence::default();
        let now = Instant::now();
        p.apply(ConnId(1), vec![entry(7, 1, "{}")], &stamp(), now, 8);
        let told = |client, clock, json: &str| (ClientId::new(client), clock, json.to_owned());
        // Client 7 is held here: another node cannot speak for it.
        assert!(p.apply_remote(vec![told(7, 9, "null")], now).is_empty());
        assert_eq!(
            p.apply_remote(vec![told(8, 1, "{\"x\":1}")], now),
            [told(8, 1, "{\"x\":1}")]
        );
        assert!(
            p.apply_remote(vec![told(8, 1, "{\"x\":2}")], now).is_empty(),
            "stale"
        );
        // Nor can a connection here take the other node's client.
        assert!(
            p.apply(ConnId(1), vec![entry(8, 5, "null")], &stamp(), now, 8)
                .0
                .is_empty()
        );
        assert_eq!(p.all().len(), 2);
        // Another node's client leaves by its word, or expires when that node went quiet.
        assert_eq!(
            p.apply_remote(vec![told(8, 2, "null")], now),
            [told(8, 2, "null")]
        );
        p.apply_remote(vec![told(9, 1, "{}")], now);
        let later = now + Duration::from_secs(31);
        p.apply(ConnId(1), vec![entry(7, 2, "{}")], &stamp(), later, 8);
        assert_eq!(p.expire(later, Duration::from_secs(30)), [told(9, 2, "null")]);
        assert_eq!(p.remove_conn(ConnId(1)), [told(7, 3, "null")]);
        assert!(p.is_empty());
    }

    #[test]
    fn leaving_and_expiry_announce_removals() {
        let mut p = Presence::default();
        let t0 = Instant::now();
        p.apply(
            ConnId(1),
            vec![entry(1, 4, "{}"), entry(2, 1, "{}")],
            &stamp(),
            t0,
            8,
        );
        p.apply(ConnId(2), vec![entry(3, 1, "{}")], &stamp(), t0, 8);
        let mut gone = p.remove_conn(ConnId(1));
        gone.sort();
        assert_eq!(
            gone,
            vec![
                (ClientId::new(1), 5, "null".into()),
                (ClientId::new(2), 2, "null".into())
            ]
        );

        let timeout = Duration::from_secs(30);
        assert!(p.expire(t0 + Duration::from_secs(29), timeout).is_empty());
        p.apply(
            ConnId(2),
            vec![entry(3, 2, "{}")],
            &stamp(),
            t0 + Duration::from_secs(20),
            8,
        );
        assert!(
            p.expire(t0 + Duration::from_secs(40), timeout).is_empty(),
            "renewed at 20 s"
        );
        assert_eq!(
            p.expire(t0 + Duration::from_secs(50), timeout),
            vec![(ClientId::new(3), 3, "null".into())]
        );
        assert!(p.is_empty());
    }
}

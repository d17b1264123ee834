//! The ids of a Yjs document that are plain numbers on the wire, as types of their own, so
//! that one cannot be passed where a clock, a count or another number is meant.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A Yjs client ID: the writer of a block or the owner of an awareness state, a JavaScript
/// safe integer on the wire (a number in JSON, a string when a map key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ClientId(u64);

impl ClientId {
    /// The client ID with this number.
    pub const fn new(id: u64) -> Self {
        ClientId(id)
    }

    /// The number, as written on the wire.
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl From<u64> for ClientId {
    fn from(id: u64) -> Self {
        ClientId(id)
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl From<yrs::block::ClientID> for ClientId {
    fn from(id: yrs::block::ClientID) -> Self {
        ClientId(id.get())
    }
}

impl From<&yrs::block::ClientID> for ClientId {
    fn from(id: &yrs::block::ClientID) -> Self {
        ClientId(id.get())
    }
}

/// yrs' client ID; yrs debug-asserts that it fits in 53 bits
/// ([`crate::validate::MAX_CLIENT_ID`]), which every parsed client ID does.
impl From<ClientId> for yrs::block::ClientID {
    fn from(id: ClientId) -> Self {
        yrs::block::ClientID::new(id.0)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn json_is_the_bare_number_also_as_a_map_key() {
        let id = ClientId::new(42);
        assert_eq!(serde_json::to_string(&id).unwrap(), "42");
        assert_eq!(serde_json::from_str::<ClientId>("42").unwrap(), id);
        let map = BTreeMap::from([(id, 1)]);
        let json = serde_json::to_string(&map).unwrap();
        assert_eq!(json, r#"{"42":1}"#);
        assert_eq!(
            serde_json::from_str::<BTreeMap<ClientId, i32>>(&json).unwrap(),
            map
        );
    }

    #[test]
    fn converts_to_and_from_yrs() {
        let id = ClientId::new((1 << 53) - 1);
        let yrs_id = yrs::block::ClientID::from(id);
        assert_eq!(yrs_id.get(), id.get());
        assert_eq!(ClientId::from(yrs_id), id);
        assert_eq!(id.to_string(), "9007199254740991");
    }
}

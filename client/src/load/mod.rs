//! samen-load: a load generator of real Yjs editors for Samen and other y-websocket
//! (or Hocuspocus) servers. The binary is `src/bin/samen-load.rs`; see [`conn`] for how
//! latency is measured and [`run`] for how worker processes split the rooms.

pub mod backoff;
pub mod config;
pub mod conn;
pub mod run;
pub mod stats;
pub mod storm;
pub mod wire;

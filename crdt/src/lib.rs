//! samen-crdt: the document schemas (registration, meeting, school–LSC agreements), the
//! y-sync protocol codec and the strict validation of every byte a client sends.
//!
//! This crate is pure: no IO, no async runtime, no clock. It can be unit-tested and fuzzed
//! alone, and the server calls it before any client byte reaches yrs.

pub mod cost;
pub mod deps;
pub mod error;
pub mod history;
pub mod ids;
pub mod lib0;
pub mod meeting;
pub mod policy;
pub mod protocol;
pub mod schema;
pub mod text;
pub mod typing;
pub mod validate;

pub use ids::ClientId;
pub use protocol::{ClientMessage, ProtocolError};
pub use schema::{Section, new_doc};
pub use validate::{Limits, ValidationError};

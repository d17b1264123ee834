//! Why a message was refused: the one error type of reading lib0 bytes and validating
//! what they encode. Its own module so that the reader ([`crate::lib0`]) and the validator
//! ([`crate::validate`]) both import it from below.

use thiserror::Error;

/// Why bytes were refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ValidationError {
    /// The input ended in the middle of a value.
    #[error("message ends unexpectedly")]
    Truncated,
    /// A varint is longer or larger than its type allows (or a flag is neither 0 nor 1).
    #[error("number out of range")]
    VarintOverflow,
    /// A count or length is larger than the bytes that remain could hold.
    #[error("length or count exceeds the message")]
    LengthOutOfBounds,
    /// The input is larger than the configured limit.
    #[error("message of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The size of the input.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// Values nest deeper than the configured limit.
    #[error("values nest too deeply")]
    TooDeep,
    /// A string is not valid UTF-8.
    #[error("text is not valid UTF-8")]
    InvalidUtf8,
    /// A JSON string (awareness state, JSON or embed content) does not parse.
    #[error("invalid JSON")]
    InvalidJson,
    /// A client ID does not fit in 53 bits.
    #[error("client ID out of range")]
    ClientIdOutOfRange,
    /// A clock, or a clock plus a length, is beyond `validate::MAX_CLOCK` (or, in awareness, is
    /// `u32::MAX`).
    #[error("clock out of range")]
    ClockOverflow,
    /// A block, content or range has length zero.
    #[error("empty block")]
    EmptyBlock,
    /// A client appears twice where it may appear once.
    #[error("client listed twice")]
    DuplicateClient,
    /// The content type number is unknown.
    #[error("unknown content type {0}")]
    UnknownContent(u8),
    /// The content type is valid Yjs but has no place in a Samen document (sub-documents,
    /// moves, weak links), or yrs and Yjs read it differently (legacy JSON).
    #[error("unsupported content type {0}")]
    UnsupportedContent(u8),
    /// The shared type number is unknown or unsupported.
    #[error("unknown type reference {0}")]
    UnknownTypeRef(u8),
    /// An `Any` value has an unknown tag.
    #[error("unknown value tag {0}")]
    UnknownAnyTag(u8),
    /// Bytes are left after the last value.
    #[error("trailing bytes after the message")]
    TrailingBytes,
}

//! Strict parsers for the bytes a client sends: v1 updates, state vectors and awareness
//! updates. Nothing a client sends reaches yrs before it has passed through here.
//!
//! Why: yrs trusts its input. Length prefixes are taken at their word (a 27-byte message can
//! cost half a second of CPU to decode) and, in older versions, text that is not UTF-8 was
//! undefined behaviour. These parsers bound every count and length by the bytes that
//! remain, check every varint's range, every string's UTF-8, every content type, and the
//! nesting depth, and return a typed error for anything that is not well-formed.
//!
//! They also return what the policy layer needs: each block's ID, length, origins and
//! parent, and the delete set.
//!
//! This module must never panic, allocate more than a small multiple of its input, or take
//! more than linear time in its input.
//!
//! The rule for what is accepted: bytes that yrs 0.28 and Yjs both read, and read the same
//! way, and that yrs then handles without overflowing or asserting. Hence a few refusals of
//! valid Yjs that no Samen client sends: legacy JSON content and `Y.XmlHook` (yrs and Yjs
//! disagree on their encoding), sub-documents, clocks of 2^31 and more ([`MAX_CLOCK`]),
//! `Any` integers beyond JavaScript's safe range, and a GC or skip block with flag bits.
//! `tests/validate_props.rs` and the `crdt/fuzz` targets check the rule against yrs.

use std::collections::HashSet;

pub use crate::cost::CostLimits;
pub use crate::error::ValidationError;
use crate::ids::ClientId;
use crate::lib0::Reader;

/// Yjs client IDs are JavaScript safe integers; yrs assumes they fit in 53 bits.
pub const MAX_CLIENT_ID: u64 = (1 << 53) - 1;

/// The largest clock accepted, also as the end (clock plus length) of a block or range.
///
/// Clocks are `u32` on the wire, but yrs 0.28 computes a block's distance from the local
/// state as `local as i32 - clock as i32` when it integrates an update: a clock of 2^31 or
/// more makes that wrong (corrupting the block store, then panicking) or overflow. A client
/// would need over two billion operations to get there honestly.
pub const MAX_CLOCK: u32 = i32::MAX as u32;

/// Size and depth limits for what a client may send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// The largest encoded update (sync step 2 or update) accepted.
    pub max_update_bytes: usize,
    /// The largest encoded awareness update accepted.
    pub max_awareness_bytes: usize,
    /// How deeply `Any` values and JSON may nest.
    pub max_depth: usize,
    /// What integrating one update may cost (checked by [`crate::protocol`] for client
    /// messages, not by [`parse_update_v1`], which also reads the server's own states).
    pub cost: CostLimits,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_update_bytes: 8 * 1024 * 1024,
            max_awareness_bytes: 64 * 1024,
            max_depth: 32,
            cost: CostLimits::default(),
        }
    }
}

impl Limits {
    /// The limits for bytes Samen wrote itself (a document's state, a stored update, an
    /// edit the server made): no size limit, which is about what one client may send, not
    /// what a dossier may grow to; every other bound as usual.
    pub fn for_own_bytes() -> Self {
        Limits {
            max_update_bytes: usize::MAX,
            ..Limits::default()
        }
    }
}

/// The ID of a block: the client that created it and its clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id {
    /// The client ID (at most [`MAX_CLIENT_ID`]).
    pub client: ClientId,
    /// The clock of the first element.
    pub clock: u32,
}

/// Where an item says it lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parent {
    /// A root type of the document, by name (a section, in a Samen document).
    Root(String),
    /// A nested type: the item that holds it.
    Item(Id),
    /// Not written: the parent is that of the item's origin or right origin.
    FromOrigin,
}

/// A shared type an item content creates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeRef {
    /// `Y.Array`
    Array,
    /// `Y.Map`
    Map,
    /// `Y.Text`
    Text,
    /// `Y.XmlElement` with its node name.
    XmlElement(String),
    /// `Y.XmlFragment`
    XmlFragment,
    /// `Y.XmlHook` with its hook name. Not accepted at present: yrs 0.28 does not read
    /// the name Yjs writes, so the two would read the rest of the update differently.
    XmlHook(String),
    /// `Y.XmlText`
    XmlText,
}

/// What an item holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// Deleted content of the given length.
    Deleted,
    /// JSON values (legacy Yjs). Not accepted at present: yrs 0.28 reads one value more
    /// than Yjs writes.
    Json,
    /// A byte buffer.
    Binary,
    /// Text.
    String,
    /// An embedded JSON value.
    Embed,
    /// A formatting attribute: key and JSON value.
    Format {
        /// The attribute's key.
        key: String,
    },
    /// A nested shared type.
    Type(TypeRef),
    /// `Any` values.
    Any,
}

/// One block of an update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    /// An item.
    Item(ItemHeader),
    /// A garbage-collected range.
    Gc {
        /// Its first ID.
        id: Id,
        /// Its length.
        len: u32,
    },
    /// A gap (in merged updates).
    Skip {
        /// Its first ID.
        id: Id,
        /// Its length.
        len: u32,
    },
}

/// The header of an item: everything but its content's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemHeader {
    /// Its first ID.
    pub id: Id,
    /// Its length in clock units (UTF-16 code units for text).
    pub len: u32,
    /// The item it was inserted after, if any.
    pub origin: Option<Id>,
    /// The item it was inserted before, if any.
    pub right_origin: Option<Id>,
    /// Where it lives.
    pub parent: Parent,
    /// Its key, when its parent is a map-like type.
    pub parent_sub: Option<String>,
    /// What it holds.
    pub content: Content,
}

/// A range of deleted IDs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeleteRange {
    /// The client whose items are deleted.
    pub client: ClientId,
    /// The first deleted clock.
    pub clock: u32,
    /// How many clocks are deleted.
    pub len: u32,
}

/// A parsed, well-formed v1 update.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpdateInfo {
    /// The blocks, grouped by client, in the order of the encoding.
    pub blocks: Vec<Block>,
    /// The delete set.
    pub deletes: Vec<DeleteRange>,
}

/// One entry of an awareness update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwarenessEntry {
    /// The client ID the state belongs to.
    pub client: ClientId,
    /// The state's clock; the highest wins.
    pub clock: u32,
    /// The state as JSON text; `"null"` removes the client.
    pub json: String,
}

// Info byte of a block (lib0 v1 update encoding).
/// The low five bits of an info byte: the content type (or GC / skip).
const INFO_CONTENT_MASK: u8 = 0x1f;
/// Info bit: the item's left origin follows.
const HAS_ORIGIN: u8 = 0x80;
/// Info bit: the item's right origin follows.
const HAS_RIGHT_ORIGIN: u8 = 0x40;
/// Info bit: the item's key in its parent map follows (only read when the parent is written).
const HAS_PARENT_SUB: u8 = 0x20;

// Content type numbers (the low five bits of an info byte).
const BLOCK_GC: u8 = 0;
const CONTENT_DELETED: u8 = 1;
const CONTENT_JSON: u8 = 2;
const CONTENT_BINARY: u8 = 3;
const CONTENT_STRING: u8 = 4;
const CONTENT_EMBED: u8 = 5;
const CONTENT_FORMAT: u8 = 6;
const CONTENT_TYPE: u8 = 7;
const CONTENT_ANY: u8 = 8;
const CONTENT_DOC: u8 = 9;
const BLOCK_SKIP: u8 = 10;
const CONTENT_MOVE: u8 = 11;

// `Any` value tags (lib0 `writeAny`).
const ANY_UNDEFINED: u8 = 127;
const ANY_NULL: u8 = 126;
const ANY_VAR_INT: u8 = 125;
const ANY_F32: u8 = 124;
const ANY_F64: u8 = 123;
const ANY_BIGINT: u8 = 122;
const ANY_FALSE: u8 = 121;
const ANY_TRUE: u8 = 120;
const ANY_STRING: u8 = 119;
const ANY_OBJECT: u8 = 118;
const ANY_ARRAY: u8 = 117;
const ANY_BUFFER: u8 = 116;

/// The largest magnitude of an `Any` varint: JavaScript's `Number.MAX_SAFE_INTEGER`.
///
/// Yjs only ever writes 32-bit integers this way and lib0 refuses anything past a safe
/// integer, so a larger value can only come from a hand-crafted message. Bounding it also
/// keeps yrs' `read_var_i64` away from its overflowing shift and its `-i64::MIN`.
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

// Minimum encoded sizes, for `Reader::read_count`: a count is refused when the bytes that
// remain cannot hold that many of the smallest possible element. This is what keeps memory
// and time linear in the input whatever a length prefix claims.
/// A client's block list: block count, client, clock.
const MIN_CLIENT_BLOCKS_BYTES: usize = 3;
/// A block: info byte plus at least one more byte.
const MIN_BLOCK_BYTES: usize = 2;
/// A delete set entry: client, range count; or a range: clock, length.
const MIN_PAIR_BYTES: usize = 2;
/// A state vector entry: client, clock.
const MIN_STATE_BYTES: usize = 2;
/// An awareness entry: client, clock, JSON length.
const MIN_AWARENESS_BYTES: usize = 3;
/// An `Any` value: its tag.
const MIN_ANY_BYTES: usize = 1;
/// An `Any` object entry: key length and value tag.
const MIN_ANY_ENTRY_BYTES: usize = 2;

/// Parses a v1-encoded update, checking every byte.
///
/// The contract with the caller: if this returns `Ok`, `yrs::Update::decode_v1` on the same
/// bytes succeeds, reads them exactly as described in the result, and cannot reach one of
/// yrs' debug assertions or arithmetic overflows (53-bit client IDs, 32-bit clocks). Yjs in
/// the browser reads the same bytes the same way, so server and clients never disagree
/// about what an accepted update says.
///
/// Where yrs and Yjs read a construct differently, it is refused even though it is valid
/// Yjs (see [`ValidationError::UnsupportedContent`] and [`ValidationError::UnknownTypeRef`]):
/// JSON content (yrs reads one string more than Yjs writes) and `Y.XmlHook` (yrs does not
/// read the hook name Yjs writes). Neither is produced by a current Yjs editor.
pub fn parse_update_v1(bytes: &[u8], limits: &Limits) -> Result<UpdateInfo, ValidationError> {
    if bytes.len() > limits.max_update_bytes {
        return Err(ValidationError::TooLarge {
            size: bytes.len(),
            limit: limits.max_update_bytes,
        });
    }
    let mut r = Reader::new(bytes);
    let mut info = UpdateInfo::default();

    let num_clients = r.read_count(MIN_CLIENT_BLOCKS_BYTES)?;
    let mut clients = HashSet::with_capacity(num_clients);
    for _ in 0..num_clients {
        let num_blocks = r.read_count(MIN_BLOCK_BYTES)?;
        let client = read_client(&mut r)?;
        // yrs would merge a repeated client into one list, Yjs would keep the last one:
        // refuse rather than pick a reading.
        if !clients.insert(client) {
            return Err(ValidationError::DuplicateClient);
        }
        let mut clock = read_clock(&mut r)?;
        info.blocks.reserve(num_blocks);
        for _ in 0..num_blocks {
            let block = read_block(&mut r, Id { client, clock }, limits)?;
            // yrs adds lengths to clocks without checking (a panic in debug, a wrap in
            // release): every block must end at a clock it can handle.
            clock = end_clock(clock, block_len(&block))?;
            info.blocks.push(block);
        }
    }

    read_delete_set(&mut r, &mut info.deletes)?;
    r.finish()?;
    Ok(info)
}

/// Parses a v1-encoded state vector: `(client, clock)` pairs.
///
/// A state vector is small (one pair per client that ever edited), so there is no size
/// limit beyond the frame's; every count is still bounded by the bytes that remain.
pub fn parse_state_vector_v1(bytes: &[u8]) -> Result<Vec<(ClientId, u32)>, ValidationError> {
    let mut r = Reader::new(bytes);
    let count = r.read_count(MIN_STATE_BYTES)?;
    let mut out = Vec::with_capacity(count);
    let mut clients = HashSet::with_capacity(count);
    for _ in 0..count {
        let client = read_client(&mut r)?;
        let clock = read_clock(&mut r)?;
        if !clients.insert(client) {
            return Err(ValidationError::DuplicateClient);
        }
        out.push((client, clock));
    }
    r.finish()?;
    Ok(out)
}

/// Parses an awareness update (the payload of a y-protocols awareness message).
///
/// Each state must be JSON (`null` removes the client), nested at most `limits.max_depth`
/// deep. The clock must be below `u32::MAX`: when a peer "removes" the receiver's own
/// state, yrs' `Awareness` answers by incrementing the clock it was sent, unchecked.
pub fn parse_awareness_v1(bytes: &[u8], limits: &Limits) -> Result<Vec<AwarenessEntry>, ValidationError> {
    if bytes.len() > limits.max_awareness_bytes {
        return Err(ValidationError::TooLarge {
            size: bytes.len(),
            limit: limits.max_awareness_bytes,
        });
    }
    let mut r = Reader::new(bytes);
    let count = r.read_count(MIN_AWARENESS_BYTES)?;
    let mut out = Vec::with_capacity(count);
    let mut clients = HashSet::with_capacity(count);
    for _ in 0..count {
        let client = read_client(&mut r)?;
        let clock = r.read_var_u32()?;
        if clock == u32::MAX {
            return Err(ValidationError::ClockOverflow);
        }
        let json = r.read_str()?;
        check_json_depth(json, limits.max_depth)?;
        serde_json::from_str::<serde_json::Value>(json).map_err(|_| ValidationError::InvalidJson)?;
        if !clients.insert(client) {
            return Err(ValidationError::DuplicateClient);
        }
        out.push(AwarenessEntry {
            client,
            clock,
            json: json.to_owned(),
        });
    }
    r.finish()?;
    Ok(out)
}

/// Reads a client ID: yrs debug-asserts that it fits in 53 bits, and JavaScript could not
/// represent a larger one exactly.
fn read_client(r: &mut Reader<'_>) -> Result<ClientId, ValidationError> {
    let client = r.read_var_u64()?;
    if client > MAX_CLIENT_ID {
        return Err(ValidationError::ClientIdOutOfRange);
    }
    Ok(ClientId::new(client))
}

/// Reads an ID (origin, right origin or parent).
fn read_id(r: &mut Reader<'_>) -> Result<Id, ValidationError> {
    let client = read_client(r)?;
    let clock = read_clock(r)?;
    Ok(Id { client, clock })
}

/// Reads a clock of a document (not of awareness): at most [`MAX_CLOCK`].
fn read_clock(r: &mut Reader<'_>) -> Result<u32, ValidationError> {
    let clock = r.read_var_u32()?;
    if clock > MAX_CLOCK {
        return Err(ValidationError::ClockOverflow);
    }
    Ok(clock)
}

/// The clock after a block or range of `len` clocks that starts at `clock`.
fn end_clock(clock: u32, len: u32) -> Result<u32, ValidationError> {
    clock
        .checked_add(len)
        .filter(|&end| end <= MAX_CLOCK)
        .ok_or(ValidationError::ClockOverflow)
}

/// Reads a non-zero 32-bit length: yrs skips or rejects empty blocks inconsistently
/// (an empty string item is silently dropped, an empty GC is an error), so none is accepted.
fn read_len(r: &mut Reader<'_>) -> Result<u32, ValidationError> {
    match r.read_var_u32()? {
        0 => Err(ValidationError::EmptyBlock),
        len => Ok(len),
    }
}

/// How many clocks a block takes.
fn block_len(block: &Block) -> u32 {
    match block {
        Block::Item(item) => item.len,
        Block::Gc { len, .. } | Block::Skip { len, .. } => *len,
    }
}

/// Reads one block, whose first ID is `id`.
fn read_block(r: &mut Reader<'_>, id: Id, limits: &Limits) -> Result<Block, ValidationError> {
    let info = r.read_u8()?;
    // yrs recognises GC and skip blocks by the whole info byte, Yjs by its low five bits;
    // with any high bit set they disagree, and such a byte falls through to the item path
    // below, where content 0 or 10 is refused.
    match info {
        BLOCK_GC => {
            return Ok(Block::Gc {
                id,
                len: read_len(r)?,
            });
        }
        BLOCK_SKIP => {
            return Ok(Block::Skip {
                id,
                len: read_len(r)?,
            });
        }
        _ => {}
    }

    let origin = if info & HAS_ORIGIN != 0 {
        Some(read_id(r)?)
    } else {
        None
    };
    let right_origin = if info & HAS_RIGHT_ORIGIN != 0 {
        Some(read_id(r)?)
    } else {
        None
    };
    // The parent is only written when there is no origin to take it from. Yjs sets
    // `HAS_PARENT_SUB` for every map entry, but it is only followed by a key here.
    let (parent, parent_sub) = if info & (HAS_ORIGIN | HAS_RIGHT_ORIGIN) == 0 {
        // yrs and Yjs treat every value but 1 as "an ID follows"; only 0 and 1 are written.
        let parent = match r.read_var_u32()? {
            1 => Parent::Root(r.read_str()?.to_owned()),
            0 => Parent::Item(read_id(r)?),
            _ => return Err(ValidationError::VarintOverflow),
        };
        let parent_sub = if info & HAS_PARENT_SUB != 0 {
            Some(r.read_str()?.to_owned())
        } else {
            None
        };
        (parent, parent_sub)
    } else {
        (Parent::FromOrigin, None)
    };

    let (content, len) = read_content(r, info & INFO_CONTENT_MASK, limits)?;
    Ok(Block::Item(ItemHeader {
        id,
        len,
        origin,
        right_origin,
        parent,
        parent_sub,
        content,
    }))
}

/// Reads an item's content; returns it with the item's length in clocks.
fn read_content(
    r: &mut Reader<'_>,
    content_ref: u8,
    limits: &Limits,
) -> Result<(Content, u32), ValidationError> {
    match content_ref {
        CONTENT_DELETED => Ok((Content::Deleted, read_len(r)?)),
        CONTENT_BINARY => {
            r.read_buf()?;
            Ok((Content::Binary, 1))
        }
        CONTENT_STRING => {
            // Clocks count UTF-16 code units, as JavaScript strings do.
            let units = r.read_str()?.encode_utf16().count();
            match u32::try_from(units) {
                Ok(0) => Err(ValidationError::EmptyBlock),
                Ok(len) => Ok((Content::String, len)),
                Err(_) => Err(ValidationError::ClockOverflow),
            }
        }
        CONTENT_EMBED => {
            check_json_any(r.read_str()?, limits.max_depth)?;
            Ok((Content::Embed, 1))
        }
        CONTENT_FORMAT => {
            let key = r.read_str()?.to_owned();
            check_json_any(r.read_str()?, limits.max_depth)?;
            Ok((Content::Format { key }, 1))
        }
        CONTENT_TYPE => Ok((Content::Type(read_type_ref(r)?), 1)),
        CONTENT_ANY => {
            let count = r.read_count(MIN_ANY_BYTES)?;
            for _ in 0..count {
                skip_any(r, limits.max_depth)?;
            }
            match u32::try_from(count) {
                Ok(0) => Err(ValidationError::EmptyBlock),
                Ok(len) => Ok((Content::Any, len)),
                Err(_) => Err(ValidationError::ClockOverflow),
            }
        }
        // yrs 0.28 reads `count + 1` JSON strings where Yjs writes `count`: the two would
        // read different updates from the same bytes. Current Yjs never writes JSON content.
        CONTENT_JSON | CONTENT_DOC | CONTENT_MOVE => Err(ValidationError::UnsupportedContent(content_ref)),
        other => Err(ValidationError::UnknownContent(other)),
    }
}

/// Reads the shared type an item creates.
///
/// yrs reads the type number as one byte, Yjs as a varint; they agree below 128, which
/// covers every accepted value.
fn read_type_ref(r: &mut Reader<'_>) -> Result<TypeRef, ValidationError> {
    match r.read_u8()? {
        0 => Ok(TypeRef::Array),
        1 => Ok(TypeRef::Map),
        2 => Ok(TypeRef::Text),
        3 => Ok(TypeRef::XmlElement(r.read_str()?.to_owned())),
        4 => Ok(TypeRef::XmlFragment),
        6 => Ok(TypeRef::XmlText),
        // 5 (XmlHook): Yjs writes the hook name, yrs 0.28 does not read it. 7 (weak link),
        // 9 (sub-document), 15 (undefined) and the rest have no place in a Samen document.
        other => Err(ValidationError::UnknownTypeRef(other)),
    }
}

/// Skips one lib0 `Any` value, checking it as yrs' `Any::decode` would read it.
///
/// yrs decodes nested values recursively without a limit, so a few kilobytes of nested
/// arrays would overflow its stack; this walks the value with an explicit stack of at most
/// `max_depth` open containers instead, and refuses anything deeper.
fn skip_any(r: &mut Reader<'_>, max_depth: usize) -> Result<(), ValidationError> {
    /// An open container: how many values it still holds, and whether each has a key.
    struct Open {
        remaining: usize,
        keyed: bool,
    }
    let mut open: Vec<Open> = Vec::new();
    loop {
        let container = match r.read_u8()? {
            ANY_UNDEFINED | ANY_NULL | ANY_FALSE | ANY_TRUE => None,
            ANY_VAR_INT => {
                read_var_int(r)?;
                None
            }
            ANY_F32 => {
                r.read_exact(4)?;
                None
            }
            ANY_F64 | ANY_BIGINT => {
                r.read_exact(8)?;
                None
            }
            ANY_STRING => {
                r.read_str()?;
                None
            }
            ANY_BUFFER => {
                r.read_buf()?;
                None
            }
            ANY_OBJECT => Some(Open {
                remaining: r.read_count(MIN_ANY_ENTRY_BYTES)?,
                keyed: true,
            }),
            ANY_ARRAY => Some(Open {
                remaining: r.read_count(MIN_ANY_BYTES)?,
                keyed: false,
            }),
            tag => return Err(ValidationError::UnknownAnyTag(tag)),
        };
        if let Some(container) = container {
            if open.len() >= max_depth {
                return Err(ValidationError::TooDeep);
            }
            open.push(container);
        }
        // Move on to the next value: the next element of the innermost container that
        // still has one, closing those that are done.
        loop {
            let Some(innermost) = open.last_mut() else {
                return Ok(());
            };
            if innermost.remaining == 0 {
                open.pop();
                continue;
            }
            innermost.remaining -= 1;
            if innermost.keyed {
                r.read_str()?;
            }
            break;
        }
    }
}

/// Reads lib0's signed varint (`writeVarInt`): a sign bit and six bits in the first byte,
/// seven bits in each next one. The magnitude must be a safe integer
/// ([`MAX_SAFE_INTEGER`]).
fn read_var_int(r: &mut Reader<'_>) -> Result<i64, ValidationError> {
    let first = r.read_u8()?;
    let negative = first & 0x40 != 0;
    let mut magnitude = u64::from(first & 0x3f);
    let mut more = first & 0x80 != 0;
    let mut shift = 6u32;
    while more {
        // 53 bits take at most nine bytes (6 + 8 × 7 = 62 bits); a tenth is always too much.
        if shift > 55 {
            return Err(ValidationError::VarintOverflow);
        }
        let b = r.read_u8()?;
        magnitude |= u64::from(b & 0x7f) << shift;
        more = b & 0x80 != 0;
        shift += 7;
    }
    if magnitude > MAX_SAFE_INTEGER {
        return Err(ValidationError::VarintOverflow);
    }
    // Lossless: the magnitude is below 2^53.
    let value = magnitude as i64;
    Ok(if negative { -value } else { value })
}

/// Checks a JSON value as yrs reads embeds and format attributes (`Any::from_json`): it
/// must deserialize into a `yrs::Any`, which refuses, for example, integers above
/// `i64::MAX`.
fn check_json_any(json: &str, max_depth: usize) -> Result<(), ValidationError> {
    check_json_depth(json, max_depth)?;
    serde_json::from_str::<yrs::Any>(json)
        .map(drop)
        .map_err(|_| ValidationError::InvalidJson)
}

/// Refuses JSON whose arrays and objects nest more than `max_depth` deep, in one pass over
/// its bytes, before handing it to a recursive deserializer. (serde_json stops at 128
/// levels on its own; this applies the configured, smaller limit.)
///
/// Brackets inside strings are skipped; the scan does not otherwise check the syntax.
fn check_json_depth(json: &str, max_depth: usize) -> Result<(), ValidationError> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in json.as_bytes() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max_depth {
                    return Err(ValidationError::TooDeep);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// Reads the delete set into `out`: per client, ranges of deleted clocks.
fn read_delete_set(r: &mut Reader<'_>, out: &mut Vec<DeleteRange>) -> Result<(), ValidationError> {
    let num_clients = r.read_count(MIN_PAIR_BYTES)?;
    let mut clients = HashSet::with_capacity(num_clients);
    for _ in 0..num_clients {
        let client = read_client(r)?;
        // yrs keeps the last list of a repeated client, dropping the others.
        if !clients.insert(client) {
            return Err(ValidationError::DuplicateClient);
        }
        let num_ranges = r.read_count(MIN_PAIR_BYTES)?;
        out.reserve(num_ranges);
        for _ in 0..num_ranges {
            let clock = read_clock(r)?;
            let len = read_len(r)?;
            end_clock(clock, len)?;
            out.push(DeleteRange { client, clock, len });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;

    use yrs::types::text::TextPrelim;
    use yrs::updates::decoder::Decode;
    use yrs::updates::encoder::Encode;
    use yrs::{
        Any, Array, Doc, GetString, Map, ReadTxn, StateVector, Text, Transact, Update, Xml, XmlElementPrelim,
        XmlFragment, XmlTextPrelim, any,
    };

    use super::*;
    use crate::lib0::{write_buf, write_var};
    use crate::schema::{new_doc, new_doc_with_client_id};

    fn limits() -> Limits {
        Limits::default()
    }

    fn parse(bytes: &[u8]) -> Result<UpdateInfo, ValidationError> {
        parse_update_v1(bytes, &limits())
    }

    fn full_update(doc: &Doc) -> Vec<u8> {
        doc.transact().encode_state_as_update_v1(&StateVector::default())
    }

    /// Asserts that the parser and yrs agree that `bytes` is a valid update, and that it
    /// applies to a fresh document.
    fn assert_accepted_by_both(bytes: &[u8]) -> UpdateInfo {
        let info = parse(bytes).unwrap_or_else(|e| panic!("refused a yrs update: {e}"));
        let update = Update::decode_v1(bytes).unwrap();
        new_doc().transact_mut().apply_update(update).unwrap();
        info
    }

    /// One client's blocks followed by an empty delete set.
    fn one_client(client: u64, clock: u32, blocks: &[&[u8]]) -> Vec<u8> {
        let mut out = vec![1];
        write_var(&mut out, blocks.len() as u64);
        write_var(&mut out, client);
        write_var(&mut out, u64::from(clock));
        for block in blocks {
            out.extend_from_slice(block);
        }
        out.push(0);
        out
    }

    /// A string item at the start of root `t`.
    fn string_item(text: &[u8]) -> Vec<u8> {
        let mut out = vec![CONTENT_STRING, 1];
        write_buf(&mut out, b"t");
        write_buf(&mut out, text);
        out
    }

    /// An item at the start of root `t` with the given content type and content bytes.
    fn root_item(content_ref: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![content_ref, 1];
        write_buf(&mut out, b"t");
        out.extend_from_slice(content);
        out
    }

    /// An `Any` item holding one value.
    fn any_item(value: &[u8]) -> Vec<u8> {
        let mut content = vec![1];
        content.extend_from_slice(value);
        root_item(CONTENT_ANY, &content)
    }

    fn nested_arrays(depth: usize) -> Vec<u8> {
        let mut value = Vec::new();
        for _ in 0..depth {
            value.extend_from_slice(&[ANY_ARRAY, 1]);
        }
        value.push(ANY_NULL);
        value
    }

    fn item(block: &Block) -> &ItemHeader {
        match block {
            Block::Item(item) => item,
            other => panic!("expected an item, got {other:?}"),
        }
    }

    // ---- updates made by yrs ----

    #[test]
    fn empty_update_is_two_zeros() {
        assert_eq!(parse(&[0, 0]), Ok(UpdateInfo::default()));
        let doc = new_doc();
        assert_eq!(full_update(&doc), [0, 0]);
    }

    #[test]
    fn rich_text_section_round_trips_with_its_headers() {
        let doc = new_doc_with_client_id(Some(ClientId::new(7)));
        let goals = doc.get_or_insert_xml_fragment("goals");
        let (paragraph, text) = {
            let mut txn = doc.transact_mut();
            let paragraph = goals.insert(&mut txn, 0, XmlElementPrelim::empty("paragraph"));
            let text = paragraph.insert(&mut txn, 0, XmlTextPrelim::new("Hallo 🌍 wereld"));
            (paragraph, text)
        };
        let first = full_update(&doc);
        let info = assert_accepted_by_both(&first);

        assert_eq!(info.blocks.len(), 3);
        assert!(info.deletes.is_empty());
        let p = item(&info.blocks[0]);
        assert_eq!(
            p.id,
            Id {
                client: ClientId::new(7),
                clock: 0
            }
        );
        assert_eq!(p.len, 1);
        assert_eq!(p.parent, Parent::Root("goals".into()));
        assert_eq!(p.origin, None);
        assert_eq!(p.right_origin, None);
        assert_eq!(p.parent_sub, None);
        assert_eq!(p.content, Content::Type(TypeRef::XmlElement("paragraph".into())));
        let t = item(&info.blocks[1]);
        assert_eq!(
            t.id,
            Id {
                client: ClientId::new(7),
                clock: 1
            }
        );
        assert_eq!(t.parent, Parent::Item(p.id));
        assert_eq!(t.content, Content::Type(TypeRef::XmlText));
        let s = item(&info.blocks[2]);
        assert_eq!(
            s.id,
            Id {
                client: ClientId::new(7),
                clock: 2
            }
        );
        assert_eq!(s.parent, Parent::Item(t.id));
        assert_eq!(s.content, Content::String);
        // UTF-16 code units: the globe is a surrogate pair.
        assert_eq!(s.len, "Hallo 🌍 wereld".encode_utf16().count() as u32);
        assert_eq!(s.len, 15);

        // Bold "wereld", then delete the globe and a space; one more paragraph after it.
        let before = doc.transact().state_vector();
        {
            let mut txn = doc.transact_mut();
            let bold: HashMap<Arc<str>, Any> = HashMap::from([("bold".into(), Any::Bool(true))]);
            text.format(&mut txn, 9, 6, bold);
            text.remove_range(&mut txn, 6, 3);
            let second = goals.insert(&mut txn, 1, XmlElementPrelim::empty("paragraph"));
            second.insert_attribute(&mut txn, "level", "2");
            second.insert(&mut txn, 0, XmlTextPrelim::new("x"));
            paragraph.insert(&mut txn, 1, XmlElementPrelim::empty("hard_break"));
        }
        let diff = doc.transact().encode_diff_v1(&before);
        let info = assert_accepted_by_both(&diff);
        let formats: Vec<_> = info
            .blocks
            .iter()
            .filter_map(|b| match b {
                Block::Item(ItemHeader {
                    content: Content::Format { key },
                    origin,
                    ..
                }) => Some((key.as_str(), *origin)),
                _ => None,
            })
            .collect();
        assert_eq!(formats.len(), 2, "{:?}", info.blocks);
        assert!(formats.iter().all(|(k, o)| *k == "bold" && o.is_some()));
        assert_eq!(
            info.deletes,
            [DeleteRange {
                client: ClientId::new(7),
                clock: 8,
                len: 3
            }]
        );
        let second = info
            .blocks
            .iter()
            .map(item)
            .find(|i| i.content == Content::Type(TypeRef::XmlElement("paragraph".into())))
            .unwrap();
        assert_eq!(second.parent, Parent::FromOrigin);
        assert_eq!(second.origin, Some(p.id));
        let level = info
            .blocks
            .iter()
            .map(item)
            .find(|i| i.parent_sub.as_deref() == Some("level"))
            .unwrap();
        assert_eq!(level.parent, Parent::Item(second.id));
        assert_eq!(level.content, Content::Any);

        // And the whole document again, as a sync step 2 would carry it.
        let full = assert_accepted_by_both(&full_update(&doc));
        let ids: Vec<_> = full
            .blocks
            .iter()
            .map(|b| match b {
                Block::Item(i) => (i.id.clock, i.len),
                Block::Gc { id, len } | Block::Skip { id, len } => (id.clock, *len),
            })
            .collect();
        // Clocks are contiguous per client.
        for pair in ids.windows(2) {
            assert_eq!(pair[0].0 + pair[0].1, pair[1].0);
        }
    }

    #[test]
    fn maps_arrays_and_nested_any_values_round_trip() {
        let doc = new_doc_with_client_id(Some(ClientId::new(1 << 52)));
        let meta = doc.get_or_insert_map("meta");
        let list = doc.get_or_insert_array("list");
        {
            let mut txn = doc.transact_mut();
            meta.insert(&mut txn, "title", "Pesten in het derde leerjaar");
            meta.insert(
                &mut txn,
                "nested",
                any!({"a": [1, -2, 3.5, 1e300, null, true, false, "é"], "b": {"c": {"d": []}}}),
            );
            meta.insert(&mut txn, "big", Any::Number(yrs::Number::Int(i64::MIN)));
            meta.insert(&mut txn, "int", Any::from(-123_456_789_i64));
            meta.insert(&mut txn, "bytes", Any::Buffer(Arc::from(&b"\x00\xff"[..])));
            meta.insert(&mut txn, "undefined", Any::Undefined);
            list.push_back(&mut txn, 1);
            list.push_back(&mut txn, "two");
            list.push_back(&mut txn, any!({"three": [3]}));
            let text = list.push_back(&mut txn, TextPrelim::new("nested text"));
            text.insert_embed(&mut txn, 0, any!({"image": "x.png"}));
            meta.insert(&mut txn, "title", "Pesten");
            list.remove(&mut txn, 0);
        }
        let info = assert_accepted_by_both(&full_update(&doc));
        assert!(info.blocks.iter().all(|b| match b {
            Block::Item(i) => i.id.client == ClientId::new(1 << 52),
            _ => false,
        }));
        let keys: Vec<_> = info
            .blocks
            .iter()
            .map(item)
            .filter(|i| i.parent == Parent::Root("meta".into()))
            .filter_map(|i| i.parent_sub.clone())
            .collect();
        for key in ["title", "nested", "big", "int", "bytes", "undefined"] {
            assert!(keys.iter().any(|k| k == key), "{key} missing from {keys:?}");
        }
        assert!(info.blocks.iter().map(item).any(|i| i.content == Content::Embed));
        assert!(!info.deletes.is_empty());
        // The list's first push holds several values in one item.
        let list_items: Vec<_> = info
            .blocks
            .iter()
            .map(item)
            .filter(|i| i.content == Content::Any && i.parent_sub.is_none())
            .collect();
        assert!(list_items.iter().any(|i| i.len >= 2), "{list_items:?}");
    }

    #[test]
    fn updates_from_two_clients_and_merged_updates_round_trip() {
        let a = new_doc_with_client_id(Some(ClientId::new(1)));
        let b = new_doc_with_client_id(Some(ClientId::new(2)));
        let ta = a.get_or_insert_text("t");
        let tb = b.get_or_insert_text("t");
        ta.insert(&mut a.transact_mut(), 0, "abc");
        let ua = full_update(&a);
        b.transact_mut()
            .apply_update(Update::decode_v1(&ua).unwrap())
            .unwrap();
        tb.insert(&mut b.transact_mut(), 1, "XY");
        tb.remove_range(&mut b.transact_mut(), 0, 2);
        let ub = full_update(&b);
        let info = assert_accepted_by_both(&ub);
        assert_eq!(tb.get_string(&b.transact()), "Ybc");
        assert!(info.deletes.iter().any(|d| d.client == ClientId::new(1)));
        assert!(info.deletes.iter().any(|d| d.client == ClientId::new(2)));
        // A diff against a's state holds only b's item.
        let diff = b.transact().encode_diff_v1(&a.transact().state_vector());
        let info = assert_accepted_by_both(&diff);
        assert!(
            info.blocks
                .iter()
                .all(|blk| item(blk).id.client == ClientId::new(2))
        );
        // Merging updates with a gap between them writes a skip.
        let since = |clock| StateVector::from_iter([(yrs::ClientID::new(1), clock)]);
        ta.push(&mut a.transact_mut(), "!");
        let clock_3 = a.transact().encode_diff_v1(&since(3));
        ta.push(&mut a.transact_mut(), "?");
        let clock_4 = a.transact().encode_diff_v1(&since(4));
        let merged = yrs::merge_updates_v1([ub.as_slice(), clock_3.as_slice()]).unwrap();
        assert_accepted_by_both(&merged);
        let gap = yrs::merge_updates_v1([ua.as_slice(), clock_4.as_slice()]).unwrap();
        let info = assert_accepted_by_both(&gap);
        assert!(
            info.blocks.contains(&Block::Skip {
                id: Id {
                    client: ClientId::new(1),
                    clock: 3
                },
                len: 1
            }),
            "{:?}",
            info.blocks
        );
    }

    // ---- hand-crafted updates, one per error ----

    #[test]
    fn hand_crafted_minimal_items_parse() {
        let bytes = one_client(5, 10, &[&string_item(b"hi"), &[BLOCK_GC, 3], &[BLOCK_SKIP, 2]]);
        let info = assert_accepted_by_both(&bytes);
        assert_eq!(
            info.blocks,
            [
                Block::Item(ItemHeader {
                    id: Id {
                        client: ClientId::new(5),
                        clock: 10
                    },
                    len: 2,
                    origin: None,
                    right_origin: None,
                    parent: Parent::Root("t".into()),
                    parent_sub: None,
                    content: Content::String,
                }),
                Block::Gc {
                    id: Id {
                        client: ClientId::new(5),
                        clock: 12
                    },
                    len: 3
                },
                Block::Skip {
                    id: Id {
                        client: ClientId::new(5),
                        clock: 15
                    },
                    len: 2
                },
            ]
        );
    }

    #[test]
    fn parent_sub_bit_is_ignored_when_an_origin_is_present() {
        // As Yjs writes a map entry that replaced another: origin plus the parent-sub bit.
        let first = {
            let mut b = vec![CONTENT_ANY | HAS_PARENT_SUB, 1];
            write_buf(&mut b, b"m");
            write_buf(&mut b, b"k");
            b.extend_from_slice(&[1, ANY_NULL]);
            b
        };
        let second = [CONTENT_ANY | HAS_PARENT_SUB | HAS_ORIGIN, 5, 0, 1, ANY_TRUE];
        let info = assert_accepted_by_both(&one_client(5, 0, &[&first, &second]));
        let second = item(&info.blocks[1]);
        assert_eq!(second.parent, Parent::FromOrigin);
        assert_eq!(second.parent_sub, None);
        assert_eq!(
            second.origin,
            Some(Id {
                client: ClientId::new(5),
                clock: 0
            })
        );
        assert_eq!(item(&info.blocks[0]).parent_sub.as_deref(), Some("k"));
    }

    #[test]
    fn truncated_input_is_refused_at_every_length() {
        let doc = new_doc();
        doc.get_or_insert_text("t")
            .insert(&mut doc.transact_mut(), 0, "hello");
        let bytes = full_update(&doc);
        for end in 0..bytes.len() {
            let err = parse(&bytes[..end]).unwrap_err();
            assert!(
                matches!(
                    err,
                    ValidationError::Truncated | ValidationError::LengthOutOfBounds
                ),
                "{end}: {err:?}"
            );
        }
        assert_eq!(parse(&[]), Err(ValidationError::Truncated));
        assert_eq!(parse(&[0]), Err(ValidationError::Truncated));
    }

    #[test]
    fn varint_overflow_is_refused() {
        // An 11-byte varint as the client count.
        let mut bytes = vec![0xff; 10];
        bytes.extend_from_slice(&[0x01, 0]);
        assert_eq!(parse(&bytes), Err(ValidationError::VarintOverflow));
        // A clock above u32::MAX.
        let mut bytes = vec![1, 1, 5];
        write_var(&mut bytes, 1 << 32);
        bytes.extend_from_slice(&[BLOCK_GC, 1, 0]);
        assert_eq!(parse(&bytes), Err(ValidationError::VarintOverflow));
        // A parent info other than 0 or 1.
        let mut block = vec![CONTENT_STRING, 2];
        write_buf(&mut block, b"t");
        assert_eq!(
            parse(&one_client(5, 0, &[&block])),
            Err(ValidationError::VarintOverflow)
        );
        // An `Any` integer beyond 2^53, and one of ten bytes.
        let mut int = vec![ANY_VAR_INT, 0xbf];
        int.extend_from_slice(&[0xff; 7]);
        int.push(0x7f);
        assert_eq!(
            parse(&one_client(5, 0, &[&any_item(&int)])),
            Err(ValidationError::VarintOverflow)
        );
        let mut ten = vec![ANY_VAR_INT, 0x80];
        ten.extend_from_slice(&[0x80; 8]);
        ten.push(0);
        assert_eq!(
            parse(&one_client(5, 0, &[&any_item(&ten)])),
            Err(ValidationError::VarintOverflow)
        );
    }

    #[test]
    fn any_integers_up_to_a_safe_integer_are_accepted() {
        for value in [
            0,
            1,
            -1,
            63,
            64,
            -64,
            i64::from(i32::MAX),
            -(1 << 53) + 1,
            (1 << 53) - 1,
        ] {
            let mut encoded = Vec::new();
            Any::from(value).encode(&mut encoded);
            // yrs writes large integers as floats; write lib0's varint by hand.
            let mut int = vec![ANY_VAR_INT];
            let magnitude = value.unsigned_abs();
            let sign = if value < 0 { 0x40 } else { 0 };
            let more = if magnitude > 0x3f { 0x80 } else { 0 };
            int.push(more | sign | (magnitude & 0x3f) as u8);
            let mut rest = magnitude >> 6;
            while rest > 0 {
                let more = if rest > 0x7f { 0x80 } else { 0 };
                int.push(more | (rest & 0x7f) as u8);
                rest >>= 7;
            }
            let mut r = Reader::new(&int[1..]);
            assert_eq!(read_var_int(&mut r), Ok(value));
            assert!(r.is_empty());
            assert_accepted_by_both(&one_client(5, 0, &[&any_item(&int)]));
            assert_accepted_by_both(&one_client(5, 0, &[&any_item(&encoded)]));
        }
    }

    #[test]
    fn huge_counts_with_few_bytes_are_refused() {
        // 2^32 - 1 clients in six bytes.
        assert_eq!(
            parse(&[0xff, 0xff, 0xff, 0xff, 0x0f, 0]),
            Err(ValidationError::LengthOutOfBounds)
        );
        // A million blocks.
        let mut bytes = vec![1];
        write_var(&mut bytes, 1_000_000);
        bytes.extend_from_slice(&[5, 0, BLOCK_GC, 1, 0]);
        assert_eq!(parse(&bytes), Err(ValidationError::LengthOutOfBounds));
        // A string claiming more bytes than remain.
        let mut block = vec![CONTENT_STRING, 1];
        write_buf(&mut block, b"t");
        write_var(&mut block, 1 << 30);
        assert_eq!(
            parse(&one_client(5, 0, &[&block])),
            Err(ValidationError::LengthOutOfBounds)
        );
        // An `Any` array and object, and a delete set, each claiming 2^40 elements.
        for tag in [ANY_ARRAY, ANY_OBJECT] {
            let mut value = vec![tag];
            write_var(&mut value, 1 << 40);
            assert_eq!(
                parse(&one_client(5, 0, &[&any_item(&value)])),
                Err(ValidationError::LengthOutOfBounds)
            );
        }
        let mut bytes = vec![0];
        write_var(&mut bytes, 1 << 40);
        assert_eq!(parse(&bytes), Err(ValidationError::LengthOutOfBounds));
    }

    #[test]
    fn oversized_input_is_refused_before_parsing() {
        let limits = Limits {
            max_update_bytes: 4,
            ..Limits::default()
        };
        assert_eq!(
            parse_update_v1(&[0; 5], &limits),
            Err(ValidationError::TooLarge { size: 5, limit: 4 })
        );
        assert_eq!(parse_update_v1(&[0, 0], &limits), Ok(UpdateInfo::default()));
    }

    #[test]
    fn deep_nesting_is_refused() {
        let max = limits().max_depth;
        assert_accepted_by_both(&one_client(5, 0, &[&any_item(&nested_arrays(max))]));
        assert_eq!(
            parse(&one_client(5, 0, &[&any_item(&nested_arrays(max + 1))])),
            Err(ValidationError::TooDeep)
        );
        // Deep enough to overflow yrs' recursive decoder, in a few kilobytes.
        assert_eq!(
            parse(&one_client(5, 0, &[&any_item(&nested_arrays(100_000))])),
            Err(ValidationError::TooDeep)
        );
        // Objects count as well: {"k": {"k": ... null}}.
        let mut value = Vec::new();
        for _ in 0..=max {
            value.extend_from_slice(&[ANY_OBJECT, 1, 1, b'k']);
        }
        value.push(ANY_NULL);
        assert_eq!(
            parse(&one_client(5, 0, &[&any_item(&value)])),
            Err(ValidationError::TooDeep)
        );
        // And JSON, in embeds and format attributes.
        let deep = format!("{}{}", "[".repeat(max + 1), "]".repeat(max + 1));
        let mut content = Vec::new();
        write_buf(&mut content, deep.as_bytes());
        assert_eq!(
            parse(&one_client(5, 0, &[&root_item(CONTENT_EMBED, &content)])),
            Err(ValidationError::TooDeep)
        );
        let mut content = Vec::new();
        write_buf(&mut content, b"bold");
        write_buf(&mut content, deep.as_bytes());
        assert_eq!(
            parse(&one_client(5, 0, &[&root_item(CONTENT_FORMAT, &content)])),
            Err(ValidationError::TooDeep)
        );
        // Brackets inside JSON strings do not count.
        let quoted = format!("\"{}\\\"{}\"", "[".repeat(100), "{".repeat(100));
        let mut content = Vec::new();
        write_buf(&mut content, quoted.as_bytes());
        assert_accepted_by_both(&one_client(5, 0, &[&root_item(CONTENT_EMBED, &content)]));
    }

    #[test]
    fn string_items_must_be_utf8() {
        // The yrs 0.27 crash: a string item whose bytes are not UTF-8.
        let doc = new_doc();
        doc.get_or_insert_text("t")
            .insert(&mut doc.transact_mut(), 0, "hello world");
        let mut bytes = full_update(&doc);
        let at = bytes.windows(5).position(|w| w == b"hello").unwrap();
        bytes[at] = 0xff;
        assert_eq!(parse(&bytes), Err(ValidationError::InvalidUtf8));
        // Lone surrogates encoded as UTF-8 (CESU) are not UTF-8 either.
        let cesu = one_client(5, 0, &[&string_item(&[0xed, 0xa0, 0x80])]);
        assert_eq!(parse(&cesu), Err(ValidationError::InvalidUtf8));
        // Nor in root names, keys, or `Any` strings.
        let mut block = vec![CONTENT_STRING, 1];
        write_buf(&mut block, &[0xc3, 0x28]);
        write_buf(&mut block, b"x");
        assert_eq!(
            parse(&one_client(5, 0, &[&block])),
            Err(ValidationError::InvalidUtf8)
        );
        assert_eq!(
            parse(&one_client(
                5,
                0,
                &[&any_item(&[ANY_OBJECT, 1, 1, 0x80, ANY_NULL])]
            )),
            Err(ValidationError::InvalidUtf8)
        );
    }

    #[test]
    fn embeds_and_formats_must_be_json_yrs_can_read() {
        for bad in [
            &b"{"[..],
            b"undefined",
            b"",
            b"18446744073709551615",
            b"\"\\ud800\"",
        ] {
            let mut content = Vec::new();
            write_buf(&mut content, bad);
            assert_eq!(
                parse(&one_client(5, 0, &[&root_item(CONTENT_EMBED, &content)])),
                Err(ValidationError::InvalidJson),
                "{bad:?}"
            );
        }
        let mut content = Vec::new();
        write_buf(&mut content, b"bold");
        write_buf(&mut content, b"tru");
        assert_eq!(
            parse(&one_client(5, 0, &[&root_item(CONTENT_FORMAT, &content)])),
            Err(ValidationError::InvalidJson)
        );
        let mut content = Vec::new();
        write_buf(&mut content, b"bold");
        write_buf(&mut content, b" null ");
        let info = assert_accepted_by_both(&one_client(5, 0, &[&root_item(CONTENT_FORMAT, &content)]));
        assert_eq!(
            item(&info.blocks[0]).content,
            Content::Format { key: "bold".into() }
        );
    }

    #[test]
    fn client_ids_must_fit_in_53_bits() {
        let too_big = MAX_CLIENT_ID + 1;
        assert_eq!(
            parse(&one_client(too_big, 0, &[&[BLOCK_GC, 1]])),
            Err(ValidationError::ClientIdOutOfRange)
        );
        assert_accepted_by_both(&one_client(MAX_CLIENT_ID, 0, &[&[BLOCK_GC, 1]]));
        // As an origin, a right origin, a parent, and in the delete set.
        for info in [HAS_ORIGIN, HAS_RIGHT_ORIGIN] {
            let mut block = vec![info | CONTENT_ANY];
            write_var(&mut block, too_big);
            block.extend_from_slice(&[0, 1, ANY_NULL]);
            assert_eq!(
                parse(&one_client(5, 0, &[&block])),
                Err(ValidationError::ClientIdOutOfRange)
            );
        }
        let mut block = vec![CONTENT_ANY, 0];
        write_var(&mut block, u64::MAX);
        block.extend_from_slice(&[0, 1, ANY_NULL]);
        assert_eq!(
            parse(&one_client(5, 0, &[&block])),
            Err(ValidationError::ClientIdOutOfRange)
        );
        let mut bytes = vec![0, 1];
        write_var(&mut bytes, too_big);
        bytes.extend_from_slice(&[1, 0, 1]);
        assert_eq!(parse(&bytes), Err(ValidationError::ClientIdOutOfRange));
    }

    #[test]
    fn clocks_must_stay_in_the_range_yrs_handles() {
        // A block ending exactly at MAX_CLOCK is fine; one more clock is not.
        assert_accepted_by_both(&one_client(5, MAX_CLOCK - 2, &[&string_item(b"ab")]));
        assert_eq!(
            parse(&one_client(5, MAX_CLOCK - 2, &[&string_item(b"abc")])),
            Err(ValidationError::ClockOverflow)
        );
        assert_eq!(
            parse(&one_client(5, MAX_CLOCK + 1, &[])),
            Err(ValidationError::ClockOverflow)
        );
        // Through the sum of two blocks, and through one long one.
        let mut gc = vec![BLOCK_GC];
        write_var(&mut gc, u64::from(MAX_CLOCK));
        assert_eq!(
            parse(&one_client(5, 0, &[&gc, &[BLOCK_GC, 1]])),
            Err(ValidationError::ClockOverflow)
        );
        let mut deleted = vec![CONTENT_DELETED, 1];
        write_buf(&mut deleted, b"t");
        write_var(&mut deleted, u64::from(u32::MAX));
        assert_eq!(
            parse(&one_client(5, 1, &[&deleted])),
            Err(ValidationError::ClockOverflow)
        );
        // In an origin.
        let mut block = vec![HAS_ORIGIN | CONTENT_ANY, 5];
        write_var(&mut block, 1 << 31);
        block.extend_from_slice(&[1, ANY_NULL]);
        assert_eq!(
            parse(&one_client(6, 0, &[&block])),
            Err(ValidationError::ClockOverflow)
        );
        // In the delete set.
        let mut bytes = vec![0, 1, 5, 1];
        write_var(&mut bytes, u64::from(MAX_CLOCK));
        bytes.push(1);
        assert_eq!(parse(&bytes), Err(ValidationError::ClockOverflow));
    }

    /// Found by the property tests: yrs 0.28 integrates a block whose clock is 2^31 or more
    /// ahead of the local state as if it were contiguous (it computes the gap in `i32`),
    /// then panics on the next block from that client.
    #[test]
    fn clocks_beyond_i32_would_corrupt_yrs() {
        let doc = new_doc_with_client_id(Some(ClientId::new(1)));
        let goals = doc.get_or_insert_xml_fragment("goals");
        goals.insert(&mut doc.transact_mut(), 0, XmlElementPrelim::empty("p"));
        let far = |clock: u32| {
            let mut block = vec![CONTENT_DELETED, 1];
            write_buf(&mut block, b"goals");
            block.push(1);
            one_client(1, clock, &[&block])
        };
        assert_eq!(parse(&far(u32::MAX - 64)), Err(ValidationError::ClockOverflow));
        let bytes = far(MAX_CLOCK - 64);
        parse(&bytes).unwrap();
        let update = Update::decode_v1(&bytes).unwrap();
        doc.transact_mut().apply_update(update).unwrap();
        goals.insert(&mut doc.transact_mut(), 0, XmlElementPrelim::empty("p"));
        assert_eq!(goals.len(&doc.transact()), 2);
    }

    #[test]
    fn empty_blocks_are_refused() {
        for block in [
            vec![BLOCK_GC, 0],
            vec![BLOCK_SKIP, 0],
            root_item(CONTENT_DELETED, &[0]),
            string_item(b""),
            root_item(CONTENT_ANY, &[0]),
        ] {
            assert_eq!(
                parse(&one_client(5, 0, &[&block])),
                Err(ValidationError::EmptyBlock),
                "{block:?}"
            );
        }
        assert_eq!(parse(&[0, 1, 5, 1, 0, 0]), Err(ValidationError::EmptyBlock));
    }

    #[test]
    fn duplicate_clients_are_refused() {
        let mut bytes = vec![2];
        bytes.extend_from_slice(&[1, 5, 0, BLOCK_GC, 1]);
        bytes.extend_from_slice(&[1, 5, 1, BLOCK_GC, 1]);
        bytes.push(0);
        assert_eq!(parse(&bytes), Err(ValidationError::DuplicateClient));
        assert_eq!(
            parse(&[0, 2, 5, 1, 0, 1, 5, 1, 3, 1]),
            Err(ValidationError::DuplicateClient)
        );
        assert_accepted_by_both(&[0, 2, 5, 1, 0, 1, 6, 1, 3, 1]);
    }

    #[test]
    fn content_types_outside_the_schema_are_refused() {
        assert_eq!(
            parse(&one_client(5, 0, &[&root_item(12, &[0])])),
            Err(ValidationError::UnknownContent(12))
        );
        assert_eq!(
            parse(&one_client(5, 0, &[&root_item(31, &[0])])),
            Err(ValidationError::UnknownContent(31))
        );
        // Content 20 = 0x14: yrs would read it as a string (4), Yjs refuses it.
        assert_eq!(
            parse(&one_client(5, 0, &[&root_item(0x14, &[1, b'a'])])),
            Err(ValidationError::UnknownContent(20))
        );
        // GC and skip with flag bits: yrs reads an item, Yjs a GC.
        assert_eq!(
            parse(&one_client(5, 0, &[&[HAS_ORIGIN | BLOCK_GC, 5, 0, 1]])),
            Err(ValidationError::UnknownContent(0))
        );
        assert_eq!(
            parse(&one_client(
                5,
                0,
                &[&root_item(BLOCK_SKIP | HAS_PARENT_SUB, &[1, b'k', 1])]
            )),
            Err(ValidationError::UnknownContent(10))
        );
        // Sub-documents, legacy JSON and moves.
        let mut doc_options = Vec::new();
        write_buf(&mut doc_options, b"guid");
        doc_options.push(ANY_NULL);
        assert_eq!(
            parse(&one_client(5, 0, &[&root_item(CONTENT_DOC, &doc_options)])),
            Err(ValidationError::UnsupportedContent(9))
        );
        assert_eq!(
            parse(&one_client(
                5,
                0,
                &[&root_item(CONTENT_JSON, &[1, 4, b'n', b'u', b'l', b'l'])]
            )),
            Err(ValidationError::UnsupportedContent(2))
        );
        assert_eq!(
            parse(&one_client(5, 0, &[&root_item(CONTENT_MOVE, &[0])])),
            Err(ValidationError::UnsupportedContent(11))
        );
    }

    #[test]
    fn type_refs_outside_the_schema_are_refused() {
        for (type_ref, content) in [
            (5u8, &b"\x05\x04hook"[..]),
            (7, &b"\x07\x00"[..]),
            (9, &b"\x09"[..]),
            (15, &b"\x0f"[..]),
            (200, &b"\xc8\x01"[..]),
        ] {
            assert_eq!(
                parse(&one_client(5, 0, &[&root_item(CONTENT_TYPE, content)])),
                Err(ValidationError::UnknownTypeRef(type_ref))
            );
        }
        for (content, expected) in [
            (&b"\x00"[..], TypeRef::Array),
            (b"\x01", TypeRef::Map),
            (b"\x02", TypeRef::Text),
            (b"\x03\x01p", TypeRef::XmlElement("p".into())),
            (b"\x04", TypeRef::XmlFragment),
            (b"\x06", TypeRef::XmlText),
        ] {
            let info = assert_accepted_by_both(&one_client(5, 0, &[&root_item(CONTENT_TYPE, content)]));
            assert_eq!(item(&info.blocks[0]).content, Content::Type(expected));
        }
    }

    #[test]
    fn unknown_any_tags_are_refused() {
        for tag in [0, 115, 128, 255] {
            assert_eq!(
                parse(&one_client(5, 0, &[&any_item(&[tag])])),
                Err(ValidationError::UnknownAnyTag(tag))
            );
        }
        // Every known tag, once.
        let mut values = vec![ANY_UNDEFINED, ANY_NULL, ANY_FALSE, ANY_TRUE, ANY_VAR_INT, 0x41];
        values.extend_from_slice(&[ANY_F32, 0, 0, 0, 0, ANY_F64, 0, 0, 0, 0, 0, 0, 0, 0]);
        values.extend_from_slice(&[ANY_BIGINT, 0x80, 0, 0, 0, 0, 0, 0, 0]);
        values.extend_from_slice(&[ANY_STRING, 1, b'x', ANY_BUFFER, 2, 0, 0xff]);
        values.extend_from_slice(&[ANY_OBJECT, 1, 1, b'k', ANY_ARRAY, 0, ANY_OBJECT, 0]);
        let mut content = vec![12];
        content.extend_from_slice(&values);
        let info = assert_accepted_by_both(&one_client(5, 0, &[&root_item(CONTENT_ANY, &content)]));
        assert_eq!(item(&info.blocks[0]).len, 12);
    }

    #[test]
    fn trailing_bytes_are_refused() {
        assert_eq!(parse(&[0, 0, 0]), Err(ValidationError::TrailingBytes));
        let mut bytes = one_client(5, 0, &[&string_item(b"hi")]);
        bytes.push(0);
        assert_eq!(parse(&bytes), Err(ValidationError::TrailingBytes));
    }

    // ---- state vectors ----

    #[test]
    fn state_vectors_round_trip() {
        let a = new_doc_with_client_id(Some(ClientId::new(3)));
        let b = new_doc_with_client_id(Some(ClientId::new(MAX_CLIENT_ID)));
        a.get_or_insert_text("t").insert(&mut a.transact_mut(), 0, "abc");
        b.get_or_insert_text("t").insert(&mut b.transact_mut(), 0, "de");
        b.transact_mut()
            .apply_update(Update::decode_v1(&full_update(&a)).unwrap())
            .unwrap();
        let sv = b.transact().state_vector().encode_v1();
        let mut parsed = parse_state_vector_v1(&sv).unwrap();
        parsed.sort();
        assert_eq!(parsed, [(ClientId::new(3), 3), (ClientId::new(MAX_CLIENT_ID), 2)]);
        assert_eq!(parse_state_vector_v1(&[0]), Ok(vec![]));
        assert_eq!(
            parse_state_vector_v1(&StateVector::default().encode_v1()),
            Ok(vec![])
        );
    }

    #[test]
    fn bad_state_vectors_are_refused() {
        use ValidationError::*;
        assert_eq!(parse_state_vector_v1(&[]), Err(Truncated));
        assert_eq!(parse_state_vector_v1(&[1, 5]), Err(LengthOutOfBounds));
        assert_eq!(parse_state_vector_v1(&[1, 5, 0x80]), Err(Truncated));
        assert_eq!(parse_state_vector_v1(&[2, 5, 1, 5, 2]), Err(DuplicateClient));
        assert_eq!(parse_state_vector_v1(&[1, 5, 1, 0]), Err(TrailingBytes));
        assert_eq!(
            parse_state_vector_v1(&[0xff, 0xff, 0xff, 0xff, 0x0f]),
            Err(LengthOutOfBounds)
        );
        let mut bytes = vec![1];
        write_var(&mut bytes, MAX_CLIENT_ID + 1);
        bytes.push(0);
        assert_eq!(parse_state_vector_v1(&bytes), Err(ClientIdOutOfRange));
        let mut bytes = vec![1, 5];
        write_var(&mut bytes, 1 << 32);
        assert_eq!(parse_state_vector_v1(&bytes), Err(VarintOverflow));
    }

    // ---- awareness ----

    fn awareness(entries: &[(u64, u32, &str)]) -> Vec<u8> {
        let mut out = Vec::new();
        write_var(&mut out, entries.len() as u64);
        for (client, clock, json) in entries {
            write_var(&mut out, *client);
            write_var(&mut out, u64::from(*clock));
            write_buf(&mut out, json.as_bytes());
        }
        out
    }

    #[test]
    fn awareness_updates_round_trip() {
        let doc = new_doc_with_client_id(Some(ClientId::new(42)));
        let mut aw = yrs::sync::Awareness::new(doc);
        aw.set_local_state(serde_json::json!({"user": {"name": "Els", "color": "#30bced"}, "cursor": null}))
            .unwrap();
        let bytes = aw.update().unwrap().encode_v1();
        let entries = parse_awareness_v1(&bytes, &limits()).unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].client, ClientId::new(42));
        let state: serde_json::Value = serde_json::from_str(&entries[0].json).unwrap();
        assert_eq!(state["user"]["name"], "Els");
        // Removal: the state becomes `null`, with a higher clock.
        aw.clean_local_state();
        let bytes = aw
            .update_with_clients([yrs::ClientID::new(42)])
            .unwrap()
            .encode_v1();
        let entries = parse_awareness_v1(&bytes, &limits()).unwrap();
        assert_eq!(entries[0].json, "null");
        assert!(entries[0].clock > 0);
        // And yrs applies what was accepted.
        let other = yrs::sync::Awareness::new(new_doc());
        let mut other = other;
        other
            .apply_update(yrs::sync::AwarenessUpdate::decode_v1(&bytes).unwrap())
            .unwrap();
        assert_eq!(parse_awareness_v1(&[0], &limits()), Ok(vec![]));
    }

    #[test]
    fn bad_awareness_updates_are_refused() {
        use ValidationError::*;
        let l = limits();
        assert_eq!(
            parse_awareness_v1(&awareness(&[(1, 1, "{"), (2, 1, "null")]), &l),
            Err(InvalidJson)
        );
        assert_eq!(
            parse_awareness_v1(&awareness(&[(1, 1, "")]), &l),
            Err(InvalidJson)
        );
        assert_eq!(
            parse_awareness_v1(&awareness(&[(1, 1, "null"), (1, 2, "{}")]), &l),
            Err(DuplicateClient)
        );
        assert_eq!(
            parse_awareness_v1(&awareness(&[(MAX_CLIENT_ID + 1, 1, "{}")]), &l),
            Err(ClientIdOutOfRange)
        );
        assert_eq!(
            parse_awareness_v1(&awareness(&[(1, u32::MAX, "null")]), &l),
            Err(ClockOverflow)
        );
        let deep = format!("{}{}", "[".repeat(l.max_depth + 1), "]".repeat(l.max_depth + 1));
        assert_eq!(parse_awareness_v1(&awareness(&[(1, 1, &deep)]), &l), Err(TooDeep));
        let mut bytes = awareness(&[(1, 1, "{}")]);
        bytes.push(0);
        assert_eq!(parse_awareness_v1(&bytes, &l), Err(TrailingBytes));
        assert_eq!(parse_awareness_v1(&[1, 0x80, 0x80, 0x80], &l), Err(Truncated));
        assert_eq!(parse_awareness_v1(&[1, 1, 1, 5], &l), Err(LengthOutOfBounds));
        assert_eq!(
            parse_awareness_v1(&[1, 1, 1, 2, 0xc3, 0x28], &l),
            Err(InvalidUtf8)
        );
        assert_eq!(parse_awareness_v1(&[0xff, 0x7f], &l), Err(LengthOutOfBounds));
        let big = vec![0; l.max_awareness_bytes + 1];
        assert_eq!(
            parse_awareness_v1(&big, &l),
            Err(TooLarge {
                size: l.max_awareness_bytes + 1,
                limit: l.max_awareness_bytes
            })
        );
    }
}

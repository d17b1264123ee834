//! A bounds-checked reader and a writer for lib0's binary encoding, the encoding Yjs and
//! y-protocols use on the wire.
//!
//! Every read checks the bytes that remain; nothing here panics or allocates on a client's
//! word.

use crate::error::ValidationError;

/// Reads lib0-encoded values from a byte slice.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// How many bytes are left.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Whether every byte was read.
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// Fails unless every byte was read.
    pub fn finish(&self) -> Result<(), ValidationError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(ValidationError::TrailingBytes)
        }
    }

    /// Reads one byte.
    pub fn read_u8(&mut self) -> Result<u8, ValidationError> {
        let b = *self.buf.get(self.pos).ok_or(ValidationError::Truncated)?;
        self.pos += 1;
        Ok(b)
    }

    /// Reads `n` raw bytes.
    pub fn read_exact(&mut self, n: usize) -> Result<&'a [u8], ValidationError> {
        if n > self.remaining() {
            return Err(ValidationError::Truncated);
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    /// Reads an unsigned varint that must fit in 64 bits.
    pub fn read_var_u64(&mut self) -> Result<u64, ValidationError> {
        let mut value: u64 = 0;
        let mut shift = 0u32;
        loop {
            let b = self.read_u8()?;
            let bits = u64::from(b & 0x7f);
            if shift == 63 && bits > 1 || shift > 63 {
                return Err(ValidationError::VarintOverflow);
            }
            value |= bits << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
            shift += 7;
        }
    }

    /// Reads an unsigned varint that must fit in 32 bits.
    pub fn read_var_u32(&mut self) -> Result<u32, ValidationError> {
        u32::try_from(self.read_var_u64()?).map_err(|_| ValidationError::VarintOverflow)
    }

    /// Reads a count or length that must not exceed the bytes that remain, given that each
    /// counted element takes at least `min_bytes_each` bytes.
    pub fn read_count(&mut self, min_bytes_each: usize) -> Result<usize, ValidationError> {
        let n = self.read_var_u64()?;
        let n = usize::try_from(n).map_err(|_| ValidationError::LengthOutOfBounds)?;
        if n.saturating_mul(min_bytes_each.max(1)) > self.remaining() {
            return Err(ValidationError::LengthOutOfBounds);
        }
        Ok(n)
    }

    /// Reads a length-prefixed byte buffer.
    pub fn read_buf(&mut self) -> Result<&'a [u8], ValidationError> {
        let n = self.read_count(1)?;
        self.read_exact(n)
    }

    /// Reads a length-prefixed UTF-8 string.
    pub fn read_str(&mut self) -> Result<&'a str, ValidationError> {
        let bytes = self.read_buf()?;
        std::str::from_utf8(bytes).map_err(|_| ValidationError::InvalidUtf8)
    }
}

/// Appends an unsigned varint.
pub fn write_var(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Appends a length-prefixed byte buffer.
pub fn write_buf(out: &mut Vec<u8>, bytes: &[u8]) {
    write_var(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip() {
        for v in [0, 1, 127, 128, 300, u32::MAX as u64, u64::MAX] {
            let mut out = Vec::new();
            write_var(&mut out, v);
            let mut r = Reader::new(&out);
            assert_eq!(r.read_var_u64(), Ok(v));
            assert!(r.is_empty());
        }
    }

    #[test]
    fn overlong_varints_are_refused() {
        let eleven = [0xff; 10].iter().copied().chain([0x01]).collect::<Vec<_>>();
        assert_eq!(
            Reader::new(&eleven).read_var_u64(),
            Err(ValidationError::VarintOverflow)
        );
        let mut big = Vec::new();
        write_var(&mut big, u64::from(u32::MAX) + 1);
        assert_eq!(
            Reader::new(&big).read_var_u32(),
            Err(ValidationError::VarintOverflow)
        );
    }

    #[test]
    fn lengths_are_bounded_by_the_input() {
        let mut out = Vec::new();
        write_var(&mut out, 1_000_000);
        out.extend_from_slice(b"abc");
        assert_eq!(
            Reader::new(&out).read_buf(),
            Err(ValidationError::LengthOutOfBounds)
        );
        assert_eq!(
            Reader::new(&[0x80])
                .read_u8()
                .and(Reader::new(&[0x80]).read_var_u64()),
            Err(ValidationError::Truncated)
        );
    }

    #[test]
    fn strings_must_be_utf8() {
        assert_eq!(
            Reader::new(&[2, 0xc3, 0x28]).read_str(),
            Err(ValidationError::InvalidUtf8)
        );
        assert_eq!(Reader::new(&[2, b'h', b'i']).read_str(), Ok("hi"));
    }
}

//! BER-TLV as used by ISO/IEC 7816-4 and ICAO 9303 LDS files, and the DER subset used by CMS and
//! X.509. This module owns turning untrusted bytes into tag/length/value triples and back; it
//! never allocates more than the input holds and never panics on any input.

use std::fmt;

/// A tag, kept in its encoded form (one to four bytes): `0x5F1F`, `0x7F61`, `0x30`.
pub type Tag = u32;

/// Why a TLV could not be decoded. Offsets are from the start of the buffer handed to the decoder.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlvError {
    #[error("truncated tag at offset {offset}")]
    TruncatedTag { offset: usize },
    #[error("tag longer than 4 bytes at offset {offset}")]
    TagTooLong { offset: usize },
    #[error("truncated length at offset {offset}")]
    TruncatedLength { offset: usize },
    #[error("indefinite length (0x80) not allowed at offset {offset}")]
    IndefiniteLength { offset: usize },
    #[error("length field of {bytes} bytes at offset {offset} is too long")]
    LengthTooLong { offset: usize, bytes: usize },
    #[error("value of tag {tag:X} at offset {offset} claims {claimed} bytes but only {available} remain")]
    ValueOverrun { tag: Tag, offset: usize, claimed: usize, available: usize },
    #[error("expected tag {expected:X} at offset {offset}, found {found:X}")]
    UnexpectedTag { expected: Tag, found: Tag, offset: usize },
    #[error("{trailing} trailing bytes after tag {tag:X} at offset {offset}")]
    TrailingBytes { tag: Tag, offset: usize, trailing: usize },
    #[error("mandatory tag {tag:X} missing inside {parent:X}")]
    Missing { tag: Tag, parent: Tag },
}

/// One decoded element borrowing from the input.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    pub tag: Tag,
    /// Offset of the first tag byte in the buffer that was decoded.
    pub offset: usize,
    /// Offset of the first value byte.
    pub value_offset: usize,
    pub value: &'a [u8],
}

impl fmt::Debug for Tlv<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tlv({:X} @{} len {})", self.tag, self.offset, self.value.len())
    }
}

impl<'a> Tlv<'a> {
    /// True when bit 6 of the first tag byte says the value holds further TLVs.
    pub fn is_constructed(&self) -> bool {
        let first = if self.tag > 0xFF_FFFF {
            self.tag >> 24
        } else if self.tag > 0xFFFF {
            self.tag >> 16
        } else if self.tag > 0xFF {
            self.tag >> 8
        } else {
            self.tag
        };
        first & 0x20 != 0
    }

    /// The children of a constructed element.
    pub fn children(&self) -> Reader<'a> {
        Reader { buf: self.value, pos: 0, base: self.value_offset }
    }

    /// The whole encoding (tag, length and value) within `buf`, the buffer this was decoded from.
    pub fn raw<'b>(&self, buf: &'b [u8]) -> &'b [u8] {
        let start = self.offset.min(buf.len());
        let end = (self.value_offset + self.value.len()).min(buf.len());
        &buf[start..end]
    }
}

/// Sequential decoder over a buffer of concatenated TLVs.
#[derive(Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Offset of `buf[0]` in the outermost buffer, so errors carry absolute offsets.
    base: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0, base: 0 }
    }

    pub fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// Absolute offset of the next element.
    pub fn offset(&self) -> usize {
        self.base + self.pos
    }

    /// Decode the next element.
    pub fn next_tlv(&mut self) -> Result<Tlv<'a>, TlvError> {
        let start = self.pos;
        let abs = |p: usize| self.base + p;
        let b = self.buf;
        let first = *b.get(self.pos).ok_or(TlvError::TruncatedTag { offset: abs(self.pos) })?;
        self.pos += 1;
        let mut tag: Tag = first as Tag;
        if first & 0x1F == 0x1F {
            let mut n = 0;
            loop {
                let nb = *b.get(self.pos).ok_or(TlvError::TruncatedTag { offset: abs(start) })?;
                self.pos += 1;
                n += 1;
                if n > 3 {
                    return Err(TlvError::TagTooLong { offset: abs(start) });
                }
                tag = (tag << 8) | nb as Tag;
                if nb & 0x80 == 0 {
                    break;
                }
            }
        }
        let lofs = self.pos;
        let l0 = *b.get(self.pos).ok_or(TlvError::TruncatedLength { offset: abs(lofs) })?;
        self.pos += 1;
        let len: usize = if l0 < 0x80 {
            l0 as usize
        } else if l0 == 0x80 {
            return Err(TlvError::IndefiniteLength { offset: abs(lofs) });
        } else {
            let n = (l0 & 0x7F) as usize;
            if n > 4 {
                return Err(TlvError::LengthTooLong { offset: abs(lofs), bytes: n });
            }
            let bytes = b
                .get(self.pos..self.pos + n)
                .ok_or(TlvError::TruncatedLength { offset: abs(lofs) })?;
            self.pos += n;
            bytes.iter().fold(0usize, |acc, &x| (acc << 8) | x as usize)
        };
        let available = b.len() - self.pos;
        if len > available {
            return Err(TlvError::ValueOverrun { tag, offset: abs(start), claimed: len, available });
        }
        let value_offset = abs(self.pos);
        let value = &b[self.pos..self.pos + len];
        self.pos += len;
        Ok(Tlv { tag, offset: abs(start), value_offset, value })
    }

    /// Decode the next element and require its tag.
    pub fn expect(&mut self, tag: Tag) -> Result<Tlv<'a>, TlvError> {
        let offset = self.offset();
        let t = self.next_tlv()?;
        if t.tag != tag {
            return Err(TlvError::UnexpectedTag { expected: tag, found: t.tag, offset });
        }
        Ok(t)
    }

    /// Decode the next element only if it carries `tag`.
    pub fn optional(&mut self, tag: Tag) -> Result<Option<Tlv<'a>>, TlvError> {
        if self.is_empty() {
            return Ok(None);
        }
        let save = self.pos;
        let t = self.next_tlv()?;
        if t.tag == tag {
            Ok(Some(t))
        } else {
            self.pos = save;
            Ok(None)
        }
    }

    /// All remaining elements.
    pub fn collect_all(mut self) -> Result<Vec<Tlv<'a>>, TlvError> {
        let mut out = Vec::new();
        while !self.is_empty() {
            out.push(self.next_tlv()?);
        }
        Ok(out)
    }
}

/// Decode exactly one element with `tag` spanning the whole buffer.
pub fn parse_single(buf: &[u8], tag: Tag) -> Result<Tlv<'_>, TlvError> {
    let mut r = Reader::new(buf);
    let t = r.expect(tag)?;
    if !r.is_empty() {
        return Err(TlvError::TrailingBytes { tag, offset: t.offset, trailing: buf.len() - r.pos });
    }
    Ok(t)
}

/// Find the first direct child with `tag` of a constructed value.
pub fn find<'a>(value: &Tlv<'a>, tag: Tag) -> Result<Option<Tlv<'a>>, TlvError> {
    let mut r = value.children();
    while !r.is_empty() {
        let t = r.next_tlv()?;
        if t.tag == tag {
            return Ok(Some(t));
        }
    }
    Ok(None)
}

/// Like [`find`], but a missing child is an error naming both tags.
pub fn require<'a>(value: &Tlv<'a>, tag: Tag) -> Result<Tlv<'a>, TlvError> {
    find(value, tag)?.ok_or(TlvError::Missing { tag, parent: value.tag })
}

/// Append the encoding of `tag` (one to four bytes, as written) to `out`.
pub fn encode_tag(out: &mut Vec<u8>, tag: Tag) {
    let bytes = tag.to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count().min(3);
    out.extend_from_slice(&bytes[skip..]);
}

/// Append a definite length in the shortest form.
pub fn encode_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = (len as u32).to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (4 - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

/// Encode one element.
pub fn encode(tag: Tag, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + 8);
    encode_tag(&mut out, tag);
    encode_len(&mut out, value.len());
    out.extend_from_slice(value);
    out
}

/// Encode a constructed element from already-encoded children.
pub fn encode_seq(tag: Tag, children: &[Vec<u8>]) -> Vec<u8> {
    let body: Vec<u8> = children.concat();
    encode(tag, &body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn round_trip_long_forms() {
        for len in [0usize, 1, 127, 128, 255, 256, 65535, 65536] {
            let v = vec![0xAB; len];
            let enc = encode(0x5F2E, &v);
            let t = parse_single(&enc, 0x5F2E).expect("decodes");
            assert_eq!(t.value.len(), len);
            assert_eq!(t.raw(&enc), &enc[..]);
        }
    }

    #[test]
    fn nested_and_errors() {
        let inner = encode(0x5F1F, b"ABC");
        let outer = encode(0x61, &inner);
        let t = parse_single(&outer, 0x61).expect("outer");
        assert!(t.is_constructed());
        let c = require(&t, 0x5F1F).expect("inner");
        assert_eq!(c.value, b"ABC");
        assert_eq!(c.value_offset, 5);
        assert!(matches!(require(&t, 0x5F2E), Err(TlvError::Missing { .. })));
        assert!(matches!(
            parse_single(&[0x61, 0x05, 0x01], 0x61),
            Err(TlvError::ValueOverrun { claimed: 5, available: 1, .. })
        ));
        assert!(matches!(parse_single(&[0x61, 0x80], 0x61), Err(TlvError::IndefiniteLength { .. })));
        assert!(matches!(parse_single(&[0x61, 0x85, 1, 1, 1, 1, 1], 0x61), Err(TlvError::LengthTooLong { .. })));
        assert!(matches!(parse_single(&[0x5F], 0x5F1F), Err(TlvError::TruncatedTag { .. })));
        assert!(matches!(parse_single(&[0x60, 0x00, 0x00], 0x60), Err(TlvError::TrailingBytes { .. })));
    }

    proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut r = Reader::new(&data);
            while !r.is_empty() {
                match r.next_tlv() {
                    Ok(t) => { let _ = t.children().collect_all(); }
                    Err(_) => break,
                }
            }
        }

        #[test]
        fn encode_decode(tag in prop_oneof![Just(0x30u32), Just(0x5F1Fu32), Just(0x7F61u32), Just(0x04u32)],
                         value in proptest::collection::vec(any::<u8>(), 0..1000)) {
            let enc = encode(tag, &value);
            let t = parse_single(&enc, tag).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(t.value, &value[..]);
        }
    }
}

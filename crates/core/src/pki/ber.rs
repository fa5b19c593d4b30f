//! BER to DER normalisation of the CMS layers of EF.SOD: issued SODs are not always DER (ICAO
//! 9303 asks for DER, yet producers write indefinite lengths, constructed OCTET STRINGs and
//! non-minimal lengths). [`to_der`] rewrites those three into DER before the strict parse and
//! leaves everything else byte for byte (it never reorders a SET, never touches the content of a
//! primitive element), so a DER input comes back unchanged and the signed attributes and the
//! encapsulated content keep the bytes the signer produced. This module owns that rewrite; it is
//! bounded ([`MAX_DEPTH`] levels, output at most the input's size plus a few bytes per element,
//! never more than [`MAX_GROWTH`] times the input) and never panics.

use std::fmt;

/// Deepest nesting of constructed elements accepted (EF.SOD needs about 12).
pub const MAX_DEPTH: usize = 64;

/// The output is never larger than this many times the input (plus 16 bytes).
pub const MAX_GROWTH: usize = 3;

/// Why bytes are not BER (or exceed the limits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BerError {
    /// Offset in the input of the element (or byte) at fault.
    pub offset: usize,
    pub what: String,
    /// True when the fault is in a BER-only construct (indefinite length, end-of-contents,
    /// constructed string, nesting) or the input used one before it: the input is BER, so the
    /// caller reports this rather than a strict DER parse's error.
    pub ber_only: bool,
}

impl fmt::Display for BerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "offset {}: {}", self.offset, self.what)
    }
}

impl std::error::Error for BerError {}

fn err(offset: usize, what: impl Into<String>, ber_only: bool) -> BerError {
    BerError { offset, what: what.into(), ber_only }
}

/// Universal string types that BER may encode constructed (segments concatenated).
fn is_string_type(tag_byte: u8) -> bool {
    matches!(tag_byte & 0x1F, 0x03 | 0x04 | 0x0C | 0x12 | 0x13 | 0x14 | 0x15 | 0x16 | 0x19 | 0x1A | 0x1B | 0x1C | 0x1E)
        && tag_byte & 0xC0 == 0
}

/// One element's header.
struct Header {
    /// The identifier octets, as encoded.
    tag: std::ops::Range<usize>,
    constructed: bool,
    /// `None`: indefinite.
    len: Option<usize>,
    /// Offset of the content.
    content: usize,
    /// The length was in its shortest form (DER).
    minimal: bool,
}

fn header(input: &[u8], at: usize) -> Result<Header, BerError> {
    let first = *input.get(at).ok_or_else(|| err(at, "truncated: missing tag", false))?;
    let mut pos = at + 1;
    if first & 0x1F == 0x1F {
        // High tag number: base-128 octets, the last without bit 8; at most 4 of them.
        loop {
            let b = *input.get(pos).ok_or_else(|| err(at, "truncated tag number", false))?;
            pos += 1;
            if b & 0x80 == 0 {
                break;
            }
            if pos - at > 5 {
                return Err(err(at, "tag number longer than 4 octets", false));
            }
        }
    }
    let tag = at..pos;
    let constructed = first & 0x20 != 0;
    let l0 = *input.get(pos).ok_or_else(|| err(at, "truncated: missing length", false))?;
    pos += 1;
    let mut minimal = true;
    let len = match l0 {
        0x00..=0x7F => Some(l0 as usize),
        0x80 if constructed => None,
        0x80 => return Err(err(at, "indefinite length on a primitive element", true)),
        0xFF => return Err(err(at, "reserved length octet 0xff", false)),
        _ => {
            let n = (l0 & 0x7F) as usize;
            let bytes = input.get(pos..pos + n).ok_or_else(|| err(at, "truncated length", false))?;
            pos += n;
            let mut v: usize = 0;
            for &b in bytes {
                if v > (u32::MAX as usize) >> 8 {
                    return Err(err(at, format!("length of {n} octets exceeds 4 gib"), false));
                }
                v = (v << 8) | b as usize;
            }
            minimal = v >= 0x80 && bytes.first().is_some_and(|&b| b != 0);
            Some(v)
        }
    };
    if let Some(n) = len {
        let left = input.len() - pos.min(input.len());
        if n > left {
            return Err(err(at, format!("length {n} exceeds the {left} bytes remaining"), false));
        }
    }
    Ok(Header { tag, constructed, len, content: pos, minimal })
}

fn push_len(out: &mut Vec<u8>, n: usize) {
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes = (n as u64).to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        let tail = bytes.get(skip..).unwrap_or_default();
        out.push(0x80 | tail.len() as u8);
        out.extend_from_slice(tail);
    }
}

struct Normaliser<'a> {
    input: &'a [u8],
    limit: usize,
    /// A BER-only construct has been met.
    saw_ber: std::cell::Cell<bool>,
}

impl Normaliser<'_> {
    /// Normalise the element at `at` into `out`; returns the offset just past it.
    fn element(&self, at: usize, depth: usize, out: &mut Vec<u8>) -> Result<usize, BerError> {
        if depth > MAX_DEPTH {
            return Err(err(at, format!("nesting deeper than {MAX_DEPTH} levels"), true));
        }
        let h = header(self.input, at)?;
        let tag = self.input.get(h.tag.clone()).unwrap_or_default();
        let first = tag.first().copied().unwrap_or(0);
        if h.len.is_none() || !h.minimal || (h.constructed && is_string_type(first)) {
            self.saw_ber.set(true);
        }
        if first == 0 && h.tag.len() == 1 {
            return Err(err(at, "end-of-contents outside an indefinite-length element", true));
        }
        if !h.constructed {
            let n = h.len.unwrap_or(0);
            let content = self.input.get(h.content..h.content + n).unwrap_or_default();
            out.extend_from_slice(tag);
            push_len(out, n);
            out.extend_from_slice(content);
            return self.check(out, h.content + n);
        }
        // Constructed: normalise the children into a buffer, then write the header.
        let mut body = Vec::new();
        let end = self.children(&h, at, depth, &mut body, is_string_type(first))?;
        if is_string_type(first) {
            // A constructed string: one primitive string holding the segments' contents.
            out.push(first & !0x20);
        } else {
            out.extend_from_slice(tag);
        }
        push_len(out, body.len());
        out.extend_from_slice(&body);
        self.check(out, end)
    }

    /// The children of constructed `h`; for a constructed string, their contents concatenated.
    fn children(&self, h: &Header, at: usize, depth: usize, body: &mut Vec<u8>, string: bool) -> Result<usize, BerError> {
        let mut pos = h.content;
        let end = h.len.map(|n| h.content + n);
        let mut bit_string_closed = false;
        loop {
            match end {
                Some(e) if pos == e => return Ok(pos),
                Some(e) if pos > e => return Err(err(at, "a child element runs past the end of its parent", false)),
                Some(_) => {}
                None => {
                    if pos >= self.input.len() {
                        return Err(err(at, "indefinite-length element without end-of-contents (truncated)", true));
                    }
                    if self.input.get(pos..pos + 2) == Some(&[0, 0]) {
                        return Ok(pos + 2);
                    }
                }
            }
            if !string {
                pos = self.element(pos, depth + 1, body)?;
                continue;
            }
            // Segment of a constructed string: itself primitive or constructed, same type.
            let mut seg = Vec::new();
            let next = self.element(pos, depth + 1, &mut seg)?;
            let sh = header(&seg, 0)?;
            let parent = self.input.get(h.tag.start).copied().unwrap_or(0) & !0x20;
            if seg.first().copied() != Some(parent) {
                return Err(err(pos, "segment of a constructed string has another type", true));
            }
            let content = seg.get(sh.content..).unwrap_or_default();
            if parent == 0x03 {
                // BIT STRING segments: an unused-bits octet each; only the last may be non-zero.
                let (&unused, bits) = content.split_first().ok_or_else(|| err(pos, "empty bit string segment", true))?;
                if bit_string_closed {
                    return Err(err(pos, "bit string segment after one with unused bits", true));
                }
                if body.is_empty() {
                    body.push(0);
                }
                body.extend_from_slice(bits);
                if unused != 0 {
                    bit_string_closed = true;
                    if let Some(b) = body.first_mut() {
                        *b = unused;
                    }
                }
            } else {
                body.extend_from_slice(content);
            }
            pos = next;
            if body.len() > self.limit {
                return Err(err(at, "normalised output exceeds its bound", true));
            }
        }
    }

    fn check(&self, out: &[u8], next: usize) -> Result<usize, BerError> {
        if out.len() > self.limit {
            return Err(err(next, "normalised output exceeds its bound", true));
        }
        Ok(next)
    }
}

/// The DER form of one BER element spanning all of `input`: definite minimal lengths,
/// constructed strings joined into primitive ones. Everything else is copied as it is.
pub fn to_der(input: &[u8]) -> Result<Vec<u8>, BerError> {
    let n = Normaliser { input, limit: input.len().saturating_mul(MAX_GROWTH).saturating_add(16), saw_ber: Default::default() };
    let mut out = Vec::with_capacity(input.len());
    let end = n.element(0, 0, &mut out).map_err(|e| BerError { ber_only: e.ber_only || n.saw_ber.get(), ..e })?;
    if end != input.len() {
        return Err(err(end, format!("{} bytes after the element", input.len() - end), false));
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Re-encode DER as BER: constructed elements at depth < `indef_depth` get indefinite lengths,
    /// the others a 4-octet length; OCTET STRINGs longer than `chunk` become constructed strings
    /// of `chunk`-byte segments (the contents themselves untouched).
    pub(crate) fn der_to_ber(der: &[u8], indef_depth: usize, chunk: usize) -> Vec<u8> {
        fn walk(d: &[u8], depth: usize, indef_depth: usize, chunk: usize, out: &mut Vec<u8>) -> usize {
            let h = header(d, 0).expect("der input");
            let n = h.len.expect("definite");
            let tag = &d[h.tag.clone()];
            let content = &d[h.content..h.content + n];
            if h.constructed {
                let mut body = Vec::new();
                let mut pos = 0;
                while pos < content.len() {
                    pos += walk(&content[pos..], depth + 1, indef_depth, chunk, &mut body);
                }
                out.extend_from_slice(tag);
                if depth < indef_depth {
                    out.push(0x80);
                    out.extend_from_slice(&body);
                    out.extend_from_slice(&[0, 0]);
                } else {
                    out.extend_from_slice(&[0x84]);
                    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
                    out.extend_from_slice(&body);
                }
            } else if tag == [0x04] && n > chunk {
                out.extend_from_slice(&[0x24, 0x80]);
                for c in content.chunks(chunk) {
                    out.push(0x04);
                    push_len(out, c.len());
                    out.extend_from_slice(c);
                }
                out.extend_from_slice(&[0, 0]);
            } else {
                out.extend_from_slice(&d[..h.content + n]);
            }
            h.content + n
        }
        let mut out = Vec::new();
        walk(der, 0, indef_depth, chunk, &mut out);
        out
    }

    #[test]
    fn der_is_unchanged_and_ber_comes_back() {
        let sod = crate::pki::testutil::sample_sod();
        assert_eq!(to_der(&sod).expect("der"), sod);
        for (depth, chunk) in [(usize::MAX, 16), (3, 1), (8, 100), (0, 1000)] {
            let ber = der_to_ber(&sod, depth, chunk);
            assert_ne!(ber, sod);
            assert_eq!(to_der(&ber).expect("ber"), sod, "depth {depth} chunk {chunk}");
        }
    }

    /// The sample card's EF.SOD re-encoded as BER still passes passive authentication; hostile
    /// BER is refused naming the fault.
    #[test]
    fn ber_sample_sod_passes_passive_authentication() {
        use crate::pki::testutil::{sample_chip_file, sample_sod, sample_trust_dir};
        use crate::pki::{passive_authentication, PaFailure, Sod, TrustStore};
        let trust = TrustStore::load_dir(&sample_trust_dir()).expect("trust");
        let dgs: Vec<(u8, Vec<u8>)> = [1u8, 2, 3, 11, 12, 13].iter().map(|&n| (n, sample_chip_file(&format!("dg{n}.bin")))).collect();
        let refs: Vec<(u8, &[u8])> = dgs.iter().map(|(n, d)| (*n, d.as_slice())).collect();
        let day = Some(time::macros::date!(2024 - 04 - 08));
        let der = sample_sod();
        let expected = passive_authentication(&der, &refs, &trust, day).expect("der passes");
        for (depth, chunk) in [(usize::MAX, 16), (4, 7), (8, 100)] {
            let ber = der_to_ber(&der, depth, chunk);
            assert!(ber.windows(2).any(|w| w == [0x30, 0x80]), "indefinite lengths present");
            assert!(ber.windows(2).any(|w| w == [0x24, 0x80]), "constructed octet strings present");
            assert_eq!(Sod::parse(&ber).expect("ber parses"), Sod::parse(&der).expect("der parses"));
            assert_eq!(passive_authentication(&ber, &refs, &trust, day).expect("ber passes"), expected);
        }
        // A tampered BER SOD still fails where a tampered DER one would.
        let mut flipped = der.clone();
        let last = flipped.len() - 1; // the last byte of the signature
        flipped[last] ^= 0x01;
        let ber = der_to_ber(&flipped, usize::MAX, 16);
        assert!(matches!(passive_authentication(&ber, &refs, &trust, day), Err(PaFailure::SignatureInvalid { .. })));

        let fail = |b: &[u8]| match passive_authentication(b, &refs, &trust, day) {
            Err(PaFailure::SodUnparsable(e)) => e.to_string(),
            other => panic!("expected SodUnparsable, got {other:?}"),
        };
        let ber = der_to_ber(&der, usize::MAX, 16);
        let e = fail(&ber[..ber.len() - 2]);
        assert!(e.starts_with("ef.sod ber encoding at offset 0: indefinite-length element without end-of-contents"), "{e}");
        let mut deep = vec![0x77, 0x80];
        deep.extend(std::iter::repeat_n([0x30u8, 0x80], 100).flatten());
        let e = fail(&deep);
        assert!(e.contains("nesting deeper than 64 levels"), "{e}");
        let e = fail(&[0x77, 0x80, 0x30, 0x84, 0x7F, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00]);
        assert_eq!(e, "ef.sod ber encoding at offset 2: length 2147483647 exceeds the 3 bytes remaining");
        // Not BER at all: the strict parse names the field.
        let e = fail(&[0x77, 0x03, 0x30, 0x01, 0x00]);
        assert!(e.contains("contentInfo"), "{e}");
    }

    #[test]
    fn constructed_strings_and_lengths() {
        // OCTET STRING in two segments, one of them constructed itself.
        let ber = [0x24, 0x80, 0x04, 0x01, 0xAA, 0x24, 0x03, 0x04, 0x01, 0xBB, 0x00, 0x00];
        assert_eq!(to_der(&ber).expect("ok"), vec![0x04, 0x02, 0xAA, 0xBB]);
        // BIT STRING segments: unused bits of the last.
        let ber = [0x23, 0x80, 0x03, 0x02, 0x00, 0xF0, 0x03, 0x02, 0x04, 0x80, 0x00, 0x00];
        assert_eq!(to_der(&ber).expect("ok"), vec![0x03, 0x03, 0x04, 0xF0, 0x80]);
        // Non-minimal length.
        assert_eq!(to_der(&[0x02, 0x82, 0x00, 0x01, 0x05]).expect("ok"), vec![0x02, 0x01, 0x05]);
        // A long definite length survives.
        let mut long = vec![0x04, 0x82, 0x01, 0x00];
        long.extend([7u8; 256]);
        assert_eq!(to_der(&long).expect("ok"), long);
    }

    #[test]
    fn hostile_inputs_name_the_fault() {
        let deep: Vec<u8> = std::iter::repeat_n([0x30u8, 0x80], 1000).flatten().collect();
        let e = to_der(&deep).expect_err("deep");
        assert!(e.what.contains("nesting deeper than 64") && e.ber_only, "{e}");
        let e = to_der(&[0x30, 0x84, 0xFF, 0xFF, 0xFF, 0xFF, 0x00]).expect_err("huge");
        assert_eq!(e.to_string(), "offset 0: length 4294967295 exceeds the 1 bytes remaining");
        let e = to_der(&[0x30, 0x88, 1, 0, 0, 0, 0, 0, 0, 0]).expect_err("huger");
        assert!(e.what.contains("exceeds 4 gib"), "{e}");
        let e = to_der(&[0x30, 0x80, 0x02, 0x01, 0x00]).expect_err("no eoc");
        assert_eq!(e.to_string(), "offset 0: indefinite-length element without end-of-contents (truncated)");
        let e = to_der(&[0x04, 0x80, 0x00, 0x00]).expect_err("primitive indefinite");
        assert!(e.what.contains("indefinite length on a primitive"), "{e}");
        let e = to_der(&[0x30, 0x03, 0x00, 0x00, 0x00]).expect_err("eoc in definite");
        assert!(e.what.contains("end-of-contents outside"), "{e}");
        let e = to_der(&[0x24, 0x80, 0x02, 0x01, 0x00, 0x00, 0x00]).expect_err("mixed segment");
        assert!(e.what.contains("another type"), "{e}");
        let e = to_der(&[0x02, 0x01, 0x00, 0x00]).expect_err("trailing");
        assert!(e.what.contains("1 bytes after"), "{e}");
        assert!(to_der(&[]).is_err());
        assert!(to_der(&[0x30]).is_err());
        assert!(to_der(&[0x30, 0x81]).is_err());
    }

    proptest! {
        #[test]
        fn never_panics_and_is_bounded(data in proptest::collection::vec(any::<u8>(), 0..600)) {
            if let Ok(d) = to_der(&data) {
                prop_assert!(d.len() <= data.len() * MAX_GROWTH + 16);
                prop_assert_eq!(to_der(&d).expect("idempotent"), d);
            }
        }

        #[test]
        fn never_panics_on_mutated_ber(edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
                                       cut in any::<prop::sample::Index>()) {
            let mut b = der_to_ber(&crate::pki::testutil::sample_sod(), 6, 40);
            for (i, v) in &edits {
                let at = i.index(b.len());
                b[at] = *v;
            }
            let _ = to_der(&b);
            let _ = crate::pki::Sod::parse(&b);
            let end = cut.index(b.len());
            let _ = to_der(&b[..end]);
            prop_assert!(crate::pki::Sod::parse(&b[..end]).is_err());
        }
    }
}

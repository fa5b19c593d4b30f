//! The value types passive authentication shares between its parsers and `alg` ([`Oid`],
//! [`AlgorithmIdentifier`], [`Name`]), their conversions from the RustCrypto `der` / `spki` /
//! `x509-cert` types, and [`Cursor`]: a reader over the children of one DER element that decodes
//! each child with the `der` crate and turns a failure into a [`PkiError`] naming the field and
//! its offset in the root buffer. The decoding itself is the crates'; this module only names
//! fields. The last section keeps the few `tlv`-based readers `alg` uses for algorithm
//! parameters. Nothing here panics on any input.

use std::fmt;

use ::der::asn1::{AnyRef, ObjectIdentifier};
use ::der::{Decode, Encode, Header, Reader as _, SliceReader, Tagged};
use time::OffsetDateTime;

use super::PkiError;
use crate::tlv::{self, Reader, Tag, Tlv};

/// An OBJECT IDENTIFIER in dotted form.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Oid(String);

impl Oid {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Decode the content octets of an OBJECT IDENTIFIER; `None` when they are not valid DER.
    pub fn from_content(bytes: &[u8]) -> Option<Oid> {
        let mut arcs: Vec<u64> = Vec::new();
        let mut acc: u64 = 0;
        let mut in_arc = false;
        for &b in bytes {
            if !in_arc && b == 0x80 {
                return None; // non-minimal encoding
            }
            if acc > (u64::MAX >> 7) {
                return None; // overflow
            }
            acc = (acc << 7) | (b & 0x7F) as u64;
            in_arc = b & 0x80 != 0;
            if !in_arc {
                arcs.push(acc);
                acc = 0;
            }
        }
        if in_arc || arcs.is_empty() {
            return None;
        }
        let first = arcs.first().copied().unwrap_or(0);
        let (a, b) = match first {
            0..=39 => (0, first),
            40..=79 => (1, first - 40),
            _ => (2, first - 80),
        };
        let mut s = format!("{a}.{b}");
        for arc in arcs.iter().skip(1) {
            s.push('.');
            s.push_str(&arc.to_string());
        }
        Some(Oid(s))
    }
}

impl fmt::Display for Oid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Oid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Oid({})", self.0)
    }
}

impl PartialEq<&str> for Oid {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl From<&ObjectIdentifier> for Oid {
    fn from(o: &ObjectIdentifier) -> Oid {
        Oid(o.to_string())
    }
}

impl From<&spki::AlgorithmIdentifierOwned> for AlgorithmIdentifier {
    /// The parameters as their DER encoding (an explicit NULL stays `Some([05 00])`).
    fn from(a: &spki::AlgorithmIdentifierOwned) -> AlgorithmIdentifier {
        let params = a.parameters.as_ref().and_then(|p| p.to_der().ok());
        AlgorithmIdentifier { oid: Oid::from(&a.oid), params }
    }
}

/// A distinguished name as read: the encoding and a readable `C=CN, O=..., CN=...` form.
#[derive(Clone, PartialEq, Eq)]
pub struct Name {
    /// The whole Name element (SEQUENCE tag included) exactly as encoded.
    pub raw: Vec<u8>,
    /// Readable form, attributes in encoded order.
    pub text: String,
}

impl Name {
    /// Same name: identical encoding, or the same readable form ignoring case and runs of spaces
    /// (string types differ between producers). Used only to pick candidates; the signature decides.
    pub fn matches(&self, other: &Name) -> bool {
        if self.raw == other.raw {
            return true;
        }
        !self.text.is_empty() && normalised(&self.text) == normalised(&other.text)
    }

    /// [`Name::matches`], or the same RDNs in another order (each RDN's readable form compared
    /// as `matches` does). Some issuers write the SignerInfo's issuer with the RDNs of the
    /// certificate's issuer reordered (a Malaysian passport: C, O, ST, L, OU, CN against C, ST, L,
    /// O, OU, CN); like `matches`, this only picks candidates and the signature decides.
    pub fn matches_in_any_order(&self, other: &Name) -> bool {
        if self.matches(other) {
            return true;
        }
        let rdns = |n: &Name| -> Option<Vec<String>> {
            let decoded = x509_cert::name::Name::from_der(&n.raw).ok()?;
            let mut v: Vec<String> = decoded.0.iter().map(|rdn| normalised(&rdn_text(rdn))).collect();
            v.sort();
            Some(v)
        };
        matches!((rdns(self), rdns(other)), (Some(a), Some(b)) if !a.is_empty() && a == b)
    }

    /// The Name element `raw`, decoded with `x509-cert`.
    pub fn parse(raw: &Raw<'_>, field: &'static str) -> Result<Name, PkiError> {
        let n: x509_cert::name::Name = raw.decode(field)?;
        let text = n.0.iter().map(rdn_text).collect::<Vec<_>>().join(", ");
        Ok(Name { raw: raw.tlv.to_vec(), text })
    }
}

/// Lower case, runs of white space as one space: how names compare when their encodings differ.
fn normalised(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// One RDN's readable form: `label=value`, several joined by ` + `.
fn rdn_text(rdn: &x509_cert::name::RelativeDistinguishedName) -> String {
    let values: Vec<String> =
        rdn.0.iter().map(|atv| format!("{}={}", attribute_label(&atv.oid), directory_string((&atv.value).into()))).collect();
    values.join(" + ")
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Name({})", self.text)
    }
}

/// The short label of a name attribute, matched on the OID's encoding (formatting every OID as
/// dotted text was a quarter of an EF.SOD parse); unknown types as dotted text.
fn attribute_label(oid: &ObjectIdentifier) -> String {
    const EMAIL: [u8; 9] = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x01]; // 1.2.840.113549.1.9.1
    let label = match oid.as_bytes() {
        [0x55, 0x04, 3] => "CN",
        [0x55, 0x04, 5] => "serialNumber",
        [0x55, 0x04, 6] => "C",
        [0x55, 0x04, 7] => "L",
        [0x55, 0x04, 8] => "ST",
        [0x55, 0x04, 10] => "O",
        [0x55, 0x04, 11] => "OU",
        b if b == EMAIL => "emailAddress",
        _ => return oid.to_string(),
    };
    label.to_string()
}

/// Readable value of a directory string; unknown types as `#hex` of the element.
pub fn directory_string(v: AnyRef<'_>) -> String {
    let b = v.value();
    match u8::from(v.tag()) {
        0x0C | 0x13 | 0x16 => String::from_utf8_lossy(b).into_owned(),
        0x14 => b.iter().map(|&c| c as char).collect(),
        0x1E => {
            let units: Vec<u16> = b.chunks(2).map(|c| u16::from_be_bytes([c.first().copied().unwrap_or(0), c.get(1).copied().unwrap_or(0)])).collect();
            String::from_utf16_lossy(&units)
        }
        0x1C => b
            .chunks(4)
            .map(|c| {
                let mut w = [0u8; 4];
                for (d, s) in w.iter_mut().zip(c) {
                    *d = *s;
                }
                char::from_u32(u32::from_be_bytes(w)).unwrap_or('\u{FFFD}')
            })
            .collect(),
        _ => format!("#{}", hex::encode(v.to_der().unwrap_or_default())),
    }
}

/// An X.509 Time as a UTC date-time.
pub fn time_of(t: &x509_cert::time::Time) -> OffsetDateTime {
    let secs = t.to_unix_duration().as_secs();
    OffsetDateTime::from_unix_timestamp(i64::try_from(secs).unwrap_or(i64::MAX)).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// An AlgorithmIdentifier: the algorithm and its parameters (absent, or the parameter element
/// re-encoded; an explicit NULL is kept as `Some([05 00])`).
#[derive(Clone, PartialEq, Eq)]
pub struct AlgorithmIdentifier {
    pub oid: Oid,
    pub params: Option<Vec<u8>>,
}

impl AlgorithmIdentifier {
    pub fn new(oid: &str) -> Self {
        AlgorithmIdentifier { oid: Oid(oid.to_string()), params: None }
    }

    /// True when the parameters are absent or NULL.
    pub fn params_absent_or_null(&self) -> bool {
        matches!(self.params.as_deref(), None | Some([0x05, 0x00]))
    }
}

impl fmt::Debug for AlgorithmIdentifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.params {
            None => write!(f, "{}", self.oid),
            Some(p) => write!(f, "{}({})", self.oid, hex::encode(p)),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reading with the der crate, naming fields
// ---------------------------------------------------------------------------------------------

fn len_usize(l: ::der::Length) -> usize {
    u32::from(l) as usize
}

/// A `der` error as a [`PkiError`] naming `field`; `base` is where the decoded bytes start in the
/// root buffer, `at` the element's offset (used when the crate gives no position).
pub fn der_error(field: &'static str, base: usize, at: usize, e: ::der::Error) -> PkiError {
    let offset = e.position().map(|p| base + len_usize(p)).unwrap_or(at);
    PkiError::Invalid { field, offset, what: e.kind().to_string() }
}

/// One whole element as encoded: where it starts in the root buffer, its tag octet, the whole
/// encoding and its content octets.
#[derive(Debug, Clone, Copy)]
pub struct Raw<'a> {
    pub offset: usize,
    pub tag: u8,
    pub tlv: &'a [u8],
    pub content: &'a [u8],
    pub content_offset: usize,
}

impl<'a> Raw<'a> {
    /// Exactly one element spanning all of `bytes`.
    pub fn whole(bytes: &'a [u8], field: &'static str) -> Result<Raw<'a>, PkiError> {
        let mut c = Cursor::new(bytes, 0);
        let raw = c.take_raw(field)?;
        c.finish(field)?;
        Ok(raw)
    }

    /// This element, required to carry `tag`.
    pub fn expect(self, tag: u8, field: &'static str) -> Result<Raw<'a>, PkiError> {
        if self.tag == tag {
            Ok(self)
        } else {
            Err(PkiError::Invalid { field, offset: self.offset, what: format!("expected tag {tag:02X}, found {:02X}", self.tag) })
        }
    }

    /// A reader over the children.
    pub fn cursor(&self) -> Cursor<'a> {
        Cursor::new(self.content, self.content_offset)
    }

    /// Decode the whole element with the crates.
    pub fn decode<T: Decode<'a>>(&self, field: &'static str) -> Result<T, PkiError> {
        T::from_der(self.tlv).map_err(|e| der_error(field, self.offset, self.offset, e))
    }
}

/// Reads the children of one element in order (see the module doc).
pub struct Cursor<'a> {
    bytes: &'a [u8],
    r: Option<SliceReader<'a>>,
    base: usize,
}

impl<'a> Cursor<'a> {
    /// A reader over `bytes`, which start at `base` in the root buffer.
    pub fn new(bytes: &'a [u8], base: usize) -> Cursor<'a> {
        Cursor { bytes, r: SliceReader::new(bytes).ok(), base }
    }

    /// Offset of the next element in the root buffer.
    pub fn offset(&self) -> usize {
        self.base + self.r.as_ref().map(|r| len_usize(r.position())).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.r.as_ref().is_none_or(|r| r.is_finished())
    }

    /// The tag octet of the next element.
    pub fn peek_tag(&self) -> Option<u8> {
        self.r.as_ref().and_then(|r| r.peek_byte())
    }

    fn reader(&mut self, field: &'static str) -> Result<&mut SliceReader<'a>, PkiError> {
        let (offset, len) = (self.base, self.bytes.len());
        self.r.as_mut().ok_or(PkiError::Invalid { field, offset, what: format!("{len} bytes are too many") })
    }

    fn missing(&self, field: &'static str) -> Result<(), PkiError> {
        if self.is_empty() {
            return Err(PkiError::Invalid { field, offset: self.offset(), what: "missing".into() });
        }
        Ok(())
    }

    /// Decode the next element as `T`.
    pub fn take<T: Decode<'a>>(&mut self, field: &'static str) -> Result<T, PkiError> {
        self.missing(field)?;
        let (at, base) = (self.offset(), self.base);
        T::decode(self.reader(field)?).map_err(|e| der_error(field, base, at, e))
    }

    /// The next element whole, whatever its tag.
    pub fn take_raw(&mut self, field: &'static str) -> Result<Raw<'a>, PkiError> {
        self.missing(field)?;
        let (offset, base) = (self.offset(), self.base);
        let r = self.reader(field)?;
        let tlv = r.tlv_bytes().map_err(|e| der_error(field, base, offset, e))?;
        let header = SliceReader::new(tlv).and_then(|mut h| Header::decode(&mut h)).map_err(|e| der_error(field, offset, offset, e))?;
        let hlen = header.encoded_len().map(len_usize).unwrap_or(0);
        Ok(Raw {
            offset,
            tag: tlv.first().copied().unwrap_or(0),
            tlv,
            content: tlv.get(hlen..).unwrap_or_default(),
            content_offset: offset + hlen,
        })
    }

    /// The next element whole if it carries `tag`.
    pub fn take_opt_raw(&mut self, tag: u8, field: &'static str) -> Result<Option<Raw<'a>>, PkiError> {
        if self.peek_tag() == Some(tag) {
            self.take_raw(field).map(Some)
        } else {
            Ok(None)
        }
    }

    /// The next element, required to carry `tag`.
    pub fn take_tagged(&mut self, tag: u8, field: &'static str) -> Result<Raw<'a>, PkiError> {
        self.take_raw(field)?.expect(tag, field)
    }

    /// Require that every element has been read.
    pub fn finish(&self, field: &'static str) -> Result<(), PkiError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(PkiError::Invalid { field, offset: self.offset(), what: "unexpected trailing element".into() })
        }
    }
}

// ---------------------------------------------------------------------------------------------
// tlv-based readers and encoders of algorithm parameters, used by `alg`
// ---------------------------------------------------------------------------------------------

pub const BOOLEAN: Tag = 0x01;
pub const INTEGER: Tag = 0x02;
pub const BIT_STRING: Tag = 0x03;
pub const OCTET_STRING: Tag = 0x04;
pub const NULL: Tag = 0x05;
pub const OID: Tag = 0x06;
pub const SEQUENCE: Tag = 0x30;
pub const SET: Tag = 0x31;

/// Context-specific constructed tag `[n]` (EXPLICIT, or IMPLICIT over a constructed type).
pub const fn ctx(n: u8) -> Tag {
    0xA0 | (n as Tag & 0x1F)
}

/// Context-specific primitive tag `[n]` (IMPLICIT over a primitive type).
pub const fn ctx_prim(n: u8) -> Tag {
    0x80 | (n as Tag & 0x1F)
}

// ---------------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------------

/// Decode the next element of `r`, requiring `tag`; `field` names it in errors.
pub fn take<'a>(r: &mut Reader<'a>, tag: Tag, field: &'static str) -> Result<Tlv<'a>, PkiError> {
    let offset = r.offset();
    if r.is_empty() {
        return Err(PkiError::Invalid { field, offset, what: format!("missing (expected tag {tag:02X})") });
    }
    r.expect(tag).map_err(|source| PkiError::Tlv { field, offset, source })
}

/// Decode the next element of `r` whatever its tag.
pub fn take_any<'a>(r: &mut Reader<'a>, field: &'static str) -> Result<Tlv<'a>, PkiError> {
    let offset = r.offset();
    if r.is_empty() {
        return Err(PkiError::Invalid { field, offset, what: "missing".into() });
    }
    r.next_tlv().map_err(|source| PkiError::Tlv { field, offset, source })
}

/// Decode the next element of `r` only if it carries `tag`.
pub fn take_opt<'a>(r: &mut Reader<'a>, tag: Tag, field: &'static str) -> Result<Option<Tlv<'a>>, PkiError> {
    let offset = r.offset();
    r.optional(tag).map_err(|source| PkiError::Tlv { field, offset, source })
}

/// Require that `r` has been read to its end.
pub fn finish(r: &Reader<'_>, field: &'static str) -> Result<(), PkiError> {
    if r.is_empty() {
        Ok(())
    } else {
        Err(PkiError::Invalid { field, offset: r.offset(), what: "unexpected trailing element".into() })
    }
}

/// Decode exactly one element with `tag` spanning all of `buf`.
pub fn parse_one<'a>(buf: &'a [u8], tag: Tag, field: &'static str) -> Result<Tlv<'a>, PkiError> {
    tlv::parse_single(buf, tag).map_err(|source| PkiError::Tlv { field, offset: 0, source })
}

/// All children of a constructed (or TLV-holding primitive) element.
pub fn children<'a>(t: &Tlv<'a>, field: &'static str) -> Result<Vec<Tlv<'a>>, PkiError> {
    let offset = t.value_offset;
    t.children().collect_all().map_err(|source| PkiError::Tlv { field, offset, source })
}

fn invalid(field: &'static str, t: &Tlv<'_>, what: impl Into<String>) -> PkiError {
    PkiError::Invalid { field, offset: t.offset, what: what.into() }
}

/// The content octets of an INTEGER (two's complement, big-endian, as encoded).
pub fn integer<'a>(t: &Tlv<'a>, field: &'static str) -> Result<&'a [u8], PkiError> {
    if t.tag != INTEGER {
        return Err(invalid(field, t, format!("expected INTEGER, found tag {:02X}", t.tag)));
    }
    if t.value.is_empty() {
        return Err(invalid(field, t, "empty INTEGER"));
    }
    Ok(t.value)
}

/// A non-negative INTEGER that fits in a `u32`.
pub fn small_uint(t: &Tlv<'_>, field: &'static str) -> Result<u32, PkiError> {
    let v = integer(t, field)?;
    if v.first().is_some_and(|b| b & 0x80 != 0) {
        return Err(invalid(field, t, "negative INTEGER"));
    }
    let digits: &[u8] = match v.iter().position(|&b| b != 0) {
        Some(p) => v.get(p..).unwrap_or_default(),
        None => &[],
    };
    if digits.len() > 4 {
        return Err(invalid(field, t, format!("INTEGER of {} bytes is too large", v.len())));
    }
    Ok(digits.iter().fold(0u32, |acc, &b| (acc << 8) | b as u32))
}

/// A BOOLEAN.
pub fn boolean(t: &Tlv<'_>, field: &'static str) -> Result<bool, PkiError> {
    match (t.tag, t.value) {
        (BOOLEAN, [0x00]) => Ok(false),
        (BOOLEAN, [_]) => Ok(true),
        (BOOLEAN, _) => Err(invalid(field, t, format!("BOOLEAN of {} bytes", t.value.len()))),
        _ => Err(invalid(field, t, format!("expected BOOLEAN, found tag {:02X}", t.tag))),
    }
}

/// A BIT STRING: (number of unused bits, content bytes).
pub fn bit_string<'a>(t: &Tlv<'a>, field: &'static str) -> Result<(u8, &'a [u8]), PkiError> {
    if t.tag != BIT_STRING {
        return Err(invalid(field, t, format!("expected BIT STRING, found tag {:02X}", t.tag)));
    }
    let (&unused, bits) = t.value.split_first().ok_or_else(|| invalid(field, t, "empty BIT STRING"))?;
    if unused > 7 || (bits.is_empty() && unused != 0) {
        return Err(invalid(field, t, format!("BIT STRING with {unused} unused bits")));
    }
    Ok((unused, bits))
}

/// A BIT STRING holding whole bytes (keys, signatures).
pub fn bit_string_octets<'a>(t: &Tlv<'a>, field: &'static str) -> Result<&'a [u8], PkiError> {
    match bit_string(t, field)? {
        (0, bytes) => Ok(bytes),
        (n, _) => Err(invalid(field, t, format!("BIT STRING with {n} unused bits where whole bytes are required"))),
    }
}

/// An OBJECT IDENTIFIER element.
pub fn oid(t: &Tlv<'_>, field: &'static str) -> Result<Oid, PkiError> {
    if t.tag != OID {
        return Err(invalid(field, t, format!("expected OBJECT IDENTIFIER, found tag {:02X}", t.tag)));
    }
    Oid::from_content(t.value).ok_or_else(|| invalid(field, t, "malformed OBJECT IDENTIFIER"))
}

/// Parse an AlgorithmIdentifier SEQUENCE.
pub fn algorithm_identifier(t: &Tlv<'_>, field: &'static str) -> Result<AlgorithmIdentifier, PkiError> {
    if t.tag != SEQUENCE {
        return Err(invalid(field, t, format!("expected AlgorithmIdentifier SEQUENCE, found tag {:02X}", t.tag)));
    }
    let mut r = t.children();
    let oid = oid(&take(&mut r, OID, field)?, field)?;
    let params = if r.is_empty() {
        None
    } else {
        let p = take_any(&mut r, field)?;
        Some(tlv::encode(p.tag, p.value))
    };
    finish(&r, field)?;
    Ok(AlgorithmIdentifier { oid, params })
}

/// Content octets of an OBJECT IDENTIFIER given in dotted form (invalid arcs encode as 0; only
/// used with the crate's constants, which a test round-trips).
pub fn oid_content(dotted: &str) -> Vec<u8> {
    let arcs: Vec<u64> = dotted.split('.').map(|a| a.parse().unwrap_or(0)).collect();
    let first = arcs.first().copied().unwrap_or(0).min(2);
    let second = arcs.get(1).copied().unwrap_or(0);
    let mut out = Vec::new();
    let head = first.saturating_mul(40).saturating_add(second);
    for arc in std::iter::once(head).chain(arcs.iter().skip(2).copied()) {
        let mut groups = vec![(arc & 0x7F) as u8];
        let mut v = arc >> 7;
        while v > 0 {
            groups.push(0x80 | (v & 0x7F) as u8);
            v >>= 7;
        }
        out.extend(groups.iter().rev());
    }
    out
}

pub fn enc_oid(dotted: &str) -> Vec<u8> {
    tlv::encode(OID, &oid_content(dotted))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn oid_round_trip() {
        for s in ["1.2.840.113549.1.7.2", "2.23.136.1.1.1", "1.3.14.3.2.26", "2.16.840.1.101.3.4.2.1", "1.2.840.10045.3.1.7", "0.4.0.127.0.7.1.1.4.1.3", "2.5.29.19", "2.999.3"] {
            let enc = enc_oid(s);
            let t = parse_one(&enc, OID, "test").expect("decodes");
            assert_eq!(oid(&t, "test").expect("oid").as_str(), s);
            if let Ok(o) = ObjectIdentifier::new(s) {
                assert_eq!(Oid::from(&o).as_str(), s);
            }
        }
        assert!(Oid::from_content(&[0x2A, 0x86]).is_none(), "truncated arc");
        assert!(Oid::from_content(&[0x2A, 0x80, 0x01]).is_none(), "non-minimal arc");
        assert!(Oid::from_content(&[]).is_none());
    }

    #[test]
    fn cursor_names_fields_and_offsets() {
        // SEQUENCE { INTEGER 5, OCTET STRING 'AB' }
        let bytes = [0x30, 0x07, 0x02, 0x01, 0x05, 0x04, 0x02, 0xAB, 0xCD];
        let outer = Raw::whole(&bytes, "outer").expect("one element");
        let mut c = outer.expect(0x30, "outer").expect("sequence").cursor();
        assert_eq!(c.offset(), 2);
        assert_eq!(c.take::<u8>("n").expect("int"), 5);
        let e = c.take::<u8>("second").expect_err("not an integer");
        assert!(e.to_string().starts_with("second at offset 5: "), "{e}");
        let mut c = outer.cursor();
        let _ = c.take_raw("n").expect("raw");
        let s = c.take_tagged(0x04, "s").expect("octets");
        assert_eq!((s.offset, s.content, s.content_offset), (5, &[0xAB, 0xCD][..], 7));
        c.finish("outer").expect("all read");
        assert_eq!(c.take_raw("more").expect_err("missing").to_string(), "more at offset 9: missing");
        let e = Raw::whole(&bytes[..8], "outer").expect_err("truncated");
        assert!(e.to_string().starts_with("outer at offset 0"), "{e}");
        let e = Raw::whole(&[0x30, 0x80, 0x00, 0x00], "outer").expect_err("indefinite");
        assert!(e.to_string().starts_with("outer at offset"), "{e}");
    }

    #[test]
    fn names_read_with_x509_cert() {
        // C=CN (PrintableString), O=Hidden Corpus (UTF8String)
        let mut rdns = Vec::new();
        for (o, tag, v) in [("2.5.4.6", 0x13u8, "CN"), ("2.5.4.10", 0x0C, "Hidden Corpus"), ("1.2.3.4", 0x0C, "x")] {
            let atv = tlv::encode_seq(0x30, &[enc_oid(o), tlv::encode(tag as Tag, v.as_bytes())]);
            rdns.push(tlv::encode(0x31, &atv));
        }
        let enc = tlv::encode_seq(0x30, &rdns);
        let n = Name::parse(&Raw::whole(&enc, "n").expect("raw"), "n").expect("name");
        assert_eq!(n.text, "C=CN, O=Hidden Corpus, 1.2.3.4=x");
        assert_eq!(n.raw, enc);
        let other = Name { raw: vec![], text: "c=cn,  o=hidden corpus, 1.2.3.4=X".into() };
        assert!(n.matches(&other));
        assert!(!n.matches(&Name { raw: vec![], text: "C=CN".into() }));
    }

    #[test]
    fn names_in_another_rdn_order() {
        let name = |rdns: &[(&str, &str)]| {
            let enc = tlv::encode_seq(
                0x30,
                &rdns
                    .iter()
                    .map(|(o, v)| tlv::encode(0x31, &tlv::encode_seq(0x30, &[enc_oid(o), tlv::encode(0x0C, v.as_bytes())])))
                    .collect::<Vec<_>>(),
            );
            Name::parse(&Raw::whole(&enc, "n").expect("raw"), "n").expect("name")
        };
        let cert = name(&[("2.5.4.6", "MY"), ("2.5.4.8", "WP"), ("2.5.4.10", "Jabatan"), ("2.5.4.3", "Signer")]);
        let sid = name(&[("2.5.4.6", "MY"), ("2.5.4.10", "jabatan"), ("2.5.4.8", "WP"), ("2.5.4.3", "Signer")]);
        assert!(!cert.matches(&sid), "order matters to matches");
        assert!(cert.matches_in_any_order(&sid) && sid.matches_in_any_order(&cert));
        assert!(cert.matches_in_any_order(&cert));
        let fewer = name(&[("2.5.4.6", "MY"), ("2.5.4.10", "Jabatan"), ("2.5.4.3", "Signer")]);
        assert!(!cert.matches_in_any_order(&fewer));
        let other = name(&[("2.5.4.6", "MY"), ("2.5.4.10", "Jabatan"), ("2.5.4.8", "KL"), ("2.5.4.3", "Signer")]);
        assert!(!cert.matches_in_any_order(&other));
        // Same values under other attribute types are other names.
        let swapped = name(&[("2.5.4.6", "MY"), ("2.5.4.8", "Jabatan"), ("2.5.4.10", "WP"), ("2.5.4.3", "Signer")]);
        assert!(!cert.matches_in_any_order(&swapped));
    }

    proptest! {
        #[test]
        fn readers_never_panic(tag in any::<u8>(), value in proptest::collection::vec(any::<u8>(), 0..40)) {
            let enc = tlv::encode(tag as Tag, &value);
            if let Ok(t) = parse_one(&enc, tag as Tag, "p") {
                let _ = integer(&t, "p");
                let _ = small_uint(&t, "p");
                let _ = boolean(&t, "p");
                let _ = bit_string(&t, "p");
                let _ = oid(&t, "p");
                let _ = algorithm_identifier(&t, "p");
            }
            if let Ok(r) = Raw::whole(&enc, "p") {
                let _ = Name::parse(&r, "p");
                let mut c = r.cursor();
                while c.take_raw("p").is_ok() {}
            }
        }
    }
}

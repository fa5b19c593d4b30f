//! A small DER layer on top of [`crate::tlv`] for the CMS and X.509 structures of passive
//! authentication: typed readers for INTEGER, OBJECT IDENTIFIER, OCTET STRING, BIT STRING, BOOLEAN,
//! UTCTime / GeneralizedTime, distinguished names and AlgorithmIdentifier, each turning a failure
//! into a [`PkiError`] that names the field and its offset; plus the matching encoders used by the
//! test PKI writer. Nothing here panics on any input.

use std::fmt;

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

use super::PkiError;
use crate::tlv::{self, Reader, Tag, Tlv};

pub const BOOLEAN: Tag = 0x01;
pub const INTEGER: Tag = 0x02;
pub const BIT_STRING: Tag = 0x03;
pub const OCTET_STRING: Tag = 0x04;
pub const NULL: Tag = 0x05;
pub const OID: Tag = 0x06;
pub const UTF8_STRING: Tag = 0x0C;
pub const PRINTABLE_STRING: Tag = 0x13;
pub const T61_STRING: Tag = 0x14;
pub const IA5_STRING: Tag = 0x16;
pub const UTC_TIME: Tag = 0x17;
pub const GENERALIZED_TIME: Tag = 0x18;
pub const UNIVERSAL_STRING: Tag = 0x1C;
pub const BMP_STRING: Tag = 0x1E;
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

/// An OBJECT IDENTIFIER element.
pub fn oid(t: &Tlv<'_>, field: &'static str) -> Result<Oid, PkiError> {
    if t.tag != OID {
        return Err(invalid(field, t, format!("expected OBJECT IDENTIFIER, found tag {:02X}", t.tag)));
    }
    Oid::from_content(t.value).ok_or_else(|| invalid(field, t, "malformed OBJECT IDENTIFIER"))
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

fn digits(s: &[u8]) -> Option<u32> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0u32, |acc, &b| acc * 10 + (b - b'0') as u32))
}

/// A UTCTime (`YYMMDDHHMMSSZ`, years 50..99 are 19xx) or GeneralizedTime (`YYYYMMDDHHMMSSZ`).
pub fn time(t: &Tlv<'_>, field: &'static str) -> Result<OffsetDateTime, PkiError> {
    let v = t.value;
    let (year, rest) = match (t.tag, v.len()) {
        (UTC_TIME, 13) => {
            let yy = digits(v.get(0..2).unwrap_or_default());
            let yy = yy.ok_or_else(|| invalid(field, t, "malformed UTCTime year"))? as i32;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, v.get(2..).unwrap_or_default())
        }
        (GENERALIZED_TIME, 15) => {
            let y = digits(v.get(0..4).unwrap_or_default());
            (y.ok_or_else(|| invalid(field, t, "malformed GeneralizedTime year"))? as i32, v.get(4..).unwrap_or_default())
        }
        (UTC_TIME, n) | (GENERALIZED_TIME, n) => {
            return Err(invalid(field, t, format!("time of {n} characters is not in the DER form ...HHMMSSZ")))
        }
        (tag, _) => return Err(invalid(field, t, format!("expected UTCTime or GeneralizedTime, found tag {tag:02X}"))),
    };
    // rest = MMDDHHMMSSZ
    if rest.last() != Some(&b'Z') {
        return Err(invalid(field, t, "time does not end in Z"));
    }
    let part = |i: usize| digits(rest.get(i..i + 2).unwrap_or_default());
    let (Some(mo), Some(d), Some(h), Some(mi), Some(s)) = (part(0), part(2), part(4), part(6), part(8)) else {
        return Err(invalid(field, t, "time has non-digit characters"));
    };
    let month = Month::try_from(mo as u8).map_err(|_| invalid(field, t, format!("month {mo} out of range")))?;
    let date = Date::from_calendar_date(year, month, d as u8)
        .map_err(|e| invalid(field, t, format!("invalid date: {e}")))?;
    let tm = Time::from_hms(h as u8, mi as u8, s as u8).map_err(|e| invalid(field, t, format!("invalid time: {e}")))?;
    Ok(PrimitiveDateTime::new(date, tm).assume_utc())
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
        let norm = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
        !self.text.is_empty() && norm(&self.text) == norm(&other.text)
    }
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

fn attribute_label(oid: &Oid) -> String {
    match oid.as_str() {
        "2.5.4.3" => "CN".into(),
        "2.5.4.5" => "serialNumber".into(),
        "2.5.4.6" => "C".into(),
        "2.5.4.7" => "L".into(),
        "2.5.4.8" => "ST".into(),
        "2.5.4.10" => "O".into(),
        "2.5.4.11" => "OU".into(),
        "1.2.840.113549.1.9.1" => "emailAddress".into(),
        other => other.to_string(),
    }
}

/// Readable value of a directory string; unknown types as `#hex`.
pub fn directory_string(t: &Tlv<'_>) -> String {
    match t.tag {
        UTF8_STRING | PRINTABLE_STRING | IA5_STRING => String::from_utf8_lossy(t.value).into_owned(),
        T61_STRING => t.value.iter().map(|&b| b as char).collect(),
        BMP_STRING => {
            let units: Vec<u16> =
                t.value.chunks(2).map(|c| u16::from_be_bytes([c.first().copied().unwrap_or(0), c.get(1).copied().unwrap_or(0)])).collect();
            String::from_utf16_lossy(&units)
        }
        UNIVERSAL_STRING => t
            .value
            .chunks(4)
            .map(|c| {
                let mut b = [0u8; 4];
                for (d, s) in b.iter_mut().zip(c) {
                    *d = *s;
                }
                char::from_u32(u32::from_be_bytes(b)).unwrap_or('\u{FFFD}')
            })
            .collect(),
        _ => format!("#{}", hex::encode(tlv::encode(t.tag, t.value))),
    }
}

/// Parse a Name (SEQUENCE OF RelativeDistinguishedName); `root` is the buffer `t` was read from.
pub fn name(t: &Tlv<'_>, root: &[u8], field: &'static str) -> Result<Name, PkiError> {
    if t.tag != SEQUENCE {
        return Err(invalid(field, t, format!("expected Name SEQUENCE, found tag {:02X}", t.tag)));
    }
    let mut parts = Vec::new();
    for rdn in children(t, field)? {
        if rdn.tag != SET {
            return Err(invalid(field, &rdn, format!("expected RelativeDistinguishedName SET, found tag {:02X}", rdn.tag)));
        }
        let mut values = Vec::new();
        for atv in children(&rdn, field)? {
            if atv.tag != SEQUENCE {
                return Err(invalid(field, &atv, "expected AttributeTypeAndValue SEQUENCE"));
            }
            let mut r = atv.children();
            let ty = oid(&take(&mut r, OID, field)?, field)?;
            let val = take_any(&mut r, field)?;
            finish(&r, field)?;
            values.push(format!("{}={}", attribute_label(&ty), directory_string(&val)));
        }
        parts.push(values.join(" + "));
    }
    Ok(Name { raw: t.raw(root).to_vec(), text: parts.join(", ") })
}

// ---------------------------------------------------------------------------------------------
// Writing (test PKI and SOD writer)
// ---------------------------------------------------------------------------------------------

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

/// INTEGER from unsigned big-endian magnitude bytes (leading zeros stripped, sign byte added).
pub fn enc_uint(magnitude: &[u8]) -> Vec<u8> {
    let start = magnitude.iter().position(|&b| b != 0).unwrap_or(magnitude.len());
    let m = magnitude.get(start..).unwrap_or_default();
    let mut v = Vec::with_capacity(m.len() + 1);
    if m.first().is_none_or(|&b| b & 0x80 != 0) {
        v.push(0);
    }
    v.extend_from_slice(m);
    tlv::encode(INTEGER, &v)
}

pub fn enc_small(n: u32) -> Vec<u8> {
    enc_uint(&n.to_be_bytes())
}

pub fn enc_bool(b: bool) -> Vec<u8> {
    tlv::encode(BOOLEAN, &[if b { 0xFF } else { 0x00 }])
}

pub fn enc_octets(b: &[u8]) -> Vec<u8> {
    tlv::encode(OCTET_STRING, b)
}

pub fn enc_bits(unused: u8, b: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(b.len() + 1);
    v.push(unused);
    v.extend_from_slice(b);
    tlv::encode(BIT_STRING, &v)
}

pub fn enc_seq(children: &[Vec<u8>]) -> Vec<u8> {
    tlv::encode_seq(SEQUENCE, children)
}

/// DER SET OF: the elements sorted by their encodings.
pub fn enc_set_of(children: &[Vec<u8>]) -> Vec<u8> {
    let mut sorted = children.to_vec();
    sorted.sort();
    tlv::encode_seq(SET, &sorted)
}

pub fn enc_alg(oid: &str) -> Vec<u8> {
    enc_seq(&[enc_oid(oid)])
}

/// UTCTime for 1950..=2049, GeneralizedTime otherwise (RFC 5280 section 4.1.2.5).
pub fn enc_time(t: OffsetDateTime) -> Vec<u8> {
    let t = t.to_offset(time::UtcOffset::UTC);
    let tail = format!("{:02}{:02}{:02}{:02}{:02}Z", u8::from(t.month()), t.day(), t.hour(), t.minute(), t.second());
    if (1950..=2049).contains(&t.year()) {
        tlv::encode(UTC_TIME, format!("{:02}{tail}", t.year().rem_euclid(100)).as_bytes())
    } else {
        tlv::encode(GENERALIZED_TIME, format!("{:04}{tail}", t.year().clamp(0, 9999)).as_bytes())
    }
}

/// A Name from (attribute OID, value) pairs, one attribute per RDN; countryName as
/// PrintableString when printable, everything else UTF8String.
pub fn enc_name(attrs: &[(&str, &str)]) -> Vec<u8> {
    let printable = |s: &str| s.bytes().all(|b| b.is_ascii_alphanumeric() || b" '()+,-./:=?".contains(&b));
    let rdns: Vec<Vec<u8>> = attrs
        .iter()
        .map(|(ty, val)| {
            let tag = if *ty == "2.5.4.6" && printable(val) { PRINTABLE_STRING } else { UTF8_STRING };
            enc_set_of(&[enc_seq(&[enc_oid(ty), tlv::encode(tag, val.as_bytes())])])
        })
        .collect();
    enc_seq(&rdns)
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
        }
        assert!(Oid::from_content(&[0x2A, 0x86]).is_none(), "truncated arc");
        assert!(Oid::from_content(&[0x2A, 0x80, 0x01]).is_none(), "non-minimal arc");
        assert!(Oid::from_content(&[]).is_none());
    }

    #[test]
    fn integers_and_times() {
        let t = parse_one(&[0x02, 0x01, 0x03], INTEGER, "v").expect("int");
        assert_eq!(small_uint(&t, "v").expect("3"), 3);
        let t = parse_one(&[0x02, 0x01, 0xFF], INTEGER, "v").expect("int");
        assert!(small_uint(&t, "v").is_err());
        assert_eq!(enc_uint(&[0x80]), vec![0x02, 0x02, 0x00, 0x80]);
        assert_eq!(enc_uint(&[0x00, 0x00, 0x05]), vec![0x02, 0x01, 0x05]);
        assert_eq!(enc_uint(&[]), vec![0x02, 0x01, 0x00]);

        let when = time::macros::datetime!(2024-04-08 03:00:00 UTC);
        let enc = enc_time(when);
        assert_eq!(&enc[2..], b"240408030000Z");
        assert_eq!(time(&parse_one(&enc, UTC_TIME, "t").expect("t"), "t").expect("time"), when);
        let far = time::macros::datetime!(2051-12-31 23:59:59 UTC);
        let enc = enc_time(far);
        assert_eq!(enc[0] as Tag, GENERALIZED_TIME);
        assert_eq!(time(&parse_one(&enc, GENERALIZED_TIME, "t").expect("t"), "t").expect("time"), far);
        let old = tlv::encode(UTC_TIME, b"991231235959Z");
        assert_eq!(time(&parse_one(&old, UTC_TIME, "t").expect("t"), "t").expect("time").year(), 1999);
        for bad in [&b"241308030000Z"[..], b"240431030000Z", b"2404080300Z", b"24040803000aZ", b"2404080300001"] {
            let enc = tlv::encode(UTC_TIME, bad);
            assert!(time(&parse_one(&enc, UTC_TIME, "t").expect("t"), "t").is_err(), "{bad:?}");
        }
    }

    #[test]
    fn names() {
        let enc = enc_name(&[("2.5.4.6", "CN"), ("2.5.4.10", "Hidden Corpus"), ("2.5.4.3", "Hidden Corpus CSCA")]);
        let t = parse_one(&enc, SEQUENCE, "n").expect("name");
        let n = name(&t, &enc, "n").expect("name");
        assert_eq!(n.text, "C=CN, O=Hidden Corpus, CN=Hidden Corpus CSCA");
        assert_eq!(n.raw, enc);
        let other = Name { raw: vec![], text: "c=CN,  o=hidden corpus, CN=Hidden Corpus CSCA".replace("c=", "C=").replace("o=", "O=") };
        assert!(n.matches(&other));
        assert!(!n.matches(&Name { raw: vec![], text: "C=CN".into() }));
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
                let _ = time(&t, "p");
                let _ = name(&t, &enc, "p");
                let _ = algorithm_identifier(&t, "p");
                let _ = directory_string(&t);
            }
        }
    }
}

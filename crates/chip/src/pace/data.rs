//! The dynamic authentication data of GENERAL AUTHENTICATE (TR-03110-3 B.1, ICAO 9303-11
//! section 4.4.4.2): one DO'7C' holding the step's data objects, encoded and parsed strictly
//! (one 7C spanning the whole field, the expected tags in order, no object twice, nothing
//! truncated, every length bounded), and the DER content of a dotted object identifier.

use idcheck_core::tlv::{self, Tag, TlvError};

/// Tag of the dynamic authentication data.
pub(crate) const TAG_DAD: Tag = 0x7C;

/// The largest data field either side accepts (a 2048-bit DH public key is 256 bytes; every
/// step's field is well below this).
pub(crate) const MAX_DAD: usize = 1024;

/// Why dynamic authentication data was refused. Offsets count from the first byte of the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DadError {
    #[error("{0}")]
    Tlv(#[from] TlvError),
    #[error("data field of {len} bytes, at most {max} allowed")]
    TooLong { len: usize, max: usize },
    #[error("object {tag:X} at offset {offset} where {expected} was expected")]
    Unexpected { tag: Tag, offset: usize, expected: String },
    #[error("mandatory object {0:X} missing")]
    Missing(Tag),
    #[error("object {tag:X} at offset {offset} has {len} bytes, expected {min} to {max}")]
    Length { tag: Tag, offset: usize, len: usize, min: usize, max: usize },
}

/// One object a step allows: its tag, whether it must be there, and its length bounds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slot {
    pub tag: Tag,
    pub required: bool,
    pub min: usize,
    pub max: usize,
}

impl Slot {
    pub const fn required(tag: Tag, min: usize, max: usize) -> Slot {
        Slot { tag, required: true, min, max }
    }
    pub const fn optional(tag: Tag, min: usize, max: usize) -> Slot {
        Slot { tag, required: false, min, max }
    }
}

/// Encode 7C { objects } (an empty list gives `7C 00`).
pub(crate) fn encode(objects: &[(Tag, &[u8])]) -> Vec<u8> {
    let mut inner = Vec::new();
    for (tag, value) in objects {
        inner.extend_from_slice(&tlv::encode(*tag, value));
    }
    tlv::encode(TAG_DAD, &inner)
}

/// Parse 7C { objects } against `slots`: the objects must come in the slots' order, each at
/// most once, every required one present, nothing else inside and nothing after the 7C. The
/// result holds one entry per slot (`None` for an absent optional object).
pub(crate) fn parse<'a>(data: &'a [u8], slots: &[Slot]) -> Result<Vec<Option<&'a [u8]>>, DadError> {
    if data.len() > MAX_DAD {
        return Err(DadError::TooLong { len: data.len(), max: MAX_DAD });
    }
    let outer = tlv::parse_single(data, TAG_DAD)?;
    let mut reader = outer.children();
    let mut out: Vec<Option<&[u8]>> = vec![None; slots.len()];
    let mut next = 0usize;
    while !reader.is_empty() {
        let t = reader.next_tlv()?;
        let pos = slots.iter().skip(next).position(|s| s.tag == t.tag).map(|p| p + next);
        let Some(i) = pos else {
            return Err(DadError::Unexpected { tag: t.tag, offset: t.offset, expected: expected(&slots[next.min(slots.len())..]) });
        };
        if let Some(skipped) = slots[next..i].iter().find(|s| s.required) {
            return Err(DadError::Missing(skipped.tag));
        }
        let s = slots[i];
        if t.value.len() < s.min || t.value.len() > s.max {
            return Err(DadError::Length { tag: t.tag, offset: t.offset, len: t.value.len(), min: s.min, max: s.max });
        }
        out[i] = Some(t.value);
        next = i + 1;
    }
    if let Some(missing) = slots[next.min(slots.len())..].iter().find(|s| s.required) {
        return Err(DadError::Missing(missing.tag));
    }
    Ok(out)
}

fn expected(slots: &[Slot]) -> String {
    if slots.is_empty() {
        return "nothing more".to_string();
    }
    slots.iter().map(|s| format!("{:X}", s.tag)).collect::<Vec<_>>().join(" or ")
}

/// The DER content octets of a dotted object identifier (`0.4.0.127.0.7.2.2.4.2.2` ->
/// `04 00 7F 00 07 02 02 04 02 02`), `None` when it is not a well-formed OID.
pub fn oid_to_der(dotted: &str) -> Option<Vec<u8>> {
    let arcs: Vec<u64> = dotted.split('.').map(|a| if a.is_empty() || (a.len() > 1 && a.starts_with('0')) { None } else { a.parse().ok() }).collect::<Option<_>>()?;
    let (&first, &second) = (arcs.first()?, arcs.get(1)?);
    if first > 2 || (first < 2 && second >= 40) {
        return None;
    }
    let mut out = Vec::new();
    push_base128(&mut out, first.checked_mul(40)?.checked_add(second)?);
    for &a in &arcs[2..] {
        push_base128(&mut out, a);
    }
    Some(out)
}

fn push_base128(out: &mut Vec<u8>, v: u64) {
    let mut groups = [0u8; 10];
    let mut n = 0;
    let mut x = v;
    loop {
        groups[n] = (x & 0x7F) as u8;
        n += 1;
        x >>= 7;
        if x == 0 {
            break;
        }
    }
    for i in (0..n).rev() {
        out.push(groups[i] | if i > 0 { 0x80 } else { 0 });
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NONCE: [Slot; 1] = [Slot::required(0x80, 8, 32)];
    const FINAL: [Slot; 3] = [Slot::required(0x86, 8, 8), Slot::optional(0x87, 1, 16), Slot::optional(0x88, 1, 16)];

    #[test]
    fn oids_encode() {
        // ICAO 9303-11 Appendix G.1: MSE:Set AT carries 80 0A 04007F00070202040202.
        assert_eq!(hex::encode_upper(oid_to_der("0.4.0.127.0.7.2.2.4.2.2").unwrap()), "04007F00070202040202");
        assert_eq!(hex::encode_upper(oid_to_der("1.2.840.10045.2.1").unwrap()), "2A8648CE3D0201");
        assert_eq!(hex::encode_upper(oid_to_der("2.999.3").unwrap()), "883703");
        for bad in ["", "0", "3.1", "0.40", "1.2.", "1..2", "1.02", "a.b", "1.2.99999999999999999999999"] {
            assert_eq!(oid_to_der(bad), None, "{bad}");
        }
    }

    #[test]
    fn strict_parsing() {
        assert_eq!(parse(&hex::decode("7C0A800801020304050607 08".replace(' ', "")).unwrap(), &NONCE).unwrap()[0].unwrap().len(), 8);
        // Empty 7C: only when no object is required.
        assert_eq!(parse(&[0x7C, 0x00], &[]).unwrap(), Vec::<Option<&[u8]>>::new());
        assert_eq!(parse(&[0x7C, 0x00], &NONCE), Err(DadError::Missing(0x80)));
        // Trailing bytes, a second 7C, a wrong outer tag, truncation.
        assert!(matches!(parse(&[0x7C, 0x00, 0x00], &[]), Err(DadError::Tlv(TlvError::TrailingBytes { .. }))));
        assert!(matches!(parse(&[0x7C, 0x00, 0x7C, 0x00], &[]), Err(DadError::Tlv(TlvError::TrailingBytes { .. }))));
        assert!(matches!(parse(&[0x7D, 0x00], &[]), Err(DadError::Tlv(TlvError::UnexpectedTag { .. }))));
        assert!(matches!(parse(&[0x7C, 0x03, 0x80, 0x08, 0x01], &NONCE), Err(DadError::Tlv(TlvError::ValueOverrun { .. }))));
        assert!(parse(&[], &[]).is_err());
        // The wrong tag, a repeated tag, a bad length.
        assert!(matches!(parse(&[0x7C, 0x02, 0x82, 0x00], &NONCE), Err(DadError::Unexpected { tag: 0x82, offset: 2, .. })));
        let mut twice = vec![0x7C, 20, 0x80, 8];
        twice.extend([0; 8]);
        twice.extend([0x80, 8]);
        twice.extend([0; 8]);
        assert!(matches!(parse(&twice, &NONCE), Err(DadError::Unexpected { tag: 0x80, offset: 12, .. })));
        assert!(matches!(parse(&[0x7C, 0x03, 0x80, 0x01, 0xAA], &NONCE), Err(DadError::Length { len: 1, .. })));
        // Optional objects in order, the wrong order refused.
        let mut fin = vec![0x7C, 0x12, 0x86, 0x08];
        fin.extend([1; 8]);
        fin.extend([0x88, 0x02, b'D', b'E', 0x87, 0x02, b'D', b'E']);
        assert!(matches!(parse(&fin, &FINAL), Err(DadError::Unexpected { tag: 0x87, .. })));
        fin[12] = 0x87;
        fin[16] = 0x88;
        let p = parse(&fin, &FINAL).unwrap();
        assert_eq!(p[1], Some(&b"DE"[..]));
        // Too long overall.
        let mut long = vec![0x7C, 0x82, 0x04, 0x01];
        long.extend(vec![0; 0x401]);
        assert!(matches!(parse(&long, &[]), Err(DadError::TooLong { .. })));
        // The encoder and the parser agree.
        let e = encode(&[(0x86, &[9; 8]), (0x88, b"CAR")]);
        let p = parse(&e, &FINAL).unwrap();
        assert_eq!((p[0], p[1], p[2]), (Some(&[9u8; 8][..]), None, Some(&b"CAR"[..])));
        assert_eq!(encode(&[]), vec![0x7C, 0x00]);
    }

    proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse(&bytes, &FINAL);
            let _ = parse(&bytes, &NONCE);
            let _ = parse(&bytes, &[]);
        }

        #[test]
        fn oid_round_trip(arcs in proptest::collection::vec(any::<u64>(), 0..8), first in 0u64..3, second in 0u64..40) {
            let mut s = format!("{first}.{second}");
            for a in &arcs { s.push_str(&format!(".{a}")); }
            let der = oid_to_der(&s).unwrap();
            // Re-decode the base-128 arcs.
            let mut vals = Vec::new();
            let mut acc: u128 = 0;
            for b in der { acc = (acc << 7) | u128::from(b & 0x7F); if b & 0x80 == 0 { vals.push(acc); acc = 0; } }
            prop_assert_eq!(vals[0], u128::from(first * 40 + second));
            prop_assert_eq!(vals[1..].to_vec(), arcs.iter().map(|&a| u128::from(a)).collect::<Vec<_>>());
        }
    }
}

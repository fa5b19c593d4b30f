//! DG13 (tag 6D): the 256-byte national text record of the resident card (resident-id.md),
//! UTF-16LE fields padded with spaces. Parsing of untrusted bytes (a well-formed surrogate pair
//! decodes to its character outside the BMP; an unpaired surrogate, a control character and a
//! malformed fixed-format field are refused with their offset) and the writer (which writes a
//! character outside the BMP as a surrogate pair, two of the field's units).

use std::fmt;

use time::Date;

use super::{field_err, tlv_err, FileId, LdsError};
use crate::model::ValidUntil;
use crate::tlv;

const F: FileId = FileId::Dg13;

/// The validity end of a long-term card as written in the record (U+957F U+671F).
pub const LONG_TERM: &str = "长期";

/// Size of the record.
pub const RECORD_LEN: usize = 256;
/// Offset of the permit marker (`J` HK/Macau/Taiwan residence permit, `I` foreigner's permanent
/// residence card).
const PERMIT_AT: usize = 248;

/// (field, offset, bytes) of the record layout.
const NAME: (&str, usize, usize) = ("name", 0, 30);
const SEX: (&str, usize, usize) = ("sex", 30, 2);
const ETHNICITY: (&str, usize, usize) = ("ethnicity", 32, 4);
const BIRTH: (&str, usize, usize) = ("birth date", 36, 16);
const ADDRESS: (&str, usize, usize) = ("address", 52, 70);
const ID_NUMBER: (&str, usize, usize) = ("id number", 122, 36);
const AUTHORITY: (&str, usize, usize) = ("issuing authority", 158, 30);
const VALID_FROM: (&str, usize, usize) = ("validity start", 188, 16);
const VALID_UNTIL: (&str, usize, usize) = ("validity end", 204, 16);
const RESERVED: (&str, usize, usize) = ("reserved", 220, 36);

/// The national text record, fields as written with their trailing space padding removed.
/// Debug prints the personal fields as REDACTED.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct NationalText {
    pub name: String,
    /// One digit, GB/T 2261.1: 0 unknown, 1 male, 2 female, 9 unspecified.
    pub sex: String,
    /// Two digits, GB 3304.
    pub ethnicity: String,
    /// YYYYMMDD.
    pub birth: String,
    pub address: String,
    pub id_number: String,
    pub authority: String,
    /// YYYYMMDD.
    pub valid_from: String,
    /// YYYYMMDD or [`LONG_TERM`].
    pub valid_until: String,
    /// The marker at byte 248 (`J`, `I`), `None` for a resident card.
    pub permit: Option<char>,
}

impl fmt::Debug for NationalText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NationalText").field("fields", &"REDACTED").field("permit", &self.permit).finish()
    }
}

fn ymd(s: &str) -> Option<Date> {
    let fmt = time::macros::format_description!("[year][month][day]");
    if s.len() != 8 {
        return None;
    }
    Date::parse(s, &fmt).ok()
}

impl NationalText {
    /// The birth date, when it is a real calendar date.
    pub fn birth_date(&self) -> Option<Date> {
        ymd(&self.birth)
    }

    /// The validity start, when it is a real calendar date.
    pub fn valid_from_date(&self) -> Option<Date> {
        ymd(&self.valid_from)
    }

    /// The validity end, when it is long-term or a real calendar date.
    pub fn valid_until_value(&self) -> Option<ValidUntil> {
        if self.valid_until == LONG_TERM {
            Some(ValidUntil::LongTerm)
        } else {
            ymd(&self.valid_until).map(ValidUntil::Date)
        }
    }

    /// Encode the 256-byte record. Fails when a field holds more UTF-16 units than its slot (a
    /// character outside the Basic Multilingual Plane takes two, a surrogate pair) or a control
    /// character.
    pub fn to_bytes(&self) -> Result<[u8; 256], LdsError> {
        let mut out = [0u8; RECORD_LEN];
        for pair in out.chunks_exact_mut(2) {
            pair[0] = 0x20;
        }
        let fields: [((&'static str, usize, usize), &str); 9] = [
            (NAME, &self.name),
            (SEX, &self.sex),
            (ETHNICITY, &self.ethnicity),
            (BIRTH, &self.birth),
            (ADDRESS, &self.address),
            (ID_NUMBER, &self.id_number),
            (AUTHORITY, &self.authority),
            (VALID_FROM, &self.valid_from),
            (VALID_UNTIL, &self.valid_until),
        ];
        for ((name, offset, len), value) in fields {
            let cap = len / 2;
            let n = value.encode_utf16().count();
            if n > cap {
                return Err(field_err(F, name, Some(offset), format!("{n} UTF-16 units do not fit in {cap}")));
            }
            let mut at = offset;
            for c in value.chars() {
                if c.is_control() {
                    return Err(field_err(F, name, Some(at), format!("control character U+{:04X}", u32::from(c))));
                }
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    if let Some(slot) = out.get_mut(at..at + 2) {
                        slot.copy_from_slice(&u.to_le_bytes());
                    }
                    at += 2;
                }
            }
        }
        if let Some(p) = self.permit {
            if !p.is_ascii_graphic() {
                return Err(field_err(F, "permit marker", Some(PERMIT_AT), format!("{p:?} is not a printable ASCII letter")));
            }
            out[PERMIT_AT] = p as u8;
        }
        Ok(out)
    }
}

/// DG13 holding `text`.
pub fn encode_dg13(text: &NationalText) -> Result<Vec<u8>, LdsError> {
    Ok(tlv::encode(0x6D, &text.to_bytes()?))
}

/// Parse DG13.
pub fn parse_dg13(bytes: &[u8]) -> Result<NationalText, LdsError> {
    let top = tlv::parse_single(bytes, 0x6D).map_err(tlv_err(F))?;
    parse_record(top.value, top.value_offset)
}

/// Decode one field (UTF-16LE, trailing spaces removed); `base` is the file offset of the record.
fn decode_field(rec: &[u8], base: usize, (name, offset, len): (&'static str, usize, usize)) -> Result<String, LdsError> {
    let units = rec.get(offset..offset + len).unwrap_or(&[]).chunks_exact(2).map(|p| u16::from_le_bytes([p[0], p[1]]));
    // A well-formed surrogate pair is one character outside the Basic Multilingual Plane (two
    // units); a surrogate without its partner is not a character. The field's units end at its
    // slot: a high surrogate in its last unit has no partner.
    let mut out = String::new();
    let mut at = base + offset;
    for decoded in char::decode_utf16(units) {
        let c = decoded.map_err(|e| {
            let u = e.unpaired_surrogate();
            let message = if (0xD800..=0xDBFF).contains(&u) {
                format!("high surrogate {u:04X} not followed by a low surrogate")
            } else {
                format!("low surrogate {u:04X} not preceded by a high surrogate")
            };
            field_err(F, name, Some(at), message)
        })?;
        if c.is_control() {
            return Err(field_err(F, name, Some(at), format!("control character U+{:04X} (fields are padded with spaces)", u32::from(c))));
        }
        out.push(c);
        at += 2 * c.len_utf16();
    }
    Ok(out.trim_end_matches(' ').to_string())
}

/// `value` must be exactly `digits` ASCII digits.
fn digits(value: &str, digits: usize, base: usize, (name, offset, _): (&'static str, usize, usize)) -> Result<(), LdsError> {
    if value.len() != digits || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(field_err(F, name, Some(base + offset), format!("expected {digits} digits, found {value:?}")));
    }
    Ok(())
}

fn parse_record(rec: &[u8], base: usize) -> Result<NationalText, LdsError> {
    if rec.len() != RECORD_LEN {
        return Err(field_err(F, "text record", Some(base), format!("is {} bytes, expected {RECORD_LEN}", rec.len())));
    }
    let t = NationalText {
        name: decode_field(rec, base, NAME)?,
        sex: decode_field(rec, base, SEX)?,
        ethnicity: decode_field(rec, base, ETHNICITY)?,
        birth: decode_field(rec, base, BIRTH)?,
        address: decode_field(rec, base, ADDRESS)?,
        id_number: decode_field(rec, base, ID_NUMBER)?,
        authority: decode_field(rec, base, AUTHORITY)?,
        valid_from: decode_field(rec, base, VALID_FROM)?,
        valid_until: decode_field(rec, base, VALID_UNTIL)?,
        permit: None,
    };
    // The reserved area must decode too (it holds the permit marker).
    decode_field(rec, base, RESERVED)?;
    digits(&t.sex, 1, base, SEX)?;
    digits(&t.ethnicity, 2, base, ETHNICITY)?;
    digits(&t.birth, 8, base, BIRTH)?;
    digits(&t.valid_from, 8, base, VALID_FROM)?;
    if t.valid_until != LONG_TERM {
        digits(&t.valid_until, 8, base, VALID_UNTIL)?;
    }
    if let Some(i) = t.id_number.find(|c: char| !c.is_ascii_alphanumeric()) {
        return Err(field_err(F, ID_NUMBER.0, Some(base + ID_NUMBER.1 + 2 * t.id_number[..i].chars().count()), "expected digits and letters only"));
    }
    let marker = u16::from_le_bytes([rec[PERMIT_AT], rec[PERMIT_AT + 1]]);
    let permit = match marker {
        0x0020 => None,
        0x21..=0x7E => Some(char::from(marker as u8)),
        other => return Err(field_err(F, "permit marker", Some(base + PERMIT_AT), format!("unit {other:04X} is neither a space nor an ASCII letter"))),
    };
    Ok(NationalText { permit, ..t })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> NationalText {
        NationalText {
            name: "王美娜".into(),
            sex: "2".into(),
            ethnicity: "01".into(),
            birth: "19860911".into(),
            address: "河北省秦皇岛市抚宁县抚宁镇下庄村20号".into(),
            id_number: "13032319860911446X".into(),
            authority: "抚宁县公安局".into(),
            valid_from: "20110303".into(),
            valid_until: "20210303".into(),
            permit: None,
        }
    }

    #[test]
    fn worked_example_round_trips() {
        let t = example();
        let rec = t.to_bytes().expect("fits");
        assert_eq!(&rec[0..2], &[0x8B, 0x73], "王 = U+738B little-endian");
        assert_eq!(&rec[30..32], b"2\0");
        assert_eq!(&rec[220..256], &[0x20, 0][..].repeat(18)[..]);
        let dg13 = encode_dg13(&t).expect("encodes");
        assert_eq!(&dg13[..4], &[0x6D, 0x82, 0x01, 0x00]);
        let back = parse_dg13(&dg13).expect("parses");
        assert_eq!(back, t);
        assert_eq!(back.birth_date(), Some(time::macros::date!(1986 - 09 - 11)));
        assert_eq!(back.valid_until_value(), Some(ValidUntil::Date(time::macros::date!(2021 - 03 - 03))));

        let long = NationalText { valid_until: LONG_TERM.into(), permit: Some('J'), ..example() };
        let rec = long.to_bytes().expect("fits");
        assert_eq!(&rec[204..208], &[0x7F, 0x95, 0x1F, 0x67]);
        assert_eq!(rec[248], b'J');
        let back = parse_dg13(&encode_dg13(&long).expect("encodes")).expect("parses");
        assert_eq!(back, long);
        assert_eq!(back.valid_until_value(), Some(ValidUntil::LongTerm));
    }

    #[test]
    fn writer_refuses_what_does_not_fit() {
        let too_long = NationalText { name: "一二三四五六七八九十一二三四五六".into(), ..example() };
        assert!(matches!(too_long.to_bytes(), Err(LdsError::Field { field: "name", offset: Some(0), .. })));
        let fifteen = NationalText { name: "一二三四五六七八九十一二三四五".into(), ..example() };
        assert!(fifteen.to_bytes().is_ok());
        // A character outside the BMP is a surrogate pair, two of the field's 15 units.
        let fourteen_and_pair = NationalText { name: "一二三四五六七八九十一二三四𠀀".into(), ..example() };
        assert!(matches!(fourteen_and_pair.to_bytes(), Err(LdsError::Field { field: "name", offset: Some(0), .. })));
        let thirteen_and_pair = NationalText { name: "一二三四五六七八九十一二三𠀀".into(), ..example() };
        assert!(thirteen_and_pair.to_bytes().is_ok());
        let ctrl = NationalText { authority: "a\u{0}".into(), ..example() };
        assert!(matches!(ctrl.to_bytes(), Err(LdsError::Field { field: "issuing authority", offset: Some(160), .. })));
    }

    #[test]
    fn malformed_records_name_the_offset() {
        let good = encode_dg13(&example()).expect("encodes");
        let at = |o: usize| 4 + o; // record starts after 6D 82 01 00
        let mut b = good.clone();
        b[at(2)..at(4)].copy_from_slice(&[0x00, 0xD8]); // lone high surrogate in the name
        assert!(matches!(parse_dg13(&b), Err(LdsError::Field { field: "name", offset: Some(o), .. }) if o == at(2)));
        let mut b = good.clone();
        b[at(60)..at(62)].copy_from_slice(&[0x00, 0xDC]); // lone low surrogate in the address
        assert!(matches!(parse_dg13(&b), Err(LdsError::Field { field: "address", offset: Some(o), .. }) if o == at(60)));
        let mut b = good.clone();
        b[at(40)] = b'x';
        assert!(matches!(parse_dg13(&b), Err(LdsError::Field { field: "birth date", offset: Some(o), .. }) if o == at(36)));
        let mut b = good.clone();
        b[at(10)..at(12)].copy_from_slice(&[0, 0]); // NUL inside the name
        assert!(matches!(parse_dg13(&b), Err(LdsError::Field { field: "name", offset: Some(o), .. }) if o == at(10)));
        let mut b = good.clone();
        b[at(PERMIT_AT) + 1] = 0x4E;
        assert!(matches!(parse_dg13(&b), Err(LdsError::Field { field: "permit marker", .. })));
        // Odd length: a record of 255 bytes.
        let short = tlv::encode(0x6D, &good[4..259]);
        assert!(matches!(parse_dg13(&short), Err(LdsError::Field { field: "text record", offset: Some(3), .. })));
        assert!(matches!(parse_dg13(&good[..200]), Err(LdsError::Tlv { file: FileId::Dg13, .. })));
        // A surrogate pair without its low half (the next unit a space) or split by a character.
        let mut b = good.clone();
        b[at(2)..at(6)].copy_from_slice(&[0x40, 0xD8, 0x20, 0x00]);
        assert!(matches!(parse_dg13(&b), Err(LdsError::Field { field: "name", offset: Some(o), .. }) if o == at(2)));
        // A high surrogate in the last unit of the name: the next field's unit is not its partner.
        let mut b = good.clone();
        b[at(28)..at(32)].copy_from_slice(&[0x40, 0xD8, 0x00, 0xDC]);
        assert!(matches!(parse_dg13(&b), Err(LdsError::Field { field: "name", offset: Some(o), .. }) if o == at(28)));
    }

    #[test]
    fn surrogate_pairs_decode_and_round_trip() {
        let good = encode_dg13(&example()).expect("encodes");
        let at = |o: usize| 4 + o;
        // U+20000 as D840 DC00 after the first character of the name.
        let mut b = good.clone();
        b[at(2)..at(6)].copy_from_slice(&[0x40, 0xD8, 0x00, 0xDC]);
        let t = parse_dg13(&b).expect("a well-formed pair parses");
        assert_eq!(t.name, "王\u{20000}");
        assert_eq!(encode_dg13(&t).expect("re-encodes"), b, "the writer writes the same pair");
        // The writer side: a name holding U+1F600 is written as D83D DE00.
        let t = NationalText { name: "王😀".into(), ..example() };
        let rec = t.to_bytes().expect("fits");
        assert_eq!(&rec[2..6], &[0x3D, 0xD8, 0x00, 0xDE]);
        assert_eq!(parse_dg13(&encode_dg13(&t).expect("encodes")).expect("parses"), t);
    }

    /// The input the fuzzer found (fuzz/ target lds): a surrogate pair in the address (U+CFF00 at
    /// record offset 98). It once parsed to a value the writer refused; now the pair decodes to
    /// its character and the writer writes it back, so the parse round-trips.
    #[test]
    fn fuzz_found_surrogate_pair_parses_and_round_trips() {
        let hex = [
            "6d820100395c1d6020002000200020002000200020002000200020002000200020003100300031003200300030003200",
            "30003300340030003400300038002000200020002000200020002000200020002000200020002000200020002000a000",
            "2000e0ffdfffffda00df3200300020002000200020002000200020002000340035003000320030003300340030003400",
            "300038002000200020002000200020002000200020002000200020002000200020002000200020002000200020002000",
            "320030003200340030003400300038003200300033003400300034003000380020002000200020002000200020002000",
            "2000200020002000200020002000200020002000",
        ]
        .concat();
        let bytes = hex::decode(hex).expect("hex");
        let t = parse_dg13(&bytes).expect("a well-formed surrogate pair parses");
        assert!(t.address.contains('\u{CFF00}'), "the pair DAFF DF00 decodes to U+CFF00");
        assert_eq!(encode_dg13(&t).ok().and_then(|b| parse_dg13(&b).ok()), Some(t));
    }
}

//! DG11 (tag 6B, additional personal details) and DG12 (tag 6C, additional document details):
//! a tag list (5C) first, then UTF-8 data elements. This profile reads DG11 5F0E full name,
//! 5F10 personal number, 5F2B birth date, 5F42 address and DG12 5F19 issuing authority, 5F26 date
//! of issue; other ICAO elements are skipped. Parsing and writing.

use std::fmt;

use super::{field_err, tlv_err, FileId, LdsError};
use crate::tlv::{self, Tag};

/// DG11 elements of this profile. Debug prints the values as REDACTED.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Dg11 {
    /// 5F0E
    pub full_name: Option<String>,
    /// 5F10, the citizen ID number.
    pub personal_number: Option<String>,
    /// 5F2B, YYYYMMDD (a 4-byte BCD value is converted to its 8 digits).
    pub birth_date: Option<String>,
    /// 5F42
    pub address: Option<String>,
}

impl fmt::Debug for Dg11 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = |o: &Option<String>| if o.is_some() { "REDACTED" } else { "absent" };
        f.debug_struct("Dg11")
            .field("full_name", &r(&self.full_name))
            .field("personal_number", &r(&self.personal_number))
            .field("birth_date", &r(&self.birth_date))
            .field("address", &r(&self.address))
            .finish()
    }
}

/// DG12 elements of this profile.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Dg12 {
    /// 5F19
    pub issuing_authority: Option<String>,
    /// 5F26, YYYYMMDD (a 4-byte BCD value is converted to its 8 digits).
    pub date_of_issue: Option<String>,
}

/// (tag, field name, is a date)
type Element = (Tag, &'static str, bool);

const DG11_ELEMENTS: [Element; 4] =
    [(0x5F0E, "full name (5F0E)", false), (0x5F10, "personal number (5F10)", false), (0x5F2B, "birth date (5F2B)", true), (0x5F42, "address (5F42)", false)];
const DG12_ELEMENTS: [Element; 2] = [(0x5F19, "issuing authority (5F19)", false), (0x5F26, "date of issue (5F26)", true)];

/// Encode a template: the tag list of the present elements, then the elements in that order.
fn encode_template(tag: Tag, values: &[(Tag, Option<&String>)]) -> Vec<u8> {
    let present: Vec<(Tag, &String)> = values.iter().filter_map(|(t, v)| v.map(|v| (*t, v))).collect();
    let mut list = Vec::new();
    for (t, _) in &present {
        tlv::encode_tag(&mut list, *t);
    }
    let mut children = vec![tlv::encode(0x5C, &list)];
    children.extend(present.iter().map(|(t, v)| tlv::encode(*t, v.as_bytes())));
    tlv::encode_seq(tag, &children)
}

/// DG11 holding the present elements.
pub fn encode_dg11(d: &Dg11) -> Vec<u8> {
    encode_template(
        0x6B,
        &[(0x5F0E, d.full_name.as_ref()), (0x5F10, d.personal_number.as_ref()), (0x5F2B, d.birth_date.as_ref()), (0x5F42, d.address.as_ref())],
    )
}

/// DG12 holding the present elements.
pub fn encode_dg12(d: &Dg12) -> Vec<u8> {
    encode_template(0x6C, &[(0x5F19, d.issuing_authority.as_ref()), (0x5F26, d.date_of_issue.as_ref())])
}

/// Parse DG11.
pub fn parse_dg11(bytes: &[u8]) -> Result<Dg11, LdsError> {
    let v = parse_template(bytes, FileId::Dg11, &DG11_ELEMENTS)?;
    let [full_name, personal_number, birth_date, address] = v;
    Ok(Dg11 { full_name, personal_number, birth_date, address })
}

/// Parse DG12.
pub fn parse_dg12(bytes: &[u8]) -> Result<Dg12, LdsError> {
    let v = parse_template(bytes, FileId::Dg12, &DG12_ELEMENTS)?;
    let [issuing_authority, date_of_issue] = v;
    Ok(Dg12 { issuing_authority, date_of_issue })
}

/// Decode the tags of a tag list (5C), each with its offset.
fn tag_list(value: &[u8], base: usize, file: FileId) -> Result<Vec<Tag>, LdsError> {
    let mut tags = Vec::new();
    let mut i = 0;
    while i < value.len() {
        let start = i;
        let first = value[i];
        let mut tag = Tag::from(first);
        i += 1;
        if first & 0x1F == 0x1F {
            loop {
                let Some(&b) = value.get(i) else {
                    return Err(field_err(file, "tag list (5C)", Some(base + start), "truncated tag"));
                };
                i += 1;
                if i - start > 4 {
                    return Err(field_err(file, "tag list (5C)", Some(base + start), "tag longer than 4 bytes"));
                }
                tag = (tag << 8) | Tag::from(b);
                if b & 0x80 == 0 {
                    break;
                }
            }
        }
        tags.push(tag);
    }
    Ok(tags)
}

/// A 4-byte BCD date (old DG11/DG12 encodings) as its 8 digits.
fn bcd_date(v: &[u8]) -> Option<String> {
    if v.len() != 4 {
        return None;
    }
    let mut s = String::with_capacity(8);
    for &b in v {
        for nib in [b >> 4, b & 0x0F] {
            s.push(char::from_digit(u32::from(nib), 10)?);
        }
    }
    Some(s)
}

fn parse_template<const N: usize>(bytes: &[u8], file: FileId, elements: &[Element; N]) -> Result<[Option<String>; N], LdsError> {
    let top = tlv::parse_single(bytes, Tag::from(file.lds_tag())).map_err(tlv_err(file))?;
    let mut r = top.children();
    let list_at = r.offset();
    let list = r.next_tlv().map_err(tlv_err(file))?;
    if list.tag != 0x5C {
        return Err(field_err(file, "tag list (5C)", Some(list_at), format!("the template must start with the tag list 5C, found {:X}", list.tag)));
    }
    let listed = tag_list(list.value, list.value_offset, file)?;
    let mut out: [Option<String>; N] = std::array::from_fn(|_| None);
    while !r.is_empty() {
        let t = r.next_tlv().map_err(tlv_err(file))?;
        let Some(k) = elements.iter().position(|(tag, _, _)| *tag == t.tag) else {
            continue; // another ICAO element: not used by this profile
        };
        let (tag, field, is_date) = elements[k];
        if !listed.contains(&tag) {
            return Err(field_err(file, field, Some(t.offset), "element present but not named in the tag list"));
        }
        if out[k].is_some() {
            return Err(field_err(file, field, Some(t.offset), "element appears twice"));
        }
        // A 4-byte date can only be BCD (the text form has 8 characters).
        let value = match is_date.then(|| bcd_date(t.value)).flatten() {
            Some(d) => d,
            None => match std::str::from_utf8(t.value) {
                Ok(s) => s.to_string(),
                Err(e) => return Err(field_err(file, field, Some(t.value_offset + e.valid_up_to()), "invalid UTF-8")),
            },
        };
        out[k] = Some(value);
    }
    for (k, (tag, field, _)) in elements.iter().enumerate() {
        if listed.contains(tag) && out[k].is_none() {
            return Err(field_err(file, field, Some(list.value_offset), "named in the tag list but absent"));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let d = Dg11 {
            full_name: Some("王美娜".into()),
            personal_number: Some("13032319860911446X".into()),
            birth_date: Some("19860911".into()),
            address: Some("河北省秦皇岛市抚宁县抚宁镇下庄村20号".into()),
        };
        assert_eq!(parse_dg11(&encode_dg11(&d)).expect("parses"), d);
        let partial = Dg11 { personal_number: Some("X".into()), ..Dg11::default() };
        assert_eq!(parse_dg11(&encode_dg11(&partial)).expect("parses"), partial);
        let e = Dg12 { issuing_authority: Some("抚宁县公安局".into()), date_of_issue: Some("20110303".into()) };
        assert_eq!(parse_dg12(&encode_dg12(&e)).expect("parses"), e);
        assert_eq!(parse_dg12(&encode_dg12(&Dg12::default())).expect("parses"), Dg12::default());
        assert!(!format!("{d:?}").contains("王"));
    }

    #[test]
    fn icao_extras_and_bcd_dates() {
        // A passport DG11 with other names (A0) and place of birth (5F11), BCD birth date.
        let list = [0x5F, 0x0E, 0xA0, 0x5F, 0x11, 0x5F, 0x2B];
        let dg = tlv::encode_seq(
            0x6B,
            &[
                tlv::encode(0x5C, &list),
                tlv::encode(0x5F0E, b"SMITH<<JOHN"),
                tlv::encode_seq(0xA0, &[tlv::encode(0x02, &[1]), tlv::encode(0x5F0F, b"JOHNNY")]),
                tlv::encode(0x5F11, b"ANYTOWN"),
                tlv::encode(0x5F2B, &[0x19, 0x74, 0x08, 0x12]),
            ],
        );
        let d = parse_dg11(&dg).expect("parses");
        assert_eq!(d.full_name.as_deref(), Some("SMITH<<JOHN"));
        assert_eq!(d.birth_date.as_deref(), Some("19740812"));
        assert_eq!(d.address, None);
    }

    #[test]
    fn malformed() {
        let good = encode_dg12(&Dg12 { issuing_authority: Some("局".into()), date_of_issue: Some("20110303".into()) });
        // Tag list not first.
        let swapped = tlv::encode_seq(0x6C, &[tlv::encode(0x5F19, "局".as_bytes()), tlv::encode(0x5C, &[0x5F, 0x19])]);
        assert!(matches!(parse_dg12(&swapped), Err(LdsError::Field { field: "tag list (5C)", offset: Some(2), .. })));
        // Invalid UTF-8 names the byte.
        let bad = tlv::encode_seq(0x6C, &[tlv::encode(0x5C, &[0x5F, 0x19]), tlv::encode(0x5F19, &[b'a', 0xFF])]);
        assert!(matches!(parse_dg12(&bad), Err(LdsError::Field { field: "issuing authority (5F19)", offset: Some(10), .. })));
        // Listed but absent, present but unlisted.
        let absent = tlv::encode_seq(0x6C, &[tlv::encode(0x5C, &[0x5F, 0x19, 0x5F, 0x26]), tlv::encode(0x5F19, b"a")]);
        assert!(matches!(parse_dg12(&absent), Err(LdsError::Field { field: "date of issue (5F26)", .. })));
        let unlisted = tlv::encode_seq(0x6C, &[tlv::encode(0x5C, &[]), tlv::encode(0x5F19, b"a")]);
        assert!(matches!(parse_dg12(&unlisted), Err(LdsError::Field { field: "issuing authority (5F19)", .. })));
        assert!(matches!(parse_dg12(&[0x5C]), Err(LdsError::Tlv { file: FileId::Dg12, .. })));
        assert!(matches!(parse_dg11(&good), Err(LdsError::Tlv { file: FileId::Dg11, .. })));
        let truncated_list = tlv::encode_seq(0x6B, &[tlv::encode(0x5C, &[0x5F])]);
        assert!(matches!(parse_dg11(&truncated_list), Err(LdsError::Field { field: "tag list (5C)", offset: Some(4), .. })));
    }
}

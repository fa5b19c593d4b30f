//! Text items from the three sources, normalised so they can be compared: Unicode NFC, full-width
//! ASCII folded to half-width, whitespace removed, and printed forms mapped to record values
//! (男/女 -> 1/2, 汉 -> 01, `1990年1月1日` -> 1990-01-01, `2026.11.20-长期` -> valid_from and
//! valid_until). Pure functions: no I/O.

use std::collections::BTreeMap;

use unicode_normalization::UnicodeNormalization;

use crate::model::{iso_date, AcceptanceRecord, SurfaceRecord, TextItem, ValidUntil};

/// The value of each text item a source carries, normalised. An item a source lacks is absent.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TextValues(pub BTreeMap<TextItem, String>);

impl std::fmt::Debug for TextValues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Personal text: only the item names are printed.
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl TextValues {
    pub fn get(&self, item: TextItem) -> Option<&str> {
        self.0.get(&item).map(String::as_str)
    }
    pub fn set(&mut self, item: TextItem, value: &str) {
        self.0.insert(item, normalize_item(item, value));
    }
}

/// The long-term marker used as the normalised `valid_until` of a long-term card.
pub const LONG_TERM: &str = "long-term";

/// NFC, full-width ASCII (U+FF01..U+FF5E) and the ideographic space folded to ASCII, all
/// whitespace removed.
pub fn normalize(s: &str) -> String {
    s.nfc()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFF01 + 0x21).unwrap_or(c),
            '\u{3000}' => ' ',
            _ => c,
        })
        .filter(|c| !c.is_whitespace())
        .collect()
}

/// [`normalize`] plus the item's own canonical form (upper-case check character `x` -> `X`).
pub fn normalize_item(item: TextItem, s: &str) -> String {
    let n = normalize(s);
    match item {
        TextItem::IdNumber => n.to_uppercase(),
        _ => n,
    }
}

/// Values from the acceptance record.
pub fn from_acceptance(r: &AcceptanceRecord) -> TextValues {
    let mut v = TextValues::default();
    v.set(TextItem::Name, &r.name);
    v.set(TextItem::Sex, &r.sex);
    v.set(TextItem::Ethnicity, &r.ethnicity);
    v.set(TextItem::BirthDate, &iso_date(r.birth_date));
    v.set(TextItem::Address, &r.address);
    v.set(TextItem::IdNumber, &r.id_number);
    v.set(TextItem::IssuingAuthority, &r.issuing_authority);
    v.set(TextItem::ValidFrom, &iso_date(r.valid_from));
    v.set(TextItem::ValidUntil, &valid_until_text(r.valid_until));
    v
}

pub fn valid_until_text(v: ValidUntil) -> String {
    match v {
        ValidUntil::Date(d) => iso_date(d),
        ValidUntil::LongTerm => LONG_TERM.to_string(),
    }
}

/// Values printed on the card surface, mapped to record values. `ethnicity_code` maps a printed
/// short name (汉) to its code (01). A printed value that cannot be mapped is kept as printed
/// (normalised), so that the comparison reports it.
pub fn from_surface(s: &SurfaceRecord, ethnicity_code: impl Fn(&str) -> Option<String>) -> TextValues {
    let mut v = TextValues::default();
    v.set(TextItem::Name, &s.name);
    let sex = normalize(&s.sex);
    v.set(
        TextItem::Sex,
        match sex.as_str() {
            "男" => "1",
            "女" => "2",
            other => other,
        },
    );
    let eth = normalize(&s.ethnicity);
    let eth = ethnicity_code(&eth).unwrap_or(eth);
    v.set(TextItem::Ethnicity, &eth);
    let birth = normalize(&s.birth);
    v.set(TextItem::BirthDate, &printed_birth(&birth).unwrap_or(birth));
    v.set(TextItem::Address, &s.address);
    v.set(TextItem::IdNumber, &s.id_number);
    v.set(TextItem::IssuingAuthority, &s.issuing_authority);
    let validity = normalize(&s.validity);
    match printed_validity(&validity) {
        Some((from, until)) => {
            v.set(TextItem::ValidFrom, &from);
            v.set(TextItem::ValidUntil, &until);
        }
        None => {
            v.set(TextItem::ValidFrom, &validity);
            v.set(TextItem::ValidUntil, &validity);
        }
    }
    v
}

/// `1986年9月11日` -> `1986-09-11`.
pub fn printed_birth(s: &str) -> Option<String> {
    let (y, rest) = s.split_once('年')?;
    let (m, rest) = rest.split_once('月')?;
    let d = rest.strip_suffix('日')?;
    ymd(y, m, d)
}

fn ymd(y: &str, m: &str, d: &str) -> Option<String> {
    let all_digits = |s: &str| !s.is_empty() && s.len() <= 4 && s.bytes().all(|b| b.is_ascii_digit());
    if !(all_digits(y) && y.len() == 4 && all_digits(m) && all_digits(d)) {
        return None;
    }
    let (y, m, d): (i32, u8, u8) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    let month = time::Month::try_from(m).ok()?;
    let date = time::Date::from_calendar_date(y, month, d).ok()?;
    Some(iso_date(date))
}

/// `YYYY.MM.DD` -> `YYYY-MM-DD`.
pub fn dotted_date(s: &str) -> Option<String> {
    let mut it = s.split('.');
    let (y, m, d) = (it.next()?, it.next()?, it.next()?);
    if it.next().is_some() || m.len() != 2 || d.len() != 2 {
        return None;
    }
    ymd(y, m, d)
}

/// `YYYYMMDD` -> `YYYY-MM-DD`.
pub fn compact_date(s: &str) -> Option<String> {
    if s.len() != 8 || !s.is_ascii() {
        return None;
    }
    ymd(&s[0..4], &s[4..6], &s[6..8])
}

/// `2011.03.03-2021.03.03` or `2011.03.03-长期` -> (from, until).
pub fn printed_validity(s: &str) -> Option<(String, String)> {
    let (from, until) = s.split_once(['-', '—', '–', '－'])?;
    let from = dotted_date(from)?;
    let until = if until == "长期" { LONG_TERM.to_string() } else { dotted_date(until)? };
    Some((from, until))
}

/// Levenshtein distance in characters.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The printed form of a record value, for reports: inverse of the surface mapping.
pub fn printed_form(item: TextItem, value: &str, ethnicity_name: impl Fn(&str) -> Option<String>) -> String {
    match item {
        TextItem::Sex => match value {
            "1" => "男".into(),
            "2" => "女".into(),
            v => v.into(),
        },
        TextItem::Ethnicity => ethnicity_name(value).unwrap_or_else(|| value.into()),
        _ => value.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation() {
        assert_eq!(normalize("ＡＢ１２ 3\u{3000}王"), "AB123王");
        assert_eq!(normalize_item(TextItem::IdNumber, "13032319860911446x"), "13032319860911446X");
        // NFC: e + combining acute == é
        assert_eq!(normalize("e\u{301}"), "é");
    }

    #[test]
    fn printed_forms() {
        assert_eq!(printed_birth("1986年9月11日").as_deref(), Some("1986-09-11"));
        assert_eq!(printed_birth("1986年13月11日"), None);
        assert_eq!(printed_birth("1986年2月30日"), None);
        assert_eq!(
            printed_validity("2011.03.03-2021.03.03"),
            Some(("2011-03-03".into(), "2021-03-03".into()))
        );
        assert_eq!(printed_validity("2026.11.20-长期"), Some(("2026-11-20".into(), LONG_TERM.into())));
        assert_eq!(printed_validity("2026.11.20"), None);
        assert_eq!(compact_date("19860911").as_deref(), Some("1986-09-11"));
        assert_eq!(compact_date("1986091"), None);
    }

    #[test]
    fn distances() {
        assert_eq!(edit_distance("王美娜", "王美娜"), 0);
        assert_eq!(edit_distance("王美娜", "王美"), 1);
        assert_eq!(edit_distance("王美娜", "汪美那"), 2);
        assert_eq!(edit_distance("", "abc"), 3);
    }
}

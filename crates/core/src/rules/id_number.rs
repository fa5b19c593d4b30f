//! Cause-4 rules on the citizen ID number (GB 11643-1999): 18 characters, ISO 7064 MOD 11-2 check
//! character, a region code listed in some revision of GB/T 2260, the birth-date part equal to
//! the birth date, and the sequence parity equal to the sex (odd male, even female).

use time::{Date, Month};

use super::regions;
use crate::model::{iso_date, AcceptanceRecord};
use crate::verdict::{Cause, Finding, Sources};

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK_CHARS: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];

/// The ISO 7064 MOD 11-2 check character of the first 17 digits; None unless `first17` is
/// exactly 17 ASCII digits.
pub fn check_character(first17: &str) -> Option<char> {
    if first17.len() != 17 || !first17.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let sum: u32 = first17
        .bytes()
        .zip(WEIGHTS)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    usize::try_from(sum % 11)
        .ok()
        .and_then(|i| CHECK_CHARS.get(i).copied())
}

fn finding(detail: String, expected: impl Into<String>, actual: impl Into<String>) -> Finding {
    Finding::new(Cause::AcceptanceIncorrect, "id_number", Sources::A, detail)
        .values(expected, actual)
}

fn compact_date(d: Date) -> String {
    format!("{:04}{:02}{:02}", d.year(), u8::from(d.month()), d.day())
}

/// Judge an ID number against the record's birth date and sex code. A number of the wrong
/// length or form gives one finding and no further checks; otherwise one finding per rule broken.
/// The parity rule is skipped when `sex` is not 1 or 2 (the sex rule reports that).
pub fn check_id_number(id: &str, birth_date: Date, sex: &str) -> Vec<Finding> {
    let n = id.chars().count();
    if n != 18 {
        return vec![finding(
            format!("the ID number has {n} characters, not 18"),
            "18 characters",
            id,
        )];
    }
    let (true, Some(first17), Some(last)) = (id.is_ascii(), id.get(..17), id.get(17..)) else {
        return vec![finding(
            "the ID number holds non-ASCII characters".into(),
            "17 digits then a digit or X",
            id,
        )];
    };
    if !first17.bytes().all(|b| b.is_ascii_digit()) {
        return vec![finding(
            "the first 17 characters of the ID number are not all digits".into(),
            "17 digits then a digit or X",
            id,
        )];
    }
    let mut out = Vec::new();
    let expected_check = check_character(first17);
    match last {
        "x" => out.push(finding(
            "the check character must be an upper-case X".into(),
            "X",
            "x",
        )),
        l if l.len() == 1 && (l.as_bytes().iter().all(u8::is_ascii_digit) || l == "X") => {
            if let Some(c) = expected_check {
                if !l.starts_with(c) {
                    out.push(finding(
                        format!("ISO 7064 MOD 11-2 check character is wrong: {first17} gives {c}, the number has {l}"),
                        format!("{first17}{c}"),
                        id,
                    ));
                }
            }
        }
        l => out.push(finding(
            format!("the check character `{l}` is not a digit or X"),
            "a digit or X",
            l,
        )),
    }
    let region = first17.get(..6).unwrap_or("");
    if regions::lookup(region).is_none() {
        out.push(finding(
            format!("region code {region} is not listed in any revision of GB/T 2260 (1980-2022)"),
            "a GB/T 2260 region code",
            region,
        ));
    }
    let birth_part = first17.get(6..14).unwrap_or("");
    let expected_birth = compact_date(birth_date);
    if birth_part != expected_birth {
        let detail = match parse_compact_date(birth_part) {
            Some(_) => format!(
                "birth-date part {birth_part} differs from the birth date {}",
                iso_date(birth_date)
            ),
            None => format!(
                "birth-date part {birth_part} is not a calendar date (birth date {})",
                iso_date(birth_date)
            ),
        };
        out.push(finding(detail, expected_birth, birth_part));
    }
    let seq = first17.get(14..17).unwrap_or("");
    let odd = seq.bytes().last().is_some_and(|b| (b - b'0') % 2 == 1);
    let (want_odd, sex_word) = match sex {
        "1" => (Some(true), "male"),
        "2" => (Some(false), "female"),
        _ => (None, ""),
    };
    if let Some(want_odd) = want_odd {
        if odd != want_odd {
            let parity = |o: bool| if o { "odd" } else { "even" };
            out.push(finding(
                format!("sequence number {seq} is {}, but the sex is {sex} ({sex_word}): odd is male, even female", parity(odd)),
                format!("an {} sequence number", parity(want_odd)),
                seq,
            ));
        }
    }
    out
}

fn parse_compact_date(s: &str) -> Option<Date> {
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let y: i32 = s.get(..4)?.parse().ok()?;
    let m: u8 = s.get(4..6)?.parse().ok()?;
    let d: u8 = s.get(6..8)?.parse().ok()?;
    Date::from_calendar_date(y, Month::try_from(m).ok()?, d).ok()
}

/// The ID-number rules on a record.
pub fn check(record: &AcceptanceRecord) -> Vec<Finding> {
    check_id_number(&record.id_number, record.birth_date, &record.sex)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn date(s: &str) -> Date {
        crate::records::parse_date(s).expect("test date")
    }

    /// Birth date and sex as written in the number itself.
    fn parts(id: &str) -> (Date, &'static str) {
        let b = parse_compact_date(&id[6..14]).expect("date part");
        let odd = (id.as_bytes()[16] - b'0') % 2 == 1;
        (b, if odd { "1" } else { "2" })
    }

    #[test]
    fn published_valid_numbers() {
        // 34052419800101001X is listed as valid in resident-id.md but 340524 is absent from the
        // GB/T 2260 table; it is checked separately below.
        for id in [
            "11010519491231002X",
            "440524188001010014",
            "13032319860911446X",
            "370101190102039973",
            "513101198201130014",
            "450330200201139792",
        ] {
            let (b, sex) = parts(id);
            let f = check_id_number(id, b, sex);
            assert!(f.is_empty(), "{id}: {f:?}");
            assert_eq!(check_character(&id[..17]), id.chars().last());
        }
    }

    #[test]
    fn region_missing_from_table_is_reported() {
        let id = "34052419800101001X";
        assert_eq!(check_character(&id[..17]), Some('X'));
        let f = check_id_number(id, date("1980-01-01"), "1");
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].actual.as_deref(), Some("340524"));
    }

    #[test]
    fn broken_numbers() {
        let b = date("1986-09-11");
        // (id, sex, how many findings, word in the first detail, expected value of the first)
        let cases: [(&str, &str, usize, &str, Option<&str>); 11] = [
            (
                "13032319860911446",
                "2",
                1,
                "17 characters",
                Some("18 characters"),
            ),
            ("13032319860911446X1", "2", 1, "19 characters", None),
            (
                "130323198609114461",
                "2",
                1,
                "check character",
                Some("13032319860911446X"),
            ),
            ("13032319860911446x", "2", 1, "upper-case", Some("X")),
            ("1303231986091144AX", "2", 1, "not all digits", None),
            ("13032319860911446Y", "2", 1, "not a digit or X", None),
            (
                "13032319860911446X",
                "1",
                1,
                "odd is male",
                Some("an odd sequence number"),
            ),
            ("93032319860911446X", "2", 2, "check character", None),
            (
                "130323198609124465",
                "2",
                1,
                "differs from the birth date",
                Some("19860911"),
            ),
            ("130323198613114461", "2", 2, "check character", None),
            ("１３0323198609114461", "2", 1, "non-ASCII", None),
        ];
        for (id, sex, n, word, expected) in cases {
            let f = check_id_number(id, b, sex);
            assert_eq!(f.len(), n, "{id}: {f:?}");
            assert!(f[0].detail.contains(word), "{id}: {}", f[0].detail);
            assert_eq!(
                (f[0].cause, f[0].item.as_str(), f[0].sources),
                (Cause::AcceptanceIncorrect, "id_number", Sources::A)
            );
            if let Some(e) = expected {
                assert_eq!(f[0].expected.as_deref(), Some(e), "{id}");
            }
        }
        // A valid number given with another person's birth date.
        let f = check_id_number("13032319860911446X", date("1986-09-12"), "2");
        assert_eq!((f.len(), f[0].actual.as_deref()), (1, Some("19860911")));
        // An unjudgeable sex code skips the parity rule.
        assert!(check_id_number("13032319860911446X", b, "9").is_empty());
    }

    #[test]
    fn month_13_is_not_a_date() {
        let f = check_id_number("130323198613114461", date("1986-09-11"), "2");
        assert!(
            f.iter().any(|f| f.detail.contains("not a calendar date")),
            "{f:?}"
        );
    }

    proptest! {
        #[test]
        fn any_text_never_panics(id in "\\PC{0,24}", sex in "[0-9]") {
            let _ = check_id_number(&id, date("2000-02-29"), &sex);
        }

        #[test]
        fn any_single_digit_change_is_caught(pos in 0usize..17, delta in 1u8..10) {
            let id = "13032319860911446X";
            let mut b = id.as_bytes().to_vec();
            b[pos] = b'0' + (b[pos] - b'0' + delta) % 10;
            let changed = String::from_utf8(b).expect("ascii");
            let f = check_id_number(&changed, date("1986-09-11"), "2");
            prop_assert!(f.iter().any(|f| f.detail.contains("check character")), "{changed}: {f:?}");
        }
    }
}

//! GB/T 2260 administrative division codes, every revision 1980–2022 (data/gb2260.tsv, compiled
//! in): the region part of a citizen ID number must be listed in at least one revision.

use std::collections::HashMap;
use std::sync::OnceLock;

const TABLE: &str = include_str!("../../../../data/gb2260.tsv");

/// One region code: its name and the first and last revision listing it (`YYYYMM`, or `YYYY`
/// for the 2022 list, as in the table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    pub code: u32,
    pub name: &'static str,
    pub first: &'static str,
    pub last: &'static str,
}

fn parse_table(text: &'static str) -> HashMap<u32, Region> {
    let mut map = HashMap::new();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let mut cols = line.split('\t');
        let (Some(code), Some(name), Some(first), Some(last)) =
            (cols.next(), cols.next(), cols.next(), cols.next())
        else {
            continue;
        };
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(n) = code.parse::<u32>() else { continue };
        map.insert(
            n,
            Region {
                code: n,
                name,
                first,
                last,
            },
        );
    }
    map
}

fn table() -> &'static HashMap<u32, Region> {
    static T: OnceLock<HashMap<u32, Region>> = OnceLock::new();
    T.get_or_init(|| parse_table(TABLE))
}

/// The region with this 6-digit code, if any revision of GB/T 2260 lists it.
pub fn lookup(code: &str) -> Option<Region> {
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    code.parse::<u32>()
        .ok()
        .and_then(|n| table().get(&n).copied())
}

/// Number of codes in the compiled table.
pub fn len() -> usize {
    table().len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_data_line_parses() {
        let data_lines = TABLE
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .count();
        assert_eq!(len(), data_lines, "no line skipped, no duplicate code");
        assert!(len() > 7000);
    }

    #[test]
    fn historical_and_current_codes() {
        let r = lookup("130323").expect("抚宁县");
        assert_eq!(r.name, "抚宁县");
        assert!(r.last.starts_with("2015"), "{r:?}");
        let r = lookup("440524").expect("潮阳县");
        assert_eq!((r.first, r.name), ("198312", "潮阳县"));
        assert!(r.last.starts_with("1992"), "{r:?}");
        assert_eq!(lookup("110101").map(|r| r.last), Some("2022"));
        for bad in ["000000", "999999", "11010", "1101011", "11010a", ""] {
            assert_eq!(lookup(bad), None, "{bad}");
        }
    }
}

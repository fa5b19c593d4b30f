//! Cause-4 rules on the free-text items of the acceptance record (name, address, issuing
//! authority: not empty, length limit of the chip field, Basic Multilingual Plane only, no control
//! characters) and on the sex code (GB/T 2261.1: 1 or 2 on a card).

use crate::model::{AcceptanceRecord, TextItem};
use crate::verdict::{Cause, Finding, Sources};

/// Character limit of a text item (the chip fields hold 30 / 70 / 30 bytes of UTF-16LE).
pub fn max_chars(item: TextItem) -> Option<usize> {
    match item {
        TextItem::Name => Some(15),
        TextItem::Address => Some(35),
        TextItem::IssuingAuthority => Some(15),
        _ => None,
    }
}

fn finding(
    item: TextItem,
    detail: String,
    expected: impl Into<String>,
    actual: impl Into<String>,
) -> Finding {
    Finding::new(Cause::AcceptanceIncorrect, item.name(), Sources::A, detail)
        .values(expected, actual)
}

/// Judge one free-text item (`Name`, `Address` or `IssuingAuthority`): one finding per rule broken.
pub fn check_text(item: TextItem, value: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    let limit = max_chars(item).unwrap_or(usize::MAX);
    if value.trim().is_empty() {
        out.push(finding(
            item,
            format!("{item} is empty"),
            "a non-empty value",
            value,
        ));
        return out;
    }
    let n = value.chars().count();
    if n > limit {
        out.push(finding(
            item,
            format!("{item} has {n} characters, more than the {limit} the chip field holds"),
            format!("at most {limit} characters"),
            value,
        ));
    }
    let outside: Vec<String> = value
        .chars()
        .filter(|c| u32::from(*c) > 0xFFFF)
        .map(|c| format!("U+{:X}", u32::from(c)))
        .collect();
    if !outside.is_empty() {
        out.push(finding(
            item,
            format!("{item} has characters outside the Basic Multilingual Plane, which the chip cannot hold: {}", outside.join(" ")),
            "characters of the Basic Multilingual Plane only",
            value,
        ));
    }
    let controls: Vec<String> = value
        .chars()
        .filter(|c| c.is_control())
        .map(|c| format!("U+{:04X}", u32::from(c)))
        .collect();
    if !controls.is_empty() {
        out.push(finding(
            item,
            format!("{item} contains control characters: {}", controls.join(" ")),
            "no control characters",
            value.escape_debug().to_string(),
        ));
    }
    out
}

/// Judge the sex code: `1` (male) or `2` (female).
pub fn check_sex(value: &str) -> Vec<Finding> {
    if value == "1" || value == "2" {
        return Vec::new();
    }
    vec![finding(
        TextItem::Sex,
        format!("sex code `{value}` is not 1 (male) or 2 (female)"),
        "1 or 2",
        value,
    )]
}

/// All free-text and sex rules of a record.
pub fn check(record: &AcceptanceRecord) -> Vec<Finding> {
    let mut out = check_text(TextItem::Name, &record.name);
    out.extend(check_sex(&record.sex));
    out.extend(check_text(TextItem::Address, &record.address));
    out.extend(check_text(
        TextItem::IssuingAuthority,
        &record.issuing_authority,
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_rules_table() {
        let long_name = "欧阳".repeat(8); // 16 characters
        let name15 = "欧".repeat(15);
        let addr35 = "河".repeat(35);
        let addr36 = "河".repeat(36);
        // (item, value, expected number of findings, a word the first detail must contain)
        let cases: Vec<(TextItem, &str, usize, &str)> = vec![
            (TextItem::Name, "王美娜", 0, ""),
            (TextItem::Name, &name15, 0, ""),
            (TextItem::Name, &long_name, 1, "16 characters"),
            (TextItem::Name, "", 1, "empty"),
            (TextItem::Name, "  ", 1, "empty"),
            (TextItem::Name, "王𠀀娜", 1, "Basic Multilingual Plane"),
            (TextItem::Name, "王\u{7}娜", 1, "control"),
            (TextItem::Name, "王\n娜", 1, "control"),
            (TextItem::Address, &addr35, 0, ""),
            (TextItem::Address, &addr36, 1, "more than the 35"),
            (
                TextItem::Address,
                "河北省秦皇岛市抚宁县抚宁镇下庄村20号",
                0,
                "",
            ),
            (TextItem::IssuingAuthority, "抚宁县公安局", 0, ""),
            (TextItem::IssuingAuthority, "", 1, "empty"),
            (
                TextItem::IssuingAuthority,
                "公安局公安局公安局公安局公安局公",
                1,
                "more than the 15",
            ),
        ];
        for (item, value, n, word) in cases {
            let f = check_text(item, value);
            assert_eq!(f.len(), n, "{item} {value:?}: {f:?}");
            if let Some(f) = f.first() {
                assert!(f.detail.contains(word), "{item} {value:?}: {}", f.detail);
                assert_eq!(
                    (f.cause, f.item.as_str(), f.sources),
                    (Cause::AcceptanceIncorrect, item.name(), Sources::A)
                );
                assert!(f.expected.is_some() && f.actual.is_some());
            }
        }
        // Several rules broken at once: one finding each.
        let bad = format!("{}𠀀\u{1}", "王".repeat(15));
        assert_eq!(check_text(TextItem::Name, &bad).len(), 3);
    }

    #[test]
    fn sex_rule_table() {
        for (v, ok) in [
            ("1", true),
            ("2", true),
            ("0", false),
            ("9", false),
            ("", false),
            ("男", false),
            ("1 ", false),
            ("12", false),
        ] {
            let f = check_sex(v);
            assert_eq!(f.is_empty(), ok, "{v:?}");
            if let Some(f) = f.first() {
                assert_eq!((f.item.as_str(), f.actual.as_deref()), ("sex", Some(v)));
            }
        }
    }
}

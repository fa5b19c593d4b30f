//! Text items across A, S and C with the attribution of causes.md, and the chip's internal
//! consistency (DG13 against DG1, DG11 and DG12).

use idcheck_core::compare::text::{self, TextValues, LONG_TERM};
use idcheck_core::lds::ChipData;
use idcheck_core::model::{AcceptanceRecord, SurfaceRecord, TextItem};
use idcheck_core::rules::RuleConfig;
use idcheck_core::verdict::{attribute, Agreement, Cause, Finding, Sources};

use super::Report;

pub(super) fn compare(
    record: &AcceptanceRecord,
    surface: Option<&SurfaceRecord>,
    chip: Option<&ChipData>,
    rules: &RuleConfig,
    report: &mut Report,
) {
    let a = text::from_acceptance(record);
    let s = surface.map(|s| text::from_surface(s, |name| rules.ethnicities.code_for_short_name(name).map(str::to_string)));
    let c = chip.map(chip_values);
    for item in TextItem::ALL {
        let av = a.get(item).unwrap_or_default();
        let sv = s.as_ref().and_then(|s| s.get(item));
        let cv = c.as_ref().and_then(|c| c.get(item));
        if chip.is_some() && cv.is_none() {
            report.not_checked(item.name(), Sources::AC, "the chip does not carry this item");
        }
        compare_item(item, av, sv, cv, surface.is_some(), report);
    }
    if let Some(chip) = chip {
        internal_consistency(chip, report);
    }
}

/// One item in up to three sources.
fn compare_item(item: TextItem, a: &str, s: Option<&str>, c: Option<&str>, have_surface: bool, report: &mut Report) {
    let finding = |cause, sources, expected: &str, actual: &str, note: &str| {
        let d = text::edit_distance(expected, actual);
        let mut detail = format!("{item} differs ({sources}), edit distance {d}");
        if !note.is_empty() {
            detail.push_str("; ");
            detail.push_str(note);
        }
        Finding::new(cause, item.name(), sources, detail).values(expected, actual)
    };
    match (s, c) {
        (Some(s), Some(c)) => {
            let ag = Agreement { a_s: Some(a == s), s_c: Some(s == c), a_c: a == c };
            for (cause, sources) in attribute(ag) {
                let (e, v) = match sources {
                    Sources::AS => (a, s),
                    Sources::SC => (s, c),
                    _ => (a, c),
                };
                report.findings.push(finding(cause, sources, e, v, ""));
            }
        }
        (Some(s), None) => {
            if a != s {
                report.findings.push(finding(Cause::AcceptanceVsSurface, Sources::AS, a, s, ""));
            }
        }
        (None, Some(c)) => {
            if a != c {
                let note = if have_surface { "" } else { "the surface was not checked" };
                report.findings.push(finding(Cause::SurfaceVsChip, Sources::AC, a, c, note));
            }
        }
        (None, None) => {}
    }
}

/// The chip's text items: DG13 when present, else what DG1, DG11 and DG12 carry (a plain ICAO
/// document).
pub(super) fn chip_values(chip: &ChipData) -> TextValues {
    let mut v = TextValues::default();
    if let Some(t) = &chip.text {
        v.set(TextItem::Name, &t.name);
        v.set(TextItem::Sex, &t.sex);
        v.set(TextItem::Ethnicity, &t.ethnicity);
        v.set(TextItem::BirthDate, &text::compact_date(&t.birth).unwrap_or_else(|| t.birth.clone()));
        v.set(TextItem::Address, &t.address);
        v.set(TextItem::IdNumber, &t.id_number);
        v.set(TextItem::IssuingAuthority, &t.authority);
        v.set(TextItem::ValidFrom, &text::compact_date(&t.valid_from).unwrap_or_else(|| t.valid_from.clone()));
        let until = if t.valid_until == "长期" {
            LONG_TERM.to_string()
        } else {
            text::compact_date(&t.valid_until).unwrap_or_else(|| t.valid_until.clone())
        };
        v.set(TextItem::ValidUntil, &until);
        return v;
    }
    let mrz = &chip.mrz;
    if let Some(sex) = mrz_sex(mrz.sex) {
        v.set(TextItem::Sex, sex);
    }
    if let Some(dg11) = &chip.dg11 {
        if let Some(n) = &dg11.personal_number {
            v.set(TextItem::IdNumber, n);
        }
        if let Some(b) = dg11.birth_date.as_deref().and_then(text::compact_date) {
            v.set(TextItem::BirthDate, &b);
        }
        if let Some(a) = &dg11.address {
            v.set(TextItem::Address, a);
        }
    }
    if let Some(dg12) = &chip.dg12 {
        if let Some(a) = &dg12.issuing_authority {
            v.set(TextItem::IssuingAuthority, a);
        }
        if let Some(d) = dg12.date_of_issue.as_deref().and_then(text::compact_date) {
            v.set(TextItem::ValidFrom, &d);
        }
    }
    v
}

fn mrz_sex(c: char) -> Option<&'static str> {
    match c {
        'M' => Some("1"),
        'F' => Some("2"),
        _ => None,
    }
}

/// DG13 must agree with DG1 (MRZ) and with DG11 / DG12 where both carry an item: cause 2.
fn internal_consistency(chip: &ChipData, report: &mut Report) {
    let Some(t) = &chip.text else { return };
    let mut check = |item: &str, what: &str, dg13: String, other: String| {
        if dg13 != other {
            report.findings.push(
                Finding::new(Cause::SurfaceVsChip, item, Sources::C, format!("inside the chip, DG13 {item} disagrees with {what}"))
                    .values(dg13, other),
            );
        }
    };
    let id = text::normalize_item(TextItem::IdNumber, &t.id_number);
    let mrz = &chip.mrz;
    check("id_number", "DG1 (MRZ optional data)", id.clone(), mrz.citizen_id());
    let doc_expected: String = id.chars().skip(id.chars().count().saturating_sub(9)).collect();
    check("document_number", "DG1 document number", doc_expected, mrz.document_number.replace('<', ""));
    let birth6: String = t.birth.chars().skip(2).collect();
    check("birth_date", "DG1 birth date", birth6, mrz.birth.clone());
    check("sex", "DG1 sex", text::normalize(&t.sex), mrz_sex(mrz.sex).unwrap_or("?").to_string());
    let expiry = if t.valid_until == "长期" { "991231".to_string() } else { t.valid_until.chars().skip(2).collect() };
    check("valid_until", "DG1 expiry date", expiry, mrz.expiry.clone());
    if let Some(dg11) = &chip.dg11 {
        if let Some(n) = &dg11.full_name {
            check("name", "DG11 full name", text::normalize(&t.name), text::normalize(n));
        }
        if let Some(n) = &dg11.personal_number {
            check("id_number", "DG11 personal number", id.clone(), text::normalize_item(TextItem::IdNumber, n));
        }
        if let Some(b) = &dg11.birth_date {
            check("birth_date", "DG11 birth date", t.birth.clone(), text::normalize(b));
        }
        if let Some(a) = &dg11.address {
            check("address", "DG11 address", text::normalize(&t.address), text::normalize(a));
        }
    }
    if let Some(dg12) = &chip.dg12 {
        if let Some(a) = &dg12.issuing_authority {
            check("issuing_authority", "DG12 issuing authority", text::normalize(&t.authority), text::normalize(a));
        }
        if let Some(d) = &dg12.date_of_issue {
            check("valid_from", "DG12 date of issue", t.valid_from.clone(), text::normalize(d));
        }
    }
}

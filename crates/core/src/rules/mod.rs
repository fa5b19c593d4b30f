//! Cause-4 rules: what is wrong with the acceptance record on its own (causes.md "Cause 4").
//! Each rule module judges one part and returns findings with cause 4 and sources A; this module
//! holds the configuration and [`check_record`], which runs every text, ID-number, validity and
//! fingerprint rule. Photo quality (`photo_quality`) is run separately by the caller. No I/O
//! except loading a configured ethnicity table.

pub mod ethnicity;
pub mod fields;
pub mod fingerprint_quality;
pub mod id_number;
pub mod photo_quality;
pub mod regions;
pub mod validity;

pub use ethnicity::EthnicityTable;

use crate::model::AcceptanceRecord;
use crate::verdict::Finding;

/// Thresholds and tables of the cause-4 rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleConfig {
    /// Fingerprint quality pass mark (resident-id.md: 55).
    pub min_fingerprint_quality: u8,
    /// Fewest minutiae a usable template holds.
    pub min_minutiae: usize,
    pub ethnicities: EthnicityTable,
}

impl Default for RuleConfig {
    fn default() -> Self {
        RuleConfig {
            min_fingerprint_quality: 55,
            min_minutiae: 12,
            ethnicities: EthnicityTable::default(),
        }
    }
}

/// Run every cause-4 rule except photo quality, in report order: ID number, name, sex,
/// ethnicity, address, issuing authority, validity, fingerprints.
pub fn check_record(record: &AcceptanceRecord, config: &RuleConfig) -> Vec<Finding> {
    let mut out = id_number::check(record);
    out.extend(fields::check_text(
        crate::model::TextItem::Name,
        &record.name,
    ));
    out.extend(fields::check_sex(&record.sex));
    out.extend(ethnicity::check(record, &config.ethnicities));
    out.extend(fields::check_text(
        crate::model::TextItem::Address,
        &record.address,
    ));
    out.extend(fields::check_text(
        crate::model::TextItem::IssuingAuthority,
        &record.issuing_authority,
    ));
    out.extend(validity::check(record));
    out.extend(fingerprint_quality::check(
        &record.fingerprints,
        config.min_fingerprint_quality,
        config.min_minutiae,
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ValidUntil;
    use crate::verdict::{Cause, Sources};

    fn sample() -> AcceptanceRecord {
        let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
            .join("fixtures/samples/pass-case/acceptance/451022202404011140");
        crate::records::acceptance::load_dir(&dir).expect("sample loads")
    }

    #[test]
    fn the_sample_passes() {
        let f = check_record(&sample(), &RuleConfig::default());
        assert!(f.is_empty(), "{f:?}");
    }

    #[test]
    fn each_broken_item_is_named() {
        type M = fn(&mut AcceptanceRecord);
        let cases: [(M, &str); 9] = [
            (|r| r.id_number = "450330200201139793".into(), "id_number"),
            (|r| r.name = String::new().into(), "name"),
            (|r| r.sex = "9".into(), "sex"),
            (|r| r.ethnicity = "60".into(), "ethnicity"),
            (|r| r.address = "广".repeat(36).into(), "address"),
            (
                |r| r.issuing_authority = "田东县公安局\u{0}".into(),
                "issuing_authority",
            ),
            (|r| r.valid_until = ValidUntil::LongTerm, "valid_until"),
            (
                |r| r.valid_from = r.accepted_on.previous_day().expect("date"),
                "valid_from",
            ),
            (|r| r.fingerprints[1].quality = Some(10), "fingerprint[2]"),
        ];
        for (m, item) in cases {
            let mut r = sample();
            m(&mut r);
            let f = check_record(&r, &RuleConfig::default());
            assert!(f.iter().any(|f| f.item == item), "{item}: {f:?}");
            assert!(f
                .iter()
                .all(|f| f.cause == Cause::AcceptanceIncorrect && f.sources == Sources::A));
        }
    }

    #[test]
    fn config_is_used() {
        let mut c = RuleConfig {
            min_fingerprint_quality: 71,
            ..Default::default()
        };
        let f = check_record(&sample(), &c);
        assert_eq!(
            f.len(),
            2,
            "both sample fingers (70, 61) fall below 71: {f:?}"
        );
        c.min_fingerprint_quality = 55;
        c.ethnicities = EthnicityTable::parse("02\t蒙古\t蒙古族\n", "test").expect("table");
        let f = check_record(&sample(), &c);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].item, "ethnicity");
    }
}

//! Cause-4 rules on the fingerprints of the acceptance record: two entries, of different fingers,
//! valid finger codes; a captured finger (result ok) with quality at least the pass mark and
//! enough minutiae in its ISO/IEC 19794-2 template; a missing finger only with result `failed` or
//! `not_registered` and the exception reason recorded by staff.

use crate::biometrics::iso19794_2::MinutiaeRecord;
use crate::model::{FingerprintEntry, Registration};
use crate::verdict::{Cause, Finding, Sources};

/// What the rules need from a template header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TemplateSummary {
    /// ISO finger position 0..10 (0 = unknown).
    pub finger_position: u8,
    /// Finger quality 0..100 (0 = not reported).
    pub quality: u8,
    pub minutiae: usize,
}

/// Parse an ISO/IEC 19794-2:2005 record (first finger view) into what the rules need.
pub fn summarize_template(b: &[u8]) -> Result<TemplateSummary, String> {
    let rec = MinutiaeRecord::parse(b).map_err(|e| e.to_string())?;
    Ok(TemplateSummary {
        finger_position: rec.finger_position,
        quality: rec.quality,
        minutiae: rec.minutiae.len(),
    })
}

/// Valid finger codes: 11–15 right thumb..little, 16–20 left, 97 right unknown, 98 left unknown,
/// 99 unknown.
pub fn is_finger_code(code: u8) -> bool {
    matches!(code, 11..=20 | 97..=99)
}

fn item(i: usize) -> String {
    format!("fingerprint[{}]", i + 1)
}

fn finding(
    item: impl Into<String>,
    detail: String,
    expected: impl Into<String>,
    actual: impl Into<String>,
) -> Finding {
    Finding::new(Cause::AcceptanceIncorrect, item, Sources::A, detail).values(expected, actual)
}

/// Judge the fingerprint entries of a record.
pub fn check(entries: &[FingerprintEntry], min_quality: u8, min_minutiae: usize) -> Vec<Finding> {
    let mut out = Vec::new();
    if entries.len() != 2 {
        out.push(finding(
            "fingerprints",
            format!("the record has {} fingerprint entries; two are required (a missing finger is an entry with an exception)", entries.len()),
            "2",
            entries.len().to_string(),
        ));
    }
    for (i, a) in entries.iter().enumerate() {
        for b in entries.iter().skip(i + 1) {
            if a.finger == b.finger {
                out.push(finding(
                    "fingerprints",
                    format!("two entries are of the same finger (code {})", a.finger),
                    "two different fingers",
                    entries
                        .iter()
                        .map(|e| e.finger.to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                ));
            }
        }
    }
    for (i, e) in entries.iter().enumerate() {
        out.extend(check_entry(i, e, min_quality, min_minutiae));
    }
    out
}

fn check_entry(
    i: usize,
    e: &FingerprintEntry,
    min_quality: u8,
    min_minutiae: usize,
) -> Vec<Finding> {
    let mut out = Vec::new();
    if !is_finger_code(e.finger) {
        out.push(finding(
            item(i),
            format!("finger code {} is not a valid code", e.finger),
            "11-20 or 97-99",
            e.finger.to_string(),
        ));
    }
    match e.result {
        Registration::Failed | Registration::NotRegistered => {
            let word = if e.result == Registration::Failed {
                "failed"
            } else {
                "not_registered"
            };
            if e.exception.as_deref().is_none_or(|x| x.trim().is_empty()) {
                out.push(finding(
                    item(i),
                    format!("finger {} is missing (result {word}) without an exception reason recorded by staff", e.finger),
                    "an exception reason",
                    "none",
                ));
            }
            return out;
        }
        Registration::Ok => {}
    }
    let Some(t) = &e.template else {
        out.push(finding(
            item(i),
            "result ok but no template".into(),
            "an ISO/IEC 19794-2 template",
            "none",
        ));
        return out;
    };
    let summary = match summarize_template(t.bytes()) {
        Ok(s) => s,
        Err(m) => {
            out.push(finding(
                item(i),
                format!("the template is not a usable ISO/IEC 19794-2:2005 record: {m}"),
                "an ISO/IEC 19794-2:2005 record",
                "unreadable",
            ));
            return out;
        }
    };
    if (1..=10).contains(&summary.finger_position)
        && (11..=20).contains(&e.finger)
        && summary.finger_position + 10 != e.finger
    {
        out.push(finding(
            item(i),
            format!(
                "the template is of ISO finger position {} (code {}), the record says finger {}",
                summary.finger_position,
                summary.finger_position + 10,
                e.finger
            ),
            e.finger.to_string(),
            (summary.finger_position + 10).to_string(),
        ));
    }
    let quality = e
        .quality
        .or((summary.quality != 0).then_some(summary.quality));
    match quality {
        None => out.push(finding(
            item(i),
            format!(
                "finger {}: no quality reported (neither in the record nor in the template)",
                e.finger
            ),
            format!("at least {min_quality}"),
            "not reported",
        )),
        Some(q) if q < min_quality => out.push(
            finding(
                item(i),
                format!(
                    "finger {}: quality {q} is below the pass mark {min_quality}",
                    e.finger
                ),
                format!("at least {min_quality}"),
                q.to_string(),
            )
            .scored(f64::from(q), f64::from(min_quality), false),
        ),
        Some(_) => {}
    }
    if summary.minutiae < min_minutiae {
        out.push(
            finding(
                item(i),
                format!("finger {}: the template has {} minutiae, fewer than the {min_minutiae} required", e.finger, summary.minutiae),
                format!("at least {min_minutiae}"),
                summary.minutiae.to_string(),
            )
            .scored(summary.minutiae as f64, min_minutiae as f64, false),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Biometric;
    use proptest::prelude::*;

    /// A minimal 19794-2:2005 record with `n` minutiae.
    fn template(position: u8, quality: u8, n: u8) -> Biometric {
        let mut b = b"FMR\0 20\0".to_vec();
        let len = 28 + 6 * usize::from(n) + 2;
        b.extend_from_slice(&(len as u32).to_be_bytes());
        b.extend_from_slice(&[0, 0, 1, 0x20, 1, 0x80, 0, 197, 0, 197, 1, 0]);
        b.extend_from_slice(&[position, 0, quality, n]);
        for k in 0..n {
            b.extend_from_slice(&[0x40, k, 0, k, k, 60]);
        }
        b.extend_from_slice(&[0, 0]);
        Biometric(b)
    }

    fn ok(finger: u8, quality: Option<u8>, n: u8) -> FingerprintEntry {
        FingerprintEntry {
            finger,
            result: Registration::Ok,
            quality,
            template: Some(template(0, 0, n)),
            exception: None,
        }
    }

    fn missing(finger: u8, result: Registration, exception: Option<&str>) -> FingerprintEntry {
        FingerprintEntry {
            finger,
            result,
            quality: None,
            template: None,
            exception: exception.map(str::to_string),
        }
    }

    #[test]
    fn sample_and_fixture_templates_summarize() {
        let root = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
        let fp1 = std::fs::read(
            root.join("fixtures/samples/pass-case/acceptance/451022202404011140/fp1.iso"),
        )
        .expect("sample");
        let s = summarize_template(&fp1).expect("parses");
        assert_eq!((s.finger_position, s.quality, s.minutiae), (1, 70, 60));
        let fvc = std::fs::read(root.join("fixtures/fingerprints/fvc2002/DB1_B/101_1.iso"))
            .expect("fixture");
        let s = summarize_template(&fvc).expect("parses");
        assert_eq!((s.finger_position, s.quality), (0, 0));
        assert!(s.minutiae >= 12);
    }

    #[test]
    fn rule_table() {
        // (entries, expected findings as (item, word in detail))
        type Case = (Vec<FingerprintEntry>, Vec<(&'static str, &'static str)>);
        let cases: Vec<Case> = vec![
            (vec![ok(11, Some(78), 30), ok(16, Some(80), 30)], vec![]),
            (vec![ok(11, Some(55), 12), ok(16, Some(55), 12)], vec![]),
            (
                vec![ok(11, Some(54), 30), ok(16, Some(80), 30)],
                vec![("fingerprint[1]", "quality 54 is below")],
            ),
            (
                vec![ok(11, Some(80), 30), ok(16, Some(80), 11)],
                vec![("fingerprint[2]", "11 minutiae")],
            ),
            (
                vec![ok(11, None, 30), ok(16, Some(80), 30)],
                vec![("fingerprint[1]", "no quality")],
            ),
            (
                vec![ok(11, Some(80), 30)],
                vec![("fingerprints", "1 fingerprint entries")],
            ),
            (vec![], vec![("fingerprints", "0 fingerprint entries")]),
            (
                vec![ok(11, Some(80), 30), ok(11, Some(80), 30)],
                vec![("fingerprints", "same finger")],
            ),
            (
                vec![ok(11, Some(80), 30), ok(21, Some(80), 30)],
                vec![("fingerprint[2]", "not a valid code")],
            ),
            (
                vec![
                    ok(11, Some(80), 30),
                    missing(16, Registration::Failed, Some("scar")),
                ],
                vec![],
            ),
            (
                vec![
                    missing(11, Registration::NotRegistered, Some("amputated")),
                    ok(17, Some(60), 20),
                ],
                vec![],
            ),
            (
                vec![
                    ok(11, Some(80), 30),
                    missing(16, Registration::Failed, Some("  ")),
                ],
                vec![("fingerprint[2]", "without an exception")],
            ),
            (
                vec![
                    ok(11, Some(80), 30),
                    missing(16, Registration::NotRegistered, None),
                ],
                vec![("fingerprint[2]", "without an exception")],
            ),
            (
                vec![
                    ok(11, Some(80), 30),
                    ok(16, Some(80), 30),
                    ok(12, Some(80), 30),
                ],
                vec![("fingerprints", "3 fingerprint entries")],
            ),
        ];
        for (entries, want) in cases {
            let got = check(&entries, 55, 12);
            let got_pairs: Vec<(&str, &str)> = got
                .iter()
                .map(|f| (f.item.as_str(), f.detail.as_str()))
                .collect();
            assert_eq!(got.len(), want.len(), "{got_pairs:?}");
            for ((item, word), f) in want.iter().zip(&got) {
                assert_eq!(f.item, *item, "{got_pairs:?}");
                assert!(f.detail.contains(word), "{} lacks {word}", f.detail);
                assert_eq!(
                    (f.cause, f.sources),
                    (Cause::AcceptanceIncorrect, Sources::A)
                );
                assert!(f.expected.is_some() && f.actual.is_some());
            }
        }
    }

    #[test]
    fn thresholds_are_configurable() {
        let e = vec![ok(11, Some(60), 20), ok(16, Some(60), 20)];
        assert!(check(&e, 55, 12).is_empty());
        assert_eq!(check(&e, 61, 12).len(), 2);
        assert_eq!(check(&e, 55, 21).len(), 2);
    }

    #[test]
    fn template_quality_used_when_record_has_none() {
        let mut e = ok(11, None, 30);
        e.template = Some(template(1, 70, 30));
        assert!(check(&[e.clone(), ok(16, Some(70), 30)], 55, 12).is_empty());
        e.template = Some(template(1, 40, 30));
        let f = check(&[e, ok(16, Some(70), 30)], 55, 12);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].actual.as_deref(), Some("40"));
    }

    #[test]
    fn template_of_another_finger_position_is_reported() {
        let mut e = ok(11, Some(70), 30);
        e.template = Some(template(6, 70, 30));
        let f = check(&[e, ok(16, Some(70), 30)], 55, 12);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(
            (f[0].expected.as_deref(), f[0].actual.as_deref()),
            (Some("11"), Some("16"))
        );
    }

    #[test]
    fn broken_templates() {
        let full = template(0, 0, 20).0;
        for (bytes, word) in [
            (full[..27].to_vec(), "offset"),
            (full[..60].to_vec(), "minutiae"),
            ([b"XMR\0".as_slice(), &full[4..]].concat(), "FMR"),
            ([b"FMR\0 30\0".as_slice(), &full[8..]].concat(), "version"),
        ] {
            let mut e = ok(11, Some(70), 20);
            e.template = Some(Biometric(bytes));
            let f = check(&[e, ok(16, Some(70), 30)], 55, 12);
            assert_eq!(f.len(), 1);
            assert!(f[0].detail.contains(word), "{}", f[0].detail);
        }
    }

    proptest! {
        #[test]
        fn summarize_never_panics(b in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = summarize_template(&b);
        }
    }
}

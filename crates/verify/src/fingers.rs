//! Fingerprints: each chip slot against the acceptance fingers (the surface carries none, so the
//! card's fingerprints are defined by the acceptance record: sources A~C). All four pairs (2 chip
//! slots x 2 acceptance fingers) are compared — by canonical hash, and where that differs by the
//! matcher, each template prepared at most once —, so that fingers
//! swapped between slots, a slot holding another finger of the same person, and a foreign finger
//! are told apart; the finding says which. Every decision uses the card threshold
//! ([`FingerCase::Card`]): a chip slot must be the acceptance capture re-encoded, not merely
//! another impression of the same finger (README, "Calibration", "Fingerprints").

use std::cell::OnceCell;

use idcheck_core::biometrics::{Minutia, MinutiaeRecord};
use idcheck_core::compare::fingerprint::{self, FingerCase, Template};
use idcheck_core::lds::{ChipData, FingerSlot, SlotResult};
use idcheck_core::model::{AcceptanceRecord, Registration};
use idcheck_core::verdict::{Cause, Finding, Observation, Sources};

use super::Report;

struct Acc {
    finger: u8,
    result: Registration,
    template: Option<Lazy>,
}

/// A minutiae set known by its canonical hash, prepared for the matcher (cylinders built) only
/// when a comparison needs it: identical sets, the usual case on a right card, never are.
struct Lazy {
    minutiae: Vec<Minutia>,
    hash: [u8; 32],
    prepared: OnceCell<Template>,
}

impl Lazy {
    fn new(minutiae: Vec<Minutia>) -> Lazy {
        let hash = fingerprint::canonical_hash(&minutiae);
        Lazy { minutiae, hash, prepared: OnceCell::new() }
    }

    fn template(&self) -> &Template {
        self.prepared.get_or_init(|| Template::prepare(&self.minutiae))
    }
}

pub(super) fn compare(record: &AcceptanceRecord, chip: Option<&ChipData>, report: &mut Report) {
    let Some(chip) = chip else { return };
    let acc: Vec<Acc> = record
        .fingerprints
        .iter()
        .map(|f| Acc {
            finger: f.finger,
            result: f.result,
            template: f
                .template
                .as_ref()
                .and_then(|t| MinutiaeRecord::parse(t.bytes()).ok())
                .map(|r| Lazy::new(r.minutiae)),
        })
        .collect();
    let slots = &chip.fingers;
    if slots.len() != acc.len() {
        report.findings.push(
            Finding::new(
                Cause::SurfaceVsChip,
                "fingerprints",
                Sources::AC,
                format!("the chip holds {} fingerprint slots, the acceptance record {}", slots.len(), acc.len()),
            )
            .values(acc.len().to_string(), slots.len().to_string()),
        );
    }
    let prepared: Vec<Option<Lazy>> = slots.iter().map(|s| (!s.minutiae.is_empty()).then(|| Lazy::new(s.minutiae.clone()))).collect();
    // score[i][j]: chip slot i against acceptance finger j (identical canonical sets: 1).
    let score = |i: usize, j: usize| -> Option<f64> {
        let c = prepared.get(i)?.as_ref()?;
        let a = acc.get(j)?.template.as_ref()?;
        Some(if c.hash == a.hash { 1.0 } else { fingerprint::match_score(c.template(), a.template()) })
    };
    let th = fingerprint::thresholds(FingerCase::Card);
    let two = fingerprint::thresholds(FingerCase::TwoImpressions);
    for (i, slot) in slots.iter().enumerate() {
        let item = format!("fingerprint[{}]", i + 1);
        let Some(a) = acc.get(i) else { continue };
        check_registration(&item, a, slot, report);
        if slot.finger_code != a.finger {
            report.findings.push(
                Finding::new(Cause::SurfaceVsChip, format!("{item}.finger"), Sources::AC, "finger code of the chip slot differs from the acceptance record")
                    .values(a.finger.to_string(), slot.finger_code.to_string()),
            );
        }
        let Some(s) = score(i, i) else { continue };
        let decision = fingerprint::decide_with(s, &th);
        let (same, borderline) = (decision.is_match(), decision.is_borderline());
        report.observations.push(Observation {
            item: item.clone(),
            sources: Sources::AC,
            score: s,
            threshold: th.threshold,
            borderline,
            detail: if same { "same finger".into() } else { "different finger".into() },
        });
        if same {
            continue;
        }
        // Which acceptance finger (if any) does this slot hold?
        let matches = |i: usize, j: usize| score(i, j).is_some_and(|x| fingerprint::decide_with(x, &th).is_match());
        let other = (0..acc.len()).filter(|&j| j != i).find(|&j| matches(i, j));
        let detail = match other {
            // Slot j holds finger i in turn: the two slots are swapped.
            Some(j) if matches(j, i) && !matches(j, j) => format!(
                "chip slot {} holds acceptance finger {} (code {}) and chip slot {} holds acceptance finger {}: fingerprints swapped between slots; score {s:.3} against its own finger, {:.3} against finger {}, threshold {:.3}",
                i + 1,
                j + 1,
                acc.get(j).map_or(0, |x| x.finger),
                j + 1,
                i + 1,
                score(i, j).unwrap_or(0.0),
                j + 1,
                th.threshold
            ),
            Some(j) => format!(
                "chip slot {} holds acceptance finger {} (code {}), another finger of the same person, instead of finger {} (code {}); score {s:.3} against its own finger, {:.3} against finger {}, threshold {:.3}",
                i + 1,
                j + 1,
                acc.get(j).map_or(0, |x| x.finger),
                i + 1,
                a.finger,
                score(i, j).unwrap_or(0.0),
                j + 1,
                th.threshold
            ),
            // Above the two-impressions threshold: likely the right finger, but another capture.
            None if s >= two.threshold => format!(
                "chip slot {} does not hold the acceptance capture of finger {} (code {}): score {s:.3} against it, below the card threshold {:.3} for the acceptance template re-encoded, though above the two-impressions threshold {:.3} (possibly another capture of the same finger, not the one recorded at acceptance)",
                i + 1,
                i + 1,
                a.finger,
                th.threshold,
                two.threshold
            ),
            None => format!(
                "chip slot {} holds a foreign finger, not captured at acceptance (another person's or another finger); score {s:.3} against its own finger, card threshold {:.3}",
                i + 1,
                th.threshold
            ),
        };
        report.findings.push(Finding::new(Cause::SurfaceVsChip, item, Sources::AC, detail).scored(s, th.threshold, borderline));
    }
}

/// A capture recorded as failed must be written as failed, and an ok capture as ok.
fn check_registration(item: &str, a: &Acc, slot: &FingerSlot, report: &mut Report) {
    let chip_ok = matches!(slot.result, SlotResult::Ok);
    let acc_ok = a.result == Registration::Ok;
    if chip_ok != acc_ok {
        report.findings.push(
            Finding::new(Cause::SurfaceVsChip, format!("{item}.result"), Sources::AC, "registration result of the chip slot differs from the acceptance record")
                .values(format!("{:?}", a.result).to_lowercase(), format!("{:?}", slot.result).to_lowercase()),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use idcheck_core::lds::{parse_chip, ChipImage};
    use idcheck_core::verdict::Finding;

    fn root() -> std::path::PathBuf {
        std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
    }

    /// The independent sample card: its acceptance record and its parsed chip.
    fn sample() -> (AcceptanceRecord, ChipData) {
        let s = root().join("fixtures/samples/pass-case");
        let record = idcheck_core::records::acceptance::load_dir(&s.join("acceptance/451022202404011140")).expect("record");
        let chip = parse_chip(&ChipImage::load_dir(&s.join("chip")).expect("chip image")).expect("chip parses");
        assert_eq!(chip.fingers.len(), 2, "the sample has two slots");
        (record, chip)
    }

    /// A real FVC2002 finger nobody on the sample card has.
    fn foreign() -> Vec<idcheck_core::biometrics::Minutia> {
        let bytes = std::fs::read(root().join("fixtures/fingerprints/fvc2002/DB1_B/101_1.iso")).expect("template");
        MinutiaeRecord::parse(&bytes).expect("parses").minutiae
    }

    fn findings(record: &AcceptanceRecord, chip: &ChipData) -> Vec<Finding> {
        let mut report = Report::default();
        compare(record, Some(chip), &mut report);
        report.findings
    }

    fn detail<'a>(f: &'a [Finding], item: &str) -> Option<&'a str> {
        f.iter().find(|x| x.item == item).map(|x| x.detail.as_str())
    }

    #[test]
    fn the_right_fingers_give_no_finding() {
        let (record, chip) = sample();
        assert!(findings(&record, &chip).is_empty());
    }

    #[test]
    fn fingers_swapped_between_slots_are_named_swapped() {
        let (record, mut chip) = sample();
        let first = std::mem::take(&mut chip.fingers[0].minutiae);
        chip.fingers[0].minutiae = std::mem::replace(&mut chip.fingers[1].minutiae, first);
        let f = findings(&record, &chip);
        for item in ["fingerprint[1]", "fingerprint[2]"] {
            let d = detail(&f, item).unwrap_or_else(|| panic!("no finding on {item}: {f:#?}"));
            assert!(d.contains("swapped between slots"), "{item}: {d}");
        }
        assert!(f.iter().all(|x| x.cause == Cause::SurfaceVsChip));
    }

    #[test]
    fn a_slot_holding_the_other_acceptance_finger_is_named_as_such() {
        let (record, mut chip) = sample();
        chip.fingers[1].minutiae = chip.fingers[0].minutiae.clone();
        let f = findings(&record, &chip);
        assert!(detail(&f, "fingerprint[1]").is_none(), "{f:#?}");
        let d = detail(&f, "fingerprint[2]").expect("a finding on slot 2");
        assert!(d.contains("another finger of the same person"), "{d}");
        assert!(!d.contains("swapped"), "{d}");
    }

    #[test]
    fn another_capture_of_the_right_finger_is_not_the_acceptance_capture() {
        // Acceptance finger 1 = FVC2002 DB1_B/101 impression 1; chip slot 1 = another impression
        // of the same finger scoring between the two thresholds: cause 2, and said so.
        let (mut record, mut chip) = sample();
        let load = |k: u32| std::fs::read(root().join(format!("fixtures/fingerprints/fvc2002/DB1_B/101_{k}.iso"))).expect("template");
        let first = load(1);
        let (two, card) = (fingerprint::thresholds(FingerCase::TwoImpressions), fingerprint::thresholds(FingerCase::Card));
        let t1 = Template::prepare(&MinutiaeRecord::parse(&first).expect("parses").minutiae);
        let other = (2..=8)
            .map(|k| MinutiaeRecord::parse(&load(k)).expect("parses").minutiae)
            .find(|m| (two.threshold..card.threshold).contains(&fingerprint::match_score(&t1, &Template::prepare(m))))
            .expect("an impression of DB1_B/101 between the two thresholds");
        record.fingerprints[0].template = Some(idcheck_core::model::Biometric(first));
        chip.fingers[0].minutiae = other;
        let f = findings(&record, &chip);
        let x = f.iter().find(|x| x.item == "fingerprint[1]").expect("a finding on slot 1");
        assert_eq!(x.cause, Cause::SurfaceVsChip);
        assert!(x.detail.contains("does not hold the acceptance capture") && x.detail.contains("another capture"), "{}", x.detail);
        assert_eq!(x.threshold, Some(card.threshold));
        assert!(detail(&f, "fingerprint[2]").is_none(), "{f:#?}");
    }

    #[test]
    fn a_foreign_finger_is_named_foreign_with_its_score_below_the_threshold() {
        let (record, mut chip) = sample();
        chip.fingers[1].minutiae = foreign();
        let f = findings(&record, &chip);
        assert!(detail(&f, "fingerprint[1]").is_none(), "{f:#?}");
        let x = f.iter().find(|x| x.item == "fingerprint[2]").expect("a finding on slot 2");
        assert!(x.detail.contains("foreign finger"), "{}", x.detail);
        let (score, threshold) = (x.score.expect("scored"), x.threshold.expect("threshold"));
        assert!(score < threshold, "{score} >= {threshold}");
        // Decided by the card threshold, below the two-impressions one too.
        assert_eq!(threshold, fingerprint::thresholds(FingerCase::Card).threshold);
        assert!(score < fingerprint::thresholds(FingerCase::TwoImpressions).threshold, "{score}");
        assert!(!x.detail.contains("another capture"), "{}", x.detail);
    }
}

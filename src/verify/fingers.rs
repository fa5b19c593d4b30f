//! Fingerprints: each chip slot against the acceptance fingers (the surface carries none, so the
//! card's fingerprints are defined by the acceptance record: sources A~C). All four pairs (2 chip
//! slots x 2 acceptance fingers) are compared with templates prepared once, so that fingers
//! swapped between slots, a slot holding another finger of the same person, and a foreign finger
//! are told apart; the finding says which.

use crate::biometrics::MinutiaeRecord;
use crate::compare::fingerprint::{self, Template};
use crate::lds::{ChipData, FingerSlot, SlotResult};
use crate::model::{AcceptanceRecord, Registration};
use crate::verdict::{Cause, Finding, Observation, Sources};

use super::Report;

struct Acc {
    finger: u8,
    result: Registration,
    template: Option<(Template, [u8; 32])>,
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
                .map(|r| (Template::prepare(&r.minutiae), fingerprint::canonical_hash(&r.minutiae))),
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
    let prepared: Vec<Option<(Template, [u8; 32])>> = slots
        .iter()
        .map(|s| (!s.minutiae.is_empty()).then(|| (Template::prepare(&s.minutiae), fingerprint::canonical_hash(&s.minutiae))))
        .collect();
    // score[i][j]: chip slot i against acceptance finger j.
    let score = |i: usize, j: usize| -> Option<f64> {
        let (ct, ch) = prepared.get(i)?.as_ref()?;
        let (at, ah) = acc.get(j)?.template.as_ref()?;
        Some(if ch == ah { 1.0 } else { fingerprint::match_score(ct, at) })
    };
    let th = fingerprint::thresholds();
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
        let decision = fingerprint::decide(s);
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
        let matches = |i: usize, j: usize| score(i, j).is_some_and(|x| fingerprint::decide(x).is_match());
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
            None => format!(
                "chip slot {} holds a foreign finger, not captured at acceptance (another person's or another finger); score {s:.3} against its own finger, threshold {:.3}",
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

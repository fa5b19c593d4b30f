//! Findings and the verdict derived from them (causes.md). This module is the only place that
//! turns findings into a status, a cause set, the primary cause and the kiosk advice; nothing
//! else writes a verdict. It also owns the attribution rule that turns an item's agreement across
//! the acceptance record (A), the surface (S) and the chip (C) into causes.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::PersonalText;

/// One of the four invalidation causes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "u8", try_from = "u8")]
pub enum Cause {
    /// 1: the acceptance information differs from the card surface.
    AcceptanceVsSurface,
    /// 2: the card surface differs from the chip.
    SurfaceVsChip,
    /// 3: the chip cannot be read (or what it holds cannot be trusted).
    ChipUnreadable,
    /// 4: the acceptance information itself is incorrect.
    AcceptanceIncorrect,
}

impl Cause {
    pub fn number(self) -> u8 {
        match self {
            Cause::AcceptanceVsSurface => 1,
            Cause::SurfaceVsChip => 2,
            Cause::ChipUnreadable => 3,
            Cause::AcceptanceIncorrect => 4,
        }
    }
    /// Order of precedence for `primary`: the earliest production stage first.
    const PRECEDENCE: [Cause; 4] =
        [Cause::AcceptanceIncorrect, Cause::AcceptanceVsSurface, Cause::SurfaceVsChip, Cause::ChipUnreadable];
}

impl From<Cause> for u8 {
    fn from(c: Cause) -> u8 {
        c.number()
    }
}

impl TryFrom<u8> for Cause {
    type Error = String;
    fn try_from(v: u8) -> Result<Self, String> {
        match v {
            1 => Ok(Cause::AcceptanceVsSurface),
            2 => Ok(Cause::SurfaceVsChip),
            3 => Ok(Cause::ChipUnreadable),
            4 => Ok(Cause::AcceptanceIncorrect),
            _ => Err(format!("cause {v} is not one of 1, 2, 3, 4")),
        }
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.number())
    }
}

/// Which sources a finding compares (or the one source a rule judged).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Sources {
    #[serde(rename = "A~S")]
    AS,
    #[serde(rename = "S~C")]
    SC,
    #[serde(rename = "A~C")]
    AC,
    #[serde(rename = "A")]
    A,
    #[serde(rename = "C")]
    C,
}

impl fmt::Display for Sources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Sources::AS => "A~S",
            Sources::SC => "S~C",
            Sources::AC => "A~C",
            Sources::A => "A",
            Sources::C => "C",
        })
    }
}

/// One thing a verification found wrong, with its evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub cause: Cause,
    /// The item: a text item name (`name`, `valid_until`), `photo`, `fingerprint[1]`, a chip step
    /// (`chip.dg2`, `chip.sod.signature`) or a quality metric (`photo.sharpness`).
    pub item: String,
    pub sources: Sources,
    /// The values compared: personal text when the item is a name, an address, an ID number.
    pub expected: Option<PersonalText>,
    pub actual: Option<PersonalText>,
    pub score: Option<f64>,
    pub threshold: Option<f64>,
    /// The score lies in the calibrated grey zone next to its threshold: staff should look.
    pub borderline: bool,
    pub detail: String,
    /// The chip content this finding rests on failed passive authentication (causes.md,
    /// Attribution: the content that parses is compared all the same). Set on the cause-2
    /// differences found in that content and on the cause-3 finding that names the failure.
    /// Absent from the JSON when false, so verdicts of authenticated chips keep their shape.
    #[serde(default, skip_serializing_if = "is_false")]
    pub chip_unauthenticated: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Finding {
    /// A finding with only the mandatory parts; add evidence with the builder methods.
    pub fn new(cause: Cause, item: impl Into<String>, sources: Sources, detail: impl Into<String>) -> Self {
        Finding {
            cause,
            item: item.into(),
            sources,
            expected: None,
            actual: None,
            score: None,
            threshold: None,
            borderline: false,
            detail: detail.into(),
            chip_unauthenticated: false,
        }
    }
    pub fn values(mut self, expected: impl Into<String>, actual: impl Into<String>) -> Self {
        self.expected = Some(PersonalText::new(expected));
        self.actual = Some(PersonalText::new(actual));
        self
    }
    pub fn scored(mut self, score: f64, threshold: f64, borderline: bool) -> Self {
        self.score = Some(score);
        self.threshold = Some(threshold);
        self.borderline = borderline;
        self
    }
}

/// The outcome of a verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    Invalid,
    Unavailable,
}

impl Status {
    pub const ALL: [Status; 3] = [Status::Pass, Status::Invalid, Status::Unavailable];

    /// The lower-case name (as serialised, stored and shown).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Invalid => "invalid",
            Status::Unavailable => "unavailable",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Status {
    type Err = String;
    fn from_str(s: &str) -> Result<Status, String> {
        Status::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| format!("`{s}` is not pass, invalid or unavailable"))
    }
}

/// A check that could not be made, and why (kiosk: no surface; plain ICAO document: no DG13 item).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotChecked {
    pub item: String,
    pub sources: Sources,
    pub reason: String,
}

/// Borderline scores that did not produce a finding (a pass near its threshold) are kept here so
/// staff can look at them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    pub item: String,
    pub sources: Sources,
    pub score: f64,
    pub threshold: f64,
    pub borderline: bool,
    pub detail: String,
}

/// What the chip read proved about the chip itself: which access control ran (`chip.access`),
/// and Chip / Active Authentication (`chip.chip_authentication`, `chip.active_authentication`).
/// `result`: `bac`, `pace`; `passed`, `not_counted` (passed, but passive authentication did not
/// verify the DG14 / DG15 it used), `failed`, `not_offered`, `not_run`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChipCheck {
    pub item: String,
    pub result: String,
    pub detail: String,
}

/// The verdict (causes.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub status: Status,
    pub causes: Vec<Cause>,
    pub primary: Option<Cause>,
    pub findings: Vec<Finding>,
    pub advice: String,
    /// Why the check could not be made (status `unavailable` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unavailable_reason: Option<String>,
    #[serde(default)]
    pub not_checked: Vec<NotChecked>,
    /// Every score compared against a threshold, passing or not (evidence for staff).
    #[serde(default)]
    pub observations: Vec<Observation>,
    /// Access control and chip authenticity checks of a live read (empty for a chip image
    /// directory and for verdicts stored before they existed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chip_checks: Vec<ChipCheck>,
}

pub const ADVICE_PASS: &str = "The card may be handed over.";
pub const ADVICE_REPRODUCE: &str =
    "The card is invalid and will be produced again; the applicant need not apply again.";
pub const ADVICE_UNAVAILABLE: &str = "The system is under maintenance; try again later. The card is not judged.";

impl Verdict {
    /// Derive the verdict from the findings of a completed verification.
    pub fn from_findings(
        mut findings: Vec<Finding>,
        not_checked: Vec<NotChecked>,
        observations: Vec<Observation>,
    ) -> Verdict {
        // An item failing a cause-4 rule is reported under cause 4 only (causes.md, Attribution).
        let cause4_items: Vec<String> = findings
            .iter()
            .filter(|f| f.cause == Cause::AcceptanceIncorrect)
            .map(|f| base_item(&f.item).to_string())
            .collect();
        findings.retain(|f| {
            f.cause == Cause::AcceptanceIncorrect
                || f.cause == Cause::ChipUnreadable
                || !cause4_items.iter().any(|i| i == base_item(&f.item))
        });
        let mut causes: Vec<Cause> = findings.iter().map(|f| f.cause).collect();
        causes.sort();
        causes.dedup();
        let primary = Cause::PRECEDENCE.into_iter().find(|c| causes.contains(c));
        let (status, advice) = match primary {
            None => (Status::Pass, ADVICE_PASS.to_string()),
            Some(Cause::AcceptanceIncorrect) => {
                let mut items: Vec<&str> = findings
                    .iter()
                    .filter(|f| f.cause == Cause::AcceptanceIncorrect)
                    .map(|f| base_item(&f.item))
                    .collect();
                items.dedup();
                (
                    Status::Invalid,
                    format!(
                        "The card is invalid because the acceptance information was incorrect ({}). \
                         Contact the household registration office where the card was applied for to ask for the reason.",
                        items.join(", ")
                    ),
                )
            }
            Some(_) => (Status::Invalid, ADVICE_REPRODUCE.to_string()),
        };
        Verdict { status, causes, primary, findings, advice, unavailable_reason: None, not_checked, observations, chip_checks: Vec::new() }
    }

    /// The system could not judge the card: never an invalidation.
    pub fn unavailable(reason: impl Into<String>) -> Verdict {
        Verdict {
            status: Status::Unavailable,
            causes: Vec::new(),
            primary: None,
            findings: Vec::new(),
            advice: ADVICE_UNAVAILABLE.to_string(),
            unavailable_reason: Some(reason.into()),
            not_checked: Vec::new(),
            observations: Vec::new(),
            chip_checks: Vec::new(),
        }
    }

    /// Exit code of the CLI: 0 pass, 1 invalid, 2 unavailable.
    pub fn exit_code(&self) -> u8 {
        match self.status {
            Status::Pass => 0,
            Status::Invalid => 1,
            Status::Unavailable => 2,
        }
    }
}

/// `photo.sharpness` -> `photo`, `fingerprint[1]` -> `fingerprint[1]`, `name` -> `name`.
fn base_item(item: &str) -> &str {
    item.split('.').next().unwrap_or(item)
}

/// Agreement of one item across the sources that carry it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Agreement {
    /// A equals S; `None` when S is absent.
    pub a_s: Option<bool>,
    /// S equals C; `None` when S is absent.
    pub s_c: Option<bool>,
    /// A equals C.
    pub a_c: bool,
}

/// Which (cause, sources) pairs a disagreement pattern produces (causes.md, Attribution).
pub fn attribute(a: Agreement) -> Vec<(Cause, Sources)> {
    match (a.a_s, a.s_c) {
        (None, _) | (_, None) => {
            if a.a_c {
                vec![]
            } else {
                vec![(Cause::SurfaceVsChip, Sources::AC)]
            }
        }
        (Some(true), Some(true)) => vec![],
        (Some(false), Some(true)) => vec![(Cause::AcceptanceVsSurface, Sources::AS)],
        (Some(false), Some(false)) if a.a_c => vec![(Cause::AcceptanceVsSurface, Sources::AS)],
        (Some(true), Some(false)) => vec![(Cause::SurfaceVsChip, Sources::SC)],
        (Some(false), Some(false)) => {
            vec![(Cause::AcceptanceVsSurface, Sources::AS), (Cause::SurfaceVsChip, Sources::SC)]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribution_table() {
        let ag = |a_s, s_c, a_c| Agreement { a_s, s_c, a_c };
        assert!(attribute(ag(Some(true), Some(true), true)).is_empty());
        assert_eq!(attribute(ag(Some(false), Some(true), false)), vec![(Cause::AcceptanceVsSurface, Sources::AS)]);
        assert_eq!(attribute(ag(Some(false), Some(false), true)), vec![(Cause::AcceptanceVsSurface, Sources::AS)]);
        assert_eq!(attribute(ag(Some(true), Some(false), false)), vec![(Cause::SurfaceVsChip, Sources::SC)]);
        assert_eq!(
            attribute(ag(Some(false), Some(false), false)),
            vec![(Cause::AcceptanceVsSurface, Sources::AS), (Cause::SurfaceVsChip, Sources::SC)]
        );
        assert_eq!(attribute(ag(None, None, false)), vec![(Cause::SurfaceVsChip, Sources::AC)]);
        assert!(attribute(ag(None, None, true)).is_empty());
    }

    #[test]
    fn primary_precedence_and_cause4_suppression() {
        let f = |c, item: &str| Finding::new(c, item, Sources::A, "x");
        let v = Verdict::from_findings(
            vec![f(Cause::ChipUnreadable, "chip.dg2"), f(Cause::SurfaceVsChip, "name")],
            vec![],
            vec![],
        );
        assert_eq!(v.status, Status::Invalid);
        assert_eq!(v.causes, vec![Cause::SurfaceVsChip, Cause::ChipUnreadable]);
        assert_eq!(v.primary, Some(Cause::SurfaceVsChip));
        let v = Verdict::from_findings(
            vec![f(Cause::AcceptanceIncorrect, "address"), f(Cause::AcceptanceVsSurface, "address")],
            vec![],
            vec![],
        );
        assert_eq!(v.causes, vec![Cause::AcceptanceIncorrect]);
        assert!(v.advice.contains("address"));
        let v = Verdict::from_findings(vec![], vec![], vec![]);
        assert_eq!(v.status, Status::Pass);
        assert_eq!(v.exit_code(), 0);
        let json = serde_json::to_value(Verdict::unavailable("no reader")).expect("json");
        assert_eq!(json["status"], "unavailable");
    }
}

//! The verification pipeline: an acceptance record, an optional surface record and a chip image
//! in; findings and the verdict out. This module only wires the layers together (rules, lds, pki,
//! compare) and applies the attribution of causes.md; it does no I/O, so the daemon, the CLI and
//! the benchmarks all run exactly this code on bytes already in memory.
//!
//! idcheck-verify must never: do I/O (no file, database, reader or network crate is a
//! dependency), or let a lower layer's error become a cause anywhere but [`failures`].
#![forbid(unsafe_code)]
#![warn(clippy::unwrap_used)]

mod chip_auth;
pub mod evidence;
pub mod failures;
mod fingers;
mod photos;

pub use photos::printed_probe;
mod texts;

use time::Date;

use idcheck_core::lds::{self, ChipData, ChipImage};
use idcheck_core::model::{sha256_hex, AcceptanceRecord, SurfaceRecord};
use idcheck_core::pki::{self, TrustStore};
use idcheck_core::rules::{self, RuleConfig};
use idcheck_core::verdict::{Finding, NotChecked, Observation, Sources, Verdict};

static EMPTY_CHIP: ChipImage = ChipImage { files: std::collections::BTreeMap::new() };

/// Configuration of a verification: the trust anchors and the cause-4 rule settings.
pub struct Verifier {
    pub trust: TrustStore,
    pub rules: RuleConfig,
    /// The day certificate validity and CRL freshness are checked on.
    pub at: CheckDay,
}

/// The day passive authentication checks certificate validity and CRL freshness on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckDay {
    /// The UTC day of each verification (a station: the default).
    Today,
    /// A fixed day (reproducing an earlier verdict, tests).
    On(Date),
    /// Not checked (only the signingTime rule holds).
    Never,
}

impl CheckDay {
    pub fn resolve(self) -> Option<Date> {
        match self {
            CheckDay::Today => Some(time::OffsetDateTime::now_utc().date()),
            CheckDay::On(d) => Some(d),
            CheckDay::Never => None,
        }
    }
}

/// What is verified: one card against one application.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub record: &'a AcceptanceRecord,
    pub surface: Option<&'a SurfaceRecord>,
    pub chip: &'a ChipImage,
}

/// The outcome: the verdict and the SHA-256 of every input it was computed from.
#[derive(Debug, Clone)]
pub struct Verification {
    pub verdict: Verdict,
    /// (input name, lower-case hex SHA-256), e.g. ("photo", ...), ("chip.dg2", ...).
    pub inputs: Vec<(String, String)>,
}

/// Findings under construction.
#[derive(Default)]
pub(crate) struct Report {
    pub findings: Vec<Finding>,
    pub not_checked: Vec<NotChecked>,
    pub observations: Vec<Observation>,
    /// Set when the station cannot judge the chip (see [`failures::PaOutcome::Unavailable`]).
    pub unavailable: Option<String>,
}

impl Report {
    pub fn not_checked(&mut self, item: impl Into<String>, sources: Sources, reason: impl Into<String>) {
        self.not_checked.push(NotChecked { item: item.into(), sources, reason: reason.into() });
    }
}

impl Verifier {
    pub fn new(trust: TrustStore) -> Self {
        Verifier { trust, rules: RuleConfig::default(), at: CheckDay::Today }
    }

    /// Verify a chip image (from a directory, or read by a caller that keeps no session record):
    /// Chip and Active Authentication cannot have run and are reported as not checked.
    pub fn verify(&self, req: Request<'_>) -> Verification {
        self.run(req.record, req.surface, Some(req.chip), None, None)
    }

    /// Verify a live read: the chip image plus what the read proved about the chip (access
    /// control, Chip and Active Authentication).
    pub fn verify_read(&self, record: &AcceptanceRecord, surface: Option<&SurfaceRecord>, read: &idcheck_chip::ReadOutcome) -> Verification {
        let session = chip_auth::Session {
            access: read.access.describe(),
            pace: read.access.pace.is_some(),
            chip_authentication: &read.chip_authentication,
            active_authentication: &read.active_authentication,
        };
        self.run(record, surface, Some(&read.image), None, Some(&session))
    }

    /// The verdict when the chip could not be read: cause 3 with the step (and the checks that
    /// need no chip: cause 4, A~S), or `unavailable` when the fault is not the card's. `None`
    /// when the read was aborted (shutdown): an aborted read is never a verdict.
    pub fn verify_failed_read(
        &self,
        record: &AcceptanceRecord,
        surface: Option<&SurfaceRecord>,
        failure: &idcheck_chip::ReadFailure,
    ) -> Option<Verification> {
        match failures::read_failure(failure) {
            failures::ReadFailureClass::Card(f) => Some(self.run(record, surface, None, Some(f), None)),
            failures::ReadFailureClass::Unavailable(reason) => {
                Some(Verification { verdict: Verdict::unavailable(reason), inputs: Vec::new() })
            }
            failures::ReadFailureClass::Aborted(_) => None,
        }
    }

    fn run(
        &self,
        record: &AcceptanceRecord,
        surface: Option<&SurfaceRecord>,
        chip_image: Option<&ChipImage>,
        read_failure: Option<Finding>,
        session: Option<&chip_auth::Session<'_>>,
    ) -> Verification {
        let req = Request { record, surface, chip: chip_image.unwrap_or(&EMPTY_CHIP) };
        let mut report = Report::default();

        // Cause 4: the acceptance information alone.
        report.findings.extend(rules::check_record(record, &self.rules));
        let acceptance = photos::Acceptance::decode(record);
        report.findings.extend(photos::quality_findings(record, &acceptance));

        // Cause 3: can the chip be read and authenticated? Content that parses is compared even
        // when passive authentication fails; its cause-2 findings say it is not authenticated.
        let (chip, unauthenticated) = match (chip_image, read_failure) {
            (Some(image), None) => match self.read_chip(image, &mut report) {
                Some(ChipRead { data, pa_failure }) => (Some(data), pa_failure),
                None => (None, None),
            },
            (_, failure) => {
                report.findings.extend(failure);
                (None, None)
            }
        };
        if chip.is_none() {
            report.not_checked("chip", Sources::C, "the chip content could not be read (cause 3)");
        }
        if req.surface.is_none() {
            report.not_checked("surface", Sources::AS, "no surface scan (kiosk): printed items were not checked");
        }

        // Causes 1 and 2: the same items across A, S and C.
        texts::compare(record, req.surface, chip.as_ref(), &self.rules, &mut report);
        photos::compare(record, &acceptance, req.surface, chip.as_ref(), &mut report);
        fingers::compare(record, chip.as_ref(), &mut report);
        let pa_verified = chip.is_some() && unauthenticated.is_none() && report.unavailable.is_none();
        let chip_checks = match chip_image {
            Some(image) if chip.is_some() => chip_auth::checks(image, session, pa_verified, &mut report),
            _ => Vec::new(),
        };
        if let Some(pa_item) = unauthenticated {
            failures::mark_unauthenticated(&mut report.findings, &pa_item);
        }

        if let Some(reason) = report.unavailable {
            // The station cannot judge this chip (its trust store lacks what the policy requires):
            // no finding of this run stands, the card is not blamed.
            return Verification { verdict: Verdict::unavailable(reason), inputs: input_hashes(&req) };
        }
        let mut verdict = Verdict::from_findings(report.findings, report.not_checked, report.observations);
        verdict.chip_checks = chip_checks;
        Verification { verdict, inputs: input_hashes(&req) }
    }

    /// Parse the chip image and run passive authentication. `None` when the chip content does
    /// not parse (a file missing or malformed: nothing is compared); the cause-3 findings are in
    /// `report`, a failed passive authentication among them.
    fn read_chip(&self, image: &ChipImage, report: &mut Report) -> Option<ChipRead> {
        if let Err(e) = lds::check_mandatory_resident(image) {
            report.findings.push(failures::chip_file_finding(&e));
            return None;
        }
        let data = match lds::parse_chip(image) {
            Ok(d) => d,
            Err(e) => {
                report.findings.push(failures::chip_file_finding(&e));
                return None;
            }
        };
        let sod = image.get(lds::FileId::Sod).unwrap_or_default();
        let dgs: Vec<(u8, &[u8])> = image
            .files
            .iter()
            .filter_map(|(id, bytes)| id.dg_number().map(|n| (n, bytes.as_slice())))
            .collect();
        match pki::passive_authentication(sod, &dgs, &self.trust, self.at.resolve()) {
            Ok(pa) => {
                for r in &pa.revocation {
                    if let Some(reason) = r.not_checked() {
                        report.not_checked(
                            "chip.sod.revocation",
                            Sources::C,
                            format!("revocation of {} (serial {}) not checked: {reason} (policy warn)", r.subject, r.serial),
                        );
                    }
                }
                Some(ChipRead { data, pa_failure: None })
            }
            Err(e) => match failures::passive_auth_outcome(&e) {
                failures::PaOutcome::Unavailable(reason) => {
                    report.unavailable = Some(reason);
                    None
                }
                // Content that fails passive authentication is cause 3, and is compared all the
                // same (causes.md: a verdict never hides a difference it saw): a tampered data
                // group that equals the record yields cause 3 alone, one holding another name
                // causes 2 and 3.
                failures::PaOutcome::Card(finding) => {
                    let item = finding.item.clone();
                    report.findings.push(finding);
                    Some(ChipRead { data, pa_failure: Some(item) })
                }
            },
        }
    }
}

/// A chip whose content parsed, and the item of the passive-authentication finding when that
/// content is not authenticated.
struct ChipRead {
    data: ChipData,
    pa_failure: Option<String>,
}

fn input_hashes(req: &Request<'_>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let r = req.record;
    out.push(("record".to_string(), sha256_hex(idcheck_core::records::acceptance::to_json(r).to_string().as_bytes())));
    out.push(("photo".to_string(), r.photo.sha256_hex()));
    for (i, fp) in r.fingerprints.iter().enumerate() {
        if let Some(t) = &fp.template {
            out.push((format!("fingerprint[{}]", i + 1), t.sha256_hex()));
        }
    }
    if let Some(s) = req.surface {
        out.push(("surface.front".to_string(), s.front.sha256_hex()));
        out.push(("surface.back".to_string(), s.back.sha256_hex()));
    }
    for (id, bytes) in &req.chip.files {
        out.push((format!("chip.{}", id.file_name().trim_end_matches(".bin")), sha256_hex(bytes)));
    }
    out
}

//! The photo across A, S and C: SHA-256 first, then the calibrated perceptual distance per
//! comparison kind, with the attribution of causes.md; and the acceptance photo's quality rules.
//! With a scan, A~C is compared only when the attribution needs it (A~S and S~C both differ), so
//! a passing QC card carries the A~S and S~C measures, a kiosk card the A~C measure.

use image::RgbImage;

use idcheck_core::compare::photo::{self, CompareKind, ImageKind, PhotoError, PhotoFeatures, Probe};
use idcheck_core::lds::{ChipData, ImageFormat};
use idcheck_core::model::{AcceptanceRecord, SurfaceRecord};
use idcheck_core::rules::photo_quality;
use idcheck_core::verdict::{attribute, Agreement, Cause, Finding, Observation, Sources};

use super::failures::{self, ChipPhotoError};
use super::Report;

/// The acceptance photo, decoded once for the quality rules and the comparisons.
pub(super) struct Acceptance {
    decoded: Result<RgbImage, PhotoError>,
}

impl Acceptance {
    pub(super) fn decode(record: &AcceptanceRecord) -> Acceptance {
        Acceptance { decoded: photo::decode(record.photo.bytes()) }
    }
}

/// Cause-4 findings from the acceptance photo's quality metrics.
pub(super) fn quality_findings(record: &AcceptanceRecord, acceptance: &Acceptance) -> Vec<Finding> {
    let q = photo_quality::assess_decoded(record.photo.bytes(), acceptance.decoded.as_ref());
    q.failures()
        .into_iter()
        .map(|m| {
            Finding::new(
                Cause::AcceptanceIncorrect,
                m.name.clone(),
                Sources::A,
                format!("acceptance photo quality: {} is {} (bound {})", m.name, m.actual, m.expected),
            )
            .values(m.expected.clone(), m.actual.clone())
        })
        .collect()
}

/// One pairwise photo decision.
struct Pair {
    same: bool,
    distance: f64,
    threshold: f64,
    borderline: bool,
    by_hash: bool,
}

/// The printed photo of a photo-side scan (PNG decoded only down to the rows needed).
pub fn printed_probe(scan: &[u8], dpi: u32) -> Result<Probe, PhotoError> {
    match photo::sniff(scan) {
        Some(ImageKind::Png) => Probe::from_printed_png(scan, dpi),
        _ => Ok(Probe::from_printed_crop(&photo::crop_printed_photo(&photo::decode(scan)?, dpi)?, dpi)),
    }
}

fn decide(kind: CompareKind, a: &PhotoFeatures, b: &Probe) -> Pair {
    let distance = photo::compare_distance(a, b, kind);
    let (same, borderline) = photo::decide(kind, distance);
    Pair { same, distance, threshold: photo::thresholds(kind).threshold, borderline, by_hash: false }
}

pub(super) fn compare(
    record: &AcceptanceRecord,
    acceptance: &Acceptance,
    surface: Option<&SurfaceRecord>,
    chip: Option<&ChipData>,
    report: &mut Report,
) {
    // Features as the calibration made them (PhotoFeatures::from_bytes: the reduced-size decode
    // where it applies); the full decode has already vouched that the photo decodes.
    let a = match &acceptance.decoded {
        Ok(img) => PhotoFeatures::from_bytes_decoded(record.photo.bytes(), img),
        Err(e) => {
            report.not_checked("photo", Sources::A, format!("acceptance photo not decodable: {e}"));
            return;
        }
    };
    let s = match surface {
        Some(s) => match printed_probe(s.front.bytes(), s.dpi) {
            Ok(f) => Some(f),
            Err(e) => {
                report.not_checked("photo", Sources::AS, format!("printed photo not usable: {e}"));
                None
            }
        },
        None => None,
    };
    let c = match chip {
        Some(chip) => {
            let bytes = chip.face.data.bytes();
            let decoded = match chip.face.format {
                ImageFormat::Jpeg => photo::decode(bytes)
                    .map(|img| PhotoFeatures::from_bytes_decoded(bytes, &img))
                    .map_err(ChipPhotoError::from),
                ImageFormat::Jpeg2000 => chip
                    .face
                    .decode_jpeg2000()
                    .map(|img| PhotoFeatures::from_reference(&img))
                    .map_err(ChipPhotoError::from),
            };
            match decoded {
                Ok(features) => Some(features),
                Err(e) => {
                    report.findings.push(failures::chip_photo_finding(&e));
                    None
                }
            }
        }
        None => None,
    };

    let as_ = s.as_ref().map(|s| decide(CompareKind::PrintedVsAcceptance, &a, s));
    let sc = match (&s, &c) {
        (Some(s), Some(c)) => Some(decide(CompareKind::PrintedVsChip, c, s)),
        _ => None,
    };
    // A~C decides only without A~S or S~C (the kiosk), or when both differ (was the surface
    // printed wrong with the chip right, or are all three different?): only then is it compared.
    let ac_needed = match (&as_, &sc) {
        (Some(as_), Some(sc)) => !as_.same && !sc.same,
        _ => true,
    };
    let ac = c.as_ref().filter(|_| ac_needed).map(|c| {
        if chip.is_some_and(|ch| ch.face.data.bytes() == record.photo.bytes()) {
            Pair { same: true, distance: 0.0, threshold: 0.0, borderline: false, by_hash: true }
        } else {
            decide(CompareKind::ChipVsAcceptance, &a, &Probe::from_features(c))
        }
    });
    for (pair, sources) in [(&as_, Sources::AS), (&sc, Sources::SC), (&ac, Sources::AC)] {
        if let Some(p) = pair {
            if !p.by_hash {
                report.observations.push(Observation {
                    item: "photo".into(),
                    sources,
                    score: p.distance,
                    threshold: p.threshold,
                    borderline: p.borderline,
                    detail: if p.same { "same person".into() } else { "different".into() },
                });
            }
        }
    }
    let finding = |cause, sources, p: &Pair, note: &str| {
        let mut detail = format!(
            "photo differs ({sources}): perceptual distance {:.4} above threshold {:.4}",
            p.distance, p.threshold
        );
        if !note.is_empty() {
            detail.push_str("; ");
            detail.push_str(note);
        }
        Finding::new(cause, "photo", sources, detail).scored(p.distance, p.threshold, p.borderline)
    };
    match (&as_, &sc, &ac) {
        (Some(as_), Some(sc), ac) => {
            // With A~S and S~C present, attribution consults A~C only when both differ, and
            // then it has been compared (S~C implies a usable chip photo).
            let ag = Agreement { a_s: Some(as_.same), s_c: Some(sc.same), a_c: ac.as_ref().is_some_and(|p| p.same) };
            for (cause, sources) in attribute(ag) {
                let p = match sources {
                    Sources::AS => Some(as_),
                    Sources::SC => Some(sc),
                    _ => ac.as_ref(),
                };
                if let Some(p) = p {
                    report.findings.push(finding(cause, sources, p, ""));
                }
            }
        }
        (Some(as_), _, _) if !as_.same => {
            report.findings.push(finding(Cause::AcceptanceVsSurface, Sources::AS, as_, "chip photo not compared"))
        }
        (None, _, Some(ac)) if !ac.same => {
            let note = if surface.is_some() { "" } else { "the surface was not checked" };
            report.findings.push(finding(Cause::SurfaceVsChip, Sources::AC, ac, note))
        }
        _ => {}
    }
}

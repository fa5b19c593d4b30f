//! `idcheck-testkit fixtures generate` and `idcheck-testkit calibrate`: the labelled corpus and
//! the thresholds recomputed from data.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;

use super::{CliError, CliResult, EX_NOINPUT};

#[derive(Subcommand)]
pub enum FixturesCmd {
    /// Write the labelled corpus of cases (one directory per case, plus trust/ and pki/).
    Generate {
        #[arg(long)]
        out: PathBuf,
        /// Face photos to draw people from (default: the project's fixtures/faces).
        #[arg(long)]
        faces: Option<PathBuf>,
        #[arg(long, default_value_t = 2026)]
        seed: u64,
    },
}

#[derive(Subcommand)]
pub enum CalibrateCmd {
    /// Photo thresholds per comparison kind from a directory of face photos.
    Photos {
        dir: PathBuf,
        #[arg(long, default_value_t = 2026)]
        seed: u64,
        /// Write the calibration JSON here (e.g. calibration/photo.json).
        #[arg(long)]
        out: Option<PathBuf>,
        /// A passing card directory (acceptance/<id>/photo.jpg, chip/dg2.bin with a JPEG face,
        /// surface/<scan>/front.png at 600 dpi) whose three photo pairs are checked against
        /// the new thresholds (`samples` in the output), e.g. fixtures/samples/pass-case.
        #[arg(long)]
        sample: Option<PathBuf>,
    },
    /// Fingerprint threshold from a directory tree of ISO 19794-2 templates named NNN_K.iso.
    Fingerprints {
        dir: PathBuf,
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

pub fn fixtures(cmd: FixturesCmd) -> CliResult {
    let FixturesCmd::Generate { out, faces, seed } = cmd;
    let faces = faces.unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("fixtures/faces"));
    let corpus = idcheck_testkit::fixtures::generate(&faces, &out, seed).map_err(CliError::io)?;
    println!("{} cases written to {}", corpus.len(), out.display());
    Ok(ExitCode::SUCCESS)
}

pub fn calibrate(cmd: CalibrateCmd) -> CliResult {
    let (json, out) = match cmd {
        CalibrateCmd::Photos { dir, seed, out, sample } => {
            let faces = load_faces(&dir)?;
            let samples = sample.as_deref().map(load_sample_card).transpose()?;
            eprintln!("calibrating on {} faces", faces.len());
            let cal = idcheck_testkit::calibration::photo::calibrate_photos_with_samples(
                &faces,
                seed,
                samples.as_slice(),
                &idcheck_testkit::calibration::photo::CalibrationOptions::default(),
            );
            (serde_json::to_string_pretty(&cal).map_err(CliError::data)?, out)
        }
        CalibrateCmd::Fingerprints { dir, out } => {
            let templates = load_templates(&dir)?;
            eprintln!("calibrating on {} templates", templates.len());
            let cal = idcheck_core::compare::fingerprint::calibrate(&templates);
            fingerprint_summary(&cal);
            (serde_json::to_string_pretty(&cal).map_err(CliError::data)?, out)
        }
    };
    match out {
        Some(p) => std::fs::write(&p, json + "\n").map_err(|e| CliError::io(format!("{}: {e}", p.display())))?,
        None => println!("{json}"),
    }
    Ok(ExitCode::SUCCESS)
}

/// The two thresholds and the held-out check of a fingerprint calibration, on stderr (the JSON
/// holds it all).
fn fingerprint_summary(cal: &idcheck_core::compare::fingerprint::FingerprintCalibration) {
    let (two, card) = (&cal.two_impressions, &cal.card);
    let factor = |f: Option<f64>| f.map_or("-".to_string(), |x| format!("x{x:.2}"));
    eprintln!(
        "two impressions: threshold {:.4} (borderline {:.4}-{:.4}), EER {:.2}%, FNMR {:.2}% at the threshold",
        two.thresholds.threshold,
        two.thresholds.borderline_low,
        two.thresholds.borderline_high,
        100.0 * two.eer,
        100.0 * two.verdict.fnmr
    );
    let c = &card.check;
    eprintln!(
        "card: threshold {:.4} (borderline {:.4}-{:.4}) between the highest other-finger score {:.4} ({} comparisons; margin {:.4}, {}) and the lowest own re-encoded score {:.4} (margin {:.4}, {})",
        card.thresholds.threshold,
        card.thresholds.borderline_low,
        card.thresholds.borderline_high,
        c.highest_other_score,
        c.other_fingers.comparisons,
        c.margins.other,
        factor(c.margins.other_factor),
        c.lowest_own_score,
        c.margins.own,
        factor(c.margins.own_factor)
    );
    for f in &card.held_out {
        eprintln!(
            "  held out {} (trained on {}): threshold {:.4}; own missed: chip {}/{}, compact {}/{} (lowest {:.4}, margin {}); other fingers accepted {}/{} (highest {:.4}, margin {}); at the two-impressions threshold {:.4} trained alike: {} accepted",
            f.held_out,
            f.trained_on.join(" "),
            f.thresholds.threshold,
            f.chip_own.missed,
            f.chip_own.templates,
            f.compact_own.missed,
            f.compact_own.templates,
            f.chip_own.lowest_score.min(f.compact_own.lowest_score),
            factor(f.margins.own_factor),
            f.other_fingers.accepted,
            f.other_fingers.comparisons,
            f.other_fingers.highest_score,
            factor(f.margins.other_factor),
            f.two_impressions_threshold,
            f.other_fingers_accepted_at_two_impressions_threshold
        );
        eprintln!(
            "    and across: {} of {} held-out vs training other-finger comparisons accepted (highest {:.4})",
            f.other_fingers_across.accepted, f.other_fingers_across.comparisons, f.other_fingers_across.highest_score
        );
    }
    for p in &card.stress {
        eprintln!(
            "  simulated ({}, {:.4}): {} of {} other fingers accepted at the two-impressions threshold, {} at the card threshold ({} borderline; highest {:.4})",
            p.model,
            p.parameter,
            p.accepted_at_two_impressions_threshold,
            p.comparisons,
            p.accepted_at_card_threshold,
            p.borderline_at_card_threshold,
            p.highest_score
        );
    }
}

fn sorted_files(dir: &Path, ext: &str) -> Result<Vec<PathBuf>, CliError> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let rd = std::fs::read_dir(&d).map_err(|e| CliError::new(EX_NOINPUT, format!("{}: {e}", d.display())))?;
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().and_then(|x| x.to_str()).is_some_and(|x| x.eq_ignore_ascii_case(ext)) {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// A passing card directory as `calibrate photos --sample` reads it.
fn load_sample_card(dir: &Path) -> Result<idcheck_testkit::calibration::photo::SampleCard, CliError> {
    let read = |p: PathBuf| std::fs::read(&p).map_err(|e| CliError::io(format!("{}: {e}", p.display())));
    let only = |sub: &str| -> Result<PathBuf, CliError> {
        let d = dir.join(sub);
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&d)
            .map_err(|e| CliError::io(format!("{}: {e}", d.display())))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir())
            .collect();
        entries.sort();
        entries.into_iter().next().ok_or_else(|| CliError::data(format!("{}: no directory inside", d.display())))
    };
    let dg2 = read(dir.join("chip/dg2.bin"))?;
    let face = idcheck_core::lds::parse_dg2(&dg2).map_err(|e| CliError::data(format!("sample chip/dg2.bin: {e}")))?;
    let chip = idcheck_core::compare::photo::decode(face.data.bytes())
        .map_err(|e| CliError::data(format!("sample chip photo: {e}")))?;
    Ok(idcheck_testkit::calibration::photo::SampleCard {
        name: dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        acceptance: read(only("acceptance")?.join("photo.jpg"))?,
        chip,
        front_png: read(only("surface")?.join("front.png"))?,
        dpi: 600,
    })
}

fn load_faces(dir: &Path) -> Result<Vec<(String, image::RgbImage)>, CliError> {
    let mut faces = Vec::new();
    for p in sorted_files(dir, "jpg")? {
        let bytes = std::fs::read(&p).map_err(|e| CliError::io(format!("{}: {e}", p.display())))?;
        let img = idcheck_core::compare::photo::decode(&bytes).map_err(|e| CliError::data(format!("{}: {e}", p.display())))?;
        let name = p.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
        faces.push((name, img));
    }
    Ok(faces)
}

fn load_templates(dir: &Path) -> Result<Vec<(String, idcheck_core::biometrics::MinutiaeRecord)>, CliError> {
    let mut out = Vec::new();
    for p in sorted_files(dir, "iso")? {
        let bytes = std::fs::read(&p).map_err(|e| CliError::io(format!("{}: {e}", p.display())))?;
        let rec = idcheck_core::biometrics::MinutiaeRecord::parse(&bytes).map_err(|e| CliError::data(format!("{}: {e}", p.display())))?;
        // Finger id: the parent directory (database) and the part of the name before `_`.
        let db = p.parent().and_then(|d| d.file_name()).and_then(|s| s.to_str()).unwrap_or_default();
        let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        let finger = stem.split('_').next().unwrap_or(stem);
        out.push((format!("{db}/{finger}"), rec));
    }
    Ok(out)
}

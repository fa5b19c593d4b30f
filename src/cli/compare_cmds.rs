//! `idcheck photo compare` and `idcheck fingerprint compare`: one pairwise comparison with its
//! score, threshold and decision.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Subcommand, ValueEnum};
use idcheck::biometrics::{Minutia, MinutiaeRecord};
use idcheck::compare::{fingerprint, photo};
use idcheck::lds;

use super::{CliError, CliResult, EX_NOINPUT};

#[derive(Subcommand)]
pub enum PhotoCmd {
    /// Compare two photos. A is a reference photo (acceptance or chip); B is a photo or, with
    /// --kind printed-*, the 600-dpi photo-side scan of the card.
    Compare {
        a: PathBuf,
        b: PathBuf,
        /// Which comparison (and so which calibrated threshold) applies.
        #[arg(long, value_enum, default_value = "chip-vs-acceptance")]
        kind: Kind,
        /// Scan resolution of B when B is a card scan.
        #[arg(long, default_value_t = 600)]
        dpi: u32,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Kind {
    /// A~S: B is the card scan, A the acceptance photo.
    PrintedVsAcceptance,
    /// S~C: B is the card scan, A the chip photo.
    PrintedVsChip,
    /// A~C: both are photos.
    ChipVsAcceptance,
}

#[derive(Subcommand)]
pub enum FingerprintCmd {
    /// Compare two fingerprints. Each is an ISO/IEC 19794-2 file, or a chip slot written as
    /// `PATH#N` where PATH is a dg3.bin file or a chip image directory and N the slot (1 or 2).
    Compare {
        a: String,
        b: String,
        #[arg(long)]
        json: bool,
    },
}

fn read(p: &Path) -> Result<Vec<u8>, CliError> {
    std::fs::read(p).map_err(|e| CliError::new(EX_NOINPUT, format!("cannot read {}: {e}", p.display())))
}

pub fn photo(cmd: PhotoCmd) -> CliResult {
    let PhotoCmd::Compare { a, b, kind, dpi, json } = cmd;
    let a_img = photo::decode(&read(&a)?).map_err(|e| CliError::data(format!("{}: {e}", a.display())))?;
    let reference = photo::PhotoFeatures::from_reference(&a_img);
    let b_bytes = read(&b)?;
    let (k, probe) = match kind {
        Kind::ChipVsAcceptance => {
            let img = photo::decode(&b_bytes).map_err(|e| CliError::data(format!("{}: {e}", b.display())))?;
            (photo::CompareKind::ChipVsAcceptance, photo::Probe::from_photo(&img))
        }
        Kind::PrintedVsAcceptance | Kind::PrintedVsChip => {
            let f = idcheck::verify::printed_probe(&b_bytes, dpi).map_err(|e| CliError::data(format!("{}: {e}", b.display())))?;
            let k = if matches!(kind, Kind::PrintedVsAcceptance) {
                photo::CompareKind::PrintedVsAcceptance
            } else {
                photo::CompareKind::PrintedVsChip
            };
            (k, f)
        }
    };
    let score = photo::compare(&reference, &probe, k);
    let (same, borderline) = photo::decide(k, score.distance);
    let th = photo::thresholds(k);
    if json {
        let v = serde_json::json!({
            "kind": format!("{k:?}"), "distance": score.distance, "threshold": th.threshold,
            "borderline_low": th.borderline_low, "borderline_high": th.borderline_high,
            "same": same, "borderline": borderline,
        });
        println!("{v}");
    } else {
        println!(
            "{k:?}: distance {:.4}, threshold {:.4}: {}{}",
            score.distance,
            th.threshold,
            if same { "same person" } else { "different" },
            if borderline { " (borderline: look)" } else { "" }
        );
    }
    Ok(ExitCode::from(if same { 0 } else { 1 }))
}

/// An ISO file, or `PATH#N` for slot N of a dg3.bin or a chip image directory.
fn load_minutiae(spec: &str) -> Result<Vec<Minutia>, CliError> {
    if let Some((path, slot)) = spec.rsplit_once('#') {
        let n: usize = slot.parse().map_err(|_| CliError::data(format!("{spec}: slot {slot:?} is not a number")))?;
        let mut p = PathBuf::from(path);
        if p.is_dir() {
            p = p.join(lds::FileId::Dg3.file_name());
        }
        let bytes = read(&p)?;
        let slots = lds::parse_dg3(&bytes).map_err(|e| CliError::data(format!("{}: {e}", p.display())))?;
        let s = slots
            .get(n.wrapping_sub(1))
            .ok_or_else(|| CliError::data(format!("{}: no slot {n} (the file holds {})", p.display(), slots.len())))?;
        return Ok(s.minutiae.clone());
    }
    let p = PathBuf::from(spec);
    let rec = MinutiaeRecord::parse(&read(&p)?).map_err(|e| CliError::data(format!("{}: {e}", p.display())))?;
    Ok(rec.minutiae)
}

pub fn fingerprint(cmd: FingerprintCmd) -> CliResult {
    let FingerprintCmd::Compare { a, b, json } = cmd;
    let (ma, mb) = (load_minutiae(&a)?, load_minutiae(&b)?);
    let same_hash = fingerprint::canonical_hash(&ma) == fingerprint::canonical_hash(&mb);
    let score = if same_hash {
        1.0
    } else {
        fingerprint::match_score(&fingerprint::Template::prepare(&ma), &fingerprint::Template::prepare(&mb))
    };
    let decision = fingerprint::decide(score);
    let (same, borderline) = (decision.is_match(), decision.is_borderline());
    let th = fingerprint::thresholds();
    if json {
        let v = serde_json::json!({
            "score": score, "threshold": th.threshold, "identical_minutiae": same_hash,
            "same": same, "borderline": borderline, "minutiae": [ma.len(), mb.len()],
        });
        println!("{v}");
    } else {
        println!(
            "score {score:.4} (minutiae {} / {}{}), threshold {:.4}: {}{}",
            ma.len(),
            mb.len(),
            if same_hash { ", identical canonical minutiae" } else { "" },
            th.threshold,
            if same { "same finger" } else { "different finger" },
            if borderline { " (borderline: look)" } else { "" }
        );
    }
    Ok(ExitCode::from(if same { 0 } else { 1 }))
}

//! `idcheck photo compare` and `idcheck fingerprint compare`: one pairwise comparison with its
//! score, threshold and decision; `idcheck fingerprint eval`: the matcher's error rates, re-encoding
//! checks and speed on a directory of labelled templates; `idcheck fingerprint search`: 1:N search
//! of a template among the fingers of a batch of acceptance records (whose finger a card carries).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Subcommand, ValueEnum};
use idcheck_core::biometrics::{Minutia, MinutiaeRecord};
use idcheck_core::compare::{fingerprint, photo};
use idcheck_core::lds;

use super::{CliError, CliResult, EX_NOINPUT};

#[derive(Subcommand)]
pub enum PhotoCmd {
    /// Compare two photos. A is a reference photo (acceptance or chip); B is a photo or, with
    /// --kind printed-*, the 600-dpi photo-side scan of the card. A photo is a JPEG or PNG file,
    /// or the chip's face: a dg2.bin file or a chip image directory (JPEG or JPEG 2000 in DG2).
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
    /// The score is shown against both thresholds; the one of --case decides (exit code).
    Compare {
        a: String,
        b: String,
        /// Which question decides: card (is a chip slot the acceptance capture re-encoded?),
        /// two-impressions (are two captures the same finger?), or auto: card when A or B is a
        /// chip slot (PATH#N), else two-impressions.
        #[arg(long, value_enum, default_value = "auto")]
        case: Case,
        #[arg(long)]
        json: bool,
    },
    /// Evaluate the matcher on a directory (searched recursively) of ISO/IEC 19794-2 templates
    /// named FINGER_IMPRESSION.iso: the same FINGER in the same directory is the same finger.
    /// Prints the two-impressions figures (per directory and overall the equal-error rate, the
    /// false-non-match rate at false-match rates 1e-2, 1e-3 and 1e-4, the committed
    /// two-impressions threshold on the data), the card figures (the chip-slot and compact
    /// re-encodings and every other-finger comparison against the committed card threshold, with
    /// the margins), and comparisons per second (one thread).
    Eval {
        dir: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Search the fingers of a batch of acceptance records for the best matches of TEMPLATE (an
    /// ISO 19794-2 file or PATH#N, as for compare): whose fingerprint does a card carry?
    Search {
        template: String,
        /// A record directory, a directory of record directories, or a JSON Lines file.
        #[arg(long)]
        records: PathBuf,
        /// Which threshold decides each candidate, as for compare (auto: card when TEMPLATE is
        /// a chip slot PATH#N, else two-impressions).
        #[arg(long, value_enum, default_value = "auto")]
        case: Case,
        /// How many candidates to list.
        #[arg(long, default_value_t = 5)]
        top: usize,
        #[arg(long)]
        json: bool,
    },
}

/// `--case` of `fingerprint compare` and `fingerprint search`.
#[derive(Clone, Copy, ValueEnum)]
pub enum Case {
    /// Card when a template is a chip slot (PATH#N), else two-impressions.
    Auto,
    /// A chip slot against the acceptance capture it must be re-encoded from.
    Card,
    /// Two captures (impressions) of a finger.
    TwoImpressions,
}

impl Case {
    /// The case that decides, and why (for the output).
    fn resolve(self, specs: &[&str]) -> (fingerprint::FingerCase, &'static str) {
        match self {
            Case::Card => (fingerprint::FingerCase::Card, "--case card"),
            Case::TwoImpressions => (fingerprint::FingerCase::TwoImpressions, "--case two-impressions"),
            Case::Auto if specs.iter().any(|s| is_slot_spec(s)) => (fingerprint::FingerCase::Card, "--case auto: a chip slot"),
            Case::Auto => (fingerprint::FingerCase::TwoImpressions, "--case auto: no chip slot"),
        }
    }
}

/// `PATH#N`: slot N of a dg3.bin or a chip image directory.
fn is_slot_spec(spec: &str) -> bool {
    spec.rsplit_once('#').is_some()
}

fn case_label(case: fingerprint::FingerCase) -> &'static str {
    match case {
        fingerprint::FingerCase::Card => "card (a chip slot vs the acceptance capture it is re-encoded from)",
        fingerprint::FingerCase::TwoImpressions => "two impressions (two captures of a finger)",
    }
}

fn read(p: &Path) -> Result<Vec<u8>, CliError> {
    std::fs::read(p).map_err(|e| CliError::new(EX_NOINPUT, format!("cannot read {}: {e}", p.display())))
}

pub fn photo(cmd: PhotoCmd) -> CliResult {
    let PhotoCmd::Compare { a, b, kind, dpi, json } = cmd;
    let reference = photo::PhotoFeatures::from_reference(&load_photo(&a)?);
    let (k, probe) = match kind {
        Kind::ChipVsAcceptance => (photo::CompareKind::ChipVsAcceptance, photo::Probe::from_photo(&load_photo(&b)?)),
        Kind::PrintedVsAcceptance | Kind::PrintedVsChip => {
            let f = idcheck_verify::printed_probe(&read(&b)?, dpi).map_err(|e| CliError::data(format!("{}: {e}", b.display())))?;
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

/// A JPEG or PNG file, or the face of DG2: a dg2.bin file (BER-TLV tag 75) or a chip image
/// directory holding one.
fn load_photo(path: &Path) -> Result<image::RgbImage, CliError> {
    let p = if path.is_dir() { path.join(lds::FileId::Dg2.file_name()) } else { path.to_path_buf() };
    let bytes = read(&p)?;
    let bad = |e: &dyn std::fmt::Display| CliError::data(format!("{}: {e}", p.display()));
    if bytes.first() != Some(&0x75) {
        return photo::decode(&bytes).map_err(|e| bad(&e));
    }
    let face = lds::parse_dg2(&bytes).map_err(|e| bad(&e))?;
    match face.format {
        lds::ImageFormat::Jpeg => photo::decode(face.data.bytes()).map_err(|e| bad(&e)),
        lds::ImageFormat::Jpeg2000 => face.decode_jpeg2000().map_err(|e| bad(&e)),
    }
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
    match cmd {
        FingerprintCmd::Compare { a, b, case, json } => fingerprint_compare(&a, &b, case, json),
        FingerprintCmd::Eval { dir, json } => fingerprint_eval(&dir, json),
        FingerprintCmd::Search { template, records, top, case, json } => fingerprint_search(&template, &records, top, case, json),
    }
}

fn fingerprint_compare(a: &str, b: &str, case: Case, json: bool) -> CliResult {
    use fingerprint::FingerCase;
    let (ma, mb) = (load_minutiae(a)?, load_minutiae(b)?);
    let (case, why) = case.resolve(&[a, b]);
    let same_hash = fingerprint::canonical_hash(&ma) == fingerprint::canonical_hash(&mb);
    let score = if same_hash {
        1.0
    } else {
        fingerprint::match_score(&fingerprint::Template::prepare(&ma), &fingerprint::Template::prepare(&mb))
    };
    let both = [FingerCase::Card, FingerCase::TwoImpressions].map(|c| (c, fingerprint::thresholds(c), fingerprint::decide(c, score)));
    let chosen = fingerprint::decide(case, score);
    let th = fingerprint::thresholds(case);
    if json {
        let mut v = serde_json::json!({
            "score": score, "identical_minutiae": same_hash, "minutiae": [ma.len(), mb.len()],
            "case": case.name(), "threshold": th.threshold, "same": chosen.is_match(), "borderline": chosen.is_borderline(),
        });
        for (c, t, d) in &both {
            v[c.name()] = serde_json::json!({
                "threshold": t.threshold, "borderline_low": t.borderline_low, "borderline_high": t.borderline_high,
                "same": d.is_match(), "borderline": d.is_borderline(),
            });
        }
        println!("{v}");
    } else {
        println!(
            "score {score:.4} (minutiae {} / {}{})",
            ma.len(),
            mb.len(),
            if same_hash { ", identical canonical minutiae" } else { "" }
        );
        for (c, t, d) in &both {
            println!(
                "  {}, threshold {:.4}: {}{}{}",
                case_label(*c),
                t.threshold,
                if d.is_match() { "same finger" } else { "different finger" },
                if d.is_borderline() { " (borderline: look)" } else { "" },
                if *c == case { format!("  <- decides ({why})") } else { String::new() }
            );
        }
    }
    Ok(ExitCode::from(if chosen.is_match() { 0 } else { 1 }))
}

/// Every `*.iso` file under `dir`, sorted; the finger id is the directory relative to `dir` and
/// the part of the file name before `_` ("DB1_B/101" for DB1_B/101_3.iso).
fn load_labelled(dir: &Path) -> Result<Vec<(String, MinutiaeRecord)>, CliError> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let rd = std::fs::read_dir(&d).map_err(|e| CliError::new(EX_NOINPUT, format!("cannot read {}: {e}", d.display())))?;
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().and_then(|x| x.to_str()).is_some_and(|x| x.eq_ignore_ascii_case("iso")) {
                files.push(p);
            }
        }
    }
    files.sort();
    let mut out = Vec::with_capacity(files.len());
    for p in files {
        let rec = MinutiaeRecord::parse(&read(&p)?).map_err(|e| CliError::data(format!("{}: {e}", p.display())))?;
        let group = p.parent().and_then(|d| d.strip_prefix(dir).ok()).map(|g| g.to_string_lossy().into_owned()).unwrap_or_default();
        let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        let finger = stem.split('_').next().unwrap_or(stem);
        out.push((if group.is_empty() { finger.to_string() } else { format!("{group}/{finger}") }, rec));
    }
    if out.is_empty() {
        return Err(CliError::new(EX_NOINPUT, format!("{}: no *.iso templates", dir.display())));
    }
    Ok(out)
}

fn pct(x: f64) -> String {
    format!("{:.2}%", 100.0 * x)
}

fn fingerprint_eval(dir: &Path, json: bool) -> CliResult {
    use fingerprint::FingerCase;
    let templates = load_labelled(dir)?;
    let ev = fingerprint::evaluate(&templates, &fingerprint::thresholds(FingerCase::TwoImpressions), &fingerprint::thresholds(FingerCase::Card));
    if json {
        println!("{}", serde_json::to_string_pretty(&ev).map_err(CliError::data)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("matcher {}: {} templates of {} fingers", ev.matcher, ev.templates, ev.fingers);
    let two = &ev.two_impressions;
    println!("two impressions (genuine = two captures of one finger; impostor = two different fingers):");
    let line = |g: &fingerprint::GroupStats| {
        let fnmr: Vec<String> = g.operating_points.iter().map(|o| pct(o.fnmr)).collect();
        println!(
            "  {:<8} {:>4} templates, {:>5} genuine / {:>6} impostor pairs: EER {:>6}; FNMR at FMR 1e-2 / 1e-3 / 1e-4: {}",
            g.group,
            g.templates,
            g.genuine_pairs,
            g.impostor_pairs,
            pct(g.eer),
            fnmr.join(" / ")
        );
    };
    two.groups.iter().for_each(line);
    line(&two.overall);
    println!("  mean EER over {} groups: {}", two.groups.len(), pct(two.mean_group_eer));
    println!(
        "  two-impressions threshold {:.4} (committed): FNMR {} and {} false matches of {} impostor pairs on this data",
        two.verdict.threshold,
        pct(two.verdict.fnmr),
        two.verdict.false_matches,
        two.overall.impostor_pairs
    );
    let card = &ev.card;
    let c = &card.check;
    println!(
        "card (a chip slot vs the acceptance capture it is re-encoded from): threshold {:.4} (committed), borderline {:.4}-{:.4}",
        card.thresholds.threshold, card.thresholds.borderline_low, card.thresholds.borderline_high
    );
    for (name, r) in [("chip slot", &c.chip), ("compact card", &c.compact)] {
        println!(
            "  {name} re-encoding: {} of {} own templates missed (lowest score {:.4}, {} borderline); {} of {} comparisons with another finger accepted (highest {:.4})",
            r.own.missed, r.own.templates, r.own.lowest_score, r.own.borderline, r.other_fingers.accepted, r.other_fingers.comparisons, r.other_fingers.highest_score
        );
    }
    println!(
        "  impostor pairs: {} of {} accepted (highest {:.4}); all other-finger comparisons: {} of {} accepted, {} borderline",
        c.impostor_pairs.accepted, c.impostor_pairs.comparisons, c.impostor_pairs.highest_score, c.other_fingers.accepted, c.other_fingers.comparisons, c.other_fingers.borderline
    );
    let factor = |f: Option<f64>| f.map_or("-".to_string(), |x| format!("x{x:.2}"));
    println!(
        "  margins: lowest own score {:.4} is {:+.4} ({}) from the threshold; highest other-finger score {:.4} is {:+.4} ({}) below it",
        c.lowest_own_score,
        c.margins.own,
        factor(c.margins.own_factor),
        c.highest_other_score,
        c.margins.other,
        factor(c.margins.other_factor)
    );
    println!(
        "  the card rule on this data alone would set {:.4}; two-impressions genuine pairs below the card threshold: {} (not the card's question)",
        card.rule_on_this_data.threshold,
        pct(c.two_impressions_fnmr)
    );
    println!(
        "speed: prepare {:.0} us per template (median {:.0}, max {:.0} for {} minutiae); {} comparisons in {:.2} s: {:.0} comparisons/s on one core",
        ev.speed.prepare_mean_us, ev.speed.prepare_median_us, ev.speed.prepare_max_us, ev.speed.prepare_max_minutiae, ev.speed.comparisons, ev.speed.seconds, ev.speed.comparisons_per_second
    );
    Ok(ExitCode::SUCCESS)
}

fn fingerprint_search(template: &str, records: &Path, top: usize, case: Case, json: bool) -> CliResult {
    let (case, why) = case.resolve(&[template]);
    let probe = fingerprint::Template::prepare(&load_minutiae(template)?);
    let loaded = idcheck_core::records::acceptance::load_any(records).map_err(CliError::data)?;
    // (application id, entry index, finger code) of every finger with a usable template.
    let mut labels: Vec<(String, usize, u8)> = Vec::new();
    let mut gallery = Vec::new();
    let mut skipped = Vec::new();
    for r in loaded {
        let rec = match r {
            Ok(rec) => rec,
            Err(e) => {
                skipped.push(e.to_string());
                continue;
            }
        };
        for (i, f) in rec.fingerprints.iter().enumerate() {
            let Some(t) = &f.template else { continue };
            match MinutiaeRecord::parse(t.bytes()) {
                Ok(m) => {
                    gallery.push(fingerprint::Template::prepare(&m.minutiae));
                    labels.push((rec.application_id.clone(), i + 1, f.finger));
                }
                Err(e) => skipped.push(format!("{} fingerprint[{}]: {e}", rec.application_id, i + 1)),
            }
        }
    }
    for s in &skipped {
        eprintln!("skipped: {s}");
    }
    let hits = fingerprint::search(&probe, &gallery, top, case);
    let th = fingerprint::thresholds(case);
    let found = hits.iter().any(|h| h.decision.is_match());
    if json {
        let v: Vec<serde_json::Value> = hits
            .iter()
            .filter_map(|h| {
                let (app, i, code) = labels.get(h.index)?;
                Some(serde_json::json!({
                    "application_id": app, "fingerprint": i, "finger": code, "score": h.score,
                    "same": h.decision.is_match(), "borderline": h.decision.is_borderline(),
                }))
            })
            .collect();
        let out = serde_json::json!({
            "case": case.name(), "threshold": th.threshold, "fingers_searched": gallery.len(), "skipped": skipped.len(), "candidates": v,
        });
        println!("{out}");
    } else {
        println!("{} fingers searched; {}, threshold {:.4} ({why})", gallery.len(), case_label(case), th.threshold);
        for (rank, h) in hits.iter().enumerate() {
            let Some((app, i, code)) = labels.get(h.index) else { continue };
            println!(
                "{:>3}. {app} fingerprint[{i}] (finger {code}): score {:.4}: {}{}",
                rank + 1,
                h.score,
                if h.decision.is_match() { "same finger" } else { "different finger" },
                if h.decision.is_borderline() { " (borderline: look)" } else { "" }
            );
        }
    }
    Ok(ExitCode::from(if found { 0 } else { 1 }))
}

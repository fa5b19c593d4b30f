//! Reproducible photo calibration. For each portrait: the acceptance photo (358x441 JPEG), the
//! chip photo (102x126 JPEG q60, our writer's format) and printed-and-scanned copies (the print
//! simulation of `fixtures::print`, several degradation seeds up to the allowed 1 mm / 1°, one of
//! them the extreme corner, one with a vignette printer). Genuine distances per kind; other-person
//! distances per kind over the most alike pairs (nearest by unaligned distance) plus a seeded
//! random sample; thresholds in the gap and a grey zone; the quality bounds of the acceptance
//! photos. Pure computation: the caller reads the faces and writes the JSON.
//!
//! The format of calibration/photo.json is [`PhotoCalibration`]; [`committed_calibration`] reads
//! the committed file whole. `compare::photo` reads only the thresholds from it (so it names
//! neither this module nor the quality rules), `rules::photo_quality` only the quality bounds.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use image::RgbImage;

use idcheck_core::compare::photo::{self as photo, compare, crop_printed_photo, decode, CompareKind, PhotoFeatures, Probe, Threshold};
use idcheck_core::compare::photo::decide_with;
use crate::fixtures::print::{self, Degradation, PrintStyle};
use idcheck_core::rules::photo_quality::{self, QualityBounds, QualityCalibration, RawMetrics};

/// How much work a calibration run does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalibrationOptions {
    /// Printed copies per face (degradation seeds; at most 4 kinds are cycled).
    pub print_seeds: usize,
    /// Most alike other people per reference (by unaligned distance), always compared.
    pub nearest: usize,
    /// Random other-person pairs in addition (all pairs when there are fewer).
    pub random_pairs: usize,
}

impl Default for CalibrationOptions {
    fn default() -> Self {
        CalibrationOptions {
            print_seeds: 4,
            nearest: 8,
            random_pairs: 20_000,
        }
    }
}

/// Mean chroma below which a portrait is monochrome: not a valid acceptance photo (GA 461 wants
/// 24-bit colour), so it is left out of the quality calibration.
pub const MONOCHROME_CHROMA: f64 = 1.0;

/// Distribution summary of genuine distances.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenuineStats {
    pub count: usize,
    pub median: f64,
    pub p99: f64,
    pub max: f64,
}

/// Distribution summary of other-person distances.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImpostorStats {
    pub count: usize,
    pub min: f64,
    pub p0_1: f64,
    pub p1: f64,
    pub median: f64,
    /// The closest pairs: (reference, probe, distance).
    pub most_alike: Vec<(String, String, f64)>,
}

/// Calibration of one comparison kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KindCalibration {
    pub kind: CompareKind,
    pub sources: String,
    pub genuine: GenuineStats,
    pub impostor: ImpostorStats,
    /// impostor.min - genuine.max (positive: the classes are separated on the data).
    pub margin: f64,
    pub threshold: Threshold,
    /// Share of other-person pairs at or below the threshold.
    pub far: f64,
    /// Share of genuine pairs above the threshold.
    pub frr: f64,
    /// Aligned 256-bit pHash distances, for information: genuine max, impostor min (bits).
    pub phash_genuine_max: u32,
    pub phash_impostor_min: u32,
    /// Unaligned correlation distance, for information: genuine max, impostor min.
    pub unaligned_genuine_max: f64,
    pub unaligned_impostor_min: f64,
}

/// A sample card (acceptance photo bytes, decoded chip photo, photo-side PNG) checked against
/// the calibrated thresholds.
pub struct SampleCard {
    pub name: String,
    pub acceptance: Vec<u8>,
    pub chip: RgbImage,
    pub front_png: Vec<u8>,
    pub dpi: u32,
}

/// Result of one sample pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleCheck {
    pub name: String,
    pub kind: CompareKind,
    pub distance: f64,
    pub threshold: f64,
    pub same: bool,
    pub borderline: bool,
}

/// The whole calibration (calibration/photo.json).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhotoCalibration {
    pub description: String,
    pub seed: u64,
    pub faces: usize,
    pub options: CalibrationOptions,
    /// The printed copies: what each degradation seed does.
    pub print_copies: String,
    pub measure: String,
    pub threshold_rule: String,
    pub kinds: Vec<KindCalibration>,
    pub quality: Option<QualityCalibration>,
    pub samples: Vec<SampleCheck>,
    /// The leave-out check: thresholds and quality bounds fitted without one fold of the faces,
    /// errors counted on that fold.
    #[serde(default)]
    pub held_out: Option<HeldOut>,
}

/// Number of folds of the leave-out check.
pub const FOLDS: usize = 5;

/// The leave-out check over [`FOLDS`] folds of the faces (a seeded shuffle).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeldOut {
    pub folds: usize,
    pub rule: String,
    pub per_fold: Vec<FoldResult>,
}

/// One fold's held-out errors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FoldResult {
    pub fold: usize,
    pub faces: usize,
    pub kinds: Vec<FoldKind>,
    /// Held-out standard (colour) photos, and how many fail the bounds fitted without them.
    pub standard_photos: usize,
    pub standard_failing: usize,
    /// The metrics those failing standard photos fail, with how many fail each.
    #[serde(default)]
    pub standard_failing_metrics: std::collections::BTreeMap<String, usize>,
    /// Held-out raw portraits (own backdrop), and how many pass those bounds.
    pub raw_photos: usize,
    pub raw_passing: usize,
}

/// One comparison kind on a held-out fold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FoldKind {
    pub kind: CompareKind,
    /// Threshold fitted on the other folds.
    pub threshold: f64,
    pub genuine: usize,
    pub genuine_rejected: usize,
    /// Other-person pairs with both people in the held-out fold.
    pub other: usize,
    pub other_accepted: usize,
}

impl PhotoCalibration {
    pub fn kind(&self, kind: CompareKind) -> Option<&KindCalibration> {
        self.kinds.iter().find(|k| k.kind == kind)
    }
}

const CALIBRATION_JSON: &str = include_str!("../../../../calibration/photo.json");

/// The committed calibration (calibration/photo.json), if it parses.
pub fn committed_calibration() -> Option<&'static PhotoCalibration> {
    static CAL: std::sync::OnceLock<Option<PhotoCalibration>> = std::sync::OnceLock::new();
    CAL.get_or_init(|| serde_json::from_str(CALIBRATION_JSON).ok()).as_ref()
}

/// Per-face material.
struct Face {
    name: String,
    acc: PhotoFeatures,
    chip: PhotoFeatures,
    chip_probe: Probe,
    /// The printed probe of print seed 0 (used for other-person pairs).
    print0: Probe,
    quality: RawMetrics,
    /// The raw portrait (own backdrop, scaled) measured the same way.
    raw_quality: RawMetrics,
    /// Genuine distances per kind (A~S, S~C, A~C).
    genuine: [Vec<f64>; 3],
    /// The standard acceptance photo and the raw portrait scaled, as JPEG (leave-out check).
    acc_jpeg: Vec<u8>,
    raw_jpeg: Vec<u8>,
}

fn print_window() -> print::Window {
    // The crop region with a little extra for the blur apron.
    let (x, y, w, h) = photo::crop_rect(print::DPI);
    let pad = 12i64;
    (
        (x - pad).max(0) as u32,
        (y - pad).max(0) as u32,
        w + 2 * pad as u32,
        h + 2 * pad as u32,
    )
}

/// A printed-and-scanned crop of `acceptance` with print seed `s` of face `i`.
pub(crate) fn printed_probe(acceptance: &RgbImage, seed: u64, i: usize, s: usize) -> Option<Probe> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ ((i as u64) << 20) ^ (s as u64));
    let card_seed = rng.gen::<u64>();
    let (deg, style) = match s % 4 {
        1 => (
            Degradation::extreme(if i & 1 == 0 { 1.0 } else { -1.0 }, rng.gen()),
            PrintStyle::default(),
        ),
        2 => (
            Degradation::realistic(&mut rng),
            PrintStyle {
                lighten_background: 0.0,
                lighten_tolerance: 1.0,
                vignette: true,
            },
        ),
        3 => (
            Degradation::realistic(&mut rng),
            PrintStyle {
                lighten_background: 0.0,
                lighten_tolerance: 1.0,
                vignette: false,
            },
        ),
        _ => (Degradation::realistic(&mut rng), PrintStyle::default()),
    };
    let win = Some(print_window());
    let card = print::render_front_styled(acceptance, &[], card_seed, &style, win);
    let scan = print::scan_window(&card, &deg, win);
    let crop = crop_printed_photo(&scan, print::DPI).ok()?;
    Some(Probe::from_printed_crop(&crop, print::DPI))
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(|a, b| a.total_cmp(b));
    v
}

/// Threshold midway in the gap between the genuine max and the impostor min; the grey zone is
/// the middle half of the gap. Without a gap the threshold is midway between the two and the grey
/// zone spans the overlap.
pub fn choose_threshold(genuine_max: f64, impostor_min: f64) -> Threshold {
    let t = (genuine_max + impostor_min) / 2.0;
    let half = (impostor_min - genuine_max).abs() / 4.0;
    Threshold {
        threshold: t,
        borderline_low: t - half,
        borderline_high: t + half,
    }
}

/// Quality bounds from the standard photos' observed range (`metrics`) and, for the background
/// lightness, the raw portraits on their own backdrops (`raw`): that bound lies midway between
/// the lightest raw backdrop and the darkest standard one, like the fingerprint card threshold.
fn quality_calibration(
    metrics: &[RawMetrics],
    raw: &[RawMetrics],
    monochrome: usize,
) -> Option<QualityCalibration> {
    let first = *metrics.first()?;
    let mut lo = first;
    let mut hi = first;
    for m in metrics {
        lo.sharpness = lo.sharpness.min(m.sharpness);
        hi.sharpness = hi.sharpness.max(m.sharpness);
        lo.under_exposure = lo.under_exposure.min(m.under_exposure);
        hi.under_exposure = hi.under_exposure.max(m.under_exposure);
        lo.over_exposure = lo.over_exposure.min(m.over_exposure);
        hi.over_exposure = hi.over_exposure.max(m.over_exposure);
        lo.luminance = lo.luminance.min(m.luminance);
        hi.luminance = hi.luminance.max(m.luminance);
        lo.background_lightness = lo.background_lightness.min(m.background_lightness);
        hi.background_lightness = hi.background_lightness.max(m.background_lightness);
        lo.background_uniformity = lo.background_uniformity.min(m.background_uniformity);
        hi.background_uniformity = hi.background_uniformity.max(m.background_uniformity);
        lo.background_chroma = lo.background_chroma.min(m.background_chroma);
        hi.background_chroma = hi.background_chroma.max(m.background_chroma);
        lo.colourfulness = lo.colourfulness.min(m.colourfulness);
        hi.colourfulness = hi.colourfulness.max(m.colourfulness);
    }
    let raw_lightest = raw
        .iter()
        .map(|m| m.background_lightness)
        .fold(f64::NEG_INFINITY, f64::max);
    let bounds = QualityBounds {
        sharpness_min: lo.sharpness * 0.5,
        under_exposure_max: (hi.under_exposure * 1.5).max(hi.under_exposure + 0.03),
        over_exposure_max: (hi.over_exposure * 1.5).max(hi.over_exposure + 0.03),
        luminance_min: lo.luminance - 20.0,
        luminance_max: hi.luminance + 20.0,
        background_lightness_min: if raw_lightest < lo.background_lightness {
            (raw_lightest + lo.background_lightness) / 2.0
        } else {
            lo.background_lightness - 20.0
        },
        background_uniformity_max: (hi.background_uniformity * 1.5).max(hi.background_uniformity + 3.0),
        background_chroma_max: (hi.background_chroma * 1.5).max(hi.background_chroma + 3.0),
        colourfulness_min: lo.colourfulness * 0.5,
    };
    Some(QualityCalibration {
        bounds,
        margin: format!("observed over the {} colour acceptance photos ({monochrome} monochrome portraits left out: GA 461 wants colour); sharpness and colourfulness >= half the observed minimum; exposure shares <= max(1.5 x observed maximum, observed maximum + 0.03); luminance 20 grey levels beyond the observed range; background lightness (median luma of the border region) midway between the lightest of the {} raw portraits' own backdrops ({raw_lightest:.1}) and the darkest standard one (20 below the darkest standard one if they overlap); background uniformity (interquartile range of the border's luma / 1.349) <= max(1.5 x observed maximum, observed maximum + 3); background chroma (median of max - min channel) <= max(1.5 x observed maximum, observed maximum + 3); head geometry against resident-id.md's ranges (not calibrated)", metrics.len(), raw.len()),
        photos: metrics.len(),
        observed_min: lo,
        observed_max: hi,
    })
}

/// Calibrates the photo comparison and the quality bounds on `faces` (name, portrait).
pub fn calibrate_photos(faces: &[(String, RgbImage)], seed: u64) -> PhotoCalibration {
    calibrate_photos_with_samples(faces, seed, &[], &CalibrationOptions::default())
}

/// [`calibrate_photos`] with options, plus a check of sample cards against the new thresholds.
pub fn calibrate_photos_with_samples(
    faces: &[(String, RgbImage)],
    seed: u64,
    samples: &[SampleCard],
    opts: &CalibrationOptions,
) -> PhotoCalibration {
    let mut gen: [Vec<f64>; 3] = Default::default();
    let mut gen_ph: [u32; 3] = [0; 3];
    let mut gen_un: [f64; 3] = [0.0; 3];
    let mut mats: Vec<Face> = Vec::with_capacity(faces.len());
    for (i, (name, face)) in faces.iter().enumerate() {
        // Features from the bytes, as a verification gets them (the acceptance JPEG takes the
        // reduced-size decode).
        let acc_jpeg = print::acceptance_photo(face);
        let Ok(acc) = decode(&acc_jpeg) else { continue };
        let chip_jpeg = print::chip_photo(&acc);
        let Ok(chip) = decode(&chip_jpeg) else {
            continue;
        };
        let Ok(acc_f) = PhotoFeatures::from_bytes(&acc_jpeg) else {
            continue;
        };
        let Ok(chip_f) = PhotoFeatures::from_bytes(&chip_jpeg) else {
            continue;
        };
        let chip_probe = Probe::from_photo(&chip);
        let mut own: [Vec<f64>; 3] = Default::default();
        let mut record = |k: usize, s: photo::PhotoScore| {
            own[k].push(s.distance);
            gen_ph[k] = gen_ph[k].max(s.measures.phash_bits);
            gen_un[k] = gen_un[k].max(s.measures.unaligned_correlation_distance);
        };
        record(
            2,
            compare(&acc_f, &chip_probe, CompareKind::ChipVsAcceptance),
        );
        let mut print0 = None;
        for s in 0..opts.print_seeds.max(1) {
            let Some(p) = printed_probe(&acc, seed, i, s) else {
                continue;
            };
            record(0, compare(&acc_f, &p, CompareKind::PrintedVsAcceptance));
            record(1, compare(&chip_f, &p, CompareKind::PrintedVsChip));
            if s == 0 {
                print0 = Some(p);
            }
        }
        let Some(print0) = print0 else { continue };
        for (g, o) in gen.iter_mut().zip(&own) {
            g.extend_from_slice(o);
        }
        let raw_jpeg = print::raw_acceptance_photo(face);
        let Ok(raw_img) = decode(&raw_jpeg) else { continue };
        mats.push(Face {
            genuine: own,
            raw_quality: photo_quality::measure(&raw_img),
            raw_jpeg,
            name: name.clone(),
            acc: acc_f,
            chip: chip_f,
            chip_probe,
            print0,
            quality: photo_quality::measure(&acc),
            acc_jpeg,
        });
    }
    // Other-person pairs: the nearest by unaligned acceptance-vs-acceptance distance, plus random.
    let n = mats.len();
    let mut pairs: Vec<(usize, usize)> = Vec::new();
    for i in 0..n {
        let mut d: Vec<(f64, usize)> = (0..n)
            .filter(|&j| j != i)
            .map(|j| (mats[i].acc.unaligned_distance(&mats[j].acc), j))
            .collect();
        d.sort_by(|a, b| a.0.total_cmp(&b.0));
        for &(_, j) in d.iter().take(opts.nearest) {
            pairs.push((i, j));
        }
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x1a05_7e45);
    if n > 1 {
        let all = n * (n - 1);
        if all <= opts.random_pairs + pairs.len() {
            pairs = (0..n)
                .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
                .collect();
        } else {
            for _ in 0..opts.random_pairs {
                let i = rng.gen_range(0..n);
                let j = (i + rng.gen_range(1..n)) % n;
                pairs.push((i, j));
            }
        }
    }
    pairs.sort_unstable();
    pairs.dedup();
    pairs.shuffle(&mut rng);
    let mut imp: [Vec<(f64, usize, usize)>; 3] = Default::default();
    let mut imp_ph: [u32; 3] = [u32::MAX; 3];
    let mut imp_un: [f64; 3] = [f64::INFINITY; 3];
    for &(i, j) in &pairs {
        let (a, b) = (&mats[i], &mats[j]);
        let scores = [
            compare(&a.acc, &b.print0, CompareKind::PrintedVsAcceptance),
            compare(&a.chip, &b.print0, CompareKind::PrintedVsChip),
            compare(&a.acc, &b.chip_probe, CompareKind::ChipVsAcceptance),
        ];
        for (k, s) in scores.iter().enumerate() {
            imp[k].push((s.distance, i, j));
            imp_ph[k] = imp_ph[k].min(s.measures.phash_bits);
            imp_un[k] = imp_un[k].min(s.measures.unaligned_correlation_distance);
        }
    }
    let mut kinds = Vec::new();
    for (k, kind) in CompareKind::ALL.iter().enumerate() {
        let g = sorted(gen[k].clone());
        let mut im = imp[k].clone();
        im.sort_by(|a, b| a.0.total_cmp(&b.0));
        let iv: Vec<f64> = im.iter().map(|x| x.0).collect();
        let gmax = g.last().copied().unwrap_or(f64::NAN);
        let imin = iv.first().copied().unwrap_or(f64::NAN);
        let t = choose_threshold(gmax, imin);
        let far =
            iv.iter().filter(|&&d| decide_with(&t, d).0).count() as f64 / iv.len().max(1) as f64;
        let frr =
            g.iter().filter(|&&d| !decide_with(&t, d).0).count() as f64 / g.len().max(1) as f64;
        kinds.push(KindCalibration {
            kind: *kind,
            sources: kind.sources().into(),
            genuine: GenuineStats {
                count: g.len(),
                median: quantile(&g, 0.5),
                p99: quantile(&g, 0.99),
                max: gmax,
            },
            impostor: ImpostorStats {
                count: iv.len(),
                min: imin,
                p0_1: quantile(&iv, 0.001),
                p1: quantile(&iv, 0.01),
                median: quantile(&iv, 0.5),
                most_alike: im
                    .iter()
                    .take(5)
                    .map(|&(d, i, j)| (mats[i].name.clone(), mats[j].name.clone(), d))
                    .collect(),
            },
            margin: imin - gmax,
            threshold: t,
            far,
            frr,
            phash_genuine_max: gen_ph[k],
            phash_impostor_min: imp_ph[k],
            unaligned_genuine_max: gen_un[k],
            unaligned_impostor_min: imp_un[k],
        });
    }
    let colour: Vec<RawMetrics> = mats
        .iter()
        .map(|m| m.quality)
        .filter(|q| q.colourfulness >= MONOCHROME_CHROMA)
        .collect();
    let raw: Vec<RawMetrics> = mats.iter().map(|m| m.raw_quality).collect();
    let quality = quality_calibration(&colour, &raw, mats.len() - colour.len());
    let mut cal = PhotoCalibration {
        description: "photo comparison thresholds (1 - aligned correlation of face-centred 32x40 grey thumbnails) per comparison kind, and acceptance-photo quality bounds; made by idcheck calibrate photos".into(),
        seed,
        faces: n,
        options: *opts,
        print_copies: "per face: seed 0 realistic scan, default print (vignette, background lightened 0.4); seed 1 extreme scan (1 mm on both axes, 1 degree, blur 2 px, contrast 0.78, gamma 1.2, noise 6), default print; seed 2 realistic scan, vignette-only print; seed 3 realistic scan, plain print; other-person pairs use seed 0".into(),
        measure: "1 - weighted Pearson correlation of 32x40 band-passed grey thumbnails (Gaussian 0.25 mm minus Gaussian 1 mm) over x 15-85%, y 12-80% of the photo frame, weighted by the inscribed ellipse and down-weighting the reference's background colour; the probe aligned by a coarse-to-fine search over shift, rotation (1.2 deg), scale and aspect".into(),
        threshold_rule: "threshold midway between genuine max and impostor min; borderline band = the middle half of that gap".into(),
        kinds,
        quality,
        samples: Vec::new(),
        held_out: Some(held_out(&mats, &imp, seed)),
    };
    cal.samples = check_samples(&cal, samples);
    cal
}

/// The leave-out check: for each of [`FOLDS`] folds, thresholds (the same rule) and quality
/// bounds fitted on the other folds' faces and pairs, errors counted on the fold.
fn held_out(mats: &[Face], imp: &[Vec<(f64, usize, usize)>; 3], seed: u64) -> HeldOut {
    let n = mats.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed ^ 0xf01d_5eed));
    let mut fold_of = vec![0usize; n];
    for (pos, &i) in order.iter().enumerate() {
        fold_of[i] = pos % FOLDS;
    }
    let mut per_fold = Vec::new();
    for f in 0..FOLDS {
        let held = |i: usize| fold_of[i] == f;
        let mut kinds = Vec::new();
        for (k, kind) in CompareKind::ALL.iter().enumerate() {
            let train_g = mats
                .iter()
                .enumerate()
                .filter(|(i, _)| !held(*i))
                .flat_map(|(_, m)| m.genuine[k].iter().copied())
                .fold(f64::NEG_INFINITY, f64::max);
            let train_i = imp[k]
                .iter()
                .filter(|p| !held(p.1) && !held(p.2))
                .map(|p| p.0)
                .fold(f64::INFINITY, f64::min);
            let t = choose_threshold(train_g, train_i);
            let test_g: Vec<f64> = mats
                .iter()
                .enumerate()
                .filter(|(i, _)| held(*i))
                .flat_map(|(_, m)| m.genuine[k].iter().copied())
                .collect();
            let test_i: Vec<f64> = imp[k]
                .iter()
                .filter(|p| held(p.1) && held(p.2))
                .map(|p| p.0)
                .collect();
            kinds.push(FoldKind {
                kind: *kind,
                threshold: t.threshold,
                genuine: test_g.len(),
                genuine_rejected: test_g.iter().filter(|&&d| !decide_with(&t, d).0).count(),
                other: test_i.len(),
                other_accepted: test_i.iter().filter(|&&d| decide_with(&t, d).0).count(),
            });
        }
        let colour = |m: &Face| m.quality.colourfulness >= MONOCHROME_CHROMA;
        let train_q: Vec<RawMetrics> = mats
            .iter()
            .enumerate()
            .filter(|(i, _)| !held(*i))
            .map(|(_, m)| m)
            .filter(|m| colour(m))
            .map(|m| m.quality)
            .collect();
        let train_raw: Vec<RawMetrics> = mats
            .iter()
            .enumerate()
            .filter(|(i, _)| !held(*i))
            .map(|(_, m)| m.raw_quality)
            .collect();
        let bounds = quality_calibration(&train_q, &train_raw, 0)
            .map(|q| q.bounds)
            .unwrap_or(photo_quality::FALLBACK_BOUNDS);
        let test: Vec<&Face> = mats
            .iter()
            .enumerate()
            .filter(|(i, _)| held(*i))
            .map(|(_, m)| m)
            .collect();
        let standard: Vec<&&Face> = test.iter().filter(|m| colour(m)).collect();
        let mut standard_failing = 0;
        let mut standard_failing_metrics = std::collections::BTreeMap::new();
        for m in &standard {
            let r = photo_quality::assess_with(&m.acc_jpeg, &bounds);
            standard_failing += usize::from(!r.passed());
            for metric in r.failures() {
                *standard_failing_metrics.entry(metric.name.clone()).or_insert(0) += 1;
            }
        }
        per_fold.push(FoldResult {
            fold: f,
            faces: test.len(),
            kinds,
            standard_photos: standard.len(),
            standard_failing,
            standard_failing_metrics,
            raw_photos: test.len(),
            raw_passing: test
                .iter()
                .filter(|m| photo_quality::assess_with(&m.raw_jpeg, &bounds).passed())
                .count(),
        });
    }
    HeldOut {
        folds: FOLDS,
        rule: format!("faces shuffled (seed ^ 0xf01d5eed) into {FOLDS} folds; per fold, thresholds (midway between genuine max and other-person min) fitted on the genuine distances of the other folds' faces and the other-person pairs among them, quality bounds (same margins) on their colour standard photos; counted on the fold: its genuine pairs rejected, other-person pairs between two of its faces accepted, its colour standard photos failing quality, its raw portraits (own backdrop, scaled) passing"),
        per_fold,
    }
}


/// Checks sample cards (A~S, S~C, A~C) against the thresholds of `cal`.
pub fn check_samples(cal: &PhotoCalibration, samples: &[SampleCard]) -> Vec<SampleCheck> {
    let mut out = Vec::new();
    for s in samples {
        let Ok(acc_f) = PhotoFeatures::from_bytes(&s.acceptance) else {
            continue;
        };
        let chip_f = PhotoFeatures::from_reference(&s.chip);
        let printed = Probe::from_printed_png(&s.front_png, s.dpi);
        let mut scores = vec![compare(
            &acc_f,
            &Probe::from_photo(&s.chip),
            CompareKind::ChipVsAcceptance,
        )];
        if let Ok(p) = printed {
            scores.push(compare(&acc_f, &p, CompareKind::PrintedVsAcceptance));
            scores.push(compare(&chip_f, &p, CompareKind::PrintedVsChip));
        }
        for sc in scores {
            let t = cal
                .kind(sc.kind)
                .map(|k| k.threshold)
                .unwrap_or_else(|| photo::thresholds(sc.kind));
            let (same, borderline) = decide_with(&t, sc.distance);
            out.push(SampleCheck {
                name: s.name.clone(),
                kind: sc.kind,
                distance: sc.distance,
                threshold: t.threshold,
                same,
                borderline,
            });
        }
    }
    out
}

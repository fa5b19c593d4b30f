//! Calibration and evaluation of the fingerprint matcher on labelled templates (finger ids such
//! as "DB1_B/101"), for the two questions it answers. **Two impressions** (are two captures of a
//! finger the same finger?): genuine and impostor score distributions, equal-error rate,
//! false-non-match rates at false-match rates 1e-2 / 1e-3 / 1e-4 per group and overall, and the
//! two-impressions threshold. **Card** (is a chip slot the acceptance capture re-encoded?): every
//! template re-encoded as a chip slot and in the compact card format, the card threshold set in
//! the gap between the re-encoded own scores and every other-finger score, its margins, and a
//! leave-one-group-out check of it. Both thresholds and their borderline bands are committed as
//! calibration/fingerprint.json. Also the speed of preparing and comparing. Pure computation on
//! decoded records (the clock is read for the speed figures only); deterministic otherwise.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::{canonical_hash, decide_with, match_score, FingerprintThresholds, Template};
use crate::biometrics::iso19794_2::{from_compact, to_compact};
use crate::biometrics::{Minutia, MinutiaeRecord};

// ---------------------------------------------------------------------------------------------
// Output types
// ---------------------------------------------------------------------------------------------

/// Summary of a score distribution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreDistribution {
    pub count: usize,
    pub min: f64,
    pub p01: f64,
    pub p05: f64,
    pub p10: f64,
    pub p25: f64,
    pub p50: f64,
    pub p75: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
}

/// Operating point for a target false match rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FmrPoint {
    pub fmr_target: f64,
    /// Smallest threshold (rule: see [`TwoImpressionsCalibration::threshold_rule`]) meeting the target.
    pub threshold: f64,
    /// Impostor pairs scoring at or above the threshold, and their share.
    pub false_matches: usize,
    pub fmr: f64,
    /// Share of genuine pairs scoring below the threshold.
    pub fnmr: f64,
}

/// Error rates of one group of templates (one database), impostors within the group only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupStats {
    pub group: String,
    pub templates: usize,
    pub genuine_pairs: usize,
    pub impostor_pairs: usize,
    pub eer: f64,
    pub operating_points: Vec<FmrPoint>,
}

/// Own re-encoded templates (each template against its own re-encoding) at a threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OwnStats {
    pub templates: usize,
    /// Scoring below the threshold: the right finger refused.
    pub missed: usize,
    /// In the borderline band.
    pub borderline: usize,
    pub lowest_score: f64,
}

/// Comparisons of different fingers at a threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OtherStats {
    pub comparisons: usize,
    /// Scoring at or above the threshold: a foreign finger taken for the right one.
    pub accepted: usize,
    /// In the borderline band.
    pub borderline: usize,
    pub highest_score: f64,
}

/// A re-encoded case (the chip slot, the compact card format): every template against its own
/// re-encoding, and each re-encoding against every template of another finger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReencodedStats {
    pub seed: u64,
    pub description: String,
    pub own: OwnStats,
    pub other_fingers: OtherStats,
}

/// How far a threshold sits from the two score families: `own` = lowest own re-encoded score
/// minus the threshold, `other` = threshold minus the highest other-finger score, each also as a
/// factor (lowest own / threshold, threshold / highest other; null when undefined).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Margins {
    pub own: f64,
    pub own_factor: Option<f64>,
    pub other: f64,
    pub other_factor: Option<f64>,
}

/// The card case on one set of templates at given card thresholds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CardCheck {
    /// Every template re-encoded as a chip slot.
    pub chip: ReencodedStats,
    /// Every template re-encoded in the compact card format (3 bytes per minutia, at most 40).
    pub compact: ReencodedStats,
    /// The two-impressions impostor pairs (two captures of different fingers).
    pub impostor_pairs: OtherStats,
    /// All other-finger comparisons together: impostor pairs and both re-encodings against
    /// every template of another finger.
    pub other_fingers: OtherStats,
    /// Lowest score of a template against its own chip or compact re-encoding.
    pub lowest_own_score: f64,
    /// Highest score of any other-finger comparison.
    pub highest_other_score: f64,
    pub margins: Margins,
    /// Share of two-impressions genuine pairs (two captures of one finger) below the card
    /// threshold: not the card's question, reported so nobody uses the card threshold for it.
    pub two_impressions_fnmr: f64,
}

/// One fold of the leave-one-group-out check of the card threshold: calibrated on every other
/// group, tested on this one (its own re-encodings and its other-finger comparisons only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeldOutFold {
    pub held_out: String,
    pub trained_on: Vec<String>,
    /// What the card rule saw on the training groups, and the thresholds it chose.
    pub trained_lowest_own_score: f64,
    pub trained_highest_other_score: f64,
    pub thresholds: FingerprintThresholds,
    /// Held-out templates against their own chip-slot and compact re-encodings.
    pub chip_own: OwnStats,
    pub compact_own: OwnStats,
    /// Held-out other-finger comparisons: impostor pairs and both re-encodings against every
    /// held-out template of another finger.
    pub other_fingers: OtherStats,
    /// Margins of the trained threshold on the held-out scores.
    pub margins: Margins,
    /// Held-out templates and their re-encodings against the training templates of other
    /// fingers, and the other way round (fingers of other sensors; pairs never scored in
    /// training, though one side was seen there).
    pub other_fingers_across: OtherStats,
    /// For contrast: the two-impressions rule trained on the same groups, and how many held-out
    /// other-finger comparisons it would accept.
    pub two_impressions_threshold: f64,
    pub other_fingers_accepted_at_two_impressions_threshold: usize,
}

/// A simulated harder impostor condition (a reported extra, not a substitute for data from
/// another sensor): every other-finger score of the calibration data shifted so that, at the
/// two-impressions threshold, the given share of other fingers would be accepted (as reported
/// for templates of another sensor), and what the card threshold then accepts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StressPoint {
    /// "scaled" (every score x factor) or "shifted" (every score + offset).
    pub model: String,
    /// Share of other fingers accepted at the two-impressions threshold after the shift.
    pub fmr_at_two_impressions_threshold: f64,
    /// The factor or offset that gives it.
    pub parameter: f64,
    pub comparisons: usize,
    pub accepted_at_two_impressions_threshold: usize,
    pub accepted_at_card_threshold: usize,
    /// In the card threshold's borderline band (a human look).
    pub borderline_at_card_threshold: usize,
    /// Highest shifted score.
    pub highest_score: f64,
}

/// The held-out folds added up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeldOutTotal {
    pub folds: usize,
    pub own_templates: usize,
    pub chip_own_missed: usize,
    pub compact_own_missed: usize,
    pub other_finger_comparisons: usize,
    pub other_fingers_accepted: usize,
    pub other_fingers_accepted_at_two_impressions_threshold: usize,
    pub other_finger_comparisons_across: usize,
    pub other_fingers_accepted_across: usize,
    /// Smallest own and other margin factor over the folds.
    pub min_own_factor: Option<f64>,
    pub min_other_factor: Option<f64>,
}

/// The two-impressions calibration: genuine pairs are two impressions of one finger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TwoImpressionsCalibration {
    pub genuine_pairs: usize,
    pub impostor_pairs: usize,
    pub genuine: ScoreDistribution,
    pub impostor: ScoreDistribution,
    pub eer: f64,
    pub eer_threshold: f64,
    pub operating_points: Vec<FmrPoint>,
    pub groups: Vec<GroupStats>,
    /// Mean of the groups' equal-error rates.
    pub mean_group_eer: f64,
    pub threshold_rule: String,
    pub borderline_rule: String,
    pub thresholds: FingerprintThresholds,
    /// Error rates of the impostor and genuine pairs at the two-impressions threshold.
    pub verdict: FmrPoint,
}

/// The card calibration: a chip slot against the acceptance capture it was re-encoded from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CardCalibration {
    pub description: String,
    pub threshold_rule: String,
    pub borderline_rule: String,
    pub thresholds: FingerprintThresholds,
    /// The calibration data at the card thresholds.
    pub check: CardCheck,
    /// Leave one group (database) out: the rule calibrated on the others, tested on it.
    pub held_out: Vec<HeldOutFold>,
    pub held_out_total: HeldOutTotal,
    /// Simulated harder impostors (see [`StressPoint`]).
    pub stress_description: String,
    pub stress: Vec<StressPoint>,
}

/// Output of [`calibrate`]; committed as calibration/fingerprint.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FingerprintCalibration {
    pub matcher: String,
    pub templates: usize,
    pub fingers: usize,
    pub two_impressions: TwoImpressionsCalibration,
    pub card: CardCalibration,
}

/// Identifier of the matcher algorithm and parameters whose scores a calibration holds.
pub const MATCHER_ID: &str = "mcc16b-lssr-mu1x10-v1";

const FMR_TARGETS: [f64; 3] = [1e-2, 1e-3, 1e-4];
const REENCODE_SEED: u64 = 0x1dc4_ec0f_19f2;

const CHIP_DESCRIPTION: &str = "each template re-encoded as a chip slot (shuffled, +-1 px, +-1 angle unit, at most 83, \
                                up to 5% (max 3) dropped; jitter seeded by the seed and the template's canonical hash) \
                                vs itself, and vs every template of another finger";
const COMPACT_DESCRIPTION: &str = "each template re-encoded in the ISO/IEC 19794-2 compact card format (3 bytes per minutia: \
                                   0.1 mm, 360/64 degrees; at most 40, nearest the centroid) and decoded, vs itself, \
                                   and vs every template of another finger";
const CARD_DESCRIPTION: &str = "card case: a chip slot against the acceptance capture it must be re-encoded from \
                                (verification of chip slot vs acceptance finger, QC batch carries, fingerprint \
                                search/compare --case card); own = a template vs its chip-slot or compact \
                                re-encoding, other = any comparison of different fingers";


// ---------------------------------------------------------------------------------------------
// Statistics helpers
// ---------------------------------------------------------------------------------------------

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    // Nearest-rank percentile.
    let rank = (q * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted.get(rank.min(sorted.len()) - 1).copied().unwrap_or(0.0)
}

fn distribution(scores: &[f64]) -> ScoreDistribution {
    let mut s = scores.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let mean = if s.is_empty() { 0.0 } else { s.iter().sum::<f64>() / s.len() as f64 };
    ScoreDistribution {
        count: s.len(),
        min: s.first().copied().unwrap_or(0.0),
        p01: percentile(&s, 0.01),
        p05: percentile(&s, 0.05),
        p10: percentile(&s, 0.10),
        p25: percentile(&s, 0.25),
        p50: percentile(&s, 0.50),
        p75: percentile(&s, 0.75),
        p90: percentile(&s, 0.90),
        p95: percentile(&s, 0.95),
        p99: percentile(&s, 0.99),
        max: s.last().copied().unwrap_or(0.0),
        mean,
    }
}

/// Threshold resolution: thresholds are multiples of this.
const THRESHOLD_STEP: f64 = 1e-4;

/// The smallest multiple of [`THRESHOLD_STEP`] strictly above `s`.
fn step_above(s: f64) -> f64 {
    let steps = 1.0 / THRESHOLD_STEP;
    let k = (s * steps).floor() + 1.0;
    // k / steps prints as a short decimal; guard against rounding landing on or below `s`.
    if k / steps > s {
        k / steps
    } else {
        (k + 1.0) / steps
    }
}

/// Smallest threshold with at most floor(target * N) impostor scores at or above it.
fn threshold_for_fmr(impostor_desc: &[f64], target: f64) -> f64 {
    let allowed = (target * impostor_desc.len() as f64 + 1e-9).floor() as usize;
    match impostor_desc.get(allowed) {
        // Everything strictly above the (allowed+1)-th highest impostor score.
        Some(&s) => step_above(s).min(1.0),
        None => 0.0,
    }
}

fn operating_point(genuine: &[f64], impostor_desc: &[f64], target: f64) -> FmrPoint {
    let t = threshold_for_fmr(impostor_desc, target);
    let fm = impostor_desc.iter().filter(|&&s| s >= t).count();
    let fnm = genuine.iter().filter(|&&s| s < t).count();
    FmrPoint {
        fmr_target: target,
        threshold: t,
        false_matches: fm,
        fmr: if impostor_desc.is_empty() { 0.0 } else { fm as f64 / impostor_desc.len() as f64 },
        fnmr: if genuine.is_empty() { 0.0 } else { fnm as f64 / genuine.len() as f64 },
    }
}

/// Equal error rate: over all candidate thresholds (every observed score), the one where
/// FMR(t) = share of impostors >= t and FNMR(t) = share of genuine < t are closest; the EER is
/// their mean there. Returns (eer, threshold).
fn equal_error_rate(genuine: &[f64], impostor: &[f64]) -> (f64, f64) {
    if genuine.is_empty() || impostor.is_empty() {
        return (0.0, 0.0);
    }
    let mut g = genuine.to_vec();
    let mut im = impostor.to_vec();
    g.sort_by(|a, b| a.total_cmp(b));
    im.sort_by(|a, b| a.total_cmp(b));
    let mut cands: Vec<f64> = g.iter().chain(im.iter()).copied().collect();
    cands.push(step_above(im.last().copied().unwrap_or(0.0)));
    cands.sort_by(|a, b| a.total_cmp(b));
    cands.dedup();
    let (ng, ni) = (g.len() as f64, im.len() as f64);
    let mut best = (f64::MAX, 0.0, 0.0);
    for &t in &cands {
        let fnmr = g.partition_point(|&s| s < t) as f64 / ng;
        let fmr = (im.len() - im.partition_point(|&s| s < t)) as f64 / ni;
        let gap = (fmr - fnmr).abs();
        if gap < best.0 {
            best = (gap, (fmr + fnmr) / 2.0, t);
        }
    }
    (best.1, best.2)
}

/// Group of a finger id: the part before the last '/' ("DB1_B/101" -> "DB1_B"), else "".
fn group_of(id: &str) -> &str {
    id.rsplit_once('/').map(|(g, _)| g).unwrap_or("")
}

/// The nearest multiple of [`THRESHOLD_STEP`].
fn round_to_step(s: f64) -> f64 {
    let steps = 1.0 / THRESHOLD_STEP;
    (s * steps).round() / steps
}

fn margins(threshold: f64, lowest_own: f64, highest_other: f64) -> Margins {
    let ratio = |a: f64, b: f64| (b > 0.0 && a.is_finite()).then(|| a / b);
    Margins {
        own: lowest_own - threshold,
        own_factor: ratio(lowest_own, threshold),
        other: threshold - highest_other,
        other_factor: ratio(threshold, highest_other),
    }
}

// ---------------------------------------------------------------------------------------------
// The two threshold rules
// ---------------------------------------------------------------------------------------------

const TWO_IMPRESSIONS_RULE: &str = "operating points: threshold = smallest multiple of 1e-4 strictly above the (k+1)-th \
    highest impostor score, k = floor(FMR target x impostor pairs) (k = 0, just above the impostor maximum, when there \
    are fewer than 1/target pairs). Two-impressions threshold: smallest multiple of 1e-4 strictly above every \
    other-finger score seen (the impostor pairs and the chip and compact re-encodings against other fingers), and not \
    below the FMR 1e-4 point: zero false matches, i.e. FMR <= 1e-4 at 95% confidence (rule of three) with >= 30000 \
    impostor pairs";
const TWO_IMPRESSIONS_BORDERLINE: &str =
    "borderline_low = the threshold for FMR 1e-3; borderline_high = threshold + (threshold - borderline_low), at most 1";
const CARD_RULE: &str = "L = lowest score of a template against its own chip-slot or compact re-encoding, H = highest \
    other-finger score (impostor pairs, and both re-encodings against every template of another finger); card \
    threshold T = sqrt(L x H), the geometric middle of the gap, to the nearest 1e-4: the same factor of safety \
    sqrt(L/H) against own scores falling (a rougher re-encoding) and other-finger scores rising (another sensor). \
    Kept in (H, L]; when L <= H (no gap) T = smallest multiple of 1e-4 above H. Out of sample: leave one group out";
const CARD_BORDERLINE: &str = "borderline_low = sqrt(H x T), borderline_high = sqrt(T x L) (the geometric middles of the \
    two half-gaps), to the nearest 1e-4; no band when there is no gap";

/// The two-impressions threshold and band: above every other-finger score seen
/// (`other_max`) and not below the FMR 1e-4 point; band from the FMR 1e-3 point, symmetric.
fn two_impressions_thresholds(impostor_desc: &[f64], other_max: f64) -> FingerprintThresholds {
    let threshold = step_above(other_max).max(threshold_for_fmr(impostor_desc, 1e-4)).min(1.0);
    let low = threshold_for_fmr(impostor_desc, 1e-3).min(threshold);
    let high = (threshold + (threshold - low)).min(1.0).max(threshold);
    FingerprintThresholds { threshold, borderline_low: low, borderline_high: high }
}

/// The card threshold and band from the lowest own re-encoded score `lowest_own` (L) and the
/// highest other-finger score `highest_other` (H), see [`CARD_RULE`]: T = sqrt(L H), band
/// sqrt(H T)..sqrt(T L). No gap (L <= H, or nothing to measure): T just above H, no band. No
/// other-finger score at all: fails closed (1.0).
pub fn card_thresholds(lowest_own: f64, highest_other: f64) -> FingerprintThresholds {
    if !(lowest_own.is_finite() && highest_other.is_finite()) || highest_other <= 0.0 {
        return FingerprintThresholds { threshold: 1.0, borderline_low: 1.0, borderline_high: 1.0 };
    }
    let (l, h) = (lowest_own.min(1.0), highest_other);
    let above_h = step_above(h).min(1.0);
    if l <= above_h {
        return FingerprintThresholds { threshold: above_h, borderline_low: above_h, borderline_high: above_h };
    }
    let t = round_to_step((l * h).sqrt()).clamp(above_h, l);
    let low = round_to_step((h * t).sqrt()).clamp(above_h, t);
    let high = round_to_step((t * l).sqrt()).clamp(t, l);
    FingerprintThresholds { threshold: t, borderline_low: low, borderline_high: high }
}

/// The chip-slot re-encoding of a template (chip-profile.md, fingerprint slot): minutiae
/// re-ordered, each moved by -1..=1 px in x and y and turned by -1..=1 angle unit, at most 83
/// kept, and up to 5 % of them (at least 0, at most 3) dropped; written to and read back from the
/// 6-byte form.
pub fn chip_reencode(minutiae: &[Minutia], rng: &mut impl rand::Rng) -> Vec<Minutia> {
    use rand::seq::SliceRandom;
    let mut v: Vec<Minutia> = minutiae.to_vec();
    v.shuffle(rng);
    v.truncate(83);
    let max_drop = (v.len() / 20).min(3);
    let drop = rng.gen_range(0..=max_drop);
    v.truncate(v.len() - drop);
    v.iter()
        .map(|m| {
            let dx: i32 = rng.gen_range(-1..=1);
            let dy: i32 = rng.gen_range(-1..=1);
            let da: i32 = rng.gen_range(-1..=1);
            let j = Minutia {
                kind: m.kind,
                x: (i32::from(m.x & 0x3FFF) + dx).clamp(0, 0x3FFF) as u16,
                y: (i32::from(m.y & 0x3FFF) + dy).clamp(0, 0x3FFF) as u16,
                angle: (i32::from(m.angle) + da).rem_euclid(256) as u8,
                quality: m.quality,
            };
            Minutia::from_bytes(j.to_bytes())
        })
        .collect()
}


/// The compact card re-encoding of a record: its minutiae written in the ISO/IEC 19794-2 compact
/// card format (3 bytes per minutia, at most 40, see `biometrics::iso19794_2::to_compact`) at the
/// record's resolution (500 dpi when not given) and read back.
pub fn compact_reencode(record: &MinutiaeRecord) -> Vec<Minutia> {
    let res = if record.x_resolution == 0 { 197 } else { record.x_resolution };
    from_compact(&to_compact(&record.minutiae, res), res)
}

/// The chip-slot re-encoding of one template, its jitter seeded by `seed` and the template's
/// canonical hash: a function of the template alone, so that a subset of the templates gets the
/// same re-encodings as the whole set (the held-out check relies on it).
fn chip_reencode_seeded(minutiae: &[Minutia], seed: u64) -> Vec<Minutia> {
    use rand::SeedableRng;
    let h = canonical_hash(minutiae);
    let mut first = [0u8; 8];
    first.copy_from_slice(h.get(..8).unwrap_or(&[0; 8]));
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ u64::from_be_bytes(first));
    chip_reencode(minutiae, &mut rng)
}

// ---------------------------------------------------------------------------------------------
// Scores
// ---------------------------------------------------------------------------------------------

/// Every score the calibration and the evaluation need, computed once: every pair of templates,
/// and every template against every template's chip-slot and compact re-encoding (its own, and
/// those of other fingers; other impressions of the same finger are not scored there, NaN).
struct Scores {
    n: usize,
    ids: Vec<String>,
    /// Group index of each template, and the group names in order of first appearance.
    group: Vec<usize>,
    groups: Vec<String>,
    /// pair[i n + j]: template i against template j (symmetric; 1 on the diagonal).
    pair: Vec<f64>,
    /// chip[i n + j]: template j against the chip re-encoding of template i; compact likewise.
    chip: Vec<f64>,
    compact: Vec<f64>,
    /// Time to score the pairs (one thread).
    pair_seconds: f64,
}

/// Which kind of other-finger comparison.
#[derive(Clone, Copy)]
enum Other {
    Pairs,
    Chip,
    Compact,
}

impl Scores {
    fn compute(templates: &[(String, MinutiaeRecord)], prepared: &[Template]) -> Scores {
        let n = templates.len();
        let ids: Vec<String> = templates.iter().map(|(id, _)| id.clone()).collect();
        let mut groups: Vec<String> = Vec::new();
        let group = ids
            .iter()
            .map(|id| {
                let g = group_of(id);
                groups.iter().position(|x| x == g).unwrap_or_else(|| {
                    groups.push(g.to_string());
                    groups.len() - 1
                })
            })
            .collect();
        let mut pair = vec![1.0; n * n];
        let start = Instant::now();
        for i in 0..n {
            for j in i + 1..n {
                if let (Some(a), Some(b)) = (prepared.get(i), prepared.get(j)) {
                    let s = match_score(a, b);
                    if let Some(x) = pair.get_mut(i * n + j) {
                        *x = s;
                    }
                    if let Some(x) = pair.get_mut(j * n + i) {
                        *x = s;
                    }
                }
            }
        }
        let pair_seconds = start.elapsed().as_secs_f64();
        let reencoded = |re: &[Vec<Minutia>]| -> Vec<f64> {
            let mut m = vec![f64::NAN; n * n];
            for (i, r) in re.iter().enumerate() {
                let r = Template::prepare(r);
                for (j, t) in prepared.iter().enumerate() {
                    if i == j || ids.get(i) != ids.get(j) {
                        if let Some(x) = m.get_mut(i * n + j) {
                            *x = match_score(t, &r);
                        }
                    }
                }
            }
            m
        };
        let chip: Vec<Vec<Minutia>> = templates.iter().map(|(_, r)| chip_reencode_seeded(&r.minutiae, REENCODE_SEED)).collect();
        let compact: Vec<Vec<Minutia>> = templates.iter().map(|(_, r)| compact_reencode(r)).collect();
        Scores { n, chip: reencoded(&chip), compact: reencoded(&compact), ids, group, groups, pair, pair_seconds }
    }

    fn at(m: &[f64], n: usize, i: usize, j: usize) -> f64 {
        m.get(i * n + j).copied().unwrap_or(f64::NAN)
    }

    fn same_finger(&self, i: usize, j: usize) -> bool {
        self.ids.get(i) == self.ids.get(j)
    }

    /// Templates whose group is selected.
    fn members(&self, in_set: &dyn Fn(usize) -> bool) -> Vec<usize> {
        (0..self.n).filter(|&i| self.group.get(i).is_some_and(|&g| in_set(g))).collect()
    }

    /// (genuine, impostor) pair scores among `members`.
    fn pairs(&self, members: &[usize]) -> (Vec<f64>, Vec<f64>) {
        let (mut genuine, mut impostor) = (Vec::new(), Vec::new());
        for (k, &i) in members.iter().enumerate() {
            for &j in members.iter().skip(k + 1) {
                let s = Self::at(&self.pair, self.n, i, j);
                if self.same_finger(i, j) {
                    genuine.push(s);
                } else {
                    impostor.push(s);
                }
            }
        }
        (genuine, impostor)
    }

    /// Own scores of `members` against their chip (`compact` false) or compact re-encoding.
    fn own(&self, members: &[usize], compact: bool) -> Vec<f64> {
        let m = if compact { &self.compact } else { &self.chip };
        members.iter().map(|&i| Self::at(m, self.n, i, i)).collect()
    }

    /// Other-finger scores among `members` of one kind.
    fn other(&self, members: &[usize], kind: Other) -> Vec<f64> {
        match kind {
            Other::Pairs => self.pairs(members).1,
            Other::Chip | Other::Compact => {
                let m = if matches!(kind, Other::Compact) { &self.compact } else { &self.chip };
                let mut v = Vec::new();
                for &i in members {
                    for &j in members {
                        if !self.same_finger(i, j) {
                            v.push(Self::at(m, self.n, i, j));
                        }
                    }
                }
                v
            }
        }
    }

    /// Every other-finger score between a template of `a` and one of `b` (disjoint): pairs, and
    /// each side's re-encodings against the other side's templates.
    fn other_across(&self, a: &[usize], b: &[usize]) -> Vec<f64> {
        let mut v = Vec::new();
        for &i in a {
            for &j in b {
                if !self.same_finger(i, j) {
                    v.push(Self::at(&self.pair, self.n, i, j));
                    for m in [&self.chip, &self.compact] {
                        v.push(Self::at(m, self.n, i, j));
                        v.push(Self::at(m, self.n, j, i));
                    }
                }
            }
        }
        v
    }

    /// Every other-finger score among `members`: impostor pairs, chip, compact.
    fn all_other(&self, members: &[usize]) -> Vec<f64> {
        let mut v = self.other(members, Other::Pairs);
        v.extend(self.other(members, Other::Chip));
        v.extend(self.other(members, Other::Compact));
        v
    }

    /// Lowest own re-encoded score (chip and compact) of `members`.
    fn lowest_own(&self, members: &[usize]) -> f64 {
        self.own(members, false).into_iter().chain(self.own(members, true)).fold(1.0, f64::min)
    }
}

fn highest(v: &[f64]) -> f64 {
    v.iter().copied().fold(0.0, f64::max)
}

fn own_stats(scores: &[f64], th: &FingerprintThresholds) -> OwnStats {
    OwnStats {
        templates: scores.len(),
        missed: scores.iter().filter(|&&s| !decide_with(s, th).is_match()).count(),
        borderline: scores.iter().filter(|&&s| decide_with(s, th).is_borderline()).count(),
        lowest_score: scores.iter().copied().fold(1.0, f64::min),
    }
}

fn other_stats(scores: &[f64], th: &FingerprintThresholds) -> OtherStats {
    OtherStats {
        comparisons: scores.len(),
        accepted: scores.iter().filter(|&&s| decide_with(s, th).is_match()).count(),
        borderline: scores.iter().filter(|&&s| decide_with(s, th).is_borderline()).count(),
        highest_score: highest(scores),
    }
}

/// The card case on `members` at `th`.
fn card_check(scores: &Scores, members: &[usize], th: &FingerprintThresholds) -> CardCheck {
    let reencoded = |compact: bool, description: &str| ReencodedStats {
        seed: REENCODE_SEED,
        description: description.to_string(),
        own: own_stats(&scores.own(members, compact), th),
        other_fingers: other_stats(&scores.other(members, if compact { Other::Compact } else { Other::Chip }), th),
    };
    let (genuine, impostor) = scores.pairs(members);
    let all_other = scores.all_other(members);
    let (lowest_own, highest_other) = (scores.lowest_own(members), highest(&all_other));
    CardCheck {
        chip: reencoded(false, CHIP_DESCRIPTION),
        compact: reencoded(true, COMPACT_DESCRIPTION),
        impostor_pairs: other_stats(&impostor, th),
        other_fingers: other_stats(&all_other, th),
        lowest_own_score: lowest_own,
        highest_other_score: highest_other,
        margins: margins(th.threshold, lowest_own, highest_other),
        two_impressions_fnmr: share(genuine.iter().filter(|&&s| !decide_with(s, th).is_match()).count(), genuine.len()),
    }
}

fn share(k: usize, n: usize) -> f64 {
    if n == 0 {
        0.0
    } else {
        k as f64 / n as f64
    }
}

/// Leave one group out: for every group (when there are at least two), the card rule
/// calibrated on the templates of all other groups, tested on the held-out group's own
/// re-encodings and other-finger comparisons (nothing of the held-out group is seen in
/// training, and no training template is used in the test).
fn held_out_folds(scores: &Scores) -> Vec<HeldOutFold> {
    if scores.groups.len() < 2 {
        return Vec::new();
    }
    (0..scores.groups.len())
        .map(|g| {
            let train = scores.members(&|x| x != g);
            let test = scores.members(&|x| x == g);
            let train_other = scores.all_other(&train);
            let (l, h) = (scores.lowest_own(&train), highest(&train_other));
            let th = card_thresholds(l, h);
            let two = two_impressions_thresholds(&descending(&scores.other(&train, Other::Pairs)), h);
            let test_other = scores.all_other(&test);
            let (chip_own, compact_own) = (own_stats(&scores.own(&test, false), &th), own_stats(&scores.own(&test, true), &th));
            let lowest = chip_own.lowest_score.min(compact_own.lowest_score);
            let other_fingers = other_stats(&test_other, &th);
            HeldOutFold {
                held_out: scores.groups.get(g).cloned().unwrap_or_default(),
                trained_on: scores.groups.iter().enumerate().filter(|&(x, _)| x != g).map(|(_, n)| n.clone()).collect(),
                trained_lowest_own_score: l,
                trained_highest_other_score: h,
                margins: margins(th.threshold, lowest, other_fingers.highest_score),
                other_fingers_across: other_stats(&scores.other_across(&test, &train), &th),
                thresholds: th,
                chip_own,
                compact_own,
                other_fingers,
                two_impressions_threshold: two.threshold,
                other_fingers_accepted_at_two_impressions_threshold: other_stats(&test_other, &two).accepted,
            }
        })
        .collect()
}

const STRESS_TARGETS: [f64; 3] = [1e-3, 3e-3, 1e-2];
const STRESS_DESCRIPTION: &str = "simulated, not measured: every other-finger score of the calibration data scaled     (x factor) or shifted (+ offset) so that the two-impressions threshold would accept 10, 30 or 100 per 10,000     other fingers (as reported for templates of another sensor); accepted = at the committed thresholds";

/// The simulated harder impostor conditions of [`StressPoint`].
fn stress(other: &[f64], two: &FingerprintThresholds, card: &FingerprintThresholds) -> Vec<StressPoint> {
    let desc = descending(other);
    let mut out = Vec::new();
    for target in STRESS_TARGETS {
        // The score that exactly ceil(target N) other-finger scores reach.
        let m = (target * desc.len() as f64).ceil().max(1.0) as usize;
        let Some(&q) = desc.get(m - 1) else { continue };
        if q <= 0.0 {
            continue;
        }
        for (model, parameter) in [("scaled", two.threshold / q), ("shifted", two.threshold - q)] {
            let shifted: Vec<f64> =
                desc.iter().map(|&s| if model == "scaled" { s * two.threshold / q } else { s + two.threshold - q }).collect();
            out.push(StressPoint {
                model: model.to_string(),
                fmr_at_two_impressions_threshold: target,
                parameter,
                comparisons: shifted.len(),
                accepted_at_two_impressions_threshold: other_stats(&shifted, two).accepted,
                accepted_at_card_threshold: other_stats(&shifted, card).accepted,
                borderline_at_card_threshold: other_stats(&shifted, card).borderline,
                highest_score: highest(&shifted),
            });
        }
    }
    out
}

fn held_out_total(folds: &[HeldOutFold]) -> HeldOutTotal {
    let min_of = |f: &dyn Fn(&HeldOutFold) -> Option<f64>| folds.iter().filter_map(f).reduce(f64::min);
    HeldOutTotal {
        folds: folds.len(),
        own_templates: folds.iter().map(|f| f.chip_own.templates).sum(),
        chip_own_missed: folds.iter().map(|f| f.chip_own.missed).sum(),
        compact_own_missed: folds.iter().map(|f| f.compact_own.missed).sum(),
        other_finger_comparisons: folds.iter().map(|f| f.other_fingers.comparisons).sum(),
        other_fingers_accepted: folds.iter().map(|f| f.other_fingers.accepted).sum(),
        other_fingers_accepted_at_two_impressions_threshold: folds
            .iter()
            .map(|f| f.other_fingers_accepted_at_two_impressions_threshold)
            .sum(),
        other_finger_comparisons_across: folds.iter().map(|f| f.other_fingers_across.comparisons).sum(),
        other_fingers_accepted_across: folds.iter().map(|f| f.other_fingers_across.accepted).sum(),
        min_own_factor: min_of(&|f| f.margins.own_factor),
        min_other_factor: min_of(&|f| f.margins.other_factor),
    }
}

fn descending(v: &[f64]) -> Vec<f64> {
    let mut d = v.to_vec();
    d.sort_by(|a, b| b.total_cmp(a));
    d
}

fn group_stats(name: &str, templates: usize, genuine: &[f64], impostor: &[f64]) -> GroupStats {
    let desc = descending(impostor);
    GroupStats {
        group: name.to_string(),
        templates,
        genuine_pairs: genuine.len(),
        impostor_pairs: impostor.len(),
        eer: equal_error_rate(genuine, impostor).0,
        operating_points: FMR_TARGETS.iter().map(|&t| operating_point(genuine, &desc, t)).collect(),
    }
}

/// Per group: genuine pairs and impostor pairs within the group.
fn per_group(scores: &Scores) -> Vec<GroupStats> {
    (0..scores.groups.len())
        .map(|g| {
            let members = scores.members(&|x| x == g);
            let (genuine, impostor) = scores.pairs(&members);
            group_stats(scores.groups.get(g).map_or("", String::as_str), members.len(), &genuine, &impostor)
        })
        .collect()
}

/// Error rates of all pairs at a given threshold.
fn at_threshold(genuine: &[f64], impostor: &[f64], th: &FingerprintThresholds) -> FmrPoint {
    let fm = impostor.iter().filter(|&&s| decide_with(s, th).is_match()).count();
    let fnm = genuine.iter().filter(|&&s| !decide_with(s, th).is_match()).count();
    FmrPoint {
        fmr_target: 1e-4,
        threshold: th.threshold,
        false_matches: fm,
        fmr: share(fm, impostor.len()),
        fnmr: share(fnm, genuine.len()),
    }
}

fn finger_count(templates: &[(String, MinutiaeRecord)]) -> usize {
    let mut fingers: Vec<&str> = templates.iter().map(|(id, _)| id.as_str()).collect();
    fingers.sort_unstable();
    fingers.dedup();
    fingers.len()
}

fn mean(v: impl Iterator<Item = f64>) -> f64 {
    let (s, n) = v.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    if n == 0 {
        0.0
    } else {
        s / n as f64
    }
}

// ---------------------------------------------------------------------------------------------
// Calibration
// ---------------------------------------------------------------------------------------------

/// Score every genuine pair (same finger id, e.g. "DB1_B/101"), every impostor pair (different
/// finger ids) and every template against the chip-slot and compact re-encodings of itself and
/// of every other finger; derive the two-impressions error rates and threshold, the card
/// threshold with its margins, and its leave-one-group-out check. Deterministic for a given
/// input.
pub fn calibrate(templates: &[(String, MinutiaeRecord)]) -> FingerprintCalibration {
    let prepared: Vec<Template> = templates.iter().map(|(_, r)| Template::prepare(&r.minutiae)).collect();
    let scores = Scores::compute(templates, &prepared);
    let all: Vec<usize> = (0..scores.n).collect();
    let (genuine, impostor) = scores.pairs(&all);
    let all_other = scores.all_other(&all);

    let imp_desc = descending(&impostor);
    let (eer, eer_threshold) = equal_error_rate(&genuine, &impostor);
    let two = two_impressions_thresholds(&imp_desc, highest(&all_other));
    let group_stats = per_group(&scores);
    let two_impressions = TwoImpressionsCalibration {
        genuine_pairs: genuine.len(),
        impostor_pairs: impostor.len(),
        genuine: distribution(&genuine),
        impostor: distribution(&impostor),
        eer,
        eer_threshold,
        operating_points: FMR_TARGETS.iter().map(|&t| operating_point(&genuine, &imp_desc, t)).collect(),
        mean_group_eer: mean(group_stats.iter().map(|g| g.eer)),
        groups: group_stats,
        threshold_rule: TWO_IMPRESSIONS_RULE.to_string(),
        borderline_rule: TWO_IMPRESSIONS_BORDERLINE.to_string(),
        verdict: at_threshold(&genuine, &impostor, &two),
        thresholds: two,
    };

    let card_th = card_thresholds(scores.lowest_own(&all), highest(&all_other));
    let folds = held_out_folds(&scores);
    let card = CardCalibration {
        description: CARD_DESCRIPTION.to_string(),
        threshold_rule: CARD_RULE.to_string(),
        borderline_rule: CARD_BORDERLINE.to_string(),
        check: card_check(&scores, &all, &card_th),
        thresholds: card_th,
        held_out_total: held_out_total(&folds),
        held_out: folds,
        stress_description: STRESS_DESCRIPTION.to_string(),
        stress: stress(&all_other, &two, &card_th),
    };
    FingerprintCalibration {
        matcher: MATCHER_ID.to_string(),
        templates: templates.len(),
        fingers: finger_count(templates),
        two_impressions,
        card,
    }
}

// ---------------------------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------------------------

/// Median of a sample (0 when empty).
fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let at = |i: usize| v.get(i).copied().unwrap_or(0.0);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => at(n / 2),
        n => (at(n / 2 - 1) + at(n / 2)) / 2.0,
    }
}

/// Speed of the matcher during an evaluation (one thread).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Speed {
    /// Mean, median and largest time to prepare one template (microseconds), after one untimed
    /// warm-up preparation (the matcher's lookup tables are built on first use).
    pub prepare_mean_us: f64,
    pub prepare_median_us: f64,
    pub prepare_max_us: f64,
    /// Minutiae count of the template that took longest to prepare.
    pub prepare_max_minutiae: usize,
    /// Comparisons of prepared templates timed (every genuine and impostor pair) and their time.
    pub comparisons: usize,
    pub seconds: f64,
    pub comparisons_per_second: f64,
}

/// The two-impressions question on the evaluated templates.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TwoImpressionsEval {
    /// Per group (database): genuine pairs and impostor pairs within the group.
    pub groups: Vec<GroupStats>,
    /// Mean of the groups' equal-error rates.
    pub mean_group_eer: f64,
    /// All templates: impostor pairs across groups too.
    pub overall: GroupStats,
    /// The two-impressions thresholds used, and all pairs' error rates at them.
    pub thresholds: FingerprintThresholds,
    pub verdict: FmrPoint,
}

/// The card question on the evaluated templates.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CardEval {
    /// The card thresholds used.
    pub thresholds: FingerprintThresholds,
    pub check: CardCheck,
    /// What the card rule would choose on these templates alone.
    pub rule_on_this_data: FingerprintThresholds,
}

/// Output of [`evaluate`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    pub matcher: String,
    pub templates: usize,
    pub fingers: usize,
    pub two_impressions: TwoImpressionsEval,
    pub card: CardEval,
    pub speed: Speed,
}

/// Evaluate the matcher on labelled templates against given two-impressions and card
/// thresholds: every pair scored (timed), two-impressions error rates per group and overall,
/// and the card check (chip-slot and compact re-encodings, other fingers, margins). Everything
/// but `speed` is deterministic.
pub fn evaluate(
    templates: &[(String, MinutiaeRecord)],
    two_impressions: &FingerprintThresholds,
    card: &FingerprintThresholds,
) -> Evaluation {
    let mut prepared = Vec::with_capacity(templates.len());
    let mut prep_times = Vec::with_capacity(templates.len());
    if let Some((_, r)) = templates.first() {
        std::hint::black_box(Template::prepare(&r.minutiae));
    }
    for (_, r) in templates {
        let start = Instant::now();
        prepared.push(Template::prepare(&r.minutiae));
        prep_times.push(start.elapsed().as_secs_f64() * 1e6);
    }
    let scores = Scores::compute(templates, &prepared);
    let all: Vec<usize> = (0..scores.n).collect();
    let (genuine, impostor) = scores.pairs(&all);
    let seconds = scores.pair_seconds;
    let comparisons = genuine.len() + impostor.len();
    let groups = per_group(&scores);
    Evaluation {
        matcher: MATCHER_ID.to_string(),
        templates: templates.len(),
        fingers: finger_count(templates),
        two_impressions: TwoImpressionsEval {
            mean_group_eer: mean(groups.iter().map(|g| g.eer)),
            groups,
            overall: group_stats("all", templates.len(), &genuine, &impostor),
            thresholds: *two_impressions,
            verdict: at_threshold(&genuine, &impostor, two_impressions),
        },
        card: CardEval {
            thresholds: *card,
            check: card_check(&scores, &all, card),
            rule_on_this_data: card_thresholds(scores.lowest_own(&all), highest(&scores.all_other(&all))),
        },
        speed: Speed {
            prepare_mean_us: mean(prep_times.iter().copied()),
            prepare_median_us: median(&prep_times),
            prepare_max_us: prep_times.iter().copied().fold(0.0, f64::max),
            prepare_max_minutiae: prep_times
                .iter()
                .zip(templates)
                .max_by(|a, b| a.0.total_cmp(b.0))
                .map_or(0, |(_, (_, r))| r.minutiae.len()),
            comparisons,
            seconds,
            comparisons_per_second: if seconds > 0.0 { comparisons as f64 / seconds } else { 0.0 },
        },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    use super::super::tests::{full_set, labelled, subset};
    use super::super::FingerCase;

    const CALIBRATION_JSON: &str = include_str!("../../../../../calibration/fingerprint.json");

    // --- two impressions -----------------------------------------------------------------------

    #[test]
    fn threshold_rule_and_eer_on_synthetic_scores() {
        // 20000 impostors: 1e-4 allows 2 at or above the threshold.
        let mut imp: Vec<f64> = (0..20000).map(|i| f64::from(i) / 20000.0).collect();
        imp.sort_by(|a, b| b.total_cmp(a));
        assert!((threshold_for_fmr(&imp, 1e-4) - step_above(imp[2])).abs() < 1e-12);
        let op = operating_point(&[1.0, 0.0], &imp, 1e-4);
        assert_eq!(op.false_matches, 2);
        assert_eq!(op.fnmr, 0.5);
        // Fewer impostors than 1/target: above the maximum.
        let small = [0.3, 0.2, 0.1];
        assert!((threshold_for_fmr(&small, 1e-4) - 0.3001).abs() < 1e-12);
        // Separated distributions: EER 0; overlapping ones: one error each side of 4.
        assert_eq!(equal_error_rate(&[0.8, 0.9], &[0.1, 0.2]).0, 0.0);
        let (eer, _) = equal_error_rate(&[0.15, 0.5, 0.6, 0.7], &[0.1, 0.2, 0.3, 0.55]);
        assert!((eer - 0.25).abs() < 1e-12, "{eer}");
        assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0], 0.5), 2.0);
        assert_eq!(group_of("DB1_B/101"), "DB1_B");
        assert_eq!(group_of("101"), "");
        // The two-impressions threshold: above the highest other-finger score seen.
        let t = two_impressions_thresholds(&small, 0.35);
        assert_eq!(t.threshold, 0.3501);
    }

    // --- card rule -------------------------------------------------------------------------------

    #[test]
    fn card_threshold_is_the_geometric_middle_of_the_gap() {
        // L 0.6, H 0.06: T = sqrt(0.036) = 0.18974 -> 0.1897; band sqrt(H T), sqrt(T L).
        let t = card_thresholds(0.6, 0.06);
        assert_eq!(t.threshold, 0.1897);
        assert_eq!(t.borderline_low, 0.1067);
        assert_eq!(t.borderline_high, 0.3374);
        // The same factor of safety on both sides, to the rounding.
        let m = margins(t.threshold, 0.6, 0.06);
        let (own, other) = (m.own_factor.unwrap(), m.other_factor.unwrap());
        assert!((own - other).abs() < 2e-3 && (own - 10f64.sqrt()).abs() < 2e-3, "{own} {other}");
        assert!((m.own - (0.6 - 0.1897)).abs() < 1e-12 && (m.other - (0.1897 - 0.06)).abs() < 1e-12);
        // Not the arithmetic middle (0.33), which would leave the own side a factor 1.8 only.
        assert!(t.threshold < 0.25);
        // Every score in order: H < low < T < high < L.
        assert!(0.06 < t.borderline_low && t.borderline_low < t.threshold && t.threshold < t.borderline_high && t.borderline_high < 0.6);
    }

    #[test]
    fn card_threshold_without_a_gap_stays_above_every_other_finger() {
        // Own scores reach below the other fingers: no gap, the threshold goes just above H.
        let t = card_thresholds(0.05, 0.07);
        assert_eq!((t.threshold, t.borderline_low, t.borderline_high), (0.0701, 0.0701, 0.0701));
        // A gap narrower than one step: the same.
        assert_eq!(card_thresholds(0.07005, 0.07).threshold, 0.0701);
        // Nothing measured on the other side: fails closed.
        assert_eq!(card_thresholds(0.6, 0.0).threshold, 1.0);
        assert_eq!(card_thresholds(f64::NAN, 0.07).threshold, 1.0);
        // Only own side measured perfect: still inside (H, L].
        let t = card_thresholds(1.0, 0.01);
        assert_eq!(t.threshold, 0.1);
    }

    // --- calibration -------------------------------------------------------------------------

    #[test]
    fn calibrate_on_the_fixture_subset() {
        let set = subset();
        let c = calibrate(&set);
        let two = &c.two_impressions;
        assert_eq!((c.templates, c.fingers, two.genuine_pairs, two.impostor_pairs), (16, 4, 24, 96));
        assert_eq!(two.groups.len(), 2);
        assert!(two.groups.iter().all(|g| g.genuine_pairs == 12 && g.impostor_pairs == 16 && g.templates == 8));
        // Fewer than 10^4 impostors: the two-impressions threshold sits just above every
        // other-finger score seen.
        let seen = c.card.check.highest_other_score;
        assert!(seen >= two.impostor.max && seen >= c.card.check.chip.other_fingers.highest_score);
        assert!(two.thresholds.threshold > seen && two.thresholds.threshold <= seen + 1e-4 + 1e-12);
        assert_eq!(two.verdict.false_matches, 0);
        assert!(two.eer < 0.15 && two.genuine.p50 > two.impostor.max);
        // Card: 16 own re-encodings of each kind, other fingers 12 per re-encoding.
        let card = &c.card.check;
        assert_eq!((card.chip.own.templates, card.chip.own.missed, card.compact.own.missed), (16, 0, 0));
        assert_eq!(card.chip.other_fingers.comparisons, 16 * 12);
        assert_eq!(card.other_fingers.comparisons, 96 + 2 * 16 * 12);
        assert_eq!(card.other_fingers.accepted, 0);
        assert_eq!(c.card.thresholds, card_thresholds(card.lowest_own_score, card.highest_other_score));
        assert!(card.highest_other_score < c.card.thresholds.threshold && c.card.thresholds.threshold < card.lowest_own_score);
        // The card threshold is far above the two-impressions one.
        assert!(c.card.thresholds.threshold > 2.0 * two.thresholds.threshold);
        // Reproducible.
        assert_eq!(calibrate(&set), c);
    }

    #[test]
    fn held_out_folds_learn_nothing_from_the_held_out_group() {
        let set = subset();
        let c = calibrate(&set);
        let folds = &c.card.held_out;
        assert_eq!(folds.iter().map(|f| f.held_out.as_str()).collect::<Vec<_>>(), ["DB1_B", "DB2_B"]);
        for f in folds {
            assert_eq!(f.trained_on.len(), 1);
            assert!(!f.trained_on.contains(&f.held_out));
            let train: Vec<(String, MinutiaeRecord)> = set.iter().filter(|(id, _)| !id.starts_with(&f.held_out)).cloned().collect();
            let test: Vec<(String, MinutiaeRecord)> = set.iter().filter(|(id, _)| id.starts_with(&f.held_out)).cloned().collect();
            assert_eq!((train.len(), test.len()), (8, 8));
            // The fold's thresholds are what calibrating on the training group alone gives ...
            let alone = calibrate(&train);
            assert_eq!(f.thresholds, alone.card.thresholds, "{}", f.held_out);
            assert_eq!(f.two_impressions_threshold, alone.two_impressions.thresholds.threshold);
            assert_eq!(f.trained_lowest_own_score, alone.card.check.lowest_own_score);
            // ... and its test figures what evaluating the held-out group alone at them gives.
            let ev = evaluate(&test, &alone.two_impressions.thresholds, &f.thresholds).card.check;
            assert_eq!(f.chip_own, ev.chip.own);
            assert_eq!(f.compact_own, ev.compact.own);
            assert_eq!(f.other_fingers, ev.other_fingers);
            // 2 fingers x 4 impressions: 16 impostor pairs, 8 x 4 other fingers per re-encoding.
            assert_eq!((f.chip_own.templates, f.other_fingers.comparisons), (8, 16 + 2 * 8 * 4));
            assert_eq!(f.margins, margins(f.thresholds.threshold, ev.lowest_own_score, ev.highest_other_score));
        }
        let t = &c.card.held_out_total;
        assert_eq!((t.folds, t.own_templates, t.other_finger_comparisons), (2, 16, 2 * 80));
        // One group only: no fold.
        let one = labelled(&["DB1_B"], &[101, 102], 2);
        assert!(calibrate(&one).card.held_out.is_empty());
    }

    #[test]
    fn reencoding_depends_on_the_template_alone() {
        let set = subset();
        let a = chip_reencode_seeded(&set[3].1.minutiae, REENCODE_SEED);
        assert_eq!(a, chip_reencode_seeded(&set[3].1.minutiae, REENCODE_SEED));
        assert_ne!(a, chip_reencode_seeded(&set[4].1.minutiae, REENCODE_SEED));
        assert_ne!(a, chip_reencode_seeded(&set[3].1.minutiae, REENCODE_SEED + 1));
    }

    #[test]
    fn committed_card_calibration_holds_out_of_sample() {
        let cal: FingerprintCalibration = serde_json::from_str(CALIBRATION_JSON).unwrap();
        let card = &cal.card;
        assert_eq!(card.thresholds, super::super::thresholds(FingerCase::Card));
        assert_eq!(card.thresholds, card_thresholds(card.check.lowest_own_score, card.check.highest_other_score));
        // Four folds, one per FVC2002 database, each trained on the other three.
        assert_eq!(card.held_out.iter().map(|f| f.held_out.as_str()).collect::<Vec<_>>(), ["DB1_B", "DB2_B", "DB3_B", "DB4_B"]);
        for f in &card.held_out {
            assert_eq!(f.trained_on.len(), 3, "{}", f.held_out);
            assert_eq!((f.chip_own.templates, f.other_fingers.comparisons), (80, 2880 + 2 * 80 * 72));
            assert_eq!((f.chip_own.missed, f.compact_own.missed, f.other_fingers.accepted), (0, 0, 0), "{}", f.held_out);
            assert!(f.margins.own > 0.0 && f.margins.other > 0.0, "{}: {:?}", f.held_out, f.margins);
        }
        assert_eq!(card.held_out_total.own_templates, 320);
    }

    /// The full calibration over the 320 FVC2002 templates in fixtures/. Checks that the
    /// committed calibration/fingerprint.json is what the code produces; with
    /// IDCHECK_WRITE_CALIBRATION=1 it rewrites that file instead. Run with
    /// `cargo test --release --lib compare::fingerprint -- --ignored --nocapture`
    /// (or `idcheck-testkit calibrate fingerprints fixtures/fingerprints/fvc2002`).
    #[test]
    #[ignore]
    fn full_calibration_matches_committed_json() {
        let set = full_set();
        let start = std::time::Instant::now();
        let c = calibrate(&set);
        eprintln!("calibration in {:.1} s", start.elapsed().as_secs_f64());
        let json = serde_json::to_string_pretty(&c).unwrap() + "\n";
        let path = concat!(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."), "/calibration/fingerprint.json");
        if std::env::var("IDCHECK_WRITE_CALIBRATION").is_ok_and(|v| v == "1") {
            std::fs::write(path, &json).unwrap();
        } else {
            let diff = json.lines().zip(CALIBRATION_JSON.lines()).find(|(a, b)| a != b);
            assert!(
                json == CALIBRATION_JSON,
                "calibration/fingerprint.json is stale (first difference: {diff:?}): rerun with IDCHECK_WRITE_CALIBRATION=1"
            );
        }
    }
}

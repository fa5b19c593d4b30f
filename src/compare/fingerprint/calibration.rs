//! Calibration and evaluation of the fingerprint matcher on labelled templates (finger ids such
//! as "DB1_B/101"): genuine and impostor score distributions, equal-error rate, false-non-match
//! rates at false-match rates 1e-2 / 1e-3 / 1e-4 per group and overall, the chip-slot and compact
//! card re-encodings, the verdict threshold and its borderline band (committed as
//! calibration/fingerprint.json), and the speed of preparing and comparing. Pure computation on
//! decoded records (the clock is read for the speed figures only); deterministic otherwise.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::{decide_with, match_score, FingerprintThresholds, Template};
use crate::biometrics::iso19794_2::{from_compact, to_compact};
use crate::biometrics::{Minutia, MinutiaeRecord};

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
    /// Smallest threshold (rule: see [`FingerprintCalibration::threshold_rule`]) meeting the target.
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

/// A re-encoded case (the chip slot, the compact card format): every template against its own
/// re-encoding, and each re-encoding against every template of another finger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReencodedStats {
    pub seed: u64,
    pub description: String,
    pub templates: usize,
    pub matched: usize,
    pub not_matched: usize,
    pub min_score: f64,
    pub other_finger_comparisons: usize,
    pub other_finger_matches: usize,
    pub other_finger_max_score: f64,
}

/// Output of [`calibrate`]; committed as calibration/fingerprint.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FingerprintCalibration {
    pub matcher: String,
    pub templates: usize,
    pub fingers: usize,
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
    /// Error rates of the impostor and genuine pairs at the verdict threshold.
    pub verdict: FmrPoint,
    /// Every template re-encoded as a chip slot.
    pub reencoded: ReencodedStats,
    /// Every template re-encoded in the compact card format (3 bytes per minutia, at most 40).
    pub compact: ReencodedStats,
}

/// Identifier of the matcher algorithm and parameters whose scores a calibration holds.
pub const MATCHER_ID: &str = "mcc16b-lssr-mu1x10-v1";

const FMR_TARGETS: [f64; 3] = [1e-2, 1e-3, 1e-4];
const REENCODE_SEED: u64 = 0x1dc4_ec0f_19f2;

const CHIP_DESCRIPTION: &str = "each template re-encoded as a chip slot (shuffled, +-1 px, +-1 angle unit, at most 83, \
                                up to 5% (max 3) dropped) vs itself, and vs every template of another finger";
const COMPACT_DESCRIPTION: &str = "each template re-encoded in the ISO/IEC 19794-2 compact card format (3 bytes per minutia: \
                                   0.1 mm, 360/64 degrees; at most 40, nearest the centroid) and decoded, vs itself, \
                                   and vs every template of another finger";

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

/// Scores of the pairs of one group (impostors within the group only).
struct GroupScores {
    name: String,
    templates: usize,
    genuine: Vec<f64>,
    impostor: Vec<f64>,
}

/// Every pair's score: genuine (same finger id) and impostor (different ids), overall and per
/// group.
struct PairScores {
    genuine: Vec<f64>,
    impostor: Vec<f64>,
    groups: Vec<GroupScores>,
}

fn pair_scores(ids: &[&str], prepared: &[Template]) -> PairScores {
    let mut groups: Vec<GroupScores> = Vec::new();
    let gi: Vec<usize> = ids
        .iter()
        .map(|id| {
            let g = group_of(id);
            match groups.iter().position(|x| x.name == g) {
                Some(p) => {
                    if let Some(x) = groups.get_mut(p) {
                        x.templates += 1;
                    }
                    p
                }
                None => {
                    groups.push(GroupScores { name: g.to_string(), templates: 1, genuine: Vec::new(), impostor: Vec::new() });
                    groups.len() - 1
                }
            }
        })
        .collect();
    let (mut genuine, mut impostor) = (Vec::new(), Vec::new());
    for (i, (ida, ta)) in ids.iter().zip(prepared).enumerate() {
        for (j, (idb, tb)) in ids.iter().zip(prepared).enumerate().skip(i + 1) {
            let s = match_score(ta, tb);
            let same_group = gi.get(i) == gi.get(j);
            let group = gi.get(i).and_then(|&g| groups.get_mut(g));
            if ida == idb {
                genuine.push(s);
                if let Some(g) = group {
                    g.genuine.push(s);
                }
            } else {
                impostor.push(s);
                if let (Some(g), true) = (group, same_group) {
                    g.impostor.push(s);
                }
            }
        }
    }
    PairScores { genuine, impostor, groups }
}

/// Each template against its own re-encoding, and each re-encoding against every template of
/// another finger: (own scores, other-finger scores).
fn reencoded_scores(ids: &[&str], prepared: &[Template], reencoded: &[Vec<Minutia>]) -> (Vec<f64>, Vec<f64>) {
    let mut own = Vec::with_capacity(prepared.len());
    let mut other = Vec::new();
    for ((id, t), re) in ids.iter().zip(prepared).zip(reencoded) {
        let r = Template::prepare(re);
        own.push(match_score(t, &r));
        for (o, u) in ids.iter().zip(prepared) {
            if o != id {
                other.push(match_score(u, &r));
            }
        }
    }
    (own, other)
}

/// The chip-slot and compact re-encodings of every template (chip jitter from a fixed seed).
fn reencodings(templates: &[(String, MinutiaeRecord)]) -> (Vec<Vec<Minutia>>, Vec<Vec<Minutia>>) {
    use rand::SeedableRng;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(REENCODE_SEED);
    let chip = templates.iter().map(|(_, r)| chip_reencode(&r.minutiae, &mut rng)).collect();
    let compact = templates.iter().map(|(_, r)| compact_reencode(r)).collect();
    (chip, compact)
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

fn reencoded_stats(description: &str, own: &[f64], other: &[f64], th: &FingerprintThresholds) -> ReencodedStats {
    let count = |scores: &[f64], pass: bool| scores.iter().filter(|&&s| decide_with(s, th).is_match() == pass).count();
    ReencodedStats {
        seed: REENCODE_SEED,
        description: description.to_string(),
        templates: own.len(),
        matched: count(own, true),
        not_matched: count(own, false),
        min_score: own.iter().copied().fold(1.0, f64::min),
        other_finger_comparisons: other.len(),
        other_finger_matches: count(other, true),
        other_finger_max_score: other.iter().copied().fold(0.0, f64::max),
    }
}

/// Error rates of all pairs at a given threshold.
fn at_threshold(genuine: &[f64], impostor: &[f64], th: &FingerprintThresholds) -> FmrPoint {
    let fm = impostor.iter().filter(|&&s| decide_with(s, th).is_match()).count();
    let fnm = genuine.iter().filter(|&&s| !decide_with(s, th).is_match()).count();
    FmrPoint {
        fmr_target: 1e-4,
        threshold: th.threshold,
        false_matches: fm,
        fmr: if impostor.is_empty() { 0.0 } else { fm as f64 / impostor.len() as f64 },
        fnmr: if genuine.is_empty() { 0.0 } else { fnm as f64 / genuine.len() as f64 },
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

/// Score every genuine pair (same finger id, e.g. "DB1_B/101") and every impostor pair
/// (different finger ids) of `templates`, and derive the error rates, the verdict threshold and
/// its borderline band, and the re-encoding checks. Deterministic for a given input.
pub fn calibrate(templates: &[(String, MinutiaeRecord)]) -> FingerprintCalibration {
    let ids: Vec<&str> = templates.iter().map(|(id, _)| id.as_str()).collect();
    let prepared: Vec<Template> = templates.iter().map(|(_, r)| Template::prepare(&r.minutiae)).collect();
    let PairScores { genuine, impostor, groups } = pair_scores(&ids, &prepared);
    let (chip, compact) = reencodings(templates);
    let (chip_own, chip_other) = reencoded_scores(&ids, &prepared, &chip);
    let (compact_own, compact_other) = reencoded_scores(&ids, &prepared, &compact);

    let imp_desc = descending(&impostor);
    let (eer, eer_threshold) = equal_error_rate(&genuine, &impostor);
    let operating_points: Vec<FmrPoint> = FMR_TARGETS.iter().map(|&t| operating_point(&genuine, &imp_desc, t)).collect();
    let group_stats: Vec<GroupStats> = groups.iter().map(|g| group_stats(&g.name, g.templates, &g.genuine, &g.impostor)).collect();

    // Verdict threshold: above every impostor score seen (zero false matches), which meets
    // FMR <= 1e-4 with 95 % confidence once there are 3e4 impostor pairs (rule of three); see
    // `threshold_rule`. Borderline band: from the FMR 1e-3 point, symmetric about the threshold.
    let impostor_max = impostor.iter().chain(&chip_other).chain(&compact_other).copied().fold(0.0, f64::max);
    let threshold = step_above(impostor_max).max(threshold_for_fmr(&imp_desc, 1e-4)).min(1.0);
    let low = threshold_for_fmr(&imp_desc, 1e-3).min(threshold);
    let high = (threshold + (threshold - low)).min(1.0).max(threshold);
    let thresholds = FingerprintThresholds { threshold, borderline_low: low, borderline_high: high };
    FingerprintCalibration {
        matcher: MATCHER_ID.to_string(),
        templates: templates.len(),
        fingers: finger_count(templates),
        genuine_pairs: genuine.len(),
        impostor_pairs: impostor.len(),
        genuine: distribution(&genuine),
        impostor: distribution(&impostor),
        eer,
        eer_threshold,
        operating_points,
        mean_group_eer: mean(group_stats.iter().map(|g| g.eer)),
        groups: group_stats,
        threshold_rule: "operating points: threshold = smallest multiple of 1e-4 strictly above the (k+1)-th \
                         highest impostor score, k = floor(FMR target x impostor pairs) (k = 0, just above the \
                         impostor maximum, when there are fewer than 1/target pairs). Verdict threshold: smallest \
                         multiple of 1e-4 strictly above every impostor score seen (the impostor pairs and the chip \
                         and compact re-encodings against other fingers), and not below the FMR 1e-4 point: zero \
                         false matches, i.e. FMR <= 1e-4 at 95% confidence (rule of three) with >= 30000 impostor \
                         pairs"
            .to_string(),
        borderline_rule: "borderline_low = the threshold for FMR 1e-3; borderline_high = threshold + \
                          (threshold - borderline_low), at most 1"
            .to_string(),
        verdict: at_threshold(&genuine, &impostor, &thresholds),
        reencoded: reencoded_stats(CHIP_DESCRIPTION, &chip_own, &chip_other, &thresholds),
        compact: reencoded_stats(COMPACT_DESCRIPTION, &compact_own, &compact_other, &thresholds),
        thresholds,
    }
}

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

/// Output of [`evaluate`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    pub matcher: String,
    pub templates: usize,
    pub fingers: usize,
    /// Per group (database): genuine pairs and impostor pairs within the group.
    pub groups: Vec<GroupStats>,
    /// Mean of the groups' equal-error rates.
    pub mean_group_eer: f64,
    /// All templates: impostor pairs across groups too.
    pub overall: GroupStats,
    /// Error rates of all pairs at the verdict threshold used.
    pub verdict: FmrPoint,
    pub chip: ReencodedStats,
    pub compact: ReencodedStats,
    pub speed: Speed,
}

/// Evaluate the matcher on labelled templates against the given verdict thresholds: every pair
/// scored (timed), error rates per group and overall, and the chip-slot and compact re-encoding
/// checks. Everything but `speed` is deterministic.
pub fn evaluate(templates: &[(String, MinutiaeRecord)], thresholds: &FingerprintThresholds) -> Evaluation {
    let ids: Vec<&str> = templates.iter().map(|(id, _)| id.as_str()).collect();
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
    let start = Instant::now();
    let PairScores { genuine, impostor, groups } = pair_scores(&ids, &prepared);
    let seconds = start.elapsed().as_secs_f64();
    let comparisons = genuine.len() + impostor.len();
    let (chip, compact) = reencodings(templates);
    let (chip_own, chip_other) = reencoded_scores(&ids, &prepared, &chip);
    let (compact_own, compact_other) = reencoded_scores(&ids, &prepared, &compact);
    let group_stats: Vec<GroupStats> = groups.iter().map(|g| group_stats(&g.name, g.templates, &g.genuine, &g.impostor)).collect();
    Evaluation {
        matcher: MATCHER_ID.to_string(),
        templates: templates.len(),
        fingers: finger_count(templates),
        mean_group_eer: mean(group_stats.iter().map(|g| g.eer)),
        groups: group_stats,
        overall: group_stats_all(templates.len(), &genuine, &impostor),
        verdict: at_threshold(&genuine, &impostor, thresholds),
        chip: reencoded_stats(CHIP_DESCRIPTION, &chip_own, &chip_other, thresholds),
        compact: reencoded_stats(COMPACT_DESCRIPTION, &compact_own, &compact_other, thresholds),
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

fn group_stats_all(templates: usize, genuine: &[f64], impostor: &[f64]) -> GroupStats {
    group_stats("all", templates, genuine, impostor)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    use super::super::tests::{full_set, subset};

    const CALIBRATION_JSON: &str = include_str!("../../../calibration/fingerprint.json");

    // --- calibration -------------------------------------------------------------------------

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
    }

    #[test]
    fn calibrate_on_the_fixture_subset() {
        let set = subset();
        let c = calibrate(&set);
        assert_eq!((c.templates, c.fingers, c.genuine_pairs, c.impostor_pairs), (16, 4, 24, 96));
        assert_eq!(c.groups.len(), 2);
        assert!(c.groups.iter().all(|g| g.genuine_pairs == 12 && g.impostor_pairs == 16 && g.templates == 8));
        // Fewer than 10^4 impostors: the threshold sits just above the impostor maximum.
        let seen = c.impostor.max.max(c.reencoded.other_finger_max_score);
        assert!(c.thresholds.threshold > seen && c.thresholds.threshold <= seen + 1e-4 + 1e-12);
        assert_eq!(c.verdict.false_matches, 0);
        assert!(c.eer < 0.15 && c.genuine.p50 > c.impostor.max);
        assert_eq!(c.reencoded.templates, 16);
        assert_eq!(c.reencoded.matched, 16);
        assert_eq!(c.reencoded.other_finger_comparisons, 16 * 12);
        assert_eq!(c.reencoded.other_finger_matches, 0);
        // Reproducible.
        assert_eq!(calibrate(&set), c);
    }

    /// The full calibration over the 320 FVC2002 templates in fixtures/. Checks that the
    /// committed calibration/fingerprint.json is what the code produces; with
    /// IDCHECK_WRITE_CALIBRATION=1 it rewrites that file instead. Run with
    /// `cargo test --release --lib compare::fingerprint -- --ignored --nocapture`
    /// (or `idcheck calibrate fingerprints fixtures/fingerprints/fvc2002`).
    #[test]
    #[ignore]
    fn full_calibration_matches_committed_json() {
        let set = full_set();
        let start = std::time::Instant::now();
        let c = calibrate(&set);
        let elapsed = start.elapsed().as_secs_f64();
        let comparisons = c.genuine_pairs + c.impostor_pairs + c.reencoded.templates + c.reencoded.other_finger_comparisons;
        eprintln!("{comparisons} comparisons in {elapsed:.1} s: {:.0} comparisons/s", comparisons as f64 / elapsed);
        let json = serde_json::to_string_pretty(&c).unwrap() + "\n";
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/calibration/fingerprint.json");
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

    /// Prints the evaluation of all 320 FVC2002 templates in fixtures/ (what `idcheck fingerprint
    /// eval fixtures/fingerprints/fvc2002` prints as JSON).
    #[test]
    #[ignore]
    fn print_full_evaluation() {
        let set = full_set();
        let ev = evaluate(&set, &super::super::thresholds());
        for g in ev.groups.iter().chain([&ev.overall]) {
            let f: Vec<String> = g.operating_points.iter().map(|o| format!("{:.2}%", 100.0 * o.fnmr)).collect();
            eprintln!("{} EER {:.2}% FNMR {}", g.group, 100.0 * g.eer, f.join(" / "));
        }
        eprintln!("mean EER {:.2}%", 100.0 * ev.mean_group_eer);
        eprintln!("{}", serde_json::to_string_pretty(&(&ev.verdict, &ev.chip, &ev.compact, &ev.speed)).unwrap());
    }
}

//! Fingerprint comparison for cause 2 (causes.md): the canonical minutiae hash that proves a chip
//! slot holds exactly the acceptance minutiae, an alignment-based minutiae matcher for everything
//! else, the calibrated verdict threshold (loaded from calibration/fingerprint.json) and the
//! reproducible calibration that produces it. Pure computation: no I/O, never panics.

use std::f32::consts::PI;
use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::biometrics::{Minutia, MinutiaeRecord};

// ---------------------------------------------------------------------------------------------
// Canonical hash
// ---------------------------------------------------------------------------------------------

/// The 6-byte ISO/IEC 19794-2 form of a minutia with the quality byte zeroed.
fn canonical_form(m: &Minutia) -> [u8; 6] {
    let mut b = m.to_bytes();
    b[5] = 0;
    b
}

/// Sort key of the canonical order: (x, y, angle, kind), coordinates as the 14 bits stored.
fn canonical_key(m: &Minutia) -> (u16, u16, u8, u8) {
    (m.x & 0x3FFF, m.y & 0x3FFF, m.angle, m.kind.bits())
}

/// SHA-256 of the canonical minutiae set.
///
/// Canonical form: the minutiae sorted by (x, y, angle, kind) (x and y as the 14 bits the
/// 6-byte form stores), each encoded in its ISO/IEC 19794-2:2005 6-byte form (2-bit type +
/// 14-bit x, 2 reserved bits (0) + 14-bit y, angle, quality) with the quality byte set to 0, the
/// forms concatenated with no count or header. Record order and minutia quality therefore do not
/// change the hash; everything else (a moved, turned, retyped, added or removed minutia) does.
/// The set is a multiset: a duplicated minutia is hashed twice.
pub fn canonical_hash(minutiae: &[Minutia]) -> [u8; 32] {
    let mut sorted: Vec<&Minutia> = minutiae.iter().collect();
    sorted.sort_by_key(|m| canonical_key(m));
    let mut h = Sha256::new();
    for m in sorted {
        h.update(canonical_form(m));
    }
    h.finalize().into()
}

// ---------------------------------------------------------------------------------------------
// Matcher
// ---------------------------------------------------------------------------------------------

/// At most this many minutiae of a template take part in matching (an ISO view holds at most
/// 255, a chip slot 83); extra ones, in canonical order, are ignored.
pub const MAX_MINUTIAE: usize = 255;

/// One angle unit of the 6-byte form in radians (360/256 degrees).
const ANGLE_UNIT: f32 = 2.0 * PI / 256.0;

/// Number of nearest neighbours in a local structure (the neighbour bit masks assume 8).
const K: usize = 8;
const _: () = assert!(K == 8);

/// Matcher parameters (lengths in pixels at 500 dpi, angles in radians). Tuned on FVC2002
/// DB1_B..DB4_B; changing any of them invalidates calibration/fingerprint.json (see `MATCHER_ID`).
struct Params {
    /// Neighbours farther than this are not part of a local structure.
    r_max: f32,
    /// Local structures: tolerance on a neighbour's distance, its direction from the centre and
    /// its angle (both relative to the centre's angle).
    td: f32,
    tphi: f32,
    tdt: f32,
    /// Number of best local matches tried as alignments.
    seeds: usize,
    /// Global pairing after alignment: position and angle tolerance.
    tg: f32,
    ta: f32,
}

const PARAMS: Params = Params { r_max: 160.0, td: 8.0, tphi: 0.35, tdt: 0.45, seeds: 20, tg: 12.0, ta: 0.5 };

#[derive(Clone, Copy)]
struct Point {
    x: f32,
    /// Upward y (the negated image row), so that the counter-clockwise minutia angle is the
    /// ordinary mathematical angle of the (x, y) frame.
    y: f32,
    t: f32,
}

/// Distance marking an unused neighbour slot: never within any tolerance.
const NO_NEIGHBOUR: f32 = 1.0e9;

/// The local structure of one minutia: its nearest neighbours, nearest first.
#[derive(Clone, Copy)]
struct Local {
    /// Distance to the centre minutia (`NO_NEIGHBOUR` in unused slots).
    d: [f32; K],
    /// Direction of the centre->neighbour vector relative to the centre's angle.
    phi: [f32; K],
    /// Neighbour's angle relative to the centre's angle.
    dt: [f32; K],
    /// Index of the neighbour in the template.
    j: [u16; K],
    /// Used slots.
    count: u8,
}

impl Default for Local {
    fn default() -> Self {
        Local { d: [NO_NEIGHBOUR; K], phi: [0.0; K], dt: [0.0; K], j: [0; K], count: 0 }
    }
}

/// A minutiae template prepared for matching: points in an upward-y frame and one local
/// structure (the nearest neighbours, described invariantly to rotation and translation) per
/// minutia. Prepare once, compare many times.
#[derive(Clone)]
pub struct Template {
    points: Vec<Point>,
    local: Vec<Local>,
    /// (x, index) of every point, sorted by x: the pairing looks only at an x window.
    by_x: Vec<(f32, u16)>,
    hash: [u8; 32],
}

impl fmt::Debug for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Minutiae are biometric data: never printed.
        write!(f, "Template(REDACTED, {} minutiae)", self.points.len())
    }
}

/// Absolute difference of two angles given in 0..2PI, in 0..=PI.
#[inline]
fn ang_diff(a: f32, b: f32) -> f32 {
    let d = (a - b).abs();
    if d > PI {
        2.0 * PI - d
    } else {
        d
    }
}

/// Angle normalised to 0..2PI.
#[inline]
fn norm_angle(a: f32) -> f32 {
    let r = a.rem_euclid(2.0 * PI);
    if r.is_finite() {
        r
    } else {
        0.0
    }
}

impl Template {
    /// Prepare a template: canonical order, at most [`MAX_MINUTIAE`] minutiae, local structures.
    pub fn prepare(minutiae: &[Minutia]) -> Template {
        let p = &PARAMS;
        let hash = canonical_hash(minutiae);
        let mut sorted: Vec<Minutia> = minutiae.to_vec();
        sorted.sort_by_key(canonical_key);
        sorted.truncate(MAX_MINUTIAE);
        let points: Vec<Point> = sorted
            .iter()
            .map(|m| Point {
                x: f32::from(m.x & 0x3FFF),
                y: -f32::from(m.y & 0x3FFF),
                t: f32::from(m.angle) * ANGLE_UNIT,
            })
            .collect();
        let n = points.len();
        let mut local = vec![Local::default(); n];
        let mut cand: Vec<(f32, usize)> = Vec::with_capacity(n);
        for (i, pi) in points.iter().enumerate() {
            cand.clear();
            for (j, pj) in points.iter().enumerate() {
                if j == i {
                    continue;
                }
                let d = ((pj.x - pi.x).powi(2) + (pj.y - pi.y).powi(2)).sqrt();
                if d > 0.5 && d <= p.r_max {
                    cand.push((d, j));
                }
            }
            cand.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let Some(l) = local.get_mut(i) else { continue };
            for (slot, &(d, j)) in cand.iter().take(K).enumerate() {
                let Some(pj) = points.get(j) else { continue };
                let dir = (pj.y - pi.y).atan2(pj.x - pi.x);
                l.d[slot] = d;
                l.phi[slot] = norm_angle(dir - pi.t);
                l.dt[slot] = norm_angle(pj.t - pi.t);
                l.j[slot] = j as u16;
                l.count = slot as u8 + 1;
            }
        }
        let mut by_x: Vec<(f32, u16)> = points.iter().enumerate().map(|(i, q)| (q.x, i as u16)).collect();
        by_x.sort_by(|u, v| u.0.total_cmp(&v.0).then(u.1.cmp(&v.1)));
        Template { points, local, by_x, hash }
    }

    /// Number of minutiae taking part in matching.
    pub fn len(&self) -> usize {
        self.points.len()
    }

    /// True when the template holds no minutia.
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// [`canonical_hash`] of the minutiae the template was prepared from.
    pub fn canonical_hash(&self) -> [u8; 32] {
        self.hash
    }
}

/// Similarity of the local structures of minutia `i` of `a` and `k` of `b`, in 0..=1; the
/// one-to-one neighbour pairs found are appended to `pairs` when given.
fn local_similarity(
    a: &Template,
    i: usize,
    b: &Template,
    k: usize,
    p: &Params,
    mut pairs: Option<&mut Vec<(u16, u16)>>,
) -> f32 {
    let (Some(x), Some(y)) = (a.local.get(i), b.local.get(k)) else { return 0.0 };
    if x.count == 0 || y.count == 0 {
        return 0.0;
    }
    // All K x K neighbour pairings, branch-free; unused slots have an unreachable distance.
    // Rows of unused slots of `a` stay -1; unused slots of `b` fail the distance test.
    let mut sims = [-1f32; K * K];
    let (inv_d, inv_phi, inv_dt) = (1.0 / p.td, 1.0 / p.tphi, 1.0 / p.tdt);
    const TAU: f32 = 2.0 * PI;
    let mut mask = 0u64;
    for (pi, row) in sims.chunks_exact_mut(K).enumerate().take(usize::from(x.count)) {
        let (xd, xphi, xdt) = (x.d[pi], x.phi[pi], x.dt[pi]);
        let mut ok = [0u8; K];
        for ((out, flag), ((&yd, &yphi), &ydt)) in row.iter_mut().zip(ok.iter_mut()).zip(y.d.iter().zip(&y.phi).zip(&y.dt)) {
            let dd = (xd - yd).abs() * inv_d;
            let a1 = (xphi - yphi).abs();
            let dphi = a1.min(TAU - a1) * inv_phi;
            let a2 = (xdt - ydt).abs();
            let ddt = a2.min(TAU - a2) * inv_dt;
            let worst = dd.max(dphi).max(ddt);
            *out = 1.0 - (dd + dphi + ddt) * (1.0 / 3.0);
            *flag = u8::from(worst <= 1.0);
        }
        let bits = u64::from_le_bytes(ok);
        if bits != 0 {
            // One bit per slot: gather the low bit of each byte.
            let packed = (bits.wrapping_mul(0x0102_0408_1020_4080) >> 56) & 0xFF;
            mask |= packed << (pi * K);
        }
    }
    if mask == 0 {
        return 0.0;
    }
    // Greedy one-to-one: repeatedly take the best remaining pairing (ties: lowest index).
    let mut sum = 0.0;
    while mask != 0 {
        let (mut best, mut best_idx) = (-1.0f32, 0usize);
        let mut m = mask;
        while m != 0 {
            let idx = m.trailing_zeros() as usize;
            m &= m - 1;
            let s = sims.get(idx).copied().unwrap_or(-1.0);
            if s > best {
                best = s;
                best_idx = idx;
            }
        }
        let (pi, qi) = (best_idx / K, best_idx % K);
        sum += best;
        // Drop every pairing that uses neighbour pi of `a` or neighbour qi of `b`.
        let row = 0xFFu64 << (pi * K);
        let col = 0x0101_0101_0101_0101u64 << qi;
        mask &= !(row | col);
        if let Some(v) = pairs.as_deref_mut() {
            if let (Some(&ja), Some(&jb)) = (x.j.get(pi), y.j.get(qi)) {
                v.push((ja, jb));
            }
        }
    }
    sum / ((f32::from(x.count) + f32::from(y.count)) / 2.0)
}

/// A rigid transform (rotation `r` about the origin, then translation) of the upward-y frame.
#[derive(Clone, Copy)]
struct Transform {
    cos: f32,
    sin: f32,
    r: f32,
    tx: f32,
    ty: f32,
}

impl Transform {
    fn apply(&self, q: &Point) -> Point {
        Point {
            x: self.cos * q.x - self.sin * q.y + self.tx,
            y: self.sin * q.x + self.cos * q.y + self.ty,
            t: norm_angle(q.t + self.r),
        }
    }
}

/// Least-squares rigid alignment taking the `pairs` of `a` onto those of `b`.
fn estimate_transform(a: &Template, b: &Template, pairs: &[(u16, u16)]) -> Option<Transform> {
    let mut n = 0.0f32;
    let (mut cax, mut cay, mut cbx, mut cby) = (0.0, 0.0, 0.0, 0.0);
    let (mut ds, mut dc) = (0.0f32, 0.0f32);
    for &(i, k) in pairs {
        let (pa, pb) = (a.points.get(i as usize)?, b.points.get(k as usize)?);
        cax += pa.x;
        cay += pa.y;
        cbx += pb.x;
        cby += pb.y;
        ds += (pb.t - pa.t).sin();
        dc += (pb.t - pa.t).cos();
        n += 1.0;
    }
    if n == 0.0 {
        return None;
    }
    let (cax, cay, cbx, cby) = (cax / n, cay / n, cbx / n, cby / n);
    let r = if pairs.len() >= 3 {
        let (mut s, mut c) = (0.0f32, 0.0f32);
        for &(i, k) in pairs {
            let (pa, pb) = (a.points.get(i as usize)?, b.points.get(k as usize)?);
            let (ax, ay, bx, by) = (pa.x - cax, pa.y - cay, pb.x - cbx, pb.y - cby);
            s += ax * by - ay * bx;
            c += ax * bx + ay * by;
        }
        s.atan2(c)
    } else {
        ds.atan2(dc)
    };
    let (sin, cos) = r.sin_cos();
    Some(Transform { cos, sin, r, tx: cbx - (cos * cax - sin * cay), ty: cby - (sin * cax + cos * cay) })
}

/// Matching of `a` onto `b` in one direction; see [`match_score`].
fn directed_score(a: &Template, b: &Template, p: &Params) -> f64 {
    let (na, nb) = (a.points.len(), b.points.len());
    if na < 2 || nb < 2 {
        return 0.0;
    }
    // Local similarity of every minutia pair; the best `seeds` pairs are alignment candidates
    // (kept sorted, best first; ties keep the earlier pair).
    let mut seeds: Vec<(f32, usize, usize)> = Vec::with_capacity(p.seeds + 1);
    let mut ls = vec![0f32; na * nb];
    for i in 0..na {
        for k in 0..nb {
            let s = local_similarity(a, i, b, k, p, None);
            if let Some(v) = ls.get_mut(i * nb + k) {
                *v = s;
            }
            if s <= 0.0 {
                continue;
            }
            if seeds.len() < p.seeds || seeds.last().is_some_and(|l| s > l.0) {
                let pos = seeds.partition_point(|x| x.0 >= s);
                seeds.insert(pos, (s, i, k));
                seeds.truncate(p.seeds);
            }
        }
    }
    let mut best = 0.0f64;
    let mut pairs: Vec<(u16, u16)> = Vec::with_capacity(K + 1);
    let mut cand: Vec<(f32, u16, u16)> = Vec::with_capacity(na * 4);
    let mut used_a = vec![false; na];
    let mut used_b = vec![false; nb];
    let mut moved: Vec<Point> = Vec::with_capacity(na);
    let tg2 = p.tg * p.tg;
    for &(_, i, k) in &seeds {
        // Align on the seed pair and its matched neighbours.
        pairs.clear();
        pairs.push((i as u16, k as u16));
        local_similarity(a, i, b, k, p, Some(&mut pairs));
        let Some(tr) = estimate_transform(a, b, &pairs) else { continue };
        moved.clear();
        moved.extend(a.points.iter().map(|q| tr.apply(q)));
        // Every pairing within the tolerances, closest first, then greedy one-to-one.
        cand.clear();
        for (ia, qa) in moved.iter().enumerate() {
            // A window one pixel wider than the tolerance; the distance test decides.
            let first = b.by_x.partition_point(|e| e.0 < qa.x - p.tg - 1.0);
            for &(xb, ib) in b.by_x.get(first..).unwrap_or(&[]) {
                if xb > qa.x + p.tg + 1.0 {
                    break;
                }
                let Some(qb) = b.points.get(usize::from(ib)) else { continue };
                let (dx, dy) = (qa.x - qb.x, qa.y - qb.y);
                let d2 = dx * dx + dy * dy;
                if d2 > tg2 || ang_diff(qa.t, qb.t) > p.ta {
                    continue;
                }
                cand.push((d2, ia as u16, ib));
            }
        }
        cand.sort_unstable_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)).then(x.2.cmp(&y.2)));
        used_a.iter_mut().for_each(|u| *u = false);
        used_b.iter_mut().for_each(|u| *u = false);
        // Each pair counts by how well the two neighbourhoods agree: chance pairings of
        // unrelated minutiae weigh little.
        let mut weight = 0.0f64;
        for &(_, ia, ib) in &cand {
            let (ia, ib) = (usize::from(ia), usize::from(ib));
            match (used_a.get_mut(ia), used_b.get_mut(ib)) {
                (Some(ua), Some(ub)) if !*ua && !*ub => {
                    *ua = true;
                    *ub = true;
                }
                _ => continue,
            }
            weight += f64::from(ls.get(ia * nb + ib).copied().unwrap_or(0.0).min(1.0));
        }
        let s = weight / (na as f64 * nb as f64).sqrt();
        if s > best {
            best = s;
        }
    }
    best.clamp(0.0, 1.0)
}

/// Similarity of two prepared templates in 0..=1 (1 for a template against itself when every
/// minutia has a neighbour within reach).
///
/// Local structures (each minutia's 8 nearest neighbours, described by distance, direction and
/// relative angle, invariant to rotation and translation) are compared for every minutia pair;
/// the 20 best pairs each propose an alignment (least-squares fit of the pair and its matched
/// neighbours). For each alignment, the minutiae of one template are moved onto the other and
/// paired greedily one-to-one (closest first, within 12 px and 0.5 rad); each pair weighs the
/// local similarity of its two minutiae. Score of the best alignment: weight / sqrt(n_a · n_b)
/// (the square root of the usual pairs² / (n_a · n_b), for a readable scale).
/// Exactly symmetric: the template with the smaller canonical hash is always the one moved.
pub fn match_score(a: &Template, b: &Template) -> f64 {
    if a.hash <= b.hash {
        directed_score(a, b, &PARAMS)
    } else {
        directed_score(b, a, &PARAMS)
    }
}

// ---------------------------------------------------------------------------------------------
// Thresholds and decision
// ---------------------------------------------------------------------------------------------

/// The verdict threshold and the borderline band around it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FingerprintThresholds {
    /// A score at or above this is a match.
    pub threshold: f64,
    /// Scores in `borderline_low..borderline_high` are flagged borderline.
    pub borderline_low: f64,
    pub borderline_high: f64,
}

/// Used only if the embedded calibration cannot be read (a test guards against it): fails
/// closed, nothing short of a perfect score matches.
const FALLBACK_THRESHOLDS: FingerprintThresholds =
    FingerprintThresholds { threshold: 1.0, borderline_low: 1.0, borderline_high: 1.0 };

const CALIBRATION_JSON: &str = include_str!("../../calibration/fingerprint.json");

#[derive(Deserialize)]
struct ThresholdsOnly {
    thresholds: FingerprintThresholds,
}

/// The thresholds of the committed calibration (calibration/fingerprint.json).
pub fn thresholds() -> FingerprintThresholds {
    static CACHE: std::sync::OnceLock<FingerprintThresholds> = std::sync::OnceLock::new();
    *CACHE.get_or_init(|| {
        serde_json::from_str::<ThresholdsOnly>(CALIBRATION_JSON)
            .map(|c| c.thresholds)
            .unwrap_or(FALLBACK_THRESHOLDS)
    })
}

/// Outcome of a fingerprint comparison against the threshold; `borderline` is set when the
/// score lies in the grey zone (worth a human look whichever side it falls).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FingerDecision {
    Match { borderline: bool },
    NoMatch { borderline: bool },
}

impl FingerDecision {
    pub fn is_match(self) -> bool {
        matches!(self, FingerDecision::Match { .. })
    }
    pub fn is_borderline(self) -> bool {
        match self {
            FingerDecision::Match { borderline } | FingerDecision::NoMatch { borderline } => borderline,
        }
    }
}

/// Decide a matcher score against the committed thresholds.
pub fn decide(score: f64) -> FingerDecision {
    decide_with(score, &thresholds())
}

/// Decide a matcher score against given thresholds. A NaN score is no match.
pub fn decide_with(score: f64, t: &FingerprintThresholds) -> FingerDecision {
    let borderline = score >= t.borderline_low && score < t.borderline_high;
    if score >= t.threshold {
        FingerDecision::Match { borderline }
    } else {
        FingerDecision::NoMatch { borderline }
    }
}

/// Result of comparing two minutiae sets the way cause 2 requires.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FingerComparison {
    /// Same canonical minutiae (SHA-256 of the canonical set): no matcher needed.
    pub identical: bool,
    /// Matcher score (1.0 when identical).
    pub score: f64,
    pub decision: FingerDecision,
}

/// Compare two minutiae sets: identical canonical sets match outright, else the matcher score
/// is decided against the committed threshold. Finger codes are the caller's business.
pub fn compare(a: &[Minutia], b: &[Minutia]) -> FingerComparison {
    if canonical_hash(a) == canonical_hash(b) {
        return FingerComparison { identical: true, score: 1.0, decision: FingerDecision::Match { borderline: false } };
    }
    let score = match_score(&Template::prepare(a), &Template::prepare(b));
    FingerComparison { identical: false, score, decision: decide(score) }
}

// ---------------------------------------------------------------------------------------------
// Calibration
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

/// The chip-slot case: every template against its own re-encoding (jitter, re-ordering,
/// truncation), and each re-encoding against every template of another finger.
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
    pub threshold_rule: String,
    pub borderline_rule: String,
    pub thresholds: FingerprintThresholds,
    /// Error rates of the impostor and genuine pairs at the verdict threshold.
    pub verdict: FmrPoint,
    pub reencoded: ReencodedStats,
}

/// Identifier of the matcher algorithm and parameters whose scores a calibration holds.
pub const MATCHER_ID: &str = "nn8-local-align20-lsweighted-v2";

const FMR_TARGETS: [f64; 3] = [1e-2, 1e-3, 1e-4];
const REENCODE_SEED: u64 = 0x1dc4_ec0f_19f2;

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

/// Score every genuine pair (same finger id, e.g. "DB1_B/101") and every impostor pair
/// (different finger ids) of `templates`, and derive the error rates, the verdict threshold and
/// its borderline band, and the chip re-encoding check. Deterministic for a given input.
pub fn calibrate(templates: &[(String, MinutiaeRecord)]) -> FingerprintCalibration {
    use rand::SeedableRng;
    let prepared: Vec<Template> = templates.iter().map(|(_, r)| Template::prepare(&r.minutiae)).collect();
    let n = templates.len();
    let mut genuine = Vec::new();
    let mut impostor = Vec::new();
    // Per group: (genuine, impostor) scores of pairs within the group.
    let mut groups: Vec<(String, usize, Vec<f64>, Vec<f64>)> = Vec::new();
    for (id, _) in templates {
        let g = group_of(id);
        match groups.iter_mut().find(|x| x.0 == g) {
            Some(x) => x.1 += 1,
            None => groups.push((g.to_string(), 1, Vec::new(), Vec::new())),
        }
    }
    let items: Vec<(&str, &str, &Template)> =
        templates.iter().zip(&prepared).map(|((id, _), t)| (id.as_str(), group_of(id), t)).collect();
    for (i, &(ida, ga, ta)) in items.iter().enumerate() {
        let gi = groups.iter().position(|x| x.0 == ga);
        for &(idb, gb, tb) in items.iter().skip(i + 1) {
            let s = match_score(ta, tb);
            let group = gi.and_then(|gi| groups.get_mut(gi));
            if ida == idb {
                genuine.push(s);
                if let Some(g) = group {
                    g.2.push(s);
                }
            } else {
                impostor.push(s);
                if let (Some(g), true) = (group, ga == gb) {
                    g.3.push(s);
                }
            }
        }
    }
    let desc = |v: &[f64]| {
        let mut d = v.to_vec();
        d.sort_by(|a, b| b.total_cmp(a));
        d
    };
    let imp_desc = desc(&impostor);
    let (eer, eer_threshold) = equal_error_rate(&genuine, &impostor);
    let operating_points: Vec<FmrPoint> =
        FMR_TARGETS.iter().map(|&t| operating_point(&genuine, &imp_desc, t)).collect();
    let group_stats = groups
        .iter()
        .map(|(g, count, gen, imp)| {
            let id = desc(imp);
            GroupStats {
                group: g.clone(),
                templates: *count,
                genuine_pairs: gen.len(),
                impostor_pairs: imp.len(),
                eer: equal_error_rate(gen, imp).0,
                operating_points: FMR_TARGETS.iter().map(|&t| operating_point(gen, &id, t)).collect(),
            }
        })
        .collect();
    // The chip-slot case: scores first, decisions once the threshold is known.
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(REENCODE_SEED);
    let mut own_scores = Vec::with_capacity(n);
    let mut other_scores = Vec::new();
    for ((id, rec), own) in templates.iter().zip(&prepared) {
        let chip = Template::prepare(&chip_reencode(&rec.minutiae, &mut rng));
        own_scores.push(match_score(own, &chip));
        for &(other, _, t) in &items {
            if other != id {
                other_scores.push(match_score(t, &chip));
            }
        }
    }

    // Verdict threshold: above every impostor score seen (zero false matches), which meets
    // FMR <= 1e-4 with 95 % confidence once there are 3e4 impostor pairs (rule of three); see
    // `threshold_rule`. Borderline band: from the FMR 1e-3 point, symmetric about the threshold.
    let impostor_max = impostor.iter().chain(&other_scores).copied().fold(0.0, f64::max);
    let threshold = step_above(impostor_max).max(threshold_for_fmr(&imp_desc, 1e-4)).min(1.0);
    let low = threshold_for_fmr(&imp_desc, 1e-3).min(threshold);
    let high = (threshold + (threshold - low)).min(1.0).max(threshold);
    let thresholds = FingerprintThresholds { threshold, borderline_low: low, borderline_high: high };
    let at = |scores: &[f64], pass: bool| scores.iter().filter(|&&s| decide_with(s, &thresholds).is_match() == pass).count();
    let verdict = FmrPoint {
        fmr_target: 1e-4,
        threshold,
        false_matches: at(&impostor, true),
        fmr: if impostor.is_empty() { 0.0 } else { at(&impostor, true) as f64 / impostor.len() as f64 },
        fnmr: if genuine.is_empty() { 0.0 } else { at(&genuine, false) as f64 / genuine.len() as f64 },
    };
    let re = ReencodedStats {
        seed: REENCODE_SEED,
        description: "each template re-encoded as a chip slot (shuffled, +-1 px, +-1 angle unit, at most 83, \
                      up to 5% (max 3) dropped) vs itself, and vs every template of another finger"
            .to_string(),
        templates: n,
        matched: at(&own_scores, true),
        not_matched: at(&own_scores, false),
        min_score: own_scores.iter().copied().fold(1.0, f64::min),
        other_finger_comparisons: other_scores.len(),
        other_finger_matches: at(&other_scores, true),
        other_finger_max_score: other_scores.iter().copied().fold(0.0, f64::max),
    };
    let mut fingers: Vec<&str> = templates.iter().map(|(id, _)| id.as_str()).collect();
    fingers.sort_unstable();
    fingers.dedup();
    FingerprintCalibration {
        matcher: MATCHER_ID.to_string(),
        templates: n,
        fingers: fingers.len(),
        genuine_pairs: genuine.len(),
        impostor_pairs: impostor.len(),
        genuine: distribution(&genuine),
        impostor: distribution(&impostor),
        eer,
        eer_threshold,
        operating_points,
        groups: group_stats,
        threshold_rule: "operating points: threshold = smallest multiple of 1e-4 strictly above the (k+1)-th \
                         highest impostor score, k = floor(FMR target x impostor pairs) (k = 0, just above the \
                         impostor maximum, when there are fewer than 1/target pairs). Verdict threshold: smallest \
                         multiple of 1e-4 strictly above every impostor score seen (the impostor pairs and the chip \
                         re-encodings against other fingers), and not below the FMR 1e-4 point: zero false \
                         matches, i.e. FMR <= 1e-4 at 95% confidence (rule of three) with >= 30000 impostor pairs"
            .to_string(),
        borderline_rule: "borderline_low = the threshold for FMR 1e-3; borderline_high = threshold + \
                          (threshold - borderline_low), at most 1"
            .to_string(),
        thresholds,
        verdict,
        reencoded: re,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::biometrics::MinutiaKind;
    use proptest::prelude::*;
    use rand::SeedableRng;

    const FVC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/fingerprints/fvc2002");
    const PASS_CASE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/samples/pass-case");

    fn load(db: &str, finger: u32, impression: u32) -> MinutiaeRecord {
        let path = format!("{FVC}/{db}/{finger}_{impression}.iso");
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        MinutiaeRecord::parse(&bytes).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// The fixture subset: DB1_B and DB2_B, fingers 101 and 102, impressions 1..4.
    fn subset() -> Vec<(String, MinutiaeRecord)> {
        let mut v = Vec::new();
        for db in ["DB1_B", "DB2_B"] {
            for finger in [101, 102] {
                for k in 1..=4 {
                    v.push((format!("{db}/{finger}"), load(db, finger, k)));
                }
            }
        }
        v
    }

    fn m(kind: MinutiaKind, x: u16, y: u16, angle: u8, quality: u8) -> Minutia {
        Minutia { kind, x, y, angle, quality }
    }

    /// The minutiae of the `n`-th (1-based) fingerprint slot of a DG3 image: 512 bytes after the
    /// n-th 5F2E 820200 header; byte 7 = count, minutiae from byte 8.
    fn chip_slot(dg3: &[u8], n: usize) -> Vec<Minutia> {
        let starts: Vec<usize> =
            dg3.windows(5).enumerate().filter(|(_, w)| *w == [0x5F, 0x2E, 0x82, 0x02, 0x00]).map(|(i, _)| i + 5).collect();
        let slot = &dg3[starts[n - 1]..starts[n - 1] + 512];
        let count = slot[7] as usize;
        (0..count).map(|i| Minutia::from_bytes(slot[8 + 6 * i..14 + 6 * i].try_into().unwrap())).collect()
    }

    /// Rotate a print by `deg` degrees counter-clockwise as seen on screen (y down) about
    /// (150, 200), then shift by (dx, dy) pixels; minutiae leaving the first quadrant are dropped.
    /// With `wrong_handedness` the angles turn the other way (the classic bug).
    fn rotate(ms: &[Minutia], deg: f64, dx: f64, dy: f64, wrong_handedness: bool) -> Vec<Minutia> {
        let (s, c) = deg.to_radians().sin_cos();
        let (cx, cy) = (150.0, 200.0);
        let turn = (deg * 256.0 / 360.0).round() as i32;
        ms.iter()
            .filter_map(|q| {
                let (x, up) = (f64::from(q.x) - cx, cy - f64::from(q.y));
                let (x2, up2) = (c * x - s * up, s * x + c * up);
                let (nx, ny) = ((cx + x2 + dx).round(), (cy - up2 + dy).round());
                if !(0.0..16000.0).contains(&nx) || !(0.0..16000.0).contains(&ny) {
                    return None;
                }
                let t = if wrong_handedness { -turn } else { turn };
                Some(Minutia { x: nx as u16, y: ny as u16, angle: (i32::from(q.angle) + t).rem_euclid(256) as u8, ..*q })
            })
            .collect()
    }

    fn score(a: &[Minutia], b: &[Minutia]) -> f64 {
        match_score(&Template::prepare(a), &Template::prepare(b))
    }

    // --- canonical hash -------------------------------------------------------------------

    #[test]
    fn canonical_hash_of_empty_set_is_sha256_of_nothing() {
        assert_eq!(hex::encode(canonical_hash(&[])), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }

    #[test]
    fn canonical_hash_encodes_sorted_six_byte_forms_without_quality() {
        let a = m(MinutiaKind::Bifurcation, 300, 5, 17, 80);
        let b = m(MinutiaKind::RidgeEnding, 12, 400, 200, 40);
        // b sorts first (x 12 < 300); kinds in the two high bits; quality bytes zero.
        let expected = [0x40, 12, 0x01, 0x90, 200, 0, 0x81, 0x2C, 0x00, 0x05, 17, 0];
        assert_eq!(canonical_hash(&[a, b]), <[u8; 32]>::from(Sha256::digest(expected)));
    }

    #[test]
    fn canonical_hash_ignores_order_and_quality_but_not_content() {
        let rec = load("DB1_B", 101, 1);
        let base = canonical_hash(&rec.minutiae);
        let mut shuffled = rec.minutiae.clone();
        shuffled.reverse();
        shuffled.rotate_left(3);
        for (i, q) in shuffled.iter_mut().enumerate() {
            q.quality = (i * 7 % 101) as u8;
        }
        assert_eq!(canonical_hash(&shuffled), base);
        let mut moved = rec.minutiae.clone();
        moved[4].x += 1;
        assert_ne!(canonical_hash(&moved), base);
        let mut turned = rec.minutiae.clone();
        turned[4].angle = turned[4].angle.wrapping_add(1);
        assert_ne!(canonical_hash(&turned), base);
        let mut retyped = rec.minutiae.clone();
        retyped[4].kind = if retyped[4].kind == MinutiaKind::Bifurcation { MinutiaKind::RidgeEnding } else { MinutiaKind::Bifurcation };
        assert_ne!(canonical_hash(&retyped), base);
        assert_ne!(canonical_hash(&rec.minutiae[1..]), base);
        assert_eq!(Template::prepare(&shuffled).canonical_hash(), base);
    }

    // --- matcher ---------------------------------------------------------------------------

    #[test]
    fn genuine_pairs_score_higher_than_impostor_pairs_on_the_fixture_subset() {
        let set = subset();
        let t: Vec<Template> = set.iter().map(|(_, r)| Template::prepare(&r.minutiae)).collect();
        let (mut gen, mut imp) = (Vec::new(), Vec::new());
        for i in 0..t.len() {
            for j in i + 1..t.len() {
                let s = match_score(&t[i], &t[j]);
                if set[i].0 == set[j].0 { gen.push(s) } else { imp.push(s) }
            }
        }
        assert_eq!((gen.len(), imp.len()), (24, 96));
        let max_imp = imp.iter().copied().fold(0.0, f64::max);
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        gen.sort_by(|a, b| a.total_cmp(b));
        // Every impostor is rejected; most genuine pairs beat the best impostor by far.
        assert!(imp.iter().all(|&s| !decide(s).is_match()), "an impostor pair matched (max {max_imp})");
        assert!(gen[gen.len() / 2] > 3.0 * max_imp, "median genuine {} vs max impostor {max_imp}", gen[gen.len() / 2]);
        assert!(mean(&gen) > 4.0 * mean(&imp), "means {} {}", mean(&gen), mean(&imp));
        let above = gen.iter().filter(|&&s| s > max_imp).count();
        assert!(above >= 21, "only {above} of 24 genuine pairs above the best impostor {max_imp}");
    }

    #[test]
    fn score_is_exactly_symmetric() {
        let set = subset();
        let t: Vec<Template> = set.iter().map(|(_, r)| Template::prepare(&r.minutiae)).collect();
        for a in &t {
            for b in &t {
                assert_eq!(match_score(a, b).to_bits(), match_score(b, a).to_bits());
            }
        }
    }

    #[test]
    fn template_against_itself_scores_one() {
        for (_, r) in subset() {
            let t = Template::prepare(&r.minutiae);
            assert_eq!(match_score(&t, &t), 1.0);
            // Another order and other qualities: the same template.
            let mut other = r.minutiae.clone();
            other.reverse();
            other.iter_mut().for_each(|q| q.quality = 60);
            assert_eq!(match_score(&t, &Template::prepare(&other)), 1.0);
        }
    }

    #[test]
    fn rotated_and_translated_print_still_matches() {
        for (db, f) in [("DB1_B", 101), ("DB2_B", 102)] {
            let rec = load(db, f, 1);
            for (deg, dx, dy) in [(20.0, 15.0, -10.0), (-20.0, -12.0, 8.0), (30.0, 5.0, 5.0), (-30.0, 0.0, -20.0)] {
                let rotated = rotate(&rec.minutiae, deg, dx, dy, false);
                let s = score(&rec.minutiae, &rotated);
                assert!(decide(s).is_match(), "{db}/{f} rotated {deg} deg: score {s}");
                assert!(s > 0.6, "{db}/{f} rotated {deg} deg: score {s}");
            }
        }
    }

    #[test]
    fn handedness_matters() {
        // Turning the angles against the positions (wrong handedness) must not look the same.
        let rec = load("DB1_B", 102, 2);
        let right = score(&rec.minutiae, &rotate(&rec.minutiae, 20.0, 0.0, 0.0, false));
        let wrong = score(&rec.minutiae, &rotate(&rec.minutiae, 20.0, 0.0, 0.0, true));
        assert!(right > 0.6 && wrong < 0.5 * right, "right {right}, wrong {wrong}");
    }

    #[test]
    fn jittered_chip_reencoding_matches_and_other_fingers_do_not() {
        let set = subset();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for (id, r) in &set {
            let chip = chip_reencode(&r.minutiae, &mut rng);
            assert_ne!(canonical_hash(&chip), canonical_hash(&r.minutiae));
            let s = score(&r.minutiae, &chip);
            assert!(s > 0.7 && decide(s).is_match() && !decide(s).is_borderline(), "{id}: {s}");
            for (other, o) in &set {
                if other != id {
                    assert!(!decide(score(&o.minutiae, &chip)).is_match(), "{id} chip matched {other}");
                }
            }
        }
    }

    #[test]
    fn chip_reencoding_is_jittered_by_at_most_one() {
        let r = load("DB2_B", 101, 3);
        let chip = chip_reencode(&r.minutiae, &mut rand_chacha::ChaCha8Rng::seed_from_u64(1));
        assert!(chip.len() <= r.minutiae.len() && chip.len() + 3 >= r.minutiae.len().min(83));
        for c in &chip {
            let near = r.minutiae.iter().any(|o| {
                o.kind == c.kind
                    && o.x.abs_diff(c.x) <= 1
                    && o.y.abs_diff(c.y) <= 1
                    && (o.angle.wrapping_sub(c.angle) <= 1 || c.angle.wrapping_sub(o.angle) <= 1)
            });
            assert!(near);
        }
    }

    #[test]
    fn pass_case_chip_slots_match_their_acceptance_fingers() {
        let dir = std::fs::read_dir(format!("{PASS_CASE}/acceptance")).unwrap().next().unwrap().unwrap().path();
        let fp1 = MinutiaeRecord::parse(&std::fs::read(dir.join("fp1.iso")).unwrap()).unwrap();
        let fp2 = MinutiaeRecord::parse(&std::fs::read(dir.join("fp2.iso")).unwrap()).unwrap();
        let dg3 = std::fs::read(format!("{PASS_CASE}/chip/dg3.bin")).unwrap();
        let (s1, s2) = (chip_slot(&dg3, 1), chip_slot(&dg3, 2));
        // Re-encoded with jitter: not identical, but far above the threshold.
        assert_ne!(canonical_hash(&s1), canonical_hash(&fp1.minutiae));
        let th = thresholds().threshold;
        for (acc, slot) in [(&fp1, &s1), (&fp2, &s2)] {
            let c = compare(&acc.minutiae, slot);
            assert!(!c.identical);
            assert!(c.decision.is_match() && !c.decision.is_borderline(), "score {}", c.score);
            assert!(c.score > 0.7 && c.score > 3.0 * th, "score {} threshold {th}", c.score);
        }
        // Swapped slots: the other finger of the same person does not match.
        assert!(!compare(&fp1.minutiae, &s2).decision.is_match());
        assert!(!compare(&fp2.minutiae, &s1).decision.is_match());
    }

    #[test]
    fn identical_sets_compare_as_identical() {
        let r = load("DB1_B", 102, 3);
        let mut other = r.minutiae.clone();
        other.swap(0, 5);
        let c = compare(&r.minutiae, &other);
        assert!(c.identical && c.score == 1.0 && c.decision.is_match());
    }

    #[test]
    fn tiny_templates_score_zero_without_panicking() {
        let one = [m(MinutiaKind::RidgeEnding, 100, 100, 10, 0)];
        let rec = load("DB1_B", 101, 1);
        for (a, b) in [(&[][..], &[][..]), (&one[..], &one[..]), (&[][..], &rec.minutiae[..]), (&one[..], &rec.minutiae[..])] {
            assert_eq!(score(a, b), 0.0);
            assert_eq!(score(b, a), 0.0);
        }
        assert!(Template::prepare(&[]).is_empty());
        assert!(!compare(&[], &rec.minutiae).decision.is_match());
    }

    #[test]
    fn debug_output_is_redacted() {
        let t = Template::prepare(&load("DB1_B", 101, 1).minutiae);
        let s = format!("{t:?}");
        assert!(s.contains("REDACTED") && !s.contains("x:"));
    }

    fn arb_minutia() -> impl Strategy<Value = Minutia> {
        (0u8..4, 0u16..0x4000, 0u16..0x4000, any::<u8>(), any::<u8>())
            .prop_map(|(k, x, y, angle, quality)| Minutia { kind: MinutiaKind::from_bits(k), x, y, angle, quality })
    }

    fn arb_print() -> impl Strategy<Value = Vec<Minutia>> {
        prop_oneof![
            prop::collection::vec(arb_minutia(), 0..90),
            // Dense prints in a small window, with duplicates likely.
            prop::collection::vec(
                (0u8..4, 0u16..40, 0u16..40, any::<u8>()).prop_map(|(k, x, y, a)| Minutia {
                    kind: MinutiaKind::from_bits(k),
                    x,
                    y,
                    angle: a,
                    quality: 0
                }),
                0..60
            ),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]
        #[test]
        fn matcher_never_panics_and_stays_in_range(a in arb_print(), b in arb_print()) {
            let (ta, tb) = (Template::prepare(&a), Template::prepare(&b));
            let s = match_score(&ta, &tb);
            prop_assert!((0.0..=1.0).contains(&s));
            prop_assert_eq!(s.to_bits(), match_score(&tb, &ta).to_bits());
            let c = compare(&a, &b);
            prop_assert!((0.0..=1.0).contains(&c.score));
        }
    }

    #[test]
    fn oversized_template_is_capped() {
        let many: Vec<Minutia> =
            (0..400u16).map(|i| m(MinutiaKind::RidgeEnding, (i % 20) * 15, (i / 20) * 15, (i % 256) as u8, 0)).collect();
        let t = Template::prepare(&many);
        assert_eq!(t.len(), MAX_MINUTIAE);
        assert_eq!(match_score(&t, &t), 1.0);
    }

    // --- thresholds and decision ------------------------------------------------------------

    #[test]
    fn committed_calibration_is_read_and_belongs_to_this_matcher() {
        let cal: FingerprintCalibration = serde_json::from_str(CALIBRATION_JSON).expect("calibration/fingerprint.json");
        assert_eq!(cal.matcher, MATCHER_ID, "calibration/fingerprint.json was made by another matcher: recalibrate");
        let t = thresholds();
        assert_eq!(t, cal.thresholds);
        assert_ne!(t, FALLBACK_THRESHOLDS);
        assert!(0.0 < t.borderline_low && t.borderline_low <= t.threshold);
        assert!(t.threshold <= t.borderline_high && t.borderline_high < 1.0);
        // The threshold is above every impostor score but the allowed ones.
        assert!(t.threshold > cal.impostor.p99);
        assert_eq!(cal.reencoded.not_matched, 0);
        assert_eq!(cal.reencoded.other_finger_matches, 0);
    }

    #[test]
    fn decide_uses_threshold_and_band() {
        let t = FingerprintThresholds { threshold: 0.2, borderline_low: 0.15, borderline_high: 0.25 };
        assert_eq!(decide_with(0.1, &t), FingerDecision::NoMatch { borderline: false });
        assert_eq!(decide_with(0.15, &t), FingerDecision::NoMatch { borderline: true });
        assert_eq!(decide_with(0.2, &t), FingerDecision::Match { borderline: true });
        assert_eq!(decide_with(0.25, &t), FingerDecision::Match { borderline: false });
        assert_eq!(decide_with(f64::NAN, &t), FingerDecision::NoMatch { borderline: false });
        let th = thresholds().threshold;
        assert!(decide(th).is_match() && !decide(th - 1e-9).is_match() && decide(1.0).is_match());
    }

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
        let mut set = Vec::new();
        for db in ["DB1_B", "DB2_B", "DB3_B", "DB4_B"] {
            for finger in 101..=110 {
                for k in 1..=8 {
                    set.push((format!("{db}/{finger}"), load(db, finger, k)));
                }
            }
        }
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
}

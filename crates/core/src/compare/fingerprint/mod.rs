//! Fingerprint comparison for cause 2 (causes.md): the canonical minutiae hash that proves a chip
//! slot holds exactly the acceptance minutiae, prepared templates and the minutiae matcher
//! (Minutia Cylinder-Code MCC16b with LSS-R, in [`mcc`]) for everything else, 1:N search, the two
//! calibrated thresholds — the card threshold (a chip slot against the acceptance capture it is
//! re-encoded from) and the two-impressions threshold (two captures of a finger), see
//! [`FingerCase`] — loaded from calibration/fingerprint.json and, in [`calibration`], the
//! reproducible calibration and evaluation that produce and check them. Pure computation: no
//! I/O, never panics.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::biometrics::Minutia;

pub mod calibration;
mod mcc;

pub use calibration::{
    calibrate, card_thresholds, chip_reencode, compact_reencode, evaluate, CardCalibration, CardCheck, CardEval, Evaluation,
    FingerprintCalibration, FmrPoint, GroupStats, HeldOutFold, HeldOutTotal, Margins, OtherStats, OwnStats, ReencodedStats,
    ScoreDistribution, TwoImpressionsCalibration, TwoImpressionsEval, MATCHER_ID,
};

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

// ---------------------------------------------------------------------------------------------
// Templates and the matcher
// ---------------------------------------------------------------------------------------------

/// At most this many minutiae of a template take part in matching (an ISO view holds at most
/// 255, a chip slot 83); extra ones, in canonical order, are ignored.
pub const MAX_MINUTIAE: usize = 255;

/// A minutiae template prepared for matching: one MCC16b cylinder per minutia that has enough
/// neighbours and valid cells (see [`mcc`]), and the distances and radial angles between their
/// minutiae. Prepare once (at load), compare many times.
#[derive(Clone)]
pub struct Template {
    cylinders: mcc::Cylinders,
    minutiae: usize,
    hash: [u8; 32],
}

impl fmt::Debug for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Minutiae and cylinders are biometric data: never printed.
        write!(f, "Template(REDACTED, {} minutiae, {} cylinders)", self.minutiae, self.cylinders.len())
    }
}

impl Template {
    /// Prepare a template: canonical order, at most [`MAX_MINUTIAE`] minutiae, cylinders.
    /// Minutia quality (0 = not reported) plays no part.
    pub fn prepare(minutiae: &[Minutia]) -> Template {
        let hash = canonical_hash(minutiae);
        let mut sorted: Vec<Minutia> = minutiae.to_vec();
        sorted.sort_by_key(canonical_key);
        sorted.truncate(MAX_MINUTIAE);
        Template { cylinders: mcc::Cylinders::build(&sorted), minutiae: sorted.len(), hash }
    }

    /// Number of minutiae taking part in matching.
    pub fn len(&self) -> usize {
        self.minutiae
    }

    /// True when the template holds no minutia.
    pub fn is_empty(&self) -> bool {
        self.minutiae == 0
    }

    /// Number of valid cylinders (minutiae with at least 2 neighbours within reach and 75 % of
    /// their cells inside the print): only these take part in matching.
    pub fn cylinders(&self) -> usize {
        self.cylinders.len()
    }

    /// [`canonical_hash`] of the minutiae the template was prepared from.
    pub fn canonical_hash(&self) -> [u8; 32] {
        self.hash
    }
}

/// Similarity of two prepared templates in 0..=1 (higher = more alike; 1 for a template against
/// itself (same canonical minutiae) when it has a valid cylinder, 0 when no cylinder of one is
/// comparable with one of the other).
///
/// MCC16b with LSS-R (Cappelli, Ferrara, Maltoni 2010): every pair of cylinders whose minutia
/// directions differ by at most 90 degrees and which share at least 60 % of their cells is
/// scored 1 - |a XOR b| / (|a| + |b|) (norms: square roots of popcounts, over the shared cells);
/// the min(n_A, n_B) best pairs are relaxed five times by how well their distances, relative
/// directions and radial angles agree with the other pairs; the score is the mean relaxed
/// similarity of the n_P (4..12, by template size) pairs that kept most of their similarity.
/// Exactly symmetric: the template with the smaller canonical hash is always taken first.
pub fn match_score(a: &Template, b: &Template) -> f64 {
    if a.hash == b.hash && !a.cylinders.is_empty() {
        // The same canonical minutiae: the same finger, whatever the relaxation makes of it.
        return 1.0;
    }
    if a.hash <= b.hash {
        mcc::score(&a.cylinders, &b.cylinders)
    } else {
        mcc::score(&b.cylinders, &a.cylinders)
    }
}

/// One candidate of a 1:N search.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SearchHit {
    /// Position of the template in the gallery.
    pub index: usize,
    pub score: f64,
    pub decision: FingerDecision,
}

/// 1:N search: the probe against every template of the gallery; the `top` best candidates, best
/// first (equal scores: lower index first), each decided against the committed threshold of
/// `case`.
pub fn search<'a>(probe: &Template, gallery: impl IntoIterator<Item = &'a Template>, top: usize, case: FingerCase) -> Vec<SearchHit> {
    let th = thresholds(case);
    let mut hits: Vec<SearchHit> = gallery
        .into_iter()
        .enumerate()
        .map(|(index, t)| {
            let score = if t.hash == probe.hash { 1.0 } else { match_score(probe, t) };
            SearchHit { index, score, decision: decide_with(score, &th) }
        })
        .collect();
    let order = |a: &SearchHit, b: &SearchHit| b.score.total_cmp(&a.score).then(a.index.cmp(&b.index));
    if top < hits.len() {
        if top == 0 {
            return Vec::new();
        }
        hits.select_nth_unstable_by(top - 1, order);
        hits.truncate(top);
    }
    hits.sort_by(order);
    hits
}

// ---------------------------------------------------------------------------------------------
// Thresholds and decision
// ---------------------------------------------------------------------------------------------

/// Which question a fingerprint comparison answers, and so which calibrated threshold decides
/// it (README, "Calibration", "Fingerprints").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FingerCase {
    /// Is this chip slot the acceptance capture re-encoded? On a card the slot must be written
    /// from the acceptance template, so own scores are high (re-encoding jitter only) and the
    /// threshold sits in the wide gap above every other finger. Used by the verification (chip
    /// slot against acceptance finger) and by the QC batch's "carries".
    Card,
    /// Are two captures (impressions) of a finger the same finger? The threshold sits just above
    /// every other-finger score of the calibration data (FMR <= 1e-4).
    TwoImpressions,
}

impl FingerCase {
    /// Name as in the calibration JSON and `--json` output.
    pub fn name(self) -> &'static str {
        match self {
            FingerCase::Card => "card",
            FingerCase::TwoImpressions => "two_impressions",
        }
    }
}

/// A threshold and the borderline band around it.
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

const CALIBRATION_JSON: &str = include_str!("../../../../../calibration/fingerprint.json");

#[derive(Deserialize)]
struct ThresholdsOnly {
    thresholds: FingerprintThresholds,
}

#[derive(Deserialize)]
struct CommittedThresholds {
    two_impressions: ThresholdsOnly,
    card: ThresholdsOnly,
}

/// The thresholds of `case` in the committed calibration (calibration/fingerprint.json).
pub fn thresholds(case: FingerCase) -> FingerprintThresholds {
    static CACHE: std::sync::OnceLock<(FingerprintThresholds, FingerprintThresholds)> = std::sync::OnceLock::new();
    let (two, card) = *CACHE.get_or_init(|| {
        serde_json::from_str::<CommittedThresholds>(CALIBRATION_JSON)
            .map(|c| (c.two_impressions.thresholds, c.card.thresholds))
            .unwrap_or((FALLBACK_THRESHOLDS, FALLBACK_THRESHOLDS))
    });
    match case {
        FingerCase::Card => card,
        FingerCase::TwoImpressions => two,
    }
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

/// Decide a matcher score against the committed thresholds of `case`.
pub fn decide(case: FingerCase, score: f64) -> FingerDecision {
    decide_with(score, &thresholds(case))
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
/// is decided against the committed threshold of `case`. Finger codes are the caller's business.
pub fn compare(a: &[Minutia], b: &[Minutia], case: FingerCase) -> FingerComparison {
    if canonical_hash(a) == canonical_hash(b) {
        return FingerComparison { identical: true, score: 1.0, decision: FingerDecision::Match { borderline: false } };
    }
    let score = match_score(&Template::prepare(a), &Template::prepare(b));
    FingerComparison { identical: false, score, decision: decide(case, score) }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::biometrics::{MinutiaKind, MinutiaeRecord};
    use proptest::prelude::*;
    use rand::SeedableRng;

    const FVC: &str = concat!(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."), "/fixtures/fingerprints/fvc2002");
    const PASS_CASE: &str = concat!(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."), "/fixtures/samples/pass-case");

    fn load(db: &str, finger: u32, impression: u32) -> MinutiaeRecord {
        let path = format!("{FVC}/{db}/{finger}_{impression}.iso");
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        MinutiaeRecord::parse(&bytes).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// The fixture subset: DB1_B and DB2_B, fingers 101 and 102, impressions 1..4.
    pub(super) fn subset() -> Vec<(String, MinutiaeRecord)> {
        labelled(&["DB1_B", "DB2_B"], &[101, 102], 4)
    }

    /// All 320 FVC2002 templates in fixtures/: DB1_B..DB4_B, fingers 101..110, impressions 1..8.
    pub(super) fn full_set() -> Vec<(String, MinutiaeRecord)> {
        labelled(&["DB1_B", "DB2_B", "DB3_B", "DB4_B"], &(101..=110).collect::<Vec<_>>(), 8)
    }

    /// Templates labelled by finger ("DB1_B/101"), impressions 1..=impressions of each finger.
    pub(super) fn labelled(dbs: &[&str], fingers: &[u32], impressions: u32) -> Vec<(String, MinutiaeRecord)> {
        let mut v = Vec::new();
        for db in dbs {
            for &finger in fingers {
                for k in 1..=impressions {
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
        for case in [FingerCase::TwoImpressions, FingerCase::Card] {
            assert!(imp.iter().all(|&s| !decide(case, s).is_match()), "{case:?}: an impostor pair matched (max {max_imp})");
        }
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
                // The same capture in another frame: a re-encoding, and so a match in both cases.
                assert!(decide(FingerCase::Card, s).is_match(), "{db}/{f} rotated {deg} deg: score {s}");
                assert!(decide(FingerCase::TwoImpressions, s).is_match(), "{db}/{f} rotated {deg} deg: score {s}");
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
            let d = decide(FingerCase::Card, s);
            assert!(s > 0.7 && d.is_match() && !d.is_borderline(), "{id}: {s}");
            for (other, o) in &set {
                if other != id {
                    let d = decide(FingerCase::Card, score(&o.minutiae, &chip));
                    assert!(!d.is_match() && !d.is_borderline(), "{id} chip matched {other}");
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
        let th = thresholds(FingerCase::Card).threshold;
        for (acc, slot) in [(&fp1, &s1), (&fp2, &s2)] {
            let c = compare(&acc.minutiae, slot, FingerCase::Card);
            assert!(!c.identical);
            assert!(c.decision.is_match() && !c.decision.is_borderline(), "score {}", c.score);
            assert!(c.score > 0.7 && c.score > 2.0 * th, "score {} threshold {th}", c.score);
        }
        // Swapped slots: the other finger of the same person does not match.
        for case in [FingerCase::Card, FingerCase::TwoImpressions] {
            assert!(!compare(&fp1.minutiae, &s2, case).decision.is_match());
            assert!(!compare(&fp2.minutiae, &s1, case).decision.is_match());
        }
    }

    #[test]
    fn identical_sets_compare_as_identical() {
        let r = load("DB1_B", 102, 3);
        let mut other = r.minutiae.clone();
        other.swap(0, 5);
        let c = compare(&r.minutiae, &other, FingerCase::Card);
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
        assert!(!compare(&[], &rec.minutiae, FingerCase::Card).decision.is_match());
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
            let c = compare(&a, &b, FingerCase::Card);
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
        let (two, card) = (thresholds(FingerCase::TwoImpressions), thresholds(FingerCase::Card));
        assert_eq!(two, cal.two_impressions.thresholds);
        assert_eq!(card, cal.card.thresholds);
        for t in [two, card] {
            assert_ne!(t, FALLBACK_THRESHOLDS);
            assert!(0.0 < t.borderline_low && t.borderline_low <= t.threshold);
            assert!(t.threshold <= t.borderline_high && t.borderline_high < 1.0);
        }
        // The two-impressions threshold is above every impostor score but the allowed ones.
        assert!(two.threshold > cal.two_impressions.impostor.p99);
        // The card threshold sits in the gap, its band too: above every other-finger score and
        // below every own re-encoded score of the calibration data.
        let check = &cal.card.check;
        assert!(check.highest_other_score < card.borderline_low && card.borderline_high < check.lowest_own_score);
        assert!(card.threshold > two.borderline_high);
        assert_eq!((check.chip.own.missed, check.compact.own.missed, check.other_fingers.accepted), (0, 0, 0));
        assert_eq!((check.chip.own.borderline, check.compact.own.borderline, check.other_fingers.borderline), (0, 0, 0));
    }

    #[test]
    fn decide_uses_threshold_and_band() {
        let t = FingerprintThresholds { threshold: 0.2, borderline_low: 0.15, borderline_high: 0.25 };
        assert_eq!(decide_with(0.1, &t), FingerDecision::NoMatch { borderline: false });
        assert_eq!(decide_with(0.15, &t), FingerDecision::NoMatch { borderline: true });
        assert_eq!(decide_with(0.2, &t), FingerDecision::Match { borderline: true });
        assert_eq!(decide_with(0.25, &t), FingerDecision::Match { borderline: false });
        assert_eq!(decide_with(f64::NAN, &t), FingerDecision::NoMatch { borderline: false });
        for case in [FingerCase::Card, FingerCase::TwoImpressions] {
            let th = thresholds(case).threshold;
            assert!(decide(case, th).is_match() && !decide(case, th - 1e-9).is_match() && decide(case, 1.0).is_match());
        }
        assert!(thresholds(FingerCase::Card).threshold > thresholds(FingerCase::TwoImpressions).threshold);
        assert_eq!((FingerCase::Card.name(), FingerCase::TwoImpressions.name()), ("card", "two_impressions"));
    }
}

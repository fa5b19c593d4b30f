//! Minutia Cylinder-Code, bit-based (MCC16b), with the relaxation-based consolidation LSS-R, after
//! R. Cappelli, M. Ferrara, D. Maltoni, "Minutia Cylinder-Code: a new representation and matching
//! technique for fingerprint recognition", IEEE TPAMI 32(12), 2010 (doi 10.1109/TPAMI.2010.52),
//! written from the paper in the project's own code. Owns the cylinders (built once per template,
//! 16x16 spatial cells x 6 angular sections = 1536 bits in 24 u64 words, a 256-bit validity mask),
//! the local similarity of two cylinders (XOR and popcount), and the global score (local
//! similarity sort, relaxation, efficiency). Pure computation: no I/O, never panics.
//!
//! Frame: x to the right, y up (the negated image row), so that the counter-clockwise minutia
//! angle of ISO/IEC 19794-2 is the ordinary mathematical angle and rotations keep handedness.

use std::f64::consts::PI as PI64;
use std::sync::OnceLock;

use crate::biometrics::Minutia;

// ---------------------------------------------------------------------------------------------
// Parameters
// ---------------------------------------------------------------------------------------------

/// Cells along one side of the cylinder's base.
pub(super) const NS: usize = 16;
/// Angular sections (height of the cylinder).
pub(super) const ND: usize = 6;
/// Spatial cells of one section.
const CELLS: usize = NS * NS;
/// u64 words of one section.
const SW: usize = CELLS / 64;
/// u64 words of a whole cylinder.
pub(super) const WORDS: usize = ND * SW;

/// Cylinder radius R (px at 500 dpi).
const RADIUS: f32 = 70.0;
/// Cell side: 2R / NS.
const DELTA_S: f32 = 2.0 * RADIUS / NS as f32;
/// sigma_S: spatial spread of a neighbour's contribution (px).
const SIGMA_S: f64 = 6.0;
/// sigma_D: directional spread (rad), 25 degrees.
const SIGMA_D: f64 = 5.0 * PI64 / 36.0;
/// mu_psi: a cell is set when the summed contribution reaches it (the bit form of the sigmoid
/// Psi with mu_psi = 0.01, tau_psi = 400).
const MU_PSI: f32 = 0.01;
/// Omega: cells farther than this from the convex hull of the minutiae are invalid (px).
const OMEGA: f32 = 50.0;
/// minVC: a cylinder needs at least this share of its in-radius cells valid.
const MIN_VC: f32 = 0.75;
/// minM: a cylinder needs at least this many other minutiae within R + 3 sigma_S.
const MIN_M: usize = 2;
/// minME: two cylinders are comparable when at least this share of the in-radius cells is valid
/// in both.
const MIN_ME: f32 = 0.60;
/// delta_theta: minutiae whose directions differ by more than this (pi/2, in 1/256 turns) are not
/// compared.
const DELTA_THETA_UNITS: u8 = 64;
/// Consolidation: number of pairs n_P = min_nP + round(Z(min(n_A, n_B), mu_P, tau_P) (max_nP -
/// min_nP)).
const MIN_NP: f64 = 4.0;
const MAX_NP: f64 = 12.0;
const MU_P: f64 = 20.0;
const TAU_P: f64 = 0.4;
/// Relaxation: iterations and the weight of a pair's own similarity.
const N_REL: usize = 5;
const W_R: f32 = 0.5;
/// Compatibility rho of two pairs: sigmoids of (1) the difference of the two distances (px),
/// (2) of the relative directions and (3) of the radial angles (rad). mu_1 is 10 px where the
/// paper has 5: the FVC2002 impressions are distorted more (equal-error rate 2.67 % -> 2.36 %
/// mean over DB1_B..DB4_B; see README).
const MU_1: f64 = 10.0;
const TAU_1: f64 = -8.0 / 5.0;
const MU_2: f64 = PI64 / 12.0;
const TAU_2: f64 = -30.0;
const MU_3: f64 = PI64 / 12.0;
const TAU_3: f64 = -30.0;

/// Directions in the geometry tables: 1/1024 turn.
const TURN: i32 = 1024;
/// Distances in the geometry tables: 1/4 px.
const DIST_SCALE: f32 = 4.0;

// ---------------------------------------------------------------------------------------------
// Lookup tables (built once)
// ---------------------------------------------------------------------------------------------

struct Tables {
    /// G_S(sqrt(d2)) indexed by round(4 d2), d2 <= (3 sigma_S)^2.
    gs: Vec<f32>,
    /// G_D of section k (lane k; lanes ND.. are 0) for a direction difference theta_m - theta_t
    /// of `i` 1/256 turns.
    gd: [[f32; 8]; 256],
    /// Z(d, mu_1, tau_1) for d in 1/4 px, up to `t1.len()`; 0 beyond.
    t1: Vec<f32>,
    /// Z(a, mu_2, tau_2) for a = 0..=128 1/256 turns.
    t2: [f32; 129],
    /// Z(a, mu_3, tau_3) for a = 0..=512 1/1024 turns.
    t3: Vec<f32>,
    /// In-radius cells (centre within R of the minutia): the cells a cylinder can hold.
    disc: [u64; SW],
    disc_cells: u32,
    /// sqrt(i) for every possible popcount of a cylinder.
    sqrt: Vec<f32>,
}

/// The logistic Z(v, mu, tau) = 1 / (1 + e^(-tau (v - mu))).
fn sigmoid(v: f64, mu: f64, tau: f64) -> f64 {
    1.0 / (1.0 + (-tau * (v - mu)).exp())
}

/// erf, Abramowitz & Stegun 7.1.26 (absolute error below 1.5e-7).
fn erf(x: f64) -> f64 {
    let s = x.signum();
    let x = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let y = 1.0 - (((((1.061_405_429 * t - 1.453_152_027) * t) + 1.421_413_741) * t - 0.284_496_736) * t + 0.254_829_592) * t * (-x * x).exp();
    s * y
}

/// Angle normalised to -pi..pi.
fn norm_pi(a: f64) -> f64 {
    let r = (a + PI64).rem_euclid(2.0 * PI64) - PI64;
    if r.is_finite() {
        r
    } else {
        0.0
    }
}

/// The lookup tables, built on first use.
fn tables() -> &'static Tables {
    static T: OnceLock<Tables> = OnceLock::new();
    T.get_or_init(|| {
        let reach2 = (3.0 * SIGMA_S) * (3.0 * SIGMA_S);
        let norm_s = 1.0 / (SIGMA_S * (2.0 * PI64).sqrt());
        let gs = (0..=(reach2 * 4.0).ceil() as usize)
            .map(|i| {
                let d2 = i as f64 / 4.0;
                (norm_s * (-d2 / (2.0 * SIGMA_S * SIGMA_S)).exp()) as f32
            })
            .collect();
        let delta_d = 2.0 * PI64 / ND as f64;
        let mut gd = [[0f32; 8]; 256];
        for k in 0..ND {
            let phi_k = -PI64 + (k as f64 + 0.5) * delta_d;
            for (u, lanes) in gd.iter_mut().enumerate() {
                let Some(out) = lanes.get_mut(k) else { continue };
                let dtheta = norm_pi(u as f64 * 2.0 * PI64 / 256.0);
                let alpha = norm_pi(phi_k - dtheta);
                let z = SIGMA_D * 2f64.sqrt();
                *out = (0.5 * (erf((alpha + delta_d / 2.0) / z) - erf((alpha - delta_d / 2.0) / z))) as f32;
            }
        }
        // Z(d, 5, -1.6) is below 1e-12 past 22 px.
        let t1 = (0..=(24.0 * DIST_SCALE) as usize).map(|q| sigmoid(f64::from(q as u32) / f64::from(DIST_SCALE), MU_1, TAU_1) as f32).collect();
        let mut t2 = [0f32; 129];
        for (a, out) in t2.iter_mut().enumerate() {
            *out = sigmoid(a as f64 * 2.0 * PI64 / 256.0, MU_2, TAU_2) as f32;
        }
        let t3 = (0..=(TURN / 2) as usize).map(|a| sigmoid(a as f64 * 2.0 * PI64 / f64::from(TURN), MU_3, TAU_3) as f32).collect();
        let mut disc = [0u64; SW];
        let mut disc_cells = 0;
        for i in 0..NS {
            for j in 0..NS {
                // Centre at ((i - 7.5) DELTA_S, (j - 7.5) DELTA_S); within R iff, in half cells,
                // (2i - 15)^2 + (2j - 15)^2 <= (2 R / DELTA_S)^2 = 256.
                let (a, b) = (2 * i as i32 - (NS as i32 - 1), 2 * j as i32 - (NS as i32 - 1));
                if a * a + b * b <= (NS as i32) * (NS as i32) {
                    let c = i * NS + j;
                    if let Some(w) = disc.get_mut(c / 64) {
                        *w |= 1 << (c % 64);
                    }
                    disc_cells += 1;
                }
            }
        }
        let sqrt = (0..=WORDS * 64).map(|i| (i as f32).sqrt()).collect();
        Tables { gs, gd, t1, t2, t3, disc, disc_cells, sqrt }
    })
}

// ---------------------------------------------------------------------------------------------
// Convex hull, enlarged by Omega
// ---------------------------------------------------------------------------------------------

/// Convex hull of the minutiae (counter-clockwise), with the inward-facing edge lines.
struct Hull {
    /// Vertices, counter-clockwise; 1 or 2 for degenerate sets.
    v: Vec<(f32, f32)>,
    /// Per edge i (v[i] -> v[i+1]): unit outward normal and offset, so that n . p - c is the
    /// signed distance of p to the edge's line (positive outside). Empty below 3 vertices.
    lines: Vec<(f32, f32, f32)>,
    /// The edges' end points, in the order of `lines`.
    ends: Vec<((f32, f32), (f32, f32))>,
}

impl Hull {
    /// The hull of `points` and its edge lines.
    fn new(points: &[(f32, f32)]) -> Hull {
        // Andrew's monotone chain on integer-valued coordinates (exact in f64).
        let mut p: Vec<(f64, f64)> = points.iter().map(|&(x, y)| (f64::from(x), f64::from(y))).collect();
        p.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
        p.dedup();
        let cross = |o: (f64, f64), a: (f64, f64), b: (f64, f64)| (a.0 - o.0) * (b.1 - o.1) - (a.1 - o.1) * (b.0 - o.0);
        let mut hull: Vec<(f64, f64)> = Vec::with_capacity(p.len() + 1);
        if p.len() < 3 {
            hull = p;
        } else {
            for &q in &p {
                while hull.len() >= 2 && cross(hull[hull.len() - 2], hull[hull.len() - 1], q) <= 0.0 {
                    hull.pop();
                }
                hull.push(q);
            }
            let lower = hull.len() + 1;
            for &q in p.iter().rev().skip(1) {
                while hull.len() >= lower && cross(hull[hull.len() - 2], hull[hull.len() - 1], q) <= 0.0 {
                    hull.pop();
                }
                hull.push(q);
            }
            hull.pop();
        }
        let v: Vec<(f32, f32)> = hull.iter().map(|&(x, y)| (x as f32, y as f32)).collect();
        let mut lines = Vec::new();
        let mut ends = Vec::new();
        if v.len() >= 3 {
            for (i, &(ax, ay)) in v.iter().enumerate() {
                let (bx, by) = v.get(i + 1).copied().unwrap_or(v[0]);
                let (dx, dy) = (bx - ax, by - ay);
                let len = (dx * dx + dy * dy).sqrt();
                if len > 0.0 {
                    // Counter-clockwise: the outward normal is the edge turned clockwise.
                    let (nx, ny) = (dy / len, -dx / len);
                    lines.push((nx, ny, nx * ax + ny * ay));
                    ends.push(((ax, ay), (bx, by)));
                }
            }
        }
        Hull { v, lines, ends }
    }

    /// Largest signed distance of p to the edge lines (<= 0 inside a proper hull).
    fn max_line_distance(&self, x: f32, y: f32) -> f32 {
        self.lines.iter().fold(f32::NEG_INFINITY, |m, &(nx, ny, c)| m.max(nx * x + ny * y - c))
    }

    /// Is p within Omega of the hull? (The reference the faster forms are tested against.)
    #[cfg(test)]
    fn covers(&self, x: f32, y: f32) -> bool {
        self.covers_among(0..self.lines.len(), x, y)
    }

    /// [`Hull::covers`] deciding on the edge lines `edges` only: exact for every point p when
    /// the lines left out have p on their inner side (see [`Hull::lines_near`]).
    ///
    /// One pass over the edge lines: beyond Omega of any line is outside (most cells of a
    /// cylinder off the print stop at the first such line); on the inner side of every line is
    /// inside. Otherwise p is outside the hull but within Omega of every line, and the point of
    /// the hull nearest to p lies on an edge that faces p (p beyond its line): only those edges
    /// are measured.
    fn covers_among(&self, edges: impl Iterator<Item = usize> + Clone, x: f32, y: f32) -> bool {
        let near = |a: (f32, f32), b: (f32, f32)| near_segment(a, b, x, y);
        if !self.lines.is_empty() {
            let mut outside = false;
            for e in edges.clone() {
                let Some(&(nx, ny, c)) = self.lines.get(e) else { continue };
                let d = nx * x + ny * y - c;
                if d > OMEGA {
                    return false;
                }
                outside |= d > 0.0;
            }
            if !outside {
                return true;
            }
            return edges.filter_map(|e| self.lines.get(e).zip(self.ends.get(e))).any(|(&(nx, ny, c), &(a, b))| nx * x + ny * y - c > 0.0 && near(a, b));
        }
        // One or two points: within Omega of them (of the segment between them).
        match self.v.len() {
            0 => false,
            1 => near(self.v[0], self.v[0]),
            n => (0..n).any(|i| near(self.v[i], self.v.get(i + 1).copied().unwrap_or(self.v[0]))),
        }
    }

    /// The edge lines that can decide [`Hull::covers`] for a point within R of p, into `out`:
    /// every line but those with the whole disc on their inner side by a margin of 1 px (far
    /// above the f32 rounding of the points' coordinates, below 2^14 px, and of the distances).
    /// A line left out has every such point on its inner side, where it neither rejects the
    /// point nor is measured, so [`Hull::covers_among`] with `out` equals [`Hull::covers`] there.
    fn lines_near(&self, x: f32, y: f32, out: &mut Vec<usize>) {
        out.clear();
        out.extend(self.lines.iter().enumerate().filter(|(_, &(nx, ny, c))| nx * x + ny * y - c + RADIUS + 1.0 > 0.0).map(|(e, _)| e));
    }

    /// For each of the points (px, py), the largest signed distance to the lines `edges`
    /// (computed as [`Hull::covers_among`] computes each; -inf without lines).
    #[inline(always)]
    fn row_distances(&self, edges: &[usize], px: &[f32; NS], py: &[f32; NS]) -> [f32; NS] {
        let mut far = [f32::NEG_INFINITY; NS];
        for &(nx, ny, c) in edges.iter().filter_map(|&e| self.lines.get(e)) {
            for ((f, &x), &y) in far.iter_mut().zip(px).zip(py) {
                let d = nx * x + ny * y - c;
                *f = if d > *f { d } else { *f };
            }
        }
        far
    }

    /// [`Hull::covers_among`] for the lines `edges` of a point whose largest distance to them,
    /// from [`Hull::row_distances`], is `far`.
    #[inline(always)]
    fn covers_given(&self, edges: &[usize], far: f32, x: f32, y: f32) -> bool {
        if self.lines.is_empty() {
            return self.covers_among(edges.iter().copied(), x, y);
        }
        if far > OMEGA {
            return false;
        }
        if far <= 0.0 {
            return true;
        }
        // Outside the hull, within Omega of every line: measure the edges that face p.
        edges.iter().filter_map(|&e| self.lines.get(e).zip(self.ends.get(e))).any(|(&(nx, ny, c), &(a, b))| nx * x + ny * y - c > 0.0 && near_segment(a, b, x, y))
    }

    /// Is every point within R of p within Omega of the hull? (p inside the hull at depth
    /// delta: every point within R is within R - delta of the hull.)
    fn covers_disc(&self, x: f32, y: f32) -> bool {
        !self.lines.is_empty() && RADIUS + self.max_line_distance(x, y) <= OMEGA
    }
}

/// Is (x, y) within Omega of the segment a-b?
#[inline(always)]
fn near_segment((ax, ay): (f32, f32), (bx, by): (f32, f32), x: f32, y: f32) -> bool {
    let (dx, dy) = (bx - ax, by - ay);
    let l2 = dx * dx + dy * dy;
    let t = if l2 > 0.0 { (((x - ax) * dx + (y - ay) * dy) / l2).clamp(0.0, 1.0) } else { 0.0 };
    let (px, py) = (ax + t * dx - x, ay + t * dy - y);
    px * px + py * py <= OMEGA * OMEGA
}

// ---------------------------------------------------------------------------------------------
// Cylinders
// ---------------------------------------------------------------------------------------------

/// One valid cylinder: 1536 cell bits (section k, cell i*16+j at bit 256k + 16i + j), the valid
/// cells, and what the consolidation needs of its minutia.
#[derive(Clone)]
pub(super) struct Cylinder {
    bits: [u64; WORDS],
    valid: [u64; SW],
    /// Number of set sections of each cell, bit-sliced (weights 1, 2, 4; 4 words each).
    planes: [u64; 3 * SW],
    /// popcount(bits) and popcount(valid).
    ones: u32,
    valid_cells: u32,
    /// Minutia direction in 1/256 turns.
    angle: u8,
}

/// A minutia in the y-up frame.
#[derive(Clone, Copy)]
struct Point {
    x: f32,
    y: f32,
    /// 1/256 turns, counter-clockwise.
    a: u8,
}

/// The MCC form of a template: its valid cylinders and, between their minutiae, the distances
/// and radial angles the relaxation needs.
#[derive(Clone, Default)]
pub(super) struct Cylinders {
    cyl: Vec<Cylinder>,
    /// n x n distances between the minutiae of the cylinders, in 1/4 px.
    dist: Vec<u16>,
    /// n x n radial angles d_R(i, j) = theta_i - direction(j -> i), in 1/1024 turns.
    radial: Vec<u16>,
}

impl Cylinders {
    pub(super) fn len(&self) -> usize {
        self.cyl.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.cyl.is_empty()
    }

    /// Build the cylinders of a minutiae set (already in canonical order). Compiled for the best
    /// instruction set the processor has, chosen at run time (AVX2 with explicit 8-lane
    /// comparisons where the processor has it).
    pub(super) fn build(minutiae: &[Minutia]) -> Cylinders {
        #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
        if let Some(simd) = pulp::x86::V3::try_new() {
            return pulp::Simd::vectorize(simd, Build(minutiae, simd));
        }
        pulp::Arch::new().dispatch(Build(minutiae, Scalar))
    }
}

/// [`Cylinders::build`] as a function of the instruction set.
struct Build<'a, L>(&'a [Minutia], L);

impl<L: Lanes> pulp::WithSimd for Build<'_, L> {
    type Output = Cylinders;

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) -> Cylinders {
        build(self.0, self.1)
    }
}

/// Operations on eight f32 lanes the cylinders need explicitly vectorised; every
/// implementation gives the same results.
trait Lanes: Copy {
    /// Mask of the lanes of `a` that are at least `mu` (bit k for lane k).
    fn at_least(self, a: &[f32; 8], mu: f32) -> u32;
}

/// The portable implementation.
#[derive(Clone, Copy)]
struct Scalar;

impl Lanes for Scalar {
    #[inline(always)]
    fn at_least(self, a: &[f32; 8], mu: f32) -> u32 {
        a.iter().enumerate().fold(0, |m, (k, &x)| m | (u32::from(x >= mu) << k))
    }
}

#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
impl Lanes for pulp::x86::V3 {
    #[inline(always)]
    fn at_least(self, a: &[f32; 8], mu: f32) -> u32 {
        let ge = self.cmp_ge_f32x8(pulp::cast(*a), self.splat_f32x8(mu));
        self.avx._mm256_movemask_ps(pulp::cast(ge)) as u32
    }
}

/// First and last in-radius cell of each row of the cylinder's base.
fn disc_rows() -> [(usize, usize); NS] {
    let t = tables();
    std::array::from_fn(|i| {
        let in_disc = |j: usize| {
            let c = i * NS + j;
            t.disc.get(c / 64).is_some_and(|w| w & (1 << (c % 64)) != 0)
        };
        let lo = (0..NS).find(|&j| in_disc(j)).unwrap_or(NS);
        let hi = (0..NS).rev().find(|&j| in_disc(j)).unwrap_or(0);
        (lo, hi)
    })
}

#[inline(always)]
fn build<L: Lanes>(minutiae: &[Minutia], lanes: L) -> Cylinders {
    let t = tables();
    let rows = disc_rows();
    let points: Vec<Point> =
        minutiae.iter().map(|m| Point { x: f32::from(m.x & 0x3FFF), y: -f32::from(m.y & 0x3FFF), a: m.angle }).collect();
    let hull = Hull::new(&points.iter().map(|p| (p.x, p.y)).collect::<Vec<_>>());
    let mut cyl = Vec::with_capacity(points.len());
    let mut kept: Vec<Point> = Vec::with_capacity(points.len());
    let mut neigh: Vec<(f32, f32, u8)> = Vec::with_capacity(points.len());
    let mut edges: Vec<usize> = Vec::with_capacity(hull.lines.len());
    // Contributions per cell, the ND sections padded to 8 lanes.
    let mut acc = [[[0f32; 8]; NS]; NS];
    let reach = RADIUS + 3.0 * SIGMA_S as f32;
    let (reach2, cell_reach, cell_reach2) = (reach * reach, 3.0 * SIGMA_S as f32, (3.0 * SIGMA_S * 3.0 * SIGMA_S) as f32);
    let min_valid = (MIN_VC * t.disc_cells as f32).ceil() as u32;
    let centre = (NS as f32 - 1.0) / 2.0;
    let off: [f32; NS] = std::array::from_fn(|i| (i as f32 - centre) * DELTA_S);
    for (i, m) in points.iter().enumerate() {
        let theta = f32::from(m.a) * (2.0 * std::f32::consts::PI / 256.0);
        let (s, c) = theta.sin_cos();
        // Neighbours in the minutia's frame: u along its direction, v to its left.
        neigh.clear();
        for (j, q) in points.iter().enumerate() {
            let (dx, dy) = (q.x - m.x, q.y - m.y);
            if j != i && dx * dx + dy * dy <= reach2 {
                neigh.push((dx * c + dy * s, -dx * s + dy * c, m.a.wrapping_sub(q.a)));
            }
        }
        if neigh.len() < MIN_M {
            continue;
        }
        // Valid cells: in-radius cells within Omega of the hull. That region is convex, so
        // each row's valid cells are one run: search it from both ends.
        let valid = if hull.covers_disc(m.x, m.y) {
            t.disc
        } else {
            let mut v = [0u64; SW];
            hull.lines_near(m.x, m.y, &mut edges);
            for (ci, &(lo, hi)) in rows.iter().enumerate() {
                let u = off[ci];
                // The row's cell centres, and their largest distance to the lines that matter.
                let px: [f32; NS] = std::array::from_fn(|cj| m.x + u * c - off[cj] * s);
                let py: [f32; NS] = std::array::from_fn(|cj| m.y + u * s + off[cj] * c);
                let far = hull.row_distances(&edges, &px, &py);
                let covered = |cj: usize| match (far.get(cj), px.get(cj), py.get(cj)) {
                    (Some(&d), Some(&x), Some(&y)) => hull.covers_given(&edges, d, x, y),
                    _ => false,
                };
                let Some(first) = (lo..=hi).find(|&cj| covered(cj)) else { continue };
                let last = (first..=hi).rev().find(|&cj| covered(cj)).unwrap_or(first).min(NS - 1);
                // Cells first..=last of row ci: bits 16 (ci % 4) + first.. of word ci / 4.
                let run = ((1u64 << (last + 1)) - 1) & !((1u64 << first) - 1);
                if let Some(word) = v.get_mut(ci / 4) {
                    *word |= run << (NS * (ci % 4));
                }
            }
            v
        };
        let valid_cells: u32 = valid.iter().map(|w| w.count_ones()).sum();
        if valid_cells < min_valid {
            continue;
        }
        // Contributions: each neighbour spreads over the cells within 3 sigma_S. Every cell's
        // sum takes the neighbours in order; `acc` is all zero here and is zeroed again after
        // use, row by row over the columns touched.
        let mut touched = [(NS, 0usize); NS];
        for &(u, v, dth) in &neigh {
            let gd = t.gd[usize::from(dth)];
            let lo_i = ((u - cell_reach) / DELTA_S + centre).ceil().max(0.0) as usize;
            let hi_i = ((u + cell_reach) / DELTA_S + centre).floor().min(NS as f32 - 1.0);
            let lo_j = ((v - cell_reach) / DELTA_S + centre).ceil().max(0.0) as usize;
            let hi_j = ((v + cell_reach) / DELTA_S + centre).floor().min(NS as f32 - 1.0);
            if hi_i < 0.0 || hi_j < 0.0 {
                continue;
            }
            let (hi_i, hi_j) = ((hi_i as usize).min(NS - 1), (hi_j as usize).min(NS - 1));
            if lo_j > hi_j {
                continue;
            }
            let mut dv2 = [0f32; NS];
            for cj in lo_j..=hi_j {
                let dv = off[cj] - v;
                dv2[cj] = dv * dv;
            }
            for ci in lo_i..=hi_i {
                let du = off[ci] - u;
                let du2 = du * du;
                let row = &mut acc[ci];
                for cj in lo_j..=hi_j {
                    let d2 = du2 + dv2[cj];
                    if d2 > cell_reach2 {
                        continue;
                    }
                    let gs = t.gs.get(round_index(d2 * 4.0)).copied().unwrap_or(0.0);
                    for (x, g) in row[cj].iter_mut().zip(&gd) {
                        *x += gs * g;
                    }
                }
                let r = &mut touched[ci];
                *r = (r.0.min(lo_j), r.1.max(hi_j));
            }
        }
        // Psi: a valid cell is set where the summed contribution reaches mu_psi. Eight cells at a
        // time: their section masks as bytes, transposed into one byte per section. The cells
        // read are zeroed for the next minutia (all the touched ones are read).
        let mut bits = [0u64; WORDS];
        for (w, rows4) in acc.chunks_exact_mut(4).enumerate() {
            let vw = valid.get(w).copied().unwrap_or(0);
            let mut sections = [0u64; ND];
            for (r, row) in rows4.iter_mut().enumerate() {
                let (lo, hi) = touched.get(w * 4 + r).copied().unwrap_or((NS, 0));
                for (half, cells) in row.chunks_exact_mut(8).enumerate() {
                    if hi < half * 8 || lo >= half * 8 + 8 {
                        continue;
                    }
                    let shift = r * NS + half * 8;
                    let vbyte = (vw >> shift) & 0xFF;
                    let mut x = 0u64;
                    for (b, a) in cells.iter_mut().enumerate() {
                        // Lanes ND.. hold 0: never set.
                        let m = u64::from(lanes.at_least(a, MU_PSI));
                        x |= (m * ((vbyte >> b) & 1)) << (8 * b);
                        *a = [0.0; 8];
                    }
                    let x = transpose8(x);
                    for (k, sec) in sections.iter_mut().enumerate() {
                        *sec |= ((x >> (8 * k)) & 0xFF) << shift;
                    }
                }
            }
            for (k, &sec) in sections.iter().enumerate() {
                if let Some(word) = bits.get_mut(k * SW + w) {
                    *word = sec;
                }
            }
        }
        let ones = bits.iter().map(|w| w.count_ones()).sum();
        let mut planes = [0u64; 3 * SW];
        for w in 0..SW {
            let (mut c0, mut c1, mut c2) = (0u64, 0u64, 0u64);
            for k in 0..ND {
                let x = bits[k * SW + w];
                let carry0 = c0 & x;
                c0 ^= x;
                let carry1 = c1 & carry0;
                c1 ^= carry0;
                c2 ^= carry1;
            }
            (planes[w], planes[SW + w], planes[2 * SW + w]) = (c0, c1, c2);
        }
        cyl.push(Cylinder { bits, valid, planes, ones, valid_cells, angle: m.a });
        kept.push(*m);
    }
    // Cylinders in order of direction (ties: canonical order), so that the cylinders within
    // delta_theta of a direction are one circular run.
    let mut order: Vec<usize> = (0..cyl.len()).collect();
    order.sort_by_key(|&i| (cyl.get(i).map_or(0, |c| c.angle), i));
    let cyl: Vec<Cylinder> = order.iter().filter_map(|&i| cyl.get(i).cloned()).collect();
    let kept: Vec<Point> = order.iter().filter_map(|&i| kept.get(i).copied()).collect();
    // Geometry between the kept minutiae: distances, and radial angles
    // d_R(i, j) = theta_i - direction(j -> i), direction(i -> j) being direction(j -> i) + pi.
    let n = kept.len();
    let mut dist = vec![0u16; n * n];
    let mut radial = vec![0u16; n * n];
    let quarter = TURN / 256;
    let (xs, ys): (Vec<f32>, Vec<f32>) = kept.iter().map(|p| (p.x, p.y)).unzip();
    let mut turns = vec![0f64; n];
    for (i, p) in kept.iter().enumerate() {
        let (Some(qx), Some(qy)) = (xs.get(i + 1..), ys.get(i + 1..)) else { continue };
        for ((z, &x), &y) in turns.iter_mut().zip(qx).zip(qy) {
            *z = approx_turns(p.x - x, p.y - y);
        }
        for (k, ((q, &x), &y)) in kept.iter().skip(i + 1).zip(qx).zip(qy).enumerate() {
            let j = i + 1 + k;
            let (dx, dy) = (p.x - x, p.y - y);
            let d = ((dx * dx + dy * dy).sqrt() * DIST_SCALE).round().min(f32::from(u16::MAX)) as u16;
            let dir = direction(dx, dy, turns.get(k).copied().unwrap_or(f64::NAN));
            let rij = (i32::from(p.a) * quarter - dir).rem_euclid(TURN) as u16;
            let rji = (i32::from(q.a) * quarter - dir - TURN / 2).rem_euclid(TURN) as u16;
            for (at, dd, rr) in [(i * n + j, d, rij), (j * n + i, d, rji)] {
                if let (Some(x), Some(y)) = (dist.get_mut(at), radial.get_mut(at)) {
                    (*x, *y) = (dd, rr);
                }
            }
        }
    }
    Cylinders { cyl, dist, radial }
}

/// The direction of (dx, dy) in 1/TURN turns, approximately (within 2e-8 units; NaN for
/// (0, 0)), without branches so that a run of them is vectorised.
///
/// After reduction to an argument s with |s| <= tan(pi/8) + 1e-15, atan s = s - s^3/3 + ... +
/// s^21/21 leaves out at most |s|^23/23 < 7e-11 rad (alternating series); the f64 arithmetic
/// adds below 1e-14 rad. One unit is 2 pi / 1024 rad, so the error is below 1.2e-8 units.
#[inline(always)]
fn approx_turns(dx: f32, dy: f32) -> f64 {
    let (ax, ay) = (f64::from(dx).abs(), f64::from(dy).abs());
    let steep = ay > ax;
    let (lo, hi) = if steep { (ax, ay) } else { (ay, ax) };
    // atan(lo / hi) in 0..=pi/4: directly up to tan(pi/8), else pi/4 + atan((lo - hi) / (lo + hi)).
    let wide = lo > 0.414_213_562_373_095_1 * hi;
    let (num, den, base) = if wide { (lo - hi, lo + hi, PI64 / 4.0) } else { (lo, hi, 0.0) };
    let x = num / den;
    let x2 = x * x;
    let mut p = 1.0 / 21.0;
    for k in (0..10).rev() {
        let c = 1.0 / f64::from(2 * k + 1);
        p = p * x2 + if k % 2 == 0 { c } else { -c };
    }
    let a = base + x * p;
    let a = if steep { PI64 / 2.0 - a } else { a };
    let a = if dx < 0.0 { PI64 - a } else { a };
    a.copysign(f64::from(dy)) * (f64::from(TURN) / (2.0 * PI64))
}

/// The direction of (dx, dy) in 1/TURN turns, rounded: exactly
/// `round(atan2(dy, dx) / 2 pi * TURN)` with the platform's f64 atan2, given `approx`, the
/// [`approx_turns`] of (dx, dy). atan2 is within a few ulp of the true angle, so both round
/// alike unless the approximation is within 1e-6 units of a rounding boundary (or NaN); only
/// there is atan2 itself called.
#[inline(always)]
fn direction(dx: f32, dy: f32, approx: f64) -> i32 {
    let r = approx.round();
    if (approx - r).abs() < 0.5 - 1e-6 {
        r as i32
    } else {
        (f64::from(dy).atan2(f64::from(dx)) / (2.0 * PI64) * f64::from(TURN)).round() as i32
    }
}

/// round(x) (halves away from zero) as an index, for 0 <= x < 2^22: 2^23 + x rounds x to the
/// nearest integer, ties to even, in the low mantissa bits; a tie rounded down (x exactly half
/// above it) gets one more. Out of that range the result is meaningless but defined.
#[inline(always)]
fn round_index(x: f32) -> usize {
    const BIG: f32 = 8_388_608.0;
    let y = x + BIG;
    let even = y.to_bits().wrapping_sub(BIG.to_bits());
    even.wrapping_add(u32::from((y - BIG) - x == -0.5)) as usize
}

/// Transpose of an 8 x 8 bit matrix held row by row in the bytes of a u64 (bit j of byte i
/// becomes bit i of byte j).
#[inline(always)]
fn transpose8(mut x: u64) -> u64 {
    let t = (x ^ (x >> 7)) & 0x00AA_00AA_00AA_00AA;
    x ^= t ^ (t << 7);
    let t = (x ^ (x >> 14)) & 0x0000_CCCC_0000_CCCC;
    x ^= t ^ (t << 14);
    let t = (x ^ (x >> 28)) & 0x0000_0000_F0F0_F0F0;
    x ^ t ^ (t << 28)
}

// ---------------------------------------------------------------------------------------------
// Local similarity
// ---------------------------------------------------------------------------------------------

/// Number of set bits of the cells of `m`, from a cylinder's count planes (the number of set
/// sections of each cell, bit-sliced: weights 1, 2, 4).
#[inline(always)]
fn masked_count(planes: &[u64; 3 * SW], m: &[u64; SW]) -> u32 {
    let mut n = 0;
    for w in 0..SW {
        n += (planes[w] & m[w]).count_ones() + 2 * (planes[SW + w] & m[w]).count_ones() + 4 * (planes[2 * SW + w] & m[w]).count_ones();
    }
    n
}

/// Similarity of two cylinders in 0..=1 (0 when they are not comparable): with c_a|b and c_b|a
/// the two bit vectors restricted to the cells valid in both,
/// 1 - sqrt(|c_a|b XOR c_b|a|) / (sqrt(|c_a|b|) + sqrt(|c_b|a|)).
#[inline(always)]
fn similarity(a: &Cylinder, b: &Cylinder, min_common: u32, sqrt: &[f32]) -> f32 {
    let m: [u64; SW] = std::array::from_fn(|w| a.valid[w] & b.valid[w]);
    let (full_a, full_b) = (m == a.valid, m == b.valid);
    let common = if full_a {
        a.valid_cells
    } else if full_b {
        b.valid_cells
    } else {
        m.iter().map(|w| w.count_ones()).sum()
    };
    if common < min_common {
        return 0.0;
    }
    let mut nx = 0;
    for k in 0..ND {
        for (w, &mw) in m.iter().enumerate() {
            nx += ((a.bits[k * SW + w] ^ b.bits[k * SW + w]) & mw).count_ones();
        }
    }
    let na = if full_a { a.ones } else { masked_count(&a.planes, &m) };
    let nb = if full_b { b.ones } else { masked_count(&b.planes, &m) };
    if na + nb == 0 {
        return 0.0;
    }
    let s = |i: u32| sqrt.get(i as usize).copied().unwrap_or(0.0);
    1.0 - s(nx) / (s(na) + s(nb))
}

// ---------------------------------------------------------------------------------------------
// Global score: LSS-R
// ---------------------------------------------------------------------------------------------

/// The local similarity matrix of two templates: every pair of cylinders whose directions differ
/// by at most delta_theta, non-zero similarities only, as [`Pair::key`]s.
struct Gamma<'a> {
    a: &'a Cylinders,
    b: &'a Cylinders,
    min_common: u32,
    sqrt: &'a [f32],
}

impl pulp::WithSimd for Gamma<'_> {
    type Output = Vec<u64>;

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) -> Self::Output {
        let Gamma { a, b, min_common, sqrt } = self;
        let nb = b.cyl.len();
        let mut pairs = Vec::with_capacity(a.cyl.len() * nb / 2);
        for (i, ca) in a.cyl.iter().enumerate() {
            // b's cylinders are sorted by direction: those within delta_theta of ca are the
            // circular run starting at the first direction >= ca - delta_theta.
            let lo = ca.angle.wrapping_sub(DELTA_THETA_UNITS);
            let start = b.cyl.partition_point(|c| c.angle < lo);
            for j in (start..nb).chain(0..start) {
                let Some(cb) = b.cyl.get(j) else { break };
                if cb.angle.wrapping_sub(lo) > 2 * DELTA_THETA_UNITS {
                    break;
                }
                let s = similarity(ca, cb, min_common, sqrt);
                if s > 0.0 {
                    pairs.push(Pair::key(s, i, j));
                }
            }
        }
        pairs
    }
}

/// Number of pairs the score averages for templates of n_a and n_b cylinders.
fn n_p(na: usize, nb: usize) -> usize {
    let n = na.min(nb) as f64;
    (MIN_NP + (sigmoid(n, MU_P, TAU_P) * (MAX_NP - MIN_NP)).round()) as usize
}

/// Score of `a` against `b` in 0..=1 (not symmetrised; see `super::match_score`).
pub(super) fn score(a: &Cylinders, b: &Cylinders) -> f64 {
    let (na, nb) = (a.cyl.len(), b.cyl.len());
    if na == 0 || nb == 0 {
        return 0.0;
    }
    let t = tables();
    let min_common = (MIN_ME * t.disc_cells as f32).ceil() as u32;
    // The local similarity matrix, non-zero entries only. Compiled for the best instruction set
    // the processor has (hardware popcount, AVX2), chosen at run time.
    let mut pairs = pulp::Arch::new().dispatch(Gamma { a, b, min_common, sqrt: &t.sqrt });
    if pairs.is_empty() {
        return 0.0;
    }
    // LSS: the n_R = min(n_A, n_B) most similar pairs (ties: lower indices first): the keys sort
    // that way as integers.
    let nr = na.min(nb).min(pairs.len());
    if pairs.len() > nr {
        pairs.select_nth_unstable_by(nr - 1, |x, y| y.cmp(x));
        pairs.truncate(nr);
    }
    pairs.sort_unstable_by(|x, y| y.cmp(x));
    let sel: Vec<Pair> = pairs.iter().map(|&k| Pair::from_key(k, a, b)).collect();
    let np = n_p(na, nb);
    let lambda0: Vec<f32> = sel.iter().map(|p| p.lambda).collect();
    let mut lambda = lambda0.clone();
    if nr > 1 {
        // Compatibility of every two pairs: distances, relative directions and radial angles
        // must agree in both templates.
        let mut rho = vec![0f32; nr * nr];
        for (row, p) in rho.chunks_exact_mut(nr).zip(&sel) {
            let a_dist = a.dist.get(p.a * na..(p.a + 1) * na).unwrap_or(&[]);
            let a_rad = a.radial.get(p.a * na..(p.a + 1) * na).unwrap_or(&[]);
            let b_dist = b.dist.get(p.b * nb..(p.b + 1) * nb).unwrap_or(&[]);
            let b_rad = b.radial.get(p.b * nb..(p.b + 1) * nb).unwrap_or(&[]);
            for (out, q) in row.iter_mut().zip(&sel) {
                // A pair does not support itself.
                if q.a == p.a && q.b == p.b {
                    continue;
                }
                let (Some(&da), Some(&db)) = (a_dist.get(q.a), b_dist.get(q.b)) else { continue };
                let r1 = t.t1.get(usize::from(da.abs_diff(db))).copied().unwrap_or(0.0);
                if r1 == 0.0 {
                    continue;
                }
                let d2 = (p.ta.wrapping_sub(q.ta)).wrapping_sub(p.tb.wrapping_sub(q.tb)) as i8;
                let r2 = t.t2.get(usize::from(d2.unsigned_abs())).copied().unwrap_or(0.0);
                let (Some(&ra), Some(&rb)) = (a_rad.get(q.a), b_rad.get(q.b)) else { continue };
                let d3 = ra.wrapping_sub(rb) & (TURN as u16 - 1);
                let r3 = t.t3.get(usize::from(d3.min(TURN as u16 - d3))).copied().unwrap_or(0.0);
                *out = r1 * r2 * r3;
            }
        }
        let mut next = vec![0f32; nr];
        let k = (1.0 - W_R) / (nr - 1) as f32;
        for _ in 0..N_REL {
            for ((out, row), &own) in next.iter_mut().zip(rho.chunks_exact(nr)).zip(&lambda) {
                *out = W_R * own + k * dot(row, &lambda);
            }
            std::mem::swap(&mut lambda, &mut next);
        }
    }
    // The n_P pairs whose similarity held up best under relaxation (efficiency
    // lambda_final / lambda_0); the score is the mean of their relaxed similarities.
    let mut eff: Vec<(f32, f32, usize)> =
        lambda.iter().zip(&lambda0).enumerate().map(|(i, (&l, &l0))| (if l0 > 0.0 { l / l0 } else { 0.0 }, l, i)).collect();
    eff.sort_unstable_by(|x, y| y.0.total_cmp(&x.0).then(x.2.cmp(&y.2)));
    let sum: f64 = eff.iter().take(np).map(|e| f64::from(e.1)).sum();
    (sum / np.max(1) as f64).clamp(0.0, 1.0)
}

/// Dot product in eight lanes (a fixed order of additions, so the same on every run).
#[inline]
fn dot(x: &[f32], y: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let (xc, yc) = (x.chunks_exact(8), y.chunks_exact(8));
    let (xr, yr) = (xc.remainder(), yc.remainder());
    for (a, b) in xc.zip(yc) {
        for ((l, p), q) in lanes.iter_mut().zip(a).zip(b) {
            *l += p * q;
        }
    }
    let tail: f32 = xr.iter().zip(yr).map(|(p, q)| p * q).sum();
    lanes.iter().sum::<f32>() + tail
}

/// One selected pair: the similarity, the two cylinders and their directions.
struct Pair {
    lambda: f32,
    a: usize,
    b: usize,
    ta: u8,
    tb: u8,
}

impl Pair {
    /// Sort key of a pair: similarity bits (positive f32 bits order as the values), then the
    /// indices complemented, so that a descending integer order is (similarity descending, a
    /// ascending, b ascending).
    #[inline(always)]
    fn key(lambda: f32, i: usize, j: usize) -> u64 {
        (u64::from(lambda.to_bits()) << 32) | (u64::from(0xFFFF - i as u16) << 16) | u64::from(0xFFFF - j as u16)
    }

    fn from_key(k: u64, a: &Cylinders, b: &Cylinders) -> Pair {
        let (i, j) = (usize::from(0xFFFF - (k >> 16) as u16), usize::from(0xFFFF - k as u16));
        Pair {
            lambda: f32::from_bits((k >> 32) as u32),
            a: i,
            b: j,
            ta: a.cyl.get(i).map_or(0, |c| c.angle),
            tb: b.cyl.get(j).map_or(0, |c| c.angle),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::biometrics::MinutiaeRecord;
    use sha2::{Digest, Sha256};

    /// The templates whose cylinders are pinned: all 320 FVC2002 fixtures and the sample card's
    /// fp1/fp2, each in the canonical order `Template::prepare` builds from.
    fn templates() -> Vec<(String, Vec<Minutia>)> {
        let mut v: Vec<(String, Vec<Minutia>)> = super::super::tests::full_set().into_iter().map(|(l, r)| (l, r.minutiae)).collect();
        let dir = concat!(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."), "/fixtures/samples/pass-case/acceptance");
        let mut cards: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
        cards.sort();
        for card in cards {
            for f in ["fp1.iso", "fp2.iso"] {
                let path = card.join(f);
                let rec = MinutiaeRecord::parse(&std::fs::read(&path).unwrap()).unwrap();
                v.push((path.display().to_string(), rec.minutiae));
            }
        }
        for (_, m) in &mut v {
            m.sort_by_key(super::super::canonical_key);
            m.truncate(super::super::MAX_MINUTIAE);
        }
        v
    }

    /// Feed every byte of a template's cylinders, distances and radial angles to `h`.
    fn digest(c: &Cylinders, h: &mut Sha256) {
        h.update((c.cyl.len() as u64).to_le_bytes());
        for y in &c.cyl {
            y.bits.iter().chain(&y.valid).chain(&y.planes).for_each(|w| h.update(w.to_le_bytes()));
            h.update(y.ones.to_le_bytes());
            h.update(y.valid_cells.to_le_bytes());
            h.update([y.angle]);
        }
        h.update((c.dist.len() as u64).to_le_bytes());
        c.dist.iter().chain(&c.radial).for_each(|x| h.update(x.to_le_bytes()));
    }

    /// The cylinders, distances and radial angles of every fixture template are bit for bit
    /// those of the reference implementation (digest computed before the speed work).
    #[test]
    fn cylinders_are_pinned() {
        let set = templates();
        assert!(set.len() >= 322, "{} templates", set.len());
        let mut h = Sha256::new();
        let mut portable = Sha256::new();
        for (_, m) in &set {
            digest(&Cylinders::build(m), &mut h);
            digest(&build(m, Scalar), &mut portable);
        }
        assert_eq!(hex::encode(h.finalize()), PINNED);
        assert_eq!(hex::encode(portable.finalize()), PINNED, "portable path");
    }

    /// round_index is f32::round for every value the contributions can give (0..=1296),
    /// halves, their neighbours and random values included.
    #[test]
    fn round_index_is_round() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut xs: Vec<f32> = (0..=1300 * 8).map(|k| k as f32 / 8.0).collect();
        xs.extend(xs.clone().iter().flat_map(|&x| [x.next_up(), x.next_down()]));
        xs.extend((0..1_000_000).map(|_| rng.gen_range(0.0f32..1300.0)));
        for x in xs.into_iter().filter(|&x| x >= 0.0) {
            assert_eq!(round_index(x), x.round() as usize, "{x}");
        }
    }

    /// direction() is the rounded libm atan2 for every pair of coordinate differences up to
    /// 700 px and for random ones over the whole 14-bit range.
    #[test]
    fn direction_is_atan2() {
        use rand::{Rng, SeedableRng};
        let exact = |dx: f32, dy: f32| (f64::from(dy).atan2(f64::from(dx)) / (2.0 * PI64) * f64::from(TURN)).round() as i32;
        let check = |dx: f32, dy: f32| assert_eq!(direction(dx, dy, approx_turns(dx, dy)), exact(dx, dy), "({dx}, {dy})");
        for dx in -700..=700 {
            for dy in -700..=700 {
                check(dx as f32, dy as f32);
            }
        }
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(8);
        for _ in 0..1_000_000 {
            check(rng.gen_range(-16383..=16383) as f32, rng.gen_range(-16383..=16383) as f32);
        }
        check(-0.0, 0.0);
        check(0.0, -0.0);
        check(-0.0, -0.0);
        check(-5.0, -0.0);
    }

    /// Within R of a point, covers_given over the lines lines_near keeps (with the distances of
    /// row_distances) is covers over all lines, for random points around every template.
    #[test]
    fn restricted_cover_is_cover() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        let mut edges = Vec::new();
        for (_, m) in templates().iter().step_by(3) {
            let pts: Vec<(f32, f32)> = m.iter().map(|q| (f32::from(q.x & 0x3FFF), -f32::from(q.y & 0x3FFF))).collect();
            let hull = Hull::new(&pts);
            for &(cx, cy) in pts.iter().take(20) {
                hull.lines_near(cx, cy, &mut edges);
                let (s, c) = rng.gen_range(0.0f32..6.3).sin_cos();
                let u = rng.gen_range(-RADIUS..RADIUS) / 2f32.sqrt();
                let px: [f32; NS] = std::array::from_fn(|j| cx + u * c - (j as f32 - 7.5) * DELTA_S * s);
                let py: [f32; NS] = std::array::from_fn(|j| cy + u * s + (j as f32 - 7.5) * DELTA_S * c);
                let far = hull.row_distances(&edges, &px, &py);
                for j in 0..NS {
                    if (px[j] - cx).hypot(py[j] - cy) <= RADIUS {
                        assert_eq!(hull.covers_given(&edges, far[j], px[j], py[j]), hull.covers(px[j], py[j]));
                    }
                }
            }
        }
    }

    const PINNED: &str = "585a622bb27e700b4df154ddcdcb68d8d6ce9917798784ad2ee444a28daa7334";

    /// Preparation time of the sample card's templates and of the FVC set (run with
    /// `cargo test --release --lib mcc::tests::timing -- --ignored --nocapture`).
    #[test]
    #[ignore]
    fn timing() {
        let set = templates();
        let reps = 200;
        let median = |m: &[Minutia]| {
            let mut ts: Vec<f64> = (0..reps)
                .map(|_| {
                    let t0 = std::time::Instant::now();
                    std::hint::black_box(Cylinders::build(std::hint::black_box(m)));
                    t0.elapsed().as_secs_f64() * 1e3
                })
                .collect();
            ts.sort_by(f64::total_cmp);
            (ts[reps / 2], ts[0])
        };
        for (l, m) in set.iter().filter(|(l, _)| l.ends_with(".iso")) {
            let (med, min) = median(m);
            println!("{l}: {} minutiae, median {med:.4} ms, min {min:.4} ms", m.len());
        }
        let mut fvc: Vec<(f64, f64)> = set.iter().filter(|(l, _)| !l.ends_with(".iso")).map(|(_, m)| median(m)).collect();
        fvc.sort_by(|a, b| a.0.total_cmp(&b.0));
        let total = |f: fn(&(f64, f64)) -> f64| fvc.iter().map(f).sum::<f64>();
        println!(
            "FVC: median template {:.4} ms, sum of medians {:.1} ms, sum of minima {:.1} ms",
            fvc[fvc.len() / 2].0,
            total(|x| x.0),
            total(|x| x.1)
        );
    }
}

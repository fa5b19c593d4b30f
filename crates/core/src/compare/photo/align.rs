//! Alignment and scoring: the probe is aligned to the reference by an exhaustive shift search on
//! coarse thumbnails followed by a compass (pattern) search over shift, rotation, scale and aspect
//! on the fine thumbnails, maximising the weighted correlation. The distance is `1 - r`.
//! Correlations are summed eight points at a time where AVX2 is available (the scalar loop's
//! bits), and a transform the search comes back to is not computed again.

use serde::{Deserialize, Serialize};

use super::features::{hamming, phash_region, Frame, PhotoFeatures, Probe, Thumb, Xf, PARAMS};
use super::grid::Grid;
use super::CompareKind;

/// How the probe was aligned to the reference: shift of the probe's face relative to its nominal
/// frame (mm), rotation (degrees), scale and horizontal aspect factor.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Alignment {
    pub dx_mm: f64,
    pub dy_mm: f64,
    pub angle_deg: f64,
    pub scale: f64,
    pub aspect: f64,
}

/// Every measure computed for one comparison.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Measures {
    /// 1 - correlation of the aligned face-centred 32x40 thumbnails (the decision measure).
    pub correlation_distance: f64,
    /// 1 - correlation without alignment (nominal geometry), for information.
    pub unaligned_correlation_distance: f64,
    /// Hamming distance (bits of 256) of the aligned face-centred pHashes.
    pub phash_bits: u32,
    /// Hamming distance of the unaligned pHashes.
    pub unaligned_phash_bits: u32,
}

/// The result of a comparison. `distance` is what [`super::decide`] takes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PhotoScore {
    pub kind: CompareKind,
    pub distance: f64,
    pub aligned: Alignment,
    pub measures: Measures,
    /// Number of transforms the search evaluated (a transform met again counts again; its
    /// correlation is then remembered, not computed anew).
    pub evaluations: u32,
}

impl PhotoScore {
    /// `(is_same, borderline)` under the committed thresholds.
    pub fn decide(&self) -> (bool, bool) {
        super::decide(self.kind, self.distance)
    }
}

/// Search ranges of one comparison kind.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ranges {
    pub shift_mm: f32,
    pub angle_deg: f32,
    pub scale: (f32, f32),
    pub aspect: (f32, f32),
}

pub(crate) fn ranges(kind: CompareKind, printed_probe: bool) -> Ranges {
    let shift_mm = if printed_probe { 2.4 } else { 1.6 };
    match kind {
        CompareKind::PrintedVsAcceptance => Ranges {
            shift_mm,
            angle_deg: 1.2,
            scale: (0.97, 1.03),
            aspect: (0.98, 1.02),
        },
        CompareKind::PrintedVsChip | CompareKind::ChipVsAcceptance => Ranges {
            shift_mm,
            angle_deg: 1.2,
            scale: (0.92, 1.08),
            aspect: (0.90, 1.12),
        },
    }
}

/// Where the thumbnail's points fall in the probe grid under `xf`: point (i, j) at grid
/// coordinates `g0 + i * di + j * dj` (the thumbnail points form a regular grid, so probe
/// coordinates advance by constant steps).
struct Mapping {
    g0: (f32, f32),
    di: (f32, f32),
    dj: (f32, f32),
    /// The whole mapped grid lies where bilinear interpolation needs no clamping.
    inside: bool,
}

impl Mapping {
    fn new(th: &Thumb, grid: &Grid, frame: &Frame, xf: &Xf) -> Mapping {
        let (a, b, c, d) = xf.matrix();
        let (cx, cy) = frame.centre();
        let inv = 1.0 / grid.cell_mm;
        let (a, b, c, d) = (a * inv, b * inv, c * inv, d * inv);
        let ox = (cx + xf.tx) * inv - 0.5;
        let oy = (cy + xf.ty) * inv - 0.5;
        let (px0, py0) = th.origin;
        let g0 = (ox + a * px0 + b * py0, oy + c * px0 + d * py0);
        let di = (a * th.step.0, c * th.step.0);
        let dj = (b * th.step.1, d * th.step.1);
        let m = Mapping { g0, di, dj, inside: false };
        let (nx, ny) = (th.nx, th.ny);
        let corners = [
            m.at(0.0, 0.0),
            m.at((nx - 1) as f32, 0.0),
            m.at(0.0, (ny - 1) as f32),
            m.at((nx - 1) as f32, (ny - 1) as f32),
        ];
        let xm = grid.w as f32 - 2.0;
        let ym = grid.h as f32 - 2.0;
        let inside = nx * ny == th.tw.len()
            && corners
                .iter()
                .all(|&(x, y)| x >= 0.0 && y >= 0.0 && x < xm && y < ym);
        Mapping { inside, ..m }
    }

    /// Grid coordinates of point (i, j).
    #[inline]
    fn at(&self, i: f32, j: f32) -> (f32, f32) {
        let (g0, di, dj) = (self.g0, self.di, self.dj);
        (g0.0 + i * di.0 + j * dj.0, g0.1 + i * di.1 + j * dj.1)
    }
}

/// Weighted Pearson correlation of the reference thumbnail with the probe sampled under `xf`.
/// When the whole mapped grid lies inside the probe grid the clamping is skipped, and with
/// `fast` the sums are taken eight points at a time ([`InsideSums`], the same bits).
#[inline]
fn corr(th: &Thumb, grid: &Grid, frame: &Frame, xf: &Xf, fast: Option<&Fast<'_>>) -> f32 {
    let map = Mapping::new(th, grid, frame, xf);
    let Mapping { g0, di, dj, inside } = map;
    let fx = |i: f32, j: f32| map.at(i, j);
    let (nx, ny) = (th.nx, th.ny);
    let (mut sp, mut sw, mut sww) = (0f32, 0f32, 0f32);
    #[cfg(target_arch = "x86_64")]
    let fast_sums = match fast {
        Some(f) if inside && f.quads.len() == grid.data.len() => f.simd.vectorize(InsideSums {
            simd: f.simd,
            th,
            quads: f.quads,
            w: grid.w,
            g0,
            di,
            dj,
        }),
        _ => None,
    };
    #[cfg(not(target_arch = "x86_64"))]
    let fast_sums: Option<(f32, f32, f32)> = {
        let _ = fast;
        None
    };
    if let Some(sums) = fast_sums {
        (sp, sw, sww) = sums;
    } else if inside {
        let w = grid.w;
        let data = &grid.data[..];
        // Two interleaved accumulator sets shorten the floating-point dependency chains.
        let mut acc = [[0f32; 3]; 2];
        let sample = |gx: f32, gy: f32| -> f32 {
            // Inside the grid (0 <= g < 2^22): adding 1.5 * 2^23 rounds to an integer held in
            // the low mantissa bits; taking g - 0.5 makes that floor(g) up to ties, where the
            // interpolation weight is then 1 (still exact). Cheaper than a saturating cast.
            const MAGIC: f32 = 12_582_912.0;
            let x0 = ((gx - 0.5 + MAGIC).to_bits() & 0x3F_FFFF) as usize;
            let y0 = ((gy - 0.5 + MAGIC).to_bits() & 0x3F_FFFF) as usize;
            let fxr = gx - x0 as f32;
            let fyr = gy - y0 as f32;
            let k = y0 * w + x0;
            match (data.get(k..k + 2), data.get(k + w..k + w + 2)) {
                (Some(r0), Some(r1)) => {
                    let top = r0[0] + fxr * (r0[1] - r0[0]);
                    let bot = r1[0] + fxr * (r1[1] - r1[0]);
                    top + fyr * (bot - top)
                }
                _ => 0.0,
            }
        };
        for j in 0..ny {
            let (gx, gy) = fx(0.0, j as f32);
            let row = j * nx;
            let tws = &th.tw[row..row + nx];
            let ws = &th.w[row..row + nx];
            let mut i = 0usize;
            for (tw2, w2) in tws.chunks_exact(2).zip(ws.chunks_exact(2)) {
                let fi = i as f32;
                let v0 = sample(gx + fi * di.0, gy + fi * di.1);
                let v1 = sample(gx + (fi + 1.0) * di.0, gy + (fi + 1.0) * di.1);
                acc[0][0] += tw2[0] * v0;
                acc[0][1] += w2[0] * v0;
                acc[0][2] += w2[0] * v0 * v0;
                acc[1][0] += tw2[1] * v1;
                acc[1][1] += w2[1] * v1;
                acc[1][2] += w2[1] * v1 * v1;
                i += 2;
            }
            if i < nx {
                let fi = i as f32;
                let v = sample(gx + fi * di.0, gy + fi * di.1);
                acc[0][0] += tws[i] * v;
                acc[0][1] += ws[i] * v;
                acc[0][2] += ws[i] * v * v;
            }
        }
        sp = acc[0][0] + acc[1][0];
        sw = acc[0][1] + acc[1][1];
        sww = acc[0][2] + acc[1][2];
    } else {
        for (k, (&tw, &wt)) in th.tw.iter().zip(&th.w).enumerate() {
            let (i, j) = ((k % nx.max(1)) as f32, (k / nx.max(1)) as f32);
            let (gx, gy) = fx(i, j);
            let v = grid.sample(gx, gy);
            sp += tw * v;
            sw += wt * v;
            sww += wt * v * v;
        }
    }
    let var = sww - sw * sw / th.wsum.max(1e-9);
    if var <= 1e-6 {
        return 0.0;
    }
    sp / var.sqrt()
}

/// The vectorised correlation's inputs: the CPU token and the probe grid as bilinear quads.
#[cfg(target_arch = "x86_64")]
struct Fast<'a> {
    simd: pulp::x86::V3,
    quads: &'a [[f32; 4]],
}

#[cfg(not(target_arch = "x86_64"))]
struct Fast<'a> {
    quads: &'a [[f32; 4]],
}

impl<'a> Fast<'a> {
    /// Whether the vectorised path runs on this processor.
    fn available() -> bool {
        #[cfg(target_arch = "x86_64")]
        return pulp::x86::V3::try_new().is_some();
        #[cfg(not(target_arch = "x86_64"))]
        return false;
    }

    fn new(quads: &'a [[f32; 4]]) -> Option<Fast<'a>> {
        if quads.is_empty() {
            return None;
        }
        #[cfg(target_arch = "x86_64")]
        return pulp::x86::V3::try_new().map(|simd| Fast { simd, quads });
        #[cfg(not(target_arch = "x86_64"))]
        return None;
    }
}

/// The four values bilinear interpolation reads at each cell: (x, y), (x+1, y), (x, y+1),
/// (x+1, y+1), clamped at the far edges.
fn quads(g: &Grid) -> Vec<[f32; 4]> {
    let w = g.w.max(1);
    let mut out = Vec::with_capacity(g.w * g.h);
    let mut rows = g.data.chunks_exact(w).peekable();
    while let Some(top) = rows.next() {
        let bot = rows.peek().copied().unwrap_or(top);
        // Each cell with its right neighbours; the last cell of a row repeats itself.
        out.extend(top.windows(2).zip(bot.windows(2)).map(|(t, b)| [t[0], t[1], b[0], b[1]]));
        if let (Some(&t), Some(&b)) = (top.last(), bot.last()) {
            out.push([t, t, b, b]);
        }
    }
    out
}

/// [`corr`]'s sums over a thumbnail whose mapped grid lies inside the probe grid, eight points
/// at a time with AVX2: positions, cell indices, interpolation and the three products are
/// computed per lane with the very operations of the scalar loop (so the same values); each
/// point's (tw * v, w * v, w * v * v) is then added as one vector to its accumulator set (even
/// points of a row to the first, odd points to the second) in the scalar loop's order, so the
/// sums are the scalar loop's to the bit.
#[cfg(target_arch = "x86_64")]
struct InsideSums<'a> {
    simd: pulp::x86::V3,
    th: &'a Thumb,
    quads: &'a [[f32; 4]],
    w: usize,
    g0: (f32, f32),
    di: (f32, f32),
    dj: (f32, f32),
}

#[cfg(target_arch = "x86_64")]
impl pulp::NullaryFnOnce for InsideSums<'_> {
    /// `None` if a cell index falls outside the quads (it cannot when the mapped grid lies
    /// inside the probe grid; the caller then takes the scalar loop).
    type Output = Option<(f32, f32, f32)>;

    #[inline(always)]
    fn call(self) -> Option<(f32, f32, f32)> {
        use core::arch::x86_64::{__m128, __m256, __m256i};
        let InsideSums { simd, th, quads, w, g0, di, dj } = self;
        let (sse, avx, avx2) = (simd.sse, simd.avx, simd.avx2);
        let (nx, ny) = (th.nx, th.ny);
        // The scalar loop's two accumulator sets, (sp, sw, sww, unused) each: even points
        // (`acc_e`) and odd points (`acc_o`) of a row, each receiving its points one at a time
        // in the scalar loop's order.
        let mut acc_e: __m128 = sse._mm_setzero_ps();
        let mut acc_o: __m128 = sse._mm_setzero_ps();
        const MAGIC: f32 = 12_582_912.0;
        let (half, magic) = (avx._mm256_set1_ps(0.5), avx._mm256_set1_ps(MAGIC));
        let mask: __m256i = avx._mm256_set1_epi32(0x3F_FFFF);
        let wv: __m256i = avx._mm256_set1_epi32(w as i32);
        let (dix, diy) = (avx._mm256_set1_ps(di.0), avx._mm256_set1_ps(di.1));
        let eight = avx._mm256_set1_ps(8.0);
        // The scalar point value, for the points after the last whole group of eight.
        let scalar = |gx: f32, gy: f32| -> Option<f32> {
            let x0 = ((gx - 0.5 + MAGIC).to_bits() & 0x3F_FFFF) as usize;
            let y0 = ((gy - 0.5 + MAGIC).to_bits() & 0x3F_FFFF) as usize;
            let (fxr, fyr) = (gx - x0 as f32, gy - y0 as f32);
            let q = quads.get(y0 * w + x0)?;
            let top = q[0] + fxr * (q[1] - q[0]);
            let bot = q[2] + fxr * (q[3] - q[2]);
            Some(top + fyr * (bot - top))
        };
        for j in 0..ny {
            let jf = j as f32;
            let (gx, gy) = (g0.0 + 0.0 * di.0 + jf * dj.0, g0.1 + 0.0 * di.1 + jf * dj.1);
            let row = j * nx;
            let (Some(tws), Some(ws)) = (th.tw.get(row..row + nx), th.w.get(row..row + nx)) else {
                continue;
            };
            let (tw8, tw_rest) = tws.as_chunks::<8>();
            let (w8, w_rest) = ws.as_chunks::<8>();
            let (gxv, gyv) = (avx._mm256_set1_ps(gx), avx._mm256_set1_ps(gy));
            // Point indices i of the group (exact small integers, so adding 8 is exact).
            let mut iv: __m256 = avx._mm256_setr_ps(0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0);
            for (tw, wt) in tw8.iter().zip(w8) {
                let xs = avx._mm256_add_ps(gxv, avx._mm256_mul_ps(iv, dix));
                let ys = avx._mm256_add_ps(gyv, avx._mm256_mul_ps(iv, diy));
                iv = avx._mm256_add_ps(iv, eight);
                // The scalar loop's cells, by its very operations (the same cell also where a
                // rounding puts a point a hair below 0: there an index out of range).
                let cell = |v: __m256| -> __m256i {
                    let r = avx._mm256_add_ps(avx._mm256_sub_ps(v, half), magic);
                    avx2._mm256_and_si256(avx._mm256_castps_si256(r), mask)
                };
                let (x0, y0) = (cell(xs), cell(ys));
                let fxr = avx._mm256_sub_ps(xs, avx._mm256_cvtepi32_ps(x0));
                let fyr = avx._mm256_sub_ps(ys, avx._mm256_cvtepi32_ps(y0));
                let k: [u32; 8] = pulp::cast(avx2._mm256_add_epi32(avx2._mm256_mullo_epi32(y0, wv), x0));
                // The eight quads, lanes l and l + 4 side by side, transposed into the four
                // corner vectors (lanes in point order).
                let q = |l: usize| -> Option<__m128> { Some(pulp::cast(*quads.get(k[l] as usize)?)) };
                let m0 = avx._mm256_set_m128(q(4)?, q(0)?);
                let m1 = avx._mm256_set_m128(q(5)?, q(1)?);
                let m2 = avx._mm256_set_m128(q(6)?, q(2)?);
                let m3 = avx._mm256_set_m128(q(7)?, q(3)?);
                let (t0, t1) = (avx._mm256_unpacklo_ps(m0, m1), avx._mm256_unpacklo_ps(m2, m3));
                let (t2, t3) = (avx._mm256_unpackhi_ps(m0, m1), avx._mm256_unpackhi_ps(m2, m3));
                let c0 = avx._mm256_shuffle_ps::<0x44>(t0, t1);
                let c1 = avx._mm256_shuffle_ps::<0xEE>(t0, t1);
                let c2 = avx._mm256_shuffle_ps::<0x44>(t2, t3);
                let c3 = avx._mm256_shuffle_ps::<0xEE>(t2, t3);
                let top = avx._mm256_add_ps(c0, avx._mm256_mul_ps(fxr, avx._mm256_sub_ps(c1, c0)));
                let bot = avx._mm256_add_ps(c2, avx._mm256_mul_ps(fxr, avx._mm256_sub_ps(c3, c2)));
                let v = avx._mm256_add_ps(top, avx._mm256_mul_ps(fyr, avx._mm256_sub_ps(bot, top)));
                let p0 = avx._mm256_mul_ps(pulp::cast(*tw), v);
                let p1 = avx._mm256_mul_ps(pulp::cast(*wt), v);
                let p2 = avx._mm256_mul_ps(p1, v);
                // Per point (p0, p1, p2, p2): points l and l + 4 side by side...
                let (a0, a1) = (avx._mm256_unpacklo_ps(p0, p1), avx._mm256_unpacklo_ps(p2, p2));
                let (a2, a3) = (avx._mm256_unpackhi_ps(p0, p1), avx._mm256_unpackhi_ps(p2, p2));
                let r04 = avx._mm256_shuffle_ps::<0x44>(a0, a1);
                let r15 = avx._mm256_shuffle_ps::<0xEE>(a0, a1);
                let r26 = avx._mm256_shuffle_ps::<0x44>(a2, a3);
                let r37 = avx._mm256_shuffle_ps::<0xEE>(a2, a3);
                // ...added in point order.
                acc_e = sse._mm_add_ps(acc_e, avx._mm256_castps256_ps128(r04));
                acc_o = sse._mm_add_ps(acc_o, avx._mm256_castps256_ps128(r15));
                acc_e = sse._mm_add_ps(acc_e, avx._mm256_castps256_ps128(r26));
                acc_o = sse._mm_add_ps(acc_o, avx._mm256_castps256_ps128(r37));
                acc_e = sse._mm_add_ps(acc_e, avx._mm256_extractf128_ps::<1>(r04));
                acc_o = sse._mm_add_ps(acc_o, avx._mm256_extractf128_ps::<1>(r15));
                acc_e = sse._mm_add_ps(acc_e, avx._mm256_extractf128_ps::<1>(r26));
                acc_o = sse._mm_add_ps(acc_o, avx._mm256_extractf128_ps::<1>(r37));
            }
            let done = tw8.len() * 8;
            for (l, (&tw, &wt)) in tw_rest.iter().zip(w_rest).enumerate() {
                let i = done + l;
                let v = scalar(gx + i as f32 * di.0, gy + i as f32 * di.1)?;
                let p: __m128 = pulp::cast([tw * v, wt * v, wt * v * v, 0.0]);
                match i & 1 {
                    0 => acc_e = sse._mm_add_ps(acc_e, p),
                    _ => acc_o = sse._mm_add_ps(acc_o, p),
                }
            }
        }
        let (e, o): ([f32; 4], [f32; 4]) = (pulp::cast(acc_e), pulp::cast(acc_o));
        Some((e[0] + o[0], e[1] + o[1], e[2] + o[2]))
    }
}

/// The correlations one search (one thumbnail, one probe grid) has computed, by the exact bits
/// of the transform. The compass search often comes back to a transform it has tried (undoing
/// the move it just made, or the coarse peak it starts from), and [`corr`] is a function of those
/// bits: the remembered value is the one a new evaluation would give. An open-addressing table,
/// filled at most half; then it stops remembering (the search computes again, only slower).
struct Memo {
    slots: Vec<Option<([u32; 5], f32)>>,
    len: usize,
}

impl Memo {
    const SLOTS: usize = 1024;

    fn new() -> Memo {
        Memo { slots: vec![None; Self::SLOTS], len: 0 }
    }

    fn key(xf: &Xf) -> [u32; 5] {
        [xf.tx.to_bits(), xf.ty.to_bits(), xf.angle_deg.to_bits(), xf.scale.to_bits(), xf.aspect.to_bits()]
    }

    /// The first slot to probe for `key` (a multiplicative hash of the bits).
    fn home(key: &[u32; 5]) -> usize {
        let h = key.iter().fold(0u64, |h, &v| (h ^ v as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        (h >> 32) as usize % Self::SLOTS
    }

    /// The remembered correlation of `key`, or the free slot where it belongs.
    fn find(&self, key: &[u32; 5]) -> Result<f32, Option<usize>> {
        let mut i = Self::home(key);
        for _ in 0..Self::SLOTS {
            match self.slots.get(i) {
                Some(Some((k, v))) if k == key => return Ok(*v),
                Some(Some(_)) => i = (i + 1) % Self::SLOTS,
                Some(None) => return Err(Some(i)),
                None => break,
            }
        }
        Err(None)
    }

    fn insert(&mut self, at: Option<usize>, key: [u32; 5], v: f32) {
        if self.len * 2 >= Self::SLOTS {
            return;
        }
        if let Some(slot) = at.and_then(|i| self.slots.get_mut(i)) {
            *slot = Some((key, v));
            self.len += 1;
        }
    }
}

struct Search<'a> {
    th: &'a Thumb,
    grid: &'a Grid,
    frame: &'a Frame,
    fast: Option<Fast<'a>>,
    memo: Memo,
    /// Transforms evaluated, a transform met again counted again (as when each was computed).
    evals: u32,
}

impl<'a> Search<'a> {
    fn new(th: &'a Thumb, grid: &'a Grid, frame: &'a Frame, fast: Option<Fast<'a>>) -> Search<'a> {
        Search { th, grid, frame, fast, memo: Memo::new(), evals: 0 }
    }

    fn eval(&mut self, xf: &Xf) -> f32 {
        self.evals += 1;
        let key = Memo::key(xf);
        match self.memo.find(&key) {
            Ok(v) => v,
            Err(at) => {
                let v = corr(self.th, self.grid, self.frame, xf, self.fast.as_ref());
                self.memo.insert(at, key, v);
                v
            }
        }
    }
}

fn clamp_xf(x: Xf, r: &Ranges) -> Xf {
    Xf {
        tx: x.tx.clamp(-r.shift_mm, r.shift_mm),
        ty: x.ty.clamp(-r.shift_mm, r.shift_mm),
        angle_deg: x.angle_deg.clamp(-r.angle_deg, r.angle_deg),
        scale: x.scale.clamp(r.scale.0, r.scale.1),
        aspect: x.aspect.clamp(r.aspect.0, r.aspect.1),
    }
}

/// Compass search from `start`: tries ± each step, keeps improvements, halves the steps when
/// nothing improves, until the shift step falls below `min_shift`.
fn refine(s: &mut Search<'_>, start: Xf, r: &Ranges, init: [f32; 5], min_shift: f32) -> (Xf, f32) {
    let mut best = start;
    let mut best_v = s.eval(&best);
    let mut steps = init;
    let free = [
        true,
        true,
        r.angle_deg > 0.0,
        r.scale.1 > r.scale.0,
        r.aspect.1 > r.aspect.0,
    ];
    for _round in 0..60 {
        let mut improved = false;
        for k in 0..5 {
            if !free[k] {
                continue;
            }
            for sign in [1.0f32, -1.0] {
                let mut c = best;
                let delta = sign * steps[k];
                match k {
                    0 => c.tx += delta,
                    1 => c.ty += delta,
                    2 => c.angle_deg += delta,
                    3 => c.scale += delta,
                    _ => c.aspect += delta,
                }
                let c = clamp_xf(c, r);
                if c == best {
                    continue;
                }
                let v = s.eval(&c);
                if v > best_v {
                    best_v = v;
                    best = c;
                    improved = true;
                    break;
                }
            }
        }
        if !improved {
            for st in steps.iter_mut() {
                *st *= 0.5;
            }
            if steps[0] < min_shift {
                break;
            }
        }
    }
    (best, best_v)
}

/// How the alignment search proceeds (fixed; calibration is made with [`PLAN`]).
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub struct SearchPlan {
    /// Grid step of the exhaustive coarse shift search, mm.
    pub coarse_step: f32,
    /// At most this many coarse peaks are refined...
    pub max_starts: usize,
    /// ...and only those whose coarse correlation is within this of the best.
    pub start_gap: f32,
    /// Initial compass steps (shift x, shift y mm, angle deg, scale, aspect) and the final shift
    /// step, for the coarse and the fine stage.
    pub coarse_init: [f32; 5],
    pub coarse_min: f32,
    pub fine_init: [f32; 5],
    pub fine_min: f32,
}

#[doc(hidden)]
pub const PLAN: SearchPlan = SearchPlan {
    coarse_step: 0.6,
    max_starts: 2,
    start_gap: 0.05,
    coarse_init: [0.2, 0.2, 0.6, 0.03, 0.03],
    coarse_min: 0.05,
    fine_init: [0.1, 0.1, 0.3, 0.015, 0.015],
    fine_min: 0.025,
};

/// Compares a reference photo with a probe. `kind` selects the search ranges (and, through
/// [`super::decide`], the threshold).
pub fn compare(reference: &PhotoFeatures, probe: &Probe, kind: CompareKind) -> PhotoScore {
    compare_with(reference, probe, kind, &PLAN)
}

/// The decision distance of [`compare`] (`PhotoScore::distance`) without the measures that are
/// only reported (pHashes, unaligned correlation): what a verification needs.
pub fn compare_distance(reference: &PhotoFeatures, probe: &Probe, kind: CompareKind) -> f64 {
    let prepared = Prepared::new(probe, Fast::available());
    let (_, rbest, _) = search(reference, probe, kind, &PLAN, &prepared);
    (1.0 - rbest as f64).clamp(0.0, 2.0)
}

#[doc(hidden)]
pub fn compare_with(
    reference: &PhotoFeatures,
    probe: &Probe,
    kind: CompareKind,
    plan: &SearchPlan,
) -> PhotoScore {
    compare_prepared(reference, probe, kind, plan, &Prepared::new(probe, Fast::available()))
}

/// The probe's grids as bilinear quads for the vectorised correlation, made once per comparison
/// (empty when it does not run: every correlation then takes the scalar loop).
struct Prepared {
    coarse: Vec<[f32; 4]>,
    fine: Vec<[f32; 4]>,
}

impl Prepared {
    fn new(probe: &Probe, vector: bool) -> Prepared {
        match vector {
            true => Prepared { coarse: quads(&probe.grids.coarse), fine: quads(&probe.grids.fine) },
            false => Prepared { coarse: Vec::new(), fine: Vec::new() },
        }
    }
}

fn compare_prepared(
    reference: &PhotoFeatures,
    probe: &Probe,
    kind: CompareKind,
    plan: &SearchPlan,
    prepared: &Prepared,
) -> PhotoScore {
    let (xf, rbest, evaluations) = search(reference, probe, kind, plan, prepared);
    let unaligned = corr(
        &reference.fine,
        &probe.grids.fine,
        &probe.grids.frame,
        &Xf::IDENTITY,
        Fast::new(&prepared.fine).as_ref(),
    );
    let distance = (1.0 - rbest as f64).clamp(0.0, 2.0);
    let ph = phash_region(&probe.grids.fine, &probe.grids.frame, &xf, &PARAMS);
    let ph0 = phash_region(
        &probe.grids.fine,
        &probe.grids.frame,
        &Xf::IDENTITY,
        &PARAMS,
    );
    PhotoScore {
        kind,
        distance,
        aligned: Alignment {
            dx_mm: xf.tx as f64,
            dy_mm: xf.ty as f64,
            angle_deg: xf.angle_deg as f64,
            scale: xf.scale as f64,
            aspect: xf.aspect as f64,
        },
        measures: Measures {
            correlation_distance: distance,
            unaligned_correlation_distance: (1.0 - unaligned as f64).clamp(0.0, 2.0),
            phash_bits: hamming(&reference.phash(), &ph),
            unaligned_phash_bits: hamming(&reference.phash(), &ph0),
        },
        evaluations,
    }
}

/// The alignment search: the best transform, its correlation and the number of evaluations.
fn search(
    reference: &PhotoFeatures,
    probe: &Probe,
    kind: CompareKind,
    plan: &SearchPlan,
    prepared: &Prepared,
) -> (Xf, f32, u32) {
    let r = ranges(kind, probe.printed);
    let mid = Xf {
        tx: 0.0,
        ty: 0.0,
        angle_deg: 0.0,
        scale: 1.0f32.clamp(r.scale.0, r.scale.1),
        aspect: 1.0f32.clamp(r.aspect.0, r.aspect.1),
    };
    // 1. Exhaustive shift search on the coarse thumbnails.
    let frame = &probe.grids.frame;
    let mut coarse = Search::new(&reference.coarse, &probe.grids.coarse, frame, Fast::new(&prepared.coarse));
    let step = plan.coarse_step.max(0.05);
    let n = (r.shift_mm / step).floor() as i32;
    let mut cands: Vec<(f32, Xf)> = Vec::with_capacity(((2 * n + 1) * (2 * n + 1)) as usize);
    for j in -n..=n {
        for i in -n..=n {
            let xf = Xf {
                tx: i as f32 * step,
                ty: j as f32 * step,
                ..mid
            };
            let v = coarse.eval(&xf);
            cands.push((v, xf));
        }
    }
    cands.sort_by(|a, b| b.0.total_cmp(&a.0));
    // Well separated peaks close to the best.
    let top = cands.first().map(|c| c.0).unwrap_or(0.0);
    let mut starts: Vec<Xf> = Vec::new();
    for (v, xf) in &cands {
        if starts.len() >= plan.max_starts.max(1) || *v < top - plan.start_gap {
            break;
        }
        if starts
            .iter()
            .all(|s| (s.tx - xf.tx).abs() > 1.0 || (s.ty - xf.ty).abs() > 1.0)
        {
            starts.push(*xf);
        }
    }
    if starts.is_empty() {
        starts.push(mid);
    }
    // 2. Compass search on the coarse thumbnails from each start, over all free parameters.
    let mut coarse_best: Vec<(Xf, f32)> = starts
        .iter()
        .map(|st| refine(&mut coarse, *st, &r, plan.coarse_init, plan.coarse_min))
        .collect();
    coarse_best.sort_by(|a, b| b.1.total_cmp(&a.1));
    // 3. Compass search on the fine thumbnails from the best coarse result.
    let mut fine = Search::new(&reference.fine, &probe.grids.fine, frame, Fast::new(&prepared.fine));
    let from = coarse_best.first().map(|b| b.0).unwrap_or(mid);
    let (xf, rbest) = refine(&mut fine, from, &r, plan.fine_init, plan.fine_min);
    (xf, rbest, coarse.evals + fine.evals)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::photo::{crop_printed_photo_from_png, decode, features::Params};

    fn read(p: &str) -> Vec<u8> {
        std::fs::read(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join(p)).expect("fixture")
    }

    /// Each quad holds the four values bilinear interpolation reads, clamped as `Grid::get`.
    #[test]
    fn quads_are_the_clamped_bilinear_corners() {
        for (w, h) in [(1, 1), (1, 4), (5, 1), (7, 3)] {
            let g = Grid { w, h, cell_mm: 1.0, data: (0..w * h).map(|v| v as f32 * 1.5 - 3.0).collect() };
            let q = quads(&g);
            assert_eq!(q.len(), w * h);
            for y in 0..h {
                for x in 0..w {
                    let want = [g.get(x, y), g.get(x + 1, y), g.get(x, y + 1), g.get(x + 1, y + 1)];
                    assert_eq!(q[y * w + x], want, "{w}x{h} at ({x}, {y})");
                }
            }
        }
    }

    /// The comparison pairs of the pin: references and probes made from the committed fixture
    /// faces (acceptance JPEGs through the reduced-size decode, chip photos, printed probes from
    /// our print simulation, one at the worst allowed scan geometry) and the sample card.
    fn pin_pairs() -> &'static [(String, PhotoFeatures, Probe, CompareKind)] {
        static PAIRS: std::sync::OnceLock<Vec<(String, PhotoFeatures, Probe, CompareKind)>> = std::sync::OnceLock::new();
        PAIRS.get_or_init(make_pin_pairs)
    }

    fn make_pin_pairs() -> Vec<(String, PhotoFeatures, Probe, CompareKind)> {
        // The standard photos, chip photos and printed crops the testkit's studio and print
        // simulation make (fixtures/photos; the testkit checks they are still what it makes).
        let pinned = |f: String| read(&format!("fixtures/photos/{f}"));
        let names = ["A000022", "A000109", "A000361", "B000013", "B000208", "B000575"];
        let mut accs = Vec::new();
        let mut chips = Vec::new();
        let mut prints = Vec::new();
        for (i, name) in names.iter().enumerate() {
            let acc_jpg = pinned(format!("{name}-acceptance.jpg"));
            let chip_img = decode(&pinned(format!("{name}-chip.jpg"))).expect("chip");
            if i < 3 {
                let crop = decode(&pinned(format!("print-{i}.png"))).expect("printed crop");
                prints.push(Probe::from_printed_crop(&crop, 600));
            }
            accs.push(PhotoFeatures::from_bytes(&acc_jpg).expect("acceptance features"));
            chips.push(PhotoFeatures::from_reference(&chip_img));
        }
        let mut pairs = Vec::new();
        let n = names.len();
        for (i, acc) in accs.iter().enumerate() {
            for j in [i, (i + 1) % n] {
                let p = Probe::from_features(&chips[j]);
                pairs.push((format!("A{i}~C{j}"), acc.clone(), p, CompareKind::ChipVsAcceptance));
            }
        }
        for (j, p) in prints.iter().enumerate() {
            for i in [j, j + 3] {
                pairs.push((format!("A{i}~S{j}"), accs[i].clone(), p.clone(), CompareKind::PrintedVsAcceptance));
                pairs.push((format!("C{i}~S{j}"), chips[i].clone(), p.clone(), CompareKind::PrintedVsChip));
            }
        }
        let base = "fixtures/samples/pass-case/";
        let acc = PhotoFeatures::from_bytes(&read(&format!("{base}acceptance/451022202404011140/photo.jpg"))).expect("a");
        let dg2 = read(&format!("{base}chip/dg2.bin"));
        let at = dg2.windows(2).position(|w| w == [0xFF, 0xD8]).expect("jpeg");
        let chip = PhotoFeatures::from_bytes(&dg2[at..]).expect("chip");
        let front = read(&format!("{base}surface/QC-20240408-9308/front.png"));
        let printed = Probe::from_printed_crop(&crop_printed_photo_from_png(&front, 600).expect("crop"), 600);
        pairs.push(("sample A~S".into(), acc.clone(), printed.clone(), CompareKind::PrintedVsAcceptance));
        pairs.push(("sample S~C".into(), chip.clone(), printed, CompareKind::PrintedVsChip));
        pairs.push(("sample A~C".into(), acc, Probe::from_features(&chip), CompareKind::ChipVsAcceptance));
        pairs
    }

    /// SHA-256 (hex) of the comparison inputs: every thumbnail and grid value of the pairs.
    fn inputs_digest(pairs: &[(String, PhotoFeatures, Probe, CompareKind)]) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        let grid = |h: &mut Sha256, g: &Grid| {
            h.update((g.w as u64).to_le_bytes());
            h.update((g.h as u64).to_le_bytes());
            h.update(g.cell_mm.to_bits().to_le_bytes());
            for v in &g.data {
                h.update(v.to_bits().to_le_bytes());
            }
        };
        for (name, r, p, _) in pairs {
            h.update(name.as_bytes());
            for th in [&r.fine, &r.coarse] {
                for v in th.tw.iter().chain(&th.w).chain([&th.wsum, &th.origin.0, &th.origin.1, &th.step.0, &th.step.1]) {
                    h.update(v.to_bits().to_le_bytes());
                }
            }
            for g in [&r.grids.fine, &p.grids.fine, &p.grids.coarse] {
                grid(&mut h, g);
            }
            let f = &p.grids.frame;
            for v in [f.x0, f.y0, f.w, f.h] {
                h.update(v.to_bits().to_le_bytes());
            }
        }
        hex::encode(h.finalize())
    }

    /// One comparison's outputs: [`compare`] under [`PLAN`] and under a wider plan (more
    /// starts), and [`compare_distance`].
    struct Outputs {
        score: PhotoScore,
        wide: PhotoScore,
        distance: f64,
    }

    const WIDE: SearchPlan = SearchPlan { max_starts: 4, start_gap: 0.3, ..PLAN };

    /// Every output as bits, one line per pair (for a readable diff when the digest moves).
    fn output_lines(pairs: &[(String, PhotoFeatures, Probe, CompareKind)], run: impl Fn(&PhotoFeatures, &Probe, CompareKind) -> Outputs) -> Vec<String> {
        pairs
            .iter()
            .map(|(name, r, p, kind)| {
                let o = run(r, p, *kind);
                let mut line = format!("{name} {kind:?}");
                for s in [o.score, o.wide] {
                    let (a, m) = (s.aligned, s.measures);
                    for v in [s.distance, a.dx_mm, a.dy_mm, a.angle_deg, a.scale, a.aspect] {
                        line += &format!(" {:016x}", v.to_bits());
                    }
                    for v in [m.correlation_distance, m.unaligned_correlation_distance] {
                        line += &format!(" {:016x}", v.to_bits());
                    }
                    line += &format!(" {} {} {}", m.phash_bits, m.unaligned_phash_bits, s.evaluations);
                }
                line + &format!(" {:016x}", o.distance.to_bits())
            })
            .collect()
    }

    /// The public entry points, as a verification calls them.
    fn public(r: &PhotoFeatures, p: &Probe, kind: CompareKind) -> Outputs {
        Outputs { score: compare(r, p, kind), wide: compare_with(r, p, kind, &WIDE), distance: compare_distance(r, p, kind) }
    }

    /// The same with the vectorised correlation on or off.
    fn with_vector(vector: bool) -> impl Fn(&PhotoFeatures, &Probe, CompareKind) -> Outputs {
        move |r, p, kind| {
            let prepared = Prepared::new(p, vector);
            Outputs {
                score: compare_prepared(r, p, kind, &PLAN, &prepared),
                wide: compare_prepared(r, p, kind, &WIDE, &prepared),
                distance: (1.0 - search(r, p, kind, &PLAN, &prepared).1 as f64).clamp(0.0, 2.0),
            }
        }
    }

    /// The pin: the thresholds are calibrated on the distances this search produces, so every
    /// output (distance, measures, alignment, evaluation count) must stay the same to the bit
    /// over a fixed set of genuine and other-person pairs. The inputs are pinned separately, so
    /// a change in the features (not in the search) is reported as such.
    #[test]
    fn comparison_outputs_are_pinned_to_the_bit() {
        use sha2::{Digest, Sha256};
        let pairs = pin_pairs();
        assert_eq!(pairs.len(), 27);
        assert_eq!(
            inputs_digest(pairs),
            "0da700ef995b53f73d76678cf58819d0696f1e7e34f45c66276e2c170369fa51",
            "the comparison inputs (features, grids or print simulation) changed: not a search change"
        );
        let lines = output_lines(pairs, public);
        let digest = hex::encode(Sha256::digest(lines.join("\n").as_bytes()));
        assert_eq!(digest, "bc13050642842d007b09b4ebce35441f1b53336eb1a13dfda735c80bef02517f", "comparison outputs changed:\n{}", lines.join("\n"));
    }

    /// The vectorised sums give the scalar loop's correlation to the bit, over the sample card's
    /// three pairs, every thumbnail and a spread of transforms (most of them inside the grid).
    #[test]
    fn vectorised_correlation_equals_the_scalar_loop() {
        if !Fast::available() {
            eprintln!("no AVX2 here: only the scalar loop runs");
            return;
        }
        let base = "fixtures/samples/pass-case/";
        let acc = PhotoFeatures::from_bytes(&read(&format!("{base}acceptance/451022202404011140/photo.jpg"))).expect("a");
        let dg2 = read(&format!("{base}chip/dg2.bin"));
        let at = dg2.windows(2).position(|w| w == [0xFF, 0xD8]).expect("jpeg");
        let chip_img = decode(&dg2[at..]).expect("chip");
        let chip = PhotoFeatures::from_reference(&chip_img);
        let front = read(&format!("{base}surface/QC-20240408-9308/front.png"));
        let printed = Probe::from_printed_crop(&crop_printed_photo_from_png(&front, 600).expect("crop"), 600);
        let (mut n, mut inside) = (0, 0);
        for (r, p) in [(&acc, &printed), (&chip, &printed), (&acc, &Probe::from_features(&chip))] {
            for (th, grid) in [(&r.fine, &p.grids.fine), (&r.coarse, &p.grids.coarse)] {
                let q = quads(grid);
                let fast = Fast::new(&q);
                for k in 0..60 {
                    let t = k as f32;
                    let xf = Xf {
                        tx: (t * 0.37).sin() * 2.4,
                        ty: (t * 0.53).cos() * 2.4,
                        angle_deg: (t * 0.71).sin() * 1.2,
                        scale: 1.0 + (t * 0.29).cos() * 0.08,
                        aspect: 1.0 + (t * 0.43).sin() * 0.1,
                    };
                    inside += usize::from(Mapping::new(th, grid, &p.grids.frame, &xf).inside);
                    let a = corr(th, grid, &p.grids.frame, &xf, None);
                    let b = corr(th, grid, &p.grids.frame, &xf, fast.as_ref());
                    assert_eq!(a.to_bits(), b.to_bits(), "transform {xf:?}: {a} vs {b}");
                    n += 1;
                }
            }
        }
        assert!(inside >= 300, "only {inside} of {n} transforms took the vectorised sums");
        assert_eq!(n, 360);
    }

    /// Every instruction set gives the same comparisons to the bit: the whole search with the
    /// vectorised correlation (where this processor has it) and with the scalar loop alone.
    #[test]
    fn scalar_and_vectorised_comparisons_are_the_same() {
        let pairs = pin_pairs();
        let scalar = output_lines(pairs, with_vector(false));
        assert_eq!(output_lines(pairs, with_vector(true)), scalar);
        assert_eq!(output_lines(pairs, public), scalar);
    }

    /// Thumbnails whose rows are not whole groups of eight (the vectorised sums finish each row
    /// point by point) and odd sizes: the same bits as the scalar loop, per correlation and for
    /// whole comparisons.
    #[test]
    fn vectorised_sums_with_partial_groups_equal_the_scalar_loop() {
        let p = Params { fine: (29, 37), coarse: (13, 17), ..PARAMS };
        let face = |name: &str| decode(&read(&format!("fixtures/faces/{name}.jpg"))).expect("face");
        let (a, b) = (decode(&read("fixtures/photos/A000069-acceptance.jpg")).expect("a"), face("B000220"));
        let chip = decode(&read("fixtures/photos/A000069-chip.jpg")).expect("chip");
        let r = PhotoFeatures::from_reference_with(&a, &p);
        let mut inside = 0;
        for probe in [Probe::from_photo_with(&chip, &p), Probe::from_photo_with(&b, &p)] {
            for (th, grid) in [(&r.fine, &probe.grids.fine), (&r.coarse, &probe.grids.coarse)] {
                let q = quads(grid);
                let fast = Fast::new(&q);
                for k in 0..40 {
                    let t = k as f32;
                    let xf = Xf {
                        tx: (t * 0.61).sin() * 1.6,
                        ty: (t * 0.47).cos() * 1.6,
                        angle_deg: (t * 0.83).sin() * 1.2,
                        scale: 1.0 + (t * 0.31).cos() * 0.08,
                        aspect: 1.0 + (t * 0.37).sin() * 0.1,
                    };
                    inside += usize::from(Mapping::new(th, grid, &probe.grids.frame, &xf).inside);
                    let x = corr(th, grid, &probe.grids.frame, &xf, None);
                    let y = corr(th, grid, &probe.grids.frame, &xf, fast.as_ref());
                    assert_eq!(x.to_bits(), y.to_bits(), "transform {xf:?}: {x} vs {y}");
                }
            }
            let kind = CompareKind::ChipVsAcceptance;
            let (s, v) = (with_vector(false)(&r, &probe, kind), with_vector(true)(&r, &probe, kind));
            assert_eq!((s.score, s.wide, s.distance.to_bits()), (v.score, v.wide, v.distance.to_bits()));
        }
        assert!(inside >= 100, "only {inside} of 160 transforms inside");
    }

    /// The memo gives back what was put in, by exact bits (0.0 and -0.0 are two transforms), and
    /// stops remembering at half its slots.
    #[test]
    fn memo_remembers_by_bits_up_to_half_full() {
        let mut m = Memo::new();
        let xf = |k: u32| Xf { tx: k as f32 * 0.1, ..Xf::IDENTITY };
        for k in 0..Memo::SLOTS as u32 {
            let key = Memo::key(&xf(k));
            let at = m.find(&key).expect_err("new key");
            m.insert(at, key, k as f32);
        }
        assert_eq!(m.len, Memo::SLOTS / 2);
        for k in 0..Memo::SLOTS as u32 {
            let got = m.find(&Memo::key(&xf(k)));
            if (k as usize) < Memo::SLOTS / 2 {
                assert_eq!(got, Ok(k as f32));
            } else {
                assert!(got.is_err(), "{k} was not to be remembered");
            }
        }
        let zero = Memo::key(&Xf { tx: 0.0, ..Xf::IDENTITY });
        let minus = Memo::key(&Xf { tx: -0.0, ..Xf::IDENTITY });
        assert_eq!(m.find(&zero), Ok(0.0));
        assert!(m.find(&minus).is_err());
    }
}

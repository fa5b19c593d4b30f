//! Grey working grids: area-averaged luma of an RGB image on a square grid of a given cell size
//! in millimetres, Gaussian smoothing, and clamped bilinear sampling. All indexing is bounded by
//! construction (a grid is never empty and `data.len() == w * h`).

use image::RgbImage;

/// A non-empty grid of grey values (0–255 scale). Cell `(i, j)` has its centre at
/// `((i + 0.5) * cell_mm, (j + 0.5) * cell_mm)` from the grid origin.
#[derive(Clone)]
pub(crate) struct Grid {
    pub w: usize,
    pub h: usize,
    pub cell_mm: f32,
    pub data: Vec<f32>,
}

/// A source rectangle in (fractional) source pixels.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SrcRect {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

/// Per output cell along one axis: first source index and the overlap weights.
struct AxisWeights {
    start: Vec<usize>,
    weights: Vec<Vec<f32>>,
}

fn axis_weights(src_len: usize, from: f64, step: f64, cells: usize) -> AxisWeights {
    let mut start = Vec::with_capacity(cells);
    let mut weights = Vec::with_capacity(cells);
    for c in 0..cells {
        let a = from + c as f64 * step;
        let b = a + step;
        let lo = a.floor().max(0.0);
        let hi = b.ceil().min(src_len as f64);
        let mut ws = Vec::new();
        let s = lo as usize;
        let mut i = lo;
        while i < hi {
            let ov = (b.min(i + 1.0) - a.max(i)).max(0.0);
            ws.push(ov as f32);
            i += 1.0;
        }
        start.push(s);
        weights.push(ws);
    }
    AxisWeights { start, weights }
}

/// BT.601 luma in 8.8 fixed point (77 + 150 + 29 = 256), exact in f32.
#[inline(always)]
fn luma(px: &[u8; 3]) -> f32 {
    ((77 * px[0] as u32 + 150 * px[1] as u32 + 29 * px[2] as u32) as f32) * (1.0 / 256.0)
}

/// [`luma`] of each pixel of an RGB row into `out` (`rgb.len() == 3 * out.len()`), eight pixels
/// at a time (fixed offsets the compiler turns into byte shuffles).
#[inline(always)]
fn luma_row(rgb: &[u8], out: &mut [f32]) {
    let (px8, rest) = rgb.as_chunks::<24>();
    let (out8, out_rest) = out.as_chunks_mut::<8>();
    for (o, c) in out8.iter_mut().zip(px8) {
        for k in 0..8 {
            o[k] = luma(&[c[3 * k], c[3 * k + 1], c[3 * k + 2]]);
        }
    }
    for (v, px) in out_rest.iter_mut().zip(rest.as_chunks::<3>().0) {
        *v = luma(px);
    }
}

/// [`luma`] of pixels of `channels` bytes (1 grey, 2 grey+alpha, 3 RGB, 4 RGBA) into `out`, one
/// value per pixel: grey counts as R = G = B (its luma is the grey value exactly) and alpha is
/// dropped, as `image`'s conversions to RGB do.
#[inline(always)]
fn luma_pixels(src: &[u8], channels: usize, out: &mut [f32]) {
    match channels {
        3 => luma_row(src, out),
        1 => {
            for (v, &g) in out.iter_mut().zip(src) {
                *v = luma(&[g, g, g]);
            }
        }
        2 => {
            for (v, px) in out.iter_mut().zip(src.chunks_exact(2)) {
                *v = luma(&[px[0], px[0], px[0]]);
            }
        }
        _ => {
            for (v, px) in out.iter_mut().zip(src.chunks_exact(channels.max(3))) {
                *v = luma(&[px[0], px[1], px[2]]);
            }
        }
    }
}

/// Luma of white: (77 + 150 + 29) * 255 / 256, exactly 255.
const WHITE: f32 = 255.0;

/// An output row of [`AreaRows`] being summed: the weighted sum of its source rows so far
/// (columns `x_lo..x_hi`) and the sum of their weights.
struct OpenRow {
    c: usize,
    acc: Vec<f32>,
    wy_sum: f32,
}

/// Area-averaged luma of an image that arrives row by row, top to bottom: the engine of
/// [`Grid::from_rgb_area`], and of the printed-photo grid taken straight from a scan's rows as
/// they are decoded (no crop image in between). Each output row is the weighted sum of its
/// source rows in order, then weighted along x once: the same operations in the same order
/// whichever way the rows come, so the same values to the bit. Source columns are `columns()`;
/// rows not fed, and pixels outside the image, do not count (a cell with none is white).
pub(crate) struct AreaRows {
    out: Grid,
    xw: AxisWeights,
    yw: AxisWeights,
    wsum_x: Vec<f32>,
    x_lo: usize,
    x_hi: usize,
    /// Source rows some output row takes with a positive weight.
    wanted: Vec<bool>,
    /// The next output row to open.
    next_c: usize,
    open: Vec<OpenRow>,
    spare: Vec<Vec<f32>>,
    /// Luma of the current source row, columns `x_lo..x_hi`.
    vals: Vec<f32>,
    #[cfg(target_arch = "x86_64")]
    v3: Option<pulp::x86::V3>,
}

/// [`AreaRows::push_pixels`] as an AVX2 operation.
#[cfg(target_arch = "x86_64")]
struct Push<'a> {
    rows: &'a mut AreaRows,
    y: usize,
    src: &'a [u8],
    channels: usize,
    offset: i64,
}

#[cfg(target_arch = "x86_64")]
impl pulp::NullaryFnOnce for Push<'_> {
    type Output = ();

    #[inline(always)]
    fn call(self) {
        self.rows.push_impl(self.y, self.src, self.channels, self.offset)
    }
}

impl AreaRows {
    /// Averaging of the source rectangle `r` of an `iw x ih` image onto `w x h` cells of
    /// `cell_mm`, compiled for AVX2 when the processor has it.
    pub fn new(iw: usize, ih: usize, r: SrcRect, w: usize, h: usize, cell_mm: f32) -> AreaRows {
        #[allow(unused_mut)]
        let mut rows = Self::new_baseline(iw, ih, r, w, h, cell_mm);
        #[cfg(target_arch = "x86_64")]
        {
            rows.v3 = pulp::x86::V3::try_new();
        }
        rows
    }

    /// [`AreaRows::new`] without the AVX2 dispatch.
    fn new_baseline(iw: usize, ih: usize, r: SrcRect, w: usize, h: usize, cell_mm: f32) -> AreaRows {
        let w = w.max(1);
        let h = h.max(1);
        let out = Grid::filled(w, h, cell_mm, 255.0);
        let xw = axis_weights(iw, r.x, r.w / w as f64, w);
        let yw = axis_weights(ih, r.y, r.h / h as f64, h);
        let mut x_lo = xw.start.first().copied().unwrap_or(0).min(iw);
        let x_hi = xw
            .start
            .iter()
            .zip(&xw.weights)
            .map(|(s, ws)| s + ws.len())
            .max()
            .unwrap_or(0)
            .min(iw);
        let mut wanted = vec![false; ih];
        if iw == 0 || x_lo >= x_hi {
            // Nothing to average: every cell stays white.
            x_lo = x_hi;
        } else {
            for (s, ws) in yw.start.iter().zip(&yw.weights) {
                for (k, &wy) in ws.iter().enumerate() {
                    if let Some(slot) = wanted.get_mut(s + k) {
                        *slot |= wy > 0.0;
                    }
                }
            }
        }
        AreaRows {
            out,
            wsum_x: xw.weights.iter().map(|ws| ws.iter().sum()).collect(),
            xw,
            yw,
            x_lo,
            x_hi,
            wanted,
            next_c: 0,
            open: Vec::new(),
            spare: Vec::new(),
            vals: vec![0f32; x_hi - x_lo],
            #[cfg(target_arch = "x86_64")]
            v3: None,
        }
    }

    /// Whether source row `y` counts (a row not wanted may be skipped or fed, alike).
    pub fn wants(&self, y: usize) -> bool {
        self.wanted.get(y).copied().unwrap_or(false)
    }

    /// Feeds source row `y` (rows in increasing order): source column `x` is the pixel at
    /// `x - offset` of `src` (pixels of `channels` bytes), white where that is outside `src`.
    pub fn push_pixels(&mut self, y: usize, src: &[u8], channels: usize, offset: i64) {
        if !self.wants(y) {
            return;
        }
        #[cfg(target_arch = "x86_64")]
        if let Some(simd) = self.v3 {
            return simd.vectorize(Push { rows: self, y, src, channels, offset });
        }
        self.push_impl(y, src, channels, offset)
    }

    /// Feeds a white source row `y`.
    pub fn push_white(&mut self, y: usize) {
        self.push_pixels(y, &[], 3, 0);
    }

    #[inline(always)]
    fn push_impl(&mut self, y: usize, src: &[u8], channels: usize, offset: i64) {
        let channels = channels.clamp(1, 4);
        // Source columns x_lo..x_hi: those with a pixel in `src` are a..b.
        let n = (src.len() / channels) as i64;
        let a = (offset.max(self.x_lo as i64)).min(self.x_hi as i64);
        let b = (offset + n).clamp(a, self.x_hi as i64);
        let (a0, b0) = ((a - self.x_lo as i64) as usize, (b - self.x_lo as i64) as usize);
        let (p0, p1) = ((a - offset) as usize * channels, (b - offset) as usize * channels);
        if let (Some(pix), Some(dst)) = (src.get(p0..p1), self.vals.get_mut(a0..b0)) {
            luma_pixels(pix, channels, dst);
        }
        self.vals.iter_mut().take(a0).for_each(|v| *v = WHITE);
        self.vals.iter_mut().skip(b0).for_each(|v| *v = WHITE);
        self.accumulate(y);
    }

    /// Adds `vals` (source row `y`) to every output row that takes it and completes the rows
    /// that end with it.
    #[inline(always)]
    fn accumulate(&mut self, y: usize) {
        let h = self.out.h;
        while self.next_c < h && self.yw.start.get(self.next_c).is_some_and(|&s| s <= y) {
            let mut acc = self.spare.pop().unwrap_or_default();
            acc.clear();
            acc.resize(self.x_hi - self.x_lo, 0.0);
            self.open.push(OpenRow { c: self.next_c, acc, wy_sum: 0.0 });
            self.next_c += 1;
        }
        let mut i = 0;
        while i < self.open.len() {
            let (start, ws): (usize, &[f32]) = match (self.yw.start.get(self.open[i].c), self.yw.weights.get(self.open[i].c)) {
                (Some(&s), Some(ws)) => (s, ws.as_slice()),
                _ => (y, &[][..]),
            };
            let row = &mut self.open[i];
            if let Some(&wy) = y.checked_sub(start).and_then(|k| ws.get(k)) {
                if wy > 0.0 {
                    for (a, v) in row.acc.iter_mut().zip(&self.vals) {
                        *a += wy * v;
                    }
                    row.wy_sum += wy;
                }
            }
            if start + ws.len() <= y + 1 {
                let done = self.open.swap_remove(i);
                self.complete(done);
            } else {
                i += 1;
            }
        }
    }

    /// Weighs a summed output row along x into the grid.
    #[inline(always)]
    fn complete(&mut self, row: OpenRow) {
        let w = self.out.w;
        if row.wy_sum > 1e-6 {
            if let Some(cells) = self.out.data.get_mut(row.c * w..(row.c + 1) * w) {
                for (((o, ws), &s), wx) in cells.iter_mut().zip(&self.xw.weights).zip(&self.xw.start).zip(&self.wsum_x) {
                    let Some(src) = s
                        .checked_sub(self.x_lo)
                        .and_then(|s0| row.acc.get(s0..s0 + ws.len()))
                    else {
                        continue;
                    };
                    let v: f32 = src.iter().zip(ws).map(|(a, b)| a * b).sum();
                    let norm = wx * row.wy_sum;
                    if norm > 1e-6 {
                        *o = v / norm;
                    }
                }
            }
        }
        self.spare.push(row.acc);
    }

    /// The grid, completing the rows still open (their remaining source rows were not fed).
    pub fn finish(self) -> Grid {
        #[cfg(target_arch = "x86_64")]
        if let Some(simd) = self.v3 {
            return simd.vectorize(Finish(self));
        }
        self.finish_impl()
    }

    #[inline(always)]
    fn finish_impl(mut self) -> Grid {
        let mut open = std::mem::take(&mut self.open);
        open.sort_by_key(|r| r.c);
        for row in open {
            self.complete(row);
        }
        self.out
    }
}

/// [`AreaRows::finish`] as an AVX2 operation.
#[cfg(target_arch = "x86_64")]
struct Finish(AreaRows);

#[cfg(target_arch = "x86_64")]
impl pulp::NullaryFnOnce for Finish {
    type Output = Grid;

    #[inline(always)]
    fn call(self) -> Grid {
        self.0.finish_impl()
    }
}

impl Grid {
    pub fn filled(w: usize, h: usize, cell_mm: f32, v: f32) -> Grid {
        let w = w.max(1);
        let h = h.max(1);
        Grid {
            w,
            h,
            cell_mm,
            data: vec![v; w * h],
        }
    }

    /// Area-averaged luma of `src` over the source rectangle `r`, on `w x h` cells. Parts of the
    /// rectangle outside the image do not count; a cell entirely outside is white (255).
    /// Compiled for AVX2 when the processor has it (the same operations in the same order, so
    /// the same values to the bit: the per-pixel luma is an exact integer sum scaled by 1/256).
    pub fn from_rgb_area(img: &RgbImage, r: SrcRect, w: usize, h: usize, cell_mm: f32) -> Grid {
        Self::area_rows(img, AreaRows::new(img.width() as usize, img.height() as usize, r, w, h, cell_mm))
    }

    /// Feeds the rows of `img` that `rows` wants.
    fn area_rows(img: &RgbImage, mut rows: AreaRows) -> Grid {
        let iw = img.width() as usize;
        for (y, row) in img.as_raw().chunks_exact(iw.max(1) * 3).enumerate() {
            rows.push_pixels(y, row, 3, 0);
        }
        rows.finish()
    }

    #[inline]
    pub fn get(&self, x: usize, y: usize) -> f32 {
        let x = x.min(self.w - 1);
        let y = y.min(self.h - 1);
        self.data[y * self.w + x]
    }

    /// Bilinear sample at grid coordinates (cell centres at integers), clamped to the edges.
    #[inline]
    pub fn sample(&self, x: f32, y: f32) -> f32 {
        let xm = (self.w - 1) as f32;
        let ym = (self.h - 1) as f32;
        // max/min (not clamp) so that NaN maps to 0.
        let xf = x.max(0.0).min(xm);
        let yf = y.max(0.0).min(ym);
        let x0 = xf as usize;
        let y0 = yf as usize;
        let x1 = (x0 + 1).min(self.w - 1);
        let y1 = (y0 + 1).min(self.h - 1);
        let fx = xf - x0 as f32;
        let fy = yf - y0 as f32;
        let r0 = y0 * self.w;
        let r1 = y1 * self.w;
        let a = self.data[r0 + x0] + fx * (self.data[r0 + x1] - self.data[r0 + x0]);
        let b = self.data[r1 + x0] + fx * (self.data[r1 + x1] - self.data[r1 + x0]);
        a + fy * (b - a)
    }

    /// Bilinear sample at a position in millimetres from the grid origin.
    #[inline]
    pub fn sample_mm(&self, x_mm: f32, y_mm: f32) -> f32 {
        self.sample(x_mm / self.cell_mm - 0.5, y_mm / self.cell_mm - 0.5)
    }

    /// 2x2 averaging into a grid of twice the cell size (an odd last row or column is dropped).
    pub fn downsampled2(&self) -> Grid {
        let (w2, h2) = ((self.w / 2).max(1), (self.h / 2).max(1));
        let mut out = Grid::filled(w2, h2, self.cell_mm * 2.0, 0.0);
        for j in 0..h2 {
            for i in 0..w2 {
                let (x, y) = (2 * i, 2 * j);
                out.data[j * w2 + i] = 0.25
                    * (self.get(x, y)
                        + self.get(x + 1, y)
                        + self.get(x, y + 1)
                        + self.get(x + 1, y + 1));
            }
        }
        out
    }

    /// Bilinear interpolation of this grid (of cell 2c) at the cell centres of a `w x h` grid of
    /// cell c with the same origin: fine cell i sits at coarse coordinate i/2 - 1/4.
    pub fn upsampled2(&self, w: usize, h: usize) -> Vec<f32> {
        // Per fine index: (lower coarse index, upper coarse index, weight of the upper).
        let taps = |n: usize, max: usize| -> Vec<(usize, usize, f32)> {
            (0..n)
                .map(|i| {
                    let g = i as f32 / 2.0 - 0.25;
                    let g = g.max(0.0).min((max - 1) as f32);
                    let lo = g as usize;
                    let hi = (lo + 1).min(max - 1);
                    (lo, hi, g - lo as f32)
                })
                .collect()
        };
        let xt = taps(w, self.w);
        let yt = taps(h, self.h);
        // Rows first, at coarse height.
        let mut rows = vec![0f32; w * self.h];
        for (src, dst) in self.data.chunks_exact(self.w).zip(rows.chunks_exact_mut(w)) {
            for (d, &(lo, hi, f)) in dst.iter_mut().zip(&xt) {
                *d = src[lo] + f * (src[hi] - src[lo]);
            }
        }
        let mut out = vec![0f32; w * h];
        for (dst, &(lo, hi, f)) in out.chunks_exact_mut(w).zip(&yt) {
            let (a, b) = (&rows[lo * w..lo * w + w], &rows[hi * w..hi * w + w]);
            for ((d, x), y) in dst.iter_mut().zip(a).zip(b) {
                *d = x + f * (y - x);
            }
        }
        out
    }

    /// Separable Gaussian smoothing with clamped edges.
    pub fn blurred(&self, sigma_cells: f32) -> Grid {
        if sigma_cells.is_nan() || sigma_cells <= 0.05 {
            return self.clone();
        }
        let (radius, k) = gaussian_kernel(sigma_cells);
        let (w, h) = (self.w, self.h);
        // Rows: convolve an edge-padded copy of each row. Each output is the sum of its taps in
        // tap order (as `sum()` of the products would give), accumulated tap by tap over the
        // whole row so that the loop runs along x.
        let mut tmp = vec![0f32; w * h];
        let mut pad = vec![0f32; w + 2 * radius];
        for (src, dst) in self.data.chunks_exact(w).zip(tmp.chunks_exact_mut(w)) {
            let first = src.first().copied().unwrap_or(0.0);
            let last = src.last().copied().unwrap_or(0.0);
            pad[..radius].iter_mut().for_each(|v| *v = first);
            pad[radius..radius + w].copy_from_slice(src);
            pad[radius + w..].iter_mut().for_each(|v| *v = last);
            let k0 = k.first().copied().unwrap_or(0.0);
            for (d, &p) in dst.iter_mut().zip(&pad) {
                *d = p * k0;
            }
            for (t, &kv) in k.iter().enumerate().skip(1) {
                for (d, &p) in dst.iter_mut().zip(&pad[t..]) {
                    *d += p * kv;
                }
            }
        }
        // Columns: accumulate whole rows (vectorises along x).
        let mut out = Grid {
            w,
            h,
            cell_mm: self.cell_mm,
            data: vec![0f32; w * h],
        };
        for (y, dst) in out.data.chunks_exact_mut(w).enumerate() {
            for (t, kv) in k.iter().enumerate() {
                let yy = (y + t).saturating_sub(radius).min(h - 1);
                let src = &tmp[yy * w..yy * w + w];
                for (d, v) in dst.iter_mut().zip(src) {
                    *d += kv * v;
                }
            }
        }
        out
    }
}

/// The normalised Gaussian kernel of `sigma` cells over +-3 sigma: (radius, 2 radius + 1 taps).
fn gaussian_kernel(sigma_cells: f32) -> (usize, Vec<f32>) {
    let radius = (sigma_cells * 3.0).ceil() as usize;
    let mut k: Vec<f32> = (0..=2 * radius)
        .map(|i| {
            let d = i as f32 - radius as f32;
            (-(d * d) / (2.0 * sigma_cells * sigma_cells)).exp()
        })
        .collect();
    let s: f32 = k.iter().sum();
    k.iter_mut().for_each(|v| *v /= s);
    (radius, k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn area_average_of_uniform_image_is_uniform() {
        let img = RgbImage::from_pixel(37, 53, image::Rgb([100, 100, 100]));
        let g = Grid::from_rgb_area(
            &img,
            SrcRect {
                x: 0.0,
                y: 0.0,
                w: 37.0,
                h: 53.0,
            },
            10,
            13,
            1.0,
        );
        for v in &g.data {
            assert!((v - 100.0).abs() < 0.01, "{v}");
        }
    }

    #[test]
    fn area_average_preserves_left_right_split() {
        let mut img = RgbImage::from_pixel(40, 40, image::Rgb([0, 0, 0]));
        for y in 0..40 {
            for x in 20..40 {
                img.put_pixel(x, y, image::Rgb([200, 200, 200]));
            }
        }
        let g = Grid::from_rgb_area(
            &img,
            SrcRect {
                x: 0.0,
                y: 0.0,
                w: 40.0,
                h: 40.0,
            },
            4,
            4,
            1.0,
        );
        assert!(g.get(0, 0) < 1.0 && g.get(1, 2) < 1.0);
        assert!((g.get(2, 0) - 200.0).abs() < 0.5 && (g.get(3, 3) - 200.0).abs() < 0.5);
        // A cell straddling the edge averages.
        let g = Grid::from_rgb_area(
            &img,
            SrcRect {
                x: 0.0,
                y: 0.0,
                w: 40.0,
                h: 40.0,
            },
            3,
            3,
            1.0,
        );
        assert!((g.get(1, 1) - 100.0).abs() < 0.5, "{}", g.get(1, 1));
    }

    #[test]
    fn upsampling_matches_bilinear_sampling() {
        let g = Grid {
            w: 3,
            h: 2,
            cell_mm: 2.0,
            data: vec![0.0, 10.0, 20.0, 30.0, 40.0, 50.0],
        };
        let up = g.upsampled2(6, 4);
        for j in 0..4 {
            for i in 0..6 {
                let want = g.sample_mm((i as f32 + 0.5) * 1.0, (j as f32 + 0.5) * 1.0);
                assert!(
                    (up[j * 6 + i] - want).abs() < 1e-4,
                    "{i},{j}: {} vs {want}",
                    up[j * 6 + i]
                );
            }
        }
    }

    /// The first implementation of [`Grid::blurred`] (per output, `sum()` over the taps), kept
    /// as the oracle for the vectorised one.
    fn reference_blurred(g: &Grid, sigma_cells: f32) -> Grid {
        if sigma_cells.is_nan() || sigma_cells <= 0.05 {
            return g.clone();
        }
        let (radius, k) = gaussian_kernel(sigma_cells);
        let (w, h) = (g.w, g.h);
        let mut tmp = vec![0f32; w * h];
        let mut pad = vec![0f32; w + 2 * radius];
        for (src, dst) in g.data.chunks_exact(w).zip(tmp.chunks_exact_mut(w)) {
            pad[..radius].iter_mut().for_each(|v| *v = src[0]);
            pad[radius..radius + w].copy_from_slice(src);
            pad[radius + w..].iter_mut().for_each(|v| *v = src[w - 1]);
            for (x, d) in dst.iter_mut().enumerate() {
                *d = pad[x..x + k.len()].iter().zip(&k).map(|(a, b)| a * b).sum();
            }
        }
        let mut out = Grid { w, h, cell_mm: g.cell_mm, data: vec![0f32; w * h] };
        for (y, dst) in out.data.chunks_exact_mut(w).enumerate() {
            for (t, kv) in k.iter().enumerate() {
                let yy = (y + t).saturating_sub(radius).min(h - 1);
                for (d, v) in dst.iter_mut().zip(&tmp[yy * w..yy * w + w]) {
                    *d += kv * v;
                }
            }
        }
        out
    }

    #[test]
    fn blurring_equals_the_per_output_sums_exactly() {
        let mut s = 99u32;
        for (w, h) in [(1, 1), (3, 2), (17, 23), (90, 111), (124, 148)] {
            let data = (0..w * h)
                .map(|_| {
                    s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    (s >> 8) as f32 / 65_536.0 - 64.0
                })
                .collect();
            let g = Grid { w, h, cell_mm: 0.25, data };
            for sigma in [0.0, 0.3, 0.86, 1.0, 1.72, 2.0, 4.0] {
                let (a, b) = (g.blurred(sigma), reference_blurred(&g, sigma));
                assert!(a.data == b.data, "{w}x{h} sigma {sigma}");
            }
        }
    }

    /// A `w x h` image of pseudo-random pixels (a linear congruential sequence from `seed`).
    fn noise_image(w: u32, h: u32, seed: u32) -> RgbImage {
        let mut s = seed;
        RgbImage::from_fn(w, h, |_, _| {
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let b = s.to_le_bytes();
            image::Rgb([b[1], b[2], b[3]])
        })
    }

    /// The first implementation of [`Grid::from_rgb_area`] (the whole image in memory, output row
    /// by output row), kept as the oracle for the row-streaming [`AreaRows`].
    fn reference_area(img: &RgbImage, r: SrcRect, w: usize, h: usize, cell_mm: f32) -> Grid {
        let w = w.max(1);
        let h = h.max(1);
        let iw = img.width() as usize;
        let ih = img.height() as usize;
        let mut out = Grid::filled(w, h, cell_mm, 255.0);
        if iw == 0 || ih == 0 {
            return out;
        }
        let xw = axis_weights(iw, r.x, r.w / w as f64, w);
        let yw = axis_weights(ih, r.y, r.h / h as f64, h);
        let x_lo = xw.start.first().copied().unwrap_or(0).min(iw);
        let x_hi = xw
            .start
            .iter()
            .zip(&xw.weights)
            .map(|(s, ws)| s + ws.len())
            .max()
            .unwrap_or(0)
            .min(iw);
        if x_lo >= x_hi {
            return out;
        }
        let wsum_x: Vec<f32> = xw.weights.iter().map(|ws| ws.iter().sum()).collect();
        let raw = img.as_raw();
        // Vertical pass first: the weighted sum of the source rows of one output row, then the
        // horizontal weights once per output row. A source row shared by two output rows has
        // its values computed once (`vals_row`).
        let mut acc = vec![0f32; x_hi - x_lo];
        let mut vals = vec![0f32; x_hi - x_lo];
        let mut vals_row = usize::MAX;
        for c in 0..h {
            acc.iter_mut().for_each(|a| *a = 0.0);
            let mut wy_sum = 0f32;
            for (k, &wy) in yw.weights[c].iter().enumerate() {
                let y = yw.start[c] + k;
                if wy <= 0.0 || y >= ih {
                    continue;
                }
                if vals_row != y {
                    let off = y * iw * 3;
                    let Some(row) = raw.get(off + x_lo * 3..off + x_hi * 3) else {
                        continue;
                    };
                    luma_row(row, &mut vals);
                    vals_row = y;
                }
                for (a, v) in acc.iter_mut().zip(&vals) {
                    *a += wy * v;
                }
                wy_sum += wy;
            }
            if wy_sum <= 1e-6 {
                continue;
            }
            let row = &mut out.data[c * w..(c + 1) * w];
            for (((o, ws), &s), wx) in row.iter_mut().zip(&xw.weights).zip(&xw.start).zip(&wsum_x) {
                let Some(src) = s
                    .checked_sub(x_lo)
                    .and_then(|s0| acc.get(s0..s0 + ws.len()))
                else {
                    continue;
                };
                let v: f32 = src.iter().zip(ws).map(|(a, b)| a * b).sum();
                let norm = wx * wy_sum;
                if norm > 1e-6 {
                    *o = v / norm;
                }
            }
        }
        out
    }


    fn bits(g: &Grid) -> Vec<u32> {
        g.data.iter().map(|v| v.to_bits()).collect()
    }

    /// Rectangles and grid sizes that cover inside, overlapping the edges, shrinking, enlarging
    /// and degenerate cases, for an image of `iw x ih`.
    fn cases(iw: f64, ih: f64) -> Vec<(SrcRect, usize, usize)> {
        vec![
            (SrcRect { x: 0.0, y: 0.0, w: iw, h: ih }, 34, 29),
            (SrcRect { x: -3.5, y: 2.25, w: iw - 13.0, h: ih - 31.0 }, 33, 57),
            (SrcRect { x: 1.7, y: 0.3, w: iw - 6.0, h: ih - 11.0 }, iw as usize, ih as usize),
            (SrcRect { x: 0.0, y: 0.0, w: iw, h: ih }, 3 * iw as usize, 2 * ih as usize),
            (SrcRect { x: -20.0, y: -30.0, w: iw + 50.0, h: ih + 70.0 }, 17, 19),
            (SrcRect { x: iw + 5.0, y: 0.0, w: 10.0, h: 10.0 }, 4, 4),
            (SrcRect { x: 0.0, y: ih + 5.0, w: 10.0, h: 10.0 }, 4, 4),
            (SrcRect { x: 0.0, y: 0.0, w: 0.0, h: ih }, 3, 3),
            (SrcRect { x: 0.0, y: 0.0, w: iw, h: ih }, 0, 1),
        ]
    }

    #[test]
    fn streaming_rows_give_the_reference_bits_on_every_instruction_set() {
        let img = noise_image(203, 171, 11);
        for (r, w, h) in cases(203.0, 171.0) {
            let reference = reference_area(&img, r, w, h, 1.0);
            let dispatched = Grid::from_rgb_area(&img, r, w, h, 1.0);
            let baseline = Grid::area_rows(&img, AreaRows::new_baseline(203, 171, r, w, h, 1.0));
            assert_eq!(bits(&dispatched), bits(&reference), "{r:?} {w}x{h}");
            assert_eq!(bits(&baseline), bits(&reference), "{r:?} {w}x{h}");
        }
    }

    #[test]
    fn rows_fed_with_an_offset_and_white_padding_equal_a_padded_image() {
        // A window of a larger "scan" (grey, grey+alpha, RGB or RGBA rows), white outside it:
        // fed row by row with an offset, as the printed-photo crop does from PNG rows, it must
        // give the bits of averaging the padded RGB image.
        let (sw, sh) = (150usize, 120usize);
        let noise = noise_image(sw as u32, sh as u32, 3);
        let (x0, y0, cw, ch) = (-7i64, 10i64, 170u32, 140u32);
        for channels in 1..=4usize {
            let rgb_of = |p: &[u8]| -> [u8; 3] {
                if channels < 3 {
                    [p[0], p[0], p[0]]
                } else {
                    [p[0], p[1], p[2]]
                }
            };
            let scan: Vec<u8> = noise
                .pixels()
                .flat_map(|p| {
                    let [r, g, b] = p.0;
                    [[r, 0, 0, 0], [r, g, 0, 0], [r, g, b, 0], [r, g, b, 7]][channels - 1][..channels].to_vec()
                })
                .collect();
            let stride = sw * channels;
            let padded = RgbImage::from_fn(cw, ch, |x, y| {
                let (sx, sy) = (x as i64 + x0, y as i64 + y0);
                if (0..sw as i64).contains(&sx) && (0..sh as i64).contains(&sy) {
                    let at = sy as usize * stride + sx as usize * channels;
                    image::Rgb(rgb_of(&scan[at..at + channels]))
                } else {
                    image::Rgb([255, 255, 255])
                }
            });
            for (r, w, h) in cases(cw as f64, ch as f64) {
                let want = reference_area(&padded, r, w, h, 0.5);
                let mut rows = AreaRows::new(cw as usize, ch as usize, r, w, h, 0.5);
                for yy in 0..ch as usize {
                    let sy = yy as i64 + y0;
                    if (0..sh as i64).contains(&sy) {
                        let at = sy as usize * stride;
                        rows.push_pixels(yy, &scan[at..at + stride], channels, -x0);
                    } else {
                        rows.push_white(yy);
                    }
                }
                assert_eq!(bits(&rows.finish()), bits(&want), "{channels} channels, {r:?} {w}x{h}");
            }
        }
    }

    #[test]
    fn area_average_equals_recomputing_every_row() {
        let img = noise_image(61, 53, 5);
        for (r, w, h) in [
            (SrcRect { x: 0.0, y: 0.0, w: 61.0, h: 53.0 }, 24, 21),
            (SrcRect { x: -3.5, y: 2.25, w: 70.0, h: 40.0 }, 13, 31),
            (SrcRect { x: 0.0, y: 0.0, w: 60.0, h: 52.0 }, 15, 13),
        ] {
            let got = Grid::from_rgb_area(&img, r, w, h, 1.0);
            // Oracle: average of the per-pixel luma with explicit overlap weights.
            let (sx, sy) = (r.w / w as f64, r.h / h as f64);
            for j in 0..h {
                for i in 0..w {
                    let (x0, x1) = (r.x + i as f64 * sx, r.x + (i + 1) as f64 * sx);
                    let (y0, y1) = (r.y + j as f64 * sy, r.y + (j + 1) as f64 * sy);
                    let (mut acc, mut wsum) = (0f64, 0f64);
                    for y in 0..53u32 {
                        let wy = (y1.min(y as f64 + 1.0) - y0.max(y as f64)).max(0.0);
                        for x in 0..61u32 {
                            let wx = (x1.min(x as f64 + 1.0) - x0.max(x as f64)).max(0.0);
                            let p = img.get_pixel(x, y).0;
                            let l = (77 * p[0] as u32 + 150 * p[1] as u32 + 29 * p[2] as u32) as f64 / 256.0;
                            acc += wx * wy * l;
                            wsum += wx * wy;
                        }
                    }
                    let want = if wsum > 0.0 { acc / wsum } else { 255.0 };
                    let v = got.get(i, j) as f64;
                    assert!((v - want).abs() < 1e-3, "{i},{j}: {v} vs {want}");
                }
            }
        }
    }

    #[test]
    fn sampling_outside_clamps() {
        let g = Grid {
            w: 2,
            h: 2,
            cell_mm: 1.0,
            data: vec![0.0, 10.0, 20.0, 30.0],
        };
        assert_eq!(g.sample(-5.0, -5.0), 0.0);
        assert_eq!(g.sample(9.0, 9.0), 30.0);
        assert!((g.sample(0.5, 0.5) - 15.0).abs() < 1e-5);
        assert_eq!(g.sample(f32::NAN, 0.0), 0.0);
    }
}

//! Features of a photo for comparison: smoothed grey working grids over the photo frame (in
//! millimetres, so that a 358x441 acceptance photo, a 102x126 chip photo and a 600-dpi scan crop
//! share one coordinate system), the face-centred thumbnails sampled from them, and a 256-bit
//! pHash of the face-centred region. Photo content never appears in Debug output.

use std::fmt;
use std::sync::OnceLock;

use image::{GrayImage, RgbImage};

use super::grid::{AreaRows, Grid, SrcRect};
use super::jpeg_quarter::{decode_quarter, Quarter};
use super::{PhotoError, PRINTED_PHOTO_MM};

/// Nominal height of the photo frame in millimetres (26 x 32 mm, GA 461 / card geometry).
pub(crate) const FRAME_H_MM: f32 = 32.0;

/// Tunables of the feature extraction (fixed; the calibration is made with these values).
#[derive(Debug, Clone, Copy)]
pub struct Params {
    /// Working grid cell size.
    pub cell_mm: f32,
    /// Fine thumbnail points (x, y).
    pub fine: (usize, usize),
    /// Coarse thumbnail points (x, y) for the first, exhaustive shift search.
    pub coarse: (usize, usize),
    /// Face-centred region as fractions of the frame: x0, x1, y0, y1.
    pub region: (f32, f32, f32, f32),
    /// Gaussian smoothing of the fine and coarse grids, millimetres.
    pub blur_fine_mm: f32,
    pub blur_coarse_mm: f32,
    /// Centre weighting: an elliptical Gaussian over the region (sigma as a fraction of the
    /// region's half-size); `None` weighs every point alike.
    pub weight_sigma: Option<f32>,
    /// Elliptical window inscribed in the region: weight 1 inside this radius (fraction of the
    /// region half-sizes), falling smoothly to 0 at the region's inscribed ellipse.
    pub ellipse_inner: Option<f32>,
    /// Weight reduction of reference points that look like the photo background (printers
    /// lighten or fade the background): weight *= 1 - bg_suppress * similarity.
    pub bg_suppress: f32,
    /// Colour distance (RGB) at which a pixel no longer counts as background.
    pub bg_distance: f32,
    /// Photos large enough are averaged over whole blocks of this many pixels (when that is at most
    /// 1.3 cells), as the reduced-size JPEG decode does; smaller photos use `cell_mm`.
    pub photo_cell_px: Option<u32>,
    /// Band-pass: subtract a Gaussian smoothing of this sigma (mm) from both grids, removing
    /// the layout all ID photos share (head oval, dark clothes) and slow shading changes.
    pub dog_mm: Option<f32>,
}

pub const PARAMS: Params = Params {
    cell_mm: 0.25,
    fine: (32, 40),
    coarse: (16, 20),
    region: (0.15, 0.85, 0.12, 0.80),
    blur_fine_mm: 0.25,
    blur_coarse_mm: 0.5,
    weight_sigma: None,
    ellipse_inner: Some(0.7),
    bg_suppress: 0.9,
    bg_distance: 60.0,
    dog_mm: Some(1.0),
    photo_cell_px: Some(4),
};

/// Where the nominal photo frame lies in a grid, in millimetres from the grid origin.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Frame {
    pub x0: f32,
    pub y0: f32,
    pub w: f32,
    pub h: f32,
}

impl Frame {
    pub fn centre(&self) -> (f32, f32) {
        (self.x0 + self.w / 2.0, self.y0 + self.h / 2.0)
    }
}

/// Thumbnail sample points (relative to the frame centre, mm) with the reference's normalised,
/// weighted values.
#[derive(Clone)]
pub(crate) struct Thumb {
    pub nx: usize,
    pub ny: usize,
    /// The regular grid of `pts`: first point and steps (mm, relative to the frame centre).
    pub origin: (f32, f32),
    pub step: (f32, f32),
    /// weight * (value - weighted mean) / weighted norm.
    pub tw: Vec<f32>,
    /// Weights (sum = `wsum`).
    pub w: Vec<f32>,
    pub wsum: f32,
}

fn region_points(frame: &Frame, nx: usize, ny: usize, p: &Params) -> Vec<(f32, f32)> {
    let (rx0, rx1, ry0, ry1) = p.region;
    let x0 = (rx0 - 0.5) * frame.w;
    let x1 = (rx1 - 0.5) * frame.w;
    let y0 = (ry0 - 0.5) * frame.h;
    let y1 = (ry1 - 0.5) * frame.h;
    let mut pts = Vec::with_capacity(nx * ny);
    for j in 0..ny {
        for i in 0..nx {
            let x = x0 + (i as f32 + 0.5) * (x1 - x0) / nx as f32;
            let y = y0 + (j as f32 + 0.5) * (y1 - y0) / ny as f32;
            pts.push((x, y));
        }
    }
    pts
}

fn weights(nx: usize, ny: usize, p: &Params) -> Vec<f32> {
    let mut w = Vec::with_capacity(nx * ny);
    for j in 0..ny {
        for i in 0..nx {
            let u = ((i as f32 + 0.5) / nx as f32 - 0.5) * 2.0;
            let v = ((j as f32 + 0.5) / ny as f32 - 0.5) * 2.0;
            let mut wt = match p.weight_sigma {
                None => 1.0,
                Some(s) => (-(u * u + v * v) / (2.0 * s * s)).exp(),
            };
            if let Some(inner) = p.ellipse_inner {
                let r = (u * u + v * v).sqrt();
                let t = ((r - inner) / (1.0 - inner).max(1e-3)).clamp(0.0, 1.0);
                wt *= 1.0 - t * t * (3.0 - 2.0 * t);
            }
            w.push(wt);
        }
    }
    w
}

impl Thumb {
    fn build(
        grid: &Grid,
        bg: Option<&Grid>,
        frame: &Frame,
        nx: usize,
        ny: usize,
        p: &Params,
    ) -> Thumb {
        let pts = region_points(frame, nx, ny, p);
        let mut w = weights(nx, ny, p);
        let (cx, cy) = frame.centre();
        if let Some(bg) = bg {
            for (wt, &(x, y)) in w.iter_mut().zip(&pts) {
                *wt *= 1.0 - p.bg_suppress * bg.sample_mm(cx + x, cy + y).clamp(0.0, 1.0);
            }
        }
        let vals: Vec<f32> = pts
            .iter()
            .map(|&(x, y)| grid.sample_mm(cx + x, cy + y))
            .collect();
        let wsum: f32 = w.iter().sum();
        let mean = vals.iter().zip(&w).map(|(v, w)| v * w).sum::<f32>() / wsum.max(1e-9);
        let var = vals
            .iter()
            .zip(&w)
            .map(|(v, w)| w * (v - mean) * (v - mean))
            .sum::<f32>();
        let norm = var.sqrt().max(1e-3);
        let tw = vals
            .iter()
            .zip(&w)
            .map(|(v, w)| w * (v - mean) / norm)
            .collect();
        let origin = pts.first().copied().unwrap_or((0.0, 0.0));
        let step = match (pts.get(1), pts.get(nx)) {
            (Some(a), Some(b)) if nx > 1 && ny > 1 => (a.0 - origin.0, b.1 - origin.1),
            _ => (0.0, 0.0),
        };
        Thumb {
            nx,
            ny,
            origin,
            step,
            tw,
            w,
            wsum,
        }
    }
}

/// Mean colour of the photo's top corners (an eighth of the width, a tenth of the height): the
/// background estimate of an ID photo.
pub(crate) fn background_colour(img: &RgbImage) -> [f32; 3] {
    let (w, h) = (img.width(), img.height());
    let (bw, bh) = ((w / 8).max(1), (h / 10).max(1));
    let mut s = [0f64; 3];
    let mut n = 0f64;
    for y in 0..bh.min(h) {
        for x in (0..bw.min(w)).chain(w.saturating_sub(bw)..w) {
            if let Some(px) = img.get_pixel_checked(x, y) {
                for (acc, v) in s.iter_mut().zip(px.0) {
                    *acc += v as f64;
                }
                n += 1.0;
            }
        }
    }
    let n = n.max(1.0);
    [(s[0] / n) as f32, (s[1] / n) as f32, (s[2] / n) as f32]
}

/// The fine grid (base smoothed by `blur_fine_mm`) and the coarse grid (at twice the cell size,
/// smoothed by `blur_coarse_mm`), both with the `dog_mm` low-pass subtracted. The wide
/// smoothings run on the half-resolution grid.
fn bands(base: &Grid, p: &Params) -> (Grid, Grid) {
    let c = base.cell_mm.max(1e-3);
    let mut fine = base.blurred(p.blur_fine_mm / c);
    let half = base.downsampled2();
    let c2 = half.cell_mm.max(1e-3);
    let mut coarse = half.blurred(p.blur_coarse_mm / c2);
    if let Some(dog) = p.dog_mm {
        let low = half.blurred(dog / c2);
        for (v, l) in coarse.data.iter_mut().zip(&low.data) {
            *v -= l;
        }
        let up = low.upsampled2(fine.w, fine.h);
        for (f, l) in fine.data.iter_mut().zip(&up) {
            *f -= l;
        }
    }
    (fine, coarse)
}

/// Background similarity (0..1) of a photo on a grid of 0.5 mm cells: the colour distance of a
/// box-filtered copy to the background colour of the top corners, through a smooth step.
fn background_similarity(img: &RgbImage, frame_w_mm: f32, p: &Params) -> Grid {
    const CELL: f32 = 0.5;
    let gw = (frame_w_mm / CELL).round().max(1.0) as u32;
    let gh = (FRAME_H_MM / CELL).round().max(1.0) as u32;
    let c = background_colour(img);
    let t = p.bg_distance.max(1.0);
    // Mean colour of five pixels per cell (centre and the four quarter points).
    let (sx, sy) = (
        img.width() as f32 / gw as f32,
        img.height() as f32 / gh as f32,
    );
    let mut data = Vec::with_capacity((gw * gh) as usize);
    for j in 0..gh {
        for i in 0..gw {
            let (cx, cy) = ((i as f32 + 0.5) * sx, (j as f32 + 0.5) * sy);
            let mut acc = [0f32; 3];
            let mut n = 0f32;
            for (dx, dy) in [
                (0.0, 0.0),
                (-0.25, -0.25),
                (0.25, -0.25),
                (-0.25, 0.25),
                (0.25, 0.25),
            ] {
                if let Some(px) =
                    img.get_pixel_checked((cx + dx * sx) as u32, (cy + dy * sy) as u32)
                {
                    acc[0] += px[0] as f32;
                    acc[1] += px[1] as f32;
                    acc[2] += px[2] as f32;
                    n += 1.0;
                }
            }
            let n = n.max(1.0);
            let d = ((acc[0] / n - c[0]).powi(2)
                + (acc[1] / n - c[1]).powi(2)
                + (acc[2] / n - c[2]).powi(2))
            .sqrt();
            let m = (1.0 - d / t).clamp(0.0, 1.0);
            data.push(m * m * (3.0 - 2.0 * m));
        }
    }
    if data.len() == (gw * gh) as usize && !data.is_empty() {
        Grid {
            w: gw as usize,
            h: gh as usize,
            cell_mm: FRAME_H_MM / gh as f32,
            data,
        }
    } else {
        Grid::filled(1, 1, FRAME_H_MM, 0.0)
    }
}

/// The block size in pixels used for a photo of `height` pixels, if whole blocks are used: the
/// largest of 4 and 8 pixels (the block sizes the reduced JPEG decode yields) that stays within
/// 1.3 cells.
pub(crate) fn photo_cell_px(height: u32, p: &Params) -> Option<u32> {
    let k = p.photo_cell_px?;
    let px_mm = FRAME_H_MM / height.max(1) as f32;
    (k as f32 * px_mm <= p.cell_mm * 1.3).then_some(k)
}

/// [`background_similarity`] from the 8x8-pixel colours of the reduced JPEG decode.
fn colour_background_similarity(q: &Quarter, px_mm: f32, p: &Params) -> Option<Grid> {
    if q.colour.len() != q.cw * q.ch || q.cw == 0 || q.ch == 0 {
        return None;
    }
    // The top corners: an eighth of the width, a tenth of the height, in 8-pixel blocks.
    let bw = (q.width as usize / 8).div_ceil(8).max(1);
    let bh = (q.height as usize / 10).div_ceil(8).max(1);
    let mut acc = [0f32; 3];
    let mut n = 0f32;
    for y in 0..bh.min(q.ch) {
        for x in (0..bw.min(q.cw)).chain(q.cw.saturating_sub(bw)..q.cw) {
            if let Some(c) = q.colour.get(y * q.cw + x) {
                for (a, v) in acc.iter_mut().zip(c) {
                    *a += v;
                }
                n += 1.0;
            }
        }
    }
    let n = n.max(1.0);
    let c = acc.map(|v| v / n);
    let t = p.bg_distance.max(1.0);
    let data = q
        .colour
        .iter()
        .map(|px| {
            let d =
                ((px[0] - c[0]).powi(2) + (px[1] - c[1]).powi(2) + (px[2] - c[2]).powi(2)).sqrt();
            let m = (1.0 - d / t).clamp(0.0, 1.0);
            m * m * (3.0 - 2.0 * m)
        })
        .collect();
    Some(Grid {
        w: q.cw,
        h: q.ch,
        cell_mm: 8.0 * px_mm,
        data,
    })
}

/// The smallest photo height for which [`photo_cell_px`] uses 4-pixel blocks.
fn min_block_height(p: &Params) -> usize {
    (4.0 * FRAME_H_MM / (p.cell_mm * 1.3)).ceil().max(0.0) as usize
}

/// Grids of one image (fine and coarse smoothing) with the position of its photo frame.
#[derive(Clone)]
pub(crate) struct Grids {
    pub fine: Grid,
    pub coarse: Grid,
    pub frame: Frame,
    /// Background similarity (0..1) of a reference photo.
    pub bg: Option<Grid>,
}

impl Grids {
    /// A whole photo (acceptance or chip): the frame is the image, its height 32 mm.
    fn of_photo(img: &RgbImage, p: &Params) -> Grids {
        let (iw, ih) = (img.width().max(1) as f32, img.height().max(1) as f32);
        let px_mm = FRAME_H_MM / ih;
        let fw = iw * px_mm;
        let base = match photo_cell_px(img.height(), p) {
            // Whole pixel blocks (what the reduced-size JPEG decode yields).
            Some(k) => {
                let (gw, gh) = (
                    img.width().div_ceil(k) as usize,
                    img.height().div_ceil(k) as usize,
                );
                let src = SrcRect {
                    x: 0.0,
                    y: 0.0,
                    w: (gw as u32 * k) as f64,
                    h: (gh as u32 * k) as f64,
                };
                Grid::from_rgb_area(img, src, gw, gh, k as f32 * px_mm)
            }
            None => {
                let gw = (fw / p.cell_mm).round().max(1.0) as usize;
                let gh = (FRAME_H_MM / p.cell_mm).round().max(1.0) as usize;
                Grid::from_rgb_area(img, whole_cells(gw, gh, p.cell_mm, px_mm), gw, gh, p.cell_mm)
            }
        };
        let bg = if p.bg_suppress > 0.0 {
            Some(background_similarity(img, fw, p))
        } else {
            None
        };
        let (fine, coarse) = bands(&base, p);
        Grids {
            fine,
            coarse,
            frame: Frame {
                x0: 0.0,
                y0: 0.0,
                w: fw,
                h: FRAME_H_MM,
            },
            bg,
        }
    }

    /// A photo from the reduced JPEG decode: 4x4-pixel luma means and 8x8-pixel colours, which are
    /// what [`Grids::of_photo`] computes when it uses 4-pixel blocks.
    fn of_quarter(q: &Quarter, p: &Params) -> Option<Grids> {
        if photo_cell_px(q.height, p) != Some(4)
            || q.luma.len() != q.qw * q.qh
            || q.qw == 0
            || q.qh == 0
        {
            return None;
        }
        let px_mm = FRAME_H_MM / q.height.max(1) as f32;
        let base = Grid {
            w: q.qw,
            h: q.qh,
            cell_mm: 4.0 * px_mm,
            data: q.luma.clone(),
        };
        let fw = q.width as f32 * px_mm;
        let bg = if p.bg_suppress > 0.0 {
            Some(colour_background_similarity(q, px_mm, p)?)
        } else {
            None
        };
        let (fine, coarse) = bands(&base, p);
        Some(Grids {
            fine,
            coarse,
            frame: Frame {
                x0: 0.0,
                y0: 0.0,
                w: fw,
                h: FRAME_H_MM,
            },
            bg,
        })
    }

    /// A printed-photo crop at `dpi` whose nominal frame starts `margin_mm` from its top-left.
    fn of_printed(crop: &RgbImage, dpi: u32, margin_mm: f32, p: &Params) -> Grids {
        let (src, gw, gh) = printed_grid_rect(crop.width(), crop.height(), dpi, p);
        Self::of_printed_base(Grid::from_rgb_area(crop, src, gw, gh, p.cell_mm), margin_mm, p)
    }

    /// [`Grids::of_printed`] from the crop's area-averaged luma grid.
    fn of_printed_base(base: Grid, margin_mm: f32, p: &Params) -> Grids {
        let frame = Frame {
            x0: margin_mm,
            y0: margin_mm,
            w: PRINTED_PHOTO_MM.width() as f32,
            h: PRINTED_PHOTO_MM.height() as f32,
        };
        let (fine, coarse) = bands(&base, p);
        Grids {
            fine,
            coarse,
            frame,
            bg: None,
        }
    }
}

/// The source rectangle (crop pixels) and grid size of a `cw x ch` printed-photo crop at `dpi`:
/// whole cells of `p.cell_mm` from its top-left corner.
fn printed_grid_rect(cw: u32, ch: u32, dpi: u32, p: &Params) -> (SrcRect, usize, usize) {
    let px_mm = 25.4 / dpi.max(1) as f32;
    let (cw, ch) = (cw as f32 * px_mm, ch as f32 * px_mm);
    let gw = (cw / p.cell_mm).floor().max(1.0) as usize;
    let gh = (ch / p.cell_mm).floor().max(1.0) as usize;
    (whole_cells(gw, gh, p.cell_mm, px_mm), gw, gh)
}

/// The source rectangle (pixels of `px_mm`) of `gw x gh` cells of `cell_mm` from the top-left.
fn whole_cells(gw: usize, gh: usize, cell_mm: f32, px_mm: f32) -> SrcRect {
    SrcRect {
        x: 0.0,
        y: 0.0,
        w: (gw as f32 * cell_mm / px_mm) as f64,
        h: (gh as f32 * cell_mm / px_mm) as f64,
    }
}

/// Features of a reference photo (acceptance or chip photo).
#[derive(Clone)]
pub struct PhotoFeatures {
    pub(crate) grids: Grids,
    pub(crate) fine: Thumb,
    pub(crate) coarse: Thumb,
    /// The unaligned pHash, computed when first asked for (only the reported measures use it).
    pub(crate) hash: OnceLock<[u8; 32]>,
    pub(crate) size: (u32, u32),
    /// The parameters the features were made with.
    pub(crate) params: Params,
}

impl PhotoFeatures {
    /// The distance of two photos' fine thumbnails without any alignment (the correlation of
    /// their normalised values): the calibration uses it to find the most similar other
    /// people, the hardest pairs for the aligned comparison.
    pub fn unaligned_distance(&self, b: &PhotoFeatures) -> f64 {
        let a = self;
        // Both thumbnails are normalised over the same points (same region fractions).
        let r: f32 = if a.fine.tw.len() == b.fine.tw.len() {
            let (mut sp, mut sw, mut sww) = (0f32, 0f32, 0f32);
            // Recover b's values up to an affine map: tw = w * (v - mean) / norm.
            for ((ta, tb), w) in a.fine.tw.iter().zip(&b.fine.tw).zip(&b.fine.w) {
                let v = if *w > 0.0 { tb / w } else { 0.0 };
                sp += ta * v;
                sw += w * v;
                sww += w * v * v;
            }
            let var = sww - sw * sw / b.fine.wsum.max(1e-9);
            if var > 1e-9 {
                sp / var.sqrt()
            } else {
                0.0
            }
        } else {
            0.0
        };
        1.0 - r as f64
    }
}

impl fmt::Debug for PhotoFeatures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PhotoFeatures(REDACTED, {}x{})",
            self.size.0, self.size.1
        )
    }
}

impl PhotoFeatures {
    /// Features of an acceptance or chip photo (any size and aspect; its height is taken as the
    /// 32 mm frame height).
    pub fn from_reference(img: &RgbImage) -> PhotoFeatures {
        Self::from_reference_with(img, &PARAMS)
    }

    #[doc(hidden)]
    pub fn from_reference_with(img: &RgbImage, p: &Params) -> PhotoFeatures {
        Self::from_grids(Grids::of_photo(img, p), (img.width(), img.height()), p)
    }

    /// Decodes JPEG or PNG bytes and extracts the features. A baseline JPEG large enough (the
    /// 358x441 acceptance photo) takes the reduced-size decode, which yields the same block means
    /// as decoding fully and averaging, several times faster; anything else is decoded fully.
    pub fn from_bytes(bytes: &[u8]) -> Result<PhotoFeatures, super::PhotoError> {
        if super::sniff(bytes) == Some(super::ImageKind::Jpeg) {
            if let Some(q) = decode_quarter(bytes, min_block_height(&PARAMS)) {
                if let Some(grids) = Grids::of_quarter(&q, &PARAMS) {
                    return Ok(Self::from_grids(grids, (q.width, q.height), &PARAMS));
                }
            }
        }
        Ok(Self::from_reference(&super::decode(bytes)?))
    }

    /// [`PhotoFeatures::from_bytes`] when the caller already holds the full decode of `bytes`
    /// (by [`super::decode`]): the same features, without decoding a second time when the
    /// reduced-size path does not apply.
    pub fn from_bytes_decoded(bytes: &[u8], decoded: &RgbImage) -> PhotoFeatures {
        if super::sniff(bytes) == Some(super::ImageKind::Jpeg) {
            if let Some(q) = decode_quarter(bytes, min_block_height(&PARAMS)) {
                if let Some(grids) = Grids::of_quarter(&q, &PARAMS) {
                    return Self::from_grids(grids, (q.width, q.height), &PARAMS);
                }
            }
        }
        Self::from_reference(decoded)
    }

    fn from_grids(grids: Grids, size: (u32, u32), p: &Params) -> PhotoFeatures {
        let fine = Thumb::build(
            &grids.fine,
            grids.bg.as_ref(),
            &grids.frame,
            p.fine.0,
            p.fine.1,
            p,
        );
        let coarse = Thumb::build(
            &grids.coarse,
            grids.bg.as_ref(),
            &grids.frame,
            p.coarse.0,
            p.coarse.1,
            p,
        );
        PhotoFeatures {
            grids,
            fine,
            coarse,
            hash: OnceLock::new(),
            size,
            params: *p,
        }
    }

    /// The unaligned 256-bit pHash of the face-centred region.
    pub fn phash(&self) -> [u8; 32] {
        *self.hash.get_or_init(|| {
            phash_region(&self.grids.fine, &self.grids.frame, &Xf::IDENTITY, &self.params)
        })
    }
}

/// What a reference is compared with: another photo, or a printed-photo crop with its margin.
#[derive(Clone)]
pub struct Probe {
    pub(crate) grids: Grids,
    pub(crate) printed: bool,
}

impl fmt::Debug for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Probe(REDACTED, printed: {})", self.printed)
    }
}

impl Probe {
    /// Every bit of the probe's working grids (sizes, values, frame), for the tests that pin
    /// two ways of making a probe to the bit.
    #[doc(hidden)]
    pub fn grid_bits(&self) -> Vec<u32> {
        let g = &self.grids;
        let mut v: Vec<u32> = [g.fine.w, g.fine.h, g.coarse.w, g.coarse.h].iter().map(|&n| n as u32).collect();
        v.extend(g.fine.data.iter().chain(&g.coarse.data).map(|x| x.to_bits()));
        v.extend([g.frame.x0, g.frame.y0, g.frame.w, g.frame.h].map(f32::to_bits));
        v
    }

    /// A photo probe (the chip photo against the acceptance photo).
    pub fn from_photo(img: &RgbImage) -> Probe {
        Self::from_photo_with(img, &PARAMS)
    }

    #[doc(hidden)]
    pub fn from_photo_with(img: &RgbImage, p: &Params) -> Probe {
        let mut q = *p;
        q.bg_suppress = 0.0;
        Probe {
            grids: Grids::of_photo(img, &q),
            printed: false,
        }
    }

    /// A photo probe made from already extracted features.
    pub fn from_features(f: &PhotoFeatures) -> Probe {
        Probe {
            grids: f.grids.clone(),
            printed: false,
        }
    }

    /// A printed-photo crop as returned by [`super::crop_printed_photo`] at `dpi`.
    pub fn from_printed_crop(crop: &RgbImage, dpi: u32) -> Probe {
        Self::from_printed_crop_with(crop, dpi, &PARAMS)
    }

    #[doc(hidden)]
    pub fn from_printed_crop_with(crop: &RgbImage, dpi: u32, p: &Params) -> Probe {
        Probe {
            grids: Grids::of_printed(crop, dpi, super::CROP_MARGIN_MM as f32, p),
            printed: true,
        }
    }

    /// The printed photo of a photo-side PNG scan at `dpi`: the same probe, to the bit, as
    /// [`super::crop_printed_photo_from_png`] then [`Probe::from_printed_crop`], but the common
    /// scan's rows go straight from the decoder into the area averaging (no crop image). Any
    /// PNG the fast row reader does not take goes through the `png` crate, which also words the
    /// errors.
    pub fn from_printed_png(scan: &[u8], dpi: u32) -> Result<Probe, PhotoError> {
        let p = &PARAMS;
        let (_, _, cw, ch) = super::crop::crop_rect(dpi);
        let (src, gw, gh) = printed_grid_rect(cw, ch, dpi, p);
        let rows = AreaRows::new(cw as usize, ch as usize, src, gw, gh, p.cell_mm);
        let margin = super::CROP_MARGIN_MM as f32;
        if let Some(base) = super::crop::printed_rows_from_png(scan, dpi, rows) {
            return Ok(Probe { grids: Grids::of_printed_base(base, margin, p), printed: true });
        }
        // The fast reader refused the file: what `crop_printed_photo_from_png` does next.
        Ok(Self::from_printed_crop(&super::crop::crop_with_png_crate(scan, dpi)?, dpi))
    }

    /// Whether this probe is a printed crop.
    pub fn is_printed(&self) -> bool {
        self.printed
    }
}

/// A transform from reference-frame coordinates (mm from the reference frame centre) to probe
/// coordinates (mm from the probe frame centre): `q = R(angle) * diag(scale*aspect, scale) * p + t`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Xf {
    pub tx: f32,
    pub ty: f32,
    pub angle_deg: f32,
    pub scale: f32,
    pub aspect: f32,
}

impl Xf {
    pub const IDENTITY: Xf = Xf {
        tx: 0.0,
        ty: 0.0,
        angle_deg: 0.0,
        scale: 1.0,
        aspect: 1.0,
    };

    /// Matrix entries (a, b, c, d) with q = [a b; c d] p + t.
    #[inline]
    pub fn matrix(&self) -> (f32, f32, f32, f32) {
        let (s, c) = self.angle_deg.to_radians().sin_cos();
        let sx = self.scale * self.aspect;
        let sy = self.scale;
        (c * sx, -s * sy, s * sx, c * sy)
    }
}

/// Samples `grid` at the points of `pts` mapped by `xf` (relative to the frame centre).
pub(crate) fn sample_points(
    grid: &Grid,
    frame: &Frame,
    pts: &[(f32, f32)],
    xf: &Xf,
    out: &mut Vec<f32>,
) {
    let (a, b, c, d) = xf.matrix();
    let (cx, cy) = frame.centre();
    let inv = 1.0 / grid.cell_mm;
    let ox = (cx + xf.tx) * inv - 0.5;
    let oy = (cy + xf.ty) * inv - 0.5;
    out.clear();
    for &(x, y) in pts {
        let gx = ox + (a * x + b * y) * inv;
        let gy = oy + (c * x + d * y) * inv;
        out.push(grid.sample(gx, gy));
    }
}

const HASH_N: usize = 32;

fn hasher() -> &'static image_hasher::Hasher<[u8; 32]> {
    static H: OnceLock<image_hasher::Hasher<[u8; 32]>> = OnceLock::new();
    H.get_or_init(|| {
        image_hasher::HasherConfig::with_bytes_type::<[u8; 32]>()
            .hash_size(16, 16)
            .hash_alg(image_hasher::HashAlg::Median)
            .preproc_dct()
            .resize_filter(image::imageops::FilterType::Triangle)
            .to_hasher()
    })
}

/// 256-bit DCT hash (pHash, median) of the face-centred region of `grid` mapped by `xf`.
pub(crate) fn phash_region(grid: &Grid, frame: &Frame, xf: &Xf, p: &Params) -> [u8; 32] {
    let pts = region_points(frame, HASH_N, HASH_N, p);
    let mut vals = Vec::with_capacity(HASH_N * HASH_N);
    sample_points(grid, frame, &pts, xf, &mut vals);
    let raw: Vec<u8> = vals
        .iter()
        .map(|v| v.round().clamp(0.0, 255.0) as u8)
        .collect();
    match GrayImage::from_raw(HASH_N as u32, HASH_N as u32, raw) {
        Some(img) => {
            let h = hasher().hash_image(&img);
            let mut out = [0u8; 32];
            for (o, b) in out.iter_mut().zip(h.as_bytes()) {
                *o = *b;
            }
            out
        }
        None => [0u8; 32],
    }
}

/// Hamming distance of two 256-bit hashes.
pub(crate) fn hamming(a: &[u8; 32], b: &[u8; 32]) -> u32 {
    a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).sum()
}

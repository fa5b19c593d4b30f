//! Cause-4 photo quality of the acceptance photo (causes.md, GA 461, measures after ISO/IEC
//! 29794-5 / OFIQ): JPEG container, 358x441 pixels, 24-bit colour, sharpness (variance of the
//! Laplacian), under- and over-exposure (shares of luma 0–25 and 247–255), mean luminance — all
//! on the face region — the background (border region) lightness, chroma and uniformity (GA 461
//! wants white: a blue, red or grey backdrop fails however uniform), and the head geometry
//! (crown offset, head width, centring) measured on the silhouette against the white backdrop,
//! checked against resident-id.md's ranges. Bounds are calibrated on acceptance photos made to
//! the standard (`fixtures::studio`) with a stated margin and compiled in from
//! calibration/photo.json. Each metric carries its value and bound; `failures()` lists
//! the ones the lead turns into cause-4 findings (items `photo.<metric>`).

use std::sync::OnceLock;

use image::RgbImage;
use serde::{Deserialize, Serialize};

use crate::compare::photo::{decode, sniff, ImageKind, PhotoError};

/// Required acceptance photo size (GA 461).
pub const REQUIRED_SIZE: (u32, u32) = (358, 441);

/// Face region for exposure, luminance and sharpness, as fractions of the frame (x0, x1, y0, y1):
/// the inner face of a GA 461 head (face width 207±14 of 358 px, centred).
pub const FACE_REGION: (f32, f32, f32, f32) = (0.25, 0.75, 0.20, 0.70);
/// Border region for the background: top strip and the side strips of the upper part — where a
/// standard photo has only backdrop: above the highest crown (7 px) and beside the widest head
/// (221 px centred leaves 68 px each side) down to about the chin.
pub const BORDER_TOP: f32 = 0.015;
pub const BORDER_SIDE: f32 = 0.12;
pub const BORDER_SIDE_DEPTH: f32 = 0.45;

/// resident-id.md: face width 207±14 px, crown 7–21 px below the top edge.
pub const HEAD_WIDTH_RANGE: (f64, f64) = (193.0, 221.0);
pub const CROWN_RANGE: (f64, f64) = (7.0, 21.0);
/// "Head centred": the head's centre at most this far from the frame's centre line (the spec
/// gives no number; the width tolerance, ARCHITECTURE.md).
pub const HEAD_CENTRE_MAX: f64 = 14.0;
/// Rows below the crown (acceptance-photo pixels) over which the head width is measured: from
/// the forehead to the mouth of a head of standard size (above the shoulders).
pub const HEAD_BAND: (f64, f64) = (60.0, 200.0);
/// The head width is the width of the row at this quantile of the band's widths (the ears and
/// cheekbones, not a stray wide row).
pub const HEAD_WIDTH_QUANTILE: f64 = 0.8;
/// A head edge: neighbours (two pixels apart) that differ by at least this in one channel. A
/// feathered cut-out edge differs by far more, a backdrop halo's ramp by under 10 (the head
/// widths of the independent sample and the committed cases do not move between 16 and 32).
pub const HEAD_EDGE_CONTRAST: u8 = 24;
/// A pixel belongs to the silhouette when its darkest channel is at most this (the white
/// backdrop and its JPEG noise stay above; grey or white hair falls below).
pub const SILHOUETTE_MAX: u8 = 223;

/// Head geometry on a person mask, in mask pixels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct HeadGeometry {
    /// First row of the head.
    pub crown: f64,
    /// Left and right edge of the head (right exclusive), median over the head band.
    pub left: f64,
    pub right: f64,
}

impl HeadGeometry {
    pub fn width(&self) -> f64 {
        self.right - self.left
    }
    pub fn centre(&self) -> f64 {
        (self.left + self.right) / 2.0
    }
}

/// Measures the head on a person mask (`w` x `h`, row-major) whose scale is `scale` acceptance
/// photo pixels per mask pixel. Crown: the first of three consecutive rows with at least 3 mask
/// pixels in the central band (x 30–70 %). Width: over the [`HEAD_BAND`] rows, the mask run
/// nearest the frame's centre column; the row at [`HEAD_WIDTH_QUANTILE`] of their widths gives
/// the head's edges. `None` without a crown or band.
pub fn measure_head(mask: &[bool], w: usize, h: usize, scale: f64) -> Option<HeadGeometry> {
    measure_head_with(mask, w, h, scale, |_, l, _, r| (l, r))
}

/// [`measure_head`] with each band row's run `[l, r)` around the pixel `c` nearest the centre
/// passed through `edges(y, l, c, r)`, which may move its ends inward.
fn measure_head_with(
    mask: &[bool],
    w: usize,
    h: usize,
    scale: f64,
    edges: impl Fn(usize, usize, usize, usize) -> (usize, usize),
) -> Option<HeadGeometry> {
    if w == 0 || mask.len() < w * h || scale.is_nan() || scale <= 0.0 {
        return None;
    }
    let (b0, b1) = (w * 3 / 10, (w * 7 / 10).max(w * 3 / 10 + 1).min(w));
    let row_ok = |y: usize| {
        mask.get(y * w + b0..y * w + b1)
            .is_some_and(|r| r.iter().filter(|&&m| m).count() >= 3)
    };
    let crown = (0..h.saturating_sub(2)).find(|&y| row_ok(y) && row_ok(y + 1) && row_ok(y + 2))?;
    let y0 = crown + (HEAD_BAND.0 / scale).round() as usize;
    let y1 = (crown + (HEAD_BAND.1 / scale).round() as usize).max(y0 + 1).min(h);
    let mid = w / 2;
    let mut runs: Vec<(f64, f64)> = Vec::new();
    for y in y0..y1 {
        let Some(row) = mask.get(y * w..(y + 1) * w) else {
            continue;
        };
        let Some(c) = (0..w).filter(|&x| row[x]).min_by_key(|&x| x.abs_diff(mid)) else {
            continue;
        };
        let l = row[..c].iter().rposition(|&m| !m).map_or(0, |p| p + 1);
        let r = row[c..].iter().position(|&m| !m).map_or(w, |p| c + p);
        let (l, r) = edges(y, l, c, r);
        runs.push((l as f64, r as f64));
    }
    // Sorted by width, ties by left edge: the same runs give the same answer in any order.
    runs.sort_by(|a, b| (a.1 - a.0).total_cmp(&(b.1 - b.0)).then(a.0.total_cmp(&b.0)));
    let k = ((runs.len().saturating_sub(1)) as f64 * HEAD_WIDTH_QUANTILE).round() as usize;
    let &(left, right) = runs.get(k)?;
    Some(HeadGeometry {
        crown: crown as f64,
        left,
        right,
    })
}

/// The silhouette of a photo against a white backdrop: every pixel not reachable from the
/// frame's edge through backdrop pixels (darkest channel above [`SILHOUETTE_MAX`]), so that
/// highlights inside the face or a white collar enclosed by the person belong to the person.
pub fn silhouette(img: &RgbImage) -> Vec<bool> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let light: Vec<bool> = img
        .pixels()
        .map(|p| p.0[0].min(p.0[1]).min(p.0[2]) > SILHOUETTE_MAX)
        .collect();
    let mut backdrop = vec![false; w * h];
    let edge = (0..w)
        .flat_map(|x| [x, (h.saturating_sub(1)) * w + x])
        .chain((0..h).flat_map(|y| [y * w, y * w + w.saturating_sub(1)]));
    flood4(w, h, edge, |i| {
        let enter = light.get(i) == Some(&true) && !backdrop[i];
        if enter {
            backdrop[i] = true;
        }
        enter
    });
    backdrop.iter().map(|&b| !b).collect()
}

/// A 4-neighbour flood fill over a `w` x `h` grid: each seed, then each neighbour of a pixel
/// that entered, is offered to `enter`, which marks it and says whether it joins (a pixel
/// must not join twice). Iterative, so any region size is safe.
pub fn flood4(
    w: usize,
    h: usize,
    seeds: impl IntoIterator<Item = usize>,
    mut enter: impl FnMut(usize) -> bool,
) {
    let mut stack: Vec<usize> = seeds.into_iter().filter(|&i| i < w * h && enter(i)).collect();
    while let Some(i) = stack.pop() {
        let (x, y) = (i % w, i / w);
        let nb = [
            (x > 0).then(|| i - 1),
            (x + 1 < w).then(|| i + 1),
            (y > 0).then(|| i - w),
            (y + 1 < h).then(|| i + w),
        ];
        for j in nb.into_iter().flatten() {
            if enter(j) {
                stack.push(j);
            }
        }
    }
}

/// Head geometry of a decoded photo, in its own pixels scaled to the 358-pixel-wide frame.
///
/// The crown is the silhouette's; each band row's edges are the head's own edges inside the
/// silhouette: from the silhouette's outline inward, the first pixel whose neighbours differ by
/// at least [`HEAD_EDGE_CONTRAST`] in a channel. On a clean cut-out that is the outline itself;
/// where a cut-out kept a soft halo of the old backdrop around the head (a vignette), the halo's
/// gentle ramp is passed over and the head's edge inside it is found.
pub fn head_geometry(img: &RgbImage) -> Option<HeadGeometry> {
    let (w, h) = img.dimensions();
    let scale = REQUIRED_SIZE.0 as f64 / w.max(1) as f64;
    let (wu, raw) = (w as usize, img.as_raw());
    let px = |y: usize, x: usize| raw.get((y * wu + x) * 3..(y * wu + x) * 3 + 3).unwrap_or(&[0, 0, 0]);
    let contrast = |y: usize, x: usize| {
        let (a, b) = (px(y, x.saturating_sub(1)), px(y, (x + 1).min(wu.saturating_sub(1))));
        (0..3).map(|c| a[c].abs_diff(b[c])).max().unwrap_or(0) >= HEAD_EDGE_CONTRAST
    };
    let edges = |y: usize, l: usize, c: usize, r: usize| {
        let nl = (l..c).find(|&x| contrast(y, x)).unwrap_or(l);
        let nr = (c + 1..r).rev().find(|&x| contrast(y, x)).map_or(r, |x| x + 1);
        (nl, nr)
    };
    let g = measure_head_with(&silhouette(img), wu, h as usize, scale, edges)?;
    Some(HeadGeometry {
        crown: g.crown * scale,
        left: g.left * scale,
        right: g.right * scale,
    })
}

/// Calibrated bounds (see calibration/photo.json, section `quality`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct QualityBounds {
    pub sharpness_min: f64,
    pub under_exposure_max: f64,
    pub over_exposure_max: f64,
    pub luminance_min: f64,
    pub luminance_max: f64,
    pub background_lightness_min: f64,
    pub background_uniformity_max: f64,
    /// Median chroma (max - min channel) of the border region.
    #[serde(default = "fallback_chroma_max")]
    pub background_chroma_max: f64,
    pub colourfulness_min: f64,
}

fn fallback_chroma_max() -> f64 {
    FALLBACK_BOUNDS.background_chroma_max
}

/// Bounds used only if the committed calibration does not parse (the unit tests catch that).
pub const FALLBACK_BOUNDS: QualityBounds = QualityBounds {
    sharpness_min: 10.0,
    under_exposure_max: 0.10,
    over_exposure_max: 0.10,
    luminance_min: 60.0,
    luminance_max: 220.0,
    background_lightness_min: 70.0,
    background_uniformity_max: 30.0,
    background_chroma_max: 10.0,
    colourfulness_min: 3.0,
};

/// The raw measures of one decoded photo.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RawMetrics {
    pub sharpness: f64,
    pub under_exposure: f64,
    pub over_exposure: f64,
    pub luminance: f64,
    pub background_lightness: f64,
    pub background_uniformity: f64,
    #[serde(default)]
    pub background_chroma: f64,
    pub colourfulness: f64,
}

/// One quality metric with its value and bound.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    /// Item name, e.g. `photo.sharpness`.
    pub name: String,
    /// Numeric value (for the checks of form: 1 = satisfied, 0 = not).
    pub value: f64,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub ok: bool,
    /// The value as shown to staff.
    pub actual: String,
    /// The bound as shown to staff.
    pub expected: String,
}

/// All metrics of one acceptance photo.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QualityReport {
    pub metrics: Vec<Metric>,
}

impl QualityReport {
    /// The metrics out of bounds.
    pub fn failures(&self) -> Vec<&Metric> {
        self.metrics.iter().filter(|m| !m.ok).collect()
    }
    pub fn passed(&self) -> bool {
        self.metrics.iter().all(|m| m.ok)
    }
    /// The metric named `name`, if measured.
    pub fn get(&self, name: &str) -> Option<&Metric> {
        self.metrics.iter().find(|m| m.name == name)
    }
}

#[derive(Deserialize)]
struct CalibrationFile {
    quality: Option<QualityCalibration>,
}

/// The `quality` section of calibration/photo.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QualityCalibration {
    pub bounds: QualityBounds,
    /// How the bounds were set from the observed range.
    pub margin: String,
    pub photos: usize,
    pub observed_min: RawMetrics,
    pub observed_max: RawMetrics,
}

const CALIBRATION_JSON: &str = include_str!("../../../../calibration/photo.json");

/// The committed bounds.
pub fn bounds() -> QualityBounds {
    static B: OnceLock<QualityBounds> = OnceLock::new();
    *B.get_or_init(|| {
        serde_json::from_str::<CalibrationFile>(CALIBRATION_JSON)
            .ok()
            .and_then(|c| c.quality)
            .map(|q| q.bounds)
            .unwrap_or(FALLBACK_BOUNDS)
    })
}

/// Whether the committed calibration carries quality bounds.
pub fn committed_bounds_present() -> bool {
    serde_json::from_str::<CalibrationFile>(CALIBRATION_JSON)
        .ok()
        .and_then(|c| c.quality)
        .is_some()
}

/// Number of colour components and sample precision from a JPEG's SOF header, if found.
pub fn jpeg_components(bytes: &[u8]) -> Option<(u8, u8)> {
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut i = 2usize;
    loop {
        // Skip fill bytes up to the marker.
        while bytes.get(i) == Some(&0xFF) && bytes.get(i + 1) == Some(&0xFF) {
            i += 1;
        }
        if bytes.get(i) != Some(&0xFF) {
            return None;
        }
        let marker = *bytes.get(i + 1)?;
        i += 2;
        match marker {
            0x01 | 0xD0..=0xD7 => continue,
            0xD8..=0xDA => return None,
            _ => {}
        }
        let len = u16::from_be_bytes([*bytes.get(i)?, *bytes.get(i + 1)?]) as usize;
        if len < 2 {
            return None;
        }
        let is_sof = matches!(marker, 0xC0..=0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF);
        if is_sof {
            let precision = *bytes.get(i + 2)?;
            let comps = *bytes.get(i + 7)?;
            return Some((comps, precision));
        }
        i += len;
    }
}

/// The three products of the luma sum for every 8-bit value: `0.299 * r as f64` etc. are the
/// same doubles whether computed here or per pixel, so a table changes no result.
struct LumaTables {
    r: [f64; 256],
    g: [f64; 256],
    b: [f64; 256],
}

fn luma_tables() -> &'static LumaTables {
    static T: OnceLock<LumaTables> = OnceLock::new();
    T.get_or_init(|| LumaTables {
        r: std::array::from_fn(|v| 0.299 * v as f64),
        g: std::array::from_fn(|v| 0.587 * v as f64),
        b: std::array::from_fn(|v| 0.114 * v as f64),
    })
}

/// BT.601 luma `0.299 r + 0.587 g + 0.114 b`, summed in that order.
#[inline]
fn luma3(t: &LumaTables, r: u8, g: u8, b: u8) -> f64 {
    t.r[r as usize] + t.g[g as usize] + t.b[b as usize]
}

fn rect(w: u32, h: u32, r: (f32, f32, f32, f32)) -> (u32, u32, u32, u32) {
    let x0 = (w as f32 * r.0) as u32;
    let x1 = ((w as f32 * r.1) as u32).max(x0 + 1).min(w);
    let y0 = (h as f32 * r.2) as u32;
    let y1 = ((h as f32 * r.3) as u32).max(y0 + 1).min(h);
    (x0, x1, y0, y1)
}

/// Measures a decoded photo. Works on any size (the region is relative to the frame).
///
/// One pass per region over the raw rows: the luma of the face region (with a one-pixel apron
/// for the Laplacian) is computed once into a small plane; every sum runs in the same order as
/// the per-pixel definition (row by row, left to right), so the values do not depend on how
/// they are computed.
pub fn measure(img: &RgbImage) -> RawMetrics {
    let (w, h) = img.dimensions();
    let (wu, hu) = (w as usize, h as usize);
    let raw = img.as_raw();
    let t = luma_tables();
    let row = |y: usize| raw.get(y * wu * 3..(y + 1) * wu * 3).unwrap_or_default();
    let (x0, x1, y0, y1) = rect(w, h, FACE_REGION);
    let (x0, x1, y0, y1) = (x0 as usize, x1 as usize, y0 as usize, y1 as usize);
    // Luma plane of the face region plus a one-pixel apron (clamped to the image).
    let (ax0, ax1) = (x0.saturating_sub(1), (x1 + 1).min(wu));
    let (ay0, ay1) = (y0.saturating_sub(1), (y1 + 1).min(hu));
    let pw = ax1.saturating_sub(ax0);
    let mut plane = vec![0f64; pw * ay1.saturating_sub(ay0)];
    for (y, dst) in (ay0..ay1).zip(plane.chunks_exact_mut(pw.max(1))) {
        if let Some(src) = row(y).get(ax0 * 3..ax1 * 3) {
            for (d, p) in dst.iter_mut().zip(src.chunks_exact(3)) {
                *d = luma3(t, p[0], p[1], p[2]);
            }
        }
    }
    // Counts and the chroma sum are sums of small integers: exact in integers and in f64 alike.
    let (mut n, mut under, mut over, mut chroma) = (0u64, 0u64, 0u64, 0u64);
    let mut sum = 0f64;
    for y in y0..y1 {
        let Some(src) = row(y).get(x0 * 3..x1 * 3) else {
            continue;
        };
        let lrow = (y - ay0) * pw + (x0 - ax0);
        let lums = plane.get(lrow..lrow + (x1 - x0)).unwrap_or_default();
        for (p, &lv) in src.chunks_exact(3).zip(lums) {
            under += (lv <= 25.5) as u64;
            over += (lv >= 246.5) as u64;
            sum += lv;
            chroma += (p[0].max(p[1]).max(p[2]) - p[0].min(p[1]).min(p[2])) as u64;
            n += 1;
        }
    }
    let (under, over, chroma) = (under as f64, over as f64, chroma as f64);
    let n = (n as f64).max(1.0);
    // Variance of the 4-neighbour Laplacian of luma over the face region.
    let (mut ls, mut lss, mut ln) = (0f64, 0f64, 0f64);
    let (lx0, lx1) = (x0.max(1), x1.min(wu.saturating_sub(1)));
    for y in y0.max(1)..y1.min(hu.saturating_sub(1)) {
        if lx0 >= lx1 {
            break;
        }
        // Plane rows y - 1, y, y + 1 from column lx0 - 1 (all inside the plane's apron).
        let at = |yy: usize| (yy - ay0) * pw + (lx0 - 1 - ax0);
        let span = lx1 - lx0 + 2;
        let (Some(up), Some(mid), Some(down)) = (
            plane.get(at(y - 1)..at(y - 1) + span),
            plane.get(at(y)..at(y) + span),
            plane.get(at(y + 1)..at(y + 1) + span),
        ) else {
            continue;
        };
        for ((m, &u), &d) in mid.windows(3).zip(&up[1..]).zip(&down[1..]) {
            // l(x-1, y) + l(x+1, y) + l(x, y-1) + l(x, y+1) - 4 l(x, y), in this order.
            let v = m[0] + m[2] + u + d - 4.0 * m[1];
            ls += v;
            lss += v * v;
            ln += 1.0;
        }
    }
    let ln = ln.max(1.0);
    let sharpness = (lss / ln - (ls / ln).powi(2)).max(0.0);
    // Background: top strip and the side strips of the upper part.
    let top = ((h as f32 * BORDER_TOP) as u32).max(1) as usize;
    let side = ((w as f32 * BORDER_SIDE) as u32).max(1) as usize;
    let depth = ((h as f32 * BORDER_SIDE_DEPTH) as u32).max(top as u32) as usize;
    let (mut bl, mut bc): (Vec<f64>, Vec<f64>) = (Vec::new(), Vec::new());
    let mut add = |px: &[u8]| {
        for p in px.chunks_exact(3) {
            bl.push(luma3(t, p[0], p[1], p[2]));
            bc.push((p[0].max(p[1]).max(p[2]) - p[0].min(p[1]).min(p[2])) as f64);
        }
    };
    let right = wu.saturating_sub(side);
    for y in 0..depth.min(hu) {
        let r = row(y);
        if y < top {
            add(r);
        } else if side >= right {
            // Both strips cover the whole row.
            add(r);
        } else {
            add(r.get(..side * 3).unwrap_or_default());
            add(r.get(right * 3..).unwrap_or_default());
        }
    }
    let background = Backdrop::of(bl, bc);
    RawMetrics {
        sharpness,
        under_exposure: under / n,
        over_exposure: over / n,
        luminance: sum / n,
        background_lightness: background.lightness,
        background_uniformity: background.uniformity,
        background_chroma: background.chroma,
        colourfulness: chroma / n,
    }
}

/// The backdrop as the border region shows it, in robust statistics so that a minority of
/// pixels that are not backdrop (a wisp of hair, the rim of a vignette, a shoulder's edge)
/// does not move it: lightness is the median luma, chroma the median of max - min channel,
/// uniformity the interquartile range of luma over 1.349 (the standard deviation of a normal
/// spread; a shadow or a lighting gradient over a quarter or more of the border widens it).
struct Backdrop {
    lightness: f64,
    chroma: f64,
    uniformity: f64,
}

impl Backdrop {
    fn of(mut luma: Vec<f64>, mut chroma: Vec<f64>) -> Backdrop {
        luma.sort_unstable_by(f64::total_cmp);
        chroma.sort_unstable_by(f64::total_cmp);
        Backdrop {
            lightness: quantile(&luma, 0.5),
            chroma: quantile(&chroma, 0.5),
            uniformity: (quantile(&luma, 0.75) - quantile(&luma, 0.25)) / 1.349,
        }
    }
}

/// The value at rank round((n - 1) q) of sorted values (0 when empty).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let k = ((sorted.len().saturating_sub(1)) as f64 * q).round() as usize;
    sorted.get(k).copied().unwrap_or(0.0)
}

/// Assesses acceptance-photo bytes against the committed bounds.
pub fn assess(jpeg_bytes: &[u8]) -> QualityReport {
    assess_with(jpeg_bytes, &bounds())
}

fn check(name: &str, value: f64, min: Option<f64>, max: Option<f64>, digits: usize) -> Metric {
    let ok = value.is_finite() && min.is_none_or(|m| value >= m) && max.is_none_or(|m| value <= m);
    let expected = match (min, max) {
        (Some(a), Some(b)) => format!("{a:.digits$}..{b:.digits$}"),
        (Some(a), None) => format!(">= {a:.digits$}"),
        (None, Some(b)) => format!("<= {b:.digits$}"),
        (None, None) => String::new(),
    };
    Metric {
        name: name.into(),
        value,
        min,
        max,
        ok,
        actual: format!("{value:.digits$}"),
        expected,
    }
}

fn flag(name: &str, ok: bool, actual: String, expected: &str) -> Metric {
    Metric {
        name: name.into(),
        value: if ok { 1.0 } else { 0.0 },
        min: Some(1.0),
        max: None,
        ok,
        actual,
        expected: expected.into(),
    }
}

/// Assesses acceptance-photo bytes against explicit bounds.
pub fn assess_with(bytes: &[u8], b: &QualityBounds) -> QualityReport {
    assess_decoded_with(bytes, decode(bytes).as_ref(), b)
}

/// [`assess`] when the caller has already decoded `bytes` with [`decode`] (the verification
/// decodes the acceptance photo once for every use).
pub fn assess_decoded(bytes: &[u8], decoded: Result<&RgbImage, &PhotoError>) -> QualityReport {
    assess_decoded_with(bytes, decoded, &bounds())
}

fn assess_decoded_with(
    bytes: &[u8],
    decoded: Result<&RgbImage, &PhotoError>,
    b: &QualityBounds,
) -> QualityReport {
    let mut metrics = Vec::new();
    let kind = sniff(bytes);
    let kind_name = match kind {
        Some(ImageKind::Jpeg) => "jpeg",
        Some(ImageKind::Png) => "png",
        Some(ImageKind::Jpeg2000) => "jpeg 2000",
        None => "unknown",
    };
    metrics.push(flag(
        "photo.format",
        kind == Some(ImageKind::Jpeg),
        kind_name.into(),
        "jpeg",
    ));
    let img = match decoded {
        Ok(img) => {
            metrics.push(flag("photo.decodable", true, "decoded".into(), "decodable"));
            img
        }
        Err(e) => {
            metrics.push(flag("photo.decodable", false, e.to_string(), "decodable"));
            return QualityReport { metrics };
        }
    };
    let (w, h) = img.dimensions();
    let size_ok = (w, h) == REQUIRED_SIZE;
    let mut size = flag("photo.size", size_ok, format!("{w}x{h}"), "358x441");
    size.value = (w as f64) * (h as f64);
    size.min = Some((REQUIRED_SIZE.0 * REQUIRED_SIZE.1) as f64);
    size.max = size.min;
    metrics.push(size);
    let comps = if kind == Some(ImageKind::Jpeg) {
        jpeg_components(bytes)
    } else {
        None
    };
    let colour_ok = matches!(comps, Some((3, 8)));
    let actual = match comps {
        Some((c, p)) => format!("{c} components x {p} bits"),
        None => format!("not a jpeg colour header ({kind_name})"),
    };
    metrics.push(flag(
        "photo.colour",
        colour_ok,
        actual,
        "3 components x 8 bits (24-bit colour)",
    ));
    let m = measure(img);
    metrics.push(check(
        "photo.colourfulness",
        m.colourfulness,
        Some(b.colourfulness_min),
        None,
        1,
    ));
    metrics.push(check(
        "photo.sharpness",
        m.sharpness,
        Some(b.sharpness_min),
        None,
        1,
    ));
    metrics.push(check(
        "photo.under_exposure",
        m.under_exposure,
        None,
        Some(b.under_exposure_max),
        3,
    ));
    metrics.push(check(
        "photo.over_exposure",
        m.over_exposure,
        None,
        Some(b.over_exposure_max),
        3,
    ));
    metrics.push(check(
        "photo.luminance",
        m.luminance,
        Some(b.luminance_min),
        Some(b.luminance_max),
        1,
    ));
    metrics.push(check(
        "photo.background_lightness",
        m.background_lightness,
        Some(b.background_lightness_min),
        None,
        1,
    ));
    metrics.push(check(
        "photo.background_chroma",
        m.background_chroma,
        None,
        Some(b.background_chroma_max),
        1,
    ));
    metrics.push(check(
        "photo.background_uniformity",
        m.background_uniformity,
        None,
        Some(b.background_uniformity_max),
        1,
    ));
    let g = head_geometry(img);
    let nan = f64::NAN;
    metrics.push(check(
        "photo.crown_offset",
        g.map_or(nan, |g| g.crown),
        Some(CROWN_RANGE.0),
        Some(CROWN_RANGE.1),
        0,
    ));
    metrics.push(check(
        "photo.head_width",
        g.map_or(nan, |g| g.width()),
        Some(HEAD_WIDTH_RANGE.0),
        Some(HEAD_WIDTH_RANGE.1),
        0,
    ));
    metrics.push(check(
        "photo.head_centre",
        g.map_or(nan, |g| (g.centre() - REQUIRED_SIZE.0 as f64 / 2.0).abs()),
        None,
        Some(HEAD_CENTRE_MAX),
        0,
    ));
    QualityReport { metrics }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgb, RgbImage};
    use proptest::prelude::*;

    fn face(name: &str) -> RgbImage {
        let p = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
            .join("fixtures/faces")
            .join(name);
        decode(&std::fs::read(p).expect("fixture face")).expect("decode")
    }

    /// A standard photo the testkit's studio made (fixtures/photos; the testkit checks that
    /// the committed files are what it makes).
    fn pinned(name: &str) -> Vec<u8> {
        let p = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("fixtures/photos").join(name);
        std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    /// A good acceptance photo (decoded) made from a colour fixture portrait.
    fn good() -> RgbImage {
        decode(&pinned("A000022-acceptance.jpg")).expect("acceptance")
    }

    fn png(img: &RgbImage) -> Vec<u8> {
        let mut out = Vec::new();
        let enc = image::codecs::png::PngEncoder::new(&mut out);
        image::ImageEncoder::write_image(enc, img.as_raw(), img.width(), img.height(), image::ExtendedColorType::Rgb8)
            .expect("encode png");
        out
    }

    fn jpeg(img: &RgbImage) -> Vec<u8> {
        let mut out = Vec::new();
        let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 72);
        image::ImageEncoder::write_image(
            enc,
            img.as_raw(),
            img.width(),
            img.height(),
            image::ExtendedColorType::Rgb8,
        )
        .expect("encode");
        out
    }

    fn failed(bytes: &[u8]) -> Vec<String> {
        assess(bytes)
            .failures()
            .into_iter()
            .map(|m| m.name.clone())
            .collect()
    }

    fn map(img: &RgbImage, f: impl Fn(u32, u32, [u8; 3]) -> [u8; 3]) -> RgbImage {
        RgbImage::from_fn(img.width(), img.height(), |x, y| {
            Rgb(f(x, y, img.get_pixel(x, y).0))
        })
    }

    /// The per-pixel definition of the metrics (the first implementation), kept as the oracle
    /// for [`measure`].
    fn reference_measure(img: &RgbImage) -> RawMetrics {
        let luma = |p: &Rgb<u8>| 0.299 * p.0[0] as f64 + 0.587 * p.0[1] as f64 + 0.114 * p.0[2] as f64;
        let (w, h) = img.dimensions();
        let (x0, x1, y0, y1) = rect(w, h, FACE_REGION);
        let mut n = 0f64;
        let (mut under, mut over, mut sum, mut chroma) = (0f64, 0f64, 0f64, 0f64);
        for y in y0..y1 {
            for x in x0..x1 {
                let p = img.get_pixel(x, y);
                let l = luma(p);
                if l <= 25.5 {
                    under += 1.0;
                }
                if l >= 246.5 {
                    over += 1.0;
                }
                sum += l;
                let (r, g, b) = (p.0[0] as f64, p.0[1] as f64, p.0[2] as f64);
                chroma += r.max(g).max(b) - r.min(g).min(b);
                n += 1.0;
            }
        }
        let n = n.max(1.0);
        let l = |x: u32, y: u32| img.get_pixel_checked(x, y).map(luma).unwrap_or(0.0);
        let (mut ls, mut lss, mut ln) = (0f64, 0f64, 0f64);
        for y in y0.max(1)..y1.min(h.saturating_sub(1)) {
            for x in x0.max(1)..x1.min(w.saturating_sub(1)) {
                let v = l(x - 1, y) + l(x + 1, y) + l(x, y - 1) + l(x, y + 1) - 4.0 * l(x, y);
                ls += v;
                lss += v * v;
                ln += 1.0;
            }
        }
        let ln = ln.max(1.0);
        let top = ((h as f32 * BORDER_TOP) as u32).max(1);
        let side = ((w as f32 * BORDER_SIDE) as u32).max(1);
        let depth = ((h as f32 * BORDER_SIDE_DEPTH) as u32).max(top);
        let (mut bl, mut bc) = (Vec::new(), Vec::new());
        for y in 0..depth.min(h) {
            for x in 0..w {
                if y < top || x < side || x >= w.saturating_sub(side) {
                    bl.push(l(x, y));
                    let p = img.get_pixel(x, y).0;
                    bc.push((p[0].max(p[1]).max(p[2]) - p[0].min(p[1]).min(p[2])) as f64);
                }
            }
        }
        let background = Backdrop::of(bl, bc);
        RawMetrics {
            sharpness: (lss / ln - (ls / ln).powi(2)).max(0.0),
            under_exposure: under / n,
            over_exposure: over / n,
            luminance: sum / n,
            background_lightness: background.lightness,
            background_uniformity: background.uniformity,
            background_chroma: background.chroma,
            colourfulness: chroma / n,
        }
    }

    #[test]
    fn measure_equals_the_per_pixel_definition_exactly() {
        let g = good();
        let mut imgs = vec![
            g.clone(),
            face("A000370.jpg"),
            image::imageops::resize(&g, 7, 9, image::imageops::FilterType::Triangle),
            RgbImage::from_fn(3, 2, |x, y| Rgb([(x * 90) as u8, (y * 100) as u8, 7])),
            RgbImage::from_pixel(1, 1, Rgb([1, 2, 3])),
        ];
        let mut rng = 12345u32;
        imgs.push(RgbImage::from_fn(61, 47, |_, _| {
            rng = rng.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let v = (rng >> 8).to_le_bytes();
            Rgb([v[0], v[1], v[2]])
        }));
        for img in &imgs {
            let (a, b) = (measure(img), reference_measure(img));
            assert_eq!(a, b, "{}x{}", img.width(), img.height());
        }
    }

    #[test]
    fn committed_bounds_are_present() {
        assert!(committed_bounds_present());
        let b = bounds();
        assert!(b.sharpness_min > 0.0 && b.luminance_min < b.luminance_max);
    }

    #[test]
    fn good_photos_pass() {
        let r = assess(&pinned("A000022-acceptance.jpg"));
        assert!(r.passed(), "{:?}", r.failures());
        assert_eq!(r.metrics.len(), 15);
        assert!(r
            .metrics
            .iter()
            .all(|m| !m.expected.is_empty() && !m.actual.is_empty()));
        let sample = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
            .join("fixtures/samples/pass-case/acceptance/451022202404011140/photo.jpg");
        let r = assess(&std::fs::read(sample).expect("sample photo"));
        assert!(
            r.passed(),
            "the independent sample's photo: {:?}",
            r.failures()
        );
    }

    #[test]
    fn every_defect_fails_with_its_metric() {
        let g = good();
        let (w, h) = g.dimensions();
        let blurred = image::imageops::blur(&g, 3.0);
        let dark = map(&g, |_, _, p| p.map(|c| (c as f32 * 0.18) as u8));
        let bright = map(&g, |_, _, p| p.map(|c| (c as f32 * 2.2).min(255.0) as u8));
        let is_border =
            |x: u32, y: u32| y < h / 12 || ((x < w / 12 || x >= w - w / 12) && y < h / 2);
        let dark_bg = map(&g, |x, y, p| if is_border(x, y) { [15, 15, 20] } else { p });
        let stripes = map(&g, |x, y, p| {
            if is_border(x, y) {
                if (x / 6 + y / 6) % 2 == 0 {
                    [10, 10, 10]
                } else {
                    [250, 250, 250]
                }
            } else {
                p
            }
        });
        let small = image::imageops::resize(&g, 300, 400, image::imageops::FilterType::Triangle);
        let grey_rgb = map(&g, |_, _, p| {
            let l = (0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32) as u8;
            [l, l, l]
        });
        let mut grey_jpeg = Vec::new();
        let luma = image::DynamicImage::ImageRgb8(g.clone()).to_luma8();
        image::ImageEncoder::write_image(
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut grey_jpeg, 72),
            luma.as_raw(),
            w,
            h,
            image::ExtendedColorType::L8,
        )
        .expect("encode grey");
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            ("blurred", jpeg(&blurred), "photo.sharpness"),
            ("too dark", jpeg(&dark), "photo.under_exposure"),
            ("too dark", jpeg(&dark), "photo.luminance"),
            ("over-exposed", jpeg(&bright), "photo.over_exposure"),
            (
                "dark background",
                jpeg(&dark_bg),
                "photo.background_lightness",
            ),
            (
                "non-uniform background",
                jpeg(&stripes),
                "photo.background_uniformity",
            ),
            ("wrong size", jpeg(&small), "photo.size"),
            ("greyscale jpeg", grey_jpeg, "photo.colour"),
            ("grey content", jpeg(&grey_rgb), "photo.colourfulness"),
            ("png instead of jpeg", png(&g), "photo.format"),
            ("not an image", b"hello".to_vec(), "photo.decodable"),
        ];
        for (what, bytes, metric) in cases {
            let f = failed(&bytes);
            assert!(
                f.iter().any(|m| m == metric),
                "{what}: expected {metric} to fail, failures {f:?}"
            );
        }
        // The good photo itself fails none of these.
        assert!(failed(&jpeg(&g)).is_empty());
    }

    #[test]
    fn monochrome_portraits_fail_colour() {
        let acc = pinned("A000370-acceptance.jpg");
        let f = failed(&acc);
        assert!(f.iter().any(|m| m == "photo.colourfulness"), "{f:?}");
    }

    #[test]
    fn head_geometry_of_a_drawn_head() {
        // A head 207 px wide (ellipse 207 x 270) with its crown at 14, centred, a white highlight
        // inside, shoulders below; on white.
        let img = RgbImage::from_fn(358, 441, |x, y| {
            let (u, v) = ((x as f64 + 0.5 - 179.0) / 103.5, (y as f64 + 0.5 - 149.0) / 135.0);
            let head = u * u + v * v <= 1.0;
            let highlight = (x as i32 - 150).abs() < 6 && (y as i32 - 120).abs() < 6;
            let shoulders = y >= 300 && (x as f64 - 179.0).abs() <= 60.0 + (y as f64 - 300.0) * 1.5;
            if highlight {
                Rgb([255, 255, 255])
            } else if head || shoulders {
                Rgb([150, 110, 90])
            } else {
                Rgb([255, 255, 255])
            }
        });
        let g = head_geometry(&img).expect("head");
        assert!((g.crown - 14.0).abs() <= 1.0, "{g:?}");
        assert!((g.width() - 207.0).abs() <= 3.0, "{g:?}");
        assert!((g.centre() - 179.0).abs() <= 1.0, "{g:?}");
        let names: Vec<String> = assess(&jpeg(&img)).metrics.iter().filter(|m| !m.ok).map(|m| m.name.clone()).collect();
        assert!(!names.iter().any(|n| n.starts_with("photo.head") || n == "photo.crown_offset"), "{names:?}");
        // All backdrop: no head.
        assert_eq!(head_geometry(&RgbImage::from_pixel(358, 441, Rgb([255, 255, 255]))), None);
    }

    #[test]
    fn reads_jpeg_components() {
        let g = good();
        assert_eq!(jpeg_components(&jpeg(&g)), Some((3, 8)));
        assert_eq!(jpeg_components(b"\xFF\xD8\xFF"), None);
        assert_eq!(jpeg_components(b"not a jpeg"), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
        #[test]
        fn assess_never_panics(edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..10), cut in any::<usize>()) {
            let mut b = pinned("A000022-chip.jpg");
            for (at, v) in edits {
                let n = b.len();
                b[at % n] = v;
            }
            b.truncate(cut % (b.len() + 1));
            let r = assess(&b);
            prop_assert!(r.metrics.len() >= 2);
            let _ = jpeg_components(&b);
        }
    }
}

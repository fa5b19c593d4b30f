//! Perceptual photo comparison (causes 1 and 2): decoding, the printed-photo crop from a
//! photo-side scan, face-centred features, aligned comparison of the acceptance (A), printed (S)
//! and chip (C) photos, and the calibrated thresholds that turn a distance into a decision.
//!
//! The measure used for decisions is `1 - r`, where `r` is the weighted Pearson correlation of
//! face-centred grey thumbnails (32x40 points over x 15–85 %, y 12–80 % of the photo frame) after
//! the probe has been aligned to the reference by a coarse-to-fine search over shift, rotation
//! (±1.2°), scale and aspect (photo-compare.md: aligned correlation separates genuine from other
//! people; unaligned hashes do not). Two measured refinements widen the margin: the grey images
//! are band-passed (Gaussian 0.25 mm minus Gaussian 1 mm), which removes the layout every ID photo
//! shares, and the points are weighted by the ellipse inscribed in the region with the
//! reference's background colour down-weighted, because printers lighten or fade the photo
//! background. An aligned 256-bit pHash (image_hasher) of the same region is reported beside it.
//! Byte equality (SHA-256) is checked by the caller first. No I/O here: callers hand in bytes or
//! decoded images; thresholds are compiled in from calibration/photo.json.
//!
//! Everything is measured in millimetres of the photo frame (a reference photo's height is the
//! 32 mm frame height; a scan crop is placed by its dpi), so any photo size or aspect compares.

mod align;
mod crop;
mod features;
mod grid;
mod jpeg_quarter;
mod png_rows;

pub use align::{compare, compare_distance, Alignment, Measures, PhotoScore};
#[doc(hidden)]
pub use align::{compare_with, SearchPlan, PLAN};
pub use crop::{crop_printed_photo, crop_printed_photo_from_png, CROP_MARGIN_MM};
#[doc(hidden)]
pub use crop::crop_rect;
#[doc(hidden)]
pub use features::{Params, PARAMS};
pub use features::{PhotoFeatures, Probe};

use std::io::Cursor;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// Card geometry of the printed photo (records.md), millimetres from the card's top-left corner.
pub const PRINTED_PHOTO_MM: PhotoRect = PhotoRect {
    x0: 56.0,
    y0: 6.0,
    x1: 82.0,
    y1: 38.0,
};
/// Card size in millimetres.
pub const CARD_MM: (f64, f64) = (85.60, 54.00);
/// Largest image side accepted by [`decode`] (a 600-dpi card scan is 2022 px wide).
pub const MAX_SIDE: u32 = 12_000;
/// Smallest image side accepted by [`decode`]: an image smaller than this holds no comparable face.
pub const MIN_SIDE: u32 = 16;

/// A rectangle in millimetres.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PhotoRect {
    pub x0: f64,
    pub y0: f64,
    pub x1: f64,
    pub y1: f64,
}

impl PhotoRect {
    pub fn width(&self) -> f64 {
        self.x1 - self.x0
    }
    pub fn height(&self) -> f64 {
        self.y1 - self.y0
    }
}

/// What went wrong with a photo.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PhotoError {
    #[error("photo: unrecognised image format (first bytes {magic}); expected JPEG or PNG")]
    UnknownFormat { magic: String },
    #[error("photo: cannot decode {format} image: {reason}")]
    Decode {
        format: &'static str,
        reason: String,
    },
    #[error("photo: image is {width}x{height} pixels; {reason}")]
    BadSize {
        width: u32,
        height: u32,
        reason: String,
    },
    #[error("scan: {0}")]
    Scan(String),
}

/// Image container recognised by its magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageKind {
    Jpeg,
    Png,
    Jpeg2000,
}

/// The container of `bytes`, by magic number.
pub fn sniff(bytes: &[u8]) -> Option<ImageKind> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(ImageKind::Jpeg)
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(ImageKind::Png)
    } else if bytes.starts_with(&[0x00, 0x00, 0x00, 0x0C, 0x6A, 0x50, 0x20, 0x20])
        || bytes.starts_with(&[0xFF, 0x4F, 0xFF, 0x51])
    {
        Some(ImageKind::Jpeg2000)
    } else {
        None
    }
}

/// Decodes a JPEG or PNG (recognised by magic bytes) into 8-bit RGB. JPEG 2000 is decoded by the
/// lds layer; hand the resulting image to the other entry points. Never panics.
pub fn decode(bytes: &[u8]) -> Result<image::RgbImage, PhotoError> {
    let (format, name) = match sniff(bytes) {
        Some(ImageKind::Jpeg) => (image::ImageFormat::Jpeg, "jpeg"),
        Some(ImageKind::Png) => (image::ImageFormat::Png, "png"),
        Some(ImageKind::Jpeg2000) => {
            return Err(PhotoError::Decode {
                format: "jpeg2000",
                reason: "jpeg 2000 is decoded by the lds layer, not here".into(),
            })
        }
        None => {
            let magic = hex::encode(bytes.get(..bytes.len().min(8)).unwrap_or_default());
            return Err(PhotoError::UnknownFormat { magic });
        }
    };
    if format == image::ImageFormat::Jpeg {
        // The decoder fills a truncated scan with grey; a photo cut short is not decodable.
        let sos = bytes.windows(2).rposition(|w| w == [0xFF, 0xDA]);
        let eoi = bytes.windows(2).rposition(|w| w == [0xFF, 0xD9]);
        match (sos, eoi) {
            (Some(s), Some(e)) if e > s => {}
            _ => {
                return Err(PhotoError::Decode {
                    format: name,
                    reason: "truncated: no end-of-image marker after the scan data".into(),
                })
            }
        }
    }
    if format == image::ImageFormat::Jpeg {
        if let Some(rgb) = decode_ycbcr_jpeg(bytes) {
            return Ok(rgb);
        }
    }
    let mut reader = image::ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(512 * 1024 * 1024);
    reader.limits(limits);
    let img = reader.decode().map_err(|e| PhotoError::Decode {
        format: name,
        reason: e.to_string(),
    })?;
    let rgb = img.into_rgb8();
    if rgb.width() < MIN_SIDE || rgb.height() < MIN_SIDE {
        return Err(PhotoError::BadSize {
            width: rgb.width(),
            height: rgb.height(),
            reason: format!("too small to compare (at least {MIN_SIDE}x{MIN_SIDE})"),
        });
    }
    Ok(rgb)
}

/// The common case of [`decode`] — a 3-component (YCbCr or RGB) JPEG of at least
/// [`MIN_SIDE`] pixels a side —
/// straight through zune-jpeg, the decoder the `image` crate wraps, with the options the wrapper
/// sets (non-strict, RGB out): the same pixels (tested on the faces data) without the wrapper's
/// input copy, second header pass and zeroed output buffer. `None` for anything else, including
/// every error: the `image` crate path then decides and words it.
fn decode_ycbcr_jpeg(bytes: &[u8]) -> Option<image::RgbImage> {
    use zune_core::colorspace::ColorSpace;
    let options = zune_core::options::DecoderOptions::default()
        .set_strict_mode(false)
        .set_max_width(MAX_SIDE as usize)
        .set_max_height(MAX_SIDE as usize)
        .jpeg_set_out_colorspace(ColorSpace::RGB);
    let mut dec = zune_jpeg::JpegDecoder::new_with_options(zune_core::bytestream::ZCursor::new(bytes), options);
    dec.decode_headers().ok()?;
    if !matches!(dec.input_colorspace()?, ColorSpace::YCbCr | ColorSpace::RGB) {
        return None;
    }
    let (w, h) = dec.dimensions()?;
    if w < MIN_SIDE as usize || h < MIN_SIDE as usize {
        return None;
    }
    let pixels = dec.decode().ok()?;
    image::RgbImage::from_raw(u32::try_from(w).ok()?, u32::try_from(h).ok()?, pixels)
}

/// Which two sources are compared; each kind has its own calibrated threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CompareKind {
    /// A~S: the printed photo (scan crop) against the acceptance photo.
    PrintedVsAcceptance,
    /// S~C: the printed photo against the chip photo.
    PrintedVsChip,
    /// A~C: the chip photo against the acceptance photo.
    ChipVsAcceptance,
}

impl CompareKind {
    pub const ALL: [CompareKind; 3] = [
        CompareKind::PrintedVsAcceptance,
        CompareKind::PrintedVsChip,
        CompareKind::ChipVsAcceptance,
    ];

    /// The sources label used in findings.
    pub fn sources(self) -> &'static str {
        match self {
            CompareKind::PrintedVsAcceptance => "A~S",
            CompareKind::PrintedVsChip => "S~C",
            CompareKind::ChipVsAcceptance => "A~C",
        }
    }
}

/// A calibrated decision threshold on the distance (`distance <= threshold` means same photo) and
/// the grey zone around it in which a finding is marked `borderline`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Threshold {
    pub threshold: f64,
    pub borderline_low: f64,
    pub borderline_high: f64,
}

const CALIBRATION_JSON: &str = include_str!("../../../../../calibration/photo.json");

/// Fallback used only if the committed calibration file could not be parsed (a build defect the
/// unit tests catch): values from photo-compare.md.
const FALLBACK: Threshold = Threshold {
    threshold: 0.07,
    borderline_low: 0.04,
    borderline_high: 0.10,
};

/// What the comparison reads of calibration/photo.json: each kind's threshold. The file's whole
/// format (statistics, quality bounds, held-out check) is `calibration::photo::PhotoCalibration`,
/// test tooling this module does not name; its tests check that both read the same thresholds.
#[derive(Deserialize)]
struct CommittedThresholds {
    kinds: Vec<CommittedKind>,
}

#[derive(Deserialize)]
struct CommittedKind {
    kind: CompareKind,
    threshold: Threshold,
}

fn committed() -> Option<&'static CommittedThresholds> {
    static CAL: OnceLock<Option<CommittedThresholds>> = OnceLock::new();
    CAL.get_or_init(|| serde_json::from_str(CALIBRATION_JSON).ok())
        .as_ref()
}

/// The calibrated threshold for `kind`.
pub fn thresholds(kind: CompareKind) -> Threshold {
    committed()
        .and_then(|c| c.kinds.iter().find(|k| k.kind == kind))
        .map(|k| k.threshold)
        .unwrap_or(FALLBACK)
}

/// `(is_same, borderline)` for a distance of `kind`. A non-finite distance is "not the same".
pub fn decide(kind: CompareKind, distance: f64) -> (bool, bool) {
    decide_with(&thresholds(kind), distance)
}

/// [`decide`] with an explicit threshold.
pub fn decide_with(t: &Threshold, distance: f64) -> (bool, bool) {
    if !distance.is_finite() {
        return (false, false);
    }
    let same = distance <= t.threshold;
    let borderline = distance >= t.borderline_low && distance <= t.borderline_high;
    (same, borderline)
}


/// Whether `bytes` takes the reduced-size JPEG path of [`PhotoFeatures::from_bytes`] (for
/// benchmarks and tests).
#[doc(hidden)]
pub fn reduced_jpeg_decodes(bytes: &[u8]) -> bool {
    jpeg_quarter::decode_quarter(bytes, 0).is_some()
}

#[cfg(test)]
mod tests {
    //! The direct YCbCr JPEG decode against the image crate. The comparison's other tests need
    //! the print simulation and live in the testkit (tests/photo_compare.rs).
    use super::*;
    use image::{Rgb, RgbImage};

    fn root() -> std::path::PathBuf {
        std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
    }

    /// The `image` crate's decode of `bytes`, as [`decode`] did before its direct zune-jpeg path.
    fn image_crate_rgb(bytes: &[u8]) -> RgbImage {
        image::load_from_memory_with_format(bytes, image::ImageFormat::Jpeg)
            .expect("image crate decodes")
            .into_rgb8()
    }

    #[test]
    fn direct_jpeg_decode_equals_the_image_crate() {
        // Every committed face (as stored), the acceptance and chip photos of the sample card, and
        // acceptance photos this crate writes.
        let mut jpegs: Vec<Vec<u8>> = std::fs::read_dir(root().join("fixtures/faces"))
            .expect("faces")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "jpg"))
            .map(|p| std::fs::read(p).expect("read"))
            .collect();
        let base = root().join("fixtures/samples/pass-case");
        jpegs.push(std::fs::read(base.join("acceptance/451022202404011140/photo.jpg")).expect("sample photo"));
        let dg2 = std::fs::read(base.join("chip/dg2.bin")).expect("sample dg2");
        let at = dg2.windows(2).position(|w| w == [0xFF, 0xD8]).expect("jpeg in dg2");
        jpegs.push(dg2[at..].to_vec());
        for name in ["A000022", "A000109", "A000361"] {
            jpegs.push(std::fs::read(root().join(format!("fixtures/photos/{name}-acceptance.jpg"))).expect("pinned photo"));
        }
        let mut direct_count = 0;
        for jpg in &jpegs {
            let components = crate::rules::photo_quality::jpeg_components(jpg).map(|c| c.0);
            match decode_ycbcr_jpeg(jpg) {
                Some(direct) => {
                    assert_eq!(components, Some(3));
                    assert!(direct == image_crate_rgb(jpg), "direct zune decode differs from the image crate");
                    assert!(decode(jpg).expect("decode") == direct);
                    direct_count += 1;
                }
                // The greyscale faces of the data.
                None => {
                    assert_eq!(components, Some(1));
                    assert!(decode(jpg).expect("grey decodes") == image_crate_rgb(jpg));
                }
            }
        }
        assert!(direct_count >= 40, "{direct_count} colour JPEGs compared");
        // A greyscale JPEG is left to the image crate (grey replicated to RGB), with the same result.
        let grey = image::GrayImage::from_fn(40, 48, |x, y| image::Luma([(x * 5 + y * 3) as u8]));
        let mut g = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut g, 90)
            .encode_image(&grey)
            .expect("encode grey");
        assert!(decode_ycbcr_jpeg(&g).is_none());
        assert!(decode(&g).expect("grey decodes") == image_crate_rgb(&g));
        // Truncated: refused before any decoder runs. Too small: left to the image crate path,
        // which words the error.
        assert!(decode(&jpegs[0][..jpegs[0].len() / 2]).is_err());
        let tiny = RgbImage::from_pixel(8, 8, Rgb([200, 100, 50]));
        let mut t = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut t, 90)
            .encode_image(&tiny)
            .expect("encode tiny");
        assert!(decode_ycbcr_jpeg(&t).is_none());
        assert!(matches!(decode(&t), Err(PhotoError::BadSize { .. })));
    }
}

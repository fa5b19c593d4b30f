//! The printed-photo crop: the photo region of a photo-side scan (records.md geometry, x 56–82 mm,
//! y 6–38 mm) plus a margin of [`CROP_MARGIN_MM`] on every side, enough for the allowed 1 mm
//! shift and 1° rotation of the scan (a 1° rotation about the card centre moves the photo's far
//! corner by 0.8 mm). Alignment happens in the comparison. Parts of the region outside the scan
//! are white. A fast path decodes a PNG scan only down to the last row needed.

use std::io::Cursor;

use image::{Rgb, RgbImage};

use super::{PhotoError, CARD_MM, MAX_SIDE, PRINTED_PHOTO_MM};

/// Margin around the nominal printed-photo region in the crop, millimetres.
pub const CROP_MARGIN_MM: f64 = 2.5;

/// Largest relative difference between the scan size and the card size at the stated dpi.
const SIZE_TOLERANCE: f64 = 0.08;

/// The crop rectangle in scan pixels: x, y, width, height (may extend past the scan).
pub(crate) fn crop_rect(dpi: u32) -> (i64, i64, u32, u32) {
    let px = |mm: f64| mm * dpi as f64 / 25.4;
    let r = PRINTED_PHOTO_MM;
    let x = px(r.x0 - CROP_MARGIN_MM).round() as i64;
    let y = px(r.y0 - CROP_MARGIN_MM).round() as i64;
    let w = px(r.width() + 2.0 * CROP_MARGIN_MM).round() as u32;
    let h = px(r.height() + 2.0 * CROP_MARGIN_MM).round() as u32;
    (x, y, w, h)
}

fn check_scan(width: u32, height: u32, dpi: u32) -> Result<(), PhotoError> {
    if !(100..=2400).contains(&dpi) {
        return Err(PhotoError::Scan(format!("dpi {dpi} is outside 100..2400")));
    }
    let ew = CARD_MM.0 * dpi as f64 / 25.4;
    let eh = CARD_MM.1 * dpi as f64 / 25.4;
    let off = |v: u32, e: f64| ((v as f64 - e) / e).abs() > SIZE_TOLERANCE;
    if off(width, ew) || off(height, eh) {
        return Err(PhotoError::Scan(format!(
            "front scan is {width}x{height} pixels; a {}x{} mm card at {dpi} dpi is about {:.0}x{:.0}",
            CARD_MM.0, CARD_MM.1, ew, eh
        )));
    }
    Ok(())
}

/// The printed photo region, with margin, of a photo-side scan at `dpi`.
pub fn crop_printed_photo(front_scan: &RgbImage, dpi: u32) -> Result<RgbImage, PhotoError> {
    check_scan(front_scan.width(), front_scan.height(), dpi)?;
    let (x0, y0, w, h) = crop_rect(dpi);
    let mut out = RgbImage::from_pixel(w, h, Rgb([255, 255, 255]));
    let sw = front_scan.width() as i64;
    let sh = front_scan.height() as i64;
    let src = front_scan.as_raw();
    let dst_stride = w as usize * 3;
    let xa = x0.max(0);
    let xb = (x0 + w as i64).min(sw);
    if xa >= xb {
        return Ok(out);
    }
    for yy in 0..h as i64 {
        let sy = y0 + yy;
        if sy < 0 || sy >= sh {
            continue;
        }
        let s = (sy * sw + xa) as usize * 3;
        let e = (sy * sw + xb) as usize * 3;
        let d = yy as usize * dst_stride + (xa - x0) as usize * 3;
        let len = e - s;
        if let (Some(from), Some(to)) = (src.get(s..e), out.get_mut(d..d + len)) {
            to.copy_from_slice(from);
        }
    }
    Ok(out)
}

/// [`crop_printed_photo`] straight from PNG bytes, decoding rows only down to the last row the
/// crop needs and converting only the columns it needs. Interlaced PNGs are decoded whole.
pub fn crop_printed_photo_from_png(bytes: &[u8], dpi: u32) -> Result<RgbImage, PhotoError> {
    let bad = |e: png::DecodingError| PhotoError::Decode {
        format: "png",
        reason: e.to_string(),
    };
    let mut dec =
        png::Decoder::new_with_limits(Cursor::new(bytes), png::Limits { bytes: 256 << 20 });
    dec.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = dec.read_info().map_err(bad)?;
    let (width, height, interlaced) = {
        let info = reader.info();
        (info.width, info.height, info.interlaced)
    };
    if width > MAX_SIDE || height > MAX_SIDE {
        return Err(PhotoError::BadSize {
            width,
            height,
            reason: format!("larger than {MAX_SIDE} pixels on a side"),
        });
    }
    check_scan(width, height, dpi)?;
    if interlaced {
        let img = super::decode(bytes)?;
        return crop_printed_photo(&img, dpi);
    }
    let (color, depth) = reader.output_color_type();
    let channels = match (color, depth) {
        (png::ColorType::Grayscale, png::BitDepth::Eight) => 1,
        (png::ColorType::GrayscaleAlpha, png::BitDepth::Eight) => 2,
        (png::ColorType::Rgb, png::BitDepth::Eight) => 3,
        (png::ColorType::Rgba, png::BitDepth::Eight) => 4,
        other => {
            return Err(PhotoError::Decode {
                format: "png",
                reason: format!("unsupported output colour type {other:?}"),
            })
        }
    };
    let (x0, y0, w, h) = crop_rect(dpi);
    let mut out = RgbImage::from_pixel(w, h, Rgb([255, 255, 255]));
    let xa = x0.max(0);
    let xb = (x0 + w as i64).min(width as i64);
    let y_end = (y0 + h as i64).min(height as i64);
    let dst_stride = w as usize * 3;
    let mut y: i64 = 0;
    while y < y_end {
        let Some(row) = reader.next_row().map_err(bad)? else {
            return Err(PhotoError::Decode {
                format: "png",
                reason: format!("image data ends at row {y} of {height}"),
            });
        };
        if y >= y0 && xa < xb {
            let data = row.data();
            let d0 = (y - y0) as usize * dst_stride + (xa - x0) as usize * 3;
            let n = (xb - xa) as usize;
            let src = data.get(xa as usize * channels..(xa as usize + n) * channels);
            let dst = out.get_mut(d0..d0 + n * 3);
            if let (Some(src), Some(dst)) = (src, dst) {
                for (px, o) in src.chunks_exact(channels).zip(dst.chunks_exact_mut(3)) {
                    // Alpha is dropped, as `image`'s RGBA -> RGB conversion does.
                    let (r, g, b) = match channels {
                        1 | 2 => (px[0], px[0], px[0]),
                        _ => (px[0], px[1], px[2]),
                    };
                    o[0] = r;
                    o[1] = g;
                    o[2] = b;
                }
            }
        }
        y += 1;
    }
    Ok(out)
}

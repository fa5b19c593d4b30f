//! The printed-photo crop: the photo region of a photo-side scan (records.md geometry, x 56–82 mm,
//! y 6–38 mm) plus a margin of [`CROP_MARGIN_MM`] on every side, enough for the allowed 1 mm
//! shift and 1° rotation of the scan (a 1° rotation about the card centre moves the photo's far
//! corner by 0.8 mm). Alignment happens in the comparison. Parts of the region outside the scan
//! are white. A fast path decodes a PNG scan only down to the last row needed.

use std::io::Cursor;

use image::{Rgb, RgbImage};

use super::grid::{AreaRows, Grid};
use super::{PhotoError, CARD_MM, MAX_SIDE, PRINTED_PHOTO_MM};

/// Margin around the nominal printed-photo region in the crop, millimetres.
pub const CROP_MARGIN_MM: f64 = 2.5;

/// Largest relative difference between the scan size and the card size at the stated dpi.
const SIZE_TOLERANCE: f64 = 0.08;

/// The crop rectangle in scan pixels: x, y, width, height (may extend past the scan).
pub fn crop_rect(dpi: u32) -> (i64, i64, u32, u32) {
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
/// crop needs and converting only the columns it needs. The common scan (8-bit grey or colour,
/// not interlaced) takes the fast row reader of `png_rows`; anything else, and anything that
/// reader refuses, goes through the `png` crate (which then words the error). Interlaced PNGs
/// are decoded whole.
pub fn crop_printed_photo_from_png(bytes: &[u8], dpi: u32) -> Result<RgbImage, PhotoError> {
    if let Some(h) = fast_header(bytes, dpi) {
        let (x0, y0, w, hh) = crop_rect(dpi);
        let mut out = RgbImage::from_pixel(w, hh, Rgb([255, 255, 255]));
        let y_end = (y0 + hh as i64).clamp(0, h.height as i64) as usize;
        let fast = super::png_rows::read_rows(bytes, &h, y_end, |y, row| {
            copy_row(&mut out, row, y as i64, x0, y0, h.width, h.channels);
        });
        if fast.is_some() {
            return Ok(out);
        }
    }
    crop_with_png_crate(bytes, dpi)
}

/// The header of a PNG scan the fast row reader takes (a common layout, a sane size, the card's
/// size at `dpi`); `None` sends the scan to the `png` crate, which words any error.
fn fast_header(bytes: &[u8], dpi: u32) -> Option<super::png_rows::Header> {
    let h = super::png_rows::header(bytes)?;
    (h.width <= MAX_SIDE && h.height <= MAX_SIDE && check_scan(h.width, h.height, dpi).is_ok()).then_some(h)
}

/// The printed-photo crop of a PNG scan fed row by row into `rows` (an averaging over the crop's
/// pixels, [`crop_rect`]) as the fast row reader decodes them: crop pixels outside the scan are
/// white, as in [`crop_printed_photo_from_png`]. `None` when the fast reader does not take the
/// file: the caller then crops with [`crop_with_png_crate`], which is what
/// [`crop_printed_photo_from_png`] would fall back to (without trying the fast reader again).
pub(crate) fn printed_rows_from_png(bytes: &[u8], dpi: u32, mut rows: AreaRows) -> Option<Grid> {
    let h = fast_header(bytes, dpi)?;
    let (x0, y0, _, ch) = crop_rect(dpi);
    let (ch, scan_h) = (i64::from(ch), i64::from(h.height));
    // Crop row yy is scan row y0 + yy: rows above the scan, then the scan's, then rows below.
    for yy in 0..(-y0).clamp(0, ch) {
        rows.push_white(yy as usize);
    }
    let y_end = (y0 + ch).clamp(0, scan_h) as usize;
    super::png_rows::read_rows(bytes, &h, y_end, |y, row| {
        let yy = y as i64 - y0;
        if (0..ch).contains(&yy) {
            rows.push_pixels(yy as usize, row, h.channels, -x0);
        }
    })?;
    for yy in (scan_h - y0).clamp(0, ch)..ch {
        rows.push_white(yy as usize);
    }
    Some(rows.finish())
}

/// Copies the crop's columns of scan row `y` (`channels` bytes per pixel) into `out`, whose
/// top-left is scan pixel (`x0`, `y0`). Alpha is dropped, as `image`'s RGBA -> RGB conversion
/// does; grey is repeated.
fn copy_row(out: &mut RgbImage, data: &[u8], y: i64, x0: i64, y0: i64, width: u32, channels: usize) {
    let (w, h) = (out.width() as i64, out.height() as i64);
    if y < y0 || y >= y0 + h {
        return;
    }
    let xa = x0.max(0);
    let xb = (x0 + w).min(width as i64);
    if xa >= xb {
        return;
    }
    let dst_stride = w as usize * 3;
    let d0 = (y - y0) as usize * dst_stride + (xa - x0) as usize * 3;
    let n = (xb - xa) as usize;
    let src = data.get(xa as usize * channels..(xa as usize + n) * channels);
    let dst = out.get_mut(d0..d0 + n * 3);
    if let (Some(src), Some(dst)) = (src, dst) {
        match channels {
            3 => dst.copy_from_slice(src),
            1 => {
                for (px, o) in src.iter().zip(dst.chunks_exact_mut(3)) {
                    o.fill(*px);
                }
            }
            _ => {
                for (px, o) in src.chunks_exact(channels).zip(dst.chunks_exact_mut(3)) {
                    let (r, g, b) = match channels {
                        2 => (px[0], px[0], px[0]),
                        _ => (px[0], px[1], px[2]),
                    };
                    o[0] = r;
                    o[1] = g;
                    o[2] = b;
                }
            }
        }
    }
}

/// The `png` crate path of [`crop_printed_photo_from_png`]: every PNG, and the judge of errors.
pub(crate) fn crop_with_png_crate(bytes: &[u8], dpi: u32) -> Result<RgbImage, PhotoError> {
    let bad = |e: png::DecodingError| PhotoError::Decode {
        format: "png",
        reason: e.to_string(),
    };
    let mut dec =
        png::Decoder::new_with_limits(Cursor::new(bytes), png::Limits { bytes: super::png_rows::LIMIT_BYTES });
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
    let y_end = (y0 + h as i64).min(height as i64);
    let mut y: i64 = 0;
    while y < y_end {
        let Some(row) = reader.next_row().map_err(bad)? else {
            return Err(PhotoError::Decode {
                format: "png",
                reason: format!("image data ends at row {y} of {height}"),
            });
        };
        copy_row(&mut out, row.data(), y, x0, y0, width, channels);
        y += 1;
    }
    Ok(out)
}

//! A fast row reader for the common PNG scan (8-bit grey, grey+alpha, RGB or RGBA, not
//! interlaced): the chunks are walked here (each IDAT chunk's CRC checked before its data is
//! used), the zlib stream is inflated with zlib-rs in batches of rows that stay in cache, and the
//! rows are unfiltered in place. Only the rows down to the last one asked for are inflated.
//!
//! Anything unusual (another colour type or depth, interlacing, a chunk other than IDAT among the
//! image data, a CRC or zlib error, data ending early) returns `None`: the caller then decodes
//! with the `png` crate, which decides and words the error. The header and every chunk before
//! the image data are validated by the `png` crate's `read_info` first, so a file this reader
//! accepts is one the `png` crate accepts, with the same rows (tested on many files).

use std::io::Cursor;

/// Rows inflated and unfiltered per batch (about 200 KB at 600 dpi: cache-sized).
const BATCH_ROWS: usize = 32;
/// Limit on decoded bytes, as for the `png` crate path.
pub(crate) const LIMIT_BYTES: usize = 256 << 20;

/// Header facts of a PNG the fast reader handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub width: u32,
    pub height: u32,
    /// Bytes per pixel: 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA.
    pub channels: usize,
}

/// Validates the file with the `png` crate up to the image data and returns its header if the
/// fast reader handles it.
pub(crate) fn header(bytes: &[u8]) -> Option<Header> {
    let dec = png::Decoder::new_with_limits(Cursor::new(bytes), png::Limits { bytes: LIMIT_BYTES });
    let reader = dec.read_info().ok()?;
    let info = reader.info();
    if info.interlaced || info.bit_depth != png::BitDepth::Eight {
        return None;
    }
    let channels = match info.color_type {
        png::ColorType::Grayscale => 1,
        png::ColorType::GrayscaleAlpha => 2,
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        png::ColorType::Indexed => return None,
    };
    Some(Header { width: info.width, height: info.height, channels })
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Walks the IDAT chunks in order, checking each one's CRC before handing out its data.
struct Idat<'a> {
    bytes: &'a [u8],
    /// Offset of the next chunk header.
    next: usize,
}

impl<'a> Idat<'a> {
    /// Positioned on the first IDAT chunk (after the signature, IHDR and any other chunks).
    fn new(bytes: &'a [u8]) -> Option<Idat<'a>> {
        if !bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            return None;
        }
        let mut at = 8usize;
        loop {
            let len = be32(bytes, at)? as usize;
            let kind = bytes.get(at + 4..at + 8)?;
            if kind == b"IDAT" {
                return Some(Idat { bytes, next: at });
            }
            if kind == b"IEND" {
                return None;
            }
            at = at.checked_add(12)?.checked_add(len)?;
        }
    }

    /// The data of the next IDAT chunk, or `None` when the next chunk is not a (sound) IDAT.
    fn next_chunk(&mut self) -> Option<&'a [u8]> {
        let at = self.next;
        let len = be32(self.bytes, at)? as usize;
        if len > i32::MAX as usize || self.bytes.get(at + 4..at + 8)? != b"IDAT" {
            return None;
        }
        let end = at.checked_add(8)?.checked_add(len)?;
        let typed = self.bytes.get(at + 4..end)?;
        let crc = be32(self.bytes, end)?;
        if zlib_rs::crc32::crc32(0, typed) != crc {
            return None;
        }
        self.next = end + 4;
        typed.get(4..)
    }
}

/// Decodes rows `0..rows_needed` of a PNG the fast reader handles (see [`header`]) and hands
/// each row's pixel bytes (`width * channels`, unfiltered) with its index to `sink`. `None` on
/// anything the `png` crate should judge instead.
pub(crate) fn read_rows(
    bytes: &[u8],
    h: &Header,
    rows_needed: usize,
    mut sink: impl FnMut(usize, &[u8]),
) -> Option<()> {
    let row_bytes = (h.width as usize).checked_mul(h.channels)?;
    let stride = row_bytes.checked_add(1)?;
    let rows_needed = rows_needed.min(h.height as usize);
    if stride.checked_mul(h.height as usize)? > LIMIT_BYTES {
        return None;
    }
    let mut idat = Idat::new(bytes)?;
    // Slot 0: the previous row (unfiltered; zeros above the first row); slots 1..=BATCH_ROWS:
    // the rows of this batch as inflated (filter byte first).
    let mut buf = vec![0u8; (BATCH_ROWS + 1) * stride];
    let mut inflate = zlib_rs::Inflate::new(true, 15);
    let mut input: &[u8] = &[];
    let mut y = 0usize;
    while y < rows_needed {
        let n = BATCH_ROWS.min(rows_needed - y);
        let target = buf.get_mut(stride..(n + 1) * stride)?;
        let mut filled = 0usize;
        while filled < target.len() {
            if input.is_empty() {
                input = idat.next_chunk()?;
                continue;
            }
            let (in0, out0) = (inflate.total_in(), inflate.total_out());
            let status = inflate
                .decompress(input, target.get_mut(filled..)?, zlib_rs::InflateFlush::NoFlush)
                .ok()?;
            let used = usize::try_from(inflate.total_in() - in0).ok()?;
            let made = usize::try_from(inflate.total_out() - out0).ok()?;
            input = input.get(used..)?;
            filled += made;
            if filled < target.len() && (status == zlib_rs::Status::StreamEnd || (used == 0 && made == 0 && !input.is_empty())) {
                return None; // the stream ends (or stalls) before the rows
            }
        }
        if !unfilter_batch(&mut buf, stride, n, h.channels) {
            return None;
        }
        for r in 1..=n {
            sink(y + r - 1, buf.get(r * stride + 1..(r + 1) * stride)?);
        }
        // The last row of the batch becomes the row above the next batch.
        buf.copy_within(n * stride..(n + 1) * stride, 0);
        y += n;
    }
    Some(())
}

/// Unfilters `n` rows laid out in `buf` at `stride` (= 1 + row bytes): slot 0 holds the row above
/// (unfiltered), slots 1..=n the filtered rows with their filter-type byte first. `bpp` bytes per
/// pixel. False on an unknown filter type or a buffer too short.
pub(crate) fn unfilter_batch(buf: &mut [u8], stride: usize, n: usize, bpp: usize) -> bool {
    if stride == 0 || buf.len() < (n + 1) * stride {
        return false;
    }
    let mut filters = Vec::with_capacity(n);
    for r in 1..=n {
        match buf.get(r * stride) {
            Some(&f) if f <= 4 => filters.push(f),
            _ => return false,
        }
    }
    for r in 1..=n {
        let (before, after) = buf.split_at_mut(r * stride);
        let (Some(up), Some(cur)) = (before.get((r - 1) * stride + 1..), after.get_mut(1..stride)) else {
            return false;
        };
        unfilter_row(filters.get(r - 1).copied().unwrap_or(0), bpp, up, cur);
    }
    true
}

/// The Paeth predictor (PNG spec 9.4) in the branch-free form of stb_image.
#[inline]
fn paeth_pred(a: i16, b: i16, c: i16) -> u8 {
    let thresh = c * 3 - (a + b);
    let lo = a.min(b);
    let hi = a.max(b);
    let t0 = if hi <= thresh { lo } else { c };
    let t1 = if thresh <= lo { hi } else { t0 };
    t1 as u8
}

/// Unfilters one row in place given the unfiltered row above (PNG spec 9.2-9.4).
pub(crate) fn unfilter_row(filter: u8, bpp: usize, up: &[u8], cur: &mut [u8]) {
    let bpp = bpp.max(1);
    match filter {
        1 => {
            for i in bpp..cur.len() {
                let left = cur[i - bpp];
                cur[i] = cur[i].wrapping_add(left);
            }
        }
        2 => {
            for (c, u) in cur.iter_mut().zip(up) {
                *c = c.wrapping_add(*u);
            }
        }
        3 => {
            for (i, &u) in up.iter().enumerate().take(cur.len()) {
                let left = if i >= bpp { cur[i - bpp] as u16 } else { 0 };
                cur[i] = cur[i].wrapping_add(((left + u as u16) / 2) as u8);
            }
        }
        4 if bpp == 3 => {
            // Whole pixels: the three channels are independent chains the CPU overlaps.
            let (cx, _) = cur.as_chunks_mut::<3>();
            let (ux, _) = up.as_chunks::<3>();
            let (mut a, mut c) = ([0i16; 3], [0i16; 3]);
            for (px, u) in cx.iter_mut().zip(ux) {
                for k in 0..3 {
                    let b = u[k] as i16;
                    let v = px[k].wrapping_add(paeth_pred(a[k], b, c[k]));
                    px[k] = v;
                    a[k] = v as i16;
                    c[k] = b;
                }
            }
        }
        4 => {
            for (i, &u) in up.iter().enumerate().take(cur.len()) {
                let (a, c) = if i >= bpp {
                    (cur[i - bpp] as i16, up[i - bpp] as i16)
                } else {
                    (0, 0)
                };
                cur[i] = cur[i].wrapping_add(paeth_pred(a, u as i16, c));
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(w: u32, h: u32, channels: usize, seed: u32) -> Vec<u8> {
        let mut s = seed;
        (0..w as usize * h as usize * channels)
            .map(|i| {
                s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                // Smooth content with noise, so that every filter type is chosen sometimes.
                let x = (i / channels) % w as usize;
                ((x * 3 + i / (w as usize * channels)) as u32 + ((s >> 28) & 7)) as u8
            })
            .collect()
    }

    fn encode(w: u32, h: u32, colour: png::ColorType, data: &[u8], filter: png::Filter, c: png::Compression) -> Vec<u8> {
        let mut out = Vec::new();
        let mut e = png::Encoder::new(&mut out, w, h);
        e.set_color(colour);
        e.set_depth(png::BitDepth::Eight);
        e.set_compression(c);
        e.set_filter(filter);
        let mut wr = e.write_header().expect("header");
        wr.write_image_data(data).expect("data");
        wr.finish().expect("finish");
        out
    }

    fn png_crate_rows(bytes: &[u8]) -> Vec<Vec<u8>> {
        let mut r = png::Decoder::new(Cursor::new(bytes)).read_info().expect("info");
        let mut rows = Vec::new();
        while let Some(row) = r.next_row().expect("row") {
            rows.push(row.data().to_vec());
        }
        rows
    }

    #[test]
    fn rows_equal_the_png_crate() {
        use png::{ColorType as C, Compression as Z, Filter as F};
        let filters = [F::NoFilter, F::Sub, F::Up, F::Avg, F::Paeth, F::Adaptive];
        for (w, h, colour, ch) in [(61, 70, C::Rgb, 3), (1, 3, C::Rgb, 3), (40, 33, C::Rgba, 4), (17, 9, C::Grayscale, 1), (23, 40, C::GrayscaleAlpha, 2)] {
            for (fi, &f) in filters.iter().enumerate() {
                for z in [Z::Fastest, Z::Fast, Z::Balanced] {
                    let data = pattern(w, h, ch, fi as u32 + 1);
                    let bytes = encode(w, h, colour, &data, f, z);
                    let hd = header(&bytes).expect("handled");
                    assert_eq!((hd.width, hd.height, hd.channels), (w, h, ch));
                    let want = png_crate_rows(&bytes);
                    for need in [h as usize, (h as usize).div_ceil(2), 1] {
                        let mut got = Vec::new();
                        read_rows(&bytes, &hd, need, |y, row| got.push((y, row.to_vec()))).expect("fast rows");
                        assert_eq!(got.len(), need);
                        for (y, row) in got {
                            assert_eq!(row, want[y], "{w}x{h} {colour:?} {f:?} {z:?} row {y}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn the_sample_scan_equals_the_png_crate() {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/samples/pass-case/surface/QC-20240408-9308/front.png");
        let bytes = std::fs::read(p).expect("sample scan");
        let hd = header(&bytes).expect("handled");
        let want = png_crate_rows(&bytes);
        let mut n = 0;
        read_rows(&bytes, &hd, want.len(), |y, row| {
            assert!(row == want[y].as_slice(), "row {y}");
            n += 1;
        })
        .expect("fast rows");
        assert_eq!(n, want.len());
    }

    #[test]
    fn anything_unusual_is_left_to_the_png_crate() {
        let data = pattern(20, 20, 3, 9);
        let good = encode(20, 20, png::ColorType::Rgb, &data, png::Filter::Paeth, png::Compression::Fast);
        let hd = header(&good).expect("handled");
        // A bad CRC on the image data.
        let at = good.windows(4).position(|w| w == b"IDAT").expect("idat");
        let len = be32(&good, at - 4).expect("len") as usize;
        let mut bad = good.clone();
        bad[at + 4 + len] ^= 1;
        assert!(read_rows(&bad, &hd, 20, |_, _| {}).is_none());
        // Data cut short.
        assert!(read_rows(&good[..at + 4 + len / 2], &hd, 20, |_, _| {}).is_none());
        // Interlaced, 16-bit and palette images are not handled.
        let mut e16 = Vec::new();
        {
            let mut e = png::Encoder::new(&mut e16, 4, 4);
            e.set_color(png::ColorType::Rgb);
            e.set_depth(png::BitDepth::Sixteen);
            let mut wr = e.write_header().expect("header");
            wr.write_image_data(&[7u8; 4 * 4 * 6]).expect("data");
        }
        assert!(header(&e16).is_none());
        assert!(header(b"not a png").is_none());
    }

    #[test]
    fn unknown_filter_or_short_buffer_is_refused() {
        let mut buf = vec![0u8; 3 * 4];
        buf[4] = 5;
        assert!(!unfilter_batch(&mut buf, 4, 2, 3));
        assert!(!unfilter_batch(&mut [0u8; 5], 4, 2, 3));
    }
}

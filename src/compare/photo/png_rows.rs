//! A fast row reader for the common PNG scan (8-bit grey, grey+alpha, RGB or RGBA, not
//! interlaced): the chunks are walked here (each IDAT chunk's CRC checked before its data is
//! used), the zlib header is checked and the deflate data inflated raw (no Adler-32, see
//! `read_rows`) with zlib-rs in batches of rows that stay in cache, and the rows are unfiltered
//! in place. Only the rows down to the last one asked for are inflated.
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
    // The zlib header is checked here and the deflate data inflated raw: zlib's Adler-32 of the
    // inflated bytes would only be compared at the end of the stream, which a crop never reaches
    // (it stops at its last row), so computing it is wasted work. The data is vouched for by
    // each IDAT chunk's CRC, checked above, and by the SHA-256 of the whole file the caller
    // records.
    let first = idat.next_chunk()?;
    let (cmf, flg) = (*first.first()?, *first.get(1)?);
    let cinfo = cmf >> 4;
    if cmf & 0x0F != 8 || cinfo > 7 || (u16::from(cmf) * 256 + u16::from(flg)) % 31 != 0 || flg & 0x20 != 0 {
        return None; // not a zlib deflate stream, or a preset dictionary: the png crate judges
    }
    // The window the header declares (zlib reads 8 as 9, as encoders write it).
    let mut inflate = zlib_rs::Inflate::new(false, (cinfo + 8).max(9));
    let mut input: &[u8] = first.get(2..)?;
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
    #[cfg(target_arch = "x86_64")]
    let v3 = if bpp == 3 { pulp::x86::V3::try_new() } else { None };
    let mut r = 1;
    while r <= n {
        #[cfg(target_arch = "x86_64")]
        if let Some(simd) = v3 {
            let g = wave::G;
            if r + g - 1 <= n
                && filters.get(r - 1..r - 1 + g).is_some_and(|f| f.iter().all(|&f| f == 4))
                && wave::paeth8(simd, buf, (r - 1) * stride + 1, stride, (stride - 1) / 3)
            {
                r += g;
                continue;
            }
        }
        let (before, after) = buf.split_at_mut(r * stride);
        let (Some(up), Some(cur)) = (before.get((r - 1) * stride + 1..), after.get_mut(1..stride)) else {
            return false;
        };
        unfilter_row(filters.get(r - 1).copied().unwrap_or(0), bpp, up, cur);
        r += 1;
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

/// Eight Paeth rows at once with AVX2 through `pulp` (safe intrinsics behind a run-time CPU
/// check): a wavefront in which row k runs k pixels behind row k-1, so that the eight dependency
/// chains advance together, one 32-byte vector per step (four byte lanes per row, three used).
/// The predictor is the all-8-bit form of Paeth (fpnge, the `png` crate's
/// `filter_paeth_fpnge`); the tests compare every result with the scalar code.
#[cfg(target_arch = "x86_64")]
mod wave {
    use core::arch::x86_64::__m256i;
    use pulp::x86::V3;

    /// Rows per wavefront.
    pub(super) const G: usize = 8;

    /// Unfilters rows `up + stride`, `up + 2 * stride`, ... (eight rows of `w` 3-byte pixels, in
    /// place) below the unfiltered row whose data start at `up`. False (nothing touched) when
    /// `buf` is too short or the geometry is off.
    pub(super) fn paeth8(simd: V3, buf: &mut [u8], up: usize, stride: usize, w: usize) -> bool {
        let n = 3 * w;
        if w == 0 || stride <= n {
            return false;
        }
        // Disjoint slices: the row above and the eight rows.
        let Some(tail) = buf.get_mut(up..) else {
            return false;
        };
        let (above, mut rest) = tail.split_at_mut(stride.min(tail.len()));
        let Some(above) = above.get(..n) else {
            return false;
        };
        let mut rows: Vec<&mut [[u8; 3]]> = Vec::with_capacity(G);
        for _ in 0..G {
            if rest.len() < n {
                return false;
            }
            let (row, next) = rest.split_at_mut(stride.min(rest.len()));
            let Some(data) = row.get_mut(..n) else {
                return false;
            };
            rows.push(data.as_chunks_mut::<3>().0);
            rest = next;
        }
        let Ok(rows) = <[&mut [[u8; 3]]; G]>::try_from(rows) else {
            return false;
        };
        simd.vectorize(Paeth8 { simd, above: above.as_chunks::<3>().0, rows });
        true
    }

    struct Paeth8<'a> {
        simd: V3,
        above: &'a [[u8; 3]],
        rows: [&'a mut [[u8; 3]]; G],
    }

    #[inline(always)]
    fn word(p: &[u8; 3]) -> i32 {
        i32::from_le_bytes([p[0], p[1], p[2], 0])
    }

    /// One step: `a` the previous step's output, `c` its `b`, `d` each row's current pixel (one
    /// 32-bit lane per row), `u` the pixel of the row above row 0. Returns (output, b).
    #[inline(always)]
    fn step(s: V3, a: __m256i, c: __m256i, d: __m256i, u: i32) -> (__m256i, __m256i) {
        let (x, y) = (s.avx2, s.avx);
        // b: row k's up value is row k-1's output of the previous step; row 0's is the row above.
        let rot = x._mm256_permutevar8x32_epi32(a, y._mm256_setr_epi32(7, 0, 1, 2, 3, 4, 5, 6));
        let uv = y._mm256_castsi128_si256(s.sse2._mm_cvtsi32_si128(u));
        let b = x._mm256_blend_epi32::<1>(rot, uv);
        let absdiff = |p: __m256i, q: __m256i| x._mm256_sub_epi8(x._mm256_max_epu8(p, q), x._mm256_min_epu8(p, q));
        let le = |p: __m256i, q: __m256i| x._mm256_cmpeq_epi8(x._mm256_min_epu8(p, q), p);
        let pa = absdiff(b, c);
        let pb = absdiff(a, c);
        // |a + b - 2c| is |pa - pb| when c lies between a and b, and at least max(pa, pb)
        // otherwise, where 255 decides the same way.
        let between = x._mm256_and_si256(le(x._mm256_min_epu8(a, b), c), le(c, x._mm256_max_epu8(a, b)));
        let pc = x._mm256_or_si256(absdiff(pa, pb), x._mm256_andnot_si256(between, y._mm256_set1_epi8(-1)));
        let take_a = x._mm256_and_si256(le(pa, pb), le(pa, pc));
        let pred = x._mm256_blendv_epi8(x._mm256_blendv_epi8(c, b, le(pb, pc)), a, take_a);
        (x._mm256_add_epi8(d, pred), b)
    }

    impl pulp::NullaryFnOnce for Paeth8<'_> {
        type Output = ();

        #[inline(always)]
        fn call(self) {
            let Paeth8 { simd, above, rows } = self;
            let (x, y) = (simd.avx2, simd.avx);
            let w = above.len();
            let [r0, r1, r2, r3, r4, r5, r6, r7] = rows;
            let zero = y._mm256_setzero_si256();
            let (mut a, mut c) = (zero, zero);
            let lanes = |v: __m256i| -> [i32; G] {
                [
                    x._mm256_extract_epi32::<0>(v),
                    x._mm256_extract_epi32::<1>(v),
                    x._mm256_extract_epi32::<2>(v),
                    x._mm256_extract_epi32::<3>(v),
                    x._mm256_extract_epi32::<4>(v),
                    x._mm256_extract_epi32::<5>(v),
                    x._mm256_extract_epi32::<6>(v),
                    x._mm256_extract_epi32::<7>(v),
                ]
            };
            let set = |d: [i32; G]| y._mm256_setr_epi32(d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]);
            let store = |p: &mut [u8; 3], v: i32| {
                let b = v.to_le_bytes();
                *p = [b[0], b[1], b[2]];
            };
            // Row k works on pixel t - k. The first and last G - 1 steps (some rows not started,
            // holding zeros as a = c = 0 at a row's first pixel wants, or finished) go pixel by
            // pixel through checked accesses.
            let edge = |t: usize, a: &mut __m256i, c: &mut __m256i, rows: [&mut [[u8; 3]]; G]| {
                let mut d = [0i32; G];
                for (k, r) in rows.iter().enumerate() {
                    if let Some(p) = t.checked_sub(k).and_then(|i| r.get(i)) {
                        d[k] = word(p);
                    }
                }
                let u = above.get(t).map_or(0, word);
                let (o, b) = step(simd, *a, *c, set(d), u);
                *a = o;
                *c = b;
                let o = lanes(o);
                for (k, r) in rows.into_iter().enumerate() {
                    if let Some(p) = t.checked_sub(k).and_then(|i| r.get_mut(i)) {
                        store(p, o[k]);
                    }
                }
            };
            for t in 0..(G - 1).min(w + G - 1) {
                edge(t, &mut a, &mut c, [&mut *r0, &mut *r1, &mut *r2, &mut *r3, &mut *r4, &mut *r5, &mut *r6, &mut *r7]);
            }
            if w >= G {
                // Steady state: every row active, no checks.
                let it = r0[G - 1..].iter_mut()
                    .zip(r1[G - 2..].iter_mut())
                    .zip(r2[G - 3..].iter_mut())
                    .zip(r3[G - 4..].iter_mut())
                    .zip(r4[G - 5..].iter_mut())
                    .zip(r5[G - 6..].iter_mut())
                    .zip(r6[G - 7..].iter_mut())
                    .zip(r7.iter_mut())
                    .zip(&above[G - 1..]);
                for ((((((((p0, p1), p2), p3), p4), p5), p6), p7), u) in it {
                    let d = [word(p0), word(p1), word(p2), word(p3), word(p4), word(p5), word(p6), word(p7)];
                    let (o, b) = step(simd, a, c, set(d), word(u));
                    a = o;
                    c = b;
                    let o = lanes(o);
                    store(p0, o[0]);
                    store(p1, o[1]);
                    store(p2, o[2]);
                    store(p3, o[3]);
                    store(p4, o[4]);
                    store(p5, o[5]);
                    store(p6, o[6]);
                    store(p7, o[7]);
                }
            }
            for t in w.max(G - 1)..w + G - 1 {
                edge(t, &mut a, &mut c, [&mut *r0, &mut *r1, &mut *r2, &mut *r3, &mut *r4, &mut *r5, &mut *r6, &mut *r7]);
            }
        }
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
        // A zlib header asking for a preset dictionary (FDICT), or not deflate, with a sound CRC.
        for (cmf, flg) in [(0x78u8, 0x20u8), (0x77, 0x09)] {
            let mut odd = good.clone();
            odd[at + 4] = cmf;
            odd[at + 5] = flg;
            let crc = zlib_rs::crc32::crc32(0, &odd[at..at + 4 + len]);
            odd[at + 4 + len..at + 8 + len].copy_from_slice(&crc.to_be_bytes());
            assert!(read_rows(&odd, &hd, 20, |_, _| {}).is_none(), "{cmf:02x} {flg:02x}");
        }
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

    /// Unfilters rows one at a time with the scalar code only.
    fn row_by_row(raw: &[u8], stride: usize, bpp: usize) -> Vec<Vec<u8>> {
        let mut rows: Vec<Vec<u8>> = vec![vec![0u8; stride - 1]];
        for r in raw.chunks_exact(stride) {
            let mut cur = r[1..].to_vec();
            let up = rows.last().cloned().unwrap_or_default();
            unfilter_row(r[0], bpp, &up, &mut cur);
            rows.push(cur);
        }
        rows.remove(0);
        rows
    }

    #[test]
    fn batched_unfiltering_equals_row_by_row_on_random_bytes() {
        let mut seed = 7u32;
        let mut rnd = move || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 24) as u8
        };
        // Widths below, at and above the wavefront's depth; runs of Paeth rows of every length
        // with the other filters between; bytes of every value (edges of the predictor).
        for w in [1usize, 2, 3, 7, 8, 9, 16, 37, 101] {
            for bpp in [3usize, 1, 4] {
                let stride = w * bpp + 1;
                let n = 41;
                let raw: Vec<u8> = (0..n)
                    .flat_map(|r| {
                        // Runs of 11, 8 and 3 Paeth rows between other filters.
                        let f = if [11, 20, 24, 33].contains(&r) { (r % 4) as u8 } else { 4 };
                        let mut row = vec![f];
                        row.extend((0..w * bpp).map(|i| if (r + i) % 17 == 0 { 255 } else { rnd() }));
                        row
                    })
                    .collect();
                let want = row_by_row(&raw, stride, bpp);
                let mut buf = vec![0u8; (n + 1) * stride + 4];
                buf[stride..(n + 1) * stride].copy_from_slice(&raw);
                assert!(unfilter_batch(&mut buf, stride, n, bpp));
                for (r, want) in want.iter().enumerate() {
                    assert_eq!(&buf[(r + 1) * stride + 1..(r + 2) * stride], &want[..], "w {w} bpp {bpp} row {r}");
                }
            }
        }
    }

    #[test]
    fn unknown_filter_or_short_buffer_is_refused() {
        let mut buf = vec![0u8; 3 * 4];
        buf[4] = 5;
        assert!(!unfilter_batch(&mut buf, 4, 2, 3));
        assert!(!unfilter_batch(&mut [0u8; 5], 4, 2, 3));
    }
}

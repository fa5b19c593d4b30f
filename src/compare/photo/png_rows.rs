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
/// check): a wavefront, one 32-byte vector per step (a 32-bit lane per row, three bytes used), so
/// that the eight dependency chains advance together. Rows 0..4 sit in the low 128-bit half, row
/// k on pixel t - k at step t; rows 4..8 in the high half, `LAG` pixels further behind, so that
/// the one value crossing halves (row 3's output, the `b` of row 4) is eight steps old when used
/// and the chain itself needs only an in-half byte shift per step. The predictor is an all-8-bit
/// form of Paeth with saturating arithmetic; the tests compare every result with the scalar code.
///
/// The steps go in blocks of eight: for steps t..t+8 each row needs eight consecutive pixels,
/// one 24-byte window. Each window is read with two 16-byte loads (rows k and k+4 share a
/// vector, one per half), spread to 4-byte pixels by a byte shuffle, and a 4x4 transpose of
/// 32-bit elements within each half turns the eight windows into the eight step vectors; the
/// outputs go back the same way (transpose, pack to 3-byte pixels, two overlapping 16-byte
/// stores inside the window). Ramp-in, ramp-out and any step whose windows would leave a row go
/// pixel by pixel through checked accesses.
#[cfg(target_arch = "x86_64")]
mod wave {
    use core::arch::x86_64::{__m128i, __m256i};
    use pulp::x86::V3;

    /// Rows per wavefront (and steps per block).
    pub(super) const G: usize = 8;
    /// Pixels by which row 4 runs behind row 3: it takes row 3's output of eight steps before.
    const LAG: usize = G + 3;
    /// The pixel row k works on at step t is t - BEHIND[k].
    const BEHIND: [usize; G] = [0, 1, 2, 3, LAG, LAG + 1, LAG + 2, LAG + 3];
    /// Steps for `w` pixels per row.
    const fn steps(w: usize) -> usize {
        w + LAG + 3
    }

    /// Unfilters rows `up + stride`, `up + 2 * stride`, ... (eight rows of `w` 3-byte pixels, in
    /// place) below the unfiltered row whose data start at `up`. False (nothing touched) when
    /// `buf` is too short or the geometry is off.
    pub(super) fn paeth8(simd: V3, buf: &mut [u8], up: usize, stride: usize, w: usize) -> bool {
        let Some(n) = w.checked_mul(3) else {
            return false;
        };
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
        let mut rows: [&mut [u8]; G] = Default::default();
        for row in rows.iter_mut() {
            if rest.len() < n {
                return false;
            }
            let (r, next) = rest.split_at_mut(stride.min(rest.len()));
            let Some(data) = r.get_mut(..n) else {
                return false;
            };
            *row = data;
            rest = next;
        }
        simd.vectorize(Paeth8 { simd, above, rows });
        true
    }

    struct Paeth8<'a> {
        simd: V3,
        above: &'a [u8],
        rows: [&'a mut [u8]; G],
    }

    /// The chain carried from step to step: the last outputs, their `b`, and row 3's outputs of
    /// the last eight steps (step t's in element t % 8).
    struct Chain {
        a: __m256i,
        c: __m256i,
        row3: __m256i,
    }

    /// Byte-shuffle controls (per 128-bit half); `Z` makes a zero byte.
    const Z: u8 = 0x80;
    const fn halves(lo: [u8; 16], hi: [u8; 16]) -> [u8; 32] {
        let mut o = [0u8; 32];
        let mut i = 0;
        while i < 16 {
            o[i] = lo[i];
            o[i + 16] = hi[i];
            i += 1;
        }
        o
    }
    /// Window bytes 0..12 (bytes 0..12 of a load at 0) to pixels 0..4, one per 32-bit element.
    const SPREAD_FIRST: [u8; 16] = [0, 1, 2, Z, 3, 4, 5, Z, 6, 7, 8, Z, 9, 10, 11, Z];
    /// Window bytes 12..24 (bytes 4..16 of a load at 8) to pixels 4..8.
    const SPREAD_SECOND: [u8; 16] = [4, 5, 6, Z, 7, 8, 9, Z, 10, 11, 12, Z, 13, 14, 15, Z];
    const SPREAD_LO: [u8; 32] = halves(SPREAD_FIRST, SPREAD_FIRST);
    const SPREAD_HI: [u8; 32] = halves(SPREAD_SECOND, SPREAD_SECOND);
    /// Pixels 0..4 to window bytes 0..12, placed at 4..16.
    const PACK_FIRST: [u8; 16] = [Z, Z, Z, Z, 0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14];
    /// Pixels 4..8 to window bytes 12..24, placed at 0..12.
    const PACK_SECOND: [u8; 16] = [0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, Z, Z, Z, Z];
    const PACK_LO: [u8; 32] = halves(PACK_FIRST, PACK_FIRST);
    const PACK_HI: [u8; 32] = halves(PACK_SECOND, PACK_SECOND);

    /// One step: `a` the previous step's output, `c` its `b`, `d` each row's current pixel, `up`
    /// the `b` of each half's first row in its element 3 (the row above for row 0, row 3's
    /// output of eight steps before for row 4). The lanes' fourth bytes are never stored: they
    /// may hold anything. Returns (output, b).
    #[inline(always)]
    fn step(s: V3, a: __m256i, c: __m256i, d: __m256i, up: __m256i) -> (__m256i, __m256i) {
        let x = s.avx2;
        // b: row k's up value is row k-1's output of the previous step.
        let b = x._mm256_alignr_epi8::<12>(a, up);
        // pb = |a - c| and pa = |b - c| from their positive and negative parts; pc = |a + b - 2c|
        // = |(a - c) + (b - c)| is exact when the two have opposite signs (at most one term of
        // each sum is non-zero), and saturates at 255 otherwise, when the exact value is at
        // least max(pa, pb) and the comparisons below come out the same.
        let (x1, x2) = (x._mm256_subs_epu8(a, c), x._mm256_subs_epu8(c, a));
        let (y1, y2) = (x._mm256_subs_epu8(b, c), x._mm256_subs_epu8(c, b));
        let pa = x._mm256_or_si256(y1, y2);
        let pb = x._mm256_or_si256(x1, x2);
        let (p, q) = (x._mm256_adds_epu8(x1, y1), x._mm256_adds_epu8(x2, y2));
        let pc = x._mm256_sub_epi8(x._mm256_max_epu8(p, q), x._mm256_min_epu8(p, q));
        // a when pa is the least, else b when pb is, else c (PNG's order for ties).
        let least = x._mm256_min_epu8(x._mm256_min_epu8(pa, pb), pc);
        let take_a = x._mm256_cmpeq_epi8(least, pa);
        let take_b = x._mm256_cmpeq_epi8(least, pb);
        let pred = x._mm256_blendv_epi8(x._mm256_blendv_epi8(c, b, take_b), a, take_a);
        (x._mm256_add_epi8(d, pred), b)
    }

    /// Pixel `i` (3 bytes) of a row.
    #[inline(always)]
    fn pixel(r: &[u8], i: usize) -> Option<&[u8; 3]> {
        r.get(3 * i..3 * i + 3)?.try_into().ok()
    }

    /// One step pixel by pixel (row k on pixel t - BEHIND[k] where that pixel exists, zeros
    /// elsewhere: a row not started yet stays at zero, as a = c = 0 at its first pixel wants).
    #[inline(always)]
    fn edge(s: V3, t: usize, above: &[u8], rows: &mut [&mut [u8]; G], ch: &mut Chain) {
        let mut d = [0i32; G];
        for ((dk, r), back) in d.iter_mut().zip(rows.iter()).zip(BEHIND) {
            if let Some(p) = t.checked_sub(back).and_then(|i| pixel(r, i)) {
                *dk = i32::from_le_bytes([p[0], p[1], p[2], 0]);
            }
        }
        let u = pixel(above, t).map_or(0, |p| i32::from_le_bytes([p[0], p[1], p[2], 0]));
        let mut row3: [i32; G] = pulp::cast(ch.row3);
        let slot = row3.get_mut(t % G);
        let h = slot.as_deref().copied().unwrap_or(0);
        let (o, b) = step(s, ch.a, ch.c, pulp::cast(d), pulp::cast([0, 0, 0, u, 0, 0, 0, h]));
        ch.a = o;
        ch.c = b;
        let o: [i32; G] = pulp::cast(o);
        if let Some(h) = slot {
            *h = o[3];
        }
        ch.row3 = pulp::cast(row3);
        for ((ok, r), back) in o.iter().zip(rows.iter_mut()).zip(BEHIND) {
            let Some(i) = t.checked_sub(back) else { continue };
            if let Some(p) = r.get_mut(3 * i..3 * i + 3).and_then(|p| <&mut [u8; 3]>::try_from(p).ok()) {
                let v = ok.to_le_bytes();
                *p = [v[0], v[1], v[2]];
            }
        }
    }

    /// A row's 24-byte window of pixels `i..i + 8`, pixel `i = t - back`.
    #[inline(always)]
    fn window(r: &mut [u8], t: usize, back: usize) -> Option<&mut [u8; 24]> {
        let i = t.checked_sub(back)?;
        r.get_mut(3 * i..3 * i + 24)?.try_into().ok()
    }

    /// Bytes 0..16 (`second` false) or 8..24 of a window.
    #[inline(always)]
    fn half(w: &[u8; 24], second: bool) -> __m128i {
        let h = if second { w.last_chunk::<16>() } else { w.first_chunk::<16>() };
        pulp::cast(h.copied().unwrap_or([0; 16]))
    }

    /// Transposes the 4x4 32-bit elements of each 128-bit half of four vectors.
    #[inline(always)]
    fn transpose4(s: V3, v: [__m256i; 4]) -> [__m256i; 4] {
        let x = s.avx2;
        let [v0, v1, v2, v3] = v;
        let t0 = x._mm256_unpacklo_epi32(v0, v1);
        let t1 = x._mm256_unpacklo_epi32(v2, v3);
        let t2 = x._mm256_unpackhi_epi32(v0, v1);
        let t3 = x._mm256_unpackhi_epi32(v2, v3);
        [
            x._mm256_unpacklo_epi64(t0, t1),
            x._mm256_unpackhi_epi64(t0, t1),
            x._mm256_unpacklo_epi64(t2, t3),
            x._mm256_unpackhi_epi64(t2, t3),
        ]
    }

    /// One step of a block: `up` holds the row above's pixel in element 3 of its low half and
    /// row 3's output of eight steps before in element 3 of its high half.
    #[inline(always)]
    fn go(s: V3, ch: &mut Chain, d: __m256i, up: __m256i) -> __m256i {
        let (o, b) = step(s, ch.a, ch.c, d, up);
        ch.a = o;
        ch.c = b;
        o
    }

    #[inline(always)]
    fn lo128(s: V3, v: __m256i) -> __m128i {
        s.avx._mm256_castsi256_si128(v)
    }

    #[inline(always)]
    fn hi128(s: V3, v: __m256i) -> __m128i {
        s.avx2._mm256_extracti128_si256::<1>(v)
    }

    /// Stores window bytes 0..16 and 8..24.
    #[inline(always)]
    fn put(w: &mut [u8; 24], v0: __m128i, v1: __m128i) {
        if let Some(h) = w.first_chunk_mut::<16>() {
            *h = pulp::cast(v0);
        }
        if let Some(h) = w.last_chunk_mut::<16>() {
            *h = pulp::cast(v1);
        }
    }

    /// Rows k and k + 4 in one vector (low and high half): window bytes 0..16 or 8..24.
    #[inline(always)]
    fn pair(s: V3, lo: &[u8; 24], hi: &[u8; 24], second: bool) -> __m256i {
        s.avx._mm256_set_m128i(half(hi, second), half(lo, second))
    }

    /// Steps `t..t + 8` (`t` a multiple of 8). False (nothing touched) when a window would leave
    /// its row.
    #[inline(always)]
    fn block(s: V3, t: usize, above: &[u8], rows: &mut [&mut [u8]; G], ch: &mut Chain) -> bool {
        let (x, y) = (s.avx2, s.avx);
        let Some(ab) = above.get(3 * t..3 * t + 24).and_then(|a| <&[u8; 24]>::try_from(a).ok()) else {
            return false;
        };
        let [r0, r1, r2, r3, r4, r5, r6, r7] = rows;
        let (Some(w0), Some(w1), Some(w2), Some(w3), Some(w4), Some(w5), Some(w6), Some(w7)) = (
            window(r0, t, BEHIND[0]),
            window(r1, t, BEHIND[1]),
            window(r2, t, BEHIND[2]),
            window(r3, t, BEHIND[3]),
            window(r4, t, BEHIND[4]),
            window(r5, t, BEHIND[5]),
            window(r6, t, BEHIND[6]),
            window(r7, t, BEHIND[7]),
        ) else {
            return false;
        };
        // Rows k and k + 4 share a vector (low and high half); pixels 0..4 and 4..8 apart.
        let (spread_lo, spread_hi): (__m256i, __m256i) = (pulp::cast(SPREAD_LO), pulp::cast(SPREAD_HI));
        let [d0, d1, d2, d3] = transpose4(
            s,
            [
                x._mm256_shuffle_epi8(pair(s, w0, w4, false), spread_lo),
                x._mm256_shuffle_epi8(pair(s, w1, w5, false), spread_lo),
                x._mm256_shuffle_epi8(pair(s, w2, w6, false), spread_lo),
                x._mm256_shuffle_epi8(pair(s, w3, w7, false), spread_lo),
            ],
        );
        let [d4, d5, d6, d7] = transpose4(
            s,
            [
                x._mm256_shuffle_epi8(pair(s, w0, w4, true), spread_hi),
                x._mm256_shuffle_epi8(pair(s, w1, w5, true), spread_hi),
                x._mm256_shuffle_epi8(pair(s, w2, w6, true), spread_hi),
                x._mm256_shuffle_epi8(pair(s, w3, w7, true), spread_hi),
            ],
        );
        // The row above, pixels 0..4 and 4..8, one per 32-bit element.
        let ss = s.ssse3;
        let above_first = ss._mm_shuffle_epi8(half(ab, false), pulp::cast(SPREAD_FIRST));
        let above_second = ss._mm_shuffle_epi8(half(ab, true), pulp::cast(SPREAD_SECOND));
        // Each half's first-row `b` for steps 0..4 and 4..8: the row above (low half) and row
        // 3's outputs of the previous eight steps (high half); broadcast per step.
        let m0 = x._mm256_inserti128_si256::<1>(y._mm256_castsi128_si256(above_first), lo128(s, ch.row3));
        let m1 = x._mm256_blend_epi32::<0x0F>(ch.row3, y._mm256_castsi128_si256(above_second));
        let o0 = go(s, ch, d0, x._mm256_shuffle_epi32::<0x00>(m0));
        let o1 = go(s, ch, d1, x._mm256_shuffle_epi32::<0x55>(m0));
        let o2 = go(s, ch, d2, x._mm256_shuffle_epi32::<0xAA>(m0));
        let o3 = go(s, ch, d3, x._mm256_shuffle_epi32::<0xFF>(m0));
        let o4 = go(s, ch, d4, x._mm256_shuffle_epi32::<0x00>(m1));
        let o5 = go(s, ch, d5, x._mm256_shuffle_epi32::<0x55>(m1));
        let o6 = go(s, ch, d6, x._mm256_shuffle_epi32::<0xAA>(m1));
        let o7 = go(s, ch, d7, x._mm256_shuffle_epi32::<0xFF>(m1));
        let first = transpose4(s, [o0, o1, o2, o3]);
        let second = transpose4(s, [o4, o5, o6, o7]);
        // Row 3 is element 3 of each half: its outputs of steps 0..4 and 4..8.
        let [.., e3] = first;
        let [.., f3] = second;
        ch.row3 = x._mm256_inserti128_si256::<1>(e3, lo128(s, f3));
        let (pack_lo, pack_hi): (__m256i, __m256i) = (pulp::cast(PACK_LO), pulp::cast(PACK_HI));
        for ((lo_w, hi_w), (e, f)) in [(w0, w4), (w1, w5), (w2, w6), (w3, w7)].into_iter().zip(first.into_iter().zip(second)) {
            let e = x._mm256_shuffle_epi8(e, pack_lo);
            let f = x._mm256_shuffle_epi8(f, pack_hi);
            // Window bytes 0..16 and 8..24.
            let s0 = x._mm256_alignr_epi8::<4>(f, e);
            let s1 = x._mm256_alignr_epi8::<12>(f, e);
            put(lo_w, lo128(s, s0), lo128(s, s1));
            put(hi_w, hi128(s, s0), hi128(s, s1));
        }
        true
    }

    impl pulp::NullaryFnOnce for Paeth8<'_> {
        type Output = ();

        #[inline(always)]
        fn call(self) {
            let Paeth8 { simd, above, mut rows } = self;
            let w = above.len() / 3;
            let zero = simd.avx._mm256_setzero_si256();
            // Rows not started hold zeros (a = c = 0 at a row's first pixel).
            let mut ch = Chain { a: zero, c: zero, row3: zero };
            let mut t = 0;
            while t < steps(w) {
                if t % G == 0 && t >= BEHIND[G - 1] && t + G <= w && block(simd, t, above, &mut rows, &mut ch) {
                    t += G;
                } else {
                    edge(simd, t, above, &mut rows, &mut ch);
                    t += 1;
                }
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
        // Widths below, at and above the wavefront's depth and its block of eight steps (every
        // width to 40, odd ones, around multiples of 8); runs of Paeth rows of every length with
        // the other filters between, row counts not multiples of 8; bytes of every value (edges
        // of the predictor); buffers with no slack after the last row.
        let widths = (1usize..=40).chain([41, 47, 55, 63, 64, 65, 101, 127, 255, 256, 257]);
        for w in widths {
            for bpp in [3usize, 1, 4] {
                for (n, slack) in [(41usize, 4usize), (23, 0), (8, 0), (17, 1)] {
                    let stride = w * bpp + 1;
                    let raw: Vec<u8> = (0..n)
                        .flat_map(|r| {
                            // Runs of 11, 8 and 3 Paeth rows between other filters.
                            let f = if [11, 20, 24, 33].contains(&r) { (r % 4) as u8 } else { 4 };
                            let mut row = vec![f];
                            row.extend((0..w * bpp).map(|i| match (r + i) % 17 {
                                0 => 255,
                                5 => 0,
                                _ => rnd(),
                            }));
                            row
                        })
                        .collect();
                    let want = row_by_row(&raw, stride, bpp);
                    let mut buf = vec![0u8; (n + 1) * stride + slack];
                    buf[stride..(n + 1) * stride].copy_from_slice(&raw);
                    assert!(unfilter_batch(&mut buf, stride, n, bpp));
                    for (r, want) in want.iter().enumerate() {
                        assert_eq!(&buf[(r + 1) * stride + 1..(r + 2) * stride], &want[..], "w {w} bpp {bpp} n {n} row {r}");
                    }
                    // The filter bytes and the slack are left alone.
                    for r in 1..=n {
                        assert_eq!(buf[r * stride], raw[(r - 1) * stride], "w {w} bpp {bpp} n {n} filter byte {r}");
                    }
                    assert!(buf[(n + 1) * stride..].iter().all(|&b| b == 0));
                }
            }
        }
    }

    /// Speed of the Paeth path on scan-sized RGB rows (run by hand:
    /// `cargo test --release --lib paeth_speed -- --ignored --nocapture`).
    #[test]
    #[ignore]
    fn paeth_speed() {
        let (w, n) = (2022usize, BATCH_ROWS);
        let stride = 3 * w + 1;
        let mut seed = 1u32;
        let raw: Vec<u8> = (0..n * stride)
            .map(|i| {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                if i % stride == 0 { 4 } else { (seed >> 24) as u8 }
            })
            .collect();
        let mut buf = vec![0u8; (n + 1) * stride];
        let mut best = f64::MAX;
        for _ in 0..3000 {
            buf[stride..].copy_from_slice(&raw);
            let t = std::time::Instant::now();
            assert!(unfilter_batch(&mut buf, stride, n, 3));
            best = best.min(t.elapsed().as_secs_f64());
        }
        println!("paeth: {:.1} us per {n} rows of {w} px, {:.2} ns per pixel", best * 1e6, best * 1e9 / (n * w) as f64);
    }

    #[test]
    fn unknown_filter_or_short_buffer_is_refused() {
        let mut buf = vec![0u8; 3 * 4];
        buf[4] = 5;
        assert!(!unfilter_batch(&mut buf, 4, 2, 3));
        assert!(!unfilter_batch(&mut [0u8; 5], 4, 2, 3));
    }
}

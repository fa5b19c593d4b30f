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
/// pixel. RGB rows go in groups of eight (the last group of a batch may be shorter) through the
/// AVX2 wavefront where the CPU has it and the group's filters make it pay (see [`wave_pays`]);
/// other rows, and all rows of other pixel sizes, row by row. Nothing after slot n is touched.
/// False on an unknown filter type or a buffer too short.
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
            // The next eight rows, or the fewer left at the end (at least one: r <= n).
            let Some(group) = filters.get(r - 1..(r - 1 + wave::G).min(n)) else {
                return false;
            };
            if wave_pays(group) && wave::unfilter8(simd, buf, (r - 1) * stride + 1, stride, (stride - 1) / 3, group) {
                r += group.len();
                continue;
            }
            // Not worth it: the whole group goes row by row, and the groups stay aligned.
            for &f in group {
                if !scalar_row(buf, stride, r, f, bpp) {
                    return false;
                }
                r += 1;
            }
            continue;
        }
        if !scalar_row(buf, stride, r, filters.get(r - 1).copied().unwrap_or(0), bpp) {
            return false;
        }
        r += 1;
    }
    true
}

/// Whether a group of (at most) eight rows goes faster through the wavefront than row by row:
/// when at least four of them have a filter whose scalar loop is a serial chain (Sub, Avg,
/// Paeth: about 2.4, 3.0 and 4.2 ns per RGB pixel, measured against 1.2 to 1.5 ns for each of
/// the wavefront's eight rows, used or not; Up and None rows cost next to nothing alone).
#[cfg(target_arch = "x86_64")]
fn wave_pays(group: &[u8]) -> bool {
    group.iter().filter(|&&f| f == 1 || f >= 3).count() >= wave::G / 2
}

/// Unfilters row `r` of a batch (see [`unfilter_batch`]) with the scalar code. False when the
/// buffer is too short.
fn scalar_row(buf: &mut [u8], stride: usize, r: usize, filter: u8, bpp: usize) -> bool {
    let (before, after) = buf.split_at_mut((r * stride).min(buf.len()));
    let (Some(up), Some(cur)) = (before.get((r - 1) * stride + 1..), after.get_mut(1..stride)) else {
        return false;
    };
    unfilter_row(filter, bpp, up, cur);
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

/// Eight rows at once, each with its own filter type, with AVX2 through `pulp` (safe intrinsics
/// behind a run-time CPU check): a wavefront, one 32-byte vector per step (a 32-bit lane per row,
/// three bytes used), so that the eight dependency chains advance together. Rows 0..4 sit in the
/// low 128-bit half, row k on pixel t - k at step t; rows 4..8 in the high half, `LAG` pixels
/// further behind, so that the one value crossing halves (row 3's output, the `b` of row 4) is
/// eight steps old when used and the chain itself needs only an in-half byte shift per step. The
/// Paeth predictor is an all-8-bit form with saturating arithmetic; a group with other filter types
/// also computes Avg and picks each row's predictor with masks built once per group (an all-Paeth
/// group is compiled without them). The tests compare every result with the scalar code.
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

    /// Unfilters rows `up + stride`, `up + 2 * stride`, ... (one row per filter type in
    /// `filters`, 0..=4, at most eight rows of `w` 3-byte pixels, in place) below the unfiltered
    /// row whose data start at `up`. Fewer than eight rows leave the last lanes to spare rows
    /// (nothing reads a lane's output but the lanes after it). False (nothing touched) when `buf`
    /// is too short or the geometry is off.
    pub(super) fn unfilter8(simd: V3, buf: &mut [u8], up: usize, stride: usize, w: usize, filters: &[u8]) -> bool {
        let Some(n) = w.checked_mul(3) else {
            return false;
        };
        let used = filters.len();
        if w == 0 || stride <= n || used == 0 || used > G {
            return false;
        }
        let mut spare = vec![0u8; (G - used) * n];
        let mut spare = spare.chunks_exact_mut(n);
        // Disjoint slices: the row above and the rows used.
        let Some(tail) = buf.get_mut(up..) else {
            return false;
        };
        let (above, mut rest) = tail.split_at_mut(stride.min(tail.len()));
        let Some(above) = above.get(..n) else {
            return false;
        };
        let mut rows: [&mut [u8]; G] = Default::default();
        for row in rows.iter_mut().skip(used) {
            let Some(s) = spare.next() else {
                return false;
            };
            *row = s;
        }
        for row in rows.iter_mut().take(used) {
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
        // Spare rows as Paeth ones, so that a short group of Paeth rows takes the faster code.
        let mut types = [4; G];
        for (t, &f) in types.iter_mut().zip(filters) {
            *t = f;
        }
        if types == [4; G] {
            simd.vectorize(Wave8::<false> { simd, above, rows, f: Filters::new(simd, types) });
        } else {
            simd.vectorize(Wave8::<true> { simd, above, rows, f: Filters::new(simd, types) });
        }
        true
    }

    /// Eight rows and their filters; `MIXED` false when all eight are Paeth rows (the masks are
    /// then not looked at).
    struct Wave8<'a, const MIXED: bool> {
        simd: V3,
        above: &'a [u8],
        rows: [&'a mut [u8]; G],
        f: Filters,
    }

    /// Each row's filter type as masks over its 32-bit element (all ones when row k has that
    /// type; a None row has none of them).
    struct Filters {
        sub: __m256i,
        up: __m256i,
        avg: __m256i,
        paeth: __m256i,
        /// 1 in every byte (Avg's rounding).
        one: __m256i,
    }

    impl Filters {
        fn new(s: V3, filters: [u8; G]) -> Filters {
            let mask = |kind: u8| pulp::cast(filters.map(|f| if f == kind { -1i32 } else { 0 }));
            Filters { sub: mask(1), up: mask(2), avg: mask(3), paeth: mask(4), one: s.avx._mm256_set1_epi8(1) }
        }
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
    /// output of eight steps before for row 4). With `MIXED`, each row takes the predictor of
    /// its filter in `f` (None 0, Sub a, Up b, Avg floor((a + b) / 2), Paeth); else all are
    /// Paeth. The lanes' fourth bytes are never stored: they may hold anything. Returns (output,
    /// b).
    #[inline(always)]
    fn step<const MIXED: bool>(s: V3, a: __m256i, c: __m256i, d: __m256i, up: __m256i, f: &Filters) -> (__m256i, __m256i) {
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
        let mut pred = x._mm256_blendv_epi8(x._mm256_blendv_epi8(c, b, take_b), a, take_a);
        if MIXED {
            // avg_epu8 rounds up: take the carried-out bit back where a + b is odd.
            let avg = x._mm256_sub_epi8(x._mm256_avg_epu8(a, b), x._mm256_and_si256(x._mm256_xor_si256(a, b), f.one));
            let other = x._mm256_blendv_epi8(x._mm256_blendv_epi8(x._mm256_and_si256(avg, f.avg), b, f.up), a, f.sub);
            pred = x._mm256_blendv_epi8(other, pred, f.paeth);
        }
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
    fn edge<const MIXED: bool>(s: V3, t: usize, above: &[u8], rows: &mut [&mut [u8]; G], ch: &mut Chain, f: &Filters) {
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
        let (o, b) = step::<MIXED>(s, ch.a, ch.c, pulp::cast(d), pulp::cast([0, 0, 0, u, 0, 0, 0, h]), f);
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
    fn go<const MIXED: bool>(s: V3, ch: &mut Chain, d: __m256i, up: __m256i, f: &Filters) -> __m256i {
        let (o, b) = step::<MIXED>(s, ch.a, ch.c, d, up, f);
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
    fn block<const MIXED: bool>(s: V3, t: usize, above: &[u8], rows: &mut [&mut [u8]; G], ch: &mut Chain, f: &Filters) -> bool {
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
        let o0 = go::<MIXED>(s, ch, d0, x._mm256_shuffle_epi32::<0x00>(m0), f);
        let o1 = go::<MIXED>(s, ch, d1, x._mm256_shuffle_epi32::<0x55>(m0), f);
        let o2 = go::<MIXED>(s, ch, d2, x._mm256_shuffle_epi32::<0xAA>(m0), f);
        let o3 = go::<MIXED>(s, ch, d3, x._mm256_shuffle_epi32::<0xFF>(m0), f);
        let o4 = go::<MIXED>(s, ch, d4, x._mm256_shuffle_epi32::<0x00>(m1), f);
        let o5 = go::<MIXED>(s, ch, d5, x._mm256_shuffle_epi32::<0x55>(m1), f);
        let o6 = go::<MIXED>(s, ch, d6, x._mm256_shuffle_epi32::<0xAA>(m1), f);
        let o7 = go::<MIXED>(s, ch, d7, x._mm256_shuffle_epi32::<0xFF>(m1), f);
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

    impl<const MIXED: bool> pulp::NullaryFnOnce for Wave8<'_, MIXED> {
        type Output = ();

        #[inline(always)]
        fn call(self) {
            let Wave8 { simd, above, mut rows, f } = self;
            let w = above.len() / 3;
            let zero = simd.avx._mm256_setzero_si256();
            // Rows not started hold zeros (a = c = 0 at a row's first pixel).
            let mut ch = Chain { a: zero, c: zero, row3: zero };
            let mut t = 0;
            while t < steps(w) {
                if t % G == 0 && t >= BEHIND[G - 1] && t + G <= w && block::<MIXED>(simd, t, above, &mut rows, &mut ch, &f) {
                    t += G;
                } else {
                    edge::<MIXED>(simd, t, above, &mut rows, &mut ch, &f);
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
        let p = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
            .join("fixtures/samples/pass-case/surface/QC-20240408-9308/front.png");
        let bytes = std::fs::read(p).expect("sample scan");
        let hd = header(&bytes).expect("handled");
        let want = png_crate_rows(&bytes);
        // Every row; the crop's rows (down to 957: a batch ending in a group of six); a second
        // batch ending in a group of one to eight rows; one row.
        for need in [want.len(), 958, 1].into_iter().chain(33..=40) {
            let mut n = 0;
            read_rows(&bytes, &hd, need, |y, row| {
                assert!(row == want[y].as_slice(), "need {need} row {y}");
                n += 1;
            })
            .expect("fast rows");
            assert_eq!(n, need);
        }
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

    /// Unfilters rows one at a time with the scalar code only, below the row `above`.
    fn row_by_row(above: &[u8], raw: &[u8], stride: usize, bpp: usize) -> Vec<Vec<u8>> {
        let mut rows: Vec<Vec<u8>> = vec![above.to_vec()];
        for r in raw.chunks_exact(stride) {
            let mut cur = r[1..].to_vec();
            let up = rows.last().cloned().unwrap_or_default();
            unfilter_row(r[0], bpp, &up, &mut cur);
            rows.push(cur);
        }
        rows.remove(0);
        rows
    }

    /// A byte source for the tests: random, with 0 and 255 often (edges of the predictors).
    fn bytes_source(seed: u32) -> impl FnMut() -> u8 {
        let mut s = seed;
        move || {
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            match s >> 28 {
                0 => 0,
                1 => 255,
                _ => (s >> 20) as u8,
            }
        }
    }

    /// Filter types per row for the batch tests.
    #[derive(Debug, Clone, Copy)]
    enum Plan {
        /// Runs of 11, 8 and 3 Paeth rows with the other filters between.
        Runs,
        /// Any filter on any row.
        Random,
        /// Mostly Up and None, a few Sub, Avg and Paeth: groups the wavefront does not take.
        MostlyCheap,
        /// Every row the same filter.
        All(u8),
    }

    #[test]
    fn batched_unfiltering_equals_row_by_row_on_random_bytes() {
        let mut rnd = bytes_source(7);
        let mut pick = bytes_source(11);
        // Widths below, at and above the wavefront's depth and its block of eight steps (every
        // width to 40, odd ones, around multiples of 8); row counts not multiples of 8 (batches
        // ending in groups of one to eight rows); bytes of every value; buffers with no slack
        // after the last row.
        let widths = (1usize..=40).chain([41, 47, 55, 63, 64, 65, 101, 127, 255, 256, 257]);
        let counts = [(41usize, 4usize), (23, 0), (8, 0), (17, 1), (32, 0), (30, 2), (12, 0), (3, 1)];
        for w in widths {
            for bpp in [3usize, 1, 2, 4] {
                let plans: &[Plan] = if bpp == 3 {
                    &[Plan::Runs, Plan::Random, Plan::MostlyCheap, Plan::All(0), Plan::All(1), Plan::All(2), Plan::All(3), Plan::All(4)]
                } else {
                    &[Plan::Runs, Plan::Random]
                };
                for &plan in plans {
                    for (n, slack) in counts {
                        let stride = w * bpp + 1;
                        let raw: Vec<u8> = (0..n)
                            .flat_map(|r| {
                                let f = match plan {
                                    Plan::Runs if [11, 20, 24, 33].contains(&r) => (r % 4) as u8,
                                    Plan::Runs => 4,
                                    Plan::Random => pick() % 5,
                                    Plan::MostlyCheap => [0, 2, 2, 2, 0, 2, 1, 3, 4][usize::from(pick() % 9)],
                                    Plan::All(f) => f,
                                };
                                let mut row = vec![f];
                                row.extend((0..w * bpp).map(|_| rnd()));
                                row
                            })
                            .collect();
                        let above: Vec<u8> = (0..w * bpp).map(|_| rnd()).collect();
                        let want = row_by_row(&above, &raw, stride, bpp);
                        let mut buf = vec![0xA5u8; (n + 1) * stride + slack];
                        buf[1..stride].copy_from_slice(&above);
                        buf[stride..(n + 1) * stride].copy_from_slice(&raw);
                        let what = format!("w {w} bpp {bpp} {plan:?} n {n}");
                        assert!(unfilter_batch(&mut buf, stride, n, bpp), "{what}");
                        for (r, want) in want.iter().enumerate() {
                            assert_eq!(&buf[(r + 1) * stride + 1..(r + 2) * stride], &want[..], "{what} row {r}");
                        }
                        // The row above, the filter bytes and the slack are left alone.
                        assert_eq!(&buf[1..stride], &above[..], "{what}");
                        for r in 1..=n {
                            assert_eq!(buf[r * stride], raw[(r - 1) * stride], "{what} filter byte {r}");
                        }
                        assert!(buf[(n + 1) * stride..].iter().all(|&b| b == 0xA5), "{what}");
                    }
                }
            }
        }
    }

    /// The wavefront on its own (whatever `wave_pays` says): every filter type in every lane,
    /// random mixes, groups of one to eight rows, rows padded to a longer stride.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_wavefront_equals_row_by_row_for_every_filter_mix() {
        let Some(simd) = pulp::x86::V3::try_new() else {
            return; // no AVX2: the scalar code, tested above, is all there is
        };
        let mut rnd = bytes_source(3);
        let mut pick = bytes_source(5);
        let mut plans: Vec<Vec<u8>> = Vec::new();
        for k in 0..wave::G {
            for f in 0..=4u8 {
                // Type f in lane k among Paeth lanes, and as the last row of a short group.
                let mut p = vec![4u8; wave::G];
                p[k] = f;
                plans.push(p.clone());
                plans.push(p[..=k].to_vec());
                // Among lanes of one other type.
                plans.push((0..wave::G).map(|j| if j == k { f } else { (f + 1 + k as u8 % 4) % 5 }).collect());
            }
        }
        for used in 1..=wave::G {
            for _ in 0..6 {
                plans.push((0..used).map(|_| pick() % 5).collect());
            }
        }
        let widths = (1usize..=40).chain([41, 47, 63, 64, 65, 100, 257]);
        for w in widths {
            for (i, plan) in plans.iter().enumerate() {
                let n = 3 * w;
                let stride = n + 1 + (i % 3) * 2;
                let used = plan.len();
                let raw: Vec<u8> = plan
                    .iter()
                    .flat_map(|&f| {
                        let mut row = vec![f];
                        row.extend((1..stride).map(|_| rnd()));
                        row
                    })
                    .collect();
                let above: Vec<u8> = (0..stride - 1).map(|_| rnd()).collect();
                let want = row_by_row(&above[..n], &raw, stride, 3);
                // Slot 0 the row above, then the rows, then a spare row's worth of slack.
                let mut buf = vec![0xA5u8; (used + 2) * stride];
                buf[1..stride].copy_from_slice(&above);
                buf[stride..(used + 1) * stride].copy_from_slice(&raw);
                let what = format!("w {w} stride {stride} filters {plan:?}");
                assert!(wave::unfilter8(simd, &mut buf, 1, stride, w, plan), "{what}");
                for (r, want) in want.iter().enumerate() {
                    let row = &buf[(r + 1) * stride..(r + 2) * stride];
                    assert_eq!(&row[1..=n], &want[..n], "{what} row {r}");
                    // The filter byte and the padding after the pixels are left alone.
                    assert_eq!(row[0], raw[r * stride], "{what} row {r}");
                    assert_eq!(&row[n + 1..], &raw[r * stride + n + 1..(r + 1) * stride], "{what} row {r}");
                }
                assert_eq!(&buf[1..stride], &above[..], "{what}");
                assert!(buf[(used + 1) * stride..].iter().all(|&b| b == 0xA5), "{what}");
            }
            // Nothing is done (and nothing touched) for no rows, nine rows, or a buffer short of
            // the last row.
            let stride = 3 * w + 1;
            let mut buf = vec![0x5Au8; 9 * stride];
            for bad in [&[][..], &[4u8; 9][..]] {
                assert!(!wave::unfilter8(simd, &mut buf, 1, stride, w, bad));
            }
            assert!(!wave::unfilter8(simd, &mut buf[..9 * stride - 1], 1, stride, w, &[4u8; 8]));
            assert!(buf.iter().all(|&b| b == 0x5A));
        }
    }

    /// Speed of unfiltering scan-sized RGB rows, row by row and in batches, per filter type, and
    /// of the sample scan's rows down to the crop's last (run by hand:
    /// `cargo test --release --lib unfilter_speed -- --ignored --nocapture`).
    #[test]
    #[ignore]
    fn unfilter_speed() {
        let (w, n) = (2022usize, BATCH_ROWS);
        let stride = 3 * w + 1;
        let mut rnd = bytes_source(1);
        for f in 0..=4u8 {
            let raw: Vec<u8> = (0..n * stride).map(|i| if i % stride == 0 { f } else { rnd() }).collect();
            let mut buf = vec![0u8; (n + 1) * stride];
            let (mut alone, mut batched) = (f64::MAX, f64::MAX);
            for _ in 0..1000 {
                buf[stride..].copy_from_slice(&raw);
                let t = std::time::Instant::now();
                for r in 1..=n {
                    assert!(scalar_row(&mut buf, stride, r, f, 3));
                }
                alone = alone.min(t.elapsed().as_secs_f64());
                buf[stride..].copy_from_slice(&raw);
                let t = std::time::Instant::now();
                assert!(unfilter_batch(&mut buf, stride, n, 3));
                batched = batched.min(t.elapsed().as_secs_f64());
            }
            let px = (n * w) as f64;
            println!("filter {f}: {:.2} ns per pixel row by row, {:.2} in batches", alone * 1e9 / px, batched * 1e9 / px);
        }
        // The sample scan's filtered rows, inflated once, unfiltered as `read_rows` does.
        let p = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
            .join("fixtures/samples/pass-case/surface/QC-20240408-9308/front.png");
        let bytes = std::fs::read(p).expect("sample scan");
        let hd = header(&bytes).expect("handled");
        let mut idat = Idat::new(&bytes).expect("idat");
        let mut z = Vec::new();
        while let Some(c) = idat.next_chunk() {
            z.extend_from_slice(c);
        }
        let stride = hd.width as usize * hd.channels + 1;
        let mut raw = vec![0u8; stride * hd.height as usize];
        zlib_rs::Inflate::new(false, 15).decompress(&z[2..], &mut raw, zlib_rs::InflateFlush::Finish).expect("inflate");
        let rows = 958;
        let mut buf = vec![0u8; (BATCH_ROWS + 1) * stride];
        let mut times = Vec::new();
        for _ in 0..300 {
            let mut spent = 0f64;
            buf[..stride].fill(0);
            let mut y = 0;
            while y < rows {
                let n = BATCH_ROWS.min(rows - y);
                buf[stride..(n + 1) * stride].copy_from_slice(&raw[y * stride..(y + n) * stride]);
                let t = std::time::Instant::now();
                assert!(unfilter_batch(&mut buf, stride, n, hd.channels));
                spent += t.elapsed().as_secs_f64();
                buf.copy_within(n * stride..(n + 1) * stride, 0);
                y += n;
            }
            times.push(spent);
        }
        times.sort_by(f64::total_cmp);
        println!("sample scan, rows 0..{rows}: {:.0} us (median {:.0})", times[0] * 1e6, times[times.len() / 2] * 1e6);
    }

    #[test]
    fn unknown_filter_or_short_buffer_is_refused() {
        let mut buf = vec![0u8; 3 * 4];
        buf[4] = 5;
        assert!(!unfilter_batch(&mut buf, 4, 2, 3));
        assert!(!unfilter_batch(&mut [0u8; 5], 4, 2, 3));
    }
}

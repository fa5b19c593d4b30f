//! A reduced-size decoder for baseline JPEG, used to extract photo features fast: it decodes the
//! Huffman-coded coefficients of every block but computes only the four 4x4-pixel means of each
//! luma block (from the 25 coefficients with row and column frequency in {0, 1, 3, 5, 7}; the
//! even frequencies average to zero over half a block) and the DC (8x8 mean) of each chroma
//! block. The result is the luma averaged over 4x4-pixel blocks and the mean colour of each
//! 8x8-pixel block, the same values an area average of the fully decoded image gives, at a
//! fraction of the cost. Only baseline / extended-Huffman 8-bit JPEG with one or three components
//! (YCbCr) is handled; anything else, and any inconsistency or truncation, yields `None` and the
//! caller falls back to the full decoder. Never panics: every read is bounds-checked.

use super::MAX_SIDE;

/// The reduced decode of one image.
pub(crate) struct Quarter {
    pub width: u32,
    pub height: u32,
    /// Luma means over 4x4-pixel blocks, `qw x qh` (the last row and column may cover padding).
    pub luma: Vec<f32>,
    pub qw: usize,
    pub qh: usize,
    /// Mean RGB over 8x8-pixel blocks, `cw x ch`.
    pub colour: Vec<[f32; 3]>,
    pub cw: usize,
    pub ch: usize,
}

/// Natural-order index of each zigzag position.
const ZIGZAG: [usize; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20,
    13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59,
    52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
];

/// Frequencies that contribute to half-block means.
const FREQS: [usize; 5] = [0, 1, 3, 5, 7];

/// `A[i] = C(u) * a_u / 2` for u = FREQS[i], where a_u is the mean of cos((2x+1)u*pi/16) over
/// x = 0..3 and C(0) = 1/sqrt(2), C(u) = 1 otherwise; the product A[i]A[j] is the weight of
/// coefficient (u, v) in the top-left quadrant mean. Odd frequencies change sign for the other half.
fn half_weights() -> [f32; 5] {
    let mut a = [0f32; 5];
    for (i, &u) in FREQS.iter().enumerate() {
        let mean: f64 = (0..4)
            .map(|x| ((2 * x + 1) as f64 * u as f64 * std::f64::consts::PI / 16.0).cos())
            .sum::<f64>()
            / 4.0;
        let c = if u == 0 {
            std::f64::consts::FRAC_1_SQRT_2
        } else {
            1.0
        };
        a[i] = (c * mean / 2.0) as f32;
    }
    a
}

/// Position in FREQS of each natural column/row frequency, or 5 for one that does not contribute.
const FREQ_SLOT: [usize; 8] = [0, 1, 5, 2, 5, 3, 5, 4];

/// For each zigzag position: the index `fv * 5 + fu` into the 25 contributing coefficients, or
/// 255 for a coefficient that does not contribute.
const ZZ_SLOT: [u8; 64] = {
    let mut t = [255u8; 64];
    let mut k = 0;
    while k < 64 {
        let nat = ZIGZAG[k];
        let (fu, fv) = (FREQ_SLOT[nat % 8], FREQ_SLOT[nat / 8]);
        if fu < 5 && fv < 5 {
            t[k] = (fv * 5 + fu) as u8;
        }
        k += 1;
    }
    t
};

/// One entry of the whole-value lookup on the next `FAST_BITS` bits: a Huffman code and its
/// magnitude bits decoded together, `len` their total length (0 = not covered: decode slowly).
/// For AC tables `run` is the zero run before the value, or `EOB` for an end-of-block symbol.
#[derive(Clone, Copy, Default)]
struct Fast {
    val: i16,
    run: u8,
    len: u8,
}

/// `Fast::run` of an end-of-block symbol (any AC symbol with size 0 other than ZRL).
const EOB: u8 = 0xFF;

const FAST_BITS: u32 = 9;
const FAST_SIZE: usize = 1 << FAST_BITS;

#[derive(Clone)]
struct Huffman {
    /// Fast lookup on the next 9 bits: (symbol, code length), length 0 = not in the table.
    fast: Box<[(u8, u8); FAST_SIZE]>,
    /// The next 9 bits decoded as a whole value when code and magnitude bits fit (DC tables:
    /// the difference; AC tables: the coefficient, its zero run, or end of block).
    fast_val: Box<[Fast; FAST_SIZE]>,
    /// Canonical decoding (JPEG F.2.2.3): max code per length (-1 none), value pointer, min code.
    maxcode: [i32; 18],
    valptr: [i32; 17],
    mincode: [i32; 17],
    values: Vec<u8>,
}

impl Huffman {
    /// Builds the decoding tables of one DHT table (`is_ac`: class 1), or `None` if malformed.
    fn new(counts: &[u8; 16], values: &[u8], is_ac: bool) -> Option<Huffman> {
        let total: usize = counts.iter().map(|&c| c as usize).sum();
        if total == 0 || total > 256 || values.len() != total {
            return None;
        }
        let mut fast = Box::new([(0u8, 0u8); FAST_SIZE]);
        let mut maxcode = [-1i32; 18];
        let mut valptr = [0i32; 17];
        let mut mincode = [0i32; 17];
        let mut code: i32 = 0;
        let mut k = 0usize;
        for len in 1..=16usize {
            let n = counts[len - 1] as usize;
            valptr[len] = k as i32;
            mincode[len] = code;
            for _ in 0..n {
                if code >= (1 << len) {
                    return None; // over-subscribed
                }
                if len as u32 <= FAST_BITS {
                    let shift = FAST_BITS - len as u32;
                    let base = (code as usize) << shift;
                    let sym = *values.get(k)?;
                    for e in fast.get_mut(base..base + (1 << shift))? {
                        *e = (sym, len as u8);
                    }
                }
                code += 1;
                k += 1;
            }
            if n > 0 {
                maxcode[len] = code - 1;
            }
            code <<= 1;
        }
        maxcode[17] = i32::MAX;
        let mut fast_val = Box::new([Fast::default(); FAST_SIZE]);
        for (look, (dst, &(rs, len))) in fast_val.iter_mut().zip(fast.iter()).enumerate() {
            if len == 0 {
                continue;
            }
            let (run, size) = if is_ac {
                (rs >> 4, (rs & 15) as u32)
            } else {
                (0, rs as u32)
            };
            if size == 0 {
                if is_ac && run == 15 {
                    continue; // ZRL: the slow path
                }
                *dst = Fast {
                    val: 0,
                    run: if is_ac { EOB } else { 0 },
                    len,
                };
                continue;
            }
            let total = len as u32 + size;
            if total > FAST_BITS {
                continue;
            }
            let v = ((look as u32) >> (FAST_BITS - total)) & ((1 << size) - 1);
            let v = if v < (1 << (size - 1)) {
                v as i32 - (1 << size) + 1
            } else {
                v as i32
            };
            *dst = Fast {
                val: v as i16,
                run,
                len: total as u8,
            };
        }
        Some(Huffman {
            fast,
            fast_val,
            maxcode,
            valptr,
            mincode,
            values: values.to_vec(),
        })
    }
}

struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
    acc: u64,
    n: u32,
    /// A marker was reached: no more entropy-coded bytes.
    marker: Option<u8>,
    /// Zero bits supplied past the end of the data (those still in `acc` are its last ones).
    overrun: u32,
}

impl<'a> Bits<'a> {
    /// A reader of the entropy-coded bytes of `data` from `pos`.
    fn new(data: &'a [u8], pos: usize) -> Bits<'a> {
        Bits {
            data,
            pos,
            acc: 0,
            n: 0,
            marker: None,
            overrun: 0,
        }
    }

    /// Tops the buffer up to at least 57 bits (zero bits, counted in `overrun`, past a marker).
    fn fill(&mut self) {
        // Fast path: the next bytes hold no 0xFF (no stuffing, no marker): take them at once.
        if self.marker.is_none() {
            let room = ((64 - self.n) / 8) as usize;
            if let Some(chunk) = self.data.get(self.pos..self.pos + 8) {
                let v = u64::from_be_bytes(chunk.try_into().unwrap_or([0xFF; 8]));
                // The `room` leading bytes, the rest cleared (room >= 1: fill runs below 57 bits).
                let take = v & !(u64::MAX.checked_shr(8 * room as u32).unwrap_or(0));
                // A 0xFF byte among them? (Bytes of !take that are zero; cleared bytes are 0xFF
                // in !take and do not count.)
                let inv = !take;
                let ff = inv.wrapping_sub(0x0101_0101_0101_0101) & !inv & 0x8080_8080_8080_8080;
                if ff == 0 {
                    self.acc |= take >> self.n;
                    self.n += 8 * room as u32;
                    self.pos += room;
                    return;
                }
            }
        }
        while self.n <= 56 {
            let mut byte = 0u8;
            if self.marker.is_none() {
                match self.data.get(self.pos) {
                    Some(&0xFF) => match self.data.get(self.pos + 1) {
                        Some(&0x00) => {
                            byte = 0xFF;
                            self.pos += 2;
                        }
                        Some(&m) => self.marker = Some(m),
                        None => self.marker = Some(0xD9),
                    },
                    Some(&b) => {
                        byte = b;
                        self.pos += 1;
                    }
                    None => self.marker = Some(0xD9),
                }
            }
            if self.marker.is_some() {
                self.overrun += 8;
            }
            self.acc |= (byte as u64) << (56 - self.n);
            self.n += 8;
        }
    }

    /// The next `k` bits (k <= 16), most significant first, without consuming them.
    #[inline]
    fn peek(&mut self, k: u32) -> u32 {
        if self.n < k {
            self.fill();
        }
        (self.acc >> (64 - k)) as u32
    }

    /// Drops `k` bits that `peek` made available.
    #[inline]
    fn consume(&mut self, k: u32) {
        self.acc <<= k;
        self.n -= k;
    }

    /// Reads `k` bits (k <= 16) as an unsigned number.
    #[inline]
    fn bits(&mut self, k: u32) -> u32 {
        if k == 0 {
            return 0;
        }
        let v = self.peek(k);
        self.consume(k);
        v
    }

    /// Decodes one Huffman symbol: the 9-bit lookup, else canonical decoding over 16 bits.
    #[inline]
    fn decode(&mut self, h: &Huffman) -> Option<u8> {
        let look = self.peek(FAST_BITS) as usize;
        let (sym, len) = h.fast[look & (FAST_SIZE - 1)];
        if len > 0 {
            self.consume(len as u32);
            return Some(sym);
        }
        self.decode_slow(h)
    }

    /// Canonical decoding of a code longer than `FAST_BITS` (JPEG F.2.2.3).
    #[inline(never)]
    fn decode_slow(&mut self, h: &Huffman) -> Option<u8> {
        let look = self.peek(16) as i32;
        let mut len = FAST_BITS as usize;
        let mut code = look >> (16 - len);
        while len < 16 && code > h.maxcode[len] {
            len += 1;
            code = look >> (16 - len);
        }
        self.consume(len as u32);
        if code > h.maxcode[len] || h.maxcode[len] < 0 {
            return None;
        }
        let idx = h.valptr[len] + code - h.mincode[len];
        h.values.get(usize::try_from(idx).ok()?).copied()
    }

    /// The sign-extended value of `s` magnitude bits (JPEG F.2.2.1 EXTEND).
    #[inline]
    fn receive_extend(&mut self, s: u8) -> Option<i32> {
        if s == 0 {
            return Some(0);
        }
        if s > 16 {
            return None;
        }
        let v = self.bits(s as u32) as i32;
        Some(if v < (1 << (s - 1)) {
            v - (1 << s) + 1
        } else {
            v
        })
    }

    /// Skips to just after the next RSTn marker (resets the bit buffer).
    fn restart(&mut self) -> bool {
        self.acc = 0;
        self.n = 0;
        self.overrun = 0;
        if let Some(m) = self.marker.take() {
            if (0xD0..=0xD7).contains(&m) {
                self.pos += 2;
                return true;
            }
            return false;
        }
        // Scan forward for the marker.
        while let Some(&b) = self.data.get(self.pos) {
            if b == 0xFF {
                match self.data.get(self.pos + 1) {
                    Some(&m) if (0xD0..=0xD7).contains(&m) => {
                        self.pos += 2;
                        return true;
                    }
                    Some(&0x00) | Some(&0xFF) => self.pos += 1,
                    _ => return false,
                }
            } else {
                self.pos += 1;
            }
        }
        false
    }
}

struct Component {
    id: u8,
    h: usize,
    v: usize,
    tq: usize,
    td: usize,
    ta: usize,
    pred: i32,
}

/// The big-endian 16-bit number at `at`, or `None` past the end.
fn be16(b: &[u8], at: usize) -> Option<usize> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]) as usize)
}

/// Decodes `bytes` at reduced size, or `None` (unsupported or damaged, or less than
/// `min_height` pixels high: use the full decoder).
pub(crate) fn decode_quarter(bytes: &[u8], min_height: usize) -> Option<Quarter> {
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut qt: [[u16; 64]; 4] = [[0; 64]; 4];
    let mut qt_set = [false; 4];
    let mut dc: [Option<Huffman>; 4] = Default::default();
    let mut ac: [Option<Huffman>; 4] = Default::default();
    let mut comps: Vec<Component> = Vec::new();
    let (mut width, mut height) = (0usize, 0usize);
    let mut restart_interval = 0usize;
    let mut adobe_rgb = false;
    let mut pos = 2usize;
    loop {
        // Find the next marker (skip fill bytes).
        if *bytes.get(pos)? != 0xFF {
            return None;
        }
        while *bytes.get(pos + 1)? == 0xFF {
            pos += 1;
        }
        let marker = *bytes.get(pos + 1)?;
        pos += 2;
        match marker {
            0xD8 | 0xD9 | 0x01 | 0xD0..=0xD7 => return None,
            _ => {}
        }
        let len = be16(bytes, pos)?;
        if len < 2 {
            return None;
        }
        let seg = bytes.get(pos + 2..pos + len)?;
        match marker {
            0xDB => {
                let mut i = 0;
                while i < seg.len() {
                    let pq = seg[i] >> 4;
                    let tq = (seg[i] & 15) as usize;
                    if tq > 3 {
                        return None;
                    }
                    i += 1;
                    for (k, slot) in qt[tq].iter_mut().enumerate() {
                        *slot = if pq == 0 {
                            *seg.get(i + k)? as u16
                        } else {
                            u16::from_be_bytes([*seg.get(i + 2 * k)?, *seg.get(i + 2 * k + 1)?])
                        };
                    }
                    i += if pq == 0 { 64 } else { 128 };
                    qt_set[tq] = true;
                }
            }
            0xC4 => {
                let mut i = 0;
                while i < seg.len() {
                    let tc = seg[i] >> 4;
                    let th = (seg[i] & 15) as usize;
                    if tc > 1 || th > 3 {
                        return None;
                    }
                    let counts: [u8; 16] = seg.get(i + 1..i + 17)?.try_into().ok()?;
                    let total: usize = counts.iter().map(|&c| c as usize).sum();
                    let values = seg.get(i + 17..i + 17 + total)?;
                    let table = Huffman::new(&counts, values, tc == 1)?;
                    if tc == 0 {
                        dc[th] = Some(table);
                    } else {
                        ac[th] = Some(table);
                    }
                    i += 17 + total;
                }
            }
            0xC0 | 0xC1 => {
                if *seg.first()? != 8 {
                    return None;
                }
                height = be16(seg, 1)?;
                width = be16(seg, 3)?;
                let nf = *seg.get(5)? as usize;
                if width == 0
                    || height < min_height.max(1)
                    || width > MAX_SIDE as usize
                    || height > MAX_SIDE as usize
                {
                    return None;
                }
                if nf != 1 && nf != 3 {
                    return None;
                }
                for c in 0..nf {
                    let b = seg.get(6 + 3 * c..9 + 3 * c)?;
                    let (h, v, tq) = ((b[1] >> 4) as usize, (b[1] & 15) as usize, b[2] as usize);
                    if !(1..=4).contains(&h) || !(1..=4).contains(&v) || tq > 3 {
                        return None;
                    }
                    comps.push(Component {
                        id: b[0],
                        h,
                        v,
                        tq,
                        td: 0,
                        ta: 0,
                        pred: 0,
                    });
                }
            }
            0xC2 | 0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF | 0xDC => return None,
            0xDD => restart_interval = be16(seg, 0)?,
            // Adobe: transform 0 means three components are RGB, not YCbCr.
            0xEE if seg.starts_with(b"Adobe") && seg.get(11) == Some(&0) => adobe_rgb = true,
            0xDA => {
                let ns = *seg.first()? as usize;
                if comps.is_empty() || ns != comps.len() || (adobe_rgb && comps.len() == 3) {
                    return None;
                }
                for s in 0..ns {
                    let b = seg.get(1 + 2 * s..3 + 2 * s)?;
                    let c = comps.iter_mut().find(|c| c.id == b[0])?;
                    c.td = (b[1] >> 4) as usize;
                    c.ta = (b[1] & 15) as usize;
                    if c.td > 3 || c.ta > 3 {
                        return None;
                    }
                }
                let tail = seg.get(1 + 2 * ns..4 + 2 * ns)?;
                if tail != [0, 63, 0] {
                    return None;
                }
                return decode_scan(
                    bytes,
                    pos + len,
                    width,
                    height,
                    &mut comps,
                    &qt,
                    &qt_set,
                    &dc,
                    &ac,
                    restart_interval,
                );
            }
            _ => {} // APPn, COM and others: skipped
        }
        pos += len;
    }
}

/// Decodes the one baseline scan starting at `start` and assembles the reduced image.
#[allow(clippy::too_many_arguments)]
fn decode_scan(
    bytes: &[u8],
    start: usize,
    width: usize,
    height: usize,
    comps: &mut [Component],
    qt: &[[u16; 64]; 4],
    qt_set: &[bool; 4],
    dc: &[Option<Huffman>; 4],
    ac: &[Option<Huffman>; 4],
    restart_interval: usize,
) -> Option<Quarter> {
    let hmax = comps.iter().map(|c| c.h).max()?;
    let vmax = comps.iter().map(|c| c.v).max()?;
    let first = comps.first()?;
    if first.h != hmax || first.v != vmax {
        return None; // luma must carry the full resolution
    }
    for c in comps.iter() {
        if !qt_set[c.tq]
            || dc[c.td].is_none()
            || ac[c.ta].is_none()
            || hmax % c.h != 0
            || vmax % c.v != 0
        {
            return None;
        }
    }
    let single = comps.len() == 1;
    let (mcux, mcuy) = if single {
        (width.div_ceil(8), height.div_ceil(8))
    } else {
        (width.div_ceil(8 * hmax), height.div_ceil(8 * vmax))
    };
    // Blocks per component (interleaved: padded to whole MCUs).
    let dims: Vec<(usize, usize)> = comps
        .iter()
        .map(|c| {
            if single {
                (mcux, mcuy)
            } else {
                (mcux * c.h, mcuy * c.v)
            }
        })
        .collect();
    let (lbw, lbh) = *dims.first()?;
    let mut quads = vec![0f32; lbw * lbh * 4];
    let mut chroma_dc: Vec<Vec<f32>> = dims
        .iter()
        .skip(1)
        .map(|&(w, h)| vec![0f32; w * h])
        .collect();
    let a = half_weights();
    let mut bits = Bits::new(bytes, start);
    let mut coef = [0f32; 26];
    // Whether `coef` holds a contributing AC coefficient of the current luma block.
    let mut any_ac = false;
    let total_mcus = mcux * mcuy;
    for m in 0..total_mcus {
        if restart_interval > 0 && m > 0 && m % restart_interval == 0 {
            if !bits.restart() {
                return None;
            }
            for c in comps.iter_mut() {
                c.pred = 0;
            }
        }
        let (mx, my) = (m % mcux, m / mcux);
        for (ci, c) in comps.iter_mut().enumerate() {
            let (nh, nv) = if single { (1, 1) } else { (c.h, c.v) };
            let dct = dc[c.td].as_ref()?;
            let act = ac[c.ta].as_ref()?;
            let q = &qt[c.tq];
            for v in 0..nv {
                for h in 0..nh {
                    // DC.
                    let look = bits.peek(FAST_BITS) as usize;
                    let f = dct.fast_val[look & (FAST_SIZE - 1)];
                    let diff = if f.len > 0 {
                        bits.consume(f.len as u32);
                        f.val as i32
                    } else {
                        let s = bits.decode(dct)?;
                        bits.receive_extend(s)?
                    };
                    c.pred = c.pred.checked_add(diff)?;
                    let dcv = c.pred as f32 * q[0] as f32;
                    if ci == 0 {
                        if any_ac {
                            coef = [0f32; 26];
                            any_ac = false;
                        }
                        coef[0] = dcv;
                        // AC, stored where it contributes to the quadrant means.
                        let mut k = 1usize;
                        while k < 64 {
                            let look = bits.peek(FAST_BITS) as usize;
                            let f = act.fast_val[look & (FAST_SIZE - 1)];
                            let val = if f.len > 0 {
                                bits.consume(f.len as u32);
                                if f.run == EOB {
                                    break;
                                }
                                k += f.run as usize;
                                f.val as i32
                            } else {
                                let rs = bits.decode(act)?;
                                let (r, s) = ((rs >> 4) as usize, rs & 15);
                                if s == 0 {
                                    if r == 15 {
                                        k += 16;
                                        continue;
                                    }
                                    break;
                                }
                                k += r;
                                bits.receive_extend(s)?
                            };
                            if k > 63 {
                                return None;
                            }
                            // Slot 25 takes the coefficients that do not contribute.
                            let slot = ZZ_SLOT[k & 63] as usize;
                            coef[slot.min(25)] = val as f32 * q[k & 63] as f32;
                            any_ac |= slot < 25;
                            k += 1;
                        }
                    } else {
                        // AC of a chroma block: only skipped.
                        let mut k = 1usize;
                        while k < 64 {
                            let look = bits.peek(FAST_BITS) as usize;
                            let f = act.fast_val[look & (FAST_SIZE - 1)];
                            if f.len > 0 {
                                bits.consume(f.len as u32);
                                if f.run == EOB {
                                    break;
                                }
                                k += f.run as usize + 1;
                                continue;
                            }
                            let rs = bits.decode(act)?;
                            let (r, s) = ((rs >> 4) as usize, rs & 15);
                            if s == 0 {
                                if r == 15 {
                                    k = (k + 16).min(64); // past the end ends the block
                                    continue;
                                }
                                break;
                            }
                            k += r;
                            if k > 63 {
                                return None;
                            }
                            bits.receive_extend(s)?;
                            k += 1;
                        }
                        if k > 64 {
                            return None;
                        }
                    }
                    let (bx, by) = (mx * nh + h, my * nv + v);
                    if ci == 0 && !any_ac {
                        // DC only: the sums below reduce to this exactly (the other terms are
                        // products with zero, adding nothing).
                        let v = a[0] * (a[0] * dcv) + 128.0;
                        let out = quads.get_mut((by * lbw + bx) * 4..(by * lbw + bx) * 4 + 4)?;
                        out.fill(v);
                    } else if ci == 0 {
                        // Quadrant means: separable sums over the even (u = 0) and odd parts.
                        let mut rows = [[0f32; 2]; 5]; // per v: (left, right) sums over u
                        for (fv, row) in rows.iter_mut().enumerate() {
                            let e = a[0] * coef[fv * 5];
                            let o: f32 = (1..5).map(|i| a[i] * coef[fv * 5 + i]).sum();
                            *row = [e + o, e - o];
                        }
                        let out = quads.get_mut((by * lbw + bx) * 4..(by * lbw + bx) * 4 + 4)?;
                        for qx in 0..2 {
                            let e = a[0] * rows[0][qx];
                            let o: f32 = (1..5).map(|i| a[i] * rows[i][qx]).sum();
                            out[qx] = e + o + 128.0; // top half
                            out[2 + qx] = e - o + 128.0; // bottom half
                        }
                    } else if let Some(dst) = chroma_dc
                        .get_mut(ci - 1)
                        .and_then(|d| d.get_mut(by * dims[ci].0 + bx))
                    {
                        *dst = dcv / 8.0 + 128.0;
                    }
                }
            }
        }
        if bits.overrun.saturating_sub(bits.n) > 0 {
            return None; // consumed bits past the end of the entropy-coded data
        }
    }
    // The scan must be followed by the end-of-image marker (else the file is truncated).
    let mut p = bits.pos;
    loop {
        match (bytes.get(p), bytes.get(p + 1)) {
            (Some(0xFF), Some(0xD9)) => break,
            (Some(_), Some(_)) => p += 1,
            _ => return None,
        }
    }
    // Assemble the 4x4 luma grid and the 8x8 colour grid.
    let (qw, qh) = (width.div_ceil(4), height.div_ceil(4));
    let mut luma = vec![0f32; qw * qh];
    for (y, dst) in luma.chunks_exact_mut(qw.max(1)).enumerate() {
        // Block row y / 2, its top or bottom pair of quadrants.
        let half = (y % 2) * 2;
        let blocks = quads
            .get((y / 2) * lbw * 4..)
            .unwrap_or_default()
            .chunks_exact(4);
        for (pair, b) in dst.chunks_mut(2).zip(blocks) {
            for (d, v) in pair.iter_mut().zip(&b[half..half + 2]) {
                *d = v.clamp(0.0, 255.0);
            }
        }
    }
    let (cw, ch) = (width.div_ceil(8), height.div_ceil(8));
    let mut colour = vec![[0f32; 3]; cw * ch];
    // Chroma block column of each colour column, per chroma component (no division per block).
    let cols: Vec<Vec<usize>> = comps
        .iter()
        .skip(1)
        .map(|c| (0..cw).map(|bx| bx * c.h / hmax).collect())
        .collect();
    for (by, out) in colour.chunks_exact_mut(cw.max(1)).enumerate() {
        // Start of the chroma block row of this colour row, per chroma component.
        let mut rows = [0usize; 2];
        for (r, (c, &(w, _))) in rows.iter_mut().zip(comps.iter().zip(&dims).skip(1)) {
            *r = by * c.v / vmax * w;
        }
        for (bx, dst) in out.iter_mut().enumerate() {
            let k = (by * lbw + bx) * 4;
            let yv = quads
                .get(k..k + 4)
                .map(|q| q.iter().sum::<f32>() / 4.0)
                .unwrap_or(128.0);
            let rgb = if single {
                [yv, yv, yv]
            } else {
                let sample = |i: usize| -> f32 {
                    let cx = cols.get(i).and_then(|c| c.get(bx)).copied().unwrap_or(0);
                    chroma_dc
                        .get(i)
                        .and_then(|d| d.get(rows[i & 1] + cx))
                        .copied()
                        .unwrap_or(128.0)
                };
                let (cb, cr) = (sample(0) - 128.0, sample(1) - 128.0);
                [
                    yv + 1.402 * cr,
                    yv - 0.344_136 * cb - 0.714_136 * cr,
                    yv + 1.772 * cb,
                ]
            };
            *dst = rgb.map(|v| v.clamp(0.0, 255.0));
        }
    }
    Some(Quarter {
        width: width as u32,
        height: height as u32,
        luma,
        qw,
        qh,
        colour,
        cw,
        ch,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgb, RgbImage};

    /// `img` encoded as baseline JPEG at quality `q`.
    fn jpeg(img: &RgbImage, q: u8) -> Vec<u8> {
        let mut out = Vec::new();
        let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, q);
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

    /// A smooth synthetic colour image of `w x h` pixels.
    fn test_image(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            let v = ((x as f32 * 0.09).sin() * 60.0 + (y as f32 * 0.05).cos() * 50.0 + 128.0) as u8;
            Rgb([v, (x * 255 / w) as u8, (y * 255 / h) as u8])
        })
    }

    #[test]
    fn quarter_means_match_the_full_decode() {
        for (w, h) in [(358, 441), (64, 64), (37, 29)] {
            let bytes = jpeg(&test_image(w, h), 85);
            let q = decode_quarter(&bytes, 0).expect("baseline jpeg");
            assert_eq!((q.width, q.height), (w, h));
            let full = image::load_from_memory(&bytes).expect("decode").to_rgb8();
            let luma = |x: u32, y: u32| {
                let p = full.get_pixel(x.min(w - 1), y.min(h - 1)).0;
                0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32
            };
            let mut worst = 0f32;
            for gy in 0..(h / 4) {
                for gx in 0..(w / 4) {
                    let mut s = 0f32;
                    for dy in 0..4 {
                        for dx in 0..4 {
                            s += luma(gx * 4 + dx, gy * 4 + dy);
                        }
                    }
                    let d = (s / 16.0 - q.luma[(gy as usize) * q.qw + gx as usize]).abs();
                    worst = worst.max(d);
                }
            }
            // Chroma upsampling and rounding in the full decoder differ slightly.
            assert!(worst < 3.0, "{w}x{h}: worst 4x4 mean difference {worst}");
        }
    }

    #[test]
    fn colour_blocks_match() {
        let img = RgbImage::from_pixel(64, 48, Rgb([40, 120, 200]));
        let q = decode_quarter(&jpeg(&img, 90), 0).expect("decode");
        for c in &q.colour {
            for (got, want) in c.iter().zip([40.0, 120.0, 200.0]) {
                assert!((got - want).abs() < 4.0, "{c:?}");
            }
        }
    }

    #[test]
    fn unsupported_or_damaged_is_none() {
        let bytes = jpeg(&test_image(64, 64), 80);
        assert!(
            decode_quarter(&bytes[..bytes.len() / 2], 0).is_none(),
            "truncated"
        );
        assert!(decode_quarter(b"\xFF\xD8\xFF\xD9", 0).is_none());
        assert!(decode_quarter(b"nope", 0).is_none());
        // Greyscale JPEG decodes (one component).
        let mut g = Vec::new();
        let luma = image::GrayImage::from_fn(40, 40, |x, _| image::Luma([(x * 6) as u8]));
        image::ImageEncoder::write_image(
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut g, 80),
            luma.as_raw(),
            40,
            40,
            image::ExtendedColorType::L8,
        )
        .expect("encode");
        let q = decode_quarter(&g, 0).expect("grey");
        assert!(
            (q.luma[0] - 3.0 * 6.0 / 2.0 - 0.0).abs() < 4.0,
            "{}",
            q.luma[0]
        );
    }

    /// SHA-256 over every field of the reduced decode of each fixture JPEG (faces, the
    /// acceptance photo, the JPEG inside the sample DG2), `None` hashed as a marker byte.
    fn fixture_digest() -> (String, usize) {
        use sha2::{Digest, Sha256};
        let root = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("fixtures");
        let mut files: Vec<Vec<u8>> = Vec::new();
        let mut faces: Vec<_> = std::fs::read_dir(root.join("faces"))
            .expect("faces dir")
            .map(|e| e.expect("entry").path())
            .filter(|p| {
                p.extension().is_some_and(|e| {
                    e.eq_ignore_ascii_case("jpg") || e.eq_ignore_ascii_case("jpeg")
                })
            })
            .collect();
        faces.sort();
        for f in &faces {
            files.push(std::fs::read(f).expect("face"));
        }
        let sample = root.join("samples/pass-case");
        files.push(
            std::fs::read(sample.join("acceptance/451022202404011140/photo.jpg")).expect("photo"),
        );
        let dg2 = std::fs::read(sample.join("chip/dg2.bin")).expect("dg2");
        let at = dg2
            .windows(2)
            .position(|w| w == [0xFF, 0xD8])
            .expect("jpeg in dg2");
        files.push(dg2[at..].to_vec());
        let mut hasher = Sha256::new();
        let mut decoded = 0;
        for b in &files {
            match decode_quarter(b, 0) {
                None => hasher.update([0u8]),
                Some(q) => {
                    decoded += 1;
                    hasher.update([1u8]);
                    hasher.update(q.width.to_le_bytes());
                    hasher.update(q.height.to_le_bytes());
                    for d in [q.qw, q.qh, q.cw, q.ch] {
                        hasher.update((d as u64).to_le_bytes());
                    }
                    for v in &q.luma {
                        hasher.update(v.to_bits().to_le_bytes());
                    }
                    for c in &q.colour {
                        for v in c {
                            hasher.update(v.to_bits().to_le_bytes());
                        }
                    }
                }
            }
        }
        (hex::encode(hasher.finalize()), decoded)
    }

    #[test]
    fn fixture_output_is_bit_identical() {
        let (digest, decoded) = fixture_digest();
        assert_eq!(decoded, 42, "fixture JPEGs decoded");
        assert_eq!(
            digest,
            "6ad4a2b39189b9284e50e898c6473072aa10775054ea5cb376c8165955a806d0"
        );
    }

    /// Hand-run speed check: `cargo test --release --lib jpeg_quarter::tests::speed --
    /// --ignored --nocapture` prints the median decode time of the acceptance photo.
    #[test]
    #[ignore]
    fn speed() {
        let root = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("fixtures");
        let b =
            std::fs::read(root.join("samples/pass-case/acceptance/451022202404011140/photo.jpg"))
                .expect("photo");
        let mut times = Vec::new();
        for _ in 0..31 {
            let t = std::time::Instant::now();
            for _ in 0..100 {
                std::hint::black_box(decode_quarter(std::hint::black_box(&b), 0));
            }
            times.push(t.elapsed().as_secs_f64() / 100.0 * 1e6);
        }
        times.sort_by(f64::total_cmp);
        println!(
            "decode_quarter median {:.1} us, min {:.1} us",
            times[15], times[0]
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 200, ..Default::default() })]
        #[test]
        fn never_panics(edits in proptest::collection::vec((0usize..100_000, proptest::prelude::any::<u8>()), 0..8), cut in 0usize..100_000) {
            let mut b = jpeg(&test_image(48, 40), 75);
            for (at, v) in edits {
                let n = b.len();
                b[at % n] = v;
            }
            let keep = cut % (b.len() + 1);
            let _ = decode_quarter(&b[..keep], 0);
            let _ = decode_quarter(&b, 0);
        }
    }
}

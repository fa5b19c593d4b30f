//! The JPEG 2000 header check made before a chip photo is decoded: find the codestream (a raw
//! codestream, or the `jp2c` box of a JP2 file), read its SIZ marker segment (ISO/IEC 15444-1,
//! A.5.1) and refuse an image whose size, tiling or components would make decoding implausible or
//! costly. A DG2 face is at most a few megapixels in a handful of tiles; a 357-byte codestream that
//! declares 175,000 tiles held a verification thread for 23 s before this check (README,
//! "Fuzzing"). Pure: bytes in, the parsed header or an error naming the field out.

/// Widest and tallest chip photo decoded (pixels per side).
pub const MAX_SIDE: u32 = 4096;
/// Largest chip photo decoded (pixels): an ICAO portrait is well under one megapixel.
pub const MAX_PIXELS: u64 = 4 * 1024 * 1024;
/// Most tiles in one chip photo (cards write one).
pub const MAX_TILES: u64 = 64;
/// Most image components (grey, RGB, RGB + alpha).
pub const MAX_COMPONENTS: u16 = 4;
/// Deepest component precision (bits).
pub const MAX_PRECISION: u8 = 16;

/// Whether a chip photo of `w` x `h` pixels is within the bounds above (and not empty).
pub fn size_allowed(w: u32, h: u32) -> bool {
    w > 0 && h > 0 && w <= MAX_SIDE && h <= MAX_SIDE && u64::from(w) * u64::from(h) <= MAX_PIXELS
}

/// The image and tile geometry of a codestream's SIZ marker segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Siz {
    /// Reference grid size (Xsiz, Ysiz) and image offset (XOsiz, YOsiz).
    pub grid: (u32, u32),
    pub image_offset: (u32, u32),
    /// Tile size (XTsiz, YTsiz) and tile offset (XTOsiz, YTOsiz).
    pub tile: (u32, u32),
    pub tile_offset: (u32, u32),
    pub components: u16,
}

impl Siz {
    /// Image width and height on the reference grid.
    pub fn size(&self) -> (u32, u32) {
        (self.grid.0 - self.image_offset.0, self.grid.1 - self.image_offset.1)
    }

    /// Number of tiles (ISO/IEC 15444-1, B.3).
    pub fn tiles(&self) -> u64 {
        let across = u64::from(self.grid.0 - self.tile_offset.0).div_ceil(u64::from(self.tile.0));
        let down = u64::from(self.grid.1 - self.tile_offset.1).div_ceil(u64::from(self.tile.1));
        across * down
    }
}

/// Why a JPEG 2000 header is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} at offset {offset}: {message}")]
pub struct HeaderError {
    pub field: &'static str,
    pub offset: usize,
    pub message: String,
}

fn err(field: &'static str, offset: usize, message: impl Into<String>) -> HeaderError {
    HeaderError { field, offset, message: message.into() }
}

const JP2_SIGNATURE: [u8; 12] = [0, 0, 0, 12, b'j', b'P', b' ', b' ', 0x0D, 0x0A, 0x87, 0x0A];
const SOC: [u8; 2] = [0xFF, 0x4F];
const SIZ: [u8; 2] = [0xFF, 0x51];

fn be(bytes: &[u8], at: usize, n: usize, field: &'static str) -> Result<u64, HeaderError> {
    let s = bytes
        .get(at..at.saturating_add(n))
        .ok_or_else(|| err(field, at, format!("truncated: needs {n} bytes, {} remain", bytes.len().saturating_sub(at))))?;
    Ok(s.iter().fold(0u64, |a, &b| (a << 8) | u64::from(b)))
}

/// Offset of the codestream: 0 for a raw codestream, else the contents of the first top-level
/// `jp2c` box of a JP2 file.
pub fn codestream_offset(data: &[u8]) -> Result<usize, HeaderError> {
    if data.starts_with(&SOC) {
        return Ok(0);
    }
    if !data.starts_with(&JP2_SIGNATURE) {
        return Err(err("signature", 0, "neither a JPEG 2000 codestream (FF4F) nor a JP2 file"));
    }
    let mut at = 0usize;
    while at < data.len() {
        let lbox = be(data, at, 4, "box length")?;
        let tbox = data.get(at + 4..at + 8).ok_or_else(|| err("box type", at + 4, "truncated"))?;
        let (header, len) = match lbox {
            0 => (8u64, (data.len() - at) as u64),
            1 => (16, be(data, at + 8, 8, "extended box length")?),
            n => (8, n),
        };
        if len < header || len > (data.len() - at) as u64 {
            return Err(err("box length", at, format!("box of {len} bytes does not fit the {} bytes left", data.len() - at)));
        }
        if tbox == b"jp2c" {
            return Ok(at + header as usize);
        }
        at += len as usize;
    }
    Err(err("jp2c box", data.len(), "the JP2 file holds no codestream"))
}

/// Parse the SIZ marker segment that must follow SOC, with the checks of ISO/IEC 15444-1 A.5.1.
pub fn parse_siz(data: &[u8]) -> Result<Siz, HeaderError> {
    let cs = codestream_offset(data)?;
    if data.get(cs..cs + 2) != Some(&SOC[..]) {
        return Err(err("SOC", cs, "the codestream does not start with FF4F"));
    }
    let at = cs + 2;
    if data.get(at..at + 2) != Some(&SIZ[..]) {
        return Err(err("SIZ", at, "the first marker after SOC is not SIZ (FF51)"));
    }
    let lsiz = be(data, at + 2, 2, "Lsiz")?;
    let csiz = be(data, at + 38, 2, "Csiz")? as u16;
    if csiz == 0 || csiz > MAX_COMPONENTS {
        return Err(err("Csiz", at + 38, format!("{csiz} components (1 to {MAX_COMPONENTS} accepted)")));
    }
    if lsiz != 38 + 3 * u64::from(csiz) {
        return Err(err("Lsiz", at + 2, format!("{lsiz} does not match {csiz} components")));
    }
    let u32_at = |off: usize, field| be(data, at + off, 4, field).map(|v| v as u32);
    let siz = Siz {
        grid: (u32_at(6, "Xsiz")?, u32_at(10, "Ysiz")?),
        image_offset: (u32_at(14, "XOsiz")?, u32_at(18, "YOsiz")?),
        tile: (u32_at(22, "XTsiz")?, u32_at(26, "YTsiz")?),
        tile_offset: (u32_at(30, "XTOsiz")?, u32_at(34, "YTOsiz")?),
        components: csiz,
    };
    for c in 0..usize::from(csiz) {
        let off = at + 40 + 3 * c;
        let ssiz = be(data, off, 1, "Ssiz")? as u8;
        let bits = (ssiz & 0x7F) + 1;
        if bits > MAX_PRECISION {
            return Err(err("Ssiz", off, format!("component {c} has {bits} bits (at most {MAX_PRECISION})")));
        }
        let (xr, yr) = (be(data, off + 1, 1, "XRsiz")?, be(data, off + 2, 1, "YRsiz")?);
        if xr == 0 || yr == 0 {
            return Err(err("XRsiz/YRsiz", off + 1, format!("component {c} subsampling {xr}x{yr} (must be 1 to 255)")));
        }
    }
    check(&siz, at)?;
    Ok(siz)
}

fn check(s: &Siz, at: usize) -> Result<(), HeaderError> {
    if s.image_offset.0 >= s.grid.0 || s.image_offset.1 >= s.grid.1 {
        return Err(err("Xsiz/Ysiz", at + 6, format!("grid {}x{} with image offset {:?}: empty image", s.grid.0, s.grid.1, s.image_offset)));
    }
    if s.tile.0 == 0 || s.tile.1 == 0 {
        return Err(err("XTsiz/YTsiz", at + 22, "a tile side of 0"));
    }
    let tile_ok = s.tile_offset.0 <= s.image_offset.0
        && s.tile_offset.1 <= s.image_offset.1
        && u64::from(s.tile_offset.0) + u64::from(s.tile.0) > u64::from(s.image_offset.0)
        && u64::from(s.tile_offset.1) + u64::from(s.tile.1) > u64::from(s.image_offset.1);
    if !tile_ok {
        return Err(err("XTOsiz/YTOsiz", at + 30, format!("tile offset {:?} does not cover the image offset {:?}", s.tile_offset, s.image_offset)));
    }
    let (w, h) = s.size();
    if !size_allowed(w, h) {
        return Err(err("Xsiz/Ysiz", at + 6, format!("image size {w}x{h} is implausible for a chip photo (at most {MAX_SIDE} px a side, {MAX_PIXELS} pixels)")));
    }
    let tiles = s.tiles();
    if tiles > MAX_TILES {
        return Err(err("XTsiz/YTsiz", at + 22, format!("{tiles} tiles of {}x{} px (at most {MAX_TILES} tiles)", s.tile.0, s.tile.1)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!("{}/{name}", concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))).expect("fixture")
    }

    /// A codestream header: SOC, SIZ with the given geometry and `c` 8-bit components.
    fn header(grid: (u32, u32), tile: (u32, u32), c: u16) -> Vec<u8> {
        let mut v = vec![0xFF, 0x4F, 0xFF, 0x51];
        v.extend_from_slice(&(38 + 3 * c).to_be_bytes());
        v.extend_from_slice(&[0, 0]);
        for x in [grid.0, grid.1, 0, 0, tile.0, tile.1, 0, 0] {
            v.extend_from_slice(&x.to_be_bytes());
        }
        v.extend_from_slice(&c.to_be_bytes());
        for _ in 0..c {
            v.extend_from_slice(&[7, 1, 1]);
        }
        v
    }

    #[test]
    fn reads_the_fixtures_raw_and_in_a_jp2_box() {
        for name in ["fixtures/lds/face-24x32.j2k", "fixtures/lds/face-24x32.jp2"] {
            let s = parse_siz(&fixture(name)).expect(name);
            assert_eq!(s.size(), (24, 32), "{name}");
            assert_eq!(s.components, 3);
            assert_eq!(s.tiles(), 1);
        }
    }

    #[test]
    fn refuses_the_fuzzers_175k_tile_codestream() {
        let e = parse_siz(&fixture("fuzz/known/jp2-timeout-175k-tiles.j2k")).expect_err("refused");
        assert_eq!(e.field, "Xsiz/Ysiz", "{e}");
        assert!(e.message.contains("131096x32"), "{e}");
        // The same tiling on a plausible width is refused for its tile count.
        let e = parse_siz(&header((2000, 32), (24, 1), 3)).expect_err("refused");
        assert_eq!(e.field, "XTsiz/YTsiz", "{e}");
        assert!(e.message.contains("2688 tiles"), "{e}");
    }

    #[test]
    fn bounds_and_form() {
        assert!(parse_siz(&header((480, 640), (480, 640), 3)).is_ok());
        assert!(parse_siz(&header((2048, 2048), (256, 256), 3)).is_ok(), "64 tiles, 4 Mpx: the largest accepted");
        assert_eq!(parse_siz(&header((2049, 2048), (2049, 2048), 3)).expect_err("pixels").field, "Xsiz/Ysiz");
        assert_eq!(parse_siz(&header((5000, 100), (5000, 100), 3)).expect_err("side").field, "Xsiz/Ysiz");
        assert_eq!(parse_siz(&header((480, 640), (0, 640), 3)).expect_err("tile 0").field, "XTsiz/YTsiz");
        assert_eq!(parse_siz(&header((480, 640), (480, 640), 5)).expect_err("components").field, "Csiz");
        assert_eq!(parse_siz(&header((480, 640), (480, 640), 0)).expect_err("components").field, "Csiz");
        let mut bad = header((480, 640), (480, 640), 3);
        bad[5] ^= 1;
        assert_eq!(parse_siz(&bad).expect_err("length").field, "Lsiz");
        let h = header((480, 640), (480, 640), 3);
        for cut in 0..h.len() {
            assert!(parse_siz(&h[..cut]).is_err(), "cut at {cut}");
        }
        assert_eq!(parse_siz(b"not an image").expect_err("junk").field, "signature");
        let mut jp2 = JP2_SIGNATURE.to_vec();
        jp2.extend_from_slice(&[0, 0, 0, 200, b'j', b'p', b'2', b'h']);
        assert_eq!(parse_siz(&jp2).expect_err("box").field, "box length");
    }
}

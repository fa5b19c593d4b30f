//! ISO/IEC 19794-2:2005 finger minutiae records ("FMR\0", version " 20\0"): parsing of untrusted
//! bytes into [`MinutiaeRecord`] (also the ANSI/INCITS 378-2004 header forms with a 2- or 6-byte
//! record length), encoding back, the 6-byte minutia form shared with the chip's fingerprint slot,
//! and the compact card format (3 bytes per minutia). Never panics; every error names the offset
//! and what is wrong. Lenient where real data needs it (a record length field that disagrees with
//! the bytes, a missing or overlong extended data block after the last view), never reading out of
//! range.

use std::fmt;

/// Minutia type from the two high bits of the x field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum MinutiaKind {
    Other,
    RidgeEnding,
    Bifurcation,
    Reserved,
}

impl MinutiaKind {
    pub fn from_bits(b: u8) -> Self {
        match b & 3 {
            0 => MinutiaKind::Other,
            1 => MinutiaKind::RidgeEnding,
            2 => MinutiaKind::Bifurcation,
            _ => MinutiaKind::Reserved,
        }
    }
    pub fn bits(self) -> u8 {
        match self {
            MinutiaKind::Other => 0,
            MinutiaKind::RidgeEnding => 1,
            MinutiaKind::Bifurcation => 2,
            MinutiaKind::Reserved => 3,
        }
    }
}

/// One minutia. Coordinates in pixels (500 dpi), y pointing down; `angle` in units of 360/256
/// degrees, counter-clockwise; `quality` 0 means "not reported".
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Minutia {
    pub kind: MinutiaKind,
    pub x: u16,
    pub y: u16,
    pub angle: u8,
    pub quality: u8,
}

impl fmt::Debug for Minutia {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Minutiae are biometric data: never printed.
        f.write_str("Minutia(REDACTED)")
    }
}

impl Minutia {
    /// Decode the 6-byte form (ISO/IEC 19794-2:2005 section 7.4.1).
    pub fn from_bytes(b: [u8; 6]) -> Minutia {
        Minutia {
            kind: MinutiaKind::from_bits(b[0] >> 6),
            x: (((b[0] & 0x3F) as u16) << 8) | b[1] as u16,
            y: (((b[2] & 0x3F) as u16) << 8) | b[3] as u16,
            angle: b[4],
            quality: b[5],
        }
    }

    /// Encode the 6-byte form; coordinates are masked to 14 bits.
    pub fn to_bytes(&self) -> [u8; 6] {
        let x = self.x & 0x3FFF;
        let y = self.y & 0x3FFF;
        [
            (self.kind.bits() << 6) | (x >> 8) as u8,
            x as u8,
            (y >> 8) as u8,
            y as u8,
            self.angle,
            self.quality,
        ]
    }
}

/// A parsed record: the first finger view of an ISO/IEC 19794-2:2005 record.
#[derive(Clone, PartialEq, Eq)]
pub struct MinutiaeRecord {
    pub width: u16,
    pub height: u16,
    pub x_resolution: u16,
    pub y_resolution: u16,
    /// ISO finger position 0..10 (1-5 right thumb..little, 6-10 left).
    pub finger_position: u8,
    pub impression_type: u8,
    /// Finger quality 0..100; 0 = not reported.
    pub quality: u8,
    pub minutiae: Vec<Minutia>,
}

impl fmt::Debug for MinutiaeRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MinutiaeRecord")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("finger_position", &self.finger_position)
            .field("quality", &self.quality)
            .field("minutiae", &format_args!("{} REDACTED", self.minutiae.len()))
            .finish()
    }
}

/// Why a minutiae record could not be parsed. Offsets count from the start of the record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Iso19794Error {
    #[error("{what} at offset {offset}: needs {needed} bytes, only {available} remain")]
    Truncated { what: &'static str, offset: usize, needed: usize, available: usize },
    #[error("format identifier at offset 0 is {found:02X?}, expected \"FMR\\0\"")]
    BadMagic { found: Vec<u8> },
    #[error("version at offset 4 is {found:02X?}, expected \" 20\\0\" (ISO/IEC 19794-2:2005)")]
    BadVersion { found: Vec<u8> },
    #[error("{what} at offset {offset}: {message}")]
    Invalid { what: &'static str, offset: usize, message: String },
}

/// Header layout detected from the record length field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HeaderForm {
    /// ISO/IEC 19794-2:2005: 4-byte record length, no CBEFF product identifier.
    Iso,
    /// ANSI/INCITS 378-2004: 2-byte record length, 4-byte CBEFF product identifier.
    AnsiShort,
    /// ANSI/INCITS 378-2004: 0x0000 then a 4-byte record length, 4-byte CBEFF product identifier.
    AnsiLong,
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], Iso19794Error> {
        let s = self.buf.get(self.pos..self.pos.saturating_add(n)).ok_or(Iso19794Error::Truncated {
            what,
            offset: self.pos,
            needed: n,
            available: self.remaining(),
        })?;
        self.pos += n;
        Ok(s)
    }
    fn u8(&mut self, what: &'static str) -> Result<u8, Iso19794Error> {
        Ok(self.take(1, what)?.first().copied().unwrap_or(0))
    }
    fn u16(&mut self, what: &'static str) -> Result<u16, Iso19794Error> {
        let b = self.take(2, what)?;
        Ok(b.iter().fold(0u16, |a, &x| (a << 8) | u16::from(x)))
    }
}

fn be_u32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4).map(|s| s.iter().fold(0u32, |a, &x| (a << 8) | u32::from(x)))
}

fn be_u16(b: &[u8], at: usize) -> Option<u16> {
    b.get(at..at + 2).map(|s| s.iter().fold(0u16, |a, &x| (a << 8) | u16::from(x)))
}

impl MinutiaeRecord {
    /// Parse a record and return its first finger view (see [`MinutiaeRecord::parse_all`]).
    pub fn parse(bytes: &[u8]) -> Result<MinutiaeRecord, Iso19794Error> {
        let mut views = Self::parse_views(bytes, true)?;
        if views.is_empty() {
            return Err(Iso19794Error::Invalid { what: "number of finger views", offset: 0, message: "the record holds no finger view".into() });
        }
        Ok(views.swap_remove(0))
    }

    /// Same as [`MinutiaeRecord::parse`].
    pub fn from_bytes(bytes: &[u8]) -> Result<MinutiaeRecord, Iso19794Error> {
        Self::parse(bytes)
    }

    /// Parse a record and return every finger view, each with the record's image size and
    /// resolution.
    pub fn parse_all(bytes: &[u8]) -> Result<Vec<MinutiaeRecord>, Iso19794Error> {
        Self::parse_views(bytes, false)
    }

    fn parse_views(bytes: &[u8], first_only: bool) -> Result<Vec<MinutiaeRecord>, Iso19794Error> {
        let mut r = Reader { buf: bytes, pos: 0 };
        let magic = r.take(4, "format identifier").map_err(|_| Iso19794Error::BadMagic { found: bytes.get(..4).unwrap_or(bytes).to_vec() })?;
        if magic != b"FMR\0" {
            return Err(Iso19794Error::BadMagic { found: magic.to_vec() });
        }
        let version = r.take(4, "version")?;
        if version != b" 20\0" {
            return Err(Iso19794Error::BadVersion { found: version.to_vec() });
        }
        let len = bytes.len();
        let form = if be_u32(bytes, 8) == Some(len as u32) {
            HeaderForm::Iso
        } else if be_u16(bytes, 8).is_some_and(|l| l != 0 && usize::from(l) == len) {
            HeaderForm::AnsiShort
        } else if be_u16(bytes, 8) == Some(0) && be_u32(bytes, 10) == Some(len as u32) {
            HeaderForm::AnsiLong
        } else {
            // The length field disagrees with the bytes: read it as ISO, by the bytes present.
            HeaderForm::Iso
        };
        match form {
            HeaderForm::Iso => {
                r.take(4, "record length")?;
            }
            HeaderForm::AnsiShort => {
                r.take(2, "record length")?;
                r.take(4, "CBEFF product identifier")?;
            }
            HeaderForm::AnsiLong => {
                r.take(6, "record length")?;
                r.take(4, "CBEFF product identifier")?;
            }
        }
        r.u16("capture equipment")?;
        let width = r.u16("image width")?;
        let height = r.u16("image height")?;
        let x_resolution = r.u16("x resolution")?;
        let y_resolution = r.u16("y resolution")?;
        let view_count_at = r.pos;
        let views = r.u8("number of finger views")?;
        r.u8("reserved byte")?;
        if views == 0 {
            return Err(Iso19794Error::Invalid { what: "number of finger views", offset: view_count_at, message: "is 0".into() });
        }
        let mut out = Vec::new();
        for v in 0..views {
            let last = v + 1 == views || first_only;
            let position_at = r.pos;
            let finger_position = r.u8("finger position")?;
            if finger_position > 10 {
                return Err(Iso19794Error::Invalid { what: "finger position", offset: position_at, message: format!("{finger_position} is not 0..10") });
            }
            let impression = r.u8("view number and impression type")?;
            let quality = r.u8("finger quality")?;
            let count = usize::from(r.u8("number of minutiae")?);
            let data = r.take(6 * count, "minutiae")?;
            let minutiae = data.chunks_exact(6).map(|c| Minutia::from_bytes([c[0], c[1], c[2], c[3], c[4], c[5]])).collect();
            out.push(MinutiaeRecord {
                width,
                height,
                x_resolution,
                y_resolution,
                finger_position,
                impression_type: impression & 0x0F,
                quality,
                minutiae,
            });
            // Extended data block: its length, then extension areas, skipped by that length. The
            // last view may lack it or claim more than is there (seen in real data).
            let ext_at = r.pos;
            match r.u16("extended data block length") {
                Ok(ext_len) => {
                    if usize::from(ext_len) > r.remaining() {
                        if last {
                            break;
                        }
                        return Err(Iso19794Error::Truncated {
                            what: "extended data block",
                            offset: ext_at + 2,
                            needed: usize::from(ext_len),
                            available: r.remaining(),
                        });
                    }
                    r.take(usize::from(ext_len), "extended data block")?;
                }
                Err(e) => {
                    if last {
                        break;
                    }
                    return Err(e);
                }
            }
            if first_only {
                break;
            }
        }
        Ok(out)
    }

    /// Encode a clean ISO/IEC 19794-2:2005 record holding this single view (no capture
    /// equipment, no extended data). At most 255 minutiae are written.
    pub fn to_bytes(&self) -> Vec<u8> {
        let n = self.minutiae.len().min(255);
        let total = 24 + 6 + 6 * n;
        let mut out = Vec::with_capacity(total);
        out.extend_from_slice(b"FMR\0 20\0");
        out.extend_from_slice(&(total as u32).to_be_bytes());
        out.extend_from_slice(&0u16.to_be_bytes());
        for v in [self.width, self.height, self.x_resolution, self.y_resolution] {
            out.extend_from_slice(&v.to_be_bytes());
        }
        out.extend_from_slice(&[1, 0]);
        out.extend_from_slice(&[self.finger_position, self.impression_type & 0x0F, self.quality, n as u8]);
        for m in self.minutiae.iter().take(n) {
            out.extend_from_slice(&m.to_bytes());
        }
        out.extend_from_slice(&0u16.to_be_bytes());
        out
    }
}

/// Most minutiae kept by [`to_compact`].
pub const COMPACT_MAX_MINUTIAE: usize = 40;

/// Encode minutiae in the ISO/IEC 19794-2 compact card format: 3 bytes each, x and y in units of
/// 0.1 mm (one byte each), then 2 bits of type and 6 bits of angle in units of 360/64 degrees.
/// `px_per_cm` is the resolution of the minutiae coordinates in pixels per centimetre, as in the
/// record header (197 for 500 dpi). Minutiae outside the 25.5 mm range are dropped; at most
/// [`COMPACT_MAX_MINUTIAE`] are kept, preferring higher quality and then those nearest the
/// centroid; the output is sorted by y, then x (ascending).
pub fn to_compact(minutiae: &[Minutia], px_per_cm: u16) -> Vec<u8> {
    if px_per_cm == 0 {
        return Vec::new();
    }
    let res = f64::from(px_per_cm);
    let to_units = |px: u16| (f64::from(px) * 100.0 / res).round();
    let mut cand: Vec<(Minutia, u8, u8)> = minutiae
        .iter()
        .filter_map(|m| {
            let (x, y) = (to_units(m.x), to_units(m.y));
            (x <= 255.0 && y <= 255.0).then_some((*m, x as u8, y as u8))
        })
        .collect();
    if cand.len() > COMPACT_MAX_MINUTIAE {
        let n = cand.len() as f64;
        let cx = cand.iter().map(|(m, _, _)| f64::from(m.x)).sum::<f64>() / n;
        let cy = cand.iter().map(|(m, _, _)| f64::from(m.y)).sum::<f64>() / n;
        let d2 = |m: &Minutia| (f64::from(m.x) - cx).powi(2) + (f64::from(m.y) - cy).powi(2);
        cand.sort_by(|(a, _, _), (b, _, _)| b.quality.cmp(&a.quality).then(d2(a).total_cmp(&d2(b))).then(a.cmp(b)));
        cand.truncate(COMPACT_MAX_MINUTIAE);
    }
    cand.sort_by(|(a, ax, ay), (b, bx, by)| (ay, ax).cmp(&(by, bx)).then(a.cmp(b)));
    let mut out = Vec::with_capacity(cand.len() * 3);
    for (m, x, y) in cand {
        let angle = ((u16::from(m.angle) + 2) / 4 % 64) as u8;
        out.extend_from_slice(&[x, y, (m.kind.bits() << 6) | angle]);
    }
    out
}

/// Decode the compact card format (see [`to_compact`]) back to minutiae in pixels at
/// `px_per_cm`; angles in units of 360/256 degrees, quality 0. A trailing partial triple is
/// ignored.
pub fn from_compact(bytes: &[u8], px_per_cm: u16) -> Vec<Minutia> {
    let res = f64::from(px_per_cm);
    let to_px = |u: u8| (f64::from(u) * res / 100.0).round().min(f64::from(0x3FFF_u16)) as u16;
    bytes
        .chunks_exact(3)
        .map(|c| Minutia { kind: MinutiaKind::from_bits(c[2] >> 6), x: to_px(c[0]), y: to_px(c[1]), angle: (c[2] & 0x3F) * 4, quality: 0 })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::path::Path;

    fn fixture_files() -> Vec<std::path::PathBuf> {
        let root = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("fixtures/fingerprints/fvc2002");
        let mut v = Vec::new();
        for db in std::fs::read_dir(&root).expect("fixture dir").filter_map(Result::ok) {
            for f in std::fs::read_dir(db.path()).expect("db dir").filter_map(Result::ok) {
                if f.path().extension().is_some_and(|e| e == "iso") {
                    v.push(f.path());
                }
            }
        }
        v.sort();
        v
    }

    fn check_fvc(path: &Path) {
        let bytes = std::fs::read(path).expect("read");
        let r = MinutiaeRecord::parse(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(r.width > 0 && r.height > 0, "{}", path.display());
        assert_eq!((r.x_resolution, r.y_resolution), (197, 197), "{}", path.display());
        assert!(!r.minutiae.is_empty(), "{}", path.display());
        assert!(r.minutiae.iter().all(|m| m.x < r.width && m.y < r.height), "{}: minutia outside the image", path.display());
        // These files are clean single-view records: the writer reproduces them byte for byte.
        assert_eq!(r.to_bytes(), bytes, "{}", path.display());
        assert_eq!(MinutiaeRecord::parse_all(&bytes).expect("all views").len(), 1);
    }

    #[test]
    fn committed_fvc2002_fixtures_parse_and_round_trip() {
        let files = fixture_files();
        // The 16 templates committed with this module (others may add more beside them).
        for db in ["DB1_B", "DB2_B"] {
            for f in ["101_1", "101_2", "101_3", "101_4", "102_1", "102_2", "102_3", "102_4"] {
                let p = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join(format!("fixtures/fingerprints/fvc2002/{db}/{f}.iso"));
                assert!(files.contains(&p), "{} missing", p.display());
            }
        }
        for f in &files {
            check_fvc(f);
        }
    }

    /// All 320 FVC2002 templates of the shared data set (run with `--ignored` where it exists).
    #[test]
    #[ignore = "needs the shared FVC2002 data set outside the repository"]
    fn all_shared_fvc2002_templates() {
        let root = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("../shared/data/fingerprints/fvc2002");
        let mut n = 0;
        for db in std::fs::read_dir(&root).expect("shared data set").filter_map(Result::ok) {
            for f in std::fs::read_dir(db.path()).expect("db").filter_map(Result::ok) {
                if f.path().extension().is_some_and(|e| e == "iso") {
                    check_fvc(&f.path());
                    n += 1;
                }
            }
        }
        assert_eq!(n, 320);
    }

    fn sample() -> MinutiaeRecord {
        MinutiaeRecord {
            width: 300,
            height: 400,
            x_resolution: 197,
            y_resolution: 197,
            finger_position: 6,
            impression_type: 0,
            quality: 80,
            minutiae: (0..30u16)
                .map(|i| Minutia { kind: MinutiaKind::from_bits((i % 3) as u8), x: 10 + i * 9, y: 390 - i * 11, angle: (i * 8) as u8, quality: 50 + i as u8 })
                .collect(),
        }
    }

    #[test]
    fn header_forms_and_extensions() {
        let rec = sample();
        let iso = rec.to_bytes();
        assert_eq!(MinutiaeRecord::parse(&iso).expect("iso"), rec);

        // ANSI 378 short header: 2-byte length + 4-byte CBEFF product id.
        let mut ansi = iso[..8].to_vec();
        let body = &iso[12..];
        let total = 8 + 2 + 4 + body.len();
        ansi.extend_from_slice(&(total as u16).to_be_bytes());
        ansi.extend_from_slice(&[0xAB, 0xCD, 0x00, 0x01]);
        ansi.extend_from_slice(body);
        assert_eq!(MinutiaeRecord::parse(&ansi).expect("ansi short"), rec);
        // ANSI 378 long header: 0000 + 4-byte length + product id.
        let mut ansi_long = iso[..8].to_vec();
        ansi_long.extend_from_slice(&[0, 0]);
        ansi_long.extend_from_slice(&((8 + 6 + 4 + body.len()) as u32).to_be_bytes());
        ansi_long.extend_from_slice(&[0xAB, 0xCD, 0x00, 0x01]);
        ansi_long.extend_from_slice(body);
        assert_eq!(MinutiaeRecord::parse(&ansi_long).expect("ansi long"), rec);

        // Two views with extension blocks (ridge count area, core/delta area), both skipped.
        let mut two = iso[..iso.len() - 2].to_vec();
        two[22] = 2;
        let ext = [0x00, 0x01, 0x00, 0x08, 0x00, 1, 2, 3, 0x00, 0x02, 0x00, 0x05, 0x41];
        two.extend_from_slice(&(ext.len() as u16).to_be_bytes());
        two.extend_from_slice(&ext);
        two.extend_from_slice(&[1, 0x12, 33, 1]);
        two.extend_from_slice(&Minutia { kind: MinutiaKind::RidgeEnding, x: 5, y: 6, angle: 7, quality: 8 }.to_bytes());
        two.extend_from_slice(&[0, 0]);
        let len = two.len() as u32;
        two[8..12].copy_from_slice(&len.to_be_bytes());
        let all = MinutiaeRecord::parse_all(&two).expect("two views");
        assert_eq!(all.len(), 2);
        assert_eq!(all[0], rec);
        assert_eq!((all[1].finger_position, all[1].impression_type, all[1].quality, all[1].minutiae.len()), (1, 2, 33, 1));
        assert_eq!(MinutiaeRecord::parse(&two).expect("first"), rec);

        // Lenient: wrong record length field, missing extended data length, overlong block.
        let mut wrong_len = iso.clone();
        wrong_len[11] ^= 0x55;
        assert_eq!(MinutiaeRecord::parse(&wrong_len).expect("lenient length"), rec);
        assert_eq!(MinutiaeRecord::parse(&iso[..iso.len() - 2]).expect("no ext length"), rec);
        let mut overlong = iso.clone();
        let n = overlong.len();
        overlong[n - 1] = 200;
        assert_eq!(MinutiaeRecord::parse(&overlong).expect("overlong ext"), rec);
    }

    #[test]
    fn malformed_records() {
        let iso = sample().to_bytes();
        assert!(matches!(MinutiaeRecord::parse(b"FMR"), Err(Iso19794Error::BadMagic { .. })));
        assert!(matches!(MinutiaeRecord::parse(b"FIR\0 20\0"), Err(Iso19794Error::BadMagic { .. })));
        let mut v = iso.clone();
        v[5] = b'3';
        assert!(matches!(MinutiaeRecord::parse(&v), Err(Iso19794Error::BadVersion { .. })));
        // Minutiae truncated: the error names the offset of the minutiae.
        assert!(matches!(MinutiaeRecord::parse(&iso[..40]), Err(Iso19794Error::Truncated { what: "minutiae", offset: 28, needed: 180, available: 12 })));
        assert!(matches!(MinutiaeRecord::parse(&iso[..19]), Err(Iso19794Error::Truncated { what: "x resolution", offset: 18, .. })));
        let mut v = iso.clone();
        v[22] = 0;
        assert!(matches!(MinutiaeRecord::parse(&v), Err(Iso19794Error::Invalid { what: "number of finger views", offset: 22, .. })));
        let mut v = iso.clone();
        v[24] = 11;
        assert!(matches!(MinutiaeRecord::parse(&v), Err(Iso19794Error::Invalid { what: "finger position", offset: 24, .. })));
        // A second view that is announced but absent is an error for parse_all.
        let mut v = iso.clone();
        v[22] = 2;
        assert!(matches!(MinutiaeRecord::parse_all(&v), Err(Iso19794Error::Truncated { what: "finger position", .. })));
        assert!(MinutiaeRecord::parse(&v).is_ok());
    }

    #[test]
    fn compact_format() {
        let ms = vec![
            Minutia { kind: MinutiaKind::RidgeEnding, x: 197, y: 394, angle: 64, quality: 60 },
            Minutia { kind: MinutiaKind::Bifurcation, x: 0, y: 10, angle: 255, quality: 60 },
            Minutia { kind: MinutiaKind::Other, x: 600, y: 10, angle: 0, quality: 60 }, // 30.5 mm: dropped
        ];
        let c = to_compact(&ms, 197);
        // Sorted by y: (0, 5) first, then (100, 200); 197 px at 197 px/cm = 1 cm = 100 units.
        assert_eq!(c, vec![0, 5, 0x80, 100, 200, 0x40 | 16]);
        let back = from_compact(&c, 197);
        assert_eq!(back.len(), 2);
        assert_eq!((back[1].x, back[1].y, back[1].angle, back[1].kind), (197, 394, 64, MinutiaKind::RidgeEnding));
        assert_eq!((back[0].x, back[0].y, back[0].angle), (0, 10, 0));
        assert!(to_compact(&ms, 0).is_empty());
        assert_eq!(from_compact(&[1, 2], 197), vec![]);

        // More than 40: the 40 best by quality are kept.
        let many: Vec<Minutia> =
            (0..60u16).map(|i| Minutia { kind: MinutiaKind::RidgeEnding, x: 10 + i * 3, y: 20 + i, angle: 0, quality: i as u8 }).collect();
        let c = to_compact(&many, 197);
        assert_eq!(c.len(), 3 * COMPACT_MAX_MINUTIAE);
        let kept = from_compact(&c, 197);
        assert!(kept.iter().all(|m| m.y >= 20 + 20 - 1), "low-quality minutiae (i < 20) dropped");
    }

    proptest! {
        #[test]
        fn parse_never_panics(data in proptest::collection::vec(any::<u8>(), 0..400), fmr in any::<bool>()) {
            let mut d = data;
            if fmr && d.len() >= 8 {
                d[..8].copy_from_slice(b"FMR\0 20\0");
            }
            let _ = MinutiaeRecord::parse(&d);
            let _ = MinutiaeRecord::parse_all(&d);
            let _ = from_compact(&d, 197);
        }

        #[test]
        fn mutated_fixture_never_panics(i in 0usize..16, pos in 0usize..400, b in any::<u8>(), cut in 0usize..400) {
            let files = fixture_files();
            let mut bytes = std::fs::read(&files[i % files.len()]).expect("fixture");
            let n = bytes.len();
            bytes[pos % n] = b;
            bytes.truncate(cut.max(1) % (n + 1));
            let _ = MinutiaeRecord::parse_all(&bytes);
        }

        #[test]
        fn record_round_trips(ms in proptest::collection::vec((0u8..3, 0u16..0x3FFF, 0u16..0x3FFF, any::<u8>(), 0u8..=100), 0..120),
                              w in any::<u16>(), h in any::<u16>(), pos in 0u8..=10, q in 0u8..=100) {
            let rec = MinutiaeRecord {
                width: w, height: h, x_resolution: 197, y_resolution: 197, finger_position: pos, impression_type: 0, quality: q,
                minutiae: ms.iter().map(|&(k, x, y, a, mq)| Minutia { kind: MinutiaKind::from_bits(k), x, y, angle: a, quality: mq }).collect(),
            };
            prop_assert_eq!(MinutiaeRecord::parse(&rec.to_bytes()).map_err(|e| TestCaseError::fail(e.to_string()))?, rec);
        }

        #[test]
        fn compact_round_trip_is_close(ms in proptest::collection::vec((1u8..3, 0u16..500, 0u16..500, any::<u8>()), 0..40)) {
            let ms: Vec<Minutia> = ms.iter().map(|&(k, x, y, a)| Minutia { kind: MinutiaKind::from_bits(k), x, y, angle: a, quality: 0 }).collect();
            let back = from_compact(&to_compact(&ms, 197), 197);
            prop_assert_eq!(back.len(), ms.len());
            for b in &back {
                // Each decoded minutia is within quantisation of some input minutia.
                prop_assert!(ms.iter().any(|m| m.kind == b.kind && m.x.abs_diff(b.x) <= 1 && m.y.abs_diff(b.y) <= 1
                    && (i16::from(m.angle as i8) - i16::from(b.angle as i8)).rem_euclid(256).min((i16::from(b.angle as i8) - i16::from(m.angle as i8)).rem_euclid(256)) <= 2));
            }
        }
    }
}

//! ISO/IEC 19794-2:2005 finger minutiae records ("FMR\0", version " 20\0"): parsing of untrusted
//! bytes into [`MinutiaeRecord`], encoding back, and the 6-byte minutia form shared with the chip's
//! fingerprint slot. Never panics; every error names the offset and what is wrong.

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

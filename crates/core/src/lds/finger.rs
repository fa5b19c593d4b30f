//! DG3 (tag 63 / 7F61 / 02 count / 7F60 each / A1 header / 5F2E): the fingerprint slots of the
//! resident card, 512 bytes each (chip-profile.md: 'C', result, finger code, quality, up to 83
//! ISO/IEC 19794-2:2005 minutiae, zero padding, CRC-8). Parsing and writing.

use std::fmt;

use super::{field_err, tlv_err, FileId, LdsError};
use crate::biometrics::Minutia;
use crate::tlv;

const F: FileId = FileId::Dg3;

/// Registration result byte of a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SlotResult {
    /// 0x01
    Ok,
    /// 0x02
    Failed,
    /// 0x03
    NotRegistered,
    /// 0x09
    Unknown,
    /// Any other value, kept as found.
    Other(u8),
}

impl SlotResult {
    pub fn from_byte(b: u8) -> SlotResult {
        match b {
            0x01 => SlotResult::Ok,
            0x02 => SlotResult::Failed,
            0x03 => SlotResult::NotRegistered,
            0x09 => SlotResult::Unknown,
            other => SlotResult::Other(other),
        }
    }

    pub fn to_byte(self) -> u8 {
        match self {
            SlotResult::Ok => 0x01,
            SlotResult::Failed => 0x02,
            SlotResult::NotRegistered => 0x03,
            SlotResult::Unknown => 0x09,
            SlotResult::Other(b) => b,
        }
    }
}

/// One 512-byte fingerprint slot. Debug prints the minutiae as REDACTED.
#[derive(Clone, PartialEq, Eq)]
pub struct FingerSlot {
    pub result: SlotResult,
    /// 11-15 right thumb..little, 16-20 left thumb..little, 97 right unknown, 98 left unknown,
    /// 99 unknown.
    pub finger_code: u8,
    /// 0 unknown, else 1-100.
    pub quality: u8,
    /// Pixels at 500 dpi, as in ISO/IEC 19794-2:2005.
    pub minutiae: Vec<Minutia>,
}

impl fmt::Debug for FingerSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FingerSlot")
            .field("result", &self.result)
            .field("finger_code", &self.finger_code)
            .field("quality", &self.quality)
            .field("minutiae", &format_args!("{} REDACTED", self.minutiae.len()))
            .finish()
    }
}

/// CRC-8 as used by the slot: polynomial 0x07, initial value 0, no reflection, no final xor.
pub fn crc8(data: &[u8]) -> u8 {
    let mut crc = 0u8;
    for &b in data {
        crc ^= b;
        for _ in 0..8 {
            crc = if crc & 0x80 != 0 { (crc << 1) ^ 0x07 } else { crc << 1 };
        }
    }
    crc
}

/// Slot finger code of an ISO/IEC 19794-2 finger position: 1-10 map to 11-20, 0 (unknown) to 99.
pub fn finger_code_from_iso_position(position: u8) -> Option<u8> {
    match position {
        0 => Some(99),
        1..=10 => Some(position + 10),
        _ => None,
    }
}

/// ISO/IEC 19794-2 finger position of a slot finger code: 11-20 map to 1-10, 97-99 to 0.
pub fn iso_position_from_finger_code(code: u8) -> Option<u8> {
    match code {
        11..=20 => Some(code - 10),
        97..=99 => Some(0),
        _ => None,
    }
}

impl FingerSlot {
    /// Size of a slot.
    pub const LEN: usize = 512;
    /// Most minutiae a slot holds.
    pub const MAX_MINUTIAE: usize = 83;

    /// Parse one slot. Offsets in errors count from the start of the slot.
    pub fn from_bytes(slot: &[u8]) -> Result<FingerSlot, LdsError> {
        parse_slot(slot, 0)
    }

    /// Encode the slot with its CRC. At most [`Self::MAX_MINUTIAE`] minutiae are written (the
    /// rest are dropped; [`encode_dg3`] refuses such a slot instead).
    pub fn to_bytes(&self) -> [u8; 512] {
        let mut out = [0u8; 512];
        out[0] = 0x43;
        out[4] = self.result.to_byte();
        out[5] = self.finger_code;
        out[6] = self.quality;
        let n = self.minutiae.len().min(Self::MAX_MINUTIAE);
        out[7] = n as u8;
        for (chunk, m) in out[8..8 + 6 * n].chunks_exact_mut(6).zip(&self.minutiae) {
            chunk.copy_from_slice(&m.to_bytes());
        }
        out[511] = crc8(&out[..511]);
        out
    }
}

/// Parse a slot located at file offset `base`.
fn parse_slot(slot: &[u8], base: usize) -> Result<FingerSlot, LdsError> {
    if slot.len() != FingerSlot::LEN {
        return Err(field_err(F, "fingerprint slot", Some(base), format!("is {} bytes, expected 512", slot.len())));
    }
    let byte = |i: usize| slot.get(i).copied().unwrap_or(0);
    if byte(0) != 0x43 {
        return Err(field_err(F, "slot marker", Some(base), format!("expected 43 ('C'), found {:02X}", byte(0))));
    }
    if let Some(i) = (1..4).find(|&i| byte(i) != 0) {
        return Err(field_err(F, "slot reserved bytes", Some(base + i), format!("expected 00, found {:02X}", byte(i))));
    }
    let n = usize::from(byte(7));
    if n > FingerSlot::MAX_MINUTIAE {
        return Err(field_err(F, "minutiae count", Some(base + 7), format!("{n} is more than {}", FingerSlot::MAX_MINUTIAE)));
    }
    let crc = crc8(slot.get(..511).unwrap_or(&[]));
    if crc != byte(511) {
        return Err(field_err(F, "slot CRC-8", Some(base + 511), format!("stored {:02X}, computed {crc:02X}", byte(511))));
    }
    let end = 8 + 6 * n;
    if let Some(i) = (end..511).find(|&i| byte(i) != 0) {
        return Err(field_err(F, "slot padding", Some(base + i), format!("expected 00 after {n} minutiae, found {:02X}", byte(i))));
    }
    let minutiae = slot
        .get(8..end)
        .unwrap_or(&[])
        .chunks_exact(6)
        .map(|c| Minutia::from_bytes([c[0], c[1], c[2], c[3], c[4], c[5]]))
        .collect();
    Ok(FingerSlot { result: SlotResult::from_byte(byte(4)), finger_code: byte(5), quality: byte(6), minutiae })
}

/// Header template of a DG3 slot: ICAO header version 0101, biometric type 08 (finger), format
/// owner 0101, format type 0007 (as the national chips write it).
fn slot_header() -> Vec<u8> {
    [tlv::encode(0x80, &[1, 1]), tlv::encode(0x81, &[0x08]), tlv::encode(0x87, &[1, 1]), tlv::encode(0x88, &[0, 7])].concat()
}

/// DG3 holding `slots` in order. Refuses a slot with more than 83 minutiae.
pub fn encode_dg3(slots: &[FingerSlot]) -> Result<Vec<u8>, LdsError> {
    if slots.is_empty() || slots.len() > 255 {
        return Err(field_err(F, "number of instances (02)", None, format!("{} slots, expected 1 to 255", slots.len())));
    }
    let mut children = vec![tlv::encode(0x02, &[slots.len() as u8])];
    for (i, s) in slots.iter().enumerate() {
        if s.minutiae.len() > FingerSlot::MAX_MINUTIAE {
            return Err(field_err(F, "minutiae count", None, format!("slot {} has {} minutiae, at most 83 fit", i + 1, s.minutiae.len())));
        }
        children.push(tlv::encode_seq(0x7F60, &[tlv::encode(0xA1, &slot_header()), tlv::encode(0x5F2E, &s.to_bytes())]));
    }
    Ok(tlv::encode(0x63, &tlv::encode_seq(0x7F61, &children)))
}

/// Parse DG3 into its slots, in file order.
pub fn parse_dg3(bytes: &[u8]) -> Result<Vec<FingerSlot>, LdsError> {
    let top = tlv::parse_single(bytes, 0x63).map_err(tlv_err(F))?;
    let group = top.children().expect(0x7F61).map_err(tlv_err(F))?;
    let mut r = group.children();
    let count_tlv = r.expect(0x02).map_err(tlv_err(F))?;
    let count = match count_tlv.value {
        [n] => usize::from(*n),
        [a, b] => usize::from(*a) << 8 | usize::from(*b),
        v => return Err(field_err(F, "number of instances (02)", Some(count_tlv.value_offset), format!("{v:02X?} is not a count"))),
    };
    let mut slots = Vec::new();
    while !r.is_empty() {
        let t = r.next_tlv().map_err(tlv_err(F))?;
        if t.tag != 0x7F60 {
            return Err(field_err(F, "biometric information template", Some(t.offset), format!("expected tag 7F60, found {:X}", t.tag)));
        }
        let mut tr = t.children();
        tr.expect(0xA1).map_err(tlv_err(F))?;
        let bdb = tr.expect(0x5F2E).map_err(tlv_err(F))?;
        if !tr.is_empty() {
            return Err(field_err(F, "biometric information template", Some(tr.offset()), "unexpected data after the biometric data block"));
        }
        slots.push(parse_slot(bdb.value, bdb.value_offset)?);
    }
    if slots.len() != count {
        return Err(field_err(F, "number of instances (02)", Some(count_tlv.value_offset), format!("says {count} but the group holds {} slots", slots.len())));
    }
    Ok(slots)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::biometrics::MinutiaKind;

    fn slot(n: usize) -> FingerSlot {
        FingerSlot {
            result: SlotResult::Ok,
            finger_code: 11,
            quality: 70,
            minutiae: (0..n)
                .map(|i| Minutia {
                    kind: if i % 2 == 0 { MinutiaKind::RidgeEnding } else { MinutiaKind::Bifurcation },
                    x: (i * 5) as u16,
                    y: (400 - i) as u16,
                    angle: (i * 3) as u8,
                    quality: 60,
                })
                .collect(),
        }
    }

    #[test]
    fn crc8_reference_values() {
        // CRC-8/SMBUS check value over "123456789".
        assert_eq!(crc8(b"123456789"), 0xF4);
        assert_eq!(crc8(&[]), 0);
    }

    #[test]
    fn round_trips() {
        for n in [0, 1, 57, 83] {
            let s = slot(n);
            let b = s.to_bytes();
            assert_eq!(FingerSlot::from_bytes(&b).expect("parses"), s);
        }
        let slots = vec![slot(40), FingerSlot { result: SlotResult::NotRegistered, finger_code: 16, quality: 0, minutiae: vec![] }];
        let dg3 = encode_dg3(&slots).expect("encodes");
        assert_eq!(parse_dg3(&dg3).expect("parses"), slots);
        assert!(encode_dg3(&[slot(84)]).is_err());
        assert!(encode_dg3(&[]).is_err());
        for r in [1u8, 2, 3, 9, 0, 7, 255] {
            assert_eq!(SlotResult::from_byte(r).to_byte(), r);
        }
        assert_eq!(finger_code_from_iso_position(1), Some(11));
        assert_eq!(finger_code_from_iso_position(6), Some(16));
        assert_eq!(iso_position_from_finger_code(20), Some(10));
        assert_eq!(iso_position_from_finger_code(5), None);
    }

    #[test]
    fn malformed_slots_name_the_offset() {
        let good = slot(10).to_bytes();
        let fix_crc = |b: &mut [u8; 512]| b[511] = crc8(&b[..511]);
        let mut b = good;
        b[0] = 0x44;
        fix_crc(&mut b);
        assert!(matches!(FingerSlot::from_bytes(&b), Err(LdsError::Field { field: "slot marker", offset: Some(0), .. })));
        let mut b = good;
        b[2] = 1;
        fix_crc(&mut b);
        assert!(matches!(FingerSlot::from_bytes(&b), Err(LdsError::Field { field: "slot reserved bytes", offset: Some(2), .. })));
        let mut b = good;
        b[7] = 84;
        fix_crc(&mut b);
        assert!(matches!(FingerSlot::from_bytes(&b), Err(LdsError::Field { field: "minutiae count", offset: Some(7), .. })));
        let mut b = good;
        b[100] ^= 0x10;
        assert!(matches!(FingerSlot::from_bytes(&b), Err(LdsError::Field { field: "slot CRC-8", offset: Some(511), .. })));
        let mut b = good;
        b[300] = 5;
        fix_crc(&mut b);
        assert!(matches!(FingerSlot::from_bytes(&b), Err(LdsError::Field { field: "slot padding", offset: Some(300), .. })));
        assert!(matches!(FingerSlot::from_bytes(&good[..511]), Err(LdsError::Field { field: "fingerprint slot", .. })));

        // Inside DG3 the offsets are file offsets.
        let dg3 = encode_dg3(&[slot(3), slot(4)]).expect("encodes");
        let second = dg3.windows(4).enumerate().filter(|(_, w)| *w == [0x5F, 0x2E, 0x82, 0x02]).nth(1).map(|(i, _)| i + 5).expect("slot 2");
        let mut bad = dg3.clone();
        bad[second + 511] ^= 1;
        match parse_dg3(&bad) {
            Err(LdsError::Field { file: FileId::Dg3, field: "slot CRC-8", offset: Some(o), .. }) => assert_eq!(o, second + 511),
            other => panic!("unexpected {other:?}"),
        }
        let mut bad = dg3.clone();
        let count_at = dg3.windows(3).position(|w| w == [0x02, 0x01, 0x02]).expect("count") + 2;
        bad[count_at] = 3;
        assert!(matches!(parse_dg3(&bad), Err(LdsError::Field { field: "number of instances (02)", offset: Some(o), .. }) if o == count_at));
    }
}

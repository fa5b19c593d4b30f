//! Fuzzes the chip image parsers of `idcheck_core::lds`. The first byte picks the parser (EF.COM,
//! DG1, DG2, DG3, DG11, DG12, DG13, or one DG3 slot); the rest is the file. A parse that
//! succeeds must re-encode to a parse-equal value (the writers round-trip exactly), and Debug
//! of every result must not panic. The slot mode pads or cuts the input to 512 bytes and writes
//! the right CRC-8, so the fuzzer gets past the checksum into the slot's fields.
#![no_main]

use idcheck_core::lds::{
    self, crc8, encode_dg1, encode_dg11, encode_dg12, encode_dg13, encode_dg2_with, encode_dg3, parse_com, parse_dg1,
    parse_dg11, parse_dg12, parse_dg13, parse_dg2_full, parse_dg3, FileId, FingerSlot,
};
use libfuzzer_sys::fuzz_target;

#[path = "common/sample.rs"]
mod sample;
use sample::sample_chip;


fuzz_target!(|data: &[u8]| {
    let Some((&sel, bytes)) = data.split_first() else { return };
    match sel % 9 {
        0 => {
            if let Ok(v) = parse_com(bytes) {
                assert_eq!(parse_com(&v.to_bytes()).ok(), Some(v));
            }
        }
        1 => {
            if let Ok(v) = parse_dg1(bytes) {
                let _ = v.lines();
                let _ = v.mrz_information();
                let _ = v.citizen_id();
                assert_eq!(parse_dg1(&encode_dg1(&v)).ok(), Some(v));
            }
        }
        2 => {
            if let Ok((f, i)) = parse_dg2_full(bytes) {
                let _ = format!("{f:?} {i:?}");
                assert_eq!(parse_dg2_full(&encode_dg2_with(&f, &i)).ok(), Some((f, i)));
            }
        }
        3 => {
            if let Ok(v) = parse_dg3(bytes) {
                let _ = format!("{v:?}");
                assert_eq!(encode_dg3(&v).ok().and_then(|b| parse_dg3(&b).ok()), Some(v));
            }
        }
        4 => {
            if let Ok(v) = parse_dg11(bytes) {
                assert_eq!(parse_dg11(&encode_dg11(&v)).ok(), Some(v));
            }
        }
        5 => {
            if let Ok(v) = parse_dg12(bytes) {
                assert_eq!(parse_dg12(&encode_dg12(&v)).ok(), Some(v));
            }
        }
        6 => {
            if let Ok(v) = parse_dg13(bytes) {
                let _ = (v.birth_date(), v.valid_from_date(), v.valid_until_value());
                assert_eq!(encode_dg13(&v).ok().and_then(|b| parse_dg13(&b).ok()), Some(v));
            }
        }
        7 => {
            let mut slot = bytes.to_vec();
            slot.resize(FingerSlot::LEN, 0);
            slot[511] = crc8(&slot[..511]);
            if let Ok(s) = FingerSlot::from_bytes(&slot) {
                let _ = format!("{s:?}");
                assert_eq!(FingerSlot::from_bytes(&s.to_bytes()).ok(), Some(s));
            }
            let _ = FingerSlot::from_bytes(bytes);
        }
        _ => {
            // A whole chip image: the file picked by the next byte replaced by the rest.
            let Some((&which, file)) = bytes.split_first() else { return };
            let mut image = sample_chip();
            image.insert(FileId::ALL[usize::from(which) % FileId::ALL.len()], file.to_vec());
            let _ = lds::check_mandatory_resident(&image);
            let _ = format!("{:?}", lds::parse_chip(&image));
        }
    }
});

//! Fuzzes `idcheck_core::lds::parse_dg15` (tag 6F wrapping the Active Authentication
//! SubjectPublicKeyInfo). Oracles: the key kept is a SEQUENCE spanning the 6F value (the input
//! may only add 00 / FF padding after it); writing it back gives a parse-equal DG15.
#![no_main]

use idcheck_core::lds::{encode_dg15, parse_dg15};
use idcheck_core::tlv::Reader;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(dg15) = parse_dg15(data) else { return };
    let _ = format!("{dg15:?}");
    assert_eq!(dg15.spki_der.first(), Some(&0x30));
    let outer = Reader::new(data).next_tlv().ok().map(|t| t.value);
    assert_eq!(outer, Some(&dg15.spki_der[..]), "the key is the whole 6F value");
    let bytes = encode_dg15(&dg15.spki_der);
    assert_eq!(parse_dg15(&bytes).ok(), Some(dg15));
});

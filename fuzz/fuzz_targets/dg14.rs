//! Fuzzes `idcheck_core::lds::parse_dg14` (tag 6E wrapping the SET OF SecurityInfo) and the
//! Chip Authentication pairing of its keys and infos. Oracles: a parse re-encodes to a
//! parse-equal value; every CA pair agrees on the key agreement and, when both carry a keyId, on
//! the keyId; the SET inside the written DG14 parses as EF.CardAccess to the same infos.
#![no_main]

use idcheck_core::lds::{encode_card_access, encode_dg14, parse_card_access, parse_dg14};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(infos) = parse_dg14(data) else { return };
    let _ = format!("{infos:?}");
    let keys = infos.chip_authentication_public_keys().count();
    let pairs = infos.chip_authentication();
    assert!(pairs.len() <= infos.chip_authentication_infos().count().max(keys));
    for (info, key) in &pairs {
        assert_eq!(info.agreement, key.agreement, "a CA pair mixes DH and ECDH");
        if let (Some(a), Some(b)) = (info.key_id, key.key_id) {
            if infos.chip_authentication_public_keys().any(|k| k.key_id == Some(a) && k.agreement == info.agreement) {
                assert_eq!(a, b, "a keyed info paired with another key than its own");
            }
        }
    }
    let _ = infos.active_authentication();
    let bytes = encode_dg14(&infos);
    assert_eq!(parse_dg14(&bytes).ok().as_ref(), Some(&infos), "a written DG14 parses to what was written");
    assert_eq!(parse_card_access(&encode_card_access(&infos)).ok(), Some(infos));
});

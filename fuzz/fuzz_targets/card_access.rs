//! Fuzzes `idcheck_core::lds::parse_card_access` (EF.CardAccess, a bare SET OF SecurityInfo) and
//! the SecurityInfos queries PACE and CA use (`pace`, `pace_domain_parameters`,
//! `chip_authentication_domain_parameters`, `chip_authentication`, `active_authentication`).
//! Oracles: a parse re-encodes to a parse-equal value (so its encoding is a fixed point); the
//! same SET wrapped as DG14 parses to the same infos; every CA pair agrees on the key agreement;
//! Debug and every query of the result work.
#![no_main]

use idcheck_core::lds::{encode_card_access, encode_dg14, parse_card_access, parse_dg14, SecurityInfo};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(infos) = parse_card_access(data) else { return };
    let _ = format!("{infos:?}");
    for p in infos.pace() {
        let _ = (p.protocol.to_string(), p.protocol.oid());
        let _ = infos.pace_domain_parameters(p.parameter_id);
    }
    let _ = infos.pace_domain_parameters(None);
    let _ = infos.chip_authentication_domain_parameters(None);
    for (info, key) in infos.chip_authentication() {
        assert_eq!(info.agreement, key.agreement, "a CA pair mixes DH and ECDH");
        let _ = (info.to_string(), info.effective_cipher());
    }
    let _ = infos.active_authentication();
    let _: Vec<String> = infos.infos.iter().map(SecurityInfo::oid).collect();
    let bytes = encode_card_access(&infos);
    let again = parse_card_access(&bytes);
    assert_eq!(again.as_ref().ok(), Some(&infos), "a written EF.CardAccess parses to what was written");
    assert_eq!(parse_dg14(&encode_dg14(&infos)).ok(), Some(infos));
});

//! Fuzzes EF.SOD and X.509 parsing in `idcheck_core::pki`: `Sod::parse` followed by the whole
//! passive authentication against the sample card's data groups and trust anchor (so a mutated
//! SOD that still parses reaches hash comparison, signer lookup and signature verification with
//! hostile keys), `Certificate::parse` with its accessors and a self-signature check, and the
//! PEM / DER certificate file reader. The first byte picks the mode.
#![no_main]

use std::sync::OnceLock;

use idcheck_core::pki::trust::read_certificates;
use idcheck_core::pki::{passive_authentication, Certificate, Sod, TrustStore};
use libfuzzer_sys::fuzz_target;

const CSCA_PEM: &[u8] = include_bytes!("../../fixtures/samples/trust/csca.pem");
const DG1: &[u8] = include_bytes!("../../fixtures/samples/pass-case/chip/dg1.bin");
const DG2: &[u8] = include_bytes!("../../fixtures/samples/pass-case/chip/dg2.bin");
const DG3: &[u8] = include_bytes!("../../fixtures/samples/pass-case/chip/dg3.bin");
const DG11: &[u8] = include_bytes!("../../fixtures/samples/pass-case/chip/dg11.bin");
const DG12: &[u8] = include_bytes!("../../fixtures/samples/pass-case/chip/dg12.bin");
const DG13: &[u8] = include_bytes!("../../fixtures/samples/pass-case/chip/dg13.bin");

fn trust() -> &'static TrustStore {
    static T: OnceLock<TrustStore> = OnceLock::new();
    T.get_or_init(|| TrustStore::from_certs(read_certificates(CSCA_PEM).unwrap_or_default()))
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, bytes)) = data.split_first() else { return };
    match sel % 3 {
        0 => {
            if let Ok(sod) = Sod::parse(bytes) {
                let _ = format!("{sod:?}");
                let _ = sod.signer_certificate();
            }
            let dgs: [(u8, &[u8]); 6] = [(1, DG1), (2, DG2), (3, DG3), (11, DG11), (12, DG12), (13, DG13)];
            let day = time::macros::date!(2024 - 04 - 08);
            let _ = format!("{:?}", passive_authentication(bytes, &dgs, trust(), Some(day)));
        }
        1 => {
            if let Ok(cert) = Certificate::parse(bytes) {
                let _ = format!("{cert:?}");
                let _ = (cert.serial_hex(), cert.is_ca(), cert.is_valid_on(time::macros::date!(2024 - 04 - 08)));
                let _ = cert.verify_signed_by(&cert);
                for anchor in trust().certificates() {
                    let _ = cert.names_issuer(anchor);
                    let _ = cert.verify_signed_by(anchor);
                }
            }
        }
        _ => {
            let _ = read_certificates(bytes);
        }
    }
});

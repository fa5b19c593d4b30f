//! Fuzzes CRL parsing in `idcheck_core::pki`: `Crl::parse` with its accessors and a signature
//! check against the test PKI's CSCA, `read_crls` (DER or PEM `X509 CRL`), and what the trust
//! directory does with a CRL (`trust_dir::crl_signer`, `crl_file`, `annotated_blocks`). The
//! first byte picks the mode: 0 the input as a DER CRL; 1 the test PKI's CRL with the input
//! applied as edits (pairs of offset byte, value), so mutated CRLs reach every field and the
//! signature check; 2 the input as a CRL file's text.
//! Oracle: an edited CRL whose signature still verifies has the original tbsCertList.
#![no_main]

use std::sync::OnceLock;

use idcheck_core::pki::trust::read_crls;
use idcheck_core::pki::trust_dir::{self, annotated_blocks, Origin};
use idcheck_core::pki::{Crl, TrustStore};
use idcheck_testkit::testpki::TestPki;
use libfuzzer_sys::fuzz_target;

struct Fixture {
    pki: TestPki,
    store: TrustStore,
    crl: Vec<u8>,
    tbs: Vec<u8>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let pki = TestPki::generate(9, "FZ");
        let t = time::macros::datetime!(2026-01-01 00:00:00 UTC);
        let crl = pki.issue_crl(&[(&pki.ds.serial, t), (&[0x01, 0x02], t)], t, t + time::Duration::days(30), 5).unwrap_or_default();
        let tbs = Crl::parse(&crl).map(|c| c.tbs).unwrap_or_default();
        Fixture { store: pki.trust_store(), pki, crl, tbs }
    })
}

fn exercise(bytes: &[u8]) -> Option<Crl> {
    let f = fixture();
    let crl = Crl::parse(bytes).ok()?;
    assert_eq!(crl.der, bytes, "a parsed CRL spans its input");
    let _ = format!("{crl:?}");
    let _ = (crl.names_issuer(&f.pki.csca), crl.revocation_of(&f.pki.ds), crl.verify_signed_by(&f.pki.csca));
    let _ = trust_dir::crl_signer(&crl, &f.store);
    let origin = Origin {
        kind: trust_dir::FROM_CRL.into(),
        source: "fuzz".into(),
        source_sha256: String::new(),
        signer: crl.issuer.text.clone(),
        imported: String::new(),
        imported_by: String::new(),
    };
    let file = trust_dir::crl_file(&crl, &origin);
    let back = read_crls(file.text.as_bytes());
    assert_eq!(back.as_ref().ok().and_then(|b| b.first()).map(|c| &c.der), Some(&crl.der), "a written crl file reads back");
    Some(crl)
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, bytes)) = data.split_first() else { return };
    match sel % 3 {
        0 => {
            exercise(bytes);
        }
        1 => {
            let f = fixture();
            let mut crl = f.crl.clone();
            for e in bytes.chunks_exact(2) {
                let at = usize::from(e[0]) * crl.len() / 256;
                if let Some(b) = crl.get_mut(at) {
                    *b = e[1];
                }
            }
            if let Some(c) = exercise(&crl) {
                if c.verify_signed_by(&f.pki.csca).is_ok() {
                    assert_eq!(c.tbs, f.tbs, "an edited tbsCertList verified");
                }
            }
        }
        _ => {
            let _ = read_crls(bytes);
            let _ = annotated_blocks(&String::from_utf8_lossy(bytes));
        }
    }
});

//! Fuzzes ICAO master list parsing in `idcheck_core::pki`: `MasterList::parse` (the CMS envelope
//! of `pki::cms`, the CscaMasterList and every listed certificate), `MasterList::verify` against
//! a trust store and a pinned certificate, and the import plan (`trust_dir::plan_master_list`).
//! The first byte picks the mode: 0 the input as a master list file (DER or BER); 1 a master list
//! of the test PKI with the input applied as edits (pairs of offset byte, value); 2 a master list
//! freshly signed by the test PKI's signer whose certList holds its CSCA and then the input
//! bytes as they are, so hostile certificate encodings reach the certificate parser inside a
//! list whose signature holds.
//! Oracles: in mode 2 a list that parses verifies (its signer is trusted and the signature is
//! honest) and lists the input, as it is, after the CSCA; in mode 1 an edited list that verifies
//! has the original eContent.
#![no_main]

use std::sync::OnceLock;

use idcheck_core::pki::trust_dir::{self, Origin};
use idcheck_core::pki::{MasterList, TrustStore};
use idcheck_testkit::testpki::{MasterListSigner, TestPki};
use libfuzzer_sys::fuzz_target;

struct Fixture {
    pki: TestPki,
    signer: Option<MasterListSigner>,
    store: TrustStore,
    list: Vec<u8>,
    content: Vec<u8>,
}

const AT: time::OffsetDateTime = time::macros::datetime!(2026-01-05 09:00:00 UTC);

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let pki = TestPki::generate(10, "FZ");
        let other = TestPki::generate(11, "FY");
        let signer = pki.master_list_signer(1);
        let list = signer.as_ref().map(|s| s.sign(&[&pki.csca.der, &other.csca.der], AT)).unwrap_or_default();
        let content = MasterList::parse(&list).map(|m| m.signed.e_content).unwrap_or_default();
        Fixture { store: pki.trust_store(), pki, signer, list, content }
    })
}

fn exercise(bytes: &[u8]) -> Option<MasterList> {
    let f = fixture();
    let ml = MasterList::parse(bytes).ok()?;
    let _ = format!("{ml:?}");
    let _ = (ml.distinct(), ml.signer_certificate());
    let _ = ml.verify(&TrustStore::empty(), Some(&f.pki.csca), Some(AT.date()));
    let origin = Origin {
        kind: trust_dir::FROM_MASTER_LIST.into(),
        source: "fuzz".into(),
        source_sha256: String::new(),
        signer: String::new(),
        imported: String::new(),
        imported_by: String::new(),
    };
    let plan = trust_dir::plan_master_list(&ml, &f.store, &origin);
    assert!(plan.add.len() + plan.present + plan.repeated == ml.cscas.len(), "every listed certificate is accounted for");
    Some(ml)
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, bytes)) = data.split_first() else { return };
    let f = fixture();
    match sel % 3 {
        0 => {
            exercise(bytes);
        }
        1 => {
            let mut list = f.list.clone();
            for e in bytes.chunks_exact(2) {
                let at = usize::from(e[0]) * list.len() / 256;
                if let Some(b) = list.get_mut(at) {
                    *b = e[1];
                }
            }
            if let Some(ml) = exercise(&list) {
                if ml.verify(&f.store, None, None).is_ok() {
                    assert_eq!(ml.signed.e_content, f.content, "an edited master list verified");
                }
            }
        }
        _ => {
            let Some(signer) = &f.signer else { return };
            let list = signer.sign(&[&f.pki.csca.der, bytes], AT);
            if let Some(ml) = exercise(&list) {
                assert!(ml.verify(&f.store, None, Some(AT.date())).is_ok(), "an honest list of a trusted signer verifies");
                let rest: Vec<u8> = ml.cscas.iter().skip(1).flat_map(|c| c.der.iter().copied()).collect();
                assert_eq!(rest, bytes, "the input is listed after the csca, as it is");
            }
        }
    }
});

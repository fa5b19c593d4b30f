//! The test PKI's master list writer against the core's reader (`pki::masterlist`), and against
//! openssl: what the station's `pki import-master-list` tests import.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed expectation is the failure

use time::macros::{date, datetime};

use idcheck_core::pki::cms::SignatureFailure;
use idcheck_core::pki::masterlist::{Anchor, MasterListFailure};
use idcheck_core::pki::{MasterList, TrustStore};
use idcheck_testkit::testpki::TestPki;

const SIGNED_AT: time::OffsetDateTime = datetime!(2026-01-05 09:00:00 UTC);

#[test]
fn generated_master_list_parses_and_verifies() {
    let home = TestPki::generate(41, "UT");
    let others = [TestPki::generate(42, "AA"), TestPki::generate(43, "BB")];
    let signer = home.master_list_signer(7).expect("generated pki");
    assert_eq!(signer.cert.issuer, home.csca.subject);
    assert!(signer.cert.subject.text.starts_with("C=UT, O=idcheck test PKI, CN=idcheck test master list signer 7"), "{}", signer.cert.subject.text);
    let certs: Vec<&[u8]> = vec![&others[1].csca.der, &others[0].csca.der, &home.csca.der, &others[0].csca.der];
    let bytes = signer.sign(&certs, SIGNED_AT);
    let ml = MasterList::parse(&bytes).expect("parses");
    assert_eq!(ml.cscas.len(), 4);
    assert_eq!(ml.distinct(), 3);
    assert_eq!(ml.cscas[0].der, others[1].csca.der, "list order kept");
    assert_eq!(ml.signed.signer.signing_time, Some(SIGNED_AT));
    assert_eq!(ml.signed.verify_signer().expect("signature").der, signer.cert.der);

    let store = home.trust_store();
    let v = ml.verify(&store, None, Some(date!(2026 - 01 - 05))).expect("issued by a csca of the store");
    assert_eq!((v.how, v.anchor.der == home.csca.der), (Anchor::TrustStore, true));
    let empty = TrustStore::empty();
    assert_eq!(ml.verify(&empty, Some(&home.csca), None).expect("pinned issuer").how, Anchor::PinnedIssuer);
    assert_eq!(ml.verify(&empty, Some(&signer.cert), None).expect("pinned signer").how, Anchor::PinnedSigner);
    assert!(matches!(ml.verify(&empty, None, None), Err(MasterListFailure::SignerNotTrusted { .. })));
    // Trusting only CSCAs the list carries but not the signer's issuer does not help.
    let e = ml.verify(&TrustStore::from_certs([others[0].csca.clone()]), Some(&others[1].csca), None).expect_err("wrong anchors");
    assert!(e.to_string().contains("is not issued by a csca of the trust store") && e.to_string().contains("neither the pinned"), "{e}");

    // A forged issuer of the same name: its key does not verify the signer, and the error says so.
    let forged = TestPki::generate(41 ^ 0xFFFF, "UT");
    let mut impostor = forged.csca.clone();
    impostor.subject = home.csca.subject.clone();
    impostor.subject_key_id = None;
    let e = ml.verify(&TrustStore::from_certs([impostor]), None, None).expect_err("impostor");
    assert!(e.to_string().contains("the signature does not verify with"), "{e}");

    // Unsigned (no signer certificate embedded) and a flipped signature byte.
    let unembedded = MasterList::parse(&signer.sign_with(&certs, SIGNED_AT, false)).expect("parses");
    assert!(matches!(unembedded.verify(&store, None, None), Err(MasterListFailure::Signature(SignatureFailure::SignerCertificateMissing { .. }))));
    let mut bad = ml.clone();
    bad.signed.signer.signature[8] ^= 1;
    assert!(matches!(bad.verify(&store, None, None), Err(MasterListFailure::Signature(SignatureFailure::SignatureInvalid { .. }))));
    let mut bad = ml.clone();
    bad.signed.e_content[20] ^= 1;
    assert!(matches!(bad.verify(&store, None, None), Err(MasterListFailure::Signature(SignatureFailure::MessageDigestMismatch { .. }))));
    // Outside the signer's validity.
    assert!(matches!(ml.verify(&store, None, Some(date!(2041 - 01 - 01))), Err(MasterListFailure::SignerNotValid { .. })));
}

#[test]
fn a_malformed_certificate_refuses_the_whole_list() {
    let home = TestPki::generate(44, "UT");
    let signer = home.master_list_signer(1).expect("generated pki");
    let not_a_cert = idcheck_core::tlv::encode_seq(0x30, &[idcheck_core::tlv::encode(0x02, &[5])]);
    let bytes = signer.sign(&[&home.csca.der, &not_a_cert], SIGNED_AT);
    let e = MasterList::parse(&bytes).expect_err("refused whole");
    let text = e.to_string();
    assert!(text.starts_with("cscaMasterList.certList at offset ") && text.contains(": certificate 1 at offset "), "{text}");
    // The offset named is where the element is in the file.
    let at: usize = text.split("certificate 1 at offset ").nth(1).and_then(|t| t.split(' ').next()).and_then(|n| n.parse().ok()).expect("offset");
    assert_eq!(bytes.get(at..at + not_a_cert.len()), Some(&not_a_cert[..]));
}

fn openssl_available() -> bool {
    std::process::Command::new("openssl").arg("version").output().is_ok_and(|o| o.status.success())
}

/// openssl verifies the generated master list's CMS signature and its signer's chain to the
/// CSCA, and gives back the same eContent. Skipped (and says so) without openssl.
#[test]
fn openssl_accepts_generated_master_list() {
    if !openssl_available() {
        eprintln!("openssl not found: skipping openssl_accepts_generated_master_list");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let home = TestPki::generate(45, "UT");
    home.save_dir(dir.path()).expect("saves");
    let signer = home.master_list_signer(2).expect("generated pki");
    let bytes = signer.sign(&[&home.csca.der], SIGNED_AT);
    let input = dir.path().join("list.ml");
    std::fs::write(&input, &bytes).expect("write");
    let out = dir.path().join("content.bin");
    let ca = dir.path().join("csca.pem");
    let o = std::process::Command::new("openssl")
        .args(["cms", "-verify", "-inform", "DER", "-binary", "-purpose", "any", "-in"])
        .arg(&input)
        .arg("-CAfile")
        .arg(&ca)
        .arg("-out")
        .arg(&out)
        .output()
        .expect("openssl runs");
    assert!(o.status.success(), "openssl: {}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read(&out).expect("content"), MasterList::parse(&bytes).expect("parses").signed.e_content);
}

mod never_panics {
    use super::*;
    use proptest::prelude::*;
    use std::sync::OnceLock;

    struct Fixture {
        pki: TestPki,
        signer: idcheck_testkit::testpki::MasterListSigner,
        list: Vec<u8>,
        content: Vec<u8>,
    }

    fn fixture() -> &'static Fixture {
        static F: OnceLock<Fixture> = OnceLock::new();
        F.get_or_init(|| {
            let pki = TestPki::generate(46, "PT");
            let other = TestPki::generate(47, "PU");
            let signer = pki.master_list_signer(3).expect("generated");
            let list = signer.sign(&[&pki.csca.der, &other.csca.der], SIGNED_AT);
            let content = MasterList::parse(&list).expect("parses").signed.e_content;
            Fixture { pki, signer, list, content }
        })
    }

    proptest! {
        /// Mutated and cut master lists: no panic; one that still verifies kept its content.
        #[test]
        fn mutated_master_lists(edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8), cut in any::<prop::sample::Index>()) {
            let f = fixture();
            let mut b = f.list.clone();
            for (i, v) in &edits {
                let at = i.index(b.len());
                b[at] = *v;
            }
            if let Ok(ml) = MasterList::parse(&b) {
                let _ = format!("{ml:?}");
                if ml.verify(&f.pki.trust_store(), None, None).is_ok() {
                    prop_assert_eq!(&ml.signed.e_content, &f.content);
                }
            }
            let end = cut.index(b.len());
            let _ = MasterList::parse(&b[..end]);
        }

        /// Any bytes listed after a CSCA in an honestly signed list: a list that parses verifies
        /// and holds the bytes as they are.
        #[test]
        fn hostile_list_elements(bytes in proptest::collection::vec(any::<u8>(), 0..600), mutate in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4)) {
            let f = fixture();
            let mut element = if mutate.is_empty() { bytes } else { f.pki.ds.der.clone() };
            for (i, v) in &mutate {
                let at = i.index(element.len());
                element[at] = *v;
            }
            let list = f.signer.sign(&[&f.pki.csca.der, &element], SIGNED_AT);
            if let Ok(ml) = MasterList::parse(&list) {
                prop_assert!(ml.verify(&f.pki.trust_store(), None, Some(date!(2026 - 01 - 05))).is_ok());
                let rest: Vec<u8> = ml.cscas.iter().skip(1).flat_map(|c| c.der.iter().copied()).collect();
                prop_assert_eq!(rest, element);
            }
        }
    }
}

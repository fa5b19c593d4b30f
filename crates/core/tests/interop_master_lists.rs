//! Real ICAO CSCA master lists (the German BSI list and the Dutch NPKD list that gmrtd ships,
//! fixtures/interop/gmrtd-master-lists/SOURCE.md) through `pki::masterlist`: both parse whole,
//! hold the certificates an independent parser counts, their CMS signatures verify, and their
//! signers chain to the root certificates gmrtd verifies them against — and to nothing else.
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the failure

use std::collections::BTreeMap;
use std::path::PathBuf;

use idcheck_core::pki::alg::signature_name;
use idcheck_core::pki::masterlist::{Anchor, MasterListFailure};
use idcheck_core::pki::trust::read_certificates;
use idcheck_core::pki::{Certificate, MasterList, TrustStore};
use time::macros::date;

fn dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/interop/gmrtd-master-lists"))
}

fn list(name: &str) -> MasterList {
    let bytes = std::fs::read(dir().join(name)).expect("fixture present");
    MasterList::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn cert(name: &str) -> Certificate {
    read_certificates(&std::fs::read(dir().join(name)).expect("fixture present")).expect("one certificate").remove(0)
}

const DE: &str = "DE_ML_2026-05-28-08-28-45.ml";
const NL: &str = "NL_ML_2026-07-22.ml";
const DE_ROOT: &str = "DE_ROOT_CA_CSCA07.cer";
const NL_ROOT: &str = "NL_ROOT_CA.cer";

/// Signature algorithms of the listed certificates, by readable name.
fn tally(ml: &MasterList) -> BTreeMap<String, usize> {
    let mut t = BTreeMap::new();
    for c in &ml.cscas {
        *t.entry(signature_name(&c.signature_alg.oid)).or_default() += 1;
    }
    t
}

/// Key kinds of the listed certificates (EC keys with explicit parameters counted apart).
fn keys(ml: &MasterList) -> BTreeMap<String, usize> {
    let mut t = BTreeMap::new();
    for c in &ml.cscas {
        let explicit = if c.public_key.explicit_curve { " explicit" } else { "" };
        *t.entry(format!("{:?}{explicit}", c.public_key.kind)).or_default() += 1;
    }
    t
}

fn counts(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

#[test]
fn german_list_parses_and_its_signature_verifies() {
    let ml = list(DE);
    // `openssl asn1parse` of the eContent counts 588 certificates in the certList; gmrtd's own
    // test only asks for at least 500 in its combined pool (cmd/gmrtd-reader/main_test.go).
    assert_eq!(ml.version, 0);
    assert_eq!(ml.cscas.len(), 588);
    assert_eq!(ml.distinct(), 588);
    assert_eq!(ml.signed.signer_count, 1);
    let signer = ml.signed.verify_signer().expect("CMS signature holds");
    assert_eq!(signer.subject.text, "C=DE, O=bund, OU=bsi, serialNumber=0039, CN=CSCA Master List Signer");
    assert_eq!(signer.issuer.text, "C=DE, O=bund, OU=bsi, CN=csca-germany");
    assert_eq!(signature_name(&ml.signed.signer.signature_alg.oid), "ecdsa-with-sha256");
    assert_eq!(ml.signed.signer.digest_alg.name(), "sha-256");
    assert_eq!(
        tally(&ml),
        counts(&[
            ("ecdsa-with-sha1", 11),
            ("ecdsa-with-sha256", 47),
            ("ecdsa-with-sha384", 58),
            ("ecdsa-with-sha512", 35),
            ("rsassa-pss", 125),
            ("sha1-with-rsa", 23),
            ("sha256-with-rsa", 268),
            ("sha384-with-rsa", 3),
            ("sha512-with-rsa", 18),
        ])
    );
    assert_eq!(
        keys(&ml),
        counts(&[
            ("EcBrainpoolP256r1 explicit", 22),
            ("EcBrainpoolP384r1 explicit", 52),
            ("EcBrainpoolP512r1 explicit", 17),
            ("EcP256 explicit", 20),
            ("EcP384", 4),
            ("EcP384 explicit", 29),
            ("EcP521 explicit", 20),
            ("Rsa", 424),
        ])
    );
}

#[test]
fn dutch_list_parses_and_its_signature_verifies() {
    let ml = list(NL);
    assert_eq!(ml.cscas.len(), 411);
    assert_eq!(ml.distinct(), 411);
    let signer = ml.signed.verify_signer().expect("CMS signature holds");
    assert_eq!(signer.subject.text, "serialNumber=8, CN=Masterlist Signer NL, OU=Kingdom of the Netherlands, O=Kingdom of the Netherlands, C=NL");
    assert_eq!(signature_name(&ml.signed.signer.signature_alg.oid), "sha256-with-rsa");
    assert_eq!(
        tally(&ml),
        counts(&[
            ("ecdsa-with-sha1", 8),
            ("ecdsa-with-sha256", 34),
            ("ecdsa-with-sha384", 44),
            ("ecdsa-with-sha512", 28),
            ("rsassa-pss", 89),
            ("sha1-with-rsa", 18),
            ("sha256-with-rsa", 178),
            ("sha384-with-rsa", 3),
            ("sha512-with-rsa", 9),
        ])
    );
    assert_eq!(
        keys(&ml),
        counts(&[
            ("EcBrainpoolP256r1 explicit", 14),
            ("EcBrainpoolP384r1 explicit", 38),
            ("EcBrainpoolP512r1 explicit", 12),
            ("EcP256 explicit", 14),
            ("EcP384", 2),
            ("EcP384 explicit", 20),
            ("EcP521", 1),
            ("EcP521 explicit", 13),
            ("Rsa", 297),
        ])
    );
}

/// gmrtd's CreateCertPoolFromSignedData verifies each list against the root certificate it ships
/// beside it (cms/csca.go, cms/signed_data_cert_pool.go): the German list against
/// DE_ROOT_CA_CSCA07.cer, the Dutch one against NL_ROOT_CA.cer. Here: the same results, pinned or
/// from the store, and refusals for every other anchor.
#[test]
fn signers_chain_to_the_roots_gmrtd_uses_and_nothing_else() {
    for (name, root, other) in [(DE, DE_ROOT, NL_ROOT), (NL, NL_ROOT, DE_ROOT)] {
        let ml = list(name);
        let root = cert(root);
        let other = cert(other);
        let signer = ml.signer_certificate().expect("embedded signer").clone();
        let day = ml.signed.signer.signing_time.expect("signing time").date();

        let empty = TrustStore::empty();
        let both = TrustStore::from_certs([other.clone(), root.clone()]);
        let v = ml.verify(&empty, Some(&root), Some(day)).expect("pinned issuer");
        assert_eq!((v.how, v.anchor.der == root.der), (Anchor::PinnedIssuer, true), "{name}");
        let v = ml.verify(&both, None, Some(day)).expect("issuer in the store");
        assert_eq!((v.how, v.anchor.der == root.der), (Anchor::TrustStore, true), "{name}");
        let v = ml.verify(&empty, Some(&signer), Some(day)).expect("pinned signer");
        assert_eq!(v.how, Anchor::PinnedSigner, "{name}");

        // No anchor: refused, naming the signer and its missing issuer.
        let e = ml.verify(&TrustStore::empty(), None, Some(day)).expect_err("nothing trusted");
        assert!(matches!(&e, MasterListFailure::SignerNotTrusted { tried, pinned: None, .. } if tried.is_empty()), "{name}: {e}");
        assert!(e.to_string().contains(&signer.issuer.text), "{e}");
        // The other country's root, pinned or in the store, vouches for nothing.
        let e = ml.verify(&TrustStore::from_certs([other.clone()]), Some(&other), Some(day)).expect_err("wrong anchor");
        assert!(e.to_string().contains("neither the pinned certificate"), "{e}");
        // The list's own CSCAs do hold the signer's issuer, but only when they are in the store.
        assert!(ml.cscas.iter().any(|c| c.der == root.der), "{name} lists its own root");
        // Validity of the signer certificate on the day asked.
        let late = signer.not_after.date().next_day().expect("a day after");
        let e = ml.verify(&TrustStore::empty(), Some(&root), Some(late)).expect_err("expired signer");
        assert!(matches!(e, MasterListFailure::SignerNotValid { .. }), "{e}");
    }
    // Pinned dates of the two signers (the CLI checks today's date).
    assert_eq!(list(DE).signer_certificate().map(|c| (c.not_before.date(), c.not_after.date())), Some((date!(2024 - 10 - 17), date!(2028 - 10 - 17))));
    assert_eq!(list(NL).signer_certificate().map(|c| (c.not_before.date(), c.not_after.date())), Some((date!(2024 - 09 - 10), date!(2037 - 06 - 30))));
}

/// The one certificate of each list that is not strict DER: the Ukrainian CSCA of 2015 writes its
/// basicConstraints cA as BOOLEAN 01 (BER), which `cert` accepts (its module doc); a list holding a
/// certificate that does not parse at all is refused whole (unit tests of `masterlist`).
#[test]
fn the_ber_boolean_csca_is_read() {
    for (name, index) in [(DE, 293), (NL, 221)] {
        let ml = list(name);
        let c = &ml.cscas[index];
        assert!(c.subject.text.ends_with("CN=CSCA-UKRAINE"), "{name}: {}", c.subject.text);
        assert!(c.is_ca(), "{name}");
        assert_eq!(c.verify_signed_by(c), Ok(()), "{name}: self-signed, signature over the bytes as issued");
        let flipped = ml.cscas.iter().filter(|x| x.der.windows(8).any(|w| w == [0x30, 0x06, 0x01, 0x01, 0x01, 0x02, 0x01, 0x00])).count();
        assert_eq!(flipped, 1, "{name}");
    }
}

/// Each listed certificate against the issuers the same list holds (subject and key identifier):
/// (verified, signature invalid, algorithm unsupported, no issuer in the list).
fn within_list(ml: &MasterList) -> (usize, usize, usize, usize) {
    let store = TrustStore::from_certs(ml.cscas.clone());
    let mut n = (0, 0, 0, 0);
    for c in &ml.cscas {
        let results: Vec<_> = store.issuers_of(c).map(|i| c.verify_signed_by(i)).collect();
        if results.is_empty() {
            n.3 += 1;
        } else if results.iter().any(Result::is_ok) {
            n.0 += 1;
        } else if results.iter().all(|r| matches!(r, Err(idcheck_core::pki::VerifyError::Unsupported { .. }))) {
            n.2 += 1;
        } else {
            n.1 += 1;
        }
    }
    n
}

/// gmrtd's own test skips the self-signature of three certificates (two Latvian, one Estonian) and
/// whitelists twelve whose issuer is absent; here every certificate with an issuer in its list
/// verifies except two RSASSA-PSS ones whose parameters ring refuses (the default salt length of
/// 20 with SHA-256 / SHA-512: Israel, Estonia).
#[test]
fn listed_certificates_against_their_own_list() {
    assert_eq!(within_list(&list(DE)), (572, 0, 2, 14));
    assert_eq!(within_list(&list(NL)), (411, 0, 0, 0));
}

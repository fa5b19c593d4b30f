//! The certification path rules of passive authentication (issue 16 items 3 and 4), one test per
//! rule, on SODs and certificates written by the test PKI: CSCA link certificates after a key
//! rollover, keyUsage and basicConstraints, validity at signing time, the authority key
//! identifier, and revocation by CRL under both policies.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed expectation is the failure

use time::macros::{date, datetime};
use time::OffsetDateTime;

use idcheck_core::pki::chain::verify_chain;
use idcheck_core::pki::*;
use idcheck_testkit::testpki::{DsProfile, KeyUsage, KeyUsages, TestPki};

const SIGNED_AT: OffsetDateTime = datetime!(2024-04-08 03:00:00 UTC);
const DAY: time::Date = date!(2024 - 04 - 08);

fn dgs() -> Vec<(u8, Vec<u8>)> {
    vec![(1, vec![0x61, 0x01, 0x00]), (2, vec![0x75, 0x03, 0x01, 0x02, 0x03]), (3, vec![0x63; 300])]
}

fn refs(d: &[(u8, Vec<u8>)]) -> Vec<(u8, &[u8])> {
    d.iter().map(|(n, b)| (*n, b.as_slice())).collect()
}

fn pa(pki: &TestPki, trust: &TrustStore, at: Option<time::Date>) -> Result<PaReport, PaFailure> {
    let d = dgs();
    let sod = pki.sign_sod(DigestAlg::Sha256, &refs(&d), SIGNED_AT);
    passive_authentication(&sod, &refs(&d), trust, at)
}

fn crl(pki: &TestPki, revoked: &[(&[u8], OffsetDateTime)], this: OffsetDateTime, next: OffsetDateTime) -> Crl {
    Crl::parse(&pki.issue_crl(revoked, this, next, 1).expect("generated pki")).expect("own crl parses")
}

fn current_crl(pki: &TestPki, revoked: &[(&[u8], OffsetDateTime)]) -> Crl {
    crl(pki, revoked, datetime!(2024-04-01 00:00:00 UTC), datetime!(2024-07-01 00:00:00 UTC))
}

#[test]
fn the_plain_path_reports_its_chain_and_no_crl() {
    let pki = TestPki::generate(40, "CN");
    let r = pa(&pki, &pki.trust_store(), Some(DAY)).expect("passes");
    assert_eq!(r.chain, vec![pki.ds.subject.text.clone(), pki.csca.subject.text.clone()]);
    assert_eq!(r.csca_subject, pki.csca.subject.text);
    assert_eq!(r.signer_curve.as_deref(), Some("P-256"));
    assert_eq!(r.revocation.len(), 1);
    let reason = r.revocation[0].not_checked().expect("no crl: not checked under warn");
    assert!(reason.contains("holds no crl of"), "{reason}");
}

#[test]
fn a_link_certificate_carries_trust_across_a_key_rollover() {
    let old = TestPki::generate(41, "CN");
    let (new, link) = old.rolled_over(1).expect("rollover");
    assert_eq!(link.subject, link.issuer, "a link certificate keeps the CSCA name");

    // The station knows the old CSCA and the link certificate: the link is the anchor, and the
    // old CSCA vouches for it.
    let trust = TrustStore::from_certs([old.csca.clone(), link.clone()]);
    let r = pa(&new, &trust, Some(DAY)).expect("ds -> link (<- old csca)");
    assert_eq!(r.chain.len(), 3, "{:?}", r.chain);
    assert_eq!(r.csca_serial, old.csca.serial_hex(), "the path ends at the certificate vouching for the link");
    assert_eq!(r.revocation.len(), 1, "the ds is checked for revocation");

    // The new self-signed CSCA is an anchor of its own.
    let r = pa(&new, &TrustStore::from_certs([new.csca.clone()]), Some(DAY)).expect("ds -> new csca");
    assert_eq!(r.chain.len(), 2);

    // The old CSCA alone cannot verify the new DS: its key did not sign it.
    let e = pa(&new, &old.trust_store(), Some(DAY)).expect_err("old key only");
    assert!(matches!(e, PaFailure::CertificateSignatureInvalid { .. }), "{e:?}");

    // A link certificate imported without its issuer is an anchor (as in master lists).
    let r = pa(&new, &TrustStore::from_certs([link]), Some(DAY)).expect("link only");
    assert_eq!(r.chain.len(), 2);

    // A link its own issuer does not vouch for: a second rollover's link (signed by the first
    // new key) presented beside the old CSCA only.
    let (newer, link2) = new.rolled_over(2).expect("second rollover");
    let e = pa(&newer, &TrustStore::from_certs([old.csca.clone(), link2]), Some(DAY)).expect_err("link not vouched for");
    assert!(matches!(e, PaFailure::ChainRule { rule: "link_certificate", .. }), "{e:?}");
    assert_eq!((e.step(), e.chain_state()), ("link_certificate", Some("untrusted")));
}

#[test]
fn document_signer_key_usage() {
    let pki = TestPki::generate(42, "CN");
    let wrong = DsProfile { key_usage: Some(KeyUsage(KeyUsages::KeyEncipherment.into())), ..DsProfile::default() };
    let e = pa(&pki.with_ds_profile(1, &wrong).expect("reissue"), &pki.trust_store(), Some(DAY)).expect_err("keyEncipherment only");
    match &e {
        PaFailure::ChainRule { rule: "key_usage", what, .. } => assert!(what.contains("digitalSignature"), "{what}"),
        other => panic!("expected key_usage, got {other:?}"),
    }
    assert_eq!(e.step(), "key_usage");

    // RFC 5280: an absent keyUsage restricts nothing.
    let none = DsProfile { key_usage: None, ..DsProfile::default() };
    pa(&pki.with_ds_profile(2, &none).expect("reissue"), &pki.trust_store(), Some(DAY)).expect("no keyUsage passes");
}

#[test]
fn issuing_certificate_must_be_a_ca_that_may_sign_certificates() {
    let pki = TestPki::generate(43, "CN");
    let not_ca = pki.with_csca_profile(false, Some(KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign))).expect("reissue");
    let e = pa(&not_ca, &not_ca.trust_store(), Some(DAY)).expect_err("not a ca");
    assert!(matches!(e, PaFailure::ChainRule { rule: "basic_constraints", .. }), "{e:?}");

    let crl_only = pki.with_csca_profile(true, Some(KeyUsage(KeyUsages::CRLSign.into()))).expect("reissue");
    let e = pa(&crl_only, &crl_only.trust_store(), Some(DAY)).expect_err("no keyCertSign");
    assert!(matches!(e, PaFailure::ChainRule { rule: "key_usage", .. }), "{e:?}");

    let fine = pki.with_csca_profile(true, None).expect("reissue");
    pa(&fine, &fine.trust_store(), Some(DAY)).expect("a ca without keyUsage passes");
}

#[test]
fn the_document_signer_was_valid_when_it_signed() {
    let pki = TestPki::generate(44, "CN");
    let later = DsProfile { not_before: datetime!(2025-01-01 00:00:00 UTC), ..DsProfile::default() };
    let ds = pki.with_ds_profile(3, &later).expect("reissue");
    // Without a day to check on, the signingTime rule still holds.
    let e = pa(&ds, &pki.trust_store(), None).expect_err("signed before notBefore");
    match &e {
        PaFailure::SignedOutsideValidity { signing_time, .. } => assert_eq!(*signing_time, SIGNED_AT),
        other => panic!("expected SignedOutsideValidity, got {other:?}"),
    }
    assert_eq!((e.step(), e.chain_state()), ("signing_time", Some("expired")));
}

#[test]
fn key_identifiers_order_the_search_and_the_signature_decides() {
    let pki = TestPki::generate(45, "CN");
    let mut ds = pki.ds.clone();
    let mut csca = pki.csca.clone();
    ds.authority_key_id = Some(vec![1; 20]);
    csca.subject_key_id = Some(vec![2; 20]);
    // As on issued Austrian and Russian documents: the identifiers differ, the key verifies.
    verify_chain(&ds, &TrustStore::from_certs([csca.clone()]), None, None).expect("the signature decides");

    // Identifiers differ and the key does not verify: the rule is named.
    let (new, _) = pki.rolled_over(3).expect("another key of the same name");
    let mut other_ds = new.ds.clone();
    other_ds.authority_key_id = Some(vec![1; 20]);
    let e = verify_chain(&other_ds, &TrustStore::from_certs([csca.clone()]), None, None).expect_err("wrong key");
    assert!(matches!(e, PaFailure::ChainRule { rule: "issuer_key_id", .. }), "{e:?}");

    // Two CSCAs of one name (rollover): the one whose identifier matches is tried first, and the
    // other still verifies when it is the signer.
    let mut new_csca = new.csca.clone();
    new_csca.subject_key_id = Some(vec![1; 20]);
    let trust = TrustStore::from_certs([new_csca, csca]);
    verify_chain(&ds, &trust, None, None).expect("the old key, after the matching identifier failed");
}

#[test]
fn a_revoked_document_signer_is_named_with_serial_and_date() {
    let pki = TestPki::generate(46, "CN");
    let revoked_on = datetime!(2024-03-15 00:00:00 UTC);
    let mut trust = pki.trust_store();
    trust.add_crl(current_crl(&pki, &[(&[0x01, 0x02], revoked_on), (&pki.ds.serial, revoked_on)]));
    for policy in [RevocationPolicy::Warn, RevocationPolicy::Require] {
        let e = pa(&pki, &trust.clone().with_revocation_policy(policy), Some(DAY)).expect_err("revoked");
        match &e {
            PaFailure::Revoked { serial, date, .. } => {
                assert_eq!(serial, &pki.ds.serial_hex());
                assert_eq!(*date, revoked_on);
            }
            other => panic!("expected Revoked, got {other:?}"),
        }
        assert!(!e.is_station_fault(), "a revoked signer is the card's fault");
        assert!(e.to_string().contains(&pki.ds.serial_hex()) && e.to_string().contains("2024-03-15"), "{e}");
    }
}

#[test]
fn a_current_crl_that_does_not_list_the_signer_checks_it() {
    let pki = TestPki::generate(47, "CN");
    let mut trust = pki.trust_store().with_revocation_policy(RevocationPolicy::Require);
    trust.add_crl(current_crl(&pki, &[(&[0x01, 0x02], datetime!(2024-03-15 00:00:00 UTC))]));
    let r = pa(&pki, &trust, Some(DAY)).expect("not revoked");
    assert!(matches!(r.revocation[0].status, RevocationStatus::Good { .. }), "{:?}", r.revocation);
}

#[test]
fn a_missing_or_stale_crl_follows_the_policy() {
    let pki = TestPki::generate(48, "CN");
    let stale = crl(&pki, &[], datetime!(2023-01-01 00:00:00 UTC), datetime!(2023-04-01 00:00:00 UTC));
    let cases: Vec<(&str, Option<Crl>, &str)> = vec![
        ("missing", None, "holds no crl of"),
        ("stale", Some(stale), "is not current on 2024-04-08"),
    ];
    for (what, crl, reason) in cases {
        let mut trust = pki.trust_store();
        if let Some(c) = crl {
            trust.add_crl(c);
        }
        let r = pa(&pki, &trust.clone().with_revocation_policy(RevocationPolicy::Warn), Some(DAY)).expect(what);
        let got = r.revocation[0].not_checked().unwrap_or_else(|| panic!("{what}: checked?"));
        assert!(got.contains(reason), "{what}: {got}");

        let e = pa(&pki, &trust.with_revocation_policy(RevocationPolicy::Require), Some(DAY)).expect_err(what);
        assert!(matches!(e, PaFailure::RevocationUnknown { .. }), "{what}: {e:?}");
        assert!(e.is_station_fault(), "{what}: the station cannot judge; not the card's fault");
        assert_eq!(e.chain_state(), Some("unknown"));
    }
    // Without a day to check on, a stale CRL is still a CRL (freshness is not judged).
    let mut trust = pki.trust_store().with_revocation_policy(RevocationPolicy::Require);
    trust.add_crl(crl(&pki, &[], datetime!(2023-01-01 00:00:00 UTC), datetime!(2023-04-01 00:00:00 UTC)));
    pa(&pki, &trust, None).expect("freshness not judged without a day");
}

#[test]
fn a_crl_is_trusted_only_when_its_csca_signed_it() {
    let pki = TestPki::generate(50, "CN");
    // A forger's CRL: same issuer name, signed by a key the station does not trust (a rolled-over
    // CSCA key whose certificate is not in the store).
    let (forger, _) = pki.rolled_over(51).expect("another key of the same name");
    let forged = forger.issue_crl(&[(&pki.ds.serial, datetime!(2024-03-15 00:00:00 UTC))], datetime!(2024-04-01 00:00:00 UTC), datetime!(2024-07-01 00:00:00 UTC), 1);
    let forged = Crl::parse(&forged.expect("crl")).expect("parses");
    let mut trust = pki.trust_store().with_revocation_policy(RevocationPolicy::Require);
    trust.add_crl(forged);
    let e = pa(&pki, &trust, Some(DAY)).expect_err("no crl of this csca");
    match &e {
        PaFailure::RevocationUnknown { reason, .. } => assert!(reason.contains("none of the 1 crl(s)"), "{reason}"),
        other => panic!("expected RevocationUnknown, got {other:?}"),
    }
}

#[test]
fn crl_files_load_from_the_trust_directory() {
    let pki = TestPki::generate(52, "CN");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("csca.pem"), trust::pem_encode("CERTIFICATE", &pki.csca.der)).expect("write");
    let der = pki.issue_crl(&[(&pki.ds.serial, datetime!(2024-03-15 00:00:00 UTC))], datetime!(2024-04-01 00:00:00 UTC), datetime!(2024-07-01 00:00:00 UTC), 7).expect("crl");
    std::fs::write(dir.path().join("cn.crl"), trust::pem_encode("X509 CRL", &der)).expect("write");
    let trust = TrustStore::load_dir(dir.path()).expect("loads");
    assert_eq!((trust.len(), trust.crls().len()), (1, 1));
    assert!(matches!(pa(&pki, &trust, Some(DAY)), Err(PaFailure::Revoked { .. })));

    std::fs::write(dir.path().join("bad.crl"), b"\x30\x03\x02\x01\x00").expect("write");
    let e = TrustStore::load_dir(dir.path()).expect_err("malformed crl file");
    assert!(e.to_string().contains("bad.crl"), "{e}");
}

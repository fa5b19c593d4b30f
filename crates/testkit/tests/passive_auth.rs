//! Tests of passive authentication end to end: the independent sample card, SODs written by the
//! test PKI, one tamper test per failure step, the test PKI's files, and openssl interoperability.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed expectation is the failure

use proptest::prelude::*;
use time::macros::{date, datetime};

use idcheck_core::pki::*;
use idcheck_testkit::testpki::TestPki;

/// The independent sample card copied into fixtures/samples (never /work/shared).
fn samples() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/samples")
}

fn sample_trust_dir() -> std::path::PathBuf {
    samples().join("trust")
}

fn sample_chip_file(name: &str) -> Vec<u8> {
    let p = samples().join("pass-case/chip").join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display()))
}

fn sample_sod() -> Vec<u8> {
    sample_chip_file("sod.bin")
}

/// The sample data groups listed in its EF.SOD: (number, bytes).
fn sample_dgs() -> Vec<(u8, Vec<u8>)> {
    [1u8, 2, 3, 11, 12, 13].iter().map(|&n| (n, sample_chip_file(&format!("dg{n}.bin")))).collect()
}

fn sample_trust() -> TrustStore {
    TrustStore::load_dir(&sample_trust_dir()).expect("sample trust dir loads")
}

fn refs(dgs: &[(u8, Vec<u8>)]) -> Vec<(u8, &[u8])> {
    dgs.iter().map(|(n, d)| (*n, d.as_slice())).collect()
}

/// Synthetic data groups shaped like a resident card's (contents do not matter to PA).
fn own_dgs() -> Vec<(u8, Vec<u8>)> {
    vec![
        (1, idcheck_core::tlv::encode(0x61, &idcheck_core::tlv::encode(0x5F1F, &[b'I'; 90]))),
        (2, vec![0x75, 0x03, 0x01, 0x02, 0x03]),
        (3, vec![0x63; 1090]),
        (13, vec![0x6D; 260]),
    ]
}

const SIGNED_AT: time::OffsetDateTime = datetime!(2024-04-08 03:00:00 UTC);

#[test]
fn sample_card_verifies() {
    let dgs = sample_dgs();
    let r = passive_authentication(&sample_sod(), &refs(&dgs), &sample_trust(), Some(date!(2024 - 04 - 08))).expect("sample passes");
    assert_eq!(r.digest_alg, DigestAlg::Sha1);
    assert_eq!(r.signer_digest_alg, DigestAlg::Sha256);
    assert_eq!(r.signature_alg, "ecdsa-with-sha256");
    assert_eq!(r.dgs_verified, vec![1, 2, 3, 11, 12, 13]);
    assert!(r.listed_not_present.is_empty());
    assert_eq!(r.ds_subject, "C=CN, O=Hidden Corpus, CN=Hidden Corpus Document Signer");
    assert_eq!(r.csca_subject, "C=CN, O=Hidden Corpus, CN=Hidden Corpus CSCA");
    assert_eq!(r.signing_time, Some(SIGNED_AT));
    assert_eq!(r.validity_checked_on, Some(date!(2024 - 04 - 08)));
}

#[test]
fn sample_dg_byte_changed_names_the_dg() {
    let mut dgs = sample_dgs();
    let dg2 = &mut dgs[1].1;
    let mid = dg2.len() / 2;
    dg2[mid] ^= 0x01;
    match passive_authentication(&sample_sod(), &refs(&dgs), &sample_trust(), None) {
        Err(PaFailure::DgHashMismatch { dg, expected, actual }) => {
            assert_eq!(dg, 2);
            assert_ne!(expected, actual);
            assert_eq!(actual.len(), 20);
        }
        other => panic!("expected DgHashMismatch, got {other:?}"),
    }
}

#[test]
fn sample_signature_byte_flipped() {
    let mut sod = sample_sod();
    // The SignerInfo signature is the last element of the file: flip a byte of s.
    let last = sod.len() - 1;
    sod[last] ^= 0x40;
    let e = passive_authentication(&sod, &refs(&sample_dgs()), &sample_trust(), None).expect_err("must fail");
    assert!(matches!(e, PaFailure::SignatureInvalid { .. }), "{e:?}");
    assert!(e.to_string().contains("Hidden Corpus Document Signer"), "{e}");
}

#[test]
fn sample_signed_attribute_changed() {
    let mut sod = sample_sod();
    let pos = sod.windows(13).position(|w| w == b"240408030000Z").expect("signing time");
    sod[pos + 5] = b'1';
    let e = passive_authentication(&sod, &refs(&sample_dgs()), &sample_trust(), None).expect_err("must fail");
    assert!(matches!(e, PaFailure::SignatureInvalid { .. }), "{e:?}");
}

#[test]
fn sample_lds_hash_changed_breaks_message_digest() {
    let dgs = sample_dgs();
    let dg13_hash = hex::decode("b00ecb9db68749a9354e49fd57cada1069cce76d").expect("hex");
    let mut sod = sample_sod();
    let pos = sod.windows(20).position(|w| w == dg13_hash.as_slice()).expect("dg13 hash in sod");
    sod[pos] ^= 0xFF;
    // Without DG13 the hash step passes (13 is reported as not present) and messageDigest fails.
    let without13: Vec<(u8, &[u8])> = refs(&dgs).into_iter().filter(|(n, _)| *n != 13).collect();
    let e = passive_authentication(&sod, &without13, &sample_trust(), None).expect_err("must fail");
    assert!(matches!(e, PaFailure::MessageDigestMismatch { .. }), "{e:?}");
    // With DG13 the hash step catches it first.
    let e = passive_authentication(&sod, &refs(&dgs), &sample_trust(), None).expect_err("must fail");
    assert!(matches!(e, PaFailure::DgHashMismatch { dg: 13, .. }), "{e:?}");
}

#[test]
fn sample_with_other_or_empty_trust_is_signer_unknown() {
    let dgs = sample_dgs();
    let other = TestPki::generate(11, "CN").trust_store();
    for trust in [TrustStore::empty(), other] {
        match passive_authentication(&sample_sod(), &refs(&dgs), &trust, None) {
            Err(PaFailure::SignerUnknown { issuer }) => assert_eq!(issuer, "C=CN, O=Hidden Corpus, CN=Hidden Corpus CSCA"),
            other => panic!("expected SignerUnknown, got {other:?}"),
        }
    }
    // A store holding the right CSCA among others still passes.
    let mut both = TestPki::generate(11, "CN").trust_store();
    both.add(sample_trust().certificates()[0].clone());
    assert!(passive_authentication(&sample_sod(), &refs(&dgs), &both, None).is_ok());
}

#[test]
fn sample_outside_validity() {
    let dgs = sample_dgs();
    for day in [date!(2046 - 01 - 01), date!(2014 - 12 - 31)] {
        match passive_authentication(&sample_sod(), &refs(&dgs), &sample_trust(), Some(day)) {
            Err(PaFailure::CertificateExpired { at, .. }) => assert_eq!(at, day),
            other => panic!("expected CertificateExpired on {day}, got {other:?}"),
        }
    }
}

#[test]
fn data_group_presence_rules() {
    let dgs = sample_dgs();
    let all = refs(&dgs);
    // A DG the SOD does not list.
    let mut extra = all.clone();
    extra.push((14, b"\x6E\x00"));
    assert_eq!(passive_authentication(&sample_sod(), &extra, &sample_trust(), None), Err(PaFailure::DgNotInSod { dg: 14 }));
    // DG1 / DG2 listed but not handed in.
    for missing in [1u8, 2] {
        let some: Vec<_> = all.iter().copied().filter(|(n, _)| *n != missing).collect();
        assert_eq!(
            passive_authentication(&sample_sod(), &some, &sample_trust(), None),
            Err(PaFailure::MandatoryDgAbsent { dg: missing })
        );
    }
    // Other listed DGs absent: reported, not failed.
    let some: Vec<_> = all.iter().copied().filter(|(n, _)| *n != 3 && *n != 11).collect();
    let r = passive_authentication(&sample_sod(), &some, &sample_trust(), None).expect("passes");
    assert_eq!(r.listed_not_present, vec![3, 11]);
    assert_eq!(r.dgs_verified, vec![1, 2, 12, 13]);
}

#[test]
fn garbage_sod_is_unparsable() {
    let e = passive_authentication(b"\x77\x02\x30\x00", &[], &sample_trust(), None).expect_err("garbage");
    assert!(matches!(e, PaFailure::SodUnparsable(_)), "{e:?}");
    assert!(e.to_string().starts_with("ef.sod cannot be parsed: "), "{e}");
}

#[test]
fn generated_sod_verifies_with_every_lds_digest() {
    let pki = TestPki::generate(1, "CHN");
    let dgs = own_dgs();
    for d in DigestAlg::ALL {
        let sod = pki.sign_sod(d, &refs(&dgs), SIGNED_AT);
        let r = passive_authentication(&sod, &refs(&dgs), &pki.trust_store(), Some(date!(2024 - 04 - 08)))
            .unwrap_or_else(|e| panic!("{d}: {e}"));
        assert_eq!(r.digest_alg, d);
        assert_eq!(r.dgs_verified, vec![1, 2, 3, 13]);
        assert_eq!(r.signing_time, Some(SIGNED_AT));
        let parsed = Sod::parse(&sod).expect("parses");
        assert_eq!(parsed.dg_hashes[&3], d.digest(&dgs[2].1));
        assert_eq!(parsed.certificates.len(), 1);
    }
}

#[test]
fn generated_tamper_steps() {
    let pki = TestPki::generate(2, "CHN");
    let dgs = own_dgs();
    let sod = pki.sign_sod(DigestAlg::Sha256, &refs(&dgs), SIGNED_AT);
    let trust = pki.trust_store();

    let mut bad = dgs.clone();
    bad[3].1[100] ^= 0x80;
    assert!(matches!(
        passive_authentication(&sod, &refs(&bad), &trust, None),
        Err(PaFailure::DgHashMismatch { dg: 13, .. })
    ));

    let mut flipped = sod.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x01;
    assert!(matches!(passive_authentication(&flipped, &refs(&dgs), &trust, None), Err(PaFailure::SignatureInvalid { .. })));

    assert!(matches!(
        passive_authentication(&sod, &refs(&dgs), &TrustStore::empty(), None),
        Err(PaFailure::SignerUnknown { .. })
    ));
    assert!(matches!(
        passive_authentication(&sod, &refs(&dgs), &TestPki::generate(3, "CHN").trust_store(), None),
        Err(PaFailure::SignerUnknown { .. })
    ));

    let forged = pki.with_forged_ds(9);
    assert_eq!(forged.ds.subject, pki.ds.subject);
    let forged_sod = forged.sign_sod(DigestAlg::Sha256, &refs(&dgs), SIGNED_AT);
    match passive_authentication(&forged_sod, &refs(&dgs), &trust, None) {
        Err(e @ PaFailure::CertificateSignatureInvalid { .. }) => {
            assert!(e.to_string().starts_with("document signer certificate ("), "{e}")
        }
        other => panic!("expected CertificateSignatureInvalid, got {other:?}"),
    }

    for day in [date!(2041 - 01 - 01), date!(2019 - 12 - 31)] {
        assert!(matches!(
            passive_authentication(&sod, &refs(&dgs), &trust, Some(day)),
            Err(PaFailure::CertificateExpired { .. })
        ));
    }
    assert!(passive_authentication(&sod, &refs(&dgs), &trust, Some(date!(2040 - 12 - 31))).is_ok());
}

#[test]
fn test_pki_is_deterministic() {
    let a = TestPki::generate(5, "CHN");
    let b = TestPki::generate(5, "CHN");
    let c = TestPki::generate(6, "CHN");
    assert_eq!(a.csca.der, b.csca.der);
    assert_eq!(a.ds.der, b.ds.der);
    assert_ne!(a.csca.der, c.csca.der);
    assert_ne!(a.csca.subject, c.csca.subject);
    let dgs = own_dgs();
    assert_eq!(a.sign_sod(DigestAlg::Sha1, &refs(&dgs), SIGNED_AT), b.sign_sod(DigestAlg::Sha1, &refs(&dgs), SIGNED_AT));
    // The certificates look like the sample's: v3, P-256, CA / key usage extensions.
    assert_eq!(a.csca.version, 3);
    assert_eq!(a.csca.basic_constraints, Some(BasicConstraints { ca: true, path_len: Some(0) }));
    assert_eq!(a.csca.key_usage, Some(cert::key_usage::KEY_CERT_SIGN | cert::key_usage::CRL_SIGN));
    assert_eq!(a.ds.key_usage, Some(cert::key_usage::DIGITAL_SIGNATURE));
    assert_eq!(a.ds.public_key.kind, KeyKind::EcP256);
    assert_eq!(a.csca.verify_signed_by(&a.csca), Ok(()));
    assert_eq!(a.ds.verify_signed_by(&a.csca), Ok(()));
    assert_eq!(a.ds.verify_signed_by(&c.csca), Err(VerifyError::Invalid));
    assert!(a.csca.subject.text.starts_with("C=CHN, O=idcheck test PKI, CN=idcheck test CSCA CHN 5"), "{}", a.csca.subject);
    assert!(format!("{a:?}").contains("REDACTED"));
}

#[test]
fn test_pki_files_round_trip() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = TestPki::generate(7, "CHN");
    pki.save_dir(dir.path()).expect("saves");
    for f in ["csca.pem", "csca.der", "ds.pem", "ds.key"] {
        assert!(dir.path().join(f).is_file(), "{f}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("ds.key")).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let loaded = TestPki::load_dir(dir.path()).expect("loads");
    assert_eq!(loaded.csca.der, pki.csca.der);
    assert_eq!(loaded.ds.der, pki.ds.der);
    assert!(!loaded.has_csca_key());
    let dgs = own_dgs();
    assert_eq!(loaded.sign_sod(DigestAlg::Sha256, &refs(&dgs), SIGNED_AT), pki.sign_sod(DigestAlg::Sha256, &refs(&dgs), SIGNED_AT));
    // The CSCA file works as a trust directory.
    let trust_dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(dir.path().join("csca.pem"), trust_dir.path().join("csca.pem")).expect("copy");
    let trust = TrustStore::load_dir(trust_dir.path()).expect("trust loads");
    let sod = loaded.sign_sod(DigestAlg::Sha256, &refs(&dgs), SIGNED_AT);
    assert!(passive_authentication(&sod, &refs(&dgs), &trust, None).is_ok());

    // A key of another PKI is refused.
    let other = tempfile::tempdir().expect("tempdir");
    TestPki::generate(8, "CHN").save_dir(other.path()).expect("saves");
    std::fs::copy(other.path().join("ds.key"), dir.path().join("ds.key")).expect("copy");
    let e = TestPki::load_dir(dir.path()).expect_err("mismatched key");
    assert!(e.to_string().contains("does not belong"), "{e}");
    let e = TestPki::load_dir(&dir.path().join("nope")).expect_err("missing dir");
    assert!(e.to_string().contains("nope"), "{e}");
}

fn openssl_available() -> bool {
    std::process::Command::new("openssl").arg("version").output().is_ok_and(|o| o.status.success())
}

/// The generated EF.SOD (without its tag 77) is accepted by `openssl cms -verify`, both with
/// `-noverify` and with the CSCA as trust anchor. Skipped (and says so) without openssl.
#[test]
fn openssl_accepts_generated_sod() {
    if !openssl_available() {
        eprintln!("openssl not found: skipping openssl_accepts_generated_sod");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = TestPki::generate(4, "CHN");
    pki.save_dir(dir.path()).expect("saves");
    let dgs = own_dgs();
    for d in [DigestAlg::Sha1, DigestAlg::Sha256] {
        let sod = pki.sign_sod(d, &refs(&dgs), SIGNED_AT);
        let ci = idcheck_core::tlv::parse_single(&sod, 0x77).expect("tag 77").value.to_vec();
        let input = dir.path().join("sod.der");
        std::fs::write(&input, &ci).expect("write");
        let out = dir.path().join("content.bin");
        let run = |extra: &[&str]| {
            std::process::Command::new("openssl")
                .args(["cms", "-verify", "-inform", "DER", "-binary", "-in"])
                .arg(&input)
                .arg("-out")
                .arg(&out)
                .args(extra)
                .output()
                .expect("openssl runs")
        };
        let o = run(&["-noverify"]);
        assert!(o.status.success(), "openssl -noverify: {}", String::from_utf8_lossy(&o.stderr));
        let content = std::fs::read(&out).expect("content");
        assert_eq!(content, Sod::parse(&sod).expect("parses").e_content);
        let ca = dir.path().join("csca.pem");
        let o = run(&["-CAfile", ca.to_str().unwrap_or_default(), "-purpose", "any"]);
        assert!(o.status.success(), "openssl -CAfile: {}", String::from_utf8_lossy(&o.stderr));
        // And openssl rejects a flipped signature, so the check above can fail.
        let mut bad = ci.clone();
        let last = bad.len() - 1;
        bad[last] ^= 0x01;
        std::fs::write(&input, &bad).expect("write");
        assert!(!run(&["-noverify"]).status.success(), "openssl accepted a flipped signature");
    }
}

#[test]
fn failure_messages_are_lower_case() {
    let samples = [
        PaFailure::SodUnparsable(PkiError::Invalid { field: "x", offset: 0, what: "y".into() }),
        PaFailure::DgHashMismatch { dg: 1, expected: vec![1], actual: vec![2] },
        PaFailure::DgNotInSod { dg: 1 },
        PaFailure::MandatoryDgAbsent { dg: 1 },
        PaFailure::MessageDigestMismatch { expected: vec![1], actual: vec![2] },
        PaFailure::SignerCertificateMissing { signer: "s".into() },
        PaFailure::SignatureInvalid { subject: "s".into() },
        PaFailure::SignerUnknown { issuer: "i".into() },
        PaFailure::CertificateSignatureInvalid { subject: "s".into(), issuer: "i".into() },
        PaFailure::CertificateExpired { subject: "s".into(), not_before: SIGNED_AT, not_after: SIGNED_AT, at: date!(2030 - 01 - 01) },
        PaFailure::UnsupportedAlgorithm { oid: "1.2".into() },
    ];
    for f in samples {
        let s = f.to_string();
        assert!(s.chars().next().is_some_and(|c| c.is_lowercase()), "{s}");
    }
    assert_eq!(
        PaFailure::DgHashMismatch { dg: 3, expected: vec![0xAB], actual: vec![0xCD] }.to_string(),
        "dg3 hash differs from ef.sod: ef.sod lists ab, the data group hashes to cd"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]
    #[test]
    fn pa_never_panics_on_mutated_sample(edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
                                         cut in any::<prop::sample::Index>()) {
        let dgs = sample_dgs();
        let trust = sample_trust();
        let mut sod = sample_sod();
        for (i, v) in &edits {
            let at = i.index(sod.len());
            sod[at] = *v;
        }
        let _ = passive_authentication(&sod, &refs(&dgs), &trust, Some(date!(2024 - 04 - 08)));
        let end = cut.index(sod.len());
        prop_assert!(passive_authentication(&sod[..end], &refs(&dgs), &trust, None).is_err());
    }

    #[test]
    fn generate_never_panics(seed in any::<u64>(), country in "\\PC{0,4}") {
        let pki = TestPki::generate(seed, &country);
        prop_assert_eq!(pki.ds.verify_signed_by(&pki.csca), Ok(()));
    }
}

#[test]
fn remembered_signer_certificates_change_no_outcome() {
    // One store across many cards: the document signer certificate's signature is verified once
    // and remembered; a forged certificate of the same subject still fails, before and after.
    let pki = TestPki::generate(4, "CHN");
    let dgs = own_dgs();
    let trust = pki.trust_store();
    let good = pki.sign_sod(DigestAlg::Sha256, &refs(&dgs), SIGNED_AT);
    let forged = pki.with_forged_ds(11).sign_sod(DigestAlg::Sha256, &refs(&dgs), SIGNED_AT);
    let forged_fails = |t: &TrustStore| {
        matches!(passive_authentication(&forged, &refs(&dgs), t, None), Err(PaFailure::CertificateSignatureInvalid { .. }))
    };
    assert!(forged_fails(&trust));
    for _ in 0..3 {
        passive_authentication(&good, &refs(&dgs), &trust, None).expect("good card");
        assert!(forged_fails(&trust));
    }
    // A clone shares what was learnt and decides the same.
    let clone = trust.clone();
    passive_authentication(&good, &refs(&dgs), &clone, None).expect("good card, clone");
    assert!(forged_fails(&clone));
}

#[test]
fn test_pki_crl_parses_and_verifies() {
    let pki = TestPki::generate(12, "CHN");
    let other = TestPki::generate(13, "CHN");
    let (this, next) = (datetime!(2024-05-01 00:00:00 UTC), datetime!(2024-06-01 00:00:00 UTC));
    let der = pki.issue_crl(&[(&pki.ds.serial, SIGNED_AT)], this, next, 7).expect("generated pki has its csca key");
    let crl = Crl::parse(&der).expect("parses");
    assert_eq!(crl.version, 2);
    assert_eq!(crl.issuer, pki.csca.subject);
    assert_eq!((crl.this_update, crl.next_update), (this, Some(next)));
    assert_eq!(crl.revoked, vec![Revoked { serial: pki.ds.serial.clone(), date: SIGNED_AT }]);
    assert_eq!(crl.crl_number.as_deref(), Some(&[7u8][..]));
    assert_eq!(crl.der, der);
    assert!(crl.names_issuer(&pki.csca) && !crl.names_issuer(&other.csca));
    assert_eq!(crl.verify_signed_by(&pki.csca), Ok(()));
    assert_eq!(crl.verify_signed_by(&other.csca), Err(VerifyError::Invalid));
    assert_eq!(crl.revocation_of(&pki.ds).map(|r| r.date), Some(SIGNED_AT));
    assert!(crl.revocation_of(&other.ds).is_none());
    assert!(crl.revocation_of(&pki.with_forged_ds(3).ds).is_some(), "same issuer and serial");

    let empty = Crl::parse(&pki.issue_crl(&[], this, next, 8).expect("crl")).expect("parses");
    assert!(empty.revoked.is_empty() && empty.revocation_of(&pki.ds).is_none());

    // A changed revocation date breaks the signature.
    let mut bad = der.clone();
    let pos = bad.windows(13).position(|w| w == b"240408030000Z").expect("revocation date");
    bad[pos + 3] = b'9';
    assert_eq!(Crl::parse(&bad).expect("still parses").verify_signed_by(&pki.csca), Err(VerifyError::Invalid));
    let e = Crl::parse(&der[..der.len() - 1]).expect_err("truncated");
    assert!(e.to_string().starts_with("crl at offset 0"), "{e}");

    let dir = tempfile::tempdir().expect("tempdir");
    pki.save_dir(dir.path()).expect("saves");
    assert!(TestPki::load_dir(dir.path()).expect("loads").issue_crl(&[], this, next, 1).is_none(), "no csca key");

    if openssl_available() {
        let f = dir.path().join("crl.der");
        let ca = dir.path().join("csca.pem");
        for (bytes, ok) in [(&der, true), (&bad, false)] {
            std::fs::write(&f, bytes).expect("write");
            let o = std::process::Command::new("openssl")
                .args(["crl", "-inform", "DER", "-noout", "-in"])
                .arg(&f)
                .arg("-CAfile")
                .arg(&ca)
                .output()
                .expect("openssl runs");
            let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
            assert_eq!(text.contains("verify OK"), ok, "openssl crl: {text}");
        }
    } else {
        eprintln!("openssl not found: skipping the openssl half of test_pki_crl_parses_and_verifies");
    }
}

/// The sample card's EF.SOD re-encoded as BER (indefinite lengths, constructed OCTET STRINGs,
/// non-minimal lengths) passes exactly as the DER one; a SOD from the test PKI too.
#[test]
fn ber_encoded_sods_pass() {
    fn to_ber(d: &[u8], depth: usize) -> Vec<u8> {
        // Every constructed element indefinite (or, deeper than `depth`, a 4-octet length), every
        // OCTET STRING longer than 8 bytes in 8-byte segments.
        let (tag, hlen, len) = {
            let l0 = d[1];
            if l0 < 0x80 {
                (d[0], 2, l0 as usize)
            } else {
                let n = (l0 & 0x7F) as usize;
                (d[0], 2 + n, d[2..2 + n].iter().fold(0usize, |a, &b| (a << 8) | b as usize))
            }
        };
        let content = &d[hlen..hlen + len];
        let mut out = Vec::new();
        if tag & 0x20 != 0 {
            let mut body = Vec::new();
            let mut pos = 0;
            while pos < content.len() {
                let child = to_ber(&content[pos..], depth.saturating_sub(1));
                let l1 = content[pos + 1];
                let clen = if l1 < 0x80 {
                    2 + l1 as usize
                } else {
                    let n = (l1 & 0x7F) as usize;
                    2 + n + content[pos + 2..pos + 2 + n].iter().fold(0usize, |a, &b| (a << 8) | b as usize)
                };
                body.extend(child);
                pos += clen;
            }
            out.push(tag);
            if depth > 0 {
                out.push(0x80);
                out.extend(body);
                out.extend([0, 0]);
            } else {
                out.push(0x84);
                out.extend((body.len() as u32).to_be_bytes());
                out.extend(body);
            }
        } else if tag == 0x04 && len > 8 {
            out.extend([0x24, 0x80]);
            for c in content.chunks(8) {
                out.extend([0x04, c.len() as u8]);
                out.extend(c);
            }
            out.extend([0, 0]);
        } else {
            out.extend(&d[..hlen + len]);
        }
        out
    }
    let dgs = sample_dgs();
    let day = Some(date!(2024 - 04 - 08));
    let der = sample_sod();
    let expected = passive_authentication(&der, &refs(&dgs), &sample_trust(), day).expect("der passes");
    for depth in [3, 6, 100] {
        let ber = to_ber(&der, depth);
        assert_ne!(ber, der);
        assert_eq!(passive_authentication(&ber, &refs(&dgs), &sample_trust(), day), Ok(expected.clone()), "depth {depth}");
    }
    let pki = TestPki::generate(14, "CHN");
    let own = own_dgs();
    let sod = pki.sign_sod(DigestAlg::Sha256, &refs(&own), SIGNED_AT);
    assert!(passive_authentication(&to_ber(&sod, 100), &refs(&own), &pki.trust_store(), None).is_ok());
    // Truncated BER: the error names the missing end-of-contents.
    let ber = to_ber(&der, 100);
    match passive_authentication(&ber[..ber.len() - 2], &refs(&dgs), &sample_trust(), day) {
        Err(PaFailure::SodUnparsable(e)) => assert!(e.to_string().contains("without end-of-contents"), "{e}"),
        other => panic!("expected SodUnparsable, got {other:?}"),
    }
}

proptest! {
    /// The test PKI's CRL mutated and cut: `Crl::parse` never panics, and a mutated CRL whose
    /// signature still verifies kept its tbsCertList.
    #[test]
    fn crl_parse_never_panics_on_mutations(edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8), cut in any::<prop::sample::Index>()) {
        let pki = TestPki::generate(48, "PC");
        let t = datetime!(2026-01-01 00:00:00 UTC);
        let der = pki.issue_crl(&[(&pki.ds.serial, t)], t, t + time::Duration::days(30), 3).expect("generated pki");
        let tbs = Crl::parse(&der).expect("parses").tbs;
        let mut b = der.clone();
        for (i, v) in &edits {
            let at = i.index(b.len());
            b[at] = *v;
        }
        if let Ok(c) = Crl::parse(&b) {
            let _ = (format!("{c:?}"), c.names_issuer(&pki.csca), c.revocation_of(&pki.ds));
            if c.verify_signed_by(&pki.csca).is_ok() {
                prop_assert_eq!(c.tbs, tbs);
            }
        }
        let end = cut.index(b.len());
        let _ = Crl::parse(&b[..end]);
        let _ = idcheck_core::pki::trust::read_crls(&b[..end]);
    }
}

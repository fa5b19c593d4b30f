//! PACE, Chip Authentication and Active Authentication through a real pcscd + vpcd + the card
//! emulator (run under scripts/pcsc-env.sh), verified with `verify::Verifier::verify_read`
//! (issue 17 point 6): PACE with each curve family and DH, AES and 3DES; a PACE-only card; BAC
//! fallback; a wrong CAN (6300, cause 3 naming the step); a MAC failure mid-read; the card pulled
//! during PACE; Chip and Active Authentication good and bad. Also the point-8 figure: the sample
//! card read over PACE against the same card over BAC, in APDUs.
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the failure

mod pcsc_common;

use std::io::Write;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use idcheck_chip::{AccessPolicy, AuthRun, BacKey, ChipReader, ReadFailure, ReadFailureKind, ReadOptions, ReadOutcome, ReadStep, TransportError};
use idcheck_core::lds::{self, ChipImage, Cipher, FileId, KeyAgreement, Mapping, PaceInfo, PaceProtocol, SecurityInfo, SecurityInfos};
use idcheck_core::model::AcceptanceRecord;
use idcheck_core::pki::trust::TrustStore;
use idcheck_core::records;
use idcheck_core::verdict::{Cause, Status};
use idcheck_pcsc::{ConnectOptions, PcscCard};
use idcheck_testkit::emulator::{AccessMode, CardConfig, ChipSecrets, Faults, WrongAnswerKind, WrongAnswers};
use idcheck_testkit::personalize::{AaKey, ChipContent, ChipSecurity};
use idcheck_testkit::testpki::TestPki;
use idcheck_verify::{Verification, Verifier};
use pcsc_common::*;

fn say(msg: &str) {
    let _ = writeln!(std::io::stderr(), "{msg}");
}

struct Fixture {
    record: AcceptanceRecord,
    pki: TestPki,
    trust: TrustStore,
    key: BacKey,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let base = repo().join("fixtures/samples/pass-case");
        let record = records::acceptance::load_dir(&base.join("acceptance/451022202404011140")).expect("record");
        let pki = TestPki::generate(1717, "CN");
        let trust = pki.trust_store();
        let mrz = lds::parse_dg1(pass_case_image().get(FileId::Dg1).expect("dg1")).expect("dg1 parses");
        let key = BacKey::from_mrz(&mrz).expect("bac key");
        Fixture { record, pki, trust, key }
    })
}

/// The sample record's card, personalised with `security` by the test PKI.
fn card(security: &ChipSecurity) -> (ChipImage, ChipSecrets) {
    let f = fixture();
    let content = ChipContent::from_record(&f.record).expect("chip content");
    content.write_secured(&f.pki, time::OffsetDateTime::now_utc(), security, 7).expect("personalise")
}

fn pace(agreement: KeyAgreement, cipher: Cipher, id: u32) -> ChipSecurity {
    ChipSecurity {
        pace: vec![(PaceProtocol { agreement, mapping: Mapping::Generic, cipher }, id)],
        chip_authentication: None,
        active_authentication: None,
        can: Some("123456".to_string()),
    }
}

fn live_opts() -> ConnectOptions {
    ConnectOptions {
        exchange_timeout: Duration::from_millis(3000),
        connect_timeout: Duration::from_secs(3),
        wait_for_card: Duration::from_secs(3),
        ..ConnectOptions::default()
    }
}

struct Run {
    result: Result<ReadOutcome, ReadFailure>,
    took: Duration,
}

/// Serve `image` (with `secrets`, `faults`, `access`) in one reader and read it once through pcscd.
fn read_case(image: ChipImage, secrets: ChipSecrets, faults: Faults, access: AccessMode, host: impl FnOnce(ChipReader<'_>) -> ChipReader<'_> + Send + 'static, policy: AccessPolicy, attempts: u32) -> Option<Run> {
    read_with(image, CardConfig { secrets, access, ..CardConfig::default() }, faults, host, policy, attempts)
}

/// [`read_case`] with a whole card configuration (extended length, say).
fn read_with(image: ChipImage, config: CardConfig, faults: Faults, host: impl FnOnce(ChipReader<'_>) -> ChipReader<'_> + Send + 'static, policy: AccessPolicy, attempts: u32) -> Option<Run> {
    let env = env("pcsc pace case")?;
    let lease = lease(env, 1);
    let r = &lease.readers[0];
    let emu = Emulator::start_with(r, image, faults, config);
    let name = r.name.clone();
    let key = fixture().key.clone();
    let run = within(&format!("read through '{name}'"), Duration::from_secs(90), move || {
        let t = Instant::now();
        let mut card = match PcscCard::connect(&name, live_opts()) {
            Ok(c) => c,
            Err(e) => return Run { result: Err(ReadFailure::from_transport(ReadStep::Connect, &TransportError::from(e))), took: t.elapsed() },
        };
        let reader = host(ChipReader::new(&key, ReadOptions { access: policy, ..ReadOptions::default() }));
        let mut reader = reader;
        let result = reader.read_with_reconnect(&mut card, attempts);
        Run { result, took: t.elapsed() }
    });
    drop(emu);
    Some(run)
}

fn simple(image: ChipImage, secrets: ChipSecrets) -> Option<Run> {
    read_case(image, secrets, Faults::default(), AccessMode::Both, |r| r, AccessPolicy::Auto, 1)
}

fn verify(o: &ReadOutcome) -> Verification {
    let f = fixture();
    Verifier::new(f.trust.clone()).verify_read(&f.record, None, o)
}

fn ok(run: Run, what: &str) -> ReadOutcome {
    match run.result {
        Ok(o) => {
            say(&format!(
                "{what}: {} in {:?}, {} APDUs; chip authentication {:?}; active authentication {:?}",
                o.access.describe(),
                run.took,
                o.stats.total.apdus,
                o.chip_authentication,
                o.active_authentication
            ));
            o
        }
        Err(f) => panic!("{what}: read failed: {f}"),
    }
}

fn failed(run: Run, what: &str) -> ReadFailure {
    match run.result {
        Ok(o) => panic!("{what}: the read succeeded ({})", o.access.describe()),
        Err(f) => {
            say(&format!("{what}: {f} [{:?}]", run.took));
            f
        }
    }
}

fn check(o: &ReadOutcome, item: &str) -> String {
    let v = verify(o);
    v.verdict.chip_checks.iter().find(|c| c.item == item).map(|c| c.result.clone()).unwrap_or_else(|| panic!("no {item}: {:#?}", v.verdict))
}

fn assert_cause3(v: &Verification, item_part: &str) {
    assert_eq!(v.verdict.status, Status::Invalid, "{:#?}", v.verdict);
    assert!(
        v.verdict.findings.iter().any(|f| f.cause == Cause::ChipUnreadable && f.item.contains(item_part)),
        "no cause-3 finding on '{item_part}': {:#?}",
        v.verdict.findings
    );
}

#[test]
fn pace_with_each_curve_family_dh_and_both_ciphers_passes() {
    let cases = [
        (KeyAgreement::Ecdh, Cipher::Aes128, 13, "brainpoolP256r1"),
        (KeyAgreement::Ecdh, Cipher::Aes256, 12, "P-256"),
        (KeyAgreement::Ecdh, Cipher::Tdes, 15, "P-384"),
        (KeyAgreement::Ecdh, Cipher::Aes192, 17, "brainpoolP512r1"),
        (KeyAgreement::Dh, Cipher::Aes128, 2, "modp2048"),
    ];
    for (agreement, cipher, id, label) in cases {
        let (image, secrets) = card(&pace(agreement, cipher, id));
        // A 2048-bit DH public key (256 bytes) does not fit a short APDU: such chips take
        // extended length, and the host sends the General Authenticate steps extended.
        let config = CardConfig { secrets, extended_length: agreement == KeyAgreement::Dh, ..CardConfig::default() };
        let Some(run) = read_with(image, config, Faults::default(), |r| r, AccessPolicy::Auto, 1) else { return };
        let o = ok(run, &format!("pace {label} {cipher:?}"));
        let p = o.access.pace.as_ref().unwrap_or_else(|| panic!("{label}: read with {}", o.access.describe()));
        assert_eq!(p.parameter_id, id, "{label}");
        let v = verify(&o);
        assert_eq!(v.verdict.status, Status::Pass, "{label}: {:#?}", v.verdict);
        assert_eq!(check(&o, "chip.access"), "pace");
    }
}

#[test]
fn pace_with_the_can_and_a_wrong_can() {
    let (image, secrets) = card(&pace(KeyAgreement::Ecdh, Cipher::Aes128, 13));
    let good = read_case(image.clone(), secrets.clone(), Faults::default(), AccessMode::Both, |r| r.with_can("123456"), AccessPolicy::Auto, 1);
    let Some(good) = good else { return };
    let o = ok(good, "pace with the can");
    assert_eq!(o.access.pace.as_ref().map(|p| p.password), Some("can"));
    assert_eq!(verify(&o).verdict.status, Status::Pass);

    let bad = read_case(image, secrets, Faults::default(), AccessMode::Both, |r| r.with_can("654321"), AccessPolicy::Auto, 1).unwrap();
    let f = failed(bad, "pace with a wrong can");
    assert_eq!(f.step, ReadStep::PaceMutualAuthenticate, "{f}");
    assert_eq!(f.kind, ReadFailureKind::AccessDenied, "{f}");
    assert_eq!(f.sw.map(|s| s.to_u16()), Some(0x6300), "{f}");
    let fx = fixture();
    let v = Verifier::new(fx.trust.clone()).verify_failed_read(&fx.record, None, &f).expect("verdict");
    assert_cause3(&v, "chip.read.pace_mutual_authenticate");
}

#[test]
fn pace_only_card_reads_over_pace_and_refuses_bac() {
    let (image, secrets) = card(&pace(KeyAgreement::Ecdh, Cipher::Aes128, 13));
    let Some(run) = read_case(image.clone(), secrets.clone(), Faults::default(), AccessMode::PaceOnly, |r| r, AccessPolicy::Auto, 1) else { return };
    let o = ok(run, "pace-only card");
    assert!(o.access.pace.is_some());
    let run = read_case(image, secrets, Faults::default(), AccessMode::PaceOnly, |r| r, AccessPolicy::BacOnly, 1).unwrap();
    let f = failed(run, "pace-only card read with bac");
    assert_eq!(f.step, ReadStep::GetChallenge, "{f}");
}

#[test]
fn bac_fallback_when_the_chip_has_no_usable_pace() {
    // No EF.CardAccess at all.
    let (image, secrets) = card(&ChipSecurity { pace: Vec::new(), chip_authentication: None, active_authentication: None, can: None });
    let Some(run) = simple(image, secrets) else { return };
    let o = ok(run, "no ef.cardaccess");
    assert!(o.access.pace.is_none() && o.access.bac_because.is_none(), "{:?}", o.access);
    assert_eq!(check(&o, "chip.access"), "bac");
    // EF.CardAccess offering only Integrated Mapping (not run by this station): BAC, with the reason.
    let (mut image, secrets) = card(&pace(KeyAgreement::Ecdh, Cipher::Aes128, 13));
    let im = SecurityInfos {
        infos: vec![SecurityInfo::Pace(PaceInfo {
            protocol: PaceProtocol { agreement: KeyAgreement::Ecdh, mapping: Mapping::Integrated, cipher: Cipher::Aes128 },
            version: 2,
            parameter_id: Some(13),
        })],
    };
    image.insert(FileId::CardAccess, lds::encode_card_access(&im));
    let o = ok(simple(image, secrets).unwrap(), "integrated mapping only");
    assert!(o.access.pace.is_none());
    assert!(o.access.bac_because.as_deref().is_some_and(|w| w.contains("not generic mapping")), "{:?}", o.access);
    assert_eq!(verify(&o).verdict.status, Status::Pass);
    // A BAC-only chip that hides its EF.CardAccess.
    let (image, secrets) = card(&pace(KeyAgreement::Ecdh, Cipher::Aes128, 13));
    let run = read_case(image, secrets, Faults::default(), AccessMode::BacOnly, |r| r, AccessPolicy::Auto, 1).unwrap();
    assert!(ok(run, "bac-only chip").access.pace.is_none());
}

#[test]
fn a_mac_failure_mid_read_under_pace_is_cause_3() {
    let (image, secrets) = card(&pace(KeyAgreement::Ecdh, Cipher::Aes128, 13));
    // APDU 1 EF.CardAccess, 2 MSE:Set AT, 3-6 General Authenticate, 7 SELECT, 8.. files.
    let faults = Faults { wrong_answers: Some(WrongAnswers { kind: WrongAnswerKind::Mac, nth: 12, repeat: false }), ..Faults::default() };
    let Some(run) = read_case(image, secrets, faults, AccessMode::Both, |r| r, AccessPolicy::Auto, 1) else { return };
    let f = failed(run, "mac failure under pace");
    assert!(matches!(f.kind, ReadFailureKind::SecureMessaging(_)), "{f}");
    let fx = fixture();
    let v = Verifier::new(fx.trust.clone()).verify_failed_read(&fx.record, None, &f).expect("verdict");
    assert_cause3(&v, "chip.read.read_");
}

#[test]
fn card_pulled_during_pace_fails_cleanly_and_a_retry_reads_it() {
    let (image, secrets) = card(&pace(KeyAgreement::Ecdh, Cipher::Aes128, 13));
    for step in 1..=4u8 {
        let faults = Faults { leave_during_pace: Some(step), ..Faults::default() };
        let Some(run) = read_case(image.clone(), secrets.clone(), faults, AccessMode::Both, |r| r, AccessPolicy::Auto, 1) else { return };
        let f = failed(run, &format!("pulled at pace step {step}"));
        assert_eq!(f.kind, ReadFailureKind::CardRemoved, "{f}");
        let expected = [ReadStep::PaceNonce, ReadStep::PaceMapping, ReadStep::PaceKeyAgreement, ReadStep::PaceMutualAuthenticate][usize::from(step - 1)];
        assert_eq!(f.step, expected, "{f}");
    }
    let faults = Faults { leave_during_pace: Some(3), reinsert_after_ms: Some(300), ..Faults::default() };
    let run = read_case(image, secrets, faults, AccessMode::Both, |r| r, AccessPolicy::Auto, 3).unwrap();
    let o = ok(run, "pulled at pace step 3, put back");
    assert!(o.stats.attempts >= 2 && o.access.pace.is_some(), "{:?}", o.stats);
    assert_eq!(verify(&o).verdict.status, Status::Pass);
}

#[test]
fn chip_and_active_authentication_good_and_bad() {
    let (image, secrets) = card(&ChipSecurity::modern());
    let Some(run) = simple(image.clone(), secrets.clone()) else { return };
    let o = ok(run, "modern chip");
    assert!(o.chip_authentication.passed() && o.active_authentication.passed(), "{o:?}");
    let v = verify(&o);
    assert_eq!(v.verdict.status, Status::Pass, "{:#?}", v.verdict);
    assert_eq!(check(&o, "chip.chip_authentication"), "passed");
    assert_eq!(check(&o, "chip.active_authentication"), "passed");

    // A clone: its chip authentication key is not the one of DG14.
    let faults = Faults { ca_wrong_key: true, ..Faults::default() };
    let run = read_case(image.clone(), secrets.clone(), faults, AccessMode::Both, |r| r, AccessPolicy::Auto, 1).unwrap();
    let f = failed(run, "chip authentication with the wrong key");
    assert_eq!((f.step, f.kind.clone()), (ReadStep::ChipAuthentication, ReadFailureKind::ChipAuthenticationFailed), "{f}");
    let fx = fixture();
    let v = Verifier::new(fx.trust.clone()).verify_failed_read(&fx.record, None, &f).expect("verdict");
    assert_cause3(&v, "chip.read.chip_authentication");

    // Active authentication whose signature does not verify.
    let faults = Faults { aa_bad_signature: true, ..Faults::default() };
    let run = read_case(image.clone(), secrets.clone(), faults, AccessMode::Both, |r| r, AccessPolicy::Auto, 1).unwrap();
    let o = ok(run, "active authentication corrupted");
    assert!(matches!(o.active_authentication, AuthRun::Failed(_)), "{:?}", o.active_authentication);
    assert_cause3(&verify(&o), "chip.active_authentication");

    // A DG14 that passive authentication does not cover: the chip authentication pass does not count.
    let mut tampered = o.clone();
    tampered.active_authentication = AuthRun::NotOffered;
    if let Some(dg14) = tampered.image.files.get_mut(&FileId::Dg14) {
        dg14.push(0);
    }
    let v = verify(&tampered);
    assert_cause3(&v, "chip.dg14.hash");
    let ca = v.verdict.chip_checks.iter().find(|c| c.item == "chip.chip_authentication").expect("ca check");
    assert_eq!(ca.result, "not_counted", "{ca:?}");

    // RSA active authentication, BAC, chip authentication with 3DES on P-256.
    let security = ChipSecurity {
        pace: Vec::new(),
        chip_authentication: Some((Cipher::Tdes, 12)),
        active_authentication: Some(AaKey::Rsa(1024)),
        can: None,
    };
    let (image, secrets) = card(&security);
    let o = ok(simple(image, secrets).unwrap(), "bac + ca 3des p-256 + aa rsa-1024");
    assert!(o.chip_authentication.passed() && o.active_authentication.passed(), "{o:?}");
    assert_eq!(verify(&o).verdict.status, Status::Pass);
}

#[test]
fn sample_card_over_pace_costs_at_most_1_3x_the_bac_read_plus_the_handshake() {
    // The independent sample card with an EF.CardAccess added (outside EF.SOD): the same files.
    let mut image = pass_case_image();
    let trust = TrustStore::load_dir(&repo().join("fixtures/samples/trust")).expect("trust");
    let bac_run = read_case(image.clone(), ChipSecrets::default(), Faults::default(), AccessMode::Both, |r| r, AccessPolicy::Auto, 1);
    let Some(bac_run) = bac_run else { return };
    let bac = ok(bac_run, "sample card over bac");
    let pace = SecurityInfos {
        infos: vec![SecurityInfo::Pace(PaceInfo {
            protocol: PaceProtocol { agreement: KeyAgreement::Ecdh, mapping: Mapping::Generic, cipher: Cipher::Aes128 },
            version: 2,
            parameter_id: Some(12),
        })],
    };
    image.insert(FileId::CardAccess, lds::encode_card_access(&pace));
    let pace_run = read_case(image, ChipSecrets::default(), Faults::default(), AccessMode::Both, |r| r, AccessPolicy::Auto, 1).unwrap();
    let p = ok(pace_run, "sample card over pace (P-256)");
    assert!(p.access.pace.is_some());
    let fx = fixture();
    let s_record = records::acceptance::load_dir(&repo().join("fixtures/samples/pass-case/acceptance/451022202404011140")).expect("record");
    let v = Verifier::new(trust).verify_read(&s_record, None, &p);
    assert_eq!(v.verdict.status, Status::Pass, "{:#?}", v.verdict);
    let _ = fx;
    // The handshake: EF.CardAccess read, MSE:Set AT and four General Authenticate.
    let handshake = 6u64;
    let (b, q) = (bac.stats.total.apdus, p.stats.total.apdus);
    say(&format!(
        "sample card: bac {b} APDUs ({} file APDUs), pace {q} APDUs ({} file APDUs); bound 1.3 x {b} + {handshake} = {:.1}",
        bac.stats.file_apdus(),
        p.stats.file_apdus(),
        1.3 * b as f64 + handshake as f64
    ));
    assert!((q as f64) <= 1.3 * b as f64 + handshake as f64, "pace read {q} APDUs against bac {b}");
    assert_eq!(p.stats.file_apdus(), bac.stats.file_apdus(), "the same files in the same chunks");
}

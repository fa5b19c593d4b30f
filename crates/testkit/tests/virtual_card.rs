//! The read engine against the emulator's `VirtualCard` in process (no pcscd): the sample chip
//! byte for byte, a wrong BAC key, a chip limited to Le 100 in each of its five ways, the APDU
//! count of a 20 KB DG2 against the minimum, a protected DG3, the card pulled at 20 points of
//! the read (a typed failure, then a clean resumed read), and random fault mixes never panicking.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed expectation is the failure

use std::path::Path;

use proptest::prelude::*;

use idcheck_chip::apdu::StatusWord;
use idcheck_chip::bac::BacKey;
use idcheck_chip::failure::{ReadFailureKind, ReadStep};
use idcheck_chip::read::{read_chip, ChipReader, ReadOptions, ReadOutcome, ReadProfile};
use idcheck_testkit::emulator::{CardConfig, Faults, MaxLe, MaxLeBehaviour, VirtualCard, WrongAnswerKind, WrongAnswers};
use idcheck_core::lds::{parse_dg1, ChipImage, FileId};
use idcheck_core::tlv;

fn sample() -> (ChipImage, BacKey) {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("fixtures/samples/pass-case/chip");
    let image = ChipImage::load_dir(&dir).unwrap();
    let key = BacKey::from_mrz(&parse_dg1(image.get(FileId::Dg1).unwrap()).unwrap()).unwrap();
    (image, key)
}

/// The sample image with a DG2 of exactly `len` bytes (outer TLV 75 82 LL LL, filler value).
fn with_dg2_of(len: usize) -> (ChipImage, BacKey) {
    let (mut image, key) = sample();
    let value: Vec<u8> = (0..len - 4).map(|i| (i * 7 % 251) as u8).collect();
    let dg2 = tlv::encode(0x75, &value);
    assert_eq!(dg2.len(), len);
    image.insert(FileId::Dg2, dg2);
    (image, key)
}

fn card(image: &ChipImage, faults: Faults, config: CardConfig) -> VirtualCard {
    VirtualCard::with_config(image.clone(), faults, CardConfig { rng_seed: Some(7), ..config }).unwrap()
}

fn read(card: &mut VirtualCard, key: &BacKey) -> Result<ReadOutcome, idcheck_chip::ReadFailure> {
    read_chip(card, key, &ReadOptions::default())
}

#[test]
fn sample_chip_reads_byte_for_byte() {
    let (image, key) = sample();
    let mut c = card(&image, Faults::default(), CardConfig::default());
    let out = read(&mut c, &key).unwrap();
    assert_eq!(out.image, image);
    assert_eq!(out.stats.total.apdus as u64, c.apdus_served());
    assert_eq!(c.stats().sm_errors, 0);
    let min = out.stats.min_file_apdus(223);
    eprintln!(
        "sample chip ({} file bytes): {} apdus in all ({} setup, {} for files; minimum for the files at 223 bytes each {min})",
        out.stats.file_bytes(),
        out.stats.total.apdus,
        out.stats.setup.apdus,
        out.stats.file_apdus()
    );
    // One header read per file on top of the minimum.
    assert_eq!(out.stats.file_apdus(), min + out.stats.files.len() as u64);
}

#[test]
fn wrong_bac_key_is_access_denied() {
    let (image, _) = sample();
    let mut c = card(&image, Faults::default(), CardConfig::default());
    let wrong = BacKey::from_mrz_information("L898902C<369080619406236").unwrap();
    let f = read(&mut c, &wrong).unwrap_err();
    assert_eq!(f.step, ReadStep::MutualAuthenticate);
    assert_eq!(f.kind, ReadFailureKind::AccessDenied);
    assert!(f.sw.is_some());
}

#[test]
fn max_le_100_reads_with_smaller_chunks() {
    let (image, key) = with_dg2_of(20 * 1024);
    for behaviour in MaxLeBehaviour::ALL {
        let faults = Faults { max_le: Some(MaxLe { limit: 100, behaviour }), ..Faults::default() };
        let mut c = card(&image, faults, CardConfig::default());
        let out = read(&mut c, &key).unwrap_or_else(|f| panic!("{behaviour:?}: {f}"));
        assert_eq!(out.image, image, "{behaviour:?}");
        assert_eq!(out.stats.chunk, 100, "{behaviour:?}");
        let dg2 = out.stats.file(FileId::Dg2).unwrap();
        let extra = out.stats.file_apdus() - out.stats.min_file_apdus(100);
        eprintln!(
            "max le 100 ({}): dg2 {} apdus (minimum at 100 bytes {}), files {} apdus, {extra} above the minimum for all files",
            behaviour.name(),
            dg2.io.apdus,
            dg2.min_apdus(100),
            out.stats.file_apdus()
        );
        // Header reads plus the few probes that find the limit.
        assert!(extra <= out.stats.files.len() as u64 + 8, "{behaviour:?}: {extra} extra apdus");
    }
}

#[test]
fn twenty_kb_dg2_apdus_against_the_minimum() {
    let (image, key) = with_dg2_of(20 * 1024);
    let mut c = card(&image, Faults::default(), CardConfig::default());
    let out = read(&mut c, &key).unwrap();
    assert_eq!(out.image, image);
    let dg2 = out.stats.file(FileId::Dg2).unwrap();
    let min = dg2.min_apdus(223);
    eprintln!(
        "20 KB DG2 (short apdus): {} apdus, minimum {min} = ceil(20480/223); {} bytes sent, {} received for it",
        dg2.io.apdus, dg2.io.bytes_sent, dg2.io.bytes_received
    );
    assert_eq!(dg2.io.apdus as u64, min + 1);

    let mut c = card(&image, Faults::default(), CardConfig { extended_length: true, ..CardConfig::default() });
    let out = read(&mut c, &key).unwrap();
    assert_eq!(out.image, image);
    assert!(out.capabilities.extended_length);
    let dg2 = out.stats.file(FileId::Dg2).unwrap();
    eprintln!("20 KB DG2 (extended, chunk {}): {} apdus", out.stats.chunk, dg2.io.apdus);
    // No chunk was cut short by the card: every file came in header + ceil(rest / chunk).
    assert!(out.stats.files.iter().all(|f| f.retries == 0 && f.chunk == out.stats.chunk), "{:?}", out.stats.files);
    assert!(dg2.io.apdus as u64 <= dg2.min_apdus(out.stats.chunk) + 1);
    assert!(dg2.io.apdus < 40);
}

#[test]
fn extended_length_probe_against_both_kinds_of_card() {
    use idcheck_chip::read::ExtendedLength;
    let (image, key) = with_dg2_of(20 * 1024);
    let probe = ReadOptions { extended_length: ExtendedLength::Probe, ..ReadOptions::default() };
    let mut c = card(&image, Faults::default(), CardConfig::default());
    let out = read_chip(&mut c, &key, &probe).unwrap();
    assert_eq!(out.image, image);
    assert!(!out.capabilities.extended_length);
    assert_eq!(out.stats.chunk, 223);
    assert_eq!(c.stats().sm_errors, 0, "a refused extended probe must not break the session");
    let never = ReadOptions { extended_length: ExtendedLength::Never, ..ReadOptions::default() };
    let mut c = card(&image, Faults::default(), CardConfig { extended_length: true, ..CardConfig::default() });
    let out = read_chip(&mut c, &key, &never).unwrap();
    assert_eq!(out.image, image);
    assert_eq!(out.stats.chunk, 223);
    // SELECT EF.CardAccess (absent: 6A82), SELECT the application, GET CHALLENGE, EXTERNAL
    // AUTHENTICATE: no EF.ATR/INFO read when extended length is off.
    assert_eq!(out.stats.setup.apdus, 4, "no EF.ATR/INFO read when extended length is off");
}

#[test]
fn protected_dg3_is_reported_as_such() {
    let (image, key) = sample();
    let faults = Faults { dg3_protected: true, ..Faults::default() };
    let mut c = card(&image, faults.clone(), CardConfig::default());
    let f = read(&mut c, &key).unwrap_err();
    assert_eq!(f.step, ReadStep::ReadFile(FileId::Dg3));
    assert_eq!(f.kind, ReadFailureKind::FileAccessDenied(FileId::Dg3));
    assert_eq!(f.sw, Some(StatusWord::SecurityNotSatisfied));

    let mut c = card(&image, faults, CardConfig::default());
    let out = read_chip(&mut c, &key, &ReadOptions { profile: ReadProfile::Icao, ..ReadOptions::default() }).unwrap();
    assert_eq!(out.skipped.len(), 1);
    assert_eq!(out.skipped[0].file, FileId::Dg3);
}

#[test]
fn card_pulled_at_twenty_points() {
    let (image, key) = with_dg2_of(20 * 1024);
    let mut c = card(&image, Faults::default(), CardConfig::default());
    let total_bytes = read(&mut c, &key).unwrap().stats.total.bytes_received as usize;
    let mut removed = 0;
    for i in 0..20 {
        let leave = total_bytes * i / 20 + i;
        let faults = Faults { leave_after_bytes: Some(leave), ..Faults::default() };
        let mut c = card(&image, faults, CardConfig::default());
        let mut reader = ChipReader::new(&key, ReadOptions::default());
        match reader.read(&mut c) {
            Ok(out) => assert_eq!(out.image, image, "leave after {leave}"),
            Err(f) => {
                assert_eq!(f.kind, ReadFailureKind::CardRemoved, "leave after {leave}: {f}");
                assert!(f.is_transient());
                removed += 1;
            }
        }
        // Put back: the same reader resumes and finishes.
        let faults = Faults { leave_after_bytes: Some(leave), reinsert_after_ms: Some(0), ..Faults::default() };
        let mut c = card(&image, faults, CardConfig::default());
        let mut reader = ChipReader::new(&key, ReadOptions::default());
        let out = reader.read_with_reconnect(&mut c, 3).unwrap_or_else(|f| panic!("leave after {leave}: {f}"));
        assert_eq!(out.image, image, "leave after {leave}");
    }
    assert!(removed >= 19, "only {removed} of 20 pulls hit the read");
}

#[test]
fn mute_card_is_mute() {
    let (image, key) = sample();
    for n in [1u64, 3, 6, 12] {
        let mut c = card(&image, Faults { mute_after_apdus: Some(n), ..Faults::default() }, CardConfig::default());
        let f = read(&mut c, &key).unwrap_err();
        assert_eq!(f.kind, ReadFailureKind::Mute, "mute from {n}");
    }
}

#[test]
fn wrong_answers_give_typed_failures() {
    let (image, key) = sample();
    for kind in WrongAnswerKind::ALL {
        for nth in 1..=14u64 {
            let faults = Faults { wrong_answers: Some(WrongAnswers { kind, nth, repeat: false }), ..Faults::default() };
            let mut c = card(&image, faults, CardConfig::default());
            match read(&mut c, &key) {
                Ok(out) => assert_eq!(out.image, image, "{kind:?} at {nth} accepted as data"),
                Err(f) => assert!(
                    !matches!(f.kind, ReadFailureKind::Mute | ReadFailureKind::CardRemoved | ReadFailureKind::HostFault),
                    "{kind:?} at {nth}: {f}"
                ),
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_faults_never_panic(kind in 0usize..5, nth in 1u64..40, repeat in any::<bool>(), limit in 1usize..300, beh in 0usize..5, seed in any::<u64>()) {
        let (image, key) = sample();
        let faults = Faults {
            wrong_answers: Some(WrongAnswers { kind: WrongAnswerKind::ALL[kind], nth, repeat }),
            max_le: Some(MaxLe { limit, behaviour: MaxLeBehaviour::ALL[beh] }),
            ..Faults::default()
        };
        let mut c = VirtualCard::with_config(image.clone(), faults, CardConfig { rng_seed: Some(seed), ..CardConfig::default() }).unwrap();
        if let Ok(out) = read(&mut c, &key) {
            prop_assert_eq!(out.image, image);
        }
    }
}

//! Tests of the whole read against the test card (`testcard`): the sample chip byte for byte,
//! wrong keys, every way a chip limits Le, B1 past 32767, SELECT fallback, extended length,
//! refused and missing files, card removal and resumption, and answers that are garbage.

use std::path::Path;

use proptest::prelude::*;

use super::access::FixedRandomness;
use super::apdu::StatusWord;
use super::bac::BacKey;
use super::failure::{ReadFailureKind, ReadStep};
use super::read::{read_chip, ChipReader, ExtendedLength, ReadOptions, ReadOutcome, ReadProfile, SkipReason};
use super::testcard::{LeBehaviour, MockCard, MockFaults};
use super::transport::{ScriptedTransport, Transport};
use super::ReadFailure;
use idcheck_core::lds::{parse_dg1, ChipImage, FileId};
use idcheck_core::tlv;

fn sample() -> (ChipImage, BacKey) {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("fixtures/samples/pass-case/chip");
    let image = ChipImage::load_dir(&dir).expect("sample chip image");
    let mrz = parse_dg1(image.get(FileId::Dg1).expect("dg1")).expect("dg1 parses");
    let key = BacKey::from_mrz(&mrz).expect("bac key");
    (image, key)
}

fn host_rng() -> Box<FixedRandomness> {
    Box::new(FixedRandomness::new((0..4096u32).map(|i| (i * 31 + 7) as u8).collect::<Vec<u8>>()))
}

fn read_with(card: &mut dyn Transport, key: &BacKey, opts: ReadOptions) -> Result<ReadOutcome, ReadFailure> {
    ChipReader::new(key, opts).with_randomness(host_rng()).read(card)
}

/// The sample image with DG2 replaced by a `len`-byte file (tag 75, filler value).
fn with_big_dg2(len: usize) -> (ChipImage, BacKey) {
    let (mut image, key) = sample();
    // Header of 4 bytes (75 82 LL LL) for values of 256..65535 bytes, 5 bytes (75 83 ..) above.
    let hdr = if len - 4 < 0x1_0000 { 4 } else { 5 };
    let value: Vec<u8> = (0..len - hdr).map(|i| (i % 251) as u8).collect();
    let dg2 = tlv::encode(0x75, &value);
    assert_eq!(dg2.len(), len);
    image.insert(FileId::Dg2, dg2);
    (image, key)
}

#[test]
fn sample_card_reads_byte_for_byte() {
    let (image, key) = sample();
    let mut card = MockCard::new(image.clone(), key.clone(), MockFaults::default());
    let out = read_with(&mut card, &key, ReadOptions::default()).unwrap();
    assert_eq!(out.image, image);
    assert_eq!(out.protocol, "BAC");
    assert!(out.skipped.is_empty());
    let s = &out.stats;
    assert_eq!(s.attempts, 1);
    assert_eq!(s.chunk, 223);
    // Setup: EF.ATR/INFO, EF.CardAccess (none: BAC), SELECT, GET CHALLENGE, EXTERNAL AUTHENTICATE.
    assert_eq!(s.setup.apdus, 5);
    // Each file: the 4-byte header, then ceil((len - 4) / 223) chunks.
    for f in &s.files {
        let expect = 1 + (f.length as u64 - 4).div_ceil(223);
        assert_eq!(f.io.apdus as u64, expect, "{:?}", f.file);
    }
    assert_eq!(s.total.apdus as u64, 5 + s.file_apdus());
    assert_eq!(s.total.apdus, card.apdus);
    assert_eq!(s.file_bytes(), image.files.values().map(|v| v.len() as u64).sum::<u64>());
    // Only secured reads touched the files, all of them short (Le <= 223).
    assert!(card.reads.iter().all(|(ins, le)| *ins == 0xB0 && *le <= 223), "{:?}", card.reads);
}

#[test]
fn wrong_bac_key_is_access_denied() {
    let (image, key) = sample();
    let mut card = MockCard::new(image, key, MockFaults::default());
    let wrong = BacKey::from_fields("123456789", "800101", "300101").unwrap();
    let f = read_with(&mut card, &wrong, ReadOptions::default()).unwrap_err();
    assert_eq!(f.step, ReadStep::MutualAuthenticate);
    assert_eq!(f.kind, ReadFailureKind::AccessDenied);
    assert_eq!(f.sw, Some(StatusWord::VerificationFailed));
    assert_eq!(f.to_string(), "mutual authenticate: access refused by the chip (status 6300 (verification failed))");
}

#[test]
fn every_le_limit_behaviour_still_reads() {
    let (image, key) = with_big_dg2(20 * 1024);
    let mut report = Vec::new();
    for beh in [LeBehaviour::WrongLength, LeBehaviour::WrongLe, LeBehaviour::Truncate, LeBehaviour::EndOfFile, LeBehaviour::WrongParameters] {
        let faults = MockFaults { max_le: Some((100, beh)), ..MockFaults::default() };
        let mut card = MockCard::new(image.clone(), key.clone(), faults);
        let out = read_with(&mut card, &key, ReadOptions::default()).unwrap_or_else(|e| panic!("{beh:?}: {e}"));
        assert_eq!(out.image, image, "{beh:?}");
        assert!(card.reads.iter().filter(|(ins, _)| *ins == 0xB0).skip(12).all(|(_, le)| *le <= 100), "{beh:?}");
        let dg2 = out.stats.file(FileId::Dg2).unwrap();
        let min = dg2.min_apdus(100);
        report.push(format!("{beh:?}: dg2 {} apdus (min at 100: {min}), total {}", dg2.io.apdus, out.stats.total.apdus));
        // At most a handful of APDUs more than the minimum at the chip's limit, over the session.
        assert!(out.stats.file_apdus() <= out.stats.min_file_apdus(100) + out.stats.files.len() as u64 + 8, "{beh:?}: {report:?}");
        assert_eq!(out.stats.chunk, 100, "{beh:?}");
    }
    eprintln!("{}", report.join("\n"));
}

#[test]
fn twenty_kb_dg2_apdu_count_against_minimum() {
    let (image, key) = with_big_dg2(20 * 1024);
    let mut card = MockCard::new(image.clone(), key.clone(), MockFaults::default());
    let out = read_with(&mut card, &key, ReadOptions::default()).unwrap();
    assert_eq!(out.image, image);
    let dg2 = out.stats.file(FileId::Dg2).unwrap();
    let min = dg2.min_apdus(223);
    eprintln!("20 KB DG2: {} apdus, minimum at 223 bytes/apdu {min}; whole card {} apdus ({} setup), {} bytes sent, {} received",
        dg2.io.apdus, out.stats.total.apdus, out.stats.setup.apdus, out.stats.total.bytes_sent, out.stats.total.bytes_received);
    assert_eq!(dg2.io.apdus as u64, min + 1, "header read plus full chunks");
}

#[test]
fn odd_ins_past_32767() {
    let (image, key) = with_big_dg2(70_000);
    let mut card = MockCard::new(image.clone(), key.clone(), MockFaults::default());
    let out = read_with(&mut card, &key, ReadOptions::default()).unwrap();
    assert_eq!(out.image, image);
    assert!(card.reads.iter().any(|(ins, _)| *ins == 0xB1));
    // Even reads never address past 32767 (P1-P2 offset has 15 bits).
    let odd = card.reads.iter().filter(|(ins, _)| *ins == 0xB1).count();
    assert!(odd as u64 >= (70_000u64 - 32_768).div_ceil(223));
}

#[test]
fn select_by_fid_when_sfi_refused() {
    let (image, key) = sample();
    let mut card = MockCard::new(image.clone(), key.clone(), MockFaults { no_sfi: true, ..MockFaults::default() });
    let out = read_with(&mut card, &key, ReadOptions::default()).unwrap();
    assert_eq!(out.image, image);
    assert!(card.reads.iter().any(|(ins, _)| *ins == 0xA4));
}

#[test]
fn extended_length_from_atr_info_and_probe() {
    let (image, key) = with_big_dg2(20 * 1024);
    let mut card = MockCard::new(image.clone(), key.clone(), MockFaults { extended: true, ..MockFaults::default() });
    let out = read_with(&mut card, &key, ReadOptions::default()).unwrap();
    assert_eq!(out.image, image);
    assert!(out.capabilities.extended_length);
    let dg2 = out.stats.file(FileId::Dg2).unwrap();
    assert!(dg2.io.apdus < 20, "extended reads: {} apdus", dg2.io.apdus);
    assert!(out.stats.chunk > 223 && out.stats.chunk < 2048);

    // Not announced, never used under Auto.
    let mut card = MockCard::new(image.clone(), key.clone(), MockFaults { accepts_extended: true, ..MockFaults::default() });
    let out = read_with(&mut card, &key, ReadOptions::default()).unwrap();
    assert!(card.reads.iter().all(|(_, le)| *le <= 223));
    assert!(!out.capabilities.extended_length);

    // Probe: used when accepted, dropped when refused.
    let probe = ReadOptions { extended_length: ExtendedLength::Probe, ..ReadOptions::default() };
    let mut card = MockCard::new(image.clone(), key.clone(), MockFaults { accepts_extended: true, ..MockFaults::default() });
    let out = read_with(&mut card, &key, probe.clone()).unwrap();
    assert_eq!(out.image, image);
    assert!(out.capabilities.extended_length);
    let mut card = MockCard::new(image.clone(), key.clone(), MockFaults::default());
    let out = read_with(&mut card, &key, probe).unwrap();
    assert_eq!(out.image, image);
    assert!(!out.capabilities.extended_length);
    assert_eq!(out.stats.chunk, 223);
}

#[test]
fn dg3_refused_is_reported_or_skipped() {
    let (image, key) = sample();
    let faults = MockFaults { refuse: vec![(FileId::Dg3, StatusWord::SecurityNotSatisfied)], ..MockFaults::default() };
    let mut card = MockCard::new(image.clone(), key.clone(), faults.clone());
    let f = read_with(&mut card, &key, ReadOptions::default()).unwrap_err();
    assert_eq!(f.step, ReadStep::ReadFile(FileId::Dg3));
    assert_eq!(f.kind, ReadFailureKind::FileAccessDenied(FileId::Dg3));
    assert_eq!(f.sw, Some(StatusWord::SecurityNotSatisfied));
    assert_eq!(f.to_string(), "read DG3: access to DG3 refused (status 6982 (security status not satisfied))");

    let icao = ReadOptions { profile: ReadProfile::Icao, ..ReadOptions::default() };
    let mut card = MockCard::new(image.clone(), key.clone(), faults);
    let out = read_with(&mut card, &key, icao).unwrap();
    assert_eq!(out.skipped.len(), 1);
    assert_eq!(out.skipped[0].kind, SkipReason::AccessDenied);
    assert!(out.image.get(FileId::Dg3).is_none());
    assert_eq!(out.image.files.len(), image.files.len() - 1);
}

#[test]
fn listed_file_missing_and_no_application() {
    let (mut image, key) = sample();
    image.remove(FileId::Dg13);
    let mut card = MockCard::new(image.clone(), key.clone(), MockFaults::default());
    let f = read_with(&mut card, &key, ReadOptions::default()).unwrap_err();
    assert_eq!(f.kind, ReadFailureKind::FileMissing(FileId::Dg13));
    assert_eq!(f.sw, Some(StatusWord::FileNotFound));

    // EF.ATR/INFO and EF.CardAccess absent, then SELECT refused.
    let mut t = ScriptedTransport::new().answer(vec![0x6A, 0x82]).answer(vec![0x6A, 0x82]).answer(vec![0x6A, 0x82]);
    let f = read_chip(&mut t, &key, &ReadOptions::default()).unwrap_err();
    assert_eq!(f.step, ReadStep::SelectApplication);
    assert_eq!(f.kind, ReadFailureKind::ApplicationMissing);
}

#[test]
fn header_lies() {
    // A header announcing 16 MB.
    let (mut image, key) = sample();
    image.insert(FileId::Dg1, vec![0x61, 0x83, 0xFF, 0xFF, 0xFF, 0x00]);
    let mut card = MockCard::new(image, key.clone(), MockFaults::default());
    let f = read_with(&mut card, &key, ReadOptions::default()).unwrap_err();
    assert_eq!(f.kind, ReadFailureKind::FileTooLarge(FileId::Dg1));

    // A header announcing more than the file holds.
    let (mut image, key) = sample();
    let mut dg1 = image.get(FileId::Dg1).unwrap().to_vec();
    dg1[1] += 0x20;
    image.insert(FileId::Dg1, dg1);
    let mut card = MockCard::new(image, key.clone(), MockFaults::default());
    let f = read_with(&mut card, &key, ReadOptions::default()).unwrap_err();
    assert_eq!(f.kind, ReadFailureKind::FileTruncated(FileId::Dg1));
    assert!(f.retries > 0);

    // Not a TLV at all.
    let (mut image, key) = sample();
    image.insert(FileId::Dg11, vec![0x00, 0x00, 0x00, 0x00, 0x00]);
    let mut card = MockCard::new(image, key.clone(), MockFaults::default());
    let f = read_with(&mut card, &key, ReadOptions::default()).unwrap_err();
    assert_eq!(f.kind, ReadFailureKind::FileUnparsable(FileId::Dg11));
}

#[test]
fn bad_mac_is_a_secure_messaging_error() {
    let (image, key) = sample();
    let mut card = MockCard::new(image, key.clone(), MockFaults { bad_mac_at: Some(7), ..MockFaults::default() });
    let f = read_with(&mut card, &key, ReadOptions::default()).unwrap_err();
    assert!(matches!(f.kind, ReadFailureKind::SecureMessaging(super::SmError::MacMismatch { .. })), "{f}");
    assert!(matches!(f.step, ReadStep::ReadFile(_)));
}

#[test]
fn get_response_chains_are_followed() {
    let (image, key) = sample();
    let mut card = MockCard::new(image.clone(), key.clone(), MockFaults { chain_above: Some(64), ..MockFaults::default() });
    let out = read_with(&mut card, &key, ReadOptions::default()).unwrap();
    assert_eq!(out.image, image);
    assert!(out.stats.total.get_responses > 0);
}

#[test]
fn card_removed_mid_read_then_resumed() {
    let (image, key) = with_big_dg2(20 * 1024);
    for cut in [1u32, 3, 4, 6, 9, 15, 40, 80] {
        let mut card = MockCard::new(image.clone(), key.clone(), MockFaults { remove_after: Some(cut), ..MockFaults::default() });
        let mut reader = ChipReader::new(&key, ReadOptions::default()).with_randomness(host_rng());
        let f = reader.read(&mut card).unwrap_err();
        assert_eq!(f.kind, ReadFailureKind::CardRemoved, "cut {cut}: {f}");
        assert!(f.is_transient());
        let kept = reader.partial().files.len();
        card.reset().unwrap();
        let out = reader.read(&mut card).unwrap_or_else(|e| panic!("cut {cut}: {e}"));
        assert_eq!(out.image, image, "cut {cut}");
        assert_eq!(out.stats.attempts, 2);
        // Files finished before the cut were not read again.
        let reads_of_com = out.stats.files.iter().filter(|f| f.file == FileId::Com).count();
        assert_eq!(reads_of_com, 1, "cut {cut}, kept {kept}");
    }
    // read_with_reconnect does the reset itself.
    let mut card = MockCard::new(image.clone(), key.clone(), MockFaults { remove_after: Some(30), ..MockFaults::default() });
    let out = ChipReader::new(&key, ReadOptions::default()).with_randomness(host_rng()).read_with_reconnect(&mut card, 3).unwrap();
    assert_eq!(out.image, image);
}

#[test]
fn garbage_answers_at_every_step_fail_typed() {
    let (image, key) = sample();
    for n in 1..=12u32 {
        for garbage in [vec![], vec![0x90], vec![0x90, 0x00], vec![0x12, 0x34, 0x90, 0x00], vec![0x87, 0x09, 0x01, 0x00, 0x90, 0x00]] {
            let mut card = MockCard::new(image.clone(), key.clone(), MockFaults { garbage_at: Some((n, garbage.clone())), ..MockFaults::default() });
            match read_with(&mut card, &key, ReadOptions::default()) {
                Ok(out) => assert_eq!(out.image, image, "garbage {garbage:02X?} at {n} was accepted as data"),
                Err(f) => assert!(!f.to_string().is_empty()),
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn random_answers_never_panic(answers in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 0..12)) {
        let (_, key) = sample();
        let mut t = ScriptedTransport::new();
        for a in answers { t = t.answer(a); }
        let _ = read_with(&mut t, &key, ReadOptions::default());
    }

    #[test]
    fn random_answer_mid_session_never_panics(n in 1u32..40, garbage in proptest::collection::vec(any::<u8>(), 0..300)) {
        let (image, key) = sample();
        let mut card = MockCard::new(image.clone(), key.clone(), MockFaults { garbage_at: Some((n, garbage)), ..MockFaults::default() });
        if let Ok(out) = read_with(&mut card, &key, ReadOptions::default()) {
            prop_assert_eq!(out.image, image);
        }
    }
}

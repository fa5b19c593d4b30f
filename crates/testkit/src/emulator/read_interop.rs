//! The host read engine (`chip::read`) against the virtual card, in process: a well-behaved card
//! reads back exactly; every fault ends in the read failure a real chip would cause, or in a
//! clean read after the reader adapts (Le limits) or retries (card back in the field).

use std::path::Path;

use super::card::{CardConfig, VirtualCard};
use super::faults::{Faults, MaxLe, MaxLeBehaviour, WrongAnswerKind, WrongAnswers};
use idcheck_chip::bac::BacKey;
use idcheck_chip::read::{read_chip, ChipReader, ReadOptions};
use idcheck_chip::ReadFailureKind;
use idcheck_core::lds::{parse_dg1, ChipImage, FileId};

fn sample_image() -> ChipImage {
    ChipImage::load_dir(&Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("fixtures/samples/pass-case/chip")).unwrap()
}

fn key(image: &ChipImage) -> BacKey {
    BacKey::from_mrz(&parse_dg1(image.get(FileId::Dg1).unwrap()).unwrap()).unwrap()
}

fn card(image: ChipImage, faults: Faults, config: CardConfig) -> VirtualCard {
    VirtualCard::with_config(image, faults, CardConfig { rng_seed: Some(11), ..config }).unwrap()
}

#[test]
fn a_good_card_reads_back_exactly() {
    let image = sample_image();
    let mut c = card(image.clone(), Faults::default(), CardConfig::default());
    let out = read_chip(&mut c, &key(&image), &ReadOptions::default()).unwrap();
    assert_eq!(out.image, image);
    assert_eq!(c.stats().sm_errors, 0);
    let bytes: usize = image.files.values().map(Vec::len).sum();
    eprintln!("good card: {} APDUs for {bytes} file bytes", c.apdus_served());
}

#[test]
fn every_max_le_behaviour_still_reads_the_card() {
    let image = sample_image();
    for behaviour in MaxLeBehaviour::ALL {
        let faults = Faults { max_le: Some(MaxLe { limit: 120, behaviour }), ..Faults::default() };
        let mut c = card(image.clone(), faults, CardConfig::default());
        let out = read_chip(&mut c, &key(&image), &ReadOptions::default());
        let out = out.unwrap_or_else(|f| panic!("{behaviour:?}: {f}"));
        assert_eq!(out.image, image, "{behaviour:?}");
        eprintln!("max le 120 {behaviour:?}: {} APDUs", c.apdus_served());
    }
}

#[test]
fn extended_length_is_used_when_the_card_offers_it() {
    let image = sample_image();
    let mut short = card(image.clone(), Faults::default(), CardConfig::default());
    read_chip(&mut short, &key(&image), &ReadOptions::default()).unwrap();
    let mut ext = card(image.clone(), Faults::default(), CardConfig { extended_length: true, ..CardConfig::default() });
    let out = read_chip(&mut ext, &key(&image), &ReadOptions::default()).unwrap();
    assert_eq!(out.image, image);
    assert!(ext.apdus_served() < short.apdus_served(), "{} vs {}", ext.apdus_served(), short.apdus_served());
}

#[test]
fn a_file_past_32767_bytes_reads_with_odd_ins() {
    let mut image = sample_image();
    let mut dg2 = image.get(FileId::Dg2).unwrap().to_vec();
    // Grow DG2's content to 40 000 bytes, keeping a valid outer TLV header (75 83 LL LL LL).
    let body: Vec<u8> = (0..40_000u32).map(|i| (i % 253) as u8).collect();
    dg2.clear();
    dg2.extend_from_slice(&[0x75, 0x83, 0x00, 0x9C, 0x40]);
    dg2.extend_from_slice(&body);
    image.insert(FileId::Dg2, dg2);
    let mut c = card(image.clone(), Faults::default(), CardConfig::default());
    let out = read_chip(&mut c, &key(&image), &ReadOptions::default()).unwrap();
    assert_eq!(out.image.get(FileId::Dg2), image.get(FileId::Dg2));
}

#[test]
fn faults_end_in_the_failure_a_real_chip_causes() {
    let image = sample_image();
    type Expect = fn(&ReadFailureKind) -> bool;
    let cases: Vec<(Faults, Expect)> = vec![
        (Faults { mute: true, ..Faults::default() }, |k| matches!(k, ReadFailureKind::Mute)),
        (Faults { leave_after_bytes: Some(600), ..Faults::default() }, |k| matches!(k, ReadFailureKind::CardRemoved)),
        (Faults { no_application: true, ..Faults::default() }, |k| matches!(k, ReadFailureKind::ApplicationMissing)),
        (Faults { dg3_protected: true, ..Faults::default() }, |k| matches!(k, ReadFailureKind::FileAccessDenied(FileId::Dg3))),
        (
            Faults { wrong_answers: Some(WrongAnswers { kind: WrongAnswerKind::Mac, nth: 6, repeat: false }), ..Faults::default() },
            |k| matches!(k, ReadFailureKind::SecureMessaging(_)),
        ),
        (
            Faults { wrong_answers: Some(WrongAnswers { kind: WrongAnswerKind::Garbage, nth: 8, repeat: true }), ..Faults::default() },
            |k| !matches!(k, ReadFailureKind::Mute | ReadFailureKind::CardRemoved),
        ),
    ];
    for (faults, expected) in cases {
        let mut c = card(image.clone(), faults.clone(), CardConfig::default());
        match read_chip(&mut c, &key(&image), &ReadOptions::default()) {
            Ok(_) => panic!("{}: read succeeded", faults.describe()),
            Err(f) => assert!(expected(&f.kind), "{}: {f}", faults.describe()),
        }
    }
    // Wrong BAC key.
    let mut c = card(image.clone(), Faults::default(), CardConfig::default());
    let wrong = BacKey::from_mrz_information("L898902C<369080619406236").unwrap();
    let f = read_chip(&mut c, &wrong, &ReadOptions::default()).unwrap_err();
    assert!(matches!(f.kind, ReadFailureKind::AccessDenied), "{f}");
}

#[test]
fn a_card_pulled_and_put_back_reads_after_a_retry() {
    let image = sample_image();
    let k = key(&image);
    for leave in [0usize, 50, 600, 3000, 9000] {
        let faults = Faults { leave_after_bytes: Some(leave), reinsert_after_ms: Some(0), ..Faults::default() };
        let mut c = card(image.clone(), faults, CardConfig::default());
        let mut reader = ChipReader::new(&k, ReadOptions::default());
        let out = reader.read_with_reconnect(&mut c, 3).unwrap_or_else(|f| panic!("leave after {leave}: {f}"));
        assert_eq!(out.image, image, "leave after {leave}");
    }
}


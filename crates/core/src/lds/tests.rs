//! Tests of the LDS layer against the independent sample card (fixtures/samples/pass-case), chip
//! image directory handling, and "never panics" properties including byte-wise mutation fuzzing
//! of the sample files.

use std::path::{Path, PathBuf};

use proptest::prelude::*;

use super::*;
use crate::biometrics::MinutiaeRecord;
use crate::model::Biometric;

fn sample_dir() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("fixtures/samples/pass-case")
}

fn sample_chip() -> ChipImage {
    static CHIP: std::sync::OnceLock<ChipImage> = std::sync::OnceLock::new();
    CHIP.get_or_init(|| ChipImage::load_dir(&sample_dir().join("chip")).expect("sample chip image loads")).clone()
}

fn sample_record() -> (PathBuf, serde_json::Value) {
    let dir = std::fs::read_dir(sample_dir().join("acceptance"))
        .expect("acceptance dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.join("record.json").exists())
        .expect("one acceptance record");
    let json = std::fs::read_to_string(dir.join("record.json")).expect("record.json");
    (dir, serde_json::from_str(&json).expect("record.json is JSON"))
}

fn s(v: &serde_json::Value, key: &str) -> String {
    v[key].as_str().unwrap_or_else(|| panic!("record.json field {key}")).to_string()
}

fn compact(date: &str) -> String {
    date.replace('-', "")
}

#[test]
fn sample_chip_loads_every_file() {
    let chip = sample_chip();
    assert_eq!(chip.files.len(), 8);
    // The sample card is a BAC card: no EF.CardAccess, DG14 or DG15.
    for id in FileId::ALL {
        let expected = !matches!(id, FileId::Dg14 | FileId::Dg15 | FileId::CardAccess);
        assert_eq!(chip.get(id).is_some_and(|b| !b.is_empty()), expected, "{id} present");
    }
    check_mandatory_resident(&chip).expect("a complete resident card");
    let dbg = format!("{chip:?}");
    assert!(dbg.contains("dg2.bin") && dbg.contains("bytes"), "{dbg}");
}

#[test]
fn sample_chip_values_equal_the_sample_record() {
    let chip = parse_chip(&sample_chip()).expect("the sample chip parses");
    let (dir, rec) = sample_record();
    let id_number = s(&rec, "id_number");

    assert_eq!(chip.com.lds_version, "0107");
    assert_eq!(chip.com.unicode_version, "040000");
    assert_eq!(chip.com.data_groups, vec![FileId::Dg1, FileId::Dg2, FileId::Dg3, FileId::Dg11, FileId::Dg12, FileId::Dg13]);

    let m = &chip.mrz;
    assert_eq!(m.format, MrzFormat::Td1);
    assert_eq!((m.document_code.as_str(), m.issuing_state.as_str(), m.nationality.as_str()), ("I", "CHN", "CHN"));
    assert_eq!(m.citizen_id(), id_number);
    assert_eq!(m.document_number, id_number[9..]);
    assert_eq!(m.name_latin, s(&rec, "name_latin"));
    assert_eq!(m.birth, compact(&s(&rec, "birth_date"))[2..]);
    assert_eq!(m.expiry, compact(&s(&rec, "valid_until"))[2..]);
    assert_eq!(m.sex, if s(&rec, "sex") == "1" { 'M' } else { 'F' });

    let t = chip.text.as_ref().expect("DG13");
    assert_eq!(t.name, s(&rec, "name"));
    assert_eq!(t.sex, s(&rec, "sex"));
    assert_eq!(t.ethnicity, s(&rec, "ethnicity"));
    assert_eq!(t.birth, compact(&s(&rec, "birth_date")));
    assert_eq!(t.address, s(&rec, "address"));
    assert_eq!(t.id_number, id_number);
    assert_eq!(t.authority, s(&rec, "issuing_authority"));
    assert_eq!(t.valid_from, compact(&s(&rec, "valid_from")));
    assert_eq!(t.valid_until, compact(&s(&rec, "valid_until")));
    assert_eq!(t.permit, None);

    let d11 = chip.dg11.as_ref().expect("DG11");
    assert_eq!(d11.full_name.as_deref(), Some(t.name.as_str()));
    assert_eq!(d11.personal_number.as_deref(), Some(id_number.as_str()));
    assert_eq!(d11.birth_date.as_deref(), Some(t.birth.as_str()));
    assert_eq!(d11.address.as_deref(), Some(t.address.as_str()));
    let d12 = chip.dg12.as_ref().expect("DG12");
    assert_eq!(d12.issuing_authority.as_deref(), Some(t.authority.as_str()));
    assert_eq!(d12.date_of_issue.as_deref(), Some(t.valid_from.as_str()));

    assert_eq!(chip.face.format, ImageFormat::Jpeg);
    assert_eq!((chip.face.width, chip.face.height), (240, 320));
    assert!(chip.face.data.bytes().starts_with(&[0xFF, 0xD8]) && chip.face.data.bytes().ends_with(&[0xFF, 0xD9]));

    let fps = rec["fingerprints"].as_array().expect("fingerprints");
    assert_eq!(chip.fingers.len(), fps.len());
    for (slot, fp) in chip.fingers.iter().zip(fps) {
        assert_eq!(u64::from(slot.finger_code), fp["finger"].as_u64().expect("finger"));
        assert_eq!(u64::from(slot.quality), fp["quality"].as_u64().expect("quality"));
        assert_eq!(slot.result, SlotResult::Ok);
        assert_eq!(fp["result"].as_str(), Some("ok"));
        // The slot carries the acceptance template's finger (same finger position) and a
        // similar number of minutiae.
        let iso = MinutiaeRecord::parse(&std::fs::read(dir.join(s(fp, "template"))).expect("template")).expect("ISO record");
        assert_eq!(finger_code_from_iso_position(iso.finger_position), Some(slot.finger_code));
        assert!(!slot.minutiae.is_empty() && slot.minutiae.len() <= iso.minutiae.len() + 5);
    }

    // Debug output carries no personal data.
    let dbg = format!("{chip:?}");
    for secret in [t.name.as_str(), t.address.as_str(), id_number.as_str(), m.name_latin.as_str()] {
        assert!(!dbg.contains(secret), "Debug leaks {secret:?}: {dbg}");
    }
    assert!(dbg.contains("REDACTED"));
}

#[test]
fn sample_files_round_trip_byte_for_byte() {
    let chip = sample_chip();
    let get = |id: FileId| chip.get(id).expect("present").to_vec();
    let data = parse_chip(&chip).expect("parses");
    assert_eq!(data.com.to_bytes(), get(FileId::Com));
    assert_eq!(encode_com(&data.com.data_groups), get(FileId::Com));
    assert_eq!(encode_dg1(&data.mrz), get(FileId::Dg1));
    let (face, info) = parse_dg2_full(&get(FileId::Dg2)).expect("DG2");
    assert_eq!(encode_dg2_with(&face, &info), get(FileId::Dg2));
    assert_eq!(encode_dg3(&data.fingers).expect("DG3"), get(FileId::Dg3));
    assert_eq!(encode_dg11(data.dg11.as_ref().expect("DG11")), get(FileId::Dg11));
    assert_eq!(encode_dg12(data.dg12.as_ref().expect("DG12")), get(FileId::Dg12));
    assert_eq!(encode_dg13(data.text.as_ref().expect("DG13")).expect("fits"), get(FileId::Dg13));
    // The resident MRZ writer reproduces the sample's DG1 from the record's values.
    let t = data.text.as_ref().expect("DG13");
    let birth = t.birth_date().expect("birth");
    let expiry = match t.valid_until_value() {
        Some(crate::model::ValidUntil::Date(d)) => Some(d),
        _ => None,
    };
    let m = Mrz::resident(&t.id_number, birth, data.mrz.sex, expiry, &data.mrz.name_latin).expect("valid");
    assert_eq!(encode_dg1(&m), get(FileId::Dg1));
    // The whole-image writer gives the same data groups back.
    let image = encode_chip(&data).expect("encodes");
    assert_eq!(parse_chip(&image).expect("parses"), data);
}

#[test]
fn chip_image_directory_round_trip_and_limits() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut chip = sample_chip();
    chip.remove(FileId::Dg11);
    let dir = tmp.path().join("chip");
    // A stale file of a known name is removed by save_dir.
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("dg11.bin"), b"stale").expect("write");
    chip.save_dir(&dir).expect("saves");
    let back = ChipImage::load_dir(&dir).expect("loads");
    assert_eq!(back, chip);
    assert!(back.get(FileId::Dg11).is_none());

    std::fs::write(dir.join("dg2.bin"), vec![0u8; (MAX_FILE_SIZE + 1) as usize]).expect("write");
    match ChipImage::load_dir(&dir) {
        Err(e @ LdsError::TooLarge { .. }) => {
            assert_eq!(e.file(), Some(FileId::Dg2));
            assert!(e.to_string().contains("dg2.bin"), "{e}");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(matches!(ChipImage::load_dir(&tmp.path().join("absent")), Err(LdsError::Io { .. })));
}

#[test]
fn mandatory_files() {
    let full = sample_chip();
    for id in FileId::ALL {
        let mut c = full.clone();
        c.remove(id);
        let res = check_mandatory_resident(&c);
        if id.mandatory_for_resident() {
            match res {
                Err(e @ LdsError::Missing(f)) => {
                    assert_eq!(f, id);
                    assert!(e.to_string().contains(id.file_name()), "{e}");
                }
                other => panic!("{id}: unexpected {other:?}"),
            }
        } else {
            assert!(res.is_ok(), "{id} is optional");
        }
    }
    // A plain ICAO document: no DG3, DG11, DG12, DG13 (and no SOD for this parse) still parses.
    let mut icao = full.clone();
    for id in [FileId::Dg3, FileId::Dg11, FileId::Dg12, FileId::Dg13, FileId::Sod] {
        icao.remove(id);
    }
    let d = parse_chip(&icao).expect("plain ICAO document parses");
    assert!(d.text.is_none() && d.dg11.is_none() && d.fingers.is_empty());
    for id in [FileId::Com, FileId::Dg1, FileId::Dg2] {
        let mut c = icao.clone();
        c.remove(id);
        assert!(matches!(parse_chip(&c), Err(LdsError::Missing(f)) if f == id));
    }
}

#[test]
fn file_ids() {
    for id in FileId::ALL {
        assert_eq!(FileId::from_fid(id.fid()), Some(id));
        assert_eq!(u16::from(id.sfi()), id.fid() & 0x1F);
        assert_eq!(FileId::from_file_name(id.file_name()), Some(id));
        if let Some(n) = id.dg_number() {
            assert_eq!(FileId::from_dg_number(n), Some(id));
            assert_eq!(FileId::from_lds_tag(id.lds_tag()), Some(id));
        } else {
            assert_eq!(FileId::from_lds_tag(id.lds_tag()), None);
        }
    }
    assert_eq!(FileId::Com.sfi(), 0x1E);
    assert_eq!(FileId::Dg13.file_name(), "dg13.bin");
    assert_eq!(FileId::from_lds_tag(0x6E), Some(FileId::Dg14));
    assert_eq!(FileId::from_lds_tag(0x31), None, "EF.CardAccess is not a data group");
    assert_eq!(FileId::from_dg_number(14), Some(FileId::Dg14));
    assert_eq!(FileId::from_dg_number(16), None);
}

#[test]
fn errors_name_file_field_and_offset() {
    let chip = sample_chip();
    // Huge length in DG1.
    let mut c = chip.clone();
    c.insert(FileId::Dg1, vec![0x61, 0x84, 0x7F, 0xFF, 0xFF, 0xFF, 0x5F]);
    let e = parse_chip(&c).expect_err("huge length");
    assert!(matches!(e, LdsError::Tlv { file: FileId::Dg1, source: crate::tlv::TlvError::ValueOverrun { .. } }));
    assert!(e.to_string().starts_with("dg1.bin: "), "{e}");
    // Wrong outer tag of EF.COM.
    let mut c = chip.clone();
    let mut com = chip.get(FileId::Com).expect("com").to_vec();
    com[0] = 0x61;
    c.insert(FileId::Com, com);
    assert!(matches!(parse_chip(&c), Err(LdsError::Tlv { file: FileId::Com, source: crate::tlv::TlvError::UnexpectedTag { .. } })));
    // Bad CRC in the first slot of the sample DG3: the offset is the CRC byte in the file.
    let mut dg3 = chip.get(FileId::Dg3).expect("dg3").to_vec();
    let slot_at = dg3.windows(4).position(|w| w == [0x5F, 0x2E, 0x82, 0x02]).expect("slot") + 5;
    dg3[slot_at + 20] ^= 0xFF;
    match parse_dg3(&dg3) {
        Err(e @ LdsError::Field { file: FileId::Dg3, field: "slot CRC-8", .. }) => {
            assert_eq!(e.offset(), Some(slot_at + 511));
            assert!(e.to_string().contains(&format!("at offset {}", slot_at + 511)), "{e}");
        }
        other => panic!("unexpected {other:?}"),
    }
    // Truncated DG13.
    let dg13 = chip.get(FileId::Dg13).expect("dg13");
    assert!(matches!(parse_dg13(&dg13[..dg13.len() - 1]), Err(LdsError::Tlv { file: FileId::Dg13, .. })));
    // Truncated face record inside a consistent TLV.
    let face = FaceImage { format: ImageFormat::Jpeg, width: 1, height: 1, data: Biometric(vec![0xFF, 0xD8]) };
    let dg2 = encode_dg2(&face);
    let rec_at = dg2.windows(4).position(|w| w == b"FAC\0").expect("record");
    let cut = crate::tlv::encode(0x75, &crate::tlv::encode(0x7F61, &[crate::tlv::encode(0x02, &[1]), crate::tlv::encode(0x7F60, &[crate::tlv::encode(0xA1, &[]), crate::tlv::encode(0x5F2E, &dg2[rec_at..rec_at + 10])].concat())].concat()));
    assert!(matches!(parse_dg2(&cut), Err(LdsError::Field { file: FileId::Dg2, .. })));
}

/// One byte-wise mutation of a file.
#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Set(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Truncate(usize),
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    if bytes.is_empty() {
        return;
    }
    let n = bytes.len();
    match *m {
        Mutation::Flip(i, b) => bytes[i % n] ^= b.max(1),
        Mutation::Set(i, b) => bytes[i % n] = b,
        Mutation::Insert(i, b) => bytes.insert(i % (n + 1), b),
        Mutation::Delete(i) => {
            bytes.remove(i % n);
        }
        Mutation::Truncate(i) => bytes.truncate(i % n),
    }
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let i = 0usize..20_000;
    prop_oneof![
        (i.clone(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (i.clone(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        (i.clone(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        i.clone().prop_map(Mutation::Delete),
        i.prop_map(Mutation::Truncate),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Fuzz harness: byte-wise mutations (flip, set, insert, delete, truncate) of the sample
    /// files never make a parser panic, and a parse that succeeds re-encodes to a parse-equal
    /// value.
    #[test]
    fn mutated_sample_never_panics(file in 0usize..8, muts in proptest::collection::vec(mutation(), 1..6)) {
        let chip = sample_chip();
        let id = FileId::ALL[file];
        let mut c = chip.clone();
        let mut bytes = chip.get(id).unwrap_or_default().to_vec();
        for m in &muts {
            apply(&mut bytes, m);
        }
        c.insert(id, bytes.clone());
        let _ = format!("{:?}", parse_chip(&c));
        match id {
            FileId::Com => { if let Ok(v) = parse_com(&bytes) { prop_assert_eq!(parse_com(&v.to_bytes()).ok(), Some(v)); } }
            FileId::Dg1 => { if let Ok(v) = parse_dg1(&bytes) { prop_assert_eq!(parse_dg1(&encode_dg1(&v)).ok(), Some(v)); } }
            FileId::Dg2 => { if let Ok((f, i)) = parse_dg2_full(&bytes) { prop_assert_eq!(parse_dg2_full(&encode_dg2_with(&f, &i)).ok(), Some((f, i))); } }
            FileId::Dg3 => { if let Ok(v) = parse_dg3(&bytes) { prop_assert_eq!(encode_dg3(&v).ok().and_then(|b| parse_dg3(&b).ok()), Some(v)); } }
            FileId::Dg11 => { if let Ok(v) = parse_dg11(&bytes) { prop_assert_eq!(parse_dg11(&encode_dg11(&v)).ok(), Some(v)); } }
            FileId::Dg12 => { if let Ok(v) = parse_dg12(&bytes) { prop_assert_eq!(parse_dg12(&encode_dg12(&v)).ok(), Some(v)); } }
            FileId::Dg13 => { if let Ok(v) = parse_dg13(&bytes) { prop_assert_eq!(encode_dg13(&v).ok().and_then(|b| parse_dg13(&b).ok()), Some(v)); } }
            // EF.SOD is CMS (pki); DG14, DG15 and EF.CardAccess have their own round-trip tests (secinfo).
            FileId::Sod | FileId::Dg14 | FileId::Dg15 | FileId::CardAccess => {}
        }
    }
}

proptest! {
    #[test]
    fn parsers_never_panic_on_random_bytes(data in proptest::collection::vec(any::<u8>(), 0..700), tag in prop_oneof![Just(0x60u8), Just(0x61), Just(0x75), Just(0x63), Just(0x6B), Just(0x6C), Just(0x6D)]) {
        // Random bytes, and random bytes behind a plausible outer tag and length.
        let wrapped = crate::tlv::encode(u32::from(tag), &data);
        for b in [&data, &wrapped] {
            let _ = parse_com(b);
            let _ = parse_dg1(b);
            let _ = parse_dg2_full(b);
            let _ = parse_dg3(b);
            let _ = parse_dg11(b);
            let _ = parse_dg12(b);
            let _ = parse_dg13(b);
            let _ = FingerSlot::from_bytes(b);
        }
    }

    #[test]
    fn slot_never_panics_and_round_trips(mut slot in proptest::collection::vec(any::<u8>(), 512..=512), n in 0u8..=83, fix in any::<bool>()) {
        slot[0] = 0x43;
        slot[1] = 0; slot[2] = 0; slot[3] = 0;
        slot[7] = n;
        if fix {
            for b in &mut slot[8 + 6 * usize::from(n)..511] { *b = 0; }
            // The two reserved bits above y are not kept by the minutia type.
            for i in 0..usize::from(n) { slot[8 + 6 * i + 2] &= 0x3F; }
            slot[511] = crc8(&slot[..511]);
            let s = FingerSlot::from_bytes(&slot).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&s.to_bytes()[..], &slot[..]);
        } else {
            let _ = FingerSlot::from_bytes(&slot);
        }
    }

    #[test]
    fn text_record_round_trips(name in "[\u{4E00}-\u{9FA5}]{1,15}|[\u{4E00}-\u{9FA5}\u{20000}-\u{2A6DF}]{1,7}", addr in "[\u{4E00}-\u{9FA5}0-9·]{0,35}|[\u{4E00}-\u{9FA5}\u{20000}-\u{2A6DF}]{0,17}", until_long in any::<bool>(), permit in prop_oneof![Just(None), Just(Some('J')), Just(Some('I'))]) {
        let t = NationalText {
            name, sex: "1".into(), ethnicity: "01".into(), birth: "20000101".into(), address: addr,
            id_number: "11010519491231002X".into(), authority: "北京市公安局".into(),
            valid_from: "20200101".into(), valid_until: if until_long { LONG_TERM.into() } else { "20300101".into() }, permit,
        };
        let b = encode_dg13(&t).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(parse_dg13(&b).map_err(|e| TestCaseError::fail(e.to_string()))?, t);
    }

    #[test]
    fn dg11_dg12_round_trip(a in proptest::option::of(".{0,40}"), b in proptest::option::of("[0-9X]{18}"), c in proptest::option::of(".{0,200}"), d in proptest::option::of(".{0,20}")) {
        let v = Dg11 { full_name: a, personal_number: b, birth_date: Some("19991231".into()), address: c };
        prop_assert_eq!(parse_dg11(&encode_dg11(&v)).map_err(|e| TestCaseError::fail(e.to_string()))?, v);
        let w = Dg12 { issuing_authority: d, date_of_issue: None };
        prop_assert_eq!(parse_dg12(&encode_dg12(&w)).map_err(|e| TestCaseError::fail(e.to_string()))?, w);
    }

    #[test]
    fn resident_mrz_round_trips(id in "[0-9]{17}[0-9X]", y in 1900i32..2099, doy in 1u16..=365, sex in prop_oneof![Just('M'), Just('F')], long in any::<bool>(), name in "[A-Z]{1,10}<<[A-Z]{1,12}") {
        let birth = time::Date::from_ordinal_date(y, doy).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let expiry = if long { None } else { Some(birth) };
        let m = Mrz::resident(&id, birth, sex, expiry, &name).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(m.citizen_id(), id);
        let back = parse_dg1(&encode_dg1(&m)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(back, m);
    }

    #[test]
    fn com_round_trips(sel in proptest::collection::vec(any::<bool>(), 6)) {
        let dgs: Vec<FileId> = [FileId::Dg1, FileId::Dg2, FileId::Dg3, FileId::Dg11, FileId::Dg12, FileId::Dg13]
            .into_iter().zip(sel).filter(|(_, s)| *s).map(|(f, _)| f).collect();
        let c = parse_com(&encode_com(&dgs)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(c.data_groups, dgs);
    }
}

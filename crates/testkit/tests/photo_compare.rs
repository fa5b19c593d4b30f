//! Tests of the photo comparison: decoding, the crop, features and alignment, decisions on
//! genuine and other-person pairs (fixtures/faces), the independent sample card, the committed
//! calibration, and never-panic properties on mutated bytes.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed expectation is the failure

use std::path::PathBuf;
use std::sync::OnceLock;

use image::{Rgb, RgbImage};
use proptest::prelude::*;

use idcheck_core::compare::photo::*;
use idcheck_testkit::calibration::photo::{calibrate_photos_with_samples, committed_calibration, CalibrationOptions, SampleCard};
use idcheck_testkit::fixtures::print::{self, Degradation, PrintStyle};

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// The committed fixture faces (name, portrait), sorted by name.
fn faces() -> &'static Vec<(String, RgbImage)> {
    static F: OnceLock<Vec<(String, RgbImage)>> = OnceLock::new();
    F.get_or_init(|| {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(root().join("fixtures/faces"))
            .expect("fixtures/faces")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "jpg"))
            .collect();
        paths.sort();
        paths
            .iter()
            .map(|p| {
                let name = p
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                (
                    name,
                    decode(&std::fs::read(p).expect("read face")).expect("decode face"),
                )
            })
            .collect()
    })
}

/// Colour portraits among the fixtures (the monochrome ones are not valid acceptance photos).
fn colour_faces(n: usize) -> Vec<&'static (String, RgbImage)> {
    faces()
        .iter()
        .filter(|(_, f)| idcheck_core::rules::photo_quality::measure(f).colourfulness > 1.0)
        .take(n)
        .collect()
}

fn acceptance(face: &RgbImage) -> RgbImage {
    decode(&print::acceptance_photo(face)).expect("acceptance photo decodes")
}

fn printed(acc: &RgbImage, seed: u64, deg: &Degradation) -> Probe {
    let card = print::render_front(acc, &[("姓名", "张三")], seed);
    let scan = print::scan(&card, deg);
    let png = print::encode_png(&scan);
    let crop = crop_printed_photo_from_png(&png, print::DPI).expect("crop");
    Probe::from_printed_crop(&crop, print::DPI)
}

struct Sample {
    acceptance: Vec<u8>,
    chip: Vec<u8>,
    front: Vec<u8>,
}

fn sample() -> Sample {
    let base = root().join("fixtures/samples/pass-case");
    let dg2 = std::fs::read(base.join("chip/dg2.bin")).expect("dg2");
    let at = dg2
        .windows(2)
        .position(|w| w == [0xFF, 0xD8])
        .expect("jpeg in dg2");
    Sample {
        acceptance: std::fs::read(base.join("acceptance/451022202404011140/photo.jpg"))
            .expect("photo"),
        chip: dg2[at..].to_vec(),
        front: std::fs::read(base.join("surface/QC-20240408-9308/front.png")).expect("front"),
    }
}

#[test]
fn decodes_jpeg_and_png_by_magic() {
    let face = &faces()[0].1;
    let jpg = print::acceptance_photo(face);
    assert_eq!(sniff(&jpg), Some(ImageKind::Jpeg));
    let img = decode(&jpg).expect("jpeg");
    assert_eq!(img.dimensions(), (358, 441));
    let png = print::encode_png(&img);
    assert_eq!(sniff(&png), Some(ImageKind::Png));
    assert!(decode(&png).expect("png") == img, "png is lossless");
}

#[test]
fn bad_images_give_clear_errors() {
    assert!(matches!(decode(b""), Err(PhotoError::UnknownFormat { .. })));
    let e = decode(b"GIF89a....").expect_err("gif");
    assert!(e.to_string().contains("unrecognised image format"), "{e}");
    let jpg = print::acceptance_photo(&faces()[0].1);
    let e = decode(&jpg[..jpg.len() / 3]).expect_err("truncated");
    assert!(
        matches!(e, PhotoError::Decode { format: "jpeg", .. }),
        "{e}"
    );
    let e = decode(&[0xFF, 0x4F, 0xFF, 0x51, 0, 0]).expect_err("j2k");
    assert!(e.to_string().contains("jpeg 2000"), "{e}");
    let tiny = print::encode_png(&RgbImage::new(4, 4));
    assert!(matches!(
        decode(&tiny),
        Err(PhotoError::BadSize {
            width: 4,
            height: 4,
            ..
        })
    ));
}

#[test]
fn crop_has_the_margin_and_geometry() {
    // A white card with the nominal photo region painted black.
    let (w, h) = print::card_size();
    let mut card = RgbImage::from_pixel(w, h, Rgb([255, 255, 255]));
    let px = |mm: f64| (mm * 600.0 / 25.4).round() as u32;
    for y in px(6.0)..px(38.0) {
        for x in px(56.0)..px(82.0) {
            card.put_pixel(x, y, Rgb([0, 0, 0]));
        }
    }
    let crop = crop_printed_photo(&card, 600).expect("crop");
    assert_eq!(crop.dimensions(), (732, 874));
    let m = (CROP_MARGIN_MM * 600.0 / 25.4).round() as u32;
    assert_eq!(crop.get_pixel(m + 2, m + 2).0, [0, 0, 0]);
    assert_eq!(crop.get_pixel(m - 3, m + 2).0, [255, 255, 255]);
    assert_eq!(crop.get_pixel(m + 2, m - 3).0, [255, 255, 255]);
    let far = m + px(26.0);
    assert_eq!(crop.get_pixel(far - 3, far).0, [0, 0, 0]);
    assert_eq!(crop.get_pixel(far + 3, m + 2).0, [255, 255, 255]);
    // The PNG fast path gives the same pixels.
    let fast = crop_printed_photo_from_png(&print::encode_png(&card), 600).expect("png crop");
    assert!(fast == crop);
}

#[test]
fn png_fast_path_equals_full_decode_on_a_scan() {
    let acc = acceptance(&faces()[1].1);
    let card = print::render_front(&acc, &[], 3);
    let scan = print::scan(
        &card,
        &Degradation::realistic(
            &mut <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(5),
        ),
    );
    let png = print::encode_png(&scan);
    let full = crop_printed_photo(&decode(&png).expect("png"), 600).expect("crop");
    let fast = crop_printed_photo_from_png(&png, 600).expect("fast crop");
    assert!(full == fast);
}

/// Every bit of a probe's working grids.
fn probe_bits(p: &Probe) -> Vec<u32> {
    p.grid_bits()
}

/// `img` as a PNG of `channels` bytes per pixel (1 grey from the red channel, 2 with alpha, 3,
/// 4 with alpha), fast compression and adaptive filters as a scanner writes.
fn png_of(img: &RgbImage, channels: usize) -> Vec<u8> {
    use image::ImageEncoder;
    let data: Vec<u8> = img
        .pixels()
        .flat_map(|p| {
            let [r, g, b] = p.0;
            [[r, 0, 0, 0], [r, 90, 0, 0], [r, g, b, 0], [r, g, b, 200]][channels - 1][..channels].to_vec()
        })
        .collect();
    let kind = [
        image::ExtendedColorType::L8,
        image::ExtendedColorType::La8,
        image::ExtendedColorType::Rgb8,
        image::ExtendedColorType::Rgba8,
    ][channels - 1];
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new_with_quality(
        &mut out,
        image::codecs::png::CompressionType::Fast,
        image::codecs::png::FilterType::Adaptive,
    )
    .write_image(&data, img.width(), img.height(), kind)
    .expect("png");
    out
}

#[test]
fn printed_probe_from_png_rows_equals_the_crop_path_to_the_bit() {
    let long_way = |png: &[u8], dpi: u32| {
        Probe::from_printed_crop(&crop_printed_photo_from_png(png, dpi).expect("crop"), dpi)
    };
    // The independent sample card.
    let front = sample().front;
    assert_eq!(probe_bits(&Probe::from_printed_png(&front, 600).expect("probe")), probe_bits(&long_way(&front, 600)));
    // A scan of our own, in every channel layout, and narrower than the crop (the crop's right
    // columns fall outside the scan and are white).
    let acc = acceptance(&faces()[3].1);
    let card = print::render_front(&acc, &[("姓名", "张三")], 4);
    let scan = print::scan(&card, &Degradation::realistic(&mut <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(8)));
    let narrow = image::imageops::crop_imm(&scan, 0, 0, 1900, 1200).to_image();
    for img in [&scan, &narrow] {
        for channels in 1..=4 {
            let png = png_of(img, channels);
            let fast = Probe::from_printed_png(&png, 600).expect("probe");
            assert_eq!(probe_bits(&fast), probe_bits(&long_way(&png, 600)), "{channels} channels, {}x{}", img.width(), img.height());
        }
    }
    // Other files take the long way and give its result or its error.
    let mut bad = print::encode_png(&scan);
    let n = bad.len();
    bad[n / 2] ^= 0x55;
    assert_eq!(
        Probe::from_printed_png(&bad, 600).map(|p| probe_bits(&p)).map_err(|e| e.to_string()),
        crop_printed_photo_from_png(&bad, 600).map(|c| probe_bits(&Probe::from_printed_crop(&c, 600))).map_err(|e| e.to_string())
    );
    let e = Probe::from_printed_png(b"not a png", 600).expect_err("not a png");
    assert!(e.to_string().contains("png") || e.to_string().contains("format"), "{e}");
}

#[test]
fn crop_rejects_a_scan_of_the_wrong_size() {
    let e = crop_printed_photo(&RgbImage::new(1000, 1000), 600).expect_err("wrong size");
    assert!(e.to_string().contains("1000x1000"), "{e}");
    let e = crop_printed_photo(&RgbImage::new(2022, 1276), 20).expect_err("bad dpi");
    assert!(e.to_string().contains("dpi 20"), "{e}");
}

#[test]
fn alignment_recovers_a_known_shift() {
    let acc = acceptance(&faces()[2].1);
    let f = PhotoFeatures::from_reference(&acc);
    let deg = Degradation {
        shift_mm: (0.8, -0.6),
        ..Degradation::none()
    };
    let s = compare(
        &f,
        &printed(&acc, 9, &deg),
        CompareKind::PrintedVsAcceptance,
    );
    assert!((s.aligned.dx_mm - 0.8).abs() < 0.1, "{:?}", s.aligned);
    assert!((s.aligned.dy_mm + 0.6).abs() < 0.1, "{:?}", s.aligned);
    assert!(s.aligned.angle_deg.abs() < 0.2, "{:?}", s.aligned);
    assert!(s.distance < 0.02, "{}", s.distance);
    // A rotation of the card is found as a rotation of the photo.
    let deg = Degradation {
        rotation_deg: 1.0,
        ..Degradation::none()
    };
    let s = compare(
        &f,
        &printed(&acc, 9, &deg),
        CompareKind::PrintedVsAcceptance,
    );
    assert!(
        (s.aligned.angle_deg.abs() - 1.0).abs() < 0.2,
        "{:?}",
        s.aligned
    );
}

#[test]
fn genuine_pairs_are_same_and_other_people_are_not() {
    let people = colour_faces(5);
    let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(11);
    let mut accs = Vec::new();
    let mut chips = Vec::new();
    let mut prints = Vec::new();
    for (i, (_, face)) in people.iter().enumerate() {
        let acc = acceptance(face);
        let chip = decode(&print::chip_photo(&acc)).expect("chip");
        assert_eq!(chip.dimensions(), (102, 126));
        prints.push(printed(&acc, i as u64, &Degradation::realistic(&mut rng)));
        accs.push(PhotoFeatures::from_reference(&acc));
        chips.push(PhotoFeatures::from_reference(&chip));
    }
    for i in 0..people.len() {
        for j in 0..people.len() {
            let same = i == j;
            let cases = [
                (
                    CompareKind::PrintedVsAcceptance,
                    compare(&accs[i], &prints[j], CompareKind::PrintedVsAcceptance),
                ),
                (
                    CompareKind::PrintedVsChip,
                    compare(&chips[i], &prints[j], CompareKind::PrintedVsChip),
                ),
                (
                    CompareKind::ChipVsAcceptance,
                    compare(
                        &accs[i],
                        &Probe::from_features(&chips[j]),
                        CompareKind::ChipVsAcceptance,
                    ),
                ),
            ];
            for (kind, s) in cases {
                let (is_same, _) = decide(kind, s.distance);
                assert_eq!(
                    is_same, same,
                    "{kind:?} {i} vs {j}: distance {:.4}",
                    s.distance
                );
                assert_eq!(s.decide().0, same);
            }
        }
    }
}

#[test]
fn the_sample_card_passes_all_three_pairs() {
    let s = sample();
    let acc = decode(&s.acceptance).expect("acceptance");
    let chip = decode(&s.chip).expect("chip");
    assert_eq!(chip.dimensions(), (240, 320));
    let a = PhotoFeatures::from_reference(&acc);
    let c = PhotoFeatures::from_reference(&chip);
    let crop = crop_printed_photo_from_png(&s.front, 600).expect("crop");
    let p = Probe::from_printed_crop(&crop, 600);
    for (kind, score) in [
        (
            CompareKind::PrintedVsAcceptance,
            compare(&a, &p, CompareKind::PrintedVsAcceptance),
        ),
        (
            CompareKind::PrintedVsChip,
            compare(&c, &p, CompareKind::PrintedVsChip),
        ),
        (
            CompareKind::ChipVsAcceptance,
            compare(&a, &Probe::from_photo(&chip), CompareKind::ChipVsAcceptance),
        ),
    ] {
        let (same, borderline) = decide(kind, score.distance);
        assert!(same && !borderline, "{kind:?}: {score:?}");
    }
    // And another person's printed photo does not pass as the sample's.
    let other = acceptance(&colour_faces(1)[0].1);
    let o = PhotoFeatures::from_reference(&other);
    assert!(!compare(&o, &p, CompareKind::PrintedVsAcceptance).decide().0);
}

#[test]
fn committed_calibration_is_used_and_consistent() {
    let cal = committed_calibration().expect("calibration/photo.json parses");
    assert!(
        cal.faces >= 400,
        "made on the full faces data: {}",
        cal.faces
    );
    for kind in CompareKind::ALL {
        let k = cal.kind(kind).expect("every kind calibrated");
        let t = thresholds(kind);
        assert_eq!(t, k.threshold);
        assert!(k.margin > 0.0, "{kind:?} separated on the data: {k:?}");
        assert!(k.genuine.max < t.threshold && t.threshold < k.impostor.min);
        assert!(t.borderline_low < t.threshold && t.threshold < t.borderline_high);
        assert_eq!(k.far, 0.0);
        assert_eq!(k.frr, 0.0);
        assert_eq!(decide(kind, t.threshold), (true, true));
        assert_eq!(decide(kind, t.borderline_high + 0.01), (false, false));
        assert!(decide(kind, 0.0).0);
        assert_eq!(decide(kind, f64::NAN), (false, false));
    }
    assert!(cal.samples.iter().all(|s| s.same), "{:?}", cal.samples);
    assert_eq!(cal.samples.len(), 3);
}

#[test]
fn small_calibration_separates_and_is_reproducible() {
    let people: Vec<(String, RgbImage)> = colour_faces(5).into_iter().cloned().collect();
    let opts = CalibrationOptions {
        print_seeds: 2,
        nearest: 2,
        random_pairs: 0,
    };
    let a = calibrate_photos_with_samples(&people, 7, &[], &opts);
    assert_eq!(a.faces, 5);
    for k in &a.kinds {
        assert!(k.margin > 0.0, "{k:?}");
        assert_eq!((k.far, k.frr), (0.0, 0.0));
        assert_eq!(k.impostor.count, 5 * 2);
    }
    assert!(a.quality.is_some());
    let b = calibrate_photos_with_samples(&people[..3], 7, &[], &opts);
    let c = calibrate_photos_with_samples(&people[..3], 7, &[], &opts);
    assert_eq!(b, c);
}

#[test]
fn debug_output_is_redacted() {
    let acc = acceptance(&faces()[0].1);
    let f = PhotoFeatures::from_reference(&acc);
    assert!(format!("{f:?}").contains("REDACTED"));
    assert!(format!("{:?}", Probe::from_photo(&acc)).contains("REDACTED"));
}

#[test]
fn printer_styles_keep_genuine_pairs_same() {
    let (_, face) = colour_faces(3)[2];
    let acc = acceptance(face);
    let f = PhotoFeatures::from_reference(&acc);
    for style in [
        PrintStyle::default(),
        PrintStyle {
            lighten_background: 0.0,
            lighten_tolerance: 1.0,
            vignette: false,
        },
        PrintStyle {
            lighten_background: 0.6,
            lighten_tolerance: 60.0,
            vignette: false,
        },
    ] {
        let card = print::render_front_styled(&acc, &[], 4, &style, None);
        let crop = crop_printed_photo(&print::scan(&card, &Degradation::extreme(1.0, 3)), 600)
            .expect("crop");
        let s = compare(
            &f,
            &Probe::from_printed_crop(&crop, 600),
            CompareKind::PrintedVsAcceptance,
        );
        assert!(s.decide().0, "{style:?}: {:.4}", s.distance);
    }
}

fn scan_png() -> &'static Vec<u8> {
    static P: OnceLock<Vec<u8>> = OnceLock::new();
    P.get_or_init(|| {
        let (w, h) = print::card_size();
        let card = RgbImage::from_fn(w, h, |x, y| {
            Rgb([(x % 251) as u8, (y % 241) as u8, ((x + y) % 239) as u8])
        });
        print::encode_png(&card)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn mutated_jpeg_never_panics(edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..12), cut in any::<usize>()) {
        let mut b = print::chip_photo(&faces()[0].1);
        for (at, v) in edits {
            let n = b.len();
            b[at % n] = v;
        }
        let keep = cut % (b.len() + 1);
        b.truncate(keep.max(b.len() / 2));
        if let Ok(img) = decode(&b) {
            let f = PhotoFeatures::from_reference(&img);
            let _ = compare(&f, &Probe::from_photo(&img), CompareKind::ChipVsAcceptance);
        }
    }

    #[test]
    fn random_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode(&b);
        let _ = crop_printed_photo_from_png(&b, 600);
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.extend_from_slice(&b);
        let _ = decode(&png);
        let _ = crop_printed_photo_from_png(&png, 600);
        let _ = Probe::from_printed_png(&png, 600);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn mutated_scan_png_never_panics(edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6)) {
        let mut b = scan_png().clone();
        for (at, v) in edits {
            let n = b.len();
            b[at % n] = v;
        }
        if let Ok(crop) = crop_printed_photo_from_png(&b, 600) {
            let _ = Probe::from_printed_crop(&crop, 600);
        }
        let _ = Probe::from_printed_png(&b, 600);
    }
}

#[test]
fn any_size_reference_compares() {
    // Odd sizes and aspects, down to the decode minimum, never panic and compare to themselves.
    for (w, h) in [(16, 16), (17, 300), (300, 17), (240, 320), (102, 126)] {
        let img =
            image::imageops::resize(&faces()[3].1, w, h, image::imageops::FilterType::Triangle);
        let f = PhotoFeatures::from_reference(&img);
        let s = compare(&f, &Probe::from_photo(&img), CompareKind::ChipVsAcceptance);
        assert!(s.distance.is_finite());
    }
    let blank = RgbImage::from_pixel(100, 120, Rgb([200, 200, 200]));
    let f = PhotoFeatures::from_reference(&blank);
    let s = compare(
        &f,
        &Probe::from_photo(&blank),
        CompareKind::ChipVsAcceptance,
    );
    assert!(s.distance.is_finite());
}

/// The full calibration over /work/shared/data/faces (460 portraits); writes
/// calibration/photo.json. Run: `cargo test -p idcheck-testkit --release --test photo_compare full_photo_calibration -- --ignored`.
#[test]
#[ignore]
fn full_photo_calibration() {
    let dir = std::env::var("IDCHECK_FACES").unwrap_or_else(|_| "/work/shared/data/faces".into());
    let Ok(rd) = std::fs::read_dir(&dir) else {
        eprintln!("{dir} not present; skipped");
        return;
    };
    let mut paths: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jpg"))
        .collect();
    paths.sort();
    let people: Vec<(String, RgbImage)> = paths
        .iter()
        .map(|p| {
            let name = p
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            (
                name,
                decode(&std::fs::read(p).expect("read")).expect("decode"),
            )
        })
        .collect();
    let s = sample();
    let card = SampleCard {
        name: "pass-case".into(),
        acceptance: s.acceptance,
        chip: decode(&s.chip).expect("chip"),
        front_png: s.front,
        dpi: 600,
    };
    let cal =
        calibrate_photos_with_samples(&people, 20_240_408, &[card], &CalibrationOptions::default());
    let json = serde_json::to_string_pretty(&cal).expect("json");
    std::fs::write(root().join("calibration/photo.json"), json + "\n").expect("write calibration");
    for k in &cal.kinds {
        eprintln!(
            "{}: genuine max {:.4} p99 {:.4} | impostor min {:.4} p0.1 {:.4} median {:.4} | margin {:.4} threshold {:.4} grey {:.4}..{:.4} FAR {} FRR {}",
            k.sources, k.genuine.max, k.genuine.p99, k.impostor.min, k.impostor.p0_1, k.impostor.median,
            k.margin, k.threshold.threshold, k.threshold.borderline_low, k.threshold.borderline_high, k.far, k.frr
        );
    }
    assert!(cal.kinds.iter().all(|k| k.margin > 0.0));
    assert!(cal.samples.iter().all(|s| s.same));
}

#[test]
fn reduced_jpeg_path_matches_the_full_decode() {
    let s = sample();
    let mut jpegs: Vec<Vec<u8>> = colour_faces(4)
        .iter()
        .map(|(_, f)| print::acceptance_photo(f))
        .collect();
    jpegs.push(s.acceptance);
    for jpg in &jpegs {
        assert!(reduced_jpeg_decodes(jpg));
        let fast = PhotoFeatures::from_bytes(jpg).expect("features");
        let full = PhotoFeatures::from_reference(&decode(jpg).expect("decode"));
        let d = compare(
            &fast,
            &Probe::from_features(&full),
            CompareKind::ChipVsAcceptance,
        )
        .distance;
        assert!(d < 0.002, "reduced vs full decode: {d}");
        assert!(hamming_of(&fast, &full) <= 16);
    }
    // Truncated bytes are refused by both paths.
    let cut = &jpegs[0][..jpegs[0].len() * 2 / 3];
    assert!(PhotoFeatures::from_bytes(cut).is_err());
}

fn hamming_of(a: &PhotoFeatures, b: &PhotoFeatures) -> u32 {
    a.phash()
        .iter()
        .zip(b.phash())
        .map(|(x, y)| (x ^ y).count_ones())
        .sum()
}


//! Photo benchmarks (criterion, one thread): decode + features of a 358x441 acceptance JPEG, the
//! printed-photo crop + features from a 600-dpi photo-side scan (PNG decode included and
//! excluded), the comparisons A~S, S~C and A~C, and the whole photo part of a QC card. Inputs are
//! the independent sample card (fixtures/samples/pass-case) and one scan made by our own print
//! simulation (fast PNG compression).
//!
//! Run: `cargo bench --bench photo`.
//!
//! For instruction counts (callgrind), `IDCHECK_PROFILE=features|scan|chip [IDCHECK_PROFILE_N=20]`
//! runs one case a fixed number of times instead of criterion (decode + features of the
//! acceptance JPEG; crop + features from the sample's PNG scan; decode + features of the chip
//! JPEG).
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the failure

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use idcheck_core::compare::photo::{
    compare, crop_printed_photo, crop_printed_photo_from_png, decode, CompareKind, PhotoFeatures,
    Probe,
};
use idcheck_testkit::fixtures::print::{self, Degradation};
use rand::SeedableRng;

struct Inputs {
    acceptance: Vec<u8>,
    chip: Vec<u8>,
    front_sample: Vec<u8>,
    front_ours: Vec<u8>,
}

/// The inputs; `with_ours` also renders and scans a card with our print simulation (slow).
fn inputs_with(with_ours: bool) -> Inputs {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/samples/pass-case");
    let read = |p: &str| std::fs::read(root.join(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
    let dg2 = read("chip/dg2.bin");
    let at = dg2
        .windows(2)
        .position(|w| w == [0xFF, 0xD8])
        .expect("jpeg in dg2");
    let acceptance = read("acceptance/451022202404011140/photo.jpg");
    let front_ours = if with_ours {
        let acc = decode(&acceptance).expect("acceptance");
        let card = print::render_front(&acc, &[("姓名", "尹思")], 1);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        print::encode_png(&print::scan(&card, &Degradation::realistic(&mut rng)))
    } else {
        Vec::new()
    };
    Inputs {
        acceptance,
        chip: dg2[at..].to_vec(),
        front_sample: read("surface/QC-20240408-9308/front.png"),
        front_ours,
    }
}

/// The fixed-count profiling mode (see the module comment); false when not asked for.
fn profile_mode() -> bool {
    let Ok(which) = std::env::var("IDCHECK_PROFILE") else {
        return false;
    };
    let n: usize = std::env::var("IDCHECK_PROFILE_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let inp = inputs_with(false);
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let t = std::time::Instant::now();
        match which.as_str() {
            "features" => {
                black_box(PhotoFeatures::from_bytes(black_box(&inp.acceptance)).expect("a"));
            }
            "chip" => {
                black_box(PhotoFeatures::from_bytes(black_box(&inp.chip)).expect("c"));
            }
            "scan" => {
                let crop = crop_printed_photo_from_png(black_box(&inp.front_sample), 600);
                black_box(Probe::from_printed_crop(&crop.expect("crop"), 600));
            }
            other => panic!("IDCHECK_PROFILE={other}: expected features, scan or chip"),
        }
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "{which} x{n}: min {:.3} ms, median {:.3} ms",
        times.first().copied().unwrap_or(0.0),
        times.get(n / 2).copied().unwrap_or(0.0)
    );
    true
}

fn benches(c: &mut Criterion) {
    if profile_mode() {
        return;
    }
    let inp = inputs_with(true);
    let acc_img = decode(&inp.acceptance).expect("acceptance");
    let chip_img = decode(&inp.chip).expect("chip");
    let scan_img = decode(&inp.front_sample).expect("scan");

    let mut g = c.benchmark_group("photo");
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(4));
    g.bench_function("decode jpeg 358x441", |b| {
        b.iter(|| decode(black_box(&inp.acceptance)))
    });
    g.bench_function("decode + features jpeg 358x441", |b| {
        b.iter(|| PhotoFeatures::from_bytes(black_box(&inp.acceptance)))
    });
    g.bench_function("features of decoded 358x441", |b| {
        b.iter(|| PhotoFeatures::from_reference(black_box(&acc_img)))
    });
    g.bench_function("decode + features chip jpeg 240x320", |b| {
        b.iter(|| PhotoFeatures::from_bytes(black_box(&inp.chip)))
    });

    let a = PhotoFeatures::from_reference(&acc_img);
    let cf = PhotoFeatures::from_reference(&chip_img);
    let crop = crop_printed_photo(&scan_img, 600).expect("crop");
    let p = Probe::from_printed_crop(&crop, 600);
    let cp = Probe::from_photo(&chip_img);
    g.bench_function("crop + features, scan decoded", |b| {
        b.iter(|| {
            Probe::from_printed_crop(
                &crop_printed_photo(black_box(&scan_img), 600).expect("crop"),
                600,
            )
        })
    });
    g.bench_function("compare A~S", |b| {
        b.iter(|| {
            compare(
                black_box(&a),
                black_box(&p),
                CompareKind::PrintedVsAcceptance,
            )
        })
    });
    g.bench_function("compare S~C", |b| {
        b.iter(|| compare(black_box(&cf), black_box(&p), CompareKind::PrintedVsChip))
    });
    g.bench_function("compare A~C", |b| {
        b.iter(|| compare(black_box(&a), black_box(&cp), CompareKind::ChipVsAcceptance))
    });
    g.finish();

    let mut g = c.benchmark_group("photo-scan");
    g.sample_size(20);
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(6));
    g.bench_function("crop + features from png (sample scan)", |b| {
        b.iter(|| {
            Probe::from_printed_crop(
                &crop_printed_photo_from_png(black_box(&inp.front_sample), 600).expect("crop"),
                600,
            )
        })
    });
    g.bench_function("printed probe straight from png rows (sample scan)", |b| {
        b.iter(|| Probe::from_printed_png(black_box(&inp.front_sample), 600).expect("probe"))
    });
    g.bench_function(
        "crop + features from png (our scan, fast compression)",
        |b| {
            b.iter(|| {
                Probe::from_printed_crop(
                    &crop_printed_photo_from_png(black_box(&inp.front_ours), 600).expect("crop"),
                    600,
                )
            })
        },
    );
    g.bench_function("full png decode (sample scan)", |b| {
        b.iter(|| decode(black_box(&inp.front_sample)))
    });
    g.bench_function(
        "QC card photo part (sample): decode A, C, scan crop, 3 compares",
        |b| {
            b.iter(|| {
                let a = PhotoFeatures::from_bytes(&inp.acceptance).expect("a");
                let c = PhotoFeatures::from_bytes(&inp.chip).expect("c");
                let s = Probe::from_printed_crop(
                    &crop_printed_photo_from_png(&inp.front_sample, 600).expect("crop"),
                    600,
                );
                let r1 = compare(&a, &s, CompareKind::PrintedVsAcceptance);
                let r2 = compare(&c, &s, CompareKind::PrintedVsChip);
                let r3 = compare(&a, &Probe::from_features(&c), CompareKind::ChipVsAcceptance);
                (r1.distance, r2.distance, r3.distance)
            })
        },
    );
    g.finish();
}

criterion_group!(photo, benches);
criterion_main!(photo);

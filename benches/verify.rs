//! Whole-card verification from bytes already in memory (the independent sample card): the kiosk
//! case (record + chip) and the QC case (record + 600-dpi surface scan + chip), plus the text
//! comparison on its own. Run: cargo bench --bench verify
//!
//! For instruction counts (callgrind), `IDCHECK_PROFILE=kiosk|qc [IDCHECK_PROFILE_N=20]` runs the
//! named case a fixed number of times instead of criterion:
//! `IDCHECK_PROFILE=qc valgrind --tool=callgrind target/release/deps/verify-<hash>`.
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the failure

use std::path::PathBuf;

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use idcheck_core::compare::text;
use idcheck_core::lds::ChipImage;
use idcheck_core::pki::TrustStore;
use idcheck_core::records;
use idcheck_verify::{Request, Verifier};

struct Card {
    record: idcheck_core::model::AcceptanceRecord,
    surface: idcheck_core::model::SurfaceRecord,
    chip: ChipImage,
    verifier: Verifier,
}

fn card() -> Card {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/samples");
    let record = records::acceptance::load_dir(&root.join("pass-case/acceptance/451022202404011140")).expect("record");
    let surface = records::surface::load_dir(&root.join("pass-case/surface/QC-20240408-9308")).expect("surface");
    let chip = ChipImage::load_dir(&root.join("pass-case/chip")).expect("chip");
    let verifier = Verifier::new(TrustStore::load_dir(&root.join("trust")).expect("trust"));
    Card { record, surface, chip, verifier }
}

/// The fixed-count profiling mode (see the module comment); false when not asked for.
fn profile_mode() -> bool {
    let Ok(which) = std::env::var("IDCHECK_PROFILE") else { return false };
    let n: usize = std::env::var("IDCHECK_PROFILE_N").ok().and_then(|v| v.parse().ok()).unwrap_or(20);
    let Card { record, surface, chip, verifier } = card();
    let surface = match which.as_str() {
        "kiosk" => None,
        "qc" => Some(&surface),
        other => panic!("IDCHECK_PROFILE={other}: expected kiosk or qc"),
    };
    let mut status = 0usize;
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let t = std::time::Instant::now();
        let v = verifier.verify(Request { record: black_box(&record), surface: black_box(surface), chip: black_box(&chip) });
        times.push(t.elapsed().as_secs_f64() * 1e3);
        status += v.verdict.findings.len();
    }
    times.sort_by(f64::total_cmp);
    println!(
        "{which} x{n}: {status} findings; min {:.3} ms, median {:.3} ms",
        times.first().copied().unwrap_or(0.0),
        times.get(n / 2).copied().unwrap_or(0.0)
    );
    true
}

fn bench(c: &mut Criterion) {
    if profile_mode() {
        return;
    }
    let Card { record, surface, chip, verifier } = card();

    c.bench_function("text/compare_all_items", |b| {
        let ethnic = |n: &str| idcheck_core::rules::ethnicity::code_for_short_name(n).map(str::to_string);
        b.iter(|| {
            let a = text::from_acceptance(black_box(&record));
            let s = text::from_surface(black_box(&surface), ethnic);
            let mut d = 0;
            for item in idcheck_core::model::TextItem::ALL {
                d += text::edit_distance(a.get(item).unwrap_or_default(), s.get(item).unwrap_or_default());
            }
            d
        })
    });
    let mut g = c.benchmark_group("verify");
    g.sample_size(30);
    g.bench_function("kiosk_card", |b| {
        b.iter(|| verifier.verify(Request { record: black_box(&record), surface: None, chip: black_box(&chip) }))
    });
    g.bench_function("qc_card_with_600dpi_scan", |b| {
        b.iter(|| verifier.verify(Request { record: black_box(&record), surface: Some(black_box(&surface)), chip: black_box(&chip) }))
    });
    g.finish();

    // Passive authentication alone (issue 16: at most 1.2x of its cost before the RustCrypto
    // parsers, chain rules and CRLs): EF.SOD parse, six data group hashes, the signer's ECDSA
    // P-256 signature, the path (its certificate signatures remembered, as on a station).
    let sod = chip.get(idcheck_core::lds::FileId::Sod).unwrap_or_default().to_vec();
    let dgs: Vec<(u8, Vec<u8>)> = chip.files.iter().filter_map(|(id, b)| id.dg_number().map(|n| (n, b.clone()))).collect();
    let refs: Vec<(u8, &[u8])> = dgs.iter().map(|(n, b)| (*n, b.as_slice())).collect();
    let day = Some(time::macros::date!(2024 - 04 - 08));
    assert!(idcheck_core::pki::passive_authentication(&sod, &refs, &verifier.trust, day).is_ok());
    let mut g = c.benchmark_group("pki");
    g.bench_function("passive_authentication_sample", |b| {
        b.iter(|| idcheck_core::pki::passive_authentication(black_box(&sod), black_box(&refs), &verifier.trust, day))
    });
    g.bench_function("sod_parse_sample", |b| b.iter(|| idcheck_core::pki::Sod::parse(black_box(&sod))));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

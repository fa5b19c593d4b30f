//! Whole-card verification from bytes already in memory (the independent sample card): the kiosk
//! case (record + chip) and the QC case (record + 600-dpi surface scan + chip), plus the text
//! comparison on its own. Run: cargo bench --bench verify

use std::path::PathBuf;

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use idcheck::compare::text;
use idcheck::lds::ChipImage;
use idcheck::pki::TrustStore;
use idcheck::records;
use idcheck::verify::{Request, Verifier};

fn bench(c: &mut Criterion) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/samples");
    let record = records::acceptance::load_dir(&root.join("pass-case/acceptance/451022202404011140")).expect("record");
    let surface = records::surface::load_dir(&root.join("pass-case/surface/QC-20240408-9308")).expect("surface");
    let chip = ChipImage::load_dir(&root.join("pass-case/chip")).expect("chip");
    let verifier = Verifier::new(TrustStore::load_dir(&root.join("trust")).expect("trust"));

    c.bench_function("text/compare_all_items", |b| {
        let ethnic = |n: &str| idcheck::rules::ethnicity::code_for_short_name(n).map(str::to_string);
        b.iter(|| {
            let a = text::from_acceptance(black_box(&record));
            let s = text::from_surface(black_box(&surface), ethnic);
            let mut d = 0;
            for item in idcheck::model::TextItem::ALL {
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
}

criterion_group!(benches, bench);
criterion_main!(benches);

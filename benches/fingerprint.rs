//! Criterion benchmarks of the fingerprint matcher (compare::fingerprint, MCC16b with LSS-R) on
//! FVC2002 templates from fixtures/: preparing one template (cylinders), comparing prepared
//! templates (genuine pairs and impostor pairs, per comparison), and a 1:N search of one probe
//! over a gallery of 10,000 prepared templates (the 320 real ones, each re-posed: turned, moved,
//! jittered, thinned). Run with `cargo bench --bench fingerprint`.
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the failure

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use idcheck_core::biometrics::{Minutia, MinutiaeRecord};
use idcheck_core::compare::fingerprint::{match_score, search, FingerCase, Template};
use rand::{Rng, SeedableRng};

const DBS: [&str; 4] = ["DB1_B", "DB2_B", "DB3_B", "DB4_B"];

fn load(db: &str, finger: u32, impression: u32) -> MinutiaeRecord {
    let path = format!("{}/fixtures/fingerprints/fvc2002/{db}/{finger}_{impression}.iso", env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    MinutiaeRecord::parse(&bytes).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A re-posed copy of a print: turned by up to 30 degrees about its centre, moved by up to 30 px,
/// each minutia jittered by up to 2 px and 2 angle units, about 10 % dropped.
fn repose(ms: &[Minutia], rng: &mut impl Rng) -> Vec<Minutia> {
    let deg: f64 = rng.gen_range(-30.0..30.0);
    let (dx, dy): (f64, f64) = (rng.gen_range(-30.0..30.0), rng.gen_range(-30.0..30.0));
    let (s, c) = deg.to_radians().sin_cos();
    let turn = (deg * 256.0 / 360.0).round() as i32;
    ms.iter()
        .filter_map(|q| {
            if !rng.gen_bool(0.9) {
                return None;
            }
            // Counter-clockwise on screen: y points down, so rotate in the y-up frame.
            let (x, up) = (f64::from(q.x) - 150.0, 200.0 - f64::from(q.y));
            let (x2, up2) = (c * x - s * up, s * x + c * up);
            let nx = (150.0 + x2 + dx + rng.gen_range(-2.0..=2.0)).round();
            let ny = (200.0 - up2 + dy + rng.gen_range(-2.0..=2.0)).round();
            if !(0.0..16000.0).contains(&nx) || !(0.0..16000.0).contains(&ny) {
                return None;
            }
            let angle = (i32::from(q.angle) + turn + rng.gen_range(-2..=2)).rem_euclid(256) as u8;
            Some(Minutia { x: nx as u16, y: ny as u16, angle, ..*q })
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    // Genuine pairs: impressions 1 and 2 of every finger; impostor pairs: impression 1 of each
    // finger against impression 1 of the next finger of the same database.
    let mut genuine = Vec::new();
    let mut impostor = Vec::new();
    for db in DBS {
        for f in 101..=110 {
            let (a, b) = (load(db, f, 1), load(db, f, 2));
            let next = load(db, if f == 110 { 101 } else { f + 1 }, 1);
            genuine.push((Template::prepare(&a.minutiae), Template::prepare(&b.minutiae)));
            impostor.push((Template::prepare(&a.minutiae), Template::prepare(&next.minutiae)));
        }
    }
    let records: Vec<MinutiaeRecord> = DBS.iter().flat_map(|db| (101..=110).flat_map(move |f| (1..=8).map(move |k| load(db, f, k)))).collect();

    let mut g = c.benchmark_group("fingerprint");
    g.throughput(Throughput::Elements(1));
    let mut i = 0usize;
    g.bench_function("prepare", |bench| {
        bench.iter_batched(
            || {
                i = (i + 1) % records.len();
                &records[i].minutiae
            },
            |m| Template::prepare(black_box(m)),
            BatchSize::SmallInput,
        )
    });
    g.throughput(Throughput::Elements(genuine.len() as u64));
    g.bench_function("compare_genuine", |bench| {
        bench.iter(|| genuine.iter().map(|(a, b)| match_score(black_box(a), black_box(b))).sum::<f64>())
    });
    g.throughput(Throughput::Elements(impostor.len() as u64));
    g.bench_function("compare_impostor", |bench| {
        bench.iter(|| impostor.iter().map(|(a, b)| match_score(black_box(a), black_box(b))).sum::<f64>())
    });
    g.finish();

    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(10_000);
    let gallery: Vec<Template> = (0..10_000).map(|n| Template::prepare(&repose(&records[n % records.len()].minutiae, &mut rng))).collect();
    let probe = Template::prepare(&load("DB1_B", 105, 3).minutiae);
    let mut g = c.benchmark_group("fingerprint_search");
    g.sample_size(10);
    g.throughput(Throughput::Elements(gallery.len() as u64));
    g.bench_function("search_10000", |bench| bench.iter(|| search(black_box(&probe), black_box(&gallery), 10, FingerCase::Card)));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! Criterion benchmarks of the fingerprint matcher (compare::fingerprint): preparing one
//! template, comparing a genuine pair and an impostor pair of FVC2002 DB1_B templates from
//! fixtures/. Run with `cargo bench --bench fingerprint`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use idcheck::biometrics::MinutiaeRecord;
use idcheck::compare::fingerprint::{match_score, Template};

fn load(name: &str) -> MinutiaeRecord {
    let path = format!("{}/fixtures/fingerprints/fvc2002/DB1_B/{name}.iso", env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    MinutiaeRecord::parse(&bytes).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn bench(c: &mut Criterion) {
    let (a, b, other) = (load("101_1"), load("101_2"), load("102_1"));
    c.bench_function("fingerprint/prepare", |bench| bench.iter(|| Template::prepare(black_box(&a.minutiae))));
    let (ta, tb, tother) = (Template::prepare(&a.minutiae), Template::prepare(&b.minutiae), Template::prepare(&other.minutiae));
    c.bench_function("fingerprint/compare_genuine", |bench| bench.iter(|| match_score(black_box(&ta), black_box(&tb))));
    c.bench_function("fingerprint/compare_impostor", |bench| bench.iter(|| match_score(black_box(&ta), black_box(&tother))));
}

criterion_group!(benches, bench);
criterion_main!(benches);

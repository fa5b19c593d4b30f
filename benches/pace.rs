//! Host-side cost of the key agreements of PACE and Chip Authentication (pure computation, no
//! APDUs). Run: cargo bench --bench pace
//!
//! - `ca/ecdh_p256_host`: one Chip Authentication v1 on P-256 as the host computes it: an
//!   ephemeral key pair on the chip's domain, the key agreement with the chip's static key
//!   (validating it), and the session key derivation.
//!
//! The PACE benches join this file (group `pace`).
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the failure

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use idcheck_chip::group::{Domain, StandardDomain};
use idcheck_chip::SystemRandomness;

fn bench_ca(c: &mut Criterion) {
    let mut rng = SystemRandomness::new();
    let domain = Domain::standard(StandardDomain::P256);
    let chip = domain.generate(&mut rng).unwrap();
    let chip_public = chip.public().to_vec();
    let mut g = c.benchmark_group("ca");
    g.bench_function("ecdh_p256_host", |b| {
        b.iter(|| {
            let eph = domain.generate(&mut rng).unwrap();
            let k = domain.agree(&eph, black_box(&chip_public)).unwrap();
            (eph.public().to_vec(), k.secret_bytes().len())
        })
    });
    g.finish();
}

criterion_group!(benches, bench_ca);
criterion_main!(benches);

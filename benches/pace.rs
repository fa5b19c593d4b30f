//! Host-side cost of the key agreements of PACE and Chip Authentication (pure computation, no
//! APDUs). Run: cargo bench --bench pace
//!
//! - `ca/ecdh_p256_host`: one Chip Authentication v1 on P-256 as the host computes it: an
//!   ephemeral key pair on the chip's domain, the key agreement with the chip's static key
//!   (validating it), and the session key derivation.
//!
//! - `pace/gm_ecdh_p256_host`: one whole PACE-GM handshake on P-256 (parameter id 12,
//!   id-PACE-ECDH-GM-AES-CBC-CMAC-128) as the host computes it, the card's answers precomputed:
//!   K_pi and the nonce, the mapping key pair and H, the mapped generator G', the ephemeral key
//!   pair on G' and K, the session keys and both tokens.
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the failure

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use idcheck_chip::chip_auth::{generate_chip_key, host_agree};
use idcheck_chip::group::{Domain, StandardDomain};
use idcheck_chip::pace::{mse_set_at_data, CardPace, HostPace, PacePassword, PaceSetup};
use idcheck_chip::{FixedRandomness, SmCipher, SystemRandomness};

fn bench_ca(c: &mut Criterion) {
    let mut rng = SystemRandomness::new();
    let domain = Domain::standard(StandardDomain::P256);
    let chip = generate_chip_key(&domain, &mut rng).unwrap();
    let chip_public = chip.public().to_vec();
    let mut g = c.benchmark_group("ca");
    g.bench_function("ecdh_p256_host", |b| {
        b.iter(|| host_agree(&domain, black_box(&chip_public), SmCipher::Aes128, &mut rng).unwrap())
    });
    g.finish();
}

/// The host's random bytes are fixed so that the card's answers recorded once fit every run.
fn bench_pace(c: &mut Criterion) {
    let setup = PaceSetup {
        oid: "0.4.0.127.0.7.2.2.4.2.2".to_string(),
        cipher: SmCipher::Aes128,
        domain: StandardDomain::P256,
        password: PacePassword::Mrz("T22000129364081251010318".to_string()),
    };
    let host_random: Vec<u8> = (0..256u32).map(|i| (i * 7 + 3) as u8).collect();
    let card_random: Vec<u8> = (0..256u32).map(|i| (i * 13 + 5) as u8).collect();
    // Record the card's answers to this host once.
    let mut card = CardPace::new(vec![(setup.oid.clone(), setup.cipher, setup.domain)], vec![setup.password.clone()]);
    card.mse_set_at(&mse_set_at_data(&setup, false)).unwrap();
    let mut card_rng = FixedRandomness::new(card_random);
    let mut host_rng = FixedRandomness::new(host_random.clone());
    let mut host = HostPace::new(setup.clone());
    let (a1, _) = card.general_authenticate(&HostPace::first_command_data(), &mut card_rng).unwrap();
    let (a2, _) = card.general_authenticate(&host.on_nonce(&a1, &mut host_rng).unwrap(), &mut card_rng).unwrap();
    let (a3, _) = card.general_authenticate(&host.on_mapping(&a2, &mut host_rng).unwrap(), &mut card_rng).unwrap();
    let (a4, keys) = card.general_authenticate(&host.on_key(&a3).unwrap(), &mut card_rng).unwrap();
    assert_eq!(host.finish(&a4).unwrap().keys, keys.unwrap());

    let mut g = c.benchmark_group("pace");
    g.bench_function("gm_ecdh_p256_host", |b| {
        b.iter(|| {
            let mut rng = FixedRandomness::new(host_random.clone());
            let mut host = HostPace::new(setup.clone());
            black_box(host.on_nonce(black_box(&a1), &mut rng).unwrap());
            black_box(host.on_mapping(black_box(&a2), &mut rng).unwrap());
            black_box(host.on_key(black_box(&a3)).unwrap());
            host.finish(black_box(&a4)).unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, bench_ca, bench_pace);
criterion_main!(benches);

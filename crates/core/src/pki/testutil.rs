//! Test-only access to the independent sample card copied into fixtures/samples (never
//! /work/shared): its EF.SOD, data groups and trust directory.

use std::path::PathBuf;

pub fn samples() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("fixtures/samples")
}

pub fn sample_trust_dir() -> PathBuf {
    samples().join("trust")
}

pub fn sample_chip_file(name: &str) -> Vec<u8> {
    let p = samples().join("pass-case/chip").join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display()))
}

pub fn sample_sod() -> Vec<u8> {
    sample_chip_file("sod.bin")
}

pub fn sample_csca_der() -> Vec<u8> {
    let p = sample_trust_dir().join("csca.pem");
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display()));
    let blocks = super::trust::pem_blocks(&text).expect("sample csca.pem is PEM");
    blocks.into_iter().next().expect("one block").1
}

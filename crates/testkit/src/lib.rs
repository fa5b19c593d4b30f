//! idcheck-testkit: the tooling that makes and plays test cards, which the station never links.
//! It owns the fixture corpus generator and the print / scan simulation ([`fixtures`]), chip
//! personalisation ([`personalize`]), the deterministic test PKI ([`testpki`]), the contactless
//! card emulator behind vpcd ([`emulator`]) and the photo calibration ([`calibration`]); its
//! binary `idcheck-testkit` runs them from the command line.
//!
//! It must never be a dependency of the station crate (`idcheck`) or of any crate below it:
//! only tests, benchmarks and its own binary link it.
#![forbid(unsafe_code)]
#![warn(clippy::unwrap_used)]

pub mod calibration;
pub mod emulator;
pub mod fixtures;
pub mod personalize;
pub mod testpki;

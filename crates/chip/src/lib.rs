//! The eMRTD chip protocol, host side (and the card-side halves the emulator shares): the byte
//! transport seam ([`transport`]), ISO/IEC 7816-4 APDUs ([`apdu`]), 3DES and AES secure messaging
//! ([`sm`]), Basic Access Control ([`bac`]), PACE with the generic mapping ([`pace`]), and reading
//! the chip image. Layering, bottom up: `Transport` moves bytes; `apdu` encodes them; `sm`
//! protects them; `bac` and `pace` (over `group`) establish a `SecureChannel`. Nothing here maps a failure to a verdict
//! cause: `verify::failures` does.
//!
//! idcheck-chip must never: name PC/SC (it has no `pcsc` dependency; `idcheck-pcsc` implements
//! [`Transport`] for a reader), map a failure to a verdict cause, or do I/O other than through
//! a `Transport` it is handed.
#![forbid(unsafe_code)]
#![warn(clippy::unwrap_used)]

pub mod access;
pub mod apdu;
pub mod bac;
pub mod group;
pub mod failure;
pub mod link;
pub mod options;
pub mod pace;
pub mod read;
pub mod session;
pub mod sm;
pub mod transport;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod appendix_d;
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod read_tests;
#[cfg(test)]
mod testcard;

pub use access::{AccessControl, FixedRandomness, Randomness, SystemRandomness};
pub use apdu::{Command, Response, StatusWord};
pub use bac::{BacKey, CardBac};
pub use failure::{ReadFailure, ReadFailureKind, ReadStep};
pub use link::{IoCounters, Link};
pub use read::{read_chip, ChipReader, ExtendedLength, ReadOptions, ReadOutcome, ReadProfile, ReadStats};
pub use session::{Plain, Secured, Selected, Session};
pub use sm::{SecureChannel, SessionKeys, SmCipher, SmError, SmKeys};
pub use transport::{Transport, TransportError};

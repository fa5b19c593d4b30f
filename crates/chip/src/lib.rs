//! The eMRTD chip protocol, host side (and the card-side halves the emulator shares): the byte
//! transport seam ([`transport`]), ISO/IEC 7816-4 APDUs ([`apdu`]), 3DES and AES secure messaging
//! ([`sm`]), access control — Basic Access Control ([`bac`]) and PACE ([`pace`]: the pure state
//! machines; [`pace_link`]: on the wire) over the key-agreement groups ([`group`]) — Chip
//! Authentication ([`chip_auth`]) and Active Authentication ([`active_auth`]) put on the wire by
//! [`auth`], and reading the chip image ([`read`]).
//! Layering, bottom up: `Transport` moves bytes; `link` exchanges APDUs; `apdu` encodes them; `sm`
//! protects them; `bac` / `pace_link` establish a `SecureChannel` and `auth` replaces it (Chip
//! Authentication); `session` holds the typestate; `read` drives a whole read. Nothing here maps
//! a failure to a verdict cause: `verify::failures` does.
//!
//! idcheck-chip must never: name PC/SC (it has no `pcsc` dependency; `idcheck-pcsc` implements
//! [`Transport`] for a reader), map a failure to a verdict cause, or do I/O other than through
//! a `Transport` it is handed. The pure modules (`group`, `pace`, `chip_auth`, `active_auth`,
//! `sm`, `bac`'s computations) never send an APDU.
#![forbid(unsafe_code)]
#![warn(clippy::unwrap_used)]

pub mod access;
pub mod active_auth;
pub mod apdu;
pub mod auth;
pub mod bac;
pub mod chip_auth;
pub mod failure;
pub mod group;
pub mod link;
pub mod options;
pub mod pace;
pub mod pace_link;
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
pub use active_auth::{AaError, AaPrivateKey, AaPublicKey, AaScheme};
pub use apdu::{Command, Response, StatusWord};
pub use bac::{BacKey, CardBac};
pub use failure::{ReadFailure, ReadFailureKind, ReadStep};
pub use link::{IoCounters, Link};
pub use auth::AuthRun;
pub use options::AccessPolicy;
pub use read::{read_chip, AccessReport, ChipReader, ExtendedLength, ReadOptions, ReadOutcome, ReadProfile, ReadStats};
pub use session::{Plain, Secured, Selected, Session};
pub use sm::{SecureChannel, SessionKeys, SmCipher, SmError, SmKeys};
pub use transport::{Transport, TransportError};

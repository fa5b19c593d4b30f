//! The card emulator: serves a chip image directory as a contactless ICAO LDS1 chip with BAC and
//! secure messaging, so that idcheck (and kiosk software) can be exercised without hardware.
//! [`VirtualCard`] is the pure APDU processor (`card`), [`Faults`] the fault switches (`faults`),
//! `vpcd` the client of the vsmartcard virtual reader (pcscd's `vpcd` driver) that puts the card
//! behind a real PC/SC stack, `transport` the in-process `chip::Transport` for unit tests of the
//! host side, and `cli_args` the `idcheck-testkit emulate` arguments. The library never prints: logs
//! go to the sink the caller gives.

pub mod atr;
pub mod capdu;
pub mod card;
pub mod cli_args;
pub mod eac;
pub mod faults;
mod transport;
pub mod vpcd;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod eac_tests;
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod read_interop;
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

pub use card::{ApduSummary, CardConfig, CardStats, Delivery, VirtualCard};
pub use cli_args::EmulateArgs;
pub use eac::{AccessMode, ChipSecrets};
pub use faults::{FaultParseError, Faults, MaxLe, MaxLeBehaviour, WrongAnswerKind, WrongAnswers};
pub use vpcd::{serve, Event, ServeReport, VpcdOptions, DEFAULT_VPCD_ADDR};

use idcheck_core::lds::{ChipImage, LdsError};

/// Why the emulator cannot start or go on.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("chip image has no dg1.bin: the card derives its BAC keys from the DG1 MRZ")]
    NoDg1,
    #[error("chip image: {0}")]
    Dg1(#[source] LdsError),
    #[error("chip image directory: {0}")]
    Image(#[source] LdsError),
    #[error("bac mrz information must be 24 characters of A-Z, 0-9 and `<` (document number, check digit, birth date, check digit, expiry date, check digit); got {0} characters")]
    BacMrzInformation(usize),
    #[error("bac key: {0}")]
    Bac(#[source] idcheck_chip::bac::BacError),
    #[error("vpcd address `{0}`: expected HOST:PORT")]
    Address(String),
    #[error("atr: {0}")]
    Atr(String),
    #[error("chip protocols: {0}")]
    Protocols(String),
    #[error("log output: {0}")]
    Log(#[source] std::io::Error),
}

/// Serve `image` with `faults` on the vpcd at `addr` (`HOST:PORT`, default
/// [`DEFAULT_VPCD_ADDR`]) until `stop` is set, reconnecting whenever vpcd goes away. Logs
/// nothing; see [`serve`] for a log of events and [`EmulateArgs::run`] for the CLI.
pub fn run_emulator(image: ChipImage, faults: Faults, addr: &str, stop: Arc<AtomicBool>) -> Result<ServeReport, EmulatorError> {
    let mut card = VirtualCard::new(image, faults)?;
    let opts = VpcdOptions { addr: addr.to_string(), ..VpcdOptions::default() };
    serve(&mut card, &opts, &stop, &mut |_| {})
}

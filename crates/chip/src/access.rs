//! Access control protocols that open a secure messaging session: the [`AccessControl`] trait
//! (BAC now in `bac`, PACE later beside it) and the source of the host's random numbers
//! ([`Randomness`]): the operating system's generator through ring in production, a fixed byte
//! string to replay worked examples in tests.

use std::fmt;

use super::failure::ReadFailure;
use super::link::Link;
use super::sm::SecureChannel;

/// A protocol that authenticates to the chip over a plain link (the eMRTD application already
/// selected) and yields the secure messaging session every later APDU uses.
pub trait AccessControl {
    /// Short protocol name for logs and reports: `BAC`, `PACE`.
    fn protocol(&self) -> &'static str;

    /// Run the protocol. Failures name their step (`GetChallenge`, `MutualAuthenticate`, ...).
    fn establish(&self, link: &mut Link<'_>, rng: &mut dyn Randomness) -> Result<SecureChannel, ReadFailure>;
}

/// The random number generator failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("random source: {0}")]
pub struct RandomnessError(pub String);

/// Where the host's nonces and key material come from.
pub trait Randomness {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), RandomnessError>;
}

/// The operating system's cryptographic generator (ring `SystemRandom`).
pub struct SystemRandomness(ring::rand::SystemRandom);

impl SystemRandomness {
    pub fn new() -> Self {
        SystemRandomness(ring::rand::SystemRandom::new())
    }
}

impl Default for SystemRandomness {
    fn default() -> Self {
        SystemRandomness::new()
    }
}

impl fmt::Debug for SystemRandomness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SystemRandomness")
    }
}

impl Randomness for SystemRandomness {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), RandomnessError> {
        use ring::rand::SecureRandom;
        self.0.fill(dest).map_err(|_| RandomnessError("the system random generator failed".to_string()))
    }
}

/// Replays fixed bytes, in order; fails when they run out. For worked examples and tests only:
/// never use it against a real card.
#[derive(Clone)]
pub struct FixedRandomness {
    bytes: Vec<u8>,
    pos: usize,
}

impl FixedRandomness {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        FixedRandomness { bytes: bytes.into(), pos: 0 }
    }
}

impl fmt::Debug for FixedRandomness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FixedRandomness({} of {} bytes used)", self.pos, self.bytes.len())
    }
}

impl Randomness for FixedRandomness {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), RandomnessError> {
        let end = self.pos.checked_add(dest.len()).filter(|&e| e <= self.bytes.len()).ok_or_else(|| {
            RandomnessError(format!("fixed random bytes exhausted ({} asked, {} left)", dest.len(), self.bytes.len() - self.pos))
        })?;
        dest.copy_from_slice(&self.bytes[self.pos..end]);
        self.pos = end;
        Ok(())
    }
}

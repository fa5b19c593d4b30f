//! The one byte-level seam between the chip protocol and whatever carries APDUs: a PC/SC reader
//! (`pcsc_transport`), the in-process card emulator, or a test script. Everything above this
//! trait (ISO 7816-4 commands, secure messaging, BAC, reading) is transport-agnostic; everything
//! below it is not the chip protocol's business. [`TransportError`] says why an exchange failed
//! without deciding whose fault it is (the read layer and `verify::failures` do that).

use std::fmt;

/// Carries one command APDU to the card and brings back its whole response APDU (data and the two
/// status bytes). Implementations must bound every exchange in time and report
/// [`TransportError::CardMute`] rather than block forever.
pub trait Transport {
    /// Send one command APDU (encoded bytes) and return the response APDU bytes, status word last.
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, TransportError>;

    /// Reset the card (warm reset, or power off and on) and return its ATR. After a reset the card
    /// has forgotten any selected application and secure messaging session.
    fn reset(&mut self) -> Result<Vec<u8>, TransportError> {
        Err(TransportError::Unsupported("reset".to_string()))
    }

    /// A short human-readable name of the transport end (reader name, `emulator`, ...), for logs.
    fn describe(&self) -> String {
        "transport".to_string()
    }
}

impl<T: Transport + ?Sized> Transport for &mut T {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, TransportError> {
        (**self).transmit(apdu)
    }
    fn reset(&mut self) -> Result<Vec<u8>, TransportError> {
        (**self).reset()
    }
    fn describe(&self) -> String {
        (**self).describe()
    }
}

impl<T: Transport + ?Sized> Transport for Box<T> {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, TransportError> {
        (**self).transmit(apdu)
    }
    fn reset(&mut self) -> Result<Vec<u8>, TransportError> {
        (**self).reset()
    }
    fn describe(&self) -> String {
        (**self).describe()
    }
}

/// Why one exchange with the card failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// The card left the field (or was pulled out of the reader) before answering.
    #[error("card removed")]
    CardRemoved,
    /// The card did not answer within the exchange deadline.
    #[error("card mute: no answer after {after_ms} ms")]
    CardMute { after_ms: u64 },
    /// The reader is gone, unknown or faulty (unplugged, no such reader, reader error).
    #[error("reader unavailable: {0}")]
    ReaderUnavailable(String),
    /// The smart-card service (pcscd) cannot be reached.
    #[error("smart-card service unavailable: {0}")]
    ServiceUnavailable(String),
    /// The transport itself broke the protocol (buffer too small, protocol mismatch, ...).
    #[error("transport protocol error: {0}")]
    Protocol(String),
    /// The operation was cancelled by the operator or by shutdown.
    #[error("cancelled")]
    Cancelled,
    /// The transport cannot do this operation (e.g. reset on a scripted transport).
    #[error("{0} not supported by this transport")]
    Unsupported(String),
}

impl TransportError {
    /// True when the same card may answer after a reconnect (card removed, card mute): the caller
    /// may reconnect and restart the read (see `read::ChipReader`).
    pub fn is_transient(&self) -> bool {
        matches!(self, TransportError::CardRemoved | TransportError::CardMute { .. })
    }
}

/// A transport that replays a fixed list of answers and records the commands it was given: for
/// unit tests of the layers above, and for reproducing a captured exchange.
#[derive(Clone, Default)]
pub struct ScriptedTransport {
    answers: std::collections::VecDeque<Result<Vec<u8>, TransportError>>,
    /// Every command transmitted, in order.
    pub sent: Vec<Vec<u8>>,
}

impl fmt::Debug for ScriptedTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScriptedTransport").field("answers_left", &self.answers.len()).field("sent", &self.sent.len()).finish()
    }
}

impl ScriptedTransport {
    pub fn new() -> Self {
        ScriptedTransport::default()
    }

    /// Queue one answer (response bytes, status word last).
    pub fn answer(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.answers.push_back(Ok(bytes.into()));
        self
    }

    /// Queue one failure.
    pub fn fail(mut self, err: TransportError) -> Self {
        self.answers.push_back(Err(err));
        self
    }

    /// Answers not consumed yet.
    pub fn remaining(&self) -> usize {
        self.answers.len()
    }
}

impl Transport for ScriptedTransport {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, TransportError> {
        self.sent.push(apdu.to_vec());
        // An exhausted script behaves like a card that left the field.
        self.answers.pop_front().unwrap_or(Err(TransportError::CardRemoved))
    }

    fn describe(&self) -> String {
        "scripted transport".to_string()
    }
}

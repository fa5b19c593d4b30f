//! How a chip read fails: [`ReadFailure`] names the step ([`ReadStep`]), what went wrong
//! ([`ReadFailureKind`]), the status word the card gave, how many retries were spent, and a
//! detail. The read layer only classifies; deciding which verdict cause (3, or `unavailable`)
//! a failure is belongs to `verify::failures`, the one place for that.

use std::fmt;

use super::apdu::StatusWord;
use super::link::LinkError;
use super::sm::SmError;
use super::transport::TransportError;
use idcheck_core::lds::FileId;

/// The step of a chip read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReadStep {
    /// Reaching the card: reader, card presence, power-up.
    Connect,
    /// Reading EF.ATR/INFO for the card's extended-length capabilities.
    ReadAtrInfo,
    SelectApplication,
    GetChallenge,
    /// BAC MUTUAL AUTHENTICATE (EXTERNAL AUTHENTICATE command).
    MutualAuthenticate,
    /// Reading EF.CardAccess (plain, in the master file) for the PACE parameters.
    ReadCardAccess,
    /// PACE: MSE:Set AT choosing the protocol, password and domain parameters.
    PaceSetAt,
    /// PACE General Authenticate 1: the chip's encrypted nonce.
    PaceNonce,
    /// PACE General Authenticate 2: the mapping of the nonce (Generic Mapping).
    PaceMapping,
    /// PACE General Authenticate 3: the ephemeral key agreement.
    PaceKeyAgreement,
    /// PACE General Authenticate 4: the authentication tokens (a wrong password fails here).
    PaceMutualAuthenticate,
    /// Chip Authentication (DG14): the key agreement and the restart of secure messaging.
    ChipAuthentication,
    /// Active Authentication (DG15): INTERNAL AUTHENTICATE and the signature check.
    ActiveAuthentication,
    /// SELECT of an EF by file identifier (when the chip refuses short EF identifiers).
    SelectFile(FileId),
    ReadFile(FileId),
}

impl fmt::Display for ReadStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadStep::Connect => f.write_str("connect"),
            ReadStep::ReadAtrInfo => f.write_str("read ef.atr/info"),
            ReadStep::SelectApplication => f.write_str("select application"),
            ReadStep::GetChallenge => f.write_str("get challenge"),
            ReadStep::MutualAuthenticate => f.write_str("mutual authenticate"),
            ReadStep::ReadCardAccess => f.write_str("read ef.cardaccess"),
            ReadStep::PaceSetAt => f.write_str("pace set at"),
            ReadStep::PaceNonce => f.write_str("pace nonce"),
            ReadStep::PaceMapping => f.write_str("pace mapping"),
            ReadStep::PaceKeyAgreement => f.write_str("pace key agreement"),
            ReadStep::PaceMutualAuthenticate => f.write_str("pace mutual authenticate"),
            ReadStep::ChipAuthentication => f.write_str("chip authentication"),
            ReadStep::ActiveAuthentication => f.write_str("active authentication"),
            ReadStep::SelectFile(id) => write!(f, "select {id}"),
            ReadStep::ReadFile(id) => write!(f, "read {id}"),
        }
    }
}

/// What went wrong. The card's faults and the host's are kept apart so that one mapping can send
/// the first to cause 3 and the second to `unavailable`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadFailureKind {
    /// The card stopped answering (exchange deadline passed).
    Mute,
    /// The card left the field.
    CardRemoved,
    /// The operator or a shutdown cancelled the read.
    Cancelled,
    /// No reader to read with.
    NoReader,
    /// The reader failed or vanished, or the transport broke its protocol.
    ReaderFault,
    /// The smart-card service (pcscd) is not reachable.
    ServiceUnavailable,
    /// A fault of this host (no randomness, a command it cannot encode).
    HostFault,
    /// SELECT of the eMRTD application refused.
    ApplicationMissing,
    /// The chip refused access control (BAC or PACE: wrong MRZ key or CAN, protocol not offered).
    AccessDenied,
    /// The chip's answer to BAC or PACE does not verify (MAC, nonce or token wrong).
    AuthenticationInvalid,
    /// The chip offers only what this station does not implement (a PACE mapping or domain
    /// parameters it lacks, and no BAC): the station's limit, not the card's fault.
    Unsupported,
    /// Chip Authentication failed: the chip does not hold the private key of its DG14 public key
    /// (refused the key agreement, or its answers do not verify under the new keys).
    ChipAuthenticationFailed,
    /// Active Authentication failed: the chip's signature does not verify with the DG15 key.
    ActiveAuthenticationFailed,
    /// A protected answer failed secure messaging checks.
    SecureMessaging(SmError),
    /// The file is not on the chip (6A82).
    FileMissing(FileId),
    /// The chip refuses to give the file (6982), e.g. DG3 behind EAC.
    FileAccessDenied(FileId),
    /// The file's header claims more bytes than any chip file may hold.
    FileTooLarge(FileId),
    /// The file's content is not what it must be (bad TLV header, unparsable EF.COM).
    FileUnparsable(FileId),
    /// The chip stops giving bytes before the length the file's header announces.
    FileTruncated(FileId),
    /// An answer of the wrong shape (no status word, wrong length, bad DO'53').
    MalformedResponse,
    /// A status word the step does not allow.
    UnexpectedStatus,
}

impl fmt::Display for ReadFailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadFailureKind::Mute => f.write_str("card mute"),
            ReadFailureKind::CardRemoved => f.write_str("card removed"),
            ReadFailureKind::Cancelled => f.write_str("read cancelled"),
            ReadFailureKind::NoReader => f.write_str("no reader"),
            ReadFailureKind::ReaderFault => f.write_str("reader fault"),
            ReadFailureKind::ServiceUnavailable => f.write_str("smart-card service unavailable"),
            ReadFailureKind::HostFault => f.write_str("host fault"),
            ReadFailureKind::ApplicationMissing => f.write_str("icao application missing"),
            ReadFailureKind::AccessDenied => f.write_str("access refused by the chip"),
            ReadFailureKind::AuthenticationInvalid => f.write_str("chip's access control answer does not verify"),
            ReadFailureKind::Unsupported => f.write_str("not supported by this station"),
            ReadFailureKind::ChipAuthenticationFailed => f.write_str("chip authentication failed"),
            ReadFailureKind::ActiveAuthenticationFailed => f.write_str("active authentication failed"),
            ReadFailureKind::SecureMessaging(e) => write!(f, "secure messaging error: {e}"),
            ReadFailureKind::FileMissing(id) => write!(f, "{id} missing"),
            ReadFailureKind::FileAccessDenied(id) => write!(f, "access to {id} refused"),
            ReadFailureKind::FileTooLarge(id) => write!(f, "{id} too large"),
            ReadFailureKind::FileUnparsable(id) => write!(f, "{id} unparsable"),
            ReadFailureKind::FileTruncated(id) => write!(f, "{id} shorter than its header says"),
            ReadFailureKind::MalformedResponse => f.write_str("malformed response"),
            ReadFailureKind::UnexpectedStatus => f.write_str("unexpected status"),
        }
    }
}

/// A failed chip read (or a failed step of one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadFailure {
    pub step: ReadStep,
    pub kind: ReadFailureKind,
    /// The status word that decided the failure, when the card gave one.
    pub sw: Option<StatusWord>,
    /// Retries spent in this step before giving up (shorter Le, 6CXX, whole-read attempts).
    pub retries: u32,
    /// What exactly happened, lower case; empty when the kind says it all.
    pub detail: String,
}

impl fmt::Display for ReadFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.step, self.kind)?;
        if let Some(sw) = self.sw {
            write!(f, " (status {sw})")?;
        }
        if self.retries > 0 {
            write!(f, " after {} retries", self.retries)?;
        }
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        Ok(())
    }
}

impl std::error::Error for ReadFailure {}

impl ReadFailure {
    pub fn new(step: ReadStep, kind: ReadFailureKind) -> Self {
        ReadFailure { step, kind, sw: None, retries: 0, detail: String::new() }
    }

    pub fn with_sw(mut self, sw: StatusWord) -> Self {
        self.sw = Some(sw);
        self
    }

    pub fn with_retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = detail.into();
        self
    }

    /// A transport failure at `step`.
    pub fn from_transport(step: ReadStep, err: &TransportError) -> Self {
        let kind = match err {
            TransportError::CardRemoved => ReadFailureKind::CardRemoved,
            TransportError::CardMute { .. } => ReadFailureKind::Mute,
            TransportError::ReaderUnavailable(_) | TransportError::Protocol(_) | TransportError::Unsupported(_) => {
                ReadFailureKind::ReaderFault
            }
            TransportError::ServiceUnavailable(_) => ReadFailureKind::ServiceUnavailable,
            TransportError::Cancelled => ReadFailureKind::Cancelled,
        };
        ReadFailure::new(step, kind).with_detail(err.to_string())
    }

    /// A failure of the exchange layer at `step`.
    pub fn from_link(step: ReadStep, err: &LinkError) -> Self {
        match err {
            LinkError::Transport(e) => ReadFailure::from_transport(step, e),
            LinkError::Response(e) => ReadFailure::new(step, ReadFailureKind::MalformedResponse).with_detail(e.to_string()),
            LinkError::Sm(e) => ReadFailure::new(step, ReadFailureKind::SecureMessaging(e.clone())),
            LinkError::Command(e) => ReadFailure::new(step, ReadFailureKind::HostFault).with_detail(e.to_string()),
            LinkError::GetResponseOverflow { rounds, bytes } => ReadFailure::new(step, ReadFailureKind::MalformedResponse)
                .with_detail(format!("get response chain of {rounds} rounds and {bytes} bytes does not end")),
        }
    }

    /// An answer of the wrong shape.
    pub fn malformed(step: ReadStep, detail: impl Into<String>) -> Self {
        ReadFailure::new(step, ReadFailureKind::MalformedResponse).with_detail(detail)
    }

    /// A status word the step does not allow.
    pub fn unexpected(step: ReadStep, sw: StatusWord) -> Self {
        ReadFailure::new(step, ReadFailureKind::UnexpectedStatus).with_sw(sw)
    }

    /// True when the same card may read fine after a reconnect (card removed, card mute): the
    /// caller may reconnect and call `ChipReader::read` again, which resumes.
    pub fn is_transient(&self) -> bool {
        matches!(self.kind, ReadFailureKind::CardRemoved | ReadFailureKind::Mute)
    }

    /// The file the failure is about, if any.
    pub fn file(&self) -> Option<FileId> {
        match self.step {
            ReadStep::SelectFile(f) | ReadStep::ReadFile(f) => Some(f),
            _ => None,
        }
    }
}

//! The one place where typed errors of the lower layers become verdict material: a chip that
//! cannot be parsed or trusted becomes a cause-3 finding naming the step; a fault that is not the
//! card's becomes an `unavailable` reason. Nothing else decides which cause an error belongs to.

use idcheck_chip::{ReadFailure, ReadFailureKind};
use idcheck_core::compare::photo::PhotoError;
use idcheck_core::lds::{FileId, LdsError};
use idcheck_core::pki::PaFailure;
use idcheck_core::verdict::{Cause, Finding, Sources};

/// A chip file is missing or does not parse: cause 3 (the chip cannot be read).
pub fn chip_file_finding(err: &LdsError) -> Finding {
    let item = match err.file() {
        Some(f) => format!("chip.{}", file_stem(f)),
        None => "chip".to_string(),
    };
    Finding::new(Cause::ChipUnreadable, item, Sources::C, format!("step parse: {err}"))
}

/// Why the chip's facial image (DG2, which parsed) does not decode: a JPEG through the photo
/// decoder, a JPEG 2000 through `lds` (after its SIZ check).
#[derive(Debug, thiserror::Error)]
pub enum ChipPhotoError {
    #[error("{0}")]
    Jpeg(#[from] PhotoError),
    #[error("{0}")]
    Jpeg2000(#[from] LdsError),
}

/// The chip photo parses as a data group but its image does not decode: cause 3 (the chip
/// content cannot be used).
pub fn chip_photo_finding(err: &ChipPhotoError) -> Finding {
    Finding::new(Cause::ChipUnreadable, "chip.dg2", Sources::C, format!("step decode: chip photo does not decode: {err}"))
}

/// What a failed passive authentication means: the station's trust store cannot decide (a CRL
/// the policy requires is missing or stale: `unavailable`, the card is not blamed), or cause 3.
pub enum PaOutcome {
    Unavailable(String),
    Card(Finding),
}

pub fn passive_auth_outcome(err: &PaFailure) -> PaOutcome {
    if err.is_station_fault() {
        PaOutcome::Unavailable(format!("passive authentication cannot be completed: {err}"))
    } else {
        PaOutcome::Card(passive_auth_finding(err))
    }
}

/// Passive authentication failed: cause 3 (the written information cannot be trusted).
pub fn passive_auth_finding(err: &PaFailure) -> Finding {
    let item = match err {
        PaFailure::SodUnparsable(_) => "chip.sod".to_string(),
        PaFailure::DgHashMismatch { dg, .. } | PaFailure::DgNotInSod { dg } | PaFailure::MandatoryDgAbsent { dg } => {
            format!("chip.dg{dg}.hash")
        }
        PaFailure::MessageDigestMismatch { .. } => "chip.sod.message_digest".to_string(),
        PaFailure::SignerCertificateMissing { .. } | PaFailure::SignatureInvalid { .. } => "chip.sod.signature".to_string(),
        PaFailure::SignerUnknown { .. }
        | PaFailure::CertificateSignatureInvalid { .. }
        | PaFailure::ChainRule { .. } => "chip.sod.signer".to_string(),
        PaFailure::CertificateExpired { .. } | PaFailure::SignedOutsideValidity { .. } => "chip.sod.certificate_validity".to_string(),
        PaFailure::UnsupportedAlgorithm { .. } => "chip.sod.algorithm".to_string(),
        PaFailure::Revoked { .. } | PaFailure::RevocationUnknown { .. } => "chip.sod.revocation".to_string(),
    };
    let mut f = Finding::new(
        Cause::ChipUnreadable,
        item,
        Sources::C,
        format!("step passive authentication: {err}; the chip content that parses is compared all the same, not authenticated"),
    );
    f.chip_unauthenticated = true;
    f
}

/// The chip content failed passive authentication (the cause-3 finding `pa_item`) and was
/// compared all the same: every cause-2 difference found in it says that the content it rests on
/// is not authenticated (causes.md, Attribution). Other findings are left as they are.
pub fn mark_unauthenticated(findings: &mut [Finding], pa_item: &str) {
    for f in findings.iter_mut().filter(|f| f.cause == Cause::SurfaceVsChip) {
        f.chip_unauthenticated = true;
        f.detail.push_str(&format!("; the chip content is not authenticated (passive authentication failed: {pa_item})"));
    }
}

fn file_stem(f: FileId) -> &'static str {
    f.file_name().trim_end_matches(".bin")
}

/// What a failed chip read means for the verdict.
#[derive(Debug, Clone, PartialEq)]
pub enum ReadFailureClass {
    /// The card's fault: a cause-3 finding.
    Card(Finding),
    /// Not the card's fault (no service, no reader, reader fault, host fault): `unavailable`.
    Unavailable(String),
    /// The read was cancelled (shutdown, operator): no verdict at all.
    Aborted(String),
}

/// Classify a failed read: cause 3 naming the step, status word and retries, or `unavailable`
/// when the fault is the station's, or aborted.
pub fn read_failure(err: &ReadFailure) -> ReadFailureClass {
    match &err.kind {
        ReadFailureKind::Cancelled => ReadFailureClass::Aborted(err.to_string()),
        ReadFailureKind::NoReader
        | ReadFailureKind::ReaderFault
        | ReadFailureKind::ServiceUnavailable
        | ReadFailureKind::HostFault
        | ReadFailureKind::Unsupported => ReadFailureClass::Unavailable(err.to_string()),
        ReadFailureKind::Mute
        | ReadFailureKind::CardRemoved
        | ReadFailureKind::ApplicationMissing
        | ReadFailureKind::AccessDenied
        | ReadFailureKind::AuthenticationInvalid
        | ReadFailureKind::ChipAuthenticationFailed
        | ReadFailureKind::ActiveAuthenticationFailed
        | ReadFailureKind::SecureMessaging(_)
        | ReadFailureKind::FileMissing(_)
        | ReadFailureKind::FileAccessDenied(_)
        | ReadFailureKind::FileTooLarge(_)
        | ReadFailureKind::FileUnparsable(_)
        | ReadFailureKind::FileTruncated(_)
        | ReadFailureKind::MalformedResponse
        | ReadFailureKind::UnexpectedStatus => {
            let step = err.step.to_string().replace(' ', "_").replace(['.', '/'], "_").to_lowercase();
            let mut f = Finding::new(Cause::ChipUnreadable, format!("chip.read.{step}"), Sources::C, format!("step {err}"));
            if let Some(sw) = err.sw {
                f.actual = Some(format!("{sw}").into());
            }
            ReadFailureClass::Card(f)
        }
    }
}

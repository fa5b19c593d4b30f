//! The one place where typed errors of the lower layers become verdict material: a chip that
//! cannot be parsed or trusted becomes a cause-3 finding naming the step; a fault that is not the
//! card's becomes an `unavailable` reason. Nothing else decides which cause an error belongs to.

use crate::lds::{FileId, LdsError};
use crate::pki::PaFailure;
use crate::verdict::{Cause, Finding, Sources};

/// A chip file is missing or does not parse: cause 3 (the chip cannot be read).
pub fn chip_file_finding(err: &LdsError) -> Finding {
    let item = match err.file() {
        Some(f) => format!("chip.{}", file_stem(f)),
        None => "chip".to_string(),
    };
    Finding::new(Cause::ChipUnreadable, item, Sources::C, format!("step parse: {err}"))
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
        PaFailure::SignerUnknown { .. } | PaFailure::CertificateSignatureInvalid { .. } => "chip.sod.signer".to_string(),
        PaFailure::CertificateExpired { .. } => "chip.sod.certificate_validity".to_string(),
        PaFailure::UnsupportedAlgorithm { .. } => "chip.sod.algorithm".to_string(),
    };
    Finding::new(Cause::ChipUnreadable, item, Sources::C, format!("step passive authentication: {err}"))
}

fn file_stem(f: FileId) -> &'static str {
    f.file_name().trim_end_matches(".bin")
}

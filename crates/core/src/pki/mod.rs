//! Passive authentication (ICAO 9303 Part 11 section 5.1, chip-profile.md "Passive
//! authentication"): parse EF.SOD, recompute data group hashes, check the signer's signature with
//! the embedded document signer (DS) certificate and that certificate against a trust store of
//! country signing CA (CSCA) certificates. This module tree owns all certificate, CRL and CMS
//! handling (the deterministic test PKI / EF.SOD writer that personalisation and fixtures use is
//! testkit's `testpki`).
//!
//! Parsing: EF.SOD ([`sod`]), certificates ([`cert`]) and CRLs ([`crl`]) are decoded by the
//! RustCrypto crates (`der`, `spki`, `x509-cert`, `cms`, `const-oid`), strict DER, field by field
//! through [`der::Cursor`] so that every error names the field and its offset. EF.SOD may be BER:
//! [`ber::to_der`] first rewrites indefinite lengths, constructed strings and non-minimal lengths
//! into DER and leaves every other byte as it is, so the signature is checked over the signed
//! attributes as the signer encoded them (re-tagged SET) and messageDigest over the
//! LDSSecurityObject's content octets. `tlv` stays the reader of the chip's BER-TLV files (and of
//! algorithm parameters in [`alg`]).
//!
//! It returns typed results only ([`PaReport`] / [`PaFailure`]); it knows nothing of verdicts or
//! causes (the caller maps any `PaFailure` to cause 3).
//!
//! Decisions:
//! - Every data group handed in must be listed in EF.SOD ([`PaFailure::DgNotInSod`]).
//! - A data group listed in EF.SOD but not handed in fails only for DG1 and DG2, the data groups
//!   ICAO 9303 makes mandatory on every eMRTD ([`PaFailure::MandatoryDgAbsent`]); any other is
//!   reported in [`PaReport::listed_not_present`] for the profile layer to judge (a resident card
//!   also requires DG3 and DG13; a passport may withhold DG3 behind EAC).
//! - Steps run in a fixed order and the first failure is returned: parse, data group hashes,
//!   messageDigest, signer signature, then the certification path ([`chain`]: issuer and key
//!   identifier match, each signature, basicConstraints and keyUsage, validity at signing time
//!   and on the day checked, revocation).
//! - The DS certificate must be embedded in EF.SOD (ICAO requires it); several trusted CSCAs with
//!   the issuer's name (key rollover) are each tried; CSCA link certificates are anchors checked
//!   against their own issuer when the store holds it.
//! - Validity (`at`) is checked by UTC calendar day, both ends inclusive, for every certificate of
//!   the path, and CRL freshness on the same day; without `at` neither is checked (the signingTime
//!   rule still is).
//! - A revoked DS (or link) is a failure under any policy; a missing or stale CRL follows the
//!   trust store's [`RevocationPolicy`]: `require` fails with [`PaFailure::RevocationUnknown`],
//!   which is the station's fault, not the card's ([`PaFailure::is_station_fault`]); `warn`
//!   passes and says so in [`PaReport::revocation`].

pub mod alg;
pub mod ber;
pub mod cert;
pub mod chain;
pub mod cms;
pub mod crl;
pub mod der;
pub mod inspect;
pub mod masterlist;
pub mod sod;
pub mod trust;
pub mod trust_dir;

#[cfg(test)]
pub(crate) mod testutil;

use std::path::{Path, PathBuf};

use time::{Date, OffsetDateTime};

pub use alg::{DigestAlg, KeyKind, PublicKey, VerifyError};
pub use cert::{BasicConstraints, Certificate};
pub use crl::{Crl, Revoked};
pub use masterlist::MasterList;
pub use self::der::{AlgorithmIdentifier, Name, Oid};
pub use sod::{SignerId, SignerInfo, Sod};
pub use chain::{ChainReport, RevocationCheck, RevocationStatus};
pub use trust::{RevocationPolicy, TrustStore};

use crate::tlv::TlvError;

/// Why PKI bytes (EF.SOD, a certificate, a PEM file, a key) could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PkiError {
    #[error("{field} at offset {offset}: {source}")]
    Tlv { field: &'static str, offset: usize, source: TlvError },
    #[error("{field} at offset {offset}: {what}")]
    Invalid { field: &'static str, offset: usize, what: String },
    #[error("{field} at offset {offset}: unsupported algorithm {oid}")]
    UnsupportedAlgorithm { field: &'static str, offset: usize, oid: String },
    #[error("{}: {what}", path.display())]
    File { path: PathBuf, what: String },
    #[error("{}: {source}", path.display())]
    InFile { path: PathBuf, source: Box<PkiError> },
}

impl PkiError {
    /// The same error, naming the file it came from.
    pub fn in_file(self, path: &Path) -> PkiError {
        PkiError::InFile { path: path.to_path_buf(), source: Box::new(self) }
    }
}

/// What a successful passive authentication established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaReport {
    /// The LDSSecurityObject hash algorithm.
    pub digest_alg: DigestAlg,
    /// Data groups whose hash was recomputed and matched, ascending.
    pub dgs_verified: Vec<u8>,
    /// Data groups listed in EF.SOD but not handed in (never DG1 or DG2, which fail instead).
    pub listed_not_present: Vec<u8>,
    /// The SignerInfo digest and signature algorithm (readable names).
    pub signer_digest_alg: DigestAlg,
    pub signature_alg: String,
    /// The document signer key's curve (EC keys only).
    pub signer_curve: Option<String>,
    pub signing_time: Option<OffsetDateTime>,
    pub ds_subject: String,
    pub ds_serial: String,
    pub csca_subject: String,
    pub csca_serial: String,
    /// The day validity was checked on, if any.
    pub validity_checked_on: Option<Date>,
    /// The certification path, DS first, anchor last.
    pub chain: Vec<String>,
    /// How revocation was checked for each certificate below the anchor.
    pub revocation: Vec<RevocationCheck>,
}

/// The step of passive authentication that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaFailure {
    #[error("ef.sod cannot be parsed: {0}")]
    SodUnparsable(PkiError),
    #[error("dg{dg} hash differs from ef.sod: ef.sod lists {}, the data group hashes to {}", hex::encode(.expected), hex::encode(.actual))]
    DgHashMismatch { dg: u8, expected: Vec<u8>, actual: Vec<u8> },
    #[error("dg{dg} is present on the chip but not listed in ef.sod")]
    DgNotInSod { dg: u8 },
    #[error("dg{dg} is listed in ef.sod but absent, and every eMRTD must carry it")]
    MandatoryDgAbsent { dg: u8 },
    #[error("ef.sod messageDigest attribute {} differs from the digest of the ldsSecurityObject {}", hex::encode(.expected), hex::encode(.actual))]
    MessageDigestMismatch { expected: Vec<u8>, actual: Vec<u8> },
    #[error("ef.sod carries no document signer certificate matching its signer ({signer})")]
    SignerCertificateMissing { signer: String },
    #[error("ef.sod signature does not verify with the document signer certificate ({subject})")]
    SignatureInvalid { subject: String },
    #[error("document signer issuer {issuer} is not in the trust store")]
    SignerUnknown { issuer: String },
    #[error("document signer certificate ({subject}) signature does not verify with the trusted csca ({issuer})")]
    CertificateSignatureInvalid { subject: String, issuer: String },
    #[error("certificate {subject} is not valid on {at}: valid from {} to {}", .not_before.date(), .not_after.date())]
    CertificateExpired { subject: String, not_before: OffsetDateTime, not_after: OffsetDateTime, at: Date },
    #[error("unsupported algorithm {oid}")]
    UnsupportedAlgorithm { oid: String },
    #[error("certification path rule {rule}: {what} ({subject})")]
    ChainRule { rule: &'static str, subject: String, what: String },
    #[error("certificate {subject} was not valid when ef.sod was signed ({}): valid from {} to {}", .signing_time, .not_before, .not_after)]
    SignedOutsideValidity { subject: String, signing_time: OffsetDateTime, not_before: OffsetDateTime, not_after: OffsetDateTime },
    #[error("certificate {subject} (serial {serial}) is revoked since {} (crl of {})", .date.date(), .crl_this_update.date())]
    Revoked { subject: String, serial: String, date: OffsetDateTime, crl_this_update: OffsetDateTime },
    #[error("revocation of {subject} cannot be checked and the policy requires it: {reason}")]
    RevocationUnknown { subject: String, reason: String },
}

impl PaFailure {
    /// The step that failed, as a short stable name.
    pub fn step(&self) -> &'static str {
        match self {
            PaFailure::SodUnparsable(_) => "sod_parse",
            PaFailure::DgHashMismatch { .. } => "dg_hash",
            PaFailure::DgNotInSod { .. } | PaFailure::MandatoryDgAbsent { .. } => "dg_list",
            PaFailure::MessageDigestMismatch { .. } => "message_digest",
            PaFailure::SignerCertificateMissing { .. } | PaFailure::SignatureInvalid { .. } => "signature",
            PaFailure::SignerUnknown { .. } => "trust_store",
            PaFailure::CertificateSignatureInvalid { .. } => "certificate_signature",
            PaFailure::CertificateExpired { .. } => "certificate_validity",
            PaFailure::UnsupportedAlgorithm { .. } => "algorithm",
            PaFailure::ChainRule { rule, .. } => rule,
            PaFailure::SignedOutsideValidity { .. } => "signing_time",
            PaFailure::Revoked { .. } => "revocation",
            PaFailure::RevocationUnknown { .. } => "revocation_unknown",
        }
    }

    /// The failure is the station's, not the card's: its trust store cannot decide (a CRL the
    /// policy requires is missing or stale). Such a verification is `unavailable`.
    pub fn is_station_fault(&self) -> bool {
        matches!(self, PaFailure::RevocationUnknown { .. })
    }

    /// The state of the certification path this failure says, for reports: `untrusted`,
    /// `revoked`, `expired`, `unknown` (revocation cannot be checked); `None` when the failure
    /// is before the path.
    pub fn chain_state(&self) -> Option<&'static str> {
        match self {
            PaFailure::SignerUnknown { .. }
            | PaFailure::CertificateSignatureInvalid { .. }
            | PaFailure::ChainRule { .. } => Some("untrusted"),
            PaFailure::CertificateExpired { .. } | PaFailure::SignedOutsideValidity { .. } => Some("expired"),
            PaFailure::Revoked { .. } => Some("revoked"),
            PaFailure::RevocationUnknown { .. } => Some("unknown"),
            _ => None,
        }
    }

    /// The data group the failure is about, if any.
    pub fn data_group(&self) -> Option<u8> {
        match self {
            PaFailure::DgHashMismatch { dg, .. } | PaFailure::DgNotInSod { dg } | PaFailure::MandatoryDgAbsent { dg } => Some(*dg),
            _ => None,
        }
    }
}

/// EF.SOD parsed for passive authentication (an unsupported algorithm is its own failure).
pub fn parse_sod(sod: &[u8]) -> Result<Sod, PaFailure> {
    Sod::parse(sod).map_err(|e| match e {
        PkiError::UnsupportedAlgorithm { oid, .. } => PaFailure::UnsupportedAlgorithm { oid },
        e => PaFailure::SodUnparsable(e),
    })
}

/// Steps 2 and 3 of passive authentication: messageDigest covers the LDSSecurityObject, and the
/// signature over the signed attributes verifies with the DS certificate embedded in EF.SOD,
/// which is returned.
pub fn check_signer(sod: &Sod) -> Result<&Certificate, PaFailure> {
    cms::verify_signer(&sod.signer, &sod.e_content, &sod.certificates).map_err(|e| match e {
        cms::SignatureFailure::MessageDigestMismatch { expected, actual } => PaFailure::MessageDigestMismatch { expected, actual },
        cms::SignatureFailure::SignerCertificateMissing { signer } => PaFailure::SignerCertificateMissing { signer },
        cms::SignatureFailure::SignatureInvalid { subject } => PaFailure::SignatureInvalid { subject },
        cms::SignatureFailure::UnsupportedAlgorithm { oid } => PaFailure::UnsupportedAlgorithm { oid },
    })
}

/// Passive authentication of one chip: `sod` is EF.SOD as read (tag 77), `dgs` the data groups
/// read (number, whole file bytes as read), `trust` the CSCA certificates, `at` the day to check
/// certificate validity on (`None`: not checked). See the module doc for the rules.
pub fn passive_authentication(
    sod: &[u8],
    dgs: &[(u8, &[u8])],
    trust: &TrustStore,
    at: Option<Date>,
) -> Result<PaReport, PaFailure> {
    let sod = parse_sod(sod)?;

    // 1. Data group hashes.
    let mut dgs_verified = Vec::new();
    for &(dg, data) in dgs {
        let expected = sod.dg_hashes.get(&dg).ok_or(PaFailure::DgNotInSod { dg })?;
        let actual = sod.digest_alg.digest(data);
        if &actual != expected {
            return Err(PaFailure::DgHashMismatch { dg, expected: expected.clone(), actual });
        }
        dgs_verified.push(dg);
    }
    dgs_verified.sort_unstable();
    dgs_verified.dedup();
    let listed_not_present: Vec<u8> = sod.dg_hashes.keys().copied().filter(|n| !dgs_verified.contains(n)).collect();
    if let Some(&dg) = listed_not_present.iter().find(|&&n| n == 1 || n == 2) {
        return Err(PaFailure::MandatoryDgAbsent { dg });
    }

    // 2 and 3. messageDigest and the signer's signature.
    let ds = check_signer(&sod)?;
    let signer = &sod.signer;

    // 4. The certification path, its rules and revocation.
    let chain = chain::verify_chain(ds, trust, signer.signing_time, at)?;
    Ok(PaReport {
        digest_alg: sod.digest_alg,
        dgs_verified,
        listed_not_present,
        signer_digest_alg: signer.digest_alg,
        signature_alg: alg::signature_name(&signer.signature_alg.oid),
        signer_curve: ds.public_key.ec_curve().map(|c| c.name().to_string()),
        signing_time: signer.signing_time,
        ds_subject: ds.subject.text.clone(),
        ds_serial: ds.serial_hex(),
        csca_subject: chain.subjects.last().cloned().unwrap_or_default(),
        csca_serial: chain.serials.last().cloned().unwrap_or_default(),
        validity_checked_on: at,
        chain: chain.subjects,
        revocation: chain.revocation,
    })
}

//! Passive authentication of one EF.SOD step by step, for staff and auditors (`idcheck pki
//! verify-sod`): every step is run that can be, whatever an earlier one found, and each result is
//! kept, with the first failing step in passive authentication's order. This module owns that
//! report; the steps themselves are [`super::parse_sod`], [`super::check_signer`] and
//! [`super::chain::verify_chain`], the same code the station's verdicts use.
//!
//! Differences from [`super::passive_authentication`], on purpose: a data group listed in EF.SOD
//! but not given is `not_given`, never a failure (staff often hold the EF.SOD alone); a data
//! group given but not listed is `not_listed` and fails.

use std::collections::BTreeMap;

use time::{Date, OffsetDateTime};

use super::chain::{self, RevocationCheck};
use super::{alg, parse_sod, check_signer, PaFailure, TrustStore};

/// One data group's hash check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DgState {
    Ok,
    Mismatch { expected: Vec<u8>, actual: Vec<u8> },
    /// Listed in EF.SOD, no file given.
    NotGiven,
    /// Given, but EF.SOD lists no hash for it.
    NotListed,
}

impl DgState {
    pub fn as_str(&self) -> &'static str {
        match self {
            DgState::Ok => "ok",
            DgState::Mismatch { .. } => "mismatch",
            DgState::NotGiven => "not_given",
            DgState::NotListed => "not_listed",
        }
    }
}

/// The signer's signature (with messageDigest).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureState {
    Ok,
    Invalid,
    Unsupported,
}

impl SignatureState {
    pub fn as_str(self) -> &'static str {
        match self {
            SignatureState::Ok => "ok",
            SignatureState::Invalid => "invalid",
            SignatureState::Unsupported => "unsupported",
        }
    }
}

/// Everything one EF.SOD inspection found. Fields after `parse_error` are `None` / empty when
/// EF.SOD did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspection {
    pub parsed: bool,
    /// Parsed from BER (normalised to DER first).
    pub ber: bool,
    pub digest_algorithm: Option<String>,
    pub signer_digest_algorithm: Option<String>,
    pub signature_algorithm: Option<String>,
    /// The document signer key's curve (EC keys).
    pub curve: Option<String>,
    pub data_groups: BTreeMap<u8, DgState>,
    pub signature: Option<SignatureState>,
    pub signer_subject: Option<String>,
    pub signer_serial: Option<String>,
    pub signing_time: Option<OffsetDateTime>,
    /// `ok`, or [`PaFailure::chain_state`] of the path's failure; `None` when there is no DS
    /// certificate to build a path from.
    pub chain: Option<&'static str>,
    /// The verified path, DS first (empty unless `chain` is `ok`).
    pub chain_subjects: Vec<String>,
    pub revocation: Vec<RevocationCheck>,
    /// The first failing step, in passive authentication's order.
    pub first_failure: Option<PaFailure>,
}

/// Inspect `sod` (tag 77 or bare ContentInfo; DER or BER) with the data groups given, against
/// `trust` on day `at`.
pub fn inspect(sod: &[u8], dgs: &[(u8, &[u8])], trust: &TrustStore, at: Option<Date>) -> Inspection {
    let mut out = Inspection {
        parsed: false,
        ber: false,
        digest_algorithm: None,
        signer_digest_algorithm: None,
        signature_algorithm: None,
        curve: None,
        data_groups: BTreeMap::new(),
        signature: None,
        signer_subject: None,
        signer_serial: None,
        signing_time: None,
        chain: None,
        chain_subjects: Vec::new(),
        revocation: Vec::new(),
        first_failure: None,
    };
    let parsed = match parse_sod(sod) {
        Ok(s) => s,
        Err(e) => {
            out.first_failure = Some(e);
            return out;
        }
    };
    let mut failures: Vec<PaFailure> = Vec::new();
    out.parsed = true;
    out.ber = super::ber::to_der(sod).is_ok_and(|d| d != sod);
    out.digest_algorithm = Some(parsed.digest_alg.name().to_string());
    out.signer_digest_algorithm = Some(parsed.signer.digest_alg.name().to_string());
    out.signature_algorithm = Some(alg::signature_name(&parsed.signer.signature_alg.oid));
    out.signing_time = parsed.signer.signing_time;

    for (&n, expected) in &parsed.dg_hashes {
        out.data_groups.insert(n, DgState::NotGiven);
        if let Some(&(_, data)) = dgs.iter().find(|(d, _)| *d == n) {
            let actual = parsed.digest_alg.digest(data);
            if &actual == expected {
                out.data_groups.insert(n, DgState::Ok);
            } else {
                failures.push(PaFailure::DgHashMismatch { dg: n, expected: expected.clone(), actual: actual.clone() });
                out.data_groups.insert(n, DgState::Mismatch { expected: expected.clone(), actual });
            }
        }
    }
    for &(n, _) in dgs {
        if !parsed.dg_hashes.contains_key(&n) {
            out.data_groups.insert(n, DgState::NotListed);
            failures.push(PaFailure::DgNotInSod { dg: n });
        }
    }

    let ds = parsed.signer_certificate();
    if let Some(ds) = ds {
        out.curve = ds.public_key.ec_curve().map(|c| c.name().to_string());
        out.signer_subject = Some(ds.subject.text.clone());
        out.signer_serial = Some(ds.serial_hex());
    }
    match check_signer(&parsed) {
        Ok(_) => out.signature = Some(SignatureState::Ok),
        Err(e) => {
            out.signature = Some(match e {
                PaFailure::UnsupportedAlgorithm { .. } => SignatureState::Unsupported,
                _ => SignatureState::Invalid,
            });
            failures.push(e);
        }
    }
    if let Some(ds) = ds {
        match chain::verify_chain(ds, trust, parsed.signer.signing_time, at) {
            Ok(c) => {
                out.chain = Some("ok");
                out.chain_subjects = c.subjects;
                out.revocation = c.revocation;
            }
            Err(e) => {
                out.chain = Some(e.chain_state().unwrap_or("untrusted"));
                failures.push(e);
            }
        }
    }
    out.first_failure = failures.into_iter().next();
    out
}

//! The certification path of a document signer (ICAO 9303-12 sections 5 and 7, RFC 5280 section
//! 6 as far as a two- or three-level eMRTD PKI needs it): from the DS certificate through CSCA
//! link certificates to a self-signed CSCA of the trust store, the rules every link must keep,
//! and revocation by the CSCAs' CRLs. This module owns those decisions and nothing before them
//! (EF.SOD parsing and its signature are [`super::passive_authentication`]'s); it returns typed
//! results and knows nothing of verdicts.
//!
//! Rules, each failure naming it ([`super::PaFailure::ChainRule`] and friends):
//! - A trust anchor is a self-signed certificate of the store (subject = issuer, and its
//!   signature verifies with its own key). Any other certificate of the store is a *link
//!   certificate* (a CSCA's new key signed by its old one, same name; or a CSCA cross-certified by
//!   another): trusted only through its own issuer, up to an anchor, at
//!   most [`MAX_DEPTH`] certificates above the DS. A store cert that chains nowhere is not an
//!   anchor.
//! - Issuer match: a candidate's subject names the certificate's issuer; when both carry key
//!   identifiers, the authorityKeyIdentifier must equal the candidate's subjectKeyIdentifier (a
//!   name match with every key identifier different is rule `issuer_key_id`).
//! - Every issuing certificate (link or anchor) says basicConstraints cA (rule
//!   `basic_constraints`) and, when it has keyUsage, keyCertSign (rule `key_usage`). The DS, when
//!   it has keyUsage, has digitalSignature (rule `key_usage`). An absent keyUsage restricts
//!   nothing (RFC 5280 4.2.1.3); ICAO profiles always carry it.
//! - Validity at signing time: when EF.SOD has a signingTime, every certificate of the path was
//!   valid at that instant (rule `signing_time`). Validity on the day checked (`at`): every
//!   certificate of the path, by UTC calendar day, both ends inclusive (`certificate_validity`).
//! - Revocation: every certificate of the path below the anchor (the DS and any link) is looked
//!   up in the CRLs of its issuer: CRLs of the store whose issuer names it and whose signature
//!   verifies with a store certificate of that name (a CSCA signs its CRL with its current key,
//!   which may be a newer key than the one that issued the DS). Listed in any of them: revoked,
//!   with the serial and the revocation date. No such CRL, or (with `at`) none current
//!   (thisUpdate <= at <= nextUpdate): the store's [`RevocationPolicy`] decides.

use time::{Date, OffsetDateTime};

use super::alg::VerifyError;
use super::cert::{key_usage, Certificate};
use super::crl::Crl;
use super::trust::{RevocationPolicy, TrustStore};
use super::PaFailure;

/// Most certificates above the document signer (links and the anchor).
pub const MAX_DEPTH: usize = 4;

/// A verified path: the DS first, the anchor last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    /// Subjects (readable form) of the path, DS first.
    pub subjects: Vec<String>,
    /// Serials (hex) in the same order.
    pub serials: Vec<String>,
    /// The revocation check of each certificate below the anchor, DS first.
    pub revocation: Vec<RevocationCheck>,
}

/// How one certificate's revocation was checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationCheck {
    pub subject: String,
    pub serial: String,
    pub status: RevocationStatus,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevocationStatus {
    /// Not listed in a current, verified CRL of its issuer.
    Good { crl_this_update: OffsetDateTime, crl_next_update: Option<OffsetDateTime> },
    /// Not checked (policy `warn`): why.
    NotChecked { reason: String },
}

impl RevocationCheck {
    /// The reason revocation was not checked, if it was not.
    pub fn not_checked(&self) -> Option<&str> {
        match &self.status {
            RevocationStatus::NotChecked { reason } => Some(reason),
            RevocationStatus::Good { .. } => None,
        }
    }
}

/// Build and check the path of `ds` (whose signature over EF.SOD has verified) in `trust`.
/// `signing_time` is EF.SOD's signingTime attribute, `at` the day to check validity and CRL
/// freshness on. The first failing rule is returned.
pub fn verify_chain(
    ds: &Certificate,
    trust: &TrustStore,
    signing_time: Option<OffsetDateTime>,
    at: Option<Date>,
) -> Result<ChainReport, PaFailure> {
    if let Some(ku) = ds.key_usage {
        if ku & key_usage::DIGITAL_SIGNATURE == 0 {
            return Err(rule(ds, "key_usage", "the document signer's keyUsage lacks digitalSignature"));
        }
    }
    let path = build_path(ds, trust)?;
    for issuer in &path[1..] {
        if !issuer.is_ca() {
            return Err(rule(issuer, "basic_constraints", "an issuing certificate lacks basicConstraints cA"));
        }
        if let Some(ku) = issuer.key_usage {
            if ku & key_usage::KEY_CERT_SIGN == 0 {
                return Err(rule(issuer, "key_usage", "an issuing certificate's keyUsage lacks keyCertSign"));
            }
        }
    }
    if let Some(t) = signing_time {
        if let Some(c) = path.iter().find(|c| t < c.not_before || t > c.not_after) {
            return Err(PaFailure::SignedOutsideValidity {
                subject: c.subject.text.clone(),
                signing_time: t,
                not_before: c.not_before,
                not_after: c.not_after,
            });
        }
    }
    if let Some(day) = at {
        if let Some(c) = path.iter().find(|c| !c.is_valid_on(day)) {
            return Err(PaFailure::CertificateExpired {
                subject: c.subject.text.clone(),
                not_before: c.not_before,
                not_after: c.not_after,
                at: day,
            });
        }
    }
    let mut revocation = Vec::new();
    for pair in path.windows(2) {
        revocation.push(check_revocation(pair[0], pair[1], trust, at)?);
    }
    Ok(ChainReport {
        subjects: path.iter().map(|c| c.subject.text.clone()).collect(),
        serials: path.iter().map(|c| c.serial_hex()).collect(),
        revocation,
    })
}

fn rule(c: &Certificate, rule: &'static str, what: &str) -> PaFailure {
    PaFailure::ChainRule { rule, subject: c.subject.text.clone(), what: what.to_string() }
}

/// A trust anchor: self-signed (self-issued, and its signature verifies with its own key). A
/// link certificate is self-issued too (a CSCA keeps its name) but signed by the old key.
fn self_signed(c: &Certificate, trust: &TrustStore) -> bool {
    c.subject.matches(&c.issuer) && trust.verify_issued(c, c).is_ok()
}

/// The path from `ds` to a self-issued anchor of `trust`, every signature verified. Depth-first
/// over the candidates, so a key rollover (two CSCAs of one name) or a link certificate beside
/// the new self-signed CSCA both resolve.
fn build_path<'a>(ds: &'a Certificate, trust: &'a TrustStore) -> Result<Vec<&'a Certificate>, PaFailure> {
    let mut path = vec![ds];
    let mut first_error: Option<PaFailure> = None;
    if extend(&mut path, trust, &mut first_error) {
        return Ok(path);
    }
    Err(first_error.unwrap_or_else(|| PaFailure::SignerUnknown { issuer: ds.issuer.text.clone() }))
}

/// Extend `path` (whose last certificate still needs an issuer) to an anchor; false when no
/// candidate leads to one, with the most telling failure in `first_error`.
fn extend<'a>(path: &mut Vec<&'a Certificate>, trust: &'a TrustStore, first_error: &mut Option<PaFailure>) -> bool {
    let Some(&cert) = path.last() else { return false };
    let by_name: Vec<&Certificate> = trust.certificates().iter().filter(|c| cert.issuer.matches(&c.subject)).collect();
    if by_name.is_empty() {
        if path.len() > 1 {
            keep(first_error, PaFailure::LinkUntrusted { subject: cert.subject.text.clone(), issuer: cert.issuer.text.clone() });
        }
        return false;
    }
    let candidates: Vec<&Certificate> = by_name.iter().copied().filter(|c| cert.names_issuer(c)).collect();
    if candidates.is_empty() {
        keep(
            first_error,
            PaFailure::ChainRule {
                rule: "issuer_key_id",
                subject: cert.subject.text.clone(),
                what: format!(
                    "its authorityKeyIdentifier {} matches the subjectKeyIdentifier of none of the {} trusted certificates named {}",
                    cert.authority_key_id.as_deref().map(hex::encode).unwrap_or_default(),
                    by_name.len(),
                    cert.issuer.text
                ),
            },
        );
        return false;
    }
    for issuer in candidates {
        if path.iter().any(|c| c.der == issuer.der) {
            continue; // a loop of link certificates
        }
        match trust.verify_issued(cert, issuer) {
            Ok(()) => {}
            Err(VerifyError::Unsupported { oid }) => {
                keep(first_error, PaFailure::UnsupportedAlgorithm { oid });
                continue;
            }
            Err(VerifyError::Invalid) => {
                keep(
                    first_error,
                    PaFailure::CertificateSignatureInvalid { subject: cert.subject.text.clone(), issuer: issuer.subject.text.clone() },
                );
                continue;
            }
        }
        path.push(issuer);
        if self_signed(issuer, trust) {
            return true;
        }
        if path.len() <= MAX_DEPTH && extend(path, trust, first_error) {
            return true;
        }
        if path.len() > MAX_DEPTH {
            keep(first_error, PaFailure::ChainRule { rule: "path_length", subject: issuer.subject.text.clone(), what: format!("no anchor within {MAX_DEPTH} certificates above the document signer") });
        }
        path.pop();
    }
    if path.len() > 1 {
        keep(first_error, PaFailure::LinkUntrusted { subject: cert.subject.text.clone(), issuer: cert.issuer.text.clone() });
    }
    false
}

/// Keep the first failure seen: the one on the most direct candidate.
fn keep(slot: &mut Option<PaFailure>, e: PaFailure) {
    if slot.is_none() {
        *slot = Some(e);
    }
}

/// `cert` (issued by `issuer`) against the CRLs of the store.
fn check_revocation(cert: &Certificate, issuer: &Certificate, trust: &TrustStore, at: Option<Date>) -> Result<RevocationCheck, PaFailure> {
    let verified: Vec<&Crl> = trust
        .crls()
        .iter()
        .filter(|crl| crl.issuer.matches(&issuer.subject))
        .filter(|crl| {
            trust
                .certificates()
                .iter()
                .filter(|c| crl.names_issuer(c))
                .any(|c| crl_signer_ok(c) && trust.verify_crl(crl, c).is_ok())
        })
        .collect();
    let check = |status| RevocationCheck { subject: cert.subject.text.clone(), serial: cert.serial_hex(), status };
    if let Some((crl, entry)) = verified.iter().find_map(|crl| crl.revocation_of(cert).map(|e| (crl, e))) {
        return Err(PaFailure::Revoked {
            subject: cert.subject.text.clone(),
            serial: cert.serial_hex(),
            date: entry.date,
            crl_this_update: crl.this_update,
        });
    }
    let newest = verified.iter().max_by_key(|c| c.this_update);
    let unknown = match (newest, at) {
        (None, _) => {
            let unverified = trust.crls().iter().filter(|c| c.issuer.matches(&issuer.subject)).count();
            if unverified > 0 {
                format!("none of the {unverified} crl(s) of {} verifies with a trusted certificate of that name", issuer.subject.text)
            } else {
                format!("the trust store holds no crl of {}", issuer.subject.text)
            }
        }
        (Some(crl), Some(day)) if !crl_current(crl, day) => format!(
            "the newest crl of {} (thisUpdate {}, nextUpdate {}) is not current on {day}",
            issuer.subject.text,
            crl.this_update.date(),
            crl.next_update.map(|t| t.date().to_string()).unwrap_or_else(|| "none".into())
        ),
        (Some(crl), _) => {
            return Ok(check(RevocationStatus::Good { crl_this_update: crl.this_update, crl_next_update: crl.next_update }));
        }
    };
    match trust.revocation_policy() {
        RevocationPolicy::Require => Err(PaFailure::RevocationUnknown { subject: cert.subject.text.clone(), reason: unknown }),
        RevocationPolicy::Warn => Ok(check(RevocationStatus::NotChecked { reason: unknown })),
    }
}

/// A CRL signer must be a CA and, when it has keyUsage, carry cRLSign.
fn crl_signer_ok(c: &Certificate) -> bool {
    c.is_ca() && c.key_usage.is_none_or(|ku| ku & key_usage::CRL_SIGN != 0)
}

fn crl_current(crl: &Crl, day: Date) -> bool {
    crl.this_update.date() <= day && crl.next_update.is_none_or(|n| day <= n.date())
}

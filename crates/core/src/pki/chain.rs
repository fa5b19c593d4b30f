//! The certification path of a document signer (ICAO 9303-12 sections 5 and 7, RFC 5280 section
//! 6 as far as a two- or three-level eMRTD PKI needs it): from the DS certificate through CSCA
//! link certificates to a self-signed CSCA of the trust store, the rules every link must keep,
//! and revocation by the CSCAs' CRLs. This module owns those decisions and nothing before them
//! (EF.SOD parsing and its signature are [`super::passive_authentication`]'s); it returns typed
//! results and knows nothing of verdicts.
//!
//! Rules, each failure naming it ([`super::PaFailure::ChainRule`] and friends). Where real
//! documents showed a textbook rule to be wrong, the rule follows the documents
//! (fixtures/interop, `crates/core/tests/interop.rs`):
//! - Anchors: every certificate of the store is a trust anchor, self-signed CSCA or CSCA link
//!   certificate alike: the operator (or the master list's signer) put it there, and ICAO master
//!   lists carry link certificates as anchors (Singapore's DS is issued by "Passport CA 5", known
//!   to gmrtd's pool only as a link certificate from "CA 4"). The path is DS -> anchor.
//! - Link certificates (an anchor that is not self-signed): when the store also holds
//!   certificates of the link's issuer, one of them must verify the link (rule
//!   `link_certificate`), and the path shows it; the link's issuer's own dates are not checked
//!   (an old CSCA certificate expires while its link carries trust on).
//! - Issuer match: a candidate's subject names the DS's issuer; every candidate of that name is
//!   tried (key rollover), those whose subjectKeyIdentifier equals the DS's
//!   authorityKeyIdentifier first. The signature decides: issued Austrian and Russian documents
//!   carry an authorityKeyIdentifier that matches no subjectKeyIdentifier of the CSCA whose key
//!   signed them. When no candidate's key identifier matches and none verifies, the failure is
//!   rule `issuer_key_id`.
//! - The anchor says basicConstraints cA (rule `basic_constraints`) and, when it has keyUsage,
//!   keyCertSign (rule `key_usage`). The DS, when it has keyUsage, has digitalSignature (rule
//!   `key_usage`). An absent keyUsage restricts nothing (RFC 5280 4.2.1.3); ICAO profiles
//!   always carry it.
//! - Validity at signing time: when EF.SOD has a signingTime, the DS and the anchor were valid
//!   at that instant (rule `signing_time`). Validity on the day checked (`at`): both, by UTC
//!   calendar day, both ends inclusive (`certificate_validity`).
//! - Revocation: the DS is looked up in the CRLs of its issuer: CRLs of the store whose issuer
//!   names it and whose signature verifies with a store certificate of that name that is a CA
//!   allowed to sign CRLs (a CSCA signs its CRL with its current key, which may be newer than the
//!   one that issued the DS). Listed in any of them: revoked, with the serial and the revocation
//!   date. No such CRL, or (with `at`) none current (thisUpdate <= at <= nextUpdate): the store's
//!   [`RevocationPolicy`] decides.

use time::{Date, OffsetDateTime};

use super::alg::VerifyError;
use super::cert::{key_usage, Certificate};
use super::crl::Crl;
use super::trust::{RevocationPolicy, TrustStore};
use super::PaFailure;

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
    // The rules hold for the DS and its anchor; a link's own issuer (path[2]) vouches for the
    // link and is shown, but its dates are not the card's business (an old CSCA certificate
    // expires while its link carries trust on).
    let checked = &path[..2.min(path.len())];
    for issuer in &checked[1..] {
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
        if let Some(c) = checked.iter().find(|c| t < c.not_before || t > c.not_after) {
            return Err(PaFailure::SignedOutsideValidity {
                subject: c.subject.text.clone(),
                signing_time: t,
                not_before: c.not_before,
                not_after: c.not_after,
            });
        }
    }
    if let Some(day) = at {
        if let Some(c) = checked.iter().find(|c| !c.is_valid_on(day)) {
            return Err(PaFailure::CertificateExpired {
                subject: c.subject.text.clone(),
                not_before: c.not_before,
                not_after: c.not_after,
                at: day,
            });
        }
    }
    let mut revocation = Vec::new();
    for pair in checked.windows(2) {
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

/// Self-signed: self-issued, and its signature verifies with its own key. A link certificate is
/// self-issued too when the CSCA keeps its name, but signed by the old key.
fn self_signed(c: &Certificate, trust: &TrustStore) -> bool {
    c.subject.matches(&c.issuer) && trust.verify_issued(c, c).is_ok()
}

/// The store certificate that issued `ds` (the anchor), every candidate of the issuer's name
/// tried (key rollover): candidates whose subjectKeyIdentifier equals the DS's
/// authorityKeyIdentifier first, then the rest of that name. The signature decides; the key
/// identifiers only order the search (see the module doc). Returns the path: the DS, the anchor,
/// and, when the anchor is a link certificate, the store certificate that issued it.
fn build_path<'a>(ds: &'a Certificate, trust: &'a TrustStore) -> Result<Vec<&'a Certificate>, PaFailure> {
    let by_name: Vec<&Certificate> = trust.certificates().iter().filter(|c| ds.issuer.matches(&c.subject)).collect();
    if by_name.is_empty() {
        return Err(PaFailure::SignerUnknown { issuer: ds.issuer.text.clone() });
    }
    let (mut ordered, others): (Vec<&Certificate>, Vec<&Certificate>) = by_name.iter().copied().partition(|c| ds.names_issuer(c));
    let any_key_id_match = !ordered.is_empty();
    ordered.extend(others);
    let mut first_error: Option<PaFailure> = None;
    for anchor in ordered {
        match trust.verify_issued(ds, anchor) {
            Ok(()) => {
                let mut path = vec![ds, anchor];
                if !self_signed(anchor, trust) {
                    path.extend(link_issuer(anchor, trust)?);
                }
                return Ok(path);
            }
            Err(VerifyError::Unsupported { oid }) => keep(&mut first_error, PaFailure::UnsupportedAlgorithm { oid }),
            Err(VerifyError::Invalid) => keep(
                &mut first_error,
                PaFailure::CertificateSignatureInvalid { subject: ds.subject.text.clone(), issuer: anchor.subject.text.clone() },
            ),
        }
    }
    if !any_key_id_match && matches!(first_error, Some(PaFailure::CertificateSignatureInvalid { .. })) {
        return Err(PaFailure::ChainRule {
            rule: "issuer_key_id",
            subject: ds.subject.text.clone(),
            what: format!(
                "its authorityKeyIdentifier {} matches the subjectKeyIdentifier of none of the {} trusted certificates named {}, and none of their keys verifies it",
                ds.authority_key_id.as_deref().map(hex::encode).unwrap_or_default(),
                by_name.len(),
                ds.issuer.text
            ),
        });
    }
    Err(first_error.unwrap_or_else(|| PaFailure::SignerUnknown { issuer: ds.issuer.text.clone() }))
}

/// A link certificate of the store (not self-signed): when the store also holds certificates of
/// its issuer's name, one of them must verify it (rule `link_certificate`: a link that its own
/// issuer does not vouch for is forged or corrupt), and that one is returned. When the store
/// holds none, the link stands as an anchor on its own: the operator imported it (master lists
/// carry link certificates as anchors, and so do other readers' CSCA pools).
fn link_issuer<'a>(link: &'a Certificate, trust: &'a TrustStore) -> Result<Option<&'a Certificate>, PaFailure> {
    let issuers: Vec<&Certificate> =
        trust.certificates().iter().filter(|c| c.der != link.der && link.issuer.matches(&c.subject)).collect();
    if issuers.is_empty() {
        return Ok(None);
    }
    match issuers.iter().find(|c| trust.verify_issued(link, c).is_ok()) {
        Some(c) => Ok(Some(c)),
        None => Err(PaFailure::ChainRule {
            rule: "link_certificate",
            subject: link.subject.text.clone(),
            what: format!("the link certificate verifies with none of the {} trusted certificates of its issuer {}", issuers.len(), link.issuer.text),
        }),
    }
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

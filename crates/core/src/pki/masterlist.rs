//! ICAO CSCA master lists (Doc 9303 Part 12 section 9): a CMS SignedData whose eContentType is
//! id-icao-cscaMasterList (2.23.136.1.1.2) and whose eContent is
//! `CscaMasterList ::= SEQUENCE { version INTEGER (v0), certList SET OF Certificate }`, signed by
//! a master list signer whose certificate is embedded in the SignedData. This module owns
//! reading a master list from untrusted bytes ([`MasterList::parse`]: the CMS envelope through
//! [`super::cms`], BER accepted like EF.SOD, every listed certificate parsed strictly; one
//! malformed certificate refuses the whole list, naming its index and offset) and deciding whether
//! its signer may be believed ([`MasterList::verify`]).
//!
//! Decisions:
//! - The signature must hold (messageDigest over the eContent octets, the signature over the DER
//!   signed attributes with the embedded signer certificate) before anything else is looked at.
//! - The signer is believed when it is the pinned certificate itself, or is issued by the pinned
//!   certificate, or is issued by a CSCA already in the trust store
//!   ([`Certificate::verify_signed_by`] through [`TrustStore::verify_issued`]). The CSCAs the list
//!   itself carries never vouch for its signer: a list cannot bootstrap its own trust.
//! - The signer certificate's validity is checked on the day given (the importer passes today).
//! - Certificates are kept in list order, duplicates included ([`MasterList::distinct`] counts
//!   them once); the SET OF's DER order is not enforced (issued lists are not always sorted).

use std::fmt;

use ::der::asn1::ObjectIdentifier;
use time::{Date, OffsetDateTime};

use super::alg::VerifyError;
use super::ber;
use super::cert::Certificate;
use super::cms::{Profile, SignatureFailure, SignedData};
use super::der::{Cursor, Raw};
use super::trust::TrustStore;
use super::PkiError;

/// id-icao-cscaMasterList.
pub const CSCA_MASTER_LIST: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.23.136.1.1.2");

const PROFILE: Profile = Profile {
    file: "master list",
    ber_field: "master list ber encoding",
    wrapper: None,
    content_type: CSCA_MASTER_LIST,
    also_content_type: None,
    content_name: "cscaMasterList",
};

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;

/// A parsed CSCA master list.
#[derive(Clone, PartialEq, Eq)]
pub struct MasterList {
    /// CscaMasterList version (0).
    pub version: u32,
    /// The certList, in list order.
    pub cscas: Vec<Certificate>,
    /// The CMS envelope: signer, embedded certificates, the eContent octets.
    pub signed: SignedData,
}

impl fmt::Debug for MasterList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterList")
            .field("version", &self.version)
            .field("cscas", &self.cscas.len())
            .field("signer", &self.signer_certificate().map(|c| c.subject.text.as_str()))
            .finish_non_exhaustive()
    }
}

/// How the master list signer came to be believed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    /// The signer is the pinned certificate.
    PinnedSigner,
    /// The pinned certificate issued the signer.
    PinnedIssuer,
    /// A CSCA of the trust store issued the signer.
    TrustStore,
}

impl Anchor {
    pub fn as_str(self) -> &'static str {
        match self {
            Anchor::PinnedSigner => "pinned signer",
            Anchor::PinnedIssuer => "pinned issuer",
            Anchor::TrustStore => "trust store",
        }
    }
}

/// A master list whose signature holds and whose signer is believed.
#[derive(Debug, Clone, Copy)]
pub struct VerifiedSigner<'a> {
    pub signer: &'a Certificate,
    /// The certificate that vouches for the signer (the signer itself when pinned).
    pub anchor: &'a Certificate,
    pub how: Anchor,
}

/// Why a master list is not believed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MasterListFailure {
    #[error("master list signature: {0}")]
    Signature(SignatureFailure),
    #[error("master list signer {signer} is not issued by a csca of the trust store (its issuer {issuer}{}){}", tried_text(.tried), pinned_text(.pinned))]
    SignerNotTrusted {
        signer: String,
        issuer: String,
        /// Certificates that name the issuer but whose key does not verify the signer.
        tried: Vec<String>,
        /// The pinned certificate's subject, when one was given.
        pinned: Option<String>,
    },
    #[error("master list signer {subject} is not valid on {at}: valid from {} to {}", .not_before.date(), .not_after.date())]
    SignerNotValid { subject: String, not_before: OffsetDateTime, not_after: OffsetDateTime, at: Date },
    #[error("master list signer certificate: unsupported algorithm {oid}")]
    UnsupportedAlgorithm { oid: String },
}

fn tried_text(tried: &[String]) -> String {
    if tried.is_empty() {
        " is not there".into()
    } else {
        format!(": the signature does not verify with {}", tried.join("; "))
    }
}

fn pinned_text(pinned: &Option<String>) -> String {
    match pinned {
        Some(p) => format!(", and it is neither the pinned certificate ({p}) nor issued by it"),
        None => String::new(),
    }
}

fn invalid(field: &'static str, offset: usize, what: impl Into<String>) -> PkiError {
    PkiError::Invalid { field, offset, what: what.into() }
}

impl MasterList {
    /// Parse master list bytes (a ContentInfo; DER, or BER normalised first like EF.SOD). Error
    /// offsets are offsets in `bytes` when it is DER.
    pub fn parse(bytes: &[u8]) -> Result<MasterList, PkiError> {
        let (signed, (version, cscas)) = SignedData::parse_with(bytes, &PROFILE, parse_content)?;
        Ok(MasterList { version, cscas, signed })
    }

    /// The embedded certificate the SignerInfo names.
    pub fn signer_certificate(&self) -> Option<&Certificate> {
        self.signed.signer_certificate()
    }

    /// How many different certificates the list holds (by DER).
    pub fn distinct(&self) -> usize {
        let mut seen: Vec<&[u8]> = self.cscas.iter().map(|c| c.der.as_slice()).collect();
        seen.sort_unstable();
        seen.dedup();
        seen.len()
    }

    /// Check the list's signature and decide whether its signer is believed (module doc):
    /// `pinned` is the certificate the operator vouches for (the signer or its issuer), `at` the
    /// day the signer certificate must be valid on (`None`: not checked).
    pub fn verify<'a>(&'a self, trust: &'a TrustStore, pinned: Option<&'a Certificate>, at: Option<Date>) -> Result<VerifiedSigner<'a>, MasterListFailure> {
        let signer = self.signed.verify_signer().map_err(MasterListFailure::Signature)?;
        let mut tried = Vec::new();
        let mut unsupported = None;
        let mut found = None;
        if let Some(p) = pinned {
            if p.der == signer.der {
                found = Some((p, Anchor::PinnedSigner));
            } else if signer.names_issuer(p) {
                match signer.verify_signed_by(p) {
                    Ok(()) => found = Some((p, Anchor::PinnedIssuer)),
                    Err(VerifyError::Unsupported { oid }) => unsupported = Some(oid),
                    Err(VerifyError::Invalid) => tried.push(p.subject.text.clone()),
                }
            }
        }
        if found.is_none() {
            for candidate in trust.issuers_of(signer) {
                match trust.verify_issued(signer, candidate) {
                    Ok(()) => {
                        found = Some((candidate, Anchor::TrustStore));
                        break;
                    }
                    Err(VerifyError::Unsupported { oid }) => unsupported = Some(oid),
                    Err(VerifyError::Invalid) => tried.push(candidate.subject.text.clone()),
                }
            }
        }
        let (anchor, how) = match (found, unsupported) {
            (Some(f), _) => f,
            (None, Some(oid)) if tried.is_empty() => return Err(MasterListFailure::UnsupportedAlgorithm { oid }),
            (None, _) => {
                return Err(MasterListFailure::SignerNotTrusted {
                    signer: signer.subject.text.clone(),
                    issuer: signer.issuer.text.clone(),
                    tried,
                    pinned: pinned.map(|p| p.subject.text.clone()),
                })
            }
        };
        if let Some(day) = at {
            if !signer.is_valid_on(day) {
                return Err(MasterListFailure::SignerNotValid {
                    subject: signer.subject.text.clone(),
                    not_before: signer.not_before,
                    not_after: signer.not_after,
                    at: day,
                });
            }
        }
        Ok(VerifiedSigner { signer, anchor, how })
    }
}

/// The CscaMasterList inside the eContent OCTET STRING `octets` (offsets in the parsed buffer;
/// a BER content is normalised first, its offsets are then those of the normalisation).
fn parse_content(octets: &Raw<'_>) -> Result<(u32, Vec<Certificate>), PkiError> {
    let normalised = ber::to_der(octets.content);
    let bytes = match &normalised {
        Ok(d) => d.as_slice(),
        Err(e) if e.ber_only => return Err(invalid("cscaMasterList ber encoding", octets.content_offset + e.offset, e.what.clone())),
        Err(_) => octets.content,
    };
    let mut top = Cursor::new(bytes, octets.content_offset);
    let ml = top.take_tagged(SEQUENCE, "cscaMasterList")?;
    top.finish("cscaMasterList")?;
    let mut r = ml.cursor();
    let at = r.offset();
    let version = r.take::<u32>("cscaMasterList.version")?;
    if version != 0 {
        return Err(invalid("cscaMasterList.version", at, format!("version {version} is not v0")));
    }
    let list = r.take_tagged(SET, "cscaMasterList.certList")?;
    r.finish("cscaMasterList")?;
    let mut lr = list.cursor();
    let mut cscas = Vec::new();
    while !lr.is_empty() {
        let index = cscas.len();
        let at = lr.offset();
        let raw = lr
            .take_raw("cscaMasterList.certList")
            .map_err(|e| invalid("cscaMasterList.certList", at, format!("certificate {index} at offset {at} is malformed: {e}")))?;
        let cert = Certificate::from_raw(&raw)
            .map_err(|e| invalid("cscaMasterList.certList", at, format!("certificate {index} at offset {at} is malformed: {e}")))?;
        cscas.push(cert);
    }
    Ok((version, cscas))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The sample EF.SOD's envelope is a SignedData of another content type: refused by name.
    #[test]
    fn other_content_types_are_refused() {
        let sod = crate::pki::testutil::sample_sod();
        let e = MasterList::parse(&sod).expect_err("an ef.sod is not a master list");
        assert!(e.to_string().starts_with("contentInfo at offset 0: expected tag 30, found 77"), "{e}");
        let e = MasterList::parse(&sod[4..]).expect_err("nor its bare content info");
        assert!(e.to_string().contains("expected cscaMasterList (2.23.136.1.1.2), found 2.23.136.1.1.1"), "{e}");
    }

    #[test]
    fn content_errors_name_the_certificate() {
        use crate::tlv::{encode, encode_seq};
        let csca = crate::pki::testutil::sample_csca_der();
        let list = |certs: &[Vec<u8>]| encode_seq(0x30, &[encode(0x02, &[0]), encode_seq(0x31, certs)]);
        let parse = |content: &[u8]| {
            let octets = encode(0x04, content);
            let raw = Raw::whole(&octets, "t").expect("raw");
            parse_content(&raw)
        };
        let (v, certs) = parse(&list(&[csca.clone(), csca.clone()])).expect("two certificates");
        assert_eq!((v, certs.len()), (0, 2));
        let mut broken = csca.clone();
        let n = broken.len();
        broken[n - 5] ^= 0xFF; // inside the signature value: still DER, still a certificate
        assert!(parse(&list(&[csca.clone(), broken])).is_ok());
        let mut bad = csca.clone();
        bad[4] = 0x31; // tbsCertificate tagged SET
        let content = list(&[csca.clone(), bad]);
        let e = parse(&content).expect_err("second certificate malformed");
        // OCTET STRING, SEQUENCE and SET headers of 4 bytes (two-byte lengths), the version 3.
        let second = 4 + 4 + 3 + 4 + csca.len();
        let text = e.to_string();
        assert!(text.starts_with(&format!("cscaMasterList.certList at offset {second}: certificate 1 at offset {second} is malformed: ")), "{text}");
        assert!(text.contains("certificate.tbsCertificate"), "{text}");
        let e = parse(&encode_seq(0x30, &[encode(0x02, &[1]), encode_seq(0x31, &[])])).expect_err("v1");
        assert!(e.to_string().contains("version 1 is not v0"), "{e}");
    }

    proptest! {
        #[test]
        fn parse_never_panics(data in proptest::collection::vec(any::<u8>(), 0..1200)) {
            let _ = MasterList::parse(&data);
            let octets = crate::tlv::encode(0x04, &data);
            if let Ok(raw) = Raw::whole(&octets, "t") {
                let _ = parse_content(&raw);
            }
        }
    }
}

//! X.509 certificates (RFC 5280) as far as passive authentication needs them: the exact
//! tbsCertificate bytes, serial, issuer and subject names, validity, subject public key, signature,
//! and the basicConstraints / keyUsage / key identifier extensions. This module owns parsing a
//! certificate from untrusted bytes and checking one certificate's signature with another's key.

use std::fmt;

use time::{Date, OffsetDateTime};

use super::alg::{self, oid, PublicKey, VerifyError};
use super::der::{self, AlgorithmIdentifier, Name};
use super::PkiError;
use crate::tlv::Tlv;

/// keyUsage bits, numbered as in RFC 5280 (bit 0 = digitalSignature) and stored as `1 << bit`.
pub mod key_usage {
    pub const DIGITAL_SIGNATURE: u16 = 1 << 0;
    pub const NON_REPUDIATION: u16 = 1 << 1;
    pub const KEY_ENCIPHERMENT: u16 = 1 << 2;
    pub const KEY_CERT_SIGN: u16 = 1 << 5;
    pub const CRL_SIGN: u16 = 1 << 6;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BasicConstraints {
    pub ca: bool,
    pub path_len: Option<u32>,
}

/// A parsed certificate. `der` and `tbs` are the exact encodings (signatures are over `tbs`).
#[derive(Clone, PartialEq, Eq)]
pub struct Certificate {
    pub der: Vec<u8>,
    pub tbs: Vec<u8>,
    /// 1, 2 or 3.
    pub version: u8,
    /// Content octets of the serialNumber INTEGER.
    pub serial: Vec<u8>,
    pub issuer: Name,
    pub subject: Name,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    pub public_key: PublicKey,
    pub signature_alg: AlgorithmIdentifier,
    pub signature: Vec<u8>,
    pub basic_constraints: Option<BasicConstraints>,
    /// keyUsage bits (see [`key_usage`]), when the extension is present.
    pub key_usage: Option<u16>,
    pub subject_key_id: Option<Vec<u8>>,
    pub authority_key_id: Option<Vec<u8>>,
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("subject", &self.subject.text)
            .field("issuer", &self.issuer.text)
            .field("serial", &self.serial_hex())
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .field("public_key", &self.public_key)
            .field("signature_alg", &self.signature_alg)
            .finish_non_exhaustive()
    }
}

impl Certificate {
    /// Parse one DER certificate spanning all of `der`.
    pub fn parse(der: &[u8]) -> Result<Certificate, PkiError> {
        let t = der::parse_one(der, der::SEQUENCE, "certificate")?;
        Certificate::from_tlv(&t, der)
    }

    /// Parse the certificate element `t` read from `root` (error offsets are offsets in `root`).
    pub(crate) fn from_tlv(t: &Tlv<'_>, root: &[u8]) -> Result<Certificate, PkiError> {
        let mut r = t.children();
        let tbs_t = der::take(&mut r, der::SEQUENCE, "certificate.tbsCertificate")?;
        let sig_alg_t = der::take(&mut r, der::SEQUENCE, "certificate.signatureAlgorithm")?;
        let signature_alg = der::algorithm_identifier(&sig_alg_t, "certificate.signatureAlgorithm")?;
        let sig_t = der::take(&mut r, der::BIT_STRING, "certificate.signatureValue")?;
        let signature = der::bit_string_octets(&sig_t, "certificate.signatureValue")?.to_vec();
        der::finish(&r, "certificate")?;

        let mut r = tbs_t.children();
        let version = match der::take_opt(&mut r, der::ctx(0), "tbsCertificate.version")? {
            Some(v) => {
                let mut vr = v.children();
                let n = der::small_uint(&der::take(&mut vr, der::INTEGER, "tbsCertificate.version")?, "tbsCertificate.version")?;
                der::finish(&vr, "tbsCertificate.version")?;
                if n > 2 {
                    return Err(PkiError::Invalid { field: "tbsCertificate.version", offset: v.offset, what: format!("version {n} is not v1, v2 or v3") });
                }
                n as u8 + 1
            }
            None => 1,
        };
        let serial = der::integer(&der::take(&mut r, der::INTEGER, "tbsCertificate.serialNumber")?, "tbsCertificate.serialNumber")?.to_vec();
        let inner_alg_t = der::take(&mut r, der::SEQUENCE, "tbsCertificate.signature")?;
        let inner_alg = der::algorithm_identifier(&inner_alg_t, "tbsCertificate.signature")?;
        if inner_alg != signature_alg {
            return Err(PkiError::Invalid {
                field: "tbsCertificate.signature",
                offset: inner_alg_t.offset,
                what: format!("algorithm {:?} differs from the outer signatureAlgorithm {:?}", inner_alg, signature_alg),
            });
        }
        let issuer = der::name(&der::take(&mut r, der::SEQUENCE, "tbsCertificate.issuer")?, root, "tbsCertificate.issuer")?;
        let validity = der::take(&mut r, der::SEQUENCE, "tbsCertificate.validity")?;
        let mut vr = validity.children();
        let not_before = der::time(&der::take_any(&mut vr, "validity.notBefore")?, "validity.notBefore")?;
        let not_after = der::time(&der::take_any(&mut vr, "validity.notAfter")?, "validity.notAfter")?;
        der::finish(&vr, "tbsCertificate.validity")?;
        let subject = der::name(&der::take(&mut r, der::SEQUENCE, "tbsCertificate.subject")?, root, "tbsCertificate.subject")?;
        let spki = der::take(&mut r, der::SEQUENCE, "tbsCertificate.subjectPublicKeyInfo")?;
        let mut sr = spki.children();
        let key_alg = der::algorithm_identifier(&der::take(&mut sr, der::SEQUENCE, "subjectPublicKeyInfo.algorithm")?, "subjectPublicKeyInfo.algorithm")?;
        let key_bits = der::bit_string_octets(&der::take(&mut sr, der::BIT_STRING, "subjectPublicKeyInfo.subjectPublicKey")?, "subjectPublicKeyInfo.subjectPublicKey")?;
        der::finish(&sr, "tbsCertificate.subjectPublicKeyInfo")?;
        let public_key = PublicKey::from_parts(key_alg, key_bits.to_vec());
        // issuerUniqueID [1] and subjectUniqueID [2] (v2 / v3): skipped.
        der::take_opt(&mut r, der::ctx_prim(1), "tbsCertificate.issuerUniqueID")?;
        der::take_opt(&mut r, der::ctx_prim(2), "tbsCertificate.subjectUniqueID")?;
        let mut cert = Certificate {
            der: t.raw(root).to_vec(),
            tbs: tbs_t.raw(root).to_vec(),
            version,
            serial,
            issuer,
            subject,
            not_before,
            not_after,
            public_key,
            signature_alg,
            signature,
            basic_constraints: None,
            key_usage: None,
            subject_key_id: None,
            authority_key_id: None,
        };
        if let Some(ext) = der::take_opt(&mut r, der::ctx(3), "tbsCertificate.extensions")? {
            let mut er = ext.children();
            let list = der::take(&mut er, der::SEQUENCE, "tbsCertificate.extensions")?;
            der::finish(&er, "tbsCertificate.extensions")?;
            for e in der::children(&list, "tbsCertificate.extensions")? {
                cert.read_extension(&e)?;
            }
        }
        der::finish(&r, "tbsCertificate")?;
        Ok(cert)
    }

    fn read_extension(&mut self, e: &Tlv<'_>) -> Result<(), PkiError> {
        const F: &str = "extension";
        if e.tag != der::SEQUENCE {
            return Err(PkiError::Invalid { field: F, offset: e.offset, what: format!("expected Extension SEQUENCE, found tag {:02X}", e.tag) });
        }
        let mut r = e.children();
        let id = der::oid(&der::take(&mut r, der::OID, "extension.extnID")?, "extension.extnID")?;
        if let Some(c) = der::take_opt(&mut r, der::BOOLEAN, "extension.critical")? {
            der::boolean(&c, "extension.critical")?;
        }
        let value = der::take(&mut r, der::OCTET_STRING, "extension.extnValue")?;
        der::finish(&r, F)?;
        let mut vr = value.children();
        match id.as_str() {
            oid::BASIC_CONSTRAINTS => {
                const BC: &str = "extension basicConstraints";
                let s = der::take(&mut vr, der::SEQUENCE, BC)?;
                let mut sr = s.children();
                let ca = match der::take_opt(&mut sr, der::BOOLEAN, BC)? {
                    Some(b) => der::boolean(&b, BC)?,
                    None => false,
                };
                let path_len = match der::take_opt(&mut sr, der::INTEGER, BC)? {
                    Some(n) => Some(der::small_uint(&n, BC)?),
                    None => None,
                };
                der::finish(&sr, BC)?;
                self.basic_constraints = Some(BasicConstraints { ca, path_len });
            }
            oid::KEY_USAGE => {
                const KU: &str = "extension keyUsage";
                let b = der::take(&mut vr, der::BIT_STRING, KU)?;
                let (unused, bytes) = der::bit_string(&b, KU)?;
                let nbits = (bytes.len() * 8).saturating_sub(unused as usize).min(16);
                let mut bits = 0u16;
                for i in 0..nbits {
                    if bytes.get(i / 8).is_some_and(|byte| byte & (0x80 >> (i % 8)) != 0) {
                        bits |= 1 << i;
                    }
                }
                self.key_usage = Some(bits);
            }
            oid::SUBJECT_KEY_ID => {
                let k = der::take(&mut vr, der::OCTET_STRING, "extension subjectKeyIdentifier")?;
                self.subject_key_id = Some(k.value.to_vec());
            }
            oid::AUTHORITY_KEY_ID => {
                let s = der::take(&mut vr, der::SEQUENCE, "extension authorityKeyIdentifier")?;
                let mut sr = s.children();
                if let Some(k) = der::take_opt(&mut sr, der::ctx_prim(0), "extension authorityKeyIdentifier")? {
                    self.authority_key_id = Some(k.value.to_vec());
                }
            }
            _ => return Ok(()),
        }
        der::finish(&vr, "extension value")
    }

    /// Verify this certificate's signature with `issuer`'s public key.
    pub fn verify_signed_by(&self, issuer: &Certificate) -> Result<(), VerifyError> {
        alg::verify(&issuer.public_key, &self.signature_alg, None, &self.tbs, &self.signature)
    }

    /// The serial number in lower-case hex, as encoded.
    pub fn serial_hex(&self) -> String {
        hex::encode(&self.serial)
    }

    /// Within notBefore ..= notAfter on `day` (UTC calendar days, both ends inclusive).
    pub fn is_valid_on(&self, day: Date) -> bool {
        self.not_before.date() <= day && day <= self.not_after.date()
    }

    /// basicConstraints says cA.
    pub fn is_ca(&self) -> bool {
        self.basic_constraints.is_some_and(|b| b.ca)
    }

    /// `issuer` could have issued this certificate: its subject names our issuer and, when both
    /// key identifiers are present, they agree.
    pub fn names_issuer(&self, issuer: &Certificate) -> bool {
        if !self.issuer.matches(&issuer.subject) {
            return false;
        }
        match (&self.authority_key_id, &issuer.subject_key_id) {
            (Some(a), Some(s)) => a == s,
            _ => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::testutil::sample_csca_der;
    use proptest::prelude::*;

    #[test]
    fn sample_csca_parses() {
        let der = sample_csca_der();
        let c = Certificate::parse(&der).expect("csca parses");
        assert_eq!(c.version, 3);
        assert_eq!(c.serial_hex(), "00d27c32e47d05e4db");
        assert_eq!(c.subject.text, "C=CN, O=Hidden Corpus, CN=Hidden Corpus CSCA");
        assert!(c.subject.matches(&c.issuer));
        assert_eq!(c.public_key.kind, alg::KeyKind::EcP256);
        assert_eq!(c.public_key.key.len(), 65);
        assert_eq!(c.basic_constraints, Some(BasicConstraints { ca: true, path_len: Some(0) }));
        assert_eq!(c.key_usage, Some(key_usage::KEY_CERT_SIGN | key_usage::CRL_SIGN));
        assert_eq!(c.not_before, time::macros::datetime!(2015-01-01 00:00:00 UTC));
        assert_eq!(c.not_after, time::macros::datetime!(2045-12-31 00:00:00 UTC));
        assert_eq!(c.der, der);
        assert_eq!(c.verify_signed_by(&c), Ok(()), "self-signed");
        assert!(c.is_valid_on(time::macros::date!(2045 - 12 - 31)));
        assert!(!c.is_valid_on(time::macros::date!(2046 - 01 - 01)));
        assert!(!c.is_valid_on(time::macros::date!(2014 - 12 - 31)));
    }

    #[test]
    fn tampered_tbs_fails_signature() {
        let der = sample_csca_der();
        let c = Certificate::parse(&der).expect("csca parses");
        let mut bad = der.clone();
        // Flip a byte of the CN value inside the subject.
        let pos = bad.windows(4).rposition(|w| w == b"CSCA").expect("CN present");
        bad[pos] ^= 0x20;
        let b = Certificate::parse(&bad).expect("still parses");
        assert_eq!(b.verify_signed_by(&c), Err(VerifyError::Invalid));
    }

    #[test]
    fn errors_name_field_and_offset() {
        let der = sample_csca_der();
        let e = Certificate::parse(&der[..der.len() - 1]).expect_err("truncated");
        assert!(e.to_string().starts_with("certificate at offset 0"), "{e}");
        let mut bad = der.clone();
        // Replace the version INTEGER 02 by 07.
        let pos = bad.windows(5).position(|w| w == [0xA0, 0x03, 0x02, 0x01, 0x02]).expect("version");
        bad[pos + 4] = 7;
        let e = Certificate::parse(&bad).expect_err("bad version");
        assert!(e.to_string().contains("tbsCertificate.version"), "{e}");
    }

    proptest! {
        #[test]
        fn parse_never_panics_on_random_bytes(data in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = Certificate::parse(&data);
        }

        #[test]
        fn parse_never_panics_on_mutations(edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
                                           cut in any::<prop::sample::Index>()) {
            let mut der = sample_csca_der();
            for (i, b) in &edits {
                let at = i.index(der.len());
                der[at] = *b;
            }
            let _ = Certificate::parse(&der);
            let end = cut.index(der.len());
            let _ = Certificate::parse(&der[..end]);
        }
    }
}

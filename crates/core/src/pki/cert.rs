//! X.509 certificates (RFC 5280) as far as passive authentication needs them: the exact
//! tbsCertificate bytes, serial, issuer and subject names, validity, subject public key, signature,
//! and the basicConstraints / keyUsage / key identifier extensions. This module owns reading a
//! certificate from untrusted bytes (each field decoded by `x509-cert` / `spki` / `der`, strict
//! DER, named in errors; the one leniency is a BER cA BOOLEAN in basicConstraints, which issued
//! CSCAs carry: `ber_basic_constraints`) and checking one certificate's signature with another's
//! key.

use std::fmt;

use time::{Date, OffsetDateTime};

use ::der::asn1::{BitString, Int};
use ::der::Decode;
use const_oid::db::rfc5280::{ID_CE_AUTHORITY_KEY_IDENTIFIER, ID_CE_BASIC_CONSTRAINTS, ID_CE_KEY_USAGE, ID_CE_SUBJECT_KEY_IDENTIFIER};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::ext::{pkix as ext, Extension, Extensions};
use x509_cert::time::Validity;

use super::alg::{self, PublicKey, VerifyError};
use super::der::{self, AlgorithmIdentifier, Cursor, Name, Raw};
use super::PkiError;

const SEQUENCE: u8 = 0x30;

/// The bytes of a BIT STRING holding whole bytes (keys, signatures).
fn octets_of(b: BitString, field: &'static str, r: &Cursor<'_>) -> Result<Vec<u8>, PkiError> {
    b.as_bytes().map(<[u8]>::to_vec).ok_or_else(|| PkiError::Invalid {
        field,
        offset: r.offset(),
        what: format!("bit string with {} unused bits where whole bytes are required", b.unused_bits()),
    })
}

/// basicConstraints whose cA BOOLEAN is BER rather than DER (any non-zero octet is TRUE, an
/// explicit FALSE is present although DEFAULT): X.690 BER, and what issued CSCAs carry (the
/// Ukrainian CSCA of 2015 in the German and Dutch master lists writes `01 01 01`). Everything else
/// of the extension must be as DER has it; `None` when it is not even that.
fn ber_basic_constraints(value: &[u8]) -> Option<BasicConstraints> {
    let seq = der::parse_one(value, der::SEQUENCE, "basicConstraints").ok()?;
    let mut fields = der::children(&seq, "basicConstraints").ok()?.into_iter().peekable();
    let ca = match fields.peek() {
        Some(t) if t.tag == der::BOOLEAN => {
            let ca = der::boolean(t, "basicConstraints.cA").ok()?;
            fields.next();
            ca
        }
        _ => false,
    };
    let path_len = match fields.next() {
        Some(t) => Some(der::small_uint(&t, "basicConstraints.pathLenConstraint").ok()?),
        None => None,
    };
    fields.next().is_none().then_some(BasicConstraints { ca, path_len })
}

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
        Certificate::from_raw(&Raw::whole(der, "certificate")?)
    }

    /// Parse the certificate element `t` (error offsets are offsets in the buffer `t` was read
    /// from). The fields are decoded by `x509-cert`, `spki` and `der`; `der` and `tbs` are kept
    /// exactly as encoded.
    pub(crate) fn from_raw(t: &Raw<'_>) -> Result<Certificate, PkiError> {
        let mut r = t.expect(SEQUENCE, "certificate")?.cursor();
        let tbs_t = r.take_tagged(SEQUENCE, "certificate.tbsCertificate")?;
        let signature_alg = AlgorithmIdentifier::from(&r.take::<AlgorithmIdentifierOwned>("certificate.signatureAlgorithm")?);
        let signature = octets_of(r.take::<BitString>("certificate.signatureValue")?, "certificate.signatureValue", &r)?;
        r.finish("certificate")?;

        let mut r = tbs_t.cursor();
        let version = match r.take_opt_raw(0xA0, "tbsCertificate.version")? {
            Some(v) => {
                let mut vr = v.cursor();
                let n = vr.take::<u8>("tbsCertificate.version")?;
                vr.finish("tbsCertificate.version")?;
                if n > 2 {
                    return Err(PkiError::Invalid { field: "tbsCertificate.version", offset: v.offset, what: format!("version {n} is not v1, v2 or v3") });
                }
                n + 1
            }
            None => 1,
        };
        let serial_t = r.take_tagged(0x02, "tbsCertificate.serialNumber")?;
        serial_t.decode::<Int>("tbsCertificate.serialNumber")?;
        let inner_at = r.offset();
        let inner_alg = AlgorithmIdentifier::from(&r.take::<AlgorithmIdentifierOwned>("tbsCertificate.signature")?);
        if inner_alg != signature_alg {
            return Err(PkiError::Invalid {
                field: "tbsCertificate.signature",
                offset: inner_at,
                what: format!("algorithm {:?} differs from the outer signatureAlgorithm {:?}", inner_alg, signature_alg),
            });
        }
        let issuer = Name::parse(&r.take_tagged(SEQUENCE, "tbsCertificate.issuer")?, "tbsCertificate.issuer")?;
        let validity = r.take::<Validity>("tbsCertificate.validity")?;
        let subject = Name::parse(&r.take_tagged(SEQUENCE, "tbsCertificate.subject")?, "tbsCertificate.subject")?;
        let spki = r.take::<SubjectPublicKeyInfoOwned>("tbsCertificate.subjectPublicKeyInfo")?;
        let key = octets_of(spki.subject_public_key, "subjectPublicKeyInfo.subjectPublicKey", &r)?;
        let public_key = PublicKey::from_parts(AlgorithmIdentifier::from(&spki.algorithm), key);
        // issuerUniqueID [1] and subjectUniqueID [2] (v2 / v3): skipped.
        r.take_opt_raw(0x81, "tbsCertificate.issuerUniqueID")?;
        r.take_opt_raw(0x82, "tbsCertificate.subjectUniqueID")?;
        let mut cert = Certificate {
            der: t.tlv.to_vec(),
            tbs: tbs_t.tlv.to_vec(),
            version,
            serial: serial_t.content.to_vec(),
            issuer,
            subject,
            not_before: der::time_of(&validity.not_before),
            not_after: der::time_of(&validity.not_after),
            public_key,
            signature_alg,
            signature,
            basic_constraints: None,
            key_usage: None,
            subject_key_id: None,
            authority_key_id: None,
        };
        if let Some(ext) = r.take_opt_raw(0xA3, "tbsCertificate.extensions")? {
            let mut er = ext.cursor();
            let at = er.offset();
            let list = er.take::<Extensions>("tbsCertificate.extensions")?;
            er.finish("tbsCertificate.extensions")?;
            for e in &list {
                cert.read_extension(e, at)?;
            }
        }
        r.finish("tbsCertificate")?;
        Ok(cert)
    }

    fn read_extension(&mut self, e: &Extension, at: usize) -> Result<(), PkiError> {
        let value = e.extn_value.as_bytes();
        let bad = |field: &'static str| move |err: ::der::Error| der::der_error(field, at, at, err);
        match e.extn_id {
            ID_CE_BASIC_CONSTRAINTS => {
                self.basic_constraints = Some(match ext::BasicConstraints::from_der(value) {
                    Ok(bc) => BasicConstraints { ca: bc.ca, path_len: bc.path_len_constraint.map(u32::from) },
                    Err(err) => ber_basic_constraints(value).ok_or_else(|| bad("extension basicConstraints")(err))?,
                });
            }
            ID_CE_KEY_USAGE => {
                let ku = ext::KeyUsage::from_der(value).map_err(bad("extension keyUsage"))?;
                self.key_usage = Some(ku.0.bits());
            }
            ID_CE_SUBJECT_KEY_IDENTIFIER => {
                let k = ext::SubjectKeyIdentifier::from_der(value).map_err(bad("extension subjectKeyIdentifier"))?;
                self.subject_key_id = Some(k.0.as_bytes().to_vec());
            }
            ID_CE_AUTHORITY_KEY_IDENTIFIER => {
                let a = ext::AuthorityKeyIdentifier::from_der(value).map_err(bad("extension authorityKeyIdentifier"))?;
                self.authority_key_id = a.key_identifier.map(|k| k.as_bytes().to_vec());
            }
            _ => {}
        }
        Ok(())
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

    #[test]
    fn ber_boolean_in_basic_constraints_is_read() {
        assert_eq!(ber_basic_constraints(&[0x30, 0x06, 0x01, 0x01, 0x01, 0x02, 0x01, 0x00]), Some(BasicConstraints { ca: true, path_len: Some(0) }));
        assert_eq!(ber_basic_constraints(&[0x30, 0x03, 0x01, 0x01, 0x00]), Some(BasicConstraints { ca: false, path_len: None }));
        assert_eq!(ber_basic_constraints(&[0x30, 0x00]), Some(BasicConstraints { ca: false, path_len: None }));
        assert_eq!(ber_basic_constraints(&[0x30, 0x06, 0x01, 0x01, 0x01, 0x04, 0x01, 0x00]), None, "pathLen not an INTEGER");
        assert_eq!(ber_basic_constraints(&[0x30, 0x09, 0x01, 0x01, 0x01, 0x02, 0x01, 0x00, 0x05, 0x00, 0x00]), None, "trailing element");
        assert_eq!(ber_basic_constraints(&[0x31, 0x03, 0x01, 0x01, 0x01]), None, "not a SEQUENCE");
        // In a certificate: the sample CSCA's cA TRUE (FF) rewritten as 01 parses, same signature bytes.
        let mut der = sample_csca_der();
        let pos = der.windows(5).position(|w| w == [0x30, 0x06, 0x01, 0x01, 0xFF]).expect("basicConstraints");
        der[pos + 4] = 0x01;
        let c = Certificate::parse(&der).expect("BER boolean accepted");
        assert_eq!(c.basic_constraints, Some(BasicConstraints { ca: true, path_len: Some(0) }));
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

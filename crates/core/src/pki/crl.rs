//! X.509 certificate revocation lists (RFC 5280 section 5), as a CSCA publishes them for its
//! document signers: issuer, thisUpdate / nextUpdate, the revoked serial numbers with their
//! dates, and the exact tbsCertList bytes the CSCA signed. This module owns reading a CRL from
//! untrusted bytes (each field decoded by `x509-cert` / `spki` / `der`, strict DER, named in
//! errors) and checking its signature with a certificate's key. What a revocation means for a
//! verdict is not decided here.

use std::fmt;

use ::der::asn1::{BitString, Int};
use ::der::Decode;
use const_oid::db::rfc5280::{ID_CE_AUTHORITY_KEY_IDENTIFIER, ID_CE_CRL_NUMBER};
use spki::AlgorithmIdentifierOwned;
use time::OffsetDateTime;
use x509_cert::crl::RevokedCert;
use x509_cert::ext::{pkix::AuthorityKeyIdentifier, Extensions};
use x509_cert::time::Time;

use super::alg::{self, VerifyError};
use super::cert::Certificate;
use super::der::{self, AlgorithmIdentifier, Name, Raw};
use super::PkiError;

/// One revoked certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revoked {
    /// Content octets of the serialNumber INTEGER.
    pub serial: Vec<u8>,
    pub date: OffsetDateTime,
}

/// A parsed CRL. `der` and `tbs` are the exact encodings (the signature is over `tbs`).
#[derive(Clone, PartialEq, Eq)]
pub struct Crl {
    pub der: Vec<u8>,
    pub tbs: Vec<u8>,
    /// 1 (no version field) or 2.
    pub version: u8,
    pub issuer: Name,
    pub this_update: OffsetDateTime,
    pub next_update: Option<OffsetDateTime>,
    pub revoked: Vec<Revoked>,
    pub signature_alg: AlgorithmIdentifier,
    pub signature: Vec<u8>,
    pub authority_key_id: Option<Vec<u8>>,
    /// Content octets of the cRLNumber extension.
    pub crl_number: Option<Vec<u8>>,
}

impl fmt::Debug for Crl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Crl")
            .field("issuer", &self.issuer.text)
            .field("this_update", &self.this_update)
            .field("next_update", &self.next_update)
            .field("revoked", &self.revoked.len())
            .field("signature_alg", &self.signature_alg)
            .finish_non_exhaustive()
    }
}

/// Serial numbers compare by magnitude (leading zero octets are sign octets or padding).
fn magnitude(v: &[u8]) -> &[u8] {
    let start = v.iter().position(|&b| b != 0).unwrap_or(v.len());
    v.get(start..).unwrap_or_default()
}

impl Crl {
    /// Parse one DER CRL spanning all of `der`.
    pub fn parse(der: &[u8]) -> Result<Crl, PkiError> {
        let t = Raw::whole(der, "crl")?.expect(0x30, "crl")?;
        let mut r = t.cursor();
        let tbs_t = r.take_tagged(0x30, "crl.tbsCertList")?;
        let signature_alg = AlgorithmIdentifier::from(&r.take::<AlgorithmIdentifierOwned>("crl.signatureAlgorithm")?);
        let at = r.offset();
        let bits = r.take::<BitString>("crl.signatureValue")?;
        let signature = bits
            .as_bytes()
            .map(<[u8]>::to_vec)
            .ok_or_else(|| PkiError::Invalid { field: "crl.signatureValue", offset: at, what: "bit string with unused bits".into() })?;
        r.finish("crl")?;

        let mut r = tbs_t.cursor();
        // version is OPTIONAL (present, as v2, when the CRL carries extensions).
        let version = match r.peek_tag() {
            Some(0x02) => {
                let at = r.offset();
                match r.take::<u8>("tbsCertList.version")? {
                    1 => 2,
                    n => return Err(PkiError::Invalid { field: "tbsCertList.version", offset: at, what: format!("version {n} is not v2") }),
                }
            }
            _ => 1,
        };
        let at = r.offset();
        let inner = AlgorithmIdentifier::from(&r.take::<AlgorithmIdentifierOwned>("tbsCertList.signature")?);
        if inner != signature_alg {
            return Err(PkiError::Invalid {
                field: "tbsCertList.signature",
                offset: at,
                what: format!("algorithm {inner:?} differs from the outer signatureAlgorithm {signature_alg:?}"),
            });
        }
        let issuer = Name::parse(&r.take_tagged(0x30, "tbsCertList.issuer")?, "tbsCertList.issuer")?;
        let this_update = der::time_of(&r.take::<Time>("tbsCertList.thisUpdate")?);
        let next_update = match r.peek_tag() {
            Some(0x17 | 0x18) => Some(der::time_of(&r.take::<Time>("tbsCertList.nextUpdate")?)),
            _ => None,
        };
        let mut revoked = Vec::new();
        if r.peek_tag() == Some(0x30) {
            let list = r.take_tagged(0x30, "tbsCertList.revokedCertificates")?;
            let mut lr = list.cursor();
            while !lr.is_empty() {
                let entry = lr.take_tagged(0x30, "tbsCertList.revokedCertificates")?;
                let mut er = entry.cursor();
                let serial = er.take_tagged(0x02, "revokedCertificate.userCertificate")?;
                serial.decode::<Int>("revokedCertificate.userCertificate")?;
                entry.decode::<RevokedCert>("revokedCertificate")?;
                let date = der::time_of(&er.take::<Time>("revokedCertificate.revocationDate")?);
                revoked.push(Revoked { serial: serial.content.to_vec(), date });
            }
        }
        let mut crl = Crl {
            der: t.tlv.to_vec(),
            tbs: tbs_t.tlv.to_vec(),
            version,
            issuer,
            this_update,
            next_update,
            revoked,
            signature_alg,
            signature,
            authority_key_id: None,
            crl_number: None,
        };
        if let Some(ext) = r.take_opt_raw(0xA0, "tbsCertList.crlExtensions")? {
            let mut er = ext.cursor();
            let at = er.offset();
            for e in er.take::<Extensions>("tbsCertList.crlExtensions")? {
                let bad = |field: &'static str| move |err: ::der::Error| der::der_error(field, at, at, err);
                match e.extn_id {
                    ID_CE_AUTHORITY_KEY_IDENTIFIER => {
                        let a = AuthorityKeyIdentifier::from_der(e.extn_value.as_bytes()).map_err(bad("crl extension authorityKeyIdentifier"))?;
                        crl.authority_key_id = a.key_identifier.map(|k| k.as_bytes().to_vec());
                    }
                    ID_CE_CRL_NUMBER => {
                        let n = Raw::whole(e.extn_value.as_bytes(), "crl extension cRLNumber")?.expect(0x02, "crl extension cRLNumber")?;
                        n.decode::<Int>("crl extension cRLNumber")?;
                        crl.crl_number = Some(n.content.to_vec());
                    }
                    _ => {}
                }
            }
            er.finish("tbsCertList.crlExtensions")?;
        }
        r.finish("tbsCertList")?;
        Ok(crl)
    }

    /// Verify this CRL's signature with `issuer`'s public key.
    pub fn verify_signed_by(&self, issuer: &Certificate) -> Result<(), VerifyError> {
        alg::verify(&issuer.public_key, &self.signature_alg, None, &self.tbs, &self.signature)
    }

    /// `issuer` could have signed this CRL: its subject names our issuer and, when both key
    /// identifiers are present, they agree.
    pub fn names_issuer(&self, issuer: &Certificate) -> bool {
        self.issuer.matches(&issuer.subject)
            && match (&self.authority_key_id, &issuer.subject_key_id) {
                (Some(a), Some(s)) => a == s,
                _ => true,
            }
    }

    /// The entry revoking `cert`, if this CRL lists it (same issuer name, same serial number).
    pub fn revocation_of(&self, cert: &Certificate) -> Option<&Revoked> {
        if !self.issuer.matches(&cert.issuer) {
            return None;
        }
        self.revoked.iter().find(|r| magnitude(&r.serial) == magnitude(&cert.serial))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A v1 CRL (no version, no extensions, no entries) and its v2 form with one entry, built by
    /// hand here so the parser is tested against an encoder other than the test PKI's.
    fn v1_crl() -> Vec<u8> {
        use crate::tlv::{encode, encode_seq};
        let alg = encode_seq(0x30, &[crate::pki::der::enc_oid("1.2.840.10045.4.3.2")]);
        let name = encode_seq(0x30, &[encode(0x31, &encode_seq(0x30, &[crate::pki::der::enc_oid("2.5.4.6"), encode(0x13, b"CN")]))]);
        let tbs = encode_seq(0x30, &[alg.clone(), name, encode(0x17, b"240101000000Z"), encode(0x17, b"240201000000Z")]);
        encode_seq(0x30, &[tbs, alg, encode(0x03, &[0x00, 0x30, 0x00])])
    }

    #[test]
    fn v1_crl_parses() {
        let der = v1_crl();
        let c = Crl::parse(&der).expect("v1 crl");
        assert_eq!(c.version, 1);
        assert_eq!(c.issuer.text, "C=CN");
        assert_eq!(c.this_update, time::macros::datetime!(2024-01-01 00:00:00 UTC));
        assert_eq!(c.next_update, Some(time::macros::datetime!(2024-02-01 00:00:00 UTC)));
        assert!(c.revoked.is_empty());
        assert_eq!(c.der, der);
        let e = Crl::parse(&der[..der.len() - 1]).expect_err("truncated");
        assert!(e.to_string().starts_with("crl at offset 0"), "{e}");
    }

    proptest! {
        #[test]
        fn parse_never_panics(data in proptest::collection::vec(any::<u8>(), 0..400),
                              edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6)) {
            let _ = Crl::parse(&data);
            let mut der = v1_crl();
            for (i, b) in &edits {
                let at = i.index(der.len());
                der[at] = *b;
            }
            let _ = Crl::parse(&der);
        }
    }
}

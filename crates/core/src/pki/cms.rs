//! CMS SignedData (RFC 5652) as ICAO 9303 uses it for EF.SOD (Part 10 section 4.6.2) and for CSCA
//! master lists (Part 12 section 9): a ContentInfo of type signedData whose encapsulated content
//! (eContent) is one ICAO structure, the signer's certificate in `certificates`, one SignerInfo
//! with signed attributes. This module owns reading that envelope from untrusted bytes into
//! [`SignedData`] (BER normalised to DER by [`super::ber`] first, then every field decoded by
//! `cms` / `x509-cert` / `spki` / `der` and named in errors) and checking its signature with the
//! embedded signer certificate ([`verify_signer`]: messageDigest over the eContent octets as
//! encoded, the signature over the DER signed attributes re-tagged as SET). What the eContent
//! means, and whom to trust as the signer's issuer, is the caller's ([`super::sod`],
//! [`super::masterlist`]).

use time::OffsetDateTime;

use ::der::asn1::{Any, Int, ObjectIdentifier, OctetString};
use ::der::{Decode, DecodeOwned, Encode};
use ::cms::content_info::CmsVersion;
use ::cms::signed_data::DigestAlgorithmIdentifiers;
use const_oid::db::rfc5911::{ID_CONTENT_TYPE, ID_MESSAGE_DIGEST, ID_SIGNED_DATA, ID_SIGNING_TIME};
use spki::AlgorithmIdentifierOwned;
use x509_cert::attr::Attributes;
use x509_cert::time::Time;

use super::alg::{self, oid, DigestAlg, VerifyError};
use super::ber;
use super::cert::Certificate;
use super::der::{self, AlgorithmIdentifier, Name, Oid, Raw};
use super::PkiError;

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;

/// What a caller expects of one kind of SignedData file: how errors name it, an optional
/// application tag around the ContentInfo, and the eContentType.
#[derive(Debug, Clone, Copy)]
pub struct Profile {
    /// The file as errors name it ("ef.sod", "master list").
    pub file: &'static str,
    /// The field a BER fault is reported on ("ef.sod ber encoding").
    pub ber_field: &'static str,
    /// An application tag wrapping the ContentInfo (EF.SOD: 0x77); a bare ContentInfo is
    /// accepted too.
    pub wrapper: Option<u8>,
    /// The required eContentType.
    pub content_type: ObjectIdentifier,
    /// Another eContentType accepted for the same content (EF.SOD: id-data, see `sod`).
    pub also_content_type: Option<ObjectIdentifier>,
    /// Its name in errors ("ldsSecurityObject").
    pub content_name: &'static str,
}

/// How the SignerInfo names its certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignerId {
    IssuerAndSerial { issuer: Name, serial: Vec<u8> },
    SubjectKeyId(Vec<u8>),
}

impl SignerId {
    pub fn identifies(&self, cert: &Certificate) -> bool {
        match self {
            // The issuer's RDNs in any order ([`Name::matches_in_any_order`]): a Malaysian
            // passport's SignerInfo reorders them; the signature still decides.
            SignerId::IssuerAndSerial { issuer, serial } => {
                strip_sign(&cert.serial) == strip_sign(serial) && cert.issuer.matches_in_any_order(issuer)
            }
            SignerId::SubjectKeyId(k) => cert.subject_key_id.as_ref() == Some(k),
        }
    }
}

impl std::fmt::Display for SignerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SignerId::IssuerAndSerial { issuer, serial } => write!(f, "issuer {issuer}, serial {}", hex::encode(serial)),
            SignerId::SubjectKeyId(k) => write!(f, "subject key identifier {}", hex::encode(k)),
        }
    }
}

fn strip_sign(v: &[u8]) -> &[u8] {
    match v {
        [0, rest @ ..] if !rest.is_empty() => rest,
        _ => v,
    }
}

/// The (first) SignerInfo of a SignedData.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignerInfo {
    pub version: u32,
    pub sid: SignerId,
    pub digest_alg: DigestAlg,
    pub signature_alg: AlgorithmIdentifier,
    /// The signed attributes re-tagged as SET (0x31): the bytes the signature covers.
    pub signed_attrs: Vec<u8>,
    /// The contentType attribute (required to equal the eContentType).
    pub content_type: Oid,
    /// The messageDigest attribute: the digest of the eContent under `digest_alg`.
    pub message_digest: Vec<u8>,
    pub signing_time: Option<OffsetDateTime>,
    pub signature: Vec<u8>,
}

/// A parsed SignedData: the envelope around one ICAO structure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedData {
    pub version: u32,
    pub content_type: Oid,
    /// The eContent OCTET STRING's content octets as encoded (what messageDigest covers).
    pub e_content: Vec<u8>,
    /// Certificates carried in the SignedData (normally exactly the signer's).
    pub certificates: Vec<Certificate>,
    pub signer: SignerInfo,
    /// How many SignerInfos there were (ICAO requires one; the first is used).
    pub signer_count: usize,
}

/// Why the signature of a SignedData does not hold (before any trust decision).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureFailure {
    #[error("messageDigest attribute {} differs from the digest of the eContent {}", hex::encode(.expected), hex::encode(.actual))]
    MessageDigestMismatch { expected: Vec<u8>, actual: Vec<u8> },
    #[error("no embedded certificate matches the signer ({signer})")]
    SignerCertificateMissing { signer: String },
    #[error("the signature does not verify with the signer certificate ({subject})")]
    SignatureInvalid { subject: String },
    #[error("unsupported algorithm {oid}")]
    UnsupportedAlgorithm { oid: String },
}

fn invalid(field: &'static str, offset: usize, what: impl Into<String>) -> PkiError {
    PkiError::Invalid { field, offset, what: what.into() }
}

/// A digest AlgorithmIdentifier (absent or NULL parameters) as a [`DigestAlg`].
pub(crate) fn digest_alg(a: &AlgorithmIdentifierOwned, field: &'static str, offset: usize) -> Result<DigestAlg, PkiError> {
    if a.parameters.as_ref().is_some_and(|p| !p.is_null()) {
        return Err(invalid(field, offset, format!("digest algorithm {} carries parameters", a.oid)));
    }
    DigestAlg::from_oid(&a.oid.to_string()).ok_or(PkiError::UnsupportedAlgorithm { field, offset, oid: a.oid.to_string() })
}

/// An attribute value decoded as `T`.
fn any_as<T: DecodeOwned>(v: &Any) -> Result<T, ::der::Error> {
    T::from_der(&v.to_der()?)
}

impl SignedData {
    /// Parse a SignedData file of `profile`, DER or BER ([`super::ber`] normalises BER first).
    /// `content` reads the eContent OCTET STRING (offsets in the parsed buffer) when the parse
    /// reaches it, before the certificates and the SignerInfo, so its errors come in the order
    /// the fields are encoded. Error offsets are offsets in `bytes` when it is DER, in its DER
    /// normalisation otherwise.
    pub fn parse_with<T>(
        bytes: &[u8],
        profile: &Profile,
        content: impl Fn(&Raw<'_>) -> Result<T, PkiError>,
    ) -> Result<(SignedData, T), PkiError> {
        // DER first (issued files mostly are, and the normaliser costs more than the parse).
        let strict_error = match parse_der(bytes, profile, &content) {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        match ber::to_der(bytes) {
            Ok(der) if der == bytes => Err(strict_error),
            Ok(der) => parse_der(&der, profile, &content),
            Err(e) if e.ber_only => Err(invalid(profile.ber_field, e.offset, e.what)),
            // Not BER either: the strict parse names the field at fault.
            Err(_) => Err(strict_error),
        }
    }

    /// The embedded certificate the SignerInfo names.
    pub fn signer_certificate(&self) -> Option<&Certificate> {
        self.certificates.iter().find(|c| self.signer.sid.identifies(c))
    }

    /// [`verify_signer`] of this SignedData.
    pub fn verify_signer(&self) -> Result<&Certificate, SignatureFailure> {
        verify_signer(&self.signer, &self.e_content, &self.certificates)
    }
}

/// The signature of a SignedData without any trust decision: messageDigest equals the digest of
/// `e_content`, and the signature over the signed attributes verifies with the embedded
/// certificate the SignerInfo names (returned).
pub fn verify_signer<'a>(signer: &SignerInfo, e_content: &[u8], certificates: &'a [Certificate]) -> Result<&'a Certificate, SignatureFailure> {
    let actual = signer.digest_alg.digest(e_content);
    if actual != signer.message_digest {
        return Err(SignatureFailure::MessageDigestMismatch { expected: signer.message_digest.clone(), actual });
    }
    let cert = certificates
        .iter()
        .find(|c| signer.sid.identifies(c))
        .ok_or_else(|| SignatureFailure::SignerCertificateMissing { signer: signer.sid.to_string() })?;
    alg::verify(&cert.public_key, &signer.signature_alg, Some(signer.digest_alg), &signer.signed_attrs, &signer.signature).map_err(|e| match e {
        VerifyError::Unsupported { oid } => SignatureFailure::UnsupportedAlgorithm { oid },
        VerifyError::Invalid => SignatureFailure::SignatureInvalid { subject: cert.subject.text.clone() },
    })?;
    Ok(cert)
}

fn parse_der<T>(bytes: &[u8], profile: &Profile, content: impl FnOnce(&Raw<'_>) -> Result<T, PkiError>) -> Result<(SignedData, T), PkiError> {
    let top = Raw::whole(bytes, profile.file)?;
    let ci = match profile.wrapper {
        Some(tag) if top.tag == tag => {
            let mut r = top.cursor();
            let ci = r.take_tagged(SEQUENCE, "contentInfo")?;
            r.finish(profile.file)?;
            ci
        }
        _ => top.expect(SEQUENCE, "contentInfo")?,
    };
    let mut r = ci.cursor();
    let at = r.offset();
    let ct = r.take::<ObjectIdentifier>("contentInfo.contentType")?;
    if ct != ID_SIGNED_DATA {
        return Err(invalid("contentInfo.contentType", at, format!("expected signedData ({}), found {ct}", oid::SIGNED_DATA)));
    }
    let wrapped = r.take_tagged(0xA0, "contentInfo.content")?;
    r.finish("contentInfo")?;
    let mut r = wrapped.cursor();
    let sd = r.take_tagged(SEQUENCE, "signedData")?;
    r.finish("contentInfo.content")?;
    parse_signed_data(&sd, profile, content)
}

fn parse_signed_data<T>(sd: &Raw<'_>, profile: &Profile, content: impl FnOnce(&Raw<'_>) -> Result<T, PkiError>) -> Result<(SignedData, T), PkiError> {
    let mut r = sd.cursor();
    let at = r.offset();
    let version = r.take::<CmsVersion>("signedData.version")? as u32;
    // ICAO 9303-10 (EF.SOD) and 9303-12 (master lists) prescribe v3, and so does RFC 5652 5.1
    // for any eContentType other than id-data.
    if version != 3 {
        return Err(invalid("signedData.version", at, format!("version {version} is not 3")));
    }
    r.take::<DigestAlgorithmIdentifiers>("signedData.digestAlgorithms")?;

    // encapContentInfo
    let mut er = r.take_tagged(SEQUENCE, "encapContentInfo")?.cursor();
    let at = er.offset();
    let e_content_type = er.take::<ObjectIdentifier>("encapContentInfo.eContentType")?;
    if e_content_type != profile.content_type && Some(e_content_type) != profile.also_content_type {
        return Err(invalid(
            "encapContentInfo.eContentType",
            at,
            format!("expected {} ({}), found {e_content_type}", profile.content_name, profile.content_type),
        ));
    }
    let mut wr = er.take_tagged(0xA0, "encapContentInfo.eContent")?.cursor();
    er.finish("encapContentInfo")?;
    let octets = wr.take_tagged(0x04, "encapContentInfo.eContent")?;
    wr.finish("encapContentInfo.eContent")?;
    let value = content(&octets)?;

    let mut certificates = Vec::new();
    if let Some(certs) = r.take_opt_raw(0xA0, "signedData.certificates")? {
        let mut cr = certs.cursor();
        while !cr.is_empty() {
            // Other CertificateChoices (attribute / extended certificates) are not used by ICAO.
            let c = cr.take_raw("signedData.certificates")?;
            if c.tag == SEQUENCE {
                certificates.push(Certificate::from_raw(&c)?);
            }
        }
    }
    r.take_opt_raw(0xA1, "signedData.crls")?;
    let infos = r.take_tagged(SET, "signedData.signerInfos")?;
    r.finish("signedData")?;
    let mut ir = infos.cursor();
    let first = ir.take_tagged(SEQUENCE, "signedData.signerInfos").map_err(|e| match e {
        PkiError::Invalid { field, offset, what } if what == "missing" => invalid(field, offset, "no SignerInfo"),
        e => e,
    })?;
    let mut signer_count = 1;
    while !ir.is_empty() {
        ir.take_raw("signedData.signerInfos")?;
        signer_count += 1;
    }
    let signer = SignerInfo::parse(&first)?;
    if signer.content_type != e_content_type.to_string().as_str() {
        return Err(invalid(
            "signerInfo.signedAttrs contentType",
            first.offset,
            format!("attribute {} differs from eContentType {e_content_type}", signer.content_type),
        ));
    }
    let signed = SignedData {
        version,
        content_type: Oid::from(&e_content_type),
        e_content: octets.content.to_vec(),
        certificates,
        signer,
        signer_count,
    };
    Ok((signed, value))
}

impl SignerInfo {
    fn parse(t: &Raw<'_>) -> Result<SignerInfo, PkiError> {
        let mut r = t.cursor();
        let version = r.take::<CmsVersion>("signerInfo.version")? as u32;
        let sid_t = r.take_raw("signerInfo.sid")?;
        let sid = match sid_t.tag {
            SEQUENCE => {
                let mut sr = sid_t.cursor();
                let issuer = Name::parse(&sr.take_tagged(SEQUENCE, "signerInfo.sid.issuer")?, "signerInfo.sid.issuer")?;
                let serial = sr.take_tagged(0x02, "signerInfo.sid.serialNumber")?;
                serial.decode::<Int>("signerInfo.sid.serialNumber")?;
                sr.finish("signerInfo.sid")?;
                SignerId::IssuerAndSerial { issuer, serial: serial.content.to_vec() }
            }
            0x80 => SignerId::SubjectKeyId(sid_t.content.to_vec()),
            tag => {
                return Err(invalid(
                    "signerInfo.sid",
                    sid_t.offset,
                    format!("expected issuerAndSerialNumber or [0] subjectKeyIdentifier, found tag {tag:02X}"),
                ))
            }
        };
        let at = r.offset();
        let digest_alg = digest_alg(&r.take::<AlgorithmIdentifierOwned>("signerInfo.digestAlgorithm")?, "signerInfo.digestAlgorithm", at)?;
        let attrs = r
            .take_opt_raw(0xA0, "signerInfo.signedAttrs")?
            .ok_or_else(|| invalid("signerInfo.signedAttrs", t.offset, "missing (ICAO 9303 requires signed attributes)"))?;
        let signature_alg = AlgorithmIdentifier::from(&r.take::<AlgorithmIdentifierOwned>("signerInfo.signatureAlgorithm")?);
        let signature = r.take::<OctetString>("signerInfo.signature")?.into_bytes();
        r.take_opt_raw(0xA1, "signerInfo.unsignedAttrs")?;
        r.finish("signerInfo")?;

        // The signature covers the attributes as encoded, re-tagged as a SET (RFC 5652 5.4).
        let mut signed_attrs = attrs.tlv.to_vec();
        if let Some(b) = signed_attrs.first_mut() {
            *b = SET;
        }
        let list = Attributes::from_der(&signed_attrs).map_err(|e| der::der_error("signerInfo.signedAttrs", attrs.offset, attrs.offset, e))?;
        let mut content_type = None;
        let mut message_digest = None;
        let mut signing_time = None;
        let at = attrs.offset;
        for a in list.iter() {
            let value = match a.values.as_slice() {
                [v] => v,
                vs => return Err(invalid("signedAttrs attribute", at, format!("attribute {} must have exactly one value, has {}", a.oid, vs.len()))),
            };
            let dup = |field: &'static str| invalid(field, at, "attribute present twice");
            let bad = |field: &'static str| move |e: ::der::Error| der::der_error(field, at, at, e);
            match a.oid {
                ID_CONTENT_TYPE => {
                    let o: ObjectIdentifier = any_as(value).map_err(bad("signedAttrs contentType"))?;
                    if content_type.replace(Oid::from(&o)).is_some() {
                        return Err(dup("signedAttrs contentType"));
                    }
                }
                ID_MESSAGE_DIGEST => {
                    let d: OctetString = any_as(value).map_err(bad("signedAttrs messageDigest"))?;
                    if message_digest.replace(d.into_bytes()).is_some() {
                        return Err(dup("signedAttrs messageDigest"));
                    }
                }
                ID_SIGNING_TIME => {
                    let t: Time = any_as(value).map_err(bad("signedAttrs signingTime"))?;
                    if signing_time.replace(der::time_of(&t)).is_some() {
                        return Err(dup("signedAttrs signingTime"));
                    }
                }
                _ => {}
            }
        }
        let content_type = content_type.ok_or_else(|| invalid("signerInfo.signedAttrs", at, "contentType attribute missing"))?;
        let message_digest = message_digest.ok_or_else(|| invalid("signerInfo.signedAttrs", at, "messageDigest attribute missing"))?;
        Ok(SignerInfo { version, sid, digest_alg, signature_alg, signed_attrs, content_type, message_digest, signing_time, signature })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::testutil::sample_sod;

    const LDS: Profile = Profile {
        file: "ef.sod",
        ber_field: "ef.sod ber encoding",
        wrapper: Some(0x77),
        content_type: ObjectIdentifier::new_unwrap("2.23.136.1.1.1"),
        also_content_type: None,
        content_name: "ldsSecurityObject",
    };

    #[test]
    fn sample_signed_data_verifies_and_tampering_is_named() {
        let bytes = sample_sod();
        let (sd, seen) = SignedData::parse_with(&bytes, &LDS, |octets| Ok(octets.content.len())).expect("parses");
        assert_eq!(seen, sd.e_content.len());
        assert_eq!(sd.version, 3);
        assert_eq!(sd.content_type, "2.23.136.1.1.1");
        let signer = sd.verify_signer().expect("signature holds");
        assert_eq!(signer.subject.text, "C=CN, O=Hidden Corpus, CN=Hidden Corpus Document Signer");

        let mut bad = sd.clone();
        bad.e_content[0] ^= 1;
        assert!(matches!(bad.verify_signer(), Err(SignatureFailure::MessageDigestMismatch { .. })));
        let mut bad = sd.clone();
        bad.signer.signature[10] ^= 1;
        assert_eq!(
            bad.verify_signer().map(|c| c.subject.text.clone()),
            Err(SignatureFailure::SignatureInvalid { subject: "C=CN, O=Hidden Corpus, CN=Hidden Corpus Document Signer".into() })
        );
        let mut bad = sd.clone();
        bad.certificates.clear();
        assert!(matches!(bad.verify_signer(), Err(SignatureFailure::SignerCertificateMissing { .. })));

        // Another profile names its own content type in the error.
        let ml = Profile { content_type: ObjectIdentifier::new_unwrap("2.23.136.1.1.2"), content_name: "cscaMasterList", ..LDS };
        let e = SignedData::parse_with(&bytes, &ml, |_| Ok(())).expect_err("wrong content type");
        assert!(e.to_string().contains("expected cscaMasterList (2.23.136.1.1.2), found 2.23.136.1.1.1"), "{e}");
        // The content reader's error stops the parse.
        let e = SignedData::parse_with(&bytes, &LDS, |o| Err::<(), _>(invalid("x", o.content_offset, "no"))).expect_err("reader fails");
        assert!(e.to_string().starts_with("x at offset "), "{e}");
    }
}

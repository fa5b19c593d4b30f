//! EF.SOD (ICAO 9303 Part 10 section 4.6.2): tag 77 wrapping a CMS ContentInfo / SignedData
//! (RFC 5652) whose encapsulated content is the LDSSecurityObject with one hash per data group.
//! This module owns parsing that structure from untrusted bytes into [`Sod`]: BER normalised to
//! DER by [`super::ber`], then each field decoded by `cms` / `x509-cert` / `spki` / `der` and named
//! in errors; it checks shape and internal consistency only. Whether the hashes, signature and certificates hold is
//! [`super::passive_authentication`]'s business.

use std::collections::BTreeMap;

use time::OffsetDateTime;

use ::der::asn1::{Any, Int, ObjectIdentifier, OctetString};
use ::der::{Decode, DecodeOwned, Encode};
use cms::content_info::CmsVersion;
use cms::signed_data::DigestAlgorithmIdentifiers;
use const_oid::db::rfc5911::{ID_CONTENT_TYPE, ID_MESSAGE_DIGEST, ID_SIGNED_DATA, ID_SIGNING_TIME};
use spki::AlgorithmIdentifierOwned;
use x509_cert::attr::Attributes;
use x509_cert::time::Time;

use super::alg::{oid, DigestAlg};
use super::ber;
use super::cert::Certificate;
use super::der::{self, AlgorithmIdentifier, Name, Oid, Raw};
use super::PkiError;
use crate::tlv;

/// The ldsSecurityObject content type (ICAO 9303 Part 10).
const LDS_SECURITY_OBJECT: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.23.136.1.1.1");
/// CMS id-data (RFC 5652 section 4), the eContentType some issuers use for the LDSSecurityObject.
const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");

/// The EF.SOD file tag.
pub const TAG_SOD: tlv::Tag = 0x77;

/// How the SignerInfo names its certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignerId {
    IssuerAndSerial { issuer: Name, serial: Vec<u8> },
    SubjectKeyId(Vec<u8>),
}

impl SignerId {
    /// `cert` is the certificate this SignerInfo names: same serial and issuer (the issuer's RDNs
    /// in any order, [`Name::matches_in_any_order`]), or same subject key identifier.
    pub fn identifies(&self, cert: &Certificate) -> bool {
        match self {
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

/// The (single) SignerInfo of an EF.SOD.
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

/// A parsed EF.SOD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sod {
    /// SignedData version.
    pub signed_data_version: u32,
    /// LDSSecurityObject version: 0 (no version info) or 1 (LDS 1.8, with `lds_version_info`).
    pub lds_version: u32,
    /// (ldsVersion, unicodeVersion) of a v1 LDSSecurityObject.
    pub lds_version_info: Option<(String, String)>,
    /// The LDSSecurityObject hash algorithm.
    pub digest_alg: DigestAlg,
    /// Data group number -> hash.
    pub dg_hashes: BTreeMap<u8, Vec<u8>>,
    /// The encapsulated content: the LDSSecurityObject DER (what messageDigest covers).
    pub e_content: Vec<u8>,
    /// Certificates carried in the SignedData (normally exactly the document signer).
    pub certificates: Vec<Certificate>,
    pub signer: SignerInfo,
    /// How many SignerInfos there were (ICAO requires one; the first is used).
    pub signer_count: usize,
}

fn invalid(field: &'static str, offset: usize, what: impl Into<String>) -> PkiError {
    PkiError::Invalid { field, offset, what: what.into() }
}

fn digest_alg(a: &AlgorithmIdentifierOwned, field: &'static str, offset: usize) -> Result<DigestAlg, PkiError> {
    if a.parameters.as_ref().is_some_and(|p| !p.is_null()) {
        return Err(invalid(field, offset, format!("digest algorithm {} carries parameters", a.oid)));
    }
    DigestAlg::from_oid(&a.oid.to_string()).ok_or(PkiError::UnsupportedAlgorithm { field, offset, oid: a.oid.to_string() })
}

const SEQUENCE: u8 = 0x30;

/// An attribute value decoded as `T`.
fn any_as<T: DecodeOwned>(v: &Any) -> Result<T, ::der::Error> {
    T::from_der(&v.to_der()?)
}
const SET: u8 = 0x31;

impl Sod {
    /// Parse EF.SOD bytes: the tag-77 file as read from the chip (a bare ContentInfo SEQUENCE is
    /// accepted too), DER or BER ([`super::ber`] normalises BER first). Error offsets are offsets
    /// in `bytes` when it is DER, in its DER normalisation otherwise.
    pub fn parse(bytes: &[u8]) -> Result<Sod, PkiError> {
        match ber::to_der(bytes) {
            Ok(der) if der == bytes => Sod::parse_der(bytes),
            Ok(der) => Sod::parse_der(&der),
            Err(e) if e.ber_only => Err(invalid("ef.sod ber encoding", e.offset, e.what)),
            // Not BER either: the strict parse names the field at fault.
            Err(_) => Sod::parse_der(bytes),
        }
    }

    fn parse_der(bytes: &[u8]) -> Result<Sod, PkiError> {
        let top = Raw::whole(bytes, "ef.sod")?;
        let ci = if u32::from(top.tag) == TAG_SOD {
            let mut r = top.cursor();
            let ci = r.take_tagged(SEQUENCE, "contentInfo")?;
            r.finish("ef.sod")?;
            ci
        } else {
            top.expect(SEQUENCE, "contentInfo")?
        };
        let mut r = ci.cursor();
        let at = r.offset();
        let ct = r.take::<ObjectIdentifier>("contentInfo.contentType")?;
        if ct != ID_SIGNED_DATA {
            return Err(invalid("contentInfo.contentType", at, format!("expected signedData ({}), found {ct}", oid::SIGNED_DATA)));
        }
        let content = r.take_tagged(0xA0, "contentInfo.content")?;
        r.finish("contentInfo")?;
        let mut r = content.cursor();
        let sd = r.take_tagged(SEQUENCE, "signedData")?;
        r.finish("contentInfo.content")?;
        Sod::parse_signed_data(&sd)
    }

    fn parse_signed_data(sd: &Raw<'_>) -> Result<Sod, PkiError> {
        let mut r = sd.cursor();
        let at = r.offset();
        let signed_data_version = r.take::<CmsVersion>("signedData.version")? as u32;
        // ICAO 9303-10 prescribes v3; so does RFC 5652 5.1 for any eContentType other than id-data.
        if signed_data_version != 3 {
            return Err(invalid("signedData.version", at, format!("version {signed_data_version} is not 3")));
        }
        r.take::<DigestAlgorithmIdentifiers>("signedData.digestAlgorithms")?;

        // encapContentInfo
        let mut er = r.take_tagged(SEQUENCE, "encapContentInfo")?.cursor();
        let at = er.offset();
        let e_content_type = er.take::<ObjectIdentifier>("encapContentInfo.eContentType")?;
        // Decision: id-data is accepted beside ldsSecurityObject. Issued Chinese passports carry
        // id-data (fixtures/interop gmrtd-sod/cn.sod.bin; gmrtd accepts it for CN, OpenSSL
        // verifies it); the content must still be an LDSSecurityObject and the contentType
        // attribute must still equal the eContentType, so nothing weaker is signed.
        if e_content_type != LDS_SECURITY_OBJECT && e_content_type != ID_DATA {
            return Err(invalid(
                "encapContentInfo.eContentType",
                at,
                format!("expected ldsSecurityObject ({}), found {e_content_type}", oid::LDS_SECURITY_OBJECT),
            ));
        }
        let mut wr = er.take_tagged(0xA0, "encapContentInfo.eContent")?.cursor();
        er.finish("encapContentInfo")?;
        let octets = wr.take_tagged(0x04, "encapContentInfo.eContent")?;
        wr.finish("encapContentInfo.eContent")?;
        let lds = Lds::parse(&octets)?;

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
        Ok(Sod {
            signed_data_version,
            lds_version: lds.version,
            lds_version_info: lds.version_info,
            digest_alg: lds.digest_alg,
            dg_hashes: lds.hashes,
            e_content: octets.content.to_vec(),
            certificates,
            signer,
            signer_count,
        })
    }

    /// The embedded certificate the SignerInfo names.
    pub fn signer_certificate(&self) -> Option<&Certificate> {
        self.certificates.iter().find(|c| self.signer.sid.identifies(c))
    }
}

/// LDSSecurityObject ::= SEQUENCE { version, hashAlgorithm, dataGroupHashValues, ldsVersionInfo
/// OPTIONAL } (ICAO 9303 Part 10), as `der` decodes and encodes it (the test PKI writes it).
#[derive(Debug, Clone, ::der::Sequence)]
pub struct LdsSecurityObject {
    pub version: u8,
    pub hash_algorithm: AlgorithmIdentifierOwned,
    pub data_group_hash_values: Vec<DataGroupHash>,
    #[asn1(optional = "true")]
    pub lds_version_info: Option<LdsVersionInfo>,
}

/// DataGroupHash ::= SEQUENCE { dataGroupNumber, dataGroupHashValue OCTET STRING }
#[derive(Debug, Clone, ::der::Sequence)]
pub struct DataGroupHash {
    pub data_group_number: u8,
    pub data_group_hash_value: OctetString,
}

/// LDSVersionInfo ::= SEQUENCE { ldsVersion PrintableString, unicodeVersion PrintableString }
/// (read as any string type).
#[derive(Debug, Clone, ::der::Sequence)]
pub struct LdsVersionInfo {
    pub lds_version: Any,
    pub unicode_version: Any,
}

struct Lds {
    version: u32,
    version_info: Option<(String, String)>,
    digest_alg: DigestAlg,
    hashes: BTreeMap<u8, Vec<u8>>,
}

impl Lds {
    /// The LDSSecurityObject in the eContent OCTET STRING `octets`, decoded by `der` (BER
    /// normalised first; the digest is over the octets as they are).
    fn parse(octets: &Raw<'_>) -> Result<Lds, PkiError> {
        const F: &str = "ldsSecurityObject";
        let at = octets.content_offset;
        let normalised = ber::to_der(octets.content);
        let bytes = normalised.as_deref().unwrap_or(octets.content);
        let so = LdsSecurityObject::from_der(bytes).map_err(|e| der::der_error(F, at, at, e))?;
        if so.version > 1 {
            return Err(invalid("ldsSecurityObject.version", at, format!("version {} is not 0 or 1", so.version)));
        }
        let digest_alg = digest_alg(&so.hash_algorithm, "ldsSecurityObject.hashAlgorithm", at)?;
        let mut hashes = BTreeMap::new();
        for h in &so.data_group_hash_values {
            let n = h.data_group_number;
            if !(1..=16).contains(&n) {
                return Err(invalid("dataGroupHash.dataGroupNumber", at, format!("data group {n} outside 1..=16")));
            }
            let v = h.data_group_hash_value.as_bytes();
            if v.len() != digest_alg.output_len() {
                return Err(invalid(
                    "dataGroupHash.dataGroupHashValue",
                    at,
                    format!("dg{n} hash is {} bytes, {} gives {}", v.len(), digest_alg, digest_alg.output_len()),
                ));
            }
            if hashes.insert(n, v.to_vec()).is_some() {
                return Err(invalid("dataGroupHash.dataGroupNumber", at, format!("dg{n} listed twice")));
            }
        }
        if hashes.is_empty() {
            return Err(invalid("ldsSecurityObject.dataGroupHashValues", at, "no data group hashes"));
        }
        let version_info =
            so.lds_version_info.map(|vi| (der::directory_string((&vi.lds_version).into()), der::directory_string((&vi.unicode_version).into())));
        Ok(Lds { version: so.version.into(), version_info, digest_alg, hashes })
    }
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
    use proptest::prelude::*;

    #[test]
    fn sample_sod_parses() {
        let bytes = sample_sod();
        let sod = Sod::parse(&bytes).expect("sample parses");
        assert_eq!(sod.digest_alg, DigestAlg::Sha1);
        assert_eq!(sod.dg_hashes.keys().copied().collect::<Vec<_>>(), vec![1, 2, 3, 11, 12, 13]);
        assert_eq!(hex::encode(&sod.dg_hashes[&1]), "68efec06ae14449775c2bdd8975b311f13e3d437");
        assert_eq!(sod.lds_version, 0);
        assert_eq!(sod.signed_data_version, 3);
        assert_eq!(sod.signer.digest_alg, DigestAlg::Sha256);
        assert_eq!(sod.signer.signature_alg.oid, oid::ECDSA_SHA256);
        assert_eq!(hex::encode(&sod.signer.message_digest), "5e134c22e22b1cbccf868e71cf7b873f7c185028b855df15575a9404cca774fc");
        assert_eq!(sod.signer.signing_time, Some(time::macros::datetime!(2024-04-08 03:00:00 UTC)));
        assert_eq!(sod.signer.signed_attrs.first(), Some(&0x31));
        assert_eq!(sod.signer.signed_attrs.len(), 104);
        assert_eq!(sod.certificates.len(), 1);
        let ds = sod.signer_certificate().expect("signer certificate embedded");
        assert_eq!(ds.subject.text, "C=CN, O=Hidden Corpus, CN=Hidden Corpus Document Signer");
        assert_eq!(ds.serial_hex(), "0790132d58ad4d17");
        assert_eq!(sod.e_content.len(), 180);
        // The bare ContentInfo parses the same.
        assert_eq!(Sod::parse(&bytes[4..]).expect("bare"), sod);
    }

    #[test]
    fn garbage_names_field_and_offset() {
        let bytes = sample_sod();
        let e = Sod::parse(&[0x77, 0x03, 0x30, 0x01, 0x00]).expect_err("short");
        assert!(e.to_string().contains("contentInfo"), "{e}");
        let e = Sod::parse(&bytes[..bytes.len() - 10]).expect_err("truncated");
        assert!(e.to_string().starts_with("ef.sod at offset 0"), "{e}");
        // eContentType changed from 2.23.136.1.1.1 to 2.23.136.1.1.2 (and in the contentType attribute).
        let mut b = bytes.clone();
        let pos = b.windows(8).position(|w| w == [0x06, 0x06, 0x67, 0x81, 0x08, 0x01, 0x01, 0x01]).expect("oid");
        b[pos + 7] = 2;
        let e = Sod::parse(&b).expect_err("wrong content type");
        assert_eq!(e.to_string(), format!("encapContentInfo.eContentType at offset {}: expected ldsSecurityObject (2.23.136.1.1.1), found 2.23.136.1.1.2", pos));
        // Only the signed contentType attribute changed.
        let mut b = bytes.clone();
        let pos = b.windows(8).rposition(|w| w == [0x06, 0x06, 0x67, 0x81, 0x08, 0x01, 0x01, 0x01]).expect("oid");
        b[pos + 7] = 2;
        let e = Sod::parse(&b).expect_err("contentType attribute");
        assert!(e.to_string().contains("differs from eContentType"), "{e}");
        // SHA-1 OID in the LDSSecurityObject changed to an unknown one.
        let mut b = bytes.clone();
        let pos = b.windows(7).position(|w| w == [0x06, 0x05, 0x2B, 0x0E, 0x03, 0x02, 0x1A]).expect("sha1");
        b[pos + 6] = 0x1B;
        assert!(matches!(Sod::parse(&b), Err(PkiError::UnsupportedAlgorithm { oid, .. }) if oid == "1.3.14.3.2.27"));
    }

    #[test]
    fn signed_data_version_must_be_3() {
        let bytes = sample_sod();
        // contentInfo: 77 len 30 len 06 09 <signedData> A0 len 30 len 02 01 03
        let pos = bytes.windows(3).position(|w| w == [0x02, 0x01, 0x03]).expect("signedData version");
        for v in [0u8, 1, 2, 4, 5] {
            let mut b = bytes.clone();
            b[pos + 2] = v;
            let e = Sod::parse(&b).expect_err("version other than 3");
            assert_eq!(e.to_string(), format!("signedData.version at offset {pos}: version {v} is not 3"));
        }
    }

    proptest! {
        #[test]
        fn parse_never_panics_on_random_bytes(data in proptest::collection::vec(any::<u8>(), 0..1200)) {
            let _ = Sod::parse(&data);
            let mut wrapped = vec![0x77, 0x82, (data.len() >> 8) as u8, data.len() as u8];
            wrapped.extend_from_slice(&data);
            let _ = Sod::parse(&wrapped);
        }

        #[test]
        fn parse_never_panics_on_mutations(edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
                                           cut in any::<prop::sample::Index>()) {
            let mut b = sample_sod();
            for (i, v) in &edits {
                let at = i.index(b.len());
                b[at] = *v;
            }
            let _ = Sod::parse(&b);
            let end = cut.index(b.len());
            let _ = Sod::parse(&b[..end]);
        }
    }
}

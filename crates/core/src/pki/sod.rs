//! EF.SOD (ICAO 9303 Part 10 section 4.6.2): tag 77 wrapping a CMS ContentInfo / SignedData
//! (RFC 5652) whose encapsulated content is the LDSSecurityObject with one hash per data group.
//! This module owns parsing that structure from untrusted bytes into [`Sod`]; it checks shape and
//! internal consistency only. Whether the hashes, signature and certificates hold is
//! [`super::passive_authentication`]'s business.

use std::collections::BTreeMap;

use time::OffsetDateTime;

use super::alg::{oid, DigestAlg};
use super::cert::Certificate;
use super::der::{self, AlgorithmIdentifier, Name, Oid};
use super::PkiError;
use crate::tlv::{self, Reader, Tlv};

/// The EF.SOD file tag.
pub const TAG_SOD: tlv::Tag = 0x77;

/// How the SignerInfo names its certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignerId {
    IssuerAndSerial { issuer: Name, serial: Vec<u8> },
    SubjectKeyId(Vec<u8>),
}

impl SignerId {
    pub fn identifies(&self, cert: &Certificate) -> bool {
        match self {
            SignerId::IssuerAndSerial { issuer, serial } => cert.issuer.matches(issuer) && strip_sign(&cert.serial) == strip_sign(serial),
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

fn bad(field: &'static str, t: &Tlv<'_>, what: impl Into<String>) -> PkiError {
    PkiError::Invalid { field, offset: t.offset, what: what.into() }
}

fn digest_alg(t: &Tlv<'_>, field: &'static str) -> Result<DigestAlg, PkiError> {
    let a = der::algorithm_identifier(t, field)?;
    if !a.params_absent_or_null() {
        return Err(bad(field, t, format!("digest algorithm {} carries parameters", a.oid)));
    }
    DigestAlg::from_oid(a.oid.as_str()).ok_or(PkiError::UnsupportedAlgorithm { field, offset: t.offset, oid: a.oid.to_string() })
}

impl Sod {
    /// Parse EF.SOD bytes: the tag-77 file as read from the chip (a bare ContentInfo SEQUENCE is
    /// accepted too). Error offsets are offsets in `bytes`.
    pub fn parse(bytes: &[u8]) -> Result<Sod, PkiError> {
        let ci = match bytes.first() {
            Some(0x77) => {
                let outer = der::parse_one(bytes, TAG_SOD, "ef.sod")?;
                let mut r = outer.children();
                let ci = der::take(&mut r, der::SEQUENCE, "contentInfo")?;
                der::finish(&r, "ef.sod")?;
                ci
            }
            _ => der::parse_one(bytes, der::SEQUENCE, "contentInfo")?,
        };
        let mut r = ci.children();
        let ct_t = der::take(&mut r, der::OID, "contentInfo.contentType")?;
        let ct = der::oid(&ct_t, "contentInfo.contentType")?;
        if ct != oid::SIGNED_DATA {
            return Err(bad("contentInfo.contentType", &ct_t, format!("expected signedData ({}), found {ct}", oid::SIGNED_DATA)));
        }
        let content = der::take(&mut r, der::ctx(0), "contentInfo.content")?;
        der::finish(&r, "contentInfo")?;
        let mut r = content.children();
        let sd = der::take(&mut r, der::SEQUENCE, "signedData")?;
        der::finish(&r, "contentInfo.content")?;
        Sod::parse_signed_data(&sd, bytes)
    }

    fn parse_signed_data(sd: &Tlv<'_>, root: &[u8]) -> Result<Sod, PkiError> {
        let mut r = sd.children();
        let signed_data_version = der::small_uint(&der::take(&mut r, der::INTEGER, "signedData.version")?, "signedData.version")?;
        let algs = der::take(&mut r, der::SET, "signedData.digestAlgorithms")?;
        for a in der::children(&algs, "signedData.digestAlgorithms")? {
            der::algorithm_identifier(&a, "signedData.digestAlgorithms")?;
        }

        // encapContentInfo
        let eci = der::take(&mut r, der::SEQUENCE, "encapContentInfo")?;
        let mut er = eci.children();
        let ect_t = der::take(&mut er, der::OID, "encapContentInfo.eContentType")?;
        let e_content_type = der::oid(&ect_t, "encapContentInfo.eContentType")?;
        if e_content_type != oid::LDS_SECURITY_OBJECT {
            return Err(bad(
                "encapContentInfo.eContentType",
                &ect_t,
                format!("expected ldsSecurityObject ({}), found {e_content_type}", oid::LDS_SECURITY_OBJECT),
            ));
        }
        let wrapper = der::take(&mut er, der::ctx(0), "encapContentInfo.eContent")?;
        der::finish(&er, "encapContentInfo")?;
        let mut wr = wrapper.children();
        let octets = der::take(&mut wr, der::OCTET_STRING, "encapContentInfo.eContent")?;
        der::finish(&wr, "encapContentInfo.eContent")?;
        let lds = Lds::parse(&octets)?;

        let mut certificates = Vec::new();
        if let Some(certs) = der::take_opt(&mut r, der::ctx(0), "signedData.certificates")? {
            for c in der::children(&certs, "signedData.certificates")? {
                // Other CertificateChoices (attribute / extended certificates) are not used by ICAO.
                if c.tag == der::SEQUENCE {
                    certificates.push(Certificate::from_tlv(&c, root)?);
                }
            }
        }
        der::take_opt(&mut r, der::ctx(1), "signedData.crls")?;
        let infos = der::take(&mut r, der::SET, "signedData.signerInfos")?;
        der::finish(&r, "signedData")?;
        let infos = der::children(&infos, "signedData.signerInfos")?;
        let first = infos
            .first()
            .ok_or_else(|| bad("signedData.signerInfos", sd, "no SignerInfo"))?;
        let signer = SignerInfo::parse(first, root)?;
        if signer.content_type != e_content_type {
            return Err(PkiError::Invalid {
                field: "signerInfo.signedAttrs contentType",
                offset: first.offset,
                what: format!("attribute {} differs from eContentType {e_content_type}", signer.content_type),
            });
        }
        Ok(Sod {
            signed_data_version,
            lds_version: lds.version,
            lds_version_info: lds.version_info,
            digest_alg: lds.digest_alg,
            dg_hashes: lds.hashes,
            e_content: octets.value.to_vec(),
            certificates,
            signer,
            signer_count: infos.len(),
        })
    }

    /// The embedded certificate the SignerInfo names.
    pub fn signer_certificate(&self) -> Option<&Certificate> {
        self.certificates.iter().find(|c| self.signer.sid.identifies(c))
    }
}

struct Lds {
    version: u32,
    version_info: Option<(String, String)>,
    digest_alg: DigestAlg,
    hashes: BTreeMap<u8, Vec<u8>>,
}

impl Lds {
    /// LDSSecurityObject ::= SEQUENCE { version, hashAlgorithm, dataGroupHashValues, ldsVersionInfo OPTIONAL }
    fn parse(octets: &Tlv<'_>) -> Result<Lds, PkiError> {
        let mut r: Reader<'_> = octets.children();
        let so = der::take(&mut r, der::SEQUENCE, "ldsSecurityObject")?;
        der::finish(&r, "encapContentInfo.eContent")?;
        let mut r = so.children();
        let vt = der::take(&mut r, der::INTEGER, "ldsSecurityObject.version")?;
        let version = der::small_uint(&vt, "ldsSecurityObject.version")?;
        if version > 1 {
            return Err(bad("ldsSecurityObject.version", &vt, format!("version {version} is not 0 or 1")));
        }
        let digest_alg = digest_alg(&der::take(&mut r, der::SEQUENCE, "ldsSecurityObject.hashAlgorithm")?, "ldsSecurityObject.hashAlgorithm")?;
        let list = der::take(&mut r, der::SEQUENCE, "ldsSecurityObject.dataGroupHashValues")?;
        let mut hashes = BTreeMap::new();
        for h in der::children(&list, "ldsSecurityObject.dataGroupHashValues")? {
            const F: &str = "dataGroupHash";
            if h.tag != der::SEQUENCE {
                return Err(bad(F, &h, format!("expected SEQUENCE, found tag {:02X}", h.tag)));
            }
            let mut hr = h.children();
            let nt = der::take(&mut hr, der::INTEGER, "dataGroupHash.dataGroupNumber")?;
            let n = der::small_uint(&nt, "dataGroupHash.dataGroupNumber")?;
            if !(1..=16).contains(&n) {
                return Err(bad("dataGroupHash.dataGroupNumber", &nt, format!("data group {n} outside 1..=16")));
            }
            let v = der::take(&mut hr, der::OCTET_STRING, "dataGroupHash.dataGroupHashValue")?;
            der::finish(&hr, F)?;
            if v.value.len() != digest_alg.output_len() {
                return Err(bad(
                    "dataGroupHash.dataGroupHashValue",
                    &v,
                    format!("dg{n} hash is {} bytes, {} gives {}", v.value.len(), digest_alg, digest_alg.output_len()),
                ));
            }
            if hashes.insert(n as u8, v.value.to_vec()).is_some() {
                return Err(bad("dataGroupHash.dataGroupNumber", &nt, format!("dg{n} listed twice")));
            }
        }
        if hashes.is_empty() {
            return Err(bad("ldsSecurityObject.dataGroupHashValues", &list, "no data group hashes"));
        }
        let version_info = match der::take_opt(&mut r, der::SEQUENCE, "ldsSecurityObject.ldsVersionInfo")? {
            Some(vi) => {
                let mut vr = vi.children();
                let a = der::take_any(&mut vr, "ldsVersionInfo.ldsVersion")?;
                let b = der::take_any(&mut vr, "ldsVersionInfo.unicodeVersion")?;
                der::finish(&vr, "ldsVersionInfo")?;
                Some((der::directory_string(&a), der::directory_string(&b)))
            }
            None => None,
        };
        der::finish(&r, "ldsSecurityObject")?;
        Ok(Lds { version, version_info, digest_alg, hashes })
    }
}

impl SignerInfo {
    fn parse(t: &Tlv<'_>, root: &[u8]) -> Result<SignerInfo, PkiError> {
        if t.tag != der::SEQUENCE {
            return Err(bad("signerInfo", t, format!("expected SEQUENCE, found tag {:02X}", t.tag)));
        }
        let mut r = t.children();
        let version = der::small_uint(&der::take(&mut r, der::INTEGER, "signerInfo.version")?, "signerInfo.version")?;
        let sid_t = der::take_any(&mut r, "signerInfo.sid")?;
        let sid = match sid_t.tag {
            der::SEQUENCE => {
                let mut sr = sid_t.children();
                let issuer = der::name(&der::take(&mut sr, der::SEQUENCE, "signerInfo.sid.issuer")?, root, "signerInfo.sid.issuer")?;
                let serial = der::integer(&der::take(&mut sr, der::INTEGER, "signerInfo.sid.serialNumber")?, "signerInfo.sid.serialNumber")?;
                der::finish(&sr, "signerInfo.sid")?;
                SignerId::IssuerAndSerial { issuer, serial: serial.to_vec() }
            }
            tag if tag == der::ctx_prim(0) => SignerId::SubjectKeyId(sid_t.value.to_vec()),
            tag => return Err(bad("signerInfo.sid", &sid_t, format!("expected issuerAndSerialNumber or [0] subjectKeyIdentifier, found tag {tag:02X}"))),
        };
        let digest_alg = digest_alg(&der::take(&mut r, der::SEQUENCE, "signerInfo.digestAlgorithm")?, "signerInfo.digestAlgorithm")?;
        let attrs = der::take_opt(&mut r, der::ctx(0), "signerInfo.signedAttrs")?
            .ok_or_else(|| bad("signerInfo.signedAttrs", t, "missing (ICAO 9303 requires signed attributes)"))?;
        let signature_alg = der::algorithm_identifier(&der::take(&mut r, der::SEQUENCE, "signerInfo.signatureAlgorithm")?, "signerInfo.signatureAlgorithm")?;
        let sig = der::take(&mut r, der::OCTET_STRING, "signerInfo.signature")?;
        der::take_opt(&mut r, der::ctx(1), "signerInfo.unsignedAttrs")?;
        der::finish(&r, "signerInfo")?;

        let mut content_type = None;
        let mut message_digest = None;
        let mut signing_time = None;
        for a in der::children(&attrs, "signerInfo.signedAttrs")? {
            const F: &str = "signedAttrs attribute";
            if a.tag != der::SEQUENCE {
                return Err(bad(F, &a, format!("expected Attribute SEQUENCE, found tag {:02X}", a.tag)));
            }
            let mut ar = a.children();
            let ty = der::oid(&der::take(&mut ar, der::OID, "attribute.attrType")?, "attribute.attrType")?;
            let set = der::take(&mut ar, der::SET, "attribute.attrValues")?;
            der::finish(&ar, F)?;
            let values = der::children(&set, "attribute.attrValues")?;
            let single = || match values.as_slice() {
                [v] => Ok(*v),
                _ => Err(bad(F, &a, format!("attribute {ty} must have exactly one value, has {}", values.len()))),
            };
            let dup = |field: &'static str| bad(field, &a, "attribute present twice");
            match ty.as_str() {
                oid::ATTR_CONTENT_TYPE => {
                    let v = single()?;
                    let o = der::oid(&v, "signedAttrs contentType")?;
                    if content_type.replace(o).is_some() {
                        return Err(dup("signedAttrs contentType"));
                    }
                }
                oid::ATTR_MESSAGE_DIGEST => {
                    let v = single()?;
                    if v.tag != der::OCTET_STRING {
                        return Err(bad("signedAttrs messageDigest", &v, format!("expected OCTET STRING, found tag {:02X}", v.tag)));
                    }
                    if message_digest.replace(v.value.to_vec()).is_some() {
                        return Err(dup("signedAttrs messageDigest"));
                    }
                }
                oid::ATTR_SIGNING_TIME => {
                    let v = single()?;
                    if signing_time.replace(der::time(&v, "signedAttrs signingTime")?).is_some() {
                        return Err(dup("signedAttrs signingTime"));
                    }
                }
                _ => {}
            }
        }
        let content_type = content_type.ok_or_else(|| bad("signerInfo.signedAttrs", &attrs, "contentType attribute missing"))?;
        let message_digest = message_digest.ok_or_else(|| bad("signerInfo.signedAttrs", &attrs, "messageDigest attribute missing"))?;
        Ok(SignerInfo {
            version,
            sid,
            digest_alg,
            signature_alg,
            signed_attrs: tlv::encode(der::SET, attrs.value),
            content_type,
            message_digest,
            signing_time,
            signature: sig.value.to_vec(),
        })
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

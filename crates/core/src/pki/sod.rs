//! EF.SOD (ICAO 9303 Part 10 section 4.6.2): tag 77 wrapping a CMS ContentInfo / SignedData
//! (RFC 5652) whose encapsulated content is the LDSSecurityObject with one hash per data group.
//! This module owns parsing that structure from untrusted bytes into [`Sod`]: the CMS envelope is
//! read by [`super::cms`] (BER normalised to DER by [`super::ber`], each field decoded by `cms` /
//! `x509-cert` / `spki` / `der` and named in errors), the LDSSecurityObject here; it checks shape
//! and internal consistency only. Whether the hashes, signature and certificates hold is
//! [`super::passive_authentication`]'s business.

use std::collections::BTreeMap;

use ::der::asn1::{Any, ObjectIdentifier, OctetString};
use ::der::Decode;
use spki::AlgorithmIdentifierOwned;

use super::alg::DigestAlg;
use super::ber;
use super::cert::Certificate;
use super::cms::{self, Profile, SignatureFailure, SignedData};
use super::der::{self, Raw};
use super::PkiError;
use crate::tlv;

pub use super::cms::{SignerId, SignerInfo};

/// The ldsSecurityObject content type (ICAO 9303 Part 10).
const LDS_SECURITY_OBJECT: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.23.136.1.1.1");
/// CMS id-data (RFC 5652 section 4), the eContentType some issuers use for the LDSSecurityObject.
const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");

/// The EF.SOD file tag.
pub const TAG_SOD: tlv::Tag = 0x77;

/// EF.SOD as a CMS SignedData file.
const PROFILE: Profile = Profile {
    file: "ef.sod",
    ber_field: "ef.sod ber encoding",
    wrapper: Some(0x77),
    content_type: LDS_SECURITY_OBJECT,
    // Decision: id-data is accepted beside ldsSecurityObject. Issued Chinese passports carry it
    // (fixtures/interop gmrtd-sod/cn.sod.bin; gmrtd accepts it for CN, OpenSSL verifies it); the
    // content must still be an LDSSecurityObject and the contentType attribute must still equal
    // the eContentType, so nothing weaker is signed.
    also_content_type: Some(ID_DATA),
    content_name: "ldsSecurityObject",
};

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

impl Sod {
    /// Parse EF.SOD bytes: the tag-77 file as read from the chip (a bare ContentInfo SEQUENCE is
    /// accepted too), DER or BER ([`super::ber`] normalises BER first). Error offsets are offsets
    /// in `bytes` when it is DER, in its DER normalisation otherwise. The CMS envelope is
    /// [`super::cms`]'s; this reads the LDSSecurityObject inside it.
    pub fn parse(bytes: &[u8]) -> Result<Sod, PkiError> {
        let (sd, lds) = SignedData::parse_with(bytes, &PROFILE, Lds::parse)?;
        Ok(Sod {
            signed_data_version: sd.version,
            lds_version: lds.version,
            lds_version_info: lds.version_info,
            digest_alg: lds.digest_alg,
            dg_hashes: lds.hashes,
            e_content: sd.e_content,
            certificates: sd.certificates,
            signer: sd.signer,
            signer_count: sd.signer_count,
        })
    }

    /// The embedded certificate the SignerInfo names.
    pub fn signer_certificate(&self) -> Option<&Certificate> {
        self.certificates.iter().find(|c| self.signer.sid.identifies(c))
    }

    /// The CMS signature without any trust decision ([`cms::verify_signer`]): messageDigest over
    /// the LDSSecurityObject, the signature with the embedded document signer certificate.
    pub fn verify_signer(&self) -> Result<&Certificate, SignatureFailure> {
        cms::verify_signer(&self.signer, &self.e_content, &self.certificates)
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
        // DER first; the BER normaliser only when the strict decode fails.
        let so = match LdsSecurityObject::from_der(octets.content) {
            Ok(so) => so,
            Err(strict) => match ber::to_der(octets.content) {
                Ok(d) if d != octets.content => LdsSecurityObject::from_der(&d).map_err(|e| der::der_error(F, at, at, e))?,
                _ => return Err(der::der_error(F, at, at, strict)),
            },
        };
        if so.version > 1 {
            return Err(invalid("ldsSecurityObject.version", at, format!("version {} is not 0 or 1", so.version)));
        }
        let digest_alg = cms::digest_alg(&so.hash_algorithm, "ldsSecurityObject.hashAlgorithm", at)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::alg::oid;
    use crate::pki::testutil::sample_sod;
    use proptest::prelude::*;

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

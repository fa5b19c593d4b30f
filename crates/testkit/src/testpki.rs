//! A deterministic test PKI and EF.SOD writer for the project's own chip images (personalisation
//! and fixtures): a self-signed CSCA and a document signer (DS) certificate issued by it, both
//! ECDSA P-256 with SHA-256 (RFC 6979 deterministic signatures), keys drawn from a ChaCha20 RNG
//! seeded with the given seed, so the same seed always gives byte-identical certificates and SODs.
//! This module owns writing X.509 and CMS (the `x509-cert` / `cms` / `der` types, encoded with
//! `der::Encode`); it is for test documents only, never for real ones.

use std::fmt;
use std::path::Path;

use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use time::macros::datetime;
use time::OffsetDateTime;

use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos};
use const_oid::db::rfc4519::{COMMON_NAME, COUNTRY_NAME, ORGANIZATION_NAME};
use const_oid::db::rfc5280::{ID_CE_BASIC_CONSTRAINTS, ID_CE_CRL_NUMBER, ID_CE_KEY_USAGE};
use const_oid::db::rfc5911::{ID_CONTENT_TYPE, ID_MESSAGE_DIGEST, ID_SIGNED_DATA, ID_SIGNING_TIME};
use const_oid::db::rfc5912::{ECDSA_WITH_SHA_256, ID_EC_PUBLIC_KEY, SECP_256_R_1};
use der::asn1::{Any, BitString, GeneralizedTime, ObjectIdentifier, OctetString, SetOfVec, Uint, UtcTime};
use der::{Decode, Encode, Tag};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::attr::{Attribute, AttributeTypeAndValue};
use x509_cert::certificate::{TbsCertificate, Version};
use x509_cert::crl::{CertificateList, RevokedCert, TbsCertList};
use x509_cert::ext::pkix::{BasicConstraints, CrlNumber};
pub use x509_cert::ext::pkix::{KeyUsage, KeyUsages};
use x509_cert::ext::Extension;
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};
use x509_cert::Certificate as X509Certificate;

use idcheck_core::pki::alg::DigestAlg;
use idcheck_core::pki::cert::Certificate;
use idcheck_core::pki::sod::{DataGroupHash, LdsSecurityObject};
use idcheck_core::pki::trust::{pem_blocks, pem_encode, read_certificates, TrustStore};
use idcheck_core::pki::PkiError;
use idcheck_core::tlv;

/// The ldsSecurityObject content type (ICAO 9303 Part 10).
const LDS_SECURITY_OBJECT: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.23.136.1.1.1");

/// An OID of the crate's digest table (always valid dotted text).
fn oid_of(dotted: &str) -> ObjectIdentifier {
    match ObjectIdentifier::new(dotted) {
        Ok(o) => o,
        Err(e) => unreachable!("digest oid {dotted}: {e}"),
    }
}

/// Mixed into the seed of a rolled-over CSCA key.
const ROLLOVER_SALT: u64 = 0x5EED_0011_0E55_0002;

/// A document signer certificate's rule-relevant fields, for [`TestPki::with_ds_profile`].
#[derive(Debug, Clone)]
pub struct DsProfile {
    /// keyUsage (absent when `None`).
    pub key_usage: Option<KeyUsage>,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
}

impl Default for DsProfile {
    /// What [`TestPki::generate`] issues: keyUsage digitalSignature, valid 2020..2040.
    fn default() -> Self {
        DsProfile {
            key_usage: Some(KeyUsage(KeyUsages::DigitalSignature.into())),
            not_before: datetime!(2020-01-01 00:00:00 UTC),
            not_after: datetime!(2040-12-31 00:00:00 UTC),
        }
    }
}

/// Mixed into the seed of the key that forges DS certificates, so it never equals a CSCA key.
const FORGER_SALT: u64 = 0x5EED_F0E6_D5C3_0001;

/// Mixed into the seed of a master list signer's key.
const ML_SIGNER_SALT: u64 = 0x5EED_0011_5A1C_0002;

/// The id-icao-cscaMasterList content type (ICAO 9303 Part 12).
const CSCA_MASTER_LIST: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.23.136.1.1.2");

/// Organisation name in every test certificate.
pub const TEST_ORGANISATION: &str = "idcheck test PKI";

/// A CSCA and a document signer with its private key.
pub struct TestPki {
    pub csca: Certificate,
    pub ds: Certificate,
    ds_key: SigningKey,
    /// Present when generated; `load_dir` has only the DS key (the CSCA key is never saved: the
    /// same seed regenerates it).
    csca_key: Option<SigningKey>,
}

impl fmt::Debug for TestPki {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestPki")
            .field("csca", &self.csca.subject.text)
            .field("ds", &self.ds.subject.text)
            .field("keys", &"REDACTED")
            .finish()
    }
}

fn key_point(key: &SigningKey) -> Vec<u8> {
    key.verifying_key().to_encoded_point(false).as_bytes().to_vec()
}

/// Encoding our own well-formed values; a failure is a bug in this file, caught by its tests.
fn must<T>(r: der::Result<T>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => unreachable!("encoding a test PKI value: {e}"),
    }
}

fn alg(o: ObjectIdentifier) -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned { oid: o, parameters: None }
}

fn spki(key: &SigningKey) -> SubjectPublicKeyInfoOwned {
    SubjectPublicKeyInfoOwned {
        algorithm: AlgorithmIdentifierOwned { oid: ID_EC_PUBLIC_KEY, parameters: Some(Any::from(SECP_256_R_1)) },
        subject_public_key: must(BitString::from_bytes(&key_point(key))),
    }
}

fn extension(id: ObjectIdentifier, critical: bool, value: &impl Encode) -> Extension {
    Extension { extn_id: id, critical, extn_value: must(OctetString::new(must(value.to_der()))) }
}

/// A positive serial number of 8 random bytes.
fn serial(rng: &mut ChaCha20Rng) -> Vec<u8> {
    let mut s = [0u8; 8];
    rng.fill_bytes(&mut s);
    s[0] = (s[0] & 0x7F) | 0x01;
    s.to_vec()
}

fn sign(key: &SigningKey, msg: &[u8]) -> Vec<u8> {
    let sig: Signature = key.sign(msg);
    sig.to_der().as_bytes().to_vec()
}

/// UTCTime for 1950..=2049, GeneralizedTime otherwise (RFC 5280 section 4.1.2.5); times before
/// 1970 (which `der` cannot write) are written as 1970-01-01.
fn x509_time(t: OffsetDateTime) -> Time {
    let d = std::time::Duration::from_secs(u64::try_from(t.unix_timestamp()).unwrap_or(0));
    if t.year() <= 2049 {
        Time::UtcTime(must(UtcTime::from_unix_duration(d)))
    } else {
        Time::GeneralTime(must(GeneralizedTime::from_unix_duration(d)))
    }
}

/// The serial number from its INTEGER content octets (or magnitude bytes).
fn serial_number(bytes: &[u8]) -> SerialNumber {
    let magnitude = bytes.iter().position(|&b| b != 0).and_then(|p| bytes.get(p..)).unwrap_or(&[0]);
    must(SerialNumber::new(magnitude))
}

struct CertSpec<'a> {
    serial: &'a [u8],
    issuer: &'a Name,
    subject: &'a Name,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    subject_key: &'a SigningKey,
    extensions: Vec<Extension>,
}

/// An X.509 v3 certificate, ECDSA-with-SHA256 signed by `signer`.
fn issue(spec: &CertSpec<'_>, signer: &SigningKey) -> Vec<u8> {
    let tbs = TbsCertificate {
        version: Version::V3,
        serial_number: serial_number(spec.serial),
        signature: alg(ECDSA_WITH_SHA_256),
        issuer: spec.issuer.clone(),
        validity: Validity { not_before: x509_time(spec.not_before), not_after: x509_time(spec.not_after) },
        subject: spec.subject.clone(),
        subject_public_key_info: spki(spec.subject_key),
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: Some(spec.extensions.clone()),
    };
    let sig = sign(signer, &must(tbs.to_der()));
    let cert = X509Certificate { tbs_certificate: tbs, signature_algorithm: alg(ECDSA_WITH_SHA_256), signature: must(BitString::from_bytes(&sig)) };
    must(cert.to_der())
}

/// A Name of one attribute per RDN; countryName as PrintableString when printable, everything
/// else UTF8String.
fn name(attrs: &[(ObjectIdentifier, &str)]) -> Name {
    let printable = |s: &str| s.bytes().all(|b| b.is_ascii_alphanumeric() || b" '()+,-./:=?".contains(&b));
    let rdns = attrs
        .iter()
        .map(|(ty, val)| {
            let tag = if *ty == COUNTRY_NAME && printable(val) { Tag::PrintableString } else { Tag::Utf8String };
            let atv = AttributeTypeAndValue { oid: *ty, value: must(Any::new(tag, val.as_bytes())) };
            RelativeDistinguishedName(must(SetOfVec::try_from(vec![atv])))
        })
        .collect();
    RdnSequence(rdns)
}

fn csca_name(country: &str, seed: u64) -> Name {
    name(&[(COUNTRY_NAME, country), (ORGANIZATION_NAME, TEST_ORGANISATION), (COMMON_NAME, &format!("idcheck test CSCA {country} {seed}"))])
}

fn ds_name(country: &str, seed: u64) -> Name {
    name(&[(COUNTRY_NAME, country), (ORGANIZATION_NAME, TEST_ORGANISATION), (COMMON_NAME, &format!("idcheck test document signer {country} {seed}"))])
}

fn ca_extensions() -> Vec<Extension> {
    vec![
        extension(ID_CE_BASIC_CONSTRAINTS, true, &BasicConstraints { ca: true, path_len_constraint: Some(0) }),
        extension(ID_CE_KEY_USAGE, true, &KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign)),
    ]
}

fn ds_extensions() -> Vec<Extension> {
    vec![extension(ID_CE_KEY_USAGE, true, &KeyUsage(KeyUsages::DigitalSignature.into()))]
}

/// A Name read back from its encoding (our own certificates' names).
fn name_of(raw: &[u8]) -> Name {
    must(Name::from_der(raw))
}

/// Our own encoder's output; failing to parse it is a bug in this file, caught by its tests.
fn own(der: &[u8]) -> Certificate {
    match Certificate::parse(der) {
        Ok(c) => c,
        Err(e) => unreachable!("self-built certificate does not parse: {e}"),
    }
}

fn attribute(o: ObjectIdentifier, value: Any) -> Attribute {
    Attribute { oid: o, values: must(SetOfVec::try_from(vec![value])) }
}

/// A CMS ContentInfo / SignedData v3 over `content` of type `content_type`: signed attributes
/// contentType, signingTime and messageDigest (SHA-256), ECDSA-with-SHA256 by `key`, the signer
/// named by issuerAndSerialNumber and its certificate embedded when `embed`.
fn signed_data(
    content_type: ObjectIdentifier,
    content: Vec<u8>,
    signer: &Certificate,
    key: &SigningKey,
    signing_time: OffsetDateTime,
    embed: bool,
) -> Vec<u8> {
    let signer_digest = DigestAlg::Sha256;
    let attrs: SetOfVec<Attribute> = must(SetOfVec::try_from(vec![
        attribute(ID_CONTENT_TYPE, Any::from(content_type)),
        attribute(ID_SIGNING_TIME, must(Any::encode_from(&x509_time(signing_time)))),
        attribute(ID_MESSAGE_DIGEST, must(Any::encode_from(&must(OctetString::new(signer_digest.digest(&content)))))),
    ]));
    // Signed as the DER SET OF; carried as [0] IMPLICIT.
    let signature = sign(key, &must(attrs.to_der()));
    let signer_info = SignerInfo {
        version: CmsVersion::V1,
        sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: name_of(&signer.issuer.raw),
            serial_number: serial_number(&signer.serial),
        }),
        digest_alg: alg(oid_of(signer_digest.oid())),
        signed_attrs: Some(attrs),
        signature_algorithm: alg(ECDSA_WITH_SHA_256),
        signature: must(OctetString::new(signature)),
        unsigned_attrs: None,
    };
    let certificates = embed.then(|| {
        let cert = must(X509Certificate::from_der(&signer.der));
        CertificateSet(must(SetOfVec::try_from(vec![CertificateChoices::Certificate(cert)])))
    });
    let signed_data = SignedData {
        version: CmsVersion::V3,
        digest_algorithms: must(SetOfVec::try_from(vec![alg(oid_of(signer_digest.oid()))])),
        encap_content_info: EncapsulatedContentInfo { econtent_type: content_type, econtent: Some(must(Any::encode_from(&must(OctetString::new(content))))) },
        certificates,
        crls: None,
        signer_infos: SignerInfos(must(SetOfVec::try_from(vec![signer_info]))),
    };
    let content_info = ContentInfo { content_type: ID_SIGNED_DATA, content: must(Any::encode_from(&signed_data)) };
    must(content_info.to_der())
}

impl TestPki {
    /// Generate the CSCA and DS for `country` from `seed`. `country` is written as given into
    /// countryName (X.509 and ICAO expect ISO 3166-1 alpha-2, e.g. "CN"; PrintableString when
    /// printable, else UTF8String). Names carry the seed, so PKIs of different seeds never share a CSCA name.
    /// CSCA valid 2015-01-01 .. 2045-12-31, DS valid 2020-01-01 .. 2040-12-31 (UTC).
    pub fn generate(seed: u64, country: &str) -> TestPki {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let csca_key = SigningKey::random(&mut rng);
        let ds_key = SigningKey::random(&mut rng);
        let csca_serial = serial(&mut rng);
        let ds_serial = serial(&mut rng);
        let csca_n = csca_name(country, seed);
        let csca_der = issue(
            &CertSpec {
                serial: &csca_serial,
                issuer: &csca_n,
                subject: &csca_n,
                not_before: datetime!(2015-01-01 00:00:00 UTC),
                not_after: datetime!(2045-12-31 00:00:00 UTC),
                subject_key: &csca_key,
                extensions: ca_extensions(),
            },
            &csca_key,
        );
        let ds_der = issue(
            &CertSpec {
                serial: &ds_serial,
                issuer: &csca_n,
                subject: &ds_name(country, seed),
                not_before: datetime!(2020-01-01 00:00:00 UTC),
                not_after: datetime!(2040-12-31 00:00:00 UTC),
                subject_key: &ds_key,
                extensions: ds_extensions(),
            },
            &csca_key,
        );
        TestPki { csca: own(&csca_der), ds: own(&ds_der), ds_key, csca_key: Some(csca_key) }
    }

    /// A copy whose DS certificate names this CSCA as issuer (same serial, subject, key) but is
    /// signed by an unrelated key drawn from `seed`: for negative fixtures (the DS certificate
    /// signature does not verify).
    pub fn with_forged_ds(&self, seed: u64) -> TestPki {
        let rogue = SigningKey::random(&mut ChaCha20Rng::seed_from_u64(seed ^ FORGER_SALT));
        let ds_der = issue(
            &CertSpec {
                serial: &self.ds.serial,
                issuer: &name_of(&self.ds.issuer.raw),
                subject: &name_of(&self.ds.subject.raw),
                not_before: self.ds.not_before,
                not_after: self.ds.not_after,
                subject_key: &self.ds_key,
                extensions: ds_extensions(),
            },
            &rogue,
        );
        TestPki { csca: self.csca.clone(), ds: own(&ds_der), ds_key: self.ds_key.clone(), csca_key: self.csca_key.clone() }
    }

    /// A trust store holding this CSCA only.
    pub fn trust_store(&self) -> TrustStore {
        TrustStore::from_certs([self.csca.clone()])
    }

    /// Write `csca.pem`, `csca.der`, `ds.pem` and `ds.key` (PKCS#8 PEM, mode 0600) into `dir`,
    /// creating it. A directory holding these is also a valid trust directory for `csca.*`, but
    /// note `ds.pem` would then be trusted too; point trust stores at a copy of `csca.pem`.
    pub fn save_dir(&self, dir: &Path) -> Result<(), PkiError> {
        let io = |path: &Path, e: std::io::Error| PkiError::File { path: path.to_path_buf(), what: e.to_string() };
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        let write = |name: &str, bytes: &[u8]| {
            let p = dir.join(name);
            std::fs::write(&p, bytes).map_err(|e| io(&p, e))
        };
        write("csca.pem", pem_encode("CERTIFICATE", &self.csca.der).as_bytes())?;
        write("csca.der", &self.csca.der)?;
        write("ds.pem", pem_encode("CERTIFICATE", &self.ds.der).as_bytes())?;
        let key_path = dir.join("ds.key");
        let pem = self
            .ds_key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| PkiError::File { path: key_path.clone(), what: format!("encoding the private key: {e}") })?;
        write_private(&key_path, pem.as_bytes()).map_err(|e| io(&key_path, e))
    }

    /// Read a directory written by [`TestPki::save_dir`] (`csca.pem` or `csca.der`, `ds.pem`,
    /// `ds.key` as PKCS#8 PEM or DER); checks that the key belongs to the DS certificate and that
    /// the CSCA issued it. The result can sign SODs but not issue certificates.
    pub fn load_dir(dir: &Path) -> Result<TestPki, PkiError> {
        let read = |name: &str| {
            let p = dir.join(name);
            std::fs::read(&p).map_err(|e| PkiError::File { path: p, what: e.to_string() })
        };
        let first = |name: &str| -> Result<Certificate, PkiError> {
            let p = dir.join(name);
            let certs = read_certificates(&read(name)?).map_err(|e| e.in_file(&p))?;
            certs.into_iter().next().ok_or(PkiError::File { path: p, what: "no certificate".into() })
        };
        let csca = if dir.join("csca.pem").exists() { first("csca.pem")? } else { first("csca.der")? };
        let ds = first("ds.pem")?;
        let key_path = dir.join("ds.key");
        let key_bytes = read("ds.key")?;
        let key_err = |what: String| PkiError::File { path: key_path.clone(), what };
        let ds_key = if key_bytes.starts_with(b"-----") {
            let text = std::str::from_utf8(&key_bytes).map_err(|e| key_err(format!("not text: {e}")))?;
            let der = pem_blocks(text)
                .map_err(|e| e.clone().in_file(&key_path))?
                .into_iter()
                .find(|(label, _)| label == "PRIVATE KEY")
                .ok_or_else(|| key_err("no PRIVATE KEY block".into()))?
                .1;
            SigningKey::from_pkcs8_der(&der)
        } else {
            SigningKey::from_pkcs8_der(&key_bytes)
        }
        .map_err(|e| key_err(format!("not a PKCS#8 P-256 private key: {e}")))?;
        if key_point(&ds_key) != ds.public_key.key {
            return Err(key_err("private key does not belong to ds.pem".into()));
        }
        ds.verify_signed_by(&csca)
            .map_err(|e| PkiError::File { path: dir.join("ds.pem"), what: format!("not issued by the csca: {e}") })?;
        Ok(TestPki { csca, ds, ds_key, csca_key: None })
    }

    /// A complete EF.SOD (tag 77): CMS SignedData v3 over an LDSSecurityObject v0 holding the
    /// `digest` hash of each data group (numbers 1..=16, sorted), signed attributes contentType,
    /// signingTime and messageDigest (SHA-256), signature ECDSA-with-SHA256 by the DS key, the DS
    /// certificate embedded and named by issuerAndSerialNumber.
    pub fn sign_sod(&self, digest: DigestAlg, dgs: &[(u8, &[u8])], signing_time: OffsetDateTime) -> Vec<u8> {
        // One entry per number, ascending (a repeated number keeps its last data).
        let sorted: std::collections::BTreeMap<u8, &[u8]> = dgs.iter().copied().collect();
        let lds = LdsSecurityObject {
            version: 0,
            hash_algorithm: alg(oid_of(digest.oid())),
            data_group_hash_values: sorted
                .iter()
                .map(|(n, data)| DataGroupHash { data_group_number: *n, data_group_hash_value: must(OctetString::new(digest.digest(data))) })
                .collect(),
            lds_version_info: None,
        };
        let lds = must(lds.to_der());

        let content_info = signed_data(LDS_SECURITY_OBJECT, lds, &self.ds, &self.ds_key, signing_time, true);
        tlv::encode(idcheck_core::pki::sod::TAG_SOD, &content_info)
    }

    /// A v2 CRL of this CSCA (ECDSA-with-SHA256, cRLNumber `number`) revoking the certificates of
    /// the given serial numbers (INTEGER content octets) on the given dates; `None` when the CSCA
    /// key is absent (a loaded PKI).
    pub fn issue_crl(
        &self,
        revoked: &[(&[u8], OffsetDateTime)],
        this_update: OffsetDateTime,
        next_update: OffsetDateTime,
        number: u32,
    ) -> Option<Vec<u8>> {
        let key = self.csca_key.as_ref()?;
        let entries: Vec<RevokedCert> = revoked
            .iter()
            .map(|(serial, date)| RevokedCert { serial_number: serial_number(serial), revocation_date: x509_time(*date), crl_entry_extensions: None })
            .collect();
        let tbs = TbsCertList {
            version: Version::V2,
            signature: alg(ECDSA_WITH_SHA_256),
            issuer: name_of(&self.csca.subject.raw),
            this_update: x509_time(this_update),
            next_update: Some(x509_time(next_update)),
            revoked_certificates: if entries.is_empty() { None } else { Some(entries) },
            crl_extensions: Some(vec![extension(ID_CE_CRL_NUMBER, false, &CrlNumber(must(Uint::new(&number.to_be_bytes()))))]),
        };
        let sig = sign(key, &must(tbs.to_der()));
        let crl = CertificateList { tbs_cert_list: tbs, signature_algorithm: alg(ECDSA_WITH_SHA_256), signature: must(BitString::from_bytes(&sig)) };
        Some(must(crl.to_der()))
    }

    /// A copy whose DS certificate is re-issued by this CSCA with `profile` (same DS key and
    /// subject, a fresh serial drawn from `seed`): DS certificates that break a chain rule, for
    /// negative tests. `None` when the CSCA key is absent (a loaded PKI).
    pub fn with_ds_profile(&self, seed: u64, profile: &DsProfile) -> Option<TestPki> {
        let key = self.csca_key.as_ref()?;
        let ds_serial = serial(&mut ChaCha20Rng::seed_from_u64(seed));
        let extensions = match profile.key_usage {
            Some(ku) => vec![extension(ID_CE_KEY_USAGE, true, &ku)],
            None => Vec::new(),
        };
        let ds_der = issue(
            &CertSpec {
                serial: &ds_serial,
                issuer: &name_of(&self.csca.subject.raw),
                subject: &name_of(&self.ds.subject.raw),
                not_before: profile.not_before,
                not_after: profile.not_after,
                subject_key: &self.ds_key,
                extensions,
            },
            key,
        );
        Some(TestPki { csca: self.csca.clone(), ds: own(&ds_der), ds_key: self.ds_key.clone(), csca_key: self.csca_key.clone() })
    }

    /// A copy whose CSCA certificate is re-issued (self-signed, same key, name and serial) with
    /// `ca` as basicConstraints cA and `key_usage` as keyUsage; the DS is unchanged (its
    /// signature still verifies with the same key). `None` without the CSCA key.
    pub fn with_csca_profile(&self, ca: bool, key_usage: Option<KeyUsage>) -> Option<TestPki> {
        let key = self.csca_key.as_ref()?;
        let n = name_of(&self.csca.subject.raw);
        let mut extensions = vec![extension(ID_CE_BASIC_CONSTRAINTS, true, &BasicConstraints { ca, path_len_constraint: None })];
        if let Some(ku) = key_usage {
            extensions.push(extension(ID_CE_KEY_USAGE, true, &ku));
        }
        let der = issue(
            &CertSpec {
                serial: &self.csca.serial,
                issuer: &n,
                subject: &n,
                not_before: self.csca.not_before,
                not_after: self.csca.not_after,
                subject_key: key,
                extensions,
            },
            key,
        );
        Some(TestPki { csca: own(&der), ds: self.ds.clone(), ds_key: self.ds_key.clone(), csca_key: self.csca_key.clone() })
    }

    /// A CSCA key rollover (ICAO 9303-12 section 5.5.1): a new CSCA key of the same name drawn
    /// from `seed`, its self-signed certificate, the link certificate (the new key, signed by this
    /// CSCA's key), and a new DS issued by the new key. Returns (the new PKI, the link
    /// certificate). `None` without the CSCA key.
    pub fn rolled_over(&self, seed: u64) -> Option<(TestPki, Certificate)> {
        let old_key = self.csca_key.as_ref()?;
        let mut rng = ChaCha20Rng::seed_from_u64(seed ^ ROLLOVER_SALT);
        let new_key = SigningKey::random(&mut rng);
        let ds_key = SigningKey::random(&mut rng);
        let n = name_of(&self.csca.subject.raw);
        let new_serial = serial(&mut rng);
        let link_serial = serial(&mut rng);
        // The new key's certificate, signed by `signer`: itself (the new CSCA) or the old key (the link).
        let csca_cert = |serial: &[u8], signer: &SigningKey| {
            let spec = CertSpec {
                serial,
                issuer: &n,
                subject: &n,
                not_before: datetime!(2019-01-01 00:00:00 UTC),
                not_after: datetime!(2045-12-31 00:00:00 UTC),
                subject_key: &new_key,
                extensions: ca_extensions(),
            };
            issue(&spec, signer)
        };
        let new_csca = csca_cert(&new_serial, &new_key);
        let link = csca_cert(&link_serial, old_key);
        let ds_der = issue(
            &CertSpec {
                serial: &serial(&mut rng),
                issuer: &n,
                subject: &name_of(&self.ds.subject.raw),
                not_before: datetime!(2020-01-01 00:00:00 UTC),
                not_after: datetime!(2040-12-31 00:00:00 UTC),
                subject_key: &ds_key,
                extensions: ds_extensions(),
            },
            &new_key,
        );
        let pki = TestPki { csca: own(&new_csca), ds: own(&ds_der), ds_key, csca_key: Some(new_key) };
        Some((pki, own(&link)))
    }

    /// A master list signer certificate issued by this CSCA (subject: the CSCA's countryName and
    /// organisation, CN "idcheck test master list signer <seed>"; keyUsage digitalSignature; valid
    /// 2020-01-01 .. 2040-12-31), its key drawn from `seed`; `None` when the CSCA key is absent.
    pub fn master_list_signer(&self, seed: u64) -> Option<MasterListSigner> {
        let csca_key = self.csca_key.as_ref()?;
        let mut rng = ChaCha20Rng::seed_from_u64(seed ^ ML_SIGNER_SALT);
        let key = SigningKey::random(&mut rng);
        let serial = serial(&mut rng);
        let issuer = name_of(&self.csca.subject.raw);
        let mut rdns: Vec<RelativeDistinguishedName> = issuer.0.iter().take(2).cloned().collect();
        rdns.extend(name(&[(COMMON_NAME, &format!("idcheck test master list signer {seed}"))]).0);
        let der = issue(
            &CertSpec {
                serial: &serial,
                issuer: &issuer,
                subject: &RdnSequence(rdns),
                not_before: datetime!(2020-01-01 00:00:00 UTC),
                not_after: datetime!(2040-12-31 00:00:00 UTC),
                subject_key: &key,
                extensions: ds_extensions(),
            },
            csca_key,
        );
        Some(MasterListSigner { cert: own(&der), key })
    }

    /// True when this PKI can issue certificates (generated, not loaded).
    pub fn has_csca_key(&self) -> bool {
        self.csca_key.is_some()
    }
}

/// A master list signer of a test CSCA (see [`TestPki::master_list_signer`]) and its key.
pub struct MasterListSigner {
    pub cert: Certificate,
    key: SigningKey,
}

impl fmt::Debug for MasterListSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterListSigner").field("cert", &self.cert.subject.text).field("key", &"REDACTED").finish()
    }
}

impl MasterListSigner {
    /// A CSCA master list (ICAO 9303 Part 12 section 9): ContentInfo / SignedData v3 over
    /// `CscaMasterList { version 0, certList }` holding `certs` in the order given (DER elements
    /// as they are, so a test can list a malformed one), signed like [`TestPki::sign_sod`] with
    /// this signer's certificate embedded.
    pub fn sign(&self, certs: &[&[u8]], signing_time: OffsetDateTime) -> Vec<u8> {
        self.sign_with(certs, signing_time, true)
    }

    /// [`MasterListSigner::sign`], the signer certificate embedded only when `embed`.
    pub fn sign_with(&self, certs: &[&[u8]], signing_time: OffsetDateTime, embed: bool) -> Vec<u8> {
        let list: Vec<Vec<u8>> = certs.iter().map(|c| c.to_vec()).collect();
        let content = tlv::encode_seq(0x30, &[tlv::encode(0x02, &[0]), tlv::encode_seq(0x31, &list)]);
        signed_data(CSCA_MASTER_LIST, content, &self.cert, &self.key, signing_time, embed)
    }
}

/// Create or replace a file readable by its owner only.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        opts.mode(0o600);
        let mut f = opts.open(path)?;
        // An existing file keeps its mode on open: tighten it.
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        f.write_all(bytes)
    }
    #[cfg(not(unix))]
    {
        opts.open(path)?.write_all(bytes)
    }
}

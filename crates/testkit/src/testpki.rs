//! A deterministic test PKI and EF.SOD writer for the project's own chip images (personalisation
//! and fixtures): a self-signed CSCA and a document signer (DS) certificate issued by it, both
//! ECDSA P-256 with SHA-256 (RFC 6979 deterministic signatures), keys drawn from a ChaCha20 RNG
//! seeded with the given seed, so the same seed always gives byte-identical certificates and SODs.
//! This module owns writing X.509 and CMS; it is for test documents only, never for real ones.

use std::fmt;
use std::path::Path;

use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use time::macros::datetime;
use time::OffsetDateTime;

use idcheck_core::pki::alg::{oid, DigestAlg};
use idcheck_core::pki::cert::Certificate;
use idcheck_core::pki::der::{self, ctx, enc_alg, enc_bits, enc_bool, enc_octets, enc_oid, enc_seq, enc_set_of, enc_small, enc_uint};
use idcheck_core::pki::trust::{pem_blocks, pem_encode, read_certificates, TrustStore};
use idcheck_core::pki::PkiError;
use idcheck_core::tlv;

/// Mixed into the seed of the key that forges DS certificates, so it never equals a CSCA key.
const FORGER_SALT: u64 = 0x5EED_F0E6_D5C3_0001;

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

fn spki(key: &SigningKey) -> Vec<u8> {
    enc_seq(&[enc_seq(&[enc_oid(oid::EC_PUBLIC_KEY), enc_oid(oid::P256)]), enc_bits(0, &key_point(key))])
}

fn extension(id: &str, critical: bool, value: Vec<u8>) -> Vec<u8> {
    if critical {
        enc_seq(&[enc_oid(id), enc_bool(true), enc_octets(&value)])
    } else {
        enc_seq(&[enc_oid(id), enc_octets(&value)])
    }
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

struct CertSpec<'a> {
    serial: &'a [u8],
    issuer: &'a [u8],
    subject: &'a [u8],
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    subject_key: &'a SigningKey,
    extensions: Vec<Vec<u8>>,
}

/// An X.509 v3 certificate, ECDSA-with-SHA256 signed by `signer`.
fn issue(spec: &CertSpec<'_>, signer: &SigningKey) -> Vec<u8> {
    let tbs = enc_seq(&[
        tlv::encode(ctx(0), &enc_small(2)),
        enc_uint(spec.serial),
        enc_alg(oid::ECDSA_SHA256),
        spec.issuer.to_vec(),
        enc_seq(&[der::enc_time(spec.not_before), der::enc_time(spec.not_after)]),
        spec.subject.to_vec(),
        spki(spec.subject_key),
        tlv::encode(ctx(3), &enc_seq(&spec.extensions)),
    ]);
    let sig = sign(signer, &tbs);
    enc_seq(&[tbs, enc_alg(oid::ECDSA_SHA256), enc_bits(0, &sig)])
}

fn csca_name(country: &str, seed: u64) -> Vec<u8> {
    der::enc_name(&[(oid::C, country), (oid::O, TEST_ORGANISATION), (oid::CN, &format!("idcheck test CSCA {country} {seed}"))])
}

fn ds_name(country: &str, seed: u64) -> Vec<u8> {
    der::enc_name(&[(oid::C, country), (oid::O, TEST_ORGANISATION), (oid::CN, &format!("idcheck test document signer {country} {seed}"))])
}

fn ca_extensions() -> Vec<Vec<u8>> {
    vec![
        // basicConstraints: cA TRUE, pathLenConstraint 0
        extension(oid::BASIC_CONSTRAINTS, true, enc_seq(&[enc_bool(true), enc_small(0)])),
        // keyUsage: keyCertSign (5), cRLSign (6)
        extension(oid::KEY_USAGE, true, enc_bits(1, &[0x06])),
    ]
}

fn ds_extensions() -> Vec<Vec<u8>> {
    // keyUsage: digitalSignature (0)
    vec![extension(oid::KEY_USAGE, true, enc_bits(7, &[0x80]))]
}

/// Our own encoder's output; failing to parse it is a bug in this file, caught by its tests.
fn own(der: &[u8]) -> Certificate {
    match Certificate::parse(der) {
        Ok(c) => c,
        Err(e) => unreachable!("self-built certificate does not parse: {e}"),
    }
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
                issuer: &self.ds.issuer.raw,
                subject: &self.ds.subject.raw,
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
        let hashes: Vec<Vec<u8>> =
            sorted.iter().map(|(n, data)| enc_seq(&[enc_small(*n as u32), enc_octets(&digest.digest(data))])).collect();
        let lds = enc_seq(&[enc_small(0), enc_alg(digest.oid()), enc_seq(&hashes)]);

        let signer_digest = DigestAlg::Sha256;
        let mut attrs = [
            enc_seq(&[enc_oid(oid::ATTR_CONTENT_TYPE), enc_set_of(&[enc_oid(oid::LDS_SECURITY_OBJECT)])]),
            enc_seq(&[enc_oid(oid::ATTR_SIGNING_TIME), enc_set_of(&[der::enc_time(signing_time)])]),
            enc_seq(&[enc_oid(oid::ATTR_MESSAGE_DIGEST), enc_set_of(&[enc_octets(&signer_digest.digest(&lds))])]),
        ];
        attrs.sort(); // DER SET OF order
        let content = attrs.concat();
        // Signed as a SET; carried as [0] IMPLICIT.
        let signature = sign(&self.ds_key, &tlv::encode(der::SET, &content));
        let implicit_attrs = tlv::encode(ctx(0), &content);

        let signer_info = enc_seq(&[
            enc_small(1),
            enc_seq(&[self.ds.issuer.raw.clone(), tlv::encode(der::INTEGER, &self.ds.serial)]),
            enc_alg(signer_digest.oid()),
            implicit_attrs,
            enc_alg(oid::ECDSA_SHA256),
            enc_octets(&signature),
        ]);
        let signed_data = enc_seq(&[
            enc_small(3),
            enc_set_of(&[enc_alg(signer_digest.oid())]),
            enc_seq(&[enc_oid(oid::LDS_SECURITY_OBJECT), tlv::encode(ctx(0), &enc_octets(&lds))]),
            tlv::encode(ctx(0), &self.ds.der),
            enc_set_of(&[signer_info]),
        ]);
        let content_info = enc_seq(&[enc_oid(oid::SIGNED_DATA), tlv::encode(ctx(0), &signed_data)]);
        tlv::encode(idcheck_core::pki::sod::TAG_SOD, &content_info)
    }

    /// True when this PKI can issue certificates (generated, not loaded).
    pub fn has_csca_key(&self) -> bool {
        self.csca_key.is_some()
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

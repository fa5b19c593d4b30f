//! Algorithms of passive authentication: the digest algorithms of the LDSSecurityObject and the
//! signer, subject public keys, and signature verification. This module owns mapping OIDs to
//! algorithms and choosing the library that verifies; an OID, curve or parameter set it does not
//! know is reported ([`VerifyError::Unsupported`], [`KeyKind::Unsupported`]), never guessed. It does
//! no curve or RSA arithmetic itself.
//!
//! - ECDSA (X9.62 DER signatures and BSI TR-03111 plain `r || s`, OIDs `0.4.0.127.0.7.1.1.4.1.1` to
//!   `.5`) with SHA-1, SHA-224, SHA-256, SHA-384 and SHA-512 over P-224, P-256, P-384, P-521 and
//!   brainpoolP224r1, P256r1, P320r1, P384r1, P512r1, named by OID or by explicit parameters
//!   (matched to the curve table in [`curves`]). [`ecdsa_backend`] says which library
//!   verifies a combination: `ring` for P-256 and P-384 with SHA-256 or SHA-384 in DER form, and
//!   plain P-256/SHA-256 and P-384/SHA-384 (its suites; uncompressed keys only); the RustCrypto crates `p256`, `p224` (0.13, `ecdsa` 0.16), `p384`, `p521`, `bp256`, `bp384`
//!   (0.14, `ecdsa` 0.17) over the message digest (`PrehashVerifier`; they truncate a longer digest to the
//!   order's bit length); OpenSSL (the `openssl` crate, the system's libssl) for brainpoolP224r1,
//!   P320r1 and P512r1, which no RustCrypto crate covers. A DER signature must be DER (OpenSSL's
//!   parse is followed by a re-encoding that must give the same bytes, as `ECDSA_verify` does); a
//!   plain signature must be exactly twice the order's length.
//! - RSA PKCS#1 v1.5 (SHA-1, SHA-256, SHA-384, SHA-512) and RSASSA-PSS (MGF1 with the same hash,
//!   salt length = hash length, trailer 1; SHA-256, SHA-384, SHA-512) through `ring`, keys of 2048
//!   to 8192 bits. Other PSS parameters, RSA with SHA-224 and other key sizes are unsupported.

use std::fmt;

use ring::signature::{self as rs, UnparsedPublicKey, VerificationAlgorithm};
use sha1::Sha1;
use sha2::{Digest, Sha224, Sha256, Sha384, Sha512};

use super::der::{AlgorithmIdentifier, Oid};
use crate::tlv::{self, Reader};
use curves::CurveParams;
pub use curves::Curve;

/// The curve table and ECParameters matching (a child of this module, so that the module tree of
/// `pki` stays as the parser has it).
#[path = "curves.rs"]
pub mod curves;

pub mod oid {
    //! Object identifiers used by EF.SOD and X.509.
    pub const SHA1: &str = "1.3.14.3.2.26";
    pub const SHA224: &str = "2.16.840.1.101.3.4.2.4";
    pub const SHA256: &str = "2.16.840.1.101.3.4.2.1";
    pub const SHA384: &str = "2.16.840.1.101.3.4.2.2";
    pub const SHA512: &str = "2.16.840.1.101.3.4.2.3";

    pub const EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
    pub use super::curves::oid::{
        BRAINPOOL_P224R1, BRAINPOOL_P256R1, BRAINPOOL_P320R1, BRAINPOOL_P384R1, BRAINPOOL_P512R1, P224, P256, P384, P521,
    };
    pub const ECDSA_SHA1: &str = "1.2.840.10045.4.1";
    pub const ECDSA_SHA224: &str = "1.2.840.10045.4.3.1";
    pub const ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";
    pub const ECDSA_SHA384: &str = "1.2.840.10045.4.3.3";
    pub const ECDSA_SHA512: &str = "1.2.840.10045.4.3.4";
    /// BSI TR-03111 ecdsa-plain-signatures (r || s): `.1` SHA-1 ... `.5` SHA-512.
    pub const ECDSA_PLAIN_PREFIX: &str = "0.4.0.127.0.7.1.1.4.1.";

    pub const RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";
    pub const RSA_SHA1: &str = "1.2.840.113549.1.1.5";
    pub const RSA_PSS: &str = "1.2.840.113549.1.1.10";
    pub const RSA_SHA256: &str = "1.2.840.113549.1.1.11";
    pub const RSA_SHA384: &str = "1.2.840.113549.1.1.12";
    pub const RSA_SHA512: &str = "1.2.840.113549.1.1.13";
    pub const RSA_SHA224: &str = "1.2.840.113549.1.1.14";
    pub const MGF1: &str = "1.2.840.113549.1.1.8";

    pub const SIGNED_DATA: &str = "1.2.840.113549.1.7.2";
    pub const LDS_SECURITY_OBJECT: &str = "2.23.136.1.1.1";
    pub const ATTR_CONTENT_TYPE: &str = "1.2.840.113549.1.9.3";
    pub const ATTR_MESSAGE_DIGEST: &str = "1.2.840.113549.1.9.4";
    pub const ATTR_SIGNING_TIME: &str = "1.2.840.113549.1.9.5";

    pub const CN: &str = "2.5.4.3";
    pub const C: &str = "2.5.4.6";
    pub const O: &str = "2.5.4.10";
    pub const SUBJECT_KEY_ID: &str = "2.5.29.14";
    pub const KEY_USAGE: &str = "2.5.29.15";
    pub const BASIC_CONSTRAINTS: &str = "2.5.29.19";
    pub const AUTHORITY_KEY_ID: &str = "2.5.29.35";
}

/// A hash algorithm named by an LDSSecurityObject or a SignerInfo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DigestAlg {
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

impl DigestAlg {
    pub const ALL: [DigestAlg; 5] = [DigestAlg::Sha1, DigestAlg::Sha224, DigestAlg::Sha256, DigestAlg::Sha384, DigestAlg::Sha512];

    pub fn from_oid(o: &str) -> Option<DigestAlg> {
        DigestAlg::ALL.into_iter().find(|d| d.oid() == o)
    }

    pub fn oid(self) -> &'static str {
        match self {
            DigestAlg::Sha1 => oid::SHA1,
            DigestAlg::Sha224 => oid::SHA224,
            DigestAlg::Sha256 => oid::SHA256,
            DigestAlg::Sha384 => oid::SHA384,
            DigestAlg::Sha512 => oid::SHA512,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            DigestAlg::Sha1 => "sha-1",
            DigestAlg::Sha224 => "sha-224",
            DigestAlg::Sha256 => "sha-256",
            DigestAlg::Sha384 => "sha-384",
            DigestAlg::Sha512 => "sha-512",
        }
    }

    pub fn output_len(self) -> usize {
        match self {
            DigestAlg::Sha1 => 20,
            DigestAlg::Sha224 => 28,
            DigestAlg::Sha256 => 32,
            DigestAlg::Sha384 => 48,
            DigestAlg::Sha512 => 64,
        }
    }

    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            DigestAlg::Sha1 => Sha1::digest(data).to_vec(),
            DigestAlg::Sha224 => Sha224::digest(data).to_vec(),
            DigestAlg::Sha256 => Sha256::digest(data).to_vec(),
            DigestAlg::Sha384 => Sha384::digest(data).to_vec(),
            DigestAlg::Sha512 => Sha512::digest(data).to_vec(),
        }
    }
}

impl fmt::Display for DigestAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a SubjectPublicKeyInfo holds, as far as verification is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyKind {
    EcP224,
    EcP256,
    EcP384,
    EcP521,
    EcBrainpoolP224r1,
    EcBrainpoolP256r1,
    EcBrainpoolP320r1,
    EcBrainpoolP384r1,
    EcBrainpoolP512r1,
    Rsa,
    /// A key algorithm, curve or curve parameters this crate does not verify with (DSA, secp256k1,
    /// implicitlyCA, explicit parameters of no known curve, ...): what to report.
    Unsupported(String),
}

impl KeyKind {
    /// The kind of an EC key on `curve`.
    pub fn ec(curve: Curve) -> KeyKind {
        match curve {
            Curve::P224 => KeyKind::EcP224,
            Curve::P256 => KeyKind::EcP256,
            Curve::P384 => KeyKind::EcP384,
            Curve::P521 => KeyKind::EcP521,
            Curve::BrainpoolP224r1 => KeyKind::EcBrainpoolP224r1,
            Curve::BrainpoolP256r1 => KeyKind::EcBrainpoolP256r1,
            Curve::BrainpoolP320r1 => KeyKind::EcBrainpoolP320r1,
            Curve::BrainpoolP384r1 => KeyKind::EcBrainpoolP384r1,
            Curve::BrainpoolP512r1 => KeyKind::EcBrainpoolP512r1,
        }
    }

    /// The curve of an EC key.
    pub fn curve(&self) -> Option<Curve> {
        Some(match self {
            KeyKind::EcP224 => Curve::P224,
            KeyKind::EcP256 => Curve::P256,
            KeyKind::EcP384 => Curve::P384,
            KeyKind::EcP521 => Curve::P521,
            KeyKind::EcBrainpoolP224r1 => Curve::BrainpoolP224r1,
            KeyKind::EcBrainpoolP256r1 => Curve::BrainpoolP256r1,
            KeyKind::EcBrainpoolP320r1 => Curve::BrainpoolP320r1,
            KeyKind::EcBrainpoolP384r1 => Curve::BrainpoolP384r1,
            KeyKind::EcBrainpoolP512r1 => Curve::BrainpoolP512r1,
            KeyKind::Rsa | KeyKind::Unsupported(_) => return None,
        })
    }
}

/// A SubjectPublicKeyInfo.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    pub algorithm: AlgorithmIdentifier,
    /// The curve of an EC key: its named-curve OID, or the OID of the curve its explicit
    /// parameters match (`explicit_curve` is then true); an unsupported named curve's OID too.
    pub curve: Option<Oid>,
    pub kind: KeyKind,
    /// The subjectPublicKey bits: an uncompressed or compressed point (EC) or an RSAPublicKey (RSA).
    pub key: Vec<u8>,
    /// The EC key carried explicit curve parameters (matched to `curve`), not a named curve.
    pub explicit_curve: bool,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let explicit = if self.explicit_curve { ", explicit parameters" } else { "" };
        write!(f, "PublicKey({:?}{explicit}, {} bytes)", self.kind, self.key.len())
    }
}

impl PublicKey {
    pub fn from_parts(algorithm: AlgorithmIdentifier, key: Vec<u8>) -> PublicKey {
        if algorithm.oid != oid::EC_PUBLIC_KEY {
            let kind = if algorithm.oid == oid::RSA_ENCRYPTION { KeyKind::Rsa } else { KeyKind::Unsupported(algorithm.oid.to_string()) };
            return PublicKey { algorithm, curve: None, kind, key, explicit_curve: false };
        }
        let (curve, kind, explicit_curve) = match curves::ec_params(algorithm.params.as_deref()) {
            Ok(cp) => {
                let c = cp.curve();
                (Oid::from_content(&curves::oid_content(c.oid())), KeyKind::ec(c), matches!(cp, CurveParams::Explicit(_)))
            }
            Err(what) => {
                // An unsupported named curve keeps its OID.
                let named = algorithm
                    .params
                    .as_deref()
                    .and_then(|p| tlv::parse_single(p, TAG_OID).ok())
                    .and_then(|t| Oid::from_content(t.value));
                (named, KeyKind::Unsupported(what), false)
            }
        };
        PublicKey { algorithm, curve, kind, key, explicit_curve }
    }

    /// The curve of an EC key this crate verifies with.
    pub fn ec_curve(&self) -> Option<Curve> {
        self.kind.curve()
    }
}

/// Why a signature did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("unsupported algorithm {oid}")]
    Unsupported { oid: String },
    #[error("signature does not verify")]
    Invalid,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    Ecdsa { hash: DigestAlg, plain: bool },
    RsaPkcs1 { hash: DigestAlg },
    RsaPss { hash: DigestAlg },
}

fn unsupported(o: &Oid) -> VerifyError {
    VerifyError::Unsupported { oid: o.to_string() }
}

const TAG_INTEGER: tlv::Tag = 0x02;
const TAG_OID: tlv::Tag = 0x06;
const TAG_SEQUENCE: tlv::Tag = 0x30;

const fn ctx(n: u8) -> tlv::Tag {
    0xA0 | n as tlv::Tag
}

/// The hash of an AlgorithmIdentifier SEQUENCE (its parameters, absent or NULL, are not read).
fn hash_of(t: &tlv::Tlv<'_>) -> Option<DigestAlg> {
    let mut r = t.children();
    let o = r.expect(TAG_OID).ok()?;
    DigestAlg::from_oid(&curves::oid_string(o.value)?)
}

/// The single element inside an explicit context tag `[n]`, when present.
fn explicit_child<'a>(r: &mut Reader<'a>, n: u8) -> Result<Option<tlv::Tlv<'a>>, ()> {
    match r.optional(ctx(n)).map_err(|_| ())? {
        None => Ok(None),
        Some(t) => {
            let mut inner = t.children();
            let child = inner.next_tlv().map_err(|_| ())?;
            if inner.is_empty() { Ok(Some(child)) } else { Err(()) }
        }
    }
}

/// A small non-negative INTEGER.
fn small_uint(t: &tlv::Tlv<'_>) -> Option<u32> {
    if t.tag != TAG_INTEGER || t.value.is_empty() || t.value.len() > 4 || t.value[0] & 0x80 != 0 {
        return None;
    }
    Some(t.value.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b)))
}

/// RSASSA-PSS-params: accept what `ring` verifies (MGF1 with the same hash, salt = hash length,
/// trailer field 1).
fn pss_hash(params: Option<&[u8]>, o: &Oid) -> Result<DigestAlg, VerifyError> {
    let bad = || VerifyError::Unsupported { oid: format!("{o} with parameters {}", hex::encode(params.unwrap_or_default())) };
    let p = params.ok_or_else(bad)?;
    let seq = tlv::parse_single(p, TAG_SEQUENCE).map_err(|_| bad())?;
    let mut r: Reader<'_> = seq.children();
    let mut hash = DigestAlg::Sha1;
    let mut mgf_hash = DigestAlg::Sha1;
    let mut salt = 20u32;
    if let Some(h) = explicit_child(&mut r, 0).map_err(|_| bad())? {
        hash = (h.tag == TAG_SEQUENCE).then(|| hash_of(&h)).flatten().ok_or_else(bad)?;
    }
    if let Some(m) = explicit_child(&mut r, 1).map_err(|_| bad())? {
        if m.tag != TAG_SEQUENCE {
            return Err(bad());
        }
        let mut mr = m.children();
        let mo = mr.expect(TAG_OID).map_err(|_| bad())?;
        if curves::oid_string(mo.value).as_deref() != Some(oid::MGF1) {
            return Err(bad());
        }
        let inner = mr.expect(TAG_SEQUENCE).map_err(|_| bad())?;
        mgf_hash = hash_of(&inner).ok_or_else(bad)?;
    }
    if let Some(s) = explicit_child(&mut r, 2).map_err(|_| bad())? {
        salt = small_uint(&s).ok_or_else(bad)?;
    }
    if let Some(t) = explicit_child(&mut r, 3).map_err(|_| bad())? {
        if small_uint(&t) != Some(1) {
            return Err(bad());
        }
    }
    if !r.is_empty() || hash != mgf_hash || salt as usize != hash.output_len() {
        return Err(bad());
    }
    Ok(hash)
}

fn scheme(alg: &AlgorithmIdentifier, fallback: Option<DigestAlg>) -> Result<Scheme, VerifyError> {
    let o = alg.oid.as_str();
    let need = |h: Option<DigestAlg>| h.ok_or_else(|| unsupported(&alg.oid));
    Ok(match o {
        oid::ECDSA_SHA1 => Scheme::Ecdsa { hash: DigestAlg::Sha1, plain: false },
        oid::ECDSA_SHA224 => Scheme::Ecdsa { hash: DigestAlg::Sha224, plain: false },
        oid::ECDSA_SHA256 => Scheme::Ecdsa { hash: DigestAlg::Sha256, plain: false },
        oid::ECDSA_SHA384 => Scheme::Ecdsa { hash: DigestAlg::Sha384, plain: false },
        oid::ECDSA_SHA512 => Scheme::Ecdsa { hash: DigestAlg::Sha512, plain: false },
        oid::EC_PUBLIC_KEY => Scheme::Ecdsa { hash: need(fallback)?, plain: false },
        oid::RSA_SHA1 => Scheme::RsaPkcs1 { hash: DigestAlg::Sha1 },
        oid::RSA_SHA224 => Scheme::RsaPkcs1 { hash: DigestAlg::Sha224 },
        oid::RSA_SHA256 => Scheme::RsaPkcs1 { hash: DigestAlg::Sha256 },
        oid::RSA_SHA384 => Scheme::RsaPkcs1 { hash: DigestAlg::Sha384 },
        oid::RSA_SHA512 => Scheme::RsaPkcs1 { hash: DigestAlg::Sha512 },
        oid::RSA_ENCRYPTION => Scheme::RsaPkcs1 { hash: need(fallback)? },
        oid::RSA_PSS => Scheme::RsaPss { hash: pss_hash(alg.params.as_deref(), &alg.oid)? },
        _ => match o.strip_prefix(oid::ECDSA_PLAIN_PREFIX) {
            Some("1") => Scheme::Ecdsa { hash: DigestAlg::Sha1, plain: true },
            Some("2") => Scheme::Ecdsa { hash: DigestAlg::Sha224, plain: true },
            Some("3") => Scheme::Ecdsa { hash: DigestAlg::Sha256, plain: true },
            Some("4") => Scheme::Ecdsa { hash: DigestAlg::Sha384, plain: true },
            Some("5") => Scheme::Ecdsa { hash: DigestAlg::Sha512, plain: true },
            _ => return Err(unsupported(&alg.oid)),
        },
    })
}

fn ring_verify(alg: &'static dyn VerificationAlgorithm, key: &[u8], msg: &[u8], sig: &[u8]) -> Result<(), VerifyError> {
    UnparsedPublicKey::new(alg, key).verify(msg, sig).map_err(|_| VerifyError::Invalid)
}

/// The library that verifies an ECDSA signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EcdsaBackend {
    Ring,
    /// A RustCrypto curve crate (`p256`, `p224`, `p384`, `p521`, `bp256`, `bp384`).
    RustCrypto(&'static str),
    OpenSsl,
}

impl fmt::Display for EcdsaBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EcdsaBackend::Ring => f.write_str("ring"),
            EcdsaBackend::RustCrypto(c) => write!(f, "RustCrypto {c}"),
            EcdsaBackend::OpenSsl => f.write_str("OpenSSL"),
        }
    }
}

/// The `ring` suite for a curve, digest and signature form, when it has one.
fn ring_suite(curve: Curve, hash: DigestAlg, plain: bool) -> Option<&'static rs::EcdsaVerificationAlgorithm> {
    use DigestAlg as D;
    Some(match (curve, hash, plain) {
        (Curve::P256, D::Sha256, false) => &rs::ECDSA_P256_SHA256_ASN1,
        (Curve::P256, D::Sha256, true) => &rs::ECDSA_P256_SHA256_FIXED,
        (Curve::P256, D::Sha384, false) => &rs::ECDSA_P256_SHA384_ASN1,
        (Curve::P384, D::Sha256, false) => &rs::ECDSA_P384_SHA256_ASN1,
        (Curve::P384, D::Sha384, false) => &rs::ECDSA_P384_SHA384_ASN1,
        (Curve::P384, D::Sha384, true) => &rs::ECDSA_P384_SHA384_FIXED,
        _ => return None,
    })
}

/// Which library verifies ECDSA on `curve` with `hash` (DER or plain form); `compressed` keys go
/// past `ring`, which reads uncompressed points only.
pub fn ecdsa_backend(curve: Curve, hash: DigestAlg, plain: bool, compressed: bool) -> EcdsaBackend {
    if !compressed && ring_suite(curve, hash, plain).is_some() {
        return EcdsaBackend::Ring;
    }
    match curve {
        Curve::P224 => EcdsaBackend::RustCrypto("p224"),
        Curve::P256 => EcdsaBackend::RustCrypto("p256"),
        Curve::P384 => EcdsaBackend::RustCrypto("p384"),
        Curve::P521 => EcdsaBackend::RustCrypto("p521"),
        Curve::BrainpoolP256r1 => EcdsaBackend::RustCrypto("bp256"),
        Curve::BrainpoolP384r1 => EcdsaBackend::RustCrypto("bp384"),
        Curve::BrainpoolP224r1 | Curve::BrainpoolP320r1 | Curve::BrainpoolP512r1 => EcdsaBackend::OpenSsl,
    }
}

/// A RustCrypto curve crate over a message digest, through the `PrehashVerifier` of its generation
/// (in scope at the call): `ecdsa` 0.16 for `p256` and `p224` 0.13, whose digest must be at least
/// half the field's length, as SHA-1 is for both; `ecdsa` 0.17 for the 0.14 crates, any length.
macro_rules! rustcrypto_prehash {
    ($vk:ty, $sig:ty, $key:expr, $digest:expr, $plain:expr, $sig_bytes:expr) => {{
        let vk = <$vk>::from_sec1_bytes($key).map_err(|_| VerifyError::Invalid)?;
        let sig = if $plain { <$sig>::from_slice($sig_bytes) } else { <$sig>::from_der($sig_bytes) }
            .map_err(|_| VerifyError::Invalid)?;
        vk.verify_prehash($digest, &sig).map_err(|_| VerifyError::Invalid)
    }};
}

/// `NID_brainpoolP224r1`, which the `openssl` crate names no constant for (a test checks the
/// number against OpenSSL's short name).
const NID_BRAINPOOL_P224R1: i32 = 925;

/// OpenSSL over a message digest (it truncates a longer digest to the order's bit length).
fn openssl_prehash(curve: Curve, key: &[u8], digest: &[u8], plain: bool, sig: &[u8]) -> Result<(), VerifyError> {
    use openssl::bn::{BigNum, BigNumContext};
    use openssl::ec::{EcGroup, EcKey, EcPoint};
    use openssl::ecdsa::EcdsaSig;
    use openssl::nid::Nid;
    let library = |e: openssl::error::ErrorStack| VerifyError::Unsupported { oid: format!("ecdsa on {curve} through openssl: {e}") };
    let nid = match curve {
        Curve::BrainpoolP224r1 => Nid::from_raw(NID_BRAINPOOL_P224R1),
        Curve::BrainpoolP320r1 => Nid::BRAINPOOL_P320R1,
        Curve::BrainpoolP512r1 => Nid::BRAINPOOL_P512R1,
        other => return Err(VerifyError::Unsupported { oid: format!("ecdsa on {other} through openssl") }),
    };
    let group = EcGroup::from_curve_name(nid).map_err(library)?;
    let mut ctx = BigNumContext::new().map_err(library)?;
    let point = EcPoint::from_bytes(&group, key, &mut ctx).map_err(|_| VerifyError::Invalid)?;
    let eckey = EcKey::from_public_key(&group, &point).map_err(|_| VerifyError::Invalid)?;
    eckey.check_key().map_err(|_| VerifyError::Invalid)?;
    let sig = if plain {
        let n = curve.order_len();
        if sig.len() != 2 * n {
            return Err(VerifyError::Invalid);
        }
        let (r, s) = sig.split_at(n);
        let r = BigNum::from_slice(r).map_err(library)?;
        let s = BigNum::from_slice(s).map_err(library)?;
        EcdsaSig::from_private_components(r, s).map_err(library)?
    } else {
        let parsed = EcdsaSig::from_der(sig).map_err(|_| VerifyError::Invalid)?;
        // d2i accepts BER and trailing bytes: only a DER encoding that re-encodes to itself counts.
        if parsed.to_der().map_err(library)? != sig {
            return Err(VerifyError::Invalid);
        }
        parsed
    };
    match sig.verify(digest, &eckey) {
        Ok(true) => Ok(()),
        Ok(false) | Err(_) => Err(VerifyError::Invalid),
    }
}

fn ecdsa_verify(curve: Curve, key: &[u8], hash: DigestAlg, plain: bool, msg: &[u8], sig: &[u8]) -> Result<(), VerifyError> {
    use ecdsa017::signature::hazmat::PrehashVerifier as _;
    use p256::ecdsa::signature::hazmat::PrehashVerifier as _;
    let compressed = key.first() != Some(&0x04);
    let backend = ecdsa_backend(curve, hash, plain, compressed);
    if backend == EcdsaBackend::Ring {
        return match ring_suite(curve, hash, plain) {
            Some(suite) => ring_verify(suite, key, msg, sig),
            None => Err(VerifyError::Unsupported { oid: format!("ecdsa on {curve} with {hash}") }),
        };
    }
    let digest = hash.digest(msg);
    let d = digest.as_slice();
    match curve {
        Curve::P256 => rustcrypto_prehash!(p256::ecdsa::VerifyingKey, p256::ecdsa::Signature, key, d, plain, sig),
        Curve::P224 => rustcrypto_prehash!(p224::ecdsa::VerifyingKey, p224::ecdsa::Signature, key, d, plain, sig),
        Curve::P384 => rustcrypto_prehash!(p384::ecdsa::VerifyingKey, p384::ecdsa::Signature, key, d, plain, sig),
        Curve::P521 => rustcrypto_prehash!(p521::ecdsa::VerifyingKey, p521::ecdsa::Signature, key, d, plain, sig),
        Curve::BrainpoolP256r1 => rustcrypto_prehash!(
            ecdsa017::VerifyingKey<bp256::BrainpoolP256r1>,
            bp256::r1::ecdsa::Signature,
            key,
            d,
            plain,
            sig
        ),
        Curve::BrainpoolP384r1 => rustcrypto_prehash!(
            ecdsa017::VerifyingKey<bp384::BrainpoolP384r1>,
            bp384::r1::ecdsa::Signature,
            key,
            d,
            plain,
            sig
        ),
        Curve::BrainpoolP224r1 | Curve::BrainpoolP320r1 | Curve::BrainpoolP512r1 => openssl_prehash(curve, key, d, plain, sig),
    }
}

/// The modulus length in bits of an RSAPublicKey (`None` when it does not parse).
fn rsa_modulus_bits(key: &[u8]) -> Option<usize> {
    let seq = tlv::parse_single(key, TAG_SEQUENCE).ok()?;
    let m = seq.children().expect(TAG_INTEGER).ok()?;
    let z = m.value.iter().take_while(|&&b| b == 0).count();
    let top = *m.value.get(z)?;
    Some((m.value.len() - z - 1) * 8 + (8 - top.leading_zeros() as usize))
}

fn rsa_verify(key: &[u8], scheme: Scheme, alg: &Oid, msg: &[u8], sig: &[u8]) -> Result<(), VerifyError> {
    use DigestAlg as D;
    let bits = rsa_modulus_bits(key).ok_or(VerifyError::Invalid)?;
    if !(2048..=8192).contains(&bits) {
        return Err(VerifyError::Unsupported { oid: format!("{alg} with a {bits}-bit rsa key (2048 to 8192 bits are verified)") });
    }
    let suite: &'static dyn VerificationAlgorithm = match scheme {
        Scheme::RsaPkcs1 { hash: D::Sha1 } => &rs::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
        Scheme::RsaPkcs1 { hash: D::Sha256 } => &rs::RSA_PKCS1_2048_8192_SHA256,
        Scheme::RsaPkcs1 { hash: D::Sha384 } => &rs::RSA_PKCS1_2048_8192_SHA384,
        Scheme::RsaPkcs1 { hash: D::Sha512 } => &rs::RSA_PKCS1_2048_8192_SHA512,
        Scheme::RsaPss { hash: D::Sha256 } => &rs::RSA_PSS_2048_8192_SHA256,
        Scheme::RsaPss { hash: D::Sha384 } => &rs::RSA_PSS_2048_8192_SHA384,
        Scheme::RsaPss { hash: D::Sha512 } => &rs::RSA_PSS_2048_8192_SHA512,
        // RSA with a digest ring cannot pair with it (SHA-224; PSS with SHA-1).
        Scheme::RsaPkcs1 { .. } | Scheme::RsaPss { .. } => {
            return Err(VerifyError::Unsupported { oid: format!("{alg} with an rsa key") });
        }
        Scheme::Ecdsa { .. } => return Err(VerifyError::Invalid),
    };
    ring_verify(suite, key, msg, sig)
}

/// Verify `sig` over `msg` with `key` under the signature algorithm `alg`. `fallback` is the digest
/// to use when `alg` names only the key type (id-ecPublicKey or rsaEncryption in a SignerInfo).
pub fn verify(
    key: &PublicKey,
    alg: &AlgorithmIdentifier,
    fallback: Option<DigestAlg>,
    msg: &[u8],
    sig: &[u8],
) -> Result<(), VerifyError> {
    let scheme = scheme(alg, fallback)?;
    let k = key.key.as_slice();
    match (&key.kind, scheme) {
        (KeyKind::Unsupported(what), _) => Err(VerifyError::Unsupported { oid: what.clone() }),
        (KeyKind::Rsa, Scheme::RsaPkcs1 { .. } | Scheme::RsaPss { .. }) => rsa_verify(k, scheme, &alg.oid, msg, sig),
        // Algorithm family and key type disagree: no signature can verify.
        (KeyKind::Rsa, Scheme::Ecdsa { .. }) => Err(VerifyError::Invalid),
        (ec, Scheme::Ecdsa { hash, plain }) => match ec.curve() {
            Some(curve) => ecdsa_verify(curve, k, hash, plain, msg, sig),
            None => Err(VerifyError::Invalid),
        },
        (_, Scheme::RsaPkcs1 { .. } | Scheme::RsaPss { .. }) => Err(VerifyError::Invalid),
    }
}

/// A short readable name for a signature algorithm OID (the OID itself when unknown).
pub fn signature_name(o: &Oid) -> String {
    match o.as_str() {
        oid::ECDSA_SHA1 => "ecdsa-with-sha1".into(),
        oid::ECDSA_SHA224 => "ecdsa-with-sha224".into(),
        oid::ECDSA_SHA256 => "ecdsa-with-sha256".into(),
        oid::ECDSA_SHA384 => "ecdsa-with-sha384".into(),
        oid::ECDSA_SHA512 => "ecdsa-with-sha512".into(),
        oid::EC_PUBLIC_KEY => "ecdsa".into(),
        oid::RSA_ENCRYPTION => "rsa-pkcs1".into(),
        oid::RSA_SHA1 => "sha1-with-rsa".into(),
        oid::RSA_SHA224 => "sha224-with-rsa".into(),
        oid::RSA_SHA256 => "sha256-with-rsa".into(),
        oid::RSA_SHA384 => "sha384-with-rsa".into(),
        oid::RSA_SHA512 => "sha512-with-rsa".into(),
        oid::RSA_PSS => "rsassa-pss".into(),
        other => match other.strip_prefix(oid::ECDSA_PLAIN_PREFIX) {
            Some("1") => "ecdsa-plain-sha1".into(),
            Some("2") => "ecdsa-plain-sha224".into(),
            Some("3") => "ecdsa-plain-sha256".into(),
            Some("4") => "ecdsa-plain-sha384".into(),
            Some("5") => "ecdsa-plain-sha512".into(),
            _ => other.to_string(),
        },
    }
}

#[cfg(test)]
#[path = "alg_tests.rs"]
mod tests;

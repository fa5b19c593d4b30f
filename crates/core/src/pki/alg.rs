//! Algorithms of passive authentication: the digest algorithms of the LDSSecurityObject and the
//! signer, subject public keys, and signature verification (ECDSA P-256 / P-384 and RSA PKCS#1
//! v1.5 / PSS through `ring`; P-256 with digests `ring` lacks through the `p256` crate). This
//! module owns mapping OIDs to algorithms; an OID it does not know is reported, never guessed.

use std::fmt;

use ring::signature::{self as rs, UnparsedPublicKey, VerificationAlgorithm};
use sha1::Sha1;
use sha2::{Digest, Sha224, Sha256, Sha384, Sha512};

use super::der::{self, AlgorithmIdentifier, Oid};
use crate::tlv::{self, Reader};

pub mod oid {
    //! Object identifiers used by EF.SOD and X.509.
    pub const SHA1: &str = "1.3.14.3.2.26";
    pub const SHA224: &str = "2.16.840.1.101.3.4.2.4";
    pub const SHA256: &str = "2.16.840.1.101.3.4.2.1";
    pub const SHA384: &str = "2.16.840.1.101.3.4.2.2";
    pub const SHA512: &str = "2.16.840.1.101.3.4.2.3";

    pub const EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
    pub const P256: &str = "1.2.840.10045.3.1.7";
    pub const P384: &str = "1.3.132.0.34";
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
    EcP256,
    EcP384,
    Rsa,
    /// A key algorithm or curve this crate does not verify with (brainpool, explicit curve
    /// parameters, DSA, ...): the OID (or description) to report.
    Unsupported(String),
}

/// A SubjectPublicKeyInfo.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    pub algorithm: AlgorithmIdentifier,
    /// The named curve of an EC key.
    pub curve: Option<Oid>,
    pub kind: KeyKind,
    /// The subjectPublicKey bits: an uncompressed point (EC) or an RSAPublicKey (RSA).
    pub key: Vec<u8>,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({:?}, {} bytes)", self.kind, self.key.len())
    }
}

impl PublicKey {
    pub fn from_parts(algorithm: AlgorithmIdentifier, key: Vec<u8>) -> PublicKey {
        let curve = if algorithm.oid == oid::EC_PUBLIC_KEY {
            algorithm.params.as_deref().and_then(|p| tlv::parse_single(p, der::OID).ok()).and_then(|t| Oid::from_content(t.value))
        } else {
            None
        };
        let kind = match (algorithm.oid.as_str(), curve.as_ref().map(Oid::as_str)) {
            (oid::EC_PUBLIC_KEY, Some(oid::P256)) => KeyKind::EcP256,
            (oid::EC_PUBLIC_KEY, Some(oid::P384)) => KeyKind::EcP384,
            (oid::EC_PUBLIC_KEY, Some(other)) => KeyKind::Unsupported(other.to_string()),
            (oid::EC_PUBLIC_KEY, None) => KeyKind::Unsupported(format!("{} with explicit or absent curve parameters", oid::EC_PUBLIC_KEY)),
            (oid::RSA_ENCRYPTION, _) => KeyKind::Rsa,
            (other, _) => KeyKind::Unsupported(other.to_string()),
        };
        PublicKey { algorithm, curve, kind, key }
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

/// RSASSA-PSS-params: accept what `ring` verifies (MGF1 with the same hash, salt = hash length).
fn pss_hash(params: Option<&[u8]>, o: &Oid) -> Result<DigestAlg, VerifyError> {
    let bad = || VerifyError::Unsupported { oid: format!("{o} with parameters {}", hex::encode(params.unwrap_or_default())) };
    let p = params.ok_or_else(bad)?;
    let seq = tlv::parse_single(p, der::SEQUENCE).map_err(|_| bad())?;
    let mut r: Reader<'_> = seq.children();
    let mut hash = DigestAlg::Sha1;
    let mut mgf_hash = DigestAlg::Sha1;
    let mut salt = 20u32;
    if let Some(h) = r.optional(der::ctx(0)).map_err(|_| bad())? {
        let a = der::algorithm_identifier(&der::take(&mut h.children(), der::SEQUENCE, "pss hash").map_err(|_| bad())?, "pss hash")
            .map_err(|_| bad())?;
        hash = DigestAlg::from_oid(a.oid.as_str()).ok_or_else(bad)?;
    }
    if let Some(m) = r.optional(der::ctx(1)).map_err(|_| bad())? {
        let a = der::algorithm_identifier(&der::take(&mut m.children(), der::SEQUENCE, "pss mgf").map_err(|_| bad())?, "pss mgf")
            .map_err(|_| bad())?;
        if a.oid != oid::MGF1 {
            return Err(bad());
        }
        let inner = a.params.as_deref().and_then(|p| tlv::parse_single(p, der::SEQUENCE).ok()).ok_or_else(bad)?;
        let ia = der::algorithm_identifier(&inner, "mgf1 hash").map_err(|_| bad())?;
        mgf_hash = DigestAlg::from_oid(ia.oid.as_str()).ok_or_else(bad)?;
    }
    if let Some(s) = r.optional(der::ctx(2)).map_err(|_| bad())? {
        salt = der::small_uint(&der::take(&mut s.children(), der::INTEGER, "pss salt").map_err(|_| bad())?, "pss salt")
            .map_err(|_| bad())?;
    }
    if hash != mgf_hash || salt as usize != hash.output_len() {
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

/// P-256 ECDSA over a digest `ring` has no suite for (SHA-1, SHA-224, SHA-512, plain SHA-384).
fn p256_prehash(key: &[u8], hash: DigestAlg, plain: bool, msg: &[u8], sig: &[u8]) -> Result<(), VerifyError> {
    use p256::ecdsa::signature::hazmat::PrehashVerifier;
    use p256::ecdsa::{Signature, VerifyingKey};
    let vk = VerifyingKey::from_sec1_bytes(key).map_err(|_| VerifyError::Invalid)?;
    let sig = if plain { Signature::from_slice(sig) } else { Signature::from_der(sig) }.map_err(|_| VerifyError::Invalid)?;
    vk.verify_prehash(&hash.digest(msg), &sig).map_err(|_| VerifyError::Invalid)
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
    use DigestAlg as D;
    match (&key.kind, scheme) {
        (KeyKind::Unsupported(what), _) => Err(VerifyError::Unsupported { oid: what.clone() }),
        (KeyKind::EcP256, Scheme::Ecdsa { hash: D::Sha256, plain: false }) => ring_verify(&rs::ECDSA_P256_SHA256_ASN1, k, msg, sig),
        (KeyKind::EcP256, Scheme::Ecdsa { hash: D::Sha256, plain: true }) => ring_verify(&rs::ECDSA_P256_SHA256_FIXED, k, msg, sig),
        (KeyKind::EcP256, Scheme::Ecdsa { hash: D::Sha384, plain: false }) => ring_verify(&rs::ECDSA_P256_SHA384_ASN1, k, msg, sig),
        (KeyKind::EcP256, Scheme::Ecdsa { hash, plain }) => p256_prehash(k, hash, plain, msg, sig),
        (KeyKind::EcP384, Scheme::Ecdsa { hash: D::Sha256, plain: false }) => ring_verify(&rs::ECDSA_P384_SHA256_ASN1, k, msg, sig),
        (KeyKind::EcP384, Scheme::Ecdsa { hash: D::Sha384, plain: false }) => ring_verify(&rs::ECDSA_P384_SHA384_ASN1, k, msg, sig),
        (KeyKind::EcP384, Scheme::Ecdsa { hash: D::Sha384, plain: true }) => ring_verify(&rs::ECDSA_P384_SHA384_FIXED, k, msg, sig),
        (KeyKind::Rsa, Scheme::RsaPkcs1 { hash: D::Sha1 }) => ring_verify(&rs::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY, k, msg, sig),
        (KeyKind::Rsa, Scheme::RsaPkcs1 { hash: D::Sha256 }) => ring_verify(&rs::RSA_PKCS1_2048_8192_SHA256, k, msg, sig),
        (KeyKind::Rsa, Scheme::RsaPkcs1 { hash: D::Sha384 }) => ring_verify(&rs::RSA_PKCS1_2048_8192_SHA384, k, msg, sig),
        (KeyKind::Rsa, Scheme::RsaPkcs1 { hash: D::Sha512 }) => ring_verify(&rs::RSA_PKCS1_2048_8192_SHA512, k, msg, sig),
        (KeyKind::Rsa, Scheme::RsaPss { hash: D::Sha256 }) => ring_verify(&rs::RSA_PSS_2048_8192_SHA256, k, msg, sig),
        (KeyKind::Rsa, Scheme::RsaPss { hash: D::Sha384 }) => ring_verify(&rs::RSA_PSS_2048_8192_SHA384, k, msg, sig),
        (KeyKind::Rsa, Scheme::RsaPss { hash: D::Sha512 }) => ring_verify(&rs::RSA_PSS_2048_8192_SHA512, k, msg, sig),
        // A supported key with a digest ring cannot pair with it (P-384 with SHA-1, RSA with SHA-224).
        (KeyKind::EcP384, Scheme::Ecdsa { .. }) => {
            Err(VerifyError::Unsupported { oid: format!("{} with a p-384 key", alg.oid) })
        }
        (KeyKind::Rsa, Scheme::RsaPkcs1 { .. } | Scheme::RsaPss { .. }) => {
            Err(VerifyError::Unsupported { oid: format!("{} with an rsa key", alg.oid) })
        }
        // Algorithm family and key type disagree: no signature can verify.
        (KeyKind::EcP256 | KeyKind::EcP384, _) | (KeyKind::Rsa, Scheme::Ecdsa { .. }) => Err(VerifyError::Invalid),
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
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_have_declared_lengths_and_oids() {
        for d in DigestAlg::ALL {
            assert_eq!(d.digest(b"abc").len(), d.output_len());
            assert_eq!(DigestAlg::from_oid(d.oid()), Some(d));
        }
        assert_eq!(hex::encode(DigestAlg::Sha1.digest(b"abc")), "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(DigestAlg::from_oid("1.2.3"), None);
    }

    #[test]
    fn p256_with_every_digest() {
        use p256::ecdsa::signature::hazmat::PrehashSigner;
        use p256::ecdsa::{Signature, SigningKey};
        use rand::SeedableRng;
        let sk = SigningKey::random(&mut rand_chacha::ChaCha20Rng::seed_from_u64(7));
        let point = sk.verifying_key().to_encoded_point(false).as_bytes().to_vec();
        let key = PublicKey::from_parts(
            AlgorithmIdentifier { oid: Oid::from_content(&der::oid_content(oid::EC_PUBLIC_KEY)).expect("oid"), params: Some(der::enc_oid(oid::P256)) },
            point,
        );
        assert_eq!(key.kind, KeyKind::EcP256);
        let msg = b"signed attributes";
        for (o, d) in [
            (oid::ECDSA_SHA1, DigestAlg::Sha1),
            (oid::ECDSA_SHA224, DigestAlg::Sha224),
            (oid::ECDSA_SHA256, DigestAlg::Sha256),
            (oid::ECDSA_SHA384, DigestAlg::Sha384),
            (oid::ECDSA_SHA512, DigestAlg::Sha512),
        ] {
            let sig: Signature = sk.sign_prehash(&d.digest(msg)).expect("sign");
            let alg = AlgorithmIdentifier::new(o);
            assert_eq!(verify(&key, &alg, None, msg, sig.to_der().as_bytes()), Ok(()), "{o}");
            assert_eq!(verify(&key, &alg, None, b"other", sig.to_der().as_bytes()), Err(VerifyError::Invalid), "{o}");
            let plain = AlgorithmIdentifier::new(&format!("{}{}", oid::ECDSA_PLAIN_PREFIX, 1 + DigestAlg::ALL.iter().position(|x| *x == d).unwrap_or(0)));
            assert_eq!(verify(&key, &plain, None, msg, &sig.to_bytes()), Ok(()), "plain {o}");
            let bare = AlgorithmIdentifier::new(oid::EC_PUBLIC_KEY);
            assert_eq!(verify(&key, &bare, Some(d), msg, sig.to_der().as_bytes()), Ok(()));
        }
        let bare = AlgorithmIdentifier::new(oid::EC_PUBLIC_KEY);
        assert!(matches!(verify(&key, &bare, None, msg, &[]), Err(VerifyError::Unsupported { .. })));
        assert!(matches!(verify(&key, &AlgorithmIdentifier::new("1.2.3.4"), None, msg, &[]), Err(VerifyError::Unsupported { .. })));
        assert_eq!(verify(&key, &AlgorithmIdentifier::new(oid::RSA_SHA256), None, msg, &[]), Err(VerifyError::Invalid));
        let brainpool = PublicKey::from_parts(
            AlgorithmIdentifier { oid: Oid::from_content(&der::oid_content(oid::EC_PUBLIC_KEY)).expect("oid"), params: Some(der::enc_oid("1.3.36.3.3.2.8.1.1.7")) },
            vec![4; 65],
        );
        assert_eq!(
            verify(&brainpool, &AlgorithmIdentifier::new(oid::ECDSA_SHA256), None, msg, &[]),
            Err(VerifyError::Unsupported { oid: "1.3.36.3.3.2.8.1.1.7".into() })
        );
    }
}

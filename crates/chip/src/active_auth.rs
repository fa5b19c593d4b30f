//! Active Authentication (ICAO Doc 9303-11, section 6.1), the computations only: reading the
//! chip's public key (the SubjectPublicKeyInfo of DG15), verifying the chip's answer to INTERNAL
//! AUTHENTICATE with the host's 8-byte challenge, and, for test chips (the emulator,
//! personalisation of test cards), the private half that produces such answers. No APDUs: the
//! INTERNAL AUTHENTICATE command and its transport live elsewhere.
//!
//! - RSA: ISO/IEC 9796-2 digital signature scheme 1 with message recovery. The signature opens
//!   (raw public-key operation, `J = s^e mod n`, or `n - J` when that is the representative ending
//!   in the nibble `C`, as ISO/IEC 9796-2 allows) to the message representative
//!   `header || [padding] || M1 || H(M1 || M2) || trailer`, with M2 the challenge. Header `6A`
//!   (partial recovery: M = M1 || challenge) or `4A` (total recovery: M = M1, which must then be
//!   the challenge), `6B`/`4B` with `BB .. BA` padding before M1; trailer `BC` (SHA-1, implicit) or
//!   `hh CC` with the ISO/IEC 10118-3 hash identifier `hh`: 33 SHA-1, 34 SHA-256, 35 SHA-512,
//!   36 SHA-384, 38 SHA-224. The recovered digest is compared in constant time. Moduli of 1024 to
//!   4096 bits whose length is a multiple of 8 bits, or one more (the representative is one bit
//!   shorter than the modulus).
//! - ECDSA: the hash of the challenge, named by DG14's ActiveAuthenticationInfo.signatureAlgorithm
//!   (BSI TR-03111 ecdsa-plain-SHA*), signed in the plain form `r || s` (each padded to the order's
//!   length) as 9303-11 section 6.1 requires; over P-224, P-256, P-384, P-521 and brainpoolP224r1,
//!   P256r1, P320r1, P384r1, P512r1 (verification through `idcheck_core::pki::alg`).
//!
//! This module owns the ISO/IEC 9796-2 message representative (its layout, header, padding and
//! trailer); every arithmetic operation (the RSA exponentiation, the curve operations, key
//! generation) belongs to OpenSSL (the `openssl` crate) and the verifiers of `idcheck_core`.
//! Untrusted bytes (DG15, the chip's answer, DG14's OID) never panic: they give an [`AaError`].

use std::fmt;

use idcheck_core::pki::alg::{self, oid, KeyKind, PublicKey, VerifyError};
/// The curves and hashes named in this module's API.
pub use idcheck_core::pki::alg::{Curve, DigestAlg};
use idcheck_core::pki::der as pkider;
use idcheck_core::pki::AlgorithmIdentifier;
use idcheck_core::tlv;
use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::{Asn1Flag, EcGroup, EcKey, EcPoint};
use openssl::ecdsa::EcdsaSig;
use openssl::nid::Nid;
use openssl::pkey::{Id, PKey, Private};
use openssl::rsa::{Padding, Rsa};
use p256::elliptic_curve::subtle::ConstantTimeEq;

/// The RSA modulus lengths verified and generated, in bits.
pub const RSA_BITS: std::ops::RangeInclusive<usize> = 1024..=4096;

/// DG15's tag (ICAO Doc 9303-10, section 4.7.15): `6F` around the SubjectPublicKeyInfo.
pub const DG15_TAG: tlv::Tag = 0x6F;

/// `NID_brainpoolP224r1`, which the `openssl` crate names no constant for.
const NID_BRAINPOOL_P224R1: i32 = 925;

/// Why a key, a signature or a signing request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AaError {
    /// DG15 or its SubjectPublicKeyInfo does not parse, or the key in it is not a valid key.
    #[error("malformed active authentication public key: {0}")]
    BadKey(String),
    /// A key type, curve or size this module does not verify or generate.
    #[error("unsupported active authentication key: {0}")]
    UnsupportedKey(String),
    /// An EC key, but no signatureAlgorithm (DG14's ActiveAuthenticationInfo) to name the hash.
    #[error("ecdsa active authentication key without a signature algorithm (dg14 names no activeauthenticationinfo)")]
    MissingHashOid,
    /// The signatureAlgorithm OID (or a hash name) is not one this module knows.
    #[error("unsupported active authentication signature algorithm {0}")]
    UnsupportedAlgorithm(String),
    #[error("bad signature length: {got} bytes where the {what} takes {expected}")]
    BadSignatureLength { got: usize, expected: usize, what: &'static str },
    /// The RSA signature, as a number, is not below the modulus.
    #[error("rsa signature is not below the modulus")]
    SignatureOutOfRange,
    /// The opened representative does not start with an ISO/IEC 9796-2 scheme 1 header.
    #[error("wrong iso/iec 9796-2 header {found:02x} (6a or 4a, or 6b/4b with padding, expected){detail}")]
    WrongHeader { found: u8, detail: &'static str },
    /// The opened representative does not end with trailer `BC` or `hh CC`.
    #[error("wrong iso/iec 9796-2 trailer {found} (bc or hh cc expected)")]
    WrongTrailer { found: String },
    /// Trailer `hh CC` with a hash identifier this module does not know.
    #[error("unsupported iso/iec 10118-3 hash identifier {0:02x} in the iso/iec 9796-2 trailer")]
    UnsupportedHashId(u8),
    /// The representative is too short for header, digest and trailer.
    #[error("iso/iec 9796-2 representative of {len} bytes is too short for a {hash} digest")]
    ShortRepresentative { len: usize, hash: &'static str },
    /// Total recovery (header 4A): the recovered message is not the challenge.
    #[error("iso/iec 9796-2 total recovery: the recovered message is not the challenge")]
    ChallengeMismatch,
    /// The recovered digest is not the hash of M1 || challenge.
    #[error("hash mismatch: the recovered digest is not the {hash} of the recovered message and the challenge")]
    HashMismatch { hash: &'static str },
    #[error("ecdsa signature invalid: it does not verify over the {hash} of the challenge with the dg15 key on {curve}")]
    EcdsaInvalid { hash: &'static str, curve: &'static str },
    /// A PKCS#8 private key that does not parse or is not a supported key.
    #[error("bad active authentication private key: {0}")]
    BadPrivateKey(String),
    /// The message does not fit the representative (signing side).
    #[error("message of {len} bytes does not fit an iso/iec 9796-2 representative of {capacity} bytes")]
    MessageTooLong { len: usize, capacity: usize },
    /// OpenSSL failed where it should not (allocation, random source).
    #[error("openssl failed while {what}: {detail}")]
    Library { what: &'static str, detail: String },
}

fn library(what: &'static str) -> impl Fn(openssl::error::ErrorStack) -> AaError {
    move |e| AaError::Library { what, detail: e.to_string() }
}

/// An Active Authentication public key (DG15).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AaPublicKey {
    Rsa {
        /// Big-endian, without leading zero bytes.
        modulus: Vec<u8>,
        /// Big-endian, without leading zero bytes.
        exponent: Vec<u8>,
    },
    Ec {
        curve: Curve,
        /// The SEC 1 point (uncompressed `04 || x || y`, or compressed), as DG15 carries it.
        point: Vec<u8>,
    },
}

/// How a chip's answer verified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AaScheme {
    /// ISO/IEC 9796-2 scheme 1 with the hash the trailer names (`sha-1`, `sha-256`, ...).
    RsaIso9796_2 { hash: &'static str },
    /// ECDSA, plain `r || s`, over the hash named by the signatureAlgorithm.
    Ecdsa { hash: &'static str },
}

impl fmt::Display for AaScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AaScheme::RsaIso9796_2 { hash } => write!(f, "rsa iso/iec 9796-2 scheme 1 with {hash}"),
            AaScheme::Ecdsa { hash } => write!(f, "ecdsa-plain with {hash}"),
        }
    }
}

/// Big-endian magnitude without leading zero bytes.
fn strip_zeros(b: &[u8]) -> &[u8] {
    let z = b.iter().take_while(|&&x| x == 0).count();
    b.get(z..).unwrap_or_default()
}

fn bit_len(magnitude: &[u8]) -> usize {
    match magnitude.first() {
        Some(&top) => (magnitude.len() - 1) * 8 + (8 - top.leading_zeros() as usize),
        None => 0,
    }
}

/// The ISO/IEC 9796-2 representative takes `bits - 1` bits: whole bytes when the modulus is a
/// multiple of 8 bits or one more. Other lengths would put the header across a byte boundary.
fn rsa_bits_supported(bits: usize) -> Result<(), AaError> {
    if !RSA_BITS.contains(&bits) {
        return Err(AaError::UnsupportedKey(format!(
            "rsa {bits} ({} to {} bits are verified)",
            RSA_BITS.start(),
            RSA_BITS.end()
        )));
    }
    if !matches!(bits % 8, 0 | 1) {
        return Err(AaError::UnsupportedKey(format!(
            "rsa {bits}: an iso/iec 9796-2 representative needs a modulus of a multiple of 8 bits, or one more"
        )));
    }
    Ok(())
}

fn nid_of(curve: Curve) -> Nid {
    match curve {
        Curve::P224 => Nid::SECP224R1,
        Curve::P256 => Nid::X9_62_PRIME256V1,
        Curve::P384 => Nid::SECP384R1,
        Curve::P521 => Nid::SECP521R1,
        Curve::BrainpoolP224r1 => Nid::from_raw(NID_BRAINPOOL_P224R1),
        Curve::BrainpoolP256r1 => Nid::BRAINPOOL_P256R1,
        Curve::BrainpoolP320r1 => Nid::BRAINPOOL_P320R1,
        Curve::BrainpoolP384r1 => Nid::BRAINPOOL_P384R1,
        Curve::BrainpoolP512r1 => Nid::BRAINPOOL_P512R1,
    }
}

fn curve_of_nid(nid: Nid) -> Option<Curve> {
    Curve::ALL.into_iter().find(|&c| nid_of(c) == nid)
}

fn group_of(curve: Curve) -> Result<EcGroup, AaError> {
    let mut g = EcGroup::from_curve_name(nid_of(curve))
        .map_err(|e| AaError::UnsupportedKey(format!("ecdsa {}: openssl has no such curve: {e}", curve.name())))?;
    g.set_asn1_flag(Asn1Flag::NAMED_CURVE);
    Ok(g)
}

fn bad_key(e: impl fmt::Display) -> AaError {
    AaError::BadKey(e.to_string())
}

impl AaPublicKey {
    /// The key of a SubjectPublicKeyInfo (the content of DG15).
    pub fn from_spki(spki_der: &[u8]) -> Result<AaPublicKey, AaError> {
        let seq = pkider::parse_one(spki_der, 0x30, "subjectPublicKeyInfo").map_err(bad_key)?;
        let mut r = seq.children();
        let alg_t = pkider::take(&mut r, 0x30, "subjectPublicKeyInfo.algorithm").map_err(bad_key)?;
        let algorithm = pkider::algorithm_identifier(&alg_t, "subjectPublicKeyInfo.algorithm").map_err(bad_key)?;
        let bits_t = pkider::take(&mut r, 0x03, "subjectPublicKeyInfo.subjectPublicKey").map_err(bad_key)?;
        let key = pkider::bit_string_octets(&bits_t, "subjectPublicKeyInfo.subjectPublicKey").map_err(bad_key)?;
        pkider::finish(&r, "subjectPublicKeyInfo").map_err(bad_key)?;
        let pk = PublicKey::from_parts(algorithm, key.to_vec());
        match &pk.kind {
            KeyKind::Rsa => Self::rsa_from_pkcs1(key),
            KeyKind::Unsupported(what) => Err(AaError::UnsupportedKey(what.clone())),
            ec => match ec.curve() {
                Some(curve) => Self::ec_from_point(curve, key),
                None => Err(AaError::UnsupportedKey(format!("{:?}", pk.kind))),
            },
        }
    }

    /// The key of DG15 as read from the chip: `6F L SubjectPublicKeyInfo`.
    pub fn from_dg15(dg15: &[u8]) -> Result<AaPublicKey, AaError> {
        let t = tlv::parse_single(dg15, DG15_TAG).map_err(|e| AaError::BadKey(format!("dg15: {e}")))?;
        Self::from_spki(t.value)
    }

    /// An RSA key: modulus and public exponent, big-endian (leading zeros allowed).
    pub fn rsa(modulus: &[u8], exponent: &[u8]) -> Result<AaPublicKey, AaError> {
        let n = strip_zeros(modulus);
        let e = strip_zeros(exponent);
        rsa_bits_supported(bit_len(n))?;
        if n.last().is_none_or(|b| b & 1 == 0) {
            return Err(AaError::BadKey("rsa modulus is even".into()));
        }
        // An exponent of 1 opens every signature to itself; an even one is no RSA key.
        if e.len() > 8 || e.last().is_none_or(|b| b & 1 == 0) || e == [1] {
            return Err(AaError::BadKey(format!("rsa public exponent {} is not an odd number from 3 to 2^64", hex::encode(e))));
        }
        if e.len() >= n.len() {
            return Err(AaError::BadKey("rsa public exponent is not below the modulus".into()));
        }
        Ok(AaPublicKey::Rsa { modulus: n.to_vec(), exponent: e.to_vec() })
    }

    fn rsa_from_pkcs1(key: &[u8]) -> Result<AaPublicKey, AaError> {
        let seq = pkider::parse_one(key, 0x30, "RSAPublicKey").map_err(bad_key)?;
        let mut r = seq.children();
        let n = pkider::integer(&pkider::take(&mut r, 0x02, "RSAPublicKey.modulus").map_err(bad_key)?, "RSAPublicKey.modulus")
            .map_err(bad_key)?;
        let e = pkider::integer(
            &pkider::take(&mut r, 0x02, "RSAPublicKey.publicExponent").map_err(bad_key)?,
            "RSAPublicKey.publicExponent",
        )
        .map_err(bad_key)?;
        pkider::finish(&r, "RSAPublicKey").map_err(bad_key)?;
        if n[0] & 0x80 != 0 || e[0] & 0x80 != 0 {
            return Err(AaError::BadKey("negative rsa modulus or exponent".into()));
        }
        Self::rsa(n, e)
    }

    /// An EC key: the curve and a SEC 1 point, checked to lie on the curve.
    pub fn ec(curve: Curve, point: &[u8]) -> Result<AaPublicKey, AaError> {
        Self::ec_from_point(curve, point)
    }

    fn ec_from_point(curve: Curve, point: &[u8]) -> Result<AaPublicKey, AaError> {
        let group = group_of(curve)?;
        let mut ctx = BigNumContext::new().map_err(library("allocating a bignum context"))?;
        let p = EcPoint::from_bytes(&group, point, &mut ctx)
            .map_err(|_| AaError::BadKey(format!("ec point of {} bytes is not a point of {}", point.len(), curve.name())))?;
        let k = EcKey::from_public_key(&group, &p).map_err(bad_key)?;
        k.check_key().map_err(|_| AaError::BadKey(format!("ec point is not a valid public key on {}", curve.name())))?;
        Ok(AaPublicKey::Ec { curve, point: point.to_vec() })
    }

    /// `rsa 2048`, `ecdsa brainpoolP256r1`.
    pub fn describe(&self) -> String {
        match self {
            AaPublicKey::Rsa { modulus, .. } => format!("rsa {}", bit_len(modulus)),
            AaPublicKey::Ec { curve, .. } => format!("ecdsa {}", curve.name()),
        }
    }

    /// The modulus length (RSA) or the curve's field size (EC), in bits.
    pub fn bits(&self) -> usize {
        match self {
            AaPublicKey::Rsa { modulus, .. } => bit_len(modulus),
            AaPublicKey::Ec { curve, .. } => curve.field_bits(),
        }
    }

    /// The length of a signature with this key: the modulus length (RSA), twice the order's (EC).
    pub fn signature_len(&self) -> usize {
        match self {
            AaPublicKey::Rsa { modulus, .. } => modulus.len(),
            AaPublicKey::Ec { curve, .. } => 2 * curve.order_len(),
        }
    }
}

/// The ISO/IEC 10118-3 hash identifiers of the ISO/IEC 9796-2 trailer `hh CC`.
fn hash_id(d: DigestAlg) -> u8 {
    match d {
        DigestAlg::Sha1 => 0x33,
        DigestAlg::Sha256 => 0x34,
        DigestAlg::Sha512 => 0x35,
        DigestAlg::Sha384 => 0x36,
        DigestAlg::Sha224 => 0x38,
    }
}

fn hash_of_id(id: u8) -> Option<DigestAlg> {
    DigestAlg::ALL.into_iter().find(|&d| hash_id(d) == id)
}

/// A hash by name (`sha-1`, `SHA256`, `sha-384`, ...).
fn hash_by_name(name: &str) -> Option<DigestAlg> {
    let norm: String = name.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_ascii_lowercase();
    DigestAlg::ALL.into_iter().find(|d| d.name().replace('-', "") == norm)
}

/// The hash an ActiveAuthenticationInfo.signatureAlgorithm names: BSI TR-03111 ecdsa-plain-SHA*
/// (what 9303-11 section 9.2.8 specifies), or an X9.62 ecdsa-with-SHA* some chips name instead
/// (the signature is read in the plain form all the same).
pub fn ecdsa_hash_of_oid(o: &str) -> Option<DigestAlg> {
    match o {
        oid::ECDSA_SHA1 => Some(DigestAlg::Sha1),
        oid::ECDSA_SHA224 => Some(DigestAlg::Sha224),
        oid::ECDSA_SHA256 => Some(DigestAlg::Sha256),
        oid::ECDSA_SHA384 => Some(DigestAlg::Sha384),
        oid::ECDSA_SHA512 => Some(DigestAlg::Sha512),
        _ => match o.strip_prefix(oid::ECDSA_PLAIN_PREFIX)? {
            "1" => Some(DigestAlg::Sha1),
            "2" => Some(DigestAlg::Sha224),
            "3" => Some(DigestAlg::Sha256),
            "4" => Some(DigestAlg::Sha384),
            "5" => Some(DigestAlg::Sha512),
            _ => None,
        },
    }
}

/// The BSI TR-03111 ecdsa-plain OID of a hash.
fn ecdsa_plain_oid(d: DigestAlg) -> &'static str {
    match d {
        DigestAlg::Sha1 => "0.4.0.127.0.7.1.1.4.1.1",
        DigestAlg::Sha224 => "0.4.0.127.0.7.1.1.4.1.2",
        DigestAlg::Sha256 => "0.4.0.127.0.7.1.1.4.1.3",
        DigestAlg::Sha384 => "0.4.0.127.0.7.1.1.4.1.4",
        DigestAlg::Sha512 => "0.4.0.127.0.7.1.1.4.1.5",
    }
}

/// What an ISO/IEC 9796-2 scheme 1 representative holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovered<'a> {
    /// Header `6x`: partial recovery (M = M1 || M2); `4x`: total recovery (M = M1).
    pub partial: bool,
    /// The recoverable part M1.
    pub m1: &'a [u8],
    /// The digest D = H(M).
    pub digest: &'a [u8],
    pub hash: DigestAlg,
    /// Trailer `hh CC` (true) or `BC` (false).
    pub explicit_trailer: bool,
}

/// Split an ISO/IEC 9796-2 scheme 1 representative (the bytes after the raw RSA operation,
/// without the leading zero byte of a modulus one bit past a byte boundary) into its fields.
pub fn parse_representative(f: &[u8]) -> Result<Recovered<'_>, AaError> {
    let (&last, _) = f.split_last().ok_or(AaError::WrongTrailer { found: "(none)".into() })?;
    let (hash, t) = match last {
        0xBC => (DigestAlg::Sha1, 1),
        0xCC => {
            let id = *f.len().checked_sub(2).and_then(|i| f.get(i)).ok_or(AaError::WrongTrailer { found: "cc".into() })?;
            (hash_of_id(id).ok_or(AaError::UnsupportedHashId(id))?, 2)
        }
        _ => {
            let start = f.len().saturating_sub(2);
            return Err(AaError::WrongTrailer { found: hex::encode(f.get(start..).unwrap_or_default()) });
        }
    };
    let header = f[0];
    if header & 0xC0 != 0x40 {
        return Err(AaError::WrongHeader { found: header, detail: "" });
    }
    let partial = header & 0x20 != 0;
    let m1_start = match header & 0x1F {
        0x0A => 1,
        0x0B => {
            // Padding: bytes BB, then BA (the low nibble A ends it).
            let end = f.iter().skip(1).position(|&b| b != 0xBB).map(|p| p + 1);
            match end.and_then(|i| f.get(i).map(|&b| (i, b))) {
                Some((i, 0xBA)) => i + 1,
                _ => return Err(AaError::WrongHeader { found: header, detail: ": the padding does not end in ba" }),
            }
        }
        _ => return Err(AaError::WrongHeader { found: header, detail: "" }),
    };
    let hlen = hash.output_len();
    let digest_start = f.len().checked_sub(t + hlen).filter(|&d| d >= m1_start).ok_or(AaError::ShortRepresentative { len: f.len(), hash: hash.name() })?;
    Ok(Recovered {
        partial,
        m1: &f[m1_start..digest_start],
        digest: &f[digest_start..f.len() - t],
        hash,
        explicit_trailer: t == 2,
    })
}

/// Build the representative `6A || M1 || H(M1 || m2) || trailer` (partial recovery, no padding);
/// for a representative of a key's full length, `m1` takes [`m1_capacity`] bytes.
pub fn build_representative(m1: &[u8], m2: &[u8], hash: DigestAlg, explicit_trailer: bool) -> Vec<u8> {
    let mut m = m1.to_vec();
    m.extend_from_slice(m2);
    let mut f = Vec::with_capacity(1 + m1.len() + hash.output_len() + 2);
    f.push(0x6A);
    f.extend_from_slice(m1);
    f.extend_from_slice(&hash.digest(&m));
    if explicit_trailer {
        f.extend_from_slice(&[hash_id(hash), 0xCC]);
    } else {
        f.push(0xBC);
    }
    f
}

/// Bytes of the ISO/IEC 9796-2 representative of a modulus of `bits`: it takes `bits - 1` bits.
pub fn representative_len(bits: usize) -> usize {
    bits.saturating_sub(1).div_ceil(8)
}

/// Bytes of M1 a representative of `len` bytes holds (header 6A, no padding).
pub fn m1_capacity(len: usize, hash: DigestAlg, explicit_trailer: bool) -> Option<usize> {
    len.checked_sub(1 + hash.output_len() + if explicit_trailer { 2 } else { 1 })
}

/// Verify the chip's answer to INTERNAL AUTHENTICATE with the 8-byte challenge. `ecdsa_hash_oid`
/// is DG14's ActiveAuthenticationInfo.signatureAlgorithm (dotted OID, e.g. ecdsa-plain-SHA256
/// 0.4.0.127.0.7.1.1.4.1.3), needed for EC keys (ignored for RSA, whose trailer names the hash).
pub fn verify(key: &AaPublicKey, ecdsa_hash_oid: Option<&str>, challenge: &[u8; 8], signature: &[u8]) -> Result<AaScheme, AaError> {
    match key {
        AaPublicKey::Rsa { modulus, exponent } => verify_rsa(modulus, exponent, challenge, signature),
        AaPublicKey::Ec { curve, point } => {
            let o = ecdsa_hash_oid.ok_or(AaError::MissingHashOid)?;
            let hash = ecdsa_hash_of_oid(o).ok_or_else(|| AaError::UnsupportedAlgorithm(o.to_string()))?;
            verify_ecdsa(*curve, point, hash, challenge, signature)
        }
    }
}

/// Open an RSA signature: `J = s^e mod n` as many bytes as the modulus (OpenSSL, no padding).
fn rsa_open(modulus: &[u8], exponent: &[u8], signature: &[u8]) -> Result<Vec<u8>, AaError> {
    if signature.len() != modulus.len() {
        return Err(AaError::BadSignatureLength { got: signature.len(), expected: modulus.len(), what: "rsa modulus" });
    }
    let n = BigNum::from_slice(modulus).map_err(library("reading the modulus"))?;
    let s = BigNum::from_slice(signature).map_err(library("reading the signature"))?;
    if s.ucmp(&n) != std::cmp::Ordering::Less {
        return Err(AaError::SignatureOutOfRange);
    }
    let e = BigNum::from_slice(exponent).map_err(library("reading the exponent"))?;
    let rsa = Rsa::from_public_components(n, e).map_err(bad_key)?;
    let mut out = vec![0u8; rsa.size() as usize];
    let len = rsa.public_decrypt(signature, &mut out, Padding::NONE).map_err(bad_key)?;
    out.truncate(len);
    // OpenSSL writes the result padded to the modulus length; make sure of it.
    if out.len() < modulus.len() {
        let mut padded = vec![0u8; modulus.len() - out.len()];
        padded.extend_from_slice(&out);
        out = padded;
    }
    Ok(out)
}

/// `n - j`, padded to the modulus length.
fn complement(modulus: &[u8], j: &[u8]) -> Result<Vec<u8>, AaError> {
    let n = BigNum::from_slice(modulus).map_err(library("reading the modulus"))?;
    let j = BigNum::from_slice(j).map_err(library("reading the representative"))?;
    let mut d = BigNum::new().map_err(library("allocating a bignum"))?;
    d.checked_sub(&n, &j).map_err(library("subtracting"))?;
    d.to_vec_padded(modulus.len() as i32).map_err(library("encoding n - j"))
}

fn verify_rsa(modulus: &[u8], exponent: &[u8], challenge: &[u8; 8], signature: &[u8]) -> Result<AaScheme, AaError> {
    let bits = bit_len(modulus);
    rsa_bits_supported(bits)?;
    let mut j = rsa_open(modulus, exponent, signature)?;
    // ISO/IEC 9796-2 lets the signer send n - J (the smaller of the two): the representative is
    // the one whose last nibble is C.
    if j.last().is_some_and(|b| b & 0x0F != 0x0C) {
        let alt = complement(modulus, &j)?;
        if alt.last().is_some_and(|b| b & 0x0F == 0x0C) {
            j = alt;
        }
    }
    // A modulus of 8k + 1 bits: the representative is the k bytes after a zero byte.
    let f = if bits % 8 == 1 {
        match j.split_first() {
            Some((0, rest)) => rest,
            _ => return Err(AaError::WrongHeader { found: j.first().copied().unwrap_or(0), detail: ": the representative exceeds the modulus length less one bit" }),
        }
    } else {
        &j[..]
    };
    let rec = parse_representative(f)?;
    let computed = if rec.partial {
        let mut m = rec.m1.to_vec();
        m.extend_from_slice(challenge);
        rec.hash.digest(&m)
    } else {
        if rec.m1.len() != challenge.len() || !bool::from(rec.m1.ct_eq(challenge)) {
            return Err(AaError::ChallengeMismatch);
        }
        rec.hash.digest(rec.m1)
    };
    if computed.len() != rec.digest.len() || !bool::from(computed.ct_eq(rec.digest)) {
        return Err(AaError::HashMismatch { hash: rec.hash.name() });
    }
    Ok(AaScheme::RsaIso9796_2 { hash: rec.hash.name() })
}

fn verify_ecdsa(curve: Curve, point: &[u8], hash: DigestAlg, challenge: &[u8; 8], signature: &[u8]) -> Result<AaScheme, AaError> {
    let expected = 2 * curve.order_len();
    if signature.len() != expected {
        return Err(AaError::BadSignatureLength { got: signature.len(), expected, what: "plain ecdsa signature r || s" });
    }
    let key = PublicKey::from_parts(
        AlgorithmIdentifier { oid: AlgorithmIdentifier::new(oid::EC_PUBLIC_KEY).oid, params: Some(pkider::enc_oid(curve.oid())) },
        point.to_vec(),
    );
    let sig_alg = AlgorithmIdentifier::new(ecdsa_plain_oid(hash));
    match alg::verify(&key, &sig_alg, None, challenge, signature) {
        Ok(()) => Ok(AaScheme::Ecdsa { hash: hash.name() }),
        Err(VerifyError::Invalid) => Err(AaError::EcdsaInvalid { hash: hash.name(), curve: curve.name() }),
        Err(VerifyError::Unsupported { oid }) => Err(AaError::UnsupportedAlgorithm(oid)),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PrivKind {
    Rsa { bits: usize, hash: DigestAlg, explicit_trailer: bool },
    Ec { curve: Curve, hash: DigestAlg },
}

/// An Active Authentication private key, for test chips (the emulator, personalisation of test
/// cards). Its Debug prints the key type and REDACTED.
#[derive(Clone)]
pub struct AaPrivateKey {
    pkey: PKey<Private>,
    kind: PrivKind,
    spki: Vec<u8>,
}

impl fmt::Debug for AaPrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AaPrivateKey({}, {}, REDACTED)", self.describe(), self.hash_name())
    }
}

/// The hash a chip with a key on `curve` uses by default: the one matching the order's size.
fn default_ec_hash(curve: Curve) -> DigestAlg {
    match curve {
        Curve::P224 | Curve::BrainpoolP224r1 => DigestAlg::Sha224,
        Curve::P256 | Curve::BrainpoolP256r1 => DigestAlg::Sha256,
        Curve::BrainpoolP320r1 | Curve::P384 | Curve::BrainpoolP384r1 => DigestAlg::Sha384,
        Curve::P521 | Curve::BrainpoolP512r1 => DigestAlg::Sha512,
    }
}

fn curve_by_name(name: &str) -> Option<Curve> {
    let norm = |s: &str| s.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_ascii_lowercase();
    let want = norm(name);
    let alias = match want.as_str() {
        "secp224r1" => Some(Curve::P224),
        "secp256r1" | "prime256v1" => Some(Curve::P256),
        "secp384r1" => Some(Curve::P384),
        "secp521r1" => Some(Curve::P521),
        _ => None,
    };
    alias.or_else(|| Curve::ALL.into_iter().find(|c| norm(c.name()) == want))
}

impl AaPrivateKey {
    fn new(pkey: PKey<Private>, kind: PrivKind) -> Result<Self, AaError> {
        let spki = pkey.public_key_to_der().map_err(library("encoding the public key"))?;
        Ok(AaPrivateKey { pkey, kind, spki })
    }

    /// A fresh RSA key of `bits` (1024 to 4096, a multiple of 8), public exponent 65537, signing
    /// with SHA-1 and trailer BC (change with [`AaPrivateKey::with_hash`]).
    pub fn generate_rsa(bits: usize) -> Result<Self, AaError> {
        rsa_bits_supported(bits)?;
        if !bits.is_multiple_of(8) {
            return Err(AaError::UnsupportedKey(format!("rsa {bits}: generated keys take a multiple of 8 bits")));
        }
        let rsa = Rsa::generate(bits as u32).map_err(library("generating an rsa key"))?;
        let pkey = PKey::from_rsa(rsa).map_err(library("wrapping an rsa key"))?;
        Self::new(pkey, PrivKind::Rsa { bits, hash: DigestAlg::Sha1, explicit_trailer: false })
    }

    /// A fresh EC key on `curve` (`P-256`, `brainpoolP256r1`, `secp384r1`, ...), signing with the
    /// hash of the order's size (SHA-256 on 256-bit curves, ...).
    pub fn generate_ec(curve: &str) -> Result<Self, AaError> {
        let c = curve_by_name(curve).ok_or_else(|| AaError::UnsupportedKey(format!("ecdsa on unknown curve {curve}")))?;
        let group = group_of(c)?;
        let ec = EcKey::generate(&group).map_err(library("generating an ec key"))?;
        let pkey = PKey::from_ec_key(ec).map_err(library("wrapping an ec key"))?;
        Self::new(pkey, PrivKind::Ec { curve: c, hash: default_ec_hash(c) })
    }

    /// A PKCS#8 PrivateKeyInfo (unencrypted DER), as [`AaPrivateKey::to_pkcs8_der`] writes it. The
    /// hash is the default one (SHA-1 with trailer BC for RSA; by curve for EC).
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, AaError> {
        let pkey = PKey::private_key_from_pkcs8(der).map_err(|e| AaError::BadPrivateKey(format!("pkcs#8: {e}")))?;
        let kind = match pkey.id() {
            Id::RSA => {
                let bits = pkey.bits() as usize;
                rsa_bits_supported(bits).map_err(|e| AaError::BadPrivateKey(e.to_string()))?;
                PrivKind::Rsa { bits, hash: DigestAlg::Sha1, explicit_trailer: false }
            }
            Id::EC => {
                let ec = pkey.ec_key().map_err(|e| AaError::BadPrivateKey(e.to_string()))?;
                let c = ec
                    .group()
                    .curve_name()
                    .and_then(curve_of_nid)
                    .ok_or_else(|| AaError::BadPrivateKey("ec key on a curve that is not supported (or not named)".into()))?;
                ec.check_key().map_err(|e| AaError::BadPrivateKey(format!("ec key on {}: {e}", c.name())))?;
                // Re-wrap with a named-curve group so that the SPKI names the curve.
                let group = group_of(c)?;
                let fixed = EcKey::from_private_components(&group, ec.private_key(), ec.public_key())
                    .map_err(|e| AaError::BadPrivateKey(e.to_string()))?;
                let pkey = PKey::from_ec_key(fixed).map_err(library("wrapping an ec key"))?;
                return Self::new(pkey, PrivKind::Ec { curve: c, hash: default_ec_hash(c) });
            }
            other => return Err(AaError::BadPrivateKey(format!("unsupported key type {other:?}"))),
        };
        Self::new(pkey, kind)
    }

    /// The key as an unencrypted PKCS#8 PrivateKeyInfo (DER), to store a test chip's key in a file.
    pub fn to_pkcs8_der(&self) -> Result<Vec<u8>, AaError> {
        self.pkey.private_key_to_pkcs8().map_err(library("encoding pkcs#8"))
    }

    /// The hash the answers use: `sha-1`, `sha-256`, ... For RSA, SHA-1 takes trailer BC, the
    /// others `hh CC` (see [`AaPrivateKey::with_explicit_trailer`]); for EC it sets
    /// [`AaPrivateKey::ecdsa_hash_oid`].
    pub fn with_hash(mut self, hash: &str) -> Result<Self, AaError> {
        let d = hash_by_name(hash).ok_or_else(|| AaError::UnsupportedAlgorithm(format!("hash {hash}")))?;
        self.kind = match self.kind {
            PrivKind::Rsa { bits, .. } => PrivKind::Rsa { bits, hash: d, explicit_trailer: d != DigestAlg::Sha1 },
            PrivKind::Ec { curve, .. } => PrivKind::Ec { curve, hash: d },
        };
        Ok(self)
    }

    /// RSA: the trailer names the hash (`33 CC` for SHA-1) instead of the implicit `BC`. Only SHA-1
    /// has an implicit trailer, so `false` with another hash is ignored. No effect on EC keys.
    pub fn with_explicit_trailer(mut self, explicit: bool) -> Self {
        if let PrivKind::Rsa { bits, hash, .. } = self.kind {
            self.kind = PrivKind::Rsa { bits, hash, explicit_trailer: explicit || hash != DigestAlg::Sha1 };
        }
        self
    }

    /// The SubjectPublicKeyInfo (DER) DG15 carries.
    pub fn spki_der(&self) -> Vec<u8> {
        self.spki.clone()
    }

    /// DG15: `6F L SubjectPublicKeyInfo`.
    pub fn dg15(&self) -> Vec<u8> {
        tlv::encode(DG15_TAG, &self.spki)
    }

    /// The public half.
    pub fn public_key(&self) -> Result<AaPublicKey, AaError> {
        AaPublicKey::from_spki(&self.spki)
    }

    /// `rsa 2048`, `ecdsa brainpoolP256r1`.
    pub fn describe(&self) -> String {
        match self.kind {
            PrivKind::Rsa { bits, .. } => format!("rsa {bits}"),
            PrivKind::Ec { curve, .. } => format!("ecdsa {}", curve.name()),
        }
    }

    /// `sha-1`, `sha-256`, ...
    pub fn hash_name(&self) -> &'static str {
        match self.kind {
            PrivKind::Rsa { hash, .. } | PrivKind::Ec { hash, .. } => hash.name(),
        }
    }

    /// For EC keys, the ActiveAuthenticationInfo.signatureAlgorithm DG14 must carry
    /// (ecdsa-plain-SHA*, BSI TR-03111); `None` for RSA.
    pub fn ecdsa_hash_oid(&self) -> Option<&'static str> {
        match self.kind {
            PrivKind::Ec { hash, .. } => Some(ecdsa_plain_oid(hash)),
            PrivKind::Rsa { .. } => None,
        }
    }

    /// The card's answer to INTERNAL AUTHENTICATE: RSA ISO/IEC 9796-2 digital signature scheme 1
    /// (header 6A, a random M1 filling the representative, M2 = the challenge; trailer BC for
    /// SHA-1, `hh CC` otherwise), or ECDSA plain `r || s` (BSI TR-03111) over the hash of the
    /// challenge, each half padded to the order's length.
    pub fn sign(&self, challenge: &[u8]) -> Result<Vec<u8>, AaError> {
        match self.kind {
            PrivKind::Rsa { bits, hash, explicit_trailer } => {
                let len = representative_len(bits);
                let cap = m1_capacity(len, hash, explicit_trailer)
                    .ok_or(AaError::MessageTooLong { len: challenge.len(), capacity: 0 })?;
                let mut m1 = vec![0u8; cap];
                openssl::rand::rand_bytes(&mut m1).map_err(library("drawing m1"))?;
                self.sign_representative(&build_representative(&m1, challenge, hash, explicit_trailer))
            }
            PrivKind::Ec { curve, hash } => {
                let ec = self.pkey.ec_key().map_err(library("reading the ec key"))?;
                let sig = EcdsaSig::sign(&hash.digest(challenge), &ec).map_err(library("signing"))?;
                let n = curve.order_len() as i32;
                let mut out = sig.r().to_vec_padded(n).map_err(library("encoding r"))?;
                out.extend(sig.s().to_vec_padded(n).map_err(library("encoding s"))?);
                Ok(out)
            }
        }
    }

    /// The raw RSA private operation on a representative (`J^d mod n`, padded to the modulus
    /// length): for tests that build a representative of their own (wrong headers, trailers).
    pub fn sign_representative(&self, f: &[u8]) -> Result<Vec<u8>, AaError> {
        let PrivKind::Rsa { bits, .. } = self.kind else {
            return Err(AaError::UnsupportedKey(format!("{}: no iso/iec 9796-2 representative", self.describe())));
        };
        let rsa = self.pkey.rsa().map_err(library("reading the rsa key"))?;
        let len = bits.div_ceil(8);
        if f.len() > len {
            return Err(AaError::MessageTooLong { len: f.len(), capacity: len });
        }
        let mut block = vec![0u8; len - f.len()];
        block.extend_from_slice(f);
        let mut out = vec![0u8; rsa.size() as usize];
        let n = rsa.private_encrypt(&block, &mut out, Padding::NONE).map_err(library("the rsa private operation"))?;
        out.truncate(n);
        Ok(out)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
#[path = "active_auth_tests.rs"]
mod tests;

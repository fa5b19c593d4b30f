//! The key-agreement groups PACE and Chip Authentication share: the standardized domain
//! parameters of ICAO 9303-11 section 9.5.1 (the RFC 5114 MODP groups with prime-order subgroups
//! and the NIST and brainpool curves), domains read from a Chip Authentication public key
//! (a DG14 SubjectPublicKeyInfo, named or explicit), key pairs, Diffie-Hellman key agreement with
//! validation of the peer's key, and the PACE Generic Mapping (ICAO 9303-11 4.4.3.3.1). This
//! module owns choosing the library that computes, the byte encodings (every field element and
//! coordinate padded to the length of the prime p) and refusing malformed or invalid public keys;
//! it does no field, point or modular arithmetic itself.
//!
//! Libraries: the RustCrypto curve crates for P-256 (`p256`, elliptic-curve 0.13), P-384, P-521,
//! brainpoolP256r1 and brainpoolP384r1 (`p384`, `p521`, `bp256`, `bp384`, elliptic-curve 0.14);
//! OpenSSL (the `openssl` crate) for brainpoolP512r1, which no RustCrypto crate covers, and for
//! the MODP groups (`BN_mod_exp` with the constant-time flag on secret exponents). The curve table
//! (prime, coefficients, generator, order) and the matching of explicit ECParameters are
//! `idcheck_core::pki::alg::curves`, shared with passive authentication.
//!
//! Encodings: an EC public key or generator is `04 || X || Y`, a DH public key or generator is the
//! element; an EC shared secret is the X coordinate, a DH shared secret the element; all of them
//! padded to [`Domain::field_len`] bytes. Private keys are big-endian, padded to the order's length
//! (EC, and DH with a subgroup order q) or to the prime's (DH without q).

use std::fmt;

use idcheck_core::pki::alg::curves::{self, Curve, CurveParams};
use idcheck_core::pki::Oid;
use idcheck_core::tlv::{self, Reader, Tlv};
use openssl::bn::{BigNum, BigNumContext, BigNumRef};
use openssl::error::ErrorStack;
use p256::elliptic_curve::zeroize::Zeroizing;

use crate::access::{Randomness, RandomnessError};

/// Why a group operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroupError {
    /// Domain parameters, a curve or a key algorithm this module does not support.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The peer's public key (or a public key read from a SubjectPublicKeyInfo) is malformed or
    /// not a valid element: wrong length, off the curve, the identity, outside [2, p-2], not in
    /// the subgroup.
    #[error("invalid public key: {0}")]
    InvalidPublicKey(String),
    /// A private key outside [1, order-1] or longer than the order.
    #[error("invalid private key: not in [1, order-1]")]
    InvalidPrivateKey,
    /// A SubjectPublicKeyInfo that could not be read or written.
    #[error("subject public key info: {0}")]
    Spki(String),
    #[error(transparent)]
    Randomness(#[from] RandomnessError),
    /// The generic mapping could not be computed (a nonce longer than the order, a mapped
    /// generator that is the identity or 1, a shared secret of another group).
    #[error("generic mapping: {0}")]
    Mapping(String),
    /// The underlying library failed.
    #[error("openssl: {0}")]
    Backend(String),
}

fn ossl(e: ErrorStack) -> GroupError {
    GroupError::Backend(e.to_string())
}

/// The standardized domain parameters of ICAO 9303-11 section 9.5.1 this module supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StandardDomain {
    /// 1024-bit MODP group with 160-bit prime order subgroup (RFC 5114 2.1), id 0.
    Modp1024_160,
    /// 2048-bit MODP group with 224-bit prime order subgroup (RFC 5114 2.2), id 1.
    Modp2048_224,
    /// 2048-bit MODP group with 256-bit prime order subgroup (RFC 5114 2.3), id 2.
    Modp2048_256,
    /// NIST P-256 (secp256r1), id 12.
    P256,
    /// NIST P-384 (secp384r1), id 15.
    P384,
    /// NIST P-521 (secp521r1), id 18.
    P521,
    /// brainpoolP256r1 (RFC 5639), id 13.
    BrainpoolP256r1,
    /// brainpoolP384r1 (RFC 5639), id 16.
    BrainpoolP384r1,
    /// brainpoolP512r1 (RFC 5639), id 17.
    BrainpoolP512r1,
}

impl StandardDomain {
    pub const ALL: [StandardDomain; 9] = [
        StandardDomain::Modp1024_160,
        StandardDomain::Modp2048_224,
        StandardDomain::Modp2048_256,
        StandardDomain::P256,
        StandardDomain::P384,
        StandardDomain::P521,
        StandardDomain::BrainpoolP256r1,
        StandardDomain::BrainpoolP384r1,
        StandardDomain::BrainpoolP512r1,
    ];

    /// The domain of a standardized domain parameter id (ICAO 9303-11 9.5.1, table
    /// "standardized domain parameters"). The defined ids this module does not support (P-192,
    /// P-224 and the 192-, 224- and 320-bit brainpool curves) and undefined ids are
    /// [`GroupError::Unsupported`], naming the id.
    pub fn from_parameter_id(id: u32) -> Result<StandardDomain, GroupError> {
        let unsupported = |what: &str| Err(GroupError::Unsupported(format!("standardized domain parameters id {id} ({what})")));
        match id {
            0 => Ok(StandardDomain::Modp1024_160),
            1 => Ok(StandardDomain::Modp2048_224),
            2 => Ok(StandardDomain::Modp2048_256),
            12 => Ok(StandardDomain::P256),
            13 => Ok(StandardDomain::BrainpoolP256r1),
            15 => Ok(StandardDomain::P384),
            16 => Ok(StandardDomain::BrainpoolP384r1),
            17 => Ok(StandardDomain::BrainpoolP512r1),
            18 => Ok(StandardDomain::P521),
            8 => unsupported("nist p-192"),
            9 => unsupported("brainpoolP192r1"),
            10 => unsupported("nist p-224"),
            11 => unsupported("brainpoolP224r1"),
            14 => unsupported("brainpoolP320r1"),
            3..=7 | 19..=31 => unsupported("reserved for future use"),
            _ => unsupported("not defined"),
        }
    }

    /// The standardized domain parameter id (ICAO 9303-11 9.5.1).
    pub fn parameter_id(self) -> u32 {
        match self {
            StandardDomain::Modp1024_160 => 0,
            StandardDomain::Modp2048_224 => 1,
            StandardDomain::Modp2048_256 => 2,
            StandardDomain::P256 => 12,
            StandardDomain::BrainpoolP256r1 => 13,
            StandardDomain::P384 => 15,
            StandardDomain::BrainpoolP384r1 => 16,
            StandardDomain::BrainpoolP512r1 => 17,
            StandardDomain::P521 => 18,
        }
    }

    pub fn is_ec(self) -> bool {
        self.curve().is_some()
    }

    /// The curve of an EC domain.
    pub fn curve(self) -> Option<Curve> {
        Some(match self {
            StandardDomain::P256 => Curve::P256,
            StandardDomain::P384 => Curve::P384,
            StandardDomain::P521 => Curve::P521,
            StandardDomain::BrainpoolP256r1 => Curve::BrainpoolP256r1,
            StandardDomain::BrainpoolP384r1 => Curve::BrainpoolP384r1,
            StandardDomain::BrainpoolP512r1 => Curve::BrainpoolP512r1,
            StandardDomain::Modp1024_160 | StandardDomain::Modp2048_224 | StandardDomain::Modp2048_256 => return None,
        })
    }

    /// Short name for logs and reports: `MODP-1024/160`, `P-256`, `brainpoolP256r1`.
    pub fn name(self) -> &'static str {
        match self {
            StandardDomain::Modp1024_160 => "MODP-1024/160",
            StandardDomain::Modp2048_224 => "MODP-2048/224",
            StandardDomain::Modp2048_256 => "MODP-2048/256",
            StandardDomain::P256 => "P-256",
            StandardDomain::P384 => "P-384",
            StandardDomain::P521 => "P-521",
            StandardDomain::BrainpoolP256r1 => "brainpoolP256r1",
            StandardDomain::BrainpoolP384r1 => "brainpoolP384r1",
            StandardDomain::BrainpoolP512r1 => "brainpoolP512r1",
        }
    }

    fn modp(self) -> Option<&'static Modp> {
        match self {
            StandardDomain::Modp1024_160 => Some(&MODP_1024_160),
            StandardDomain::Modp2048_224 => Some(&MODP_2048_224),
            StandardDomain::Modp2048_256 => Some(&MODP_2048_256),
            _ => None,
        }
    }
}

impl fmt::Display for StandardDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A key-agreement group and its generator: a curve with a base point (the standard one, or the
/// one the generic mapping gave), or a prime p with a generator g and, when known, the order q of
/// the subgroup g generates. Public values only.
#[derive(Clone, PartialEq, Eq)]
pub struct Domain {
    group: Group,
}

#[derive(Clone, PartialEq, Eq)]
enum Group {
    /// `generator` is `04 || X || Y`, each coordinate padded to the field length.
    Ec { curve: Curve, generator: Vec<u8> },
    /// `p` and `q` without leading zeros; `g` padded to the length of p.
    Dh { p: Vec<u8>, g: Vec<u8>, q: Option<Vec<u8>> },
}

impl fmt::Debug for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let standard = self.standard_domain().map(|s| s.name());
        match (&self.group, standard) {
            (_, Some(name)) => write!(f, "Domain({name})"),
            (Group::Ec { curve, generator }, None) => write!(f, "Domain({curve}, generator {})", hex::encode(generator)),
            (Group::Dh { p, g, q }, None) => {
                let q = q.as_ref().map_or("none".to_string(), |q| format!("{} bits", bit_len(q)));
                write!(f, "Domain(MODP-{} (q {q}), generator {})", bit_len(p), hex::encode(g))
            }
        }
    }
}

/// A private key and its public key on one domain. Debug prints the private key REDACTED.
#[derive(Clone)]
pub struct KeyPair {
    private: Zeroizing<Vec<u8>>,
    public: Vec<u8>,
}

impl KeyPair {
    /// The public key: `04 || X || Y` (EC) or `y` (DH), padded to the field length.
    pub fn public(&self) -> &[u8] {
        &self.public
    }

    /// The private key, big-endian, padded to the order's length. Secret: for persisting a test
    /// chip's key only.
    pub fn private_bytes(&self) -> &[u8] {
        &self.private
    }
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyPair {{ public: {}, private: REDACTED }}", hex::encode(&self.public))
    }
}

/// The result of a key agreement. Debug prints REDACTED.
#[derive(Clone)]
pub struct SharedSecret {
    /// The X coordinate (EC) or the element (DH), padded to the field length.
    secret: Zeroizing<Vec<u8>>,
    /// EC only: the whole shared point `04 || X || Y` (the generic mapping adds it).
    point: Option<Zeroizing<Vec<u8>>>,
}

impl SharedSecret {
    /// The shared secret as the key derivation takes it: the X coordinate (EC) or the element
    /// (DH), padded to the field length.
    pub fn secret_bytes(&self) -> &[u8] {
        &self.secret
    }

    /// EC only: the shared point `04 || X || Y` (PACE's H of the generic mapping).
    pub fn point_bytes(&self) -> Option<&[u8]> {
        self.point.as_deref().map(|p| p.as_slice())
    }
}

impl fmt::Debug for SharedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SharedSecret(REDACTED)")
    }
}

impl Domain {
    /// The standardized domain, with its standard generator.
    pub fn standard(d: StandardDomain) -> Domain {
        if let Some(curve) = d.curve() {
            return Domain { group: Group::Ec { curve, generator: standard_generator(curve) } };
        }
        let m = d.modp().unwrap_or(&MODP_1024_160);
        Domain { group: Group::Dh { p: m.p.to_vec(), g: pad(m.g, m.p.len()).unwrap_or_default(), q: Some(m.q.to_vec()) } }
    }

    /// The standardized domain this is, when it is one with its standard generator (a mapped
    /// domain is none).
    pub fn standard_domain(&self) -> Option<StandardDomain> {
        StandardDomain::ALL.into_iter().find(|&d| Domain::standard(d) == *self)
    }

    /// The curve of an EC domain.
    pub fn curve(&self) -> Option<Curve> {
        match &self.group {
            Group::Ec { curve, .. } => Some(*curve),
            Group::Dh { .. } => None,
        }
    }

    pub fn is_ec(&self) -> bool {
        matches!(self.group, Group::Ec { .. })
    }

    /// Bytes of the prime p: every coordinate, element and shared secret is padded to it.
    pub fn field_len(&self) -> usize {
        match &self.group {
            Group::Ec { curve, .. } => curve.field_len(),
            Group::Dh { p, .. } => p.len(),
        }
    }

    /// Bytes of a public key: `1 + 2 * field_len` (EC) or `field_len` (DH).
    pub fn public_len(&self) -> usize {
        if self.is_ec() {
            1 + 2 * self.field_len()
        } else {
            self.field_len()
        }
    }

    /// Bytes of a private key: the order's length (EC; DH with q) or the prime's (DH without q).
    pub fn private_len(&self) -> usize {
        match &self.group {
            Group::Ec { curve, .. } => curve.order_len(),
            Group::Dh { p, q, .. } => q.as_ref().unwrap_or(p).len(),
        }
    }

    /// The generator: `04 || X || Y` (EC) or `g` (DH), padded to the field length.
    pub fn generator(&self) -> &[u8] {
        match &self.group {
            Group::Ec { generator, .. } => generator,
            Group::Dh { g, .. } => g,
        }
    }

    /// A fresh key pair, the private key uniform in [1, order-1] (DH without q: [1, p-2]) by
    /// rejection sampling: candidates of the order's bit length are drawn until one is in range.
    pub fn generate(&self, rng: &mut dyn Randomness) -> Result<KeyPair, GroupError> {
        let (bound, len) = match &self.group {
            Group::Ec { curve, .. } => (curves_n(*curve), curve.order_len()),
            Group::Dh { p, q, .. } => (q.as_deref().unwrap_or(p), self.private_len()),
        };
        let bits = bit_len(bound);
        let top_mask: u8 = match bits % 8 {
            0 => 0xFF,
            r => (1u8 << r) - 1,
        };
        // The probability of a rejection is below 1/2 per candidate; 128 in a row means the
        // random source is broken.
        for _ in 0..128 {
            let mut candidate = Zeroizing::new(vec![0u8; len]);
            rng.fill(&mut candidate)?;
            let skip = len - bits.div_ceil(8);
            candidate[..skip].fill(0);
            if let Some(b) = candidate.get_mut(skip) {
                *b &= top_mask;
            }
            match self.key_pair(&candidate) {
                Err(GroupError::InvalidPrivateKey) => continue,
                other => return other,
            }
        }
        Err(GroupError::Randomness(RandomnessError("128 private key candidates out of range".into())))
    }

    /// The key pair of a given private key (big-endian, at most the order's length after leading
    /// zeros): for worked examples and test chips.
    pub fn key_pair(&self, private: &[u8]) -> Result<KeyPair, GroupError> {
        let private = Zeroizing::new(pad(strip(private), self.private_len()).ok_or(GroupError::InvalidPrivateKey)?);
        let public = match &self.group {
            Group::Ec { curve, generator } => ec_mul_add(*curve, generator, &private, false, None).map_err(|e| e.key())?,
            Group::Dh { p, g, q } => {
                let mut ctx = BigNumContext::new_secure().map_err(ossl)?;
                let x = secret_bn(&private)?;
                dh_private_in_range(&x, p, q.as_deref())?;
                let (gb, pb) = (bn(g)?, bn(p)?);
                let y = mod_exp(&gb, &x, &pb, &mut ctx)?;
                y.to_vec_padded(p.len() as i32).map_err(ossl)?
            }
        };
        Ok(KeyPair { private, public })
    }

    /// Refuse a peer's public key of the wrong length or form, off the curve (EC), the identity,
    /// outside [2, p-2] (DH), or outside the subgroup of order q (DH with q: y^q != 1).
    pub fn validate_public(&self, public: &[u8]) -> Result<(), GroupError> {
        match &self.group {
            Group::Ec { curve, .. } => {
                check_ec_encoding(*curve, public)?;
                ec_check_point(*curve, public).map_err(|e| e.peer())
            }
            Group::Dh { p, q, .. } => {
                let mut ctx = BigNumContext::new().map_err(ossl)?;
                dh_check_public(public, p, q.as_deref(), &mut ctx)
            }
        }
    }

    /// Validate the peer's public key ([`Domain::validate_public`]) and compute the shared
    /// element: `own.private * peer` (EC; the secret is its X coordinate) or
    /// `peer ^ own.private mod p` (DH).
    pub fn agree(&self, own: &KeyPair, peer_public: &[u8]) -> Result<SharedSecret, GroupError> {
        if own.private.len() != self.private_len() {
            return Err(GroupError::InvalidPrivateKey);
        }
        match &self.group {
            Group::Ec { curve, .. } => {
                check_ec_encoding(*curve, peer_public)?;
                let point = Zeroizing::new(ec_mul_add(*curve, peer_public, &own.private, false, None).map_err(|e| e.peer())?);
                let fl = curve.field_len();
                let secret = Zeroizing::new(point[1..1 + fl].to_vec());
                Ok(SharedSecret { secret, point: Some(point) })
            }
            Group::Dh { p, q, .. } => {
                let mut ctx = BigNumContext::new_secure().map_err(ossl)?;
                dh_check_public(peer_public, p, q.as_deref(), &mut ctx)?;
                let x = secret_bn(&own.private)?;
                dh_private_in_range(&x, p, q.as_deref())?;
                let (yb, pb) = (bn(peer_public)?, bn(p)?);
                let k = mod_exp(&yb, &x, &pb, &mut ctx)?;
                // Only reachable without q (a peer key of small order).
                if k.num_bits() <= 1 {
                    return Err(GroupError::InvalidPublicKey("the shared element is 1".into()));
                }
                let secret = Zeroizing::new(k.to_vec_padded(p.len() as i32).map_err(ossl)?);
                Ok(SharedSecret { secret, point: None })
            }
        }
    }

    /// PACE Generic Mapping (ICAO 9303-11 4.4.3.3.1): the domain with generator
    /// `G' = s * G + H` (EC, H the shared point of the mapping key agreement) or
    /// `g' = g^s * h mod p` (DH, h the shared element). `nonce` is s, big-endian, at most the
    /// order's length.
    pub fn map_generic(&self, nonce: &[u8], h: &SharedSecret) -> Result<Domain, GroupError> {
        let fl = self.field_len();
        match &self.group {
            Group::Ec { curve, generator } => {
                let hp = h.point.as_ref().ok_or_else(|| GroupError::Mapping("the shared secret is not a curve point".into()))?;
                if hp.len() != 1 + 2 * fl {
                    return Err(GroupError::Mapping("the shared point is of another curve".into()));
                }
                let s = Zeroizing::new(pad(nonce, curve.order_len()).ok_or_else(|| {
                    GroupError::Mapping(format!("nonce of {} bytes is longer than the order", nonce.len()))
                })?);
                let mapped = ec_mul_add(*curve, generator, &s, true, Some(hp)).map_err(|e| match e {
                    EcFail::Scalar => GroupError::Mapping("nonce not below the order".into()),
                    EcFail::Identity => GroupError::Mapping("the mapped generator is the identity".into()),
                    EcFail::Point(what) => GroupError::Mapping(format!("shared point: {what}")),
                    EcFail::Backend(e) => GroupError::Backend(e),
                })?;
                Ok(Domain { group: Group::Ec { curve: *curve, generator: mapped } })
            }
            Group::Dh { p, g, q } => {
                if h.point.is_some() || h.secret.len() != fl {
                    return Err(GroupError::Mapping("the shared secret is of another group".into()));
                }
                if nonce.len() > self.private_len() {
                    return Err(GroupError::Mapping(format!("nonce of {} bytes is longer than the order", nonce.len())));
                }
                let mut ctx = BigNumContext::new_secure().map_err(ossl)?;
                let pb = bn(p)?;
                let (gb, s, hb) = (bn(g)?, secret_bn(nonce)?, secret_bn(&h.secret)?);
                let gs = mod_exp(&gb, &s, &pb, &mut ctx)?;
                let mut mapped = BigNum::new_secure().map_err(ossl)?;
                mapped.mod_mul(&gs, &hb, &pb, &mut ctx).map_err(ossl)?;
                if mapped.num_bits() <= 1 {
                    return Err(GroupError::Mapping("the mapped generator is 0 or 1".into()));
                }
                let g = mapped.to_vec_padded(fl as i32).map_err(ossl)?;
                Ok(Domain { group: Group::Dh { p: p.clone(), g, q: q.clone() } })
            }
        }
    }

    /// The public key data object of `public` under a protocol OID (its content octets):
    /// `7F49 { 06 oid, 86 point }` (EC) or `7F49 { 06 oid, 84 y }` (DH), BSI TR-03110-3 D.3, the
    /// input of the PACE authentication token. The key must have this domain's length.
    pub fn encode_public(&self, protocol_oid: &[u8], public: &[u8]) -> Result<Vec<u8>, GroupError> {
        if public.len() != self.public_len() {
            return Err(GroupError::InvalidPublicKey(format!("public key of {} bytes, expected {}", public.len(), self.public_len())));
        }
        let tag = if self.is_ec() { 0x86 } else { 0x84 };
        Ok(tlv::encode_seq(0x7F49, &[tlv::encode(TAG_OID, protocol_oid), tlv::encode(tag, public)]))
    }

    /// A SubjectPublicKeyInfo for `public` on this domain, as a DG14 carries it:
    /// id-ecPublicKey with the named curve OID (EC; a mapped domain has no name and is refused),
    /// dhpublicnumber with DomainParameters `{p, g, q}` (DH; dhKeyAgreement with `{p, g}` without
    /// q). The public key is validated first.
    pub fn spki_der(&self, public: &[u8]) -> Result<Vec<u8>, GroupError> {
        self.validate_public(public)?;
        let (algorithm, key) = match &self.group {
            Group::Ec { curve, generator } => {
                if *generator != standard_generator(*curve) {
                    return Err(GroupError::Spki(format!("a {curve} domain with a mapped generator has no named curve")));
                }
                let named = curve_oid_content(*curve).ok_or_else(|| GroupError::Unsupported(format!("curve {curve}")))?;
                (vec![tlv::encode(TAG_OID, OID_EC_PUBLIC_KEY), tlv::encode(TAG_OID, named)], public.to_vec())
            }
            Group::Dh { p, g, q } => {
                let mut params = vec![der_uint(p), der_uint(g)];
                let oid = match q {
                    Some(q) => {
                        params.push(der_uint(q));
                        OID_DH_PUBLIC_NUMBER
                    }
                    None => OID_DH_KEY_AGREEMENT,
                };
                (vec![tlv::encode(TAG_OID, oid), tlv::encode_seq(TAG_SEQUENCE, &params)], der_uint(public))
            }
        };
        let mut bits = vec![0u8];
        bits.extend_from_slice(&key);
        Ok(tlv::encode_seq(TAG_SEQUENCE, &[tlv::encode_seq(TAG_SEQUENCE, &algorithm), tlv::encode(TAG_BIT_STRING, &bits)]))
    }

    /// A Chip Authentication public key: a SubjectPublicKeyInfo of DG14 with algorithm
    /// id-PK-ECDH or id-ecPublicKey (named curve or explicit ECParameters, matched to the known
    /// curves by p, a, b, G, n and cofactor), or id-PK-DH, dhpublicnumber (X9.42 DomainParameters
    /// `{p, g, q, j?, validationParms?}`) or dhKeyAgreement (PKCS #3 DHParameter
    /// `{p, g, privateValueLength?}`). Under id-PK-DH, a third integer longer than 64 bits is
    /// read as q, a shorter one as privateValueLength. Returns the domain and the public key in
    /// this module's encoding (`04 || X || Y` or `y`, padded to the field length; a compressed
    /// point is decompressed), validated.
    pub fn from_spki(spki_der: &[u8]) -> Result<(Domain, Vec<u8>), GroupError> {
        let bad = |what: &str, e: tlv::TlvError| GroupError::Spki(format!("{what}: {e}"));
        let spki = tlv::parse_single(spki_der, TAG_SEQUENCE).map_err(|e| bad("subjectPublicKeyInfo", e))?;
        let mut r = spki.children();
        let alg = r.expect(TAG_SEQUENCE).map_err(|e| bad("algorithm", e))?;
        let bits = r.expect(TAG_BIT_STRING).map_err(|e| bad("subjectPublicKey", e))?;
        if !r.is_empty() {
            return Err(GroupError::Spki("trailing bytes after subjectPublicKey".into()));
        }
        let key = match bits.value.split_first() {
            Some((0, key)) => key,
            _ => return Err(GroupError::Spki("subjectPublicKey is not a whole number of bytes".into())),
        };
        let mut ar = alg.children();
        let oid_tlv = ar.expect(TAG_OID).map_err(|e| bad("algorithm", e))?;
        let oid = Oid::from_content(oid_tlv.value).ok_or_else(|| GroupError::Spki("malformed algorithm oid".into()))?;
        let params = if ar.is_empty() { None } else { Some(ar.next_tlv().map_err(|e| bad("algorithm parameters", e))?) };
        if !ar.is_empty() {
            return Err(GroupError::Spki("trailing bytes after algorithm parameters".into()));
        }
        match oid.as_str() {
            oid::EC_PUBLIC_KEY | oid::PK_ECDH => {
                let raw = params.map(|p| p.raw(spki_der));
                let curve = curves::ec_params(raw).map_err(GroupError::Unsupported)?;
                let curve = match curve {
                    CurveParams::Named(c) | CurveParams::Explicit(c) => c,
                };
                if curve_oid_content(curve).is_none() {
                    return Err(GroupError::Unsupported(format!("curve {curve} for key agreement")));
                }
                let public = ec_normalize(curve, key).map_err(|e| e.peer())?;
                Ok((Domain { group: Group::Ec { curve, generator: standard_generator(curve) } }, public))
            }
            oid::PK_DH | oid::DH_PUBLIC_NUMBER | oid::DH_KEY_AGREEMENT => {
                let params = params.ok_or_else(|| GroupError::Spki("dh key without domain parameters".into()))?;
                let domain = dh_domain(oid.as_str(), &params)?;
                let y = tlv::parse_single(key, TAG_INTEGER).map_err(|e| bad("dh public key", e))?;
                let y = der_uint_value(y.value).ok_or_else(|| GroupError::Spki("dh public key is not a positive integer".into()))?;
                let public =
                    pad(y, domain.field_len()).ok_or_else(|| GroupError::InvalidPublicKey("dh public key longer than p".into()))?;
                domain.validate_public(&public)?;
                Ok((domain, public))
            }
            other => Err(GroupError::Unsupported(format!("public key algorithm {other} for key agreement"))),
        }
    }
}

/// Object identifiers of the key algorithms.
pub mod oid {
    /// id-ecPublicKey (RFC 5480).
    pub const EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
    /// id-PK-ECDH (BSI TR-03110-3 A.6.1, ICAO 9303-11 9.2.6).
    pub const PK_ECDH: &str = "0.4.0.127.0.7.2.2.1.2";
    /// id-PK-DH (BSI TR-03110-3 A.6.1, ICAO 9303-11 9.2.6).
    pub const PK_DH: &str = "0.4.0.127.0.7.2.2.1.1";
    /// dhpublicnumber (ANSI X9.42, RFC 3279).
    pub const DH_PUBLIC_NUMBER: &str = "1.2.840.10046.2.1";
    /// dhKeyAgreement (PKCS #3).
    pub const DH_KEY_AGREEMENT: &str = "1.2.840.113549.1.3.1";
}

const TAG_INTEGER: tlv::Tag = 0x02;
const TAG_BIT_STRING: tlv::Tag = 0x03;
const TAG_OID: tlv::Tag = 0x06;
const TAG_SEQUENCE: tlv::Tag = 0x30;

const OID_EC_PUBLIC_KEY: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01];
const OID_DH_PUBLIC_NUMBER: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3E, 0x02, 0x01];
const OID_DH_KEY_AGREEMENT: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x03, 0x01];

/// The named-curve OID content octets of a supported curve.
fn curve_oid_content(c: Curve) -> Option<&'static [u8]> {
    Some(match c {
        Curve::P256 => &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07],
        Curve::P384 => &[0x2B, 0x81, 0x04, 0x00, 0x22],
        Curve::P521 => &[0x2B, 0x81, 0x04, 0x00, 0x23],
        Curve::BrainpoolP256r1 => &[0x2B, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x07],
        Curve::BrainpoolP384r1 => &[0x2B, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x0B],
        Curve::BrainpoolP512r1 => &[0x2B, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x0D],
        Curve::P224 | Curve::BrainpoolP224r1 | Curve::BrainpoolP320r1 => return None,
    })
}

fn standard_generator(c: Curve) -> Vec<u8> {
    let k = c.params();
    let mut g = Vec::with_capacity(1 + k.gx.len() + k.gy.len());
    g.push(0x04);
    g.extend_from_slice(k.gx);
    g.extend_from_slice(k.gy);
    g
}

fn curves_n(c: Curve) -> &'static [u8] {
    c.params().n
}

fn strip(b: &[u8]) -> &[u8] {
    let z = b.iter().take_while(|&&x| x == 0).count();
    &b[z..]
}

fn bit_len(b: &[u8]) -> usize {
    let b = strip(b);
    match b.first() {
        None => 0,
        Some(&top) => (b.len() - 1) * 8 + (8 - top.leading_zeros() as usize),
    }
}

/// Left-pad to `len` bytes (leading zeros beyond it are dropped); `None` when the value does not
/// fit.
fn pad(b: &[u8], len: usize) -> Option<Vec<u8>> {
    let b = if b.len() > len { strip(b) } else { b };
    if b.len() > len {
        return None;
    }
    let mut out = vec![0u8; len - b.len()];
    out.extend_from_slice(b);
    Some(out)
}

/// A DER INTEGER of a non-negative big-endian value.
fn der_uint(v: &[u8]) -> Vec<u8> {
    let v = strip(v);
    let mut c = Vec::with_capacity(v.len() + 1);
    if v.first().is_none_or(|&b| b & 0x80 != 0) {
        c.push(0);
    }
    c.extend_from_slice(v);
    tlv::encode(TAG_INTEGER, &c)
}

/// The magnitude of a non-negative DER INTEGER's content (`None` when empty or negative).
fn der_uint_value(v: &[u8]) -> Option<&[u8]> {
    match v.first() {
        Some(&b) if b & 0x80 == 0 => Some(strip(v)),
        _ => None,
    }
}

// ---- DH (OpenSSL BigNum) ----

/// An RFC 5114 group: p, g, q big-endian (from RFC 5114 2.1 to 2.3; the tests compare them with
/// OpenSSL's `DH_get_1024_160` and siblings).
struct Modp {
    p: &'static [u8],
    g: &'static [u8],
    q: &'static [u8],
}

fn bn(b: &[u8]) -> Result<BigNum, GroupError> {
    BigNum::from_slice(b).map_err(ossl)
}

/// A secret big number: secure heap where available, constant-time flag for exponentiation.
fn secret_bn(b: &[u8]) -> Result<BigNum, GroupError> {
    let mut n = BigNum::new_secure().map_err(ossl)?;
    n.copy_from_slice(b).map_err(ossl)?;
    n.set_const_time();
    Ok(n)
}

fn mod_exp(base: &BigNumRef, exp: &BigNumRef, m: &BigNumRef, ctx: &mut BigNumContext) -> Result<BigNum, GroupError> {
    let mut r = BigNum::new_secure().map_err(ossl)?;
    r.mod_exp(base, exp, m, ctx).map_err(ossl)?;
    Ok(r)
}

fn dh_private_in_range(x: &BigNumRef, p: &[u8], q: Option<&[u8]>) -> Result<(), GroupError> {
    let upper = match q {
        Some(q) => bn(q)?,
        None => {
            let mut pm1 = bn(p)?;
            pm1.sub_word(1).map_err(ossl)?;
            pm1
        }
    };
    // x in [1, upper - 1]
    if x.num_bits() == 0 || x.ucmp(&upper) != std::cmp::Ordering::Less {
        return Err(GroupError::InvalidPrivateKey);
    }
    Ok(())
}

fn dh_check_public(y: &[u8], p: &[u8], q: Option<&[u8]>, ctx: &mut BigNumContext) -> Result<(), GroupError> {
    if y.len() != p.len() {
        return Err(GroupError::InvalidPublicKey(format!("dh public key of {} bytes, expected {}", y.len(), p.len())));
    }
    let yb = bn(y)?;
    let mut pm1 = bn(p)?;
    pm1.sub_word(1).map_err(ossl)?;
    // y in [2, p-2]
    if yb.num_bits() <= 1 || yb.ucmp(&pm1) != std::cmp::Ordering::Less {
        return Err(GroupError::InvalidPublicKey("dh public key outside [2, p-2]".into()));
    }
    if let Some(q) = q {
        let mut r = BigNum::new().map_err(ossl)?;
        let (qb, pb) = (bn(q)?, bn(p)?);
        r.mod_exp(&yb, &qb, &pb, ctx).map_err(ossl)?;
        if !is_one(&r) {
            return Err(GroupError::InvalidPublicKey("dh public key is not in the subgroup of order q (y^q != 1)".into()));
        }
    }
    Ok(())
}

fn is_one(n: &BigNumRef) -> bool {
    n.num_bits() == 1
}

/// The DH domain of a DH SubjectPublicKeyInfo's parameters.
fn dh_domain(alg: &str, params: &Tlv<'_>) -> Result<Domain, GroupError> {
    let bad = |what: &str| GroupError::Spki(format!("dh domain parameters: {what}"));
    if params.tag != TAG_SEQUENCE {
        return Err(bad("not a sequence"));
    }
    let mut r: Reader<'_> = params.children();
    let mut int = |what: &str| -> Result<Option<Vec<u8>>, GroupError> {
        match r.optional(TAG_INTEGER).map_err(|e| GroupError::Spki(format!("dh domain parameters: {what}: {e}")))? {
            None => Ok(None),
            Some(t) => der_uint_value(t.value).map(|v| Some(v.to_vec())).ok_or_else(|| bad(&format!("{what} is negative"))),
        }
    };
    let p = int("p")?.ok_or_else(|| bad("p missing"))?;
    let g = int("g")?.ok_or_else(|| bad("g missing"))?;
    let third = int("q")?;
    let q = match alg {
        oid::DH_PUBLIC_NUMBER => Some(third.ok_or_else(|| bad("q missing"))?),
        oid::DH_KEY_AGREEMENT => None,
        _ => third.filter(|t| bit_len(t) > 64),
    };
    // The rest (X9.42 j and validationParms, PKCS #3 privateValueLength) is not used.
    let mut ctx = BigNumContext::new().map_err(ossl)?;
    let pb = bn(&p)?;
    let bits = bit_len(&p);
    if !(1024..=8192).contains(&bits) || p.last().is_none_or(|b| b & 1 == 0) {
        return Err(GroupError::Unsupported(format!("dh prime of {bits} bits (1024 to 8192, odd)")));
    }
    let mut pm1 = bn(&p)?;
    pm1.sub_word(1).map_err(ossl)?;
    let gb = bn(&g)?;
    if gb.num_bits() <= 1 || gb.ucmp(&pm1) != std::cmp::Ordering::Less {
        return Err(bad("g outside [2, p-2]"));
    }
    if let Some(q) = &q {
        let qb = bn(q)?;
        if qb.ucmp(&pb) != std::cmp::Ordering::Less || !qb.is_prime(0, &mut ctx).map_err(ossl)? {
            return Err(bad("q is not a prime below p"));
        }
        let mut r = BigNum::new().map_err(ossl)?;
        r.mod_exp(&gb, &qb, &pb, &mut ctx).map_err(ossl)?;
        if !is_one(&r) {
            return Err(bad("g does not generate a subgroup of order q"));
        }
    }
    let g = pad(&g, p.len()).ok_or_else(|| bad("g longer than p"))?;
    Ok(Domain { group: Group::Dh { p, g, q } })
}

// ---- EC dispatch ----

/// Why an EC operation failed, before the caller says whose fault it was.
#[derive(Debug)]
enum EcFail {
    Scalar,
    Point(&'static str),
    Identity,
    Backend(String),
}

impl EcFail {
    /// As the peer's public key's fault.
    fn peer(self) -> GroupError {
        match self {
            EcFail::Scalar => GroupError::InvalidPrivateKey,
            EcFail::Point(what) => GroupError::InvalidPublicKey(what.into()),
            EcFail::Identity => GroupError::InvalidPublicKey("the shared point is the identity".into()),
            EcFail::Backend(e) => GroupError::Backend(e),
        }
    }

    /// As a private key's (or generator's) fault.
    fn key(self) -> GroupError {
        match self {
            EcFail::Scalar | EcFail::Identity => GroupError::InvalidPrivateKey,
            EcFail::Point(what) => GroupError::Unsupported(format!("generator: {what}")),
            EcFail::Backend(e) => GroupError::Backend(e),
        }
    }
}

/// The library computing on a curve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EcBackend {
    /// A RustCrypto curve crate.
    RustCrypto(&'static str),
    OpenSsl,
}

/// Which library computes on `curve`.
pub fn ec_backend(curve: Curve) -> EcBackend {
    match curve {
        Curve::P256 => EcBackend::RustCrypto("p256"),
        Curve::P384 => EcBackend::RustCrypto("p384"),
        Curve::P521 => EcBackend::RustCrypto("p521"),
        Curve::BrainpoolP256r1 => EcBackend::RustCrypto("bp256"),
        Curve::BrainpoolP384r1 => EcBackend::RustCrypto("bp384"),
        _ => EcBackend::OpenSsl,
    }
}

fn check_ec_encoding(curve: Curve, public: &[u8]) -> Result<(), GroupError> {
    let want = 1 + 2 * curve.field_len();
    if public.len() != want {
        return Err(GroupError::InvalidPublicKey(format!("ec public key of {} bytes, expected {want}", public.len())));
    }
    if public[0] != 0x04 {
        return Err(GroupError::InvalidPublicKey(format!("ec public key form {:02X}, expected uncompressed 04", public[0])));
    }
    Ok(())
}

/// `s * g (+ add)`, uncompressed; `g` and `add` are validated points, `s` is `order_len` bytes in
/// [1, n-1] (or [0, n-1] with `zero_ok`).
fn ec_mul_add(curve: Curve, g: &[u8], s: &[u8], zero_ok: bool, add: Option<&[u8]>) -> Result<Vec<u8>, EcFail> {
    match curve {
        Curve::P256 => rc_p256::mul_add(g, s, zero_ok, add),
        Curve::P384 => rc_p384::mul_add(g, s, zero_ok, add),
        Curve::P521 => rc_p521::mul_add(g, s, zero_ok, add),
        Curve::BrainpoolP256r1 => rc_bp256::mul_add(g, s, zero_ok, add),
        Curve::BrainpoolP384r1 => rc_bp384::mul_add(g, s, zero_ok, add),
        _ => openssl_ec::mul_add(curve, g, s, zero_ok, add),
    }
}

/// Validate a point in any SEC 1 form and return it uncompressed.
fn ec_normalize(curve: Curve, p: &[u8]) -> Result<Vec<u8>, EcFail> {
    match curve {
        Curve::P256 => rc_p256::normalize(p),
        Curve::P384 => rc_p384::normalize(p),
        Curve::P521 => rc_p521::normalize(p),
        Curve::BrainpoolP256r1 => rc_bp256::normalize(p),
        Curve::BrainpoolP384r1 => rc_bp384::normalize(p),
        _ => openssl_ec::normalize(curve, p),
    }
}

fn ec_check_point(curve: Curve, p: &[u8]) -> Result<(), EcFail> {
    ec_normalize(curve, p).map(|_| ())
}

/// The operations on one RustCrypto curve: `$to` is the point-encoding trait of the crate's
/// elliptic-curve generation (`ToEncodedPoint` in 0.13, `ToSec1Point` in 0.14).
macro_rules! rustcrypto_curve {
    ($m:ident, $krate:ident, $curve:ident, $to:ident, $to_fn:ident) => {
        mod $m {
            use super::EcFail;
            #[allow(unused_imports)] // inherent methods in elliptic-curve 0.14, trait methods in 0.13
            use $krate::elliptic_curve::{group::Curve as _, Field as _};
            use $krate::elliptic_curve::sec1::$to;
            use $krate::elliptic_curve::{self as ec, PrimeField};

            type C = $krate::$curve;

            fn point(b: &[u8]) -> Result<ec::ProjectivePoint<C>, EcFail> {
                ec::PublicKey::<C>::from_sec1_bytes(b)
                    .map(|k| k.to_projective())
                    .map_err(|_| EcFail::Point("not a point on the curve, or the identity"))
            }

            fn scalar(s: &[u8], zero_ok: bool) -> Option<ec::Scalar<C>> {
                let mut fb = ec::FieldBytes::<C>::default();
                if s.len() != fb.len() {
                    return None;
                }
                fb.copy_from_slice(s);
                let v: Option<ec::Scalar<C>> = <ec::Scalar<C> as PrimeField>::from_repr(fb).into();
                v.filter(|v| zero_ok || !bool::from(v.is_zero()))
            }

            pub(super) fn mul_add(g: &[u8], s: &[u8], zero_ok: bool, add: Option<&[u8]>) -> Result<Vec<u8>, EcFail> {
                let g = point(g)?;
                let s = scalar(s, zero_ok).ok_or(EcFail::Scalar)?;
                let mut r = g * s;
                if let Some(h) = add {
                    r += point(h)?;
                }
                let k = ec::PublicKey::<C>::from_affine(r.to_affine()).map_err(|_| EcFail::Identity)?;
                Ok(k.$to_fn(false).as_bytes().to_vec())
            }

            pub(super) fn normalize(p: &[u8]) -> Result<Vec<u8>, EcFail> {
                let k = ec::PublicKey::<C>::from_sec1_bytes(p).map_err(|_| EcFail::Point("not a point on the curve, or the identity"))?;
                Ok(k.$to_fn(false).as_bytes().to_vec())
            }
        }
    };
}

rustcrypto_curve!(rc_p256, p256, NistP256, ToEncodedPoint, to_encoded_point);
rustcrypto_curve!(rc_p384, p384, NistP384, ToSec1Point, to_sec1_point);
rustcrypto_curve!(rc_p521, p521, NistP521, ToSec1Point, to_sec1_point);
rustcrypto_curve!(rc_bp256, bp256, BrainpoolP256r1, ToSec1Point, to_sec1_point);
rustcrypto_curve!(rc_bp384, bp384, BrainpoolP384r1, ToSec1Point, to_sec1_point);

/// The operations on a curve through OpenSSL (brainpoolP512r1 in production; every curve in the
/// cross-check tests).
mod openssl_ec {
    use std::cmp::Ordering;

    use idcheck_core::pki::alg::curves::Curve;
    use openssl::bn::{BigNum, BigNumContext};
    use openssl::ec::{EcGroup, EcGroupRef, EcPoint, PointConversionForm};
    use openssl::nid::Nid;

    use super::EcFail;

    fn fail(e: openssl::error::ErrorStack) -> EcFail {
        EcFail::Backend(e.to_string())
    }

    fn nid(curve: Curve) -> Nid {
        match curve {
            Curve::P224 => Nid::SECP224R1,
            Curve::P256 => Nid::X9_62_PRIME256V1,
            Curve::P384 => Nid::SECP384R1,
            Curve::P521 => Nid::SECP521R1,
            Curve::BrainpoolP224r1 => Nid::BRAINPOOL_P224R1,
            Curve::BrainpoolP256r1 => Nid::BRAINPOOL_P256R1,
            Curve::BrainpoolP320r1 => Nid::BRAINPOOL_P320R1,
            Curve::BrainpoolP384r1 => Nid::BRAINPOOL_P384R1,
            Curve::BrainpoolP512r1 => Nid::BRAINPOOL_P512R1,
        }
    }

    fn point(group: &EcGroupRef, b: &[u8], ctx: &mut BigNumContext) -> Result<EcPoint, EcFail> {
        let bad = EcFail::Point("not a point on the curve, or the identity");
        let p = EcPoint::from_bytes(group, b, ctx).map_err(|_| EcFail::Point("not a point on the curve, or the identity"))?;
        if p.is_infinity(group) || !p.is_on_curve(group, ctx).map_err(fail)? {
            return Err(bad);
        }
        Ok(p)
    }

    pub(super) fn mul_add(curve: Curve, g: &[u8], s: &[u8], zero_ok: bool, add: Option<&[u8]>) -> Result<Vec<u8>, EcFail> {
        let group = EcGroup::from_curve_name(nid(curve)).map_err(fail)?;
        let mut ctx = BigNumContext::new_secure().map_err(fail)?;
        let gp = point(&group, g, &mut ctx)?;
        let mut order = BigNum::new().map_err(fail)?;
        group.order(&mut order, &mut ctx).map_err(fail)?;
        let mut k = BigNum::new_secure().map_err(fail)?;
        k.copy_from_slice(s).map_err(fail)?;
        k.set_const_time();
        if k.ucmp(&order) != Ordering::Less || (!zero_ok && k.num_bits() == 0) {
            return Err(EcFail::Scalar);
        }
        let mut r = EcPoint::new(&group).map_err(fail)?;
        r.mul2(&group, &gp, &k, &mut ctx).map_err(fail)?;
        if let Some(h) = add {
            let hp = point(&group, h, &mut ctx)?;
            let mut sum = EcPoint::new(&group).map_err(fail)?;
            sum.add(&group, &r, &hp, &mut ctx).map_err(fail)?;
            r = sum;
        }
        if r.is_infinity(&group) {
            return Err(EcFail::Identity);
        }
        r.to_bytes(&group, PointConversionForm::UNCOMPRESSED, &mut ctx).map_err(fail)
    }

    pub(super) fn normalize(curve: Curve, p: &[u8]) -> Result<Vec<u8>, EcFail> {
        let group = EcGroup::from_curve_name(nid(curve)).map_err(fail)?;
        let mut ctx = BigNumContext::new().map_err(fail)?;
        let pt = point(&group, p, &mut ctx)?;
        pt.to_bytes(&group, PointConversionForm::UNCOMPRESSED, &mut ctx).map_err(fail)
    }
}

/// Decode hex at compile time (the RFC 5114 constants below; a bad digit or length fails the build).
const fn hex_const<const N: usize>(s: &str) -> [u8; N] {
    const fn nibble(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => panic!("modp table: not a hex digit"),
        }
    }
    let s = s.as_bytes();
    assert!(s.len() == 2 * N, "modp table: hex length");
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N {
        out[i] = (nibble(s[2 * i]) << 4) | nibble(s[2 * i + 1]);
        i += 1;
    }
    out
}

// RFC 5114 2.1, 2.2 and 2.3 (p, g, q).
const MODP_1024_160: Modp = Modp {
    p: &hex_const::<128>("B10B8F96A080E01DDE92DE5EAE5D54EC52C99FBCFB06A3C69A6A9DCA52D23B616073E28675A23D189838EF1E2EE652C013ECB4AEA906112324975C3CD49B83BFACCBDD7D90C4BD7098488E9C219A73724EFFD6FAE5644738FAA31A4FF55BCCC0A151AF5F0DC8B4BD45BF37DF365C1A65E68CFDA76D4DA708DF1FB2BC2E4A4371"),
    g: &hex_const::<128>("A4D1CBD5C3FD34126765A442EFB99905F8104DD258AC507FD6406CFF14266D31266FEA1E5C41564B777E690F5504F213160217B4B01B886A5E91547F9E2749F4D7FBD7D3B9A92EE1909D0D2263F80A76A6A24C087A091F531DBF0A0169B6A28AD662A4D18E73AFA32D779D5918D08BC8858F4DCEF97C2A24855E6EEB22B3B2E5"),
    q: &hex_const::<20>("F518AA8781A8DF278ABA4E7D64B7CB9D49462353"),
};
const MODP_2048_224: Modp = Modp {
    p: &hex_const::<256>("AD107E1E9123A9D0D660FAA79559C51FA20D64E5683B9FD1B54B1597B61D0A75E6FA141DF95A56DBAF9A3C407BA1DF15EB3D688A309C180E1DE6B85A1274A0A66D3F8152AD6AC2129037C9EDEFDA4DF8D91E8FEF55B7394B7AD5B7D0B6C12207C9F98D11ED34DBF6C6BA0B2C8BBC27BE6A00E0A0B9C49708B3BF8A317091883681286130BC8985DB1602E714415D9330278273C7DE31EFDC7310F7121FD5A07415987D9ADC0A486DCDF93ACC44328387315D75E198C641A480CD86A1B9E587E8BE60E69CC928B2B9C52172E413042E9B23F10B0E16E79763C9B53DCF4BA80A29E3FB73C16B8E75B97EF363E2FFA31F71CF9DE5384E71B81C0AC4DFFE0C10E64F"),
    g: &hex_const::<256>("AC4032EF4F2D9AE39DF30B5C8FFDAC506CDEBE7B89998CAF74866A08CFE4FFE3A6824A4E10B9A6F0DD921F01A70C4AFAAB739D7700C29F52C57DB17C620A8652BE5E9001A8D66AD7C17669101999024AF4D027275AC1348BB8A762D0521BC98AE247150422EA1ED409939D54DA7460CDB5F6C6B250717CBEF180EB34118E98D119529A45D6F834566E3025E316A330EFBB77A86F0C1AB15B051AE3D428C8F8ACB70A8137150B8EEB10E183EDD19963DDD9E263E4770589EF6AA21E7F5F2FF381B539CCE3409D13CD566AFBB48D6C019181E1BCFE94B30269EDFE72FE9B6AA4BD7B5A0F1C71CFFF4C19C418E1F6EC017981BC087F2A7065B384B890D3191F2BFA"),
    q: &hex_const::<28>("801C0D34C58D93FE997177101F80535A4738CEBCBF389A99B36371EB"),
};
const MODP_2048_256: Modp = Modp {
    p: &hex_const::<256>("87A8E61DB4B6663CFFBBD19C651959998CEEF608660DD0F25D2CEED4435E3B00E00DF8F1D61957D4FAF7DF4561B2AA3016C3D91134096FAA3BF4296D830E9A7C209E0C6497517ABD5A8A9D306BCF67ED91F9E6725B4758C022E0B1EF4275BF7B6C5BFC11D45F9088B941F54EB1E59BB8BC39A0BF12307F5C4FDB70C581B23F76B63ACAE1CAA6B7902D52526735488A0EF13C6D9A51BFA4AB3AD8347796524D8EF6A167B5A41825D967E144E5140564251CCACB83E6B486F6B3CA3F7971506026C0B857F689962856DED4010ABD0BE621C3A3960A54E710C375F26375D7014103A4B54330C198AF126116D2276E11715F693877FAD7EF09CADB094AE91E1A1597"),
    g: &hex_const::<256>("3FB32C9B73134D0B2E77506660EDBD484CA7B18F21EF205407F4793A1A0BA12510DBC15077BE463FFF4FED4AAC0BB555BE3A6C1B0C6B47B1BC3773BF7E8C6F62901228F8C28CBB18A55AE31341000A650196F931C77A57F2DDF463E5E9EC144B777DE62AAAB8A8628AC376D282D6ED3864E67982428EBC831D14348F6F2F9193B5045AF2767164E1DFC967C1FB3F2E55A4BD1BFFE83B9C80D052B985D182EA0ADB2A3B7313D3FE14C8484B1E052588B9B7D2BBD2DF016199ECD06E1557CD0915B3353BBB64E0EC377FD028370DF92B52C7891428CDC67EB6184B523D1DB246C32F63078490F00EF8D647D148D47954515E2327CFEF98C582664B4C0F6CC41659"),
    q: &hex_const::<32>("8CF83642A709A097B447997640129DA299B1A47D1EB3750BA308B0FE64F5FBD3"),
};

#[cfg(test)]
#[path = "group_tests.rs"]
pub(crate) mod tests;

//! The elliptic curves passive authentication verifies ECDSA on, their domain parameters, and the
//! reading of an id-ecPublicKey's parameters (RFC 3279 / SEC 1 `ECParameters`): a named curve, or
//! explicit parameters matched byte for byte (leading zeros normalised) to one of the nine curves
//! below. This module owns that table and that matching; it does no curve arithmetic at all (the
//! verifiers in `alg` belong to ring, the RustCrypto curve crates and OpenSSL). Unknown or
//! unsupported parameters are reported with what did not match, never guessed.
//!
//! The table was written from `openssl ecparam -name NAME -param_enc explicit -outform DER`
//! (OpenSSL 3.0) and is checked in the tests against OpenSSL's explicit encoding of every curve and
//! against the Wycheproof vectors' keys (SEC 2 for the NIST curves, RFC 5639 for brainpool).

use std::fmt;

use crate::tlv::{self, Reader};

/// The named curves (OIDs) of the nine curves.
pub mod oid {
    pub const P224: &str = "1.3.132.0.33";
    pub const P256: &str = "1.2.840.10045.3.1.7";
    pub const P384: &str = "1.3.132.0.34";
    pub const P521: &str = "1.3.132.0.35";
    pub const BRAINPOOL_P224R1: &str = "1.3.36.3.3.2.8.1.1.5";
    pub const BRAINPOOL_P256R1: &str = "1.3.36.3.3.2.8.1.1.7";
    pub const BRAINPOOL_P320R1: &str = "1.3.36.3.3.2.8.1.1.9";
    pub const BRAINPOOL_P384R1: &str = "1.3.36.3.3.2.8.1.1.11";
    pub const BRAINPOOL_P512R1: &str = "1.3.36.3.3.2.8.1.1.13";
    /// X9.62 prime-field and characteristic-two-field (FieldID.fieldType).
    pub const PRIME_FIELD: &str = "1.2.840.10045.1.1";
    pub const CHARACTERISTIC_TWO_FIELD: &str = "1.2.840.10045.1.2";
}

/// An elliptic curve ECDSA is verified on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Curve {
    P224,
    P256,
    P384,
    P521,
    BrainpoolP224r1,
    BrainpoolP256r1,
    BrainpoolP320r1,
    BrainpoolP384r1,
    BrainpoolP512r1,
}

/// Short-Weierstrass domain parameters over a prime field, big-endian without leading zeros for
/// `p` and `n`, field-length for the others. The cofactor of every curve here is 1.
#[derive(Debug)]
pub struct Params {
    pub p: &'static [u8],
    pub a: &'static [u8],
    pub b: &'static [u8],
    pub gx: &'static [u8],
    pub gy: &'static [u8],
    pub n: &'static [u8],
}

impl Curve {
    pub const ALL: [Curve; 9] = [
        Curve::P224,
        Curve::P256,
        Curve::P384,
        Curve::P521,
        Curve::BrainpoolP224r1,
        Curve::BrainpoolP256r1,
        Curve::BrainpoolP320r1,
        Curve::BrainpoolP384r1,
        Curve::BrainpoolP512r1,
    ];

    /// The named-curve OID.
    pub fn oid(self) -> &'static str {
        match self {
            Curve::P224 => oid::P224,
            Curve::P256 => oid::P256,
            Curve::P384 => oid::P384,
            Curve::P521 => oid::P521,
            Curve::BrainpoolP224r1 => oid::BRAINPOOL_P224R1,
            Curve::BrainpoolP256r1 => oid::BRAINPOOL_P256R1,
            Curve::BrainpoolP320r1 => oid::BRAINPOOL_P320R1,
            Curve::BrainpoolP384r1 => oid::BRAINPOOL_P384R1,
            Curve::BrainpoolP512r1 => oid::BRAINPOOL_P512R1,
        }
    }

    pub fn from_oid(o: &str) -> Option<Curve> {
        Curve::ALL.into_iter().find(|c| c.oid() == o)
    }

    /// The curve's usual name: `P-256`, `brainpoolP256r1`.
    pub fn name(self) -> &'static str {
        match self {
            Curve::P224 => "P-224",
            Curve::P256 => "P-256",
            Curve::P384 => "P-384",
            Curve::P521 => "P-521",
            Curve::BrainpoolP224r1 => "brainpoolP224r1",
            Curve::BrainpoolP256r1 => "brainpoolP256r1",
            Curve::BrainpoolP320r1 => "brainpoolP320r1",
            Curve::BrainpoolP384r1 => "brainpoolP384r1",
            Curve::BrainpoolP512r1 => "brainpoolP512r1",
        }
    }

    pub fn params(self) -> &'static Params {
        match self {
            Curve::P224 => &P224,
            Curve::P256 => &P256,
            Curve::P384 => &P384,
            Curve::P521 => &P521,
            Curve::BrainpoolP224r1 => &BP224R1,
            Curve::BrainpoolP256r1 => &BP256R1,
            Curve::BrainpoolP320r1 => &BP320R1,
            Curve::BrainpoolP384r1 => &BP384R1,
            Curve::BrainpoolP512r1 => &BP512R1,
        }
    }

    /// Bytes of a field element (a coordinate): 66 for P-521.
    pub fn field_len(self) -> usize {
        self.params().gx.len()
    }

    /// Bytes of a scalar (r or s of a plain signature): 66 for P-521.
    pub fn order_len(self) -> usize {
        self.params().n.len()
    }

    /// Bits of the field prime.
    pub fn field_bits(self) -> usize {
        bit_len(self.params().p)
    }
}

impl fmt::Display for Curve {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How an id-ecPublicKey named its curve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CurveParams {
    Named(Curve),
    /// Explicit ECParameters that match this curve.
    Explicit(Curve),
}

impl CurveParams {
    pub fn curve(self) -> Curve {
        match self {
            CurveParams::Named(c) | CurveParams::Explicit(c) => c,
        }
    }
}

const TAG_INTEGER: tlv::Tag = 0x02;
const TAG_BIT_STRING: tlv::Tag = 0x03;
const TAG_OCTET_STRING: tlv::Tag = 0x04;
const TAG_NULL: tlv::Tag = 0x05;
const TAG_OID: tlv::Tag = 0x06;
const TAG_SEQUENCE: tlv::Tag = 0x30;

/// The dotted form of OID content octets (`None` when malformed).
pub(crate) fn oid_string(content: &[u8]) -> Option<String> {
    let mut arcs: Vec<u64> = Vec::new();
    let mut acc: u64 = 0;
    let mut in_arc = false;
    for &b in content {
        if (!in_arc && b == 0x80) || acc > (u64::MAX >> 7) {
            return None;
        }
        acc = (acc << 7) | u64::from(b & 0x7F);
        in_arc = b & 0x80 != 0;
        if !in_arc {
            arcs.push(acc);
            acc = 0;
        }
    }
    let (&first, rest) = arcs.split_first()?;
    if in_arc {
        return None;
    }
    let (a, b) = match first {
        0..=39 => (0, first),
        40..=79 => (1, first - 40),
        _ => (2, first - 80),
    };
    let mut s = format!("{a}.{b}");
    for arc in rest {
        s.push('.');
        s.push_str(&arc.to_string());
    }
    Some(s)
}

/// The content octets of a dotted OID (the OIDs of this crate's tables; a malformed one gives
/// whatever its digits make, never a panic).
pub(crate) fn oid_content(dotted: &str) -> Vec<u8> {
    let arcs: Vec<u64> = dotted.split('.').map(|a| a.parse().unwrap_or(0)).collect();
    let mut out = Vec::new();
    let first = arcs.first().copied().unwrap_or(0) * 40 + arcs.get(1).copied().unwrap_or(0);
    for arc in std::iter::once(first).chain(arcs.iter().skip(2).copied()) {
        let mut groups = vec![(arc & 0x7F) as u8];
        let mut rest = arc >> 7;
        while rest > 0 {
            groups.push(0x80 | (rest & 0x7F) as u8);
            rest >>= 7;
        }
        out.extend(groups.iter().rev());
    }
    out
}

/// Read the parameters of an id-ecPublicKey AlgorithmIdentifier (the whole parameter element, as
/// the parser keeps it). The error says, lower-case, what is not supported.
pub fn ec_params(params: Option<&[u8]>) -> Result<CurveParams, String> {
    let Some(p) = params else {
        return Err("id-ecPublicKey without curve parameters".into());
    };
    let mut r = Reader::new(p);
    let t = r.next_tlv().map_err(|e| format!("malformed ec parameters: {e}"))?;
    if !r.is_empty() {
        return Err("malformed ec parameters: trailing bytes".into());
    }
    match t.tag {
        TAG_OID => {
            let o = oid_string(t.value).ok_or("malformed ec parameters: bad named curve oid")?;
            Curve::from_oid(&o).map(CurveParams::Named).ok_or_else(|| format!("elliptic curve {o} is not supported"))
        }
        TAG_NULL => Err("ec parameters implicitlyCA (NULL) are not supported: the curve must be named or explicit".into()),
        TAG_SEQUENCE => match_explicit(t.value).map(CurveParams::Explicit),
        other => Err(format!("malformed ec parameters: unexpected tag {other:02X}")),
    }
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

/// A non-negative INTEGER's magnitude without leading zeros.
fn uint<'a>(r: &mut Reader<'a>, what: &str) -> Result<&'a [u8], String> {
    let t = r.expect(TAG_INTEGER).map_err(|e| format!("malformed explicit ec parameters: {what}: {e}"))?;
    match t.value.first() {
        None => Err(format!("malformed explicit ec parameters: {what}: empty integer")),
        Some(&b) if b & 0x80 != 0 => Err(format!("malformed explicit ec parameters: {what} is negative")),
        Some(_) => Ok(strip(t.value)),
    }
}

fn bad(what: &str, e: impl fmt::Display) -> String {
    format!("malformed explicit ec parameters: {what}: {e}")
}

/// Match explicit ECParameters (the SEQUENCE's content) to a known curve.
///
/// ```text
/// ECParameters ::= SEQUENCE { version INTEGER { ecpVer1(1) }, fieldID FieldID, curve Curve,
///     base ECPoint, order INTEGER, cofactor INTEGER OPTIONAL }
/// FieldID ::= SEQUENCE { fieldType OBJECT IDENTIFIER, parameters ANY }  -- prime-p: INTEGER p
/// Curve ::= SEQUENCE { a OCTET STRING, b OCTET STRING, seed BIT STRING OPTIONAL }
/// ```
/// Versions 2 and 3 (X9.62-2005: how the curve was generated) are read like 1; the seed is not
/// checked, since every parameter that determines the curve is compared.
pub fn match_explicit(content: &[u8]) -> Result<Curve, String> {
    let mut r = Reader::new(content);
    let version = uint(&mut r, "version")?;
    if !matches!(version, [1..=3]) {
        return Err(format!("explicit ec parameters version {} is not supported", hex::encode(version)));
    }
    let field = r.expect(TAG_SEQUENCE).map_err(|e| bad("fieldID", e))?;
    let mut fr = field.children();
    let ft = fr.expect(TAG_OID).map_err(|e| bad("fieldID", e))?;
    let field_type = oid_string(ft.value).unwrap_or_default();
    if field_type == oid::CHARACTERISTIC_TWO_FIELD {
        return Err("explicit ec parameters over a characteristic-two field are not supported".into());
    }
    if field_type != oid::PRIME_FIELD {
        return Err(format!("explicit ec parameters with field type {field_type} are not supported"));
    }
    let p = uint(&mut fr, "prime")?;
    if !fr.is_empty() {
        return Err(bad("fieldID", "trailing bytes"));
    }
    let cv = r.expect(TAG_SEQUENCE).map_err(|e| bad("curve", e))?;
    let mut cr = cv.children();
    let a = cr.expect(TAG_OCTET_STRING).map_err(|e| bad("curve a", e))?.value;
    let b = cr.expect(TAG_OCTET_STRING).map_err(|e| bad("curve b", e))?.value;
    cr.optional(TAG_BIT_STRING).map_err(|e| bad("curve seed", e))?;
    if !cr.is_empty() {
        return Err(bad("curve", "trailing bytes"));
    }
    let base = r.expect(TAG_OCTET_STRING).map_err(|e| bad("base", e))?.value;
    let n = uint(&mut r, "order")?;
    let h = if r.is_empty() { None } else { Some(uint(&mut r, "cofactor")?) };
    if !r.is_empty() {
        return Err(bad("ECParameters", "trailing bytes"));
    }
    let bits = bit_len(p);
    let Some(curve) = Curve::ALL.into_iter().find(|c| c.params().p == p) else {
        return Err(format!("explicit ec parameters match no known curve (field {bits} bits)"));
    };
    let k = curve.params();
    let differs = |what: &str| format!("explicit ec parameters match no known curve (field {bits} bits: the prime of {curve}, another {what})");
    if strip(a) != strip(k.a) {
        return Err(differs("a"));
    }
    if strip(b) != strip(k.b) {
        return Err(differs("b"));
    }
    if !base_matches(base, k) {
        return Err(differs("base point"));
    }
    if n != strip(k.n) {
        return Err(differs("order"));
    }
    if h.is_some_and(|h| h != [1]) {
        return Err(differs("cofactor"));
    }
    Ok(curve)
}

/// The base point, uncompressed (04 x y), compressed (02/03 x) or hybrid (06/07 x y), against the
/// table's coordinates (each compared without leading zeros).
fn base_matches(base: &[u8], k: &Params) -> bool {
    let Some((&form, rest)) = base.split_first() else {
        return false;
    };
    let y_odd = k.gy.last().is_some_and(|y| y & 1 == 1);
    let xy = |rest: &[u8]| {
        if !rest.len().is_multiple_of(2) {
            return false;
        }
        let (x, y) = rest.split_at(rest.len() / 2);
        strip(x) == strip(k.gx) && strip(y) == strip(k.gy)
    };
    match form {
        0x04 => xy(rest),
        0x06 | 0x07 => (form == 0x07) == y_odd && xy(rest),
        0x02 | 0x03 => (form == 0x03) == y_odd && strip(rest) == strip(k.gx),
        _ => false,
    }
}

/// Decode hex at compile time (the table below; a bad digit or length fails the build).
const fn hex<const N: usize>(s: &str) -> [u8; N] {
    const fn nibble(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => panic!("curve table: not a hex digit"),
        }
    }
    let s = s.as_bytes();
    assert!(s.len() == 2 * N, "curve table: hex length");
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N {
        out[i] = (nibble(s[2 * i]) << 4) | nibble(s[2 * i + 1]);
        i += 1;
    }
    out
}

// SEC 2 (secp224r1, secp256r1, secp384r1, secp521r1) and RFC 5639 (brainpool) domain parameters.
const P224: Params = Params {
    p: &hex::<28>("ffffffffffffffffffffffffffffffff000000000000000000000001"),
    a: &hex::<28>("fffffffffffffffffffffffffffffffefffffffffffffffffffffffe"),
    b: &hex::<28>("b4050a850c04b3abf54132565044b0b7d7bfd8ba270b39432355ffb4"),
    gx: &hex::<28>("b70e0cbd6bb4bf7f321390b94a03c1d356c21122343280d6115c1d21"),
    gy: &hex::<28>("bd376388b5f723fb4c22dfe6cd4375a05a07476444d5819985007e34"),
    n: &hex::<28>("ffffffffffffffffffffffffffff16a2e0b8f03e13dd29455c5c2a3d"),
};
const P256: Params = Params {
    p: &hex::<32>("ffffffff00000001000000000000000000000000ffffffffffffffffffffffff"),
    a: &hex::<32>("ffffffff00000001000000000000000000000000fffffffffffffffffffffffc"),
    b: &hex::<32>("5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b"),
    gx: &hex::<32>("6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"),
    gy: &hex::<32>("4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5"),
    n: &hex::<32>("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551"),
};
const P384: Params = Params {
    p: &hex::<48>("fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffff"),
    a: &hex::<48>("fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000fffffffc"),
    b: &hex::<48>("b3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aef"),
    gx: &hex::<48>("aa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7"),
    gy: &hex::<48>("3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5f"),
    n: &hex::<48>("ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973"),
};
const P521: Params = Params {
    p: &hex::<66>("01ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"),
    a: &hex::<66>("01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffc"),
    b: &hex::<66>("0051953eb9618e1c9a1f929a21a0b68540eea2da725b99b315f3b8b489918ef109e156193951ec7e937b1652c0bd3bb1bf073573df883d2c34f1ef451fd46b503f00"),
    gx: &hex::<66>("00c6858e06b70404e9cd9e3ecb662395b4429c648139053fb521f828af606b4d3dbaa14b5e77efe75928fe1dc127a2ffa8de3348b3c1856a429bf97e7e31c2e5bd66"),
    gy: &hex::<66>("011839296a789a3bc0045c8a5fb42c7d1bd998f54449579b446817afbd17273e662c97ee72995ef42640c550b9013fad0761353c7086a272c24088be94769fd16650"),
    n: &hex::<66>("01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409"),
};
const BP224R1: Params = Params {
    p: &hex::<28>("d7c134aa264366862a18302575d1d787b09f075797da89f57ec8c0ff"),
    a: &hex::<28>("68a5e62ca9ce6c1c299803a6c1530b514e182ad8b0042a59cad29f43"),
    b: &hex::<28>("2580f63ccfe44138870713b1a92369e33e2135d266dbb372386c400b"),
    gx: &hex::<28>("0d9029ad2c7e5cf4340823b2a87dc68c9e4ce3174c1e6efdee12c07d"),
    gy: &hex::<28>("58aa56f772c0726f24c6b89e4ecdac24354b9e99caa3f6d3761402cd"),
    n: &hex::<28>("d7c134aa264366862a18302575d0fb98d116bc4b6ddebca3a5a7939f"),
};
const BP256R1: Params = Params {
    p: &hex::<32>("a9fb57dba1eea9bc3e660a909d838d726e3bf623d52620282013481d1f6e5377"),
    a: &hex::<32>("7d5a0975fc2c3057eef67530417affe7fb8055c126dc5c6ce94a4b44f330b5d9"),
    b: &hex::<32>("26dc5c6ce94a4b44f330b5d9bbd77cbf958416295cf7e1ce6bccdc18ff8c07b6"),
    gx: &hex::<32>("8bd2aeb9cb7e57cb2c4b482ffc81b7afb9de27e1e3bd23c23a4453bd9ace3262"),
    gy: &hex::<32>("547ef835c3dac4fd97f8461a14611dc9c27745132ded8e545c1d54c72f046997"),
    n: &hex::<32>("a9fb57dba1eea9bc3e660a909d838d718c397aa3b561a6f7901e0e82974856a7"),
};
const BP320R1: Params = Params {
    p: &hex::<40>("d35e472036bc4fb7e13c785ed201e065f98fcfa6f6f40def4f92b9ec7893ec28fcd412b1f1b32e27"),
    a: &hex::<40>("3ee30b568fbab0f883ccebd46d3f3bb8a2a73513f5eb79da66190eb085ffa9f492f375a97d860eb4"),
    b: &hex::<40>("520883949dfdbc42d3ad198640688a6fe13f41349554b49acc31dccd884539816f5eb4ac8fb1f1a6"),
    gx: &hex::<40>("43bd7e9afb53d8b85289bcc48ee5bfe6f20137d10a087eb6e7871e2a10a599c710af8d0d39e20611"),
    gy: &hex::<40>("14fdd05545ec1cc8ab4093247f77275e0743ffed117182eaa9c77877aaac6ac7d35245d1692e8ee1"),
    n: &hex::<40>("d35e472036bc4fb7e13c785ed201e065f98fcfa5b68f12a32d482ec7ee8658e98691555b44c59311"),
};
const BP384R1: Params = Params {
    p: &hex::<48>("8cb91e82a3386d280f5d6f7e50e641df152f7109ed5456b412b1da197fb71123acd3a729901d1a71874700133107ec53"),
    a: &hex::<48>("7bc382c63d8c150c3c72080ace05afa0c2bea28e4fb22787139165efba91f90f8aa5814a503ad4eb04a8c7dd22ce2826"),
    b: &hex::<48>("04a8c7dd22ce28268b39b55416f0447c2fb77de107dcd2a62e880ea53eeb62d57cb4390295dbc9943ab78696fa504c11"),
    gx: &hex::<48>("1d1c64f068cf45ffa2a63a81b7c13f6b8847a3e77ef14fe3db7fcafe0cbd10e8e826e03436d646aaef87b2e247d4af1e"),
    gy: &hex::<48>("8abe1d7520f9c2a45cb1eb8e95cfd55262b70b29feec5864e19c054ff99129280e4646217791811142820341263c5315"),
    n: &hex::<48>("8cb91e82a3386d280f5d6f7e50e641df152f7109ed5456b31f166e6cac0425a7cf3ab6af6b7fc3103b883202e9046565"),
};
const BP512R1: Params = Params {
    p: &hex::<64>("aadd9db8dbe9c48b3fd4e6ae33c9fc07cb308db3b3c9d20ed6639cca703308717d4d9b009bc66842aecda12ae6a380e62881ff2f2d82c68528aa6056583a48f3"),
    a: &hex::<64>("7830a3318b603b89e2327145ac234cc594cbdd8d3df91610a83441caea9863bc2ded5d5aa8253aa10a2ef1c98b9ac8b57f1117a72bf2c7b9e7c1ac4d77fc94ca"),
    b: &hex::<64>("3df91610a83441caea9863bc2ded5d5aa8253aa10a2ef1c98b9ac8b57f1117a72bf2c7b9e7c1ac4d77fc94cadc083e67984050b75ebae5dd2809bd638016f723"),
    gx: &hex::<64>("81aee4bdd82ed9645a21322e9c4c6a9385ed9f70b5d916c1b43b62eef4d0098eff3b1f78e2d0d48d50d1687b93b97d5f7c6d5047406a5e688b352209bcb9f822"),
    gy: &hex::<64>("7dde385d566332ecc0eabfa9cf7822fdf209f70024a57b1aa000c55b881f8111b2dcde494a5f485e5bca4bd88a2763aed1ca2b2fa8f0540678cd1e0f3ad80892"),
    n: &hex::<64>("aadd9db8dbe9c48b3fd4e6ae33c9fc07cb308db3b3c9d20ed6639cca70330870553e5c414ca92619418661197fac10471db1d381085ddaddb58796829ca90069"),
};

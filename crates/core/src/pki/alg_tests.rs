//! Tests of signature verification: Wycheproof's ECDSA vectors for every curve they cover, OpenSSL's
//! signatures for every curve, digest and form (named and explicit parameters, compressed points,
//! coordinates with leading zero bytes), explicit parameters refused, RSA, and no panic on any bytes.

use std::collections::BTreeMap;
use std::path::PathBuf;

use openssl::bn::BigNumContext;
use openssl::ec::{Asn1Flag, EcGroup, EcKey, PointConversionForm};
use openssl::ecdsa::EcdsaSig;
use openssl::nid::Nid;
use openssl::pkey::Private;
use proptest::prelude::*;

use super::curves::{self, CurveParams};
use super::*;

fn oid_of(dotted: &str) -> Oid {
    Oid::from_content(&curves::oid_content(dotted)).expect("oid")
}

fn alg_id(dotted: &str, params: Option<Vec<u8>>) -> AlgorithmIdentifier {
    AlgorithmIdentifier { oid: oid_of(dotted), params }
}

fn enc_oid(dotted: &str) -> Vec<u8> {
    tlv::encode(0x06, &curves::oid_content(dotted))
}

fn named_key(curve: Curve, point: Vec<u8>) -> PublicKey {
    PublicKey::from_parts(alg_id(oid::EC_PUBLIC_KEY, Some(enc_oid(curve.oid()))), point)
}

/// The DER INTEGER of a big-endian magnitude.
fn enc_uint(m: &[u8]) -> Vec<u8> {
    let m = &m[m.iter().take_while(|&&b| b == 0).count()..];
    let mut v = Vec::new();
    if m.first().is_none_or(|&b| b & 0x80 != 0) {
        v.push(0);
    }
    v.extend_from_slice(m);
    tlv::encode(0x02, &v)
}

/// Explicit ECParameters built from the curve table, with a hook to alter the parts.
struct Explicit {
    version: Vec<u8>,
    p: Vec<u8>,
    a: Vec<u8>,
    b: Vec<u8>,
    seed: Option<Vec<u8>>,
    base: Vec<u8>,
    n: Vec<u8>,
    h: Option<Vec<u8>>,
    /// Write `p` as the INTEGER's content as it is (no sign byte).
    negative_p: bool,
}

impl Explicit {
    fn of(c: Curve) -> Explicit {
        let k = c.params();
        Explicit {
            version: vec![1],
            p: k.p.to_vec(),
            a: k.a.to_vec(),
            b: k.b.to_vec(),
            seed: None,
            base: [&[4u8][..], k.gx, k.gy].concat(),
            n: k.n.to_vec(),
            h: Some(vec![1]),
            negative_p: false,
        }
    }

    fn der(&self) -> Vec<u8> {
        let p = if self.negative_p { tlv::encode(0x02, &self.p) } else { enc_uint(&self.p) };
        let field = tlv::encode_seq(0x30, &[enc_oid(curves::oid::PRIME_FIELD), p]);
        let mut curve = vec![tlv::encode(0x04, &self.a), tlv::encode(0x04, &self.b)];
        if let Some(s) = &self.seed {
            curve.push(tlv::encode(0x03, &[&[0u8][..], s].concat()));
        }
        let mut parts = vec![enc_uint(&self.version), field, tlv::encode_seq(0x30, &curve), tlv::encode(0x04, &self.base), enc_uint(&self.n)];
        if let Some(h) = &self.h {
            parts.push(enc_uint(h));
        }
        tlv::encode_seq(0x30, &parts)
    }

    fn key(&self, point: Vec<u8>) -> PublicKey {
        PublicKey::from_parts(alg_id(oid::EC_PUBLIC_KEY, Some(self.der())), point)
    }
}

fn plain_oid(d: DigestAlg) -> String {
    let n = 1 + DigestAlg::ALL.iter().position(|x| *x == d).unwrap_or(0);
    format!("{}{n}", oid::ECDSA_PLAIN_PREFIX)
}

fn der_oid(d: DigestAlg) -> &'static str {
    match d {
        DigestAlg::Sha1 => oid::ECDSA_SHA1,
        DigestAlg::Sha224 => oid::ECDSA_SHA224,
        DigestAlg::Sha256 => oid::ECDSA_SHA256,
        DigestAlg::Sha384 => oid::ECDSA_SHA384,
        DigestAlg::Sha512 => oid::ECDSA_SHA512,
    }
}

fn nid(c: Curve) -> Nid {
    match c {
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

fn point_of(key: &EcKey<Private>, form: PointConversionForm) -> Vec<u8> {
    let mut ctx = BigNumContext::new().expect("ctx");
    key.public_key().to_bytes(key.group(), form, &mut ctx).expect("point")
}

/// OpenSSL's ECDSA signature over `msg` with `hash`: (DER, plain r || s).
fn openssl_sign(curve: Curve, key: &EcKey<Private>, hash: DigestAlg, msg: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let sig = EcdsaSig::sign(&hash.digest(msg), key).expect("sign");
    let n = curve.order_len();
    let r = sig.r().to_vec_padded(n as i32).expect("r");
    let s = sig.s().to_vec_padded(n as i32).expect("s");
    (sig.to_der().expect("der"), [r, s].concat())
}

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
fn oid_helpers_round_trip() {
    for c in Curve::ALL {
        assert_eq!(curves::oid_string(&curves::oid_content(c.oid())).as_deref(), Some(c.oid()));
        assert_eq!(Curve::from_oid(c.oid()), Some(c));
        assert_eq!(KeyKind::ec(c).curve(), Some(c));
    }
    assert_eq!(curves::oid_string(&[0x2a, 0x86]), None);
    assert_eq!(curves::oid_string(&[]), None);
    assert_eq!(curves::oid_string(&[0x80, 0x01]), None);
}

#[test]
fn openssl_names_the_brainpool_p224r1_nid() {
    assert_eq!(Nid::from_raw(NID_BRAINPOOL_P224R1).short_name().expect("known nid"), "brainpoolP224r1");
}

#[test]
fn curve_table_matches_openssl_explicit_parameters() {
    // OpenSSL's own explicit encoding of each curve (with its seed for the NIST curves) is matched
    // to the table; the table's sizes are what the curve names say.
    let bits = [224, 256, 384, 521, 224, 256, 320, 384, 512];
    for (c, bits) in Curve::ALL.into_iter().zip(bits) {
        assert_eq!(c.field_bits(), bits, "{c}");
        assert_eq!(c.field_len(), bits.div_ceil(8), "{c}");
        assert_eq!(c.order_len(), bits.div_ceil(8), "{c}");
        let mut group = EcGroup::from_curve_name(nid(c)).expect("group");
        group.set_asn1_flag(Asn1Flag::EXPLICIT_CURVE);
        let key = EcKey::generate(&group).expect("key");
        let spki = key.public_key_to_der().expect("spki");
        let (params, point) = spki_parts(&spki);
        assert_eq!(params.first(), Some(&0x30), "{c}: openssl wrote explicit parameters");
        let k = PublicKey::from_parts(alg_id(oid::EC_PUBLIC_KEY, Some(params.clone())), point);
        assert_eq!(k.kind, KeyKind::ec(c), "{c}");
        assert!(k.explicit_curve, "{c}");
        assert_eq!(k.curve.as_ref().map(Oid::as_str), Some(c.oid()), "{c}");
        assert_eq!(curves::ec_params(Some(&params)), Ok(CurveParams::Explicit(c)));
        assert_eq!(curves::ec_params(Some(&enc_oid(c.oid()))), Ok(CurveParams::Named(c)));
    }
}

/// The AlgorithmIdentifier parameters and the subjectPublicKey of a SubjectPublicKeyInfo.
fn spki_parts(spki: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let seq = tlv::parse_single(spki, 0x30).expect("spki");
    let mut r = seq.children();
    let alg = r.expect(0x30).expect("alg");
    let bits = r.expect(0x03).expect("bits");
    let mut ar = alg.children();
    ar.expect(0x06).expect("oid");
    let p = ar.next_tlv().expect("params");
    (tlv::encode(p.tag, p.value), bits.value[1..].to_vec())
}

/// Every curve, digest and form, signed by OpenSSL, verifies with the named-curve key, the
/// explicit-parameter key and the compressed point, and fails on another message and a flipped bit.
#[test]
fn openssl_signatures_verify_on_every_curve_digest_and_form() {
    let msg = b"signed attributes";
    let mut backends = BTreeMap::new();
    for c in Curve::ALL {
        let group = EcGroup::from_curve_name(nid(c)).expect("group");
        let key = EcKey::generate(&group).expect("key");
        let uncompressed = point_of(&key, PointConversionForm::UNCOMPRESSED);
        let compressed = point_of(&key, PointConversionForm::COMPRESSED);
        assert_eq!(uncompressed.len(), 1 + 2 * c.field_len(), "{c}");
        let keys = [
            ("named", named_key(c, uncompressed.clone())),
            ("explicit", Explicit::of(c).key(uncompressed.clone())),
            ("compressed", named_key(c, compressed.clone())),
            ("explicit compressed", Explicit::of(c).key(compressed)),
        ];
        for (_, k) in &keys {
            assert_eq!(k.ec_curve(), Some(c));
        }
        for d in DigestAlg::ALL {
            let (der, plain) = openssl_sign(c, &key, d, msg);
            for (form, alg, sig) in [("der", alg_id(der_oid(d), None), &der), ("plain", alg_id(&plain_oid(d), None), &plain)] {
                for (what, k) in &keys {
                    let ctx = format!("{c} {d} {form} {what}");
                    assert_eq!(verify(k, &alg, None, msg, sig), Ok(()), "{ctx}");
                    assert_eq!(verify(k, &alg, None, b"another message", sig), Err(VerifyError::Invalid), "{ctx}");
                    let mut flipped = sig.clone();
                    let last = flipped.len() - 1;
                    flipped[last] ^= 1;
                    assert_eq!(verify(k, &alg, None, msg, &flipped), Err(VerifyError::Invalid), "{ctx}");
                }
                backends.insert((c.name(), d.name(), form), ecdsa_backend(c, d, form == "plain", false).to_string());
            }
            // A SignerInfo naming only id-ecPublicKey takes the digest from the digest algorithm.
            let bare = alg_id(oid::EC_PUBLIC_KEY, None);
            assert_eq!(verify(&keys[0].1, &bare, Some(d), msg, &der), Ok(()), "{c} {d} bare");
            assert!(matches!(verify(&keys[0].1, &bare, None, msg, &der), Err(VerifyError::Unsupported { .. })));
            // The key of another curve (same or different size) never verifies.
            let other = if c == Curve::P256 { Curve::BrainpoolP256r1 } else { Curve::P256 };
            let wrong = named_key(other, uncompressed.clone());
            assert_eq!(verify(&wrong, &alg_id(der_oid(d), None), None, msg, &der), Err(VerifyError::Invalid), "{c} {d} as {other}");
        }
    }
    // The table the README shows ("Signature algorithms").
    for ((c, d, form), b) in &backends {
        println!("backend {c} {d} {form}: {b}");
    }
    assert_eq!(ecdsa_backend(Curve::P256, DigestAlg::Sha256, false, false), EcdsaBackend::Ring);
    assert_eq!(ecdsa_backend(Curve::P256, DigestAlg::Sha256, false, true), EcdsaBackend::RustCrypto("p256"));
    assert_eq!(ecdsa_backend(Curve::BrainpoolP320r1, DigestAlg::Sha384, true, false), EcdsaBackend::OpenSsl);
}

/// Coordinates whose first byte is zero (kept at full length in the point) verify; the same point
/// with the zero byte dropped is refused.
#[test]
fn coordinates_with_leading_zero_bytes() {
    let msg = b"padded coordinates";
    for c in Curve::ALL {
        let group = EcGroup::from_curve_name(nid(c)).expect("group");
        let n = c.field_len();
        let (mut x_found, mut y_found) = (false, false);
        for _ in 0..4000 {
            let key = EcKey::generate(&group).expect("key");
            let point = point_of(&key, PointConversionForm::UNCOMPRESSED);
            let x_zero = point[1] == 0;
            let y_zero = point[1 + n] == 0;
            let new_x = x_zero && !x_found;
            let new_y = y_zero && !y_found;
            if !new_x && !new_y {
                continue;
            }
            x_found |= x_zero;
            y_found |= y_zero;
            for d in [DigestAlg::Sha256, DigestAlg::Sha512] {
                let (der, plain) = openssl_sign(c, &key, d, msg);
                for k in [named_key(c, point.clone()), Explicit::of(c).key(point.clone())] {
                    assert_eq!(verify(&k, &alg_id(der_oid(d), None), None, msg, &der), Ok(()), "{c} {d}");
                    assert_eq!(verify(&k, &alg_id(&plain_oid(d), None), None, msg, &plain), Ok(()), "{c} {d} plain");
                }
                if x_zero {
                    let short = [&[4u8][..], &point[2..]].concat();
                    assert_eq!(verify(&named_key(c, short), &alg_id(der_oid(d), None), None, msg, &der), Err(VerifyError::Invalid), "{c}");
                }
            }
            if x_found && y_found {
                break;
            }
        }
        assert!(x_found && y_found, "{c}: no key with a leading zero byte in 4000 tries");
    }
}

#[test]
fn explicit_parameters_with_padding_seed_version_and_compressed_base_match() {
    for c in Curve::ALL {
        let k = c.params();
        let mut e = Explicit::of(c);
        e.p = [&[0u8, 0][..], k.p].concat(); // a redundant leading zero (non-minimal INTEGER content)
        e.a = [&[0u8][..], k.a].concat();
        e.b = [&[0u8][..], k.b].concat();
        e.n = [&[0u8][..], k.n].concat();
        e.seed = Some(vec![0x5a; 20]);
        e.h = None;
        assert_eq!(curves::match_explicit(&content(&e.der())), Ok(c), "{c} padded");
        let mut e = Explicit::of(c);
        let odd = k.gy.last().is_some_and(|y| y & 1 == 1);
        e.base = [&[if odd { 3u8 } else { 2 }][..], k.gx].concat();
        e.version = vec![3];
        assert_eq!(curves::match_explicit(&content(&e.der())), Ok(c), "{c} compressed base");
        e.base[0] ^= 1;
        assert!(curves::match_explicit(&content(&e.der())).is_err_and(|m| m.contains("another base point")), "{c} wrong parity");
    }
}

fn content(der: &[u8]) -> Vec<u8> {
    tlv::parse_single(der, 0x30).expect("sequence").value.to_vec()
}

#[test]
fn unknown_or_unsupported_ec_parameters_are_refused_clearly() {
    let c = Curve::BrainpoolP256r1;
    let msg = |e: &Explicit| match curves::ec_params(Some(&e.der())) {
        Err(m) => m,
        Ok(cp) => panic!("matched {cp:?}"),
    };
    let mut e = Explicit::of(c);
    e.b[31] ^= 1;
    assert_eq!(msg(&e), "explicit ec parameters match no known curve (field 256 bits: the prime of brainpoolP256r1, another b)");
    let mut e = Explicit::of(c);
    e.a[0] ^= 1;
    assert!(msg(&e).ends_with("another a)"));
    let mut e = Explicit::of(c);
    e.n[5] ^= 1;
    assert!(msg(&e).ends_with("another order)"));
    let mut e = Explicit::of(c);
    e.h = Some(vec![2]);
    assert!(msg(&e).ends_with("another cofactor)"));
    let mut e = Explicit::of(c);
    e.base[40] ^= 1;
    assert!(msg(&e).ends_with("another base point)"));
    // secp256k1: a 256-bit prime the table does not hold.
    let mut e = Explicit::of(c);
    e.p = hex::decode("fffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2f").expect("hex");
    assert_eq!(msg(&e), "explicit ec parameters match no known curve (field 256 bits)");
    let mut e = Explicit::of(Curve::P521);
    e.p[65] ^= 2;
    assert_eq!(msg(&e), "explicit ec parameters match no known curve (field 521 bits)");
    let mut e = Explicit::of(c);
    e.version = vec![4];
    assert!(msg(&e).contains("version 04"));
    let mut e = Explicit::of(c);
    e.p = vec![0x80, 0, 0, 1]; // enc_uint keeps it positive; a negative one is built below
    assert!(msg(&e).contains("field 32 bits"));

    let mut e = Explicit::of(c);
    e.negative_p = true; // a9fb.. written without the 00 sign byte: a negative INTEGER
    assert_eq!(msg(&e), "malformed explicit ec parameters: prime is negative");

    let key = |params: Vec<u8>| PublicKey::from_parts(alg_id(oid::EC_PUBLIC_KEY, Some(params)), vec![4; 65]);
    let unsupported = |k: &PublicKey| match &k.kind {
        KeyKind::Unsupported(m) => m.clone(),
        other => panic!("{other:?}"),
    };
    assert!(unsupported(&key(vec![0x05, 0x00])).contains("implicitlyCA"));
    assert_eq!(unsupported(&key(enc_oid("1.3.132.0.10"))), "elliptic curve 1.3.132.0.10 is not supported");
    assert_eq!(key(enc_oid("1.3.132.0.10")).curve.as_ref().map(Oid::as_str), Some("1.3.132.0.10"));
    assert!(unsupported(&PublicKey::from_parts(alg_id(oid::EC_PUBLIC_KEY, None), vec![4; 65])).contains("without curve parameters"));
    assert!(unsupported(&key(vec![0x30, 0x03, 0x02, 0x01])).contains("malformed"));
    assert!(unsupported(&key([enc_oid(oid::P256), vec![0]].concat())).contains("trailing"));
    // Characteristic two.
    let f2m = tlv::encode_seq(0x30, &[enc_uint(&[1]), tlv::encode_seq(0x30, &[enc_oid(curves::oid::CHARACTERISTIC_TWO_FIELD), enc_uint(&[1])])]);
    assert!(unsupported(&key(f2m)).contains("characteristic-two"));
    // A refused key reports its reason through verify.
    let k = key(vec![0x05, 0x00]);
    assert!(
        matches!(verify(&k, &alg_id(oid::ECDSA_SHA256, None), None, b"m", &[]), Err(VerifyError::Unsupported { oid }) if oid.contains("implicitlyCA"))
    );
}

// ---- Wycheproof ----

fn wycheproof_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("fixtures/wycheproof")
}

fn wycheproof_curve(name: &str) -> Curve {
    match name {
        "secp224r1" => Curve::P224,
        "secp256r1" => Curve::P256,
        "secp384r1" => Curve::P384,
        "secp521r1" => Curve::P521,
        "brainpoolP224r1" => Curve::BrainpoolP224r1,
        "brainpoolP256r1" => Curve::BrainpoolP256r1,
        "brainpoolP320r1" => Curve::BrainpoolP320r1,
        "brainpoolP384r1" => Curve::BrainpoolP384r1,
        "brainpoolP512r1" => Curve::BrainpoolP512r1,
        other => panic!("curve {other}"),
    }
}

fn wycheproof_hash(name: &str) -> DigestAlg {
    match name {
        "SHA-1" => DigestAlg::Sha1,
        "SHA-224" => DigestAlg::Sha224,
        "SHA-256" => DigestAlg::Sha256,
        "SHA-384" => DigestAlg::Sha384,
        "SHA-512" => DigestAlg::Sha512,
        other => panic!("hash {other}"),
    }
}

#[derive(Default, Debug)]
struct Counts {
    valid: usize,
    valid_ok: usize,
    invalid: usize,
    invalid_rejected: usize,
    acceptable: usize,
    acceptable_ok: usize,
}

/// Every file under fixtures/wycheproof: each `valid` verifies, each `invalid` is rejected as
/// invalid, `acceptable` may go either way; the explicit-parameter key of the group's curve gives
/// the same answer as the named one on every test.
#[test]
fn wycheproof_ecdsa_vectors() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(wycheproof_dir())
        .expect("fixtures/wycheproof")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 27, "the vector files listed in fixtures/wycheproof/README.md");
    let mut failures = Vec::new();
    let mut curves_seen = std::collections::BTreeSet::new();
    for path in &files {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        let plain = name.contains("_p1363_");
        let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("json");
        let mut counts = Counts::default();
        let mut total = 0;
        for g in v["testGroups"].as_array().expect("groups") {
            let curve = wycheproof_curve(g["publicKey"]["curve"].as_str().expect("curve"));
            curves_seen.insert(curve.name());
            let hash = wycheproof_hash(g["sha"].as_str().expect("sha"));
            let point = hex::decode(g["publicKey"]["uncompressed"].as_str().expect("point")).expect("hex");
            let named = named_key(curve, point.clone());
            let explicit = Explicit::of(curve).key(point);
            assert_eq!(named.ec_curve(), Some(curve));
            assert_eq!(explicit.ec_curve(), Some(curve));
            let alg = if plain { alg_id(&plain_oid(hash), None) } else { alg_id(der_oid(hash), None) };
            for t in g["tests"].as_array().expect("tests") {
                total += 1;
                let id = t["tcId"].as_u64().unwrap_or(0);
                let msg = hex::decode(t["msg"].as_str().expect("msg")).expect("hex");
                let sig = hex::decode(t["sig"].as_str().expect("sig")).expect("hex");
                let got = verify(&named, &alg, None, &msg, &sig);
                let got_explicit = verify(&explicit, &alg, None, &msg, &sig);
                if got != got_explicit {
                    failures.push(format!("{name} #{id}: named {got:?}, explicit {got_explicit:?}"));
                }
                match t["result"].as_str().expect("result") {
                    "valid" => {
                        counts.valid += 1;
                        if got.is_ok() {
                            counts.valid_ok += 1;
                        } else {
                            failures.push(format!("{name} #{id} valid: {got:?} ({})", t["comment"]));
                        }
                    }
                    "invalid" => {
                        counts.invalid += 1;
                        if got == Err(VerifyError::Invalid) {
                            counts.invalid_rejected += 1;
                        } else {
                            failures.push(format!("{name} #{id} invalid: {got:?} ({})", t["comment"]));
                        }
                    }
                    "acceptable" => {
                        counts.acceptable += 1;
                        counts.acceptable_ok += usize::from(got.is_ok());
                    }
                    other => panic!("{name} #{id}: result {other}"),
                }
            }
        }
        assert_eq!(total, v["numberOfTests"].as_u64().unwrap_or(0) as usize, "{name}: every test read");
        println!(
            "wycheproof {name}: valid {}/{} verified, invalid {}/{} rejected, acceptable {} ({} verified)",
            counts.valid_ok, counts.valid, counts.invalid_rejected, counts.invalid, counts.acceptable, counts.acceptable_ok
        );
    }
    assert_eq!(curves_seen.len(), 9, "{curves_seen:?}");
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

// ---- RSA ----

#[test]
fn rsa_pkcs1_and_pss_verify_and_unsupported_parameters_are_refused() {
    use openssl::hash::MessageDigest;
    use openssl::pkey::PKey;
    use openssl::rsa::{Padding, Rsa};
    use openssl::sign::{RsaPssSaltlen, Signer};
    let msg = b"tbs certificate";
    let rsa = Rsa::generate(2048).expect("rsa");
    let der = rsa.public_key_to_der_pkcs1().expect("pkcs1");
    let pkey = PKey::from_rsa(rsa).expect("pkey");
    let key = PublicKey::from_parts(alg_id(oid::RSA_ENCRYPTION, Some(vec![5, 0])), der);
    assert_eq!(key.kind, KeyKind::Rsa);
    let sign = |md: MessageDigest, pss: Option<i32>| {
        let mut s = Signer::new(md, &pkey).expect("signer");
        if let Some(salt) = pss {
            s.set_rsa_padding(Padding::PKCS1_PSS).expect("pss");
            s.set_rsa_pss_saltlen(RsaPssSaltlen::custom(salt)).expect("salt");
            s.set_rsa_mgf1_md(md).expect("mgf1");
        }
        s.sign_oneshot_to_vec(msg).expect("sign")
    };
    for (o, md, d) in [
        (oid::RSA_SHA1, MessageDigest::sha1(), DigestAlg::Sha1),
        (oid::RSA_SHA256, MessageDigest::sha256(), DigestAlg::Sha256),
        (oid::RSA_SHA384, MessageDigest::sha384(), DigestAlg::Sha384),
        (oid::RSA_SHA512, MessageDigest::sha512(), DigestAlg::Sha512),
    ] {
        let sig = sign(md, None);
        assert_eq!(verify(&key, &alg_id(o, None), None, msg, &sig), Ok(()), "{o}");
        assert_eq!(verify(&key, &alg_id(oid::RSA_ENCRYPTION, None), Some(d), msg, &sig), Ok(()), "{o} bare");
        assert_eq!(verify(&key, &alg_id(o, None), None, b"other", &sig), Err(VerifyError::Invalid), "{o}");
    }
    assert!(matches!(verify(&key, &alg_id(oid::RSA_SHA224, None), None, msg, &[0; 256]), Err(VerifyError::Unsupported { .. })));
    assert_eq!(verify(&key, &alg_id(oid::ECDSA_SHA256, None), None, msg, &[0; 64]), Err(VerifyError::Invalid));

    let hash_alg = |d: DigestAlg| tlv::encode_seq(0x30, &[enc_oid(d.oid()), vec![5, 0]]);
    let pss_params = |d: DigestAlg, mgf: DigestAlg, salt: u8, trailer: Option<u8>| {
        let mut parts = vec![
            tlv::encode(0xA0, &hash_alg(d)),
            tlv::encode(0xA1, &tlv::encode_seq(0x30, &[enc_oid(oid::MGF1), hash_alg(mgf)])),
            tlv::encode(0xA2, &enc_uint(&[salt])),
        ];
        if let Some(t) = trailer {
            parts.push(tlv::encode(0xA3, &enc_uint(&[t])));
        }
        tlv::encode_seq(0x30, &parts)
    };
    for (md, d) in [(MessageDigest::sha256(), DigestAlg::Sha256), (MessageDigest::sha384(), DigestAlg::Sha384), (MessageDigest::sha512(), DigestAlg::Sha512)] {
        let n = d.output_len() as u8;
        let sig = sign(md, Some(i32::from(n)));
        let pss = |p: Vec<u8>| alg_id(oid::RSA_PSS, Some(p));
        assert_eq!(verify(&key, &pss(pss_params(d, d, n, None)), None, msg, &sig), Ok(()), "pss {d}");
        assert_eq!(verify(&key, &pss(pss_params(d, d, n, Some(1))), None, msg, &sig), Ok(()), "pss {d} trailer 1");
        assert_eq!(verify(&key, &pss(pss_params(d, d, n, None)), None, b"other", &sig), Err(VerifyError::Invalid));
        for bad in [pss_params(d, d, 20, None), pss_params(d, DigestAlg::Sha1, n, None), pss_params(d, d, n, Some(2)), vec![0x30, 0x00], vec![5, 0]] {
            assert!(
                matches!(verify(&key, &pss(bad.clone()), None, msg, &sig), Err(VerifyError::Unsupported { oid }) if oid.starts_with(oid::RSA_PSS)),
                "pss {d} {}",
                hex::encode(&bad)
            );
        }
    }
    assert!(matches!(verify(&key, &alg_id(oid::RSA_PSS, None), None, msg, &[]), Err(VerifyError::Unsupported { .. })));

    // A 1024-bit key is refused as unsupported, not reported as a bad signature.
    let small = Rsa::generate(1024).expect("rsa");
    let small_key = PublicKey::from_parts(alg_id(oid::RSA_ENCRYPTION, None), small.public_key_to_der_pkcs1().expect("der"));
    let got = verify(&small_key, &alg_id(oid::RSA_SHA256, None), None, msg, &[0; 128]);
    assert!(matches!(&got, Err(VerifyError::Unsupported { oid }) if oid.contains("1024-bit")), "{got:?}");
    assert_eq!(verify(&PublicKey::from_parts(alg_id(oid::RSA_ENCRYPTION, None), vec![1, 2, 3]), &alg_id(oid::RSA_SHA256, None), None, msg, &[]), Err(VerifyError::Invalid));
}

#[test]
fn other_key_algorithms_and_names() {
    let dsa = PublicKey::from_parts(alg_id("1.2.840.10040.4.1", None), vec![1]);
    assert_eq!(dsa.kind, KeyKind::Unsupported("1.2.840.10040.4.1".into()));
    assert!(matches!(verify(&dsa, &alg_id(oid::ECDSA_SHA256, None), None, b"m", &[]), Err(VerifyError::Unsupported { .. })));
    let p256 = named_key(Curve::P256, vec![4; 65]);
    assert!(matches!(verify(&p256, &alg_id("1.2.3.4", None), None, b"m", &[]), Err(VerifyError::Unsupported { .. })));
    assert_eq!(verify(&p256, &alg_id(oid::RSA_SHA256, None), None, b"m", &[]), Err(VerifyError::Invalid));
    assert_eq!(signature_name(&oid_of(&plain_oid(DigestAlg::Sha384))), "ecdsa-plain-sha384");
    assert_eq!(signature_name(&oid_of(oid::ECDSA_SHA256)), "ecdsa-with-sha256");
    assert_eq!(signature_name(&oid_of("1.2.3.4")), "1.2.3.4");
    assert!(format!("{:?}", Explicit::of(Curve::P256).key(vec![4; 65])).contains("explicit parameters"));
}

// ---- no panic on any bytes ----

fn any_alg() -> impl Strategy<Value = AlgorithmIdentifier> {
    let oids = prop::sample::select(vec![
        oid::ECDSA_SHA1.to_string(),
        oid::ECDSA_SHA224.to_string(),
        oid::ECDSA_SHA256.to_string(),
        oid::ECDSA_SHA384.to_string(),
        oid::ECDSA_SHA512.to_string(),
        plain_oid(DigestAlg::Sha1),
        plain_oid(DigestAlg::Sha256),
        plain_oid(DigestAlg::Sha384),
        plain_oid(DigestAlg::Sha512),
        oid::EC_PUBLIC_KEY.to_string(),
        oid::RSA_SHA256.to_string(),
        oid::RSA_PSS.to_string(),
        oid::RSA_ENCRYPTION.to_string(),
    ]);
    (oids, prop::option::of(prop::collection::vec(any::<u8>(), 0..40))).prop_map(|(o, p)| alg_id(&o, p))
}

fn any_key_params() -> impl Strategy<Value = Vec<u8>> {
    let curve = prop::sample::select(Curve::ALL.to_vec());
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..200),
        curve.clone().prop_map(|c| enc_oid(c.oid())),
        // A valid explicit encoding with one byte changed or the end cut.
        (curve, any::<prop::sample::Index>(), any::<u8>(), any::<bool>()).prop_map(|(c, i, b, cut)| {
            let mut d = Explicit::of(c).der();
            let at = i.index(d.len());
            if cut {
                d.truncate(at);
            } else {
                d[at] ^= b;
            }
            d
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn random_keys_algorithms_and_signatures_never_panic(
        params in any_key_params(),
        rsa in any::<bool>(),
        prefix in prop::sample::select(vec![0u8, 2, 3, 4, 6, 0x30]),
        key in prop::collection::vec(any::<u8>(), 0..140),
        alg in any_alg(),
        fallback in prop::option::of(prop::sample::select(DigestAlg::ALL.to_vec())),
        sig in prop::collection::vec(any::<u8>(), 0..140),
    ) {
        let key_alg = if rsa { alg_id(oid::RSA_ENCRYPTION, Some(params)) } else { alg_id(oid::EC_PUBLIC_KEY, Some(params)) };
        let k = PublicKey::from_parts(key_alg, [vec![prefix], key].concat());
        let r = verify(&k, &alg, fallback, b"msg", &sig);
        // Random bytes are never a valid signature.
        prop_assert!(r.is_err());
    }

    #[test]
    fn random_signatures_on_real_keys_never_panic_or_verify(
        c in prop::sample::select(Curve::ALL.to_vec()),
        alg in any_alg(),
        sig in prop::collection::vec(any::<u8>(), 0..140),
    ) {
        let group = EcGroup::from_curve_name(nid(c)).expect("group");
        let key = EcKey::generate(&group).expect("key");
        let k = named_key(c, point_of(&key, PointConversionForm::UNCOMPRESSED));
        prop_assert!(verify(&k, &alg, Some(DigestAlg::Sha256), b"msg", &sig).is_err());
    }
}

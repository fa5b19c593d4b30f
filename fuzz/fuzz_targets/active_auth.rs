//! Fuzzes Active Authentication in `idcheck_chip::active_auth`: `AaPublicKey::from_spki` and
//! `from_dg15` on hostile DG15 bytes (then `verify` with what parsed), `verify` with hostile
//! signatures under real chips' keys (the RSA 1024 and RSA 1792 DG15s of the unit tests) and test
//! keys on P-256, brainpoolP256r1 and brainpoolP512r1, with a fuzzed signatureAlgorithm OID, and
//! the ISO/IEC 9796-2 representative parser. The first byte picks the mode.
#![no_main]

use std::sync::OnceLock;

use idcheck_chip::active_auth::{build_representative, parse_representative, verify, AaPrivateKey, AaPublicKey};
use libfuzzer_sys::fuzz_target;

/// pymrtd's real passport DG15 (RSA 1024), and gmrtd's real chip DG15 (RSA 1792) with its answer.
const DG15_RSA1024: &str = "6F81A230819F300D06092A864886F70D010101050003818D0030818902818100BD8620D45693E1CD8678639F22E9553F09E3AFD87BD26000113CE2798B7A02A2E0AB6B7525D09072109D938D6708167E8FAFAF83F17BFBA36CECCE26058C7ED9AE29516755B19F78CE0E73DA02340B117B8AB2ECA007F1390E93E896016335EB5C1E330B961C03E253D17874F7ABEE8D4962C49FFE578D46954FF23B26F5E5550203010001";
const DG15_RSA1792: &str = "6F8201023081FF300D06092A864886F70D01010105000381ED003081E90281E100BB8F93F4DC95E205CDA17C6927AB1E365B13065D03CD12E0FCE95D96840529453202F56CC4C13F77CD062930C8BC89A2873B257045C286E601CF3C09323A53103314902804AA10A314628CE222206A8866946A36B442041BB54AC81E6855DD1D6E16101833D65A191C20AC8B33B8A1A32920F46043F8031CF2BC17417030865FC5BE5A39DEE423BCBA3CA8177168EB23CFE01BA43EC87711B1CFFF85DB46F300DD8AE317B50D543B573E119E23AF7070D0B2FED6A3B2313A5EC02A531AAED1741F4390D1013E2A0F081EAC5DC8B0A1B2C6BDB1206F08D30E3643E1E5BDF536110203010001";
const RND_1792: [u8; 8] = [0x96, 0x30, 0x2b, 0x0f, 0x3d, 0x7e, 0x78, 0x64];
const SIG_1792: &str = "474256306840c0ab1b63c10e1c26bdfef4a0dd843920283cc4e6e70a60f2bd25dc7725f9677bc1cde66379dc28b38e8490f33afb2d10f9980c44c0bfc175d2b6684218f535c92fdd3e18db770a9ccbf91db3c7f0138e6d9e94b9bc8371761e3abed5e5e9b260279cfb238b58ae0d6a01da51c74c2a3ecd62c448bd9f20127f7384587287fa971204234e55b1a856c3e5aaaa620bb799a68fbae08ee132bb61683eba9b0b40dc1e54641cad975b16991cab50af82e3f3985afd19e7427a125f5b4b9878b12a5d2e01c7eedca3bb41c6fc05dccd818bce379d04b1f2f5d43487d3";

const OIDS: [&str; 8] = [
    "0.4.0.127.0.7.1.1.4.1.1",
    "0.4.0.127.0.7.1.1.4.1.2",
    "0.4.0.127.0.7.1.1.4.1.3",
    "0.4.0.127.0.7.1.1.4.1.4",
    "0.4.0.127.0.7.1.1.4.1.5",
    "1.2.840.10045.4.3.2",
    "0.4.0.127.0.7.1.1.4.1.9",
    "1.2.840.113549.1.1.11",
];

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2).map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex constant")).collect()
}

struct Keys {
    public: Vec<(AaPublicKey, Option<&'static str>)>,
    ec: Vec<AaPrivateKey>,
}

fn keys() -> &'static Keys {
    static K: OnceLock<Keys> = OnceLock::new();
    K.get_or_init(|| {
        let mut public = vec![
            (AaPublicKey::from_dg15(&unhex(DG15_RSA1024)).expect("real dg15"), None),
            (AaPublicKey::from_dg15(&unhex(DG15_RSA1792)).expect("real dg15"), None),
        ];
        let ec: Vec<AaPrivateKey> =
            ["P-256", "brainpoolP256r1", "brainpoolP512r1"].iter().map(|c| AaPrivateKey::generate_ec(c).expect("ec key")).collect();
        for k in &ec {
            public.push((k.public_key().expect("public half"), k.ecdsa_hash_oid()));
        }
        Keys { public, ec }
    })
}

fn challenge(b: &[u8]) -> [u8; 8] {
    let mut c = [0u8; 8];
    for (d, s) in c.iter_mut().zip(b) {
        *d = *s;
    }
    c
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, bytes)) = data.split_first() else { return };
    let oid = OIDS[usize::from(sel >> 4) % OIDS.len()];
    match sel % 5 {
        0 | 1 => {
            // A hostile SubjectPublicKeyInfo (0) or DG15 (1); what parses meets a signature of its
            // own length (the tail of the input) and a too short one.
            let parsed = if sel % 5 == 0 { AaPublicKey::from_spki(bytes) } else { AaPublicKey::from_dg15(bytes) };
            if let Ok(key) = parsed {
                let _ = key.describe();
                let len = key.signature_len();
                let tail = &bytes[bytes.len().saturating_sub(len)..];
                let _ = verify(&key, Some(oid), &challenge(bytes), tail);
                let mut sig = tail.to_vec();
                sig.resize(len, 0xA5);
                let _ = verify(&key, Some(oid), &challenge(bytes), &sig);
                let _ = verify(&key, None, &challenge(bytes), &sig);
            }
        }
        2 => {
            // Hostile signatures under fixed keys: bytes = key index, challenge (8), signature.
            let Some((&which, rest)) = bytes.split_first() else { return };
            let k = keys();
            let idx = usize::from(which) % k.public.len();
            let (key, own_oid) = &k.public[idx];
            let (c, sig) = rest.split_at(rest.len().min(8));
            let c = challenge(c);
            let _ = verify(key, Some(oid), &c, sig);
            let verdict = verify(key, *own_oid, &c, sig);
            if verdict.is_ok() {
                assert_eq!(sig.len(), key.signature_len(), "an answer of the wrong length verifies");
            }
            if idx == 1 && c == RND_1792 && sig == unhex(SIG_1792).as_slice() {
                assert!(verdict.is_ok(), "the real chip's answer does not verify: {verdict:?}");
            }
        }
        3 => {
            // Sign a fuzzed challenge with a test key: it verifies, and a flipped bit does not.
            let k = keys();
            let Some((&which, rest)) = bytes.split_first() else { return };
            let i = usize::from(which) % k.ec.len();
            let c = challenge(rest);
            let sig = k.ec[i].sign(&c).expect("signing");
            let (key, own_oid) = &k.public[2 + i];
            assert!(verify(key, *own_oid, &c, &sig).is_ok(), "a fresh answer does not verify");
            let bit = rest.get(8).copied().unwrap_or(0);
            let mut flipped = c;
            flipped[usize::from(bit >> 3) % 8] ^= 1 << (bit & 7);
            assert!(verify(key, *own_oid, &flipped, &sig).is_err(), "an answer verifies for another challenge");
        }
        _ => {
            // The ISO/IEC 9796-2 representative parser: its fields lie in the input, and a
            // representative built from them parses back to them.
            if let Ok(rec) = parse_representative(bytes) {
                assert!(rec.m1.len() + rec.digest.len() < bytes.len());
                assert_eq!(rec.digest.len(), rec.hash.output_len());
                if bytes[0] == 0x6A {
                    let rebuilt = build_representative(rec.m1, b"12345678", rec.hash, rec.explicit_trailer);
                    let again = parse_representative(&rebuilt).expect("a built representative parses");
                    assert_eq!((again.m1, again.hash, again.explicit_trailer), (rec.m1, rec.hash, rec.explicit_trailer));
                }
            }
        }
    }
});

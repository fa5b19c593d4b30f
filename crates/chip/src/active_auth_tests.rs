//! Tests of Active Authentication.

use super::*;

#[test]
fn rsa_round_trip() {
    let k = AaPrivateKey::generate_rsa(1024).unwrap();
    let pk = k.public_key().unwrap();
    let c = [1u8; 8];
    assert_eq!(verify(&pk, None, &c, &k.sign(&c).unwrap()), Ok(AaScheme::RsaIso9796_2 { hash: "sha-1" }));
}

//! Tests of the security-info parsers and writers.

use super::*;

#[test]
fn pace_oid_names() {
    let p = PaceProtocol::from_oid("0.4.0.127.0.7.2.2.4.2.2").expect("ECDH-GM-AES-128");
    assert_eq!(p, PaceProtocol { agreement: KeyAgreement::Ecdh, mapping: Mapping::Generic, cipher: Cipher::Aes128 });
    assert_eq!(p.to_string(), "id-PACE-ECDH-GM-AES-CBC-CMAC-128");
    assert_eq!(p.oid(), "0.4.0.127.0.7.2.2.4.2.2");
}

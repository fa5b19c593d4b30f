//! Tests of the Chip Authentication computations: four recorded passport sessions (host side,
//! byte for byte), the ICAO 9303-11 Appendix G final key agreements as a chip authentication
//! (both sides), the leading-zero shared secret, both sides agreeing on every standard domain and
//! cipher, and refusal of invalid keys.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::access::{FixedRandomness, SystemRandomness};
use crate::group::tests::{counter_key, dg14_ca_spki, g1, g2, gmrtd_ca, h, LEADING_ZERO_KEYS};
use crate::group::StandardDomain;

/// Recorded Chip Authentication sessions of real passports (AT, DE: AES-128; MY, FR: 3DES), from
/// gmrtd (github.com/gmrtd/gmrtd, chipauth/chip_auth_test.go: TestChipAuthAT, TestChipAuthDE,
/// TestChipAuthMY, TestChipAuthFR): the chip's key from its DG14 (explicit ECParameters), the
/// host's ephemeral private key of the session, its public key as sent, and the session keys the
/// chip accepted (the recorded secure messaging that follows verifies under them).
#[test]
fn host_side_reproduces_recorded_passport_sessions() {
    for s in gmrtd_ca::ALL {
        let (domain, chip_public) = Domain::from_spki(&dg14_ca_spki(&h(s.dg14))).unwrap();
        let cipher = if s.tdes { SmCipher::Tdes } else { SmCipher::Aes128 };
        let mut rng = FixedRandomness::new(h(s.sk_ifd));
        let (pk_ifd, keys) = host_agree(&domain, &chip_public, cipher, &mut rng).unwrap();
        assert_eq!(pk_ifd, h(&format!("04{}{}", s.pk_ifd_x, s.pk_ifd_y)), "{}", s.name);
        assert_eq!(keys.cipher(), cipher, "{}", s.name);
        assert_eq!(keys.k_enc(), h(s.ks_enc), "{}: KSEnc", s.name);
        assert_eq!(keys.k_mac(), h(s.ks_mac), "{}: KSMac", s.name);
    }
}

/// The last key agreement of the ICAO 9303-11 Appendix G worked examples is a Chip
/// Authentication in all but name (the same KA and KDF, on the mapped domain): G.1 (ECDH
/// brainpoolP256r1) and G.2 (DH MODP-1024/160), AES-128, both sides.
#[test]
fn icao_appendix_g_agreements_as_chip_authentication() {
    struct Case {
        d: StandardDomain,
        nonce: &'static str,
        map_sk_ifd: &'static str,
        map_pk_ic: &'static str,
        sk_ifd: &'static str,
        pk_ifd: &'static str,
        sk_ic: &'static str,
        pk_ic: &'static str,
        ks_enc: &'static str,
        ks_mac: &'static str,
    }
    let cases = [
        Case {
            d: StandardDomain::BrainpoolP256r1,
            nonce: g1::NONCE,
            map_sk_ifd: g1::MAP_SK_IFD,
            map_pk_ic: g1::MAP_PK_IC,
            sk_ifd: g1::SK_IFD,
            pk_ifd: g1::PK_IFD,
            sk_ic: g1::SK_IC,
            pk_ic: g1::PK_IC,
            ks_enc: g1::KS_ENC,
            ks_mac: g1::KS_MAC,
        },
        Case {
            d: StandardDomain::Modp1024_160,
            nonce: g2::NONCE,
            map_sk_ifd: g2::MAP_SK_IFD,
            map_pk_ic: g2::MAP_PK_IC,
            sk_ifd: g2::SK_IFD,
            pk_ifd: g2::PK_IFD,
            sk_ic: g2::SK_IC,
            pk_ic: g2::PK_IC,
            ks_enc: g2::KS_ENC,
            ks_mac: g2::KS_MAC,
        },
    ];
    for c in cases {
        let dom = Domain::standard(c.d);
        let map = dom.agree(&dom.key_pair(&h(c.map_sk_ifd)).unwrap(), &h(c.map_pk_ic)).unwrap();
        let mapped = dom.map_generic(&h(c.nonce), &map).unwrap();
        let mut rng = FixedRandomness::new(h(c.sk_ifd));
        let (pk_ifd, host) = host_agree(&mapped, &h(c.pk_ic), SmCipher::Aes128, &mut rng).unwrap();
        assert_eq!(pk_ifd, h(c.pk_ifd), "{}", c.d);
        assert_eq!(host.k_enc(), h(c.ks_enc), "{}", c.d);
        assert_eq!(host.k_mac(), h(c.ks_mac), "{}", c.d);
        let chip_key = mapped.key_pair(&h(c.sk_ic)).unwrap();
        let card = card_agree(&mapped, &chip_key, &pk_ifd, SmCipher::Aes128).unwrap();
        assert_eq!(card, host, "{}", c.d);
    }
}

#[test]
fn both_sides_agree_on_every_domain_and_cipher() {
    let mut rng = SystemRandomness::new();
    for d in StandardDomain::ALL {
        let dom = Domain::standard(d);
        let chip = generate_chip_key(&dom, &mut rng).unwrap();
        for cipher in [SmCipher::Tdes, SmCipher::Aes128, SmCipher::Aes192, SmCipher::Aes256] {
            let (pk_ifd, host) = host_agree(&dom, chip.public(), cipher, &mut rng).unwrap();
            assert_eq!(pk_ifd.len(), dom.public_len(), "{d}");
            let card = card_agree(&dom, &chip, &pk_ifd, cipher).unwrap();
            assert_eq!(card, host, "{d} {cipher}");
            assert_eq!(host.cipher(), cipher);
            assert_eq!(host.k_enc().len(), cipher.key_len());
        }
    }
}

/// A shared secret with a leading zero byte enters the KDF at the field length: the keys differ
/// from those of the stripped secret, and both sides agree.
#[test]
fn the_kdf_takes_the_shared_secret_padded() {
    for (d, _, _, ck) in LEADING_ZERO_KEYS {
        let dom = Domain::standard(d);
        let len = dom.private_len();
        let chip = dom.key_pair(&counter_key(len, ck)).unwrap();
        let mut rng = FixedRandomness::new(counter_key(len, 1));
        let (pk_ifd, host) = host_agree(&dom, chip.public(), SmCipher::Aes256, &mut rng).unwrap();
        let k = dom.agree(&chip, &pk_ifd).unwrap();
        assert_eq!(k.secret_bytes()[0], 0, "{d}");
        assert_eq!(host, SessionKeys::derive(SmCipher::Aes256, k.secret_bytes()), "{d}");
        let stripped: Vec<u8> = k.secret_bytes().iter().copied().skip_while(|&b| b == 0).collect();
        assert_ne!(host, SessionKeys::derive(SmCipher::Aes256, &stripped), "{d}");
        assert_eq!(card_agree(&dom, &chip, &pk_ifd, SmCipher::Aes256).unwrap(), host, "{d}");
    }
}

#[test]
fn invalid_keys_are_refused_on_both_sides() {
    let dom = Domain::standard(StandardDomain::P256);
    let mut rng = SystemRandomness::new();
    let chip = generate_chip_key(&dom, &mut rng).unwrap();
    let mut off = chip.public().to_vec();
    off[64] ^= 1;
    // An invalid chip key is refused before any randomness is drawn.
    let mut empty = FixedRandomness::new(Vec::new());
    assert!(matches!(host_agree(&dom, &off, SmCipher::Aes128, &mut empty), Err(GroupError::InvalidPublicKey(_))));
    assert!(matches!(host_agree(&dom, &[0], SmCipher::Aes128, &mut empty), Err(GroupError::InvalidPublicKey(_))));
    // The host's source failing is reported.
    assert!(matches!(host_agree(&dom, chip.public(), SmCipher::Aes128, &mut empty), Err(GroupError::Randomness(_))));
    // The card refuses an invalid PK_IFD and a PK_IFD of another domain.
    assert!(matches!(card_agree(&dom, &chip, &off, SmCipher::Aes128), Err(GroupError::InvalidPublicKey(_))));
    let p384 = Domain::standard(StandardDomain::P384);
    let other = p384.generate(&mut rng).unwrap();
    assert!(card_agree(&dom, &chip, other.public(), SmCipher::Aes128).is_err());
    let dh = Domain::standard(StandardDomain::Modp2048_256);
    let dh_chip = generate_chip_key(&dh, &mut rng).unwrap();
    let mut p = vec![0u8; 256];
    p[255] = 1;
    assert!(matches!(card_agree(&dh, &dh_chip, &p, SmCipher::Aes128), Err(GroupError::InvalidPublicKey(_))));
}

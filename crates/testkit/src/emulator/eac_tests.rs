//! PACE, Chip Authentication and Active Authentication between the host read engine
//! (`chip::read`) and the virtual card, in process (the pcscd + vpcd path is tests/pcsc_pace.rs):
//! every preset of `personalize` reads with the protocols it announces, and each card-side fault
//! gives the host failure a real clone or a wrong password gives.

use std::path::Path;

use super::card::{CardConfig, VirtualCard};
use super::eac::{AccessMode, ChipSecrets};
use super::faults::Faults;
use crate::personalize::{AaKey, ChipContent, ChipSecurity};
use crate::testpki::TestPki;
use idcheck_chip::bac::BacKey;
use idcheck_chip::read::{ChipReader, ReadOptions};
use idcheck_chip::{AccessPolicy, AuthRun, ReadFailureKind, ReadStep};
use idcheck_core::lds::{parse_dg1, ChipImage, Cipher, FileId, KeyAgreement, Mapping, PaceProtocol};

fn personalised(security: &ChipSecurity) -> (ChipImage, ChipSecrets) {
    let base = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("fixtures/samples/pass-case/acceptance/451022202404011140");
    let record = idcheck_core::records::acceptance::load_dir(&base).unwrap();
    let pki = TestPki::generate(5, "CN");
    let content = ChipContent::from_record(&record).unwrap();
    content.write_secured(&pki, time::OffsetDateTime::now_utc(), security, 3).unwrap()
}

fn card(image: ChipImage, secrets: ChipSecrets, faults: Faults, access: AccessMode) -> VirtualCard {
    VirtualCard::with_config(image, faults, CardConfig { rng_seed: Some(9), secrets, access, ..CardConfig::default() }).unwrap()
}

fn key(image: &ChipImage) -> BacKey {
    BacKey::from_mrz(&parse_dg1(image.get(FileId::Dg1).unwrap()).unwrap()).unwrap()
}

fn pace_only(agreement: KeyAgreement, cipher: Cipher, id: u32) -> ChipSecurity {
    ChipSecurity {
        pace: vec![(PaceProtocol { agreement, mapping: Mapping::Generic, cipher }, id)],
        chip_authentication: None,
        active_authentication: None,
        can: Some("123456".to_string()),
    }
}

#[test]
fn chip_and_active_authentication_over_bac() {
    for (ca, aa) in [((Cipher::Tdes, 12), AaKey::Rsa(1024)), ((Cipher::Aes128, 13), AaKey::Ec("P-256".into())), ((Cipher::Aes256, 0), AaKey::Ec("brainpoolP256r1".into()))] {
        let security = ChipSecurity { pace: Vec::new(), chip_authentication: Some(ca), active_authentication: Some(aa.clone()), can: None };
        let (image, secrets) = personalised(&security);
        let k = key(&image);
        let mut c = card(image.clone(), secrets, Faults::default(), AccessMode::Both);
        let out = ChipReader::new(&k, ReadOptions::default()).read(&mut c).unwrap_or_else(|f| panic!("{ca:?} {aa:?}: {f}"));
        assert_eq!(out.protocol, "BAC");
        assert!(out.chip_authentication.passed(), "{ca:?}: {:?}", out.chip_authentication);
        assert!(out.active_authentication.passed(), "{aa:?}: {:?}", out.active_authentication);
        assert_eq!(out.image, image);
        assert_eq!(c.stats().chip_authentications, 1);
    }
}

#[test]
fn a_clone_fails_chip_authentication_and_a_bad_signature_fails_active_authentication() {
    let (image, secrets) = personalised(&ChipSecurity { pace: Vec::new(), ..ChipSecurity::modern() });
    let k = key(&image);
    let mut c = card(image.clone(), secrets.clone(), Faults { ca_wrong_key: true, ..Faults::default() }, AccessMode::Both);
    let f = ChipReader::new(&k, ReadOptions::default()).read(&mut c).unwrap_err();
    assert_eq!((f.step, f.kind.clone()), (ReadStep::ChipAuthentication, ReadFailureKind::ChipAuthenticationFailed), "{f}");

    let mut c = card(image, secrets, Faults { aa_bad_signature: true, ..Faults::default() }, AccessMode::Both);
    let out = ChipReader::new(&k, ReadOptions::default()).read(&mut c).unwrap();
    assert!(out.chip_authentication.passed());
    assert!(matches!(out.active_authentication, AuthRun::Failed(_)), "{:?}", out.active_authentication);
}

#[test]
fn pace_on_every_domain_and_cipher() {
    let domains = [(KeyAgreement::Dh, 0), (KeyAgreement::Dh, 1), (KeyAgreement::Dh, 2), (KeyAgreement::Ecdh, 12), (KeyAgreement::Ecdh, 13), (KeyAgreement::Ecdh, 15), (KeyAgreement::Ecdh, 16), (KeyAgreement::Ecdh, 17), (KeyAgreement::Ecdh, 18)];
    for (agreement, id) in domains {
        for cipher in [Cipher::Tdes, Cipher::Aes128, Cipher::Aes192, Cipher::Aes256] {
            let (image, secrets) = personalised(&pace_only(agreement, cipher, id));
            let k = key(&image);
            // 2048-bit DH public keys do not fit a short APDU: such chips take extended length.
            let mut c = VirtualCard::with_config(
                image.clone(),
                Faults::default(),
                CardConfig { rng_seed: Some(9), secrets, access: AccessMode::PaceOnly, extended_length: matches!(id, 1 | 2), ..CardConfig::default() },
            )
            .unwrap();
            let out = ChipReader::new(&k, ReadOptions::default()).read(&mut c).unwrap_or_else(|f| panic!("{id} {cipher:?}: {f}"));
            assert_eq!(out.protocol, "PACE", "{id} {cipher:?}");
            assert_eq!(out.access.pace.as_ref().map(|p| p.parameter_id), Some(id));
            assert_eq!(out.image, image, "{id} {cipher:?}");
            assert_eq!(c.stats().pace_successes, 1);
        }
    }
}

#[test]
fn pace_with_can_wrong_can_and_policies() {
    let (image, secrets) = personalised(&ChipSecurity::modern());
    let k = key(&image);
    let mut c = card(image.clone(), secrets.clone(), Faults::default(), AccessMode::Both);
    let out = ChipReader::new(&k, ReadOptions::default()).with_can("123456").read(&mut c).unwrap();
    assert_eq!(out.access.pace.as_ref().map(|p| p.password), Some("can"));
    assert!(out.chip_authentication.passed() && out.active_authentication.passed(), "{out:?}");

    let mut c = card(image.clone(), secrets.clone(), Faults::default(), AccessMode::Both);
    let f = ChipReader::new(&k, ReadOptions::default()).with_can("000000").read(&mut c).unwrap_err();
    assert_eq!((f.step, f.kind.clone()), (ReadStep::PaceMutualAuthenticate, ReadFailureKind::AccessDenied), "{f}");
    assert_eq!(f.sw.map(|s| s.to_u16()), Some(0x6300));

    let mut c = card(image.clone(), secrets.clone(), Faults::default(), AccessMode::Both);
    let out = ChipReader::new(&k, ReadOptions { access: AccessPolicy::BacOnly, ..ReadOptions::default() }).read(&mut c).unwrap();
    assert_eq!(out.protocol, "BAC");

    let mut c = card(image, secrets, Faults::default(), AccessMode::PaceOnly);
    let f = ChipReader::new(&k, ReadOptions { access: AccessPolicy::BacOnly, ..ReadOptions::default() }).read(&mut c).unwrap_err();
    assert_eq!(f.step, ReadStep::GetChallenge, "{f}");
}

//! The worked example of ICAO 9303-11 Appendix D (chip-profile.md), byte for byte, through the
//! public API of both sides: key derivation, the BAC exchange over a scripted transport with
//! the example's nonces, the chip's answer rebuilt by the card side, the session keys and SSC,
//! and the protected SELECT / READ BINARY commands and answers.

use super::access::FixedRandomness;
use super::apdu::{Command, Response, StatusWord};
use super::bac::{card_respond, host_authentication_data, BacKey};
use super::link::Link;
use super::sm::{decrypt_3des, SmKeys};
use super::transport::ScriptedTransport;
use super::AccessControl;

fn hex(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).expect("test hex")
}
fn up(b: &[u8]) -> String {
    hex::encode_upper(b)
}
fn arr<const N: usize>(s: &str) -> [u8; N] {
    hex(s).try_into().expect("length")
}

const MRZ_INFO: &str = "L898902C<369080619406236";
const RND_IC: &str = "4608F91988702212";
const RND_IFD: &str = "781723860C06C226";
const K_IFD: &str = "0B795240CB7049B01C19B33E32804F0B";
const K_IC: &str = "0B4F80323EB3191CB04970CB4052790B";
const E_IFD: &str = "72C29C2371CC9BDB65B779B8E8D37B29ECC154AA56A8799FAE2F498F76ED92F2";
const M_IFD: &str = "5F1448EEA8AD90A7";
const CHIP_ANSWER: &str = "46B9342A41396CD7386BF5803104D7CEDC122B9132139BAF2EEDC94EE178534F2F2D235D074D7449";

#[test]
fn document_basic_access_keys() {
    let key = BacKey::from_mrz_information(MRZ_INFO).unwrap();
    assert_eq!(up(key.seed()), "239AB9CB282DAF66231DC5A4DF6BFBAE");
    assert_eq!(up(&key.keys().k_enc), "AB94FDECF2674FDFB9B391F85D7F76F2");
    assert_eq!(up(&key.keys().k_mac), "7962D9ECE03D1ACD4C76089DCE131543");
    // The same key from the printed fields (check digits computed).
    assert_eq!(BacKey::from_fields("L898902C", "690806", "940623").unwrap(), key);
    assert!(BacKey::from_mrz_information("L898902C<3690806194062").is_err());
    assert!(BacKey::from_mrz_information("l898902C<369080619406236").is_err());
}

#[test]
fn host_authentication_data_is_e_ifd_m_ifd() {
    let key = BacKey::from_mrz_information(MRZ_INFO).unwrap();
    let data = host_authentication_data(key.keys(), &arr(RND_IC), &arr(RND_IFD), &arr(K_IFD));
    assert_eq!(up(&data[..32]), E_IFD);
    assert_eq!(up(&data[32..]), M_IFD);
}

#[test]
fn card_side_builds_the_chip_answer_and_the_session() {
    let key = BacKey::from_mrz_information(MRZ_INFO).unwrap();
    let (answer, ch) = card_respond(&key, &arr(RND_IC), &arr(K_IC), &hex(&format!("{E_IFD}{M_IFD}"))).unwrap();
    assert_eq!(up(&answer), CHIP_ANSWER);
    assert_eq!(up(ch.keys().k_enc()), "979EC13B1CBFE9DCD01AB0FED307EAE5");
    assert_eq!(up(ch.keys().k_mac()), "F1CB1F1FB5ADF208806B89DC579DC1F8");
    assert_eq!(up(&ch.ssc()), "887022120C06C226");
    // The decrypted answer is RND.IC || RND.IFD || K.IC.
    let r = decrypt_3des(&key.keys().k_enc, &answer[..32]).unwrap();
    assert_eq!(up(&r), format!("{RND_IC}{RND_IFD}{K_IC}"));
    // A wrong challenge or a flipped MAC is refused.
    assert!(card_respond(&key, &arr("0000000000000000"), &arr(K_IC), &hex(&format!("{E_IFD}{M_IFD}"))).is_err());
    assert!(card_respond(&key, &arr(RND_IC), &arr(K_IC), &hex(&format!("{E_IFD}5F1448EEA8AD90A6"))).is_err());
}

#[test]
fn whole_worked_example_through_the_link() {
    let key = BacKey::from_mrz_information(MRZ_INFO).unwrap();
    let mut t = ScriptedTransport::new()
        .answer(hex(&format!("{RND_IC}9000")))
        .answer(hex(&format!("{CHIP_ANSWER}9000")))
        .answer(hex("990290008E08FA855A5D4C50A8ED9000"))
        .answer(hex("8709019FF0EC34F9922651990290008E08AD55CC17140B2DED9000"))
        .answer(hex("871901FB9235F4E4037F2327DCC8964F1F9B8C30F42C8E2FFF224A990290008E08C8B2787EAEA07D749000"));
    let mut rng = FixedRandomness::new(hex(&format!("{RND_IFD}{K_IFD}")));
    let mut link = Link::new(&mut t);
    let mut ch = key.establish(&mut link, &mut rng).unwrap();
    assert_eq!(up(ch.keys().k_enc()), "979EC13B1CBFE9DCD01AB0FED307EAE5");
    assert_eq!(up(ch.keys().k_mac()), "F1CB1F1FB5ADF208806B89DC579DC1F8");
    assert_eq!(up(&ch.ssc()), "887022120C06C226");

    let r = link.send_secure(&mut ch, &Command::select_ef(0x011E)).unwrap();
    assert_eq!(r, Response::status(StatusWord::Success));
    let head = link.send_secure(&mut ch, &Command::read_binary(0, 4).unwrap()).unwrap();
    assert_eq!(up(&head.data), "60145F01");
    let rest = link.send_secure(&mut ch, &Command::read_binary(4, 18).unwrap()).unwrap();
    assert_eq!(rest.data.len(), 18);
    let com = [head.data, rest.data].concat();
    assert_eq!(up(&com), "60145F0104303130365F36063034303030305C026175");
    assert_eq!(link.counters().apdus, 5);

    assert_eq!(up(&t.sent[0]), "0084000008");
    assert_eq!(up(&t.sent[1]), format!("0082000028{E_IFD}{M_IFD}28"));
    assert_eq!(up(&t.sent[2]), "0CA4020C158709016375432908C044F68E08BF8B92D635FF24F800");
    assert_eq!(up(&t.sent[3]), "0CB000000D9701048E08ED6705417E96BA5500");
    assert_eq!(up(&t.sent[4]), "0CB000040D9701128E082EA28A70F3C7B53500");
    // The example's EF.COM parses.
    let parsed = idcheck_core::lds::parse_com(&com).unwrap();
    assert_eq!(parsed.lds_version, "0106");
}

#[test]
fn wrong_key_chip_answer_is_refused_by_host() {
    // The chip answer of the example does not verify under another document's keys.
    let other = BacKey::from_fields("L898902C", "690806", "940624").unwrap();
    let mut t = ScriptedTransport::new().answer(hex(&format!("{RND_IC}9000"))).answer(hex(&format!("{CHIP_ANSWER}9000")));
    let mut rng = FixedRandomness::new(hex(&format!("{RND_IFD}{K_IFD}")));
    let err = other.establish(&mut Link::new(&mut t), &mut rng).unwrap_err();
    assert_eq!(err.kind, super::ReadFailureKind::AuthenticationInvalid);
    assert_eq!(err.to_string(), "mutual authenticate: chip's bac answer does not verify: mac of the authentication data does not verify");
    let _ = SmKeys::derive(&[0; 16]);
}

//! Tests of the key-agreement groups: the ICAO 9303-11 Appendix G worked examples byte for byte,
//! every RustCrypto curve against OpenSSL, keys whose encodings start with zero bytes, the
//! refusal of invalid peer keys, and SubjectPublicKeyInfo reading (real DG14s with explicit
//! parameters) and writing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::access::{FixedRandomness, SystemRandomness};

fn h(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    hex::decode(s).unwrap()
}

#[test]
fn every_standard_domain_agrees_both_ways() {
    let mut rng = SystemRandomness::new();
    for d in StandardDomain::ALL {
        let dom = Domain::standard(d);
        assert_eq!(dom.standard_domain(), Some(d));
        let a = dom.generate(&mut rng).unwrap();
        let b = dom.generate(&mut rng).unwrap();
        assert_eq!(a.public().len(), dom.public_len(), "{d}");
        let ka = dom.agree(&a, b.public()).unwrap();
        let kb = dom.agree(&b, a.public()).unwrap();
        assert_eq!(ka.secret_bytes(), kb.secret_bytes(), "{d}");
        assert_eq!(ka.secret_bytes().len(), dom.field_len(), "{d}");
    }
}

/// How the leading-zero keys below were found (run with `--ignored --nocapture`): private keys
/// `01 00 .. 00 || counter` (big-endian u32 counter), the first counter whose public X (then Y),
/// or whose shared secret with the key of counter 1, starts with a zero byte (P-521: two zero
/// bytes, since its top byte is 00 or 01 anyway).
#[test]
#[ignore]
fn search_leading_zero_keys() {
    fn key(len: usize, counter: u32) -> Vec<u8> {
        let mut d = vec![0u8; len];
        d[0] = 0x01;
        d[len - 4..].copy_from_slice(&counter.to_be_bytes());
        d
    }
    for d in StandardDomain::ALL {
        let dom = Domain::standard(d);
        let fl = dom.field_len();
        let zeros = if d == StandardDomain::P521 { 2 } else { 1 };
        let lead = |b: &[u8]| b[..zeros].iter().all(|&x| x == 0);
        let len = dom.private_len();
        let peer = dom.key_pair(&key(len, 1)).unwrap();
        let (mut x, mut y, mut k) = (None, None, None);
        for c in 2u32..200_000 {
            let kp = dom.key_pair(&key(len, c)).unwrap();
            let public = kp.public();
            if dom.is_ec() {
                if x.is_none() && lead(&public[1..]) {
                    x = Some(c);
                }
                if y.is_none() && lead(&public[1 + fl..]) {
                    y = Some(c);
                }
            } else if x.is_none() && lead(public) {
                x = Some(c);
                y = Some(0);
            }
            if k.is_none() && lead(dom.agree(&kp, peer.public()).unwrap().secret_bytes()) {
                k = Some(c);
            }
            if x.is_some() && y.is_some() && k.is_some() {
                break;
            }
        }
        println!("{d}: x {x:?} y {y:?} shared {k:?}");
    }
}

/// Private key `01 00 .. 00 || counter` of `len` bytes (see `search_leading_zero_keys`).
fn counter_key(len: usize, counter: u32) -> Vec<u8> {
    let mut d = vec![0u8; len];
    d[0] = 0x01;
    d[len - 4..].copy_from_slice(&counter.to_be_bytes());
    d
}

// ---- ICAO 9303-11 Appendix G.1: PACE ECDH generic mapping, brainpoolP256r1 ----
//
// ICAO Doc 9303 Part 11 (Eighth Edition, 2021), Appendix G "PACE worked example", G.1 "ECDH based
// example" (parameter id 13, id-PACE-ECDH-GM-AES-CBC-CMAC-128). The same values are in gmrtd
// (github.com/gmrtd/gmrtd, pace/pace_test.go: TestDoGenericMappingEC, TestDoPace_GM_ECDH) and in
// other readers' tests copying the appendix; our results agree with all of them.
mod g1 {
    pub const NONCE: &str = "3F00C4D39D153F2B2A214A078D899B22";
    /// The nonce as a scalar of the curve's length.
    pub const NONCE_PADDED: &str = "000000000000000000000000000000003F00C4D39D153F2B2A214A078D899B22";
    pub const MAP_SK_IFD: &str = "7F4EF07B9EA82FD78AD689B38D0BC78CF21F249D953BC46F4C6E19259C010F99";
    pub const MAP_PK_IFD: &str = "04 7ACF3EFC982EC45565A4B155129EFBC74650DCBFA6362D896FC70262E0C2CC5E
                                    544552DCB6725218799115B55C9BAA6D9F6BC3A9618E70C25AF71777A9C4922D";
    pub const MAP_SK_IC: &str = "498FF49756F2DC1587840041839A85982BE7761D14715FB091EFA7BCE9058560";
    pub const MAP_PK_IC: &str = "04 824FBA91C9CBE26BEF53A0EBE7342A3BF178CEA9F45DE0B70AA601651FBA3F57
                                   30D8C879AAA9C9F73991E61B58F4D52EB87A0A0C709A49DC63719363CCD13C54";
    /// H, the shared point of the mapping key agreement.
    pub const H: &str = "04 60332EF2450B5D247EF6D3868397D398852ED6E8CAF6FFEEF6BF85CA57057FD5
                           0840CA7415BAF3E43BD414D35AA4608B93A2CAF3A4E3EA4E82C9C13D03EB7181";
    /// G' = s*G + H.
    pub const MAPPED_G: &str = "04 8CED63C91426D4F0EB1435E7CB1D74A46723A0AF21C89634F65A9AE87A9265E2
                                  8C879506743F8611AC33645C5B985C80B5F09A0B83407C1B6A4D857AE76FE522";
    pub const SK_IFD: &str = "A73FB703AC1436A18E0CFA5ABB3F7BEC7A070E7A6788486BEE230C4A22762595";
    pub const PK_IFD: &str = "04 2DB7A64C0355044EC9DF190514C625CBA2CEA48754887122F3A5EF0D5EDD301C
                                3556F3B3B186DF10B857B58F6A7EB80F20BA5DC7BE1D43D9BF850149FBB36462";
    pub const SK_IC: &str = "107CF58696EF6155053340FD633392BA81909DF7B9706F226F32086C7AFF974A";
    pub const PK_IC: &str = "04 9E880F842905B8B3181F7AF7CAA9F0EFB743847F44A306D2D28C1D9EC65DF6DB
                               7764B22277A2EDDC3C265A9F018F9CB852E111B768B326904B59A0193776F094";
    /// K, the X coordinate of the shared point over G'.
    pub const K: &str = "28768D20701247DAE81804C9E780EDE582A9996DB4A315020B2733197DB84925";
}

#[test]
fn icao_g1_ecdh_generic_mapping_brainpool_p256r1() {
    let dom = Domain::standard(StandardDomain::from_parameter_id(13).unwrap());
    assert_eq!(dom.curve(), Some(Curve::BrainpoolP256r1));
    // Mapping key agreement.
    let map_ifd = dom.key_pair(&h(g1::MAP_SK_IFD)).unwrap();
    let map_ic = dom.key_pair(&h(g1::MAP_SK_IC)).unwrap();
    assert_eq!(map_ifd.public(), h(g1::MAP_PK_IFD));
    assert_eq!(map_ic.public(), h(g1::MAP_PK_IC));
    let h_ifd = dom.agree(&map_ifd, &h(g1::MAP_PK_IC)).unwrap();
    let h_ic = dom.agree(&map_ic, &h(g1::MAP_PK_IFD)).unwrap();
    assert_eq!(h_ifd.point_bytes().unwrap(), h(g1::H));
    assert_eq!(h_ic.point_bytes().unwrap(), h(g1::H));
    assert_eq!(h_ifd.secret_bytes(), &h(g1::H)[1..33]);
    // Generic mapping, both sides.
    let mapped = dom.map_generic(&h(g1::NONCE), &h_ifd).unwrap();
    assert_eq!(mapped.generator(), h(g1::MAPPED_G));
    assert_eq!(dom.map_generic(&h(g1::NONCE), &h_ic).unwrap(), mapped);
    assert_eq!(mapped.standard_domain(), None);
    // Ephemeral key agreement over G'.
    let ifd = mapped.key_pair(&h(g1::SK_IFD)).unwrap();
    let ic = mapped.key_pair(&h(g1::SK_IC)).unwrap();
    assert_eq!(ifd.public(), h(g1::PK_IFD));
    assert_eq!(ic.public(), h(g1::PK_IC));
    assert_eq!(mapped.agree(&ifd, &h(g1::PK_IC)).unwrap().secret_bytes(), h(g1::K));
    assert_eq!(mapped.agree(&ic, &h(g1::PK_IFD)).unwrap().secret_bytes(), h(g1::K));
    // The same through OpenSSL.
    let c = Curve::BrainpoolP256r1;
    let g = dom.generator();
    assert_eq!(openssl_ec::mul_add(c, g, &h(g1::MAP_SK_IFD), false, None).unwrap(), h(g1::MAP_PK_IFD));
    assert_eq!(openssl_ec::mul_add(c, g, &h(g1::NONCE_PADDED), true, Some(&h(g1::H))).unwrap(), h(g1::MAPPED_G));
}

// ---- ICAO 9303-11 Appendix G.2: PACE DH generic mapping, 1024-bit MODP (RFC 5114 2.1) ----
//
// ICAO Doc 9303 Part 11 (Eighth Edition, 2021), Appendix G, G.2 "DH based example" (parameter id
// 0, id-PACE-DH-GM-AES-CBC-CMAC-128). The same values are in the vcmrtd and dmrtd DH PACE tests
// (test/dh_pace_test.dart: "Vectors from ICAO 9303 p11 Appendix G.2") and other readers' tests.
mod g2 {
    pub const NONCE: &str = "FA5B7E3E49753A0DB9178B7B9BD898C8";
    pub const MAP_SK_IFD: &str = "5265030F751F4AD18B08AC565FC7AC952E41618D";
    pub const MAP_PK_IFD: &str = "23FB3749EA030D2A25B278D2A562047ADE3F01B74F17A15402CB7352CA7D2B3E
                                  B71C343DB13D1DEBCE9A3666DBCFC920B49174A602CB47965CAA73DC702489A4
                                  4D41DB914DE9613DC5E98C94160551C0DF86274B9359BC0490D01B03AD54022D
                                  CB4F57FAD6322497D7A1E28D46710F461AFE710FBBBC5F8BA166F4311975EC6C";
    pub const MAP_SK_IC: &str = "66DDAFEAC1609CB5B963BB0CB3FF8B3E047F336C";
    pub const MAP_PK_IC: &str = "78879F57225AA8080D52ED0FC890A4B25336F699AA89A2D3A189654AF70729E6
                                 23EA5738B26381E4DA19E004706FACE7B235C2DBF2F38748312F3C98C2DD4882
                                 A41947B324AA1259AC22579DB93F7085655AF30889DBB845D9E6783FE42C9F24
                                 49400306254C8AE8EE9DD812A804C0B66E8CAFC14F84D8258950A91B44126EE6";
    /// h, the shared element of the mapping key agreement.
    pub const H: &str = "5BABEBEF5B74E5BA94B5C063FDA15F1F1CDE94873EE0A5D3A2FCAB49F258D07F
                         544F13CB66658C3AFEE9E727389BE3F6CBBBD32128A8C21DD6EEA3CF7091CDDF
                         B08B8D007D40318DCCA4FFBF51208790FB4BD111E5A968ED6B6F08B26CA87C41
                         0B3CE0C310CE104EABD16629AA48620C1279270CB0750C0D37C57FFFE302AE7F";
    /// g' = g^s * h mod p.
    pub const MAPPED_G: &str = "7C9CBFE98F9FBDDA8D143506FA7D9306F4CB17E3C71707AFF5E1C1A123702496
                                84D64EE37AF44B8DBD9D45BF6023919CBAA027AB97ACC771666C8E98FF483301
                                BFA4872DEDE9034EDFACB70814166B7F360676829B826BEA57291B5AD69FBC84
                                EF1E779032A305803F74341793E869742D401325B37EE8565FFCDEE618342DC5";
    pub const SK_IFD: &str = "89CCD99B0E8D3B1F11E1296DCA68EC53411CF2CA";
    pub const PK_IFD: &str = "907D89E2D425A178AA81AF4A7774EC8E388C115CAE67031E85EECE520BD91155
                              1B9AE4D04369F29A02626C86FBC6747CC7BC352645B6161A2A42D44EDA80A08F
                              A8D61B76D3A154AD8A5A51786B0BC07147057871A922212C5F67F43173172236
                              B7747D1671E6D692A3C7D40A0C3C5CE397545D015C175EB5130551EDBC2EE5D4";
    pub const SK_IC: &str = "A5B780126B7C980E9FCEA1D4539DA1D27C342DFA";
    pub const PK_IC: &str = "075693D9AE941877573E634B6E644F8E60AF17A0076B8B123D9201074D36152B
                             D8B3A213F53820C42ADC79AB5D0AEEC3AEFB91394DA476BD97B9B14D0A65C1FC
                             71A0E019CB08AF55E1F729005FBA7E3FA5DC41899238A250767A6D46DB974064
                             386CD456743585F8E5D90CC8B4004B1F6D866C79CE0584E49687FF61BC29AEA1";
    /// K, the shared element over g'.
    pub const K: &str = "6BABC7B3A72BCD7EA385E4C62DB2625BD8613B24149E146A629311C4CA6698E3
                         8B834B6A9E9CD7184BA8834AFF5043D436950C4C1E7832367C10CB8C314D40E5
                         990B0DF7013E64B4549E2270923D06F08CFF6BD3E977DDE6ABE4C31D55C0FA2E
                         465E553E77BDF75E3193D3834FC26E8EB1EE2FA1E4FC97C18C3F6CFFFE2607FD";
}

#[test]
fn icao_g2_dh_generic_mapping_modp_1024_160() {
    let dom = Domain::standard(StandardDomain::from_parameter_id(0).unwrap());
    assert_eq!(dom.field_len(), 128);
    let map_ifd = dom.key_pair(&h(g2::MAP_SK_IFD)).unwrap();
    let map_ic = dom.key_pair(&h(g2::MAP_SK_IC)).unwrap();
    assert_eq!(map_ifd.public(), h(g2::MAP_PK_IFD));
    assert_eq!(map_ic.public(), h(g2::MAP_PK_IC));
    let h_ifd = dom.agree(&map_ifd, &h(g2::MAP_PK_IC)).unwrap();
    let h_ic = dom.agree(&map_ic, &h(g2::MAP_PK_IFD)).unwrap();
    assert_eq!(h_ifd.secret_bytes(), h(g2::H));
    assert_eq!(h_ic.secret_bytes(), h(g2::H));
    assert!(h_ifd.point_bytes().is_none());
    let mapped = dom.map_generic(&h(g2::NONCE), &h_ifd).unwrap();
    assert_eq!(mapped.generator(), h(g2::MAPPED_G));
    assert_eq!(dom.map_generic(&h(g2::NONCE), &h_ic).unwrap(), mapped);
    assert_eq!(mapped.standard_domain(), None);
    let ifd = mapped.key_pair(&h(g2::SK_IFD)).unwrap();
    let ic = mapped.key_pair(&h(g2::SK_IC)).unwrap();
    assert_eq!(ifd.public(), h(g2::PK_IFD));
    assert_eq!(ic.public(), h(g2::PK_IC));
    assert_eq!(mapped.agree(&ifd, &h(g2::PK_IC)).unwrap().secret_bytes(), h(g2::K));
    assert_eq!(mapped.agree(&ic, &h(g2::PK_IFD)).unwrap().secret_bytes(), h(g2::K));
}

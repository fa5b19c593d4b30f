//! The security-info files: EF.CardAccess (a bare `SET OF SecurityInfo`, tag 31), DG14 (tag 6E
//! wrapping the same SET) and DG15 (tag 6F wrapping the Active Authentication
//! SubjectPublicKeyInfo). This module owns the typed SecurityInfos of ICAO 9303-11 section 9.2 and
//! BSI TR-03110-3 appendix A.1 that PACE, Chip Authentication and Active Authentication need
//! ([`PaceInfo`], [`PaceDomainParameterInfo`], [`ChipAuthenticationInfo`],
//! [`ChipAuthenticationDomainParameterInfo`], [`ChipAuthenticationPublicKeyInfo`],
//! [`ActiveAuthenticationInfo`]), their parsing from untrusted bytes and the writers, which
//! round-trip with the parsers (a parsed file re-encodes to the same bytes when its encoding was
//! minimal DER; the SET is written in the order given, never re-sorted). SecurityInfos this
//! profile does not model (Terminal Authentication, Restricted Identification, CardInfo, ...) are
//! kept whole as [`SecurityInfo::Other`]. A known protocol OID with the wrong structure is an
//! [`LdsError`] naming the file, the field and the offset; nothing here panics on any input.
//! Everything here is public data, so Debug prints it all.

use std::fmt;

use super::{field_err, tlv_err, FileId, LdsError};
use crate::pki::der::oid_content;
use crate::pki::Oid;
use crate::tlv::{self, Reader, Tlv, TlvError};

/// Object identifiers (dotted) of the security infos and of the key algorithms of DG15.
pub mod oid {
    /// bsi-de (BSI TR-03110-3 A.1.1).
    pub const BSI_DE: &str = "0.4.0.127.0.7";
    /// id-PK: ChipAuthenticationPublicKeyInfo (`.1` DH, `.2` ECDH).
    pub const ID_PK: &str = "0.4.0.127.0.7.2.2.1";
    /// id-TA: TerminalAuthenticationInfo (kept as [`super::SecurityInfo::Other`]).
    pub const ID_TA: &str = "0.4.0.127.0.7.2.2.2";
    /// id-CA: ChipAuthenticationInfo (`.1` DH, `.2` ECDH, then the cipher arc).
    pub const ID_CA: &str = "0.4.0.127.0.7.2.2.3";
    /// id-PACE: PACEInfo (`.{1 DH-GM, 2 ECDH-GM, 3 DH-IM, 4 ECDH-IM, 6 ECDH-CAM}.{cipher}`).
    pub const ID_PACE: &str = "0.4.0.127.0.7.2.2.4";
    /// id-AA: ActiveAuthenticationInfo (ICAO 9303-11 9.2).
    pub const ID_AA: &str = "2.23.136.1.1.5";
    /// rsaEncryption (PKCS #1), an RSA Active Authentication key in DG15.
    pub const RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";
    /// id-ecPublicKey (X9.62), an ECDSA Active Authentication key in DG15.
    pub const EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
}

const ARCS_PK: [u64; 9] = [0, 4, 0, 127, 0, 7, 2, 2, 1];
const ARCS_CA: [u64; 9] = [0, 4, 0, 127, 0, 7, 2, 2, 3];
const ARCS_PACE: [u64; 9] = [0, 4, 0, 127, 0, 7, 2, 2, 4];
const ARCS_AA: [u64; 6] = [2, 23, 136, 1, 1, 5];

const SEQUENCE: u32 = 0x30;
const SET: u32 = 0x31;
const INTEGER: u32 = 0x02;
const OBJECT_IDENTIFIER: u32 = 0x06;
const BIT_STRING: u32 = 0x03;

// ---------------------------------------------------------------------------------------------
// Algorithms
// ---------------------------------------------------------------------------------------------

/// The key agreement of PACE or Chip Authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyAgreement {
    /// Diffie-Hellman over a prime field (PKCS #3).
    Dh,
    /// Elliptic-curve Diffie-Hellman.
    Ecdh,
}

impl KeyAgreement {
    /// The arc below id-CA and id-PK: 1 DH, 2 ECDH.
    fn arc(self) -> u64 {
        match self {
            KeyAgreement::Dh => 1,
            KeyAgreement::Ecdh => 2,
        }
    }

    fn from_arc(arc: u64) -> Option<KeyAgreement> {
        match arc {
            1 => Some(KeyAgreement::Dh),
            2 => Some(KeyAgreement::Ecdh),
            _ => None,
        }
    }
}

impl fmt::Display for KeyAgreement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyAgreement::Dh => "DH",
            KeyAgreement::Ecdh => "ECDH",
        })
    }
}

/// The nonce mapping of PACE (ICAO 9303-11 4.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mapping {
    /// Generic Mapping (GM).
    Generic,
    /// Integrated Mapping (IM).
    Integrated,
    /// Chip Authentication Mapping (CAM), ECDH only.
    ChipAuthentication,
}

impl fmt::Display for Mapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mapping::Generic => "GM",
            Mapping::Integrated => "IM",
            Mapping::ChipAuthentication => "CAM",
        })
    }
}

/// The secure-messaging cipher and MAC a protocol establishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cipher {
    /// Two-key 3DES in CBC mode with the ISO 9797-1 MAC algorithm 3 (`3DES-CBC-CBC`).
    Tdes,
    /// AES-128 CBC with CMAC (`AES-CBC-CMAC-128`).
    Aes128,
    /// AES-192 CBC with CMAC.
    Aes192,
    /// AES-256 CBC with CMAC.
    Aes256,
}

impl Cipher {
    /// Every cipher, in arc order.
    pub const ALL: [Cipher; 4] = [Cipher::Tdes, Cipher::Aes128, Cipher::Aes192, Cipher::Aes256];

    /// Length in bytes of the session keys (3DES: the two-key 16 bytes).
    pub fn key_len(self) -> usize {
        match self {
            Cipher::Tdes | Cipher::Aes128 => 16,
            Cipher::Aes192 => 24,
            Cipher::Aes256 => 32,
        }
    }

    /// The last arc of the protocol OID: 1 3DES, 2 AES-128, 3 AES-192, 4 AES-256.
    pub fn arc(self) -> u64 {
        match self {
            Cipher::Tdes => 1,
            Cipher::Aes128 => 2,
            Cipher::Aes192 => 3,
            Cipher::Aes256 => 4,
        }
    }

    /// The cipher of an OID's last arc.
    pub fn from_arc(arc: u64) -> Option<Cipher> {
        Cipher::ALL.into_iter().find(|c| c.arc() == arc)
    }
}

impl fmt::Display for Cipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Cipher::Tdes => "3DES-CBC-CBC",
            Cipher::Aes128 => "AES-CBC-CMAC-128",
            Cipher::Aes192 => "AES-CBC-CMAC-192",
            Cipher::Aes256 => "AES-CBC-CMAC-256",
        })
    }
}

/// The arc below id-PACE naming agreement and mapping. DH with Chip Authentication Mapping is
/// not in the standard; it gets the unassigned arc 5, which [`pace_mapping_from_arc`] refuses.
fn pace_mapping_arc(agreement: KeyAgreement, mapping: Mapping) -> u64 {
    match (agreement, mapping) {
        (KeyAgreement::Dh, Mapping::Generic) => 1,
        (KeyAgreement::Ecdh, Mapping::Generic) => 2,
        (KeyAgreement::Dh, Mapping::Integrated) => 3,
        (KeyAgreement::Ecdh, Mapping::Integrated) => 4,
        (KeyAgreement::Dh, Mapping::ChipAuthentication) => 5,
        (KeyAgreement::Ecdh, Mapping::ChipAuthentication) => 6,
    }
}

fn pace_mapping_from_arc(arc: u64) -> Option<(KeyAgreement, Mapping)> {
    match arc {
        1 => Some((KeyAgreement::Dh, Mapping::Generic)),
        2 => Some((KeyAgreement::Ecdh, Mapping::Generic)),
        3 => Some((KeyAgreement::Dh, Mapping::Integrated)),
        4 => Some((KeyAgreement::Ecdh, Mapping::Integrated)),
        6 => Some((KeyAgreement::Ecdh, Mapping::ChipAuthentication)),
        _ => None,
    }
}

fn dotted(arcs: &[u64]) -> String {
    let parts: Vec<String> = arcs.iter().map(u64::to_string).collect();
    parts.join(".")
}

/// A PACE protocol: the OID of a PACEInfo (ICAO 9303-11 9.2, TR-03110-3 A.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PaceProtocol {
    pub agreement: KeyAgreement,
    pub mapping: Mapping,
    pub cipher: Cipher,
}

impl PaceProtocol {
    /// The protocol of a dotted OID `0.4.0.127.0.7.2.2.4.<mapping>.<cipher>`; `None` for any OID
    /// the standard does not assign (including Chip Authentication Mapping with 3DES).
    pub fn from_oid(oid: &str) -> Option<PaceProtocol> {
        Self::from_arcs(&parse_dotted(oid)?)
    }

    fn from_arcs(arcs: &[u64]) -> Option<PaceProtocol> {
        let [m, c] = arcs.strip_prefix(&ARCS_PACE[..])? else { return None };
        let (agreement, mapping) = pace_mapping_from_arc(*m)?;
        let cipher = Cipher::from_arc(*c)?;
        if mapping == Mapping::ChipAuthentication && cipher == Cipher::Tdes {
            return None;
        }
        Some(PaceProtocol { agreement, mapping, cipher })
    }

    /// True when the standard assigns this combination an OID (every one but DH with Chip
    /// Authentication Mapping and Chip Authentication Mapping with 3DES). [`Self::oid`] of
    /// another combination is an unassigned arc that parses back as [`SecurityInfo::Other`].
    pub fn is_standard(&self) -> bool {
        !(self.mapping == Mapping::ChipAuthentication && (self.agreement == KeyAgreement::Dh || self.cipher == Cipher::Tdes))
    }

    /// The dotted OID, e.g. `0.4.0.127.0.7.2.2.4.2.2` for id-PACE-ECDH-GM-AES-CBC-CMAC-128.
    pub fn oid(&self) -> String {
        let mut arcs = ARCS_PACE.to_vec();
        arcs.push(pace_mapping_arc(self.agreement, self.mapping));
        arcs.push(self.cipher.arc());
        dotted(&arcs)
    }
}

impl fmt::Display for PaceProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "id-PACE-{}-{}-{}", self.agreement, self.mapping, self.cipher)
    }
}

fn parse_dotted(s: &str) -> Option<Vec<u64>> {
    s.split('.').map(|a| a.parse::<u64>().ok()).collect()
}

// ---------------------------------------------------------------------------------------------
// The security infos
// ---------------------------------------------------------------------------------------------

/// PACEInfo ::= SEQUENCE { protocol OBJECT IDENTIFIER, version INTEGER, parameterId INTEGER
/// OPTIONAL } (ICAO 9303-11 9.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaceInfo {
    pub protocol: PaceProtocol,
    /// 2 for every PACE of ICAO 9303 (version 1 is the withdrawn PACE v1).
    pub version: u32,
    /// The domain parameters: 0..=31 the standardized ones of ICAO 9303-11, above proprietary (a
    /// [`PaceDomainParameterInfo`] with the same id).
    pub parameter_id: Option<u32>,
}

/// PACEDomainParameterInfo ::= SEQUENCE { protocol OBJECT IDENTIFIER, domainParameter
/// AlgorithmIdentifier, parameterId INTEGER OPTIONAL } (ICAO 9303-11 9.2): proprietary PACE
/// domain parameters. The protocol is id-PACE-DH-GM, -ECDH-GM, -DH-IM, -ECDH-IM or -ECDH-CAM,
/// without the cipher arc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaceDomainParameterInfo {
    pub agreement: KeyAgreement,
    pub mapping: Mapping,
    /// The whole AlgorithmIdentifier (DER, tag 30): dhpublicnumber with DomainParameters, or
    /// id-ecPublicKey with ECParameters.
    pub parameters_der: Vec<u8>,
    pub parameter_id: Option<u32>,
}

impl PaceDomainParameterInfo {
    /// The dotted protocol OID, e.g. `0.4.0.127.0.7.2.2.4.2` (id-PACE-ECDH-GM).
    pub fn oid(&self) -> String {
        let mut arcs = ARCS_PACE.to_vec();
        arcs.push(pace_mapping_arc(self.agreement, self.mapping));
        dotted(&arcs)
    }
}

/// ChipAuthenticationInfo ::= SEQUENCE { protocol OBJECT IDENTIFIER, version INTEGER, keyId
/// INTEGER OPTIONAL } (ICAO 9303-11 9.2, TR-03110-3 A.1.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChipAuthenticationInfo {
    pub agreement: KeyAgreement,
    /// `None` when the OID is id-CA-DH / id-CA-ECDH without the cipher arc (old DG14s): 3DES.
    pub cipher: Option<Cipher>,
    /// 1 (CA version 1) or 2 (version 2, TR-03110).
    pub version: u32,
    pub key_id: Option<u32>,
}

impl ChipAuthenticationInfo {
    /// The dotted protocol OID, e.g. `0.4.0.127.0.7.2.2.3.2.4` (id-CA-ECDH-AES-CBC-CMAC-256).
    pub fn oid(&self) -> String {
        let mut arcs = ARCS_CA.to_vec();
        arcs.push(self.agreement.arc());
        if let Some(c) = self.cipher {
            arcs.push(c.arc());
        }
        dotted(&arcs)
    }

    /// The cipher secure messaging uses after Chip Authentication: 3DES when the OID names none.
    pub fn effective_cipher(&self) -> Cipher {
        self.cipher.unwrap_or(Cipher::Tdes)
    }
}

impl fmt::Display for ChipAuthenticationInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "id-CA-{}", self.agreement)?;
        if let Some(c) = self.cipher {
            write!(f, "-{c}")?;
        }
        Ok(())
    }
}

/// ChipAuthenticationDomainParameterInfo ::= SEQUENCE { protocol id-CA-DH | id-CA-ECDH,
/// domainParameter AlgorithmIdentifier, keyId INTEGER OPTIONAL } (TR-03110-3 A.1.1): found in
/// EF.CardAccess of TR-03110 cards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChipAuthenticationDomainParameterInfo {
    pub agreement: KeyAgreement,
    /// The whole AlgorithmIdentifier (DER, tag 30).
    pub parameters_der: Vec<u8>,
    pub key_id: Option<u32>,
}

impl ChipAuthenticationDomainParameterInfo {
    /// The dotted protocol OID (id-CA-DH or id-CA-ECDH).
    pub fn oid(&self) -> String {
        let mut arcs = ARCS_CA.to_vec();
        arcs.push(self.agreement.arc());
        dotted(&arcs)
    }
}

/// ChipAuthenticationPublicKeyInfo ::= SEQUENCE { protocol id-PK-DH | id-PK-ECDH,
/// chipAuthenticationPublicKey SubjectPublicKeyInfo, keyId INTEGER OPTIONAL } (ICAO 9303-11
/// 9.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChipAuthenticationPublicKeyInfo {
    pub agreement: KeyAgreement,
    /// The whole SubjectPublicKeyInfo (DER, tag 30).
    pub spki_der: Vec<u8>,
    pub key_id: Option<u32>,
}

impl ChipAuthenticationPublicKeyInfo {
    /// The dotted protocol OID (id-PK-DH or id-PK-ECDH).
    pub fn oid(&self) -> String {
        let mut arcs = ARCS_PK.to_vec();
        arcs.push(self.agreement.arc());
        dotted(&arcs)
    }
}

/// ActiveAuthenticationInfo ::= SEQUENCE { protocol id-AA, version INTEGER, signatureAlgorithm
/// OBJECT IDENTIFIER } (ICAO 9303-11 9.2): the ECDSA signature algorithm of Active
/// Authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveAuthenticationInfo {
    /// 1.
    pub version: u32,
    /// Dotted OID, e.g. `0.4.0.127.0.7.1.1.4.1.3` (ecdsa-plain-SHA256). Written as given: it
    /// must be a valid dotted OID.
    pub signature_algorithm: String,
}

/// One SecurityInfo of the SET.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecurityInfo {
    Pace(PaceInfo),
    PaceDomainParameters(PaceDomainParameterInfo),
    ChipAuthentication(ChipAuthenticationInfo),
    ChipAuthenticationDomainParameters(ChipAuthenticationDomainParameterInfo),
    ChipAuthenticationPublicKey(ChipAuthenticationPublicKeyInfo),
    ActiveAuthentication(ActiveAuthenticationInfo),
    /// A SecurityInfo this profile does not model (id-TA, id-RI, CardInfo, ...): its protocol
    /// OID (dotted) and its whole encoding (tag 30), written back as is.
    Other { oid: String, der: Vec<u8> },
}

impl SecurityInfo {
    /// The dotted protocol OID.
    pub fn oid(&self) -> String {
        match self {
            SecurityInfo::Pace(i) => i.protocol.oid(),
            SecurityInfo::PaceDomainParameters(i) => i.oid(),
            SecurityInfo::ChipAuthentication(i) => i.oid(),
            SecurityInfo::ChipAuthenticationDomainParameters(i) => i.oid(),
            SecurityInfo::ChipAuthenticationPublicKey(i) => i.oid(),
            SecurityInfo::ActiveAuthentication(_) => oid::ID_AA.to_string(),
            SecurityInfo::Other { oid, .. } => oid.clone(),
        }
    }
}

/// The SET OF SecurityInfo of EF.CardAccess or DG14, in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecurityInfos {
    pub infos: Vec<SecurityInfo>,
}

impl SecurityInfos {
    /// The PACEInfos, in file order (the terminal picks one).
    pub fn pace(&self) -> impl Iterator<Item = &PaceInfo> {
        self.infos.iter().filter_map(|i| match i {
            SecurityInfo::Pace(p) => Some(p),
            _ => None,
        })
    }

    /// The proprietary PACE domain parameters a PACEInfo's `parameter_id` names: the
    /// PACEDomainParameterInfo with that parameterId; failing that, the only one there is when
    /// either side has no parameterId (it is mandatory only when there are several, ICAO
    /// 9303-11 9.2).
    pub fn pace_domain_parameters(&self, parameter_id: Option<u32>) -> Option<&PaceDomainParameterInfo> {
        let all: Vec<&PaceDomainParameterInfo> = self
            .infos
            .iter()
            .filter_map(|i| match i {
                SecurityInfo::PaceDomainParameters(p) => Some(p),
                _ => None,
            })
            .collect();
        if let Some(p) = all.iter().find(|p| p.parameter_id == parameter_id) {
            return Some(p);
        }
        match all.as_slice() {
            [only] if parameter_id.is_none() || only.parameter_id.is_none() => Some(only),
            _ => None,
        }
    }

    /// The ChipAuthenticationDomainParameterInfo for a key id, matched like
    /// [`Self::pace_domain_parameters`].
    pub fn chip_authentication_domain_parameters(&self, key_id: Option<u32>) -> Option<&ChipAuthenticationDomainParameterInfo> {
        let all: Vec<&ChipAuthenticationDomainParameterInfo> = self
            .infos
            .iter()
            .filter_map(|i| match i {
                SecurityInfo::ChipAuthenticationDomainParameters(p) => Some(p),
                _ => None,
            })
            .collect();
        if let Some(p) = all.iter().find(|p| p.key_id == key_id) {
            return Some(p);
        }
        match all.as_slice() {
            [only] if key_id.is_none() || only.key_id.is_none() => Some(only),
            _ => None,
        }
    }

    /// The ChipAuthenticationInfos, in file order.
    pub fn chip_authentication_infos(&self) -> impl Iterator<Item = &ChipAuthenticationInfo> {
        self.infos.iter().filter_map(|i| match i {
            SecurityInfo::ChipAuthentication(p) => Some(p),
            _ => None,
        })
    }

    /// The ChipAuthenticationPublicKeyInfos, in file order.
    pub fn chip_authentication_public_keys(&self) -> impl Iterator<Item = &ChipAuthenticationPublicKeyInfo> {
        self.infos.iter().filter_map(|i| match i {
            SecurityInfo::ChipAuthenticationPublicKey(p) => Some(p),
            _ => None,
        })
    }

    /// CA pairs: each ChipAuthenticationInfo with its public key, in the order of the infos.
    /// A key pairs with an info of the same key agreement: the key with the info's keyId; when
    /// the info has none, the only key of that agreement; when no key has the info's keyId, the
    /// only key of that agreement without a keyId (keyId is mandatory only when there are
    /// several keys, ICAO 9303-11 9.2). An info no key fits, or several fit, is left out. When the file has public keys but no ChipAuthenticationInfo at
    /// all (a DG14 of CA version 1 written before ChipAuthenticationInfo was required), each
    /// key comes with an implied info: CA version 1, no cipher arc (3DES), the key's keyId.
    pub fn chip_authentication(&self) -> Vec<(ChipAuthenticationInfo, ChipAuthenticationPublicKeyInfo)> {
        let keys: Vec<&ChipAuthenticationPublicKeyInfo> = self.chip_authentication_public_keys().collect();
        let infos: Vec<&ChipAuthenticationInfo> = self.chip_authentication_infos().collect();
        if infos.is_empty() {
            return keys
                .into_iter()
                .map(|k| {
                    let info = ChipAuthenticationInfo { agreement: k.agreement, cipher: None, version: 1, key_id: k.key_id };
                    (info, k.clone())
                })
                .collect();
        }
        let mut out = Vec::new();
        for info in infos {
            let same: Vec<&&ChipAuthenticationPublicKeyInfo> = keys.iter().filter(|k| k.agreement == info.agreement).collect();
            let by_id = info.key_id.and_then(|id| same.iter().find(|k| k.key_id == Some(id)));
            let key = match by_id {
                Some(k) => Some(*k),
                None => {
                    let candidates: Vec<&&&ChipAuthenticationPublicKeyInfo> =
                        same.iter().filter(|k| info.key_id.is_none() || k.key_id.is_none()).collect();
                    match candidates.as_slice() {
                        [only] => Some(**only),
                        _ => None,
                    }
                }
            };
            if let Some(k) = key {
                out.push((info.clone(), (*k).clone()));
            }
        }
        out
    }

    /// The ActiveAuthenticationInfo (DG14 of a chip doing Active Authentication with ECDSA).
    pub fn active_authentication(&self) -> Option<&ActiveAuthenticationInfo> {
        self.infos.iter().find_map(|i| match i {
            SecurityInfo::ActiveAuthentication(a) => Some(a),
            _ => None,
        })
    }
}

/// The algorithm of an Active Authentication key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AaKeyAlgorithm {
    /// rsaEncryption: ISO/IEC 9796-2 signatures.
    Rsa,
    /// id-ecPublicKey: ECDSA (the hash named by DG14's ActiveAuthenticationInfo).
    Ec,
}

/// DG15: the Active Authentication public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dg15 {
    /// The whole SubjectPublicKeyInfo (DER, tag 30).
    pub spki_der: Vec<u8>,
    pub algorithm: AaKeyAlgorithm,
}

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

/// Parse EF.CardAccess: a bare `SET OF SecurityInfo` (tag 31), optionally followed by 00 or FF
/// padding (ISO/IEC 7816-4 allows it around data objects).
pub fn parse_card_access(bytes: &[u8]) -> Result<SecurityInfos, LdsError> {
    const F: FileId = FileId::CardAccess;
    let set = outer(F, bytes, SET)?;
    parse_set(F, bytes, &set)
}

/// Parse DG14: tag 6E wrapping exactly the `SET OF SecurityInfo`, optionally followed by 00 or FF
/// padding (ISO/IEC 7816-4 allows it around data objects).
pub fn parse_dg14(bytes: &[u8]) -> Result<SecurityInfos, LdsError> {
    const F: FileId = FileId::Dg14;
    let top = outer(F, bytes, 0x6E)?;
    let set = only_child(F, &top, SET, "SecurityInfos (31)")?;
    parse_set(F, bytes, &set)
}

/// Parse DG15: tag 6F wrapping exactly one SubjectPublicKeyInfo of an RSA or EC key, optionally
/// followed by 00 or FF padding.
pub fn parse_dg15(bytes: &[u8]) -> Result<Dg15, LdsError> {
    const F: FileId = FileId::Dg15;
    let top = outer(F, bytes, 0x6F)?;
    let spki = only_child(F, &top, SEQUENCE, "SubjectPublicKeyInfo")?;
    let alg = check_spki(F, &spki, "SubjectPublicKeyInfo")?;
    let algorithm = match alg.as_str() {
        oid::RSA_ENCRYPTION => AaKeyAlgorithm::Rsa,
        oid::EC_PUBLIC_KEY => AaKeyAlgorithm::Ec,
        other => {
            return Err(field_err(
                F,
                "SubjectPublicKeyInfo.algorithm",
                Some(spki.value_offset),
                format!("key algorithm {other} is neither rsaEncryption nor id-ecPublicKey"),
            ))
        }
    };
    Ok(Dg15 { spki_der: spki.raw(bytes).to_vec(), algorithm })
}

/// The file's outer element, which must start the file. What follows it may only be padding: a
/// run of 00 bytes or a run of FF bytes (ISO/IEC 7816-4 allows either around BER-TLV data
/// objects). A file read to its allocated size carries it: the German ID card's EF.CardAccess is
/// zero-padded. Anything else after the element is an error at its first byte.
fn outer<'a>(file: FileId, bytes: &'a [u8], tag: u32) -> Result<Tlv<'a>, LdsError> {
    let mut r = Reader::new(bytes);
    let t = r.expect(tag).map_err(tlv_err(file))?;
    let end = r.offset();
    let rest = bytes.get(end..).unwrap_or_default();
    if !(rest.iter().all(|&b| b == 0x00) || rest.iter().all(|&b| b == 0xFF)) {
        return Err(field_err(
            file,
            "file",
            Some(end),
            format!("{} bytes after the {tag:X} element that are not 00 or FF padding", rest.len()),
        ));
    }
    Ok(t)
}

/// The single child of `parent`, which must carry `tag` and fill the parent's value.
fn only_child<'a>(file: FileId, parent: &Tlv<'a>, tag: u32, field: &'static str) -> Result<Tlv<'a>, LdsError> {
    let mut r = parent.children();
    if r.is_empty() {
        return Err(field_err(file, field, Some(parent.value_offset), format!("missing (tag {:X} is empty)", parent.tag)));
    }
    let child = r.expect(tag).map_err(tlv_field_err(file, field))?;
    if !r.is_empty() {
        return Err(field_err(file, field, Some(r.offset()), format!("unexpected data after the {field} inside tag {:X}", parent.tag)));
    }
    Ok(child)
}

fn parse_set(file: FileId, bytes: &[u8], set: &Tlv<'_>) -> Result<SecurityInfos, LdsError> {
    let mut r = set.children();
    let mut infos = Vec::new();
    while !r.is_empty() {
        let t = r.next_tlv().map_err(tlv_field_err(file, "SecurityInfo"))?;
        infos.push(parse_info(file, bytes, &t)?);
    }
    Ok(SecurityInfos { infos })
}

/// The fields of one SEQUENCE, read in order, with errors naming the file.
struct Fields<'a> {
    file: FileId,
    r: Reader<'a>,
}

impl<'a> Fields<'a> {
    fn next(&mut self, field: &'static str) -> Result<Tlv<'a>, LdsError> {
        if self.r.is_empty() {
            return Err(field_err(self.file, field, Some(self.r.offset()), "missing"));
        }
        self.r.next_tlv().map_err(tlv_field_err(self.file, field))
    }

    fn peek_tag(&self, field: &'static str) -> Result<Option<u32>, LdsError> {
        if self.r.is_empty() {
            return Ok(None);
        }
        self.r.clone().next_tlv().map(|t| Some(t.tag)).map_err(tlv_field_err(self.file, field))
    }

    fn optional_uint(&mut self, field: &'static str) -> Result<Option<u32>, LdsError> {
        match self.peek_tag(field)? {
            None => Ok(None),
            Some(_) => {
                let t = self.next(field)?;
                uint(self.file, &t, field).map(Some)
            }
        }
    }

    fn finish(&self, field: &'static str) -> Result<(), LdsError> {
        if self.r.is_empty() {
            Ok(())
        } else {
            Err(field_err(self.file, field, Some(self.r.offset()), "unexpected trailing element"))
        }
    }
}

/// A TLV error inside the file's element, reported as an error of the field being read (the
/// TLV error says what is wrong, its offset is the error's).
fn tlv_field_err(file: FileId, field: &'static str) -> impl Fn(TlvError) -> LdsError {
    move |e| field_err(file, field, Some(super::tlv_offset(&e)), e.to_string())
}

/// A non-negative INTEGER that fits in a `u32` (leading zero bytes tolerated).
fn uint(file: FileId, t: &Tlv<'_>, field: &'static str) -> Result<u32, LdsError> {
    if t.tag != INTEGER {
        return Err(field_err(file, field, Some(t.offset), format!("expected an INTEGER (02), found tag {:X}", t.tag)));
    }
    let v = t.value;
    if v.is_empty() {
        return Err(field_err(file, field, Some(t.offset), "empty INTEGER"));
    }
    if v[0] & 0x80 != 0 {
        return Err(field_err(file, field, Some(t.offset), "negative INTEGER"));
    }
    let digits = match v.iter().position(|&b| b != 0) {
        Some(p) => &v[p..],
        None => &[][..],
    };
    if digits.len() > 4 {
        return Err(field_err(file, field, Some(t.offset), format!("INTEGER of {} bytes does not fit 32 bits", v.len())));
    }
    Ok(digits.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b)))
}

/// An OBJECT IDENTIFIER: dotted form and arcs.
fn object_id(file: FileId, t: &Tlv<'_>, field: &'static str) -> Result<(String, Vec<u64>), LdsError> {
    if t.tag != OBJECT_IDENTIFIER {
        return Err(field_err(file, field, Some(t.offset), format!("expected an OBJECT IDENTIFIER (06), found tag {:X}", t.tag)));
    }
    let oid = Oid::from_content(t.value).ok_or_else(|| field_err(file, field, Some(t.offset), "malformed OBJECT IDENTIFIER"))?;
    let s = oid.as_str().to_string();
    let arcs = parse_dotted(&s).ok_or_else(|| field_err(file, field, Some(t.offset), "malformed OBJECT IDENTIFIER"))?;
    Ok((s, arcs))
}

/// Check an AlgorithmIdentifier (SEQUENCE { OID, parameters ANY OPTIONAL }); its OID.
fn check_algorithm_identifier(file: FileId, t: &Tlv<'_>, field: &'static str) -> Result<String, LdsError> {
    if t.tag != SEQUENCE {
        return Err(field_err(file, field, Some(t.offset), format!("expected an AlgorithmIdentifier SEQUENCE (30), found tag {:X}", t.tag)));
    }
    let mut f = Fields { file, r: t.children() };
    let (oid, _) = object_id(file, &f.next(field)?, field)?;
    if f.peek_tag(field)?.is_some() {
        f.next(field)?;
    }
    f.finish(field)?;
    Ok(oid)
}

/// Check a SubjectPublicKeyInfo (SEQUENCE { AlgorithmIdentifier, BIT STRING of whole bytes });
/// the key algorithm's OID.
fn check_spki(file: FileId, t: &Tlv<'_>, field: &'static str) -> Result<String, LdsError> {
    if t.tag != SEQUENCE {
        return Err(field_err(file, field, Some(t.offset), format!("expected a SubjectPublicKeyInfo SEQUENCE (30), found tag {:X}", t.tag)));
    }
    let mut f = Fields { file, r: t.children() };
    let alg = check_algorithm_identifier(file, &f.next(field)?, field)?;
    let key = f.next(field)?;
    if key.tag != BIT_STRING {
        return Err(field_err(file, field, Some(key.offset), format!("expected the subjectPublicKey BIT STRING (03), found tag {:X}", key.tag)));
    }
    match key.value.split_first() {
        Some((&0, rest)) if !rest.is_empty() => {}
        Some((&0, _)) | None => return Err(field_err(file, field, Some(key.offset), "empty subjectPublicKey")),
        Some((n, _)) => {
            return Err(field_err(file, field, Some(key.offset), format!("subjectPublicKey with {n} unused bits where whole bytes are required")))
        }
    }
    f.finish(field)?;
    Ok(alg)
}

fn parse_info(file: FileId, bytes: &[u8], t: &Tlv<'_>) -> Result<SecurityInfo, LdsError> {
    if t.tag != SEQUENCE {
        return Err(field_err(file, "SecurityInfo", Some(t.offset), format!("expected a SEQUENCE (30), found tag {:X}", t.tag)));
    }
    let mut f = Fields { file, r: t.children() };
    let (oid, arcs) = object_id(file, &f.next("SecurityInfo.protocol")?, "SecurityInfo.protocol")?;

    if let Some(protocol) = PaceProtocol::from_arcs(&arcs) {
        let version = uint(file, &f.next("PACEInfo.version")?, "PACEInfo.version")?;
        let parameter_id = f.optional_uint("PACEInfo.parameterId")?;
        f.finish("PACEInfo")?;
        return Ok(SecurityInfo::Pace(PaceInfo { protocol, version, parameter_id }));
    }
    if let Some([m]) = arcs.strip_prefix(&ARCS_PACE[..]) {
        if let Some((agreement, mapping)) = pace_mapping_from_arc(*m) {
            let p = f.next("PACEDomainParameterInfo.domainParameter")?;
            check_algorithm_identifier(file, &p, "PACEDomainParameterInfo.domainParameter")?;
            let parameter_id = f.optional_uint("PACEDomainParameterInfo.parameterId")?;
            f.finish("PACEDomainParameterInfo")?;
            return Ok(SecurityInfo::PaceDomainParameters(PaceDomainParameterInfo {
                agreement,
                mapping,
                parameters_der: p.raw(bytes).to_vec(),
                parameter_id,
            }));
        }
    }
    if let Some(rest) = arcs.strip_prefix(&ARCS_CA[..]) {
        let known = match rest {
            [a] => KeyAgreement::from_arc(*a).map(|a| (a, None)),
            [a, c] => KeyAgreement::from_arc(*a).zip(Cipher::from_arc(*c)).map(|(a, c)| (a, Some(c))),
            _ => None,
        };
        if let Some((agreement, cipher)) = known {
            // id-CA-DH / id-CA-ECDH alone name both a ChipAuthenticationInfo of an old DG14
            // (an INTEGER version follows) and a ChipAuthenticationDomainParameterInfo (an
            // AlgorithmIdentifier follows).
            if cipher.is_none() && f.peek_tag("ChipAuthenticationInfo.version")? == Some(SEQUENCE) {
                let p = f.next("ChipAuthenticationDomainParameterInfo.domainParameter")?;
                check_algorithm_identifier(file, &p, "ChipAuthenticationDomainParameterInfo.domainParameter")?;
                let key_id = f.optional_uint("ChipAuthenticationDomainParameterInfo.keyId")?;
                f.finish("ChipAuthenticationDomainParameterInfo")?;
                return Ok(SecurityInfo::ChipAuthenticationDomainParameters(ChipAuthenticationDomainParameterInfo {
                    agreement,
                    parameters_der: p.raw(bytes).to_vec(),
                    key_id,
                }));
            }
            let version = uint(file, &f.next("ChipAuthenticationInfo.version")?, "ChipAuthenticationInfo.version")?;
            let key_id = f.optional_uint("ChipAuthenticationInfo.keyId")?;
            f.finish("ChipAuthenticationInfo")?;
            return Ok(SecurityInfo::ChipAuthentication(ChipAuthenticationInfo { agreement, cipher, version, key_id }));
        }
    }
    if let Some([a]) = arcs.strip_prefix(&ARCS_PK[..]) {
        if let Some(agreement) = KeyAgreement::from_arc(*a) {
            let k = f.next("ChipAuthenticationPublicKeyInfo.chipAuthenticationPublicKey")?;
            check_spki(file, &k, "ChipAuthenticationPublicKeyInfo.chipAuthenticationPublicKey")?;
            let key_id = f.optional_uint("ChipAuthenticationPublicKeyInfo.keyId")?;
            f.finish("ChipAuthenticationPublicKeyInfo")?;
            return Ok(SecurityInfo::ChipAuthenticationPublicKey(ChipAuthenticationPublicKeyInfo {
                agreement,
                spki_der: k.raw(bytes).to_vec(),
                key_id,
            }));
        }
    }
    if arcs == ARCS_AA {
        let version = uint(file, &f.next("ActiveAuthenticationInfo.version")?, "ActiveAuthenticationInfo.version")?;
        let a = f.next("ActiveAuthenticationInfo.signatureAlgorithm")?;
        let (signature_algorithm, _) = object_id(file, &a, "ActiveAuthenticationInfo.signatureAlgorithm")?;
        f.finish("ActiveAuthenticationInfo")?;
        return Ok(SecurityInfo::ActiveAuthentication(ActiveAuthenticationInfo { version, signature_algorithm }));
    }
    // The rest of an unknown SecurityInfo must still be well-formed TLV.
    while !f.r.is_empty() {
        f.next("SecurityInfo")?;
    }
    Ok(SecurityInfo::Other { oid, der: t.raw(bytes).to_vec() })
}

// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------

fn enc_uint(v: u32) -> Vec<u8> {
    let b = v.to_be_bytes();
    let skip = b.iter().take_while(|&&x| x == 0).count().min(3);
    let mut content = Vec::with_capacity(5);
    if b[skip] & 0x80 != 0 {
        content.push(0);
    }
    content.extend_from_slice(&b[skip..]);
    tlv::encode(INTEGER, &content)
}

fn enc_oid(dotted: &str) -> Vec<u8> {
    tlv::encode(OBJECT_IDENTIFIER, &oid_content(dotted))
}

fn encode_info(info: &SecurityInfo) -> Vec<u8> {
    let mut fields = vec![enc_oid(&info.oid())];
    match info {
        SecurityInfo::Pace(i) => {
            fields.push(enc_uint(i.version));
            fields.extend(i.parameter_id.map(enc_uint));
        }
        SecurityInfo::PaceDomainParameters(i) => {
            fields.push(i.parameters_der.clone());
            fields.extend(i.parameter_id.map(enc_uint));
        }
        SecurityInfo::ChipAuthentication(i) => {
            fields.push(enc_uint(i.version));
            fields.extend(i.key_id.map(enc_uint));
        }
        SecurityInfo::ChipAuthenticationDomainParameters(i) => {
            fields.push(i.parameters_der.clone());
            fields.extend(i.key_id.map(enc_uint));
        }
        SecurityInfo::ChipAuthenticationPublicKey(i) => {
            fields.push(i.spki_der.clone());
            fields.extend(i.key_id.map(enc_uint));
        }
        SecurityInfo::ActiveAuthentication(i) => {
            fields.push(enc_uint(i.version));
            fields.push(enc_oid(&i.signature_algorithm));
        }
        SecurityInfo::Other { der, .. } => return der.clone(),
    }
    tlv::encode_seq(SEQUENCE, &fields)
}

/// EF.CardAccess: the SET OF SecurityInfo, in the order of `infos`.
pub fn encode_card_access(infos: &SecurityInfos) -> Vec<u8> {
    let parts: Vec<Vec<u8>> = infos.infos.iter().map(encode_info).collect();
    tlv::encode_seq(SET, &parts)
}

/// DG14: tag 6E wrapping the SET OF SecurityInfo.
pub fn encode_dg14(infos: &SecurityInfos) -> Vec<u8> {
    tlv::encode(0x6E, &encode_card_access(infos))
}

/// DG15: tag 6F wrapping the SubjectPublicKeyInfo (DER) as given.
pub fn encode_dg15(spki_der: &[u8]) -> Vec<u8> {
    tlv::encode(0x6F, spki_der)
}

#[cfg(test)]
#[path = "secinfo_tests.rs"]
mod tests;

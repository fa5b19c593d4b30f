//! PACE version 2 with the Generic Mapping (ICAO 9303-11 section 4.4, BSI TR-03110-2 section
//! 3.2 and TR-03110-3 appendix B.1) as two pure state machines over the data fields of the APDUs:
//! the inspection system's side ([`HostPace`]) and the chip's ([`CardPace`], for the emulator).
//! This module owns the protocol logic: the password key K_pi (9.7.3), the MSE:Set AT data
//! ([`mse_set_at_data`]), the dynamic authentication data of the four GENERAL AUTHENTICATE steps
//! (`data`: strict parsing, never panics), the nonce decryption, the mapping and key agreement
//! sequence, the session keys and both authentication tokens. It sends nothing: the integrator
//! wraps each data field in a command ([`general_authenticate_command`], with command chaining
//! on the first three) and feeds the chip's answer back. The arithmetic of the groups comes from
//! `group`, the block ciphers, the KDF and the MACs from `sm`; nothing cryptographic is written
//! here.
//!
//! Step by step (host): `7C 00` -> `7C {80 z}`, s = D(K_pi, z); `7C {81 PK_map_IFD}` ->
//! `7C {82 PK_map_IC}`, G' = s*G + H (EC) or g^s * h (DH); `7C {83 PK_IFD}` -> `7C {84 PK_IC}`,
//! K = KA(SK_IFD, PK_IC, G'), KSenc/KSmac = KDF(K, 1/2); `7C {85 T_IFD}` -> `7C {86 T_IC
//! [87 CAR] [88 CAR]}`, T = MAC(KSmac, 7F49 {06 OID, 86 point | 84 y}).

mod card;
mod data;
mod host;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;

use std::fmt;

use sha1::{Digest, Sha1};

pub use card::{CardPace, CardPaceError, CardProtocol};
pub use data::{oid_to_der, DadError};
pub use host::{HostPace, PaceResult};

use super::access::RandomnessError;
use super::apdu::Command;
use super::group::{GroupError, StandardDomain};
use super::sm::{SmCipher, SmError};
use idcheck_core::lds::{check_digit, Mrz};

/// The object identifier arc of PACE, id-PACE (ICAO 9303-11 section 9.2.3).
pub const ID_PACE: &str = "0.4.0.127.0.7.2.2.4";

/// Key agreement of a PACE protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyAgreement {
    Dh,
    Ecdh,
}

/// Mapping of a PACE protocol. Only the generic mapping is implemented here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mapping {
    Generic,
    Integrated,
    ChipAuthentication,
}

/// What a PACE object identifier names (ICAO 9303-11 section 9.2.3): id-PACE-{DH,ECDH}-{GM,IM},
/// id-PACE-ECDH-CAM, each with 3DES-CBC-CBC or AES-CBC-CMAC-{128,192,256}.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaceAlgorithm {
    pub agreement: KeyAgreement,
    pub mapping: Mapping,
    pub cipher: SmCipher,
}

impl PaceAlgorithm {
    /// The algorithm of a dotted PACE OID, `None` for anything else (including id-PACE-ECDH-CAM
    /// with 3DES, which is not defined).
    pub fn from_oid(oid: &str) -> Option<PaceAlgorithm> {
        let rest = oid.strip_prefix(ID_PACE)?.strip_prefix('.')?;
        let (km, c) = rest.split_once('.')?;
        let (agreement, mapping) = match km {
            "1" => (KeyAgreement::Dh, Mapping::Generic),
            "2" => (KeyAgreement::Ecdh, Mapping::Generic),
            "3" => (KeyAgreement::Dh, Mapping::Integrated),
            "4" => (KeyAgreement::Ecdh, Mapping::Integrated),
            "6" => (KeyAgreement::Ecdh, Mapping::ChipAuthentication),
            _ => return None,
        };
        let cipher = match c {
            "1" if mapping != Mapping::ChipAuthentication => SmCipher::Tdes,
            "2" => SmCipher::Aes128,
            "3" => SmCipher::Aes192,
            "4" => SmCipher::Aes256,
            _ => return None,
        };
        Some(PaceAlgorithm { agreement, mapping, cipher })
    }

    /// The dotted OID of this algorithm.
    pub fn oid(&self) -> String {
        let km = match (self.agreement, self.mapping) {
            (KeyAgreement::Dh, Mapping::Generic) => 1,
            (KeyAgreement::Ecdh, Mapping::Generic) => 2,
            (KeyAgreement::Dh, Mapping::Integrated) => 3,
            (KeyAgreement::Ecdh, Mapping::Integrated) => 4,
            (_, Mapping::ChipAuthentication) => 6,
        };
        let c = match self.cipher {
            SmCipher::Tdes => 1,
            SmCipher::Aes128 => 2,
            SmCipher::Aes192 => 3,
            SmCipher::Aes256 => 4,
        };
        format!("{ID_PACE}.{km}.{c}")
    }

    /// The generic-mapping OID for a key agreement and a cipher.
    pub fn generic(agreement: KeyAgreement, cipher: SmCipher) -> PaceAlgorithm {
        PaceAlgorithm { agreement, mapping: Mapping::Generic, cipher }
    }
}

/// The shared password of PACE (ICAO 9303-11 section 4.4.1 and 9.7.3). Debug prints neither.
#[derive(Clone, PartialEq, Eq)]
pub enum PacePassword {
    /// The MRZ information as for BAC: document number (`<`-padded to 9) + check digit + birth
    /// date YYMMDD + check digit + expiry date YYMMDD + check digit.
    Mrz(String),
    /// The card access number printed on the document.
    Can(String),
}

impl fmt::Debug for PacePassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PacePassword::Mrz(_) => f.write_str("PacePassword::Mrz(REDACTED)"),
            PacePassword::Can(_) => f.write_str("PacePassword::Can(REDACTED)"),
        }
    }
}

impl PacePassword {
    /// The MRZ password of a parsed DG1 / printed MRZ.
    pub fn from_mrz(mrz: &Mrz) -> PacePassword {
        PacePassword::Mrz(mrz.mrz_information())
    }

    /// The MRZ password from the three fields as printed: document number, birth date YYMMDD,
    /// expiry YYMMDD; the check digits are computed (ICAO 9303-3), a document number shorter
    /// than 9 is `<`-padded.
    pub fn mrz_from_fields(document_number: &str, birth_yymmdd: &str, expiry_yymmdd: &str) -> Result<PacePassword, PaceError> {
        let mut doc = document_number.to_ascii_uppercase();
        while doc.len() < 9 {
            doc.push('<');
        }
        if birth_yymmdd.len() != 6 || expiry_yymmdd.len() != 6 {
            return Err(PaceError::Setup("mrz dates must be YYMMDD".to_string()));
        }
        let cd = |s: &str| check_digit(s).ok_or_else(|| PaceError::Setup("mrz field holds a character outside A-Z, 0-9, <".to_string()));
        Ok(PacePassword::Mrz(format!("{doc}{}{birth_yymmdd}{}{expiry_yymmdd}{}", cd(&doc)?, cd(birth_yymmdd)?, cd(expiry_yymmdd)?)))
    }

    /// The password bytes pi that K_pi is derived from (ICAO 9303-11 section 9.7.3): SHA-1 of
    /// the MRZ information (20 bytes), or the CAN's ASCII characters.
    pub fn key(&self) -> Vec<u8> {
        match self {
            PacePassword::Mrz(info) => Sha1::digest(info.as_bytes()).to_vec(),
            PacePassword::Can(can) => can.as_bytes().to_vec(),
        }
    }

    /// The password reference of MSE:Set AT, DO'83' (ICAO 9303-11 section 4.4.4.1): 01 MRZ,
    /// 02 CAN.
    pub fn reference(&self) -> u8 {
        match self {
            PacePassword::Mrz(_) => PASSWORD_MRZ,
            PacePassword::Can(_) => PASSWORD_CAN,
        }
    }
}

/// Password reference of the MRZ.
pub const PASSWORD_MRZ: u8 = 0x01;
/// Password reference of the CAN.
pub const PASSWORD_CAN: u8 = 0x02;

/// What one PACE run uses: the protocol OID from the chip's PACEInfo (dotted), its cipher, the
/// standardized domain parameters (PACEInfo.parameterId) and the password.
#[derive(Clone, PartialEq, Eq)]
pub struct PaceSetup {
    pub oid: String,
    pub cipher: SmCipher,
    pub domain: StandardDomain,
    pub password: PacePassword,
}

impl fmt::Debug for PaceSetup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PaceSetup")
            .field("oid", &self.oid)
            .field("cipher", &self.cipher)
            .field("domain", &self.domain)
            .field("password", &self.password)
            .finish()
    }
}

impl PaceSetup {
    /// Check that the OID is a generic-mapping PACE OID whose cipher and key agreement agree
    /// with `cipher` and `domain`.
    pub fn validate(&self) -> Result<PaceAlgorithm, PaceError> {
        validate(&self.oid, self.cipher, self.domain)
    }
}

fn validate(oid: &str, cipher: SmCipher, domain: StandardDomain) -> Result<PaceAlgorithm, PaceError> {
    let alg = PaceAlgorithm::from_oid(oid).ok_or_else(|| PaceError::Setup(format!("{oid} is not a pace protocol oid")))?;
    if alg.mapping != Mapping::Generic {
        return Err(PaceError::Setup(format!("{oid} uses the {:?} mapping; only the generic mapping is supported", alg.mapping)));
    }
    if alg.cipher != cipher {
        return Err(PaceError::Setup(format!("{oid} names the cipher {:?}, the setup says {cipher:?}", alg.cipher)));
    }
    let ecdh = alg.agreement == KeyAgreement::Ecdh;
    if ecdh != domain.is_ec() {
        return Err(PaceError::Setup(format!("{oid} needs {} domain parameters, {} is not", if ecdh { "elliptic curve" } else { "mod-p" }, domain.name())));
    }
    Ok(alg)
}

/// The data field of MSE:Set AT for PACE (ICAO 9303-11 section 4.4.4.1): DO'80' the protocol OID,
/// DO'83' the password reference and, when `send_parameter_id`, DO'84' the parameter id (needed
/// when EF.CardAccess lists more than one set of domain parameters for the OID).
pub fn mse_set_at_data(setup: &PaceSetup, send_parameter_id: bool) -> Vec<u8> {
    // An OID that does not encode gives an empty DO'80', which every chip refuses (6A80); the
    // host state machine reports the bad OID itself at its first step.
    let oid = oid_to_der(&setup.oid).unwrap_or_default();
    let mut out = idcheck_core::tlv::encode(0x80, &oid);
    out.extend_from_slice(&idcheck_core::tlv::encode(0x83, &[setup.password.reference()]));
    if send_parameter_id {
        out.extend_from_slice(&idcheck_core::tlv::encode(0x84, &minimal_be(setup.domain.parameter_id())));
    }
    out
}

/// MSE:Set AT for mutual authentication (00 22 C1 A4) with this data field.
pub fn mse_set_at_command(data: &[u8]) -> Command {
    Command::new(0x00, 0x22, 0xC1, 0xA4).with_data(data.to_vec())
}

/// GENERAL AUTHENTICATE (x0 86 00 00, Le 00) with this data field: command chaining (CLA 10)
/// for every step but the last, which is plain (CLA 00). The last is the one carrying T_IFD.
pub fn general_authenticate_command(data: &[u8], last: bool) -> Command {
    Command::new(if last { 0x00 } else { 0x10 }, 0x86, 0x00, 0x00).with_data(data.to_vec()).with_le(256)
}

/// The big-endian bytes of `v` without leading zeros (one zero byte for 0).
fn minimal_be(v: u32) -> Vec<u8> {
    let b = v.to_be_bytes();
    let skip = b.iter().take_while(|&&x| x == 0).count().min(3);
    b[skip..].to_vec()
}

/// The step of the PACE handshake an error belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PaceStep {
    /// MSE:Set AT and the choice of protocol.
    Setup,
    /// GENERAL AUTHENTICATE 1: the encrypted nonce.
    Nonce,
    /// GENERAL AUTHENTICATE 2: the mapping data.
    Mapping,
    /// GENERAL AUTHENTICATE 3: the ephemeral public keys.
    KeyAgreement,
    /// GENERAL AUTHENTICATE 4: the authentication tokens.
    Token,
}

impl fmt::Display for PaceStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PaceStep::Setup => "setup",
            PaceStep::Nonce => "nonce",
            PaceStep::Mapping => "mapping",
            PaceStep::KeyAgreement => "key agreement",
            PaceStep::Token => "token",
        })
    }
}

/// Why the host's side of PACE failed. Every variant but `Setup` names the step whose answer
/// was refused; offsets count from the first byte of the answer's data field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaceError {
    #[error("pace setup: {0}")]
    Setup(String),
    #[error("pace {step}: malformed dynamic authentication data: {source}")]
    Malformed { step: PaceStep, source: DadError },
    #[error("pace nonce: encrypted nonce of {len} bytes, expected a non-zero multiple of {block} up to {max}")]
    NonceLength { len: usize, block: usize, max: usize },
    #[error("pace {step}: {source}")]
    Group { step: PaceStep, source: GroupError },
    #[error("pace {step}: the chip's public key equals the terminal's")]
    ReflectedKey { step: PaceStep },
    #[error("pace {step}: {source}")]
    Cipher { step: PaceStep, source: SmError },
    #[error("pace {step}: {source}")]
    Randomness { step: PaceStep, source: RandomnessError },
    #[error("pace token: the chip's authentication token does not verify")]
    BadToken,
    #[error("pace {step}: answer out of order (the handshake expects the {expected} answer)")]
    OutOfOrder { step: PaceStep, expected: PaceStep },
    #[error("pace {step}: answer after the handshake failed or finished")]
    Over { step: PaceStep },
}

/// The object identifier template of an authentication token (TR-03110-3 D.3.1 / ICAO 9303-11
/// section 4.4.3.4): 7F49 { 06 OID, 86 point } for ECDH, 7F49 { 06 OID, 84 y } for DH, the
/// public key as it travelled.
pub fn token_input(oid_der: &[u8], agreement: KeyAgreement, public: &[u8]) -> Vec<u8> {
    let key_tag = match agreement {
        KeyAgreement::Ecdh => 0x86,
        KeyAgreement::Dh => 0x84,
    };
    let mut inner = idcheck_core::tlv::encode(0x06, oid_der);
    inner.extend_from_slice(&idcheck_core::tlv::encode(key_tag, public));
    idcheck_core::tlv::encode(0x7F49, &inner)
}

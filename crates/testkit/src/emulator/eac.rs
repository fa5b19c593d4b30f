//! The virtual chip's PACE, Chip Authentication and Active Authentication: which of them the card
//! speaks (from its image: EF.CardAccess, DG14, DG15; and from its secrets: the CAN, the DG14 and
//! DG15 private keys, [`ChipSecrets`], kept beside the image in `chip-secrets.json`), and the
//! answers to MSE:Set AT / KAT, GENERAL AUTHENTICATE and INTERNAL AUTHENTICATE. The cryptography is
//! the chip layer's card-side halves (`chip::pace::CardPace`, `chip::chip_auth::card_agree`,
//! `chip::active_auth::AaPrivateKey`); none is written here.

use std::fmt;
use std::path::Path;

use rand::RngCore;
use rand_chacha::ChaCha20Rng;

use idcheck_chip::access::{Randomness, RandomnessError};
use idcheck_chip::active_auth::AaPrivateKey;
use idcheck_chip::chip_auth;
use idcheck_chip::group::{Domain, KeyPair};
use idcheck_chip::pace::{CardPace, CardPaceError, CardProtocol, PacePassword};
use idcheck_chip::pace_link::sm_cipher;
use idcheck_chip::sm::{SessionKeys, SmCipher};
use idcheck_core::lds::{self, ChipImage, FileId};
use idcheck_core::tlv;

/// Name of the secrets file in a chip image directory.
pub const SECRETS_FILE: &str = "chip-secrets.json";

/// What a real chip keeps in memory no reader can read: the card access number and the private
/// keys of Chip and Active Authentication. Debug prints REDACTED.
#[derive(Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChipSecrets {
    /// The card access number printed on the card (PACE with the CAN).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub can: Option<String>,
    /// The Chip Authentication private key (big-endian, hex), for the DG14 public key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_private_key: Option<String>,
    /// The Active Authentication private key (PKCS#8 DER, hex), for the DG15 public key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aa_private_key: Option<String>,
}

impl fmt::Debug for ChipSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ChipSecrets(REDACTED)")
    }
}

impl ChipSecrets {
    /// `chip-secrets.json` of a chip image directory; none there is no secrets (a BAC-only chip).
    pub fn load_dir(dir: &Path) -> Result<ChipSecrets, String> {
        let path = dir.join(SECRETS_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ChipSecrets::default()),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }

    pub fn save_dir(&self, dir: &Path) -> Result<(), String> {
        let path = dir.join(SECRETS_FILE);
        let text = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// Which access control the card offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AccessMode {
    /// What the image holds: PACE when it has EF.CardAccess, and BAC.
    #[default]
    Both,
    /// PACE only: GET CHALLENGE and EXTERNAL AUTHENTICATE answer 6D00 (EU cards since 2021).
    PaceOnly,
    /// BAC only: EF.CardAccess is hidden and MSE:Set AT refused.
    BacOnly,
}

/// The protocols of one card, built once from its image and secrets.
pub struct Protocols {
    /// PACE protocols of EF.CardAccess and the passwords (MRZ and CAN).
    pace: Option<(Vec<CardProtocol>, Vec<PacePassword>)>,
    /// The DG14 key: its domain, the chip's key pair, the cipher and OID of the protocol.
    ca: Option<(Domain, KeyPair, SmCipher, String)>,
    aa: Option<AaPrivateKey>,
}

impl fmt::Debug for Protocols {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Protocols")
            .field("pace", &self.pace.as_ref().map(|(p, _)| p.len()))
            .field("chip_authentication", &self.ca.is_some())
            .field("active_authentication", &self.aa.is_some())
            .finish()
    }
}

impl Protocols {
    /// Read the image: EF.CardAccess for PACE, DG14 + the CA private key, the AA private key.
    pub fn from_image(image: &ChipImage, mrz_information: &str, secrets: &ChipSecrets, mode: AccessMode) -> Result<Protocols, String> {
        let pace = match (image.get(FileId::CardAccess), mode) {
            (Some(bytes), AccessMode::Both | AccessMode::PaceOnly) => {
                let infos = lds::parse_card_access(bytes).map_err(|e| e.to_string())?;
                let mut supported = Vec::new();
                for p in infos.pace() {
                    let Some(id) = p.parameter_id else { continue };
                    let Ok(domain) = idcheck_chip::group::StandardDomain::from_parameter_id(id) else { continue };
                    supported.push((p.protocol.oid(), sm_cipher(p.protocol.cipher), domain));
                }
                let mut passwords = vec![PacePassword::Mrz(mrz_information.to_string())];
                if let Some(can) = &secrets.can {
                    passwords.push(PacePassword::Can(can.clone()));
                }
                Some((supported, passwords))
            }
            _ => None,
        };
        let ca = match (image.get(FileId::Dg14), &secrets.ca_private_key) {
            (Some(dg14), Some(private)) => {
                let infos = lds::parse_dg14(dg14).map_err(|e| e.to_string())?;
                match infos.chip_authentication().into_iter().next() {
                    Some((info, key)) => {
                        let (domain, _) = Domain::from_spki(&key.spki_der).map_err(|e| format!("dg14 key: {e}"))?;
                        let private = hex::decode(private).map_err(|e| format!("ca private key: {e}"))?;
                        let pair = domain.key_pair(&private).map_err(|e| format!("ca private key: {e}"))?;
                        let cipher = info.cipher.map(sm_cipher).unwrap_or(SmCipher::Tdes);
                        Some((domain, pair, cipher, info.oid()))
                    }
                    None => None,
                }
            }
            _ => None,
        };
        let aa = match &secrets.aa_private_key {
            Some(der) => {
                let der = hex::decode(der).map_err(|e| format!("aa private key: {e}"))?;
                Some(AaPrivateKey::from_pkcs8_der(&der).map_err(|e| format!("aa private key: {e}"))?)
            }
            None => None,
        };
        Ok(Protocols { pace, ca, aa })
    }

    pub fn offers_pace(&self) -> bool {
        self.pace.is_some()
    }

    /// A fresh PACE state for a session.
    pub fn card_pace(&self) -> Option<CardPace> {
        self.pace.as_ref().map(|(s, p)| CardPace::new(s.clone(), p.clone()))
    }
}

/// The card's random numbers as the chip layer's [`Randomness`].
pub struct CardRng<'a>(pub &'a mut ChaCha20Rng);

impl Randomness for CardRng<'_> {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), RandomnessError> {
        self.0.fill_bytes(dest);
        Ok(())
    }
}

/// What an authentication command asks of the card's session.
pub enum Outcome {
    /// Answer with this data and status word.
    Answer(Vec<u8>, u16),
    /// Answer 9000 with this data, then use these keys for secure messaging (SSC zero).
    Rekey(Vec<u8>, SessionKeys),
}

/// Chip Authentication: the key agreement with the terminal's ephemeral key `pk_ifd`. With
/// `wrong_key` (the clone fault) the card uses a key that does not match DG14.
pub fn chip_authenticate(p: &Protocols, pk_ifd: &[u8], wrong_key: bool, rng: &mut ChaCha20Rng) -> Outcome {
    let Some((domain, pair, cipher, _)) = &p.ca else { return Outcome::Answer(Vec::new(), 0x6A88) };
    let key = if wrong_key {
        match domain.generate(&mut CardRng(rng)) {
            Ok(k) => k,
            Err(_) => return Outcome::Answer(Vec::new(), 0x6F00),
        }
    } else {
        pair.clone()
    };
    match chip_auth::card_agree(domain, &key, pk_ifd, *cipher) {
        Ok(keys) => Outcome::Rekey(Vec::new(), keys),
        Err(_) => Outcome::Answer(Vec::new(), 0x6A80),
    }
}

/// The terminal's ephemeral key of MSE:Set KAT (DO 91) or of a Chip Authentication General
/// Authenticate (7C { 80 }).
pub fn ca_public_key(data: &[u8], in_ga: bool) -> Option<Vec<u8>> {
    if in_ga {
        let outer = tlv::parse_single(data, 0x7C).ok()?;
        tlv::find(&outer, 0x80).ok().flatten().map(|t| t.value.to_vec())
    } else {
        let mut r = tlv::Reader::new(data);
        while !r.is_empty() {
            let t = r.next_tlv().ok()?;
            if t.tag == 0x91 {
                return Some(t.value.to_vec());
            }
        }
        None
    }
}

/// Active Authentication: sign the terminal's challenge; `corrupt` flips a bit of the signature.
pub fn active_authenticate(p: &Protocols, challenge: &[u8], corrupt: bool) -> Outcome {
    let Some(key) = &p.aa else { return Outcome::Answer(Vec::new(), 0x6D00) };
    if challenge.len() != 8 {
        return Outcome::Answer(Vec::new(), 0x6700);
    }
    match key.sign(challenge) {
        Ok(mut sig) => {
            if corrupt {
                if let Some(b) = sig.last_mut() {
                    *b ^= 0x01;
                }
            }
            Outcome::Answer(sig, 0x9000)
        }
        Err(_) => Outcome::Answer(Vec::new(), 0x6F00),
    }
}

/// The status word for a PACE step the card refuses.
pub fn pace_error_sw(e: &CardPaceError) -> u16 {
    match e {
        CardPaceError::Token => 0x6300,
        _ => 0x6A80,
    }
}

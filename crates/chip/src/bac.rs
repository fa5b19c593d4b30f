//! Basic Access Control, ICAO 9303-11 section 4.3: the document basic access keys from the MRZ
//! information ([`BacKey`]), the host's mutual authentication (GET CHALLENGE, then EXTERNAL
//! AUTHENTICATE carrying E.IFD || M.IFD) as an [`AccessControl`], and the card's counterpart
//! ([`CardBac`], [`card_respond`]) for the emulator. Both sides end with the session keys
//! (seed K.IFD xor K.IC, 9.7.1) and the send sequence counter RND.IC[4..8] || RND.IFD[4..8]
//! in a [`SecureChannel`]. Cryptography: `sm` (3DES, retail MAC) and SHA-1 from RustCrypto.

use std::fmt;

use sha1::{Digest, Sha1};

use super::access::{AccessControl, Randomness, RandomnessError};
use super::apdu::Command;
use super::failure::{ReadFailure, ReadFailureKind, ReadStep};
use super::link::Link;
use super::sm::{decrypt_3des, encrypt_3des, retail_mac, SecureChannel, SmKeys};
use idcheck_core::lds::Mrz;

/// Why BAC could not be computed or was refused by a computation (not by the card's status).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BacError {
    #[error("mrz information {0}")]
    MrzInformation(String),
    #[error("challenge of {0} bytes, expected 8")]
    ChallengeLength(usize),
    #[error("authentication data of {0} bytes, expected 40 (cryptogram 32 + mac 8)")]
    AnswerLength(usize),
    #[error("mac of the authentication data does not verify")]
    Mac,
    #[error("nonce in the authentication data does not match the one sent")]
    Nonce,
    #[error("mutual authenticate without a preceding get challenge")]
    NoChallenge,
    #[error("{0}")]
    Randomness(#[from] RandomnessError),
}

/// The document basic access keys of one document: KEnc and KMac derived from the MRZ
/// information. Debug prints neither the MRZ nor the keys.
#[derive(Clone, PartialEq, Eq)]
pub struct BacKey {
    seed: [u8; 16],
    keys: SmKeys,
    /// The MRZ information itself: PACE with the MRZ password hashes it whole (ICAO 9303-11 9.7.3).
    info: String,
}

impl fmt::Debug for BacKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BacKey(REDACTED)")
    }
}

impl BacKey {
    /// From the MRZ information: document number (9 or more characters, `<`-padded) + check
    /// digit + birth date YYMMDD + check digit + expiry date YYMMDD + check digit. Only the
    /// characters `A-Z 0-9 <` are allowed; check digits are not verified here (a wrong one simply
    /// gives a key the chip refuses).
    pub fn from_mrz_information(info: &str) -> Result<BacKey, BacError> {
        if info.len() < 24 {
            return Err(BacError::MrzInformation(format!("has {} characters, expected at least 24", info.len())));
        }
        if let Some((i, c)) = info.char_indices().find(|(_, c)| !(c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '<')) {
            return Err(BacError::MrzInformation(format!("has {c:?} at position {i}; only A-Z, 0-9 and < are allowed")));
        }
        let digest = Sha1::digest(info.as_bytes());
        let mut seed = [0u8; 16];
        seed.copy_from_slice(&digest[..16]);
        Ok(BacKey { seed, keys: SmKeys::derive(&seed), info: info.to_string() })
    }

    /// From a parsed DG1 / printed MRZ.
    pub fn from_mrz(mrz: &Mrz) -> Result<BacKey, BacError> {
        BacKey::from_mrz_information(&mrz.mrz_information())
    }

    /// From the three fields as printed: document number, birth date YYMMDD, expiry YYMMDD. The
    /// check digits are computed (ICAO 9303-3); a document number shorter than 9 is `<`-padded.
    pub fn from_fields(document_number: &str, birth_yymmdd: &str, expiry_yymmdd: &str) -> Result<BacKey, BacError> {
        let mut doc = document_number.to_ascii_uppercase();
        while doc.len() < 9 {
            doc.push('<');
        }
        let cd = |s: &str| {
            idcheck_core::lds::check_digit(s).ok_or_else(|| BacError::MrzInformation(format!("field of {} characters has no check digit", s.len())))
        };
        if birth_yymmdd.len() != 6 || expiry_yymmdd.len() != 6 {
            return Err(BacError::MrzInformation("dates must be YYMMDD".to_string()));
        }
        let info = format!("{doc}{}{birth_yymmdd}{}{expiry_yymmdd}{}", cd(&doc)?, cd(birth_yymmdd)?, cd(expiry_yymmdd)?);
        BacKey::from_mrz_information(&info)
    }

    /// Kseed: the first 16 bytes of SHA-1 of the MRZ information.
    pub fn seed(&self) -> &[u8; 16] {
        &self.seed
    }

    /// The MRZ information the key was derived from (personal data: never log it).
    pub fn mrz_information(&self) -> &str {
        &self.info
    }

    /// KEnc and KMac.
    pub fn keys(&self) -> &SmKeys {
        &self.keys
    }
}

/// The session both sides reach: keys from K.IFD xor K.IC, SSC from the nonces.
pub fn session_from(k_ifd: &[u8; 16], k_ic: &[u8; 16], rnd_ic: &[u8; 8], rnd_ifd: &[u8; 8]) -> SecureChannel {
    let seed: [u8; 16] = std::array::from_fn(|i| k_ifd[i] ^ k_ic[i]);
    let mut ssc = [0u8; 8];
    ssc[..4].copy_from_slice(&rnd_ic[4..]);
    ssc[4..].copy_from_slice(&rnd_ifd[4..]);
    SecureChannel::new(SmKeys::derive(&seed), ssc)
}

/// Host: E.IFD || M.IFD for the EXTERNAL AUTHENTICATE command, from S = RND.IFD || RND.IC || K.IFD.
pub fn host_authentication_data(keys: &SmKeys, rnd_ic: &[u8; 8], rnd_ifd: &[u8; 8], k_ifd: &[u8; 16]) -> [u8; 40] {
    let mut s = [0u8; 32];
    s[..8].copy_from_slice(rnd_ifd);
    s[8..16].copy_from_slice(rnd_ic);
    s[16..].copy_from_slice(k_ifd);
    let e = encrypt_3des(&keys.k_enc, &s);
    let m = retail_mac(&keys.k_mac, &e);
    let mut out = [0u8; 40];
    out[..32].copy_from_slice(&e);
    out[32..].copy_from_slice(&m);
    out
}

/// Host: verify the chip's E.IC || M.IC, check both nonces, take K.IC and open the session.
pub fn host_finish(
    keys: &SmKeys,
    rnd_ic: &[u8; 8],
    rnd_ifd: &[u8; 8],
    k_ifd: &[u8; 16],
    answer: &[u8],
) -> Result<SecureChannel, BacError> {
    let r = open_authentication_data(keys, answer)?;
    // R = RND.IC || RND.IFD || K.IC
    if r[..8] != rnd_ic[..] || r[8..16] != rnd_ifd[..] {
        return Err(BacError::Nonce);
    }
    let mut k_ic = [0u8; 16];
    k_ic.copy_from_slice(&r[16..]);
    Ok(session_from(k_ifd, &k_ic, rnd_ic, rnd_ifd))
}

/// Check the MAC of 40 bytes of authentication data and decrypt the 32-byte cryptogram.
fn open_authentication_data(keys: &SmKeys, data: &[u8]) -> Result<[u8; 32], BacError> {
    let (e, m) = match data {
        d if d.len() == 40 => d.split_at(32),
        d => return Err(BacError::AnswerLength(d.len())),
    };
    let expected = retail_mac(&keys.k_mac, e);
    use p256::elliptic_curve::subtle::ConstantTimeEq;
    if !bool::from(expected.ct_eq(m)) {
        return Err(BacError::Mac);
    }
    let plain = decrypt_3des(&keys.k_enc, e).map_err(|_| BacError::AnswerLength(data.len()))?;
    let mut out = [0u8; 32];
    out.copy_from_slice(&plain);
    Ok(out)
}

/// Card: answer an EXTERNAL AUTHENTICATE of BAC. Checks M.IFD and that the IFD encrypted the
/// card's challenge `rnd_ic`, then returns E.IC || M.IC (R = RND.IC || RND.IFD || K.IC) and the
/// card's end of the session.
pub fn card_respond(key: &BacKey, rnd_ic: &[u8; 8], k_ic: &[u8; 16], cmd_data: &[u8]) -> Result<(Vec<u8>, SecureChannel), BacError> {
    let keys = key.keys();
    let s = open_authentication_data(keys, cmd_data)?;
    // S = RND.IFD || RND.IC || K.IFD
    if s[8..16] != rnd_ic[..] {
        return Err(BacError::Nonce);
    }
    let mut rnd_ifd = [0u8; 8];
    rnd_ifd.copy_from_slice(&s[..8]);
    let mut k_ifd = [0u8; 16];
    k_ifd.copy_from_slice(&s[16..]);
    let mut r = [0u8; 32];
    r[..8].copy_from_slice(rnd_ic);
    r[8..16].copy_from_slice(&rnd_ifd);
    r[16..].copy_from_slice(k_ic);
    let e = encrypt_3des(&keys.k_enc, &r);
    let m = retail_mac(&keys.k_mac, &e);
    let mut answer = e;
    answer.extend_from_slice(&m);
    Ok((answer, session_from(&k_ifd, k_ic, rnd_ic, &rnd_ifd)))
}

/// The card's BAC state: the keys and the outstanding challenge. A challenge serves one
/// authentication attempt only.
#[derive(Clone)]
pub struct CardBac {
    key: BacKey,
    challenge: Option<[u8; 8]>,
}

impl fmt::Debug for CardBac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CardBac").field("challenge_outstanding", &self.challenge.is_some()).finish()
    }
}

impl CardBac {
    pub fn new(key: BacKey) -> Self {
        CardBac { key, challenge: None }
    }

    /// GET CHALLENGE: draw RND.IC and remember it.
    pub fn get_challenge(&mut self, rng: &mut dyn Randomness) -> Result<[u8; 8], BacError> {
        let mut c = [0u8; 8];
        rng.fill(&mut c)?;
        self.challenge = Some(c);
        Ok(c)
    }

    /// EXTERNAL AUTHENTICATE: verify against the outstanding challenge (consumed either way),
    /// draw K.IC and answer.
    pub fn mutual_authenticate(&mut self, cmd_data: &[u8], rng: &mut dyn Randomness) -> Result<(Vec<u8>, SecureChannel), BacError> {
        let rnd_ic = self.challenge.take().ok_or(BacError::NoChallenge)?;
        let mut k_ic = [0u8; 16];
        rng.fill(&mut k_ic)?;
        card_respond(&self.key, &rnd_ic, &k_ic, cmd_data)
    }
}

impl AccessControl for BacKey {
    fn protocol(&self) -> &'static str {
        "BAC"
    }

    fn establish(&self, link: &mut Link<'_>, rng: &mut dyn Randomness) -> Result<SecureChannel, ReadFailure> {
        let step = ReadStep::GetChallenge;
        let r = link.send(&Command::get_challenge(8)).map_err(|e| ReadFailure::from_link(step, &e))?;
        if !r.is_success() {
            return Err(ReadFailure::new(step, ReadFailureKind::AccessDenied)
                .with_sw(r.sw)
                .with_detail("the chip does not give a bac challenge"));
        }
        let rnd_ic: [u8; 8] = r
            .data
            .as_slice()
            .try_into()
            .map_err(|_| ReadFailure::malformed(step, BacError::ChallengeLength(r.data.len()).to_string()))?;
        let mut rnd_ifd = [0u8; 8];
        let mut k_ifd = [0u8; 16];
        let host_fault = |e: RandomnessError| ReadFailure::new(step, ReadFailureKind::HostFault).with_detail(e.to_string());
        rng.fill(&mut rnd_ifd).map_err(host_fault)?;
        rng.fill(&mut k_ifd).map_err(host_fault)?;

        let step = ReadStep::MutualAuthenticate;
        let data = host_authentication_data(self.keys(), &rnd_ic, &rnd_ifd, &k_ifd);
        let r = link.send(&Command::mutual_authenticate(&data)).map_err(|e| ReadFailure::from_link(step, &e))?;
        if !r.is_success() {
            return Err(ReadFailure::new(step, ReadFailureKind::AccessDenied).with_sw(r.sw));
        }
        host_finish(self.keys(), &rnd_ic, &rnd_ifd, &k_ifd, &r.data).map_err(|e| match e {
            BacError::AnswerLength(_) => ReadFailure::malformed(step, e.to_string()),
            other => ReadFailure::new(step, ReadFailureKind::AuthenticationInvalid).with_detail(other.to_string()),
        })
    }
}

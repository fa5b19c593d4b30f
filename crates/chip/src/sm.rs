//! Secure messaging as ICAO 9303-11 section 9.8 specifies it, with 3DES (BAC, and PACE or chip
//! authentication with 3DES) and with AES-128/192/256 (PACE, chip authentication; BSI TR-03110-3
//! appendix F): the ciphers ([`SmCipher`]) and their session keys ([`SessionKeys`], key
//! derivation 9.7.1 [`kdf`]), the 8-byte MAC ([`mac8`]: ISO/IEC 9797-1 MAC algorithm 3, the
//! "retail MAC", for 3DES; AES-CMAC for AES), CBC encryption, and the protection of command and
//! response APDUs with DO'87' / DO'85' (cryptogram), DO'97' (Ne), DO'99' (status word) and
//! DO'8E' (MAC) under a send sequence counter. The host side ([`SecureChannel::protect_command`],
//! [`SecureChannel::unprotect_response`]) and the card side ([`SecureChannel::unprotect_command`],
//! [`SecureChannel::protect_response`], used by the emulator) share every building block, so
//! one worked example checks both. Block ciphers and CMAC come from RustCrypto `des` / `aes` /
//! `cbc` / `cmac`; only the ISO 9797-1 composition (CBC-MAC then the final decrypt/encrypt) is
//! written here.
//!
//! The two families differ only in these points. 3DES: 8-byte SSC and blocks, CBC with a zero IV,
//! MAC = retail MAC over SSC || padded header || data objects (padding method 2 inside the MAC).
//! AES: 16-byte SSC and blocks, CBC with IV = E(KSenc, SSC) (the SSC already incremented for this
//! APDU, 9.8.6.1), MAC = the first 8 bytes of AES-CMAC over SSC || padded header || data objects
//! padded with method 2 to a multiple of 16 (as JMRTD's SecureMessagingWrapper.wrapCommandAPDU
//! pads before `mac.doFinal`; checked byte for byte against a real chip's session in the tests).
//!
//! SSC rule: the counter is incremented before protecting or verifying every command and every
//! protected response. A response made of a bare status word (no data objects) is not protected
//! and does not move the counter, on either side (JMRTD does the same); a card must therefore
//! answer a bare status word only through [`SecureChannel::plain_status`], and never a bare 9000.

use std::fmt;

use aes::{Aes128, Aes192, Aes256};
use cbc::cipher::block_padding::{Iso7816, NoPadding};
use cbc::cipher::{
    Block, BlockCipher, BlockDecrypt, BlockDecryptMut, BlockEncrypt, BlockEncryptMut, InnerIvInit, Key, KeyInit,
    KeyIvInit,
};
use cmac::{Cmac, Mac};
use des::{Des, TdesEde2};
use p256::elliptic_curve::subtle::ConstantTimeEq;
use sha1::{Digest, Sha1};
use sha2::Sha256;

use super::apdu::{ApduError, Command, Response, StatusWord, SHORT_MAX_DATA, SHORT_MAX_LE};
use idcheck_core::tlv;

/// Why a secure messaging APDU was refused, or a secure messaging computation could not be done.
/// Offsets count from the first byte of the APDU body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmError {
    #[error("secure messaging response of {0} bytes has no status word")]
    ResponseTooShort(usize),
    #[error("status 9000 without secure messaging objects: a success must be protected")]
    UnprotectedSuccess,
    #[error("secure messaging data object at offset {offset}: {message}")]
    Malformed { offset: usize, message: String },
    #[error("unexpected secure messaging data object {tag:X} at offset {offset}")]
    UnexpectedObject { tag: u32, offset: usize },
    #[error("mac data object 8E missing")]
    MissingMac,
    #[error("mac data object 8E has {0} bytes, expected 8")]
    MacLength(usize),
    #[error("mac mismatch (send sequence counter {ssc:016X})")]
    MacMismatch { ssc: u128 },
    #[error("cryptogram of {len} bytes is not a non-zero multiple of {block}")]
    CryptogramLength { len: usize, block: usize },
    #[error("padding-content indicator {0:02X} is not 01")]
    PaddingIndicator(u8),
    #[error("decrypted data has no iso/iec 7816-4 padding")]
    BadPadding,
    #[error("status data object 99 has {0} bytes, expected 2")]
    StatusLength(usize),
    #[error("le data object 97 has {0} bytes, expected 1 or 2")]
    LeLength(usize),
    #[error("command class {0:02X} does not announce secure messaging")]
    NotProtected(u8),
    #[error("protected command: {0}")]
    Command(ApduError),
    #[error("{cipher} key of {len} bytes, expected {expected}")]
    KeyLength { cipher: SmCipher, len: usize, expected: usize },
    #[error("{cipher} send sequence counter of {len} bytes, expected {expected}")]
    SscLength { cipher: SmCipher, len: usize, expected: usize },
}

/// The block cipher of a secure messaging session (and of PACE, chip authentication).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SmCipher {
    /// Two-key 3DES (112-bit), BAC and the 3DES PACE / CA suites.
    Tdes,
    Aes128,
    Aes192,
    Aes256,
}

impl SmCipher {
    /// Key length in bytes: 16 (two-key 3DES), 16, 24, 32.
    pub const fn key_len(self) -> usize {
        match self {
            SmCipher::Tdes | SmCipher::Aes128 => 16,
            SmCipher::Aes192 => 24,
            SmCipher::Aes256 => 32,
        }
    }

    /// Block length in bytes, which is also the length of the send sequence counter: 8 or 16.
    pub const fn block_len(self) -> usize {
        match self {
            SmCipher::Tdes => 8,
            _ => 16,
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            SmCipher::Tdes => "3DES",
            SmCipher::Aes128 => "AES-128",
            SmCipher::Aes192 => "AES-192",
            SmCipher::Aes256 => "AES-256",
        }
    }

    /// Largest plain Ne whose protected answer (DO'87' of tag, two length bytes, indicator and
    /// cryptogram; DO'99' of 4 bytes; DO'8E' of 10 bytes) still fits a short response of 256
    /// bytes: the cryptogram may have 238 bytes, rounded down to the block (232 for 3DES, 224 for
    /// AES), and padding adds at least one byte: 231 for 3DES, 223 for AES.
    pub const fn max_short_protected_le(self) -> usize {
        let room = SHORT_MAX_LE - 4 - 4 - 10;
        room / self.block_len() * self.block_len() - 1
    }
}

impl fmt::Display for SmCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A pair of two-key 3DES keys for secure messaging (or for BAC itself): encryption and MAC.
#[derive(Clone, PartialEq, Eq)]
pub struct SmKeys {
    pub k_enc: [u8; 16],
    pub k_mac: [u8; 16],
}

impl fmt::Debug for SmKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SmKeys(REDACTED)")
    }
}

impl SmKeys {
    /// ICAO 9303-11 9.7.1: KEnc with counter 1 and KMac with counter 2 from a 16-byte seed.
    pub fn derive(seed: &[u8; 16]) -> SmKeys {
        SmKeys { k_enc: derive_key(seed, 1), k_mac: derive_key(seed, 2) }
    }
}

/// One key of a cipher, of the length the cipher needs (so every operation on it is infallible).
#[derive(Clone, PartialEq, Eq)]
enum CipherKey {
    Tdes([u8; 16]),
    Aes128([u8; 16]),
    Aes192([u8; 24]),
    Aes256([u8; 32]),
}

impl CipherKey {
    fn from_slice(cipher: SmCipher, key: &[u8]) -> Result<CipherKey, SmError> {
        let wrong = || SmError::KeyLength { cipher, len: key.len(), expected: cipher.key_len() };
        Ok(match cipher {
            SmCipher::Tdes => CipherKey::Tdes(key.try_into().map_err(|_| wrong())?),
            SmCipher::Aes128 => CipherKey::Aes128(key.try_into().map_err(|_| wrong())?),
            SmCipher::Aes192 => CipherKey::Aes192(key.try_into().map_err(|_| wrong())?),
            SmCipher::Aes256 => CipherKey::Aes256(key.try_into().map_err(|_| wrong())?),
        })
    }

    fn cipher(&self) -> SmCipher {
        match self {
            CipherKey::Tdes(_) => SmCipher::Tdes,
            CipherKey::Aes128(_) => SmCipher::Aes128,
            CipherKey::Aes192(_) => SmCipher::Aes192,
            CipherKey::Aes256(_) => SmCipher::Aes256,
        }
    }

    fn bytes(&self) -> &[u8] {
        match self {
            CipherKey::Tdes(k) | CipherKey::Aes128(k) => k,
            CipherKey::Aes192(k) => k,
            CipherKey::Aes256(k) => k,
        }
    }

    /// CBC encryption of `data` (a multiple of the block, checked) with `iv` (for 3DES only the
    /// first 8 bytes are used).
    fn cbc_encrypt(&self, iv: &[u8; 16], data: &[u8]) -> Result<Vec<u8>, SmError> {
        let block = self.cipher().block_len();
        if !data.len().is_multiple_of(block) {
            return Err(SmError::CryptogramLength { len: data.len(), block });
        }
        Ok(match self {
            CipherKey::Tdes(k) => cbc_enc::<TdesEde2, NoPadding>(k.into(), (&iv8(iv)).into(), data),
            CipherKey::Aes128(k) => cbc_enc::<Aes128, NoPadding>(k.into(), iv.into(), data),
            CipherKey::Aes192(k) => cbc_enc::<Aes192, NoPadding>(k.into(), iv.into(), data),
            CipherKey::Aes256(k) => cbc_enc::<Aes256, NoPadding>(k.into(), iv.into(), data),
        })
    }

    /// CBC encryption of `data` padded with ISO/IEC 9797-1 method 2 (ISO/IEC 7816-4) to the block.
    fn cbc_encrypt_padded(&self, iv: &[u8; 16], data: &[u8]) -> Vec<u8> {
        match self {
            CipherKey::Tdes(k) => cbc_enc::<TdesEde2, Iso7816>(k.into(), (&iv8(iv)).into(), data),
            CipherKey::Aes128(k) => cbc_enc::<Aes128, Iso7816>(k.into(), iv.into(), data),
            CipherKey::Aes192(k) => cbc_enc::<Aes192, Iso7816>(k.into(), iv.into(), data),
            CipherKey::Aes256(k) => cbc_enc::<Aes256, Iso7816>(k.into(), iv.into(), data),
        }
    }

    /// CBC decryption, no padding removed; `data` must be a multiple of the block.
    fn cbc_decrypt(&self, iv: &[u8; 16], data: &[u8]) -> Result<Vec<u8>, SmError> {
        let block = self.cipher().block_len();
        let wrong = SmError::CryptogramLength { len: data.len(), block };
        if !data.len().is_multiple_of(block) {
            return Err(wrong);
        }
        match self {
            CipherKey::Tdes(k) => cbc_dec::<TdesEde2>(k.into(), (&iv8(iv)).into(), data),
            CipherKey::Aes128(k) => cbc_dec::<Aes128>(k.into(), iv.into(), data),
            CipherKey::Aes192(k) => cbc_dec::<Aes192>(k.into(), iv.into(), data),
            CipherKey::Aes256(k) => cbc_dec::<Aes256>(k.into(), iv.into(), data),
        }
        .ok_or(wrong)
    }

    /// The AES secure messaging IV E(K, SSC) for a 16-byte SSC; 3DES uses a zero IV.
    fn sm_iv(&self, ssc: &[u8; 16]) -> [u8; 16] {
        let mut block = (*ssc).into();
        match self {
            CipherKey::Tdes(_) => return [0; 16],
            CipherKey::Aes128(k) => Aes128::new(k.into()).encrypt_block(&mut block),
            CipherKey::Aes192(k) => Aes192::new(k.into()).encrypt_block(&mut block),
            CipherKey::Aes256(k) => Aes256::new(k.into()).encrypt_block(&mut block),
        }
        block.into()
    }

    /// [`mac8`]: the retail MAC (padding inside) for 3DES, the first 8 bytes of AES-CMAC for AES.
    fn mac8(&self, data: &[u8]) -> [u8; 8] {
        let full = match self {
            CipherKey::Tdes(k) => return retail_mac(k, data),
            CipherKey::Aes128(k) => cmac::<Aes128>(k.into(), data),
            CipherKey::Aes192(k) => cmac::<Aes192>(k.into(), data),
            CipherKey::Aes256(k) => cmac::<Aes256>(k.into(), data),
        };
        let mut out = [0u8; 8];
        out.copy_from_slice(&full[..8]);
        out
    }
}

/// The first 8 bytes of a 16-byte IV, for 3DES.
fn iv8(iv: &[u8; 16]) -> [u8; 8] {
    let mut out = [0u8; 8];
    out.copy_from_slice(&iv[..8]);
    out
}

fn cbc_enc<C, P>(key: &Key<C>, iv: &Block<C>, data: &[u8]) -> Vec<u8>
where
    C: BlockEncryptMut + BlockCipher + KeyInit,
    P: cbc::cipher::block_padding::Padding<C::BlockSize>,
{
    cbc::Encryptor::<C>::inner_iv_init(C::new(key), iv).encrypt_padded_vec_mut::<P>(data)
}

fn cbc_dec<C>(key: &Key<C>, iv: &Block<C>, data: &[u8]) -> Option<Vec<u8>>
where
    C: BlockDecryptMut + BlockCipher + KeyInit,
{
    cbc::Decryptor::<C>::inner_iv_init(C::new(key), iv).decrypt_padded_vec_mut::<NoPadding>(data).ok()
}

fn cmac<C>(key: &Key<C>, data: &[u8]) -> [u8; 16]
where
    C: BlockCipher<BlockSize = cbc::cipher::consts::U16> + BlockEncrypt + KeyInit + Clone,
{
    let mut m = <Cmac<C> as KeyInit>::new(key);
    m.update(data);
    m.finalize().into_bytes().into()
}

/// The session keys of a secure messaging session: the cipher, KSEnc and KSMac. Debug prints
/// the cipher only.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionKeys {
    enc: CipherKey,
    mac: CipherKey,
}

impl fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionKeys").field("cipher", &self.cipher()).field("keys", &"REDACTED").finish()
    }
}

impl SessionKeys {
    /// ICAO 9303-11 9.7.1: KEnc = KDF(K,1), KMac = KDF(K,2) from the shared secret K.
    pub fn derive(cipher: SmCipher, shared_secret: &[u8]) -> SessionKeys {
        SessionKeys { enc: kdf_key(cipher, shared_secret, 1), mac: kdf_key(cipher, shared_secret, 2) }
    }

    /// The 3DES keys of BAC.
    pub fn from_tdes(keys: SmKeys) -> SessionKeys {
        SessionKeys { enc: CipherKey::Tdes(keys.k_enc), mac: CipherKey::Tdes(keys.k_mac) }
    }

    /// Given keys, each `cipher.key_len()` bytes long.
    pub fn new(cipher: SmCipher, k_enc: &[u8], k_mac: &[u8]) -> Result<SessionKeys, SmError> {
        Ok(SessionKeys { enc: CipherKey::from_slice(cipher, k_enc)?, mac: CipherKey::from_slice(cipher, k_mac)? })
    }

    pub fn cipher(&self) -> SmCipher {
        self.enc.cipher()
    }

    pub fn k_enc(&self) -> &[u8] {
        self.enc.bytes()
    }

    pub fn k_mac(&self) -> &[u8] {
        self.mac.bytes()
    }

    /// The 3DES keys as [`SmKeys`], for a 3DES session.
    pub fn tdes(&self) -> Option<SmKeys> {
        match (&self.enc, &self.mac) {
            (CipherKey::Tdes(k_enc), CipherKey::Tdes(k_mac)) => Some(SmKeys { k_enc: *k_enc, k_mac: *k_mac }),
            _ => None,
        }
    }
}

fn kdf_key(cipher: SmCipher, secret: &[u8], counter: u32) -> CipherKey {
    fn first<const N: usize>(digest: &[u8]) -> [u8; N] {
        let mut k = [0u8; N];
        k.copy_from_slice(&digest[..N]);
        k
    }
    let sha1 = || Sha1::new().chain_update(secret).chain_update(counter.to_be_bytes()).finalize();
    let sha256 = || Sha256::new().chain_update(secret).chain_update(counter.to_be_bytes()).finalize();
    match cipher {
        SmCipher::Tdes => CipherKey::Tdes(derive_key(secret, counter)),
        SmCipher::Aes128 => CipherKey::Aes128(first(&sha1())),
        SmCipher::Aes192 => CipherKey::Aes192(first(&sha256())),
        SmCipher::Aes256 => CipherKey::Aes256(sha256().into()),
    }
}

/// ICAO 9303-11 9.7.1 KDF(K, c): 3DES: the first 16 bytes of SHA-1(K || c), parity adjusted;
/// AES-128: the first 16 bytes of SHA-1; AES-192: the first 24 of SHA-256; AES-256: all 32 of
/// SHA-256. c (32 bits, big-endian) = 1 (KSEnc), 2 (KSMac), 3 (the PACE password key K_pi).
pub fn kdf(cipher: SmCipher, secret: &[u8], counter: u32) -> Vec<u8> {
    kdf_key(cipher, secret, counter).bytes().to_vec()
}

/// The 8-byte MAC of PACE authentication tokens and of data: 3DES: the retail MAC (ISO/IEC
/// 9797-1 algorithm 3, padding method 2 applied here); AES: AES-CMAC of the data as given (no
/// padding), its first 8 bytes. `k_mac` must have `cipher.key_len()` bytes, as the keys of
/// [`SessionKeys`] always do; [`try_mac8`] reports a wrong length. Here a wrong length (a
/// programming error) is not a panic: the tag is computed under KDF(k_mac, 0xFFFFFFFF) instead,
/// a key as secret as `k_mac` that no peer uses, so the tag verifies nowhere.
pub fn mac8(cipher: SmCipher, k_mac: &[u8], data: &[u8]) -> [u8; 8] {
    match CipherKey::from_slice(cipher, k_mac) {
        Ok(key) => key.mac8(data),
        Err(_) => kdf_key(cipher, k_mac, u32::MAX).mac8(data),
    }
}

/// [`mac8`], refusing a key of the wrong length.
pub fn try_mac8(cipher: SmCipher, k_mac: &[u8], data: &[u8]) -> Result<[u8; 8], SmError> {
    Ok(CipherKey::from_slice(cipher, k_mac)?.mac8(data))
}

/// CBC with a zero IV and no padding (the data a multiple of the block): the PACE nonce
/// z = E(K_pi, s).
pub fn encrypt_cbc_zero_iv(cipher: SmCipher, key: &[u8], data: &[u8]) -> Result<Vec<u8>, SmError> {
    CipherKey::from_slice(cipher, key)?.cbc_encrypt(&[0; 16], data)
}

/// Inverse of [`encrypt_cbc_zero_iv`]: s = D(K_pi, z).
pub fn decrypt_cbc_zero_iv(cipher: SmCipher, key: &[u8], data: &[u8]) -> Result<Vec<u8>, SmError> {
    CipherKey::from_slice(cipher, key)?.cbc_decrypt(&[0; 16], data)
}

/// ICAO 9303-11 9.7.1 for 3DES: the first 16 bytes of SHA-1(seed || counter), parity adjusted.
pub fn derive_key(seed: &[u8], counter: u32) -> [u8; 16] {
    let mut h = Sha1::new();
    h.update(seed);
    h.update(counter.to_be_bytes());
    let digest = h.finalize();
    let mut key = [0u8; 16];
    key.copy_from_slice(&digest[..16]);
    adjust_parity(&mut key);
    key
}

/// Set the least significant bit of each byte so that every byte has odd parity (DES keys).
pub fn adjust_parity(key: &mut [u8]) {
    for b in key.iter_mut() {
        let upper = *b & 0xFE;
        *b = if upper.count_ones() % 2 == 0 { upper | 1 } else { upper };
    }
}

/// ISO/IEC 9797-1 padding method 2: append 0x80, then zeros to a multiple of 8 bytes.
pub fn pad(data: &[u8]) -> Vec<u8> {
    pad_block(data, 8)
}

/// ISO/IEC 9797-1 padding method 2 to a multiple of `block` bytes (8 for 3DES, 16 for AES).
pub fn pad_block(data: &[u8], block: usize) -> Vec<u8> {
    let block = block.max(1);
    let mut out = Vec::with_capacity(data.len() + block);
    out.extend_from_slice(data);
    out.push(0x80);
    while !out.len().is_multiple_of(block) {
        out.push(0);
    }
    out
}

/// Remove padding method 2 of an 8-byte block: trailing zeros, then the mandatory 0x80.
pub fn unpad(data: &[u8]) -> Result<&[u8], SmError> {
    unpad_block(data, 8)
}

/// Remove padding method 2 of a `block`-byte block: trailing zeros (fewer than a block), then the
/// mandatory 0x80.
pub fn unpad_block(data: &[u8], block: usize) -> Result<&[u8], SmError> {
    let end = data.iter().rposition(|&b| b != 0).ok_or(SmError::BadPadding)?;
    match data.get(end) {
        Some(0x80) if data.len() - end <= block => Ok(&data[..end]),
        _ => Err(SmError::BadPadding),
    }
}

/// Two-key 3DES in CBC mode with a zero IV over data already a multiple of 8 bytes long.
pub fn encrypt_3des(key: &[u8; 16], data: &[u8]) -> Vec<u8> {
    debug_assert!(data.len().is_multiple_of(8));
    let enc = cbc::Encryptor::<TdesEde2>::new(key.into(), &[0u8; 8].into());
    enc.encrypt_padded_vec_mut::<NoPadding>(data)
}

/// Inverse of [`encrypt_3des`]. The length must be a multiple of 8.
pub fn decrypt_3des(key: &[u8; 16], data: &[u8]) -> Result<Vec<u8>, SmError> {
    CipherKey::Tdes(*key).cbc_decrypt(&[0; 16], data)
}

/// ISO/IEC 9797-1 MAC algorithm 3 with DES (the "retail MAC"), padding method 2 applied here:
/// CBC-DES with the first key half over all blocks, then decrypt the last block with the second
/// half and encrypt it with the first.
pub fn retail_mac(key: &[u8; 16], data: &[u8]) -> [u8; 8] {
    let padded = pad(data);
    let (ka, kb) = key.split_at(8);
    let cbc = cbc::Encryptor::<Des>::new(ka.into(), &[0u8; 8].into()).encrypt_padded_vec_mut::<NoPadding>(&padded);
    let mut block = [0u8; 8];
    // `padded` is never empty, so the CBC output has at least one block.
    if let Some(last) = cbc.rchunks_exact(8).next() {
        block.copy_from_slice(last);
    }
    let mut b = block.into();
    Des::new(kb.into()).decrypt_block(&mut b);
    Des::new(ka.into()).encrypt_block(&mut b);
    b.into()
}

/// The state of one secure messaging session: the session keys and the send sequence counter.
/// One value serves one side of the link (host or card).
#[derive(Clone)]
pub struct SecureChannel {
    keys: SessionKeys,
    /// The SSC, big-endian in `cipher().block_len()` bytes (8 for 3DES, 16 for AES); it wraps
    /// within that width.
    ssc: u128,
    /// Card side: INS of the last command unprotected, so the answer to an odd INS uses DO'85'.
    last_ins: Option<u8>,
}

impl fmt::Debug for SecureChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecureChannel")
            .field("cipher", &self.cipher())
            .field("keys", &"REDACTED")
            .field("ssc", &hex::encode_upper(self.ssc()))
            .finish()
    }
}

/// Largest plain Ne whose protected 3DES answer (DO'87' of 3 + 1 + 232 bytes, DO'99', DO'8E')
/// still fits a short response of 256 bytes; a larger Ne makes the protected command extended.
/// For any cipher see [`SecureChannel::max_short_protected_le`].
pub const MAX_SHORT_PROTECTED_LE: usize = SmCipher::Tdes.max_short_protected_le();

const TAG_CRYPTOGRAM_PI: u32 = 0x87;
const TAG_CRYPTOGRAM_TLV: u32 = 0x85;
const TAG_LE: u32 = 0x97;
const TAG_STATUS: u32 = 0x99;
const TAG_MAC: u32 = 0x8E;

impl SecureChannel {
    /// A BAC session with these 3DES keys, the SSC set to `ssc` (big-endian, 8 bytes).
    pub fn new(keys: SmKeys, ssc: [u8; 8]) -> Self {
        SecureChannel { keys: SessionKeys::from_tdes(keys), ssc: u64::from_be_bytes(ssc).into(), last_ins: None }
    }

    /// PACE and chip authentication: the SSC starts at zero (8 bytes for 3DES, 16 for AES).
    pub fn from_session_keys(keys: SessionKeys) -> Self {
        SecureChannel { keys, ssc: 0, last_ins: None }
    }

    /// A session whose SSC is `ssc` (big-endian, `block_len()` bytes), e.g. to resume one.
    pub fn with_ssc(keys: SessionKeys, ssc: &[u8]) -> Result<Self, SmError> {
        let cipher = keys.cipher();
        if ssc.len() != cipher.block_len() {
            return Err(SmError::SscLength { cipher, len: ssc.len(), expected: cipher.block_len() });
        }
        let ssc = ssc.iter().fold(0u128, |acc, &b| (acc << 8) | u128::from(b));
        Ok(SecureChannel { keys, ssc, last_ins: None })
    }

    pub fn cipher(&self) -> SmCipher {
        self.keys.cipher()
    }

    /// The send sequence counter now, big-endian: 8 bytes for 3DES, 16 for AES.
    pub fn ssc(&self) -> Vec<u8> {
        self.ssc_block()[16 - self.cipher().block_len()..].to_vec()
    }

    pub fn keys(&self) -> &SessionKeys {
        &self.keys
    }

    /// Largest plain Ne whose protected answer still fits a short response APDU (231 for 3DES,
    /// 223 for AES); a larger Ne makes the protected command extended.
    pub fn max_short_protected_le(&self) -> usize {
        self.cipher().max_short_protected_le()
    }

    fn ssc_block(&self) -> [u8; 16] {
        self.ssc.to_be_bytes()
    }

    /// Increment the SSC (within its width) and return it as a 16-byte big-endian block.
    fn next_ssc(&mut self) -> [u8; 16] {
        self.ssc = match self.cipher() {
            SmCipher::Tdes => u128::from((self.ssc as u64).wrapping_add(1)),
            _ => self.ssc.wrapping_add(1),
        };
        self.ssc_block()
    }

    fn block(&self) -> usize {
        self.cipher().block_len()
    }

    /// The MAC of SSC || parts: the retail MAC for 3DES (which pads), AES-CMAC over the input
    /// padded to 16 bytes for AES.
    fn mac(&self, ssc: &[u8; 16], parts: &[&[u8]]) -> [u8; 8] {
        let ssc = &ssc[16 - self.block()..];
        let mut m = Vec::with_capacity(32 + parts.iter().map(|p| p.len()).sum::<usize>());
        m.extend_from_slice(ssc);
        for p in parts {
            m.extend_from_slice(p);
        }
        match self.keys.mac {
            CipherKey::Tdes(_) => self.keys.mac.mac8(&m),
            _ => self.keys.mac.mac8(&pad_block(&m, 16)),
        }
    }

    fn verify_mac(&self, ssc: &[u8; 16], parts: &[&[u8]], mac: &[u8]) -> Result<(), SmError> {
        if mac.len() != 8 {
            return Err(SmError::MacLength(mac.len()));
        }
        let expected = self.mac(ssc, parts);
        if bool::from(expected.ct_eq(mac)) {
            Ok(())
        } else {
            Err(SmError::MacMismatch { ssc: u128::from_be_bytes(*ssc) })
        }
    }

    /// DO'87' (even INS: padding-content indicator 01 + cryptogram) or DO'85' (odd INS: cryptogram
    /// of BER-TLV data), empty when there is no data.
    fn cryptogram_do(&self, ssc: &[u8; 16], data: &[u8], odd_ins: bool) -> Vec<u8> {
        if data.is_empty() {
            return Vec::new();
        }
        let enc = self.keys.enc.cbc_encrypt_padded(&self.keys.enc.sm_iv(ssc), data);
        if odd_ins {
            tlv::encode(TAG_CRYPTOGRAM_TLV, &enc)
        } else {
            let mut v = Vec::with_capacity(enc.len() + 1);
            v.push(0x01);
            v.extend_from_slice(&enc);
            tlv::encode(TAG_CRYPTOGRAM_PI, &v)
        }
    }

    fn decrypt_do(&self, ssc: &[u8; 16], tag: u32, value: &[u8]) -> Result<Vec<u8>, SmError> {
        let block = self.block();
        let cryptogram = if tag == TAG_CRYPTOGRAM_PI {
            match value.split_first() {
                Some((0x01, rest)) => rest,
                Some((pi, _)) => return Err(SmError::PaddingIndicator(*pi)),
                None => return Err(SmError::CryptogramLength { len: 0, block }),
            }
        } else {
            value
        };
        if cryptogram.is_empty() || !cryptogram.len().is_multiple_of(block) {
            return Err(SmError::CryptogramLength { len: cryptogram.len(), block });
        }
        let plain = self.keys.enc.cbc_decrypt(&self.keys.enc.sm_iv(ssc), cryptogram)?;
        Ok(unpad_block(&plain, block)?.to_vec())
    }

    // ---- host side ---------------------------------------------------------------------------

    /// Host: protect a plain command. The SSC is incremented first. The protected command always
    /// carries Le (`00`, or `0000` when it must be extended), as ICAO 9303-11 requires.
    pub fn protect_command(&mut self, cmd: &Command) -> Command {
        let ssc = self.next_ssc();
        let cla = cmd.cla | 0x0C;
        let header = pad_block(&[cla, cmd.ins, cmd.p1, cmd.p2], self.block());
        let do87 = self.cryptogram_do(&ssc, &cmd.data, cmd.ins & 1 == 1);
        let do97 = match cmd.le {
            Some(le) if le <= SHORT_MAX_LE => tlv::encode(TAG_LE, &[(le % 256) as u8]),
            Some(le) => tlv::encode(TAG_LE, &((le % 65536) as u16).to_be_bytes()),
            None => Vec::new(),
        };
        let mut body = Vec::with_capacity(do87.len() + do97.len() + 10);
        body.extend_from_slice(&do87);
        body.extend_from_slice(&do97);
        let mac = self.mac(&ssc, &[&header, &body]);
        body.extend_from_slice(&tlv::encode(TAG_MAC, &mac));
        let extended = cmd.le.is_some_and(|le| le > self.max_short_protected_le()) || body.len() > SHORT_MAX_DATA;
        Command { cla, ins: cmd.ins, p1: cmd.p1, p2: cmd.p2, data: body, le: Some(if extended { 65536 } else { 256 }) }
    }

    /// Host: verify and decrypt a protected response (data objects then status word). A bare
    /// error status word is returned as is without moving the SSC; a bare 9000 is refused.
    pub fn unprotect_response(&mut self, bytes: &[u8]) -> Result<Response, SmError> {
        let (body, sw) = match bytes.split_last_chunk::<2>() {
            Some((body, sw)) => (body, StatusWord::from_u16(u16::from_be_bytes(*sw))),
            None => return Err(SmError::ResponseTooShort(bytes.len())),
        };
        if body.is_empty() {
            if sw == StatusWord::Success {
                return Err(SmError::UnprotectedSuccess);
            }
            return Ok(Response::status(sw));
        }
        let ssc = self.next_ssc();
        let objs = parse_objects(body)?;
        let mut cryptogram = None;
        let mut status = None;
        for (tag, offset, value) in &objs.before_mac {
            match *tag {
                TAG_CRYPTOGRAM_PI | TAG_CRYPTOGRAM_TLV if cryptogram.is_none() && status.is_none() => {
                    cryptogram = Some((*tag, *value))
                }
                TAG_STATUS if status.is_none() => status = Some(*value),
                other => return Err(SmError::UnexpectedObject { tag: other, offset: *offset }),
            }
        }
        self.verify_mac(&ssc, &[objs.mac_input], objs.mac)?;
        let sw = match status {
            Some(&[a, b]) => StatusWord::from_u16(u16::from_be_bytes([a, b])),
            Some(v) => return Err(SmError::StatusLength(v.len())),
            None => sw,
        };
        let data = match cryptogram {
            Some((tag, value)) => self.decrypt_do(&ssc, tag, value)?,
            None => Vec::new(),
        };
        Ok(Response { data, sw })
    }

    // ---- card side ---------------------------------------------------------------------------

    /// Card: verify and decrypt a protected command APDU. The SSC is incremented first; the plain
    /// command has the class byte without the secure messaging bits and Ne from DO'97'.
    pub fn unprotect_command(&mut self, bytes: &[u8]) -> Result<Command, SmError> {
        let cmd = Command::parse(bytes).map_err(SmError::Command)?;
        if cmd.cla & 0x0C != 0x0C {
            return Err(SmError::NotProtected(cmd.cla));
        }
        let ssc = self.next_ssc();
        self.last_ins = Some(cmd.ins);
        let header = pad_block(&[cmd.cla, cmd.ins, cmd.p1, cmd.p2], self.block());
        let objs = parse_objects(&cmd.data)?;
        let mut cryptogram = None;
        let mut le = None;
        for (tag, offset, value) in &objs.before_mac {
            match *tag {
                TAG_CRYPTOGRAM_PI | TAG_CRYPTOGRAM_TLV if cryptogram.is_none() && le.is_none() => {
                    cryptogram = Some((*tag, *value))
                }
                TAG_LE if le.is_none() => le = Some(*value),
                other => return Err(SmError::UnexpectedObject { tag: other, offset: *offset }),
            }
        }
        self.verify_mac(&ssc, &[&header, objs.mac_input], objs.mac)?;
        let le = match le {
            None => None,
            Some(&[0]) => Some(256),
            Some(&[n]) => Some(n as usize),
            Some(&[0, 0]) => Some(65536),
            Some(&[a, b]) => Some(u16::from_be_bytes([a, b]) as usize),
            Some(v) => return Err(SmError::LeLength(v.len())),
        };
        let data = match cryptogram {
            Some((tag, value)) => self.decrypt_do(&ssc, tag, value)?,
            None => Vec::new(),
        };
        Ok(Command { cla: cmd.cla & !0x0C, ins: cmd.ins, p1: cmd.p1, p2: cmd.p2, data, le })
    }

    /// Card: protect a response to the last command unprotected: DO'87' (DO'85' after an odd
    /// INS) when there is data, DO'99' with the status word, DO'8E', then the status word.
    pub fn protect_response(&mut self, resp: &Response) -> Vec<u8> {
        let ssc = self.next_ssc();
        let odd = self.last_ins.is_some_and(|ins| ins & 1 == 1);
        let mut body = self.cryptogram_do(&ssc, &resp.data, odd);
        body.extend_from_slice(&tlv::encode(TAG_STATUS, &resp.sw.to_bytes()));
        let mac = self.mac(&ssc, &[&body]);
        body.extend_from_slice(&tlv::encode(TAG_MAC, &mac));
        body.extend_from_slice(&resp.sw.to_bytes());
        body
    }

    /// Card: a bare status word, not protected; the SSC does not move (see the module notes).
    /// Use it for secure messaging errors (6987, 6988), after which the session is over.
    pub fn plain_status(sw: StatusWord) -> Vec<u8> {
        sw.to_bytes().to_vec()
    }
}

/// Data objects of a protected APDU body, split at DO'8E' (which must come last).
struct Objects<'a> {
    /// (tag, offset, value) of each object before DO'8E'.
    before_mac: Vec<(u32, usize, &'a [u8])>,
    /// The raw bytes the MAC covers (everything before DO'8E').
    mac_input: &'a [u8],
    mac: &'a [u8],
}

fn parse_objects(body: &[u8]) -> Result<Objects<'_>, SmError> {
    let mut reader = tlv::Reader::new(body);
    let mut before_mac = Vec::new();
    while !reader.is_empty() {
        let t = reader.next_tlv().map_err(|e| SmError::Malformed { offset: reader.offset(), message: e.to_string() })?;
        if t.tag == TAG_MAC {
            if !reader.is_empty() {
                return Err(SmError::Malformed {
                    offset: reader.offset(),
                    message: "data after the mac object 8E".to_string(),
                });
            }
            let mac_input = body.get(..t.offset).unwrap_or_default();
            return Ok(Objects { before_mac, mac_input, mac: t.value });
        }
        before_mac.push((t.tag, t.offset, t.value));
    }
    Err(SmError::MissingMac)
}

#[cfg(test)]
#[path = "sm_aes_tests.rs"]
mod aes_tests;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hex(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).expect("test hex")
    }
    fn k16(s: &str) -> [u8; 16] {
        hex(s).try_into().expect("16 bytes")
    }
    fn k8(s: &str) -> [u8; 8] {
        hex(s).try_into().expect("8 bytes")
    }

    /// Session state of ICAO 9303-11 Appendix D right after BAC (chip-profile.md).
    fn appendix_d_channel() -> SecureChannel {
        SecureChannel::new(
            SmKeys { k_enc: k16("979EC13B1CBFE9DCD01AB0FED307EAE5"), k_mac: k16("F1CB1F1FB5ADF208806B89DC579DC1F8") },
            k8("887022120C06C226"),
        )
    }

    #[test]
    fn appendix_d_session_keys_from_k_ifd_and_k_ic() {
        let k_ifd = hex("0B795240CB7049B01C19B33E32804F0B");
        let k_ic = hex("0B4F80323EB3191CB04970CB4052790B");
        let seed: [u8; 16] = std::array::from_fn(|i| k_ifd[i] ^ k_ic[i]);
        let keys = SmKeys::derive(&seed);
        assert_eq!(hex::encode_upper(keys.k_enc), "979EC13B1CBFE9DCD01AB0FED307EAE5");
        assert_eq!(hex::encode_upper(keys.k_mac), "F1CB1F1FB5ADF208806B89DC579DC1F8");
    }

    #[test]
    fn appendix_d_protected_apdus_host_and_card() {
        let mut host = appendix_d_channel();
        let mut card = appendix_d_channel();

        // SELECT EF.COM.
        let select = Command::select_ef(0x011E);
        let p = host.protect_command(&select).encode().unwrap();
        assert_eq!(hex::encode_upper(&p), "0CA4020C158709016375432908C044F68E08BF8B92D635FF24F800");
        let c = card.unprotect_command(&p).unwrap();
        assert_eq!(c, select);
        let answer = card.protect_response(&Response::status(StatusWord::Success));
        assert_eq!(hex::encode_upper(&answer), "990290008E08FA855A5D4C50A8ED9000");
        let r = host.unprotect_response(&answer).unwrap();
        assert_eq!(r, Response::status(StatusWord::Success));

        // READ BINARY 4 bytes.
        let rb = Command::read_binary(0, 4).unwrap();
        let p = host.protect_command(&rb).encode().unwrap();
        assert_eq!(hex::encode_upper(&p), "0CB000000D9701048E08ED6705417E96BA5500");
        assert_eq!(card.unprotect_command(&p).unwrap(), rb);
        let answer = card.protect_response(&Response::new(hex("60145F01"), StatusWord::Success));
        assert_eq!(hex::encode_upper(&answer), "8709019FF0EC34F9922651990290008E08AD55CC17140B2DED9000");
        let r = host.unprotect_response(&answer).unwrap();
        assert_eq!(hex::encode_upper(&r.data), "60145F01");
        assert!(r.is_success());

        // READ BINARY 18 bytes at offset 4.
        let rb = Command::read_binary(4, 18).unwrap();
        let p = host.protect_command(&rb).encode().unwrap();
        assert_eq!(hex::encode_upper(&p), "0CB000040D9701128E082EA28A70F3C7B53500");
        assert_eq!(card.unprotect_command(&p).unwrap(), rb);
        let answer = hex("871901FB9235F4E4037F2327DCC8964F1F9B8C30F42C8E2FFF224A990290008E08C8B2787EAEA07D749000");
        let r = host.unprotect_response(&answer).unwrap();
        assert_eq!(r.data.len(), 18);
        assert!(r.is_success());
        // The card side re-creates the same answer from the plain bytes.
        assert_eq!(card.protect_response(&r), answer);
        assert_eq!(host.ssc(), card.ssc());
        assert_eq!(hex::encode_upper(host.ssc()), "887022120C06C22C");
    }

    #[test]
    fn tampering_is_detected() {
        let mut host = appendix_d_channel();
        let _ = host.protect_command(&Command::select_ef(0x011E));
        let mut answer = hex("990290008E08FA855A5D4C50A8ED9000");
        answer[3] ^= 0x10; // the protected status word
        assert!(matches!(host.unprotect_response(&answer), Err(SmError::MacMismatch { .. })));

        // Card side: a flipped bit anywhere in the protected command is refused.
        let mut h2 = appendix_d_channel();
        let p = h2.protect_command(&Command::read_binary(0, 4).unwrap()).encode().unwrap();
        // The outer Le (last byte) is not covered by the MAC, as in ISO/IEC 7816-4; all else is.
        for i in 0..p.len() - 1 {
            let mut bad = p.clone();
            bad[i] ^= 0x01;
            let mut card = appendix_d_channel();
            assert!(card.unprotect_command(&bad).is_err(), "byte {i} flipped was accepted");
        }
    }

    #[test]
    fn bare_status_words() {
        let mut host = appendix_d_channel();
        let before = host.ssc();
        assert_eq!(host.unprotect_response(&hex("6A82")).unwrap().sw, StatusWord::FileNotFound);
        assert_eq!(host.ssc(), before, "bare status words do not move the ssc");
        assert_eq!(host.unprotect_response(&hex("9000")), Err(SmError::UnprotectedSuccess));
        assert_eq!(host.unprotect_response(&hex("90")), Err(SmError::ResponseTooShort(1)));
    }

    #[test]
    fn odd_ins_and_extended_round_trip() {
        let mut host = appendix_d_channel();
        let mut card = appendix_d_channel();
        let cmd = Command::read_binary_odd(40000, 1000);
        let p = host.protect_command(&cmd);
        assert_eq!(p.data[0], 0x85, "odd INS carries DO85");
        assert_eq!(p.le, Some(65536));
        assert_eq!(card.unprotect_command(&p.encode().unwrap()).unwrap(), cmd);
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7) as u8).collect();
        let answer = card.protect_response(&Response::new(tlv::encode(0x53, &data), StatusWord::Success));
        assert_eq!(answer[0], 0x85);
        let r = host.unprotect_response(&answer).unwrap();
        assert_eq!(crate::apdu::unwrap_odd_read(&r.data), Some(data));
    }

    #[test]
    fn protected_answers_fit_the_protected_le() {
        for le in [1usize, 100, 223, 231, 232, 256, 257, 1000] {
            let mut host = appendix_d_channel();
            let mut card = appendix_d_channel();
            let p = host.protect_command(&Command::read_binary(0, le).unwrap());
            let c = card.unprotect_command(&p.encode().unwrap()).unwrap();
            let answer = card.protect_response(&Response::new(vec![0x5A; le], StatusWord::Success));
            let protected_le = p.le.unwrap();
            assert!(answer.len() - 2 <= protected_le, "le {le}: {} bytes answer for protected le {protected_le}", answer.len() - 2);
            assert_eq!(protected_le == 256, le <= MAX_SHORT_PROTECTED_LE, "le {le}");
            assert_eq!(c.le, Some(le));
        }
    }

    #[test]
    fn padding() {
        assert_eq!(pad(&[]), hex("8000000000000000"));
        assert_eq!(pad(&hex("01020304050607")), hex("0102030405060780"));
        assert_eq!(unpad(&hex("0102030405060780")).unwrap(), hex("01020304050607"));
        assert!(unpad(&hex("0000000000000000")).is_err());
        assert!(unpad(&hex("0102030405060701")).is_err());
        assert_eq!(unpad(&hex("8000000000000000")).unwrap(), &[] as &[u8]);
    }

    #[test]
    fn debug_redacts_keys() {
        let ch = appendix_d_channel();
        let s = format!("{ch:?} {:?}", ch.keys());
        assert!(!s.contains("979E") && !s.contains("F1CB"), "{s}");
    }

    proptest! {
        #[test]
        fn unprotect_response_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut host = appendix_d_channel();
            let _ = host.unprotect_response(&bytes);
        }

        #[test]
        fn unprotect_command_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut card = appendix_d_channel();
            let _ = card.unprotect_command(&bytes);
        }

        #[test]
        fn structured_garbage_never_panics(tags in proptest::collection::vec((prop_oneof![Just(0x85u8), Just(0x87), Just(0x97), Just(0x99), Just(0x8E)], proptest::collection::vec(any::<u8>(), 0..40)), 0..5), sw in any::<u16>()) {
            let mut body = Vec::new();
            for (t, v) in &tags { body.extend_from_slice(&tlv::encode(*t as u32, v)); }
            body.extend_from_slice(&sw.to_be_bytes());
            let mut host = appendix_d_channel();
            let _ = host.unprotect_response(&body);
        }

        #[test]
        fn host_card_round_trip(ins in any::<u8>(), p1 in any::<u8>(), p2 in any::<u8>(),
                                data in proptest::collection::vec(any::<u8>(), 0..300),
                                le in proptest::option::of(1usize..=65536),
                                rdata in proptest::collection::vec(any::<u8>(), 0..300), sw in any::<u16>()) {
            let mut host = appendix_d_channel();
            let mut card = appendix_d_channel();
            let cmd = Command { cla: 0, ins, p1, p2, data, le };
            let p = host.protect_command(&cmd).encode().unwrap();
            prop_assert_eq!(card.unprotect_command(&p).unwrap(), cmd);
            let resp = Response::new(rdata, StatusWord::from_u16(sw));
            let a = card.protect_response(&resp);
            prop_assert_eq!(host.unprotect_response(&a).unwrap(), resp);
        }
    }
}

//! Secure messaging with 3DES as ICAO 9303-11 section 9.8 specifies it for BAC (and for PACE with
//! 3DES): key derivation (9.7.1), ISO/IEC 9797-1 MAC algorithm 3 ("retail MAC") with padding
//! method 2, two-key 3DES in CBC mode with a zero IV, and the protection of command and response
//! APDUs with DO'87' / DO'85' (cryptogram), DO'97' (Ne), DO'99' (status word) and DO'8E' (MAC)
//! under a send sequence counter. The host side ([`SecureChannel::protect_command`],
//! [`SecureChannel::unprotect_response`]) and the card side ([`SecureChannel::unprotect_command`],
//! [`SecureChannel::protect_response`], used by the emulator) share every building block, so
//! one worked example checks both. Block ciphers come from RustCrypto `des` / `cbc`; only the
//! ISO 9797-1 composition (CBC-MAC then the final decrypt/encrypt) is written here.
//!
//! SSC rule: the counter is incremented before protecting or verifying every command and every
//! protected response. A response made of a bare status word (no data objects) is not protected
//! and does not move the counter, on either side (JMRTD does the same); a card must therefore
//! answer a bare status word only through [`SecureChannel::plain_status`], and never a bare 9000.

use std::fmt;

use cbc::cipher::block_padding::NoPadding;
use cbc::cipher::{BlockDecrypt, BlockDecryptMut, BlockEncrypt, BlockEncryptMut, KeyInit, KeyIvInit};
use des::{Des, TdesEde2};
use p256::elliptic_curve::subtle::ConstantTimeEq;
use sha1::{Digest, Sha1};

use super::apdu::{ApduError, Command, Response, StatusWord, SHORT_MAX_DATA, SHORT_MAX_LE};
use idcheck_core::tlv;

/// Why a secure messaging APDU was refused. Offsets count from the first byte of the APDU body.
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
    MacMismatch { ssc: u64 },
    #[error("cryptogram of {0} bytes is not a non-zero multiple of 8")]
    CryptogramLength(usize),
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
    let mut out = Vec::with_capacity(data.len() + 8);
    out.extend_from_slice(data);
    out.push(0x80);
    while out.len() % 8 != 0 {
        out.push(0);
    }
    out
}

/// Remove padding method 2: trailing zeros, then the mandatory 0x80.
pub fn unpad(data: &[u8]) -> Result<&[u8], SmError> {
    let end = data.iter().rposition(|&b| b != 0).ok_or(SmError::BadPadding)?;
    match data.get(end) {
        Some(0x80) if data.len() - end <= 8 => Ok(&data[..end]),
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
    if !data.len().is_multiple_of(8) {
        return Err(SmError::CryptogramLength(data.len()));
    }
    let dec = cbc::Decryptor::<TdesEde2>::new(key.into(), &[0u8; 8].into());
    dec.decrypt_padded_vec_mut::<NoPadding>(data).map_err(|_| SmError::CryptogramLength(data.len()))
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
    keys: SmKeys,
    ssc: u64,
    /// Card side: INS of the last command unprotected, so the answer to an odd INS uses DO'85'.
    last_ins: Option<u8>,
}

impl fmt::Debug for SecureChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecureChannel").field("keys", &"REDACTED").field("ssc", &format_args!("{:016X}", self.ssc)).finish()
    }
}

/// Largest plain Ne whose protected answer (DO'87' of 3 + 1 + 232 bytes, DO'99', DO'8E') still
/// fits a short response of 256 bytes; a larger Ne makes the protected command extended.
pub const MAX_SHORT_PROTECTED_LE: usize = 231;

const TAG_CRYPTOGRAM_PI: u32 = 0x87;
const TAG_CRYPTOGRAM_TLV: u32 = 0x85;
const TAG_LE: u32 = 0x97;
const TAG_STATUS: u32 = 0x99;
const TAG_MAC: u32 = 0x8E;

impl SecureChannel {
    /// A session with these keys, the SSC set to `ssc` (big-endian, 8 bytes for 3DES).
    pub fn new(keys: SmKeys, ssc: [u8; 8]) -> Self {
        SecureChannel { keys, ssc: u64::from_be_bytes(ssc), last_ins: None }
    }

    /// The send sequence counter now.
    pub fn ssc(&self) -> [u8; 8] {
        self.ssc.to_be_bytes()
    }

    pub fn keys(&self) -> &SmKeys {
        &self.keys
    }

    fn next_ssc(&mut self) -> [u8; 8] {
        self.ssc = self.ssc.wrapping_add(1);
        self.ssc.to_be_bytes()
    }

    fn mac(&self, ssc: &[u8; 8], parts: &[&[u8]]) -> [u8; 8] {
        let mut m = Vec::with_capacity(8 + parts.iter().map(|p| p.len()).sum::<usize>());
        m.extend_from_slice(ssc);
        for p in parts {
            m.extend_from_slice(p);
        }
        retail_mac(&self.keys.k_mac, &m)
    }

    fn verify_mac(&self, ssc: &[u8; 8], parts: &[&[u8]], mac: &[u8]) -> Result<(), SmError> {
        if mac.len() != 8 {
            return Err(SmError::MacLength(mac.len()));
        }
        let expected = self.mac(ssc, parts);
        if bool::from(expected.ct_eq(mac)) {
            Ok(())
        } else {
            Err(SmError::MacMismatch { ssc: u64::from_be_bytes(*ssc) })
        }
    }

    /// DO'87' (even INS: padding-content indicator 01 + cryptogram) or DO'85' (odd INS: cryptogram
    /// of BER-TLV data), empty when there is no data.
    fn cryptogram_do(&self, data: &[u8], odd_ins: bool) -> Vec<u8> {
        if data.is_empty() {
            return Vec::new();
        }
        let enc = encrypt_3des(&self.keys.k_enc, &pad(data));
        if odd_ins {
            tlv::encode(TAG_CRYPTOGRAM_TLV, &enc)
        } else {
            let mut v = Vec::with_capacity(enc.len() + 1);
            v.push(0x01);
            v.extend_from_slice(&enc);
            tlv::encode(TAG_CRYPTOGRAM_PI, &v)
        }
    }

    fn decrypt_do(&self, tag: u32, value: &[u8]) -> Result<Vec<u8>, SmError> {
        let cryptogram = if tag == TAG_CRYPTOGRAM_PI {
            match value.split_first() {
                Some((0x01, rest)) => rest,
                Some((pi, _)) => return Err(SmError::PaddingIndicator(*pi)),
                None => return Err(SmError::CryptogramLength(0)),
            }
        } else {
            value
        };
        if cryptogram.is_empty() || cryptogram.len() % 8 != 0 {
            return Err(SmError::CryptogramLength(cryptogram.len()));
        }
        let plain = decrypt_3des(&self.keys.k_enc, cryptogram)?;
        Ok(unpad(&plain)?.to_vec())
    }

    // ---- host side ---------------------------------------------------------------------------

    /// Host: protect a plain command. The SSC is incremented first. The protected command always
    /// carries Le (`00`, or `0000` when it must be extended), as ICAO 9303-11 requires.
    pub fn protect_command(&mut self, cmd: &Command) -> Command {
        let ssc = self.next_ssc();
        let cla = cmd.cla | 0x0C;
        let header = pad(&[cla, cmd.ins, cmd.p1, cmd.p2]);
        let do87 = self.cryptogram_do(&cmd.data, cmd.ins & 1 == 1);
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
        let extended = cmd.le.is_some_and(|le| le > MAX_SHORT_PROTECTED_LE) || body.len() > SHORT_MAX_DATA;
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
            Some((tag, value)) => self.decrypt_do(tag, value)?,
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
        let header = pad(&[cmd.cla, cmd.ins, cmd.p1, cmd.p2]);
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
            Some((tag, value)) => self.decrypt_do(tag, value)?,
            None => Vec::new(),
        };
        Ok(Command { cla: cmd.cla & !0x0C, ins: cmd.ins, p1: cmd.p1, p2: cmd.p2, data, le })
    }

    /// Card: protect a response to the last command unprotected: DO'87' (DO'85' after an odd
    /// INS) when there is data, DO'99' with the status word, DO'8E', then the status word.
    pub fn protect_response(&mut self, resp: &Response) -> Vec<u8> {
        let ssc = self.next_ssc();
        let odd = self.last_ins.is_some_and(|ins| ins & 1 == 1);
        let mut body = self.cryptogram_do(&resp.data, odd);
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

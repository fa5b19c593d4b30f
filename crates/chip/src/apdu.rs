//! ISO/IEC 7816-4 command and response APDUs: [`Command`] with short and extended length
//! encoding (and the card-side parser), [`Response`] with its [`StatusWord`], and one constructor
//! per command the eMRTD reader sends, named after the standard. Section numbers refer to
//! ISO/IEC 7816-4:2020 where given; ICAO 9303-11 says how eMRTDs use the commands. Nothing here
//! talks to a card: see `link` for the exchange rules (GET RESPONSE, 6CXX).

use std::fmt;

/// The eMRTD application identifier (ICAO 9303-10, chip-profile.md).
pub const EMRTD_AID: [u8; 7] = [0xA0, 0x00, 0x00, 0x02, 0x47, 0x10, 0x01];

/// Largest Nc / Ne of a short APDU.
pub const SHORT_MAX_DATA: usize = 255;
pub const SHORT_MAX_LE: usize = 256;
/// Largest Nc / Ne of an extended APDU.
pub const EXTENDED_MAX_DATA: usize = 65535;
pub const EXTENDED_MAX_LE: usize = 65536;

/// Why an APDU cannot be encoded or parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApduError {
    #[error("command data of {0} bytes exceeds the 65535-byte extended-length limit")]
    DataTooLong(usize),
    #[error("le {0} is out of range (1..=65536)")]
    LeOutOfRange(usize),
    #[error("command of {len} bytes does not fit a short apdu (nc {nc}, ne {ne:?})")]
    NotShort { len: usize, nc: usize, ne: Option<usize> },
    #[error("command apdu of {0} bytes is shorter than the 4-byte header")]
    CommandTooShort(usize),
    #[error("command apdu: {0}")]
    CommandMalformed(String),
    #[error("response apdu of {0} bytes has no status word")]
    ResponseTooShort(usize),
}

/// A command APDU. `le` is Ne, the number of response bytes expected: `Some(256)` is encoded as a
/// short `00`, `Some(65536)` as an extended `0000`; `None` means no Le field.
#[derive(Clone, PartialEq, Eq)]
pub struct Command {
    pub cla: u8,
    pub ins: u8,
    pub p1: u8,
    pub p2: u8,
    pub data: Vec<u8>,
    pub le: Option<usize>,
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Command data may carry personal data or key material: lengths only.
        write!(
            f,
            "Command({:02X} {:02X} {:02X} {:02X}, {} data bytes, le {:?})",
            self.cla,
            self.ins,
            self.p1,
            self.p2,
            self.data.len(),
            self.le
        )
    }
}

impl Command {
    pub fn new(cla: u8, ins: u8, p1: u8, p2: u8) -> Self {
        Command { cla, ins, p1, p2, data: Vec::new(), le: None }
    }

    pub fn with_data(mut self, data: impl Into<Vec<u8>>) -> Self {
        self.data = data.into();
        self
    }

    pub fn with_le(mut self, le: usize) -> Self {
        self.le = Some(le);
        self
    }

    /// True when the command needs extended length (Nc > 255 or Ne > 256).
    pub fn needs_extended(&self) -> bool {
        self.data.len() > SHORT_MAX_DATA || self.le.is_some_and(|le| le > SHORT_MAX_LE)
    }

    /// Encode: short when it fits, extended otherwise.
    pub fn encode(&self) -> Result<Vec<u8>, ApduError> {
        if self.needs_extended() {
            self.encode_extended()
        } else {
            self.encode_short()
        }
    }

    /// Encode as a short APDU (cases 1, 2S, 3S, 4S).
    pub fn encode_short(&self) -> Result<Vec<u8>, ApduError> {
        if self.needs_extended() {
            return Err(ApduError::NotShort { len: 4 + self.data.len(), nc: self.data.len(), ne: self.le });
        }
        if let Some(0) = self.le {
            return Err(ApduError::LeOutOfRange(0));
        }
        let mut out = Vec::with_capacity(6 + self.data.len());
        out.extend_from_slice(&[self.cla, self.ins, self.p1, self.p2]);
        if !self.data.is_empty() {
            out.push(self.data.len() as u8);
            out.extend_from_slice(&self.data);
        }
        if let Some(le) = self.le {
            out.push((le % 256) as u8);
        }
        Ok(out)
    }

    /// Encode as an extended APDU (cases 2E, 3E, 4E); a case-1 command has no length field at all.
    pub fn encode_extended(&self) -> Result<Vec<u8>, ApduError> {
        if self.data.len() > EXTENDED_MAX_DATA {
            return Err(ApduError::DataTooLong(self.data.len()));
        }
        if let Some(le) = self.le {
            if le == 0 || le > EXTENDED_MAX_LE {
                return Err(ApduError::LeOutOfRange(le));
            }
        }
        let mut out = Vec::with_capacity(9 + self.data.len());
        out.extend_from_slice(&[self.cla, self.ins, self.p1, self.p2]);
        if self.data.is_empty() && self.le.is_none() {
            return Ok(out);
        }
        out.push(0x00);
        if !self.data.is_empty() {
            out.extend_from_slice(&(self.data.len() as u16).to_be_bytes());
            out.extend_from_slice(&self.data);
        }
        if let Some(le) = self.le {
            out.extend_from_slice(&((le % 65536) as u16).to_be_bytes());
        }
        Ok(out)
    }

    /// Parse a command APDU (card side). Accepts every case of ISO/IEC 7816-3 12.1 short and
    /// extended; refuses anything else without panicking.
    pub fn parse(bytes: &[u8]) -> Result<Command, ApduError> {
        let (header, body) = match bytes.split_first_chunk::<4>() {
            Some(x) => x,
            None => return Err(ApduError::CommandTooShort(bytes.len())),
        };
        let [cla, ins, p1, p2] = *header;
        let mut cmd = Command::new(cla, ins, p1, p2);
        let bad = |m: &str| ApduError::CommandMalformed(format!("{m} ({} bytes after the header)", body.len()));
        match body {
            [] => {}
            // Case 2S.
            [le] => cmd.le = Some(if *le == 0 { 256 } else { *le as usize }),
            [0x00, rest @ ..] if rest.len() >= 2 => {
                // Extended: 00 then either Le(2) or Lc(2) data [Le(2)].
                let n = u16::from_be_bytes([rest[0], rest[1]]) as usize;
                let after = &rest[2..];
                if after.is_empty() {
                    cmd.le = Some(if n == 0 { 65536 } else { n });
                } else {
                    if n == 0 {
                        return Err(bad("extended lc of 0"));
                    }
                    if after.len() == n {
                        cmd.data = after.to_vec();
                    } else if after.len() == n + 2 {
                        cmd.data = after[..n].to_vec();
                        let le = u16::from_be_bytes([after[n], after[n + 1]]) as usize;
                        cmd.le = Some(if le == 0 { 65536 } else { le });
                    } else {
                        return Err(bad("extended lc does not match the data"));
                    }
                }
            }
            [lc, rest @ ..] => {
                let n = *lc as usize;
                if n == 0 {
                    return Err(bad("short lc of 0"));
                }
                if rest.len() == n {
                    cmd.data = rest.to_vec();
                } else if rest.len() == n + 1 {
                    cmd.data = rest[..n].to_vec();
                    let le = rest[n];
                    cmd.le = Some(if le == 0 { 256 } else { le as usize });
                } else {
                    return Err(bad("short lc does not match the data"));
                }
            }
        }
        Ok(cmd)
    }

    // ---- The commands of an eMRTD read -------------------------------------------------------

    /// ISO/IEC 7816-4:2020 11.2.2 SELECT by DF name (P1 04), no response data (P2 0C): selects an
    /// application by its AID, as ICAO 9303-10 asks for the eMRTD application.
    pub fn select_application(aid: &[u8]) -> Command {
        Command::new(0x00, 0xA4, 0x04, 0x0C).with_data(aid.to_vec())
    }

    /// ISO/IEC 7816-4:2020 11.2.2 SELECT EF under the current DF by file identifier (P1 02), no
    /// response data (P2 0C). The form of the ICAO 9303-11 Appendix D worked example.
    pub fn select_ef(fid: u16) -> Command {
        Command::new(0x00, 0xA4, 0x02, 0x0C).with_data(fid.to_be_bytes().to_vec())
    }

    /// ISO/IEC 7816-4:2020 11.2.2 SELECT the MF (P1 00, FID 3F00), no response data.
    pub fn select_master_file() -> Command {
        Command::new(0x00, 0xA4, 0x00, 0x0C).with_data(vec![0x3F, 0x00])
    }

    /// ISO/IEC 7816-4:2020 11.3.3 READ BINARY (INS B0) of the current EF at a 15-bit offset.
    /// Returns `None` when the offset does not fit (use [`Command::read_binary_odd`] past 32767).
    pub fn read_binary(offset: usize, le: usize) -> Option<Command> {
        if offset > 0x7FFF {
            return None;
        }
        Some(Command::new(0x00, 0xB0, (offset >> 8) as u8, (offset & 0xFF) as u8).with_le(le))
    }

    /// ISO/IEC 7816-4:2020 11.3.3 READ BINARY (INS B0) selecting the EF by short EF identifier
    /// (P1 = 80 | SFI, P2 = offset 0..=255). `None` for an SFI outside 1..=30 or a larger offset.
    pub fn read_binary_sfi(sfi: u8, offset: usize, le: usize) -> Option<Command> {
        if !(1..=30).contains(&sfi) || offset > 0xFF {
            return None;
        }
        Some(Command::new(0x00, 0xB0, 0x80 | sfi, offset as u8).with_le(le))
    }

    /// ISO/IEC 7816-4:2020 11.3.3 READ BINARY with odd INS (B1) on the current EF (P1-P2 0000):
    /// the offset travels in the data field as DO 54, so offsets past 32767 can be read. The
    /// answer wraps the bytes read in DO 53 (see [`unwrap_odd_read`]).
    pub fn read_binary_odd(offset: usize, le: usize) -> Command {
        let off = offset.min(0xFF_FFFF) as u32;
        let mut v = off.to_be_bytes().to_vec();
        // Minimal big-endian encoding, at least one byte.
        while v.len() > 1 && v[0] == 0 {
            v.remove(0);
        }
        let mut data = vec![0x54, v.len() as u8];
        data.extend_from_slice(&v);
        Command::new(0x00, 0xB1, 0x00, 0x00).with_data(data).with_le(le)
    }

    /// ISO/IEC 7816-4 GET CHALLENGE (INS 84) for `len` bytes; ICAO 9303-11 4.3 asks for 8.
    pub fn get_challenge(len: usize) -> Command {
        Command::new(0x00, 0x84, 0x00, 0x00).with_le(len)
    }

    /// ISO/IEC 7816-4 EXTERNAL AUTHENTICATE (INS 82), used by ICAO 9303-11 4.3 as the BAC
    /// MUTUAL AUTHENTICATE: data E.IFD || M.IFD (40 bytes), answer E.IC || M.IC (40 bytes).
    pub fn mutual_authenticate(e_ifd_m_ifd: &[u8]) -> Command {
        Command::new(0x00, 0x82, 0x00, 0x00).with_data(e_ifd_m_ifd.to_vec()).with_le(40)
    }

    /// ISO/IEC 7816-4:2020 11.5.11 MANAGE SECURITY ENVIRONMENT, Set (P1 C1: for internal and
    /// external authentication) of the authentication template (P2 A4), as ICAO 9303-11 4.4.4.1
    /// starts PACE: data 80 protocol OID, 83 password reference, optionally 84 domain parameter id.
    pub fn mse_set_at_pace(data: &[u8]) -> Command {
        Command::new(0x00, 0x22, 0xC1, 0xA4).with_data(data.to_vec())
    }

    /// ISO/IEC 7816-4:2020 11.5.11 MANAGE SECURITY ENVIRONMENT, Set (P1 41: for internal
    /// authentication and key agreement) of the authentication template (P2 A4): Chip
    /// Authentication with AES, ICAO 9303-11 6.2.4.2 (data 80 protocol OID, optionally 84 key id).
    pub fn mse_set_at_chip_authentication(data: &[u8]) -> Command {
        Command::new(0x00, 0x22, 0x41, 0xA4).with_data(data.to_vec())
    }

    /// ISO/IEC 7816-4:2020 11.5.11 MANAGE SECURITY ENVIRONMENT, Set (P1 41) of the key agreement
    /// template (P2 A6): Chip Authentication with 3DES, ICAO 9303-11 6.2.4.1 (data 91 ephemeral
    /// public key, optionally 84 key id).
    pub fn mse_set_kat(data: &[u8]) -> Command {
        Command::new(0x00, 0x22, 0x41, 0xA6).with_data(data.to_vec())
    }

    /// ISO/IEC 7816-4:2020 11.5.5 GENERAL AUTHENTICATE (INS 86) with dynamic authentication data
    /// (DO 7C), ICAO 9303-11 4.4.4.2. `chained`: command chaining (CLA bit b5, ISO/IEC 7816-4 5.3.3)
    /// for every step but the last of a protocol.
    pub fn general_authenticate(data: &[u8], chained: bool) -> Command {
        Command::new(if chained { 0x10 } else { 0x00 }, 0x86, 0x00, 0x00).with_data(data.to_vec()).with_le(256)
    }

    /// ISO/IEC 7816-4:2020 11.5.4 INTERNAL AUTHENTICATE (INS 88), ICAO 9303-11 6.1 Active
    /// Authentication: the 8-byte challenge in, the chip's signature out.
    pub fn internal_authenticate(challenge: &[u8]) -> Command {
        Command::new(0x00, 0x88, 0x00, 0x00).with_data(challenge.to_vec()).with_le(256)
    }

    /// ISO/IEC 7816-4 GET RESPONSE (INS C0): fetch the `le` bytes a 61XX status announced.
    pub fn get_response(le: usize) -> Command {
        Command::new(0x00, 0xC0, 0x00, 0x00).with_le(le.clamp(1, SHORT_MAX_LE))
    }
}

/// The bytes read by an odd-INS READ BINARY: the value of DO 53 (the whole answer when the card
/// sent none, as some do). `None` when the answer is not a well-formed DO 53.
pub fn unwrap_odd_read(data: &[u8]) -> Option<Vec<u8>> {
    if data.is_empty() {
        return Some(Vec::new());
    }
    let t = idcheck_core::tlv::parse_single(data, 0x53).ok()?;
    Some(t.value.to_vec())
}

/// A response APDU: data and status word.
#[derive(Clone, PartialEq, Eq)]
pub struct Response {
    pub data: Vec<u8>,
    pub sw: StatusWord,
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Data may be personal data (chip files): length only.
        write!(f, "Response({} data bytes, sw {})", self.data.len(), self.sw)
    }
}

impl Response {
    pub fn new(data: impl Into<Vec<u8>>, sw: StatusWord) -> Self {
        Response { data: data.into(), sw }
    }

    /// A response with no data.
    pub fn status(sw: StatusWord) -> Self {
        Response { data: Vec::new(), sw }
    }

    /// Split response bytes into data and status word.
    pub fn from_bytes(bytes: &[u8]) -> Result<Response, ApduError> {
        match bytes.split_last_chunk::<2>() {
            Some((data, sw)) => Ok(Response { data: data.to_vec(), sw: StatusWord::from_u16(u16::from_be_bytes(*sw)) }),
            None => Err(ApduError::ResponseTooShort(bytes.len())),
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.data.len() + 2);
        out.extend_from_slice(&self.data);
        out.extend_from_slice(&self.sw.to_u16().to_be_bytes());
        out
    }

    pub fn is_success(&self) -> bool {
        self.sw == StatusWord::Success
    }
}

/// ISO/IEC 7816-4 status words an eMRTD reader meets, with a fallback for the rest. Every `u16`
/// maps to exactly one variant and back ([`StatusWord::from_u16`], [`StatusWord::to_u16`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusWord {
    /// 9000 normal processing.
    Success,
    /// 61XX: XX more response bytes available with GET RESPONSE (00 means 256 or more).
    BytesRemaining(u8),
    /// 6281 part of the returned data may be corrupted.
    CorruptedData,
    /// 6282 end of file reached before reading Ne bytes.
    EndOfFileWarning,
    /// 6300 verification / authentication failed.
    VerificationFailed,
    /// 6581 memory failure.
    MemoryFailure,
    /// 6700 wrong length.
    WrongLength,
    /// 6882 secure messaging not supported.
    SecureMessagingNotSupported,
    /// 6982 security status not satisfied.
    SecurityNotSatisfied,
    /// 6983 authentication method blocked.
    AuthMethodBlocked,
    /// 6984 reference data not usable.
    ReferenceDataNotUsable,
    /// 6985 conditions of use not satisfied.
    ConditionsNotSatisfied,
    /// 6986 command not allowed (no current EF).
    CommandNotAllowed,
    /// 6987 expected secure messaging data objects missing.
    SmDataObjectsMissing,
    /// 6988 incorrect secure messaging data objects.
    SmDataObjectsIncorrect,
    /// 6A80 incorrect parameters in the command data field.
    IncorrectData,
    /// 6A81 function not supported.
    FunctionNotSupported,
    /// 6A82 file or application not found.
    FileNotFound,
    /// 6A86 incorrect parameters P1-P2.
    IncorrectP1P2,
    /// 6A88 referenced data not found.
    ReferencedDataNotFound,
    /// 6B00 wrong parameters P1-P2 (offset outside the EF).
    WrongParameters,
    /// 6CXX wrong Le: XX is the exact number of available bytes (00 means 256).
    WrongLe(u8),
    /// 6D00 instruction not supported.
    InsNotSupported,
    /// 6E00 class not supported.
    ClaNotSupported,
    /// 6F00 no precise diagnosis.
    NoPreciseDiagnosis,
    /// Any other status word.
    Other(u16),
}

impl StatusWord {
    pub fn from_u16(sw: u16) -> StatusWord {
        use StatusWord::*;
        match sw {
            0x9000 => Success,
            0x6100..=0x61FF => BytesRemaining((sw & 0xFF) as u8),
            0x6281 => CorruptedData,
            0x6282 => EndOfFileWarning,
            0x6300 => VerificationFailed,
            0x6581 => MemoryFailure,
            0x6700 => WrongLength,
            0x6882 => SecureMessagingNotSupported,
            0x6982 => SecurityNotSatisfied,
            0x6983 => AuthMethodBlocked,
            0x6984 => ReferenceDataNotUsable,
            0x6985 => ConditionsNotSatisfied,
            0x6986 => CommandNotAllowed,
            0x6987 => SmDataObjectsMissing,
            0x6988 => SmDataObjectsIncorrect,
            0x6A80 => IncorrectData,
            0x6A81 => FunctionNotSupported,
            0x6A82 => FileNotFound,
            0x6A86 => IncorrectP1P2,
            0x6A88 => ReferencedDataNotFound,
            0x6B00 => WrongParameters,
            0x6C00..=0x6CFF => WrongLe((sw & 0xFF) as u8),
            0x6D00 => InsNotSupported,
            0x6E00 => ClaNotSupported,
            0x6F00 => NoPreciseDiagnosis,
            other => Other(other),
        }
    }

    pub fn to_u16(self) -> u16 {
        use StatusWord::*;
        match self {
            Success => 0x9000,
            BytesRemaining(n) => 0x6100 | n as u16,
            CorruptedData => 0x6281,
            EndOfFileWarning => 0x6282,
            VerificationFailed => 0x6300,
            MemoryFailure => 0x6581,
            WrongLength => 0x6700,
            SecureMessagingNotSupported => 0x6882,
            SecurityNotSatisfied => 0x6982,
            AuthMethodBlocked => 0x6983,
            ReferenceDataNotUsable => 0x6984,
            ConditionsNotSatisfied => 0x6985,
            CommandNotAllowed => 0x6986,
            SmDataObjectsMissing => 0x6987,
            SmDataObjectsIncorrect => 0x6988,
            IncorrectData => 0x6A80,
            FunctionNotSupported => 0x6A81,
            FileNotFound => 0x6A82,
            IncorrectP1P2 => 0x6A86,
            ReferencedDataNotFound => 0x6A88,
            WrongParameters => 0x6B00,
            WrongLe(n) => 0x6C00 | n as u16,
            InsNotSupported => 0x6D00,
            ClaNotSupported => 0x6E00,
            NoPreciseDiagnosis => 0x6F00,
            Other(sw) => sw,
        }
    }

    /// The two status bytes.
    pub fn to_bytes(self) -> [u8; 2] {
        self.to_u16().to_be_bytes()
    }

    /// What the status word means, lower case.
    pub fn meaning(self) -> &'static str {
        use StatusWord::*;
        match self {
            Success => "success",
            BytesRemaining(_) => "more response bytes available",
            CorruptedData => "returned data may be corrupted",
            EndOfFileWarning => "end of file reached before le bytes",
            VerificationFailed => "verification failed",
            MemoryFailure => "memory failure",
            WrongLength => "wrong length",
            SecureMessagingNotSupported => "secure messaging not supported",
            SecurityNotSatisfied => "security status not satisfied",
            AuthMethodBlocked => "authentication method blocked",
            ReferenceDataNotUsable => "reference data not usable",
            ConditionsNotSatisfied => "conditions of use not satisfied",
            CommandNotAllowed => "command not allowed",
            SmDataObjectsMissing => "secure messaging data objects missing",
            SmDataObjectsIncorrect => "secure messaging data objects incorrect",
            IncorrectData => "incorrect data",
            FunctionNotSupported => "function not supported",
            FileNotFound => "file or application not found",
            IncorrectP1P2 => "incorrect parameters p1-p2",
            ReferencedDataNotFound => "referenced data not found",
            WrongParameters => "wrong parameters p1-p2",
            WrongLe(_) => "wrong le",
            InsNotSupported => "instruction not supported",
            ClaNotSupported => "class not supported",
            NoPreciseDiagnosis => "no precise diagnosis",
            Other(_) => "unknown status",
        }
    }
}

impl fmt::Display for StatusWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04X} ({})", self.to_u16(), self.meaning())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hex(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).expect("test hex")
    }

    #[test]
    fn short_cases_encode() {
        assert_eq!(Command::select_application(&EMRTD_AID).encode().unwrap(), hex("00A4040C07A0000002471001"));
        assert_eq!(Command::get_challenge(8).encode().unwrap(), hex("0084000008"));
        assert_eq!(Command::read_binary_sfi(0x1E, 0, 4).unwrap().encode().unwrap(), hex("00B09E0004"));
        assert_eq!(Command::read_binary(0x7FFF, 256).unwrap().encode().unwrap(), hex("00B07FFF00"));
        assert_eq!(Command::new(0, 0x84, 0, 0).encode().unwrap(), hex("00840000"));
        assert!(Command::read_binary(0x8000, 1).is_none());
        assert!(Command::read_binary_sfi(31, 0, 1).is_none());
        assert!(Command::read_binary_sfi(1, 256, 1).is_none());
    }

    #[test]
    fn extended_cases_encode() {
        assert_eq!(Command::read_binary(4, 1000).unwrap().encode().unwrap(), hex("00B00004 00 03E8"));
        assert_eq!(Command::read_binary(4, 65536).unwrap().encode().unwrap(), hex("00B00004 00 0000"));
        let c = Command::new(0, 0xD6, 0, 0).with_data(vec![7u8; 300]).with_le(300);
        let e = c.encode().unwrap();
        assert_eq!(&e[4..7], &[0x00, 0x01, 0x2C]);
        assert_eq!(&e[e.len() - 2..], &[0x01, 0x2C]);
        assert_eq!(Command::parse(&e).unwrap(), c);
        assert!(c.encode_short().is_err());
    }

    #[test]
    fn odd_read_binary_carries_do54() {
        let c = Command::read_binary_odd(0x8000, 223);
        assert_eq!(c.encode().unwrap(), hex("00B1000004 5402 8000 DF"));
        assert_eq!(Command::read_binary_odd(0x01_0000, 10).data, hex("5403010000"));
        assert_eq!(unwrap_odd_read(&hex("5303AABBCC")), Some(hex("AABBCC")));
        assert_eq!(unwrap_odd_read(&hex("5305AABB")), None);
    }

    #[test]
    fn status_words_round_trip_everywhere() {
        for sw in 0..=u16::MAX {
            assert_eq!(StatusWord::from_u16(sw).to_u16(), sw);
        }
        assert_eq!(StatusWord::from_u16(0x6C10), StatusWord::WrongLe(0x10));
        assert_eq!(StatusWord::from_u16(0x6A82).to_string(), "6A82 (file or application not found)");
    }

    #[test]
    fn response_split() {
        let r = Response::from_bytes(&hex("0102 9000")).unwrap();
        assert_eq!(r.data, vec![1, 2]);
        assert!(r.is_success());
        assert_eq!(r.to_bytes(), hex("01029000"));
        assert!(Response::from_bytes(&[0x90]).is_err());
        assert!(!format!("{r:?}").contains("01"), "debug must not print data");
    }

    proptest! {
        #[test]
        fn command_parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = Command::parse(&bytes);
        }

        #[test]
        fn command_round_trips(cla in any::<u8>(), ins in any::<u8>(), p1 in any::<u8>(), p2 in any::<u8>(),
                               data in proptest::collection::vec(any::<u8>(), 0..400),
                               le in proptest::option::of(1usize..=65536)) {
            let c = Command { cla, ins, p1, p2, data, le };
            let e = c.encode().unwrap();
            prop_assert_eq!(Command::parse(&e).unwrap(), c);
        }
    }
}

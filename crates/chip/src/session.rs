//! A card session as a typestate: `Session<Plain>` (just connected) can read EF.ATR/INFO and
//! select the eMRTD application, giving `Session<Selected>`, which can authenticate with an
//! [`AccessControl`] (BAC; PACE later), giving `Session<Secured>`. Only a secured session reads
//! files (`read_file`, in `read`), so no code path can read a data group in plain. The session
//! owns the exchange layer ([`Link`]) and the card capabilities found on the way.

use super::access::{AccessControl, Randomness};
use super::apdu::{Command, Response, StatusWord, EMRTD_AID};
use super::failure::{ReadFailure, ReadFailureKind, ReadStep};
use super::link::{IoCounters, Link};
use super::options::{ChunkPolicy, ExtendedLength, ReadOptions};
use super::sm::SecureChannel;
use super::pace::PaceSetup;
use super::pace_link::PaceRun;
use super::transport::Transport;
use idcheck_core::lds::FileId;
use idcheck_core::tlv;

/// Just connected: nothing selected, no secure messaging.
#[derive(Debug)]
pub struct Plain;

/// The eMRTD application is selected; access control not done yet.
#[derive(Debug)]
pub struct Selected;

/// PACE done in the master file (ICAO 9303-11 4.2: before the application is selected): every
/// APDU goes through secure messaging; the eMRTD application is selected next, protected.
#[derive(Debug)]
pub struct PaceSecured {
    channel: SecureChannel,
}

/// What [`Session::<Plain>::try_pace`] gives.
pub enum PaceAttempt<'t> {
    Secured(Session<'t, PaceSecured>),
    /// The chip refused the PACE protocol (MSE:Set AT); the plain session, for BAC.
    Refused(Session<'t, Plain>, ReadFailure),
}

/// Access control done: every APDU goes through secure messaging.
#[derive(Debug)]
pub struct Secured {
    pub(super) channel: SecureChannel,
    pub(super) chunk: ChunkPolicy,
    /// The chip refused short EF identifiers once: select files by FID from then on.
    pub(super) select_by_fid: bool,
    pub(super) protocol: &'static str,
    /// An extended-length probe was refused: the session may be out of step (see `read`).
    pub(super) probe_refused: bool,
}

/// Where the extended-length knowledge came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CapabilitySource {
    /// Nothing known: short APDUs only.
    #[default]
    Unknown,
    /// EF.ATR/INFO (card capabilities DO'47', extended length information DO'7F66').
    AtrInfo,
    /// An extended-length READ BINARY was tried.
    Probe,
}

/// What the card says it can do with APDU lengths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CardCapabilities {
    pub extended_length: bool,
    /// Largest command APDU (bytes), from DO'7F66'.
    pub max_command: Option<usize>,
    /// Largest response APDU (bytes), from DO'7F66'.
    pub max_response: Option<usize>,
    pub source: CapabilitySource,
}

/// A card session in state `S`.
pub struct Session<'t, S> {
    pub(super) link: Link<'t>,
    pub(super) opts: ReadOptions,
    pub(super) caps: CardCapabilities,
    pub(super) state: S,
}

impl<S> Session<'_, S> {
    /// What went over the transport so far.
    pub fn counters(&self) -> IoCounters {
        self.link.counters()
    }

    pub fn capabilities(&self) -> CardCapabilities {
        self.caps
    }

    pub fn options(&self) -> &ReadOptions {
        &self.opts
    }
}

impl<'t> Session<'t, Plain> {
    pub fn new(transport: &'t mut dyn Transport, opts: &ReadOptions) -> Self {
        Session { link: Link::new(transport), opts: opts.clone(), caps: CardCapabilities::default(), state: Plain }
    }

    /// Read EF.ATR/INFO (short EF identifier 01 of the MF, before the application is selected)
    /// for the extended-length capabilities. A card without it (any error status) keeps short
    /// APDUs; only a transport failure fails the step.
    pub fn read_atr_info(&mut self) -> Result<CardCapabilities, ReadFailure> {
        let step = ReadStep::ReadAtrInfo;
        let cmd = Command::read_binary_sfi(0x01, 0, 256).ok_or_else(|| ReadFailure::new(step, ReadFailureKind::HostFault))?;
        let r = match self.link.send(&cmd) {
            Ok(r) => r,
            Err(super::link::LinkError::Response(_)) => return Ok(self.caps),
            Err(e) => return Err(ReadFailure::from_link(step, &e)),
        };
        if matches!(r.sw, StatusWord::Success | StatusWord::EndOfFileWarning) {
            if let Some(caps) = parse_atr_info(&r.data) {
                self.caps = caps;
            }
        }
        Ok(self.caps)
    }

    /// Read EF.CardAccess (short EF identifier 1C of the master file, plain, ICAO 9303-11 4.2)
    /// whole. `None` when the chip has none (any error status); only a transport failure or an
    /// answer of the wrong shape fails the step.
    pub fn read_card_access(&mut self) -> Result<Option<Vec<u8>>, ReadFailure> {
        const LIMIT: usize = 4096;
        let step = ReadStep::ReadCardAccess;
        let cmd = Command::read_binary_sfi(0x1C, 0, 256).ok_or_else(|| ReadFailure::new(step, ReadFailureKind::HostFault))?;
        let r = self.link.send(&cmd).map_err(|e| ReadFailure::from_link(step, &e))?;
        if !matches!(r.sw, StatusWord::Success | StatusWord::EndOfFileWarning) || r.data.is_empty() {
            return Ok(None);
        }
        let mut bytes = r.data;
        let total = match header_total(&bytes) {
            Ok(Header::Total(t)) => t,
            Ok(Header::Need(_)) => return Err(ReadFailure::malformed(step, "ef.cardaccess answer too short for its tlv header")),
            Err(e) => return Err(ReadFailure::malformed(step, format!("ef.cardaccess: {e}"))),
        };
        if total > LIMIT {
            return Err(ReadFailure::new(step, ReadFailureKind::FileTooLarge(FileId::CardAccess))
                .with_detail(format!("header announces {total} bytes, at most {LIMIT} allowed")));
        }
        while bytes.len() < total {
            let want = (total - bytes.len()).min(256);
            let cmd = Command::read_binary(bytes.len(), want).ok_or_else(|| ReadFailure::new(step, ReadFailureKind::HostFault))?;
            let r = self.link.send(&cmd).map_err(|e| ReadFailure::from_link(step, &e))?;
            if !matches!(r.sw, StatusWord::Success | StatusWord::EndOfFileWarning) || r.data.is_empty() {
                return Err(ReadFailure::new(step, ReadFailureKind::FileTruncated(FileId::CardAccess))
                    .with_sw(r.sw)
                    .with_detail(format!("{} of {total} bytes read", bytes.len())));
            }
            bytes.extend_from_slice(&r.data);
        }
        bytes.truncate(total);
        Ok(Some(bytes))
    }

    /// Run PACE in the master file (before SELECT of the application).
    pub fn try_pace(mut self, setup: PaceSetup, rng: &mut dyn Randomness) -> Result<PaceAttempt<'t>, ReadFailure> {
        match super::pace_link::run(&mut self.link, setup, rng)? {
            PaceRun::Done(channel) => Ok(PaceAttempt::Secured(Session {
                link: self.link,
                opts: self.opts,
                caps: self.caps,
                state: PaceSecured { channel },
            })),
            PaceRun::Refused(f) => Ok(PaceAttempt::Refused(self, f)),
        }
    }

    /// SELECT the eMRTD application (AID A0000002471001).
    pub fn select_application(mut self) -> Result<Session<'t, Selected>, ReadFailure> {
        let step = ReadStep::SelectApplication;
        let select = Command::select_application(&EMRTD_AID);
        let mut r = self.link.send(&select).map_err(|e| ReadFailure::from_link(step, &e))?;
        if matches!(r.sw, StatusWord::SmDataObjectsMissing | StatusWord::SmDataObjectsIncorrect) {
            // A plain command ends a secure messaging session left over from an earlier attempt;
            // chips that answer it with an SM error select on the next try.
            r = self.link.send(&select).map_err(|e| ReadFailure::from_link(step, &e).with_retries(1))?;
        }
        if !r.is_success() {
            return Err(ReadFailure::new(step, ReadFailureKind::ApplicationMissing).with_sw(r.sw));
        }
        Ok(Session { link: self.link, opts: self.opts, caps: self.caps, state: Selected })
    }
}

impl<'t> Session<'t, PaceSecured> {
    /// SELECT the eMRTD application under the PACE secure messaging.
    pub fn select_application(mut self) -> Result<Session<'t, Secured>, ReadFailure> {
        let step = ReadStep::SelectApplication;
        let select = Command::select_application(&EMRTD_AID);
        let r = self.link.send_secure(&mut self.state.channel, &select).map_err(|e| ReadFailure::from_link(step, &e))?;
        if !r.is_success() {
            return Err(ReadFailure::new(step, ReadFailureKind::ApplicationMissing).with_sw(r.sw));
        }
        let channel = self.state.channel;
        Ok(secured(self.link, self.opts, self.caps, channel, "PACE"))
    }
}

impl<'t> Session<'t, Selected> {
    /// Run the access control protocol and enter secure messaging.
    pub fn authenticate(mut self, ac: &dyn AccessControl, rng: &mut dyn Randomness) -> Result<Session<'t, Secured>, ReadFailure> {
        let channel = ac.establish(&mut self.link, rng)?;
        Ok(secured(self.link, self.opts, self.caps, channel, ac.protocol()))
    }
}

/// The secured session: the chunk policy from the capabilities found.
fn secured<'t>(link: Link<'t>, opts: ReadOptions, caps: CardCapabilities, channel: SecureChannel, protocol: &'static str) -> Session<'t, Secured> {
    {
        let chunk = if caps.extended_length {
            ChunkPolicy::new(opts.extended_chunk_for(caps.max_response))
        } else if opts.extended_length == ExtendedLength::Probe {
            // The first long read tries extended length; `read` falls back on refusal.
            ChunkPolicy::probing(opts.extended_chunk_for(None), opts.short_chunk)
        } else {
            ChunkPolicy::new(opts.short_chunk)
        };
        let select_by_fid = !opts.use_sfi;
        Session { link, opts, caps, state: Secured { channel, chunk, select_by_fid, protocol, probe_refused: false } }
    }
}

impl Session<'_, Secured> {
    /// Replace the secure messaging keys (Chip Authentication restarts secure messaging).
    pub(super) fn restart_secure_messaging(&mut self, channel: SecureChannel) {
        self.state.channel = channel;
    }

    /// Send any command under secure messaging (GET RESPONSE and 6CXX handled below).
    pub fn send(&mut self, step: ReadStep, cmd: &Command) -> Result<Response, ReadFailure> {
        self.link.send_secure(&mut self.state.channel, cmd).map_err(|e| ReadFailure::from_link(step, &e))
    }

    /// The chunk size the next READ BINARY asks for.
    pub fn chunk_size(&self) -> usize {
        self.state.chunk.size()
    }

    /// The access control protocol that secured the session.
    pub fn protocol(&self) -> &'static str {
        self.state.protocol
    }
}

/// What the first bytes of a file say about its length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Header {
    /// The whole file (tag, length and value) is this many bytes.
    Total(usize),
    /// At least this many first bytes are needed to know.
    Need(usize),
}

/// The total length of a file from its BER-TLV header; refuses what no LDS file starts with.
pub(super) fn header_total(head: &[u8]) -> Result<Header, String> {
    let Some(&first) = head.first() else { return Ok(Header::Need(1)) };
    if first == 0x00 || first == 0xFF {
        return Err(format!("tag byte {first:02X} cannot start a file"));
    }
    let mut i = 1;
    if first & 0x1F == 0x1F {
        loop {
            let Some(&b) = head.get(i) else { return Ok(Header::Need(i + 1)) };
            i += 1;
            if i > 4 {
                return Err("tag longer than 4 bytes".to_string());
            }
            if b & 0x80 == 0 {
                break;
            }
        }
    }
    let Some(&l0) = head.get(i) else { return Ok(Header::Need(i + 1)) };
    i += 1;
    let len = match l0 {
        0..=0x7F => l0 as usize,
        0x80 => return Err(format!("indefinite length at offset {}", i - 1)),
        0x81..=0x84 => {
            let n = (l0 & 0x7F) as usize;
            let Some(bytes) = head.get(i..i + n) else { return Ok(Header::Need(i + n)) };
            i += n;
            bytes.iter().fold(0usize, |acc, &b| (acc << 8) | b as usize)
        }
        _ => return Err(format!("length field {l0:02X} at offset {} is too long", i - 1)),
    };
    i.checked_add(len).map(Header::Total).ok_or_else(|| "length overflows".to_string())
}

/// Extended-length capabilities from EF.ATR/INFO: DO'47' card capabilities (third byte, bit b7:
/// extended Lc and Le) and DO'7F66' extended length information (two INTEGERs: largest command
/// and response). Anything unparsable means "unknown".
pub fn parse_atr_info(data: &[u8]) -> Option<CardCapabilities> {
    let mut caps = CardCapabilities { source: CapabilitySource::AtrInfo, ..CardCapabilities::default() };
    let mut found = false;
    let mut reader = tlv::Reader::new(data);
    while !reader.is_empty() {
        let t = reader.next_tlv().ok()?;
        match t.tag {
            0x47 => {
                if let Some(b3) = t.value.get(2) {
                    caps.extended_length |= b3 & 0x40 != 0;
                    found = true;
                }
            }
            0x7F66 => {
                let mut ints = t.children();
                let mut vals = Vec::new();
                while !ints.is_empty() {
                    let i = ints.next_tlv().ok()?;
                    if i.tag == 0x02 && !i.value.is_empty() && i.value.len() <= 4 {
                        vals.push(i.value.iter().fold(0usize, |acc, &b| (acc << 8) | b as usize));
                    }
                }
                caps.max_command = vals.first().copied();
                caps.max_response = vals.get(1).copied();
                caps.extended_length |= caps.max_response.is_some_and(|r| r > 258);
                found = true;
            }
            _ => {}
        }
    }
    found.then_some(caps)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn atr_info_capabilities() {
        let data = hex::decode("470300DF40 7F660802020800020208 00 FF".replace(' ', "")).unwrap();
        // A trailing FF is not a valid TLV: the whole parse gives up.
        assert_eq!(parse_atr_info(&data), None);
        let data = hex::decode("470300DF40 7F6608020208000202 0800".replace(' ', "")).unwrap();
        let caps = parse_atr_info(&data).unwrap();
        assert!(caps.extended_length);
        assert_eq!((caps.max_command, caps.max_response), (Some(0x800), Some(0x800)));
        let caps = parse_atr_info(&hex::decode("470300DF00").unwrap()).unwrap();
        assert!(!caps.extended_length);
        assert_eq!(parse_atr_info(&[]), None);
    }
}

//! Reading the chip image: the READ BINARY engine of a secured session
//! (`Session<Secured>::read_file`) and the whole read ([`read_chip`], [`ChipReader`]).
//!
//! A file is read as chip-profile.md "Reading robustness" says: its first 4 bytes (by short EF
//! identifier) give the length from the TLV header, then the rest in chunks. Chunks start at 223
//! bytes under secure messaging (the largest plain answer whose protected form fits a short
//! APDU, as JMRTD does), or at the extended-length size when EF.ATR/INFO or a probe shows the
//! chip takes it. A chunk refused with 6700, 6CXX, 6282, 6B00 or silently shortened shrinks the
//! size ([`ChunkPolicy`], in `options`): the size that works and the one that fails are bracketed and the gap
//! bisected, so a chip with a small limit costs a few APDUs once per session, not per file.
//! Offsets past 32767 use READ BINARY with odd INS (B1, offset in DO'54'). A chip refusing short
//! EF identifiers gets SELECT by FID instead. APDUs, bytes and time are counted per file and in
//! total ([`ReadStats`]).
//!
//! Restarting: [`ChipReader`] keeps the files already read; after a transient failure (card
//! removed, card mute) the caller reconnects (or resets) the transport and calls
//! [`ChipReader::read`] again, which selects, authenticates and reads only what is missing.
//! Files are kept whole or not at all, and BAC with the same key plus passive authentication
//! guard against a different card being presented in between.

use std::time::{Duration, Instant};

use super::access::{AccessControl, Randomness, SystemRandomness};
use super::apdu::{unwrap_odd_read, Command, StatusWord};
use super::bac::BacKey;
use super::failure::{ReadFailure, ReadFailureKind, ReadStep};
use super::link::{CountingTransport, IoCounters};
use super::session::{CapabilitySource, CardCapabilities, Plain, Secured, Session};
use super::transport::Transport;
use idcheck_core::lds::{parse_com, ChipImage, FileId};

pub use super::options::{ChunkPolicy, ExtendedLength, ReadOptions, ReadProfile, SHORT_SM_CHUNK};


/// Figures of one file read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileStats {
    pub file: FileId,
    /// File length in bytes.
    pub length: usize,
    pub io: IoCounters,
    /// Refused or shortened chunks retried.
    pub retries: u32,
    /// READ BINARY size in use at the end.
    pub chunk: usize,
    pub elapsed: Duration,
}

impl FileStats {
    /// The fewest APDUs that can carry this file at `per_apdu` bytes each.
    pub fn min_apdus(&self, per_apdu: usize) -> u64 {
        (self.length as u64).div_ceil(per_apdu.max(1) as u64)
    }
}

/// One file read by `Session<Secured>::read_file`.
#[derive(Clone, PartialEq, Eq)]
pub struct FileRead {
    pub bytes: Vec<u8>,
    pub stats: FileStats,
}

impl std::fmt::Debug for FileRead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FileRead({} bytes, {:?})", self.bytes.len(), self.stats)
    }
}

/// Figures of a whole read (cumulative over the attempts of one [`ChipReader`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// EF.ATR/INFO, SELECT and access control, all attempts.
    pub setup: IoCounters,
    /// Each file read, in reading order.
    pub files: Vec<FileStats>,
    /// Everything on the wire, all attempts.
    pub total: IoCounters,
    /// Wall-clock time of all attempts.
    pub elapsed: Duration,
    /// Whole-read attempts (1 when the first succeeded).
    pub attempts: u32,
    /// Chunk size at the end, and whether extended length was used.
    pub chunk: usize,
    pub extended_length: bool,
}

impl ReadStats {
    /// Bytes of file content read.
    pub fn file_bytes(&self) -> u64 {
        self.files.iter().map(|f| f.length as u64).sum()
    }

    /// APDUs spent reading files.
    pub fn file_apdus(&self) -> u64 {
        self.files.iter().map(|f| f.io.apdus as u64).sum()
    }

    /// The fewest APDUs that can carry the files at `per_apdu` bytes each (per file, rounded up).
    pub fn min_file_apdus(&self, per_apdu: usize) -> u64 {
        self.files.iter().map(|f| f.min_apdus(per_apdu)).sum()
    }

    pub fn file(&self, id: FileId) -> Option<&FileStats> {
        self.files.iter().rev().find(|f| f.file == id)
    }
}

/// A data group left out under [`ReadProfile::Icao`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SkippedFile {
    pub file: FileId,
    pub sw: Option<StatusWord>,
    pub kind: SkipReason,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// 6982: the chip protects it (EAC).
    AccessDenied,
    /// 6A82: listed in EF.COM but absent.
    Missing,
}

/// A successful read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadOutcome {
    pub image: ChipImage,
    pub stats: ReadStats,
    pub skipped: Vec<SkippedFile>,
    /// EF.COM tag-list values of data groups this profile does not read (DG14 6E, DG15 6F, ...).
    pub unread_tags: Vec<u8>,
    pub capabilities: CardCapabilities,
    /// Access control used: `BAC`.
    pub protocol: &'static str,
}

/// Read a whole chip with BAC: EF.COM, EF.SOD and every data group EF.COM lists. Randomness
/// from the operating system. For retries after a transient failure use [`ChipReader`].
pub fn read_chip(transport: &mut dyn Transport, key: &BacKey, opts: &ReadOptions) -> Result<ReadOutcome, ReadFailure> {
    ChipReader::new(key, opts.clone()).read(transport)
}

/// A restartable whole-chip read (see the module notes).
pub struct ChipReader<'a> {
    access: &'a dyn AccessControl,
    opts: ReadOptions,
    rng: Box<dyn Randomness + 'a>,
    image: ChipImage,
    skipped: Vec<SkippedFile>,
    unread_tags: Vec<u8>,
    stats: ReadStats,
    last_wrong_le: Option<u32>,
    probe_refused: bool,
}

impl<'a> ChipReader<'a> {
    pub fn new(access: &'a dyn AccessControl, opts: ReadOptions) -> Self {
        ChipReader {
            access,
            opts,
            rng: Box::new(SystemRandomness::new()),
            image: ChipImage::new(),
            skipped: Vec::new(),
            unread_tags: Vec::new(),
            stats: ReadStats::default(),
            last_wrong_le: None,
            probe_refused: false,
        }
    }

    /// Use another random source (tests, worked examples).
    pub fn with_randomness(mut self, rng: Box<dyn Randomness + 'a>) -> Self {
        self.rng = rng;
        self
    }

    /// The files read so far.
    pub fn partial(&self) -> &ChipImage {
        &self.image
    }

    /// The figures so far.
    pub fn stats(&self) -> &ReadStats {
        &self.stats
    }

    /// One attempt: select, authenticate, read what is still missing. On failure the files read
    /// stay, and `retries` of the failure includes the earlier attempts.
    pub fn read(&mut self, transport: &mut dyn Transport) -> Result<ReadOutcome, ReadFailure> {
        let first = self.read_once(transport);
        if first.is_err() && self.probe_refused {
            // The chip refused the extended-length probe; whether it counted the refused command
            // in its SSC is unknowable, so start a fresh session with short APDUs (files kept).
            self.opts.extended_length = ExtendedLength::Never;
            let mut out = self.read_once(transport)?;
            out.capabilities.extended_length = false;
            out.capabilities.source = CapabilitySource::Probe;
            return Ok(out);
        }
        first
    }

    fn read_once(&mut self, transport: &mut dyn Transport) -> Result<ReadOutcome, ReadFailure> {
        self.probe_refused = false;
        self.stats.attempts += 1;
        let earlier = self.stats.attempts - 1;
        let started = Instant::now();
        let mut counted = CountingTransport::new(transport);
        let mut setup = None;
        let result = {
            let session = Session::new(&mut counted, &self.opts);
            self.attempt(session, &mut setup)
        };
        let mut wire = counted.counters();
        // 6CXX resends are only known to the exchange layer of the session.
        wire.wrong_le_retries = self.last_wrong_le.take().unwrap_or(0);
        self.stats.setup = self.stats.setup.plus(&setup.unwrap_or(wire));
        self.stats.total = self.stats.total.plus(&wire);
        self.stats.elapsed += started.elapsed();
        match result {
            Ok(mut outcome) => {
                outcome.stats = self.stats.clone();
                Ok(outcome)
            }
            Err(f) => {
                let r = f.retries.saturating_add(earlier);
                Err(f.with_retries(r))
            }
        }
    }

    /// Like [`ChipReader::read`], resetting the transport and trying again (up to `attempts` in
    /// all) while the failure is transient.
    pub fn read_with_reconnect(&mut self, transport: &mut dyn Transport, attempts: u32) -> Result<ReadOutcome, ReadFailure> {
        loop {
            match self.read(transport) {
                Ok(o) => return Ok(o),
                Err(f) if f.is_transient() && self.stats.attempts < attempts.max(1) => {
                    if let Err(e) = transport.reset() {
                        let detail = if f.detail.is_empty() {
                            format!("reset for a new attempt failed: {e}")
                        } else {
                            format!("{}; reset for a new attempt failed: {e}", f.detail)
                        };
                        return Err(f.with_detail(detail));
                    }
                }
                Err(f) => return Err(f),
            }
        }
    }

    fn attempt(&mut self, mut plain: Session<'_, Plain>, setup: &mut Option<IoCounters>) -> Result<ReadOutcome, ReadFailure> {
        if self.opts.extended_length != ExtendedLength::Never {
            plain.read_atr_info()?;
        }
        let selected = plain.select_application()?;
        let mut secured = selected.authenticate(self.access, self.rng.as_mut())?;
        *setup = Some(secured.counters());
        let r = self.read_files(&mut secured);
        self.last_wrong_le = Some(secured.counters().wrong_le_retries);
        self.probe_refused = secured.state.probe_refused;
        self.stats.chunk = secured.chunk_size();
        self.stats.extended_length = secured.chunk_size() > self.opts.short_chunk;
        r?;
        Ok(ReadOutcome {
            image: self.image.clone(),
            stats: ReadStats::default(),
            skipped: self.skipped.clone(),
            unread_tags: self.unread_tags.clone(),
            capabilities: secured.capabilities(),
            protocol: secured.protocol(),
        })
    }

    fn read_one(&mut self, s: &mut Session<'_, Secured>, id: FileId) -> Result<(), ReadFailure> {
        if self.image.get(id).is_some() || self.skipped.iter().any(|k| k.file == id) {
            return Ok(());
        }
        let r = s.read_file(id);
        match r {
            Ok(fr) => {
                self.stats.files.push(fr.stats);
                self.image.insert(id, fr.bytes);
                Ok(())
            }
            Err(f) => {
                let skippable = self.opts.profile == ReadProfile::Icao && id.dg_number().is_some();
                match f.kind {
                    ReadFailureKind::FileAccessDenied(_) if skippable => {
                        self.skipped.push(SkippedFile { file: id, sw: f.sw, kind: SkipReason::AccessDenied });
                        Ok(())
                    }
                    ReadFailureKind::FileMissing(_) if skippable => {
                        self.skipped.push(SkippedFile { file: id, sw: f.sw, kind: SkipReason::Missing });
                        Ok(())
                    }
                    _ => Err(f),
                }
            }
        }
    }

    fn read_files(&mut self, s: &mut Session<'_, Secured>) -> Result<(), ReadFailure> {
        self.read_one(s, FileId::Com)?;
        let com_bytes = self.image.get(FileId::Com).unwrap_or_default();
        let com = parse_com(com_bytes).map_err(|e| {
            ReadFailure::new(ReadStep::ReadFile(FileId::Com), ReadFailureKind::FileUnparsable(FileId::Com)).with_detail(e.to_string())
        })?;
        self.unread_tags = com.other_tags.clone();
        self.read_one(s, FileId::Sod)?;
        let mut seen = Vec::new();
        for dg in com.data_groups {
            if dg.dg_number().is_none() || seen.contains(&dg) {
                continue;
            }
            seen.push(dg);
            self.read_one(s, dg)?;
        }
        Ok(())
    }
}


/// Bytes DO'53' adds around `n` bytes read with odd INS.
fn do53_overhead(n: usize) -> usize {
    1 + if n < 0x80 {
        1
    } else if n < 0x100 {
        2
    } else {
        3
    }
}

/// What the first bytes of a file say about its length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Header {
    /// The whole file (tag, length and value) is this many bytes.
    Total(usize),
    /// At least this many first bytes are needed to know.
    Need(usize),
}

/// The total length of a file from its BER-TLV header; refuses what no LDS file starts with.
fn header_total(head: &[u8]) -> Result<Header, String> {
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

impl Session<'_, Secured> {
    /// Read one file whole: its header by short EF identifier (or after SELECT by FID when the
    /// chip refuses SFIs), then the rest in adaptive chunks. Never panics on any answer.
    pub fn read_file(&mut self, id: FileId) -> Result<FileRead, ReadFailure> {
        let started = Instant::now();
        let before = self.counters();
        let step = ReadStep::ReadFile(id);
        let mut retries = 0u32;
        let mut buf = self.read_head(id, &mut retries)?;
        let total = loop {
            match header_total(&buf) {
                Ok(Header::Total(t)) => break t,
                Ok(Header::Need(n)) if n > buf.len() && n <= 16 => self.fill_to(id, &mut buf, n, &mut retries)?,
                Ok(Header::Need(n)) => {
                    return Err(ReadFailure::new(step, ReadFailureKind::FileUnparsable(id))
                        .with_retries(retries)
                        .with_detail(format!("tlv header needs {n} bytes")))
                }
                Err(e) => {
                    return Err(ReadFailure::new(step, ReadFailureKind::FileUnparsable(id))
                        .with_retries(retries)
                        .with_detail(format!("tlv header: {e}")))
                }
            }
        };
        if total > self.opts.max_file_size {
            return Err(ReadFailure::new(step, ReadFailureKind::FileTooLarge(id))
                .with_retries(retries)
                .with_detail(format!("header announces {total} bytes, more than the {}-byte limit", self.opts.max_file_size)));
        }
        buf.truncate(total);
        self.fill_to(id, &mut buf, total, &mut retries)?;
        let stats = FileStats {
            file: id,
            length: buf.len(),
            io: self.counters().since(&before),
            retries,
            chunk: self.state.chunk.size(),
            elapsed: started.elapsed(),
        };
        Ok(FileRead { bytes: buf, stats })
    }

    /// The first `header_bytes` of a file (fewer when the file is shorter).
    fn read_head(&mut self, id: FileId, retries: &mut u32) -> Result<Vec<u8>, ReadFailure> {
        let n = self.opts.header_bytes.clamp(1, SHORT_SM_CHUNK);
        let step = ReadStep::ReadFile(id);
        if !self.state.select_by_fid {
            let cmd = Command::read_binary_sfi(id.sfi(), 0, n).ok_or_else(|| ReadFailure::new(step, ReadFailureKind::HostFault))?;
            let r = self.send(step, &cmd)?;
            match r.sw {
                StatusWord::Success | StatusWord::EndOfFileWarning if !r.data.is_empty() => return Ok(r.data),
                StatusWord::FileNotFound => return Err(ReadFailure::new(step, ReadFailureKind::FileMissing(id)).with_sw(r.sw)),
                StatusWord::SecurityNotSatisfied => {
                    return Err(ReadFailure::new(step, ReadFailureKind::FileAccessDenied(id)).with_sw(r.sw))
                }
                StatusWord::IncorrectP1P2
                | StatusWord::FunctionNotSupported
                | StatusWord::WrongParameters
                | StatusWord::CommandNotAllowed => {
                    // No short EF identifiers on this chip: SELECT by FID from now on.
                    *retries += 1;
                    self.state.select_by_fid = true;
                }
                StatusWord::Success | StatusWord::EndOfFileWarning => {
                    return Err(ReadFailure::new(step, ReadFailureKind::FileUnparsable(id))
                        .with_sw(r.sw)
                        .with_detail("empty answer to the header read"))
                }
                other => return Err(ReadFailure::unexpected(step, other).with_detail("header read by short ef identifier")),
            }
        }
        let sel = ReadStep::SelectFile(id);
        let r = self.send(sel, &Command::select_ef(id.fid()))?;
        match r.sw {
            StatusWord::Success => {}
            StatusWord::FileNotFound => return Err(ReadFailure::new(sel, ReadFailureKind::FileMissing(id)).with_sw(r.sw).with_retries(*retries)),
            StatusWord::SecurityNotSatisfied => {
                return Err(ReadFailure::new(sel, ReadFailureKind::FileAccessDenied(id)).with_sw(r.sw).with_retries(*retries))
            }
            other => return Err(ReadFailure::unexpected(sel, other).with_retries(*retries)),
        }
        let cmd = Command::read_binary(0, n).ok_or_else(|| ReadFailure::new(step, ReadFailureKind::HostFault))?;
        let r = self.send(step, &cmd)?;
        match r.sw {
            StatusWord::Success | StatusWord::EndOfFileWarning if !r.data.is_empty() => Ok(r.data),
            StatusWord::FileNotFound => Err(ReadFailure::new(step, ReadFailureKind::FileMissing(id)).with_sw(r.sw)),
            StatusWord::SecurityNotSatisfied => Err(ReadFailure::new(step, ReadFailureKind::FileAccessDenied(id)).with_sw(r.sw)),
            StatusWord::Success | StatusWord::EndOfFileWarning => Err(ReadFailure::new(step, ReadFailureKind::FileUnparsable(id))
                .with_sw(r.sw)
                .with_detail("empty answer to the header read")),
            other => Err(ReadFailure::unexpected(step, other).with_retries(*retries)),
        }
    }

    /// Read from `buf.len()` until `buf` holds `target` bytes, adapting the chunk size.
    fn fill_to(&mut self, id: FileId, buf: &mut Vec<u8>, target: usize, retries: &mut u32) -> Result<(), ReadFailure> {
        let step = ReadStep::ReadFile(id);
        let mut consecutive = 0u32;
        while buf.len() < target {
            let off = buf.len();
            let size = self.state.chunk.size();
            let odd = off > 0x7FFF;
            // `asked` is the Le sent (what the chunk policy learns from); `want` the file bytes.
            let (cmd, asked, want) = if odd {
                let want = size.saturating_sub(do53_overhead(size)).min(target - off).max(1);
                let asked = want + do53_overhead(want);
                (Command::read_binary_odd(off, asked), asked, want)
            } else {
                let want = size.min(target - off);
                match Command::read_binary(off, want) {
                    Some(c) => (c, want, want),
                    None => return Err(ReadFailure::new(step, ReadFailureKind::HostFault)),
                }
            };
            let probing = self.state.chunk.probing_extended() && asked > self.opts.short_chunk;
            let r = self.send(step, &cmd).map_err(|f| f.with_retries(*retries))?;
            let data = if odd && !r.data.is_empty() {
                unwrap_odd_read(&r.data).ok_or_else(|| {
                    ReadFailure::malformed(step, format!("answer to odd-ins read binary at offset {off} is not a do'53'"))
                        .with_sw(r.sw)
                        .with_retries(*retries)
                })?
            } else {
                r.data
            };
            match r.sw {
                StatusWord::Success | StatusWord::EndOfFileWarning if !data.is_empty() => {
                    let got = data.len().min(want);
                    buf.extend_from_slice(&data[..got]);
                    if got == want {
                        self.state.chunk.succeeded(asked);
                    } else {
                        let got_asked = if odd { got + do53_overhead(got) } else { got };
                        self.state.chunk.truncated(asked, got_asked);
                    }
                    if probing {
                        self.caps.extended_length = asked > SHORT_SM_CHUNK;
                        self.caps.source = CapabilitySource::Probe;
                    }
                    consecutive = 0;
                }
                StatusWord::Success
                | StatusWord::EndOfFileWarning
                | StatusWord::WrongLength
                | StatusWord::WrongLe(_)
                | StatusWord::WrongParameters
                | StatusWord::IncorrectP1P2 => {
                    *retries += 1;
                    consecutive += 1;
                    if probing {
                        self.caps.extended_length = false;
                        self.caps.source = CapabilitySource::Probe;
                        self.state.probe_refused = true;
                        return Err(ReadFailure::unexpected(step, r.sw)
                            .with_retries(*retries)
                            .with_detail(format!("extended-length read of {asked} bytes at offset {off} refused")));
                    }
                    let smaller = self.state.chunk.refused(asked);
                    if !smaller || consecutive > self.opts.max_chunk_retries {
                        let kind = match r.sw {
                            StatusWord::Success | StatusWord::EndOfFileWarning | StatusWord::WrongParameters => {
                                ReadFailureKind::FileTruncated(id)
                            }
                            _ => ReadFailureKind::UnexpectedStatus,
                        };
                        return Err(ReadFailure::new(step, kind).with_sw(r.sw).with_retries(*retries).with_detail(format!(
                            "at offset {off} of {target} bytes no read size is accepted (last le {asked})"
                        )));
                    }
                }
                StatusWord::SecurityNotSatisfied => {
                    return Err(ReadFailure::new(step, ReadFailureKind::FileAccessDenied(id))
                        .with_sw(r.sw)
                        .with_retries(*retries)
                        .with_detail(format!("at offset {off}")))
                }
                other => {
                    return Err(ReadFailure::unexpected(step, other)
                        .with_retries(*retries)
                        .with_detail(format!("at offset {off} of {target} bytes")))
                }
            }
        }
        Ok(())
    }
}

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

use super::access::{Randomness, SystemRandomness};
use super::apdu::{unwrap_odd_read, Command, StatusWord};
use super::auth::{active_authenticate, chip_authenticate, AuthRun};
pub use super::options::AccessPolicy;
use super::pace::PacePassword;
use super::pace_link::{choose, PaceChoice};
use super::session::PaceAttempt;
use super::bac::BacKey;
use super::failure::{ReadFailure, ReadFailureKind, ReadStep};
use super::link::{CountingTransport, IoCounters};
use super::session::{header_total, CapabilitySource, CardCapabilities, Header, Plain, Secured, Session};
use super::transport::Transport;
use idcheck_core::lds::{parse_card_access, parse_com, parse_dg14, parse_dg15, ChipImage, FileId};

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
    /// Access control used: `BAC` or `PACE`.
    pub protocol: &'static str,
    /// Which access control ran and why.
    pub access: AccessReport,
    /// Chip Authentication (DG14). A failure fails the read instead.
    pub chip_authentication: AuthRun,
    /// Active Authentication (DG15).
    pub active_authentication: AuthRun,
}

/// The access control a read used, for the verdict's evidence.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AccessReport {
    /// The PACE protocol run, `None` for BAC.
    pub pace: Option<PaceChoice>,
    /// Why BAC ran on a chip with EF.CardAccess (no usable PACE protocol, PACE refused, BAC
    /// asked for), or `None`.
    pub bac_because: Option<String>,
}

impl AccessReport {
    /// One line: `PACE id-PACE-ECDH-GM-AES-CBC-CMAC-128 brainpoolP256r1 (can)` or `BAC`.
    pub fn describe(&self) -> String {
        match (&self.pace, &self.bac_because) {
            (Some(p), _) => format!("PACE {} {} ({})", p.protocol, p.domain, p.password),
            (None, Some(why)) => format!("BAC ({why})"),
            (None, None) => "BAC".to_string(),
        }
    }
}

/// Read a whole chip with BAC: EF.COM, EF.SOD and every data group EF.COM lists. Randomness
/// from the operating system. For retries after a transient failure use [`ChipReader`].
pub fn read_chip(transport: &mut dyn Transport, key: &BacKey, opts: &ReadOptions) -> Result<ReadOutcome, ReadFailure> {
    ChipReader::new(key, opts.clone()).read(transport)
}

/// A restartable whole-chip read (see the module notes).
pub struct ChipReader<'a> {
    bac: &'a BacKey,
    can: Option<String>,
    access: AccessReport,
    chip_auth: AuthRun,
    active_auth: AuthRun,
    /// Chip Authentication restarted secure messaging and no answer under the new keys has been
    /// verified yet.
    ca_unconfirmed: bool,
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
    /// A reader with the BAC key of the document (also its PACE MRZ password).
    pub fn new(bac: &'a BacKey, opts: ReadOptions) -> Self {
        ChipReader {
            bac,
            can: None,
            access: AccessReport::default(),
            chip_auth: AuthRun::default(),
            active_auth: AuthRun::default(),
            ca_unconfirmed: false,
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

    /// PACE with this card access number instead of the MRZ.
    pub fn with_can(mut self, can: impl Into<String>) -> Self {
        self.can = Some(can.into());
        self
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
        let mut secured = self.access_control(plain)?;
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
            access: self.access.clone(),
            chip_authentication: self.chip_auth.clone(),
            active_authentication: self.active_auth.clone(),
        })
    }

    /// PACE when EF.CardAccess offers a protocol this station runs (ICAO 9303-11 4.2), else BAC,
    /// as the policy allows.
    fn access_control<'t>(&mut self, mut plain: Session<'t, Plain>) -> Result<Session<'t, Secured>, ReadFailure> {
        self.access = AccessReport::default();
        if self.opts.access == AccessPolicy::BacOnly {
            return self.bac(plain);
        }
        let card_access = plain.read_card_access()?;
        let choice = match &card_access {
            None => Err("the chip has no ef.cardaccess".to_string()),
            Some(bytes) => {
                self.image.insert(FileId::CardAccess, bytes.clone());
                match parse_card_access(bytes) {
                    Ok(infos) => choose(&infos, self.password()),
                    Err(e) => Err(format!("ef.cardaccess does not parse: {e}")),
                }
            }
        };
        let (setup, choice) = match choice {
            Ok(c) => c,
            Err(why) if self.opts.access == AccessPolicy::PaceOnly => {
                let kind = if card_access.is_some() { ReadFailureKind::Unsupported } else { ReadFailureKind::AccessDenied };
                return Err(ReadFailure::new(ReadStep::ReadCardAccess, kind).with_detail(format!("pace required: {why}")));
            }
            Err(why) => {
                if card_access.is_some() {
                    self.access.bac_because = Some(why);
                }
                return self.bac(plain);
            }
        };
        match plain.try_pace(setup, self.rng.as_mut())? {
            PaceAttempt::Secured(pace) => {
                self.access.pace = Some(choice);
                pace.select_application()
            }
            PaceAttempt::Refused(_, f) if self.opts.access == AccessPolicy::PaceOnly => Err(f),
            PaceAttempt::Refused(plain, f) => {
                self.access.bac_because = Some(format!("the chip refused {}: {f}", choice.protocol));
                self.bac(plain)
            }
        }
    }

    fn bac<'t>(&mut self, plain: Session<'t, Plain>) -> Result<Session<'t, Secured>, ReadFailure> {
        let selected = plain.select_application()?;
        selected.authenticate(self.bac, self.rng.as_mut())
    }

    /// The PACE password: the CAN when one was given, else the MRZ.
    fn password(&self) -> PacePassword {
        match &self.can {
            Some(can) => PacePassword::Can(can.clone()),
            None => PacePassword::Mrz(self.bac.mrz_information().to_string()),
        }
    }

    /// Chip Authentication with the DG14 just read (every session: a reconnect starts a new one).
    fn chip_authentication(&mut self, s: &mut Session<'_, Secured>) -> Result<(), ReadFailure> {
        let Some(dg14) = self.image.get(FileId::Dg14) else { return Ok(()) };
        let infos = parse_dg14(dg14).map_err(|e| {
            ReadFailure::new(ReadStep::ReadFile(FileId::Dg14), ReadFailureKind::FileUnparsable(FileId::Dg14)).with_detail(e.to_string())
        })?;
        let Some((info, key)) = infos.chip_authentication().into_iter().next() else {
            self.chip_auth = AuthRun::NotOffered;
            return Ok(());
        };
        if !self.opts.chip_authentication {
            self.chip_auth = AuthRun::NotRun("chip authentication switched off".to_string());
            return Ok(());
        }
        let detail = chip_authenticate(s, &info, &key, self.rng.as_mut())?;
        self.chip_auth = AuthRun::Passed(detail);
        self.ca_unconfirmed = true;
        Ok(())
    }

    /// Active Authentication with the DG15 just read (once per read).
    fn active_authentication(&mut self, s: &mut Session<'_, Secured>) -> Result<(), ReadFailure> {
        if self.active_auth != AuthRun::NotOffered {
            return Ok(());
        }
        let Some(dg15) = self.image.get(FileId::Dg15) else { return Ok(()) };
        if !self.opts.active_authentication {
            self.active_auth = AuthRun::NotRun("active authentication switched off".to_string());
            return Ok(());
        }
        let spki = match parse_dg15(dg15) {
            Ok(d) => d.spki_der,
            Err(e) => {
                self.active_auth = AuthRun::Failed(format!("dg15 does not parse: {e}"));
                return Ok(());
            }
        };
        let info = self.image.get(FileId::Dg14).and_then(|b| parse_dg14(b).ok());
        let aa_info = info.as_ref().and_then(|i| i.active_authentication().cloned());
        let dg15 = spki.clone();
        let run = active_authenticate(s, &dg15, aa_info.as_ref(), self.rng.as_mut()).map_err(|f| self.after_ca(f))?;
        self.ca_unconfirmed = false;
        self.active_auth = run;
        Ok(())
    }

    /// A failure right after Chip Authentication that secure messaging explains is the chip
    /// failing Chip Authentication: it could not derive the new keys (no DG14 private key).
    fn after_ca(&self, f: ReadFailure) -> ReadFailure {
        if !self.ca_unconfirmed {
            return f;
        }
        let sm = matches!(f.kind, ReadFailureKind::SecureMessaging(_))
            || matches!(f.sw, Some(StatusWord::SmDataObjectsMissing | StatusWord::SmDataObjectsIncorrect));
        if !sm {
            return f;
        }
        ReadFailure {
            step: ReadStep::ChipAuthentication,
            kind: ReadFailureKind::ChipAuthenticationFailed,
            detail: format!("the chip's answer under the new keys does not verify ({f}): it lacks the dg14 private key"),
            ..f
        }
    }

    /// Verify one answer under the Chip Authentication keys when no file read did.
    fn confirm_ca(&mut self, s: &mut Session<'_, Secured>) -> Result<(), ReadFailure> {
        if !self.ca_unconfirmed {
            return Ok(());
        }
        let step = ReadStep::ChipAuthentication;
        let cmd = Command::read_binary_sfi(FileId::Com.sfi(), 0, 1).ok_or_else(|| ReadFailure::new(step, ReadFailureKind::HostFault))?;
        let r = s.send(step, &cmd).map_err(|f| self.after_ca(f))?;
        if !r.is_success() {
            return Err(self.after_ca(ReadFailure::unexpected(step, r.sw)));
        }
        self.ca_unconfirmed = false;
        Ok(())
    }

    fn read_one(&mut self, s: &mut Session<'_, Secured>, id: FileId) -> Result<(), ReadFailure> {
        if self.image.get(id).is_some() || self.skipped.iter().any(|k| k.file == id) {
            return Ok(());
        }
        let r = s.read_file(id).map_err(|f| self.after_ca(f));
        match r {
            Ok(fr) => {
                self.ca_unconfirmed = false;
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
        // DG14 and DG15 first: Chip Authentication protects the rest of the read, Active
        // Authentication runs on its keys.
        if com.data_groups.contains(&FileId::Dg14) {
            self.read_one(s, FileId::Dg14)?;
            self.chip_authentication(s)?;
        }
        if com.data_groups.contains(&FileId::Dg15) {
            self.read_one(s, FileId::Dg15)?;
            self.active_authentication(s)?;
        }
        let mut seen = Vec::new();
        for dg in com.data_groups {
            if dg.dg_number().is_none() || seen.contains(&dg) {
                continue;
            }
            seen.push(dg);
            self.read_one(s, dg)?;
        }
        self.confirm_ca(s)
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

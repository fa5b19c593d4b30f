//! How to read a chip: the read options ([`ReadOptions`]: profile, extended length, chunk sizes,
//! bounds) and the adaptive READ BINARY size ([`ChunkPolicy`]). The session holds them and the
//! READ BINARY engine in `read` follows them; this module names neither, so the session (lower)
//! does not depend on the reader (higher).

use idcheck_core::lds::MAX_FILE_SIZE;

/// Largest plain READ BINARY answer whose secure messaging form fits a short response APDU.
pub const SHORT_SM_CHUNK: usize = 223;

/// Which files a read must get.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReadProfile {
    /// A resident card: every file EF.COM lists must be read; a refused or missing one fails
    /// the read (DG3 answered 6982 is reported as such).
    #[default]
    Resident,
    /// A plain ICAO document: a data group refused (6982) or missing (6A82) is skipped and
    /// listed in [`ReadOutcome::skipped`]. EF.COM and EF.SOD are still required.
    Icao,
}

/// When to use extended-length APDUs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExtendedLength {
    /// Never: short APDUs only.
    Never,
    /// When EF.ATR/INFO says the chip supports it (one plain READ BINARY before SELECT).
    #[default]
    Auto,
    /// As `Auto`, and otherwise try one extended READ BINARY; fall back to short on refusal.
    Probe,
}

/// Which access control protocol to use (ICAO 9303-11 4.2: PACE when the chip offers it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AccessPolicy {
    /// PACE when EF.CardAccess offers a PACE protocol this station speaks, else BAC.
    #[default]
    Auto,
    /// BAC only (EF.CardAccess is not read).
    BacOnly,
    /// PACE only: a chip without usable PACE fails the read.
    PaceOnly,
}

/// How to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadOptions {
    /// BAC or PACE.
    pub access: AccessPolicy,
    /// Run Chip Authentication when DG14 offers it.
    pub chip_authentication: bool,
    /// Run Active Authentication when the chip has DG15.
    pub active_authentication: bool,
    pub profile: ReadProfile,
    pub extended_length: ExtendedLength,
    /// First chunk size with short APDUs under secure messaging.
    pub short_chunk: usize,
    /// Largest chunk with extended APDUs (further bounded by the chip's DO'7F66').
    pub extended_chunk: usize,
    /// Bytes read first to learn a file's length from its TLV header.
    pub header_bytes: usize,
    /// Largest file length a header may announce.
    pub max_file_size: usize,
    /// Consecutive refusals of one chunk (shrinking each time) before the read fails.
    pub max_chunk_retries: u32,
    /// Read by short EF identifier (false: SELECT each EF by FID first).
    pub use_sfi: bool,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            access: AccessPolicy::Auto,
            chip_authentication: true,
            active_authentication: true,
            profile: ReadProfile::Resident,
            extended_length: ExtendedLength::Auto,
            short_chunk: SHORT_SM_CHUNK,
            extended_chunk: 4096 - 33,
            header_bytes: 4,
            max_file_size: MAX_FILE_SIZE as usize,
            max_chunk_retries: 16,
            use_sfi: true,
        }
    }
}

impl ReadOptions {
    /// The extended chunk for a chip whose largest response APDU is `max_response` bytes: the
    /// plain size whose protected answer (DO'87' with 4-byte header and padding, DO'99', DO'8E',
    /// status word) fits.
    pub fn extended_chunk_for(&self, max_response: Option<usize>) -> usize {
        let cap = match max_response {
            Some(r) => ((r.saturating_sub(2 + 10 + 4 + 5)) / 8 * 8).saturating_sub(1),
            None => self.extended_chunk,
        };
        cap.min(self.extended_chunk).clamp(self.short_chunk.max(1), 65_000)
    }
}

/// The adaptive READ BINARY size: starts at the largest allowed, brackets the largest size the
/// chip serves between the biggest success and the smallest refusal, and bisects the gap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkPolicy {
    max: usize,
    current: usize,
    /// Largest size answered in full.
    good: usize,
    /// Smallest size refused.
    bad: Option<usize>,
    /// Probing extended length: the short size to fall back to.
    fallback: Option<usize>,
}

impl ChunkPolicy {
    pub fn new(max: usize) -> Self {
        let max = max.max(1);
        ChunkPolicy { max, current: max, good: 0, bad: None, fallback: None }
    }

    /// Try `extended` first; on the first refusal drop to `short` for good.
    pub fn probing(extended: usize, short: usize) -> Self {
        ChunkPolicy { fallback: Some(short.max(1)), ..ChunkPolicy::new(extended) }
    }

    /// The size to ask for next.
    pub fn size(&self) -> usize {
        self.current
    }

    /// True while an extended-length probe is pending.
    pub fn probing_extended(&self) -> bool {
        self.fallback.is_some()
    }

    fn retarget(&mut self) {
        self.current = match self.bad {
            Some(b) if b > self.good + 1 => (self.good + b) / 2,
            Some(_) => self.good,
            None => self.max,
        }
        .clamp(1, self.max);
    }

    /// `asked` bytes came back in full.
    pub fn succeeded(&mut self, asked: usize) {
        // Only a read longer than the short size settles an extended-length probe.
        if self.fallback.is_some_and(|short| asked > short) {
            self.fallback = None;
        }
        self.good = self.good.max(asked);
        if self.bad.is_some_and(|b| b <= self.good) {
            self.bad = None;
        }
        if asked >= self.current {
            self.retarget();
        }
    }

    /// `asked` bytes were asked, `got` (fewer, at least one) came back: the chip's limit.
    pub fn truncated(&mut self, asked: usize, got: usize) {
        self.fallback = None;
        let got = got.max(1);
        self.good = got;
        self.bad = Some(self.bad.map_or(asked, |b| b.min(asked)).min(got + 1));
        self.retarget();
    }

    /// A request of `asked` bytes was refused (wrong length, wrong Le, end of file, ...).
    /// Returns false when no smaller size is left to try.
    pub fn refused(&mut self, asked: usize) -> bool {
        if let Some(short) = self.fallback.take() {
            if asked > short {
                *self = ChunkPolicy::new(short);
                return true;
            }
        }
        let b = self.bad.map_or(asked, |b| b.min(asked));
        self.bad = Some(b);
        if self.good >= b {
            self.good = b.saturating_sub(1);
        }
        self.retarget();
        if self.good == 0 {
            self.current = (b / 2).max(1);
        }
        b > 1
    }
}

//! Checking a chain, from an export file or the live database: every entry's hash over its
//! canonical encoding, the links, the sequence without gaps or repeats, the anchor before the
//! first entry, every checkpoint's Ed25519 signature and the hash it signs, the station key
//! (checkpoints and the `daemon_start` entries must name the same one), and, for an export, that
//! the range is closed by a signature made after its end; for the database, that the verification
//! rows and stored records agree with their entries. The result names every problem (the first
//! one is the first bad entry) and never fails on malformed input.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::BufRead;
use std::ops::ControlFlow;

use serde_json::Value;

use super::canonical;
use super::entry::{encode_entry_with_payload, AuditEntry, Checkpoint, Purpose, GENESIS};
use super::event::EntryKind;
use super::export::{self, ExportHeader, ExportRecord, ExportAnchor};
use idcheck_core::model::sha256_hex;
use idcheck_store::{AuditRow, CheckpointRow, Store};

/// At most this many problems are kept (the rest are counted).
pub const MAX_PROBLEMS: usize = 100;

/// What kind of thing is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProblemKind {
    /// A line or row that cannot be read as what it should be.
    Malformed,
    /// A payload stored in a form that is not its canonical encoding.
    NotCanonical,
    /// An entry kind this build does not know.
    UnknownKind,
    /// The entry's content does not hash to its `entry_hash`.
    Modified,
    /// The entry's `prev_hash` is not the hash of the entry before it.
    BrokenLink,
    /// Sequence numbers are skipped.
    Missing,
    /// A sequence number repeats or goes back.
    OutOfOrder,
    /// The first entry does not chain to a valid anchor.
    Anchor,
    /// A checkpoint signs a hash the entry at its position does not have.
    CheckpointMismatch,
    /// A checkpoint signature does not verify.
    BadSignature,
    /// Signed by, or naming, a key other than the station's.
    WrongKey,
    /// Entries or checkpoints announced or signed are not there.
    Truncated,
    /// An export whose range end is not covered by a signature made after it.
    RangeNotClosed,
    /// A stored verification or record that disagrees with the log (or has no entry).
    RowMismatch,
}

impl ProblemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemKind::Malformed => "malformed",
            ProblemKind::NotCanonical => "not canonical",
            ProblemKind::UnknownKind => "unknown kind",
            ProblemKind::Modified => "modified",
            ProblemKind::BrokenLink => "broken link",
            ProblemKind::Missing => "missing entries",
            ProblemKind::OutOfOrder => "out of order",
            ProblemKind::Anchor => "bad anchor",
            ProblemKind::CheckpointMismatch => "checkpoint mismatch",
            ProblemKind::BadSignature => "bad signature",
            ProblemKind::WrongKey => "wrong key",
            ProblemKind::Truncated => "truncated",
            ProblemKind::RangeNotClosed => "range not closed",
            ProblemKind::RowMismatch => "row mismatch",
        }
    }
}

/// One thing wrong, where, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub kind: ProblemKind,
    /// The entry concerned (for a checkpoint: the entry it signs).
    pub seq: Option<u64>,
    /// The line of the export file (1-based), or none for the database.
    pub line: Option<u64>,
    pub detail: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.seq, self.line) {
            (Some(s), Some(l)) => write!(f, "entry {s} (line {l}): ")?,
            (Some(s), None) => write!(f, "entry {s}: ")?,
            (None, Some(l)) => write!(f, "line {l}: ")?,
            (None, None) => {}
        }
        write!(f, "{}: {}", self.kind.as_str(), self.detail)
    }
}

/// What to check against.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// The station's public key (hex) as the auditor knows it; without it, the key named in the
    /// export header (or, in the database, by the first `daemon_start` entry or checkpoint) is used.
    pub expected_key: Option<String>,
}

/// The outcome of a verification.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// `export FILE` or `database PATH`.
    pub source: String,
    /// The public key the signatures were checked with.
    pub station_key: Option<String>,
    pub entries: u64,
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
    /// Checkpoints (and anchors) whose signature and hash hold.
    pub valid_checkpoints: u64,
    /// The last entry covered by a valid signature.
    pub signed_through: Option<u64>,
    /// Entries after the last valid signature (intact, but nothing vouches for them yet).
    pub unsigned_tail: u64,
    /// Export only: the range from its header.
    pub from: Option<String>,
    pub to: Option<String>,
    pub exported_at: Option<String>,
    /// Every problem found, in order of the entry concerned (the first one is the first bad entry).
    pub problems: Vec<Problem>,
    /// Problems found beyond [`MAX_PROBLEMS`].
    pub more_problems: u64,
}

impl VerifyReport {
    /// No tampering found (the chain, anchor, signatures and keys hold).
    pub fn intact(&self) -> bool {
        self.problems.is_empty()
    }
    /// Intact, and every entry is covered by a valid signature.
    pub fn holds(&self) -> bool {
        self.intact() && self.unsigned_tail == 0
    }
    pub fn first_problem(&self) -> Option<&Problem> {
        self.problems.first()
    }
}

/// An entry as read, before any check.
struct ReadEntry {
    seq: u64,
    line: Option<u64>,
    entry: AuditEntry,
    /// The stored payload text (database), which must be canonical.
    payload_text: Option<String>,
}

/// The chain checker shared by the export and database verifiers.
struct Chain {
    key: Option<String>,
    report: VerifyReport,
    /// Problems with their position in the chain (the expected sequence number when found).
    problems: Vec<(u64, Problem)>,
    /// The position problems found now are filed under.
    position: u64,
    expect_seq: u64,
    prev_hash: String,
    /// seq -> computed hash (the content as it is now).
    hashes: BTreeMap<u64, [u8; 32]>,
    checkpoints: Vec<(Checkpoint, Option<u64>)>,
    anchor_seq: u64,
    anchor_signed: bool,
    /// verification_id -> verdict_sha256, application_id -> last content_sha256 (database checks).
    verifications: BTreeMap<i64, (u64, String)>,
    imports: HashMap<String, (u64, String)>,
}

fn hash_bytes(hex_hash: &str) -> Option<[u8; 32]> {
    let v = hex::decode(hex_hash).ok()?;
    <[u8; 32]>::try_from(v.as_slice()).ok()
}

impl Chain {
    fn new(source: String, key: Option<String>) -> Chain {
        Chain {
            report: VerifyReport { source, station_key: key.clone(), ..Default::default() },
            key,
            problems: Vec::new(),
            position: 0,
            expect_seq: 1,
            prev_hash: GENESIS.to_string(),
            hashes: BTreeMap::new(),
            checkpoints: Vec::new(),
            anchor_seq: 0,
            anchor_signed: false,
            verifications: BTreeMap::new(),
            imports: HashMap::new(),
        }
    }

    fn problem(&mut self, kind: ProblemKind, seq: Option<u64>, line: Option<u64>, detail: impl Into<String>) {
        self.problems.push((self.position, Problem { kind, seq, line, detail: detail.into() }));
    }

    /// The chain starts after entry `seq` whose hash is `hash`.
    fn start_at(&mut self, seq: u64, hash: &str, signed: bool) {
        self.anchor_seq = seq;
        self.expect_seq = seq.saturating_add(1);
        self.prev_hash = hash.to_string();
        self.anchor_signed = signed;
        if let Some(h) = hash_bytes(hash) {
            self.hashes.insert(seq, h);
        }
    }

    fn short(k: &str) -> &str {
        k.get(..16).unwrap_or(k)
    }

    /// Check a checkpoint's key and signature (not yet its hash). Returns whether both hold.
    fn signature_holds(&mut self, c: &Checkpoint, line: Option<u64>, what: &str) -> bool {
        let Some(key) = self.key.clone() else {
            self.problem(ProblemKind::WrongKey, Some(c.seq), line, format!("{what}: no station key to check its signature with"));
            return false;
        };
        if !c.public_key.eq_ignore_ascii_case(&key) {
            self.problem(
                ProblemKind::WrongKey,
                Some(c.seq),
                line,
                format!("{what} is signed by key {}…, not the station key {}…", Self::short(&c.public_key), Self::short(&key)),
            );
            return false;
        }
        if !c.signature_valid(&key) {
            self.problem(ProblemKind::BadSignature, Some(c.seq), line, format!("{what}: the Ed25519 signature does not verify with the station key"));
            return false;
        }
        true
    }

    fn push(&mut self, r: ReadEntry) {
        let ReadEntry { seq, line, entry, payload_text } = r;
        self.position = self.expect_seq.min(seq);
        self.report.entries += 1;
        if self.report.first_seq.is_none() {
            self.report.first_seq = Some(seq);
        }
        self.report.last_seq = Some(self.report.last_seq.map_or(seq, |l| l.max(seq)));
        // Sequence.
        if seq < self.expect_seq {
            self.problem(
                ProblemKind::OutOfOrder,
                Some(seq),
                line,
                format!("comes where entry {} was expected: entries repeated, inserted or reordered", self.expect_seq),
            );
        } else if seq > self.expect_seq {
            let missing = if seq - 1 == self.expect_seq {
                format!("entry {} is", self.expect_seq)
            } else {
                format!("entries {}..{} are", self.expect_seq, seq - 1)
            };
            self.problem(ProblemKind::Missing, Some(seq), line, format!("{missing} not there before it: removed or reordered"));
        }
        // Kind.
        let kind = EntryKind::parse(&entry.kind);
        if kind.is_none() {
            self.problem(ProblemKind::UnknownKind, Some(seq), line, format!("kind `{}` is not one this build writes", entry.kind));
        }
        // Own hash (over the payload's canonical form, which the stored text must be).
        let encoded = canonical::encode(&entry.payload).and_then(|p| {
            if let Some(text) = &payload_text {
                if p != *text {
                    self.problem(ProblemKind::NotCanonical, Some(seq), line, "the stored payload text is not its canonical encoding: edited");
                }
            }
            encode_entry_with_payload(seq, &entry.time, &entry.kind, &p, &entry.prev_hash)
        });
        let computed = match encoded {
            Ok(text) => Some(sha256_hex(text.as_bytes())),
            Err(e) => {
                self.problem(ProblemKind::Modified, Some(seq), line, format!("the content has no canonical encoding ({e}): edited"));
                None
            }
        };
        if let Some(c) = &computed {
            if *c != entry.entry_hash {
                let renumbered = |s: u64| {
                    let mut e = entry.clone();
                    e.seq = s;
                    e.computed_hash().is_ok_and(|h| h == entry.entry_hash)
                };
                let why = if seq > 1 && renumbered(seq - 1) {
                    format!("it hashes as entry {} did: renumbered, an entry was inserted before it", seq - 1)
                } else if renumbered(seq + 1) {
                    format!("it hashes as entry {} did: renumbered, an entry was removed before it", seq + 1)
                } else {
                    "its content does not hash to its entry_hash: a field was changed".to_string()
                };
                self.problem(ProblemKind::Modified, Some(seq), line, why);
            }
            if let Some(h) = hash_bytes(c) {
                self.hashes.insert(seq, h);
            }
        }
        // Link.
        if entry.prev_hash != self.prev_hash && seq >= self.expect_seq {
            let before = seq.saturating_sub(1);
            let detail = if seq == self.expect_seq {
                format!("prev_hash is not the hash of entry {before}: an entry before it was removed, inserted or replaced")
            } else {
                format!("prev_hash does not chain to the last entry read ({})", self.expect_seq.saturating_sub(1))
            };
            self.problem(ProblemKind::BrokenLink, Some(seq), line, detail);
        }
        // Key binding.
        if kind == Some(EntryKind::DaemonStart) {
            if let (Some(named), Some(key)) = (entry.payload.get("station_key").and_then(Value::as_str), self.key.clone()) {
                if !named.eq_ignore_ascii_case(&key) {
                    self.problem(
                        ProblemKind::WrongKey,
                        Some(seq),
                        line,
                        format!("the daemon started with station key {}…, but the signatures are checked with {}…", Self::short(named), Self::short(&key)),
                    );
                }
            }
        }
        // Facts for the database cross-checks.
        match kind {
            Some(EntryKind::Verification) => {
                if let (Some(id), Some(h)) = (
                    entry.payload.get("verification_id").and_then(Value::as_i64),
                    entry.payload.get("verdict_sha256").and_then(Value::as_str),
                ) {
                    self.verifications.insert(id, (seq, h.to_string()));
                }
            }
            Some(EntryKind::RecordImport) => {
                if let (Some(id), Some(h)) = (
                    entry.payload.get("application_id").and_then(Value::as_str),
                    entry.payload.get("content_sha256").and_then(Value::as_str),
                ) {
                    self.imports.insert(id.to_string(), (seq, h.to_string()));
                }
            }
            _ => {}
        }
        if seq >= self.expect_seq {
            self.expect_seq = seq.saturating_add(1);
            self.prev_hash = entry.entry_hash;
        }
    }

    fn add_checkpoint(&mut self, c: Checkpoint, line: Option<u64>) {
        self.checkpoints.push((c, line));
    }

    /// Check the checkpoints against the hashes; compute the signed prefix.
    fn finish(mut self) -> (VerifyReport, Vec<Checkpoint>) {
        let last = self.report.last_seq.unwrap_or(self.anchor_seq);
        let mut signed_through = self.anchor_signed.then_some(self.anchor_seq);
        let mut valid = Vec::new();
        let mut last_good: Option<u64> = signed_through;
        let mut cps = std::mem::take(&mut self.checkpoints);
        cps.sort_by_key(|(c, _)| c.seq);
        for (c, line) in cps {
            if c.seq < self.anchor_seq {
                continue; // before the anchor: nothing left to check it against
            }
            if c.seq > last {
                self.problem(
                    ProblemKind::Truncated,
                    Some(c.seq),
                    line,
                    format!("a checkpoint signs entry {}, but the log ends at entry {last}: entries after it were removed", c.seq),
                );
                continue;
            }
            self.position = c.seq;
            let what = format!("the {} at entry {}", c.purpose.as_str(), c.seq);
            if !self.signature_holds(&c, line, &what) {
                continue;
            }
            match self.hashes.get(&c.seq) {
                Some(h) if hash_bytes(&c.entry_hash).as_ref() == Some(h) => {
                    self.report.valid_checkpoints += 1;
                    last_good = Some(last_good.map_or(c.seq, |g| g.max(c.seq)));
                    signed_through = last_good;
                    valid.push(c);
                }
                Some(_) => {
                    let since = last_good.map_or("the anchor".to_string(), |g| format!("entry {g}"));
                    self.problem(
                        ProblemKind::CheckpointMismatch,
                        Some(c.seq),
                        line,
                        format!("{what} signs a hash that entry {} does not have: an entry after {since} was changed and the chain re-hashed", c.seq),
                    );
                }
                None => self.problem(ProblemKind::Truncated, Some(c.seq), line, format!("{what}: entry {} is not there", c.seq)),
            }
        }
        self.report.signed_through = signed_through;
        self.report.unsigned_tail = match (self.report.last_seq, signed_through) {
            (None, _) => 0,
            (Some(l), Some(s)) => l.saturating_sub(s),
            (Some(l), None) => l.saturating_sub(self.anchor_seq),
        };
        // In chain order (stable: within a position, in the order found).
        self.problems.sort_by_key(|(position, _)| *position);
        if self.problems.len() > MAX_PROBLEMS {
            self.report.more_problems = (self.problems.len() - MAX_PROBLEMS) as u64;
            self.problems.truncate(MAX_PROBLEMS);
        }
        self.report.problems = self.problems.into_iter().map(|(_, p)| p).collect();
        (self.report, valid)
    }
}

fn entry_from_row(row: AuditRow) -> Result<ReadEntry, (Option<u64>, String)> {
    let seq = u64::try_from(row.seq).map_err(|_| (None, format!("sequence number {} is negative", row.seq)))?;
    let payload: Value = serde_json::from_str(&row.payload).map_err(|e| (Some(seq), format!("the payload is not JSON: {e}")))?;
    Ok(ReadEntry {
        seq,
        line: None,
        payload_text: Some(row.payload),
        entry: AuditEntry { seq, time: row.time, kind: row.kind, payload, prev_hash: row.prev_hash, entry_hash: row.entry_hash },
    })
}

fn checkpoint_from_row(row: &CheckpointRow) -> Result<Checkpoint, String> {
    let seq = u64::try_from(row.seq).map_err(|_| format!("checkpoint {}: sequence number {} is negative", row.id, row.seq))?;
    let purpose = Purpose::parse(&row.purpose).ok_or_else(|| format!("checkpoint {}: purpose `{}` is unknown", row.id, row.purpose))?;
    Ok(Checkpoint {
        seq,
        entry_hash: row.entry_hash.clone(),
        time: row.time.clone(),
        purpose,
        public_key: row.public_key.clone(),
        signature: row.signature.clone(),
    })
}

/// Verify the live database: the chain, its anchor, the checkpoints, and that every stored
/// verification since the log began (and every stored record imported in it) matches its entry.
pub fn verify_db(store: &Store, options: &VerifyOptions) -> VerifyReport {
    let source = format!("database {}", store.path().display());
    let result = store.audit_snapshot(|snap| -> Result<VerifyReport, idcheck_store::StoreError> {
        let checkpoint_rows = snap.checkpoints()?;
        let (_, first, _) = snap.bounds()?;
        // The station key: the auditor's, else the first daemon_start's, else the first checkpoint's.
        let key = match &options.expected_key {
            Some(k) => Some(k.to_ascii_lowercase()),
            None => snap
                .first_payload_of_kind(EntryKind::DaemonStart.as_str())?
                .and_then(|p| serde_json::from_str::<Value>(&p).ok())
                .and_then(|v| v.get("station_key").and_then(Value::as_str).map(str::to_string))
                .or_else(|| checkpoint_rows.first().map(|c| c.public_key.clone())),
        };
        let mut chain = Chain::new(source.clone(), key);
        let mut checkpoints = Vec::new();
        for row in &checkpoint_rows {
            match checkpoint_from_row(row) {
                Ok(c) => checkpoints.push(c),
                Err(m) => chain.problem(ProblemKind::Malformed, u64::try_from(row.seq).ok(), None, m),
            }
        }
        // The anchor.
        let first = first.and_then(|f| u64::try_from(f).ok());
        if let Some(first) = first.filter(|&f| f > 1) {
            let anchor_seq = first - 1;
            let first_prev = snap.entry(first as i64)?.map(|r| r.prev_hash).unwrap_or_default();
            let anchor = checkpoints.iter().find(|c| c.seq == anchor_seq && c.purpose == Purpose::Anchor).cloned();
            match anchor {
                Some(a) => {
                    let ok = chain.signature_holds(&a, None, &format!("the prune anchor at entry {anchor_seq}"));
                    if ok && a.entry_hash != first_prev {
                        chain.problem(ProblemKind::Anchor, Some(first), None, format!("prev_hash is not the hash signed by the prune anchor at entry {anchor_seq}"));
                    }
                    chain.start_at(anchor_seq, &a.entry_hash, ok);
                    if ok {
                        chain.report.valid_checkpoints += 1;
                    }
                }
                None => {
                    chain.problem(
                        ProblemKind::Anchor,
                        Some(first),
                        None,
                        format!("the log starts at entry {first} but no signed prune anchor covers entries 1..{anchor_seq}: removed from the head"),
                    );
                    chain.start_at(anchor_seq, &first_prev, false);
                }
            }
            checkpoints.retain(|c| !(c.seq == anchor_seq && c.purpose == Purpose::Anchor));
        }
        snap.for_each_entry(0, i64::MAX, &mut |row| {
            match entry_from_row(row) {
                Ok(e) => chain.push(e),
                Err((seq, m)) => chain.problem(ProblemKind::Malformed, seq, None, m),
            }
            ControlFlow::Continue(())
        })?;
        for c in checkpoints {
            chain.add_checkpoint(c, None);
        }
        // Cross-checks with the stored rows (filed under their entry, or after the chain).
        chain.position = u64::MAX;
        let min_verification = chain.verifications.keys().next().copied();
        let verifications = std::mem::take(&mut chain.verifications);
        let imports = std::mem::take(&mut chain.imports);
        if let Some(min_id) = min_verification {
            let rows = snap.verification_verdicts(min_id)?;
            let mut seen = std::collections::HashSet::new();
            for (id, verdict_json) in rows {
                seen.insert(id);
                match verifications.get(&id) {
                    Some((seq, h)) if *h != sha256_hex(verdict_json.as_bytes()) => chain.problem(
                        ProblemKind::RowMismatch,
                        Some(*seq),
                        None,
                        format!("the stored verdict of verification {id} is not the one logged (its SHA-256 differs)"),
                    ),
                    Some(_) => {}
                    None => chain.problem(ProblemKind::RowMismatch, None, None, format!("verification {id} is stored but has no audit entry")),
                }
            }
            for (id, (seq, _)) in &verifications {
                if !seen.contains(id) {
                    chain.problem(ProblemKind::RowMismatch, Some(*seq), None, format!("verification {id} is logged but its row is gone"));
                }
            }
        }
        for (id, content) in snap.record_hashes()? {
            if let Some((seq, h)) = imports.get(&id) {
                if *h != content {
                    chain.problem(
                        ProblemKind::RowMismatch,
                        Some(*seq),
                        None,
                        format!("stored record {id} is not the content last imported (its content hash differs)"),
                    );
                }
            }
        }
        Ok(chain.finish().0)
    });
    match result {
        Ok(r) => r,
        Err(e) => VerifyReport {
            source,
            problems: vec![Problem { kind: ProblemKind::Malformed, seq: None, line: None, detail: format!("cannot read the audit tables: {e}") }],
            ..Default::default()
        },
    }
}

/// Verify an export read from `reader` (JSON Lines or CSV, detected from the first line).
pub fn verify_export(reader: &mut dyn BufRead, source: &str, options: &VerifyOptions) -> VerifyReport {
    let mut records = export::RecordReader::new(reader);
    let source = format!("export {source}");
    let bad = |detail: String, line: Option<u64>| VerifyReport {
        source: source.clone(),
        problems: vec![Problem { kind: ProblemKind::Malformed, seq: None, line, detail }],
        ..Default::default()
    };
    let header: ExportHeader = match records.next_record() {
        Some((line, Ok(ExportRecord::Header(h)))) => {
            let _ = line;
            h
        }
        Some((line, Ok(_))) => return bad("the first record is not the export header".into(), Some(line)),
        Some((line, Err(e))) => return bad(format!("not an audit export header: {e}"), Some(line)),
        None => return bad("the file is empty".into(), None),
    };
    let key = match (&options.expected_key, &header.station_key) {
        (Some(k), _) => Some(k.to_ascii_lowercase()),
        (None, k) => k.clone(),
    };
    let mut chain = Chain::new(source, key.clone());
    chain.report.from = header.from.clone();
    chain.report.to = header.to.clone();
    chain.report.exported_at = Some(header.exported_at.clone());
    if let (Some(expected), Some(named)) = (&options.expected_key, &header.station_key) {
        if !expected.eq_ignore_ascii_case(named) {
            chain.problem(
                ProblemKind::WrongKey,
                None,
                Some(1),
                format!("the export names station key {}…, not the expected {}…", Chain::short(named), Chain::short(expected)),
            );
        }
    }
    // The anchor.
    match records.next_record() {
        Some((line, Ok(ExportRecord::Anchor(a)))) => match a {
            ExportAnchor::Genesis => chain.start_at(0, GENESIS, false),
            ExportAnchor::Entry(e) => {
                if !e.computed_hash().is_ok_and(|h| h == e.entry_hash) {
                    chain.problem(ProblemKind::Anchor, Some(e.seq), Some(line), "the anchor entry does not hash to its entry_hash: edited");
                }
                match &header.from {
                    Some(from) if e.time.as_str() >= from.as_str() => chain.problem(
                        ProblemKind::Anchor,
                        Some(e.seq),
                        Some(line),
                        format!("the anchor entry ({}) is inside the range that starts {from}: entries at the start were removed", e.time),
                    ),
                    Some(_) => {}
                    None => chain.problem(
                        ProblemKind::Anchor,
                        Some(e.seq),
                        Some(line),
                        "an export from the start of the log must begin at the genesis or a signed prune anchor, not after an unsigned entry",
                    ),
                }
                let h = e.computed_hash().unwrap_or_default();
                chain.start_at(e.seq, &h, false);
            }
            ExportAnchor::Checkpoint(c) => {
                let ok = c.purpose == Purpose::Anchor && chain.signature_holds(&c, Some(line), &format!("the prune anchor at entry {}", c.seq));
                if c.purpose != Purpose::Anchor {
                    chain.problem(ProblemKind::Anchor, Some(c.seq), Some(line), "the anchor checkpoint was not signed as a prune anchor");
                }
                if ok {
                    chain.report.valid_checkpoints += 1;
                }
                chain.start_at(c.seq, &c.entry_hash, ok);
            }
        },
        Some((line, Ok(_))) => chain.problem(ProblemKind::Anchor, None, Some(line), "the record after the header is not the anchor"),
        Some((line, Err(e))) => chain.problem(ProblemKind::Malformed, None, Some(line), format!("the anchor: {e}")),
        None => chain.problem(ProblemKind::Truncated, None, None, "the file ends after its header"),
    }
    let mut checkpoint_lines = 0u64;
    while let Some((line, rec)) = records.next_record() {
        match rec {
            Ok(ExportRecord::Entry(e)) => chain.push(ReadEntry { seq: e.seq, line: Some(line), entry: e, payload_text: None }),
            Ok(ExportRecord::Checkpoint(c)) => {
                checkpoint_lines += 1;
                chain.add_checkpoint(c, Some(line));
            }
            Ok(ExportRecord::Header(_)) => chain.problem(ProblemKind::Malformed, None, Some(line), "a second export header"),
            Ok(ExportRecord::Anchor(_)) => chain.problem(ProblemKind::Malformed, None, Some(line), "a second anchor"),
            Err(e) => chain.problem(ProblemKind::Malformed, None, Some(line), e),
        }
    }
    // What the header announced.
    let (entries, last) = (chain.report.entries, chain.report.last_seq);
    if entries != header.entries || last != header.last_seq {
        let shown = |l: Option<u64>| l.map_or("none".to_string(), |l| l.to_string());
        chain.problem(
            ProblemKind::Truncated,
            last.map(|l| l.saturating_add(1)),
            None,
            format!(
                "the header announces {} entries ending at entry {}, the file holds {entries} ending at entry {}: truncated or padded",
                header.entries,
                shown(header.last_seq),
                shown(last)
            ),
        );
    }
    if checkpoint_lines != header.checkpoints {
        chain.problem(
            ProblemKind::Truncated,
            None,
            None,
            format!("the header announces {} checkpoints, the file holds {checkpoint_lines}", header.checkpoints),
        );
    }
    let to = header.to.clone();
    let (mut report, valid) = chain.finish();
    // The range end must be covered by a head checkpoint signed after it.
    if let Some(to) = to {
        let closed = valid.iter().any(|c| c.purpose == Purpose::Checkpoint && c.time.as_str() >= to.as_str());
        if !closed {
            report.problems.push(Problem {
                kind: ProblemKind::RangeNotClosed,
                seq: report.last_seq,
                line: None,
                detail: format!("no valid checkpoint signed at or after the end of the range ({to}): entries at the end could have been removed"),
            });
        }
    }
    report
}

/// Check the entries after a trusted, signed entry `base_seq` (hash `base_hash`) through `head`:
/// hashes, links, sequence and key binding (what `Store::audit_checkpoint` needs before signing).
pub(crate) fn verify_segment(
    store: &Store,
    options: &VerifyOptions,
    base_seq: u64,
    base_hash: &str,
    head: u64,
) -> Result<Vec<Problem>, idcheck_store::StoreError> {
    store.audit_snapshot(|snap| {
        let mut chain = Chain::new(format!("database {}", store.path().display()), options.expected_key.clone());
        chain.start_at(base_seq, base_hash, true);
        let (from, to) = (i64::try_from(base_seq.saturating_add(1)).unwrap_or(i64::MAX), i64::try_from(head).unwrap_or(i64::MAX));
        snap.for_each_entry(from, to, &mut |row| {
            match entry_from_row(row) {
                Ok(e) => chain.push(e),
                Err((seq, m)) => chain.problem(ProblemKind::Malformed, seq, None, m),
            }
            ControlFlow::Continue(())
        })?;
        if chain.report.last_seq.unwrap_or(base_seq) < head {
            chain.problem(ProblemKind::Truncated, Some(head), None, format!("entries up to {head} were there a moment ago"));
        }
        Ok(chain.finish().0.problems)
    })
}

//! The offline export of the log (and the archive written before a prune), and its reader.
//!
//! JSON Lines, one canonical JSON object per line, each with a `record` field:
//! 1. `header`: `format` ("idcheck-audit-export"), `version` (1), `kind` (`export` or `archive`),
//!    `station_key` (hex Ed25519 public key, or null), `from`, `to` (the range, audit time format;
//!    `to` is clamped to `exported_at`; an archive has neither), `exported_at`, `first_seq`,
//!    `last_seq`, `entries`, `checkpoints` (the numbers of entry and checkpoint records that follow).
//! 2. `anchor`: what the first entry chains to; `type` `genesis` (`seq` 0, `entry_hash` 64 zeros),
//!    `entry` (the whole entry before the range, with its fields; its time is before `from`), or
//!    `checkpoint` (the signed prune anchor, with the checkpoint fields).
//! 3. `entry` records (`seq`, `time`, `kind`, `payload`, `prev_hash`, `entry_hash`), in order, each
//!    followed by the `checkpoint` records (`seq`, `entry_hash`, `time`, `purpose`, `public_key`,
//!    `signature`) that sign it.
//!
//! The export runs from the first entry at or after `from` through the first head checkpoint
//! signed at or after `to` (so a signature made after the end of the range covers it; entries past
//! `to` that this needs are included), or through the head when there is none.
//!
//! CSV (RFC 4180, one line per record): columns `record,seq,time,kind,prev_hash,entry_hash,payload,
//! purpose,public_key,signature`; `record` is `header` (the header object, without `record`, in
//! `payload`), `anchor:genesis`, `anchor:entry`, `anchor:checkpoint`, `entry` or `checkpoint`;
//! `payload` holds the canonical JSON payload; unused cells are empty. Written and read through
//! `spreadsheet` (the `csv` crate; a cell starting like a formula, or with `'`, carries a leading
//! `'` that the reader removes, so every cell reads back exactly; a cell may hold a line break).

use std::io::{BufRead, Write};
use std::ops::ControlFlow;

use serde_json::{json, Map, Value};

use idcheck_core::spreadsheet::{self, LineEnd};
use idcheck_store::{AuditSnapshot, CheckpointRow, StoreError};

use super::canonical;
use super::entry::{AuditEntry, Checkpoint, Purpose, GENESIS};
use super::AuditError;

pub const FORMAT_NAME: &str = "idcheck-audit-export";
pub const FORMAT_VERSION: u64 = 1;
const CSV_COLUMNS: [&str; 10] =
    ["record", "seq", "time", "kind", "prev_hash", "entry_hash", "payload", "purpose", "public_key", "signature"];

/// JSON Lines or CSV.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExportFormat {
    #[default]
    Jsonl,
    Csv,
}

impl ExportFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            ExportFormat::Jsonl => "jsonl",
            ExportFormat::Csv => "csv",
        }
    }
    pub fn parse(s: &str) -> Option<ExportFormat> {
        match s {
            "jsonl" => Some(ExportFormat::Jsonl),
            "csv" => Some(ExportFormat::Csv),
            _ => None,
        }
    }
}

/// What to export.
#[derive(Debug, Clone, Default)]
pub struct ExportOptions {
    /// Start of the range (audit time format, see `entry::parse_user_time`); none: the log's start.
    pub from: Option<String>,
    /// End of the range (audit time format); none: now.
    pub to: Option<String>,
    pub format: ExportFormat,
    /// Who asked (logged in the `audit_export` entry): `cli:<user>`, `auditor-socket:<peer>`.
    pub requested_by: String,
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportSummary {
    pub entries: u64,
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
    pub checkpoints: u64,
    /// `genesis`, `entry N` or `prune anchor N`.
    pub anchor: String,
    pub from: Option<String>,
    pub to: Option<String>,
    pub exported_at: String,
    /// The station key named in the header.
    pub station_key: Option<String>,
    /// Whether a fresh checkpoint was signed for this export.
    pub signed_now: bool,
    /// The `audit_export` entry that logged this export.
    pub export_entry: u64,
}

/// The export header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportHeader {
    pub kind: String,
    pub station_key: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub exported_at: String,
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
    pub entries: u64,
    pub checkpoints: u64,
}

/// The anchor record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportAnchor {
    Genesis,
    Entry(AuditEntry),
    Checkpoint(Checkpoint),
}

/// One record of an export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportRecord {
    Header(ExportHeader),
    Anchor(ExportAnchor),
    Entry(AuditEntry),
    Checkpoint(Checkpoint),
}

fn write_err(what: &'static str) -> impl FnOnce(std::io::Error) -> AuditError {
    move |source| AuditError::Write { what, source }
}

pub(crate) fn checkpoint_from_row(r: &CheckpointRow) -> Option<Checkpoint> {
    Some(Checkpoint {
        seq: u64::try_from(r.seq).ok()?,
        entry_hash: r.entry_hash.clone(),
        time: r.time.clone(),
        purpose: Purpose::parse(&r.purpose)?,
        public_key: r.public_key.clone(),
        signature: r.signature.clone(),
    })
}

fn entry_value(e: &AuditEntry) -> Value {
    json!({
        "seq": e.seq, "time": e.time, "kind": e.kind, "payload": e.payload,
        "prev_hash": e.prev_hash, "entry_hash": e.entry_hash,
    })
}

fn checkpoint_value(c: &Checkpoint) -> Value {
    json!({
        "seq": c.seq, "entry_hash": c.entry_hash, "time": c.time, "purpose": c.purpose.as_str(),
        "public_key": c.public_key, "signature": c.signature,
    })
}

fn header_value(h: &ExportHeader) -> Value {
    json!({
        "format": FORMAT_NAME, "version": FORMAT_VERSION, "kind": h.kind, "station_key": h.station_key,
        "from": h.from, "to": h.to, "exported_at": h.exported_at, "first_seq": h.first_seq,
        "last_seq": h.last_seq, "entries": h.entries, "checkpoints": h.checkpoints,
    })
}

fn with_record(mut v: Value, record: &str, extra: &[(&str, &str)]) -> Value {
    if let Value::Object(m) = &mut v {
        m.insert("record".into(), Value::String(record.into()));
        for (k, x) in extra {
            m.insert((*k).into(), Value::String((*x).into()));
        }
    }
    v
}

/// Writes records in one format.
struct RecordWriter<'a> {
    out: &'a mut dyn Write,
    format: ExportFormat,
}

impl RecordWriter<'_> {
    fn line(&mut self, text: &str) -> Result<(), AuditError> {
        self.out.write_all(text.as_bytes()).map_err(write_err("export"))?;
        self.out.write_all(b"\n").map_err(write_err("export"))
    }

    fn json(&mut self, v: &Value) -> Result<(), AuditError> {
        let text = canonical::encode(v).map_err(|e| AuditError::Invalid(format!("export record: {e}")))?;
        self.line(&text)
    }

    fn csv(&mut self, cells: [&str; 10]) -> Result<(), AuditError> {
        let row = spreadsheet::row(&cells, LineEnd::Lf).map_err(|e| AuditError::Invalid(format!("export csv row: {e}")))?;
        self.out.write_all(&row).map_err(write_err("export"))
    }

    fn payload_text(e: &AuditEntry) -> Result<String, AuditError> {
        canonical::encode(&e.payload).map_err(|err| AuditError::Invalid(format!("entry {}: {err}", e.seq)))
    }

    fn header(&mut self, h: &ExportHeader) -> Result<(), AuditError> {
        match self.format {
            ExportFormat::Jsonl => self.json(&with_record(header_value(h), "header", &[])),
            ExportFormat::Csv => {
                let head = spreadsheet::row(&CSV_COLUMNS, LineEnd::Lf).map_err(|e| AuditError::Invalid(format!("export csv header: {e}")))?;
                self.out.write_all(&head).map_err(write_err("export"))?;
                let text = canonical::encode(&header_value(h)).map_err(|e| AuditError::Invalid(format!("export header: {e}")))?;
                self.csv(["header", "", "", "", "", "", &text, "", "", ""])
            }
        }
    }

    fn anchor(&mut self, a: &ExportAnchor) -> Result<(), AuditError> {
        match (self.format, a) {
            (ExportFormat::Jsonl, ExportAnchor::Genesis) => {
                self.json(&json!({"record": "anchor", "type": "genesis", "seq": 0, "entry_hash": GENESIS}))
            }
            (ExportFormat::Jsonl, ExportAnchor::Entry(e)) => self.json(&with_record(entry_value(e), "anchor", &[("type", "entry")])),
            (ExportFormat::Jsonl, ExportAnchor::Checkpoint(c)) => {
                self.json(&with_record(checkpoint_value(c), "anchor", &[("type", "checkpoint")]))
            }
            (ExportFormat::Csv, ExportAnchor::Genesis) => self.csv(["anchor:genesis", "0", "", "", "", GENESIS, "", "", "", ""]),
            (ExportFormat::Csv, ExportAnchor::Entry(e)) => {
                let p = Self::payload_text(e)?;
                self.csv(["anchor:entry", &e.seq.to_string(), &e.time, &e.kind, &e.prev_hash, &e.entry_hash, &p, "", "", ""])
            }
            (ExportFormat::Csv, ExportAnchor::Checkpoint(c)) => self.csv([
                "anchor:checkpoint",
                &c.seq.to_string(),
                &c.time,
                "",
                "",
                &c.entry_hash,
                "",
                c.purpose.as_str(),
                &c.public_key,
                &c.signature,
            ]),
        }
    }

    fn entry(&mut self, e: &AuditEntry) -> Result<(), AuditError> {
        match self.format {
            ExportFormat::Jsonl => self.json(&with_record(entry_value(e), "entry", &[])),
            ExportFormat::Csv => {
                let p = Self::payload_text(e)?;
                self.csv(["entry", &e.seq.to_string(), &e.time, &e.kind, &e.prev_hash, &e.entry_hash, &p, "", "", ""])
            }
        }
    }

    fn checkpoint(&mut self, c: &Checkpoint) -> Result<(), AuditError> {
        match self.format {
            ExportFormat::Jsonl => self.json(&with_record(checkpoint_value(c), "checkpoint", &[])),
            ExportFormat::Csv => self.csv([
                "checkpoint",
                &c.seq.to_string(),
                &c.time,
                "",
                "",
                &c.entry_hash,
                "",
                c.purpose.as_str(),
                &c.public_key,
                &c.signature,
            ]),
        }
    }
}

/// The station key of a log: the first `daemon_start` entry's, else the first checkpoint's.
fn station_key_of(snap: &AuditSnapshot<'_>, checkpoints: &[CheckpointRow]) -> Result<Option<String>, StoreError> {
    Ok(snap
        .first_payload_of_kind(super::EntryKind::DaemonStart.as_str())?
        .and_then(|p| serde_json::from_str::<Value>(&p).ok())
        .and_then(|v| v.get("station_key").and_then(Value::as_str).map(str::to_string))
        .or_else(|| checkpoints.first().map(|c| c.public_key.clone())))
}

/// Write entries `start..=end` with their anchor and checkpoints.
pub(crate) struct RangeSpec {
    pub kind: &'static str,
    pub from: Option<String>,
    pub to: Option<String>,
    pub exported_at: String,
    pub station_key: Option<String>,
    pub start: u64,
    pub end: u64,
}

pub(crate) fn write_range(snap: &AuditSnapshot<'_>, spec: &RangeSpec, format: ExportFormat, out: &mut dyn Write) -> Result<ExportSummary, AuditError> {
    let checkpoint_rows = snap.checkpoints()?;
    let (_, log_first, _) = snap.bounds()?;
    let log_first = log_first.and_then(|f| u64::try_from(f).ok()).unwrap_or(1);
    let anchor_seq = spec.start.saturating_sub(1);
    let station_key = match &spec.station_key {
        Some(k) => Some(k.clone()),
        None => station_key_of(snap, &checkpoint_rows)?,
    };
    let checkpoints: Vec<Checkpoint> = checkpoint_rows.iter().filter_map(checkpoint_from_row).collect();
    let (anchor, anchor_name) = if spec.start <= 1 {
        (ExportAnchor::Genesis, "genesis".to_string())
    } else if spec.start <= log_first {
        match checkpoints.iter().find(|c| c.seq == anchor_seq && c.purpose == Purpose::Anchor) {
            Some(c) => (ExportAnchor::Checkpoint(c.clone()), format!("prune anchor {anchor_seq}")),
            None => return Err(AuditError::Invalid(format!("the log starts at entry {log_first} without a signed prune anchor"))),
        }
    } else {
        let row = snap
            .entry(anchor_seq as i64)?
            .ok_or_else(|| AuditError::Invalid(format!("entry {anchor_seq} (the anchor of the export) is missing")))?;
        let payload = serde_json::from_str(&row.payload).unwrap_or(Value::Null);
        let e = AuditEntry { seq: anchor_seq, time: row.time, kind: row.kind, payload, prev_hash: row.prev_hash, entry_hash: row.entry_hash };
        (ExportAnchor::Entry(e), format!("entry {anchor_seq}"))
    };
    let (start_i, end_i) = (i64::try_from(spec.start).unwrap_or(i64::MAX), i64::try_from(spec.end).unwrap_or(i64::MAX));
    let (entries, last) = if spec.end >= spec.start { snap.count_range(start_i, end_i)? } else { (0, None) };
    let included: Vec<&Checkpoint> = checkpoints
        .iter()
        .filter(|c| c.seq >= anchor_seq && c.seq <= spec.end.max(anchor_seq))
        .filter(|c| !(matches!(anchor, ExportAnchor::Checkpoint(_)) && c.seq == anchor_seq && c.purpose == Purpose::Anchor))
        .collect();
    let first_seq = (entries > 0).then_some(spec.start);
    let header = ExportHeader {
        kind: spec.kind.to_string(),
        station_key: station_key.clone(),
        from: spec.from.clone(),
        to: spec.to.clone(),
        exported_at: spec.exported_at.clone(),
        first_seq,
        last_seq: last.and_then(|l| u64::try_from(l).ok()),
        entries,
        checkpoints: included.len() as u64,
    };
    let mut w = RecordWriter { out, format };
    w.header(&header)?;
    w.anchor(&anchor)?;
    let mut pending = included.iter().peekable();
    while let Some(c) = pending.next_if(|c| c.seq <= anchor_seq) {
        w.checkpoint(c)?;
    }
    let mut failure: Option<AuditError> = None;
    if spec.end >= spec.start {
        snap.for_each_entry(start_i, end_i, &mut |row| {
            let seq = u64::try_from(row.seq).unwrap_or(0);
            let payload = serde_json::from_str(&row.payload).unwrap_or(Value::Null);
            let e = AuditEntry { seq, time: row.time, kind: row.kind, payload, prev_hash: row.prev_hash, entry_hash: row.entry_hash };
            let mut step = || -> Result<(), AuditError> {
                w.entry(&e)?;
                while let Some(c) = pending.next_if(|c| c.seq <= seq) {
                    w.checkpoint(c)?;
                }
                Ok(())
            };
            match step() {
                Ok(()) => ControlFlow::Continue(()),
                Err(err) => {
                    failure = Some(err);
                    ControlFlow::Break(())
                }
            }
        })?;
    }
    if let Some(err) = failure {
        return Err(err);
    }
    for c in pending {
        w.checkpoint(c)?;
    }
    w.out.flush().map_err(write_err("export"))?;
    Ok(ExportSummary {
        entries,
        first_seq,
        last_seq: header.last_seq,
        checkpoints: header.checkpoints,
        anchor: anchor_name,
        from: header.from,
        to: header.to,
        exported_at: header.exported_at,
        station_key,
        signed_now: false,
        export_entry: 0,
    })
}

// ---- reading ----

/// Reads the records of an export, JSON Lines or CSV (detected from the first line).
pub struct RecordReader<'a> {
    state: ReadState<'a>,
}

enum ReadState<'a> {
    /// Nothing read yet: the first byte tells JSON Lines (`{`) from CSV.
    Start(&'a mut dyn BufRead),
    Jsonl { input: &'a mut dyn BufRead, line: u64 },
    /// `skipped`: blank lines before the header; `header`: whether it has been checked.
    Csv { rows: csv::StringRecordsIntoIter<&'a mut dyn BufRead>, skipped: u64, header: bool },
    Done,
}

fn field<'v>(m: &'v Map<String, Value>, k: &str) -> Result<&'v Value, String> {
    m.get(k).ok_or_else(|| format!("field `{k}` is missing"))
}
fn text_field(m: &Map<String, Value>, k: &str) -> Result<String, String> {
    field(m, k)?.as_str().map(str::to_string).ok_or_else(|| format!("field `{k}` is not a string"))
}
fn opt_text_field(m: &Map<String, Value>, k: &str) -> Result<Option<String>, String> {
    match field(m, k)? {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        _ => Err(format!("field `{k}` is not a string or null")),
    }
}
fn uint_field(m: &Map<String, Value>, k: &str) -> Result<u64, String> {
    field(m, k)?.as_u64().ok_or_else(|| format!("field `{k}` is not a non-negative integer"))
}
fn opt_uint_field(m: &Map<String, Value>, k: &str) -> Result<Option<u64>, String> {
    match field(m, k)? {
        Value::Null => Ok(None),
        v => v.as_u64().map(Some).ok_or_else(|| format!("field `{k}` is not a non-negative integer or null")),
    }
}
fn only_fields(m: &Map<String, Value>, allowed: &[&str]) -> Result<(), String> {
    match m.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(format!("unknown field `{k}`")),
        None => Ok(()),
    }
}

const ENTRY_FIELDS: [&str; 6] = ["seq", "time", "kind", "payload", "prev_hash", "entry_hash"];
const CHECKPOINT_FIELDS: [&str; 6] = ["seq", "entry_hash", "time", "purpose", "public_key", "signature"];

fn entry_of(m: &Map<String, Value>, extra: &[&str]) -> Result<AuditEntry, String> {
    let allowed: Vec<&str> = ENTRY_FIELDS.iter().chain(extra).copied().collect();
    only_fields(m, &allowed)?;
    Ok(AuditEntry {
        seq: uint_field(m, "seq")?,
        time: text_field(m, "time")?,
        kind: text_field(m, "kind")?,
        payload: field(m, "payload")?.clone(),
        prev_hash: text_field(m, "prev_hash")?,
        entry_hash: text_field(m, "entry_hash")?,
    })
}

fn checkpoint_of(m: &Map<String, Value>, extra: &[&str]) -> Result<Checkpoint, String> {
    let allowed: Vec<&str> = CHECKPOINT_FIELDS.iter().chain(extra).copied().collect();
    only_fields(m, &allowed)?;
    let purpose = text_field(m, "purpose")?;
    Ok(Checkpoint {
        seq: uint_field(m, "seq")?,
        entry_hash: text_field(m, "entry_hash")?,
        time: text_field(m, "time")?,
        purpose: Purpose::parse(&purpose).ok_or_else(|| format!("purpose `{purpose}` is unknown"))?,
        public_key: text_field(m, "public_key")?,
        signature: text_field(m, "signature")?,
    })
}

/// A record from its JSON object form.
pub fn record_from_value(v: &Value) -> Result<ExportRecord, String> {
    let m = v.as_object().ok_or("not a JSON object")?;
    let record = text_field(m, "record")?;
    match record.as_str() {
        "header" => {
            only_fields(
                m,
                &["record", "format", "version", "kind", "station_key", "from", "to", "exported_at", "first_seq", "last_seq", "entries", "checkpoints"],
            )?;
            if text_field(m, "format")? != FORMAT_NAME {
                return Err(format!("format is not `{FORMAT_NAME}`"));
            }
            let version = uint_field(m, "version")?;
            if version != FORMAT_VERSION {
                return Err(format!("version {version} is not {FORMAT_VERSION}"));
            }
            Ok(ExportRecord::Header(ExportHeader {
                kind: text_field(m, "kind")?,
                station_key: opt_text_field(m, "station_key")?,
                from: opt_text_field(m, "from")?,
                to: opt_text_field(m, "to")?,
                exported_at: text_field(m, "exported_at")?,
                first_seq: opt_uint_field(m, "first_seq")?,
                last_seq: opt_uint_field(m, "last_seq")?,
                entries: uint_field(m, "entries")?,
                checkpoints: uint_field(m, "checkpoints")?,
            }))
        }
        "anchor" => match text_field(m, "type")?.as_str() {
            "genesis" => {
                only_fields(m, &["record", "type", "seq", "entry_hash"])?;
                if uint_field(m, "seq")? != 0 || text_field(m, "entry_hash")? != GENESIS {
                    return Err("a genesis anchor is entry 0 with the all-zero hash".into());
                }
                Ok(ExportRecord::Anchor(ExportAnchor::Genesis))
            }
            "entry" => Ok(ExportRecord::Anchor(ExportAnchor::Entry(entry_of(m, &["record", "type"])?))),
            "checkpoint" => Ok(ExportRecord::Anchor(ExportAnchor::Checkpoint(checkpoint_of(m, &["record", "type"])?))),
            t => Err(format!("anchor type `{t}` is unknown")),
        },
        "entry" => Ok(ExportRecord::Entry(entry_of(m, &["record"])?)),
        "checkpoint" => Ok(ExportRecord::Checkpoint(checkpoint_of(m, &["record"])?)),
        r => Err(format!("record type `{r}` is unknown")),
    }
}

/// A CSV row as the JSON object of the same record.
pub fn csv_row_to_value(cells: &[String]) -> Result<Value, String> {
    if cells.len() != CSV_COLUMNS.len() {
        return Err(format!("{} cells, expected {}", cells.len(), CSV_COLUMNS.len()));
    }
    let cell = |name: &str| -> &str {
        CSV_COLUMNS.iter().position(|c| *c == name).and_then(|i| cells.get(i)).map_or("", String::as_str)
    };
    let seq = || -> Result<Value, String> {
        cell("seq").parse::<u64>().map(Value::from).map_err(|_| format!("seq `{}` is not a number", cell("seq")))
    };
    let json_cell = |name: &str| -> Result<Value, String> {
        serde_json::from_str(cell(name)).map_err(|e| format!("{name} is not JSON: {e}"))
    };
    let s = |name: &str| Value::String(cell(name).to_string());
    let record = cell("record");
    let (base, anchor_type) = match record.split_once(':') {
        Some(("anchor", t)) => ("anchor", Some(t)),
        _ => (record, None),
    };
    let mut m = Map::new();
    match (base, anchor_type) {
        ("header", None) => {
            let Value::Object(h) = json_cell("payload")? else { return Err("the header cell is not a JSON object".into()) };
            m = h;
        }
        ("anchor", Some("genesis")) => {
            m.insert("seq".into(), seq()?);
            m.insert("entry_hash".into(), s("entry_hash"));
        }
        ("entry", None) | ("anchor", Some("entry")) => {
            m.insert("seq".into(), seq()?);
            for k in ["time", "kind", "prev_hash", "entry_hash"] {
                m.insert(k.into(), s(k));
            }
            m.insert("payload".into(), json_cell("payload")?);
        }
        ("checkpoint", None) | ("anchor", Some("checkpoint")) => {
            m.insert("seq".into(), seq()?);
            for k in ["entry_hash", "time", "purpose", "public_key", "signature"] {
                m.insert(k.into(), s(k));
            }
        }
        _ => return Err(format!("record type `{record}` is unknown")),
    }
    m.insert("record".into(), Value::String(base.into()));
    if let Some(t) = anchor_type {
        m.insert("type".into(), Value::String(t.into()));
    }
    Ok(Value::Object(m))
}

impl<'a> RecordReader<'a> {
    pub fn new(input: &'a mut dyn BufRead) -> Self {
        RecordReader { state: ReadState::Start(input) }
    }

    /// The next record and its line number; none at the end of the input.
    pub fn next_record(&mut self) -> Option<(u64, Result<ExportRecord, String>)> {
        loop {
            match std::mem::replace(&mut self.state, ReadState::Done) {
                ReadState::Done => return None,
                ReadState::Start(input) => match Self::detect(input) {
                    Ok(state) => self.state = state,
                    Err(e) => return Some((1, Err(format!("cannot read: {e}")))),
                },
                ReadState::Jsonl { input, line } => {
                    let (line, got, go_on) = Self::next_line(input, line)?;
                    if go_on {
                        self.state = ReadState::Jsonl { input, line };
                    }
                    return Some((line, got));
                }
                ReadState::Csv { mut rows, skipped, header } => {
                    let next = rows.next()?;
                    let line = skipped + next.as_ref().ok().and_then(|r| r.position()).map_or(0, |p| p.line());
                    let rec = match next {
                        Ok(r) => r,
                        Err(e) => {
                            let io = matches!(e.kind(), csv::ErrorKind::Io(_));
                            let line = e.position().map_or(line, |p| skipped + p.line());
                            if !io {
                                self.state = ReadState::Csv { rows, skipped, header };
                            }
                            let what = match e.kind() {
                                csv::ErrorKind::Utf8 { .. } => "not UTF-8".to_string(),
                                csv::ErrorKind::Io(io) => format!("cannot read: {io}"),
                                _ => format!("not CSV: {e}"),
                            };
                            return Some((line, Err(what)));
                        }
                    };
                    self.state = ReadState::Csv { rows, skipped, header: true };
                    if rec.len() == 1 && rec.get(0).is_some_and(|c| c.trim().is_empty()) {
                        continue;
                    }
                    let cells: Vec<String> = rec.iter().map(|c| spreadsheet::unguard(c).to_string()).collect();
                    if !header {
                        if cells != CSV_COLUMNS {
                            return Some((line, Err(format!("neither a JSON object nor the CSV header `{}`", CSV_COLUMNS.join(",")))));
                        }
                        continue;
                    }
                    return Some((line, csv_row_to_value(&cells).and_then(|v| record_from_value(&v))));
                }
            }
        }
    }

    /// Skips leading blank lines and tells JSON Lines from CSV by the first byte.
    fn detect(input: &'a mut dyn BufRead) -> std::io::Result<ReadState<'a>> {
        let mut skipped = 0u64;
        loop {
            let buf = input.fill_buf()?;
            let Some(&b) = buf.first() else { return Ok(ReadState::Done) };
            if b.is_ascii_whitespace() {
                skipped += u64::from(b == b'\n');
                input.consume(1);
                continue;
            }
            return Ok(if b == b'{' {
                ReadState::Jsonl { input, line: skipped }
            } else {
                ReadState::Csv { rows: spreadsheet::reader(input).into_records(), skipped, header: false }
            });
        }
    }

    /// The next non-blank JSON line after line `line`: its number, its record, and whether
    /// reading goes on (not after a read error); `None` at the end.
    fn next_line(input: &mut dyn BufRead, mut line: u64) -> Option<(u64, Result<ExportRecord, String>, bool)> {
        loop {
            let mut buf = Vec::new();
            match input.read_until(b'\n', &mut buf) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(e) => return Some((line + 1, Err(format!("cannot read: {e}")), false)),
            }
            line += 1;
            while matches!(buf.last(), Some(b'\n' | b'\r')) {
                buf.pop();
            }
            let Ok(text) = String::from_utf8(buf) else { return Some((line, Err("not UTF-8".into()), true)) };
            if text.trim().is_empty() {
                continue;
            }
            let value = serde_json::from_str::<Value>(&text).map_err(|e| format!("not JSON: {e}"));
            return Some((line, value.and_then(|v| record_from_value(&v)), true));
        }
    }
}

/// Read every record of an export (for tools and tests; the verifier streams).
pub fn read_export(input: &mut dyn BufRead) -> Vec<(u64, Result<ExportRecord, String>)> {
    let mut r = RecordReader::new(input);
    std::iter::from_fn(|| r.next_record()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;


    #[test]
    fn csv_cells_may_hold_line_breaks_and_formulas_read_back_exactly() {
        let header = CSV_COLUMNS.join(",");
        let text = format!("{header}\nentry,1,\"2026-12-07T10:00:00Z\",\"two\nlines\",'=x,,{{}},,,\nbogus,2,,,,,,,,\n");
        let mut input = text.as_bytes();
        let got = read_export(&mut input);
        assert_eq!(got.len(), 2, "{got:?}");
        // The first row spans lines 2-3 and parses as CSV (its cells are then checked as an entry).
        assert_eq!(got[0].0, 2);
        assert!(got[0].1.as_ref().err().is_none_or(|e| !e.contains("not CSV")), "{:?}", got[0].1);
        assert_eq!(got[1].0, 4, "the row after a two-line cell is line 4");
        assert_eq!(got[1].1.as_ref().err().map(String::as_str), Some("record type `bogus` is unknown"));
        let cells = ["entry", "1", "t", "k", "'=1", "-h", "{}", "", "", ""];
        let row = idcheck_core::spreadsheet::row(&cells, LineEnd::Lf).expect("row");
        let rec = idcheck_core::spreadsheet::reader(row.as_slice()).records().next().expect("row").expect("parses");
        let back: Vec<&str> = rec.iter().map(idcheck_core::spreadsheet::unguard).collect();
        assert_eq!(back, cells);
    }

    proptest! {
        #[test]
        fn reader_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let mut input: &[u8] = &bytes;
            let _ = read_export(&mut input);
        }

        #[test]
        fn reader_never_panics_on_mutated_lines(prefix in "(\\{\"record\":\"(header|entry|anchor|checkpoint)\"|record,seq|entry,1,)",
                                                 rest in "[ -~]{0,120}") {
            let text = format!("{prefix}{rest}\n{prefix}{rest}\n");
            let mut input = text.as_bytes();
            let _ = read_export(&mut input);
        }
    }
}

//! What the audit log records: the entry kinds and their payloads. Payloads hold identifiers,
//! SHA-256 hashes, verdict codes and short technical reasons; never a photo, a fingerprint, a
//! name, an ID number, an address or any other personal text (the findings' expected/actual values
//! and free-text details are left out; the full verdict stays in the `verifications` table and is
//! bound to the log by its SHA-256).
//!
//! Fields kept, per kind (all present, `null` when unknown):
//! - `verification`: `verification_id` (the row in `verifications`), `requested_by` (who asked:
//!   `cli:<user>`, a daemon client), `reader`, `record_id` (application id), `scan_id`,
//!   `started_at`, `finished_at`, `status`, `causes` (numbers), `primary`, `findings` (per finding:
//!   `cause`, `item` (a field name such as `name` or `photo`, not its value), `sources`, `score`,
//!   `threshold` (decimal strings), `borderline`), `not_checked` (item names), `unavailable_reason`,
//!   `inputs` (`name` and `sha256` of every input: record, photo, templates, chip files, surface
//!   images), `verdict_sha256` (SHA-256 of the stored verdict JSON). Auditors need these to tell
//!   which card was judged, on what evidence (by hash), by whom, and with which outcome.
//! - `record_import`: `application_id`, `outcome` (`inserted`, `replaced`, `unchanged`),
//!   `content_sha256` (the stored record's content hash), `photo_sha256`, `template_sha256` (one per
//!   fingerprint template), `by` (who imported it): which reference data a later verdict was
//!   compared against.
//! - `maintenance_on` / `maintenance_off`: `reason`, `by`.
//! - `config_load`: `path`, `sha256` of the file's bytes.
//! - `daemon_start`: `version`, `station_key` (the public key that will sign checkpoints: binds the
//!   key into the chain). `daemon_stop`: `reason`.
//! - `audit_export`: `from`, `to`, `format`, `by`. `audit_prune`: `before`, `first_seq`,
//!   `through_seq`, `entries`, `archive_sha256`, `by`.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::model::sha256_hex;
use crate::store::VerificationRow;

/// The kind of an entry (its `kind` field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryKind {
    Verification,
    RecordImport,
    MaintenanceOn,
    MaintenanceOff,
    ConfigLoad,
    DaemonStart,
    DaemonStop,
    AuditExport,
    AuditPrune,
}

impl EntryKind {
    pub const ALL: [EntryKind; 9] = [
        EntryKind::Verification,
        EntryKind::RecordImport,
        EntryKind::MaintenanceOn,
        EntryKind::MaintenanceOff,
        EntryKind::ConfigLoad,
        EntryKind::DaemonStart,
        EntryKind::DaemonStop,
        EntryKind::AuditExport,
        EntryKind::AuditPrune,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Verification => "verification",
            EntryKind::RecordImport => "record_import",
            EntryKind::MaintenanceOn => "maintenance_on",
            EntryKind::MaintenanceOff => "maintenance_off",
            EntryKind::ConfigLoad => "config_load",
            EntryKind::DaemonStart => "daemon_start",
            EntryKind::DaemonStop => "daemon_stop",
            EntryKind::AuditExport => "audit_export",
            EntryKind::AuditPrune => "audit_prune",
        }
    }

    pub fn parse(s: &str) -> Option<EntryKind> {
        EntryKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One finding, without its values or free text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingSummary {
    pub cause: Option<u64>,
    pub item: Option<String>,
    pub sources: Option<String>,
    pub score: Option<String>,
    pub threshold: Option<String>,
    pub borderline: bool,
}

/// An input and its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputHash {
    pub name: String,
    pub sha256: String,
}

/// What the log keeps of a verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerificationSummary {
    pub verification_id: i64,
    pub requested_by: Option<String>,
    pub reader: Option<String>,
    pub record_id: Option<String>,
    pub scan_id: Option<String>,
    pub started_at: String,
    pub finished_at: String,
    pub status: String,
    pub causes: Vec<u64>,
    pub primary: Option<u64>,
    pub findings: Vec<FindingSummary>,
    pub not_checked: Vec<String>,
    pub unavailable_reason: Option<String>,
    pub inputs: Vec<InputHash>,
    pub verdict_sha256: String,
}

impl VerificationSummary {
    /// The summary of a stored verification row (the verdict JSON is read for the findings).
    pub fn from_row(verification_id: i64, row: &VerificationRow) -> VerificationSummary {
        let verdict: Value = serde_json::from_str(&row.verdict_json).unwrap_or(Value::Null);
        let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        let number_text = |v: &Value, k: &str| match v.get(k) {
            Some(Value::Number(n)) => Some(n.to_string()),
            Some(Value::String(s)) => Some(s.clone()),
            _ => None,
        };
        let findings = verdict
            .get("findings")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .map(|f| FindingSummary {
                        cause: f.get("cause").and_then(Value::as_u64),
                        item: text(f, "item"),
                        sources: text(f, "sources"),
                        score: number_text(f, "score"),
                        threshold: number_text(f, "threshold"),
                        borderline: f.get("borderline").and_then(Value::as_bool).unwrap_or(false),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let not_checked = verdict
            .get("not_checked")
            .and_then(Value::as_array)
            .map(|list| list.iter().filter_map(|n| text(n, "item")).collect())
            .unwrap_or_default();
        VerificationSummary {
            verification_id,
            requested_by: row.requested_by.clone(),
            reader: row.reader.clone(),
            record_id: row.record_id.clone(),
            scan_id: row.scan_id.clone(),
            started_at: row.started_at.clone(),
            finished_at: row.finished_at.clone(),
            status: row.status.to_string(),
            causes: row.causes.iter().map(|c| u64::from(c.number())).collect(),
            primary: row.primary.map(u64::from),
            findings,
            not_checked,
            unavailable_reason: text(&verdict, "unavailable_reason"),
            inputs: row.inputs.iter().map(|(name, sha256)| InputHash { name: name.clone(), sha256: sha256.clone() }).collect(),
            verdict_sha256: sha256_hex(row.verdict_json.as_bytes()),
        }
    }
}

/// What the log keeps of a record import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordImportSummary {
    pub application_id: String,
    /// `inserted`, `replaced` or `unchanged`.
    pub outcome: String,
    pub content_sha256: String,
    pub photo_sha256: String,
    pub template_sha256: Vec<String>,
    /// Who imported it: the API caller (`uid=N`), `cli:<user>`, or a QC batch's creator. Absent
    /// (empty) in entries written before it was recorded.
    #[serde(default)]
    pub by: String,
}

/// Something to log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditEvent {
    /// Written by `Store::save_verification` only (same transaction as the row).
    Verification(VerificationSummary),
    /// Written by `Store::import_record` only (same transaction as the record).
    RecordImport(RecordImportSummary),
    MaintenanceOn { reason: String, by: String },
    MaintenanceOff { reason: String, by: String },
    /// A configuration file was loaded: its path and the SHA-256 of its bytes.
    ConfigLoad { path: String, sha256: String },
    /// The daemon started: its version and the station's public key (hex).
    DaemonStart { version: String, station_key: String },
    DaemonStop { reason: String },
    /// Written by [`super::export`]: times in the audit format, `format` `jsonl` or `csv`.
    AuditExport { from: Option<String>, to: Option<String>, format: String, by: String },
    /// Written by `Store::audit_prune`.
    AuditPrune { before: String, first_seq: u64, through_seq: u64, entries: u64, archive_sha256: String, by: String },
}

impl AuditEvent {
    /// A configuration load, from the file's path and bytes.
    pub fn config_load(path: &std::path::Path, bytes: &[u8]) -> AuditEvent {
        AuditEvent::ConfigLoad { path: path.display().to_string(), sha256: sha256_hex(bytes) }
    }

    /// A daemon start: this build's version and the station key that signs the checkpoints.
    pub fn daemon_start(key: &super::StationKey) -> AuditEvent {
        AuditEvent::DaemonStart { version: env!("CARGO_PKG_VERSION").to_string(), station_key: key.public_key_hex() }
    }

    pub fn kind(&self) -> EntryKind {
        match self {
            AuditEvent::Verification(_) => EntryKind::Verification,
            AuditEvent::RecordImport(_) => EntryKind::RecordImport,
            AuditEvent::MaintenanceOn { .. } => EntryKind::MaintenanceOn,
            AuditEvent::MaintenanceOff { .. } => EntryKind::MaintenanceOff,
            AuditEvent::ConfigLoad { .. } => EntryKind::ConfigLoad,
            AuditEvent::DaemonStart { .. } => EntryKind::DaemonStart,
            AuditEvent::DaemonStop { .. } => EntryKind::DaemonStop,
            AuditEvent::AuditExport { .. } => EntryKind::AuditExport,
            AuditEvent::AuditPrune { .. } => EntryKind::AuditPrune,
        }
    }

    /// The payload (a JSON object with only strings, integers, booleans, nulls and arrays).
    pub fn payload(&self) -> Value {
        match self {
            AuditEvent::Verification(s) => serde_json::to_value(s).unwrap_or(Value::Null),
            AuditEvent::RecordImport(s) => serde_json::to_value(s).unwrap_or(Value::Null),
            AuditEvent::MaintenanceOn { reason, by } | AuditEvent::MaintenanceOff { reason, by } => {
                json!({"reason": reason, "by": by})
            }
            AuditEvent::ConfigLoad { path, sha256 } => json!({"path": path, "sha256": sha256}),
            AuditEvent::DaemonStart { version, station_key } => json!({"version": version, "station_key": station_key}),
            AuditEvent::DaemonStop { reason } => json!({"reason": reason}),
            AuditEvent::AuditExport { from, to, format, by } => json!({"from": from, "to": to, "format": format, "by": by}),
            AuditEvent::AuditPrune { before, first_seq, through_seq, entries, archive_sha256, by } => json!({
                "before": before, "first_seq": first_seq, "through_seq": through_seq,
                "entries": entries, "archive_sha256": archive_sha256, "by": by
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verification_summary_keeps_no_values_or_details() {
        let verdict = json!({
            "status": "invalid", "causes": [1], "primary": 1, "advice": "x",
            "findings": [{"cause": 1, "item": "name", "sources": "A~S", "expected": "张三", "actual": "张山",
                          "score": 0.8125, "threshold": 0.9, "borderline": true, "detail": "name differs: 张三 / 张山"}],
            "not_checked": [{"item": "fingerprint[1]", "sources": "A~C", "reason": "no template"}],
            "observations": []
        });
        let row = VerificationRow {
            started_at: "2024-04-08T12:40:00+08:00".into(),
            finished_at: "2024-04-08T12:40:02+08:00".into(),
            record_id: Some("451022202404011140".into()),
            verdict_json: verdict.to_string(),
            status: crate::verdict::Status::Invalid,
            causes: vec![crate::verdict::Cause::AcceptanceVsSurface],
            primary: Some(1),
            inputs: vec![("photo".into(), "ab".repeat(32))],
            requested_by: Some("cli:alice".into()),
            scan_id: None,
            reader: None,
        };
        let s = VerificationSummary::from_row(7, &row);
        let text = super::super::canonical::encode(&AuditEvent::Verification(s.clone()).payload()).expect("canonical");
        assert!(!text.contains("张"), "{text}");
        assert_eq!(s.findings[0].score.as_deref(), Some("0.8125"));
        assert_eq!(s.findings[0].item.as_deref(), Some("name"));
        assert_eq!(s.not_checked, ["fingerprint[1]"]);
        assert_eq!(s.causes, [1]);
        assert_eq!(s.verdict_sha256, sha256_hex(row.verdict_json.as_bytes()));
        assert!(text.contains("cli:alice"));
    }

    #[test]
    fn kinds_round_trip() {
        for k in EntryKind::ALL {
            assert_eq!(EntryKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(EntryKind::parse("nope"), None);
    }
}

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
//! - `trust_import` (`idcheck pki import-master-list` / `import-crl`): `what` (`master_list`,
//!   `crl`), `file` and `sha256` of the imported file, `signer` (the master list signer, or the
//!   CSCA whose key verified the CRL), `anchor` (the certificate that vouched for the master list
//!   signer: a CSCA of the store or the pinned one; the signer itself for a CRL), `anchor_how`
//!   (`trust store`, `pinned issuer`, `pinned signer`; `trust store` for a CRL), `listed`
//!   (certificates in the list; 1 for a CRL), `added`, `present` (already in the store),
//!   `replaced` (an older CRL of the same CSCA that the import removed), `added_sha256` (SHA-256
//!   of each added certificate's or CRL's DER), `trust_dir`, `by`: which trust anchors a later
//!   verdict rested on, and who put them there.
//! - `trust_reload` (the daemon re-read its trust directory on request): `directory`, `cscas`,
//!   `crls`, `by` (the API caller).
//!
//! The constructors that need a higher layer's types live with those types, so this module
//! names neither: `VerificationSummary::from_row` (a stored verification row) is in
//! `store::audit`, `AuditEvent::daemon_start` (the station key) in `audit::key`.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::model::sha256_hex;

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
    TrustImport,
    TrustReload,
}

impl EntryKind {
    pub const ALL: [EntryKind; 11] = [
        EntryKind::Verification,
        EntryKind::RecordImport,
        EntryKind::MaintenanceOn,
        EntryKind::MaintenanceOff,
        EntryKind::ConfigLoad,
        EntryKind::DaemonStart,
        EntryKind::DaemonStop,
        EntryKind::AuditExport,
        EntryKind::AuditPrune,
        EntryKind::TrustImport,
        EntryKind::TrustReload,
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
            EntryKind::TrustImport => "trust_import",
            EntryKind::TrustReload => "trust_reload",
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

/// What the log keeps of a trust import (module doc, `trust_import`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustImportSummary {
    /// `master_list` or `crl`.
    pub what: String,
    pub file: String,
    pub sha256: String,
    pub signer: String,
    pub anchor: String,
    pub anchor_how: String,
    pub listed: u64,
    pub added: u64,
    pub present: u64,
    pub replaced: u64,
    pub added_sha256: Vec<String>,
    pub trust_dir: String,
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
    /// Written by [`idcheck::audit::export`]: times in the audit format, `format` `jsonl` or `csv`.
    AuditExport { from: Option<String>, to: Option<String>, format: String, by: String },
    /// Written by `Store::audit_prune`.
    AuditPrune { before: String, first_seq: u64, through_seq: u64, entries: u64, archive_sha256: String, by: String },
    /// Written by `idcheck pki import-*` after the files are in place.
    TrustImport(TrustImportSummary),
    /// Written by the daemon when it re-read its trust directory on request.
    TrustReload { directory: String, cscas: u64, crls: u64, by: String },
}

impl AuditEvent {
    /// A configuration load, from the file's path and bytes.
    pub fn config_load(path: &std::path::Path, bytes: &[u8]) -> AuditEvent {
        AuditEvent::ConfigLoad { path: path.display().to_string(), sha256: sha256_hex(bytes) }
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
            AuditEvent::TrustImport(_) => EntryKind::TrustImport,
            AuditEvent::TrustReload { .. } => EntryKind::TrustReload,
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
            AuditEvent::TrustImport(s) => serde_json::to_value(s).unwrap_or(Value::Null),
            AuditEvent::TrustReload { directory, cscas, crls, by } => json!({"directory": directory, "cscas": cscas, "crls": crls, "by": by}),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip() {
        for k in EntryKind::ALL {
            assert_eq!(EntryKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(EntryKind::parse("nope"), None);
    }
}

//! The auditors' tamper-evident log (issue 5): what is logged ([`event`]), the canonical encoding
//! that is hashed and signed ([`canonical`], [`entry`]) (these three are `idcheck_core::audit_format`,
//! re-exported here, so that the store can append entries without naming this module), the
//! station's Ed25519 key ([`key`]),
//! checkpoints and retention ([`ops`]: `Store::audit_checkpoint`, `Store::audit_prune`), the
//! offline export ([`export`]) and the verifier for an export or the live database ([`verify`]).
//! The SQL is in `store::audit`; verification and record-import entries are appended by the store
//! in the same transaction as their row.

pub mod export;
pub mod key;
pub mod ops;
pub mod verify;

use std::path::PathBuf;

pub use idcheck_core::audit_format::{canonical, entry, event};
pub use idcheck_core::audit_format::{AuditEntry, Checkpoint, Purpose, GENESIS};
pub use idcheck_core::audit_format::{AuditEvent, EntryKind, FindingSummary, InputHash, RecordImportSummary, TrustImportSummary, VerificationSummary};
pub use export::{read_export, ExportFormat, ExportOptions, ExportSummary};
pub use key::StationKey;
pub use ops::{export, PruneSummary, SignedChain};
pub use verify::{verify_db, verify_export, Problem, ProblemKind, VerifyOptions, VerifyReport};

use idcheck_store::StoreError;

/// An audit operation that failed (not a verification finding: those are [`Problem`]s).
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("station key {path}: {message}")]
    Key { path: PathBuf, message: String },
    #[error("writing the {what}: {source}")]
    Write { what: &'static str, source: std::io::Error },
    #[error("the audit chain does not verify, refusing to {action}: {problem}")]
    ChainBroken { action: &'static str, problem: String },
    #[error("{0}")]
    Invalid(String),
}

/// Who is asking, for entries written from the command line: `cli:<user name>` (or `cli:uid=N`).
pub fn cli_requester() -> String {
    let uid = nix::unistd::getuid();
    match nix::unistd::User::from_uid(uid) {
        Ok(Some(u)) => format!("cli:{}", u.name),
        _ => format!("cli:uid={uid}"),
    }
}

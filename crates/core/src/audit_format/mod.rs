//! The format of the auditors' tamper-evident log, below both the store that appends entries and
//! the audit operations that check and export them: what is logged ([`event`]: entry kinds and
//! payloads), the canonical JSON (JCS) that is hashed and signed ([`canonical`]) and the entry
//! with its SHA-256 chain and checkpoints ([`entry`]). Pure: no SQL, no file, no key; `store`
//! and `audit` both depend on it and it on neither. `idcheck::audit` re-exports it, so
//! `audit::entry`, `audit::AuditEvent`, ... name the same items.

pub mod canonical;
pub mod entry;
pub mod event;

pub use entry::{AuditEntry, Checkpoint, Purpose, GENESIS};
pub use event::{AuditEvent, EntryKind, FindingSummary, InputHash, RecordImportSummary, TrustImportSummary, VerificationSummary};

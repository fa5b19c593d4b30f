//! Operations on the live log: [`export`] for auditors (logged, signed first), and signing and
//! retention through [`SignedChain`]: `Store::audit_checkpoint` (sign the head after
//! checking the entries since the last valid signature) and `Store::audit_prune` (archive the old
//! entries as a verifiable export, sign a prune anchor at the last removed entry, log the prune,
//! remove them). The SQL is in `store::audit`.

use std::io::Write;

use sha2::{Digest, Sha256};

use super::entry::{self, Checkpoint, Purpose};
use super::export::{write_range, ExportFormat, ExportOptions, ExportSummary, RangeSpec};
use super::verify::{self, VerifyOptions};
use super::{AuditError, AuditEvent, StationKey};
use idcheck_store::Store;

/// What a prune did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PruneSummary {
    /// Entries removed (0: nothing was older than `before`; no archive was written).
    pub removed: u64,
    pub first_seq: Option<u64>,
    pub through_seq: Option<u64>,
    /// SHA-256 of the archive written (hex), also logged in the `audit_prune` entry.
    pub archive_sha256: Option<String>,
    /// The `audit_prune` entry.
    pub prune_entry: Option<u64>,
}

/// A writer that hashes what passes through it.
struct Hashing<'a> {
    inner: &'a mut dyn Write,
    hash: Sha256,
}

impl Write for Hashing<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(buf.get(..n).unwrap_or_default());
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn sign(store: &Store, key: &StationKey, seq: u64, entry_hash: &str, purpose: Purpose) -> Result<Checkpoint, AuditError> {
    let time = entry::now();
    let public_key = key.public_key_hex();
    let msg = entry::checkpoint_message(seq, entry_hash, &time, purpose, &public_key)
        .map_err(|e| AuditError::Invalid(format!("checkpoint message: {e}")))?;
    let c = Checkpoint { seq, entry_hash: entry_hash.to_string(), time, purpose, public_key, signature: key.sign_hex(msg.as_bytes()) };
    store.audit_insert_checkpoint(&c)?;
    Ok(c)
}

/// Signing and retention of the audit chain, on the live store. An extension of
/// [`Store`] (`use idcheck::audit::SignedChain`), because the store's crate knows no keys: it
/// keeps the chain, this module signs it.
pub trait SignedChain {
    /// Sign the head of the chain with the station key, after checking every entry since the
    /// last checkpoint this key signed. See [`Store`]'s implementation.
    fn audit_checkpoint(&self, key: &StationKey) -> Result<Option<Checkpoint>, AuditError>;
    /// Archive and remove the entries older than `before`. See [`Store`]'s implementation.
    fn audit_prune(&self, before: &str, key: &StationKey, by: &str, archive: &mut dyn Write) -> Result<PruneSummary, AuditError>;
}

impl SignedChain for Store {

    /// Sign the head of the chain with the station key, after checking every entry since the last
    /// checkpoint this key signed (the whole chain when there is none): a broken chain is never
    /// signed (`AuditError::ChainBroken`). `None` when the head is already signed or the log is
    /// empty. Call it at intervals, at shutdown, and before an export.
    fn audit_checkpoint(&self, key: &StationKey) -> Result<Option<Checkpoint>, AuditError> {
        let public_key = key.public_key_hex();
        let (head, base) = self.audit_snapshot(|snap| -> Result<_, AuditError> {
            let (_, _, head) = snap.bounds()?;
            let Some(head) = head else { return Ok((None, None)) };
            let head_row = snap.entry(head)?;
            let mut base = None;
            for c in snap.checkpoints_desc(64)? {
                let Some(cp) = super::export::checkpoint_from_row(&c) else { continue };
                if !cp.signature_valid(&public_key) {
                    continue;
                }
                // Its entry (or, for a prune anchor, the first entry's link) must still agree.
                // (its content re-hashed, so an edit of the signed entry itself is not trusted).
                let agrees = match snap.entry(c.seq)? {
                    Some(r) => {
                        let payload = serde_json::from_str(&r.payload).unwrap_or(serde_json::Value::Null);
                        let e = super::AuditEntry {
                            seq: cp.seq,
                            time: r.time,
                            kind: r.kind,
                            payload,
                            prev_hash: r.prev_hash,
                            entry_hash: r.entry_hash,
                        };
                        e.entry_hash == cp.entry_hash && e.computed_hash().is_ok_and(|h| h == cp.entry_hash)
                    }
                    None => cp.purpose == Purpose::Anchor,
                };
                if agrees {
                    base = Some(cp);
                    break;
                }
            }
            Ok((head_row, base))
        })?;
        let Some(head) = head else { return Ok(None) };
        let head_seq = u64::try_from(head.seq).unwrap_or(0);
        if base.as_ref().is_some_and(|b| b.seq == head_seq && b.purpose == Purpose::Checkpoint) {
            return Ok(None);
        }
        let options = VerifyOptions { expected_key: Some(public_key) };
        let problems = match &base {
            Some(b) => verify::verify_segment(self, &options, b.seq, &b.entry_hash, head_seq)?,
            None => verify::verify_db(self, &options).problems,
        };
        if let Some(p) = problems.first() {
            return Err(AuditError::ChainBroken { action: "sign a checkpoint", problem: p.to_string() });
        }
        sign(self, key, head_seq, &head.entry_hash, Purpose::Checkpoint).map(Some)
    }

    /// Archive then remove the entries older than `before` (audit time format, not in the
    /// future): the whole chain is verified first; a prune anchor is signed at the last entry
    /// removed; the archive (an export of the removed entries, ending at that anchor) is written to
    /// `archive` and flushed (`flush` must make it durable: the CLI syncs the file); then one
    /// transaction logs an `audit_prune` entry (with the archive's SHA-256) and removes the entries,
    /// so the first remaining entry chains to the signed anchor. Finally the head is signed. An error
    /// means nothing was removed (the archive may be incomplete: discard it).
    fn audit_prune(&self, before: &str, key: &StationKey, by: &str, archive: &mut dyn Write) -> Result<PruneSummary, AuditError> {
        if !entry::is_audit_time(before) {
            return Err(AuditError::Invalid(format!("prune time `{before}` is not in the audit time format")));
        }
        if before > entry::now().as_str() {
            return Err(AuditError::Invalid(format!("prune time {before} is in the future")));
        }
        let report = verify::verify_db(self, &VerifyOptions { expected_key: Some(key.public_key_hex()) });
        if let Some(p) = report.first_problem() {
            return Err(AuditError::ChainBroken { action: "prune", problem: p.to_string() });
        }
        let nothing = PruneSummary { removed: 0, first_seq: None, through_seq: None, archive_sha256: None, prune_entry: None };
        let range = self.audit_snapshot(|snap| -> Result<_, AuditError> {
            let (_, first, head) = snap.bounds()?;
            let (Some(first), Some(head)) = (first, head) else { return Ok(None) };
            let through = match snap.first_seq_from(before)? {
                Some(s) => s - 1,
                None => head,
            };
            if through < first {
                return Ok(None);
            }
            let hash = snap.entry(through)?.map(|r| r.entry_hash).unwrap_or_default();
            Ok(Some((first as u64, through as u64, hash)))
        })?;
        let Some((first, through, through_hash)) = range else { return Ok(nothing) };
        sign(self, key, through, &through_hash, Purpose::Anchor)?;
        let mut hashing = Hashing { inner: archive, hash: Sha256::new() };
        self.audit_snapshot(|snap| {
            let spec = RangeSpec {
                kind: "archive",
                from: None,
                to: None,
                exported_at: entry::now(),
                station_key: Some(key.public_key_hex()),
                start: first,
                end: through,
            };
            write_range(snap, &spec, ExportFormat::Jsonl, &mut hashing)
        })?;
        hashing.flush().map_err(|source| AuditError::Write { what: "archive", source })?;
        let archive_sha256 = hex::encode(hashing.hash.finalize());
        let event = AuditEvent::AuditPrune {
            before: before.to_string(),
            first_seq: first,
            through_seq: through,
            entries: through - first + 1,
            archive_sha256: archive_sha256.clone(),
            by: by.to_string(),
        };
        let commit = self.audit_prune_commit(first, through, &event)?;
        // Best effort: the prune is done; the next checkpoint signs its entry otherwise.
        if let Err(e) = self.audit_checkpoint(key) {
            tracing::warn!(error = %e, "audit: checkpoint after the prune failed; the next checkpoint signs the prune entry");
        }
        Ok(PruneSummary {
            removed: commit.removed_entries,
            first_seq: Some(first),
            through_seq: Some(through),
            archive_sha256: Some(archive_sha256),
            prune_entry: Some(commit.prune_entry.seq),
        })
    }
}

/// Export the log for auditors: log the export (an `audit_export` entry), sign the head with
/// `key` when given (so the export is covered by a signature made now), then write the range with
/// its anchor, checkpoints and the station key. Without a key, or when the chain is broken (the
/// station refuses to sign it), the export is written anyway: its verification will say why.
pub fn export(store: &Store, options: &ExportOptions, key: Option<&StationKey>, out: &mut dyn Write) -> Result<ExportSummary, AuditError> {
    let exported_at = entry::now();
    let to = Some(match &options.to {
        Some(t) if t.as_str() < exported_at.as_str() => t.clone(),
        _ => exported_at.clone(),
    });
    if let (Some(f), Some(t)) = (&options.from, &to) {
        if f > t {
            return Err(AuditError::Invalid(format!("the range starts ({f}) after it ends ({t})")));
        }
    }
    let logged = store.audit_append(&AuditEvent::AuditExport {
        from: options.from.clone(),
        to: options.to.clone(),
        format: options.format.as_str().to_string(),
        by: options.requested_by.clone(),
    })?;
    let signed_now = match key {
        Some(k) => match store.audit_checkpoint(k) {
            Ok(c) => c.is_some(),
            Err(AuditError::ChainBroken { .. }) => false,
            Err(e) => return Err(e),
        },
        None => false,
    };
    let mut summary = store.audit_snapshot(|snap| -> Result<ExportSummary, AuditError> {
        let (_, log_first, head) = snap.bounds()?;
        let head = head.and_then(|h| u64::try_from(h).ok()).unwrap_or(0);
        let log_first = log_first.and_then(|f| u64::try_from(f).ok()).unwrap_or(1);
        let start = match &options.from {
            Some(f) => snap.first_seq_from(f)?.and_then(|s| u64::try_from(s).ok()).unwrap_or(head + 1),
            None => log_first,
        };
        let last_selected = match &to {
            Some(t) => snap.last_seq_to(t)?.and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
            None => head,
        };
        let floor = last_selected.max(start.saturating_sub(1));
        let to_text = to.clone().unwrap_or_default();
        let end = snap
            .checkpoints()?
            .iter()
            .filter(|c| c.purpose == "checkpoint" && c.time.as_str() >= to_text.as_str())
            .filter_map(|c| u64::try_from(c.seq).ok())
            .filter(|&s| s >= floor && s <= head)
            .min()
            .unwrap_or(head);
        let spec = RangeSpec {
            kind: "export",
            from: options.from.clone(),
            to: to.clone(),
            exported_at: exported_at.clone(),
            station_key: key.map(StationKey::public_key_hex),
            start,
            end,
        };
        write_range(snap, &spec, options.format, out)
    })?;
    summary.signed_now = signed_now;
    summary.export_entry = logged.seq;
    Ok(summary)
}

//! The SQL of the auditors' log (tables `audit_entries` and `audit_checkpoints`, migration 2):
//! appending an entry inside the caller's transaction (so a verdict or a record import and its
//! entry commit together), appending a daemon event in its own `BEGIN IMMEDIATE` transaction,
//! storing signed checkpoints, a consistent read snapshot for verification and export, and the
//! prune transaction. The hashing, signing and checking rules live in `idcheck::audit`.

use std::ops::ControlFlow;

use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};
use serde_json::Value;

use super::{Store, StoreError, VerificationRow};
use idcheck_core::audit_format::canonical;
use idcheck_core::audit_format::entry::{self, AuditEntry, Checkpoint, GENESIS};
use idcheck_core::audit_format::{AuditEvent, EntryKind, FindingSummary, InputHash, VerificationSummary};
use idcheck_core::model::sha256_hex;

/// The summary of a stored verification row (the verdict JSON is read for the findings).
/// Here rather than in `audit_format::event`, so that the log's format does not name the
/// store.
pub fn verification_summary(verification_id: i64, row: &VerificationRow) -> VerificationSummary {
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

/// An entry row as stored (untrusted: checked by `idcheck::audit::verify_db`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    pub seq: i64,
    pub time: String,
    pub kind: String,
    /// The canonical JSON text of the payload.
    pub payload: String,
    pub prev_hash: String,
    pub entry_hash: String,
}

/// A checkpoint row as stored (untrusted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointRow {
    pub id: i64,
    pub seq: i64,
    pub entry_hash: String,
    pub time: String,
    pub purpose: String,
    pub public_key: String,
    pub signature: String,
}

/// What a prune transaction removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PruneCommit {
    pub removed_entries: u64,
    pub removed_checkpoints: u64,
    pub prune_entry: AuditEntry,
}

impl Store {
    pub(crate) fn begin_immediate(&self, what: &str) -> Result<Transaction<'_>, StoreError> {
        Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate).map_err(self.ctx(what.to_string()))
    }

    /// Append one entry inside an open write transaction: the next sequence number, chained to the
    /// current head (or to the signed anchor of a pruned log, or to the genesis anchor).
    pub(crate) fn audit_append_in(&self, conn: &Connection, kind: EntryKind, payload: &Value) -> Result<AuditEntry, StoreError> {
        let what = format!("appending a {} entry to the audit log", kind.as_str());
        let head: Option<(i64, String)> = conn
            .query_row("SELECT seq, entry_hash FROM audit_entries ORDER BY seq DESC LIMIT 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
            .map_err(self.ctx(what.clone()))?;
        let head = match head {
            Some(h) => Some(h),
            None => conn
                .query_row(
                    "SELECT seq, entry_hash FROM audit_checkpoints WHERE purpose = 'anchor' ORDER BY seq DESC LIMIT 1",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(self.ctx(what.clone()))?,
        };
        let (prev_seq, prev_hash) = head.unwrap_or((0, GENESIS.to_string()));
        let seq = u64::try_from(prev_seq).unwrap_or(0) + 1;
        let payload_text = canonical::encode(payload).map_err(|e| StoreError::Audit(format!("{what}: payload: {e}")))?;
        let mut e = AuditEntry {
            seq,
            time: entry::now(),
            kind: kind.as_str().to_string(),
            payload: payload.clone(),
            prev_hash,
            entry_hash: String::new(),
        };
        e.entry_hash = e.computed_hash().map_err(|err| StoreError::Audit(format!("{what}: {err}")))?;
        conn.execute(
            "INSERT INTO audit_entries (seq, time, kind, payload, prev_hash, entry_hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![seq as i64, e.time, e.kind, payload_text, e.prev_hash, e.entry_hash],
        )
        .map_err(self.ctx(what))?;
        Ok(e)
    }

    /// Log an event of the daemon (maintenance, configuration load, start/stop, export, prune) in
    /// its own durable transaction. Verification and record-import entries are refused here: they
    /// are written by `save_verification` and `import_record`, in the same transaction as their row.
    pub fn audit_append(&self, event: &AuditEvent) -> Result<AuditEntry, StoreError> {
        let kind = event.kind();
        if matches!(kind, EntryKind::Verification | EntryKind::RecordImport) {
            return Err(StoreError::Audit(format!(
                "{} entries are written by the store with their row, not through audit_append",
                kind.as_str()
            )));
        }
        let what = format!("logging a {} event", kind.as_str());
        let tx = self.begin_immediate(&what)?;
        let e = self.audit_append_in(&tx, kind, &event.payload())?;
        tx.commit().map_err(self.ctx(what))?;
        Ok(e)
    }

    /// Store a signed checkpoint.
    pub fn audit_insert_checkpoint(&self, c: &Checkpoint) -> Result<(), StoreError> {
        let what = format!("storing the checkpoint at audit entry {}", c.seq);
        let seq = i64::try_from(c.seq).map_err(|_| StoreError::Audit(format!("{what}: sequence number too large")))?;
        self.conn
            .execute(
                "INSERT INTO audit_checkpoints (seq, entry_hash, time, purpose, public_key, signature) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![seq, c.entry_hash, c.time, c.purpose.as_str(), c.public_key, c.signature],
            )
            .map_err(self.ctx(what))?;
        Ok(())
    }

    /// Run `f` on a consistent read snapshot of the audit tables.
    pub fn audit_snapshot<R, E: From<StoreError>>(&self, f: impl FnOnce(&AuditSnapshot<'_>) -> Result<R, E>) -> Result<R, E> {
        let what = "reading the audit log";
        let tx = self.conn.unchecked_transaction().map_err(self.ctx(what))?;
        // A read transaction takes its snapshot at the first read.
        tx.query_row("SELECT count(*) FROM audit_entries WHERE seq < 0", [], |r| r.get::<_, i64>(0))
            .map_err(self.ctx(what))?;
        let snap = AuditSnapshot { store: self, tx };
        let r = f(&snap)?;
        snap.tx.finish().map_err(self.ctx(what))?;
        Ok(r)
    }

    /// The prune transaction: append the prune entry, remove entries `seq <= through_seq` and every
    /// checkpoint before `through_seq` (and the plain checkpoints at it), keeping the anchor
    /// checkpoint at `through_seq`. Refused when the log no longer starts at `first_seq`.
    pub fn audit_prune_commit(&self, first_seq: u64, through_seq: u64, event: &AuditEvent) -> Result<PruneCommit, StoreError> {
        let what = format!("pruning audit entries {first_seq}..={through_seq}");
        let tx = self.begin_immediate(&what)?;
        let first: Option<i64> = tx
            .query_row("SELECT min(seq) FROM audit_entries", [], |r| r.get(0))
            .map_err(self.ctx(what.clone()))?;
        if first != i64::try_from(first_seq).ok() {
            return Err(StoreError::Audit(format!("{what}: the log now starts at {first:?} (pruned concurrently?)")));
        }
        let anchors: i64 = tx
            .query_row(
                "SELECT count(*) FROM audit_checkpoints WHERE purpose = 'anchor' AND seq = ?1",
                [through_seq as i64],
                |r| r.get(0),
            )
            .map_err(self.ctx(what.clone()))?;
        if anchors == 0 {
            return Err(StoreError::Audit(format!("{what}: no signed anchor at entry {through_seq}")));
        }
        let prune_entry = self.audit_append_in(&tx, event.kind(), &event.payload())?;
        let removed_entries = tx
            .execute("DELETE FROM audit_entries WHERE seq <= ?1", [through_seq as i64])
            .map_err(self.ctx(what.clone()))?;
        let removed_checkpoints = tx
            .execute(
                "DELETE FROM audit_checkpoints WHERE seq < ?1 OR (seq = ?1 AND purpose <> 'anchor')",
                [through_seq as i64],
            )
            .map_err(self.ctx(what.clone()))?;
        tx.commit().map_err(self.ctx(what))?;
        Ok(PruneCommit { removed_entries: removed_entries as u64, removed_checkpoints: removed_checkpoints as u64, prune_entry })
    }
}

/// A read snapshot of the audit tables (one read transaction).
pub struct AuditSnapshot<'a> {
    store: &'a Store,
    tx: Transaction<'a>,
}

fn row_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuditRow> {
    Ok(AuditRow {
        seq: r.get(0)?,
        time: r.get(1)?,
        kind: r.get(2)?,
        payload: r.get(3)?,
        prev_hash: r.get(4)?,
        entry_hash: r.get(5)?,
    })
}

const ENTRY_COLUMNS: &str = "seq, time, kind, payload, prev_hash, entry_hash";

impl AuditSnapshot<'_> {
    fn ctx(&self, what: &str) -> impl FnOnce(rusqlite::Error) -> StoreError {
        self.store.ctx(what.to_string())
    }

    /// The number of entries and the first and last sequence numbers.
    pub fn bounds(&self) -> Result<(u64, Option<i64>, Option<i64>), StoreError> {
        self.tx
            .query_row("SELECT count(*), min(seq), max(seq) FROM audit_entries", [], |r| {
                Ok((r.get::<_, i64>(0)?.max(0) as u64, r.get(1)?, r.get(2)?))
            })
            .map_err(self.ctx("counting audit entries"))
    }

    /// One entry.
    pub fn entry(&self, seq: i64) -> Result<Option<AuditRow>, StoreError> {
        self.tx
            .query_row(&format!("SELECT {ENTRY_COLUMNS} FROM audit_entries WHERE seq = ?1"), [seq], row_of)
            .optional()
            .map_err(self.ctx("reading an audit entry"))
    }

    /// Entries with `from <= seq <= to`, in order, until `f` breaks.
    pub fn for_each_entry(&self, from: i64, to: i64, f: &mut dyn FnMut(AuditRow) -> ControlFlow<()>) -> Result<(), StoreError> {
        let what = "reading audit entries";
        let mut st = self
            .tx
            .prepare(&format!("SELECT {ENTRY_COLUMNS} FROM audit_entries WHERE seq BETWEEN ?1 AND ?2 ORDER BY seq"))
            .map_err(self.ctx(what))?;
        let rows = st.query_map([from, to], row_of).map_err(self.ctx(what))?;
        for row in rows {
            if f(row.map_err(self.ctx(what))?).is_break() {
                break;
            }
        }
        Ok(())
    }

    /// Every checkpoint, by sequence number then insertion.
    pub fn checkpoints(&self) -> Result<Vec<CheckpointRow>, StoreError> {
        let what = "reading audit checkpoints";
        let mut st = self
            .tx
            .prepare("SELECT id, seq, entry_hash, time, purpose, public_key, signature FROM audit_checkpoints ORDER BY seq, id")
            .map_err(self.ctx(what))?;
        let rows = st
            .query_map([], |r| {
                Ok(CheckpointRow {
                    id: r.get(0)?,
                    seq: r.get(1)?,
                    entry_hash: r.get(2)?,
                    time: r.get(3)?,
                    purpose: r.get(4)?,
                    public_key: r.get(5)?,
                    signature: r.get(6)?,
                })
            })
            .map_err(self.ctx(what))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.ctx(what))
    }

    /// The first entry whose time is at or after `time` (audit time format).
    pub fn first_seq_from(&self, time: &str) -> Result<Option<i64>, StoreError> {
        self.tx
            .query_row("SELECT min(seq) FROM audit_entries WHERE time >= ?1", [time], |r| r.get(0))
            .map_err(self.ctx("finding the first audit entry of a range"))
    }

    /// The last entry whose time is at or before `time` (audit time format).
    pub fn last_seq_to(&self, time: &str) -> Result<Option<i64>, StoreError> {
        self.tx
            .query_row("SELECT max(seq) FROM audit_entries WHERE time <= ?1", [time], |r| r.get(0))
            .map_err(self.ctx("finding the last audit entry of a range"))
    }
}

impl AuditSnapshot<'_> {
    /// Entries with `from <= seq <= to`.
    pub fn count_range(&self, from: i64, to: i64) -> Result<(u64, Option<i64>), StoreError> {
        self.tx
            .query_row("SELECT count(*), max(seq) FROM audit_entries WHERE seq BETWEEN ?1 AND ?2", [from, to], |r| {
                Ok((r.get::<_, i64>(0)?.max(0) as u64, r.get(1)?))
            })
            .map_err(self.ctx("counting audit entries"))
    }

    /// The payload text of the first entry of a kind.
    pub fn first_payload_of_kind(&self, kind: &str) -> Result<Option<String>, StoreError> {
        self.tx
            .query_row("SELECT payload FROM audit_entries WHERE kind = ?1 ORDER BY seq LIMIT 1", [kind], |r| r.get(0))
            .optional()
            .map_err(self.ctx("reading the first daemon_start entry"))
    }

    /// `(id, verdict_json)` of the stored verifications with `id >= from_id`.
    pub fn verification_verdicts(&self, from_id: i64) -> Result<Vec<(i64, String)>, StoreError> {
        let what = "reading verdicts for the audit cross-check";
        let mut st = self
            .tx
            .prepare("SELECT id, verdict_json FROM verifications WHERE id >= ?1 ORDER BY id")
            .map_err(self.ctx(what))?;
        let rows = st.query_map([from_id], |r| Ok((r.get(0)?, r.get(1)?))).map_err(self.ctx(what))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.ctx(what))
    }

    /// `(application_id, content_sha256)` of every stored record.
    pub fn record_hashes(&self) -> Result<Vec<(String, String)>, StoreError> {
        let what = "reading record hashes for the audit cross-check";
        let mut st = self.tx.prepare("SELECT application_id, content_sha256 FROM records").map_err(self.ctx(what))?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).map_err(self.ctx(what))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.ctx(what))
    }
}

impl AuditSnapshot<'_> {
    /// The latest `limit` checkpoints, newest entry first.
    pub fn checkpoints_desc(&self, limit: u32) -> Result<Vec<CheckpointRow>, StoreError> {
        let what = "reading the latest audit checkpoints";
        let mut st = self
            .tx
            .prepare(
                "SELECT id, seq, entry_hash, time, purpose, public_key, signature FROM audit_checkpoints
                 ORDER BY seq DESC, id DESC LIMIT ?1",
            )
            .map_err(self.ctx(what))?;
        let rows = st
            .query_map([limit], |r| {
                Ok(CheckpointRow {
                    id: r.get(0)?,
                    seq: r.get(1)?,
                    entry_hash: r.get(2)?,
                    time: r.get(3)?,
                    purpose: r.get(4)?,
                    public_key: r.get(5)?,
                    signature: r.get(6)?,
                })
            })
            .map_err(self.ctx(what))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.ctx(what))
    }
}

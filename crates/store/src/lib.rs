//! The SQLite store (rusqlite, bundled): the acceptance records as reference data (record JSON,
//! photo and templates as blobs) and the verification log (verdict JSON, status, causes and the
//! SHA-256 of each input; never raw biometrics). Owns the schema and its migrations (a list,
//! applied in order, the version kept in `PRAGMA user_version`), the pragmas (WAL, synchronous
//! FULL, foreign keys) and the default database path. Every write is one transaction.
//!
//! idcheck-store is the only crate with a `rusqlite` dependency: only the store writes SQL. It
//! must never judge a card; it keeps what the pipeline decided.
#![forbid(unsafe_code)]
#![warn(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use idcheck_core::audit_format::{AuditEvent, RecordImportSummary};
use idcheck_core::model::{sha256_hex, AcceptanceRecord, Biometric};
use idcheck_core::records::acceptance::{self, FileRef};
use idcheck_core::records::parse_timestamp;

mod audit;
mod qc;
mod values;

pub use qc::{BatchItem, BatchSummary, ItemStatus};
use values::{CausesSql, StatusSql};
use idcheck_core::verdict::{Cause, Status};
pub use audit::{verification_summary, AuditRow, AuditSnapshot, CheckpointRow, PruneCommit};

/// Schema migrations, in order: migration `i` takes the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: records with their blobs; verifications with their input hashes.
    "CREATE TABLE records (
        application_id TEXT PRIMARY KEY,
        id_number      TEXT NOT NULL,
        accepted_at    TEXT NOT NULL,
        accepted_unix  INTEGER NOT NULL,
        record_json    TEXT NOT NULL,
        photo          BLOB NOT NULL,
        content_sha256 TEXT NOT NULL,
        imported_at    TEXT NOT NULL,
        updated_at     TEXT NOT NULL
    ) STRICT;
    CREATE INDEX records_by_id_number ON records (id_number, accepted_unix);
    CREATE TABLE record_templates (
        application_id TEXT NOT NULL REFERENCES records (application_id) ON DELETE CASCADE,
        position       INTEGER NOT NULL,
        template       BLOB NOT NULL,
        PRIMARY KEY (application_id, position)
    ) STRICT;
    CREATE TABLE verifications (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        started_at    TEXT NOT NULL,
        finished_at   TEXT NOT NULL,
        record_id     TEXT,
        scan_id       TEXT,
        reader        TEXT,
        verdict_json  TEXT NOT NULL,
        status        TEXT NOT NULL CHECK (status IN ('pass', 'invalid', 'unavailable')),
        causes        TEXT NOT NULL,
        primary_cause INTEGER CHECK (primary_cause BETWEEN 1 AND 4)
    ) STRICT;
    CREATE INDEX verifications_by_status ON verifications (status, id);
    CREATE INDEX verifications_by_record ON verifications (record_id, id);
    CREATE TABLE verification_inputs (
        verification_id INTEGER NOT NULL REFERENCES verifications (id) ON DELETE CASCADE,
        position        INTEGER NOT NULL,
        name            TEXT NOT NULL,
        sha256          TEXT NOT NULL CHECK (length(sha256) = 64),
        PRIMARY KEY (verification_id, position)
    ) STRICT;",
    // 2: the auditors' log (store/audit.rs, idcheck::audit): hash-chained entries and signed
    // checkpoints; who asked for a verification.
    "ALTER TABLE verifications ADD COLUMN requested_by TEXT;
    CREATE TABLE audit_entries (
        seq        INTEGER PRIMARY KEY CHECK (seq >= 1),
        time       TEXT NOT NULL,
        kind       TEXT NOT NULL,
        payload    TEXT NOT NULL,
        prev_hash  TEXT NOT NULL CHECK (length(prev_hash) = 64),
        entry_hash TEXT NOT NULL CHECK (length(entry_hash) = 64)
    ) STRICT;
    CREATE INDEX audit_entries_by_time ON audit_entries (time);
    CREATE TABLE audit_checkpoints (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        seq        INTEGER NOT NULL,
        entry_hash TEXT NOT NULL,
        time       TEXT NOT NULL,
        purpose    TEXT NOT NULL CHECK (purpose IN ('checkpoint', 'anchor')),
        public_key TEXT NOT NULL,
        signature  TEXT NOT NULL
    ) STRICT;
    CREATE INDEX audit_checkpoints_by_seq ON audit_checkpoints (seq);",
    // 3: the QC station (store/qc.rs): what each verification showed (rows and small photos, for
    // the page and the batch report) and QC batches with their items.
    "CREATE TABLE verification_evidence (
        verification_id INTEGER PRIMARY KEY REFERENCES verifications (id) ON DELETE CASCADE,
        view_json       TEXT NOT NULL
    ) STRICT;
    CREATE TABLE verification_photos (
        verification_id INTEGER NOT NULL REFERENCES verifications (id) ON DELETE CASCADE,
        name            TEXT NOT NULL CHECK (name IN ('acceptance', 'surface', 'chip')),
        png             BLOB NOT NULL,
        PRIMARY KEY (verification_id, name)
    ) STRICT;
    CREATE TABLE qc_batches (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        name         TEXT NOT NULL,
        created_at   TEXT NOT NULL,
        records_path TEXT NOT NULL,
        inbox        TEXT NOT NULL,
        reader       TEXT,
        closed_at    TEXT
    ) STRICT;
    CREATE TABLE qc_batch_records (
        batch_id       INTEGER NOT NULL REFERENCES qc_batches (id) ON DELETE CASCADE,
        application_id TEXT NOT NULL,
        PRIMARY KEY (batch_id, application_id)
    ) STRICT;
    CREATE TABLE qc_batch_items (
        batch_id        INTEGER NOT NULL REFERENCES qc_batches (id) ON DELETE CASCADE,
        scan_id         TEXT NOT NULL,
        record_id       TEXT,
        verification_id INTEGER REFERENCES verifications (id),
        status          TEXT NOT NULL,
        causes          TEXT NOT NULL,
        carries         TEXT NOT NULL,
        error           TEXT,
        done_at         TEXT NOT NULL,
        PRIMARY KEY (batch_id, scan_id)
    ) STRICT;",
    // Cause sets as JSON arrays of numbers (`[1,2]`), no longer comma text (`1,2`).
    "UPDATE verifications SET causes = '[' || causes || ']';
     UPDATE qc_batch_items SET causes = '[' || causes || ']';",
];

/// The schema version this build creates and understands.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// A store operation that failed, with what was being done.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create directory {path} for the database: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open database {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("database {path}: {context}: {source}")]
    Sqlite {
        path: PathBuf,
        context: String,
        source: rusqlite::Error,
    },
    #[error("database {path} has schema version {found}, newer than version {supported} that this build knows")]
    SchemaTooNew {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    #[error("database {path}: stored record {id} is corrupt: {message}")]
    Corrupt {
        path: PathBuf,
        id: String,
        message: String,
    },
    #[error("record {id} cannot be stored: {message}")]
    InvalidRecord { id: String, message: String },
    #[error("verification row: field `{field}`: {message}")]
    InvalidRow {
        field: &'static str,
        message: String,
    },
    #[error("no database path: set IDCHECK_DB, XDG_DATA_HOME or HOME")]
    NoDefaultPath,
    #[error("audit log: {0}")]
    Audit(String),
}

/// What importing a record did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportOutcome {
    /// A new application id.
    Inserted,
    /// The application id was stored with other content, now replaced.
    Replaced,
    /// The same content was already stored.
    Unchanged,
}

/// One stored record, without its biometrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordSummary {
    pub application_id: String,
    pub id_number: String,
    pub name: String,
    pub accepted_at: String,
    pub imported_at: String,
    pub updated_at: String,
}

/// One verification as logged. Inputs are `(input name, SHA-256 hex)`: never raw biometrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerificationRow {
    /// RFC 3339.
    pub started_at: String,
    /// RFC 3339.
    pub finished_at: String,
    pub record_id: Option<String>,
    pub scan_id: Option<String>,
    pub reader: Option<String>,
    pub verdict_json: String,
    pub status: Status,
    /// Ascending; empty unless invalid. Stored as a JSON array of numbers.
    pub causes: Vec<Cause>,
    pub primary: Option<u8>,
    pub inputs: Vec<(String, String)>,
    /// Who asked for the verification (`cli:<user>`, a daemon client); logged in the audit entry.
    pub requested_by: Option<String>,
}

/// A logged verification and its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredVerification {
    pub id: i64,
    pub row: VerificationRow,
}

/// Which verifications to list (newest first).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VerificationFilter {
    pub status: Option<Status>,
    pub record_id: Option<String>,
    pub limit: Option<usize>,
}

/// The default database: `$IDCHECK_DB`, else `$XDG_DATA_HOME/idcheck/idcheck.db`, else
/// `~/.local/share/idcheck/idcheck.db` (empty variables count as unset; a relative
/// XDG_DATA_HOME is ignored, as the XDG spec says).
pub fn default_db_path() -> Result<PathBuf, StoreError> {
    default_db_path_from(|k| std::env::var_os(k))
}

/// [`default_db_path`] with the environment given as a lookup function.
pub fn default_db_path_from(
    env: impl Fn(&str) -> Option<std::ffi::OsString>,
) -> Result<PathBuf, StoreError> {
    let var = |k: &str| env(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(p) = var("IDCHECK_DB") {
        return Ok(p);
    }
    if let Some(x) = var("XDG_DATA_HOME").filter(|p| p.is_absolute()) {
        return Ok(x.join("idcheck").join("idcheck.db"));
    }
    var("HOME")
        .map(|h| h.join(".local/share/idcheck/idcheck.db"))
        .ok_or(StoreError::NoDefaultPath)
}

/// An open store.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

fn now_rfc3339() -> String {
    OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".into())
}

/// SHA-256 over the record JSON and every blob, each length-prefixed.
fn content_hash(json: &str, record: &AcceptanceRecord) -> String {
    let mut buf = Vec::new();
    let mut put = |b: &[u8]| {
        buf.extend_from_slice(&(b.len() as u64).to_be_bytes());
        buf.extend_from_slice(b);
    };
    put(json.as_bytes());
    put(record.photo.bytes());
    for f in &record.fingerprints {
        put(f
            .template
            .as_ref()
            .map(Biometric::bytes)
            .unwrap_or_default());
    }
    sha256_hex(&buf)
}

impl Store {
    /// Open (creating if needed) the database at `path`, its parent directory, and the schema.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| StoreError::CreateDir {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        let conn = Connection::open(path).map_err(|source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        let store = Store {
            conn,
            path: path.to_path_buf(),
        };
        store
            .conn
            .busy_timeout(Duration::from_secs(5))
            .map_err(store.ctx("setting the busy timeout"))?;
        store
            .conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get::<_, String>(0))
            .map_err(store.ctx("enabling WAL"))?;
        store
            .conn
            .pragma_update(None, "synchronous", "FULL")
            .map_err(store.ctx("setting synchronous FULL"))?;
        store
            .conn
            .pragma_update(None, "foreign_keys", "ON")
            .map_err(store.ctx("enabling foreign keys"))?;
        store.migrate()?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn ctx(&self, context: impl Into<String>) -> impl FnOnce(rusqlite::Error) -> StoreError {
        let path = self.path.clone();
        let context = context.into();
        move |source| StoreError::Sqlite {
            path,
            context,
            source,
        }
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(self.ctx("reading the schema version"))
    }

    fn migrate(&self) -> Result<(), StoreError> {
        let found = self.schema_version()?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::SchemaTooNew {
                path: self.path.clone(),
                found,
                supported: SCHEMA_VERSION,
            });
        }
        for (i, sql) in MIGRATIONS
            .iter()
            .enumerate()
            .skip(usize::try_from(found).unwrap_or(0))
        {
            let to = i as i64 + 1;
            let tx = self
                .conn
                .unchecked_transaction()
                .map_err(self.ctx("starting a migration"))?;
            tx.execute_batch(sql)
                .map_err(self.ctx(format!("migrating the schema to version {to}")))?;
            tx.pragma_update(None, "user_version", to)
                .map_err(self.ctx("setting the schema version"))?;
            tx.commit()
                .map_err(self.ctx(format!("committing the migration to version {to}")))?;
        }
        Ok(())
    }

    /// Store a record (JSON, photo, templates) under its application id.
    pub fn import_record(&self, record: &AcceptanceRecord, by: &str) -> Result<ImportOutcome, StoreError> {
        let id = &record.application_id;
        let json = serde_json::to_string(&acceptance::to_json(record)).map_err(|e| {
            StoreError::InvalidRecord {
                id: id.clone(),
                message: e.to_string(),
            }
        })?;
        // The stored form must read back as the same record.
        let back = self
            .record_from_parts(id, &json, &record.photo, &templates_of(record))
            .map_err(|e| StoreError::InvalidRecord {
                id: id.clone(),
                message: e,
            })?;
        if &back != record {
            return Err(StoreError::InvalidRecord {
                id: id.clone(),
                message: "the record does not survive a JSON round trip".into(),
            });
        }
        let accepted_unix = parse_timestamp(&record.accepted_at)
            .map(|t| t.unix_timestamp())
            .map_err(|e| StoreError::InvalidRecord {
                id: id.clone(),
                message: e,
            })?;
        let hash = content_hash(&json, record);
        let now = now_rfc3339();
        let what = format!("importing record {id}");
        let tx = self.begin_immediate(&what)?;
        let existing: Option<String> = tx
            .query_row(
                "SELECT content_sha256 FROM records WHERE application_id = ?1",
                [id],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.ctx(what.clone()))?;
        let outcome = match existing {
            Some(h) if h == hash => ImportOutcome::Unchanged,
            Some(_) => {
                tx.execute(
                    "UPDATE records SET id_number = ?2, accepted_at = ?3, accepted_unix = ?4, record_json = ?5,
                     photo = ?6, content_sha256 = ?7, updated_at = ?8 WHERE application_id = ?1",
                    params![id, record.id_number.as_str(), record.accepted_at, accepted_unix, json, record.photo.bytes(), hash, now],
                )
                .map_err(self.ctx(what.clone()))?;
                tx.execute(
                    "DELETE FROM record_templates WHERE application_id = ?1",
                    [id],
                )
                .map_err(self.ctx(what.clone()))?;
                ImportOutcome::Replaced
            }
            None => {
                tx.execute(
                    "INSERT INTO records (application_id, id_number, accepted_at, accepted_unix, record_json, photo,
                     content_sha256, imported_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
                    params![id, record.id_number.as_str(), record.accepted_at, accepted_unix, json, record.photo.bytes(), hash, now],
                )
                .map_err(self.ctx(what.clone()))?;
                ImportOutcome::Inserted
            }
        };
        if outcome != ImportOutcome::Unchanged {
            for (pos, t) in templates_of(record) {
                tx.execute(
                    "INSERT INTO record_templates (application_id, position, template) VALUES (?1, ?2, ?3)",
                    params![id, pos as i64, t.bytes()],
                )
                .map_err(self.ctx(what.clone()))?;
            }
        }
        // The audit entry commits with the record (every import is logged, unchanged ones too).
        let summary = RecordImportSummary {
            application_id: id.clone(),
            outcome: match outcome {
                ImportOutcome::Inserted => "inserted",
                ImportOutcome::Replaced => "replaced",
                ImportOutcome::Unchanged => "unchanged",
            }
            .to_string(),
            content_sha256: hash,
            photo_sha256: record.photo.sha256_hex(),
            template_sha256: templates_of(record).iter().map(|(_, t)| t.sha256_hex()).collect(),
            by: by.to_string(),
        };
        let event = AuditEvent::RecordImport(summary);
        self.audit_append_in(&tx, event.kind(), &event.payload())?;
        tx.commit().map_err(self.ctx(what))?;
        Ok(outcome)
    }

    fn record_from_parts(
        &self,
        id: &str,
        json: &str,
        photo: &Biometric,
        templates: &[(usize, Biometric)],
    ) -> Result<AcceptanceRecord, String> {
        let origin = PathBuf::from(format!("{}#records/{id}", self.path.display()));
        acceptance::parse_text(json, &origin, 1, &mut |r| match r {
            FileRef::Photo(_) => Ok(photo.clone()),
            FileRef::Template { index, .. } => templates
                .iter()
                .find(|(p, _)| *p == index)
                .map(|(_, t)| t.clone())
                .ok_or_else(|| format!("no stored template for fingerprint entry {index}")),
        })
        .map_err(|e| e.to_string())
    }

    /// The record stored under an application id.
    pub fn get_record(&self, application_id: &str) -> Result<Option<AcceptanceRecord>, StoreError> {
        let what = format!("reading record {application_id}");
        let tx = self
            .conn
            .unchecked_transaction()
            .map_err(self.ctx(what.clone()))?;
        let row: Option<(String, Vec<u8>)> = tx
            .query_row(
                "SELECT record_json, photo FROM records WHERE application_id = ?1",
                [application_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(self.ctx(what.clone()))?;
        let Some((json, photo)) = row else {
            return Ok(None);
        };
        let templates = {
            let mut st = tx
                .prepare("SELECT position, template FROM record_templates WHERE application_id = ?1 ORDER BY position")
                .map_err(self.ctx(what.clone()))?;
            let rows = st
                .query_map([application_id], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
                })
                .map_err(self.ctx(what.clone()))?;
            let mut v = Vec::new();
            for row in rows {
                let (p, t) = row.map_err(self.ctx(what.clone()))?;
                v.push((usize::try_from(p).unwrap_or(usize::MAX), Biometric(t)));
            }
            v
        };
        tx.finish().map_err(self.ctx(what))?;
        self.record_from_parts(application_id, &json, &Biometric(photo), &templates)
            .map(Some)
            .map_err(|message| StoreError::Corrupt {
                path: self.path.clone(),
                id: application_id.to_string(),
                message,
            })
    }

    /// The most recently accepted record with this citizen ID number.
    pub fn find_record_by_id_number(
        &self,
        id_number: &str,
    ) -> Result<Option<AcceptanceRecord>, StoreError> {
        let id: Option<String> = self
            .conn
            .query_row(
                "SELECT application_id FROM records WHERE id_number = ?1
                 ORDER BY accepted_unix DESC, application_id DESC LIMIT 1",
                [id_number],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.ctx("looking up a record by ID number"))?;
        match id {
            Some(id) => self.get_record(&id),
            None => Ok(None),
        }
    }

    /// Every stored record, by application id, without biometrics.
    pub fn list_records(&self) -> Result<Vec<RecordSummary>, StoreError> {
        let what = "listing records";
        let mut st = self
            .conn
            .prepare(
                "SELECT application_id, id_number, accepted_at, imported_at, updated_at, record_json
                 FROM records ORDER BY application_id",
            )
            .map_err(self.ctx(what))?;
        let rows = st
            .query_map([], |r| {
                let json: String = r.get(5)?;
                let name = serde_json::from_str::<serde_json::Value>(&json)
                    .ok()
                    .and_then(|v| v.get("name").and_then(|n| n.as_str()).map(str::to_string))
                    .unwrap_or_default();
                Ok(RecordSummary {
                    application_id: r.get(0)?,
                    id_number: r.get(1)?,
                    name,
                    accepted_at: r.get(2)?,
                    imported_at: r.get(3)?,
                    updated_at: r.get(4)?,
                })
            })
            .map_err(self.ctx(what))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.ctx(what))
    }

    /// Log a verification; returns its id.
    pub fn save_verification(&self, row: &VerificationRow) -> Result<i64, StoreError> {
        validate_row(row)?;
        let what = "saving a verification";
        let tx = self.begin_immediate(what)?;
        tx.execute(
            "INSERT INTO verifications (started_at, finished_at, record_id, scan_id, reader, verdict_json, status,
             causes, primary_cause, requested_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                row.started_at,
                row.finished_at,
                row.record_id,
                row.scan_id,
                row.reader,
                row.verdict_json,
                StatusSql(row.status),
                CausesSql::of(&row.causes),
                row.primary.map(i64::from),
                row.requested_by
            ],
        )
        .map_err(self.ctx(what))?;
        let id = tx.last_insert_rowid();
        for (pos, (name, sha)) in row.inputs.iter().enumerate() {
            tx.execute(
                "INSERT INTO verification_inputs (verification_id, position, name, sha256) VALUES (?1, ?2, ?3, ?4)",
                params![id, pos as i64, name, sha],
            )
            .map_err(self.ctx(what))?;
        }
        // The audit entry commits with the verdict: no verdict exists without its entry.
        let event = AuditEvent::Verification(audit::verification_summary(id, row));
        self.audit_append_in(&tx, event.kind(), &event.payload())?;
        tx.commit().map_err(self.ctx(what))?;
        Ok(id)
    }

    fn inputs_of(&self, conn: &Connection, id: i64) -> Result<Vec<(String, String)>, StoreError> {
        let what = format!("reading the inputs of verification {id}");
        let mut st = conn
            .prepare("SELECT name, sha256 FROM verification_inputs WHERE verification_id = ?1 ORDER BY position")
            .map_err(self.ctx(what.clone()))?;
        let rows = st
            .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(self.ctx(what.clone()))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.ctx(what))
    }

    /// One logged verification.
    pub fn get_verification(&self, id: i64) -> Result<Option<StoredVerification>, StoreError> {
        let mut list = self.query_verifications("WHERE id = ?1", vec![Box::new(id)], Some(1))?;
        Ok(list.pop())
    }

    /// Logged verifications, newest first, filtered by status and/or record id.
    pub fn list_verifications(
        &self,
        filter: &VerificationFilter,
    ) -> Result<Vec<StoredVerification>, StoreError> {
        let mut conds = Vec::new();
        let mut args: Vec<Box<dyn rusqlite::ToSql>> = Vec::new();
        if let Some(s) = filter.status {
            args.push(Box::new(StatusSql(s)));
            conds.push(format!("status = ?{}", args.len()));
        }
        if let Some(r) = &filter.record_id {
            args.push(Box::new(r.clone()));
            conds.push(format!("record_id = ?{}", args.len()));
        }
        let clause = if conds.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conds.join(" AND "))
        };
        self.query_verifications(&clause, args, filter.limit)
    }

    fn query_verifications(
        &self,
        clause: &str,
        args: Vec<Box<dyn rusqlite::ToSql>>,
        limit: Option<usize>,
    ) -> Result<Vec<StoredVerification>, StoreError> {
        let what = "reading verifications";
        let limit = limit.map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX));
        let sql = format!(
            "SELECT id, started_at, finished_at, record_id, scan_id, reader, verdict_json, status, causes, primary_cause,
             requested_by FROM verifications {clause} ORDER BY id DESC LIMIT {limit}"
        );
        let tx = self.conn.unchecked_transaction().map_err(self.ctx(what))?;
        let rows = {
            let mut st = tx.prepare(&sql).map_err(self.ctx(what))?;
            let params: Vec<&dyn rusqlite::ToSql> = args.iter().map(|b| b.as_ref()).collect();
            let mapped = st
                .query_map(params.as_slice(), |r| {
                    let primary: Option<i64> = r.get(9)?;
                    Ok(StoredVerification {
                        id: r.get(0)?,
                        row: VerificationRow {
                            started_at: r.get(1)?,
                            finished_at: r.get(2)?,
                            record_id: r.get(3)?,
                            scan_id: r.get(4)?,
                            reader: r.get(5)?,
                            verdict_json: r.get(6)?,
                            status: r.get::<_, StatusSql>(7)?.0,
                            causes: r.get::<_, CausesSql>(8)?.0,
                            primary: primary.and_then(|p| u8::try_from(p).ok()),
                            inputs: Vec::new(),
                            requested_by: r.get(10)?,
                        },
                    })
                })
                .map_err(self.ctx(what))?;
            mapped
                .collect::<Result<Vec<_>, _>>()
                .map_err(self.ctx(what))?
        };
        let mut out = rows;
        for v in &mut out {
            v.row.inputs = self.inputs_of(&tx, v.id)?;
        }
        tx.finish().map_err(self.ctx(what))?;
        Ok(out)
    }
}

fn templates_of(record: &AcceptanceRecord) -> Vec<(usize, Biometric)> {
    record
        .fingerprints
        .iter()
        .enumerate()
        .filter_map(|(i, f)| f.template.clone().map(|t| (i, t)))
        .collect()
}

fn validate_row(row: &VerificationRow) -> Result<(), StoreError> {
    let bad = |field: &'static str, message: String| Err(StoreError::InvalidRow { field, message });
    if let Err(m) = parse_timestamp(&row.started_at) {
        return bad("started_at", m);
    }
    if let Err(m) = parse_timestamp(&row.finished_at) {
        return bad("finished_at", m);
    }
    if (row.status == Status::Invalid) == row.causes.is_empty() {
        return bad("causes", format!("{:?} with status {}: an invalid verdict has causes, no other has", row.causes, row.status));
    }
    if row.primary.is_some_and(|p| !(1..=4).contains(&p)) {
        return bad("primary", format!("{:?} is not a cause 1..4", row.primary));
    }
    if let Err(e) = serde_json::from_str::<serde_json::Value>(&row.verdict_json) {
        return bad("verdict_json", format!("not JSON: {e}"));
    }
    for (name, sha) in &row.inputs {
        if name.trim().is_empty() {
            return bad("inputs", "an input has an empty name".into());
        }
        if sha.len() != 64 || !sha.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return bad(
                "inputs",
                format!("input `{name}`: `{sha}` is not a lower-case hex SHA-256 (64 characters)"),
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;

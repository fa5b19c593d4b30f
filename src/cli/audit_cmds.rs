//! `idcheck audit`: export, verify, checkpoint and prune the auditors' tamper-evident log
//! (issue 5; the library is `idcheck::audit`). The station key defaults to `station-key.pk8` next
//! to the database (the daemon's default too: /var/lib/idcheck/station-key.pk8).
//!
//! `audit verify` exits 0 only when the chain, the anchor, every signature and the station key
//! hold and every entry is covered by a signature (`--allow-unsigned-tail` accepts entries after
//! the last checkpoint, e.g. a live database between checkpoints); 1 when not, naming the first
//! bad entry; 66 when the file does not exist; 74 on I/O errors.

use std::fs::File;
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use idcheck::audit::{self, entry::parse_user_time, ExportFormat, ExportOptions, StationKey, VerifyOptions, VerifyReport};
use idcheck_store::Store;

use super::{CliError, CliResult, DbArg, EX_NOINPUT, EX_USAGE};
use idcheck::audit::SignedChain;

#[derive(Args, Clone, Debug)]
pub struct KeyArg {
    /// The station's Ed25519 key (PKCS#8) [default: station-key.pk8 next to the database]
    #[arg(long)]
    key: Option<PathBuf>,
}

impl KeyArg {
    fn path(&self, db: &Path) -> PathBuf {
        self.key.clone().unwrap_or_else(|| StationKey::default_path_for(db))
    }
}

#[derive(Subcommand)]
pub enum AuditCmd {
    /// Export the log with its anchor, checkpoints and the station key (logged; the head is signed first).
    Export {
        /// Start of the range: RFC 3339 or YYYY-MM-DD (midnight UTC) [default: the log's start]
        #[arg(long)]
        from: Option<String>,
        /// End of the range: RFC 3339 or YYYY-MM-DD [default: now]
        #[arg(long)]
        to: Option<String>,
        #[arg(long, default_value = "jsonl", value_parser = ["jsonl", "csv"])]
        format: String,
        /// Output file [default: standard output]
        #[arg(long)]
        out: Option<PathBuf>,
        /// Do not sign the head now (without the key; entries after the last checkpoint stay unsigned).
        #[arg(long)]
        no_sign: bool,
        #[command(flatten)]
        key: KeyArg,
        #[command(flatten)]
        db: DbArg,
    },
    /// Verify an export FILE offline, or (without FILE) the live database.
    Verify {
        /// An export (JSON Lines or CSV); without it the database is verified.
        file: Option<PathBuf>,
        /// The station's public key as the auditor knows it (64 hex digits): signatures must be by it.
        #[arg(long)]
        public_key: Option<String>,
        /// Take the expected public key from this station key file (database only, when readable).
        #[arg(long)]
        key: Option<PathBuf>,
        /// Accept entries after the last checkpoint (not yet signed) as long as the chain holds.
        #[arg(long)]
        allow_unsigned_tail: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DbArg,
    },
    /// Sign the head of the chain now.
    Checkpoint {
        #[command(flatten)]
        key: KeyArg,
        #[command(flatten)]
        db: DbArg,
    },
    /// Archive the entries before a time to a file, then remove them (the rest stays verifiable).
    Prune {
        /// Remove entries older than this (RFC 3339 or YYYY-MM-DD).
        #[arg(long)]
        before: String,
        /// The archive to write (must not exist): an export of the removed entries.
        #[arg(long)]
        archive: PathBuf,
        #[command(flatten)]
        key: KeyArg,
        #[command(flatten)]
        db: DbArg,
    },
    /// Print the station's public key (hex), for auditors to record.
    PublicKey {
        #[command(flatten)]
        key: KeyArg,
        #[command(flatten)]
        db: DbArg,
    },
}

fn open(db: &DbArg) -> Result<(Store, PathBuf), CliError> {
    let path = db.path()?;
    Ok((Store::open(&path).map_err(CliError::io)?, path))
}

fn user_time(what: &str, s: &str) -> Result<String, CliError> {
    parse_user_time(s).map_err(|e| CliError::new(EX_USAGE, format!("--{what}: {e}")))
}

/// A file whose `flush` makes its content durable (the prune removes entries only after it).
struct SyncedFile(File);

impl Write for SyncedFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()?;
        self.0.sync_all()
    }
}

pub fn audit(cmd: AuditCmd) -> CliResult {
    match cmd {
        AuditCmd::Export { from, to, format, out, no_sign, key, db } => {
            let options = ExportOptions {
                from: from.as_deref().map(|f| user_time("from", f)).transpose()?,
                to: to.as_deref().map(|t| user_time("to", t)).transpose()?,
                format: ExportFormat::parse(&format).unwrap_or_default(),
                requested_by: audit::cli_requester(),
            };
            let (store, db_path) = open(&db)?;
            let key = if no_sign {
                None
            } else {
                let p = key.path(&db_path);
                Some(StationKey::load_or_create(&p).map_err(|e| CliError::io(format!("{e} (use --no-sign to export without signing)")))?)
            };
            let summary = match &out {
                Some(path) => {
                    let mut f = std::io::BufWriter::new(
                        File::create(path).map_err(|e| CliError::io(format!("cannot create {}: {e}", path.display())))?,
                    );
                    let s = audit::export(&store, &options, key.as_ref(), &mut f).map_err(CliError::io)?;
                    f.flush().map_err(|e| CliError::io(format!("writing {}: {e}", path.display())))?;
                    s
                }
                None => {
                    let stdout = std::io::stdout();
                    let mut lock = stdout.lock();
                    audit::export(&store, &options, key.as_ref(), &mut lock).map_err(CliError::io)?
                }
            };
            eprintln!(
                "exported {} entries ({}), {} checkpoints, anchor {}, range {} .. {}{}",
                summary.entries,
                match (summary.first_seq, summary.last_seq) {
                    (Some(a), Some(b)) => format!("{a}..{b}"),
                    _ => "none".into(),
                },
                summary.checkpoints,
                summary.anchor,
                summary.from.as_deref().unwrap_or("start"),
                summary.to.as_deref().unwrap_or("now"),
                if key.is_some() { "" } else { " (not signed now)" }
            );
            Ok(ExitCode::SUCCESS)
        }
        AuditCmd::Verify { file, public_key, key, allow_unsigned_tail, json, db } => {
            if let Some(k) = &public_key {
                if !audit::key::is_public_key_hex(&k.to_ascii_lowercase()) {
                    return Err(CliError::new(EX_USAGE, format!("--public-key: `{k}` is not 64 hex digits")));
                }
            }
            let report = match &file {
                Some(path) => {
                    if key.is_some() {
                        return Err(CliError::new(EX_USAGE, "--key applies to the database; give --public-key for an export"));
                    }
                    let f = File::open(path).map_err(|e| {
                        let code = if e.kind() == std::io::ErrorKind::NotFound { EX_NOINPUT } else { super::EX_IOERR };
                        CliError::new(code, format!("cannot open {}: {e}", path.display()))
                    })?;
                    let options = VerifyOptions { expected_key: public_key.clone() };
                    audit::verify_export(&mut BufReader::new(f), &path.display().to_string(), &options)
                }
                None => {
                    let path = db.path()?;
                    if !path.exists() {
                        return Err(CliError::new(EX_NOINPUT, format!("database {} does not exist", path.display())));
                    }
                    let store = Store::open(&path).map_err(CliError::io)?;
                    let expected = match (&public_key, &key) {
                        (Some(k), _) => Some(k.clone()),
                        (None, Some(p)) => Some(StationKey::load(p).map_err(CliError::io)?.public_key_hex()),
                        // The default key file, when this user can read it.
                        (None, None) => StationKey::load(&StationKey::default_path_for(&path)).ok().map(|k| k.public_key_hex()),
                    };
                    audit::verify_db(&store, &VerifyOptions { expected_key: expected })
                }
            };
            let holds = report.intact() && (allow_unsigned_tail || report.unsigned_tail == 0);
            if json {
                println!("{}", report_json(&report, holds));
            } else {
                print!("{}", report_text(&report, holds));
            }
            Ok(ExitCode::from(if holds { 0 } else { 1 }))
        }
        AuditCmd::Checkpoint { key, db } => {
            let (store, db_path) = open(&db)?;
            let k = StationKey::load_or_create(&key.path(&db_path)).map_err(CliError::io)?;
            match store.audit_checkpoint(&k).map_err(CliError::io)? {
                Some(c) => println!("signed entry {} ({}) with key {}", c.seq, c.entry_hash, c.public_key),
                None => println!("nothing new to sign"),
            }
            Ok(ExitCode::SUCCESS)
        }
        AuditCmd::Prune { before, archive, key, db } => {
            let before = user_time("before", &before)?;
            let (store, db_path) = open(&db)?;
            let k = StationKey::load_or_create(&key.path(&db_path)).map_err(CliError::io)?;
            let file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&archive)
                .map_err(|e| CliError::io(format!("cannot create archive {}: {e}", archive.display())))?;
            let mut out = SyncedFile(file);
            match store.audit_prune(&before, &k, &audit::cli_requester(), &mut out) {
                Ok(s) if s.removed == 0 => {
                    drop(out);
                    let _ = std::fs::remove_file(&archive);
                    println!("nothing older than {before}: nothing pruned, no archive written");
                    Ok(ExitCode::SUCCESS)
                }
                Ok(s) => {
                    println!(
                        "archived and removed entries {}..{} ({}) to {} (SHA-256 {}); logged as entry {}",
                        s.first_seq.unwrap_or(0),
                        s.through_seq.unwrap_or(0),
                        s.removed,
                        archive.display(),
                        s.archive_sha256.unwrap_or_default(),
                        s.prune_entry.unwrap_or(0)
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    drop(out);
                    let _ = std::fs::remove_file(&archive);
                    Err(CliError::io(format!("{e} (nothing was pruned)")))
                }
            }
        }
        AuditCmd::PublicKey { key, db } => {
            let path = key.path(&db.path()?);
            let k = StationKey::load(&path).map_err(CliError::io)?;
            println!("{}", k.public_key_hex());
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn report_text(r: &VerifyReport, holds: bool) -> String {
    let mut s = String::new();
    s.push_str(&format!("{}\n", r.source));
    s.push_str(&format!(
        "  entries: {} ({})\n",
        r.entries,
        match (r.first_seq, r.last_seq) {
            (Some(a), Some(b)) => format!("{a}..{b}"),
            _ => "none".into(),
        }
    ));
    if r.to.is_some() || r.from.is_some() {
        s.push_str(&format!(
            "  range: {} .. {} (exported {})\n",
            r.from.as_deref().unwrap_or("start of log"),
            r.to.as_deref().unwrap_or("end"),
            r.exported_at.as_deref().unwrap_or("?")
        ));
    }
    s.push_str(&format!("  station key: {}\n", r.station_key.as_deref().unwrap_or("none")));
    s.push_str(&format!(
        "  valid checkpoints: {}; signed through entry {}; unsigned tail: {}\n",
        r.valid_checkpoints,
        r.signed_through.map_or("none".into(), |x| x.to_string()),
        r.unsigned_tail
    ));
    for p in &r.problems {
        s.push_str(&format!("  PROBLEM {p}\n"));
    }
    if r.more_problems > 0 {
        s.push_str(&format!("  ... and {} more problems\n", r.more_problems));
    }
    let verdict = if holds {
        "HOLDS".to_string()
    } else if let Some(p) = r.first_problem() {
        format!("DOES NOT HOLD: first bad: {p}")
    } else {
        format!("DOES NOT HOLD: {} entries after the last signature are not covered by one", r.unsigned_tail)
    };
    s.push_str(&format!("{verdict}\n"));
    s
}

fn report_json(r: &VerifyReport, holds: bool) -> String {
    let problems: Vec<serde_json::Value> = r
        .problems
        .iter()
        .map(|p| serde_json::json!({"kind": p.kind.as_str(), "seq": p.seq, "line": p.line, "detail": p.detail}))
        .collect();
    serde_json::json!({
        "source": r.source, "holds": holds, "intact": r.intact(), "entries": r.entries,
        "first_seq": r.first_seq, "last_seq": r.last_seq, "station_key": r.station_key,
        "valid_checkpoints": r.valid_checkpoints, "signed_through": r.signed_through,
        "unsigned_tail": r.unsigned_tail, "from": r.from, "to": r.to, "exported_at": r.exported_at,
        "problems": problems, "more_problems": r.more_problems,
    })
    .to_string()
}

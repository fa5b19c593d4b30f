//! `idcheck records`, `verifications`, `fixtures` and `calibrate`: store management, the corpus
//! generator and the reproducible threshold calibration.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use idcheck_core::records;
use idcheck_store::{ImportOutcome, Store, VerificationFilter};

use super::{CliError, CliResult, DbArg, EX_NOINPUT};

#[derive(Subcommand)]
pub enum RecordsCmd {
    /// Validate and store acceptance records: a record directory, a directory of them, or a
    /// JSON Lines file.
    Import {
        path: PathBuf,
        #[command(flatten)]
        db: DbArg,
    },
    /// List stored records.
    List {
        #[command(flatten)]
        db: DbArg,
    },
}

#[derive(Subcommand)]
pub enum VerificationsCmd {
    /// List stored verifications, newest first.
    List {
        #[arg(long)]
        status: Option<idcheck_core::verdict::Status>,
        #[arg(long)]
        record: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[command(flatten)]
        db: DbArg,
    },
    /// Print one stored verification as JSON.
    Show {
        id: i64,
        #[command(flatten)]
        db: DbArg,
    },
}

fn open(db: &DbArg) -> Result<Store, CliError> {
    Store::open(&db.path()?).map_err(CliError::io)
}

pub fn records(cmd: RecordsCmd) -> CliResult {
    match cmd {
        RecordsCmd::Import { path, db } => {
            if !path.exists() {
                return Err(CliError::new(EX_NOINPUT, format!("{} does not exist", path.display())));
            }
            let loaded = records::acceptance::load_any(&path).map_err(CliError::data)?;
            let store = open(&db)?;
            let (mut ok, mut bad) = (0, 0);
            for r in loaded {
                match r {
                    Ok(rec) => {
                        let outcome = store.import_record(&rec, &super::verify_cmd::cli_user()).map_err(CliError::io)?;
                        let word = match outcome {
                            ImportOutcome::Inserted => "imported",
                            ImportOutcome::Replaced => "replaced",
                            ImportOutcome::Unchanged => "unchanged",
                        };
                        println!("{word} {}", rec.application_id);
                        ok += 1;
                    }
                    Err(e) => {
                        eprintln!("rejected: {e}");
                        bad += 1;
                    }
                }
            }
            println!("{ok} stored, {bad} rejected");
            Ok(ExitCode::from(if bad == 0 { 0 } else { super::EX_DATAERR }))
        }
        RecordsCmd::List { db } => {
            for r in open(&db)?.list_records().map_err(CliError::io)? {
                println!("{}\t{}\t{}", r.application_id, r.accepted_at, r.imported_at);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

pub fn verifications(cmd: VerificationsCmd) -> CliResult {
    match cmd {
        VerificationsCmd::List { status, record, limit, db } => {
            let rows = open(&db)?
                .list_verifications(&VerificationFilter { status, record_id: record, limit: Some(limit as usize) })
                .map_err(CliError::io)?;
            for r in rows {
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    r.id,
                    r.row.finished_at,
                    r.row.record_id.as_deref().unwrap_or("-"),
                    r.row.status,
                    r.row.causes.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(",")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        VerificationsCmd::Show { id, db } => {
            let row = open(&db)?
                .get_verification(id)
                .map_err(CliError::io)?
                .ok_or_else(|| CliError::new(EX_NOINPUT, format!("no verification {id}")))?;
            let verdict: serde_json::Value = serde_json::from_str(&row.row.verdict_json).map_err(CliError::data)?;
            let inputs: serde_json::Map<String, serde_json::Value> =
                row.row.inputs.iter().map(|(k, v)| (k.clone(), v.clone().into())).collect();
            let v = serde_json::json!({"id": row.id, "record_id": row.row.record_id, "finished_at": row.row.finished_at,
                "verdict": verdict, "inputs": inputs});
            println!("{}", serde_json::to_string_pretty(&v).map_err(CliError::data)?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

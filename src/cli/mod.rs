//! Command-line interface (clap). Each subcommand lives in its own file; this one holds the
//! argument model, the exit-code policy, the error type that carries an exit code, and the
//! argument helpers several subcommands share (`DbArg`, [`load_record`]).
//!
//! Exit codes: 0 pass, 1 invalid, 2 unavailable; 64 usage, 65 malformed input data, 66 an input
//! that does not exist, 70 internal error, 74 store or other I/O error.

mod audit_cmds;
mod daemon_cmds;
mod pki_cmds;
mod qc_cmds;
mod compare_cmds;
mod reader_cmds;
mod report;
mod tools;
mod sod_cmd;
mod verify_cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

pub const EX_USAGE: u8 = 64;
pub const EX_DATAERR: u8 = 65;
pub const EX_NOINPUT: u8 = 66;
pub const EX_SOFTWARE: u8 = 70;
pub const EX_IOERR: u8 = 74;

/// An error that ends the command with a message and an exit code.
#[derive(Debug)]
pub struct CliError {
    pub code: u8,
    pub message: String,
}

impl CliError {
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        CliError { code, message: message.into() }
    }
    pub fn data(message: impl std::fmt::Display) -> Self {
        CliError::new(EX_DATAERR, message.to_string())
    }
    pub fn io(message: impl std::fmt::Display) -> Self {
        CliError::new(EX_IOERR, message.to_string())
    }
}

pub type CliResult = Result<ExitCode, CliError>;

#[derive(Parser)]
#[command(name = "idcheck", version, about = "Decides whether a finished resident identity card may be handed over")]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where the store lives (`--db`, or IDCHECK_DB, or the default data directory).
#[derive(Args, Clone, Debug)]
pub struct DbArg {
    /// SQLite database file [env: IDCHECK_DB; default: ~/.local/share/idcheck/idcheck.db]
    #[arg(long, env = "IDCHECK_DB")]
    pub db: Option<PathBuf>,
}

impl DbArg {
    pub fn path(&self) -> Result<PathBuf, CliError> {
        match &self.db {
            Some(p) => Ok(p.clone()),
            None => idcheck_store::default_db_path().map_err(CliError::io),
        }
    }
}

/// The `--record` argument of `verify` and `read`: a directory is read as a record directory;
/// anything else is an application id in the store.
pub fn load_record(arg: &str, db: &DbArg) -> Result<idcheck_core::model::AcceptanceRecord, CliError> {
    let p = PathBuf::from(arg);
    if p.is_dir() {
        return idcheck_core::records::acceptance::load_dir(&p).map_err(CliError::data);
    }
    let store = idcheck_store::Store::open(&db.path()?).map_err(CliError::io)?;
    store
        .get_record(arg)
        .map_err(CliError::io)?
        .ok_or_else(|| CliError::new(EX_NOINPUT, format!("no record directory and no stored record named {arg:?}")))
}

#[derive(Subcommand)]
enum Command {
    /// Verify one card: acceptance record, optional surface scan, chip image.
    Verify(verify_cmd::VerifyArgs),
    /// List PC/SC readers and whether a card is in each.
    Readers,
    /// Read a card's chip through a PC/SC reader and save the chip image.
    Read(reader_cmds::ReadArgs),
    /// Photo tools.
    Photo {
        #[command(subcommand)]
        cmd: compare_cmds::PhotoCmd,
    },
    /// Fingerprint tools.
    Fingerprint {
        #[command(subcommand)]
        cmd: compare_cmds::FingerprintCmd,
    },
    /// Acceptance records in the store.
    Records {
        #[command(subcommand)]
        cmd: tools::RecordsCmd,
    },
    /// Stored verifications.
    Verifications {
        #[command(subcommand)]
        cmd: tools::VerificationsCmd,
    },
    /// Run the daemon: reader monitor, jobs, local API (see README, "The daemon").
    Serve(daemon_cmds::ServeArgs),
    /// Validate a daemon configuration file.
    CheckConfig(daemon_cmds::CheckConfigArgs),
    /// Planned maintenance of a running daemon: every verification answers `unavailable`.
    Maintenance {
        #[command(subcommand)]
        cmd: daemon_cmds::MaintenanceCmd,
    },
    /// The QC station: batches of scanned cards, and their reports.
    Qc {
        #[command(subcommand)]
        cmd: qc_cmds::QcCmd,
    },
    /// The trust directory (import ICAO master lists and CRLs, list CSCAs and CRLs) and
    /// passive authentication of one EF.SOD.
    Pki {
        #[command(subcommand)]
        cmd: pki_cmds::PkiCmd,
    },
    /// The auditors' log: export and verify the tamper-evident chain.
    Audit {
        #[command(subcommand)]
        cmd: audit_cmds::AuditCmd,
    },
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { EX_USAGE } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let result = match cli.command {
        Command::Verify(a) => verify_cmd::run(a),
        Command::Readers => reader_cmds::readers(),
        Command::Read(a) => reader_cmds::read(a),
        Command::Photo { cmd } => compare_cmds::photo(cmd),
        Command::Fingerprint { cmd } => compare_cmds::fingerprint(cmd),
        Command::Records { cmd } => tools::records(cmd),
        Command::Verifications { cmd } => tools::verifications(cmd),
        Command::Serve(a) => daemon_cmds::serve(a),
        Command::CheckConfig(a) => daemon_cmds::check_config(a),
        Command::Maintenance { cmd } => daemon_cmds::maintenance(cmd),
        Command::Audit { cmd } => audit_cmds::audit(cmd),
        Command::Qc { cmd } => qc_cmds::qc(cmd),
        Command::Pki { cmd } => pki_cmds::pki(cmd),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("idcheck: {}", e.message);
            ExitCode::from(e.code)
        }
    }
}

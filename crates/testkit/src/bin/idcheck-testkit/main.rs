//! `idcheck-testkit`: the test tooling's command line, kept out of the station's binary. It
//! writes the labelled corpus (`fixtures generate`), chip images (`personalize`) signed by a
//! test PKI (`pki init`), serves them as contactless cards through vpcd (`emulate`), and
//! recomputes the thresholds from data (`calibrate`).
//!
//! Exit codes as the station's CLI: 0 success; 64 usage, 65 malformed input data, 66 an input
//! that does not exist, 70 internal error, 74 I/O error.
#![forbid(unsafe_code)]
#![warn(clippy::unwrap_used)]

mod chip;
mod tools;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
#[command(name = "idcheck-testkit", version, about = "Test cards for idcheck: corpus, chip images, test PKI, card emulator, calibration")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate the test corpus (records, printed and scanned surfaces, chip images, labels).
    Fixtures {
        #[command(subcommand)]
        cmd: tools::FixturesCmd,
    },
    /// Write a chip image for an acceptance record, signed by a test PKI's document signer.
    Personalize(chip::PersonalizeArgs),
    /// Serve a chip image as a contactless ICAO card through vpcd (the virtual reader of pcscd).
    Emulate(idcheck_testkit::emulator::cli_args::EmulateArgs),
    /// Test PKI for virtual cards.
    Pki {
        #[command(subcommand)]
        cmd: chip::PkiCmd,
    },
    /// Recompute the comparison thresholds from data.
    Calibrate {
        #[command(subcommand)]
        cmd: tools::CalibrateCmd,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { EX_USAGE } else { 0 };
            // Nothing more can be said if stderr itself is gone.
            e.print().ok();
            return ExitCode::from(code);
        }
    };
    let result = match cli.command {
        Command::Fixtures { cmd } => tools::fixtures(cmd),
        Command::Calibrate { cmd } => tools::calibrate(cmd),
        Command::Personalize(a) => chip::personalize(a),
        Command::Pki { cmd } => chip::pki(cmd),
        Command::Emulate(a) => chip::emulate(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("idcheck-testkit: {}", e.message);
            ExitCode::from(e.code)
        }
    }
}

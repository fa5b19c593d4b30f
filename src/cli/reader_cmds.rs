//! `idcheck readers`, `idcheck read` and the live path of `idcheck verify --reader`: the chip read
//! through PC/SC with the BAC key derived from the acceptance record.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use idcheck_chip::read::ReadOutcome;
use idcheck_chip::{BacKey, ReadFailure, ReadStep};
use idcheck_pcsc::live::{self, LiveReadOptions};
use idcheck_core::model::AcceptanceRecord;

use super::{CliError, CliResult, DbArg};

/// Connection settings shared by the commands that read a card.
#[derive(Args, Clone, Debug)]
pub struct ReaderArgs {
    /// Reader name (or a unique part of it); see `idcheck readers`.
    #[arg(long)]
    pub reader: Option<String>,
    /// Bound on one APDU exchange, milliseconds (a mute card never hangs idcheck).
    #[arg(long, default_value_t = 3000)]
    pub exchange_timeout_ms: u64,
    /// How long to wait for a card to be placed, milliseconds.
    #[arg(long, default_value_t = 0)]
    pub wait_ms: u64,
    /// Whole-read attempts when the card leaves the field mid-read.
    #[arg(long, default_value_t = 3)]
    pub attempts: u32,
    /// The card access number printed on the card: PACE with it instead of the MRZ.
    #[arg(long, value_name = "CAN")]
    pub can: Option<String>,
    /// Access control: auto (PACE when the chip offers it, else BAC), bac, pace.
    #[arg(long, value_enum, default_value_t = AccessArg::Auto)]
    pub access: AccessArg,
}

/// `--access`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessArg {
    Auto,
    Bac,
    Pace,
}

#[derive(Args)]
pub struct ReadArgs {
    #[command(flatten)]
    reader: ReaderArgs,
    /// The acceptance record (directory or stored id) whose MRZ data gives the BAC key.
    #[arg(long)]
    record: String,
    /// Where to save the chip image directory.
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    db: DbArg,
}

pub fn readers() -> CliResult {
    let list = idcheck_pcsc::list_readers().map_err(|e| CliError::new(2, format!("unavailable: {e}")))?;
    if list.is_empty() {
        println!("no readers");
    }
    for r in list {
        let card = match (&r.atr, r.card_present, r.card_mute) {
            (_, _, true) => "card present, mute".to_string(),
            (Some(atr), true, _) => format!("card present, ATR {}", hex::encode_upper(atr)),
            (None, true, _) => "card present".to_string(),
            _ => "no card".to_string(),
        };
        println!("{}\t{}", r.name, card);
    }
    Ok(ExitCode::SUCCESS)
}

/// The BAC key of the card made for this record (its MRZ data: document number, birth, expiry).
pub fn bac_key(record: &AcceptanceRecord) -> Result<BacKey, CliError> {
    live::bac_key(record).map_err(CliError::data)
}

/// Connect to the reader and read the chip. `Err(ReadFailure)` carries the step for the verdict.
pub fn read_card(args: &ReaderArgs, key: &BacKey) -> Result<ReadOutcome, ReadFailure> {
    let name = live::pick_reader(args.reader.as_deref()).map_err(|e| ReadFailure::from_transport(ReadStep::Connect, &e.into()))?;
    let opts = LiveReadOptions {
        exchange_timeout: Duration::from_millis(args.exchange_timeout_ms),
        wait_for_card: Duration::from_millis(args.wait_ms),
        attempts: args.attempts,
        access: match args.access {
            AccessArg::Auto => idcheck_chip::AccessPolicy::Auto,
            AccessArg::Bac => idcheck_chip::AccessPolicy::BacOnly,
            AccessArg::Pace => idcheck_chip::AccessPolicy::PaceOnly,
        },
    };
    live::read_card(&name, key, args.can.as_deref(), opts)
}

pub fn read(a: ReadArgs) -> CliResult {
    let record = super::load_record(&a.record, &a.db)?;
    let key = bac_key(&record)?;
    match read_card(&a.reader, &key) {
        Ok(outcome) => {
            outcome.image.save_dir(&a.out).map_err(CliError::io)?;
            let s = &outcome.stats;
            println!(
                "read {} files ({} bytes) in {} file APDUs (minimum at 223 bytes per APDU: {}), {} APDUs in all, {} ms, to {}",
                outcome.image.files.len(),
                s.file_bytes(),
                s.file_apdus(),
                s.min_file_apdus(223),
                s.total.apdus,
                s.elapsed.as_millis(),
                a.out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(f) => Err(CliError::new(1, format!("chip read failed: {f}"))),
    }
}

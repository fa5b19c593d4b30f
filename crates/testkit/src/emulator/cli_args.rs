//! The `idcheck-testkit emulate` arguments and their run: load a chip image directory, build the virtual
//! card with its fault switches, print a start banner, serve it on vpcd and log one line per
//! APDU (command, file, offset, Le, status word, data length: never file contents) to the sink
//! the binary gives (stderr), until the stop flag is set.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use super::card::{CardConfig, VirtualCard};
use super::eac::{AccessMode, ChipSecrets};
use super::faults::{Faults, MaxLe, WrongAnswers};
use super::vpcd::{serve, Event, ServeReport, VpcdOptions, DEFAULT_VPCD_ADDR};
use super::{atr, EmulatorError};
use idcheck_core::lds::{self, ChipImage, FileId};

/// Serve a chip image directory as a contactless ICAO card through pcscd's vpcd virtual reader.
#[derive(clap::Args, Debug, Clone, PartialEq, Eq)]
pub struct EmulateArgs {
    /// Chip image directory to serve (com.bin, sod.bin, dg1.bin, ...; dg1.bin gives the BAC key)
    #[arg(long, value_name = "DIR")]
    pub card: PathBuf,
    /// Address of vpcd (the pcscd virtual reader driver); the first reader slot listens on 35963
    #[arg(long, value_name = "HOST:PORT", default_value = DEFAULT_VPCD_ADDR)]
    pub vpcd: String,
    /// Never answer an APDU (the reader still sees the card)
    #[arg(long)]
    pub mute: bool,
    /// Go mute from the Nth APDU on (counted from 1 since start)
    #[arg(long, value_name = "N")]
    pub mute_after: Option<u64>,
    /// Leave the field once N response bytes have been delivered (the answer crossing N is lost)
    #[arg(long, value_name = "N")]
    pub leave_after: Option<usize>,
    /// After leaving the field, come back after MS milliseconds (and stay)
    #[arg(long, value_name = "MS", requires = "leave_after")]
    pub reinsert_after: Option<u64>,
    /// Corrupt answers: KIND[:N][+], KIND = mac | data | garbage | sw | short, from APDU N (default 1), + for every answer from then on
    #[arg(long, value_name = "KIND[:N][+]")]
    pub wrong_answer: Option<WrongAnswers>,
    /// Delay every answer by MS milliseconds
    #[arg(long, value_name = "MS")]
    pub slow: Option<u64>,
    /// Refuse reads asking for more than N bytes: N[:6c|6700|6282|6b00|truncate] (default 6c, i.e. 6CXX)
    #[arg(long, value_name = "N[:BEHAVIOUR]")]
    pub max_le: Option<MaxLe>,
    /// No ICAO application: SELECT by AID answers 6A82
    #[arg(long)]
    pub no_application: bool,
    /// DG3 protected as on EAC passports: reading it answers 6982
    #[arg(long)]
    pub dg3_protected: bool,
    /// Accept extended-length APDUs and advertise them (type A ATR card capabilities, EF.ATR/INFO)
    #[arg(long)]
    pub extended_length: bool,
    /// Report this ATR (hex) instead of the built-in contactless one
    #[arg(long, value_name = "HEX")]
    pub atr: Option<String>,
    /// Derive the BAC keys from this MRZ information (24 characters) instead of DG1's
    #[arg(long, value_name = "MRZ-INFO")]
    pub bac_mrz: Option<String>,
    /// Seed the card's random numbers (reproducible challenges)
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Offer only PACE (no BAC), as EU identity cards since 2021
    #[arg(long, conflicts_with = "bac_only")]
    pub pace_only: bool,
    /// Offer only BAC (EF.CardAccess hidden, MSE:Set AT refused)
    #[arg(long)]
    pub bac_only: bool,
    /// A clone: Chip Authentication with a key that does not match DG14
    #[arg(long)]
    pub ca_wrong_key: bool,
    /// Corrupt the Active Authentication signature
    #[arg(long)]
    pub aa_bad_signature: bool,
    /// Leave the field at the Nth General Authenticate of PACE (1-4)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(1..=4))]
    pub leave_during_pace: Option<u8>,
    /// Do not log each APDU (the start banner and the final summary are still printed)
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

impl EmulateArgs {
    /// The fault switches as [`Faults`].
    pub fn faults(&self) -> Faults {
        Faults {
            mute: self.mute,
            mute_after_apdus: self.mute_after,
            leave_after_bytes: self.leave_after,
            reinsert_after_ms: self.reinsert_after,
            wrong_answers: self.wrong_answer,
            slow_ms: self.slow,
            max_le: self.max_le,
            no_application: self.no_application,
            dg3_protected: self.dg3_protected,
            ca_wrong_key: self.ca_wrong_key,
            aa_bad_signature: self.aa_bad_signature,
            leave_during_pace: self.leave_during_pace,
        }
    }

    /// The card configuration switches as [`CardConfig`].
    pub fn config(&self) -> Result<CardConfig, EmulatorError> {
        let atr = match &self.atr {
            Some(hex) => Some(atr::parse_hex(hex).map_err(EmulatorError::Atr)?),
            None => None,
        };
        Ok(CardConfig {
            extended_length: self.extended_length,
            atr,
            bac_mrz_information: self.bac_mrz.clone(),
            rng_seed: self.seed,
            access: if self.pace_only {
                AccessMode::PaceOnly
            } else if self.bac_only {
                AccessMode::BacOnly
            } else {
                AccessMode::Both
            },
            secrets: ChipSecrets::load_dir(&self.card).map_err(EmulatorError::Protocols)?,
            ..CardConfig::default()
        })
    }

    /// Load the card, print the banner to `log`, serve until `stop` is set, print the summary.
    pub fn run(&self, stop: Arc<AtomicBool>, log: &mut dyn Write) -> Result<ServeReport, EmulatorError> {
        let image = ChipImage::load_dir(&self.card).map_err(EmulatorError::Image)?;
        let mut card = VirtualCard::with_config(image, self.faults(), self.config()?)?;
        banner(&card, &self.card.display().to_string(), &self.vpcd, log).map_err(EmulatorError::Log)?;
        let opts = VpcdOptions { addr: self.vpcd.clone(), ..VpcdOptions::default() };
        let start = Instant::now();
        let quiet = self.quiet;
        let report = serve(&mut card, &opts, &stop, &mut |e: &Event| {
            let chatty = matches!(e, Event::Apdu { .. } | Event::PowerOn | Event::PowerOff | Event::Reset);
            if quiet && chatty {
                return;
            }
            // A log line that cannot be written is not a reason to drop the card.
            let _ = writeln!(log, "[{:>8.3}s] {e}", start.elapsed().as_secs_f64());
        })?;
        let s = &report.stats;
        writeln!(
            log,
            "served {} APDUs ({} under secure messaging, {} unanswered) over {} vpcd connection(s); BAC {} ok / {} refused; {} SM errors; {} file bytes",
            s.apdus, s.secured_apdus, s.unanswered, report.connections, s.bac_successes, s.bac_failures, s.sm_errors, s.file_bytes
        )
        .map_err(EmulatorError::Log)?;
        Ok(report)
    }
}

/// The start banner: who the card is, what it holds (file names and sizes), how it answers.
pub fn banner(card: &VirtualCard, dir: &str, vpcd: &str, log: &mut dyn Write) -> std::io::Result<()> {
    writeln!(log, "idcheck emulate: serving the chip image {dir}")?;
    let image = card.image();
    match image.get(FileId::Dg1).map(lds::parse_dg1) {
        Some(Ok(mrz)) => writeln!(
            log,
            "  card: document {} ({} {}), {}",
            mrz.document_number,
            mrz.document_code,
            mrz.issuing_state,
            mrz.name_latin.replace('<', " ").split_whitespace().collect::<Vec<_>>().join(" ")
        )?,
        Some(Err(e)) => writeln!(log, "  card: DG1 unreadable ({e})")?,
        None => writeln!(log, "  card: no DG1")?,
    }
    let files: Vec<String> = FileId::ALL
        .into_iter()
        .filter_map(|id| image.get(id).map(|b| format!("{id} {} B", b.len())))
        .collect();
    writeln!(log, "  files: {}", files.join(", "))?;
    let cfg = card.config();
    writeln!(
        log,
        "  BAC key from {}; ATR {}; {}",
        if cfg.bac_mrz_information.is_some() { "--bac-mrz" } else { "DG1" },
        hex::encode_upper(card.atr()),
        if cfg.extended_length {
            format!("extended length up to {} bytes", cfg.max_extended_response)
        } else {
            "short APDUs only (at most 231 file bytes per READ BINARY under secure messaging)".to_string()
        }
    )?;
    writeln!(log, "  faults: {}", card.faults().describe())?;
    writeln!(log, "  vpcd: {vpcd} (stop with Ctrl-C: the reader then sees the card removed)")?;
    Ok(())
}

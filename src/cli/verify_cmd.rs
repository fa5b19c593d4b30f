//! `idcheck verify`: one card from files (or a stored record), the verdict printed and stored.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use idcheck_core::lds::ChipImage;
use idcheck_core::model::AcceptanceRecord;
use idcheck_core::pki::{RevocationPolicy, TrustStore};
use idcheck_core::records;
use idcheck_store::{Store, VerificationRow};
use idcheck_core::verdict::Verdict;
use idcheck_verify::{Request, Verification, Verifier};

use super::{report, CliError, CliResult, DbArg, EX_NOINPUT};

#[derive(Args)]
pub struct VerifyArgs {
    /// Acceptance record: a record directory, or the application id of a stored record.
    #[arg(long)]
    record: String,
    /// Chip image directory (com.bin, sod.bin, dg1.bin ...).
    #[arg(long, required_unless_present = "reader", conflicts_with = "reader")]
    chip: Option<PathBuf>,
    /// Live read instead of --chip: --reader NAME (a unique part of the name is enough).
    #[command(flatten)]
    reader_opts: super::reader_cmds::ReaderArgs,
    /// Surface record directory from the QC scanner (absent at a kiosk).
    #[arg(long)]
    surface: Option<PathBuf>,
    /// Directory of trusted CSCA certificates (PEM or DER).
    #[arg(long)]
    trust: Option<PathBuf>,
    /// A CSCA of the trust directory without a current CRL: `warn` (verdict plus a not-checked
    /// note) or `require` (verdict `unavailable`).
    #[arg(long, value_enum, default_value = "warn")]
    revocation: RevocationArg,
    /// Print one JSON object (the verdict) instead of the readable report.
    #[arg(long)]
    json: bool,
    /// Do not store the verdict.
    #[arg(long)]
    no_store: bool,
    #[command(flatten)]
    db: DbArg,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum RevocationArg {
    Warn,
    Require,
}

impl From<RevocationArg> for RevocationPolicy {
    fn from(a: RevocationArg) -> RevocationPolicy {
        match a {
            RevocationArg::Warn => RevocationPolicy::Warn,
            RevocationArg::Require => RevocationPolicy::Require,
        }
    }
}

/// A chip image from a directory, or a live read (with what it proved about the chip).
enum Chip {
    Image(ChipImage),
    Read(Box<idcheck_chip::ReadOutcome>),
}

pub fn run(a: VerifyArgs) -> CliResult {
    let started = now_rfc3339();
    let record = super::load_record(&a.record, &a.db)?;
    let surface = match &a.surface {
        Some(p) => Some(records::surface::load_dir(p).map_err(CliError::data)?),
        None => None,
    };
    let trust = match &a.trust {
        Some(p) => TrustStore::load_dir(p).map_err(CliError::data)?.with_revocation_policy(a.revocation.into()),
        None => TrustStore::empty(),
    };
    let chip = match (&a.chip, &a.reader_opts.reader) {
        (Some(dir), _) => {
            if !dir.is_dir() {
                return Err(CliError::new(EX_NOINPUT, format!("chip image directory {} does not exist", dir.display())));
            }
            Ok(Chip::Image(ChipImage::load_dir(dir).map_err(CliError::data)?))
        }
        (None, _) => {
            let opts = a.reader_opts.clone();
            let key = super::reader_cmds::bac_key(&record)?;
            super::reader_cmds::read_card(&opts, &key).map(|o| Chip::Read(Box::new(o)))
        }
    };
    let verifier = Verifier::new(trust);
    let verification = if verifier.trust.is_empty() {
        // Without trust anchors the chip cannot be authenticated: a fault of the station, not the card.
        Verification {
            verdict: Verdict::unavailable("no trust anchors configured (--trust): passive authentication impossible"),
            inputs: Vec::new(),
        }
    } else {
        match &chip {
            Ok(Chip::Image(chip)) => verifier.verify(Request { record: &record, surface: surface.as_ref(), chip }),
            Ok(Chip::Read(read)) => verifier.verify_read(&record, surface.as_ref(), read),
            Err(failure) => match verifier.verify_failed_read(&record, surface.as_ref(), failure) {
                Some(v) => v,
                None => return Err(CliError::new(super::EX_SOFTWARE, format!("read aborted: {failure}"))),
            },
        }
    };
    let mut verdict = verification.verdict.clone();
    if !a.no_store {
        let reader = a.reader_opts.reader.as_deref();
        if let Err(e) = store_verdict(&a.db, &record, surface.as_ref().map(|s| s.scan_id.as_str()), reader, &verification, &started) {
            verdict = Verdict::unavailable(format!("the verdict could not be stored: {e}"));
        }
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&verdict).map_err(|e| CliError::new(super::EX_SOFTWARE, e.to_string()))?);
    } else {
        print!("{}", report::verdict_text(&verdict, &record));
    }
    Ok(ExitCode::from(verdict.exit_code()))
}

fn store_verdict(
    db: &DbArg,
    record: &AcceptanceRecord,
    scan_id: Option<&str>,
    reader: Option<&str>,
    v: &Verification,
    started: &str,
) -> Result<i64, String> {
    let path = db.path().map_err(|e| e.message)?;
    let store = Store::open(&path).map_err(|e| e.to_string())?;
    let verdict = &v.verdict;
    let row = VerificationRow {
        started_at: started.to_string(),
        finished_at: now_rfc3339(),
        record_id: Some(record.application_id.clone()),
        scan_id: scan_id.map(str::to_string),
        reader: reader.map(str::to_string),
        verdict_json: serde_json::to_string(verdict).map_err(|e| e.to_string())?,
        status: verdict.status,
        causes: verdict.causes.clone(),
        primary: verdict.primary.map(|c| c.number()),
        inputs: v.inputs.clone(),
        requested_by: Some(cli_user()),
    };
    store.save_verification(&row).map_err(|e| e.to_string())
}

/// "cli:<user>" for the audit log: who ran the command (USER, else the uid).
pub(super) fn cli_user() -> String {
    match std::env::var("USER").ok().filter(|u| !u.is_empty()) {
        Some(u) => format!("cli:{u}"),
        None => format!("cli:uid={}", nix::unistd::getuid()),
    }
}

pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

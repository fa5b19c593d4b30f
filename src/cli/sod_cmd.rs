//! `idcheck pki verify-sod`: passive authentication of one EF.SOD as a tool for staff and
//! auditors. It prints what [`idcheck_core::pki::inspect`] found (algorithms, curve, data group
//! hashes, signer, chain, revocation, the first failing step), readable or as one JSON object.
//! Exit status: 0 when no step failed, 1 when one did, 2 when revocation cannot be checked under
//! `--revocation require` (like `verify`: the card is not judged), 65 when an input cannot be read.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use serde::Serialize;
use time::Date;

use idcheck_core::lds::ChipImage;
use idcheck_core::pki::inspect::{inspect, Inspection};
use idcheck_core::pki::{RevocationStatus, TrustStore};

use super::verify_cmd::RevocationArg;
use super::{CliError, CliResult, EX_NOINPUT, EX_USAGE};

#[derive(Args, Debug)]
pub struct VerifySodArgs {
    /// The EF.SOD file (tag 77 as read from a chip, or a bare CMS ContentInfo; DER or BER). With
    /// --chip and no SOD, the chip's sod.bin.
    sod: Option<PathBuf>,
    /// A data group file to check against its hash: N=FILE (repeatable).
    #[arg(long = "dg", value_name = "N=FILE")]
    dgs: Vec<String>,
    /// A chip image directory (sod.bin, dgN.bin): its EF.SOD and every data group in it.
    #[arg(long)]
    chip: Option<PathBuf>,
    /// Directory of trusted CSCA certificates and CRLs. Without it, the chain is `untrusted`.
    #[arg(long)]
    trust: Option<PathBuf>,
    /// The day to check validity and CRL freshness on (YYYY-MM-DD; default today, UTC).
    #[arg(long)]
    at: Option<String>,
    /// A CSCA without a current CRL: `warn` (noted) or `require` (revocation unknown, exit 2).
    #[arg(long, value_enum, default_value = "warn")]
    revocation: RevocationArg,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

/// The JSON answer (field names are the contract).
#[derive(Serialize)]
struct SodReport {
    parsed: bool,
    ber: bool,
    digest_algorithm: Option<String>,
    signer_digest_algorithm: Option<String>,
    signature_algorithm: Option<String>,
    curve: Option<String>,
    /// Data group number -> ok / mismatch / not_given / not_listed.
    data_groups: BTreeMap<u8, &'static str>,
    /// ok / invalid / unsupported (absent when EF.SOD did not parse).
    signature: Option<&'static str>,
    signer: Option<String>,
    signer_serial: Option<String>,
    signing_time: Option<String>,
    /// ok / untrusted / revoked / expired / unknown.
    chain: Option<&'static str>,
    chain_subjects: Vec<String>,
    revocation: Vec<RevocationLine>,
    checked_on: Option<String>,
    /// The first failing step's name, and its message.
    failed_step: Option<&'static str>,
    error: Option<String>,
}

#[derive(Serialize)]
struct RevocationLine {
    subject: String,
    serial: String,
    /// `checked` or `not_checked`.
    status: &'static str,
    detail: String,
}

fn parse_day(s: &str) -> Result<Date, CliError> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(s, &fmt).map_err(|e| CliError::new(EX_USAGE, format!("--at {s}: not a date YYYY-MM-DD ({e})")))
}

fn read(path: &PathBuf, what: &str) -> Result<Vec<u8>, CliError> {
    std::fs::read(path).map_err(|e| CliError::new(EX_NOINPUT, format!("{what} {}: {e}", path.display())))
}

pub fn verify_sod(a: VerifySodArgs) -> CliResult {
    let chip = match &a.chip {
        Some(dir) => Some(ChipImage::load_dir(dir).map_err(CliError::data)?),
        None => None,
    };
    let sod = match (&a.sod, &chip) {
        (Some(p), _) => read(p, "ef.sod")?,
        (None, Some(c)) => c
            .get(idcheck_core::lds::FileId::Sod)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| CliError::new(EX_NOINPUT, "the chip image holds no sod.bin".to_string()))?,
        (None, None) => return Err(CliError::new(EX_USAGE, "give an EF.SOD file, or --chip DIR".to_string())),
    };
    let mut dgs: Vec<(u8, Vec<u8>)> = Vec::new();
    if let Some(c) = &chip {
        for (id, bytes) in &c.files {
            if let Some(n) = id.dg_number() {
                dgs.push((n, bytes.clone()));
            }
        }
    }
    for spec in &a.dgs {
        let (n, file) = spec
            .split_once('=')
            .ok_or_else(|| CliError::new(EX_USAGE, format!("--dg {spec}: expected N=FILE")))?;
        let n: u8 = n
            .trim_start_matches(['D', 'G', 'd', 'g'])
            .parse()
            .ok()
            .filter(|n| (1..=16).contains(n))
            .ok_or_else(|| CliError::new(EX_USAGE, format!("--dg {spec}: N is a data group number 1..16")))?;
        let bytes = read(&PathBuf::from(file), &format!("dg{n}"))?;
        dgs.retain(|(d, _)| *d != n);
        dgs.push((n, bytes));
    }
    dgs.sort_by_key(|(n, _)| *n);
    let trust = match &a.trust {
        Some(p) => TrustStore::load_dir(p).map_err(CliError::data)?,
        None => TrustStore::empty(),
    }
    .with_revocation_policy(a.revocation.into());
    let at = match &a.at {
        Some(s) => parse_day(s)?,
        None => time::OffsetDateTime::now_utc().date(),
    };
    let refs: Vec<(u8, &[u8])> = dgs.iter().map(|(n, b)| (*n, b.as_slice())).collect();
    let found = inspect(&sod, &refs, &trust, Some(at));
    let report = to_report(&found, at);
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report).map_err(CliError::data)?);
    } else {
        print_readable(&report, a.trust.is_none());
    }
    Ok(ExitCode::from(match &found.first_failure {
        None => 0,
        Some(f) if f.is_station_fault() => 2,
        Some(_) => 1,
    }))
}

fn to_report(f: &Inspection, at: Date) -> SodReport {
    SodReport {
        parsed: f.parsed,
        ber: f.ber,
        digest_algorithm: f.digest_algorithm.clone(),
        signer_digest_algorithm: f.signer_digest_algorithm.clone(),
        signature_algorithm: f.signature_algorithm.clone(),
        curve: f.curve.clone(),
        data_groups: f.data_groups.iter().map(|(n, s)| (*n, s.as_str())).collect(),
        signature: f.signature.map(|s| s.as_str()),
        signer: f.signer_subject.clone(),
        signer_serial: f.signer_serial.clone(),
        signing_time: f.signing_time.map(idcheck_core::audit_format::entry::format_time),
        chain: f.chain,
        chain_subjects: f.chain_subjects.clone(),
        revocation: f
            .revocation
            .iter()
            .map(|r| match &r.status {
                RevocationStatus::Good { crl_this_update, crl_next_update } => RevocationLine {
                    subject: r.subject.clone(),
                    serial: r.serial.clone(),
                    status: "checked",
                    detail: format!(
                        "not listed in the crl of {} (next update {})",
                        crl_this_update.date(),
                        crl_next_update.map(|t| t.date().to_string()).unwrap_or_else(|| "none".into())
                    ),
                },
                RevocationStatus::NotChecked { reason } => RevocationLine {
                    subject: r.subject.clone(),
                    serial: r.serial.clone(),
                    status: "not_checked",
                    detail: reason.clone(),
                },
            })
            .collect(),
        checked_on: f.parsed.then(|| at.to_string()),
        failed_step: f.first_failure.as_ref().map(|e| e.step()),
        error: f.first_failure.as_ref().map(|e| e.to_string()),
    }
}

fn print_readable(r: &SodReport, no_trust: bool) {
    let line = |k: &str, v: &str| println!("{k:<18}{v}");
    let or_dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    line("ef.sod", if !r.parsed { "does not parse" } else if r.ber { "parsed (BER, normalised to DER)" } else { "parsed (DER)" });
    if r.parsed {
        line("digest algorithm", &format!("{} (data groups), {} (signer)", or_dash(&r.digest_algorithm), or_dash(&r.signer_digest_algorithm)));
        line("signature", &format!("{} {}: {}", or_dash(&r.signature_algorithm), r.curve.as_deref().map(|c| format!("on {c}")).unwrap_or_default(), r.signature.unwrap_or("-")));
        line("signer", &format!("{} (serial {}), signed {}", or_dash(&r.signer), or_dash(&r.signer_serial), or_dash(&r.signing_time)));
        let dgs: Vec<String> = r.data_groups.iter().map(|(n, s)| format!("dg{n} {s}")).collect();
        line("data groups", &dgs.join(", "));
        let chain = match r.chain {
            Some("ok") => format!("ok: {}", r.chain_subjects.join(" <- ")),
            Some(s) if no_trust => format!("{s} (no --trust given)"),
            Some(s) => s.to_string(),
            None => "-".into(),
        };
        line("chain", &chain);
        for rev in &r.revocation {
            line("revocation", &format!("{} ({}): {}: {}", rev.subject, rev.serial, rev.status.replace('_', " "), rev.detail));
        }
        line("checked on", &or_dash(&r.checked_on));
    }
    match (&r.failed_step, &r.error) {
        (Some(step), Some(e)) => line("first failure", &format!("{step}: {e}")),
        _ => line("first failure", "none"),
    }
}

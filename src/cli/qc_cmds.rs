//! `idcheck qc run` (a QC batch through the running daemon: records, scanner inbox, reader; a
//! progress line per card and a summary table) and `idcheck qc report` (a batch's self-contained
//! HTML report and CSV, from the store).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};
use idcheck::daemon::client::{Client, ClientError};
use idcheck::daemon::qc::{batch_value, view_value};
use idcheck::wire::{carry_by_name, Batch, BatchCreated, BatchRequest, DaemonEvent};
use idcheck_store::Store;
use idcheck::web::report::{batch_report_csv, batch_report_html, ReportCard};

use super::daemon_cmds::SocketArgs;
use super::{CliError, CliResult, DbArg, EX_IOERR, EX_NOINPUT, EX_SOFTWARE};

#[derive(Subcommand)]
pub enum QcCmd {
    /// Run a QC batch through the daemon: each scan dropped in the inbox is paired with its record;
    /// place that card on the reader; the verdict is printed as it comes.
    Run(RunArgs),
    /// Write a batch's report: report.html (self-contained, printable) and report.csv.
    Report(ReportArgs),
}

#[derive(Args)]
pub struct RunArgs {
    /// The batch's acceptance records (a record directory, a directory of them, or JSON Lines).
    #[arg(long)]
    records: PathBuf,
    /// The scanner's inbox folder (one surface record directory per scanned card).
    #[arg(long)]
    inbox: PathBuf,
    /// The reader the operator places the cards on.
    #[arg(long)]
    reader: Option<String>,
    /// A name for the batch.
    #[arg(long)]
    name: Option<String>,
    /// How long to wait for each card, seconds.
    #[arg(long, default_value_t = 120)]
    card_wait_secs: u64,
    #[command(flatten)]
    socket: SocketArgs,
}

#[derive(Args)]
pub struct ReportArgs {
    /// The batch id (`idcheck qc run` prints it).
    #[arg(long)]
    batch: i64,
    /// Output directory (report.html, report.csv).
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    db: DbArg,
}

pub fn qc(cmd: QcCmd) -> CliResult {
    match cmd {
        QcCmd::Run(a) => run(a),
        QcCmd::Report(a) => report(a),
    }
}

fn abs(p: &PathBuf) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.clone())
}

fn run(a: RunArgs) -> CliResult {
    let client = Client::new(&a.socket.path()?).map_err(|e| CliError::new(EX_SOFTWARE, e.to_string()))?.with_timeout(Duration::from_secs(60));
    let mut events = client.events().map_err(|e| CliError::new(69, e.to_string()))?;
    let body = BatchRequest {
        name: a.name.clone(),
        records: abs(&a.records),
        inbox: abs(&a.inbox),
        reader: a.reader.clone(),
        card_wait_secs: Some(a.card_wait_secs),
    };
    let created: BatchCreated = client.post_as("/v1/qc/batches", &body).map_err(|e| match e {
        ClientError::Refused { .. } | ClientError::Decode { .. } => CliError::new(EX_IOERR, format!("daemon refused the batch: {e}")),
        e => CliError::new(69, e.to_string()),
    })?;
    let (id, total) = (created.id, created.records as u64);
    println!("batch {id}: {total} records; waiting for scans in {}", a.inbox.display());
    for e in &created.import_errors {
        eprintln!("  record not imported: {e}");
    }
    let mut done = 0u64;
    let mut out = std::io::stdout();
    loop {
        let ev = events.next(Duration::from_secs(1)).map_err(|e| CliError::new(69, e.to_string()))?;
        // events of other kinds (hello, lagged) or of a newer daemon are not this console's
        let Some(ev) = ev.and_then(|e| e.parse::<DaemonEvent>().ok()) else { continue };
        match ev {
            DaemonEvent::QcItem { batch, scan_id, status, causes, .. } if batch == id => {
                done += 1;
                let causes: Vec<String> = causes.iter().map(ToString::to_string).collect();
                let bar_w = 30usize;
                let filled = if total > 0 { (done.min(total) as usize * bar_w) / total as usize } else { 0 };
                let _ = writeln!(
                    out,
                    "[{}{}] {done}/{total}  {:<20} {:<11} {}",
                    "#".repeat(filled),
                    "-".repeat(bar_w - filled),
                    scan_id,
                    status.as_str(),
                    if causes.is_empty() { String::new() } else { format!("causes {}", causes.join(",")) }
                );
            }
            DaemonEvent::QcBatchDone { batch } if batch == id => break,
            DaemonEvent::CardInserted { reader, .. } => {
                let _ = writeln!(out, "  card placed on {reader}");
            }
            _ => {}
        }
    }
    let batch: Batch = client.get_as(&format!("/v1/qc/batches/{id}")).map_err(|e| CliError::new(69, e.to_string()))?;
    print_summary(&batch);
    Ok(ExitCode::from(if batch.counts.invalid > 0 { 1 } else { 0 }))
}

fn print_summary(batch: &Batch) {
    let c = &batch.counts;
    println!();
    println!("batch {} summary", batch.id);
    println!("  {:<12} {:>5}", "checked", c.total);
    for (k, n) in [
        ("pass", c.pass),
        ("invalid", c.invalid),
        ("unavailable", c.unavailable),
        ("error", c.error),
        ("cause1", c.cause1),
        ("cause2", c.cause2),
        ("cause3", c.cause3),
        ("cause4", c.cause4),
    ] {
        println!("  {:<12} {:>5}", k, n);
    }
    println!();
    println!("  {:<22} {:<20} {:<11} {:<7} carries data of", "scan", "record", "status", "causes");
    for i in &batch.items {
        let causes: Vec<String> = i.causes.iter().map(ToString::to_string).collect();
        let carries: Vec<String> = i.carries.iter().map(|c| format!("{} ({})", c.record_id, carry_by_name(c.by))).collect();
        println!(
            "  {:<22} {:<20} {:<11} {:<7} {}",
            i.scan_id,
            i.record_id.as_deref().unwrap_or("-"),
            i.status.as_str(),
            causes.join(","),
            carries.join(", ")
        );
    }
}

fn report(a: ReportArgs) -> CliResult {
    let store = Store::open(&a.db.path()?).map_err(CliError::io)?;
    let b = store.batch(a.batch).map_err(CliError::io)?.ok_or_else(|| CliError::new(EX_NOINPUT, format!("no batch {}", a.batch)))?;
    let items = store.batch_items(a.batch).map_err(CliError::io)?;
    let batch = batch_value(&b, &items);
    let mut cards = Vec::new();
    for i in &items {
        let Some(vid) = i.verification_id else { continue };
        let Some(v) = store.get_verification(vid).map_err(CliError::io)? else { continue };
        let names = store.evidence_photo_names(vid).map_err(CliError::io)?;
        let ev = store.evidence_view(vid).map_err(CliError::io)?;
        let view = view_value(&v, ev.as_deref(), &names);
        let mut images = Vec::new();
        for n in &names {
            if let Some(png) = store.evidence_photo(vid, n).map_err(CliError::io)? {
                images.push((format!("/v1/verifications/{vid}/photos/{n}"), png));
            }
        }
        cards.push(ReportCard { view, images });
    }
    std::fs::create_dir_all(&a.out).map_err(|e| CliError::io(format!("{}: {e}", a.out.display())))?;
    let html = batch_report_html(&batch, &cards);
    std::fs::write(a.out.join("report.html"), html).map_err(|e| CliError::io(format!("report.html: {e}")))?;
    std::fs::write(a.out.join("report.csv"), batch_report_csv(&batch)).map_err(|e| CliError::io(format!("report.csv: {e}")))?;
    println!("batch {}: {} cards; {} and {}", a.batch, items.len(), a.out.join("report.html").display(), a.out.join("report.csv").display());
    print_summary(&batch);
    Ok(ExitCode::SUCCESS)
}

//! `idcheck qc run` (a QC batch through the running daemon: records, scanner inbox, reader; a
//! progress line per card and a summary table) and `idcheck qc report` (a batch's self-contained
//! HTML report and CSV, from the store).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};
use idcheck::daemon::client::Client;
use idcheck::daemon::qc::{batch_value, view_value};
use idcheck_store::Store;
use idcheck::web::report::{batch_report_csv, batch_report_html, ReportCard};
use serde_json::{json, Value};

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
    let body = json!({
        "records": abs(&a.records), "inbox": abs(&a.inbox), "reader": a.reader, "name": a.name, "card_wait_secs": a.card_wait_secs,
    });
    let (code, created) = client.post("/v1/qc/batches", &body).map_err(|e| CliError::new(69, e.to_string()))?;
    if !code.is_success() {
        return Err(CliError::new(EX_IOERR, format!("daemon refused the batch: HTTP {code}: {}", created["error"].as_str().unwrap_or(""))));
    }
    let id = created["id"].as_i64().unwrap_or(0);
    let total = created["records"].as_u64().unwrap_or(0);
    println!("batch {id}: {total} records; waiting for scans in {}", a.inbox.display());
    for e in created["import_errors"].as_array().into_iter().flatten() {
        eprintln!("  record not imported: {}", e.as_str().unwrap_or(""));
    }
    let mut done = 0u64;
    let mut out = std::io::stdout();
    loop {
        let ev = events.next(Duration::from_secs(1)).map_err(|e| CliError::new(69, e.to_string()))?;
        match ev {
            Some(e) if e.event == "qc_item" && e.data["batch"].as_i64() == Some(id) => {
                done += 1;
                let causes = e.data["causes"].as_str().unwrap_or("");
                let bar_w = 30usize;
                let filled = if total > 0 { (done.min(total) as usize * bar_w) / total as usize } else { 0 };
                let _ = writeln!(
                    out,
                    "[{}{}] {done}/{total}  {:<20} {:<11} {}",
                    "#".repeat(filled),
                    "-".repeat(bar_w - filled),
                    e.data["scan_id"].as_str().unwrap_or(""),
                    e.data["status"].as_str().unwrap_or(""),
                    if causes.is_empty() { String::new() } else { format!("causes {causes}") }
                );
            }
            Some(e) if e.event == "qc_batch_done" && e.data["batch"].as_i64() == Some(id) => break,
            Some(e) if e.event == "card_inserted" => {
                let _ = writeln!(out, "  card placed on {}", e.data["reader"].as_str().unwrap_or("?"));
            }
            _ => {}
        }
    }
    let (_, batch) = client.get(&format!("/v1/qc/batches/{id}")).map_err(|e| CliError::new(69, e.to_string()))?;
    print_summary(&batch);
    let invalid = batch["counts"]["invalid"].as_u64().unwrap_or(0);
    Ok(ExitCode::from(if invalid > 0 { 1 } else { 0 }))
}

fn print_summary(batch: &Value) {
    let c = &batch["counts"];
    println!();
    println!("batch {} summary", batch["id"]);
    println!("  {:<12} {:>5}", "checked", c["total"]);
    for k in ["pass", "invalid", "unavailable", "error", "cause1", "cause2", "cause3", "cause4"] {
        println!("  {:<12} {:>5}", k, c[k]);
    }
    println!();
    println!("  {:<22} {:<20} {:<11} {:<7} carries data of", "scan", "record", "status", "causes");
    for i in batch["items"].as_array().into_iter().flatten() {
        let causes: Vec<String> = i["causes"].as_array().into_iter().flatten().map(|c| c.to_string()).collect();
        let carries: Vec<String> = i["carries"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| format!("{} ({})", c["record_id"].as_str().unwrap_or(""), c["by"].as_str().unwrap_or("")))
            .collect();
        println!(
            "  {:<22} {:<20} {:<11} {:<7} {}",
            i["scan_id"].as_str().unwrap_or(""),
            i["record_id"].as_str().unwrap_or("-"),
            i["status"].as_str().unwrap_or(""),
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

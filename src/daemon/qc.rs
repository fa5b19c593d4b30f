//! QC batches in the daemon: a batch is a set of acceptance records plus a scanner inbox folder
//! where the scanning station drops surface record directories. The batch runner watches the
//! inbox; for each new scan it pairs the scan with its record (printed ID number), then runs a
//! verification job that waits for the operator to place that card (`fresh_card`), and keeps the
//! outcome as a batch item. A card failing for cause 1 or 2 is searched against the batch's
//! records (`qc::Gallery`). Ends when every record has an item, when closed, or at shutdown.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::events::DaemonEvent;
use super::jobs::{self, BatchContext, JobRequest, Jobs};
use super::state::Shared;
pub use crate::wire::{BatchCreated, BatchRequest};
use crate::wire::{self, BatchCounts, StoredEvidence, VerificationView, ViewPhotos};
use idcheck_core::model::AcceptanceRecord;
use idcheck_core::qc::{self, Gallery};
use idcheck_store::{BatchItem, ItemStatus};
use idcheck_core::verdict::{Cause, Sources, Verdict};

/// Imports the batch's records, opens the batch and starts its runner.
pub async fn create(shared: Arc<Shared>, jobs: Arc<Jobs>, req: BatchRequest, caller: String) -> Result<BatchCreated, String> {
    if !req.inbox.is_dir() {
        return Err(format!("inbox {} is not a directory", req.inbox.display()));
    }
    let sh = shared.clone();
    let path = req.records.clone();
    let by = caller.clone();
    let (records, import_errors) = tokio::task::spawn_blocking(move || -> Result<(Vec<AcceptanceRecord>, Vec<String>), String> {
        let loaded = idcheck_core::records::acceptance::load_any(&path).map_err(|e| e.to_string())?;
        let mut ok = Vec::new();
        let mut errors = Vec::new();
        for r in loaded {
            match r {
                Err(e) => errors.push(e.to_string()),
                Ok(rec) => match sh.with_store(|s| s.import_record(&rec, &format!("qc batch by {by}"))) {
                    Ok(_) => ok.push(rec),
                    Err(e) => errors.push(format!("record {}: {e}", rec.application_id)),
                },
            }
        }
        Ok((ok, errors))
    })
    .await
    .map_err(|e| e.to_string())??;
    if records.is_empty() {
        return Err(format!("no usable record in {}: {}", req.records.display(), import_errors.join("; ")));
    }
    let ids: Vec<String> = records.iter().map(|r| r.application_id.clone()).collect();
    let name = req.name.clone().unwrap_or_else(|| format!("batch {}", now_rfc3339()));
    let sh = shared.clone();
    let (rp, ib, rd) = (req.records.display().to_string(), req.inbox.display().to_string(), req.reader.clone());
    let ids2 = ids.clone();
    let id = tokio::task::spawn_blocking(move || sh.with_store(|s| s.create_batch(&name, &rp, &ib, rd.as_deref(), &ids2)))
        .await
        .map_err(|e| e.to_string())??;
    tracing::info!(batch = id, records = ids.len(), by = %caller, "qc batch opened");
    let gallery = tokio::task::spawn_blocking(move || {
        let g = Gallery::build(&records);
        (g, records)
    })
    .await
    .map_err(|e| e.to_string())?;
    let ctx = Arc::new(BatchContext { id, gallery: gallery.0 });
    tokio::spawn(run(shared, jobs, ctx, gallery.1, req, caller));
    Ok(BatchCreated { id, records: ids.len(), import_errors })
}

/// What a scan directory holds: each file's name, size and modification time. A scan is taken
/// once this is the same on two polls in a row, so a scanner still writing its files (a copy
/// rather than an atomic rename) is not read half-written.
type Snapshot = Vec<(std::ffi::OsString, u64, Option<std::time::SystemTime>)>;

fn snapshot(dir: &Path) -> Snapshot {
    let mut out: Snapshot = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| {
                    let meta = e.metadata().ok();
                    (e.file_name(), meta.as_ref().map_or(0, |m| m.len()), meta.and_then(|m| m.modified().ok()))
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// Surface record directories in the inbox, by name.
fn scans(inbox: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(inbox)
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.join("surface.json").is_file()).collect())
        .unwrap_or_default();
    out.sort();
    out
}

async fn run(shared: Arc<Shared>, jobs: Arc<Jobs>, ctx: Arc<BatchContext>, records: Vec<AcceptanceRecord>, req: BatchRequest, caller: String) {
    let mut seen: BTreeSet<PathBuf> = BTreeSet::new();
    let mut done: BTreeSet<String> = BTreeSet::new();
    // Scans seen on the last poll and what they held then (not yet settled).
    let mut settling: BTreeMap<PathBuf, Snapshot> = BTreeMap::new();
    let mut stop = shared.shutdown_signal();
    loop {
        if shared.shutting_down() || is_closed(&shared, ctx.id) {
            break;
        }
        let candidates: Vec<PathBuf> = scans(&req.inbox).into_iter().filter(|p| !seen.contains(p)).collect();
        let mut new = Vec::new();
        for dir in candidates {
            let now = snapshot(&dir);
            if settling.get(&dir) == Some(&now) {
                settling.remove(&dir);
                new.push(dir);
            } else {
                settling.insert(dir, now);
            }
        }
        for dir in new {
            seen.insert(dir.clone());
            let item = one_scan(&shared, &jobs, &ctx, &records, &req, &caller, &dir).await;
            if let Some(r) = &item.record_id {
                done.insert(r.clone());
            }
            let sh = shared.clone();
            let (bid, it) = (ctx.id, item.clone());
            // A batch item that cannot be stored is logged (the verification itself is in the log).
            match tokio::task::spawn_blocking(move || sh.with_store(|s| s.save_batch_item(bid, &it))).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::error!(batch = bid, scan = %item.scan_id, error = %e, "storing a batch item failed"),
                Err(e) => tracing::error!(batch = bid, scan = %item.scan_id, error = %e, "storing a batch item failed"),
            }
            shared.emit(DaemonEvent::QcItem {
                batch: ctx.id,
                scan_id: item.scan_id.clone(),
                status: item.status,
                causes: item.causes.clone(),
                verification_id: item.verification_id,
            });
            if shared.shutting_down() {
                break;
            }
        }
        if records.iter().all(|r| done.contains(&r.application_id)) {
            let sh = shared.clone();
            let bid = ctx.id;
            let _ = tokio::task::spawn_blocking(move || sh.with_store(|s| s.close_batch(bid))).await;
            tracing::info!(batch = ctx.id, "qc batch complete");
            shared.emit(DaemonEvent::QcBatchDone { batch: ctx.id });
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(300)) => {}
            _ = stop.wait_for(|s| *s) => break,
        }
    }
}

fn is_closed(shared: &Shared, id: i64) -> bool {
    shared.read_store(|s| s.batch(id)).ok().flatten().is_some_and(|b| b.closed_at.is_some())
}

#[allow(clippy::too_many_arguments)]
async fn one_scan(
    shared: &Arc<Shared>,
    jobs: &Arc<Jobs>,
    ctx: &Arc<BatchContext>,
    records: &[AcceptanceRecord],
    req: &BatchRequest,
    caller: &str,
    dir: &Path,
) -> BatchItem {
    let scan_name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let fail = |scan_id: String, record_id: Option<String>, error: String| BatchItem {
        scan_id,
        record_id,
        status: ItemStatus::Error,
        error: Some(error),
        ..BatchItem::default()
    };
    let d2 = dir.to_path_buf();
    let surface = match tokio::task::spawn_blocking(move || idcheck_core::records::surface::load_dir(&d2)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return fail(scan_name, None, format!("surface record: {e}")),
        Err(e) => return fail(scan_name, None, e.to_string()),
    };
    let Some(record) = qc::pair(&surface, records) else {
        return fail(surface.scan_id.clone(), None, "no record of this batch has the printed ID number".into());
    };
    let job_req = JobRequest {
        record_id: record.application_id.clone(),
        surface: Some(dir.to_path_buf()),
        reader: req.reader.clone(),
        wait_secs: req.card_wait_secs,
        fresh_card: true,
        batch: Some(ctx.clone()),
        // QC cards are read with the MRZ of their record (PACE or BAC).
        can: None,
    };
    let max = shared.config().jobs.max_pending;
    let (job, pending) = match jobs.admit(max, &record.application_id) {
        Ok(x) => x,
        Err(e) => return fail(surface.scan_id.clone(), Some(record.application_id.clone()), e.to_string()),
    };
    let out = jobs::run(shared.clone(), jobs.clone(), job, job_req, format!("qc-batch:{}:{caller}", ctx.id)).await;
    drop(pending);
    match out {
        Ok(v) => BatchItem {
            scan_id: surface.scan_id.clone(),
            record_id: Some(record.application_id.clone()),
            verification_id: v.id,
            status: v.verdict.status.into(),
            causes: v.verdict.causes.clone(),
            carries: v.carries.clone(),
            error: None,
            done_at: String::new(),
        },
        Err(e) => fail(surface.scan_id.clone(), Some(record.application_id.clone()), e.to_string()),
    }
}

/// The batch as the page and the report show it: counts per cause and the items.
pub fn batch_json(shared: &Shared, id: i64) -> Result<Option<wire::Batch>, String> {
    shared.read_store(|s| -> Result<Option<wire::Batch>, idcheck_store::StoreError> {
        let Some(b) = s.batch(id)? else { return Ok(None) };
        let items = s.batch_items(id)?;
        Ok(Some(batch_value(&b, &items)))
    })
}

/// Counts and items of a batch (also used by the CLI report).
pub fn batch_value(b: &idcheck_store::BatchSummary, items: &[BatchItem]) -> wire::Batch {
    let count = |st: ItemStatus| items.iter().filter(|i| i.status == st).count();
    let cause = |c: Cause| items.iter().filter(|i| i.causes.contains(&c)).count();
    let pending: Vec<String> =
        b.records.iter().filter(|r| !items.iter().any(|i| i.record_id.as_deref() == Some(r.as_str()))).cloned().collect();
    wire::Batch {
        id: b.id,
        name: b.name.clone(),
        created_at: b.created_at.clone(),
        closed_at: b.closed_at.clone(),
        inbox: b.inbox.clone(),
        reader: b.reader.clone(),
        records: b.records.len(),
        pending_records: pending,
        counts: BatchCounts {
            total: items.len(),
            pass: count(ItemStatus::Pass),
            invalid: count(ItemStatus::Invalid),
            unavailable: count(ItemStatus::Unavailable),
            error: count(ItemStatus::Error),
            cause1: cause(Cause::AcceptanceVsSurface),
            cause2: cause(Cause::SurfaceVsChip),
            cause3: cause(Cause::ChipUnreadable),
            cause4: cause(Cause::AcceptanceIncorrect),
        },
        items: items.iter().map(wire::BatchItem::from).collect(),
    }
}

/// Score and threshold of a fingerprint position, from the verdict's findings or observations.
fn finger_score(verdict: &Verdict, position: u64) -> (Option<f64>, Option<f64>) {
    let item = format!("fingerprint[{position}]");
    if let Some(f) = verdict.findings.iter().find(|f| f.item == item && f.sources == Sources::AC) {
        return (f.score, f.threshold);
    }
    if let Some(o) = verdict.observations.iter().find(|o| o.item == item && o.sources == Sources::AC) {
        return (Some(o.score), Some(o.threshold));
    }
    (None, None)
}

/// The view of one stored verification: the verdict beside the evidence (text rows, fingerprint
/// slots with their scores, photo URLs) — what the QC page and the batch report show.
pub fn view_value(v: &idcheck_store::StoredVerification, evidence: Option<&str>, photos: &[String]) -> VerificationView {
    let id = v.id;
    let verdict: Option<Verdict> = serde_json::from_str(&v.row.verdict_json).ok();
    // evidence that does not parse shows as none (the view still shows the verdict)
    let view: Option<StoredEvidence> = evidence.and_then(|e| serde_json::from_str(e).ok());
    let photo = |n: &str| photos.iter().any(|p| p == n).then(|| format!("/v1/verifications/{id}/photos/{n}"));
    let (batch, carries, rows, mut fingers) = match view {
        Some(e) => (e.batch, Some(e.carries), e.rows, e.fingers),
        None => (None, None, Vec::new(), Vec::new()),
    };
    for f in fingers.iter_mut() {
        (f.score, f.threshold) = verdict.as_ref().map_or((None, None), |vd| finger_score(vd, f.position));
    }
    VerificationView {
        id,
        record_id: v.row.record_id.clone(),
        scan_id: v.row.scan_id.clone(),
        reader: v.row.reader.clone(),
        started_at: v.row.started_at.clone(),
        finished_at: v.row.finished_at.clone(),
        status: Some(v.row.status),
        batch,
        carries,
        verdict,
        photos: ViewPhotos { acceptance: photo("acceptance"), surface: photo("surface"), chip: photo("chip") },
        rows,
        fingers,
    }
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

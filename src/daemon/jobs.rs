//! Verification jobs: a client asks for one application's card to be verified; the job waits
//! (bounded) for a card on the chosen reader or takes the one there, reads it with that record's
//! BAC key on a blocking thread (`live`), verifies it (`verify`, on a blocking thread too),
//! commits the verdict to the store, and only then announces it. Owns the job table (for clients
//! that poll) and the timing split (wait, read, compare, store). A job that ends without a
//! verdict (no card in time, shutdown, a read aborted) says so and is never stored as a verdict.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};


use super::events::DaemonEvent;
use super::state::Shared;
pub use crate::wire::{JobState, JobVerdict, Timing};
use crate::wire::VerificationRequest;
use idcheck_chip::{ReadFailure, ReadFailureKind, ReadStep};
use idcheck_pcsc::live::{self, LiveReadOptions};
use idcheck_core::model::{AcceptanceRecord, SurfaceRecord};
use idcheck_store::VerificationRow;
use idcheck_core::verdict::Verdict;
use idcheck_core::qc::Carry;
use idcheck_core::verdict::Cause;
use idcheck_verify::evidence::{self, Evidence};
use idcheck_verify::Verification;

/// What a job is to do: a client's [`VerificationRequest`] (the API's body), or a QC batch's
/// request for one scanned card.
#[derive(Debug, Clone)]
pub struct JobRequest {
    /// The application id of a stored acceptance record.
    pub record_id: String,
    /// A surface record directory on this station (QC scanner inbox); absent at a kiosk.
    pub surface: Option<PathBuf>,
    /// The reader (exact name or a unique part); absent: the station's only reader, or the first
    /// idle reader that holds or receives a card.
    pub reader: Option<String>,
    /// How long to wait for a card, seconds (default from the configuration, capped by it).
    pub wait_secs: Option<u64>,
    /// Only a card placed after the request counts (QC: the operator places the next card).
    pub fresh_card: bool,
    /// Set by a QC batch: the batch's records, searched when the card fails for cause 1 or 2.
    pub batch: Option<Arc<BatchContext>>,
    /// The card access number for PACE, when the client gave one.
    pub can: Option<String>,
}

impl From<VerificationRequest> for JobRequest {
    fn from(r: VerificationRequest) -> Self {
        JobRequest {
            record_id: r.record_id,
            surface: r.surface,
            reader: r.reader,
            wait_secs: r.wait_secs,
            fresh_card: r.fresh_card,
            batch: None,
            can: r.can,
        }
    }
}

/// The QC batch a job belongs to.
pub struct BatchContext {
    pub id: i64,
    pub gallery: idcheck_core::qc::Gallery,
}

impl std::fmt::Debug for BatchContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchContext").field("id", &self.id).field("records", &self.gallery.len()).finish()
    }
}

/// A job that ended without a verdict, or could not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    #[error("no stored acceptance record {0:?}")]
    RecordNotFound(String),
    #[error("surface record: {0}")]
    BadSurface(String),
    #[error("reader: {0}")]
    BadReader(String),
    #[error("no card placed on {reader} within {secs} s")]
    NoCard { reader: String, secs: u64 },
    #[error("too many verifications pending ({0}); try again later")]
    Busy(usize),
    #[error("aborted: {0}")]
    Aborted(String),
    #[error("internal error: {0}")]
    Internal(String),
}

/// Jobs by number; finished ones are kept for polling (the last `KEEP`).
pub struct Jobs {
    next: AtomicU64,
    pending: AtomicUsize,
    table: Mutex<BTreeMap<u64, JobState>>,
}

const KEEP: usize = 1000;

impl Default for Jobs {
    fn default() -> Self {
        Jobs { next: AtomicU64::new(1), pending: AtomicUsize::new(0), table: Mutex::new(BTreeMap::new()) }
    }
}

impl Jobs {
    pub fn get(&self, job: u64) -> Option<JobState> {
        self.table.lock().unwrap_or_else(|e| e.into_inner()).get(&job).cloned()
    }

    fn set(&self, job: u64, state: JobState) {
        let mut t = self.table.lock().unwrap_or_else(|e| e.into_inner());
        t.insert(job, state);
        while t.len() > KEEP {
            let Some((&first, _)) = t.iter().next() else { break };
            t.remove(&first);
        }
    }

    pub fn pending(&self) -> usize {
        self.pending.load(Ordering::SeqCst)
    }

    /// Admits a job (or refuses it when `max` are pending): its number and a guard that counts it.
    pub fn admit(self: &Arc<Self>, max: usize, record_id: &str) -> Result<(u64, PendingGuard), JobError> {
        let before = self.pending.fetch_add(1, Ordering::SeqCst);
        let guard = PendingGuard(self.clone());
        if before >= max {
            return Err(JobError::Busy(before));
        }
        let job = self.next.fetch_add(1, Ordering::SeqCst);
        self.set(job, JobState::Waiting { record_id: record_id.to_string() });
        Ok((job, guard))
    }
}

/// Counts a pending job until dropped.
pub struct PendingGuard(Arc<Jobs>);

impl Drop for PendingGuard {
    fn drop(&mut self) {
        self.0.pending.fetch_sub(1, Ordering::SeqCst);
    }
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e5).round() / 100.0
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Runs one admitted job to its end and records the outcome in the job table.
pub async fn run(shared: Arc<Shared>, jobs: Arc<Jobs>, job: u64, req: JobRequest, caller: String) -> Result<JobVerdict, JobError> {
    let out = run_inner(&shared, &jobs, job, &req, &caller).await;
    match &out {
        Ok(v) => jobs.set(job, JobState::Done { result: Box::new(v.clone()) }),
        Err(e) => {
            jobs.set(job, JobState::Failed { error: e.to_string() });
            tracing::info!(job, error = %e, "verification ended without a verdict");
            shared.emit(DaemonEvent::VerificationEnded { job, record_id: req.record_id.clone(), reason: e.to_string() });
        }
    }
    out
}

async fn run_inner(shared: &Arc<Shared>, jobs: &Jobs, job: u64, req: &JobRequest, caller: &str) -> Result<JobVerdict, JobError> {
    let t0 = Instant::now();
    let started = now_rfc3339();
    let record = load_record(shared, &req.record_id).await?;
    let surface = match &req.surface {
        Some(p) => Some(load_surface(p.clone()).await?),
        None => None,
    };
    let scan_id = surface.as_ref().map(|s| s.scan_id.clone());
    let config = shared.config();

    // a named reader must exist among the station's readers
    let wanted = match &req.reader {
        Some(w) => Some(resolve_reader(shared, w)?),
        None => None,
    };
    shared.emit(DaemonEvent::VerificationWaiting { job, record_id: record.application_id.clone(), reader: wanted.clone() });

    let unavailable = |reason: String, reader: Option<String>| {
        let verification = Verification { verdict: Verdict::unavailable(reason), inputs: Vec::new() };
        finish(shared, job, &record, scan_id.clone(), reader, verification, None, &started, caller, t0, Timing::default())
    };
    if let Some(reason) = shared.unavailable_reason(wanted.as_deref()) {
        return unavailable(reason, wanted).await;
    }

    // wait for a card
    let wait_secs = req.wait_secs.unwrap_or(config.jobs.card_wait_secs).min(config.jobs.max_card_wait_secs);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(wait_secs);
    let start_gen = match &wanted {
        Some(r) => shared.reader(r).map(|(c, _)| c.generation).unwrap_or(0),
        None => 0,
    };
    let (reader, guard) = match wait_for_card(shared, wanted.as_deref(), req.fresh_card, start_gen, deadline).await {
        Wait::Got(r, g) => (r, g),
        Wait::Unavailable(reason) => return unavailable(reason, wanted).await,
        Wait::TimedOut => {
            return Err(JobError::NoCard { reader: wanted.unwrap_or_else(|| "any reader".into()), secs: wait_secs });
        }
        Wait::ShuttingDown => return Err(JobError::Aborted("the station is shutting down".into())),
    };
    let t_wait = t0.elapsed();
    jobs.set(job, JobState::Reading { record_id: record.application_id.clone(), reader: reader.clone() });
    shared.emit(DaemonEvent::VerificationReading { job, reader: reader.clone() });

    // read on a blocking thread that holds the reader until it ends
    let key = live::bac_key(&record).map_err(|e| JobError::Internal(format!("record {}: {e}", record.application_id)))?;
    let opts = LiveReadOptions {
        exchange_timeout: Duration::from_millis(config.readers.exchange_timeout_ms),
        wait_for_card: Duration::ZERO,
        attempts: config.readers.read_attempts,
        access: config.readers.access.policy(),
    };
    let can = req.can.clone();
    let t_read0 = Instant::now();
    let name = reader.clone();
    let read = tokio::task::spawn_blocking(move || {
        let out = live::read_card(&name, &key, can.as_deref(), opts);
        drop(guard);
        out
    });
    let read_deadline = Duration::from_secs(config.readers.read_deadline_secs);
    let mut shutdown = shared.shutdown_signal();
    let grace = Duration::from_secs(config.jobs.shutdown_grace_secs);
    let read = async {
        tokio::select! {
            r = tokio::time::timeout(read_deadline, read) => Some(r),
            _ = async {
                let _ = shutdown.wait_for(|s| *s).await;
                tokio::time::sleep(grace).await;
            } => None,
        }
    };
    let outcome = match read.await {
        None => return Err(JobError::Aborted(format!("read on {reader} did not finish within the {}-s shutdown grace", grace.as_secs()))),
        Some(Err(_)) => Err(ReadFailure::new(ReadStep::Connect, ReadFailureKind::Mute)
            .with_detail(format!("the whole read took longer than {} s", read_deadline.as_secs()))),
        Some(Ok(Err(join))) => return Err(JobError::Internal(format!("read thread failed: {join}"))),
        Some(Ok(Ok(r))) => r,
    };
    let t_read = t_read0.elapsed();

    // a read that failed because the station broke is unavailable, whatever the failure says
    if let Err(f) = &outcome {
        if !matches!(f.kind, ReadFailureKind::Cancelled) {
            if let Some(reason) = shared.unavailable_reason(Some(&reader)) {
                return unavailable(reason, Some(reader)).await;
            }
        }
    }

    // verify off the async threads
    let t_cmp0 = Instant::now();
    let verifier = shared.verifier();
    let rec = record.clone();
    let batch = req.batch.clone();
    let verified = tokio::task::spawn_blocking(move || {
        let verification = match &outcome {
            Ok(read) => Some(verifier.verify_read(&rec, surface.as_ref(), read)),
            Err(failure) => verifier.verify_failed_read(&rec, surface.as_ref(), failure),
        }?;
        let t_cmp = t_cmp0.elapsed();
        let t_ev = Instant::now();
        let chip = outcome.as_ref().ok().map(|r| &r.image);
        let ev = evidence::build(&rec, surface.as_ref(), chip, &verifier.rules);
        let wrong_card = verification.verdict.causes.iter().any(|c| matches!(c, Cause::AcceptanceVsSurface | Cause::SurfaceVsChip));
        let carries = match &batch {
            Some(b) if wrong_card => b.gallery.carries(&rec.application_id, chip, surface.as_ref()),
            _ => Vec::new(),
        };
        let extra = Extra { evidence: ev, carries, batch: batch.as_ref().map(|b| b.id), elapsed: t_ev.elapsed() };
        Some((verification, extra, t_cmp))
    })
    .await
    .map_err(|e| JobError::Internal(format!("verification thread failed: {e}")))?;
    let Some((verification, extra, t_cmp)) = verified else {
        return Err(JobError::Aborted("the read was cancelled".into()));
    };
    let timing = Timing { wait_ms: ms(t_wait), read_ms: ms(t_read), compare_ms: ms(t_cmp), ..Timing::default() };
    finish(shared, job, &record, scan_id, Some(reader), verification, Some(extra), &started, caller, t0, timing).await
}

/// What a verification of a read card adds to its verdict.
struct Extra {
    evidence: Evidence,
    carries: Vec<Carry>,
    batch: Option<i64>,
    elapsed: Duration,
}

/// Stores the verdict (synchronous FULL: committed before anyone hears of it), then announces it.
/// A verdict that cannot be stored is not announced as such: the answer becomes `unavailable`.
#[allow(clippy::too_many_arguments)]
async fn finish(
    shared: &Arc<Shared>,
    job: u64,
    record: &AcceptanceRecord,
    scan_id: Option<String>,
    reader: Option<String>,
    verification: Verification,
    extra: Option<Extra>,
    started: &str,
    caller: &str,
    t0: Instant,
    mut timing: Timing,
) -> Result<JobVerdict, JobError> {
    let t_store = Instant::now();
    let mut verdict = verification.verdict.clone();
    let row = VerificationRow {
        started_at: started.to_string(),
        finished_at: now_rfc3339(),
        record_id: Some(record.application_id.clone()),
        scan_id,
        reader: reader.clone(),
        verdict_json: serde_json::to_string(&verdict).map_err(|e| JobError::Internal(e.to_string()))?,
        status: verdict.status,
        causes: verdict.causes.clone(),
        primary: verdict.primary.map(|c| c.number()),
        inputs: verification.inputs.clone(),
        requested_by: Some(caller.to_string()),
    };
    let sh = shared.clone();
    let stored = tokio::task::spawn_blocking(move || sh.with_store(|s| s.save_verification(&row)))
        .await
        .map_err(|e| JobError::Internal(format!("store thread failed: {e}")))?;
    let id = match stored {
        Ok(id) => Some(id),
        Err(fault) => {
            verdict = Verdict::unavailable(format!("the verdict could not be stored: {fault}"));
            None
        }
    };
    timing.store_ms = ms(t_store.elapsed());
    // what the QC page shows; a failure here loses the pictures, never the verdict
    let mut carries = Vec::new();
    if let (Some(id), Some(extra)) = (id, extra) {
        let t_ev = Instant::now();
        carries = extra.carries.clone();
        let view = serde_json::json!({
            "rows": extra.evidence.rows,
            "fingers": extra.evidence.fingers,
            "batch": extra.batch,
            "carries": extra.carries,
        })
        .to_string();
        let photos = extra.evidence.photos;
        let sh = shared.clone();
        let saved = tokio::task::spawn_blocking(move || sh.read_store(|s| s.save_evidence(id, &view, &photos))).await;
        if let Ok(Err(e)) | Err(e) = saved.map_err(|e| e.to_string()) {
            tracing::warn!(id, error = %e, "evidence not stored");
        }
        timing.evidence_ms = ms(extra.elapsed + t_ev.elapsed());
    }
    timing.total_ms = ms(t0.elapsed());
    tracing::info!(
        job,
        id,
        record = %record.application_id,
        reader = reader.as_deref().unwrap_or("-"),
        status = %verdict.status,
        causes = ?verdict.causes.iter().map(|c| c.number()).collect::<Vec<_>>(),
        wait_ms = timing.wait_ms,
        read_ms = timing.read_ms,
        compare_ms = timing.compare_ms,
        store_ms = timing.store_ms,
        "verdict"
    );
    shared.emit(DaemonEvent::VerificationFinished {
        job,
        id,
        record_id: record.application_id.clone(),
        reader: reader.clone(),
        status: verdict.status,
        causes: verdict.causes.clone(),
    });
    Ok(JobVerdict { job, id, record_id: record.application_id.clone(), reader, verdict, carries, timing })
}

async fn load_record(shared: &Arc<Shared>, id: &str) -> Result<AcceptanceRecord, JobError> {
    let sh = shared.clone();
    let id2 = id.to_string();
    let found = tokio::task::spawn_blocking(move || sh.read_store(|s| s.get_record(&id2)))
        .await
        .map_err(|e| JobError::Internal(e.to_string()))?;
    match found {
        Ok(Some(r)) => Ok(r),
        Ok(None) => Err(JobError::RecordNotFound(id.to_string())),
        Err(e) => Err(JobError::Internal(e)),
    }
}

async fn load_surface(dir: PathBuf) -> Result<SurfaceRecord, JobError> {
    tokio::task::spawn_blocking(move || idcheck_core::records::surface::load_dir(&dir).map_err(|e| JobError::BadSurface(e.to_string())))
        .await
        .map_err(|e| JobError::Internal(e.to_string()))?
}

/// The station's reader a client names: exact, or a unique case-insensitive part.
fn resolve_reader(shared: &Shared, wanted: &str) -> Result<String, JobError> {
    let names: Vec<String> = shared.readers().into_iter().map(|(n, _, _)| n).collect();
    if names.iter().any(|n| n == wanted) {
        return Ok(wanted.to_string());
    }
    let lw = wanted.to_lowercase();
    let hits: Vec<&String> = names.iter().filter(|n| n.to_lowercase().contains(&lw)).collect();
    match hits.as_slice() {
        [one] => Ok((*one).clone()),
        [] if shared.pcsc_down().is_some() => Ok(wanted.to_string()), // judged unavailable later
        [] => Err(JobError::BadReader(format!("no reader named {wanted:?} (readers: {})", names.join(", ")))),
        _ => Err(JobError::BadReader(format!("{wanted:?} names several readers: {}", hits.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")))),
    }
}

enum Wait {
    Got(String, tokio::sync::OwnedMutexGuard<()>),
    Unavailable(String),
    TimedOut,
    ShuttingDown,
}

/// Waits until a usable reader holds a card and is free, then holds it.
async fn wait_for_card(
    shared: &Arc<Shared>,
    wanted: Option<&str>,
    fresh: bool,
    start_gen: u64,
    deadline: tokio::time::Instant,
) -> Wait {
    let mut counted: Option<String> = None;
    let result = loop {
        let notified = shared.changed.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if shared.shutting_down() {
            break Wait::ShuttingDown;
        }
        if let Some(reason) = shared.unavailable_reason(wanted) {
            break Wait::Unavailable(reason);
        }
        let candidates: Vec<String> = match wanted {
            Some(r) => vec![r.to_string()],
            None => shared.readers().into_iter().map(|(n, _, _)| n).collect(),
        };
        // count this job as waiting on its reader(s), so card events say "awaited"
        if counted.is_none() {
            if let Some(r) = wanted {
                shared.set_waiting(r, 1);
                counted = Some(r.to_string());
            }
        }
        let mut got = None;
        for name in &candidates {
            let Some((card, busy)) = shared.reader(name) else { continue };
            let fresh_ok = !fresh || card.generation > start_gen;
            if card.present && fresh_ok {
                if let Ok(g) = busy.try_lock_owned() {
                    got = Some((name.clone(), g));
                    break;
                }
            }
        }
        if let Some((n, g)) = got {
            break Wait::Got(n, g);
        }
        tokio::select! {
            _ = &mut notified => {}
            // a busy reader frees without a notification: look again now and then
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            _ = tokio::time::sleep_until(deadline) => {
                break Wait::TimedOut;
            }
        }
    };
    if let Some(r) = counted {
        shared.set_waiting(&r, -1);
    }
    result
}

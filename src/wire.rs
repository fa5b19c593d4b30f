//! The daemon's API types (the one module of them, below `daemon` and `web`, which both use it): every request and answer body of the local HTTP API and every event of
//! its stream, as serde structs and enums. The server (`api`, `audit_api`, `qc`, `jobs`) writes
//! them, the client (`client`), the CLI, the batch report (`web::report`) and the tests read them;
//! nobody builds or picks apart the API's JSON by hand. Statuses and causes are the typed values
//! of `verdict` and `store::values` (`Status`, `ItemStatus`, `Cause`), so the wire carries
//! `"pass"` / `[1, 2]` and never a re-spelled string. The JSON form is the API's contract (README,
//! "The local API"; the page `web/assets/app.js` reads it): field names, their order and which
//! fields are `null` rather than absent are kept exactly. Plain data: no I/O, no logic beyond
//! building a value from the store's rows.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use idcheck_core::qc::{Carry, CarryBy};
use idcheck_store::ItemStatus;
use idcheck_core::verdict::{Cause, Status, Verdict};

// ------------------------------------------------------------------------------------ errors

/// Every error answer: `{"error": "..."}` (the HTTP status says which kind).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
}

// ------------------------------------------------------------------------------------ health

/// `ok` or `unavailable`: whether the station can judge a card now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    Ok,
    Unavailable,
}

/// `GET /v1/health` on the kiosk / QC socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    pub status: HealthStatus,
    /// Why the station cannot judge (`null` when it can).
    pub reason: Option<String>,
    pub version: String,
    pub maintenance: Option<Maintenance>,
    pub pcsc: PcscHealth,
    pub store: StoreHealth,
    /// How many readers the station uses.
    pub readers: usize,
    pub pending_jobs: usize,
}

/// pcscd: `{"up": true}` or `{"up": false, "reason": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PcscHealth {
    pub up: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The store: `{"ok": true}` or `{"ok": false, "reason": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreHealth {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `GET /v1/health` on the auditors' socket: `{"status": "ok", "socket": "auditor"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditorHealth {
    pub status: HealthStatus,
    pub socket: String,
}

// ------------------------------------------------------------------------------------ readers

/// One reader and its card (`GET /v1/readers`, the `hello` event).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReaderInfo {
    pub name: String,
    pub card: CardInfo,
    /// A verification holds the reader.
    pub busy: bool,
}

/// What the monitor last said about a reader's card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardInfo {
    pub present: bool,
    /// Upper-case hex.
    pub atr: Option<String>,
    pub unresponsive: bool,
}

/// `GET /v1/readers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Readers {
    pub readers: Vec<ReaderInfo>,
    pub pcsc_up: bool,
}

// ------------------------------------------------------------------------------------ verifications

/// `POST /v1/verifications`: which record's card to verify, and how.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerificationRequest {
    /// The application id of a stored acceptance record.
    pub record_id: String,
    /// A surface record directory on this station (QC scanner inbox); absent at a kiosk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub surface: Option<PathBuf>,
    /// The reader (exact name or a unique part); absent: the station's only reader, or the first
    /// idle reader that holds or receives a card.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reader: Option<String>,
    /// How long to wait for a card, seconds (default from the configuration, capped by it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_secs: Option<u64>,
    /// Only a card placed after the request counts (QC: the operator places the next card).
    #[serde(default, skip_serializing_if = "is_false")]
    pub fresh_card: bool,
    /// Answer at once with a job id (`202`, [`JobAccepted`]) instead of the verdict.
    #[serde(default, rename = "async", skip_serializing_if = "is_false")]
    pub run_async: bool,
    /// The card access number printed on the card: PACE with it instead of the MRZ (a CAN is
    /// not personal data beyond the card; it is never stored or logged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub can: Option<String>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// `202` to an `"async": true` verification: the job to poll.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobAccepted {
    pub job: u64,
    /// `/v1/jobs/{job}`.
    pub poll: String,
}

/// Where the time of a verification went, milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    pub wait_ms: f64,
    pub read_ms: f64,
    pub compare_ms: f64,
    pub store_ms: f64,
    /// Building and storing what the QC page shows (rows, small photos), and the batch search.
    pub evidence_ms: f64,
    pub total_ms: f64,
}

/// A verdict, as answered to `POST /v1/verifications` and kept for polling (committed to the
/// store first when `id` is set).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobVerdict {
    pub job: u64,
    /// The stored verification; `None` only when the store itself is the fault.
    pub id: Option<i64>,
    pub record_id: String,
    pub reader: Option<String>,
    pub verdict: Verdict,
    /// QC batches: the other batch records whose data this card carries (cause 1 or 2 only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub carries: Vec<Carry>,
    pub timing: Timing,
}

/// State of a job, for clients that poll.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum JobState {
    Waiting { record_id: String },
    Reading { record_id: String, reader: String },
    Done { result: Box<JobVerdict> },
    Failed { error: String },
}

/// `GET /v1/jobs/{job}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobStatus {
    pub job: u64,
    pub status: JobState,
}

/// `GET /v1/verifications?status=&record_id=&limit=` (`status` checked by the handler, so its
/// error names the accepted values).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerificationQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
}

/// The digest of one input file of a verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputDigest {
    pub name: String,
    pub sha256: String,
}

/// One stored verification (`GET /v1/verifications/{id}`, the list).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredVerification {
    pub id: i64,
    pub started_at: String,
    pub finished_at: String,
    pub record_id: Option<String>,
    pub scan_id: Option<String>,
    pub reader: Option<String>,
    pub requested_by: Option<String>,
    pub status: Status,
    /// `null` only when the stored verdict does not parse (the store checks it on write).
    pub verdict: Option<Verdict>,
    pub inputs: Vec<InputDigest>,
}

impl From<&idcheck_store::StoredVerification> for StoredVerification {
    fn from(v: &idcheck_store::StoredVerification) -> Self {
        StoredVerification {
            id: v.id,
            started_at: v.row.started_at.clone(),
            finished_at: v.row.finished_at.clone(),
            record_id: v.row.record_id.clone(),
            scan_id: v.row.scan_id.clone(),
            reader: v.row.reader.clone(),
            requested_by: v.row.requested_by.clone(),
            status: v.row.status,
            verdict: serde_json::from_str(&v.row.verdict_json).ok(),
            inputs: v.row.inputs.iter().map(|(n, h)| InputDigest { name: n.clone(), sha256: h.clone() }).collect(),
        }
    }
}

/// `GET /v1/verifications`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verifications {
    pub verifications: Vec<StoredVerification>,
}

// ------------------------------------------------------------------------------------ records

/// A stored record as listed: ids and dates, no names (personal text stays in the store).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordInfo {
    pub application_id: String,
    pub accepted_at: String,
    pub imported_at: String,
    pub updated_at: String,
}

impl From<&idcheck_store::RecordSummary> for RecordInfo {
    fn from(r: &idcheck_store::RecordSummary) -> Self {
        RecordInfo {
            application_id: r.application_id.clone(),
            accepted_at: r.accepted_at.clone(),
            imported_at: r.imported_at.clone(),
            updated_at: r.updated_at.clone(),
        }
    }
}

/// `GET /v1/records`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Records {
    pub records: Vec<RecordInfo>,
}

/// `POST /v1/records/import`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportRequest {
    /// A record directory, a directory of them, or a JSON Lines file, on this station.
    pub path: PathBuf,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportResult {
    pub inserted: u32,
    pub replaced: u32,
    pub unchanged: u32,
    pub errors: Vec<String>,
}

// ------------------------------------------------------------------------------------ maintenance

/// Planned maintenance (also what `state` keeps across restarts, state_dir/maintenance.json).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Maintenance {
    pub reason: String,
    pub by: String,
    pub since: String,
}

/// `POST /v1/maintenance`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceRequest {
    pub on: bool,
    /// Required to switch it on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `GET /v1/maintenance`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaintenanceStatus {
    pub on: bool,
    pub maintenance: Option<Maintenance>,
}

/// The answer to `POST /v1/maintenance`: the new state and a warning when it could not be kept
/// across a restart. Reads a `GET` answer too (no `warning`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaintenanceChanged {
    pub on: bool,
    pub maintenance: Option<Maintenance>,
    #[serde(default)]
    pub warning: Option<String>,
}

// ------------------------------------------------------------------------------------ trust

/// The answer to `POST /v1/trust/reload` (no body): the trust directory the daemon re-read and
/// what is now in force. A directory that does not load is refused (`422`) and the running trust
/// store stays.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustReloaded {
    pub directory: PathBuf,
    pub cscas: usize,
    pub crls: usize,
}

// ------------------------------------------------------------------------------------ events

/// One event of the daemon (`daemon::events`). The SSE `event:` field is `kind()`, the `data:`
/// field this value as JSON (`{"type": "card_inserted", ...}`). No personal text, no biometrics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DaemonEvent {
    ReaderAdded { reader: String },
    ReaderRemoved { reader: String },
    /// A card was placed. When no verification waits on this reader it is reported, not read.
    CardInserted { reader: String, atr: String, awaited: bool },
    CardRemoved { reader: String },
    /// A card in the field that gives no ATR.
    CardUnresponsive { reader: String },
    /// pcscd is not reachable: every verification answers `unavailable` until it is back.
    ServiceDown { reason: String },
    ServiceUp,
    MaintenanceOn { reason: String, by: String },
    MaintenanceOff { by: String },
    /// A verification was accepted and waits for a card (or reads the one there).
    VerificationWaiting { job: u64, record_id: String, reader: Option<String> },
    VerificationReading { job: u64, reader: String },
    /// A verdict, committed to the store before this event is sent.
    VerificationFinished {
        job: u64,
        id: Option<i64>,
        record_id: String,
        reader: Option<String>,
        status: Status,
        causes: Vec<Cause>,
    },
    /// A verification that ended without a verdict (no card in time, shutdown, read aborted).
    VerificationEnded { job: u64, record_id: String, reason: String },
    ConfigReloaded { path: String },
    /// The trust directory was re-read on request (`POST /v1/trust/reload`).
    TrustReloaded { cscas: usize, crls: usize },
    /// A QC batch finished one scanned card (`status` may be `error`: no record, no card).
    QcItem { batch: i64, scan_id: String, status: ItemStatus, causes: Vec<Cause>, verification_id: Option<i64> },
    /// Every record of the QC batch has been checked.
    QcBatchDone { batch: i64 },
    ShuttingDown,
}

impl DaemonEvent {
    /// The SSE event name.
    pub fn kind(&self) -> &'static str {
        match self {
            DaemonEvent::ReaderAdded { .. } => "reader_added",
            DaemonEvent::ReaderRemoved { .. } => "reader_removed",
            DaemonEvent::CardInserted { .. } => "card_inserted",
            DaemonEvent::CardRemoved { .. } => "card_removed",
            DaemonEvent::CardUnresponsive { .. } => "card_unresponsive",
            DaemonEvent::ServiceDown { .. } => "service_down",
            DaemonEvent::ServiceUp => "service_up",
            DaemonEvent::MaintenanceOn { .. } => "maintenance_on",
            DaemonEvent::MaintenanceOff { .. } => "maintenance_off",
            DaemonEvent::VerificationWaiting { .. } => "verification_waiting",
            DaemonEvent::VerificationReading { .. } => "verification_reading",
            DaemonEvent::VerificationFinished { .. } => "verification_finished",
            DaemonEvent::VerificationEnded { .. } => "verification_ended",
            DaemonEvent::ConfigReloaded { .. } => "config_reloaded",
            DaemonEvent::TrustReloaded { .. } => "trust_reloaded",
            DaemonEvent::QcItem { .. } => "qc_item",
            DaemonEvent::QcBatchDone { .. } => "qc_batch_done",
            DaemonEvent::ShuttingDown => "shutting_down",
        }
    }
}

/// The first event of `GET /v1/events` (`event: hello`): the readers and the station's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename = "hello")]
pub struct Hello {
    pub readers: Vec<ReaderInfo>,
    pub maintenance: Option<Maintenance>,
    /// Why the station cannot judge now (`null` when it can).
    pub unavailable: Option<String>,
}

/// `event: lagged`: the client read too slowly and missed events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename = "lagged")]
pub struct Lagged {
    pub missed: u64,
}

// ------------------------------------------------------------------------------------ QC batches

/// `POST /v1/qc/batches`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    #[serde(default)]
    pub name: Option<String>,
    /// The batch's acceptance records: a record directory, a directory of them, or JSON Lines.
    pub records: PathBuf,
    /// The scanner's inbox: one surface record directory per scanned card.
    pub inbox: PathBuf,
    #[serde(default)]
    pub reader: Option<String>,
    /// How long to wait for each card after its scan appears, seconds.
    #[serde(default)]
    pub card_wait_secs: Option<u64>,
}

/// `201` to a batch request: what creating the batch did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchCreated {
    pub id: i64,
    pub records: usize,
    pub import_errors: Vec<String>,
}

/// A batch's counts per status and per cause (a card may have several causes).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BatchCounts {
    pub total: usize,
    pub pass: usize,
    pub invalid: usize,
    pub unavailable: usize,
    pub error: usize,
    pub cause1: usize,
    pub cause2: usize,
    pub cause3: usize,
    pub cause4: usize,
}

impl BatchCounts {
    /// The count of a cause.
    pub fn cause(&self, c: Cause) -> usize {
        match c {
            Cause::AcceptanceVsSurface => self.cause1,
            Cause::SurfaceVsChip => self.cause2,
            Cause::ChipUnreadable => self.cause3,
            Cause::AcceptanceIncorrect => self.cause4,
        }
    }
}

/// One scanned card of a batch and what became of it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BatchItem {
    pub scan_id: String,
    pub record_id: Option<String>,
    pub verification_id: Option<i64>,
    pub status: ItemStatus,
    pub causes: Vec<Cause>,
    /// Whose data a wrong card carries.
    pub carries: Vec<Carry>,
    /// Why there is no verdict (status `error`).
    pub error: Option<String>,
    pub done_at: String,
}

impl From<&idcheck_store::BatchItem> for BatchItem {
    fn from(i: &idcheck_store::BatchItem) -> Self {
        BatchItem {
            scan_id: i.scan_id.clone(),
            record_id: i.record_id.clone(),
            verification_id: i.verification_id,
            status: i.status,
            causes: i.causes.clone(),
            carries: i.carries.clone(),
            error: i.error.clone(),
            done_at: i.done_at.clone(),
        }
    }
}

/// A batch as the page and the report show it (`GET /v1/qc/batches/{id}`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Batch {
    pub id: i64,
    pub name: String,
    pub created_at: String,
    pub closed_at: Option<String>,
    pub inbox: String,
    pub reader: Option<String>,
    /// How many records the batch has.
    pub records: usize,
    /// The records no card has been checked for yet.
    pub pending_records: Vec<String>,
    pub counts: BatchCounts,
    pub items: Vec<BatchItem>,
}

/// A batch as listed (`GET /v1/qc/batches`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchListing {
    pub id: i64,
    pub name: String,
    pub created_at: String,
    pub closed_at: Option<String>,
    pub counts: BatchCounts,
}

impl From<&Batch> for BatchListing {
    fn from(b: &Batch) -> Self {
        BatchListing { id: b.id, name: b.name.clone(), created_at: b.created_at.clone(), closed_at: b.closed_at.clone(), counts: b.counts.clone() }
    }
}

/// `GET /v1/qc/batches`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batches {
    pub batches: Vec<BatchListing>,
}

/// `POST /v1/qc/batches/{id}/close`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchClosed {
    pub id: i64,
    pub closed: bool,
}

// ------------------------------------------------------------------------------------ audit

/// `GET /v1/audit/verify` on the auditors' socket: the live chain checked like an export (`200`
/// when intact, `409` otherwise).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditVerification {
    pub intact: bool,
    pub entries: u64,
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
    pub valid_checkpoints: u64,
    pub signed_through: Option<u64>,
    pub unsigned_tail: u64,
    /// The station key (hex) the checkpoints are signed with.
    pub station_key: Option<String>,
    /// The first bad entry, in words.
    pub first_problem: Option<String>,
    /// How many problems were found.
    pub problems: u64,
}

/// The wire name of what a card carries of another record (`photo`, `fingerprint`), for text.
pub fn carry_by_name(by: CarryBy) -> &'static str {
    match by {
        CarryBy::Photo => "photo",
        CarryBy::Fingerprint => "fingerprint",
    }
}

// ------------------------------------------------------------------------------------ the view

/// One text item in the three sources, as kept with the verdict (`None`: the source does not
/// carry it). Personal text: the view is served to the QC page only.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ViewRow {
    pub item: String,
    pub label: String,
    pub acceptance: Option<String>,
    pub surface: Option<String>,
    pub chip: Option<String>,
}

impl std::fmt::Debug for ViewRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ViewRow").field("item", &self.item).field("values", &"REDACTED").finish()
    }
}

impl ViewRow {
    /// The value of one column by its name (`acceptance`, `surface`, `chip`).
    pub fn value(&self, column: &str) -> Option<&str> {
        match column {
            "acceptance" => self.acceptance.as_deref(),
            "surface" => self.surface.as_deref(),
            "chip" => self.chip.as_deref(),
            _ => None,
        }
    }
}

/// One side of a fingerprint position.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FingerSide {
    pub finger: String,
    pub quality: Option<u8>,
    pub minutiae: Option<usize>,
}

/// A fingerprint position (1, 2): the acceptance finger, the chip slot, and the A~C score and
/// threshold of the verdict for it (`null` when it compared none).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ViewFinger {
    pub position: u64,
    pub acceptance: Option<FingerSide>,
    pub chip: Option<FingerSide>,
    pub score: Option<f64>,
    pub threshold: Option<f64>,
}

impl ViewFinger {
    /// One side by column name (`acceptance`, `chip`; the surface carries no fingerprint).
    pub fn side(&self, column: &str) -> Option<&FingerSide> {
        match column {
            "acceptance" => self.acceptance.as_ref(),
            "chip" => self.chip.as_ref(),
            _ => None,
        }
    }
}

/// What a verification stored beside its verdict for the view (the evidence's JSON column).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StoredEvidence {
    pub rows: Vec<ViewRow>,
    pub fingers: Vec<ViewFinger>,
    pub batch: Option<i64>,
    pub carries: Vec<Carry>,
}

/// The photo URLs of a view by column (`null`: no photo kept).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ViewPhotos {
    pub acceptance: Option<String>,
    pub surface: Option<String>,
    pub chip: Option<String>,
}

impl ViewPhotos {
    /// The URL of one column by its name.
    pub fn url(&self, column: &str) -> Option<&str> {
        match column {
            "acceptance" => self.acceptance.as_deref(),
            "surface" => self.surface.as_deref(),
            "chip" => self.chip.as_deref(),
            _ => None,
        }
    }
}

/// `GET /v1/verifications/{id}/view`: the verdict beside the evidence (text rows, fingerprint
/// slots with their scores, photo URLs) — what the QC page and the batch report show.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VerificationView {
    pub id: i64,
    pub record_id: Option<String>,
    pub scan_id: Option<String>,
    pub reader: Option<String>,
    pub started_at: String,
    pub finished_at: String,
    pub status: Option<Status>,
    /// The QC batch the verification belongs to (`null`: none, or no evidence kept).
    pub batch: Option<i64>,
    /// Whose data the card carries (`null` when no evidence was kept).
    pub carries: Option<Vec<Carry>>,
    pub verdict: Option<Verdict>,
    pub photos: ViewPhotos,
    pub rows: Vec<ViewRow>,
    pub fingers: Vec<ViewFinger>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn health_keeps_its_json_form() {
        let h = Health {
            status: HealthStatus::Ok,
            reason: None,
            version: "1".into(),
            maintenance: None,
            pcsc: PcscHealth { up: true, reason: None },
            store: StoreHealth { ok: false, reason: Some("disk full".into()) },
            readers: 2,
            pending_jobs: 0,
        };
        let v = serde_json::to_value(&h).expect("json");
        assert_eq!(
            v,
            json!({"status": "ok", "reason": null, "version": "1", "maintenance": null, "pcsc": {"up": true},
                   "store": {"ok": false, "reason": "disk full"}, "readers": 2, "pending_jobs": 0})
        );
        assert_eq!(serde_json::from_value::<Health>(v).expect("back"), h);
    }

    #[test]
    fn events_of_the_stream_carry_their_type() {
        let hello = Hello { readers: vec![], maintenance: None, unavailable: Some("no reader".into()) };
        let v = serde_json::to_value(&hello).expect("json");
        assert_eq!(v, json!({"type": "hello", "readers": [], "maintenance": null, "unavailable": "no reader"}));
        assert_eq!(serde_json::from_value::<Hello>(v).expect("back"), hello);
        assert_eq!(serde_json::to_value(Lagged { missed: 3 }).expect("json"), json!({"type": "lagged", "missed": 3}));
    }

    #[test]
    fn a_batch_item_carries_typed_statuses_and_causes() {
        let v = json!({"scan_id": "s", "record_id": "r", "verification_id": 7, "status": "invalid", "causes": [1, 2],
                       "carries": [{"record_id": "x", "by": "photo", "score": 0.5}], "error": null, "done_at": "t"});
        let item: BatchItem = serde_json::from_value(v.clone()).expect("item");
        assert_eq!(item.status, ItemStatus::Invalid);
        assert_eq!(item.causes, vec![Cause::AcceptanceVsSurface, Cause::SurfaceVsChip]);
        assert_eq!(serde_json::to_value(&item).expect("json"), v);
        assert!(serde_json::from_value::<BatchItem>(json!({"causes": [5]})).is_err(), "no cause 5");
        assert!(serde_json::from_value::<BatchItem>(json!({"status": "fine"})).is_err(), "no status fine");
        for by in [CarryBy::Photo, CarryBy::Fingerprint] {
            assert_eq!(serde_json::to_value(by).expect("json"), carry_by_name(by), "the text name is the wire name");
        }
    }

    #[test]
    fn a_verification_request_rejects_unknown_fields_and_reads_async() {
        let r: VerificationRequest = serde_json::from_value(json!({"record_id": "a", "async": true})).expect("request");
        assert!(r.run_async && r.reader.is_none());
        assert!(serde_json::from_value::<VerificationRequest>(json!({"record_id": "a", "colour": 1})).is_err());
        assert_eq!(serde_json::to_value(&r).expect("json"), json!({"record_id": "a", "async": true}));
    }
}

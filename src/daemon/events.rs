//! What the daemon announces on its event stream (server-sent events for kiosk screens): reader,
//! card, service, maintenance and verification events. Plain data with a stable JSON form
//! (`{"type": "card_inserted", ...}`); events carry no personal text and no biometrics, only
//! reader names, record ids, verification ids, statuses and causes.

use serde::Serialize;

/// One event. The SSE `event:` field is `kind()`, the `data:` field this value as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
        status: String,
        causes: Vec<u8>,
    },
    /// A verification that ended without a verdict (no card in time, shutdown, read aborted).
    VerificationEnded { job: u64, record_id: String, reason: String },
    ConfigReloaded { path: String },
    /// A QC batch finished one scanned card (`status` may be `error`: no record, no card).
    QcItem { batch: i64, scan_id: String, status: String, causes: String, verification_id: Option<i64> },
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
            DaemonEvent::QcItem { .. } => "qc_item",
            DaemonEvent::QcBatchDone { .. } => "qc_batch_done",
            DaemonEvent::ShuttingDown => "shutting_down",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_form_is_tagged_and_kind_matches() {
        let e = DaemonEvent::CardInserted { reader: "r 00 00".into(), atr: "3B80".into(), awaited: false };
        let v = serde_json::to_value(&e).expect("json");
        assert_eq!(v["type"], "card_inserted");
        assert_eq!(v["type"], e.kind());
        assert_eq!(v["awaited"], false);
        let e = DaemonEvent::ServiceUp;
        assert_eq!(serde_json::to_value(&e).expect("json")["type"], e.kind());
    }
}

//! What the daemon announces on its event stream (server-sent events for kiosk screens): reader,
//! card, service, maintenance and verification events. The event type, [`DaemonEvent`], is one of
//! the API's types and lives with them (`crate::wire`); this module is where the daemon's
//! emitters and its tests find it. Events carry no personal text and no biometrics, only reader
//! names, record ids, verification ids, statuses and causes (typed: `"pass"`, `[1, 2]`).

pub use crate::wire::DaemonEvent;

#[cfg(test)]
mod tests {
    use super::*;
    use idcheck_store::ItemStatus;
    use idcheck_core::verdict::Cause;

    #[test]
    fn json_form_is_tagged_and_kind_matches() {
        let e = DaemonEvent::CardInserted { reader: "r 00 00".into(), atr: "3B80".into(), awaited: false };
        let v = serde_json::to_value(&e).expect("json");
        assert_eq!(v["type"], "card_inserted");
        assert_eq!(v["type"], e.kind());
        assert_eq!(v["awaited"], false);
        let e = DaemonEvent::ServiceUp;
        assert_eq!(serde_json::to_value(&e).expect("json")["type"], e.kind());
        // statuses and causes are typed on the wire: names and numbers, read back the same
        let e = DaemonEvent::QcItem {
            batch: 3,
            scan_id: "QC-1".into(),
            status: ItemStatus::Invalid,
            causes: vec![Cause::AcceptanceVsSurface, Cause::SurfaceVsChip],
            verification_id: Some(9),
        };
        let v = serde_json::to_value(&e).expect("json");
        assert_eq!(v["status"], "invalid");
        assert_eq!(v["causes"], serde_json::json!([1, 2]));
        assert_eq!(serde_json::from_value::<DaemonEvent>(v).expect("back"), e);
    }
}

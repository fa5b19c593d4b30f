//! The QC station's tables: the evidence of each verification (the view JSON with the text rows
//! and fingerprint slots, and the three small photos) and QC batches (their records and one item
//! per scanned card). Evidence is personal data kept beside the records it came from; the
//! verification log and the audit chain keep only hashes.

use rusqlite::{params, OptionalExtension};

pub use super::values::ItemStatus;
use super::values::{CarriesSql, CausesSql, ItemStatusSql};
use super::{now_rfc3339, Store, StoreError};
use idcheck_core::verdict::Cause;
#[cfg(test)]
use idcheck_core::verdict::Status;


/// One scanned card of a batch and what became of it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BatchItem {
    pub scan_id: String,
    pub record_id: Option<String>,
    pub verification_id: Option<i64>,
    pub status: ItemStatus,
    /// The verdict's causes (stored as a JSON array of numbers).
    pub causes: Vec<Cause>,
    /// Whose data a wrong card carries (stored as a JSON array of `{record_id, by, score}`).
    pub carries: Vec<idcheck_core::qc::Carry>,
    pub error: Option<String>,
    pub done_at: String,
}

/// A batch, without its items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchSummary {
    pub id: i64,
    pub name: String,
    pub created_at: String,
    pub records_path: String,
    pub inbox: String,
    pub reader: Option<String>,
    pub closed_at: Option<String>,
    pub records: Vec<String>,
}

impl Store {
    /// Keeps what a verification showed. Replaces earlier evidence of the same verification.
    pub fn save_evidence(&self, verification_id: i64, view_json: &str, photos: &[(&str, Vec<u8>)]) -> Result<(), StoreError> {
        let tx = self.conn.unchecked_transaction().map_err(self.ctx("starting the evidence transaction"))?;
        tx.execute(
            "INSERT OR REPLACE INTO verification_evidence (verification_id, view_json) VALUES (?1, ?2)",
            params![verification_id, view_json],
        )
        .map_err(self.ctx(format!("storing the evidence of verification {verification_id}")))?;
        tx.execute("DELETE FROM verification_photos WHERE verification_id = ?1", params![verification_id])
            .map_err(self.ctx("replacing evidence photos"))?;
        for (name, png) in photos {
            tx.execute(
                "INSERT INTO verification_photos (verification_id, name, png) VALUES (?1, ?2, ?3)",
                params![verification_id, name, png],
            )
            .map_err(self.ctx(format!("storing the {name} photo of verification {verification_id}")))?;
        }
        tx.commit().map_err(self.ctx("committing the evidence"))
    }

    /// The stored view JSON of a verification.
    pub fn evidence_view(&self, verification_id: i64) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row("SELECT view_json FROM verification_evidence WHERE verification_id = ?1", params![verification_id], |r| r.get(0))
            .optional()
            .map_err(self.ctx(format!("reading the evidence of verification {verification_id}")))
    }

    /// The names of the photos kept for a verification.
    pub fn evidence_photo_names(&self, verification_id: i64) -> Result<Vec<String>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT name FROM verification_photos WHERE verification_id = ?1 ORDER BY name")
            .map_err(self.ctx("listing evidence photos"))?;
        let rows = st.query_map(params![verification_id], |r| r.get(0)).map_err(self.ctx("listing evidence photos"))?;
        rows.collect::<Result<Vec<String>, _>>().map_err(self.ctx("listing evidence photos"))
    }

    /// One kept photo (PNG).
    pub fn evidence_photo(&self, verification_id: i64, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.conn
            .query_row(
                "SELECT png FROM verification_photos WHERE verification_id = ?1 AND name = ?2",
                params![verification_id, name],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.ctx(format!("reading the {name} photo of verification {verification_id}")))
    }

    /// Opens a batch over `records` (application ids). Its id.
    pub fn create_batch(&self, name: &str, records_path: &str, inbox: &str, reader: Option<&str>, records: &[String]) -> Result<i64, StoreError> {
        let tx = self.conn.unchecked_transaction().map_err(self.ctx("starting the batch transaction"))?;
        tx.execute(
            "INSERT INTO qc_batches (name, created_at, records_path, inbox, reader) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![name, now_rfc3339(), records_path, inbox, reader],
        )
        .map_err(self.ctx("creating a batch"))?;
        let id = tx.last_insert_rowid();
        for r in records {
            tx.execute("INSERT OR IGNORE INTO qc_batch_records (batch_id, application_id) VALUES (?1, ?2)", params![id, r])
                .map_err(self.ctx("adding a record to the batch"))?;
        }
        tx.commit().map_err(self.ctx("committing the batch"))?;
        Ok(id)
    }

    /// Records (or replaces) the outcome of one scanned card.
    pub fn save_batch_item(&self, batch_id: i64, item: &BatchItem) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO qc_batch_items
                 (batch_id, scan_id, record_id, verification_id, status, causes, carries, error, done_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    batch_id,
                    item.scan_id,
                    item.record_id,
                    item.verification_id,
                    ItemStatusSql(item.status),
                    CausesSql::of(&item.causes),
                    CarriesSql::of(&item.carries),
                    item.error,
                    if item.done_at.is_empty() { now_rfc3339() } else { item.done_at.clone() }
                ],
            )
            .map_err(self.ctx(format!("storing batch {batch_id} item {}", item.scan_id)))?;
        Ok(())
    }

    pub fn close_batch(&self, batch_id: i64) -> Result<(), StoreError> {
        self.conn
            .execute("UPDATE qc_batches SET closed_at = ?2 WHERE id = ?1 AND closed_at IS NULL", params![batch_id, now_rfc3339()])
            .map_err(self.ctx(format!("closing batch {batch_id}")))?;
        Ok(())
    }

    /// A batch and its record ids.
    pub fn batch(&self, batch_id: i64) -> Result<Option<BatchSummary>, StoreError> {
        let head = self
            .conn
            .query_row(
                "SELECT id, name, created_at, records_path, inbox, reader, closed_at FROM qc_batches WHERE id = ?1",
                params![batch_id],
                |r| {
                    Ok(BatchSummary {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        created_at: r.get(2)?,
                        records_path: r.get(3)?,
                        inbox: r.get(4)?,
                        reader: r.get(5)?,
                        closed_at: r.get(6)?,
                        records: Vec::new(),
                    })
                },
            )
            .optional()
            .map_err(self.ctx(format!("reading batch {batch_id}")))?;
        let Some(mut b) = head else { return Ok(None) };
        let mut st = self
            .conn
            .prepare("SELECT application_id FROM qc_batch_records WHERE batch_id = ?1 ORDER BY application_id")
            .map_err(self.ctx("reading batch records"))?;
        let rows = st.query_map(params![batch_id], |r| r.get(0)).map_err(self.ctx("reading batch records"))?;
        b.records = rows.collect::<Result<Vec<String>, _>>().map_err(self.ctx("reading batch records"))?;
        Ok(Some(b))
    }

    /// Every batch, newest first (without record lists).
    pub fn list_batches(&self) -> Result<Vec<BatchSummary>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT id, name, created_at, records_path, inbox, reader, closed_at FROM qc_batches ORDER BY id DESC")
            .map_err(self.ctx("listing batches"))?;
        let rows = st
            .query_map([], |r| {
                Ok(BatchSummary {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    created_at: r.get(2)?,
                    records_path: r.get(3)?,
                    inbox: r.get(4)?,
                    reader: r.get(5)?,
                    closed_at: r.get(6)?,
                    records: Vec::new(),
                })
            })
            .map_err(self.ctx("listing batches"))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.ctx("listing batches"))
    }

    /// The items of a batch, in the order they were done.
    pub fn batch_items(&self, batch_id: i64) -> Result<Vec<BatchItem>, StoreError> {
        let mut st = self
            .conn
            .prepare(
                "SELECT scan_id, record_id, verification_id, status, causes, carries, error, done_at
                 FROM qc_batch_items WHERE batch_id = ?1 ORDER BY done_at, scan_id",
            )
            .map_err(self.ctx("reading batch items"))?;
        let rows = st
            .query_map(params![batch_id], |r| {
                Ok(BatchItem {
                    scan_id: r.get(0)?,
                    record_id: r.get(1)?,
                    verification_id: r.get(2)?,
                    status: r.get::<_, ItemStatusSql>(3)?.0,
                    causes: r.get::<_, CausesSql>(4)?.0,
                    carries: r.get::<_, CarriesSql>(5)?.0,
                    error: r.get(6)?,
                    done_at: r.get(7)?,
                })
            })
            .map_err(self.ctx("reading batch items"))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.ctx("reading batch items"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_and_batches_round_trip() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("t.db")).expect("store");
        let row = crate::VerificationRow {
            started_at: "2026-11-25T10:00:00Z".into(),
            finished_at: "2026-11-25T10:00:01Z".into(),
            verdict_json: "{\"status\":\"pass\"}".into(),
            record_id: None,
            scan_id: None,
            reader: None,
            status: Status::Pass,
            causes: Vec::new(),
            primary: None,
            inputs: Vec::new(),
            requested_by: None,
        };
        let vid = store.save_verification(&row).expect("verification");
        store.save_evidence(vid, "{\"rows\":[]}", &[("acceptance", vec![1, 2, 3]), ("chip", vec![4])]).expect("evidence");
        assert_eq!(store.evidence_view(vid).expect("view").as_deref(), Some("{\"rows\":[]}"));
        assert_eq!(store.evidence_photo(vid, "chip").expect("photo"), Some(vec![4]));
        assert_eq!(store.evidence_photo(vid, "surface").expect("photo"), None);
        assert_eq!(store.evidence_photo_names(vid).expect("names"), vec!["acceptance", "chip"]);
        assert!(store.save_evidence(vid, "{}", &[("raw-scan", vec![1])]).is_err(), "only the three photo names");
        assert_eq!(store.evidence_view(vid).expect("view").as_deref(), Some("{\"rows\":[]}"), "failed save leaves the old evidence");

        let b = store.create_batch("b1", "/r", "/inbox", Some("reader"), &["a".into(), "b".into()]).expect("batch");
        let item = BatchItem { scan_id: "S1".into(), record_id: Some("a".into()), verification_id: Some(vid), status: ItemStatus::Pass, ..Default::default() };
        store.save_batch_item(b, &item).expect("item");
        let got = store.batch(b).expect("batch").expect("exists");
        assert_eq!(got.records, vec!["a", "b"]);
        assert_eq!(store.batch_items(b).expect("items")[0].verification_id, Some(vid));
        store.close_batch(b).expect("close");
        assert!(store.list_batches().expect("list")[0].closed_at.is_some());
        assert!(store.batch(b + 1).expect("none").is_none());
    }
}

//! Store tests on a temporary database: record round trip, replace/unchanged detection, lookup by
//! ID number, verification log with filters, reopening, schema version and row validation.

use std::path::Path;

use super::*;
use idcheck_core::model::{FingerprintEntry, Registration};

fn sample() -> AcceptanceRecord {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .join("fixtures/samples/pass-case/acceptance/451022202404011140");
    idcheck_core::records::acceptance::load_dir(&dir).expect("sample loads")
}

fn row(status: &str, record: Option<&str>) -> VerificationRow {
    VerificationRow {
        started_at: "2024-04-08T12:40:00+08:00".into(),
        finished_at: "2024-04-08T12:40:02.5+08:00".into(),
        record_id: record.map(str::to_string),
        scan_id: Some("QC-20240408-9308".into()),
        reader: Some("ACS ACR1252 0".into()),
        verdict_json: format!("{{\"status\":\"{status}\"}}"),
        status: status.parse().expect("status"),
        causes: if status == "invalid" {
            vec![Cause::AcceptanceVsSurface, Cause::SurfaceVsChip]
        } else {
            Vec::new()
        },
        primary: (status == "invalid").then_some(1),
        inputs: vec![
            ("record".into(), sha256_hex(b"r")),
            ("chip".into(), sha256_hex(b"c")),
        ],
        requested_by: None,
    }
}

#[test]
fn record_round_trip_and_reopen() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("sub/dir/idcheck.db");
    let r = sample();
    {
        let s = Store::open(&path).expect("open creates parent dirs");
        assert_eq!(s.schema_version().expect("version"), SCHEMA_VERSION);
        assert_eq!(
            s.import_record(&r, "test").expect("import"),
            ImportOutcome::Inserted
        );
        assert_eq!(
            s.import_record(&r, "test").expect("again"),
            ImportOutcome::Unchanged
        );
        assert_eq!(
            s.get_record(&r.application_id).expect("get"),
            Some(r.clone())
        );
        assert_eq!(s.get_record("nope").expect("get"), None);
    }
    let s = Store::open(&path).expect("reopen");
    assert_eq!(
        s.get_record(&r.application_id).expect("get"),
        Some(r.clone()),
        "record in == record out after reopening"
    );
    let journal: String = s
        .conn
        .query_row("PRAGMA journal_mode", [], |x| x.get(0))
        .expect("pragma");
    assert_eq!(journal, "wal");
    let sync: i64 = s
        .conn
        .query_row("PRAGMA synchronous", [], |x| x.get(0))
        .expect("pragma");
    assert_eq!(sync, 2, "FULL");
    let fk: i64 = s
        .conn
        .query_row("PRAGMA foreign_keys", [], |x| x.get(0))
        .expect("pragma");
    assert_eq!(fk, 1);
}

#[test]
fn replace_and_lookup_by_id_number() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let s = Store::open(&tmp.path().join("db")).expect("open");
    let mut r = sample();
    s.import_record(&r, "test").expect("import");
    // Same application, a fingerprint now recorded as failed: replaced, old template gone.
    r.fingerprints[1] = FingerprintEntry {
        finger: 16,
        result: Registration::Failed,
        quality: None,
        template: None,
        exception: Some("injury".into()),
    };
    assert_eq!(
        s.import_record(&r, "test").expect("replace"),
        ImportOutcome::Replaced
    );
    assert_eq!(
        s.get_record(&r.application_id).expect("get"),
        Some(r.clone())
    );
    let n: i64 = s
        .conn
        .query_row("SELECT count(*) FROM record_templates", [], |x| x.get(0))
        .expect("count");
    assert_eq!(n, 1);
    // A later application of the same person is found by ID number.
    let mut later = sample();
    later.application_id = "451022202504011140".into();
    later.accepted_at = "2025-04-01T08:00:00+08:00".into();
    later.accepted_on = idcheck_core::records::parse_date("2025-04-01").expect("date");
    s.import_record(&later, "test").expect("import later");
    let found = s
        .find_record_by_id_number(&r.id_number)
        .expect("find")
        .expect("some");
    assert_eq!(found.application_id, later.application_id);
    assert_eq!(
        s.find_record_by_id_number("000000000000000000")
            .expect("find"),
        None
    );
    let list = s.list_records().expect("list");
    assert_eq!(
        list.iter()
            .map(|x| x.application_id.as_str())
            .collect::<Vec<_>>(),
        ["451022202404011140", "451022202504011140"]
    );
    assert_eq!(list[0].name, "尹思");
}

#[test]
fn inconsistent_record_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let s = Store::open(&tmp.path().join("db")).expect("open");
    let mut r = sample();
    r.fingerprints[0].result = Registration::Failed; // template kept: cannot be read back
    let e = s.import_record(&r, "test").expect_err("refused");
    assert!(matches!(e, StoreError::InvalidRecord { .. }), "{e}");
    assert!(
        s.list_records().expect("list").is_empty(),
        "nothing half-written"
    );
}

#[test]
fn verifications_saved_listed_filtered() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("db");
    let ids: Vec<i64> = {
        let s = Store::open(&path).expect("open");
        vec![
            s.save_verification(&row("pass", Some("A"))).expect("save"),
            s.save_verification(&row("invalid", Some("B")))
                .expect("save"),
            s.save_verification(&row("unavailable", None))
                .expect("save"),
            s.save_verification(&row("invalid", Some("A")))
                .expect("save"),
        ]
    };
    let s = Store::open(&path).expect("reopen");
    let got = s.get_verification(ids[1]).expect("get").expect("present");
    assert_eq!(got.row, row("invalid", Some("B")));
    assert_eq!(got.id, ids[1]);
    assert_eq!(s.get_verification(9999).expect("get"), None);
    let all = s
        .list_verifications(&VerificationFilter::default())
        .expect("list");
    assert_eq!(
        all.iter().map(|v| v.id).collect::<Vec<_>>(),
        ids.iter().rev().copied().collect::<Vec<_>>()
    );
    let inv = s
        .list_verifications(&VerificationFilter {
            status: Some(Status::Invalid),
            ..Default::default()
        })
        .expect("list");
    assert_eq!(
        inv.iter().map(|v| v.id).collect::<Vec<_>>(),
        [ids[3], ids[1]]
    );
    let a = s
        .list_verifications(&VerificationFilter {
            record_id: Some("A".into()),
            limit: Some(1),
            ..Default::default()
        })
        .expect("list");
    assert_eq!(a.iter().map(|v| v.id).collect::<Vec<_>>(), [ids[3]]);
    let both = s
        .list_verifications(&VerificationFilter {
            status: Some(Status::Pass),
            record_id: Some("A".into()),
            limit: None,
        })
        .expect("list");
    assert_eq!(both.len(), 1);
    assert_eq!(both[0].row.inputs, row("pass", None).inputs);
}

#[test]
fn verification_rows_are_validated() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let s = Store::open(&tmp.path().join("db")).expect("open");
    type M = fn(&mut VerificationRow);
    let cases: [(M, &str); 7] = [
        (|r| r.started_at = "yesterday".into(), "started_at"),
        (|r| r.finished_at = "2024-04-08 12:00".into(), "finished_at"),
        (|r| r.causes.clear(), "causes"),
        (|r| r.status = Status::Pass, "causes"),
        (|r| r.primary = Some(5), "primary"),
        (|r| r.verdict_json = "{".into(), "verdict_json"),
        // A raw blob (or anything but a hash) never goes into the inputs table.
        (
            |r| {
                r.inputs
                    .push(("photo".into(), "ffd8ffe000104a464946".into()))
            },
            "inputs",
        ),
    ];
    for (m, field) in cases {
        let mut r = row("invalid", Some("A"));
        m(&mut r);
        match s.save_verification(&r) {
            Err(StoreError::InvalidRow { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{field}: {other:?}"),
        }
    }
    assert!(s
        .list_verifications(&VerificationFilter::default())
        .expect("list")
        .is_empty());
}

#[test]
fn newer_schema_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("db");
    {
        let s = Store::open(&path).expect("open");
        s.conn
            .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .expect("bump");
    }
    match Store::open(&path) {
        Err(StoreError::SchemaTooNew { found, .. }) => assert_eq!(found, SCHEMA_VERSION + 1),
        other => panic!("{other:?}"),
    }
}

#[test]
fn default_path_prefers_idcheck_db() {
    let path = |vars: &[(&str, &str)]| {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        default_db_path_from(move |k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.into()))
    };
    let all = [
        ("IDCHECK_DB", "/x/y.db"),
        ("XDG_DATA_HOME", "/data"),
        ("HOME", "/home/u"),
    ];
    assert_eq!(path(&all).expect("path"), Path::new("/x/y.db"));
    assert_eq!(
        path(&all[1..]).expect("path"),
        Path::new("/data/idcheck/idcheck.db")
    );
    assert_eq!(
        path(&[("IDCHECK_DB", ""), ("XDG_DATA_HOME", "/data")]).expect("path"),
        Path::new("/data/idcheck/idcheck.db")
    );
    assert_eq!(
        path(&[("XDG_DATA_HOME", "relative"), ("HOME", "/home/u")]).expect("path"),
        Path::new("/home/u/.local/share/idcheck/idcheck.db")
    );
    assert!(matches!(
        path(&[("XDG_DATA_HOME", "relative")]),
        Err(StoreError::NoDefaultPath)
    ));
    assert!(default_db_path().is_ok() || std::env::var_os("HOME").is_none());
}

#[test]
fn comma_cause_text_of_an_older_schema_migrates_to_json_arrays() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("old.db");
    {
        // A database at schema version 3, as the last release wrote it.
        let c = rusqlite::Connection::open(&path).expect("open");
        for m in &MIGRATIONS[..3] {
            c.execute_batch(m).expect("old schema");
        }
        c.pragma_update(None, "user_version", 3).expect("version");
        c.execute(
            "INSERT INTO verifications (started_at, finished_at, verdict_json, status, causes, primary_cause)
             VALUES ('2024-04-08T12:40:00+08:00', '2024-04-08T12:40:01+08:00', '{}', 'invalid', '1,2', 1),
                    ('2024-04-08T12:41:00+08:00', '2024-04-08T12:41:01+08:00', '{}', 'pass', '', NULL)",
            [],
        )
        .expect("old rows");
    }
    let s = Store::open(&path).expect("migrates");
    assert_eq!(s.schema_version().expect("version"), SCHEMA_VERSION);
    let all = s.list_verifications(&VerificationFilter::default()).expect("list");
    let causes: Vec<(Status, Vec<Cause>)> = all.iter().map(|v| (v.row.status, v.row.causes.clone())).collect();
    assert_eq!(causes, [(Status::Pass, vec![]), (Status::Invalid, vec![Cause::AcceptanceVsSurface, Cause::SurfaceVsChip])]);
}

#[test]
fn verification_summary_keeps_no_values_or_details() {
    use serde_json::json;
    let verdict = json!({
        "status": "invalid", "causes": [1], "primary": 1, "advice": "x",
        "findings": [{"cause": 1, "item": "name", "sources": "A~S", "expected": "张三", "actual": "张山",
                      "score": 0.8125, "threshold": 0.9, "borderline": true, "detail": "name differs: 张三 / 张山"}],
        "not_checked": [{"item": "fingerprint[1]", "sources": "A~C", "reason": "no template"}],
        "observations": []
    });
    let row = VerificationRow {
        started_at: "2024-04-08T12:40:00+08:00".into(),
        finished_at: "2024-04-08T12:40:02+08:00".into(),
        record_id: Some("451022202404011140".into()),
        verdict_json: verdict.to_string(),
        status: Status::Invalid,
        causes: vec![Cause::AcceptanceVsSurface],
        primary: Some(1),
        inputs: vec![("photo".into(), "ab".repeat(32))],
        requested_by: Some("cli:alice".into()),
        scan_id: None,
        reader: None,
    };
    let s = super::audit::verification_summary(7, &row);
    let text = idcheck_core::audit_format::canonical::encode(&AuditEvent::Verification(s.clone()).payload()).expect("canonical");
    assert!(!text.contains("张"), "{text}");
    assert_eq!(s.findings[0].score.as_deref(), Some("0.8125"));
    assert_eq!(s.findings[0].item.as_deref(), Some("name"));
    assert_eq!(s.not_checked, ["fingerprint[1]"]);
    assert_eq!(s.causes, [1]);
    assert_eq!(s.verdict_sha256, sha256_hex(row.verdict_json.as_bytes()));
    assert!(text.contains("cli:alice"));
}

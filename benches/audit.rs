//! The auditors' log: append rate with the store's durability settings (WAL, synchronous FULL: one
//! fsync'd transaction per entry, so this measures the disk), for a daemon event
//! (`audit_append`) and for a verification saved with its entry (`save_verification`); the cost of
//! a checkpoint; and the verify rate of the live database and of an export (hashing, links,
//! signatures; no fsync). Prints medians of several runs.
//! Run: cargo bench --bench audit   [IDCHECK_AUDIT_BENCH_DIR=/path/on/the/target/disk]
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the failure

use std::path::PathBuf;
use std::time::Instant;

use idcheck::audit::{self, AuditEvent, ExportFormat, ExportOptions, StationKey, VerifyOptions};
use idcheck_core::model::sha256_hex;
use idcheck_store::{Store, VerificationRow};
use idcheck::audit::SignedChain;

fn row() -> VerificationRow {
    VerificationRow {
        started_at: "2024-04-08T12:40:00+08:00".into(),
        finished_at: "2024-04-08T12:40:02+08:00".into(),
        record_id: Some("451022202404011140".into()),
        scan_id: Some("QC-20240408-9308".into()),
        reader: Some("ACS ACR1252 0".into()),
        verdict_json: r#"{"status":"invalid","causes":[1],"primary":1,"findings":[{"cause":1,"item":"photo","sources":"A~S","score":0.41,"threshold":0.62,"borderline":false,"detail":"d"}],"advice":"a","not_checked":[],"observations":[]}"#.into(),
        status: idcheck_core::verdict::Status::Invalid,
        causes: vec![idcheck_core::verdict::Cause::AcceptanceVsSurface],
        primary: Some(1),
        inputs: (0..14).map(|i| (format!("input{i}"), sha256_hex(&[i]))).collect(),
        requested_by: Some("cli:bench".into()),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn rate(n: usize, f: impl FnOnce()) -> f64 {
    let t = Instant::now();
    f();
    n as f64 / t.elapsed().as_secs_f64()
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let disk_dir = std::env::var_os("IDCHECK_AUDIT_BENCH_DIR").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    let disk = tempfile::tempdir_in(&disk_dir).expect("temp dir");
    let key = StationKey::generate().expect("key");
    let runs = 7;
    let n = 200;

    let store = Store::open(&disk.path().join("append.db")).expect("open");
    let event = AuditEvent::MaintenanceOn { reason: "bench".into(), by: "cli:bench".into() };
    let append: Vec<f64> = (0..runs)
        .map(|_| rate(n, || (0..n).for_each(|_| drop(store.audit_append(&event).expect("append")))))
        .collect();
    let row = row();
    let save: Vec<f64> = (0..runs)
        .map(|_| rate(n, || (0..n).for_each(|_| { store.save_verification(&row).expect("save"); })))
        .collect();
    let checkpoint: Vec<f64> = (0..runs)
        .map(|_| {
            (0..n).for_each(|_| drop(store.audit_append(&event).expect("append")));
            let t = Instant::now();
            store.audit_checkpoint(&key).expect("checkpoint");
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    println!("disk: {}", disk_dir.display());
    println!("append (audit_append, 1 fsync'd transaction each):      median {:>9.0} entries/s", median(append));
    println!("append (save_verification: row + inputs + entry):        median {:>9.0} entries/s", median(save));
    println!("checkpoint after {n} new entries (check + sign + store):  median {:>9.2} ms", median(checkpoint));

    // Verify rate: a large log built on tmpfs when there is one (its fsyncs are free).
    let big_dir = if std::path::Path::new("/dev/shm").is_dir() { PathBuf::from("/dev/shm") } else { disk_dir.clone() };
    let big = tempfile::tempdir_in(&big_dir).expect("temp dir");
    let store = Store::open(&big.path().join("verify.db")).expect("open");
    store.audit_append(&idcheck::audit::key::daemon_start_event(&key)).expect("start");
    let total = 20_000;
    for i in 1..total {
        if i % 2 == 0 {
            store.save_verification(&row).expect("save");
        } else {
            store.audit_append(&event).expect("append");
        }
        if i % 1000 == 0 {
            store.audit_checkpoint(&key).expect("checkpoint");
        }
    }
    store.audit_checkpoint(&key).expect("checkpoint");
    let opts = VerifyOptions { expected_key: Some(key.public_key_hex()) };
    let verify_db: Vec<f64> = (0..5)
        .map(|_| {
            let mut r = None;
            let x = rate(total, || r = Some(audit::verify_db(&store, &opts)));
            assert!(r.is_some_and(|r| r.holds()), "the bench log verifies");
            x
        })
        .collect();
    let mut text = Vec::new();
    let export_rate = rate(total, || {
        audit::export(&store, &ExportOptions { format: ExportFormat::Jsonl, requested_by: "bench".into(), ..Default::default() }, Some(&key), &mut text)
            .expect("export");
    });
    let verify_export: Vec<f64> = (0..5)
        .map(|_| {
            let mut r = None;
            let x = rate(total, || {
                let mut input: &[u8] = &text;
                r = Some(audit::verify_export(&mut input, "bench", &opts));
            });
            assert!(r.is_some_and(|r| r.holds()), "the bench export verifies");
            x
        })
        .collect();
    println!("verify database ({total} entries, half verifications):    median {:>9.0} entries/s", median(verify_db));
    println!("export JSONL ({} bytes):                                  {:>9.0} entries/s", text.len(), export_rate);
    println!("verify export ({total} entries):                           median {:>9.0} entries/s", median(verify_export));
}

//! The auditors' log end to end: a clean log verifies (database and export, JSON Lines and CSV);
//! the tamper matrix on the database (rows edited with rusqlite directly) and on an export (lines
//! edited) — modify any field of an entry, delete one, insert one, swap two, truncate the tail,
//! re-hash a rewritten chain, replace a checkpoint signature, another station's key, remove the
//! head, change a stored verdict — every case detected and the first bad entry named; range
//! exports; prune with archive; the CLI; a record import killed with SIGKILL leaves a chain that
//! verifies.
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the failure

use std::path::{Path, PathBuf};
use std::process::Command;

use idcheck::audit::entry::{checkpoint_message, Purpose};
use idcheck::audit::{
    self, AuditEntry, AuditEvent, ExportFormat, ExportOptions, ProblemKind, StationKey, VerifyOptions, VerifyReport,
};
use idcheck_core::model::{sha256_hex, AcceptanceRecord};
use idcheck_store::{Store, VerificationRow};
use rusqlite::params;
use serde_json::{json, Value};
use idcheck::audit::SignedChain;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_idcheck"))
}

fn sample_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/samples/pass-case/acceptance/451022202404011140")
}

fn sample() -> AcceptanceRecord {
    idcheck_core::records::acceptance::load_dir(&sample_dir()).expect("sample record loads")
}

fn vrow(status: &str) -> VerificationRow {
    let invalid = status == "invalid";
    let verdict = json!({
        "status": status, "causes": if invalid { json!([1]) } else { json!([]) },
        "primary": if invalid { json!(1) } else { Value::Null }, "advice": "a",
        "findings": if invalid { json!([{"cause": 1, "item": "name", "sources": "A~S", "expected": "尹思", "actual": "尹恩",
            "score": 0.5, "threshold": 0.9, "borderline": false, "detail": "name differs"}]) } else { json!([]) },
        "not_checked": [], "observations": []
    });
    VerificationRow {
        started_at: "2024-04-08T12:40:00+08:00".into(),
        finished_at: "2024-04-08T12:40:02+08:00".into(),
        record_id: Some("451022202404011140".into()),
        scan_id: Some("QC-20240408-9308".into()),
        reader: Some("ACS ACR1252 0".into()),
        verdict_json: verdict.to_string(),
        status: status.parse().expect("status"),
        causes: if invalid { vec![idcheck_core::verdict::Cause::AcceptanceVsSurface] } else { Vec::new() },
        primary: invalid.then_some(1),
        inputs: vec![("record".into(), sha256_hex(b"r")), ("photo".into(), sha256_hex(b"p"))],
        requested_by: Some("test:auditor".into()),
    }
}

struct Log {
    _tmp: tempfile::TempDir,
    db: PathBuf,
    key_path: PathBuf,
    public_key: String,
}

impl Log {
    fn store(&self) -> Store {
        Store::open(&self.db).expect("store opens")
    }
    fn key(&self) -> StationKey {
        StationKey::load(&self.key_path).expect("key loads")
    }
    fn verify(&self) -> VerifyReport {
        audit::verify_db(&self.store(), &VerifyOptions::default())
    }
    fn verify_expecting(&self, key: &str) -> VerifyReport {
        audit::verify_db(&self.store(), &VerifyOptions { expected_key: Some(key.to_string()) })
    }
    fn sql(&self, sql: &str) {
        let c = rusqlite::Connection::open(&self.db).expect("sqlite");
        c.execute_batch(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    fn export(&self, format: ExportFormat, from: Option<String>, to: Option<String>) -> String {
        let store = self.store();
        let mut buf = Vec::new();
        let opts = ExportOptions { from, to, format, requested_by: "test:auditor".into() };
        audit::export(&store, &opts, Some(&self.key()), &mut buf).expect("export");
        String::from_utf8(buf).expect("utf-8")
    }
}

/// Entries 1..=10, checkpoints at 5 and 10:
/// 1 daemon_start, 2 config_load, 3 record_import, 4-5 verifications, [cp 5], 6 maintenance_on,
/// 7 maintenance_off, 8 verification, 9 record_import (unchanged), 10 daemon_stop, [cp 10].
fn build_log() -> Log {
    let tmp = tempfile::tempdir().expect("tempdir");
    let db = tmp.path().join("idcheck.db");
    let key_path = tmp.path().join("station-key.pk8");
    let key = StationKey::load_or_create(&key_path).expect("key");
    let store = Store::open(&db).expect("open");
    store.audit_append(&idcheck::audit::key::daemon_start_event(&key)).expect("start");
    store.audit_append(&AuditEvent::config_load(Path::new("/etc/idcheck/idcheck.toml"), b"[store]\n")).expect("config");
    store.import_record(&sample(), "test").expect("import");
    store.save_verification(&vrow("pass")).expect("save");
    store.save_verification(&vrow("invalid")).expect("save");
    assert_eq!(store.audit_checkpoint(&key).expect("checkpoint").map(|c| c.seq), Some(5));
    assert_eq!(store.audit_checkpoint(&key).expect("no-op"), None, "nothing new to sign");
    store.audit_append(&AuditEvent::MaintenanceOn { reason: "reader swap".into(), by: "cli:op".into() }).expect("on");
    store.audit_append(&AuditEvent::MaintenanceOff { reason: "done".into(), by: "cli:op".into() }).expect("off");
    store.save_verification(&vrow("unavailable")).expect("save");
    store.import_record(&sample(), "test").expect("import again");
    store.audit_append(&AuditEvent::DaemonStop { reason: "SIGTERM".into() }).expect("stop");
    assert_eq!(store.audit_checkpoint(&key).expect("checkpoint").map(|c| c.seq), Some(10));
    Log { public_key: key.public_key_hex(), _tmp: tmp, db, key_path }
}

fn entry_row(log: &Log, seq: i64) -> AuditEntry {
    let c = rusqlite::Connection::open(&log.db).expect("sqlite");
    c.query_row("SELECT seq, time, kind, payload, prev_hash, entry_hash FROM audit_entries WHERE seq = ?1", [seq], |r| {
        Ok(AuditEntry {
            seq: r.get::<_, i64>(0)? as u64,
            time: r.get(1)?,
            kind: r.get(2)?,
            payload: serde_json::from_str(&r.get::<_, String>(3)?).expect("json"),
            prev_hash: r.get(4)?,
            entry_hash: r.get(5)?,
        })
    })
    .expect("entry row")
}

/// Re-hash entries `from..` (an attacker without the key rewriting the chain after an edit).
fn rehash_from(log: &Log, from: i64) {
    let c = rusqlite::Connection::open(&log.db).expect("sqlite");
    let head: i64 = c.query_row("SELECT max(seq) FROM audit_entries", [], |r| r.get(0)).expect("head");
    let mut prev = entry_row(log, from - 1).entry_hash;
    for s in from..=head {
        let mut e = entry_row(log, s);
        e.prev_hash = prev.clone();
        e.entry_hash = e.computed_hash().expect("hash");
        c.execute("UPDATE audit_entries SET prev_hash = ?2, entry_hash = ?3 WHERE seq = ?1", params![s, e.prev_hash, e.entry_hash])
            .expect("update");
        prev = e.entry_hash;
    }
}

/// Sign every checkpoint row again with `key` (another station).
fn resign_db(log: &Log, key: &StationKey) {
    let c = rusqlite::Connection::open(&log.db).expect("sqlite");
    let rows: Vec<(i64, i64, String, String, String)> = {
        let mut st = c.prepare("SELECT id, seq, entry_hash, time, purpose FROM audit_checkpoints").expect("prepare");
        let v = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
            .expect("query")
            .collect::<Result<Vec<_>, _>>()
            .expect("rows");
        v
    };
    for (id, seq, hash, time, purpose) in rows {
        let purpose = Purpose::parse(&purpose).expect("purpose");
        let msg = checkpoint_message(seq as u64, &hash, &time, purpose, &key.public_key_hex()).expect("msg");
        c.execute(
            "UPDATE audit_checkpoints SET public_key = ?2, signature = ?3 WHERE id = ?1",
            params![id, key.public_key_hex(), key.sign_hex(msg.as_bytes())],
        )
        .expect("update");
    }
}

#[track_caller]
fn assert_detected(r: &VerifyReport, seq: Option<u64>, kinds: &[ProblemKind], case: &str) {
    assert!(!r.intact(), "{case}: not detected: {r:#?}");
    assert!(!r.holds(), "{case}");
    let p = r.first_problem().expect("a problem");
    assert!(kinds.contains(&p.kind), "{case}: first problem {p} is not one of {kinds:?}");
    if seq.is_some() {
        assert_eq!(p.seq, seq, "{case}: first problem {p} names the wrong entry");
    }
    assert!(!p.detail.is_empty(), "{case}: the problem says why");
}

#[test]
fn clean_log_verifies_and_keeps_no_personal_text() {
    let log = build_log();
    let r = log.verify();
    assert!(r.holds(), "{r:#?}");
    assert_eq!((r.entries, r.first_seq, r.last_seq), (10, Some(1), Some(10)));
    assert_eq!(r.valid_checkpoints, 2);
    assert_eq!(r.signed_through, Some(10));
    assert_eq!(r.station_key.as_deref(), Some(log.public_key.as_str()));
    assert!(log.verify_expecting(&log.public_key).holds());
    // Kinds and who asked.
    let kinds: Vec<String> = (1..=10).map(|s| entry_row(&log, s).kind).collect();
    assert_eq!(
        kinds,
        [
            "daemon_start", "config_load", "record_import", "verification", "verification", "maintenance_on",
            "maintenance_off", "verification", "record_import", "daemon_stop"
        ]
    );
    let v = entry_row(&log, 5).payload;
    assert_eq!(v["requested_by"], "test:auditor");
    assert_eq!(v["status"], "invalid");
    assert_eq!(v["findings"][0]["item"], "name");
    assert_eq!(entry_row(&log, 9).payload["outcome"], "unchanged");
    // No personal text anywhere in the log.
    let c = rusqlite::Connection::open(&log.db).expect("sqlite");
    let all: String = c.query_row("SELECT group_concat(payload, '') FROM audit_entries", [], |r| r.get(0)).expect("concat");
    for personal in ["尹思", "尹恩", "450330200201139792", "广西", "YIN<<SI", "2002-01-13"] {
        assert!(!all.contains(personal), "{personal} is in the log");
    }
    // Who asked is stored with the verdict too.
    let who: Option<String> = c.query_row("SELECT requested_by FROM verifications WHERE id = 1", [], |r| r.get(0)).expect("row");
    assert_eq!(who.as_deref(), Some("test:auditor"));
}

#[test]
fn a_verdict_cannot_be_stored_without_its_entry() {
    let log = build_log();
    // A failed audit append (table made read-only by a trigger) rolls the verdict back.
    log.sql("CREATE TRIGGER no_audit BEFORE INSERT ON audit_entries BEGIN SELECT RAISE(ABORT, 'audit refused'); END;");
    let store = log.store();
    let before = store.list_verifications(&Default::default()).expect("list").len();
    assert!(store.save_verification(&vrow("pass")).is_err());
    assert!(store.import_record(&sample(), "test").is_err());
    assert_eq!(store.list_verifications(&Default::default()).expect("list").len(), before, "no verdict without its entry");
    assert!(store.audit_append(&AuditEvent::Verification(idcheck_store::verification_summary(1, &vrow("pass")))).is_err());
}

#[test]
fn database_tamper_matrix() {
    use ProblemKind::*;
    let other = StationKey::generate().expect("key");
    type Tamper = fn(&Log, &StationKey);
    let cases: Vec<(&str, Tamper, Option<u64>, &[ProblemKind])> = vec![
        ("modify time", |l, _| l.sql("UPDATE audit_entries SET time = '2020-01-01T00:00:00.000000Z' WHERE seq = 4"), Some(4), &[Modified]),
        ("modify kind", |l, _| l.sql("UPDATE audit_entries SET kind = 'daemon_stop' WHERE seq = 4"), Some(4), &[Modified]),
        ("modify payload", |l, _| l.sql("UPDATE audit_entries SET payload = replace(payload, '\"invalid\"', '\"pass\"') WHERE seq = 5"), Some(5), &[Modified]),
        ("payload whitespace", |l, _| l.sql("UPDATE audit_entries SET payload = replace(payload, ',', ', ') WHERE seq = 6"), Some(6), &[NotCanonical]),
        ("modify prev_hash", |l, _| l.sql("UPDATE audit_entries SET prev_hash = entry_hash WHERE seq = 7"), Some(7), &[Modified, BrokenLink]),
        ("modify entry_hash", |l, _| l.sql("UPDATE audit_entries SET entry_hash = prev_hash WHERE seq = 7"), Some(7), &[Modified]),
        ("modify seq", |l, _| l.sql("UPDATE audit_entries SET seq = 100 WHERE seq = 10"), Some(100), &[Missing]),
        ("modify and re-hash the chain", |l, _| {
            l.sql("UPDATE audit_entries SET payload = replace(payload, 'reader swap', 'routine') WHERE seq = 6");
            rehash_from(l, 6);
        }, Some(10), &[CheckpointMismatch]),
        ("delete one", |l, _| l.sql("DELETE FROM audit_entries WHERE seq = 6"), Some(7), &[Missing]),
        ("insert one", |l, _| {
            let c = rusqlite::Connection::open(&l.db).expect("sqlite");
            for s in (6..=10).rev() {
                c.execute("UPDATE audit_entries SET seq = seq + 1 WHERE seq = ?1", [s]).expect("shift");
            }
            let prev = entry_row(l, 5).entry_hash;
            let mut e = AuditEntry { seq: 6, time: entry_row(l, 5).time, kind: "maintenance_on".into(),
                payload: json!({"reason": "forged", "by": "x"}), prev_hash: prev, entry_hash: String::new() };
            e.entry_hash = e.computed_hash().expect("hash");
            c.execute("INSERT INTO audit_entries (seq, time, kind, payload, prev_hash, entry_hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![6, e.time, e.kind, idcheck::audit::canonical::encode(&e.payload).expect("c"), e.prev_hash, e.entry_hash]).expect("insert");
        }, Some(7), &[Modified, BrokenLink]),
        ("swap two", |l, _| {
            let c = rusqlite::Connection::open(&l.db).expect("sqlite");
            c.execute_batch("UPDATE audit_entries SET seq = 1000 WHERE seq = 6; UPDATE audit_entries SET seq = 6 WHERE seq = 7;
                             UPDATE audit_entries SET seq = 7 WHERE seq = 1000;").expect("swap");
        }, Some(6), &[Modified, BrokenLink]),
        ("swap contents keeping seq", |l, _| {
            let (a, b) = (entry_row(l, 7), entry_row(l, 8));
            let c = rusqlite::Connection::open(&l.db).expect("sqlite");
            for (seq, e) in [(7, &b), (8, &a)] {
                c.execute("UPDATE audit_entries SET time = ?2, kind = ?3, payload = ?4, prev_hash = ?5, entry_hash = ?6 WHERE seq = ?1",
                    params![seq, e.time, e.kind, idcheck::audit::canonical::encode(&e.payload).expect("c"), e.prev_hash, e.entry_hash]).expect("u");
            }
        }, Some(7), &[Modified, BrokenLink]),
        ("truncate the tail", |l, _| l.sql("DELETE FROM audit_entries WHERE seq >= 9"), Some(10), &[Truncated]),
        ("remove the head", |l, _| l.sql("DELETE FROM audit_entries WHERE seq <= 3"), Some(4), &[Anchor]),
        ("replace a checkpoint signature", |l, _| {
            let c = rusqlite::Connection::open(&l.db).expect("sqlite");
            let sig: String = c.query_row("SELECT signature FROM audit_checkpoints WHERE seq = 10", [], |r| r.get(0)).expect("sig");
            c.execute("UPDATE audit_checkpoints SET signature = ?1 WHERE seq = 5", [sig]).expect("u");
        }, Some(5), &[BadSignature]),
        ("another station's key", |l, k| resign_db(l, k), Some(5), &[WrongKey]),
        ("change a stored verdict", |l, _| l.sql("UPDATE verifications SET verdict_json = '{\"status\":\"pass\"}' WHERE id = 2"), Some(5), &[RowMismatch]),
        ("a verdict without its entry", |l, _| l.sql(
            "INSERT INTO verifications (started_at, finished_at, verdict_json, status, causes) VALUES ('2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z', '{}', 'pass', '')"),
            None, &[RowMismatch]),
        ("a stored record changed behind the store", |l, _| l.sql("UPDATE records SET content_sha256 = '00' || substr(content_sha256, 3)"), Some(9), &[RowMismatch]),
    ];
    for (name, tamper, seq, kinds) in cases {
        let log = build_log();
        assert!(log.verify().holds(), "{name}: clean before");
        tamper(&log, &other);
        let r = log.verify();
        assert_detected(&r, seq, kinds, name);
    }

    // Another station's key, consistently: the chain re-hashed to name key B and every checkpoint
    // re-signed with B. Only the auditor's knowledge of the station key can tell: it does.
    let log = build_log();
    log.sql(&format!("UPDATE audit_entries SET payload = replace(payload, '{}', '{}') WHERE seq = 1", log.public_key, other.public_key_hex()));
    let c = rusqlite::Connection::open(&log.db).expect("sqlite");
    let mut first = entry_row(&log, 1);
    first.entry_hash = first.computed_hash().expect("hash");
    c.execute("UPDATE audit_entries SET entry_hash = ?1 WHERE seq = 1", [&first.entry_hash]).expect("u");
    rehash_from(&log, 2);
    let rows: Vec<(i64, i64)> = c
        .prepare("SELECT id, seq FROM audit_checkpoints").expect("p")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?))).expect("q")
        .collect::<Result<_, _>>().expect("rows");
    for (id, seq) in rows {
        let h = entry_row(&log, seq).entry_hash;
        c.execute("UPDATE audit_checkpoints SET entry_hash = ?2 WHERE id = ?1", params![id, h]).expect("u");
    }
    resign_db(&log, &other);
    assert!(log.verify().intact(), "self-consistent forgery with key B");
    assert_detected(&log.verify_expecting(&log.public_key), Some(1), &[ProblemKind::WrongKey], "key B against the known key A");
}

/// Export lines as JSON values (JSON Lines).
fn lines(text: &str) -> Vec<Value> {
    text.lines().map(|l| serde_json::from_str(l).expect("json line")).collect()
}

fn join(values: &[Value]) -> String {
    values.iter().map(|v| v.to_string() + "\n").collect()
}

fn entry_index(values: &[Value], seq: u64) -> usize {
    values.iter().position(|v| v["record"] == "entry" && v["seq"] == seq).expect("entry line")
}

fn verify_text(text: &str, expected: Option<&str>) -> VerifyReport {
    let mut input = text.as_bytes();
    audit::verify_export(&mut input, "test", &VerifyOptions { expected_key: expected.map(str::to_string) })
}

fn resign_export(values: &mut [Value], key: &StationKey) {
    for v in values.iter_mut() {
        if v["record"] == "checkpoint" || (v["record"] == "anchor" && v["type"] == "checkpoint") {
            let purpose = Purpose::parse(v["purpose"].as_str().expect("purpose")).expect("purpose");
            let msg = checkpoint_message(
                v["seq"].as_u64().expect("seq"),
                v["entry_hash"].as_str().expect("hash"),
                v["time"].as_str().expect("time"),
                purpose,
                &key.public_key_hex(),
            )
            .expect("msg");
            v["public_key"] = json!(key.public_key_hex());
            v["signature"] = json!(key.sign_hex(msg.as_bytes()));
        }
    }
}

#[test]
fn export_tamper_matrix() {
    use ProblemKind::*;
    let log = build_log();
    let text = log.export(ExportFormat::Jsonl, None, None);
    let clean = verify_text(&text, Some(&log.public_key));
    assert!(clean.holds(), "{clean:#?}");
    // 10 entries + the audit_export entry (11), signed for the export.
    assert_eq!((clean.entries, clean.last_seq, clean.signed_through), (11, Some(11), Some(11)));
    let base = lines(&text);
    assert_eq!(base[0]["record"], "header");
    assert_eq!(base[0]["station_key"], log.public_key.as_str());
    assert_eq!(base[1]["type"], "genesis");
    let other = StationKey::generate().expect("key");

    type Edit = Box<dyn Fn(&mut Vec<Value>)>;
    let field = |seq: u64, f: &'static str, v: Value| -> Edit {
        Box::new(move |x: &mut Vec<Value>| {
            let i = entry_index(x, seq);
            x[i][f] = v.clone();
        })
    };
    let cases: Vec<(&str, Edit, Option<u64>, &[ProblemKind])> = vec![
        ("modify seq", field(4, "seq", json!(40)), Some(40), &[Missing]),
        ("modify time", field(4, "time", json!("2020-01-01T00:00:00.000000Z")), Some(4), &[Modified]),
        ("modify kind", field(4, "kind", json!("daemon_stop")), Some(4), &[Modified]),
        ("modify payload", Box::new(|x: &mut Vec<Value>| { let i = entry_index(x, 5); x[i]["payload"]["status"] = json!("pass"); }), Some(5), &[Modified]),
        ("modify prev_hash", field(6, "prev_hash", json!(sha256_hex(b"x"))), Some(6), &[Modified, BrokenLink]),
        ("modify entry_hash", field(6, "entry_hash", json!(sha256_hex(b"x"))), Some(6), &[Modified]),
        ("delete one", Box::new(|x: &mut Vec<Value>| { let i = entry_index(x, 6); x.remove(i); }), Some(7), &[Missing]),
        ("insert one", Box::new(|x: &mut Vec<Value>| { let i = entry_index(x, 6); let dup = x[i].clone(); x.insert(i + 1, dup); }), Some(6), &[OutOfOrder]),
        ("swap two", Box::new(|x: &mut Vec<Value>| { let (i, j) = (entry_index(x, 7), entry_index(x, 8)); x.swap(i, j); }), Some(8), &[Missing]),
        ("truncate the tail", Box::new(|x: &mut Vec<Value>| { let i = entry_index(x, 9); x.truncate(i); }), None, &[Truncated, RangeNotClosed]),
        ("truncate the tail and fix the header", Box::new(|x: &mut Vec<Value>| {
            let i = entry_index(x, 9); x.truncate(i);
            x[0]["entries"] = json!(8); x[0]["last_seq"] = json!(8);
            x[0]["checkpoints"] = json!(x.iter().filter(|v| v["record"] == "checkpoint").count());
        }), Some(8), &[RangeNotClosed]),
        ("replace a checkpoint signature", Box::new(|x: &mut Vec<Value>| {
            let sigs: Vec<usize> = (0..x.len()).filter(|&i| x[i]["record"] == "checkpoint").collect();
            let s = x[sigs[1]]["signature"].clone();
            x[sigs[0]]["signature"] = s;
        }), Some(5), &[BadSignature]),
        ("another station's key (header and signatures)", Box::new({
            let pk = other.public_key_hex();
            let other = StationKey::generate().expect("k");
            let _ = &other;
            move |x: &mut Vec<Value>| { x[0]["station_key"] = json!(pk.clone()); }
        }), None, &[WrongKey, BadSignature]),
    ];
    for (name, edit, seq, kinds) in cases {
        let mut x = base.clone();
        edit(&mut x);
        let r = verify_text(&join(&x), None);
        assert_detected(&r, seq, kinds, name);
    }
    // Another station's key, everywhere in the export: header and every checkpoint re-signed.
    let mut x = base.clone();
    x[0]["station_key"] = json!(other.public_key_hex());
    resign_export(&mut x, &other);
    assert_detected(&verify_text(&join(&x), None), Some(1), &[WrongKey], "re-signed: the chain names key A at daemon start");
    assert_detected(&verify_text(&join(&x), Some(&log.public_key)), None, &[WrongKey], "re-signed, against the known key");
    // Garbage and an empty file.
    assert_detected(&verify_text("", None), None, &[Malformed], "empty");
    assert_detected(&verify_text("not an export\n", None), None, &[Malformed], "garbage");
}

#[test]
fn csv_export_verifies_and_tampering_is_detected() {
    let log = build_log();
    let text = log.export(ExportFormat::Csv, None, None);
    assert!(text.starts_with("record,seq,time,kind,prev_hash,entry_hash,payload,purpose,public_key,signature\n"));
    let r = verify_text(&text, Some(&log.public_key));
    assert!(r.holds(), "{r:#?}");
    let rows: Vec<&str> = text.lines().collect();
    let idx = |seq: u64| rows.iter().position(|l| l.starts_with(&format!("entry,{seq},"))).expect("row");
    // modify a cell (the time of entry 4)
    let mut m = rows.clone();
    let changed = m[idx(4)].replacen(",20", ",19", 1);
    m[idx(4)] = &changed;
    assert_detected(&verify_text(&(m.join("\n") + "\n"), None), Some(4), &[ProblemKind::Modified], "csv modify");
    // delete one
    let mut d = rows.clone();
    d.remove(idx(6));
    assert_detected(&verify_text(&(d.join("\n") + "\n"), None), Some(7), &[ProblemKind::Missing], "csv delete");
    // swap two
    let mut s = rows.clone();
    s.swap(idx(7), idx(8));
    assert_detected(&verify_text(&(s.join("\n") + "\n"), None), Some(8), &[ProblemKind::Missing], "csv swap");
    // truncate
    let t = rows[..idx(9)].join("\n") + "\n";
    assert!(!verify_text(&t, None).intact(), "csv truncate");
}

#[test]
fn range_exports_are_anchored_and_closed() {
    let log = build_log();
    let t6 = entry_row(&log, 6).time;
    let t8 = entry_row(&log, 8).time;
    let text = log.export(ExportFormat::Jsonl, Some(t6.clone()), Some(t8.clone()));
    let r = verify_text(&text, Some(&log.public_key));
    assert!(r.holds(), "{r:#?}");
    let v = lines(&text);
    assert_eq!(v[1]["type"], "entry", "anchored on the entry before the range");
    assert_eq!(v[1]["seq"], 5);
    assert_eq!(r.first_seq, Some(6));
    // The range is closed by the checkpoint at 10 (signed after t8): entries past `to` are included.
    assert_eq!(r.last_seq, Some(10));
    // Removing the first entry of the range and anchoring on it is detected (it is inside the range).
    let mut x = v.clone();
    let i = entry_index(&x, 6);
    let mut anchor = x.remove(i);
    anchor["record"] = json!("anchor");
    anchor["type"] = json!("entry");
    x[1] = anchor;
    x[0]["entries"] = json!(x[0]["entries"].as_u64().expect("n") - 1);
    assert_detected(&verify_text(&join(&x), None), Some(6), &[ProblemKind::Anchor], "head of range removed");
    // A range that ends before the first checkpoint is extended to it.
    let t2 = entry_row(&log, 2).time;
    let r = verify_text(&log.export(ExportFormat::Jsonl, None, Some(t2)), Some(&log.public_key));
    assert!(r.holds(), "{r:#?}");
    assert_eq!(r.last_seq, Some(5));
}

#[test]
fn prune_archives_and_the_rest_still_verifies() {
    let log = build_log();
    let store = log.store();
    let key = log.key();
    let t6 = entry_row(&log, 6).time;
    let mut archive = Vec::new();
    let s = store.audit_prune(&t6, &key, "test:auditor", &mut archive).expect("prune");
    assert_eq!((s.removed, s.first_seq, s.through_seq), (5, Some(1), Some(5)));
    assert_eq!(s.archive_sha256.as_deref(), Some(sha256_hex(&archive).as_str()));
    // The archive verifies on its own, ending at the signed anchor.
    let text = String::from_utf8(archive).expect("utf-8");
    let r = verify_text(&text, Some(&log.public_key));
    assert!(r.holds(), "{r:#?}");
    assert_eq!((r.first_seq, r.last_seq), (Some(1), Some(5)));
    // The database starts at 6, chained to the signed anchor; the prune is logged and signed.
    let r = log.verify_expecting(&log.public_key);
    assert!(r.holds(), "{r:#?}");
    assert_eq!(r.first_seq, Some(6));
    let prune = entry_row(&log, s.prune_entry.expect("entry") as i64);
    assert_eq!(prune.kind, "audit_prune");
    assert_eq!(prune.payload["archive_sha256"], s.archive_sha256.clone().expect("sha").as_str());
    // An export from the start is anchored on the prune anchor and verifies.
    let text = log.export(ExportFormat::Jsonl, None, None);
    assert_eq!(lines(&text)[1]["type"], "checkpoint");
    assert!(verify_text(&text, Some(&log.public_key)).holds());
    // Appending after a prune still chains; pruning again works.
    store.audit_append(&AuditEvent::DaemonStop { reason: "x".into() }).expect("append");
    let t8 = entry_row(&log, 8).time;
    let s2 = store.audit_prune(&t8, &key, "test", &mut Vec::new()).expect("prune again");
    assert_eq!((s2.first_seq, s2.through_seq), (Some(6), Some(7)));
    assert!(log.verify_expecting(&log.public_key).holds());
    // Removing more from the head is still detected.
    log.sql("DELETE FROM audit_entries WHERE seq = 8");
    assert_detected(&log.verify(), Some(9), &[ProblemKind::Anchor], "head removed after prune");
    // Nothing older: nothing done.
    let log = build_log();
    let s = log.store().audit_prune("2000-01-01T00:00:00.000000Z", &log.key(), "t", &mut Vec::new()).expect("prune");
    assert_eq!(s.removed, 0);
}

#[test]
fn a_broken_chain_is_never_signed_or_pruned() {
    let log = build_log();
    log.store().audit_append(&AuditEvent::DaemonStop { reason: "x".into() }).expect("append");
    log.sql("UPDATE audit_entries SET payload = replace(payload, 'SIGTERM', 'SIGKILL') WHERE seq = 10");
    let e = log.store().audit_checkpoint(&log.key()).expect_err("refused");
    assert!(e.to_string().contains("entry 10"), "{e}");
    let e = log.store().audit_prune(&idcheck::audit::entry::now(), &log.key(), "t", &mut Vec::new()).expect_err("refused");
    assert!(e.to_string().contains("entry 10"), "{e}");
}

#[test]
fn cli_export_verify_checkpoint_prune() {
    let log = build_log();
    let dir = log.db.parent().expect("dir").to_path_buf();
    let out = dir.join("export.jsonl");
    let run = |args: &[&str]| bin().args(args).arg("--db").arg(&log.db).output().expect("runs");
    let o = run(&["audit", "export", "--out", out.to_str().expect("utf-8")]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // The default key next to the database signed it.
    let pk = bin().args(["audit", "public-key", "--db"]).arg(&log.db).output().expect("runs");
    assert_eq!(String::from_utf8_lossy(&pk.stdout).trim(), log.public_key);
    let o = bin().args(["audit", "verify", "--public-key", &log.public_key]).arg(&out).output().expect("runs");
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stdout));
    assert!(String::from_utf8_lossy(&o.stdout).contains("HOLDS"));
    // Tampered: exit 1, the first bad entry named.
    let text = std::fs::read_to_string(&out).expect("read");
    let tampered = dir.join("tampered.jsonl");
    std::fs::write(&tampered, text.replacen("\"reader swap\"", "\"routine\"", 1)).expect("write");
    let o = bin().args(["audit", "verify"]).arg(&tampered).output().expect("runs");
    assert_eq!(o.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("first bad: entry 6"), "{stdout}");
    assert_eq!(bin().args(["audit", "verify"]).arg(dir.join("missing.jsonl")).status().expect("runs").code(), Some(66));
    // The live database: holds; a new unsigned entry needs --allow-unsigned-tail or a checkpoint.
    assert_eq!(run(&["audit", "verify"]).status.code(), Some(0));
    log.store().audit_append(&AuditEvent::DaemonStop { reason: "x".into() }).expect("append");
    assert_eq!(run(&["audit", "verify"]).status.code(), Some(1));
    assert_eq!(run(&["audit", "verify", "--allow-unsigned-tail"]).status.code(), Some(0));
    assert!(run(&["audit", "checkpoint"]).status.success());
    let o = run(&["audit", "verify", "--json"]);
    assert_eq!(o.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["holds"], true);
    // CSV export verifies.
    let csv = dir.join("export.csv");
    assert!(run(&["audit", "export", "--format", "csv", "--from", "2000-01-01", "--out", csv.to_str().expect("p")]).status.success());
    assert_eq!(bin().args(["audit", "verify"]).arg(&csv).status().expect("runs").code(), Some(0));
    // Prune with an archive; the archive and the rest verify.
    let archive = dir.join("archive.jsonl");
    let t6 = entry_row(&log, 6).time;
    let o = run(&["audit", "prune", "--before", &t6, "--archive", archive.to_str().expect("p")]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(bin().args(["audit", "verify"]).arg(&archive).status().expect("runs").code(), Some(0));
    assert_eq!(run(&["audit", "verify"]).status.code(), Some(0));
    // A tampered database: exit 1.
    log.sql("DELETE FROM audit_entries WHERE seq = 8");
    assert_eq!(run(&["audit", "verify"]).status.code(), Some(1));
}

#[test]
fn cli_verify_logs_who_asked() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let db = tmp.path().join("idcheck.db");
    let s = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/samples");
    let o = bin()
        .args(["verify", "--json", "--record"])
        .arg(s.join("pass-case/acceptance/451022202404011140"))
        .arg("--surface")
        .arg(s.join("pass-case/surface/QC-20240408-9308"))
        .arg("--chip")
        .arg(s.join("pass-case/chip"))
        .arg("--trust")
        .arg(s.join("trust"))
        .arg("--db")
        .arg(&db)
        .output()
        .expect("runs");
    assert_eq!(o.status.code(), Some(0));
    let store = Store::open(&db).expect("open");
    let r = audit::verify_db(&store, &VerifyOptions::default());
    assert!(r.intact(), "{r:#?}");
    assert_eq!(r.entries, 1);
    let c = rusqlite::Connection::open(&db).expect("sqlite");
    let payload: String = c.query_row("SELECT payload FROM audit_entries WHERE seq = 1", [], |r| r.get(0)).expect("entry");
    let v: Value = serde_json::from_str(&payload).expect("json");
    assert!(v["requested_by"].as_str().is_some_and(|w| w.starts_with("cli:")), "{v}");
    assert_eq!(v["status"], "pass");
    let names: Vec<&str> = v["inputs"].as_array().expect("inputs").iter().filter_map(|i| i["name"].as_str()).collect();
    assert!(names.len() >= 5, "every input hashed: {names:?}");
}

/// Record directories with distinct application ids, copied from the sample.
fn many_records(dir: &Path, n: usize) {
    let src = sample_dir();
    let json = std::fs::read_to_string(src.join("record.json")).expect("record");
    for i in 0..n {
        let id = format!("45102220240401{i:04}");
        let d = dir.join(&id);
        std::fs::create_dir_all(&d).expect("dir");
        for f in ["photo.jpg", "fp1.iso", "fp2.iso"] {
            std::fs::copy(src.join(f), d.join(f)).expect("copy");
        }
        std::fs::write(d.join("record.json"), json.replace("451022202404011140", &id)).expect("write");
    }
}

#[test]
fn sigkill_during_imports_leaves_a_chain_that_verifies() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let db = tmp.path().join("idcheck.db");
    let recs = tmp.path().join("records");
    many_records(&recs, 400);
    let mut killed_mid_run = 0;
    for (round, delay_ms) in [120u64, 260, 400, 90, 330].into_iter().enumerate() {
        let mut child = bin().args(["records", "import"]).arg(&recs).arg("--db").arg(&db)
            .stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().expect("spawn");
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        if child.try_wait().expect("wait").is_none() {
            killed_mid_run += 1;
        }
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGKILL);
        let _ = child.wait();
        let store = Store::open(&db).expect("reopens after SIGKILL");
        let r = audit::verify_db(&store, &VerifyOptions::default());
        assert!(r.intact(), "round {round}: {r:#?}");
        // Completeness: every stored record has its import entry.
        let c = rusqlite::Connection::open(&db).expect("sqlite");
        let records: i64 = c.query_row("SELECT count(*) FROM records", [], |r| r.get(0)).expect("count");
        let logged: i64 = c
            .query_row("SELECT count(DISTINCT json_extract(payload, '$.application_id')) FROM audit_entries WHERE kind = 'record_import'", [], |r| r.get(0))
            .expect("count");
        assert_eq!(records, logged, "round {round}");
        if round == 2 {
            let key = StationKey::load_or_create(&tmp.path().join("station-key.pk8")).expect("key");
            store.audit_checkpoint(&key).expect("checkpoint");
        }
    }
    assert!(killed_mid_run >= 1, "at least one import was killed while running");
}

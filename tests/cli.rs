//! The `idcheck` binary as a user runs it: exit codes, JSON output, the store.
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the failure

use std::path::PathBuf;
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_idcheck"))
}

fn sample() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/samples")
}

#[test]
fn verify_json_pass_and_store() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let db = tmp.path().join("idcheck.db");
    let s = sample();
    let out = bin()
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
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(v["status"], "pass");
    assert_eq!(v["causes"], serde_json::json!([]));
    assert!(v["primary"].is_null());
    assert!(v["findings"].as_array().is_some_and(|f| f.is_empty()));
    assert!(v["advice"].as_str().is_some_and(|a| a.contains("handed over")));

    // The verdict was stored with input hashes, and no raw biometrics.
    let list = bin().args(["verifications", "list", "--db"]).arg(&db).output().expect("runs");
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(text.contains("451022202404011140") && text.contains("pass"), "{text}");
    let conn = rusqlite::Connection::open(&db).expect("db");
    let blobs: i64 = conn
        .query_row("SELECT count(*) FROM verification_inputs WHERE length(sha256) = 64", [], |r| r.get(0))
        .expect("inputs table");
    assert!(blobs >= 10, "{blobs} input hashes stored");
}

#[test]
fn import_then_verify_by_id_kiosk() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let db = tmp.path().join("idcheck.db");
    let s = sample();
    let imp = bin()
        .args(["records", "import"])
        .arg(s.join("pass-case/acceptance"))
        .arg("--db")
        .arg(&db)
        .output()
        .expect("runs");
    assert_eq!(imp.status.code(), Some(0), "{}", String::from_utf8_lossy(&imp.stderr));
    // The audit log says who imported the record.
    let export = bin().args(["audit", "export", "--no-sign", "--db"]).arg(&db).env("USER", "qc-operator").output().expect("runs");
    assert_eq!(export.status.code(), Some(0), "{}", String::from_utf8_lossy(&export.stderr));
    let import_entry = String::from_utf8_lossy(&export.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json line"))
        .find(|e| e["kind"] == "record_import")
        .expect("a record_import entry");
    assert!(import_entry["payload"]["by"].as_str().is_some_and(|b| b.starts_with("cli:")), "{import_entry}");
    let out = bin()
        .args(["verify", "--record", "451022202404011140", "--chip"])
        .arg(s.join("pass-case/chip"))
        .arg("--trust")
        .arg(s.join("trust"))
        .env("IDCHECK_DB", &db)
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("PASS") && text.contains("not checked"), "{text}");
}

#[test]
fn exit_codes_for_bad_invocations() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let db = tmp.path().join("x.db");
    // usage error
    let o = bin().args(["verify", "--bogus"]).output().expect("runs");
    assert_eq!(o.status.code(), Some(64));
    // a record that exists nowhere
    let o = bin()
        .args(["verify", "--record", "nope", "--chip", "/nonexistent", "--db"])
        .arg(&db)
        .output()
        .expect("runs");
    assert_eq!(o.status.code(), Some(66), "{}", String::from_utf8_lossy(&o.stderr));
    // a malformed record directory: names the file and the field
    let bad = tmp.path().join("bad");
    std::fs::create_dir_all(&bad).expect("mkdir");
    std::fs::write(bad.join("record.json"), br#"{"application_id": 5}"#).expect("write");
    let o = bin()
        .args(["verify", "--record"])
        .arg(&bad)
        .args(["--chip"])
        .arg(sample().join("pass-case/chip"))
        .arg("--db")
        .arg(&db)
        .output()
        .expect("runs");
    assert_eq!(o.status.code(), Some(65));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("record.json"), "{err}");
    // no trust anchors: unavailable, never invalid
    let s = sample();
    let o = bin()
        .args(["verify", "--record"])
        .arg(s.join("pass-case/acceptance/451022202404011140"))
        .arg("--chip")
        .arg(s.join("pass-case/chip"))
        .arg("--db")
        .arg(&db)
        .output()
        .expect("runs");
    assert_eq!(o.status.code(), Some(2), "{}", String::from_utf8_lossy(&o.stdout));
}

#[test]
fn fingerprint_and_photo_compare_commands() {
    let s = sample().join("pass-case");
    let o = bin()
        .args(["fingerprint", "compare", "--json"])
        .arg(s.join("acceptance/451022202404011140/fp1.iso"))
        .arg(format!("{}#1", s.join("chip").display()))
        .output()
        .expect("runs");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["same"], true, "{v}");
    assert_eq!(o.status.code(), Some(0));
    // A chip slot: the card threshold decides; both are shown.
    assert_eq!(v["case"], "card", "{v}");
    assert_eq!(v["threshold"], v["card"]["threshold"], "{v}");
    assert!(v["card"]["threshold"].as_f64() > v["two_impressions"]["threshold"].as_f64(), "{v}");
    // Two ISO files that score between the two thresholds: auto is two impressions (same
    // finger), --case card says different.
    let (a, b) = (fvc("DB3_B", 101, 1), fvc("DB3_B", 101, 2));
    let run = |extra: &[&str]| {
        let o = bin().args(["fingerprint", "compare", "--json"]).args(extra).arg(&a).arg(&b).output().expect("runs");
        (o.status.code(), serde_json::from_slice::<serde_json::Value>(&o.stdout).expect("json"))
    };
    let (code, v) = run(&[]);
    let score = v["score"].as_f64().expect("score");
    let (two, card) = (v["two_impressions"]["threshold"].as_f64().expect("t"), v["card"]["threshold"].as_f64().expect("t"));
    assert!(two <= score && score < card, "pick another pair: {v}");
    assert_eq!((code, &v["case"], &v["same"]), (Some(0), &serde_json::json!("two_impressions"), &serde_json::json!(true)), "{v}");
    let (code, v) = run(&["--case", "card"]);
    assert_eq!((code, &v["case"], &v["same"]), (Some(1), &serde_json::json!("card"), &serde_json::json!(false)), "{v}");
    let o = bin()
        .args(["fingerprint", "compare", "--json"])
        .arg(s.join("acceptance/451022202404011140/fp1.iso"))
        .arg(format!("{}#2", s.join("chip").display()))
        .output()
        .expect("runs");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["same"], false, "{v}");
    assert_eq!(o.status.code(), Some(1));

    let o = bin()
        .args(["photo", "compare", "--json", "--kind", "printed-vs-acceptance"])
        .arg(s.join("acceptance/451022202404011140/photo.jpg"))
        .arg(s.join("surface/QC-20240408-9308/front.png"))
        .output()
        .expect("runs");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["same"], true, "{v}");
}

/// `photo compare` takes the chip's face as it is on the chip: a dg2.bin file or a chip image
/// directory (JPEG or JPEG 2000 in DG2), and says which file is wrong when it is not a photo.
#[test]
fn photo_compare_reads_the_chip_face_from_dg2() {
    let s = sample().join("pass-case");
    let acceptance = s.join("acceptance/451022202404011140/photo.jpg");
    let run = |a: &std::path::Path, b: &std::path::Path| {
        let o = bin().args(["photo", "compare", "--json"]).arg(a).arg(b).output().expect("runs");
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or(serde_json::Value::Null);
        (o.status.code(), v, String::from_utf8_lossy(&o.stderr).into_owned())
    };
    for chip in [s.join("chip"), s.join("chip/dg2.bin")] {
        let (code, v, err) = run(&acceptance, &chip);
        assert_eq!(code, Some(0), "{} {v} {err}", chip.display());
        assert_eq!(v["same"], true, "{v}");
    }
    // another person's acceptance photo against this chip: different
    let other = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/faces/A000022.jpg");
    let (code, v, err) = run(&other, &s.join("chip"));
    assert_eq!(code, Some(1), "{v} {err}");
    assert_eq!(v["same"], false, "{v}");

    // a DG2 holding JPEG 2000 decodes through the lds layer; a DG2 cut short is a data error
    // naming the file
    let tmp = tempfile::tempdir().expect("tempdir");
    let j2k = std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/lds/face-24x32.jp2")).expect("jp2");
    let face = idcheck_core::lds::FaceImage {
        format: idcheck_core::lds::ImageFormat::Jpeg2000,
        width: 24,
        height: 32,
        data: idcheck_core::model::Biometric(j2k),
    };
    let dg2 = tmp.path().join("dg2.bin");
    std::fs::write(&dg2, idcheck_core::lds::encode_dg2(&face)).expect("write dg2");
    let (code, v, err) = run(&dg2, &dg2);
    assert_eq!(code, Some(0), "{v} {err}");
    assert!(v["distance"].as_f64().is_some_and(|d| d < 1e-6), "the same image: {v}");
    let good = std::fs::read(s.join("chip/dg2.bin")).expect("dg2");
    std::fs::write(&dg2, &good[..good.len() / 2]).expect("write");
    let (code, _, err) = run(&acceptance, &dg2);
    assert_eq!(code, Some(65), "{err}");
    assert!(err.contains("dg2.bin") && err.contains("tag 75"), "{err}");
}

fn fvc(db: &str, finger: u32, impression: u32) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("fixtures/fingerprints/fvc2002/{db}/{finger}_{impression}.iso"))
}

/// `fingerprint eval` on one real FVC2002 database: error rates within the issue's targets, every
/// re-encoded template matches its original and no other finger.
#[test]
fn fingerprint_eval_on_fvc2002_db2() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/fingerprints/fvc2002/DB2_B");
    let out = bin().args(["fingerprint", "eval", "--json"]).arg(&dir).output().expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(v["templates"], 80);
    assert_eq!(v["fingers"], 10);
    let g = &v["two_impressions"]["groups"][0];
    assert_eq!(g["genuine_pairs"], 280);
    assert_eq!(g["impostor_pairs"], 2880);
    let eer = g["eer"].as_f64().expect("eer");
    assert!(eer > 0.0 && eer <= 0.025, "EER {eer}");
    let points: Vec<f64> = g["operating_points"].as_array().expect("points").iter().map(|p| p["fmr_target"].as_f64().expect("target")).collect();
    assert_eq!(points, vec![0.01, 0.001, 0.0001]);
    let card = &v["card"]["check"];
    for kind in ["chip", "compact"] {
        assert_eq!(card[kind]["own"]["templates"], 80, "{kind}: {}", card[kind]);
        assert_eq!(card[kind]["own"]["missed"], 0, "{kind}: {}", card[kind]);
        assert_eq!(card[kind]["other_fingers"]["comparisons"], 80 * 72, "{kind}: {}", card[kind]);
        assert_eq!(card[kind]["other_fingers"]["accepted"], 0, "{kind}: {}", card[kind]);
    }
    assert_eq!(card["other_fingers"]["comparisons"], 2880 + 2 * 80 * 72);
    assert!(card["margins"]["own"].as_f64().is_some_and(|m| m > 0.0) && card["margins"]["other"].as_f64().is_some_and(|m| m > 0.0), "{card}");
    assert!(v["card"]["thresholds"]["threshold"].as_f64() > v["two_impressions"]["thresholds"]["threshold"].as_f64());
    assert!(v["speed"]["comparisons_per_second"].as_f64().is_some_and(|c| c > 0.0));
}

/// `fingerprint search` over a batch of records ranks the record whose finger the probe is first,
/// also for another impression of that finger, and names the finger.
#[test]
fn fingerprint_search_finds_whose_finger_it_is() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let src = sample().join("pass-case/acceptance/451022202404011140");
    let record: serde_json::Value = serde_json::from_slice(&std::fs::read(src.join("record.json")).expect("record")).expect("json");
    for i in 0..5u32 {
        let id = format!("45102220240401120{i}");
        let dir = tmp.path().join(&id);
        std::fs::create_dir_all(&dir).expect("dir");
        let mut r = record.clone();
        r["application_id"] = serde_json::Value::String(id);
        std::fs::write(dir.join("record.json"), serde_json::to_vec_pretty(&r).expect("json")).expect("write");
        std::fs::copy(src.join("photo.jpg"), dir.join("photo.jpg")).expect("photo");
        std::fs::copy(fvc("DB1_B", 101 + 2 * i, 1), dir.join("fp1.iso")).expect("fp1");
        std::fs::copy(fvc("DB1_B", 102 + 2 * i, 1), dir.join("fp2.iso")).expect("fp2");
    }
    let search = |probe: PathBuf| -> serde_json::Value {
        let out = bin().args(["fingerprint", "search", "--json", "--top", "3", "--records"]).arg(tmp.path()).arg(&probe).output().expect("runs");
        assert!(out.status.code().is_some_and(|c| c <= 1), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("one JSON object")
    };
    // The very template of record 3's second finger: score 1, a match.
    let v = search(fvc("DB1_B", 108, 1));
    assert_eq!(v["fingers_searched"], 10);
    // An ISO file probe: the two-impressions question (auto).
    assert_eq!(v["case"], "two_impressions", "{v}");
    let top = &v["candidates"][0];
    assert_eq!(top["application_id"], "451022202404011203", "{v}");
    assert_eq!(top["fingerprint"], 2, "{v}");
    assert_eq!(top["score"], 1.0, "{v}");
    // Another impression of record 1's first finger ranks that record first.
    let v = search(fvc("DB1_B", 103, 4));
    assert_eq!(v["candidates"][0]["application_id"], "451022202404011201", "{v}");
    assert_eq!(v["candidates"][0]["fingerprint"], 1, "{v}");
}

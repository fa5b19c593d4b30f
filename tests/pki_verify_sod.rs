//! `idcheck pki verify-sod` as staff and auditors run it: the sample card's EF.SOD, a data group
//! that does not match, no trust anchor, a revoked document signer, a required CRL that is
//! missing, bytes that are no EF.SOD, and bad arguments. Exit codes and the JSON contract.
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the failure

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use time::macros::datetime;

use idcheck_core::pki::trust::pem_encode;
use idcheck_core::pki::DigestAlg;
use idcheck_testkit::testpki::TestPki;

fn samples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/samples")
}

fn run(args: &[&str], extra: &[&Path]) -> (Option<i32>, Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_idcheck")).args(["pki", "verify-sod"]).args(args).args(extra).output().expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let v = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (out.status.code(), v, format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn the_sample_card_passes_every_step() {
    let s = samples();
    let chip = s.join("pass-case/chip");
    let trust = s.join("trust");
    let (code, v, all) = run(&["--json", "--at", "2024-04-08", "--chip"], &[&chip, Path::new("--trust"), &trust]);
    assert_eq!(code, Some(0), "{all}");
    assert_eq!(v["parsed"], true);
    assert_eq!(v["digest_algorithm"], "sha-1");
    assert_eq!(v["signature_algorithm"], "ecdsa-with-sha256");
    assert_eq!(v["curve"], "P-256");
    assert_eq!(v["signature"], "ok");
    assert_eq!(v["chain"], "ok");
    assert!(v["error"].is_null());
    let dgs = v["data_groups"].as_object().expect("object");
    assert_eq!(dgs.len(), 6);
    let at = |k: &str| all.find(&format!("\"{k}\": ")).unwrap_or_else(|| panic!("dg {k} in {all}"));
    assert!(at("1") < at("2") && at("3") < at("11"), "data groups in numeric order: {all}");
    assert!(dgs.values().all(|s| s == "ok"), "{dgs:?}");
    assert_eq!(v["revocation"][0]["status"], "not_checked");

    // Readable output names each step.
    let (code, _, text) = run(&["--at", "2024-04-08", "--chip"], &[&chip, Path::new("--trust"), &trust]);
    assert_eq!(code, Some(0));
    for want in ["parsed (DER)", "ecdsa-with-sha256 on P-256: ok", "dg13 ok", "chain             ok: ", "first failure     none"] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
}

#[test]
fn a_wrong_data_group_and_no_trust_are_named() {
    let s = samples();
    let sod = s.join("pass-case/chip/sod.bin");
    let dg2 = s.join("pass-case/chip/dg2.bin");
    let spec = format!("1={}", dg2.display());
    let (code, v, all) = run(&["--json", "--dg", &spec], &[&sod]);
    assert_eq!(code, Some(1), "{all}");
    assert_eq!(v["data_groups"]["1"], "mismatch");
    assert_eq!(v["data_groups"]["2"], "not_given");
    assert_eq!(v["signature"], "ok", "the signature is checked all the same");
    assert_eq!(v["chain"], "untrusted");
    assert_eq!(v["failed_step"], "dg_hash");
    assert!(v["error"].as_str().is_some_and(|e| e.starts_with("dg1 hash differs")), "{}", v["error"]);

    // The EF.SOD alone against its trust anchor: nothing given is no failure.
    let trust = s.join("trust");
    let (code, v, all) = run(&["--json", "--trust"], &[&trust, &sod]);
    assert_eq!(code, Some(0), "{all}");
    assert!(v["data_groups"].as_object().expect("object").values().all(|s| s == "not_given"));
}

#[test]
fn revoked_signer_and_required_crl() {
    let pki = TestPki::generate(61, "CN");
    let dgs: Vec<(u8, &[u8])> = vec![(1, b"\x61\x01\x00"), (2, b"\x75\x01\x00")];
    let tmp = tempfile::tempdir().expect("tempdir");
    let sod = tmp.path().join("sod.bin");
    std::fs::write(&sod, pki.sign_sod(DigestAlg::Sha256, &dgs, datetime!(2024-04-08 03:00:00 UTC))).expect("write");
    let trust = tmp.path().join("trust");
    std::fs::create_dir(&trust).expect("mkdir");
    std::fs::write(trust.join("csca.pem"), pem_encode("CERTIFICATE", &pki.csca.der)).expect("write");

    let (code, v, all) = run(&["--json", "--at", "2024-04-08", "--revocation", "require", "--trust"], &[&trust, &sod]);
    assert_eq!(code, Some(2), "revocation unknown: the card is not judged\n{all}");
    assert_eq!(v["chain"], "unknown");
    assert_eq!(v["failed_step"], "revocation_unknown");

    let crl = pki
        .issue_crl(&[(&pki.ds.serial, datetime!(2024-03-01 00:00:00 UTC))], datetime!(2024-04-01 00:00:00 UTC), datetime!(2024-07-01 00:00:00 UTC), 2)
        .expect("crl");
    std::fs::write(trust.join("cn.crl"), crl).expect("write");
    let (code, v, all) = run(&["--json", "--at", "2024-04-08", "--trust"], &[&trust, &sod]);
    assert_eq!(code, Some(1), "{all}");
    assert_eq!(v["chain"], "revoked");
    assert!(v["error"].as_str().is_some_and(|e| e.contains(&pki.ds.serial_hex()) && e.contains("2024-03-01")), "{}", v["error"]);

    // After the CSCA's validity, the chain is expired.
    let (code, v, _) = run(&["--json", "--at", "2046-01-01", "--trust"], &[&trust, &sod]);
    assert_eq!((code, v["chain"].as_str()), (Some(1), Some("expired")));
}

#[test]
fn bytes_that_are_no_sod_and_bad_arguments() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let junk = tmp.path().join("junk.bin");
    std::fs::write(&junk, b"\x77\x03\x30\x01\x00").expect("write");
    let (code, v, all) = run(&["--json"], &[&junk]);
    assert_eq!(code, Some(1), "{all}");
    assert_eq!(v["parsed"], false);
    assert!(v["signature"].is_null());
    assert!(v["error"].as_str().is_some_and(|e| e.starts_with("ef.sod cannot be parsed")), "{}", v["error"]);

    let (code, _, all) = run(&["--dg", "x"], &[&junk]);
    assert_eq!(code, Some(64), "{all}");
    assert!(all.contains("expected N=FILE"), "{all}");
    let (code, _, all) = run(&["--dg", "17=/dev/null"], &[&junk]);
    assert_eq!(code, Some(64), "{all}");
    let (code, _, all) = run(&["--at", "yesterday"], &[&junk]);
    assert_eq!(code, Some(64), "{all}");
    let (code, _, all) = run(&[], &[&tmp.path().join("missing.bin")]);
    assert_eq!(code, Some(66), "{all}");
}

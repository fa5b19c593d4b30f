//! The daemon when pcscd dies mid-run: verifications answer `unavailable` (never cause 3), the
//! health says why, and once pcscd is back the daemon recovers by itself within 5 s (readers
//! re-seen, a card verified again). One test in its own binary: it stops the pcscd that every
//! other test needs.
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the failure

mod daemon_common;
mod pcsc_common;

use std::process::Command;
use std::time::{Duration, Instant};

use daemon_common::*;
use idcheck_testkit::emulator::Faults;
use idcheck_core::lds::ChipImage;
use pcsc_common::*;
use serde_json::json;

fn ctl(path: &std::path::Path, what: &str) {
    let st = Command::new(path).arg(what).status().unwrap_or_else(|e| panic!("{} {what}: {e}", path.display()));
    assert!(st.success(), "{} {what} failed: {st}", path.display());
}

#[test]
fn pcscd_killed_and_restarted_mid_run() {
    let Some(env) = env("pcscd_killed_and_restarted_mid_run") else { return };
    let Some(ctl_path) = env.ctl.clone() else {
        panic!("IDCHECK_PCSCD_CTL unset: run under scripts/pcsc-env.sh");
    };
    let lease = lease(env, env.readers.len());
    let r = &lease.readers[0];
    let d = Daemon::start(&lease.readers[..1], Extra::default());
    d.wait_readers(1, Duration::from_secs(5));
    let sample = sample_case();
    d.import(&sample.acceptance);
    let chip = ChipImage::load_dir(&sample.chip).expect("chip");
    let emu = Emulator::start(r, chip.clone(), Faults::default());
    d.wait_card(&r.name, true, Duration::from_secs(5));
    let (code, v) = d.verify(json!({ "record_id": sample.record_id, "reader": r.name }));
    assert_eq!((code, v["verdict"]["status"].as_str()), (200, Some("pass")), "{v}");

    let client = d.client();
    let mut events = client.events().expect("events");
    ctl(&ctl_path, "stop");
    events.wait_for("service_down", Duration::from_secs(5), |_| true).expect("events").expect("service_down event");
    let (code, v) = d.verify(json!({ "record_id": sample.record_id, "reader": r.name }));
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["verdict"]["status"], "unavailable", "no pcscd must be unavailable: {v}");
    assert!(v["verdict"]["causes"].as_array().is_some_and(|c| c.is_empty()), "{v}");
    let (_, h) = d.client().get("/v1/health").expect("health");
    assert_eq!(h["status"], "unavailable", "{h}");
    assert_eq!(h["pcsc"]["up"], false, "{h}");
    drop(emu);

    ctl(&ctl_path, "start");
    let t = Instant::now();
    let _emu = Emulator::start(r, chip, Faults::default());
    // recovery: the service, the reader and the card are seen again
    loop {
        let (_, h) = d.client().get("/v1/health").expect("health");
        let (_, rd) = d.client().get("/v1/readers").expect("readers");
        let card = rd["readers"].as_array().into_iter().flatten().any(|x| x["name"] == r.name.as_str() && x["card"]["present"] == true);
        if h["status"] == "ok" && card {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(5), "no recovery within 5 s: {h} {rd}\nlog:\n{}", d.log_text());
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!("recovered {:?} after pcscd restart", t.elapsed());
    let (code, v) = d.verify(json!({ "record_id": sample.record_id, "reader": r.name }));
    assert_eq!((code, v["verdict"]["status"].as_str()), (200, Some("pass")), "{v}");
}

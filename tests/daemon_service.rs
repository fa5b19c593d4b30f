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
use idcheck_core::verdict::Status;
use idcheck::wire::{DaemonEvent, HealthStatus};
use pcsc_common::*;

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
    let v = d.verdict(&Daemon::kiosk(&sample.record_id, &r.name));
    assert_eq!(v.verdict.status, Status::Pass, "{v:?}");

    let client = d.client();
    let mut events = client.events().expect("events");
    ctl(&ctl_path, "stop");
    let down = events.wait_for("service_down", Duration::from_secs(5), |_| true).expect("events").expect("service_down event");
    assert!(matches!(down.parse::<DaemonEvent>().expect("event"), DaemonEvent::ServiceDown { .. }), "{down:?}");
    let v = d.verdict(&Daemon::kiosk(&sample.record_id, &r.name));
    assert_eq!(v.verdict.status, Status::Unavailable, "no pcscd must be unavailable: {v:?}");
    assert!(v.verdict.causes.is_empty(), "{v:?}");
    let h = d.health();
    assert_eq!(h.status, HealthStatus::Unavailable, "{h:?}");
    assert!(!h.pcsc.up, "{h:?}");
    drop(emu);

    ctl(&ctl_path, "start");
    let t = Instant::now();
    let _emu = Emulator::start(r, chip, Faults::default());
    // recovery: the service, the reader and the card are seen again
    loop {
        let h = d.health();
        let rd = d.readers();
        let card = rd.readers.iter().any(|x| x.name == r.name && x.card.present);
        if h.status == HealthStatus::Ok && card {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(5), "no recovery within 5 s: {h:?} {rd:?}\nlog:\n{}", d.log_text());
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!("recovered {:?} after pcscd restart", t.elapsed());
    let v = d.verdict(&Daemon::kiosk(&sample.record_id, &r.name));
    assert_eq!(v.verdict.status, Status::Pass, "{v:?}");
}

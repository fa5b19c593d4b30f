//! The PC/SC service going away and coming back (run under scripts/pcsc-env.sh, which provides
//! IDCHECK_PCSCD_CTL to stop and restart its private pcscd): no pcscd is `ServiceUnavailable`
//! everywhere and an `unavailable` verdict, never cause 3; an open session fails fast instead of
//! hanging; the monitor reports ServiceDown, then ServiceUp and the readers again, and stops
//! cleanly. One test, since it stops the daemon every other test needs.
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the failure

mod pcsc_common;

use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use idcheck_chip::{ReadFailure, ReadFailureKind, ReadStep, TransportError};
use idcheck_testkit::emulator::Faults;
use idcheck_pcsc::{list_readers, Monitor, MonitorOptions, PcscCard, PcscError, ReaderEvent};
use idcheck_verify::failures::{read_failure, ReadFailureClass};
use pcsc_common::*;

fn ctl(path: &std::path::Path, what: &str) {
    let st = Command::new(path).arg(what).status().unwrap_or_else(|e| panic!("{} {what}: {e}", path.display()));
    assert!(st.success(), "{} {what} failed: {st}", path.display());
}

/// Waits for an event matching `want`, returning everything seen until then.
fn wait_event(rx: &mpsc::Receiver<ReaderEvent>, within: Duration, what: &str, want: impl Fn(&ReaderEvent) -> bool) -> Vec<ReaderEvent> {
    let end = Instant::now() + within;
    let mut seen = Vec::new();
    while Instant::now() < end {
        if let Ok(e) = rx.recv_timeout(Duration::from_millis(50)) {
            let hit = want(&e);
            seen.push(e);
            if hit {
                return seen;
            }
        }
    }
    panic!("monitor: no {what} within {within:?}; saw {seen:?}");
}

#[test]
fn service_down_is_unavailable_and_monitor_recovers() {
    let Some(env) = env("service_down_is_unavailable_and_monitor_recovers") else { return };
    let Some(ctl_path) = env.ctl.clone() else {
        panic!("IDCHECK_PCSCD_CTL unset: run under scripts/pcsc-env.sh");
    };
    let lease = lease(env, env.readers.len());
    let r = lease.readers[0].clone();

    let (tx, rx) = mpsc::sync_channel(256);
    let mon = Monitor::spawn_with(tx, MonitorOptions { wait: Duration::from_millis(500), service_retry: Duration::from_millis(100) });
    for reader in &lease.readers {
        wait_event(&rx, Duration::from_secs(5), "ReaderAdded", |e| matches!(e, ReaderEvent::ReaderAdded { reader: n } if *n == reader.name));
    }

    // a session open when the service goes
    let _emu = Emulator::start(&r, pass_case_image(), Faults::default());
    let mut card = connect(&r);

    ctl(&ctl_path, "stop");
    let seen = wait_event(&rx, Duration::from_secs(5), "ServiceDown", |e| matches!(e, ReaderEvent::ServiceDown { .. }));
    for reader in &lease.readers {
        assert!(
            seen.iter().any(|e| matches!(e, ReaderEvent::ReaderRemoved { reader: n } if *n == reader.name)),
            "readers must be reported gone with the service: {seen:?}"
        );
    }

    // no service: listing, connecting and the open session all say so, quickly
    let t = Instant::now();
    let e = list_readers().unwrap_err();
    assert!(matches!(e, PcscError::ServiceUnavailable { .. }), "{e}");
    let e = PcscCard::connect(&r.name, opts()).unwrap_err();
    assert!(matches!(e, PcscError::ServiceUnavailable { .. }), "{e}");
    let te = TransportError::from(e);
    assert!(matches!(te, TransportError::ServiceUnavailable(_)), "{te:?}");
    let f = ReadFailure::from_transport(ReadStep::Connect, &te);
    assert_eq!(f.kind, ReadFailureKind::ServiceUnavailable);
    assert!(matches!(read_failure(&f), ReadFailureClass::Unavailable(_)), "no pcscd must be unavailable, not cause 3");
    let e = card.transmit_apdu(&[0x00, 0xA4, 0x04, 0x0C, 0x07, 0xA0, 0x00, 0x00, 0x02, 0x47, 0x10, 0x01]).unwrap_err();
    assert!(
        matches!(e, PcscError::ServiceUnavailable { .. } | PcscError::ReaderUnavailable { .. } | PcscError::CardRemoved { .. }),
        "an open session when pcscd goes: {e}"
    );
    assert!(t.elapsed() < Duration::from_secs(5), "failing without pcscd took {:?}", t.elapsed());

    ctl(&ctl_path, "start");
    wait_event(&rx, Duration::from_secs(10), "ServiceUp", |e| matches!(e, ReaderEvent::ServiceUp));
    for reader in &lease.readers {
        wait_event(&rx, Duration::from_secs(5), "ReaderAdded after restart", |e| matches!(e, ReaderEvent::ReaderAdded { reader: n } if *n == reader.name));
    }
    // the emulator reconnects to the new vpcd: the card is seen and readable again
    wait_event(&rx, Duration::from_secs(10), "CardInserted after restart", |e| matches!(e, ReaderEvent::CardInserted { reader, .. } if *reader == r.name));
    let mut card = connect(&r);
    let resp = card.transmit_apdu(&[0x00, 0xA4, 0x04, 0x0C, 0x07, 0xA0, 0x00, 0x00, 0x02, 0x47, 0x10, 0x01]).expect("select after restart");
    assert_eq!(resp, vec![0x90, 0x00]);

    let t = Instant::now();
    mon.stop();
    assert!(t.elapsed() < Duration::from_secs(2), "stopping the monitor took {:?}", t.elapsed());
}

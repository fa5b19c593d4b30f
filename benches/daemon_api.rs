//! Throughput of the daemon through its API: verifications per second of the real `idcheck
//! serve` with the card emulator on vpcd readers (one reader, then two in parallel), and the
//! latency split the daemon reports (wait, read, compare, store; medians). Needs the private
//! pcscd of scripts/pcsc-env.sh:
//!
//!     scripts/pcsc-env.sh --readers 2 -- cargo bench --bench daemon_api
//!
//! Without it the benchmark says so and measures nothing. Not a criterion benchmark: one
//! verification is a whole card read through pcscd, so it counts whole runs.
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the failure

#[path = "../tests/daemon_common/mod.rs"]
mod daemon_common;
#[path = "../tests/pcsc_common/mod.rs"]
mod pcsc_common;

use std::time::{Duration, Instant};

use daemon_common::*;
use idcheck_testkit::emulator::Faults;
use idcheck_core::lds::ChipImage;
use idcheck_core::verdict::Status;
use idcheck::wire::{JobVerdict, Timing};

const PER_READER: usize = 60;

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        return f64::NAN;
    }
    v[v.len() / 2]
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let Some(env) = pcsc_common::env("daemon_api bench") else {
        println!("daemon_api: skipped (run under scripts/pcsc-env.sh --readers 2)");
        return;
    };
    let kiosk = committed_case("pass-kiosk");
    let chip = ChipImage::load_dir(&kiosk.chip).expect("chip");
    for n in 1..=env.readers.len().min(2) {
        let lease = pcsc_common::lease(env, n);
        let d = Daemon::start(&lease.readers, Extra::default());
        d.wait_readers(n, Duration::from_secs(5));
        d.import(&kiosk.acceptance);
        let _emus: Vec<_> = lease.readers.iter().map(|r| pcsc_common::Emulator::start(r, chip.clone(), Faults::default())).collect();
        for r in &lease.readers {
            d.wait_card(&r.name, true, Duration::from_secs(5));
        }
        // warm-up
        for r in &lease.readers {
            d.verdict(&Daemon::kiosk(&kiosk.record_id, &r.name));
        }
        let t0 = Instant::now();
        let threads: Vec<_> = lease
            .readers
            .iter()
            .map(|r| {
                let (socket, rec, reader) = (d.socket.clone(), kiosk.record_id.clone(), r.name.clone());
                std::thread::spawn(move || {
                    let c = idcheck::daemon::client::Client::new(&socket).expect("client");
                    let mut t = Vec::new();
                    for _ in 0..PER_READER {
                        let (code, v) = c.call::<JobVerdict>(hyper::Method::POST, "/v1/verifications", Some(&Daemon::kiosk(&rec, &reader))).expect("post");
                        assert_eq!(code.as_u16(), 200, "{v:?}");
                        assert_eq!(v.verdict.status, Status::Pass, "{v:?}");
                        t.push(v.timing);
                    }
                    t
                })
            })
            .collect();
        let timings: Vec<_> = threads.into_iter().flat_map(|h| h.join().expect("thread")).collect();
        let wall = t0.elapsed().as_secs_f64();
        let total = timings.len();
        let split = |k: fn(&Timing) -> f64| median(&mut timings.iter().map(k).collect::<Vec<_>>());
        println!(
            "daemon_api: {n} reader(s): {total} verifications in {wall:.2} s = {:.1} verifications/s; medians ms: wait {:.2}, read {:.1}, compare {:.2}, store {:.2}, total {:.1}",
            total as f64 / wall,
            split(|t| t.wait_ms),
            split(|t| t.read_ms),
            split(|t| t.compare_ms),
            split(|t| t.store_ms),
            split(|t| t.total_ms),
        );
    }
}

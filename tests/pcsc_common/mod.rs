//! Shared harness of the PC/SC integration tests (tests/pcsc_*.rs): finds the private pcscd and
//! vpcd readers that scripts/pcsc-env.sh sets up (IDCHECK_VPCD_PORTS / IDCHECK_VPCD_READERS),
//! hands readers out one test at a time (each vpcd port takes one virtual card), and runs the
//! card emulator on a thread of its own, connected to a reader's vpcd port.
//!
//! Without the environment the tests fail (a run must not pass silently without the PC/SC path),
//! unless the caller opts out with IDCHECK_SKIP_PCSC=1: then they are skipped with a message.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use idcheck_testkit::emulator::{self, CardConfig, Event, Faults, VirtualCard, VpcdOptions};
use idcheck_core::lds::ChipImage;
use idcheck_pcsc::{list_readers, ConnectOptions, PcscCard};

/// One vpcd reader of the private pcscd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reader {
    pub port: u16,
    pub name: String,
}

#[derive(Debug)]
pub struct Env {
    pub readers: Vec<Reader>,
    /// scripts/pcsc-env.sh's control script: `stop` / `start` the private pcscd.
    pub ctl: Option<PathBuf>,
}

/// The PC/SC environment, or `None` (after a message) when the test must be skipped.
pub fn env(test: &str) -> Option<&'static Env> {
    static ENV: OnceLock<Option<Env>> = OnceLock::new();
    let e = ENV.get_or_init(|| {
        let ports = std::env::var("IDCHECK_VPCD_PORTS").ok().filter(|s| !s.trim().is_empty())?;
        let names = std::env::var("IDCHECK_VPCD_READERS").unwrap_or_default();
        let names: Vec<&str> = names.split(',').collect();
        let readers = ports
            .split(',')
            .enumerate()
            .map(|(i, p)| Reader {
                port: p.trim().parse().unwrap_or_else(|_| panic!("IDCHECK_VPCD_PORTS: '{p}' is not a port")),
                name: names.get(i).map(|s| s.to_string()).unwrap_or_default(),
            })
            .collect();
        Some(Env { readers, ctl: std::env::var_os("IDCHECK_PCSCD_CTL").map(PathBuf::from) })
    });
    match e {
        Some(e) => Some(e),
        None => {
            if std::env::var("IDCHECK_SKIP_PCSC").as_deref() != Ok("1") {
                panic!(
                    "{test}: IDCHECK_VPCD_PORTS is unset: run the PC/SC tests through \
                     scripts/pcsc-env.sh --readers 2 -- cargo test ..., or skip them with IDCHECK_SKIP_PCSC=1"
                );
            }
            // written to the stderr handle, not through eprintln!, so the test harness does not
            // swallow it: a skip must be visible
            static SAID: OnceLock<()> = OnceLock::new();
            SAID.get_or_init(|| {
                use std::io::Write;
                let _ = writeln!(
                    std::io::stderr(),
                    "SKIPPED PC/SC integration tests (first: {test}): IDCHECK_VPCD_PORTS unset; run them with \
                     scripts/pcsc-env.sh --readers 2 -- cargo test --test <name> (skipped because IDCHECK_SKIP_PCSC=1)"
                );
            });
            None
        }
    }
}

// ------------------------------------------------------------------------------- reader pool

struct Pool {
    busy: Mutex<Vec<bool>>,
    freed: Condvar,
}

fn pool(n: usize) -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| Pool { busy: Mutex::new(vec![false; n]), freed: Condvar::new() })
}

/// Readers held by one test; given back on drop.
pub struct Lease {
    pub readers: Vec<Reader>,
    idx: Vec<usize>,
    n: usize,
}

impl Drop for Lease {
    fn drop(&mut self) {
        let p = pool(self.n);
        let mut b = p.busy.lock().unwrap_or_else(|e| e.into_inner());
        for &i in &self.idx {
            b[i] = false;
        }
        p.freed.notify_all();
    }
}

/// Takes `k` readers at once (waits while other tests hold them).
pub fn lease(env: &Env, k: usize) -> Lease {
    let n = env.readers.len();
    assert!(k <= n, "test needs {k} readers, the environment has {n} (scripts/pcsc-env.sh --readers {k})");
    let p = pool(n);
    let mut b = p.busy.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let free: Vec<usize> = (0..n).filter(|&i| !b[i]).collect();
        if free.len() >= k {
            let idx: Vec<usize> = free.into_iter().take(k).collect();
            for &i in &idx {
                b[i] = true;
            }
            return Lease { readers: idx.iter().map(|&i| env.readers[i].clone()).collect(), idx, n };
        }
        b = p.freed.wait(b).unwrap_or_else(|e| e.into_inner());
    }
}

// ------------------------------------------------------------------------------- emulator

/// An emulator serving one card on one vpcd port, on a thread; stopped (connection closed, i.e.
/// card removed) on drop.
pub struct Emulator {
    reader: Reader,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<emulator::ServeReport>>,
    pub events: Arc<Mutex<Vec<Event>>>,
}

impl Emulator {
    pub fn start(reader: &Reader, image: ChipImage, faults: Faults) -> Emulator {
        Emulator::start_with(reader, image, faults, CardConfig::default())
    }

    pub fn start_with(reader: &Reader, image: ChipImage, faults: Faults, config: CardConfig) -> Emulator {
        let mut card = VirtualCard::with_config(image, faults, config).expect("virtual card");
        let stop = Arc::new(AtomicBool::new(false));
        let events = Arc::new(Mutex::new(Vec::new()));
        let opts = VpcdOptions {
            addr: format!("127.0.0.1:{}", reader.port),
            reconnect_delay: Duration::from_millis(100),
            ..VpcdOptions::default()
        };
        let (s2, e2) = (stop.clone(), events.clone());
        let thread = std::thread::Builder::new()
            .name(format!("emulator-{}", reader.port))
            .spawn(move || {
                emulator::serve(&mut card, &opts, &s2, &mut |e| {
                    if let Ok(mut v) = e2.lock() {
                        if v.len() < 100_000 {
                            v.push(e.clone());
                        }
                    }
                })
                .expect("emulator serve")
            })
            .expect("spawn emulator");
        Emulator { reader: reader.clone(), stop, thread: Some(thread), events }
    }

    /// Stops the emulator (the card leaves the reader) and returns its report.
    pub fn stop(mut self) -> emulator::ServeReport {
        self.stop_inner().unwrap_or_default()
    }

    fn stop_inner(&mut self) -> Option<emulator::ServeReport> {
        self.stop.store(true, Ordering::SeqCst);
        let t = self.thread.take()?;
        let report = t.join().ok();
        // pcscd notices the card left at its next presence poll: wait for it, so the next test on
        // this reader does not connect to the stale card
        wait_card(&self.reader, false, Duration::from_secs(5));
        report
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.stop_inner();
    }
}

// ------------------------------------------------------------------------------- helpers

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn pass_case_image() -> ChipImage {
    ChipImage::load_dir(&repo().join("fixtures/samples/pass-case/chip")).expect("pass-case chip image")
}

/// Waits until pcscd shows the reader with (`present`) or without a card.
pub fn wait_card(reader: &Reader, present: bool, within: Duration) -> bool {
    let end = Instant::now() + within;
    loop {
        if let Ok(list) = list_readers() {
            if list.iter().any(|r| r.name == reader.name && r.card_present == present && (!present || r.atr.is_some())) {
                return true;
            }
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Test connect options: short exchange deadline, waits for the card to be seen.
pub fn opts() -> ConnectOptions {
    ConnectOptions {
        exchange_timeout: Duration::from_secs(3),
        connect_timeout: Duration::from_secs(5),
        wait_for_card: Duration::from_secs(5),
        ..ConnectOptions::default()
    }
}

pub fn connect(reader: &Reader) -> PcscCard {
    PcscCard::connect(&reader.name, opts()).unwrap_or_else(|e| panic!("connect to '{}': {e}", reader.name))
}

/// Runs `f` and fails the test if it takes longer than `limit` (a hang is a failure, not a stuck
/// test run): `f` runs on its own thread.
pub fn within<T: Send + 'static>(what: &str, limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    let t = std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(v) => {
            let _ = t.join();
            v
        }
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => panic!("{what}: still running after {limit:?} (a hang)"),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            // the closure panicked: re-raise its panic
            match t.join() {
                Err(p) => std::panic::resume_unwind(p),
                Ok(()) => panic!("{what}: ended without a result"),
            }
        }
    }
}

pub fn path_str(p: &Path) -> String {
    p.display().to_string()
}

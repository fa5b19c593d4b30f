//! Harness of the daemon tests (tests/daemon*.rs): a real `idcheck serve` process with a
//! temporary configuration, store and socket, limited to the readers a test leased from the
//! private pcscd (tests/pcsc_common), driven with the project's HTTP client over the Unix socket.
//! Cards are the in-process emulator of pcsc_common on the leased vpcd ports.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use idcheck::daemon::client::{Client, ClientError};
use idcheck::wire::{Health, ImportRequest, ImportResult, JobVerdict, Readers, VerificationRequest};
use serde_json::Value;

use crate::pcsc_common::{repo, Reader};

/// One running daemon and its files.
pub struct Daemon {
    pub dir: PathBuf,
    pub config: PathBuf,
    pub socket: PathBuf,
    pub db: PathBuf,
    pub log: PathBuf,
    child: Option<Child>,
}

/// Extra configuration lines, appended to the sections the harness writes.
#[derive(Default, Clone)]
pub struct Extra {
    pub readers: String,
    pub jobs: String,
    pub store: String,
}

/// A trust directory holding both test CSCAs (the independent sample's and the committed cases').
pub fn trust_dir(dir: &Path) -> PathBuf {
    let t = dir.join("trust");
    std::fs::create_dir_all(&t).expect("trust dir");
    for (src, name) in [("fixtures/samples/trust", "sample"), ("fixtures/cases/trust", "cases")] {
        for e in std::fs::read_dir(repo().join(src)).expect("trust fixtures") {
            let p = e.expect("entry").path();
            if p.is_file() {
                let file = format!("{name}-{}", p.file_name().and_then(|n| n.to_str()).unwrap_or("x"));
                std::fs::copy(&p, t.join(file)).expect("copy trust");
            }
        }
    }
    t
}

impl Daemon {
    /// Writes the configuration into a fresh temporary directory and starts the daemon.
    pub fn start(readers: &[Reader], extra: Extra) -> Daemon {
        let dir = tempfile::Builder::new().prefix("idcheck-daemon-").tempdir().expect("tempdir").keep();
        Daemon::start_in(dir, readers, extra)
    }

    pub fn start_in(dir: PathBuf, readers: &[Reader], extra: Extra) -> Daemon {
        let trust = trust_dir(&dir);
        let names: Vec<String> = readers.iter().map(|r| format!("{:?}", r.name)).collect();
        let config = dir.join("idcheck.toml");
        let socket = dir.join("api.sock");
        let db = dir.join("idcheck.db");
        let text = format!(
            "[store]\ndatabase = {db:?}\nstate_dir = {state:?}\nmin_free_mib = 1\n{store}\n\
             [trust]\ndirectory = {trust:?}\n\
             [readers]\ninclude = [{names}]\nexchange_timeout_ms = 1500\nread_attempts = 2\nread_deadline_secs = 20\n{readers}\n\
             [jobs]\ncard_wait_secs = 10\n{jobs}\n\
             [api]\nsocket = {socket:?}\nsocket_mode = \"0600\"\nauditor_socket = {audit:?}\n\
             [audit]\nkey = {key:?}\ncheckpoint_secs = 2\n\
             [log]\nlevel = \"info,idcheck=debug\"\ntarget = \"stderr\"\n",
            db = db,
            state = dir.join("state"),
            store = extra.store,
            trust = trust,
            names = names.join(", "),
            readers = extra.readers,
            jobs = extra.jobs,
            socket = socket,
            audit = dir.join("audit.sock"),
            key = dir.join("station-key.pk8"),
        );
        std::fs::write(&config, text).expect("write config");
        let log = dir.join("daemon.log");
        let mut d = Daemon { dir, config, socket, db, log, child: None };
        d.spawn();
        d
    }

    /// Starts (again) the daemon process on the same files; waits until its API answers and
    /// every configured reader is seen.
    pub fn spawn(&mut self) {
        let _ = std::fs::remove_file(&self.socket);
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_idcheck"))
            .args(["serve", "--config"])
            .arg(&self.config)
            .env_remove("JOURNAL_STREAM")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start idcheck serve");
        self.child = Some(child);
        let end = Instant::now() + Duration::from_secs(20);
        loop {
            if self.socket.exists() {
                if let Ok((s, _)) = self.client().get("/v1/health") {
                    if s.is_success() {
                        return;
                    }
                }
            }
            if let Some(Ok(Some(st))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!("idcheck serve exited at start ({st}); log:\n{}", self.log_text());
            }
            assert!(Instant::now() < end, "idcheck serve did not answer within 20 s; log:\n{}", self.log_text());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn client(&self) -> Client {
        Client::new(&self.socket).expect("client").with_timeout(Duration::from_secs(60))
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().map(|c| c.id() as i32).expect("daemon running")
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `GET /v1/readers`; an error answer reads as no reader.
    pub fn readers(&self) -> Readers {
        match self.client().get_as::<Readers>("/v1/readers") {
            Ok(r) => r,
            Err(ClientError::Refused { .. }) => Readers { readers: vec![], pcsc_up: false },
            Err(e) => panic!("readers: {e}"),
        }
    }

    /// `GET /v1/health`.
    pub fn health(&self) -> Health {
        self.client().get_as("/v1/health").expect("health")
    }

    /// Waits until the health says the readers are there (or `within` passes).
    pub fn wait_readers(&self, n: usize, within: Duration) {
        let end = Instant::now() + within;
        loop {
            let v = self.readers();
            if v.readers.len() >= n {
                return;
            }
            assert!(Instant::now() < end, "daemon saw fewer than {n} readers: {v:?}; log:\n{}", self.log_text());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until the daemon shows a card present (or absent) on `reader`.
    pub fn wait_card(&self, reader: &str, present: bool, within: Duration) {
        let end = Instant::now() + within;
        loop {
            let v = self.readers();
            let hit = v.readers.iter().any(|r| r.name == reader && r.card.present == present);
            if hit {
                return;
            }
            assert!(Instant::now() < end, "daemon: card present={present} on {reader} not seen within {within:?}: {v:?}");
            std::thread::sleep(Duration::from_millis(30));
        }
    }

    /// Imports record directories (or a directory of them) through the API.
    pub fn import(&self, path: &Path) -> ImportResult {
        let v: ImportResult = self
            .client()
            .post_as("/v1/records/import", &ImportRequest { path: path.to_path_buf() })
            .unwrap_or_else(|e| panic!("import {}: {e}", path.display()));
        assert_eq!(v.errors.len(), 0, "import errors: {v:?}");
        v
    }

    /// A blocking verification that must answer a verdict (`200`).
    pub fn verdict(&self, req: &VerificationRequest) -> JobVerdict {
        self.client().post_as("/v1/verifications", req).unwrap_or_else(|e| panic!("verification of {}: {e}", req.record_id))
    }

    /// A kiosk's request: this record's card on this reader.
    pub fn kiosk(record_id: &str, reader: &str) -> VerificationRequest {
        VerificationRequest { record_id: record_id.to_string(), reader: Some(reader.to_string()), ..VerificationRequest::default() }
    }

    /// A blocking verification as raw JSON (for answers that are errors, and the wire format);
    /// returns the HTTP status and the answer.
    pub fn verify(&self, body: Value) -> (u16, Value) {
        let (s, v) = self.client().post("/v1/verifications", &body).expect("verification request");
        (s.as_u16(), v)
    }

    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid()), sig).expect("signal the daemon");
    }

    /// Waits for the process to end; its exit status.
    pub fn wait_exit(&mut self, within: Duration) -> std::process::ExitStatus {
        let end = Instant::now() + within;
        let child = self.child.as_mut().expect("daemon running");
        loop {
            if let Some(st) = child.try_wait().expect("wait") {
                self.child = None;
                return st;
            }
            assert!(Instant::now() < end, "daemon still running after {within:?}; log:\n{}", self.log_text());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn kill9(&mut self) {
        self.signal(nix::sys::signal::Signal::SIGKILL);
        let _ = self.wait_exit(Duration::from_secs(5));
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(c.id() as i32), nix::sys::signal::Signal::SIGTERM);
            let end = Instant::now() + Duration::from_secs(10);
            while Instant::now() < end {
                if let Ok(Some(_)) = c.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        if std::thread::panicking() {
            eprintln!("daemon files kept in {}; log:\n{}", self.dir.display(), self.log_text());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// The independent sample card: record id, acceptance dir, chip dir, surface dir.
pub struct Case {
    pub name: &'static str,
    pub record_id: String,
    pub acceptance: PathBuf,
    pub chip: PathBuf,
    pub surface: Option<PathBuf>,
    pub status: &'static str,
    pub causes: Vec<u8>,
}

pub fn sample_case() -> Case {
    let s = repo().join("fixtures/samples/pass-case");
    Case {
        name: "sample",
        record_id: "451022202404011140".into(),
        acceptance: s.join("acceptance/451022202404011140"),
        chip: s.join("chip"),
        surface: Some(s.join("surface/QC-20240408-9308")),
        status: "pass",
        causes: vec![],
    }
}

/// A committed kiosk case of fixtures/cases.
pub fn committed_case(name: &'static str) -> Case {
    let dir = repo().join("fixtures/cases").join(name);
    let label: Value = serde_json::from_slice(&std::fs::read(dir.join("case.json")).expect("case.json")).expect("label");
    let acceptance = dir.join(label["acceptance"].as_str().expect("acceptance"));
    let record_id = acceptance.file_name().and_then(|n| n.to_str()).expect("record id").to_string();
    let status = match label["status"].as_str() {
        Some("pass") => "pass",
        Some("invalid") => "invalid",
        _ => "unavailable",
    };
    Case {
        name,
        record_id,
        acceptance,
        chip: dir.join(label["chip"].as_str().unwrap_or("chip")),
        surface: None,
        status,
        causes: label["causes"].as_array().into_iter().flatten().filter_map(|c| c.as_u64()).map(|c| c as u8).collect(),
    }
}

/// The sample card with its surface's printed name changed: acceptance differs from the printed
/// card, which differs from the chip too (A!=S, A=C): cause 1.
pub fn cause1_surface(dir: &Path) -> PathBuf {
    let src = repo().join("fixtures/samples/pass-case/surface/QC-20240408-9308");
    let dst = dir.join("surface-c1/QC-20240408-9308");
    std::fs::create_dir_all(&dst).expect("surface dir");
    for e in std::fs::read_dir(&src).expect("surface") {
        let p = e.expect("entry").path();
        std::fs::copy(&p, dst.join(p.file_name().expect("name"))).expect("copy");
    }
    let path = dst.join("surface.json");
    let mut v: Value = serde_json::from_slice(&std::fs::read(&path).expect("surface.json")).expect("json");
    let name = v["name"].as_str().expect("surface name").to_string();
    let mut chars: Vec<char> = name.chars().collect();
    let last = chars.len() - 1;
    chars[last] = if chars[last] == '明' { '亮' } else { '明' };
    v["name"] = Value::String(chars.into_iter().collect());
    std::fs::write(&path, serde_json::to_vec_pretty(&v).expect("json")).expect("write surface");
    dst
}

pub fn causes(v: &Value) -> Vec<u8> {
    v["verdict"]["causes"].as_array().into_iter().flatten().filter_map(|c| c.as_u64()).map(|c| c as u8).collect()
}

/// Copies a directory tree (a record or a scan dropped into a batch's folders).
pub fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).expect("mkdir");
    for e in std::fs::read_dir(src).expect("read_dir") {
        let p = e.expect("entry").path();
        let to = dst.join(p.file_name().expect("name"));
        if p.is_dir() {
            copy_dir(&p, &to);
        } else {
            std::fs::copy(&p, &to).expect("copy");
        }
    }
}

/// One QC case of a corpus generated into a test's directory.
pub struct GenCase {
    pub dir: PathBuf,
    pub label: idcheck_testkit::fixtures::CaseLabel,
}

impl GenCase {
    /// Generates one QC case per defect under `corpus` (faces from fixtures/faces).
    pub fn generate(corpus: &Path, seed: u64, defects: &[idcheck_testkit::fixtures::Defect]) -> Vec<GenCase> {
        use idcheck_testkit::fixtures::corpus::{generate_with, Pool};
        let pool = Pool::load(&repo().join("fixtures/faces")).expect("faces");
        let labels = generate_with(&pool, corpus, seed, defects).expect("corpus");
        labels.into_iter().map(|l| GenCase { dir: corpus.join("cases").join(&l.name), label: l }).collect()
    }
    pub fn acceptance(&self) -> PathBuf {
        self.dir.join(&self.label.acceptance)
    }
    pub fn surface(&self) -> PathBuf {
        self.dir.join(self.label.surface.as_ref().expect("QC case has a surface"))
    }
    pub fn chip(&self) -> idcheck_core::lds::ChipImage {
        idcheck_core::lds::ChipImage::load_dir(&self.dir.join(&self.label.chip)).expect("chip")
    }
    pub fn record_id(&self) -> String {
        self.acceptance().file_name().and_then(|n| n.to_str()).expect("record id").to_string()
    }
}

/// A batch's record folder holding the acceptance record of every case.
pub fn batch_records(dir: &Path, cases: &[GenCase]) -> PathBuf {
    let records = dir.join("batch-records");
    for g in cases {
        copy_dir(&g.acceptance(), &records.join(g.record_id()));
    }
    records
}

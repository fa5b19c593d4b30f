//! The daemon end to end: the real `idcheck serve` binary, a temporary configuration, the
//! private pcscd with vpcd readers and the card emulator (scripts/pcsc-env.sh), driven over its
//! Unix socket by a real HTTP client (hyper). Kiosk verdicts of a good card and one card per
//! cause, the same JSON as `idcheck verify --json`; a job waiting for a card placed later; a card
//! placed with no job (reported, not read); two readers at once; maintenance (API and CLI, kept
//! across a restart); reloading on SIGHUP; SIGTERM during a read; SIGKILL during a batch of 200
//! verifications (every announced verdict is in the store afterwards, the store intact).
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the failure

mod daemon_common;
mod pcsc_common;

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use daemon_common::*;
use idcheck_testkit::emulator::Faults;
use idcheck_core::lds::ChipImage;
use hyper::Method;
use idcheck::daemon::client::ClientError;
use idcheck_core::verdict::Status;
use idcheck::wire::{
    AuditVerification, DaemonEvent, Hello, HealthStatus, JobAccepted, JobState, JobStatus, JobVerdict, MaintenanceChanged, MaintenanceRequest,
    MaintenanceStatus, StoredVerification, VerificationRequest, Verifications,
};
use pcsc_common::*;
use serde_json::{json, Value};

fn load_chip(case: &Case) -> ChipImage {
    ChipImage::load_dir(&case.chip).expect("chip image")
}

/// `idcheck verify --json` on the same files, without the store: the verdict object.
fn cli_verdict(case: &Case, trust: &std::path::Path, surface: Option<&std::path::Path>) -> Value {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_idcheck"));
    cmd.args(["verify", "--json", "--no-store", "--record"]).arg(&case.acceptance).arg("--chip").arg(&case.chip).arg("--trust").arg(trust);
    if let Some(s) = surface {
        cmd.arg("--surface").arg(s);
    }
    let out = cmd.output().expect("idcheck verify");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("verify --json: {e}: {}", String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn kiosk_verdicts_of_a_good_card_and_one_card_per_cause() {
    let Some(env) = env("kiosk_verdicts_of_a_good_card_and_one_card_per_cause") else { return };
    let lease = lease(env, 1);
    let r = &lease.readers[0];
    let d = Daemon::start(&lease.readers, Extra::default());
    d.wait_readers(1, Duration::from_secs(5));

    let sample = sample_case();
    let c1_surface = cause1_surface(&d.dir);
    let cases = vec![
        (committed_case("pass-kiosk"), None),
        (sample_case(), sample.surface.clone()),
        (Case { name: "c1-surface-name", status: "invalid", causes: vec![1], ..sample_case() }, Some(c1_surface)),
        (committed_case("c2-kiosk-chip-address"), None),
        (committed_case("c3-dg-hash"), None),
        (committed_case("c4-id-check-char"), None),
    ];
    let trust = d.dir.join("trust");
    for (case, _) in &cases {
        d.import(&case.acceptance);
    }
    let mut seen_causes = Vec::new();
    for (case, surface) in &cases {
        let emu = Emulator::start(r, load_chip(case), Faults::default());
        d.wait_card(&r.name, true, Duration::from_secs(5));
        let mut body = json!({ "record_id": case.record_id, "reader": r.name });
        if let Some(s) = surface {
            body["surface"] = json!(s);
        }
        let (code, v) = d.verify(body);
        assert_eq!(code, 200, "{}: {v}", case.name);
        assert_eq!(v["verdict"]["status"], case.status, "{}: {v}", case.name);
        assert_eq!(causes(&v), case.causes, "{}: {v}", case.name);
        seen_causes.extend(causes(&v));
        // stored before announced, and the stored verdict is the announced one
        let id = v["id"].as_i64().expect("stored id");
        let (code, stored) = d.client().get(&format!("/v1/verifications/{id}")).expect("get");
        assert_eq!(code.as_u16(), 200);
        assert_eq!(stored["verdict"], v["verdict"], "{}", case.name);
        assert_eq!(stored["reader"], r.name.as_str());
        // the same object `idcheck verify --json` prints for the same files
        let cli = cli_verdict(case, &trust, surface.as_deref());
        // ... but for what only a live chip shows: how it was accessed, and Chip / Active
        // Authentication (the CLI verifies the chip image directory the card was served from).
        let mut live = v["verdict"].clone();
        let checks = live.as_object_mut().and_then(|o| o.remove("chip_checks")).unwrap_or_default();
        if case.status == "pass" {
            assert!(checks.as_array().is_some_and(|c| c.iter().any(|c| c["item"] == "chip.access")), "{}: no chip.access: {v}", case.name);
        }
        assert_eq!(live, cli, "{}: API and CLI verdicts differ", case.name);
        // the timing split is reported
        for k in ["wait_ms", "read_ms", "compare_ms", "store_ms", "total_ms"] {
            assert!(v["timing"][k].as_f64().is_some(), "{k} missing: {}", v["timing"]);
        }
        emu.stop();
        d.wait_card(&r.name, false, Duration::from_secs(5));
    }
    seen_causes.sort();
    seen_causes.dedup();
    assert_eq!(seen_causes, vec![1, 2, 3, 4]);

    // cause 3 from the live chip itself: a mute card
    let emu = Emulator::start(r, load_chip(&sample), Faults { mute: true, ..Faults::default() });
    d.wait_card(&r.name, true, Duration::from_secs(5));
    let (code, v) = d.verify(json!({ "record_id": sample.record_id, "reader": r.name }));
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["verdict"]["status"], "invalid", "{v}");
    assert_eq!(causes(&v), vec![3], "{v}");
    drop(emu);

    // filters of the list
    let list: Verifications = d.client().get_as("/v1/verifications?status=pass").expect("list");
    assert_eq!(list.verifications.len(), 2, "{list:?}");
    let (code, _) = d.client().get("/v1/verifications?status=bogus").expect("list");
    assert_eq!(code.as_u16(), 400);
    // unknown record: 404, nothing stored
    let (code, v) = d.verify(json!({ "record_id": "000000000000000000", "reader": r.name }));
    assert_eq!(code, 404, "{v}");
    // malformed body: 400 naming the field
    let (code, v) = d.verify(json!({ "record": "x" }));
    assert_eq!(code, 400, "{v}");
    assert!(v["error"].as_str().unwrap_or("").contains("record"), "{v}");
}

#[test]
fn a_job_waits_for_a_card_placed_later_and_a_card_without_a_job_is_not_read() {
    let Some(env) = env("a_job_waits_for_a_card_placed_later_and_a_card_without_a_job_is_not_read") else { return };
    let lease = lease(env, 1);
    let r = &lease.readers[0];
    let d = Daemon::start(&lease.readers, Extra::default());
    d.wait_readers(1, Duration::from_secs(5));
    let sample = sample_case();
    d.import(&sample.acceptance);
    let client = d.client();
    let mut events = client.events().expect("event stream");
    let hello = events.next(Duration::from_secs(5)).expect("hello").expect("hello event");
    assert_eq!(hello.event, "hello");
    let hello: Hello = hello.parse().expect("hello data");
    assert!(hello.readers.iter().any(|x| x.name == r.name), "{hello:?}");

    // a card placed with no job: an event, no read, nothing stored
    let emu = Emulator::start(r, load_chip(&sample), Faults::default());
    let ev = events.wait_for("card_inserted", Duration::from_secs(5), |d| d["reader"] == r.name.as_str()).expect("events");
    let ev = ev.expect("card_inserted event");
    let DaemonEvent::CardInserted { awaited, .. } = ev.parse().expect("event") else { panic!("not card_inserted: {ev:?}") };
    assert!(!awaited, "{:?}", ev);
    std::thread::sleep(Duration::from_millis(500));
    let apdus = emu.events.lock().map(|e| e.len()).unwrap_or(0);
    emu.stop();
    let list: Verifications = d.client().get_as("/v1/verifications").expect("list");
    assert_eq!(list.verifications.len(), 0, "{list:?}");
    // the emulator saw the reader power the card at most; no SELECT of the application
    assert!(apdus < 5, "a card without a job must not be read ({apdus} emulator events)");

    // a job first, the card later
    let req = VerificationRequest { run_async: true, wait_secs: Some(30), ..Daemon::kiosk(&sample.record_id, &r.name) };
    let (code, v) = d.client().call::<JobAccepted>(Method::POST, "/v1/verifications", Some(&req)).expect("post");
    assert_eq!(code.as_u16(), 202, "{v:?}");
    let job = v.job;
    assert_eq!(v.poll, format!("/v1/jobs/{job}"));
    std::thread::sleep(Duration::from_millis(700));
    let st: JobStatus = d.client().get_as(&format!("/v1/jobs/{job}")).expect("job");
    assert!(matches!(st.status, JobState::Waiting { .. }), "{st:?}");
    let emu = Emulator::start(r, load_chip(&sample), Faults::default());
    let ev = events.wait_for("card_inserted", Duration::from_secs(5), |d| d["reader"] == r.name.as_str()).expect("events").expect("card_inserted");
    assert!(matches!(ev.parse().expect("event"), DaemonEvent::CardInserted { awaited: true, .. }), "{ev:?}");
    let fin = events.wait_for("verification_finished", Duration::from_secs(30), |d| d["job"] == job).expect("events").expect("finished event");
    let DaemonEvent::VerificationFinished { status, id, .. } = fin.parse().expect("event") else { panic!("not verification_finished: {fin:?}") };
    assert_eq!(status, Status::Pass, "{:?}", fin);
    let id = id.expect("stored id in the event");
    // the event came after the commit: the stored row is there
    let stored: StoredVerification = d.client().get_as(&format!("/v1/verifications/{id}")).expect("get");
    assert_eq!(stored.status, Status::Pass);
    let st: JobStatus = d.client().get_as(&format!("/v1/jobs/{job}")).expect("job");
    let JobState::Done { result } = &st.status else { panic!("job not done: {st:?}") };
    assert_eq!(result.id, Some(id));
    emu.stop();

    // no card in time: 408, not a verdict, nothing stored
    let (code, v) = d.verify(json!({ "record_id": sample.record_id, "reader": r.name, "wait_secs": 1, "fresh_card": true }));
    assert_eq!(code, 408, "{v}");
    let list: Verifications = d.client().get_as("/v1/verifications").expect("list");
    assert_eq!(list.verifications.len(), 1, "{list:?}");
}

#[test]
fn two_readers_verify_at_once() {
    let Some(env) = env("two_readers_verify_at_once") else { return };
    if env.readers.len() < 2 {
        panic!("two_readers_verify_at_once needs 2 readers (scripts/pcsc-env.sh --readers 2)");
    }
    let lease = lease(env, 2);
    let d = Daemon::start(&lease.readers, Extra::default());
    d.wait_readers(2, Duration::from_secs(5));
    let sample = sample_case();
    let kiosk = committed_case("pass-kiosk");
    d.import(&sample.acceptance);
    d.import(&kiosk.acceptance);
    // slow cards, so that the two reads certainly overlap
    let slow = Faults { slow_ms: Some(15), ..Faults::default() };
    let _e0 = Emulator::start(&lease.readers[0], load_chip(&sample), slow.clone());
    let _e1 = Emulator::start(&lease.readers[1], load_chip(&kiosk), slow);
    d.wait_card(&lease.readers[0].name, true, Duration::from_secs(5));
    d.wait_card(&lease.readers[1].name, true, Duration::from_secs(5));
    let client = d.client();
    let mut events = client.events().expect("events");
    let jobs = [(sample.record_id.clone(), lease.readers[0].name.clone()), (kiosk.record_id.clone(), lease.readers[1].name.clone())];
    let socket = d.socket.clone();
    let handles: Vec<_> = jobs
        .iter()
        .cloned()
        .map(|(rec, reader)| {
            let socket = socket.clone();
            std::thread::spawn(move || {
                let c = idcheck::daemon::client::Client::new(&socket).expect("client");
                c.call::<JobVerdict>(Method::POST, "/v1/verifications", Some(&Daemon::kiosk(&rec, &reader))).expect("post")
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().expect("thread")).collect();
    for (i, (code, v)) in results.iter().enumerate() {
        assert_eq!(code.as_u16(), 200, "{v:?}");
        assert_eq!(v.verdict.status, Status::Pass, "{v:?}");
        assert_eq!(v.reader.as_deref(), Some(jobs[i].1.as_str()));
    }
    // overlap: both reads started before the first verdict
    let mut order = Vec::new();
    while let Ok(Some(e)) = events.next(Duration::from_millis(500)) {
        if e.event == "verification_reading" || e.event == "verification_finished" {
            order.push(e.event);
        }
        if order.len() == 4 {
            break;
        }
    }
    assert_eq!(&order[..2], &["verification_reading", "verification_reading"], "reads did not overlap: {order:?}");
}

#[test]
fn maintenance_answers_unavailable_survives_a_restart_and_ends() {
    let Some(env) = env("maintenance_answers_unavailable_survives_a_restart_and_ends") else { return };
    let lease = lease(env, 1);
    let r = &lease.readers[0];
    let mut d = Daemon::start(&lease.readers, Extra::default());
    d.wait_readers(1, Duration::from_secs(5));
    let sample = sample_case();
    d.import(&sample.acceptance);
    let _emu = Emulator::start(r, load_chip(&sample), Faults::default());
    d.wait_card(&r.name, true, Duration::from_secs(5));

    let bin = env!("CARGO_BIN_EXE_idcheck");
    let out = Command::new(bin).args(["maintenance", "on", "--reason", "replacing the reader cable", "--socket"]).arg(&d.socket).output().expect("cli");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (code, v) = d.verify(json!({ "record_id": sample.record_id, "reader": r.name }));
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["verdict"]["status"], "unavailable", "{v}");
    assert!(v.to_string().contains("replacing the reader cable"), "{v}");
    assert!(causes(&v).is_empty());
    assert_eq!(d.health().status, HealthStatus::Unavailable);

    // kept across a restart
    d.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(d.wait_exit(Duration::from_secs(15)).success());
    d.spawn();
    d.wait_readers(1, Duration::from_secs(5));
    let m: MaintenanceStatus = d.client().get_as("/v1/maintenance").expect("maintenance");
    assert!(m.on, "{m:?}");
    assert_eq!(m.maintenance.map(|x| x.reason).as_deref(), Some("replacing the reader cable"));

    // a reason is required; then off through the API
    let refused = d.client().post_as::<MaintenanceChanged>("/v1/maintenance", &MaintenanceRequest { on: true, reason: None });
    assert!(matches!(&refused, Err(ClientError::Refused { status, .. }) if status.as_u16() == 400), "{refused:?}");
    let (code, off) = d.client().call::<MaintenanceChanged>(Method::POST, "/v1/maintenance", Some(&MaintenanceRequest { on: false, reason: None })).expect("post");
    assert_eq!(code.as_u16(), 200);
    assert!(!off.on && off.maintenance.is_none(), "{off:?}");
    d.wait_card(&r.name, true, Duration::from_secs(5));
    let v = d.verdict(&Daemon::kiosk(&sample.record_id, &r.name));
    assert_eq!(v.verdict.status, Status::Pass, "{v:?}");
    let out = Command::new(bin).args(["maintenance", "status", "--socket"]).arg(&d.socket).output().expect("cli");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "maintenance off");
}

#[test]
fn sighup_reloads_the_configuration() {
    let Some(env) = env("sighup_reloads_the_configuration") else { return };
    let lease = lease(env, 1);
    let d = Daemon::start(&lease.readers, Extra::default());
    d.wait_readers(1, Duration::from_secs(5));
    let text = std::fs::read_to_string(&d.config).expect("config");
    // an impossible free-space floor: the station is "disk full", so unavailable
    std::fs::write(&d.config, text.replace("min_free_mib = 1\n", "min_free_mib = 1000000000\n")).expect("write");
    d.signal(nix::sys::signal::Signal::SIGHUP);
    let end = Instant::now() + Duration::from_secs(5);
    loop {
        let h = d.health();
        if h.status == HealthStatus::Unavailable {
            assert!(h.reason.as_deref().unwrap_or("").contains("disk full"), "{h:?}");
            break;
        }
        assert!(Instant::now() < end, "reload not applied: {h:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    // a broken file is refused and the running configuration stays
    std::fs::write(&d.config, "[store]\nnonsense = 1\n").expect("write");
    d.signal(nix::sys::signal::Signal::SIGHUP);
    std::thread::sleep(Duration::from_millis(500));
    let h = d.health();
    assert_eq!(h.status, HealthStatus::Unavailable, "{h:?}");
    assert!(d.log_text().contains("reload refused"), "{}", d.log_text());
    std::fs::write(&d.config, text).expect("write");
    d.signal(nix::sys::signal::Signal::SIGHUP);
    let end = Instant::now() + Duration::from_secs(5);
    loop {
        let h = d.health();
        if h.status == HealthStatus::Ok {
            break;
        }
        assert!(Instant::now() < end, "reload back not applied: {h:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn sigterm_during_a_read_aborts_it_without_a_verdict() {
    let Some(env) = env("sigterm_during_a_read_aborts_it_without_a_verdict") else { return };
    let lease = lease(env, 1);
    let r = &lease.readers[0];
    let mut d = Daemon::start(&lease.readers, Extra { jobs: "shutdown_grace_secs = 1\n".into(), ..Extra::default() });
    d.wait_readers(1, Duration::from_secs(5));
    let sample = sample_case();
    d.import(&sample.acceptance);
    // a slow card: the read takes several seconds
    let _emu = Emulator::start(r, load_chip(&sample), Faults { slow_ms: Some(60), ..Faults::default() });
    d.wait_card(&r.name, true, Duration::from_secs(5));
    let client = d.client();
    let mut events = client.events().expect("events");
    let socket = d.socket.clone();
    let rec = sample.record_id.clone();
    let reader = r.name.clone();
    let req = std::thread::spawn(move || {
        let c = idcheck::daemon::client::Client::new(&socket).expect("client");
        c.post("/v1/verifications", &json!({ "record_id": rec, "reader": reader }))
    });
    events.wait_for("verification_reading", Duration::from_secs(10), |_| true).expect("events").expect("reading event");
    let t = Instant::now();
    d.signal(nix::sys::signal::Signal::SIGTERM);
    let st = d.wait_exit(Duration::from_secs(15));
    assert!(st.success(), "daemon exit: {st}");
    let answer = req.join().expect("thread");
    if let Ok((code, v)) = &answer {
        assert_eq!(code.as_u16(), 503, "{v}");
        assert!(v["error"].as_str().unwrap_or("").contains("aborted"), "{v}");
    }
    eprintln!("SIGTERM to exit: {:?}", t.elapsed());
    // nothing stored as a verdict
    let store = idcheck_store::Store::open(&d.db).expect("store");
    let list = store.list_verifications(&Default::default()).expect("list");
    assert!(list.is_empty(), "an aborted read must not be a verdict: {list:?}");
    assert!(d.log_text().contains("aborted"), "{}", d.log_text());
}

#[test]
fn sigkill_during_a_batch_loses_no_announced_verdict() {
    let Some(env) = env("sigkill_during_a_batch_loses_no_announced_verdict") else { return };
    let lease = lease(env, 1);
    let r = &lease.readers[0];
    let mut d = Daemon::start(&lease.readers, Extra::default());
    d.wait_readers(1, Duration::from_secs(5));
    let kiosk = committed_case("pass-kiosk");
    d.import(&kiosk.acceptance);
    let _emu = Emulator::start(r, load_chip(&kiosk), Faults::default());
    d.wait_card(&r.name, true, Duration::from_secs(5));

    // a batch of 200 verifications from a client thread; announced = answered with an id
    let announced: Arc<Mutex<Vec<(i64, String)>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let (socket, rec, reader) = (d.socket.clone(), kiosk.record_id.clone(), r.name.clone());
    let (a2, s2) = (announced.clone(), stop.clone());
    let batch = std::thread::spawn(move || {
        let c = idcheck::daemon::client::Client::new(&socket).expect("client").with_timeout(Duration::from_secs(30));
        let mut failures = 0;
        for _ in 0..200 {
            if s2.load(Ordering::SeqCst) {
                break;
            }
            match c.call::<JobVerdict>(Method::POST, "/v1/verifications", Some(&Daemon::kiosk(&rec, &reader))) {
                Ok((code, v)) if code.as_u16() == 200 => {
                    if let Some(id) = v.id {
                        a2.lock().expect("lock").push((id, v.verdict.status.as_str().to_string()));
                    }
                }
                _ => failures += 1,
            }
        }
        failures
    });
    // kill at an arbitrary moment once some verdicts were announced
    let end = Instant::now() + Duration::from_secs(120);
    while announced.lock().expect("lock").len() < 25 {
        assert!(Instant::now() < end, "batch too slow; log:\n{}", d.log_text());
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(37));
    d.kill9();
    stop.store(true, Ordering::SeqCst);
    let _ = batch.join();
    let announced = announced.lock().expect("lock").clone();
    assert!(announced.len() >= 25);

    // restart: the store opens, is intact, and holds every announced verdict
    d.spawn();
    let store = idcheck_store::Store::open(&d.db).expect("store reopens");
    for (id, status) in &announced {
        let v = store.get_verification(*id).expect("get").unwrap_or_else(|| panic!("announced verdict {id} lost"));
        assert_eq!(v.row.status.as_str(), status);
    }
    let check: String = rusqlite::Connection::open(&d.db)
        .expect("sqlite")
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity_check");
    assert_eq!(check, "ok");
    // the audit chain survived the kill: intact, one entry per stored verdict
    let report = idcheck::audit::verify_db(&store, &Default::default());
    assert!(report.intact(), "audit chain after SIGKILL: {:?}", report.first_problem());
    // the restarted daemon signed the head at start: nothing is left unsigned
    assert!(report.holds(), "unsigned tail of {} entries after restart", report.unsigned_tail);
    eprintln!("announced before SIGKILL: {}, audit entries {}", announced.len(), report.entries);
    // and the daemon works again
    d.wait_card(&r.name, true, Duration::from_secs(5));
    let v = d.verdict(&Daemon::kiosk(&kiosk.record_id, &r.name));
    assert_eq!(v.verdict.status, Status::Pass);
}

#[test]
fn the_auditor_socket_exports_a_log_that_verifies_offline_and_does_nothing_else() {
    let Some(env) = env("the_auditor_socket_exports_a_log_that_verifies_offline_and_does_nothing_else") else { return };
    let lease = lease(env, 1);
    let r = &lease.readers[0];
    let mut d = Daemon::start(&lease.readers, Extra::default());
    d.wait_readers(1, Duration::from_secs(5));
    let kiosk = committed_case("pass-kiosk");
    d.import(&kiosk.acceptance);
    let _emu = Emulator::start(r, load_chip(&kiosk), Faults::default());
    d.wait_card(&r.name, true, Duration::from_secs(5));
    d.verdict(&Daemon::kiosk(&kiosk.record_id, &r.name));
    let on = MaintenanceRequest { on: true, reason: Some("audit test".into()) };
    let (code, _) = d.client().call::<MaintenanceChanged>(Method::POST, "/v1/maintenance", Some(&on)).expect("post");
    assert_eq!(code.as_u16(), 200);
    let (code, _) = d.client().call::<MaintenanceChanged>(Method::POST, "/v1/maintenance", Some(&MaintenanceRequest { on: false, reason: None })).expect("post");
    assert_eq!(code.as_u16(), 200);

    let auditor = idcheck::daemon::client::Client::new(&d.dir.join("audit.sock")).expect("client");
    // read-only: nothing but the audit endpoints
    let (code, _) = auditor.post("/v1/verifications", &json!({ "record_id": kiosk.record_id })).expect("post");
    assert!(code.as_u16() == 404 || code.as_u16() == 405, "auditor socket must not verify: {code}");
    let (code, _) = auditor.post("/v1/maintenance", &json!({ "on": true, "reason": "x" })).expect("post");
    assert!(code.as_u16() == 404 || code.as_u16() == 405, "auditor socket must not switch maintenance: {code}");
    let (code, rep) = auditor.call::<AuditVerification>(Method::GET, "/v1/audit/verify", None::<&()>).expect("verify");
    assert_eq!(code.as_u16(), 200, "{rep:?}");
    assert!(rep.intact, "{rep:?}");

    // the export, stopped daemon or not, verifies offline with the CLI
    d.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(d.wait_exit(Duration::from_secs(15)).success());
    d.spawn();
    let body = {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
        rt.block_on(raw_get(&d.dir.join("audit.sock"), "/v1/audit/export?format=jsonl"))
    };
    let kinds: Vec<String> = body
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v["kind"].as_str().map(str::to_string))
        .collect();
    for k in ["daemon_start", "config_load", "record_import", "verification", "maintenance_on", "maintenance_off", "daemon_stop"] {
        assert!(kinds.iter().any(|x| x == k), "export lacks a {k} entry: {kinds:?}");
    }
    let file = d.dir.join("export.jsonl");
    std::fs::write(&file, &body).expect("write export");
    let out = Command::new(env!("CARGO_BIN_EXE_idcheck")).args(["audit", "verify"]).arg(&file).output().expect("audit verify");
    assert!(out.status.success(), "export does not verify: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    // one byte changed in an entry: detected
    let tampered = body.replacen("\"pass\"", "\"invalid\"", 1);
    assert_ne!(tampered, body);
    std::fs::write(&file, &tampered).expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_idcheck")).args(["audit", "verify"]).arg(&file).output().expect("audit verify");
    assert!(!out.status.success(), "a tampered export must not verify");
}

/// The raw body of a GET on a Unix socket (the export is not JSON).
async fn raw_get(socket: &std::path::Path, path: &str) -> String {
    use http_body_util::{BodyExt, Empty};
    let stream = tokio::net::UnixStream::connect(socket).await.expect("connect");
    let (mut tx, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await.expect("handshake");
    tokio::spawn(conn);
    let req = hyper::Request::builder().uri(path).header("host", "idcheck").body(Empty::<hyper::body::Bytes>::new()).expect("request");
    let resp = tx.send_request(req).await.expect("send");
    assert_eq!(resp.status(), 200);
    String::from_utf8(resp.into_body().collect().await.expect("body").to_bytes().to_vec()).expect("utf-8")
}

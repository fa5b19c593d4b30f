//! The QC station page in a real browser: Debian's headless Chromium, driven by playwright-core
//! (tests/browser/driver.js), over the real `idcheck serve` (loopback TCP listener, the page's
//! login cookie) with the private pcscd, vpcd readers and the card emulator of
//! scripts/pcsc-env.sh. For a pass verdict, one verdict per cause and an `unavailable` one (the
//! station in maintenance: status and reason, nothing marked), the page must mark exactly
//! the cells the verdict's findings name (data-item / data-col / data-cause), show the status,
//! load its photos only from the station, draw Chinese text with the CJK font, answer the
//! keyboard, and follow a verification live through the event stream. Screenshots go to
//! target/browser-artifacts/.
//!
//! Needs scripts/browser-deps.sh (chromium, fonts-wqy-zenhei, tests/browser/node_modules).
//! Without them the test fails, unless the caller opts out with IDCHECK_SKIP_BROWSER=1 (then it
//! is skipped with a message); the PC/SC environment is required like for the other daemon tests.
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the failure

mod daemon_common;
mod pcsc_common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use daemon_common::*;
use idcheck_testkit::emulator::Faults;
use idcheck_core::lds::ChipImage;
use hyper::Method;
use idcheck_core::verdict::{Status, Verdict};
use idcheck_store::ItemStatus;
use idcheck::wire::{Batch, BatchCreated, BatchItem, BatchRequest, MaintenanceChanged, MaintenanceRequest, VerificationRequest, VerificationView};
use pcsc_common::*;
use serde_json::{json, Value};

const CHROMIUM: &str = "/usr/bin/chromium";

fn browser_dir() -> PathBuf {
    repo().join("tests/browser")
}

/// Whether the browser tools are installed; a failure when they are not, or a visible skip
/// message under IDCHECK_SKIP_BROWSER=1.
fn browser_ready(test: &str) -> bool {
    let mut missing = Vec::new();
    if !Path::new(CHROMIUM).exists() {
        missing.push(CHROMIUM.to_string());
    }
    if !browser_dir().join("node_modules/playwright-core/package.json").exists() {
        missing.push("tests/browser/node_modules/playwright-core".to_string());
    }
    if Command::new("node").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().map(|s| !s.success()).unwrap_or(true) {
        missing.push("node".to_string());
    }
    if missing.is_empty() {
        return true;
    }
    if std::env::var("IDCHECK_SKIP_BROWSER").as_deref() != Ok("1") {
        panic!("{test}: {} missing: run scripts/browser-deps.sh, or skip with IDCHECK_SKIP_BROWSER=1", missing.join(", "));
    }
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED browser test {test}: {} missing; run scripts/browser-deps.sh (skipped because IDCHECK_SKIP_BROWSER=1)",
        missing.join(", ")
    );
    false
}

fn artifacts_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| repo().join("target"));
    let target = if target.is_absolute() { target } else { repo().join(target) };
    target.join("browser-artifacts")
}

/// A free loopback port (bound then released; the daemon binds it right after).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// Restarts the harness's daemon with a loopback TCP listener and a token file added to its
/// `[api]` section; returns the base URL and the token.
fn with_tcp(d: &mut Daemon) -> (String, String) {
    let token: String = {
        use ring::rand::SecureRandom;
        let mut b = [0u8; 16];
        ring::rand::SystemRandom::new().fill(&mut b).expect("random token");
        hex::encode(b)
    };
    let token_file = d.dir.join("api.token");
    std::fs::write(&token_file, format!("{token}\n")).expect("token file");
    let port = free_port();
    let text = std::fs::read_to_string(&d.config).expect("config");
    assert!(text.contains("[api]\n"), "harness config has an [api] section");
    let text = text.replacen("[api]\n", &format!("[api]\ntcp = \"127.0.0.1:{port}\"\ntoken_file = {token_file:?}\n"), 1);
    std::fs::write(&d.config, text).expect("config");
    d.signal(nix::sys::signal::Signal::SIGTERM);
    let _ = d.wait_exit(Duration::from_secs(15));
    d.spawn();
    (format!("http://127.0.0.1:{port}/"), token)
}

/// The cells a verdict marks, as the page writes them: (data-item, data-col, causes "1 2").
fn expected_marks(verdict: &Verdict) -> BTreeSet<(String, String, String)> {
    let mut per: BTreeMap<(String, &'static str), BTreeSet<u8>> = BTreeMap::new();
    for m in idcheck::web::marks_of_verdict(verdict) {
        per.entry((m.item, m.col.name())).or_default().insert(m.cause);
    }
    per.into_iter()
        .map(|((item, col), causes)| {
            let c: Vec<String> = causes.iter().map(u8::to_string).collect();
            (item, col.to_string(), c.join(" "))
        })
        .collect()
}

fn shown_marks(step: &Value) -> BTreeSet<(String, String, String)> {
    step["marks"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| (m[0].as_str().unwrap_or("").to_string(), m[1].as_str().unwrap_or("").to_string(), m[2].as_str().unwrap_or("").to_string()))
        .collect()
}

/// A marked cell: (data-item, data-col, data-cause).
type Cell = (String, String, String);

fn mark(item: &str, col: &str, causes: &str) -> Cell {
    (item.to_string(), col.to_string(), causes.to_string())
}

/// The node driver, running: its stdout lines arrive on a channel.
struct Driver {
    child: std::process::Child,
    lines: mpsc::Receiver<String>,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Driver {
    fn start(job: &Value) -> Driver {
        let mut child = Command::new("node")
            .arg(browser_dir().join("driver.js"))
            .current_dir(browser_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start node tests/browser/driver.js");
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(job.to_string().as_bytes()).expect("job to the driver");
        drop(stdin);
        let (tx, lines) = mpsc::channel();
        let out = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let (err, s2) = (child.stderr.take().expect("stderr"), stderr.clone());
        std::thread::spawn(move || {
            for l in BufReader::new(err).lines().map_while(Result::ok) {
                if let Ok(mut s) = s2.lock() {
                    s.push_str(&l);
                    s.push('\n');
                }
            }
        });
        Driver { child, lines, stderr }
    }

    /// The next line the driver writes, as JSON (fails the test after `within`).
    fn next(&self, within: Duration) -> Value {
        match self.lines.recv_timeout(within) {
            Ok(l) => serde_json::from_str(&l).unwrap_or_else(|e| panic!("driver wrote no JSON ({e}): {l}")),
            Err(e) => panic!("browser driver: no answer within {within:?} ({e}); its stderr:\n{}", self.stderr.lock().map(|s| s.clone()).unwrap_or_default()),
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Shown {
    name: &'static str,
    id: i64,
    verdict: Verdict,
    view: VerificationView,
    must: Vec<Cell>,
}

#[test]
fn the_page_marks_what_each_verdict_names_in_a_real_browser() {
    let test = "the_page_marks_what_each_verdict_names_in_a_real_browser";
    if !browser_ready(test) {
        return;
    }
    let Some(env) = env(test) else { return };
    let lease = lease(env, 1);
    let r = &lease.readers[0];
    let mut d = Daemon::start(&lease.readers, Extra::default());
    let (base, token) = with_tcp(&mut d);
    d.wait_readers(1, Duration::from_secs(5));

    let sample = sample_case();
    let c1_surface = cause1_surface(&d.dir);
    let cases: Vec<(&'static str, Case, Option<PathBuf>, Vec<Cell>)> = vec![
        ("pass", sample_case(), sample.surface.clone(), vec![]),
        (
            "cause1",
            Case { name: "c1-surface-name", status: "invalid", causes: vec![1], ..sample_case() },
            Some(c1_surface),
            vec![mark("name", "acceptance", "1"), mark("name", "surface", "1")],
        ),
        ("cause2", committed_case("c2-kiosk-chip-address"), None, vec![mark("address", "acceptance", "2"), mark("address", "chip", "2")]),
        ("cause3", committed_case("c3-dg-hash"), None, vec![mark("chip", "chip", "3")]),
        ("cause4", committed_case("c4-id-check-char"), None, vec![mark("id_number", "acceptance", "4")]),
    ];
    for (_, case, _, _) in &cases {
        d.import(&case.acceptance);
    }

    // one stored verdict per case, through the daemon's API as a kiosk or QC client makes it
    let mut shown = Vec::new();
    for (name, case, surface, must) in cases {
        let emu = Emulator::start(r, ChipImage::load_dir(&case.chip).expect("chip image"), Faults::default());
        d.wait_card(&r.name, true, Duration::from_secs(5));
        let req = VerificationRequest { surface: surface.clone(), ..Daemon::kiosk(&case.record_id, &r.name) };
        let v = d.verdict(&req);
        assert_eq!(v.verdict.status.as_str(), case.status, "{name}: {v:?}");
        assert_eq!(v.verdict.causes.iter().map(|c| c.number()).collect::<Vec<u8>>(), case.causes, "{name}: {v:?}");
        let id = v.id.expect("stored id");
        let (code, view) = d.client().call::<VerificationView>(Method::GET, &format!("/v1/verifications/{id}/view"), None::<&()>).expect("view");
        assert_eq!(code.as_u16(), 200, "{name}: view {view:?}");
        assert_eq!(view.verdict.as_ref(), Some(&v.verdict), "{name}: the view shows the stored verdict");
        shown.push(Shown { name, id, verdict: v.verdict, view, must });
        drop(emu);
        d.wait_card(&r.name, false, Duration::from_secs(5));
    }

    // unavailable: a station in maintenance judges no card; the page says so, with the reason,
    // and marks nothing
    let reason = "browser test: replacing the reader";
    let on = MaintenanceRequest { on: true, reason: Some(reason.into()) };
    let (code, m) = d.client().call::<MaintenanceChanged>(Method::POST, "/v1/maintenance", Some(&on)).expect("maintenance on");
    assert_eq!(code.as_u16(), 200, "{m:?}");
    let v = d.verdict(&Daemon::kiosk(&sample.record_id, &r.name));
    assert_eq!(v.verdict.status, Status::Unavailable, "{v:?}");
    let id = v.id.expect("an unavailable verdict is stored too");
    let (code, view) = d.client().call::<VerificationView>(Method::GET, &format!("/v1/verifications/{id}/view"), None::<&()>).expect("view");
    assert_eq!(code.as_u16(), 200, "unavailable: view {view:?}");
    shown.push(Shown { name: "unavailable", id, verdict: v.verdict, view, must: vec![] });
    let off = MaintenanceRequest { on: false, reason: None };
    let (code, m) = d.client().call::<MaintenanceChanged>(Method::POST, "/v1/maintenance", Some(&off)).expect("maintenance off");
    assert_eq!(code.as_u16(), 200, "{m:?}");

    let artifacts = artifacts_dir();
    let mut steps: Vec<Value> = shown
        .iter()
        .map(|s| {
            json!({
                "name": format!("verdict-{}", s.name),
                "hash": format!("#/v/{}", s.id),
                "wait": format!("article.verdict[data-verification=\"{}\"]", s.id),
                "keys": true,
            })
        })
        .collect();
    steps.push(json!({"name": "recent", "hash": "#/recent", "wait": "table[aria-label=\"recent verifications\"]"}));
    steps.push(json!({"name": "live", "hash": "#/live", "live": true, "wait": ".live-verdict article.verdict", "timeout_ms": 60000}));
    let job = json!({ "base": base, "token": token, "artifacts": artifacts, "chromium": CHROMIUM, "steps": steps });
    let driver = Driver::start(&job);

    let mut failures = Vec::new();
    for s in &shown {
        let step = driver.next(Duration::from_secs(120));
        let name = format!("verdict-{}", s.name);
        assert_eq!(step["step"], name.as_str(), "driver order: {step}");
        let errs = step["errors"].as_array().cloned().unwrap_or_default();
        if !errs.is_empty() {
            failures.push(format!("{name}: browser errors {errs:?}"));
        }
        // exactly the cells the findings name
        let want = expected_marks(&s.verdict);
        let got = shown_marks(&step);
        if got != want {
            failures.push(format!("{name}: marked cells {got:?}, the verdict names {want:?}"));
        }
        for m in &s.must {
            if !got.contains(m) {
                failures.push(format!("{name}: {m:?} is not marked (marked: {got:?})"));
            }
        }
        if (s.name == "pass" || s.name == "unavailable") && !got.is_empty() {
            failures.push(format!("{name}: a pass verdict has marked cells {got:?}"));
        }
        // status in words, photos loaded from the station, CJK font used
        if step["status"] != s.verdict.status.as_str() {
            failures.push(format!("{name}: page status {} != verdict {}", step["status"], s.verdict.status));
        }
        let want_words = match s.verdict.status {
            Status::Pass => "PASS",
            Status::Unavailable => "UNAVAILABLE",
            Status::Invalid => "INVALID",
        };
        if !step["banner"].as_str().unwrap_or("").contains(want_words) {
            failures.push(format!("{name}: banner does not say {want_words}: {}", step["banner"]));
        }
        if s.name == "unavailable" && !step["banner"].as_str().unwrap_or("").contains(reason) {
            failures.push(format!("{name}: banner does not give the reason {reason:?}: {}", step["banner"]));
        }
        if s.name == "unavailable" && step["not_compared"] != true {
            failures.push(format!("{name}: the page does not say that nothing was compared"));
        }
        let photos = ["acceptance", "surface", "chip"].iter().filter(|c| s.view.photos.url(c).is_some()).count() as u64;
        if step["images"]["total"].as_u64() != Some(photos) || step["images"]["loaded"].as_u64() != Some(photos) {
            failures.push(format!("{name}: images {} (the view names {photos} photos)", step["images"]));
        }
        let fonts = step["fonts"].as_array().cloned().unwrap_or_default();
        if !fonts.iter().any(|f| f["familyName"] == "WenQuanYi Zen Hei" && f["glyphCount"].as_u64().unwrap_or(0) > 0) {
            failures.push(format!("{name}: Chinese text not drawn with WenQuanYi Zen Hei: {fonts:?}"));
        }
        // not-checked items are shown: the kiosk cases have no surface column
        let nc_cols: BTreeSet<String> = step["not_checked"].as_array().into_iter().flatten().filter_map(|n| n[1].as_str().map(str::to_string)).collect();
        for n in &s.verdict.not_checked {
            let item = n.item.as_str();
            if (item == "surface" || item == "chip") && !nc_cols.contains(item) {
                failures.push(format!("{name}: not_checked {item} not shown ({nc_cols:?})"));
            }
        }
        // chip content that failed passive authentication is compared and shown: the chip column
        // is not greyed, its header says not authenticated (and only then)
        let unauthenticated = idcheck::web::chip_unauthenticated_in(&s.verdict);
        if step["chip_unauthenticated"] != unauthenticated {
            failures.push(format!("{name}: chip column marked not authenticated: {}, the verdict says {unauthenticated}", step["chip_unauthenticated"]));
        }
        if unauthenticated && nc_cols.contains("chip") {
            failures.push(format!("{name}: the chip column of an unauthenticated chip is greyed as not checked"));
        }
        // keyboard: visible focus, help, first finding
        let keys = &step["keys"];
        if keys["tab"]["outline"].as_str().is_none_or(|o| o.starts_with("none")) {
            failures.push(format!("{name}: no visible focus after Tab: {keys}"));
        }
        if keys["help_open"] != true || keys["help_closed"] != true {
            failures.push(format!("{name}: '?' / Escape do not open / close the help: {keys}"));
        }
        let has_findings = !s.verdict.findings.is_empty();
        if has_findings && keys["f_focus"] != "goto" {
            failures.push(format!("{name}: 'f' does not focus the first finding: {keys}"));
        }
        let shot = step["screenshot"].as_str().unwrap_or("");
        if std::fs::metadata(shot).map(|m| m.len()).unwrap_or(0) < 10_000 {
            failures.push(format!("{name}: no screenshot at {shot}"));
        }
    }

    // recent verifications: every stored verdict is listed
    let step = driver.next(Duration::from_secs(60));
    assert_eq!(step["step"], "recent", "{step}");
    if !step["errors"].as_array().is_some_and(|e| e.is_empty()) {
        failures.push(format!("recent: browser errors {}", step["errors"]));
    }

    // live: the page is connected; a verification now must show up by itself
    let ready = driver.next(Duration::from_secs(60));
    assert_eq!(ready, json!({"step": "live", "ready": true}), "live page not ready: {ready}");
    let kiosk = committed_case("pass-kiosk");
    d.import(&kiosk.acceptance);
    let emu = Emulator::start(r, ChipImage::load_dir(&kiosk.chip).expect("chip image"), Faults::default());
    let v = d.verdict(&Daemon::kiosk(&kiosk.record_id, &r.name));
    let live_id = v.id.expect("id");
    let step = driver.next(Duration::from_secs(90));
    drop(emu);
    assert_eq!(step["step"], "live", "{step}");
    if step["shown"] != json!(live_id.to_string()) {
        failures.push(format!("live: shows verification {} instead of {live_id}", step["shown"]));
    }
    let states: Vec<String> = step["live_states"].as_array().into_iter().flatten().filter_map(|s| s.as_str().map(str::to_string)).collect();
    if !states.iter().any(|s| s.starts_with("reading:")) || !states.last().is_some_and(|s| s.starts_with("finished:")) {
        failures.push(format!("live: states seen {states:?} (want reading… then finished)"));
    }
    if step["status"] != "pass" || !shown_marks(&step).is_empty() {
        failures.push(format!("live: status {} marks {:?}", step["status"], shown_marks(&step)));
    }
    if !step["errors"].as_array().is_some_and(|e| e.is_empty()) {
        failures.push(format!("live: browser errors {}", step["errors"]));
    }

    let _ = writeln!(std::io::stderr(), "browser screenshots in {}", artifacts.display());
    assert!(failures.is_empty(), "{} problem(s):\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn without_a_login_the_page_loads_nothing_from_the_api() {
    let test = "without_a_login_the_page_loads_nothing_from_the_api";
    if !browser_ready(test) {
        return;
    }
    let Some(env) = env(test) else { return };
    let lease = lease(env, 1);
    let mut d = Daemon::start(&lease.readers, Extra::default());
    let (base, _token) = with_tcp(&mut d);
    // the browser without the cookie: every request is refused, the page says why
    let job = json!({
        "base": base, "token": null, "artifacts": artifacts_dir(), "chromium": CHROMIUM,
        "steps": [{"name": "no-login", "hash": "#/recent", "wait": "body"}],
    });
    let driver = Driver::start(&job);
    let step = driver.next(Duration::from_secs(60));
    let errs: Vec<String> = step["errors"].as_array().into_iter().flatten().filter_map(|e| e.as_str().map(str::to_string)).collect();
    assert!(errs.iter().any(|e| e.starts_with("HTTP 401")), "the page was served without the token: {errs:?}");
    assert!(step["marks"].as_array().is_none_or(|m| m.is_empty()), "{step}");
}

#[test]
fn the_batch_page_counts_the_causes_and_n_opens_the_invalid_card() {
    use idcheck_testkit::fixtures::Defect;
    let test = "the_batch_page_counts_the_causes_and_n_opens_the_invalid_card";
    if !browser_ready(test) {
        return;
    }
    let Some(env) = env(test) else { return };
    let lease = lease(env, 1);
    let r = &lease.readers[0];
    let mut d = Daemon::start(&lease.readers, Extra::default());

    // two generated QC applications: a right card and a misprinted one (cause 1)
    let corpus = d.dir.join("corpus");
    let cases = GenCase::generate(&corpus, 7007, &[Defect::None, Defect::SurfaceName]);
    std::fs::copy(corpus.join("trust/csca.pem"), d.dir.join("trust/corpus.pem")).expect("trust");
    let (base, token) = with_tcp(&mut d); // the restart also loads the corpus CSCA
    d.wait_readers(1, Duration::from_secs(5));
    let records = batch_records(&d.dir, &cases);
    let inbox = d.dir.join("inbox");
    std::fs::create_dir_all(&inbox).expect("inbox");

    // the batch through the API; the test plays the scanner and the operator
    let client = d.client();
    let mut events = client.events().expect("events");
    let req = BatchRequest { name: Some("早班 browser".into()), records, inbox: inbox.clone(), reader: Some(r.name.clone()), card_wait_secs: Some(30) };
    let (code, created) = client.call::<BatchCreated>(Method::POST, "/v1/qc/batches", Some(&req)).expect("create batch");
    assert!(code.is_success(), "create batch: {code} {created:?}");
    let batch_id = created.id;
    for g in &cases {
        let (surface, chip, rid) = (g.surface(), g.chip(), g.record_id());
        copy_dir(&surface, &inbox.join(surface.file_name().expect("scan dir")));
        events
            .wait_for("verification_waiting", Duration::from_secs(30), |e| e["record_id"] == rid.as_str())
            .expect("events")
            .unwrap_or_else(|| panic!("no job waiting for {rid}; log:\n{}", d.log_text()));
        let emu = Emulator::start(r, chip, Faults::default());
        events
            .wait_for("verification_finished", Duration::from_secs(60), |e| e["record_id"] == rid.as_str())
            .expect("events")
            .unwrap_or_else(|| panic!("no verdict for {rid}; log:\n{}", d.log_text()));
        emu.stop();
    }
    // the batch as the API tells it, once both items are in
    let mut batch = Batch::default();
    for _ in 0..100 {
        batch = d.client().get_as(&format!("/v1/qc/batches/{batch_id}")).expect("batch");
        if batch.items.len() == 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let invalid: Vec<&BatchItem> = batch.items.iter().filter(|i| i.status == ItemStatus::Invalid).collect();
    assert_eq!(invalid.len(), 1, "one misprinted card: {batch:?}");
    let vid = invalid[0].verification_id.expect("verification id");
    let view: VerificationView = d.client().get_as(&format!("/v1/verifications/{vid}/view")).expect("view");
    let counts = serde_json::to_value(&batch.counts).expect("counts");

    let job = json!({
        "base": base, "token": token, "artifacts": artifacts_dir(), "chromium": CHROMIUM,
        "steps": [{
            "name": "batch", "hash": format!("#/batch/{batch_id}"), "wait": "article.batch",
            "then": {"press": "n", "wait": format!("article.verdict[data-verification=\"{vid}\"] nav[data-batch-nav] a[data-nav-next]")},
        }],
    });
    let driver = Driver::start(&job);
    let step = driver.next(Duration::from_secs(120));
    assert!(step["errors"].as_array().is_some_and(|e| e.is_empty()), "browser errors: {}", step["errors"]);
    for k in ["total", "pass", "invalid", "unavailable", "cause1", "cause2", "cause3", "cause4"] {
        assert_eq!(step["counts"][k], counts[k], "count {k}: page {} api {counts}", step["counts"]);
    }
    assert_eq!(step["counts"]["cause1"], 1, "{}", step["counts"]);
    assert_eq!(step["hash_after"], format!("#/v/{vid}"), "n opens the batch's invalid card");
    assert_eq!(shown_marks(&step), expected_marks(view.verdict.as_ref().expect("the view's verdict")), "marks of the invalid card");
    assert!(shown_marks(&step).iter().any(|(_, col, c)| col == "surface" && c.contains('1')), "cause 1 marked on the printed card: {step}");
    assert_eq!(step["images"]["loaded"], 3, "three photos: {}", step["images"]);
}

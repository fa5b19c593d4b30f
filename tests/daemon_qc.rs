//! A QC batch end to end through the real daemon, pcscd, vpcd and the card emulator: three
//! generated applications, a scanner inbox, `idcheck qc run` as the operator's console; the test
//! plays the scanner (drops each surface record into the inbox) and the operator (places the card
//! once the daemon waits for it). One card is right, one is misprinted (cause 1), one carries
//! another batch applicant's photo and fingerprints on its chip (cause 2), and the batch says
//! whose. Then the view JSON and photos of a verdict, and `idcheck qc report`.
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the failure

mod daemon_common;
mod pcsc_common;

use std::process::{Command, Stdio};
use std::time::Duration;

use daemon_common::*;
use idcheck_testkit::emulator::Faults;
use idcheck_testkit::fixtures::Defect;
use idcheck_core::lds::ChipImage;
use idcheck_testkit::personalize::ChipContent;
use idcheck_testkit::testpki::TestPki;
use idcheck_core::qc::CarryBy;
use idcheck_core::verdict::Sources;
use idcheck::wire::{Batch, Batches, DaemonEvent, VerificationView};
use pcsc_common::*;

#[test]
fn a_qc_batch_pairs_scans_verifies_cards_and_names_whose_data_a_wrong_card_carries() {
    let Some(env) = env("a_qc_batch_pairs_scans_verifies_cards_and_names_whose_data_a_wrong_card_carries") else { return };
    let lease = lease(env, 1);
    let r = &lease.readers[0];
    let d = Daemon::start(&lease.readers, Extra::default());
    d.wait_readers(1, Duration::from_secs(5));

    // three applications of a generated corpus
    let corpus = d.dir.join("corpus");
    let cases = GenCase::generate(&corpus, 4242, &[Defect::None, Defect::NoneMinority, Defect::SurfaceName]);
    let (a, b, c) = (&cases[0], &cases[1], &cases[2]);
    assert_ne!(a.record_id(), b.record_id());

    // the corpus CSCA joins the daemon's trust anchors (reloaded on SIGHUP)
    std::fs::copy(corpus.join("trust/csca.pem"), d.dir.join("trust/corpus.pem")).expect("trust");
    d.signal(nix::sys::signal::Signal::SIGHUP);
    std::thread::sleep(Duration::from_millis(500));

    // A's card made with B's photo and fingerprints on the chip (A's text, A's MRZ: it opens)
    let rec_a = idcheck_core::records::acceptance::load_dir(&a.acceptance()).expect("record a");
    let rec_b = idcheck_core::records::acceptance::load_dir(&b.acceptance()).expect("record b");
    let mut mixed = rec_a.clone();
    mixed.photo = rec_b.photo.clone();
    mixed.fingerprints = rec_b.fingerprints.clone();
    let pki = TestPki::load_dir(&corpus.join("pki")).expect("test pki");
    let wrong_chip = ChipContent::from_record(&mixed).expect("content").write(&pki, time::OffsetDateTime::now_utc()).expect("chip");

    // the batch's records, and the operator's console
    let records = batch_records(&d.dir, &cases);
    let inbox = d.dir.join("inbox");
    std::fs::create_dir_all(&inbox).expect("inbox");
    let client = d.client();
    let mut events = client.events().expect("events");
    let console = Command::new(env!("CARGO_BIN_EXE_idcheck"))
        .args(["qc", "run", "--name", "test batch", "--card-wait-secs", "30", "--reader"])
        .arg(&r.name)
        .arg("--records")
        .arg(&records)
        .arg("--inbox")
        .arg(&inbox)
        .arg("--socket")
        .arg(&d.socket)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("qc run");

    // scanner and operator: B (right card), C (misprinted), A (wrong chip)
    let plan: Vec<(&GenCase, ChipImage)> = vec![(b, b.chip()), (c, c.chip()), (a, wrong_chip)];
    for (g, chip) in plan {
        let scan = g.surface();
        copy_dir(&scan, &inbox.join(scan.file_name().expect("scan dir")));
        let rid = g.record_id();
        events
            .wait_for("verification_waiting", Duration::from_secs(20), |e| e["record_id"] == rid.as_str())
            .expect("events")
            .unwrap_or_else(|| panic!("no job waiting for {rid}; log:\n{}", d.log_text()));
        let emu = Emulator::start(r, chip, Faults::default());
        let item = events
            .wait_for("qc_item", Duration::from_secs(30), |_| true)
            .expect("events")
            .unwrap_or_else(|| panic!("no qc_item for {rid}; log:\n{}", d.log_text()));
        // the event carries the item's status and causes typed (names, numbers), not as text
        assert!(matches!(item.parse::<DaemonEvent>(), Ok(DaemonEvent::QcItem { .. })), "{item:?}");
        emu.stop();
    }
    let out = console.wait_with_output().expect("qc run ends");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "qc run exits 1 when a card is invalid:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("summary"), "{stdout}");

    // the batch: counts per cause, and whose data the wrong card carries
    let list: Batches = d.client().get_as("/v1/qc/batches").expect("batches");
    let id = list.batches.first().expect("a batch").id;
    let batch: Batch = d.client().get_as(&format!("/v1/qc/batches/{id}")).expect("batch");
    let counts = &batch.counts;
    assert_eq!((counts.total, counts.pass, counts.invalid), (3, 1, 2), "{batch:?}");
    assert_eq!((counts.cause1, counts.cause2), (1, 1), "{batch:?}");
    assert_eq!(list.batches[0].counts, batch.counts, "the list shows the batch's counts");
    let item_a = batch.items.iter().find(|i| i.record_id.as_deref() == Some(a.record_id().as_str())).expect("item a").clone();
    let carries = &item_a.carries;
    for by in [CarryBy::Photo, CarryBy::Fingerprint] {
        assert!(carries.iter().any(|c| c.record_id == b.record_id() && c.by == by), "A's card carries B's data by {by:?}: {item_a:?}");
    }
    assert!(carries.iter().all(|c| c.record_id == b.record_id()), "{item_a:?}");
    assert!(stdout.contains(&b.record_id()), "the console names whose data the card carries:\n{stdout}");

    // the view of that verdict: three columns, the photos, the fingerprint scores
    let vid = item_a.verification_id.expect("verification id");
    let (code, view) = d.client().call::<VerificationView>(hyper::Method::GET, &format!("/v1/verifications/{vid}/view"), None::<&()>).expect("view");
    assert_eq!(code.as_u16(), 200, "{view:?}");
    assert_eq!(view.rows.len(), 9, "{view:?}");
    let name_row = view.rows.iter().find(|r| r.item == "name").expect("name row");
    assert_eq!(name_row.acceptance, name_row.chip);
    for col in ["acceptance", "surface", "chip"] {
        let url = view.photos.url(col).unwrap_or_else(|| panic!("no {col} photo: {view:?}"));
        let (code, _) = d.client().get(url).expect("photo");
        assert_eq!(code.as_u16(), 200, "{url}");
    }
    assert!(view.fingers.len() == 2 && view.fingers.iter().all(|f| f.score.is_some()), "{view:?}");
    let verdict = view.verdict.as_ref().expect("the view's verdict");
    assert!(verdict.findings.iter().any(|f| f.item == "photo" && f.sources == Sources::SC), "{view:?}");

    // the batch report from the store
    let report = d.dir.join("report");
    let out = Command::new(env!("CARGO_BIN_EXE_idcheck"))
        .args(["qc", "report", "--batch", &id.to_string(), "--out"])
        .arg(&report)
        .arg("--db")
        .arg(&d.db)
        .output()
        .expect("qc report");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let html = std::fs::read_to_string(report.join("report.html")).expect("report.html");
    assert!(html.contains("data:image/png;base64,"), "the report carries its pictures");
    assert!(!html.contains("src=\"/v1/"), "the report must not link to the daemon");
    let csv = std::fs::read_to_string(report.join("report.csv")).expect("report.csv");
    assert_eq!(csv.lines().count(), 4, "header and three cards:\n{csv}");
}

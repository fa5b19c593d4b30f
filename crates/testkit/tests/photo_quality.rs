//! The photo standard's rule (cause 4) against every portrait: raw portraits on their own
//! backdrops fail, and the photos the studio makes from them pass (a monochrome portrait's fails
//! colourfulness). Here rather than in the core, because the studio is test tooling.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed expectation is the failure

use std::path::PathBuf;

use idcheck_core::compare::photo::decode;
use idcheck_core::rules::photo_quality::{assess, measure};
use idcheck_testkit::calibration::photo::MONOCHROME_CHROMA;
use idcheck_testkit::fixtures::print;

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// Every raw portrait (scaled, its own backdrop) fails, and no photo made to the standard
/// from a colour portrait fails (a monochrome portrait's fails colourfulness) — on the committed faces, and on
/// all of ../shared/data/faces when present.
#[test]
fn raw_portraits_fail_and_standard_photos_pass() {
    let committed = root().join("fixtures/faces");
    let shared = root().join("../shared/data/faces");
    let mut dirs = vec![committed];
    if shared.is_dir() {
        dirs.push(shared);
    } else {
        eprintln!("{} absent: only the committed faces are checked", shared.display());
    }
    for dir in dirs {
        let mut names: Vec<_> = std::fs::read_dir(&dir)
            .expect("faces dir")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "jpg"))
            .collect();
        names.sort();
        let (mut raw_failing, mut std_passing, mut mono) = (0, 0, 0);
        let mut wrong = Vec::new();
        let mut fail_counts: std::collections::BTreeMap<String, usize> = Default::default();
        for p in &names {
            let f = decode(&std::fs::read(p).expect("face")).expect("decode");
            let raw = assess(&print::raw_acceptance_photo(&f));
            for m in raw.failures() {
                *fail_counts.entry(m.name.clone()).or_default() += 1;
            }
            if raw.passed() {
                wrong.push(format!("{}: raw portrait passes", p.display()));
            } else {
                raw_failing += 1;
            }
            let r = assess(&print::acceptance_photo(&f));
            let failed: Vec<String> = r.failures().iter().map(|m| format!("{} {} ({})", m.name, m.actual, m.expected)).collect();
            let monochrome = measure(&f).colourfulness < MONOCHROME_CHROMA;
            if failed.is_empty() {
                std_passing += 1;
            } else if monochrome {
                // Not a valid acceptance photo whatever the studio does (GA 461: colour).
                assert!(failed.iter().any(|m| m.starts_with("photo.colourfulness")), "{}: {failed:?}", p.display());
                mono += 1;
            } else {
                wrong.push(format!("{}: standard photo fails {failed:?}", p.display()));
            }
        }
        eprintln!(
            "{}: {} portraits; raw portraits failing {raw_failing}; standard photos passing {std_passing}, monochrome (failing colourfulness) {mono}; raw failures by metric {fail_counts:?}",
            dir.display(),
            names.len()
        );
        assert!(wrong.is_empty(), "{} wrong:\n{}", wrong.len(), wrong.join("\n"));
    }
}

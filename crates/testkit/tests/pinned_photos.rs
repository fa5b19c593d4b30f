//! The standard photos committed under fixtures/photos/ (read by the core's unit tests, which
//! cannot run the studio and the print simulation) are byte for byte what
//! `fixtures::pinned::photos` makes today. `IDCHECK_WRITE_PINNED=1` rewrites them.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed expectation is the failure

use std::path::PathBuf;

use idcheck_testkit::fixtures::pinned;

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

#[test]
fn pinned_photos_are_what_the_studio_and_the_printer_make() {
    let dir = root().join("fixtures/photos");
    let made = pinned::photos(&root().join("fixtures/faces")).expect("pinned photos");
    assert_eq!(made.len(), 2 * pinned::FACES.len() + pinned::PRINTED);
    if std::env::var_os("IDCHECK_WRITE_PINNED").is_some() {
        std::fs::create_dir_all(&dir).expect("mkdir");
        for (name, bytes) in &made {
            std::fs::write(dir.join(name), bytes).expect("write");
        }
    }
    let mut stale = Vec::new();
    for (name, bytes) in &made {
        match std::fs::read(dir.join(name)) {
            Ok(b) if &b == bytes => {}
            Ok(_) => stale.push(format!("{name} differs")),
            Err(e) => stale.push(format!("{name}: {e}")),
        }
    }
    assert!(stale.is_empty(), "fixtures/photos is stale (rerun with IDCHECK_WRITE_PINNED=1): {stale:?}");
}

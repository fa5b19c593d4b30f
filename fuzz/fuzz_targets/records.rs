//! Fuzzes the strict record parsers of `idcheck_core::records`: the acceptance record as a JSON
//! Lines file (`acceptance::load_jsonl`, one record per line) and as a record directory
//! (`acceptance::load_dir`), and the surface record (`surface::load_dir`), plus the date,
//! timestamp and relative-path checks they use. The public entry points read files, so each
//! input is written to a per-process directory under /dev/shm (tmpfs; /tmp when absent) that
//! also holds small referenced files (photo.jpg, fp1.iso, fp2.iso, front.png, back.png), so a
//! record that parses reaches the file references and the fingerprint entries.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use idcheck_core::records::{acceptance, check_relative_path, parse_date, parse_timestamp, surface};
use libfuzzer_sys::fuzz_target;

fn dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = if std::path::Path::new("/dev/shm").is_dir() { PathBuf::from("/dev/shm") } else { std::env::temp_dir() };
        let d = base.join(format!("idcheck-fuzz-records-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("fuzz scratch directory");
        let iso = include_bytes!("../../fixtures/samples/pass-case/acceptance/451022202404011140/fp1.iso");
        for (name, bytes) in [
            ("photo.jpg", &b"\xFF\xD8\xFF\xE0 not a real photo"[..]),
            ("fp1.iso", &iso[..]),
            ("fp2.iso", &iso[..]),
            ("front.png", &b"\x89PNG\r\n\x1a\n"[..]),
            ("back.png", &b"\x89PNG\r\n\x1a\n"[..]),
        ] {
            std::fs::write(d.join(name), bytes).expect("fuzz scratch file");
        }
        d
    })
}

fuzz_target!(|data: &[u8]| {
    let d = dir();
    let jsonl = d.join("records.jsonl");
    std::fs::write(&jsonl, data).expect("write jsonl");
    if let Ok(results) = acceptance::load_jsonl(&jsonl) {
        for r in results {
            match r {
                Ok(rec) => {
                    let _ = format!("{rec:?}");
                    let _ = acceptance::to_json_text(&rec);
                }
                Err(e) => {
                    let _ = e.to_string();
                }
            }
        }
    }
    std::fs::write(d.join(acceptance::RECORD_FILE), data).expect("write record.json");
    let _ = format!("{:?}", acceptance::load_dir(d));
    std::fs::write(d.join(surface::SURFACE_FILE), data).expect("write surface.json");
    let _ = format!("{:?}", surface::load_dir(d));
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = parse_date(text);
        let _ = parse_timestamp(text);
        let _ = check_relative_path(text);
    }
});

//! The surface record of the QC scanning station (records.md): `surface.json` with the printed
//! text as read off the card (kept in printed form: `compare` normalises it) and the two scans.
//! Loading is strict like the acceptance record; `write_dir` writes a scan directory back.

use std::fs;
use std::io;
use std::path::Path;

use serde::Serialize;

use super::json::Doc;
use super::{parse_timestamp, read_json_text, read_referenced, RecordError, MAX_SCAN_FILE};
use crate::model::{Biometric, SurfaceRecord};

/// The record file inside a scan directory.
pub const SURFACE_FILE: &str = "surface.json";
/// Highest scan resolution accepted.
pub const MAX_DPI: u64 = 2400;

const KEYS: [&str; 14] = [
    "scan_id",
    "scanned_at",
    "application_id",
    "dpi",
    "name",
    "sex",
    "ethnicity",
    "birth",
    "address",
    "id_number",
    "issuing_authority",
    "validity",
    "front",
    "back",
];

/// Parse the text of `surface.json`; scans are read relative to `base`.
pub(crate) fn parse_text(
    text: &str,
    file: &Path,
    base: &Path,
) -> Result<SurfaceRecord, RecordError> {
    let doc = Doc::parse(text, file, 1)?;
    let o = doc.root();
    o.deny_unknown(&KEYS)?;
    let scan_id = o.req_str("scan_id")?;
    if scan_id.trim().is_empty() {
        return Err(o.err(Some("scan_id"), "must not be empty"));
    }
    let scanned_at = o.req_str("scanned_at")?;
    parse_timestamp(scanned_at).map_err(|m| o.err(Some("scanned_at"), m))?;
    let application_id = o.opt_str("application_id")?;
    let dpi = o.req_uint("dpi", u64::from(u32::MAX))?;
    if dpi == 0 || dpi > MAX_DPI {
        return Err(o.err(Some("dpi"), format!("{dpi} is outside 1..={MAX_DPI}")));
    }
    let text_field = |k: &str| o.req_str(k).map(str::to_string);
    let name = text_field("name")?;
    let sex = text_field("sex")?;
    let ethnicity = text_field("ethnicity")?;
    let birth = text_field("birth")?;
    let address = text_field("address")?;
    let id_number = text_field("id_number")?;
    let issuing_authority = text_field("issuing_authority")?;
    let validity = text_field("validity")?;
    let front = read_referenced(base, o.req_str("front")?, MAX_SCAN_FILE)
        .map_err(|m| o.err(Some("front"), m))?;
    let back = read_referenced(base, o.req_str("back")?, MAX_SCAN_FILE)
        .map_err(|m| o.err(Some("back"), m))?;
    Ok(SurfaceRecord {
        scan_id: scan_id.to_string(),
        scanned_at: scanned_at.to_string(),
        application_id: application_id.map(str::to_string),
        dpi: u32::try_from(dpi).unwrap_or(u32::MAX),
        name: name.into(),
        sex,
        ethnicity,
        birth: birth.into(),
        address: address.into(),
        id_number: id_number.into(),
        issuing_authority,
        validity,
        front,
        back,
    })
}

/// Load one scan directory (`surface.json`, front and back scans).
pub fn load_dir(dir: &Path) -> Result<SurfaceRecord, RecordError> {
    let file = dir.join(SURFACE_FILE);
    let text = read_json_text(&file)?;
    parse_text(&text, &file, dir)
}

#[derive(Serialize)]
struct SurfaceOut<'a> {
    scan_id: &'a str,
    scanned_at: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    application_id: Option<&'a str>,
    dpi: u32,
    name: &'a str,
    sex: &'a str,
    ethnicity: &'a str,
    birth: &'a str,
    address: &'a str,
    id_number: &'a str,
    issuing_authority: &'a str,
    validity: &'a str,
    front: String,
    back: String,
}

/// File name for a scan: `.jpg` for JPEG bytes, `.png` otherwise.
fn scan_name(stem: &str, b: &Biometric) -> String {
    if b.bytes().starts_with(&[0xFF, 0xD8, 0xFF]) {
        format!("{stem}.jpg")
    } else {
        format!("{stem}.png")
    }
}

/// Write a scan directory: `surface.json`, `front.png`, `back.png` (`.jpg` for JPEG scans).
pub fn write_dir(record: &SurfaceRecord, dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    let front = scan_name("front", &record.front);
    let back = scan_name("back", &record.back);
    let out = SurfaceOut {
        scan_id: &record.scan_id,
        scanned_at: &record.scanned_at,
        application_id: record.application_id.as_deref(),
        dpi: record.dpi,
        name: &record.name,
        sex: &record.sex,
        ethnicity: &record.ethnicity,
        birth: &record.birth,
        address: &record.address,
        id_number: &record.id_number,
        issuing_authority: &record.issuing_authority,
        validity: &record.validity,
        front: front.clone(),
        back: back.clone(),
    };
    let mut text = serde_json::to_string_pretty(&out).map_err(io::Error::other)?;
    text.push('\n');
    fs::write(dir.join(SURFACE_FILE), text)?;
    fs::write(dir.join(front), record.front.bytes())?;
    fs::write(dir.join(back), record.back.bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use proptest::prelude::*;
    use serde_json::{json, Value};

    use super::*;

    fn sample_dir() -> PathBuf {
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
            .join("fixtures/samples/pass-case/surface/QC-20240408-9308")
    }

    #[test]
    fn sample_loads() {
        let s = load_dir(&sample_dir()).expect("sample loads");
        assert_eq!(s.scan_id, "QC-20240408-9308");
        assert_eq!(s.application_id, None);
        assert_eq!(s.dpi, 600);
        assert_eq!(
            (s.sex.as_str(), s.ethnicity.as_str(), s.birth.as_str()),
            ("男", "汉", "2002年1月13日")
        );
        assert_eq!(s.validity, "2024.04.08-2034.04.08");
        assert_eq!(
            s.front.bytes(),
            fs::read(sample_dir().join("front.png"))
                .expect("front")
                .as_slice()
        );
        // Debug never shows the printed personal text or the scans.
        let dbg = format!("{s:?}");
        assert!(dbg.contains("REDACTED"), "{dbg}");
        for secret in [s.name.as_str(), s.address.as_str(), s.id_number.as_str(), s.birth.as_str()] {
            assert!(!secret.is_empty() && !dbg.contains(secret), "Debug leaks {secret:?}: {dbg}");
        }
    }

    #[test]
    fn write_then_load_round_trips() {
        let mut s = load_dir(&sample_dir()).expect("sample loads");
        s.application_id = Some("451022202404011140".into());
        let tmp = tempfile::tempdir().expect("tempdir");
        write_dir(&s, tmp.path()).expect("write");
        assert_eq!(load_dir(tmp.path()).expect("reload"), s);
    }

    fn variant(mutate: impl FnOnce(&mut Value)) -> RecordError {
        let tmp = tempfile::tempdir().expect("tempdir");
        for f in ["front.png", "back.png"] {
            fs::copy(sample_dir().join(f), tmp.path().join(f)).expect("copy");
        }
        let mut v: Value = serde_json::from_str(
            &fs::read_to_string(sample_dir().join(SURFACE_FILE)).expect("read"),
        )
        .expect("json");
        mutate(&mut v);
        fs::write(
            tmp.path().join(SURFACE_FILE),
            serde_json::to_string_pretty(&v).expect("json"),
        )
        .expect("write");
        let e = load_dir(tmp.path()).expect_err("must be rejected");
        assert_eq!(e.file, tmp.path().join(SURFACE_FILE));
        assert!(e.line.is_some(), "{e}");
        e
    }

    #[test]
    fn malformed_variants_are_rejected() {
        type M = fn(&mut Value);
        let cases: [(M, &str, &str); 8] = [
            (|v| v["dpi"] = json!(0), "dpi", "outside"),
            (|v| v["dpi"] = json!(2401), "dpi", "outside"),
            (|v| v["dpi"] = json!("600"), "dpi", "whole number"),
            (|v| v["extra"] = json!(1), "extra", "unknown field"),
            (
                |v| {
                    v.as_object_mut().expect("obj").remove("back");
                },
                "back",
                "missing field",
            ),
            (|v| v["front"] = json!("../front.png"), "front", "`..`"),
            (
                |v| v["front"] = json!("nothere.png"),
                "front",
                "does not exist",
            ),
            (
                |v| v["scanned_at"] = json!("2024-04-08 12:37"),
                "scanned_at",
                "RFC 3339",
            ),
        ];
        for (m, field, msg) in cases {
            let e = variant(m);
            assert_eq!(e.field.as_deref(), Some(field), "{e}");
            assert!(e.message.contains(msg), "{e}");
        }
    }

    proptest! {
        #[test]
        fn random_text_never_panics(text in "\\PC{0,300}") {
            let _ = parse_text(&text, Path::new("s.json"), Path::new("/nonexistent-dir"));
        }
    }
}

//! Tests of the acceptance record loader: the independent sample loads; every malformed variant
//! is an error naming the file, the line and the field; random text never panics.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use serde_json::{json, Value};

use super::*;

fn sample_dir() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .join("fixtures/samples/pass-case/acceptance/451022202404011140")
}

/// Copy the sample record directory into a fresh temp dir; returns (guard, record dir).
fn copy_sample() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("rec");
    std::fs::create_dir(&dir).expect("mkdir");
    for e in std::fs::read_dir(sample_dir()).expect("sample present") {
        let e = e.expect("entry");
        std::fs::copy(e.path(), dir.join(e.file_name())).expect("copy");
    }
    (tmp, dir)
}

fn sample_value() -> Value {
    let text = std::fs::read_to_string(sample_dir().join(RECORD_FILE)).expect("sample record.json");
    serde_json::from_str(&text).expect("sample is JSON")
}

/// 1-based line of the `nth` (0-based) occurrence of `"key"` in text.
fn line_of(text: &str, key: &str, nth: usize) -> usize {
    let pat = format!("\"{key}\"");
    let pos = text
        .match_indices(&pat)
        .nth(nth)
        .map(|(i, _)| i)
        .expect("key in text");
    text[..pos].matches('\n').count() + 1
}

#[test]
fn sample_loads() {
    let r = load_dir(&sample_dir()).expect("sample loads");
    assert_eq!(r.application_id, "451022202404011140");
    assert_eq!(iso_date(r.accepted_on), "2024-04-01");
    assert_eq!(r.reason, Reason::NameChange);
    assert_eq!(r.sex, "1");
    assert_eq!(r.ethnicity, "01");
    assert_eq!(iso_date(r.birth_date), "2002-01-13");
    assert_eq!(
        r.valid_until,
        ValidUntil::Date(parse_date("2034-04-08").expect("date"))
    );
    assert_eq!(r.name_latin.as_deref(), Some("YIN<<SI"));
    assert_eq!(
        r.photo.bytes(),
        std::fs::read(sample_dir().join("photo.jpg"))
            .expect("photo")
            .as_slice()
    );
    assert_eq!(r.fingerprints.len(), 2);
    assert_eq!(
        (r.fingerprints[0].finger, r.fingerprints[0].quality),
        (11, Some(70))
    );
    assert_eq!(r.fingerprints[1].finger, 16);
    let t = r.fingerprints[1].template.as_ref().expect("template");
    assert_eq!(
        t.bytes(),
        std::fs::read(sample_dir().join("fp2.iso"))
            .expect("fp2")
            .as_slice()
    );
    // Debug never shows biometric bytes or personal text.
    let dbg = format!("{r:?}");
    assert!(dbg.contains("REDACTED"), "{dbg}");
    let latin = r.name_latin.as_ref().map(|l| l.as_str()).unwrap_or_default();
    for secret in [r.name.as_str(), r.address.as_str(), r.id_number.as_str(), latin] {
        assert!(!secret.is_empty() && !dbg.contains(secret), "Debug leaks {secret:?}: {dbg}");
    }
}

#[test]
fn write_then_load_round_trips() {
    let r = load_dir(&sample_dir()).expect("sample loads");
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("out");
    write_dir(&r, &out).expect("write");
    let back = load_dir(&out).expect("reload");
    assert_eq!(back, r);
    assert_eq!(
        to_json(&r),
        sample_value(),
        "to_json reproduces the sample's record.json"
    );
}

#[test]
fn failed_capture_round_trips() {
    let mut r = load_dir(&sample_dir()).expect("sample loads");
    r.fingerprints[1] = FingerprintEntry {
        finger: 16,
        result: Registration::NotRegistered,
        quality: None,
        template: None,
        exception: Some("scar".into()),
    };
    r.valid_until = ValidUntil::LongTerm;
    r.name_latin = None;
    let tmp = tempfile::tempdir().expect("tempdir");
    write_dir(&r, tmp.path()).expect("write");
    assert!(!tmp.path().join("fp2.iso").exists());
    assert_eq!(load_dir(tmp.path()).expect("reload"), r);
}

/// Write `v` pretty into the copied record dir, load it, return (text, error).
fn load_variant(v: &Value) -> (String, RecordError, PathBuf) {
    let (tmp, dir) = copy_sample();
    let text = serde_json::to_string_pretty(v).expect("json");
    std::fs::write(dir.join(RECORD_FILE), &text).expect("write");
    let err = load_dir(&dir).expect_err("variant must be rejected");
    assert_eq!(
        err.file,
        dir.join(RECORD_FILE),
        "error names the record file"
    );
    drop(tmp);
    (text, err, dir)
}

#[test]
fn malformed_variants_name_file_line_and_field() {
    // (description, mutation, expected field, key whose line is expected (key, occurrence), message part)
    type Mutation = fn(&mut Value);
    type Case<'a> = (
        &'a str,
        Mutation,
        &'a str,
        Option<(&'a str, usize)>,
        &'a str,
    );
    let cases: Vec<Case> = vec![
        (
            "unknown key",
            |v| {
                v["nickname"] = json!("x");
            },
            "nickname",
            Some(("nickname", 0)),
            "unknown field",
        ),
        (
            "unknown fingerprint key",
            |v| {
                v["fingerprints"][1]["side"] = json!("left");
            },
            "fingerprints[1].side",
            Some(("side", 0)),
            "unknown field",
        ),
        (
            "missing field",
            |v| {
                v.as_object_mut().expect("obj").remove("birth_date");
            },
            "birth_date",
            None,
            "missing field",
        ),
        (
            "bad date",
            |v| {
                v["birth_date"] = json!("2002-02-30");
            },
            "birth_date",
            Some(("birth_date", 0)),
            "does not exist",
        ),
        (
            "date form",
            |v| {
                v["valid_from"] = json!("2024/04/08");
            },
            "valid_from",
            Some(("valid_from", 0)),
            "YYYY-MM-DD",
        ),
        (
            "bad valid_until",
            |v| {
                v["valid_until"] = json!("forever");
            },
            "valid_until",
            Some(("valid_until", 0)),
            "long-term",
        ),
        (
            "timestamp without offset",
            |v| {
                v["accepted_at"] = json!("2024-04-01T08:58:47");
            },
            "accepted_at",
            Some(("accepted_at", 0)),
            "RFC 3339",
        ),
        (
            "bad reason",
            |v| {
                v["reason"] = json!("lost");
            },
            "reason",
            Some(("reason", 0)),
            "first_issue",
        ),
        (
            "sex as number",
            |v| {
                v["sex"] = json!(1);
            },
            "sex",
            Some(("sex", 0)),
            "expected a string",
        ),
        (
            "finger as string",
            |v| {
                v["fingerprints"][0]["finger"] = json!("11");
            },
            "fingerprints[0].finger",
            Some(("finger", 0)),
            "whole number",
        ),
        (
            "finger out of range",
            |v| {
                v["fingerprints"][0]["finger"] = json!(300);
            },
            "fingerprints[0].finger",
            Some(("finger", 0)),
            "0 to 255",
        ),
        (
            "quality out of range",
            |v| {
                v["fingerprints"][1]["quality"] = json!(101);
            },
            "fingerprints[1].quality",
            Some(("quality", 1)),
            "0 to 100",
        ),
        (
            "bad result",
            |v| {
                v["fingerprints"][1]["result"] = json!("bad");
            },
            "fingerprints[1].result",
            Some(("result", 1)),
            "not_registered",
        ),
        (
            "template missing",
            |v| {
                v["fingerprints"][1]
                    .as_object_mut()
                    .expect("obj")
                    .remove("template");
            },
            "fingerprints[1].template",
            None,
            "needs a template",
        ),
        (
            "template on failure",
            |v| {
                v["fingerprints"][0]["result"] = json!("failed");
                v["fingerprints"][0]["exception"] = json!("cut");
            },
            "fingerprints[0].template",
            Some(("template", 0)),
            "must not have a template",
        ),
        (
            "exception on ok",
            |v| {
                v["fingerprints"][0]["exception"] = json!("x");
            },
            "fingerprints[0].exception",
            Some(("exception", 0)),
            "only for result",
        ),
        (
            "fingerprint not an object",
            |v| {
                v["fingerprints"][1] = json!(16);
            },
            "fingerprints[1]",
            None,
            "expected an object",
        ),
        (
            "fingerprints not an array",
            |v| {
                v["fingerprints"] = json!({});
            },
            "fingerprints",
            Some(("fingerprints", 0)),
            "expected an array",
        ),
        (
            "traversal",
            |v| {
                v["photo"] = json!("../photo.jpg");
            },
            "photo",
            Some(("photo", 0)),
            "`..`",
        ),
        (
            "absolute path",
            |v| {
                v["fingerprints"][0]["template"] = json!("/etc/passwd");
            },
            "fingerprints[0].template",
            Some(("template", 0)),
            "absolute",
        ),
        (
            "referenced file missing",
            |v| {
                v["fingerprints"][1]["template"] = json!("fp9.iso");
            },
            "fingerprints[1].template",
            Some(("template", 1)),
            "fp9.iso does not exist",
        ),
        (
            "empty application id",
            |v| {
                v["application_id"] = json!(" ");
            },
            "application_id",
            Some(("application_id", 0)),
            "empty",
        ),
    ];
    for (what, mutate, field, key_line, msg) in cases {
        let mut v = sample_value();
        mutate(&mut v);
        let (text, err, _) = load_variant(&v);
        assert_eq!(err.field.as_deref(), Some(field), "{what}: {err}");
        let want_line = key_line.map(|(k, n)| line_of(&text, k, n));
        match want_line {
            Some(l) => assert_eq!(err.line, Some(l), "{what}: {err}"),
            None => assert!(err.line.is_some(), "{what}: a line is named: {err}"),
        }
        assert!(
            err.message.contains(msg),
            "{what}: message `{}` lacks `{msg}`",
            err.message
        );
        let shown = err.to_string();
        assert!(
            shown.contains(RECORD_FILE) && shown.contains(&format!("field `{field}`")),
            "{what}: {shown}"
        );
    }
}

#[test]
fn bad_json_and_duplicates_name_the_line() {
    let (_tmp, dir) = copy_sample();
    let text = std::fs::read_to_string(dir.join(RECORD_FILE)).expect("read");
    let broken = text.replacen("\"sex\": \"1\",", "\"sex\": \"1\"", 1);
    std::fs::write(dir.join(RECORD_FILE), &broken).expect("write");
    let err = load_dir(&dir).expect_err("syntax error");
    assert_eq!(err.line, Some(line_of(&broken, "ethnicity", 0)), "{err}");
    assert!(err.message.contains("invalid JSON"), "{err}");

    let dup = text.replacen("\"sex\": \"1\",", "\"sex\": \"1\",\n \"sex\": \"2\",", 1);
    std::fs::write(dir.join(RECORD_FILE), &dup).expect("write");
    let err = load_dir(&dir).expect_err("duplicate key");
    assert_eq!(
        (err.field.as_deref(), err.line),
        (Some("sex"), Some(line_of(&dup, "sex", 1))),
        "{err}"
    );
}

#[test]
fn oversized_photo_is_refused() {
    let (_tmp, dir) = copy_sample();
    std::fs::write(
        dir.join("photo.jpg"),
        vec![0u8; (MAX_ACCEPTANCE_FILE + 1) as usize],
    )
    .expect("write");
    let err = load_dir(&dir).expect_err("too big");
    assert_eq!(err.field.as_deref(), Some("photo"));
    assert!(err.message.contains("5 MiB"), "{err}");
}

#[test]
fn missing_record_json_names_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let err = load_dir(tmp.path()).expect_err("no record");
    assert_eq!(err.file, tmp.path().join(RECORD_FILE));
    assert!(err.message.contains("does not exist"), "{err}");
}

#[test]
fn jsonl_one_result_per_line_with_line_numbers() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let sub = tmp.path().join("files");
    std::fs::create_dir(&sub).expect("mkdir");
    for f in ["photo.jpg", "fp1.iso", "fp2.iso"] {
        std::fs::copy(sample_dir().join(f), sub.join(f)).expect("copy");
    }
    let mut v = sample_value();
    v["photo"] = json!("files/photo.jpg");
    v["fingerprints"][0]["template"] = json!("files/fp1.iso");
    v["fingerprints"][1]["template"] = json!("files/fp2.iso");
    let good = serde_json::to_string(&v).expect("json");
    let mut bad_date = v.clone();
    bad_date["valid_from"] = json!("2024-13-01");
    let lines = [
        good.clone(),
        String::new(),
        "{\"application_id\": ".to_string(),
        serde_json::to_string(&bad_date).expect("json"),
        "   ".to_string(),
        good,
    ];
    let path = tmp.path().join("batch.jsonl");
    std::fs::write(&path, lines.join("\n")).expect("write");
    let out = load_any(&path).expect("readable");
    assert_eq!(out.len(), 4, "one result per non-empty line");
    assert!(out[0].is_ok(), "{:?}", out[0]);
    let e = out[1].as_ref().expect_err("bad JSON");
    assert_eq!((e.line, e.file.as_path()), (Some(3), path.as_path()));
    assert!(e.message.contains("invalid JSON"), "{e}");
    let e = out[2].as_ref().expect_err("bad date");
    assert_eq!((e.line, e.field.as_deref()), (Some(4), Some("valid_from")));
    assert!(out[3].is_ok());
}

#[test]
fn load_any_reads_a_directory_of_records() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let r = load_dir(&sample_dir()).expect("sample");
    write_dir(&r, &tmp.path().join("b")).expect("write");
    let mut r2 = r.clone();
    r2.application_id = "other".into();
    write_dir(&r2, &tmp.path().join("a")).expect("write");
    std::fs::create_dir(tmp.path().join("c")).expect("mkdir");
    std::fs::write(tmp.path().join("notes.txt"), "x").expect("write");
    let out = load_any(tmp.path()).expect("dir of dirs");
    assert_eq!(out.len(), 3);
    assert_eq!(
        out[0].as_ref().map(|r| r.application_id.as_str()),
        Ok("other")
    );
    assert_eq!(
        out[1].as_ref().map(|r| r.application_id.as_str()),
        Ok("451022202404011140")
    );
    assert!(out[2].is_err(), "an empty record directory is an error");
    assert_eq!(load_any(&tmp.path().join("b")).expect("one").len(), 1);
    assert!(load_any(&tmp.path().join("notes.txt")).is_err());
    assert!(load_any(&tmp.path().join("c")).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_text_never_panics(text in "\\PC{0,400}") {
        let _ = parse_text(&text, Path::new("r.json"), 1, &mut |_| Ok(Biometric::default()));
    }

    #[test]
    fn mutated_sample_never_panics(cut in 0usize..700, insert in "[{}\\[\\]\",:0-9a-z\\\\ \n]{0,8}") {
        let text = std::fs::read_to_string(sample_dir().join(RECORD_FILE)).expect("sample");
        let cut = (0..=cut.min(text.len())).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
        let mutated = format!("{}{}{}", &text[..cut], insert, &text[cut..]);
        let r = parse_text(&mutated, Path::new("r.json"), 1, &mut |_| Ok(Biometric(vec![1])));
        if let Err(e) = r {
            prop_assert!(e.line.is_some() || e.field.is_some() || !e.message.is_empty());
        }
    }
}

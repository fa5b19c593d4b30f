//! The acceptance record (records.md): loading one record directory, a directory of record
//! directories or a JSON Lines file, strictly (unknown keys, wrong types, bad dates, missing or
//! unsafe file references are errors naming file, line and field), and writing a record directory
//! back (used by the fixture generator). Text values are kept as given: `rules` judges them.

use std::fs;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use super::json::{Doc, Obj};
use super::{
    parse_date, parse_timestamp, read_json_text, read_referenced, RecordError, MAX_ACCEPTANCE_FILE,
    MAX_JSON_TEXT,
};
use crate::model::{
    iso_date, AcceptanceRecord, Biometric, FingerprintEntry, Reason, Registration, ValidUntil,
};

/// The record file inside a record directory.
pub const RECORD_FILE: &str = "record.json";
/// Photo file name written by [`write_dir`].
pub const PHOTO_FILE: &str = "photo.jpg";
/// At most this many fingerprint entries are read from one record.
pub const MAX_FINGERPRINTS: usize = 10;

const KEYS: [&str; 15] = [
    "application_id",
    "accepted_at",
    "reason",
    "name",
    "sex",
    "ethnicity",
    "birth_date",
    "address",
    "id_number",
    "issuing_authority",
    "valid_from",
    "valid_until",
    "name_latin",
    "photo",
    "fingerprints",
];
const FP_KEYS: [&str; 5] = ["finger", "result", "quality", "template", "exception"];

/// A file named inside a record, handed to the resolver that supplies its bytes.
pub enum FileRef<'a> {
    Photo(&'a str),
    /// `index` is the 0-based position in `fingerprints`.
    Template {
        index: usize,
        name: &'a str,
    },
}

/// Template file name written by [`write_dir`] for the fingerprint entry at 0-based `index`.
pub fn template_file_name(index: usize) -> String {
    format!("fp{}.iso", index + 1)
}

/// Parse the text of one record object. `base_line` is the line of the text in `file`;
/// `resolve` supplies the bytes of the referenced files (error: a message naming the file).
pub fn parse_text(
    text: &str,
    file: &Path,
    base_line: usize,
    resolve: &mut dyn FnMut(FileRef<'_>) -> Result<Biometric, String>,
) -> Result<AcceptanceRecord, RecordError> {
    let doc = Doc::parse(text, file, base_line)?;
    let o = doc.root();
    o.deny_unknown(&KEYS)?;

    let application_id = o.req_str("application_id")?;
    if application_id.trim().is_empty() {
        return Err(o.err(Some("application_id"), "must not be empty"));
    }
    if application_id
        .chars()
        .any(|c| c.is_control() || c == '/' || c == '\\')
    {
        return Err(o.err(
            Some("application_id"),
            "must not contain control characters or path separators",
        ));
    }
    let accepted_at = o.req_str("accepted_at")?;
    let accepted = parse_timestamp(accepted_at).map_err(|m| o.err(Some("accepted_at"), m))?;
    let reason = parse_reason(o.req_str("reason")?).map_err(|m| o.err(Some("reason"), m))?;
    let name = o.req_str("name")?;
    let sex = o.req_str("sex")?;
    let ethnicity = o.req_str("ethnicity")?;
    let birth_date =
        parse_date(o.req_str("birth_date")?).map_err(|m| o.err(Some("birth_date"), m))?;
    let address = o.req_str("address")?;
    let id_number = o.req_str("id_number")?;
    let issuing_authority = o.req_str("issuing_authority")?;
    let valid_from =
        parse_date(o.req_str("valid_from")?).map_err(|m| o.err(Some("valid_from"), m))?;
    let valid_until = match o.req_str("valid_until")? {
        "long-term" => ValidUntil::LongTerm,
        s => ValidUntil::Date(parse_date(s).map_err(|m| {
            o.err(
                Some("valid_until"),
                format!("{m}, nor the string `long-term`"),
            )
        })?),
    };
    let name_latin = o.opt_str("name_latin")?;
    let photo_name = o.req_str("photo")?;
    let photo = resolve(FileRef::Photo(photo_name)).map_err(|m| o.err(Some("photo"), m))?;

    let list = o.req_array("fingerprints")?;
    if list.len() > MAX_FINGERPRINTS {
        return Err(o.err(
            Some("fingerprints"),
            format!(
                "{} entries, at most {MAX_FINGERPRINTS} are accepted",
                list.len()
            ),
        ));
    }
    let mut fingerprints = Vec::with_capacity(list.len());
    for (i, v) in list.iter().enumerate() {
        let f = o.element_obj("fingerprints", i, v)?;
        fingerprints.push(parse_fingerprint(&f, i, resolve)?);
    }

    Ok(AcceptanceRecord {
        application_id: application_id.to_string(),
        accepted_at: accepted_at.to_string(),
        accepted_on: accepted.date(),
        reason,
        name: name.into(),
        sex: sex.to_string(),
        ethnicity: ethnicity.to_string(),
        birth_date,
        address: address.into(),
        id_number: id_number.into(),
        issuing_authority: issuing_authority.to_string(),
        valid_from,
        valid_until,
        name_latin: name_latin.map(crate::model::PersonalText::from),
        photo,
        fingerprints,
    })
}

fn parse_fingerprint(
    f: &Obj<'_>,
    index: usize,
    resolve: &mut dyn FnMut(FileRef<'_>) -> Result<Biometric, String>,
) -> Result<FingerprintEntry, RecordError> {
    f.deny_unknown(&FP_KEYS)?;
    let finger = u8::try_from(f.req_uint("finger", 255)?).unwrap_or(u8::MAX);
    let result = match f.req_str("result")? {
        "ok" => Registration::Ok,
        "failed" => Registration::Failed,
        "not_registered" => Registration::NotRegistered,
        other => {
            return Err(f.err(
                Some("result"),
                format!("`{other}` is not one of ok, failed, not_registered"),
            ));
        }
    };
    let quality = f
        .opt_uint("quality", 100)?
        .map(|q| u8::try_from(q).unwrap_or(u8::MAX));
    let template_name = f.opt_str("template")?;
    let exception = f.opt_str("exception")?;
    let template = match (result, template_name) {
        (Registration::Ok, Some(name)) => Some(
            resolve(FileRef::Template { index, name }).map_err(|m| f.err(Some("template"), m))?,
        ),
        (Registration::Ok, None) => {
            return Err(f
                .err(
                    None,
                    "missing field: a fingerprint with result `ok` needs a template",
                )
                .in_field(f.field("template")));
        }
        (_, Some(_)) => {
            return Err(f.err(
                Some("template"),
                "a fingerprint whose capture failed must not have a template",
            ));
        }
        (_, None) => None,
    };
    // A failed capture without the staff's exception reason is well-formed input whose content
    // is wrong: the cause-4 rule (rules::fingerprint_quality) reports it, not the parser.
    if let (Registration::Ok, Some(_)) = (result, exception) {
        return Err(f.err(
            Some("exception"),
            "an exception is recorded only for result `failed` or `not_registered`",
        ));
    }
    Ok(FingerprintEntry {
        finger,
        result,
        quality,
        template,
        exception: exception.map(str::to_string),
    })
}

fn parse_reason(s: &str) -> Result<Reason, String> {
    Ok(match s {
        "first_issue" => Reason::FirstIssue,
        "renewal" => Reason::Renewal,
        "replacement" => Reason::Replacement,
        "damaged" => Reason::Damaged,
        "correction" => Reason::Correction,
        "name_change" => Reason::NameChange,
        other => {
            return Err(format!(
                "`{other}` is not one of first_issue, renewal, replacement, damaged, correction, name_change"
            ))
        }
    })
}

fn file_resolver(base: &Path) -> impl FnMut(FileRef<'_>) -> Result<Biometric, String> + '_ {
    move |r| {
        let name = match r {
            FileRef::Photo(n) => n,
            FileRef::Template { name, .. } => name,
        };
        read_referenced(base, name, MAX_ACCEPTANCE_FILE)
    }
}

/// Load one record directory (`record.json`, the photo, the templates).
pub fn load_dir(dir: &Path) -> Result<AcceptanceRecord, RecordError> {
    let file = dir.join(RECORD_FILE);
    let text = read_json_text(&file)?;
    parse_text(&text, &file, 1, &mut file_resolver(dir))
}

/// Load a JSON Lines file of record objects: one result per non-empty line. File references are
/// relative to the file's directory. The outer error is for a file that cannot be read at all.
pub fn load_jsonl(path: &Path) -> Result<Vec<Result<AcceptanceRecord, RecordError>>, RecordError> {
    let f =
        fs::File::open(path).map_err(|e| RecordError::new(path, format!("cannot open: {e}")))?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut reader = BufReader::new(f);
    let mut out = Vec::new();
    let mut line_no = 0usize;
    let mut buf = Vec::new();
    loop {
        line_no += 1;
        buf.clear();
        let n = reader
            .by_ref()
            .take(MAX_JSON_TEXT + 1)
            .read_until(b'\n', &mut buf)
            .map_err(|e| {
                RecordError::new(path, format!("cannot read: {e}")).at_line(Some(line_no))
            })?;
        if n == 0 {
            break;
        }
        if buf.len() as u64 > MAX_JSON_TEXT && buf.last() != Some(&b'\n') {
            out.push(Err(RecordError::new(
                path,
                format!("line longer than {MAX_JSON_TEXT} bytes"),
            )
            .at_line(Some(line_no))));
            skip_to_newline(&mut reader)
                .map_err(|e| RecordError::new(path, format!("cannot read: {e}")))?;
            continue;
        }
        let text = match std::str::from_utf8(&buf) {
            Ok(t) => t.trim_end_matches(['\n', '\r']),
            Err(e) => {
                out.push(Err(RecordError::new(
                    path,
                    format!("not valid UTF-8 (byte {} of the line)", e.valid_up_to()),
                )
                .at_line(Some(line_no))));
                continue;
            }
        };
        if text.trim().is_empty() {
            continue;
        }
        out.push(parse_text(text, path, line_no, &mut file_resolver(&base)));
    }
    Ok(out)
}

fn skip_to_newline(r: &mut impl BufRead) -> io::Result<()> {
    loop {
        let (done, used) = {
            let avail = r.fill_buf()?;
            if avail.is_empty() {
                return Ok(());
            }
            match avail.iter().position(|&b| b == b'\n') {
                Some(p) => (true, p + 1),
                None => (false, avail.len()),
            }
        };
        r.consume(used);
        if done {
            return Ok(());
        }
    }
}

/// Load whatever `path` is: a record directory, a directory of record directories (sorted by
/// name; hidden entries skipped), or a `.jsonl` file.
pub fn load_any(path: &Path) -> Result<Vec<Result<AcceptanceRecord, RecordError>>, RecordError> {
    let meta =
        fs::metadata(path).map_err(|e| RecordError::new(path, format!("cannot read: {e}")))?;
    if meta.is_file() {
        if path.file_name().is_some_and(|n| n == RECORD_FILE) {
            let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
            return Ok(vec![load_dir(&dir)]);
        }
        if path.extension().is_some_and(|e| e == "jsonl") {
            return load_jsonl(path);
        }
        return Err(RecordError::new(
            path,
            "expected a record directory, a directory of record directories, or a .jsonl file",
        ));
    }
    if path.join(RECORD_FILE).exists() {
        return Ok(vec![load_dir(path)]);
    }
    let mut dirs: Vec<PathBuf> = fs::read_dir(path)
        .map_err(|e| RecordError::new(path, format!("cannot list directory: {e}")))?
        .filter_map(Result::ok)
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    if dirs.is_empty() {
        return Err(RecordError::new(
            path,
            format!("no {RECORD_FILE} and no record directories here"),
        ));
    }
    dirs.sort();
    Ok(dirs.iter().map(|d| load_dir(d)).collect())
}

#[derive(Serialize)]
struct RecordOut<'a> {
    application_id: &'a str,
    accepted_at: &'a str,
    reason: Reason,
    name: &'a str,
    sex: &'a str,
    ethnicity: &'a str,
    birth_date: String,
    address: &'a str,
    id_number: &'a str,
    issuing_authority: &'a str,
    valid_from: String,
    valid_until: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    name_latin: Option<&'a str>,
    photo: &'static str,
    fingerprints: Vec<FingerOut<'a>>,
}

#[derive(Serialize)]
struct FingerOut<'a> {
    finger: u8,
    result: Registration,
    #[serde(skip_serializing_if = "Option::is_none")]
    quality: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    template: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exception: Option<&'a str>,
}

fn record_out(r: &AcceptanceRecord) -> RecordOut<'_> {
    RecordOut {
        application_id: &r.application_id,
        accepted_at: &r.accepted_at,
        reason: r.reason,
        name: &r.name,
        sex: &r.sex,
        ethnicity: &r.ethnicity,
        birth_date: iso_date(r.birth_date),
        address: &r.address,
        id_number: &r.id_number,
        issuing_authority: &r.issuing_authority,
        valid_from: iso_date(r.valid_from),
        valid_until: r.valid_until.to_string(),
        name_latin: r.name_latin.as_deref(),
        photo: PHOTO_FILE,
        fingerprints: r
            .fingerprints
            .iter()
            .enumerate()
            .map(|(i, f)| FingerOut {
                finger: f.finger,
                result: f.result,
                quality: f.quality,
                template: f.template.as_ref().map(|_| template_file_name(i)),
                exception: f.exception.as_deref(),
            })
            .collect(),
    }
}

/// The `record.json` object of a record, as [`write_dir`] writes it (photo `photo.jpg`,
/// templates `fp1.iso`, `fp2.iso`... by entry position).
pub fn to_json(record: &AcceptanceRecord) -> Value {
    serde_json::to_value(record_out(record)).unwrap_or(Value::Null)
}

/// The `record.json` text (pretty, fields in the documented order, final newline).
pub fn to_json_text(record: &AcceptanceRecord) -> String {
    let mut s = serde_json::to_string_pretty(&record_out(record)).unwrap_or_default();
    s.push('\n');
    s
}

/// Write a record directory: `record.json`, `photo.jpg` and `fpN.iso` for each entry with a
/// template. Creates `dir` if needed.
pub fn write_dir(record: &AcceptanceRecord, dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    fs::write(dir.join(RECORD_FILE), to_json_text(record))?;
    fs::write(dir.join(PHOTO_FILE), record.photo.bytes())?;
    for (i, f) in record.fingerprints.iter().enumerate() {
        if let Some(t) = &f.template {
            fs::write(dir.join(template_file_name(i)), t.bytes())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;

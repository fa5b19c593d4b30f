//! Input records handed over by the systems around the daemon (records.md): the acceptance record
//! (`acceptance`) and the surface record of the QC scanner (`surface`). This module owns the
//! strict parsing shared by both: the error type naming file, line and field, the checked JSON
//! object reader (unknown and duplicate keys rejected, types and dates checked), the path rules
//! for referenced files (no absolute paths, no `..`) and size-limited reading of those files.
//! Parsing judges form only; whether a value is *correct* (sex code, ethnicity, ID number) is
//! for `rules`.

pub mod acceptance;
mod json;
pub mod surface;

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use time::format_description::well_known::Rfc3339;
use time::{Date, Month, OffsetDateTime};

use crate::model::Biometric;

/// Largest acceptance photo or fingerprint template read (5 MiB).
pub const MAX_ACCEPTANCE_FILE: u64 = 5 * 1024 * 1024;
/// Largest surface scan read (64 MiB: a card at 2400 dpi).
pub const MAX_SCAN_FILE: u64 = 64 * 1024 * 1024;
/// Largest record.json / surface.json / JSON Lines line read (1 MiB).
pub const MAX_JSON_TEXT: u64 = 1024 * 1024;

/// A malformed input record: which file, which line (when known), which field, what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    pub file: PathBuf,
    pub line: Option<usize>,
    /// Field path, e.g. `birth_date` or `fingerprints[1].template` (0-based array index).
    pub field: Option<String>,
    pub message: String,
}

impl RecordError {
    pub fn new(file: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        RecordError {
            file: file.into(),
            line: None,
            field: None,
            message: message.into(),
        }
    }
    pub fn at_line(mut self, line: Option<usize>) -> Self {
        self.line = line;
        self
    }
    pub fn in_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        f.write_str(": ")?;
        if let Some(field) = &self.field {
            write!(f, "field `{field}`: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for RecordError {}

/// Parse a strict `YYYY-MM-DD` calendar date.
pub fn parse_date(s: &str) -> Result<Date, String> {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|p| p.iter().all(u8::is_ascii_digit));
    if b.len() != 10
        || b.get(4) != Some(&b'-')
        || b.get(7) != Some(&b'-')
        || !digits(0..4)
        || !digits(5..7)
        || !digits(8..10)
    {
        return Err(format!("`{s}` is not a date of the form YYYY-MM-DD"));
    }
    let num = |r: std::ops::Range<usize>| -> u32 {
        b.get(r)
            .unwrap_or_default()
            .iter()
            .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'))
    };
    let (y, m, d) = (num(0..4), num(5..7), num(8..10));
    let month = u8::try_from(m)
        .ok()
        .and_then(|m| Month::try_from(m).ok())
        .ok_or_else(|| format!("`{s}`: month {m} does not exist"))?;
    let year = i32::try_from(y).map_err(|_| format!("`{s}`: year out of range"))?;
    let day = u8::try_from(d).map_err(|_| format!("`{s}`: day {d} does not exist"))?;
    Date::from_calendar_date(year, month, day)
        .map_err(|_| format!("`{s}`: day {d} does not exist in that month"))
}

/// Parse an RFC 3339 timestamp with an explicit offset (`Z` or `+hh:mm`).
pub fn parse_timestamp(s: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(s, &Rfc3339).map_err(|e| {
        format!(
            "`{s}` is not an RFC 3339 timestamp with offset (e.g. 2011-02-24T09:30:00+08:00): {e}"
        )
    })
}

/// Check a path given inside a record: relative, no `..`, no root or drive prefix.
pub fn check_relative_path(s: &str) -> Result<&Path, String> {
    if s.is_empty() {
        return Err("empty file name".into());
    }
    if s.contains('\0') {
        return Err("file name contains a NUL character".into());
    }
    let p = Path::new(s);
    for c in p.components() {
        match c {
            Component::Normal(_) | Component::CurDir => {}
            Component::ParentDir => {
                return Err(format!(
                    "`{s}` leaves the record directory (`..` is not allowed)"
                ))
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(format!(
                    "`{s}` is an absolute path; give a path relative to the record"
                ))
            }
        }
    }
    if s.starts_with('/') || s.starts_with('\\') {
        return Err(format!(
            "`{s}` is an absolute path; give a path relative to the record"
        ));
    }
    Ok(p)
}

/// Read a whole file of at most `limit` bytes. The error message names the path.
pub fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>, String> {
    let file = File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!("file {} does not exist", path.display()),
        _ => format!("cannot open {}: {e}", path.display()),
    })?;
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if !meta.is_file() {
        return Err(format!("{} is not a regular file", path.display()));
    }
    if meta.len() > limit {
        return Err(format!(
            "{} is {} bytes, more than the limit of {}",
            path.display(),
            meta.len(),
            human_size(limit)
        ));
    }
    let mut buf = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(limit + 1)
        .read_to_end(&mut buf)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if buf.len() as u64 > limit {
        return Err(format!(
            "{} grew past the limit of {} while being read",
            path.display(),
            human_size(limit)
        ));
    }
    Ok(buf)
}

/// Read a referenced file (`photo`, `template`, `front`...) below `base`.
pub(crate) fn read_referenced(base: &Path, name: &str, limit: u64) -> Result<Biometric, String> {
    let rel = check_relative_path(name)?;
    read_limited(&base.join(rel), limit).map(Biometric)
}

fn human_size(n: u64) -> String {
    if n.is_multiple_of(1024 * 1024) {
        format!("{} MiB", n / (1024 * 1024))
    } else {
        format!("{n} bytes")
    }
}

/// Read a JSON text file (record.json, surface.json) as UTF-8, size-limited.
pub(crate) fn read_json_text(path: &Path) -> Result<String, RecordError> {
    let bytes = read_limited(path, MAX_JSON_TEXT).map_err(|m| RecordError::new(path, m))?;
    String::from_utf8(bytes).map_err(|e| {
        RecordError::new(
            path,
            format!("not valid UTF-8 (byte {})", e.utf8_error().valid_up_to()),
        )
        .at_line(None)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_strict() {
        assert_eq!(
            parse_date("1986-09-11").map(crate::model::iso_date),
            Ok("1986-09-11".to_string())
        );
        assert!(parse_date("2000-02-29").is_ok());
        for bad in [
            "1986-9-11",
            "1986/09/11",
            "19860911",
            "2001-02-29",
            "1986-13-01",
            "1986-00-10",
            "1986-01-32",
            "",
            " 1986-09-11",
            "+986-09-11",
            "１９８６-09-11",
        ] {
            assert!(parse_date(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn timestamps_need_an_offset() {
        let t = parse_timestamp("2011-02-24T23:30:00-08:00").expect("valid");
        assert_eq!(crate::model::iso_date(t.date()), "2011-02-24");
        assert!(parse_timestamp("2011-02-24T09:30:00Z").is_ok());
        assert!(parse_timestamp("2011-02-24T09:30:00").is_err());
        assert!(parse_timestamp("2011-02-24").is_err());
    }

    #[test]
    fn traversal_is_rejected() {
        assert!(check_relative_path("photo.jpg").is_ok());
        assert!(check_relative_path("sub/photo.jpg").is_ok());
        assert!(check_relative_path("./photo.jpg").is_ok());
        for bad in ["", "/etc/passwd", "../x.jpg", "a/../../x", "a/..", "\\x"] {
            assert!(
                check_relative_path(bad).is_err(),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn display_names_file_line_field() {
        let e = RecordError::new("/r/record.json", "bad")
            .at_line(Some(3))
            .in_field("sex");
        assert_eq!(e.to_string(), "/r/record.json:3: field `sex`: bad");
        assert_eq!(RecordError::new("f", "m").to_string(), "f: m");
    }

    #[test]
    fn read_limited_refuses_large_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("big");
        std::fs::write(&p, vec![0u8; 2048]).expect("write");
        assert!(read_limited(&p, 2048).is_ok());
        let err = read_limited(&p, 1024).expect_err("too big");
        assert!(err.contains("more than the limit"), "{err}");
        let err = read_limited(&dir.path().join("none"), 10).expect_err("missing");
        assert!(
            err.contains("does not exist") && err.contains("none"),
            "{err}"
        );
    }
}

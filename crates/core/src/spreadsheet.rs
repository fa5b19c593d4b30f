//! CSV as idcheck writes and reads it (the audit export, the QC batch report), through the `csv`
//! crate, with the one formula guard: a cell that a spreadsheet would run as a formula (leading
//! `=`, `+`, `-`, `@`, tab or carriage return) is written with a leading `'`, and so is a cell
//! that already begins with `'`, so that [`unguard`] gives back every cell exactly (the audit
//! export is read back and its hashes recomputed). Owns no file: callers hand it writers.

use std::borrow::Cow;

/// Line ends of a CSV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineEnd {
    /// `\n` (the audit export, one record per line like its JSON Lines form).
    Lf,
    /// `\r\n` (RFC 4180; the batch report, opened in spreadsheets).
    CrLf,
}

/// A cell as written: prefixed with `'` when it starts like a formula or with `'`.
pub fn guard(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r', '\'']) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// A cell as read: the inverse of [`guard`].
pub fn unguard(cell: &str) -> &str {
    cell.strip_prefix('\'').unwrap_or(cell)
}

/// One CSV row (quoted where needed by the `csv` crate, every cell guarded), with its line end.
pub fn row<S: AsRef<str>>(cells: &[S], end: LineEnd) -> Result<Vec<u8>, csv::Error> {
    let terminator = match end {
        LineEnd::Lf => csv::Terminator::Any(b'\n'),
        LineEnd::CrLf => csv::Terminator::CRLF,
    };
    let mut w = csv::WriterBuilder::new().terminator(terminator).from_writer(Vec::new());
    w.write_record(cells.iter().map(|c| guard(c.as_ref()).into_owned()))?;
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

/// A reader of CSV rows (no header handling, rows of any length), for [`unguard`]ed cells.
pub fn reader<R: std::io::Read>(input: R) -> csv::Reader<R> {
    csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(input)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cell_round_trips_and_formulas_are_guarded() {
        let cells = ["entry", "a,b", "q\"uote", "", "{\"k\":[1,2]}", "=1+1", "+86", "-x", "@SUM(A1)", "'quoted", "two\nlines", "\tx"];
        let bytes = row(&cells, LineEnd::CrLf).expect("row");
        let text = String::from_utf8(bytes.clone()).expect("utf-8");
        assert!(text.ends_with("\r\n"));
        assert!(text.contains("'=1+1") && text.contains("'+86") && text.contains("'@SUM(A1)") && text.contains("''quoted"));
        let mut r = reader(bytes.as_slice());
        let rec = r.records().next().expect("one row").expect("parses");
        let back: Vec<&str> = rec.iter().map(unguard).collect();
        assert_eq!(back, cells);
        assert_eq!(guard("plain"), "plain");
    }
}

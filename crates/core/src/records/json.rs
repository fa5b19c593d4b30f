//! Checked reading of one JSON object record: syntax errors with their line, a position index
//! of every key (so that a field error names its line), duplicate and unknown keys rejected,
//! and typed field accessors whose errors name the field path. Never panics on any text.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use serde_json::{Map, Value};

use super::RecordError;

/// A parsed JSON text with the line of every key.
pub(crate) struct Doc<'f> {
    file: &'f Path,
    /// Line in `file` of the first line of the text (1 for a whole file; N for JSON Lines).
    base_line: usize,
    /// Field path -> 1-based line inside the text.
    lines: HashMap<String, usize>,
    root: Value,
}

impl<'f> Doc<'f> {
    /// Parse `text`; the root must be an object.
    pub(crate) fn parse(
        text: &str,
        file: &'f Path,
        base_line: usize,
    ) -> Result<Doc<'f>, RecordError> {
        let root: Value = serde_json::from_str(text).map_err(|e| {
            let full = e.to_string();
            let suffix = format!(" at line {} column {}", e.line(), e.column());
            let msg = full.strip_suffix(&suffix).unwrap_or(&full);
            let line = if e.line() == 0 {
                None
            } else {
                Some(base_line + e.line() - 1)
            };
            RecordError::new(file, format!("invalid JSON (column {}): {msg}", e.column()))
                .at_line(line)
        })?;
        if !root.is_object() {
            return Err(RecordError::new(
                file,
                format!("expected a JSON object, found {}", kind(&root)),
            )
            .at_line(Some(base_line)));
        }
        let mut sc = Scanner {
            b: text.as_bytes(),
            i: 0,
            line: 1,
            lines: HashMap::new(),
            dup: None,
            depth: 0,
        };
        sc.ws();
        let root_line = sc.line;
        sc.value("");
        if let Some((path, line)) = sc.dup {
            return Err(RecordError::new(file, "key given more than once")
                .in_field(path)
                .at_line(Some(base_line + line - 1)));
        }
        let mut lines = sc.lines;
        lines.insert(String::new(), root_line);
        Ok(Doc {
            file,
            base_line,
            lines,
            root,
        })
    }

    pub(crate) fn root(&self) -> Obj<'_> {
        // Doc::parse rejects a non-object root; the empty map is never used in practice.
        let map = self.root.as_object().unwrap_or_else(|| empty_map());
        Obj {
            doc: self,
            path: String::new(),
            map,
        }
    }

    fn line_of(&self, path: &str) -> Option<usize> {
        let mut p = path;
        loop {
            if let Some(l) = self.lines.get(p) {
                return Some(self.base_line + l - 1);
            }
            if p.is_empty() {
                return None;
            }
            p = parent_path(p);
        }
    }
}

fn empty_map() -> &'static Map<String, Value> {
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    EMPTY.get_or_init(Map::new)
}

fn parent_path(p: &str) -> &str {
    match p.rfind(['.', '[']) {
        Some(i) => p.get(..i).unwrap_or(""),
        None => "",
    }
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// What kind of JSON value this is, for messages.
pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// One JSON object of the document, with its field path.
pub(crate) struct Obj<'d> {
    doc: &'d Doc<'d>,
    path: String,
    map: &'d Map<String, Value>,
}

impl<'d> Obj<'d> {
    pub(crate) fn field(&self, key: &str) -> String {
        join(&self.path, key)
    }

    /// An error about `key` of this object (or the object itself when `key` is None).
    pub(crate) fn err(&self, key: Option<&str>, message: impl Into<String>) -> RecordError {
        let path = match key {
            Some(k) => self.field(k),
            None => self.path.clone(),
        };
        let line = self.doc.line_of(&path);
        let e = RecordError::new(self.doc.file, message).at_line(line);
        if path.is_empty() {
            e
        } else {
            e.in_field(path)
        }
    }

    /// Reject keys not in `allowed`, naming the first one in document order.
    pub(crate) fn deny_unknown(&self, allowed: &[&str]) -> Result<(), RecordError> {
        let unknown = self
            .map
            .keys()
            .filter(|k| !allowed.contains(&k.as_str()))
            .min_by_key(|k| {
                self.doc
                    .lines
                    .get(&self.field(k))
                    .copied()
                    .unwrap_or(usize::MAX)
            });
        match unknown {
            Some(k) => Err(self.err(
                Some(k),
                format!("unknown field (expected one of: {})", allowed.join(", ")),
            )),
            None => Ok(()),
        }
    }

    fn get(&self, key: &str) -> Option<&'d Value> {
        self.map.get(key)
    }

    fn missing(&self, key: &str) -> RecordError {
        let what = if self.path.is_empty() {
            "the record".to_string()
        } else {
            format!("`{}`", self.path)
        };
        let mut e = self.err(None, format!("missing field (required in {what})"));
        e.field = Some(self.field(key));
        e
    }

    pub(crate) fn req_str(&self, key: &str) -> Result<&'d str, RecordError> {
        match self.get(key) {
            None => Err(self.missing(key)),
            Some(Value::String(s)) => Ok(s),
            Some(v) => Err(self.err(Some(key), format!("expected a string, found {}", kind(v)))),
        }
    }

    /// Absent or null -> None.
    pub(crate) fn opt_str(&self, key: &str) -> Result<Option<&'d str>, RecordError> {
        match self.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(v) => Err(self.err(Some(key), format!("expected a string, found {}", kind(v)))),
        }
    }

    pub(crate) fn req_uint(&self, key: &str, max: u64) -> Result<u64, RecordError> {
        match self.get(key) {
            None => Err(self.missing(key)),
            Some(v) => self.uint_value(key, v, max),
        }
    }

    /// Absent or null -> None.
    pub(crate) fn opt_uint(&self, key: &str, max: u64) -> Result<Option<u64>, RecordError> {
        match self.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => self.uint_value(key, v, max).map(Some),
        }
    }

    fn uint_value(&self, key: &str, v: &Value, max: u64) -> Result<u64, RecordError> {
        match v {
            Value::Number(n) => match n.as_u64() {
                Some(x) if x <= max => Ok(x),
                _ => Err(self.err(
                    Some(key),
                    format!("expected a whole number from 0 to {max}, found {n}"),
                )),
            },
            v => Err(self.err(
                Some(key),
                format!("expected a whole number, found {}", kind(v)),
            )),
        }
    }

    /// The elements of an array field, each with its field path.
    pub(crate) fn req_array(&self, key: &str) -> Result<&'d [Value], RecordError> {
        match self.get(key) {
            None => Err(self.missing(key)),
            Some(Value::Array(a)) => Ok(a),
            Some(v) => Err(self.err(Some(key), format!("expected an array, found {}", kind(v)))),
        }
    }

    /// Element `i` of array field `key`, which must be an object.
    pub(crate) fn element_obj(
        &self,
        key: &str,
        i: usize,
        v: &'d Value,
    ) -> Result<Obj<'d>, RecordError> {
        let path = format!("{}[{i}]", self.field(key));
        match v {
            Value::Object(map) => Ok(Obj {
                doc: self.doc,
                path,
                map,
            }),
            v => {
                let e = RecordError::new(
                    self.doc.file,
                    format!("expected an object, found {}", kind(v)),
                )
                .at_line(self.doc.line_of(&path));
                Err(e.in_field(path))
            }
        }
    }
}

/// Walks the (already validated) JSON text to record the line of every key and array element,
/// and to find duplicate keys. Gives up silently on anything unexpected.
struct Scanner<'t> {
    b: &'t [u8],
    i: usize,
    line: usize,
    lines: HashMap<String, usize>,
    dup: Option<(String, usize)>,
    depth: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn ws(&mut self) {
        while let Some(c) = self.peek() {
            match c {
                b'\n' => {
                    self.line += 1;
                    self.i += 1;
                }
                b' ' | b'\t' | b'\r' => self.i += 1,
                _ => break,
            }
        }
    }

    /// Skip a string; returns its raw text including quotes.
    fn string(&mut self) -> Option<&str> {
        let start = self.i;
        if self.peek()? != b'"' {
            return None;
        }
        self.i += 1;
        loop {
            match self.peek()? {
                b'\\' => self.i += 2,
                b'"' => {
                    self.i += 1;
                    break;
                }
                b'\n' => return None,
                _ => self.i += 1,
            }
        }
        std::str::from_utf8(self.b.get(start..self.i)?).ok()
    }

    fn value(&mut self, path: &str) -> Option<()> {
        if self.dup.is_some() || self.depth > 256 {
            return None;
        }
        self.ws();
        match self.peek()? {
            b'{' => {
                self.depth += 1;
                let r = self.object(path);
                self.depth -= 1;
                r
            }
            b'[' => {
                self.depth += 1;
                let r = self.array(path);
                self.depth -= 1;
                r
            }
            b'"' => self.string().map(|_| ()),
            _ => {
                while let Some(c) = self.peek() {
                    if matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\r' | b'\n') {
                        break;
                    }
                    self.i += 1;
                }
                Some(())
            }
        }
    }

    fn object(&mut self, path: &str) -> Option<()> {
        self.i += 1;
        self.ws();
        if self.peek()? == b'}' {
            self.i += 1;
            return Some(());
        }
        let mut seen = HashSet::new();
        loop {
            self.ws();
            let line = self.line;
            let raw = self.string()?.to_string();
            let key: String = serde_json::from_str(&raw).ok()?;
            let kp = join(path, &key);
            if !seen.insert(key) {
                self.dup = Some((kp, line));
                return None;
            }
            self.lines.entry(kp.clone()).or_insert(line);
            self.ws();
            if self.peek()? != b':' {
                return None;
            }
            self.i += 1;
            self.value(&kp)?;
            self.ws();
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    fn array(&mut self, path: &str) -> Option<()> {
        self.i += 1;
        self.ws();
        if self.peek()? == b']' {
            self.i += 1;
            return Some(());
        }
        let mut n = 0usize;
        loop {
            self.ws();
            let ep = format!("{path}[{n}]");
            self.lines.entry(ep.clone()).or_insert(self.line);
            self.value(&ep)?;
            n += 1;
            self.ws();
            match self.peek()? {
                b',' => self.i += 1,
                b']' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_of_keys_and_elements() {
        let text = "{\n \"a\": 1,\n \"list\": [\n  {\"x\": 1},\n  {\n   \"y\": 2\n  }\n ]\n}";
        let d = Doc::parse(text, Path::new("f.json"), 1).expect("parses");
        assert_eq!(d.line_of("a"), Some(2));
        assert_eq!(d.line_of("list"), Some(3));
        assert_eq!(d.line_of("list[0]"), Some(4));
        assert_eq!(d.line_of("list[0].x"), Some(4));
        assert_eq!(d.line_of("list[1].y"), Some(6));
        assert_eq!(d.line_of("list[1].missing"), Some(5));
        assert_eq!(d.line_of("nothing"), Some(1));
    }

    #[test]
    fn duplicates_and_syntax_errors_name_lines() {
        let e = Doc::parse("{\n\"a\": 1,\n\"a\": 2}", Path::new("f"), 10)
            .err()
            .expect("dup");
        assert_eq!((e.line, e.field.as_deref()), (Some(12), Some("a")));
        let e = Doc::parse("{\n\"a\": 1,\n\"b\" 2}", Path::new("f"), 1)
            .err()
            .expect("syntax");
        assert_eq!(e.line, Some(3));
        let e = Doc::parse("[1]", Path::new("f"), 1)
            .err()
            .expect("not an object");
        assert!(e.message.contains("object"));
    }
}

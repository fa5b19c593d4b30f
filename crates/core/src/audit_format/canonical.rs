//! The canonical JSON encoding that every audit hash and signature is computed over: objects with
//! their keys sorted by their UTF-8 bytes, no whitespace, strings escaped as RFC 8259 requires and
//! nothing more (`"` `\` and U+0000..U+001F only; `\b \f \n \r \t` short forms, other control
//! characters as `\u00xx` with lower-case hex; `/` and non-ASCII written as-is in UTF-8), integers
//! in plain decimal within +-(2^53 - 1), `true`, `false`, `null`. Non-integer numbers are refused
//! (scores are carried as decimal strings). For the ASCII keys used by the audit log this is
//! exactly RFC 8785 (JCS), so an auditor's own tool can reproduce every hash.

use serde_json::Value;

/// The largest integer magnitude allowed (what an IEEE double holds exactly, as RFC 8785 needs).
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// A value that has no canonical encoding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CanonicalError {
    #[error("at {path}: the number {number} is not an integer (non-integer numbers are not allowed; use a string)")]
    NotInteger { path: String, number: String },
    #[error("at {path}: the integer {number} is outside +-(2^53 - 1)")]
    IntegerTooLarge { path: String, number: String },
}

/// The canonical encoding of `value`.
pub fn encode(value: &Value) -> Result<String, CanonicalError> {
    let mut out = String::with_capacity(256);
    if write_fast(value, &mut out) {
        return Ok(out);
    }
    // Only on failure: again, tracking where, for the error.
    out.clear();
    write_value(value, &mut out, &mut String::from("$"))?;
    Ok(out)
}

/// Append the canonical encoding of `value` to `out`; false when it has none.
pub fn encode_into(value: &Value, out: &mut String) -> Result<(), CanonicalError> {
    let start = out.len();
    if write_fast(value, out) {
        return Ok(());
    }
    out.truncate(start);
    write_value(value, out, &mut String::from("$"))
}

/// The encoder without error context (false: a number without a canonical form).
fn write_fast(value: &Value, out: &mut String) -> bool {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => {
            let fits = match (n.as_u64(), n.as_i64()) {
                (Some(u), _) => u <= MAX_SAFE_INTEGER,
                (None, Some(i)) => i.unsigned_abs() <= MAX_SAFE_INTEGER,
                _ => false,
            };
            if !fits {
                return false;
            }
            use std::fmt::Write;
            let _ = write!(out, "{n}");
        }
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                if !write_fast(item, out) {
                    return false;
                }
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (key, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(key, out);
                out.push(':');
                if !write_fast(v, out) {
                    return false;
                }
            }
            out.push('}');
        }
    }
    true
}

/// Append `s` as a canonical JSON string.
pub fn push_string(s: &str, out: &mut String) {
    write_string(s, out)
}

fn write_value(value: &Value, out: &mut String, path: &mut String) -> Result<(), CanonicalError> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => {
            let text = n.to_string();
            let magnitude = if let Some(u) = n.as_u64() {
                u
            } else if let Some(i) = n.as_i64() {
                i.unsigned_abs()
            } else {
                return Err(CanonicalError::NotInteger { path: path.clone(), number: text });
            };
            if magnitude > MAX_SAFE_INTEGER {
                return Err(CanonicalError::IntegerTooLarge { path: path.clone(), number: text });
            }
            out.push_str(&text);
        }
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                write_value(item, out, path)?;
                path.truncate(len);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(key, out);
                out.push(':');
                let len = path.len();
                path.push('.');
                path.push_str(key);
                if let Some(v) = map.get(key) {
                    write_value(v, out, path)?;
                }
                path.truncate(len);
            }
            out.push('}');
        }
    }
    Ok(())
}

fn write_string(s: &str, out: &mut String) {
    out.push('"');
    if !s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        out.push_str(s);
        out.push('"');
        return;
    }
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn keys_sorted_no_whitespace() {
        let v = json!({"b": 1, "a": {"z": [true, null, "x"], "aa": -3}, "A": "q"});
        assert_eq!(encode(&v).expect("encodes"), r#"{"A":"q","a":{"aa":-3,"z":[true,null,"x"]},"b":1}"#);
    }

    #[test]
    fn string_escapes_follow_rfc8785() {
        let v = json!("a\"b\\c/d\u{1}\n\t\u{7f}é中");
        assert_eq!(encode(&v).expect("encodes"), "\"a\\\"b\\\\c/d\\u0001\\n\\t\u{7f}é中\"");
    }

    #[test]
    fn floats_and_huge_integers_refused_with_path() {
        match encode(&json!({"f": [0.5]})) {
            Err(CanonicalError::NotInteger { path, .. }) => assert_eq!(path, "$.f[0]"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            encode(&json!({"n": 1u64 << 53})),
            Err(CanonicalError::IntegerTooLarge { .. })
        ));
        assert_eq!(encode(&json!(-(MAX_SAFE_INTEGER as i64))).expect("fits"), "-9007199254740991");
    }

    #[test]
    fn agrees_with_serde_json_string_escaping() {
        for s in ["", "plain", "\u{0}\u{1f}", "\u{2028}", "\"\\"] {
            assert_eq!(encode(&json!(s)).expect("encodes"), serde_json::to_string(s).expect("serde"));
        }
    }

    proptest! {
        // Parsing the canonical form and encoding it again gives the same bytes.
        #[test]
        fn canonical_is_a_fixed_point(keys in proptest::collection::vec("[a-z\u{0}-\u{1f}é\"]{0,6}", 0..6),
                                      s in "\\PC{0,20}", n in -1000i64..1000) {
            let mut map = serde_json::Map::new();
            for (i, k) in keys.iter().enumerate() {
                map.insert(k.clone(), if i % 2 == 0 { json!(s) } else { json!([n, null, {"k": s}]) });
            }
            let v = Value::Object(map);
            let text = encode(&v).expect("encodes");
            let back: Value = serde_json::from_str(&text).expect("valid JSON");
            prop_assert_eq!(&back, &v);
            prop_assert_eq!(encode(&back).expect("encodes"), text);
        }
    }
}

//! One audit entry and one signed checkpoint: their canonical encodings, their hashes, the
//! genesis anchor, the audit time format, and checking a checkpoint's Ed25519 signature.
//!
//! Entry encoding (hashed): `{"kind":K,"payload":P,"prev_hash":H,"seq":N,"time":T}` in the
//! canonical JSON of [`super::canonical`]; `entry_hash = hex(SHA-256(encoding))`. The first entry
//! of a log has `prev_hash` = [`GENESIS`] (64 zeros); every later one the `entry_hash` of the entry
//! before it. Checkpoint message (signed with Ed25519):
//! `{"entry_hash":..,"public_key":..,"purpose":"checkpoint"|"anchor","seq":N,"time":T,"type":"idcheck-audit-checkpoint"}`.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

use super::canonical::{self, CanonicalError};
use crate::model::sha256_hex;

/// The `prev_hash` of the first entry of a log that was never pruned.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The `type` field of a checkpoint message (domain separation of the signatures).
pub const CHECKPOINT_TYPE: &str = "idcheck-audit-checkpoint";

/// One entry of the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// 1, 2, 3 ... without gaps.
    pub seq: u64,
    /// When it was appended: UTC, `YYYY-MM-DDTHH:MM:SS.ffffffZ` (sorts as text).
    pub time: String,
    /// [`super::EntryKind`] name (`verification`, `record_import`, ...).
    pub kind: String,
    /// What happened (fields per kind: see [`super::event`]).
    pub payload: Value,
    pub prev_hash: String,
    pub entry_hash: String,
}

impl AuditEntry {
    /// The canonical encoding of the entry's content (everything but `entry_hash`).
    pub fn encoding(&self) -> Result<String, CanonicalError> {
        encode_entry(self.seq, &self.time, &self.kind, &self.payload, &self.prev_hash)
    }

    /// SHA-256 (hex) of [`Self::encoding`]: what `entry_hash` must be.
    pub fn computed_hash(&self) -> Result<String, CanonicalError> {
        Ok(sha256_hex(self.encoding()?.as_bytes()))
    }
}

/// The canonical encoding of an entry's content.
pub fn encode_entry(seq: u64, time: &str, kind: &str, payload: &Value, prev_hash: &str) -> Result<String, CanonicalError> {
    let mut payload_text = String::with_capacity(1024);
    canonical::encode_into(payload, &mut payload_text)?;
    encode_entry_with_payload(seq, time, kind, &payload_text, prev_hash)
}

/// [`encode_entry`] from the payload's canonical text (the keys in their sorted order).
pub fn encode_entry_with_payload(seq: u64, time: &str, kind: &str, payload_text: &str, prev_hash: &str) -> Result<String, CanonicalError> {
    if seq > canonical::MAX_SAFE_INTEGER {
        return Err(CanonicalError::IntegerTooLarge { path: "$.seq".into(), number: seq.to_string() });
    }
    let mut out = String::with_capacity(payload_text.len() + 200);
    out.push_str("{\"kind\":");
    canonical::push_string(kind, &mut out);
    out.push_str(",\"payload\":");
    out.push_str(payload_text);
    out.push_str(",\"prev_hash\":");
    canonical::push_string(prev_hash, &mut out);
    out.push_str(",\"seq\":");
    out.push_str(&seq.to_string());
    out.push_str(",\"time\":");
    canonical::push_string(time, &mut out);
    out.push('}');
    Ok(out)
}

/// Why a checkpoint was signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// The head of the chain at an interval, at shutdown, before an export.
    Checkpoint,
    /// The last entry removed by a prune: the first remaining entry chains to it.
    Anchor,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Checkpoint => "checkpoint",
            Purpose::Anchor => "anchor",
        }
    }
    pub fn parse(s: &str) -> Option<Purpose> {
        match s {
            "checkpoint" => Some(Purpose::Checkpoint),
            "anchor" => Some(Purpose::Anchor),
            _ => None,
        }
    }
}

/// A station's signature over one entry's hash (normally the head of the chain).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub seq: u64,
    pub entry_hash: String,
    /// When it was signed (audit time format).
    pub time: String,
    pub purpose: Purpose,
    /// Ed25519 public key, 32 bytes, hex.
    pub public_key: String,
    /// Ed25519 signature over [`Checkpoint::message`], 64 bytes, hex.
    pub signature: String,
}

impl std::fmt::Debug for Checkpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checkpoint")
            .field("seq", &self.seq)
            .field("entry_hash", &self.entry_hash)
            .field("time", &self.time)
            .field("purpose", &self.purpose)
            .field("public_key", &self.public_key)
            .finish_non_exhaustive()
    }
}

impl Checkpoint {
    /// The bytes that are signed.
    pub fn message(&self) -> Result<String, CanonicalError> {
        checkpoint_message(self.seq, &self.entry_hash, &self.time, self.purpose, &self.public_key)
    }

    /// Whether the signature is a valid Ed25519 signature by `public_key_hex` over the message
    /// (and the checkpoint names that same key).
    pub fn signature_valid(&self, public_key_hex: &str) -> bool {
        if !self.public_key.eq_ignore_ascii_case(public_key_hex) {
            return false;
        }
        let (Ok(pk), Ok(sig), Ok(msg)) = (hex::decode(public_key_hex), hex::decode(&self.signature), self.message()) else {
            return false;
        };
        ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, pk)
            .verify(msg.as_bytes(), &sig)
            .is_ok()
    }
}

/// The canonical checkpoint message.
pub fn checkpoint_message(
    seq: u64,
    entry_hash: &str,
    time: &str,
    purpose: Purpose,
    public_key: &str,
) -> Result<String, CanonicalError> {
    canonical::encode(&json!({
        "type": CHECKPOINT_TYPE,
        "seq": seq,
        "entry_hash": entry_hash,
        "time": time,
        "purpose": purpose.as_str(),
        "public_key": public_key,
    }))
}

/// Format a moment in the audit time format (UTC, microseconds, `Z`).
pub fn format_time(t: OffsetDateTime) -> String {
    let fmt = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");
    t.to_offset(UtcOffset::UTC)
        .format(&fmt)
        .unwrap_or_else(|_| "1970-01-01T00:00:00.000000Z".into())
}

/// Now, in the audit time format.
pub fn now() -> String {
    format_time(OffsetDateTime::now_utc())
}

/// Parse a time given by a user: RFC 3339 with an offset, or a date `YYYY-MM-DD` (midnight UTC).
/// Returns it in the audit time format.
pub fn parse_user_time(s: &str) -> Result<String, String> {
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Ok(format_time(t));
    }
    let date_fmt = format_description!("[year]-[month]-[day]");
    match time::Date::parse(s, &date_fmt) {
        Ok(d) => Ok(format_time(d.midnight().assume_utc())),
        Err(_) => Err(format!(
            "`{s}` is not a time: give RFC 3339 with an offset (2024-04-08T12:00:00+08:00) or a date (2024-04-08, midnight UTC)"
        )),
    }
}

/// Whether `s` is in the audit time format (and a real moment).
pub fn is_audit_time(s: &str) -> bool {
    s.len() == 27 && s.ends_with('Z') && OffsetDateTime::parse(s, &Rfc3339).is_ok_and(|t| format_time(t) == s)
}

/// Whether `s` is 64 lower-case hex digits.
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_encoding_is_fixed() {
        let e = AuditEntry {
            seq: 1,
            time: "2024-04-08T04:40:00.000000Z".into(),
            kind: "daemon_stop".into(),
            payload: json!({"reason": "signal"}),
            prev_hash: GENESIS.into(),
            entry_hash: String::new(),
        };
        let enc = e.encoding().expect("encodes");
        assert_eq!(
            enc,
            format!(r#"{{"kind":"daemon_stop","payload":{{"reason":"signal"}},"prev_hash":"{GENESIS}","seq":1,"time":"2024-04-08T04:40:00.000000Z"}}"#)
        );
        assert_eq!(e.computed_hash().expect("hash"), sha256_hex(enc.as_bytes()));
        let generic = canonical::encode(&json!({"seq": 1, "time": e.time, "kind": e.kind, "payload": e.payload, "prev_hash": e.prev_hash}));
        assert_eq!(generic.expect("encodes"), enc);
    }

    #[test]
    fn times() {
        assert_eq!(parse_user_time("2024-04-08T12:40:00+08:00").expect("rfc3339"), "2024-04-08T04:40:00.000000Z");
        assert_eq!(parse_user_time("2024-04-08").expect("date"), "2024-04-08T00:00:00.000000Z");
        assert!(parse_user_time("yesterday").is_err());
        assert!(is_audit_time(&now()));
        assert!(!is_audit_time("2024-04-08T04:40:00Z"));
        assert!(!is_audit_time("2024-13-08T04:40:00.000000Z"));
    }
}

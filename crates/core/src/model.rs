//! Domain types shared by every layer: the acceptance record, the surface record, text items and
//! biometric blobs. Plain data: parsing lives in `records`, comparison in `compare`. Biometric
//! bytes and secrets print REDACTED in Debug output.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::Date;

/// Bytes of personal biometric data (a photo, a minutiae template, a scan). Debug prints only the
/// length and SHA-256 prefix, never the content.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Biometric(pub Vec<u8>);

impl Biometric {
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
    /// Lower-case hex SHA-256 of the content.
    pub fn sha256_hex(&self) -> String {
        sha256_hex(&self.0)
    }
}

impl fmt::Debug for Biometric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Biometric(REDACTED, {} bytes)", self.0.len())
    }
}

/// Personal text: a name, an address, an ID number, a printed birth date. Debug prints REDACTED
/// and the length, never the text, and there is no `Display`: code that shows the text (a
/// finding's expected and actual values, a report row) asks for it with [`PersonalText::as_str`].
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PersonalText(String);

impl PersonalText {
    pub fn new(text: impl Into<String>) -> PersonalText {
        PersonalText(text.into())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn into_string(self) -> String {
        self.0
    }
}

impl std::ops::Deref for PersonalText {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl From<String> for PersonalText {
    fn from(s: String) -> Self {
        PersonalText(s)
    }
}

impl From<&str> for PersonalText {
    fn from(s: &str) -> Self {
        PersonalText(s.to_string())
    }
}

impl PartialEq<str> for PersonalText {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for PersonalText {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl fmt::Debug for PersonalText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "REDACTED({} chars)", self.0.chars().count())
    }
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

/// Why the application was made (Resident Identity Card Law art. 11).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    FirstIssue,
    Renewal,
    Replacement,
    Damaged,
    Correction,
    NameChange,
}

/// End of the validity period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ValidUntil {
    Date(Date),
    LongTerm,
}

impl fmt::Display for ValidUntil {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValidUntil::Date(d) => write!(f, "{}", iso_date(*d)),
            ValidUntil::LongTerm => f.write_str("long-term"),
        }
    }
}

/// `YYYY-MM-DD`.
pub fn iso_date(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// Registration result of a fingerprint capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Registration {
    Ok,
    Failed,
    NotRegistered,
}

/// One fingerprint entry of an acceptance record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FingerprintEntry {
    /// Finger code 11..20, 97..99 (chip-profile.md).
    pub finger: u8,
    pub result: Registration,
    pub quality: Option<u8>,
    /// ISO/IEC 19794-2:2005 record bytes; absent when the capture failed.
    pub template: Option<Biometric>,
    pub exception: Option<String>,
}

/// The acceptance record (records.md), as captured when the application was accepted.
/// Text items are kept as given so that cause-4 rules can judge them; dates are parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptanceRecord {
    pub application_id: String,
    /// RFC 3339 as given.
    pub accepted_at: String,
    /// The local calendar date of `accepted_at`.
    pub accepted_on: Date,
    pub reason: Reason,
    pub name: PersonalText,
    pub sex: String,
    pub ethnicity: String,
    pub birth_date: Date,
    pub address: PersonalText,
    pub id_number: PersonalText,
    pub issuing_authority: String,
    pub valid_from: Date,
    pub valid_until: ValidUntil,
    pub name_latin: Option<PersonalText>,
    pub photo: Biometric,
    pub fingerprints: Vec<FingerprintEntry>,
}

/// The surface record (records.md): printed text as read off the card, and the two scans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SurfaceRecord {
    pub scan_id: String,
    pub scanned_at: String,
    pub application_id: Option<String>,
    pub dpi: u32,
    pub name: PersonalText,
    pub sex: String,
    pub ethnicity: String,
    pub birth: PersonalText,
    pub address: PersonalText,
    pub id_number: PersonalText,
    pub issuing_authority: String,
    pub validity: String,
    /// Photo side scan (PNG or JPEG bytes).
    pub front: Biometric,
    /// Emblem side scan.
    pub back: Biometric,
}

/// The text items compared across sources, in report order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TextItem {
    Name,
    Sex,
    Ethnicity,
    BirthDate,
    Address,
    IdNumber,
    IssuingAuthority,
    ValidFrom,
    ValidUntil,
}

impl TextItem {
    pub const ALL: [TextItem; 9] = [
        TextItem::Name,
        TextItem::Sex,
        TextItem::Ethnicity,
        TextItem::BirthDate,
        TextItem::Address,
        TextItem::IdNumber,
        TextItem::IssuingAuthority,
        TextItem::ValidFrom,
        TextItem::ValidUntil,
    ];

    /// The item name used in findings.
    pub fn name(self) -> &'static str {
        match self {
            TextItem::Name => "name",
            TextItem::Sex => "sex",
            TextItem::Ethnicity => "ethnicity",
            TextItem::BirthDate => "birth_date",
            TextItem::Address => "address",
            TextItem::IdNumber => "id_number",
            TextItem::IssuingAuthority => "issuing_authority",
            TextItem::ValidFrom => "valid_from",
            TextItem::ValidUntil => "valid_until",
        }
    }
}

impl fmt::Display for TextItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn personal_text_debug_hides_the_text() {
        let t = PersonalText::from("王美娜");
        assert_eq!(format!("{t:?}"), "REDACTED(3 chars)");
        assert_eq!(format!("{:?}", Some(t.clone())), "Some(REDACTED(3 chars))");
        assert_eq!(t.as_str(), "王美娜");
        assert!(t == "王美娜");
        // Serialised as the plain string (records and the store keep the text itself).
        assert_eq!(serde_json::to_string(&t).ok().as_deref(), Some("\"王美娜\""));
    }
}

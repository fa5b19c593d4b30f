//! GB 3304 ethnicity codes and the short names printed on the card (data/gb3304.tsv compiled in
//! as the default table; a site may load its own table, since codes outside the standard exist in
//! practice). Also the cause-4 rule "ethnicity in the table".

use std::path::Path;
use std::sync::OnceLock;

use crate::model::AcceptanceRecord;
use crate::verdict::{Cause, Finding, Sources};

const DEFAULT_TABLE: &str = include_str!("../../../../data/gb3304.tsv");

/// Short names used by older editions of the table, accepted when reading a printed card.
const DEFAULT_ALIASES: [(&str, &str); 2] = [("36", "毛难"), ("46", "崩龙")];

/// One ethnicity: two-digit code, printed short name (汉), full name (汉族), older short names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ethnicity {
    pub code: String,
    pub short_name: String,
    pub full_name: String,
    pub aliases: Vec<String>,
}

/// A table of ethnicity codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EthnicityTable {
    entries: Vec<Ethnicity>,
}

/// A table file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum EthnicityTableError {
    #[error("cannot read ethnicity table {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("ethnicity table {path}:{line}: {message}")]
    Line {
        path: String,
        line: usize,
        message: String,
    },
    #[error("ethnicity table {path}: no entries")]
    Empty { path: String },
}

impl Default for EthnicityTable {
    /// The GB 3304 table compiled in from data/gb3304.tsv.
    fn default() -> Self {
        let mut t =
            EthnicityTable::parse(DEFAULT_TABLE, "data/gb3304.tsv").unwrap_or(EthnicityTable {
                entries: Vec::new(),
            });
        for (code, alias) in DEFAULT_ALIASES {
            if let Some(e) = t.entries.iter_mut().find(|e| e.code == code) {
                e.aliases.push(alias.to_string());
            }
        }
        t
    }
}

impl EthnicityTable {
    /// Load a table file: lines `code<TAB>short_name<TAB>full_name[<TAB>alias,alias]`, `#`
    /// comments and blank lines ignored; codes are two digits and unique.
    pub fn load(path: &Path) -> Result<Self, EthnicityTableError> {
        let text = std::fs::read_to_string(path).map_err(|source| EthnicityTableError::Read {
            path: path.display().to_string(),
            source,
        })?;
        EthnicityTable::parse(&text, &path.display().to_string())
    }

    /// Parse table text (see [`EthnicityTable::load`]); `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, EthnicityTableError> {
        let mut entries: Vec<Ethnicity> = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let err = |message: String| EthnicityTableError::Line {
                path: origin.to_string(),
                line: i + 1,
                message,
            };
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let cols: Vec<&str> = line.split('\t').map(str::trim).collect();
            let (code, short, full) = match cols.as_slice() {
                [c, s, f] | [c, s, f, _] => (*c, *s, *f),
                _ => {
                    return Err(err(format!(
                        "expected 3 or 4 tab-separated columns, found {}",
                        cols.len()
                    )))
                }
            };
            if code.len() != 2 || !code.bytes().all(|b| b.is_ascii_digit()) {
                return Err(err(format!("code `{code}` is not two digits")));
            }
            if short.is_empty() {
                return Err(err(format!("code {code} has no short name")));
            }
            if entries.iter().any(|e| e.code == code) {
                return Err(err(format!("code {code} listed twice")));
            }
            let aliases = cols
                .get(3)
                .map(|a| {
                    a.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            entries.push(Ethnicity {
                code: code.into(),
                short_name: short.into(),
                full_name: full.into(),
                aliases,
            });
        }
        if entries.is_empty() {
            return Err(EthnicityTableError::Empty {
                path: origin.to_string(),
            });
        }
        Ok(EthnicityTable { entries })
    }

    pub fn entries(&self) -> &[Ethnicity] {
        &self.entries
    }

    pub fn get(&self, code: &str) -> Option<&Ethnicity> {
        self.entries.iter().find(|e| e.code == code)
    }

    pub fn contains(&self, code: &str) -> bool {
        self.get(code).is_some()
    }

    /// The printed short name of a code (`01` -> `汉`).
    pub fn short_name(&self, code: &str) -> Option<&str> {
        self.get(code).map(|e| e.short_name.as_str())
    }

    /// The code of a printed name: the short name, the full name (`汉族`) or an older short name.
    pub fn code_for_short_name(&self, name: &str) -> Option<&str> {
        let name = name.trim();
        self.entries
            .iter()
            .find(|e| {
                e.short_name == name || e.full_name == name || e.aliases.iter().any(|a| a == name)
            })
            .map(|e| e.code.as_str())
    }
}

fn default_table() -> &'static EthnicityTable {
    static T: OnceLock<EthnicityTable> = OnceLock::new();
    T.get_or_init(EthnicityTable::default)
}

/// Short name of a code in the default table.
pub fn short_name(code: &str) -> Option<&'static str> {
    default_table().short_name(code)
}

/// Code of a printed name in the default table.
pub fn code_for_short_name(name: &str) -> Option<&'static str> {
    default_table().code_for_short_name(name)
}

/// Cause 4: the ethnicity code must be in the table.
pub fn check(record: &AcceptanceRecord, table: &EthnicityTable) -> Vec<Finding> {
    check_code(&record.ethnicity, table).into_iter().collect()
}

/// Judge one ethnicity value.
pub fn check_code(code: &str, table: &EthnicityTable) -> Option<Finding> {
    if table.contains(code) {
        return None;
    }
    Some(
        Finding::new(
            Cause::AcceptanceIncorrect,
            "ethnicity",
            Sources::A,
            format!(
                "ethnicity code `{code}` is not in the GB 3304 table ({} codes)",
                table.entries.len()
            ),
        )
        .values("a two-digit code of the GB 3304 table", code),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_table_matches_the_data_file() {
        let t = EthnicityTable::default();
        assert_eq!(t.entries().len(), 58, "01-56, 97, 98");
        assert_eq!(short_name("01"), Some("汉"));
        assert_eq!(short_name("05"), Some("维吾尔"));
        assert_eq!(short_name("98"), Some("外国血统中国籍人士"));
        assert_eq!(short_name("57"), None);
        assert_eq!(code_for_short_name("汉"), Some("01"));
        assert_eq!(code_for_short_name("汉族"), Some("01"));
        assert_eq!(code_for_short_name("毛难"), Some("36"));
        assert_eq!(code_for_short_name("毛南"), Some("36"));
        assert_eq!(code_for_short_name("火星"), None);
    }

    #[test]
    fn rule_table() {
        let t = EthnicityTable::default();
        for (code, ok) in [
            ("01", true),
            ("56", true),
            ("97", true),
            ("98", true),
            ("00", false),
            ("57", false),
            ("1", false),
            ("汉", false),
            ("", false),
            ("01 ", false),
        ] {
            let f = check_code(code, &t);
            assert_eq!(f.is_none(), ok, "{code:?}");
            if let Some(f) = f {
                assert_eq!(
                    (f.cause, f.item.as_str(), f.sources),
                    (Cause::AcceptanceIncorrect, "ethnicity", Sources::A)
                );
                assert_eq!(f.actual.as_deref(), Some(code));
            }
        }
    }

    #[test]
    fn custom_table_is_configurable() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("eth.tsv");
        std::fs::write(&p, "# local\n01\t汉\t汉族\n99\t穿青人\t穿青人\t穿青\n").expect("write");
        let t = EthnicityTable::load(&p).expect("loads");
        assert!(check_code("99", &t).is_none());
        assert!(check_code("02", &t).is_some());
        assert_eq!(t.code_for_short_name("穿青"), Some("99"));
        std::fs::write(&p, "01\t汉\n").expect("write");
        let e = EthnicityTable::load(&p).expect_err("bad columns");
        assert!(e.to_string().contains(":1:"), "{e}");
        std::fs::write(&p, "01\t汉\t汉族\n01\t汉\t汉族\n").expect("write");
        assert!(EthnicityTable::load(&p).is_err());
        assert!(EthnicityTable::load(&dir.path().join("none")).is_err());
    }
}

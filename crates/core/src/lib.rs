//! idcheck-core: everything idcheck decides from bytes already in memory. It owns the data
//! model ([`model`]), the acceptance and surface records ([`records`]), the chip's data groups
//! ([`lds`], BER-TLV in [`tlv`]), the ISO 19794-2 templates ([`biometrics`]), the comparisons
//! ([`compare`]: texts, photos, fingerprints), the domain rules ([`rules`]), passive
//! authentication ([`pki`]), the verdict vocabulary ([`verdict`]), the QC batch logic ([`qc`]),
//! the audit entry format ([`audit_format`]) and spreadsheet cells ([`spreadsheet`]).
//!
//! It must never: start a thread or a runtime (no tokio), open a database (no rusqlite), talk
//! to a reader (no pcsc), or touch the file system beyond the loaders that are handed a path
//! (record directories, a chip-image directory, an ethnicity table, a trust directory). Cargo
//! enforces the first three: none of those crates is a dependency.
#![forbid(unsafe_code)]
#![warn(clippy::unwrap_used)]

pub mod audit_format;
pub mod biometrics;
pub mod compare;
pub mod lds;
pub mod model;
pub mod pki;
pub mod qc;
pub mod records;
pub mod rules;
pub mod spreadsheet;
pub mod tlv;
pub mod verdict;

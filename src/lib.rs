//! idcheck: decides whether a finished resident identity card may be handed over.
//!
//! Data flows one way: inputs (records, chip image) -> parsed chip data -> comparisons ->
//! findings -> verdict -> store / CLI. See ARCHITECTURE.md for the code map and its invariants.
#![forbid(unsafe_code)]
#![warn(clippy::unwrap_used)]

pub mod audit;
pub mod audit_format;
pub mod biometrics;
pub mod calibration;
pub mod chip;
pub mod compare;
pub mod emulator;
pub mod daemon;
pub mod fixtures;
pub mod lds;
pub mod live;
pub mod model;
pub mod pcsc_transport;
pub mod personalize;
pub mod pki;
pub mod qc;
pub mod records;
pub mod rules;
pub mod spreadsheet;
pub mod store;
pub mod tlv;
pub mod verdict;
pub mod verify;
pub mod wire;
pub mod web;

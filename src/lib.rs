//! idcheck, the station: decides whether a finished resident identity card may be handed over.
//! This crate owns what runs at a station around the verification pipeline: the daemon (reader
//! monitor, jobs, local API), its API types (`wire`), the QC web page and batch reports, the auditors' log operations,
//! and (in the binary) the command line. It wires the layers below together and decides
//! nothing itself: verdicts come from `idcheck-verify`, SQL lives in `idcheck-store`, PC/SC in
//! `idcheck-pcsc`.
//!
//! Data flows one way: inputs (records, chip image) -> parsed chip data -> comparisons ->
//! findings -> verdict -> store / CLI. See ARCHITECTURE.md for the crate graph, the code map
//! and its invariants. This crate never links `idcheck-testkit` (only its tests do).
#![forbid(unsafe_code)]
#![warn(clippy::unwrap_used)]

pub mod audit;
pub mod daemon;
pub mod web;
pub mod wire;

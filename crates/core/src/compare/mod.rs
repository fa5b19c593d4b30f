//! The comparison core: text, photos and fingerprints compared across sources. Everything here
//! is pure computation on bytes and decoded values: compare/ does no I/O and knows nothing of
//! verdicts beyond returning scores and decisions.

pub mod text;
pub mod fingerprint;
pub mod photo;

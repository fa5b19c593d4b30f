//! Biometric data formats: ISO/IEC 19794-2:2005 finger minutiae records and the shared
//! minutia type. Parsing only; matching lives in `compare::fingerprint`.

pub mod iso19794_2;

pub use iso19794_2::{Minutia, MinutiaKind, MinutiaeRecord};

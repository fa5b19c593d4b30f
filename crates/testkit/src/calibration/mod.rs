//! Calibration, test tooling: measures on data the photo thresholds and quality bounds that are
//! committed in calibration/photo.json ([`photo`]; `idcheck-testkit calibrate photos`). It depends on
//! `compare`, `rules` and `fixtures` (the print simulation); nothing in the verification path
//! depends on it. (The fingerprint thresholds' calibration is `compare::fingerprint::calibration`.)

pub mod photo;

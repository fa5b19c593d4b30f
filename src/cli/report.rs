//! The readable report of a verdict, for terminals. Personal text appears only in the findings'
//! expected/actual values, as on the card itself.

use std::fmt::Write;

use idcheck_core::model::AcceptanceRecord;
use idcheck_core::verdict::{Status, Verdict};

pub fn verdict_text(v: &Verdict, record: &AcceptanceRecord) -> String {
    let mut out = String::new();
    let head = match v.status {
        Status::Pass => "PASS".to_string(),
        Status::Invalid => format!(
            "INVALID  causes {}  primary {}",
            v.causes.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(","),
            v.primary.map(|c| c.to_string()).unwrap_or_default()
        ),
        Status::Unavailable => "UNAVAILABLE".to_string(),
    };
    let _ = writeln!(out, "application {}: {head}", record.application_id);
    if let Some(r) = &v.unavailable_reason {
        let _ = writeln!(out, "  reason: {r}");
    }
    for f in &v.findings {
        let _ = write!(out, "  [cause {}] {} ({})", f.cause, f.item, f.sources);
        if let (Some(e), Some(a)) = (&f.expected, &f.actual) {
            let _ = write!(out, " expected {e:?}, found {a:?}");
        }
        if let (Some(s), Some(t)) = (f.score, f.threshold) {
            let _ = write!(out, " score {s:.4} threshold {t:.4}");
        }
        if f.borderline {
            let _ = write!(out, " BORDERLINE");
        }
        if f.chip_unauthenticated {
            let _ = write!(out, " CHIP NOT AUTHENTICATED");
        }
        let _ = writeln!(out, "\n      {}", f.detail);
    }
    for n in &v.not_checked {
        let _ = writeln!(out, "  not checked: {} ({}): {}", n.item, n.sources, n.reason);
    }
    for o in v.observations.iter().filter(|o| o.borderline) {
        let _ = writeln!(out, "  look: {} ({}) score {:.4} near threshold {:.4}", o.item, o.sources, o.score, o.threshold);
    }
    let _ = writeln!(out, "advice: {}", v.advice);
    out
}

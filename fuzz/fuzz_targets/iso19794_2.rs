//! Fuzzes ISO/IEC 19794-2:2005 minutiae record parsing (`MinutiaeRecord::parse_all`,
//! `from_bytes`) and the compact card format decode, then runs the fingerprint matcher on what
//! parsed: a view against itself, against itself minus its first minutia (so the MCC matching
//! itself runs, not the identical-hash shortcut) and against the other views. Oracles: a record
//! that parses re-encodes to one that parses equal; scores are finite, in 0..=1, symmetric.
//! Odd first byte: the record-length field (bytes 8..12) is set to the real length first, so
//! the fuzzer gets past that check without having to learn it.
#![no_main]

use idcheck_core::biometrics::iso19794_2::from_compact;
use idcheck_core::biometrics::MinutiaeRecord;
use idcheck_core::compare::fingerprint::{compare, match_score, FingerCase, Template};
use libfuzzer_sys::fuzz_target;

fn check_score(s: f64) {
    assert!(s.is_finite() && (0.0..=1.0).contains(&s), "score {s} outside 0..=1");
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, bytes)) = data.split_first() else { return };
    let mut rec = bytes.to_vec();
    if sel & 1 == 1 && rec.len() >= 12 {
        let n = u32::try_from(rec.len()).unwrap_or(u32::MAX);
        rec[8..12].copy_from_slice(&n.to_be_bytes());
    }
    let first = MinutiaeRecord::from_bytes(&rec);
    let views = match MinutiaeRecord::parse_all(&rec) {
        Ok(v) => v,
        Err(_) => {
            // The compact format has no header to get wrong.
            let m = from_compact(bytes, 197);
            let t = Template::prepare(&m);
            check_score(match_score(&t, &t));
            return;
        }
    };
    if let (Ok(f), Some(v0)) = (&first, views.first()) {
        assert_eq!(f, v0, "parse and parse_all disagree on the first view");
    }
    let _ = format!("{views:?}");
    let templates: Vec<Template> = views.iter().take(4).map(|v| Template::prepare(&v.minutiae)).collect();
    for (v, t) in views.iter().zip(&templates) {
        let again = MinutiaeRecord::from_bytes(&v.to_bytes()).expect("an encoded view parses");
        if v.minutiae.len() <= 255 {
            assert_eq!(&again, v, "view does not round-trip");
        }
        let s = match_score(t, t);
        check_score(s);
        if !v.minutiae.is_empty() {
            let fewer = Template::prepare(&v.minutiae[1..]);
            let (a, b) = (match_score(t, &fewer), match_score(&fewer, t));
            check_score(a);
            assert_eq!(a.to_bits(), b.to_bits(), "match_score is not symmetric");
            check_score(compare(&v.minutiae, &v.minutiae[1..], FingerCase::Card).score);
        }
        for u in &templates {
            check_score(match_score(t, u));
        }
    }
});

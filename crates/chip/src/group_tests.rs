//! Tests of the key-agreement groups.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::access::SystemRandomness;

#[test]
fn every_standard_domain_agrees_both_ways() {
    let mut rng = SystemRandomness::new();
    for d in StandardDomain::ALL {
        let dom = Domain::standard(d);
        assert_eq!(dom.standard_domain(), Some(d));
        let a = dom.generate(&mut rng).unwrap();
        let b = dom.generate(&mut rng).unwrap();
        assert_eq!(a.public().len(), dom.public_len(), "{d}");
        let ka = dom.agree(&a, b.public()).unwrap();
        let kb = dom.agree(&b, a.public()).unwrap();
        assert_eq!(ka.secret_bytes(), kb.secret_bytes(), "{d}");
        assert_eq!(ka.secret_bytes().len(), dom.field_len(), "{d}");
    }
}

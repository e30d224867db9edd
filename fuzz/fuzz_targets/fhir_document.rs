//! The FHIR reader and the canonical form on any bytes: never a panic; a file the reader
//! accepts has canonical forms under both schemes; the canonical form is idempotent (the
//! canonical form of a canonical form is itself) and stable under reading (a resource read
//! back from its canonical form has the same canonical form).
#![no_main]

use custodia_fhir::canonical::{bytes_with, Scheme};
use custodia_fhir::document::parse;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(once) = bytes_with(Scheme::V2, data) {
        let twice = bytes_with(Scheme::V2, &once).expect("a canonical form reads as JSON");
        assert_eq!(once, twice, "the canonical form is idempotent");
    }
    let Ok(document) = parse("fuzz.json", data) else { return };
    for resource in &document.resources {
        for scheme in [Scheme::V1, Scheme::V2] {
            let canonical = resource.canonical(scheme).expect("an accepted resource has a canonical form");
            let again = bytes_with(scheme, &canonical).expect("its canonical form reads back");
            if scheme == Scheme::V2 {
                assert_eq!(canonical, again, "parse then canonical is stable");
            }
        }
    }
});

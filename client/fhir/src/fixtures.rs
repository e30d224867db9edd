//! Where the shared FHIR R4 fixtures are (public Synthea, HL7 and IHE examples, and invalid
//! cases), for tests, examples and benchmarks: `$CUSTODIA_FHIR_FIXTURES` (scripts/env.sh sets
//! it), else `../shared/fixtures/fhir` beside the workspace.

use std::path::PathBuf;

/// The fixtures directory (it holds `bundles/`, `consent/`, `invalid/`, …).
pub fn dir() -> PathBuf {
    std::env::var_os("CUSTODIA_FHIR_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/fhir"))
}

/// The `*.json` files of one fixture category, sorted.
pub fn files(category: &str) -> Vec<PathBuf> {
    let folder = dir().join(category);
    let entries = std::fs::read_dir(&folder).unwrap_or_else(|e| {
        panic!("{}: {e}; set CUSTODIA_FHIR_FIXTURES to the shared fixtures (scripts/env.sh does)", folder.display())
    });
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

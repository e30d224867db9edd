//! One module per command group, each a thin handler over library calls.

pub mod access;
pub mod chain;
pub mod consent;
pub mod deploy;
pub mod directory;
pub mod explorer;
pub mod fhir;
pub mod gateway;
pub mod parse;
pub mod patient;
pub mod record;
pub mod store;
pub mod sync;

/// Test hook: aborts the process, as a power cut would, when `CUSTODIA_TEST_CRASH_AT` names
/// the point it has reached (`queued`, `included:N`, `cleared:N` of an outbox drain,
/// `import-batch` after a FHIR import batch, `sync-saved`, `sync-included`, `sync-recorded` of a
/// sync batch).
pub fn crash_if_at(here: &str) {
    if std::env::var("CUSTODIA_TEST_CRASH_AT").is_ok_and(|at| at == here) {
        eprintln!("crashing at {here} (CUSTODIA_TEST_CRASH_AT)");
        std::process::abort();
    }
}

//! # custodia-tests
//!
//! The tests that cross crates, in one place:
//!
//! - contract-level integration tests (`tests/{directory,records,consents,access_log}.rs`):
//!   the release bundles in the real pallet-contracts runtime, in process, through the typed
//!   harness of `custodia-sandbox`, sharing the cast of [`world`];
//! - client and service tests (`tests/client_*.rs`) on the embedded chain, sharing the
//!   deployment of [`fixture`]; the end-to-end suite over JSON-RPC (`tests/client_node.rs`,
//!   feature `e2e`, against a node `scripts/test.sh` starts);
//! - the `figures` benchmark binary;
//! - [`rng`], the seeded generator of the random walks.
//!
//! The bundles are built by `scripts/build-contracts.sh` into `target/bundles` (or
//! `$CUSTODIA_BUNDLES`).

pub mod fixture;
pub mod rng;
pub mod world;

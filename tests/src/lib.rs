//! # custodia-tests
//!
//! Runs the release bundles of the Custodia contracts in the real pallet-contracts runtime, in
//! process ([`ink_sandbox`]), with no node and no mock:
//!
//! - [`chain`]: a thin, typed harness over the sandbox: deploy a bundle, call a message built
//!   with the contract crate's own call builders, decode the result and the events, read the
//!   gas, the storage deposit and the state root;
//! - [`world`]: the cast the tests share: admins, hospitals, a laboratory, an audit body,
//!   patients (one custodial, one holding their own key), a stranger, and the deployed suite.
//!
//! The bundles are built by `scripts/build-contracts.sh` into `target/bundles` (or
//! `$CUSTODIA_BUNDLES`).
pub mod chain;
pub mod world;

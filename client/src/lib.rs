//! # custodia-client
//!
//! The core of the Rust library hospitals' integration engines link against to use a Custodia
//! deployment: typed calls, one chain backend over JSON-RPC, keys and the deployment file. It
//! knows no store, no FHIR, no command line and no in-process runtime; those are layers above
//! it (`custodia-services`, `custodia-fhir`, the `custodia` CLI) or beside it
//! (`custodia-sandbox`, the contracts in the real pallet-contracts runtime, in process).
//!
//! - [`Client`]: typed calls per registry — [`Client::directory`], [`Client::records`],
//!   [`Client::consents`], [`Client::access_log`]. Transactions end in
//!   [`Tx::submit`](call::Tx::submit), which dry-runs first (or, on the embedded chain, runs
//!   once: a refusal there leaves no trace) so that a refusal comes back as the contract's
//!   own error ([`ContractError`]) before anything is paid; queries end in
//!   [`Query::query`](call::Query::query). Events come back decoded
//!   ([`Submitted::events_of`](call::Submitted::events_of), [`events::SuiteEvent`]).
//! - [`Backend`]: what the client needs of a chain; [`NodeBackend`] is a node over
//!   WebSocket JSON-RPC with subxt.
//! - [`deployment`]: upload and instantiate the suite, wired together, and the deployment
//!   file later runs read and check against the chain.
//! - [`Signer`]: sr25519 keys from development names, secret URIs or keystore files; never
//!   printed.
//! - [`verify`]: salted commitments and keyed pseudonyms.
//! - [`Error`]: one error, a variant per phase, each keeping its typed source.

#![warn(missing_docs)]

pub mod backend;
pub mod call;
pub mod client;
pub mod deployment;
pub mod error;
pub mod events;
pub mod keys;
pub mod registry;
pub mod verify;

pub use backend::{Backend, Finality, NodeBackend};
pub use client::Client;
pub use deployment::{deploy, Bundles, Deployment, Governance};
pub use error::{ContractError, Error, Result};
pub use keys::Signer;

/// The contract crates' types (ids, roles, terms, entries, events), re-exported.
pub use custodia_types as types;

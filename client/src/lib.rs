//! # custodia-client
//!
//! The Rust library hospitals' integration engines link against to use a Custodia deployment,
//! and the `custodia` command-line tool built on it.
//!
//! - [`Client`]: typed calls per registry — [`Client::directory`], [`Client::records`],
//!   [`Client::consents`], [`Client::access_log`]. Transactions end in
//!   [`Tx::submit`](call::Tx::submit), which dry-runs first so that a refusal comes back as
//!   the contract's own error ([`ContractError`]) before anything is paid; queries end in
//!   [`Query::query`](call::Query::query). Events come back decoded
//!   ([`Submitted::events_of`](call::Submitted::events_of), [`events::SuiteEvent`]).
//! - Two backends behind one trait ([`Backend`]): [`SandboxBackend`], the contracts in the
//!   real pallet-contracts runtime in this process (the default, optionally saved to a file),
//!   and [`NodeBackend`], a node over JSON-RPC with subxt.
//! - [`deployment`]: upload and instantiate the suite, wired together, and the deployment
//!   file later runs read and check against the chain.
//! - [`Signer`]: sr25519 keys from development names, secret URIs or keystore files; never
//!   printed.
//! - [`Store`]: the durable local store (redb): the access-log outbox (no access event is
//!   lost across crashes; resubmission is idempotent on chain), the index of logged entries,
//!   the salts of committed versions.
//! - [`verify`]: salted commitments, keyed pseudonyms; [`registry::InclusionProof`]s of
//!   access entries checked against the on-chain root.

#![warn(missing_docs)]

pub mod backend;
pub mod call;
pub mod client;
pub mod deployment;
pub mod error;
pub mod events;
pub mod fhir;
pub mod keys;
pub mod registry;
pub mod store;
pub mod verify;

pub use backend::{AnyBackend, Backend, Finality, NodeBackend, SandboxBackend, SandboxClock};
pub use client::Client;
pub use deployment::{deploy, Bundles, Deployment, Governance};
pub use error::{ContractError, Error, Result};
pub use keys::Signer;
pub use store::Store;

/// The contract crates' types (ids, roles, terms, entries, events), re-exported.
pub use custodia_types as types;

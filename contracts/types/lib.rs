//! # custodia-types
//!
//! The vocabulary every Custodia party shares: the contracts, the client library and the tests.
//!
//! - [`ids`]: opaque 32-byte identifiers (patients, records, commitments, codes). None of them
//!   is ever a name, a medical record number or a birth date: patient ids are pseudonyms,
//!   commitments are salted digests and codes are opaque ids of terminology codes.
//! - [`directory`]: institutions, roles, governance proposals, patients and their controllers,
//!   the directory's events, and [`directory::DirectoryQueries`], the interface other contracts
//!   call.
//! - [`records`]: record versions, supersedence links, tombstones, verification outcomes and
//!   the records registry's events.
//! - [`consents`]: consent receipts (scope, purpose, period, permit or deny), access checks and
//!   their denials, and [`consents::ConsentQueries`], the interface the access log calls.
//! - [`access_log`]: access-log entries, break-glass reasons and the log's events.
//! - [`flags`]: the one bit set of roles and purposes.
//! - [`errors`]: what every registry's errors share: a batch's error, which registry could
//!   not be called, which id was zero, and the one reading of a cross-contract call's result.
//!
//! The crate is `no_std`; with the `std` feature it also derives storage layouts for metadata.
#![cfg_attr(not(feature = "std"), no_std)]

pub mod access_log;
pub mod consents;
pub mod directory;
pub mod errors;
pub mod flags;
pub mod ids;
pub mod records;

pub use ids::{CodeId, Commitment, InstitutionId, PatientId, RecordId, Timestamp};

/// The account type of the chain (32 bytes, sr25519 public keys on Substrate).
pub type AccountId = ink::primitives::AccountId;

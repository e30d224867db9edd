//! # custodia-services
//!
//! What an institution runs on top of the client core, each service owning its tables in the
//! one local store ([`Store`], redb) and depending on the core, never the other way round:
//!
//! - [`outbox`]: the access-log outbox: accesses judged, queued durably, then drained in
//!   chunks; nothing lost across crashes, nothing logged twice;
//! - [`index`]: the index of logged entries read from events, and inclusion proofs checked
//!   against the root on chain;
//! - [`salts`]: the salts of committed versions (without them nobody can check a copy);
//! - [`fhir_import`]: FHIR R4 files as record versions of their patient, planned, resumable,
//!   all-or-nothing per batch; and verification of local copies;
//! - [`fhir_server`]: a FHIR R4 server read over REST (its `_history`, its resources), with
//!   retries;
//! - [`sync`]: the follower of a FHIR server: every version it stores committed once, in
//!   order, resumable; and what it serves checked against the chain ([`server_verify`]);
//! - [`consent_import`]: FHIR Consents granted as receipts, denies first, once;
//! - [`audit_import`]: AuditEvents recorded elsewhere mapped to access-log entries;
//! - [`gateway`]: the consent-enforcing FHIR gateway in front of the institution's FHIR
//!   server: SMART Backend Services tokens, consent decided on chain for every version served,
//!   content verified, every read logged through the outbox before the answer leaves; it hosts
//!   the sync follower and drains the outbox;
//! - [`explorer`]: the patient explorer: a page and a read-only JSON API from which a patient
//!   sees every version, consent, access and change of control about them, checking each
//!   access's inclusion proof in the browser; and auditors an institution's accesses;
//! - [`patient_links`]: local patients known under the Custodia id they presented elsewhere
//!   (one identity across institutions);
//! - [`restore`]: a store restored from a backup brought in line with the chain
//!   ([`Store::backup`], [`Store::restore`]).
//!
//! They are one crate because they share one store file and one process (only one process
//! opens a store); each is a module with its own tables, reached by the others only through
//! its API.

#![warn(missing_docs)]

pub mod audit_import;
pub mod consent_import;
pub mod error;
pub mod explorer;
pub mod fhir_import;
pub mod fhir_server;
pub mod gateway;
pub mod index;
pub mod outbox;
pub mod patient_links;
pub mod restore;
pub mod salts;
pub mod server_verify;
pub mod store;
pub mod sync;

pub use error::{Error, Result};
pub use store::Store;

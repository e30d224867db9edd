//! The access log: numbered entries appended in a Merkle tree, its roots, and break-glass
//! counts. (Appending through a durable outbox, the index of logged entries and inclusion
//! proofs are services built on these calls: `custodia-services`.)

use super::registry;
use access_log::{BatchError, Error};
use custodia_types::{
    access_log::{Appended, LogHead, NewEntry, PatientAccesses},
    InstitutionId, PatientId,
};
use ink::primitives::AccountId;

registry! {
    /// Calls to the access log.
    AccessLog for access_log::AccessLog, at access_log;
    docs "access_log::AccessLogRef" {
        tx append(entry: NewEntry) -> Appended, Error;
        tx append_batch(entries: Vec<NewEntry>) -> Appended, BatchError;
        query head() -> LogHead;
        query root_at(size: u64) -> Option<[u8; 32]>;
        query next_seq(account: AccountId) -> u64;
        query break_glass_count(institution: InstitutionId) -> u32;
        query break_glass_on(institution: InstitutionId, day: u32) -> u32;
        query patient_accesses(patient: PatientId) -> Option<PatientAccesses>;
        query directory() -> AccountId;
        query consents() -> AccountId;
    }
}

//! Consent receipts: who may see which of a patient's records, for what purpose, until when.

pub use crate::records::VersionFacts;
use crate::{records::VersionRef, AccountId, CodeId, InstitutionId, PatientId, RecordId, Timestamp};
use ink::prelude::vec::Vec;

/// Receipt ids are sequential from 1.
pub type ReceiptId = u64;

/// Most category codes one receipt may name.
pub const MAX_CATEGORIES: u32 = 8;

/// Most receipts one `grant_set` grants.
pub const MAX_SET: u32 = 16;

/// Most receipts one `receipts` page returns.
pub const MAX_RECEIPT_PAGE: u32 = 32;

/// Most positions one `receipts` page reads, however few of them are returned (a page of
/// active receipts after many revoked ones stays bounded; the caller goes on from `next`).
pub const MAX_RECEIPT_SCAN: u32 = 128;

/// Most checks one `check_batch` call takes.
pub const MAX_CHECKS: u32 = 1000;

/// Most deny receipts one patient may have in force (each access check reads them all).
pub const MAX_DENIES_PER_PATIENT: u32 = 16;

/// Purpose of use (HL7 v3 PurposeOfUse codes in brackets).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[ink::scale_derive(Encode, Decode, TypeInfo)]
#[cfg_attr(feature = "std", derive(ink::storage::traits::StorageLayout))]
pub enum Purpose {
    /// Treatment (TREAT).
    Treatment,
    /// Emergency treatment (ETREAT).
    EmergencyTreatment,
    /// Payment (HPAYMT).
    Payment,
    /// Healthcare operations (HOPERAT).
    Operations,
    /// Research (HRESCH).
    Research,
    /// Public health (PUBHLTH).
    PublicHealth,
    /// At the patient's own request (PATRQT).
    PatientRequest,
    /// Legal (HLEGAL).
    Legal,
}

impl crate::flags::Flag for Purpose {
    const ALL_BITS: u16 = 0xff;

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// A set of purposes (two bytes; only the eight known bits are valid).
pub type Purposes = crate::flags::FlagSet<Purpose, u16>;

/// Which of the patient's records a receipt covers.
// scale-info's TypeInfo derive casts each variant's position to u8; this enum has far fewer
// than 256 variants, so the cast cannot truncate.
#[allow(clippy::cast_possible_truncation)]
#[derive(Clone, PartialEq, Eq, Debug)]
#[ink::scale_derive(Encode, Decode, TypeInfo)]
#[cfg_attr(feature = "std", derive(ink::storage::traits::StorageLayout))]
pub enum Scope {
    /// Every version of one record.
    Record(RecordId),
    /// One version of one record.
    Version(VersionRef),
    /// Every version whose kind is one of these codes (opaque ids of LOINC, SNOMED CT or ICD
    /// codes; at most `MAX_CATEGORIES`).
    Categories(Vec<CodeId>),
    /// All of the patient's records.
    AllRecords,
}

/// Permit or deny; a matching deny overrides any permit (as FHIR Consent provisions do).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[ink::scale_derive(Encode, Decode, TypeInfo)]
#[cfg_attr(feature = "std", derive(ink::storage::traits::StorageLayout))]
pub enum Decision {
    Permit,
    Deny,
}

/// Who a receipt is for: an institution, optionally only one of its accounts.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[ink::scale_derive(Encode, Decode, TypeInfo)]
#[cfg_attr(feature = "std", derive(ink::storage::traits::StorageLayout))]
pub struct Grantee {
    pub institution: InstitutionId,
    pub account: Option<AccountId>,
}

/// What a controller states when granting.
#[derive(Clone, PartialEq, Eq, Debug)]
#[ink::scale_derive(Encode, Decode, TypeInfo)]
pub struct Terms {
    pub patient: PatientId,
    pub grantee: Grantee,
    pub scope: Scope,
    pub purposes: Purposes,
    pub decision: Decision,
    /// Valid from this time (inclusive, milliseconds).
    pub valid_from: Timestamp,
    /// Valid until this time (exclusive).
    pub valid_until: Timestamp,
}

/// Who revoked a receipt and when.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[ink::scale_derive(Encode, Decode, TypeInfo)]
#[cfg_attr(feature = "std", derive(ink::storage::traits::StorageLayout))]
pub struct Revocation {
    pub revoked_by: AccountId,
    pub revoked_at: Timestamp,
}

/// A consent receipt as the chain keeps it, with its history.
#[derive(Clone, PartialEq, Eq, Debug)]
#[ink::scale_derive(Encode, Decode, TypeInfo)]
#[cfg_attr(feature = "std", derive(ink::storage::traits::StorageLayout))]
pub struct Receipt {
    pub patient: PatientId,
    pub grantee: Grantee,
    pub scope: Scope,
    pub purposes: Purposes,
    pub decision: Decision,
    pub valid_from: Timestamp,
    pub valid_until: Timestamp,
    /// The controller's account that granted it.
    pub granted_by: AccountId,
    /// Block time of the grant.
    pub granted_at: Timestamp,
    /// Set once revoked; a revoked receipt never authorises anything again.
    pub revoked: Option<Revocation>,
}

/// What an access touched: one version of a record, or a query over a category of the
/// patient's records (e.g. a FHIR search by LOINC code).
// scale-info's TypeInfo derive casts each variant's position to u8; this enum has far fewer
// than 256 variants, so the cast cannot truncate.
#[allow(clippy::cast_possible_truncation)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[ink::scale_derive(Encode, Decode, TypeInfo)]
pub enum Target {
    Version(VersionRef),
    Query(CodeId),
}

/// A receipt with its id.
#[derive(Clone, PartialEq, Eq, Debug)]
#[ink::scale_derive(Encode, Decode, TypeInfo)]
pub struct NumberedReceipt {
    pub id: ReceiptId,
    pub receipt: Receipt,
}

/// Which of a patient's receipts `receipts` reads: up to `limit` (at most
/// `MAX_RECEIPT_PAGE`) from position `from` on (grant order, counting from 0), only those in
/// force at the block's time with `active_only`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[ink::scale_derive(Encode, Decode, TypeInfo)]
pub struct ReceiptQuery {
    pub patient: PatientId,
    pub from: u32,
    pub limit: u32,
    pub active_only: bool,
}

/// A page of a patient's receipts: what `receipts` answers. `next` is the position to read
/// from next (a position among the patient's receipts, not a count); a page may be empty with
/// more to come (each call reads a bounded number of positions), and the end is a page whose
/// `next` does not move.
#[derive(Clone, PartialEq, Eq, Debug)]
#[ink::scale_derive(Encode, Decode, TypeInfo)]
pub struct ReceiptPage {
    pub items: Vec<NumberedReceipt>,
    pub next: u32,
}

/// One access to check: who, whose record, which version, why, when.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[ink::scale_derive(Encode, Decode, TypeInfo)]
pub struct AccessCheck {
    /// The account acting for the accessing institution.
    pub accessor: AccountId,
    pub patient: PatientId,
    pub target: Target,
    pub purpose: Purpose,
    pub at: Timestamp,
    /// The receipt the accessor cites; `None` to search the patient's receipts.
    pub receipt: Option<ReceiptId>,
}

/// Why an access is not authorised.
// scale-info's TypeInfo derive casts each variant's position to u8; this enum has far fewer
// than 256 variants, so the cast cannot truncate.
#[allow(clippy::cast_possible_truncation)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[ink::scale_derive(Encode, Decode, TypeInfo)]
pub enum Denial {
    /// No receipt of the patient permits it (or the cited receipt does not exist).
    NoConsent,
    /// A deny receipt matches (it overrides any permit).
    Denied(ReceiptId),
    /// The receipt's period is over (or has not begun).
    Expired(ReceiptId),
    /// The receipt was revoked.
    Revoked(ReceiptId),
    /// The receipt does not cover this grantee, record, version or purpose.
    OutOfScope(ReceiptId),
    /// The accessor does not act for an accessor institution.
    NotAccessor,
    /// The record or version does not exist or is not the patient's.
    UnknownRecord,
    /// The directory or the records registry could not be asked; nothing is authorised.
    Unavailable,
    /// A break-glass access names a purpose that is not an emergency (only
    /// `EmergencyTreatment` overrides consent).
    NotAnEmergency,
    /// The patient is not registered.
    UnknownPatient,
    /// The batch reads more receipts than one call holds (many patients with many denies):
    /// this check and the ones after it were not judged; submit them in a later batch.
    BatchTooLarge,
}

/// The consents registry's interface for the access log and the client.
#[ink::trait_definition]
pub trait ConsentQueries {
    /// The receipt that authorises `check`, or why none does.
    #[ink(message)]
    fn is_authorized(&self, check: AccessCheck) -> Result<ReceiptId, Denial>;

    /// `is_authorized` for many checks in one call (at most `MAX_CHECKS`; extra ones are
    /// answered `NoConsent`).
    #[ink(message)]
    fn check_batch(&self, checks: Vec<AccessCheck>) -> Vec<Result<ReceiptId, Denial>>;

    /// Judges break-glass accesses, which need no receipt (at most `MAX_CHECKS`; extra ones
    /// are answered `NotAnEmergency`): the accessor acts for an accessor institution, the
    /// purpose is `EmergencyTreatment`, the patient is registered, and a version read is a
    /// version of that patient's own record, so that the patient the access names is the
    /// one who sees it announced. `check.receipt` is ignored.
    #[ink(message)]
    fn check_break_glass(&self, checks: Vec<AccessCheck>) -> Vec<Result<(), Denial>>;
}

/// The receipts of one decision, granted together by `grant_set`.
#[derive(Clone, PartialEq, Eq, Debug)]
#[ink::scale_derive(Encode, Decode, TypeInfo)]
pub struct ConsentSet {
    /// What identifies the decision for the patient (e.g. the SHA-256 of a FHIR Consent's
    /// canonical form): a set with a known key grants nothing new.
    pub key: [u8; 32],
    /// The receipts' terms, all for one patient (at most `MAX_SET`).
    pub terms: Vec<Terms>,
}

/// Emitted by `grant_set`: the receipts of the set, and whether they were granted now (`new`)
/// or by an earlier call with the same key.
#[ink::event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentSetGranted {
    #[ink(topic)]
    pub patient: PatientId,
    pub key: [u8; 32],
    pub receipts: Vec<ReceiptId>,
    pub new: bool,
}

/// Emitted when a controller grants a receipt (permit or deny).
#[ink::event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentGranted {
    #[ink(topic)]
    pub patient: PatientId,
    #[ink(topic)]
    pub grantee: InstitutionId,
    #[ink(topic)]
    pub receipt: ReceiptId,
    pub grantee_account: Option<AccountId>,
    pub scope: Scope,
    pub purposes: Purposes,
    pub decision: Decision,
    pub valid_from: Timestamp,
    pub valid_until: Timestamp,
    pub granted_by: AccountId,
}

/// Emitted when a receipt is revoked; it stops authorising in this block.
#[ink::event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentRevoked {
    #[ink(topic)]
    pub patient: PatientId,
    #[ink(topic)]
    pub grantee: InstitutionId,
    #[ink(topic)]
    pub receipt: ReceiptId,
    pub revoked_by: AccountId,
    /// The end of validity the receipt had before it was revoked.
    pub was_valid_until: Timestamp,
}

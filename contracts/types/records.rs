//! Record versions, supersedence links, tombstones and verification.

use crate::{AccountId, CodeId, Commitment, InstitutionId, PatientId, RecordId, Timestamp};
use ink::prelude::vec::Vec;

/// Longest locator (bytes) a version may carry, e.g. `Observation/abc/_history/3` or a URL.
pub const MAX_LOCATOR_LEN: u32 = 256;

/// Most versions one `versions` page returns.
pub const MAX_PAGE: u32 = 32;

/// Most versions one `commit_batch` call may commit.
pub const MAX_BATCH: u32 = 64;

/// Most versions one `describe` call answers.
pub const MAX_DESCRIBE: u32 = 1000;

/// Version numbers start at 1 within a record and are never reused.
pub type VersionNo = u32;

/// One version of one record.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[ink::scale_derive(Encode, Decode, TypeInfo)]
#[cfg_attr(feature = "std", derive(ink::storage::traits::StorageLayout))]
pub struct VersionRef {
    pub record: RecordId,
    pub version: VersionNo,
}

/// What a new version does to an earlier one (FHIR `DocumentReference.relatesTo` codes and
/// `Provenance.entity.role` revision, in our words).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[ink::scale_derive(Encode, Decode, TypeInfo)]
#[cfg_attr(feature = "std", derive(ink::storage::traits::StorageLayout))]
pub enum Supersedence {
    /// The new version replaces the earlier one.
    Replaces,
    /// The new version adds to (amends, appends to) the earlier one, which stays valid.
    Amends,
    /// The earlier version was entered in error; the new one corrects it.
    Corrects,
    /// The new version is a transformation (another format, a translation) of the earlier one.
    Transforms,
}

/// A supersedence link: "this version `how` `target`" (seen from the new version), or
/// "`target` superseded this version by `how`" (seen from the old one).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[ink::scale_derive(Encode, Decode, TypeInfo)]
#[cfg_attr(feature = "std", derive(ink::storage::traits::StorageLayout))]
pub struct Link {
    pub target: VersionRef,
    pub how: Supersedence,
}

/// Why a version was erased.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[ink::scale_derive(Encode, Decode, TypeInfo)]
#[cfg_attr(feature = "std", derive(ink::storage::traits::StorageLayout))]
pub enum ErasureReason {
    /// The patient exercised the right to erasure.
    PatientRequest,
    /// The content should never have been recorded for this patient.
    EnteredInError,
    /// A court or regulator ordered it.
    LegalOrder,
    /// The retention period ended.
    RetentionExpired,
    /// Anything else; the custodian's own records say what.
    Other,
}

/// What stays where an erased version was: who erased it, when and why.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[ink::scale_derive(Encode, Decode, TypeInfo)]
#[cfg_attr(feature = "std", derive(ink::storage::traits::StorageLayout))]
pub struct Tombstone {
    pub erased_by: AccountId,
    pub erased_at: Timestamp,
    pub reason: ErasureReason,
}

/// The part of a version that erasure removes.
// scale-info's TypeInfo derive casts each variant's position to u8; this enum has far fewer
// than 256 variants, so the cast cannot truncate.
#[allow(clippy::cast_possible_truncation)]
#[derive(Clone, PartialEq, Eq, Debug)]
#[ink::scale_derive(Encode, Decode, TypeInfo)]
#[cfg_attr(feature = "std", derive(ink::storage::traits::StorageLayout))]
pub enum Content {
    /// The commitment and where the version lives.
    Committed { commitment: Commitment, locator: Vec<u8> },
    /// Erased: commitment and locator are gone, the tombstone stays.
    Erased(Tombstone),
}

/// A version with its number: what `head` and `versions` answer.
#[derive(Clone, PartialEq, Eq, Debug)]
#[ink::scale_derive(Encode, Decode, TypeInfo)]
pub struct NumberedVersion {
    pub number: VersionNo,
    pub version: Version,
}

/// One version of a record as the chain keeps it.
#[derive(Clone, PartialEq, Eq, Debug)]
#[ink::scale_derive(Encode, Decode, TypeInfo)]
#[cfg_attr(feature = "std", derive(ink::storage::traits::StorageLayout))]
pub struct Version {
    /// The commitment and locator, or the tombstone that replaced them.
    pub content: Content,
    /// Opaque code of what the version is (e.g. a FHIR resource type or a LOINC document code).
    pub kind: CodeId,
    /// The custodian's account that committed it.
    pub committed_by: AccountId,
    /// Block time of the commit.
    pub committed_at: Timestamp,
    /// The earlier version this one supersedes, and how.
    pub supersedes: Option<Link>,
}

/// A record: whose it is, who keeps it, how far its versions go.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[ink::scale_derive(Encode, Decode, TypeInfo)]
#[cfg_attr(feature = "std", derive(ink::storage::traits::StorageLayout))]
pub struct RecordInfo {
    /// The patient the record belongs to.
    pub patient: PatientId,
    /// The institution that keeps it; only its accounts commit versions.
    pub custodian: InstitutionId,
    /// The newest version number (versions run 1..=head, erased ones included).
    pub head: VersionNo,
    /// Block time of version 1.
    pub created_at: Timestamp,
}

/// One version to commit, superseding an earlier one if `supersedes` names it: what `commit`
/// takes, and each item of `commit_batch`.
#[derive(Clone, PartialEq, Eq, Debug)]
#[ink::scale_derive(Encode, Decode, TypeInfo)]
pub struct NewVersion {
    /// The record (opened by its first version).
    pub record: RecordId,
    /// The record's patient (checked against the record once it exists).
    pub patient: PatientId,
    /// The salted digest of the version's content.
    pub commitment: Commitment,
    /// Where the version lives (at most `MAX_LOCATOR_LEN` bytes).
    pub locator: Vec<u8>,
    /// Opaque code of what the version is.
    pub kind: CodeId,
    /// The earlier version it supersedes, and how.
    pub supersedes: Option<Link>,
}

/// What `verify` found.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[ink::scale_derive(Encode, Decode, TypeInfo)]
pub enum Verification {
    /// The commitment is the one recorded for that version.
    Match,
    /// The version exists and is not erased, but its commitment differs: the copy was altered.
    Mismatch,
    /// The version existed and was erased; there is nothing left to compare.
    Erased,
    /// No such record or version.
    Unknown,
}

/// Emitted when a custodian commits a version (version 1 opens the record).
#[ink::event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionCommitted {
    #[ink(topic)]
    pub record: RecordId,
    #[ink(topic)]
    pub patient: PatientId,
    #[ink(topic)]
    pub custodian: InstitutionId,
    pub version: VersionNo,
    pub commitment: Commitment,
    pub locator: Vec<u8>,
    pub kind: CodeId,
    pub committed_by: AccountId,
    /// The earlier version this one supersedes, and how.
    pub supersedes: Option<Link>,
}

/// Emitted on the superseded version's record when a later version supersedes it.
#[ink::event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionSuperseded {
    #[ink(topic)]
    pub record: RecordId,
    #[ink(topic)]
    pub patient: PatientId,
    #[ink(topic)]
    pub custodian: InstitutionId,
    pub version: VersionNo,
    /// The newer version and what it does to this one.
    pub superseded_by: Link,
}

/// Emitted when a version is erased; the tombstone says who, when and why.
#[ink::event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionErased {
    #[ink(topic)]
    pub record: RecordId,
    #[ink(topic)]
    pub patient: PatientId,
    #[ink(topic)]
    pub custodian: InstitutionId,
    pub version: VersionNo,
    pub tombstone: Tombstone,
}

/// What the registry tells other contracts about one version.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[ink::scale_derive(Encode, Decode, TypeInfo)]
pub struct VersionFacts {
    /// The record's patient.
    pub patient: PatientId,
    /// The institution that opened the record (the consents registry checks a receipt was
    /// granted while it kept the patient's records).
    pub custodian: InstitutionId,
    /// The version's kind code.
    pub kind: CodeId,
    /// True if the version was erased (its facts stay).
    pub erased: bool,
}

/// The registry's interface for other contracts (the consents registry reads it to judge
/// whether a receipt's scope covers a version).
#[ink::trait_definition]
pub trait RecordQueries {
    /// Facts of each version asked for, `None` where it does not exist (at most
    /// `MAX_DESCRIBE` are answered; the rest get `None`).
    #[ink(message)]
    fn describe(&self, versions: Vec<VersionRef>) -> Vec<Option<VersionFacts>>;
}

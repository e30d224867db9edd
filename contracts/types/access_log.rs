//! The access log: who accessed what, when, why and under which consent or break-glass reason.

use crate::{
    consents::{Purpose, ReceiptId, Target},
    AccountId, InstitutionId, PatientId, Timestamp,
};

/// Most entries one `append_batch` call takes.
pub const MAX_ENTRIES: u32 = 1000;

/// How long before the block an access may have happened and still be logged (7 days, in
/// milliseconds): an engine holding entries while the chain is unreachable has that long.
pub const MAX_ACCESS_AGE_MS: Timestamp = 7 * 86_400_000;

/// How far after the block's time an access may claim to have happened (clocks differ: the
/// block time lags the wall clock by up to a block), in milliseconds.
pub const MAX_CLOCK_SKEW_MS: Timestamp = 60_000;

/// Why an accessor broke the glass (accessed without a consent receipt).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[ink::scale_derive(Encode, Decode, TypeInfo)]
pub enum BreakGlassReason {
    /// The patient's life or health is in immediate danger.
    LifeThreatening,
    /// The patient cannot consent (unconscious, incapacitated).
    PatientIncapacitated,
    /// Urgent care that cannot wait for consent.
    UrgentCare,
    /// A legal obligation to disclose.
    LegalObligation,
}

/// What authorised an access.
// scale-info's TypeInfo derive casts each variant's position to u8; this enum has far fewer
// than 256 variants, so the cast cannot truncate.
#[allow(clippy::cast_possible_truncation)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[ink::scale_derive(Encode, Decode, TypeInfo)]
pub enum Authorization {
    /// A consent receipt, checked on chain when the entry is appended.
    Consent(ReceiptId),
    /// Emergency access without consent: accepted, flagged, announced and counted.
    BreakGlass(BreakGlassReason),
}

/// An entry as the accessor submits it. `(submitting account, seq)` is the entry's id: each
/// account numbers its entries 0, 1, 2, … and an entry whose number was already logged is
/// skipped, so resubmitting is a no-op and a missing number is refused.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[ink::scale_derive(Encode, Decode, TypeInfo)]
pub struct NewEntry {
    pub seq: u64,
    pub patient: PatientId,
    pub target: Target,
    pub purpose: Purpose,
    /// When the access happened (milliseconds since the Unix epoch): its consent is judged at
    /// that time, so a read served under a receipt revoked before the entry reached the chain
    /// is still logged. At most `MAX_ACCESS_AGE_MS` before the block and `MAX_CLOCK_SKEW_MS`
    /// after it.
    pub accessed_at: Timestamp,
    pub authorization: Authorization,
}

/// An entry as logged: its SCALE encoding is the Merkle leaf.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[ink::scale_derive(Encode, Decode, TypeInfo)]
pub struct Entry {
    /// The accessing institution.
    pub institution: InstitutionId,
    /// The account that acted (and submitted).
    pub account: AccountId,
    /// The account's entry number.
    pub seq: u64,
    pub patient: PatientId,
    pub target: Target,
    pub purpose: Purpose,
    /// When the access happened, as the accessor stated it (its consent was judged then).
    pub accessed_at: Timestamp,
    /// Block time of the append (how late an entry was logged is `at - accessed_at`).
    pub at: Timestamp,
    pub authorization: Authorization,
}

/// An entry as revision 1 logged it, before entries stated when the access happened: the
/// leaves of the entries logged before the upgrade are encodings of these.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[ink::scale_derive(Encode, Decode)]
pub struct EntryRevision1 {
    pub institution: InstitutionId,
    pub account: AccountId,
    pub seq: u64,
    pub patient: PatientId,
    pub target: Target,
    pub purpose: Purpose,
    pub at: Timestamp,
    pub authorization: Authorization,
}

impl Entry {
    /// A logged entry from its leaf's bytes (the entry part of its `AccessLogged` event):
    /// this revision's layout, or revision 1's, whose access time is its block time. The two
    /// never have the same length (an entry's length is a base plus 0, 4, 7 or 11 bytes for
    /// its target and authorization; revision 1's base is 8 bytes shorter), so the bytes,
    /// read whole, tell which.
    pub fn from_leaf(bytes: &[u8]) -> Option<Entry> {
        use ink::scale::DecodeAll;
        if let Ok(entry) = Entry::decode_all(&mut &bytes[..]) {
            return Some(entry);
        }
        let old = EntryRevision1::decode_all(&mut &bytes[..]).ok()?;
        Some(Entry {
            institution: old.institution,
            account: old.account,
            seq: old.seq,
            patient: old.patient,
            target: old.target,
            purpose: old.purpose,
            accessed_at: old.at,
            at: old.at,
            authorization: old.authorization,
        })
    }
}

/// The log's size (entries logged) and its root now: what `head` answers.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[ink::scale_derive(Encode, Decode, TypeInfo)]
pub struct LogHead {
    pub size: u64,
    pub root: [u8; 32],
}

/// How many entries of the log are about one patient, and the newest one's index: what a
/// patient's page checks that it shows them all by (it shows `count` entries of hers, each
/// proven in the log, when `newest` is below the log size it proves against).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[ink::scale_derive(Encode, Decode, TypeInfo)]
#[cfg_attr(feature = "std", derive(ink::storage::traits::StorageLayout))]
pub struct PatientAccesses {
    /// Entries about the patient.
    pub count: u64,
    /// The leaf index of the newest of them.
    pub newest: u64,
}

/// What an append did.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[ink::scale_derive(Encode, Decode, TypeInfo)]
pub struct Appended {
    /// Leaf index of the first appended entry (the others follow in order), if any was.
    pub first_index: Option<u64>,
    /// Entries appended.
    pub appended: u32,
    /// Entries skipped because their number was already logged.
    pub skipped: u32,
    /// Tree size after the call.
    pub size: u64,
    /// Tree root after the call.
    pub root: [u8; 32],
}

/// Emitted for every logged entry, with its leaf index. Anyone can rebuild the tree from
/// these events. Anonymous, so without any topic, not even a signature: frame_system indexes
/// every topic at the cost of a storage write, which was a third of an entry's cost (issue
/// 16). It is the suite's only event without topics, which is how decoders (the client,
/// `@polkadot/api-contract`) recognise it.
#[ink::event(anonymous)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessLogged {
    pub index: u64,
    pub entry: Entry,
}

/// Announces break-glass access to a patient, for the patient and auditors to watch: once
/// per patient per append call that logged break-glass entries about them (each entry is in
/// the log with its own reason). The patient is the one topic; frame_system indexes every
/// topic at the cost of a storage write, so one announcement per entry, with the institution
/// as a topic too, cost more than the entry itself (issue 16).
#[ink::event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakGlassAccess {
    #[ink(topic)]
    pub patient: PatientId,
    pub institution: InstitutionId,
    pub account: AccountId,
    /// The leaf index of the first of them.
    pub first_index: u64,
    /// How many of the call's entries about the patient are break-glass.
    pub entries: u32,
    /// The first one's reason.
    pub reason: BreakGlassReason,
    /// Break-glass accesses the institution has logged so far, this call's included.
    pub count: u32,
}

/// Emitted once per append call: the new size and root the chain recorded.
#[ink::event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogExtended {
    #[ink(topic)]
    pub institution: InstitutionId,
    pub size: u64,
    pub root: [u8; 32],
}

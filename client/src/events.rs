//! Every event of the suite, decoded by its signature topic; and the values of transactions
//! read from their events ([`value`]).

use crate::backend::Emitted;
use custodia_types::{
    access_log::{AccessLogged, BreakGlassAccess, Entry, LogExtended},
    consents::{ConsentGranted, ConsentRevoked, ConsentSetGranted},
    directory::{
        AccountAdded, AccountInvited, AccountRemoved, AdminsChanged, AliasChanged, CodeChanged, ControlChanged,
        ControlOffered, CustodianChanged, DependentAttached, DependentDetached, HandOverApproved, InstitutionAdmitted,
        InstitutionLinked, InstitutionRemoved, InstitutionUnlinked, OperatorChanged, PatientRegistered,
        ProposalApproved, ProposalCancelled, ProposalCreated, ProposalExecuted, RecoveryApproved, RecoveryEnded,
        RecoveryParamsChanged, RecoveryPolicyChanged, RecoveryRequested, RolesChanged,
    },
    records::{VersionCommitted, VersionErased, VersionSuperseded},
};
use scale::Decode;

macro_rules! suite_events {
    ($($name:ident),* $(,)?) => {
        /// An event of one of the Custodia contracts.
        #[derive(Clone, Debug, PartialEq, Eq)]
        #[allow(missing_docs)]
        pub enum SuiteEvent {
            $($name($name),)*
        }

        impl SuiteEvent {
            /// Decodes an emitted event, or `None` if it is none of the suite's. An
            /// `AccessLogged` reads in either revision's entry layout ([`logged_entry`]).
            pub fn decode(emitted: &Emitted) -> Option<Self> {
                if let Some((index, entry, _)) = logged_entry(emitted) {
                    return Some(SuiteEvent::AccessLogged(AccessLogged { index, entry }));
                }
                $(if let Some(event) = emitted.decode::<$name>() {
                    return Some(SuiteEvent::$name(event));
                })*
                None
            }

            /// The event's name.
            pub fn name(&self) -> &'static str {
                match self {
                    $(SuiteEvent::$name(_) => stringify!($name),)*
                }
            }
        }
    };
}

/// The signature topic `AccessLogged` events carried before the event became anonymous
/// (revision 1, and revision 2 before issue 16): BLAKE2-256 of `AccessLogged(u64,Entry)`.
pub const SIGNED_ACCESS_LOGGED: [u8; 32] = [
    0xc7, 0x82, 0xbf, 0x87, 0x6d, 0x23, 0x96, 0xe3, 0x42, 0xdd, 0x07, 0xca, 0x19, 0x34, 0x86, 0x29, 0x25, 0xb9, 0x50,
    0xd9, 0xaf, 0x94, 0x3d, 0xa2, 0xd5, 0x11, 0x66, 0x85, 0x1f, 0x80, 0x01, 0xec,
];

/// An `AccessLogged` event's leaf index, entry and leaf bytes (the entry as logged, in the
/// layout of the revision that logged it: [`Entry::from_leaf`]); the event as emitted today
/// (no topics) or before it became anonymous ([`SIGNED_ACCESS_LOGGED`]).
pub fn logged_entry(emitted: &Emitted) -> Option<(u64, Entry, &[u8])> {
    if !matches!(emitted.topics.as_slice(), [] | [SIGNED_ACCESS_LOGGED]) {
        return None;
    }
    let mut data = &emitted.data[..];
    let index = u64::decode(&mut data).ok()?;
    Entry::from_leaf(data).map(|entry| (index, entry, data))
}

suite_events! {
    ProposalCreated, ProposalApproved, ProposalExecuted, ProposalCancelled, InstitutionAdmitted,
    RolesChanged, InstitutionRemoved, AdminsChanged, DependentAttached, DependentDetached, CodeChanged, AccountInvited, AccountAdded,
    AccountRemoved, OperatorChanged, HandOverApproved,
    PatientRegistered, ControlOffered, ControlChanged, CustodianChanged, InstitutionLinked, InstitutionUnlinked,
    AliasChanged, RecoveryRequested, RecoveryApproved, RecoveryEnded, RecoveryPolicyChanged, RecoveryParamsChanged,
    VersionCommitted, VersionSuperseded, VersionErased,
    ConsentGranted, ConsentSetGranted, ConsentRevoked,
    AccessLogged, BreakGlassAccess, LogExtended,
}

/// The values of transactions, read from the events they emitted: what a node reports of a
/// transaction (no output), and the truth where the dry run's value may be stale.
pub mod value {
    use super::*;
    use custodia_types::{consents::ReceiptId, records::VersionNo};

    /// The version `commit` committed.
    pub fn version(events: &[Emitted]) -> Option<VersionNo> {
        events.iter().find_map(Emitted::decode::<VersionCommitted>).map(|e| e.version)
    }

    /// The versions `commit_batch` committed, in order.
    pub fn versions(events: &[Emitted]) -> Option<Vec<VersionNo>> {
        let versions: Vec<VersionNo> =
            events.iter().filter_map(Emitted::decode::<VersionCommitted>).map(|e| e.version).collect();
        (!versions.is_empty()).then_some(versions)
    }

    /// The receipt `grant` made.
    pub fn receipt(events: &[Emitted]) -> Option<ReceiptId> {
        events.iter().find_map(Emitted::decode::<ConsentGranted>).map(|e| e.receipt)
    }

    /// The patients `hand_over_patients` moved.
    pub fn handed_over(events: &[Emitted]) -> Option<u32> {
        let moved = events.iter().filter_map(Emitted::decode::<CustodianChanged>).count();
        (moved > 0).then(|| u32::try_from(moved).unwrap_or(u32::MAX))
    }

    /// The approvals a recovery has after `approve_recovery`.
    pub fn recovery_approvals(events: &[Emitted]) -> Option<u32> {
        events.iter().find_map(Emitted::decode::<RecoveryApproved>).map(|e| e.approvals)
    }

    /// The receipts of the set `grant_set` granted (now or by an earlier call).
    pub fn receipt_set(events: &[Emitted]) -> Option<Vec<ReceiptId>> {
        events.iter().find_map(Emitted::decode::<ConsentSetGranted>).map(|e| e.receipts)
    }

    /// The proposal `propose` made.
    pub fn proposal(events: &[Emitted]) -> Option<u32> {
        events.iter().find_map(Emitted::decode::<ProposalCreated>).map(|e| e.proposal)
    }

    /// The approvals a proposal has after `approve`.
    pub fn approvals(events: &[Emitted]) -> Option<u32> {
        events.iter().find_map(Emitted::decode::<ProposalApproved>).map(|e| e.approvals)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_access_logged_carried_is_blake2_of_its_name_and_field_types() {
        assert_eq!(SIGNED_ACCESS_LOGGED, crate::verify::blake2_256(b"AccessLogged(u64,Entry)"));
        assert_eq!(<AccessLogged as ink::env::Event>::SIGNATURE_TOPIC, None, "anonymous today");
    }
}

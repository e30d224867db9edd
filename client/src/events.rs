//! Every event of the suite, decoded by its signature topic.

use crate::backend::Emitted;
use custodia_types::{
    access_log::{AccessLogged, BreakGlassAccess, LogExtended},
    consents::{ConsentGranted, ConsentRevoked},
    directory::{
        AccountAdded, AccountRemoved, AdminsChanged, ControlChanged, ControlOffered, DependentAttached,
        InstitutionAdmitted, InstitutionRemoved, PatientRegistered, ProposalApproved, ProposalCancelled,
        ProposalCreated, ProposalExecuted, RolesChanged,
    },
    records::{VersionCommitted, VersionErased, VersionSuperseded},
};

macro_rules! suite_events {
    ($($name:ident),* $(,)?) => {
        /// An event of one of the Custodia contracts.
        #[derive(Clone, Debug, PartialEq, Eq)]
        #[allow(missing_docs)]
        pub enum SuiteEvent {
            $($name($name),)*
        }

        impl SuiteEvent {
            /// Decodes an emitted event, or `None` if it is none of the suite's.
            pub fn decode(emitted: &Emitted) -> Option<Self> {
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

suite_events! {
    ProposalCreated, ProposalApproved, ProposalExecuted, ProposalCancelled, InstitutionAdmitted,
    RolesChanged, InstitutionRemoved, AdminsChanged, DependentAttached, AccountAdded, AccountRemoved,
    PatientRegistered, ControlOffered, ControlChanged,
    VersionCommitted, VersionSuperseded, VersionErased,
    ConsentGranted, ConsentRevoked,
    AccessLogged, BreakGlassAccess, LogExtended,
}

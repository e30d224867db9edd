//! The directory: governance, institutions, accounts, patients and their controllers.

use super::registry;
use crate::events::value;
use custodia_types::{
    directory::{
        Action, Controller, Institution, Lookup, Membership, PatientAlias, PatientInfo, Proposal, Recovery,
        RecoveryParams, RecoveryPolicy, Role, Roles,
    },
    InstitutionId, PatientId,
};
use directory::{Admins, DirectoryQueries, Error};
use ink::primitives::AccountId;

/// Why the directory refuses a call, each variant by its index and in words (see
/// [`crate::error::variants`]).
pub fn refusals() -> Vec<(u8, String)> {
    crate::error::variants::<Error>()
}

registry! {
    /// Calls to the directory contract.
    Directory for directory::Directory, at directory;
    docs "directory::DirectoryRef" {
        tx propose(action: Action) -> u32, Error => value::proposal;
        tx approve(proposal: u32) -> u32, Error => value::approvals;
        tx execute(proposal: u32) -> (), Error;
        tx cancel(proposal: u32) -> (), Error;
        tx invite_account(account: AccountId) -> (), Error;
        tx join_institution(institution: InstitutionId) -> (), Error;
        tx remove_account(account: AccountId) -> (), Error;
        tx register_patient(patient: PatientId) -> (), Error;
        tx offer_control(patient: PatientId, to: AccountId) -> (), Error;
        tx accept_control(patient: PatientId) -> (), Error;
        tx release_control(patient: PatientId) -> (), Error;
        tx rotate_key(patient: PatientId, new_key: AccountId) -> (), Error;
        tx set_recovery_policy(patient: PatientId, policy: RecoveryPolicy) -> (), Error;
        tx request_recovery(patient: PatientId, to: Option<AccountId>) -> (), Error;
        tx approve_recovery(patient: PatientId) -> u32, Error => value::recovery_approvals;
        tx veto_recovery(patient: PatientId) -> (), Error;
        tx cancel_recovery(patient: PatientId) -> (), Error;
        tx complete_recovery(patient: PatientId) -> (), Error;
        tx set_operator(account: AccountId) -> (), Error;
        tx link_institution(patient: PatientId, institution: InstitutionId) -> (), Error;
        tx unlink_institution(patient: PatientId, institution: InstitutionId) -> (), Error;
        tx hand_over_patients(from: InstitutionId, patients: Vec<PatientId>) -> u32, Error => value::handed_over;
        tx offer_alias(patient: PatientId, of: PatientId) -> (), Error;
        tx accept_alias(patient: PatientId) -> (), Error;
        tx remove_alias(patient: PatientId) -> (), Error;
        query admins() -> Admins;
        query proposal(proposal: u32) -> Option<Proposal>;
        query has_approved(proposal: u32, admin: AccountId) -> bool;
        query institution(institution: InstitutionId) -> Option<Institution>;
        query dependents() -> Vec<AccountId>;
        query recovery(patient: PatientId) -> Option<Recovery>;
        query recovery_policy(patient: PatientId) -> RecoveryPolicy;
        query recovery_params() -> RecoveryParams;
        query successor(institution: InstitutionId) -> Option<InstitutionId>;
        query alias(patient: PatientId) -> Option<PatientAlias>;
    }
    docs "custodia_types::directory::DirectoryQueries" {
        query is_member(account: AccountId, role: Role) -> bool;
        query membership(account: AccountId) -> Option<Membership>;
        query lookup(account: AccountId) -> Lookup;
        query institution_roles(institution: InstitutionId) -> Option<Roles>;
        query patient(patient: PatientId) -> Option<PatientInfo>;
        query controller_of(patient: PatientId) -> Option<Controller>;
        query may_act_for(account: AccountId, patient: PatientId) -> bool;
        query succeeds(successor: InstitutionId, predecessor: InstitutionId) -> bool;
        query keepers(patient: PatientId) -> Vec<InstitutionId>;
        query keeps_patient(institution: InstitutionId, patient: PatientId) -> bool;
    }
}

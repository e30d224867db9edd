//! The directory: governance, institutions, accounts, patients and their controllers.

use crate::{
    call::{builder, Query, Tx},
    Backend, Client,
};
use custodia_types::{
    directory::{Action, Controller, Institution, Lookup, Membership, PatientInfo, Proposal, Role, Roles},
    InstitutionId, PatientId,
};
use directory::{Admins, Directory as Contract, DirectoryQueries, Error};
use ink::{codegen::ContractCallBuilder, primitives::AccountId};

type Builder = <Contract as ContractCallBuilder>::Type;

/// Calls to the directory contract.
pub struct Directory<'c, B> {
    client: &'c Client<B>,
    address: AccountId,
}

impl<'c, B: Backend> Directory<'c, B> {
    pub(crate) fn new(client: &'c Client<B>) -> Self {
        Self { client, address: client.deployment().directory.address }
    }

    fn contract(&self) -> Builder {
        builder::<Contract>(self.address)
    }

    /// Proposes a governance action (admins only); the proposer's approval counts. Returns the
    /// proposal id.
    pub fn propose(&self, action: Action) -> Tx<'c, B, u32, Error> {
        Tx::new(self.client, self.contract().propose(action))
    }

    /// Approves a pending proposal (admins only). Returns its approvals so far.
    pub fn approve(&self, proposal: u32) -> Tx<'c, B, u32, Error> {
        Tx::new(self.client, self.contract().approve(proposal))
    }

    /// Executes a proposal that has enough approvals (admins only).
    pub fn execute(&self, proposal: u32) -> Tx<'c, B, (), Error> {
        Tx::new(self.client, self.contract().execute(proposal))
    }

    /// Cancels a pending proposal (its proposer or any admin).
    pub fn cancel(&self, proposal: u32) -> Tx<'c, B, (), Error> {
        Tx::new(self.client, self.contract().cancel(proposal))
    }

    /// Adds an account to the caller's institution (its operator only).
    pub fn add_account(&self, account: AccountId) -> Tx<'c, B, (), Error> {
        Tx::new(self.client, self.contract().add_account(account))
    }

    /// Removes an account from the caller's institution (its operator only).
    pub fn remove_account(&self, account: AccountId) -> Tx<'c, B, (), Error> {
        Tx::new(self.client, self.contract().remove_account(account))
    }

    /// Registers a patient pseudonym with the caller's institution as custodian and
    /// controller (custodians only).
    pub fn register_patient(&self, patient: PatientId) -> Tx<'c, B, (), Error> {
        Tx::new(self.client, self.contract().register_patient(patient))
    }

    /// Offers control of a patient's entry to a key (the current controller).
    pub fn offer_control(&self, patient: PatientId, to: AccountId) -> Tx<'c, B, (), Error> {
        Tx::new(self.client, self.contract().offer_control(patient, to))
    }

    /// Accepts an offered control (the offered key).
    pub fn accept_control(&self, patient: PatientId) -> Tx<'c, B, (), Error> {
        Tx::new(self.client, self.contract().accept_control(patient))
    }

    /// Hands control back to the custodian (the patient's key).
    pub fn release_control(&self, patient: PatientId) -> Tx<'c, B, (), Error> {
        Tx::new(self.client, self.contract().release_control(patient))
    }

    /// Takes control back for the custodian when the patient's key is lost (custodian).
    pub fn recover_control(&self, patient: PatientId) -> Tx<'c, B, (), Error> {
        Tx::new(self.client, self.contract().recover_control(patient))
    }

    /// The admins and the approval threshold.
    pub fn admins(&self) -> Query<'c, B, Admins> {
        Query::new(self.client, self.contract().admins())
    }

    /// A proposal.
    pub fn proposal(&self, proposal: u32) -> Query<'c, B, Option<Proposal>> {
        Query::new(self.client, self.contract().proposal(proposal))
    }

    /// Whether `admin` approved `proposal`.
    pub fn has_approved(&self, proposal: u32, admin: AccountId) -> Query<'c, B, bool> {
        Query::new(self.client, self.contract().has_approved(proposal, admin))
    }

    /// An institution.
    pub fn institution(&self, institution: InstitutionId) -> Query<'c, B, Option<Institution>> {
        Query::new(self.client, self.contract().institution(institution))
    }

    /// The contracts attached as dependents (told when memberships change).
    pub fn dependents(&self) -> Query<'c, B, Vec<AccountId>> {
        Query::new(self.client, self.contract().dependents())
    }

    /// Whether `account` acts for an institution holding `role`.
    pub fn is_member(&self, account: AccountId, role: Role) -> Query<'c, B, bool> {
        Query::new(self.client, self.contract().is_member(account, role))
    }

    /// The institution `account` acts for, and its roles.
    pub fn membership(&self, account: AccountId) -> Query<'c, B, Option<Membership>> {
        Query::new(self.client, self.contract().membership(account))
    }

    /// `membership`, and whether registries may cache it.
    pub fn lookup(&self, account: AccountId) -> Query<'c, B, Lookup> {
        Query::new(self.client, self.contract().lookup(account))
    }

    /// An institution's roles.
    pub fn institution_roles(&self, institution: InstitutionId) -> Query<'c, B, Option<Roles>> {
        Query::new(self.client, self.contract().institution_roles(institution))
    }

    /// A patient's entry: controller, custodian, pending offer.
    pub fn patient(&self, patient: PatientId) -> Query<'c, B, Option<PatientInfo>> {
        Query::new(self.client, self.contract().patient(patient))
    }

    /// Who controls a patient's entry.
    pub fn controller_of(&self, patient: PatientId) -> Query<'c, B, Option<Controller>> {
        Query::new(self.client, self.contract().controller_of(patient))
    }

    /// Whether `account` may act for `patient` (its controller, or the controlling custodian's).
    pub fn may_act_for(&self, account: AccountId, patient: PatientId) -> Query<'c, B, bool> {
        Query::new(self.client, self.contract().may_act_for(account, patient))
    }
}

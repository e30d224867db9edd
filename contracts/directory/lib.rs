//! # Directory
//!
//! Who may do what in a Custodia deployment.
//!
//! ## Overview
//! - **Institutions** (hospitals, laboratories, clinics, payers, audit bodies) hold roles:
//!   custodian (keeps records), accessor (reads under consent), auditor. Each has an operator
//!   account that adds and removes the other accounts acting for it.
//! - **Governance**: admission, role changes, removal and changes to the admin set itself need
//!   `threshold` of the admins: one proposes (and so approves), others approve, any admin
//!   executes once the threshold is reached. Changing the admin set makes pending proposals
//!   lapse.
//! - **Dependents**: registries (records, consents, access log) that cache memberships are
//!   attached by governance. When an account leaves or an institution's roles change or it is
//!   removed, the directory tells every dependent to forget, in the same transaction; if one
//!   cannot be told, the change is refused, so no registry keeps a right the directory took
//!   away. `lookup` tells a dependent whether it may cache an answer (it is attached).
//!   Attaching probes the contract (it must forget when this directory tells it to), so no
//!   attach can block later removals; a dependent that stops answering is detached by
//!   governance (and only such a one: a working dependent's caches must stay in reach).
//! - **Patients** are 32-byte pseudonyms, registered by a custodian, which becomes their
//!   controller. Acting for a custodial patient needs the custodian role at the time of the
//!   call. The controller can offer control to a patient-held account (the offer lapses when
//!   its maker no longer acts for the patient); once the patient
//!   accepts, the key is theirs, and the custodian stays as the fallback that can recover
//!   control (a lost key) or take it back when the patient hands it back.
//!
//! ## Roles
//! | caller | may |
//! |---|---|
//! | admin | propose, approve, execute |
//! | proposer | cancel their pending proposal |
//! | institution operator | add and remove the institution's accounts |
//! | custodian account | register patients; recover control of its patients |
//! | controller (custodial account or patient key) | offer control to a patient key |
//! | offered account | accept control |
//! | patient key | hand control back to the custodian |
//!
//! Other contracts read the directory through [`DirectoryQueries`].
//!
//! ## Error handling
//! Every message checks everything first and writes last; it returns a typed [`Error`], and
//! ink! reverts any state change of a call that returns `Err`.
#![cfg_attr(not(feature = "std"), no_std, no_main)]

pub use custodia_types::directory::DirectoryQueries;

pub use self::directory::{Admins, Directory, DirectoryRef, Error};

#[ink::contract]
mod directory {
    use custodia_types::{
        directory::{
            AccountAdded, AccountRemoved, Action, AdminsChanged, ControlChanged, ControlOffered, Controller,
            DependentAttached, DependentDetached, DirectoryQueries, Institution, InstitutionAdmitted,
            InstitutionRemoved, Lookup, Membership, MembershipCache, PatientInfo, PatientRegistered, Proposal,
            ProposalApproved, ProposalCancelled, ProposalCreated, ProposalExecuted, ProposalStatus, Role, Roles,
            RolesChanged, MAX_ADMINS, MAX_DEPENDENTS,
        },
        InstitutionId, PatientId,
    };
    use ink::{codegen::TraitCallBuilder, prelude::vec::Vec, storage::Lazy, storage::Mapping};

    /// What dependents must forget.
    #[derive(Clone, Copy)]
    enum Forget {
        Account(AccountId),
        Institution(InstitutionId),
    }

    /// The admin set and its threshold.
    #[derive(Clone, PartialEq, Eq, Debug, Default)]
    #[ink::scale_derive(Encode, Decode, TypeInfo)]
    #[cfg_attr(feature = "std", derive(ink::storage::traits::StorageLayout))]
    pub struct Admins {
        /// The admins (at most `MAX_ADMINS`, no duplicates).
        pub accounts: Vec<AccountId>,
        /// Approvals a proposal needs (1..=accounts.len()).
        pub threshold: u32,
    }

    #[ink(storage)]
    pub struct Directory {
        /// The admin set; read only by governance messages, so kept out of the root cell.
        admins: Lazy<Admins>,
        /// Generation of the admin set; bumped on every change so that pending proposals lapse.
        admin_epoch: u32,
        /// Id the next proposal gets.
        next_proposal: u32,
        /// Proposals by id.
        proposals: Mapping<u32, Proposal>,
        /// Who approved which proposal.
        approvals: Mapping<(u32, AccountId), ()>,
        /// Id the next admitted institution gets.
        next_institution: InstitutionId,
        /// Admitted institutions by id (removed ones are deleted).
        institutions: Mapping<InstitutionId, Institution>,
        /// The institution each account acts for.
        members: Mapping<AccountId, InstitutionId>,
        /// Registered patients by pseudonym.
        patients: Mapping<PatientId, PatientInfo>,
        /// Attached registries that cache memberships (at most `MAX_DEPENDENTS`).
        dependents: Lazy<Vec<AccountId>>,
        /// Who made each patient's pending control offer. The offer lapses when its maker no
        /// longer acts for the patient (left its institution, or the institution lost the
        /// custodian role); an offer with no maker recorded (made before revision 2) has lapsed.
        offer_makers: Mapping<PatientId, AccountId>,
    }

    /// Why a directory call was refused.
    #[derive(Debug, PartialEq, Eq, Clone, Copy)]
    #[ink::scale_derive(Encode, Decode, TypeInfo)]
    pub enum Error {
        /// Returned if the caller is not an admin.
        NotAdmin,
        /// Returned if the admin set would be empty, too large, or hold an account twice.
        InvalidAdmins,
        /// Returned if the threshold is zero or larger than the number of admins.
        InvalidThreshold,
        /// Returned if no proposal has that id.
        UnknownProposal,
        /// Returned if the proposal was already executed or cancelled.
        ProposalNotPending,
        /// Returned if the admin set changed after the proposal was made.
        ProposalLapsed,
        /// Returned if the caller already approved the proposal.
        AlreadyApproved,
        /// Returned if the proposal has fewer approvals than the threshold.
        ThresholdNotReached,
        /// Returned if someone other than the proposer tries to cancel.
        NotProposer,
        /// Returned if a role set is empty or has unknown bits.
        InvalidRoles,
        /// Returned if no admitted institution has that id.
        UnknownInstitution,
        /// Returned if an institution to be removed is still custodian of patients.
        InstitutionHasPatients,
        /// Returned if the account already acts for an institution.
        AccountAlreadyMember,
        /// Returned if the caller is not the operator of an admitted institution.
        NotOperator,
        /// Returned if the account does not act for the caller's institution.
        NotInstitutionAccount,
        /// Returned if an operator tries to remove its own account.
        CannotRemoveOperator,
        /// Returned if the caller does not act for a custodian institution.
        NotCustodian,
        /// Returned if a patient id is all zeros.
        ZeroPatientId,
        /// Returned if the patient id is already registered.
        PatientAlreadyRegistered,
        /// Returned if the patient id is not registered.
        UnknownPatient,
        /// Returned if the caller may not act for the patient.
        NotController,
        /// Returned if the caller is not the account control was offered to.
        NotOffered,
        /// Returned if a patient key would be an account that acts for an institution.
        AccountIsInstitutional,
        /// Returned if the patient's key is not patient-held (nothing to hand back or recover).
        NotPatientHeld,
        /// Returned if the caller does not act for the patient's custodial institution.
        NotPatientCustodian,
        /// Returned if the contract to attach is already attached.
        AlreadyAttached,
        /// Returned if `MAX_DEPENDENTS` contracts are attached already.
        TooManyDependents,
        /// Returned if the account to attach is not a contract.
        NotAContract,
        /// Returned if an attached dependent could not be told to forget; nothing changes.
        DependentUnavailable,
        /// Returned if a counter would overflow.
        IdsExhausted,
        /// Returned if the contract to attach does not forget when this directory tells it to
        /// (it is not a membership cache, or it is wired to another directory): attaching it
        /// would block every later removal.
        NotAttachable,
        /// Returned if the contract to detach is not attached.
        NotAttached,
        /// Returned if the contract to detach still forgets when told: only a dependent that
        /// stopped answering is detached (a working one's caches would escape the directory).
        StillAnswering,
    }

    /// The directory's result type.
    pub type Result<T> = core::result::Result<T, Error>;

    impl Directory {
        /// Creates the directory with its first admin set.
        ///
        /// # Errors
        /// `InvalidAdmins` or `InvalidThreshold` if the set or threshold is unusable.
        #[ink(constructor)]
        pub fn new(admins: Vec<AccountId>, threshold: u32) -> Result<Self> {
            let admins = Self::checked_admins(admins, threshold)?;
            let mut directory = Self {
                admins: Lazy::new(),
                admin_epoch: 0,
                next_proposal: 1,
                proposals: Mapping::new(),
                approvals: Mapping::new(),
                next_institution: 1,
                institutions: Mapping::new(),
                members: Mapping::new(),
                patients: Mapping::new(),
                dependents: Lazy::new(),
                offer_makers: Mapping::new(),
            };
            directory.admins.set(&admins);
            Ok(directory)
        }

        // ---- governance ----

        /// Proposes `action`; the proposer's approval counts. Returns the proposal id.
        ///
        /// # Errors
        /// `NotAdmin`; and whatever `action` would fail with if executed now (unknown
        /// institution, invalid roles, account already a member, invalid admin set).
        #[ink(message)]
        pub fn propose(&mut self, action: Action) -> Result<u32> {
            let caller = self.env().caller();
            self.ensure_admin(caller)?;
            self.check_action(&action)?;
            let id = self.next_proposal;
            self.next_proposal = id.checked_add(1).ok_or(Error::IdsExhausted)?;
            let proposal = Proposal {
                action: action.clone(),
                proposer: caller,
                approvals: 1,
                admin_epoch: self.admin_epoch,
                status: ProposalStatus::Pending,
                created_at: self.env().block_timestamp(),
            };
            self.proposals.insert(id, &proposal);
            self.approvals.insert((id, caller), &());
            self.env().emit_event(ProposalCreated { proposal: id, proposer: caller, action });
            self.env().emit_event(ProposalApproved {
                proposal: id,
                approver: caller,
                approvals: 1,
                threshold: self.admins().threshold,
            });
            Ok(id)
        }

        /// Approves a pending proposal. Returns the approvals it now has.
        ///
        /// # Errors
        /// `NotAdmin`, `UnknownProposal`, `ProposalNotPending`, `ProposalLapsed`,
        /// `AlreadyApproved`.
        #[ink(message)]
        pub fn approve(&mut self, proposal: u32) -> Result<u32> {
            let caller = self.env().caller();
            let admins = self.ensure_admin(caller)?;
            let mut pending = self.pending_proposal(proposal)?;
            if self.approvals.contains((proposal, caller)) {
                return Err(Error::AlreadyApproved);
            }
            pending.approvals = pending.approvals.checked_add(1).ok_or(Error::IdsExhausted)?;
            self.proposals.insert(proposal, &pending);
            self.approvals.insert((proposal, caller), &());
            self.env().emit_event(ProposalApproved {
                proposal,
                approver: caller,
                approvals: pending.approvals,
                threshold: admins.threshold,
            });
            Ok(pending.approvals)
        }

        /// Carries out a proposal that reached the threshold.
        ///
        /// # Errors
        /// `NotAdmin`, `UnknownProposal`, `ProposalNotPending`, `ProposalLapsed`,
        /// `ThresholdNotReached`, or the action's own error (the proposal then stays pending).
        #[ink(message)]
        pub fn execute(&mut self, proposal: u32) -> Result<()> {
            let caller = self.env().caller();
            let admins = self.ensure_admin(caller)?;
            let mut pending = self.pending_proposal(proposal)?;
            if pending.approvals < admins.threshold {
                return Err(Error::ThresholdNotReached);
            }
            self.check_action(&pending.action)?;
            pending.status = ProposalStatus::Executed;
            self.proposals.insert(proposal, &pending);
            self.apply(pending.action, admins)?;
            self.env().emit_event(ProposalExecuted { proposal, executed_by: caller });
            Ok(())
        }

        /// Withdraws a pending proposal.
        ///
        /// # Errors
        /// `UnknownProposal`, `ProposalNotPending`, `NotProposer`.
        #[ink(message)]
        pub fn cancel(&mut self, proposal: u32) -> Result<()> {
            let caller = self.env().caller();
            let mut pending = self.proposals.get(proposal).ok_or(Error::UnknownProposal)?;
            if pending.status != ProposalStatus::Pending {
                return Err(Error::ProposalNotPending);
            }
            if pending.proposer != caller {
                return Err(Error::NotProposer);
            }
            pending.status = ProposalStatus::Cancelled;
            self.proposals.insert(proposal, &pending);
            self.env().emit_event(ProposalCancelled { proposal, cancelled_by: caller });
            Ok(())
        }

        // ---- institution accounts ----

        /// Adds `account` to the caller's institution (the caller is its operator).
        ///
        /// # Errors
        /// `NotOperator`, `AccountAlreadyMember`.
        #[ink(message)]
        pub fn add_account(&mut self, account: AccountId) -> Result<()> {
            let (id, mut institution) = self.operated_by(self.env().caller())?;
            if self.membership_of(account).is_some() {
                return Err(Error::AccountAlreadyMember);
            }
            institution.accounts = institution.accounts.checked_add(1).ok_or(Error::IdsExhausted)?;
            self.institutions.insert(id, &institution);
            self.members.insert(account, &id);
            self.env().emit_event(AccountAdded { institution: id, account });
            Ok(())
        }

        /// Removes `account` from the caller's institution; it stops acting for it at once.
        ///
        /// # Errors
        /// `NotOperator`, `NotInstitutionAccount`, `CannotRemoveOperator`.
        #[ink(message)]
        pub fn remove_account(&mut self, account: AccountId) -> Result<()> {
            let (id, mut institution) = self.operated_by(self.env().caller())?;
            if self.membership_of(account).map(|(of, _)| of) != Some(id) {
                return Err(Error::NotInstitutionAccount);
            }
            if account == institution.operator {
                return Err(Error::CannotRemoveOperator);
            }
            institution.accounts = institution.accounts.saturating_sub(1);
            self.institutions.insert(id, &institution);
            self.members.remove(account);
            self.tell_dependents(Forget::Account(account))?;
            self.env().emit_event(AccountRemoved { institution: id, account });
            Ok(())
        }

        // ---- patients ----

        /// Registers a patient pseudonym with the caller's institution as custodian and
        /// controller.
        ///
        /// # Errors
        /// `NotCustodian`, `ZeroPatientId`, `PatientAlreadyRegistered`.
        #[ink(message)]
        pub fn register_patient(&mut self, patient: PatientId) -> Result<()> {
            let caller = self.env().caller();
            let (custodian, mut institution) = self.custodian_of_account(caller)?;
            if patient.is_zero() {
                return Err(Error::ZeroPatientId);
            }
            if self.patients.contains(patient) {
                return Err(Error::PatientAlreadyRegistered);
            }
            institution.patients = institution.patients.checked_add(1).ok_or(Error::IdsExhausted)?;
            self.institutions.insert(custodian, &institution);
            let info = PatientInfo {
                controller: Controller::Custodial(custodian),
                custodian,
                offered_to: None,
                registered_at: self.env().block_timestamp(),
            };
            self.patients.insert(patient, &info);
            self.env().emit_event(PatientRegistered { patient, custodian, registered_by: caller });
            Ok(())
        }

        /// Offers control of `patient` to the patient-held account `to` (the first step of a
        /// handover; `to` accepts with `accept_control`). A patient key can also rotate itself.
        ///
        /// # Errors
        /// `UnknownPatient`, `NotController`, `AccountIsInstitutional`.
        #[ink(message)]
        pub fn offer_control(&mut self, patient: PatientId, to: AccountId) -> Result<()> {
            let caller = self.env().caller();
            let mut info = self.patients.get(patient).ok_or(Error::UnknownPatient)?;
            if !self.acts_for(caller, &info) {
                return Err(Error::NotController);
            }
            if self.membership_of(to).is_some() {
                return Err(Error::AccountIsInstitutional);
            }
            info.offered_to = Some(to);
            self.patients.insert(patient, &info);
            self.offer_makers.insert(patient, &caller);
            self.env().emit_event(ControlOffered { patient, offered_to: to, offered_by: caller });
            Ok(())
        }

        /// Accepts an offer: the caller's key becomes the patient's controller.
        ///
        /// # Errors
        /// `UnknownPatient`, `NotOffered` (also when the offer lapsed: its maker no longer acts
        /// for the patient), `AccountIsInstitutional` (if it joined an institution since the
        /// offer).
        #[ink(message)]
        pub fn accept_control(&mut self, patient: PatientId) -> Result<()> {
            let caller = self.env().caller();
            let mut info = self.patients.get(patient).ok_or(Error::UnknownPatient)?;
            let maker_still_acts = self.offer_makers.get(patient).is_some_and(|maker| self.acts_for(maker, &info));
            if info.offered_to != Some(caller) || !maker_still_acts {
                return Err(Error::NotOffered);
            }
            if self.membership_of(caller).is_some() {
                return Err(Error::AccountIsInstitutional);
            }
            self.change_controller(patient, &mut info, Controller::PatientHeld(caller), caller);
            Ok(())
        }

        /// The patient hands control back to the custodial institution.
        ///
        /// # Errors
        /// `UnknownPatient`, `NotPatientHeld`, `NotController`.
        #[ink(message)]
        pub fn release_control(&mut self, patient: PatientId) -> Result<()> {
            let caller = self.env().caller();
            let mut info = self.patients.get(patient).ok_or(Error::UnknownPatient)?;
            match info.controller {
                Controller::PatientHeld(key) if key == caller => {}
                Controller::PatientHeld(_) => return Err(Error::NotController),
                Controller::Custodial(_) => return Err(Error::NotPatientHeld),
            }
            let custodial = Controller::Custodial(info.custodian);
            self.change_controller(patient, &mut info, custodial, caller);
            Ok(())
        }

        /// The custodian takes control back from a patient key (the fallback when the patient
        /// has lost it). The change is public in the `ControlChanged` event.
        ///
        /// # Errors
        /// `UnknownPatient`, `NotPatientCustodian`, `NotPatientHeld`.
        #[ink(message)]
        pub fn recover_control(&mut self, patient: PatientId) -> Result<()> {
            let caller = self.env().caller();
            let mut info = self.patients.get(patient).ok_or(Error::UnknownPatient)?;
            match self.custodian_of_account(caller) {
                Ok((of, _)) if of == info.custodian => {}
                _ => return Err(Error::NotPatientCustodian),
            }
            if !matches!(info.controller, Controller::PatientHeld(_)) {
                return Err(Error::NotPatientHeld);
            }
            let custodial = Controller::Custodial(info.custodian);
            self.change_controller(patient, &mut info, custodial, caller);
            Ok(())
        }

        // ---- queries ----

        /// The admin set and threshold.
        #[ink(message)]
        pub fn admins(&self) -> Admins {
            self.admins.get().unwrap_or_default()
        }

        /// A proposal by id.
        #[ink(message)]
        pub fn proposal(&self, proposal: u32) -> Option<Proposal> {
            self.proposals.get(proposal)
        }

        /// True if `admin` approved `proposal`.
        #[ink(message)]
        pub fn has_approved(&self, proposal: u32, admin: AccountId) -> bool {
            self.approvals.contains((proposal, admin))
        }

        /// An admitted institution by id.
        #[ink(message)]
        pub fn institution(&self, institution: InstitutionId) -> Option<Institution> {
            self.institutions.get(institution)
        }

        /// The attached dependent registries.
        #[ink(message)]
        pub fn dependents(&self) -> Vec<AccountId> {
            self.dependents.get().unwrap_or_default()
        }

        // ---- helpers ----

        fn checked_admins(accounts: Vec<AccountId>, threshold: u32) -> Result<Admins> {
            let count = u32::try_from(accounts.len()).map_err(|_| Error::InvalidAdmins)?;
            if count == 0 || count > MAX_ADMINS {
                return Err(Error::InvalidAdmins);
            }
            for (i, admin) in accounts.iter().enumerate() {
                if accounts.iter().skip(i.saturating_add(1)).any(|other| other == admin) {
                    return Err(Error::InvalidAdmins);
                }
            }
            if threshold == 0 || threshold > count {
                return Err(Error::InvalidThreshold);
            }
            Ok(Admins { accounts, threshold })
        }

        fn ensure_admin(&self, account: AccountId) -> Result<Admins> {
            let admins = self.admins();
            if admins.accounts.contains(&account) {
                Ok(admins)
            } else {
                Err(Error::NotAdmin)
            }
        }

        fn pending_proposal(&self, id: u32) -> Result<Proposal> {
            let proposal = self.proposals.get(id).ok_or(Error::UnknownProposal)?;
            if proposal.status != ProposalStatus::Pending {
                return Err(Error::ProposalNotPending);
            }
            if proposal.admin_epoch != self.admin_epoch {
                return Err(Error::ProposalLapsed);
            }
            Ok(proposal)
        }

        /// Would `action` succeed now? Called at proposal and again at execution.
        fn check_action(&self, action: &Action) -> Result<()> {
            match action {
                Action::Admit { operator, roles, .. } => {
                    if !roles.is_valid() {
                        return Err(Error::InvalidRoles);
                    }
                    if self.membership_of(*operator).is_some() {
                        return Err(Error::AccountAlreadyMember);
                    }
                }
                Action::SetRoles { institution, roles } => {
                    if !roles.is_valid() {
                        return Err(Error::InvalidRoles);
                    }
                    self.institutions.get(institution).ok_or(Error::UnknownInstitution)?;
                }
                Action::Remove { institution } => {
                    let found = self.institutions.get(institution).ok_or(Error::UnknownInstitution)?;
                    if found.patients > 0 {
                        return Err(Error::InstitutionHasPatients);
                    }
                }
                Action::SetAdmins { admins, threshold } => {
                    Self::checked_admins(admins.clone(), *threshold)?;
                }
                Action::Attach { contract } => {
                    let dependents = self.dependents();
                    if dependents.contains(contract) {
                        return Err(Error::AlreadyAttached);
                    }
                    if dependents.len() >= MAX_DEPENDENTS as usize {
                        return Err(Error::TooManyDependents);
                    }
                    if !self.env().is_contract(contract) {
                        return Err(Error::NotAContract);
                    }
                    if !Self::forgets_when_told(*contract) {
                        return Err(Error::NotAttachable);
                    }
                }
                Action::Detach { contract } => {
                    if !self.dependents().contains(contract) {
                        return Err(Error::NotAttached);
                    }
                    // A dependent that still forgets when told keeps its place: detaching it
                    // would leave its cached memberships beyond the directory's reach.
                    if Self::forgets_when_told(*contract) {
                        return Err(Error::StillAnswering);
                    }
                }
            }
            Ok(())
        }

        /// Carries out a checked action.
        fn apply(&mut self, action: Action, admins: Admins) -> Result<()> {
            match action {
                Action::Admit { operator, kind, roles } => {
                    let id = self.next_institution;
                    self.next_institution = id.checked_add(1).ok_or(Error::IdsExhausted)?;
                    let institution = Institution {
                        kind,
                        roles,
                        operator,
                        accounts: 1,
                        patients: 0,
                        admitted_at: self.env().block_timestamp(),
                    };
                    self.institutions.insert(id, &institution);
                    self.members.insert(operator, &id);
                    self.env().emit_event(InstitutionAdmitted { institution: id, operator, kind, roles });
                }
                Action::SetRoles { institution, roles } => {
                    let mut found = self.institutions.get(institution).ok_or(Error::UnknownInstitution)?;
                    let old = found.roles;
                    found.roles = roles;
                    self.institutions.insert(institution, &found);
                    self.tell_dependents(Forget::Institution(institution))?;
                    self.env().emit_event(RolesChanged { institution, old, new: roles });
                }
                Action::Remove { institution } => {
                    let found = self.institutions.take(institution).ok_or(Error::UnknownInstitution)?;
                    self.members.remove(found.operator);
                    self.tell_dependents(Forget::Institution(institution))?;
                    self.env().emit_event(InstitutionRemoved { institution, roles: found.roles });
                }
                Action::SetAdmins { admins: accounts, threshold } => {
                    let new = Self::checked_admins(accounts, threshold)?;
                    self.admin_epoch = self.admin_epoch.checked_add(1).ok_or(Error::IdsExhausted)?;
                    self.admins.set(&new);
                    self.env().emit_event(AdminsChanged {
                        old_threshold: admins.threshold,
                        new_threshold: new.threshold,
                        admins: new.accounts,
                    });
                }
                Action::Attach { contract } => {
                    let mut dependents = self.dependents();
                    dependents.push(contract);
                    self.dependents.set(&dependents);
                    self.env().emit_event(DependentAttached { contract });
                }
                Action::Detach { contract } => {
                    let mut dependents = self.dependents();
                    dependents.retain(|attached| *attached != contract);
                    self.dependents.set(&dependents);
                    self.env().emit_event(DependentDetached { contract });
                }
            }
            Ok(())
        }

        /// Tells every attached dependent to forget an account or an institution's roles.
        /// Fails (and so reverts the whole change) if one cannot be told: a dependent must
        /// never keep rights the directory took away.
        fn tell_dependents(&self, forget: Forget) -> Result<()> {
            for dependent in self.dependents() {
                let mut cache: ink::contract_ref!(MembershipCache) = dependent.into();
                let told = match forget {
                    Forget::Account(account) => cache.call_mut().forget_account(account).try_invoke(),
                    Forget::Institution(id) => cache.call_mut().forget_institution(id).try_invoke(),
                };
                if !matches!(told, Ok(Ok(Ok(())))) {
                    return Err(Error::DependentUnavailable);
                }
            }
            Ok(())
        }

        /// Probes a contract to attach: it must answer this directory's `forget_account` (of
        /// the all-zero account, which no one holds) with `Ok`, as an attached dependent must
        /// on every removal. A second directory, a registry that does not cache memberships and
        /// a records registry wired to another directory all fail the probe.
        fn forgets_when_told(contract: AccountId) -> bool {
            let mut cache: ink::contract_ref!(MembershipCache) = contract.into();
            matches!(cache.call_mut().forget_account(AccountId::from([0; 32])).try_invoke(), Ok(Ok(Ok(()))))
        }

        /// The admitted institution `account` acts for. Entries left behind by a removed
        /// institution count as nothing.
        fn membership_of(&self, account: AccountId) -> Option<(InstitutionId, Institution)> {
            let id = self.members.get(account)?;
            self.institutions.get(id).map(|institution| (id, institution))
        }

        fn operated_by(&self, caller: AccountId) -> Result<(InstitutionId, Institution)> {
            match self.membership_of(caller) {
                Some((id, institution)) if institution.operator == caller => Ok((id, institution)),
                _ => Err(Error::NotOperator),
            }
        }

        fn custodian_of_account(&self, account: AccountId) -> Result<(InstitutionId, Institution)> {
            match self.membership_of(account) {
                Some((id, institution)) if institution.roles.contains(Role::Custodian) => Ok((id, institution)),
                _ => Err(Error::NotCustodian),
            }
        }

        /// True if `account` may act for the patient now: it is the patient's key, or, for a
        /// custodial patient, an account of the controlling institution while that institution
        /// holds the custodian role.
        fn acts_for(&self, account: AccountId, info: &PatientInfo) -> bool {
            match info.controller {
                Controller::PatientHeld(key) => key == account,
                Controller::Custodial(custodian) => self
                    .membership_of(account)
                    .is_some_and(|(id, institution)| id == custodian && institution.roles.contains(Role::Custodian)),
            }
        }

        fn change_controller(
            &mut self,
            patient: PatientId,
            info: &mut PatientInfo,
            new: Controller,
            changed_by: AccountId,
        ) {
            let old = info.controller;
            info.controller = new;
            info.offered_to = None;
            self.patients.insert(patient, info);
            self.offer_makers.remove(patient);
            self.env().emit_event(ControlChanged { patient, old, new, changed_by });
        }
    }

    impl DirectoryQueries for Directory {
        #[ink(message)]
        fn is_member(&self, account: AccountId, role: Role) -> bool {
            self.membership_of(account).is_some_and(|(_, institution)| institution.roles.contains(role))
        }

        #[ink(message)]
        fn membership(&self, account: AccountId) -> Option<Membership> {
            self.membership_of(account).map(|(institution, found)| Membership { institution, roles: found.roles })
        }

        #[ink(message)]
        fn lookup(&self, account: AccountId) -> Lookup {
            Lookup { membership: self.membership(account), cacheable: self.dependents().contains(&self.env().caller()) }
        }

        #[ink(message)]
        fn institution_roles(&self, institution: InstitutionId) -> Option<Roles> {
            self.institutions.get(institution).map(|found| found.roles)
        }

        #[ink(message)]
        fn patient(&self, patient: PatientId) -> Option<PatientInfo> {
            self.patients.get(patient)
        }

        #[ink(message)]
        fn controller_of(&self, patient: PatientId) -> Option<Controller> {
            self.patients.get(patient).map(|info| info.controller)
        }

        #[ink(message)]
        fn may_act_for(&self, account: AccountId, patient: PatientId) -> bool {
            self.patients.get(patient).is_some_and(|info| self.acts_for(account, &info))
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use custodia_types::directory::InstitutionKind;
        use ink::env::{test, DefaultEnvironment};

        fn accounts() -> test::DefaultAccounts<DefaultEnvironment> {
            test::default_accounts::<DefaultEnvironment>()
        }

        fn as_caller(account: AccountId) {
            test::set_caller::<DefaultEnvironment>(account);
        }

        fn patient(byte: u8) -> PatientId {
            PatientId::new([byte; 32])
        }

        /// Alice, Bob and Charlie are admins with threshold 2.
        fn setup() -> Directory {
            let a = accounts();
            as_caller(a.alice);
            Directory::new(vec![a.alice, a.bob, a.charlie], 2).expect("valid admins")
        }

        fn events() -> usize {
            test::recorded_events().count()
        }

        /// Admits `operator` as a hospital with `roles` through two approvals.
        fn admit(directory: &mut Directory, operator: AccountId, roles: Roles) -> InstitutionId {
            let a = accounts();
            as_caller(a.alice);
            let id =
                directory.propose(Action::Admit { operator, kind: InstitutionKind::Hospital, roles }).expect("propose");
            as_caller(a.bob);
            directory.approve(id).expect("approve");
            directory.execute(id).expect("execute");
            directory.membership(operator).expect("admitted").institution
        }

        #[ink::test]
        fn constructor_refuses_unusable_admin_sets() {
            let a = accounts();
            assert_eq!(Directory::new(vec![], 1).err(), Some(Error::InvalidAdmins));
            assert_eq!(Directory::new(vec![a.alice, a.alice], 1).err(), Some(Error::InvalidAdmins));
            assert_eq!(Directory::new(vec![a.alice], 0).err(), Some(Error::InvalidThreshold));
            assert_eq!(Directory::new(vec![a.alice], 2).err(), Some(Error::InvalidThreshold));
            let too_many = (0..=MAX_ADMINS as u8).map(|b| AccountId::from([b; 32])).collect();
            assert_eq!(Directory::new(too_many, 1).err(), Some(Error::InvalidAdmins));
        }

        #[ink::test]
        fn admission_needs_the_threshold() {
            let a = accounts();
            let mut directory = setup();
            let id = directory
                .propose(Action::Admit {
                    operator: a.django,
                    kind: InstitutionKind::Laboratory,
                    roles: Roles::of(&[Role::Custodian]),
                })
                .expect("propose");
            assert_eq!(directory.execute(id), Err(Error::ThresholdNotReached));
            assert!(!directory.is_member(a.django, Role::Custodian));
            as_caller(a.bob);
            assert_eq!(directory.approve(id), Ok(2));
            assert_eq!(directory.approve(id), Err(Error::AlreadyApproved));
            let before = events();
            directory.execute(id).expect("execute");
            assert_eq!(events() - before, 2, "InstitutionAdmitted and ProposalExecuted");
            assert!(directory.is_member(a.django, Role::Custodian));
            assert!(!directory.is_member(a.django, Role::Accessor));
            assert_eq!(directory.execute(id), Err(Error::ProposalNotPending));
        }

        #[ink::test]
        fn non_admins_cannot_govern() {
            let a = accounts();
            let mut directory = setup();
            let id = directory.propose(Action::Remove { institution: 7 });
            assert_eq!(id, Err(Error::UnknownInstitution));
            as_caller(a.eve);
            let admit =
                Action::Admit { operator: a.eve, kind: InstitutionKind::Clinic, roles: Roles::of(&[Role::Accessor]) };
            assert_eq!(directory.propose(admit.clone()), Err(Error::NotAdmin));
            as_caller(a.alice);
            let id = directory.propose(admit).expect("propose");
            as_caller(a.eve);
            assert_eq!(directory.approve(id), Err(Error::NotAdmin));
            assert_eq!(directory.execute(id), Err(Error::NotAdmin));
            assert_eq!(directory.cancel(id), Err(Error::NotProposer));
            assert_eq!(directory.proposal(id).map(|p| p.approvals), Some(1));
        }

        #[ink::test]
        fn changing_admins_makes_pending_proposals_lapse() {
            let a = accounts();
            let mut directory = setup();
            let pending = directory
                .propose(Action::Admit {
                    operator: a.django,
                    kind: InstitutionKind::Hospital,
                    roles: Roles::of(&[Role::Custodian]),
                })
                .expect("propose");
            let change =
                directory.propose(Action::SetAdmins { admins: vec![a.alice, a.bob], threshold: 1 }).expect("propose");
            as_caller(a.charlie);
            directory.approve(change).expect("approve");
            directory.execute(change).expect("execute");
            assert_eq!(directory.admins().threshold, 1);
            assert_eq!(directory.approve(pending), Err(Error::NotAdmin));
            as_caller(a.bob);
            assert_eq!(directory.approve(pending), Err(Error::ProposalLapsed));
        }

        #[ink::test]
        fn removal_is_refused_while_custodian_of_patients() {
            let a = accounts();
            let mut directory = setup();
            let hospital = admit(&mut directory, a.django, Roles::of(&[Role::Custodian]));
            as_caller(a.django);
            directory.register_patient(patient(1)).expect("register");
            as_caller(a.alice);
            assert_eq!(directory.propose(Action::Remove { institution: hospital }), Err(Error::InstitutionHasPatients));
        }

        #[ink::test]
        fn operator_manages_accounts() {
            let a = accounts();
            let mut directory = setup();
            let hospital = admit(&mut directory, a.django, Roles::of(&[Role::Accessor]));
            as_caller(a.eve);
            assert_eq!(directory.add_account(a.frank), Err(Error::NotOperator));
            as_caller(a.django);
            directory.add_account(a.frank).expect("add");
            assert_eq!(directory.add_account(a.frank), Err(Error::AccountAlreadyMember));
            assert!(directory.is_member(a.frank, Role::Accessor));
            assert_eq!(directory.institution(hospital).map(|i| i.accounts), Some(2));
            assert_eq!(directory.remove_account(a.django), Err(Error::CannotRemoveOperator));
            directory.remove_account(a.frank).expect("remove");
            assert!(!directory.is_member(a.frank, Role::Accessor));
        }

        #[ink::test]
        fn patient_takes_control_and_custodian_stays_fallback() {
            let a = accounts();
            let mut directory = setup();
            let hospital = admit(&mut directory, a.django, Roles::of(&[Role::Custodian]));
            let p = patient(9);
            as_caller(a.eve);
            assert_eq!(directory.register_patient(p), Err(Error::NotCustodian));
            as_caller(a.django);
            assert_eq!(directory.register_patient(PatientId::default()), Err(Error::ZeroPatientId));
            directory.register_patient(p).expect("register");
            assert_eq!(directory.register_patient(p), Err(Error::PatientAlreadyRegistered));
            assert_eq!(directory.controller_of(p), Some(Controller::Custodial(hospital)));
            assert!(directory.may_act_for(a.django, p));

            assert_eq!(directory.offer_control(p, a.django), Err(Error::AccountIsInstitutional));
            directory.offer_control(p, a.eve).expect("offer");
            as_caller(a.frank);
            assert_eq!(directory.accept_control(p), Err(Error::NotOffered));
            as_caller(a.eve);
            directory.accept_control(p).expect("accept");
            assert_eq!(directory.controller_of(p), Some(Controller::PatientHeld(a.eve)));
            assert!(directory.may_act_for(a.eve, p));
            assert!(!directory.may_act_for(a.django, p));

            as_caller(a.django);
            directory.recover_control(p).expect("recover");
            assert_eq!(directory.controller_of(p), Some(Controller::Custodial(hospital)));
            assert_eq!(directory.recover_control(p), Err(Error::NotPatientHeld));
        }
    }
}

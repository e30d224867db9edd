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
//! - **Leaving**: an institution that keeps patients leaves by handing them over. Governance
//!   approves the successor (`Action::HandOver`); the operator of either moves the patients in
//!   batches, each announced (`CustodianChanged`); the successor keeps the leaving
//!   institution's records (`succeeds`), and the leaving institution is removed once it has no
//!   patients left. Operators change by their own act (`set_operator`) or by governance
//!   (`Action::SetOperator`, for a lost key).
//!
//! ## Roles
//! | caller | may |
//! |---|---|
//! | admin | propose, approve, execute |
//! | proposer | cancel their pending proposal |
//! | institution operator | invite and remove the institution's accounts; hand the operator role to one of them; hand its patients over once governance approved the successor |
//! | successor's operator | take over the patients of an institution handed over to it |
//! | invited account | join the institution |
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
            AccountAdded, AccountInvited, AccountRemoved, Action, AdminsChanged, AliasChange, AliasChanged,
            CodeChanged, ControlChanged, ControlOffered, Controller, CustodianChanged, DependentAttached,
            DependentDetached, DirectoryQueries, Governed, GovernedError, HandOverApproved, Institution,
            InstitutionAdmitted, InstitutionLinked, InstitutionRemoved, InstitutionUnlinked, KeeperLookup, Lookup,
            Membership, MembershipCache, OperatorChanged, PatientAlias, PatientInfo, PatientRegistered, Proposal,
            ProposalApproved, ProposalCancelled, ProposalCreated, ProposalExecuted, ProposalStatus, Recovery,
            RecoveryApproved, RecoveryEnded, RecoveryOutcome, RecoveryParams, RecoveryParamsChanged, RecoveryPolicy,
            RecoveryPolicyChanged, RecoveryRequested, RecoveryRoute, Role, Roles, RolesChanged, MAX_ADMINS,
            MAX_ALIASES, MAX_CUSTODIAL_RECOVERIES, MAX_DEPENDENTS, MAX_GUARDIANS, MAX_HAND_OVER_BATCH,
            MAX_LINKED_INSTITUTIONS, MAX_RECOVERY_DELAY_MS, MAX_SUCCESSION, MIN_RECOVERY_DELAY_MS,
        },
        errors::{answered, IdField},
        InstitutionId, PatientId,
    };
    use ink::{codegen::TraitCallBuilder, prelude::vec::Vec, storage::Lazy, storage::Mapping};

    /// What dependents must forget.
    #[derive(Clone, Copy)]
    enum Forget {
        Account(AccountId),
        Institution(InstitutionId),
        Keeper(PatientId, InstitutionId),
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
        /// The network's recovery parameters (the defaults until governance sets them).
        recovery_params: Lazy<RecoveryParams>,
        /// Each patient-held identity's recovery policy, set by the patient's key (the default
        /// policy when missing: the custodian may recover, no guardians).
        recovery_policies: Mapping<PatientId, RecoveryPolicy>,
        /// Generation of each patient's policy, bumped on every change.
        policy_epochs: Mapping<PatientId, u32>,
        /// The pending recovery of each patient, if any.
        recoveries: Mapping<PatientId, Recovery>,
        /// Pending invitations to act for an institution, by account and institution.
        invitations: Mapping<(AccountId, InstitutionId), ()>,
        /// Approved hand-overs: the custodian each leaving institution hands its patients and
        /// records to. Kept after the leaving institution is removed: it says who keeps its
        /// records.
        hand_overs: Mapping<InstitutionId, InstitutionId>,
        /// The account governance named operator of an institution, until it joins.
        designated_operators: Mapping<InstitutionId, AccountId>,
        /// The patients each custodian's accounts have a recovery pending for (at most
        /// `MAX_CUSTODIAL_RECOVERIES`): removing the requesting account, or the institution's
        /// custodian role, ends them at once.
        custodial_recoveries: Mapping<InstitutionId, Vec<PatientId>>,
        /// The institutions each patient's controller linked to the patient's id besides the
        /// custodian (at most `MAX_LINKED_INSTITUTIONS`).
        linked: Mapping<PatientId, Vec<InstitutionId>>,
        /// Ids joined to another patient's id as its aliases (offered or accepted), by alias.
        aliases: Mapping<PatientId, PatientAlias>,
        /// How many aliases (offered or accepted) each id has (at most `MAX_ALIASES`).
        alias_counts: Mapping<PatientId, u32>,
    }

    /// Why a directory call was refused.
    #[derive(Debug, PartialEq, Eq, Clone, Copy)]
    #[ink::scale_derive(Encode, Decode, TypeInfo)]
    // scale-info's TypeInfo derive casts each variant's position to u8; this enum has far fewer
    // than 256 variants, so the cast cannot truncate.
    #[allow(clippy::cast_possible_truncation)]
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
        ZeroId(IdField),
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
        /// Returned if the caller is not one of the patient's guardians.
        NotGuardian,
        /// Returned if a guardian set is too large, repeats an account, names the patient's
        /// own key, or has a threshold outside 1..=guardians (0 with no guardians).
        InvalidGuardians,
        /// Returned if the patient's policy ends the custodian's recovery right.
        CustodialRecoveryDisabled,
        /// Returned if the network requires the custodial fallback and a policy would end it.
        CustodialFallbackRequired,
        /// Returned if a recovery is pending already (only a guardians' request replaces a
        /// custodian's).
        RecoveryPending,
        /// Returned if no recovery is pending.
        NoRecovery,
        /// Returned if the recovery's delay has not passed (or its guardians' threshold is not
        /// reached).
        RecoveryNotDue,
        /// Returned if the recovery's right no longer holds (its requester left or lost the
        /// custodian role, or the patient's policy changed): it cannot be completed.
        RecoveryLapsed,
        /// Returned if someone other than the requester tries to cancel a recovery.
        NotRequester,
        /// Returned if a recovery or rotation names the key that controls the patient now.
        SameKey,
        /// Returned if a recovery delay is outside `MIN_RECOVERY_DELAY_MS..=MAX_RECOVERY_DELAY_MS`.
        InvalidDelay,
        /// Returned if the caller was not invited to act for the institution.
        NotInvited,
        /// Returned if no code with that hash was uploaded.
        CodeNotFound,
        /// Returned if the contract does not let this directory change its code (it is not a
        /// registry of this suite).
        NotGoverned,
        /// Returned if the institution is handing its patients over (it registers no new
        /// patient and takes none over).
        InstitutionLeaving,
        /// Returned if a hand-over names one institution twice, or a successor that is not a
        /// custodian.
        InvalidHandOver,
        /// Returned if the institution's hand-over to another, still admitted, was approved
        /// already.
        AlreadyHandedOver,
        /// Returned if governance approved no hand-over of the institution's patients.
        NoHandOver,
        /// Returned if a hand-over batch is empty or holds more than `MAX_HAND_OVER_BATCH`
        /// patients.
        TooManyPatients,
        /// Returned if a patient to hand over is not (or not once) a patient of the leaving
        /// institution.
        NotPatientOfInstitution,
        /// Returned if the account is the institution's operator already.
        AlreadyOperator,
        /// Returned if the custodian has `MAX_CUSTODIAL_RECOVERIES` recoveries pending already.
        TooManyRecoveries,
        /// Returned if the institution to link does not hold the custodian role.
        NotACustodian,
        /// Returned if the institution keeps the patient's records already (linked, or the
        /// custodian).
        AlreadyLinked,
        /// Returned if the institution is not linked to the patient.
        NotLinked,
        /// Returned if the patient has `MAX_LINKED_INSTITUTIONS` linked already.
        TooManyLinks,
        /// Returned if an id is offered as an alias of itself.
        SamePatient,
        /// Returned if the id is an alias already (offered or accepted): remove it first.
        AlreadyAliased,
        /// Returned if the alias would make a chain: the id to join is an alias itself, or the
        /// offered id has aliases of its own.
        AliasChain,
        /// Returned if the id has `MAX_ALIASES` aliases (offered or accepted) already.
        TooManyAliases,
        /// Returned if the id is no alias (or, to accept, no offered one).
        NoAlias,
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
                recovery_params: Lazy::new(),
                recovery_policies: Mapping::new(),
                policy_epochs: Mapping::new(),
                recoveries: Mapping::new(),
                invitations: Mapping::new(),
                hand_overs: Mapping::new(),
                designated_operators: Mapping::new(),
                custodial_recoveries: Mapping::new(),
                linked: Mapping::new(),
                aliases: Mapping::new(),
                alias_counts: Mapping::new(),
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

        /// Invites `account` to act for the caller's institution (the caller is its operator).
        /// Nothing changes for the account until it accepts with `join_institution`: nobody
        /// becomes an institution's account without its own signature (an account that acts
        /// for an institution can no longer accept control of a patient).
        ///
        /// # Errors
        /// `NotOperator`, `AccountAlreadyMember`.
        #[ink(message)]
        pub fn invite_account(&mut self, account: AccountId) -> Result<()> {
            let (id, _) = self.operated_by(self.env().caller())?;
            if self.membership_of(account).is_some() {
                return Err(Error::AccountAlreadyMember);
            }
            self.invitations.insert((account, id), &());
            self.env().emit_event(AccountInvited { institution: id, account });
            Ok(())
        }

        /// The caller accepts an invitation and acts for `institution` from now on.
        ///
        /// # Errors
        /// `NotInvited`, `UnknownInstitution` (removed since), `AccountAlreadyMember`.
        #[ink(message)]
        pub fn join_institution(&mut self, institution: InstitutionId) -> Result<()> {
            let account = self.env().caller();
            if !self.invitations.contains((account, institution)) {
                return Err(Error::NotInvited);
            }
            let mut found = self.institutions.get(institution).ok_or(Error::UnknownInstitution)?;
            if self.membership_of(account).is_some() {
                return Err(Error::AccountAlreadyMember);
            }
            found.accounts = found.accounts.checked_add(1).ok_or(Error::IdsExhausted)?;
            let designated = self.designated_operators.get(institution) == Some(account);
            let old_operator = found.operator;
            if designated {
                found.operator = account;
                self.designated_operators.remove(institution);
            }
            self.institutions.insert(institution, &found);
            self.members.insert(account, &institution);
            self.invitations.remove((account, institution));
            self.env().emit_event(AccountAdded { institution, account });
            if designated {
                self.env().emit_event(OperatorChanged { institution, old: old_operator, new: account, by: account });
            }
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
            self.end_custodial_recoveries(id, Some(account));
            Ok(())
        }

        /// Makes `account`, which acts for the caller's institution already, its operator; the
        /// caller stays an ordinary account of it (the new operator may remove it).
        ///
        /// # Errors
        /// `NotOperator`, `NotInstitutionAccount`, `AlreadyOperator`.
        #[ink(message)]
        pub fn set_operator(&mut self, account: AccountId) -> Result<()> {
            let caller = self.env().caller();
            let (id, mut institution) = self.operated_by(caller)?;
            if account == caller {
                return Err(Error::AlreadyOperator);
            }
            if self.membership_of(account).map(|(of, _)| of) != Some(id) {
                return Err(Error::NotInstitutionAccount);
            }
            institution.operator = account;
            self.institutions.insert(id, &institution);
            self.env().emit_event(OperatorChanged { institution: id, old: caller, new: account, by: caller });
            Ok(())
        }

        /// Moves up to `MAX_HAND_OVER_BATCH` patients of the leaving institution `from` to the
        /// custodian governance approved for them (`Action::HandOver`), all or nothing, each
        /// announced (`CustodianChanged`). A custodial patient's control moves with them (and
        /// a pending offer ends); a patient-held key keeps control, and a recovery its old
        /// custodian requested ends. Called by the operator of either institution.
        ///
        /// # Errors
        /// `NoHandOver`, `UnknownInstitution` (either was removed since), `NotOperator`,
        /// `InvalidHandOver` (the successor lost the custodian role), `TooManyPatients`,
        /// `UnknownPatient`, `NotPatientOfInstitution`.
        #[ink(message)]
        pub fn hand_over_patients(&mut self, from: InstitutionId, patients: Vec<PatientId>) -> Result<u32> {
            let caller = self.env().caller();
            let to = self.hand_overs.get(from).ok_or(Error::NoHandOver)?;
            let mut leaving = self.institutions.get(from).ok_or(Error::UnknownInstitution)?;
            let mut successor = self.institutions.get(to).ok_or(Error::UnknownInstitution)?;
            if caller != leaving.operator && caller != successor.operator {
                return Err(Error::NotOperator);
            }
            if !successor.roles.contains(Role::Custodian) {
                return Err(Error::InvalidHandOver);
            }
            let count = u32::try_from(patients.len())
                .ok()
                .filter(|count| (1..=MAX_HAND_OVER_BATCH).contains(count))
                .ok_or(Error::TooManyPatients)?;
            let mut moving = Vec::with_capacity(patients.len());
            for (position, patient) in patients.iter().enumerate() {
                let info = self.patients.get(patient).ok_or(Error::UnknownPatient)?;
                if info.custodian != from || patients[..position].contains(patient) {
                    return Err(Error::NotPatientOfInstitution);
                }
                moving.push((*patient, info));
            }
            leaving.patients = leaving.patients.checked_sub(count).ok_or(Error::NotPatientOfInstitution)?;
            successor.patients = successor.patients.checked_add(count).ok_or(Error::IdsExhausted)?;
            self.institutions.insert(from, &leaving);
            self.institutions.insert(to, &successor);
            for (patient, mut info) in moving {
                self.tell_dependents(Forget::Keeper(patient, from))?;
                info.custodian = to;
                if let Some(mut linked) = self.linked.get(patient) {
                    if linked.contains(&to) {
                        linked.retain(|other| *other != to);
                        self.linked.insert(patient, &linked);
                    }
                }
                self.env().emit_event(CustodianChanged { patient, from, to, by: caller });
                if info.controller == Controller::Custodial(from) {
                    self.change_controller(patient, &mut info, Controller::Custodial(to), caller);
                } else {
                    if self.recoveries.get(patient).is_some_and(|r| r.route == RecoveryRoute::Custodian) {
                        self.end_recovery(patient, RecoveryOutcome::CustodianChanged, caller);
                    }
                    self.patients.insert(patient, &info);
                }
            }
            Ok(count)
        }

        // ---- patients ----

        /// Registers a patient pseudonym with the caller's institution as custodian and
        /// controller.
        ///
        /// # Errors
        /// `NotCustodian`, `ZeroId`, `PatientAlreadyRegistered`.
        #[ink(message)]
        pub fn register_patient(&mut self, patient: PatientId) -> Result<()> {
            let caller = self.env().caller();
            let (custodian, mut institution) = self.custodian_of_account(caller)?;
            if self.hand_overs.contains(custodian) {
                return Err(Error::InstitutionLeaving);
            }
            if patient.is_zero() {
                return Err(Error::ZeroId(IdField::Patient));
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

        /// The patient's controller (their key, or their custodian's account) links
        /// `institution`, a custodian, to the patient's id: the patient presented their id
        /// there, and it keeps its records of them under it from now on, so that the patient's
        /// history is one. Announced (`InstitutionLinked`). Linking widens no consent: a
        /// receipt covers the records of the institutions that kept the patient's records
        /// when it was granted.
        ///
        /// # Errors
        /// `UnknownPatient`, `NotController`, `UnknownInstitution`, `NotACustodian`,
        /// `AlreadyLinked`, `TooManyLinks`.
        #[ink(message)]
        pub fn link_institution(&mut self, patient: PatientId, institution: InstitutionId) -> Result<()> {
            let (caller, info) = self.acted_for(patient)?;
            let found = self.institutions.get(institution).ok_or(Error::UnknownInstitution)?;
            if !found.roles.contains(Role::Custodian) {
                return Err(Error::NotACustodian);
            }
            let mut linked = self.linked.get(patient).unwrap_or_default();
            if institution == info.custodian || linked.contains(&institution) {
                return Err(Error::AlreadyLinked);
            }
            linked.retain(|other| self.institutions.contains(other));
            if linked.len() >= MAX_LINKED_INSTITUTIONS as usize {
                return Err(Error::TooManyLinks);
            }
            linked.push(institution);
            self.linked.insert(patient, &linked);
            self.env().emit_event(InstitutionLinked { patient, institution, by: caller });
            Ok(())
        }

        /// The patient's controller undoes a link: the institution opens no more records under
        /// the patient's id (those it opened stay, with their history). Announced.
        ///
        /// # Errors
        /// `UnknownPatient`, `NotController`, `NotLinked`.
        #[ink(message)]
        pub fn unlink_institution(&mut self, patient: PatientId, institution: InstitutionId) -> Result<()> {
            let (caller, _) = self.acted_for(patient)?;
            let mut linked = self.linked.get(patient).unwrap_or_default();
            if !linked.contains(&institution) {
                return Err(Error::NotLinked);
            }
            linked.retain(|other| *other != institution);
            self.linked.insert(patient, &linked);
            self.tell_dependents(Forget::Keeper(patient, institution))?;
            self.env().emit_event(InstitutionUnlinked { patient, institution, by: caller });
            Ok(())
        }

        /// Whoever acts for `patient` offers it as an alias of `of`: the same person, whom the
        /// caller's institution registered under a second id when she could not present hers
        /// (unconscious in an emergency, say). Whoever acts for `of` accepts it
        /// (`accept_alias`). Announced on both ids (`AliasChanged`).
        ///
        /// # Errors
        /// `UnknownPatient` (either id), `NotController`, `SamePatient`, `AlreadyAliased`,
        /// `AliasChain`, `TooManyAliases`.
        #[ink(message)]
        pub fn offer_alias(&mut self, patient: PatientId, of: PatientId) -> Result<()> {
            let (caller, _) = self.acted_for(patient)?;
            if !self.patients.contains(of) {
                return Err(Error::UnknownPatient);
            }
            if patient == of {
                return Err(Error::SamePatient);
            }
            if self.aliases.contains(patient) {
                return Err(Error::AlreadyAliased);
            }
            // An id's count is removed when it drops to zero: a count is there while it has any.
            if self.aliases.contains(of) || self.alias_counts.contains(patient) {
                return Err(Error::AliasChain);
            }
            let count = self.alias_counts.get(of).unwrap_or(0);
            if count >= MAX_ALIASES {
                return Err(Error::TooManyAliases);
            }
            self.alias_counts.insert(of, &count.saturating_add(1));
            self.aliases.insert(patient, &PatientAlias { of, accepted: false });
            self.env().emit_event(AliasChanged { patient, of, change: AliasChange::Offered, by: caller });
            Ok(())
        }

        /// Whoever acts for the id an alias was offered to join (her key, or her custodian's
        /// account) accepts it: from now on the two ids are one history for whoever reads them.
        /// Each keeps its records, receipts and controller: joining widens no consent.
        ///
        /// # Errors
        /// `NoAlias` (no offer pending), `UnknownPatient`, `NotController`.
        #[ink(message)]
        pub fn accept_alias(&mut self, patient: PatientId) -> Result<()> {
            let alias = self.aliases.get(patient).filter(|alias| !alias.accepted).ok_or(Error::NoAlias)?;
            let (caller, _) = self.acted_for(alias.of)?;
            self.aliases.insert(patient, &PatientAlias { accepted: true, ..alias });
            self.env().emit_event(AliasChanged { patient, of: alias.of, change: AliasChange::Accepted, by: caller });
            Ok(())
        }

        /// Either side undoes an alias, offered or accepted: whoever acts for the alias or for
        /// the id it joins. Two histories again; nothing else changes.
        ///
        /// # Errors
        /// `NoAlias`, `NotController`.
        #[ink(message)]
        pub fn remove_alias(&mut self, patient: PatientId) -> Result<()> {
            let caller = self.env().caller();
            let alias = self.aliases.get(patient).ok_or(Error::NoAlias)?;
            if !self.may_act_for(caller, patient) && !self.may_act_for(caller, alias.of) {
                return Err(Error::NotController);
            }
            self.aliases.remove(patient);
            let count = self.alias_counts.get(alias.of).unwrap_or(0).saturating_sub(1);
            match count {
                0 => self.alias_counts.remove(alias.of),
                _ => {
                    self.alias_counts.insert(alias.of, &count);
                }
            }
            self.env().emit_event(AliasChanged { patient, of: alias.of, change: AliasChange::Removed, by: caller });
            Ok(())
        }

        /// Offers control of `patient` to the patient-held account `to` (the first step of a
        /// handover; `to` accepts with `accept_control`). A patient key can also rotate itself.
        ///
        /// # Errors
        /// `UnknownPatient`, `NotController`, `SameKey` (offered to the key that holds it),
        /// `AccountIsInstitutional`.
        #[ink(message)]
        pub fn offer_control(&mut self, patient: PatientId, to: AccountId) -> Result<()> {
            let (caller, mut info) = self.acted_for(patient)?;
            if info.controller == Controller::PatientHeld(to) {
                return Err(Error::SameKey);
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

        /// The patient's key moves control to a new key of theirs, at once (no institution
        /// involved). Ends a pending recovery and any offer.
        ///
        /// # Errors
        /// `UnknownPatient`, `NotPatientHeld`, `NotController`, `SameKey`,
        /// `AccountIsInstitutional`.
        #[ink(message)]
        pub fn rotate_key(&mut self, patient: PatientId, new_key: AccountId) -> Result<()> {
            let caller = self.env().caller();
            let mut info = self.patients.get(patient).ok_or(Error::UnknownPatient)?;
            Self::ensure_key(&info, caller)?;
            if new_key == caller {
                return Err(Error::SameKey);
            }
            if self.membership_of(new_key).is_some() {
                return Err(Error::AccountIsInstitutional);
            }
            self.change_controller(patient, &mut info, Controller::PatientHeld(new_key), caller);
            Ok(())
        }

        /// The patient's key sets who may recover it: whether the custodian may, and guardians
        /// with a threshold. Takes effect at once (it needs the current key); a pending
        /// recovery the new policy no longer allows ends, and a guardians' recovery always
        /// ends (its approvals were given under the old guardians).
        ///
        /// # Errors
        /// `UnknownPatient`, `NotPatientHeld`, `NotController`, `InvalidGuardians`,
        /// `CustodialFallbackRequired`.
        #[ink(message)]
        pub fn set_recovery_policy(&mut self, patient: PatientId, policy: RecoveryPolicy) -> Result<()> {
            let caller = self.env().caller();
            let info = self.patients.get(patient).ok_or(Error::UnknownPatient)?;
            Self::ensure_key(&info, caller)?;
            Self::check_guardians(&policy, caller)?;
            if !policy.custodial && self.recovery_params().custodial_fallback_required {
                return Err(Error::CustodialFallbackRequired);
            }
            let epoch = self.policy_epochs.get(patient).unwrap_or(0).checked_add(1).ok_or(Error::IdsExhausted)?;
            self.policy_epochs.insert(patient, &epoch);
            self.recovery_policies.insert(patient, &policy);
            if let Some(pending) = self.recoveries.get(patient) {
                if pending.route == RecoveryRoute::Guardians || !policy.custodial {
                    self.end_recovery(patient, RecoveryOutcome::PolicyChanged, caller);
                }
            }
            self.env().emit_event(RecoveryPolicyChanged { patient, policy });
            Ok(())
        }

        /// Requests a recovery of a patient-held identity to `to` (a new patient key), or to
        /// the custodian (`None`), by an account of the patient's custodian with the
        /// custodian role (unless the patient's policy ends that right) or by one of the
        /// patient's guardians. Announced at once; it can be completed after the network's
        /// delay (for guardians, counted from the approval that reaches their threshold),
        /// and the patient's key can veto it until then. The patient keeps full control
        /// meanwhile. One recovery is pending at a time; a guardians' request replaces a
        /// custodian's (a custodian cannot block the patient's own guardians).
        ///
        /// # Errors
        /// `UnknownPatient`, `NotPatientHeld`, `SameKey`, `AccountIsInstitutional`,
        /// `NotPatientCustodian` (an institution's account that may not recover this patient),
        /// `NotGuardian` (anyone else), `CustodialRecoveryDisabled`, `RecoveryPending`.
        #[ink(message)]
        pub fn request_recovery(&mut self, patient: PatientId, to: Option<AccountId>) -> Result<()> {
            let caller = self.env().caller();
            let info = self.patients.get(patient).ok_or(Error::UnknownPatient)?;
            let Controller::PatientHeld(key) = info.controller else {
                return Err(Error::NotPatientHeld);
            };
            if let Some(new_key) = to {
                if new_key == key {
                    return Err(Error::SameKey);
                }
                if self.membership_of(new_key).is_some() {
                    return Err(Error::AccountIsInstitutional);
                }
            }
            let policy = self.recovery_policy(patient);
            let route = if policy.guardians.contains(&caller) {
                RecoveryRoute::Guardians
            } else if self.is_custodian_account(caller, info.custodian) {
                if !self.custodial_allowed(&policy) {
                    return Err(Error::CustodialRecoveryDisabled);
                }
                RecoveryRoute::Custodian
            } else if self.membership_of(caller).is_some() {
                return Err(Error::NotPatientCustodian);
            } else {
                return Err(Error::NotGuardian);
            };
            if let Some(pending) = self.live_recovery(patient, &info) {
                if !(pending.route == RecoveryRoute::Custodian && route == RecoveryRoute::Guardians) {
                    return Err(Error::RecoveryPending);
                }
            }
            let mut custodians_pending = self.custodial_recoveries.get(info.custodian).unwrap_or_default();
            custodians_pending.retain(|pending| *pending != patient);
            if route == RecoveryRoute::Custodian && custodians_pending.len() >= MAX_CUSTODIAL_RECOVERIES as usize {
                return Err(Error::TooManyRecoveries);
            }
            self.end_recovery(patient, RecoveryOutcome::Replaced, caller);
            let now = self.env().block_timestamp();
            let due = now.checked_add(self.recovery_params().delay_ms).ok_or(Error::IdsExhausted)?;
            let (approvals, executable_at) = match route {
                RecoveryRoute::Custodian => (Vec::new(), Some(due)),
                RecoveryRoute::Guardians => (ink::prelude::vec![caller], (policy.threshold <= 1).then_some(due)),
            };
            let to = to.map_or(Controller::Custodial(info.custodian), Controller::PatientHeld);
            let recovery = Recovery {
                route,
                to,
                requested_by: caller,
                requested_at: now,
                approvals,
                executable_at,
                policy_epoch: self.policy_epochs.get(patient).unwrap_or(0),
            };
            self.recoveries.insert(patient, &recovery);
            if route == RecoveryRoute::Custodian {
                custodians_pending.push(patient);
                self.custodial_recoveries.insert(info.custodian, &custodians_pending);
            }
            self.env().emit_event(RecoveryRequested { patient, route, to, requested_by: caller, executable_at });
            Ok(())
        }

        /// A guardian approves the pending guardians' recovery. The approval that reaches the
        /// threshold starts the delay. Returns the approvals it now has.
        ///
        /// # Errors
        /// `UnknownPatient`, `NoRecovery`, `NotGuardian`, `AlreadyApproved`.
        #[ink(message)]
        pub fn approve_recovery(&mut self, patient: PatientId) -> Result<u32> {
            let caller = self.env().caller();
            let info = self.patients.get(patient).ok_or(Error::UnknownPatient)?;
            let mut pending = self.live_recovery(patient, &info).ok_or(Error::NoRecovery)?;
            let policy = self.recovery_policy(patient);
            if pending.route != RecoveryRoute::Guardians || !policy.guardians.contains(&caller) {
                return Err(Error::NotGuardian);
            }
            if pending.approvals.contains(&caller) {
                return Err(Error::AlreadyApproved);
            }
            pending.approvals.push(caller);
            let approvals = u32::try_from(pending.approvals.len()).map_err(|_| Error::IdsExhausted)?;
            if pending.executable_at.is_none() && approvals >= policy.threshold {
                let now = self.env().block_timestamp();
                pending.executable_at =
                    Some(now.checked_add(self.recovery_params().delay_ms).ok_or(Error::IdsExhausted)?);
            }
            self.recoveries.insert(patient, &pending);
            self.env().emit_event(RecoveryApproved {
                patient,
                guardian: caller,
                approvals,
                threshold: policy.threshold,
                executable_at: pending.executable_at,
            });
            Ok(approvals)
        }

        /// The patient's key vetoes the pending recovery.
        ///
        /// # Errors
        /// `UnknownPatient`, `NotPatientHeld`, `NotController`, `NoRecovery`.
        #[ink(message)]
        pub fn veto_recovery(&mut self, patient: PatientId) -> Result<()> {
            let caller = self.env().caller();
            let info = self.patients.get(patient).ok_or(Error::UnknownPatient)?;
            Self::ensure_key(&info, caller)?;
            if !self.recoveries.contains(patient) {
                return Err(Error::NoRecovery);
            }
            self.end_recovery(patient, RecoveryOutcome::Vetoed, caller);
            Ok(())
        }

        /// The requester withdraws its pending recovery.
        ///
        /// # Errors
        /// `UnknownPatient`, `NoRecovery`, `NotRequester`.
        #[ink(message)]
        pub fn cancel_recovery(&mut self, patient: PatientId) -> Result<()> {
            let caller = self.env().caller();
            self.patients.get(patient).ok_or(Error::UnknownPatient)?;
            let pending = self.recoveries.get(patient).ok_or(Error::NoRecovery)?;
            if pending.requested_by != caller {
                return Err(Error::NotRequester);
            }
            self.end_recovery(patient, RecoveryOutcome::Cancelled, caller);
            Ok(())
        }

        /// Carries out a recovery whose delay passed unvetoed (anyone may call it), if its
        /// right still holds: the requester still acts for the custodian with the custodian
        /// role and the policy still allows it, or the guardians' policy is unchanged. The
        /// patient's receipts stay (they belong to the patient, not to a key); offers end.
        ///
        /// # Errors
        /// `UnknownPatient`, `NoRecovery`, `RecoveryLapsed`, `RecoveryNotDue`,
        /// `AccountIsInstitutional` (the new key joined an institution meanwhile).
        #[ink(message)]
        pub fn complete_recovery(&mut self, patient: PatientId) -> Result<()> {
            let caller = self.env().caller();
            let mut info = self.patients.get(patient).ok_or(Error::UnknownPatient)?;
            if !self.recoveries.contains(patient) {
                return Err(Error::NoRecovery);
            }
            let pending = self.live_recovery(patient, &info).ok_or(Error::RecoveryLapsed)?;
            let now = self.env().block_timestamp();
            if pending.executable_at.is_none_or(|due| now < due) {
                return Err(Error::RecoveryNotDue);
            }
            if let Controller::PatientHeld(new_key) = pending.to {
                if self.membership_of(new_key).is_some() {
                    return Err(Error::AccountIsInstitutional);
                }
            }
            self.end_recovery(patient, RecoveryOutcome::Completed, caller);
            self.change_controller(patient, &mut info, pending.to, caller);
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

        /// The pending recovery of a patient, if any (one whose right has lapsed is shown
        /// too: `complete_recovery` refuses it, a new request takes its place).
        #[ink(message)]
        pub fn recovery(&self, patient: PatientId) -> Option<Recovery> {
            self.recoveries.get(patient)
        }

        /// Who may recover a patient-held identity (the default policy until the key sets one).
        #[ink(message)]
        pub fn recovery_policy(&self, patient: PatientId) -> RecoveryPolicy {
            self.recovery_policies.get(patient).unwrap_or_default()
        }

        /// The network's recovery parameters.
        #[ink(message)]
        pub fn recovery_params(&self) -> RecoveryParams {
            self.recovery_params.get().unwrap_or_default()
        }

        /// The custodian governance approved to take over `institution`'s patients and records
        /// (`Action::HandOver`), if any.
        #[ink(message)]
        pub fn successor(&self, institution: InstitutionId) -> Option<InstitutionId> {
            self.hand_overs.get(institution)
        }

        /// The id `patient` is an alias of (offered or accepted), if any.
        #[ink(message)]
        pub fn alias(&self, patient: PatientId) -> Option<PatientAlias> {
            self.aliases.get(patient)
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
                Action::SetRecoveryParams { params } => {
                    if !(MIN_RECOVERY_DELAY_MS..=MAX_RECOVERY_DELAY_MS).contains(&params.delay_ms) {
                        return Err(Error::InvalidDelay);
                    }
                }
                Action::SetCode { contract, .. } => {
                    if !self.env().is_contract(contract) {
                        return Err(Error::NotAContract);
                    }
                }
                Action::HandOver { from, to } => {
                    self.institutions.get(from).ok_or(Error::UnknownInstitution)?;
                    let successor = self.institutions.get(to).ok_or(Error::UnknownInstitution)?;
                    if from == to || !successor.roles.contains(Role::Custodian) || self.hand_overs.contains(to) {
                        return Err(Error::InvalidHandOver);
                    }
                    // A hand-over is replaced only if its successor has been removed since.
                    if self.hand_overs.get(from).is_some_and(|earlier| self.institutions.contains(earlier)) {
                        return Err(Error::AlreadyHandedOver);
                    }
                }
                Action::SetOperator { institution, operator } => {
                    let found = self.institutions.get(institution).ok_or(Error::UnknownInstitution)?;
                    if found.operator == *operator {
                        return Err(Error::AlreadyOperator);
                    }
                    if self.membership_of(*operator).is_some_and(|(of, _)| of != *institution) {
                        return Err(Error::AccountAlreadyMember);
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
                    if !roles.contains(Role::Custodian) {
                        self.end_custodial_recoveries(institution, None);
                    }
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
                Action::SetCode { contract, code_hash } => {
                    if contract == self.env().account_id() {
                        self.env().set_code_hash(&code_hash).map_err(|_| Error::CodeNotFound)?;
                    } else {
                        let mut governed: ink::contract_ref!(Governed) = contract.into();
                        match answered(governed.call_mut().set_code(code_hash).try_invoke()) {
                            Some(Ok(())) => {}
                            Some(Err(GovernedError::CodeNotFound)) => return Err(Error::CodeNotFound),
                            _ => return Err(Error::NotGoverned),
                        }
                    }
                    self.env().emit_event(CodeChanged { contract, code_hash });
                }
                Action::SetRecoveryParams { params } => {
                    self.recovery_params.set(&params);
                    self.env().emit_event(RecoveryParamsChanged { params });
                }
                Action::HandOver { from, to } => {
                    self.hand_overs.insert(from, &to);
                    self.env().emit_event(HandOverApproved { from, to });
                }
                Action::SetOperator { institution, operator } => {
                    let mut found = self.institutions.get(institution).ok_or(Error::UnknownInstitution)?;
                    if self.membership_of(operator).is_some() {
                        let old = found.operator;
                        found.operator = operator;
                        self.institutions.insert(institution, &found);
                        self.designated_operators.remove(institution);
                        let by = self.env().caller();
                        self.env().emit_event(OperatorChanged { institution, old, new: operator, by });
                    } else {
                        // Nobody acts for an institution without its own signature: the account
                        // becomes operator when it accepts.
                        self.invitations.insert((operator, institution), &());
                        self.designated_operators.insert(institution, &operator);
                        self.env().emit_event(AccountInvited { institution, account: operator });
                    }
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
                    Forget::Keeper(patient, id) => cache.call_mut().forget_keeper(patient, id).try_invoke(),
                };
                if answered(told) != Some(Ok(())) {
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
            answered(cache.call_mut().forget_account(AccountId::from([0; 32])).try_invoke()) == Some(Ok(()))
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

        /// The caller and the patient, if the caller acts for the patient now ([`acts_for`]).
        ///
        /// # Errors
        /// `UnknownPatient`, `NotController`.
        fn acted_for(&self, patient: PatientId) -> Result<(AccountId, PatientInfo)> {
            let caller = self.env().caller();
            let info = self.patients.get(patient).ok_or(Error::UnknownPatient)?;
            match self.acts_for(caller, &info) {
                true => Ok((caller, info)),
                false => Err(Error::NotController),
            }
        }

        /// True if the caller is an attached registry (which may cache what it is told).
        fn caller_is_dependent(&self) -> bool {
            self.dependents().contains(&self.env().caller())
        }

        /// `Ok` if `caller` is the key that holds the patient now.
        fn ensure_key(info: &PatientInfo, caller: AccountId) -> Result<()> {
            match info.controller {
                Controller::PatientHeld(key) if key == caller => Ok(()),
                Controller::PatientHeld(_) => Err(Error::NotController),
                Controller::Custodial(_) => Err(Error::NotPatientHeld),
            }
        }

        fn check_guardians(policy: &RecoveryPolicy, key: AccountId) -> Result<()> {
            let guardians = &policy.guardians;
            let count = u32::try_from(guardians.len()).map_err(|_| Error::InvalidGuardians)?;
            let repeated = guardians.iter().enumerate().any(|(i, g)| guardians[..i].contains(g));
            let threshold_fits =
                if count == 0 { policy.threshold == 0 } else { (1..=count).contains(&policy.threshold) };
            if count > MAX_GUARDIANS || repeated || guardians.contains(&key) || !threshold_fits {
                return Err(Error::InvalidGuardians);
            }
            Ok(())
        }

        /// True if `account` acts for `custodian` and that institution holds the custodian role.
        fn is_custodian_account(&self, account: AccountId, custodian: InstitutionId) -> bool {
            matches!(self.custodian_of_account(account), Ok((of, _)) if of == custodian)
        }

        /// The custodian may recover unless the patient's policy ends that right and the
        /// network does not require it.
        fn custodial_allowed(&self, policy: &RecoveryPolicy) -> bool {
            policy.custodial || self.recovery_params().custodial_fallback_required
        }

        /// The patient's pending recovery if its right still holds: the patient is still
        /// patient-held, and the requester still acts for the custodian with the custodian role
        /// and the policy allows it, or the guardians' policy is the one it was requested under.
        fn live_recovery(&self, patient: PatientId, info: &PatientInfo) -> Option<Recovery> {
            let pending = self.recoveries.get(patient)?;
            if !matches!(info.controller, Controller::PatientHeld(_)) {
                return None;
            }
            let holds = match pending.route {
                RecoveryRoute::Custodian => {
                    self.is_custodian_account(pending.requested_by, info.custodian)
                        && self.custodial_allowed(&self.recovery_policy(patient))
                }
                RecoveryRoute::Guardians => pending.policy_epoch == self.policy_epochs.get(patient).unwrap_or(0),
            };
            holds.then_some(pending)
        }

        /// Removes the patient's pending recovery, if any, announcing how it ended. Call it
        /// before the patient's custodian changes: a custodian's request is filed under it.
        fn end_recovery(&mut self, patient: PatientId, outcome: RecoveryOutcome, by: AccountId) {
            let Some(ended) = self.recoveries.take(patient) else { return };
            if ended.route == RecoveryRoute::Custodian {
                if let Some(custodian) = self.patients.get(patient).map(|info| info.custodian) {
                    let mut pending = self.custodial_recoveries.get(custodian).unwrap_or_default();
                    pending.retain(|filed| *filed != patient);
                    self.custodial_recoveries.insert(custodian, &pending);
                }
            }
            self.env().emit_event(RecoveryEnded { patient, outcome, by });
        }

        /// Ends the recoveries the accounts of `custodian` requested (only those of `account`,
        /// if given): their right to them ended.
        fn end_custodial_recoveries(&mut self, custodian: InstitutionId, account: Option<AccountId>) {
            let by = self.env().caller();
            for patient in self.custodial_recoveries.get(custodian).unwrap_or_default() {
                let requested_by = self.recoveries.get(patient).map(|pending| pending.requested_by);
                if account.is_none() || requested_by == account {
                    self.end_recovery(patient, RecoveryOutcome::RightLapsed, by);
                }
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
            self.end_recovery(patient, RecoveryOutcome::ControlChanged, changed_by);

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
            Lookup { membership: self.membership(account), cacheable: self.caller_is_dependent() }
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

        #[ink(message)]
        fn keepers(&self, patient: PatientId) -> Vec<InstitutionId> {
            let Some(info) = self.patients.get(patient) else { return Vec::new() };
            let mut keepers = ink::prelude::vec![info.custodian];
            let linked = self.linked.get(patient).unwrap_or_default();
            keepers.extend(linked.into_iter().filter(|institution| self.institutions.contains(institution)));
            keepers
        }

        #[ink(message)]
        fn keeps_patient(&self, institution: InstitutionId, patient: PatientId) -> bool {
            self.keepers(patient).contains(&institution)
        }

        #[ink(message)]
        fn lookup_keeper(&self, institution: InstitutionId, patient: PatientId) -> KeeperLookup {
            KeeperLookup { keeps: self.keeps_patient(institution, patient), cacheable: self.caller_is_dependent() }
        }

        #[ink(message)]
        fn succeeds(&self, successor: InstitutionId, predecessor: InstitutionId) -> bool {
            let mut current = predecessor;
            for _ in 0..MAX_SUCCESSION {
                match self.hand_overs.get(current) {
                    Some(next) if next == successor => return true,
                    Some(next) => current = next,
                    None => return false,
                }
            }
            false
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use custodia_types::directory::{InstitutionKind, DEFAULT_RECOVERY_DELAY_MS};
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
            assert_eq!(directory.invite_account(a.frank), Err(Error::NotOperator));
            as_caller(a.django);
            directory.invite_account(a.frank).expect("invite");
            assert!(!directory.is_member(a.frank, Role::Accessor), "not before it joins");
            as_caller(a.eve);
            assert_eq!(directory.join_institution(hospital), Err(Error::NotInvited));
            as_caller(a.frank);
            directory.join_institution(hospital).expect("join");
            assert_eq!(directory.join_institution(hospital), Err(Error::NotInvited), "an invitation is used once");
            as_caller(a.django);
            assert_eq!(directory.invite_account(a.frank), Err(Error::AccountAlreadyMember));
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
            assert_eq!(directory.register_patient(PatientId::default()), Err(Error::ZeroId(IdField::Patient)));
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

            // The custodian stays the fallback, but its recovery waits out the delay.
            as_caller(a.django);
            directory.request_recovery(p, None).expect("request");
            assert_eq!(directory.controller_of(p), Some(Controller::PatientHeld(a.eve)));
            assert_eq!(directory.complete_recovery(p), Err(Error::RecoveryNotDue));
            test::set_block_timestamp::<DefaultEnvironment>(DEFAULT_RECOVERY_DELAY_MS);
            directory.complete_recovery(p).expect("complete after the delay");
            assert_eq!(directory.controller_of(p), Some(Controller::Custodial(hospital)));
            assert_eq!(directory.request_recovery(p, None), Err(Error::NotPatientHeld));
        }
    }
}

//! Who may do what: institutions and their roles, governance, patients and their controllers.

use crate::{AccountId, InstitutionId, PatientId, Timestamp};
use ink::prelude::vec::Vec;

/// Most admins the governance set may have.
pub const MAX_ADMINS: u32 = 16;

/// Most contracts that may be attached to the directory as dependents (registries that cache
/// memberships and are told when to forget them).
pub const MAX_DEPENDENTS: u32 = 8;

/// Most guardians a patient names.
pub const MAX_GUARDIANS: u32 = 8;

/// Most patients one `hand_over_patients` call moves (a larger institution hands its patients
/// over in several calls).
pub const MAX_HAND_OVER_BATCH: u32 = 64;

/// Most recoveries one custodian institution may have pending at once (its accounts'
/// requests; guardians' requests do not count).
pub const MAX_CUSTODIAL_RECOVERIES: u32 = 128;

/// Most institutions a patient links to their id besides their custodian (hospitals, labs
/// and clinics where they presented it).
pub const MAX_LINKED_INSTITUTIONS: u32 = 16;

/// Most ids joined to one patient's id as its aliases (offered or accepted): ids an
/// institution gave the patient when she could not present hers, such as in an emergency.
pub const MAX_ALIASES: u32 = 8;

/// Most hand-overs followed from an institution to the one that keeps its records now (an
/// institution handed over to one that later left, and so on).
pub const MAX_SUCCESSION: u32 = 8;

/// One day in milliseconds of block time.
pub const DAY_MS: Timestamp = 86_400_000;

/// The shortest recovery delay governance may set.
pub const MIN_RECOVERY_DELAY_MS: Timestamp = DAY_MS;

/// The longest recovery delay governance may set.
pub const MAX_RECOVERY_DELAY_MS: Timestamp = 90 * DAY_MS;

/// The recovery delay until governance sets another.
pub const DEFAULT_RECOVERY_DELAY_MS: Timestamp = 7 * DAY_MS;

/// What an institution is, for the people reading the directory. Rights come from [`Roles`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[ink::scale_derive(Encode, Decode, TypeInfo)]
#[cfg_attr(feature = "std", derive(ink::storage::traits::StorageLayout))]
pub enum InstitutionKind {
    Hospital,
    Laboratory,
    Clinic,
    Payer,
    AuditBody,
    Other,
}

/// One right an institution can hold.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[ink::scale_derive(Encode, Decode, TypeInfo)]
#[cfg_attr(feature = "std", derive(ink::storage::traits::StorageLayout))]
pub enum Role {
    /// Keeps records: commits, supersedes and erases versions, registers patients.
    Custodian,
    /// Reads records under consent and writes access-log entries.
    Accessor,
    /// Inspects consents and the access log.
    Auditor,
}

impl crate::flags::Flag for Role {
    const ALL_BITS: u16 = 0b111;

    fn bit(self) -> u16 {
        match self {
            Role::Custodian => 0b001,
            Role::Accessor => 0b010,
            Role::Auditor => 0b100,
        }
    }
}

/// The set of roles an institution holds (one byte; only the three known bits are valid).
pub type Roles = crate::flags::FlagSet<Role, u8>;

/// An admitted institution.
#[derive(Clone, PartialEq, Eq, Debug)]
#[ink::scale_derive(Encode, Decode, TypeInfo)]
#[cfg_attr(feature = "std", derive(ink::storage::traits::StorageLayout))]
pub struct Institution {
    /// What it is (hospital, laboratory, ...).
    pub kind: InstitutionKind,
    /// What it may do.
    pub roles: Roles,
    /// The account that manages the institution's other accounts.
    pub operator: AccountId,
    /// Accounts (the operator included) that act for it.
    pub accounts: u32,
    /// Patients for whom it is the custodian (fallback controller).
    pub patients: u32,
    /// When governance admitted it.
    pub admitted_at: Timestamp,
}

/// What the directory says about one account: the institution it acts for, and that
/// institution's roles.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[ink::scale_derive(Encode, Decode, TypeInfo)]
pub struct Membership {
    /// The institution the account acts for.
    pub institution: InstitutionId,
    /// The institution's roles.
    pub roles: Roles,
}

/// A change to the directory that needs the admins' approval.
// scale-info's TypeInfo derive casts each variant's position to u8; this enum has far fewer
// than 256 variants, so the cast cannot truncate.
#[allow(clippy::cast_possible_truncation)]
#[derive(Clone, PartialEq, Eq, Debug)]
#[ink::scale_derive(Encode, Decode, TypeInfo)]
#[cfg_attr(feature = "std", derive(ink::storage::traits::StorageLayout))]
pub enum Action {
    /// Admit a new institution, managed by `operator`.
    Admit { operator: AccountId, kind: InstitutionKind, roles: Roles },
    /// Replace an institution's roles.
    SetRoles { institution: InstitutionId, roles: Roles },
    /// Remove an institution (refused while it is custodian of patients).
    Remove { institution: InstitutionId },
    /// Replace the admin set and the approval threshold; pending proposals lapse.
    SetAdmins { admins: Vec<AccountId>, threshold: u32 },
    /// Attach a registry contract that caches memberships: from then on the directory tells it,
    /// in the same transaction, whenever an account or an institution's roles must be forgotten.
    Attach { contract: AccountId },
    /// Detaches a dependent registry (one that stopped answering would otherwise block every
    /// removal). It no longer caches memberships: it asks the directory every time.
    Detach { contract: AccountId },
    /// Sets the network's recovery parameters (the delay within
    /// `MIN_RECOVERY_DELAY_MS..=MAX_RECOVERY_DELAY_MS`). A pending recovery keeps the delay
    /// read when its clock started.
    SetRecoveryParams { params: RecoveryParams },
    /// Switches the code of a contract of the suite (the directory itself, or a registry
    /// wired to it, through its `Governed::set_code`) to uploaded code, keeping its address
    /// and state.
    SetCode { contract: AccountId, code_hash: ink::primitives::Hash },
    /// Approves the hand-over of institution `from`'s patients to the custodian `to` before
    /// `from` leaves: from then on `from` registers no new patient, the operator of either
    /// moves the patients over (`hand_over_patients`, each announced), and `to` keeps the
    /// records `from` committed (it erases them on request and links its own versions to them).
    /// `from` can be removed once it has no patients left.
    HandOver { from: InstitutionId, to: InstitutionId },
    /// Makes `operator` the operator of `institution` (its operator's key was lost or must
    /// change without it). An account that already acts for the institution becomes operator at
    /// once; one that acts for no institution is invited and becomes operator when it joins with
    /// its own signature.
    SetOperator { institution: InstitutionId, operator: AccountId },
}

/// The network's rules for recovering patient-held control.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[ink::scale_derive(Encode, Decode, TypeInfo)]
#[cfg_attr(feature = "std", derive(ink::storage::traits::StorageLayout))]
pub struct RecoveryParams {
    /// How long a recovery waits, from its request (or, for guardians, from the approval
    /// that reaches their threshold), before it can be completed; the patient's key can
    /// veto it until then.
    pub delay_ms: Timestamp,
    /// If true, a patient cannot end their custodian's recovery right (the network requires
    /// the custodial fallback); a patient's policy that ends it is refused, and one set before
    /// is overridden.
    pub custodial_fallback_required: bool,
}

impl Default for RecoveryParams {
    fn default() -> Self {
        Self { delay_ms: DEFAULT_RECOVERY_DELAY_MS, custodial_fallback_required: false }
    }
}

/// Who may start a recovery of a patient-held identity, set by the patient's own key.
#[derive(Clone, PartialEq, Eq, Debug)]
#[ink::scale_derive(Encode, Decode, TypeInfo)]
#[cfg_attr(feature = "std", derive(ink::storage::traits::StorageLayout))]
pub struct RecoveryPolicy {
    /// Whether the patient's custodian may request a recovery (unless the network requires
    /// it, `RecoveryParams::custodial_fallback_required`).
    pub custodial: bool,
    /// Accounts the patient trusts (family, GP, an advocate): at most `MAX_GUARDIANS`,
    /// distinct, none of them the patient's key.
    pub guardians: Vec<AccountId>,
    /// Guardians that must approve a recovery before its delay starts: 1..=guardians.len(),
    /// or 0 with no guardians.
    pub threshold: u32,
}

impl Default for RecoveryPolicy {
    /// Until the patient sets one: the custodian may recover, no guardians.
    fn default() -> Self {
        Self { custodial: true, guardians: Vec::new(), threshold: 0 }
    }
}

/// Who started a recovery.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[ink::scale_derive(Encode, Decode, TypeInfo)]
#[cfg_attr(feature = "std", derive(ink::storage::traits::StorageLayout))]
pub enum RecoveryRoute {
    /// An account of the patient's custodian (with the custodian role).
    Custodian,
    /// The patient's guardians.
    Guardians,
}

/// An id joined to another as its alias: the same person, registered under a second id by an
/// institution she could not present hers to (unconscious in an emergency, say). Offered by
/// whoever acts for the alias, accepted by whoever acts for the id it joins; either side can
/// undo it. It joins two histories for whoever reads them; it widens no consent and moves no
/// record (each id keeps its records, receipts and controller).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[ink::scale_derive(Encode, Decode, TypeInfo)]
#[cfg_attr(feature = "std", derive(ink::storage::traits::StorageLayout))]
pub struct PatientAlias {
    /// The id this one is an alias of.
    pub of: PatientId,
    /// Whether whoever acts for `of` accepted it (until then, only offered).
    pub accepted: bool,
}

/// What happened to an alias.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[ink::scale_derive(Encode, Decode, TypeInfo)]
pub enum AliasChange {
    /// Whoever acts for the alias offered to join it to the other id.
    Offered,
    /// Whoever acts for the other id accepted: one person, one history.
    Accepted,
    /// Either side undid it (or withdrew the offer): two histories again.
    Removed,
}

/// A pending recovery: announced at once, carried out only after the delay, vetoed by the
/// patient's key until then.
#[derive(Clone, PartialEq, Eq, Debug)]
#[ink::scale_derive(Encode, Decode, TypeInfo)]
#[cfg_attr(feature = "std", derive(ink::storage::traits::StorageLayout))]
pub struct Recovery {
    /// Who started it.
    pub route: RecoveryRoute,
    /// The controller it installs: a new patient key, or the custodian.
    pub to: Controller,
    /// The account that requested it.
    pub requested_by: AccountId,
    /// When.
    pub requested_at: Timestamp,
    /// Guardians that approved (the requesting guardian first); empty for the custodian route.
    pub approvals: Vec<AccountId>,
    /// When it can be completed: `None` until the guardians' threshold is reached.
    pub executable_at: Option<Timestamp>,
    /// The patient's policy generation it was requested under (a policy change ends a
    /// guardians' recovery).
    pub policy_epoch: u32,
}

/// How a pending recovery ended.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[ink::scale_derive(Encode, Decode, TypeInfo)]
pub enum RecoveryOutcome {
    /// Carried out: the controller changed.
    Completed,
    /// The patient's key vetoed it.
    Vetoed,
    /// Its requester withdrew it.
    Cancelled,
    /// A guardians' request took the place of a custodian's.
    Replaced,
    /// Control changed otherwise (rotation, a handed-back key, an accepted offer).
    ControlChanged,
    /// The patient's policy changed and no longer allows it.
    PolicyChanged,
    /// The patient was handed over to another custodian, which ends the old custodian's
    /// request.
    CustodianChanged,
    /// Its requester's right ended: the account was removed from its institution, or the
    /// institution lost the custodian role.
    RightLapsed,
}

/// Where a proposal stands.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[ink::scale_derive(Encode, Decode, TypeInfo)]
#[cfg_attr(feature = "std", derive(ink::storage::traits::StorageLayout))]
pub enum ProposalStatus {
    /// Collecting approvals.
    Pending,
    /// Carried out.
    Executed,
    /// Withdrawn by its proposer.
    Cancelled,
}

/// A governance proposal.
#[derive(Clone, PartialEq, Eq, Debug)]
#[ink::scale_derive(Encode, Decode, TypeInfo)]
#[cfg_attr(feature = "std", derive(ink::storage::traits::StorageLayout))]
pub struct Proposal {
    /// What it would do.
    pub action: Action,
    /// The admin who proposed it (and approved it by proposing).
    pub proposer: AccountId,
    /// Approvals so far.
    pub approvals: u32,
    /// The admin-set generation it belongs to; a change of admins makes it lapse.
    pub admin_epoch: u32,
    /// Where it stands.
    pub status: ProposalStatus,
    /// When it was proposed.
    pub created_at: Timestamp,
}

/// Who controls a patient's consents and records.
// scale-info's TypeInfo derive casts each variant's position to u8; this enum has far fewer
// than 256 variants, so the cast cannot truncate.
#[allow(clippy::cast_possible_truncation)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[ink::scale_derive(Encode, Decode, TypeInfo)]
#[cfg_attr(feature = "std", derive(ink::storage::traits::StorageLayout))]
pub enum Controller {
    /// An institution acts for the patient (the default).
    Custodial(InstitutionId),
    /// The patient holds the key.
    PatientHeld(AccountId),
}

/// A registered patient.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[ink::scale_derive(Encode, Decode, TypeInfo)]
#[cfg_attr(feature = "std", derive(ink::storage::traits::StorageLayout))]
pub struct PatientInfo {
    /// Who controls the patient's consents and records now.
    pub controller: Controller,
    /// The custodial institution: controller by default, fallback once the patient holds a key.
    pub custodian: InstitutionId,
    /// An account offered control and not yet accepted.
    pub offered_to: Option<AccountId>,
    /// When the patient was registered.
    pub registered_at: Timestamp,
}

/// What the directory answers a dependent registry about one account.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[ink::scale_derive(Encode, Decode, TypeInfo)]
pub struct Lookup {
    /// The institution the account acts for and its roles, if any.
    pub membership: Option<Membership>,
    /// True if the asking contract is attached, so that it will be told when to forget the
    /// answer and may therefore cache it.
    pub cacheable: bool,
}

/// What the directory answers a dependent registry about who keeps a patient's records.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[ink::scale_derive(Encode, Decode, TypeInfo)]
pub struct KeeperLookup {
    /// True if the institution keeps the patient's records (`keeps_patient`).
    pub keeps: bool,
    /// True if the asking contract is attached, so that it will be told when the institution
    /// stops keeping them (an unlink, a hand-over) and may therefore cache a `true`.
    pub cacheable: bool,
}

/// Why a dependent refused to forget.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[ink::scale_derive(Encode, Decode, TypeInfo)]
pub enum ForgetError {
    /// Returned if the caller is not the dependent's directory.
    NotDirectory,
}

/// Why a registry refused to change its code.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[ink::scale_derive(Encode, Decode, TypeInfo)]
pub enum GovernedError {
    /// Returned if the caller is not the registry's directory (only the directory's M-of-N
    /// governance changes code).
    NotDirectory,
    /// Returned if no code with that hash was uploaded.
    CodeNotFound,
}

/// What every registry implements so that the directory's governance can fix a deployed
/// contract without losing its state: `Action::SetCode` calls it.
#[ink::trait_definition]
pub trait Governed {
    /// Switches this contract's code to `code_hash` (uploaded already), keeping its address
    /// and storage. The new code must read the same storage layout.
    #[ink(message)]
    fn set_code(&mut self, code_hash: ink::primitives::Hash) -> Result<(), GovernedError>;
}

/// What a registry that caches memberships implements, so the directory can invalidate it.
#[ink::trait_definition]
pub trait MembershipCache {
    /// Drops what the registry cached about `account` (it left its institution).
    #[ink(message)]
    fn forget_account(&mut self, account: AccountId) -> Result<(), ForgetError>;

    /// Drops what the registry cached about `institution`'s roles (changed or removed).
    #[ink(message)]
    fn forget_institution(&mut self, institution: InstitutionId) -> Result<(), ForgetError>;

    /// Drops what the registry cached about `institution` keeping `patient`'s records (the
    /// patient's controller unlinked it, or the patient was handed over from it).
    #[ink(message)]
    fn forget_keeper(&mut self, patient: PatientId, institution: InstitutionId) -> Result<(), ForgetError>;
}

/// The directory's interface for other contracts and for the client.
#[ink::trait_definition]
pub trait DirectoryQueries {
    /// True if `account` acts for an institution that holds `role`.
    #[ink(message)]
    fn is_member(&self, account: AccountId, role: Role) -> bool;

    /// The institution `account` acts for and its roles, if any.
    #[ink(message)]
    fn membership(&self, account: AccountId) -> Option<Membership>;

    /// `membership(account)` for a dependent registry, saying whether it may cache the answer.
    #[ink(message)]
    fn lookup(&self, account: AccountId) -> Lookup;

    /// The roles of an admitted institution, if it is admitted.
    #[ink(message)]
    fn institution_roles(&self, institution: InstitutionId) -> Option<Roles>;

    /// The registered patient, if any.
    #[ink(message)]
    fn patient(&self, patient: PatientId) -> Option<PatientInfo>;

    /// Who controls `patient` now, if registered.
    #[ink(message)]
    fn controller_of(&self, patient: PatientId) -> Option<Controller>;

    /// True if `account` may act for `patient`: the patient-held key, or an account of the
    /// custodial institution while it is the controller.
    #[ink(message)]
    fn may_act_for(&self, account: AccountId, patient: PatientId) -> bool;

    /// True if `successor` keeps the records of `predecessor` now: governance approved the
    /// hand-over of `predecessor`'s patients to it, directly or through earlier hand-overs
    /// (at most `MAX_SUCCESSION` of them).
    #[ink(message)]
    fn succeeds(&self, successor: InstitutionId, predecessor: InstitutionId) -> bool;

    /// The institutions that keep records under the patient's id: the custodian first, then
    /// those the patient's controller linked (still admitted). Empty if not registered.
    #[ink(message)]
    fn keepers(&self, patient: PatientId) -> Vec<InstitutionId>;

    /// True if `institution` may open records under the patient's id: it is the patient's
    /// custodian, or the patient's controller linked it.
    #[ink(message)]
    fn keeps_patient(&self, institution: InstitutionId, patient: PatientId) -> bool;

    /// `keeps_patient` for a dependent registry, saying whether it may cache the answer.
    #[ink(message)]
    fn lookup_keeper(&self, institution: InstitutionId, patient: PatientId) -> KeeperLookup;
}

/// Emitted when an admin proposes a change to the directory.
#[ink::event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposalCreated {
    #[ink(topic)]
    pub proposal: u32,
    #[ink(topic)]
    pub proposer: AccountId,
    pub action: Action,
}

/// Emitted when an admin approves a proposal (the proposer's own approval included).
#[ink::event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposalApproved {
    #[ink(topic)]
    pub proposal: u32,
    #[ink(topic)]
    pub approver: AccountId,
    pub approvals: u32,
    pub threshold: u32,
}

/// Emitted when a proposal that reached the threshold is carried out.
#[ink::event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposalExecuted {
    #[ink(topic)]
    pub proposal: u32,
    #[ink(topic)]
    pub executed_by: AccountId,
}

/// Emitted when a proposer withdraws a pending proposal.
#[ink::event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposalCancelled {
    #[ink(topic)]
    pub proposal: u32,
    #[ink(topic)]
    pub cancelled_by: AccountId,
}

/// Emitted when governance admits an institution.
#[ink::event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstitutionAdmitted {
    #[ink(topic)]
    pub institution: InstitutionId,
    #[ink(topic)]
    pub operator: AccountId,
    pub kind: InstitutionKind,
    pub roles: Roles,
}

/// Emitted when governance changes an institution's roles.
#[ink::event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolesChanged {
    #[ink(topic)]
    pub institution: InstitutionId,
    pub old: Roles,
    pub new: Roles,
}

/// Emitted when governance removes an institution; its accounts stop acting for it at once.
#[ink::event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstitutionRemoved {
    #[ink(topic)]
    pub institution: InstitutionId,
    pub roles: Roles,
}

/// Emitted when governance replaces the admin set or the threshold.
#[ink::event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminsChanged {
    pub old_threshold: u32,
    pub new_threshold: u32,
    pub admins: Vec<AccountId>,
}

/// Emitted when governance attaches a dependent registry.
#[ink::event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DependentAttached {
    #[ink(topic)]
    pub contract: AccountId,
}

/// A registry was detached: the directory no longer tells it to forget, and it no longer
/// caches memberships.
#[ink::event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DependentDetached {
    #[ink(topic)]
    pub contract: AccountId,
}

/// Emitted when an institution's operator invites an account to act for it (nothing changes
/// for the account until it joins).
#[ink::event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountInvited {
    #[ink(topic)]
    pub institution: InstitutionId,
    #[ink(topic)]
    pub account: AccountId,
}

/// Emitted when an invited account joins an institution: it acts for it from now on.
#[ink::event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountAdded {
    #[ink(topic)]
    pub institution: InstitutionId,
    #[ink(topic)]
    pub account: AccountId,
}

/// Emitted when an institution's operator removes one of its accounts.
#[ink::event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRemoved {
    #[ink(topic)]
    pub institution: InstitutionId,
    #[ink(topic)]
    pub account: AccountId,
}

/// Emitted when a custodian registers a patient pseudonym, with itself as controller.
#[ink::event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientRegistered {
    #[ink(topic)]
    pub patient: PatientId,
    #[ink(topic)]
    pub custodian: InstitutionId,
    pub registered_by: AccountId,
}

/// Emitted when the controller offers control of a patient to a patient-held account.
#[ink::event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlOffered {
    #[ink(topic)]
    pub patient: PatientId,
    #[ink(topic)]
    pub offered_to: AccountId,
    pub offered_by: AccountId,
}

/// Emitted when control of a patient changes hands: the patient accepts a key, hands control
/// back, or the custodian recovers it.
#[ink::event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlChanged {
    #[ink(topic)]
    pub patient: PatientId,
    pub old: Controller,
    pub new: Controller,
    pub changed_by: AccountId,
}

/// A recovery of a patient-held identity was requested: it can be completed at
/// `executable_at` (when set) unless the patient's key vetoes it first.
#[ink::event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryRequested {
    #[ink(topic)]
    pub patient: PatientId,
    pub route: RecoveryRoute,
    pub to: Controller,
    pub requested_by: AccountId,
    pub executable_at: Option<Timestamp>,
}

/// A guardian approved a pending recovery; `executable_at` is set once the threshold is met.
#[ink::event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryApproved {
    #[ink(topic)]
    pub patient: PatientId,
    pub guardian: AccountId,
    pub approvals: u32,
    pub threshold: u32,
    pub executable_at: Option<Timestamp>,
}

/// A pending recovery ended (completed, vetoed, cancelled, replaced, or overtaken).
#[ink::event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryEnded {
    #[ink(topic)]
    pub patient: PatientId,
    pub outcome: RecoveryOutcome,
    pub by: AccountId,
}

/// The patient's key set who may recover it.
#[ink::event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryPolicyChanged {
    #[ink(topic)]
    pub patient: PatientId,
    pub policy: RecoveryPolicy,
}

/// Governance set the network's recovery parameters.
#[ink::event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryParamsChanged {
    pub params: RecoveryParams,
}

/// Governance approved the hand-over of `from`'s patients and records to `to`.
#[ink::event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandOverApproved {
    #[ink(topic)]
    pub from: InstitutionId,
    #[ink(topic)]
    pub to: InstitutionId,
}

/// A patient was handed over to another custodian institution (its old one is leaving). A
/// custodial patient's controller moves with it; a patient-held key keeps control.
#[ink::event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustodianChanged {
    #[ink(topic)]
    pub patient: PatientId,
    pub from: InstitutionId,
    pub to: InstitutionId,
    pub by: AccountId,
}

/// The patient's controller linked an institution to the patient's id (the patient presented
/// it there): it keeps records under it from now on. Consents granted before do not cover them.
#[ink::event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstitutionLinked {
    #[ink(topic)]
    pub patient: PatientId,
    #[ink(topic)]
    pub institution: InstitutionId,
    pub by: AccountId,
}

/// The patient's controller undid a link: the institution opens no more records under the
/// patient's id (those it opened stay, with their history).
#[ink::event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstitutionUnlinked {
    #[ink(topic)]
    pub patient: PatientId,
    #[ink(topic)]
    pub institution: InstitutionId,
    pub by: AccountId,
}

/// An id was offered, accepted or removed as an alias of another (see [`PatientAlias`]):
/// announced on both ids' topics, so that either's history finds it.
#[ink::event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliasChanged {
    /// The alias (the second id).
    #[ink(topic)]
    pub patient: PatientId,
    /// The id it joins.
    #[ink(topic)]
    pub of: PatientId,
    pub change: AliasChange,
    pub by: AccountId,
}

/// An institution's operator changed (by its own operator, or by governance).
#[ink::event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorChanged {
    #[ink(topic)]
    pub institution: InstitutionId,
    pub old: AccountId,
    pub new: AccountId,
    pub by: AccountId,
}

/// Governance changed a contract's code (`Action::SetCode`).
#[ink::event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeChanged {
    #[ink(topic)]
    pub contract: AccountId,
    pub code_hash: ink::primitives::Hash,
}

//! The stateful property campaign (issue 11): random walks over the messages of all four
//! contracts, sent by every role (admins, custodians and their clerk, an accessor, an auditor,
//! patients' keys, guardians, strangers), with the clock moving, in the real pallet-contracts
//! runtime. A model kept beside the chain (what was committed under which commitment, what was
//! erased, which entries were logged) and the chain's own answers are checked after every step:
//!
//! - a refused call changes nothing: it reverts, emits no event, and the state root is the one
//!   before it; an accepted one does not revert; no call traps (a trap fails the harness);
//! - an erased version never verifies `Match`, a committed one verifies `Match` under its
//!   commitment (and only under it);
//! - a receipt that authorises an access is a permit of the patient the version belongs to,
//!   for the caller's institution (and account, if it names one) and purpose, in force at the
//!   access time and not revoked; no access is authorised while a deny of that patient in force
//!   covers it;
//! - a deny is lifted only by the patient's controller at the time of the call;
//! - a record whose id is in an institution's namespace has only that institution's versions;
//! - the log's size is the number of entries its `AccessLogged` events announced, and every
//!   root the log ever reported is the root of the first entries of the log it became.
//!
//! `CUSTODIA_CAMPAIGN_STEPS` (default 10,000, in `CUSTODIA_CAMPAIGN_WALKS` walks side by side,
//! default 2, from seeds `CUSTODIA_CAMPAIGN_SEED`, `CUSTODIA_CAMPAIGN_SEED + 1`, …) make a longer
//! or a replayed run: a failure names its walk's seed, which replays alone with one walk of as
//! many steps.

use custodia_fhir::mapping::consent::PURPOSES;
use custodia_merkle::{leaf_hash, Sha256, Tree};
use custodia_sandbox::harness::Outcome;
use custodia_tests::{
    rng::Rng,
    world::{id32, kind, World},
};
use custodia_types::{
    access_log::{AccessLogged, Authorization, BreakGlassReason, NewEntry},
    consents::{
        AccessCheck, ConsentQueries, ConsentSet, Decision, Denial, Grantee, Purpose, Purposes, Receipt, ReceiptId,
        ReceiptQuery, Scope, Target, Terms, MAX_RECEIPT_PAGE,
    },
    directory::{Action, Controller, DirectoryQueries, InstitutionKind, RecoveryPolicy, Role, Roles, DAY_MS},
    records::{ErasureReason, Link, NewVersion, Supersedence, Verification, VersionRef},
    CodeId, Commitment, InstitutionId, PatientId, RecordId,
};
use ink::primitives::AccountId;
use scale::Encode;
use std::collections::BTreeMap;

fn account(tag: u8) -> AccountId {
    AccountId::from([tag; 32])
}

/// What the walk knows of a committed version.
#[derive(Clone, Copy, Debug)]
struct Committed {
    patient: PatientId,
    kind: CodeId,
    commitment: Commitment,
    erased: bool,
}

/// What the walk knows of a granted receipt.
#[derive(Clone, Copy, Debug)]
struct Granted {
    id: ReceiptId,
    patient: PatientId,
    decision: Decision,
}

/// The model beside the chain.
#[derive(Default)]
struct Model {
    /// Every version ever committed, by where it is.
    versions: BTreeMap<(RecordId, u32), Committed>,
    /// Every receipt granted.
    receipts: Vec<Granted>,
    /// Every leaf the log announced, in order.
    leaves: Vec<Vec<u8>>,
    /// Every root the log reported, by its size then.
    roots: BTreeMap<u64, [u8; 32]>,
    /// Proposals made.
    proposals: u32,
    /// The next commitment number.
    commitments: u32,
}

/// Everyone who sends calls, and what the calls name.
struct Cast {
    everyone: Vec<AccountId>,
    /// The directory's admins, who govern.
    admins: Vec<AccountId>,
    custodians: Vec<AccountId>,
    /// Those who grant and revoke: the custodial patient's custodian and the patient's key.
    controllers: Vec<AccountId>,
    accessors: Vec<AccountId>,
    /// The institutions that hold the accessor role.
    accessor_institutions: Vec<InstitutionId>,
    keys: Vec<AccountId>,
    patients: Vec<PatientId>,
    records: Vec<RecordId>,
    codes: Vec<CodeId>,
    institutions: Vec<InstitutionId>,
}

/// An outcome reduced to accepted or refused (and why, for messages).
type Judged = Outcome<Result<(), String>>;

/// An outcome with its value reduced to accepted or refused.
fn judged<T, E: std::fmt::Debug>(outcome: Outcome<Result<T, E>>) -> Judged {
    outcome.map(|value| value.map(|_| ()).map_err(|error| format!("{error:?}")))
}

fn purposes_of(rng: &mut Rng) -> Purposes {
    // Mostly valid sets of one or two purposes; sometimes empty or with an unknown bit.
    match rng.below(40) {
        0 => Purposes::from_bits(0),
        1 => Purposes::from_bits(0x100),
        _ => Purposes::of(&[any_purpose(rng), any_purpose(rng)]),
    }
}

/// Any purpose the chain knows (the FHIR mapping's table lists them all).
fn any_purpose(rng: &mut Rng) -> Purpose {
    rng.pick(PURPOSES).1
}

fn scope_of(rng: &mut Rng, cast: &Cast, model: &Model) -> Scope {
    let version = model.versions.keys().nth(rng.below(model.versions.len().max(1)));
    match (rng.below(9), version) {
        (0 | 1, Some((record, _))) => Scope::Record(*record),
        (2 | 3, Some((record, number))) => Scope::Version(VersionRef { record: *record, version: *number }),
        (4 | 5, _) => Scope::Categories(vec![rng.pick(&cast.codes)]),
        (6, _) if rng.chance(4) => Scope::Categories(Vec::new()),
        _ => Scope::AllRecords,
    }
}

fn terms_of(rng: &mut Rng, cast: &Cast, model: &Model, now: u64) -> Terms {
    let from = now.saturating_sub(rng.pick(&[0, DAY_MS]));
    // Mostly for an accessor institution of the cast; sometimes a custodian only, an auditor
    // or an unknown one.
    let institution = if rng.chance(3) { rng.pick(&cast.institutions) } else { rng.pick(&cast.accessor_institutions) };
    Terms {
        patient: rng.pick(&cast.patients),
        grantee: Grantee { institution, account: rng.chance(4).then(|| rng.pick(&cast.accessors)) },
        scope: scope_of(rng, cast, model),
        purposes: purposes_of(rng),
        decision: if rng.chance(4) { Decision::Deny } else { Decision::Permit },
        valid_from: from,
        valid_until: now + if rng.chance(20) { 0 } else { rng.pick(&[60_000, DAY_MS, 30 * DAY_MS, 365 * DAY_MS]) },
    }
}

/// Does `receipt` (a deny or a permit) apply to `check`, as the consents registry's rules say:
/// the grantee's institution (and account, if named), a purpose it names, its period at the
/// access time, not revoked before the access time (accesses are judged when they happened),
/// and a scope covering the version (kind `kind`).
fn applies(receipt: &Receipt, check: &AccessCheck, institution: InstitutionId, kind: CodeId) -> bool {
    let Target::Version(at) = check.target else { return false };
    receipt.grantee.institution == institution
        && receipt.grantee.account.is_none_or(|account| account == check.accessor)
        && receipt.purposes.contains(check.purpose)
        && receipt.valid_from <= check.at
        && check.at < receipt.valid_until
        && receipt.revoked.is_none_or(|revocation| check.at < revocation.revoked_at)
        && match &receipt.scope {
            Scope::AllRecords => true,
            Scope::Record(record) => *record == at.record,
            Scope::Version(version) => *version == at,
            Scope::Categories(codes) => codes.contains(&kind),
        }
}

struct Walk {
    w: World,
    rng: Rng,
    cast: Cast,
    model: Model,
    seed: u64,
}

impl Walk {
    fn now(&mut self) -> u64 {
        self.w.chain.sandbox().now()
    }

    fn all_receipts(&mut self, patient: PatientId) -> Vec<(ReceiptId, Receipt)> {
        let mut all = Vec::new();
        let mut from = 0;
        loop {
            let query = ReceiptQuery { patient, from, limit: MAX_RECEIPT_PAGE, active_only: false };
            let page = self.w.chain.query(self.w.cast.stranger, self.w.con().receipts(query));
            all.extend(page.items.into_iter().map(|numbered| (numbered.id, numbered.receipt)));
            if page.next <= from {
                return all;
            }
            from = page.next;
        }
    }

    /// True if `caller` controls `patient` now: its key, or a custodian-role account of the
    /// institution that holds it.
    fn controls(&mut self, caller: AccountId, patient: PatientId) -> bool {
        let stranger = self.w.cast.stranger;
        match self.w.chain.query(stranger, self.w.dir().controller_of(patient)) {
            Some(Controller::PatientHeld(key)) => key == caller,
            Some(Controller::Custodial(institution)) => self
                .w
                .chain
                .query(stranger, self.w.dir().membership(caller))
                .is_some_and(|m| m.institution == institution && m.roles.contains(Role::Custodian)),
            None => false,
        }
    }

    fn new_version(&mut self, supersede: bool) -> NewVersion {
        self.model.commitments += 1;
        let record = self.rng.pick(&self.cast.records);
        let head = self.model.versions.range((record, 0)..=(record, u32::MAX)).next_back().map(|(at, _)| at.1);
        let supersedes = match head {
            Some(head) if supersede => Some(Link {
                target: VersionRef { record, version: if self.rng.chance(5) { head + 1 } else { head } },
                how: self.rng.pick(&[Supersedence::Replaces, Supersedence::Amends, Supersedence::Corrects]),
            }),
            _ => None,
        };
        let opened = self.model.versions.get(&(record, 1)).map(|v| v.patient);
        let patient = match opened {
            Some(patient) if !self.rng.chance(8) => patient,
            _ => self.rng.pick(&self.cast.patients),
        };
        NewVersion {
            record,
            patient,
            // Now and then a commitment used before (refused: committed or erased).
            commitment: commitment(if self.rng.chance(15) { 1 } else { self.model.commitments }),
            locator: if self.rng.chance(30) { Vec::new() } else { b"custodia:campaign".to_vec() },
            kind: self.rng.pick(&self.cast.codes),
            supersedes,
        }
    }

    fn entry(&mut self, seq: u64, now: u64) -> NewEntry {
        let n = self.model.versions.len().max(1);
        let version = self.model.versions.iter().nth(self.rng.below(n)).map(|(at, c)| (*at, c.patient));
        let (target, patient) = match version {
            Some(((record, version), patient)) if !self.rng.chance(6) => {
                let patient = if self.rng.chance(10) { self.rng.pick(&self.cast.patients) } else { patient };
                (Target::Version(VersionRef { record, version }), patient)
            }
            _ => (Target::Query(self.rng.pick(&self.cast.codes)), self.rng.pick(&self.cast.patients)),
        };
        let theirs: Vec<ReceiptId> =
            self.model.receipts.iter().filter(|r| r.patient == patient).map(|r| r.id).collect();
        let break_glass = self.rng.chance(4);
        let authorization = if break_glass {
            Authorization::BreakGlass(self.rng.pick(&[BreakGlassReason::LifeThreatening, BreakGlassReason::UrgentCare]))
        } else {
            match (theirs.is_empty(), self.rng.chance(10)) {
                (false, false) => Authorization::Consent(self.rng.pick(&theirs)),
                _ => Authorization::Consent(self.rng.below(self.model.receipts.len() + 2) as ReceiptId),
            }
        };
        NewEntry {
            seq,
            patient,
            target,
            purpose: if break_glass && !self.rng.chance(5) {
                Purpose::EmergencyTreatment
            } else {
                any_purpose(&mut self.rng)
            },
            accessed_at: now.saturating_sub(self.rng.pick(&[0, 1_000, 60_000])),
            authorization,
        }
    }

    /// One random call; returns its name and outcome, or `None` for a step that sent none.
    fn step(&mut self) -> Option<(String, AccountId, Judged)> {
        let now = self.now();
        let r = &mut self.rng;
        let kind = r.below(32);
        // Two thirds of the calls from those the message is for (custodians commit, controllers
        // grant and revoke, accessors log, admins govern), the rest from anyone.
        let meant_for: &[AccountId] = match kind {
            0..=7 => &self.cast.custodians,
            8..=15 => &self.cast.controllers,
            16..=20 => &self.cast.accessors,
            29 => &self.cast.admins,
            _ => &self.cast.everyone,
        };
        let caller = if r.chance(3) { r.pick(&self.cast.everyone) } else { r.pick(meant_for) };
        let patient = r.pick(&self.cast.patients);
        let (name, outcome) = match kind {
            0..=5 => {
                let supersede = self.rng.chance(3);
                let version = self.new_version(supersede);
                ("commit", judged(self.w.chain.call(caller, self.w.rec().commit(version))))
            }
            6 => {
                let n = 1 + self.rng.below(3);
                let batch = (0..n).map(|_| self.new_version(false)).collect();
                ("commit_batch", judged(self.w.chain.call(caller, self.w.rec().commit_batch(batch))))
            }
            7 => {
                let at = self.model.versions.keys().nth(self.rng.below(self.model.versions.len().max(1))).copied();
                let (record, version) = at.unwrap_or((self.cast.records[0], 1));
                let reason = self.rng.pick(&[ErasureReason::PatientRequest, ErasureReason::EnteredInError]);
                ("erase", judged(self.w.chain.call(caller, self.w.rec().erase(record, version, reason))))
            }
            8..=11 => {
                let terms = terms_of(&mut self.rng, &self.cast, &self.model, now);
                ("grant", judged(self.w.chain.call(caller, self.w.con().grant(terms))))
            }
            12 => {
                let first = terms_of(&mut self.rng, &self.cast, &self.model, now);
                let mut second = terms_of(&mut self.rng, &self.cast, &self.model, now);
                if !self.rng.chance(5) {
                    second.patient = first.patient;
                }
                let key = [self.rng.below(4) as u8; 32];
                let set = ConsentSet { key, terms: vec![first, second] };
                ("grant_set", judged(self.w.chain.call(caller, self.w.con().grant_set(set))))
            }
            13..=15 => {
                let id = if self.model.receipts.is_empty() { 1 } else { self.rng.pick(&self.model.receipts).id };
                // Whether it is a deny in force, and whether the caller controls its patient now.
                let stranger = self.w.cast.stranger;
                let held = self.w.chain.query(stranger, self.w.con().receipt(id));
                let deny = held.as_ref().is_some_and(|r| r.decision == Decision::Deny && r.revoked.is_none());
                let controls = match &held {
                    Some(receipt) => self.controls(caller, receipt.patient),
                    None => false,
                };
                let outcome = judged(self.w.chain.call(caller, self.w.con().revoke(id)));
                if deny && outcome.value.is_ok() {
                    assert!(
                        controls,
                        "deny {id} lifted by {caller:?}, not its patient's controller (seed {})",
                        self.seed
                    );
                }
                ("revoke", outcome)
            }
            16..=20 => {
                let next = self.w.chain.query(caller, self.w.log().next_seq(caller));
                let skew = if self.rng.chance(10) { 1 } else { 0 };
                let n = 1 + self.rng.below(3) as u64;
                let entries = (0..n).map(|i| self.entry(next + skew + i, now)).collect();
                ("append_batch", judged(self.w.chain.call(caller, self.w.log().append_batch(entries))))
            }
            21 => {
                let policy = RecoveryPolicy {
                    custodial: self.rng.chance(2),
                    guardians: vec![account(0x61), account(0x62)],
                    threshold: 1 + self.rng.below(2) as u32,
                };
                (
                    "set_recovery_policy",
                    judged(self.w.chain.call(caller, self.w.dir().set_recovery_policy(patient, policy))),
                )
            }
            22 => {
                let to = self.rng.chance(2).then(|| self.rng.pick(&self.cast.keys));
                ("request_recovery", judged(self.w.chain.call(caller, self.w.dir().request_recovery(patient, to))))
            }
            23 => match self.rng.below(4) {
                0 => ("approve_recovery", judged(self.w.chain.call(caller, self.w.dir().approve_recovery(patient)))),
                1 => ("veto_recovery", judged(self.w.chain.call(caller, self.w.dir().veto_recovery(patient)))),
                2 => ("cancel_recovery", judged(self.w.chain.call(caller, self.w.dir().cancel_recovery(patient)))),
                _ => ("complete_recovery", judged(self.w.chain.call(caller, self.w.dir().complete_recovery(patient)))),
            },
            24 => {
                let to = self.rng.pick(&self.cast.keys);
                match self.rng.below(4) {
                    0 => ("offer_control", judged(self.w.chain.call(caller, self.w.dir().offer_control(patient, to)))),
                    1 => ("accept_control", judged(self.w.chain.call(caller, self.w.dir().accept_control(patient)))),
                    2 => ("release_control", judged(self.w.chain.call(caller, self.w.dir().release_control(patient)))),
                    _ => ("rotate_key", judged(self.w.chain.call(caller, self.w.dir().rotate_key(patient, to)))),
                }
            }
            25 => {
                let institution = self.rng.pick(&self.cast.institutions);
                match self.rng.below(2) {
                    0 => (
                        "link_institution",
                        judged(self.w.chain.call(caller, self.w.dir().link_institution(patient, institution))),
                    ),
                    _ => (
                        "unlink_institution",
                        judged(self.w.chain.call(caller, self.w.dir().unlink_institution(patient, institution))),
                    ),
                }
            }
            26 => {
                let of = self.rng.pick(&self.cast.patients);
                match self.rng.below(3) {
                    0 => ("offer_alias", judged(self.w.chain.call(caller, self.w.dir().offer_alias(patient, of)))),
                    1 => ("accept_alias", judged(self.w.chain.call(caller, self.w.dir().accept_alias(patient)))),
                    _ => ("remove_alias", judged(self.w.chain.call(caller, self.w.dir().remove_alias(patient)))),
                }
            }
            27 => {
                // A new patient now and then, by whoever tries.
                let fresh = PatientId::new(id32(0xE3 + self.rng.below(3) as u8));
                let outcome = judged(self.w.chain.call(caller, self.w.dir().register_patient(fresh)));
                if outcome.value.is_ok() && !self.cast.patients.contains(&fresh) {
                    self.cast.patients.push(fresh);
                }
                ("register_patient", outcome)
            }
            28 => {
                let someone = self.rng.pick(&self.cast.everyone);
                let institution = self.rng.pick(&self.cast.institutions);
                match self.rng.below(3) {
                    0 => ("invite_account", judged(self.w.chain.call(caller, self.w.dir().invite_account(someone)))),
                    1 => (
                        "join_institution",
                        judged(self.w.chain.call(caller, self.w.dir().join_institution(institution))),
                    ),
                    _ => ("remove_account", judged(self.w.chain.call(caller, self.w.dir().remove_account(someone)))),
                }
            }
            29 => {
                // Governance: proposals of harmless and of sweeping actions, approvals,
                // executions and cancellations by admins and others.
                let institution = self.rng.pick(&self.cast.institutions);
                let roles = Roles::from_bits(self.rng.pick(&[0b001, 0b011, 0b010, 0b100, 0b1000]));
                let action = match self.rng.below(3) {
                    0 => Action::SetRoles { institution, roles },
                    1 => Action::Admit { operator: account(0x70), kind: InstitutionKind::Clinic, roles },
                    _ => Action::HandOver { from: institution, to: self.rng.pick(&self.cast.institutions) },
                };
                let proposal = if self.model.proposals == 0 {
                    0
                } else {
                    self.rng.below(self.model.proposals as usize + 1) as u32
                };
                match self.rng.below(4) {
                    0 => {
                        let outcome = judged(self.w.chain.call(caller, self.w.dir().propose(action)));
                        if outcome.value.is_ok() {
                            self.model.proposals += 1;
                        }
                        ("propose", outcome)
                    }
                    1 => ("approve", judged(self.w.chain.call(caller, self.w.dir().approve(proposal)))),
                    2 => ("execute", judged(self.w.chain.call(caller, self.w.dir().execute(proposal)))),
                    _ => ("cancel", judged(self.w.chain.call(caller, self.w.dir().cancel(proposal)))),
                }
            }
            30 => {
                let from = self.rng.pick(&self.cast.institutions);
                (
                    "hand_over_patients",
                    judged(self.w.chain.call(caller, self.w.dir().hand_over_patients(from, vec![patient]))),
                )
            }
            _ => {
                let ms = self.rng.pick(&[1_000, 60_000, DAY_MS, 8 * DAY_MS]);
                self.w.chain.set_time(now + ms);
                return None;
            }
        };
        Some((name.to_string(), caller, outcome))
    }

    /// Learns what an accepted call did from its events.
    fn learn(&mut self, outcome: &Judged) {
        use custodia_types::{
            consents::ConsentGranted,
            records::{VersionCommitted, VersionErased},
        };
        for committed in outcome.events_of::<VersionCommitted>() {
            let at = (committed.record, committed.version);
            assert!(!self.model.versions.contains_key(&at), "version {at:?} committed twice (seed {})", self.seed);
            if let Some(owner) = committed.record.namespace() {
                assert_eq!(
                    committed.custodian, owner,
                    "a record in a namespace is its institution's (seed {})",
                    self.seed
                );
            }
            let version = Committed {
                patient: committed.patient,
                kind: committed.kind,
                commitment: committed.commitment,
                erased: false,
            };
            self.model.versions.insert(at, version);
        }
        for erased in outcome.events_of::<VersionErased>() {
            let at = (erased.record, erased.version);
            self.model.versions.get_mut(&at).expect("an erased version was committed").erased = true;
        }
        for granted in outcome.events_of::<ConsentGranted>() {
            let (id, patient, decision) = (granted.receipt, granted.patient, granted.decision);
            assert!(self.model.receipts.iter().all(|r| r.id != id), "receipt {id} granted twice");
            self.model.receipts.push(Granted { id, patient, decision });
        }
        let logged = outcome.events_of::<AccessLogged>();
        for event in &logged {
            assert_eq!(event.index, self.model.leaves.len() as u64, "entries are announced in order");
            self.model.leaves.push(event.entry.encode());
        }
    }

    /// The log's size is what its events announced, and every root it reported is the root of
    /// that many first leaves of the log now.
    fn check_log(&mut self, full: bool) {
        let head = self.w.chain.query(self.w.cast.stranger, self.w.log().head());
        assert_eq!(head.size, self.model.leaves.len() as u64, "log size vs announced entries (seed {})", self.seed);
        if head.size > 0 {
            self.model.roots.insert(head.size, head.root);
        }
        if full {
            let tree = Tree::from_leaves::<Sha256>(self.model.leaves.iter().map(|leaf| leaf_hash::<Sha256>(leaf)));
            for (size, root) in &self.model.roots {
                assert_eq!(tree.root::<Sha256>(*size).as_ref(), Some(root), "root at {size} (seed {})", self.seed);
                let on_chain = self.w.chain.query(self.w.cast.stranger, self.w.log().root_at(*size));
                assert_eq!(on_chain.as_ref(), Some(root), "root_at({size}) (seed {})", self.seed);
            }
        }
    }

    /// Erased versions never verify `Match`; committed ones do under their commitment only.
    fn check_versions(&mut self, all: bool) {
        let versions: Vec<_> = if all {
            self.model.versions.iter().map(|(at, c)| (*at, *c)).collect()
        } else {
            let n = self.model.versions.len();
            if n == 0 {
                return;
            }
            let pick = self.rng.below(n);
            self.model.versions.iter().nth(pick).map(|(at, c)| (*at, *c)).into_iter().collect()
        };
        for ((record, number), committed) in versions {
            let stranger = self.w.cast.stranger;
            let verdict = self.w.chain.query(stranger, self.w.rec().verify(record, number, committed.commitment));
            let expected = if committed.erased { Verification::Erased } else { Verification::Match };
            assert_eq!(verdict, expected, "{record:?} v{number} (seed {})", self.seed);
            let other = self.w.chain.query(stranger, self.w.rec().verify(record, number, commitment(u32::MAX)));
            assert_ne!(other, Verification::Match, "a wrong commitment never matches (seed {})", self.seed);
        }
    }

    /// A random access check: what authorises it is a permit of the version's patient for the
    /// accessor, in force, not revoked; nothing is authorised under a deny in force covering it.
    fn check_authorization(&mut self) {
        let n = self.model.versions.len();
        if n == 0 {
            return;
        }
        // The version's patient and kind as its `VersionCommitted` event announced them (a
        // record's patient never changes; `check_versions` holds the chain to the model).
        let ((record, version), committed) =
            self.model.versions.iter().nth(self.rng.below(n)).map(|(at, c)| (*at, *c)).expect("in range");
        let accessor = self.rng.pick(&self.cast.accessors);
        let purpose = any_purpose(&mut self.rng);
        let now = self.now();
        let stranger = self.w.cast.stranger;
        let (owner, kind) = (committed.patient, committed.kind);
        // Mostly the version's own patient; sometimes another, which nothing may authorise.
        let patient = if self.rng.chance(5) { self.rng.pick(&self.cast.patients) } else { owner };
        let cited =
            (self.rng.chance(2) && !self.model.receipts.is_empty()).then(|| self.rng.pick(&self.model.receipts).id);
        let check = AccessCheck {
            accessor,
            patient,
            target: Target::Version(VersionRef { record, version }),
            purpose,
            at: now,
            receipt: cited,
        };
        let answer: Result<ReceiptId, Denial> = self.w.chain.query(stranger, self.w.con().is_authorized(check));
        let member = self.w.chain.query(stranger, self.w.dir().membership(accessor));
        let context = format!("{check:?} -> {answer:?} (seed {})", self.seed);
        if let Ok(id) = answer {
            let receipt = self.w.chain.query(stranger, self.w.con().receipt(id)).expect("the receipt exists");
            let member = member.expect("an authorised accessor is a member");
            assert!(member.roles.contains(Role::Accessor), "{context}");
            assert_eq!(receipt.patient, owner, "a receipt covers only its patient's records: {context}");
            assert_eq!(patient, owner, "{context}");
            assert_eq!(receipt.decision, Decision::Permit, "{context}");
            assert!(
                applies(&receipt, &check, member.institution, kind),
                "in force, in scope: {context}; {receipt:?} for institution {} kind {kind:?}",
                member.institution
            );
        }
        let has_denies = self.model.receipts.iter().any(|r| r.patient == owner && r.decision == Decision::Deny);
        if let (Some(member), true) = (member, has_denies) {
            let denies = self.all_receipts(owner);
            let denied = denies
                .iter()
                .any(|(_, r)| r.decision == Decision::Deny && applies(r, &check, member.institution, kind));
            if denied {
                assert!(answer.is_err(), "a deny in force covers it: {context}");
            }
        }
    }
}

fn commitment(n: u32) -> Commitment {
    custodia_tests::world::commitment(n)
}

#[test]
fn every_message_by_every_role_keeps_the_invariants() {
    let env = |name: &str| std::env::var(name).ok().and_then(|s| s.parse::<u64>().ok());
    let steps = env("CUSTODIA_CAMPAIGN_STEPS").unwrap_or(10_000);
    let walks = env("CUSTODIA_CAMPAIGN_WALKS").unwrap_or(2).max(1);
    let seed = env("CUSTODIA_CAMPAIGN_SEED").unwrap_or(0xC0_5EED);
    println!(
        "property campaign: {steps} steps in {walks} walks side by side, seeds {seed}.. \
         (CUSTODIA_CAMPAIGN_SEED=<seed> CUSTODIA_CAMPAIGN_WALKS=1 CUSTODIA_CAMPAIGN_STEPS=<steps> replays one)"
    );
    let each = u32::try_from(steps.div_ceil(walks)).expect("steps fit a u32");
    std::thread::scope(|scope| {
        let walks: Vec<_> = (0..walks).map(|n| scope.spawn(move || walk(seed + n, each))).collect();
        for walk in walks {
            if let Err(panic) = walk.join() {
                std::panic::resume_unwind(panic);
            }
        }
    });
}

/// One walk of `steps` steps from `seed`, checked after every step.
fn walk(seed: u64, steps: u32) {
    let w = World::new();
    let c = w.cast;
    let (keys, guardians) = ([c.patient_key, account(0x53), account(0x54)], [account(0x61), account(0x62)]);
    let mut everyone = c.all();
    everyone.extend(keys.iter().chain(&guardians).chain(&[account(0x70)]));
    everyone.sort();
    everyone.dedup();
    let i = w.institutions;
    let cast = Cast {
        everyone: everyone.clone(),
        admins: c.admins.to_vec(),
        custodians: vec![c.hospital_a, c.hospital_a_clerk, c.hospital_b],
        controllers: vec![c.hospital_a, c.hospital_a_clerk, c.patient_key],
        accessor_institutions: vec![i.hospital_a, i.lab],
        accessors: vec![c.hospital_a, c.hospital_a_clerk, c.lab],
        keys: keys.iter().chain(&guardians).copied().collect(),
        patients: vec![w.custodial_patient, w.keyed_patient],
        // Six ids in no namespace, one in each hospital's.
        records: (0..6)
            .map(|n| RecordId::new(id32(0x80 + n)))
            .chain([RecordId::namespaced(i.hospital_a, [0x86; 24]), RecordId::namespaced(i.hospital_b, [0x87; 24])])
            .collect(),
        codes: vec![kind(), CodeId::new(id32(0xC1)), CodeId::new(id32(0xC2))],
        institutions: vec![i.hospital_a, i.hospital_b, i.lab, i.audit_body, 99],
    };
    let mut walk = Walk { w, rng: Rng::new(seed), cast, model: Model::default(), seed };
    for account in &everyone {
        walk.w.chain.fund(*account);
    }
    let mut counts: BTreeMap<String, (u32, u32)> = BTreeMap::new();
    for step_no in 0..steps {
        // A block every few steps, as a chain makes them (a block's events are kept until it
        // ends: one endless block makes every call slower than the last).
        if step_no % 16 == 0 {
            let now = walk.now();
            walk.w.chain.next_block();
            // Sealing sets the sandbox's own block time; the walk's clock never goes back.
            let sealed = walk.now();
            walk.w.chain.set_time(sealed.max(now));
        }
        let root_before = walk.w.chain.state_root();
        let Some((name, caller, outcome)) = walk.step() else { continue };
        let context = format!("step {step_no} {name} by {caller:?} (seed {seed}): {:?}", outcome.value);
        let tally = counts.entry(name.clone()).or_default();
        match &outcome.value {
            Err(_) => {
                tally.1 += 1;
                assert!(outcome.reverted, "a refused call reverts: {context}");
                assert!(outcome.events.is_empty(), "a refused call emits nothing: {context}");
                assert_eq!(walk.w.chain.state_root(), root_before, "a refused call changes nothing: {context}");
            }
            Ok(()) => {
                tally.0 += 1;
                assert!(!outcome.reverted, "{context}");
                walk.learn(&outcome);
            }
        }
        walk.check_log(step_no % 500 == 0);
        walk.check_versions(step_no % 500 == 0);
        walk.check_authorization();
    }
    walk.check_log(true);
    walk.check_versions(true);
    let accepted: u32 = counts.values().map(|c| c.0).sum();
    println!("walk {seed}: accepted / refused by message: {counts:?}");
    println!(
        "walk {seed}: {steps} steps, {accepted} calls accepted; {} versions, {} receipts, {} entries logged",
        walk.model.versions.len(),
        walk.model.receipts.len(),
        walk.model.leaves.len()
    );
    // The walk must reach deep states, or its invariants prove little.
    for name in ["commit", "erase", "grant", "revoke", "append_batch"] {
        assert!(counts.get(name).is_some_and(|c| c.0 > 0), "{name} was never accepted: {counts:?}");
    }
}

/// Contract call data, mutated at random from valid calls of every contract (cut short,
/// lengthened, bytes changed, selectors kept or changed): every call is answered, never
/// trapped: the output is ink!'s `MessageResult`, either `CouldNotReadInput` (or an unknown
/// selector's revert) or the message's own answer; a reverted call changed nothing.
#[test]
fn mutated_call_data_never_traps() {
    let steps: u32 = std::env::var("CUSTODIA_CALLDATA_STEPS").ok().and_then(|s| s.parse().ok()).unwrap_or(3_000);
    let seed: u64 = std::env::var("CUSTODIA_CAMPAIGN_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0xC0_5EED);
    println!("mutated call data: {steps} calls, seed {seed} (CUSTODIA_CAMPAIGN_SEED to replay)");
    let mut w = World::new();
    let (p, c) = (w.custodial_patient, w.cast);
    let record = RecordId::new(id32(0x80));
    let version = NewVersion {
        record,
        patient: p,
        commitment: commitment(7),
        locator: b"custodia:x".to_vec(),
        kind: kind(),
        supersedes: None,
    };
    let terms = w.lab_terms(p, Decision::Permit);
    let entry = NewEntry {
        seq: 0,
        patient: p,
        target: Target::Version(VersionRef { record, version: 1 }),
        purpose: Purpose::Treatment,
        accessed_at: w.chain.sandbox().now(),
        authorization: Authorization::Consent(0),
    };
    let input = |message: &dyn Fn() -> Vec<u8>| message();
    let valid: Vec<(AccountId, AccountId, Vec<u8>)> = vec![
        (w.records, c.hospital_a, input(&|| w.rec().commit(version.clone()).params().exec_input().encode())),
        (
            w.records,
            c.hospital_a,
            input(&|| w.rec().commit_batch(vec![version.clone()]).params().exec_input().encode()),
        ),
        (
            w.records,
            c.hospital_a,
            input(&|| w.rec().erase(record, 1, ErasureReason::Other).params().exec_input().encode()),
        ),
        (w.records, c.stranger, input(&|| w.rec().versions(record, 1, 8).params().exec_input().encode())),
        (w.consents, c.hospital_a, input(&|| w.con().grant(terms.clone()).params().exec_input().encode())),
        (
            w.consents,
            c.hospital_a,
            input(&|| {
                let set = ConsentSet { key: [1; 32], terms: vec![terms.clone()] };
                w.con().grant_set(set).params().exec_input().encode()
            }),
        ),
        (w.consents, c.hospital_a, input(&|| w.con().revoke(1).params().exec_input().encode())),
        (w.access_log, c.lab, input(&|| w.log().append_batch(vec![entry]).params().exec_input().encode())),
        (
            w.directory,
            c.hospital_a,
            input(&|| w.dir().register_patient(PatientId::new(id32(0xE9))).params().exec_input().encode()),
        ),
        (
            w.directory,
            c.admins[0],
            input(&|| {
                let action = Action::SetRoles { institution: 1, roles: Roles::of(&[Role::Custodian]) };
                w.dir().propose(action).params().exec_input().encode()
            }),
        ),
        (
            w.directory,
            c.patient_key,
            input(&|| {
                let policy = RecoveryPolicy { custodial: true, guardians: vec![account(0x61)], threshold: 1 };
                w.dir().set_recovery_policy(w.keyed_patient, policy).params().exec_input().encode()
            }),
        ),
    ];
    let mut rng = Rng::new(seed);
    let (mut unreadable, mut answered) = (0u32, 0u32);
    for n in 0..steps {
        let (contract, caller, original) = &valid[rng.below(valid.len())];
        let mut data = original.clone();
        match rng.below(5) {
            0 => data.truncate(rng.below(data.len() + 1)),
            1 => data.extend((0..1 + rng.below(40)).map(|_| rng.next_u64() as u8)),
            2 | 3 => {
                for _ in 0..1 + rng.below(4) {
                    let at = rng.below(data.len());
                    data[at] = rng.next_u64() as u8;
                }
            }
            _ => {
                // A valid selector followed by garbage.
                data.truncate(4);
                data.extend((0..rng.below(200)).map(|_| rng.next_u64() as u8));
            }
        }
        let before = w.chain.state_root();
        let (output, outcome) = w
            .chain
            .call_raw(*caller, *contract, data.clone())
            .unwrap_or_else(|e| panic!("call {n} trapped: {e:?} on {} (seed {seed})", hex::encode(&data)));
        if outcome.reverted {
            assert_eq!(w.chain.state_root(), before, "a reverted call changed state (call {n}, seed {seed})");
            assert!(outcome.events.is_empty(), "call {n}");
        }
        match output.first() {
            Some(0) => answered += 1,
            Some(1) => {
                let refused: ink::MessageResult<()> = scale::Decode::decode(&mut &output[..]).expect("a LangError");
                assert_eq!(refused, Err(ink::LangError::CouldNotReadInput), "call {n} (seed {seed})");
                unreadable += 1;
            }
            // An unknown selector: ink! reverts without an answer.
            _ => assert!(outcome.reverted && output.is_empty(), "call {n}: {output:?} (seed {seed})"),
        }
    }
    println!("{answered} answered by the message, {unreadable} CouldNotReadInput, the rest unknown selectors");
    assert!(answered > 0 && unreadable > 0, "the mutations reach both the messages and the decoder");
}

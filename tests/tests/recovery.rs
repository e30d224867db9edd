//! Patient control that a custodian cannot seize (issue 15 §1), in the real pallet-contracts
//! runtime with the sandbox's clock: recoveries are announced at once, wait out the network's
//! delay, and end at the patient key's veto; guardians recover under the same delay; the
//! patient's key rotates at once; receipts survive a recovery. Ends with a property test of the
//! control state machine over random sequences of every control step and of time.

use consents::Error as ConsentError;
use custodia_tests::{
    rng::Rng,
    world::{id32, World},
};
use custodia_types::records::NewVersion;
use custodia_types::{
    consents::{AccessCheck, ConsentQueries, Decision, Grantee, Purpose, Purposes, Scope, Target, Terms},
    directory::{
        Action, ControlChanged, Controller, RecoveryApproved, RecoveryEnded, RecoveryOutcome, RecoveryParams,
        RecoveryPolicy, RecoveryPolicyChanged, RecoveryRequested, RecoveryRoute, DAY_MS, DEFAULT_RECOVERY_DELAY_MS,
        MAX_RECOVERY_DELAY_MS, MIN_RECOVERY_DELAY_MS,
    },
    records::VersionRef,
    CodeId, RecordId,
};
use directory::{DirectoryQueries, Error};
use ink::primitives::AccountId;

const DELAY: u64 = DEFAULT_RECOVERY_DELAY_MS;

fn key(tag: u8) -> AccountId {
    AccountId::from([tag; 32])
}

/// The keyed patient's next key, and three guardians.
struct People {
    new_key: AccountId,
    guardians: [AccountId; 3],
}

fn people(w: &mut World) -> People {
    let people = People { new_key: key(0x53), guardians: [key(0x61), key(0x62), key(0x63)] };
    for account in [people.new_key, people.guardians[0], people.guardians[1], people.guardians[2]] {
        w.chain.fund(account);
    }
    people
}

fn now(w: &mut World) -> u64 {
    w.chain.sandbox().now()
}

/// Moves the clock `ms` forward.
fn wait(w: &mut World, ms: u64) {
    let t = now(w);
    w.chain.set_time(t + ms);
}

fn controller(w: &mut World) -> Option<Controller> {
    let p = w.keyed_patient;
    w.chain.query(w.cast.stranger, w.dir().controller_of(p))
}

/// The patient's key names the guardians with a threshold of two, keeping the custodian's right.
fn name_guardians(w: &mut World, people: &People, custodial: bool) {
    let policy = RecoveryPolicy { custodial, guardians: people.guardians.to_vec(), threshold: 2 };
    let set = w.dir().set_recovery_policy(w.keyed_patient, policy.clone());
    let outcome = w.chain.call(w.cast.patient_key, set);
    assert_eq!(outcome.value, Ok(()));
    assert_eq!(outcome.events_of::<RecoveryPolicyChanged>()[0].policy, policy);
}

#[test]
fn recovery_cannot_complete_before_the_delay() {
    let mut w = World::new();
    let people = people(&mut w);
    let (p, a) = (w.keyed_patient, w.cast.hospital_a);
    let requested_at = now(&mut w);
    assert_eq!(w.chain.call(a, w.dir().request_recovery(p, Some(people.new_key))).value, Ok(()));
    // The patient keeps full control while it is pending.
    assert!(w.chain.query(a, w.dir().may_act_for(w.cast.patient_key, p)));
    for who in w.cast.all() {
        assert_eq!(w.chain.call_refused(who, w.dir().complete_recovery(p)), Err(Error::RecoveryNotDue), "{who:?}");
    }
    w.chain.set_time(requested_at + DELAY - 1);
    assert_eq!(w.chain.call_refused(w.cast.stranger, w.dir().complete_recovery(p)), Err(Error::RecoveryNotDue));
    w.chain.set_time(requested_at + DELAY);
    // Anyone may carry it out once due: the stranger here.
    let outcome = w.chain.call(w.cast.stranger, w.dir().complete_recovery(p));
    assert_eq!(outcome.value, Ok(()));
    let ended = &outcome.events_of::<RecoveryEnded>()[0];
    assert_eq!((ended.outcome, ended.by), (RecoveryOutcome::Completed, w.cast.stranger));
    let changed = &outcome.events_of::<ControlChanged>()[0];
    assert_eq!(
        (changed.old, changed.new),
        (Controller::PatientHeld(w.cast.patient_key), Controller::PatientHeld(people.new_key))
    );
    assert_eq!(controller(&mut w), Some(Controller::PatientHeld(people.new_key)));
    assert_eq!(w.chain.query(a, w.dir().recovery(p)), None);
}

#[test]
fn a_veto_ends_the_recovery_and_only_the_patients_key_vetoes() {
    let mut w = World::new();
    let (p, a) = (w.keyed_patient, w.cast.hospital_a);
    assert_eq!(w.chain.call(a, w.dir().request_recovery(p, None)).value, Ok(()));
    for who in w.cast.all().into_iter().filter(|who| *who != w.cast.patient_key) {
        assert_eq!(w.chain.call_refused(who, w.dir().veto_recovery(p)), Err(Error::NotController), "{who:?}");
    }
    let outcome = w.chain.call(w.cast.patient_key, w.dir().veto_recovery(p));
    assert_eq!(outcome.value, Ok(()));
    let ended = &outcome.events_of::<RecoveryEnded>()[0];
    assert_eq!((ended.patient, ended.outcome, ended.by), (p, RecoveryOutcome::Vetoed, w.cast.patient_key));
    wait(&mut w, DELAY);
    assert_eq!(w.chain.call_refused(a, w.dir().complete_recovery(p)), Err(Error::NoRecovery));
    assert_eq!(controller(&mut w), Some(Controller::PatientHeld(w.cast.patient_key)));
    assert_eq!(w.chain.call_refused(w.cast.patient_key, w.dir().veto_recovery(p)), Err(Error::NoRecovery));
}

#[test]
fn an_unvetoed_custodial_recovery_returns_control_to_the_custodian() {
    let mut w = World::new();
    let (p, a) = (w.keyed_patient, w.cast.hospital_a_clerk);
    assert_eq!(w.chain.call(a, w.dir().request_recovery(p, None)).value, Ok(()));
    wait(&mut w, DELAY);
    assert_eq!(w.chain.call(a, w.dir().complete_recovery(p)).value, Ok(()));
    assert_eq!(controller(&mut w), Some(Controller::Custodial(w.institutions.hospital_a)));
}

#[test]
fn a_second_request_while_one_is_pending_is_refused_but_guardians_replace_a_custodian() {
    let mut w = World::new();
    let people = people(&mut w);
    let p = w.keyed_patient;
    name_guardians(&mut w, &people, true);
    assert_eq!(w.chain.call(w.cast.hospital_a, w.dir().request_recovery(p, None)).value, Ok(()));
    let again = w.dir().request_recovery(p, Some(people.new_key));
    assert_eq!(w.chain.call_refused(w.cast.hospital_a_clerk, again), Err(Error::RecoveryPending));
    // A custodian cannot block the patient's own guardians.
    let outcome = w.chain.call(people.guardians[0], w.dir().request_recovery(p, Some(people.new_key)));
    assert_eq!(outcome.value, Ok(()));
    assert_eq!(outcome.events_of::<RecoveryEnded>()[0].outcome, RecoveryOutcome::Replaced);
    let requested = &outcome.events_of::<RecoveryRequested>()[0];
    assert_eq!((requested.route, requested.executable_at), (RecoveryRoute::Guardians, None));
    // …and the custodian cannot take the guardians' place back.
    let back = w.dir().request_recovery(p, None);
    assert_eq!(w.chain.call_refused(w.cast.hospital_a, back), Err(Error::RecoveryPending));
    let second = w.dir().request_recovery(p, None);
    assert_eq!(w.chain.call_refused(people.guardians[1], second), Err(Error::RecoveryPending));
}

#[test]
fn the_guardians_clock_starts_at_the_threshold() {
    let mut w = World::new();
    let people = people(&mut w);
    let p = w.keyed_patient;
    name_guardians(&mut w, &people, false);
    let [g1, g2, g3] = people.guardians;
    assert_eq!(w.chain.call(g1, w.dir().request_recovery(p, Some(people.new_key))).value, Ok(()));
    wait(&mut w, 3 * DAY_MS);
    assert_eq!(w.chain.call_refused(g1, w.dir().complete_recovery(p)), Err(Error::RecoveryNotDue));
    assert_eq!(w.chain.call_refused(g1, w.dir().approve_recovery(p)), Err(Error::AlreadyApproved));
    for who in w.cast.all() {
        assert_eq!(w.chain.call_refused(who, w.dir().approve_recovery(p)), Err(Error::NotGuardian), "{who:?}");
    }
    let reached = now(&mut w);
    let outcome = w.chain.call(g2, w.dir().approve_recovery(p));
    assert_eq!(outcome.value, Ok(2));
    let approved = &outcome.events_of::<RecoveryApproved>()[0];
    assert_eq!((approved.approvals, approved.threshold, approved.executable_at), (2, 2, Some(reached + DELAY)));
    assert_eq!(w.chain.call(g3, w.dir().approve_recovery(p)).value, Ok(3), "a late approval keeps the clock");
    w.chain.set_time(reached + DELAY - 1);
    assert_eq!(w.chain.call_refused(g3, w.dir().complete_recovery(p)), Err(Error::RecoveryNotDue));
    w.chain.set_time(reached + DELAY);
    assert_eq!(w.chain.call(g3, w.dir().complete_recovery(p)).value, Ok(()));
    assert_eq!(controller(&mut w), Some(Controller::PatientHeld(people.new_key)));
}

#[test]
fn the_patient_can_end_the_custodians_recovery_right() {
    let mut w = World::new();
    let people = people(&mut w);
    let p = w.keyed_patient;
    assert_eq!(w.chain.call(w.cast.hospital_a, w.dir().request_recovery(p, None)).value, Ok(()));
    // Naming guardians without the custodian ends the custodian's pending request too.
    let policy = RecoveryPolicy { custodial: false, guardians: people.guardians.to_vec(), threshold: 2 };
    let outcome = w.chain.call(w.cast.patient_key, w.dir().set_recovery_policy(p, policy));
    assert_eq!(outcome.value, Ok(()));
    assert_eq!(outcome.events_of::<RecoveryEnded>()[0].outcome, RecoveryOutcome::PolicyChanged);
    let request = w.dir().request_recovery(p, None);
    assert_eq!(w.chain.call_refused(w.cast.hospital_a, request), Err(Error::CustodialRecoveryDisabled));
    // Nobody but the key sets the policy.
    let other = RecoveryPolicy::default();
    for who in w.cast.all().into_iter().filter(|who| *who != w.cast.patient_key) {
        let set = w.dir().set_recovery_policy(p, other.clone());
        assert_eq!(w.chain.call_refused(who, set), Err(Error::NotController), "{who:?}");
    }
}

#[test]
fn custodial_recovery_cannot_be_disabled_when_the_network_requires_it() {
    let mut w = World::new();
    let people = people(&mut w);
    let p = w.keyed_patient;
    // Set before the requirement: the requirement overrides it.
    let no_custodian = RecoveryPolicy { custodial: false, guardians: people.guardians.to_vec(), threshold: 2 };
    assert_eq!(w.chain.call(w.cast.patient_key, w.dir().set_recovery_policy(p, no_custodian.clone())).value, Ok(()));
    let required = RecoveryParams { delay_ms: DELAY, custodial_fallback_required: true };
    assert_eq!(w.govern(Action::SetRecoveryParams { params: required }), Ok(()));
    assert_eq!(w.chain.query(w.cast.stranger, w.dir().recovery_params()), required);
    let set = w.dir().set_recovery_policy(p, no_custodian);
    assert_eq!(w.chain.call_refused(w.cast.patient_key, set), Err(Error::CustodialFallbackRequired));
    assert_eq!(w.chain.call(w.cast.hospital_a, w.dir().request_recovery(p, None)).value, Ok(()));
}

#[test]
fn governance_keeps_the_delay_within_bounds_and_a_pending_clock_keeps_its_delay() {
    let mut w = World::new();
    let admin = w.cast.admins[0];
    for delay_ms in [0, MIN_RECOVERY_DELAY_MS - 1, MAX_RECOVERY_DELAY_MS + 1] {
        let params = RecoveryParams { delay_ms, custodial_fallback_required: false };
        let propose = w.dir().propose(Action::SetRecoveryParams { params });
        assert_eq!(w.chain.call_refused(admin, propose), Err(Error::InvalidDelay), "{delay_ms}");
    }
    let p = w.keyed_patient;
    let requested_at = now(&mut w);
    assert_eq!(w.chain.call(w.cast.hospital_a, w.dir().request_recovery(p, None)).value, Ok(()));
    let shorter = RecoveryParams { delay_ms: MIN_RECOVERY_DELAY_MS, custodial_fallback_required: false };
    assert_eq!(w.govern(Action::SetRecoveryParams { params: shorter }), Ok(()));
    w.chain.set_time(requested_at + MIN_RECOVERY_DELAY_MS);
    let early = w.dir().complete_recovery(p);
    assert_eq!(
        w.chain.call_refused(w.cast.hospital_a, early),
        Err(Error::RecoveryNotDue),
        "read when the clock started"
    );
}

#[test]
fn removing_the_requesting_account_ends_its_recovery_at_once() {
    let mut w = World::new();
    let p = w.keyed_patient;
    let clerk = w.cast.hospital_a_clerk;
    assert_eq!(w.chain.call(clerk, w.dir().request_recovery(p, None)).value, Ok(()));
    // Announced in the block that removes the account, so the patient's view shows it ended.
    let outcome = w.chain.call(w.cast.hospital_a, w.dir().remove_account(clerk));
    assert_eq!(outcome.value, Ok(()));
    let ended = &outcome.events_of::<RecoveryEnded>()[0];
    assert_eq!((ended.patient, ended.outcome, ended.by), (p, RecoveryOutcome::RightLapsed, w.cast.hospital_a));
    assert_eq!(w.chain.query(w.cast.stranger, w.dir().recovery(p)), None);
    wait(&mut w, DELAY);
    assert_eq!(w.chain.call_refused(w.cast.stranger, w.dir().complete_recovery(p)), Err(Error::NoRecovery));
    // The operator may ask afresh (and waits afresh).
    let outcome = w.chain.call(w.cast.hospital_a, w.dir().request_recovery(p, None));
    assert_eq!(outcome.value, Ok(()));
    assert!(outcome.events_of::<RecoveryEnded>().is_empty(), "nothing was pending any more");
    assert_eq!(w.chain.call_refused(w.cast.stranger, w.dir().complete_recovery(p)), Err(Error::RecoveryNotDue));
}

#[test]
fn an_institution_that_loses_the_custodian_role_ends_its_recoveries() {
    let mut w = World::new();
    let p = w.keyed_patient;
    assert_eq!(w.chain.call(w.cast.hospital_a_clerk, w.dir().request_recovery(p, None)).value, Ok(()));
    let accessor = custodia_types::directory::Roles::of(&[custodia_types::directory::Role::Accessor]);
    let outcome = w.governed(Action::SetRoles { institution: w.institutions.hospital_a, roles: accessor });
    assert_eq!(outcome.value, Ok(()));
    let ended = &outcome.events_of::<RecoveryEnded>()[0];
    assert_eq!((ended.patient, ended.outcome), (p, RecoveryOutcome::RightLapsed));
    assert_eq!(w.chain.query(w.cast.stranger, w.dir().recovery(p)), None);
}

#[test]
fn a_custodian_has_a_bounded_number_of_recoveries_pending() {
    let mut w = World::new();
    let op = w.cast.hospital_a;
    // Patients who each hold their own key, registered by hospital A.
    let limit = custodia_types::directory::MAX_CUSTODIAL_RECOVERIES;
    for n in 0..=limit {
        let patient = custodia_types::PatientId::new(patient_bytes(n));
        let patient_key = key_of(n);
        w.chain.fund(patient_key);
        assert_eq!(w.chain.call(op, w.dir().register_patient(patient)).value, Ok(()));
        assert_eq!(w.chain.call(op, w.dir().offer_control(patient, patient_key)).value, Ok(()));
        assert_eq!(w.chain.call(patient_key, w.dir().accept_control(patient)).value, Ok(()));
        let request = w.dir().request_recovery(patient, None);
        if n < limit {
            assert_eq!(w.chain.call(op, request).value, Ok(()), "request {n}");
        } else {
            assert_eq!(w.chain.call_refused(op, request), Err(Error::TooManyRecoveries));
            // One ends (the patient vetoes it), and there is room again.
            let first = custodia_types::PatientId::new(patient_bytes(0));
            assert_eq!(w.chain.call(key_of(0), w.dir().veto_recovery(first)).value, Ok(()));
            assert_eq!(w.chain.call(op, w.dir().request_recovery(patient, None)).value, Ok(()));
        }
    }
}

/// A distinct patient id and patient key per number (for the bound's test).
fn patient_bytes(n: u32) -> [u8; 32] {
    let mut bytes = [0xD0; 32];
    bytes[..4].copy_from_slice(&n.to_le_bytes());
    bytes
}

fn key_of(n: u32) -> AccountId {
    let mut bytes = [0xD1; 32];
    bytes[..4].copy_from_slice(&n.to_le_bytes());
    AccountId::from(bytes)
}

#[test]
fn rotation_is_immediate_and_ends_a_pending_recovery_and_offers() {
    let mut w = World::new();
    let people = people(&mut w);
    let p = w.keyed_patient;
    let old_key = w.cast.patient_key;
    assert_eq!(w.chain.call(w.cast.hospital_a, w.dir().request_recovery(p, None)).value, Ok(()));
    assert_eq!(w.chain.call(old_key, w.dir().offer_control(p, key(0x54))).value, Ok(()));
    for who in w.cast.all().into_iter().filter(|who| *who != old_key) {
        let rotate = w.dir().rotate_key(p, people.new_key);
        assert_eq!(w.chain.call_refused(who, rotate), Err(Error::NotController), "{who:?}");
    }
    assert_eq!(w.chain.call_refused(old_key, w.dir().rotate_key(p, old_key)), Err(Error::SameKey));
    let to_staff = w.dir().rotate_key(p, w.cast.lab);
    assert_eq!(w.chain.call_refused(old_key, to_staff), Err(Error::AccountIsInstitutional));
    let outcome = w.chain.call(old_key, w.dir().rotate_key(p, people.new_key));
    assert_eq!(outcome.value, Ok(()));
    assert_eq!(outcome.events_of::<RecoveryEnded>()[0].outcome, RecoveryOutcome::ControlChanged);
    assert_eq!(outcome.events_of::<ControlChanged>()[0].new, Controller::PatientHeld(people.new_key));
    assert_eq!(w.chain.query(old_key, w.dir().recovery(p)), None);
    assert_eq!(w.chain.call_refused(key(0x54), w.dir().accept_control(p)), Err(Error::NotOffered));
    assert!(!w.chain.query(old_key, w.dir().may_act_for(old_key, p)));
}

#[test]
fn changing_guardians_ends_a_guardian_recovery() {
    let mut w = World::new();
    let people = people(&mut w);
    let p = w.keyed_patient;
    name_guardians(&mut w, &people, true);
    assert_eq!(w.chain.call(people.guardians[0], w.dir().request_recovery(p, Some(people.new_key))).value, Ok(()));
    let fewer = RecoveryPolicy { custodial: true, guardians: people.guardians[..2].to_vec(), threshold: 1 };
    let outcome = w.chain.call(w.cast.patient_key, w.dir().set_recovery_policy(p, fewer));
    assert_eq!(outcome.events_of::<RecoveryEnded>()[0].outcome, RecoveryOutcome::PolicyChanged);
    assert_eq!(w.chain.call_refused(people.guardians[1], w.dir().approve_recovery(p)), Err(Error::NoRecovery));
}

#[test]
fn bad_guardian_sets_are_refused() {
    let mut w = World::new();
    let people = people(&mut w);
    let (p, k) = (w.keyed_patient, w.cast.patient_key);
    let g = people.guardians;
    let nine: Vec<AccountId> = (0..9).map(|i| key(0x70 + i)).collect();
    for (guardians, threshold) in [
        (vec![g[0], g[1]], 3),
        (vec![g[0], g[1]], 0),
        (vec![], 1),
        (vec![g[0], g[0]], 1),
        (vec![g[0], k], 1),
        (nine, 2),
    ] {
        let policy = RecoveryPolicy { custodial: true, guardians, threshold };
        let set = w.dir().set_recovery_policy(p, policy.clone());
        assert_eq!(w.chain.call_refused(k, set), Err(Error::InvalidGuardians), "{policy:?}");
    }
}

#[test]
fn a_completed_recovery_keeps_the_receipts() {
    let mut w = World::new();
    let people = people(&mut w);
    let p = w.keyed_patient;
    let record = RecordId::new(id32(0x3A));
    let commit = w.rec().commit(NewVersion {
        record,
        patient: p,
        commitment: custodia_tests::world::commitment(0x3A00),
        locator: b"opaque".to_vec(),
        kind: CodeId::new(id32(0xC0)),
        supersedes: None,
    });
    assert_eq!(w.chain.call(w.cast.hospital_a, commit).value, Ok(1));
    let at = now(&mut w);
    let terms = Terms {
        patient: p,
        grantee: Grantee { institution: w.institutions.lab, account: None },
        scope: Scope::AllRecords,
        purposes: Purposes::of(&[Purpose::Treatment]),
        decision: Decision::Permit,
        valid_from: at,
        valid_until: at + 30 * DAY_MS,
    };
    let receipt = w.chain.call(w.cast.patient_key, w.con().grant(terms)).value.expect("granted");
    assert_eq!(w.chain.call(w.cast.hospital_a, w.dir().request_recovery(p, Some(people.new_key))).value, Ok(()));
    w.chain.set_time(at + DELAY);
    assert_eq!(w.chain.call(w.cast.hospital_a, w.dir().complete_recovery(p)).value, Ok(()));
    let check = AccessCheck {
        accessor: w.cast.lab,
        patient: p,
        target: Target::Version(VersionRef { record, version: 1 }),
        purpose: Purpose::Treatment,
        at: at + DELAY,
        receipt: None,
    };
    assert_eq!(w.chain.query(w.cast.lab, w.con().is_authorized(check)), Ok(receipt), "the receipt still holds");
    let old = w.chain.call_refused(w.cast.patient_key, w.con().revoke(receipt));
    assert_eq!(old, Err(ConsentError::NotAuthorizedToRevoke), "the lost key has no say");
    assert_eq!(w.chain.call(people.new_key, w.con().revoke(receipt)).value, Ok(()), "the new key does");
}

// ---- the control state machine, at random ----

/// One control step.
#[derive(Debug, Clone, Copy)]
enum Step {
    Offer(AccountId, AccountId),
    Accept(AccountId),
    Release(AccountId),
    Rotate(AccountId, AccountId),
    Request(AccountId, Option<AccountId>),
    Approve(AccountId),
    Veto(AccountId),
    Cancel(AccountId),
    Complete(AccountId),
    Policy(AccountId, bool, u32),
    RemoveClerk,
    Link(AccountId),
    Unlink(AccountId),
    ApproveHandOver,
    HandOver(AccountId),
    Wait(u64),
}

/// Random sequences of offers, accepts, releases, rotations, requests, approvals, vetoes,
/// cancellations, completions, policy changes, removals, links of hospital B to the patient's
/// id and unlinks, a hand-over of hospital A's patients to hospital B (approved by governance
/// at some point of the walk, then carried out by an operator), and time steps, by every kind
/// of caller. After each step: a refused step changed nothing; control changed only through the
/// current controller's own act (rotate, release, an accepted offer it made), a completed
/// recovery whose delay had passed since its clock started and that was not vetoed, or the
/// approved hand-over of a custodial patient to its successor; and every change of control is
/// announced with `ControlChanged`.
#[test]
fn no_path_takes_control_without_the_controller_or_an_unvetoed_delay() {
    let steps: u32 = std::env::var("CUSTODIA_CONTROL_STEPS").ok().and_then(|s| s.parse().ok()).unwrap_or(1500);
    let seed: u64 = std::env::var("CUSTODIA_CONTROL_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x15C0_FFEE);
    println!("control state machine: {steps} steps, seed {seed} (CUSTODIA_CONTROL_SEED to replay)");
    let mut w = World::new();
    let p = w.keyed_patient;
    let keys = [w.cast.patient_key, key(0x53), key(0x54)];
    let guardians = [key(0x61), key(0x62), key(0x63)];
    for account in keys.iter().chain(&guardians) {
        w.chain.fund(*account);
    }
    let everyone: Vec<AccountId> = w.cast.all().into_iter().chain(keys).chain(guardians).collect();
    // Half the calls come from those who can act on the patient at all (its keys, guardians
    // and custodian's accounts), so that the walk reaches deep states; the rest from anyone.
    let involved: Vec<AccountId> = keys
        .iter()
        .chain(&guardians)
        .copied()
        .chain([w.cast.hospital_a, w.cast.hospital_a_clerk, w.cast.hospital_b])
        .collect();
    let (hospital_a, hospital_b) = (w.institutions.hospital_a, w.institutions.hospital_b);
    let mut hand_over_approved = false;
    let mut rng = Rng::new(seed);
    let mut clerk_removed = false;
    let (mut refused, mut changes, mut completed, mut handed_over) = (0u32, 0u32, 0u32, 0u32);
    for step_no in 0..steps {
        let pick = |rng: &mut Rng, from: &[AccountId]| rng.pick(from);
        let callers = if rng.below(2) == 0 { &involved } else { &everyone };
        let step = match rng.below(20) {
            0 => Step::Offer(pick(&mut rng, callers), pick(&mut rng, &keys)),
            1 => Step::Accept(pick(&mut rng, &keys)),
            2 => Step::Release(pick(&mut rng, callers)),
            3 => Step::Rotate(pick(&mut rng, callers), pick(&mut rng, &keys)),
            4 | 5 => Step::Request(pick(&mut rng, callers), (rng.below(3) > 0).then(|| pick(&mut rng, &keys))),
            6 => Step::Approve(pick(&mut rng, callers)),
            7 => Step::Veto(pick(&mut rng, callers)),
            8 => Step::Cancel(pick(&mut rng, callers)),
            9 | 10 => Step::Complete(pick(&mut rng, callers)),
            11 => Step::Policy(pick(&mut rng, callers), rng.below(2) == 0, rng.below(3) as u32 + 1),
            12 if !clerk_removed && rng.below(20) == 0 => Step::RemoveClerk,
            13 => Step::Link(pick(&mut rng, callers)),
            14 => Step::Unlink(pick(&mut rng, callers)),
            15 if !hand_over_approved && rng.below(20) == 0 => Step::ApproveHandOver,
            16 if hand_over_approved => Step::HandOver(pick(&mut rng, callers)),
            _ => Step::Wait([DAY_MS, 3 * DAY_MS, DELAY, 60_000][rng.below(4)]),
        };
        let before = controller(&mut w).expect("registered");
        let info_before = w.chain.query(w.cast.stranger, w.dir().patient(p)).expect("registered");
        let pending_before = w.chain.query(w.cast.stranger, w.dir().recovery(p));
        let root_before = w.chain.state_root();
        let t = now(&mut w);
        let outcome = match step {
            Step::Offer(who, to) => w.chain.call(who, w.dir().offer_control(p, to)),
            Step::Accept(who) => w.chain.call(who, w.dir().accept_control(p)),
            Step::Release(who) => w.chain.call(who, w.dir().release_control(p)),
            Step::Rotate(who, to) => w.chain.call(who, w.dir().rotate_key(p, to)),
            Step::Request(who, to) => w.chain.call(who, w.dir().request_recovery(p, to)),
            Step::Approve(who) => w.chain.call(who, w.dir().approve_recovery(p)).map(|r| r.map(|_| ())),
            Step::Veto(who) => w.chain.call(who, w.dir().veto_recovery(p)),
            Step::Cancel(who) => w.chain.call(who, w.dir().cancel_recovery(p)),
            Step::Complete(who) => w.chain.call(who, w.dir().complete_recovery(p)),
            Step::Policy(who, custodial, threshold) => {
                let policy = RecoveryPolicy { custodial, guardians: guardians.to_vec(), threshold };
                w.chain.call(who, w.dir().set_recovery_policy(p, policy))
            }
            Step::RemoveClerk => {
                clerk_removed = true;
                w.chain.call(w.cast.hospital_a, w.dir().remove_account(w.cast.hospital_a_clerk))
            }
            Step::Link(who) => w.chain.call(who, w.dir().link_institution(p, hospital_b)),
            Step::Unlink(who) => w.chain.call(who, w.dir().unlink_institution(p, hospital_b)),
            Step::ApproveHandOver => {
                hand_over_approved = true;
                assert_eq!(w.govern(Action::HandOver { from: hospital_a, to: hospital_b }), Ok(()));
                assert_eq!(controller(&mut w), Some(before), "approving a hand-over moves nobody");
                continue;
            }
            Step::HandOver(who) => {
                w.chain.call(who, w.dir().hand_over_patients(hospital_a, vec![p])).map(|r| r.map(|_| ()))
            }
            Step::Wait(ms) => {
                w.chain.set_time(t + ms);
                continue;
            }
        };
        let after = controller(&mut w).expect("registered");
        let context = format!("step {step_no} {step:?} (seed {seed}): {:?}", outcome.value);
        if outcome.value.is_err() {
            refused += 1;
            assert!(outcome.reverted && outcome.events.is_empty(), "{context}");
            assert_eq!(w.chain.state_root(), root_before, "a refused step changed state: {context}");
            continue;
        }
        if after == before {
            assert!(outcome.events_of::<ControlChanged>().is_empty(), "{context}");
            continue;
        }
        changes += 1;
        let changed = outcome.events_of::<ControlChanged>();
        assert_eq!(changed.len(), 1, "a change of control is announced: {context}");
        assert_eq!((changed[0].old, changed[0].new), (before, after), "{context}");
        let acted_by_controller = |who: AccountId| match before {
            Controller::PatientHeld(key) => key == who,
            Controller::Custodial(_) => false,
        };
        match step {
            Step::Rotate(who, _) | Step::Release(who) => assert!(acted_by_controller(who), "{context}"),
            Step::Accept(who) => assert_eq!(info_before.offered_to, Some(who), "{context}"),
            Step::HandOver(who) => {
                handed_over += 1;
                assert!(who == w.cast.hospital_a || who == w.cast.hospital_b, "only an operator: {context}");
                assert_eq!(
                    (before, after),
                    (Controller::Custodial(hospital_a), Controller::Custodial(hospital_b)),
                    "{context}"
                );
            }
            Step::Complete(_) => {
                completed += 1;
                let pending = pending_before.expect("a recovery was pending");
                let due = pending.executable_at.expect("its clock had started");
                assert!(due <= t, "completed before its delay: {context}");
                // The walk keeps the default delay; a guardians' clock starts at their threshold.
                assert!(due >= pending.requested_at + DELAY, "a delay shorter than the network's: {context}");
                assert_eq!(after, pending.to, "{context}");
                assert!(matches!(before, Controller::PatientHeld(_)), "{context}");
            }
            _ => panic!("control changed by a step that must not change it: {context}"),
        }
    }
    println!(
        "{refused} steps refused, {changes} changes of control, {completed} by completed recoveries, {handed_over} by a hand-over"
    );
    assert!(changes > 0 && refused > 0, "the walk reached too little of the machine");
}

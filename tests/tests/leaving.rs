//! Institutions that leave and accounts that change (issue 15 §2), in the real pallet-contracts
//! runtime: governance approves a leaving custodian's successor, the operators move its patients
//! over (each move announced, all or nothing per batch), the successor keeps the leaving
//! institution's records (it continues them, links its own to them and erases them), the leaving
//! institution is removed once it has no patients; operators change by their own act or by
//! governance.

use consents::Error as ConsentError;
use custodia_tests::world::{commitment, id32, kind, opening, record_id, World};
use custodia_types::{
    consents::Decision,
    directory::{
        AccountAdded, AccountInvited, Action, ControlChanged, Controller, CustodianChanged, HandOverApproved,
        InstitutionKind, InstitutionRemoved, OperatorChanged, RecoveryEnded, RecoveryOutcome, Role, Roles,
        MAX_HAND_OVER_BATCH,
    },
    records::{ErasureReason, Link, NewVersion, Supersedence, VersionCommitted, VersionRef},
    PatientId, RecordId,
};
use directory::{DirectoryQueries, Error};
use ink::primitives::AccountId;
use records::Error as RecordsError;

/// Governance approves hospital A's hand-over to hospital B.
fn approve_hand_over(w: &mut World) {
    let (from, to) = (w.institutions.hospital_a, w.institutions.hospital_b);
    assert_eq!(w.govern(Action::HandOver { from, to }), Ok(()));
}

/// Both of hospital A's patients.
fn patients_of_a(w: &World) -> Vec<PatientId> {
    vec![w.custodial_patient, w.keyed_patient]
}

#[test]
fn governance_approves_a_hand_over_to_a_custodian_once() {
    let mut w = World::new();
    let i = w.institutions;
    let refused = [
        (Action::HandOver { from: i.hospital_a, to: i.hospital_a }, Error::InvalidHandOver),
        // The laboratory keeps no records.
        (Action::HandOver { from: i.hospital_a, to: i.lab }, Error::InvalidHandOver),
        (Action::HandOver { from: i.hospital_a, to: 99 }, Error::UnknownInstitution),
        (Action::HandOver { from: 99, to: i.hospital_b }, Error::UnknownInstitution),
    ];
    for (action, error) in refused {
        let propose = w.dir().propose(action.clone());
        assert_eq!(w.chain.call_refused(w.cast.admins[0], propose), Err(error), "{action:?}");
    }
    // One admin is not enough.
    let propose = w.dir().propose(Action::HandOver { from: i.hospital_a, to: i.hospital_b });
    let id = w.chain.call(w.cast.admins[0], propose).value.expect("propose");
    assert_eq!(w.chain.call_refused(w.cast.admins[0], w.dir().execute(id)), Err(Error::ThresholdNotReached));
    assert_eq!(w.chain.call(w.cast.admins[1], w.dir().approve(id)).value, Ok(2));
    let outcome = w.chain.call(w.cast.admins[1], w.dir().execute(id));
    assert_eq!(outcome.value, Ok(()));
    let approved = &outcome.events_of::<HandOverApproved>()[0];
    assert_eq!((approved.from, approved.to), (i.hospital_a, i.hospital_b));
    assert_eq!(w.chain.query(w.cast.stranger, w.dir().successor(i.hospital_a)), Some(i.hospital_b));
    assert!(w.chain.query(w.cast.stranger, w.dir().succeeds(i.hospital_b, i.hospital_a)));
    assert!(!w.chain.query(w.cast.stranger, w.dir().succeeds(i.hospital_a, i.hospital_b)));

    // Approved once; and an institution that is leaving takes nobody over.
    let again = w.dir().propose(Action::HandOver { from: i.hospital_a, to: i.hospital_b });
    assert_eq!(w.chain.call_refused(w.cast.admins[0], again), Err(Error::AlreadyHandedOver));
    let onto_leaving = w.dir().propose(Action::HandOver { from: i.hospital_b, to: i.hospital_a });
    assert_eq!(w.chain.call_refused(w.cast.admins[0], onto_leaving), Err(Error::InvalidHandOver));
    // A leaving institution registers nobody new.
    let register = w.dir().register_patient(PatientId::new(id32(0xE7)));
    assert_eq!(w.chain.call_refused(w.cast.hospital_a, register), Err(Error::InstitutionLeaving));
}

#[test]
fn the_operators_of_either_side_move_patients_each_announced() {
    let mut w = World::new();
    approve_hand_over(&mut w);
    let (a, b) = (w.institutions.hospital_a, w.institutions.hospital_b);
    let start = w.chain.snapshot();
    for who in w.cast.all() {
        w.chain.restore(&start);
        let hand_over = w.dir().hand_over_patients(a, patients_of_a(&w));
        if who != w.cast.hospital_a && who != w.cast.hospital_b {
            // The clerk acts for hospital A but does not operate it.
            assert_eq!(w.chain.call_refused(who, hand_over), Err(Error::NotOperator), "{who:?}");
            continue;
        }
        let outcome = w.chain.call(who, hand_over);
        assert_eq!(outcome.value, Ok(2), "{who:?}");
        let moved = outcome.events_of::<CustodianChanged>();
        assert_eq!(moved.len(), 2);
        for (event, patient) in moved.iter().zip(patients_of_a(&w)) {
            assert_eq!((event.patient, event.from, event.to, event.by), (patient, a, b, who));
        }
        // The custodial patient's control moves with them; the patient's key keeps its own.
        let changed = outcome.events_of::<ControlChanged>();
        assert_eq!(changed.len(), 1);
        assert_eq!(
            (changed[0].patient, changed[0].old, changed[0].new),
            (w.custodial_patient, Controller::Custodial(a), Controller::Custodial(b))
        );
        let custodial = w.chain.query(who, w.dir().patient(w.custodial_patient)).expect("registered");
        assert_eq!((custodial.custodian, custodial.controller), (b, Controller::Custodial(b)));
        let keyed = w.chain.query(who, w.dir().patient(w.keyed_patient)).expect("registered");
        assert_eq!((keyed.custodian, keyed.controller), (b, Controller::PatientHeld(w.cast.patient_key)));
        let counts = |w: &mut World, id| w.chain.query(who, w.dir().institution(id)).expect("admitted").patients;
        assert_eq!((counts(&mut w, a), counts(&mut w, b)), (0, 2));
    }

    w.chain.restore(&start);
    assert_eq!(w.chain.call(w.cast.hospital_b, w.dir().hand_over_patients(a, patients_of_a(&w))).value, Ok(2));
    // From now on hospital B acts for the custodial patient, and hospital A no longer does.
    assert!(w.chain.query(w.cast.stranger, w.dir().may_act_for(w.cast.hospital_b, w.custodial_patient)));
    assert!(!w.chain.query(w.cast.stranger, w.dir().may_act_for(w.cast.hospital_a, w.custodial_patient)));
    let terms = w.lab_terms(w.custodial_patient, Decision::Permit);
    let grant = w.con().grant(terms.clone());
    assert_eq!(w.chain.call_refused(w.cast.hospital_a, grant), Err(ConsentError::NotController));
    assert!(w.chain.call(w.cast.hospital_b, w.con().grant(terms)).value.is_ok());

    // With no patients left, hospital A can be removed.
    let outcome = w.governed(Action::Remove { institution: a });
    assert_eq!(outcome.value, Ok(()));
    assert_eq!(outcome.events_of::<InstitutionRemoved>()[0].institution, a);
    // Who keeps its records stays readable after it is gone.
    assert!(w.chain.query(w.cast.stranger, w.dir().succeeds(b, a)));
}

#[test]
fn a_hand_over_batch_is_all_or_nothing() {
    let mut w = World::new();
    let (a, op) = (w.institutions.hospital_a, w.cast.hospital_a);
    // No hand-over approved yet.
    let early = w.dir().hand_over_patients(a, patients_of_a(&w));
    assert_eq!(w.chain.call_refused(op, early), Err(Error::NoHandOver));
    approve_hand_over(&mut w);
    let unknown = PatientId::new(id32(0xEE));
    let too_many = vec![w.custodial_patient; MAX_HAND_OVER_BATCH as usize + 1];
    let refused = [
        (vec![], Error::TooManyPatients),
        (too_many, Error::TooManyPatients),
        (vec![w.custodial_patient, unknown], Error::UnknownPatient),
        (vec![w.custodial_patient, w.custodial_patient], Error::NotPatientOfInstitution),
    ];
    for (batch, error) in refused {
        let hand_over = w.dir().hand_over_patients(a, batch);
        assert_eq!(w.chain.call_refused(op, hand_over), Err(error));
    }
    // A patient of another custodian is not the leaving institution's to hand over.
    let b_patient = PatientId::new(id32(0xE8));
    assert_eq!(w.chain.call(w.cast.hospital_b, w.dir().register_patient(b_patient)).value, Ok(()));
    let foreign = w.dir().hand_over_patients(a, vec![w.custodial_patient, b_patient]);
    assert_eq!(w.chain.call_refused(op, foreign), Err(Error::NotPatientOfInstitution));
    // Moved once; a second time the patient is no longer hospital A's.
    assert_eq!(w.chain.call(op, w.dir().hand_over_patients(a, vec![w.custodial_patient])).value, Ok(1));
    let twice = w.dir().hand_over_patients(a, vec![w.custodial_patient]);
    assert_eq!(w.chain.call_refused(op, twice), Err(Error::NotPatientOfInstitution));
    // A successor that lost the custodian role takes nobody over.
    let roles = Roles::of(&[Role::Accessor]);
    assert_eq!(w.govern(Action::SetRoles { institution: w.institutions.hospital_b, roles }), Ok(()));
    let lost = w.dir().hand_over_patients(a, vec![w.keyed_patient]);
    assert_eq!(w.chain.call_refused(op, lost), Err(Error::InvalidHandOver));
}

#[test]
fn the_old_custodians_recovery_ends_with_the_hand_over() {
    let mut w = World::new();
    let (a, p) = (w.institutions.hospital_a, w.keyed_patient);
    assert_eq!(w.chain.call(w.cast.hospital_a, w.dir().request_recovery(p, None)).value, Ok(()));
    approve_hand_over(&mut w);
    let outcome = w.chain.call(w.cast.hospital_b, w.dir().hand_over_patients(a, vec![p]));
    assert_eq!(outcome.value, Ok(1));
    let ended = &outcome.events_of::<RecoveryEnded>()[0];
    assert_eq!((ended.patient, ended.outcome, ended.by), (p, RecoveryOutcome::CustodianChanged, w.cast.hospital_b));
    assert_eq!(w.chain.query(w.cast.stranger, w.dir().recovery(p)), None);
    // The new custodian inherits the fallback, under the same delay and veto.
    assert_eq!(w.chain.call(w.cast.hospital_b, w.dir().request_recovery(p, None)).value, Ok(()));
    assert_eq!(w.chain.call(w.cast.patient_key, w.dir().veto_recovery(p)).value, Ok(()));
}

#[test]
fn the_successor_keeps_the_leaving_custodians_records() {
    let mut w = World::new();
    let (a, b) = (w.institutions.hospital_a, w.institutions.hospital_b);
    let old = w.committed_record(0x81);
    let target = VersionRef { record: old, version: 1 };
    let migrated = record_id(0x82);
    let link_from_b = |w: &World| {
        w.rec().commit(NewVersion {
            record: migrated,
            patient: w.custodial_patient,
            commitment: commitment(8200),
            locator: b"custodia:migrated/_history/1".to_vec(),
            kind: kind(),
            supersedes: Some(Link { target, how: Supersedence::Transforms }),
        })
    };
    // Before the hand-over, hospital B can neither open a record of the patient (it does not
    // keep their records) nor erase hospital A's version.
    assert_eq!(w.chain.call_refused(w.cast.hospital_b, link_from_b(&w)), Err(RecordsError::NotPatientKeeper));
    let erase = w.rec().erase(old, 1, ErasureReason::PatientRequest);
    assert_eq!(w.chain.call_refused(w.cast.hospital_b, erase), Err(RecordsError::NotAuthorizedToErase));

    approve_hand_over(&mut w);
    assert_eq!(w.chain.call(w.cast.hospital_b, w.dir().hand_over_patients(a, patients_of_a(&w))).value, Ok(2));
    assert_eq!(w.govern(Action::Remove { institution: a }), Ok(()));

    // The successor's first version of the migrated record links back to hospital A's.
    let outcome = w.chain.call(w.cast.hospital_b, link_from_b(&w));
    assert_eq!(outcome.value, Ok(1));
    let committed = &outcome.events_of::<VersionCommitted>()[0];
    assert_eq!(committed.supersedes, Some(Link { target, how: Supersedence::Transforms }));
    assert_eq!(w.chain.query(w.cast.stranger, w.rec().record(migrated)).expect("opened").custodian, b);
    // It continues hospital A's records too (it took over the systems they come from); the
    // record keeps the custodian that opened it, the version names who committed it.
    let into_old = w.rec().commit(NewVersion {
        record: old,
        patient: w.custodial_patient,
        commitment: commitment(8300),
        locator: b"x".to_vec(),
        kind: kind(),
        supersedes: None,
    });
    let outcome = w.chain.call(w.cast.hospital_b, into_old);
    assert_eq!(outcome.value, Ok(2));
    assert_eq!(outcome.events_of::<VersionCommitted>()[0].committed_by, w.cast.hospital_b);
    assert_eq!(w.chain.query(w.cast.stranger, w.rec().record(old)).expect("opened").custodian, a);
    // It opens new records in hospital A's namespace as well (the installation it took over
    // derives its ids there), which no custodian but A and its successor can.
    let open_in_a = |w: &World, tail: u8, n: u32| {
        w.rec().commit(NewVersion {
            record: RecordId::namespaced(a, [tail; 24]),
            patient: w.custodial_patient,
            commitment: commitment(n),
            locator: b"x".to_vec(),
            kind: kind(),
            supersedes: None,
        })
    };
    assert_eq!(w.chain.call(w.cast.hospital_b, open_in_a(&w, 0x83, 8310)).value, Ok(1));
    // The laboratory keeps nobody's records.
    let by_lab = w.rec().commit(NewVersion {
        record: old,
        patient: w.custodial_patient,
        commitment: commitment(8301),
        locator: b"x".to_vec(),
        kind: kind(),
        supersedes: None,
    });
    assert_eq!(w.chain.call_refused(w.cast.lab, by_lab), Err(RecordsError::NotCustodian));
    // A third custodian, which took nothing over, neither commits nor links into them.
    let clinic = AccountId::from([0x79; 32]);
    w.chain.fund(clinic);
    let custodian = Roles::of(&[Role::Custodian]);
    w.admit(clinic, InstitutionKind::Clinic, custodian);
    assert_eq!(w.chain.call_refused(clinic, open_in_a(&w, 0x84, 8311)), Err(RecordsError::NotRecordCustodian));
    let by_clinic = w.rec().commit(NewVersion {
        record: old,
        patient: w.custodial_patient,
        commitment: commitment(8302),
        locator: b"x".to_vec(),
        kind: kind(),
        supersedes: None,
    });
    assert_eq!(w.chain.call_refused(clinic, by_clinic), Err(RecordsError::NotRecordCustodian));
    // Nobody else erases hospital A's version; the successor does (the patient asked it to).
    for who in [w.cast.lab, w.cast.auditor, w.cast.stranger] {
        let erase = w.rec().erase(old, 1, ErasureReason::PatientRequest);
        assert_eq!(w.chain.call_refused(who, erase), Err(RecordsError::NotAuthorizedToErase), "{who:?}");
    }
    let erase = w.rec().erase(old, 1, ErasureReason::PatientRequest);
    assert_eq!(w.chain.call(w.cast.hospital_b, erase).value, Ok(()));
}

#[test]
fn an_operator_hands_the_role_to_one_of_its_accounts() {
    let mut w = World::new();
    let (a, op, clerk) = (w.institutions.hospital_a, w.cast.hospital_a, w.cast.hospital_a_clerk);
    let start = w.chain.snapshot();
    for who in w.cast.all() {
        w.chain.restore(&start);
        let set = w.dir().set_operator(clerk);
        if who == op {
            let outcome = w.chain.call(who, set);
            assert_eq!(outcome.value, Ok(()));
            let changed = &outcome.events_of::<OperatorChanged>()[0];
            assert_eq!((changed.institution, changed.old, changed.new, changed.by), (a, op, clerk, op));
        } else if [w.cast.hospital_b, w.cast.lab, w.cast.auditor].contains(&who) {
            // Other institutions' operators: the clerk is not theirs to promote.
            assert_eq!(w.chain.call_refused(who, set), Err(Error::NotInstitutionAccount), "{who:?}");
        } else {
            assert_eq!(w.chain.call_refused(who, set), Err(Error::NotOperator), "{who:?}");
        }
    }
    // Only to an account of its own institution, and not to itself.
    w.chain.restore(&start);
    assert_eq!(w.chain.call_refused(op, w.dir().set_operator(w.cast.hospital_b)), Err(Error::NotInstitutionAccount));
    assert_eq!(w.chain.call_refused(op, w.dir().set_operator(w.cast.stranger)), Err(Error::NotInstitutionAccount));
    assert_eq!(w.chain.call_refused(op, w.dir().set_operator(op)), Err(Error::AlreadyOperator));
    // After the change the old operator is an ordinary account, which the new one may remove.
    assert_eq!(w.chain.call(op, w.dir().set_operator(clerk)).value, Ok(()));
    assert_eq!(w.chain.call_refused(op, w.dir().invite_account(w.cast.stranger)), Err(Error::NotOperator));
    assert_eq!(w.chain.call(clerk, w.dir().remove_account(op)).value, Ok(()));
    assert_eq!(w.chain.query(op, w.dir().membership(op)), None);
    assert_eq!(w.chain.query(op, w.dir().institution(a)).expect("admitted").operator, clerk);
}

#[test]
fn governance_replaces_a_lost_operator_with_the_accounts_consent() {
    let mut w = World::new();
    let a = w.institutions.hospital_a;
    // An account of the institution becomes operator at once.
    let outcome = w.governed(Action::SetOperator { institution: a, operator: w.cast.hospital_a_clerk });
    assert_eq!(outcome.value, Ok(()));
    let changed = &outcome.events_of::<OperatorChanged>()[0];
    assert_eq!((changed.old, changed.new, changed.by), (w.cast.hospital_a, w.cast.hospital_a_clerk, w.cast.admins[1]));

    // Refused: the operator it has; an account of another institution.
    let refused = [
        (Action::SetOperator { institution: a, operator: w.cast.hospital_a_clerk }, Error::AlreadyOperator),
        (Action::SetOperator { institution: a, operator: w.cast.lab }, Error::AccountAlreadyMember),
        (Action::SetOperator { institution: 99, operator: w.cast.stranger }, Error::UnknownInstitution),
    ];
    for (action, error) in refused {
        let propose = w.dir().propose(action.clone());
        assert_eq!(w.chain.call_refused(w.cast.admins[0], propose), Err(error), "{action:?}");
    }

    // An outside account is invited, and becomes operator only when it joins itself.
    let newcomer = AccountId::from([0x78; 32]);
    w.chain.fund(newcomer);
    let outcome = w.governed(Action::SetOperator { institution: a, operator: newcomer });
    assert_eq!(outcome.value, Ok(()));
    let invited = &outcome.events_of::<AccountInvited>()[0];
    assert_eq!((invited.institution, invited.account), (a, newcomer));
    assert!(outcome.events_of::<OperatorChanged>().is_empty());
    assert_eq!(w.chain.query(newcomer, w.dir().institution(a)).expect("admitted").operator, w.cast.hospital_a_clerk);
    let outcome = w.chain.call(newcomer, w.dir().join_institution(a));
    assert_eq!(outcome.value, Ok(()));
    assert_eq!(outcome.events_of::<AccountAdded>()[0].account, newcomer);
    let changed = &outcome.events_of::<OperatorChanged>()[0];
    assert_eq!((changed.old, changed.new, changed.by), (w.cast.hospital_a_clerk, newcomer, newcomer));
    assert_eq!(w.chain.query(newcomer, w.dir().institution(a)).expect("admitted").operator, newcomer);
}

#[test]
fn the_leaving_custodian_opens_no_new_record_of_a_patient_it_handed_over() {
    let mut w = World::new();
    let (a, p) = (w.institutions.hospital_a, w.keyed_patient);
    let open = |w: &World, tag: u8| w.rec().commit(opening(p, tag));
    // Hospital A opens a record of the patient (the records registry caches that A keeps them).
    assert_eq!(w.chain.call(w.cast.hospital_a, open(&w, 0xC1)).value, Ok(1));
    approve_hand_over(&mut w);
    assert_eq!(w.chain.call(w.cast.hospital_b, w.dir().hand_over_patients(a, vec![p])).value, Ok(1));
    // The hand-over made the registry forget: A no longer opens records of the patient; B does.
    assert_eq!(w.chain.call_refused(w.cast.hospital_a, open(&w, 0xC2)), Err(RecordsError::NotPatientKeeper));
    assert_eq!(w.chain.call(w.cast.hospital_b, open(&w, 0xC2)).value, Ok(1));
}

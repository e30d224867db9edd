//! The directory in the real pallet-contracts runtime: every message × every role.

use custodia_tests::world::{id32, World};
use custodia_types::{
    directory::{
        AccountAdded, AccountInvited, AccountRemoved, Action, AdminsChanged, ControlChanged, ControlOffered,
        Controller, InstitutionAdmitted, InstitutionKind, InstitutionRemoved, PatientRegistered, ProposalApproved,
        ProposalCancelled, ProposalCreated, ProposalExecuted, RecoveryRequested, RecoveryRoute, Role, Roles,
        RolesChanged, DEFAULT_RECOVERY_DELAY_MS,
    },
    PatientId,
};
use directory::{DirectoryQueries, Error};
use ink::primitives::AccountId;

fn newcomer() -> AccountId {
    AccountId::from([0x77; 32])
}

fn admit_newcomer() -> Action {
    Action::Admit { operator: newcomer(), kind: InstitutionKind::Clinic, roles: Roles::of(&[Role::Accessor]) }
}

#[test]
fn only_admins_propose() {
    let mut w = World::new();
    let start = w.chain.snapshot();
    for who in w.cast.all() {
        w.chain.restore(&start);
        let propose = w.dir().propose(admit_newcomer());
        if w.cast.admins.contains(&who) {
            let outcome = w.chain.call(who, propose);
            let id = outcome.value.expect("admin proposes");
            let created = outcome.events_of::<ProposalCreated>();
            assert_eq!((created[0].proposal, created[0].proposer), (id, who));
            assert_eq!(created[0].action, admit_newcomer());
            let approved = outcome.events_of::<ProposalApproved>();
            assert_eq!((approved[0].approvals, approved[0].threshold), (1, 2));
        } else {
            assert_eq!(w.chain.call_refused(who, propose), Err(Error::NotAdmin), "{who:?}");
        }
    }
}

#[test]
fn only_other_admins_approve() {
    let mut w = World::new();
    let proposer = w.cast.admins[0];
    let id = w.chain.call(proposer, w.dir().propose(admit_newcomer())).value.expect("propose");
    let start = w.chain.snapshot();
    for who in w.cast.all() {
        w.chain.restore(&start);
        let approve = w.dir().approve(id);
        if who == proposer {
            assert_eq!(w.chain.call_refused(who, approve), Err(Error::AlreadyApproved));
        } else if w.cast.admins.contains(&who) {
            let outcome = w.chain.call(who, approve);
            assert_eq!(outcome.value, Ok(2));
            assert_eq!(outcome.events_of::<ProposalApproved>()[0].approver, who);
            assert!(w.chain.query(who, w.dir().has_approved(id, who)));
        } else {
            assert_eq!(w.chain.call_refused(who, approve), Err(Error::NotAdmin), "{who:?}");
        }
    }
}

#[test]
fn any_admin_executes_once_the_threshold_is_reached() {
    let mut w = World::new();
    let [first, second, _] = w.cast.admins;
    let id = w.chain.call(first, w.dir().propose(admit_newcomer())).value.expect("propose");
    let below = w.dir().execute(id);
    assert_eq!(w.chain.call_refused(first, below), Err(Error::ThresholdNotReached));
    w.chain.call(second, w.dir().approve(id)).value.expect("approve");
    let start = w.chain.snapshot();
    for who in w.cast.all() {
        w.chain.restore(&start);
        let execute = w.dir().execute(id);
        if w.cast.admins.contains(&who) {
            let outcome = w.chain.call(who, execute);
            assert_eq!(outcome.value, Ok(()));
            assert_eq!(outcome.events_of::<ProposalExecuted>()[0].executed_by, who);
            let admitted = outcome.events_of::<InstitutionAdmitted>();
            assert_eq!(admitted[0].operator, newcomer());
            assert!(w.chain.query(who, w.dir().is_member(newcomer(), Role::Accessor)));
            assert_eq!(w.chain.call_refused(who, w.dir().execute(id)), Err(Error::ProposalNotPending));
        } else {
            assert_eq!(w.chain.call_refused(who, execute), Err(Error::NotAdmin), "{who:?}");
        }
    }
}

#[test]
fn only_the_proposer_cancels() {
    let mut w = World::new();
    let proposer = w.cast.admins[1];
    let id = w.chain.call(proposer, w.dir().propose(admit_newcomer())).value.expect("propose");
    let start = w.chain.snapshot();
    for who in w.cast.all() {
        w.chain.restore(&start);
        let cancel = w.dir().cancel(id);
        if who == proposer {
            let outcome = w.chain.call(who, cancel);
            assert_eq!(outcome.value, Ok(()));
            assert_eq!(outcome.events_of::<ProposalCancelled>()[0].proposal, id);
            assert_eq!(w.chain.call_refused(w.cast.admins[0], w.dir().approve(id)), Err(Error::ProposalNotPending));
        } else {
            assert_eq!(w.chain.call_refused(who, cancel), Err(Error::NotProposer), "{who:?}");
        }
    }
}

#[test]
fn governance_changes_roles_removes_institutions_and_replaces_admins() {
    let mut w = World::new();
    let lab = w.institutions.lab;
    let before = w.chain.snapshot();
    let roles = Roles::of(&[Role::Accessor, Role::Auditor]);
    let [first, second, third] = w.cast.admins;
    let id = w.chain.call(first, w.dir().propose(Action::SetRoles { institution: lab, roles })).value.unwrap();
    w.chain.call(second, w.dir().approve(id)).value.unwrap();
    let outcome = w.chain.call(second, w.dir().execute(id));
    assert_eq!(outcome.value, Ok(()));
    let changed = outcome.events_of::<RolesChanged>();
    assert_eq!((changed[0].old, changed[0].new), (Roles::of(&[Role::Accessor]), roles));
    assert!(w.chain.query(first, w.dir().is_member(w.cast.lab, Role::Auditor)));

    w.chain.restore(&before);
    let id = w.chain.call(first, w.dir().propose(Action::Remove { institution: lab })).value.unwrap();
    w.chain.call(second, w.dir().approve(id)).value.unwrap();
    let outcome = w.chain.call(first, w.dir().execute(id));
    assert_eq!(outcome.events_of::<InstitutionRemoved>()[0].institution, lab);
    assert_eq!(w.chain.query(first, w.dir().membership(w.cast.lab)), None);
    assert_eq!(w.chain.query(first, w.dir().institution(lab)), None);

    w.chain.restore(&before);
    let new_admins = Action::SetAdmins { admins: vec![third], threshold: 1 };
    let pending = w.chain.call(first, w.dir().propose(admit_newcomer())).value.unwrap();
    let id = w.chain.call(first, w.dir().propose(new_admins)).value.unwrap();
    w.chain.call(second, w.dir().approve(id)).value.unwrap();
    let outcome = w.chain.call(second, w.dir().execute(id));
    assert_eq!(outcome.events_of::<AdminsChanged>()[0].admins, vec![third]);
    assert_eq!(w.chain.query(first, w.dir().admins()).threshold, 1);
    assert_eq!(w.chain.call_refused(first, w.dir().propose(admit_newcomer())), Err(Error::NotAdmin));
    assert_eq!(w.chain.call_refused(third, w.dir().execute(pending)), Err(Error::ProposalLapsed));
}

#[test]
fn governance_refuses_bad_actions_with_typed_errors() {
    let mut w = World::new();
    let admin = w.cast.admins[0];
    let cases = vec![
        (
            Action::Admit { operator: w.cast.lab, kind: InstitutionKind::Clinic, roles: Roles::of(&[Role::Accessor]) },
            Error::AccountAlreadyMember,
        ),
        (
            Action::Admit { operator: newcomer(), kind: InstitutionKind::Clinic, roles: Roles::none() },
            Error::InvalidRoles,
        ),
        (
            Action::Admit { operator: newcomer(), kind: InstitutionKind::Clinic, roles: Roles::from_bits(0b1000) },
            Error::InvalidRoles,
        ),
        (Action::SetRoles { institution: 99, roles: Roles::of(&[Role::Accessor]) }, Error::UnknownInstitution),
        (Action::Remove { institution: 99 }, Error::UnknownInstitution),
        (Action::Remove { institution: w.institutions.hospital_a }, Error::InstitutionHasPatients),
        (Action::SetAdmins { admins: vec![], threshold: 1 }, Error::InvalidAdmins),
        (Action::SetAdmins { admins: vec![admin, admin], threshold: 1 }, Error::InvalidAdmins),
        (Action::SetAdmins { admins: vec![admin], threshold: 2 }, Error::InvalidThreshold),
    ];
    for (action, expected) in cases {
        assert_eq!(w.chain.call_refused(admin, w.dir().propose(action)), Err(expected));
    }
    assert_eq!(w.chain.call_refused(admin, w.dir().approve(404)), Err(Error::UnknownProposal));
    assert_eq!(w.chain.call_refused(admin, w.dir().execute(404)), Err(Error::UnknownProposal));
    assert_eq!(w.chain.call_refused(admin, w.dir().cancel(404)), Err(Error::UnknownProposal));
}

#[test]
fn only_operators_invite_and_only_the_invited_join() {
    let mut w = World::new();
    w.chain.fund(newcomer());
    let operators = [w.cast.hospital_a, w.cast.hospital_b, w.cast.lab, w.cast.auditor];
    let start = w.chain.snapshot();
    for who in w.cast.all() {
        w.chain.restore(&start);
        let invite = w.dir().invite_account(newcomer());
        if operators.contains(&who) {
            let outcome = w.chain.call(who, invite);
            assert_eq!(outcome.value, Ok(()));
            let invited = &outcome.events_of::<AccountInvited>()[0];
            let of = w.chain.query(who, w.dir().membership(who)).unwrap().institution;
            assert_eq!((invited.account, invited.institution), (newcomer(), of));
            assert_eq!(w.chain.query(who, w.dir().membership(newcomer())), None, "nothing before it joins");
            for other in w.cast.all() {
                let join = w.dir().join_institution(of);
                assert_eq!(w.chain.call_refused(other, join), Err(Error::NotInvited), "{other:?}");
            }
            let joined = w.chain.call(newcomer(), w.dir().join_institution(of));
            assert_eq!(joined.value, Ok(()));
            assert_eq!(joined.events_of::<AccountAdded>()[0].account, newcomer());
            assert_eq!(w.chain.query(who, w.dir().membership(newcomer())).unwrap().institution, of);
        } else {
            assert_eq!(w.chain.call_refused(who, invite), Err(Error::NotOperator), "{who:?}");
        }
    }
    let taken = w.dir().invite_account(w.cast.hospital_b);
    assert_eq!(w.chain.call_refused(w.cast.hospital_a, taken), Err(Error::AccountAlreadyMember));
}

#[test]
fn only_the_own_operator_removes_an_account() {
    let mut w = World::new();
    let clerk = w.cast.hospital_a_clerk;
    let start = w.chain.snapshot();
    for who in w.cast.all() {
        w.chain.restore(&start);
        let remove = w.dir().remove_account(clerk);
        if who == w.cast.hospital_a {
            let outcome = w.chain.call(who, remove);
            assert_eq!(outcome.value, Ok(()));
            assert_eq!(outcome.events_of::<AccountRemoved>()[0].account, clerk);
            assert_eq!(w.chain.query(who, w.dir().membership(clerk)), None);
        } else {
            let expected = if [w.cast.hospital_b, w.cast.lab, w.cast.auditor].contains(&who) {
                Error::NotInstitutionAccount
            } else {
                Error::NotOperator
            };
            assert_eq!(w.chain.call_refused(who, remove), Err(expected), "{who:?}");
        }
    }
    let own = w.dir().remove_account(w.cast.hospital_a);
    assert_eq!(w.chain.call_refused(w.cast.hospital_a, own), Err(Error::CannotRemoveOperator));
}

#[test]
fn only_custodians_register_patients() {
    let mut w = World::new();
    let patient = PatientId::new(id32(0xE9));
    let custodians = [w.cast.hospital_a, w.cast.hospital_a_clerk, w.cast.hospital_b];
    let start = w.chain.snapshot();
    for who in w.cast.all() {
        w.chain.restore(&start);
        let register = w.dir().register_patient(patient);
        if custodians.contains(&who) {
            let outcome = w.chain.call(who, register);
            assert_eq!(outcome.value, Ok(()));
            let registered = outcome.events_of::<PatientRegistered>();
            assert_eq!((registered[0].patient, registered[0].registered_by), (patient, who));
            let custodian = registered[0].custodian;
            assert_eq!(w.chain.query(who, w.dir().controller_of(patient)), Some(Controller::Custodial(custodian)));
            assert!(w.chain.query(who, w.dir().may_act_for(who, patient)));
        } else {
            assert_eq!(w.chain.call_refused(who, register), Err(Error::NotCustodian), "{who:?}");
        }
    }
    let a = w.cast.hospital_a;
    assert_eq!(
        w.chain.call_refused(a, w.dir().register_patient(w.custodial_patient)),
        Err(Error::PatientAlreadyRegistered)
    );
    assert_eq!(
        w.chain.call_refused(a, w.dir().register_patient(PatientId::default())),
        Err(Error::ZeroId(custodia_types::errors::IdField::Patient))
    );
}

#[test]
fn only_the_controller_offers_control() {
    let mut w = World::new();
    let new_key = AccountId::from([0x52; 32]);
    let start = w.chain.snapshot();
    for who in w.cast.all() {
        w.chain.restore(&start);
        // Custodial patient: hospital A's accounts are the controller.
        let offer = w.dir().offer_control(w.custodial_patient, new_key);
        if [w.cast.hospital_a, w.cast.hospital_a_clerk].contains(&who) {
            let outcome = w.chain.call(who, offer);
            assert_eq!(outcome.value, Ok(()));
            assert_eq!(outcome.events_of::<ControlOffered>()[0].offered_to, new_key);
        } else {
            assert_eq!(w.chain.call_refused(who, offer), Err(Error::NotController), "{who:?}");
        }
        // Keyed patient: only the key itself (rotating to a new key).
        w.chain.restore(&start);
        let rotate = w.dir().offer_control(w.keyed_patient, new_key);
        if who == w.cast.patient_key {
            assert_eq!(w.chain.call(who, rotate).value, Ok(()));
        } else {
            assert_eq!(w.chain.call_refused(who, rotate), Err(Error::NotController), "{who:?}");
        }
    }
    let a = w.cast.hospital_a;
    let to_staff = w.dir().offer_control(w.custodial_patient, w.cast.lab);
    assert_eq!(w.chain.call_refused(a, to_staff), Err(Error::AccountIsInstitutional));
    let unknown = w.dir().offer_control(PatientId::new(id32(0xEE)), new_key);
    assert_eq!(w.chain.call_refused(a, unknown), Err(Error::UnknownPatient));
}

#[test]
fn only_the_offered_key_accepts() {
    let mut w = World::new();
    let new_key = AccountId::from([0x52; 32]);
    w.chain.fund(new_key);
    let offer = w.dir().offer_control(w.custodial_patient, new_key);
    w.chain.call(w.cast.hospital_a, offer).value.expect("offer");
    for who in w.cast.all() {
        let accept = w.dir().accept_control(w.custodial_patient);
        assert_eq!(w.chain.call_refused(who, accept), Err(Error::NotOffered), "{who:?}");
    }
    let outcome = w.chain.call(new_key, w.dir().accept_control(w.custodial_patient));
    assert_eq!(outcome.value, Ok(()));
    let changed = outcome.events_of::<ControlChanged>();
    assert_eq!(changed[0].old, Controller::Custodial(w.institutions.hospital_a));
    assert_eq!(changed[0].new, Controller::PatientHeld(new_key));
    assert!(w.chain.query(new_key, w.dir().may_act_for(new_key, w.custodial_patient)));
    assert!(!w.chain.query(new_key, w.dir().may_act_for(w.cast.hospital_a, w.custodial_patient)));
}

#[test]
fn only_the_patient_key_hands_control_back() {
    let mut w = World::new();
    let start = w.chain.snapshot();
    for who in w.cast.all() {
        w.chain.restore(&start);
        let release = w.dir().release_control(w.keyed_patient);
        if who == w.cast.patient_key {
            let outcome = w.chain.call(who, release);
            assert_eq!(outcome.value, Ok(()));
            let changed = outcome.events_of::<ControlChanged>();
            assert_eq!(changed[0].new, Controller::Custodial(w.institutions.hospital_a));
        } else {
            assert_eq!(w.chain.call_refused(who, release), Err(Error::NotController), "{who:?}");
        }
    }
    let custodial = w.dir().release_control(w.custodial_patient);
    assert_eq!(w.chain.call_refused(w.cast.hospital_a, custodial), Err(Error::NotPatientHeld));
}

#[test]
fn only_the_patients_custodian_or_guardians_request_recovery() {
    let mut w = World::new();
    let p = w.keyed_patient;
    let new_key = newcomer();
    let start = w.chain.snapshot();
    let now = w.chain.sandbox().now();
    for who in w.cast.all() {
        w.chain.restore(&start);
        let request = w.dir().request_recovery(p, Some(new_key));
        if [w.cast.hospital_a, w.cast.hospital_a_clerk].contains(&who) {
            let outcome = w.chain.call(who, request);
            assert_eq!(outcome.value, Ok(()), "{who:?}");
            let requested = &outcome.events_of::<RecoveryRequested>()[0];
            assert_eq!(
                (requested.patient, requested.route, requested.requested_by),
                (p, RecoveryRoute::Custodian, who)
            );
            assert_eq!(requested.to, Controller::PatientHeld(new_key));
            assert_eq!(requested.executable_at, Some(now + DEFAULT_RECOVERY_DELAY_MS));
            assert!(outcome.events_of::<ControlChanged>().is_empty(), "nothing changes at the request");
        } else {
            let institutional = [w.cast.hospital_b, w.cast.lab, w.cast.auditor].contains(&who);
            let expected = if institutional { Error::NotPatientCustodian } else { Error::NotGuardian };
            assert_eq!(w.chain.call_refused(who, request), Err(expected), "{who:?}");
        }
    }
    let custodial = w.dir().request_recovery(w.custodial_patient, Some(new_key));
    assert_eq!(w.chain.call_refused(w.cast.hospital_a, custodial), Err(Error::NotPatientHeld));
}

#[test]
fn queries_answer_everyone_alike() {
    let mut w = World::new();
    let a = w.institutions.hospital_a;
    for who in w.cast.all() {
        assert!(w.chain.query(who, w.dir().is_member(w.cast.hospital_a_clerk, Role::Custodian)));
        assert!(!w.chain.query(who, w.dir().is_member(w.cast.lab, Role::Custodian)));
        assert!(!w.chain.query(who, w.dir().is_member(w.cast.stranger, Role::Accessor)));
        assert_eq!(
            w.chain.query(who, w.dir().controller_of(w.keyed_patient)),
            Some(Controller::PatientHeld(w.cast.patient_key))
        );
        assert_eq!(w.chain.query(who, w.dir().patient(w.custodial_patient)).map(|p| p.custodian), Some(a));
        assert_eq!(w.chain.query(who, w.dir().institution(a)).map(|i| i.patients), Some(2));
        assert_eq!(w.chain.query(who, w.dir().admins()).accounts, w.cast.admins.to_vec());
        assert_eq!(w.chain.query(who, w.dir().proposal(1)).map(|p| p.approvals), Some(2));
    }
}

// ---- security review, finding 2: acting for a patient ignores roles ----

#[test]
fn acting_for_a_patient_needs_the_custodian_role_now() {
    let mut w = World::new();
    let (operator, clerk, p) = (w.cast.hospital_a, w.cast.hospital_a_clerk, w.custodial_patient);
    let accessor_only = Roles::of(&[Role::Accessor]);
    w.govern(Action::SetRoles { institution: w.institutions.hospital_a, roles: accessor_only }).expect("set roles");
    for who in [operator, clerk] {
        assert!(!w.chain.query(who, w.dir().may_act_for(who, p)), "{who:?} no longer custodian");
        let offer = w.dir().offer_control(p, newcomer());
        assert_eq!(w.chain.call_refused(who, offer), Err(Error::NotController), "{who:?}");
    }
}

#[test]
fn an_offer_lapses_when_its_maker_leaves() {
    let mut w = World::new();
    let (operator, clerk, p) = (w.cast.hospital_a, w.cast.hospital_a_clerk, w.custodial_patient);
    let key = newcomer();
    w.chain.fund(key);
    w.chain.call(clerk, w.dir().offer_control(p, key)).value.expect("the clerk offers");
    w.chain.call(operator, w.dir().remove_account(clerk)).value.expect("the operator removes the clerk");
    assert_eq!(w.chain.call_refused(key, w.dir().accept_control(p)), Err(Error::NotOffered));
    assert_eq!(w.chain.query(key, w.dir().controller_of(p)), Some(Controller::Custodial(w.institutions.hospital_a)));
}

#[test]
fn an_offer_lapses_when_its_makers_institution_stops_being_custodian() {
    let mut w = World::new();
    let (operator, p) = (w.cast.hospital_a, w.custodial_patient);
    let key = newcomer();
    w.chain.fund(key);
    w.chain.call(operator, w.dir().offer_control(p, key)).value.expect("the operator offers");
    let accessor_only = Roles::of(&[Role::Accessor]);
    w.govern(Action::SetRoles { institution: w.institutions.hospital_a, roles: accessor_only }).expect("set roles");
    assert_eq!(w.chain.call_refused(key, w.dir().accept_control(p)), Err(Error::NotOffered));
}

// ---- patient control (issue 15): no custodian seizes a patient-held identity at once ----

#[test]
fn a_custodian_cannot_seize_a_patient_held_identity_at_once() {
    let mut w = World::new();
    let p = w.keyed_patient;
    let _ = w.chain.call(w.cast.hospital_a, w.dir().request_recovery(p, None));
    assert_eq!(
        w.chain.query(w.cast.stranger, w.dir().controller_of(p)),
        Some(Controller::PatientHeld(w.cast.patient_key))
    );
    assert!(w.chain.query(w.cast.stranger, w.dir().may_act_for(w.cast.patient_key, p)), "the key still acts");
}

// ---- security review, low: joining an institution needs the account's acceptance ----

#[test]
fn joining_an_institution_needs_the_accounts_acceptance() {
    // Hospital A offers control of its patient to the patient's new key; hospital B's operator
    // must not be able to block the patient's acceptance by making that key one of its own.
    let mut w = World::new();
    let key = newcomer();
    w.chain.fund(key);
    let p = w.custodial_patient;
    w.chain.call(w.cast.hospital_a, w.dir().offer_control(p, key)).value.expect("offer");
    // The most B's operator can do is invite it; nothing changes until the key joins.
    assert_eq!(w.chain.call(w.cast.hospital_b, w.dir().invite_account(key)).value, Ok(()));
    assert_eq!(w.chain.call(key, w.dir().accept_control(p)).value, Ok(()), "the patient accepts");
    assert_eq!(w.chain.query(key, w.dir().controller_of(p)), Some(Controller::PatientHeld(key)));
}

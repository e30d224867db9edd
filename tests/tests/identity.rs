//! One patient, one identity across institutions (issue 15 §3), in the real pallet-contracts
//! runtime: the patient's controller links a second hospital to the patient's id (the patient
//! presented it there), which then keeps its records under it; only linked institutions and
//! the custodian open records of a patient; a link is announced and can be undone; and linking
//! widens no consent: a permit covers the records of the institutions that kept the patient's
//! records when it was granted, while a deny covers every institution's.

use custodia_tests::world::{commitment, id32, kind, opening, record_id, World};
use custodia_types::records::NewVersion;
use custodia_types::{
    consents::{AccessCheck, ConsentQueries, Decision, Denial, Purpose, Target, Terms},
    directory::{
        Action, AliasChange, AliasChanged, InstitutionKind, InstitutionLinked, InstitutionUnlinked, PatientAlias, Role,
        Roles, MAX_ALIASES, MAX_LINKED_INSTITUTIONS,
    },
    records::VersionRef,
    PatientId,
};
use directory::{DirectoryQueries, Error};
use ink::primitives::AccountId;
use records::Error as RecordsError;

#[test]
fn only_the_patients_controller_links_a_custodian_to_their_id() {
    let mut w = World::new();
    let (b, lab) = (w.institutions.hospital_b, w.institutions.lab);
    for (patient, controller) in [(w.custodial_patient, w.cast.hospital_a), (w.keyed_patient, w.cast.patient_key)] {
        let start = w.chain.snapshot();
        for who in w.cast.all() {
            w.chain.restore(&start);
            let link = w.dir().link_institution(patient, b);
            // The clerk acts for the custodial patient's institution as well.
            let acts = who == controller || (controller == w.cast.hospital_a && who == w.cast.hospital_a_clerk);
            if acts {
                let outcome = w.chain.call(who, link);
                assert_eq!(outcome.value, Ok(()), "{who:?}");
                let linked = &outcome.events_of::<InstitutionLinked>()[0];
                assert_eq!((linked.patient, linked.institution, linked.by), (patient, b, who));
                assert_eq!(w.chain.query(who, w.dir().keepers(patient)), vec![w.institutions.hospital_a, b]);
                assert!(w.chain.query(who, w.dir().keeps_patient(b, patient)));
            } else {
                assert_eq!(w.chain.call_refused(who, link), Err(Error::NotController), "{who:?}");
            }
        }
        w.chain.restore(&start);
        // Only a custodian, only once, never the custodian itself, never an unknown one.
        let refusals = [
            (lab, Error::NotACustodian),
            (w.institutions.hospital_a, Error::AlreadyLinked),
            (99, Error::UnknownInstitution),
        ];
        for (institution, error) in refusals {
            let link = w.dir().link_institution(patient, institution);
            assert_eq!(w.chain.call_refused(controller, link), Err(error), "{institution}");
        }
        assert_eq!(w.chain.call(controller, w.dir().link_institution(patient, b)).value, Ok(()));
        let again = w.dir().link_institution(patient, b);
        assert_eq!(w.chain.call_refused(controller, again), Err(Error::AlreadyLinked));
        w.chain.restore(&start);
    }
    let unknown = w.dir().link_institution(PatientId::new(id32(0xEE)), b);
    assert_eq!(w.chain.call_refused(w.cast.hospital_a, unknown), Err(Error::UnknownPatient));
    assert_eq!(w.chain.query(w.cast.stranger, w.dir().keepers(PatientId::new(id32(0xEE)))), Vec::<u32>::new());
}

#[test]
fn a_linked_institution_opens_records_until_the_link_is_undone() {
    let mut w = World::new();
    let (p, b) = (w.keyed_patient, w.institutions.hospital_b);
    let open = |w: &World, tag: u8| w.rec().commit(opening(p, tag));
    assert_eq!(w.chain.call_refused(w.cast.hospital_b, open(&w, 0x90)), Err(RecordsError::NotPatientKeeper));
    let unknown = w.rec().commit(NewVersion {
        record: record_id(0x91),
        patient: PatientId::new(id32(0xEE)),
        commitment: commitment(0x91),
        locator: b"L".to_vec(),
        kind: kind(),
        supersedes: None,
    });
    assert_eq!(w.chain.call_refused(w.cast.hospital_b, unknown), Err(RecordsError::UnknownPatient));
    w.link_hospital_b(p);
    assert_eq!(w.chain.call(w.cast.hospital_b, open(&w, 0x90)).value, Ok(1));

    // Undone by the controller alone, announced; B opens no new record, its record stays.
    for who in w.cast.all().into_iter().filter(|who| *who != w.cast.patient_key) {
        let unlink = w.dir().unlink_institution(p, b);
        assert_eq!(w.chain.call_refused(who, unlink), Err(Error::NotController), "{who:?}");
    }
    let outcome = w.chain.call(w.cast.patient_key, w.dir().unlink_institution(p, b));
    assert_eq!(outcome.value, Ok(()));
    let unlinked = &outcome.events_of::<InstitutionUnlinked>()[0];
    assert_eq!((unlinked.patient, unlinked.institution, unlinked.by), (p, b, w.cast.patient_key));
    let again = w.dir().unlink_institution(p, b);
    assert_eq!(w.chain.call_refused(w.cast.patient_key, again), Err(Error::NotLinked));
    assert_eq!(w.chain.call_refused(w.cast.hospital_b, open(&w, 0x92)), Err(RecordsError::NotPatientKeeper));
    assert_eq!(w.chain.query(w.cast.stranger, w.rec().record(record_id(0x90))).expect("kept").head, 1);
}

#[test]
fn a_patient_links_a_bounded_number_of_institutions() {
    let mut w = World::new();
    let p = w.keyed_patient;
    let custodian = Roles::of(&[Role::Custodian]);
    let mut ids = Vec::new();
    for n in 0..=MAX_LINKED_INSTITUTIONS {
        let operator = AccountId::from([0xB0 + n as u8; 32]);
        w.chain.fund(operator);
        ids.push(w.admit(operator, InstitutionKind::Clinic, custodian));
    }
    for (n, institution) in ids.iter().enumerate() {
        let link = w.dir().link_institution(p, *institution);
        if n < MAX_LINKED_INSTITUTIONS as usize {
            assert_eq!(w.chain.call(w.cast.patient_key, link).value, Ok(()), "{n}");
        } else {
            assert_eq!(w.chain.call_refused(w.cast.patient_key, link), Err(Error::TooManyLinks));
        }
    }
    // A removed institution no longer counts (nor is it a keeper).
    assert_eq!(w.govern(Action::Remove { institution: ids[0] }), Ok(()));
    let link = w.dir().link_institution(p, ids[MAX_LINKED_INSTITUTIONS as usize]);
    assert_eq!(w.chain.call(w.cast.patient_key, link).value, Ok(()));
    assert!(!w.chain.query(w.cast.stranger, w.dir().keepers(p)).contains(&ids[0]));
}

/// When the laboratory reads (the permits run from 0 for ever).
const NOW: u64 = 1_700_000_000_000;

/// Terms letting the laboratory read all of the keyed patient's records for treatment.
fn lab_terms(w: &World, decision: Decision) -> Terms {
    w.lab_terms(w.keyed_patient, decision)
}

fn lab_reads(w: &mut World, at: VersionRef, receipt: Option<u64>) -> Result<u64, Denial> {
    let check = AccessCheck {
        accessor: w.cast.lab,
        patient: w.keyed_patient,
        target: Target::Version(at),
        purpose: Purpose::Treatment,
        at: NOW,
        receipt,
    };
    w.chain.query(w.cast.stranger, w.con().is_authorized(check))
}

#[test]
fn linking_widens_no_consent_and_narrows_no_deny() {
    let mut w = World::new();
    let p = w.keyed_patient;
    // A permit granted while only hospital A kept the patient's records.
    let before = w.chain.call(w.cast.patient_key, w.con().grant(lab_terms(&w, Decision::Permit))).value.unwrap();
    let a_version = {
        let commit = w.rec().commit(NewVersion {
            record: record_id(0xA0),
            patient: p,
            commitment: commitment(0xA0),
            locator: b"L".to_vec(),
            kind: kind(),
            supersedes: None,
        });
        assert_eq!(w.chain.call(w.cast.hospital_a, commit).value, Ok(1));
        VersionRef { record: record_id(0xA0), version: 1 }
    };
    w.link_hospital_b(p);
    let b_version = {
        let commit = w.rec().commit(NewVersion {
            record: record_id(0xB0),
            patient: p,
            commitment: commitment(0xB0),
            locator: b"L".to_vec(),
            kind: kind(),
            supersedes: None,
        });
        assert_eq!(w.chain.call(w.cast.hospital_b, commit).value, Ok(1));
        VersionRef { record: record_id(0xB0), version: 1 }
    };
    // The earlier permit covers hospital A's records, not hospital B's: cited or searched.
    assert_eq!(lab_reads(&mut w, a_version, Some(before)), Ok(before));
    assert_eq!(lab_reads(&mut w, b_version, Some(before)), Err(Denial::OutOfScope(before)));
    assert_eq!(lab_reads(&mut w, b_version, None), Err(Denial::OutOfScope(before)));
    // The patient extends it by granting again: the new permit covers both.
    let after = w.chain.call(w.cast.patient_key, w.con().grant(lab_terms(&w, Decision::Permit))).value.unwrap();
    assert_eq!(lab_reads(&mut w, b_version, Some(after)), Ok(after));
    assert_eq!(lab_reads(&mut w, b_version, None), Ok(after));
    // A deny covers every institution's records, whenever it was granted.
    let deny = w.chain.call(w.cast.patient_key, w.con().grant(lab_terms(&w, Decision::Deny))).value.unwrap();
    assert_eq!(lab_reads(&mut w, b_version, Some(after)), Err(Denial::Denied(deny)));
    assert_eq!(lab_reads(&mut w, a_version, None), Err(Denial::Denied(deny)));
}

#[test]
fn a_hand_over_to_a_linked_institution_makes_it_the_custodian() {
    let mut w = World::new();
    let (a, b, p) = (w.institutions.hospital_a, w.institutions.hospital_b, w.keyed_patient);
    w.link_hospital_b(p);
    assert_eq!(w.govern(Action::HandOver { from: a, to: b }), Ok(()));
    assert_eq!(w.chain.call(w.cast.hospital_b, w.dir().hand_over_patients(a, vec![p])).value, Ok(1));
    assert_eq!(w.chain.query(w.cast.stranger, w.dir().keepers(p)), vec![b]);
}

#[test]
fn a_category_consent_covers_its_category_at_every_custodian_that_holds_the_network_code_key() {
    use custodia_client::verify::{CodeKey, Pseudonyms};
    use custodia_types::consents::Scope;
    const GLUCOSE: &str = "http://loinc.org|2345-7";
    let mut w = World::new();
    let p = w.keyed_patient;
    // Two hospitals, each with its own pseudonym secret, one network code key.
    let network = CodeKey::generate();
    let (a, b) = (w.institutions.hospital_a, w.institutions.hospital_b);
    let hospital_a = Pseudonyms::generate().with_codes(network.clone()).for_custodian(a);
    let hospital_b = Pseudonyms::generate().with_codes(network).for_custodian(b);
    let (at_a, at_b) = (hospital_a.record("Observation/1"), hospital_b.record("Observation/1"));
    assert_ne!(at_a, at_b, "ids stay institutions' own");
    assert_eq!((at_a.namespace(), at_b.namespace()), (Some(a), Some(b)), "each in its institution's namespace");
    assert_eq!(hospital_a.code(GLUCOSE), hospital_b.code(GLUCOSE), "a code is the network's");
    w.link_hospital_b(p);
    let commit = |w: &mut World, who: AccountId, tag: u8, kind| {
        let commit = w.rec().commit(NewVersion {
            record: record_id(tag),
            patient: p,
            commitment: commitment(u32::from(tag)),
            locator: b"L".to_vec(),
            kind,
            supersedes: None,
        });
        assert_eq!(w.chain.call(who, commit).value, Ok(1));
        VersionRef { record: record_id(tag), version: 1 }
    };
    let (a, b) = (w.cast.hospital_a, w.cast.hospital_b);
    let at_a = commit(&mut w, a, 0xA1, hospital_a.code(GLUCOSE));
    let at_b = commit(&mut w, b, 0xB1, hospital_b.code(GLUCOSE));
    // Without the network's key, hospital B's code for the same test is its own.
    let alone = Pseudonyms::generate().code(GLUCOSE);
    assert_ne!(alone, hospital_a.code(GLUCOSE));
    let unshared = commit(&mut w, b, 0xB2, alone);
    let other = commit(&mut w, b, 0xB3, hospital_b.code("http://loinc.org|718-7"));

    // The patient consents to her glucose results, naming the code as hospital A derives it.
    let terms = Terms { scope: Scope::Categories(vec![hospital_a.code(GLUCOSE)]), ..lab_terms(&w, Decision::Permit) };
    let receipt = w.chain.call(w.cast.patient_key, w.con().grant(terms)).value.unwrap();
    assert_eq!(lab_reads(&mut w, at_a, None), Ok(receipt));
    assert_eq!(lab_reads(&mut w, at_b, None), Ok(receipt), "hospital B's glucose result is covered too");
    assert_eq!(lab_reads(&mut w, unshared, None), Err(Denial::OutOfScope(receipt)));
    assert_eq!(lab_reads(&mut w, other, None), Err(Denial::OutOfScope(receipt)), "another category stays closed");
}

/// An id hospital B gives the keyed patient when she arrives unable to give hers, with a
/// record hospital B commits under it. Returns the id and the record's version.
fn emergency_id(w: &mut World, tag: u8) -> (PatientId, VersionRef) {
    let temporary = PatientId::new(id32(tag));
    assert_eq!(w.chain.call(w.cast.hospital_b, w.dir().register_patient(temporary)).value, Ok(()));
    let commit = w.rec().commit(opening(temporary, tag));
    assert_eq!(w.chain.call(w.cast.hospital_b, commit).value, Ok(1));
    (temporary, VersionRef { record: record_id(tag), version: 1 })
}

#[test]
fn an_id_given_in_an_emergency_joins_the_patients_own_when_both_sides_agree_and_either_undoes_it() {
    let mut w = World::new();
    let p = w.keyed_patient;
    let (t, _) = emergency_id(&mut w, 0x71);
    // Only whoever acts for the emergency id offers it: hospital B (custodian role).
    let start = w.chain.snapshot();
    for who in w.cast.all() {
        w.chain.restore(&start);
        let offer = w.dir().offer_alias(t, p);
        if who == w.cast.hospital_b {
            let outcome = w.chain.call(who, offer);
            assert_eq!(outcome.value, Ok(()));
            let announced = &outcome.events_of::<AliasChanged>()[0];
            assert_eq!(
                (announced.patient, announced.of, announced.change, announced.by),
                (t, p, AliasChange::Offered, who)
            );
            let topics = &outcome.events.iter().find(|e| e.topics.len() == 3).expect("an event with two topics").topics;
            assert!(topics.contains(t.as_bytes()) && topics.contains(p.as_bytes()), "announced on both ids");
        } else {
            assert_eq!(w.chain.call_refused(who, offer), Err(Error::NotController), "{who:?}");
        }
    }
    w.chain.restore(&start);
    assert_eq!(w.chain.call(w.cast.hospital_b, w.dir().offer_alias(t, p)).value, Ok(()));
    assert_eq!(w.chain.query(w.cast.stranger, w.dir().alias(t)), Some(PatientAlias { of: p, accepted: false }));
    // Only whoever acts for the patient's own id accepts: her key.
    let after_offer = w.chain.snapshot();
    for who in w.cast.all() {
        w.chain.restore(&after_offer);
        let accept = w.dir().accept_alias(t);
        if who == w.cast.patient_key {
            let outcome = w.chain.call(who, accept);
            assert_eq!(outcome.value, Ok(()));
            let announced = &outcome.events_of::<AliasChanged>()[0];
            assert_eq!((announced.patient, announced.of, announced.change), (t, p, AliasChange::Accepted));
        } else {
            assert_eq!(w.chain.call_refused(who, accept), Err(Error::NotController), "{who:?}");
        }
    }
    w.chain.restore(&after_offer);
    assert_eq!(w.chain.call(w.cast.patient_key, w.dir().accept_alias(t)).value, Ok(()));
    assert_eq!(w.chain.query(w.cast.stranger, w.dir().alias(t)), Some(PatientAlias { of: p, accepted: true }));
    assert_eq!(w.chain.call_refused(w.cast.patient_key, w.dir().accept_alias(t)), Err(Error::NoAlias));
    // Either side undoes it, nobody else.
    let joined = w.chain.snapshot();
    for who in w.cast.all() {
        w.chain.restore(&joined);
        let remove = w.dir().remove_alias(t);
        if who == w.cast.patient_key || who == w.cast.hospital_b {
            let outcome = w.chain.call(who, remove);
            assert_eq!(outcome.value, Ok(()), "{who:?}");
            let announced = &outcome.events_of::<AliasChanged>()[0];
            assert_eq!(
                (announced.patient, announced.of, announced.change, announced.by),
                (t, p, AliasChange::Removed, who)
            );
            assert_eq!(w.chain.query(who, w.dir().alias(t)), None);
            assert_eq!(w.chain.call_refused(who, w.dir().remove_alias(t)), Err(Error::NoAlias));
        } else {
            assert_eq!(w.chain.call_refused(who, remove), Err(Error::NotController), "{who:?}");
        }
    }
    // An offer can be withdrawn or declined the same way, and made again.
    w.chain.restore(&after_offer);
    assert_eq!(w.chain.call(w.cast.patient_key, w.dir().remove_alias(t)).value, Ok(()));
    assert_eq!(w.chain.call(w.cast.hospital_b, w.dir().offer_alias(t, p)).value, Ok(()));
}

#[test]
fn aliases_make_no_chains_and_are_bounded() {
    let mut w = World::new();
    let p = w.keyed_patient;
    let (t, _) = emergency_id(&mut w, 0x71);
    let b = w.cast.hospital_b;
    let unknown = PatientId::new(id32(0xEE));
    assert_eq!(w.chain.call_refused(b, w.dir().offer_alias(t, unknown)), Err(Error::UnknownPatient));
    assert_eq!(w.chain.call_refused(b, w.dir().offer_alias(unknown, p)), Err(Error::UnknownPatient));
    assert_eq!(w.chain.call_refused(b, w.dir().offer_alias(t, t)), Err(Error::SamePatient));
    assert_eq!(w.chain.call(b, w.dir().offer_alias(t, p)).value, Ok(()));
    assert_eq!(w.chain.call_refused(b, w.dir().offer_alias(t, w.custodial_patient)), Err(Error::AlreadyAliased));
    // No alias of an alias, and an id with aliases becomes none.
    let (u, _) = emergency_id(&mut w, 0x72);
    assert_eq!(w.chain.call_refused(b, w.dir().offer_alias(u, t)), Err(Error::AliasChain));
    let a = w.cast.hospital_a;
    assert_eq!(w.chain.call_refused(a, w.dir().offer_alias(p, w.custodial_patient)), Err(Error::NotController));
    assert_eq!(w.chain.call_refused(w.cast.patient_key, w.dir().offer_alias(p, u)), Err(Error::AliasChain));
    // At most MAX_ALIASES per id, offered or accepted; removing one frees its place.
    let mut others = vec![t];
    for tag in 0..MAX_ALIASES as u8 - 1 {
        let (other, _) = emergency_id(&mut w, 0x80 + tag);
        assert_eq!(w.chain.call(b, w.dir().offer_alias(other, p)).value, Ok(()));
        others.push(other);
    }
    assert_eq!(w.chain.call_refused(b, w.dir().offer_alias(u, p)), Err(Error::TooManyAliases));
    assert_eq!(w.chain.call(w.cast.patient_key, w.dir().remove_alias(others[3])).value, Ok(()));
    assert_eq!(w.chain.call(b, w.dir().offer_alias(u, p)).value, Ok(()));
}

#[test]
fn joining_an_emergency_id_widens_no_consent_and_moves_no_record() {
    let mut w = World::new();
    let p = w.keyed_patient;
    let (t, at_t) = emergency_id(&mut w, 0x71);
    let permit = w.chain.call(w.cast.patient_key, w.con().grant(lab_terms(&w, Decision::Permit))).value.unwrap();
    let before = (lab_reads(&mut w, at_t, Some(permit)), lab_reads(&mut w, at_t, None));
    assert!(before.0.is_err() && before.1.is_err(), "her consent does not cover another id's record: {before:?}");
    assert_eq!(w.chain.call(w.cast.hospital_b, w.dir().offer_alias(t, p)).value, Ok(()));
    assert_eq!(w.chain.call(w.cast.patient_key, w.dir().accept_alias(t)).value, Ok(()));
    assert_eq!((lab_reads(&mut w, at_t, Some(permit)), lab_reads(&mut w, at_t, None)), before, "nor after joining");
    // The record stays under the emergency id, and hospital B still acts for that id.
    let facts = w.chain.query(w.cast.stranger, w.rec().record(record_id(0x71))).expect("the record");
    assert_eq!(facts.patient, t);
    assert!(w.chain.query(w.cast.stranger, w.dir().may_act_for(w.cast.hospital_b, t)));
}

//! The records registry in the real pallet-contracts runtime: every message × every role,
//! supersedence from both ends, erasure as an evident gap, and bad input.

use custodia_sandbox::harness::Chain;
use custodia_tests::world::{commitment, id32, kind, record_id, World};
use custodia_types::{
    directory::{Action, ForgetError, MembershipCache, Role, Roles},
    errors::{IdField, Registry},
    records::{
        Content, ErasureReason, Link, NewVersion, Supersedence, Verification, VersionCommitted, VersionErased,
        VersionRef, VersionSuperseded, MAX_BATCH, MAX_LOCATOR_LEN,
    },
    CodeId, Commitment, InstitutionId, PatientId, RecordId,
};
use ink::primitives::AccountId;
use records::{BatchError, Error};

const LOCATOR: &[u8] = b"DocumentReference/example/_history/1";

/// A version of `record` for `patient` committed as `commitment`, under the tests' locator and
/// kind, superseding nothing.
fn version(record: RecordId, patient: PatientId, commitment: Commitment) -> NewVersion {
    NewVersion { record, patient, commitment, locator: LOCATOR.to_vec(), kind: kind(), supersedes: None }
}

/// Who may commit to a record that hospital A keeps: its two accounts.
fn record_custodians(w: &World) -> Vec<AccountId> {
    vec![w.cast.hospital_a, w.cast.hospital_a_clerk]
}

/// The error every other role of the cast gets when committing to hospital A's record.
fn commit_refusal(w: &World, who: AccountId) -> Error {
    if who == w.cast.hospital_b {
        Error::NotRecordCustodian
    } else {
        Error::NotCustodian
    }
}

/// Why `who` may not open a record of the custodial patient: hospital B is a custodian, but not
/// the patient's, and the patient's controller has not linked it.
fn opening_refusal(w: &World, who: AccountId) -> Error {
    if who == w.cast.hospital_b {
        Error::NotPatientKeeper
    } else {
        Error::NotCustodian
    }
}

#[test]
fn opening_a_record_is_for_custodians_only() {
    let mut w = World::new();
    let start = w.chain.snapshot();
    for who in w.cast.all() {
        w.chain.restore(&start);
        let record = record_id(0x70);
        let commit = w.rec().commit(version(record, w.custodial_patient, commitment(1)));
        if record_custodians(&w).contains(&who) {
            let outcome = w.chain.call(who, commit);
            assert_eq!(outcome.value, Ok(1), "{who:?} opens the record");
            let events = outcome.events_of::<VersionCommitted>();
            assert_eq!(events.len(), 1);
            assert_eq!(events[0].record, record);
            assert_eq!(events[0].patient, w.custodial_patient);
            assert_eq!(events[0].committed_by, who);
            assert_eq!(events[0].supersedes, None);
            let info = w.chain.query(who, w.rec().record(record)).expect("record exists");
            assert_eq!(info.head, 1);
            assert_eq!(info.patient, w.custodial_patient);
        } else {
            assert_eq!(w.chain.call_refused(who, commit), Err(opening_refusal(&w, who)), "{who:?}");
            assert_eq!(w.chain.query(who, w.rec().record(record)), None);
        }
    }
    // Once the patient's controller links hospital B, B opens records of the patient too.
    w.chain.restore(&start);
    w.link_hospital_b(w.custodial_patient);
    let commit = w.rec().commit(version(record_id(0x70), w.custodial_patient, commitment(1)));
    assert_eq!(w.chain.call(w.cast.hospital_b, commit).value, Ok(1));
}

#[test]
fn only_the_record_custodian_commits_later_versions() {
    let mut w = World::new();
    let record = w.committed_record(0x71);
    let start = w.chain.snapshot();
    for who in w.cast.all() {
        w.chain.restore(&start);
        let commit = w.rec().commit(version(record, w.custodial_patient, commitment(500)));
        if record_custodians(&w).contains(&who) {
            let outcome = w.chain.call(who, commit);
            assert_eq!(outcome.value, Ok(2));
            assert_eq!(outcome.events_of::<VersionCommitted>()[0].version, 2);
        } else {
            assert_eq!(w.chain.call_refused(who, commit), Err(commit_refusal(&w, who)), "{who:?}");
        }
    }
}

#[test]
fn only_the_record_custodian_supersedes() {
    let mut w = World::new();
    let record = w.committed_record(0x72);
    let start = w.chain.snapshot();
    let target = VersionRef { record, version: 1 };
    for who in w.cast.all() {
        w.chain.restore(&start);
        let supersede = w.rec().commit(NewVersion {
            supersedes: Some(Link { target, how: Supersedence::Amends }),
            ..version(record, w.custodial_patient, commitment(600))
        });
        if record_custodians(&w).contains(&who) {
            let outcome = w.chain.call(who, supersede);
            assert_eq!(outcome.value, Ok(2));
            let link = Link { target, how: Supersedence::Amends };
            assert_eq!(outcome.events_of::<VersionCommitted>()[0].supersedes, Some(link));
            let back = outcome.events_of::<VersionSuperseded>();
            assert_eq!(back.len(), 1);
            assert_eq!(back[0].version, 1);
            assert_eq!(back[0].superseded_by.target, VersionRef { record, version: 2 });
        } else {
            assert_eq!(w.chain.call_refused(who, supersede), Err(commit_refusal(&w, who)), "{who:?}");
        }
    }
}

#[test]
fn erasure_is_for_the_custodian_or_the_patients_controller() {
    let mut w = World::new();
    // A record of the patient who holds a key: custodian and key may both erase.
    let record = record_id(0x73);
    let commit = w.rec().commit(version(record, w.keyed_patient, commitment(700)));
    assert_eq!(w.chain.call(w.cast.hospital_a, commit).value, Ok(1));
    let start = w.chain.snapshot();
    for who in w.cast.all() {
        w.chain.restore(&start);
        let erase = w.rec().erase(record, 1, ErasureReason::PatientRequest);
        let may = record_custodians(&w).contains(&who) || who == w.cast.patient_key;
        if may {
            let outcome = w.chain.call(who, erase);
            assert_eq!(outcome.value, Ok(()), "{who:?} erases");
            let erased = outcome.events_of::<VersionErased>();
            assert_eq!(erased.len(), 1);
            assert_eq!(erased[0].tombstone.erased_by, who);
            assert_eq!(erased[0].tombstone.reason, ErasureReason::PatientRequest);
            assert_eq!(erased[0].patient, w.keyed_patient);
        } else {
            assert_eq!(w.chain.call_refused(who, erase), Err(Error::NotAuthorizedToErase), "{who:?}");
        }
    }
}

#[test]
fn the_patient_key_cannot_erase_another_patients_record() {
    let mut w = World::new();
    let record = w.committed_record(0x74);
    let erase = w.rec().erase(record, 1, ErasureReason::PatientRequest);
    assert_eq!(w.chain.call_refused(w.cast.patient_key, erase), Err(Error::NotAuthorizedToErase));
}

#[test]
fn queries_answer_everyone_alike() {
    let mut w = World::new();
    let record = w.committed_record(0x75);
    let c = commitment(0x75);
    for who in w.cast.all() {
        assert_eq!(w.chain.query(who, w.rec().verify(record, 1, c)), Verification::Match);
        assert_eq!(w.chain.query(who, w.rec().record(record)).map(|r| r.head), Some(1));
        assert_eq!(w.chain.query(who, w.rec().head(record)).map(|h| h.number), Some(1));
        assert!(w.chain.query(who, w.rec().version(record, 1)).is_some());
        assert_eq!(w.chain.query(who, w.rec().versions(record, 1, 10)).len(), 1);
        assert_eq!(w.chain.query(who, w.rec().superseded_by(record, 1)), None);
        let a = w.institutions.hospital_a;
        assert_eq!(w.chain.query(who, w.rec().find(a, c)), Some(VersionRef { record, version: 1 }));
        assert_eq!(w.chain.query(who, w.rec().find(w.institutions.hospital_b, c)), None, "each custodian its own");
        assert_eq!(w.chain.query(who, w.rec().directory()), w.directory);
    }
}

#[test]
fn supersedence_is_readable_from_both_ends() {
    let mut w = World::new();
    let a = w.cast.hospital_a;
    let record = w.committed_record(0x76);
    let v1 = VersionRef { record, version: 1 };
    let supersede = w.rec().commit(NewVersion {
        record,
        patient: w.custodial_patient,
        commitment: commitment(2),
        locator: b"DocumentReference/example/_history/2".to_vec(),
        kind: kind(),
        supersedes: Some(Link { target: v1, how: Supersedence::Corrects }),
    });
    assert_eq!(w.chain.call(a, supersede).value, Ok(2));
    let v2 = w.chain.query(a, w.rec().version(record, 2)).expect("v2");
    assert_eq!(v2.supersedes, Some(Link { target: v1, how: Supersedence::Corrects }));
    let back = w.chain.query(a, w.rec().superseded_by(record, 1));
    assert_eq!(back, Some(Link { target: VersionRef { record, version: 2 }, how: Supersedence::Corrects }));
    assert_eq!(w.chain.query(a, w.rec().head(record)).map(|h| h.number), Some(2));

    // A version is superseded once; the next change supersedes the newer version.
    let again = w.rec().commit(NewVersion {
        supersedes: Some(Link { target: v1, how: Supersedence::Replaces }),
        ..version(record, w.custodial_patient, commitment(3))
    });
    assert_eq!(w.chain.call_refused(a, again), Err(Error::AlreadySuperseded));
    let v2_ref = VersionRef { record, version: 2 };
    let next = w.rec().commit(NewVersion {
        supersedes: Some(Link { target: v2_ref, how: Supersedence::Replaces }),
        ..version(record, w.custodial_patient, commitment(3))
    });
    assert_eq!(w.chain.call(a, next).value, Ok(3));
}

#[test]
fn a_version_can_supersede_a_version_of_another_record_of_the_same_patient() {
    let mut w = World::new();
    let a = w.cast.hospital_a;
    let old = w.committed_record(0x77);
    let new = record_id(0x78);
    let target = VersionRef { record: old, version: 1 };
    let replace = w.rec().commit(NewVersion {
        supersedes: Some(Link { target, how: Supersedence::Replaces }),
        ..version(new, w.custodial_patient, commitment(9))
    });
    let outcome = w.chain.call(a, replace);
    assert_eq!(outcome.value, Ok(1));
    assert_eq!(outcome.events_of::<VersionSuperseded>()[0].record, old);
    let back = w.chain.query(a, w.rec().superseded_by(old, 1)).expect("link");
    assert_eq!(back.target, VersionRef { record: new, version: 1 });
}

#[test]
fn erasure_leaves_an_evident_gap() {
    let mut w = World::new();
    let a = w.cast.hospital_a;
    let record = w.committed_record(0x79);
    let locator2 = b"DocumentReference/erase-me/_history/2".to_vec();
    let commit2 = w.rec().commit(NewVersion {
        record,
        patient: w.custodial_patient,
        commitment: commitment(22),
        locator: locator2.clone(),
        kind: kind(),
        supersedes: None,
    });
    assert_eq!(w.chain.call(a, commit2).value, Ok(2));
    let commit3 = w.rec().commit(version(record, w.custodial_patient, commitment(23)));
    assert_eq!(w.chain.call(a, commit3).value, Ok(3));

    w.chain.set_time(1_800_000_000_000);
    let erase = w.rec().erase(record, 2, ErasureReason::EnteredInError);
    assert_eq!(w.chain.call(a, erase).value, Ok(()));

    // The gap is evident: Erased, never Unknown or Mismatch, whatever is presented.
    assert_eq!(w.chain.query(a, w.rec().verify(record, 2, commitment(22))), Verification::Erased);
    assert_eq!(w.chain.query(a, w.rec().verify(record, 2, commitment(99))), Verification::Erased);
    assert_eq!(w.chain.query(a, w.rec().verify(record, 1, commitment(0x79))), Verification::Match);
    assert_eq!(w.chain.query(a, w.rec().verify(record, 1, commitment(22))), Verification::Mismatch);
    assert_eq!(w.chain.query(a, w.rec().verify(record, 4, commitment(22))), Verification::Unknown);

    let page = w.chain.query(a, w.rec().versions(record, 1, 32));
    assert_eq!(page.iter().map(|v| v.number).collect::<Vec<_>>(), vec![1, 2, 3]);
    match &page[1].version.content {
        Content::Erased(tombstone) => {
            assert_eq!(tombstone.erased_by, a);
            assert_eq!(tombstone.erased_at, 1_800_000_000_000);
            assert_eq!(tombstone.reason, ErasureReason::EnteredInError);
        }
        other => panic!("version 2 should be a tombstone, found {other:?}"),
    }

    // Neither the commitment nor the locator is left anywhere in the chain's state, once the
    // block's events (which still carry the commit event) have been cleared by a new block.
    w.chain.next_block();
    let state = w.chain.all_state_bytes();
    assert!(!contains(&state, commitment(22).as_bytes()), "erased commitment still in state");
    assert!(!contains(&state, &locator2), "erased locator still in state");
    assert!(contains(&state, commitment(23).as_bytes()), "the scan sees live commitments");

    // Erasing twice and re-committing the erased commitment are refused.
    let twice = w.rec().erase(record, 2, ErasureReason::EnteredInError);
    assert_eq!(w.chain.call_refused(a, twice), Err(Error::AlreadyErased));
    let recommit = w.rec().commit(version(record, w.custodial_patient, commitment(22)));
    assert_eq!(w.chain.call_refused(a, recommit), Err(Error::CommitmentErased));
    let elsewhere = w.rec().commit(version(record_id(0x7A), w.custodial_patient, commitment(22)));
    assert_eq!(w.chain.call_refused(a, elsewhere), Err(Error::CommitmentErased));
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle)
}

#[test]
fn bad_input_gets_typed_errors() {
    let mut w = World::new();
    let a = w.cast.hospital_a;
    let p = w.custodial_patient;
    let record = w.committed_record(0x7B);
    let r = || record_id(0x7C);
    let cases: Vec<(RecordId, PatientId, Commitment, Vec<u8>, CodeId, Error)> = vec![
        (RecordId::default(), p, commitment(1), LOCATOR.to_vec(), kind(), Error::ZeroId(IdField::Record)),
        (r(), p, Commitment::default(), LOCATOR.to_vec(), kind(), Error::ZeroId(IdField::Commitment)),
        (r(), p, commitment(1), LOCATOR.to_vec(), CodeId::default(), Error::ZeroId(IdField::Code)),
        (r(), p, commitment(1), Vec::new(), kind(), Error::EmptyLocator),
        (r(), p, commitment(1), vec![b'x'; MAX_LOCATOR_LEN as usize + 1], kind(), Error::LocatorTooLong),
        (r(), PatientId::new(id32(0x0F)), commitment(1), LOCATOR.to_vec(), kind(), Error::UnknownPatient),
        (record, w.keyed_patient, commitment(1), LOCATOR.to_vec(), kind(), Error::PatientMismatch),
        (r(), p, commitment(0x7B), LOCATOR.to_vec(), kind(), Error::CommitmentAlreadyUsed),
    ];
    for (record, patient, c, locator, code, expected) in cases {
        let commit =
            w.rec().commit(NewVersion { record, patient, commitment: c, locator, kind: code, supersedes: None });
        assert_eq!(w.chain.call_refused(a, commit), Err(expected));
    }

    let supersede = |w: &World, target: VersionRef| {
        w.rec().commit(NewVersion {
            supersedes: Some(Link { target, how: Supersedence::Replaces }),
            ..version(record, p, commitment(40))
        })
    };
    let missing_version = supersede(&w, VersionRef { record, version: 2 });
    assert_eq!(w.chain.call_refused(a, missing_version), Err(Error::UnknownVersion));
    let version_zero = supersede(&w, VersionRef { record, version: 0 });
    assert_eq!(w.chain.call_refused(a, version_zero), Err(Error::UnknownVersion));
    let missing_record = supersede(&w, VersionRef { record: record_id(0x7D), version: 1 });
    assert_eq!(w.chain.call_refused(a, missing_record), Err(Error::UnknownRecord));

    // A record of another patient cannot be a target.
    let other = record_id(0x7E);
    let commit_other = w.rec().commit(version(other, w.keyed_patient, commitment(41)));
    assert_eq!(w.chain.call(a, commit_other).value, Ok(1));
    let foreign = supersede(&w, VersionRef { record: other, version: 1 });
    assert_eq!(w.chain.call_refused(a, foreign), Err(Error::ForeignTarget));

    let unknown_record = w.rec().erase(record_id(0x7F), 1, ErasureReason::Other);
    assert_eq!(w.chain.call_refused(a, unknown_record), Err(Error::UnknownRecord));
    let unknown_version = w.rec().erase(record, 9, ErasureReason::Other);
    assert_eq!(w.chain.call_refused(a, unknown_version), Err(Error::UnknownVersion));
}

#[test]
fn malformed_call_data_is_refused_without_a_trap() {
    let mut w = World::new();
    let commit = w.rec().commit(version(record_id(0x60), w.custodial_patient, commitment(1)));
    let mut input = scale::Encode::encode(commit.params().exec_input());
    // Cut the call short in the middle of the commitment.
    input.truncate(4 + 32 + 32 + 10);
    let before = w.chain.state_root();
    let (output, outcome) = w.chain.call_raw(w.cast.hospital_a, w.records, input).expect("no trap");
    assert!(outcome.reverted);
    let decoded: ink::MessageResult<()> = scale::Decode::decode(&mut &output[..]).expect("typed output");
    assert_eq!(decoded, Err(ink::LangError::CouldNotReadInput));
    assert_eq!(w.chain.state_root(), before);
}

#[test]
fn an_unreachable_directory_is_a_typed_error() {
    let mut chain = Chain::new();
    let admin = AccountId::from([0xA1; 32]);
    chain.fund(admin);
    let nowhere = AccountId::from([0x42; 32]);
    let records = chain.deploy("records", admin, records::RecordsRef::new(nowhere), b"lonely");
    let mut rec = custodia_sandbox::harness::call_builder::<records::Records>(records);
    let commit = rec.commit(version(record_id(1), PatientId::new(id32(2)), commitment(1)));
    assert_eq!(chain.call_refused(admin, commit), Err(Error::RegistryUnavailable(Registry::Directory)));
}

#[test]
fn versions_are_paged_and_bounded() {
    let mut w = World::new();
    let a = w.cast.hospital_a;
    let record = w.committed_record(0x61);
    for n in 2..=40u32 {
        let commit = w.rec().commit(version(record, w.custodial_patient, commitment(1000 + n)));
        assert_eq!(w.chain.call(a, commit).value, Ok(n));
    }
    let first = w.chain.query(a, w.rec().versions(record, 1, 1000));
    assert_eq!(first.len(), 32, "a page holds at most MAX_PAGE versions");
    let rest = w.chain.query(a, w.rec().versions(record, 33, 32));
    assert_eq!(rest.iter().map(|v| v.number).collect::<Vec<_>>(), (33..=40).collect::<Vec<_>>());
    assert!(w.chain.query(a, w.rec().versions(record, 41, 32)).is_empty());
    assert_eq!(w.chain.query(a, w.rec().versions(record, 0, 2)).len(), 2, "from 0 reads as from 1");
}

#[test]
fn record_batch_answers_many_records_in_order_and_is_bounded() {
    let mut w = World::new();
    let a = w.cast.hospital_a;
    let first = w.committed_record(0x63);
    let second = w.committed_record(0x64);
    let commit = w.rec().commit(version(second, w.custodial_patient, commitment(2)));
    assert_eq!(w.chain.call(a, commit).value, Ok(2));
    let unknown = record_id(0x65);
    let asked = vec![second, unknown, first, second];
    let answers = w.chain.query(w.cast.stranger, w.rec().record_batch(asked.clone()));
    let single: Vec<_> = asked.iter().map(|&r| w.chain.query(a, w.rec().record(r))).collect();
    assert_eq!(answers, single, "the same answers as `record`, in the order asked");
    assert_eq!(answers.iter().map(|i| i.map(|i| i.head)).collect::<Vec<_>>(), [Some(2), None, Some(1), Some(2)]);
    assert!(w.chain.query(a, w.rec().record_batch(Vec::new())).is_empty());
    let many = vec![first; MAX_BATCH as usize + 5];
    assert_eq!(w.chain.query(a, w.rec().record_batch(many)).len(), MAX_BATCH as usize, "at most MAX_BATCH answered");
}

#[test]
fn a_removed_account_loses_its_rights_at_once() {
    let mut w = World::new();
    let record = w.committed_record(0x62);
    let remove = w.dir().remove_account(w.cast.hospital_a_clerk);
    assert_eq!(w.chain.call(w.cast.hospital_a, remove).value, Ok(()));
    let commit = w.rec().commit(version(record, w.custodial_patient, commitment(77)));
    assert_eq!(w.chain.call_refused(w.cast.hospital_a_clerk, commit), Err(Error::NotCustodian));
}

fn new_version(w: &World, tag: u8, n: u32) -> NewVersion {
    version(record_id(tag), w.custodial_patient, commitment(n))
}

#[test]
fn a_batch_commits_all_or_nothing() {
    let mut w = World::new();
    let a = w.cast.hospital_a;
    let mut batch: Vec<NewVersion> = (0..5).map(|n| new_version(&w, 0x50, 3000 + n)).collect();
    batch[4].supersedes =
        Some(Link { target: VersionRef { record: record_id(0x50), version: 2 }, how: Supersedence::Replaces });
    let outcome = w.chain.call(a, w.rec().commit_batch(batch.clone()));
    assert_eq!(outcome.value, Ok(vec![1, 2, 3, 4, 5]));
    assert_eq!(outcome.events_of::<VersionCommitted>().len(), 5);
    assert_eq!(outcome.events_of::<VersionSuperseded>().len(), 1);
    assert_eq!(w.chain.query(a, w.rec().superseded_by(record_id(0x50), 2)).map(|l| l.target.version), Some(5));

    // One bad version refuses the whole batch and names its position.
    let mut bad: Vec<NewVersion> = (0..4).map(|n| new_version(&w, 0x51, 4000 + n)).collect();
    bad[2].locator.clear();
    let refused = w.chain.call_refused(a, w.rec().commit_batch(bad.clone()));
    assert_eq!(refused, Err(BatchError { item: Some(2), error: Error::EmptyLocator }));
    assert_eq!(w.chain.query(a, w.rec().record(record_id(0x51))), None, "nothing of the batch stays");

    // A commitment repeated within one batch is caught at its second use.
    bad[2] = bad[0].clone();
    let refused = w.chain.call_refused(a, w.rec().commit_batch(bad));
    assert_eq!(refused, Err(BatchError { item: Some(2), error: Error::CommitmentAlreadyUsed }));

    assert_eq!(
        w.chain.call_refused(a, w.rec().commit_batch(Vec::new())),
        Err(BatchError { item: None, error: Error::EmptyBatch })
    );
    let too_many: Vec<NewVersion> = (0..=MAX_BATCH).map(|n| new_version(&w, 0x52, 5000 + n)).collect();
    assert_eq!(
        w.chain.call_refused(a, w.rec().commit_batch(too_many)),
        Err(BatchError { item: None, error: Error::BatchTooLarge })
    );
}

#[test]
fn only_custodians_commit_batches() {
    let mut w = World::new();
    let start = w.chain.snapshot();
    for who in w.cast.all() {
        w.chain.restore(&start);
        let batch = vec![new_version(&w, 0x53, 1), new_version(&w, 0x53, 2)];
        if record_custodians(&w).contains(&who) {
            let outcome = w.chain.call(who, w.rec().commit_batch(batch));
            assert_eq!(outcome.value, Ok(vec![1, 2]), "{who:?}");
            assert_eq!(outcome.events_of::<VersionCommitted>().len(), 2);
        } else if who == w.cast.hospital_b {
            // A custodian, but not this patient's: its first version is refused.
            let refused = w.chain.call_refused(who, w.rec().commit_batch(batch));
            assert_eq!(refused, Err(BatchError { item: Some(0), error: Error::NotPatientKeeper }), "{who:?}");
        } else {
            let refused = w.chain.call_refused(who, w.rec().commit_batch(batch));
            assert_eq!(refused, Err(BatchError { item: None, error: Error::NotCustodian }), "{who:?}");
        }
    }
}

#[test]
fn only_the_directory_makes_the_registry_forget() {
    let mut w = World::new();
    for who in w.cast.all() {
        let forget = w.rec().forget_account(w.cast.hospital_a);
        assert_eq!(w.chain.call_refused(who, forget), Err(ForgetError::NotDirectory), "{who:?}");
        let forget = w.rec().forget_institution(w.institutions.hospital_a);
        assert_eq!(w.chain.call_refused(who, forget), Err(ForgetError::NotDirectory), "{who:?}");
    }
}

/// Commits once as `who` so that the registry has cached `who`'s membership.
fn warm_cache(w: &mut World, who: AccountId, n: u32) {
    let commit = w.rec().commit(version(record_id(0x54), w.custodial_patient, commitment(n)));
    assert!(w.chain.call(who, commit).value.is_ok());
}

#[test]
fn cached_rights_end_when_the_directory_takes_them_away() {
    let mut w = World::new();
    let (a, clerk) = (w.cast.hospital_a, w.cast.hospital_a_clerk);
    warm_cache(&mut w, clerk, 1);
    let start = w.chain.snapshot();

    // The operator removes the clerk's account.
    let remove = w.dir().remove_account(clerk);
    assert_eq!(w.chain.call(a, remove).value, Ok(()));
    let commit = w.rec().commit(version(record_id(0x54), w.custodial_patient, commitment(2)));
    assert_eq!(w.chain.call_refused(clerk, commit.clone()), Err(Error::NotCustodian));

    // Governance takes the custodian role from hospital A.
    w.chain.restore(&start);
    let accessor_only =
        Action::SetRoles { institution: w.institutions.hospital_a, roles: Roles::of(&[Role::Accessor]) };
    assert_eq!(w.govern(accessor_only), Ok(()));
    assert_eq!(w.chain.call_refused(clerk, commit.clone()), Err(Error::NotCustodian));

    // Giving it back works at once too (the registry asks the directory again).
    let both = Action::SetRoles {
        institution: w.institutions.hospital_a,
        roles: Roles::of(&[Role::Custodian, Role::Accessor]),
    };
    assert_eq!(w.govern(both), Ok(()));
    assert_eq!(w.chain.call(clerk, commit).value, Ok(2));
}

#[test]
fn removing_an_institution_ends_its_cached_rights() {
    let mut w = World::new();
    let b = w.cast.hospital_b;
    w.link_hospital_b(w.keyed_patient);
    let commit = |w: &World, n| w.rec().commit(version(record_id(0x55), w.keyed_patient, commitment(n)));
    assert_eq!(w.chain.call(b, commit(&w, 1)).value, Ok(1));
    assert_eq!(w.govern(Action::Remove { institution: w.institutions.hospital_b }), Ok(()));
    assert_eq!(w.chain.call_refused(b, commit(&w, 2)), Err(Error::NotCustodian));
}

/// Attaches a second records registry on this directory, then has the chain's governance
/// switch its code to the directory's (`Contracts::set_code` by root): a dependent that no
/// longer answers `forget`. Returns its address.
fn attach_a_dependent_that_stops_answering(w: &mut World) -> AccountId {
    let second = w.chain.deploy("records", w.cast.admins[0], records::RecordsRef::new(w.directory), b"second");
    assert_eq!(w.govern(Action::Attach { contract: second }), Ok(()));
    let directory_code = w.chain.sandbox().code_hash(w.directory).expect("the directory's code");
    w.chain.sandbox().set_code_as_root(second, directory_code).expect("root switches the code");
    second
}

#[test]
fn a_dependent_that_cannot_forget_blocks_the_change() {
    let mut w = World::new();
    attach_a_dependent_that_stops_answering(&mut w);
    let remove = w.dir().remove_account(w.cast.hospital_a_clerk);
    assert_eq!(w.chain.call_refused(w.cast.hospital_a, remove), Err(directory::Error::DependentUnavailable));
    use directory::DirectoryQueries;
    assert!(w.chain.query(w.cast.hospital_a, w.dir().is_member(w.cast.hospital_a_clerk, Role::Custodian)));
}

#[test]
fn detach_restores_removals_after_a_dependent_stops_answering() {
    let mut w = World::new();
    let admin = w.cast.admins[0];
    // Only an attached dependent that no longer answers is detached: a working one keeps its
    // place (its cached memberships must stay within the directory's reach).
    let working = w.dir().propose(Action::Detach { contract: w.records });
    assert_eq!(w.chain.call_refused(admin, working), Err(directory::Error::StillAnswering));
    let unattached = w.dir().propose(Action::Detach { contract: w.consents });
    assert_eq!(w.chain.call_refused(admin, unattached), Err(directory::Error::NotAttached));

    let broken = attach_a_dependent_that_stops_answering(&mut w);
    assert_eq!(w.govern(Action::Detach { contract: broken }), Ok(()));
    assert_eq!(w.chain.query(admin, w.dir().dependents()), vec![w.records]);
    let remove = w.dir().remove_account(w.cast.hospital_a_clerk);
    assert_eq!(w.chain.call(w.cast.hospital_a, remove).value, Ok(()), "removals work again");
}

#[test]
fn attaching_is_checked() {
    let mut w = World::new();
    let admin = w.cast.admins[0];
    let twice = w.dir().propose(Action::Attach { contract: w.records });
    assert_eq!(w.chain.call_refused(admin, twice), Err(directory::Error::AlreadyAttached));
    let not_a_contract = w.dir().propose(Action::Attach { contract: w.cast.stranger });
    assert_eq!(w.chain.call_refused(admin, not_a_contract), Err(directory::Error::NotAContract));
    assert_eq!(w.chain.query(admin, w.dir().dependents()), vec![w.records]);
}

#[test]
fn an_unattached_registry_asks_the_directory_every_time() {
    // A second registry on the same directory, never attached: it works, it just cannot cache.
    let mut w = World::new();
    let lone = w.chain.deploy("records", w.cast.admins[0], records::RecordsRef::new(w.directory), b"unattached");
    let rec = || custodia_sandbox::harness::call_builder::<records::Records>(lone);
    let commit = |n| rec().commit(version(record_id(0x56), w.custodial_patient, commitment(n)));
    let clerk = w.cast.hospital_a_clerk;
    assert_eq!(w.chain.call(clerk, commit(1)).value, Ok(1));
    let remove = w.dir().remove_account(clerk);
    assert_eq!(w.chain.call(w.cast.hospital_a, remove).value, Ok(()));
    assert_eq!(w.chain.call_refused(clerk, commit(2)), Err(Error::NotCustodian));
}

// ---- security review, finding 2: erasing across custodians ----

/// Hospital B opens a record of hospital A's custodial patient and returns it.
fn hospital_b_record_of_the_custodial_patient(w: &mut World) -> RecordId {
    w.link_hospital_b(w.custodial_patient);
    let record = record_id(0x6B);
    let commit = w.rec().commit(version(record, w.custodial_patient, commitment(0x6B00)));
    assert_eq!(w.chain.call(w.cast.hospital_b, commit).value, Ok(1));
    record
}

#[test]
fn a_custodial_account_cannot_erase_another_custodians_version() {
    let mut w = World::new();
    let record = hospital_b_record_of_the_custodial_patient(&mut w);
    // Hospital A controls the patient custodially; that does not let it destroy B's evidence.
    for who in [w.cast.hospital_a, w.cast.hospital_a_clerk] {
        let erase = w.rec().erase(record, 1, ErasureReason::PatientRequest);
        assert_eq!(w.chain.call_refused(who, erase), Err(Error::NotAuthorizedToErase), "{who:?}");
    }
    let erase = w.rec().erase(record, 1, ErasureReason::PatientRequest);
    assert_eq!(w.chain.call(w.cast.hospital_b, erase).value, Ok(()), "B erases its own version");
}

#[test]
fn the_patients_key_erases_another_custodians_version_announced() {
    let mut w = World::new();
    w.link_hospital_b(w.keyed_patient);
    let record = record_id(0x6C);
    let commit = w.rec().commit(version(record, w.keyed_patient, commitment(0x6C00)));
    assert_eq!(w.chain.call(w.cast.hospital_b, commit).value, Ok(1));
    let outcome = w.chain.call(w.cast.patient_key, w.rec().erase(record, 1, ErasureReason::PatientRequest));
    assert_eq!(outcome.value, Ok(()));
    let erased = outcome.events_of::<VersionErased>();
    assert_eq!((erased[0].custodian, erased[0].patient), (w.institutions.hospital_b, w.keyed_patient));
    assert_eq!(erased[0].tombstone.erased_by, w.cast.patient_key);
}

// ---- security review, finding 12: one bad attach bricks revocation ----

#[test]
fn attach_refuses_what_is_not_a_dependent_of_this_directory() {
    let mut w = World::new();
    let admin = w.cast.admins[0];
    // A second directory does not cache memberships; a records registry wired to another
    // directory would refuse to forget when told: attaching either would block every removal.
    let admins = w.cast.admins.to_vec();
    let other = w.chain.deploy("directory", admin, directory::DirectoryRef::new(admins, 1), b"other");
    let foreign = w.chain.deploy("records", admin, records::RecordsRef::new(other), b"foreign");
    for contract in [other, foreign, w.consents] {
        let attach = w.dir().propose(Action::Attach { contract });
        assert_eq!(w.chain.call_refused(admin, attach), Err(directory::Error::NotAttachable), "{contract:?}");
    }
    assert_eq!(w.chain.query(admin, w.dir().dependents()), vec![w.records]);
}

// ---- security review, finding 8: commitment squatting ----

#[test]
fn another_custodian_cannot_block_a_commit_by_committing_it_first() {
    let mut w = World::new();
    // Hospital B sees hospital A's pending commitment and commits it first, under a record of
    // its own: A's commit must still go through, and each finds its own version.
    let pending = commitment(0x8000);
    w.link_hospital_b(w.keyed_patient);
    let b_record = record_id(0x8B);
    let squat = w.rec().commit(version(b_record, w.keyed_patient, pending));
    assert_eq!(w.chain.call(w.cast.hospital_b, squat).value, Ok(1));
    let a_record = record_id(0x8A);
    let commit = w.rec().commit(version(a_record, w.custodial_patient, pending));
    assert_eq!(w.chain.call(w.cast.hospital_a, commit.clone()).value, Ok(1), "not blocked");
    assert_eq!(w.chain.call_refused(w.cast.hospital_a_clerk, commit), Err(Error::CommitmentAlreadyUsed));
    assert_eq!(w.chain.query(w.cast.stranger, w.rec().verify(a_record, 1, pending)), Verification::Match);
    let (a, b) = (w.institutions.hospital_a, w.institutions.hospital_b);
    assert_eq!(
        w.chain.query(w.cast.stranger, w.rec().find(a, pending)),
        Some(VersionRef { record: a_record, version: 1 })
    );
    assert_eq!(
        w.chain.query(w.cast.stranger, w.rec().find(b, pending)),
        Some(VersionRef { record: b_record, version: 1 })
    );
}

// ---- security review, finding 8: record-id squatting ----

/// A record id in `custodian`'s namespace, laid out as the records registry reads it: the mark
/// `CsNs`, the custodian's id (big-endian), then 24 bytes of the custodian's choosing.
fn namespaced(custodian: InstitutionId, tail: u8) -> RecordId {
    let mut id = [tail; 32];
    id[..4].copy_from_slice(b"CsNs");
    id[4..8].copy_from_slice(&custodian.to_be_bytes());
    RecordId::new(id)
}

#[test]
fn a_record_in_a_custodians_namespace_opens_only_for_that_custodian() {
    let mut w = World::new();
    // Hospital B (which keeps the keyed patient too) sees hospital A's pending commit to a new
    // record and tries to open that record first: the id is in A's namespace, so B is refused
    // and nothing changes; A's commit then goes through.
    w.link_hospital_b(w.keyed_patient);
    let (a, b) = (w.institutions.hospital_a, w.institutions.hospital_b);
    let a_record = namespaced(a, 0x8A);
    assert_eq!(a_record, RecordId::namespaced(a, [0x8A; 24]), "the layout the client derives with");
    assert_eq!((a_record.namespace(), record_id(0x8A).namespace()), (Some(a), None));
    let squat = w.rec().commit(version(a_record, w.keyed_patient, commitment(0x8100)));
    assert_eq!(w.chain.call_refused(w.cast.hospital_b, squat), Err(Error::NotRecordCustodian));
    assert_eq!(w.chain.query(w.cast.stranger, w.rec().record(a_record)), None, "B opened nothing");
    let batch = w.rec().commit_batch(vec![version(a_record, w.keyed_patient, commitment(0x8101))]);
    assert_eq!(
        w.chain.call_refused(w.cast.hospital_b, batch),
        Err(BatchError::at(0, Error::NotRecordCustodian)),
        "nor within a batch"
    );
    let commit = w.rec().commit(version(a_record, w.keyed_patient, commitment(0x8102)));
    assert_eq!(w.chain.call(w.cast.hospital_a, commit).value, Ok(1), "A is not blocked");
    let info = w.chain.query(w.cast.stranger, w.rec().record(a_record)).expect("opened");
    assert_eq!(info.custodian, a);
    // B opens records in its own namespace, and ids outside every namespace (those derived
    // before namespaces: their first four bytes are not the mark) still open for whoever comes
    // first, as before.
    let b_record = namespaced(b, 0x8B);
    let commit = w.rec().commit(version(b_record, w.keyed_patient, commitment(0x8103)));
    assert_eq!(w.chain.call(w.cast.hospital_b, commit).value, Ok(1));
    let legacy = record_id(0x8C);
    let commit = w.rec().commit(version(legacy, w.keyed_patient, commitment(0x8104)));
    assert_eq!(w.chain.call(w.cast.hospital_b, commit).value, Ok(1));
}

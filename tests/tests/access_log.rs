//! The access log in the real pallet-contracts runtime: append × every role, consent checks
//! across contracts, break-glass, idempotent resubmission, bad input, and Merkle proofs of
//! every entry against the roots the chain recorded.

use access_log::{BatchError, Error};
use custodia_merkle::{leaf_hash, verify_consistency, verify_inclusion, Sha256, Tree};
use custodia_sandbox::harness::Outcome;
use custodia_tests::world::{commitment, id32, kind, record_id, World};
use custodia_types::records::NewVersion;
use custodia_types::{
    access_log::{
        AccessLogged, Appended, Authorization, BreakGlassAccess, BreakGlassReason, LogExtended, LogHead, NewEntry,
        PatientAccesses, MAX_ACCESS_AGE_MS, MAX_CLOCK_SKEW_MS, MAX_ENTRIES,
    },
    consents::{Decision, Denial, Grantee, Purpose, Purposes, ReceiptId, Scope, Target, Terms},
    errors::IdField,
    records::VersionRef,
    PatientId,
};

const NOW: u64 = 1_700_000_000_000;
const DAY: u64 = 86_400_000;

struct Setup {
    w: World,
    version: VersionRef,
    /// Lets the laboratory read every record of the custodial patient for treatment.
    receipt: ReceiptId,
}

fn setup() -> Setup {
    let mut w = World::new();
    let record = record_id(0x40);
    let commit = w.rec().commit(NewVersion {
        record,
        patient: w.custodial_patient,
        commitment: commitment(0x4000),
        locator: b"Observation/y/_history/1".to_vec(),
        kind: kind(),
        supersedes: None,
    });
    assert_eq!(w.chain.call(w.cast.hospital_a, commit).value, Ok(1));
    let terms = Terms {
        patient: w.custodial_patient,
        grantee: Grantee { institution: w.institutions.lab, account: None },
        scope: Scope::AllRecords,
        purposes: Purposes::of(&[Purpose::Treatment]),
        decision: Decision::Permit,
        valid_from: NOW - DAY,
        valid_until: NOW + DAY,
    };
    let receipt = w.chain.call(w.cast.hospital_a, w.con().grant(terms)).value.expect("grant");
    Setup { w, version: VersionRef { record, version: 1 }, receipt }
}

fn consented(s: &Setup, seq: u64) -> NewEntry {
    NewEntry {
        seq,
        patient: s.w.custodial_patient,
        target: Target::Version(s.version),
        purpose: Purpose::Treatment,
        accessed_at: NOW,
        authorization: Authorization::Consent(s.receipt),
    }
}

fn break_glass(s: &Setup, seq: u64) -> NewEntry {
    NewEntry {
        purpose: Purpose::EmergencyTreatment,
        authorization: Authorization::BreakGlass(BreakGlassReason::PatientIncapacitated),
        ..consented(s, seq)
    }
}

#[test]
fn only_accessors_append() {
    let mut s = setup();
    let accessors = [s.w.cast.hospital_a, s.w.cast.hospital_a_clerk, s.w.cast.lab];
    let start = s.w.chain.snapshot();
    for who in s.w.cast.all() {
        s.w.chain.restore(&start);
        let append = s.w.log().append(break_glass(&s, 0));
        if accessors.contains(&who) {
            let outcome = s.w.chain.call(who, append);
            let appended = outcome.value.expect("accessor appends");
            assert_eq!((appended.first_index, appended.appended, appended.size), (Some(0), 1, 1));
            let logged = outcome.events_of::<AccessLogged>();
            assert_eq!((logged[0].index, logged[0].entry.account), (0, who));
            assert_eq!(outcome.events_of::<LogExtended>()[0].root, appended.root);
        } else {
            assert_eq!(s.w.chain.call_refused(who, append), Err(Error::NotAccessor), "{who:?}");
        }
    }
}

#[test]
fn a_cited_receipt_is_checked_on_chain() {
    let mut s = setup();
    let lab = s.w.cast.lab;
    let outcome = s.w.chain.call(lab, s.w.log().append(consented(&s, 0)));
    assert_eq!(outcome.value.map(|a| a.appended), Ok(1));

    // Hospital A is an accessor but not the grantee: refused with the consents registry's reason.
    let other = s.w.cast.hospital_a;
    let refused = s.w.chain.call_refused(other, s.w.log().append(consented(&s, 0)));
    assert_eq!(refused, Err(Error::NotAuthorized(Denial::OutOfScope(s.receipt))));

    // Revocation takes effect at once.
    assert_eq!(s.w.chain.call(s.w.cast.hospital_a, s.w.con().revoke(s.receipt)).value, Ok(()));
    let refused = s.w.chain.call_refused(lab, s.w.log().append(consented(&s, 1)));
    assert_eq!(refused, Err(Error::NotAuthorized(Denial::Revoked(s.receipt))));
}

#[test]
fn an_entry_is_judged_when_its_access_happened() {
    // A receipt revoked a minute after a read: the read is still logged (a gateway served it
    // under the receipt and its entry reached the chain later), with both times; a read after
    // the revocation is refused.
    let mut s = setup();
    let lab = s.w.cast.lab;
    s.w.chain.set_time(NOW + 60_000);
    assert_eq!(s.w.chain.call(s.w.cast.hospital_a, s.w.con().revoke(s.receipt)).value, Ok(()));
    let before = s.w.chain.call(lab, s.w.log().append(consented(&s, 0)));
    assert_eq!(before.value.map(|a| a.appended), Ok(1));
    let logged = before.events_of::<AccessLogged>()[0].entry;
    assert_eq!((logged.accessed_at, logged.at), (NOW, NOW + 60_000));
    let after = NewEntry { accessed_at: NOW + 60_000, ..consented(&s, 1) };
    assert_eq!(
        s.w.chain.call_refused(lab, s.w.log().append(after)),
        Err(Error::NotAuthorized(Denial::Revoked(s.receipt)))
    );

    // The stated time is bounded: not after the block's time (beyond the clock skew allowed),
    // not more than MAX_ACCESS_AGE_MS before it; the batch is refused at that entry.
    let ahead = NewEntry { accessed_at: NOW + 60_000 + MAX_CLOCK_SKEW_MS + 1, ..break_glass(&s, 2) };
    let refused = s.w.chain.call_refused(lab, s.w.log().append_batch(vec![break_glass(&s, 1), ahead]));
    assert_eq!(refused, Err(BatchError { item: Some(1), error: Error::AccessedInFuture }));
    let skewed = NewEntry { accessed_at: NOW + 60_000 + MAX_CLOCK_SKEW_MS, ..break_glass(&s, 1) };
    assert_eq!(s.w.chain.call(lab, s.w.log().append(skewed)).value.map(|a| a.appended), Ok(1));
    let later = NOW + 60_000 + MAX_ACCESS_AGE_MS;
    s.w.chain.set_time(later);
    let oldest = NewEntry { accessed_at: later - MAX_ACCESS_AGE_MS, ..break_glass(&s, 2) };
    assert_eq!(s.w.chain.call(lab, s.w.log().append(oldest)).value.map(|a| a.appended), Ok(1));
    let too_old = NewEntry { accessed_at: later - MAX_ACCESS_AGE_MS - 1, ..break_glass(&s, 3) };
    let refused = s.w.chain.call_refused(lab, s.w.log().append_batch(vec![too_old]));
    assert_eq!(refused, Err(BatchError { item: Some(0), error: Error::AccessedTooLongAgo }));
}

#[test]
fn break_glass_is_flagged_announced_and_counted() {
    let mut s = setup();
    let lab = s.w.cast.lab;
    for seq in 0..3 {
        let outcome = s.w.chain.call(lab, s.w.log().append(break_glass(&s, seq)));
        assert!(outcome.value.is_ok());
        let alarms = outcome.events_of::<BreakGlassAccess>();
        assert_eq!(alarms.len(), 1);
        assert_eq!((alarms[0].patient, alarms[0].institution), (s.w.custodial_patient, s.w.institutions.lab));
        assert_eq!((alarms[0].reason, alarms[0].count), (BreakGlassReason::PatientIncapacitated, seq as u32 + 1));
        assert_eq!((alarms[0].first_index, alarms[0].entries), (seq, 1));
        let logged = outcome.events_of::<AccessLogged>();
        assert!(matches!(logged[0].entry.authorization, Authorization::BreakGlass(_)));
    }
    assert_eq!(s.w.chain.query(lab, s.w.log().break_glass_count(s.w.institutions.lab)), 3);
    assert_eq!(s.w.chain.query(lab, s.w.log().break_glass_count(s.w.institutions.hospital_a)), 0);
    // A consented entry raises no alarm.
    let outcome = s.w.chain.call(lab, s.w.log().append(consented(&s, 3)));
    assert!(outcome.events_of::<BreakGlassAccess>().is_empty());
}

#[test]
fn a_batch_announces_break_glass_once_per_patient_with_its_entries_counted() {
    let mut s = setup();
    let lab = s.w.cast.lab;
    // Entries 0 and 2 are break-glass about the custodial patient, 1 is consented, 3 is
    // break-glass about the keyed patient.
    let keyed_record = record_id(0x41);
    let commit = s.w.rec().commit(NewVersion {
        record: keyed_record,
        patient: s.w.keyed_patient,
        commitment: commitment(0x4100),
        locator: b"Observation/k/_history/1".to_vec(),
        kind: kind(),
        supersedes: None,
    });
    assert_eq!(s.w.chain.call(s.w.cast.hospital_a, commit).value, Ok(1));
    let keyed_target = Target::Version(VersionRef { record: keyed_record, version: 1 });
    let other = NewEntry { patient: s.w.keyed_patient, target: keyed_target, ..break_glass(&s, 3) };
    let batch = vec![break_glass(&s, 0), consented(&s, 1), break_glass(&s, 2), other];
    let outcome = s.w.chain.call(lab, s.w.log().append_batch(batch));
    assert_eq!(outcome.value.map(|a| a.appended), Ok(4));
    let alarms = outcome.events_of::<BreakGlassAccess>();
    let seen: Vec<_> = alarms.iter().map(|a| (a.patient, a.first_index, a.entries, a.count)).collect();
    assert_eq!(seen, vec![(s.w.custodial_patient, 0, 2, 3), (s.w.keyed_patient, 3, 1, 3)]);
    assert!(alarms.iter().all(|a| a.institution == s.w.institutions.lab && a.account == lab));
    assert_eq!(outcome.events_of::<AccessLogged>().len(), 4, "every entry is logged");
    assert_eq!(s.w.chain.query(lab, s.w.log().break_glass_count(s.w.institutions.lab)), 3);
}

#[test]
fn the_log_counts_each_patients_entries_once_per_call_for_their_page_to_check_it_shows_all() {
    let mut s = setup();
    let (lab, custodial, keyed) = (s.w.cast.lab, s.w.custodial_patient, s.w.keyed_patient);
    let counted = |s: &mut Setup, patient| s.w.chain.query(lab, s.w.log().patient_accesses(patient));
    assert_eq!(counted(&mut s, custodial), None, "nobody looked yet");
    // A batch mixing two patients, interleaved: each patient's count and newest index.
    let keyed_record = record_id(0x41);
    let commit = s.w.rec().commit(NewVersion {
        record: keyed_record,
        patient: keyed,
        commitment: commitment(0x4100),
        locator: b"Observation/k/_history/1".to_vec(),
        kind: kind(),
        supersedes: None,
    });
    assert_eq!(s.w.chain.call(s.w.cast.hospital_a, commit).value, Ok(1));
    let keyed_target = Target::Version(VersionRef { record: keyed_record, version: 1 });
    let of_keyed = |s: &Setup, seq| NewEntry { patient: keyed, target: keyed_target, ..break_glass(s, seq) };
    let batch = vec![consented(&s, 0), of_keyed(&s, 1), consented(&s, 2), of_keyed(&s, 3), consented(&s, 4)];
    assert_eq!(s.w.chain.call(lab, s.w.log().append_batch(batch.clone())).value.map(|a| a.appended), Ok(5));
    assert_eq!(counted(&mut s, custodial), Some(PatientAccesses { count: 3, newest: 4 }));
    assert_eq!(counted(&mut s, keyed), Some(PatientAccesses { count: 2, newest: 3 }));
    // A resubmission counts nothing again; the next call adds to the count.
    assert_eq!(s.w.chain.call(lab, s.w.log().append_batch(batch)).value.map(|a| a.appended), Ok(0));
    assert_eq!(counted(&mut s, custodial), Some(PatientAccesses { count: 3, newest: 4 }));
    assert_eq!(s.w.chain.call(lab, s.w.log().append(consented(&s, 5))).value.map(|a| a.appended), Ok(1));
    assert_eq!(counted(&mut s, custodial), Some(PatientAccesses { count: 4, newest: 5 }));
    // A refused call counts nothing.
    let refused = s.w.chain.call_refused(lab, s.w.log().append_batch(vec![consented(&s, 6), consented(&s, 9)]));
    assert_eq!(
        refused.map(|a| a.appended),
        Err(BatchError { item: Some(1), error: Error::SequenceGap { expected: 7 } })
    );
    assert_eq!(counted(&mut s, custodial), Some(PatientAccesses { count: 4, newest: 5 }));
}

#[test]
fn resubmission_is_a_no_op_and_gaps_are_refused() {
    let mut s = setup();
    let lab = s.w.cast.lab;
    let batch: Vec<NewEntry> = (0..5).map(|seq| consented(&s, seq)).collect();
    let first = s.w.chain.call(lab, s.w.log().append_batch(batch.clone()));
    assert_eq!(first.value.map(|a| (a.first_index, a.appended, a.skipped, a.size)), Ok((Some(0), 5, 0, 5)));
    let again = s.w.chain.call(lab, s.w.log().append_batch(batch.clone()));
    assert_eq!(again.value.map(|a| (a.first_index, a.appended, a.skipped, a.size)), Ok((None, 0, 5, 5)));
    assert!(again.events.is_empty(), "a resubmission logs nothing");
    // An overlapping batch appends only what is new.
    let overlap: Vec<NewEntry> = (3..8).map(|seq| consented(&s, seq)).collect();
    let outcome = s.w.chain.call(lab, s.w.log().append_batch(overlap));
    assert_eq!(outcome.value.map(|a| (a.first_index, a.appended, a.skipped, a.size)), Ok((Some(5), 3, 2, 8)));
    assert_eq!(s.w.chain.query(lab, s.w.log().next_seq(lab)), 8);
    let gap = s.w.chain.call_refused(lab, s.w.log().append(consented(&s, 10)));
    assert_eq!(gap, Err(Error::SequenceGap { expected: 8 }));
}

#[test]
fn bad_input_gets_typed_errors() {
    let mut s = setup();
    let lab = s.w.cast.lab;
    let refuse = |s: &mut Setup, batch: Vec<NewEntry>| s.w.chain.call_refused(lab, s.w.log().append_batch(batch));
    assert_eq!(refuse(&mut s, Vec::new()), Err(BatchError { item: None, error: Error::EmptyBatch }));
    let too_many: Vec<NewEntry> = (0..=u64::from(MAX_ENTRIES)).map(|seq| break_glass(&s, seq)).collect();
    assert_eq!(refuse(&mut s, too_many), Err(BatchError { item: None, error: Error::BatchTooLarge }));
    let mut zero = break_glass(&s, 1);
    zero.patient = PatientId::default();
    let batch = vec![break_glass(&s, 0), zero];
    assert_eq!(refuse(&mut s, batch), Err(BatchError { item: Some(1), error: Error::ZeroId(IdField::Patient) }));
    let mut zero_version = break_glass(&s, 0);
    zero_version.target = Target::Version(VersionRef { record: s.version.record, version: 0 });
    assert_eq!(
        refuse(&mut s, vec![zero_version]),
        Err(BatchError { item: Some(0), error: Error::ZeroId(IdField::Version) })
    );
    let mut stranger = break_glass(&s, 0);
    stranger.patient = PatientId::new(id32(0x0D));
    assert_eq!(refuse(&mut s, vec![stranger]), Err(BatchError { item: Some(0), error: Error::UnknownPatient }));
    let mut unknown_receipt = consented(&s, 1);
    unknown_receipt.authorization = Authorization::Consent(999);
    let batch = vec![consented(&s, 0), unknown_receipt];
    let refused = refuse(&mut s, batch);
    assert_eq!(refused, Err(BatchError { item: Some(1), error: Error::NotAuthorized(Denial::NoConsent) }));
    let mut missing = consented(&s, 0);
    missing.target = Target::Version(VersionRef { record: record_id(0x41), version: 1 });
    let refused = refuse(&mut s, vec![missing]);
    assert_eq!(refused, Err(BatchError { item: Some(0), error: Error::NotAuthorized(Denial::UnknownRecord) }));
    assert_eq!(s.w.chain.query(lab, s.w.log().head()).size, 0, "nothing was logged");
}

fn appended(outcome: &Outcome<Result<Appended, BatchError>>) -> Appended {
    outcome.value.expect("appended")
}

#[test]
fn every_entry_is_provable_against_the_roots_the_chain_recorded() {
    let mut s = setup();
    let (lab, a) = (s.w.cast.lab, s.w.cast.hospital_a_clerk);
    let mut tree = Tree::new();
    let mut recorded: Vec<(u64, [u8; 32])> = Vec::new();
    let mut seqs = [0u64, 0];
    for round in 0..12u64 {
        let (who, slot) = if round % 3 == 0 { (a, 1) } else { (lab, 0) };
        let size = 1 + round % 5;
        let batch: Vec<NewEntry> = (0..size)
            .map(|i| {
                let seq = seqs[slot] + i;
                if who == lab && i % 2 == 0 {
                    consented(&s, seq)
                } else {
                    break_glass(&s, seq)
                }
            })
            .collect();
        seqs[slot] += size;
        let outcome = s.w.chain.call(who, s.w.log().append_batch(batch));
        let result = appended(&outcome);
        // Rebuild the tree from the events alone, as any auditor would.
        for logged in outcome.events_of::<AccessLogged>() {
            assert_eq!(tree.push::<Sha256>(leaf_hash::<Sha256>(&scale::Encode::encode(&logged.entry))), logged.index);
        }
        assert_eq!(tree.root::<Sha256>(tree.len()), Some(result.root));
        assert_eq!(s.w.chain.query(lab, s.w.log().root_at(result.size)), Some(result.root));
        recorded.push((result.size, result.root));
    }
    let LogHead { size, root } = s.w.chain.query(lab, s.w.log().head());
    assert_eq!((size, Some(root)), (tree.len(), tree.root::<Sha256>(tree.len())));
    for &(size, root) in &recorded {
        for index in 0..size {
            let proof = tree.inclusion_proof::<Sha256>(index, size).unwrap();
            assert!(verify_inclusion::<Sha256>(&tree.leaf(index).unwrap(), index, size, &proof, &root));
        }
    }
    for (i, &(old, old_root)) in recorded.iter().enumerate() {
        for &(new, new_root) in &recorded[i..] {
            let proof = tree.consistency_proof::<Sha256>(old, new).unwrap();
            assert!(verify_consistency::<Sha256>(old, new, &old_root, &new_root, &proof));
        }
    }
}

// ---- security review, finding 6: break-glass does not bind the target to the patient ----

#[test]
fn break_glass_must_name_the_patients_own_version() {
    let mut s = setup();
    // The entry names the keyed patient but reads the custodial patient's version: the
    // custodial patient would never see the announcement.
    let mut entry = break_glass(&s, 0);
    entry.purpose = Purpose::EmergencyTreatment;
    entry.patient = s.w.keyed_patient;
    let refused = s.w.chain.call_refused(s.w.cast.lab, s.w.log().append_batch(vec![entry]));
    assert_eq!(refused, Err(BatchError { item: Some(0), error: Error::NotAuthorized(Denial::UnknownRecord) }));
    assert_eq!(s.w.chain.query(s.w.cast.lab, s.w.log().head()).size, 0, "nothing logged");
}

#[test]
fn break_glass_needs_an_emergency_purpose() {
    let mut s = setup();
    for purpose in [Purpose::Research, Purpose::Payment, Purpose::Operations] {
        let entry = NewEntry { purpose, ..break_glass(&s, 0) };
        let refused = s.w.chain.call_refused(s.w.cast.lab, s.w.log().append_batch(vec![entry]));
        assert_eq!(
            refused,
            Err(BatchError { item: Some(0), error: Error::NotAuthorized(Denial::NotAnEmergency) }),
            "{purpose:?}"
        );
    }
}

#[test]
fn break_glass_rates_are_readable_per_day() {
    let mut s = setup();
    let (lab, institution) = (s.w.cast.lab, s.w.institutions.lab);
    let day = u32::try_from(NOW / DAY).unwrap();
    let batch = vec![break_glass(&s, 0), consented(&s, 1), break_glass(&s, 2)];
    assert!(s.w.chain.call(lab, s.w.log().append_batch(batch)).value.is_ok());
    s.w.chain.set_time(NOW + DAY);
    assert!(s.w.chain.call(lab, s.w.log().append(break_glass(&s, 3))).value.is_ok());
    assert_eq!(s.w.chain.query(lab, s.w.log().break_glass_on(institution, day)), 2);
    assert_eq!(s.w.chain.query(lab, s.w.log().break_glass_on(institution, day + 1)), 1);
    assert_eq!(s.w.chain.query(lab, s.w.log().break_glass_on(institution, day + 2)), 0);
    assert_eq!(s.w.chain.query(lab, s.w.log().break_glass_on(s.w.institutions.hospital_a, day)), 0);
    assert_eq!(s.w.chain.query(lab, s.w.log().break_glass_count(institution)), 3);
}

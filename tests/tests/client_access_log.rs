//! The access log through the client: the outbox, the index, inclusion proofs.

use custodia_client::{
    types::{
        access_log::{AccessLogged, Authorization, BreakGlassAccess, BreakGlassReason, NewEntry},
        consents::{Decision, Denial, Grantee, Purpose, Purposes, Scope, Target, Terms},
        records::VersionRef,
    },
    verify::{commitment, new_salt},
    Backend, ContractError,
};
use custodia_services::outbox::{Access, Stage, CHUNK};
use custodia_services::{Error, Store};
use custodia_tests::fixture::{fixture_with, refused};
use custodia_types::records::NewVersion;

/// A fixture with one committed version and a treatment receipt for the laboratory.
async fn with_consent() -> (custodia_tests::fixture::Fixture, Target, u64) {
    with_consent_in(Store::in_memory().unwrap()).await
}

/// [`with_consent`] with the client's state in `store`.
async fn with_consent_in(store: Store) -> (custodia_tests::fixture::Fixture, Target, u64) {
    let f = fixture_with(store).await;
    let record = f.pseudonyms.record("Observation/1");
    f.client
        .records()
        .commit(NewVersion {
            record,
            patient: f.patient,
            commitment: commitment(&new_salt(), b"v1"),
            locator: b"L".to_vec(),
            kind: f.pseudonyms.code("kind"),
            supersedes: None,
        })
        .submit(&f.cast.hospital_a)
        .await
        .unwrap();
    let now = f.client.backend().now().await.unwrap();
    let terms = Terms {
        patient: f.patient,
        grantee: Grantee { institution: f.lab, account: None },
        scope: Scope::AllRecords,
        purposes: Purposes::of(&[Purpose::Treatment]),
        decision: Decision::Permit,
        valid_from: now,
        valid_until: now + 86_400_000,
    };
    let receipt = f.client.consents().grant(terms).submit(&f.cast.hospital_a).await.unwrap().value;
    (f, Target::Version(VersionRef { record, version: 1 }), receipt)
}

#[tokio::test(flavor = "current_thread")]
async fn record_numbers_queues_submits_and_clears() {
    let (f, target, receipt) = with_consent().await;
    let now = f.client.backend().now().await.unwrap();
    let log = f.client.access_log();
    let access = Access {
        patient: f.patient,
        target,
        purpose: Purpose::Treatment,
        accessed_at: now,
        authorization: Authorization::Consent(receipt),
    };
    let count = CHUNK * 2 + 7;
    let mut stages = Vec::new();
    let drained = f.outbox().record_with(&f.cast.lab, &vec![access; count], &mut |s| stages.push(s)).await.unwrap();
    assert_eq!((drained.appended, drained.skipped, drained.transactions), (count as u32, 0, 3));
    assert_eq!(drained.first_index, Some(0));
    assert_eq!(
        stages,
        vec![
            Stage::Queued,
            Stage::Included(0),
            Stage::Cleared(0),
            Stage::Included(1),
            Stage::Cleared(1),
            Stage::Included(2),
            Stage::Cleared(2)
        ]
    );
    assert!(f.outbox().pending(f.cast.lab.account()).unwrap().is_empty());
    assert_eq!(log.next_seq(f.cast.lab.account()).query().await.unwrap(), count as u64);
    assert_eq!(drained.events.iter().filter_map(|e| e.decode::<AccessLogged>()).count(), count);

    // The next record continues the numbering.
    let again = f.outbox().record(&f.cast.lab, &[access]).await.unwrap();
    assert_eq!(again.first_index, Some(count as u64));
    assert_eq!(log.next_seq(f.cast.lab.account()).query().await.unwrap(), count as u64 + 1);

    // The index rebuilds every entry from events, in order.
    assert_eq!(f.index().sync().await.unwrap(), count as u64 + 1);
    let entries = f.index().entries(0, 5).unwrap();
    assert_eq!(
        entries.iter().map(|(i, e)| (*i, e.seq)).collect::<Vec<_>>(),
        (0..5).map(|i| (i, i)).collect::<Vec<_>>()
    );
    assert!(entries.iter().all(|(_, e)| e.institution == f.lab && e.account == f.cast.lab.account()));
}

#[tokio::test(flavor = "current_thread")]
async fn a_refused_access_is_not_queued() {
    let (f, target, receipt) = with_consent().await;
    let now = f.client.backend().now().await.unwrap();
    let _log = f.client.access_log();
    let research = Access {
        patient: f.patient,
        target,
        purpose: Purpose::Research,
        accessed_at: now,
        authorization: Authorization::Consent(receipt),
    };
    let error = f.outbox().record(&f.cast.lab, &[research]).await.unwrap_err();
    assert_eq!(
        error.contract(),
        Some(&ContractError::AccessLogBatch(access_log::BatchError {
            item: Some(0),
            error: access_log::Error::NotAuthorized(Denial::OutOfScope(receipt))
        }))
    );
    assert!(f.outbox().pending(f.cast.lab.account()).unwrap().is_empty());
    let stranger = Access { purpose: Purpose::Treatment, ..research };
    let error = f.outbox().record(&f.cast.hospital_b, &[stranger]).await.unwrap_err();
    assert!(
        matches!(error.contract(), Some(ContractError::AccessLogBatch(b)) if b.error == access_log::Error::NotAccessor)
    );
}

#[tokio::test(flavor = "current_thread")]
async fn direct_appends_break_glass_and_idempotent_resubmission() {
    let (f, target, receipt) = with_consent().await;
    let now = f.client.backend().now().await.unwrap();
    let log = f.client.access_log();
    let entry = |seq, authorization| NewEntry {
        seq,
        patient: f.patient,
        target,
        purpose: Purpose::Treatment,
        accessed_at: now,
        authorization,
    };
    let first = log.append(entry(0, Authorization::Consent(receipt))).submit(&f.cast.lab).await.unwrap();
    assert_eq!((first.value.appended, first.value.first_index), (1, Some(0)));
    let again = log.append(entry(0, Authorization::Consent(receipt))).submit(&f.cast.lab).await.unwrap();
    assert_eq!((again.value.appended, again.value.skipped), (0, 1), "a resubmitted number is skipped");
    refused(
        &f.client,
        ContractError::AccessLog(access_log::Error::SequenceGap { expected: 1 }),
        log.append(entry(5, Authorization::Consent(receipt))).submit(&f.cast.lab),
    )
    .await;
    let emergency = NewEntry {
        purpose: Purpose::EmergencyTreatment,
        ..entry(1, Authorization::BreakGlass(BreakGlassReason::UrgentCare))
    };
    let glass = log.append_batch(vec![emergency]).submit(&f.cast.lab).await.unwrap();
    let alarm = &glass.events_of::<BreakGlassAccess>()[0];
    assert_eq!((alarm.patient, alarm.institution, alarm.count, alarm.entries), (f.patient, f.lab, 1, 1));
    assert_eq!(log.break_glass_count(f.lab).query().await.unwrap(), 1);
    let custodia_client::types::access_log::LogHead { size, root } = log.head().query().await.unwrap();
    assert_eq!(size, 2);
    assert_eq!(log.root_at(2).query().await.unwrap(), Some(root));
}

#[tokio::test(flavor = "current_thread")]
async fn inclusion_proofs_verify_against_the_chain_and_catch_alterations() {
    let (f, target, receipt) = with_consent().await;
    let now = f.client.backend().now().await.unwrap();
    let _log = f.client.access_log();
    let access = Access {
        patient: f.patient,
        target,
        purpose: Purpose::Treatment,
        accessed_at: now,
        authorization: Authorization::Consent(receipt),
    };
    f.outbox().record(&f.cast.lab, &vec![access; 13]).await.unwrap();
    for index in [0, 6, 12] {
        let proof = f.index().prove(index).await.unwrap();
        assert_eq!((proof.index, proof.size, proof.entry.seq), (index, 13, index));
        assert!(f.index().verify(&proof).await.unwrap(), "entry {index}");
        let mut altered = proof.clone();
        altered.entry.purpose = Purpose::Research;
        assert!(!f.index().verify(&altered).await.unwrap(), "an altered entry must not verify");
        let mut moved = proof.clone();
        moved.index = (index + 1) % 13;
        assert!(!f.index().verify(&moved).await.unwrap(), "a proof for another position must not verify");
    }
    assert!(matches!(f.index().prove(13).await, Err(Error::Input(_))));
}

#[tokio::test(flavor = "current_thread")]
async fn flush_after_a_lost_connection_and_discard_of_an_entry_the_chain_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let store_path = dir.path().join("client.redb");
    let (f, target, receipt) = with_consent_in(Store::open(&store_path).unwrap()).await;
    let log = f.client.access_log();
    let lab = f.cast.lab.account();
    // The receipt is revoked; an engine that does not check (it should) then reads three
    // times, and queues the accesses as if the process died right after queueing them (the
    // first chunk's transaction was never sent): simulate by queueing them in the store
    // directly. Judged when they happened, after the revocation, the chain refuses them for
    // good. (A read that happened before the revocation is logged: tests/tests/gateway.rs.)
    f.client.consents().revoke(receipt).submit(&f.cast.hospital_a).await.unwrap();
    let now = f.client.backend().now().await.unwrap();
    let entry = |seq| NewEntry {
        seq,
        patient: f.patient,
        target,
        purpose: Purpose::Treatment,
        accessed_at: now,
        authorization: Authorization::Consent(receipt),
    };
    f.outbox().enqueue(lab, &[entry(7), entry(7), entry(7)], Some(0)).unwrap();
    assert_eq!(f.outbox().pending(lab).unwrap().len(), 3);
    assert_eq!(
        f.outbox().pending(lab).unwrap().iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![0, 1, 2],
        "the store numbers them"
    );
    // The integrator discards each entry the chain refuses, by the number the error names;
    // the later ones are renumbered, so no gap opens.
    for _ in 0..3 {
        let error = f.outbox().flush(&f.cast.lab).await.unwrap_err();
        let Error::QueuedEntryRefused { seq, error } = error else { panic!("{error}") };
        assert_eq!(error, ContractError::AccessLog(access_log::Error::NotAuthorized(Denial::Revoked(receipt))));
        assert_eq!(seq, 0, "the first queued entry is the one refused");
        f.outbox().discard(lab, seq).await.unwrap();
    }
    assert!(f.outbox().pending(lab).unwrap().is_empty());
    let glass = Access {
        patient: f.patient,
        target,
        purpose: Purpose::EmergencyTreatment,
        accessed_at: now,
        authorization: Authorization::BreakGlass(BreakGlassReason::LifeThreatening),
    };
    let drained = f.outbox().record(&f.cast.lab, &[glass]).await.unwrap();
    assert_eq!(drained.appended, 1);
    assert_eq!(log.next_seq(lab).query().await.unwrap(), 1, "numbering continues from 0 without a gap");
}

#[tokio::test(flavor = "current_thread")]
async fn concurrent_records_of_one_account_never_share_a_number() {
    let (f, target, receipt) = with_consent().await;
    let now = f.client.backend().now().await.unwrap();
    let log = f.client.access_log();
    let access = Access {
        patient: f.patient,
        target,
        purpose: Purpose::Treatment,
        accessed_at: now,
        authorization: Authorization::Consent(receipt),
    };
    let (three_hundred, two_hundred) = (vec![access; 300], vec![access; 200]);
    let outbox = f.outbox();
    let (a, b) = tokio::join!(outbox.record(&f.cast.lab, &three_hundred), outbox.record(&f.cast.lab, &two_hundred));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.appended + b.appended, 500, "{a:?} {b:?}");
    assert_eq!(log.next_seq(f.cast.lab.account()).query().await.unwrap(), 500);
    assert_eq!(log.head().query().await.unwrap().size, 500, "no entry lost, none logged twice");
    assert!(f.outbox().pending(f.cast.lab.account()).unwrap().is_empty());
}

#[tokio::test(flavor = "current_thread")]
async fn a_number_another_engine_used_comes_back_as_a_conflict_never_cleared_silently() {
    // Security finding 4: the log skips an `(account, seq)` it already holds without comparing
    // content, and the outbox then cleared its own, different entry as logged: a second engine
    // with the same key (or a store restored from a backup and used offline) lost its entries.
    let (f, target, receipt) = with_consent().await;
    let now = f.client.backend().now().await.unwrap();
    let lab = f.cast.lab.account();
    let treatment = Access {
        patient: f.patient,
        target,
        purpose: Purpose::Treatment,
        accessed_at: now,
        authorization: Authorization::Consent(receipt),
    };
    let search = Access { target: Target::Query(f.pseudonyms.code("kind")), ..treatment };
    // Engine one logs a read as entry 0.
    f.outbox().record(&f.cast.lab, &[treatment]).await.unwrap();
    // Engine two (its own store, same key) queued a search as entry 0 while offline.
    let second = Store::in_memory().unwrap();
    second.bind(f.client.deployment()).unwrap();
    let outbox = custodia_services::outbox::Outbox::new(&f.client, &second);
    let entry = |a: Access| NewEntry {
        seq: 0,
        patient: a.patient,
        target: a.target,
        purpose: a.purpose,
        accessed_at: a.accessed_at,
        authorization: a.authorization,
    };
    outbox.enqueue(lab, &[entry(search)], None).unwrap();
    let error = outbox.flush(&f.cast.lab).await.unwrap_err();
    assert!(
        matches!(&error, Error::SequenceConflict { seqs, requeued } if seqs == &[0] && requeued == &[1]),
        "{error}"
    );
    assert_eq!(outbox.pending(lab).unwrap().len(), 1, "the conflicting entry stays queued");
    // Queued again under a fresh number, it is logged, once.
    let drained = outbox.flush(&f.cast.lab).await.unwrap();
    assert_eq!((drained.appended, drained.skipped), (1, 0));
    assert!(outbox.pending(lab).unwrap().is_empty());
    f.index().sync().await.unwrap();
    let logged: Vec<Target> = f.index().entries(0, 10).unwrap().iter().map(|(_, e)| e.target).collect();
    assert_eq!(logged, vec![treatment.target, search.target]);
}

/// Patients whose denies are too many for one call to weigh together: the outbox submits the
/// entries the chain could judge, then the rest, and every access is logged once, in order.
#[tokio::test(flavor = "current_thread")]
async fn the_outbox_splits_a_chunk_the_chain_cannot_judge_in_one_call() {
    use custodia_client::types::consents::{MAX_CATEGORIES, MAX_DENIES_PER_PATIENT};
    let f = fixture_with(Store::in_memory().unwrap()).await;
    let now = f.client.backend().now().await.unwrap();
    let terms = |patient, scope, decision| Terms {
        patient,
        grantee: Grantee { institution: f.lab, account: None },
        scope,
        purposes: Purposes::of(&[Purpose::Treatment]),
        decision,
        valid_from: now,
        valid_until: now + 86_400_000,
    };
    let mut accesses = Vec::new();
    for n in 0..18 {
        let patient = f.pseudonyms.patient(&format!("MRN-deny-{n}"));
        f.client.directory().register_patient(patient).submit(&f.cast.hospital_a).await.unwrap();
        let record = f.pseudonyms.record(&format!("Observation/deny-{n}"));
        let kind = f.pseudonyms.code("kind");
        let salt = new_salt();
        f.client
            .records()
            .commit(NewVersion {
                record,
                patient,
                commitment: commitment(&salt, b"v1"),
                locator: b"L".to_vec(),
                kind,
                supersedes: None,
            })
            .submit(&f.cast.hospital_a)
            .await
            .unwrap();
        let consents = f.client.consents();
        let permit = consents.grant(terms(patient, Scope::AllRecords, Decision::Permit));
        let receipt = permit.submit(&f.cast.hospital_a).await.unwrap().value;
        for d in 0..MAX_DENIES_PER_PATIENT {
            let codes = (0..MAX_CATEGORIES).map(|c| f.pseudonyms.code(&format!("other|{d}-{c}"))).collect();
            consents
                .grant(terms(patient, Scope::Categories(codes), Decision::Deny))
                .submit(&f.cast.hospital_a)
                .await
                .unwrap();
        }
        accesses.push(Access {
            patient,
            target: Target::Version(VersionRef { record, version: 1 }),
            purpose: Purpose::Treatment,
            accessed_at: now,
            authorization: Authorization::Consent(receipt),
        });
    }
    let drained = f.outbox().record(&f.cast.lab, &accesses).await.unwrap();
    assert_eq!(drained.appended, 18);
    assert!(drained.transactions >= 2, "split: {} transactions", drained.transactions);
    assert!(f.outbox().pending(f.cast.lab.account()).unwrap().is_empty());
    let logged: Vec<AccessLogged> = drained.events.iter().filter_map(|e| e.decode::<AccessLogged>()).collect();
    let seqs: Vec<u64> = logged.iter().map(|l| l.entry.seq).collect();
    assert_eq!(seqs, (0..18).collect::<Vec<u64>>(), "each once, in order");
}

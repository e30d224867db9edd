//! Every registry operation through the client on the embedded chain: results and events
//! decoded and typed, refusals typed with nothing changed.

use custodia_client::{
    types::{
        consents::{
            AccessCheck, ConsentGranted, ConsentRevoked, Decision, Denial, Grantee, Purpose, Purposes, ReceiptQuery,
            Scope, Target, Terms,
        },
        directory::{
            AccountAdded, AccountRemoved, Action, ControlChanged, Controller, InstitutionKind, PatientRegistered,
            ProposalCancelled, ProposalCreated, RecoveryEnded, RecoveryOutcome, Role, Roles,
        },
        records::{
            Content, ErasureReason, Link, NewVersion, Supersedence, Verification, VersionCommitted, VersionErased,
            VersionRef, VersionSuperseded,
        },
    },
    verify::{commitment, new_salt},
    Backend, ContractError,
};
use custodia_tests::fixture::{fixture, govern, refused};

#[tokio::test(flavor = "current_thread")]
async fn directory_governance_accounts_and_patients() {
    let f = fixture().await;
    let dir = f.client.directory();
    let admins = dir.admins().query().await.unwrap();
    assert_eq!(admins.threshold, 2);
    assert_eq!(admins.accounts.len(), 3);
    assert_eq!(dir.dependents().query().await.unwrap(), vec![f.client.deployment().records.address]);
    assert_eq!(dir.institution_roles(f.lab).query().await.unwrap(), Some(Roles::of(&[Role::Accessor])));
    let institution = dir.institution(f.hospital_a).query().await.unwrap().expect("admitted");
    assert_eq!(institution.kind, InstitutionKind::Hospital);
    assert_eq!(institution.operator, f.cast.hospital_a.account());

    // A proposal, approved by nobody else, then cancelled.
    let proposed = dir.propose(Action::Remove { institution: f.lab }).submit(&f.cast.admins[0]).await.unwrap();
    let id = proposed.value;
    assert_eq!(proposed.events_of::<ProposalCreated>()[0].proposal, id);
    assert!(dir.has_approved(id, f.cast.admins[0].account()).query().await.unwrap());
    assert!(!dir.has_approved(id, f.cast.admins[1].account()).query().await.unwrap());
    refused(&f.client, ContractError::Directory(directory::Error::NotAdmin), dir.approve(id).submit(&f.cast.stranger))
        .await;
    let cancelled = dir.cancel(id).submit(&f.cast.admins[0]).await.unwrap();
    assert_eq!(cancelled.events_of::<ProposalCancelled>().len(), 1);
    refused(
        &f.client,
        ContractError::Directory(directory::Error::NotAdmin),
        dir.propose(Action::Remove { institution: f.lab }).submit(&f.cast.hospital_a),
    )
    .await;

    // Accounts of an institution.
    let clerk = f.cast.stranger.account();
    dir.invite_account(clerk).submit(&f.cast.hospital_a).await.unwrap();
    assert!(!dir.is_member(clerk, Role::Custodian).query().await.unwrap(), "not before it joins");
    let added = dir.join_institution(f.hospital_a).submit(&f.cast.stranger).await.unwrap();
    assert_eq!(added.events_of::<AccountAdded>()[0].account, clerk);
    assert!(dir.is_member(clerk, Role::Custodian).query().await.unwrap());
    let records_address = f.client.deployment().records.address;
    assert!(dir.lookup(clerk).from(records_address).query().await.unwrap().cacheable, "attached registries may cache");
    assert!(!dir.lookup(clerk).query().await.unwrap().cacheable, "others may not");
    let removed = dir.remove_account(clerk).submit(&f.cast.hospital_a).await.unwrap();
    assert_eq!(removed.events_of::<AccountRemoved>()[0].account, clerk);
    assert_eq!(dir.membership(clerk).query().await.unwrap(), None);

    // A patient handed over to their own key, released, offered again and recovered.
    let patient = f.pseudonyms.patient("MRN-2");
    let registered = dir.register_patient(patient).submit(&f.cast.hospital_a).await.unwrap();
    assert_eq!(registered.events_of::<PatientRegistered>()[0].custodian, f.hospital_a);
    refused(
        &f.client,
        ContractError::Directory(directory::Error::PatientAlreadyRegistered),
        dir.register_patient(patient).submit(&f.cast.hospital_a),
    )
    .await;
    let key = f.cast.patient_key.account();
    dir.offer_control(patient, key).submit(&f.cast.hospital_a).await.unwrap();
    let accepted = dir.accept_control(patient).submit(&f.cast.patient_key).await.unwrap();
    assert_eq!(accepted.events_of::<ControlChanged>()[0].new, Controller::PatientHeld(key));
    assert!(dir.may_act_for(key, patient).query().await.unwrap());
    dir.release_control(patient).submit(&f.cast.patient_key).await.unwrap();
    assert_eq!(dir.controller_of(patient).query().await.unwrap(), Some(Controller::Custodial(f.hospital_a)));
    dir.offer_control(patient, key).submit(&f.cast.hospital_a).await.unwrap();
    dir.accept_control(patient).submit(&f.cast.patient_key).await.unwrap();
    // The custodian's recovery is announced and waits; the patient's key vetoes it alone.
    dir.request_recovery(patient, None).submit(&f.cast.hospital_a).await.unwrap();
    let pending = dir.recovery(patient).query().await.unwrap().expect("pending");
    assert_eq!(pending.to, Controller::Custodial(f.hospital_a));
    refused(
        &f.client,
        ContractError::Directory(directory::Error::RecoveryNotDue),
        dir.complete_recovery(patient).submit(&f.cast.hospital_a),
    )
    .await;
    let vetoed = dir.veto_recovery(patient).submit(&f.cast.patient_key).await.unwrap();
    assert_eq!(vetoed.events_of::<RecoveryEnded>()[0].outcome, RecoveryOutcome::Vetoed);
    assert_eq!(dir.recovery(patient).query().await.unwrap(), None);
    let info = dir.patient(patient).query().await.unwrap().expect("registered");
    assert_eq!(info.controller, Controller::PatientHeld(key));
    assert_eq!(info.custodian, f.hospital_a);

    // Governance through the client: roles changed.
    govern(
        &f.client,
        &f.cast,
        Action::SetRoles { institution: f.lab, roles: Roles::of(&[Role::Accessor, Role::Auditor]) },
    )
    .await
    .unwrap();
    assert!(dir.is_member(f.cast.lab.account(), Role::Auditor).query().await.unwrap());
}

#[tokio::test(flavor = "current_thread")]
async fn records_versions_supersedence_erasure_and_verification() {
    let f = fixture().await;
    let records = f.client.records();
    let record = f.pseudonyms.record("Observation/1");
    let kind = f.pseudonyms.code("http://loinc.org|718-7");
    let (salt1, salt2) = (new_salt(), new_salt());
    let (c1, c2) = (commitment(&salt1, b"v1"), commitment(&salt2, b"v2"));

    let v1 = records
        .commit(NewVersion {
            record,
            patient: f.patient,
            commitment: c1,
            locator: b"Observation/1/_history/1".to_vec(),
            kind,
            supersedes: None,
        })
        .submit(&f.cast.hospital_a)
        .await
        .unwrap();
    assert_eq!(v1.value, 1);
    let event = &v1.events_of::<VersionCommitted>()[0];
    assert_eq!((event.record, event.version, event.commitment, event.custodian), (record, 1, c1, f.hospital_a));
    assert!(v1.storage_deposit > 0, "a new version pays a storage deposit");
    assert!(v1.gas_required.ref_time > 0 && v1.gas_limit.ref_time > v1.gas_required.ref_time);

    let target = VersionRef { record, version: 1 };
    let v2 = records
        .commit(NewVersion {
            record,
            patient: f.patient,
            commitment: c2,
            locator: b"Observation/1/_history/2".to_vec(),
            kind,
            supersedes: Some(Link { target, how: Supersedence::Corrects }),
        })
        .submit(&f.cast.hospital_a)
        .await
        .unwrap();
    assert_eq!(v2.events_of::<VersionSuperseded>()[0].version, 1);
    assert_eq!(records.superseded_by(record, 1).query().await.unwrap().map(|l| l.how), Some(Supersedence::Corrects));
    assert_eq!(records.find(f.hospital_a, c2).query().await.unwrap(), Some(VersionRef { record, version: 2 }));
    let info = records.record(record).query().await.unwrap().expect("exists");
    assert_eq!((info.patient, info.custodian, info.head), (f.patient, f.hospital_a, 2));
    assert_eq!(records.head(record).query().await.unwrap().map(|h| h.number), Some(2));
    assert!(records.version(record, 3).query().await.unwrap().is_none());

    // Refusals, typed, nothing written.
    let c3 = commitment(&new_salt(), b"v3");
    // A third version, and variations of it, each refused for one reason.
    let v3 = NewVersion { record, patient: f.patient, commitment: c3, locator: b"x".to_vec(), kind, supersedes: None };
    refused(
        &f.client,
        ContractError::Records(records::Error::NotRecordCustodian),
        records.commit(v3.clone()).submit(&f.cast.hospital_b),
    )
    .await;
    refused(
        &f.client,
        ContractError::Records(records::Error::NotCustodian),
        records.commit(v3.clone()).submit(&f.cast.lab),
    )
    .await;
    refused(
        &f.client,
        ContractError::Records(records::Error::CommitmentAlreadyUsed),
        records.commit(NewVersion { commitment: c1, ..v3.clone() }).submit(&f.cast.hospital_a),
    )
    .await;
    refused(
        &f.client,
        ContractError::Records(records::Error::AlreadySuperseded),
        records
            .commit(NewVersion { supersedes: Some(Link { target, how: Supersedence::Replaces }), ..v3.clone() })
            .submit(&f.cast.hospital_a),
    )
    .await;
    refused(
        &f.client,
        ContractError::Records(records::Error::LocatorTooLong),
        records.commit(NewVersion { locator: vec![b'x'; 257], ..v3.clone() }).submit(&f.cast.hospital_a),
    )
    .await;

    // A batch: all or nothing, with the refused item's position.
    let other = f.pseudonyms.record("Observation/2");
    let item = |n: u8, commitment| NewVersion {
        record: other,
        patient: f.patient,
        commitment,
        locator: vec![b'L', n],
        kind,
        supersedes: None,
    };
    let batch = vec![item(1, commitment(&new_salt(), b"a")), item(2, c1)];
    refused(
        &f.client,
        ContractError::RecordsBatch(records::BatchError {
            item: Some(1),
            error: records::Error::CommitmentAlreadyUsed,
        }),
        records.commit_batch(batch).submit(&f.cast.hospital_a),
    )
    .await;
    let batch = vec![item(1, commitment(&new_salt(), b"a")), item(2, commitment(&new_salt(), b"b"))];
    assert_eq!(records.commit_batch(batch).submit(&f.cast.hospital_a).await.unwrap().value, vec![1, 2]);

    // Verification, off-chain bytes against the chain.
    assert_eq!(records.verify_content(target, &salt1, b"v1").await.unwrap(), Verification::Match);
    assert_eq!(records.verify_content(target, &salt1, b"v1 ").await.unwrap(), Verification::Mismatch);
    assert_eq!(
        records.verify_content(target, &salt2, b"v1").await.unwrap(),
        Verification::Mismatch,
        "the salt is part of the commitment"
    );
    assert_eq!(
        records.verify_content(VersionRef { record, version: 9 }, &salt1, b"v1").await.unwrap(),
        Verification::Unknown
    );

    // Erasure: the lab may not, the custodian may; a tombstone stays.
    refused(
        &f.client,
        ContractError::Records(records::Error::NotAuthorizedToErase),
        records.erase(record, 1, ErasureReason::PatientRequest).submit(&f.cast.lab),
    )
    .await;
    let erased = records.erase(record, 1, ErasureReason::PatientRequest).submit(&f.cast.hospital_a).await.unwrap();
    assert_eq!(erased.events_of::<VersionErased>()[0].tombstone.reason, ErasureReason::PatientRequest);
    assert_eq!(records.verify_content(target, &salt1, b"v1").await.unwrap(), Verification::Erased);
    let history = records.history(record).await.unwrap();
    assert_eq!(history.len(), 2);
    assert!(matches!(history[0].1.content, Content::Erased(_)));
    assert_eq!(history[0].2.map(|l| l.target.version), Some(2), "the link survives erasure");
    assert!(matches!(history[1].1.content, Content::Committed { .. }));
}

#[tokio::test(flavor = "current_thread")]
async fn history_pages_past_one_query() {
    let f = fixture().await;
    let records = f.client.records();
    let record = f.pseudonyms.record("DocumentReference/long");
    let kind = f.pseudonyms.code("kind");
    let batch: Vec<NewVersion> = (0..40u8)
        .map(|n| NewVersion {
            record,
            patient: f.patient,
            commitment: commitment(&[n; 32], b"x"),
            locator: vec![b'v', n],
            kind,
            supersedes: None,
        })
        .collect();
    records.commit_batch(batch).submit(&f.cast.hospital_a).await.unwrap();
    let history = records.history(record).await.unwrap();
    assert_eq!(history.iter().map(|(n, _, _)| *n).collect::<Vec<_>>(), (1..=40).collect::<Vec<_>>());
}

#[tokio::test(flavor = "current_thread")]
async fn consents_granted_checked_listed_and_revoked() {
    let f = fixture().await;
    let records = f.client.records();
    let consents = f.client.consents();
    let record = f.pseudonyms.record("Observation/1");
    let kind = f.pseudonyms.code("kind");
    records
        .commit(NewVersion {
            record,
            patient: f.patient,
            commitment: commitment(&new_salt(), b"v1"),
            locator: b"L".to_vec(),
            kind,
            supersedes: None,
        })
        .submit(&f.cast.hospital_a)
        .await
        .unwrap();
    let now = f.client.backend().now().await.unwrap();
    let terms = Terms {
        patient: f.patient,
        grantee: Grantee { institution: f.lab, account: None },
        scope: Scope::Record(record),
        purposes: Purposes::of(&[Purpose::Treatment]),
        decision: Decision::Permit,
        valid_from: now,
        valid_until: now + 86_400_000,
    };
    refused(
        &f.client,
        ContractError::Consents(consents::Error::NotController),
        consents.grant(terms.clone()).submit(&f.cast.lab),
    )
    .await;
    let granted = consents.grant(terms.clone()).submit(&f.cast.hospital_a).await.unwrap();
    let receipt = granted.value;
    let event = &granted.events_of::<ConsentGranted>()[0];
    assert_eq!((event.receipt, event.grantee, event.decision), (receipt, f.lab, Decision::Permit));
    assert_eq!(
        consents.receipt(receipt).query().await.unwrap().map(|r| r.granted_by),
        Some(f.cast.hospital_a.account())
    );

    let check = |purpose, receipt| AccessCheck {
        accessor: f.cast.lab.account(),
        patient: f.patient,
        target: Target::Version(VersionRef { record, version: 1 }),
        purpose,
        at: now,
        receipt,
    };
    assert_eq!(consents.is_authorized(check(Purpose::Treatment, Some(receipt))).query().await.unwrap(), Ok(receipt));
    let answers = consents
        .check_batch(vec![
            check(Purpose::Treatment, Some(receipt)),
            check(Purpose::Research, Some(receipt)),
            check(Purpose::Treatment, None),
            AccessCheck { accessor: f.cast.hospital_a.account(), ..check(Purpose::Treatment, None) },
        ])
        .query()
        .await
        .unwrap();
    assert_eq!(
        answers,
        vec![Ok(receipt), Err(Denial::OutOfScope(receipt)), Ok(receipt), Err(Denial::OutOfScope(receipt))],
        "without a cited receipt the registry finds one; it does not cover another accessor"
    );

    let page = consents
        .receipts(ReceiptQuery { patient: f.patient, from: 0, limit: 10, active_only: true })
        .query()
        .await
        .unwrap();
    assert_eq!((page.items.len(), page.next), (1, 1));
    refused(
        &f.client,
        ContractError::Consents(consents::Error::NotAuthorizedToRevoke),
        consents.revoke(receipt).submit(&f.cast.lab),
    )
    .await;
    let revoked = consents.revoke(receipt).submit(&f.cast.hospital_a).await.unwrap();
    assert_eq!(revoked.events_of::<ConsentRevoked>()[0].receipt, receipt);
    let later = f.client.backend().now().await.unwrap();
    let after_revocation = AccessCheck { at: later, ..check(Purpose::Treatment, Some(receipt)) };
    assert_eq!(consents.is_authorized(after_revocation).query().await.unwrap(), Err(Denial::Revoked(receipt)));
    assert_eq!(
        consents.is_authorized(check(Purpose::Treatment, Some(receipt))).query().await.unwrap(),
        Ok(receipt),
        "it was valid before"
    );
    let active = consents
        .receipts(ReceiptQuery { patient: f.patient, from: 0, limit: 10, active_only: true })
        .query()
        .await
        .unwrap()
        .items;
    assert!(active.is_empty(), "a revoked receipt is not active");
    refused(
        &f.client,
        ContractError::Consents(consents::Error::AlreadyRevoked),
        consents.revoke(receipt).submit(&f.cast.hospital_a),
    )
    .await;
}

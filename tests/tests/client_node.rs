//! The client's end-to-end suite over JSON-RPC against a real chain (the consortium runtime,
//! pallet-contracts stable2409, under chopsticks; every deployment through its council; started by
//! `scripts/chain-start.sh`): deployment, the demo story, typed refusals, events, proofs, and
//! faults over the wire. Needs `CUSTODIA_NODE_URL`; run by `scripts/test.sh`.

use custodia_client::{
    backend::{Instantiation, RuntimeCall, Value},
    error::DeploymentError,
    types::{
        access_log::{AccessLogged, Authorization, BreakGlassReason},
        consents::{Decision, Denial, Grantee, Purpose, Purposes, Scope, Target, Terms},
        records::{
            ErasureReason, Link, NewVersion, Supersedence, Verification, VersionCommitted, VersionRef,
            VersionSuperseded,
        },
    },
    verify::{commitment, new_salt},
    Backend, Client, ContractError, Error, Finality, NodeBackend,
};
use custodia_sandbox::{SandboxBackend, SandboxClock};
use custodia_services::outbox::Access;
use custodia_services::Store;
use custodia_tests::fixture::{fixture_on, Fixture};
use std::sync::{
    atomic::{AtomicBool, Ordering},
    Arc,
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

fn node_url() -> String {
    std::env::var("CUSTODIA_NODE_URL").expect("CUSTODIA_NODE_URL: start a chain with scripts/chain-start.sh")
}

async fn node(url: &str) -> NodeBackend {
    NodeBackend::connect(url, Finality::Finalized).await.expect("the node answers")
}

async fn deployed(url: &str) -> Fixture<NodeBackend> {
    fixture_on(node(url).await, Store::in_memory().unwrap(), &new_salt()).await
}

#[tokio::test(flavor = "current_thread")]
async fn records_consents_and_the_access_log_over_json_rpc() {
    let f = deployed(&node_url()).await;
    let (records, consents, log) = (f.client.records(), f.client.consents(), f.client.access_log());
    let record = f.pseudonyms.record("Observation/e2e");
    let kind = f.pseudonyms.code("http://loinc.org|718-7");
    let (salt1, salt2) = (new_salt(), new_salt());

    let v1 = records
        .commit(NewVersion {
            record,
            patient: f.patient,
            commitment: commitment(&salt1, b"v1"),
            locator: b"L1".to_vec(),
            kind,
            supersedes: None,
        })
        .submit(&f.cast.hospital_a)
        .await
        .unwrap();
    assert_eq!(v1.value, 1);
    assert_eq!(v1.events_of::<VersionCommitted>()[0].commitment, commitment(&salt1, b"v1"));
    assert_eq!(f.client.backend().block_number().await.unwrap(), v1.block);

    // Refused by the contract in the dry run: typed, nothing submitted, no block made.
    let before = f.client.backend().block_number().await.unwrap();
    let error = records
        .commit(NewVersion {
            record,
            patient: f.patient,
            commitment: commitment(&new_salt(), b"x"),
            locator: b"x".to_vec(),
            kind,
            supersedes: None,
        })
        .submit(&f.cast.hospital_b)
        .await
        .unwrap_err();
    assert_eq!(error.contract(), Some(&ContractError::Records(records::Error::NotRecordCustodian)));
    assert_eq!(f.client.backend().block_number().await.unwrap(), before);
    assert_eq!(records.record(record).query().await.unwrap().map(|r| r.head), Some(1));

    let target = VersionRef { record, version: 1 };
    let v2 = records
        .commit(NewVersion {
            record,
            patient: f.patient,
            commitment: commitment(&salt2, b"v2"),
            locator: b"L2".to_vec(),
            kind,
            supersedes: Some(Link { target, how: Supersedence::Amends }),
        })
        .submit(&f.cast.hospital_a)
        .await
        .unwrap();
    assert_eq!(v2.events_of::<VersionSuperseded>()[0].superseded_by.target.version, 2);
    assert_eq!(records.verify_content(target, &salt1, b"v1").await.unwrap(), Verification::Match);
    assert_eq!(records.verify_content(target, &salt1, b"v1!").await.unwrap(), Verification::Mismatch);

    let now = f.client.backend().now().await.unwrap();
    let terms = Terms {
        patient: f.patient,
        grantee: Grantee { institution: f.lab, account: None },
        scope: Scope::AllRecords,
        purposes: Purposes::of(&[Purpose::Treatment]),
        decision: Decision::Permit,
        valid_from: now.saturating_sub(60_000),
        valid_until: now + 86_400_000,
    };
    let receipt = consents.grant(terms).submit(&f.cast.hospital_a).await.unwrap().value;
    let access = Access {
        patient: f.patient,
        target: Target::Version(target),
        purpose: Purpose::Treatment,
        accessed_at: now,
        authorization: Authorization::Consent(receipt),
    };
    let drained = f.outbox().record(&f.cast.lab, &vec![access; 300]).await.unwrap();
    assert_eq!((drained.appended, drained.transactions), (300, 2));
    assert_eq!(drained.events.iter().filter_map(|e| e.decode::<AccessLogged>()).count(), 300);

    consents.revoke(receipt).submit(&f.cast.hospital_a).await.unwrap();
    // An access made after the revocation is refused (one made before it is still logged).
    let after = Access { accessed_at: f.client.backend().now().await.unwrap(), ..access };
    let error = f.outbox().record(&f.cast.lab, &[after]).await.unwrap_err();
    assert!(
        matches!(error.contract(), Some(ContractError::AccessLogBatch(b)) if b.error == access_log::Error::NotAuthorized(Denial::Revoked(receipt)))
    );
    let glass = Access {
        purpose: Purpose::EmergencyTreatment,
        authorization: Authorization::BreakGlass(BreakGlassReason::LifeThreatening),
        ..after
    };
    let drained = f.outbox().record(&f.cast.hospital_a, &[glass]).await.unwrap();
    assert_eq!(log.break_glass_count(f.hospital_a).query().await.unwrap(), 1);

    // Proofs built from events read block by block over RPC, checked against the root.
    let index = drained.first_index.unwrap();
    for i in [0, 150, index] {
        let proof = f.index().prove(i).await.unwrap();
        assert!(f.index().verify(&proof).await.unwrap(), "entry {i}");
        let mut altered = proof.clone();
        altered.entry.at += 1;
        assert!(!f.index().verify(&altered).await.unwrap());
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_deployment_file_for_another_chain_or_address_is_refused() {
    let f = deployed(&node_url()).await;
    let sandbox = SandboxBackend::new(SandboxClock::deterministic());
    let error = Client::open(sandbox, f.client.deployment().clone()).await.err().unwrap();
    assert!(matches!(&error, Error::Deployment(DeploymentError::WrongChain { .. })), "{error}");
    let mut swapped = f.client.deployment().clone();
    swapped.access_log.address = swapped.consents.address;
    let error = Client::open(node(&node_url()).await, swapped).await.err().unwrap();
    assert!(matches!(&error, Error::Deployment(DeploymentError::WrongCode { contract: "access_log", .. })), "{error}");
}

/// A TCP proxy between the client and the chain that can cut every connection the moment the
/// chain reports on a submitted transaction (after the node took it, before the client hears
/// that it is in a block).
struct Proxy {
    url: String,
    cut_on_update: Arc<AtomicBool>,
}

impl Proxy {
    async fn start(upstream: &str) -> Proxy {
        let upstream = upstream.trim_start_matches("ws://").to_string();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}", listener.local_addr().unwrap());
        let cut_on_update = Arc::new(AtomicBool::new(false));
        let armed = cut_on_update.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let server = TcpStream::connect(&upstream).await.unwrap();
                let (mut client_read, mut client_write) = client.into_split();
                let (mut server_read, mut server_write) = server.into_split();
                let upward = tokio::spawn(async move { tokio::io::copy(&mut client_read, &mut server_write).await });
                let armed = armed.clone();
                tokio::spawn(async move {
                    let mut buffer = vec![0u8; 64 * 1024];
                    loop {
                        let n = match server_read.read(&mut buffer).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        let chunk = &buffer[..n];
                        let update = chunk.windows(22).any(|w| w == b"author_extrinsicUpdate");
                        if update && armed.swap(false, Ordering::SeqCst) {
                            break; // drop both directions: the connection is cut
                        }
                        if client_write.write_all(chunk).await.is_err() {
                            break;
                        }
                    }
                    upward.abort();
                });
            }
        });
        Proxy { url, cut_on_update }
    }

    fn cut_at_next_transaction_update(&self) {
        self.cut_on_update.store(true, Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_connection_cut_between_submission_and_inclusion_loses_and_doubles_nothing() {
    let proxy = Proxy::start(&node_url()).await;
    let f = deployed(&proxy.url).await;
    let now = f.client.backend().now().await.unwrap();
    let record = f.pseudonyms.record("Observation/cut");
    f.client
        .records()
        .commit(NewVersion {
            record,
            patient: f.patient,
            commitment: commitment(&new_salt(), b"v1"),
            locator: b"L".to_vec(),
            kind: f.pseudonyms.code("k"),
            supersedes: None,
        })
        .submit(&f.cast.hospital_a)
        .await
        .unwrap();
    let log = f.client.access_log();
    let lab = f.cast.lab.account();
    let glass = Access {
        patient: f.patient,
        target: Target::Version(VersionRef { record, version: 1 }),
        purpose: Purpose::EmergencyTreatment,
        accessed_at: now,
        authorization: Authorization::BreakGlass(BreakGlassReason::UrgentCare),
    };

    proxy.cut_at_next_transaction_update();
    let error = f.outbox().record(&f.cast.lab, &vec![glass; 40]).await.unwrap_err();
    assert!(
        matches!(&error, custodia_services::Error::Client(e) if e.is_inclusion_unknown() || e.is_disconnected()),
        "{error}"
    );
    assert_eq!(f.outbox().pending(lab).unwrap().len(), 40, "the outbox keeps every entry it could not confirm");

    // The client reconnects (through the proxy, which accepts new connections) and flushes,
    // once, as an integration engine would after a restart: whatever reached the chain is
    // skipped, the rest is appended; each entry once. The cut-off transaction may still be
    // taking its nonce (security finding 14): the client rides that out itself.
    let drained = f.outbox().flush(&f.cast.lab).await.unwrap_or_else(|e| panic!("one flush goes through: {e}"));
    assert_eq!(drained.appended + drained.skipped, 40);
    assert!(f.outbox().pending(lab).unwrap().is_empty());
    assert_eq!(log.next_seq(lab).query().await.unwrap(), 40);
    let size = log.head().query().await.unwrap().size;
    assert_eq!(size, 40, "no entry doubled");
}

#[tokio::test(flavor = "current_thread")]
async fn racing_commits_to_one_record_each_learn_the_version_they_got() {
    // Security finding 7: two commits to one record, judged before either lands, were told the
    // dry run's version; the second to land got another. The value must be the included
    // transaction's.
    let f = deployed(&node_url()).await;
    let clerk = custodia_client::Signer::from_uri(&format!("//Test//Clerk//{}", hex::encode(new_salt()))).unwrap();
    f.client.backend().fund(&f.cast.admins[0], clerk.account(), custodia_tests::fixture::FUNDS).await.unwrap();
    f.client.directory().invite_account(clerk.account()).submit(&f.cast.hospital_a).await.unwrap();
    f.client.directory().join_institution(f.hospital_a).submit(&clerk).await.unwrap();
    let (records, kind) = (f.client.records(), f.pseudonyms.code("k"));
    let record = f.pseudonyms.record(&format!("Observation/race-{}", hex::encode(new_salt())));
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

    let (a, b) = tokio::join!(
        records
            .commit(NewVersion {
                record,
                patient: f.patient,
                commitment: commitment(&new_salt(), b"a"),
                locator: b"La".to_vec(),
                kind,
                supersedes: None
            })
            .submit(&f.cast.hospital_a),
        records
            .commit(NewVersion {
                record,
                patient: f.patient,
                commitment: commitment(&new_salt(), b"b"),
                locator: b"Lb".to_vec(),
                kind,
                supersedes: None
            })
            .submit(&clerk),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    for done in [&a, &b] {
        assert_eq!(
            Some(done.value),
            done.events_of::<VersionCommitted>().first().map(|e| e.version),
            "the value is the event's"
        );
    }
    let mut got = [a.value, b.value];
    got.sort();
    assert_eq!(got, [2, 3], "each learns its own version");
}

/// The patient's own key pays for and signs its veto: no institution can withhold it.
#[tokio::test(flavor = "current_thread")]
async fn a_patient_vetoes_a_custodians_recovery_with_no_institutions_help() {
    use custodia_client::types::directory::{Controller, RecoveryEnded, RecoveryOutcome, RecoveryRequested};
    let f = deployed(&node_url()).await;
    let dir = f.client.directory();
    let key = f.cast.patient_key.account();
    dir.offer_control(f.patient, key).submit(&f.cast.hospital_a).await.unwrap();
    dir.accept_control(f.patient).submit(&f.cast.patient_key).await.unwrap();
    let requested = dir.request_recovery(f.patient, None).submit(&f.cast.hospital_a).await.unwrap();
    let announced = &requested.events_of::<RecoveryRequested>()[0];
    assert_eq!(announced.patient, f.patient, "announced with the patient as topic");
    let now = f.client.backend().now().await.unwrap();
    assert!(announced.executable_at.is_some_and(|at| at > now), "due only after the delay");
    let error = dir.complete_recovery(f.patient).submit(&f.cast.hospital_a).await.unwrap_err();
    assert_eq!(error.contract(), Some(&ContractError::Directory(directory::Error::RecoveryNotDue)));
    let vetoed = dir.veto_recovery(f.patient).submit(&f.cast.patient_key).await.unwrap();
    assert_eq!(vetoed.events_of::<RecoveryEnded>()[0].outcome, RecoveryOutcome::Vetoed);
    assert_eq!(dir.controller_of(f.patient).query().await.unwrap(), Some(Controller::PatientHeld(key)));
}

/// Every event type the suite declares, emitted on the node at least once, so that
/// `scripts/chain/decode-events.mjs --require-all` (run after the e2e suites) proves each one
/// decodes with `@polkadot/api-contract`: the governance and control events the other
/// scenarios do not reach (a batch grant, an account removed, an operator changed, a proposal
/// cancelled, roles and admins changed, an institution linked to a patient's id and unlinked, a
/// hand-over and the institution removed after it, recovery parameters, a patient's guardians and
/// their approval, a contract's code changed and a dependent that stopped answering detached).
#[tokio::test(flavor = "current_thread")]
async fn every_event_type_reaches_the_chain() {
    use custodia_client::types::{
        consents::ConsentSet,
        directory::{Action, RecoveryParams, RecoveryPolicy, Role, Roles},
    };
    use custodia_tests::fixture::{govern, FUNDS};
    let f = deployed(&node_url()).await;
    let (dir, cast) = (f.client.directory(), &f.cast);
    let key = |uri: &str| custodia_client::Signer::from_uri(uri).unwrap();
    let (clerk, guardian_1, guardian_2, new_key) =
        (key("//Events//Clerk"), key("//Events//Guardian1"), key("//Events//Guardian2"), key("//Events//NewKey"));
    for signer in [&clerk, &guardian_1, &guardian_2, &new_key] {
        f.client.backend().fund(&cast.admins[0], signer.account(), FUNDS).await.unwrap();
    }

    // ConsentSetGranted.
    let now = f.client.backend().now().await.unwrap();
    let terms = Terms {
        patient: f.patient,
        grantee: Grantee { institution: f.lab, account: None },
        scope: Scope::AllRecords,
        purposes: Purposes::of(&[Purpose::Research]),
        decision: Decision::Permit,
        valid_from: now,
        valid_until: now + 86_400_000,
    };
    f.client
        .consents()
        .grant_set(ConsentSet { key: [0xE7; 32], terms: vec![terms] })
        .submit(&cast.hospital_a)
        .await
        .unwrap();
    // AccountRemoved (after AccountInvited, AccountAdded, and OperatorChanged there and back).
    dir.invite_account(clerk.account()).submit(&cast.hospital_a).await.unwrap();
    dir.join_institution(f.hospital_a).submit(&clerk).await.unwrap();
    dir.set_operator(clerk.account()).submit(&cast.hospital_a).await.unwrap();
    dir.set_operator(cast.hospital_a.account()).submit(&clerk).await.unwrap();
    dir.remove_account(clerk.account()).submit(&cast.hospital_a).await.unwrap();
    // ProposalCancelled.
    let proposal =
        dir.propose(Action::Remove { institution: f.hospital_b }).submit(&cast.admins[0]).await.unwrap().value;
    dir.cancel(proposal).submit(&cast.admins[0]).await.unwrap();
    // RolesChanged, InstitutionRemoved, AdminsChanged, RecoveryParamsChanged.
    let both = Roles::of(&[Role::Custodian, Role::Accessor]);
    govern(&f.client, cast, Action::SetRoles { institution: f.hospital_b, roles: both }).await.unwrap();
    // InstitutionLinked and InstitutionUnlinked: hospital A, the patient's custodial
    // controller, links hospital B (now a custodian) to the patient's id, and undoes it.
    dir.link_institution(f.patient, f.hospital_b).submit(&cast.hospital_a).await.unwrap();
    assert_eq!(dir.keepers(f.patient).query().await.unwrap(), vec![f.hospital_a, f.hospital_b]);
    dir.unlink_institution(f.patient, f.hospital_b).submit(&cast.hospital_a).await.unwrap();
    // HandOverApproved and CustodianChanged: hospital B, leaving, hands its patient to A first.
    let leaving_patient = f.pseudonyms.patient("Patient/leaving");
    dir.register_patient(leaving_patient).submit(&cast.hospital_b).await.unwrap();
    govern(&f.client, cast, Action::HandOver { from: f.hospital_b, to: f.hospital_a }).await.unwrap();
    let moved = dir.hand_over_patients(f.hospital_b, vec![leaving_patient]).submit(&cast.hospital_a).await.unwrap();
    assert_eq!(moved.value, 1);
    // AliasChanged: hospital A, now acting for both ids, joins the handed-over one to the
    // patient's as an alias (offered, accepted).
    dir.offer_alias(leaving_patient, f.patient).submit(&cast.hospital_a).await.unwrap();
    dir.accept_alias(leaving_patient).submit(&cast.hospital_a).await.unwrap();
    govern(&f.client, cast, Action::Remove { institution: f.hospital_b }).await.unwrap();
    let admins = cast.admins.iter().map(|a| a.account()).collect();
    govern(&f.client, cast, Action::SetAdmins { admins, threshold: 2 }).await.unwrap();
    let params = RecoveryParams { delay_ms: 7 * 86_400_000, custodial_fallback_required: false };
    govern(&f.client, cast, Action::SetRecoveryParams { params }).await.unwrap();
    // RecoveryPolicyChanged and RecoveryApproved: the patient takes their own key, names two
    // guardians (2 of 2); one requests a recovery to a new key, the other approves.
    dir.offer_control(f.patient, cast.patient_key.account()).submit(&cast.hospital_a).await.unwrap();
    dir.accept_control(f.patient).submit(&cast.patient_key).await.unwrap();
    let policy =
        RecoveryPolicy { custodial: true, guardians: vec![guardian_1.account(), guardian_2.account()], threshold: 2 };
    dir.set_recovery_policy(f.patient, policy).submit(&cast.patient_key).await.unwrap();
    dir.request_recovery(f.patient, Some(new_key.account())).submit(&guardian_1).await.unwrap();
    assert_eq!(dir.approve_recovery(f.patient).submit(&guardian_2).await.unwrap().value, 2);
    // CodeChanged and DependentDetached: records is switched (by governance) to code that does
    // not answer the directory's probe, and then detached, as a dependent that stopped
    // answering is. (This deployment is of no further use.)
    let other = custodia_client::Bundles::from_env().wasm("access_log").unwrap();
    let input = custodia_sandbox::harness::constructor_input(access_log::AccessLogRef::new(
        f.client.deployment().directory.address,
        f.client.deployment().consents.address,
    ));
    let copy = Instantiation { code: other, input, salt: new_salt().to_vec() };
    let code_hash = copy.code_hash();
    f.client.backend().instantiate(&cast.admins[0], &cast.admins[1..], vec![copy]).await.unwrap();
    let records = f.client.deployment().records.address;
    govern(&f.client, cast, Action::SetCode { contract: records, code_hash: code_hash.into() }).await.unwrap();
    govern(&f.client, cast, Action::Detach { contract: records }).await.unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn the_block_says_what_a_transaction_cost_and_the_runtime_what_a_block_holds() {
    let f = deployed(&node_url()).await;
    let record = f.pseudonyms.record("Observation/charged");
    let kind = f.pseudonyms.code("http://loinc.org|718-7");
    // A long locator, so that erasing the version frees more storage than its gap marker takes.
    let commit = f.client.records().commit(NewVersion {
        record,
        patient: f.patient,
        commitment: commitment(&new_salt(), b"v1"),
        locator: vec![b'L'; 200],
        kind,
        supersedes: None,
    });
    let input_len = commit.input().len();
    let estimate = commit.dry_run(f.cast.hospital_a.account()).await.unwrap();
    let submitted = commit.submit(&f.cast.hospital_a).await.unwrap();
    let charged = submitted.charged.expect("a node reports what an extrinsic cost");
    // The extrinsic weighs the contract's execution plus the call's own base weight; the fee
    // and the deposit (a new version's storage) were paid by the signer; the extrinsic holds
    // the call data and a signature.
    assert!(charged.weight.ref_time > estimate.gas_consumed.ref_time, "{charged:?} vs {estimate:?}");
    assert!(charged.weight.proof_size >= estimate.gas_consumed.proof_size, "{charged:?} vs {estimate:?}");
    assert!(charged.fee > 0, "{charged:?}");
    assert!(charged.storage_deposit > 0, "{charged:?}");
    assert_eq!(charged.storage_deposit, estimate.storage_deposit, "nothing changed between the dry run and the block");
    assert!(charged.length as usize > input_len + 64, "{charged:?} for {input_len} bytes of input");
    // Erasing a version releases deposit to the signer, as the dry run said.
    let v2 = commitment(&new_salt(), b"v2");
    f.client
        .records()
        .commit(NewVersion {
            record,
            patient: f.patient,
            commitment: v2,
            locator: b"L2".to_vec(),
            kind,
            supersedes: None,
        })
        .submit(&f.cast.hospital_a)
        .await
        .unwrap();
    let erase = f.client.records().erase(record, 1, ErasureReason::PatientRequest);
    let estimate = erase.dry_run(f.cast.hospital_a.account()).await.unwrap();
    let erased = erase.submit(&f.cast.hospital_a).await.unwrap().charged.unwrap();
    assert!(erased.storage_deposit < 0, "{erased:?}");
    assert_eq!(erased.storage_deposit, estimate.storage_deposit);
    // Another pallet's call, and the runtime's own limits.
    let remark = RuntimeCall::new("System", "remark_with_event", vec![Value::from_bytes([0x5A; 32])]);
    let backend = f.client.backend();
    let charged = backend.submit_runtime_call(&f.cast.hospital_a, &remark).await.unwrap();
    assert!(charged.weight.ref_time > 0 && charged.fee > 0 && charged.storage_deposit == 0, "{charged:?}");
    let limits = backend.block_limits().unwrap();
    assert!(limits.normal.ref_time <= limits.max_block.ref_time, "{limits:?}");
    assert!(limits.max_extrinsic.ref_time <= limits.normal.ref_time, "{limits:?}");
    assert!(limits.base_extrinsic.ref_time > 0 && limits.normal_length > 0, "{limits:?}");
    // The embedded chain runs calls without an extrinsic: nothing to report.
    let sandbox = custodia_tests::fixture::fixture().await;
    let record = sandbox.pseudonyms.record("Observation/charged");
    let commit = sandbox.client.records().commit(NewVersion {
        record,
        patient: sandbox.patient,
        commitment: commitment(&new_salt(), b"v1"),
        locator: b"L1".to_vec(),
        kind,
        supersedes: None,
    });
    assert_eq!(commit.submit(&sandbox.cast.hospital_a).await.unwrap().charged, None);
}

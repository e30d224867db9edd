//! What a hospital's integration engine does with the client, end to end, on the embedded
//! chain: deploy (a consortium does this once), register a patient, commit a version of a
//! record, get the lab's access checked and logged through the outbox, and prove the access.
//!
//! Run: `cargo run -p custodia-client --example integration_engine` (after
//! `scripts/build-contracts.sh`). Swap `SandboxBackend::new(..)` for
//! `NodeBackend::connect("ws://127.0.0.1:9944", Finality::Finalized).await?` to run it on a node.

use custodia_client::{
    deployment::{deploy, Bundles, Governance},
    registry::Access,
    types::{
        access_log::Authorization,
        consents::{Decision, Grantee, Purpose, Purposes, Scope, Target, Terms},
        directory::{Action, InstitutionKind, Role, Roles},
        records::{Verification, VersionCommitted, VersionRef},
    },
    verify::{commitment, new_salt, Pseudonyms},
    Backend, Client, Result, SandboxBackend, SandboxClock, Signer, Store,
};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let backend = SandboxBackend::new(SandboxClock::wall());
    let consortium = Signer::dev("alice")?;
    let hospital = Signer::from_uri("//Example//Hospital")?;
    let lab = Signer::from_uri("//Example//Lab")?;
    for signer in [&consortium, &hospital, &lab] {
        backend.fund(&consortium, signer.account(), 1_000_000_000_000_000).await?;
    }

    // Once per consortium: the suite, governed by one admin here (threshold 1).
    let governance = Governance { admins: vec![consortium.account()], threshold: 1 };
    let deployment = deploy(&backend, &consortium, &governance, &Bundles::from_env(), b"example", "embedded").await?;
    let client = Client::open(backend, deployment, Store::in_memory()?).await?;
    let admit = |operator: &Signer, kind, roles| Action::Admit { operator: operator.account(), kind, roles };
    for action in [
        admit(&hospital, InstitutionKind::Hospital, Roles::of(&[Role::Custodian])),
        admit(&lab, InstitutionKind::Laboratory, Roles::of(&[Role::Accessor])),
    ] {
        let proposal = client.directory().propose(action).submit(&consortium).await?.value;
        client.directory().execute(proposal).submit(&consortium).await?;
    }
    let lab_id = client.directory().membership(lab.account()).query().await?.expect("admitted").institution;

    // The hospital's engine: pseudonyms from a deployment secret, never the MRN itself.
    let pseudonyms = Pseudonyms::generate();
    let patient = pseudonyms.patient("MRN-0042");
    client.directory().register_patient(patient).submit(&hospital).await?;

    // A new version of a record: only a salted commitment and a locator go on chain.
    let content = br#"{"resourceType":"Observation","id":"hb","status":"final"}"#;
    let salt = new_salt();
    let record = pseudonyms.record("Observation/hb");
    let committed = client
        .records()
        .commit(record, patient, commitment(&salt, content), b"Observation/hb/_history/1".to_vec(), pseudonyms.code("http://loinc.org|718-7"))
        .submit(&hospital)
        .await?;
    let event = &committed.events_of::<VersionCommitted>()[0];
    println!("committed v{} in block #{} (gas {:?})", event.version, committed.block, committed.gas_required);

    // The patient (through the hospital, their custodial controller) lets the lab see it.
    let now = client.backend().now().await?;
    let terms = Terms {
        patient,
        grantee: Grantee { institution: lab_id, account: None },
        scope: Scope::Record(record),
        purposes: Purposes::of(&[Purpose::Treatment]),
        decision: Decision::Permit,
        valid_from: now,
        valid_until: now + 7 * 86_400_000,
    };
    let receipt = client.consents().grant(terms).submit(&hospital).await?.value;

    // The lab's engine logs its access through the outbox: durable before submission.
    let version = VersionRef { record, version: 1 };
    let access = Access { patient, target: Target::Version(version), purpose: Purpose::Treatment, authorization: Authorization::Consent(receipt) };
    let logged = client.access_log().record(&lab, &[access]).await?;
    let index = logged.first_index.expect("logged");

    // Anyone can check the copy they hold and the access entry.
    assert_eq!(client.records().verify_content(version, &salt, content).await?, Verification::Match);
    let proof = client.access_log().prove(index).await?;
    println!("access #{index} proven in a log of {}: {}", proof.size, client.access_log().verify(&proof).await?);
    Ok(())
}

//! What every example starts from: a consortium's deployment on the embedded chain (swap
//! `SandboxBackend::new(..)` for `NodeBackend::connect("ws://127.0.0.1:9944",
//! Finality::Finalized).await?` to run on a node), with a hospital (custodian) and a
//! laboratory (accessor) admitted and one patient registered under a keyed pseudonym.

#![allow(dead_code)]

use custodia_client::{
    deployment::{deploy, Bundles, Governance},
    types::{
        directory::{Action, InstitutionKind, Role, Roles},
        records::NewVersion,
        InstitutionId, PatientId, RecordId,
    },
    verify::{commitment, new_salt, Pseudonyms},
    Backend, Client, Signer,
};
use custodia_sandbox::{SandboxBackend, SandboxClock};
use custodia_services::{Result, Store};

pub struct Network<B = SandboxBackend> {
    pub client: Client<B>,
    pub store: Store,
    pub hospital: Signer,
    pub lab: Signer,
    pub lab_id: InstitutionId,
    pub pseudonyms: Pseudonyms,
    pub patient: PatientId,
}

pub async fn network() -> Result<Network> {
    network_on(SandboxBackend::new(SandboxClock::wall()), 1_000_000_000_000_000_000).await
}

/// The same on any chain (a node: `NodeBackend::connect(…)`), each account given `funds`.
pub async fn network_on<B: Backend>(backend: B, funds: u128) -> Result<Network<B>> {
    let consortium = Signer::dev("alice")?;
    let hospital = Signer::from_uri("//Example//Hospital")?;
    let lab = Signer::from_uri("//Example//Lab")?;
    for signer in [&consortium, &hospital, &lab] {
        backend.fund(&consortium, signer.account(), funds).await?;
    }
    // Once per consortium: the suite, governed by one admin here (threshold 1).
    let governance = Governance { admins: vec![consortium.account()], threshold: 1 };
    let salt = custodia_client::verify::new_salt();
    // On the consortium chain the council carries the deployment: Alice proposes, Bob approves.
    let council = [Signer::dev("bob")?];
    let deployment =
        deploy(&backend, &consortium, &council, &governance, &Bundles::from_env(), &salt, "embedded").await?;
    let client = Client::open(backend, deployment).await?;
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
    let hospital_id = client.directory().membership(hospital.account()).query().await?.expect("admitted").institution;
    let pseudonyms = Pseudonyms::generate().for_custodian(hospital_id);
    let patient = pseudonyms.patient("MRN-0042");
    client.directory().register_patient(patient).submit(&hospital).await?;
    let store = Store::in_memory()?;
    store.bind(client.deployment())?;
    Ok(Network { client, store, hospital, lab, lab_id, pseudonyms, patient })
}

impl<B: Backend> Network<B> {
    /// The hospital commits version 1 of the patient's haemoglobin result (`Observation/hb`,
    /// LOINC 718-7) and returns its record: what the examples that read records start from.
    pub async fn commit_result(&self) -> Result<RecordId> {
        let record = self.pseudonyms.record("Observation/hb");
        let version = NewVersion {
            record,
            patient: self.patient,
            commitment: commitment(&new_salt(), b"v1"),
            locator: b"opaque".to_vec(),
            kind: self.pseudonyms.code("http://loinc.org|718-7"),
            supersedes: None,
        };
        self.client.records().commit(version).submit(&self.hospital).await?;
        Ok(record)
    }
}

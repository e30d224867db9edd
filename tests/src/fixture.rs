//! The deployment the client tests share: the suite deployed through the client on the
//! embedded chain (deterministic clock), three admins (2 of 3), Hospital A (custodian and
//! accessor), Hospital B (custodian), a laboratory (accessor), and a registered patient.

use custodia_client::{
    deployment::{deploy, Bundles, Governance},
    types::{
        directory::{Action, InstitutionKind, Role, Roles},
        InstitutionId, PatientId,
    },
    verify::Pseudonyms,
    Backend, Client, ContractError, Error, Result, Signer,
};
use custodia_sandbox::{SandboxBackend, SandboxClock};
use custodia_services::Store;

/// The accounts of the client tests, with their keys.
pub struct Cast {
    pub admins: [Signer; 3],
    pub hospital_a: Signer,
    pub hospital_b: Signer,
    pub lab: Signer,
    pub patient_key: Signer,
    pub stranger: Signer,
}

impl Default for Cast {
    fn default() -> Self {
        Self::new()
    }
}

impl Cast {
    /// The cast's keys.
    pub fn new() -> Self {
        let key = |uri: &str| Signer::from_uri(uri).expect("a valid dev URI");
        Self {
            admins: [key("//Alice"), key("//Bob"), key("//Charlie")],
            hospital_a: key("//Test//HospitalA"),
            hospital_b: key("//Test//HospitalB"),
            lab: key("//Test//Lab"),
            patient_key: key("//Test//Patient"),
            stranger: key("//Test//Stranger"),
        }
    }

    /// Every key of the cast.
    pub fn all(&self) -> Vec<&Signer> {
        let mut all: Vec<&Signer> = self.admins.iter().collect();
        all.extend([&self.hospital_a, &self.hospital_b, &self.lab, &self.patient_key, &self.stranger]);
        all
    }
}

/// A deployment on a chain, with its cast, store and pseudonyms.
pub struct Fixture<B = SandboxBackend> {
    pub client: Client<B>,
    pub store: Store,
    pub cast: Cast,
    pub pseudonyms: Pseudonyms,
    pub hospital_a: InstitutionId,
    pub hospital_b: InstitutionId,
    pub lab: InstitutionId,
    pub patient: PatientId,
}

impl<B: Backend> Fixture<B> {
    /// The access-log outbox in the fixture's store.
    pub fn outbox(&self) -> custodia_services::outbox::Outbox<'_, B> {
        custodia_services::outbox::Outbox::new(&self.client, &self.store)
    }

    /// The index of logged entries in the fixture's store.
    pub fn index(&self) -> custodia_services::index::Index<'_, B> {
        custodia_services::index::Index::new(&self.client, &self.store)
    }
}

/// What every account of the cast is given.
pub const FUNDS: u128 = 1_000_000_000_000_000;

/// A fresh chain with the suite deployed, attached and the institutions admitted.
pub async fn fixture() -> Fixture {
    fixture_with(Store::in_memory().expect("an in-memory store")).await
}

pub async fn fixture_with(store: Store) -> Fixture {
    fixture_on(SandboxBackend::new(SandboxClock::deterministic()), store, b"test").await
}

/// The shared deployment on any backend (`salt` keeps deployments on one chain apart).
pub async fn fixture_on<B: Backend>(backend: B, store: Store, salt: &[u8]) -> Fixture<B> {
    let cast = Cast::new();
    for signer in cast.all() {
        backend.fund(&cast.admins[0], signer.account(), FUNDS).await.expect("funded");
    }
    let governance = Governance { admins: cast.admins.iter().map(Signer::account).collect(), threshold: 2 };
    let deployment =
        deploy(&backend, &cast.admins[0], &cast.admins[1..], &governance, &Bundles::from_env(), salt, "test")
            .await
            .expect("deployed");
    let client = Client::open(backend, deployment).await.expect("opened");
    store.bind(client.deployment()).expect("a store for this deployment");
    let attach = client.deployment().attach_proposal.expect("attach needs a second approval");
    client.directory().approve(attach).submit(&cast.admins[1]).await.expect("approve attach");
    client.directory().execute(attach).submit(&cast.admins[1]).await.expect("execute attach");
    let admit = |operator: &Signer, kind, roles| {
        let client = &client;
        let cast = &cast;
        let operator = operator.account();
        async move {
            govern(client, cast, Action::Admit { operator, kind, roles }).await.expect("admitted");
            client.directory().membership(operator).query().await.unwrap().expect("member").institution
        }
    };
    let both = Roles::of(&[Role::Custodian, Role::Accessor]);
    let hospital_a = admit(&cast.hospital_a, InstitutionKind::Hospital, both).await;
    let hospital_b = admit(&cast.hospital_b, InstitutionKind::Hospital, Roles::of(&[Role::Custodian])).await;
    let lab = admit(&cast.lab, InstitutionKind::Laboratory, Roles::of(&[Role::Accessor])).await;
    let pseudonyms = Pseudonyms::new([7; 32]).for_custodian(hospital_a);
    let patient = pseudonyms.patient("MRN-1");
    client.directory().register_patient(patient).submit(&cast.hospital_a).await.expect("registered");
    Fixture { client, store, cast, pseudonyms, hospital_a, hospital_b, lab, patient }
}

/// Alice proposes, Bob approves and executes.
pub async fn govern<B: Backend>(client: &Client<B>, cast: &Cast, action: Action) -> Result<()> {
    let id = client.directory().propose(action).submit(&cast.admins[0]).await?.value;
    client.directory().approve(id).submit(&cast.admins[1]).await?;
    client.directory().execute(id).submit(&cast.admins[1]).await?;
    Ok(())
}

/// Runs a submission that must be refused by the contract with `expected`, and checks that
/// the chain did not change at all (no block, same state bytes).
pub async fn refused<T: std::fmt::Debug>(
    client: &Client<SandboxBackend>,
    expected: ContractError,
    submission: impl std::future::Future<Output = Result<T>>,
) {
    let block = client.backend().block_number().await.unwrap();
    let root = client.backend().state_root();
    match submission.await {
        Err(Error::Contract(error)) => assert_eq!(error, expected),
        other => panic!("expected the contract to refuse with {expected:?}, got {other:?}"),
    }
    assert_eq!(client.backend().block_number().await.unwrap(), block, "a refused call must not make a block");
    assert_eq!(client.backend().state_root(), root, "a refused call must change nothing");
}

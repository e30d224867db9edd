//! The consortium runtime (`chain/runtime`) over JSON-RPC, as `scripts/chain-start.sh` runs it:
//! only a council majority puts contract code on the chain (as the keyless consortium account),
//! whatever else a signer tries; only treasury keys move funds, and the treasury funds a
//! patient's own key, which then vetoes a recovery alone; calls a consortium does not need are
//! filtered, and root is two thirds of the council's (never for a contract's code); node
//! authorization holds the members' nodes and only the council changes them; a contract upgrade
//! needs the council for the code and the directory's admins for the switch.
//! Needs `CUSTODIA_NODE_URL`; run by `scripts/test.sh`.

use custodia_client::{
    backend::{Instantiation, Motion, RuntimeCall, Standing, Value, CONSORTIUM_ACCOUNT},
    error::{CouncilError, InclusionError, SubmissionError},
    types::directory::{Action, CodeChanged, RecoveryEnded, RecoveryOutcome},
    verify::{blake2_256, new_salt},
    Backend, Bundles, Error, Finality, NodeBackend, Signer,
};
use custodia_services::Store;
use custodia_tests::fixture::{fixture_on, Fixture};
use ink::primitives::AccountId;
use scale::Decode;

const UNIT: u128 = 1_000_000_000_000;

fn node_url() -> String {
    std::env::var("CUSTODIA_NODE_URL").expect("CUSTODIA_NODE_URL: start a chain with scripts/chain-start.sh")
}

async fn deployed() -> Fixture<NodeBackend> {
    let node = NodeBackend::connect(&node_url(), Finality::Finalized).await.expect("the node answers");
    fixture_on(node, Store::in_memory().unwrap(), &new_salt()).await
}

/// A key nobody has used, with no funds.
fn fresh_key(name: &str) -> Signer {
    Signer::from_uri(&format!("//Consortium//{name}//{}", hex::encode(new_salt()))).unwrap()
}

fn refused_by_origin(error: &Error) -> bool {
    matches!(error, Error::Inclusion(InclusionError::Failed(f)) if f.pallet.is_none() && f.error == "BadOrigin")
}

fn upload(code: &[u8]) -> RuntimeCall {
    RuntimeCall::new(
        "Contracts",
        "upload_code",
        vec![Value::from_bytes(code), Value::unnamed_variant("None", []), Value::unnamed_variant("Enforced", [])],
    )
}

#[tokio::test(flavor = "current_thread")]
async fn only_a_council_majority_puts_code_on_the_chain() {
    let f = deployed().await;
    let node = f.client.backend();
    let [alice, bob, charlie] = &f.cast.admins;
    assert!(node.has_council());
    let mut members = node.council_members().await.unwrap();
    let mut genesis = [alice, bob, charlie].map(|s| s.account()).to_vec();
    members.sort();
    genesis.sort();
    assert_eq!(members, genesis, "the genesis council");

    let code = Bundles::from_env().wasm("records").unwrap();
    let input =
        custodia_sandbox::harness::constructor_input(records::RecordsRef::new(f.client.deployment().directory.address));
    let instantiation = Instantiation { code: code.clone(), input, salt: new_salt().to_vec() };
    // Neither an institution nor a council member alone instantiates or uploads code: the
    // runtime refuses the extrinsic for its origin (the dry run, which checks no origin, passes).
    for signer in [&f.cast.hospital_a, alice] {
        let error = node.instantiate_as(signer, &instantiation).await.unwrap_err();
        assert!(refused_by_origin(&error), "{error}");
        let error = node.submit_runtime_call(signer, &upload(&code)).await.unwrap_err();
        assert!(refused_by_origin(&error), "{error}");
        assert_eq!(node.code_hash(instantiation.address(&signer.account())).await.unwrap(), None);
    }

    // Proposed by one member, the motion is open and nothing is instantiated.
    let consortium = AccountId::from(CONSORTIUM_ACCOUNT);
    let error = node.instantiate(alice, &[], vec![instantiation.clone()]).await.unwrap_err();
    let Error::Council(CouncilError::NotCarried { motion, ayes: 1, threshold: 2 }) = error else { panic!("{error}") };
    assert_eq!(node.code_hash(instantiation.address(&consortium)).await.unwrap(), None);
    let (open, ayes): (Motion, u32) = node.motion(motion).await.unwrap().expect("the motion is open");
    assert_eq!((ayes, open.threshold), (1, 2));
    // Only members vote.
    let error = node.approve_motion(&f.cast.hospital_a, &open).await.unwrap_err();
    assert!(matches!(error, Error::Council(CouncilError::NotAMember { .. })), "{error}");
    // A second member's approval carries it: the contract is instantiated as the consortium
    // account, at the address that account and the instantiation determine.
    let standing = node.approve_motion(bob, &open).await.unwrap();
    assert!(matches!(standing, Standing::Enacted { .. }), "{standing:?}");
    assert_eq!(node.code_hash(instantiation.address(&consortium)).await.unwrap(), Some(instantiation.code_hash()));
    assert_eq!(node.motion(motion).await.unwrap(), None, "closed");
}

#[tokio::test(flavor = "current_thread")]
async fn only_the_treasury_moves_funds_and_a_patient_it_funds_vetoes_alone() {
    let f = deployed().await;
    let node = f.client.backend();
    let treasury = &f.cast.admins[0];
    let patient_key = fresh_key("patient");
    // An institution cannot fund a patient's key, directly or inside a batch: the pool refuses
    // the transaction (InvalidTransaction::Custom(1)) and no block holds it.
    let transfer = || {
        RuntimeCall::new(
            "Balances",
            "transfer_keep_alive",
            vec![Value::unnamed_variant("Id", [Value::from_bytes(patient_key.account())]), Value::u128(UNIT)],
        )
    };
    let remark = RuntimeCall::new("System", "remark", vec![Value::from_bytes(b"x")]);
    for call in [transfer(), RuntimeCall::all_of(vec![remark, transfer()])] {
        let error = node.submit_runtime_call(&f.cast.hospital_a, &call).await.unwrap_err();
        assert!(matches!(&error, Error::Submission(SubmissionError::Refused(_))), "{error}");
        assert!(error.to_string().contains("Custom(1)") || error.to_string().contains("custom"), "{error}");
    }
    assert_eq!(node.free_balance(patient_key.account()).await.unwrap(), 0);
    // The treasury funds it.
    node.fund(treasury, patient_key.account(), 10 * UNIT).await.unwrap();
    assert_eq!(node.free_balance(patient_key.account()).await.unwrap(), 10 * UNIT);

    // The patient takes control of their identity; their custodian requests a recovery; the
    // patient's key alone signs and pays for the veto.
    let dir = f.client.directory();
    dir.offer_control(f.patient, patient_key.account()).submit(&f.cast.hospital_a).await.unwrap();
    dir.accept_control(f.patient).submit(&patient_key).await.unwrap();
    dir.request_recovery(f.patient, None).submit(&f.cast.hospital_a).await.unwrap();
    let before = node.free_balance(patient_key.account()).await.unwrap();
    let vetoed = dir.veto_recovery(f.patient).submit(&patient_key).await.unwrap();
    assert_eq!(vetoed.events_of::<RecoveryEnded>()[0].outcome, RecoveryOutcome::Vetoed);
    // It paid the fee; the recovery request's storage, which it removed, released its deposit
    // to it (pallet-contracts refunds the account whose call frees storage).
    let charged = vetoed.charged.expect("a node reports the fee");
    assert!(charged.fee > 0);
    let after = node.free_balance(patient_key.account()).await.unwrap() as i128;
    assert_eq!(after, before as i128 - charged.fee as i128 - charged.storage_deposit, "the patient's key paid");
}

#[tokio::test(flavor = "current_thread")]
async fn calls_a_consortium_does_not_need_are_filtered_and_node_authorization_is_the_councils() {
    let f = deployed().await;
    let node = f.client.backend();
    let [alice, bob, _] = &f.cast.admins;
    // No sudo, and the runtime's root calls are filtered for every signer: the chain's code
    // cannot be replaced by a key.
    let set_code = RuntimeCall::new("System", "set_code", vec![Value::from_bytes(b"\0asm")]);
    let error = node.submit_runtime_call(alice, &set_code).await.unwrap_err();
    assert!(matches!(&error, Error::Inclusion(InclusionError::Failed(f)) if f.is("System", "CallFiltered")), "{error}");
    let derivative = RuntimeCall::new(
        "Utility",
        "as_derivative",
        vec![Value::u128(0), RuntimeCall::new("System", "remark", vec![Value::from_bytes(b"x")]).into_value()],
    );
    let error = node.submit_runtime_call(alice, &derivative).await.unwrap_err();
    assert!(matches!(&error, Error::Inclusion(InclusionError::Failed(f)) if f.is("System", "CallFiltered")), "{error}");

    // Root is the council's alone, by two thirds, through Governance::enact: a balance set by
    // force lands; a contract's code changed behind the directory's governance is refused even
    // so, and the contract keeps its code.
    let id = |account: AccountId| Value::unnamed_variant("Id", [Value::from_bytes(account)]);
    let forced = fresh_key("forced");
    let force = RuntimeCall::new("Balances", "force_set_balance", vec![id(forced.account()), Value::u128(5 * UNIT)]);
    let error = node.submit_runtime_call(alice, &force.clone().as_root()).await.unwrap_err();
    assert!(refused_by_origin(&error), "{error}");
    let (motion, standing) = node.propose_motion(alice, force.as_root()).await.unwrap();
    assert!(matches!(standing, Standing::Open { ayes: 1, threshold: 2 }), "{standing:?}");
    assert!(matches!(node.approve_motion(bob, &motion).await.unwrap(), Standing::Enacted { .. }));
    assert_eq!(node.free_balance(forced.account()).await.unwrap(), 5 * UNIT);
    let records = f.client.deployment().records.clone();
    let swap = RuntimeCall::new(
        "Contracts",
        "set_code",
        vec![id(records.address), Value::from_bytes(f.client.deployment().consents.code_hash)],
    );
    let (motion, _) = node.propose_motion(alice, swap.as_root()).await.unwrap();
    let error = node.approve_motion(bob, &motion).await.unwrap_err();
    assert!(
        matches!(&error, Error::Inclusion(InclusionError::Failed(f)) if f.is("Governance", "NeverEnacted")),
        "{error}"
    );
    assert_eq!(node.code_hash(records.address).await.unwrap(), Some(records.code_hash));

    // The members' three nodes are authorised from genesis.
    let nodes = || async {
        let raw = node.storage("NodeAuthorization", "WellKnownNodes", vec![]).await.unwrap().unwrap_or_default();
        Vec::<Vec<u8>>::decode(&mut &raw[..]).unwrap()
    };
    let genesis = nodes().await;
    assert_eq!(genesis.len(), 3, "{genesis:?}");
    // An institution cannot authorise a node; the council can.
    let peer = [&[0x00, 0x24, 0x08, 0x01, 0x12, 0x20][..], &new_salt()].concat();
    let add = RuntimeCall::new(
        "NodeAuthorization",
        "add_well_known_node",
        vec![Value::from_bytes(&peer), Value::unnamed_variant("Id", [Value::from_bytes(f.cast.hospital_a.account())])],
    );
    let error = node.submit_runtime_call(&f.cast.hospital_a, &add).await.unwrap_err();
    assert!(refused_by_origin(&error), "{error}");
    let (motion, _) = node.propose_motion(alice, add).await.unwrap();
    let standing = node.approve_motion(bob, &motion).await.unwrap();
    assert!(matches!(standing, Standing::Enacted { .. }), "{standing:?} {motion:?}");
    assert!(nodes().await.contains(&peer), "authorised by the council");
    let remove = RuntimeCall::new("NodeAuthorization", "remove_well_known_node", vec![Value::from_bytes(&peer)]);
    let (motion, _) = node.propose_motion(alice, remove).await.unwrap();
    node.approve_motion(bob, &motion).await.unwrap();
    assert_eq!(nodes().await, genesis);
}

/// The previous release's records code (`tests/fixtures/revision-1`), another build of a
/// registry to switch to, made new to the chain by a custom section holding a fresh salt (a Wasm
/// custom section changes the code's hash, not what it does).
fn new_records_code() -> Vec<u8> {
    let path = format!("{}/fixtures/revision-1/records.contract", env!("CARGO_MANIFEST_DIR"));
    let bundle: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut code = hex::decode(bundle["source"]["wasm"].as_str().unwrap().trim_start_matches("0x")).unwrap();
    let (name, salt) = (b"salt", new_salt());
    code.extend([0x00, (1 + name.len() + salt.len()) as u8, name.len() as u8]); // id 0, size, name length
    code.extend(name);
    code.extend(salt);
    code
}

#[tokio::test(flavor = "current_thread")]
async fn an_upgrade_needs_the_council_for_the_code_and_the_directorys_admins_for_the_switch() {
    let f = deployed().await;
    let node = f.client.backend();
    let [alice, bob, _] = &f.cast.admins;
    let code = new_records_code();
    let code_hash = blake2_256(&code);
    let records = f.client.deployment().records.address;
    // The directory's admins cannot switch records to code the council has not put on chain.
    let dir = f.client.directory();
    let proposal = dir.propose(Action::SetCode { contract: records, code_hash: code_hash.into() }).submit(alice).await;
    let proposal = proposal.unwrap().value;
    dir.approve(proposal).submit(bob).await.unwrap();
    let error = dir.execute(proposal).submit(bob).await.unwrap_err();
    assert_eq!(
        error.contract(),
        Some(&custodia_client::ContractError::Directory(directory::Error::CodeNotFound)),
        "{error}"
    );
    assert_eq!(node.code_hash(records).await.unwrap(), Some(f.client.deployment().records.code_hash));
    // The council uploads it (a motion Alice proposes and Bob carries) ...
    let (motion, standing) = node.propose_motion(alice, upload(&code)).await.unwrap();
    assert!(matches!(standing, Standing::Open { ayes: 1, threshold: 2 }), "{standing:?}");
    let standing = node.approve_motion(bob, &motion).await.unwrap();
    assert!(matches!(standing, Standing::Enacted { .. }), "{standing:?} {motion:?}");
    // ... and the same proposal of the directory now switches it.
    let switched = dir.execute(proposal).submit(bob).await.unwrap();
    assert_eq!(switched.events_of::<CodeChanged>()[0].code_hash, code_hash.into());
    assert_eq!(node.code_hash(records).await.unwrap(), Some(code_hash));
}

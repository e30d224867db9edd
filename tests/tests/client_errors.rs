//! Errors outside the contracts: the deployment file, wrong chains and addresses, keys, the
//! local store.

use custodia_client::{
    deployment::{deploy, Bundles, Governance},
    error::{DeploymentError, KeyError},
    Client, Deployment, Error, Signer,
};
use custodia_sandbox::{SandboxBackend, SandboxClock};
use custodia_services::Store;
use custodia_tests::fixture::{self as common, fixture};

#[tokio::test(flavor = "current_thread")]
async fn a_deployment_for_another_chain_or_address_is_refused_clearly() {
    let f = fixture().await;
    let deployment = f.client.deployment().clone();

    let other_chain = SandboxBackend::new(SandboxClock::deterministic());
    let error = Client::open(other_chain, deployment.clone()).await.err().expect("refused");
    assert!(matches!(&error, Error::Deployment(DeploymentError::WrongChain { .. })), "{error}");
    assert!(error.to_string().contains("wrong node or wrong deployment file"), "{error}");

    // Same chain, but records' address points at the directory: the code hash gives it away.
    let mut swapped = deployment.clone();
    swapped.records.address = deployment.directory.address;
    let error = swapped.check(f.client.backend()).await.unwrap_err();
    assert!(matches!(&error, Error::Deployment(DeploymentError::WrongCode { contract: "records", .. })), "{error}");
    assert!(error.to_string().contains("runs code"), "{error}");

    let mut nowhere = deployment.clone();
    nowhere.consents.address = [9u8; 32].into();
    let error = nowhere.check(f.client.backend()).await.unwrap_err();
    assert!(matches!(&error, Error::Deployment(DeploymentError::NoContract { contract: "consents", .. })), "{error}");
    assert!(error.to_string().contains("no contract at"), "{error}");

    // Unchecked, a call to the wrong contract is caught by ink!'s selector check.
    let unchecked = Client::new(f.client.backend(), swapped);
    let error = unchecked.records().record([1u8; 32].into()).query().await.unwrap_err();
    assert!(matches!(&error, Error::NotUnderstood(_)), "{error}");
    assert!(error.to_string().contains("did not understand"), "{error}");
}

#[tokio::test(flavor = "current_thread")]
async fn deployment_files_round_trip_and_bad_ones_say_why() {
    let f = fixture().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deployment.json");
    f.client.deployment().save(&path).unwrap();
    assert_eq!(&Deployment::load(&path).unwrap(), f.client.deployment());
    std::fs::write(&path, "{\"chain\": 1}").unwrap();
    assert!(matches!(Deployment::load(&path), Err(Error::Deployment(DeploymentError::Malformed { .. }))));
    let missing = Deployment::load(&dir.path().join("none.json")).unwrap_err();
    assert!(
        matches!(&missing, Error::Deployment(DeploymentError::Unreadable { path, .. }) if path.ends_with("none.json")),
        "{missing}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn deploying_checks_governance_and_bundles_first() {
    let backend = SandboxBackend::new(SandboxClock::deterministic());
    let alice = Signer::dev("alice").unwrap();
    use custodia_client::Backend;
    backend.fund(&alice, alice.account(), common::FUNDS).await.unwrap();
    let bad = Governance { admins: vec![alice.account()], threshold: 2 };
    assert!(matches!(
        deploy(&backend, &alice, &[], &bad, &Bundles::from_env(), b"", "embedded").await,
        Err(Error::Input(_))
    ));
    let good = Governance { admins: vec![alice.account()], threshold: 1 };
    let error = deploy(&backend, &alice, &[], &good, &Bundles::at("/nonexistent"), b"", "embedded").await.unwrap_err();
    assert!(
        matches!(&error, Error::Deployment(DeploymentError::Bundle { path, .. }) if path.starts_with("/nonexistent")),
        "{error}"
    );
    // Threshold 1: the deployer attaches the records registry at once.
    let deployment = deploy(&backend, &alice, &[], &good, &Bundles::from_env(), b"one", "embedded").await.unwrap();
    assert_eq!(deployment.attach_proposal, None);
    let client = Client::open(&backend, deployment).await.unwrap();
    assert_eq!(client.directory().dependents().query().await.unwrap(), vec![client.deployment().records.address]);
}

#[test]
fn keys_resolve_and_never_print_their_secret() {
    let alice = Signer::dev("alice").unwrap();
    assert_eq!(Signer::dev("//Alice").unwrap().account(), alice.account());
    assert_eq!(Signer::resolve("alice").unwrap().account(), alice.account());
    let mnemonic = "bottom drive obey lake curtain smoke basket hold race lonely fit walk";
    let from_phrase = Signer::resolve(&format!("{mnemonic}//Alice")).unwrap();
    assert_eq!(from_phrase.account(), alice.account());
    assert!(!format!("{from_phrase:?}").contains("bottom"));
    assert!(matches!(Signer::from_uri("not a //valid uri ///"), Err(Error::Key(_))));

    let dir = tempfile::tempdir().unwrap();
    let keyfile = dir.path().join("key");
    std::fs::write(&keyfile, format!("{mnemonic}//Alice\n")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&keyfile, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(matches!(Signer::from_keystore(&keyfile), Err(Error::Key(KeyError::Exposed { mode: 0o644, .. }))));
    assert!(Signer::from_keystore(&keyfile).unwrap_err().to_string().contains("chmod 600"));
    std::fs::set_permissions(&keyfile, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(Signer::resolve(keyfile.to_str().unwrap()).unwrap().account(), alice.account());
}

#[tokio::test(flavor = "current_thread")]
async fn a_store_never_mixes_two_deployments() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("client.redb");
    let f = common::fixture_with(Store::open(&path).unwrap()).await;
    let deployment = f.client.deployment().clone();
    drop(f);
    let g = fixture().await;
    let error = Store::open(&path).unwrap().bind(g.client.deployment()).unwrap_err();
    assert!(matches!(&error, custodia_services::Error::WrongStore), "{error}");
    assert!(error.to_string().contains("another chain"), "{error}");
    assert_ne!(deployment.chain, g.client.deployment().chain);
}

#[tokio::test(flavor = "current_thread")]
async fn the_embedded_chain_survives_the_process() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("chain.scale");
    let alice = Signer::dev("alice").unwrap();
    let deployment = {
        let backend = SandboxBackend::open(&file).unwrap();
        let governance = Governance { admins: vec![alice.account()], threshold: 1 };
        use custodia_client::Backend;
        backend.fund(&alice, alice.account(), common::FUNDS).await.unwrap();
        deploy(&backend, &alice, &[], &governance, &Bundles::from_env(), b"p", "embedded").await.unwrap()
    };
    let reopened = SandboxBackend::open(&file).unwrap();
    let client = Client::open(reopened, deployment).await.unwrap();
    assert_eq!(client.directory().admins().query().await.unwrap().accounts, vec![alice.account()]);
    std::fs::write(&file, b"garbage").unwrap();
    assert!(matches!(SandboxBackend::open(&file), Err(Error::Decoding { .. })));
}

#[tokio::test(flavor = "current_thread")]
async fn time_let_pass_on_the_embedded_chain_moves_only_later_blocks_and_survives_the_process() {
    use custodia_client::Backend;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("chain.scale");
    let alice = Signer::dev("alice").unwrap();
    const WEEK: u64 = 7 * 24 * 3_600_000;
    let (before, sealed_before) = {
        let backend = SandboxBackend::open(&file).unwrap();
        backend.fund(&alice, alice.account(), common::FUNDS).await.unwrap();
        let governance = Governance { admins: vec![alice.account()], threshold: 1 };
        deploy(&backend, &alice, &[], &governance, &Bundles::from_env(), b"t", "embedded").await.unwrap();
        let sealed = backend.block_number().await.unwrap();
        let before = backend.block_time(sealed).await.unwrap();
        backend.let_time_pass(WEEK).unwrap();
        (before, sealed)
    };
    // Reopened from the file: the skip is there, the blocks sealed before it kept their times.
    let backend = SandboxBackend::open(&file).unwrap();
    assert_eq!(backend.block_time(sealed_before).await.unwrap(), before);
    assert!(backend.now().await.unwrap() >= before + WEEK, "the clock moved on a week");
    let governance = Governance { admins: vec![alice.account()], threshold: 1 };
    deploy(&backend, &alice, &[], &governance, &Bundles::from_env(), b"u", "embedded").await.unwrap();
    let next = backend.block_time(sealed_before + 1).await.unwrap();
    assert_eq!(next, before + WEEK + backend.clock().block_ms, "the next block lands a week and a block later");
}

// ---- security review, finding 13: the deployment check skips wiring ----

#[tokio::test(flavor = "current_thread")]
async fn a_suite_wired_to_another_directory_is_refused() {
    let f = fixture().await;
    let backend = f.client.backend();
    let deployment = f.client.deployment().clone();
    // A second suite on the same chain, from the same code, under a rogue directory.
    let rogue_admin = Signer::dev("alice").unwrap();
    use custodia_client::Backend;
    backend.fund(&rogue_admin, rogue_admin.account(), common::FUNDS).await.unwrap();
    let rogue_governance = Governance { admins: vec![rogue_admin.account()], threshold: 1 };
    let rogue = deploy(backend, &rogue_admin, &[], &rogue_governance, &Bundles::from_env(), b"rogue", "embedded")
        .await
        .unwrap();
    assert_eq!(rogue.records.code_hash, deployment.records.code_hash, "same code: the code check cannot tell");
    type Swap = fn(&mut Deployment, &Deployment);
    let swaps: [(&str, Swap); 4] = [
        ("directory", |d, r| d.directory = r.directory.clone()),
        ("records", |d, r| d.records = r.records.clone()),
        ("consents", |d, r| d.consents = r.consents.clone()),
        ("access_log", |d, r| d.access_log = r.access_log.clone()),
    ];
    for (name, swap) in swaps {
        let mut swapped = deployment.clone();
        swap(&mut swapped, &rogue);
        let refused = Client::open(backend, swapped).await.err();
        assert!(
            matches!(refused, Some(Error::Deployment(DeploymentError::WrongWiring { .. }))),
            "{name} from the rogue suite: {refused:?}"
        );
    }
    assert!(Client::open(backend, deployment).await.is_ok(), "the real suite still opens");

    // A suite whose records registry was never attached (its proposal forgotten).
    let two = Governance { admins: vec![rogue_admin.account(), f.cast.admins[1].account()], threshold: 2 };
    let mut unattached =
        deploy(backend, &rogue_admin, &[], &two, &Bundles::from_env(), b"pending", "embedded").await.unwrap();
    assert!(Client::open(backend, unattached.clone()).await.is_ok(), "attach pending: it opens");
    unattached.attach_proposal = None;
    let refused = Client::open(backend, unattached).await.err();
    assert!(
        matches!(refused, Some(Error::Deployment(DeploymentError::NotAttached { contract: "records" }))),
        "{refused:?}"
    );
}

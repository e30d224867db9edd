//! The sync follower as a library, following a real Helios HFS server into the embedded
//! chain: when the chain fails under it, unreachable before a batch was sent (nothing
//! advances), and the answer lost after the chain included a batch (the fate unknown to the
//! follower), the next run commits every version once; a backlog larger than the follower's
//! window is committed window by window, the oldest first.
//!
//! Feature `hfs` (scripts/test.sh turns it on after installing the server's debug build).

use custodia_client::{
    backend::{Backend, BlockEvent, DryRun, Gas, Hash, Inclusion, Instantiated, Instantiation},
    Error, Result, Signer,
};
use custodia_fixtures::hfs::Hfs;
use custodia_sandbox::{SandboxBackend, SandboxClock};
use custodia_services::{
    fhir_server::{FhirServer, Retry},
    server_verify::{verify, Scope},
    sync::{FollowOptions, Follower},
    Store,
};
use custodia_tests::fixture::fixture_on;
use ink::primitives::AccountId;
use std::sync::Mutex;

/// What the chain does to the next transactions.
#[derive(Clone, Copy, Debug)]
enum Fault {
    /// Unreachable: nothing is sent.
    Unreachable,
    /// The transaction is included, then the connection drops before the answer.
    LostAnswer,
}

/// The embedded chain with a connection that fails on demand: `fault` applies to the
/// transaction after `pass` more have gone through.
struct Flaky {
    chain: SandboxBackend,
    fault: Mutex<Option<(usize, Fault)>>,
}

impl Flaky {
    fn arm(&self, pass: usize, fault: Fault) {
        *self.fault.lock().unwrap() = Some((pass, fault));
    }

    /// The fault for this transaction, if it is the one.
    fn strikes(&self) -> Option<Fault> {
        let mut armed = self.fault.lock().unwrap();
        match armed.as_mut() {
            Some((0, fault)) => {
                let fault = *fault;
                *armed = None;
                Some(fault)
            }
            Some((pass, _)) => {
                *pass -= 1;
                None
            }
            None => None,
        }
    }
}

fn dropped() -> Error {
    Error::Connection { endpoint: "flaky".into(), source: "connection reset".into() }
}

// `submit_unestimated` is left to its default (not supported), so that every transaction goes
// through `submit`, where the faults are.
impl Backend for Flaky {
    async fn genesis(&self) -> Result<Hash> {
        self.chain.genesis().await
    }

    async fn block_number(&self) -> Result<u32> {
        self.chain.block_number().await
    }

    async fn now(&self) -> Result<u64> {
        self.chain.now().await
    }

    async fn block_time(&self, block: u32) -> Result<u64> {
        self.chain.block_time(block).await
    }

    async fn dry_run(&self, origin: AccountId, contract: AccountId, input: &[u8]) -> Result<DryRun> {
        self.chain.dry_run(origin, contract, input).await
    }

    async fn submit(
        &self,
        signer: &Signer,
        contract: AccountId,
        input: Vec<u8>,
        gas_limit: Gas,
        storage_deposit_limit: Option<u128>,
    ) -> Result<Inclusion> {
        match self.strikes() {
            Some(Fault::Unreachable) => Err(dropped()),
            Some(Fault::LostAnswer) => {
                self.chain.submit(signer, contract, input, gas_limit, storage_deposit_limit).await?;
                Err(dropped())
            }
            None => self.chain.submit(signer, contract, input, gas_limit, storage_deposit_limit).await,
        }
    }

    async fn instantiator(&self, deployer: &Signer) -> Result<AccountId> {
        self.chain.instantiator(deployer).await
    }

    async fn instantiate(
        &self,
        deployer: &Signer,
        approvers: &[Signer],
        batch: Vec<Instantiation>,
    ) -> Result<Vec<Instantiated>> {
        self.chain.instantiate(deployer, approvers, batch).await
    }

    async fn code_hash(&self, address: AccountId) -> Result<Option<Hash>> {
        self.chain.code_hash(address).await
    }

    async fn events(&self, contract: AccountId, from: u32, to: u32) -> Result<Vec<BlockEvent>> {
        self.chain.events(contract, from, to).await
    }

    async fn fund(&self, faucet: &Signer, account: AccountId, amount: u128) -> Result<()> {
        self.chain.fund(faucet, account, amount).await
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_chain_that_fails_under_the_follower_loses_and_doubles_nothing() {
    // Given a server holding one Synthea patient's records and a deployment on a flaky chain.
    let hfs = Hfs::start();
    hfs.load(
        &custodia_fixtures::fhir_dir()
            .join("bundles/smart-synthea__Abdul_Koepp_e925b0f3-8006-43f6-aa31-94bd215e55e7.json"),
    );
    let flaky = Flaky { chain: SandboxBackend::new(SandboxClock::deterministic()), fault: Mutex::new(None) };
    let f = fixture_on(flaky, Store::in_memory().unwrap(), b"test").await;
    let server = FhirServer::new(&hfs.url, Retry::default());
    let follower = Follower::new(&f.client, &f.store, &f.pseudonyms, &server, FollowOptions::default());
    let references: std::collections::BTreeSet<String> = hfs.history().into_iter().map(|(r, _, _)| r).collect();
    let pseudonyms = f.pseudonyms.for_source(&hfs.url);
    let on_chain = async || {
        let mut n = 0;
        for reference in &references {
            n += f.client.records().record(pseudonyms.record(reference)).query().await.unwrap().map_or(0, |r| r.head);
        }
        n
    };

    // When the chain is unreachable for the first batch (the patient's registration went
    // through): a typed error, nothing on chain, the cursor where it was.
    f.client.backend().arm(1, Fault::Unreachable);
    let error = follower.run_once(&f.cast.hospital_a, &mut |_| {}).await.unwrap_err();
    assert!(error.is_disconnected(), "{error}");
    assert_eq!((on_chain().await, follower.cursor().unwrap()), (0, None));

    // When the chain includes the batch but the answer is lost: the follower cannot know.
    f.client.backend().arm(0, Fault::LostAnswer);
    let error = follower.run_once(&f.cast.hospital_a, &mut |_| {}).await.unwrap_err();
    assert!(error.is_disconnected(), "{error}");
    assert_eq!((on_chain().await, follower.cursor().unwrap()), (63, None));

    // Then the next run records that batch without sending it again, and commits the rest.
    let report = follower.run_once(&f.cast.hospital_a, &mut |_| {}).await.unwrap();
    assert!(report.resumed);
    // 180 versions on the server, 2 without a patient (skipped, recorded with the first batch).
    assert_eq!(report.committed, 178, "63 found on chain, 115 more");
    assert_eq!(report.transactions, 2, "the 63 found on chain were not sent again");
    assert_eq!(on_chain().await, 178);
    assert!(follower.cursor().unwrap().is_some());
    let checked = verify(&follower, &Scope { history: true, patient: None }).await.unwrap();
    assert!(checked.clean(), "{:?}", checked.counts);
    assert_eq!((checked.counts.get("Match"), checked.counts.get("Skipped")), (Some(&178), Some(&2)));
    assert_eq!(follower.run_once(&f.cast.hospital_a, &mut |_| {}).await.unwrap().committed, 0);
}

#[tokio::test(flavor = "current_thread")]
async fn a_backlog_larger_than_the_window_is_committed_oldest_first_window_by_window() {
    // Given a server holding 180 versions and a follower that holds at most 50 at a time.
    let hfs = Hfs::start();
    hfs.load(
        &custodia_fixtures::fhir_dir()
            .join("bundles/smart-synthea__Abdul_Koepp_e925b0f3-8006-43f6-aa31-94bd215e55e7.json"),
    );
    let history = hfs.history(); // oldest first
    assert_eq!(history.len(), 180);
    let f = fixture_on(SandboxBackend::new(SandboxClock::deterministic()), Store::in_memory().unwrap(), b"test").await;
    let server = FhirServer::new(&hfs.url, Retry::default());
    let options = FollowOptions { window: 50, page_size: 40, ..FollowOptions::default() };
    let follower = Follower::new(&f.client, &f.store, &f.pseudonyms, &server, options);
    let taken = |(reference, version, _): &(String, String, Option<serde_json::Value>)| {
        follower.committed(reference, version).unwrap().is_some()
            || follower.refusal(reference, version).unwrap().is_some()
    };

    // The first pass takes the 50 oldest versions and leaves the 130 newer ones for later.
    let first = follower.run_once(&f.cast.hospital_a, &mut |_| {}).await.unwrap();
    assert_eq!((first.read, first.queued, first.held_back), (180, 50, 130));
    assert_eq!(first.committed + first.skipped + first.refused, 50);
    let taken_first: Vec<bool> = history.iter().map(taken).collect();
    assert_eq!(taken_first, [vec![true; 50], vec![false; 130]].concat(), "the oldest first");

    // Then window after window until nothing is held back; none holds more than 50.
    let mut passes = vec![first];
    while passes.last().unwrap().held_back > 0 {
        passes.push(follower.run_once(&f.cast.hospital_a, &mut |_| {}).await.unwrap());
    }
    let queued: Vec<usize> = passes.iter().map(|p| p.queued).collect();
    assert_eq!(queued, [50, 50, 50, 30]);
    assert!(history.iter().all(taken));
    let committed: usize = passes.iter().map(|p| p.committed).sum();
    assert_eq!(committed, 178, "2 of the 180 have no patient");

    // And the chain holds exactly the server's versions.
    let checked = verify(&follower, &Scope { history: true, patient: None }).await.unwrap();
    assert!(checked.clean(), "{:?}", checked.counts);
    assert_eq!((checked.counts.get("Match"), checked.counts.get("Skipped")), (Some(&178), Some(&2)));
    let again = follower.run_once(&f.cast.hospital_a, &mut |_| {}).await.unwrap();
    assert_eq!((again.committed, again.held_back), (0, 0));
}

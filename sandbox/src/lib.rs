//! # custodia-sandbox
//!
//! The one in-process chain of the project: the Custodia contracts in the real
//! pallet-contracts runtime ([`ink_sandbox`]'s default runtime), with no node and no mock.
//!
//! - [`Sandbox`]: the chain itself: deploy code, call contracts, dry-run, build blocks, set the
//!   clock, take and restore snapshots, read the state root and every byte of state, and keep
//!   the contract events of every block (the runtime forgets them when the next block starts).
//!   Everything the layers above need is written here once: the conversions between ink! and
//!   runtime accounts, the event filter, the storage-deposit sign, gas.
//! - [`SandboxBackend`]: the sandbox behind the client's [`Backend`](custodia_client::Backend)
//!   trait, one block per transaction, optionally saved to a file after every block (the CLI's
//!   embedded chain, the demo, the client and service tests).
//! - [`harness`]: a typed, synchronous harness for contract-level tests: calls built with the
//!   contract crates' own call builders, typed results, refusals checked to change nothing.
//!
//! The contract bundles are read with [`custodia_client::Bundles`].

pub mod backend;
pub mod harness;

pub use backend::{SandboxBackend, SandboxClock};

use custodia_client::{
    backend::{BlockEvent, Emitted, Gas, Hash},
    error::DispatchFailure,
};
use ink::primitives::AccountId;
use ink_sandbox::{
    api::prelude::*,
    frame_support::sp_runtime::{AccountId32, DispatchError},
    pallet_contracts::{self, Determinism, StorageDeposit},
    DefaultSandbox, RuntimeEventOf, Sandbox as _, Snapshot, Weight,
};

/// The runtime the sandbox runs.
pub type Runtime = <DefaultSandbox as ink_sandbox::Sandbox>::Runtime;

/// Calls `contract` in the runtime (inside `execute_with`), as a signed extrinsic would.
fn bare_call(
    origin: AccountId,
    contract: AccountId,
    input: Vec<u8>,
    gas_limit: Gas,
    storage_deposit_limit: Option<u128>,
) -> ink_sandbox::ContractExecResultFor<Runtime> {
    pallet_contracts::Pallet::<Runtime>::bare_call(
        to_runtime(origin),
        to_runtime(contract),
        0,
        Weight::from_parts(gas_limit.ref_time, gas_limit.proof_size),
        storage_deposit_limit,
        input,
        pallet_contracts::DebugInfo::UnsafeDebug,
        pallet_contracts::CollectEvents::UnsafeCollect,
        Determinism::Enforced,
    )
}

/// A call's record from the runtime's result; `earlier` is how many events of the block came
/// before it.
fn called(result: ink_sandbox::ContractExecResultFor<Runtime>, earlier: usize) -> Result<Called, DispatchFailure> {
    let events = contract_events(result.events, earlier);
    let returned = result.result.map_err(|e| failure(&e))?;
    Ok(Called {
        reverted: returned.did_revert(),
        output: returned.data,
        gas_consumed: gas(result.gas_consumed),
        gas_required: gas(result.gas_required),
        storage_deposit: deposit(result.storage_deposit),
        events,
    })
}

/// Converts an ink! account id to the runtime's.
pub fn to_runtime(account: AccountId) -> AccountId32 {
    AccountId32::new(*account.as_ref())
}

/// Converts a runtime account id to ink!'s.
pub fn to_ink(account: &AccountId32) -> AccountId {
    AccountId::from(*<AccountId32 as AsRef<[u8; 32]>>::as_ref(account))
}

/// Gas as the client counts it.
pub fn gas(weight: Weight) -> Gas {
    Gas { ref_time: weight.ref_time(), proof_size: weight.proof_size() }
}

/// A runtime dispatch error as the client reports it (`Contracts::ContractTrapped`).
pub fn failure(error: &DispatchError) -> DispatchFailure {
    match error {
        DispatchError::Module(module) => {
            use ink_sandbox::frame_support::traits::PalletInfo;
            let contracts = <Runtime as ink_sandbox::frame_system::Config>::PalletInfo::index::<
                pallet_contracts::Pallet<Runtime>,
            >();
            let pallet = match contracts {
                Some(index) if index == usize::from(module.index) => "Contracts".to_string(),
                _ => format!("pallet {}", module.index),
            };
            let error = module.message.map(str::to_string).unwrap_or_else(|| format!("error {:?}", module.error));
            DispatchFailure { pallet: Some(pallet), error, docs: None }
        }
        other => DispatchFailure { pallet: None, error: format!("{other:?}"), docs: None },
    }
}

/// What one contract call (or instantiation) did, before anyone decoded its output.
#[derive(Clone, Debug)]
pub struct Called {
    /// The message's raw output (ink!'s `MessageResult<R>`, SCALE-encoded).
    pub output: Vec<u8>,
    /// True if the contract reverted its state changes.
    pub reverted: bool,
    /// Gas used.
    pub gas_consumed: Gas,
    /// Gas the call needs as a limit (at least `gas_consumed`).
    pub gas_required: Gas,
    /// Storage deposit charged (positive) or refunded (negative).
    pub storage_deposit: i128,
    /// Events the contracts emitted in this call.
    pub events: Vec<Emitted>,
}

/// The in-process chain: pallet-contracts in ink_sandbox's minimal runtime.
pub struct Sandbox {
    runtime: DefaultSandbox,
    /// Every contract event of the sealed blocks (the runtime forgets a block's events when
    /// the next one starts).
    journal: Vec<BlockEvent>,
    /// This block's events so far.
    open_block: Vec<Emitted>,
}

impl Default for Sandbox {
    fn default() -> Self {
        Self::new()
    }
}

impl Sandbox {
    /// Gas limit of a call nobody limited: a whole block of a typical chain (2 s of
    /// computation, 10 MiB of proof), so a dry run finds what a call needs rather than
    /// failing at a guessed limit.
    pub const BLOCK_LIMIT: Gas = Gas { ref_time: 2_000_000_000_000, proof_size: 10 * 1024 * 1024 };

    /// A fresh chain at block 1, timestamp 0.
    pub fn new() -> Self {
        Self { runtime: DefaultSandbox::default(), journal: Vec::new(), open_block: Vec::new() }
    }

    /// A chain restored from a snapshot, with the events of its sealed blocks.
    pub fn restored(snapshot: Snapshot, journal: Vec<BlockEvent>) -> Self {
        let mut sandbox = Self::new();
        sandbox.runtime.restore_snapshot(snapshot);
        sandbox.journal = journal;
        sandbox
    }

    /// The current (open) block's number.
    pub fn block_number(&mut self) -> u32 {
        self.runtime.block_number()
    }

    /// The current block's timestamp (milliseconds since the Unix epoch).
    pub fn now(&mut self) -> u64 {
        self.runtime.get_timestamp()
    }

    /// Sets the current block's timestamp (milliseconds).
    pub fn set_time(&mut self, millis: u64) {
        self.runtime.set_timestamp(millis);
    }

    /// Closes the current block, keeping its events, and opens the next. Returns the closed
    /// block's number and hash.
    pub fn seal(&mut self) -> (u32, Hash) {
        let block = self.runtime.block_number();
        self.journal.extend(self.open_block.drain(..).map(|event| BlockEvent { block, event }));
        self.runtime.build_block();
        let hash = self.runtime.execute_with(|| ink_sandbox::frame_system::Pallet::<Runtime>::block_hash(block).0);
        (block, hash)
    }

    /// Contract events of the sealed blocks.
    pub fn journal(&self) -> &[BlockEvent] {
        &self.journal
    }

    /// Gives `account` at least `amount`.
    pub fn fund(&mut self, account: AccountId, amount: u128) -> Result<(), DispatchFailure> {
        let account = to_runtime(account);
        let have = self.runtime.free_balance(&account);
        if have >= amount {
            return Ok(());
        }
        self.runtime.mint_into(&account, amount - have).map(|_| ()).map_err(|e| failure(&e))
    }

    /// Calls a contract with raw input, keeping its effects (unless it reverts).
    pub fn call(
        &mut self,
        origin: AccountId,
        contract: AccountId,
        input: Vec<u8>,
        gas_limit: Gas,
        storage_deposit_limit: Option<u128>,
    ) -> Result<Called, DispatchFailure> {
        // The runtime hands back every event of the block so far; keep only this call's.
        let earlier = self.runtime.events().len();
        let result = self.runtime.execute_with(|| bare_call(origin, contract, input, gas_limit, storage_deposit_limit));
        let called = called(result, earlier)?;
        self.open_block.extend(called.events.iter().cloned());
        Ok(called)
    }

    /// Runs a call against the current state and throws its effects away: the call runs in a
    /// storage transaction that is rolled back (no copy of the state is made, so a query costs
    /// the same however large the state has grown).
    pub fn dry_run(
        &mut self,
        origin: AccountId,
        contract: AccountId,
        input: Vec<u8>,
        gas_limit: Gas,
    ) -> Result<Called, DispatchFailure> {
        use ink_sandbox::frame_support::storage::{with_transaction, TransactionOutcome};
        let earlier = self.runtime.events().len();
        let result = self.runtime.execute_with(|| {
            with_transaction(|| {
                let result = bare_call(origin, contract, input, gas_limit, None);
                TransactionOutcome::Rollback(Ok::<_, DispatchError>(result))
            })
        });
        called(result.expect("a rolled-back transaction returns its value"), earlier)
    }

    /// Uploads `code` and instantiates it with constructor input `input` and `salt`, as
    /// `origin`. Returns the new contract's address and the call's record.
    pub fn instantiate(
        &mut self,
        origin: AccountId,
        code: Vec<u8>,
        input: Vec<u8>,
        salt: Vec<u8>,
        gas_limit: Gas,
    ) -> Result<(AccountId, Called), DispatchFailure> {
        let earlier = self.runtime.events().len();
        let result = self.runtime.deploy_contract(
            code,
            0,
            input,
            salt,
            to_runtime(origin),
            Weight::from_parts(gas_limit.ref_time, gas_limit.proof_size),
            None,
        );
        let events = contract_events(result.events, earlier);
        let returned = result.result.map_err(|e| failure(&e))?;
        let called = Called {
            reverted: returned.result.did_revert(),
            output: returned.result.data,
            gas_consumed: gas(result.gas_consumed),
            gas_required: gas(result.gas_required),
            storage_deposit: deposit(result.storage_deposit),
            events,
        };
        self.open_block.extend(called.events.iter().cloned());
        Ok((to_ink(&returned.account_id), called))
    }

    /// The code hash of the contract at `address`, or `None` if no contract is there.
    pub fn code_hash(&mut self, address: AccountId) -> Option<Hash> {
        self.runtime
            .execute_with(|| pallet_contracts::Pallet::<Runtime>::code_hash(&to_runtime(address)))
            .map(|hash| hash.0)
    }

    /// Switches the code of the contract at `address` to already uploaded code, as the
    /// runtime's root origin does with `Contracts::set_code` (chain governance, not a
    /// contract's own upgrade path). Used to bootstrap upgrades and to break a dependent in
    /// tests.
    pub fn set_code_as_root(&mut self, address: AccountId, code_hash: Hash) -> Result<(), DispatchFailure> {
        self.runtime
            .execute_with(|| {
                pallet_contracts::Pallet::<Runtime>::set_code(
                    ink_sandbox::frame_system::RawOrigin::Root.into(),
                    to_runtime(address).into(),
                    code_hash.into(),
                )
            })
            .map(|_| ())
            .map_err(|e| failure(&e))
    }

    /// The whole state, to go back to with [`Sandbox::restore`].
    pub fn snapshot(&mut self) -> Snapshot {
        self.runtime.take_snapshot()
    }

    /// Goes back to a state taken with [`Sandbox::snapshot`] (the event journal stays).
    pub fn restore(&mut self, snapshot: &Snapshot) {
        self.runtime.restore_snapshot(snapshot.clone());
    }

    /// The root of the whole runtime state: equal before and after anything that changed
    /// nothing. Computed from the pending changes over the stored trie, without a copy of it.
    pub fn state_root(&mut self) -> Hash {
        let root = self
            .runtime
            .execute_with(|| sp_io::storage::root(ink_sandbox::frame_support::sp_runtime::StateVersion::V1));
        root.try_into().expect("a state root is 32 bytes")
    }

    /// Every byte of runtime state: keys and values of the top trie and every contract's child
    /// trie (for privacy scans).
    pub fn all_state_bytes(&mut self) -> Vec<u8> {
        let storage = self.runtime.take_snapshot().storage;
        storage.into_iter().flat_map(|(key, (value, _))| key.into_iter().chain(value)).collect()
    }

    /// Every byte the chain holds: the state and every contract event's topics and payload
    /// since genesis (for privacy scans).
    pub fn all_bytes(&mut self) -> Vec<u8> {
        let mut bytes = self.all_state_bytes();
        for event in self.journal.iter().map(|e| &e.event).chain(&self.open_block) {
            bytes.extend(event.topics.iter().flatten());
            bytes.extend(&event.data);
        }
        bytes
    }
}

fn contract_events(records: Option<Vec<ink_sandbox::EventRecordOf<Runtime>>>, skip: usize) -> Vec<Emitted> {
    records
        .unwrap_or_default()
        .into_iter()
        .skip(skip)
        .filter_map(|record| match record.event {
            RuntimeEventOf::<DefaultSandbox>::Contracts(pallet_contracts::Event::ContractEmitted {
                contract,
                data,
            }) => Some(Emitted {
                contract: to_ink(&contract),
                topics: record.topics.into_iter().map(|t| t.0).collect(),
                data,
            }),
            _ => None,
        })
        .collect()
}

fn deposit(deposit: StorageDeposit<u128>) -> i128 {
    match deposit {
        StorageDeposit::Charge(amount) => amount as i128,
        StorageDeposit::Refund(amount) => -(amount as i128),
    }
}

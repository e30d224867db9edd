//! The embedded chain: the real pallet-contracts runtime in process (ink_sandbox), one block
//! per transaction, optionally saved to a file after every block so that the state survives
//! the process (the CLI's default chain).

use super::{Backend, BlockEvent, DryRun, Emitted, Gas, Hash, Inclusion, Instantiated};
use crate::{keys::Signer, Error, Result};
use ink::primitives::AccountId;
use ink_sandbox::{
    api::prelude::*,
    frame_support::sp_runtime::{AccountId32, DispatchError},
    pallet_contracts::{self, Determinism, StorageDeposit},
    DefaultSandbox, RuntimeEventOf, Sandbox, Snapshot, Weight, H256,
};
use scale::{Decode, Encode};
use std::{
    io::Write,
    path::{Path, PathBuf},
    sync::Mutex,
};

type Runtime = <DefaultSandbox as Sandbox>::Runtime;

/// Gas limit of a dry run: a whole block of a typical chain (2 s of computation, 10 MiB of
/// proof), so the dry run finds what a call needs rather than failing at a guessed limit.
const DRY_RUN_LIMIT: Weight = Weight::from_parts(2_000_000_000_000, 10 * 1024 * 1024);

/// How the embedded chain's clock runs: block `n` has timestamp
/// `genesis_ms + (n - 1) * block_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub struct SandboxClock {
    /// Timestamp of block 1 (milliseconds since the Unix epoch).
    pub genesis_ms: u64,
    /// Milliseconds between blocks.
    pub block_ms: u64,
}

impl SandboxClock {
    /// A clock that starts at 2023-11-14 22:13:20 UTC: the same timeline on every run.
    pub const fn deterministic() -> Self {
        Self { genesis_ms: 1_700_000_000_000, block_ms: 6_000 }
    }

    /// A clock that starts now.
    pub fn wall() -> Self {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        Self { genesis_ms: now, block_ms: 6_000 }
    }

    fn at(&self, block: u32) -> u64 {
        self.genesis_ms + u64::from(block.saturating_sub(1)) * self.block_ms
    }
}

/// What the state file holds.
#[derive(Encode, Decode)]
struct Saved {
    format: u8,
    genesis: Hash,
    clock: SandboxClock,
    storage: ink_sandbox::RawStorage,
    root: Hash,
    journal: Vec<BlockEvent>,
}

const FORMAT: u8 = 1;

struct State {
    sandbox: DefaultSandbox,
    genesis: Hash,
    clock: SandboxClock,
    /// Every contract event since genesis (the sandbox itself forgets a block's events when
    /// the next one starts).
    journal: Vec<BlockEvent>,
}

/// The contracts in the real pallet-contracts runtime, in this process.
pub struct SandboxBackend {
    state: Mutex<State>,
    file: Option<PathBuf>,
}

impl SandboxBackend {
    /// A new chain in memory, with the given clock.
    pub fn new(clock: SandboxClock) -> Self {
        let mut genesis = [0u8; 32];
        getrandom::getrandom(&mut genesis).expect("the OS random source works");
        let mut sandbox = DefaultSandbox::default();
        sandbox.set_timestamp(clock.at(1));
        Self { state: Mutex::new(State { sandbox, genesis, clock, journal: Vec::new() }), file: None }
    }

    /// The chain saved in `file`, or a new one (with a wall clock) that will be saved there.
    /// The file is rewritten atomically after every block.
    pub fn open(file: &Path) -> Result<Self> {
        if !file.exists() {
            let backend = Self { file: Some(file.to_path_buf()), ..Self::new(SandboxClock::wall()) };
            backend.save(&mut backend.lock())?;
            return Ok(backend);
        }
        let bytes = std::fs::read(file).map_err(|e| Error::io(file, e))?;
        let saved = Saved::decode(&mut &bytes[..])
            .map_err(|e| Error::decoding("the embedded chain's state file", e))?;
        if saved.format != FORMAT {
            return Err(Error::decoding("the embedded chain's state file", "unknown format"));
        }
        let mut sandbox = DefaultSandbox::default();
        sandbox.restore_snapshot(Snapshot { storage: saved.storage, storage_root: H256(saved.root) });
        let state = State { sandbox, genesis: saved.genesis, clock: saved.clock, journal: saved.journal };
        Ok(Self { state: Mutex::new(state), file: Some(file.to_path_buf()) })
    }

    /// Every byte the chain holds: the nodes of the state trie (top and every contract's child
    /// trie, so every stored key and value) and every event payload and topic since genesis
    /// (for privacy scans).
    pub fn all_bytes(&self) -> Vec<u8> {
        let mut state = self.lock();
        let mut bytes: Vec<u8> = state
            .sandbox
            .take_snapshot()
            .storage
            .into_iter()
            .flat_map(|(key, (value, _))| key.into_iter().chain(value))
            .collect();
        for entry in &state.journal {
            bytes.extend(entry.event.topics.iter().flatten());
            bytes.extend(&entry.event.data);
        }
        bytes
    }

    /// The root of the whole runtime state: equal before and after anything that changed
    /// nothing.
    pub fn state_root(&self) -> Hash {
        self.lock().sandbox.take_snapshot().storage_root.0
    }

    /// The clock the chain runs on.
    pub fn clock(&self) -> SandboxClock {
        self.lock().clock
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while the lock was held cannot leave the sandbox half-changed in a way the
        // next call would mind more than losing the whole chain; go on with it.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Closes the current block (the call just made is in it) and opens the next.
    fn seal(&self, state: &mut State, events: &[Emitted]) -> Result<(u32, Hash)> {
        let block = state.sandbox.block_number();
        state.journal.extend(events.iter().cloned().map(|event| BlockEvent { block, event }));
        let next = state.sandbox.build_block();
        let time = state.clock.at(next);
        state.sandbox.set_timestamp(time);
        let hash = state.sandbox.execute_with(|| {
            ink_sandbox::frame_system::Pallet::<Runtime>::block_hash(block).0
        });
        self.save(state)?;
        Ok((block, hash))
    }

    fn save(&self, state: &mut State) -> Result<()> {
        let Some(file) = &self.file else { return Ok(()) };
        let snapshot = state.sandbox.take_snapshot();
        let saved = Saved {
            format: FORMAT,
            genesis: state.genesis,
            clock: state.clock,
            storage: snapshot.storage,
            root: snapshot.storage_root.0,
            journal: state.journal.clone(),
        };
        write_atomically(file, &saved.encode())
    }

    fn events_of(records: Option<Vec<ink_sandbox::EventRecordOf<Runtime>>>, skip: usize) -> Vec<Emitted> {
        records
            .unwrap_or_default()
            .into_iter()
            .skip(skip)
            .filter_map(|record| match record.event {
                RuntimeEventOf::<DefaultSandbox>::Contracts(
                    pallet_contracts::Event::ContractEmitted { contract, data },
                ) => Some(Emitted {
                    contract: to_ink(&contract),
                    topics: record.topics.into_iter().map(|t| t.0).collect(),
                    data,
                }),
                _ => None,
            })
            .collect()
    }
}

/// Writes `bytes` to `file` so that a crash leaves either the old or the new content.
fn write_atomically(file: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = file.with_extension("tmp");
    let write = || -> std::io::Result<()> {
        let mut out = std::fs::File::create(&tmp)?;
        out.write_all(bytes)?;
        out.sync_all()?;
        std::fs::rename(&tmp, file)?;
        if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    };
    write().map_err(|e| Error::io(file, e))
}

pub(crate) fn to_runtime(account: AccountId) -> AccountId32 {
    AccountId32::new(*account.as_ref())
}

pub(crate) fn to_ink(account: &AccountId32) -> AccountId {
    AccountId::from(*<AccountId32 as AsRef<[u8; 32]>>::as_ref(account))
}

fn gas(weight: Weight) -> Gas {
    Gas { ref_time: weight.ref_time(), proof_size: weight.proof_size() }
}

fn deposit(deposit: StorageDeposit<u128>) -> i128 {
    match deposit {
        StorageDeposit::Charge(amount) => amount as i128,
        StorageDeposit::Refund(amount) => -(amount as i128),
    }
}

/// `Contracts::ContractTrapped` rather than the raw error structure.
pub(crate) fn describe_dispatch_error(error: &DispatchError) -> String {
    match error {
        DispatchError::Module(module) => match module.message {
            Some(name) => format!("pallet error {name} (module {})", module.index),
            None => format!("pallet error {:?} of module {}", module.error, module.index),
        },
        other => format!("{other:?}"),
    }
}

impl Backend for SandboxBackend {
    async fn genesis(&self) -> Result<Hash> {
        Ok(self.lock().genesis)
    }

    async fn block_number(&self) -> Result<u32> {
        // The sandbox's current block is still open; the newest sealed one is the one before.
        Ok(self.lock().sandbox.block_number().saturating_sub(1))
    }

    async fn now(&self) -> Result<u64> {
        Ok(self.lock().sandbox.get_timestamp())
    }

    async fn dry_run(&self, origin: AccountId, contract: AccountId, input: &[u8]) -> Result<DryRun> {
        let mut state = self.lock();
        let result = state.sandbox.dry_run(|sandbox| {
            sandbox.call_contract(
                to_runtime(contract),
                0,
                input.to_vec(),
                to_runtime(origin),
                DRY_RUN_LIMIT,
                None,
                Determinism::Enforced,
            )
        });
        let returned = result.result.map_err(|e| Error::DryRun(describe_dispatch_error(&e)))?;
        Ok(DryRun {
            reverted: returned.did_revert(),
            data: returned.data,
            gas_consumed: gas(result.gas_consumed),
            gas_required: gas(result.gas_required),
            storage_deposit: deposit(result.storage_deposit),
        })
    }

    async fn submit(
        &self,
        signer: &Signer,
        contract: AccountId,
        input: Vec<u8>,
        gas_limit: Gas,
        storage_deposit_limit: Option<u128>,
    ) -> Result<Inclusion> {
        let mut state = self.lock();
        let earlier = state.sandbox.events().len();
        let result = state.sandbox.call_contract(
            to_runtime(contract),
            0,
            input,
            to_runtime(signer.account()),
            Weight::from_parts(gas_limit.ref_time, gas_limit.proof_size),
            storage_deposit_limit,
            Determinism::Enforced,
        );
        let events = Self::events_of(result.events, earlier);
        let returned = result.result.map_err(|e| Error::Inclusion(describe_dispatch_error(&e)))?;
        if returned.did_revert() {
            // A reverted call changes nothing; on a node the extrinsic fails with
            // ContractReverted. The caller decodes the typed error from `data`.
            return Ok(Inclusion { block: 0, block_hash: [0; 32], events: Vec::new(), data: Some(returned.data) });
        }
        let (block, block_hash) = self.seal(&mut state, &events)?;
        Ok(Inclusion { block, block_hash, events, data: Some(returned.data) })
    }

    async fn instantiate(
        &self,
        signer: &Signer,
        code: &[u8],
        input: Vec<u8>,
        salt: Vec<u8>,
    ) -> Result<Instantiated> {
        let mut state = self.lock();
        let earlier = state.sandbox.events().len();
        let result = state.sandbox.deploy_contract(
            code.to_vec(),
            0,
            input,
            salt,
            to_runtime(signer.account()),
            DRY_RUN_LIMIT,
            None,
        );
        let events = Self::events_of(result.events, earlier);
        let returned = result.result.map_err(|e| Error::Inclusion(describe_dispatch_error(&e)))?;
        if returned.result.did_revert() {
            return Err(Error::Inclusion(format!(
                "the constructor reverted with output 0x{}",
                hex::encode(&returned.result.data)
            )));
        }
        let (block, _) = self.seal(&mut state, &events)?;
        let code_hash = crate::verify::blake2_256(code);
        Ok(Instantiated { address: to_ink(&returned.account_id), code_hash, block })
    }

    async fn code_hash(&self, address: AccountId) -> Result<Option<Hash>> {
        let mut state = self.lock();
        Ok(state
            .sandbox
            .execute_with(|| pallet_contracts::Pallet::<Runtime>::code_hash(&to_runtime(address)))
            .map(|hash| hash.0))
    }

    async fn events(&self, contract: AccountId, from: u32, to: u32) -> Result<Vec<BlockEvent>> {
        Ok(self
            .lock()
            .journal
            .iter()
            .filter(|e| e.event.contract == contract && (from..=to).contains(&e.block))
            .cloned()
            .collect())
    }

    async fn fund(&self, _faucet: &Signer, account: AccountId, amount: u128) -> Result<()> {
        let mut state = self.lock();
        let account = to_runtime(account);
        if state.sandbox.free_balance(&account) >= amount {
            return Ok(());
        }
        state
            .sandbox
            .mint_into(&account, amount)
            .map(|_| ())
            .map_err(|e| Error::Submission(describe_dispatch_error(&e)))
    }
}

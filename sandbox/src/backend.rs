//! The embedded chain behind the client's [`Backend`] trait: one block per transaction, a
//! deterministic or wall clock, optionally saved to a file after every block so that the
//! state survives the process (the CLI's default chain).

use crate::Sandbox;
use custodia_client::{
    backend::{Backend, BlockEvent, DryRun, Gas, Hash, Inclusion, Instantiated, Instantiation, Measured},
    error::{InclusionError, SubmissionError},
    Error, Result, Signer,
};
use ink::primitives::AccountId;
use ink_sandbox::{Snapshot, H256};
use scale::{Decode, Encode};
use std::{
    io::Write,
    path::{Path, PathBuf},
    sync::Mutex,
};

/// How the embedded chain's clock runs: block `n` has timestamp
/// `genesis_ms + (n - 1) * block_ms`, plus every skip made at or before block `n`
/// ([`SandboxBackend::let_time_pass`]).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct SandboxClock {
    /// Timestamp of block 1 (milliseconds since the Unix epoch).
    pub genesis_ms: u64,
    /// Milliseconds between blocks.
    pub block_ms: u64,
    /// Time let pass on the embedded chain: (first block after the skip, milliseconds).
    pub skips: Vec<(u32, u64)>,
}

impl SandboxClock {
    /// A clock that starts at 2023-11-14 22:13:20 UTC: the same timeline on every run.
    pub const fn deterministic() -> Self {
        Self { genesis_ms: 1_700_000_000_000, block_ms: 6_000, skips: Vec::new() }
    }

    /// A clock that starts now.
    pub fn wall() -> Self {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        Self { genesis_ms: now, block_ms: 6_000, skips: Vec::new() }
    }

    /// The timestamp of block `block`.
    pub fn at(&self, block: u32) -> u64 {
        let skipped: u64 = self.skips.iter().filter(|(from, _)| *from <= block).map(|(_, ms)| ms).sum();
        self.genesis_ms + u64::from(block.saturating_sub(1)) * self.block_ms + skipped
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

/// What the state file held before the clock could skip time (format 1).
#[derive(Decode)]
struct SavedV1 {
    _format: u8,
    genesis: Hash,
    clock: (u64, u64),
    storage: ink_sandbox::RawStorage,
    root: Hash,
    journal: Vec<BlockEvent>,
}

impl From<SavedV1> for Saved {
    fn from(v1: SavedV1) -> Self {
        let (genesis_ms, block_ms) = v1.clock;
        let clock = SandboxClock { genesis_ms, block_ms, skips: Vec::new() };
        Self { format: FORMAT, genesis: v1.genesis, clock, storage: v1.storage, root: v1.root, journal: v1.journal }
    }
}

/// The state file's format: 2 since the clock can skip time (format 1 had no skips).
const FORMAT: u8 = 2;

struct State {
    sandbox: Sandbox,
    genesis: Hash,
    clock: SandboxClock,
}

/// The contracts in the real pallet-contracts runtime, in this process.
pub struct SandboxBackend {
    state: Mutex<State>,
    file: Option<PathBuf>,
    /// The file's modification time when it was last read ([`SandboxBackend::reload`]).
    read_at: Mutex<Option<std::time::SystemTime>>,
}

impl SandboxBackend {
    /// A new chain in memory, with the given clock.
    pub fn new(clock: SandboxClock) -> Self {
        let mut genesis = [0u8; 32];
        getrandom::getrandom(&mut genesis).expect("the OS random source works");
        let mut sandbox = Sandbox::new();
        sandbox.set_time(clock.at(1));
        Self { state: Mutex::new(State { sandbox, genesis, clock }), file: None, read_at: Mutex::new(None) }
    }

    /// The chain saved in `file`, or a new one (with a wall clock) that will be saved there.
    /// The file is rewritten atomically after every block.
    pub fn open(file: &Path) -> Result<Self> {
        if !file.exists() {
            let backend = Self { file: Some(file.to_path_buf()), ..Self::new(SandboxClock::wall()) };
            backend.save(&mut backend.lock())?;
            return Ok(backend);
        }
        let read_at = modified(file);
        Ok(Self { state: Mutex::new(load(file)?), file: Some(file.to_path_buf()), read_at: Mutex::new(read_at) })
    }

    /// Reads the chain's file again if it changed since it was last read: what other
    /// processes sealed since (a reader following the embedded chain, such as the explorer).
    /// Does nothing for a chain in memory.
    pub fn reload(&self) -> Result<()> {
        let Some(file) = &self.file else { return Ok(()) };
        let mut read_at = self.read_at.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = modified(file);
        if now.is_some() && now == *read_at {
            return Ok(());
        }
        *self.lock() = load(file)?;
        *read_at = now;
        Ok(())
    }

    /// Runs `f` on the chain itself (state roots, privacy scans, the clock).
    pub fn with<R>(&self, f: impl FnOnce(&mut Sandbox) -> R) -> R {
        f(&mut self.lock().sandbox)
    }

    /// The chain, for synchronous use (the contract-test harness).
    pub fn into_sandbox(self) -> Sandbox {
        self.state.into_inner().unwrap_or_else(|poisoned| poisoned.into_inner()).sandbox
    }

    /// Every byte the chain holds (see [`Sandbox::all_bytes`]).
    pub fn all_bytes(&self) -> Vec<u8> {
        self.with(Sandbox::all_bytes)
    }

    /// The root of the whole runtime state: equal before and after anything that changed
    /// nothing.
    pub fn state_root(&self) -> Hash {
        self.with(Sandbox::state_root)
    }

    /// The clock the chain runs on.
    pub fn clock(&self) -> SandboxClock {
        self.lock().clock.clone()
    }

    /// Lets `ms` milliseconds pass before the next block (the blocks sealed so far keep their
    /// times): what a story on the embedded chain does to show what happens after a delay,
    /// such as a recovery that falls due after seven days. A node's clock is the world's.
    pub fn let_time_pass(&self, ms: u64) -> Result<()> {
        let mut state = self.lock();
        let next = state.sandbox.block_number();
        state.clock.skips.push((next, ms));
        let time = state.clock.at(next);
        state.sandbox.set_time(time);
        self.save(&mut state)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while the lock was held cannot leave the sandbox half-changed in a way the
        // next call would mind more than losing the whole chain; go on with it.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Closes the current block (the call just made is in it), opens the next at the clock's
    /// time for it, and saves the chain.
    fn seal(&self, state: &mut State) -> Result<(u32, Hash)> {
        let (block, hash) = state.sandbox.seal();
        let time = state.clock.at(block + 1);
        state.sandbox.set_time(time);
        self.save(state)?;
        Ok((block, hash))
    }

    fn save(&self, state: &mut State) -> Result<()> {
        let Some(file) = &self.file else { return Ok(()) };
        let snapshot = state.sandbox.snapshot();
        let saved = Saved {
            format: FORMAT,
            genesis: state.genesis,
            clock: state.clock.clone(),
            storage: snapshot.storage,
            root: snapshot.storage_root.0,
            journal: state.sandbox.journal().to_vec(),
        };
        write_atomically(file, &saved.encode())
    }
}

/// When `file` was last written, if the system says.
fn modified(file: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(file).and_then(|m| m.modified()).ok()
}

/// The chain saved in `file`.
fn load(file: &Path) -> Result<State> {
    let bytes = std::fs::read(file).map_err(|e| Error::io(file, e))?;
    let what = "the embedded chain's state file";
    let saved = match bytes.first() {
        Some(&FORMAT) => Saved::decode(&mut &bytes[..]).map_err(|e| Error::decoding(what, e))?,
        Some(1) => SavedV1::decode(&mut &bytes[..]).map_err(|e| Error::decoding(what, e))?.into(),
        other => return Err(Error::decoding(what, format!("unknown format {other:?}"))),
    };
    let snapshot = Snapshot { storage: saved.storage, storage_root: H256(saved.root) };
    Ok(State { sandbox: Sandbox::restored(snapshot, saved.journal), genesis: saved.genesis, clock: saved.clock })
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

impl Backend for SandboxBackend {
    async fn genesis(&self) -> Result<Hash> {
        Ok(self.lock().genesis)
    }

    async fn block_number(&self) -> Result<u32> {
        // The sandbox's current block is still open; the newest sealed one is the one before.
        Ok(self.with(Sandbox::block_number).saturating_sub(1))
    }

    async fn now(&self) -> Result<u64> {
        // The newest sealed block's time, as `block_number` counts: the open block (where the
        // next call lands) is a block interval later, as on a node, where a query sees the
        // best block's time and the next transaction lands in a later block.
        let mut state = self.lock();
        let block_ms = state.clock.block_ms;
        Ok(state.sandbox.now().saturating_sub(block_ms))
    }

    async fn block_time(&self, block: u32) -> Result<u64> {
        // Every block is sealed at its clock time (`seal`).
        Ok(self.lock().clock.at(block))
    }

    async fn dry_run(&self, origin: AccountId, contract: AccountId, input: &[u8]) -> Result<DryRun> {
        let called = self
            .with(|sandbox| sandbox.dry_run(origin, contract, input.to_vec(), Sandbox::BLOCK_LIMIT))
            .map_err(Error::DryRun)?;
        Ok(DryRun {
            reverted: called.reverted,
            data: called.output,
            gas_consumed: called.gas_consumed,
            gas_required: called.gas_required,
            storage_deposit: called.storage_deposit,
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
        let called = state
            .sandbox
            .call(signer.account(), contract, input, gas_limit, storage_deposit_limit)
            .map_err(|e| Error::Inclusion(InclusionError::Failed(e)))?;
        if called.reverted {
            // A reverted call changes nothing and makes no block; on a node the extrinsic
            // fails with ContractReverted. The caller decodes the typed error from `data`.
            return Ok(Inclusion {
                block: 0,
                block_hash: [0; 32],
                events: Vec::new(),
                data: Some(called.output),
                charged: None,
            });
        }
        let (block, block_hash) = self.seal(&mut state)?;
        Ok(Inclusion { block, block_hash, events: called.events, data: Some(called.output), charged: None })
    }

    /// The in-process runtime runs the call directly (no extrinsic to sign with limits, no
    /// fee): with a block's gas, and a reverted call leaves no trace, so no dry run is needed.
    async fn submit_unestimated(
        &self,
        signer: &Signer,
        contract: AccountId,
        input: &[u8],
    ) -> Result<Option<(Inclusion, Measured)>> {
        let mut state = self.lock();
        let called = state
            .sandbox
            .call(signer.account(), contract, input.to_vec(), Sandbox::BLOCK_LIMIT, None)
            .map_err(|e| Error::Inclusion(InclusionError::Failed(e)))?;
        let measured = Measured {
            gas_limit: Sandbox::BLOCK_LIMIT,
            gas_required: called.gas_required,
            storage_deposit: called.storage_deposit,
        };
        let (block, block_hash) = match called.reverted {
            true => (0, [0; 32]), // changes nothing, makes no block
            false => self.seal(&mut state)?,
        };
        let events = if called.reverted { Vec::new() } else { called.events };
        Ok(Some((Inclusion { block, block_hash, events, data: Some(called.output), charged: None }, measured)))
    }

    async fn instantiator(&self, deployer: &Signer) -> Result<AccountId> {
        Ok(deployer.account())
    }

    /// One block per instantiation, signed by `deployer` (the embedded chain has no council).
    async fn instantiate(
        &self,
        deployer: &Signer,
        _approvers: &[Signer],
        batch: Vec<Instantiation>,
    ) -> Result<Vec<Instantiated>> {
        let mut done = Vec::with_capacity(batch.len());
        for instantiation in batch {
            let code_hash = instantiation.code_hash();
            let Instantiation { code, input, salt } = instantiation;
            let mut state = self.lock();
            let (address, called) = state
                .sandbox
                .instantiate(deployer.account(), code, input, salt, Sandbox::BLOCK_LIMIT)
                .map_err(|e| Error::Inclusion(InclusionError::Failed(e)))?;
            if called.reverted {
                return Err(Error::Inclusion(InclusionError::Failed(custodia_client::error::DispatchFailure {
                    pallet: Some("Contracts".into()),
                    error: "ContractReverted".into(),
                    docs: Some(format!("the constructor reverted with output 0x{}", hex::encode(&called.output))),
                })));
            }
            let (block, _) = self.seal(&mut state)?;
            done.push(Instantiated { address, code_hash, block });
        }
        Ok(done)
    }

    async fn code_hash(&self, address: AccountId) -> Result<Option<Hash>> {
        Ok(self.with(|sandbox| sandbox.code_hash(address)))
    }

    async fn events(&self, contract: AccountId, from: u32, to: u32) -> Result<Vec<BlockEvent>> {
        Ok(self.with(|sandbox| {
            sandbox
                .journal()
                .iter()
                .filter(|e| e.event.contract == contract && (from..=to).contains(&e.block))
                .cloned()
                .collect()
        }))
    }

    async fn fund(&self, _faucet: &Signer, account: AccountId, amount: u128) -> Result<()> {
        self.with(|sandbox| sandbox.fund(account, amount)).map_err(|e| Error::Submission(SubmissionError::Dispatch(e)))
    }
}

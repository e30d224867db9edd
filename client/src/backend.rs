//! Where calls go, behind one trait: a node over JSON-RPC ([`NodeBackend`], here), or the
//! contracts in the real pallet-contracts runtime in process (`custodia-sandbox`, a crate of
//! its own so that integration engines do not link a runtime).
//!
//! A backend knows nothing of the Custodia contracts: it dry-runs and submits raw contract
//! calls, instantiates code, and hands back the events contracts emitted. The typed layer
//! above ([`crate::Client`]) is the same for every backend.

mod node;

pub use node::{BlockLimits, Finality, Motion, NodeBackend, RuntimeCall, Standing, CONSORTIUM_ACCOUNT};
/// The arguments of a [`RuntimeCall`] (subxt's dynamic values).
pub use subxt::dynamic::Value;

use crate::{keys::Signer, Result};
use ink::primitives::AccountId;
use scale::{Decode, DecodeAll, Encode};

/// A 32-byte hash (block hash, code hash, event topic).
pub type Hash = [u8; 32];

/// Gas: computation time (`ref_time`, picoseconds) and proof size (bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Encode, Decode, serde::Serialize)]
pub struct Gas {
    /// Computation time, in picoseconds of reference hardware.
    pub ref_time: u64,
    /// Bytes of state proof a validator would need.
    pub proof_size: u64,
}

impl Gas {
    /// `self` with a safety margin of `percent` added to both dimensions.
    pub fn with_margin(self, percent: u64) -> Gas {
        let grow = |v: u64| v.saturating_add(v.saturating_mul(percent) / 100);
        Gas { ref_time: grow(self.ref_time), proof_size: grow(self.proof_size) }
    }
}

/// An event a contract emitted: its topics and SCALE-encoded payload.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Emitted {
    /// The contract that emitted it.
    pub contract: AccountId,
    /// Topics; the first is the event's signature topic.
    pub topics: Vec<Hash>,
    /// The event's fields, SCALE-encoded.
    pub data: Vec<u8>,
}

impl Emitted {
    /// Decodes the event as `E` if its signature topic is `E`'s. An anonymous `E` (no
    /// signature) is recognised where the event has no topics either and its data decodes
    /// whole (the suite's one anonymous event, `AccessLogged`, has no topics).
    pub fn decode<E: ink::env::Event + Decode>(&self) -> Option<E> {
        match E::SIGNATURE_TOPIC {
            Some(signature) if self.topics.first() == Some(&signature) => E::decode(&mut &self.data[..]).ok(),
            None if self.topics.is_empty() => E::decode_all(&mut &self.data[..]).ok(),
            _ => None,
        }
    }
}

/// What a dry run of a contract call found; nothing of it stays on chain.
#[derive(Clone, Debug)]
pub struct DryRun {
    /// The raw output of the message (ink!'s `MessageResult<R>`, SCALE-encoded).
    pub data: Vec<u8>,
    /// True if the contract reverted.
    pub reverted: bool,
    /// Gas the call used.
    pub gas_consumed: Gas,
    /// Gas the call needs as its limit.
    pub gas_required: Gas,
    /// Storage deposit the call would charge (positive) or refund (negative).
    pub storage_deposit: i128,
}

/// A contract call included in a block.
#[derive(Clone, Debug)]
pub struct Inclusion {
    /// The block that holds it.
    pub block: u32,
    /// That block's hash.
    pub block_hash: Hash,
    /// The events its contracts emitted, in order.
    pub events: Vec<Emitted>,
    /// The message's output, where the backend can see it (the sandbox can; a node reports
    /// only events, so the client keeps the dry run's output).
    pub data: Option<Vec<u8>>,
    /// What the chain charged for it, where it was an extrinsic (a node; the in-process
    /// runtime runs calls directly, without an extrinsic, weight fee or block limits).
    pub charged: Option<Charged>,
}

/// What a call submitted without an estimate used ([`Backend::submit_unestimated`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Measured {
    /// The gas limit it ran with.
    pub gas_limit: Gas,
    /// The gas it needed.
    pub gas_required: Gas,
    /// The storage deposit it charged (negative: refunded).
    pub storage_deposit: i128,
}

/// What a chain charged for an included extrinsic, read from the block's own events.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Charged {
    /// The extrinsic's actual weight (`System::ExtrinsicSuccess`'s dispatch info, after any
    /// refund): for a contract call, the call's base weight plus the gas the contract used.
    pub weight: Gas,
    /// The fee paid, tip included (`TransactionPayment::TransactionFeePaid`).
    pub fee: u128,
    /// Storage deposit held from the signer (positive) or released to it (negative)
    /// (`Contracts::StorageDepositTransferredAndHeld` / `...AndReleased`).
    pub storage_deposit: i128,
    /// The signed extrinsic's length in the block, in bytes.
    pub length: u32,
}

/// A contract to instantiate: its code, its constructor's input and a salt.
#[derive(Clone, Debug)]
pub struct Instantiation {
    /// The contract's Wasm.
    pub code: Vec<u8>,
    /// The constructor's selector and arguments, SCALE-encoded.
    pub input: Vec<u8>,
    /// Makes the address unique among instantiations of the same code and input.
    pub salt: Vec<u8>,
}

impl Instantiation {
    /// The BLAKE2-256 hash of its code.
    pub fn code_hash(&self) -> Hash {
        crate::verify::blake2_256(&self.code)
    }

    /// Where the contract goes when `instantiator` instantiates it: pallet-contracts' default
    /// address, BLAKE2-256 of `"contract_addr_v1"`, the instantiator, the code hash, then the
    /// input and the salt (each length-prefixed, as SCALE encodes byte slices).
    pub fn address(&self, instantiator: &AccountId) -> AccountId {
        let preimage = (b"contract_addr_v1", instantiator, self.code_hash(), &self.input[..], &self.salt[..]).encode();
        AccountId::from(crate::verify::blake2_256(&preimage))
    }
}

/// Where `batch`, instantiated by `instantiator`, is on chain: each contract at its derived
/// address, reported as instantiated in `block`; `Err(address)` names the first address that
/// does not hold its instantiation's code.
pub async fn in_place<B: Backend + ?Sized>(
    backend: &B,
    batch: &[Instantiation],
    instantiator: &AccountId,
    block: u32,
) -> Result<std::result::Result<Vec<Instantiated>, AccountId>> {
    let mut found = Vec::with_capacity(batch.len());
    for instantiation in batch {
        let (address, code_hash) = (instantiation.address(instantiator), instantiation.code_hash());
        if backend.code_hash(address).await? != Some(code_hash) {
            return Ok(Err(address));
        }
        found.push(Instantiated { address, code_hash, block });
    }
    Ok(Ok(found))
}

/// A contract instantiated by [`Backend::instantiate`].
#[derive(Clone, Debug)]
pub struct Instantiated {
    /// Its address.
    pub address: AccountId,
    /// The hash of its code.
    pub code_hash: Hash,
    /// The block that holds the instantiation.
    pub block: u32,
}

/// An event with the block it was emitted in.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct BlockEvent {
    /// Block number.
    pub block: u32,
    /// The event.
    pub event: Emitted,
}

/// What the client needs of a chain. Implemented by [`NodeBackend`] (subxt over JSON-RPC)
/// and by `custodia_sandbox::SandboxBackend` (the contracts in the real pallet-contracts
/// runtime, in process).
#[allow(async_fn_in_trait)]
pub trait Backend {
    /// The chain's identity: its genesis hash.
    async fn genesis(&self) -> Result<Hash>;

    /// The newest block number.
    async fn block_number(&self) -> Result<u32>;

    /// The newest block's timestamp (milliseconds since the Unix epoch).
    async fn now(&self) -> Result<u64>;

    /// The timestamp of block `block` (milliseconds since the Unix epoch).
    async fn block_time(&self, block: u32) -> Result<u64>;

    /// Runs a call against the newest state and throws its effects away.
    async fn dry_run(&self, origin: AccountId, contract: AccountId, input: &[u8]) -> Result<DryRun>;

    /// Signs and submits a call with the given gas limit and storage deposit limit; returns
    /// once it is included (and, on a node, as final as the backend is configured to wait).
    async fn submit(
        &self,
        signer: &Signer,
        contract: AccountId,
        input: Vec<u8>,
        gas_limit: Gas,
        storage_deposit_limit: Option<u128>,
    ) -> Result<Inclusion>;

    /// Signs and submits a call without an estimate, where the backend can: it runs with all
    /// the gas a block allows, a refused call changes nothing (its output is the contract's
    /// error, and no block is made), and what it used is reported ([`Measured`]). One
    /// execution instead of a dry run and an execution. `None`: not here (on a node an
    /// extrinsic's limits are signed before it runs and a failed one is paid for), so the
    /// caller dry-runs first and calls [`Backend::submit`].
    async fn submit_unestimated(
        &self,
        _signer: &Signer,
        _contract: AccountId,
        _input: &[u8],
    ) -> Result<Option<(Inclusion, Measured)>> {
        Ok(None)
    }

    /// Uploads `code` and instantiates it with constructor input `input` and `salt`.
    /// The account `deployer`'s instantiations run as, from which their addresses follow
    /// ([`Instantiation::address`]): `deployer` itself, or where a council governs code (the
    /// consortium runtime), the keyless consortium account ([`CONSORTIUM_ACCOUNT`]).
    async fn instantiator(&self, deployer: &Signer) -> Result<AccountId>;

    /// Instantiates `batch`, in order. Where the chain lets `deployer` instantiate code (the
    /// embedded chain, a development chain), one transaction each, signed by `deployer`. Where a
    /// council governs code, one council motion that `deployer` (a member) proposes and
    /// `approvers` (other members) approve until it is carried and executed; if they are too
    /// few, nothing is instantiated and the error names the open motion
    /// ([`crate::error::CouncilError::NotCarried`]).
    async fn instantiate(
        &self,
        deployer: &Signer,
        approvers: &[Signer],
        batch: Vec<Instantiation>,
    ) -> Result<Vec<Instantiated>>;

    /// The code hash of the contract at `address`, or `None` if no contract is there.
    async fn code_hash(&self, address: AccountId) -> Result<Option<Hash>>;

    /// Events `contract` emitted in blocks `from..=to`.
    async fn events(&self, contract: AccountId, from: u32, to: u32) -> Result<Vec<BlockEvent>>;

    /// Makes sure `account` can pay for transactions and deposits: the sandbox mints, a node
    /// transfers from `faucet`.
    async fn fund(&self, faucet: &Signer, account: AccountId, amount: u128) -> Result<()>;
}

impl<T: Backend> Backend for &T {
    async fn genesis(&self) -> Result<Hash> {
        (**self).genesis().await
    }

    async fn block_number(&self) -> Result<u32> {
        (**self).block_number().await
    }

    async fn now(&self) -> Result<u64> {
        (**self).now().await
    }

    async fn block_time(&self, block: u32) -> Result<u64> {
        (**self).block_time(block).await
    }

    async fn dry_run(&self, origin: AccountId, contract: AccountId, input: &[u8]) -> Result<DryRun> {
        (**self).dry_run(origin, contract, input).await
    }

    async fn submit(
        &self,
        signer: &Signer,
        contract: AccountId,
        input: Vec<u8>,
        gas_limit: Gas,
        storage_deposit_limit: Option<u128>,
    ) -> Result<Inclusion> {
        (**self).submit(signer, contract, input, gas_limit, storage_deposit_limit).await
    }

    async fn submit_unestimated(
        &self,
        signer: &Signer,
        contract: AccountId,
        input: &[u8],
    ) -> Result<Option<(Inclusion, Measured)>> {
        (**self).submit_unestimated(signer, contract, input).await
    }

    async fn instantiator(&self, deployer: &Signer) -> Result<AccountId> {
        (**self).instantiator(deployer).await
    }

    async fn instantiate(
        &self,
        deployer: &Signer,
        approvers: &[Signer],
        batch: Vec<Instantiation>,
    ) -> Result<Vec<Instantiated>> {
        (**self).instantiate(deployer, approvers, batch).await
    }

    async fn code_hash(&self, address: AccountId) -> Result<Option<Hash>> {
        (**self).code_hash(address).await
    }

    async fn events(&self, contract: AccountId, from: u32, to: u32) -> Result<Vec<BlockEvent>> {
        (**self).events(contract, from, to).await
    }

    async fn fund(&self, faucet: &Signer, account: AccountId, amount: u128) -> Result<()> {
        (**self).fund(faucet, account, amount).await
    }
}

//! A node over JSON-RPC, through subxt's legacy RPC backend (which every Substrate node and
//! chopsticks serve). Calls are dry-run through the `ContractsApi` runtime API, submitted as
//! `Contracts::call` extrinsics signed with sr25519, and followed until they are in a block
//! (or finalized); contract events come from `Contracts::ContractEmitted`.

mod council;

pub use council::{Motion, RuntimeCall, Standing, CONSORTIUM_ACCOUNT};

use super::{Backend, BlockEvent, Charged, DryRun, Emitted, Gas, Hash, Inclusion, Instantiated, Instantiation};
use crate::{
    error::{BoxError, CouncilError, DispatchFailure, InclusionError, SubmissionError},
    keys::Signer,
    Error, Result,
};
use ink::primitives::AccountId;
use scale::{Decode, Encode};
use std::sync::Arc;
use subxt::{
    backend::{
        legacy::{rpc_methods::NumberOrHex, LegacyBackend, LegacyRpcMethods},
        rpc::RpcClient,
    },
    dynamic::Value,
    events::Events,
    OnlineClient, PolkadotConfig,
};

/// How long a submission is followed before the client reports success.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Finality {
    /// In a best block (fast; a re-org could still drop it).
    InBlock,
    /// In a finalized block (the default: the outbox forgets an entry only then).
    #[default]
    Finalized,
}

/// A chain node reached over WebSocket JSON-RPC. If the connection drops, the next call
/// reconnects (reads are retried once on the new connection; a submission is not, since it
/// may have reached the chain: the caller finds out, e.g. the access-log outbox resubmits and
/// the chain skips what it already holds).
pub struct NodeBackend {
    url: String,
    finality: Finality,
    connection: std::sync::RwLock<Arc<Connection>>,
}

/// One WebSocket connection and the clients over it.
struct Connection {
    url: String,
    api: OnlineClient<PolkadotConfig>,
    rpc: LegacyRpcMethods<PolkadotConfig>,
}

// The runtime API's answers, as the runtime encodes them (pallet-contracts `ContractResult`).
// The trailing `events` field is left undecoded: its type is the runtime's own event type.
#[derive(Decode)]
struct RemoteWeight {
    #[codec(compact)]
    ref_time: u64,
    #[codec(compact)]
    proof_size: u64,
}

#[derive(Decode)]
enum RemoteDeposit {
    Refund(u128),
    Charge(u128),
}

#[derive(Decode)]
struct RemoteExec {
    flags: u32,
    data: Vec<u8>,
}

#[derive(Decode)]
struct RemoteResult<R> {
    gas_consumed: RemoteWeight,
    gas_required: RemoteWeight,
    storage_deposit: RemoteDeposit,
    _debug_message: Vec<u8>,
    result: Result<R, RemoteDispatchError>,
}

/// `sp_runtime::DispatchError` as the runtime encodes it; a module error is named from the
/// chain's metadata ([`Connection::failure`]).
#[derive(Debug, Decode)]
#[allow(dead_code)] // the inner codes are decoded to be shown (Debug), never matched on
enum RemoteDispatchError {
    Other,
    CannotLookup,
    BadOrigin,
    Module { index: u8, error: [u8; 4] },
    ConsumerRemaining,
    NoProviders,
    TooManyConsumers,
    Token(u8),
    Arithmetic(u8),
    Transactional(u8),
    Exhausted,
    Corruption,
    Unavailable,
    RootNotAllowed,
}

#[derive(Decode)]
struct RemoteInstantiated {
    result: RemoteExec,
    _account: [u8; 32],
}

/// `frame_system::limits::BlockWeights` as the runtime encodes it (its `System::BlockWeights`
/// constant): the block's maximum, then per dispatch class (normal, operational, mandatory).
#[derive(Decode)]
struct RemoteBlockWeights {
    _base_block: RemoteWeight,
    max_block: RemoteWeight,
    normal: RemoteClassWeights,
}

#[derive(Decode)]
struct RemoteClassWeights {
    base_extrinsic: RemoteWeight,
    max_extrinsic: Option<RemoteWeight>,
    max_total: Option<RemoteWeight>,
    _reserved: Option<RemoteWeight>,
}

/// What one block of the chain can hold, from its runtime's own constants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct BlockLimits {
    /// The whole block's weight (`System::BlockWeights.max_block`).
    pub max_block: Gas,
    /// What normal-class extrinsics (every contract call) may use of a block in all
    /// (`per_class.normal.max_total`, or the block's maximum where unlimited).
    pub normal: Gas,
    /// The most one normal extrinsic may weigh (`per_class.normal.max_extrinsic`).
    pub max_extrinsic: Gas,
    /// The weight every extrinsic pays before its call (`per_class.normal.base_extrinsic`).
    pub base_extrinsic: Gas,
    /// The bytes of normal-class extrinsics a block may hold (`System::BlockLength`).
    pub normal_length: u32,
}

#[derive(Encode)]
struct WeightArg {
    #[codec(compact)]
    ref_time: u64,
    #[codec(compact)]
    proof_size: u64,
}

#[derive(Encode)]
enum CodeArg<'a> {
    Upload(&'a [u8]),
}

const REVERT_FLAG: u32 = 1;

/// How long a submission is followed before the client gives up waiting for its block.
const INCLUSION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

impl From<RemoteWeight> for Gas {
    fn from(w: RemoteWeight) -> Gas {
        Gas { ref_time: w.ref_time, proof_size: w.proof_size }
    }
}

impl RemoteDeposit {
    fn signed(&self) -> i128 {
        match self {
            RemoteDeposit::Charge(v) => *v as i128,
            RemoteDeposit::Refund(v) => -(*v as i128),
        }
    }
}

fn weight_value(gas: Gas) -> Value {
    Value::named_composite([
        ("ref_time", Value::u128(gas.ref_time.into())),
        ("proof_size", Value::u128(gas.proof_size.into())),
    ])
}

fn option_value(value: Option<u128>) -> Value {
    match value {
        Some(v) => Value::unnamed_variant("Some", [Value::u128(v)]),
        None => Value::unnamed_variant("None", []),
    }
}

fn address_value(account: AccountId) -> Value {
    Value::unnamed_variant("Id", [Value::from_bytes(account)])
}

impl NodeBackend {
    /// Connects to `url` (`ws://127.0.0.1:9944`), waiting for inclusion as `finality` says.
    pub async fn connect(url: &str, finality: Finality) -> Result<Self> {
        let connection = Connection::open(url).await?;
        Ok(Self { url: url.to_string(), finality, connection: std::sync::RwLock::new(Arc::new(connection)) })
    }

    /// What one block can hold, from the runtime's `System::BlockWeights` and
    /// `System::BlockLength` constants.
    pub fn block_limits(&self) -> Result<BlockLimits> {
        let metadata = self.connection().api.metadata();
        let constant = |name: &str| {
            metadata
                .pallet_by_name("System")
                .and_then(|p| p.constant_by_name(name))
                .map(|c| c.value().to_vec())
                .ok_or_else(|| Error::decoding("the runtime's constants", format!("no System::{name}")))
        };
        let weights = RemoteBlockWeights::decode(&mut &constant("BlockWeights")?[..])
            .map_err(|e| Error::decoding("System::BlockWeights", e))?;
        // BlockLength: the maximum per class, normal first.
        let length = <(u32, u32, u32)>::decode(&mut &constant("BlockLength")?[..])
            .map_err(|e| Error::decoding("System::BlockLength", e))?;
        let max_block = Gas::from(weights.max_block);
        Ok(BlockLimits {
            max_block,
            normal: weights.normal.max_total.map(Gas::from).unwrap_or(max_block),
            max_extrinsic: weights.normal.max_extrinsic.map(Gas::from).unwrap_or(max_block),
            base_extrinsic: weights.normal.base_extrinsic.into(),
            normal_length: length.0,
        })
    }

    /// Signs and submits a call of any pallet (`System::remark_with_event`), and waits for
    /// inclusion as configured; returns what the chain charged for it.
    pub async fn submit_runtime_call(&self, signer: &Signer, call: &RuntimeCall) -> Result<Charged> {
        let tx = call.payload();
        self.write(async |c| Ok(c.submit_tx(signer, &tx, self.finality).await?.1)).await
    }

    /// The raw SCALE value of a runtime storage entry (`NodeAuthorization::WellKnownNodes`,
    /// `System::Account` of an account), at the newest block; `None` where it is unset.
    pub async fn storage(&self, pallet: &str, entry: &str, keys: Vec<Value>) -> Result<Option<Vec<u8>>> {
        let key = subxt::dynamic::storage(pallet, entry, keys);
        self.read(async |c| c.storage_raw(&key).await).await
    }

    /// An account's free balance at the newest block (zero for an account the chain does not
    /// know).
    pub async fn free_balance(&self, account: AccountId) -> Result<u128> {
        Ok(self.read(async |c| c.account(account, None).await).await?.1)
    }

    /// Instantiates one contract as `signer`, in a transaction of its own: what a runtime that
    /// lets signed accounts instantiate code accepts (the consortium runtime refuses it:
    /// only its council instantiates).
    pub async fn instantiate_as(&self, signer: &Signer, instantiation: &Instantiation) -> Result<Instantiated> {
        let tx = self.instantiation_call(signer.account(), instantiation).await?.payload();
        self.write(async |c| {
            let (block_hash, _, details) = c.submit_tx(signer, &tx, self.finality).await?;
            let address = details
                .iter()
                .filter(|e| e.pallet_name() == "Contracts" && e.variant_name() == "Instantiated")
                .find_map(|e| <([u8; 32], [u8; 32])>::decode(&mut e.field_bytes()).ok())
                .map(|(_deployer, contract)| AccountId::from(contract))
                .ok_or_else(|| {
                    Error::Inclusion(InclusionError::Unexpected("no Contracts::Instantiated event".into()))
                })?;
            Ok(Instantiated { address, code_hash: instantiation.code_hash(), block: c.number_of(block_hash).await? })
        })
        .await
    }

    /// `Contracts::instantiate_with_code` of `instantiation` as `origin` would run it, with the
    /// gas and deposit limits its dry run measured (plus 10 %).
    async fn instantiation_call(&self, origin: AccountId, instantiation: &Instantiation) -> Result<RuntimeCall> {
        let (gas, deposit) = self.dry_instantiate(origin, instantiation).await?;
        let Instantiation { code, input, salt } = instantiation;
        Ok(RuntimeCall::new(
            "Contracts",
            "instantiate_with_code",
            vec![
                Value::u128(0),
                weight_value(gas),
                option_value(deposit),
                Value::from_bytes(code),
                Value::from_bytes(input),
                Value::from_bytes(salt),
            ],
        ))
    }

    /// Dry-runs `instantiation` as `origin`: the gas limit (10 % over what it needs) and the
    /// deposit limit (10 % over its charge; none where it refunds) to submit it with.
    async fn dry_instantiate(&self, origin: AccountId, instantiation: &Instantiation) -> Result<(Gas, Option<u128>)> {
        let Instantiation { code, input, salt } = instantiation;
        let args = (origin, 0u128, None::<WeightArg>, None::<u128>, CodeArg::Upload(code), input, salt).encode();
        let answer: RemoteResult<RemoteInstantiated> =
            self.read(async |c| c.state_call("ContractsApi_instantiate", &args).await).await?;
        let instantiated = answer.result.map_err(|e| Error::DryRun(self.connection().failure(&e)))?;
        if instantiated.result.flags & REVERT_FLAG != 0 {
            return Err(Error::DryRun(constructor_reverted(&instantiated.result.data)));
        }
        let deposit = match answer.storage_deposit {
            RemoteDeposit::Charge(v) => Some(v + v / 10 + 1),
            RemoteDeposit::Refund(_) => None,
        };
        Ok((Gas::from(answer.gas_required).with_margin(10), deposit))
    }

    fn connection(&self) -> Arc<Connection> {
        self.connection.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    async fn reconnect(&self) -> Result<Arc<Connection>> {
        let fresh = Arc::new(Connection::open(&self.url).await?);
        *self.connection.write().unwrap_or_else(|p| p.into_inner()) = fresh.clone();
        Ok(fresh)
    }

    /// Runs a read; if the connection was lost, reconnects and runs it once more.
    async fn read<T>(&self, op: impl AsyncFn(&Connection) -> Result<T>) -> Result<T> {
        match op(&self.connection()).await {
            Err(e) if e.is_disconnected() => op(&*self.reconnect().await?).await,
            other => other,
        }
    }

    /// Runs a submission on the current connection; if the connection was lost, reconnects
    /// for the calls that follow but does not submit again (the transaction may be on chain:
    /// the error says whether it was sent).
    async fn write<T>(&self, op: impl AsyncFn(&Connection) -> Result<T>) -> Result<T> {
        let result = op(&self.connection()).await;
        if let Err(e) = &result {
            if e.is_disconnected() || matches!(e, Error::Inclusion(InclusionError::ConnectionLost(_))) {
                self.reconnect().await.ok();
            }
        }
        result
    }
}

/// Whether a subxt error means the connection is gone (subxt reports a dropped WebSocket as
/// an RPC client error whose text says so; there is no variant of its own for it).
fn is_disconnect(error: &subxt::Error) -> bool {
    let message = error.to_string().to_ascii_lowercase();
    ["restart", "closed", "disconnect", "connection", "background task", "stream"]
        .iter()
        .any(|needle| message.contains(needle))
}

/// Whether the pool refused a transaction for its nonce: `1010 Invalid Transaction` with
/// `Stale` (a block holds the nonce already), as nodes and chopsticks report it, or `1014
/// Priority is too low` (a transaction of the account with that nonce waits in the pool: one
/// sent before a lost connection, say; a node with real block times reports this where
/// chopsticks, which makes a block at once, never does).
fn is_stale(error: &subxt::Error) -> bool {
    let message = error.to_string().to_ascii_lowercase();
    message.contains("stale") || message.contains("outdated") || message.contains("priority is too low")
}

/// The error of a constructor that reverted, with its output.
fn constructor_reverted(output: &[u8]) -> DispatchFailure {
    DispatchFailure {
        pallet: Some("Contracts".into()),
        error: "ContractReverted".into(),
        docs: Some(format!("the constructor reverted with output 0x{}", hex::encode(output))),
    }
}

impl Connection {
    async fn open(url: &str) -> Result<Self> {
        let unreachable = |e: BoxError| Error::Connection { endpoint: url.to_string(), source: e };
        let client = RpcClient::from_insecure_url(url).await.map_err(|e| unreachable(e.into()))?;
        let backend = LegacyBackend::builder().build(client.clone());
        let api =
            OnlineClient::<PolkadotConfig>::from_backend(Arc::new(backend)).await.map_err(|e| unreachable(e.into()))?;
        if api.metadata().pallet_by_name("Contracts").is_none() {
            return Err(unreachable("the chain has no pallet-contracts".into()));
        }
        Ok(Self { url: url.to_string(), api, rpc: LegacyRpcMethods::new(client) })
    }

    /// The error for a failed RPC call: the connection is gone.
    fn lost(&self, error: impl Into<BoxError>) -> Error {
        Error::Connection { endpoint: self.url.clone(), source: error.into() }
    }

    /// A dispatch error, named and explained from the chain's metadata.
    fn failure(&self, error: &RemoteDispatchError) -> DispatchFailure {
        if let RemoteDispatchError::Module { index, error } = error {
            let metadata = self.api.metadata();
            let pallet = metadata.pallet_by_index(*index);
            let variant = pallet.as_ref().and_then(|p| p.error_variant_by_index(error[0]));
            return DispatchFailure {
                pallet: Some(pallet.map(|p| p.name().to_string()).unwrap_or_else(|| format!("pallet {index}"))),
                error: variant.map(|v| v.name.clone()).unwrap_or_else(|| format!("error {}", error[0])),
                docs: variant.map(|v| v.docs.join(" ").trim().to_string()).filter(|d| !d.is_empty()),
            };
        }
        DispatchFailure { pallet: None, error: format!("{error:?}"), docs: None }
    }

    async fn state_call<R: Decode>(&self, function: &str, args: &[u8]) -> Result<R> {
        let bytes = self.rpc.state_call(function, Some(args), None).await.map_err(|e| self.lost(e))?;
        R::decode(&mut &bytes[..]).map_err(|e| Error::decoding("a ContractsApi answer", e))
    }

    async fn storage_raw(&self, address: &impl subxt::storage::Address) -> Result<Option<Vec<u8>>> {
        self.storage_raw_at(address, None).await
    }

    /// A storage value at block `at` (the newest block if `None`).
    async fn storage_raw_at(
        &self,
        address: &impl subxt::storage::Address,
        at: Option<subxt::utils::H256>,
    ) -> Result<Option<Vec<u8>>> {
        let key = self.api.storage().address_bytes(address).map_err(|e| Error::decoding("a storage key", e))?;
        let storage = match at {
            Some(hash) => self.api.storage().at(hash),
            None => self.api.storage().at_latest().await.map_err(|e| self.lost(e))?,
        };
        storage.fetch_raw(key).await.map_err(|e| self.lost(e))
    }

    /// Signs and submits `tx`, then follows new (or finalized) blocks until one holds it, and
    /// returns that block's hash and the transaction's events. (Submitting without a watch and
    /// following blocks works the same on every node; chopsticks' transaction-watch
    /// notifications are not in the shape subxt's legacy backend expects.)
    async fn submit_tx(
        &self,
        signer: &Signer,
        tx: &impl subxt::tx::Payload,
        finality: Finality,
    ) -> Result<(Hash, Charged, Vec<subxt::events::EventDetails<PolkadotConfig>>)> {
        // The nonce from finalized state, not the pool's guess (chopsticks' can be stale
        // between submission and inclusion); the client waits for each transaction of an
        // account before sending the next.
        let account = signer.account();
        let nonce = self.nonce(account, None).await?;
        let params = subxt::config::DefaultExtrinsicParamsBuilder::<PolkadotConfig>::new().nonce(nonce.into()).build();
        let signed = self
            .api
            .tx()
            .create_signed(tx, signer.keypair(), params)
            .await
            .map_err(|e| Error::Submission(SubmissionError::Signing(e.into())))?;
        let hash = signed.hash();
        let blocks = match finality {
            Finality::InBlock => self.api.blocks().subscribe_best().await,
            Finality::Finalized => self.api.blocks().subscribe_finalized().await,
        };
        let mut blocks = blocks.map_err(|e| self.lost(e))?;
        signed.submit().await.map_err(|e| {
            if is_disconnect(&e) {
                self.lost(e)
            } else if is_stale(&e) {
                Error::Submission(SubmissionError::StaleNonce { nonce })
            } else {
                Error::Submission(SubmissionError::Refused(e.into()))
            }
        })?;
        // From here on the transaction may be on chain: a lost connection makes the outcome
        // unknown, not a failure.
        let unknown = |e: BoxError| Error::Inclusion(InclusionError::ConnectionLost(e));
        let deadline = tokio::time::Instant::now() + INCLUSION_TIMEOUT;
        loop {
            let next = tokio::time::timeout_at(deadline, blocks.next())
                .await
                .map_err(|_| Error::Inclusion(InclusionError::Timeout { seconds: INCLUSION_TIMEOUT.as_secs() }))?;
            let block = next
                .ok_or_else(|| unknown("the node stopped sending blocks".into()))?
                .map_err(|e| unknown(e.into()))?;
            let extrinsics = block.extrinsics().await.map_err(|e| unknown(e.into()))?;
            let Some(ours) = extrinsics.iter().find(|e| e.hash() == hash) else {
                // Another transaction of the account took the nonce: this one will never land.
                if self.nonce(account, Some(block.hash())).await? > nonce {
                    return Err(Error::Inclusion(InclusionError::Dropped { nonce }));
                }
                continue;
            };
            let events = ours.events().await.map_err(|e| unknown(e.into()))?;
            let details =
                events.iter().collect::<Result<Vec<_>, _>>().map_err(|e| Error::decoding("block events", e))?;
            if let Some(failed) =
                details.iter().find(|e| e.pallet_name() == "System" && e.variant_name() == "ExtrinsicFailed")
            {
                let error = RemoteDispatchError::decode(&mut failed.field_bytes())
                    .map_err(|e| Error::decoding("an ExtrinsicFailed event", e))?;
                return Err(Error::Inclusion(InclusionError::Failed(self.failure(&error))));
            }
            let charged = charged(&details, account, ours.bytes().len())?;
            return Ok((block.hash().0, charged, details));
        }
    }

    /// The account's nonce in the state of block `at` (the newest if `None`).
    async fn nonce(&self, account: AccountId, at: Option<subxt::utils::H256>) -> Result<u32> {
        Ok(self.account(account, at).await?.0)
    }

    /// The account's nonce and free balance in the state of block `at` (the newest if
    /// `None`); zeros for an account the chain does not know.
    async fn account(&self, account: AccountId, at: Option<subxt::utils::H256>) -> Result<(u32, u128)> {
        let key = subxt::dynamic::storage("System", "Account", vec![Value::from_bytes(account)]);
        let raw = self.storage_raw_at(&key, at).await?;
        // AccountInfo: nonce, consumers, providers, sufficients, then data.free.
        Ok(raw
            .and_then(|r| <(u32, u32, u32, u32, u128)>::decode(&mut &r[..]).ok())
            .map(|a| (a.0, a.4))
            .unwrap_or((0, 0)))
    }

    async fn number_of(&self, hash: Hash) -> Result<u32> {
        let header =
            self.rpc.chain_get_header(Some(subxt::utils::H256(hash))).await.map_err(|e| self.lost(e))?.ok_or_else(
                || Error::Inclusion(InclusionError::Unexpected("the node forgot the block it reported".into())),
            )?;
        Ok(header.number)
    }
}

/// What the chain charged `payer` for the extrinsic whose events are `events` (stable2409's
/// layouts: `ExtrinsicSuccess { dispatch_info: { weight, class, pays_fee } }`,
/// `TransactionFeePaid { who, actual_fee, tip }`, the deposit events `{ from, to, amount }`).
fn charged(events: &[subxt::events::EventDetails<PolkadotConfig>], payer: AccountId, length: usize) -> Result<Charged> {
    let payer: [u8; 32] = *payer.as_ref();
    let mut charged = Charged { length: u32::try_from(length).unwrap_or(u32::MAX), ..Charged::default() };
    let bad = |what: &'static str| move |e: scale::Error| Error::decoding(what, e);
    for event in events {
        let mut fields = event.field_bytes();
        match (event.pallet_name(), event.variant_name()) {
            ("System", "ExtrinsicSuccess") => {
                charged.weight = RemoteWeight::decode(&mut fields).map_err(bad("an ExtrinsicSuccess event"))?.into();
            }
            ("TransactionPayment", "TransactionFeePaid") => {
                let (_who, fee, tip) =
                    <([u8; 32], u128, u128)>::decode(&mut fields).map_err(bad("a TransactionFeePaid event"))?;
                charged.fee = fee + tip;
            }
            ("Contracts", "StorageDepositTransferredAndHeld") => {
                let (from, _to, amount) = <([u8; 32], [u8; 32], u128)>::decode(&mut fields)
                    .map_err(bad("a StorageDepositTransferredAndHeld event"))?;
                if from == payer {
                    charged.storage_deposit += amount as i128;
                }
            }
            ("Contracts", "StorageDepositTransferredAndReleased") => {
                let (_from, to, amount) = <([u8; 32], [u8; 32], u128)>::decode(&mut fields)
                    .map_err(bad("a StorageDepositTransferredAndReleased event"))?;
                if to == payer {
                    charged.storage_deposit -= amount as i128;
                }
            }
            _ => {}
        }
    }
    Ok(charged)
}

fn emitted(event: &subxt::events::EventDetails<PolkadotConfig>) -> Option<Emitted> {
    if event.pallet_name() != "Contracts" || event.variant_name() != "ContractEmitted" {
        return None;
    }
    let (contract, data) = <([u8; 32], Vec<u8>)>::decode(&mut event.field_bytes()).ok()?;
    Some(Emitted { contract: AccountId::from(contract), topics: event.topics().iter().map(|t| t.0).collect(), data })
}

fn emitted_in(events: &Events<PolkadotConfig>) -> Result<Vec<Emitted>> {
    let mut out = Vec::new();
    for event in events.iter() {
        let event = event.map_err(|e| Error::decoding("block events", e))?;
        out.extend(emitted(&event));
    }
    Ok(out)
}

impl Backend for NodeBackend {
    async fn genesis(&self) -> Result<Hash> {
        self.read(async |c| Ok(c.rpc.genesis_hash().await.map_err(|e| c.lost(e))?.0)).await
    }

    /// The newest *finalized* block: what indexes read up to, so that a re-org can never
    /// leave an orphaned event in them.
    async fn block_number(&self) -> Result<u32> {
        self.read(async |c| {
            let hash = c.rpc.chain_get_finalized_head().await.map_err(|e| c.lost(e))?;
            c.number_of(hash.0).await
        })
        .await
    }

    async fn now(&self) -> Result<u64> {
        self.read(async |c| {
            let address = subxt::dynamic::storage("Timestamp", "Now", ());
            let raw = c.storage_raw(&address).await?.unwrap_or_default();
            u64::decode(&mut &raw[..]).map_err(|e| Error::decoding("Timestamp::Now", e))
        })
        .await
    }

    async fn block_time(&self, block: u32) -> Result<u64> {
        self.read(async |c| {
            let number = Some(NumberOrHex::Number(block.into()));
            let Some(hash) = c.rpc.chain_get_block_hash(number).await.map_err(|e| c.lost(e))? else {
                return Err(c.lost(format!("the node does not know block {block}")));
            };
            let address = subxt::dynamic::storage("Timestamp", "Now", ());
            let raw = c.storage_raw_at(&address, Some(hash)).await?.unwrap_or_default();
            u64::decode(&mut &raw[..]).map_err(|e| Error::decoding("Timestamp::Now", e))
        })
        .await
    }

    async fn dry_run(&self, origin: AccountId, contract: AccountId, input: &[u8]) -> Result<DryRun> {
        let args = (origin, contract, 0u128, None::<WeightArg>, None::<u128>, input).encode();
        self.read(async |c| {
            let answer: RemoteResult<RemoteExec> = c.state_call("ContractsApi_call", &args).await?;
            let returned = answer.result.map_err(|e| Error::DryRun(c.failure(&e)))?;
            Ok(DryRun {
                reverted: returned.flags & REVERT_FLAG != 0,
                data: returned.data,
                gas_consumed: answer.gas_consumed.into(),
                gas_required: answer.gas_required.into(),
                storage_deposit: answer.storage_deposit.signed(),
            })
        })
        .await
    }

    async fn submit(
        &self,
        signer: &Signer,
        contract: AccountId,
        input: Vec<u8>,
        gas_limit: Gas,
        storage_deposit_limit: Option<u128>,
    ) -> Result<Inclusion> {
        let tx = subxt::dynamic::tx(
            "Contracts",
            "call",
            vec![
                address_value(contract),
                Value::u128(0),
                weight_value(gas_limit),
                option_value(storage_deposit_limit),
                Value::from_bytes(input),
            ],
        );
        self.write(async |c| {
            let (block_hash, charged, details) = c.submit_tx(signer, &tx, self.finality).await?;
            let events = details.iter().filter_map(emitted).collect();
            Ok(Inclusion {
                block: c.number_of(block_hash).await?,
                block_hash,
                events,
                data: None,
                charged: Some(charged),
            })
        })
        .await
    }

    async fn instantiator(&self, deployer: &Signer) -> Result<AccountId> {
        Ok(if self.has_council() { AccountId::from(CONSORTIUM_ACCOUNT) } else { deployer.account() })
    }

    async fn instantiate(
        &self,
        deployer: &Signer,
        approvers: &[Signer],
        batch: Vec<Instantiation>,
    ) -> Result<Vec<Instantiated>> {
        if !self.has_council() {
            let mut done = Vec::with_capacity(batch.len());
            for instantiation in &batch {
                done.push(self.instantiate_as(deployer, instantiation).await?);
            }
            return Ok(done);
        }
        let consortium = AccountId::from(CONSORTIUM_ACCOUNT);
        let mut calls = Vec::with_capacity(batch.len());
        for instantiation in &batch {
            calls.push(self.instantiation_call(consortium, instantiation).await?);
        }
        let (motion, mut standing) = self.propose_motion(deployer, RuntimeCall::all_of(calls)).await?;
        for approver in approvers {
            if let Standing::Open { .. } = standing {
                standing = self.approve_motion(approver, &motion).await?;
            }
        }
        let block = match standing {
            Standing::Enacted { block } => block,
            Standing::Open { ayes, threshold } => {
                return Err(Error::Council(CouncilError::NotCarried { motion: motion.hash, ayes, threshold }))
            }
        };
        super::in_place(self, &batch, &consortium, block).await?.map_err(|address| {
            Error::Inclusion(InclusionError::Unexpected(format!(
                "the council's motion was executed but no contract of the expected code is at {}",
                crate::keys::ss58(&address)
            )))
        })
    }

    async fn code_hash(&self, address: AccountId) -> Result<Option<Hash>> {
        self.read(async |c| {
            let key = subxt::dynamic::storage("Contracts", "ContractInfoOf", vec![Value::from_bytes(address)]);
            let Some(raw) = c.storage_raw(&key).await? else { return Ok(None) };
            // ContractInfo starts with the trie id, then the code hash.
            let (_trie_id, code_hash) = <(Vec<u8>, [u8; 32])>::decode(&mut &raw[..])
                .map_err(|e| Error::decoding("Contracts::ContractInfoOf", e))?;
            Ok(Some(code_hash))
        })
        .await
    }

    async fn events(&self, contract: AccountId, from: u32, to: u32) -> Result<Vec<BlockEvent>> {
        self.read(async |c| {
            let mut out = Vec::new();
            for block in from..=to {
                let number = Some(NumberOrHex::Number(block.into()));
                let Some(hash) = c.rpc.chain_get_block_hash(number).await.map_err(|e| c.lost(e))? else {
                    return Err(c.lost(format!(
                        "the node does not know block {block} (a pruned node? indexes need an archive node)"
                    )));
                };
                let events = c.api.events().at(hash).await.map_err(|e| c.lost(e))?;
                out.extend(
                    emitted_in(&events)?
                        .into_iter()
                        .filter(|e| e.contract == contract)
                        .map(|event| BlockEvent { block, event }),
                );
            }
            Ok(out)
        })
        .await
    }

    async fn fund(&self, faucet: &Signer, account: AccountId, amount: u128) -> Result<()> {
        let (_, free) = self.read(async |c| c.account(account, None).await).await?;
        if free >= amount {
            return Ok(());
        }
        let tx = subxt::dynamic::tx(
            "Balances",
            "transfer_keep_alive",
            vec![address_value(account), Value::u128(amount - free)],
        );
        self.write(async |c| c.submit_tx(faucet, &tx, self.finality).await.map(|_| ())).await
    }
}

#[cfg(test)]
mod tests {
    use super::is_stale;

    #[test]
    fn a_nonce_held_by_a_block_or_by_the_pool_is_taken_and_other_refusals_are_not() {
        let refusal = |text: &str| subxt::Error::Other(text.into());
        assert!(is_stale(&refusal("1010: Invalid Transaction: Transaction is outdated")));
        assert!(is_stale(&refusal("Invalid Transaction: Stale")));
        // What a node's pool answers while the cut-off transaction is still waiting in it.
        assert!(is_stale(&refusal(
            "RPC error: ErrorObject { code: ServerError(1014), message: \"Priority is too low: (232 vs 232)\" }"
        )));
        assert!(!is_stale(&refusal("1010: Invalid Transaction: Inability to pay some fees")));
        assert!(!is_stale(&refusal("1010: {\"invalid\":{\"custom\":1}}")));
    }
}

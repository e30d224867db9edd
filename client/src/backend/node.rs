//! A node over JSON-RPC, through subxt's legacy RPC backend (which every Substrate node and
//! chopsticks serve). Calls are dry-run through the `ContractsApi` runtime API, submitted as
//! `Contracts::call` extrinsics signed with sr25519, and followed until they are in a block
//! (or finalized); contract events come from `Contracts::ContractEmitted`.

use super::{Backend, BlockEvent, DryRun, Emitted, Gas, Hash, Inclusion, Instantiated};
use crate::{keys::Signer, Error, Result};
use ink::primitives::AccountId;
use ink_sandbox::frame_support::sp_runtime::DispatchError;
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
    api: OnlineClient<PolkadotConfig>,
    rpc: LegacyRpcMethods<PolkadotConfig>,
}

fn connection(error: impl std::fmt::Display) -> Error {
    Error::Connection(error.to_string())
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
    result: Result<R, DispatchError>,
}

#[derive(Decode)]
struct RemoteInstantiated {
    result: RemoteExec,
    _account: [u8; 32],
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
            Err(Error::Connection(_)) => op(&*self.reconnect().await?).await,
            other => other,
        }
    }

    /// Runs a submission on the current connection; if it fails for want of a connection,
    /// reconnects for the calls that follow but does not submit again.
    async fn write<T>(&self, op: impl AsyncFn(&Connection) -> Result<T>) -> Result<T> {
        let result = op(&self.connection()).await;
        if let Err(Error::Submission(m) | Error::Inclusion(m) | Error::Connection(m)) = &result {
            if is_disconnect(m) {
                self.reconnect().await.ok();
                return Err(Error::Inclusion(format!(
                    "the connection was lost before inclusion was confirmed ({m}); the transaction may or may not be on chain"
                )));
            }
        }
        result
    }
}

fn is_disconnect(message: &str) -> bool {
    ["restart", "closed", "disconnect", "connection", "background task", "stream"]
        .iter()
        .any(|needle| message.to_ascii_lowercase().contains(needle))
}

impl Connection {
    async fn open(url: &str) -> Result<Self> {
        let client = RpcClient::from_insecure_url(url)
            .await
            .map_err(|e| Error::Connection(format!("{url}: {e}")))?;
        let backend = LegacyBackend::builder().build(client.clone());
        let api = OnlineClient::<PolkadotConfig>::from_backend(Arc::new(backend))
            .await
            .map_err(|e| Error::Connection(format!("{url}: {e}")))?;
        if api.metadata().pallet_by_name("Contracts").is_none() {
            return Err(Error::Connection(format!("{url} runs a chain without pallet-contracts")));
        }
        Ok(Self { api, rpc: LegacyRpcMethods::new(client) })
    }

    /// `pallet error Contracts::ContractTrapped: <docs>` for a module error, from the metadata.
    fn describe(&self, error: &DispatchError) -> String {
        if let DispatchError::Module(module) = error {
            let metadata = self.api.metadata();
            if let Some(pallet) = metadata.pallet_by_index(module.index) {
                if let Some(variant) = pallet.error_variant_by_index(module.error[0]) {
                    let docs = variant.docs.join(" ");
                    return format!("pallet error {}::{} ({})", pallet.name(), variant.name, docs.trim());
                }
            }
        }
        super::sandbox::describe_dispatch_error(error)
    }

    async fn state_call<R: Decode>(&self, function: &str, args: &[u8]) -> Result<R> {
        let bytes = self.rpc.state_call(function, Some(args), None).await.map_err(connection)?;
        R::decode(&mut &bytes[..]).map_err(|e| Error::decoding("a ContractsApi answer", e))
    }

    async fn storage_raw(&self, address: &impl subxt::storage::Address) -> Result<Option<Vec<u8>>> {
        let key = self.api.storage().address_bytes(address).map_err(|e| Error::decoding("a storage key", e))?;
        let at = self.api.storage().at_latest().await.map_err(connection)?;
        at.fetch_raw(key).await.map_err(connection)
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
    ) -> Result<(Hash, Vec<subxt::events::EventDetails<PolkadotConfig>>)> {
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
            .map_err(|e| Error::Submission(e.to_string()))?;
        let hash = signed.hash();
        let blocks = match finality {
            Finality::InBlock => self.api.blocks().subscribe_best().await,
            Finality::Finalized => self.api.blocks().subscribe_finalized().await,
        };
        let mut blocks = blocks.map_err(connection)?;
        signed.submit().await.map_err(|e| Error::Submission(e.to_string()))?;
        let deadline = tokio::time::Instant::now() + INCLUSION_TIMEOUT;
        loop {
            let next = tokio::time::timeout_at(deadline, blocks.next()).await.map_err(|_| {
                Error::Inclusion(format!("not in a block after {} s", INCLUSION_TIMEOUT.as_secs()))
            })?;
            let block = next
                .ok_or_else(|| Error::Inclusion("the node stopped sending blocks (connection lost?)".into()))?
                .map_err(|e| Error::Inclusion(format!("connection lost while waiting for blocks: {e}")))?;
            let extrinsics = block.extrinsics().await.map_err(connection)?;
            let Some(ours) = extrinsics.iter().find(|e| e.hash() == hash) else {
                // Another transaction of the account took the nonce: this one will never land.
                if self.nonce(account, Some(block.hash())).await? > nonce {
                    return Err(Error::Submission(format!(
                        "dropped: another transaction of {} took nonce {nonce} first (an earlier submission that was cut off?); retry",
                        crate::keys::ss58(&account)
                    )));
                }
                continue;
            };
            let events = ours.events().await.map_err(connection)?;
            let details = events.iter().collect::<Result<Vec<_>, _>>().map_err(|e| Error::decoding("block events", e))?;
            if let Some(failed) = details.iter().find(|e| e.pallet_name() == "System" && e.variant_name() == "ExtrinsicFailed") {
                let error = subxt::error::DispatchError::decode_from(failed.field_bytes(), self.api.metadata())
                    .map(|e| e.to_string())
                    .unwrap_or_else(|e| format!("(undecodable: {e})"));
                return Err(Error::Inclusion(format!("the transaction failed on chain: {error}")));
            }
            return Ok((block.hash().0, details));
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
        let key = self.api.storage().address_bytes(&key).map_err(|e| Error::decoding("a storage key", e))?;
        let storage = match at {
            Some(hash) => self.api.storage().at(hash),
            None => self.api.storage().at_latest().await.map_err(connection)?,
        };
        let raw = storage.fetch_raw(key).await.map_err(connection)?;
        // AccountInfo: nonce, consumers, providers, sufficients, then data.free.
        Ok(raw.and_then(|r| <(u32, u32, u32, u32, u128)>::decode(&mut &r[..]).ok()).map(|a| (a.0, a.4)).unwrap_or((0, 0)))
    }

    async fn number_of(&self, hash: Hash) -> Result<u32> {
        let header = self
            .rpc
            .chain_get_header(Some(subxt::utils::H256(hash)))
            .await
            .map_err(connection)?
            .ok_or_else(|| Error::Inclusion("the node forgot the block it reported".into()))?;
        Ok(header.number)
    }
}


fn emitted(event: &subxt::events::EventDetails<PolkadotConfig>) -> Option<Emitted> {
    if event.pallet_name() != "Contracts" || event.variant_name() != "ContractEmitted" {
        return None;
    }
    let (contract, data) = <([u8; 32], Vec<u8>)>::decode(&mut event.field_bytes()).ok()?;
    Some(Emitted {
        contract: AccountId::from(contract),
        topics: event.topics().iter().map(|t| t.0).collect(),
        data,
    })
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
        self.read(async |c| Ok(c.rpc.genesis_hash().await.map_err(connection)?.0)).await
    }

    /// The newest *finalized* block: what indexes read up to, so that a re-org can never
    /// leave an orphaned event in them.
    async fn block_number(&self) -> Result<u32> {
        self.read(async |c| {
            let hash = c.rpc.chain_get_finalized_head().await.map_err(connection)?;
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

    async fn dry_run(&self, origin: AccountId, contract: AccountId, input: &[u8]) -> Result<DryRun> {
        let args = (origin, contract, 0u128, None::<WeightArg>, None::<u128>, input).encode();
        self.read(async |c| {
            let answer: RemoteResult<RemoteExec> = c.state_call("ContractsApi_call", &args).await?;
            let returned = answer.result.map_err(|e| Error::DryRun(c.describe(&e)))?;
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
            let (block_hash, details) = c.submit_tx(signer, &tx, self.finality).await?;
            let events = details.iter().filter_map(emitted).collect();
            Ok(Inclusion { block: c.number_of(block_hash).await?, block_hash, events, data: None })
        })
        .await
    }

    async fn instantiate(
        &self,
        signer: &Signer,
        code: &[u8],
        input: Vec<u8>,
        salt: Vec<u8>,
    ) -> Result<Instantiated> {
        let args = (signer.account(), 0u128, None::<WeightArg>, None::<u128>, CodeArg::Upload(code), &input, &salt).encode();
        let answer: RemoteResult<RemoteInstantiated> =
            self.read(async |c| c.state_call("ContractsApi_instantiate", &args).await).await?;
        let instantiated = answer.result.map_err(|e| Error::DryRun(self.connection().describe(&e)))?;
        if instantiated.result.flags & REVERT_FLAG != 0 {
            return Err(Error::DryRun(format!(
                "the constructor reverted with output 0x{}",
                hex::encode(&instantiated.result.data)
            )));
        }
        let gas = Gas::from(answer.gas_required).with_margin(10);
        let deposit = match answer.storage_deposit {
            RemoteDeposit::Charge(v) => Some(v + v / 10 + 1),
            RemoteDeposit::Refund(_) => None,
        };
        let tx = subxt::dynamic::tx(
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
        );
        self.write(async |c| {
            let (block_hash, details) = c.submit_tx(signer, &tx, self.finality).await?;
            let address = details
                .iter()
                .filter(|e| e.pallet_name() == "Contracts" && e.variant_name() == "Instantiated")
                .find_map(|e| <([u8; 32], [u8; 32])>::decode(&mut e.field_bytes()).ok())
                .map(|(_deployer, contract)| AccountId::from(contract))
                .ok_or_else(|| Error::Inclusion("no Contracts::Instantiated event".into()))?;
            Ok(Instantiated { address, code_hash: crate::verify::blake2_256(code), block: c.number_of(block_hash).await? })
        })
        .await
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
                let Some(hash) = c.rpc.chain_get_block_hash(number).await.map_err(connection)? else {
                    return Err(Error::Connection(format!("the node does not know block {block} (a pruned node? indexes need an archive node)")));
                };
                let events = c.api.events().at(hash).await.map_err(connection)?;
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

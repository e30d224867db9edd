//! A typed harness over [`ink_sandbox`]'s default runtime.

use std::path::PathBuf;

use ink::{
    codegen::ContractCallBuilder,
    env::{
        call::{
            utils::{ReturnType, Set, Unset},
            Call, CallBuilder, CreateBuilder, ExecutionInput, FromAccountId, LimitParamsV2,
        },
        DefaultEnvironment, Environment,
    },
    primitives::AccountId,
};
use ink_sandbox::{
    api::prelude::*,
    frame_support::sp_runtime::AccountId32,
    pallet_contracts::{Determinism, StorageDeposit},
    DefaultSandbox, Sandbox, Snapshot, Weight, H256,
};
use scale::{Decode, Encode};

type Env = DefaultEnvironment;

/// A message built with a contract crate's call builder: `builder.commit(..)`.
pub type Message<Args, R> =
    CallBuilder<Env, Set<Call<Env>>, Set<ExecutionInput<Args>>, Set<ReturnType<R>>>;

/// A constructor built with a contract crate's `...Ref::new(..)`.
pub type Constructor<ContractRef, Args, R> = CreateBuilder<
    Env,
    ContractRef,
    Unset<<Env as Environment>::Hash>,
    Set<LimitParamsV2<Env>>,
    Unset<<Env as Environment>::Balance>,
    Set<ExecutionInput<Args>>,
    Unset<ink::env::call::state::Salt>,
    Set<ReturnType<R>>,
>;

/// Balance every account the tests use starts with.
pub const FUNDS: u128 = 1_000_000_000_000_000;


/// Converts an ink! account id to the runtime's.
pub fn to_runtime(account: AccountId) -> AccountId32 {
    AccountId32::new(*account.as_ref())
}

/// Converts a runtime account id to ink!'s.
pub fn to_ink(account: &AccountId32) -> AccountId {
    AccountId::from(*<AccountId32 as AsRef<[u8; 32]>>::as_ref(account))
}

/// The call builder of a deployed contract: `call_builder::<Records>(address).commit(..)`.
pub fn call_builder<C>(address: AccountId) -> <C as ContractCallBuilder>::Type
where
    C: ContractCallBuilder,
    C::Type: FromAccountId<Env>,
{
    <C::Type as FromAccountId<Env>>::from_account_id(address)
}

/// Where the release bundles are: `$CUSTODIA_BUNDLES` or `<workspace>/target/bundles`.
pub fn bundles_dir() -> PathBuf {
    std::env::var_os("CUSTODIA_BUNDLES").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bundles")
    })
}

/// The release Wasm of contract `name` (e.g. `"records"`).
pub fn wasm(name: &str) -> Vec<u8> {
    let path = bundles_dir().join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!("cannot read {}: {e}; run scripts/build-contracts.sh first", path.display())
    })
}

pub use custodia_client::backend::Emitted;

/// What one call did.
#[derive(Debug)]
pub struct Outcome<R> {
    /// The message's return value (for our messages, `Result<T, contract::Error>`).
    pub value: R,
    /// True if the contract reverted its state changes.
    pub reverted: bool,
    /// Gas used.
    pub gas_consumed: Weight,
    /// Gas the call needs as a limit (at least `gas_consumed`).
    pub gas_required: Weight,
    /// Storage deposit charged (positive) or refunded (negative).
    pub storage_deposit: i128,
    /// Events the contracts emitted.
    pub events: Vec<Emitted>,
}

impl<R> Outcome<R> {
    /// The emitted events that decode as `E`.
    pub fn events_of<E: ink::env::Event + Decode>(&self) -> Vec<E> {
        self.events.iter().filter_map(Emitted::decode::<E>).collect()
    }
}

/// The in-process chain: pallet-contracts in a minimal runtime.
pub struct Chain {
    sandbox: DefaultSandbox,
    /// Gas limit of every call (the sandbox's default: 1e11 ref_time, 3 MiB proof).
    gas_limit: Weight,
}

impl Default for Chain {
    fn default() -> Self {
        Self::new()
    }
}

impl Chain {
    /// A fresh chain at block 1 with a fixed timestamp.
    pub fn new() -> Self {
        let mut sandbox = DefaultSandbox::default();
        sandbox.set_timestamp(1_700_000_000_000);
        Self { sandbox, gas_limit: DefaultSandbox::default_gas_limit() }
    }

    /// Gives `account` [`FUNDS`].
    pub fn fund(&mut self, account: AccountId) {
        self.sandbox.mint_into(&to_runtime(account), FUNDS).expect("mint");
    }

    /// Sets the block timestamp (milliseconds).
    pub fn set_time(&mut self, millis: u64) {
        self.sandbox.set_timestamp(millis);
    }

    /// Sets the gas limit of every later call (e.g. a whole block's weight for big batches).
    pub fn set_gas_limit(&mut self, limit: Weight) {
        self.gas_limit = limit;
    }

    /// Builds a new block.
    pub fn next_block(&mut self) -> u32 {
        self.sandbox.build_block()
    }

    /// Uploads and instantiates bundle `name` with `constructor`, as `origin`.
    /// Returns the new contract's address. Panics on failure: a test cannot go on without it.
    pub fn deploy<Ref, Args: Encode, R>(
        &mut self,
        name: &str,
        origin: AccountId,
        constructor: Constructor<Ref, Args, R>,
        salt: &[u8],
    ) -> AccountId {
        let input = constructor
            .code_hash(Default::default())
            .endowment(0)
            .salt_bytes(Vec::new())
            .params()
            .exec_input()
            .encode();
        let result = self.sandbox.deploy_contract(
            wasm(name),
            0,
            input,
            salt.to_vec(),
            to_runtime(origin),
            self.gas_limit,
            None,
        );
        let instantiated = result.result.unwrap_or_else(|e| panic!("deploy {name}: {e:?}"));
        assert!(!instantiated.result.did_revert(), "constructor of {name} reverted");
        to_ink(&instantiated.account_id)
    }

    /// Calls a message as `origin`, keeping its effects.
    pub fn call<Args: Encode, R: Decode>(
        &mut self,
        origin: AccountId,
        message: Message<Args, R>,
    ) -> Outcome<R> {
        let (contract, input) = Self::encode(message);
        self.call_raw(origin, contract, input)
            .map(|(value, outcome)| outcome.with_value(decode_message_result(&value)))
            .unwrap_or_else(|e| panic!("call failed below the contract: {e}"))
    }

    /// Calls a message that must be refused. Returns its value after checking that the call
    /// reverted, emitted nothing and left the state root as it was.
    pub fn call_refused<Args: Encode, R: Decode>(
        &mut self,
        origin: AccountId,
        message: Message<Args, R>,
    ) -> R {
        let before = self.state_root();
        let outcome = self.call(origin, message);
        assert!(outcome.reverted, "a refused call must revert");
        assert!(outcome.events.is_empty(), "a refused call must emit nothing");
        assert_eq!(self.state_root(), before, "a refused call must change nothing");
        outcome.value
    }

    /// The whole state, to go back to with [`Chain::restore`].
    pub fn snapshot(&mut self) -> Snapshot {
        self.sandbox.take_snapshot()
    }

    /// Goes back to a state taken with [`Chain::snapshot`].
    pub fn restore(&mut self, snapshot: &Snapshot) {
        self.sandbox.restore_snapshot(snapshot.clone());
    }

    /// Calls a message as `origin` and throws its effects away (a dry run).
    pub fn query<Args: Encode, R: Decode>(&mut self, origin: AccountId, message: Message<Args, R>) -> R {
        self.sandbox.dry_run(|sandbox| {
            let mut chain = Chain { sandbox: std::mem::take(sandbox), gas_limit: self.gas_limit };
            let value = chain.call(origin, message).value;
            *sandbox = chain.sandbox;
            value
        })
    }

    /// Sends raw input bytes to a contract. Returns the raw output and the outcome, or the
    /// runtime's dispatch error.
    pub fn call_raw(
        &mut self,
        origin: AccountId,
        contract: AccountId,
        input: Vec<u8>,
    ) -> Result<(Vec<u8>, Outcome<()>), String> {
        // The runtime hands back every event of the block so far; keep only this call's.
        let earlier_events = self.sandbox.events().len();
        let result = self.sandbox.call_contract(
            to_runtime(contract),
            0,
            input,
            to_runtime(origin),
            self.gas_limit,
            None,
            Determinism::Enforced,
        );
        let events = result
            .events
            .unwrap_or_default()
            .into_iter()
            .skip(earlier_events)
            .filter_map(|record| match record.event {
                ink_sandbox::RuntimeEventOf::<DefaultSandbox>::Contracts(
                    ink_sandbox::pallet_contracts::Event::ContractEmitted { contract, data },
                ) => Some(Emitted { contract: to_ink(&contract), topics: record.topics.into_iter().map(|t| t.0).collect(), data }),
                _ => None,
            })
            .collect();
        let returned = result.result.map_err(|e| format!("{e:?}"))?;
        let storage_deposit = match result.storage_deposit {
            StorageDeposit::Charge(amount) => amount as i128,
            StorageDeposit::Refund(amount) => -(amount as i128),
        };
        let outcome = Outcome {
            value: (),
            reverted: returned.did_revert(),
            gas_consumed: result.gas_consumed,
            gas_required: result.gas_required,
            storage_deposit,
            events,
        };
        Ok((returned.data, outcome))
    }

    /// The state root of the whole runtime: equal before and after a call that changed nothing.
    pub fn state_root(&mut self) -> H256 {
        self.sandbox.take_snapshot().storage_root
    }

    /// Every byte of runtime state: keys and values of the top trie and every contract's child
    /// trie (for privacy scans).
    pub fn all_state_bytes(&mut self) -> Vec<u8> {
        let storage = self.sandbox.take_snapshot().storage;
        storage.into_iter().flat_map(|(key, (value, _))| key.into_iter().chain(value)).collect()
    }

    fn encode<Args: Encode, R>(message: Message<Args, R>) -> (AccountId, Vec<u8>) {
        let params = message.params();
        (*params.callee(), params.exec_input().encode())
    }
}

impl Outcome<()> {
    fn with_value<R>(self, value: R) -> Outcome<R> {
        Outcome {
            value,
            reverted: self.reverted,
            gas_consumed: self.gas_consumed,
            gas_required: self.gas_required,
            storage_deposit: self.storage_deposit,
            events: self.events,
        }
    }
}

/// Decodes a message's output: ink! wraps the return value in `Result<R, LangError>`.
fn decode_message_result<R: Decode>(bytes: &[u8]) -> R {
    match ink::MessageResult::<R>::decode(&mut &bytes[..]) {
        Ok(Ok(value)) => value,
        Ok(Err(lang_error)) => panic!("the contract refused the input: {lang_error:?}"),
        Err(e) => panic!("undecodable output {bytes:?}: {e}"),
    }
}

//! A typed, synchronous harness for contract-level tests over the [`Sandbox`]: deploy a
//! bundle, call a message built with the contract crate's own call builder, decode its result
//! and events, read gas, storage deposit and the state root, and check that a refused call
//! changed nothing.

use crate::Sandbox;
use custodia_client::{
    backend::{Emitted, Gas},
    call::{encode, Message},
    Bundles,
};
use ink::{
    env::{
        call::{
            utils::{ReturnType, Set, Unset},
            CreateBuilder, ExecutionInput, LimitParamsV2,
        },
        DefaultEnvironment, Environment,
    },
    primitives::AccountId,
};
use ink_sandbox::Snapshot;
use scale::{Decode, Encode};

pub use custodia_client::call::builder as call_builder;

type Env = DefaultEnvironment;

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

/// The constructor call data of a `...Ref::new(..)` builder.
pub fn constructor_input<Ref, Args: Encode, R>(constructor: Constructor<Ref, Args, R>) -> Vec<u8> {
    constructor.code_hash(Default::default()).endowment(0).salt_bytes(Vec::new()).params().exec_input().encode()
}

/// What one call did.
#[derive(Debug)]
pub struct Outcome<R> {
    /// The message's return value (for our messages, `Result<T, contract::Error>`).
    pub value: R,
    /// True if the contract reverted its state changes.
    pub reverted: bool,
    /// Gas used.
    pub gas_consumed: Gas,
    /// Gas the call needs as a limit (at least `gas_consumed`).
    pub gas_required: Gas,
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

    /// The same outcome with its value mapped (to treat messages of different returns alike).
    pub fn map<S>(self, f: impl FnOnce(R) -> S) -> Outcome<S> {
        Outcome {
            value: f(self.value),
            reverted: self.reverted,
            gas_consumed: self.gas_consumed,
            gas_required: self.gas_required,
            storage_deposit: self.storage_deposit,
            events: self.events,
        }
    }
}

/// The in-process chain for contract tests: every call in the open block (until
/// [`Chain::next_block`]), a fixed gas limit per call.
pub struct Chain {
    sandbox: Sandbox,
    /// Gas limit of every call (by default the sandbox's: 1e11 ref_time, 3 MiB proof).
    gas_limit: Gas,
}

impl Default for Chain {
    fn default() -> Self {
        Self::new()
    }
}

impl From<Sandbox> for Chain {
    fn from(sandbox: Sandbox) -> Self {
        Self {
            sandbox,
            gas_limit: crate::gas(<ink_sandbox::DefaultSandbox as ink_sandbox::Sandbox>::default_gas_limit()),
        }
    }
}

impl Chain {
    /// A fresh chain at block 1 with a fixed timestamp.
    pub fn new() -> Self {
        let mut sandbox = Sandbox::new();
        sandbox.set_time(crate::SandboxClock::deterministic().genesis_ms);
        Self::from(sandbox)
    }

    /// The chain underneath.
    pub fn sandbox(&mut self) -> &mut Sandbox {
        &mut self.sandbox
    }

    /// Gives `account` [`FUNDS`].
    pub fn fund(&mut self, account: AccountId) {
        self.sandbox.fund(account, FUNDS).expect("mint");
    }

    /// Sets the block timestamp (milliseconds).
    pub fn set_time(&mut self, millis: u64) {
        self.sandbox.set_time(millis);
    }

    /// Sets the gas limit of every later call (e.g. a whole block's weight for big batches).
    pub fn set_gas_limit(&mut self, limit: Gas) {
        self.gas_limit = limit;
    }

    /// Builds a new block; returns the new block's number.
    pub fn next_block(&mut self) -> u32 {
        self.sandbox.seal().0 + 1
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
        let code = Bundles::from_env().wasm(name).unwrap_or_else(|e| panic!("{e}"));
        self.deploy_code(name, code, origin, constructor, salt)
    }

    /// [`Chain::deploy`] of the given Wasm (another release's bundle, for upgrade tests).
    pub fn deploy_code<Ref, Args: Encode, R>(
        &mut self,
        name: &str,
        code: Vec<u8>,
        origin: AccountId,
        constructor: Constructor<Ref, Args, R>,
        salt: &[u8],
    ) -> AccountId {
        let (address, called) = self
            .sandbox
            .instantiate(origin, code, constructor_input(constructor), salt.to_vec(), self.gas_limit)
            .unwrap_or_else(|e| panic!("deploy {name}: {e}"));
        assert!(!called.reverted, "constructor of {name} reverted");
        address
    }

    /// Calls a message as `origin`, keeping its effects.
    pub fn call<Args: Encode, R: Decode>(&mut self, origin: AccountId, message: Message<Args, R>) -> Outcome<R> {
        let (contract, input) = encode(message);
        let (output, outcome) =
            self.call_raw(origin, contract, input).unwrap_or_else(|e| panic!("call failed below the contract: {e}"));
        outcome.with_value(decode_message_result(&output))
    }

    /// Calls a message that must be refused. Returns its value after checking that the call
    /// reverted, emitted nothing and left the state root as it was.
    pub fn call_refused<Args: Encode, R: Decode>(&mut self, origin: AccountId, message: Message<Args, R>) -> R {
        let before = self.state_root();
        let outcome = self.call(origin, message);
        assert!(outcome.reverted, "a refused call must revert");
        assert!(outcome.events.is_empty(), "a refused call must emit nothing");
        assert_eq!(self.state_root(), before, "a refused call must change nothing");
        outcome.value
    }

    /// The whole state, to go back to with [`Chain::restore`].
    pub fn snapshot(&mut self) -> Snapshot {
        self.sandbox.snapshot()
    }

    /// Goes back to a state taken with [`Chain::snapshot`].
    pub fn restore(&mut self, snapshot: &Snapshot) {
        self.sandbox.restore(snapshot);
    }

    /// Calls a message as `origin` and throws its effects away (a dry run).
    pub fn query<Args: Encode, R: Decode>(&mut self, origin: AccountId, message: Message<Args, R>) -> R {
        let (contract, input) = encode(message);
        let called = self
            .sandbox
            .dry_run(origin, contract, input, self.gas_limit)
            .unwrap_or_else(|e| panic!("query failed below the contract: {e}"));
        decode_message_result(&called.output)
    }

    /// Sends raw input bytes to a contract. Returns the raw output and the outcome, or the
    /// runtime's dispatch error.
    pub fn call_raw(
        &mut self,
        origin: AccountId,
        contract: AccountId,
        input: Vec<u8>,
    ) -> Result<(Vec<u8>, Outcome<()>), custodia_client::error::DispatchFailure> {
        let called = self.sandbox.call(origin, contract, input, self.gas_limit, None)?;
        let outcome = Outcome {
            value: (),
            reverted: called.reverted,
            gas_consumed: called.gas_consumed,
            gas_required: called.gas_required,
            storage_deposit: called.storage_deposit,
            events: called.events,
        };
        Ok((called.output, outcome))
    }

    /// The state root of the whole runtime: equal before and after a call that changed nothing.
    pub fn state_root(&mut self) -> [u8; 32] {
        self.sandbox.state_root()
    }

    /// Every byte of runtime state (for privacy scans).
    pub fn all_state_bytes(&mut self) -> Vec<u8> {
        self.sandbox.all_state_bytes()
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
    custodia_client::call::decode_output(bytes).unwrap_or_else(|e| panic!("undecodable output {bytes:?}: {e}"))
}

//! Typed contract calls: built from the contract crates' own call builders, so call data,
//! argument types and return types cannot drift from the contracts.
//!
//! A [`Tx`] changes state: [`Tx::submit`] dry-runs first (a refusal comes back as the
//! contract's typed error, with nothing submitted), then submits with the gas the dry run
//! found; where the backend runs calls directly and a refusal leaves no trace (the embedded
//! chain), it runs the call once instead. A [`Query`] only reads: [`Query::query`].

use crate::{
    backend::{Backend, Charged, DryRun, Emitted, Gas, Hash},
    error::{ContractError, InclusionError},
    Client, Error, Result,
};
use ink::{
    codegen::ContractCallBuilder,
    env::{
        call::{
            utils::{ReturnType, Set},
            Call, CallBuilder, ExecutionInput, FromAccountId,
        },
        DefaultEnvironment,
    },
    primitives::AccountId,
};
use scale::{Decode, Encode};
use std::marker::PhantomData;

type Env = DefaultEnvironment;

/// A message built with a contract crate's call builder.
pub type Message<Args, R> = CallBuilder<Env, Set<Call<Env>>, Set<ExecutionInput<Args>>, Set<ReturnType<R>>>;

/// Safety margin added to the gas a dry run measured (state may grow between dry run and
/// inclusion).
const GAS_MARGIN_PERCENT: u64 = 10;

/// How often a transaction whose nonce another took is judged again and resubmitted.
const NONCE_ATTEMPTS: u32 = 6;

/// How long to let an earlier transaction of the account land before the first resubmission;
/// each later one waits twice as long (1 + 2 + 4 + 8 + 16 s in all: long enough for a
/// transaction waiting in a node's pool to reach a finalized block with 6 s slots).
const NONCE_BACKOFF: std::time::Duration = std::time::Duration::from_secs(1);

/// The call builder of the contract at `address`.
pub fn builder<C>(address: AccountId) -> <C as ContractCallBuilder>::Type
where
    C: ContractCallBuilder,
    C::Type: FromAccountId<Env>,
{
    <C::Type as FromAccountId<Env>>::from_account_id(address)
}

/// The callee and the call data of a message.
pub fn encode<Args: Encode, R>(message: Message<Args, R>) -> (AccountId, Vec<u8>) {
    let params = message.params();
    (*params.callee(), params.exec_input().encode())
}

/// Decodes a message's output: ink! wraps every return value in `Result<R, LangError>`.
pub fn decode_output<R: Decode>(bytes: &[u8]) -> Result<R> {
    match ink::MessageResult::<R>::decode(&mut &bytes[..]) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(lang_error)) => Err(Error::NotUnderstood(lang_error)),
        Err(e) => Err(Error::decoding("the contract's answer", e)),
    }
}

/// What a dry run says a transaction would do.
#[derive(Clone, Debug)]
pub struct Estimate<T> {
    /// The message's return value.
    pub value: T,
    /// Gas the call used.
    pub gas_consumed: Gas,
    /// The gas limit the transaction needs.
    pub gas_required: Gas,
    /// The storage deposit it would charge (positive) or refund (negative).
    pub storage_deposit: i128,
}

impl<T> Estimate<T> {
    /// The dry run's figures, with the value decoded from its output.
    fn of(value: T, dry: &DryRun) -> Self {
        Estimate {
            value,
            gas_consumed: dry.gas_consumed,
            gas_required: dry.gas_required,
            storage_deposit: dry.storage_deposit,
        }
    }
}

/// A transaction included in a block.
#[derive(Clone, Debug)]
pub struct Submitted<T> {
    /// The message's return value.
    pub value: T,
    /// The block that holds it.
    pub block: u32,
    /// That block's hash.
    pub block_hash: Hash,
    /// The events the contracts emitted.
    pub events: Vec<Emitted>,
    /// The gas limit it was submitted with: what the dry run measured plus a margin, or on a
    /// backend that runs calls without an estimate (the embedded chain), a block's gas.
    pub gas_limit: Gas,
    /// Gas it needed, as the dry run (or the one execution) measured.
    pub gas_required: Gas,
    /// The storage deposit, as the dry run (or the one execution) measured.
    pub storage_deposit: i128,
    /// What the chain charged, where the call was an extrinsic (on a node).
    pub charged: Option<Charged>,
}

impl<T> Submitted<T> {
    /// The emitted events that decode as `E`.
    pub fn events_of<E: ink::env::Event + Decode>(&self) -> Vec<E> {
        self.events.iter().filter_map(Emitted::decode::<E>).collect()
    }
}

/// Reads a transaction's value from its events (a node reports no output).
pub type FromEvents<T> = fn(&[Emitted]) -> Option<T>;

/// A state-changing message, ready to dry-run or submit.
#[must_use = "a transaction does nothing until it is submitted"]
pub struct Tx<'c, B, T, E> {
    client: &'c Client<B>,
    contract: AccountId,
    input: Vec<u8>,
    from_events: Option<FromEvents<T>>,
    returns: PhantomData<fn() -> Result<T, E>>,
}

impl<'c, B, T, E> Tx<'c, B, T, E>
where
    B: Backend,
    T: Decode,
    E: Decode + Into<ContractError>,
{
    pub(crate) fn new<Args: Encode>(client: &'c Client<B>, message: Message<Args, Result<T, E>>) -> Self {
        let (contract, input) = encode(message);
        Self { client, contract, input, from_events: None, returns: PhantomData }
    }

    /// The call data: the message's selector, then its SCALE-encoded arguments.
    pub fn input(&self) -> &[u8] {
        &self.input
    }

    /// Where a node gives no output, the value is read from the transaction's events with
    /// `from_events` (the dry run's value could be stale: another transaction may have landed
    /// between the dry run and this one). Without it the dry run's value stands, which is
    /// right only for messages whose value does not depend on the state (`()`).
    pub fn value_from_events(mut self, from_events: FromEvents<T>) -> Self {
        self.from_events = Some(from_events);
        self
    }

    /// Runs the message as `origin` against the newest state and throws the effects away.
    /// A refusal is [`Error::Contract`] with the contract's own error.
    pub async fn dry_run(&self, origin: AccountId) -> Result<Estimate<T>> {
        let dry = self.client.backend().dry_run(origin, self.contract, &self.input).await?;
        let value = decode_output::<Result<T, E>>(&dry.data)?.map_err(|e| Error::Contract(e.into()))?;
        Ok(Estimate::of(value, &dry))
    }

    /// Dry-runs as the signer's account, then signs and submits with the gas the dry run
    /// measured (plus a margin), and waits for inclusion (where the backend can run it
    /// without an estimate, [`crate::Backend::submit_unestimated`], it does that instead). If another transaction of the account
    /// took the nonce (one sent before a lost connection, say), the call is judged again and
    /// resubmitted with a fresh nonce, a few times: nothing of a transaction that lost its
    /// nonce is on chain, and the fresh dry run sees whatever the other one did.
    pub async fn submit(self, signer: &crate::Signer) -> Result<Submitted<T>> {
        let (mut attempt, mut backoff) = (1, NONCE_BACKOFF);
        loop {
            match self.submit_once(signer).await {
                Err(error) if error.is_nonce_taken() && attempt < NONCE_ATTEMPTS => {
                    attempt += 1;
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                }
                other => return other,
            }
        }
    }

    async fn submit_once(&self, signer: &crate::Signer) -> Result<Submitted<T>> {
        // Where the backend runs a call directly and a refusal leaves no trace (the embedded
        // chain), one execution does what a dry run and a submission would.
        let backend = self.client.backend();
        if let Some((included, measured)) = backend.submit_unestimated(signer, self.contract, &self.input).await? {
            let data = included.data.as_deref().unwrap_or_default();
            let value = decode_output::<Result<T, E>>(data)?.map_err(|e| Error::Contract(e.into()))?;
            return Ok(Submitted {
                value,
                block: included.block,
                block_hash: included.block_hash,
                events: included.events,
                gas_limit: measured.gas_limit,
                gas_required: measured.gas_required,
                storage_deposit: measured.storage_deposit,
                charged: included.charged,
            });
        }
        let estimate = self.dry_run(signer.account()).await?;
        let gas_limit = estimate.gas_required.with_margin(GAS_MARGIN_PERCENT);
        let deposit_limit = u128::try_from(estimate.storage_deposit).ok().filter(|d| *d > 0);
        let deposit_limit = deposit_limit.map(|d| d + d / 10 + 1);
        let included = match self
            .client
            .backend()
            .submit(signer, self.contract, self.input.clone(), gas_limit, deposit_limit)
            .await
        {
            // The state changed between the dry run and the block and the contract reverted:
            // a node reports only ContractReverted; the dry run, run again, says why.
            Err(Error::Inclusion(InclusionError::Failed(failure))) if failure.is_contract_reverted() => {
                return match self.dry_run(signer.account()).await {
                    Err(error @ Error::Contract(_)) => Err(error),
                    _ => Err(Error::Inclusion(InclusionError::Failed(failure))),
                };
            }
            other => other?,
        };
        // The value is the included transaction's: its output where the backend sees it (the
        // sandbox), else its events; the dry run's only for values that do not depend on state.
        let value = match (&included.data, self.from_events) {
            (Some(data), _) => decode_output::<Result<T, E>>(data)?.map_err(|e| Error::Contract(e.into()))?,
            (None, Some(from_events)) => from_events(&included.events).ok_or_else(|| {
                Error::decoding("the transaction's value from its events", "the expected event is missing")
            })?,
            (None, None) => estimate.value,
        };
        Ok(Submitted {
            value,
            block: included.block,
            block_hash: included.block_hash,
            events: included.events,
            gas_limit,
            gas_required: estimate.gas_required,
            storage_deposit: estimate.storage_deposit,
            charged: included.charged,
        })
    }
}

/// A read-only message, ready to query.
#[must_use = "a query does nothing until it is run"]
pub struct Query<'c, B, R> {
    client: &'c Client<B>,
    contract: AccountId,
    input: Vec<u8>,
    origin: AccountId,
    returns: PhantomData<fn() -> R>,
}

impl<'c, B, R> Query<'c, B, R>
where
    B: Backend,
    R: Decode,
{
    pub(crate) fn new<Args: Encode>(client: &'c Client<B>, message: Message<Args, R>) -> Self {
        let (contract, input) = encode(message);
        Self { client, contract, input, origin: AccountId::from([0; 32]), returns: PhantomData }
    }

    /// Asks as `origin` (for answers that depend on the caller); anonymous otherwise.
    pub fn from(mut self, origin: AccountId) -> Self {
        self.origin = origin;
        self
    }

    /// The call data: the message's selector, then its SCALE-encoded arguments.
    pub fn input(&self) -> &[u8] {
        &self.input
    }

    /// Runs the query against the newest state.
    pub async fn query(self) -> Result<R> {
        Ok(self.estimate().await?.value)
    }

    /// Runs the query against the newest state, with the gas it used.
    pub async fn estimate(self) -> Result<Estimate<R>> {
        let dry = self.client.backend().dry_run(self.origin, self.contract, &self.input).await?;
        Ok(Estimate::of(decode_output(&dry.data)?, &dry))
    }
}

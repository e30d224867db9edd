//! The chain's council, where one governs code (the consortium runtime's `Council`,
//! pallet-collective): contract code reaches such a chain only as a council motion carried by
//! more than half of the members, and is instantiated as the keyless consortium account; a
//! call dispatched as root (`Governance::enact`) takes two thirds.
//!
//! A motion is proposed by a member (which counts as that member's approval), approved by
//! others, and closed by the approval that carries it: the close executes the call. The motion's
//! call stays in the chain's storage until then, so approvers need only its hash.

use super::{Connection, NodeBackend, RemoteDispatchError, RemoteWeight};
use crate::{
    backend::{Gas, Hash},
    error::{CouncilError, InclusionError},
    keys::{ss58, Signer},
    Error, Result,
};
use ink::primitives::AccountId;
use scale::{Decode, Encode};
use subxt::dynamic::Value;

/// The account a council's code deployments run as: `modl` ++ the runtime's PalletId
/// `cstdy/gv`, zero-padded to 32 bytes (`custodia_runtime::consortium::ConsortiumAccount`).
pub const CONSORTIUM_ACCOUNT: [u8; 32] = {
    let mut account = [0u8; 32];
    let id = *b"modlcstdy/gv";
    let mut i = 0;
    while i < id.len() {
        account[i] = id[i];
        i += 1;
    }
    account
};

/// A call of any pallet, as subxt dynamic values (`Contracts::instantiate_with_code`,
/// `Utility::batch_all`, `CouncilMembership::add_member`).
#[derive(Clone, Debug)]
pub struct RuntimeCall {
    pallet: String,
    call: String,
    fields: Vec<Value>,
}

impl RuntimeCall {
    /// `pallet`'s `call` with its arguments in order.
    pub fn new(pallet: &str, call: &str, fields: Vec<Value>) -> Self {
        Self { pallet: pallet.into(), call: call.into(), fields }
    }

    /// `Utility::batch_all` of `calls` (all or none), or the one call alone.
    pub fn all_of(mut calls: Vec<RuntimeCall>) -> Self {
        if calls.len() == 1 {
            return calls.remove(0);
        }
        let calls = calls.into_iter().map(RuntimeCall::into_value).collect::<Vec<_>>();
        Self::new("Utility", "batch_all", vec![Value::unnamed_composite(calls)])
    }

    /// `Governance::enact(call)`: `call` dispatched as root, which a motion carries only with
    /// two thirds of the council (the consortium runtime's one root path).
    pub fn as_root(self) -> Self {
        Self::new("Governance", "enact", vec![self.into_value()])
    }

    /// The approvals a motion of this call needs among `members` members: two thirds for
    /// `Governance::enact`, more than half for anything else (the runtime's origins).
    fn threshold(&self, members: usize) -> usize {
        if self.pallet == "Governance" {
            (2 * members).div_ceil(3)
        } else {
            members / 2 + 1
        }
    }

    /// The call as a value of the runtime's call enum (what a motion or a batch carries).
    pub fn into_value(self) -> Value {
        Value::unnamed_variant(self.pallet, [Value::unnamed_variant(self.call, self.fields)])
    }

    pub(super) fn payload(&self) -> subxt::tx::DynamicPayload {
        subxt::dynamic::tx(&self.pallet, &self.call, self.fields.clone())
    }
}

/// A council motion: a call proposed to the council, open until enough members approve it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Motion {
    /// The hash of its call (what members vote on).
    #[serde(with = "crate::deployment::as_hex")]
    pub hash: Hash,
    /// Its index among the council's proposals.
    pub index: u32,
    /// Approvals it needs.
    pub threshold: u32,
}

/// Where a motion stands after a member's proposal or approval.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Standing {
    /// Still open: `ayes` of the `threshold` approvals it needs.
    Open {
        /// Approvals so far.
        ayes: u32,
        /// Approvals it needs.
        threshold: u32,
    },
    /// Carried, closed and executed in `block`.
    Enacted {
        /// The block that executed it.
        block: u32,
    },
}

impl NodeBackend {
    /// Whether a council governs code on this chain (its runtime has a `Council` pallet, as
    /// the consortium runtime does; a development runtime such as substrate-contracts-node's
    /// has none, and lets signed accounts instantiate).
    pub fn has_council(&self) -> bool {
        self.connection().api.metadata().pallet_by_name("Council").is_some()
    }

    /// The council's members.
    pub async fn council_members(&self) -> Result<Vec<AccountId>> {
        self.require_council()?;
        let raw = self.storage("Council", "Members", vec![]).await?.unwrap_or_default();
        let members = Vec::<[u8; 32]>::decode(&mut &raw[..]).map_err(|e| Error::decoding("Council::Members", e))?;
        Ok(members.into_iter().map(AccountId::from).collect())
    }

    /// The number of the council's seats, if `member` holds one (only members propose and vote).
    async fn council_seats_of(&self, member: &Signer) -> Result<usize> {
        let members = self.council_members().await?;
        if !members.contains(&member.account()) {
            return Err(Error::Council(CouncilError::NotAMember { account: ss58(&member.account()) }));
        }
        Ok(members.len())
    }

    /// Proposes `call` to the council as `member`, and approves it as `member` (a proposal
    /// counts no vote by itself: two transactions). A motion needs more than half of the
    /// members (two thirds for [`RuntimeCall::as_root`]); one that `member` alone carries is
    /// executed at once. If the same call is an open motion already, `member` approves that
    /// one (once) instead.
    pub async fn propose_motion(&self, member: &Signer, call: RuntimeCall) -> Result<(Motion, Standing)> {
        let members = self.council_seats_of(member).await?;
        let threshold = u32::try_from(call.threshold(members)).unwrap_or(u32::MAX);
        let encoded = self.encode(&call)?;
        if let Some((motion, ayes)) = self.votes(crate::verify::blake2_256(&encoded)).await? {
            if ayes.contains(&member.account()) {
                let ayes = u32::try_from(ayes.len()).unwrap_or(u32::MAX);
                return Ok((motion, Standing::Open { ayes, threshold: motion.threshold }));
            }
            let standing = self.approve_motion(member, &motion).await?;
            return Ok((motion, standing));
        }
        let length = u32::try_from(encoded.len()).unwrap_or(u32::MAX);
        let tx = subxt::dynamic::tx(
            "Council",
            "propose",
            vec![Value::u128(threshold.into()), call.into_value(), Value::u128(length.into())],
        );
        let proposed = self
            .write(async |c| {
                let (block_hash, _, events) = c.submit_tx(member, &tx, self.finality).await?;
                let mut motion = None;
                for event in &events {
                    let mut fields = event.field_bytes();
                    match (event.pallet_name(), event.variant_name()) {
                        ("Council", "Proposed") => {
                            let (_account, index, hash, threshold) =
                                <([u8; 32], u32, [u8; 32], u32)>::decode(&mut fields)
                                    .map_err(|e| Error::decoding("a Council::Proposed event", e))?;
                            motion = Some((Motion { hash, index, threshold }, Standing::Open { ayes: 0, threshold }));
                        }
                        ("Council", "Executed") => {
                            let hash = executed(c, fields)?;
                            let block = c.number_of(block_hash).await?;
                            motion = Some((Motion { hash, index: 0, threshold }, Standing::Enacted { block }));
                        }
                        _ => {}
                    }
                }
                motion.ok_or_else(|| Error::Inclusion(InclusionError::Unexpected("no Council::Proposed event".into())))
            })
            .await?;
        match proposed {
            (motion, Standing::Open { .. }) => Ok((motion, self.approve_motion(member, &motion).await?)),
            enacted => Ok(enacted),
        }
    }

    /// The open motion with call hash `hash`, and its approvals so far (`Council::Voting`).
    pub async fn motion(&self, hash: Hash) -> Result<Option<(Motion, u32)>> {
        Ok(self.votes(hash).await?.map(|(motion, ayes)| (motion, u32::try_from(ayes.len()).unwrap_or(u32::MAX))))
    }

    /// The open motion with call hash `hash` and the members who approved it.
    async fn votes(&self, hash: Hash) -> Result<Option<(Motion, Vec<AccountId>)>> {
        self.require_council()?;
        let Some(raw) = self.storage("Council", "Voting", vec![Value::from_bytes(hash)]).await? else {
            return Ok(None);
        };
        // Votes { index, threshold, ayes, nays, end }
        let (index, threshold, ayes) =
            <(u32, u32, Vec<[u8; 32]>)>::decode(&mut &raw[..]).map_err(|e| Error::decoding("Council::Voting", e))?;
        Ok(Some((Motion { hash, index, threshold }, ayes.into_iter().map(AccountId::from).collect())))
    }

    /// Approves `motion` as `member`; if that carries it, closes it, which executes its call.
    pub async fn approve_motion(&self, member: &Signer, motion: &Motion) -> Result<Standing> {
        self.council_seats_of(member).await?;
        let vote = subxt::dynamic::tx(
            "Council",
            "vote",
            vec![Value::from_bytes(motion.hash), Value::u128(motion.index.into()), Value::bool(true)],
        );
        let ayes = self
            .write(async |c| {
                let (_, _, events) = c.submit_tx(member, &vote, self.finality).await?;
                events
                    .iter()
                    .find(|e| e.pallet_name() == "Council" && e.variant_name() == "Voted")
                    .map(|e| {
                        <([u8; 32], [u8; 32], bool, u32, u32)>::decode(&mut e.field_bytes())
                            .map(|(_, _, _, yes, _)| yes)
                            .map_err(|e| Error::decoding("a Council::Voted event", e))
                    })
                    .unwrap_or_else(|| {
                        Err(Error::Inclusion(InclusionError::Unexpected("no Council::Voted event".into())))
                    })
            })
            .await?;
        if ayes < motion.threshold {
            return Ok(Standing::Open { ayes, threshold: motion.threshold });
        }
        self.close_motion(member, motion).await
    }

    /// Closes a carried motion, which executes its call; its error is the call's.
    async fn close_motion(&self, signer: &Signer, motion: &Motion) -> Result<Standing> {
        let proposal = self
            .storage("Council", "ProposalOf", vec![Value::from_bytes(motion.hash)])
            .await?
            .ok_or(Error::Council(CouncilError::NoMotion { motion: motion.hash }))?;
        let weight = self.call_weight(&proposal).await?;
        let close = subxt::dynamic::tx(
            "Council",
            "close",
            vec![
                Value::from_bytes(motion.hash),
                Value::u128(motion.index.into()),
                super::weight_value(weight),
                Value::u128(proposal.len() as u128),
            ],
        );
        self.write(async |c| {
            let (block_hash, _, events) = c.submit_tx(signer, &close, self.finality).await?;
            match events.iter().find(|e| e.pallet_name() == "Council" && e.variant_name() == "Executed") {
                Some(event) => {
                    executed(c, event.field_bytes())?;
                    Ok(Standing::Enacted { block: c.number_of(block_hash).await? })
                }
                None => Err(Error::Inclusion(InclusionError::Unexpected(format!(
                    "motion 0x{} was closed but not executed (disapproved?)",
                    hex::encode(motion.hash)
                )))),
            }
        })
        .await
    }

    /// The weight the runtime gives an encoded call (`TransactionPaymentCallApi_query_call_info`):
    /// the bound a close must allow for the motion's execution.
    async fn call_weight(&self, call: &[u8]) -> Result<Gas> {
        // (call, len): the call as it is encoded, then its length.
        let bytes = (EncodedCall(call), u32::try_from(call.len()).unwrap_or(u32::MAX)).encode();
        self.read(async |c| {
            let (weight, _class, _fee) =
                c.state_call::<(RemoteWeight, u8, u128)>("TransactionPaymentCallApi_query_call_info", &bytes).await?;
            Ok(Gas::from(weight))
        })
        .await
    }

    /// `call` as the runtime encodes it.
    fn encode(&self, call: &RuntimeCall) -> Result<Vec<u8>> {
        use subxt::tx::Payload;
        let metadata = self.connection().api.metadata();
        call.payload().encode_call_data(&metadata).map_err(|e| Error::Input(format!("{call:?}: {e}")))
    }

    fn require_council(&self) -> Result<()> {
        if self.has_council() {
            Ok(())
        } else {
            Err(Error::Council(CouncilError::NoCouncil))
        }
    }
}

/// An already encoded call, passed through as it is.
struct EncodedCall<'a>(&'a [u8]);

impl Encode for EncodedCall<'_> {
    fn size_hint(&self) -> usize {
        self.0.len()
    }

    fn encode_to<T: scale::Output + ?Sized>(&self, dest: &mut T) {
        dest.write(self.0)
    }
}

/// The motion's hash from a `Council::Executed { proposal_hash, result }` event, or the
/// executed call's error.
fn executed(c: &Connection, mut fields: &[u8]) -> Result<Hash> {
    let (hash, result) = <([u8; 32], Result<(), RemoteDispatchError>)>::decode(&mut fields)
        .map_err(|e| Error::decoding("a Council::Executed event", e))?;
    result.map_err(|e| Error::Inclusion(InclusionError::Failed(c.failure(&e))))?;
    Ok(hash)
}

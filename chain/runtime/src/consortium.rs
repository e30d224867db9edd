//! What makes the chain permissioned: who governs, which calls exist for signed accounts, and
//! who may move funds.
//!
//! - **The council** (`pallet-collective`, its members kept by `CouncilMembership`) is the
//!   consortium's governance: one key per member institution. A motion carried by more than
//!   half of the members is the only origin that uploads or instantiates contract code, adds or
//!   removes members, validators' nodes and treasury keys; two thirds act as root through
//!   `Governance::enact` (a runtime upgrade). There is no sudo.
//! - **The consortium account** is who the council's code deployments run as: it pays their
//!   deposits and is the deployer contracts see. It has no key; only a council motion acts as it.
//! - **The treasury** (`Treasury`, a membership list the council keeps) holds the only keys that
//!   may transfer funds: it funds institutions' accounts and patient-held keys (enough for their
//!   own grants, revocations and vetoes, never dependent on their custodian). Nobody else moves
//!   value: balances exist to pay fees and deposits.

use crate::{AccountId, Runtime, RuntimeCall};
use codec::{Decode, Encode};
use frame_support::{
    parameter_types,
    traits::{Contains, MapSuccess},
    PalletId,
};
use scale_info::TypeInfo;
use sp_runtime::{
    traits::{AccountIdConversion, DispatchInfoOf, Replace, SignedExtension},
    transaction_validity::{InvalidTransaction, TransactionValidity, TransactionValidityError, ValidTransaction},
};

/// The council's instance of `pallet-collective`.
pub type CouncilCollective = pallet_collective::Instance1;
/// The membership list that keeps the council's members.
pub type CouncilMembershipInstance = pallet_membership::Instance1;
/// The membership list of treasury keys.
pub type TreasuryInstance = pallet_membership::Instance2;

parameter_types! {
    /// The keyless account the council deploys contract code as (`modl` ++ `cstdy/gv`, padded
    /// with zeros: clients derive it the same way).
    pub ConsortiumAccount: AccountId = PalletId(*b"cstdy/gv").into_account_truncating();
}

/// A council motion carried by more than half of the members.
pub type CouncilMajority = pallet_collective::EnsureProportionMoreThan<AccountId, CouncilCollective, 1, 2>;

/// A council motion carried by at least two thirds of the members: what acting as root takes.
pub type CouncilSupermajority = pallet_collective::EnsureProportionAtLeast<AccountId, CouncilCollective, 2, 3>;

/// A council majority, acting as the consortium account: the origin of code uploads and
/// instantiations.
pub type ConsortiumOrigin = MapSuccess<CouncilMajority, Replace<ConsortiumAccount>>;

/// The calls that exist on this chain for every origin but root (which only the council reaches,
/// through `Governance::enact`). An allowlist: a pallet added later is refused until it is named
/// here.
pub struct ConsortiumCalls;

impl Contains<RuntimeCall> for ConsortiumCalls {
    fn contains(call: &RuntimeCall) -> bool {
        use pallet_utility::Call as Utility;
        match call {
            // remark and remark_with_event; the rest of System needs root, which nobody has.
            RuntimeCall::System(frame_system::Call::remark { .. } | frame_system::Call::remark_with_event { .. }) => {
                true
            }
            RuntimeCall::System(_) => false,
            // Batches only: no derivative accounts, no dispatch as another origin.
            RuntimeCall::Utility(Utility::batch { .. } | Utility::batch_all { .. } | Utility::force_batch { .. }) => {
                true
            }
            RuntimeCall::Utility(_) => false,
            // Transfers are further limited to treasury keys by `TransfersFromTreasuryOnly`.
            RuntimeCall::Balances(_) => true,
            // Code upload and instantiation need `ConsortiumOrigin`; calls to deployed contracts
            // are open to signed accounts (the directory contract decides who may do what).
            RuntimeCall::Contracts(_) => true,
            // Their calls check their own origins (council majority, node owners).
            RuntimeCall::Council(_)
            | RuntimeCall::CouncilMembership(_)
            | RuntimeCall::Treasury(_)
            | RuntimeCall::NodeAuthorization(_)
            | RuntimeCall::Governance(_) => true,
            // Inherents and equivocation reports.
            RuntimeCall::Timestamp(_) | RuntimeCall::Grandpa(_) => true,
        }
    }
}

/// Whether `call` moves funds from its signer, directly or inside a batch.
fn moves_funds(call: &RuntimeCall, depth: u32) -> bool {
    use pallet_balances::Call as Balances;
    use pallet_utility::Call as Utility;
    match call {
        RuntimeCall::Balances(
            Balances::transfer_allow_death { .. }
            | Balances::transfer_keep_alive { .. }
            | Balances::transfer_all { .. },
        ) => true,
        RuntimeCall::Utility(
            Utility::batch { calls } | Utility::batch_all { calls } | Utility::force_batch { calls },
        ) => depth == 0 || calls.iter().any(|c| moves_funds(c, depth - 1)),
        _ => false,
    }
}

/// How deep batches are looked into; a deeper nesting counts as moving funds.
const BATCH_DEPTH: u32 = 4;

/// `InvalidTransaction::Custom` code of a transfer from a key that is not the treasury's.
pub const NOT_TREASURY: u8 = 1;

/// A transaction that moves funds is valid only when a treasury key signs it. The chain's
/// transaction pool refuses the others before they reach a block (the client sees
/// `InvalidTransaction::Custom(1)`).
#[derive(Encode, Decode, Clone, Eq, PartialEq, Default, TypeInfo)]
pub struct TransfersFromTreasuryOnly;

impl core::fmt::Debug for TransfersFromTreasuryOnly {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        f.write_str("TransfersFromTreasuryOnly")
    }
}

impl SignedExtension for TransfersFromTreasuryOnly {
    const IDENTIFIER: &'static str = "TransfersFromTreasuryOnly";
    type AccountId = AccountId;
    type Call = RuntimeCall;
    type AdditionalSigned = ();
    type Pre = ();

    fn additional_signed(&self) -> Result<(), TransactionValidityError> {
        Ok(())
    }

    fn validate(
        &self,
        who: &AccountId,
        call: &RuntimeCall,
        _info: &DispatchInfoOf<RuntimeCall>,
        _len: usize,
    ) -> TransactionValidity {
        if moves_funds(call, BATCH_DEPTH) && !pallet_membership::Pallet::<Runtime, TreasuryInstance>::contains(who) {
            return Err(InvalidTransaction::Custom(NOT_TREASURY).into());
        }
        Ok(ValidTransaction::default())
    }

    fn pre_dispatch(
        self,
        who: &AccountId,
        call: &RuntimeCall,
        info: &DispatchInfoOf<RuntimeCall>,
        len: usize,
    ) -> Result<(), TransactionValidityError> {
        self.validate(who, call, info, len).map(|_| ())
    }
}

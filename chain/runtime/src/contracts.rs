//! pallet-contracts as a consortium configures it: code only from governance, no runtime calls
//! or chain extensions for contracts, no unstable host functions, deposits that price state.

use crate::{
    consortium::ConsortiumOrigin, Balance, Balances, RandomnessCollectiveFlip, Runtime, RuntimeCall, RuntimeEvent,
    RuntimeHoldReason, Timestamp, UNIT,
};
use frame_support::{
    parameter_types,
    traits::{ConstBool, ConstU32, Nothing},
};
use sp_runtime::Perbill;

/// Dry runs over RPC return no debug buffer (Custodia's contracts print nothing; a production
/// node should not spend on it).
pub const DRY_RUN_DEBUG: pallet_contracts::DebugInfo = pallet_contracts::DebugInfo::Skip;
/// Dry runs over RPC return the events they would emit (clients decode them; on chain, events
/// are always deposited).
pub const DRY_RUN_EVENTS: pallet_contracts::CollectEvents = pallet_contracts::CollectEvents::UnsafeCollect;

/// The deposit for `items` storage items of `bytes` bytes in all: 0.1 UNIT an item and
/// 0.005 UNIT a byte (a record version of a few hundred bytes holds about 1-2 UNIT).
const fn deposit(items: u32, bytes: u32) -> Balance {
    (items as Balance * UNIT + bytes as Balance * (5 * UNIT / 1_000)) / 10
}

parameter_types! {
    pub const DepositPerItem: Balance = deposit(1, 0);
    pub const DepositPerByte: Balance = deposit(0, 1);
    pub const DefaultDepositLimit: Balance = deposit(1024, 1024 * 1024);
    pub const CodeHashLockupDepositPercent: Perbill = Perbill::from_percent(0);
    pub Schedule: pallet_contracts::Schedule<Runtime> = Default::default();
}

impl pallet_contracts::Config for Runtime {
    type Time = Timestamp;
    type Randomness = RandomnessCollectiveFlip;
    type Currency = Balances;
    type RuntimeEvent = RuntimeEvent;
    type RuntimeCall = RuntimeCall;
    // Contracts dispatch no runtime calls and use no chain extension.
    type CallFilter = Nothing;
    type ChainExtension = ();
    type DepositPerItem = DepositPerItem;
    type DepositPerByte = DepositPerByte;
    type DefaultDepositLimit = DefaultDepositLimit;
    type CodeHashLockupDepositPercent = CodeHashLockupDepositPercent;
    type CallStack = [pallet_contracts::Frame<Self>; 8];
    type WeightPrice = pallet_transaction_payment::Pallet<Self>;
    type WeightInfo = pallet_contracts::weights::SubstrateWeight<Self>;
    type Schedule = Schedule;
    type AddressGenerator = pallet_contracts::DefaultAddressGenerator;
    // The largest Custodia contract is 48 KB; the stable2409 default bound.
    type MaxCodeLen = ConstU32<{ 128 * 1024 }>;
    type MaxStorageKeyLen = ConstU32<128>;
    type MaxTransientStorageSize = ConstU32<{ 1024 * 1024 }>;
    type MaxDebugBufferLen = ConstU32<{ 2 * 1024 * 1024 }>;
    type MaxDelegateDependencies = ConstU32<32>;
    type UnsafeUnstableInterface = ConstBool<false>;
    type RuntimeHoldReason = RuntimeHoldReason;
    type Environment = ();
    type Debug = ();
    type ApiVersion = ();
    type Migrations = ();
    type Xcm = ();
    // Only a council majority uploads and instantiates code, as the consortium account.
    type UploadOrigin = ConsortiumOrigin;
    type InstantiateOrigin = ConsortiumOrigin;
}

//! The council's root power, and its limit: `Governance::enact(call)` dispatches `call` as root
//! when two thirds of the council carry it. It is the chain's only root path (there is no
//! sudo): a runtime upgrade (`System::set_code`), a forced balance or a storage repair happen
//! only this way, announced by `Enacted`.
//!
//! One thing root may not do even so: change a deployed contract's code (`Contracts::set_code`)
//! behind the directory's back. Contract code changes go through the directory's own M-of-N
//! governance (`Action::SetCode`), which the contracts announce; the council only uploads code.

pub use pallet::*;

#[frame_support::pallet]
pub mod pallet {
    use alloc::boxed::Box;
    use frame_support::{
        dispatch::{GetDispatchInfo, PostDispatchInfo},
        pallet_prelude::*,
        traits::{Contains, EnsureOrigin},
    };
    use frame_system::pallet_prelude::*;
    use sp_runtime::traits::Dispatchable;

    #[pallet::pallet]
    pub struct Pallet<T>(_);

    #[pallet::config]
    pub trait Config: frame_system::Config {
        /// The runtime's event.
        type RuntimeEvent: From<Event<Self>> + IsType<<Self as frame_system::Config>::RuntimeEvent>;
        /// The runtime's call.
        type RuntimeCall: Parameter
            + Dispatchable<RuntimeOrigin = Self::RuntimeOrigin, PostInfo = PostDispatchInfo>
            + GetDispatchInfo;
        /// Who may enact a call as root: a council supermajority.
        type EnactOrigin: EnsureOrigin<Self::RuntimeOrigin>;
        /// Calls that are not enacted even so.
        type NeverEnacted: Contains<<Self as Config>::RuntimeCall>;
    }

    #[pallet::event]
    #[pallet::generate_deposit(pub(super) fn deposit_event)]
    pub enum Event<T: Config> {
        /// A call was dispatched as root by the council; its result.
        Enacted { result: DispatchResult },
    }

    #[pallet::error]
    pub enum Error<T> {
        /// Root may not make this call: a contract's code changes only through the directory's
        /// governance.
        NeverEnacted,
    }

    #[pallet::call]
    impl<T: Config> Pallet<T> {
        /// Dispatches `call` as root. Origin: `EnactOrigin` (two thirds of the council).
        #[pallet::call_index(0)]
        #[pallet::weight({
            let info = call.get_dispatch_info();
            (info.weight.saturating_add(T::DbWeight::get().writes(1)), info.class)
        })]
        pub fn enact(origin: OriginFor<T>, call: Box<<T as Config>::RuntimeCall>) -> DispatchResult {
            T::EnactOrigin::ensure_origin(origin)?;
            ensure!(!T::NeverEnacted::contains(&call), Error::<T>::NeverEnacted);
            let result = call.dispatch(frame_system::RawOrigin::Root.into()).map(|_| ()).map_err(|e| e.error);
            Self::deposit_event(Event::Enacted { result });
            Ok(())
        }
    }
}

//! Contract call data as each of the four contracts reads it: ink!'s generated message
//! decoder (the selector, then the message's arguments in SCALE) on any bytes answers a message
//! or a dispatch error (`InvalidSelector`, `InvalidParameters`: on chain, `CouldNotReadInput`),
//! never a panic, and reads the same bytes the same way twice. This is the contracts' own
//! decoding (of `NewVersion`, `Terms`, `NewEntry`, `FlagSet`, every argument type) compiled
//! natively, so that coverage guides it; `tests/tests/campaign.rs` sends mutated call data to
//! the contracts in the runtime, where no coverage is seen.
#![no_main]

use ink::reflect::{ContractMessageDecoder, DecodeDispatch, DispatchError};

/// What `C`'s decoder makes of `data`: how many bytes the message it read took, or why it read
/// none.
fn read<C: ContractMessageDecoder>(data: &[u8]) -> Result<usize, DispatchError>
where
    C::Type: DecodeDispatch,
{
    let mut input = data;
    <C::Type as DecodeDispatch>::decode_dispatch(&mut input).map(|_| data.len() - input.len())
}

fn twice<C: ContractMessageDecoder>(data: &[u8])
where
    C::Type: DecodeDispatch,
{
    let once = read::<C>(data);
    assert_eq!(format!("{once:?}"), format!("{:?}", read::<C>(data)), "decoding is deterministic");
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    twice::<directory::Directory>(data);
    twice::<records::Records>(data);
    twice::<consents::Consents>(data);
    twice::<access_log::AccessLog>(data);
});

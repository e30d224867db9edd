//! One bit set for every set of flags the contracts keep: an institution's [`Roles`] and a
//! receipt's [`Purposes`].
//!
//! [`Roles`]: crate::directory::Roles
//! [`Purposes`]: crate::consents::Purposes

use core::{fmt, marker::PhantomData};

/// A flag a [`FlagSet`] can hold: a fieldless enum whose variants are its bits.
pub trait Flag: Copy {
    /// Every bit a flag of this kind uses; any other bit makes a set invalid.
    const ALL_BITS: u16;

    /// The bit of this flag.
    fn bit(self) -> u16;
}

/// The word a [`FlagSet`] is stored in. Roles keep one byte and purposes two, as they always
/// have: the encoding of a stored set never changes.
pub trait Bits: Copy + Eq + Default {
    /// The bits, widened.
    fn to_bits(self) -> u16;

    /// The low bits of `bits` (flags never use more bits than their word holds).
    fn from_bits(bits: u16) -> Self;
}

impl Bits for u8 {
    fn to_bits(self) -> u16 {
        u16::from(self)
    }

    fn from_bits(bits: u16) -> Self {
        bits.to_le_bytes()[0]
    }
}

impl Bits for u16 {
    fn to_bits(self) -> u16 {
        self
    }

    fn from_bits(bits: u16) -> Self {
        bits
    }
}

/// A set of flags of kind `F`, stored in the word `B`. It encodes exactly as `B` does (the
/// flag kind is only a type), so sets written before it existed decode unchanged.
#[ink::scale_derive(Encode, Decode, TypeInfo)]
#[codec(encode_bound(B: ink::scale::Encode))]
#[codec(decode_bound(B: ink::scale::Decode))]
#[cfg_attr(feature = "std", scale_info(skip_type_params(F), bounds(B: ink::scale_info::TypeInfo + 'static)))]
pub struct FlagSet<F, B> {
    /// The bits as stored; valid sets use only the bits of `F`'s flags.
    pub bits: B,
    flags: PhantomData<F>,
}

impl<F: Flag, B: Bits> FlagSet<F, B> {
    /// No flag at all.
    pub fn none() -> Self {
        Self::from_bits(B::default())
    }

    /// The set whose stored bits are `bits`, valid or not (see [`FlagSet::is_valid`]).
    pub fn from_bits(bits: B) -> Self {
        FlagSet { bits, flags: PhantomData }
    }

    /// The set holding exactly `flags`.
    pub fn of(flags: &[F]) -> Self {
        flags.iter().fold(Self::none(), |set, flag| set.with(*flag))
    }

    /// This set plus `flag`.
    #[must_use]
    pub fn with(self, flag: F) -> Self {
        Self::from_bits(B::from_bits(self.bits.to_bits() | flag.bit()))
    }

    /// True if the set holds `flag`.
    pub fn contains(self, flag: F) -> bool {
        self.bits.to_bits() & flag.bit() != 0
    }

    /// True if the set holds at least one flag and no unknown bit.
    pub fn is_valid(self) -> bool {
        let bits = self.bits.to_bits();
        bits != 0 && bits & !F::ALL_BITS == 0
    }
}

// Written out rather than derived: a derive would ask the flag kind `F` for each trait, which
// only the stored word needs.
impl<F, B: Copy> Clone for FlagSet<F, B> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<F, B: Copy> Copy for FlagSet<F, B> {}

impl<F, B: PartialEq> PartialEq for FlagSet<F, B> {
    fn eq(&self, other: &Self) -> bool {
        self.bits == other.bits
    }
}

impl<F, B: Eq> Eq for FlagSet<F, B> {}

impl<F, B: Default> Default for FlagSet<F, B> {
    fn default() -> Self {
        FlagSet { bits: B::default(), flags: PhantomData }
    }
}

impl<F, B: fmt::Binary> fmt::Debug for FlagSet<F, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FlagSet({:#b})", self.bits)
    }
}

#[cfg(feature = "std")]
impl<F: 'static, B: ink::storage::traits::StorageLayout + ink::scale_info::TypeInfo + 'static>
    ink::storage::traits::StorageLayout for FlagSet<F, B>
{
    fn layout(key: &ink::primitives::Key) -> ink::metadata::layout::Layout {
        use ink::metadata::layout::{FieldLayout, Layout, StructLayout};
        Layout::Struct(StructLayout::new("FlagSet", [FieldLayout::new("bits", B::layout(key))]))
    }
}

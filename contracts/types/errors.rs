//! What the registries' errors share: one shape for a refused batch, one spelling for a
//! registry that could not be called and for an id that is all zeros, and the one reading of
//! a cross-contract call's result.

/// Why a batch message was refused: the error, and the position of the item that caused it
/// (`None` when the batch as a whole was refused). Nothing of a refused batch is written.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
#[ink::scale_derive(Encode, Decode, TypeInfo)]
pub struct BatchError<E> {
    /// Index of the refused item in the batch, if one was.
    pub item: Option<u32>,
    /// What was wrong.
    pub error: E,
}

impl<E> BatchError<E> {
    /// The whole batch was refused.
    pub fn whole(error: E) -> Self {
        BatchError { item: None, error }
    }

    /// The item at `index` was refused.
    pub fn at(index: u32, error: E) -> Self {
        BatchError { item: Some(index), error }
    }
}

/// A registry another one calls: named by the error of a call that could not be made or whose
/// answer could not be read (`RegistryUnavailable(Registry::Directory)`).
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
#[ink::scale_derive(Encode, Decode, TypeInfo)]
pub enum Registry {
    Directory,
    Records,
    Consents,
    AccessLog,
}

/// Which id of a call was all zeros (`ZeroId(IdField::Record)`): no id of the suite may be.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
#[ink::scale_derive(Encode, Decode, TypeInfo)]
pub enum IdField {
    Patient,
    Record,
    Commitment,
    /// A kind or category code.
    Code,
    /// A version number (versions count from 1).
    Version,
    Account,
}

/// The value a cross-contract call returned, or `None` if the call could not be made, the
/// callee trapped, or its answer did not decode. Every registry reads its calls this way and
/// names the callee in its `RegistryUnavailable` error.
pub fn answered<T>(result: ink::env::Result<ink::MessageResult<T>>) -> Option<T> {
    match result {
        Ok(Ok(value)) => Some(value),
        _ => None,
    }
}

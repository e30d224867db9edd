//! The one error type of the client: a variant per phase of a call, the contract's own error
//! kept typed.

use scale::Encode;
use scale_info::{TypeDef, TypeInfo};

/// What went wrong, and in which phase.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The chain could not be reached or answered with an RPC error.
    #[error("cannot reach the chain: {0}")]
    Connection(String),
    /// The dry run failed below the contract (e.g. the contract trapped, ran out of gas, or
    /// the address holds no contract).
    #[error("dry run failed: {0}")]
    DryRun(String),
    /// The contract refused the call; nothing was submitted.
    #[error("{0}")]
    Contract(#[from] ContractError),
    /// The chain refuses a queued access-log entry for good (e.g. its receipt was revoked
    /// before it was submitted); it stays queued, and so do the ones after it.
    #[error("the chain refuses queued entry {seq}: {error}; drop it with `custodia access discard {seq}` (later entries are renumbered)")]
    QueuedEntryRefused {
        /// The entry's number.
        seq: u64,
        /// Why.
        error: ContractError,
    },
    /// The transaction could not be signed or was rejected by the transaction pool.
    #[error("submission failed: {0}")]
    Submission(String),
    /// The transaction was included but failed, or its inclusion could not be followed.
    #[error("inclusion failed: {0}")]
    Inclusion(String),
    /// An answer of the chain or a contract could not be decoded.
    #[error("cannot decode {what}: {detail}")]
    Decoding {
        /// What was being decoded.
        what: &'static str,
        /// The decoder's complaint.
        detail: String,
    },
    /// The deployment file is missing, malformed, or names another chain or other contracts.
    #[error("deployment: {0}")]
    Deployment(String),
    /// A key could not be loaded.
    #[error("key: {0}")]
    Key(String),
    /// The local store (outbox, index, salts) failed.
    #[error("local store: {0}")]
    Store(String),
    /// An argument was out of range before anything reached the chain.
    #[error("invalid input: {0}")]
    Input(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What the OS said.
        source: std::io::Error,
    },
}

impl Error {
    pub(crate) fn decoding(what: &'static str, detail: impl ToString) -> Self {
        Error::Decoding { what, detail: detail.to_string() }
    }

    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        Error::Io { path: path.display().to_string(), source }
    }

    pub(crate) fn store(error: impl ToString) -> Self {
        Error::Store(error.to_string())
    }

    /// The contract error, if the contract refused the call.
    pub fn contract(&self) -> Option<&ContractError> {
        match self {
            Error::Contract(error) => Some(error),
            _ => None,
        }
    }
}

/// The client's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error a Custodia contract returned, as the contract's own type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContractError {
    /// The directory refused the call.
    Directory(directory::Error),
    /// The records registry refused the call.
    Records(records::Error),
    /// The records registry refused a batch; `item` is the refused version's position.
    RecordsBatch(records::BatchError),
    /// The consents registry refused the call.
    Consents(consents::Error),
    /// The access log refused the call.
    AccessLog(access_log::Error),
    /// The access log refused a batch; `item` is the refused entry's position.
    AccessLogBatch(access_log::BatchError),
}

impl std::error::Error for ContractError {}

impl std::fmt::Display for ContractError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (registry, explained, item) = match self {
            ContractError::Directory(e) => ("directory", explain(e), None),
            ContractError::Records(e) => ("records", explain(e), None),
            ContractError::RecordsBatch(b) => ("records", explain(&b.error), b.item),
            ContractError::Consents(e) => ("consents", explain(e), None),
            ContractError::AccessLog(e) => ("access log", explain(e), None),
            ContractError::AccessLogBatch(b) => ("access log", explain(&b.error), b.item),
        };
        write!(f, "the {registry} contract refused the call: {explained}")?;
        if let Some(item) = item {
            write!(f, " (item {item} of the batch; nothing was written)")?;
        }
        Ok(())
    }
}

macro_rules! from_contract_error {
    ($($from:ty => $variant:ident),* $(,)?) => {
        $(impl From<$from> for ContractError {
            fn from(error: $from) -> Self {
                ContractError::$variant(error)
            }
        })*
    };
}

from_contract_error! {
    directory::Error => Directory,
    records::Error => Records,
    records::BatchError => RecordsBatch,
    consents::Error => Consents,
    access_log::Error => AccessLog,
    access_log::BatchError => AccessLogBatch,
}

/// `Name: what the contract's docs say of it` for a unit variant of a contract error enum,
/// read from the type's own documentation (scale-info), so the message cannot drift from the
/// contract.
pub fn explain<E: TypeInfo + Encode + std::fmt::Debug>(error: &E) -> String {
    let index = error.encode().first().copied();
    let info = E::type_info();
    let doc = match (&info.type_def, index) {
        (TypeDef::Variant(def), Some(index)) => def
            .variants
            .iter()
            .find(|variant| variant.index == index)
            .map(|variant| variant.docs.join(" ")),
        _ => None,
    };
    match doc {
        Some(doc) if !doc.is_empty() => {
            let doc = doc.trim();
            let doc = doc.strip_prefix("Returned if ").unwrap_or(doc).trim_end_matches('.');
            format!("{error:?} ({doc})")
        }
        _ => format!("{error:?}"),
    }
}

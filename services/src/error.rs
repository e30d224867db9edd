//! The services' error: the client's, the store's, and what only a service can tell.

use custodia_client::ContractError;

/// What went wrong in a service.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A call to the chain failed (see the client's error for the phase).
    #[error(transparent)]
    Client(#[from] custodia_client::Error),
    /// The local store failed.
    #[error("local store: {0}")]
    Store(Box<redb::Error>),
    /// The local store belongs to another chain or deployment.
    #[error("the local store belongs to another chain or deployment")]
    WrongStore,
    /// Something the store holds could not be decoded (a store written by another version?).
    #[error("cannot decode {what} from the local store: {source}")]
    Corrupt {
        /// What was being decoded.
        what: &'static str,
        /// The decoder's error.
        #[source]
        source: scale::Error,
    },
    /// The chain refuses a queued access-log entry for good (e.g. its receipt was revoked
    /// before it was submitted); it stays queued, and so do the ones after it, until it is
    /// discarded.
    #[error("the chain refuses queued entry {seq}: {error}")]
    QueuedEntryRefused {
        /// The entry's number.
        seq: u64,
        /// Why.
        error: ContractError,
    },
    /// The chain holds another entry under a number this outbox used (another engine with
    /// the same key, or a store restored from a backup and used offline). The outbox's entries
    /// under those numbers were not logged; they are queued again under fresh numbers, for the
    /// next flush.
    #[error("the chain holds other entries under numbers {seqs:?} of this account; this outbox's entries are queued again as {requeued:?}")]
    SequenceConflict {
        /// The numbers the chain holds with other content.
        seqs: Vec<u64>,
        /// The fresh numbers the outbox's entries now wait under.
        requeued: Vec<u64>,
    },
    /// Entries were queued, but the chain could not be reached to submit them: they wait in
    /// the outbox for the next flush.
    #[error("{queued} entries are queued; the chain could not be reached: {source}")]
    QueuedOffline {
        /// How many entries were queued.
        queued: usize,
        /// Why the chain could not be reached.
        #[source]
        source: custodia_client::Error,
    },
    /// The event index and the chain disagree (events missing or out of order).
    #[error("the index {0}")]
    Index(String),
    /// An argument was out of range.
    #[error("invalid input: {0}")]
    Input(String),
    /// A FHIR server could not be read (after retries), or served a history that cannot be
    /// followed; nothing was skipped.
    #[error(transparent)]
    Server(#[from] crate::fhir_server::ServerError),
    /// A FHIR file or resource was refused.
    #[error(transparent)]
    Fhir(Box<custodia_fhir::FhirError>),
}

impl Error {
    /// The contract error, if a contract refused the call.
    pub fn contract(&self) -> Option<&ContractError> {
        match self {
            Error::Client(error) => error.contract(),
            Error::QueuedEntryRefused { error, .. } => Some(error),
            _ => None,
        }
    }

    /// True if the chain could not be reached (and nothing is lost: see the variant).
    pub fn is_disconnected(&self) -> bool {
        match self {
            Error::Client(error) => error.is_disconnected(),
            Error::QueuedOffline { .. } => true,
            _ => false,
        }
    }

    /// True if a FHIR server could not be reached or answered with an error status (a retry
    /// later may succeed; nothing was skipped).
    pub fn is_server_unavailable(&self) -> bool {
        use crate::fhir_server::ServerError;
        matches!(self, Error::Server(ServerError::Unreachable { .. } | ServerError::Status { .. }))
    }

    pub(crate) fn corrupt(what: &'static str) -> impl FnOnce(scale::Error) -> Self {
        move |source| Error::Corrupt { what, source }
    }
}

impl From<custodia_fhir::FhirError> for Error {
    fn from(error: custodia_fhir::FhirError) -> Self {
        Error::Fhir(Box::new(error))
    }
}

macro_rules! from_redb {
    ($($error:ty),*) => {
        $(impl From<$error> for Error {
            fn from(error: $error) -> Self {
                Error::Store(Box::new(error.into()))
            }
        })*
    };
}

from_redb!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

/// The services' result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

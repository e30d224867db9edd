//! The one error type of the client: a variant per phase of a call, each keeping the typed
//! error it came from, and the contract's own error kept typed.
//!
//! Callers decide what to do with predicates rather than by reading messages:
//! [`Error::is_disconnected`] (retry later: nothing is known to have happened),
//! [`Error::is_inclusion_unknown`] (the transaction may or may not be on chain),
//! [`Error::contract`] (the contract refused; nothing changed).

use scale::Encode;
use scale_info::{TypeDef, TypeInfo};

/// Any error a backend or a library below the client returned, kept as its own type.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What went wrong, and in which phase.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The chain could not be reached, or the connection was lost before anything was sent.
    #[error("cannot reach the chain at {endpoint}: {source}")]
    Connection {
        /// The endpoint (a node URL).
        endpoint: String,
        /// The transport's error.
        #[source]
        source: BoxError,
    },
    /// The dry run failed below the contract (it trapped, ran out of gas, or the address holds
    /// no contract).
    #[error("dry run failed: {0}")]
    DryRun(#[source] DispatchFailure),
    /// The contract did not understand the call (ink!'s `LangError`): the address holds other
    /// code than the call was built for.
    #[error("the contract did not understand the call ({0:?}); is the deployment's address the right contract?")]
    NotUnderstood(ink::LangError),
    /// The contract refused the call; nothing was submitted.
    #[error(transparent)]
    Contract(#[from] ContractError),
    /// The transaction could not be signed, or the transaction pool refused it.
    #[error("submission failed: {0}")]
    Submission(#[source] SubmissionError),
    /// The transaction was submitted, then failed on chain or could not be followed.
    #[error("inclusion failed: {0}")]
    Inclusion(#[source] InclusionError),
    /// An answer of the chain or a contract could not be decoded.
    #[error("cannot decode {what}: {source}")]
    Decoding {
        /// What was being decoded.
        what: &'static str,
        /// The decoder's error.
        #[source]
        source: BoxError,
    },
    /// The deployment file is missing or malformed, or names another chain or other contracts.
    #[error("deployment: {0}")]
    Deployment(#[source] DeploymentError),
    /// A council motion (the chain's governance of code) could not be made or carried.
    #[error("council: {0}")]
    Council(#[source] CouncilError),
    /// A key could not be loaded.
    #[error("key: {0}")]
    Key(#[source] KeyError),
    /// An argument was out of range before anything reached the chain.
    #[error("invalid input: {0}")]
    Input(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// A decoding error of `what`.
    pub fn decoding(what: &'static str, source: impl Into<BoxError>) -> Self {
        Error::Decoding { what, source: source.into() }
    }

    /// An I/O error on `path`.
    pub fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        Error::Io { path: path.display().to_string(), source }
    }

    /// The contract error, if the contract refused the call.
    pub fn contract(&self) -> Option<&ContractError> {
        match self {
            Error::Contract(error) => Some(error),
            _ => None,
        }
    }

    /// True if the chain could not be reached and nothing was sent: the same call may go
    /// through later.
    pub fn is_disconnected(&self) -> bool {
        matches!(self, Error::Connection { .. })
    }

    /// True if the transaction lost its nonce to another transaction of the same account
    /// (refused as stale, or dropped while waiting): nothing of it is on chain, and the same
    /// call, judged again and signed with a fresh nonce, may go through.
    pub fn is_nonce_taken(&self) -> bool {
        matches!(
            self,
            Error::Submission(SubmissionError::StaleNonce { .. }) | Error::Inclusion(InclusionError::Dropped { .. })
        )
    }

    /// True if a transaction was sent but whether it reached a block is unknown (the
    /// connection was lost while waiting): the caller must find out from the chain's state.
    pub fn is_inclusion_unknown(&self) -> bool {
        matches!(self, Error::Inclusion(InclusionError::ConnectionLost(_) | InclusionError::Timeout { .. }))
    }
}

/// The client's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A runtime dispatch error, as the runtime's metadata names and explains it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}{}", self.name(), self.docs.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
pub struct DispatchFailure {
    /// The pallet, for a module error (`Contracts`); `None` for the runtime's other errors.
    pub pallet: Option<String>,
    /// The error's name (`ContractTrapped`, `BadOrigin`, …).
    pub error: String,
    /// What the pallet's documentation says of it, where known.
    pub docs: Option<String>,
}

impl DispatchFailure {
    /// `Pallet::Error`, or the error alone.
    pub fn name(&self) -> String {
        match &self.pallet {
            Some(pallet) => format!("{pallet}::{}", self.error),
            None => self.error.clone(),
        }
    }

    /// True if this is pallet `pallet`'s error `error`.
    pub fn is(&self, pallet: &str, error: &str) -> bool {
        self.pallet.as_deref() == Some(pallet) && self.error == error
    }

    /// True if the contract reverted (pallet-contracts' `ContractReverted`): the contract
    /// refused the call on chain, where the dry run had accepted it.
    pub fn is_contract_reverted(&self) -> bool {
        self.is("Contracts", "ContractReverted")
    }
}

/// Why a transaction was not accepted for inclusion.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SubmissionError {
    /// The transaction could not be built or signed.
    #[error("cannot build or sign the transaction: {0}")]
    Signing(#[source] BoxError),
    /// The node's transaction pool refused it (an invalid transaction).
    #[error("the node refused the transaction: {0}")]
    Refused(#[source] BoxError),
    /// The pool says the nonce it was signed with is used already: another transaction of the
    /// account took it (e.g. one sent before a lost connection, still on its way).
    #[error("nonce {nonce} is taken already (an earlier transaction of the account, perhaps cut off, used it)")]
    StaleNonce {
        /// The nonce it was signed with.
        nonce: u32,
    },
    /// The runtime refused it before any contract ran (e.g. the account cannot pay).
    #[error("the runtime refused the transaction: {0}")]
    Dispatch(#[source] DispatchFailure),
}

/// Why a submitted transaction did not end well, or its end is unknown.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InclusionError {
    /// It is in a block, and failed there.
    #[error("the transaction failed on chain: {0}")]
    Failed(#[source] DispatchFailure),
    /// Another transaction of the same account took its nonce: it will never be included.
    #[error("dropped: another transaction of the account took nonce {nonce} first")]
    Dropped {
        /// The nonce it was signed with.
        nonce: u32,
    },
    /// No block held it within the time the client waits.
    #[error("not in a block after {seconds} s; it may still be included")]
    Timeout {
        /// How long the client waited.
        seconds: u64,
    },
    /// The connection was lost while waiting: the transaction may or may not be on chain.
    #[error("the connection was lost before inclusion was confirmed; the transaction may or may not be on chain: {0}")]
    ConnectionLost(#[source] BoxError),
    /// The chain did what the client cannot reconcile (e.g. no `Instantiated` event, or a
    /// block the node forgot).
    #[error("{0}")]
    Unexpected(String),
}

/// Why a council motion was not made or not carried.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CouncilError {
    /// The chain has no council: code is not governed there.
    #[error("the chain has no council (its runtime has no `Council` pallet)")]
    NoCouncil,
    /// Only members propose and vote.
    #[error("{account} is not a member of the council")]
    NotAMember {
        /// The account (SS58).
        account: String,
    },
    /// The motion still lacks approvals.
    #[error(
        "motion 0x{} has {ayes} of the {threshold} approvals it needs; other members approve it with `custodia chain approve 0x{}`",
        hex::encode(motion),
        hex::encode(motion)
    )]
    NotCarried {
        /// The motion's hash.
        motion: crate::backend::Hash,
        /// Approvals so far.
        ayes: u32,
        /// Approvals it needs.
        threshold: u32,
    },
    /// No motion with this hash is open.
    #[error("no open motion 0x{}", hex::encode(motion))]
    NoMotion {
        /// The hash asked for.
        motion: crate::backend::Hash,
    },
}

/// What is wrong with a deployment.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeploymentError {
    /// The deployment file cannot be read.
    #[error("cannot read {path}: {source}")]
    Unreadable {
        /// The file.
        path: String,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The deployment file is not a deployment.
    #[error("{path} is malformed: {source}")]
    Malformed {
        /// The file.
        path: String,
        /// What the parser said.
        #[source]
        source: serde_json::Error,
    },
    /// A contract bundle cannot be read.
    #[error("cannot read the contract bundle {path}: {source}")]
    Bundle {
        /// The bundle's Wasm file.
        path: String,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The backend is another chain than the deployment's.
    #[error(
        "the deployment is for chain 0x{} but the backend is chain 0x{}: wrong node or wrong deployment file",
        hex::encode(expected),
        hex::encode(found)
    )]
    WrongChain {
        /// The deployment's genesis hash.
        expected: [u8; 32],
        /// The backend's.
        found: [u8; 32],
    },
    /// No contract is at one of the deployment's addresses.
    #[error("no contract at {address} (the {contract} address in the deployment file)")]
    NoContract {
        /// Which of the suite's contracts.
        contract: &'static str,
        /// Its address (SS58).
        address: String,
    },
    /// The contract at one of the addresses runs other code.
    #[error(
        "the contract at {address} ({contract}) runs code 0x{}, the deployment file says 0x{}",
        hex::encode(found),
        hex::encode(expected)
    )]
    WrongCode {
        /// Which of the suite's contracts.
        contract: &'static str,
        /// Its address (SS58).
        address: String,
        /// The code hash the deployment file records.
        expected: [u8; 32],
        /// The code hash on chain.
        found: [u8; 32],
    },
    /// A contract of the deployment is wired to another contract than the deployment's own
    /// (e.g. the same code deployed under a rogue directory).
    #[error("the {contract} contract's {field} is {found}, the deployment's is {expected}: a suite wired elsewhere")]
    WrongWiring {
        /// Which of the suite's contracts.
        contract: &'static str,
        /// Which of its links (`directory`, `records`, `consents`).
        field: &'static str,
        /// The deployment's contract (SS58).
        expected: String,
        /// What the contract is wired to (SS58).
        found: String,
    },
    /// The records registry is not attached to the directory and no attach proposal is
    /// pending: the directory could not make it forget removed accounts.
    #[error(
        "the {contract} contract is not attached to the deployment's directory (and no attach proposal is pending)"
    )]
    NotAttached {
        /// Which of the suite's contracts.
        contract: &'static str,
    },
}

/// Why a key could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// No key was named.
    #[error("no key given")]
    Missing,
    /// The text is not a secret URI (mnemonic, seed, derivation path).
    #[error("not a secret URI: {0}")]
    NotASecretUri(String),
    /// A keystore file other users can read.
    #[error("{path} is readable by group or others (mode {mode:o}); chmod 600 it")]
    Exposed {
        /// The keystore file.
        path: String,
        /// Its mode bits.
        mode: u32,
    },
    /// A keystore file that holds no valid secret URI.
    #[error("{path} holds no valid secret URI")]
    BadKeystore {
        /// The keystore file.
        path: String,
    },
    /// A secret file of the wrong length.
    #[error("{path} is not a 32-byte secret")]
    BadSecret {
        /// The secret file.
        path: String,
    },
    /// The deployment derives codes with a network code key, and there is none at `path`.
    #[error(
        "no network code key at {path}: this deployment's category codes are derived with the key of fingerprint \
         0x{}; get it from the network's operators (the deployer's codes.key) over a confidential channel",
        hex::encode(fingerprint)
    )]
    MissingCodeKey {
        /// Where the key was looked for.
        path: String,
        /// The fingerprint the deployment names.
        fingerprint: [u8; 32],
    },
    /// The code key at `path` is not the deployment's.
    #[error("the code key at {path} is not this deployment's (its fingerprint is 0x{})", hex::encode(fingerprint))]
    WrongCodeKey {
        /// The key file.
        path: String,
        /// The fingerprint the deployment names.
        fingerprint: [u8; 32],
    },
}

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

/// Every variant of a contract error enum, by its index, as `Name (what the docs say)`: for
/// readers that see only the encoded error (the explorer's page names a refusal with it).
pub fn variants<E: TypeInfo>() -> Vec<(u8, String)> {
    match E::type_info().type_def {
        TypeDef::Variant(def) => def
            .variants
            .iter()
            .map(|variant| {
                let doc = variant.docs.join(" ");
                let doc = doc.trim();
                let doc = doc.strip_prefix("Returned if ").unwrap_or(doc).trim_end_matches('.');
                let text = if doc.is_empty() { variant.name.to_string() } else { format!("{} ({doc})", variant.name) };
                (variant.index, text)
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// `Name: what the contract's docs say of it` for a unit variant of a contract error enum,
/// read from the type's own documentation (scale-info), so the message cannot drift from the
/// contract.
pub fn explain<E: TypeInfo + Encode + std::fmt::Debug>(error: &E) -> String {
    let index = error.encode().first().copied();
    let info = E::type_info();
    let doc = match (&info.type_def, index) {
        (TypeDef::Variant(def), Some(index)) => {
            def.variants.iter().find(|variant| variant.index == index).map(|variant| variant.docs.join(" "))
        }
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

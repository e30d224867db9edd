//! One typed handle per registry, each call built with the contract crate's own call builder.

mod access_log;
mod consents;
mod directory;
mod records;

pub use access_log::{Access, AccessLog, Drained, InclusionProof, Stage, CHUNK};
pub use consents::Consents;
pub use directory::Directory;
pub use records::Records;

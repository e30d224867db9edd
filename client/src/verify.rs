//! Off-chain verification: salted commitments of record versions, keyed pseudonyms, and the
//! hashes the chain uses.
//!
//! A version's commitment is `SHA-256(salt || content)` with a fresh 32-byte salt per version:
//! without the salt nobody can test a guess of the content against the chain. Pseudonyms
//! (patient ids, record ids, code ids) are `HMAC-SHA-256(deployment secret, domain || local
//! id)`: stable within a deployment, unlinkable to the local id without the secret.

use crate::{backend::Hash, error::KeyError, Error, Result};
use custodia_types::{CodeId, Commitment, PatientId, RecordId};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// A per-version salt.
pub type Salt = [u8; 32];

/// A fresh random salt.
pub fn new_salt() -> Salt {
    let mut salt = [0u8; 32];
    getrandom::getrandom(&mut salt).expect("the OS random source works");
    salt
}

/// The commitment of one version: `SHA-256(salt || content)`.
pub fn commitment(salt: &Salt, content: &[u8]) -> Commitment {
    let mut hasher = Sha256::new();
    hasher.update(salt);
    hasher.update(content);
    Commitment::new(hasher.finalize().into())
}

/// BLAKE2b-256, the chain's hash (code hashes).
pub fn blake2_256(bytes: &[u8]) -> Hash {
    use blake2::{digest::consts::U32, Blake2b};
    Blake2b::<U32>::digest(bytes).into()
}

/// The deployment secret pseudonyms are derived with. Never printed; kept in the state
/// directory with owner-only permissions by the CLI.
#[derive(Clone)]
pub struct Pseudonyms {
    secret: zeroize::Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for Pseudonyms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pseudonyms(<secret>)")
    }
}

impl Pseudonyms {
    /// Pseudonyms derived with `secret`.
    pub fn new(secret: [u8; 32]) -> Self {
        Self { secret: zeroize::Zeroizing::new(secret) }
    }

    /// A new random secret.
    pub fn generate() -> Self {
        Self::new(new_salt())
    }

    /// The secret, to store it.
    pub fn secret(&self) -> &[u8; 32] {
        &self.secret
    }

    /// Loads the secret from `path`, creating it (mode 600) if missing.
    pub fn load_or_create(path: &std::path::Path) -> Result<Self> {
        if let Ok(bytes) = std::fs::read(path) {
            crate::keys::check_private(path)?;
            let secret: [u8; 32] =
                bytes.try_into().map_err(|_| Error::Key(KeyError::BadSecret { path: path.display().to_string() }))?;
            return Ok(Self::new(secret));
        }
        let fresh = Self::generate();
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        use std::io::Write;
        options
            .open(path)
            .and_then(|mut file| file.write_all(fresh.secret()).and_then(|_| file.sync_all()))
            .map_err(|e| Error::io(path, e))?;
        Ok(fresh)
    }

    fn derive(&self, domain: &str, id: &str) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.secret[..]).expect("HMAC takes any key length");
        mac.update(domain.as_bytes());
        mac.update(&[0]);
        mac.update(id.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// The on-chain id of a patient known locally as `local_id` (e.g. an MRN).
    pub fn patient(&self, local_id: &str) -> PatientId {
        PatientId::new(self.derive("custodia/patient", local_id))
    }

    /// The on-chain id of a record known locally as `local_id` (e.g. `Observation/abc`).
    pub fn record(&self, local_id: &str) -> RecordId {
        RecordId::new(self.derive("custodia/record", local_id))
    }

    /// The opaque id of a terminology code (`system|code`, e.g. `http://loinc.org|8867-4`).
    pub fn code(&self, system_and_code: &str) -> CodeId {
        CodeId::new(self.derive("custodia/code", system_and_code))
    }
}

/// An opaque locator for version `version` of `record`:
/// `custodia:<first 16 bytes of the record id, hex>/_history/<version>`. The custodian's store
/// maps it back to where the version lives; the chain learns neither the resource's local id
/// (source systems put MRNs in ids) nor its type (which would undo an opaque kind code).
pub fn opaque_locator(record: RecordId, version: &str) -> Vec<u8> {
    format!("custodia:{}/_history/{version}", hex::encode(&record.as_bytes()[..16])).into_bytes()
}

/// Parses a 32-byte id given as 0x-hex.
pub fn parse_hash(text: &str) -> Result<[u8; 32]> {
    text.strip_prefix("0x")
        .and_then(|hex| hex::decode(hex).ok())
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| Error::Input(format!("{text} is not 0x followed by 64 hex digits")))
}

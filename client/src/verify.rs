//! Off-chain verification: salted commitments of record versions, keyed pseudonyms, and the
//! hashes the chain uses.
//!
//! A version's commitment is `SHA-256(salt || content)` with a fresh 32-byte salt per version:
//! without the salt nobody can test a guess of the content against the chain. Pseudonyms
//! (patient ids, record ids) are `HMAC-SHA-256(institution secret, domain || local id)`:
//! stable within an institution, unlinkable to the local id without the secret. Terminology
//! codes are `HMAC-SHA-256(network code key, domain || system|code)` ([`CodeKey`]): the same at
//! every member institution, opaque to whoever reads the chain without the key.

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

/// How pseudonyms are derived; recorded with the secret (its file starts with the scheme's
/// code, except for V1's, which is the bare 32-byte secret).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PseudonymScheme {
    /// `HMAC-SHA-256(secret, domain || 0 || local id)`: local ids of every source system share
    /// one namespace (`Patient/1` of two systems is one patient). Kept for state made with it.
    V1,
    /// `HMAC-SHA-256(secret, domain "/v2" || 0 || source system || 0 || local id)`: a local id
    /// means something only within the system that issued it.
    V2,
}

impl PseudonymScheme {
    /// The scheme new secrets use.
    pub const CURRENT: PseudonymScheme = PseudonymScheme::V2;

    /// Its code in the secret file.
    pub const fn code(self) -> u8 {
        match self {
            PseudonymScheme::V1 => 1,
            PseudonymScheme::V2 => 2,
        }
    }
}

/// The network's key for terminology codes: every member institution derives a code's opaque
/// id (a record's kind, a consent's category) with it, so that a consent to "laboratory
/// results" covers them at every custodian, while a reader of the chain without the key
/// cannot tell one category from another. Members can: the vocabulary is small, so whoever
/// holds the key can name every kind on chain. Created with the deployment and handed to each
/// member over a confidential channel; the deployment file names only its fingerprint.
#[derive(Clone)]
pub struct CodeKey(zeroize::Zeroizing<[u8; 32]>);

impl std::fmt::Debug for CodeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CodeKey(<secret>, fingerprint 0x{})", hex::encode(self.fingerprint()))
    }
}

impl CodeKey {
    /// The key `key`.
    pub fn new(key: [u8; 32]) -> Self {
        Self(zeroize::Zeroizing::new(key))
    }

    /// A new random key (a new network's).
    pub fn generate() -> Self {
        Self::new(new_salt())
    }

    /// What the deployment file records to check that a member holds the network's key: an
    /// HMAC of a fixed label, which tells nothing about the codes.
    pub fn fingerprint(&self) -> Hash {
        hmac(&self.0, &[b"custodia/code-key-fingerprint"])
    }

    /// The opaque id of a terminology code (`system|code`, e.g. `http://loinc.org|8867-4`):
    /// codes name the same thing in every source system and at every institution.
    pub fn code(&self, system_and_code: &str) -> CodeId {
        CodeId::new(hmac(&self.0, &[b"custodia/code", system_and_code.as_bytes()]))
    }

    /// Reads the key from `path` (owner-only, 32 bytes) and checks it against the fingerprint
    /// the deployment recorded.
    pub fn load(path: &std::path::Path, fingerprint: Hash) -> Result<Self> {
        let shown = path.display().to_string();
        match Self::read(path)? {
            None => Err(Error::Key(KeyError::MissingCodeKey { path: shown, fingerprint })),
            Some(key) if key.fingerprint() != fingerprint => {
                Err(Error::Key(KeyError::WrongCodeKey { path: shown, fingerprint }))
            }
            Some(key) => Ok(key),
        }
    }

    /// Reads the key from `path`, or creates a new one there (owner-only) if there is none:
    /// what the deployer does.
    pub fn load_or_create(path: &std::path::Path) -> Result<Self> {
        if let Some(key) = Self::read(path)? {
            return Ok(key);
        }
        let fresh = Self::generate();
        write_private(path, &fresh.0[..])?;
        Ok(fresh)
    }

    /// The key at `path`, if there is a file.
    fn read(path: &std::path::Path) -> Result<Option<Self>> {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(path, e)),
        };
        crate::keys::check_private(path)?;
        let key = bytes.try_into().map_err(|_| Error::Key(KeyError::BadSecret { path: path.display().to_string() }))?;
        Ok(Some(Self::new(key)))
    }
}

/// `HMAC-SHA-256(key, parts joined by 0 bytes)`.
fn hmac(key: &[u8; 32], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key[..]).expect("HMAC takes any key length");
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            mac.update(&[0]);
        }
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// Writes a new secret file readable by its owner only; never overwrites one.
fn write_private(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    use std::io::Write;
    options
        .open(path)
        .and_then(|mut file| file.write_all(bytes).and_then(|_| file.sync_all()))
        .map_err(|e| Error::io(path, e))
}

/// The source system of local ids that name no system of their own (a CLI argument, a file
/// with relative references only): the institution's own.
pub const LOCAL_SOURCE: &str = "local";

/// The institution's secret pseudonyms are derived with, the scheme, the source system whose
/// local ids they name, and the key codes are derived with. Never printed; kept in the state
/// directory with owner-only permissions by the CLI.
#[derive(Clone)]
pub struct Pseudonyms {
    secret: zeroize::Zeroizing<[u8; 32]>,
    scheme: PseudonymScheme,
    /// The network's code key ([`Pseudonyms::with_codes`]); without one, the institution's
    /// secret, whose codes mean nothing at other institutions.
    codes: CodeKey,
    source: String,
    /// Patients known under an id they presented instead of the derived one, by (source
    /// system, local id): see [`Pseudonyms::with_links`].
    links: std::sync::Arc<PatientLinks>,
}

/// Local patients linked to the Custodia id they presented, by (source system, local id).
pub type PatientLinks = std::collections::BTreeMap<(String, String), PatientId>;

impl std::fmt::Debug for Pseudonyms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pseudonyms(<secret>, {:?}, source {:?})", self.scheme, self.source)
    }
}

impl Pseudonyms {
    /// Pseudonyms derived with `secret` under the current scheme, for [`LOCAL_SOURCE`].
    pub fn new(secret: [u8; 32]) -> Self {
        Self::with_scheme(secret, PseudonymScheme::CURRENT)
    }

    /// Pseudonyms derived with `secret` under `scheme`, for [`LOCAL_SOURCE`].
    pub fn with_scheme(secret: [u8; 32], scheme: PseudonymScheme) -> Self {
        Self {
            secret: zeroize::Zeroizing::new(secret),
            scheme,
            codes: CodeKey::new(secret),
            source: LOCAL_SOURCE.to_string(),
            links: std::sync::Arc::default(),
        }
    }

    /// The same secret and scheme, for the local ids of source system `source` (its base
    /// URL, e.g. `https://ehr.example/fhir`). Under V1 the source changes nothing.
    pub fn for_source(&self, source: &str) -> Self {
        Self { source: source.to_string(), ..self.clone() }
    }

    /// The source system whose local ids these pseudonyms name.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The same pseudonyms, except for the patients in `links`, who are known under the id
    /// they presented (their Custodia id from another institution) instead of one derived here:
    /// one patient, one identity across institutions.
    pub fn with_links(self, links: PatientLinks) -> Self {
        Self { links: std::sync::Arc::new(links), ..self }
    }

    /// The same pseudonyms, with codes derived with the network's key: the same at every member
    /// institution.
    pub fn with_codes(self, codes: CodeKey) -> Self {
        Self { codes, ..self }
    }

    /// A new random secret.
    pub fn generate() -> Self {
        Self::new(new_salt())
    }

    /// The secret, to store it.
    pub fn secret(&self) -> &[u8; 32] {
        &self.secret
    }

    /// The scheme.
    pub fn scheme(&self) -> PseudonymScheme {
        self.scheme
    }

    /// Loads the secret (and its scheme) from `path`, creating it (mode 600, current scheme)
    /// if missing. A file of 32 bytes is a V1 secret; otherwise a scheme code then the secret.
    pub fn load_or_create(path: &std::path::Path) -> Result<Self> {
        if let Ok(bytes) = std::fs::read(path) {
            crate::keys::check_private(path)?;
            let bad = || Error::Key(KeyError::BadSecret { path: path.display().to_string() });
            let (scheme, secret) = match bytes.len() {
                32 => (PseudonymScheme::V1, &bytes[..]),
                33 if bytes[0] == PseudonymScheme::V2.code() => (PseudonymScheme::V2, &bytes[1..]),
                _ => return Err(bad()),
            };
            return Ok(Self::with_scheme(secret.try_into().map_err(|_| bad())?, scheme));
        }
        let fresh = Self::generate();
        write_private(path, &[&[fresh.scheme.code()][..], &fresh.secret()[..]].concat())?;
        Ok(fresh)
    }

    fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        hmac(&self.secret, parts)
    }

    /// A pseudonym of a local id in `domain`, within the source system where the scheme says so.
    fn derive(&self, domain: &str, id: &str) -> [u8; 32] {
        match self.scheme {
            PseudonymScheme::V1 => self.mac(&[domain.as_bytes(), id.as_bytes()]),
            PseudonymScheme::V2 => {
                self.mac(&[format!("{domain}/v2").as_bytes(), self.source.as_bytes(), id.as_bytes()])
            }
        }
    }

    /// The on-chain id of a patient known in this source system as `local_id` (an MRN,
    /// `Patient/1`): the id they presented if they are linked, else the one derived here.
    pub fn patient(&self, local_id: &str) -> PatientId {
        match self.links.get(&(self.source.clone(), local_id.to_string())) {
            Some(linked) => *linked,
            None => PatientId::new(self.derive("custodia/patient", local_id)),
        }
    }

    /// The on-chain id of a record known in this source system as `local_id`
    /// (`Observation/abc`).
    pub fn record(&self, local_id: &str) -> RecordId {
        RecordId::new(self.derive("custodia/record", local_id))
    }

    /// The opaque id of a terminology code (`system|code`, e.g. `http://loinc.org|8867-4`):
    /// codes name the same thing in every source system, so no source goes into it; see
    /// [`CodeKey::code`].
    pub fn code(&self, system_and_code: &str) -> CodeId {
        self.codes.code(system_and_code)
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

//! Off-chain verification: salted commitments of record versions, keyed pseudonyms, and the
//! hashes the chain uses.
//!
//! A version's commitment is `SHA-256(salt || content)` with a fresh 32-byte salt per version:
//! without the salt nobody can test a guess of the content against the chain. Pseudonyms
//! (patient ids, record ids) are `HMAC-SHA-256(institution secret, domain || local id)`:
//! stable within an institution, unlinkable to the local id without the secret; record ids
//! carry the institution's namespace, so that no other member can open them first
//! ([`PseudonymScheme::V3`]). Terminology
//! codes are `HMAC-SHA-256(network code key, domain || system|code)` ([`CodeKey`]): the same at
//! every member institution, opaque to whoever reads the chain without the key.

use crate::{backend::Hash, error::KeyError, Error, Result};
use custodia_types::{CodeId, Commitment, InstitutionId, PatientId, RecordId};
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
    /// means something only within the system that issued it. Its record ids are in no
    /// namespace: a member who sees a pending commit can open the record first. Kept for state
    /// made with it.
    V2,
    /// V2's patient ids; record ids in the custodian's namespace,
    /// `RecordId::namespaced(custodian, first 24 bytes of HMAC-SHA-256(secret, "custodia/record/v3"
    /// || 0 || source system || 0 || local id))`, which only that custodian can open (security
    /// review #11.8). The custodian is the institution whose accounts commit
    /// ([`Pseudonyms::for_custodian`]), not part of the secret file.
    V3,
}

impl PseudonymScheme {
    /// The scheme new secrets use.
    pub const CURRENT: PseudonymScheme = PseudonymScheme::V3;

    /// Its code in the secret file.
    pub const fn code(self) -> u8 {
        match self {
            PseudonymScheme::V1 => 1,
            PseudonymScheme::V2 => 2,
            PseudonymScheme::V3 => 3,
        }
    }

    /// The scheme of a code in a secret file, if it names one.
    pub const fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(PseudonymScheme::V1),
            2 => Some(PseudonymScheme::V2),
            3 => Some(PseudonymScheme::V3),
            _ => None,
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
    /// The institution whose namespace V3 record ids are in ([`Pseudonyms::for_custodian`]).
    custodian: Option<InstitutionId>,
    /// Patients known under an id they presented instead of the derived one, by (source
    /// system, local id): see [`Pseudonyms::with_links`].
    links: std::sync::Arc<PatientLinks>,
}

/// Local patients linked to the Custodia id they presented, by (source system, local id).
pub type PatientLinks = std::collections::BTreeMap<(String, String), PatientId>;

impl std::fmt::Debug for Pseudonyms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pseudonyms(<secret>, {:?}, source {:?}, custodian {:?})", self.scheme, self.source, self.custodian)
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
            custodian: None,
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

    /// The same pseudonyms for institution `custodian`, whose namespace record ids are in
    /// under V3 (under V1 and V2 it changes nothing). Without one, V3 record ids are in the
    /// namespace of institution 0, which does not exist: nobody can open them.
    pub fn for_custodian(self, custodian: InstitutionId) -> Self {
        Self { custodian: Some(custodian), ..self }
    }

    /// The institution whose namespace record ids are in, if one was given.
    pub fn custodian(&self) -> Option<InstitutionId> {
        self.custodian
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
    /// A V3 secret's record ids need the custodian ([`Pseudonyms::for_custodian`]).
    pub fn load_or_create(path: &std::path::Path) -> Result<Self> {
        if let Ok(bytes) = std::fs::read(path) {
            crate::keys::check_private(path)?;
            let bad = || Error::Key(KeyError::BadSecret { path: path.display().to_string() });
            let (scheme, secret) = match bytes.len() {
                32 => (PseudonymScheme::V1, &bytes[..]),
                33 => (PseudonymScheme::from_code(bytes[0]).ok_or_else(bad)?, &bytes[1..]),
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
            PseudonymScheme::V2 | PseudonymScheme::V3 => {
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
        match self.scheme {
            PseudonymScheme::V1 | PseudonymScheme::V2 => RecordId::new(self.derive("custodia/record", local_id)),
            PseudonymScheme::V3 => {
                let digest = self.mac(&[b"custodia/record/v3", self.source.as_bytes(), local_id.as_bytes()]);
                let mut tail = [0u8; 24];
                tail.copy_from_slice(&digest[..24]);
                RecordId::namespaced(self.custodian.unwrap_or(0), tail)
            }
        }
    }

    /// The opaque id of a terminology code (`system|code`, e.g. `http://loinc.org|8867-4`):
    /// codes name the same thing in every source system, so no source goes into it; see
    /// [`CodeKey::code`].
    pub fn code(&self, system_and_code: &str) -> CodeId {
        self.codes.code(system_and_code)
    }
}

/// An opaque locator for version `version` of `record`:
/// `custodia:<last 16 bytes of the record id, hex>/_history/<version>` (the last 16: under every
/// scheme they are digest, where a namespaced id begins with its mark and custodian). The
/// custodian's store maps it back to where the version lives; the chain learns neither the
/// resource's local id (source systems put MRNs in ids) nor its type (which would undo an opaque
/// kind code).
pub fn opaque_locator(record: RecordId, version: &str) -> Vec<u8> {
    format!("custodia:{}/_history/{version}", hex::encode(&record.as_bytes()[16..])).into_bytes()
}

/// Parses a 32-byte id given as 0x-hex.
pub fn parse_hash(text: &str) -> Result<[u8; 32]> {
    text.strip_prefix("0x")
        .and_then(|hex| hex::decode(hex).ok())
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| Error::Input(format!("{text} is not 0x followed by 64 hex digits")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: [u8; 32] = [7; 32];

    #[test]
    fn record_ids_of_the_current_scheme_are_in_the_custodians_namespace() {
        let at_a = Pseudonyms::new(SECRET).for_custodian(3);
        let record = at_a.record("Observation/1");
        assert_eq!(record.namespace(), Some(3));
        assert_eq!(record, at_a.record("Observation/1"), "stable");
        assert_ne!(record, at_a.record("Observation/2"));
        assert_ne!(record, at_a.for_source("https://other.example/fhir").record("Observation/1"), "per source");
        // Another institution with the same secret (it never has it) still has other ids.
        assert_ne!(record, Pseudonyms::new(SECRET).for_custodian(4).record("Observation/1"));
        assert_eq!(
            Pseudonyms::new(SECRET).record("Observation/1").namespace(),
            Some(0),
            "no custodian: opens for nobody"
        );
    }

    #[test]
    fn older_schemes_keep_their_ids_and_v3_keeps_v2s_patients() {
        let (v2, v3) = (
            Pseudonyms::with_scheme(SECRET, PseudonymScheme::V2).for_custodian(3),
            Pseudonyms::with_scheme(SECRET, PseudonymScheme::V3).for_custodian(3),
        );
        let legacy = v2.record("Observation/1");
        assert_eq!(legacy.namespace(), None, "a V2 id is in no namespace, whatever the custodian");
        assert_eq!(legacy.as_bytes(), &hmac(&SECRET, &[b"custodia/record/v2", b"local", b"Observation/1"]));
        assert_eq!(v2.patient("MRN-1"), v3.patient("MRN-1"), "patients are not namespaced");
    }

    #[test]
    fn a_secret_file_names_its_scheme() {
        let dir = std::env::temp_dir().join(format!("custodia-pseudonyms-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("pseudonym.key");
        let _ = std::fs::remove_file(&path);
        let created = Pseudonyms::load_or_create(&path).unwrap();
        assert_eq!(created.scheme(), PseudonymScheme::V3);
        assert_eq!(std::fs::read(&path).unwrap()[0], 3);
        let loaded = Pseudonyms::load_or_create(&path).unwrap();
        assert_eq!((loaded.scheme(), loaded.secret()), (PseudonymScheme::V3, created.secret()));
        for (bytes, scheme) in
            [(SECRET.to_vec(), PseudonymScheme::V1), ([&[2][..], &SECRET].concat(), PseudonymScheme::V2)]
        {
            std::fs::remove_file(&path).unwrap();
            write_private(&path, &bytes).unwrap();
            assert_eq!(Pseudonyms::load_or_create(&path).unwrap().scheme(), scheme);
        }
        std::fs::remove_file(&path).unwrap();
        write_private(&path, &[&[9][..], &SECRET].concat()).unwrap();
        assert!(matches!(Pseudonyms::load_or_create(&path), Err(Error::Key(KeyError::BadSecret { .. }))));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

//! Opaque identifiers. Each is 32 bytes; the all-zero value is never valid.

/// Milliseconds since the Unix epoch, as the chain's timestamp pallet reports them.
pub type Timestamp = u64;

/// Sequential number the directory gives an institution when governance admits it (from 1).
pub type InstitutionId = u32;

macro_rules! opaque_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        #[ink::scale_derive(Encode, Decode, TypeInfo)]
        #[cfg_attr(feature = "std", derive(ink::storage::traits::StorageLayout))]
        pub struct $name(pub [u8; 32]);

        impl $name {
            /// Wraps 32 raw bytes.
            pub const fn new(bytes: [u8; 32]) -> Self {
                Self(bytes)
            }

            /// The raw bytes.
            pub const fn as_bytes(&self) -> &[u8; 32] {
                &self.0
            }

            /// True for the all-zero value, which the contracts refuse as an id.
            pub fn is_zero(&self) -> bool {
                self.0.iter().all(|byte| *byte == 0)
            }
        }

        impl From<[u8; 32]> for $name {
            fn from(bytes: [u8; 32]) -> Self {
                Self(bytes)
            }
        }

        impl core::fmt::Debug for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                write!(f, "{}(0x", stringify!($name))?;
                for byte in &self.0 {
                    write!(f, "{byte:02x}")?;
                }
                write!(f, ")")
            }
        }
    };
}

opaque_id! {
    /// A patient's pseudonym: derived off chain with a per-deployment secret, never a name,
    /// medical record number or birth date.
    PatientId
}
opaque_id! {
    /// A record's id, chosen by its custodian (for example a keyed digest of a FHIR resource's
    /// type and id), in its namespace ([`RecordId::namespaced`]). All versions of one record
    /// share it.
    RecordId
}
impl RecordId {
    /// The first four bytes of a record id in a custodian's namespace.
    pub const NAMESPACE_MARK: [u8; 4] = *b"CsNs";

    /// A record id in `custodian`'s namespace: the mark, the custodian's id (big-endian), then
    /// `tail` (e.g. 24 bytes of a keyed digest). Only that custodian (or its successor, once
    /// governance approved a hand-over) can open the record, so nobody who sees its pending
    /// commit can open the id first (security review #11.8).
    pub fn namespaced(custodian: InstitutionId, tail: [u8; 24]) -> Self {
        let mut bytes = [0u8; 32];
        let parts = Self::NAMESPACE_MARK.into_iter().chain(custodian.to_be_bytes()).chain(tail);
        for (to, from) in bytes.iter_mut().zip(parts) {
            *to = from;
        }
        Self(bytes)
    }

    /// The custodian whose namespace this id is in, if it is in one: ids that do not start with
    /// [`Self::NAMESPACE_MARK`] (those derived before namespaces) are in none, and open for
    /// any custodian of the patient.
    pub fn namespace(&self) -> Option<InstitutionId> {
        let [m0, m1, m2, m3, c0, c1, c2, c3, ..] = self.0;
        ([m0, m1, m2, m3] == Self::NAMESPACE_MARK).then(|| InstitutionId::from_be_bytes([c0, c1, c2, c3]))
    }
}

opaque_id! {
    /// A salted digest of one version of an off-chain record: `H(salt || canonical content)`.
    /// The salt keeps the digest of guessable content from being linked to it.
    Commitment
}
opaque_id! {
    /// An opaque code id standing for a terminology code (LOINC, SNOMED CT, ICD, a FHIR
    /// resource type): the chain never holds free text.
    CodeId
}

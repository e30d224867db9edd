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
    /// type and id). All versions of one record share it.
    RecordId
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

//! Mappings both ways between FHIR R4 resources and the registries' types:
//!
//! - [`consent`]: FHIR Consent <-> consent receipts ([`Terms`](custodia_types::consents::Terms));
//! - [`audit`]: access-log entries (and version commits/erasures) <-> FHIR AuditEvent, following
//!   the IHE Basic Audit Log Patterns;
//! - [`provenance`]: `DocumentReference.relatesTo` and Provenance <-> supersedence links.
//!
//! Nothing is dropped silently: what the chain cannot represent comes back as [`Unmapped`]
//! items, each naming the element and why.

pub mod audit;
pub mod consent;
pub mod provenance;
pub mod time;

use custodia_types::{AccountId, CodeId, InstitutionId, PatientId, RecordId};

/// Something in a resource the mapping could not carry over, and why.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Unmapped {
    /// The element (`Consent.provision.securityLabel[0]`).
    pub element: String,
    /// Why it is not represented.
    pub reason: String,
}

impl Unmapped {
    /// An unmapped element and why.
    pub fn new(element: impl Into<String>, reason: impl Into<String>) -> Self {
        Self { element: element.into(), reason: reason.into() }
    }
}

/// A mapped value and what could not be mapped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mapped<T> {
    /// The result.
    pub value: T,
    /// What it leaves out.
    pub unmapped: Vec<Unmapped>,
}

/// How references in FHIR resources become on-chain ids, and back. The client implements it
/// with the deployment's pseudonym secret and its directory of institutions.
pub trait Resolve {
    /// The on-chain id of a patient reference (`Patient/123`).
    fn patient(&self, reference: &str) -> PatientId;
    /// The on-chain id of a record reference (`DocumentReference/abc`).
    fn record(&self, reference: &str) -> RecordId;
    /// The opaque id of a code (`system|code`).
    fn code(&self, system_and_code: &str) -> CodeId;
    /// The institution an Organization (or other actor) reference stands for, if known.
    fn institution(&self, reference: &str) -> Option<InstitutionId>;
    /// The account a Practitioner/Device reference acts with, if known.
    fn account(&self, _reference: &str) -> Option<AccountId> {
        None
    }
}

/// The FHIR reference of an institution (`Organization/custodia-institution-N`): how the
/// mappings name an institution on the way out (and `Resolve::institution` reads it back).
pub fn institution_reference(institution: InstitutionId) -> String {
    format!("Organization/custodia-institution-{institution}")
}

/// The kind code of a FHIR resource type, as imports commit them.
pub fn resource_type_code(resolve: &dyn Resolve, resource_type: &str) -> CodeId {
    resolve.code(&format!("http://hl7.org/fhir/resource-types|{resource_type}"))
}

/// Strips `_history/n` from a reference: (`Type/id`, version).
pub fn split_version(reference: &str) -> (&str, Option<u32>) {
    match reference.split_once("/_history/") {
        Some((base, version)) => (base, version.parse().ok()),
        None => (reference, None),
    }
}

/// `0x…` hex of an id.
pub fn hex(bytes: &[u8]) -> String {
    format!("0x{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

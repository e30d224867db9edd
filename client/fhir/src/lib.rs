//! # custodia-fhir
//!
//! HL7 FHIR R4 (JSON) for Custodia, with no chain in sight: the client uses it to import and
//! verify records, and to map consents, provenance and audit events.
//!
//! - [`json`]: strict JSON as FHIR requires it (no byte-order mark, no comments, no duplicate
//!   keys) with errors that name the line and column;
//! - [`validate`]: the FHIR JSON rules this project enforces (a known R4 `resourceType`, ids,
//!   no empty arrays, strings or objects, no nulls, R5-shaped content refused) and the base R4
//!   definitions, read from HL7's own StructureDefinitions (hl7.fhir.r4.core 4.0.1, see
//!   `definitions/SOURCES.md`): every resource, contained resource and Bundle entry has only
//!   elements its type (and each backbone element and datatype in it) defines, every required
//!   (min 1) element, arrays where max is `*` and single values where it is 1, one value per
//!   choice, and JSON values of the kind each type is carried as; value-set bindings,
//!   invariants, reference targets, primitive formats and profiles are left to the source
//!   system;
//! - [`document`]: a file as a list of resources: a single resource, or the entries of a
//!   Bundle (transaction, batch, collection, document, searchset), with the patient it is about;
//! - [`canonical`]: the canonical form of a resource version (RFC 8785 over the resource
//!   without the fields a server changes on its own) and its digest;
//! - [`attachment`]: FHIR `Attachment.hash` (base64 SHA-1) and `size`, computed and checked.

#![warn(missing_docs)]

pub mod attachment;
pub mod canonical;
pub mod document;
pub mod json;
pub mod mapping;
pub mod validate;

mod definitions;
mod error;

pub use error::{FhirError, Problem};

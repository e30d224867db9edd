//! # custodia-fhir
//!
//! HL7 FHIR R4 (JSON) for Custodia, with no chain in sight: the client uses it to import and
//! verify records, and to map consents, provenance and audit events.
//!
//! - [`json`]: strict JSON as FHIR requires it (no byte-order mark, no comments, no duplicate
//!   keys) with errors that name the line and column;
//! - [`validate`]: the FHIR JSON rules this project enforces (a known R4 `resourceType`, ids,
//!   no empty arrays, strings or objects, no nulls, R5-shaped content refused);
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

mod error;

pub use error::{FhirError, Problem};

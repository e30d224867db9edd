//! What is wrong with a file, and where.

/// A problem in a FHIR file: the file, the Bundle entry (if any) and the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}{}: {problem}", .entry.as_ref().map(|e| format!(", {e}")).unwrap_or_default())]
pub struct FhirError {
    /// The file (or a label for input that is not a file).
    pub file: String,
    /// The entry: `entry 3 (Observation/abc)`, or `None` for the file as a whole.
    pub entry: Option<String>,
    /// What is wrong.
    pub problem: Problem,
}

/// What is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// The bytes are not JSON.
    #[error("invalid JSON at line {line}, column {column}: {message}")]
    InvalidJson {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's words.
        message: String,
    },
    /// The file starts with a UTF-8 byte-order mark, which JSON (RFC 8259) forbids.
    #[error("the file starts with a byte-order mark (EF BB BF); FHIR JSON must not have one")]
    ByteOrderMark,
    /// The file has comments, which JSON does not allow.
    #[error("comments at line {line}, column {column}: JSON has no comments")]
    Comments {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
    },
    /// A key appears twice in one object.
    #[error("the key {key:?} appears twice in one object")]
    DuplicateKey {
        /// The key.
        key: String,
    },
    /// A `Patient.identifier` of the Custodia id system whose value is not a Custodia id.
    #[error("the patient's Custodia id (identifier system urn:custodia:patient-id) {0:?} is not 0x and 64 hex digits")]
    BadCustodiaId(String),
    /// A patient with two different Custodia ids.
    #[error("the patient has two different Custodia ids (identifier system urn:custodia:patient-id)")]
    ConflictingCustodiaIds,
    /// The top level is not a JSON object.
    #[error("not a FHIR resource: the top level is not a JSON object")]
    NotAnObject,
    /// No `resourceType`.
    #[error("no resourceType: not a FHIR resource")]
    MissingResourceType,
    /// A `resourceType` R4 does not define.
    #[error("resourceType {0:?} is not a FHIR R4 resource type")]
    UnknownResourceType(String),
    /// A resource without an id, where one is needed.
    #[error("the {0} has no id")]
    MissingId(String),
    /// An id that is not `[A-Za-z0-9\-\.]{{1,64}}`.
    #[error("id {0:?} is not a FHIR id (1-64 of A-Z a-z 0-9 - .)")]
    InvalidId(String),
    /// An empty array (FHIR JSON forbids them).
    #[error("{0} is an empty array; FHIR JSON leaves out elements that have no values")]
    EmptyArray(String),
    /// An empty object.
    #[error("{0} is an empty object; FHIR JSON leaves out elements that have no values")]
    EmptyObject(String),
    /// An empty string.
    #[error("{0} is an empty string; FHIR values are never empty")]
    EmptyString(String),
    /// A null outside an array.
    #[error("{0} is null; FHIR JSON leaves out elements that have no values")]
    Null(String),
    /// R5 (or later) content where R4 is expected.
    #[error("R5-shaped content where R4 is expected: {0}")]
    NotR4(String),
    /// An element the base R4 definition of the resource, backbone element or datatype
    /// does not have (`Observation.valueQuantityy`).
    #[error("{0}: FHIR R4 defines no such element")]
    UnknownElement(String),
    /// An element the base R4 definition requires (min 1) that is not there.
    #[error("{0} is missing: FHIR R4 requires it")]
    MissingElement(String),
    /// One value where R4 has a list (max `*`).
    #[error("{0} is a single value; FHIR R4 has a list here (max *): a JSON array")]
    NotAList(String),
    /// A list where R4 has one value (max 1).
    #[error("{0} is an array; FHIR R4 has one value here (max 1)")]
    NotSingle(String),
    /// Two values for one choice element (`value[x]`).
    #[error("{path} has two values ({first} and {second}); FHIR R4 allows one")]
    ManyChoices {
        /// The choice element (`Observation.value[x]`).
        path: String,
        /// One of its JSON names.
        first: String,
        /// Another.
        second: String,
    },
    /// A value of a JSON kind its R4 type is not carried as.
    #[error("{path} must be {expected}")]
    WrongKind {
        /// Where the value is.
        path: String,
        /// What R4 has there (`a JSON string (code)`, `a JSON object (CodeableConcept)`).
        expected: String,
    },
    /// A Bundle entry's fullUrl that is empty or not absolute.
    #[error("fullUrl {0:?} is not an absolute URL (http(s)://…, urn:uuid:…, urn:oid:…)")]
    BadFullUrl(String),
    /// Two entries of a Bundle are the same resource.
    #[error("{0} appears twice in the Bundle")]
    DuplicateResource(String),
    /// A resource larger than the limit.
    #[error("{bytes} bytes in canonical form; the limit is {limit}")]
    Oversized {
        /// Its size.
        bytes: usize,
        /// The limit.
        limit: usize,
    },
    /// Nothing says which patient the resources are about.
    #[error("no patient: the file has no Patient resource and no reference to one")]
    NoPatient,
    /// More than one patient in one file.
    #[error("more than one patient ({0} and {1}); import one patient per Bundle")]
    ManyPatients(String, String),
    /// A resource that belongs to something other than a patient.
    #[error("{0} refers to {1}, not a Patient; only a patient's records can be committed")]
    NotAPatientsRecord(String, String),
    /// An attachment whose `hash` or `size` does not match its data.
    #[error("attachment {path}: {what}")]
    Attachment {
        /// Where the attachment is in the resource.
        path: String,
        /// What does not match.
        what: String,
    },
}

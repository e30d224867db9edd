//! Every answer that is not a resource: a FHIR OperationOutcome with the HTTP status it goes
//! with, an issue code from FHIR's IssueType value set, and words a person can act on. The
//! words never hold an id, a name or anything else from a record.

use serde_json::{json, Value};

/// A request the gateway will not serve, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The HTTP status.
    pub status: u16,
    /// FHIR IssueType code (`forbidden`, `not-supported`, `invalid`, …).
    pub code: &'static str,
    /// What happened and what to do, in words.
    pub diagnostics: String,
    /// Seconds after which to try again (`Retry-After`), for 503.
    pub retry_after: Option<u32>,
    /// The `WWW-Authenticate` challenge, for 401.
    pub challenge: Option<&'static str>,
}

impl Refusal {
    fn new(status: u16, code: &'static str, diagnostics: impl Into<String>) -> Self {
        Self { status, code, diagnostics: diagnostics.into(), retry_after: None, challenge: None }
    }

    /// 400: the request is malformed.
    pub fn bad_request(diagnostics: impl Into<String>) -> Self {
        Self::new(400, "invalid", diagnostics)
    }

    /// 401: no valid access token.
    pub fn unauthenticated(diagnostics: impl Into<String>) -> Self {
        Self { challenge: Some("Bearer"), ..Self::new(401, "login", diagnostics) }
    }

    /// 403: understood, and not allowed.
    pub fn forbidden(diagnostics: impl Into<String>) -> Self {
        Self::new(403, "forbidden", diagnostics)
    }

    /// 404.
    pub fn not_found(diagnostics: impl Into<String>) -> Self {
        Self::new(404, "not-found", diagnostics)
    }

    /// 405: the method is not served.
    pub fn method(diagnostics: impl Into<String>) -> Self {
        Self::new(405, "not-supported", diagnostics)
    }

    /// 406: only JSON is served.
    pub fn not_acceptable(diagnostics: impl Into<String>) -> Self {
        Self::new(406, "not-supported", diagnostics)
    }

    /// 410: the resource was deleted.
    pub fn gone(diagnostics: impl Into<String>) -> Self {
        Self::new(410, "deleted", diagnostics)
    }

    /// 413: the body is too large.
    pub fn too_large(diagnostics: impl Into<String>) -> Self {
        Self::new(413, "too-costly", diagnostics)
    }

    /// 415: the body is not FHIR JSON.
    pub fn unsupported_media(diagnostics: impl Into<String>) -> Self {
        Self::new(415, "not-supported", diagnostics)
    }

    /// 422: the body is not a resource the gateway can pass on.
    pub fn unprocessable(diagnostics: impl Into<String>) -> Self {
        Self::new(422, "processing", diagnostics)
    }

    /// 501: an interaction the gateway does not serve.
    pub fn not_supported(diagnostics: impl Into<String>) -> Self {
        Self::new(501, "not-supported", diagnostics)
    }

    /// 502: the upstream server answered something that cannot be served (its content does
    /// not match the chain, or it is not FHIR).
    pub fn bad_upstream(code: &'static str, diagnostics: impl Into<String>) -> Self {
        Self::new(502, code, diagnostics)
    }

    /// 503: try again later (the chain does not know the version yet, the chain or the
    /// upstream is unreachable).
    pub fn unavailable(diagnostics: impl Into<String>, retry_after: u32) -> Self {
        Self { retry_after: Some(retry_after), ..Self::new(503, "transient", diagnostics) }
    }

    /// 504: the upstream server did not answer in time.
    pub fn timeout(diagnostics: impl Into<String>) -> Self {
        Self::new(504, "timeout", diagnostics)
    }

    /// 500: the gateway itself failed (its store); nothing was served.
    pub fn internal(diagnostics: impl Into<String>) -> Self {
        Self::new(500, "exception", diagnostics)
    }

    /// The OperationOutcome.
    pub fn outcome(&self) -> Value {
        operation_outcome(if self.status < 500 { "error" } else { "fatal" }, self.code, &self.diagnostics)
    }
}

/// An OperationOutcome with one issue.
pub fn operation_outcome(severity: &str, code: &str, diagnostics: &str) -> Value {
    json!({
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "diagnostics": diagnostics}]
    })
}

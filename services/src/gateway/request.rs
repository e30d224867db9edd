//! What a request to the gateway asks for, or why it is refused before anything else happens.
//!
//! Deny by default: a request is one of the [`Interaction`]s below or a [`Refusal`]. Paths are
//! matched on their raw bytes (no percent-decoding: FHIR types and ids never need it, so an
//! encoded slash or dot is a trick), ids against FHIR's `[A-Za-z0-9\-\.]{1,64}` without dot
//! segments, and every query parameter must be one the interaction knows; anything else
//! (admin endpoints, `$purge` and other operations, `_history` of a type or the system,
//! `_include`, chained or reverse-chained searches, tenant headers) never reaches the
//! upstream server.

use super::outcome::Refusal;
use custodia_client::{types::PatientId, verify::parse_hash};

/// The identifier system under which a patient's network pseudonym is addressed (in the manner
/// of IHE PIXm): `Patient?identifier=urn:custodia:patient|0x…`.
pub const PSEUDONYM_SYSTEM: &str = "urn:custodia:patient";

/// Resource types the gateway serves: those with a patient compartment that the sync follower
/// commits, and `Patient` itself.
pub const SERVED_TYPES: &[&str] = &[
    "Patient",
    "Observation",
    "Condition",
    "DiagnosticReport",
    "DocumentReference",
    "MedicationRequest",
    "MedicationStatement",
    "AllergyIntolerance",
    "Immunization",
    "Procedure",
    "Encounter",
    "CarePlan",
    "ServiceRequest",
    "Specimen",
    "Consent",
];

/// Parameters that ask for a subset of what is read ([`super::subset::Subset`]).
const SUBSET_PARAMS: &[&str] = &["_elements", "_summary"];

/// Headers a caller may not send: they would select another tenant or partition upstream, or
/// claim an identity the token does not carry.
const REFUSED_HEADERS: &[&str] = &[
    "x-tenant-id",
    "x-tenant",
    "x-partition",
    "x-request-partition",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-user",
    "x-remote-user",
    "x-user",
    "x-on-behalf-of",
];

/// How a search names its patient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PatientParam {
    /// The custodian's local id (`patient=123` or `patient=Patient/123`).
    Local(String),
    /// The network pseudonym (`patient:identifier=urn:custodia:patient|0x…`).
    Pseudonym(PatientId),
}

/// What the gateway serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Interaction {
    /// `GET /.well-known/smart-configuration`.
    SmartConfiguration,
    /// `POST /auth/token` (SMART Backend Services).
    Token,
    /// `GET /metadata`: the gateway's own CapabilityStatement.
    Metadata,
    /// `GET /health`.
    Health,
    /// `GET /metrics` (Prometheus text).
    Metrics,
    /// `GET /Type/id`.
    Read {
        /// The resource type.
        kind: String,
        /// Its id.
        id: String,
    },
    /// `GET /Type/id/_history/vid`.
    VRead {
        /// The resource type.
        kind: String,
        /// Its id.
        id: String,
        /// The server's version id.
        version: String,
    },
    /// `GET /Type?patient=…` (within one patient's compartment).
    Search {
        /// The resource type searched.
        kind: String,
        /// Whose compartment.
        patient: PatientParam,
        /// Page size asked for.
        count: Option<u32>,
        /// The upstream server's paging cursor (from a `next` link the gateway handed out).
        cursor: Option<String>,
    },
    /// `GET /Patient/id/$everything`: the patient's compartment, every served type at once.
    Everything {
        /// The Patient's id.
        patient: String,
        /// Page size asked for.
        count: Option<u32>,
        /// The upstream server's paging cursor (from a `next` link the gateway handed out).
        cursor: Option<String>,
    },
    /// `GET /Patient?identifier=urn:custodia:patient|0x…`: the local Patient of a pseudonym.
    PatientByPseudonym(PatientId),
    /// `POST /Type`.
    Create {
        /// The resource type.
        kind: String,
    },
    /// `PUT /Type/id`.
    Update {
        /// The resource type.
        kind: String,
        /// Its id.
        id: String,
    },
}

impl Interaction {
    /// A short name for metrics and logs.
    pub fn name(&self) -> &'static str {
        match self {
            Interaction::SmartConfiguration => "smart-configuration",
            Interaction::Token => "token",
            Interaction::Metadata => "metadata",
            Interaction::Health => "health",
            Interaction::Metrics => "metrics",
            Interaction::Read { .. } => "read",
            Interaction::VRead { .. } => "vread",
            Interaction::Search { .. } => "search",
            Interaction::Everything { .. } => "everything",
            Interaction::PatientByPseudonym(_) => "patient-by-pseudonym",
            Interaction::Create { .. } => "create",
            Interaction::Update { .. } => "update",
        }
    }

    /// True for the interactions that read patient data (they need a token and consent).
    pub fn reads_data(&self) -> bool {
        matches!(
            self,
            Interaction::Read { .. }
                | Interaction::VRead { .. }
                | Interaction::Search { .. }
                | Interaction::Everything { .. }
                | Interaction::PatientByPseudonym(_)
        )
    }
}

/// The parts of a request the parser looks at.
pub struct RawRequest<'a> {
    /// `GET`, `POST`, …
    pub method: &'a str,
    /// The path as sent (still percent-encoded).
    pub path: &'a str,
    /// The query string as sent, without `?`.
    pub query: Option<&'a str>,
    /// Header names (any case).
    pub headers: Vec<&'a str>,
    /// The `Accept` header.
    pub accept: Option<&'a str>,
}

/// Parses a request into what it asks for, or refuses it.
pub fn parse(request: &RawRequest<'_>) -> Result<Interaction, Refusal> {
    for name in &request.headers {
        if REFUSED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
            return Err(Refusal::forbidden(format!("the header {name} is not accepted by this gateway")));
        }
    }
    let params = query_pairs(request.query.unwrap_or_default())?;
    check_format(&params, request.accept)?;
    let path = request.path;
    if path.contains('%') || path.contains("//") || path.contains('\\') {
        return Err(Refusal::bad_request("the path holds encoded or repeated separators"));
    }
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let method = request.method;
    let no_params = |interaction: Interaction| -> Result<Interaction, Refusal> {
        let subsets = interaction.reads_data();
        match params.iter().find(|(k, _)| k != "_format" && !(subsets && SUBSET_PARAMS.contains(&k.as_str()))) {
            Some((key, _)) => Err(Refusal::bad_request(format!("the parameter {key} is not supported here"))),
            None => Ok(interaction),
        }
    };
    if let ("GET", ["Patient", id, "$everything"]) = (method, segments.as_slice()) {
        return everything(fhir_id(id)?, &params);
    }
    if segments.iter().any(|s| s.starts_with('$')) {
        return Err(Refusal::not_supported("operations are not supported by this gateway"));
    }
    let history_at = segments.iter().position(|s| *s == "_history");
    if history_at.is_some_and(|at| at != 2 || segments.len() != 4) {
        return Err(Refusal::not_supported(
            "history of a type or of the server is not served; read one version by its id",
        ));
    }
    match (method, segments.as_slice()) {
        ("GET", [".well-known", "smart-configuration"]) => no_params(Interaction::SmartConfiguration),
        ("POST", ["auth", "token"]) => Ok(Interaction::Token),
        ("GET", ["metadata"]) => no_params(Interaction::Metadata),
        ("GET", ["health"]) => no_params(Interaction::Health),
        ("GET", ["metrics"]) => no_params(Interaction::Metrics),
        ("GET", [kind]) => search(served_type(kind)?, &params),
        ("GET", [kind, id]) => no_params(Interaction::Read { kind: served_type(kind)?, id: fhir_id(id)? }),
        ("GET", [kind, id, "_history", version]) => {
            no_params(Interaction::VRead { kind: served_type(kind)?, id: fhir_id(id)?, version: fhir_id(version)? })
        }
        ("POST", [""]) => {
            Err(Refusal::method("transaction and batch Bundles are not supported: send each interaction on its own"))
        }
        ("POST", [kind]) => no_params(Interaction::Create { kind: served_type(kind)? }),
        ("PUT", [kind, id]) => no_params(Interaction::Update { kind: served_type(kind)?, id: fhir_id(id)? }),
        ("DELETE", _) => {
            Err(Refusal::method("DELETE is not supported: deletion stays with the custodian's own systems"))
        }
        ("PATCH", _) => Err(Refusal::method("PATCH is not supported: send the whole resource with PUT")),
        ("GET" | "POST" | "PUT", _) => Err(Refusal::not_found("no such endpoint")),
        _ => Err(Refusal::method(format!("{method} is not supported"))),
    }
}

fn served_type(kind: &str) -> Result<String, Refusal> {
    if SERVED_TYPES.contains(&kind) {
        return Ok(kind.to_string());
    }
    if kind.starts_with('$') {
        return Err(Refusal::not_supported("operations are not supported by this gateway"));
    }
    if kind.starts_with('_') || !kind.chars().next().is_some_and(|c| c.is_ascii_uppercase()) {
        return Err(Refusal::not_found("no such endpoint"));
    }
    Err(Refusal::not_supported(format!("resources of type {kind} are not served by this gateway")))
}

/// True for a FHIR id: `[A-Za-z0-9\-\.]{1,64}`, not made of dots only and without `..`
/// (also what the gateway accepts from the upstream server as an id or version id).
pub fn is_fhir_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        && !id.contains("..")
        && id != "."
}

fn fhir_id(id: &str) -> Result<String, Refusal> {
    match is_fhir_id(id) {
        true => Ok(id.to_string()),
        false => Err(Refusal::bad_request("not a valid FHIR id")),
    }
}

/// The query string as decoded pairs; a key twice (other than none) is refused, since
/// servers disagree on what repeated parameters mean.
pub(crate) fn query_pairs(query: &str) -> Result<Vec<(String, String)>, Refusal> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for part in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = part.split_once('=').unwrap_or((part, ""));
        let key = percent_decode(key).ok_or_else(|| Refusal::bad_request("a query parameter is not valid UTF-8"))?;
        let value =
            percent_decode(value).ok_or_else(|| Refusal::bad_request("a query parameter is not valid UTF-8"))?;
        if pairs.iter().any(|(k, _)| *k == key) {
            return Err(Refusal::bad_request(format!("the parameter {key} is given twice")));
        }
        pairs.push((key, value));
    }
    Ok(pairs)
}

/// A query value percent-encoded (everything but unreserved characters).
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// `application/x-www-form-urlencoded` decoding (`+` is a space).
pub fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let value = u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
                out.push(value);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            other => {
                out.push(other);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// Only JSON is served: `_format` or `Accept` asking for anything else is 406.
fn check_format(params: &[(String, String)], accept: Option<&str>) -> Result<(), Refusal> {
    let json = |media: &str| {
        let media = media.split(';').next().unwrap_or_default().trim();
        matches!(
            media,
            "json"
                | "application/json"
                | "application/fhir+json"
                | "application/json+fhir"
                | "*/*"
                | "application/*"
                | ""
        )
    };
    if let Some((_, format)) = params.iter().find(|(k, _)| k == "_format") {
        if !json(format) {
            return Err(Refusal::not_acceptable("only JSON is served (_format=json)"));
        }
    }
    if let Some(accept) = accept {
        if !accept.split(',').any(json) {
            return Err(Refusal::not_acceptable("only application/fhir+json is served"));
        }
    }
    Ok(())
}

/// A search within one patient's compartment, or a Patient looked up by its pseudonym.
fn search(kind: String, params: &[(String, String)]) -> Result<Interaction, Refusal> {
    let mut patient = None;
    let mut count = None;
    let mut cursor = None;
    for (key, value) in params {
        match key.as_str() {
            "_format" | "_elements" | "_summary" => {}
            "_count" => count = Some(page_size(value)?),
            "_cursor" => cursor = Some(upstream_cursor(value)?),
            "patient" | "subject" if kind != "Patient" => {
                let local = value.strip_prefix("Patient/").unwrap_or(value);
                if key == "subject" && !value.starts_with("Patient/") {
                    return Err(Refusal::bad_request("subject must name a Patient (subject=Patient/id)"));
                }
                set_once(&mut patient, PatientParam::Local(fhir_id(local)?))?;
            }
            "patient:identifier" | "subject:identifier" if kind != "Patient" => {
                set_once(&mut patient, PatientParam::Pseudonym(pseudonym(value)?))?;
            }
            "identifier" if kind == "Patient" => set_once(&mut patient, PatientParam::Pseudonym(pseudonym(value)?))?,
            "_id" if kind == "Patient" => set_once(&mut patient, PatientParam::Local(fhir_id(value)?))?,
            other if other.starts_with("_include") || other.starts_with("_revinclude") => {
                return Err(Refusal::bad_request(format!("{other} is not supported: it can reach other patients")));
            }
            other if other.starts_with("_has") || other.contains('.') => {
                return Err(Refusal::bad_request(format!("chained search ({other}) is not supported")));
            }
            other => {
                return Err(Refusal::bad_request(format!(
                    "the search parameter {other} is not supported: search one patient's compartment with patient= (and _count)"
                )));
            }
        }
    }
    let Some(patient) = patient else {
        return Err(Refusal::forbidden(
            "searches must stay within one patient's compartment: give patient= (or Patient?identifier= with the pseudonym)",
        ));
    };
    match (kind.as_str(), patient) {
        ("Patient", PatientParam::Pseudonym(id)) if cursor.is_none() => Ok(Interaction::PatientByPseudonym(id)),
        (_, patient) => Ok(Interaction::Search { kind, patient, count, cursor }),
    }
}

/// `Patient/id/$everything`, paged: `_count` and the gateway's `_cursor` (and the subset
/// parameters); `start`, `end`, `_since` and `_type` are refused.
fn everything(patient: String, params: &[(String, String)]) -> Result<Interaction, Refusal> {
    let (mut count, mut cursor) = (None, None);
    for (key, value) in params {
        match key.as_str() {
            "_format" | "_elements" | "_summary" => {}
            "_count" => count = Some(page_size(value)?),
            "_cursor" => cursor = Some(upstream_cursor(value)?),
            other => {
                return Err(Refusal::bad_request(format!(
                    "the parameter {other} is not supported by $everything here: it takes _count (and the cursor of its next link)"
                )))
            }
        }
    }
    Ok(Interaction::Everything { patient, count, cursor })
}

/// A `_count`: a number, kept within 1 to 100.
fn page_size(value: &str) -> Result<u32, Refusal> {
    let n: u32 = value.parse().map_err(|_| Refusal::bad_request("_count wants a number"))?;
    Ok(n.clamp(1, 100))
}

/// A `_cursor` as the gateway hands them out (the upstream server's, in a `next` link).
fn upstream_cursor(value: &str) -> Result<String, Refusal> {
    let valid = !value.is_empty()
        && value.len() <= 512
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_=+/".contains(&b));
    match valid {
        true => Ok(value.to_string()),
        false => Err(Refusal::bad_request("_cursor is not a cursor this gateway handed out")),
    }
}

fn set_once(slot: &mut Option<PatientParam>, value: PatientParam) -> Result<(), Refusal> {
    match slot.replace(value) {
        Some(_) => Err(Refusal::bad_request("name the patient once")),
        None => Ok(()),
    }
}

/// `urn:custodia:patient|0x…` as a patient pseudonym.
fn pseudonym(token: &str) -> Result<PatientId, Refusal> {
    let refuse = || Refusal::bad_request(format!("a patient identifier here is {PSEUDONYM_SYSTEM}|0x<64 hex digits>"));
    let (system, value) = token.split_once('|').ok_or_else(refuse)?;
    if system != PSEUDONYM_SYSTEM {
        return Err(refuse());
    }
    parse_hash(value).map(PatientId::new).map_err(|_| refuse())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path_and_query: &str) -> Result<Interaction, Refusal> {
        let (path, query) = match path_and_query.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (path_and_query, None),
        };
        parse(&RawRequest { method: "GET", path, query, headers: vec![], accept: None })
    }

    #[test]
    fn reads_and_compartment_searches_are_understood() {
        assert_eq!(
            get("/Observation/o-1").unwrap(),
            Interaction::Read { kind: "Observation".into(), id: "o-1".into() }
        );
        assert_eq!(
            get("/Observation/o1/_history/3").unwrap(),
            Interaction::VRead { kind: "Observation".into(), id: "o1".into(), version: "3".into() }
        );
        assert_eq!(
            get("/Observation?patient=Patient/p1&_count=500").unwrap(),
            Interaction::Search {
                kind: "Observation".into(),
                patient: PatientParam::Local("p1".into()),
                count: Some(100),
                cursor: None
            }
        );
        assert_eq!(
            get("/Patient/p1/$everything?_count=10&_summary=true").unwrap(),
            Interaction::Everything { patient: "p1".into(), count: Some(10), cursor: None }
        );
        let hex = format!("0x{}", "ab".repeat(32));
        assert_eq!(
            get(&format!("/Patient?identifier={PSEUDONYM_SYSTEM}%7C{hex}")).unwrap(),
            Interaction::PatientByPseudonym(PatientId::new([0xab; 32]))
        );
    }

    #[test]
    fn everything_else_is_refused_before_it_goes_anywhere() {
        let refused = [
            ("/Observation/..", 400),
            ("/Observation/%2e%2e", 400),
            ("/Observation/a%2Fb", 400),
            ("/Observation//x", 400),
            ("/Observation", 403),
            ("/Observation?code=1234", 400),
            ("/Observation?patient=p1&_include=Observation:performer", 400),
            ("/Observation?patient=p1&patient=p2", 400),
            ("/Observation?patient=p1&_format=xml", 406),
            ("/Observation?subject:Patient.name=x", 400),
            ("/Patient/p1/$everything?_type=Observation", 400),
            ("/Patient/p1/$everything?start=2020", 400),
            ("/Observation/o1/$everything", 501),
            ("/Patient/$everything", 501),
            ("/Patient/p1/$purge", 501),
            ("/$purge", 501),
            ("/admin/tenants", 404),
            ("/Observation/_history", 501),
            ("/_history", 501),
            ("/Organization/o1", 501),
            ("/Observation/o1?_count=3", 400),
        ];
        for (path, status) in refused {
            let refusal = get(path).expect_err(path);
            assert_eq!(refusal.status, status, "{path}: {refusal:?}");
        }
        let delete = parse(&RawRequest {
            method: "DELETE",
            path: "/Observation/o1",
            query: None,
            headers: vec![],
            accept: None,
        });
        assert_eq!(delete.unwrap_err().status, 405);
        let tenant = parse(&RawRequest {
            method: "GET",
            path: "/Observation/o1",
            query: None,
            headers: vec!["X-Tenant-ID"],
            accept: None,
        });
        assert_eq!(tenant.unwrap_err().status, 403);
        let xml = parse(&RawRequest {
            method: "GET",
            path: "/Observation/o1",
            query: None,
            headers: vec![],
            accept: Some("application/fhir+xml"),
        });
        assert_eq!(xml.unwrap_err().status, 406);
    }
}

//! A FHIR file as the list of resources it holds and the patient they are about.

use crate::{attachment, canonical, json, validate, FhirError, Problem};
use serde_json::Value;
use std::path::Path;

/// Largest resource (canonical bytes) a file may hold: an inline scan or PDF is welcome, a
/// whole imaging study belongs in a DICOM store, not in a commitment's input.
pub const MAX_RESOURCE_BYTES: usize = 8 * 1024 * 1024;

/// Bundle types whose entries are a patient's resources.
const BUNDLE_TYPES: &[&str] = &["document", "collection", "transaction", "batch", "searchset", "history"];

/// One resource of a file.
#[derive(Clone, PartialEq)]
pub struct Resource {
    /// `Observation`, `DocumentReference`, …
    pub kind: String,
    /// Its id (from `id`, or from a `urn:uuid:` fullUrl).
    pub id: String,
    /// Position in the Bundle, if it came from one.
    pub entry: Option<usize>,
    /// The entry's fullUrl, if any.
    pub full_url: Option<String>,
    /// The resource.
    pub value: Value,
    /// Its JSON text as the file holds it: what its canonical form is taken from (scheme V2
    /// keeps numbers as written, which the parsed `value` cannot).
    pub json: Vec<u8>,
    /// Attachments with inline data, hashed and checked.
    pub attachments: Vec<attachment::Checked>,
}

impl std::fmt::Debug for Resource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resource")
            .field("kind", &self.kind)
            .field("id", &self.id)
            .field("entry", &self.entry)
            .field("full_url", &self.full_url)
            .field("value", &self.value)
            .field("json", &format_args!("<{} bytes>", self.json.len()))
            .field("attachments", &self.attachments)
            .finish()
    }
}

impl Resource {
    /// `Type/id`.
    pub fn reference(&self) -> String {
        format!("{}/{}", self.kind, self.id)
    }

    /// The canonical bytes of the resource under `scheme` (see [`canonical`]).
    pub fn canonical(&self, scheme: canonical::Scheme) -> Result<Vec<u8>, Problem> {
        match scheme {
            canonical::Scheme::V1 => Ok(canonical::bytes(&self.value)),
            other => canonical::bytes_with(other, &self.json),
        }
    }

    /// Replaces the resource with `value` (its text becomes `value` written as JSON), for
    /// programs that edit resources rather than read them from a file.
    pub fn set_value(&mut self, value: Value) {
        self.json = serde_json::to_vec(&value).expect("a JSON value serialises");
        self.value = value;
    }
}

/// The patient the resources are about, as the file says (never sent anywhere: the chain
/// gets a keyed pseudonym; names, identifiers and birth date are kept for privacy checks).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Patient {
    /// `Patient/<id>`: the local key the pseudonym is derived from.
    pub reference: String,
    /// Values of `Patient.identifier`.
    pub identifiers: Vec<String>,
    /// `Patient.identifier` as `(system, value)` pairs (`system` empty where it has none):
    /// what a conditional reference is matched against.
    pub identifier_tokens: Vec<(String, String)>,
    /// Family, given and text names.
    pub names: Vec<String>,
    /// `Patient.birthDate`.
    pub birth_date: Option<String>,
}

/// The identifier system of a patient's Custodia id (`Patient.identifier` with this system and
/// the id as `0x` and 64 hex digits): how a patient who presented her id at this institution
/// is recorded in its FHIR server or files, so that her records here go under it.
pub const CUSTODIA_ID_SYSTEM: &str = "urn:custodia:patient-id";

impl Patient {
    /// The Custodia id the patient presented (her `Patient.identifier` of
    /// [`CUSTODIA_ID_SYSTEM`]), if any.
    ///
    /// # Errors
    /// [`Problem::BadCustodiaId`] if its value is not one, [`Problem::ConflictingCustodiaIds`]
    /// if the patient has two different ones.
    pub fn presented_id(&self) -> Result<Option<custodia_types::PatientId>, Problem> {
        let mut found = None;
        for (system, value) in &self.identifier_tokens {
            if system != CUSTODIA_ID_SYSTEM {
                continue;
            }
            let bytes: [u8; 32] = value
                .strip_prefix("0x")
                .filter(|hex| hex.len() == 64)
                .and_then(|hex| hex::decode(hex).ok())
                .and_then(|bytes| bytes.try_into().ok())
                .ok_or_else(|| Problem::BadCustodiaId(value.clone()))?;
            let id = custodia_types::PatientId::new(bytes);
            match found {
                Some(other) if other != id => return Err(Problem::ConflictingCustodiaIds),
                _ => found = Some(id),
            }
        }
        Ok(found)
    }
}

/// A parsed, checked file.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// The file's name, for messages.
    pub file: String,
    /// The Bundle's type, if the file is a Bundle.
    pub bundle_type: Option<String>,
    /// Its resources, in order.
    pub resources: Vec<Resource>,
    /// Whose they are.
    pub patient: Patient,
    /// The base URL of the system the file comes from (`https://ehr.example/fhir`), where the
    /// file names its patient by an absolute URL: a local id means something only within its
    /// system, so pseudonyms are derived within it.
    pub source: Option<String>,
}

/// Reads and checks a file.
pub fn read(path: &Path) -> Result<Document, FhirError> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| FhirError {
        file: file.clone(),
        entry: None,
        problem: Problem::InvalidJson { line: 0, column: 0, message: e.to_string() },
    })?;
    parse(&file, &bytes)
}

/// Checks `bytes` (named `file` in messages) and lists their resources.
pub fn parse(file: &str, bytes: &[u8]) -> Result<Document, FhirError> {
    let whole = |problem| FhirError { file: file.to_string(), entry: None, problem };
    let mut top = json::parse(bytes).map_err(whole)?;
    let kind = validate::resource_type(&top).map_err(whole)?.to_string();
    let mut resources = Vec::new();
    let bundle_type = if kind == "Bundle" {
        let bundle_type = top.get("type").and_then(Value::as_str).unwrap_or_default().to_string();
        if !BUNDLE_TYPES.contains(&bundle_type.as_str()) {
            return Err(whole(Problem::NotR4(format!("Bundle.type {bundle_type:?} holds no patient resources"))));
        }
        validate::bundle_definitions(&top).map_err(whole)?;
        let entries = match top.get_mut("entry").map(Value::take) {
            Some(Value::Array(entries)) => entries,
            _ => Vec::new(),
        };
        // Where each entry's resource is in the text (the same entries, in the same order).
        let texts = json::entry_resources(bytes).map_err(whole)?;
        for (i, mut entry) in entries.into_iter().enumerate() {
            let label =
                |r: Option<&str>| Some(format!("entry {i}{}", r.map(|r| format!(" ({r})")).unwrap_or_default()));
            let at = |problem, r: Option<&str>| FhirError { file: file.to_string(), entry: label(r), problem };
            let full_url = match entry.get("fullUrl") {
                None => None,
                Some(Value::String(url)) if is_absolute(url) => Some(url.clone()),
                Some(other) => {
                    return Err(at(Problem::BadFullUrl(other.as_str().unwrap_or_default().to_string()), None))
                }
            };
            let Some(value) = entry.get_mut("resource").map(Value::take) else { continue };
            let text = texts.get(i).cloned().flatten().and_then(|span| bytes.get(span)).unwrap_or_default();
            let resource = check(value, text, Some(i), full_url).map_err(|(p, r)| at(p, r.as_deref()))?;
            resources.push(resource);
        }
        Some(bundle_type)
    } else {
        resources.push(check(top, bytes, None, None).map_err(|(p, r)| FhirError {
            file: file.to_string(),
            entry: r,
            problem: p,
        })?);
        None
    };
    let mut seen = std::collections::HashSet::new();
    for r in &resources {
        if !seen.insert(r.reference()) {
            return Err(FhirError {
                file: file.to_string(),
                entry: r.entry.map(|i| format!("entry {i}")),
                problem: Problem::DuplicateResource(r.reference()),
            });
        }
    }
    let patient =
        patient_of(&resources).map_err(|(problem, entry)| FhirError { file: file.to_string(), entry, problem })?;
    patient.presented_id().map_err(|problem| FhirError { file: file.to_string(), entry: None, problem })?;
    let source = source_of(&resources);
    Ok(Document { file: file.to_string(), bundle_type, resources, patient, source })
}

fn is_absolute(url: &str) -> bool {
    ["http://", "https://", "urn:uuid:", "urn:oid:"].iter().any(|p| url.starts_with(p) && url.len() > p.len())
}

/// Checks one resource; on error, says which (`Type/id` where known).
fn check(
    value: Value,
    text: &[u8],
    entry: Option<usize>,
    full_url: Option<String>,
) -> Result<Resource, (Problem, Option<String>)> {
    let kind = validate::resource_type(&value).map_err(|p| (p, None))?.to_string();
    let named = |id: Option<&str>| Some(id.map(|id| format!("{kind}/{id}")).unwrap_or_else(|| kind.clone()));
    let declared = validate::id(&value).map_err(|p| (p, named(None)))?.map(str::to_string);
    let fail = |p| (p, named(declared.as_deref()));
    validate::shape(&value, &kind).map_err(fail)?;
    validate::r4_shape(&kind, &value).map_err(fail)?;
    let id = match declared
        .clone()
        .or_else(|| full_url.as_deref().and_then(|u| u.strip_prefix("urn:uuid:")).map(str::to_string))
    {
        Some(id) => id,
        None => return Err(fail(Problem::MissingId(kind.clone()))),
    };
    // Canonical bytes are never longer than the text they came from: only a large resource
    // needs the exact figure.
    if text.len() > MAX_RESOURCE_BYTES {
        let size = canonical::bytes_with(canonical::Scheme::CURRENT, text).map_err(fail)?.len();
        if size > MAX_RESOURCE_BYTES {
            return Err(fail(Problem::Oversized { bytes: size, limit: MAX_RESOURCE_BYTES }));
        }
    }
    validate::definitions(&value).map_err(fail)?;
    let attachments = attachment::check(&value, &kind).map_err(fail)?;
    Ok(Resource { kind, id, entry, full_url, value, json: text.to_vec(), attachments })
}

/// The base of the first absolute `http(s)` URL naming the patient: a Patient entry's
/// `fullUrl`, else a `subject`/`patient` reference (`https://ehr.example/fhir/Patient/1` gives
/// `https://ehr.example/fhir`).
fn source_of(resources: &[Resource]) -> Option<String> {
    let base = |url: &str| {
        let url = url.split("/_history/").next().unwrap_or(url);
        let (base, _) = url.rsplit_once("/Patient/")?;
        (url.starts_with("http://") || url.starts_with("https://")).then(|| base.to_string())
    };
    let patient_entry =
        resources.iter().filter(|r| r.kind == "Patient").find_map(|r| r.full_url.as_deref().and_then(base));
    patient_entry.or_else(|| {
        resources.iter().find_map(|r| {
            ["subject", "patient"].iter().find_map(|field| {
                r.value.get(*field).and_then(|s| s.get("reference")).and_then(Value::as_str).and_then(base)
            })
        })
    })
}

/// `Patient/<id>` for relative, absolute and versioned references to a Patient; conditional
/// references as they are. One patient has one local form, hence one pseudonym.
pub fn local_form(reference: &str) -> String {
    if reference.starts_with("Patient?") {
        return reference.to_string();
    }
    let base = reference.split("/_history/").next().unwrap_or(reference);
    match base.rsplit_once("Patient/") {
        Some((_, id)) if !id.contains('/') => format!("Patient/{id}"),
        _ => base.to_string(),
    }
}

/// The `identifier` search value of a conditional reference (`Patient?identifier=…`), its
/// first parameter of that name.
fn identifier_query(reference: &str) -> Option<&str> {
    let (_, query) = reference.split_once('?')?;
    query.split('&').find_map(|param| param.strip_prefix("identifier="))
}

/// FHIR token matching of an identifier search value against `(system, value)`:
/// `system|value` both exactly, `|value` a value with no system, `value` a value in any system.
fn token_matches(query: &str, (system, value): &(String, String)) -> bool {
    match query.split_once('|') {
        Some((wanted_system, wanted_value)) => wanted_system == system && wanted_value == value,
        None => query == value,
    }
}

/// A reference to a Patient: relative (`Patient/1`), conditional (`Patient?identifier=…`) or
/// absolute (`https://…/Patient/1`).
fn is_patient_reference(reference: &str) -> bool {
    reference.starts_with("Patient/") || reference.starts_with("Patient?") || reference.contains("/Patient/")
}

/// The one patient of a file: its Patient resource, or else the one Patient every
/// `subject`/`patient` reference points to.
fn patient_of(resources: &[Resource]) -> Result<Patient, (Problem, Option<String>)> {
    let patients: Vec<&Resource> = resources.iter().filter(|r| r.kind == "Patient").collect();
    if let [first, second, ..] = patients.as_slice() {
        return Err((Problem::ManyPatients(first.reference(), second.reference()), None));
    }
    if let Some(p) = patients.first() {
        let patient = describe(p);
        // Every resource that names a patient must name this one.
        for r in resources {
            for field in ["subject", "patient"] {
                let Some(reference) = r.value.get(field).and_then(|s| s.get("reference")).and_then(Value::as_str)
                else {
                    continue;
                };
                let same = p.full_url.as_deref() == Some(reference)
                    || local_form(reference) == patient.reference
                    || identifier_query(reference)
                        .is_some_and(|query| patient.identifier_tokens.iter().any(|t| token_matches(query, t)));
                // An entry of this file that is not a Patient, or any other resource type: a
                // record of something other than a patient, refused as it is without a Patient.
                let other_entry =
                    resources.iter().any(|o| o.kind != "Patient" && o.full_url.as_deref() == Some(reference));
                let names_a_patient =
                    is_patient_reference(reference) || (reference.starts_with("urn:") && !other_entry);
                if !names_a_patient {
                    return Err((
                        Problem::NotAPatientsRecord(r.reference(), reference.to_string()),
                        Some(r.reference()),
                    ));
                }
                if !same {
                    return Err((
                        Problem::ManyPatients(patient.reference.clone(), reference.to_string()),
                        Some(r.reference()),
                    ));
                }
            }
        }
        return Ok(patient);
    }
    let mut found: Option<String> = None;
    for r in resources {
        for field in ["subject", "patient"] {
            let Some(target) = r.value.get(field) else { continue };
            // A reference, or a logical reference by identifier.
            let logical = target.get("identifier").map(|i| {
                let part = |k: &str| i.get(k).and_then(Value::as_str).unwrap_or_default();
                format!("Patient?identifier={}|{}", part("system"), part("value"))
            });
            let Some(reference) = target.get("reference").and_then(Value::as_str).map(str::to_string).or(logical)
            else {
                continue;
            };
            let reference = reference.as_str();
            if !is_patient_reference(reference) {
                return Err((Problem::NotAPatientsRecord(r.reference(), reference.to_string()), Some(r.reference())));
            }
            match &found {
                Some(other) if other != reference => {
                    return Err((Problem::ManyPatients(other.clone(), reference.to_string()), Some(r.reference())))
                }
                _ => found = Some(reference.to_string()),
            }
        }
    }
    let reference = local_form(&found.ok_or((Problem::NoPatient, None))?);
    // A conditional reference carries the patient's identifier: keep it as one (it must
    // never reach the chain either).
    let identifier_tokens: Vec<(String, String)> = identifier_query(&reference)
        .map(|query| match query.split_once('|') {
            Some((system, value)) => (system.to_string(), value.to_string()),
            None => (String::new(), query.to_string()),
        })
        .into_iter()
        .collect();
    let identifiers = identifier_tokens.iter().map(|(_, value)| value.clone()).collect();
    let mut patient = Patient { reference, identifiers, identifier_tokens, ..Patient::default() };
    // Contained Patient resources (e.g. MHD's sourcePatientInfo) describe the same person.
    for r in resources {
        for contained in r.value.get("contained").and_then(Value::as_array).into_iter().flatten() {
            if contained.get("resourceType").and_then(Value::as_str) == Some("Patient") {
                let described = describe_value(contained, "Patient/contained");
                patient.identifiers.extend(described.identifiers);
                patient.identifier_tokens.extend(described.identifier_tokens);
                patient.names.extend(described.names);
                patient.birth_date = patient.birth_date.or(described.birth_date);
            }
        }
    }
    Ok(patient)
}

fn describe(patient: &Resource) -> Patient {
    describe_value(&patient.value, &patient.reference())
}

fn describe_value(patient: &Value, reference: &str) -> Patient {
    let strings = |v: Option<&Value>| -> Vec<String> {
        match v {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).map(str::to_string).collect(),
            _ => Vec::new(),
        }
    };
    let list = |key: &str| patient.get(key).and_then(Value::as_array).cloned().unwrap_or_default();
    let identifiers = list("identifier").iter().flat_map(|i| strings(i.get("value"))).collect();
    let identifier_tokens = list("identifier")
        .iter()
        .filter_map(|i| {
            let value = i.get("value").and_then(Value::as_str)?;
            Some((i.get("system").and_then(Value::as_str).unwrap_or_default().to_string(), value.to_string()))
        })
        .collect();
    let names = list("name")
        .iter()
        .flat_map(|n| [strings(n.get("family")), strings(n.get("given")), strings(n.get("text"))].concat())
        .collect();
    Patient {
        reference: reference.to_string(),
        identifiers,
        identifier_tokens,
        names,
        birth_date: patient.get("birthDate").and_then(Value::as_str).map(str::to_string),
    }
}

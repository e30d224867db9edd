//! Access-log entries <-> FHIR R4 AuditEvent, following the IHE Basic Audit Log Patterns
//! (BALP): a read of a version is a `rest`/`read` event (action R), a query over a kind of
//! record `rest`/`search-type` (action E); commits and erasures of versions are `create` (C) and
//! `delete` (D). The patient and the record are entities by their on-chain ids; the accessing
//! institution and account are agents; the purpose is `purposeOfEvent` (HL7 ActReason); the
//! authorising consent is an entity `Consent/custodia-receipt-N`, and a break-glass access
//! carries ActReason `BTG` with the reason as the agent's purpose text.

use super::{
    consent::{code_of, custodia_id, purpose_of},
    hex, institution_reference, time, Mapped, Resolve, Unmapped,
};
use custodia_types::{
    access_log::{Authorization, BreakGlassReason, Entry},
    consents::{Purpose, Target},
    records::VersionRef,
    AccountId, InstitutionId, PatientId, RecordId,
};
use serde_json::{json, Value};

const EVENT_TYPE: &str = "http://terminology.hl7.org/CodeSystem/audit-event-type";
const INTERACTION: &str = "http://hl7.org/fhir/restful-interaction";
const ACT_REASON: &str = "http://terminology.hl7.org/CodeSystem/v3-ActReason";
const ENTITY_TYPE: &str = "http://terminology.hl7.org/CodeSystem/audit-entity-type";
const ROLE: &str = "http://terminology.hl7.org/CodeSystem/object-role";

const BREAK_GLASS: &[(&str, BreakGlassReason)] = &[
    ("life-threatening", BreakGlassReason::LifeThreatening),
    ("patient-incapacitated", BreakGlassReason::PatientIncapacitated),
    ("urgent-care", BreakGlassReason::UrgentCare),
    ("legal-obligation", BreakGlassReason::LegalObligation),
];

/// What an AuditEvent says about one access, in the access log's terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditedAccess {
    /// The accessing institution, if an agent names one the chain knows.
    pub institution: Option<InstitutionId>,
    /// The accessing account, if known.
    pub account: Option<AccountId>,
    /// Whose data.
    pub patient: PatientId,
    /// What was accessed.
    pub target: Target,
    /// Why.
    pub purpose: Purpose,
    /// When it happened (ms): `period.start`, else `recorded`.
    pub at: u64,
    /// Under which consent, or break-glass.
    pub authorization: Option<Authorization>,
}

fn entity(what: Value, type_code: &str, role: &str) -> Value {
    json!({"what": what, "type": {"system": ENTITY_TYPE, "code": type_code}, "role": {"system": ROLE, "code": role}})
}

/// A logged entry as a BALP AuditEvent.
pub fn from_entry(index: u64, entry: &Entry) -> Value {
    let (subtype, action, record_entity) = match entry.target {
        Target::Version(v) => (
            "read",
            "R",
            entity(
                json!({"identifier": {"system": "urn:custodia:record", "value": format!("{}#{}", hex(v.record.as_bytes()), v.version)}}),
                "2",
                "4",
            ),
        ),
        Target::Query(code) => (
            "search-type",
            "E",
            json!({"type": {"system": ENTITY_TYPE, "code": "2"}, "role": {"system": ROLE, "code": "24"}, "query": base64(code.as_bytes())}),
        ),
    };
    let mut entities = vec![
        entity(
            json!({"identifier": {"system": "urn:custodia:patient", "value": hex(entry.patient.as_bytes())}}),
            "1",
            "1",
        ),
        record_entity,
    ];
    let mut purpose = vec![json!({"coding": [{"system": ACT_REASON, "code": code_of(entry.purpose)}]})];
    match entry.authorization {
        Authorization::Consent(receipt) => entities.push(json!({"what": {"reference": format!("Consent/custodia-receipt-{receipt}")}, "type": {"system": "http://hl7.org/fhir/resource-types", "code": "Consent"}})),
        Authorization::BreakGlass(reason) => {
            let text = BREAK_GLASS.iter().find(|(_, r)| *r == reason).map(|(t, _)| *t).unwrap_or("break-glass");
            purpose.push(json!({"coding": [{"system": ACT_REASON, "code": "BTG", "display": "break the glass"}], "text": text}));
        }
    }
    json!({
        "resourceType": "AuditEvent",
        "id": format!("custodia-access-{index}"),
        "type": {"system": EVENT_TYPE, "code": "rest"},
        "subtype": [{"system": INTERACTION, "code": subtype}],
        "action": action,
        "period": {"start": time::format(entry.accessed_at), "end": time::format(entry.accessed_at)},
        "recorded": time::format(entry.at),
        "outcome": "0",
        "purposeOfEvent": purpose,
        "agent": [
            {"who": {"identifier": {"system": "urn:custodia:account", "value": hex(entry.account.as_ref())}}, "requestor": true, "purposeOfUse": purpose.clone()},
            {"who": {"reference": institution_reference(entry.institution)}, "requestor": false}
        ],
        "source": {"observer": {"display": "Custodia access log"}, "type": [{"system": "http://terminology.hl7.org/CodeSystem/security-source-type", "code": "4"}]},
        "entity": entities,
    })
}

/// A version committed (`create`) or erased (`delete`), as a BALP AuditEvent.
pub fn from_version_event(
    record: RecordId,
    version: u32,
    patient: PatientId,
    at: u64,
    erased: bool,
    institution: InstitutionId,
) -> Value {
    json!({
        "resourceType": "AuditEvent",
        "type": {"system": EVENT_TYPE, "code": "rest"},
        "subtype": [{"system": INTERACTION, "code": if erased { "delete" } else { "create" }}],
        "action": if erased { "D" } else { "C" },
        "recorded": time::format(at),
        "outcome": "0",
        "agent": [{"who": {"reference": institution_reference(institution)}, "requestor": true}],
        "source": {"observer": {"display": "Custodia records registry"}},
        "entity": [
            entity(json!({"identifier": {"system": "urn:custodia:patient", "value": hex(patient.as_bytes())}}), "1", "1"),
            entity(json!({"identifier": {"system": "urn:custodia:record", "value": format!("{}#{version}", hex(record.as_bytes()))}}), "2", "4"),
        ],
    })
}

fn decode_base64(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Reads an AuditEvent as an access: BALP reads and searches (and any event with a patient
/// entity and a purpose). What the access log cannot hold is reported.
pub fn to_access(event: &Value, resolve: &dyn Resolve) -> Result<Mapped<AuditedAccess>, String> {
    let mut unmapped = Vec::new();
    let subtype = event.pointer("/subtype/0/code").and_then(Value::as_str).unwrap_or("");
    let action = event.get("action").and_then(Value::as_str).unwrap_or("");
    if matches!(action, "C" | "U" | "D") || matches!(subtype, "create" | "update" | "delete") {
        return Err(format!("a {subtype}{action} event changes records; the access log holds reads and queries"));
    }
    // When the access happened: the period's start, else when it was recorded.
    let at = event
        .pointer("/period/start")
        .or_else(|| event.get("recorded"))
        .and_then(Value::as_str)
        .and_then(time::parse)
        .ok_or("AuditEvent.recorded is missing or not an instant")?;
    let entities: Vec<&Value> = event.get("entity").and_then(Value::as_array).into_iter().flatten().collect();
    let mut patient = None;
    let mut target = None;
    let mut authorization = None;
    for (i, e) in entities.iter().enumerate() {
        let what = e.get("what");
        let reference = what.and_then(|w| w.get("reference")).and_then(Value::as_str).unwrap_or("");
        let role = e.pointer("/role/code").and_then(Value::as_str).unwrap_or("");
        if let Some(id) = custodia_id(what.and_then(|w| w.get("identifier")), "urn:custodia:patient") {
            patient = Some(PatientId::new(id));
        } else if role == "1"
            || (role.is_empty() && reference.starts_with("Patient/") && !reference.contains("/_history/"))
        {
            if reference.is_empty() {
                unmapped.push(Unmapped::new(
                    format!("AuditEvent.entity[{i}]"),
                    "a patient entity without a reference cannot be resolved",
                ));
                continue;
            }
            if patient.is_some() {
                return Err("more than one patient entity: one access is about one patient".into());
            }
            patient = Some(resolve.patient(reference));
        } else if let Some(value) = what
            .and_then(|w| w.pointer("/identifier"))
            .filter(|i| i.get("system").and_then(Value::as_str) == Some("urn:custodia:record"))
            .and_then(|i| i.get("value"))
            .and_then(Value::as_str)
        {
            let (id, version) = value.split_once('#').unwrap_or((value, "1"));
            let record =
                custodia_id(Some(&json!({"system": "urn:custodia:record", "value": id})), "urn:custodia:record")
                    .map(RecordId::new);
            if let (Some(record), Ok(version)) = (record, version.parse()) {
                target = Some(Target::Version(VersionRef { record, version }));
            }
        } else if let Some(receipt) = reference.strip_prefix("Consent/custodia-receipt-").and_then(|n| n.parse().ok()) {
            authorization = Some(Authorization::Consent(receipt));
        } else if let Some(query) = e.get("query").and_then(Value::as_str) {
            // Our own events carry the query's kind code; others' carry the query itself.
            let code = decode_base64(query).and_then(|b| <[u8; 32]>::try_from(b).ok()).map(custodia_types::CodeId::new);
            let code = code.unwrap_or_else(|| {
                unmapped.push(Unmapped::new(
                    format!("AuditEvent.entity[{i}].query"),
                    "the query text stays off chain; the entry names a query by its digest",
                ));
                resolve.code(&format!("urn:custodia:query|{query}"))
            });
            if target.replace(Target::Query(code)).is_some() {
                unmapped.push(Unmapped::new(
                    format!("AuditEvent.entity[{i}]"),
                    "more than one record or query: the entry names the last",
                ));
            }
        } else if !reference.is_empty() {
            let (base, version) = super::split_version(reference);
            if target
                .replace(Target::Version(VersionRef { record: resolve.record(base), version: version.unwrap_or(1) }))
                .is_some()
            {
                unmapped.push(Unmapped::new(
                    format!("AuditEvent.entity[{i}]"),
                    "more than one record or query: the entry names the last",
                ));
            }
            if version.is_none() {
                unmapped.push(Unmapped::new(
                    format!("AuditEvent.entity[{i}].what"),
                    "no _history version: version 1 assumed",
                ));
            }
        }
    }
    let patient = patient.ok_or("no patient entity: the access log records accesses to a patient's data")?;
    let target = target.ok_or("no record or query entity")?;
    let codes: Vec<&str> = event
        .get("purposeOfEvent")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|p| p.get("coding").and_then(Value::as_array).into_iter().flatten())
        .filter_map(|c| c.get("code").and_then(Value::as_str))
        .collect();
    if codes.contains(&"BTG") {
        let text = event
            .get("purposeOfEvent")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .next()
            .unwrap_or("");
        let reason =
            BREAK_GLASS.iter().find(|(t, _)| *t == text).map(|(_, r)| *r).unwrap_or(BreakGlassReason::UrgentCare);
        authorization = Some(Authorization::BreakGlass(reason));
    }
    let purpose = match codes.iter().find_map(|c| purpose_of(c)) {
        Some(purpose) => purpose,
        None if codes.is_empty() => return Err("no purposeOfEvent: the access log records why".into()),
        None => return Err(format!("purposeOfEvent {codes:?}: no purpose the chain knows (TREAT, ETREAT, HPAYMT, HOPERAT, HRESCH, PUBHLTH, PATRQT, HLEGAL)")),
    };
    if matches!(authorization, Some(Authorization::BreakGlass(_))) && purpose != Purpose::EmergencyTreatment {
        return Err(format!(
            "purposeOfEvent {codes:?}: break-glass (BTG) overrides consent for emergency treatment (ETREAT) only"
        ));
    }
    for (i, e) in entities.iter().enumerate() {
        for key in ["securityLabel", "lifecycle", "detail", "name", "description"] {
            if e.get(key).is_some() {
                unmapped.push(Unmapped::new(format!("AuditEvent.entity[{i}].{key}"), "kept off chain"));
            }
        }
    }
    if authorization.is_none() {
        unmapped
            .push(Unmapped::new("AuditEvent", "no consent or break-glass named: the access log needs one to log it"));
    }
    let agents: Vec<&Value> = event.get("agent").and_then(Value::as_array).into_iter().flatten().collect();
    let institution = agents
        .iter()
        .filter_map(|a| a.pointer("/who/reference").and_then(Value::as_str))
        .find_map(|r| resolve.institution(r));
    let account = agents
        .iter()
        .find_map(|a| custodia_id(a.pointer("/who/identifier"), "urn:custodia:account").map(AccountId::from));
    for key in ["source", "outcomeDesc"] {
        if event.pointer(&format!("/{key}/site")).is_some() || (key == "outcomeDesc" && event.get(key).is_some()) {
            unmapped.push(Unmapped::new(format!("AuditEvent.{key}"), "kept off chain"));
        }
    }
    if agents.iter().any(|a| a.get("network").is_some()) {
        unmapped.push(Unmapped::new("AuditEvent.agent.network", "network addresses stay off chain"));
    }
    Ok(Mapped { value: AuditedAccess { institution, account, patient, target, purpose, at, authorization }, unmapped })
}

//! FHIR R4 Consent <-> consent receipts.
//!
//! Each provision (the root and every nested one) with a decision becomes one receipt per
//! grantee, inheriting from its parents what it does not say itself (actors, purposes, period,
//! data). The root's decision comes from `policyRule` (OPTOUT: deny, otherwise permit), since
//! R4 forbids `type` on the root provision. Deny receipts override permits on chain, which is
//! what FHIR's nested deny exceptions mean; a permit nested inside a deny cannot be carved out
//! on chain and is reported.

use super::{hex, resource_type_code, split_version, time, Mapped, Resolve, Unmapped};
use custodia_types::{
    consents::{Decision, Grantee, Purpose, Purposes, Receipt, ReceiptId, Scope, Terms},
    records::VersionRef,
    InstitutionId,
};
use serde_json::{json, Value};

const ACT_REASON: &str = "http://terminology.hl7.org/CodeSystem/v3-ActReason";
const RESOURCE_TYPES: &str = "http://hl7.org/fhir/resource-types";

/// HL7 v3 ActReason codes (PurposeOfUse) and the purposes the chain knows.
pub const PURPOSES: &[(&str, Purpose)] = &[
    ("TREAT", Purpose::Treatment),
    ("ETREAT", Purpose::EmergencyTreatment),
    ("HPAYMT", Purpose::Payment),
    ("HOPERAT", Purpose::Operations),
    ("HRESCH", Purpose::Research),
    ("PUBHLTH", Purpose::PublicHealth),
    ("PATRQT", Purpose::PatientRequest),
    ("HLEGAL", Purpose::Legal),
];

/// The purpose of an ActReason code.
pub fn purpose_of(code: &str) -> Option<Purpose> {
    PURPOSES.iter().find(|(c, _)| *c == code).map(|(_, p)| *p)
}

/// The ActReason code of a purpose.
pub fn code_of(purpose: Purpose) -> &'static str {
    PURPOSES.iter().find(|(_, p)| *p == purpose).map(|(c, _)| *c).unwrap_or("TREAT")
}

/// What a provision says, with what it inherits.
#[derive(Clone, Default)]
struct Rules {
    actors: Vec<(InstitutionId, Option<custodia_types::AccountId>)>,
    purposes: Option<Purposes>,
    from: Option<u64>,
    until: Option<u64>,
    scopes: Vec<Scope>,
    decision: Option<Decision>,
    /// Conditions of this provision or its parents that the chain cannot hold: a permit with
    /// any of them would grant more than the Consent does, so it is not issued.
    restrictions: Vec<String>,
}

/// Maps a FHIR R4 Consent to the receipts that grant (or deny) what it says. `now` is used as
/// the start when neither the provision's period nor `Consent.dateTime` gives one.
pub fn to_terms(consent: &Value, resolve: &dyn Resolve, now: u64) -> Mapped<Vec<Terms>> {
    let mut unmapped = Vec::new();
    let mut terms = Vec::new();
    let status = consent.get("status").and_then(Value::as_str).unwrap_or("");
    if status != "active" {
        unmapped.push(Unmapped::new(
            "Consent.status",
            format!("{status:?}: only an active consent grants anything; nothing mapped"),
        ));
        return Mapped { value: terms, unmapped };
    }
    let patient = match (
        consent.pointer("/patient/reference").and_then(Value::as_str),
        custodia_id(consent.pointer("/patient/identifier"), "urn:custodia:patient"),
    ) {
        (_, Some(id)) => custodia_types::PatientId::new(id),
        (Some(reference), None) => resolve.patient(reference),
        (None, None) => {
            unmapped.push(Unmapped::new("Consent.patient", "no patient reference; nothing mapped"));
            return Mapped { value: terms, unmapped };
        }
    };
    let policy = consent
        .pointer("/policyRule/coding")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c.get("code").and_then(Value::as_str))
        .next();
    let root_decision = match policy {
        Some("OPTOUT") | Some("OPTOUTE") => Decision::Deny,
        _ => Decision::Permit,
    };
    let inherited = Rules {
        from: consent.get("dateTime").and_then(Value::as_str).and_then(time::parse),
        decision: Some(root_decision),
        ..Rules::default()
    };
    if let Some(provision) = consent.get("provision") {
        walk(provision, "Consent.provision", inherited, resolve, now, patient, &mut terms, &mut unmapped, true);
    } else {
        unmapped.push(Unmapped::new("Consent.provision", "no provision: nothing says who may see what"));
    }
    for key in ["securityLabel", "verification", "sourceAttachment", "sourceReference", "organization", "performer"] {
        if consent.get(key).is_some() {
            unmapped.push(Unmapped::new(
                format!("Consent.{key}"),
                "kept off chain: receipts carry who, what, why and when only",
            ));
        }
    }
    Mapped { value: terms, unmapped }
}

#[allow(clippy::too_many_arguments)]
fn walk(
    provision: &Value,
    path: &str,
    parent: Rules,
    resolve: &dyn Resolve,
    now: u64,
    patient: custodia_types::PatientId,
    terms: &mut Vec<Terms>,
    unmapped: &mut Vec<Unmapped>,
    root: bool,
) {
    let mut rules = parent.clone();
    if let Some(kind) = provision.get("type").and_then(Value::as_str) {
        let decision = if kind == "deny" { Decision::Deny } else { Decision::Permit };
        if parent.decision == Some(Decision::Deny) && decision == Decision::Permit && !root {
            unmapped.push(Unmapped::new(
                format!("{path}.type"),
                "a permit nested in a deny: denials override permits on chain, so this exception cannot be carved out",
            ));
        }
        rules.decision = Some(decision);
    }
    let actors: Vec<&Value> = provision.get("actor").and_then(Value::as_array).into_iter().flatten().collect();
    if !actors.is_empty() {
        rules.actors.clear();
        for (i, actor) in actors.iter().enumerate() {
            let reference = actor.pointer("/reference/reference").and_then(Value::as_str).unwrap_or("");
            match resolve.institution(reference) {
                Some(institution) => rules.actors.push((institution, resolve.account(reference))),
                None => unmapped.push(Unmapped::new(
                    format!("{path}.actor[{i}]"),
                    format!("{reference:?} is no admitted institution"),
                )),
            }
        }
    }
    let purposes: Vec<&str> = provision
        .get("purpose")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c.get("code").and_then(Value::as_str))
        .collect();
    if !purposes.is_empty() {
        let known: Vec<Purpose> = purposes.iter().filter_map(|c| purpose_of(c)).collect();
        let unknown: Vec<&&str> = purposes.iter().filter(|c| purpose_of(c).is_none()).collect();
        if !unknown.is_empty() {
            unmapped
                .push(Unmapped::new(format!("{path}.purpose"), format!("{unknown:?}: not purposes the chain knows")));
        }
        if known.is_empty() {
            rules.restrictions.push(format!("purposes {unknown:?}"));
        } else {
            rules.purposes = Some(Purposes::of(&known));
        }
    }
    if let Some(period) = provision.get("period") {
        for (key, bound) in [("start", &mut rules.from), ("end", &mut rules.until)] {
            let Some(text) = period.get(key) else { continue };
            match text.as_str().and_then(time::parse) {
                Some(at) => *bound = Some(at),
                // An end that cannot be read is no end, a start that cannot be read an earlier
                // one: a permit would grant longer than the Consent says.
                None => {
                    unmapped.push(Unmapped::new(
                        format!("{path}.period.{key}"),
                        format!("{text} is no dateTime with a zone the chain can hold"),
                    ));
                    rules.restrictions.push(format!("period.{key} {text}"));
                }
            }
        }
    }
    let data: Vec<&Value> = provision.get("data").and_then(Value::as_array).into_iter().flatten().collect();
    let classes: Vec<&Value> = provision.get("class").and_then(Value::as_array).into_iter().flatten().collect();
    let mut scopes = Vec::new();
    for (i, item) in data.iter().enumerate() {
        let meaning = item.get("meaning").and_then(Value::as_str).unwrap_or("instance");
        if meaning != "instance" {
            // `related`, `dependents`, `authoredby` reach records a receipt cannot name.
            unmapped.push(Unmapped::new(
                format!("{path}.data[{i}].meaning"),
                format!("{meaning:?}: a receipt scopes the record or version named, nothing related to it"),
            ));
            rules.restrictions.push(format!("data.meaning {meaning}"));
        }
        let before = scopes.len();
        if let Some(value) = item
            .pointer("/reference/identifier")
            .filter(|i| i.get("system").and_then(Value::as_str) == Some("urn:custodia:record"))
            .and_then(|i| i.get("value"))
            .and_then(Value::as_str)
        {
            let (id, version) = match value.split_once('#') {
                Some((id, v)) => (id, v.parse().ok()),
                None => (value, None),
            };
            if let Some(record) = parse_hex(id).map(custodia_types::RecordId::new) {
                scopes.push(match version {
                    Some(version) => Scope::Version(VersionRef { record, version }),
                    None => Scope::Record(record),
                });
            }
        } else if let Some(reference) = item.pointer("/reference/reference").and_then(Value::as_str) {
            let (base, version) = split_version(reference);
            let record = resolve.record(base);
            scopes.push(match version {
                Some(version) => Scope::Version(VersionRef { record, version }),
                None => Scope::Record(record),
            });
        }
        if scopes.len() == before {
            // Dropping it would widen the permit to the other data, or to every record.
            unmapped.push(Unmapped::new(format!("{path}.data[{i}]"), "names no record the chain knows"));
            rules.restrictions.push(format!("data[{i}]"));
        }
    }
    if !classes.is_empty() {
        let mut codes = Vec::new();
        for (i, class) in classes.iter().enumerate() {
            match (class.get("system").and_then(Value::as_str), class.get("code").and_then(Value::as_str)) {
                (Some(RESOURCE_TYPES), Some(code)) => codes.push(resource_type_code(resolve, code)),
                (Some("urn:custodia:code"), Some(code)) if parse_hex(code).is_some() => {
                    codes.extend(parse_hex(code).map(custodia_types::CodeId::new))
                }
                _ => {
                    unmapped.push(Unmapped::new(
                        format!("{path}.class[{i}]"),
                        "records are kinded by FHIR resource type; other classes cannot be held",
                    ));
                    rules.restrictions.push(format!("class[{i}]"));
                }
            }
        }
        if !codes.is_empty() {
            scopes.push(Scope::Categories(codes));
        }
    }
    for (key, reason) in [
        ("securityLabel", "security labels are not on chain; receipts scope by record, version or resource type"),
        ("code", "record kinds are resource types; clinical codes are not on chain"),
        ("dataPeriod", "receipts bound when access happens, not the dates of the data"),
    ] {
        if provision.get(key).is_some() {
            unmapped.push(Unmapped::new(format!("{path}.{key}"), reason));
            rules.restrictions.push(key.to_string());
        }
    }
    for (i, action) in provision.get("action").and_then(Value::as_array).into_iter().flatten().enumerate() {
        let codes: Vec<&str> = action
            .get("coding")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|c| c.get("code").and_then(Value::as_str))
            .collect();
        if !codes.is_empty() && codes.iter().all(|c| !["access", "use", "disclose"].contains(c)) {
            unmapped.push(Unmapped::new(
                format!("{path}.action[{i}]"),
                format!("{codes:?}: receipts authorise access (reading) only"),
            ));
            rules.restrictions.push(format!("action {codes:?}"));
        }
    }
    if !data.is_empty() && !classes.is_empty() {
        // FHIR requires a record to match both; receipts scope by one or the other.
        rules.restrictions.push("data and class together".into());
        unmapped.push(Unmapped::new(path.to_string(), "data and class together: a receipt scopes by one of them"));
    }
    if !scopes.is_empty() {
        rules.scopes = scopes;
    }
    let explicit = provision.get("type").is_some() || root;
    if explicit && (!actors.is_empty() || !data.is_empty() || !classes.is_empty() || !purposes.is_empty() || root) {
        let decision = rules.decision.unwrap_or(Decision::Permit);
        if rules.actors.is_empty() {
            if !actors.is_empty() || root {
                unmapped.push(Unmapped::new(path.to_string(), "no grantee the chain knows: no receipt"));
            }
        } else if decision == Decision::Permit && !rules.restrictions.is_empty() {
            unmapped.push(Unmapped::new(
                path.to_string(),
                format!(
                    "permit NOT granted: without {:?} it would allow more than the Consent does",
                    rules.restrictions
                ),
            ));
        } else {
            let scopes = if rules.scopes.is_empty() { vec![Scope::AllRecords] } else { rules.scopes.clone() };
            for (institution, account) in &rules.actors {
                for scope in &scopes {
                    terms.push(Terms {
                        patient,
                        grantee: Grantee { institution: *institution, account: *account },
                        scope: scope.clone(),
                        purposes: rules.purposes.unwrap_or(Purposes::from_bits(0xff)),
                        decision,
                        valid_from: rules.from.unwrap_or(now),
                        valid_until: rules.until.unwrap_or(u64::MAX),
                    });
                }
            }
        }
    }
    for (i, nested) in provision.get("provision").and_then(Value::as_array).into_iter().flatten().enumerate() {
        walk(nested, &format!("{path}.provision[{i}]"), rules.clone(), resolve, now, patient, terms, unmapped, false);
    }
}

/// A receipt as a FHIR R4 Consent (status `inactive` once revoked). The patient and records
/// appear by their on-chain ids (`urn:custodia:patient`, `urn:custodia:record` identifiers):
/// the chain does not know the local references.
pub fn from_receipt(id: ReceiptId, receipt: &Receipt) -> Value {
    let purposes: Vec<Value> = PURPOSES
        .iter()
        .filter(|(_, p)| receipt.purposes.contains(*p))
        .map(|(code, _)| json!({"system": ACT_REASON, "code": code}))
        .collect();
    let mut rule = json!({
        "type": if receipt.decision == Decision::Deny { "deny" } else { "permit" },
        "actor": [{
            "role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "IRCP"}]},
            "reference": {"reference": super::institution_reference(receipt.grantee.institution)}
        }],
        "purpose": purposes,
    });
    match &receipt.scope {
        Scope::Record(record) => {
            rule["data"] = json!([{"meaning": "instance", "reference": {"identifier": {"system": "urn:custodia:record", "value": hex(record.as_bytes())}}}])
        }
        Scope::Version(v) => {
            rule["data"] = json!([{"meaning": "instance", "reference": {"identifier": {"system": "urn:custodia:record", "value": format!("{}#{}", hex(v.record.as_bytes()), v.version)}}}])
        }
        Scope::Categories(codes) => {
            rule["class"] = json!(codes
                .iter()
                .map(|c| json!({"system": "urn:custodia:code", "code": hex(c.as_bytes())}))
                .collect::<Vec<_>>())
        }
        Scope::AllRecords => {}
    }
    let mut period = json!({"start": time::format(receipt.valid_from)});
    if receipt.valid_until != u64::MAX {
        period["end"] = json!(time::format(receipt.valid_until));
    }
    json!({
        "resourceType": "Consent",
        "id": format!("custodia-receipt-{id}"),
        "status": if receipt.revoked.is_some() { "inactive" } else { "active" },
        "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]},
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"identifier": {"system": "urn:custodia:patient", "value": hex(receipt.patient.as_bytes())}},
        "dateTime": time::format(receipt.granted_at),
        "policyRule": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "OPTIN"}]},
        "provision": {"period": period, "provision": [rule]},
    })
}

fn parse_hex(text: &str) -> Option<[u8; 32]> {
    let hex = text.strip_prefix("0x")?;
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// A 32-byte id carried as an identifier of the given system.
pub(crate) fn custodia_id(identifier: Option<&Value>, system: &str) -> Option<[u8; 32]> {
    let identifier = identifier?;
    if identifier.get("system").and_then(Value::as_str) != Some(system) {
        return None;
    }
    parse_hex(identifier.get("value").and_then(Value::as_str)?)
}

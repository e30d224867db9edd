//! Security finding 11.15: what base R4 does not define is refused, with the element named.
//! An element a resource, backbone element or datatype does not have, a required (min 1)
//! element left out, a list where R4 has one value (or one value where it has a list), and a
//! value of the wrong JSON kind are all refused; extensions, `_element` siblings of primitives
//! and `resourceType` at a resource's root are welcome. Profiles stay with the source system.

use custodia_fhir::{document, FhirError};
use serde_json::{json, Value};

fn parse(value: &Value) -> Result<document::Document, FhirError> {
    document::parse("test.json", &serde_json::to_vec_pretty(value).unwrap())
}

/// A valid R4 Observation about Patient/p1.
fn observation() -> Value {
    json!({
        "resourceType": "Observation",
        "id": "o1",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}]},
        "subject": {"reference": "Patient/p1"},
        "valueQuantity": {"value": 72, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"}
    })
}

/// Refused, and the message (and the problem's own words) name `element`; `variant` is the
/// kind of problem (`UnknownElement`, `MissingElement`, …).
fn refused(value: &Value, variant: &str, element: &str) -> FhirError {
    let error = match parse(value) {
        Ok(doc) => panic!("accepted, but R4 does not allow it ({variant} {element}): {:?}", doc.resources[0].value),
        Err(e) => e,
    };
    let debug = format!("{:?}", error.problem);
    assert!(debug.starts_with(variant), "expected {variant} naming {element}, got {debug} ({error})");
    assert!(error.problem.to_string().contains(element), "the problem names {element}: {error}");
    error
}

fn with(mut value: Value, pointer: &str, item: Value) -> Value {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let target = value.pointer_mut(parent).unwrap();
    match target {
        Value::Object(map) => {
            map.insert(key.to_string(), item);
        }
        Value::Array(items) => items[key.parse::<usize>().unwrap()] = item,
        _ => panic!("{pointer}"),
    }
    value
}

fn without(mut value: Value, key: &str) -> Value {
    value.as_object_mut().unwrap().remove(key);
    value
}

#[test]
fn a_valid_observation_parses() {
    parse(&observation()).unwrap();
}

#[test]
fn an_element_the_resource_does_not_have_is_refused() {
    let typo = with(without(observation(), "valueQuantity"), "/valueQuantityy", json!({"value": 72}));
    refused(&typo, "UnknownElement", "Observation.valueQuantityy");
    // A choice type R4 does not list for Observation.value[x].
    refused(&with(observation(), "/valueAge", json!({"value": 3})), "UnknownElement", "Observation.valueAge");
    // An R5 element.
    refused(
        &with(observation(), "/triggeredBy", json!([{"type": "reflex"}])),
        "UnknownElement",
        "Observation.triggeredBy",
    );
    // resourceType belongs at a resource's root only.
    let nested = with(observation(), "/code/resourceType", json!("CodeableConcept"));
    refused(&nested, "UnknownElement", "Observation.code.resourceType");
}

#[test]
fn a_required_element_left_out_is_refused() {
    refused(&without(observation(), "status"), "MissingElement", "Observation.status");
    refused(&without(observation(), "code"), "MissingElement", "Observation.code");
    // Inside a backbone element: Observation.component.code is 1..1.
    let component = with(observation(), "/component", json!([{"valueString": "x"}]));
    refused(&component, "MissingElement", "Observation.component[0].code");
    // A required choice: MedicationRequest.medication[x] is 1..1.
    let request = json!({
        "resourceType": "MedicationRequest", "id": "m1", "status": "active", "intent": "order",
        "subject": {"reference": "Patient/p1"}
    });
    refused(&request, "MissingElement", "MedicationRequest.medication[x]");
    let mut given = request.clone();
    given["medicationCodeableConcept"] = json!({"text": "aspirin"});
    parse(&given).unwrap();
    // Extension.url is 1..1.
    let extension = with(observation(), "/extension", json!([{"valueString": "x"}]));
    refused(&extension, "MissingElement", "Observation.extension[0].url");
}

#[test]
fn an_element_a_backbone_element_does_not_have_is_refused() {
    let bundle = json!({
        "resourceType": "Bundle",
        "id": "b1",
        "type": "transaction",
        "entry": [{
            "fullUrl": "urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0",
            "resource": observation(),
            "request": {"method": "POST", "url": "Observation", "methodd": "PUT"}
        }]
    });
    refused(&bundle, "UnknownElement", "Bundle.entry[0].request.methodd");
    let mut fine = bundle.clone();
    fine["entry"][0]["request"].as_object_mut().unwrap().remove("methodd");
    parse(&fine).unwrap();
    // Bundle.entry.request.url is 1..1.
    fine["entry"][0]["request"].as_object_mut().unwrap().remove("url");
    refused(&fine, "MissingElement", "Bundle.entry[0].request.url");
    // A Bundle entry's resource is checked too, and the entry is named.
    let mut typo = bundle.clone();
    typo["entry"][0]["request"].as_object_mut().unwrap().remove("methodd");
    typo["entry"][0]["resource"]["statuss"] = json!("final");
    let error = refused(&typo, "UnknownElement", "Observation.statuss");
    assert!(error.entry.as_deref().is_some_and(|e| e.contains("entry 0")), "{error}");
    // A resource elsewhere in a Bundle's entry is checked whole, a Bundle in it included.
    let mut outcome = fine.clone();
    outcome["entry"][0]["request"]["url"] = json!("Observation");
    outcome["entry"][0]["response"] = json!({"status": "201 Created", "outcome": {
        "resourceType": "Bundle", "type": "collection",
        "entry": [{"resource": {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "codee": "x"}]}}]}});
    refused(&outcome, "UnknownElement", "Bundle.entry[0].response.outcome.entry[0].resource.issue[0].codee");
}

#[test]
fn an_element_a_datatype_does_not_have_is_refused() {
    let typo = with(observation(), "/code/coding/0/systemm", json!("http://loinc.org"));
    let error = refused(&typo, "UnknownElement", "systemm");
    assert!(error.problem.to_string().contains("Observation.code.coding"), "{error}");
    // Deeper: Quantity inside Observation.referenceRange.low.
    let range = with(observation(), "/referenceRange", json!([{"low": {"value": 60, "unitt": "/min"}}]));
    refused(&range, "UnknownElement", "Observation.referenceRange[0].low.unitt");
    // Reference.identifier is an Identifier, Identifier.assigner a Reference: recursion.
    let subject = with(observation(), "/subject/identifier", json!({"assigner": {"displayy": "x"}}));
    refused(&subject, "UnknownElement", "Observation.subject.identifier.assigner.displayy");
}

#[test]
fn contained_resources_are_checked_against_their_own_type() {
    let contained = with(
        observation(),
        "/contained",
        json!([{"resourceType": "Patient", "id": "p", "namee": [{"family": "Doe"}]}]),
    );
    refused(&contained, "UnknownElement", "namee");
    let fine =
        with(observation(), "/contained", json!([{"resourceType": "Patient", "id": "p", "name": [{"family": "Doe"}]}]));
    parse(&fine).unwrap();
    let required =
        with(observation(), "/contained", json!([{"resourceType": "Observation", "id": "o2", "code": {"text": "x"}}]));
    refused(&required, "MissingElement", "status");
}

#[test]
fn lists_and_single_values_follow_max() {
    // Observation.status is 0..1 (here 1..1): one value, not a list.
    refused(&with(observation(), "/status", json!(["final"])), "NotSingle", "Observation.status");
    // Observation.category is 0..*: a list, even of one.
    refused(&with(observation(), "/category", json!({"text": "vital-signs"})), "NotAList", "Observation.category");
    // Two values for one choice.
    refused(&with(observation(), "/valueString", json!("72")), "ManyChoices", "Observation.value[x]");
}

#[test]
fn values_of_the_wrong_json_kind_are_refused() {
    refused(&with(observation(), "/code", json!("8867-4")), "WrongKind", "Observation.code");
    refused(&with(observation(), "/status", json!({"value": "final"})), "WrongKind", "Observation.status");
    refused(&with(observation(), "/valueQuantity/value", json!("72")), "WrongKind", "Observation.valueQuantity.value");
    let boolean = with(without(observation(), "valueQuantity"), "/valueBoolean", json!("true"));
    refused(&boolean, "WrongKind", "Observation.valueBoolean");
    let integer = with(without(observation(), "valueQuantity"), "/valueInteger", json!(1.5));
    refused(&integer, "WrongKind", "Observation.valueInteger");
}

#[test]
fn extensions_and_primitive_siblings_are_welcome() {
    let mut value = observation();
    value["extension"] = json!([{"url": "http://example.org/a", "valueString": "a",
        "extension": [{"url": "b", "valueCodeableConcept": {"text": "b"}}]}]);
    value["modifierExtension"] = json!([{"url": "http://example.org/m", "valueBoolean": true}]);
    value["_status"] = json!({"extension": [{"url": "http://example.org/s", "valueCode": "x"}]});
    value["code"]["coding"][0]["_display"] = json!({"id": "d"});
    value["component"] = json!([{"code": {"text": "c"}, "valueString": "x",
        "modifierExtension": [{"url": "http://example.org/m", "valueInteger": 1}]}]);
    value["contained"] = json!([{"resourceType": "Patient", "id": "p",
        "name": [{"given": ["A", "B"], "_given": [null, {"extension": [{"url": "http://example.org/g", "valueString": "g"}]}]}]}]);
    parse(&value).unwrap();
    // A required primitive may be there as its extensions alone.
    let mut only_extension = without(observation(), "status");
    only_extension["_status"] = json!({"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason", "valueCode": "unknown"}]});
    parse(&only_extension).unwrap();
    // A sibling only for primitives, and of their shape.
    refused(&with(observation(), "/_code", json!({"id": "c"})), "UnknownElement", "Observation._code");
    refused(&with(observation(), "/_statuss", json!({"id": "c"})), "UnknownElement", "Observation._statuss");
    refused(&with(observation(), "/_status", json!({"value": "x"})), "UnknownElement", "Observation._status.value");
    refused(&with(observation(), "/_status", json!([{"id": "c"}])), "NotSingle", "Observation._status");
}

/// Every valid fixture still passes (refusals about whose records they are come after the
/// resources are checked, and are not this test's business).
#[test]
fn valid_fixtures_still_parse() {
    for dir in ["bundles", "documentreference", "consent", "provenance", "auditevent"] {
        for path in custodia_fixtures::fhir_files(dir) {
            match document::read(&path) {
                Ok(_) => {}
                Err(e) => assert!(
                    matches!(
                        e.problem,
                        custodia_fhir::Problem::NoPatient
                            | custodia_fhir::Problem::NotAPatientsRecord(..)
                            | custodia_fhir::Problem::ManyPatients(..)
                    ),
                    "{e}"
                ),
            }
        }
    }
}

//! The FHIR R4 JSON rules this project enforces before anything is committed.

use crate::Problem;
use serde_json::Value;

/// Every resource type of FHIR R4 (4.0.1).
pub const R4_RESOURCE_TYPES: &[&str] = &[
    "Account",
    "ActivityDefinition",
    "AdverseEvent",
    "AllergyIntolerance",
    "Appointment",
    "AppointmentResponse",
    "AuditEvent",
    "Basic",
    "Binary",
    "BiologicallyDerivedProduct",
    "BodyStructure",
    "Bundle",
    "CapabilityStatement",
    "CarePlan",
    "CareTeam",
    "CatalogEntry",
    "ChargeItem",
    "ChargeItemDefinition",
    "Claim",
    "ClaimResponse",
    "ClinicalImpression",
    "CodeSystem",
    "Communication",
    "CommunicationRequest",
    "CompartmentDefinition",
    "Composition",
    "ConceptMap",
    "Condition",
    "Consent",
    "Contract",
    "Coverage",
    "CoverageEligibilityRequest",
    "CoverageEligibilityResponse",
    "DetectedIssue",
    "Device",
    "DeviceDefinition",
    "DeviceMetric",
    "DeviceRequest",
    "DeviceUseStatement",
    "DiagnosticReport",
    "DocumentManifest",
    "DocumentReference",
    "EffectEvidenceSynthesis",
    "Encounter",
    "Endpoint",
    "EnrollmentRequest",
    "EnrollmentResponse",
    "EpisodeOfCare",
    "EventDefinition",
    "Evidence",
    "EvidenceVariable",
    "ExampleScenario",
    "ExplanationOfBenefit",
    "FamilyMemberHistory",
    "Flag",
    "Goal",
    "GraphDefinition",
    "Group",
    "GuidanceResponse",
    "HealthcareService",
    "ImagingStudy",
    "Immunization",
    "ImmunizationEvaluation",
    "ImmunizationRecommendation",
    "ImplementationGuide",
    "InsurancePlan",
    "Invoice",
    "Library",
    "Linkage",
    "List",
    "Location",
    "Measure",
    "MeasureReport",
    "Media",
    "Medication",
    "MedicationAdministration",
    "MedicationDispense",
    "MedicationKnowledge",
    "MedicationRequest",
    "MedicationStatement",
    "MedicinalProduct",
    "MedicinalProductAuthorization",
    "MedicinalProductContraindication",
    "MedicinalProductIndication",
    "MedicinalProductIngredient",
    "MedicinalProductInteraction",
    "MedicinalProductManufactured",
    "MedicinalProductPackaged",
    "MedicinalProductPharmaceutical",
    "MedicinalProductUndesirableEffect",
    "MessageDefinition",
    "MessageHeader",
    "MolecularSequence",
    "NamingSystem",
    "NutritionOrder",
    "Observation",
    "ObservationDefinition",
    "OperationDefinition",
    "OperationOutcome",
    "Organization",
    "OrganizationAffiliation",
    "Parameters",
    "Patient",
    "PaymentNotice",
    "PaymentReconciliation",
    "Person",
    "PlanDefinition",
    "Practitioner",
    "PractitionerRole",
    "Procedure",
    "Provenance",
    "Questionnaire",
    "QuestionnaireResponse",
    "RelatedPerson",
    "RequestGroup",
    "ResearchDefinition",
    "ResearchElementDefinition",
    "ResearchStudy",
    "ResearchSubject",
    "RiskAssessment",
    "RiskEvidenceSynthesis",
    "Schedule",
    "SearchParameter",
    "ServiceRequest",
    "Slot",
    "Specimen",
    "SpecimenDefinition",
    "StructureDefinition",
    "StructureMap",
    "Subscription",
    "Substance",
    "SubstanceNucleicAcid",
    "SubstancePolymer",
    "SubstanceProtein",
    "SubstanceReferenceInformation",
    "SubstanceSourceMaterial",
    "SubstanceSpecification",
    "SupplyDelivery",
    "SupplyRequest",
    "Task",
    "TerminologyCapabilities",
    "TestReport",
    "TestScript",
    "ValueSet",
    "VerificationResult",
    "VisionPrescription",
];

/// The resource's type, checked to be an R4 resource type.
pub fn resource_type(resource: &Value) -> Result<&str, Problem> {
    let object = resource.as_object().ok_or(Problem::NotAnObject)?;
    let kind = object.get("resourceType").and_then(Value::as_str).ok_or(Problem::MissingResourceType)?;
    if R4_RESOURCE_TYPES.binary_search(&kind).is_err() {
        return Err(Problem::UnknownResourceType(kind.to_string()));
    }
    Ok(kind)
}

/// The resource's id, if it has one, checked against FHIR's id rule.
pub fn id(resource: &Value) -> Result<Option<&str>, Problem> {
    match resource.get("id") {
        None => Ok(None),
        Some(Value::String(id)) if is_id(id) => Ok(Some(id)),
        Some(other) => Err(Problem::InvalidId(other.as_str().map(str::to_string).unwrap_or_else(|| other.to_string()))),
    }
}

fn is_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// FHIR JSON's shape rules, everywhere in `value`: no empty arrays, objects or strings, and
/// no nulls except inside arrays (where they align primitive values with their `_extensions`).
/// Nested resources (Bundle entries, contained resources) are checked too.
pub fn shape(value: &Value, path: &str) -> Result<(), Problem> {
    match value {
        Value::Null => Err(Problem::Null(path.to_string())),
        Value::String(s) if s.is_empty() => Err(Problem::EmptyString(path.to_string())),
        Value::Array(items) if items.is_empty() => Err(Problem::EmptyArray(path.to_string())),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                if !item.is_null() {
                    shape(item, &format!("{path}[{i}]"))?;
                }
            }
            Ok(())
        }
        Value::Object(map) if map.is_empty() => Err(Problem::EmptyObject(path.to_string())),
        Value::Object(map) => {
            for (key, item) in map {
                shape(item, &format!("{path}.{key}"))?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Checks `resource` against the base FHIR R4 definition of its type (HL7's
/// StructureDefinitions, hl7.fhir.r4.core 4.0.1), everywhere in it: its datatypes, backbone
/// elements, extensions and contained resources, and a Bundle's entries. Refused, with the
/// element named: an element the type does not define ([`Problem::UnknownElement`]), a
/// required (min 1) element left out ([`Problem::MissingElement`]), one value where R4 has a
/// list ([`Problem::NotAList`]) or a list where it has one ([`Problem::NotSingle`]), two values
/// for one choice ([`Problem::ManyChoices`]), a value of the wrong JSON kind
/// ([`Problem::WrongKind`]). Extensions, `_element` siblings of primitives and `resourceType`
/// at resource roots are R4's own. Not checked: value-set bindings, invariants (FHIRPath),
/// reference target types, primitive formats, profiles.
pub fn definitions(resource: &Value) -> Result<(), Problem> {
    crate::definitions::Definitions::r4().check(resource, false)
}

/// [`definitions`] for a Bundle without its entries' resources (checked one by one, each
/// under its entry's name): the Bundle's own elements, its entries' `fullUrl`, `request`,
/// `response`, `search`, ….
pub fn bundle_definitions(bundle: &Value) -> Result<(), Problem> {
    crate::definitions::Definitions::r4().check(bundle, true)
}

/// Refuses what only R5 (or later) has, for the resource types Custodia maps.
pub fn r4_shape(kind: &str, resource: &Value) -> Result<(), Problem> {
    let has = |key: &str| resource.get(key).is_some();
    let not_r4 = |what: &str| Err(Problem::NotR4(format!("{kind}.{what}")));
    match kind {
        "DocumentReference" => {
            let relates = resource.get("relatesTo").and_then(Value::as_array).into_iter().flatten();
            for relation in relates {
                if relation.get("code").is_some_and(Value::is_object) {
                    return not_r4("relatesTo.code is a CodeableConcept (R5); R4 has a code");
                }
            }
            if has("attester") {
                return not_r4("attester (R5)");
            }
            if resource.get("context").is_some_and(Value::is_array) {
                return not_r4("context is a list of references (R5); R4 has one context object");
            }
        }
        "Consent" if has("decision") || has("grantor") || has("regulatoryBasis") => {
            return not_r4("decision/grantor/regulatoryBasis (R5); R4 has provision.type and performer");
        }
        "AuditEvent" if has("code") && !has("type") => return not_r4("code (R5); R4 has type"),
        "Provenance" if has("patient") || has("authorization") => {
            return not_r4("patient/authorization (R5)");
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_type_list_is_sorted_for_binary_search() {
        assert!(R4_RESOURCE_TYPES.windows(2).all(|w| w[0] < w[1]));
        for kind in ["Patient", "Observation", "Consent", "AuditEvent", "Provenance", "DocumentReference", "Bundle"] {
            assert!(R4_RESOURCE_TYPES.binary_search(&kind).is_ok(), "{kind}");
        }
    }

    #[test]
    fn the_type_list_is_the_definitions_list() {
        let defined = crate::definitions::Definitions::r4();
        assert_eq!(defined.version(), "4.0.1");
        let mut kinds: Vec<&str> = defined.resource_types().collect();
        kinds.sort_unstable();
        assert_eq!(kinds, R4_RESOURCE_TYPES);
    }

    #[test]
    fn shape_rules() {
        assert_eq!(shape(&json!({"a": []}), "X"), Err(Problem::EmptyArray("X.a".into())));
        assert_eq!(shape(&json!({"a": {"b": ""}}), "X"), Err(Problem::EmptyString("X.a.b".into())));
        assert_eq!(shape(&json!({"a": null}), "X"), Err(Problem::Null("X.a".into())));
        assert_eq!(shape(&json!({"a": [null, "x"]}), "X"), Ok(()));
        assert_eq!(shape(&json!({"a": {}}), "X"), Err(Problem::EmptyObject("X.a".into())));
    }
}

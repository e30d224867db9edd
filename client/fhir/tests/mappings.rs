//! Consent, AuditEvent, Provenance and relatesTo mappings, both ways, on the shared fixtures.

use custodia_fhir::mapping::{audit, consent, provenance, Resolve};
use custodia_types::{
    access_log::{Authorization, BreakGlassReason, Entry},
    consents::{Decision, Grantee, Purpose, Purposes, Receipt, Revocation, Scope, Target},
    records::{Link, Supersedence, VersionRef},
    AccountId, CodeId, InstitutionId, PatientId, RecordId,
};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Ids as SHA-256 of the reference (the client uses the deployment's HMAC); organizations
/// `Organization/<n>` or `…/custodia-institution-<n>` are institution n, others unknown.
struct Ids;

fn h(domain: &str, text: &str) -> [u8; 32] {
    Sha256::digest(format!("{domain}:{text}")).into()
}

impl Resolve for Ids {
    fn patient(&self, reference: &str) -> PatientId {
        PatientId::new(h("patient", reference))
    }
    fn record(&self, reference: &str) -> RecordId {
        RecordId::new(h("record", reference))
    }
    fn code(&self, code: &str) -> CodeId {
        CodeId::new(h("code", code))
    }
    fn institution(&self, reference: &str) -> Option<InstitutionId> {
        match reference {
            "Organization/f001" => Some(1),
            other => other.strip_prefix("Organization/custodia-institution-")?.parse().ok(),
        }
    }
}

fn fixture(dir: &str, name: &str) -> Value {
    let path = custodia_fixtures::fhir_files(dir).into_iter().find(|p| p.to_string_lossy().contains(name)).unwrap();
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

const NOW: u64 = 1_700_000_000_000;

#[test]
fn fhir_consents_become_receipts_and_what_cannot_be_held_is_reported() {
    let emergency = consent::to_terms(&fixture("consent", "Emergency"), &Ids, NOW);
    assert!(!emergency.value.is_empty());
    let terms = &emergency.value[0];
    assert_eq!(terms.patient, Ids.patient("Patient/f001"));
    assert_eq!(terms.grantee.institution, Ids.institution("Organization/f001").unwrap());
    assert!(terms.purposes.contains(Purpose::EmergencyTreatment) && !terms.purposes.contains(Purpose::Research));

    let signature = consent::to_terms(&fixture("consent", "signature"), &Ids, NOW);
    assert!(signature.unmapped.iter().any(|u| u.reason.contains("Practitioner/13")), "{:?}", signature.unmapped);

    let period = consent::to_terms(&fixture("consent", "smartonfhir"), &Ids, NOW);
    assert!(period.unmapped.iter().any(|u| u.reason.contains("no grantee")), "no actor, no receipt: reported");

    let pkb = consent::to_terms(&fixture("consent", "pkb"), &Ids, NOW);
    assert!(pkb.unmapped.iter().any(|u| u.element.contains("securityLabel")), "{:?}", pkb.unmapped);
    assert!(pkb.value.iter().any(|t| t.decision == Decision::Deny), "nested denials become deny receipts");

    let narrative = consent::to_terms(&fixture("consent", "narrative-consent"), &Ids, NOW);
    assert!(!narrative.unmapped.is_empty());
    for name in ["Emergency", "grantor", "notThem", "pkb", "signature", "smartonfhir", "narrative"] {
        let mapped = consent::to_terms(&fixture("consent", name), &Ids, NOW);
        assert!(mapped.unmapped.iter().all(|u| !u.element.is_empty() && !u.reason.is_empty()), "{name}");
        assert!(!mapped.value.is_empty() || !mapped.unmapped.is_empty(), "{name}: silently empty");
    }

    let mut inactive = fixture("consent", "Emergency");
    inactive["status"] = "inactive".into();
    let mapped = consent::to_terms(&inactive, &Ids, NOW);
    assert!(mapped.value.is_empty() && mapped.unmapped[0].element == "Consent.status");
}

#[test]
fn receipts_become_fhir_consents_and_back() {
    let record = Ids.record("Observation/1");
    for scope in [
        Scope::AllRecords,
        Scope::Record(record),
        Scope::Version(VersionRef { record, version: 3 }),
        Scope::Categories(vec![Ids.code("x")]),
    ] {
        for (decision, revoked) in [
            (Decision::Permit, None),
            (Decision::Deny, Some(Revocation { revoked_by: AccountId::from([1; 32]), revoked_at: NOW + 5 })),
        ] {
            let receipt = Receipt {
                patient: Ids.patient("Patient/p"),
                grantee: Grantee { institution: 7, account: None },
                scope: scope.clone(),
                purposes: Purposes::of(&[Purpose::Treatment, Purpose::Research]),
                decision,
                valid_from: NOW,
                valid_until: NOW + 86_400_000,
                granted_by: AccountId::from([2; 32]),
                granted_at: NOW - 1000,
                revoked,
            };
            let fhir = consent::from_receipt(9, &receipt);
            assert_eq!(fhir["status"], if revoked.is_some() { "inactive" } else { "active" });
            custodia_fhir::validate::shape(&fhir, "Consent").unwrap();
            if revoked.is_none() {
                let back = consent::to_terms(&fhir, &Ids, 0);
                assert_eq!(back.value.len(), 1, "{:?}", back.unmapped);
                let terms = &back.value[0];
                assert_eq!(
                    (terms.patient, terms.grantee, &terms.scope, terms.purposes, terms.decision),
                    (receipt.patient, receipt.grantee, &receipt.scope, receipt.purposes, decision)
                );
                assert_eq!((terms.valid_from, terms.valid_until), (receipt.valid_from, receipt.valid_until));
            }
        }
    }
}

#[test]
fn access_entries_become_balp_audit_events_and_back() {
    let record = Ids.record("Observation/1");
    for (target, authorization, subtype) in [
        (Target::Version(VersionRef { record, version: 2 }), Authorization::Consent(4), "read"),
        (Target::Query(Ids.code("q")), Authorization::BreakGlass(BreakGlassReason::LifeThreatening), "search-type"),
    ] {
        let entry = Entry {
            institution: 3,
            account: AccountId::from([5; 32]),
            seq: 0,
            patient: Ids.patient("Patient/p"),
            target,
            purpose: Purpose::EmergencyTreatment,
            accessed_at: NOW - 5_000,
            at: NOW,
            authorization,
        };
        let event = audit::from_entry(11, &entry);
        custodia_fhir::validate::shape(&event, "AuditEvent").unwrap();
        custodia_fhir::validate::r4_shape("AuditEvent", &event).unwrap();
        assert_eq!(event["subtype"][0]["code"], subtype);
        let back = audit::to_access(&event, &Ids).unwrap().value;
        assert_eq!(
            (back.patient, back.purpose, back.at, back.authorization, back.institution, back.account),
            (entry.patient, entry.purpose, entry.accessed_at, Some(authorization), Some(3), Some(entry.account))
        );
        assert_eq!(back.target, target, "reads and queries come back as they went");
    }
    let create = audit::from_version_event(record, 1, Ids.patient("Patient/p"), NOW, false, 3);
    assert_eq!(create["action"], "C");
    assert!(audit::to_access(&create, &Ids).is_err(), "a create is not an access");
    let delete = audit::from_version_event(record, 1, Ids.patient("Patient/p"), NOW, true, 3);
    assert_eq!(delete["subtype"][0]["code"], "delete");
}

#[test]
fn fixture_audit_events_map_or_say_why_not() {
    let disclosure = audit::to_access(&fixture("auditevent", "disclosure"), &Ids).unwrap_err();
    assert!(disclosure.contains("HMARKT"), "marketing is no purpose the chain knows: {disclosure}");
    let mut for_treatment = fixture("auditevent", "disclosure");
    for_treatment["purposeOfEvent"][0]["coding"][0]["code"] = "TREAT".into();
    let mapped = audit::to_access(&for_treatment, &Ids).unwrap();
    assert_eq!(mapped.value.patient, Ids.patient("Patient/example"));
    assert_eq!(mapped.value.target, Target::Version(VersionRef { record: Ids.record("Patient/example"), version: 1 }));
    assert!(mapped.unmapped.iter().any(|u| u.element.ends_with("securityLabel")), "{:?}", mapped.unmapped);
    assert!(mapped.unmapped.iter().any(|u| u.reason.contains("no consent or break-glass")));
    for name in ["login", "media", "rest", "SecondSlice", "ProvideBundle"] {
        match audit::to_access(&fixture("auditevent", name), &Ids) {
            Ok(mapped) => assert!(mapped.unmapped.iter().all(|u| !u.reason.is_empty()), "{name}"),
            Err(why) => assert!(!why.is_empty(), "{name}"),
        }
    }
    assert!(audit::to_access(&fixture("auditevent", "login"), &Ids).unwrap_err().contains("patient"));
}

#[test]
fn relates_to_and_provenance_become_links_and_back() {
    let doc = fixture("documentreference", "with-base64");
    let links = provenance::relates_to(&doc, &Ids);
    assert_eq!(links.value.len(), 1, "{:?}", links.unmapped);
    assert_eq!(links.value[0].how, Supersedence::Amends, "appends is an amendment");

    let example = provenance::provenance(&fixture("provenance", "Provenance-example.json"), &Ids);
    assert!(example.value.recorded.is_some());
    assert!(!example.unmapped.is_empty(), "agents, reasons and signatures are reported");

    let link = Link {
        target: VersionRef { record: Ids.record("DocumentReference/a"), version: 1 },
        how: Supersedence::Replaces,
    };
    let new = VersionRef { record: Ids.record("DocumentReference/a"), version: 2 };
    let relates = provenance::to_relates_to(&link);
    assert_eq!(relates["code"], "replaces");
    let fhir = provenance::to_provenance(new, &link, NOW, "Organization/custodia-institution-1");
    custodia_fhir::validate::shape(&fhir, "Provenance").unwrap();
    assert_eq!(fhir["entity"][0]["role"], "revision");
    assert_eq!(fhir["recorded"], "2023-11-14T22:13:20.000Z");
    assert!(fhir["target"][0]["identifier"]["value"].as_str().unwrap().ends_with("#2"));
    assert!(fhir["entity"][0]["what"]["identifier"]["value"].as_str().unwrap().ends_with("#1"));
    let transformed = Link { how: Supersedence::Transforms, ..link };
    assert_eq!(provenance::to_provenance(new, &transformed, NOW, "x")["entity"][0]["role"], "derivation");
    // A Provenance with plain references reads back as the same link.
    let plain = serde_json::json!({"resourceType": "Provenance", "recorded": "2023-11-14T22:13:20Z",
        "target": [{"reference": "DocumentReference/a/_history/2"}],
        "entity": [{"role": "revision", "what": {"reference": "DocumentReference/a/_history/1"}},
                   {"role": "removal", "what": {"reference": "DocumentReference/b/_history/4"}},
                   {"role": "quotation", "what": {"reference": "DocumentReference/c"}}]});
    let read = provenance::provenance(&plain, &Ids);
    assert_eq!(read.value.links.len(), 1);
    assert_eq!(read.value.links[0].from.version, Some(2));
    assert_eq!(
        (read.value.links[0].to.record, read.value.links[0].to.version, read.value.links[0].how),
        (link.target.record, Some(1), Supersedence::Replaces)
    );
    assert_eq!(read.value.removed[0].version, Some(4));
    assert!(read.value.recorded == Some(NOW));
    assert!(read.unmapped.iter().any(|u| u.reason.contains("quotation")));
}

#[test]
fn a_permit_with_a_condition_the_chain_cannot_hold_exactly_is_not_granted() {
    // Security finding 3: an unresolvable `data` item was dropped (the permit widened to the
    // rest, or to all records), a `class` outside resource types restricted nothing, an
    // unparseable `period.end` became no end, and `data.meaning` was ignored.
    let consent = |provision: Value| {
        serde_json::json!({
            "resourceType": "Consent", "id": "c", "status": "active",
            "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]},
            "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
            "patient": {"reference": "Patient/p"},
            "policyRule": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "OPTIN"}]},
            "provision": provision
        })
    };
    let actor =
        serde_json::json!([{"role": {"coding": [{"code": "PRCP"}]}, "reference": {"reference": "Organization/f001"}}]);
    let cases = [
        (
            "an unresolvable data item",
            serde_json::json!({"actor": actor, "data": [{"meaning": "instance", "reference": {"display": "the scan"}}]}),
        ),
        (
            "an unresolvable data item beside a resolvable one",
            serde_json::json!({"actor": actor, "data": [
            {"meaning": "instance", "reference": {"reference": "Observation/o1"}},
            {"meaning": "instance", "reference": {"display": "the scan"}}]}),
        ),
        (
            "a class outside resource types",
            serde_json::json!({"actor": actor, "class": [{"system": "http://loinc.org", "code": "18748-4"}]}),
        ),
        ("an end without a zone", serde_json::json!({"actor": actor, "period": {"end": "2025-12-31T23:59:59"}})),
        ("a start that cannot be read", serde_json::json!({"actor": actor, "period": {"start": "soon"}})),
        (
            "data meaning related",
            serde_json::json!({"actor": actor, "data": [{"meaning": "related", "reference": {"reference": "Observation/o1"}}]}),
        ),
    ];
    for (what, provision) in cases {
        let mapped = consent::to_terms(&consent(provision), &Ids, NOW);
        let permits: Vec<_> = mapped.value.iter().filter(|t| t.decision == Decision::Permit).collect();
        assert!(permits.is_empty(), "{what}: a permit was granted: {permits:?}");
        assert!(!mapped.unmapped.is_empty(), "{what}: the report says why");
    }
    // What can be held exactly still is.
    let held = consent::to_terms(
        &consent(
            serde_json::json!({"actor": actor, "data": [{"meaning": "instance", "reference": {"reference": "Observation/o1"}}]}),
        ),
        &Ids,
        NOW,
    );
    assert_eq!(held.value.len(), 1, "{:?}", held.unmapped);
    assert_eq!(held.value[0].scope, Scope::Record(Ids.record("Observation/o1")));
}

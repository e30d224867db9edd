//! The shared real-world fixtures (../shared/fixtures/fhir): every valid patient file parses
//! into resources and a patient; every invalid one is refused with the problem named.

use custodia_fhir::{document, Problem};
use std::path::PathBuf;

fn fixtures(dir: &str) -> Vec<PathBuf> {
    let files = custodia_fixtures::fhir_files(dir);
    assert!(!files.is_empty(), "no fixtures in {dir}");
    files
}

#[test]
fn patient_bundles_and_documents_parse() {
    for path in fixtures("bundles").into_iter().chain(fixtures("documentreference")) {
        let doc = document::read(&path).unwrap_or_else(|e| panic!("{e}"));
        assert!(!doc.resources.is_empty(), "{}", path.display());
        assert!(doc.patient.reference.contains("Patient"), "{}: {:?}", path.display(), doc.patient);
        if doc.bundle_type.is_some() {
            assert!(!doc.patient.identifiers.is_empty() || !doc.patient.names.is_empty(), "{}", path.display());
        }
    }
}

#[test]
fn a_conditional_reference_is_the_patient_and_its_identifier_is_known() {
    let path = fixtures("documentreference").into_iter().find(|p| p.to_string_lossy().contains("td2-iti105")).unwrap();
    let doc = document::read(&path).unwrap();
    assert_eq!(doc.patient.identifiers, vec!["123456789012345".to_string()]);
}

#[test]
fn synthea_bundles_hold_hundreds_of_resources_of_one_patient() {
    let path = fixtures("bundles").into_iter().find(|p| p.to_string_lossy().contains("Abdul_Koepp")).unwrap();
    let doc = document::read(&path).unwrap();
    assert_eq!(doc.bundle_type.as_deref(), Some("transaction"));
    assert!(doc.resources.len() > 100, "{}", doc.resources.len());
    assert_eq!(doc.resources.iter().filter(|r| r.kind == "Patient").count(), 1);
    assert!(doc.patient.birth_date.is_some());
}

#[test]
fn inline_attachments_are_hashed() {
    let path = fixtures("documentreference")
        .into_iter()
        .find(|p| p.to_string_lossy().contains("scanned-consent-form"))
        .unwrap();
    let doc = document::read(&path).unwrap();
    let attachment = &doc.resources[0].attachments[0];
    assert!(attachment.size > 10_000);
    assert_eq!(attachment.hash.len(), 28, "base64 of 20 bytes");
}

#[test]
fn invalid_files_are_refused_with_the_problem_named() {
    let expect = |name: &str, check: &dyn Fn(&Problem) -> bool| {
        let path = fixtures("invalid").into_iter().find(|p| p.to_string_lossy().contains(name)).unwrap();
        let error = document::read(&path).expect_err(name);
        assert!(check(&error.problem), "{name}: {error}");
        assert!(
            error.to_string().contains(path.file_name().unwrap().to_str().unwrap()),
            "the message names the file: {error}"
        );
        error
    };
    expect("bad-json-close-3", &|p| matches!(p, Problem::InvalidJson { line, .. } if *line > 0));
    let e = expect("bundle-bad-empty", &|p| matches!(p, Problem::BadFullUrl(u) if u.is_empty()));
    assert!(e.entry.is_some(), "the message names the entry");
    expect("bundle-duplicate-id", &|p| matches!(p, Problem::BadFullUrl(u) if u == "Patient/1"));
    expect("dr-eh", &|p| matches!(p, Problem::NotAPatientsRecord(_, to) if to.starts_with("Device/")));
    expect("empty-array", &|p| matches!(p, Problem::EmptyArray(at) if at.contains("coding")));
    expect("json-prop-key", &|p| matches!(p, Problem::MissingResourceType));
    expect("R5-DocumentReference", &|p| matches!(p, Problem::ByteOrderMark));
    // Without its byte-order mark the same file is still refused: it is R5-shaped.
    let path = fixtures("invalid").into_iter().find(|p| p.to_string_lossy().contains("R5-DocumentReference")).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let error = document::parse("r5.json", &bytes[3..]).unwrap_err();
    assert!(matches!(error.problem, Problem::NotR4(_)), "{error}");
}

#[test]
fn duplicates_oversize_and_missing_ids() {
    let dup = br#"{"resourceType":"Bundle","type":"collection","entry":[
        {"fullUrl":"urn:uuid:1","resource":{"resourceType":"Patient","id":"p"}},
        {"fullUrl":"urn:uuid:2","resource":{"resourceType":"Patient","id":"p"}}]}"#;
    assert!(
        matches!(document::parse("dup.json", dup).unwrap_err().problem, Problem::DuplicateResource(r) if r == "Patient/p")
    );
    let no_id = br#"{"resourceType":"Observation","status":"final","subject":{"reference":"Patient/1"}}"#;
    assert!(matches!(document::parse("x.json", no_id).unwrap_err().problem, Problem::MissingId(_)));
    let big = format!(
        r#"{{"resourceType":"Observation","id":"b","status":"final","subject":{{"reference":"Patient/1"}},"valueString":"{}"}}"#,
        "A".repeat(9 * 1024 * 1024)
    );
    assert!(matches!(document::parse("big.json", big.as_bytes()).unwrap_err().problem, Problem::Oversized { .. }));
    let unknown = br#"{"resourceType":"Banana","id":"x"}"#;
    assert!(matches!(document::parse("x.json", unknown).unwrap_err().problem, Problem::UnknownResourceType(_)));
}

#[test]
fn the_canonical_writer_agrees_with_serde_jcs_on_every_fixture_resource() {
    use custodia_fhir::canonical;
    let mut compared = 0;
    for dir in ["bundles", "documentreference", "consent", "auditevent", "provenance"] {
        for path in fixtures(dir) {
            let value: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            let resources: Vec<serde_json::Value> = match value["entry"].as_array() {
                Some(entries) => entries.iter().filter_map(|e| e.get("resource").cloned()).collect(),
                None => vec![value],
            };
            for resource in resources {
                let mut stripped = resource.clone();
                strip(&mut stripped);
                if let Some(serde_json::Value::Array(contained)) = stripped.get_mut("contained") {
                    contained.iter_mut().for_each(strip);
                }
                assert_eq!(canonical::bytes(&resource), serde_jcs::to_vec(&stripped).unwrap(), "{}", path.display());
                compared += 1;
            }
        }
    }
    assert!(compared > 1000, "{compared}");
}

/// The canonical form's rules, applied the slow, obvious way.
fn strip(resource: &mut serde_json::Value) {
    let object = resource.as_object_mut().unwrap();
    if object.get("text").and_then(|t| t.get("status")).and_then(|s| s.as_str()) == Some("generated") {
        object.remove("text");
    }
    if let Some(serde_json::Value::Object(meta)) = object.get_mut("meta") {
        for key in ["versionId", "lastUpdated", "source"] {
            meta.remove(key);
        }
        if meta.is_empty() {
            object.remove("meta");
        }
    }
}

#[test]
fn every_resource_of_a_bundle_is_about_its_one_patient() {
    let mixed = br#"{"resourceType":"Bundle","type":"collection","entry":[
        {"fullUrl":"urn:uuid:a","resource":{"resourceType":"Patient","id":"a"}},
        {"fullUrl":"urn:uuid:o1","resource":{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"x"},"subject":{"reference":"urn:uuid:a"}}},
        {"fullUrl":"urn:uuid:o2","resource":{"resourceType":"Observation","id":"o2","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/b"}}}]}"#;
    let error = document::parse("mixed.json", mixed).unwrap_err();
    assert!(matches!(&error.problem, Problem::ManyPatients(a, b) if a == "Patient/a" && b == "Patient/b"), "{error}");
    let absolute = br#"{"resourceType":"Observation","id":"o","status":"final","code":{"text":"x"},"subject":{"reference":"https://ehr.example/fhir/Patient/7/_history/2"}}"#;
    assert_eq!(
        document::parse("abs.json", absolute).unwrap().patient.reference,
        "Patient/7",
        "one patient, one local form"
    );
}

#[test]
fn a_record_of_a_device_is_refused_in_a_file_with_a_patient_too() {
    // Security review (low): `subject: Device/…` beside a Patient resource was taken as the
    // patient's record; it is a record of something other than a patient wherever it stands.
    let bundle = br#"{"resourceType":"Bundle","type":"collection","entry":[
        {"fullUrl":"urn:uuid:a","resource":{"resourceType":"Patient","id":"a"}},
        {"fullUrl":"urn:uuid:o1","resource":{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"x"},"subject":{"reference":"Device/pump-7"}}}]}"#;
    let error = document::parse("device.json", bundle).unwrap_err();
    assert!(
        matches!(&error.problem, Problem::NotAPatientsRecord(r, s) if r == "Observation/o1" && s == "Device/pump-7"),
        "{error}"
    );
}

#[test]
fn a_conditional_reference_names_a_patient_by_system_and_value_exactly() {
    // Security finding 11: identifiers were matched by suffix (`…|17` matched `7`) and without
    // their system; FHIR token search matches `system|value` exactly (`value` alone: any
    // system; `|value`: no system).
    let bundle = |query: &str| {
        format!(
            r#"{{"resourceType":"Bundle","type":"collection","entry":[
            {{"fullUrl":"urn:uuid:a","resource":{{"resourceType":"Patient","id":"a","identifier":[{{"system":"urn:mrn","value":"7"}}]}}}},
            {{"fullUrl":"urn:uuid:o1","resource":{{"resourceType":"Observation","id":"o1","status":"final","code":{{"text":"x"}},"subject":{{"reference":"Patient?identifier={query}"}}}}}}]}}"#
        )
    };
    for same in ["urn:mrn|7", "7"] {
        assert!(document::parse("same.json", bundle(same).as_bytes()).is_ok(), "{same} names the patient");
    }
    for other in ["urn:mrn|17", "17", "urn:other|7", "|7", "urn:mrn|"] {
        let error = document::parse("other.json", bundle(other).as_bytes()).unwrap_err();
        assert!(matches!(&error.problem, Problem::ManyPatients(..)), "{other}: {error}");
    }
}

//! FHIR import and verification on the embedded chain with the real fixtures
//! (../shared/fixtures/fhir): privacy of what reaches the chain, change detection, supersedence
//! on re-import, erasure.

use custodia_client::types::records::{Content, ErasureReason, Supersedence};
use custodia_fhir::document::{self, Document};
use custodia_sandbox::SandboxBackend;
use custodia_services::fhir_import::{FhirImport, ImportStage};
use custodia_tests::fixture::{fixture, Fixture};
use serde_json::Value;
use std::path::PathBuf;

pub fn fixture_files(dir: &str) -> Vec<PathBuf> {
    custodia_fixtures::fhir_files(dir)
}

/// Every fixture that is a patient's file (Bundles, DocumentReferences, Consents).
fn patient_documents() -> Vec<Document> {
    ["bundles", "documentreference", "consent"]
        .iter()
        .flat_map(|dir| fixture_files(dir))
        .map(|path| document::read(&path).unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

async fn import_all(f: &Fixture, fhir: &FhirImport<'_, SandboxBackend>, documents: &[Document]) -> usize {
    let mut committed = 0;
    for document in documents {
        let report = fhir
            .import(document, &f.cast.hospital_a, &mut |_| {})
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", document.file));
        assert_eq!(report.committed + report.unchanged, document.resources.len(), "{}", document.file);
        committed += report.committed;
    }
    committed
}

/// The strings about a patient that must never reach the chain.
fn personal_strings(documents: &[Document]) -> Vec<String> {
    let mut strings: Vec<String> = documents
        .iter()
        .flat_map(|d| d.patient.names.iter().chain(&d.patient.identifiers).chain(&d.patient.birth_date).cloned())
        // Very short strings occur by chance in megabytes of hashes and code.
        .filter(|s| s.len() >= 5)
        .collect();
    strings.sort();
    strings.dedup();
    strings
}

#[tokio::test(flavor = "current_thread")]
async fn no_name_identifier_or_birth_date_reaches_the_chain() {
    let f = fixture().await;
    let fhir = FhirImport::new(&f.client, &f.store, &f.pseudonyms);
    let documents = patient_documents();
    let committed = import_all(&f, &fhir, &documents).await;
    assert!(committed > 1000, "{committed} versions committed");
    let strings = personal_strings(&documents);
    assert!(strings.len() > 20, "the fixtures name patients: {strings:?}");
    assert!(strings.iter().any(|s| s.len() == 10 && s.as_bytes()[4] == b'-'), "birth dates are among them");
    let chain = f.client.backend().all_bytes();
    assert!(chain.len() > 1_000_000, "the scan covers the whole chain ({} bytes)", chain.len());
    let hits: Vec<&String> = strings.iter().filter(|s| chain.windows(s.len()).any(|w| w == s.as_bytes())).collect();
    assert!(hits.is_empty(), "personal data on chain: {hits:?}");
}

/// Changes one character of the first string value of a resource's content.
fn altered(value: &Value) -> Value {
    fn first_string(value: &mut Value) -> bool {
        match value {
            Value::String(s) => {
                let last = s.pop().unwrap_or('x');
                s.push(if last == 'x' { 'y' } else { 'x' });
                true
            }
            Value::Array(items) => items.iter_mut().any(first_string),
            Value::Object(map) => map
                .iter_mut()
                .filter(|(k, _)| !["resourceType", "id", "meta", "text"].contains(&k.as_str()))
                .any(|(_, v)| first_string(v)),
            _ => false,
        }
    }
    let mut copy = value.clone();
    assert!(first_string(&mut copy), "a resource with a string to change");
    copy
}

#[tokio::test(flavor = "current_thread")]
async fn every_resource_verifies_and_any_one_character_change_is_a_mismatch() {
    let f = fixture().await;
    let fhir = FhirImport::new(&f.client, &f.store, &f.pseudonyms);
    let documents = patient_documents();
    import_all(&f, &fhir, &documents).await;
    for document in &documents {
        let verdicts = fhir.verify(document).await.unwrap();
        assert!(verdicts.iter().all(|v| v.matches()), "{}: {verdicts:?}", document.file);
        let mut tampered = document.clone();
        for resource in &mut tampered.resources {
            resource.set_value(altered(&resource.value));
        }
        let verdicts = fhir.verify(&tampered).await.unwrap();
        assert!(verdicts.iter().all(|v| v.verification == "Mismatch"), "{}: {verdicts:?}", document.file);
    }
}

#[tokio::test(flavor = "current_thread")]
async fn reimport_commits_only_changes_which_supersede_and_erasure_shows() {
    let f = fixture().await;
    let fhir = FhirImport::new(&f.client, &f.store, &f.pseudonyms);
    let path = fixture_files("bundles").into_iter().find(|p| p.to_string_lossy().contains("father")).unwrap();
    let document = document::read(&path).unwrap();
    let mut stages = Vec::new();
    let first = fhir.import(&document, &f.cast.hospital_a, &mut |s| stages.push(s)).await.unwrap();
    assert!(first.registered_patient);
    assert_eq!(first.committed, document.resources.len());
    assert_eq!(stages[0], ImportStage::Planned { versions: document.resources.len() });

    let again = fhir.import(&document, &f.cast.hospital_a, &mut |_| {}).await.unwrap();
    assert_eq!((again.committed, again.unchanged, again.transactions), (0, document.resources.len(), 0));

    let mut changed = document.clone();
    let edited = altered(&changed.resources[1].value);
    changed.resources[1].set_value(edited);
    let report = fhir.import(&changed, &f.cast.hospital_a, &mut |_| {}).await.unwrap();
    assert_eq!((report.committed, report.superseded), (1, 1));
    let record = fhir.record(&changed, &changed.resources[1]);
    let history = f.client.records().history(record).await.unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[1].1.supersedes.map(|l| (l.target.version, l.how)), Some((1, Supersedence::Replaces)));
    let Content::Committed { locator, .. } = &history[1].1.content else { panic!("committed") };
    assert!(String::from_utf8_lossy(locator).ends_with("/_history/2"), "no meta.versionId: the chain's number");

    f.client.records().erase(record, 2, ErasureReason::PatientRequest).submit(&f.cast.hospital_a).await.unwrap();
    let verdicts = fhir.verify(&changed).await.unwrap();
    assert_eq!(verdicts[1].verification, "Erased");
    assert!(verdicts.iter().enumerate().all(|(i, v)| i == 1 || v.matches()));
}

#[tokio::test(flavor = "current_thread")]
async fn locators_carry_neither_resource_ids_nor_types() {
    let f = fixture().await;
    let fhir = FhirImport::new(&f.client, &f.store, &f.pseudonyms);
    let path = fixture_files("bundles").into_iter().find(|p| p.to_string_lossy().contains("Abdul_Koepp")).unwrap();
    let document = document::read(&path).unwrap();
    fhir.import(&document, &f.cast.hospital_a, &mut |_| {}).await.unwrap();
    for resource in &document.resources {
        let head = f.client.records().head(fhir.record(&document, resource)).query().await.unwrap().unwrap();
        let Content::Committed { locator, .. } = head.version.content else { panic!("committed") };
        let locator = String::from_utf8(locator).unwrap();
        assert!(locator.starts_with("custodia:"), "{locator}");
        assert!(
            !locator.contains(&resource.id) && !locator.contains(&resource.kind),
            "{locator} reveals {}",
            resource.reference()
        );
    }
}

#[tokio::test(flavor = "current_thread")]
async fn relates_to_and_provenance_become_links_on_chain() {
    let f = fixture().await;
    let fhir = FhirImport::new(&f.client, &f.store, &f.pseudonyms);
    // The HL7 example that "appends" to DocumentReference/example, imported after a
    // DocumentReference/example of the same patient.
    // (The example's own id is "example" too; as a separate document it gets another.)
    let path =
        fixture_files("documentreference").into_iter().find(|p| p.to_string_lossy().contains("with-base64")).unwrap();
    let mut value: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    assert_eq!(value["relatesTo"][0]["target"]["reference"], "DocumentReference/example");
    value["id"] = "example-appendix".into();
    let appended = document::parse("appendix.json", value.to_string().as_bytes()).unwrap();
    let original = document::parse(
        "original.json",
        br#"{"resourceType":"DocumentReference","id":"example","status":"current","subject":{"reference":"Patient/xcda"},
             "content":[{"attachment":{"contentType":"text/plain","data":"aGVsbG8="}}]}"#,
    )
    .unwrap();
    let report = fhir.import(&original, &f.cast.hospital_a, &mut |_| {}).await.unwrap();
    assert_eq!(report.links, 0);
    let report = fhir.import(&appended, &f.cast.hospital_a, &mut |_| {}).await.unwrap();
    assert_eq!(report.links, 1, "{:?}", report.unmapped);
    let target = fhir.record(&original, &original.resources[0]);
    let link = f.client.records().superseded_by(target, 1).query().await.unwrap().expect("linked");
    assert_eq!(
        (link.target.record, link.target.version, link.how),
        (fhir.record(&appended, &appended.resources[0]), 1, Supersedence::Amends)
    );

    // A Bundle whose Provenance says one Observation revises another.
    let bundle = br#"{"resourceType":"Bundle","type":"collection","entry":[
        {"fullUrl":"urn:uuid:p","resource":{"resourceType":"Patient","id":"pp","birthDate":"1970-01-01"}},
        {"fullUrl":"urn:uuid:o1","resource":{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"Hb"},"subject":{"reference":"urn:uuid:p"}}},
        {"fullUrl":"urn:uuid:o2","resource":{"resourceType":"Observation","id":"o2","status":"amended","code":{"text":"Hb"},"subject":{"reference":"urn:uuid:p"}}},
        {"fullUrl":"urn:uuid:pv","resource":{"resourceType":"Provenance","id":"pv","recorded":"2024-01-01T00:00:00Z",
            "target":[{"reference":"urn:uuid:o2"}],"entity":[{"role":"revision","what":{"reference":"urn:uuid:o1"}}],
            "agent":[{"who":{"display":"lab"}}]}}]}"#;
    let document = document::parse("bundle.json", bundle).unwrap();
    let report = fhir.import(&document, &f.cast.hospital_a, &mut |_| {}).await.unwrap();
    assert_eq!(report.links, 1);
    assert!(report.unmapped.is_empty(), "the agent is no supersedence matter: {:?}", report.unmapped);
    let o1 = fhir.record(&document, &document.resources[1]);
    let link = f.client.records().superseded_by(o1, 1).query().await.unwrap().expect("linked");
    assert_eq!(
        (link.target.record, link.how),
        (fhir.record(&document, &document.resources[2]), Supersedence::Replaces)
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_refused_import_saves_no_plan_and_self_revisions_are_not_links() {
    let f = fixture().await;
    let fhir = FhirImport::new(&f.client, &f.store, &f.pseudonyms);
    let bundle = br#"{"resourceType":"Bundle","type":"collection","entry":[
        {"fullUrl":"urn:uuid:p","resource":{"resourceType":"Patient","id":"q"}},
        {"fullUrl":"urn:uuid:o","resource":{"resourceType":"Observation","id":"o","status":"final","code":{"text":"x"},"subject":{"reference":"urn:uuid:p"}}},
        {"fullUrl":"urn:uuid:v","resource":{"resourceType":"Provenance","id":"v","recorded":"2024-01-01T00:00:00Z",
            "target":[{"reference":"Observation/o/_history/2"}],"entity":[{"role":"revision","what":{"reference":"Observation/o/_history/1"}}],
            "agent":[{"who":{"display":"x"}}]}}]}"#;
    let document = document::parse("b.json", bundle).unwrap();
    // Hospital A registers the patient; the laboratory (no custodian) may not commit.
    f.client.directory().register_patient(fhir.patient(&document)).submit(&f.cast.hospital_a).await.unwrap();
    let refused = fhir.import(&document, &f.cast.lab, &mut |_| {}).await.unwrap_err();
    assert!(
        matches!(refused.contract(), Some(custodia_client::ContractError::RecordsBatch(b)) if b.error == records::Error::NotCustodian),
        "{refused}"
    );
    let report = fhir.import(&document, &f.cast.hospital_a, &mut |_| {}).await.unwrap();
    assert!(!report.resumed, "the refused import saved no plan");
    assert_eq!(
        (report.committed, report.links),
        (3, 0),
        "a revision of the same record is the chain's own version link"
    );
    assert!(!fhir.discard_plan(&document).unwrap(), "nothing left to discard");
}

/// `text` with its first occurrence of `from` replaced by `to` (the file must have one).
fn edited(text: &str, from: &str, to: &str) -> Vec<u8> {
    assert!(text.contains(from), "the fixture holds {from:?}");
    text.replacen(from, to, 1).into_bytes()
}

#[tokio::test(flavor = "current_thread")]
async fn a_tampered_narrative_or_a_decimal_losing_its_precision_is_a_mismatch() {
    // Security finding 9: the commitment must see every change a FHIR server keeps, the
    // generated narrative and a decimal's written precision included.
    let f = fixture().await;
    let fhir = FhirImport::new(&f.client, &f.store, &f.pseudonyms);
    let path = fixture_files("bundles").into_iter().find(|p| p.to_string_lossy().contains("Abdul_Koepp")).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let document = document::parse("abdul.json", text.as_bytes()).unwrap();
    fhir.import(&document, &f.cast.hospital_a, &mut |_| {}).await.unwrap();
    assert!(fhir.verify(&document).await.unwrap().iter().all(|v| v.matches()));

    for (what, from, to) in [
        ("a generated narrative", "Generated by <a", "No known allergies. Generated by <a"),
        ("a decimal's precision", "\"value\": 176.35499866729558", "\"value\": 176.354998667295580"),
    ] {
        let tampered = document::parse("abdul.json", &edited(&text, from, to)).unwrap();
        let verdicts = fhir.verify(&tampered).await.unwrap();
        let mismatches: Vec<&str> =
            verdicts.iter().filter(|v| v.verification == "Mismatch").map(|v| v.resource.as_str()).collect();
        assert_eq!(mismatches.len(), 1, "{what}: exactly the one changed resource is a mismatch, not {mismatches:?}");
        let others: Vec<_> = verdicts.iter().filter(|v| !v.matches() && v.verification != "Mismatch").collect();
        assert!(others.is_empty(), "{what}: {others:?}");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn the_same_local_ids_of_two_source_systems_are_two_patients_and_two_records() {
    // Security finding 11: the pseudonym input dropped the server base, so `Patient/1` of two
    // systems became one patient on chain (and `Observation/1` one record).
    let f = fixture().await;
    let fhir = FhirImport::new(&f.client, &f.store, &f.pseudonyms);
    let file = |base: &str| {
        format!(
            r#"{{"resourceType":"Bundle","type":"collection","entry":[
            {{"fullUrl":"{base}/Patient/1","resource":{{"resourceType":"Patient","id":"1"}}}},
            {{"fullUrl":"{base}/Observation/1","resource":{{"resourceType":"Observation","id":"1","status":"final","code":{{"text":"x"}},"subject":{{"reference":"{base}/Patient/1"}}}}}}]}}"#
        )
    };
    let a = document::parse("a.json", file("https://ehr-a.example/fhir").as_bytes()).unwrap();
    let b = document::parse("b.json", file("https://ehr-b.example/fhir").as_bytes()).unwrap();
    assert_ne!(fhir.patient(&a), fhir.patient(&b), "two systems' Patient/1 are two patients");
    assert_ne!(
        fhir.record(&a, &a.resources[1]),
        fhir.record(&b, &b.resources[1]),
        "and their Observation/1 two records"
    );
    // One system's files name one patient, however its references are written.
    let again = document::parse("a2.json", file("https://ehr-a.example/fhir").as_bytes()).unwrap();
    assert_eq!(fhir.patient(&a), fhir.patient(&again));
}

//! Security finding 9 (issue 11): the canonical form, hence the commitment, must see every
//! change a FHIR server preserves, and nothing a server changes on its own.
//!
//! Every case starts from JSON text, as a file or a server gives it: the number forms in
//! question (`6.30`, `0.1000000000000000000001`, `9007199254740993`) only exist as text.

use custodia_fhir::canonical::{self, Scheme};

/// The canonical form of a resource given as JSON text, as a commitment takes it.
fn canonical(json: &str) -> Vec<u8> {
    canonical::bytes_with(Scheme::CURRENT, json.as_bytes()).expect("valid JSON")
}

/// The canonical form, readable in a failure message.
fn text(json: &str) -> String {
    String::from_utf8(canonical(json)).expect("canonical bytes are UTF-8")
}

fn differ(a: &str, b: &str, why: &str) {
    assert_ne!(text(a), text(b), "{why}:\n  {a}\n  {b}");
}

fn same(a: &str, b: &str, why: &str) {
    assert_eq!(text(a), text(b), "{why}:\n  {a}\n  {b}");
}

/// An allergy record with a generated narrative saying `narrative`.
fn allergy(narrative: &str) -> String {
    format!(
        r##"{{"resourceType":"AllergyIntolerance","id":"a1",
            "text":{{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">{narrative}</div>"}},
            "clinicalStatus":{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical","code":"active"}}]}},
            "code":{{"coding":[{{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"7980","display":"Penicillin G"}}]}},
            "patient":{{"reference":"Patient/p1"}},
            "reaction":[{{"manifestation":[{{"text":"Anaphylaxis"}}],"severity":"severe"}}]}}"##
    )
}

/// Parameters holding one decimal, written as `number` (a number's JSON text, as is).
fn decimal(number: &str) -> String {
    format!(r##"{{"resourceType":"Parameters","id":"p","parameter":[{{"name":"result","valueDecimal":{number}}}]}}"##)
}

/// An Observation whose quantity is written as `number`.
fn observation(number: &str) -> String {
    format!(
        r##"{{"resourceType":"Observation","id":"o1","status":"final","code":{{"text":"Potassium"}},
            "subject":{{"reference":"Patient/p1"}},
            "valueQuantity":{{"value":{number},"unit":"mmol/L","system":"http://unitsofmeasure.org","code":"mmol/L"}}}}"##
    )
}

#[test]
fn a_tampered_generated_narrative_changes_the_form() {
    // A server keeps the narrative it is given; a reader sees it (it is what a viewer shows).
    differ(
        &allergy("Penicillin G: severe anaphylaxis"),
        &allergy("No known allergies"),
        "the generated narrative is what a reader sees",
    );
    same(&allergy("No known allergies"), &allergy("No known allergies"), "the same narrative");
}

#[test]
fn a_contained_resources_generated_narrative_counts_too() {
    let with = |narrative: &str| {
        format!(
            r##"{{"resourceType":"MedicationRequest","id":"m","status":"active","intent":"order","subject":{{"reference":"Patient/p1"}},
                "medicationReference":{{"reference":"#med"}},
                "contained":[{{"resourceType":"Medication","id":"med","text":{{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">{narrative}</div>"}}}}]}}"##
        )
    };
    differ(&with("Warfarin 5 mg"), &with("Warfarin 0.5 mg"), "a contained resource's narrative");
}

#[test]
fn decimal_precision_counts() {
    // FHIR: "the precision of the decimal value has significance"; 6.30 is not 6.3, and a
    // server keeps the form it was given.
    differ(&decimal("6.30"), &decimal("6.3"), "valueDecimal 6.30 vs 6.3");
    differ(&observation("6.30"), &observation("6.3"), "valueQuantity.value 6.30 vs 6.3");
    differ(&decimal("1.0"), &decimal("1"), "1.0 vs 1");
    same(&decimal("6.30"), &decimal("6.30"), "the same decimal");
}

#[test]
fn decimals_beyond_double_precision_do_not_collide() {
    differ(&decimal("0.1000000000000000000001"), &decimal("0.1000000000000000000002"), "beyond an IEEE double");
    differ(&decimal("3.14159265358979323846"), &decimal("3.14159265358979323847"), "pi past double precision");
    differ(&decimal("0.1000000000000000000001"), &decimal("0.1"), "vs its nearest double");
}

#[test]
fn integers_above_2_pow_53_do_not_collide() {
    differ(&decimal("9007199254740993"), &decimal("9007199254740992"), "2^53 + 1 vs 2^53");
    differ(&decimal("-9007199254740993"), &decimal("-9007199254740992"), "negative");
    differ(&decimal("18446744073709551617"), &decimal("18446744073709551616"), "above 2^64");
}

#[test]
fn what_a_server_changes_on_its_own_does_not_count() {
    let with_meta = |meta: &str| {
        format!(
            r##"{{"resourceType":"Observation","id":"o1",{meta}"status":"final","code":{{"text":"x"}},"subject":{{"reference":"Patient/p1"}}}}"##
        )
    };
    let bare = with_meta("");
    same(&bare, &with_meta(r##""meta":{"versionId":"1"},"##), "meta.versionId");
    same(&bare, &with_meta(r##""meta":{"lastUpdated":"2024-05-01T10:00:00.000+00:00"},"##), "meta.lastUpdated");
    same(&bare, &with_meta(r##""meta":{"source":"#a1b2c3"},"##), "meta.source");
    same(
        &with_meta(r##""meta":{"versionId":"1","lastUpdated":"2024-05-01T10:00:00Z","source":"#x"},"##),
        &with_meta(r##""meta":{"versionId":"7","lastUpdated":"2025-01-31T23:59:59.999+01:00","source":"#y"},"##),
        "all three, changed",
    );
    let profiled = |version: &str| {
        with_meta(&format!(
            r##""meta":{{"versionId":"{version}","profile":["http://hl7.org/fhir/us/core/StructureDefinition/us-core-observation-lab"]}},"##
        ))
    };
    same(&profiled("1"), &profiled("2"), "versionId beside a profile");
    differ(&bare, &profiled("1"), "a profile is content");
    differ(
        &bare,
        &with_meta(
            r##""meta":{"security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-Confidentiality","code":"R"}]},"##,
        ),
        "a security label is content",
    );
    differ(&bare, &with_meta(r##""meta":{"tag":[{"code":"x"}]},"##), "a tag is content");
}

#[test]
fn bookkeeping_of_contained_resources_does_not_count() {
    let with = |meta: &str| {
        format!(
            r##"{{"resourceType":"MedicationRequest","id":"m","status":"active","intent":"order","subject":{{"reference":"Patient/p1"}},
                "medicationReference":{{"reference":"#med"}},"contained":[{{"resourceType":"Medication","id":"med"{meta}}}]}}"##
        )
    };
    same(
        &with(""),
        &with(r##","meta":{"versionId":"3","lastUpdated":"2024-01-01T00:00:00Z"}"##),
        "contained meta bookkeeping",
    );
}

#[test]
fn key_order_and_whitespace_do_not_count() {
    let compact = r##"{"resourceType":"Observation","id":"o1","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"2823-3","display":"Potassium"}]},"subject":{"reference":"Patient/p1"},"valueQuantity":{"value":4.2,"unit":"mmol/L"},"text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">K 4.2</div>"}}"##;
    let pretty = r##"{
        "text" : { "div" : "<div xmlns=\"http://www.w3.org/1999/xhtml\">K 4.2</div>", "status" : "generated" },
        "valueQuantity" : { "unit" : "mmol/L",
                            "value" : 4.2 },
        "subject":{"reference":"Patient/p1"},
        "code" : {
            "coding" : [ { "display" : "Potassium", "code" : "2823-3", "system" : "http://loinc.org" } ]
        },
        "status":"final",	"id":"o1",
        "resourceType" : "Observation"
    }"##;
    same(compact, pretty, "key order and whitespace");
    // The same characters, escaped differently, are the same string.
    same(
        r##"{"resourceType":"Patient","id":"p","name":[{"family":"Müller/Ørsted"}]}"##,
        r##"{"resourceType":"Patient","id":"p","name":[{"family":"M\u00fcller\/\u00d8rsted"}]}"##,
        "string escapes",
    );
    // Array order is content.
    differ(
        r##"{"resourceType":"Patient","id":"p","name":[{"given":["Ann","Marie"]}]}"##,
        r##"{"resourceType":"Patient","id":"p","name":[{"given":["Marie","Ann"]}]}"##,
        "array order",
    );
}

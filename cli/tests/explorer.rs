//! The patient explorer: its API over the embedded chain as other processes extend it, and its
//! page in a real browser (feature `browser`: Debian's Chromium and scripts/browser's
//! node_modules, both installed by scripts/setup.sh and scripts/test.sh): what a patient sees
//! after the demo story, every proof checked by the page itself, an altered proof or entry
//! caught by the page, nothing of another patient, no WCAG 2.1 AA violation (axe-core).

mod common;

use common::{
    explorer::{browse, get, request, screenshots, Serving},
    ok,
};
use serde_json::Value;
use std::time::{Duration, Instant};

fn texts(value: &Value) -> Vec<String> {
    value.as_array().expect("a list").iter().map(|v| v.as_str().expect("text").to_string()).collect()
}

#[test]
fn a_patient_sees_who_read_their_records_checked_in_their_own_browser() {
    let state = tempfile::tempdir().unwrap();
    let demo = Serving::start(state.path(), &["demo", "--explorer", "127.0.0.1:0"]);
    let shot = screenshots().join("explorer-patient.png");
    let page = browse(demo.link("the patient"), &["--screenshot", shot.to_str().unwrap()]);

    assert_eq!(page["errors"], serde_json::json!([]), "no script errors");
    // The embedded chain has no node the browser could ask: checked against the explorer's
    // root, and said so (not "verified").
    assert_eq!(page["checked"], "server-root", "{page:#}");
    assert_eq!(page["complete"], "complete", "{page:#}");
    let said = page["completeness"].as_str().unwrap();
    assert!(said.contains("the ledger counts 2 accesses") && said.contains("not an independent check"), "{said}");
    let accesses = page["accesses"].as_array().unwrap();
    assert_eq!(accesses.len(), 2, "the read under consent and the break-glass read: {page:#}");
    for access in accesses {
        assert!(access["proof"].as_str().unwrap().contains("server-root"), "{access}");
        let text = access["text"].as_str().unwrap();
        assert!(text.contains("In the log: checked in your browser against the root this explorer reported"), "{text}");
        assert!(text.contains("not an independent check"), "{text}");
    }
    let glass: Vec<&Value> = accesses.iter().filter(|a| a["breakGlass"] == true).collect();
    assert_eq!(glass.len(), 1, "one break-glass access, marked");
    let glass = glass[0]["text"].as_str().unwrap();
    assert!(glass.contains("Emergency access without your consent: your life was in danger"), "{glass}");
    assert!(glass.contains("Hospital B"), "{glass}");
    let read = accesses.iter().find(|a| a["breakGlass"] == false).unwrap()["text"].as_str().unwrap();
    assert!(
        read.contains("the laboratory") && read.contains("to treat you") && read.contains("Allowed by your consent #"),
        "{read}"
    );

    let versions = texts(&page["versions"]);
    assert_eq!(versions.len(), 4, "both hospitals' versions, and the emergency id's, in one history: {versions:?}");
    // Hospital B's, committed under the id she presented there, and before that under the
    // emergency id it gave her, joined to hers since.
    for joined in &versions[..2] {
        assert!(joined.contains("Hospital B") && joined.contains("a glucose test"), "{joined}");
    }
    assert!(
        versions[2..].iter().all(|v| v.contains("a haemoglobin blood test") && v.contains("Hospital A")),
        "{versions:?}"
    );
    let newest = &versions[2];
    assert!(newest.contains("version 2") && newest.contains("amends version 1"), "{newest}");
    let erased = &versions[3];
    assert!(
        erased.contains("Erased.") && erased.contains("because you asked for it to be deleted"),
        "the tombstone: {erased}"
    );
    assert!(erased.contains("Later added to (amended) by version 2"), "{erased}");

    let consents = texts(&page["consents"]);
    assert_eq!(consents.len(), 1, "{consents:?}");
    assert!(
        consents[0].contains("the laboratory (institution 3) may see all your records")
            && consents[0].contains("to treat you")
            && consents[0].contains("given for you by account")
            && consents[0].contains("Withdrawn on"),
        "granted and revoked: {consents:?}"
    );
    let control = texts(&page["control"]);
    for expected in [
        "Hospital A (institution 1) registered you",
        "Your id was linked to Hospital B (institution 2)",
        "The recovery request was stopped by you (veto)",
        "Your guardians asked to move control to your own key",
        "The recovery request was carried out",
        "was joined to yours: what happened under it is part of this history",
    ] {
        assert!(control.iter().any(|c| c.contains(expected)), "{expected:?} not in {control:?}");
    }

    assert_eq!(page["axe"], serde_json::json!([]), "WCAG 2.1 AA violations: {:#}", page["axe"]);
    let keyboard = page["keyboard"].as_array().unwrap();
    for control in ["filter-institution", "filter-purpose", "filter-glass", "download-csv", "print", "download-fhir"] {
        assert!(keyboard.iter().any(|k| k == control), "{control} not reached by Tab: {keyboard:?}");
    }

    // Another patient's page shows their own record, and nothing of the first patient's; the
    // first patient's shows nothing of theirs.
    let other = browse(demo.link("another patient"), &[]);
    assert_eq!(other["axe"], serde_json::json!([]));
    assert_eq!(other["errors"], serde_json::json!([]));
    let other_versions = texts(&other["versions"]);
    assert_eq!(other_versions.len(), 1, "{other_versions:?}");
    assert!(other_versions[0].contains("Hospital B"), "{other_versions:?}");
    assert!(other["accesses"].as_array().unwrap().is_empty() && texts(&other["consents"]).is_empty());
    let record_of = |text: &str| text.split("(record ").nth(1).and_then(|r| r.split(')').next()).map(str::to_string);
    let theirs = record_of(&other_versions[0]).expect("a record id");
    let mine = record_of(&versions[0]).expect("a record id");
    assert_ne!(theirs, mine);
    assert!(!page["body"].as_str().unwrap().contains(&theirs), "the other patient's record on the first one's page");
    assert!(!other["body"].as_str().unwrap().contains(&mine), "the first patient's record on the other one's page");

    // The patient's accesses as FHIR AuditEvents (IHE BALP), newest first.
    let base = demo.link("");
    let patient = demo.link("the patient").rsplit('/').next().unwrap().to_string();
    let (status, body) = get(&format!("{base}api/patients/{patient}/audit-events"));
    assert_eq!(status, 200, "{body}");
    let bundle: Value = serde_json::from_str(&body).unwrap();
    assert_eq!((bundle["resourceType"].as_str(), bundle["total"].as_u64()), (Some("Bundle"), Some(2)), "{bundle:#}");
    let events: Vec<&Value> = bundle["entry"].as_array().unwrap().iter().map(|e| &e["resource"]).collect();
    for event in &events {
        assert_eq!(event["resourceType"], "AuditEvent");
        assert_eq!(event["entity"][0]["what"]["identifier"]["value"].as_str(), Some(patient.as_str()), "{event:#}");
    }
    assert_eq!(events[0]["purposeOfEvent"][1]["coding"][0]["code"], "BTG", "the newest is the break-glass read");
    assert_eq!(
        events[1]["entity"][2]["what"]["reference"].as_str().map(|r| r.starts_with("Consent/custodia-receipt-")),
        Some(true)
    );

    // Nothing lists patients, and a pseudonym nobody was given finds nothing.
    let (status, _) = get(&format!("{base}api/patients"));
    assert_eq!(status, 404);
    let (status, body) = get(&format!("{base}api/patients/0x{}", "ab".repeat(32)));
    assert_eq!((status, body.contains("nothing on chain concerns this pseudonym")), (404, true), "{body}");
    let (status, _) = get(&format!("{base}api/patients/MRN-0042"));
    assert_eq!(status, 400, "only a pseudonym finds a patient");
    // Read-only, and only for pages of its own address (no DNS rebinding from other sites).
    let (status, _) = request("POST", &format!("{base}api/patients/{patient}"), None);
    assert_eq!(status, 405);
    let (status, _) = request("GET", &format!("{base}api/patients/{patient}"), Some("evil.example"));
    assert_eq!(status, 421);
}

#[test]
fn an_auditor_sees_an_institutions_accesses_and_checks_that_the_log_only_grew() {
    let state = tempfile::tempdir().unwrap();
    let demo = Serving::start(state.path(), &["demo", "--explorer", "127.0.0.1:0"]);
    let base = demo.link("");
    // The laboratory (institution 3) read under consent #1, withdrawn afterwards.
    let lab = browse(&format!("{base}institution/3"), &[]);
    assert_eq!(lab["errors"], serde_json::json!([]));
    assert_eq!(lab["axe"], serde_json::json!([]), "WCAG 2.1 AA violations: {:#}", lab["axe"]);
    let audit = lab["audit"].to_string();
    assert!(audit.contains("1 accesses logged; 0 in an emergency"), "{audit}");
    let ended = texts(&lab["consentEnded"]);
    assert_eq!(ended.len(), 1, "{ended:?}");
    assert!(ended[0].contains("under consent #1, since withdrawn on"), "{ended:?}");
    // Hospital B broke the glass once.
    let hospital_b = browse(&format!("{base}institution/2"), &[]);
    let glass = texts(&hospital_b["breakGlass"]);
    assert_eq!(glass.len(), 1, "{glass:?}");
    assert!(glass[0].contains("because the patient's life was in danger"), "{glass:?}");
    assert!(
        !hospital_b["body"].as_str().unwrap().contains("0x"),
        "no pseudonym or id of a patient on an auditor's page"
    );
    // The log grew from 1 to 2 entries, checked in the browser; an altered proof fails.
    let consistency = &lab["consistency"];
    assert_eq!((consistency["old"].as_str(), consistency["new"].as_str()), (Some("1"), Some("2")), "{consistency}");
    assert_eq!(consistency["state"], "verified", "{consistency}");
    assert!(consistency["text"].as_str().unwrap().contains("The log only grew from 1 to 2 entries"), "{consistency}");
    let tampered = browse(&format!("{base}institution/3"), &["--tamper", "consistency"]);
    assert_eq!(tampered["consistency"]["state"], "failed", "{}", tampered["consistency"]);
    // Bad sizes are refused with a reason.
    let (status, body) = get(&format!("{base}api/consistency?old=2&new=1"));
    assert_eq!(status, 404, "{body}");
    let (status, _) = get(&format!("{base}api/consistency?old=1"));
    assert_eq!(status, 400);
}

#[test]
fn an_altered_proof_or_entry_shows_as_failed_in_the_browser() {
    let state = tempfile::tempdir().unwrap();
    let demo = Serving::start(state.path(), &["demo", "--explorer", "127.0.0.1:0"]);
    for tamper in ["path", "leaf"] {
        let page = browse(demo.link("the patient"), &["--tamper", tamper]);
        assert_eq!(page["checked"], "failed", "{tamper}: {page:#}");
        let accesses = page["accesses"].as_array().unwrap();
        assert!(accesses[0]["proof"].as_str().unwrap().contains("failed"), "{tamper}: {:#}", accesses[0]);
        assert!(accesses[0]["text"].as_str().unwrap().contains("Check failed"), "{tamper}");
        assert!(
            accesses[1]["proof"].as_str().unwrap().contains("server-root"),
            "{tamper}: the other access still holds"
        );
        assert!(
            page["summary"].to_string().contains("1 of 2 accesses failed the check"),
            "{tamper}: {}",
            page["summary"]
        );
    }
    // A server that leaves an access out: the ledger's count says so.
    let hidden = browse(demo.link("the patient"), &["--tamper", "hide"]);
    assert_eq!(hidden["complete"], "incomplete", "{hidden:#}");
    let said = hidden["completeness"].as_str().unwrap();
    assert!(said.contains("the ledger counts 2 accesses") && said.contains("shows 1"), "{said}");
    // A server that answers one patient's page with another patient's genuine history.
    let other = demo.link("another patient").rsplit('/').next().unwrap().to_string();
    let swapped = browse(demo.link("the patient"), &["--swap-with", &other]);
    assert_eq!(swapped["checked"], "failed", "{swapped:#}");
    assert!(swapped["alerts"].to_string().contains("another person's history"), "{}", swapped["alerts"]);
    assert!(swapped["versions"].as_array().unwrap().is_empty(), "nothing of the other patient is shown");
}

#[test]
fn the_explorer_follows_the_embedded_chain_as_other_processes_extend_it() {
    let dir =
        common::deployed_with(&[("dave", "hospital", "custodian,accessor"), ("ferdie", "laboratory", "accessor")]);
    let s = dir.path();
    let registered = ok(s, &["directory", "register-patient", "MRN-7", "--as", "dave"]);
    let patient = registered["result"]["patient"].as_str().expect("the patient's pseudonym").to_string();
    let explorer = Serving::start(s, &["explorer", "--listen", "127.0.0.1:0", "--follow-ms", "200"]);
    let base = explorer.link("").to_string();
    let history = || -> Value {
        let (status, body) = get(&format!("{base}api/patients/{patient}"));
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    };
    let registered = history();
    assert_eq!(registered["versions"], serde_json::json!([]));
    assert_eq!(registered["control"][0]["event"], "registered");

    // Another process commits a version; the explorer sees it within a few follow intervals.
    let v1 = s.join("v1.json");
    std::fs::write(&v1, br#"{"resourceType":"Observation","id":"hb","status":"final"}"#).unwrap();
    ok(
        s,
        &[
            "record",
            "commit",
            "--record",
            "Observation/hb",
            "--patient",
            "MRN-7",
            "--file",
            v1.to_str().unwrap(),
            "--as",
            "dave",
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let versions = history()["versions"].as_array().unwrap().len();
        if versions == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "the explorer never saw the committed version");
        std::thread::sleep(Duration::from_millis(200));
    }
    let (status, body) = get(&format!("{base}api/patients/{patient}"));
    assert_eq!(status, 200);
    for private in ["MRN-7", "Observation/hb", "\"hb\""] {
        assert!(!body.contains(private), "{private} in the explorer's answer: {body}");
    }
}

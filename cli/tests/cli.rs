//! The `custodia` command line on the embedded chain saved in a state directory: every
//! command group, JSON output, exit codes, and the outbox surviving a killed process.

mod common;

use common::{custodia, ok};
use serde_json::Value;
use std::{
    path::Path,
    process::{Command, Output},
};

/// A state directory with the suite deployed and attached, Dave's hospital (custodian,
/// accessor) and Ferdie's laboratory (accessor) admitted, and patient MRN-7 registered.
fn deployed() -> tempfile::TempDir {
    let dir =
        common::deployed_with(&[("dave", "hospital", "custodian,accessor"), ("ferdie", "laboratory", "accessor")]);
    ok(dir.path(), &["directory", "register-patient", "MRN-7", "--as", "dave"]);
    dir
}

#[test]
fn records_consents_and_accesses_from_the_command_line() {
    let dir = deployed();
    let s = dir.path();
    let membership = ok(s, &["directory", "membership", "ferdie"]);
    assert_eq!(membership["institution"], 2);
    let patient = ok(s, &["directory", "patient", "MRN-7"]);
    assert_eq!(patient["custodian"], 1);

    let v1 = s.join("v1.json");
    std::fs::write(&v1, br#"{"resourceType":"Observation","id":"o1","status":"final"}"#).unwrap();
    let committed = ok(
        s,
        &[
            "record",
            "commit",
            "--record",
            "Observation/o1",
            "--patient",
            "MRN-7",
            "--file",
            v1.to_str().unwrap(),
            "--as",
            "dave",
        ],
    );
    assert_eq!(committed["result"]["version"], 1);
    assert_eq!(committed["events"][0]["name"], "VersionCommitted");
    let verified =
        ok(s, &["record", "verify", "--record", "Observation/o1", "--version", "1", "--file", v1.to_str().unwrap()]);
    assert_eq!(verified["verification"], "Match");
    let tampered = s.join("tampered.json");
    std::fs::write(&tampered, br#"{"resourceType":"Observation","id":"o1","status":"final "}"#).unwrap();
    let out = custodia(
        s,
        &["record", "verify", "--record", "Observation/o1", "--version", "1", "--file", tampered.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2), "a mismatch exits with 2");
    assert!(String::from_utf8_lossy(&out.stdout).contains("Mismatch"));

    let v2 = s.join("v2.json");
    std::fs::write(&v2, br#"{"resourceType":"Observation","id":"o1","status":"amended"}"#).unwrap();
    let superseded = ok(
        s,
        &[
            "record",
            "supersede",
            "--record",
            "Observation/o1",
            "--patient",
            "MRN-7",
            "--file",
            v2.to_str().unwrap(),
            "--target-version",
            "1",
            "--how",
            "amends",
            "--as",
            "dave",
        ],
    );
    assert_eq!(superseded["result"]["version"], 2);
    ok(
        s,
        &[
            "record",
            "erase",
            "--record",
            "Observation/o1",
            "--version",
            "1",
            "--reason",
            "patient-request",
            "--as",
            "dave",
        ],
    );
    let history = ok(s, &["record", "history", "Observation/o1"]);
    assert_eq!(history[0]["content"]["state"], "erased");
    assert_eq!(history[0]["superseded_by"]["version"], 2);
    assert_eq!(history[1]["supersedes"]["how"], "Amends");
    assert_eq!(ok(s, &["record", "show", "Observation/o1"])["head"], 2);

    // A refused call: typed, explained, exit 1, nothing written.
    let out = custodia(
        s,
        &[
            "record",
            "commit",
            "--record",
            "Observation/o1",
            "--patient",
            "MRN-7",
            "--file",
            v2.to_str().unwrap(),
            "--as",
            "ferdie",
            "--json",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let error: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(error["contract_error"], "Records(NotCustodian)");
    assert!(error["error"].as_str().unwrap().contains("does not act for a custodian institution"));

    let granted = ok(
        s,
        &[
            "consent",
            "grant",
            "--patient",
            "MRN-7",
            "--institution",
            "2",
            "--purpose",
            "TREAT",
            "--days",
            "30",
            "--as",
            "dave",
        ],
    );
    let receipt = granted["result"]["receipt"].as_u64().unwrap().to_string();
    let check_args = [
        "consent",
        "check",
        "--accessor",
        "ferdie",
        "--patient",
        "MRN-7",
        "--record",
        "Observation/o1",
        "--version",
        "2",
        "--receipt",
        &receipt,
    ];
    let check = ok(s, &check_args);
    assert_eq!(check["authorized"], true);
    let listed = ok(s, &["consent", "list", "MRN-7", "--active"]);
    assert_eq!(listed.as_array().unwrap().len(), 1);

    let logged = ok(
        s,
        &[
            "access",
            "record",
            "--patient",
            "MRN-7",
            "--record",
            "Observation/o1",
            "--version",
            "2",
            "--receipt",
            &receipt,
            "--as",
            "ferdie",
        ],
    );
    assert_eq!(logged["appended"], 1);
    ok(
        s,
        &[
            "access",
            "record",
            "--patient",
            "MRN-7",
            "--query",
            "http://loinc.org|718-7",
            "--break-glass",
            "life-threatening",
            "--purpose",
            "ETREAT",
            "--as",
            "dave",
        ],
    );
    let entries = ok(s, &["access", "list"]);
    assert_eq!(entries.as_array().unwrap().len(), 2);
    assert_eq!(entries[1]["authorization"]["break_glass"], "LifeThreatening");

    let proof = ok(s, &["access", "prove", "1"]);
    let proof_file = s.join("proof.json");
    std::fs::write(&proof_file, proof.to_string()).unwrap();
    assert_eq!(ok(s, &["access", "verify", proof_file.to_str().unwrap()])["verified"], true);
    let mut forged = proof.clone();
    forged["index"] = Value::from(0);
    std::fs::write(&proof_file, forged.to_string()).unwrap();
    assert_eq!(custodia(s, &["access", "verify", proof_file.to_str().unwrap()]).status.code(), Some(2));

    ok(s, &["consent", "revoke", &receipt, "--as", "dave"]);
    let check = ok(s, &check_args);
    assert_eq!(check["denial"], format!("Revoked({receipt})"));
}

#[test]
fn commands_say_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let out = custodia(dir.path(), &["record", "show", "x"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("run `custodia deploy` first"), "{stderr}");
    let out = custodia(dir.path(), &["deploy"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("which key signs?"));
}

/// The lab's outbox state after a run: entries pending locally, entries on chain.
fn counts(s: &Path) -> (usize, u64) {
    let pending = ok(s, &["access", "pending", "--as", "ferdie"]).as_array().unwrap().len();
    let entries = ok(s, &["access", "list", "--limit", "100000"]);
    (pending, entries.as_array().unwrap().len() as u64)
}

fn record_accesses(s: &Path, count: usize, crash_at: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_custodia"));
    command
        .args([
            "access",
            "record",
            "--patient",
            "MRN-7",
            "--query",
            "kind",
            "--break-glass",
            "urgent-care",
            "--count",
            &count.to_string(),
            "--as",
            "ferdie",
        ])
        .env("CUSTODIA_STATE", s)
        .env_remove("CUSTODIA_NODE");
    if let Some(at) = crash_at {
        command.env("CUSTODIA_TEST_CRASH_AT", at);
    }
    command.output().unwrap()
}

#[test]
fn no_access_is_lost_or_doubled_when_the_process_dies_mid_batch() {
    let dir = deployed();
    let s = dir.path();
    let mut expected = 0u64;
    // Die after queueing, after the chain took the first chunk but before the outbox forgot
    // it, and after it forgot it: a restart's flush ends with every entry on chain once.
    for crash_at in ["queued", "included:0", "cleared:0", "included:1"] {
        let out = record_accesses(s, 600, Some(crash_at));
        assert!(!out.status.success(), "the process must have died at {crash_at}");
        let (pending, _) = counts(s);
        assert!(pending > 0, "entries are still queued after dying at {crash_at}");
        let flushed = ok(s, &["access", "flush", "--as", "ferdie"]);
        expected += 600;
        let (pending, on_chain) = counts(s);
        assert_eq!((pending, on_chain), (0, expected), "after dying at {crash_at} and flushing: {flushed}");
    }
    // Every entry number once, in order.
    let entries = ok(s, &["access", "list", "--limit", "100000"]);
    let seqs: Vec<u64> = entries.as_array().unwrap().iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (0..expected).collect::<Vec<_>>());
}

#[test]
fn a_process_killed_at_an_arbitrary_moment_loses_nothing() {
    use std::io::{BufRead, BufReader};
    let dir = deployed();
    let s = dir.path();
    for (round, delay_ms) in [0u64, 150, 400].into_iter().enumerate() {
        let mut child = Command::new(env!("CARGO_BIN_EXE_custodia"))
            .args([
                "access",
                "record",
                "--patient",
                "MRN-7",
                "--query",
                "kind",
                "--break-glass",
                "urgent-care",
                "--count",
                "2000",
                "--as",
                "ferdie",
            ])
            .env("CUSTODIA_STATE", s)
            .env_remove("CUSTODIA_NODE")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Once the entries are queued, let it get somewhere into the drain, then SIGKILL it.
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        while stderr.read_line(&mut line).unwrap() > 0 && !line.contains("queued") {
            line.clear();
        }
        assert!(line.contains("queued 2000 entries"), "round {round}: {line}");
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        child.kill().unwrap();
        child.wait().unwrap();
        ok(s, &["access", "flush", "--as", "ferdie"]);
        let (pending, on_chain) = counts(s);
        assert_eq!(
            (pending, on_chain),
            (0, 2000 * (round as u64 + 1)),
            "round {round}, killed {delay_ms} ms after queueing"
        );
    }
    let entries = ok(s, &["access", "list", "--limit", "100000"]);
    let seqs: Vec<u64> = entries.as_array().unwrap().iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (0..6000).collect::<Vec<_>>(), "every number once, in order");
}

#[test]
fn the_demo_tells_the_whole_story() {
    let dir = tempfile::tempdir().unwrap();
    let story = ok(dir.path(), &["demo"]);
    common::assert_the_whole_story(&story);
}

fn fhir_fixtures(dir: &str) -> std::path::PathBuf {
    custodia_fixtures::fhir_dir().join(dir)
}

#[test]
fn fhir_import_resumes_after_a_crash_and_verify_reports_tampering() {
    let dir = deployed();
    let s = dir.path();
    let bundle = fhir_fixtures("bundles").join("smart-synthea__Abdul_Koepp_e925b0f3-8006-43f6-aa31-94bd215e55e7.json");
    let bundle = bundle.to_str().unwrap();
    // Die after the first batch of 64 versions is on chain.
    let out = Command::new(env!("CARGO_BIN_EXE_custodia"))
        .args(["fhir", "import", bundle, "--as", "dave"])
        .env("CUSTODIA_STATE", s)
        .env("CUSTODIA_TEST_CRASH_AT", "import-batch")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let resumed = ok(s, &["fhir", "import", bundle, "--as", "dave"]);
    let report = &resumed[0];
    assert_eq!(report["resumed"], true);
    let resources = report["resources"].as_u64().unwrap();
    assert_eq!(report["committed"].as_u64().unwrap() + 64, resources, "the rest, not the first batch again");
    let verified = ok(s, &["fhir", "verify", bundle]);
    let verdicts = verified[0]["resources"].as_array().unwrap();
    assert_eq!(verdicts.len() as u64, resources);
    assert!(
        verdicts.iter().all(|v| v["verification"] == "Match" && v["version"] == 1),
        "one version each, all matching"
    );
    assert_eq!(ok(s, &["fhir", "import", bundle, "--as", "dave"])[0]["committed"], 0, "unchanged: nothing to commit");

    // A copy with one byte changed.
    let text = std::fs::read_to_string(bundle).unwrap();
    let tampered = s.join("tampered.json");
    assert!(text.contains("\"gender\": \"male\""));
    std::fs::write(&tampered, text.replacen("\"gender\": \"male\"", "\"gender\": \"malf\"", 1)).unwrap();
    let out = custodia(s, &["fhir", "verify", tampered.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(2), "a mismatch exits with 2");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mismatches: Vec<&Value> =
        report[0]["resources"].as_array().unwrap().iter().filter(|v| v["verification"] == "Mismatch").collect();
    assert_eq!(mismatches.len(), 1);
    assert!(mismatches[0]["resource"].as_str().unwrap().starts_with("Patient/"));
}

#[test]
fn bad_fhir_input_is_refused_by_name_and_nothing_is_committed() {
    let dir = deployed();
    let s = dir.path();
    let before = std::fs::read(s.join("chain.scale")).unwrap();
    let good = fhir_fixtures("documentreference");
    let out = custodia(
        s,
        &["fhir", "import", good.to_str().unwrap(), fhir_fixtures("invalid").to_str().unwrap(), "--as", "dave"],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for expected in [
        "nothing was committed",
        "7 file(s) refused",
        "bad-json-close-3.json",
        "entry 0",
        "byte-order mark",
        "is an empty array",
        "no resourceType",
        "Device/foo",
    ] {
        assert!(stderr.contains(expected), "{expected:?} missing from:\n{stderr}");
    }
    assert!(std::fs::read(s.join("chain.scale")).unwrap() == before, "the chain did not change");
}

#[test]
fn fhir_consents_audit_events_and_provenance_from_the_command_line() {
    let dir = deployed();
    let s = dir.path();
    ok(s, &["directory", "register-patient", "Patient/f001", "--as", "dave"]);
    std::fs::write(s.join("institutions.json"), r#"{"Organization/f001": 2}"#).unwrap();
    let consent = fhir_fixtures("consent").join("hl7-r4__Consent-consent-example-Emergency.json");
    let granted = ok(s, &["fhir", "consent-import", consent.to_str().unwrap(), "--as", "dave"]);
    let receipts = granted["receipts"].as_array().unwrap();
    assert!(!receipts.is_empty(), "{granted}");
    // Security finding 3: importing the same Consent again grants nothing new.
    let again = ok(s, &["fhir", "consent-import", consent.to_str().unwrap(), "--as", "dave"]);
    assert_eq!(again["receipts"].as_array().map(Vec::len), Some(0), "a re-import granted again: {again}");
    let exported = custodia(s, &["fhir", "consent-export", "Patient/f001"]);
    let bundle: Value = serde_json::from_slice(&exported.stdout).unwrap();
    let consents = bundle["entry"].as_array().unwrap();
    assert_eq!(consents.len(), receipts.len());
    assert_eq!(
        consents[0]["resource"]["provision"]["provision"][0]["actor"][0]["reference"]["reference"],
        "Organization/custodia-institution-2"
    );

    // The laboratory (institution 2, Ferdie) under the imported receipt; its accesses exported
    // as AuditEvents, and those events logged again from FHIR.
    let receipt = receipts[0].to_string();
    let v1 = s.join("v1.json");
    std::fs::write(&v1, br#"{"resourceType":"Observation","id":"x","status":"final"}"#).unwrap();
    ok(
        s,
        &[
            "record",
            "commit",
            "--record",
            "Observation/x",
            "--patient",
            "Patient/f001",
            "--file",
            v1.to_str().unwrap(),
            "--as",
            "dave",
        ],
    );
    // The example is an opt-out: Organization/f001 is denied emergency access, on chain too.
    let out = custodia(
        s,
        &[
            "access",
            "record",
            "--patient",
            "Patient/f001",
            "--record",
            "Observation/x",
            "--version",
            "1",
            "--purpose",
            "ETREAT",
            "--receipt",
            &receipt,
            "--as",
            "ferdie",
            "--json",
        ],
    );
    let refused: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(refused["contract_error"].as_str().unwrap().contains(&format!("Denied({receipt})")), "{refused}");
    ok(
        s,
        &[
            "access",
            "record",
            "--patient",
            "Patient/f001",
            "--record",
            "Observation/x",
            "--version",
            "1",
            "--purpose",
            "ETREAT",
            "--break-glass",
            "life-threatening",
            "--as",
            "ferdie",
        ],
    );
    let audit = custodia(s, &["fhir", "audit-export"]);
    let events: Value = serde_json::from_slice(&audit.stdout).unwrap();
    assert_eq!(events["entry"][0]["resource"]["subtype"][0]["code"], "read");
    let events_file = s.join("events.json");
    std::fs::write(&events_file, events.to_string()).unwrap();
    let again = ok(s, &["fhir", "audit-import", events_file.to_str().unwrap(), "--as", "ferdie"]);
    assert_eq!(again["appended"], 0, "its own events are already in the log: {again}");
    // The same event as another system would send it (its own id) is logged.
    let mut foreign = events.clone();
    foreign["entry"][0]["resource"]["id"] = "ehr-audit-1".into();
    std::fs::write(&events_file, foreign.to_string()).unwrap();
    let imported = ok(s, &["fhir", "audit-import", events_file.to_str().unwrap(), "--as", "ferdie"]);
    assert_eq!(imported["appended"], 1, "{imported}");

    let v2 = s.join("v2.json");
    std::fs::write(&v2, br#"{"resourceType":"Observation","id":"x","status":"amended"}"#).unwrap();
    ok(
        s,
        &[
            "record",
            "supersede",
            "--record",
            "Observation/x",
            "--patient",
            "Patient/f001",
            "--file",
            v2.to_str().unwrap(),
            "--target-version",
            "1",
            "--how",
            "corrects",
            "--as",
            "dave",
        ],
    );
    let provenance: Value =
        serde_json::from_slice(&custodia(s, &["fhir", "provenance-export", "Observation/x"]).stdout).unwrap();
    let resource = &provenance["entry"][0]["resource"];
    assert_eq!(resource["entity"][0]["role"], "revision");
    assert_eq!(resource["activity"]["text"], "correction");
}

#[test]
fn output_into_a_pipe_closed_early_ends_quietly() {
    // `custodia demo | head -0`: the reader is gone before the first line is written.
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_custodia"))
        .arg("demo")
        .env("CUSTODIA_STATE", dir.path())
        .env_remove("CUSTODIA_NODE")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("custodia runs");
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(out.status.success(), "exit {:?}: {stderr}", out.status.code());
}

/// True if `needle` occurs in `haystack`.
fn holds(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn record_commands_put_no_local_id_on_chain() {
    // Security finding 10: a record's local id (which source systems fill with MRNs) must not
    // reach the chain, in state or in any event, through the locator the CLI makes up.
    let dir = deployed();
    let s = dir.path();
    let v1 = s.join("v1.json");
    std::fs::write(&v1, br#"{"resourceType":"Observation","id":"mrn-4711-hb","status":"final"}"#).unwrap();
    let file = v1.to_str().unwrap();
    let record = "Observation/mrn-4711-hb";
    ok(s, &["record", "commit", "--record", record, "--patient", "MRN-7", "--file", file, "--as", "dave"]);
    ok(
        s,
        &[
            "record",
            "supersede",
            "--record",
            record,
            "--patient",
            "MRN-7",
            "--file",
            file,
            "--target-version",
            "1",
            "--how",
            "amends",
            "--as",
            "dave",
        ],
    );
    let chain = std::fs::read(s.join("chain.scale")).unwrap();
    assert!(!holds(&chain, b"mrn-4711"), "the local id reached the chain (state or events)");
    let history = ok(s, &["record", "history", record]);
    assert_eq!(history.as_array().map(Vec::len), Some(2));
}

#[test]
fn after_erasure_nothing_links_the_chain_to_the_content() {
    // Security finding 10: erasure clears the commitment and locator from state, but archive
    // nodes keep every `VersionCommitted` event. What keeps the content unlinkable is that the
    // locator is opaque and the salt is destroyed off chain, so the commitment left in the
    // event can be tested against no guess.
    let dir = deployed();
    let s = dir.path();
    let content = br#"{"resourceType":"Observation","id":"e1","status":"final","valueString":"HIV positive"}"#;
    let file = s.join("e1.json");
    std::fs::write(&file, content).unwrap();
    let file = file.to_str().unwrap();
    ok(s, &["record", "commit", "--record", "Observation/e1", "--patient", "MRN-7", "--file", file, "--as", "dave"]);
    let history = ok(s, &["record", "history", "Observation/e1"]);
    let commitment = history[0]["content"]["commitment"].as_str().unwrap().to_string();
    ok(
        s,
        &[
            "record",
            "erase",
            "--record",
            "Observation/e1",
            "--version",
            "1",
            "--reason",
            "patient-request",
            "--as",
            "dave",
        ],
    );

    let history = ok(s, &["record", "history", "Observation/e1"]);
    assert_eq!(history[0]["content"]["state"], "erased");
    let chain = std::fs::read(s.join("chain.scale")).unwrap();
    let commitment_bytes = hex::decode(commitment.trim_start_matches("0x")).unwrap();
    assert!(holds(&chain, &commitment_bytes), "archive nodes keep the VersionCommitted event");
    let unsalted: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(content).into();
    for (what, needle) in
        [("the content", &content[..]), ("its unsalted digest", &unsalted[..]), ("its local id", b"Observation/e1")]
    {
        assert!(!holds(&chain, needle), "{what} is on chain");
    }
    // The salt is gone from the store, so nobody (the custodian included) can link the
    // commitment to the content any more; the chain says Erased whatever is asked.
    let store = custodia_services::Store::open(&s.join("client.redb")).unwrap();
    let salts = custodia_services::salts::Salts::new(&store);
    let commitment = custodia_client::types::Commitment::new(commitment_bytes.try_into().unwrap());
    assert_eq!(salts.get(commitment).unwrap(), None, "the salt outlived the erasure");
    drop(store);
    let out =
        custodia(s, &["record", "verify", "--record", "Observation/e1", "--version", "1", "--file", file, "--json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Erased"));
}

#[test]
fn the_state_directory_and_the_pseudonym_secret_stay_private() {
    // Security review (low): the state directory (salts, digests, the outbox) was created with
    // default permissions, and the pseudonym secret's mode was not checked when read.
    use std::os::unix::fs::PermissionsExt;
    let dir = deployed();
    let fresh = dir.path().join("fresh-state");
    let out = custodia(&fresh, &["record", "show", "x"]);
    assert_eq!(out.status.code(), Some(1), "no deployment there yet");
    let mode = std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode & 0o077, 0, "the state directory is {mode:o}");

    let s = dir.path();
    let key = s.join("pseudonym.key");
    assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o077, 0);
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = custodia(s, &["directory", "patient", "MRN-7"]);
    assert_eq!(out.status.code(), Some(1), "a readable secret is refused");
    assert!(String::from_utf8_lossy(&out.stderr).contains("chmod 600"), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn the_networks_code_key_is_made_with_the_deployment_and_required_where_it_names_one() {
    use custodia_client::{verify::CodeKey, Deployment};
    use std::os::unix::fs::PermissionsExt;
    let dir = deployed();
    let s = dir.path();
    let key = s.join("codes.key");
    assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o077, 0, "the code key is private");
    let fingerprint = CodeKey::load_or_create(&key).unwrap().fingerprint();
    let deployment = Deployment::load(&s.join("deployment.json")).unwrap();
    assert_eq!(deployment.code_key, Some(fingerprint), "the deployment names the key by its fingerprint");
    let text = std::fs::read_to_string(s.join("deployment.json")).unwrap();
    assert!(!text.contains(&hex::encode(std::fs::read(&key).unwrap())), "the key itself stays out of the file");

    // The same institution's installation restored on another server, without the key first.
    let restored = s.join("restored");
    std::fs::create_dir(&restored).unwrap();
    for file in ["deployment.json", "chain.scale", "pseudonym.key"] {
        std::fs::copy(s.join(file), restored.join(file)).unwrap();
    }
    let refused = |out: std::process::Output, why: &str| {
        assert_eq!(out.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(why) && stderr.contains("codes.key"), "{stderr}");
    };
    refused(custodia(&restored, &["directory", "patient", "MRN-7"]), "no network code key");
    let wrong = restored.join("codes.key");
    std::fs::write(&wrong, [7u8; 32]).unwrap();
    std::fs::set_permissions(&wrong, std::fs::Permissions::from_mode(0o600)).unwrap();
    refused(custodia(&restored, &["directory", "patient", "MRN-7"]), "is not this deployment's");
    std::fs::remove_file(&wrong).unwrap();
    std::fs::copy(&key, &wrong).unwrap();
    assert_eq!(ok(&restored, &["directory", "patient", "MRN-7"]), ok(s, &["directory", "patient", "MRN-7"]));
}

#[test]
fn a_file_whose_patient_presents_her_custodia_id_goes_under_it_once_her_controller_linked_the_institution() {
    let dir = common::deployed_with(&[
        ("dave", "hospital", "custodian,accessor"),
        ("eve", "hospital", "custodian"),
        ("ferdie", "laboratory", "accessor"),
    ]);
    let s = dir.path();
    ok(s, &["directory", "register-patient", "MRN-7", "--as", "dave"]);
    let her = ok(s, &["patient", "show", "MRN-7"])["patient"].as_str().unwrap().to_string();
    let file = |name: &str, id: &str| {
        let bundle = serde_json::json!({"resourceType": "Bundle", "type": "collection", "entry": [
            {"resource": {"resourceType": "Patient", "id": "b-41",
                          "identifier": [{"system": "urn:custodia:patient-id", "value": id}]}},
            {"resource": {"resourceType": "Observation", "id": "b-glucose", "status": "final",
                          "code": {"coding": [{"system": "http://loinc.org", "code": "2345-7"}]},
                          "subject": {"reference": "Patient/b-41"}}}]});
        let path = s.join(name);
        std::fs::write(&path, bundle.to_string()).unwrap();
        path.to_str().unwrap().to_string()
    };
    let presented = file("presented.json", &her);
    // Eve's hospital does not keep her records yet: refused, nothing committed or registered.
    let out = custodia(s, &["fhir", "import", &presented, "--as", "eve"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("does not keep records of") && stderr.contains("link"), "{stderr}");
    assert_eq!(ok(s, &["directory", "patient", "Patient/b-41"]), Value::Null, "no second identity registered");
    // Her controller (her custodian, dave's hospital) links eve's institution: the file goes
    // under her id, and nothing is registered anew.
    ok(s, &["patient", "link-institution", "MRN-7", "--institution", "2", "--as", "dave"]);
    let imported = ok(s, &["fhir", "import", &presented, "--as", "eve"]);
    assert_eq!(imported[0]["patient"].as_str(), Some(her.as_str()), "{imported}");
    assert_eq!(
        (imported[0]["committed"].as_u64(), imported[0]["registered_patient"].as_bool()),
        (Some(2), Some(false))
    );
    assert_eq!(ok(s, &["directory", "patient", "Patient/b-41"]), Value::Null);
    // A malformed id is refused before anything reaches the chain.
    let bad = file("bad.json", "0x1234");
    let out = custodia(s, &["fhir", "import", &bad, "--as", "eve"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not 0x and 64 hex digits"));
}

#[test]
fn a_restored_store_keeps_its_salts_except_those_erased_since_and_reindexes_from_the_chain() {
    let dir = deployed();
    let s = dir.path();
    let commit = |id: &str, body: &[u8]| {
        let file = s.join(format!("{}.json", id.replace('/', "-")));
        std::fs::write(&file, body).unwrap();
        ok(
            s,
            &[
                "record",
                "commit",
                "--record",
                id,
                "--patient",
                "MRN-7",
                "--file",
                file.to_str().unwrap(),
                "--as",
                "dave",
            ],
        );
        file
    };
    let kept = commit("Observation/r1", br#"{"resourceType":"Observation","id":"r1","status":"final"}"#);
    let erased = commit("Observation/r2", br#"{"resourceType":"Observation","id":"r2","status":"final"}"#);
    let backup = s.join("backup.redb");
    ok(s, &["store", "backup", backup.to_str().unwrap()]);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&backup).unwrap().permissions().mode() & 0o077, 0, "a backup holds salts");
    assert_eq!(custodia(s, &["store", "backup", backup.to_str().unwrap()]).status.code(), Some(1), "never overwritten");
    ok(
        s,
        &[
            "record",
            "erase",
            "--record",
            "Observation/r2",
            "--version",
            "1",
            "--reason",
            "patient-request",
            "--as",
            "dave",
        ],
    );

    let restored = ok(s, &["store", "restore", backup.to_str().unwrap(), "--as", "dave"]);
    assert_eq!(restored["salts_dropped"], 1, "{restored}");
    assert!(restored["entries_indexed"].is_u64());
    let verify = |id: &str, file: &Path| {
        custodia(s, &["record", "verify", "--record", id, "--version", "1", "--file", file.to_str().unwrap(), "--json"])
    };
    assert_eq!(verify("Observation/r1", &kept).status.code(), Some(0), "the kept version still verifies");
    let out = verify("Observation/r2", &erased);
    assert!(String::from_utf8_lossy(&out.stdout).contains("Erased"));
}

#[test]
fn receipts_are_listed_and_exported_across_pages_once_each() {
    // Issue 10: `receipts` returns the next position to read, which `consent list --active`
    // took for a count (stepping by 32 and listing receipts twice), and `consent-export` read
    // only the first page.
    let dir = deployed();
    let s = dir.path();
    for _ in 0..40 {
        ok(s, &["consent", "grant", "--patient", "MRN-7", "--institution", "2", "--days", "30", "--as", "dave"]);
    }
    for receipt in 1..=10 {
        ok(s, &["consent", "revoke", &receipt.to_string(), "--as", "dave"]);
    }
    let listed = ok(s, &["consent", "list", "MRN-7", "--active"]);
    let mut ids: Vec<u64> = listed.as_array().unwrap().iter().map(|r| r["receipt"].as_u64().unwrap()).collect();
    ids.sort();
    assert_eq!(ids, (11..=40).collect::<Vec<u64>>(), "every active receipt once");
    let all = ok(s, &["consent", "list", "MRN-7"]);
    assert_eq!(all.as_array().unwrap().len(), 40);
    let exported = custodia(s, &["fhir", "consent-export", "MRN-7"]);
    let bundle: Value = serde_json::from_slice(&exported.stdout).unwrap();
    assert_eq!(bundle["entry"].as_array().unwrap().len(), 40, "every receipt exported");
}

#[test]
fn patient_control_from_the_command_line() {
    let dir = deployed();
    let s = dir.path();
    let id = ok(s, &["patient", "show", "MRN-7"])["patient"].as_str().expect("the pseudonym").to_string();
    ok(s, &["patient", "offer", "MRN-7", "--to", "eve", "--as", "dave"]);
    let accepted = ok(s, &["patient", "accept", &id, "--as", "eve"]);
    assert_eq!(accepted["events"][0]["name"], "ControlChanged");
    let named = ok(s, &["patient", "guardians", &id, "--guardian", "bob", "--guardian", "charlie", "--as", "eve"]);
    assert_eq!(named["result"]["threshold"], 2, "a majority by default");

    // The custodian's recovery is announced and waits; the patient's key vetoes it alone.
    let requested = ok(s, &["patient", "recover", &id, "--as", "dave"]);
    assert_eq!(requested["events"][0]["name"], "RecoveryRequested");
    let shown = ok(s, &["patient", "show", &id]);
    assert_eq!(shown["pending"]["route"], "Custodian");
    assert!(shown["pending"]["state"].as_str().unwrap().starts_with("due in 7 d"), "{shown}");
    let early = custodia(s, &["patient", "complete", &id, "--as", "dave"]);
    assert_eq!(early.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&early.stderr).contains("RecoveryNotDue"), "{early:?}");
    let vetoed = ok(s, &["patient", "veto", &id, "--as", "eve"]);
    assert_eq!(vetoed["events"][0]["name"], "RecoveryEnded");
    let shown = ok(s, &["patient", "show", &id]);
    assert!(shown["pending"].is_null());
    assert!(shown["controller"].as_str().unwrap().starts_with("patient key"), "{shown}");

    // The guardians' request waits for their threshold, then for the delay.
    ok(s, &["patient", "recover", &id, "--to", "//Eve//new", "--as", "bob"]);
    let shown = ok(s, &["patient", "show", &id]);
    assert_eq!(shown["pending"]["state"], "waiting for guardians (1 of 2)");
    let approved = ok(s, &["patient", "approve", &id, "--as", "charlie"]);
    assert_eq!(approved["result"]["approvals"], 2);
    assert!(ok(s, &["patient", "show", &id])["pending"]["state"].as_str().unwrap().starts_with("due in 7 d"));
    let not_theirs = custodia(s, &["patient", "cancel", &id, "--as", "charlie"]);
    assert!(String::from_utf8_lossy(&not_theirs.stderr).contains("NotRequester"), "{not_theirs:?}");
    ok(s, &["patient", "cancel", &id, "--as", "bob"]);

    // The patient's key rotates at once; the old key has no say afterwards.
    let rotated = ok(s, &["patient", "rotate", &id, "--to", "//Eve//new", "--as", "eve"]);
    assert_eq!(rotated["events"][0]["name"], "ControlChanged");
    let old = custodia(s, &["patient", "veto", &id, "--as", "eve"]);
    assert!(String::from_utf8_lossy(&old.stderr).contains("NotController"), "{old:?}");
}

#[test]
fn a_consent_is_granted_all_or_nothing_and_once() {
    // Security finding 3: one Consent's receipts in one call. A Consent whose second deny names
    // an institution the chain does not know must grant nothing (its first deny neither), and
    // once the mapping is mended, importing it grants every receipt, once.
    let dir = deployed();
    let s = dir.path();
    ok(s, &["directory", "register-patient", "Patient/f001", "--as", "dave"]);
    std::fs::write(s.join("institutions.json"), r#"{"Organization/f001": 2, "Organization/f002": 99}"#).unwrap();
    let mut consent: Value = serde_json::from_slice(
        &std::fs::read(fhir_fixtures("consent").join("hl7-r4__Consent-consent-example-Emergency.json")).unwrap(),
    )
    .unwrap();
    let mut second = consent["provision"]["provision"][0].clone();
    second["actor"][0]["reference"]["reference"] = "Organization/f002".into();
    consent["provision"]["provision"].as_array_mut().unwrap().push(second);
    let file = s.join("consent.json");
    std::fs::write(&file, serde_json::to_vec(&consent).unwrap()).unwrap();
    let refused = custodia(s, &["fhir", "consent-import", file.to_str().unwrap(), "--as", "dave"]);
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    assert_eq!(ok(s, &["consent", "list", "Patient/f001"]).as_array().map(Vec::len), Some(0), "nothing granted");

    std::fs::write(s.join("institutions.json"), r#"{"Organization/f001": 2, "Organization/f002": 1}"#).unwrap();
    let granted = ok(s, &["fhir", "consent-import", file.to_str().unwrap(), "--as", "dave"]);
    let receipts = granted["receipts"].as_array().unwrap().len();
    assert_eq!(receipts, 3, "the permit and both denies: {granted}");
    let again = ok(s, &["fhir", "consent-import", file.to_str().unwrap(), "--as", "dave"]);
    assert_eq!(again["receipts"].as_array().map(Vec::len), Some(0));
    assert_eq!(ok(s, &["consent", "list", "Patient/f001"]).as_array().map(Vec::len), Some(receipts));
}

#[test]
fn a_leaving_hospital_hands_its_patients_and_records_over() {
    // Dave's hospital (#1) leaves; Ferdie's (#2) takes its patients, its records and the state
    // directory that holds their salts and pseudonym secret (here the same directory: on the
    // embedded chain the chain lives in it too).
    let dir = common::deployed_with(&[("dave", "hospital", "custodian,accessor"), ("ferdie", "hospital", "custodian")]);
    let s = dir.path();
    let bundle = fhir_fixtures("bundles").join("hl7-r4__Bundle-father.json");
    let bundle = bundle.to_str().unwrap();
    let imported = ok(s, &["fhir", "import", bundle, "--as", "dave"]);
    let patient = imported[0]["patient"].as_str().expect("the patient's pseudonym").to_string();
    assert_eq!(imported[0]["committed"], 8);

    // Only after governance approved the successor may patients move.
    let early = custodia(s, &["directory", "hand-over", "--from", "1", &patient, "--as", "ferdie"]);
    assert_eq!(early.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&early.stderr).contains("NoHandOver"), "{early:?}");
    let proposal = ok(s, &["directory", "propose-hand-over", "--from", "1", "--to", "2", "--as", "alice"]);
    let id = proposal["result"]["proposal"].as_u64().unwrap().to_string();
    ok(s, &["directory", "approve", &id, "--as", "charlie"]);
    ok(s, &["directory", "execute", &id, "--as", "charlie"]);
    let leaving = ok(s, &["directory", "institution", "1"]);
    assert_eq!((leaving["patients"].as_u64(), leaving["successor"].as_u64()), (Some(1), Some(2)));

    let moved = ok(s, &["directory", "hand-over", "--from", "1", &patient, "--as", "ferdie"]);
    assert_eq!(moved["result"]["moved"], 1);
    let names: Vec<&str> = moved["events"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["CustodianChanged", "ControlChanged"]);
    let shown = ok(s, &["directory", "patient", &patient]);
    assert_eq!(shown["custodian"], 2);
    let removal = ok(s, &["directory", "propose-remove", "1", "--as", "alice"]);
    let id = removal["result"]["proposal"].as_u64().unwrap().to_string();
    ok(s, &["directory", "approve", &id, "--as", "charlie"]);
    ok(s, &["directory", "execute", &id, "--as", "charlie"]);
    let gone = ok(s, &["directory", "institution", "1"]);
    assert_eq!((gone["admitted"].as_bool(), gone["successor"].as_u64()), (Some(false), Some(2)));

    // With the handed-over store, the successor checks what the leaving hospital committed...
    let verified = ok(s, &["fhir", "verify", bundle]);
    let verdicts = verified[0]["resources"].as_array().unwrap();
    assert_eq!(verdicts.len(), 8);
    assert!(verdicts.iter().all(|v| v["verification"] == "Match"), "{verified}");
    // ...and goes on: a changed resource becomes the next version of the same record, committed
    // by the successor, and checks against the chain like the others.
    let text = std::fs::read_to_string(bundle).unwrap();
    assert!(text.contains("\"status\": \"finished\""));
    let changed = s.join("changed.json");
    std::fs::write(&changed, text.replacen("\"status\": \"finished\"", "\"status\": \"cancelled\"", 1)).unwrap();
    let changed = changed.to_str().unwrap();
    let again = ok(s, &["fhir", "import", changed, "--as", "ferdie"]);
    assert_eq!((again[0]["committed"].as_u64(), again[0]["superseded"].as_u64()), (Some(1), Some(1)), "{again}");
    assert_eq!(again[0]["patient"], patient.as_str(), "the same identity, not a new one");
    let verified = ok(s, &["fhir", "verify", changed]);
    let verdicts = verified[0]["resources"].as_array().unwrap();
    assert!(verdicts.iter().all(|v| v["verification"] == "Match"), "{verified}");
    assert_eq!(verdicts.iter().filter(|v| v["version"] == 2).count(), 1, "{verified}");
    // Ferdie hands the operator role to Eve, who joined; governance gives it back (as it
    // would if Eve's key were lost).
    ok(s, &["directory", "invite", "eve", "--as", "ferdie"]);
    ok(s, &["directory", "join", "2", "--as", "eve"]);
    let handed = ok(s, &["directory", "set-operator", "eve", "--as", "ferdie"]);
    assert_eq!(handed["events"][0]["name"], "OperatorChanged");
    let eve = ok(s, &["directory", "membership", "eve"]);
    assert_eq!(eve["institution"], 2);
    let not_any_more = custodia(s, &["directory", "set-operator", "eve", "--as", "ferdie"]);
    assert!(String::from_utf8_lossy(&not_any_more.stderr).contains("NotOperator"), "{not_any_more:?}");
    let proposal =
        ok(s, &["directory", "propose-operator", "--institution", "2", "--operator", "ferdie", "--as", "alice"]);
    let id = proposal["result"]["proposal"].as_u64().unwrap().to_string();
    ok(s, &["directory", "approve", &id, "--as", "charlie"]);
    let executed = ok(s, &["directory", "execute", &id, "--as", "charlie"]);
    assert_eq!(executed["events"][0]["name"], "OperatorChanged");
    // Ferdie's development key's address.
    assert_eq!(
        ok(s, &["directory", "institution", "2"])["operator"],
        "5CiPPseXPECbkjWCa6MnjNokrgYjMqmKndv2rSnekmSK2DjL"
    );
    ok(s, &["directory", "invite", "bob", "--as", "ferdie"]);

    // Dave's hospital is gone: its operator acts for nobody any more.
    let after = custodia(s, &["directory", "register-patient", "MRN-9", "--as", "dave"]);
    assert_eq!(after.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&after.stderr).contains("NotCustodian"), "{after:?}");
}

#[test]
fn a_patient_presents_her_id_at_a_second_hospital_whose_records_join_her_history() {
    // Dave's hospital (#1) registered her and holds her first records; she holds her own key
    // (Eve). At Ferdie's hospital (#2) she is another local patient (Abdul Koepp's bundle plays
    // her record there), whose id derived there would be a stranger's.
    let dir = common::deployed_with(&[("dave", "hospital", "custodian,accessor"), ("ferdie", "hospital", "custodian")]);
    let s = dir.path();
    let first = fhir_fixtures("bundles").join("hl7-r4__Bundle-father.json");
    let imported = ok(s, &["fhir", "import", first.to_str().unwrap(), "--as", "dave"]);
    let id = imported[0]["patient"].as_str().unwrap().to_string();
    ok(s, &["patient", "offer", &id, "--to", "eve", "--as", "dave"]);
    ok(s, &["patient", "accept", &id, "--as", "eve"]);
    let local = "Patient/018f428e-34f6-4707-8009-5ad742f901e7";

    // Ferdie's hospital cannot take her id on its own word: her key links it first.
    let early = custodia(s, &["patient", "link-local", local, "--to", &id, "--as", "ferdie"]);
    assert_eq!(early.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&early.stderr).contains("links it first"), "{early:?}");
    let not_hers = custodia(s, &["patient", "link-institution", &id, "--institution", "2", "--as", "ferdie"]);
    assert!(String::from_utf8_lossy(&not_hers.stderr).contains("NotController"), "{not_hers:?}");
    let linked = ok(s, &["patient", "link-institution", &id, "--institution", "2", "--as", "eve"]);
    assert_eq!(linked["events"][0]["name"], "InstitutionLinked");
    ok(s, &["patient", "link-local", local, "--to", &id, "--as", "ferdie"]);

    // Ferdie's records of her go under her one id.
    let second = fhir_fixtures("bundles").join("smart-synthea__Abdul_Koepp_e925b0f3-8006-43f6-aa31-94bd215e55e7.json");
    let imported = ok(s, &["fhir", "import", second.to_str().unwrap(), "--as", "ferdie"]);
    assert_eq!(imported[0]["patient"], id.as_str(), "her id, not one derived at the second hospital");
    assert_eq!(imported[0]["registered_patient"], false);
    let shown = ok(s, &["patient", "show", &id]);
    assert_eq!(shown["keepers"], serde_json::json!([1, 2]));
    assert!(shown["controller"].as_str().unwrap().starts_with("patient key"), "{shown}");
    // Both hospitals' versions check against the chain (each hospital checks its own: the
    // story keeps both in one state directory, and each one's record ids are in its namespace).
    for (bundle, hospital) in [(&first, "dave"), (&second, "ferdie")] {
        let verified = ok(s, &["fhir", "verify", bundle.to_str().unwrap(), "--as", hospital]);
        assert!(verified[0]["resources"].as_array().unwrap().iter().all(|v| v["verification"] == "Match"));
    }
    // Her key undoes the link: Ferdie's hospital opens no new record under her id.
    let unlinked = ok(s, &["patient", "unlink-institution", &id, "--institution", "2", "--as", "eve"]);
    assert_eq!(unlinked["events"][0]["name"], "InstitutionUnlinked");
    assert_eq!(ok(s, &["patient", "show", &id])["keepers"], serde_json::json!([1]));
}

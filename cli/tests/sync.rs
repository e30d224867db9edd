//! `custodia sync` and `custodia fhir verify --server` against a real FHIR server (Helios HFS,
//! started by `scripts/hfs-start.sh`, one per test with its own data directory) and the
//! embedded chain saved in a state directory, which the tests then read in process: the chain
//! must hold exactly the server's versions, once each, with their links; killed at any point,
//! the follower resumes with no duplicate and no gap; a record changed behind the ledger, or a
//! history entry removed, is caught.
//!
//! Feature `hfs` (scripts/test.sh turns it on after installing the server's debug build).

mod common;

use common::{custodia, ok};
use custodia_client::{
    types::{
        records::{Content, Supersedence, MAX_PAGE},
        RecordId,
    },
    verify::{opaque_locator, Pseudonyms},
    Client, Deployment,
};
use custodia_fixtures::hfs::Hfs;
use custodia_sandbox::SandboxBackend;
use serde_json::{json, Value};
use std::{
    collections::{BTreeMap, HashSet},
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

/// A state directory with the suite deployed and Dave's hospital admitted as a custodian.
fn deployed() -> tempfile::TempDir {
    common::deployed_with(&[("dave", "hospital", "custodian")])
}

/// One pass of the follower.
fn sync(state: &Path, hfs: &Hfs) -> Value {
    ok(state, &["sync", "--server", hfs.url.as_str(), "--once", "--as", "dave"])
}

fn bundle(name: &str) -> PathBuf {
    custodia_fixtures::fhir_dir().join("bundles").join(name)
}

const ABDUL: &str = "smart-synthea__Abdul_Koepp_e925b0f3-8006-43f6-aa31-94bd215e55e7.json";
const ADALBERTO: &str = "smart-synthea__Adalberto_Hartmann_44ec4447-9e2c-4eb9-bd4f-0bdb416b806e.json";

/// True if a served resource is about a patient (a Patient, or a `subject`/`patient` reference
/// to one): the resources the follower commits; the others it skips.
fn has_patient(resource: &Value) -> bool {
    resource["resourceType"] == "Patient"
        || ["subject", "patient"]
            .iter()
            .any(|f| resource[f]["reference"].as_str().is_some_and(|r| r.starts_with("Patient/")))
}

/// The chain in a state directory (the CLI is not running), read in process.
fn read_chain<T>(state: &Path, read: impl AsyncFnOnce(&Client<SandboxBackend>) -> T) -> T {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let backend = SandboxBackend::open(&state.join("chain.scale")).unwrap();
        let client = Client::open(backend, Deployment::load(&state.join("deployment.json")).unwrap()).await.unwrap();
        read(&client).await
    })
}

/// The state directory's pseudonym secret, for dave's institution (the follower's custodian,
/// in whose namespace its record ids are).
fn pseudonyms_of(state: &Path) -> Pseudonyms {
    let membership = ok(state, &["directory", "membership", "dave"]);
    let institution = membership["institution"].as_u64().expect("dave's institution") as u32;
    Pseudonyms::load_or_create(&state.join("pseudonym.key")).unwrap().for_custodian(institution)
}

/// Pseudonyms within the server (the follower's source system).
fn pseudonyms(state: &Path, hfs: &Hfs) -> Pseudonyms {
    pseudonyms_of(state).for_source(&hfs.url)
}

/// The chain holds exactly the server's versions of every resource with a patient, in order,
/// once each (locator: the server's version id), each superseding the one before (Replaces),
/// and nothing for the others. Returns how many versions that is.
fn assert_chain_holds_exactly_the_servers_versions(state: &Path, hfs: &Hfs) -> usize {
    let pseudonyms = pseudonyms(state, hfs);
    let mut by_resource: BTreeMap<String, Vec<(String, Option<Value>)>> = BTreeMap::new();
    for (reference, version, resource) in hfs.history() {
        by_resource.entry(reference).or_default().push((version, resource));
    }
    read_chain(state, async |client| {
        let records = client.records();
        let mut total = 0;
        for (reference, versions) in &by_resource {
            let record: RecordId = pseudonyms.record(reference);
            let with_patient = versions.iter().any(|(_, r)| r.as_ref().is_some_and(has_patient));
            // Every version with what it supersedes (a record here has fewer than a page).
            let history = records.versions(record, 1, MAX_PAGE).query().await.unwrap();
            assert!(history.len() < MAX_PAGE as usize);
            if !with_patient {
                assert!(history.is_empty(), "{reference} has no patient, yet versions on chain");
                continue;
            }
            let expected: Vec<&str> = versions.iter().map(|(v, _)| v.as_str()).collect();
            let locators: Vec<Vec<u8>> = history
                .iter()
                .map(|v| match &v.version.content {
                    Content::Committed { locator, .. } => locator.clone(),
                    Content::Erased(_) => panic!("nothing was erased"),
                })
                .collect();
            let wanted: Vec<Vec<u8>> = expected.iter().map(|v| opaque_locator(record, v)).collect();
            assert_eq!(locators, wanted, "{reference}: the chain's versions are the server's {expected:?}, once each");
            for (i, custodia_client::types::records::NumberedVersion { number, version }) in history.iter().enumerate()
            {
                assert_eq!(*number as usize, i + 1);
                match i {
                    0 => assert!(version.supersedes.is_none_or(|l| l.target.record != record)),
                    _ => {
                        let link = version.supersedes.expect("a later version supersedes");
                        assert_eq!(
                            (link.target.record, link.target.version, link.how),
                            (record, *number - 1, Supersedence::Replaces)
                        );
                    }
                }
            }
            total += history.len();
        }
        total
    })
}

/// Every byte the chain holds (its saved state file: state and events).
fn chain_bytes(state: &Path) -> Vec<u8> {
    std::fs::read(state.join("chain.scale")).unwrap()
}

fn holds(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The `needles` (6 bytes or longer) found in `haystack`, in one pass over it.
fn found_in<'n>(haystack: &[u8], needles: &[&'n String]) -> Vec<&'n String> {
    let mut by_prefix: std::collections::HashMap<&[u8], Vec<&'n String>> = Default::default();
    for needle in needles {
        by_prefix.entry(&needle.as_bytes()[..6]).or_default().push(needle);
    }
    let mut found = Vec::new();
    for at in 0..haystack.len().saturating_sub(5) {
        if let Some(candidates) = by_prefix.get(&haystack[at..at + 6]) {
            found.extend(candidates.iter().filter(|n| haystack[at..].starts_with(n.as_bytes())));
        }
    }
    found
}

#[test]
fn the_ledger_follows_the_server_and_verify_catches_what_changed_behind_it() {
    let dir = deployed();
    let s = dir.path();
    let hfs = Hfs::start();
    for file in custodia_fixtures::fhir_files("bundles") {
        if file.file_name().unwrap().to_string_lossy().contains("Bundle-father") {
            continue; // a document Bundle, not a transaction
        }
        hfs.load(&file);
    }
    // Given every fixture patient's records on the server, when the follower runs:
    let out = custodia(s, &["sync", "--server", &hfs.url, "--once", "--as", "dave", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let first: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut logs = [out.stdout, out.stderr].concat();
    let on_chain = assert_chain_holds_exactly_the_servers_versions(s, &hfs);
    assert_eq!(first["committed"].as_u64().unwrap() as usize, on_chain);
    assert!(on_chain > 1000, "{on_chain}");
    assert!(first["skipped"].as_u64().unwrap() > 0, "Organizations, Practitioners, Locations have no patient");
    assert_eq!(first["refused"], 0);
    assert_eq!(first["registered"], 4, "each fixture patient registered once");

    // When resources are updated and deleted, the next pass commits exactly those versions.
    let history = hfs.history();
    let observations: Vec<&str> =
        history.iter().filter(|(r, _, _)| r.starts_with("Observation/")).map(|(r, _, _)| r.as_str()).collect();
    for reference in &observations[..5] {
        let mut resource = hfs.get(reference);
        resource["status"] = json!("amended");
        hfs.put(&resource);
    }
    for reference in &observations[5..8] {
        hfs.delete(reference);
    }
    let second = sync(s, &hfs);
    assert_eq!((second["committed"].as_u64(), second["deletions"].as_u64()), (Some(8), Some(3)));
    assert_eq!(assert_chain_holds_exactly_the_servers_versions(s, &hfs), on_chain + 8);
    let third = sync(s, &hfs);
    assert_eq!(third["committed"], 0, "nothing new: nothing committed");
    assert_eq!(assert_chain_holds_exactly_the_servers_versions(s, &hfs), on_chain + 8);

    // An untouched server verifies clean, current versions and history alike.
    for args in [vec![], vec!["--history"]] {
        let mut all = vec!["fhir", "verify", "--server", hfs.url.as_str()];
        all.extend(args.iter().copied());
        let report = ok(s, &all);
        let counts = &report["counts"];
        assert_eq!(counts.as_object().unwrap().keys().collect::<Vec<_>>(), ["Match", "Skipped"], "{counts}");
    }
    let report = ok(s, &["fhir", "verify", "--server", &hfs.url, "--history"]);
    assert_eq!(report["counts"]["Match"].as_u64().unwrap() as usize, on_chain + 8);

    // A record changed in the server's database behind the ledger: exactly that one.
    let victim = observations[9];
    hfs.tamper(victim, "\"final\"", "\"cancelled\"");
    for history in [false, true] {
        let mut args = vec!["fhir", "verify", "--server", hfs.url.as_str(), "--json"];
        if history {
            args.push("--history");
        }
        let out = custodia(s, &args);
        assert_eq!(out.status.code(), Some(2), "a mismatch exits with 2");
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        let bad: Vec<&Value> = report["verdicts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| v["verification"] != "Match" && v["verification"] != "Skipped")
            .collect();
        assert_eq!(bad.len(), 1, "{bad:?}");
        assert_eq!((bad[0]["resource"].as_str(), bad[0]["verification"].as_str()), (Some(victim), Some("Mismatch")));
    }
    hfs.tamper(victim, "\"cancelled\"", "\"final\"");

    // A history entry deleted on the server: the chain knows a version the server lost.
    let updated = observations[0];
    hfs.delete(&format!("{updated}/_history/1"));
    let out = custodia(s, &["fhir", "verify", "--server", &hfs.url, "--history", "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let bad: Vec<&Value> = report["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["verification"] != "Match" && v["verification"] != "Skipped")
        .collect();
    assert_eq!(bad.len(), 1, "{bad:?}");
    assert_eq!(
        (bad[0]["resource"].as_str(), bad[0]["version"].as_str(), bad[0]["verification"].as_str()),
        (Some(updated), Some("1"), Some("Gap"))
    );
    // The current versions are all still there.
    let current = ok(s, &["fhir", "verify", "--server", &hfs.url]);
    assert_eq!(current["counts"].as_object().unwrap().keys().collect::<Vec<_>>(), ["Match", "Skipped"]);

    // No name, identifier, birth date or local id on chain or in the follower's output.
    let chain = chain_bytes(s);
    let out = custodia(s, &["sync", "--server", &hfs.url, "--once", "--as", "dave"]);
    logs.extend([out.stdout, out.stderr].concat());
    let mut secrets: HashSet<String> = HashSet::new();
    for (reference, _, resource) in hfs.history() {
        secrets.insert(reference.split_once('/').unwrap().1.to_string());
        let Some(patient) = resource.filter(|r| r["resourceType"] == "Patient") else { continue };
        for name in patient["name"].as_array().into_iter().flatten() {
            secrets.extend(name["family"].as_str().map(str::to_string));
            secrets
                .extend(name["given"].as_array().into_iter().flatten().filter_map(|g| g.as_str().map(str::to_string)));
        }
        for identifier in patient["identifier"].as_array().into_iter().flatten() {
            secrets.extend(identifier["value"].as_str().map(str::to_string));
        }
        secrets.extend(patient["birthDate"].as_str().map(str::to_string));
    }
    let secrets: Vec<&String> = secrets.iter().filter(|s| s.len() >= 6).collect();
    assert!(secrets.len() > 1000, "{}", secrets.len());
    assert_eq!(found_in(&chain, &secrets), Vec::<&String>::new(), "reached the chain");
    assert_eq!(found_in(&logs, &secrets), Vec::<&String>::new(), "reached the follower's output");
    // The scan finds what is there.
    let planted = [&chain[..1000], secrets[0].as_bytes(), &chain[1000..2000]].concat();
    assert_eq!(found_in(&planted, &secrets), [secrets[0]]);
}

#[test]
fn a_follower_killed_at_any_point_resumes_with_no_duplicate_and_no_gap() {
    use std::io::{BufRead, BufReader};
    let dir = deployed();
    let s = dir.path();
    let hfs = Hfs::start();
    hfs.load(&bundle(ABDUL));
    hfs.load(&bundle(ADALBERTO));
    let run = |crash_at: &str| {
        Command::new(env!("CARGO_BIN_EXE_custodia"))
            .args(["sync", "--server", &hfs.url, "--once", "--as", "dave"])
            .env("CUSTODIA_STATE", s)
            .env("CUSTODIA_TEST_CRASH_AT", crash_at)
            .output()
            .unwrap()
    };
    let versions_on_chain = |s: &Path| {
        let pseudonyms = pseudonyms(s, &hfs);
        let references: HashSet<String> = hfs.history().into_iter().map(|(r, _, _)| r).collect();
        read_chain(s, async |client| {
            let mut n = 0;
            for reference in &references {
                n += client.records().versions(pseudonyms.record(reference), 1, MAX_PAGE).query().await.unwrap().len();
            }
            n
        })
    };
    // Killed with the first batch saved, before it was submitted: nothing on chain.
    assert!(!run("sync-saved").status.success());
    assert_eq!(versions_on_chain(s), 0);
    // Killed after the chain included the (resumed) batch, before the store recorded it.
    assert!(!run("sync-included").status.success());
    assert_eq!(versions_on_chain(s), 63);
    // Killed after a batch was recorded: the included batch is recorded, not sent again.
    let out = run("sync-recorded");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("batch of 63 recorded, 63 this run"));
    assert_eq!(versions_on_chain(s), 63, "the included batch was not submitted twice");
    // SIGKILLed at an arbitrary moment after some batches.
    for delay_ms in [0u64, 120] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_custodia"))
            .args(["sync", "--server", &hfs.url, "--once", "--as", "dave"])
            .env("CUSTODIA_STATE", s)
            .env_remove("CUSTODIA_TEST_CRASH_AT")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        while stderr.read_line(&mut line).unwrap() > 0 && !line.contains("recorded") {
            line.clear();
        }
        assert!(line.contains("recorded"), "{line}");
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    }
    let report = sync(s, &hfs);
    let total = assert_chain_holds_exactly_the_servers_versions(s, &hfs);
    assert!(total > 400, "{total}");
    assert_eq!(versions_on_chain(s), total);
    assert!(report["committed"].as_u64().unwrap() < total as u64, "earlier runs' batches were kept");
    assert_eq!(sync(s, &hfs)["committed"], 0);
    let verified = ok(s, &["fhir", "verify", "--server", &hfs.url, "--history"]);
    assert_eq!(verified["counts"]["Match"].as_u64().unwrap() as usize, total);

    // Updates and a deletion, killed after inclusion and resumed: each links to the version
    // before it, once.
    let observations: Vec<String> =
        hfs.history().into_iter().map(|(r, _, _)| r).filter(|r| r.starts_with("Observation/")).take(4).collect();
    for reference in &observations[..3] {
        let mut resource = hfs.get(reference);
        resource["status"] = json!("amended");
        hfs.put(&resource);
    }
    hfs.delete(&observations[3]);
    assert!(!run("sync-included").status.success());
    let resumed = sync(s, &hfs);
    assert_eq!(
        (resumed["resumed"].as_bool(), resumed["committed"].as_u64(), resumed["transactions"].as_u64()),
        (Some(true), Some(4), Some(0)),
        "the included batch is recorded, not sent again: {resumed}"
    );
    assert_eq!(assert_chain_holds_exactly_the_servers_versions(s, &hfs), total + 4);
}

#[test]
fn a_server_down_is_a_typed_error_and_nothing_advances() {
    let dir = deployed();
    let s = dir.path();
    let hfs = Hfs::start();
    hfs.load(&bundle(ABDUL));
    let first = sync(s, &hfs)["committed"].as_u64().unwrap();
    hfs.load(&bundle(ADALBERTO));
    hfs.stop();
    let out = custodia(s, &["sync", "--server", &hfs.url, "--once", "--retries", "2", "--as", "dave", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let error: Value = serde_json::from_slice(&out.stdout).unwrap();
    let message = error["error"].as_str().unwrap();
    assert!(message.contains("could not be reached") && message.contains("after 2 attempt(s)"), "{message}");
    assert!(error["hint"].as_str().unwrap().contains("nothing was skipped"));
    // The server comes back: everything it stored meanwhile is committed, nothing else.
    hfs.restart();
    let second = sync(s, &hfs);
    let total = assert_chain_holds_exactly_the_servers_versions(s, &hfs);
    assert_eq!(first + second["committed"].as_u64().unwrap(), total as u64);
    assert!(second["committed"].as_u64().unwrap() > 200);
}

#[test]
fn a_patient_change_a_merge_and_refused_resources_are_followed_as_documented() {
    let dir = deployed();
    let s = dir.path();
    let hfs = Hfs::start();
    let patient = |id: &str, family: &str| {
        json!({"resourceType": "Patient", "id": id, "name": [{"family": family}], "birthDate": "1961-04-12",
               "identifier": [{"system": "urn:mrn", "value": format!("MRN-{id}")}]})
    };
    let observation = |id: &str, subject: &str| {
        json!({"resourceType": "Observation", "id": id, "status": "final", "code": {"text": "Hb"},
               "subject": {"reference": format!("Patient/{subject}")}})
    };
    hfs.put(&patient("pa", "Alder"));
    hfs.put(&patient("pb", "Birch"));
    hfs.put(&observation("o1", "pa"));
    hfs.put(&observation("o2", "pa"));
    hfs.put(&json!({"resourceType": "Organization", "id": "org1", "name": "Ward 4"}));
    // HFS stores an element R4 does not define; the FHIR reader refuses it.
    hfs.put(&json!({"resourceType": "Observation", "id": "odd", "status": "final", "code": {"text": "x"},
                    "subject": {"reference": "Patient/pa"}, "colour": "blue"}));
    let first = sync(s, &hfs);
    assert_eq!(
        (first["committed"].as_u64(), first["skipped"].as_u64(), first["refused"].as_u64()),
        (Some(4), Some(1), Some(1))
    );
    let failed = ok(s, &["sync", "--server", &hfs.url, "--failed"]);
    let failed = failed.as_array().unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(
        (failed[0]["resource"].as_str(), failed[0]["skipped"].as_bool()),
        (Some("Observation/odd"), Some(false))
    );
    assert!(failed[0]["reason"].as_str().unwrap().contains("colour"), "{}", failed[0]["reason"]);
    assert_eq!(ok(s, &["sync", "--server", &hfs.url, "--failed", "--skipped"]).as_array().unwrap().len(), 2);

    // o1 was misfiled: it moves to pb; pa is merged into pb.
    hfs.put(&observation("o1", "pb"));
    let mut merged = patient("pa", "Alder");
    merged["active"] = json!(false);
    merged["link"] = json!([{"other": {"reference": "Patient/pb"}, "type": "replaced-by"}]);
    hfs.put(&merged);
    let second = sync(s, &hfs);
    assert_eq!((second["committed"].as_u64(), second["moved"].as_u64()), (Some(3), Some(1)));
    // And back again.
    hfs.put(&observation("o1", "pa"));
    assert_eq!(sync(s, &hfs)["committed"], 2);

    let pseudonyms = pseudonyms(s, &hfs);
    let (pa, pb) = (pseudonyms.patient("Patient/pa"), pseudonyms.patient("Patient/pb"));
    let o1 = pseudonyms.record("Observation/o1");
    let o1_at_pb = pseudonyms.record("Observation/o1|Patient/pb");
    read_chain(s, async |client| {
        let records = client.records();
        let owner_of_o1 = records.record(o1).query().await.unwrap().unwrap().patient;
        let owner_of_o1_at_pb = records.record(o1_at_pb).query().await.unwrap().unwrap().patient;
        assert_eq!((owner_of_o1, owner_of_o1_at_pb), (pa, pb));
        let locator = |v: &custodia_client::types::records::Version| match &v.content {
            Content::Committed { locator, .. } => locator.clone(),
            Content::Erased(_) => panic!("nothing was erased"),
        };
        // pa's record of o1: v1 (server v1), the marker for server v2, then server v3.
        let at_pa = records.history(o1).await.unwrap();
        let locators: Vec<Vec<u8>> = at_pa.iter().map(|(_, v, _)| locator(v)).collect();
        assert_eq!(locators, ["1", "2", "3"].map(|v| opaque_locator(o1, v)));
        assert!(at_pa[1..]
            .iter()
            .all(|(n, v, _)| v.supersedes.is_some_and(|l| l.target.version == n - 1 && l.target.record == o1)));
        // pb's record of o1: server v2, then the marker for server v3.
        let at_pb = records.history(o1_at_pb).await.unwrap();
        let locators: Vec<Vec<u8>> = at_pb.iter().map(|(_, v, _)| locator(v)).collect();
        assert_eq!(locators, ["2", "3"].map(|v| opaque_locator(o1_at_pb, v)));
        assert!(at_pb[0].1.supersedes.is_none(), "no link across patients");
        // The merged Patient: a new version of pa's record; pb stays registered under its own.
        let pa_record = records.history(pseudonyms.record("Patient/pa")).await.unwrap();
        assert_eq!(pa_record.len(), 2);
        assert_eq!(pa_record[1].1.supersedes.map(|l| l.how), Some(Supersedence::Replaces));
        assert!(client.directory().patient(pb).query().await.unwrap().is_some());
    });

    // Verification: everything matches but what the follower did not commit.
    let out = custodia(s, &["fhir", "verify", "--server", &hfs.url, "--history", "--json"]);
    assert_eq!(out.status.code(), Some(2), "a refused version is not on the ledger");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["counts"], json!({"Match": 7, "Refused": 1, "Skipped": 1}));
    let of_pb = ok(s, &["fhir", "verify", "--server", &hfs.url, "--patient", "pb", "--history"]);
    let resources: HashSet<&str> =
        of_pb["verdicts"].as_array().unwrap().iter().map(|v| v["resource"].as_str().unwrap()).collect();
    assert_eq!(resources, HashSet::from(["Patient/pb", "Observation/o1"]));

    // o2 erased at the patient's request: verified as Erased, its salt destroyed, never
    // committed again.
    let o2 = format!("0x{}", hex::encode(pseudonyms.record("Observation/o2").as_bytes()));
    let erased =
        ok(s, &["record", "erase", "--record", &o2, "--version", "1", "--reason", "patient-request", "--as", "dave"]);
    assert_eq!(erased["result"]["salt_destroyed"], true);
    {
        let store = custodia_services::Store::open(&s.join("client.redb")).unwrap();
        let server = custodia_services::fhir_server::FhirServer::new(&hfs.url, Default::default());
        let secret = pseudonyms_of(s);
        let salt = read_chain(s, async |client| {
            let follower = custodia_services::sync::Follower::new(client, &store, &secret, &server, Default::default());
            follower.committed("Observation/o2", "1").unwrap().unwrap().salt
        });
        assert_eq!(salt, [0; 32], "the follower's salt of the erased version is destroyed");
    }
    assert_eq!(sync(s, &hfs)["committed"], 0, "an erased version is not committed again");
    let out = custodia(s, &["fhir", "verify", "--server", &hfs.url, "--history", "--patient", "pa", "--json"]);
    assert_eq!(out.status.code(), Some(2), "the server still serves what the ledger erased");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let o2_verdict: Vec<&Value> =
        report["verdicts"].as_array().unwrap().iter().filter(|v| v["resource"] == "Observation/o2").collect();
    assert_eq!(o2_verdict.len(), 1);
    assert_eq!(o2_verdict[0]["verification"], "Erased");
    // The version the FHIR reader refused is pa's report too, as Refused.
    let odd: Vec<&Value> =
        report["verdicts"].as_array().unwrap().iter().filter(|v| v["resource"] == "Observation/odd").collect();
    assert_eq!(odd.len(), 1, "{report}");
    assert_eq!(odd[0]["verification"], "Refused");

    // The follower's pseudonyms are the import's: the server's own history Bundle of pb,
    // imported as a file, lands in the same record of the same patient (a new version
    // superseding the follower's, where another record or patient would be refused).
    let (status, body) = hfs.curl("GET", "Patient/pb/_history", None);
    assert_eq!(status, 200);
    let file = s.join("pb-history.json");
    std::fs::write(&file, body).unwrap();
    let imported = ok(s, &["fhir", "import", file.to_str().unwrap(), "--as", "dave"]);
    assert_eq!((imported[0]["committed"].as_u64(), imported[0]["superseded"].as_u64()), (Some(1), Some(1)));
    assert!(!imported[0]["registered_patient"].as_bool().unwrap(), "the follower registered pb already");

    // Nothing of the patients on chain.
    let chain = chain_bytes(s);
    for secret in ["Alder", "Birch", "1961-04-12", "MRN-pa", "MRN-pb", "Observation/o1", "Patient/pa"] {
        assert!(!holds(&chain, secret.as_bytes()), "{secret}");
    }
}

#[test]
fn a_provenance_written_with_a_version_links_it_as_the_import_would() {
    let dir = deployed();
    let s = dir.path();
    let hfs = Hfs::start();
    let observation = |id: &str, text: &str| {
        json!({"resourceType": "Observation", "id": id, "status": "final", "code": {"text": text},
               "subject": {"reference": "Patient/pp"}})
    };
    let provenance = |id: &str, target: &str, entity: &str, role: &str| {
        json!({"resourceType": "Provenance", "id": id, "recorded": "2026-11-30T10:00:00Z",
               "target": [{"reference": target}],
               "agent": [{"who": {"display": "Ward 4"}}],
               "entity": [{"role": role, "what": {"reference": entity}}]})
    };
    // One transaction, as a clinician's system writes a correction with its Provenance.
    let transaction = |resources: &[Value]| {
        let entries: Vec<Value> = resources
            .iter()
            .map(|r| {
                let url = format!("{}/{}", r["resourceType"].as_str().unwrap(), r["id"].as_str().unwrap());
                json!({"resource": r, "request": {"method": "PUT", "url": url}})
            })
            .collect();
        let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": entries});
        let (status, body) = hfs.curl("POST", "", Some(&serde_json::to_vec(&bundle).unwrap()));
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    };
    hfs.put(&json!({"resourceType": "Patient", "id": "pp", "name": [{"family": "Poplar"}]}));
    hfs.put(&observation("wrong", "Hb 9.1"));
    hfs.put(&observation("source", "Glucose"));
    hfs.put(&observation("late", "K 4.1"));
    assert_eq!(sync(s, &hfs)["committed"], 4);

    transaction(&[
        observation("right", "Hb 11.9"),
        provenance("fix", "Observation/right/_history/1", "Observation/wrong", "revision"),
        observation("derived", "Glucose (mmol/L)"),
        provenance("conv", "Observation/derived", "Observation/source/_history/1", "derivation"),
        // Names a version of another server version than the one stored: not taken.
        observation("other", "Na 140"),
        provenance("stale", "Observation/other/_history/7", "Observation/late", "revision"),
    ]);
    let second = sync(s, &hfs);
    assert_eq!((second["committed"].as_u64(), second["links"].as_u64()), (Some(3), Some(2)), "{second}");
    // A Provenance read after the version it names was committed comes too late.
    hfs.put(&provenance("after", "Observation/late/_history/1", "Observation/source", "revision"));
    assert_eq!(sync(s, &hfs)["links"], 0);

    let pseudonyms = pseudonyms(s, &hfs);
    let record = |id: &str| pseudonyms.record(&format!("Observation/{id}"));
    read_chain(s, async |client| {
        let records = client.records();
        let first_link = async |id: &str| records.version(record(id), 1).query().await.unwrap().unwrap().supersedes;
        let right = first_link("right").await.expect("the correction is linked");
        assert_eq!(
            (right.target.record, right.target.version, right.how),
            (record("wrong"), 1, Supersedence::Replaces)
        );
        let derived = first_link("derived").await.expect("the derivation is linked");
        assert_eq!(
            (derived.target.record, derived.target.version, derived.how),
            (record("source"), 1, Supersedence::Transforms)
        );
        assert_eq!(first_link("other").await, None, "a Provenance of another version links nothing");
        assert_eq!(first_link("late").await, None);
        assert_eq!(records.superseded_by(record("late"), 1).query().await.unwrap(), None);
    });
    let skipped = ok(s, &["sync", "--server", &hfs.url, "--failed", "--skipped"]);
    let provenances: Vec<&Value> = skipped
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["resource"].as_str().unwrap().starts_with("Provenance/"))
        .collect();
    assert_eq!(provenances.len(), 4);
    assert!(provenances
        .iter()
        .all(|r| r["skipped"] == true && r["reason"].as_str().unwrap().contains("take its links")));
}

#[test]
fn once_catches_up_window_by_window_and_reports_one_run() {
    let dir = deployed();
    let s = dir.path();
    let hfs = Hfs::start();
    hfs.load(&bundle(ABDUL));
    let args = ["sync", "--server", hfs.url.as_str(), "--once", "--window", "40", "--as", "dave"];
    let report = ok(s, &args);
    // 180 versions, 2 without a patient: five windows of at most 40, each pass reading the
    // history since its cursor again (less the overlap: here, all of it).
    assert_eq!(report["queued"], 180);
    assert!((180..=5 * 180).contains(&report["read"].as_u64().unwrap()), "{report}");
    assert_eq!((report["committed"].as_u64(), report["skipped"].as_u64()), (Some(178), Some(2)));
    assert_eq!(report["held_back"], 0);
    assert!(report["transactions"].as_u64().unwrap() >= 5, "{report}");
    assert_eq!(assert_chain_holds_exactly_the_servers_versions(s, &hfs), 178);
    assert_eq!(sync(s, &hfs)["committed"], 0);
}

#[test]
fn a_running_follower_commits_new_writes_and_waits_out_a_server_outage() {
    let dir = deployed();
    let s = dir.path();
    let hfs = Hfs::start();
    let observation = |id: &str| {
        json!({"resourceType": "Observation", "id": id, "status": "final", "code": {"text": "Hb"},
               "subject": {"reference": "Patient/p1"}})
    };
    hfs.put(&json!({"resourceType": "Patient", "id": "p1", "gender": "female"}));
    let mut child = Command::new(env!("CARGO_BIN_EXE_custodia"))
        .args(["sync", "--server", &hfs.url, "--interval", "1", "--retries", "1", "--as", "dave", "--json"])
        .env("CUSTODIA_STATE", s)
        .env_remove("CUSTODIA_TEST_CRASH_AT")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // One JSON status per pass (or per wait while the server is away).
    let mut statuses = serde_json::Deserializer::from_reader(child.stdout.take().unwrap()).into_iter::<Value>();
    let mut committed = 0;
    // Reads statuses until `done` holds for one (and the versions committed so far).
    let mut until = |what: &str, done: &dyn Fn(&Value, u64) -> bool| {
        for status in statuses.by_ref() {
            let status = status.unwrap();
            committed += status["committed"].as_u64().unwrap_or(0);
            if done(&status, committed) {
                return status;
            }
        }
        panic!("the follower stopped before {what}");
    };
    until("the first pass", &|_, all| all == 1);
    hfs.put(&observation("o1"));
    until("it commits a new write", &|_, all| all == 2);
    hfs.stop();
    let waiting = until("it notices the outage", &|s, _| s.get("waiting_seconds").is_some());
    assert!(waiting["error"].as_str().unwrap().contains("could not be reached"), "{waiting}");
    hfs.restart();
    hfs.put(&observation("o2"));
    let mut resource = observation("o1");
    resource["status"] = json!("amended");
    hfs.put(&resource);
    until("it catches up", &|_, all| all == 4);
    child.kill().unwrap();
    child.wait().unwrap();
    let total = assert_chain_holds_exactly_the_servers_versions(s, &hfs);
    assert_eq!(total, 4, "p1, o1 twice, o2: each once");
}

/// A second hospital of the consortium, Ferdie's (institution 2; Dave's is 1).
fn admit_ferdies_hospital(s: &Path) {
    let admit = ["--operator", "ferdie", "--kind", "hospital", "--roles", "custodian", "--as", "alice"];
    let proposal = ok(s, &[&["directory", "propose-admit"][..], &admit].concat());
    let id = proposal["result"]["proposal"].as_u64().unwrap().to_string();
    ok(s, &["directory", "approve", &id, "--as", "charlie"]);
    ok(s, &["directory", "execute", &id, "--as", "charlie"]);
}

#[test]
fn refused_versions_are_retried_on_request_each_still_in_order() {
    let dir = deployed();
    let s = dir.path();
    admit_ferdies_hospital(s);
    let hfs = Hfs::start();
    let observation = |id: &str, text: &str| {
        json!({"resourceType": "Observation", "id": id, "status": "final", "code": {"text": text},
               "subject": {"reference": "Patient/p1"}})
    };
    hfs.put(&json!({"resourceType": "Patient", "id": "p1", "gender": "female"}));
    hfs.put(&observation("o1", "Hb"));
    hfs.put(&observation("o2", "K"));
    // Ferdie's hospital registered the patient first (the same pseudonym: one secret per
    // deployment) and keeps them: Dave's may not open records of them yet.
    let file = s.join("ferdie.json");
    let entry = json!({"fullUrl": format!("{}/Patient/p1", hfs.url), "resource": hfs.get("Patient/p1")});
    let bundle = json!({"resourceType": "Bundle", "type": "collection", "entry": [entry]});
    std::fs::write(&file, serde_json::to_vec(&bundle).unwrap()).unwrap();
    let patient = ok(s, &["fhir", "import", file.to_str().unwrap(), "--as", "ferdie"])[0]["patient"].clone();
    let first = sync(s, &hfs);
    assert_eq!((first["committed"].as_u64(), first["refused"].as_u64()), (Some(0), Some(3)), "{first}");

    // The patient's controller links Dave's hospital; meanwhile o2 got a second version, which
    // the next pass commits. A pass does not retry what was refused.
    ok(s, &["patient", "link-institution", patient.as_str().unwrap(), "--institution", "1", "--as", "ferdie"]);
    hfs.put(&observation("o2", "K 4.2"));
    assert_eq!(sync(s, &hfs)["committed"], 1);

    // Retried on request: p1 and o1 go on; o2's first version cannot follow its second, and is
    // skipped for good (another retry would not place it).
    let retried = ok(s, &["sync", "--server", &hfs.url, "--once", "--retry-refused", "--as", "dave"]);
    let counts = (retried["committed"].as_u64(), retried["refused"].as_u64(), retried["skipped"].as_u64());
    assert_eq!(counts, (Some(2), Some(0), Some(1)), "{retried}");
    assert_eq!(ok(s, &["sync", "--server", &hfs.url, "--failed"]), json!([]));
    let failed = ok(s, &["sync", "--server", &hfs.url, "--failed", "--skipped"]);
    let failed = failed.as_array().unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!((failed[0]["resource"].as_str(), failed[0]["version"].as_str()), (Some("Observation/o2"), Some("1")));
    assert!(failed[0]["reason"].as_str().unwrap().contains("version 2 was committed already"), "{}", failed[0]);
    let pseudonyms = pseudonyms(s, &hfs);
    read_chain(s, async |client| {
        let records = client.records();
        for (reference, versions) in [("Patient/p1", 1), ("Observation/o1", 1), ("Observation/o2", 1)] {
            let on_chain = records.versions(pseudonyms.record(reference), 1, MAX_PAGE).query().await.unwrap();
            assert_eq!(on_chain.len(), versions, "{reference}");
        }
    });
    assert_eq!(sync(s, &hfs)["committed"], 0, "nothing twice");
}

#[test]
fn a_version_the_chain_refuses_is_set_aside_and_the_rest_is_committed() {
    let dir = deployed();
    let s = dir.path();
    // A pseudonym secret of scheme V2, from before record ids had namespaces: Ferdie's import
    // and Dave's follower derive the same record ids, so Dave's follower meets Ferdie's records
    // (under V3 each derives in its own institution's namespace, and they never meet).
    let key = s.join("pseudonym.key");
    let _ = std::fs::remove_file(&key);
    {
        use std::{io::Write, os::unix::fs::OpenOptionsExt};
        let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&key).unwrap();
        file.write_all(&[&[2][..], &[0x5A; 32]].concat()).unwrap();
    }
    admit_ferdies_hospital(s);
    let hfs = Hfs::start();
    let observation = |id: &str| {
        json!({"resourceType": "Observation", "id": id, "status": "final", "code": {"text": "Hb"},
               "subject": {"reference": "Patient/p1"}})
    };
    hfs.put(&json!({"resourceType": "Patient", "id": "p1", "gender": "male"}));
    hfs.put(&observation("o1"));
    hfs.put(&observation("o2"));
    // Ferdie's hospital imports p1 and o1 as the server serves them (the same records and
    // patient: one pseudonym secret per deployment), so they are Ferdie's records.
    let entries: Vec<Value> = ["Patient/p1", "Observation/o1"]
        .iter()
        .map(|r| json!({"fullUrl": format!("{}/{r}", hfs.url), "resource": hfs.get(r)}))
        .collect();
    let file = s.join("ferdie.json");
    std::fs::write(
        &file,
        serde_json::to_vec(&json!({"resourceType": "Bundle", "type": "collection", "entry": entries})).unwrap(),
    )
    .unwrap();
    let imported = ok(s, &["fhir", "import", file.to_str().unwrap(), "--as", "ferdie"]);
    assert_eq!(imported[0]["committed"], 2);
    // The patient is Ferdie's; Ferdie's hospital, their controller, links Dave's to their id
    // (they are treated at both), so that Dave's records of them may be opened.
    let patient = imported[0]["patient"].as_str().unwrap();
    ok(s, &["patient", "link-institution", patient, "--institution", "1", "--as", "ferdie"]);

    // Dave's follower: the chain refuses the two versions of Ferdie's records; the third goes on.
    let report = sync(s, &hfs);
    assert_eq!((report["committed"].as_u64(), report["refused"].as_u64()), (Some(1), Some(2)), "{report}");
    let failed = ok(s, &["sync", "--server", &hfs.url, "--failed"]);
    let failed: Vec<(&str, &str)> = failed
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["resource"].as_str().unwrap(), f["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(failed.len(), 2);
    for (resource, reason) in failed {
        assert!(["Patient/p1", "Observation/o1"].contains(&resource));
        assert!(reason.starts_with("the chain refuses it") && reason.contains("custodian"), "{reason}");
    }
    let pseudonyms = pseudonyms(s, &hfs);
    read_chain(s, async |client| {
        let records = client.records();
        let o2 = records.versions(pseudonyms.record("Observation/o2"), 1, MAX_PAGE).query().await.unwrap();
        let o1 = records.versions(pseudonyms.record("Observation/o1"), 1, MAX_PAGE).query().await.unwrap();
        assert_eq!((o2.len(), o1.len()), (1, 1), "o2 committed by the follower; o1 only Ferdie's import");
    });
    assert_eq!(sync(s, &hfs)["committed"], 0, "refused versions are recorded, not retried");
}

/// The demo's chapter on a real server: a clinician's system writes, the follower commits
/// every stored version (and nothing more when run again), a laboratory reads through the
/// gateway (under consent, refused after revocation, break-glass), and a version removed from
/// the server's history behind the ledger is caught as a gap.
#[test]
fn the_demo_follows_a_fhir_server_and_catches_a_rewritten_history() {
    let hfs = Hfs::start();
    let state = tempfile::tempdir().unwrap();
    let out = custodia(state.path(), &["demo", "--fhir-server", &hfs.url, "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let story: Value = serde_json::from_slice(&out.stdout).unwrap();
    common::assert_the_whole_story_with_the_gateway(&story);
    let text = serde_json::to_string(&story["timeline"]).unwrap();
    for expected in ["1 version committed, linked to the one it replaces", "before: 3 versions, all Match"] {
        assert!(text.contains(expected), "the timeline lacks {expected:?}:\n{text}");
    }
}

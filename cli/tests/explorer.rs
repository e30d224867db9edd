//! The patient explorer: its API over the embedded chain as other processes extend it, and its
//! page in a real browser (feature `browser`: Debian's Chromium and scripts/browser's
//! node_modules, both installed by scripts/setup.sh and scripts/test.sh): what a patient sees
//! after the demo story, every proof checked by the page itself, an altered proof or entry
//! caught by the page, nothing of another patient, no WCAG 2.1 AA violation (axe-core).

mod common;

use common::ok;
use serde_json::Value;
use std::{
    io::{BufRead, BufReader, Read, Write},
    net::TcpStream,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// A running `custodia` that serves an explorer, stopped when dropped.
struct Serving {
    child: Child,
    /// Each `explorer…: URL` line it printed: (what, URL).
    links: Vec<(String, String)>,
}

impl Serving {
    /// Starts `custodia ARGS` (in `state`) and waits for the `explorer: http://…/` line.
    fn start(state: &Path, args: &[&str]) -> Serving {
        let mut child = Command::new(env!("CARGO_BIN_EXE_custodia"))
            .args(args)
            .env("CUSTODIA_STATE", state)
            .env_remove("CUSTODIA_NODE")
            .env_remove("CUSTODIA_KEY")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("custodia runs");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut links = Vec::new();
        for line in lines.by_ref() {
            let line = line.expect("a line of output");
            if let Some((what, url)) = line.strip_prefix("explorer").and_then(|rest| rest.split_once(": http")) {
                links.push((what.trim_start_matches(", ").to_string(), format!("http{url}")));
                if what.is_empty() {
                    break;
                }
            }
        }
        assert!(links.iter().any(|(what, _)| what.is_empty()), "the explorer never said where it listens");
        // Keep reading, so that the process never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Serving { child, links }
    }

    fn link(&self, what: &str) -> &str {
        &self.links.iter().find(|(w, _)| w == what).unwrap_or_else(|| panic!("no link for {what:?}")).1
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// GET `url` (plain HTTP on loopback): the status and the body.
fn get(url: &str) -> (u16, String) {
    let rest = url.strip_prefix("http://").expect("an http URL");
    let (host, path) = rest.split_once('/').map(|(h, p)| (h, format!("/{p}"))).unwrap_or((rest, "/".into()));
    let mut stream = TcpStream::connect(host).expect("the explorer answers");
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("a status line");
    let body = answer.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

/// The page at `url` as Chromium shows it (scripts/browser/explorer-check.mjs).
fn browse(url: &str, options: &[&str]) -> Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf();
    let script = root.join("scripts/browser/explorer-check.mjs");
    assert!(
        root.join("scripts/browser/node_modules/puppeteer-core").is_dir(),
        "scripts/browser's packages are missing: run `npm ci` there (scripts/test.sh does)"
    );
    let out = Command::new("node").arg(script).arg(url).args(options).output().expect("node runs");
    assert!(
        out.status.success(),
        "the browser check failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the browser check prints JSON")
}

fn screenshots() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

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
    assert_eq!(page["checked"], "verified", "{page:#}");
    let accesses = page["accesses"].as_array().unwrap();
    assert_eq!(accesses.len(), 2, "the read under consent and the break-glass read: {page:#}");
    for access in accesses {
        assert!(access["proof"].as_str().unwrap().contains("verified"), "{access}");
        assert!(access["text"]
            .as_str()
            .unwrap()
            .contains("Checked in your browser against the root this explorer read"));
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
    assert_eq!(versions.len(), 2, "{versions:?}");
    assert!(
        versions.iter().all(|v| v.contains("a haemoglobin blood test") && v.contains("Hospital A")),
        "{versions:?}"
    );
    let newest = &versions[0];
    assert!(newest.contains("version 2") && newest.contains("amends version 1"), "{newest}");
    let erased = &versions[1];
    assert!(
        erased.contains("Erased.") && erased.contains("because you asked for it to be deleted"),
        "the tombstone: {erased}"
    );
    assert!(erased.contains("Later added to (amended) by version 2"), "{erased}");

    let consents = texts(&page["consents"]);
    assert_eq!(consents.len(), 1, "{consents:?}");
    assert!(
        consents[0].contains("You allowed the laboratory")
            && consents[0].contains("all your records")
            && consents[0].contains("to treat you")
            && consents[0].contains("Withdrawn on"),
        "granted and revoked: {consents:?}"
    );
    let control = texts(&page["control"]);
    assert!(control.iter().any(|c| c.contains("Hospital A (institution 1) registered you")), "{control:?}");

    assert_eq!(page["axe"], serde_json::json!([]), "WCAG 2.1 AA violations: {:#}", page["axe"]);
    let keyboard = page["keyboard"].as_array().unwrap();
    for control in ["filter-institution", "filter-purpose", "filter-glass", "download-csv", "print"] {
        assert!(keyboard.iter().any(|k| k == control), "{control} not reached by Tab: {keyboard:?}");
    }

    // Another patient's page shows their own record, and nothing of the first patient's; the
    // first patient's shows nothing of theirs.
    let other = browse(demo.link("another patient"), &[]);
    assert_eq!(other["axe"], serde_json::json!([]));
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

    // Nothing lists patients, and a pseudonym nobody was given finds nothing.
    let base = demo.link("");
    let (status, _) = get(&format!("{base}api/patients"));
    assert_eq!(status, 404);
    let (status, body) = get(&format!("{base}api/patients/0x{}", "ab".repeat(32)));
    assert_eq!((status, body.contains("nothing on chain concerns this pseudonym")), (404, true), "{body}");
    let (status, _) = get(&format!("{base}api/patients/MRN-0042"));
    assert_eq!(status, 400, "only a pseudonym finds a patient");
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
        assert!(accesses[1]["proof"].as_str().unwrap().contains("verified"), "{tamper}: the other access still holds");
        assert!(
            page["summary"].to_string().contains("1 of 2 accesses failed the check"),
            "{tamper}: {}",
            page["summary"]
        );
    }
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

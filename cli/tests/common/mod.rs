//! What the CLI test suites share.

pub mod explorer;

use serde_json::Value;
use std::{
    path::Path,
    process::{Command, Output},
};

/// Runs `custodia` on the embedded chain saved in `state`, with no node, key or crash hook
/// from the environment.
#[allow(dead_code)] // not every suite runs the CLI on a state directory
pub fn custodia(state: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_custodia"))
        .args(args)
        .env("CUSTODIA_STATE", state)
        .env_remove("CUSTODIA_NODE")
        .env_remove("CUSTODIA_KEY")
        .env_remove("CUSTODIA_TEST_CRASH_AT")
        .output()
        .expect("custodia runs")
}

/// A state directory with the suite deployed on the embedded chain and attached (Alice
/// proposes, Bob approves and executes), and the institutions `(operator, kind, roles)`
/// admitted (Alice proposes, Charlie approves and executes).
#[allow(dead_code)] // not every suite deploys on a state directory
pub fn deployed_with(admitted: &[(&str, &str, &str)]) -> tempfile::TempDir {
    deployed_on(None, admitted)
}

/// [`deployed_with`] on the node at `node` (the commands after `deploy` reach it through the
/// deployment file), or on the embedded chain.
#[allow(dead_code)] // not every suite deploys on a state directory
pub fn deployed_on(node: Option<&str>, admitted: &[(&str, &str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let s = dir.path();
    let mut deploy = vec!["deploy", "--as", "alice"];
    let salt = format!("{:x}", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos());
    if let Some(url) = node {
        // The consortium chain's council governs code: Alice's deploy proposes the motion that
        // instantiates the suite and reports it open; Bob approves it, which carries and
        // executes it; the same deploy (same salt) then finds the contracts and finishes.
        deploy.extend(["--node", url, "--salt", &salt]);
        let open = custodia(s, &[&deploy[..], &["--json"]].concat());
        assert!(!open.status.success(), "the motion needs a second member: {}", String::from_utf8_lossy(&open.stdout));
        let error: Value = serde_json::from_slice(&open.stdout).expect("a JSON error");
        let text = error["error"].as_str().unwrap();
        let motion = text.split_whitespace().find(|w| w.starts_with("0x") && w.len() == 66).expect(text);
        let approved = ok(s, &["chain", "approve", motion, "--as", "bob", "--node", url]);
        assert!(approved["enacted"].is_u64(), "{approved}");
    }
    let deployment = ok(s, &deploy);
    let attach = deployment["attach_proposal"].as_u64().expect("an attach proposal").to_string();
    ok(s, &["directory", "approve", &attach, "--as", "bob"]);
    ok(s, &["directory", "execute", &attach, "--as", "bob"]);
    for (operator, kind, roles) in admitted {
        let args =
            ["directory", "propose-admit", "--operator", operator, "--kind", kind, "--roles", roles, "--as", "alice"];
        let id = ok(s, &args)["result"]["proposal"].as_u64().unwrap().to_string();
        ok(s, &["directory", "approve", &id, "--as", "charlie"]);
        ok(s, &["directory", "execute", &id, "--as", "charlie"]);
    }
    dir
}

/// The local chain's URL, from `CUSTODIA_NODE_URL` (scripts/test.sh starts the chain).
#[allow(dead_code)] // only the suites against a node
pub fn node_url() -> String {
    std::env::var("CUSTODIA_NODE_URL").expect("CUSTODIA_NODE_URL: start a chain with scripts/chain-start.sh")
}

/// Runs a command that must succeed and returns its JSON output.
#[allow(dead_code)]
pub fn ok(state: &Path, args: &[&str]) -> Value {
    let mut args = args.to_vec();
    args.push("--json");
    let out = custodia(state, &args);
    assert!(
        out.status.success(),
        "custodia {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("custodia {args:?} printed no JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

/// Checks the `custodia demo --json` output tells the whole story: each claim it checks, and
/// two entries in the log.
#[allow(dead_code)] // the FHIR-server suite does not tell the story
pub fn assert_the_whole_story(story: &Value) {
    let timeline = story["timeline"].as_array().expect("a timeline");
    let text = timeline.iter().map(|s| format!("{} {}", s["what"], s["outcome"])).collect::<Vec<_>>().join("\n");
    for expected in [
        "REFUSED, nothing written",
        "tampered copy: Mismatch",
        "Revoked",
        "break-glass count is 1",
        "verifies as Erased",
        "verifies: true",
    ] {
        assert!(text.contains(expected), "the timeline lacks {expected:?}:\n{text}");
    }
    assert_eq!(story["log"]["size"], 2);
}

/// [`assert_the_whole_story`] for a demo run with a FHIR server: the sync follower's chapter
/// and the gateway's (served under consent, refused after the revocation, break-glass, and
/// the patient's timeline with all three, in order); four entries in the log.
#[allow(dead_code)] // only the suites that run the demo with a FHIR server
pub fn assert_the_whole_story_with_the_gateway(story: &Value) {
    let timeline = story["timeline"].as_array().expect("a timeline");
    let text = timeline.iter().map(|s| format!("{} {}", s["what"], s["outcome"])).collect::<Vec<_>>().join("\n");
    for expected in [
        "2 versions committed in 1 transaction(s)",
        "200: served, verified against its commitment, logged under receipt",
        "403, nothing forwarded: not authorised: the consent that covered this access",
        "200: served without a receipt, logged as break-glass",
        "Gap: Observation/demo-hb version 1",
    ] {
        assert!(text.contains(expected), "the timeline lacks {expected:?}:\n{text}");
    }
    let patient_view =
        text.lines().find(|l| l.contains("looks at who read their records")).expect("the patient's view");
    let at = |what: &str| patient_view.find(what).unwrap_or_else(|| panic!("{what:?} not in {patient_view}"));
    assert!(
        at("for treatment under receipt #2") < at("consent #2 revoked")
            && at("consent #2 revoked") < at("BREAK-GLASS read by the laboratory: life-threatening emergency"),
        "the read, the revocation and the break-glass read, in order: {patient_view}"
    );
    for private in ["Ana", "DEMO-042", "1980-04-02", "demo-ana"] {
        assert!(!text.contains(private), "{private} printed:\n{text}");
    }
    assert_eq!(story["log"]["size"], 4);
}

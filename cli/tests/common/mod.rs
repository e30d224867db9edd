//! What the CLI test suites share.

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

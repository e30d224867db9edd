//! What the CLI test suites share.

use serde_json::Value;

/// Checks the `custodia demo --json` output tells the whole story: each claim it checks, and
/// two entries in the log.
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

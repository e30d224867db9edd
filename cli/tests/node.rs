//! The `custodia` command line against a node over JSON-RPC (feature `e2e`; needs
//! CUSTODIA_NODE_URL, see scripts/test.sh, which starts the local chain for it).

fn node_url() -> String {
    std::env::var("CUSTODIA_NODE_URL").expect("CUSTODIA_NODE_URL: start a chain with scripts/chain-start.sh")
}

#[test]
fn the_demo_story_runs_over_json_rpc() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_custodia"))
        .args(["demo", "--json", "--node", &node_url()])
        .env("CUSTODIA_STATE", tempfile::tempdir().unwrap().path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let story: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let text = story["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| format!("{} {}", s["what"], s["outcome"]))
        .collect::<Vec<_>>()
        .join("\n");
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

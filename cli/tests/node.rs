//! The `custodia` command line against a node over JSON-RPC (feature `e2e`; needs
//! CUSTODIA_NODE_URL, see scripts/test.sh, which starts the local chain for it).

mod common;

#[test]
fn the_demo_story_runs_over_json_rpc() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_custodia"))
        .args(["demo", "--json", "--node", &common::node_url()])
        .env("CUSTODIA_STATE", tempfile::tempdir().unwrap().path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let story: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    common::assert_the_whole_story(&story);
}

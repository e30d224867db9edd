//! The gateway on the local chain (features `e2e` and `hfs`; needs CUSTODIA_NODE_URL and
//! Helios HFS, see scripts/test.sh): the demo story over JSON-RPC with a FHIR server, whose
//! gateway chapter has a laboratory read under consent, be refused after the revocation and
//! break the glass, each decided on the node and logged there.

mod common;

use custodia_fixtures::hfs::Hfs;

#[test]
fn the_gateway_decides_and_logs_on_the_local_chain() {
    let node = common::node_url();
    let hfs = Hfs::start();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_custodia"))
        .args(["demo", "--json", "--node", &node, "--fhir-server", &hfs.url])
        .env("CUSTODIA_STATE", tempfile::tempdir().unwrap().path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let story: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    common::assert_the_whole_story_with_the_gateway(&story);
}

//! The patient explorer over a node (features `e2e` and `browser`; needs CUSTODIA_NODE_URL,
//! see scripts/test.sh): after the demo story on the local chain, the patient's page reads the
//! access log's root from the node itself, over JSON-RPC from the browser, and checks every
//! access against it; an altered proof fails there too.

mod common;

use common::explorer::{browse, screenshots, Serving};

#[test]
fn the_patients_browser_checks_every_access_against_the_nodes_root() {
    let node = common::node_url();
    let state = tempfile::tempdir().unwrap();
    let demo = Serving::start(state.path(), &["demo", "--node", &node, "--explorer", "127.0.0.1:0"]);
    let shot = screenshots().join("explorer-patient-node.png");
    let page = browse(demo.link("the patient"), &["--screenshot", shot.to_str().unwrap()]);
    assert_eq!(page["errors"], serde_json::json!([]), "no script errors");
    assert_eq!(page["checked"], "verified", "{page:#}");
    let accesses = page["accesses"].as_array().unwrap();
    assert_eq!(accesses.len(), 2, "{page:#}");
    let from_node = format!("against the root read by your browser from the node {node}");
    for access in accesses {
        assert!(access["text"].as_str().unwrap().contains(&from_node), "{access}");
    }
    assert_eq!(accesses.iter().filter(|a| a["breakGlass"] == true).count(), 1);
    assert_eq!(page["axe"], serde_json::json!([]), "WCAG 2.1 AA violations: {:#}", page["axe"]);

    let tampered = browse(demo.link("the patient"), &["--tamper", "leaf"]);
    assert_eq!(tampered["checked"], "failed", "{tampered:#}");
}

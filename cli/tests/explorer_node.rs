//! The patient explorer over a node (features `e2e` and `browser`; needs CUSTODIA_NODE_URL,
//! see scripts/test.sh): after the demo story on the local chain, the patient's page reads the
//! access log's root from the node itself, over JSON-RPC from the browser, and checks every
//! access against it; an altered proof fails there too.

mod common;

use common::{
    explorer::{browse, screenshots, Serving},
    ok,
};

/// The suites share the chain's development accounts (and their nonces): one test at a time.
static CHAIN: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn the_patients_browser_checks_every_access_against_the_nodes_root() {
    let _chain = CHAIN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
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

    // Completeness, from the count the browser read from the node itself.
    assert_eq!(page["complete"], "complete", "{page:#}");
    let said = page["completeness"].as_str().unwrap();
    assert!(said.contains("the ledger counts 2 accesses") && said.contains(&format!("from the node {node}")), "{said}");

    let tampered = browse(demo.link("the patient"), &["--tamper", "leaf"]);
    assert_eq!(tampered["checked"], "failed", "{tampered:#}");
    // An explorer that leaves an access out cannot hide it: the node's count says so.
    let hidden = browse(demo.link("the patient"), &["--tamper", "hide"]);
    assert_eq!(hidden["complete"], "incomplete", "{hidden:#}");
    assert!(hidden["completeness"].as_str().unwrap().contains("shows 1"), "{hidden:#}");
}

#[test]
fn a_patient_acts_with_their_own_key_in_the_page() {
    let _chain = CHAIN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let node = common::node_url();
    let state = common::deployed_on(
        Some(&node),
        &[("dave", "hospital", "custodian,accessor"), ("ferdie", "laboratory", "accessor")],
    );
    let s = state.path();
    // The hospital registers the patient and offers control to the patient's own key (Eve's
    // development key).
    let patient = ok(s, &["directory", "register-patient", "MRN-9", "--as", "dave"])["result"]["patient"]
        .as_str()
        .unwrap()
        .to_string();
    let v1 = s.join("v1.json");
    std::fs::write(&v1, br#"{"resourceType":"Observation","id":"hb","status":"final"}"#).unwrap();
    let record = ok(
        s,
        &[
            "record",
            "commit",
            "--record",
            "Observation/hb",
            "--patient",
            &patient,
            "--file",
            v1.to_str().unwrap(),
            "--as",
            "dave",
        ],
    )["result"]["record"]
        .as_str()
        .unwrap()
        .to_string();
    ok(s, &["patient", "offer", &patient, "--to", "eve", "--as", "dave"]);
    let custodial = ok(s, &["patient", "show", &patient])["controller"].to_string();
    let explorer = Serving::start(s, &["explorer", "--listen", "127.0.0.1:0", "--follow-ms", "500"]);
    let base = explorer.link("").to_string();
    let page = format!("{base}patient/{patient}");
    let act = |key: &str, button: &str, fill: &str| {
        let seen = browse(&page, &["--act", &format!("{key}:{button}"), "--fill", fill]);
        assert_eq!(seen["errors"], serde_json::json!([]), "{button}");
        seen["action"].clone()
    };

    // 1. The patient accepts control, in the page.
    wait_for(&base, &patient, |history| history["control"][0]["event"] == "offered");
    let accepted = act("//Eve", "accept-control", "");
    assert_eq!(accepted["state"], "done:accept-control", "{accepted:#}");
    let controller = ok(s, &["patient", "show", &patient])["controller"].to_string();
    assert_ne!(controller, custodial, "control moved from the custodian");
    assert!(
        controller.contains("5HGjWAeFDfFCWPsjFQdVV2Msvz2XtMktvgocEZcCj68kUMaw"),
        "Eve's key controls: {controller}"
    );

    // 2. The patient shares that one record with the laboratory (institution 2), for
    // treatment, for 30 days, in the page; the chain holds the receipt, granted by the
    // patient's key.
    let granted = act(
        "//Eve",
        "grant-submit",
        &format!("grant-institution=2,grant-scope=record:{record},grant-purpose-treatment=on,grant-days=30"),
    );
    assert_eq!(granted["state"], "done:grant-submit", "{granted:#}");
    let receipts = || ok(s, &["consent", "list", &patient]).as_array().unwrap().clone();
    let receipt = &receipts()[0];
    assert_eq!(
        (receipt["grantee"]["institution"].as_u64(), receipt["decision"].as_str(), receipt["purposes"].as_u64()),
        (Some(2), Some("Permit"), Some(1)),
        "{receipt:#}"
    );
    assert!(receipt["scope"].to_string().contains(&record), "only the record: {receipt:#}");
    assert_eq!(receipt["granted_by"].as_str(), Some("5HGjWAeFDfFCWPsjFQdVV2Msvz2XtMktvgocEZcCj68kUMaw"), "Eve's key");
    let receipt_id = receipt["receipt"].as_u64().unwrap();
    let days = (receipt["valid_until"].as_u64().unwrap() - receipt["valid_from"].as_u64().unwrap()) / 86_400_000;
    assert_eq!(days, 30);
    wait_for(&base, &patient, |history| history["consents"].as_array().is_some_and(|c| c.len() == 1));

    // 2b. She shares her records of that kind, from any hospital, for research: a category
    // consent naming the record's (network-wide) kind code.
    let (_, body) = common::explorer::get(&format!("{base}api/patients/{patient}"));
    let kind =
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["versions"][0]["kind"].as_str().unwrap().to_string();
    let by_kind = act(
        "//Eve",
        "grant-submit",
        &format!("grant-institution=2,grant-scope=kind:{kind},grant-purpose-research=on,grant-days=7"),
    );
    assert_eq!(by_kind["state"], "done:grant-submit", "{by_kind:#}");
    let category = &receipts()[1];
    assert!(category["scope"]["categories"] == serde_json::json!([kind]), "the kind only: {category:#}");
    assert_eq!(category["granted_by"], receipt["granted_by"], "her key again");
    wait_for(&base, &patient, |history| history["consents"].as_array().is_some_and(|c| c.len() == 2));

    // 3. The laboratory's key neither controls the identity nor is the custodian's: the chain
    // refuses it, named, from the page, and nothing is sent.
    let withdraw = format!("withdraw-{receipt_id}");
    let refused = act("//Ferdie", &withdraw, "");
    assert_eq!(refused["state"], format!("failed:{withdraw}"), "{refused:#}");
    let status = refused["status"].as_str().unwrap();
    assert!(
        status.contains("the chain refuses this key: NotAuthorizedToRevoke") && status.contains("Nothing was sent"),
        "{status}"
    );
    assert!(receipts()[0]["revoked"].is_null(), "still in force on chain");

    // 4. The patient's own key withdraws it; the key goes nowhere (no request or WebSocket
    // frame carries it), and the page talks to the node and its own explorer only.
    let withdrawn = browse(&page, &["--act", &format!("//Eve:{withdraw}")]);
    assert_eq!(withdrawn["errors"], serde_json::json!([]));
    let action = &withdrawn["action"];
    assert_eq!(action["state"], format!("done:{withdraw}"), "{action:#}");
    assert_eq!(action["keyLeftInPage"], "", "the key is cleared from the page once used");
    assert_eq!(action["keySent"], false, "the key left the page");
    let sockets = action["sockets"].as_array().unwrap();
    assert!(
        !sockets.is_empty()
            && sockets.iter().all(|u| u.as_str().unwrap().trim_end_matches('/') == node.trim_end_matches('/')),
        "WebSockets to the node only: {sockets:?}"
    );
    assert_eq!(withdrawn["axe"], serde_json::json!([]), "WCAG 2.1 AA violations: {:#}", withdrawn["axe"]);
    let revoked = &receipts()[0];
    assert_eq!(revoked["revoked"]["by"], revoked["granted_by"], "revoked by the patient's key: {revoked:#}");
    wait_for(&base, &patient, |history| {
        history["consents"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["receipt"] == receipt_id && !c["revoked"].is_null()))
    });
    let after = browse(&page, &[]);
    assert!(after["consents"].to_string().contains("Withdrawn on"), "{}", after["consents"]);

    // 5. The custodian asks to take control back; the patient stops it in the page.
    ok(s, &["patient", "recover", &patient, "--as", "dave"]);
    assert!(!ok(s, &["patient", "show", &patient])["pending"].is_null());
    wait_for(&base, &patient, |history| history["control"][0]["event"] == "recovery_requested");
    let vetoed = act("//Eve", "veto-recovery", "");
    assert_eq!(vetoed["state"], "done:veto-recovery", "{vetoed:#}");
    let shown = ok(s, &["patient", "show", &patient]);
    assert!(shown["pending"].is_null(), "no recovery pending: {shown:#}");
    assert_eq!(shown["controller"].to_string(), controller, "control stays with the patient");
}

/// Polls the explorer's API for `patient` until `done` holds (30 s at most).
fn wait_for(base: &str, patient: &str, done: impl Fn(&serde_json::Value) -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let (status, body) = common::explorer::get(&format!("{base}api/patients/{patient}"));
        if status == 200 && done(&serde_json::from_str(&body).unwrap()) {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "the explorer never showed it: {status} {body}");
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
}

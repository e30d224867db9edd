//! The patient explorer's figures: a patient with N logged accesses (10,000 by default) on the
//! embedded chain; how fast the explorer's index reads the chain's events (events/s), how long
//! the server takes to answer the patient's history (every access with its inclusion proof),
//! and how long Debian's Chromium takes to load the page and check every proof itself
//! (scripts/browser/explorer-check.mjs, when its packages are installed). The floor beside the
//! server figure: building the same proofs from the index alone (`Index::prove_each`).
//!
//! `cargo run -p custodia-services --example explorer_rate [-- N]`

mod common;

use custodia_client::{
    types::{
        access_log::Authorization,
        consents::{Decision, Grantee, Purpose, Purposes, Scope, Target, Terms},
        records::VersionRef,
    },
    Backend,
};
use custodia_fhir::mapping::hex;
use custodia_services::{
    explorer::{index::EventIndex, Explorer, Names, RootSource},
    index::Index,
    outbox::{Access, Outbox},
    Result,
};
use std::{path::Path, time::Instant};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let accesses: usize = std::env::args().nth(1).map(|n| n.parse().expect("a number of accesses")).unwrap_or(10_000);
    let net = common::network().await?;
    let record = net.commit_result().await?;
    let now = net.client.backend().now().await?;
    let terms = Terms {
        patient: net.patient,
        grantee: Grantee { institution: net.lab_id, account: None },
        scope: Scope::AllRecords,
        purposes: Purposes::of(&[Purpose::Treatment]),
        decision: Decision::Permit,
        valid_from: now,
        valid_until: now + 365 * 86_400_000,
    };
    let receipt = net.client.consents().grant(terms).submit(&net.hospital).await?.value;

    let logging = Instant::now();
    let outbox = Outbox::new(&net.client, &net.store);
    let mut logged = 0;
    while logged < accesses {
        let at = net.client.backend().now().await?;
        let batch: Vec<Access> = (0..(accesses - logged).min(500))
            .map(|_| Access {
                patient: net.patient,
                target: Target::Version(VersionRef { record, version: 1 }),
                purpose: Purpose::Treatment,
                accessed_at: at,
                authorization: Authorization::Consent(receipt),
            })
            .collect();
        outbox.record(&net.lab, &batch).await?;
        logged += batch.len();
    }
    let blocks = net.client.backend().block_number().await?;
    println!(
        "setup: {accesses} accesses of one patient logged through the outbox in {:.1} s ({blocks} blocks)",
        logging.elapsed().as_secs_f64()
    );

    // The explorer's own store, as `custodia explorer` keeps it.
    let store = custodia_services::Store::in_memory()?;
    store.bind(net.client.deployment())?;
    let explorer = Explorer::new(&net.client, &store, Names::default(), RootSource::Server);
    let indexing = Instant::now();
    explorer.sync().await?;
    let indexed = indexing.elapsed().as_secs_f64();
    let events = EventIndex::new(&net.client, &store).of_patient(net.patient)?.len();
    println!(
        "index build: {events} events about the patient (and {accesses} leaves) read in {indexed:.2} s: {:.0} events/s",
        events as f64 / indexed
    );

    let leaves: Vec<u64> = (0..accesses as u64).collect();
    let floor = Instant::now();
    let (_, proofs) = Index::new(&net.client, &store).prove_each(&leaves).await?;
    let floor = floor.elapsed().as_secs_f64();
    let answering = Instant::now();
    let history = explorer.patient(net.patient).await?.expect("the patient's history");
    let answered = answering.elapsed().as_secs_f64();
    let bytes = history.to_string().len();
    println!(
        "the patient's history from the server: {} accesses with proofs, {:.1} MB of JSON, in {answered:.2} s \
         (floor: the {} proofs alone from the index, {floor:.2} s)",
        history["accesses"].as_array().map_or(0, Vec::len),
        bytes as f64 / 1e6,
        proofs.len()
    );

    let browser = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/browser");
    if !browser.join("node_modules/puppeteer-core").is_dir() {
        println!("page load in the browser: not measured (run scripts/npm-install.sh scripts/browser)");
        return Ok(());
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a local port");
    let url = format!("http://{}/patient/{}", listener.local_addr().expect("an address"), hex(net.patient.as_bytes()));
    let script = browser.join("explorer-check.mjs");
    let check = tokio::task::spawn_blocking(move || std::process::Command::new("node").arg(script).arg(&url).output());
    let out = tokio::select! {
        out = check => out.expect("the browser check ran").expect("node runs"),
        _ = explorer.serve(listener, std::future::pending()) => unreachable!("the explorer serves until stopped"),
    };
    let page: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!("the browser check failed: {}", String::from_utf8_lossy(&out.stderr));
    });
    println!(
        "page load in Debian's Chromium (headless): {} accesses shown and every proof checked in the page ({}) in {:.1} s",
        page["accesses"].as_array().map_or(0, Vec::len),
        page["checked"],
        page["loadMs"].as_f64().unwrap_or_default() / 1000.0
    );
    Ok(())
}

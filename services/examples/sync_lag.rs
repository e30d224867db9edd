//! The sync follower on a real chain over JSON-RPC: the rate from an empty FHIR server loaded
//! with the fixture patients' transaction Bundles to the chain, then the lag from each write on
//! the server to its version being committed and recorded, under a steady write load (20 writes
//! a second for 60 seconds: new Observations of the fixture patients and updates of earlier
//! ones), the follower passing again at once after a pass
//! that committed something, else after 200 ms.
//!
//! `cargo run -p custodia-services --example sync_lag -- http://127.0.0.1:PORT ws://127.0.0.1:PORT
//! [writes/s] [seconds]` against a fresh server (scripts/hfs-start.sh) and a fresh local chain
//! (scripts/chain-start.sh); `scripts/figures.sh --sync` runs it.

mod common;

use custodia_client::{Finality, NodeBackend};
use custodia_services::{
    fhir_server::{instant_nanos, FhirServer, Retry},
    sync::{FollowOptions, Follower, SyncStage},
    Result,
};
use serde_json::{json, Value};
use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

/// A version written on the server: `Type/id`, its version id and when the server stored it.
type Written = (String, String, i128);

fn now_nanos() -> i128 {
    i128::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos()).unwrap_or(i128::MAX)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let url = args.next().expect("the FHIR server's base URL");
    let node = args.next().expect("the chain's WebSocket URL");
    let per_second: u64 = args.next().map(|n| n.parse().expect("writes per second")).unwrap_or(20);
    let seconds: u64 = args.next().map(|n| n.parse().expect("seconds")).unwrap_or(60);

    let agent = ureq::Agent::new_with_defaults();
    let mut patients = Vec::new();
    for file in custodia_fixtures::fhir_files("bundles") {
        let text = std::fs::read(&file).expect("a fixture");
        if !text.windows(13).any(|w| w == b"\"transaction\"") {
            continue;
        }
        for body in custodia_fixtures::server_prerequisites(&text).into_iter().chain([text]) {
            let mut response =
                agent.post(&url).header("Content-Type", "application/fhir+json").send(&body[..]).expect("loaded");
            let answer: Value = serde_json::from_slice(&response.body_mut().read_to_vec().expect("an answer"))
                .expect("a transaction-response");
            for entry in answer["entry"].as_array().into_iter().flatten() {
                if entry["resource"]["resourceType"] == "Patient" {
                    patients.push(entry["resource"]["id"].as_str().expect("an id").to_string());
                }
            }
        }
    }

    let network =
        common::network_on(NodeBackend::connect(&node, Finality::Finalized).await?, 1_000_000_000_000_000).await?;
    // What a query costs on this chain: one record's head, and 64 at once (the follower asks
    // one `record_batch` per batch).
    let records = network.client.records();
    let ids: Vec<_> = (0..64u8).map(|i| custodia_client::types::RecordId::new([i + 1; 32])).collect();
    let timed = Instant::now();
    for &id in &ids[..20] {
        records.record(id).query().await?;
    }
    let one_ms = timed.elapsed().as_secs_f64() * 1000.0 / 20.0;
    let timed = Instant::now();
    for _ in 0..5 {
        records.records_info(&ids).await?;
    }
    let batch_ms = timed.elapsed().as_secs_f64() * 1000.0 / 5.0;
    println!("on this chain one `record` query: {one_ms:.0} ms; one `record_batch` of 64: {batch_ms:.0} ms");
    let server = FhirServer::new(&url, Retry::default());
    let options = FollowOptions { page_size: 500, ..FollowOptions::default() };
    let follower = Follower::new(&network.client, &network.store, &network.pseudonyms, &server, options);
    let bulk = follower.run_once(&network.hospital, &mut |_| {}).await?;
    println!(
        "bulk: {} versions committed in {} transactions, {:.1} s: {:.1} versions/s (the chain {:.1} s, {:.0} %; the follower's own work {:.0} versions/s)",
        bulk.committed,
        bulk.transactions,
        bulk.seconds,
        bulk.rate(),
        bulk.chain_seconds,
        100.0 * bulk.chain_seconds / bulk.seconds,
        bulk.follower_rate()
    );

    // The load: a writer thread, `per_second` PUTs a second, half new Observations, half
    // updates of ones it wrote earlier.
    let written: Arc<Mutex<VecDeque<Written>>> = Default::default();
    let writer = {
        let (url, written, patients) = (url.clone(), written.clone(), patients.clone());
        std::thread::spawn(move || {
            let agent = ureq::Agent::new_with_defaults();
            let start = Instant::now();
            let total = per_second * seconds;
            for n in 0..total {
                let due = Duration::from_nanos(n * 1_000_000_000 / per_second);
                if let Some(wait) = due.checked_sub(start.elapsed()) {
                    std::thread::sleep(wait);
                }
                let id = if n % 2 == 1 { format!("load-{}", n - 1) } else { format!("load-{n}") };
                let patient = &patients[(n as usize / 2) % patients.len()];
                let status = if n % 2 == 1 { "amended" } else { "final" };
                let resource = json!({"resourceType": "Observation", "id": id, "status": status,
                    "code": {"text": "heart rate"}, "subject": {"reference": format!("Patient/{patient}")},
                    "valueQuantity": {"value": n, "unit": "/min"}});
                let mut response = agent
                    .put(&format!("{url}/Observation/{id}"))
                    .header("Content-Type", "application/fhir+json")
                    .send(&serde_json::to_vec(&resource).expect("JSON")[..])
                    .expect("the server takes the write");
                let stored: Value =
                    serde_json::from_slice(&response.body_mut().read_to_vec().expect("an answer")).expect("JSON");
                let at = stored["meta"]["lastUpdated"].as_str().and_then(instant_nanos).expect("lastUpdated");
                let version = stored["meta"]["versionId"].as_str().expect("versionId").to_string();
                written.lock().expect("not poisoned").push_back((format!("Observation/{id}"), version, at));
            }
        })
    };
    let started = Instant::now();
    let mut lags: Vec<f64> = Vec::new();
    let mut committed = 0;
    loop {
        let finished = writer.is_finished();
        let mut hook = |stage: SyncStage| {
            if let SyncStage::Recorded { .. } = stage {
                let now = now_nanos();
                let mut written = written.lock().expect("not poisoned");
                written.retain(|(reference, version, at)| match follower.committed(reference, version) {
                    Ok(Some(_)) => {
                        lags.push((now - at) as f64 / 1e9);
                        false
                    }
                    _ => true,
                });
            }
        };
        let pass = follower.run_once(&network.hospital, &mut hook).await?.committed;
        committed += pass;
        if finished && written.lock().expect("not poisoned").is_empty() {
            break;
        }
        if pass == 0 {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    writer.join().expect("the writer ends");
    lags.sort_by(f64::total_cmp);
    let at = |q: f64| lags[((lags.len() as f64 * q).ceil() as usize).clamp(1, lags.len()) - 1];
    println!(
        "load: {} writes at {per_second}/s for {seconds} s, {committed} versions committed in {:.1} s; lag from write to recorded: p50 {:.2} s, p99 {:.2} s, max {:.2} s",
        lags.len(),
        started.elapsed().as_secs_f64(),
        at(0.5),
        at(0.99),
        lags[lags.len() - 1]
    );
    Ok(())
}

//! Sync rate from a real FHIR server to the embedded chain: loads the fixture patients'
//! transaction Bundles into an empty server, then follows it with one custodian; prints
//! versions per second end to end, the follower's own rate (history reading, FHIR reading,
//! canonical form, planning, store: the run less the time spent waiting for the chain) and the
//! chain's share; then a second pass over the same history (nothing new to commit).
//!
//! `cargo run -p custodia-services --example sync_rate -- http://127.0.0.1:PORT` against an
//! empty server started by `scripts/hfs-start.sh --data DIR` (scripts/figures.sh does both).

mod common;

use custodia_services::{
    fhir_server::{FhirServer, Retry},
    sync::{FollowOptions, Follower},
    Result,
};
use std::time::Instant;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let url = std::env::args().nth(1).expect("the FHIR server's base URL, e.g. http://127.0.0.1:8080");
    let agent = ureq::Agent::new_with_defaults();
    let post = |body: &[u8]| {
        let response = agent
            .post(&url)
            .header("Content-Type", "application/fhir+json")
            .send(body)
            .expect("the server takes the transaction");
        assert_eq!(response.status().as_u16(), 200);
    };
    let loading = Instant::now();
    for file in custodia_fixtures::fhir_files("bundles") {
        let text = std::fs::read(&file).expect("a fixture");
        if !text.windows(13).any(|w| w == b"\"transaction\"") {
            continue; // a document Bundle
        }
        if let Some(prerequisites) = custodia_fixtures::server_prerequisites(&text) {
            post(&prerequisites);
        }
        post(&text);
    }
    let loaded = loading.elapsed().as_secs_f64();

    let network = common::network().await?;
    let server = FhirServer::new(&url, Retry::default());
    let follower =
        Follower::new(&network.client, &network.store, &network.pseudonyms, &server, FollowOptions::default());
    let first = follower.run_once(&network.hospital, &mut |_| {}).await?;
    let again = Instant::now();
    let second = follower.run_once(&network.hospital, &mut |_| {}).await?;
    let idle = again.elapsed().as_secs_f64();

    println!("server: {} history entries loaded as transactions in {loaded:.2} s", first.read);
    println!(
        "first pass: {} versions committed ({} skipped: no patient) in {} transactions, {:.2} s: {:.0} versions/s",
        first.committed,
        first.skipped,
        first.transactions,
        first.seconds,
        first.rate()
    );
    println!(
        "  the chain (queries, dry runs, transactions): {:.2} s ({:.0} %); the follower's own work: {:.2} s, {:.0} versions/s",
        first.chain_seconds,
        100.0 * first.chain_seconds / first.seconds,
        first.seconds - first.chain_seconds,
        first.follower_rate()
    );
    println!(
        "second pass (nothing new): {} entries read again in {idle:.2} s, {} committed: {:.0} entries/s",
        second.read,
        second.committed,
        second.read as f64 / idle.max(1e-9)
    );
    Ok(())
}

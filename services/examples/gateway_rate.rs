//! The gateway's figures (issue 13 §6), in one run: reads per second and latency (p50, p99)
//! directly against a FHIR server and through the gateway in front of it, where every read is
//! decided on chain, checked against its commitment and queued durably for the access log
//! before its answer leaves (the outbox drained in batches); the latency of one consent
//! decision on its own; and whether the log keeps up (entries logged per second, the outbox's
//! largest depth, the time to drain it after the load).
//!
//! The server is filled with `resources` Observations of `patients` patients (default 1,000 of
//! 100), each patient with a receipt for the laboratory (100 receipts); `clients` threads read
//! random Observations (no single cached resource) for `seconds` seconds per phase.
//!
//! `cargo run -p custodia-services --example gateway_rate -- http://127.0.0.1:PORT [ws://NODE|embedded]
//! [resources] [patients] [seconds] [clients]` against an empty server
//! (scripts/hfs-start.sh; scripts/figures.sh --gateway starts one, and a local chain).

mod common;

use custodia_client::{
    types::{
        consents::{AccessCheck, Decision, Grantee, Purpose, Purposes, Scope, Target, Terms},
        records::VersionRef,
    },
    Backend, Finality, NodeBackend,
};
use custodia_services::{
    fhir_server::{FhirServer, Retry},
    gateway::{
        caller::{Caller, ClientKey},
        config::{Config, RegisteredClient},
        Gateway,
    },
    outbox::Outbox,
    sync::{FollowOptions, Follower},
    Result,
};
use serde_json::json;
use std::{
    sync::Arc,
    time::{Duration, Instant},
};

/// Reads a path as client thread `n`; the answer's status (0: no answer).
type Read = Arc<dyn Fn(usize, &str) -> u16 + Send + Sync>;

/// Latencies, sorted.
struct Latencies(Vec<Duration>);

impl Latencies {
    fn new(mut all: Vec<Duration>) -> Self {
        all.sort();
        Self(all)
    }

    fn at(&self, fraction: f64) -> f64 {
        let i = ((self.0.len() as f64 * fraction) as usize).min(self.0.len().saturating_sub(1));
        self.0.get(i).map(|d| d.as_secs_f64() * 1e3).unwrap_or(f64::NAN)
    }
}

/// `clients` threads reading random Observations for `seconds` with `read`; the latencies of
/// the reads answered 200 and how many were not.
fn load(clients: usize, seconds: u64, observations: usize, read: Read) -> (Latencies, usize, f64) {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let threads: Vec<_> = (0..clients)
        .map(|t| {
            let read = read.clone();
            std::thread::spawn(move || {
                let mut state = 0x9E37_79B9_7F4A_7C15u64 ^ (t as u64 + 1);
                let (mut ok, mut failed) = (Vec::new(), 0usize);
                while Instant::now() < deadline {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    let n = (state % observations as u64) as usize;
                    let at = Instant::now();
                    match read(t, &format!("Observation/bench-{n}")) {
                        200 => ok.push(at.elapsed()),
                        _ => failed += 1,
                    }
                }
                (ok, failed)
            })
        })
        .collect();
    let (mut all, mut failed) = (Vec::new(), 0);
    for thread in threads {
        let (ok, f) = thread.join().expect("a load thread");
        all.extend(ok);
        failed += f;
    }
    let elapsed = started.elapsed().as_secs_f64();
    (Latencies::new(all), failed, elapsed)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let url = args.next().expect("the FHIR server's base URL");
    let chain = args.next().unwrap_or_else(|| "embedded".into());
    let mut number = |default: usize| args.next().map(|n| n.parse().expect("a number")).unwrap_or(default);
    let (resources, patients, seconds, clients) = (number(1000), number(100), number(10) as u64, number(8));
    match chain.as_str() {
        "embedded" => {
            run(common::network().await?, &url, "embedded chain", resources, patients, seconds, clients).await
        }
        node => {
            let backend = NodeBackend::connect(node, Finality::Finalized).await?;
            let network = common::network_on(backend, 1_000_000_000_000_000).await?;
            run(network, &url, "local chain", resources, patients, seconds, clients).await
        }
    }
}

async fn run<B: Backend>(
    network: common::Network<B>,
    url: &str,
    chain: &str,
    resources: usize,
    patients: usize,
    seconds: u64,
    clients: usize,
) -> Result<()> {
    // The server: patients and their Observations, written by 4 threads.
    let filling = Instant::now();
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let url = url.to_string();
            std::thread::spawn(move || {
                let server = FhirServer::new(&url, Retry::default());
                for p in (w..patients).step_by(4) {
                    server.put(&json!({"resourceType": "Patient", "id": format!("bench-p{p}")})).expect("a Patient");
                }
                for n in (w..resources).step_by(4) {
                    let observation = json!({
                        "resourceType": "Observation", "id": format!("bench-{n}"), "status": "final",
                        "code": {"coding": [{"system": "http://loinc.org", "code": "718-7"}]},
                        "subject": {"reference": format!("Patient/bench-p{}", n % patients)},
                        "valueQuantity": {"value": 10.0 + (n % 50) as f64 / 10.0, "unit": "g/dL"},
                    });
                    server.put(&observation).expect("an Observation");
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().expect("a writer");
    }
    let filled = filling.elapsed().as_secs_f64();
    // A store on disk, as a gateway runs: every queued entry is fsync'd before its answer.
    let dir = std::env::temp_dir().join(format!("custodia-gateway-rate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let store = custodia_services::Store::open(&dir.join("client.redb"))?;
    store.bind(network.client.deployment())?;
    let network = common::Network { store, ..network };
    let server = FhirServer::new(url, Retry::default());
    let options = FollowOptions::default();
    let follower = Follower::new(&network.client, &network.store, &network.pseudonyms, &server, options);
    let following = Instant::now();
    let mut committed = 0;
    loop {
        let pass = follower.run_once(&network.hospital, &mut |_| {}).await?.committed;
        committed += pass;
        if pass == 0 {
            break;
        }
    }
    let followed = following.elapsed().as_secs_f64();
    let granting = Instant::now();
    let at = network.client.backend().now().await?;
    for p in 0..patients {
        let terms = Terms {
            patient: follower.patient(&format!("Patient/bench-p{p}")),
            grantee: Grantee { institution: network.lab_id, account: None },
            scope: Scope::AllRecords,
            purposes: Purposes::of(&[Purpose::Treatment]),
            decision: Decision::Permit,
            valid_from: at.saturating_sub(60_000),
            valid_until: at + 86_400_000,
        };
        network.client.consents().grant(terms).submit(&network.hospital).await?;
    }
    let granted = granting.elapsed().as_secs_f64();
    println!(
        "setup on the {chain}: {resources} Observations of {patients} patients written in {filled:.1} s; {committed} versions committed in {followed:.1} s; {patients} receipts granted in {granted:.1} s\n"
    );

    // One consent decision on its own: a check of a version of each patient in turn.
    let mut decisions = Vec::new();
    for p in 0..patients {
        let Some(c) = follower.committed(&format!("Observation/bench-{p}"), "1")? else { continue };
        let check = AccessCheck {
            accessor: network.lab.account(),
            patient: follower.patient(&format!("Patient/bench-p{p}")),
            target: Target::Version(VersionRef { record: c.record, version: c.chain_version }),
            purpose: Purpose::Treatment,
            at: network.client.backend().now().await?,
            receipt: None,
        };
        let started = Instant::now();
        let answer = network.client.consents().check_batch(vec![check]).query().await?;
        decisions.push(started.elapsed());
        assert!(answer[0].is_ok(), "the receipt authorises it: {answer:?}");
    }
    let decisions = Latencies::new(decisions);

    // The gateway, in this process, in front of the server.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a local port");
    let address = listener.local_addr().expect("an address");
    let key = ClientKey::generate("bench");
    let registered = RegisteredClient {
        client_id: "bench".into(),
        jwks: key.jwks(),
        account: network.lab.account(),
        scopes: vec!["system/*.read".into()],
        purposes: vec![Purpose::Treatment],
    };
    let config = Config {
        listen: address,
        public_url: format!("http://{address}"),
        upstream: url.to_string(),
        state: Default::default(),
        node: None,
        custodian: network.hospital.clone(),
        clients: vec![(registered, network.lab.clone())],
        token_lifetime: 3600,
        max_body: 1 << 20,
        upstream_timeout_ms: 30_000,
        flush_interval_ms: 1_000,
        sync_interval_ms: 1_000,
        tls: None,
        quiet: true,
    };
    let gateway = Gateway::new(&config, &network.client, &network.store, &follower)?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let bench = async {
        let direct = {
            let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
            let base = url.to_string();
            let read = Arc::new(move |_: usize, path: &str| {
                agent
                    .get(&format!("{base}/{path}"))
                    .header("Accept", "application/fhir+json")
                    .call()
                    .map(|mut r| {
                        let _ = r.body_mut().read_to_vec();
                        r.status().as_u16()
                    })
                    .unwrap_or(0)
            });
            tokio::task::spawn_blocking(move || load(clients, seconds, resources, read)).await.expect("the load")
        };
        let caller = Caller::new(&config.public_url, "bench", key.clone());
        let tokens: Vec<String> = {
            let caller = caller.clone();
            tokio::task::spawn_blocking(move || {
                (0..clients).map(|_| caller.token("system/*.read", "TREAT").expect("a token")).collect()
            })
            .await
            .expect("tokens")
        };
        // Every version read once through the gateway first: its commitment, once matched on
        // chain, is kept (commitments never change; an erasure drops it), so this is the
        // steady state; the decisions are made afresh for every read.
        let warming = Instant::now();
        {
            let (caller, token) = (caller.clone(), tokens[0].clone());
            tokio::task::spawn_blocking(move || {
                for n in 0..resources {
                    assert_eq!(caller.get(&token, &format!("Observation/bench-{n}"), &[]).status, 200);
                }
            })
            .await
            .expect("the warm-up");
        }
        let warmed = warming.elapsed().as_secs_f64();
        let outbox = Outbox::new(&network.client, &network.store);
        while !outbox.pending(network.lab.account())?.is_empty() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let logged_before = network.client.access_log().next_seq(network.lab.account()).query().await?;
        let loading = Instant::now();
        let through = {
            let read = Arc::new(move |t: usize, path: &str| caller.get(&tokens[t], path, &[]).status);
            tokio::task::spawn_blocking(move || load(clients, seconds, resources, read))
        };
        tokio::pin!(through);
        let mut deepest = 0usize;
        let through = loop {
            tokio::select! {
                done = &mut through => break done.expect("the load"),
                _ = tokio::time::sleep(Duration::from_millis(200)) => {
                    deepest = deepest.max(outbox.pending(network.lab.account())?.len());
                }
            }
        };
        let load_seconds = loading.elapsed().as_secs_f64();
        while !outbox.pending(network.lab.account())?.is_empty() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let drained = loading.elapsed().as_secs_f64() - load_seconds;
        let logged = network.client.access_log().next_seq(network.lab.account()).query().await? - logged_before;
        if std::env::var("GATEWAY_RATE_METRICS").is_ok() {
            let caller = Caller::new(&config.public_url, "bench", key.clone());
            let metrics = tokio::task::spawn_blocking(move || caller.request("GET", "metrics", &[], None))
                .await
                .expect("metrics");
            for line in
                String::from_utf8_lossy(&metrics.body).lines().filter(|l| l.contains("_sum") || l.contains("_count"))
            {
                eprintln!("{line}");
            }
        }
        let _ = stop.send(());

        let (d, g) = (&direct, &through);
        let rate = |r: &(Latencies, usize, f64)| r.0 .0.len() as f64 / r.2;
        println!("| {chain}, {clients} clients, {seconds} s a phase | reads/s | p50 ms | p99 ms | not 200 |");
        println!("|---|---|---|---|---|");
        println!(
            "| directly against the FHIR server | {:.0} | {:.2} | {:.2} | {} |",
            rate(d),
            d.0.at(0.5),
            d.0.at(0.99),
            d.1
        );
        println!(
            "| through the gateway (decided, verified, logged) | {:.0} | {:.2} | {:.2} | {} |",
            rate(g),
            g.0.at(0.5),
            g.0.at(0.99),
            g.1
        );
        println!(
            "\ngateway: +{:.2} ms at p50, +{:.2} ms at p99, {:.0} % of the direct throughput",
            g.0.at(0.5) - d.0.at(0.5),
            g.0.at(0.99) - d.0.at(0.99),
            100.0 * rate(g) / rate(d)
        );
        println!(
            "first reads (one client, each version once: its commitment checked on chain too): {:.0} reads/s",
            resources as f64 / warmed
        );
        println!(
            "a consent decision on its own (check_batch of one, {} patients in turn): p50 {:.2} ms, p99 {:.2} ms",
            decisions.0.len(),
            decisions.at(0.5),
            decisions.at(0.99)
        );
        println!(
            "the log: {logged} entries for {} served reads ({:.0} entries/s over the load and the drain), outbox at most {deepest} deep, drained {drained:.1} s after the load",
            g.0 .0.len(),
            logged as f64 / (load_seconds + drained)
        );
        Ok::<(), custodia_services::Error>(())
    };
    let (served, measured) = tokio::join!(gateway.serve(listener, async { stopped.await.unwrap_or(()) }), bench);
    let _ = std::fs::remove_dir_all(&dir);
    served?;
    measured
}

//! `custodia gateway` as a process in front of a real Helios HFS server, on the embedded chain
//! saved in a state directory: killed with SIGKILL under load and restarted, every read it
//! served is on chain exactly once; its logs hold no identifier, name or birth date; a
//! configuration it cannot start with is reported with what to fix.
//!
//! Feature `hfs` (scripts/test.sh turns it on after installing the server's debug build).

mod common;

use common::{custodia, ok};
use custodia_client::{verify::Pseudonyms, Client, Deployment};
use custodia_fixtures::hfs::Hfs;
use custodia_sandbox::SandboxBackend;
use custodia_services::gateway::caller::{Caller, ClientKey};
use serde_json::{json, Value};
use std::{
    path::Path,
    process::{Child, Command, Stdio},
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

/// Resources in the server: two patients, 40 observations each.
const OBSERVATIONS: usize = 40;
/// Identifiers and personal data that must never reach a log line.
const NAME: &str = "Quokkabelle";
const BIRTH_DATE: &str = "1961-07-23";

/// A state directory with the suite deployed, Dave's hospital (custodian) and Eve's laboratory
/// (accessor) admitted.
fn deployed() -> tempfile::TempDir {
    common::deployed_with(&[("dave", "hospital", "custodian"), ("eve", "laboratory", "accessor")])
}

fn patient_id(n: usize) -> String {
    format!("zq-{n}-7f3a")
}

fn observation_id(patient: usize, n: usize) -> String {
    format!("obs-{patient}-{n}-c9d1")
}

/// The server's records: two patients with names and birth dates, and their observations.
fn fill(hfs: &Hfs) {
    for p in 0..2 {
        hfs.put(&json!({
            "resourceType": "Patient", "id": patient_id(p), "birthDate": BIRTH_DATE,
            "name": [{"family": NAME, "given": ["Ada"]}],
            "identifier": [{"system": "urn:oid:1.2.3.4", "value": format!("MRN-{p}-55871")}],
        }));
        for n in 0..OBSERVATIONS {
            hfs.put(&json!({
                "resourceType": "Observation", "id": observation_id(p, n), "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "718-7"}]},
                "subject": {"reference": format!("Patient/{}", patient_id(p))},
                "valueQuantity": {"value": 10.0 + n as f64 / 10.0, "unit": "g/dL"},
            }));
        }
    }
}

/// The gateway's configuration in the state directory; returns its path and base URL.
fn configure(state: &Path, hfs: &Hfs, lab: &ClientKey) -> (std::path::PathBuf, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}");
    let config = json!({
        "listen": format!("127.0.0.1:{port}"),
        "upstream": hfs.url,
        "state": ".",
        "custodian_key": "dave",
        "flush_interval_ms": 50,
        "clients": [{"client_id": "lab", "jwks": lab.jwks(), "log_key": "eve", "scopes": ["system/*.read"],
                     "purposes": ["TREAT", "ETREAT"]}],
    });
    let path = state.join("gateway.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
    (path, base)
}

/// Starts the gateway, its log appended to `log`; waits until it answers `probe`.
fn start(config: &Path, log: &Path, probe: &Caller) -> Child {
    let log_file = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_custodia"))
        .args(["gateway", "--config"])
        .arg(config)
        .env_remove("CUSTODIA_STATE")
        .env_remove("CUSTODIA_NODE")
        .stdout(Stdio::null())
        .stderr(log_file)
        .spawn()
        .unwrap();
    let started = Instant::now();
    let mut reply = probe.request("GET", "health", &[], None);
    while reply.status == 0 {
        if started.elapsed() >= Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the gateway did not start: {}; its log: {}",
                String::from_utf8_lossy(&reply.body),
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
        reply = probe.request("GET", "health", &[], None);
    }
    child
}

/// A caller that only asks for the gateway's health.
fn probe(base: &str) -> Caller {
    Caller::new(base, "probe", ClientKey::generate("p"))
}

fn health(base: &str) -> Value {
    probe(base).request("GET", "health", &[], None).json()
}

#[test]
fn a_gateway_killed_under_load_logs_every_served_read_exactly_once() {
    // Given a server with two patients' records, followed, and a consent for the laboratory.
    let hfs = Hfs::start();
    fill(&hfs);
    let dir = deployed();
    let s = dir.path();
    ok(s, &["sync", "--server", &hfs.url, "--once", "--as", "dave"]);
    let pseudonyms = Pseudonyms::load_or_create(&s.join("pseudonym.key")).unwrap().for_source(&hfs.url);
    let patient = pseudonyms.patient(&format!("Patient/{}", patient_id(0)));
    let patient_hex = format!("0x{}", hex::encode(patient.0));
    let lab = ok(s, &["directory", "membership", "eve"]);
    let institution = lab["institution"].as_u64().expect("eve's institution").to_string();
    ok(s, &["consent", "grant", "--patient", &patient_hex, "--institution", &institution, "--as", "dave"]);
    let key = ClientKey::generate("lab-1");
    let (config, base) = configure(s, &hfs, &key);
    let log = s.join("gateway.log");
    let mut gateway = start(&config, &log, &probe(&base));

    // When clients read through it, 8 at a time, and it is killed with SIGKILL mid-load.
    let caller = Caller::new(&base, "lab", key);
    let token = caller.token("system/*.read", "TREAT").unwrap();
    let served = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..8)
        .map(|w| {
            let (caller, token, served, stop) = (caller.clone(), token.clone(), served.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut n = w;
                while !stop.load(Ordering::Relaxed) {
                    let reply =
                        caller.get(&token, &format!("Observation/{}", observation_id(0, n % OBSERVATIONS)), &[]);
                    match reply.status {
                        200 => {
                            assert_eq!(reply.json()["resourceType"], "Observation");
                            served.fetch_add(1, Ordering::SeqCst);
                        }
                        0 => break, // the gateway is gone
                        other => panic!("unexpected {other}: {}", String::from_utf8_lossy(&reply.body)),
                    }
                    n += 8;
                }
            })
        })
        .collect();
    let started = Instant::now();
    while served.load(Ordering::SeqCst) < 60 && started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
    }
    gateway.kill().unwrap(); // SIGKILL
    gateway.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.join().unwrap();
    }
    let served = served.load(Ordering::SeqCst);
    assert!(served >= 60, "the load ran ({served} served)");

    // Then, restarted, it drains what it had queued; stopped gracefully, nothing is left.
    let mut gateway = start(&config, &log, &probe(&base));
    let started = Instant::now();
    while health(&base)["outbox_depth"] != 0 {
        assert!(started.elapsed() < Duration::from_secs(60), "the outbox did not drain: {}", health(&base));
        std::thread::sleep(Duration::from_millis(100));
    }
    Command::new("kill").args(["-TERM", &gateway.id().to_string()]).status().unwrap();
    assert!(gateway.wait().unwrap().success(), "a graceful stop exits 0");

    // Every served read is on chain once: none lost, none twice (an entry made durable just
    // before the kill, whose answer never left, may be logged too: at most one per client).
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let logged = runtime.block_on(async {
        let backend = SandboxBackend::open(&s.join("chain.scale")).unwrap();
        let client = Client::open(backend, Deployment::load(&s.join("deployment.json")).unwrap()).await.unwrap();
        let eve = custodia_client::Signer::dev("eve").unwrap().account();
        client.access_log().next_seq(eve).query().await.unwrap()
    });
    eprintln!("served {served} reads before the kill; {logged} logged");
    assert!(served <= logged && logged <= served + 8, "served {served}, logged {logged}");

    // And its log holds counts and codes, never an identifier, a name or a birth date.
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.lines().count() > 60 && text.contains("\"event\":\"request\""), "it logs each request");
    let local = [patient_id(0), patient_id(1), observation_id(0, 1), "MRN-0".into(), "55871".into()];
    for secret in local.iter().map(String::as_str).chain([NAME, BIRTH_DATE, &patient_hex[2..], "Patient/"]) {
        assert!(!text.contains(secret), "the gateway's log holds {secret:?}");
    }
}

#[test]
fn a_configuration_the_gateway_cannot_start_with_says_what_to_fix() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            json!({"upstream": "127.0.0.1:8080", "custodian_key": "dave", "clients": []}),
            "upstream: wants an http:// or https:// URL",
        ),
        (json!({"upstream": "http://127.0.0.1:1", "custodian_key": "dave", "clients": []}), "clients: is empty"),
        (
            json!({"upstream": "http://127.0.0.1:1", "custodian_key": "dave", "listen": "0.0.0.0:8443",
                   "clients": [{"client_id": "a", "jwks": {"keys": []}, "log_key": "eve", "scopes": ["system/*.read"]}]}),
            "listen: is not a loopback address",
        ),
        (
            json!({"upstream": "http://127.0.0.1:1", "custodian_key": "dave",
                   "clients": [{"client_id": "a", "jwks": ClientKey::generate("k").jwks(), "log_key": "eve", "scopes": ["user/*.read"]}]}),
            "clients[0].scopes: wants SMART system scopes",
        ),
        (
            json!({"upstream": "http://127.0.0.1:1", "custodian_key": "dave", "clients": [], "colour": "red"}),
            "unknown field `colour`",
        ),
        // Deny by default: a client registered without purposes of use may ask for none (it
        // must not get any purpose, break-glass included, by omission).
        (
            json!({"upstream": "http://127.0.0.1:1", "custodian_key": "dave",
                   "clients": [{"client_id": "a", "jwks": ClientKey::generate("k").jwks(), "log_key": "eve", "scopes": ["system/*.read"]}]}),
            "clients[0].purposes: is empty",
        ),
        (
            json!({"upstream": "http://127.0.0.1:1", "custodian_key": "dave",
                   "clients": [{"client_id": "a", "jwks": ClientKey::generate("k").jwks(), "log_key": "eve", "scopes": ["system/*.read"], "purposes": []}]}),
            "clients[0].purposes: is empty",
        ),
    ];
    for (config, expected) in cases {
        let path = dir.path().join("gateway.json");
        std::fs::write(&path, config.to_string()).unwrap();
        let out = custodia(dir.path(), &["gateway", "--config", path.to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(stderr.contains(expected), "{stderr} should say {expected:?}");
    }
    let bad_jwks = json!({"upstream": "http://127.0.0.1:1", "custodian_key": "dave",
        "clients": [{"client_id": "a", "jwks": {"keys": [{"kty": "RSA"}]}, "log_key": "eve", "scopes": ["system/*.read"]}]});
    let path = dir.path().join("gateway.json");
    std::fs::write(&path, bad_jwks.to_string()).unwrap();
    let out = custodia(dir.path(), &["gateway", "--config", path.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("clients[0].jwks: holds no P-384 (ES384) key"), "{stderr}");
}

#[test]
fn a_gateway_with_tls_serves_https_only() {
    // Given a certificate of the gateway's own (for 127.0.0.1) and a configuration naming it.
    let hfs = Hfs::start();
    let dir = deployed();
    let s = dir.path();
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1"])
        .args(["-subj", "/CN=custodia-gateway", "-addext", "subjectAltName=IP:127.0.0.1"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .args(["-keyout", "key.pem", "-out", "cert.pem"])
        .current_dir(s)
        .output()
        .expect("openssl runs");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let key = ClientKey::generate("lab-1");
    let (config, base) = configure(s, &hfs, &key);
    let mut value: Value = serde_json::from_slice(&std::fs::read(&config).unwrap()).unwrap();
    value["tls"] = json!({"certificate": "cert.pem", "key": "key.pem"});
    std::fs::write(&config, value.to_string()).unwrap();
    let https = base.replace("http://", "https://");
    // Then a client trusting that certificate gets its answers over TLS …
    let pem = std::fs::read(s.join("cert.pem")).unwrap();
    let trusted = Caller::new(&https, "lab", key.clone()).trusting(&pem).unwrap();
    let mut gateway = start(&config, &s.join("gateway.log"), &trusted);
    assert_eq!(trusted.request("GET", "health", &[], None).json()["status"], "pass");
    let smart = trusted.request("GET", ".well-known/smart-configuration", &[], None).json();
    assert_eq!(smart["token_endpoint"], format!("{https}/auth/token"), "the public URL is https");
    assert!(trusted.token("system/*.read", "TREAT").is_ok(), "tokens over TLS");
    // … and neither plain HTTP nor a client that does not trust it gets anything.
    assert_eq!(Caller::new(&base, "lab", key.clone()).request("GET", "health", &[], None).status, 0);
    assert_eq!(Caller::new(&https, "lab", key).request("GET", "health", &[], None).status, 0);
    Command::new("kill").args(["-TERM", &gateway.id().to_string()]).status().unwrap();
    assert!(gateway.wait().unwrap().success());

    // A key that is not the certificate's is refused at start, naming the field.
    let other = Command::new("openssl")
        .args(["genpkey", "-algorithm", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "other.pem"])
        .current_dir(s)
        .output()
        .unwrap();
    assert!(other.status.success());
    value["tls"] = json!({"certificate": "cert.pem", "key": "other.pem"});
    std::fs::write(&config, value.to_string()).unwrap();
    let out = custodia(s, &["gateway", "--config", config.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("tls: the key does not go with the certificate"), "{stderr}");
}

//! The consent-enforcing gateway in front of a real Helios HFS server, on the embedded chain:
//! SMART Backend Services tokens, reads decided on chain and logged exactly once, searches
//! filtered to what is authorised, content verified against the chain, revocation at once,
//! break-glass, writes only by the custodian, and everything else refused and never forwarded.
//!
//! Feature `hfs` (scripts/test.sh turns it on after installing the server's debug build).

use custodia_client::{
    types::{
        access_log::{Authorization, BreakGlassReason, Entry},
        consents::{Decision, Grantee, Purpose, Purposes, ReceiptId, Scope, Target, Terms},
        PatientId,
    },
    Backend,
};
use custodia_fixtures::hfs::Hfs;
use custodia_services::{
    fhir_server::{FhirServer, Retry},
    gateway::{
        caller::{Caller, ClientKey, Reply},
        config::{Config, RegisteredClient},
        Gateway,
    },
    index::Index,
    outbox::Outbox,
    sync::{FollowOptions, Follower},
};
use custodia_tests::fixture::{fixture, Fixture};
use serde_json::{json, Value};
use std::time::Duration;

/// Runs a blocking call (an HTTP client) off the thread the gateway runs on.
async fn call<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("the call does not panic")
}

fn observation(id: &str, patient: &str, value: f64) -> Value {
    json!({
        "resourceType": "Observation", "id": id, "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "718-7", "display": "Hemoglobin"}]},
        "subject": {"reference": format!("Patient/{patient}")},
        "valueQuantity": {"value": value, "unit": "g/dL"},
        "interpretation": [{"text": "within the reference range"}],
    })
}

fn assert_outcome(reply: &Reply, status: u16, words: &str) {
    assert_eq!(reply.status, status, "{}", String::from_utf8_lossy(&reply.body));
    assert_eq!(reply.json()["resourceType"], "OperationOutcome", "{}", String::from_utf8_lossy(&reply.body));
    assert!(reply.diagnostics().contains(words), "{:?} should say {words:?}", reply.diagnostics());
}

/// The gateway's configuration for the fixture: the laboratory reads (and may ask to write
/// Observations), Hospital A's EHR reads and writes; entries drained every `flush_ms`.
fn configure(
    f: &Fixture,
    hfs: &Hfs,
    address: std::net::SocketAddr,
    lab_key: &ClientKey,
    ehr_key: &ClientKey,
    flush_ms: u64,
) -> Config {
    let registered = |id: &str, key: &ClientKey, signer: &custodia_client::Signer, scopes: &[&str]| {
        let client = RegisteredClient {
            client_id: id.into(),
            jwks: key.jwks(),
            account: signer.account(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            purposes: vec![Purpose::Treatment, Purpose::EmergencyTreatment],
        };
        (client, signer.clone())
    };
    Config {
        listen: address,
        public_url: format!("http://{address}"),
        upstream: hfs.url.clone(),
        state: Default::default(),
        node: None,
        custodian: f.cast.hospital_a.clone(),
        clients: vec![
            registered("lab", lab_key, &f.cast.lab, &["system/*.read", "system/Observation.write"]),
            registered("ehr", ehr_key, &f.cast.hospital_a, &["system/*.*"]),
        ],
        token_lifetime: 300,
        max_body: 64 << 10,
        upstream_timeout_ms: 10_000,
        flush_interval_ms: flush_ms,
        sync_interval_ms: 200,
        tls: None,
        quiet: false,
    }
}

/// Treatment access to all of `patient`'s records for the laboratory, for a day.
async fn grant_lab(f: &Fixture, patient: PatientId) -> ReceiptId {
    let at = f.client.backend().now().await.unwrap();
    let terms = Terms {
        patient,
        grantee: Grantee { institution: f.lab, account: None },
        scope: Scope::AllRecords,
        purposes: Purposes::of(&[Purpose::Treatment]),
        decision: Decision::Permit,
        valid_from: at,
        valid_until: at + 86_400_000,
    };
    f.client.consents().grant(terms).submit(&f.cast.hospital_a).await.unwrap().value
}

#[tokio::test(flavor = "current_thread")]
async fn the_gateway_enforces_consent_and_logs_every_read_exactly_once() {
    // Given a FHIR server holding two patients' records, followed into a deployment where
    // Hospital A keeps them, a laboratory reads and Hospital A's EHR writes, through a gateway.
    let hfs = Hfs::start();
    for (kind, id) in [("Patient", "p1"), ("Patient", "p2")] {
        hfs.put(&json!({"resourceType": kind, "id": id, "gender": "female"}));
    }
    hfs.put(&observation("o1", "p1", 13.2));
    hfs.put(&observation("o2", "p1", 12.9));
    hfs.put(&observation("o3", "p2", 11.0));
    let f = fixture().await;
    let server = FhirServer::new(&hfs.url, Retry::default());
    let follower = Follower::new(&f.client, &f.store, &f.pseudonyms, &server, FollowOptions::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let base = format!("http://{address}");
    let (lab_key, ehr_key, stranger_key) =
        (ClientKey::generate("lab-1"), ClientKey::generate("ehr-1"), ClientKey::generate("x"));
    let config = configure(&f, &hfs, address, &lab_key, &ehr_key, 100);
    let gateway = Gateway::new(&config, &f.client, &f.store, &follower).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let lab = Caller::new(&base, "lab", lab_key.clone());
    let ehr = Caller::new(&base, "ehr", ehr_key);
    let p1 = follower.patient("Patient/p1");
    let lab_logged = || async { f.client.access_log().next_seq(f.cast.lab.account()).query().await.unwrap() };
    let outbox = Outbox::new(&f.client, &f.store);
    let drained = || async {
        for _ in 0..200 {
            if outbox.pending(f.cast.lab.account()).unwrap().is_empty() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the outbox did not drain");
    };

    let story = async {
        // The follower the gateway hosts commits what the server holds.
        for _ in 0..200 {
            if follower.committed("Observation/o3", "1").unwrap().is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(follower.committed("Observation/o3", "1").unwrap().is_some(), "the hosted follower commits");

        // SMART Backend Services: discovery, and assertions that are refused.
        let c = lab.clone();
        let smart = call(move || c.request("GET", ".well-known/smart-configuration", &[], None)).await;
        assert_eq!(smart.json()["token_endpoint"], format!("{base}/auth/token"));
        let audience = format!("{base}/auth/token");
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        let claims =
            |exp: u64, aud: &str, jti: &str| json!({"iss": "lab", "sub": "lab", "aud": aud, "exp": exp, "jti": jti});
        let header = json!({"alg": "ES384", "typ": "JWT", "kid": "lab-1"});
        let refused_assertions = [
            (stranger_key.sign(&header, &claims(now + 60, &audience, "a")), "does not verify"),
            (lab_key.sign(&header, &claims(now - 5, &audience, "b")), "expired"),
            (lab_key.sign(&header, &claims(now + 3600, &audience, "c")), "five minutes"),
            (lab_key.sign(&header, &claims(now + 60, "https://elsewhere/token", "d")), "aud"),
            (lab_key.sign(&json!({"alg": "HS256"}), &claims(now + 60, &audience, "e")), "ES384"),
            ("not.a.jwt.at-all".to_string(), "not a signed JWT"),
        ];
        for (assertion, why) in refused_assertions {
            let c = lab.clone();
            let reply = call(move || c.token_with(&assertion, "system/*.read", "TREAT")).await;
            assert_eq!((reply.status, reply.json()["error"].as_str()), (401, Some("invalid_client")), "{why}");
            assert!(reply.json()["error_description"].as_str().unwrap().contains(why), "{:?}", reply.json());
        }
        let once = lab_key.sign(&header, &claims(now + 60, &audience, "once"));
        let (c, again) = (lab.clone(), once.clone());
        assert_eq!(call(move || c.token_with(&once, "system/*.read", "TREAT")).await.status, 200);
        let c = lab.clone();
        let replay = call(move || c.token_with(&again, "system/*.read", "TREAT")).await;
        assert_eq!(replay.status, 401, "a replayed jti is refused");
        let c = lab.clone();
        let scope = call(move || c.token("system/Patient.cruds", "TREAT")).await.unwrap_err();
        assert_eq!(scope.json()["error"], "invalid_scope");
        let c = lab.clone();
        let purpose = call(move || c.token("system/*.read", "treatment")).await.unwrap_err();
        assert_eq!(purpose.json()["error"], "invalid_request");

        // No token, a forged one: 401 with an OperationOutcome, nothing forwarded.
        let c = lab.clone();
        let none = call(move || c.request("GET", "Observation/o1", &[], None)).await;
        assert_outcome(&none, 401, "access token");
        assert_eq!(none.header("www-authenticate"), Some("Bearer"));
        let c = lab.clone();
        let forged = call(move || c.get("forged-token", "Observation/o1", &[])).await;
        assert_outcome(&forged, 401, "not one this gateway issued");

        // A token, but no consent: 403 naming the reason; nothing logged.
        let c = lab.clone();
        let token = call(move || c.token("system/*.read", "TREAT")).await.unwrap();
        let read = |path: &'static str, token: String| {
            let c = lab.clone();
            call(move || c.get(&token, path, &[]))
        };
        assert_outcome(&read("Observation/o1", token.clone()).await, 403, "no consent");
        assert_outcome(&read("Observation?patient=p1", token.clone()).await, 403, "no consent");

        // The patient's custodian grants the laboratory treatment access to all p1's records.
        let receipt = grant_lab(&f, p1).await;

        // A read is served as the server holds it, verified, and says what authorised it.
        let served = read("Observation/o1", token.clone()).await;
        assert_eq!(served.status, 200, "{}", String::from_utf8_lossy(&served.body));
        assert_eq!(served.json()["valueQuantity"]["value"], 13.2);
        assert_eq!(served.header("x-custodia-authorization"), Some(format!("receipt {receipt}").as_str()));
        assert_eq!(served.header("etag"), Some("W/\"1\""));
        let vread = read("Observation/o1/_history/1", token.clone()).await;
        assert_eq!(vread.status, 200);
        // A subset: verified whole, then cut, tagged SUBSETTED; a served read like any other.
        let subset = read("Observation/o1?_elements=valueQuantity", token.clone()).await.json();
        assert_eq!((subset["valueQuantity"]["value"].as_f64(), subset.get("subject")), (Some(13.2), None));
        assert_eq!(subset["meta"]["tag"][0]["code"], "SUBSETTED");
        // R4's summary (value[x] is a summary element, interpretation is not) and text (the
        // narrative and the mandatory elements, status and code), cut from the verified text.
        let keys = |v: Value| v.as_object().unwrap().keys().cloned().collect::<Vec<String>>();
        let summary = read("Observation/o1?_summary=true", token.clone()).await.json();
        assert_eq!(keys(summary.clone()), ["code", "id", "meta", "resourceType", "status", "subject", "valueQuantity"]);
        assert_eq!(summary["meta"]["tag"][0]["code"], "SUBSETTED");
        let text = read("Observation/o1?_summary=text", token.clone()).await.json();
        assert_eq!(keys(text), ["code", "id", "meta", "resourceType", "status"]);
        assert_outcome(&read("Observation/o1?_summary=count", token.clone()).await, 400, "_summary=count");

        // A compartment search: only p1's, all authorised; a query entry and one per version.
        let search = read("Observation?patient=p1", token.clone()).await;
        assert_eq!(search.status, 200, "{}", String::from_utf8_lossy(&search.body));
        let bundle = search.json();
        assert_eq!(bundle["total"], 2);
        let ids: Vec<&str> =
            bundle["entry"].as_array().unwrap().iter().map(|e| e["resource"]["id"].as_str().unwrap()).collect();
        assert_eq!(ids.len(), 2);
        assert!(ids.contains(&"o1") && ids.contains(&"o2"));
        assert!(bundle["entry"][0]["fullUrl"].as_str().unwrap().starts_with(&base), "links point at the gateway");
        assert!(bundle["link"][0]["url"].as_str().unwrap().starts_with(&base));
        // Another patient's compartment: no consent, not forwarded.
        assert_outcome(&read("Observation?patient=p2", token.clone()).await, 403, "no consent");
        // The patient found by the network pseudonym (PIXm-style).
        let c = lab.clone();
        let (t, hex) = (token.clone(), format!("0x{}", hex::encode(p1.0)));
        let by_pseudonym =
            call(move || c.get(&t, &format!("Patient?identifier=urn:custodia:patient%7C{hex}"), &[])).await;
        assert_eq!(by_pseudonym.status, 200, "{}", String::from_utf8_lossy(&by_pseudonym.body));
        assert_eq!(by_pseudonym.json()["entry"][0]["resource"]["id"], "p1");

        // Every served read is on chain once: read, vread, 3 subsets, query + 2 reads, Patient read.
        drained().await;
        assert_eq!(lab_logged().await, 9);
        let index = Index::new(&f.client, &f.store);
        index.sync().await.unwrap();
        let entries: Vec<Entry> = index.entries(0, index.len().unwrap()).unwrap().into_iter().map(|(_, e)| e).collect();
        assert!(entries.iter().all(|e| e.account == f.cast.lab.account()
            && e.patient == p1
            && e.authorization == Authorization::Consent(receipt)
            && e.purpose == Purpose::Treatment));
        assert_eq!(entries.iter().filter(|e| matches!(e.target, Target::Query(_))).count(), 1);

        // Paging: the server's cursor handed out in a link to the gateway, each page decided and
        // logged on its own; no total on a page with more to come.
        let page = read("Observation?patient=p1&_count=1", token.clone()).await.json();
        assert_eq!((page["entry"].as_array().unwrap().len(), page.get("total")), (1, None));
        let next = page["link"].as_array().unwrap().iter().find(|l| l["relation"] == "next").expect("a next link");
        let next = next["url"].as_str().unwrap().strip_prefix(&format!("{base}/")).expect("at the gateway").to_string();
        let c = lab.clone();
        let t = token.clone();
        let second = call(move || c.get(&t, &next, &[])).await;
        assert_eq!(second.status, 200, "{}", String::from_utf8_lossy(&second.body));
        let (first_id, second_id) = (&page["entry"][0]["resource"]["id"], &second.json()["entry"][0]["resource"]["id"]);
        assert!(first_id != second_id && second_id.is_string(), "{first_id} then {second_id}");
        drained().await;
        assert_eq!(lab_logged().await, 13, "a query and a read per page");

        // $everything: the patient's compartment of every served type, a query decided and
        // logged per type (15: the token's scopes allow all), each version decided, verified
        // and logged; paged like a search, through the gateway.
        let everything = read("Patient/p1/$everything", token.clone()).await;
        assert_eq!(everything.status, 200, "{}", String::from_utf8_lossy(&everything.body));
        let bundle = everything.json();
        let mut found: Vec<String> = bundle["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                format!("{}/{}", e["resource"]["resourceType"].as_str().unwrap(), e["resource"]["id"].as_str().unwrap())
            })
            .collect();
        found.sort();
        assert_eq!(found, ["Observation/o1", "Observation/o2", "Patient/p1"]);
        assert_eq!(bundle["total"], 3);
        assert_eq!(bundle["link"][0]["url"], format!("{base}/Patient/p1/$everything?_count=20"));
        let page = read("Patient/p1/$everything?_count=2&_summary=true", token.clone()).await.json();
        assert_eq!((page["entry"].as_array().unwrap().len(), page.get("total")), (2, None));
        assert!(page["entry"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["resource"]["meta"]["tag"][0]["code"] == "SUBSETTED"));
        let next = page["link"].as_array().unwrap().iter().find(|l| l["relation"] == "next").expect("a next link");
        let next = next["url"].as_str().unwrap().strip_prefix(&format!("{base}/")).expect("at the gateway").to_string();
        assert!(next.starts_with("Patient/p1/$everything?_count=2&_summary=true&_cursor="), "{next}");
        let (c, t) = (lab.clone(), token.clone());
        let rest = call(move || c.get(&t, &next, &[])).await.json();
        assert_eq!(rest["entry"].as_array().unwrap().len(), 1);
        drained().await;
        assert_eq!(lab_logged().await, 13 + (15 + 3) + (15 + 2) + (15 + 1), "a query per type and a read per version");
        // Another patient's: no consent for any type, a 403, nothing logged.
        assert_outcome(&read("Patient/p2/$everything", token.clone()).await, 403, "no consent");
        assert_outcome(&read("Patient/p1/$everything?_type=Observation", token.clone()).await, 400, "_type");
        drained().await;
        assert_eq!(lab_logged().await, 13 + 51);

        // A version stored a moment ago: the gateway waits for the follower, then serves it.
        hfs.put(&observation("o1", "p1", 13.5));
        let newer = read("Observation/o1", token.clone()).await;
        assert_eq!(
            (newer.status, newer.header("etag")),
            (200, Some("W/\"2\"")),
            "{}",
            String::from_utf8_lossy(&newer.body)
        );
        assert_eq!(newer.json()["valueQuantity"]["value"], 13.5);

        // Content changed behind the ledger: withheld with an OperationOutcome, not logged.
        hfs.tamper("Observation/o2", "12.9", "19.2");
        drained().await;
        let before = lab_logged().await;
        assert_outcome(&read("Observation/o2", token.clone()).await, 502, "does not match");
        let search = read("Observation?patient=p1", token.clone()).await.json();
        let served_ids: Vec<&str> =
            search["entry"].as_array().unwrap().iter().filter_map(|e| e["resource"]["id"].as_str()).collect();
        assert!(!served_ids.contains(&"o2"), "a tampered version is left out of a search");
        assert_eq!(search["entry"].as_array().unwrap().last().unwrap()["search"]["mode"], "outcome");
        drained().await;
        assert_eq!(lab_logged().await, before + 2, "the search's query and o1 only");

        // Revocation takes effect at once.
        f.client.consents().revoke(receipt).submit(&f.cast.hospital_a).await.unwrap();
        assert_outcome(&read("Observation/o1", token.clone()).await, 403, "revoked");

        // Break-glass: only with an emergency token and a reason; logged as such.
        let c = lab.clone();
        let t = token.clone();
        let not_emergency =
            call(move || c.get(&t, "Observation/o1", &[("X-Break-Glass-Reason", "life-threatening")])).await;
        assert_outcome(&not_emergency, 403, "ETREAT");
        let c = lab.clone();
        let emergency = call(move || c.token("system/*.read", "ETREAT")).await.unwrap();
        let c = lab.clone();
        let glass =
            call(move || c.get(&emergency, "Observation/o1", &[("X-Break-Glass-Reason", "life-threatening")])).await;
        assert_eq!(glass.status, 200, "{}", String::from_utf8_lossy(&glass.body));
        assert_eq!(glass.header("x-custodia-authorization"), Some("break-glass"));
        drained().await;
        index.sync().await.unwrap();
        let last = index.entries(index.len().unwrap() - 1, index.len().unwrap()).unwrap()[0].1;
        assert_eq!(last.authorization, Authorization::BreakGlass(BreakGlassReason::LifeThreatening));
        assert_eq!(last.purpose, Purpose::EmergencyTreatment);

        // Writes: only the custodian's client; its version is committed before it answers.
        let c = lab.clone();
        let lab_write = call(move || {
            let token = c.token("system/Observation.write", "TREAT").unwrap();
            c.send("PUT", &token, "Observation/o9", &observation("o9", "p1", 10.0))
        })
        .await;
        assert_outcome(&lab_write, 403, "custodian");
        let c = ehr.clone();
        let (put, post, wrong_id, not_json, too_big, no_patient) = call(move || {
            let token = c.token("system/*.*", "TREAT").unwrap();
            let big = json!({"resourceType": "Observation", "id": "o8", "note": [{"text": "x".repeat(70_000)}]});
            (
                c.send("PUT", &token, "Observation/o4", &observation("o4", "p1", 9.9)),
                c.send("POST", &token, "Observation", &{
                    let mut o = observation("x", "p1", 9.8);
                    o.as_object_mut().unwrap().remove("id");
                    o
                }),
                c.send("PUT", &token, "Observation/o5", &observation("o6", "p1", 9.7)),
                c.request(
                    "PUT",
                    "Observation/o5",
                    &[("Authorization", &format!("Bearer {token}")), ("Content-Type", "application/fhir+json")],
                    Some(b"{not json".to_vec()),
                ),
                c.send("PUT", &token, "Observation/o8", &big),
                c.send(
                    "PUT",
                    &token,
                    "Observation/o7",
                    &json!({"resourceType": "Observation", "id": "o7", "status": "final", "code": {"text": "x"}}),
                ),
            )
        })
        .await;
        assert_eq!(put.status, 201, "{}", String::from_utf8_lossy(&put.body));
        assert_eq!(put.header("x-custodia-commitment"), Some("committed"));
        assert_eq!(put.header("location"), Some(format!("{base}/Observation/o4/_history/1").as_str()));
        assert!(follower.committed("Observation/o4", "1").unwrap().is_some());
        assert_eq!(post.status, 201, "{}", String::from_utf8_lossy(&post.body));
        assert!(post.header("location").unwrap().starts_with(&format!("{base}/Observation/")));
        assert_outcome(&wrong_id, 400, "id");
        assert_outcome(&not_json, 400, "not JSON");
        assert_outcome(&too_big, 413, "larger");
        assert_outcome(&no_patient, 422, "no patient");
        assert_eq!(hfs.curl("GET", "Observation/o7", None).0, 404, "a refused write is not forwarded");

        // Deny by default: refused, and the server keeps what it had.
        let c = lab.clone();
        let t = token.clone();
        let refused = call(move || {
            let bearer = format!("Bearer {t}");
            let auth = [("Authorization", bearer.as_str())];
            [
                c.request("DELETE", "Observation/o1", &auth, None).status,
                c.request("DELETE", "Observation/o1/_history/1", &auth, None).status,
                c.request("POST", "", &auth, Some(b"{\"resourceType\":\"Bundle\",\"type\":\"transaction\"}".to_vec()))
                    .status,
                c.request("POST", "$purge", &auth, None).status,
                c.request("GET", "Observation?code=718-7", &auth, None).status,
                c.request("GET", "Observation/%2e%2e/Patient/p2", &auth, None).status,
                c.request("GET", "Observation?patient=p1&_include=Observation:subject", &auth, None).status,
                c.request("GET", "Observation/o1", &[auth[0], ("X-Tenant-ID", "other")], None).status,
                c.request("GET", "Observation/o1?_format=xml", &auth, None).status,
                c.request("PATCH", "Observation/o1", &auth, Some(b"[]".to_vec())).status,
            ]
        })
        .await;
        assert_eq!(refused, [405, 405, 405, 501, 400, 400, 400, 403, 406, 405]);
        assert_eq!(hfs.get("Observation/o1")["meta"]["versionId"], "2", "nothing was deleted");

        // Operating it: metrics and health.
        let c = lab.clone();
        let metrics = call(move || c.request("GET", "metrics", &[], None)).await;
        let text = String::from_utf8(metrics.body).unwrap();
        assert!(text.contains("custodia_gateway_requests_total{interaction=\"read\",status=\"200\"}"), "{text}");
        assert!(text.contains("custodia_gateway_mismatches_total 2"), "{text}");
        let c = lab.clone();
        assert_eq!(call(move || c.request("GET", "health", &[], None)).await.json()["status"], "pass");
        stop.send(()).unwrap();
    };
    let (served, ()) = tokio::join!(gateway.serve(listener, async { stopped.await.unwrap_or(()) }), story);
    served.unwrap();
    assert!(outbox.pending(f.cast.lab.account()).unwrap().is_empty(), "a graceful stop drains the outbox");
}

#[tokio::test(flavor = "current_thread")]
async fn a_read_served_before_its_consent_is_revoked_is_still_logged() {
    // Given a gateway that drains its outbox every 1.5 s, and a laboratory with consent.
    let hfs = Hfs::start();
    hfs.put(&json!({"resourceType": "Patient", "id": "p1"}));
    hfs.put(&observation("o1", "p1", 13.2));
    let f = fixture().await;
    let server = FhirServer::new(&hfs.url, Retry::default());
    let follower = Follower::new(&f.client, &f.store, &f.pseudonyms, &server, FollowOptions::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let lab_key = ClientKey::generate("lab-1");
    let config = configure(&f, &hfs, address, &lab_key, &ClientKey::generate("ehr-1"), 1_500);
    let gateway = Gateway::new(&config, &f.client, &f.store, &follower).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let lab = Caller::new(&format!("http://{address}"), "lab", lab_key);
    let story = async {
        while follower.committed("Observation/o1", "1").unwrap().is_none() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let receipt = grant_lab(&f, follower.patient("Patient/p1")).await;

        // When a read is served under the receipt, and the patient's custodian revokes it
        // before the entry reaches the chain.
        let c = lab.clone();
        let served = call(move || c.get(&c.token("system/*.read", "TREAT").unwrap(), "Observation/o1", &[])).await;
        assert_eq!(served.status, 200, "{}", String::from_utf8_lossy(&served.body));
        f.client.consents().revoke(receipt).submit(&f.cast.hospital_a).await.unwrap();
        let outbox = Outbox::new(&f.client, &f.store);
        assert_eq!(outbox.pending(f.cast.lab.account()).unwrap().len(), 1, "queued, not yet on chain");

        // Then the served read is logged all the same (it was authorised when it happened),
        // at the time it happened, and nothing is left stuck in the outbox.
        for _ in 0..100 {
            if outbox.pending(f.cast.lab.account()).unwrap().is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(f.client.access_log().next_seq(f.cast.lab.account()).query().await.unwrap(), 1, "logged once");
        let c = lab.clone();
        assert_eq!(call(move || c.request("GET", "health", &[], None)).await.json()["status"], "pass");
        stop.send(()).unwrap();
    };
    let (served, ()) = tokio::join!(gateway.serve(listener, async { stopped.await.unwrap_or(()) }), story);
    served.unwrap();
}

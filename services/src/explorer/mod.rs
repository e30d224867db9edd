//! The patient explorer: a web page and a read-only JSON API over a chain, from which a
//! patient sees who committed, shared, read and controls their records, and checks each logged
//! access's inclusion proof in their own browser; and auditors see an institution's accesses.
//!
//! - [`index`]: every event about a patient (and every access of an institution), filed by
//!   pseudonym from the four contracts' events, kept current by [`Explorer::sync`];
//! - [`view`]: the JSON the API answers: facts in stable names, no sentences;
//! - the page (`page/`): HTML, CSS and JavaScript served from the binary, no CDN. It turns
//!   the facts into sentences, and checks every proof itself (`merkle.js`, RFC 9162 with the
//!   browser's SHA-256, tested against `custodia-merkle`'s `vectors.json`): against the root
//!   read from a node the patient names, or (on the embedded chain, which has no node) against
//!   the root this server read, labelled so.
//!
//! Privacy: a page shows one patient's history, found only by the patient's pseudonym (given
//! by their custodian); nothing lists patients or searches by anything else, and the server
//! holds nothing the chain does not (no names, identifiers or birth dates anywhere). Answers
//! carry `Referrer-Policy: no-referrer` and `Cache-Control: no-store`, so a pseudonym in a URL
//! does not leak to other sites or caches.

pub mod index;
pub mod view;

use crate::{index::Index, Error, Result, Store};
use custodia_client::{
    events::SuiteEvent,
    types::{directory::AliasChange, PatientId},
    verify::parse_hash,
    Backend, Client,
};
use custodia_fhir::mapping::hex;
use http_body_util::Full;
use hyper::{
    body::{Bytes, Incoming},
    header::{CACHE_CONTROL, CONTENT_TYPE},
    server::conn::http1,
    service::service_fn,
    Method, Request, Response, StatusCode,
};
use hyper_util::rt::{TokioIo, TokioTimer};
use index::{EventIndex, Filed};
use serde::Deserialize;
use serde_json::{json, Value};
use std::{collections::BTreeMap, future::Future, path::Path, time::Duration};
use tokio::net::TcpListener;

/// Words for ids the chain keeps opaque, published by the institutions (nothing about any
/// patient): institutions' names, and their code tables (what kind of record a code stands
/// for). The page shows the id where a name is missing.
#[derive(Clone, Debug, Default, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Names {
    /// Institution id → its name.
    #[serde(default)]
    pub institutions: BTreeMap<u32, String>,
    /// Code id (0x-hex) → what it stands for, in words.
    #[serde(default)]
    pub codes: BTreeMap<String, String>,
}

impl Names {
    /// Reads a names file (JSON: `{"institutions": {"1": "…"}, "codes": {"0x…": "…"}}`).
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| custodia_client::Error::io(path, e))?;
        serde_json::from_str(&text).map_err(|e| Error::Input(format!("{}: {e}", path.display())))
    }
}

/// Terms of no consequence: only their message's selector is read (`/api/about`).
fn grant_example() -> custodia_client::types::consents::Terms {
    use custodia_client::types::consents::{Decision, Grantee, Purposes, Scope, Terms};
    Terms {
        patient: PatientId::new([0; 32]),
        grantee: Grantee { institution: 0, account: None },
        scope: Scope::AllRecords,
        purposes: Purposes::default(),
        decision: Decision::Permit,
        valid_from: 0,
        valid_until: 0,
    }
}

/// Where the page gets the root it checks proofs against.
#[derive(Clone, Debug)]
pub enum RootSource {
    /// A node's WebSocket URL: the page asks it (`ContractsApi_call` of `root_at`) itself.
    Node(String),
    /// The embedded chain: no node to ask; the page checks against the root this server read.
    Server,
}

/// The explorer over one deployment, its index in `store`.
pub struct Explorer<'a, B> {
    client: &'a Client<B>,
    store: &'a Store,
    names: Names,
    roots: RootSource,
    /// The polkadot.js bundle the page signs with (`scripts/explorer-assets.sh`), if built.
    polkadot: Option<Bytes>,
}

/// Where the page's built assets are: `$CUSTODIA_EXPLORER_ASSETS`, or the workspace's
/// `target/explorer` (where `scripts/explorer-assets.sh` puts them).
pub fn assets_dir() -> std::path::PathBuf {
    std::env::var_os("CUSTODIA_EXPLORER_ASSETS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/explorer"))
}

/// Connections served at once; more wait to be accepted.
const MAX_CONNECTIONS: usize = 64;

const INDEX_HTML: &str = include_str!("page/index.html");
const APP_JS: &str = include_str!("page/app.js");
const MERKLE_JS: &str = include_str!("page/merkle.js");
const STYLE_CSS: &str = include_str!("page/style.css");

impl<'a, B: Backend> Explorer<'a, B> {
    /// An explorer of `client`'s deployment, indexing into `store`.
    pub fn new(client: &'a Client<B>, store: &'a Store, names: Names, roots: RootSource) -> Self {
        Self { client, store, names, roots, polkadot: None }
    }

    /// Serves the page's built assets from `dir` (`polkadot.js`: with it, and a node to sign
    /// for, the patient can act with their own key in the page). Without them the page only
    /// shows and checks.
    pub fn with_assets(mut self, dir: &Path) -> Self {
        let bundle = dir.join("polkadot.js");
        self.polkadot = std::fs::read(&bundle).ok().map(Bytes::from);
        if self.polkadot.is_none() {
            eprintln!(
                "explorer: no {}: patients can look and check, but not act with their own key (scripts/explorer-assets.sh builds it)",
                bundle.display()
            );
        }
        self
    }

    /// Whether the page offers the patient to act with their own key: the bundle is built
    /// and there is a node to sign for.
    fn actions(&self) -> bool {
        self.polkadot.is_some() && matches!(self.roots, RootSource::Node(_))
    }

    /// Reads new blocks' events into the index (events by patient and institution, and the
    /// access log's leaves). Returns the block read through.
    pub async fn sync(&self) -> Result<u32> {
        let through = EventIndex::new(self.client, self.store).sync().await?;
        Index::new(self.client, self.store).sync().await?;
        Ok(through)
    }

    /// A patient's history, with an inclusion proof of each logged access against the log's
    /// head as the chain reports it now.
    pub async fn patient(&self, patient: PatientId) -> Result<Option<Value>> {
        let (ids, filed) = self.history(patient)?;
        if filed.is_empty() {
            return Ok(None);
        }
        let leaves: Vec<u64> = filed.iter().filter_map(|f| f.access()).map(|logged| logged.index).collect();
        let (head, proofs) = Index::new(self.client, self.store).prove_each(&leaves).await?;
        let mut history = view::patient(patient.as_bytes(), &filed, &head, &proofs);
        // The chain's time, which is what "in force" and "expired" are judged by.
        history["now"] = json!(self.client.backend().now().await?);
        // How many entries the chain counts for each id (the page asks a node itself where it
        // can): what tells the page that it shows them all.
        let mut counted = Vec::new();
        for id in &ids {
            let seen = self.client.access_log().patient_accesses(*id).query().await?.unwrap_or_default();
            counted.push(json!({"patient": hex(id.as_bytes()), "count": seen.count, "newest": seen.newest}));
        }
        history["counted"] = json!(counted);
        Ok(Some(history))
    }

    /// The events about `patient` and about the ids joined to theirs as accepted aliases (an
    /// id a hospital gave them in an emergency, say): those ids (the patient's first), and one
    /// history, oldest first.
    fn history(&self, patient: PatientId) -> Result<(Vec<PatientId>, Vec<Filed>)> {
        let index = EventIndex::new(self.client, self.store);
        let mut filed = index.of_patient(patient)?;
        let mut joined = std::collections::BTreeSet::new();
        for event in filed.iter().filter_map(Filed::decoded) {
            if let SuiteEvent::AliasChanged(e) = event {
                if e.of == patient {
                    match e.change {
                        AliasChange::Accepted => joined.insert(e.patient),
                        AliasChange::Offered | AliasChange::Removed => joined.remove(&e.patient),
                    };
                }
            }
        }
        for alias in &joined {
            // Its alias announcements are in the patient's own events already.
            let own = index.of_patient(*alias)?.into_iter();
            filed.extend(own.filter(|f| !matches!(f.decoded(), Some(SuiteEvent::AliasChanged(_)))));
        }
        filed.sort_by_key(|f| f.block);
        Ok((std::iter::once(patient).chain(joined).collect(), filed))
    }

    /// A patient's logged accesses as FHIR R4 AuditEvents (IHE BALP, the mapping of
    /// `custodia_fhir::mapping::audit`), newest first, in a `searchset` Bundle.
    pub fn audit_events(&self, patient: PatientId) -> Result<Option<Value>> {
        let (_, filed) = self.history(patient)?;
        if filed.is_empty() {
            return Ok(None);
        }
        let entries: Vec<Value> = filed
            .iter()
            .rev()
            .filter_map(|f| f.access())
            .map(|e| json!({"resource": custodia_fhir::mapping::audit::from_entry(e.index, &e.entry)}))
            .collect();
        Ok(Some(json!({"resourceType": "Bundle", "type": "searchset", "total": entries.len(), "entry": entries})))
    }

    /// An institution's accesses, for auditors: counts, break-glass, and the accesses whose
    /// consent has since been withdrawn or has expired (read from each patient's consent
    /// events as of now).
    pub async fn institution(&self, institution: u32) -> Result<Value> {
        let index = EventIndex::new(self.client, self.store);
        let filed = index.of_institution(institution)?;
        let patients: std::collections::BTreeSet<PatientId> =
            filed.iter().filter_map(|f| f.access()).map(|logged| logged.entry.patient).collect();
        let mut consent_events = Vec::new();
        for patient in patients {
            consent_events.extend(index.of_patient(patient)?);
        }
        let now = self.client.backend().now().await?;
        Ok(view::institution(institution, &filed, &consent_events, now))
    }

    /// The access log now, and the sizes it recorded a root for (newest first, at most 1,000).
    pub async fn log(&self) -> Result<Value> {
        let head = self.client.access_log().head().query().await?;
        let sizes = EventIndex::new(self.client, self.store).log_sizes(1000)?;
        Ok(json!({
            "size": head.size,
            "root": hex(&head.root),
            "recorded": sizes.iter().map(|(size, block)| json!({"size": size, "block": block})).collect::<Vec<_>>(),
        }))
    }

    /// A consistency proof between the log of `old` and of `new` entries, with the roots the
    /// chain recorded for both (a page on a node reads them from the node itself).
    pub async fn consistency(&self, old: u64, new: u64) -> Result<Value> {
        let log = self.client.access_log();
        let (Some(old_root), Some(new_root)) = (log.root_at(old).query().await?, log.root_at(new).query().await?)
        else {
            return Err(Error::Input(format!("the chain recorded no root for a log of {old} or of {new} entries")));
        };
        let proof = Index::new(self.client, self.store).prove_consistency(old, new).await?;
        Ok(json!({
            "old": {"size": old, "root": hex(&old_root)},
            "new": {"size": new, "root": hex(&new_root)},
            "proof": proof.iter().map(|h| hex(h)).collect::<Vec<_>>(),
        }))
    }

    /// What the page needs besides a patient's history: the names, and where to read roots.
    fn about(&self) -> Value {
        let deployment = self.client.deployment();
        let roots = match &self.roots {
            RootSource::Node(url) => json!({"node": url}),
            RootSource::Server => json!("server"),
        };
        let actions = self.actions();
        let named = |refusals: Vec<(u8, String)>| {
            refusals.into_iter().map(|(index, text)| (index.to_string(), text)).collect::<BTreeMap<_, _>>()
        };
        // The messages the page calls itself (`root_at` and `patient_accesses` to read roots
        // and counts from a node; the rest
        // signed by a patient acting with their own key): each contract's address, each
        // message's selector (the page encodes the arguments), the contracts' refusals in words.
        let selector = |input: &[u8]| hex(&input[..4]);
        let nobody = PatientId::new([0; 32]);
        let (consents, directory) = (self.client.consents(), self.client.directory());
        json!({
            "names": self.names,
            "roots": roots,
            "actions": actions,
            "contracts": {
                "consents": hex(deployment.consents.address.as_ref()),
                "directory": hex(deployment.directory.address.as_ref()),
                "access_log": hex(deployment.access_log.address.as_ref()),
            },
            "selectors": {
                "revoke": selector(consents.revoke(0).input()),
                "accept_control": selector(directory.accept_control(nobody).input()),
                "veto_recovery": selector(directory.veto_recovery(nobody).input()),
                "grant": selector(consents.grant(grant_example()).input()),
                "root_at": selector(self.client.access_log().root_at(0).input()),
                "patient_accesses": selector(self.client.access_log().patient_accesses(nobody).input()),
                "alias": selector(directory.alias(nobody).input()),
            },
            "refusals": {
                "consents": named(custodia_client::registry::consents_refusals()),
                "directory": named(custodia_client::registry::directory_refusals()),
            },
        })
    }

    /// Serves the page and the API on `listener` until `shutdown` completes.
    pub async fn serve(&self, listener: TcpListener, shutdown: impl Future<Output = ()>) -> Result<()> {
        use futures::stream::{FuturesUnordered, StreamExt};
        type Served<'c> = std::pin::Pin<Box<dyn Future<Output = ()> + 'c>>;
        // The names this server answers to: a page of another site that rebinds its own name
        // to 127.0.0.1 (DNS rebinding) gets nothing.
        let port = listener.local_addr().map_err(|e| Error::Input(format!("no local address: {e}")))?.port();
        let hosts: Vec<String> = ["127.0.0.1", "localhost", "[::1]"].iter().map(|h| format!("{h}:{port}")).collect();
        let hosts = &hosts;
        let mut connections: FuturesUnordered<Served<'_>> = FuturesUnordered::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                accepted = listener.accept(), if connections.len() < MAX_CONNECTIONS => {
                    let stream = match accepted {
                        Ok((stream, _)) => stream,
                        Err(error) => {
                            // Out of file descriptors, say: wait rather than spin.
                            eprintln!("explorer: cannot accept a connection: {error}");
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            continue;
                        }
                    };
                    let service = service_fn(move |request| async move {
                        Ok::<_, std::convert::Infallible>(self.answer(request, hosts).await)
                    });
                    let mut http = http1::Builder::new();
                    http.timer(TokioTimer::new()).header_read_timeout(Duration::from_secs(10));
                    connections.push(Box::pin(async move {
                        let _ = http.serve_connection(TokioIo::new(stream), service).await;
                    }));
                }
                Some(()) = connections.next(), if !connections.is_empty() => {}
            }
        }
        Ok(())
    }

    async fn answer(&self, request: Request<Incoming>, hosts: &[String]) -> Response<Full<Bytes>> {
        let host = request.headers().get(hyper::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
        if !hosts.iter().any(|allowed| allowed.eq_ignore_ascii_case(host)) {
            return problem(StatusCode::MISDIRECTED_REQUEST, "this explorer answers to 127.0.0.1 or localhost only");
        }
        if request.method() != Method::GET && request.method() != Method::HEAD {
            let mut refused = problem(StatusCode::METHOD_NOT_ALLOWED, "the explorer is read-only: GET only");
            refused.headers_mut().insert(hyper::header::ALLOW, "GET, HEAD".parse().expect("a valid header"));
            return refused;
        }
        // A request's body is never read (hyper discards it).
        let path = request.uri().path().to_owned();
        let query = request.uri().query().unwrap_or_default().to_owned();
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        match segments.as_slice() {
            [""] | ["patient", _] | ["institution", _] => asset("text/html; charset=utf-8", INDEX_HTML),
            ["app.js"] => asset("text/javascript; charset=utf-8", APP_JS),
            ["merkle.js"] => asset("text/javascript; charset=utf-8", MERKLE_JS),
            ["style.css"] => asset("text/css; charset=utf-8", STYLE_CSS),
            ["vendor", "polkadot.js"] => match &self.polkadot {
                Some(bundle) => respond(StatusCode::OK, "text/javascript; charset=utf-8", bundle.clone()),
                None => problem(StatusCode::NOT_FOUND, "not built: scripts/explorer-assets.sh"),
            },
            ["api", "about"] => data(StatusCode::OK, &self.about()),
            ["api", "patients", id, rest @ ..] if rest.is_empty() || rest == ["audit-events"] => {
                let Ok(patient) = parse_hash(id).map(PatientId::new) else {
                    return problem(
                        StatusCode::BAD_REQUEST,
                        "a patient is named by their pseudonym: 0x and 64 hex digits",
                    );
                };
                let answer = match rest {
                    [] => self.patient(patient).await.map(|history| history.map(|h| ("application/json", h))),
                    _ => self.audit_events(patient).map(|bundle| bundle.map(|b| ("application/fhir+json", b))),
                };
                match answer {
                    Ok(Some((content_type, value))) => {
                        respond(StatusCode::OK, content_type, Bytes::from(value.to_string()))
                    }
                    Ok(None) => problem(StatusCode::NOT_FOUND, "nothing on chain concerns this pseudonym"),
                    Err(e) => unavailable(&e),
                }
            }
            ["api", "log"] => match self.log().await {
                Ok(log) => data(StatusCode::OK, &log),
                Err(e) => unavailable(&e),
            },
            ["api", "consistency"] => {
                let sizes = parameter(&query, "old").zip(parameter(&query, "new"));
                let Some((old, new)) = sizes.and_then(|(o, n)| o.parse::<u64>().ok().zip(n.parse::<u64>().ok())) else {
                    return problem(StatusCode::BAD_REQUEST, "give two log sizes: ?old=M&new=N");
                };
                match self.consistency(old, new).await {
                    Ok(proof) => data(StatusCode::OK, &proof),
                    Err(Error::Input(message)) => problem(StatusCode::NOT_FOUND, &message),
                    Err(e) => unavailable(&e),
                }
            }
            ["api", "institutions", id] => match id.parse::<u32>() {
                Ok(institution) => match self.institution(institution).await {
                    Ok(view) => data(StatusCode::OK, &view),
                    Err(e) => unavailable(&e),
                },
                Err(_) => problem(StatusCode::BAD_REQUEST, "an institution is named by its number"),
            },
            _ => problem(StatusCode::NOT_FOUND, "no such page"),
        }
    }
}

/// The value of `name` in a query string (`a=1&b=2`), if given once.
fn parameter<'q>(query: &'q str, name: &str) -> Option<&'q str> {
    let mut values = query.split('&').filter_map(|pair| pair.split_once('=')).filter(|(key, _)| *key == name);
    let first = values.next()?.1;
    values.next().is_none().then_some(first)
}

fn respond(status: StatusCode, content_type: &str, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, content_type.parse().expect("a valid header"));
    headers.insert(CACHE_CONTROL, "no-store".parse().expect("a valid header"));
    headers.insert("referrer-policy", "no-referrer".parse().expect("a valid header"));
    headers.insert("x-content-type-options", "nosniff".parse().expect("a valid header"));
    headers.insert("x-frame-options", "DENY".parse().expect("a valid header"));
    // Scripts and styles from this server only; the page may open a WebSocket to the node the
    // patient names, to read roots itself.
    headers.insert(
        "content-security-policy",
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self' ws: wss:; img-src 'self' data:; frame-ancestors 'none'"
            .parse()
            .expect("a valid header"),
    );
    response
}

fn asset(content_type: &str, text: &'static str) -> Response<Full<Bytes>> {
    respond(StatusCode::OK, content_type, Bytes::from_static(text.as_bytes()))
}

fn data(status: StatusCode, value: &Value) -> Response<Full<Bytes>> {
    respond(status, "application/json", Bytes::from(value.to_string()))
}

/// The chain or the index could not be read: the detail goes to the operator's log, not to
/// the browser.
fn unavailable(error: &Error) -> Response<Full<Bytes>> {
    eprintln!("explorer: {error}");
    problem(StatusCode::SERVICE_UNAVAILABLE, "the explorer cannot read the chain just now; try again shortly")
}

fn problem(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    data(status, &json!({"error": message}))
}

#[cfg(test)]
mod tests {
    use custodia_client::types::{
        access_log::{Authorization, BreakGlassReason, Entry, EntryRevision1},
        consents::{Purpose, Target},
        records::VersionRef,
        CodeId, PatientId, RecordId,
    };
    use scale::Encode;
    use serde_json::{json, Value};

    /// Leaves as the contracts encode them, with what they say: the page's reader
    /// (`page/merkle.js`, `entryFromLeaf`) is tested against this file (`merkle.test.mjs`), so
    /// a layout the Rust types change is a layout the page must follow. Values near the top of
    /// their ranges (an institution id and a version ≥ 2³¹, times past 2⁵³ ms would not fit a
    /// double, so the times stay realistic) catch sign and width mistakes.
    fn vectors() -> Value {
        use custodia_fhir::mapping::hex;
        let id = |byte: u8| [byte; 32];
        let current = Entry {
            institution: 0x8000_0001,
            account: id(0xa1).into(),
            seq: u64::MAX - 1,
            patient: PatientId::new(id(0xb2)),
            target: Target::Version(VersionRef { record: RecordId::new(id(0xc3)), version: 0xffff_fffe }),
            purpose: Purpose::Legal,
            accessed_at: 1_796_026_082_183,
            at: 1_796_026_094_183,
            authorization: Authorization::BreakGlass(BreakGlassReason::LegalObligation),
        };
        let query = Entry {
            target: Target::Query(CodeId::new(id(0xd4))),
            purpose: Purpose::Treatment,
            authorization: Authorization::Consent(u64::from(u32::MAX) + 7),
            ..current
        };
        let revision1 = EntryRevision1 {
            institution: 3,
            account: id(0x11).into(),
            seq: 0,
            patient: PatientId::new(id(0x22)),
            target: Target::Version(VersionRef { record: RecordId::new(id(0x33)), version: 1 }),
            purpose: Purpose::PatientRequest,
            at: 1_700_000_006_000,
            authorization: Authorization::Consent(12),
        };
        json!({
            "about": "Access-log leaves as custodia-types encodes them (services/src/explorer/mod.rs writes and checks this file); merkle.test.mjs reads each with entryFromLeaf.",
            "leaves": [
                {"leaf": hex(&current.encode()), "entry": {
                    "institution": 0x8000_0001u32, "account": hex(&id(0xa1)), "seq": (u64::MAX - 1).to_string(),
                    "patient": hex(&id(0xb2)), "target": {"record": hex(&id(0xc3)), "version": 0xffff_fffeu32},
                    "purpose": "legal", "accessed_at": "1796026082183", "at": "1796026094183",
                    "authorization": {"break_glass": "legal_obligation"}}},
                {"leaf": hex(&query.encode()), "entry": {
                    "institution": 0x8000_0001u32, "account": hex(&id(0xa1)), "seq": (u64::MAX - 1).to_string(),
                    "patient": hex(&id(0xb2)), "query": hex(&id(0xd4)),
                    "purpose": "treatment", "accessed_at": "1796026082183", "at": "1796026094183",
                    "authorization": {"consent": (u64::from(u32::MAX) + 7).to_string()}}},
                {"leaf": hex(&revision1.encode()), "entry": {
                    "institution": 3, "account": hex(&id(0x11)), "seq": "0",
                    "patient": hex(&id(0x22)), "target": {"record": hex(&id(0x33)), "version": 1},
                    "purpose": "patient_request", "accessed_at": "1700000006000", "at": "1700000006000",
                    "authorization": {"consent": "12"}}},
            ],
        })
    }

    #[test]
    fn the_pages_entry_vectors_are_the_contracts_encoding() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/explorer/page/entry-vectors.json");
        let expected = format!("{}\n", serde_json::to_string_pretty(&vectors()).unwrap());
        if std::env::var_os("CUSTODIA_WRITE_VECTORS").is_some() {
            std::fs::write(&path, &expected).unwrap();
        }
        let file = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(file == expected, "{} differs from the encoding; rerun with CUSTODIA_WRITE_VECTORS=1", path.display());
        for leaf in vectors()["leaves"].as_array().unwrap() {
            let bytes = hex::decode(&leaf["leaf"].as_str().unwrap()[2..]).unwrap();
            assert!(Entry::from_leaf(&bytes).is_some(), "every vector reads as an entry");
        }
    }
}

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
use custodia_client::{types::PatientId, verify::parse_hash, Backend, Client};
use http_body_util::{BodyExt, Full};
use hyper::{
    body::{Bytes, Incoming},
    header::{CACHE_CONTROL, CONTENT_TYPE},
    server::conn::http1,
    service::service_fn,
    Method, Request, Response, StatusCode,
};
use hyper_util::rt::{TokioIo, TokioTimer};
use index::EventIndex;
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
}

const INDEX_HTML: &str = include_str!("page/index.html");
const APP_JS: &str = include_str!("page/app.js");
const MERKLE_JS: &str = include_str!("page/merkle.js");
const STYLE_CSS: &str = include_str!("page/style.css");

impl<'a, B: Backend> Explorer<'a, B> {
    /// An explorer of `client`'s deployment, indexing into `store`.
    pub fn new(client: &'a Client<B>, store: &'a Store, names: Names, roots: RootSource) -> Self {
        Self { client, store, names, roots }
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
        let filed = EventIndex::new(self.client, self.store).of_patient(patient)?;
        if filed.is_empty() {
            return Ok(None);
        }
        let leaves: Vec<u64> = filed
            .iter()
            .filter_map(|f| match f.decoded() {
                Some(custodia_client::events::SuiteEvent::AccessLogged(e)) => Some(e.index),
                _ => None,
            })
            .collect();
        let (head, proofs) = Index::new(self.client, self.store).prove_each(&leaves).await?;
        Ok(Some(view::patient(patient.as_bytes(), &filed, &head, &proofs)))
    }

    /// An institution's accesses, for auditors.
    pub fn institution(&self, institution: u32) -> Result<Value> {
        let filed = EventIndex::new(self.client, self.store).of_institution(institution)?;
        Ok(view::institution(institution, &filed))
    }

    /// What the page needs besides a patient's history: the names, and where to read roots.
    fn about(&self) -> Value {
        let deployment = self.client.deployment();
        let roots = match &self.roots {
            RootSource::Node(url) => json!({"node": url}),
            RootSource::Server => json!("server"),
        };
        json!({
            "names": self.names,
            "roots": roots,
            "access_log": format!("0x{}", hex::encode(deployment.access_log.address)),
            "root_at_selector": format!("0x{}", hex::encode(&self.client.access_log().root_at(0).input()[..4])),
        })
    }

    /// Serves the page and the API on `listener` until `shutdown` completes.
    pub async fn serve(&self, listener: TcpListener, shutdown: impl Future<Output = ()>) -> Result<()> {
        use futures::stream::{FuturesUnordered, StreamExt};
        type Served<'c> = std::pin::Pin<Box<dyn Future<Output = ()> + 'c>>;
        let mut connections: FuturesUnordered<Served<'_>> = FuturesUnordered::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                accepted = listener.accept() => {
                    let Ok((stream, _)) = accepted else { continue };
                    let service = service_fn(move |request| async move { Ok::<_, std::convert::Infallible>(self.answer(request).await) });
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

    async fn answer(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        if request.method() != Method::GET {
            return problem(StatusCode::METHOD_NOT_ALLOWED, "the explorer is read-only: GET only");
        }
        let path = request.uri().path().to_owned();
        // No body is read: a GET's body is ignored, up to what hyper buffers.
        drop(request.into_body().collect());
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        match segments.as_slice() {
            [""] | ["patient", _] | ["institution", _] => asset("text/html; charset=utf-8", INDEX_HTML),
            ["app.js"] => asset("text/javascript; charset=utf-8", APP_JS),
            ["merkle.js"] => asset("text/javascript; charset=utf-8", MERKLE_JS),
            ["style.css"] => asset("text/css; charset=utf-8", STYLE_CSS),
            ["api", "about"] => data(StatusCode::OK, &self.about()),
            ["api", "patients", id] => {
                let Ok(patient) = parse_hash(id).map(PatientId::new) else {
                    return problem(
                        StatusCode::BAD_REQUEST,
                        "a patient is named by their pseudonym: 0x and 64 hex digits",
                    );
                };
                match self.patient(patient).await {
                    Ok(Some(history)) => data(StatusCode::OK, &history),
                    Ok(None) => problem(StatusCode::NOT_FOUND, "nothing on chain concerns this pseudonym"),
                    Err(e) => problem(StatusCode::SERVICE_UNAVAILABLE, &format!("the chain could not be read: {e}")),
                }
            }
            ["api", "institutions", id] => match id.parse::<u32>() {
                Ok(institution) => match self.institution(institution) {
                    Ok(view) => data(StatusCode::OK, &view),
                    Err(e) => problem(StatusCode::SERVICE_UNAVAILABLE, &format!("the index could not be read: {e}")),
                },
                Err(_) => problem(StatusCode::BAD_REQUEST, "an institution is named by its number"),
            },
            _ => problem(StatusCode::NOT_FOUND, "no such page"),
        }
    }
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
        "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; frame-ancestors 'none'"
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

fn problem(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    data(status, &json!({"error": message}))
}

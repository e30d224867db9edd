//! The upstream FHIR server, as the gateway calls it: one request at a time per call, off the
//! gateway's thread (a blocking HTTP client on tokio's blocking pool), with a deadline, and
//! `Prefer: handling=strict` so that a parameter the server does not know is refused rather
//! than dropped. Nothing from the caller is passed on but the interaction the gateway built.

use super::outcome::Refusal;
use std::time::{Duration, Instant};

/// An answer from the upstream server.
#[derive(Debug)]
pub struct Answer {
    /// Its status.
    pub status: u16,
    /// Its body.
    pub body: Vec<u8>,
    /// Its `Location` header (writes).
    pub location: Option<String>,
    /// How long it took.
    pub took: Duration,
}

/// The upstream server.
#[derive(Clone)]
pub struct Upstream {
    base: String,
    agent: ureq::Agent,
    max_body: u64,
}

impl Upstream {
    /// The server at `base`, waited for at most `timeout`.
    pub fn new(base: &str, timeout: Duration) -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .max_idle_connections_per_host(64)
            .build();
        Self { base: base.trim_end_matches('/').to_string(), agent: config.into(), max_body: 64 << 20 }
    }

    /// Its base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// `GET base/path_and_query`.
    pub async fn get(&self, path_and_query: &str) -> Result<Answer, Refusal> {
        self.call("GET", path_and_query, None).await
    }

    /// `POST` or `PUT` of a resource.
    pub async fn send(&self, method: &'static str, path: &str, body: Vec<u8>) -> Result<Answer, Refusal> {
        self.call(method, path, Some(body)).await
    }

    async fn call(&self, method: &'static str, path: &str, body: Option<Vec<u8>>) -> Result<Answer, Refusal> {
        let this = self.clone();
        let url = format!("{}/{}", self.base, path.trim_start_matches('/'));
        let started = Instant::now();
        let outcome = tokio::task::spawn_blocking(move || {
            let response = match (method, body) {
                ("GET", _) => this
                    .agent
                    .get(&url)
                    .header("Accept", "application/fhir+json")
                    .header("Prefer", "handling=strict")
                    .call(),
                ("POST", Some(body)) => this
                    .agent
                    .post(&url)
                    .header("Accept", "application/fhir+json")
                    .header("Content-Type", "application/fhir+json")
                    .header("Prefer", "return=representation")
                    .send(&body[..]),
                (_, body) => this
                    .agent
                    .put(&url)
                    .header("Accept", "application/fhir+json")
                    .header("Content-Type", "application/fhir+json")
                    .header("Prefer", "return=representation")
                    .send(&body.unwrap_or_default()[..]),
            };
            response.and_then(|mut response| {
                let status = response.status().as_u16();
                let location = response
                    .headers()
                    .get("location")
                    .or_else(|| response.headers().get("content-location"))
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                let body = response.body_mut().with_config().limit(this.max_body).read_to_vec()?;
                Ok((status, body, location))
            })
        })
        .await;
        let took = started.elapsed();
        match outcome {
            Ok(Ok((status, body, location))) => Ok(Answer { status, body, location, took }),
            Ok(Err(ureq::Error::Timeout(_))) => {
                Err(Refusal::timeout("the FHIR server did not answer in time; nothing was served or logged"))
            }
            Ok(Err(_)) | Err(_) => {
                Err(Refusal::unavailable("the FHIR server cannot be reached; nothing was served or logged", 5))
            }
        }
    }
}

//! The gateway's configuration: one JSON file, checked at start with what to fix.
//!
//! ```json
//! {
//!   "listen": "127.0.0.1:8443",
//!   "public_url": "http://127.0.0.1:8443",
//!   "upstream": "http://127.0.0.1:8080",
//!   "state": ".custodia",
//!   "node": "ws://127.0.0.1:9944",
//!   "custodian_key": "hospital.key",
//!   "tls": {"certificate": "cert.pem", "key": "key.pem"},
//!   "clients": [{
//!     "client_id": "lab-system",
//!     "jwks": {"keys": [{"kty": "EC", "crv": "P-384", "kid": "1", "x": "…", "y": "…"}]},
//!     "log_key": "lab-gateway.key",
//!     "scopes": ["system/*.read"],
//!     "purposes": ["TREAT", "ETREAT"]
//!   }]
//! }
//! ```
//!
//! `state` is the directory of the deployment, the store and the pseudonym secret (as the
//! command line's `--state`); `node` is omitted for the embedded chain. `custodian_key` signs
//! the commitments of the sync follower the gateway hosts. Each client's `log_key` is the key
//! of an account of the client's institution (which it invited for this gateway) that the
//! accesses of that client are checked and logged under; the account is derived from it.
//! Relative paths are relative to the file.

use custodia_client::{types::consents::Purpose, Signer};
use ink::primitives::AccountId;
use serde::Deserialize;
use serde_json::Value;
use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
};

/// A configuration the gateway cannot start with: where, what and how to fix it.
#[derive(Debug, thiserror::Error)]
#[error("gateway configuration {file}: {field}: {problem}")]
pub struct ConfigError {
    /// The file.
    pub file: String,
    /// The field (`clients[0].jwks`), or `(file)`.
    pub field: String,
    /// What is wrong and what to do.
    pub problem: String,
}

/// A client system allowed to call, as registered.
#[derive(Clone, Debug)]
pub struct RegisteredClient {
    /// Its `client_id` (the `iss` and `sub` of its assertions).
    pub client_id: String,
    /// Its public keys (a JWKS with at least one P-384 key).
    pub jwks: Value,
    /// The account its accesses are checked and logged under.
    pub account: AccountId,
    /// The scopes it may be granted (`system/*.read`, …).
    pub scopes: Vec<String>,
    /// The purposes of use it may ask for (none: it gets no token; `EmergencyTreatment` lets it
    /// break the glass).
    pub purposes: Vec<Purpose>,
}

/// The gateway's configuration, checked.
pub struct Config {
    /// Where it listens (127.0.0.1 by default; the gateway refuses to listen elsewhere
    /// without TLS in front of it, see `allow_non_loopback`).
    pub listen: SocketAddr,
    /// The base URL callers use (links in answers point here).
    pub public_url: String,
    /// The upstream FHIR server's base URL.
    pub upstream: String,
    /// The state directory (deployment, store, pseudonym secret).
    pub state: PathBuf,
    /// A node's URL; `None`: the embedded chain of the state directory.
    pub node: Option<String>,
    /// The key the hosted sync follower commits with.
    pub custodian: Signer,
    /// The registered clients, with the keys their accesses are logged with.
    pub clients: Vec<(RegisteredClient, Signer)>,
    /// Seconds an access token lasts.
    pub token_lifetime: u64,
    /// The largest body accepted (bytes).
    pub max_body: usize,
    /// Milliseconds to wait for the upstream server.
    pub upstream_timeout_ms: u64,
    /// Milliseconds between outbox drains.
    pub flush_interval_ms: u64,
    /// Milliseconds between sync passes.
    pub sync_interval_ms: u64,
    /// TLS: the server's certificate chain and key (`tls.certificate`, `tls.key`, PEM files);
    /// `None`: plain HTTP (loopback only, or behind a terminator with `allow_non_loopback`).
    pub tls: Option<std::sync::Arc<tokio_rustls::rustls::ServerConfig>>,
    /// No structured log on stderr (a gateway embedded in another program's output, such as
    /// the demo); not settable from the file.
    pub quiet: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    listen: Option<String>,
    public_url: Option<String>,
    upstream: String,
    state: Option<String>,
    node: Option<String>,
    custodian_key: String,
    clients: Vec<RawClient>,
    token_lifetime_seconds: Option<u64>,
    max_body_bytes: Option<usize>,
    upstream_timeout_ms: Option<u64>,
    flush_interval_ms: Option<u64>,
    sync_interval_ms: Option<u64>,
    allow_non_loopback: Option<bool>,
    tls: Option<RawTls>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    certificate: String,
    key: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClient {
    client_id: String,
    jwks: Value,
    log_key: String,
    scopes: Vec<String>,
    #[serde(default)]
    purposes: Vec<String>,
}

impl Config {
    /// Reads and checks `file`.
    pub fn load(file: &Path) -> Result<Config, ConfigError> {
        let name = file.display().to_string();
        let error = |field: &str, problem: String| ConfigError { file: name.clone(), field: field.into(), problem };
        let text = std::fs::read(file).map_err(|e| error("(file)", format!("cannot be read: {e}")))?;
        let raw: Raw = serde_json::from_slice(&text).map_err(|e| {
            error("(file)", format!("is not a gateway configuration: {e} (see the README's gateway section)"))
        })?;
        let base = file.parent().unwrap_or(Path::new("."));
        let relative = |p: &str| if Path::new(p).is_absolute() { PathBuf::from(p) } else { base.join(p) };
        let key = |field: &str, spec: &str| -> Result<Signer, ConfigError> {
            let path = relative(spec);
            let spec = if path.is_file() { path.display().to_string() } else { spec.to_string() };
            Signer::resolve(&spec)
                .map_err(|e| error(field, format!("{e} (a keystore file, chmod 600, or a development name)")))
        };
        let listen: SocketAddr = raw
            .listen
            .as_deref()
            .unwrap_or("127.0.0.1:8443")
            .parse()
            .map_err(|_| error("listen", "wants an address and port such as 127.0.0.1:8443".into()))?;
        let tls = match &raw.tls {
            Some(files) => Some(
                server_tls(&relative(&files.certificate), &relative(&files.key))
                    .map_err(|(field, problem)| error(field, problem))?,
            ),
            None => None,
        };
        if !listen.ip().is_loopback() && tls.is_none() && !raw.allow_non_loopback.unwrap_or(false) {
            return Err(error(
                "listen",
                "is not a loopback address: give tls (certificate and key), or put a TLS terminator in front and set allow_non_loopback".into(),
            ));
        }
        let url = |field: &str, text: &str| -> Result<String, ConfigError> {
            let trimmed = text.trim_end_matches('/');
            match trimmed.starts_with("http://") || trimmed.starts_with("https://") {
                true => Ok(trimmed.to_string()),
                false => Err(error(field, format!("wants an http:// or https:// URL, got {text:?}"))),
            }
        };
        let upstream = url("upstream", &raw.upstream)?;
        let public_url = match &raw.public_url {
            Some(text) => url("public_url", text)?,
            None => format!("{}://{listen}", if tls.is_some() { "https" } else { "http" }),
        };
        if raw.clients.is_empty() {
            return Err(error("clients", "is empty: register at least one client system".into()));
        }
        let mut clients = Vec::new();
        for (i, c) in raw.clients.iter().enumerate() {
            let field = |f: &str| format!("clients[{i}].{f}");
            if c.client_id.is_empty()
                || clients.iter().any(|(r, _): &(RegisteredClient, Signer)| r.client_id == c.client_id)
            {
                return Err(error(&field("client_id"), "must be set and unique".into()));
            }
            super::auth::jwks_keys(&c.jwks).map_err(|problem| error(&field("jwks"), problem))?;
            let signer = key(&field("log_key"), &c.log_key)?;
            if c.scopes.is_empty() || c.scopes.iter().any(|s| super::auth::Scope::parse(s).is_none()) {
                return Err(error(
                    &field("scopes"),
                    "wants SMART system scopes such as system/*.read or system/Observation.rs".into(),
                ));
            }
            if c.purposes.is_empty() {
                return Err(error(
                    &field("purposes"),
                    "is empty: name the purposes of use this client may ask for (TREAT, HPAYMT, …; ETREAT lets it break the glass)"
                        .into(),
                ));
            }
            let mut purposes = Vec::new();
            for code in &c.purposes {
                purposes.push(super::auth::purpose_of_use(code).ok_or_else(|| {
                    error(
                        &field("purposes"),
                        format!("{code} is not an HL7 PurposeOfUse code (TREAT, ETREAT, HPAYMT, …)"),
                    )
                })?);
            }
            let registered = RegisteredClient {
                client_id: c.client_id.clone(),
                jwks: c.jwks.clone(),
                account: signer.account(),
                scopes: c.scopes.clone(),
                purposes,
            };
            clients.push((registered, signer));
        }
        let custodian = key("custodian_key", &raw.custodian_key)?;
        let positive = |field: &str, value: Option<u64>, default: u64| -> Result<u64, ConfigError> {
            match value.unwrap_or(default) {
                0 => Err(error(field, "must be more than 0".into())),
                v => Ok(v),
            }
        };
        let token_lifetime = positive("token_lifetime_seconds", raw.token_lifetime_seconds, 300)?;
        if token_lifetime > 3600 {
            return Err(error("token_lifetime_seconds", "must be at most 3600 (tokens are short-lived)".into()));
        }
        Ok(Config {
            listen,
            public_url,
            upstream,
            state: relative(raw.state.as_deref().unwrap_or(".custodia")),
            node: raw.node,
            custodian,
            clients,
            token_lifetime,
            max_body: raw.max_body_bytes.unwrap_or(1 << 20),
            upstream_timeout_ms: positive("upstream_timeout_ms", raw.upstream_timeout_ms, 10_000)?,
            flush_interval_ms: positive("flush_interval_ms", raw.flush_interval_ms, 250)?,
            sync_interval_ms: positive("sync_interval_ms", raw.sync_interval_ms, 500)?,
            tls,
            quiet: false,
        })
    }

    /// The token endpoint (the audience of client assertions).
    pub fn token_endpoint(&self) -> String {
        format!("{}/auth/token", self.public_url)
    }
}

/// A TLS server configuration from PEM files: the certificate chain (leaf first) and its
/// private key; the field at fault and what is wrong otherwise.
fn server_tls(
    certificate: &Path,
    key: &Path,
) -> Result<std::sync::Arc<tokio_rustls::rustls::ServerConfig>, (&'static str, String)> {
    use rustls_pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer};
    use tokio_rustls::rustls;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(certificate)
        .and_then(|certs| certs.collect::<Result<_, _>>())
        .map_err(|e| ("tls.certificate", format!("{}: {e}", certificate.display())))?;
    if chain.is_empty() {
        return Err(("tls.certificate", format!("{}: holds no certificate (PEM)", certificate.display())));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| ("tls.key", format!("{}: {e}", key.display())))?;
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ("tls", e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| ("tls", format!("the key does not go with the certificate: {e}")))?;
    Ok(std::sync::Arc::new(config))
}

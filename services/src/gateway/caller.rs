//! A client system calling a gateway, as a laboratory's or a hospital's integration engine
//! would: it signs its SMART Backend Services assertion with its ES384 key, asks for tokens,
//! and reads and writes over FHIR REST (blocking). The demo, the benchmark and the tests call
//! the gateway through it; any SMART client library works the same way.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use p384::ecdsa::{signature::Signer, Signature, SigningKey};
use serde_json::{json, Value};
use std::time::{Duration, SystemTime};

/// A client's ES384 key pair, with its key id.
#[derive(Clone)]
pub struct ClientKey {
    kid: String,
    key: SigningKey,
}

impl ClientKey {
    /// A fresh key.
    pub fn generate(kid: &str) -> Self {
        loop {
            let mut secret = [0u8; 48];
            getrandom::getrandom(&mut secret).expect("the OS random source works");
            if let Ok(key) = SigningKey::from_slice(&secret) {
                return Self { kid: kid.to_string(), key };
            }
        }
    }

    /// The public key as a JWKS (what the gateway's configuration registers).
    pub fn jwks(&self) -> Value {
        let point = self.key.verifying_key().to_encoded_point(false);
        let (x, y) = (point.x().expect("uncompressed"), point.y().expect("uncompressed"));
        json!({"keys": [{
            "kty": "EC", "crv": "P-384", "alg": "ES384", "use": "sig", "kid": self.kid,
            "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y),
        }]})
    }

    /// A signed client assertion for `client_id` to `audience` (the token endpoint), valid
    /// for `lifetime`, with a fresh `jti`.
    pub fn assertion(&self, client_id: &str, audience: &str, lifetime: Duration) -> String {
        let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let mut jti = [0u8; 16];
        getrandom::getrandom(&mut jti).expect("the OS random source works");
        let claims = json!({
            "iss": client_id, "sub": client_id, "aud": audience,
            "exp": now + lifetime.as_secs(), "jti": hex::encode(jti),
        });
        self.sign(&json!({"alg": "ES384", "typ": "JWT", "kid": self.kid}), &claims)
    }

    /// A JWS (compact) of `claims` under `header`, signed with this key.
    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        let encode = |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).expect("JSON values serialise"));
        let signed = format!("{}.{}", encode(header), encode(claims));
        let signature: Signature = self.key.sign(signed.as_bytes());
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
    }
}

/// An answer from the gateway.
#[derive(Debug)]
pub struct Reply {
    /// Its status.
    pub status: u16,
    /// Its headers (names in lower case).
    pub headers: Vec<(String, String)>,
    /// Its body.
    pub body: Vec<u8>,
}

impl Reply {
    /// The body as JSON (`Null` if it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The first issue's diagnostics, for an OperationOutcome.
    pub fn diagnostics(&self) -> String {
        self.json()["issue"][0]["diagnostics"].as_str().unwrap_or_default().to_string()
    }
}

/// A registered client system calling one gateway.
#[derive(Clone)]
pub struct Caller {
    base: String,
    client_id: String,
    key: ClientKey,
    agent: ureq::Agent,
}

impl Caller {
    /// `client_id` with `key`, calling the gateway at `base`.
    pub fn new(base: &str, client_id: &str, key: ClientKey) -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build();
        Self {
            base: base.trim_end_matches('/').to_string(),
            client_id: client_id.to_string(),
            key,
            agent: config.into(),
        }
    }

    /// The same caller trusting the certificate in `pem` (PEM) for a gateway serving TLS with
    /// a certificate of its own rather than one a public authority signed.
    pub fn trusting(mut self, pem: &[u8]) -> Result<Self, String> {
        use ureq::tls::{Certificate, RootCerts, TlsConfig};
        let certificate = Certificate::from_pem(pem).map_err(|e| format!("not a PEM certificate: {e}"))?;
        let tls = TlsConfig::builder().root_certs(RootCerts::new_with_certs(&[certificate])).build();
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .tls_config(tls)
            .build();
        self.agent = config.into();
        Ok(self)
    }

    /// The gateway's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Asks for a token with `scope` and `purpose_of_use` (an HL7 PurposeOfUse code); the
    /// token, or the gateway's refusal.
    pub fn token(&self, scope: &str, purpose: &str) -> Result<String, Reply> {
        let assertion =
            self.key.assertion(&self.client_id, &format!("{}/auth/token", self.base), Duration::from_secs(240));
        let reply = self.token_with(&assertion, scope, purpose);
        match reply.json()["access_token"].as_str() {
            Some(token) if reply.status == 200 => Ok(token.to_string()),
            _ => Err(reply),
        }
    }

    /// Posts a token request with a given assertion (for tests of what the gateway refuses).
    pub fn token_with(&self, assertion: &str, scope: &str, purpose: &str) -> Reply {
        let form = format!(
            "grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion={assertion}&scope={}&purpose_of_use={purpose}",
            scope.replace(' ', "+").replace('/', "%2F").replace('*', "%2A")
        );
        self.request(
            "POST",
            "auth/token",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            Some(form.into_bytes()),
        )
    }

    /// GET `path` (relative to the base) with `token` and extra headers.
    pub fn get(&self, token: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
        let bearer = format!("Bearer {token}");
        let mut all = vec![("Authorization", bearer.as_str())];
        all.extend_from_slice(headers);
        self.request("GET", path, &all, None)
    }

    /// PUT or POST a resource with `token`.
    pub fn send(&self, method: &str, token: &str, path: &str, resource: &Value) -> Reply {
        let bearer = format!("Bearer {token}");
        let headers = [("Authorization", bearer.as_str()), ("Content-Type", "application/fhir+json")];
        self.request(method, path, &headers, Some(serde_json::to_vec(resource).expect("JSON values serialise")))
    }

    /// Any request (`path` relative to the base, sent as written).
    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: Option<Vec<u8>>) -> Reply {
        let url = format!("{}/{}", self.base, path.trim_start_matches('/'));
        let mut builder = ureq::http::Request::builder().method(method).uri(&url);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let sent = match body {
            Some(body) => self.agent.run(builder.body(body).expect("a valid request")),
            None => self.agent.run(builder.body(()).expect("a valid request")),
        };
        match sent {
            Ok(mut response) => {
                let headers = response
                    .headers()
                    .iter()
                    .map(|(n, v)| (n.as_str().to_ascii_lowercase(), v.to_str().unwrap_or_default().to_string()))
                    .collect();
                let status = response.status().as_u16();
                let body = response.body_mut().with_config().limit(64 << 20).read_to_vec().unwrap_or_default();
                Reply { status, headers, body }
            }
            Err(error) => Reply { status: 0, headers: vec![], body: error.to_string().into_bytes() },
        }
    }
}

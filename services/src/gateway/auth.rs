//! Who is calling: SMART Backend Services (OAuth 2.0 client credentials with a signed JWT
//! client assertion, RFC 7523) issuing short-lived access tokens.
//!
//! A registered client posts to the token endpoint an assertion it signed with ES384 (its
//! public keys are registered as a JWKS); the gateway checks the signature, `iss` = `sub` =
//! the client id, `aud` = the token endpoint, `exp` in the future and at most five minutes
//! ahead, and a `jti` never seen before (kept in the store until it expires, so a restart does
//! not reopen replays). The token it issues is 32 random bytes, held in memory only (a restart
//! asks clients for new ones), with the scopes granted (the ones asked for that the
//! registration allows) and the purpose of use asked for with the token (`purpose_of_use`, an
//! HL7 v3 PurposeOfUse code as in IHE IUA; default `TREAT`).

use super::{config::RegisteredClient, outcome::Refusal, request::percent_decode};
use crate::{Error, Result, Store};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use custodia_client::types::consents::Purpose;
use ink::primitives::AccountId;
use p384::ecdsa::{signature::Verifier, Signature, VerifyingKey};
use redb::{ReadableTable, TableDefinition};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::{cell::RefCell, collections::HashMap};

/// Assertion ids seen (SHA-256 of `client id NUL jti`) and when they expire (Unix seconds).
const JTIS: TableDefinition<[u8; 32], u64> = TableDefinition::new("gateway_jtis");

pub(crate) fn create_tables(tx: &redb::WriteTransaction) -> Result<()> {
    tx.open_table(JTIS)?;
    Ok(())
}

/// The longest an assertion may be valid for (SMART: five minutes).
pub const MAX_ASSERTION_SECONDS: u64 = 300;

/// What an access token stands for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// The registered client.
    pub client_id: String,
    /// The on-chain account its accesses are checked and logged under.
    pub account: AccountId,
    /// The scopes granted.
    pub scopes: Vec<Scope>,
    /// The purpose of use given with the token request.
    pub purpose: Purpose,
    /// When the token expires (Unix seconds).
    pub expires: u64,
}

impl Session {
    /// True if a scope granted covers `action` on resources of type `kind`.
    pub fn allows(&self, kind: &str, action: Action) -> bool {
        self.scopes.iter().any(|s| s.covers(kind, action))
    }
}

/// Reading or writing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// read, vread, search.
    Read,
    /// create, update.
    Write,
}

/// A SMART system scope: `system/<Type|*>.<read|write|*>` (v1) or `.<c|r|u|d|s letters>` (v2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    /// The resource type, or `*`.
    pub kind: String,
    /// Reads allowed (read, vread, search).
    pub read: bool,
    /// Writes allowed (create, update).
    pub write: bool,
    text: String,
}

impl Scope {
    /// Parses one scope; `None` for anything but a system scope.
    pub fn parse(text: &str) -> Option<Scope> {
        let rest = text.strip_prefix("system/")?;
        let (kind, permission) = rest.split_once('.')?;
        let kind_ok =
            kind == "*" || (kind.chars().next()?.is_ascii_uppercase() && kind.chars().all(|c| c.is_ascii_alphabetic()));
        if !kind_ok {
            return None;
        }
        let (read, write) = match permission {
            "read" => (true, false),
            "write" => (false, true),
            "*" => (true, true),
            letters if !letters.is_empty() && is_v2_permission(letters) => {
                (letters.contains('r') && letters.contains('s'), letters.contains('c') && letters.contains('u'))
            }
            _ => return None,
        };
        Some(Scope { kind: kind.to_string(), read, write, text: text.to_string() })
    }

    fn covers(&self, kind: &str, action: Action) -> bool {
        (self.kind == "*" || self.kind == kind)
            && match action {
                Action::Read => self.read,
                Action::Write => self.write,
            }
    }

    /// As written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// True if everything `self` allows, `limit` allows.
    fn within(&self, limit: &Scope) -> bool {
        (limit.kind == "*" || limit.kind == self.kind) && (!self.read || limit.read) && (!self.write || limit.write)
    }
}

/// SMART v2 permissions: some of `cruds`, in that order.
fn is_v2_permission(letters: &str) -> bool {
    let mut order = "cruds".chars();
    letters.chars().all(|c| order.by_ref().any(|o| o == c))
}

/// An HL7 v3 PurposeOfUse code (bare or as `system|code`) as a purpose.
pub fn purpose_of_use(code: &str) -> Option<Purpose> {
    let code = code.rsplit('|').next().unwrap_or(code);
    Some(match code {
        "TREAT" => Purpose::Treatment,
        "ETREAT" => Purpose::EmergencyTreatment,
        "HPAYMT" => Purpose::Payment,
        "HOPERAT" => Purpose::Operations,
        "HRESCH" => Purpose::Research,
        "PUBHLTH" => Purpose::PublicHealth,
        "PATRQT" => Purpose::PatientRequest,
        "HLEGAL" => Purpose::Legal,
        _ => return None,
    })
}

/// An OAuth error from the token endpoint (RFC 6749 §5.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenError {
    /// 400 or 401.
    pub status: u16,
    /// `invalid_request`, `invalid_client`, `invalid_grant`, `invalid_scope`, …
    pub error: &'static str,
    /// Why, in words.
    pub description: String,
}

impl TokenError {
    fn new(status: u16, error: &'static str, description: impl Into<String>) -> Self {
        Self { status, error, description: description.into() }
    }

    /// The JSON body.
    pub fn body(&self) -> Value {
        serde_json::json!({"error": self.error, "error_description": self.description})
    }
}

/// A token issued.
#[derive(Clone, Debug)]
pub struct Issued {
    /// The token.
    pub access_token: String,
    /// Seconds it lasts.
    pub expires_in: u64,
    /// The scopes granted, space-separated.
    pub scope: String,
}

/// A registered public key and its `kid`, if it has one.
type KeyWithId = (Option<String>, VerifyingKey);

/// The registered clients and the tokens issued to them.
pub struct Authority {
    clients: HashMap<String, (RegisteredClient, Vec<KeyWithId>)>,
    token_endpoint: String,
    lifetime: u64,
    tokens: RefCell<HashMap<[u8; 32], Session>>,
}

impl Authority {
    /// An authority for `clients`, whose assertions must name `token_endpoint` as audience,
    /// issuing tokens that last `lifetime` seconds.
    pub fn new(clients: &[RegisteredClient], token_endpoint: String, lifetime: u64) -> Result<Self> {
        let mut by_id = HashMap::new();
        for client in clients {
            let keys =
                jwks_keys(&client.jwks).map_err(|e| Error::Input(format!("client {}: {e}", client.client_id)))?;
            by_id.insert(client.client_id.clone(), (client.clone(), keys));
        }
        Ok(Self { clients: by_id, token_endpoint, lifetime, tokens: RefCell::default() })
    }

    /// Answers a token request (its form-encoded body) at Unix time `now`.
    pub fn token(&self, store: &Store, body: &[u8], now: u64) -> Result<Issued, TokenError> {
        let form = form(body)?;
        let field = |name: &str| form.get(name).map(String::as_str);
        if field("grant_type") != Some("client_credentials") {
            return Err(TokenError::new(400, "unsupported_grant_type", "grant_type must be client_credentials"));
        }
        if field("client_assertion_type") != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer") {
            return Err(TokenError::new(
                400,
                "invalid_request",
                "client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ));
        }
        let assertion = field("client_assertion")
            .ok_or_else(|| TokenError::new(400, "invalid_request", "client_assertion is missing"))?;
        let (client, jti, exp) = self.check_assertion(assertion, now)?;
        let purpose = match field("purpose_of_use") {
            None => Purpose::Treatment,
            Some(code) => purpose_of_use(code).ok_or_else(|| {
                TokenError::new(
                    400,
                    "invalid_request",
                    "purpose_of_use must be an HL7 PurposeOfUse code such as TREAT or ETREAT",
                )
            })?,
        };
        if !client.purposes.contains(&purpose) {
            return Err(TokenError::new(400, "invalid_scope", "this client is not registered for that purpose of use"));
        }
        let asked = field("scope").unwrap_or_default();
        let allowed: Vec<Scope> = client.scopes.iter().filter_map(|s| Scope::parse(s)).collect();
        let granted: Vec<Scope> = asked
            .split_whitespace()
            .filter_map(Scope::parse)
            .filter(|scope| allowed.iter().any(|limit| scope.within(limit)))
            .collect();
        if granted.is_empty() {
            return Err(TokenError::new(
                400,
                "invalid_scope",
                "none of the scopes asked for is granted to this client",
            ));
        }
        self.remember_jti(store, &client.client_id, jti, exp, now)?;
        let mut secret = [0u8; 32];
        getrandom::getrandom(&mut secret).map_err(|_| TokenError::new(500, "server_error", "no randomness"))?;
        let token = URL_SAFE_NO_PAD.encode(secret);
        let scope = granted.iter().map(Scope::as_str).collect::<Vec<_>>().join(" ");
        let session = Session {
            client_id: client.client_id.clone(),
            account: client.account,
            scopes: granted,
            purpose,
            expires: now + self.lifetime,
        };
        let mut tokens = self.tokens.borrow_mut();
        tokens.retain(|_, s| s.expires > now);
        tokens.insert(digest(token.as_bytes()), session);
        Ok(Issued { access_token: token, expires_in: self.lifetime, scope })
    }

    /// The session of an `Authorization: Bearer` header at Unix time `now`.
    pub fn session(&self, authorization: Option<&str>, now: u64) -> Result<Session, Refusal> {
        let token =
            authorization.and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer "))).ok_or_else(
                || Refusal::unauthenticated("an access token is needed (Authorization: Bearer …, from /auth/token)"),
            )?;
        let tokens = self.tokens.borrow();
        match tokens.get(&digest(token.trim().as_bytes())) {
            Some(session) if session.expires > now => Ok(session.clone()),
            Some(_) => Err(Refusal::unauthenticated("the access token has expired: ask /auth/token for a new one")),
            None => Err(Refusal::unauthenticated("the access token is not one this gateway issued")),
        }
    }

    fn check_assertion(&self, assertion: &str, now: u64) -> Result<(&RegisteredClient, String, u64), TokenError> {
        let invalid = |why: &str| TokenError::new(401, "invalid_client", why.to_string());
        let mut parts = assertion.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid("the client assertion is not a signed JWT"));
        };
        let decode =
            |part: &str| URL_SAFE_NO_PAD.decode(part).map_err(|_| invalid("the client assertion is not base64url"));
        let header: Value =
            serde_json::from_slice(&decode(header)?).map_err(|_| invalid("the JWT header is not JSON"))?;
        let claims: Value =
            serde_json::from_slice(&decode(payload)?).map_err(|_| invalid("the JWT claims are not JSON"))?;
        if header["alg"] != "ES384" {
            return Err(invalid("the assertion must be signed with ES384"));
        }
        let iss = claims["iss"].as_str().ok_or_else(|| invalid("the assertion has no iss"))?;
        if claims["sub"].as_str() != Some(iss) {
            return Err(invalid("the assertion's sub must be its iss (the client id)"));
        }
        let (client, keys) = self.clients.get(iss).ok_or_else(|| invalid("unknown client"))?;
        let kid = header["kid"].as_str();
        let signature = Signature::from_slice(&decode(signature)?)
            .map_err(|_| invalid("the signature is not an ES384 signature"))?;
        let signed = &assertion[..assertion.rfind('.').unwrap_or(0)];
        let verified = keys
            .iter()
            .filter(|(key_id, _)| kid.is_none() || key_id.is_none() || key_id.as_deref() == kid)
            .any(|(_, key)| key.verify(signed.as_bytes(), &signature).is_ok());
        if !verified {
            return Err(invalid("the signature does not verify with the client's registered keys"));
        }
        let audience_ok = match &claims["aud"] {
            Value::String(aud) => *aud == self.token_endpoint,
            Value::Array(auds) => auds.iter().any(|a| a.as_str() == Some(&self.token_endpoint)),
            _ => false,
        };
        if !audience_ok {
            return Err(invalid("the assertion's aud must be this gateway's token endpoint"));
        }
        let exp = claims["exp"].as_u64().ok_or_else(|| invalid("the assertion has no exp"))?;
        if exp <= now {
            return Err(invalid("the assertion has expired"));
        }
        if exp > now + MAX_ASSERTION_SECONDS {
            return Err(invalid("the assertion's exp is more than five minutes ahead"));
        }
        let jti = claims["jti"]
            .as_str()
            .filter(|j| !j.is_empty() && j.len() <= 256)
            .ok_or_else(|| invalid("the assertion has no jti"))?;
        Ok((client, jti.to_string(), exp))
    }

    /// Remembers an assertion id until it expires; refuses one seen before.
    fn remember_jti(&self, store: &Store, client: &str, jti: String, exp: u64, now: u64) -> Result<(), TokenError> {
        fn failed<E>(_: E) -> TokenError {
            TokenError::new(500, "server_error", "the gateway's store failed")
        }
        let key = digest(format!("{client}\0{jti}").as_bytes());
        let tx = store.write().map_err(failed)?;
        {
            let mut table = tx.open_table(JTIS).map_err(failed)?;
            if table.get(key).map_err(failed)?.is_some() {
                return Err(TokenError::new(401, "invalid_client", "this assertion (its jti) was used before"));
            }
            table.retain(|_, expires| expires > now).map_err(failed)?;
            table.insert(key, exp).map_err(failed)?;
        }
        tx.commit().map_err(failed)?;
        Ok(())
    }
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// A form-encoded body as fields (each once).
fn form(body: &[u8]) -> Result<HashMap<String, String>, TokenError> {
    let invalid = |why: &str| TokenError::new(400, "invalid_request", why.to_string());
    let text = std::str::from_utf8(body).map_err(|_| invalid("the body must be form-encoded UTF-8"))?;
    let mut fields = HashMap::new();
    for part in text.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = part.split_once('=').unwrap_or((part, ""));
        let key = percent_decode(key).ok_or_else(|| invalid("the body must be form-encoded UTF-8"))?;
        let value = percent_decode(value).ok_or_else(|| invalid("the body must be form-encoded UTF-8"))?;
        if fields.insert(key.clone(), value).is_some() {
            return Err(invalid(&format!("{key} is given twice")));
        }
    }
    Ok(fields)
}

/// The P-384 keys of a JWKS, with their `kid`s.
pub(crate) fn jwks_keys(jwks: &Value) -> Result<Vec<KeyWithId>, String> {
    let keys = jwks["keys"].as_array().ok_or("has no keys array")?;
    let mut out = Vec::new();
    for key in keys {
        if key["kty"] != "EC" || key["crv"] != "P-384" {
            continue;
        }
        let coordinate = |name: &str| -> Result<Vec<u8>, String> {
            let text = key[name].as_str().ok_or(format!("a P-384 key has no {name}"))?;
            let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| format!("a P-384 key's {name} is not base64url"))?;
            if bytes.len() != 48 {
                return Err(format!("a P-384 key's {name} is not 48 bytes"));
            }
            Ok(bytes)
        };
        let mut sec1 = vec![4u8];
        sec1.extend(coordinate("x")?);
        sec1.extend(coordinate("y")?);
        let verifying = VerifyingKey::from_sec1_bytes(&sec1).map_err(|_| "a P-384 key is not a point on the curve")?;
        out.push((key["kid"].as_str().map(str::to_string), verifying));
    }
    if out.is_empty() {
        return Err("holds no P-384 (ES384) key".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_scopes_v1_and_v2_are_read() {
        let read = Scope::parse("system/Observation.read").unwrap();
        assert!(read.covers("Observation", Action::Read) && !read.covers("Observation", Action::Write));
        assert!(!read.covers("Condition", Action::Read));
        let v2 = Scope::parse("system/*.rs").unwrap();
        assert!(v2.covers("Condition", Action::Read) && !v2.covers("Condition", Action::Write));
        assert!(Scope::parse("system/Observation.cu").unwrap().write);
        for bad in [
            "patient/Observation.read",
            "user/*.read",
            "system/Observation.sr",
            "system/obs.read",
            "system/*.x",
            "openid",
        ] {
            assert_eq!(Scope::parse(bad), None, "{bad}");
        }
        assert!(Scope::parse("system/Observation.rs").unwrap().within(&Scope::parse("system/*.read").unwrap()));
        assert!(!Scope::parse("system/Observation.write").unwrap().within(&Scope::parse("system/*.read").unwrap()));
    }

    #[test]
    fn purposes_of_use_are_hl7_codes() {
        assert_eq!(purpose_of_use("ETREAT"), Some(Purpose::EmergencyTreatment));
        assert_eq!(
            purpose_of_use("http://terminology.hl7.org/CodeSystem/v3-ActReason|TREAT"),
            Some(Purpose::Treatment)
        );
        assert_eq!(purpose_of_use("treatment"), None);
    }
}

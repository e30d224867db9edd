//! The canonical form of a resource version, the bytes its commitment is taken over.
//!
//! RFC 8785 (JSON Canonicalization Scheme: object keys sorted by UTF-16 code units, no
//! whitespace, ECMAScript number and string forms) applied to the resource after removing
//! what a FHIR server changes without the content changing:
//!
//! - `meta.versionId`, `meta.lastUpdated` and `meta.source` (server bookkeeping; `meta.security`,
//!   `meta.tag` and `meta.profile` stay: they change what the resource means or who may see
//!   it), and `meta` itself if nothing else is left in it;
//! - `text`, the narrative, which servers regenerate from the data.
//!
//! The same rules apply to contained resources. One consequence of RFC 8785 worth knowing:
//! numbers are compared as IEEE doubles, so `6.30` and `6.3` canonicalize alike (FHIR treats
//! the trailing zero as precision); every other change to a value changes the canonical form.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// Fields of `meta` a server maintains on its own.
const SERVER_META: &[&str] = &["versionId", "lastUpdated", "source"];

/// The canonical bytes of a resource.
pub fn bytes(resource: &Value) -> Vec<u8> {
    let mut stripped = resource.clone();
    strip(&mut stripped);
    serde_jcs::to_vec(&stripped).expect("a JSON value always serialises")
}

/// SHA-256 of the canonical bytes, and their length (what is kept locally to tell whether a
/// resource changed since it was committed).
pub fn digest(resource: &Value) -> ([u8; 32], usize) {
    let canonical = bytes(resource);
    (Sha256::digest(&canonical).into(), canonical.len())
}

fn strip(resource: &mut Value) {
    let Some(object) = resource.as_object_mut() else { return };
    object.remove("text");
    if let Some(Value::Object(meta)) = object.get_mut("meta") {
        for key in SERVER_META {
            meta.remove(*key);
        }
        if meta.is_empty() {
            object.remove("meta");
        }
    }
    if let Some(Value::Array(contained)) = object.get_mut("contained") {
        contained.iter_mut().for_each(strip);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn server_bookkeeping_and_narrative_do_not_count() {
        let a = json!({"resourceType": "Observation", "id": "1", "status": "final",
                       "meta": {"versionId": "3", "lastUpdated": "2024-01-01T00:00:00Z"},
                       "text": {"status": "generated", "div": "<div>x</div>"}});
        let b = json!({"status": "final", "id": "1", "resourceType": "Observation"});
        assert_eq!(bytes(&a), bytes(&b));
        assert_eq!(bytes(&b), br#"{"id":"1","resourceType":"Observation","status":"final"}"#);
        let labelled = json!({"resourceType": "Observation", "id": "1", "status": "final",
                              "meta": {"security": [{"code": "R"}]}});
        assert_ne!(bytes(&labelled), bytes(&b), "security labels are content");
        let changed = json!({"status": "amended", "id": "1", "resourceType": "Observation"});
        assert_ne!(digest(&changed).0, digest(&b).0);
    }

    #[test]
    fn rfc8785_numbers_and_strings() {
        // From RFC 8785 section 3.2.2 and appendix B.
        let value = json!({"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
                           "string": "\u{20ac}$\u{000F}\u{000a}A'\u{0042}\u{0022}\u{005c}\\\"/"});
        let expected = r#"{"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}"#;
        assert_eq!(String::from_utf8(serde_jcs::to_vec(&value).unwrap()).unwrap(), expected);
    }
}

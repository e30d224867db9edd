//! The canonical form of a resource version, the bytes its commitment is taken over.
//!
//! RFC 8785 (JSON Canonicalization Scheme: object keys sorted by UTF-16 code units, no
//! whitespace, ECMAScript number and string forms) applied to the resource after removing
//! what a FHIR server changes without the content changing:
//!
//! - `meta.versionId`, `meta.lastUpdated` and `meta.source` (server bookkeeping; `meta.security`,
//!   `meta.tag` and `meta.profile` stay: they change what the resource means or who may see
//!   it), and `meta` itself if nothing else is left in it;
//! - `text`, the narrative, when its status is `generated` (servers regenerate it from the
//!   data; `additional` and `extensions` narratives carry content and stay).
//!
//! The same rules apply to contained resources. The bytes are written directly from the parsed
//! tree (no copy, no intermediate values); `serde_jcs` is the reference the tests hold them to. One consequence of RFC 8785 worth knowing:
//! numbers are compared as IEEE doubles, so `6.30` and `6.3` canonicalize alike (FHIR treats
//! the trailing zero as precision); every other change to a value changes the canonical form.

use serde_json::{Map, Number, Value};
use sha2::{Digest, Sha256};

/// Fields of `meta` a server maintains on its own.
const SERVER_META: &[&str] = &["versionId", "lastUpdated", "source"];

/// The canonical bytes of a resource.
pub fn bytes(resource: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(1024);
    write(resource, &mut out);
    out
}

/// Appends the canonical bytes of a resource to `out` (no copy of the resource is made; the
/// stripped fields are skipped as the bytes are written).
pub fn write(resource: &Value, out: &mut Vec<u8>) {
    match resource {
        Value::Object(map) => object(map, out, Strip::Resource),
        other => value(other, out),
    }
}

/// SHA-256 of the canonical bytes, and their length (what is kept locally to tell whether a
/// resource changed since it was committed).
pub fn digest(resource: &Value) -> ([u8; 32], usize) {
    let canonical = bytes(resource);
    (Sha256::digest(&canonical).into(), canonical.len())
}

/// What to leave out of an object.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Strip {
    Nothing,
    /// A resource: `text`, and server bookkeeping in `meta`; contained resources likewise.
    Resource,
    /// A resource's `meta`.
    Meta,
}

fn value(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => number(n, out),
        Value::String(s) => string(s, out),
        Value::Array(items) => array(items, out, false),
        Value::Object(map) => object(map, out, Strip::Nothing),
    }
}

fn array(items: &[Value], out: &mut Vec<u8>, resources: bool) {
    out.push(b'[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        match (resources, item) {
            (true, Value::Object(map)) => object(map, out, Strip::Resource),
            _ => value(item, out),
        }
    }
    out.push(b']');
}

fn skipped(strip: Strip, key: &str, item: &Value) -> bool {
    match strip {
        Strip::Nothing => false,
        Strip::Resource => (key == "text" && is_generated(item)) || (key == "meta" && is_bookkeeping_only(item)),
        Strip::Meta => SERVER_META.contains(&key),
    }
}

/// A narrative a server generated from the data (`additional` or `extensions` narratives say
/// more than the data and are content).
fn is_generated(text: &Value) -> bool {
    text.get("status").and_then(Value::as_str) == Some("generated")
}

/// A `meta` with nothing but server bookkeeping in it.
fn is_bookkeeping_only(meta: &Value) -> bool {
    meta.as_object().is_some_and(|m| m.keys().all(|k| SERVER_META.contains(&k.as_str())))
}

fn object(map: &Map<String, Value>, out: &mut Vec<u8>, strip: Strip) {
    out.push(b'{');
    let mut first = true;
    let mut entry = |key: &String, item: &Value, out: &mut Vec<u8>| {
        if skipped(strip, key, item) {
            return;
        }
        if !first {
            out.push(b',');
        }
        first = false;
        string(key, out);
        out.push(b':');
        match (strip, key.as_str(), item) {
            (Strip::Resource, "meta", Value::Object(meta)) => object(meta, out, Strip::Meta),
            (Strip::Resource, "contained", Value::Array(items)) => array(items, out, true),
            _ => value(item, out),
        }
    };
    // RFC 8785 orders keys by UTF-16 code units. serde_json's map iterates in UTF-8 byte
    // order, which is the same for ASCII keys (all FHIR element names); anything else is
    // sorted here.
    let ordered = map.keys().all(|k| k.is_ascii()) && map.keys().zip(map.keys().skip(1)).all(|(a, b)| a < b);
    if ordered {
        for (key, item) in map {
            entry(key, item, out);
        }
    } else {
        let mut entries: Vec<(&String, &Value)> = map.iter().collect();
        entries.sort_by(|(a, _), (b, _)| a.encode_utf16().cmp(b.encode_utf16()));
        for (key, item) in entries {
            entry(key, item, out);
        }
    }
    out.push(b'}');
}

/// ECMAScript's Number.prototype.toString, as RFC 8785 requires: integers of up to 2^53
/// exactly, everything else through the shortest round-tripping double.
fn number(n: &Number, out: &mut Vec<u8>) {
    const EXACT: u64 = 1 << 53;
    if let Some(u) = n.as_u64().filter(|u| *u <= EXACT) {
        out.extend_from_slice(itoa::Buffer::new().format(u).as_bytes());
    } else if let Some(i) = n.as_i64().filter(|i| i.unsigned_abs() <= EXACT) {
        out.extend_from_slice(itoa::Buffer::new().format(i).as_bytes());
    } else {
        let f = n.as_f64().unwrap_or(0.0);
        out.extend_from_slice(ryu_js::Buffer::new().format(f).as_bytes());
    }
}

/// A JSON string as ECMAScript's JSON.stringify writes it: `"` and `\` escaped, control
/// characters as `\b \t \n \f \r` or `\u00xx`, everything else as is.
fn string(s: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..=0x1f => {
                out.extend_from_slice(&bytes[start..i]);
                out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]]);
                start = i + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(escape);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
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
        let additional = json!({"resourceType": "Observation", "id": "1", "status": "final",
                                "text": {"status": "additional", "div": "<div>more</div>"}});
        let b = json!({"status": "final", "id": "1", "resourceType": "Observation"});
        assert_eq!(bytes(&a), bytes(&b));
        assert_eq!(bytes(&b), br#"{"id":"1","resourceType":"Observation","status":"final"}"#);
        assert_ne!(bytes(&additional), bytes(&b), "an additional narrative is content");
        let labelled = json!({"resourceType": "Observation", "id": "1", "status": "final",
                              "meta": {"security": [{"code": "R"}]}});
        assert_ne!(bytes(&labelled), bytes(&b), "security labels are content");
        let changed = json!({"status": "amended", "id": "1", "resourceType": "Observation"});
        assert_ne!(digest(&changed).0, digest(&b).0);
    }

    #[test]
    // The vector is RFC 8785's own, digits it cannot hold included.
    #[allow(clippy::excessive_precision)]
    fn rfc8785_numbers_and_strings() {
        // From RFC 8785 section 3.2.2 and appendix B.
        let value = json!({"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
                           "string": "\u{20ac}$\u{000F}\u{000a}A'\u{0042}\u{0022}\u{005c}\\\"/"});
        let expected = r#"{"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}"#;
        assert_eq!(String::from_utf8(bytes(&value)).unwrap(), expected);
    }

    #[test]
    fn rfc8785_key_order_is_by_utf16_code_units() {
        // RFC 8785 section 3.2.3.
        let value = json!({"\u{20ac}": "Euro Sign", "\r": "Carriage Return", "\u{fb33}": "Hebrew Letter Dalet With Dagesh",
                           "1": "One", "\u{1f600}": "Emoji: Grinning Face", "\u{80}": "Control", "\u{f6}": "Latin Small Letter O With Diaeresis"});
        let text = String::from_utf8(bytes(&value)).unwrap();
        let positions: Vec<usize> = ["Carriage", "One", "Control", "Latin", "Euro", "Emoji", "Hebrew"].iter().map(|w| text.find(w).unwrap()).collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
    }
}

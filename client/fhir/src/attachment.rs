//! FHIR `Attachment.hash` (base64 SHA-1 of the data) and `Attachment.size` (bytes of the
//! data), computed for inline data and checked where the resource declares them.

use crate::Problem;
use base64::{
    alphabet,
    engine::{general_purpose::GeneralPurposeConfig, DecodePaddingMode, GeneralPurpose},
    Engine,
};
use serde_json::Value;
use sha1::{Digest, Sha1};

/// Base64 as found in the wild: padding optional and non-zero trailing bits accepted (some
/// implementation guides publish hashes like `C/jO…nHf=`, which strict decoders reject).
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// What was found for one attachment with inline data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// Where it is in the resource (`DocumentReference.content[0].attachment`).
    pub path: String,
    /// Bytes of decoded data.
    pub size: usize,
    /// Base64 SHA-1 of the decoded data, as `Attachment.hash` would carry it.
    pub hash: String,
}

/// Finds every attachment with inline `data` in `resource`, computes its size and hash, and
/// checks them against the declared `size` and `hash`: a mismatch is an error that says which.
pub fn check(resource: &Value, root: &str) -> Result<Vec<Checked>, Problem> {
    let mut found = Vec::new();
    walk(resource, root, &mut found)?;
    Ok(found)
}

fn walk(value: &Value, path: &str, found: &mut Vec<Checked>) -> Result<(), Problem> {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(data)) = map.get("data") {
                found.push(attachment(map, data, path)?);
            }
            for (key, item) in map {
                walk(item, &format!("{path}.{key}"), found)?;
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk(item, &format!("{path}[{i}]"), found)?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn attachment(map: &serde_json::Map<String, Value>, data: &str, path: &str) -> Result<Checked, Problem> {
    let bad = |what: String| Problem::Attachment { path: path.to_string(), what };
    let bytes = LENIENT.decode(data.trim()).map_err(|e| bad(format!("data is not base64 ({e})")))?;
    let digest = Sha1::digest(&bytes);
    let checked = Checked {
        path: path.to_string(),
        size: bytes.len(),
        hash: base64::engine::general_purpose::STANDARD.encode(digest),
    };
    if let Some(declared) = map.get("hash").and_then(Value::as_str) {
        let declared_bytes =
            LENIENT.decode(declared.trim()).map_err(|e| bad(format!("hash {declared:?} is not base64 ({e})")))?;
        if declared_bytes != digest.as_slice() {
            return Err(bad(format!(
                "hash says {declared} but the data hashes to {} (SHA-1): the data or the hash was altered",
                checked.hash
            )));
        }
    }
    if let Some(declared) = map.get("size").and_then(Value::as_u64) {
        if declared != bytes.len() as u64 {
            return Err(bad(format!("size says {declared} bytes but the data has {}", bytes.len())));
        }
    }
    Ok(checked)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hashes_are_computed_and_checked() {
        // "hello" -> SHA-1 aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d
        let good = json!({"content": [{"attachment": {"data": "aGVsbG8=", "hash": "qvTGHdzF6KLavt4PO0gs2a6pQ00=", "size": 5}}]});
        let found = check(&good, "DocumentReference").unwrap();
        assert_eq!(found[0].size, 5);
        assert_eq!(found[0].path, "DocumentReference.content[0].attachment");
        let bad_hash = json!({"data": "aGVsbG8h", "hash": "qvTGHdzF6KLavt4PO0gs2a6pQ00="});
        assert!(matches!(check(&bad_hash, "X"), Err(Problem::Attachment { .. })));
        let bad_size = json!({"data": "aGVsbG8=", "size": 6});
        assert!(matches!(check(&bad_size, "X"), Err(Problem::Attachment { what, .. }) if what.contains("size says 6")));
    }
}

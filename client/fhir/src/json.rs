//! Strict JSON: what RFC 8259 and FHIR allow, nothing more. A byte-order mark, comments and
//! duplicate keys are refused with their place (serde_json alone would take the last of two
//! duplicate keys without a word).

use crate::Problem;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

const DUPLICATE: &str = "\u{0}duplicate key:";

/// Parses `bytes` as one strict JSON value.
pub fn parse(bytes: &[u8]) -> Result<Value, Problem> {
    if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return Err(Problem::ByteOrderMark);
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let parsed = Strict::deserialize(&mut deserializer).and_then(|strict| deserializer.end().map(|_| strict.0));
    parsed.map_err(|e| {
        let message = e.to_string();
        if let Some(rest) = message.strip_prefix(DUPLICATE) {
            let key = rest.split(" at line").next().unwrap_or(rest).to_string();
            return Problem::DuplicateKey { key };
        }
        let (line, column) = (e.line(), e.column());
        if at(bytes, line, column).is_some_and(|b| b == b'/') {
            return Problem::Comments { line, column };
        }
        Problem::InvalidJson { line, column, message: e.to_string() }
    })
}

/// The byte at a 1-based line and column (where serde_json reports an error).
fn at(bytes: &[u8], line: usize, column: usize) -> Option<u8> {
    let start = bytes.split(|b| *b == b'\n').take(line.saturating_sub(1)).map(|l| l.len() + 1).sum::<usize>();
    bytes.get(start + column.saturating_sub(1)).copied()
}

struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(v).map(Value::Number).ok_or_else(|| E::custom("a number JSON cannot hold"))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let Strict(value) = map.next_value()?;
            match object.entry(key) {
                serde_json::map::Entry::Vacant(slot) => {
                    slot.insert(value);
                }
                serde_json::map::Entry::Occupied(slot) => {
                    return Err(de::Error::custom(format!("{DUPLICATE}{}", slot.key())));
                }
            }
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_json() {
        assert_eq!(parse(br#"{"a":1}"#).unwrap()["a"], 1);
        assert_eq!(parse(b"\xEF\xBB\xBF{}"), Err(Problem::ByteOrderMark));
        assert_eq!(parse(b"{\n  // note\n  \"a\": 1}"), Err(Problem::Comments { line: 2, column: 3 }));
        assert_eq!(parse(br#"{"a":1,"a":2}"#), Err(Problem::DuplicateKey { key: "a".into() }));
        assert!(matches!(parse(br#"{"a":[1}"#), Err(Problem::InvalidJson { line: 1, .. })));
        assert!(matches!(parse(br#"{"a":1} x"#), Err(Problem::InvalidJson { .. })));
    }
}

//! `_elements` and `_summary=data`: what a reader asked to be left out of a resource it may
//! read. The full resource is verified against its commitment first; the subset is made from
//! its text afterwards (each element kept byte for byte, so a decimal keeps its digits), and
//! is tagged `SUBSETTED` as FHIR asks. `_summary=true` and `text` need the R4 summary flags and
//! `count` a count of what the reader may see: those are refused.

use super::outcome::Refusal;
use serde_json::value::RawValue;
use std::collections::BTreeMap;

/// What to keep of each resource served.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Subset {
    /// `_elements`: only these top-level elements (and `resourceType`, `id`, `meta`).
    pub elements: Option<Vec<String>>,
    /// `_summary=data`: everything but the narrative (`text`).
    pub without_text: bool,
}

impl Subset {
    /// The subset a query string asks for.
    pub fn of_query(query: Option<&str>) -> Result<Subset, Refusal> {
        let mut subset = Subset::default();
        for (key, value) in super::request::query_pairs(query.unwrap_or_default())? {
            match key.as_str() {
                "_elements" => {
                    let names: Vec<String> = value.split(',').map(str::trim).map(str::to_string).collect();
                    let valid = |n: &String| {
                        n.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                            && n.chars().all(|c| c.is_ascii_alphanumeric())
                            && n.len() <= 64
                    };
                    if names.is_empty() || names.len() > 64 || !names.iter().all(valid) {
                        return Err(Refusal::bad_request("_elements wants element names, comma-separated"));
                    }
                    subset.elements = Some(names);
                }
                "_summary" => match value.as_str() {
                    "false" => {}
                    "data" => subset.without_text = true,
                    _ => {
                        return Err(Refusal::bad_request(
                            "_summary=true, text and count are not supported: use _summary=data or _elements",
                        ))
                    }
                },
                _ => {}
            }
        }
        Ok(subset)
    }

    /// The query parameters that ask for this subset (`&…`, or nothing), for links.
    pub fn query(&self) -> String {
        let mut out = String::new();
        if let Some(names) = &self.elements {
            out.push_str(&format!("&_elements={}", names.join(",")));
        }
        if self.without_text {
            out.push_str("&_summary=data");
        }
        out
    }

    /// True if nothing is left out.
    pub fn is_full(&self) -> bool {
        self.elements.is_none() && !self.without_text
    }

    /// The subset of a resource's text (already verified).
    pub fn apply(&self, resource: &[u8]) -> Result<Vec<u8>, Refusal> {
        if self.is_full() {
            return Ok(resource.to_vec());
        }
        let unreadable =
            || Refusal::bad_upstream("invalid", "the FHIR server served a resource that is not a JSON object");
        let text = std::str::from_utf8(resource).map_err(|_| unreadable())?;
        let elements: BTreeMap<&str, &RawValue> = serde_json::from_str(text).map_err(|_| unreadable())?;
        let always = ["resourceType", "id", "meta"];
        let keep = |name: &str| match &self.elements {
            Some(wanted) => always.contains(&name) || wanted.iter().any(|w| w == name),
            None => !(self.without_text && name == "text"),
        };
        let mut meta: serde_json::Value = match elements.get("meta") {
            Some(raw) => serde_json::from_str(raw.get()).map_err(|_| unreadable())?,
            None => serde_json::json!({}),
        };
        let tag = serde_json::json!({"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "SUBSETTED"});
        match meta.get_mut("tag").and_then(|t| t.as_array_mut()) {
            Some(tags) => tags.push(tag),
            None => meta["tag"] = serde_json::json!([tag]),
        }
        let meta = serde_json::to_string(&meta).map_err(|_| unreadable())?;
        // resourceType first, as FHIR JSON writes it; then the rest.
        let mut out = String::from("{");
        let mut first = true;
        let mut write = |name: &str, value: &str| {
            if !first {
                out.push(',');
            }
            first = false;
            out.push_str(&serde_json::to_string(name).expect("a string serialises"));
            out.push(':');
            out.push_str(value);
        };
        if let Some(kind) = elements.get("resourceType") {
            write("resourceType", kind.get());
        }
        write("meta", &meta);
        for (name, value) in &elements {
            if *name != "resourceType" && *name != "meta" && keep(name) {
                write(name, value.get());
            }
        }
        out.push('}');
        Ok(out.into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subset_keeps_what_was_asked_byte_for_byte_and_says_so() {
        let resource = br#"{"resourceType":"Observation","id":"o1","meta":{"versionId":"2"},"text":{"status":"generated","div":"<div/>"},"status":"final","valueQuantity":{"value":6.30,"unit":"g/dL"},"subject":{"reference":"Patient/p1"}}"#;
        let elements = Subset::of_query(Some("_elements=status,valueQuantity")).unwrap();
        let out: serde_json::Value = serde_json::from_slice(&elements.apply(resource).unwrap()).unwrap();
        let keys: Vec<&str> = out.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys.len(), 5, "{keys:?}");
        assert!(out.get("subject").is_none() && out.get("text").is_none());
        assert_eq!(out["meta"]["tag"][0]["code"], "SUBSETTED");
        assert!(
            String::from_utf8(elements.apply(resource).unwrap()).unwrap().contains(r#""value":6.30"#),
            "digits kept"
        );
        let data = Subset::of_query(Some("_summary=data")).unwrap().apply(resource).unwrap();
        let data: serde_json::Value = serde_json::from_slice(&data).unwrap();
        assert!(data.get("text").is_none() && data.get("subject").is_some());
        assert!(Subset::of_query(Some("_summary=false")).unwrap().is_full());
        for refused in ["_summary=true", "_summary=count", "_elements=a.b", "_elements="] {
            assert_eq!(Subset::of_query(Some(refused)).unwrap_err().status, 400, "{refused}");
        }
    }
}

//! `_elements` and `_summary`: what a reader asked to be left out of a resource it may read.
//! The full resource is verified against its commitment first; the subset is made from its
//! text afterwards (each element kept byte for byte, so a decimal keeps its digits), and is
//! tagged `SUBSETTED` as FHIR asks. `_summary=true` keeps the elements R4 marks `isSummary`,
//! `_summary=text` the narrative and the mandatory elements (`min` ≥ 1), both read from
//! `summary-r4.json` (derived from HL7's R4 StructureDefinitions: see `SOURCES.md` here);
//! `_summary=count` would need a count of what the reader may see, and is refused.

use super::outcome::Refusal;
use serde_json::value::RawValue;
use std::{
    collections::{BTreeMap, HashMap},
    sync::OnceLock,
};

/// What to keep of each resource served.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Subset {
    /// `_elements`: only these top-level elements (and `resourceType`, `id`, `meta`).
    pub elements: Option<Vec<String>>,
    /// `_summary=data`: everything but the narrative (`text`).
    pub without_text: bool,
    /// `_summary=true` or `text`: the elements R4 says.
    pub summary: Option<Summary>,
}

/// The `_summary` modes that keep what R4's definition of the resource type marks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Summary {
    /// `_summary=true`: the elements marked `isSummary`.
    True,
    /// `_summary=text`: the narrative, `id`, `meta` and the mandatory elements.
    Text,
}

/// The top-level elements of one resource type: those R4 marks `isSummary`, and the
/// mandatory ones. A choice element is written `value[x]`.
#[derive(serde::Deserialize)]
struct Marked {
    summary: Vec<String>,
    mandatory: Vec<String>,
}

/// R4's marks for the resource types the gateway serves.
fn marked(kind: &str) -> Option<&'static Marked> {
    static TABLE: OnceLock<HashMap<String, Marked>> = OnceLock::new();
    TABLE
        .get_or_init(|| serde_json::from_str(include_str!("summary-r4.json")).expect("summary-r4.json is valid"))
        .get(kind)
}

/// True if the JSON element `name` is the element `defined` (`value[x]`: `valueQuantity`, …).
fn is_element(name: &str, defined: &str) -> bool {
    match defined.strip_suffix("[x]") {
        Some(stem) => name.strip_prefix(stem).is_some_and(|kind| kind.starts_with(|c: char| c.is_ascii_uppercase())),
        None => name == defined,
    }
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
                    "true" => subset.summary = Some(Summary::True),
                    "text" => subset.summary = Some(Summary::Text),
                    "count" => return Err(Refusal::bad_request(
                        "_summary=count is not supported: a count would have to leave out what the reader may not see",
                    )),
                    _ => return Err(Refusal::bad_request("_summary is one of true, text, data, count, false")),
                },
                _ => {}
            }
        }
        if subset.summary.is_some() && subset.elements.is_some() {
            return Err(Refusal::bad_request("_summary=true or text and _elements cannot be combined"));
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
        match self.summary {
            Some(Summary::True) => out.push_str("&_summary=true"),
            Some(Summary::Text) => out.push_str("&_summary=text"),
            None => {}
        }
        out
    }

    /// True if nothing is left out.
    pub fn is_full(&self) -> bool {
        self.elements.is_none() && !self.without_text && self.summary.is_none()
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
        let kind: Option<String> = elements.get("resourceType").and_then(|raw| serde_json::from_str(raw.get()).ok());
        let marks = match self.summary {
            Some(_) => Some(kind.as_deref().and_then(marked).ok_or_else(|| {
                Refusal::bad_request("_summary=true and text are known for the resource types the gateway serves only")
            })?),
            None => None,
        };
        let keep = |name: &str| {
            // A primitive's extensions (`_status`) go with it.
            let name = name.strip_prefix('_').unwrap_or(name);
            // A modifier extension can change what the rest means: never left out of a summary.
            if always.contains(&name) || (self.summary.is_some() && name == "modifierExtension") {
                return true;
            }
            match (&self.elements, self.summary, marks) {
                (Some(wanted), ..) => wanted.iter().any(|w| w == name),
                (None, Some(Summary::True), Some(marks)) => marks.summary.iter().any(|d| is_element(name, d)),
                (None, Some(Summary::Text), Some(marks)) => {
                    name == "text" || marks.mandatory.iter().any(|d| is_element(name, d))
                }
                _ => !(self.without_text && name == "text"),
            }
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
        for refused in ["_summary=count", "_summary=yes", "_elements=a.b", "_elements=", "_summary=true&_elements=id"] {
            assert_eq!(Subset::of_query(Some(refused)).unwrap_err().status, 400, "{refused}");
        }
    }

    #[test]
    fn summaries_keep_what_r4_marks() {
        let resource = br#"{"resourceType":"Observation","id":"o1","meta":{"versionId":"2"},"text":{"status":"generated","div":"<div/>"},"status":"final","code":{"text":"Hb"},"valueQuantity":{"value":6.30,"unit":"g/dL"},"subject":{"reference":"Patient/p1"},"note":[{"text":"haemolysed"}],"interpretation":[{"text":"L"}],"valueless":1}"#;
        let keys = |query: &str| -> Vec<String> {
            let out = Subset::of_query(Some(query)).unwrap().apply(resource).unwrap();
            let out: serde_json::Value = serde_json::from_slice(&out).unwrap();
            assert_eq!(out["meta"]["tag"][0]["code"], "SUBSETTED");
            out.as_object().unwrap().keys().cloned().collect()
        };
        // value[x] is a summary element (valueQuantity), `note` and `interpretation` are not,
        // and `valueless` is not a value[x] choice.
        assert_eq!(keys("_summary=true"), ["code", "id", "meta", "resourceType", "status", "subject", "valueQuantity"]);
        assert!(String::from_utf8(Subset::of_query(Some("_summary=true")).unwrap().apply(resource).unwrap())
            .unwrap()
            .contains(r#""value":6.30"#));
        // Observation's mandatory elements: status and code.
        assert_eq!(keys("_summary=text"), ["code", "id", "meta", "resourceType", "status", "text"]);
        // A kept primitive keeps its extensions (`_status`); a modifier extension is never cut.
        let extended = br#"{"resourceType":"Observation","id":"o1","status":"final","_status":{"extension":[{"url":"u","valueString":"v"}]},"_issued":{"id":"i"},"modifierExtension":[{"url":"m","valueBoolean":true}],"code":{"text":"Hb"}}"#;
        let out = Subset::of_query(Some("_summary=true")).unwrap().apply(extended).unwrap();
        let out: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert!(out.get("_status").is_some() && out.get("modifierExtension").is_some(), "{out}");
        let cut = Subset::of_query(Some("_summary=text")).unwrap().apply(extended).unwrap();
        let cut: serde_json::Value = serde_json::from_slice(&cut).unwrap();
        assert!(cut.get("_issued").is_none() && cut.get("_status").is_some(), "{cut}");
        let organization = br#"{"resourceType":"Organization","id":"x","name":"Ward 4"}"#;
        let summary = Subset::of_query(Some("_summary=true")).unwrap();
        assert_eq!(summary.apply(organization).unwrap_err().status, 400);
        assert_eq!(summary.query(), "&_summary=true");
        assert!(!summary.is_full());
    }

    #[test]
    fn every_served_type_has_r4s_marks() {
        for kind in super::super::request::SERVED_TYPES {
            let marks = marked(kind).unwrap_or_else(|| panic!("{kind}"));
            assert!(["id", "meta", "implicitRules"].iter().all(|e| marks.summary.iter().any(|s| s == e)), "{kind}");
        }
        assert!(is_element("effectiveDateTime", "effective[x]") && !is_element("effective", "effective[x]"));
    }
}

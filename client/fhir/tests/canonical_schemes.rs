//! The canonical form's schemes: V1 kept exactly (what was committed under it still
//! verifies), V2 held to a reference (serde_jcs, RFC 8785's reference implementation, with
//! the numbers put back as the text writes them) on every fixture resource, and V2's scanner
//! held to the strict parser: it refuses what `json::parse` refuses, nothing more.

use custodia_fhir::{
    canonical::{self, Scheme},
    json, Problem,
};
use serde_json::Value;
use std::path::PathBuf;

/// The fixtures: `$CUSTODIA_FHIR_FIXTURES`, else the ones kept in the repository.
fn fixtures(category: &str) -> Vec<PathBuf> {
    let root = std::env::var_os("CUSTODIA_FHIR_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/fhir"));
    let folder = root.join(category);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
        .unwrap_or_else(|e| panic!("{}: {e}; set CUSTODIA_FHIR_FIXTURES", folder.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no fixtures in {}", folder.display());
    files
}

/// The JSON text of every resource of every valid fixture: a file's, or each Bundle entry's.
fn resource_texts() -> Vec<(String, Vec<u8>)> {
    let mut texts = Vec::new();
    for category in ["bundles", "documentreference", "consent", "auditevent", "provenance"] {
        for path in fixtures(category) {
            let bytes = std::fs::read(&path).unwrap();
            let value = json::parse(&bytes).unwrap();
            if value["resourceType"] == "Bundle" {
                for (i, range) in json::entry_resources(&bytes).unwrap().into_iter().enumerate() {
                    let range = range.unwrap_or_else(|| panic!("{} entry {i} has a resource", path.display()));
                    texts.push((format!("{} entry {i}", path.display()), bytes[range].to_vec()));
                }
            } else {
                texts.push((path.display().to_string(), bytes));
            }
        }
    }
    assert!(texts.len() > 1000, "{}", texts.len());
    texts
}

fn v2(json: &str) -> String {
    String::from_utf8(canonical::bytes_with(Scheme::V2, json.as_bytes()).unwrap()).unwrap()
}

fn v1(json: &str) -> String {
    String::from_utf8(canonical::bytes_with(Scheme::V1, json.as_bytes()).unwrap()).unwrap()
}

#[test]
fn scheme_codes_are_stable() {
    assert_eq!(Scheme::V1.code(), 1);
    assert_eq!(Scheme::V2.code(), 2);
    assert_eq!(Scheme::CURRENT, Scheme::V2);
    for scheme in Scheme::ALL {
        assert_eq!(Scheme::from_code(scheme.code()), Some(scheme));
    }
    assert_eq!(Scheme::from_code(0), None);
    assert_eq!(Scheme::from_code(3), None);
}

/// One resource with everything the schemes treat differently.
const MIXED: &str = r##"{"resourceType":"Observation","id":"o1",
    "meta":{"versionId":"3","lastUpdated":"2024-01-01T00:00:00Z","source":"#s","profile":["http://x/p"]},
    "text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">K 6.30</div>"},
    "status":"final","code":{"text":"K"},"valueQuantity":{"value":6.30,"unit":"mmol/L"},
    "component":[{"valueInteger":9007199254740993},{"valueQuantity":{"value":1E2}},{"valueQuantity":{"value":-0.0}}],
    "note":[{"text":"\u00e9\/é\t"}]}"##;

#[test]
fn v1_is_what_it_always_was() {
    // The bytes the canonical writer produced before the schemes (commit d05e042), by both
    // ways in: the parsed value, and the text.
    let expected = r#"{"code":{"text":"K"},"component":[{"valueInteger":9007199254740992},{"valueQuantity":{"value":100}},{"valueQuantity":{"value":0}}],"id":"o1","meta":{"profile":["http://x/p"]},"note":[{"text":"é/é\t"}],"resourceType":"Observation","status":"final","valueQuantity":{"unit":"mmol/L","value":6.3}}"#;
    assert_eq!(String::from_utf8(canonical::bytes(&json::parse(MIXED.as_bytes()).unwrap())).unwrap(), expected);
    assert_eq!(v1(MIXED), expected);
    let (digest, length) = canonical::digest(&json::parse(MIXED.as_bytes()).unwrap());
    assert_eq!(canonical::digest_with(Scheme::V1, MIXED.as_bytes()).unwrap(), (digest, length));
}

#[test]
fn v2_keeps_narrative_and_numbers_as_written() {
    let expected = r#"{"code":{"text":"K"},"component":[{"valueInteger":9007199254740993},{"valueQuantity":{"value":1E2}},{"valueQuantity":{"value":-0.0}}],"id":"o1","meta":{"profile":["http://x/p"]},"note":[{"text":"é/é\t"}],"resourceType":"Observation","status":"final","text":{"div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">K 6.30</div>","status":"generated"},"valueQuantity":{"unit":"mmol/L","value":6.30}}"#;
    assert_eq!(v2(MIXED), expected);
    let (digest, length) = canonical::digest_with(Scheme::V2, MIXED.as_bytes()).unwrap();
    assert_eq!(length, expected.len());
    assert_eq!(digest, <[u8; 32]>::from(<sha2::Sha256 as sha2::Digest>::digest(expected.as_bytes())));
    // An exponent's form is the writer's choice of precision too: kept.
    assert_ne!(v2(r#"{"a":1E2}"#), v2(r#"{"a":100}"#));
    assert_ne!(v2(r#"{"a":1e2}"#), v2(r#"{"a":1E2}"#));
    // Only a resource's meta loses bookkeeping, only a resource's contained are resources.
    assert_eq!(v2(r#"{"a":{"meta":{"versionId":"1"}}}"#), r#"{"a":{"meta":{"versionId":"1"}}}"#);
    assert_eq!(v2(r#"{"meta":{}}"#), "{}");
    assert_eq!(v2(r#"{"meta":"x"}"#), r#"{"meta":"x"}"#);
    assert_eq!(v2(r#"{"meta":[{"versionId":"1"}]}"#), r#"{"meta":[{"versionId":"1"}]}"#);
    assert_eq!(v2(r#"{"contained":[{"meta":{"versionId":"1"},"id":"c"},2]}"#), r#"{"contained":[{"id":"c"},2]}"#);
    assert_eq!(
        v2(r#"{"contained":[{"contained":[{"meta":{"source":"s","tag":[{"code":"t"}]}}]}]}"#),
        r#"{"contained":[{"contained":[{"meta":{"tag":[{"code":"t"}]}}]}]}"#
    );
    assert_eq!(
        v2(r#"{"x":{"contained":[{"meta":{"versionId":"1"}}]}}"#),
        r#"{"x":{"contained":[{"meta":{"versionId":"1"}}]}}"#
    );
    // Not a resource: written as is.
    assert_eq!(v2(" [ 1.50 , \"\\u0041\" , true , null ] "), r#"[1.50,"A",true,null]"#);
    assert_eq!(v2("-1.0e-7"), "-1.0e-7");
}

#[test]
// The vector is RFC 8785's own, digits it cannot hold included.
#[allow(clippy::excessive_precision)]
fn v2_is_rfc8785_but_for_numbers() {
    // RFC 8785 section 3.2.2 and appendix B: strings and key order as the RFC says, numbers
    // as written (the RFC would write 333333333.3333333, 1e+30, 4.5, 0.002, 1e-27).
    let text = r#"{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],"string":"\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/"}"#;
    let expected = r#"{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],"string":"€$\u000f\nA'B\"\\\\\"/"}"#;
    assert_eq!(v2(text), expected);
    // Section 3.2.3: keys by UTF-16 code units (U+1F600 is a surrogate pair, before U+FB33).
    let keys = "{\"\u{20ac}\":\"Euro Sign\",\"\\r\":\"Carriage Return\",\"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\",\"1\":\"One\",\"\u{1f600}\":\"Emoji: Grinning Face\",\"\u{80}\":\"Control\",\"\u{f6}\":\"Latin Small Letter O With Diaeresis\"}";
    let written = v2(keys);
    let positions: Vec<usize> = ["Carriage", "One", "Control", "Latin", "Euro", "Emoji", "Hebrew"]
        .iter()
        .map(|w| written.find(w).unwrap())
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{written}");
    assert_eq!(written, v1(keys), "no numbers, no meta: the schemes agree");
    // Escaped keys sort by what they decode to.
    assert_eq!(v2(r#"{"b":1,"\u0061":2,"\u00e9":3,"z":4}"#), r#"{"a":2,"b":1,"z":4,"é":3}"#);
}

/// `resource` without what a server changes on its own (scheme V2's rules).
fn strip_v2(resource: &mut Value) {
    let Some(object) = resource.as_object_mut() else { return };
    if let Some(Value::Object(meta)) = object.get_mut("meta") {
        for key in ["versionId", "lastUpdated", "source"] {
            meta.remove(key);
        }
        if meta.is_empty() {
            object.remove("meta");
        }
    }
    if let Some(Value::Array(contained)) = object.get_mut("contained") {
        contained.iter_mut().for_each(strip_v2);
    }
}

/// Where the numbers are in JSON text (outside strings).
fn numbers(text: &[u8]) -> Vec<std::ops::Range<usize>> {
    let (mut found, mut i) = (Vec::new(), 0);
    while i < text.len() {
        match text[i] {
            b'"' => {
                i += 1;
                while text[i] != b'"' {
                    i += if text[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i < text.len() && matches!(text[i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') {
                    i += 1;
                }
                found.push(start..i);
            }
            _ => i += 1,
        }
    }
    found
}

/// Scheme V2 the slow, obvious way: each number replaced by a marker string, serde_jcs over
/// the stripped resource, the markers replaced by the numbers as written.
fn reference_v2(text: &[u8]) -> String {
    let spans = numbers(text);
    let mut marked = Vec::with_capacity(text.len());
    let mut at = 0;
    for (i, span) in spans.iter().enumerate() {
        marked.extend_from_slice(&text[at..span.start]);
        marked.extend_from_slice(format!("\"\\u0000#{i}\"").as_bytes());
        at = span.end;
    }
    marked.extend_from_slice(&text[at..]);
    let mut value: Value = serde_json::from_slice(&marked).unwrap();
    strip_v2(&mut value);
    let mut written = serde_jcs::to_string(&value).unwrap();
    for (i, span) in spans.iter().enumerate().rev() {
        written = written.replace(&format!("\"\\u0000#{i}\""), std::str::from_utf8(&text[span.clone()]).unwrap());
    }
    written
}

#[test]
fn v2_agrees_with_the_reference_on_every_fixture_resource() {
    let (mut differ_from_v1, mut numbers_as_written) = (0, 0);
    for (name, text) in resource_texts() {
        let written = canonical::bytes_with(Scheme::V2, &text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let written = String::from_utf8(written).unwrap();
        assert_eq!(written, reference_v2(&text), "{name}");
        // The canonical form is canonical: written again, it stays.
        assert_eq!(v2(&written), written, "{name}");
        // It says what the resource says.
        let mut value = json::parse(&text).unwrap();
        strip_v2(&mut value);
        assert_eq!(json::parse(written.as_bytes()).unwrap(), value, "{name}");
        differ_from_v1 += usize::from(written.as_bytes() != canonical::bytes_with(Scheme::V1, &text).unwrap());
        let ecmascript = serde_jcs::to_string(&value).unwrap();
        numbers_as_written += usize::from(written != ecmascript);
    }
    // Some fixture resources have a generated narrative, some a number with a trailing zero.
    assert!(differ_from_v1 > 0 && numbers_as_written > 0, "{differ_from_v1} {numbers_as_written}");
}

#[test]
fn v1_by_the_text_is_v1_by_the_value_on_every_fixture_resource() {
    for (name, text) in resource_texts() {
        let value = json::parse(&text).unwrap();
        assert_eq!(canonical::bytes_with(Scheme::V1, &text).unwrap(), canonical::bytes(&value), "{name}");
    }
}

#[test]
fn entry_resources_are_the_entries_resources() {
    for path in fixtures("bundles") {
        let bytes = std::fs::read(&path).unwrap();
        let value = json::parse(&bytes).unwrap();
        let entries = value["entry"].as_array().unwrap();
        let found = json::entry_resources(&bytes).unwrap();
        assert_eq!(found.len(), entries.len(), "{}", path.display());
        for (entry, range) in entries.iter().zip(found) {
            assert_eq!(json::parse(&bytes[range.unwrap()]).unwrap(), entry["resource"], "{}", path.display());
        }
    }
    let bundle = br#" { "type" : "collection", "entr\u0079" : [ {"fullUrl":"urn:uuid:a"}, { "resource" : {"id":"x"} , "search":{"score":1}}, 7 ], "resourceType":"Bundle" } "#;
    let found = json::entry_resources(bundle).unwrap();
    assert_eq!(found.len(), 3);
    assert_eq!((found[0].clone(), found[2].clone()), (None, None));
    assert_eq!(&bundle[found[1].clone().unwrap()], br#"{"id":"x"}"#);
    assert_eq!(json::entry_resources(br#"{"resourceType":"Patient","id":"p"}"#).unwrap(), vec![]);
    assert_eq!(json::entry_resources(b"[1,2]").unwrap(), vec![]);
    assert!(matches!(json::entry_resources(br#"{"entry":[],"entry":[]}"#), Err(Problem::DuplicateKey { .. })));
    assert!(matches!(
        json::entry_resources(br#"{"entry":[{"resource":{},"resource":{}}]}"#),
        Err(Problem::DuplicateKey { .. })
    ));
    assert!(json::entry_resources(br#"{"entry":[{"resource":{}}]"#).is_err());
}

/// The strict parser and scheme V2 accept and refuse alike; with `in_kind`, refusals with a
/// kind of their own (byte-order mark, comments, duplicate keys) alike in kind (a text with two
/// faults may be refused for either).
fn agree(text: &[u8], in_kind: bool) {
    let parsed = json::parse(text);
    let written = canonical::bytes_with(Scheme::V2, text);
    let shown = String::from_utf8_lossy(text);
    match (&parsed, &written) {
        (Ok(value), Ok(written)) => {
            // What was written says what the text says, and is canonical.
            let mut value = value.clone();
            strip_v2(&mut value);
            assert_eq!(json::parse(written).as_ref(), Ok(&value), "{shown:?}");
            assert_eq!(canonical::bytes_with(Scheme::V2, written).as_ref(), Ok(written), "{shown:?}");
        }
        (Err(a), Err(b)) => {
            let kind = |p: &Problem| match p {
                Problem::ByteOrderMark => 1,
                Problem::Comments { .. } => 2,
                Problem::DuplicateKey { .. } => 3,
                _ => 0,
            };
            if in_kind && kind(a) != kind(b) {
                panic!("{shown:?}: parse says {a:?}, V2 says {b:?}");
            }
        }
        _ => panic!("{shown:?}: parse says {parsed:?}, V2 says {written:?}"),
    }
    // What is in a Bundle entry is where the parser saw it.
    if let Ok(value) = parsed {
        let found = json::entry_resources(text).unwrap_or_else(|e| panic!("{shown:?}: {e}"));
        if let Some(entries) = value.get("entry").and_then(Value::as_array) {
            assert_eq!(found.len(), entries.len(), "{shown:?}");
        }
    }
}

#[test]
fn v2_refuses_what_the_strict_parser_refuses() {
    let cases: &[&[u8]] = &[
        b"",
        b" ",
        b"{",
        b"}",
        b"{}",
        b"[]",
        b"[",
        b"]",
        b"{} {}",
        b"{}x",
        b"{} ",
        b"\n{}\n",
        b"\xEF\xBB\xBF{}",
        b"{\n  // note\n  \"a\": 1}",
        b"/* c */ {}",
        b"{\"a\":1 /* c */}",
        br#"{"a":1,"a":2}"#,
        br#"{"a":1,"\u0061":2}"#,
        br#"{"b":{"x":1,"x":1},"a":0}"#,
        br#"{"meta":{"versionId":"1","versionId":"2"}}"#,
        br#"{"a":1,}"#,
        br#"{"a" 1}"#,
        br#"{a:1}"#,
        br#"{'a':1}"#,
        br#"{"a":1"b":2}"#,
        b"[1,]",
        b"[,1]",
        b"[1 2]",
        br#"{"a":}"#,
        br#"{,}"#,
        b"01",
        b"-",
        b"-01",
        b"1.",
        b".5",
        b"+1",
        b"1e",
        b"1e+",
        b"1E-",
        b"0x10",
        b"1.5e3",
        b"-0",
        b"-0.0e-0",
        b"1e400",
        b"-1e400",
        b"1e-400",
        b"0e999",
        b"NaN",
        b"Infinity",
        b"-Infinity",
        b"tru",
        b"true",
        b"truex",
        b"nul",
        b"null",
        b"False",
        br#""\x""#,
        br#""\u12""#,
        br#""\u12G4""#,
        br#""\ud800""#,
        br#""\udc00""#,
        br#""\ud800\u0041""#,
        br#""\ud83d\ude00""#,
        br#""\ud83d\""#,
        b"\"\x01\"",
        b"\"\x1f\"",
        b"\"\x7f\"",
        b"\"tab\there\"",
        b"\"\xC3\xA9\"",
        b"\"\xC3\"",
        b"\"\xFF\"",
        b"\xFF",
        b"\"\xED\xA0\x80\"",
        b"\"unterminated",
        b"\"\\",
        b"[\"a\"",
        b"{\"a\"",
        b"{\"a\":",
        b"\x0c{}",
        b"\x00{}",
        b"{}\x00",
        "{\"\u{2028}\":\"\u{2028}\"}".as_bytes(),
    ];
    for case in cases {
        agree(case, true);
    }
    // serde_json's nesting limit.
    for depth in [126, 127, 128, 129] {
        agree(format!("{}{}", "[".repeat(depth), "]".repeat(depth)).as_bytes(), true);
        agree(format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth)).as_bytes(), true);
    }
    for path in fixtures("invalid") {
        agree(&std::fs::read(&path).unwrap(), true);
    }
}

#[test]
fn v2_refuses_what_the_strict_parser_refuses_in_mutated_fixtures() {
    // Bytes that matter to JSON, put anywhere, removed, or doubled.
    const BYTES: &[u8] = b"{}[],:\"\\/ \n\t0159-+.eEtfnlu\x00\x1f\x7f\xc3\xa9\xff\xed";
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut random = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let mut sources: Vec<Vec<u8>> = Vec::new();
    for category in ["consent", "provenance", "auditevent"] {
        sources.extend(fixtures(category).iter().map(|p| std::fs::read(p).unwrap()));
    }
    sources.push(br##"{"resourceType":"Parameters","meta":{"versionId":"1","source":"#x"},"parameter":[{"name":"a","valueDecimal":-6.30e-2},{"name":"b","valueString":"\u00e9\"\/\ud83d\ude00"}],"contained":[{"resourceType":"Basic","id":"b","meta":{"lastUpdated":"2024-01-01"}}]}"##.to_vec());
    let mut accepted = 0;
    for round in 0..6000 {
        let mut text = sources[round % sources.len()].clone();
        for _ in 0..1 + random(3) {
            let at = random(text.len() + 1);
            match random(3) {
                0 if at < text.len() => text[at] = BYTES[random(BYTES.len())],
                1 if at < text.len() => {
                    text.remove(at);
                }
                _ => text.insert(at, BYTES[random(BYTES.len())]),
            }
        }
        agree(&text, false);
        accepted += usize::from(json::parse(&text).is_ok());
    }
    // Both sides of the line were tried.
    assert!(accepted > 300 && accepted < 5700, "{accepted}");
}

#[test]
fn v2_writes_nothing_on_an_error() {
    let mut out = b"kept".to_vec();
    assert!(canonical::write_with(Scheme::V2, br#"{"b":[1,2,{"c":"d"}],"a":"#, &mut out).is_err());
    assert_eq!(out, b"kept");
    assert!(canonical::write_with(Scheme::V2, br#"{"z":{"y":1},"a":2,"z":3}"#, &mut out).is_err());
    assert_eq!(out, b"kept");
    canonical::write_with(Scheme::V2, br#"{"b":1,"a":2}"#, &mut out).unwrap();
    assert_eq!(out, br#"kept{"a":2,"b":1}"#);
}

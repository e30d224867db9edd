//! The canonical form of a resource version, the bytes its commitment is taken over.
//!
//! A commitment records the [`Scheme`] its canonical form was taken under ([`Scheme::code`]),
//! and is verified under that scheme: new commitments are made under [`Scheme::CURRENT`]
//! (V2); [`Scheme::V1`] is kept, unchanged, only so that versions committed under it still
//! verify.
//!
//! # Scheme V2
//!
//! RFC 8785 (JSON Canonicalization Scheme: object keys sorted by UTF-16 code units, no
//! whitespace, strings as ECMAScript's `JSON.stringify` writes them), with one departure (the
//! numbers, below), applied to the resource's JSON text after removing what a FHIR server
//! changes without the content changing:
//!
//! - `meta.versionId`, `meta.lastUpdated` and `meta.source` (server bookkeeping; `meta.security`,
//!   `meta.tag` and `meta.profile` stay: they change what the resource means or who may see
//!   it), and `meta` itself if nothing else is left in it.
//!
//! The same rule applies to contained resources. Everything else a server keeps counts: the
//! narrative (`text`) whatever its status (a `generated` narrative is what a reader sees, and a
//! server keeps it as it was given: a record whose narrative was changed to "No known
//! allergies" must not verify), the order of array elements, every character of every string
//! (`\u00e9` and `é` are one character, written `é`), and every digit of every number.
//! Key order, whitespace and how a character is escaped do not count.
//!
//! ## Where it departs from RFC 8785, and why
//!
//! RFC 8785 writes a number as ECMAScript writes the IEEE double nearest to it. Scheme V2
//! writes it as the resource's text writes it (its lexical form: sign, digits, decimal point,
//! exponent, as they are). FHIR's `decimal` carries its precision in that form (R4 datatypes:
//! "the precision of the decimal value has significance", `0.010` is not `0.01`), FHIR servers
//! keep the form they are given, and FHIR values may hold more digits than a double does.
//! Under RFC 8785 `6.30` and `6.3`, `0.1000000000000000000001` and `0.1000000000000000000002`,
//! `9007199254740993` and `9007199254740992` canonicalize alike, so a commitment would not see
//! such a change. The price: two texts writing the same quantity differently (`1e2` and `100`,
//! `1.0` and `1`) have different canonical forms; to FHIR they are decimals of different
//! precision anyway, and a source that rewrites its numbers shows as a mismatch, never as a
//! false match. Numbers are checked against JSON's grammar and, as [`json::parse`]
//! does, refused if a double would overflow; RFC 8785's I-JSON limit to double precision does
//! not apply.
//!
//! So the bytes are RFC 8785's, for the same resource, with each number's text in place of
//! its ECMAScript form: the tests hold them to `serde_jcs` (RFC 8785's reference
//! implementation) that way on every fixture resource.
//!
//! V2 is taken from the JSON text ([`bytes_with`], [`write_with`], [`digest_with`]; a Bundle
//! entry's text is found by [`json::entry_resources`]), not from a parsed `Value`: serde_json
//! keeps no number's text short of its `arbitrary_precision` feature, which would change
//! serde_json for every crate of the workspace. The text is read by a scanner of this crate
//! that accepts what [`json::parse`] accepts and refuses what it refuses (byte-order mark,
//! comments, duplicate keys, lone surrogates, nesting beyond serde_json's limit, ...), and the
//! bytes are written as it reads, in one pass, without a tree and, once warm, without
//! allocating beyond the output (an object's members are put in key order in buffers kept per
//! thread).
//!
//! # Scheme V1: only to verify what was committed under it
//!
//! RFC 8785 over the parsed resource ([`bytes`], [`write`](fn@write), [`digest`], which take a
//! `serde_json::Value`; [`bytes_with`]`(Scheme::V1, ..)` gives the same bytes from the text),
//! with numbers as IEEE doubles as RFC 8785 has them, server bookkeeping in `meta` left out as
//! in V2, and the narrative left out when its status is `generated`. It misses changes a server
//! keeps (security finding 9): a changed generated narrative, a decimal's precision (`6.30` is
//! `6.3`), digits beyond a double and integers above 2^53. Never make a new commitment with
//! it.

use crate::{
    json::{self, Form, Lexer},
    Problem,
};
use serde_json::{Map, Number, Value};
use sha2::{Digest, Sha256};
use std::{cell::RefCell, cmp::Ordering};

/// Fields of `meta` a server maintains on its own.
const SERVER_META: &[&str] = &["versionId", "lastUpdated", "source"];

/// The rules a canonical form was taken under. A commitment records its scheme (by
/// [`Scheme::code`]) so that it is verified under the rules it was made with: versions
/// committed under [`Scheme::V1`] still verify after the current scheme moved on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// RFC 8785 over the parsed resource, numbers as IEEE doubles, a `generated` narrative
    /// left out ([`bytes`], [`write`](fn@write), [`digest`]). Kept only to verify what was committed
    /// under it: it misses a changed generated narrative, a decimal's precision (`6.30` is
    /// `6.3`) and digits beyond a double (security finding 9).
    V1,
    /// RFC 8785 over the resource's JSON text, numbers as the text writes them, narrative
    /// included, whatever its status ([`bytes_with`], [`write_with`], [`digest_with`]).
    V2,
}

impl Scheme {
    /// The scheme new commitments are made under.
    pub const CURRENT: Scheme = Scheme::V2;

    /// Every scheme, oldest first.
    pub const ALL: [Scheme; 2] = [Scheme::V1, Scheme::V2];

    /// The scheme's code, stored with a commitment; stable: a code is never reused. A
    /// commitment stored without one predates the schemes and is [`Scheme::V1`].
    pub const fn code(self) -> u8 {
        match self {
            Scheme::V1 => 1,
            Scheme::V2 => 2,
        }
    }

    /// The scheme a stored code stands for (`None` for a code this build does not know).
    pub const fn from_code(code: u8) -> Option<Scheme> {
        match code {
            1 => Some(Scheme::V1),
            2 => Some(Scheme::V2),
            _ => None,
        }
    }
}

/// The canonical bytes, under `scheme`, of a resource given as the JSON text a file or a
/// server holds (one resource: for a Bundle entry, the text of its `resource`, see
/// [`json::entry_resources`]). Errors where [`json::parse`] would.
pub fn bytes_with(scheme: Scheme, json: &[u8]) -> Result<Vec<u8>, Problem> {
    // Scheme V2 never writes more than the text holds (whitespace goes, escapes shrink or stay).
    let mut out = Vec::with_capacity(json.len());
    write_with(scheme, json, &mut out)?;
    Ok(out)
}

/// Appends the canonical bytes of the resource `json` under `scheme` to `out` (nothing, on
/// an error).
pub fn write_with(scheme: Scheme, json: &[u8], out: &mut Vec<u8>) -> Result<(), Problem> {
    match scheme {
        Scheme::V1 => {
            write(&json::parse(json)?, out);
            Ok(())
        }
        Scheme::V2 => {
            let start = out.len();
            let written = SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
                Ok(mut scratch) => v2(json, out, &mut scratch),
                Err(_) => v2(json, out, &mut Scratch::default()),
            });
            if written.is_err() {
                out.truncate(start);
            }
            written
        }
    }
}

/// SHA-256 of the canonical bytes of the resource `json` under `scheme`, and their length.
pub fn digest_with(scheme: Scheme, json: &[u8]) -> Result<([u8; 32], usize), Problem> {
    let canonical = bytes_with(scheme, json)?;
    Ok((Sha256::digest(&canonical).into(), canonical.len()))
}

/// The canonical bytes of a parsed resource under [`Scheme::V1`] (a parsed resource no longer
/// has its numbers' text, which [`Scheme::V2`] needs: see [`bytes_with`]).
pub fn bytes(resource: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(1024);
    write(resource, &mut out);
    out
}

/// Appends the canonical bytes of a parsed resource under [`Scheme::V1`] to `out` (no copy of
/// the resource is made; the stripped fields are skipped as the bytes are written).
pub fn write(resource: &Value, out: &mut Vec<u8>) {
    match resource {
        Value::Object(map) => object(map, out, Strip::Resource),
        other => value(other, out),
    }
}

/// SHA-256 of the canonical bytes of a parsed resource under [`Scheme::V1`], and their length
/// (what is kept locally to tell whether a resource changed since it was committed).
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

// Scheme V2: written from the text as it is scanned, one pass, no tree. Each object's members
// are written in the text's order, then put in key order (unless they were in it already);
// the scratch space is kept per thread, so that writing allocates nothing once warm.

/// Buffers that scheme V2 reuses from one resource to the next.
#[derive(Default)]
struct Scratch {
    /// The members of the objects being written, innermost last.
    members: Vec<Member>,
    /// Keys that had escapes, decoded.
    keys: Vec<u8>,
    /// An object's members while they are put in order.
    spill: Vec<u8>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// A member of an object being written: its key, and where `"key":value` is in the output.
#[derive(Clone, Copy)]
struct Member {
    key: Key,
    start: usize,
    end: usize,
    /// Written (not a stripped field).
    kept: bool,
}

/// A key: between its quotes in the text (it had no escapes), or decoded in [`Scratch::keys`].
#[derive(Clone, Copy)]
struct Key {
    start: usize,
    end: usize,
    decoded: bool,
}

/// What an object or array is, for what to leave out of it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Plain,
    /// A resource (the top level, or a contained one).
    Resource,
    /// A resource's `meta`: server bookkeeping left out.
    Meta,
    /// A resource's `contained`: its objects are resources.
    Contained,
}

struct V2<'a, 's> {
    lex: Lexer<'a>,
    out: &'s mut Vec<u8>,
    members: &'s mut Vec<Member>,
    keys: &'s mut Vec<u8>,
    spill: &'s mut Vec<u8>,
}

fn v2(json: &[u8], out: &mut Vec<u8>, scratch: &mut Scratch) -> Result<(), Problem> {
    scratch.members.clear();
    scratch.keys.clear();
    let mut writer = V2 {
        lex: Lexer::new(json)?,
        out,
        members: &mut scratch.members,
        keys: &mut scratch.keys,
        spill: &mut scratch.spill,
    };
    writer.lex.ws();
    let written = writer.value(Mode::Resource).and_then(|()| writer.lex.end());
    // Keep what a typical resource needs, not what the largest one did.
    if scratch.spill.capacity() > 1 << 20 {
        scratch.spill = Vec::new();
    }
    written
}

fn key_text<'k>(text: &'k [u8], keys: &'k [u8], key: Key) -> &'k [u8] {
    if key.decoded {
        &keys[key.start..key.end]
    } else {
        &text[key.start..key.end]
    }
}

/// RFC 8785's key order: by UTF-16 code units. UTF-8 bytes compare alike up to the first
/// difference between two non-ASCII characters, where a character above U+FFFF (a surrogate
/// pair in UTF-16) may order differently.
fn utf16_order(a: &[u8], b: &[u8]) -> Ordering {
    match a.iter().zip(b).position(|(x, y)| x != y) {
        None => a.len().cmp(&b.len()),
        Some(i) if a[i] < 0x80 || b[i] < 0x80 => a[i].cmp(&b[i]),
        Some(_) => {
            let (a, b) = (String::from_utf8_lossy(a), String::from_utf8_lossy(b));
            a.encode_utf16().cmp(b.encode_utf16())
        }
    }
}

/// What becomes of a member of an object of kind `mode`: the kind of its value, and whether
/// it is left out.
fn rule(mode: Mode, key: &[u8]) -> (Mode, bool) {
    match mode {
        Mode::Resource => match key {
            b"meta" => (Mode::Meta, false),
            b"contained" => (Mode::Contained, false),
            _ => (Mode::Plain, false),
        },
        Mode::Meta => (Mode::Plain, SERVER_META.iter().any(|k| k.as_bytes() == key)),
        Mode::Plain | Mode::Contained => (Mode::Plain, false),
    }
}

impl V2<'_, '_> {
    fn value(&mut self, mode: Mode) -> Result<(), Problem> {
        match self.lex.peek() {
            Some(b'{') => self.object(if matches!(mode, Mode::Resource | Mode::Meta) { mode } else { Mode::Plain }),
            Some(b'[') => self.array(if mode == Mode::Contained { Mode::Resource } else { Mode::Plain }),
            Some(b'"') => self.lex.string(self.out, Form::Canonical).map(drop),
            // The departure from RFC 8785: a number as the text writes it.
            Some(b'-' | b'0'..=b'9') => {
                let number = self.lex.number()?;
                self.out.extend_from_slice(number);
                Ok(())
            }
            _ => {
                let literal = self.lex.literal()?;
                self.out.extend_from_slice(literal);
                Ok(())
            }
        }
    }

    fn array(&mut self, elements: Mode) -> Result<(), Problem> {
        self.lex.enter()?;
        self.out.push(b'[');
        if self.lex.peek() != Some(b']') {
            loop {
                self.value(elements)?;
                if !self.lex.next(b']')? {
                    break;
                }
                self.out.push(b',');
            }
        }
        self.lex.leave();
        self.out.push(b']');
        Ok(())
    }

    fn object(&mut self, mode: Mode) -> Result<(), Problem> {
        self.lex.enter()?;
        let open = self.out.len();
        self.out.push(b'{');
        let base = self.members.len();
        let keys_base = self.keys.len();
        let mut in_order = true;
        if self.lex.peek() != Some(b'}') {
            loop {
                let before = self.out.len();
                if before > open + 1 {
                    self.out.push(b',');
                }
                let start = self.out.len();
                let key = self.key()?;
                self.out.push(b':');
                self.lex.colon()?;
                let name = key_text(self.lex.text, self.keys, key);
                if let Some(last) = self.members[base..].last() {
                    in_order &= utf16_order(key_text(self.lex.text, self.keys, last.key), name) == Ordering::Less;
                }
                let (child, stripped) = rule(mode, name);
                let value = self.out.len();
                self.value(child)?;
                // A `meta` with nothing left in it goes too.
                let emptied = child == Mode::Meta && &self.out[value..] == b"{}";
                let kept = !(stripped || emptied);
                if !kept {
                    self.out.truncate(before);
                }
                self.members.push(Member { key, start, end: self.out.len(), kept });
                if !self.lex.next(b'}')? {
                    break;
                }
            }
        }
        self.lex.leave();
        if !in_order {
            self.reorder(open, base)?;
        }
        self.out.push(b'}');
        self.members.truncate(base);
        self.keys.truncate(keys_base);
        Ok(())
    }

    /// A key (at its quote), written to the output in canonical form.
    fn key(&mut self) -> Result<Key, Problem> {
        if self.lex.peek() != Some(b'"') {
            return Err(self.lex.fail("key must be a string"));
        }
        let quote = self.lex.pos;
        if !self.lex.string(self.out, Form::Canonical)? {
            return Ok(Key { start: quote + 1, end: self.lex.pos - 1, decoded: false });
        }
        let start = self.keys.len();
        let mut again = self.lex.clone();
        again.pos = quote;
        again.string(self.keys, Form::Decoded)?;
        Ok(Key { start, end: self.keys.len(), decoded: true })
    }

    /// Puts the members of the object opened at `open` (those from `base` on) in key order.
    fn reorder(&mut self, open: usize, base: usize) -> Result<(), Problem> {
        let (text, keys) = (self.lex.text, &*self.keys);
        let members = &mut self.members[base..];
        members.sort_unstable_by(|a, b| utf16_order(key_text(text, keys, a.key), key_text(text, keys, b.key)));
        if let Some(pair) =
            members.windows(2).find(|pair| key_text(text, keys, pair[0].key) == key_text(text, keys, pair[1].key))
        {
            return Err(Problem::DuplicateKey {
                key: String::from_utf8_lossy(key_text(text, keys, pair[0].key)).into_owned(),
            });
        }
        self.spill.clear();
        self.spill.extend_from_slice(&self.out[open..]);
        self.out.truncate(open + 1);
        for member in members.iter().filter(|m| m.kept) {
            if self.out.len() > open + 1 {
                self.out.push(b',');
            }
            self.out.extend_from_slice(&self.spill[member.start - open..member.end - open]);
        }
        Ok(())
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
        let positions: Vec<usize> = ["Carriage", "One", "Control", "Latin", "Euro", "Emoji", "Hebrew"]
            .iter()
            .map(|w| text.find(w).unwrap())
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
    }
}

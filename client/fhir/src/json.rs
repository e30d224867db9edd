//! Strict JSON: what RFC 8259 and FHIR allow, nothing more. A byte-order mark, comments and
//! duplicate keys are refused with their place (serde_json alone would take the last of two
//! duplicate keys without a word).
//!
//! [`parse`] gives the values. What needs the text itself (the canonical form of scheme V2
//! writes numbers as the text has them; [`entry_resources`] says where each Bundle entry's
//! resource is) goes through a scanner of its own that accepts what [`parse`] accepts and
//! refuses what it refuses (the tests hold the two to each other); without it, a number's text
//! is gone once serde_json has read it, short of serde_json's `arbitrary_precision`, a feature
//! that would change serde_json for every crate of the workspace.

use crate::Problem;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::ops::Range;

const DUPLICATE: &str = "\u{0}duplicate key:";

/// UTF-8's byte-order mark.
const BOM: &[u8] = &[0xEF, 0xBB, 0xBF];

/// Parses `bytes` as one strict JSON value.
pub fn parse(bytes: &[u8]) -> Result<Value, Problem> {
    if bytes.starts_with(BOM) {
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
        match arbitrary_precision_number(&object) {
            Some(text) => number(text).map_err(de::Error::custom),
            None => Ok(Value::Object(object)),
        }
    }
}

/// serde_json's token for a number when a crate in the same build enables its
/// `arbitrary_precision` feature (features are unified across a build: `sp-genesis-builder`,
/// under ink_sandbox, does): numbers then reach the visitor as this one-entry map.
const NUMBER_TOKEN: &str = "$serde_json::private::Number";

/// The number's text, if `object` is serde_json's arbitrary-precision number token (and only
/// when that feature is on: otherwise such a key is an ordinary key).
fn arbitrary_precision_number(object: &Map<String, Value>) -> Option<&str> {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let on =
        *ON.get_or_init(|| serde_json::from_str::<serde_json::Number>("1.10").is_ok_and(|n| n.to_string() == "1.10"));
    match (on, object.len(), object.get(NUMBER_TOKEN)) {
        (true, 1, Some(Value::String(text))) => Some(text),
        _ => None,
    }
}

/// The value serde_json gives a number's text without `arbitrary_precision` (an integer if
/// one fits, else the nearest double), so that parsing never depends on what else is built.
fn number(text: &str) -> Result<Value, String> {
    if let Ok(n) = text.parse::<u64>() {
        return Ok(Value::from(n));
    }
    if let Ok(n) = text.parse::<i64>() {
        return Ok(Value::from(n));
    }
    text.parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map(Value::Number)
        .ok_or_else(|| format!("number out of range: {text}"))
}

/// Where each entry's `resource` is in the text of a Bundle: the byte range of its JSON text
/// (what its canonical form under scheme V2 is taken from), or `None` for an entry without
/// one; in entry order. Nothing if the top level is not an object with an `entry` array.
///
/// Meant for text [`parse`] accepted: the syntax is checked here too, duplicate keys only for
/// `entry` and `resource`.
pub fn entry_resources(bytes: &[u8]) -> Result<Vec<Option<Range<usize>>>, Problem> {
    let mut lex = Lexer::new(bytes)?;
    let mut found = Vec::new();
    lex.ws();
    if lex.peek() != Some(b'{') {
        lex.skip_value()?;
        lex.end()?;
        return Ok(found);
    }
    let (mut key, mut entry_key) = (Vec::new(), Vec::new());
    let mut seen = false;
    lex.members(&mut key, |lex, key| {
        if key != b"entry" {
            return lex.skip_value();
        }
        if std::mem::replace(&mut seen, true) {
            return Err(Problem::DuplicateKey { key: "entry".into() });
        }
        if lex.peek() != Some(b'[') {
            return lex.skip_value();
        }
        lex.elements(|lex| {
            let mut resource = None;
            if lex.peek() == Some(b'{') {
                lex.members(&mut entry_key, |lex, key| {
                    let start = lex.pos;
                    lex.skip_value()?;
                    if key == b"resource" && resource.replace(start..lex.pos).is_some() {
                        return Err(Problem::DuplicateKey { key: "resource".into() });
                    }
                    Ok(())
                })?;
            } else {
                lex.skip_value()?;
            }
            found.push(resource);
            Ok(())
        })
    })?;
    lex.end()?;
    Ok(found)
}

/// serde_json's nesting limit: it refuses the 128th array or object inside one another.
const MAX_DEPTH: usize = 127;

/// How [`Lexer::string`] hands a string on.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Form {
    /// In quotes, escaped as ECMAScript's `JSON.stringify` escapes (RFC 8785): `"` and `\`,
    /// and control characters as `\b \t \n \f \r` or `\u00xx`; everything else as itself.
    Canonical,
    /// The characters, unquoted and unescaped.
    Decoded,
    /// Checked only.
    Checked,
}

/// Bytes that stand for themselves inside a JSON string (not `"`, `\` or a control character).
static PLAIN: [bool; 256] = {
    let mut plain = [true; 256];
    let mut b = 0;
    while b < 0x20 {
        plain[b] = false;
        b += 1;
    }
    plain[b'"' as usize] = false;
    plain[b'\\' as usize] = false;
    plain
};

/// A strict scanner over JSON text (RFC 8259, as [`parse`] takes it): the text is checked as
/// it is read, and an error names its line and column as [`parse`] would.
#[derive(Clone)]
pub(crate) struct Lexer<'a> {
    /// The text (checked to be UTF-8).
    pub(crate) text: &'a [u8],
    /// Where the scanner is.
    pub(crate) pos: usize,
    depth: usize,
}

impl<'a> Lexer<'a> {
    /// A scanner at the start of `text`, which must be UTF-8 without a byte-order mark.
    pub(crate) fn new(text: &'a [u8]) -> Result<Self, Problem> {
        if text.starts_with(BOM) {
            return Err(Problem::ByteOrderMark);
        }
        let lexer = Lexer { text, pos: 0, depth: 0 };
        match std::str::from_utf8(text) {
            Ok(_) => Ok(lexer),
            Err(e) => Err(Lexer { pos: e.valid_up_to(), ..lexer }.fail("invalid unicode code point")),
        }
    }

    /// An error at the scanner's place (a comment if a `/` is there, as [`parse`] says).
    #[cold]
    pub(crate) fn fail(&self, message: &str) -> Problem {
        let before = &self.text[..self.pos.min(self.text.len())];
        let line = 1 + before.iter().filter(|b| **b == b'\n').count();
        let column = 1 + before.iter().rev().take_while(|b| **b != b'\n').count();
        if self.text.get(self.pos) == Some(&b'/') {
            return Problem::Comments { line, column };
        }
        Problem::InvalidJson { line, column, message: format!("{message} at line {line} column {column}") }
    }

    /// Skips whitespace.
    #[inline]
    pub(crate) fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.text.get(self.pos) {
            self.pos += 1;
        }
    }

    /// The next byte.
    #[inline]
    pub(crate) fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    /// After the top-level value: nothing but whitespace.
    pub(crate) fn end(&mut self) -> Result<(), Problem> {
        self.ws();
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(self.fail("trailing characters")),
        }
    }

    /// Steps into an array or object (at its `[` or `{`), within serde_json's nesting limit.
    #[inline]
    pub(crate) fn enter(&mut self) -> Result<(), Problem> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.fail("recursion limit exceeded"));
        }
        self.pos += 1;
        self.ws();
        Ok(())
    }

    /// Steps out of an array or object (at its `]` or `}`).
    #[inline]
    pub(crate) fn leave(&mut self) {
        self.depth -= 1;
        self.pos += 1;
    }

    /// After a member or element: `true` at a `,` (stepped over, with the whitespace after it),
    /// `false` at `close` (left for [`Lexer::leave`]).
    #[inline]
    pub(crate) fn next(&mut self, close: u8) -> Result<bool, Problem> {
        self.ws();
        match self.peek() {
            Some(b',') => {
                self.pos += 1;
                self.ws();
                Ok(true)
            }
            Some(b) if b == close => Ok(false),
            _ => Err(self.fail(if close == b'}' { "expected `,` or `}`" } else { "expected `,` or `]`" })),
        }
    }

    /// After a key: the `:` and the whitespace around it.
    #[inline]
    pub(crate) fn colon(&mut self) -> Result<(), Problem> {
        self.ws();
        if self.peek() != Some(b':') {
            return Err(self.fail("expected `:`"));
        }
        self.pos += 1;
        self.ws();
        Ok(())
    }

    /// `true`, `false` or `null`, as written.
    #[inline]
    pub(crate) fn literal(&mut self) -> Result<&'a [u8], Problem> {
        let rest = &self.text[self.pos..];
        for word in [&b"true"[..], b"false", b"null"] {
            if rest.starts_with(word) {
                self.pos += word.len();
                return Ok(word);
            }
        }
        Err(self.fail("expected value"))
    }

    /// A number, as written: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`, and
    /// within what an IEEE double can hold (serde_json refuses a number that would be
    /// infinite).
    #[inline]
    pub(crate) fn number(&mut self) -> Result<&'a [u8], Problem> {
        let start = self.pos;
        let text = self.text;
        let digits = |at: &mut usize| {
            let from = *at;
            while text.get(*at).is_some_and(u8::is_ascii_digit) {
                *at += 1;
            }
            *at > from
        };
        let mut at = start;
        if text.get(at) == Some(&b'-') {
            at += 1;
        }
        match text.get(at) {
            Some(b'0') => at += 1,
            Some(b'1'..=b'9') => {
                digits(&mut at);
            }
            _ => return Err(Lexer { pos: at, ..*self }.fail("invalid number")),
        }
        let mut exponent = false;
        if text.get(at) == Some(&b'.') {
            at += 1;
            if !digits(&mut at) {
                return Err(Lexer { pos: at, ..*self }.fail("invalid number"));
            }
        }
        if let Some(b'e' | b'E') = text.get(at) {
            exponent = true;
            at += 1;
            if let Some(b'+' | b'-') = text.get(at) {
                at += 1;
            }
            if !digits(&mut at) {
                return Err(Lexer { pos: at, ..*self }.fail("invalid number"));
            }
        }
        let number = &text[start..at];
        // Without an exponent, infinity needs more than 308 digits.
        if (exponent || number.len() > 300)
            && !std::str::from_utf8(number).ok().and_then(|n| n.parse::<f64>().ok()).is_some_and(f64::is_finite)
        {
            return Err(self.fail("number out of range"));
        }
        self.pos = at;
        Ok(number)
    }

    /// A string (at its opening quote), handed to `out` in the form `form` says; whether it
    /// had escapes (the decoded characters then differ from the text between the quotes).
    #[inline]
    pub(crate) fn string(&mut self, out: &mut Vec<u8>, form: Form) -> Result<bool, Problem> {
        let text = self.text;
        let mut at = self.pos + 1;
        let mut run = at;
        let mut escaped = false;
        if form == Form::Canonical {
            out.push(b'"');
        }
        loop {
            while at < text.len() && PLAIN[usize::from(text[at])] {
                at += 1;
            }
            let Some(&b) = text.get(at) else {
                self.pos = at;
                return Err(self.fail("EOF while parsing a string"));
            };
            if form != Form::Checked {
                out.extend_from_slice(&text[run..at]);
            }
            match b {
                b'"' => {
                    if form == Form::Canonical {
                        out.push(b'"');
                    }
                    self.pos = at + 1;
                    return Ok(escaped);
                }
                b'\\' => {
                    escaped = true;
                    self.pos = at;
                    let c = self.escape()?;
                    at = self.pos;
                    run = at;
                    match form {
                        Form::Canonical => canonical_char(c, out),
                        Form::Decoded => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
                        Form::Checked => {}
                    }
                }
                _ => {
                    self.pos = at;
                    return Err(self.fail("control character (\\u0000-\\u001F) found while parsing a string"));
                }
            }
        }
    }

    /// The character an escape (at its `\`) stands for; surrogates must come in pairs.
    #[cold]
    fn escape(&mut self) -> Result<char, Problem> {
        self.pos += 1;
        let c = match self.peek() {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                self.pos += 1;
                let first = self.hex4()?;
                let code = match first {
                    0xDC00..=0xDFFF => return Err(self.fail("lone leading surrogate in hex escape")),
                    0xD800..=0xDBFF => {
                        if !self.text[self.pos..].starts_with(b"\\u") {
                            return Err(self.fail("unexpected end of hex escape"));
                        }
                        self.pos += 2;
                        let second = self.hex4()?;
                        if !(0xDC00..=0xDFFF).contains(&second) {
                            return Err(self.fail("lone leading surrogate in hex escape"));
                        }
                        0x10000 + ((u32::from(first) - 0xD800) << 10 | (u32::from(second) - 0xDC00))
                    }
                    other => u32::from(other),
                };
                return char::from_u32(code).ok_or_else(|| self.fail("invalid escape"));
            }
            _ => return Err(self.fail("invalid escape")),
        };
        self.pos += 1;
        Ok(c)
    }

    fn hex4(&mut self) -> Result<u16, Problem> {
        let digits = self.text.get(self.pos..self.pos + 4).ok_or_else(|| self.fail("EOF while parsing a string"))?;
        let mut n = 0u16;
        for d in digits {
            let v = match d {
                b'0'..=b'9' => d - b'0',
                b'a'..=b'f' => d - b'a' + 10,
                b'A'..=b'F' => d - b'A' + 10,
                _ => return Err(self.fail("invalid escape")),
            };
            n = n << 4 | u16::from(v);
        }
        self.pos += 4;
        Ok(n)
    }

    /// Checks one value and steps over it.
    pub(crate) fn skip_value(&mut self) -> Result<(), Problem> {
        // `Form::Checked` writes nothing: the vectors below are never allocated.
        match self.peek() {
            Some(b'{') => {
                self.enter()?;
                if self.peek() != Some(b'}') {
                    loop {
                        if self.peek() != Some(b'"') {
                            return Err(self.fail("key must be a string"));
                        }
                        self.string(&mut Vec::new(), Form::Checked)?;
                        self.colon()?;
                        self.skip_value()?;
                        if !self.next(b'}')? {
                            break;
                        }
                    }
                }
                self.leave();
                Ok(())
            }
            Some(b'[') => self.elements(Self::skip_value),
            Some(b'"') => self.string(&mut Vec::new(), Form::Checked).map(drop),
            Some(b'-' | b'0'..=b'9') => self.number().map(drop),
            _ => self.literal().map(drop),
        }
    }

    /// The members of an object (at its `{`): `member` gets each key, decoded, with the
    /// scanner at its value, and must step over the value.
    pub(crate) fn members(
        &mut self,
        key: &mut Vec<u8>,
        mut member: impl FnMut(&mut Self, &[u8]) -> Result<(), Problem>,
    ) -> Result<(), Problem> {
        self.enter()?;
        if self.peek() != Some(b'}') {
            loop {
                if self.peek() != Some(b'"') {
                    return Err(self.fail("key must be a string"));
                }
                key.clear();
                self.string(key, Form::Decoded)?;
                self.colon()?;
                member(self, key)?;
                if !self.next(b'}')? {
                    break;
                }
            }
        }
        self.leave();
        Ok(())
    }

    /// The elements of an array (at its `[`): `element` gets the scanner at each and must step
    /// over it.
    pub(crate) fn elements(
        &mut self,
        mut element: impl FnMut(&mut Self) -> Result<(), Problem>,
    ) -> Result<(), Problem> {
        self.enter()?;
        if self.peek() != Some(b']') {
            loop {
                element(self)?;
                if !self.next(b']')? {
                    break;
                }
            }
        }
        self.leave();
        Ok(())
    }
}

/// One character of a string in the canonical form ([`Form::Canonical`]).
#[inline]
pub(crate) fn canonical_char(c: char, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    match c {
        '"' => out.extend_from_slice(b"\\\""),
        '\\' => out.extend_from_slice(b"\\\\"),
        '\n' => out.extend_from_slice(b"\\n"),
        '\r' => out.extend_from_slice(b"\\r"),
        '\t' => out.extend_from_slice(b"\\t"),
        '\u{8}' => out.extend_from_slice(b"\\b"),
        '\u{c}' => out.extend_from_slice(b"\\f"),
        '\0'..='\u{1f}' => {
            let b = c as u8;
            out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]]);
        }
        _ => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
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

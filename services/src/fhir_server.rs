//! Reading a FHIR R4 server over REST, for the sync follower and for verifying what a server
//! serves: its system-level `_history` page by page (following `next` links, refusing a history
//! that loops, dropping entries served twice), the current version of one resource; with
//! retries and back-off when the server cannot be reached or answers 5xx or 429.
//!
//! Requests are blocking (ureq) and made one at a time: the follower reads the server between
//! chain transactions, never at the same time, so nothing is gained from an async client here.
//! Error messages name the server and the kind of request, never a resource's id (source
//! systems put MRNs in ids).

use custodia_fhir::mapping::time::{civil_from_days, days_from_civil};
use serde_json::Value;
use std::{collections::HashSet, time::Duration};

/// What reading a FHIR server can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// No answer (refused connection, timeout, reset) after every retry.
    #[error("the FHIR server {server} could not be reached ({what}) after {attempts} attempt(s): {reason}")]
    Unreachable {
        /// The server's base URL.
        server: String,
        /// What was being read (`the history`, `a resource`).
        what: &'static str,
        /// Attempts made.
        attempts: u32,
        /// The transport's last error.
        reason: String,
    },
    /// The server answered with an error status (5xx and 429 after every retry).
    #[error("the FHIR server {server} answered {status} ({what}) after {attempts} attempt(s)")]
    Status {
        /// The server's base URL.
        server: String,
        /// What was being read.
        what: &'static str,
        /// The HTTP status.
        status: u16,
        /// Attempts made.
        attempts: u32,
    },
    /// A `next` link led back to a page already read, or to a page of nothing but entries
    /// already read: following it would never end, and what lies beyond it is unknown.
    #[error("the history of {server} loops: page {page} is one already read")]
    Loop {
        /// The server's base URL.
        server: String,
        /// Which page (1-based) the loop was found on.
        page: usize,
    },
    /// A page is not a history Bundle this reader understands (named, with the problem).
    #[error("the FHIR server {server} sent a history page that cannot be read: {problem}")]
    BadPage {
        /// The server's base URL.
        server: String,
        /// What is wrong with it.
        problem: String,
    },
}

/// How often and how patiently to retry a request the server did not answer.
#[derive(Clone, Copy, Debug)]
pub struct Retry {
    /// Attempts in all (at least 1).
    pub attempts: u32,
    /// Wait before the second attempt; doubled after each, up to `max_wait`.
    pub first_wait: Duration,
    /// Longest wait between attempts.
    pub max_wait: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Self { attempts: 6, first_wait: Duration::from_millis(200), max_wait: Duration::from_secs(5) }
    }
}

/// One entry of a history Bundle: one version of one resource (or its deletion).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryEntry {
    /// `Type/id`.
    pub reference: String,
    /// The server's `meta.versionId` (from the resource, or the entry's ETag for a deletion).
    pub version: String,
    /// When the server stored it (`response.lastModified`, else `meta.lastUpdated`), as the
    /// server wrote it.
    pub last_modified: String,
    /// The resource's JSON text as served; `None` for a deletion.
    pub resource: Option<Vec<u8>>,
}

impl HistoryEntry {
    /// True if the entry records a deletion (`DELETE`, or no resource).
    pub fn is_deletion(&self) -> bool {
        self.resource.is_none()
    }
}

/// A history read: its entries as served (newest first on HFS), each version once.
#[derive(Clone, Debug, Default)]
pub struct History {
    /// The entries, in the server's order, entries served twice kept once.
    pub entries: Vec<HistoryEntry>,
    /// Pages read.
    pub pages: usize,
    /// Entries dropped because an earlier page or entry had served the same version.
    pub repeats: usize,
}

/// What the server serves for one resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Served {
    /// Its current version's JSON text.
    Current(Vec<u8>),
    /// 410: the resource was deleted.
    Gone,
    /// 404: the server does not know it.
    Missing,
}

/// A FHIR R4 server, read over REST.
#[derive(Clone)]
pub struct FhirServer {
    base: String,
    agent: ureq::Agent,
    retry: Retry,
}

impl FhirServer {
    /// The server at `base` (e.g. `http://127.0.0.1:8080`), retried as `retry` says.
    pub fn new(base: &str, retry: Retry) -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build();
        Self { base: base.trim_end_matches('/').to_string(), agent: config.into(), retry }
    }

    /// The server's base URL, without a trailing slash.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Every version the system-level history holds that was stored at or after `since` (an
    /// instant as the server writes them; `None`: all), `page_size` entries a page.
    pub fn history(&self, since: Option<&str>, page_size: u32) -> Result<History, ServerError> {
        walk(self.history_pages(since, page_size), |url| self.history_page(url))
    }

    /// The same history as [`FhirServer::history`], to be read page by page: the caller
    /// fetches each page the reader names with [`FhirServer::history_page`].
    pub fn history_pages(&self, since: Option<&str>, page_size: u32) -> HistoryPages {
        let mut first = format!("{}/_history?_count={page_size}", self.base);
        if let Some(since) = since {
            first.push_str("&_since=");
            first.push_str(&since.replace('+', "%2B").replace(':', "%3A"));
        }
        HistoryPages::new(&self.base, &first)
    }

    /// One page of a history (a URL a [`HistoryPages`] named).
    pub fn history_page(&self, url: &str) -> Result<Vec<u8>, ServerError> {
        match self.get(url, "the history")? {
            (200, body) => Ok(body),
            (status, _) => {
                Err(ServerError::Status { server: self.base.clone(), what: "the history", status, attempts: 1 })
            }
        }
    }

    /// What the server serves now for `reference` (`Type/id`).
    pub fn read(&self, reference: &str) -> Result<Served, ServerError> {
        let what = "a resource";
        match self.get(&format!("{}/{reference}", self.base), what)? {
            (200, body) => Ok(Served::Current(body)),
            (410, _) => Ok(Served::Gone),
            (404, _) => Ok(Served::Missing),
            (status, _) => Err(ServerError::Status { server: self.base.clone(), what, status, attempts: 1 }),
        }
    }

    /// Writes `resource` as its current version (`PUT Type/id`), as a system of record does
    /// (the demo's clinician system; the gateway forwards writes the same way). Returns the
    /// server's status.
    pub fn put(&self, resource: &Value) -> Result<u16, ServerError> {
        let what = "a write";
        let (Some(kind), Some(id)) = (resource["resourceType"].as_str(), resource["id"].as_str()) else {
            return Err(ServerError::Status { server: self.base.clone(), what, status: 400, attempts: 0 });
        };
        let url = format!("{}/{kind}/{id}", self.base);
        let body = serde_json::to_vec(resource).expect("JSON values serialise");
        self.agent
            .put(&url)
            .header("Content-Type", "application/fhir+json")
            .send(&body[..])
            .map(|response| response.status().as_u16())
            .map_err(|error| ServerError::Unreachable {
                server: self.base.clone(),
                what,
                attempts: 1,
                reason: error.to_string(),
            })
    }

    /// `DELETE` of `path` (a resource, or one history entry `Type/id/_history/n`, which HFS
    /// allows without authentication: what an administrator rewriting history behind the
    /// ledger would do). Returns the server's status.
    pub fn delete(&self, path: &str) -> Result<u16, ServerError> {
        self.agent.delete(&format!("{}/{path}", self.base)).call().map(|response| response.status().as_u16()).map_err(
            |error| ServerError::Unreachable {
                server: self.base.clone(),
                what: "a deletion",
                attempts: 1,
                reason: error.to_string(),
            },
        )
    }

    /// GET `url`, retrying transport failures, 5xx and 429 with back-off; any other answer
    /// (status and body) is returned.
    fn get(&self, url: &str, what: &'static str) -> Result<(u16, Vec<u8>), ServerError> {
        let attempts = self.retry.attempts.max(1);
        let mut wait = self.retry.first_wait;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome =
                self.agent.get(url).header("Accept", "application/fhir+json").call().and_then(|mut response| {
                    let status = response.status().as_u16();
                    let body = response.body_mut().with_config().limit(1 << 30).read_to_vec()?;
                    Ok((status, body))
                });
            let failure = match outcome {
                Ok((status, _)) if status >= 500 || status == 429 => {
                    ServerError::Status { server: self.base.clone(), what, status, attempts: attempt }
                }
                Ok(answer) => return Ok(answer),
                Err(error) => ServerError::Unreachable {
                    server: self.base.clone(),
                    what,
                    attempts: attempt,
                    reason: error.to_string(),
                },
            };
            if attempt >= attempts {
                return Err(failure);
            }
            std::thread::sleep(wait);
            wait = (wait * 2).min(self.retry.max_wait);
        }
    }
}

/// A history read page by page: which page comes next, and what the pages read so far held.
/// Each version is given once; a `next` link to a page already read, or a page holding only
/// versions already read, is a [`ServerError::Loop`]; a `next` link off the server is a
/// [`ServerError::BadPage`]. A server that names itself by another base URL than the one it is
/// read at (its own configured base, behind a proxy or an alias) writes its links with that
/// base, as its first page's `self` link shows: they are followed on the given one. The caller
/// fetches the pages, so that a reader on an async thread fetches each on a blocking one and
/// keeps only what it needs of each page.
#[derive(Debug)]
pub struct HistoryPages {
    server: String,
    next: Option<String>,
    visited: HashSet<String>,
    seen: HashSet<(String, String)>,
    own_base: Option<String>,
    /// Pages read.
    pub pages: usize,
    /// Entries dropped because an earlier page or entry had served the same version.
    pub repeats: usize,
}

impl HistoryPages {
    fn new(server: &str, first: &str) -> Self {
        Self {
            server: server.to_string(),
            next: Some(first.to_string()),
            visited: HashSet::new(),
            seen: HashSet::new(),
            own_base: None,
            pages: 0,
            repeats: 0,
        }
    }

    /// The URL of the page to read next, or `None` at the end of the history.
    pub fn next_page(&mut self) -> Result<Option<String>, ServerError> {
        match self.next.take() {
            Some(url) if !self.visited.insert(url.clone()) => {
                Err(ServerError::Loop { server: self.server.clone(), page: self.pages + 1 })
            }
            next => Ok(next),
        }
    }

    /// Reads the page [`HistoryPages::next_page`] named: its entries not read before, in
    /// the server's order.
    pub fn read(&mut self, body: &[u8]) -> Result<Vec<HistoryEntry>, ServerError> {
        let bad = |problem: String| ServerError::BadPage { server: self.server.clone(), problem };
        self.pages += 1;
        let (entries, link, self_link) =
            page(body).map_err(|problem| bad(format!("page {}: {problem}", self.pages)))?;
        if self.pages == 1 {
            self.own_base = self_link.and_then(|l| l.split_once("/_history").map(|(base, _)| base.to_string()));
        }
        let served = entries.len();
        let mut fresh = Vec::with_capacity(served);
        for entry in entries {
            if self.seen.insert((entry.reference.clone(), entry.version.clone())) {
                fresh.push(entry);
            } else {
                self.repeats += 1;
            }
        }
        if served > 0 && fresh.is_empty() && link.is_some() {
            return Err(ServerError::Loop { server: self.server.clone(), page: self.pages });
        }
        self.next = match link {
            Some(link) if link.starts_with(&format!("{}/", self.server)) => Some(link),
            Some(link) => match self.own_base.as_deref().and_then(|own| link.strip_prefix(own)) {
                Some(rest) if rest.starts_with('/') => Some(format!("{}{rest}", self.server)),
                _ => return Err(bad(format!("page {}: its next link leaves the server", self.pages))),
            },
            None => None,
        };
        Ok(fresh)
    }
}

/// Reads a whole history, fetching each page with `fetch`.
fn walk(
    mut pages: HistoryPages,
    mut fetch: impl FnMut(&str) -> Result<Vec<u8>, ServerError>,
) -> Result<History, ServerError> {
    let mut entries = Vec::new();
    while let Some(url) = pages.next_page()? {
        let body = fetch(&url)?;
        entries.extend(pages.read(&body)?);
    }
    Ok(History { entries, pages: pages.pages, repeats: pages.repeats })
}

/// The entries, the `next` link and the `self` link of one history page.
type Page = (Vec<HistoryEntry>, Option<String>, Option<String>);

/// Reads one history page.
fn page(body: &[u8]) -> Result<Page, String> {
    let bundle = custodia_fhir::json::parse(body).map_err(|p| p.to_string())?;
    if bundle.get("resourceType").and_then(Value::as_str) != Some("Bundle") {
        return Err("not a Bundle".into());
    }
    let texts = custodia_fhir::json::entry_resources(body).map_err(|p| p.to_string())?;
    let link = |relation: &str| {
        bundle
            .get("link")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|l| l.get("relation").and_then(Value::as_str) == Some(relation))
            .and_then(|l| l.get("url").and_then(Value::as_str))
            .map(str::to_string)
    };
    let (next, self_link) = (link("next"), link("self"));
    let mut entries = Vec::new();
    for (i, entry) in bundle.get("entry").and_then(Value::as_array).into_iter().flatten().enumerate() {
        let text = texts.get(i).cloned().flatten().and_then(|span| body.get(span)).map(<[u8]>::to_vec);
        entries.push(entry_of(entry, text).map_err(|problem| format!("entry {i}: {problem}"))?);
    }
    Ok((entries, next, self_link))
}

/// One history entry: which version of what, when, and the resource's text if it has one.
fn entry_of(entry: &Value, text: Option<Vec<u8>>) -> Result<HistoryEntry, &'static str> {
    let str_at = |v: &Value, pointer: &str| v.pointer(pointer).and_then(Value::as_str).map(str::to_string);
    let deletion = str_at(entry, "/request/method").as_deref() == Some("DELETE");
    let resource = entry.get("resource").filter(|_| !deletion);
    let reference = match resource {
        Some(r) => match (str_at(r, "/resourceType"), str_at(r, "/id")) {
            (Some(kind), Some(id)) => format!("{kind}/{id}"),
            _ => return Err("a resource without resourceType or id"),
        },
        None => {
            let url = str_at(entry, "/fullUrl")
                .or_else(|| str_at(entry, "/request/url"))
                .ok_or("a deletion without fullUrl or request.url")?;
            crate::fhir_import::local_reference(&url)
        }
    };
    let etag_version =
        str_at(entry, "/response/etag").map(|etag| etag.trim_start_matches("W/").trim_matches('"').to_string());
    let version = resource
        .and_then(|r| str_at(r, "/meta/versionId"))
        .or(etag_version)
        .filter(|v| !v.is_empty())
        .ok_or("no version id (meta.versionId or ETag)")?;
    let last_modified = str_at(entry, "/response/lastModified")
        .or_else(|| resource.and_then(|r| str_at(r, "/meta/lastUpdated")))
        .ok_or("no lastModified or meta.lastUpdated")?;
    if instant_nanos(&last_modified).is_none() {
        return Err("lastModified is not an instant");
    }
    let resource = match resource {
        Some(_) => Some(text.ok_or("the resource's text could not be found")?),
        None => None,
    };
    Ok(HistoryEntry { reference, version, last_modified, resource })
}

/// Nanoseconds since 1970 of an instant as FHIR servers write them
/// (`2026-11-30T02:15:53.210068506+00:00`, `…Z`, any number of fraction digits).
pub fn instant_nanos(text: &str) -> Option<i128> {
    let b = text.as_bytes();
    let digits = |from: usize, len: usize| -> Option<i64> {
        let part = text.get(from..from + len)?;
        part.bytes().all(|c| c.is_ascii_digit()).then(|| part.parse().ok())?
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (year, month, day) = (digits(0, 4)?, digits(5, 2)?, digits(8, 2)?);
    let (hour, minute, second) = (digits(11, 2)?, digits(14, 2)?, digits(17, 2)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut at = 19;
    let mut nanos: i128 = 0;
    if b.get(at) == Some(&b'.') {
        at += 1;
        let start = at;
        while b.get(at).is_some_and(u8::is_ascii_digit) {
            at += 1;
        }
        let fraction = &text[start..at];
        if fraction.is_empty() {
            return None;
        }
        let padded: String = fraction.chars().chain(std::iter::repeat('0')).take(9).collect();
        nanos = padded.parse().ok()?;
    }
    let offset_seconds: i64 = match &text[at..] {
        "Z" => 0,
        zone if zone.len() == 6 && (zone.starts_with('+') || zone.starts_with('-')) && &zone[3..4] == ":" => {
            let sign = if zone.starts_with('-') { -1 } else { 1 };
            sign * (digits(at + 1, 2)? * 3600 + digits(at + 4, 2)? * 60)
        }
        _ => return None,
    };
    let days = days_from_civil(year, u32::try_from(month).ok()?, u32::try_from(day).ok()?);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_seconds;
    Some(i128::from(seconds) * 1_000_000_000 + nanos)
}

/// An instant (nanoseconds since 1970) as `YYYY-MM-DDThh:mm:ss.nnnnnnnnnZ`.
pub fn format_instant(nanos: i128) -> String {
    let seconds = nanos.div_euclid(1_000_000_000);
    let fraction = nanos.rem_euclid(1_000_000_000);
    let days = seconds.div_euclid(86_400);
    let of_day = seconds.rem_euclid(86_400);
    // Any instant a FHIR server writes is within a few million days of 1970; clamped, a
    // nonsense one still formats.
    let (year, month, day) = civil_from_days(days.clamp(-100_000_000, 100_000_000) as i64);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{fraction:09}Z",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page_json(entries: &[(&str, &str)], next: Option<&str>) -> Vec<u8> {
        let entries: Vec<Value> = entries
            .iter()
            .map(|(id, version)| {
                serde_json::json!({
                    "fullUrl": format!("http://s/Observation/{id}"),
                    "request": {"method": "PUT", "url": format!("Observation/{id}")},
                    "response": {"status": "200", "etag": format!("W/\"{version}\""),
                                 "lastModified": "2026-11-30T02:15:53.2Z"},
                    "resource": {"resourceType": "Observation", "id": id, "meta": {"versionId": version},
                                 "status": "final"}
                })
            })
            .collect();
        let link: Vec<Value> = next.map(|n| serde_json::json!({"relation": "next", "url": n})).into_iter().collect();
        serde_json::to_vec(&serde_json::json!({"resourceType": "Bundle", "type": "history", "link": link,
            "entry": entries}))
        .unwrap()
    }

    #[test]
    fn a_history_is_followed_page_by_page_and_repeated_entries_are_kept_once() {
        let pages = [
            ("http://s/_history", page_json(&[("a", "2"), ("b", "1")], Some("http://s/_history?c=1"))),
            ("http://s/_history?c=1", page_json(&[("b", "1"), ("a", "1")], None)),
        ];
        let history = walk(HistoryPages::new("http://s", "http://s/_history"), |url| {
            Ok(pages.iter().find(|p| p.0 == url).unwrap().1.clone())
        })
        .unwrap();
        let read: Vec<(&str, &str)> =
            history.entries.iter().map(|e| (e.reference.as_str(), e.version.as_str())).collect();
        assert_eq!(read, [("Observation/a", "2"), ("Observation/b", "1"), ("Observation/a", "1")]);
        assert_eq!((history.pages, history.repeats), (2, 1));
    }

    #[test]
    fn a_history_whose_next_link_loops_is_refused() {
        let looping = page_json(&[("a", "1")], Some("http://s/_history?c=1"));
        let fetch = |_: &str| Ok(looping.clone());
        assert!(matches!(
            walk(HistoryPages::new("http://s", "http://s/_history"), fetch),
            Err(ServerError::Loop { page: 2, .. })
        ));
        // A cursor that moves but serves the same entries again is a loop too.
        let mut n = 0;
        let moving = |_: &str| {
            n += 1;
            Ok(page_json(&[("a", "1")], Some(&format!("http://s/_history?c={n}"))))
        };
        assert!(matches!(
            walk(HistoryPages::new("http://s", "http://s/_history"), moving),
            Err(ServerError::Loop { page: 2, .. })
        ));
    }

    #[test]
    fn a_next_link_off_the_server_or_an_entry_without_a_version_is_refused() {
        let away = page_json(&[("a", "1")], Some("http://elsewhere/_history"));
        assert!(matches!(
            walk(HistoryPages::new("http://s", "http://s/_history"), |_| Ok(away.clone())),
            Err(ServerError::BadPage { .. })
        ));
        let no_version = br#"{"resourceType":"Bundle","type":"history","entry":[{"request":{"method":"DELETE","url":"Observation/a"},"response":{"status":"204","lastModified":"2026-11-30T02:15:53Z"}}]}"#;
        let refused = walk(HistoryPages::new("http://s", "http://s/_history"), |_| Ok(no_version.to_vec()));
        assert!(matches!(refused, Err(ServerError::BadPage { problem, .. }) if problem.contains("no version id")));
    }

    #[test]
    fn links_written_with_the_servers_own_base_are_followed_on_the_given_one() {
        let mut first: Value =
            serde_json::from_slice(&page_json(&[("a", "2")], Some("http://own:8080/_history?c=1"))).unwrap();
        first["link"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"relation": "self", "url": "http://own:8080/_history?_count=1"}));
        let first = serde_json::to_vec(&first).unwrap();
        let second = page_json(&[("a", "1")], None);
        let mut asked = Vec::new();
        let history = walk(HistoryPages::new("http://alias", "http://alias/_history"), |url| {
            asked.push(url.to_string());
            Ok(if asked.len() == 1 { first.clone() } else { second.clone() })
        })
        .unwrap();
        assert_eq!(asked, ["http://alias/_history", "http://alias/_history?c=1"]);
        assert_eq!(history.entries.len(), 2);
        // Without a self link naming it, another base is another server.
        let elsewhere = page_json(&[("a", "2")], Some("http://own:8080/_history?c=1"));
        assert!(matches!(
            walk(HistoryPages::new("http://alias", "http://alias/_history"), |_| Ok(elsewhere.clone())),
            Err(ServerError::BadPage { .. })
        ));
    }

    #[test]
    fn a_deletion_is_an_entry_without_a_resource() {
        let body = br#"{"resourceType":"Bundle","type":"history","entry":[{"fullUrl":"http://s/Observation/a","request":{"method":"DELETE","url":"Observation/a"},"response":{"status":"204","etag":"W/\"3\"","lastModified":"2026-11-30T02:15:53.210068506+00:00"}}]}"#;
        let history = walk(HistoryPages::new("http://s", "http://s/_history"), |_| Ok(body.to_vec())).unwrap();
        let entry = &history.entries[0];
        assert_eq!((entry.reference.as_str(), entry.version.as_str()), ("Observation/a", "3"));
        assert!(entry.is_deletion());
    }

    #[test]
    fn instants_are_read_and_written_to_the_nanosecond() {
        let at = instant_nanos("2026-11-30T02:15:53.210068506+00:00").unwrap();
        assert_eq!(format_instant(at), "2026-11-30T02:15:53.210068506Z");
        assert_eq!(instant_nanos("2026-11-30T02:15:53.210068506Z"), Some(at));
        assert_eq!(instant_nanos("2026-11-30T03:15:53.21006850600+01:00"), Some(at));
        assert_eq!(instant_nanos("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(format_instant(-1), "1969-12-31T23:59:59.999999999Z");
        assert_eq!(
            instant_nanos("2024-02-29T00:00:00Z").map(format_instant).as_deref(),
            Some("2024-02-29T00:00:00.000000000Z")
        );
        for bad in ["", "2026-11-30", "2026-13-01T00:00:00Z", "2026-11-30T02:15:53.Z", "2026-11-30T02:15:53+0000"] {
            assert_eq!(instant_nanos(bad), None, "{bad}");
        }
    }
}

//! The explorer suites' helpers: a `custodia` serving an explorer, plain GETs of its API, and
//! its pages as Debian's Chromium shows them (scripts/browser/explorer-check.mjs).
#![allow(dead_code)] // only the explorer suites

use serde_json::Value;
use std::{
    io::{BufRead, BufReader, Read, Write},
    net::TcpStream,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

/// A running `custodia` that serves an explorer, stopped when dropped.
pub struct Serving {
    child: Child,
    /// Each `explorer…: URL` line it printed: (what, URL).
    links: Vec<(String, String)>,
}

impl Serving {
    /// Starts `custodia ARGS` (in `state`) and waits for the `explorer: http://…/` line.
    pub fn start(state: &Path, args: &[&str]) -> Serving {
        let mut child = Command::new(env!("CARGO_BIN_EXE_custodia"))
            .args(args)
            .env("CUSTODIA_STATE", state)
            .env_remove("CUSTODIA_NODE")
            .env_remove("CUSTODIA_KEY")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("custodia runs");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut links = Vec::new();
        for line in lines.by_ref() {
            let line = line.expect("a line of output");
            if let Some((what, url)) = line.strip_prefix("explorer").and_then(|rest| rest.split_once(": http")) {
                links.push((what.trim_start_matches(", ").to_string(), format!("http{url}")));
                if what.is_empty() {
                    break;
                }
            }
        }
        assert!(links.iter().any(|(what, _)| what.is_empty()), "the explorer never said where it listens");
        // Keep reading, so that the process never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Serving { child, links }
    }

    pub fn link(&self, what: &str) -> &str {
        &self.links.iter().find(|(w, _)| w == what).unwrap_or_else(|| panic!("no link for {what:?}")).1
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// GET `url` (plain HTTP on loopback): the status and the body.
pub fn get(url: &str) -> (u16, String) {
    request("GET", url, None)
}

/// `method` on `url`, with the `Host` header `host` (the URL's by default): the status and
/// the body.
pub fn request(method: &str, url: &str, host: Option<&str>) -> (u16, String) {
    let rest = url.strip_prefix("http://").expect("an http URL");
    let (address, path) = rest.split_once('/').map(|(h, p)| (h, format!("/{p}"))).unwrap_or((rest, "/".into()));
    let mut stream = TcpStream::connect(address).expect("the explorer answers");
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let host = host.unwrap_or(address);
    write!(stream, "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("a status line");
    let body = answer.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

/// The page at `url` as Chromium shows it (scripts/browser/explorer-check.mjs).
pub fn browse(url: &str, options: &[&str]) -> Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf();
    let script = root.join("scripts/browser/explorer-check.mjs");
    assert!(
        root.join("scripts/browser/node_modules/puppeteer-core").is_dir(),
        "scripts/browser's packages are missing: run `npm ci` there (scripts/test.sh does)"
    );
    let out = Command::new("node").arg(script).arg(url).args(options).output().expect("node runs");
    assert!(
        out.status.success(),
        "the browser check failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the browser check prints JSON")
}

pub fn screenshots() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

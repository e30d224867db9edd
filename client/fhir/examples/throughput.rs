//! Canonicalize-and-hash throughput on one core, over the FHIR fixtures.
//!
//! `cargo run --release -p custodia-fhir --example throughput [fixtures dir] [seconds]`
//! (scripts/figures.sh runs it). Prints MB/s of input JSON for: strict parse + validation +
//! canonical form (the current scheme) + SHA-256 of every resource (what an import does per
//! file), and canonical form + SHA-256 alone (resources already read), under each scheme.

use custodia_fhir::{canonical::Scheme, document};
use sha2::{Digest, Sha256};
use std::{path::PathBuf, time::Instant};

fn main() {
    let root = std::env::args().nth(1).map(PathBuf::from).unwrap_or_else(custodia_fixtures::fhir_dir);
    let seconds: f64 = std::env::args().nth(2).and_then(|s| s.parse().ok()).unwrap_or(3.0);
    let mut files = Vec::new();
    for dir in ["bundles", "documentreference", "consent"] {
        for entry in std::fs::read_dir(root.join(dir)).expect("the fixtures directory") {
            let path = entry.unwrap().path();
            files.push((path.display().to_string(), std::fs::read(&path).unwrap()));
        }
    }
    let bytes: usize = files.iter().map(|(_, b)| b.len()).sum();
    let documents: Vec<_> = files.iter().map(|(name, b)| document::parse(name, b).expect("valid fixtures")).collect();
    let resources: usize = documents.iter().map(|d| d.resources.len()).sum();
    println!("{} files, {resources} resources, {:.1} MB of JSON", files.len(), bytes as f64 / 1e6);

    let rate = |label: &str, work: &dyn Fn()| {
        work(); // warm up
        let start = Instant::now();
        let mut rounds = 0u32;
        while start.elapsed().as_secs_f64() < seconds {
            work();
            rounds += 1;
        }
        let elapsed = start.elapsed().as_secs_f64();
        let mb_s = bytes as f64 * f64::from(rounds) / elapsed / 1e6;
        let per_s = resources as f64 * f64::from(rounds) / elapsed;
        println!("{label:<58} {mb_s:>8.1} MB/s  {per_s:>10.0} resources/s");
    };
    rate("parse + validate + canonicalize + SHA-256 (per file)", &|| {
        for (name, b) in &files {
            let doc = document::parse(name, b).unwrap();
            for r in &doc.resources {
                std::hint::black_box(Sha256::digest(r.canonical(Scheme::CURRENT).unwrap()));
            }
        }
    });
    for scheme in Scheme::ALL {
        rate(&format!("canonicalize ({scheme:?}) + SHA-256 (resources already read)"), &|| {
            for doc in &documents {
                for r in &doc.resources {
                    std::hint::black_box(Sha256::digest(r.canonical(scheme).unwrap()));
                }
            }
        });
    }
}

//! Canonicalize-and-hash throughput of both schemes on one core, over the FHIR fixtures
//! (`examples/throughput.rs` measures scheme V1, from parsed resources):
//!
//! `cargo test --release -p custodia-fhir --test canonical_throughput -- --ignored --nocapture`
//!
//! with `CUSTODIA_FHIR_FIXTURES` naming the fixtures and `THROUGHPUT_SECONDS` (3) the time
//! per figure. MB/s of input JSON, as the example counts them.

use custodia_fhir::{
    canonical::{self, Scheme},
    document, json,
};
use std::{hint::black_box, path::PathBuf, time::Instant};

#[test]
#[ignore = "a measurement: run it in release, with --ignored --nocapture"]
fn throughput() {
    let root = std::env::var_os("CUSTODIA_FHIR_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/fhir"));
    let seconds: f64 = std::env::var("THROUGHPUT_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(3.0);
    let mut files = Vec::new();
    for dir in ["bundles", "documentreference", "consent"] {
        for entry in std::fs::read_dir(root.join(dir)).expect("the fixtures directory") {
            let path = entry.unwrap().path();
            files.push((path.display().to_string(), std::fs::read(&path).unwrap()));
        }
    }
    let bytes: usize = files.iter().map(|(_, b)| b.len()).sum();
    let documents: Vec<_> = files.iter().map(|(name, b)| document::parse(name, b).expect("valid fixtures")).collect();
    // Each resource's text: the file's, or its Bundle entry's.
    let texts: Vec<&[u8]> = files
        .iter()
        .flat_map(|(_, b)| match json::entry_resources(b).unwrap() {
            spans if spans.is_empty() => vec![&b[..]],
            spans => spans.into_iter().flatten().map(|r| &b[r]).collect(),
        })
        .collect();
    let resources: usize = documents.iter().map(|d| d.resources.len()).sum();
    assert_eq!(texts.len(), resources);
    let (v1_bytes, v2_bytes): (usize, usize) = documents
        .iter()
        .flat_map(|d| &d.resources)
        .zip(&texts)
        .map(|(r, t)| (canonical::bytes(&r.value).len(), canonical::bytes_with(Scheme::V2, t).unwrap().len()))
        .fold((0, 0), |(a, b), (x, y)| (a + x, b + y));
    println!(
        "{} files, {resources} resources, {:.1} MB of JSON; canonical form {:.1} MB (V1), {:.1} MB (V2)",
        files.len(),
        bytes as f64 / 1e6,
        v1_bytes as f64 / 1e6,
        v2_bytes as f64 / 1e6
    );

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
        println!("{label:<66} {mb_s:>8.1} MB/s  {per_s:>10.0} resources/s");
    };
    rate("V1: parse + validate + canonicalize + SHA-256 (per file)", &|| {
        for (name, b) in &files {
            for r in &document::parse(name, b).unwrap().resources {
                black_box(canonical::digest(&r.value));
            }
        }
    });
    rate("V2: parse + validate + entry texts + canonicalize + SHA-256 (per file)", &|| {
        for (name, b) in &files {
            let doc = document::parse(name, b).unwrap();
            let spans = json::entry_resources(b).unwrap();
            if spans.is_empty() {
                black_box(canonical::digest_with(Scheme::V2, b).unwrap());
            } else {
                for span in spans.into_iter().flatten() {
                    black_box(canonical::digest_with(Scheme::V2, &b[span]).unwrap());
                }
            }
            black_box(doc);
        }
    });
    rate("V1: canonicalize + SHA-256 (parsed resources)", &|| {
        for doc in &documents {
            for r in &doc.resources {
                black_box(canonical::digest(&r.value));
            }
        }
    });
    rate("V2: canonicalize + SHA-256 (resource texts)", &|| {
        for text in &texts {
            black_box(canonical::digest_with(Scheme::V2, text).unwrap());
        }
    });
    rate("V2: canonicalize alone (resource texts)", &|| {
        let mut out = Vec::new();
        for text in &texts {
            out.clear();
            canonical::write_with(Scheme::V2, text, &mut out).unwrap();
            black_box(&out);
        }
    });
}

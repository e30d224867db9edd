//! Import a FHIR R4 transaction Bundle (a Synthea patient) as record versions of its patient:
//! planned, committed in all-or-nothing batches of up to 64, resumable; then verify the file
//! against the chain. No name, identifier or birth date leaves the machine.
//!
//! `cargo run -p custodia-services --example fhir_import_bundle [bundle.json]`

mod common;

use custodia_services::{fhir_import::FhirImport, Result};
use std::path::PathBuf;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let path = std::env::args().nth(1).map(PathBuf::from).unwrap_or_else(|| {
        custodia_fixtures::fhir_files("bundles")
            .into_iter()
            .find(|p| p.to_string_lossy().contains("smart-synthea"))
            .expect("a fixture")
    });
    let document = custodia_fhir::document::read(&path)?;
    let net = common::network().await?;
    let import = FhirImport::new(&net.client, &net.store, &net.pseudonyms);
    let report = import.import(&document, &net.hospital, &mut |_| {}).await?;
    println!(
        "{}: {} resources, {} versions committed in {} transactions",
        report.file, report.resources, report.committed, report.transactions
    );
    let verdicts = import.verify(&document).await?;
    let matching = verdicts.iter().filter(|v| v.matches()).count();
    println!("verified: {matching} of {} match the chain", verdicts.len());
    assert_eq!(matching, verdicts.len());
    Ok(())
}

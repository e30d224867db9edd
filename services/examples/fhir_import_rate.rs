//! Import rate of FHIR resources on the embedded chain: every patient fixture (Synthea
//! Bundles, DocumentReferences, Consents) imported by one custodian, resources per second of
//! wall time, in batches of up to 64 versions per transaction.
//!
//! `cargo run -p custodia-services --example fhir_import_rate [fixtures dir]` (scripts/figures.sh).

use custodia_client::{
    deployment::{deploy, Bundles, Governance},
    types::directory::{Action, InstitutionKind, Role, Roles},
    verify::Pseudonyms,
    Backend, Client, Signer,
};
use custodia_sandbox::{SandboxBackend, SandboxClock};
use custodia_services::{fhir_import::FhirImport, Result, Store};
use std::{path::PathBuf, time::Instant};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let root = std::env::args().nth(1).map(PathBuf::from).unwrap_or_else(custodia_fixtures::fhir_dir);
    let mut documents = Vec::new();
    for dir in ["bundles", "documentreference", "consent"] {
        let mut paths: Vec<PathBuf> =
            std::fs::read_dir(root.join(dir)).expect("fixtures").map(|e| e.unwrap().path()).collect();
        paths.sort();
        for path in paths {
            documents.push(custodia_fhir::document::read(&path).expect("valid fixtures"));
        }
    }
    let backend = SandboxBackend::new(SandboxClock::deterministic());
    let admin = Signer::dev("alice")?;
    let hospital = Signer::from_uri("//Figures//Hospital")?;
    for signer in [&admin, &hospital] {
        backend.fund(&admin, signer.account(), 1_000_000_000_000_000_000).await?;
    }
    let governance = Governance { admins: vec![admin.account()], threshold: 1 };
    let deployment = deploy(&backend, &admin, &[], &governance, &Bundles::from_env(), b"figures", "embedded").await?;
    let client = Client::open(backend, deployment).await?;
    let store = Store::in_memory()?;
    let admit = Action::Admit {
        operator: hospital.account(),
        kind: InstitutionKind::Hospital,
        roles: Roles::of(&[Role::Custodian]),
    };
    let proposal = client.directory().propose(admit).submit(&admin).await?.value;
    client.directory().execute(proposal).submit(&admin).await?;

    let hospital_id = client.directory().membership(hospital.account()).query().await?.expect("admitted").institution;
    let pseudonyms = Pseudonyms::generate().for_custodian(hospital_id);
    let fhir = FhirImport::new(&client, &store, &pseudonyms);
    let (mut resources, mut transactions, mut bytes) = (0, 0, 0);
    let start = Instant::now();
    for document in &documents {
        let report = fhir.import(document, &hospital, &mut |_| {}).await?;
        resources += report.committed;
        transactions += report.transactions;
        bytes += document.resources.iter().map(|r| r.json.len()).sum::<usize>();
    }
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "{} files, {resources} versions in {transactions} batch transactions, {:.1} MB of JSON: {seconds:.1} s, {:.0} resources/s",
        documents.len(),
        bytes as f64 / 1e6,
        resources as f64 / seconds
    );
    Ok(())
}

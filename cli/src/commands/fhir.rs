//! `custodia fhir`.

use super::parse::*;
use crate::{
    context::Context,
    output::{self, Out},
};
use clap::Subcommand;
use custodia_client::types::records::VersionRef;
use custodia_services::{index::Index, outbox::Outbox, patient_links::Links, Error, Result};
use serde_json::json;
use std::{path::PathBuf, process::ExitCode};

// --- FHIR ------------------------------------------------------------------------------------

#[derive(Subcommand)]
pub enum FhirCommand {
    /// Commit every resource of FHIR R4 files (Bundles or single resources) as record versions
    /// of their patient (custodians). Re-importing commits only what changed.
    Import {
        /// Files or directories (every *.json below them).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Re-hash local copies, or what a FHIR server serves (--server), and compare them with
    /// the chain: Match, Mismatch, Erased, Unknown; for a server also Gap (a version the chain
    /// holds that the server no longer has), Skipped and Refused (see `custodia sync`).
    Verify {
        /// Files or directories.
        #[arg(required_unless_present = "server", conflicts_with = "server")]
        paths: Vec<PathBuf>,
        /// A FHIR server followed by `custodia sync` (its base URL, spelt as for sync).
        #[arg(long)]
        server: Option<String>,
        /// With --server: every version in its history, not only the current ones.
        #[arg(long, requires = "server")]
        history: bool,
        /// With --server: only this patient's resources (the server's Patient id).
        #[arg(long, requires = "server")]
        patient: Option<String>,
    },
    /// Grant the receipts a FHIR R4 Consent describes (the patient's controller); reports
    /// what the chain cannot hold.
    ConsentImport {
        file: PathBuf,
        /// JSON map of local actor references to institution ids ({"Organization/f001": 3});
        /// default: institutions.json in the state directory.
        #[arg(long)]
        institutions: Option<PathBuf>,
    },
    /// A patient's receipts as FHIR R4 Consent resources (a collection Bundle).
    ConsentExport { patient: String },
    /// Log the accesses FHIR AuditEvents describe (one file or a Bundle), through the outbox.
    AuditImport {
        file: PathBuf,
        #[arg(long)]
        institutions: Option<PathBuf>,
    },
    /// Access-log entries as IHE BALP AuditEvents (a searchset Bundle).
    AuditExport {
        #[arg(long, default_value_t = 0)]
        from: u64,
        #[arg(long, default_value_t = 100)]
        limit: u64,
    },
    /// A record's supersedence links as FHIR Provenance resources.
    ProvenanceExport { record: String },
}

fn institutions(ctx: &Context, path: Option<PathBuf>) -> Result<std::collections::HashMap<String, u32>> {
    let path = path.unwrap_or_else(|| ctx.path("institutions.json"));
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| Error::Input(format!("{}: {e}", path.display()))),
        Err(_) => Ok(Default::default()),
    }
}

fn read_json(path: &PathBuf) -> Result<serde_json::Value> {
    custodia_fhir::json::parse(&read(path)?).map_err(|p| Error::Input(format!("{}: {p}", path.display())))
}

fn json_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let entries = std::fs::read_dir(path).map_err(|e| custodia_client::Error::io(path, e))?;
            let mut inner: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
            inner.sort();
            let nested: Vec<PathBuf> =
                inner.into_iter().filter(|p| p.is_dir() || p.extension().is_some_and(|e| e == "json")).collect();
            files.extend(json_files(&nested)?);
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

/// Reads and checks every file first: one bad file stops the import before anything is
/// committed, with every problem listed.
fn documents(paths: &[PathBuf]) -> Result<Vec<custodia_fhir::document::Document>> {
    let mut documents = Vec::new();
    let mut problems = Vec::new();
    for file in json_files(paths)? {
        match custodia_fhir::document::read(&file) {
            Ok(document) => documents.push(document),
            Err(problem) => problems.push(problem.to_string()),
        }
    }
    match problems.is_empty() {
        true => Ok(documents),
        false => Err(Error::Input(format!(
            "nothing was committed; {} file(s) refused:\n  {}",
            problems.len(),
            problems.join("\n  ")
        ))),
    }
}

/// `custodia fhir verify --server`: what the server serves against the chain.
async fn verify_server(
    out: &Out,
    client: &custodia_client::Client<crate::backend::AnyBackend>,
    store: &custodia_services::Store,
    pseudonyms: &custodia_client::verify::Pseudonyms,
    server: &str,
    history: bool,
    patient: Option<String>,
) -> Result<ExitCode> {
    use custodia_services::{
        fhir_server::{FhirServer, Retry},
        server_verify::{verify, Scope},
        sync::{FollowOptions, Follower},
    };
    let server = FhirServer::new(server, Retry::default());
    let follower = Follower::new(client, store, pseudonyms, &server, FollowOptions::default());
    let report = verify(&follower, &Scope { history, patient }).await?;
    let counts = report.counts.iter().map(|(kind, n)| format!("{n} {kind}")).collect::<Vec<_>>().join(", ");
    let mut lines = vec![format!("{}: {} version(s) checked: {counts}", server.base(), report.verdicts.len())];
    for v in report.verdicts.iter().filter(|v| v.verification != "Match" && v.verification != "Skipped") {
        lines.push(format!("  {} v{}: {}", v.resource, v.version, v.verification));
    }
    out.show(lines.join("\n"), json!(report));
    Ok(if report.clean() { ExitCode::SUCCESS } else { ExitCode::from(crate::MISMATCH) })
}

pub async fn run(ctx: &Context, command: FhirCommand) -> Result<ExitCode> {
    use custodia_services::fhir_import::{FhirImport, ImportStage};
    let out = Out { json: ctx.global.json };
    let client = ctx.client().await?;
    let store = ctx.store(&client)?;
    let pseudonyms = Links::new(&store).apply(ctx.institution_pseudonyms(&client, None).await?)?;
    let fhir = FhirImport::new(&client, &store, &pseudonyms);
    match command {
        FhirCommand::Import { paths } => {
            let documents = documents(&paths)?;
            let signer = ctx.signer()?;
            let total: usize = documents.iter().map(|d| d.resources.len()).sum();
            let bar = output::progress(&out, total as u64);
            let mut reports = Vec::new();
            let links = Links::new(&store);
            for document in &documents {
                bar.set_message(document.file.clone());
                let mut hook = |stage: ImportStage| {
                    if let ImportStage::Committed { versions } = stage {
                        bar.inc(versions as u64);
                        super::crash_if_at("import-batch");
                    }
                };
                // A patient who presented her Custodia id here: linked first (or refused), so
                // that the whole file goes under it.
                let report = match links.link_presented(&client, &signer, &pseudonyms, document).await? {
                    Some(_) => {
                        let linked = links.apply(pseudonyms.clone())?;
                        FhirImport::new(&client, &store, &linked).import(document, &signer, &mut hook).await?
                    }
                    None => fhir.import(document, &signer, &mut hook).await?,
                };
                bar.inc((report.resources - report.committed) as u64);
                reports.push(report);
            }
            bar.finish_and_clear();
            let text = reports
                .iter()
                .map(|r| {
                    format!(
                        "{}: {} resources, {} committed ({} superseding), {} unchanged{}",
                        r.file,
                        r.resources,
                        r.committed,
                        r.superseded,
                        r.unchanged,
                        if r.resumed { ", resumed" } else { "" }
                    )
                })
                .collect::<Vec<_>>()
                .join("\n");
            out.show(text, json!(reports));
        }
        FhirCommand::Verify { server: Some(server), history, patient, .. } => {
            return verify_server(&out, &client, &store, &pseudonyms, &server, history, patient).await;
        }
        FhirCommand::Verify { paths, .. } => {
            let documents = documents(&paths)?;
            let mut all = Vec::new();
            let mut lines = Vec::new();
            for document in &documents {
                let verdicts = fhir.verify(document).await?;
                let bad = verdicts.iter().filter(|v| !v.matches()).count();
                lines.push(format!("{}: {} resources, {} not matching", document.file, verdicts.len(), bad));
                for v in verdicts.iter().filter(|v| !v.matches()) {
                    lines.push(format!(
                        "  {} v{}: {}",
                        v.resource,
                        v.version.map(|n| n.to_string()).unwrap_or_else(|| "-".into()),
                        v.verification
                    ));
                }
                all.push(json!({"file": document.file, "resources": verdicts}));
            }
            let failed = all
                .iter()
                .flat_map(|f| f["resources"].as_array().cloned().unwrap_or_default())
                .any(|v| v["verification"] != "Match");
            out.show(lines.join("\n"), json!(all));
            if failed {
                return Ok(ExitCode::from(crate::MISMATCH));
            }
        }
        FhirCommand::ConsentImport { file, institutions: map } => {
            let resolver = custodia_services::fhir_import::Resolver {
                pseudonyms: &pseudonyms,
                institutions: institutions(ctx, map)?,
            };
            let value = read_json(&file)?;
            let done = custodia_services::consent_import::import(&client, &value, &resolver, &ctx.signer()?).await?;
            let mut text = match done.already.is_empty() {
                true => format!("{}: receipts {:?}", file.display(), done.receipts),
                false => format!(
                    "{}: imported before, as receipts {:?}; nothing granted again",
                    file.display(),
                    done.already
                ),
            };
            for u in &done.unmapped {
                text.push_str(&format!("\n  not on chain: {}: {}", u.element, u.reason));
            }
            out.show(text, json!(done));
        }
        FhirCommand::ConsentExport { patient } => {
            use custodia_fhir::mapping::consent;
            let receipts = client.consents().all_receipts(ctx.patient(&patient)?, false).await?;
            let entries: Vec<serde_json::Value> =
                receipts.iter().map(|r| json!({"resource": consent::from_receipt(r.id, &r.receipt)})).collect();
            let bundle = json!({"resourceType": "Bundle", "type": "collection", "entry": entries});
            crate::say!("{}", serde_json::to_string_pretty(&bundle).expect("JSON serialises"));
        }
        FhirCommand::AuditImport { file, institutions: map } => {
            let resolver = custodia_services::fhir_import::Resolver {
                pseudonyms: &pseudonyms,
                institutions: institutions(ctx, map)?,
            };
            let value = read_json(&file)?;
            let import = custodia_services::audit_import::accesses_from(&value, &resolver);
            let events = import.events.len();
            let report = import.events;
            let drained = Outbox::new(&client, &store).record(&ctx.signer()?, &import.accesses).await?;
            out.show(
                format!(
                    "{} of {} event(s) logged from leaf {:?}\n{}",
                    drained.appended,
                    events,
                    drained.first_index,
                    serde_json::to_string_pretty(&report).expect("JSON serialises")
                ),
                json!({"appended": drained.appended, "first_index": drained.first_index, "events": report}),
            );
        }
        FhirCommand::AuditExport { from, limit } => {
            use custodia_fhir::mapping::audit;
            let index = Index::new(&client, &store);
            index.sync().await?;
            let entries: Vec<serde_json::Value> = index
                .entries(from, from.saturating_add(limit))?
                .iter()
                .map(|(i, e)| json!({"resource": audit::from_entry(*i, e)}))
                .collect();
            let bundle =
                json!({"resourceType": "Bundle", "type": "searchset", "total": entries.len(), "entry": entries});
            crate::say!("{}", serde_json::to_string_pretty(&bundle).expect("JSON serialises"));
        }
        FhirCommand::ProvenanceExport { record } => {
            use custodia_fhir::mapping::provenance;
            let id = ctx.record(&client, &record).await?;
            let custodian = client.records().record(id).query().await?.map(|r| r.custodian).unwrap_or_default();
            let resources: Vec<serde_json::Value> = client
                .records()
                .history(id)
                .await?
                .iter()
                .filter_map(|(n, v, _)| {
                    let link = v.supersedes.as_ref()?;
                    Some(json!({"resource": provenance::to_provenance(VersionRef { record: id, version: *n }, link, v.committed_at, &format!("Organization/custodia-institution-{custodian}"))}))
                })
                .collect();
            crate::say!(
                "{}",
                serde_json::to_string_pretty(
                    &json!({"resourceType": "Bundle", "type": "collection", "entry": resources})
                )
                .expect("JSON serialises")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

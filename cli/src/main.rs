//! `custodia`: deploy and use a Custodia suite from the command line, on the embedded chain
//! (default) or a node (`--node ws://…`). `custodia demo` tells the whole story.
//!
//! One module per command group (`commands/`), each a thin handler over library calls
//! (`custodia-client`, `custodia-services`); this file parses, dispatches, and turns errors
//! into messages with hints and exit codes: 0 done, 1 failed, 2 a verification that did not
//! match.

mod backend;
mod commands;
mod context;
mod demo;
mod output;

use clap::{Parser, Subcommand};
use commands::{access, chain, consent, deploy, directory, explorer, fhir, gateway, patient, record, store, sync};
use context::{Context, Global};
use custodia_services::Error;
use std::process::ExitCode;

/// The exit code of a verification that did not match.
pub const MISMATCH: u8 = 2;

#[derive(Parser)]
#[command(
    name = "custodia",
    version,
    about = "Custodia: health-record commitments, consents and access logs on a permissioned chain"
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Tell the whole story on a fresh deployment and print a timeline.
    Demo {
        /// A FHIR R4 server (an empty one: the demo writes to it) for the chapter where a
        /// clinician's system writes and the ledger follows; `scripts/demo.sh` starts one when
        /// Helios HFS is installed.
        #[arg(long)]
        fhir_server: Option<String>,
        /// After the story, serve the patient explorer over its chain here (e.g.
        /// 127.0.0.1:8480) until stopped, and print the two patients' pages.
        #[arg(long, value_name = "ADDRESS")]
        explorer: Option<std::net::SocketAddr>,
    },
    /// Upload and instantiate the four contracts, wired together; write deployment.json.
    Deploy(deploy::DeployArgs),
    /// The chain's own governance where a council governs code: members, motions, approvals.
    #[command(subcommand)]
    Chain(chain::ChainCommand),
    /// Governance, institutions, accounts and patients.
    #[command(subcommand)]
    Directory(directory::DirectoryCommand),
    /// A patient's identity: who controls it, keys, guardians, recoveries and vetoes.
    #[command(subcommand)]
    Patient(patient::PatientCommand),
    /// Record versions: commit, supersede, erase, show, history, verify.
    #[command(subcommand)]
    Record(record::RecordCommand),
    /// Consent receipts: grant, revoke, check, list.
    #[command(subcommand)]
    Consent(consent::ConsentCommand),
    /// The access log: record (through the outbox), flush, list, prove, verify.
    #[command(subcommand)]
    Access(access::AccessCommand),
    /// FHIR R4: import files as record versions, verify local copies.
    #[command(subcommand)]
    Fhir(fhir::FhirCommand),
    /// Follow a FHIR server: commit every version it stores, once (`--once` for one pass).
    Sync(sync::SyncArgs),
    /// The consent-enforcing FHIR gateway in front of a FHIR server (`--config FILE`): reads
    /// decided on chain and logged, writes by the custodian committed; runs until stopped.
    Gateway(gateway::GatewayArgs),
    /// The patient explorer: a page and a read-only JSON API where a patient sees who stored,
    /// shared and read their records and checks each access in the browser; runs until stopped.
    Explorer(explorer::ExplorerArgs),
    /// The local store: backup and restore.
    #[command(subcommand)]
    Store(store::StoreCommand),
}

/// What to try next, for the errors a person can act on.
fn hint(error: &Error) -> Option<String> {
    use custodia_client::{
        error::{DeploymentError, KeyError},
        Error as Client,
    };
    match error {
        Error::Client(Client::Deployment(DeploymentError::Unreadable { .. })) => {
            Some("run `custodia deploy` first (or point --state at the directory holding deployment.json)".into())
        }
        Error::Client(Client::Key(KeyError::Missing)) => Some(
            "which key signs? pass --as <development name | keystore file | secret URI> or set CUSTODIA_KEY".into(),
        ),
        Error::Client(Client::Connection { .. }) => Some(
            "is the node running? scripts/chain-start.sh starts a local one; without --node the embedded chain is used"
                .into(),
        ),
        Error::Client(Client::Deployment(_)) => Some(
            "run `custodia deploy` (or point --state at the directory holding deployment.json); contract bundles: \
             scripts/build-contracts.sh or CUSTODIA_BUNDLES"
                .into(),
        ),
        Error::Client(Client::Key(_)) => Some(
            "keys: --as alice (development), --as path/to/keyfile (chmod 600, one secret URI), or --as '<mnemonic>'"
                .into(),
        ),
        Error::Client(Client::Contract(_)) => Some("nothing was submitted; the contract's reason is above".into()),
        Error::QueuedEntryRefused { seq, .. } => {
            Some(format!("drop it with `custodia access discard {seq}` (later entries are renumbered)"))
        }
        Error::QueuedOffline { .. } => Some("`custodia access flush` submits them once the chain is back".into()),
        Error::SequenceConflict { .. } => Some(
            "another engine logs under this key (give each engine its own account); `custodia access flush` logs the requeued entries"
                .into(),
        ),
        Error::Server(_) => Some(
            "is the FHIR server running and is --server its base URL? nothing was skipped: the next run resumes where the last recorded batch left off"
                .into(),
        ),
        Error::WrongStore => Some("use another state directory (--state) for another chain or deployment".into()),
        _ => None,
    }
}

async fn run(ctx: &Context, command: Command) -> custodia_services::Result<ExitCode> {
    match command {
        Command::Demo { fhir_server, explorer } => demo::run(ctx, fhir_server.as_deref(), explorer).await,
        Command::Deploy(args) => deploy::run(ctx, args).await,
        Command::Chain(command) => chain::run(ctx, command).await,
        Command::Directory(command) => directory::run(ctx, command).await,
        Command::Patient(command) => patient::run(ctx, command).await,
        Command::Record(command) => record::run(ctx, command).await,
        Command::Consent(command) => consent::run(ctx, command).await,
        Command::Access(command) => access::run(ctx, command).await,
        Command::Fhir(command) => fhir::run(ctx, command).await,
        Command::Store(command) => store::run(ctx, command).await,
        Command::Sync(args) => sync::run(ctx, args).await,
        Command::Gateway(args) => gateway::run(&ctx.global, args).await,
        Command::Explorer(args) => explorer::run(ctx, args).await,
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.global.json;
    let result = match Context::new(cli.global) {
        Ok(ctx) => run(&ctx, cli.command).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            if json {
                let contract = error.contract().map(|c| format!("{c:?}"));
                say!(
                    "{}",
                    serde_json::json!({"error": error.to_string(), "contract_error": contract, "hint": hint(&error)})
                );
            } else {
                eprintln!("error: {error}");
                if let Some(hint) = hint(&error) {
                    eprintln!("hint: {hint}");
                }
            }
            ExitCode::FAILURE
        }
    }
}

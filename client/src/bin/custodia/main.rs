//! `custodia`: deploy and use a Custodia suite from the command line, on the embedded chain
//! (default) or a node (`--node ws://…`). `custodia demo` tells the whole story.

mod commands;
mod context;
mod demo;
mod output;

use clap::{Parser, Subcommand};
use context::{Context, Global};
use custodia_client::Error;

#[derive(Parser)]
#[command(name = "custodia", version, about = "Custodia: health-record commitments, consents and access logs on a permissioned chain")]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Tell the whole story on a fresh deployment and print a timeline.
    Demo,
    /// Upload and instantiate the four contracts, wired together; write deployment.json.
    Deploy(commands::DeployArgs),
    /// Governance, institutions, accounts and patients.
    #[command(subcommand)]
    Directory(commands::DirectoryCommand),
    /// Record versions: commit, supersede, erase, show, history, verify.
    #[command(subcommand)]
    Record(commands::RecordCommand),
    /// Consent receipts: grant, revoke, check, list.
    #[command(subcommand)]
    Consent(commands::ConsentCommand),
    /// The access log: record (through the outbox), flush, list, prove, verify.
    #[command(subcommand)]
    Access(commands::AccessCommand),
    /// FHIR R4: import files as record versions, verify local copies.
    #[command(subcommand)]
    Fhir(commands::FhirCommand),
}

fn hint(error: &Error) -> Option<&'static str> {
    match error {
        Error::Connection(_) => Some("is the node running? scripts/chain-start.sh starts a local one; without --node the embedded chain is used"),
        Error::Deployment(_) => Some("run `custodia deploy` (or point --state at the directory holding deployment.json)"),
        Error::Key(_) => Some("keys: --as alice (development), --as path/to/keyfile (chmod 600, one secret URI), or --as '<mnemonic>'"),
        Error::Contract(_) => Some("nothing was submitted; the contract's reason is above"),
        _ => None,
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let cli = Cli::parse();
    let json = cli.global.json;
    let result = match Context::new(cli.global) {
        Ok(ctx) => match cli.command {
            Command::Demo => demo::run(&ctx).await,
            Command::Deploy(args) => commands::deploy(&ctx, args).await,
            Command::Directory(command) => commands::directory(&ctx, command).await,
            Command::Record(command) => commands::record(&ctx, command).await,
            Command::Consent(command) => commands::consent(&ctx, command).await,
            Command::Access(command) => commands::access(&ctx, command).await,
            Command::Fhir(command) => commands::fhir(&ctx, command).await,
        },
        Err(e) => Err(e),
    };
    if let Err(error) = result {
        if json {
            let contract = error.contract().map(|c| format!("{c:?}"));
            println!("{}", serde_json::json!({"error": error.to_string(), "contract_error": contract, "hint": hint(&error)}));
        } else {
            eprintln!("error: {error}");
            if let Some(hint) = hint(&error) {
                eprintln!("hint: {hint}");
            }
        }
        std::process::exit(1);
    }
}

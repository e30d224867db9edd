//! `custodia gateway`: the consent-enforcing FHIR gateway (`custodia_services::gateway`) in
//! front of a FHIR server, configured by one file; it hosts the sync follower and the outbox.
//! Stops on SIGTERM or Ctrl-C, draining the outbox.

use crate::{
    backend::AnyBackend,
    context::{Context, Global},
};
use custodia_client::Backend;
use custodia_services::{
    fhir_server::{FhirServer, Retry},
    gateway::{config::Config, Gateway},
    patient_links::Links,
    sync::{FollowOptions, Follower},
    Error, Result,
};
use std::{path::PathBuf, process::ExitCode};

#[derive(clap::Args)]
pub struct GatewayArgs {
    /// The configuration file (JSON; see the README's gateway section).
    #[arg(long)]
    config: PathBuf,
}

pub async fn run(global: &Global, args: GatewayArgs) -> Result<ExitCode> {
    let config = Config::load(&args.config).map_err(|e| Error::Input(e.to_string()))?;
    let ctx =
        Context::new(Global { state: config.state.clone(), node: config.node.clone(), key: None, json: global.json })?;
    let client = ctx.client().await?;
    if let AnyBackend::Sandbox(chain) = client.backend() {
        // The embedded chain is a development chain: it funds whoever signs.
        let signers = std::iter::once(&config.custodian).chain(config.clients.iter().map(|(_, signer)| signer));
        for signer in signers {
            chain.fund(signer, signer.account(), 1_000_000_000_000_000).await?;
        }
    }
    let store = ctx.store(&client)?;
    let pseudonyms =
        Links::new(&store).apply(ctx.institution_pseudonyms(&client, Some(config.custodian.account())).await?)?;
    let server = FhirServer::new(&config.upstream, Retry::default());
    let follower = Follower::new(&client, &store, &pseudonyms, &server, FollowOptions::default());
    let gateway = Gateway::new(&config, &client, &store, &follower)?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| Error::Input(format!("cannot listen on {}: {e}", config.listen)))?;
    gateway.serve(listener, stop_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

/// SIGTERM or SIGINT.
pub async fn stop_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => std::future::pending().await,
    }
}

//! `custodia explorer`: the patient explorer (`custodia_services::explorer`) over the state
//! directory's deployment, on the embedded chain or a node, following new blocks until
//! stopped (SIGTERM or Ctrl-C). Its index lives in its own store file (`explorer.redb`), so it
//! runs beside the process that holds the client's store.

use crate::{backend::AnyBackend, context::Context};
use custodia_client::{types::PatientId, Client};
use custodia_services::{
    explorer::{assets_dir, Explorer, Names, RootSource},
    Error, Result, Store,
};
use std::{net::SocketAddr, path::PathBuf, process::ExitCode, time::Duration};

#[derive(clap::Args)]
pub struct ExplorerArgs {
    /// Where to serve the page and the API (127.0.0.1 only by default; port 0 picks one).
    #[arg(long, default_value = "127.0.0.1:8480")]
    listen: SocketAddr,
    /// Words for the ids the chain keeps opaque: institutions' names and code tables (JSON:
    /// `{"institutions": {"1": "St Mary's"}, "codes": {"0x…": "Blood count"}}`).
    #[arg(long)]
    names: Option<PathBuf>,
    /// How often to read new blocks, in milliseconds.
    #[arg(long, default_value_t = 2000)]
    follow_ms: u64,
    /// The node the page asks for roots, if not the one this explorer reads (its WebSocket
    /// URL as the patient's browser reaches it).
    #[arg(long)]
    browser_node: Option<String>,
}

pub async fn run(ctx: &Context, args: ExplorerArgs) -> Result<ExitCode> {
    let names = match &args.names {
        Some(path) => Names::load(path)?,
        None => Names::default(),
    };
    let client = ctx.client().await?;
    let roots = args.browser_node.or_else(|| ctx.node_url()).map_or(RootSource::Server, RootSource::Node);
    let store = Store::open_for(&ctx.path("explorer.redb"), client.deployment())?;
    let explorer = Explorer::new(&client, &store, names, roots).with_assets(&assets_dir());
    serve(&client, &explorer, args.listen, args.follow_ms, &[]).await?;
    Ok(ExitCode::SUCCESS)
}

/// Indexes what is on chain, then serves `explorer` on `listen` while following new blocks
/// every `follow_ms`, until SIGTERM or Ctrl-C. Prints the address (`explorer: http://…/`, the
/// line a script waits for) and a page link for each of `patients`.
pub async fn serve(
    client: &Client<AnyBackend>,
    explorer: &Explorer<'_, AnyBackend>,
    listen: SocketAddr,
    follow_ms: u64,
    patients: &[(&str, PatientId)],
) -> Result<()> {
    explorer.sync().await?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| Error::Input(format!("cannot listen on {listen}: {e}")))?;
    let address = listener.local_addr().map_err(|e| Error::Input(format!("no local address: {e}")))?;
    for (who, patient) in patients {
        crate::say!("explorer, {who}: http://{address}/patient/0x{}", hex::encode(patient.as_bytes()));
    }
    crate::say!("explorer: http://{address}/");
    let follow = async {
        loop {
            tokio::time::sleep(Duration::from_millis(follow_ms)).await;
            if let AnyBackend::Sandbox(chain) = client.backend() {
                // Other processes seal the embedded chain's blocks into its file.
                if let Err(e) = chain.reload() {
                    eprintln!("explorer: cannot read the embedded chain: {e}");
                    continue;
                }
            }
            if let Err(e) = explorer.sync().await {
                eprintln!("explorer: cannot read new blocks: {e}");
            }
        }
    };
    tokio::select! {
        served = explorer.serve(listener, crate::commands::gateway::stop_signal()) => served,
        () = follow => Ok(()),
    }
}

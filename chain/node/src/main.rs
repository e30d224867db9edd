//! `custodia-node`: a validator or RPC node of a Custodia consortium chain. Aura produces
//! blocks, GRANDPA finalizes them, the consortium runtime (chain/runtime) runs them; the chain
//! spec is a raw genesis that `scripts/chain/genesis.mjs` writes for a consortium, and node
//! authorization (in the runtime, enforced here with `--reserved-only`) keeps peering to the
//! members' nodes. `scripts/network.sh` runs a local network of them.

mod rpc;
mod service;

use clap::Parser;
use sc_cli::SubstrateCli;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    subcommand: Option<Subcommand>,
    #[command(flatten)]
    run: sc_cli::RunCmd,
}

#[derive(Debug, clap::Subcommand)]
enum Subcommand {
    /// Key management: a node key's peer id (`key inspect-node-key`), session keys.
    #[command(subcommand)]
    Key(sc_cli::KeySubcommand),
    /// Delete the chain's database.
    PurgeChain(sc_cli::PurgeChainCmd),
}

impl SubstrateCli for Cli {
    fn impl_name() -> String {
        "Custodia consortium node".into()
    }

    fn impl_version() -> String {
        env!("CARGO_PKG_VERSION").into()
    }

    fn description() -> String {
        env!("CARGO_PKG_DESCRIPTION").into()
    }

    fn author() -> String {
        "Custodia".into()
    }

    fn support_url() -> String {
        "the project's README".into()
    }

    fn copyright_start_year() -> i32 {
        2026
    }

    /// `--chain` names a raw chain spec file (scripts/chain/genesis.mjs writes one); there are
    /// no built-in chains.
    fn load_spec(&self, id: &str) -> Result<Box<dyn sc_service::ChainSpec>, String> {
        if id.is_empty() {
            return Err("--chain <genesis.json> is required: a consortium's raw chain spec".into());
        }
        Ok(Box::new(sc_service::GenericChainSpec::<Option<()>>::from_json_file(PathBuf::from(id))?))
    }
}

fn main() -> sc_cli::Result<()> {
    let cli = Cli::parse();
    match &cli.subcommand {
        Some(Subcommand::Key(cmd)) => cmd.run(&cli),
        Some(Subcommand::PurgeChain(cmd)) => {
            let runner = cli.create_runner(cmd)?;
            runner.sync_run(|config| cmd.run(config.database))
        }
        None => {
            let runner = cli.create_runner(&cli.run)?;
            runner
                .run_node_until_exit(|config| async move { service::new_full(config).map_err(sc_cli::Error::Service) })
        }
    }
}

//! `custodia deploy`.

use crate::backend::AnyBackend;
use crate::{
    context::Context,
    output::{self, hex32, Out},
};
use clap::Args;
use custodia_client::{
    deployment::{deploy as deploy_suite, Bundles, Governance},
    keys::ss58,
    verify::CodeKey,
    Backend, Deployment, Signer,
};
use custodia_services::Result;
use std::{path::PathBuf, process::ExitCode};

// --- deploy ----------------------------------------------------------------------------------

#[derive(Args)]
pub struct DeployArgs {
    /// The directory's admins (accounts or keys), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "alice,bob,charlie")]
    admins: Vec<String>,
    /// Approvals a governance proposal needs.
    #[arg(long, default_value_t = 2)]
    threshold: u32,
    /// Directory holding the contract bundles (`<name>.wasm`).
    #[arg(long, env = "CUSTODIA_BUNDLES")]
    bundles: Option<PathBuf>,
    /// On a chain whose council governs code: keys of other council members that approve the
    /// deployment's motion here (comma-separated). Without enough of them the command reports
    /// the open motion; members approve it (`custodia chain approve`), then the same command
    /// with the same `--salt` finishes the deployment.
    #[arg(long, value_delimiter = ',')]
    approvers: Vec<String>,
    /// Makes the contracts' addresses unique (hex); random if not given.
    #[arg(long, value_parser = salt)]
    salt: Option<Salt>,
}

/// A deployment's salt, given in hex.
#[derive(Clone)]
struct Salt(Vec<u8>);

fn salt(text: &str) -> std::result::Result<Salt, String> {
    hex::decode(text.trim_start_matches("0x")).map(Salt).map_err(|e| format!("--salt wants hex: {e}"))
}

pub async fn run(ctx: &Context, args: DeployArgs) -> Result<ExitCode> {
    let out = Out { json: ctx.global.json };
    let signer = ctx.signer()?;
    let admins = args.admins.iter().map(|a| ctx.account(a)).collect::<Result<Vec<_>>>()?;
    let bundles = args.bundles.map(Bundles::at).unwrap_or_else(Bundles::from_env);
    let approvers = args.approvers.iter().map(|k| Signer::resolve(k)).collect::<Result<Vec<_>, _>>()?;
    let backend = ctx.backend().await?;
    if let AnyBackend::Sandbox(_) = backend {
        // The embedded chain's deployer funds itself (it is the chain's only user).
        backend.fund(&signer, signer.account(), 1_000_000_000_000_000).await?;
    }
    let salt = args.salt.map(|s| s.0).unwrap_or_else(|| custodia_client::verify::new_salt().to_vec());
    let deployment = deploy_suite(
        &backend,
        &signer,
        &approvers,
        &Governance { admins, threshold: args.threshold },
        &bundles,
        &salt,
        &ctx.endpoint(),
    )
    .await?;
    // The network's code key: its members derive category codes with it (it goes to each of
    // them over a confidential channel; the deployment file names its fingerprint only).
    let codes = CodeKey::load_or_create(&ctx.code_key_path())?;
    let deployment = Deployment { code_key: Some(codes.fingerprint()), ..deployment };
    deployment.save(&ctx.deployment_path())?;
    let mut text = format!("deployed on chain {} at block #{}:", hex32(&deployment.chain), deployment.block);
    for (name, d) in deployment.contracts() {
        text.push_str(&format!("\n  {name:<10} {} (code {})", ss58(&d.address), output::short(&d.code_hash)));
    }
    text.push_str(&format!(
        "\nthe network's code key is {} (fingerprint {}): give it to each member institution over a confidential channel",
        ctx.code_key_path().display(),
        hex32(&codes.fingerprint())
    ));
    if let Some(p) = deployment.attach_proposal {
        text.push_str(&format!("\nproposal #{p} attaches the records registry; it needs the other admins' approvals: `custodia directory approve {p}` then `execute {p}`"));
    }
    out.show(text, serde_json::to_value(&deployment).expect("a deployment serialises"));
    Ok(ExitCode::SUCCESS)
}

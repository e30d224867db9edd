//! `custodia store`: back up and restore the local store.

use crate::{context::Context, output::Out};
use custodia_services::{restore, Error, Result, Store};
use serde_json::json;
use std::{path::PathBuf, process::ExitCode};

#[derive(clap::Subcommand)]
pub enum StoreCommand {
    /// Write a consistent copy of the local store (salts, outbox, index, imports) to FILE, a
    /// new file (mode 600). Without the salts no committed version can ever be checked.
    Backup { file: PathBuf },
    /// Replace the local store with the backup FILE, then destroy the salts of versions erased
    /// since the backup and rebuild the index of logged entries from the chain (as an account
    /// of the institution whose store it is: --as).
    Restore { file: PathBuf },
}

pub async fn run(ctx: &Context, command: StoreCommand) -> Result<ExitCode> {
    let out = Out { json: ctx.global.json };
    match command {
        StoreCommand::Backup { file } => {
            let client = ctx.client().await?;
            ctx.store(&client)?.backup(&file)?;
            out.show(format!("backed up the local store to {}", file.display()), json!({"backup": file}));
        }
        StoreCommand::Restore { file } => {
            let client = ctx.client().await?;
            // Whose store it is: the salts check the versions that institution committed.
            let signer = ctx.signer()?;
            let Some(member) = client.directory().membership(signer.account()).query().await? else {
                return Err(Error::Input("restore as an account of the institution whose store this is (--as)".into()));
            };
            let store = Store::restore(&file, &ctx.path("client.redb"))?;
            let done = restore::reconcile(&client, &store, member.institution).await?;
            out.show(
                format!(
                    "restored from {}: {} salt(s) of versions erased since destroyed, {} import record(s) dropped, {} entries indexed from the chain",
                    file.display(),
                    done.salts_dropped,
                    done.imports_dropped,
                    done.entries_indexed
                ),
                json!(done),
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

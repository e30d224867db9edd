//! `custodia record`.

use super::parse::*;
use crate::{
    context::Context,
    output::{self, hex32, Out},
};
use clap::{Args, Subcommand};
use custodia_client::{
    call::{Submitted, Tx},
    types::records::{ErasureReason, Link, NewVersion, Supersedence, Verification, VersionRef},
    types::{
        records::{Content, Version},
        Commitment, RecordId,
    },
    verify::{commitment, new_salt, opaque_locator, parse_hash},
};
use custodia_services::{salts::Salts, Error, Result};
use serde_json::json;
use std::{path::PathBuf, process::ExitCode};

// --- records ---------------------------------------------------------------------------------

#[derive(Args)]
pub struct VersionContent {
    /// The record (a local id such as `Observation/hb-1`, or 0x-hex).
    #[arg(long)]
    record: String,
    /// The patient (local id or 0x-hex).
    #[arg(long)]
    patient: String,
    /// The file holding the version's content (only its salted digest goes on chain).
    #[arg(long)]
    file: PathBuf,
    /// Where the version lives, as it goes on chain (defaults to an opaque
    /// `custodia:<record pseudonym prefix>/_history/<n>` that names no local id).
    #[arg(long)]
    locator: Option<String>,
    /// The kind of record, as `system|code` (kept opaque on chain).
    #[arg(long, default_value = "http://hl7.org/fhir/resource-types|DocumentReference")]
    kind: String,
}

#[derive(Subcommand)]
pub enum RecordCommand {
    /// Commit a new version (custodians). The salt is kept in the local store.
    Commit(VersionContent),
    /// Commit a version that supersedes an earlier one.
    Supersede {
        #[command(flatten)]
        content: VersionContent,
        /// The version it supersedes (of the same record unless --target-record).
        #[arg(long)]
        target_version: u32,
        #[arg(long)]
        target_record: Option<String>,
        #[arg(long, value_parser = how, default_value = "replaces")]
        how: Supersedence,
    },
    /// Erase a version: commitment and locator go, a tombstone stays.
    Erase {
        #[arg(long)]
        record: String,
        #[arg(long)]
        version: u32,
        #[arg(long, value_parser = reason)]
        reason: ErasureReason,
    },
    /// Show a record.
    Show { record: String },
    /// Every version of a record, with supersedence links and tombstones.
    History { record: String },
    /// Check a copy of a version against the chain.
    Verify {
        #[arg(long)]
        record: String,
        #[arg(long)]
        version: u32,
        #[arg(long)]
        file: PathBuf,
        /// The version's salt (0x-hex); by default the one in the local store.
        #[arg(long)]
        salt: Option<String>,
    },
}

pub async fn run(ctx: &Context, command: RecordCommand) -> Result<ExitCode> {
    let out = Out { json: ctx.global.json };
    let client = ctx.client().await?;
    let store = ctx.store(&client)?;
    let salts = Salts::new(&store);
    let records = client.records();
    use RecordCommand::*;
    match command {
        Commit(c) => {
            let (record, patient, kind) =
                (ctx.record(&client, &c.record).await?, ctx.patient(&c.patient)?, ctx.code(&c.kind)?);
            let next = records.record(record).query().await?.map(|r| r.head + 1).unwrap_or(1);
            let locator =
                c.locator.map(String::into_bytes).unwrap_or_else(|| opaque_locator(record, &next.to_string()));
            let salt = new_salt();
            let committed = commitment(&salt, &read(&c.file)?);
            let done = kept_while_submitted(
                &salts,
                committed,
                salt,
                records.commit(NewVersion { record, patient, commitment: committed, locator, kind, supersedes: None }),
                ctx,
            )
            .await?;
            out.submitted(
                &format!("committed v{} of record {}", done.value, hex32(record.as_bytes())),
                &done,
                json!({"record": hex32(record.as_bytes()), "version": done.value}),
            );
        }
        Supersede { content: c, target_version, target_record, how } => {
            let (record, patient, kind) =
                (ctx.record(&client, &c.record).await?, ctx.patient(&c.patient)?, ctx.code(&c.kind)?);
            let target_record = match target_record {
                Some(t) => ctx.record(&client, &t).await?,
                None => record,
            };
            let next = records.record(record).query().await?.map(|r| r.head + 1).unwrap_or(1);
            let locator =
                c.locator.map(String::into_bytes).unwrap_or_else(|| opaque_locator(record, &next.to_string()));
            let salt = new_salt();
            let committed = commitment(&salt, &read(&c.file)?);
            let target = VersionRef { record: target_record, version: target_version };
            let supersede = records.commit(NewVersion {
                record,
                patient,
                commitment: committed,
                locator,
                kind,
                supersedes: Some(Link { target, how }),
            });
            let done = kept_while_submitted(&salts, committed, salt, supersede, ctx).await?;
            out.submitted(
                &format!("committed v{} ({how:?} v{target_version})", done.value),
                &done,
                json!({"version": done.value}),
            );
        }
        Erase { record, version, reason } => {
            let id = ctx.record(&client, &record).await?;
            let erased = committed_commitment(&records, id, version).await?;
            let done = records.erase(id, version, reason).submit(&ctx.signer()?).await?;
            // The salt goes too: without it the commitment the chain's history keeps can be
            // tested against no guess of the content.
            let forgot = match erased {
                Some(commitment) => salts.forget(commitment)?,
                None => false,
            } | custodia_services::sync::forget_salt(&store, id, version)?;
            let text = format!(
                "erased v{version}; the tombstone stays{}",
                if forgot { "; its salt is destroyed" } else { "" }
            );
            out.submitted(&text, &done, json!({"salt_destroyed": forgot}));
        }
        Show { record } => {
            let id = ctx.record(&client, &record).await?;
            match records.record(id).query().await? {
                Some(info) => out.show(
                    format!("record {}: patient {}, custodian #{}, {} version(s)", hex32(id.as_bytes()), hex32(info.patient.as_bytes()), info.custodian, info.head),
                    json!({"record": hex32(id.as_bytes()), "patient": hex32(info.patient.as_bytes()), "custodian": info.custodian, "head": info.head, "created_at": info.created_at}),
                ),
                None => out.show("no such record", json!(null)),
            }
        }
        History { record } => {
            let history = records.history(ctx.record(&client, &record).await?).await?;
            let text =
                history.iter().map(|(n, v, l)| output::version_text(*n, v, l.as_ref())).collect::<Vec<_>>().join("\n");
            out.show(
                text,
                json!(history.iter().map(|(n, v, l)| output::version(*n, v, l.as_ref())).collect::<Vec<_>>()),
            );
        }
        Verify { record, version, file, salt } => {
            let id = ctx.record(&client, &record).await?;
            let salt = match (salt, committed_commitment(&records, id, version).await?) {
                (Some(s), _) => parse_hash(&s)?,
                (None, Some(commitment)) => salts
                    .get(commitment)?
                    .ok_or_else(|| Error::Input(format!("no salt for v{version} in the local store; pass --salt")))?,
                // Erased or unknown: the chain's verdict does not depend on the salt.
                (None, None) => [0; 32],
            };
            let verdict = records.verify_content(VersionRef { record: id, version }, &salt, &read(&file)?).await?;
            out.show(format!("{verdict:?}"), json!({"verification": format!("{verdict:?}")}));
            if verdict != Verification::Match {
                return Ok(ExitCode::from(crate::MISMATCH));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The commitment of a version that is committed (not erased, not unknown).
async fn committed_commitment<B: custodia_client::Backend>(
    records: &custodia_client::registry::Records<'_, B>,
    record: RecordId,
    version: u32,
) -> Result<Option<Commitment>> {
    Ok(match records.version(record, version).query().await? {
        Some(Version { content: Content::Committed { commitment, .. }, .. }) => Some(commitment),
        _ => None,
    })
}

/// Submits a commit, its salt kept first (a lost connection cannot orphan a version on chain)
/// and dropped again if the contract refused it (nothing reached the chain).
async fn kept_while_submitted<B: custodia_client::Backend, E: scale::Decode + Into<custodia_client::ContractError>>(
    salts: &Salts<'_>,
    commitment: Commitment,
    salt: [u8; 32],
    tx: Tx<'_, B, u32, E>,
    ctx: &Context,
) -> Result<Submitted<u32>> {
    salts.keep(commitment, salt)?;
    match tx.submit(&ctx.signer()?).await {
        Ok(done) => Ok(done),
        Err(error) => {
            if error.contract().is_some() {
                salts.forget(commitment)?;
            }
            Err(error.into())
        }
    }
}

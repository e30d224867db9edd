//! `custodia record`.

use super::parse::*;
use crate::{
    context::Context,
    output::{self, hex32, Out},
};
use clap::{Args, Subcommand};
use custodia_client::{
    types::records::{ErasureReason, Supersedence, Verification, VersionRef},
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
            let (record, patient, kind) = (ctx.record(&c.record)?, ctx.patient(&c.patient)?, ctx.code(&c.kind)?);
            let next = records.record(record).query().await?.map(|r| r.head + 1).unwrap_or(1);
            let locator =
                c.locator.map(String::into_bytes).unwrap_or_else(|| opaque_locator(record, &next.to_string()));
            let salt = new_salt();
            let done = records
                .commit(record, patient, commitment(&salt, &read(&c.file)?), locator, kind)
                .submit(&ctx.signer()?)
                .await?;
            salts.keep(record, done.value, salt)?;
            out.submitted(
                &format!("committed v{} of record {}", done.value, hex32(record.as_bytes())),
                &done,
                json!({"record": hex32(record.as_bytes()), "version": done.value}),
            );
        }
        Supersede { content: c, target_version, target_record, how } => {
            let (record, patient, kind) = (ctx.record(&c.record)?, ctx.patient(&c.patient)?, ctx.code(&c.kind)?);
            let target_record = match target_record {
                Some(t) => ctx.record(&t)?,
                None => record,
            };
            let next = records.record(record).query().await?.map(|r| r.head + 1).unwrap_or(1);
            let locator =
                c.locator.map(String::into_bytes).unwrap_or_else(|| opaque_locator(record, &next.to_string()));
            let salt = new_salt();
            let target = VersionRef { record: target_record, version: target_version };
            let done = records
                .supersede(record, patient, commitment(&salt, &read(&c.file)?), locator, kind, target, how)
                .submit(&ctx.signer()?)
                .await?;
            salts.keep(record, done.value, salt)?;
            out.submitted(
                &format!("committed v{} ({how:?} v{target_version})", done.value),
                &done,
                json!({"version": done.value}),
            );
        }
        Erase { record, version, reason } => {
            let done = records.erase(ctx.record(&record)?, version, reason).submit(&ctx.signer()?).await?;
            out.submitted(&format!("erased v{version}; the tombstone stays"), &done, json!(null));
        }
        Show { record } => {
            let id = ctx.record(&record)?;
            match records.record(id).query().await? {
                Some(info) => out.show(
                    format!("record {}: patient {}, custodian #{}, {} version(s)", hex32(id.as_bytes()), hex32(info.patient.as_bytes()), info.custodian, info.head),
                    json!({"record": hex32(id.as_bytes()), "patient": hex32(info.patient.as_bytes()), "custodian": info.custodian, "head": info.head, "created_at": info.created_at}),
                ),
                None => out.show("no such record", json!(null)),
            }
        }
        History { record } => {
            let history = records.history(ctx.record(&record)?).await?;
            let text =
                history.iter().map(|(n, v, l)| output::version_text(*n, v, l.as_ref())).collect::<Vec<_>>().join("\n");
            out.show(
                text,
                json!(history.iter().map(|(n, v, l)| output::version(*n, v, l.as_ref())).collect::<Vec<_>>()),
            );
        }
        Verify { record, version, file, salt } => {
            let id = ctx.record(&record)?;
            let salt = match salt {
                Some(s) => parse_hash(&s)?,
                None => salts
                    .get(id, version)?
                    .ok_or_else(|| Error::Input(format!("no salt for v{version} in the local store; pass --salt")))?,
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

//! `custodia access`.

use super::parse::*;
use crate::{
    context::Context,
    output::{self, Out},
};
use clap::Subcommand;
use custodia_client::{
    types::{
        access_log::{Authorization, BreakGlassReason},
        consents::{Purpose, Target},
        records::VersionRef,
    },
    verify::parse_hash,
    Backend,
};
use custodia_services::{
    index::{InclusionProof, Index},
    outbox::{Access, Outbox, Stage, CHUNK},
    Error, Result,
};
use serde_json::json;
use std::{path::PathBuf, process::ExitCode};

// --- access log ------------------------------------------------------------------------------

#[derive(Subcommand)]
pub enum AccessCommand {
    /// Log accesses through the durable outbox (accessors).
    Record {
        #[arg(long)]
        patient: String,
        /// The record accessed (with --version), or use --query.
        #[arg(long, requires = "version")]
        record: Option<String>,
        #[arg(long)]
        version: Option<u32>,
        /// A query over a kind of record (`system|code`).
        #[arg(long, conflicts_with = "record")]
        query: Option<String>,
        /// Why: treatment (the default with --receipt), emergency-treatment (the only purpose
        /// break-glass allows, and its default), payment, operations, research, …
        #[arg(long, value_parser = purpose)]
        purpose: Option<Purpose>,
        /// The consent receipt that allows it.
        #[arg(long, conflicts_with = "break_glass")]
        receipt: Option<u64>,
        /// Break the glass: life-threatening, incapacitated, urgent-care, legal-obligation.
        #[arg(long, value_parser = break_glass)]
        break_glass: Option<BreakGlassReason>,
        /// Log the same access this many times (bulk loads).
        #[arg(long, default_value_t = 1)]
        count: usize,
    },
    /// Resubmit whatever the outbox still holds for the signer.
    Flush,
    /// Entries queued in the outbox for the signer.
    Pending,
    /// Drop a queued entry the chain refuses for good (the later ones are renumbered).
    Discard { seq: u64 },
    /// Logged entries, from the local index (synced from chain events first).
    List {
        #[arg(long, default_value_t = 0)]
        from: u64,
        #[arg(long, default_value_t = 50)]
        limit: u64,
    },
    /// An inclusion proof of entry INDEX against the current root (JSON).
    Prove { index: u64 },
    /// Check an inclusion proof (a file written by `prove --json`) against the chain's root.
    Verify { proof: PathBuf },
}

/// [`super::crash_if_at`] for the stages of an outbox drain.
fn crash_hook() -> impl FnMut(Stage) {
    |stage| {
        super::crash_if_at(&match stage {
            Stage::Queued => "queued".to_string(),
            Stage::Included(n) => format!("included:{n}"),
            Stage::Cleared(n) => format!("cleared:{n}"),
        })
    }
}

pub async fn run(ctx: &Context, command: AccessCommand) -> Result<ExitCode> {
    let out = Out { json: ctx.global.json };
    let client = ctx.client().await?;
    let store = ctx.store(&client)?;
    let outbox = Outbox::new(&client, &store);
    let indexed = Index::new(&client, &store);
    use AccessCommand::*;
    match command {
        Record { patient, record, version, query, purpose, receipt, break_glass, count } => {
            let target = match (record, version, query) {
                (Some(r), Some(v), _) => {
                    Target::Version(VersionRef { record: ctx.record(&client, &r).await?, version: v })
                }
                (_, _, Some(q)) => Target::Query(ctx.code(&q)?),
                _ => {
                    return Err(Error::Input("name what was accessed: --record R --version N, or --query KIND".into()))
                }
            };
            let (authorization, purpose) = match (receipt, break_glass, purpose) {
                (Some(r), _, purpose) => (Authorization::Consent(r), purpose.unwrap_or(Purpose::Treatment)),
                (None, Some(reason), None | Some(Purpose::EmergencyTreatment)) => {
                    (Authorization::BreakGlass(reason), Purpose::EmergencyTreatment)
                }
                (None, Some(_), Some(other)) => {
                    return Err(Error::Input(format!(
                        "break-glass overrides consent for emergency treatment only, not {other:?}: \
                         drop --purpose or cite a receipt"
                    )))
                }
                (None, None, _) => {
                    return Err(Error::Input("name the authorisation: --receipt ID or --break-glass REASON".into()))
                }
            };
            // The access happens now, as the chain tells time.
            let now = client.backend().now().await?;
            let access = Access { patient: ctx.patient(&patient)?, target, purpose, accessed_at: now, authorization };
            let bar = output::progress(&out, count as u64);
            let mut crash = crash_hook();
            let mut hook = |stage: Stage| {
                if stage == Stage::Queued {
                    eprintln!("queued {count} entr{} in the outbox", if count == 1 { "y" } else { "ies" });
                }
                crash(stage);
                if let Stage::Cleared(n) = stage {
                    bar.set_position(((n + 1) * CHUNK).min(count) as u64);
                }
            };
            let drained = outbox.record_with(&ctx.signer()?, &vec![access; count], &mut hook).await?;
            bar.finish_and_clear();
            out.show(
                format!("logged {} entr{} from leaf {:?} in {} transaction(s); the log holds {}", drained.appended, if drained.appended == 1 { "y" } else { "ies" }, drained.first_index, drained.transactions, drained.size),
                json!({"appended": drained.appended, "skipped": drained.skipped, "first_index": drained.first_index, "size": drained.size, "transactions": drained.transactions}),
            );
        }
        Flush => {
            let signer = ctx.signer()?;
            let pending = outbox.pending(signer.account())?.len();
            let drained = outbox.flush_with(&signer, &mut crash_hook()).await?;
            out.show(
                format!("{pending} pending: {} logged, {} already on chain", drained.appended, drained.skipped),
                json!({"pending": pending, "appended": drained.appended, "skipped": drained.skipped, "size": drained.size}),
            );
        }
        Discard { seq } => {
            let dropped = outbox.discard(ctx.signer()?.account(), seq).await?;
            out.show(format!("dropped queued entry {seq}: {dropped:?}"), json!({"dropped": seq}));
        }
        Pending => {
            let pending = outbox.pending(ctx.signer()?.account())?;
            out.show(format!("{} pending", pending.len()), json!(pending.iter().map(|e| e.seq).collect::<Vec<_>>()));
        }
        List { from, limit } => {
            indexed.sync().await?;
            let entries = indexed.entries(from, from.saturating_add(limit))?;
            let text = entries.iter().map(|(i, e)| output::entry_text(*i, e)).collect::<Vec<_>>().join("\n");
            out.show(text, json!(entries.iter().map(|(i, e)| output::entry(*i, e)).collect::<Vec<_>>()));
        }
        Prove { index } => {
            let proof = indexed.prove(index).await?;
            out.show(
                format!(
                    "entry {index} of {}: {} sibling hash(es)\n{}",
                    proof.size,
                    proof.path.len(),
                    output::entry_text(index, &proof.entry)
                ),
                output::proof(&proof),
            );
        }
        Verify { proof } => {
            let text = String::from_utf8(read(&proof)?).map_err(|e| Error::Input(e.to_string()))?;
            let proof = parse_proof(&text)?;
            let ok = indexed.verify(&proof).await?;
            out.show(
                if ok {
                    format!("entry {} is in the log of {} (root checked on chain)", proof.index, proof.size)
                } else {
                    "the proof does NOT match the chain's root".into()
                },
                json!({"verified": ok}),
            );
            if !ok {
                return Ok(ExitCode::from(crate::MISMATCH));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn parse_proof(text: &str) -> Result<InclusionProof> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| Error::Input(format!("not a proof: {e}")))?;
    let field = |name: &str| value.get(name).ok_or_else(|| Error::Input(format!("the proof has no {name}")));
    let number = |name: &str| {
        field(name).and_then(|v| v.as_u64().ok_or_else(|| Error::Input(format!("{name} is not a number"))))
    };
    let entry_hex = field("entry")?.as_str().unwrap_or_default().trim_start_matches("0x").to_string();
    let entry_bytes = hex::decode(entry_hex).map_err(|e| Error::Input(format!("entry: {e}")))?;
    let entry = custodia_client::types::access_log::Entry::from_leaf(&entry_bytes)
        .ok_or_else(|| Error::Input("entry: not an access-log entry".into()))?;
    let path = field("path")?
        .as_array()
        .ok_or_else(|| Error::Input("path is not a list".into()))?
        .iter()
        .map(|h| parse_hash(h.as_str().unwrap_or_default()))
        .collect::<custodia_client::Result<_>>()?;
    Ok(InclusionProof { index: number("index")?, size: number("size")?, entry, leaf: entry_bytes, path })
}

//! `custodia consent`.

use super::parse::*;
use crate::{
    context::Context,
    output::{self, Out},
};
use clap::Subcommand;
use custodia_client::{
    types::{
        consents::{AccessCheck, Decision, Grantee, Purpose, Purposes, Scope, Target, Terms},
        records::VersionRef,
    },
    Backend,
};
use custodia_services::Result;
use serde_json::json;
use std::process::ExitCode;

// --- consents --------------------------------------------------------------------------------

#[derive(Subcommand)]
pub enum ConsentCommand {
    /// Grant (or, with --deny, refuse) access on a patient's behalf (the patient's controller).
    Grant {
        #[arg(long)]
        patient: String,
        /// The grantee institution's id.
        #[arg(long)]
        institution: u32,
        /// Only this account of the institution.
        #[arg(long)]
        account: Option<String>,
        /// Only this record (default: all the patient's records).
        #[arg(long)]
        record: Option<String>,
        /// Only this version of --record.
        #[arg(long, requires = "record")]
        version: Option<u32>,
        /// Only records of these kinds (`system|code`, comma-separated).
        #[arg(long, value_delimiter = ',', conflicts_with = "record")]
        categories: Vec<String>,
        /// Purposes (treatment, emergency, research, … or HL7 codes TREAT, ETREAT, HRESCH, …).
        #[arg(long, value_delimiter = ',', value_parser = purpose, default_value = "treatment")]
        purpose: Vec<Purpose>,
        /// Record a denial (overrides permits) instead of a permit.
        #[arg(long)]
        deny: bool,
        /// Days the receipt stays valid from now.
        #[arg(long, default_value_t = 365)]
        days: u64,
    },
    /// Revoke a receipt at once.
    Revoke { receipt: u64 },
    /// Would an access be authorised now?
    Check {
        #[arg(long)]
        accessor: String,
        #[arg(long)]
        patient: String,
        #[arg(long)]
        record: String,
        #[arg(long)]
        version: u32,
        #[arg(long, value_parser = purpose, default_value = "treatment")]
        purpose: Purpose,
        #[arg(long)]
        receipt: Option<u64>,
    },
    /// A patient's receipts.
    List {
        patient: String,
        /// Only receipts in force now.
        #[arg(long)]
        active: bool,
    },
}

pub async fn run(ctx: &Context, command: ConsentCommand) -> Result<ExitCode> {
    let out = Out { json: ctx.global.json };
    let client = ctx.client().await?;
    let consents = client.consents();
    use ConsentCommand::*;
    match command {
        Grant { patient, institution, account, record, version, categories, purpose, deny, days } => {
            let scope = match (record, version) {
                (Some(r), Some(v)) => Scope::Version(VersionRef { record: ctx.record(&client, &r).await?, version: v }),
                (Some(r), None) => Scope::Record(ctx.record(&client, &r).await?),
                (None, _) if !categories.is_empty() => {
                    Scope::Categories(categories.iter().map(|c| ctx.code(c)).collect::<Result<_>>()?)
                }
                (None, _) => Scope::AllRecords,
            };
            let now = client.backend().now().await?;
            let terms = Terms {
                patient: ctx.patient(&patient)?,
                grantee: Grantee { institution, account: account.map(|a| ctx.account(&a)).transpose()? },
                scope,
                purposes: Purposes::of(&purpose),
                decision: if deny { Decision::Deny } else { Decision::Permit },
                valid_from: now,
                valid_until: now + days * 86_400_000,
            };
            let done = consents.grant(terms).submit(&ctx.signer()?).await?;
            out.submitted(&format!("receipt #{}", done.value), &done, json!({"receipt": done.value}));
        }
        Revoke { receipt } => {
            let done = consents.revoke(receipt).submit(&ctx.signer()?).await?;
            out.submitted(&format!("receipt #{receipt} revoked"), &done, json!(null));
        }
        Check { accessor, patient, record, version, purpose, receipt } => {
            let check = AccessCheck {
                accessor: ctx.account(&accessor)?,
                patient: ctx.patient(&patient)?,
                target: Target::Version(VersionRef { record: ctx.record(&client, &record).await?, version }),
                purpose,
                at: client.backend().now().await?,
                receipt,
            };
            let answer = consents.is_authorized(check).query().await?;
            out.show(
                match answer {
                    Ok(r) => format!("authorised by receipt #{r}"),
                    Err(denial) => format!("not authorised: {denial:?}"),
                },
                match answer {
                    Ok(r) => json!({"authorized": true, "receipt": r}),
                    Err(d) => json!({"authorized": false, "denial": format!("{d:?}")}),
                },
            );
        }
        List { patient, active } => {
            let patient = ctx.patient(&patient)?;
            let all = consents.all_receipts(patient, active).await?;
            let text = all
                .iter()
                .map(|numbered| {
                    let (id, r) = (numbered.id, &numbered.receipt);
                    format!(
                        "#{id} {:?} institution #{} {:?} until {}{}",
                        r.decision,
                        r.grantee.institution,
                        r.scope,
                        r.valid_until,
                        if r.revoked.is_some() { " REVOKED" } else { "" }
                    )
                })
                .collect::<Vec<_>>()
                .join("\n");
            out.show(text, json!(all.iter().map(|r| output::receipt(r.id, &r.receipt)).collect::<Vec<_>>()));
        }
    }
    Ok(ExitCode::SUCCESS)
}

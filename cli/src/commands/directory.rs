//! `custodia directory`.

use super::parse::*;
use crate::{
    context::Context,
    output::{self, hex32, Out},
};
use clap::Subcommand;
use custodia_client::{
    keys::ss58,
    types::directory::{Action, InstitutionKind, Roles},
};
use custodia_services::Result;
use serde_json::json;
use std::process::ExitCode;

// --- directory -------------------------------------------------------------------------------

#[derive(Subcommand)]
pub enum DirectoryCommand {
    /// Propose admitting an institution (admins).
    ProposeAdmit {
        /// The account that will operate it.
        #[arg(long)]
        operator: String,
        #[arg(long, value_parser = kind)]
        kind: InstitutionKind,
        /// custodian, accessor, auditor (comma-separated).
        #[arg(long, value_parser = roles)]
        roles: Roles,
    },
    /// Propose removing an institution (admins).
    ProposeRemove { institution: u32 },
    /// Approve a proposal (admins).
    Approve { proposal: u32 },
    /// Execute an approved proposal (admins).
    Execute { proposal: u32 },
    /// Show a proposal.
    Proposal { proposal: u32 },
    /// Invite an account to act for your institution (its operator); it joins with `join`.
    Invite { account: String },
    /// Accept an invitation: the signing account acts for the institution from now on.
    Join { institution: u32 },
    /// Register a patient (custodians); a local id becomes a keyed pseudonym.
    RegisterPatient { patient: String },
    /// Show a patient's controller and custodian.
    Patient { patient: String },
    /// Show the institution an account acts for.
    Membership { account: String },
}

pub async fn run(ctx: &Context, command: DirectoryCommand) -> Result<ExitCode> {
    let out = Out { json: ctx.global.json };
    let client = ctx.client().await?;
    let dir = client.directory();
    use DirectoryCommand::*;
    match command {
        ProposeAdmit { operator, kind, roles } => {
            let action = Action::Admit { operator: ctx.account(&operator)?, kind, roles };
            let done = dir.propose(action).submit(&ctx.signer()?).await?;
            out.submitted(&format!("proposal #{}", done.value), &done, json!({"proposal": done.value}));
        }
        ProposeRemove { institution } => {
            let done = dir.propose(Action::Remove { institution }).submit(&ctx.signer()?).await?;
            out.submitted(&format!("proposal #{}", done.value), &done, json!({"proposal": done.value}));
        }
        Approve { proposal } => {
            let done = dir.approve(proposal).submit(&ctx.signer()?).await?;
            out.submitted(
                &format!("approved #{proposal}: {} approvals", done.value),
                &done,
                json!({"approvals": done.value}),
            );
        }
        Execute { proposal } => {
            let done = dir.execute(proposal).submit(&ctx.signer()?).await?;
            out.submitted(&format!("executed #{proposal}"), &done, json!(null));
        }
        Proposal { proposal } => {
            let p = dir.proposal(proposal).query().await?;
            let value = p.as_ref().map(|p| json!({"action": format!("{:?}", p.action), "proposer": ss58(&p.proposer), "approvals": p.approvals, "status": format!("{:?}", p.status)}));
            out.show(format!("{p:?}"), json!(value));
        }
        Invite { account } => {
            let done = dir.invite_account(ctx.account(&account)?).submit(&ctx.signer()?).await?;
            out.submitted("account invited (it joins with `custodia directory join`)", &done, json!(null));
        }
        Join { institution } => {
            let done = dir.join_institution(institution).submit(&ctx.signer()?).await?;
            out.submitted(&format!("joined institution #{institution}"), &done, json!(null));
        }
        RegisterPatient { patient } => {
            let id = ctx.patient(&patient)?;
            let done = dir.register_patient(id).submit(&ctx.signer()?).await?;
            out.submitted(
                &format!("patient registered as {}", hex32(id.as_bytes())),
                &done,
                json!({"patient": hex32(id.as_bytes())}),
            );
        }
        Patient { patient } => {
            let info = dir.patient(ctx.patient(&patient)?).query().await?;
            match info {
                Some(p) => out.show(
                    format!("controller: {}; custodian: institution #{}", output::controller(&p.controller), p.custodian),
                    json!({"controller": output::controller(&p.controller), "custodian": p.custodian, "registered_at": p.registered_at}),
                ),
                None => out.show("not registered", json!(null)),
            }
        }
        Membership { account } => {
            let m = dir.membership(ctx.account(&account)?).query().await?;
            out.show(
                m.map(|m| format!("institution #{} roles {:03b}", m.institution, m.roles.0))
                    .unwrap_or_else(|| "no membership".into()),
                json!(m.map(|m| json!({"institution": m.institution, "roles": m.roles.0}))),
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

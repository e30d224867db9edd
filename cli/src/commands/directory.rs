//! `custodia directory`.

use super::parse::*;
use crate::{
    backend::AnyBackend,
    context::Context,
    output::{self, hex32, Out},
};
use clap::Subcommand;
use custodia_client::{
    events::SuiteEvent,
    keys::ss58,
    registry::Directory,
    types::directory::{Action, InstitutionKind, Roles, MAX_HAND_OVER_BATCH},
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
    /// Propose removing an institution (admins); one that keeps patients hands them over first.
    ProposeRemove { institution: u32 },
    /// Propose that a leaving custodian's patients and records go to another custodian (admins).
    ProposeHandOver {
        #[arg(long)]
        from: u32,
        #[arg(long)]
        to: u32,
    },
    /// Propose a new operator for an institution whose operator key is lost (admins): an account
    /// of it becomes operator at once, an outside account when it joins.
    ProposeOperator {
        #[arg(long)]
        institution: u32,
        #[arg(long)]
        operator: String,
    },
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
    /// Hand the operator role to another account of your institution (its operator).
    SetOperator { account: String },
    /// Move a leaving institution's patients to the successor governance approved (the
    /// operator of either), in batches of up to 64, each all or nothing.
    HandOver {
        /// The leaving institution.
        #[arg(long)]
        from: u32,
        /// Patients: pseudonyms (0x-hex) or local ids.
        #[arg(required = true)]
        patients: Vec<String>,
    },
    /// Show an institution: kind, roles, operator, counts, and its successor if it is leaving.
    Institution { institution: u32 },
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
            propose(&out, ctx, &dir, Action::Admit { operator: ctx.account(&operator)?, kind, roles }).await?
        }
        ProposeRemove { institution } => propose(&out, ctx, &dir, Action::Remove { institution }).await?,
        ProposeHandOver { from, to } => propose(&out, ctx, &dir, Action::HandOver { from, to }).await?,
        ProposeOperator { institution, operator } => {
            propose(&out, ctx, &dir, Action::SetOperator { institution, operator: ctx.account(&operator)? }).await?
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
        SetOperator { account } => {
            let done = dir.set_operator(ctx.account(&account)?).submit(&ctx.signer()?).await?;
            out.submitted("operator changed", &done, json!(null));
        }
        HandOver { from, patients } => {
            let ids = patients.iter().map(|p| ctx.patient(p)).collect::<Result<Vec<_>>>()?;
            let signer = ctx.signer()?;
            let (mut moved, mut events) = (0, Vec::new());
            // Each batch is all or nothing; a refused one stops here, after the batches before it.
            for batch in ids.chunks(MAX_HAND_OVER_BATCH as usize) {
                let done = dir.hand_over_patients(from, batch.to_vec()).submit(&signer).await?;
                moved += done.value;
                events.extend(done.events.iter().filter_map(SuiteEvent::decode));
            }
            out.show(
                format!("{moved} patient(s) handed over from institution #{from}{}", output::events_text(&events)),
                json!({"result": {"moved": moved}, "events": output::events_json(&events)}),
            );
        }
        Institution { institution } => {
            let found = dir.institution(institution).query().await?;
            let successor = dir.successor(institution).query().await?;
            match found {
                Some(i) => out.show(
                    format!(
                        "institution #{institution}: {:?}, roles {:03b}, operator {}, {} account(s), {} patient(s){}",
                        i.kind,
                        i.roles.bits,
                        ss58(&i.operator),
                        i.accounts,
                        i.patients,
                        successor.map(|s| format!(", handing over to #{s}")).unwrap_or_default()
                    ),
                    json!({"kind": format!("{:?}", i.kind), "roles": i.roles.bits, "operator": ss58(&i.operator),
                           "accounts": i.accounts, "patients": i.patients, "successor": successor}),
                ),
                // A removed institution's successor keeps its records.
                None => out.show(
                    successor.map_or("not admitted".into(), |s| format!("removed; its records are kept by #{s}")),
                    json!({"admitted": false, "successor": successor}),
                ),
            }
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
                m.map(|m| format!("institution #{} roles {:03b}", m.institution, m.roles.bits))
                    .unwrap_or_else(|| "no membership".into()),
                json!(m.map(|m| json!({"institution": m.institution, "roles": m.roles.bits}))),
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Proposes a governance action as the signing admin and says which proposal it became.
async fn propose(out: &Out, ctx: &Context, dir: &Directory<'_, AnyBackend>, action: Action) -> Result<()> {
    let done = dir.propose(action).submit(&ctx.signer()?).await?;
    out.submitted(&format!("proposal #{}", done.value), &done, json!({"proposal": done.value}));
    Ok(())
}

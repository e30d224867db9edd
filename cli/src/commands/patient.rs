//! `custodia patient`: control of a patient's identity, by the patient's key, the custodian
//! and the patient's guardians; and one identity across institutions (links).

use crate::{
    context::Context,
    output::{self, hex32, Out},
};
use clap::Subcommand;
use custodia_client::{
    keys::ss58,
    types::{directory::RecoveryPolicy, PatientId},
    verify::{parse_hash, LOCAL_SOURCE},
    Backend,
};
use custodia_services::{patient_links::Links, Error, Result};
use serde_json::json;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum PatientCommand {
    /// Show who controls a patient, who may recover it, and any pending recovery.
    Show {
        /// The patient: 0x-hex pseudonym, or (custodians) a local id.
        patient: String,
    },
    /// Offer control to a patient-held key (the controller); the key accepts with `accept`.
    Offer {
        patient: String,
        /// The key that will hold it.
        #[arg(long)]
        to: String,
    },
    /// Accept control offered to the signing key.
    Accept { patient: String },
    /// Hand control back to the custodian (the patient's key).
    Release { patient: String },
    /// Move control to a new key of the patient's, at once (the patient's key).
    Rotate {
        patient: String,
        /// The new key.
        #[arg(long)]
        to: String,
    },
    /// Set who may recover the identity (the patient's key): guardians and their threshold,
    /// and whether the custodian keeps its recovery right.
    Guardians {
        patient: String,
        /// A guardian's account (repeat for each; none to name no guardians).
        #[arg(long = "guardian")]
        guardians: Vec<String>,
        /// Guardians that must approve a recovery (default: a majority).
        #[arg(long)]
        threshold: Option<u32>,
        /// End the custodian's right to request a recovery (refused where the network
        /// requires the custodial fallback).
        #[arg(long)]
        no_custodian: bool,
    },
    /// Request a recovery (a custodian's account or a guardian): it waits out the network's
    /// delay and the patient's key can veto it until then.
    Recover {
        patient: String,
        /// The new key; without it, control returns to the custodian.
        #[arg(long)]
        to: Option<String>,
    },
    /// Approve the guardians' pending recovery (a guardian).
    Approve { patient: String },
    /// Veto the pending recovery (the patient's key).
    Veto { patient: String },
    /// Withdraw the pending recovery (its requester).
    Cancel { patient: String },
    /// Carry out a recovery whose delay passed unvetoed (anyone).
    Complete { patient: String },
    /// Link a custodian to the patient's id, where the patient presented it (the patient's
    /// controller): it keeps its records of them under that id from then on. Consents given
    /// before do not cover its records.
    LinkInstitution {
        patient: String,
        #[arg(long)]
        institution: u32,
    },
    /// Undo a link (the patient's controller): the institution opens no new record under the id.
    UnlinkInstitution {
        patient: String,
        #[arg(long)]
        institution: u32,
    },
    /// Offer a second id of the same person as an alias of her own (whoever acts for the
    /// second id: the institution that registered her under it when she could not give hers,
    /// e.g. unconscious). Whoever acts for her own id accepts with `alias-accept`.
    AliasOffer {
        /// The second id (0x-hex, or a local id here).
        patient: String,
        /// Her own id (0x-hex).
        #[arg(long)]
        of: String,
    },
    /// Accept the offered alias (her key, or her custodian's account): one history from now on.
    AliasAccept {
        /// The second id (0x-hex).
        patient: String,
    },
    /// Undo an alias or withdraw its offer (whoever acts for either id).
    AliasRemove {
        /// The second id (0x-hex, or a local id here).
        patient: String,
    },
    /// Record that a local patient here is the patient who presented Custodia id `--to` (an
    /// account of this institution, once the patient's controller linked it): their records
    /// here are committed under that id, in this store only (no local id goes on chain).
    LinkLocal {
        /// The local id as the FHIR server or files name the patient (`Patient/123`).
        local_id: String,
        /// The id the patient presented (0x-hex).
        #[arg(long)]
        to: String,
        /// The source system the local id belongs to (a FHIR server's base URL); default: this
        /// institution's own (files with relative references, CLI arguments).
        #[arg(long)]
        source: Option<String>,
    },
}

pub async fn run(ctx: &Context, command: PatientCommand) -> Result<ExitCode> {
    let out = Out { json: ctx.global.json };
    let client = ctx.client().await?;
    let dir = client.directory();
    use PatientCommand::*;
    match command {
        Show { patient } => {
            let id = ctx.patient(&patient)?;
            let Some(info) = dir.patient(id).query().await? else {
                out.show("not registered", json!(null));
                return Ok(ExitCode::SUCCESS);
            };
            let policy = dir.recovery_policy(id).query().await?;
            let params = dir.recovery_params().query().await?;
            let pending = dir.recovery(id).query().await?;
            let keepers = dir.keepers(id).query().await?;
            let now = client.backend().now().await?;
            let custodian_may = policy.custodial || params.custodial_fallback_required;
            let mut text = format!(
                "patient {}\n  controller: {}\n  custodian: institution #{}\n  recovery: custodian {}; {} guardian(s), threshold {}; delay {}",
                hex32(id.as_bytes()),
                output::controller(&info.controller),
                info.custodian,
                if custodian_may { "may recover" } else { "may not recover" },
                policy.guardians.len(),
                policy.threshold,
                days(params.delay_ms),
            );
            let keeping = keepers.iter().map(|k| format!("#{k}")).collect::<Vec<_>>().join(", ");
            text.push_str(&format!("\n  records kept by: {keeping}"));
            let alias = dir.alias(id).query().await?;
            if let Some(alias) = &alias {
                let state = if alias.accepted { "an alias" } else { "offered as an alias" };
                text.push_str(&format!("\n  {state} of {}", hex32(alias.of.as_bytes())));
            }
            let alias_json = alias.map(|a| json!({"of": hex32(a.of.as_bytes()), "accepted": a.accepted}));
            let pending_json = pending.as_ref().map(|r| {
                let state = match r.executable_at {
                    None => format!("waiting for guardians ({} of {})", r.approvals.len(), policy.threshold),
                    Some(at) if at > now => format!("due in {} unless vetoed", days(at - now)),
                    Some(_) => "due now: `custodia patient complete` carries it out".into(),
                };
                text.push_str(&format!(
                    "\n  pending recovery: {:?} by {} to {}, {state}",
                    r.route,
                    ss58(&r.requested_by),
                    output::controller(&r.to)
                ));
                json!({"route": format!("{:?}", r.route), "requested_by": ss58(&r.requested_by),
                       "to": output::controller(&r.to), "requested_at": r.requested_at,
                       "approvals": r.approvals.iter().map(ss58).collect::<Vec<_>>(),
                       "executable_at": r.executable_at, "state": state})
            });
            out.show(
                text,
                json!({"patient": hex32(id.as_bytes()), "controller": output::controller(&info.controller),
                       "custodian": info.custodian, "custodian_may_recover": custodian_may,
                       "guardians": policy.guardians.iter().map(ss58).collect::<Vec<_>>(),
                       "threshold": policy.threshold, "delay_ms": params.delay_ms, "pending": pending_json,
                       "keepers": keepers, "alias": alias_json}),
            );
        }
        Offer { patient, to } => {
            let done = dir.offer_control(ctx.patient(&patient)?, ctx.account(&to)?).submit(&ctx.signer()?).await?;
            out.submitted("control offered", &done, json!(null));
        }
        Accept { patient } => {
            let done = dir.accept_control(ctx.patient(&patient)?).submit(&ctx.signer()?).await?;
            out.submitted("control accepted", &done, json!(null));
        }
        Release { patient } => {
            let done = dir.release_control(ctx.patient(&patient)?).submit(&ctx.signer()?).await?;
            out.submitted("control handed back to the custodian", &done, json!(null));
        }
        Rotate { patient, to } => {
            let done = dir.rotate_key(ctx.patient(&patient)?, ctx.account(&to)?).submit(&ctx.signer()?).await?;
            out.submitted("control moved to the new key", &done, json!(null));
        }
        Guardians { patient, guardians, threshold, no_custodian } => {
            let guardians = guardians.iter().map(|g| ctx.account(g)).collect::<std::result::Result<Vec<_>, _>>()?;
            let count = u32::try_from(guardians.len()).map_err(|_| Error::Input("too many guardians".into()))?;
            let threshold = threshold.unwrap_or(count / 2 + u32::from(count > 0));
            let policy = RecoveryPolicy { custodial: !no_custodian, guardians, threshold };
            let done = dir.set_recovery_policy(ctx.patient(&patient)?, policy).submit(&ctx.signer()?).await?;
            out.submitted(
                &format!("{count} guardian(s), threshold {threshold}"),
                &done,
                json!({"threshold": threshold}),
            );
        }
        Recover { patient, to } => {
            let to = to.map(|to| ctx.account(&to)).transpose()?;
            let done = dir.request_recovery(ctx.patient(&patient)?, to).submit(&ctx.signer()?).await?;
            out.submitted("recovery requested (the patient's key can veto it until it is due)", &done, json!(null));
        }
        Approve { patient } => {
            let done = dir.approve_recovery(ctx.patient(&patient)?).submit(&ctx.signer()?).await?;
            out.submitted(&format!("approved: {} approval(s)", done.value), &done, json!({"approvals": done.value}));
        }
        Veto { patient } => {
            let done = dir.veto_recovery(ctx.patient(&patient)?).submit(&ctx.signer()?).await?;
            out.submitted("recovery vetoed", &done, json!(null));
        }
        Cancel { patient } => {
            let done = dir.cancel_recovery(ctx.patient(&patient)?).submit(&ctx.signer()?).await?;
            out.submitted("recovery withdrawn", &done, json!(null));
        }
        Complete { patient } => {
            let done = dir.complete_recovery(ctx.patient(&patient)?).submit(&ctx.signer()?).await?;
            out.submitted("recovery carried out", &done, json!(null));
        }
        LinkInstitution { patient, institution } => {
            let done = dir.link_institution(ctx.patient(&patient)?, institution).submit(&ctx.signer()?).await?;
            out.submitted(&format!("institution #{institution} linked"), &done, json!(null));
        }
        UnlinkInstitution { patient, institution } => {
            let done = dir.unlink_institution(ctx.patient(&patient)?, institution).submit(&ctx.signer()?).await?;
            out.submitted(&format!("institution #{institution} unlinked"), &done, json!(null));
        }
        AliasOffer { patient, of } => {
            let (alias, of) = (ctx.patient(&patient)?, PatientId::new(parse_hash(&of)?));
            let done = dir.offer_alias(alias, of).submit(&ctx.signer()?).await?;
            out.submitted(
                &format!("{} offered as an alias of {}", hex32(alias.as_bytes()), hex32(of.as_bytes())),
                &done,
                json!({"patient": hex32(alias.as_bytes()), "of": hex32(of.as_bytes())}),
            );
        }
        AliasAccept { patient } => {
            let done = dir.accept_alias(ctx.patient(&patient)?).submit(&ctx.signer()?).await?;
            out.submitted("alias accepted: one history", &done, json!(null));
        }
        AliasRemove { patient } => {
            let done = dir.remove_alias(ctx.patient(&patient)?).submit(&ctx.signer()?).await?;
            out.submitted("alias removed", &done, json!(null));
        }
        LinkLocal { local_id, to, source } => {
            let presented = PatientId::new(parse_hash(&to)?);
            let store = ctx.store(&client)?;
            let source = source.as_deref().unwrap_or(LOCAL_SOURCE);
            let pseudonyms = ctx.pseudonyms()?;
            Links::new(&store).link(&client, &ctx.signer()?, &pseudonyms, (source, &local_id), presented).await?;
            out.show(
                format!("{local_id} is patient {} here from now on", hex32(presented.as_bytes())),
                json!({"patient": hex32(presented.as_bytes()), "source": source}),
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A duration in milliseconds as days and hours (rounded up to the hour).
fn days(ms: u64) -> String {
    let hours = ms.div_ceil(3_600_000);
    match (hours / 24, hours % 24) {
        (0, h) => format!("{h} h"),
        (d, 0) => format!("{d} d"),
        (d, h) => format!("{d} d {h} h"),
    }
}

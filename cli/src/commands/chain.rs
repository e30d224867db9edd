//! `custodia chain`: the chain's own governance, on a chain whose council governs code (the
//! consortium runtime). Contract code reaches such a chain only as a council motion that more
//! than half of the members carry; `custodia deploy` proposes one, members approve it here.

use crate::{
    backend::AnyBackend,
    context::Context,
    output::{hex32, Out},
};
use clap::Subcommand;
use custodia_client::{
    backend::Standing, error::CouncilError, keys::ss58, verify::parse_hash, Error as ClientError, NodeBackend,
};
use custodia_services::{Error, Result};
use serde_json::json;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum ChainCommand {
    /// The council's members.
    Members,
    /// Show an open motion: the approvals it has and needs.
    Motion {
        /// The motion's call hash (0x…), as `custodia deploy` printed it.
        motion: String,
    },
    /// Approve an open motion as a council member (`--as`). The approval that carries it
    /// closes it, which executes its call.
    Approve {
        /// The motion's call hash (0x…).
        motion: String,
    },
}

pub async fn run(ctx: &Context, command: ChainCommand) -> Result<ExitCode> {
    let out = Out { json: ctx.global.json };
    let AnyBackend::Node(node) = ctx.backend().await? else {
        return Err(Error::Client(ClientError::Council(CouncilError::NoCouncil)));
    };
    match command {
        ChainCommand::Members => {
            let members = node.council_members().await?;
            let text = members.iter().map(|m| format!("  {}", ss58(m))).collect::<Vec<_>>().join("\n");
            out.show(
                format!("council of {} (a motion needs {}):\n{text}", members.len(), members.len() / 2 + 1),
                json!({ "members": members.iter().map(ss58).collect::<Vec<_>>() }),
            );
        }
        ChainCommand::Motion { motion } => {
            let (motion, ayes) = open_motion(&node, &motion).await?;
            out.show(
                format!("motion {} (#{}): {ayes} of {} approvals", hex32(&motion.hash), motion.index, motion.threshold),
                json!({ "motion": hex32(&motion.hash), "index": motion.index, "ayes": ayes, "threshold": motion.threshold }),
            );
        }
        ChainCommand::Approve { motion } => {
            let (motion, _) = open_motion(&node, &motion).await?;
            let standing = node.approve_motion(&ctx.signer()?, &motion).await?;
            let (text, value) = match standing {
                Standing::Open { ayes, threshold } => (
                    format!("approved; motion {} has {ayes} of {threshold} approvals", hex32(&motion.hash)),
                    json!({ "motion": hex32(&motion.hash), "ayes": ayes, "threshold": threshold, "enacted": null }),
                ),
                Standing::Enacted { block } => (
                    format!("approved; motion {} carried and executed in block #{block}", hex32(&motion.hash)),
                    json!({ "motion": hex32(&motion.hash), "enacted": block }),
                ),
            };
            out.show(text, value);
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn open_motion(node: &NodeBackend, text: &str) -> Result<(custodia_client::backend::Motion, u32)> {
    let hash = parse_hash(text)?;
    node.motion(hash).await?.ok_or(Error::Client(ClientError::Council(CouncilError::NoMotion { motion: hash })))
}

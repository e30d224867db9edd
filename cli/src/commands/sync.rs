//! `custodia sync`: follow a FHIR server, committing every version it stores
//! (`custodia_services::sync`).

use crate::{context::Context, output::Out};
use custodia_services::{
    fhir_server::{FhirServer, Retry},
    patient_links::Links,
    sync::{FollowOptions, Follower, SyncReport, SyncStage},
    Result,
};
use serde_json::json;
use std::{process::ExitCode, time::Duration};

#[derive(clap::Args)]
pub struct SyncArgs {
    /// The FHIR R4 server's base URL, spelt the same way every run (it names the source system
    /// in pseudonyms and keys the follower's place in the store).
    #[arg(long)]
    server: String,
    /// One pass, then exit (for cron); without it, follow the server until stopped.
    #[arg(long)]
    once: bool,
    /// List the versions the FHIR reader refused (nothing is read from the server).
    #[arg(long)]
    failed: bool,
    /// With --failed: also the versions skipped by rule (no patient, …).
    #[arg(long, requires = "failed")]
    skipped: bool,
    /// Attempts per server request before a pass gives up (back-off doubles from 0.2 s).
    #[arg(long, default_value_t = 6)]
    retries: u32,
    /// Entries per history page.
    #[arg(long, default_value_t = 500)]
    page_size: u32,
    /// First forget the refusals of versions the FHIR reader or the chain refused, so that
    /// this run plans them again (after their cause was fixed): it reads the server's whole
    /// history again.
    #[arg(long)]
    retry_refused: bool,
    /// Most versions a pass takes on (their text is held in memory): a larger backlog is
    /// committed window by window, the oldest first.
    #[arg(long, default_value_t = 10_000)]
    window: usize,
    /// Seconds between passes when following.
    #[arg(long, default_value_t = 2)]
    interval: u64,
}

/// The status line of a pass (counts only: never an id).
fn status(report: &SyncReport) -> String {
    format!(
        "sync: {} committed ({} deletions, {} moved) in {} transaction(s), {:.0} versions/s ({:.0}/s without the chain), lag {:.1} s, queue {}; {} skipped, {} refused{}",
        report.committed,
        report.deletions,
        report.moved,
        report.transactions,
        report.rate(),
        report.follower_rate(),
        report.lag_seconds,
        report.held_back,
        report.skipped,
        report.refused,
        if report.resumed { "; resumed a saved batch" } else { "" }
    )
}

pub async fn run(ctx: &Context, args: SyncArgs) -> Result<ExitCode> {
    let out = Out { json: ctx.global.json };
    let client = ctx.client().await?;
    let store = ctx.store(&client)?;
    let pseudonyms = Links::new(&store).apply(ctx.institution_pseudonyms(&client, None).await?)?;
    let retry = Retry { attempts: args.retries.max(1), ..Retry::default() };
    let server = FhirServer::new(&args.server, retry);
    let options =
        FollowOptions { page_size: args.page_size.max(1), window: args.window.max(1), ..FollowOptions::default() };
    let follower = Follower::new(&client, &store, &pseudonyms, &server, options);
    if args.failed {
        let refused = follower.refused(args.skipped)?;
        let text = refused
            .iter()
            .map(|r| format!("{} v{}: {}", r.resource, r.version, r.reason))
            .collect::<Vec<_>>()
            .join("\n");
        out.show(if refused.is_empty() { "nothing refused".to_string() } else { text }, json!(refused));
        return Ok(ExitCode::SUCCESS);
    }
    let signer = ctx.signer()?;
    if args.retry_refused {
        let forgotten = follower.retry_refused()?;
        eprintln!("sync: {forgotten} refused version(s) to plan again; reading the whole history");
    }
    let started = std::time::Instant::now();
    let mut committed = 0usize;
    let mut hook = |stage: SyncStage| match stage {
        SyncStage::Read { queue } => eprintln!("sync: {queue} version(s) to commit"),
        SyncStage::Saved { .. } => super::crash_if_at("sync-saved"),
        SyncStage::Included { .. } => super::crash_if_at("sync-included"),
        SyncStage::Recorded { versions, queue } => {
            committed += versions;
            let rate = committed as f64 / started.elapsed().as_secs_f64().max(1e-9);
            eprintln!("sync: batch of {versions} recorded, {committed} this run, {rate:.0} versions/s, queue {queue}");
            super::crash_if_at("sync-recorded");
        }
    };
    if args.once {
        // Until caught up with what the server held: window after window.
        let mut report = follower.run_once(&signer, &mut hook).await?;
        while report.held_back > 0 {
            let next = follower.run_once(&signer, &mut hook).await?;
            report.then(next);
        }
        out.show(status(&report), json!(report));
        return Ok(ExitCode::SUCCESS);
    }
    // Following: pass after pass; an unavailable server or chain is waited for, with back-off.
    let mut wait = Duration::from_secs(args.interval);
    loop {
        match follower.run_once(&signer, &mut hook).await {
            Ok(report) => {
                out.show(status(&report), json!(report));
                wait = Duration::from_secs(args.interval);
                if report.committed > 0 || report.held_back > 0 {
                    continue; // the server has or may have more already: read again at once
                }
            }
            Err(error) if error.is_server_unavailable() || error.is_disconnected() => {
                let line = format!("sync: waiting {} s: {error}", wait.as_secs());
                out.show(&line, json!({"waiting_seconds": wait.as_secs(), "error": error.to_string()}));
                std::thread::sleep(wait);
                wait = (wait * 2).min(Duration::from_secs(60));
                continue;
            }
            Err(error) => return Err(error),
        }
        std::thread::sleep(wait);
    }
}

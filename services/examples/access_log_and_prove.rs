//! Log an access through the durable outbox (queued in the store before it is submitted,
//! judged by the chain first), then prove it: an RFC 9162 inclusion proof, checked against the
//! root the chain recorded; the same entry altered fails.
//!
//! `cargo run -p custodia-services --example access_log_and_prove`

mod common;

use custodia_client::{
    types::{
        access_log::{Authorization, BreakGlassReason},
        consents::{Purpose, Target},
        records::VersionRef,
    },
    Backend,
};
use custodia_services::{
    index::Index,
    outbox::{Access, Outbox},
    Result,
};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let net = common::network().await?;
    let record = net.commit_result().await?;

    // An emergency: no consent on file, the lab breaks the glass (flagged and announced).
    let now = net.client.backend().now().await?;
    let access = Access {
        patient: net.patient,
        target: Target::Version(VersionRef { record, version: 1 }),
        purpose: Purpose::EmergencyTreatment,
        accessed_at: now,
        authorization: Authorization::BreakGlass(BreakGlassReason::LifeThreatening),
    };
    let logged = Outbox::new(&net.client, &net.store).record(&net.lab, &[access]).await?;
    let leaf = logged.first_index.expect("logged");
    println!("logged as leaf {leaf} in block #{}", logged.block.unwrap_or_default());

    let index = Index::new(&net.client, &net.store);
    let proof = index.prove(leaf).await?;
    let mut altered = proof.clone();
    altered.entry.purpose = Purpose::Treatment;
    let (good, bad) = (index.verify(&proof).await?, index.verify(&altered).await?);
    println!("proof of {} hashes in a log of {}: {good}; the entry altered: {bad}", proof.path.len(), proof.size);
    assert!(good && !bad);
    Ok(())
}

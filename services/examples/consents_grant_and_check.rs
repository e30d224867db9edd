//! Grant a consent receipt on a patient's behalf (their custodial controller), check an
//! access against it, then revoke it: the same check is refused from that block on.
//!
//! `cargo run -p custodia-services --example consents_grant_and_check`

mod common;

use custodia_client::{
    types::{
        consents::{AccessCheck, Decision, Grantee, Purpose, Purposes, Scope, Target, Terms},
        records::VersionRef,
    },
    Backend,
};
use custodia_services::Result;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let net = common::network().await?;
    let record = net.commit_result().await?;

    let now = net.client.backend().now().await?;
    let terms = Terms {
        patient: net.patient,
        grantee: Grantee { institution: net.lab_id, account: None },
        scope: Scope::Record(record),
        purposes: Purposes::of(&[Purpose::Treatment]),
        decision: Decision::Permit,
        valid_from: now,
        valid_until: now + 7 * 86_400_000,
    };
    let receipt = net.client.consents().grant(terms).submit(&net.hospital).await?.value;
    let check = |at| AccessCheck {
        accessor: net.lab.account(),
        patient: net.patient,
        target: Target::Version(VersionRef { record, version: 1 }),
        purpose: Purpose::Treatment,
        at,
        receipt: Some(receipt),
    };
    let allowed = net.client.consents().is_authorized(check(now)).query().await?;
    println!("the lab, for treatment, under receipt #{receipt}: {allowed:?}");

    net.client.consents().revoke(receipt).submit(&net.hospital).await?;
    let now = net.client.backend().now().await?;
    let after = net.client.consents().is_authorized(check(now)).query().await?;
    println!("after revocation: {after:?}");
    assert!(allowed.is_ok() && after.is_err());
    Ok(())
}

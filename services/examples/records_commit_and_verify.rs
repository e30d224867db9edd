//! Commit a version of a record (only a salted commitment and an opaque locator go on chain),
//! keep its salt, and check a copy against the chain: the same bytes `Match`, one changed byte
//! is a `Mismatch`.
//!
//! `cargo run -p custodia-services --example records_commit_and_verify`

mod common;

use custodia_client::{
    types::records::{NewVersion, Verification, VersionCommitted, VersionRef},
    verify::{commitment, new_salt, opaque_locator},
};
use custodia_services::{salts::Salts, Result};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let net = common::network().await?;
    let content = br#"{"resourceType":"Observation","id":"hb","status":"final"}"#;
    let salt = new_salt();
    let record = net.pseudonyms.record("Observation/hb");
    let committed_to = commitment(&salt, content);
    // The salt is kept before the commitment is submitted: whatever happens to the
    // submission, a version on chain never loses its salt.
    let salts = Salts::new(&net.store);
    salts.keep(committed_to, salt)?;
    let kind = net.pseudonyms.code("http://loinc.org|718-7");
    let committed = net
        .client
        .records()
        .commit(NewVersion {
            record,
            patient: net.patient,
            commitment: committed_to,
            locator: opaque_locator(record, "1"),
            kind,
            supersedes: None,
        })
        .submit(&net.hospital)
        .await?;
    let event = &committed.events_of::<VersionCommitted>()[0];
    println!("committed v{} in block #{} (gas {:?})", event.version, committed.block, committed.gas_required);

    let version = VersionRef { record, version: event.version };
    let salt = salts.get(event.commitment)?.expect("kept");
    let same = net.client.records().verify_content(version, &salt, content).await?;
    let tampered = net.client.records().verify_content(version, &salt, &content.replace_last()).await?;
    println!("the copy: {same:?}; a copy with one byte changed: {tampered:?}");
    assert_eq!((same, tampered), (Verification::Match, Verification::Mismatch));
    Ok(())
}

trait ReplaceLast {
    fn replace_last(&self) -> Vec<u8>;
}

impl ReplaceLast for [u8] {
    /// The bytes with the last one changed.
    fn replace_last(&self) -> Vec<u8> {
        let mut changed = self.to_vec();
        if let Some(last) = changed.last_mut() {
            *last ^= 1;
        }
        changed
    }
}

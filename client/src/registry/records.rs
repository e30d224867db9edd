//! The records registry: versions, supersedence, erasure, verification.

use super::registry;
use crate::events::value;
use crate::{
    verify::{commitment, Salt},
    Backend, Result,
};
use custodia_types::{
    records::{
        ErasureReason, Link, NewVersion, NumberedVersion, RecordInfo, Verification, Version, VersionNo, VersionRef,
        MAX_BATCH, MAX_PAGE,
    },
    Commitment, InstitutionId, RecordId,
};
use records::{BatchError, Error};

registry! {
    /// Calls to the records registry.
    Records for records::Records, at records;
    docs "records::RecordsRef" {
        tx commit(version: NewVersion) -> VersionNo, Error => value::version;
        tx commit_batch(batch: Vec<NewVersion>) -> Vec<VersionNo>, BatchError => value::versions;
        tx erase(record: RecordId, version: VersionNo, reason: ErasureReason) -> (), Error;
        query verify(record: RecordId, version: VersionNo, commitment: Commitment) -> Verification;
        query record(record: RecordId) -> Option<RecordInfo>;
        query record_batch(records: Vec<RecordId>) -> Vec<Option<RecordInfo>>;
        query head(record: RecordId) -> Option<NumberedVersion>;
        query version(record: RecordId, version: VersionNo) -> Option<Version>;
        query versions(record: RecordId, from: VersionNo, limit: u32) -> Vec<NumberedVersion>;
        query superseded_by(record: RecordId, version: VersionNo) -> Option<Link>;
        query find(custodian: InstitutionId, commitment: Commitment) -> Option<VersionRef>;
        query directory() -> ink::primitives::AccountId;
    }
}

impl<B: Backend> Records<'_, B> {
    /// Salts and hashes `content` as the commitment of a version would be, and compares it
    /// with the chain's: a tampered copy gives `Mismatch`.
    pub async fn verify_content(&self, version: VersionRef, salt: &Salt, content: &[u8]) -> Result<Verification> {
        self.verify(version.record, version.version, commitment(salt, content)).query().await
    }

    /// What `record` answers for each of `ids`, in order: one `record_batch` query per
    /// `MAX_BATCH` ids.
    pub async fn records_info(&self, ids: &[RecordId]) -> Result<Vec<Option<RecordInfo>>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(MAX_BATCH as usize) {
            out.extend(self.record_batch(chunk.to_vec()).query().await?);
        }
        Ok(out)
    }

    /// Every version of a record, page by page, with the link that superseded each (if any).
    pub async fn history(&self, record: RecordId) -> Result<Vec<(VersionNo, Version, Option<Link>)>> {
        let mut out = Vec::new();
        let mut from = 1;
        loop {
            let page = self.versions(record, from, MAX_PAGE).query().await?;
            let full = page.len() == MAX_PAGE as usize;
            for NumberedVersion { number, version } in page {
                let superseded_by = self.superseded_by(record, number).query().await?;
                out.push((number, version, superseded_by));
                from = number + 1;
            }
            if !full {
                return Ok(out);
            }
        }
    }
}

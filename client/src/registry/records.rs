//! The records registry: versions, supersedence, erasure, verification.

use crate::{
    call::{builder, Query, Tx},
    verify::{commitment, Salt},
    Backend, Client, Result,
};
use custodia_types::{
    records::{
        ErasureReason, Link, NewVersion, RecordInfo, Supersedence, Verification, Version, VersionNo,
        VersionRef, MAX_PAGE,
    },
    CodeId, Commitment, PatientId, RecordId,
};
use ink::{codegen::ContractCallBuilder, primitives::AccountId};
use records::{BatchError, Error, Records as Contract};

type Builder = <Contract as ContractCallBuilder>::Type;

/// Calls to the records registry.
pub struct Records<'c, B> {
    client: &'c Client<B>,
    address: AccountId,
}

impl<'c, B: Backend> Records<'c, B> {
    pub(crate) fn new(client: &'c Client<B>) -> Self {
        Self { client, address: client.deployment().records.address }
    }

    fn contract(&self) -> Builder {
        builder::<Contract>(self.address)
    }

    /// Commits a new version of `record` (version 1 opens it; custodians only). Returns the
    /// version number.
    pub fn commit(
        &self,
        record: RecordId,
        patient: PatientId,
        commitment: Commitment,
        locator: Vec<u8>,
        kind: CodeId,
    ) -> Tx<'c, B, VersionNo, Error> {
        Tx::new(self.client, self.contract().commit(record, patient, commitment, locator, kind))
    }

    /// Commits a new version that supersedes `target` in the way `how`.
    #[allow(clippy::too_many_arguments)]
    pub fn supersede(
        &self,
        record: RecordId,
        patient: PatientId,
        commitment: Commitment,
        locator: Vec<u8>,
        kind: CodeId,
        target: VersionRef,
        how: Supersedence,
    ) -> Tx<'c, B, VersionNo, Error> {
        Tx::new(self.client, self.contract().supersede(record, patient, commitment, locator, kind, target, how))
    }

    /// Commits up to `MAX_BATCH` versions, all or none. Returns their version numbers.
    pub fn commit_batch(&self, batch: Vec<NewVersion>) -> Tx<'c, B, Vec<VersionNo>, BatchError> {
        Tx::new(self.client, self.contract().commit_batch(batch))
    }

    /// Erases a version: its commitment and locator go, a tombstone stays (the record's
    /// custodian or the patient's controller).
    pub fn erase(&self, record: RecordId, version: VersionNo, reason: ErasureReason) -> Tx<'c, B, (), Error> {
        Tx::new(self.client, self.contract().erase(record, version, reason))
    }

    /// Compares a commitment with the one recorded for a version.
    pub fn verify(&self, record: RecordId, version: VersionNo, commitment: Commitment) -> Query<'c, B, Verification> {
        Query::new(self.client, self.contract().verify(record, version, commitment))
    }

    /// Salts and hashes `content` as the commitment of a version would be, and compares it
    /// with the chain's: a tampered copy gives `Mismatch`.
    pub async fn verify_content(&self, version: VersionRef, salt: &Salt, content: &[u8]) -> Result<Verification> {
        self.verify(version.record, version.version, commitment(salt, content)).query().await
    }

    /// A record's patient, custodian and newest version number.
    pub fn record(&self, record: RecordId) -> Query<'c, B, Option<RecordInfo>> {
        Query::new(self.client, self.contract().record(record))
    }

    /// A record's newest version.
    pub fn head(&self, record: RecordId) -> Query<'c, B, Option<(VersionNo, Version)>> {
        Query::new(self.client, self.contract().head(record))
    }

    /// One version.
    pub fn version(&self, record: RecordId, version: VersionNo) -> Query<'c, B, Option<Version>> {
        Query::new(self.client, self.contract().version(record, version))
    }

    /// A page of versions from `from` (at most `MAX_PAGE`).
    pub fn versions(&self, record: RecordId, from: VersionNo, limit: u32) -> Query<'c, B, Vec<(VersionNo, Version)>> {
        Query::new(self.client, self.contract().versions(record, from, limit))
    }

    /// Every version of a record, page by page, with the link that superseded each (if any).
    pub async fn history(&self, record: RecordId) -> Result<Vec<(VersionNo, Version, Option<Link>)>> {
        let mut out = Vec::new();
        let mut from = 1;
        loop {
            let page = self.versions(record, from, MAX_PAGE).query().await?;
            let full = page.len() == MAX_PAGE as usize;
            for (number, version) in page {
                let superseded_by = self.superseded_by(record, number).query().await?;
                out.push((number, version, superseded_by));
                from = number + 1;
            }
            if !full {
                return Ok(out);
            }
        }
    }

    /// The link from the version that superseded this one, if any.
    pub fn superseded_by(&self, record: RecordId, version: VersionNo) -> Query<'c, B, Option<Link>> {
        Query::new(self.client, self.contract().superseded_by(record, version))
    }

    /// The version a commitment belongs to (also after erasure the commitment is known as used).
    pub fn find(&self, commitment: Commitment) -> Query<'c, B, Option<VersionRef>> {
        Query::new(self.client, self.contract().find(commitment))
    }
}

//! After a store is restored from a backup: drop what the chain has moved past since the
//! backup was taken, and rebuild what can be read from the chain.
//!
//! - the salts of versions erased since (a backup must not bring back what erasure destroyed);
//!   the FHIR import's records of such versions likewise, and the sync follower's salts of them;
//! - the index of logged entries, read again from the chain's events;
//! - the outbox needs nothing: entries the chain logged since are skipped and cleared on the
//!   next flush, and an entry whose number another submission used is queued again
//!   ([`crate::Error::SequenceConflict`]).

use crate::{fhir_import, index::Index, salts::Salts, Result, Store};
use custodia_client::{
    types::{records::Content, InstitutionId},
    Backend, Client,
};

/// What a reconciliation did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Reconciled {
    /// Salts of versions the chain shows as erased, destroyed.
    pub salts_dropped: usize,
    /// FHIR import records of erased versions, dropped.
    pub imports_dropped: usize,
    /// Salts the sync follower kept of erased versions, destroyed.
    pub followed_salts_dropped: usize,
    /// Entries in the rebuilt index.
    pub entries_indexed: u64,
}

/// Brings a restored store of `custodian` (the institution whose versions its salts check) in
/// line with the chain (see the module docs).
pub async fn reconcile<B: Backend>(client: &Client<B>, store: &Store, custodian: InstitutionId) -> Result<Reconciled> {
    store.bind(client.deployment())?;
    let salts = Salts::new(store);
    let mut salts_dropped = 0;
    for (commitment, _) in salts.all()? {
        let Some(at) = client.records().find(custodian, commitment).query().await? else { continue };
        let version = client.records().version(at.record, at.version).query().await?;
        if matches!(version.map(|v| v.content), Some(Content::Erased(_))) {
            salts.forget(commitment)?;
            salts_dropped += 1;
        }
    }
    let imports_dropped = fhir_import::drop_erased(client, store).await?;
    let followed_salts_dropped = crate::sync::drop_erased(client, store).await?;
    let entries_indexed = Index::new(client, store).rebuild().await?;
    Ok(Reconciled { salts_dropped, imports_dropped, followed_salts_dropped, entries_indexed })
}

//! FHIR R4 Consents granted as consent receipts, once.
//!
//! The mapping (`custodia_fhir::mapping::consent`) grants a permit only where the chain can
//! hold exactly what the Consent says. Here the receipts are granted denies first, so that a
//! deny that fails can never leave the permit it restricts alone in force; and a Consent
//! already imported (the same canonical content) grants nothing new. (All of one Consent's
//! receipts in one call needs a batch grant in the contract: the coordinated ABI revision.)

use crate::{fhir_import::Resolver, Result, Store};
use custodia_client::{
    types::consents::{Decision, ReceiptId},
    Backend, Client, Signer,
};
use custodia_fhir::mapping::{consent, Unmapped};
use redb::{TableDefinition, WriteTransaction};
use scale::{Decode, Encode};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Receipts granted for each imported Consent, by the digest of its canonical form.
const IMPORTED_CONSENTS: TableDefinition<[u8; 32], &[u8]> = TableDefinition::new("imported_consents");

pub(crate) fn copy_tables(from: &redb::ReadTransaction, to: &WriteTransaction) -> Result<()> {
    crate::store::copy_table(from, to, IMPORTED_CONSENTS)
}

pub(crate) fn create_tables(tx: &WriteTransaction) -> Result<()> {
    tx.open_table(IMPORTED_CONSENTS)?;
    Ok(())
}

/// What importing one Consent did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ConsentImported {
    /// Receipts granted now.
    pub receipts: Vec<ReceiptId>,
    /// Receipts an earlier import of the same Consent granted (nothing was granted again).
    pub already: Vec<ReceiptId>,
    /// What the Consent says that the chain does not hold.
    pub unmapped: Vec<Unmapped>,
}

/// Grants the receipts a FHIR Consent describes, as `signer` (the patient's controller),
/// unless this store imported the same Consent before.
pub async fn import<B: Backend>(
    client: &Client<B>,
    store: &Store,
    consent_json: &Value,
    resolver: &Resolver<'_>,
    signer: &Signer,
) -> Result<ConsentImported> {
    let key: [u8; 32] = Sha256::digest(custodia_fhir::canonical::bytes(consent_json)).into();
    let mapped = consent::to_terms(consent_json, resolver, client.backend().now().await?);
    if let Some(already) = imported(store, key)? {
        return Ok(ConsentImported { receipts: Vec::new(), already, unmapped: mapped.unmapped });
    }
    let mut terms = mapped.value;
    // Denies first: a failure after them leaves the patient with less access, never more.
    terms.sort_by_key(|t| t.decision != Decision::Deny);
    let mut receipts = Vec::new();
    for terms in terms {
        let granted = client.consents().grant(terms).submit(signer).await;
        match granted {
            Ok(done) => receipts.push(done.value),
            Err(error) => {
                // What was granted stays recorded, so a retry does not grant it twice.
                record(store, key, &receipts)?;
                return Err(error.into());
            }
        }
    }
    record(store, key, &receipts)?;
    Ok(ConsentImported { receipts, already: Vec::new(), unmapped: mapped.unmapped })
}

fn imported(store: &Store, key: [u8; 32]) -> Result<Option<Vec<ReceiptId>>> {
    let tx = store.read()?;
    let table = tx.open_table(IMPORTED_CONSENTS)?;
    let value = table.get(key)?;
    value
        .map(|v| Vec::<ReceiptId>::decode(&mut v.value()).map_err(crate::Error::corrupt("an imported consent")))
        .transpose()
}

fn record(store: &Store, key: [u8; 32], receipts: &[ReceiptId]) -> Result<()> {
    let tx = store.write()?;
    tx.open_table(IMPORTED_CONSENTS)?.insert(key, &receipts.encode()[..])?;
    Ok(tx.commit()?)
}

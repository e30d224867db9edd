//! FHIR R4 Consents granted as consent receipts: all of one Consent's receipts in one call,
//! once.
//!
//! The mapping (`custodia_fhir::mapping::consent`) grants a permit only where the chain can
//! hold exactly what the Consent says. The receipts of one Consent are granted together by the
//! consents registry's `grant_set`, all or nothing (denies first), under the digest of the
//! Consent's canonical form: importing the same Consent again grants nothing new, whatever
//! store or engine imports it.

use crate::{fhir_import::Resolver, Result};
use custodia_client::{
    types::consents::{ConsentSet, ConsentSetGranted, ReceiptId},
    Backend, Client, Signer,
};
use custodia_fhir::mapping::{consent, Unmapped};
use serde_json::Value;
use sha2::{Digest, Sha256};

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

/// Grants the receipts a FHIR Consent describes, as `signer` (the patient's controller), in one
/// call, unless the same Consent was granted before.
pub async fn import<B: Backend>(
    client: &Client<B>,
    consent_json: &Value,
    resolver: &Resolver<'_>,
    signer: &Signer,
) -> Result<ConsentImported> {
    let key: [u8; 32] = Sha256::digest(custodia_fhir::canonical::bytes(consent_json)).into();
    let mapped = consent::to_terms(consent_json, resolver, client.backend().now().await?);
    if mapped.value.is_empty() {
        return Ok(ConsentImported { unmapped: mapped.unmapped, ..Default::default() });
    }
    let done = client.consents().grant_set(ConsentSet { key, terms: mapped.value }).submit(signer).await?;
    let new = done.events_of::<ConsentSetGranted>().first().is_some_and(|set| set.new);
    let (receipts, already) = if new { (done.value, Vec::new()) } else { (Vec::new(), done.value) };
    Ok(ConsentImported { receipts, already, unmapped: mapped.unmapped })
}

//! The consents registry: receipts granted and revoked, and access checks.

use super::registry;
use crate::events::value;
use consents::Error;
use custodia_types::{
    consents::{AccessCheck, ConsentQueries, Denial, Receipt, ReceiptId, Terms},
    PatientId,
};

registry! {
    /// Calls to the consents registry.
    Consents for consents::Consents, at consents;
    docs "consents::ConsentsRef" {
        tx grant(terms: Terms) -> ReceiptId, Error => value::receipt;
        tx revoke(receipt: ReceiptId) -> (), Error;
        query receipt(receipt: ReceiptId) -> Option<Receipt>;
        query receipts(patient: PatientId, from: u32, limit: u32, active_only: bool) -> (Vec<(ReceiptId, Receipt)>, u32);
    }
    docs "custodia_types::consents::ConsentQueries" {
        query is_authorized(check: AccessCheck) -> Result<ReceiptId, Denial>;
        query check_batch(checks: Vec<AccessCheck>) -> Vec<Result<ReceiptId, Denial>>;
    }
}

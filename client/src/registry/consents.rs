//! The consents registry: receipts granted and revoked, and access checks.

use super::registry;
use crate::events::value;
use crate::{Backend, Result};
use consents::Error;
use custodia_types::{
    consents::{
        AccessCheck, ConsentQueries, ConsentSet, Denial, NumberedReceipt, Receipt, ReceiptId, ReceiptPage,
        ReceiptQuery, Terms, MAX_RECEIPT_PAGE,
    },
    PatientId,
};

/// Why the consents registry refuses a call, each variant by its index and in words (see
/// [`crate::error::variants`]).
pub fn refusals() -> Vec<(u8, String)> {
    crate::error::variants::<Error>()
}

registry! {
    /// Calls to the consents registry.
    Consents for consents::Consents, at consents;
    docs "consents::ConsentsRef" {
        tx grant(terms: Terms) -> ReceiptId, Error => value::receipt;
        tx grant_set(set: ConsentSet) -> Vec<ReceiptId>, Error => value::receipt_set;
        tx revoke(receipt: ReceiptId) -> (), Error;
        query receipt(receipt: ReceiptId) -> Option<Receipt>;
        query receipts(query: ReceiptQuery) -> ReceiptPage;
        query directory() -> ink::primitives::AccountId;
        query records() -> ink::primitives::AccountId;
    }
    docs "custodia_types::consents::ConsentQueries" {
        query is_authorized(check: AccessCheck) -> Result<ReceiptId, Denial>;
        query check_batch(checks: Vec<AccessCheck>) -> Vec<Result<ReceiptId, Denial>>;
        query check_break_glass(checks: Vec<AccessCheck>) -> Vec<Result<(), Denial>>;
    }
}

impl<B: Backend> Consents<'_, B> {
    /// Every receipt of a patient (only those in force now with `active_only`), page by page
    /// (`ReceiptPage::next` is a position, not a count; a page may be empty with more to
    /// come; the end is the page that makes no progress).
    pub async fn all_receipts(&self, patient: PatientId, active_only: bool) -> Result<Vec<NumberedReceipt>> {
        let mut all = Vec::new();
        let mut from = 0;
        loop {
            let page =
                self.receipts(ReceiptQuery { patient, from, limit: MAX_RECEIPT_PAGE, active_only }).query().await?;
            let done = page.next <= from;
            all.extend(page.items);
            if done {
                return Ok(all);
            }
            from = page.next;
        }
    }
}

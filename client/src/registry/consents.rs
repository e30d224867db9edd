//! The consents registry: receipts granted and revoked, and access checks.

use crate::{
    call::{builder, Query, Tx},
    Backend, Client,
};
use custodia_types::{
    consents::{AccessCheck, ConsentQueries, Denial, Receipt, ReceiptId, Terms},
    PatientId,
};
use consents::{Consents as Contract, Error};
use ink::{codegen::ContractCallBuilder, primitives::AccountId};

type Builder = <Contract as ContractCallBuilder>::Type;

/// Calls to the consents registry.
pub struct Consents<'c, B> {
    client: &'c Client<B>,
    address: AccountId,
}

impl<'c, B: Backend> Consents<'c, B> {
    pub(crate) fn new(client: &'c Client<B>) -> Self {
        Self { client, address: client.deployment().consents.address }
    }

    fn contract(&self) -> Builder {
        builder::<Contract>(self.address)
    }

    /// Grants (or records a denial of) access on the patient's behalf (the patient's
    /// controller). Returns the receipt id.
    pub fn grant(&self, terms: Terms) -> Tx<'c, B, ReceiptId, Error> {
        Tx::new(self.client, self.contract().grant(terms))
    }

    /// Revokes a receipt at once (its granter, the patient's controller, or the custodian).
    pub fn revoke(&self, receipt: ReceiptId) -> Tx<'c, B, (), Error> {
        Tx::new(self.client, self.contract().revoke(receipt))
    }

    /// One receipt.
    pub fn receipt(&self, receipt: ReceiptId) -> Query<'c, B, Option<Receipt>> {
        Query::new(self.client, self.contract().receipt(receipt))
    }

    /// A page of a patient's receipts from position `from`, and how many the patient has.
    pub fn receipts(
        &self,
        patient: PatientId,
        from: u32,
        limit: u32,
        active_only: bool,
    ) -> Query<'c, B, (Vec<(ReceiptId, Receipt)>, u32)> {
        Query::new(self.client, self.contract().receipts(patient, from, limit, active_only))
    }

    /// Whether an access is authorised now: the receipt that allows it, or why not.
    pub fn is_authorized(&self, check: AccessCheck) -> Query<'c, B, Result<ReceiptId, Denial>> {
        Query::new(self.client, self.contract().is_authorized(check))
    }

    /// `is_authorized` for many accesses at once.
    pub fn check_batch(&self, checks: Vec<AccessCheck>) -> Query<'c, B, Vec<Result<ReceiptId, Denial>>> {
        Query::new(self.client, self.contract().check_batch(checks))
    }
}

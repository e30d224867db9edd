//! The explorer's index: every Custodia event that concerns a patient, filed under that
//! patient's pseudonym with its block and the block's time, read from the four contracts'
//! events and kept current by [`EventIndex::sync`]. Rebuildable from the chain at any time:
//! it holds nothing the chain does not.

use crate::{Result, Store};
use custodia_client::{
    backend::{BlockEvent, Emitted},
    events::SuiteEvent,
    types::{access_log::AccessLogged, InstitutionId, PatientId},
    Backend, Client,
};
use redb::{ReadableTable, TableDefinition, WriteTransaction};
use scale::{Decode, Encode};
use std::collections::BTreeMap;

/// Events by (patient, position in the index): a [`Filed`] event.
const BY_PATIENT: TableDefinition<([u8; 32], u64), &[u8]> = TableDefinition::new("explorer_by_patient");
/// Access events by (institution, position in the index): a [`Filed`] event.
const BY_INSTITUTION: TableDefinition<(u32, u64), &[u8]> = TableDefinition::new("explorer_by_institution");
/// The log sizes the access log recorded a root for (at the end of each append), with the
/// block: what an auditor picks two of for a consistency check.
const LOG_SIZES: TableDefinition<u64, u32> = TableDefinition::new("explorer_log_sizes");
/// The block read through, and the next position.
const THROUGH: TableDefinition<(), (u32, u64)> = TableDefinition::new("explorer_through");

pub(crate) fn create_tables(tx: &WriteTransaction) -> Result<()> {
    tx.open_table(BY_PATIENT)?;
    tx.open_table(BY_INSTITUTION)?;
    tx.open_table(LOG_SIZES)?;
    tx.open_table(THROUGH)?;
    Ok(())
}

/// An event as filed: the block that holds it and that block's time.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Filed {
    /// The block's number.
    pub block: u32,
    /// The block's timestamp (milliseconds since the Unix epoch).
    pub time: u64,
    /// The event as emitted.
    pub event: Emitted,
}

impl Filed {
    /// The event, decoded.
    pub fn decoded(&self) -> Option<SuiteEvent> {
        SuiteEvent::decode(&self.event)
    }

    /// The logged access, if the event is one.
    pub fn access(&self) -> Option<AccessLogged> {
        match self.decoded()? {
            SuiteEvent::AccessLogged(logged) => Some(logged),
            _ => None,
        }
    }
}

/// The patients an event is about: one, or for an alias both ids (either's history finds it).
pub fn patients_of(event: &SuiteEvent) -> Vec<PatientId> {
    match event {
        SuiteEvent::AliasChanged(e) => vec![e.patient, e.of],
        event => patient_of(event).into_iter().collect(),
    }
}

/// The patient an event is about, if it is about one (an alias's change is about two:
/// [`patients_of`]).
fn patient_of(event: &SuiteEvent) -> Option<PatientId> {
    use SuiteEvent as E;
    Some(match event {
        E::PatientRegistered(e) => e.patient,
        E::ControlOffered(e) => e.patient,
        E::ControlChanged(e) => e.patient,
        E::CustodianChanged(e) => e.patient,
        E::InstitutionLinked(e) => e.patient,
        E::InstitutionUnlinked(e) => e.patient,
        E::RecoveryRequested(e) => e.patient,
        E::RecoveryApproved(e) => e.patient,
        E::RecoveryEnded(e) => e.patient,
        E::RecoveryPolicyChanged(e) => e.patient,
        E::VersionCommitted(e) => e.patient,
        E::VersionSuperseded(e) => e.patient,
        E::VersionErased(e) => e.patient,
        E::ConsentGranted(e) => e.patient,
        E::ConsentSetGranted(e) => e.patient,
        E::ConsentRevoked(e) => e.patient,
        E::AccessLogged(e) => e.entry.patient,
        E::BreakGlassAccess(e) => e.patient,
        _ => return None,
    })
}

/// The institution that made an access an event records, if it records one.
pub fn accessor_of(event: &SuiteEvent) -> Option<InstitutionId> {
    match event {
        SuiteEvent::AccessLogged(e) => Some(e.entry.institution),
        SuiteEvent::BreakGlassAccess(e) => Some(e.institution),
        _ => None,
    }
}

/// The index in one store, over one deployment.
pub struct EventIndex<'a, B> {
    client: &'a Client<B>,
    store: &'a Store,
}

impl<'a, B: Backend> EventIndex<'a, B> {
    /// The index kept in `store`, of `client`'s deployment.
    pub fn new(client: &'a Client<B>, store: &'a Store) -> Self {
        Self { client, store }
    }

    /// Reads the events of the blocks since the last call up to the newest (a node: the
    /// newest finalized) into the index. Returns the block read through.
    pub async fn sync(&self) -> Result<u32> {
        let deployment = self.client.deployment();
        let (through, mut next) = self.through()?;
        let from = through.max(deployment.block.saturating_sub(1)) + 1;
        let to = self.client.backend().block_number().await?;
        if from > to {
            return Ok(through);
        }
        let mut events: Vec<BlockEvent> = Vec::new();
        for contract in [&deployment.directory, &deployment.records, &deployment.consents, &deployment.access_log] {
            events.extend(self.client.backend().events(contract.address, from, to).await?);
        }
        // Each contract's events come in chain order; the stable sort keeps it within a block.
        events.sort_by_key(|e| e.block);
        let mut times = BTreeMap::new();
        let mut filed = Vec::new();
        let mut sizes = Vec::new();
        for BlockEvent { block, event } in events {
            let Some(decoded) = SuiteEvent::decode(&event) else { continue };
            if let SuiteEvent::LogExtended(e) = &decoded {
                sizes.push((e.size, block));
            }
            let patients = patients_of(&decoded);
            if patients.is_empty() {
                continue;
            }
            let time = match times.get(&block) {
                Some(time) => *time,
                None => {
                    let time = self.client.backend().block_time(block).await?;
                    times.insert(block, time);
                    time
                }
            };
            let accessor = accessor_of(&decoded);
            for patient in patients {
                filed.push((patient, accessor, Filed { block, time, event: event.clone() }));
            }
        }
        let tx = self.store.write()?;
        {
            let mut by_patient = tx.open_table(BY_PATIENT)?;
            let mut by_institution = tx.open_table(BY_INSTITUTION)?;
            for (patient, accessor, filed) in &filed {
                let bytes = filed.encode();
                by_patient.insert((*patient.as_bytes(), next), &bytes[..])?;
                if let Some(institution) = accessor {
                    by_institution.insert((*institution, next), &bytes[..])?;
                }
                next += 1;
            }
            let mut log_sizes = tx.open_table(LOG_SIZES)?;
            for (size, block) in &sizes {
                log_sizes.insert(*size, *block)?;
            }
            tx.open_table(THROUGH)?.insert((), (to, next))?;
        }
        tx.commit()?;
        Ok(to)
    }

    /// Every event about `patient`, oldest first.
    pub fn of_patient(&self, patient: PatientId) -> Result<Vec<Filed>> {
        let tx = self.store.read()?;
        let table = tx.open_table(BY_PATIENT)?;
        let key = *patient.as_bytes();
        table.range((key, 0)..=(key, u64::MAX))?.map(|item| read_filed(item?.1.value())).collect()
    }

    /// Every access event of `institution` (entries logged, break-glass announcements),
    /// oldest first.
    pub fn of_institution(&self, institution: InstitutionId) -> Result<Vec<Filed>> {
        let tx = self.store.read()?;
        let table = tx.open_table(BY_INSTITUTION)?;
        table.range((institution, 0)..=(institution, u64::MAX))?.map(|item| read_filed(item?.1.value())).collect()
    }

    /// The log sizes with a recorded root, newest first, at most `limit`: (size, block).
    pub fn log_sizes(&self, limit: usize) -> Result<Vec<(u64, u32)>> {
        let tx = self.store.read()?;
        let table = tx.open_table(LOG_SIZES)?;
        table
            .iter()?
            .rev()
            .take(limit)
            .map(|item| {
                let (size, block) = item?;
                Ok((size.value(), block.value()))
            })
            .collect()
    }

    /// The block read through (0: none yet), and the next position.
    fn through(&self) -> Result<(u32, u64)> {
        let tx = self.store.read()?;
        let table = tx.open_table(THROUGH)?;
        Ok(table.get(())?.map(|v| v.value()).unwrap_or((0, 0)))
    }
}

fn read_filed(mut bytes: &[u8]) -> Result<Filed> {
    Filed::decode(&mut bytes).map_err(|e| crate::Error::Index(format!("a filed event: {e}")))
}

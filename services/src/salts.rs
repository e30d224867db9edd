//! The salts of the versions this institution committed: without a version's salt nobody,
//! not even its custodian, can check a copy against the chain. Kept in the store, one per
//! version.

use crate::{Result, Store};
use custodia_client::{types::records::VersionNo, types::RecordId, verify::Salt};
use redb::{TableDefinition, WriteTransaction};

const SALTS: TableDefinition<([u8; 32], u32), [u8; 32]> = TableDefinition::new("salts");

pub(crate) fn create_tables(tx: &WriteTransaction) -> Result<()> {
    tx.open_table(SALTS)?;
    Ok(())
}

/// The salts of committed versions.
pub struct Salts<'s> {
    store: &'s Store,
}

impl<'s> Salts<'s> {
    /// The salts kept in `store`.
    pub fn new(store: &'s Store) -> Self {
        Self { store }
    }

    /// Keeps the salt of a committed version.
    pub fn keep(&self, record: RecordId, version: VersionNo, salt: Salt) -> Result<()> {
        let tx = self.store.write()?;
        tx.open_table(SALTS)?.insert((record.0, version), salt)?;
        Ok(tx.commit()?)
    }

    /// The salt of a committed version, if this store committed it.
    pub fn get(&self, record: RecordId, version: VersionNo) -> Result<Option<Salt>> {
        let tx = self.store.read()?;
        let salts = tx.open_table(SALTS)?;
        Ok(salts.get((record.0, version))?.map(|v| v.value()))
    }
}

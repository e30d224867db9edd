//! The salts of the versions this institution committed, by commitment: without a version's
//! salt nobody, not even its custodian, can check a copy against the chain; and once it is
//! destroyed (erasure), nobody can link the commitment the chain's history still holds to the
//! content.
//!
//! A salt is kept *before* its commitment is submitted: a submission whose fate is unknown (a
//! lost connection) can never leave a version on chain whose salt is lost, and nothing needs
//! the version number the chain gives (two racing commits cannot file a salt under the wrong
//! one). A version's salt is found through its commitment on chain.

use crate::{Result, Store};
use custodia_client::{types::Commitment, verify::Salt};
use redb::{ReadableTable, TableDefinition, WriteTransaction};

const SALTS: TableDefinition<[u8; 32], [u8; 32]> = TableDefinition::new("salts_by_commitment");

pub(crate) fn copy_tables(from: &redb::ReadTransaction, to: &WriteTransaction) -> Result<()> {
    crate::store::copy_table(from, to, SALTS)?;
    Ok(())
}

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

    /// Keeps the salt of a commitment (before it is submitted).
    pub fn keep(&self, commitment: Commitment, salt: Salt) -> Result<()> {
        let tx = self.store.write()?;
        tx.open_table(SALTS)?.insert(*commitment.as_bytes(), salt)?;
        Ok(tx.commit()?)
    }

    /// The salt of a commitment, if this store made it.
    pub fn get(&self, commitment: Commitment) -> Result<Option<Salt>> {
        let tx = self.store.read()?;
        let salts = tx.open_table(SALTS)?;
        Ok(salts.get(*commitment.as_bytes())?.map(|v| v.value()))
    }

    /// Every kept salt, by commitment.
    pub fn all(&self) -> Result<Vec<(Commitment, Salt)>> {
        let tx = self.store.read()?;
        let salts = tx.open_table(SALTS)?;
        let mut all = Vec::new();
        for row in salts.iter()? {
            let (commitment, salt) = row?;
            all.push((Commitment::new(commitment.value()), salt.value()));
        }
        Ok(all)
    }

    /// Destroys the salt of a commitment (its version was erased, or never reached the
    /// chain). Returns whether there was one.
    pub fn forget(&self, commitment: Commitment) -> Result<bool> {
        let tx = self.store.write()?;
        let had = tx.open_table(SALTS)?.remove(*commitment.as_bytes())?.is_some();
        tx.commit()?;
        Ok(had)
    }
}

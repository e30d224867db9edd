//! The institution's local, durable store: one embedded ACID database file (redb) per state
//! directory, shared by the services, each of which owns its own tables in it. Every write is
//! one transaction, committed durably before the call returns. Only one process opens a store
//! at a time (redb's file lock): a long-running service that needs the outbox hosts it.

use crate::{Error, Result};
use custodia_client::Deployment;
use redb::{backends::InMemoryBackend, Database, ReadTransaction, ReadableTable, TableDefinition, WriteTransaction};
use std::path::Path;

/// Which chain and deployment the store belongs to: the genesis hash, then the directory's
/// address.
const BOUND_TO: TableDefinition<(), &[u8]> = TableDefinition::new("bound_to");

/// The local store of one deployment.
pub struct Store {
    db: Database,
}

impl Store {
    /// Opens (or creates) the store in `path`.
    pub fn open(path: &Path) -> Result<Self> {
        Self::init(Database::create(path)?)
    }

    /// A store that lives in memory only (tests, examples, one-shot runs).
    pub fn in_memory() -> Result<Self> {
        Self::init(Database::builder().create_with_backend(InMemoryBackend::new())?)
    }

    /// Opens the store in `path` and binds it to `deployment` (see [`Store::bind`]).
    pub fn open_for(path: &Path, deployment: &Deployment) -> Result<Self> {
        let store = Self::open(path)?;
        store.bind(deployment)?;
        Ok(store)
    }

    fn init(db: Database) -> Result<Self> {
        let tx = db.begin_write()?;
        tx.open_table(BOUND_TO)?;
        crate::salts::create_tables(&tx)?;
        crate::outbox::create_tables(&tx)?;
        crate::index::create_tables(&tx)?;
        crate::fhir_import::create_tables(&tx)?;
        tx.commit()?;
        Ok(Self { db })
    }

    /// Binds the store to a deployment (its chain and directory), or checks that it is bound
    /// to it: a store never mixes two chains' or deployments' entries.
    pub fn bind(&self, deployment: &Deployment) -> Result<()> {
        let identity = [&deployment.chain[..], deployment.directory.address.as_ref()].concat();
        let tx = self.write()?;
        {
            let mut bound = tx.open_table(BOUND_TO)?;
            let known = bound.get(())?.map(|v| v.value().to_vec());
            match known {
                Some(known) if known != identity => return Err(Error::WrongStore),
                Some(_) => {}
                None => {
                    bound.insert((), &identity[..])?;
                }
            }
        }
        Ok(tx.commit()?)
    }

    /// A read transaction (a consistent view of every table).
    pub(crate) fn read(&self) -> Result<ReadTransaction> {
        Ok(self.db.begin_read()?)
    }

    /// A write transaction; nothing of it is kept until it commits.
    pub(crate) fn write(&self) -> Result<WriteTransaction> {
        Ok(self.db.begin_write()?)
    }
}
